#!/usr/bin/env python3
"""Writes the safetensors fixtures that lit tests under tests/lit/ read.

Hand-written safetensors (8-byte little-endian header length, JSON header,
raw little-endian data) so that nothing beyond Python's standard library is
needed. Run from anywhere: python3 tests/lit/inputs/gen_inputs.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

FMT = {"F32": "f", "F64": "d", "I32": "i", "I64": "q", "U8": "B", "BOOL": "B", "F16": "e"}


def pack(dtype, values):
    if dtype == "BF16":
        # bf16: the high half of the f32 bits (values here are exact).
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
    return struct.pack("<%d%s" % (len(values), FMT[dtype]), *values)


def write(name, tensors):
    header, data = {}, b""
    for key, dtype, shape, values in tensors:
        raw = pack(dtype, values)
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


write("add_bcast.safetensors", [
    ("in.0", "F32", [2, 3], [1, 2, 3, 4, 5, 6]),
    ("in.1", "F32", [3], [10, 20, 30]),
])
write("prefixed.safetensors", [
    ("layer.in.0", "F32", [2, 3], [1, 2, 3, 4, 5, 6]),
    ("layer.in.1", "F32", [3], [0.5, 0.25, -1]),
    ("other", "I32", [1], [7]),
])
write("half_types.safetensors", [
    ("in.0", "F16", [4], [1.0, -2.5, 0.5, 65504.0]),
    ("in.1", "BF16", [4], [1.0, 2.0, -3.0, 0.125]),
])
write("wrong_dtype.safetensors", [
    ("in.0", "I32", [2, 3], [1, 2, 3, 4, 5, 6]),
    ("in.1", "I32", [3], [1, 2, 3]),
])
write("no_inputs.safetensors", [("weights", "F32", [2], [1, 2])])
with open(os.path.join(HERE, "truncated.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", 400) + b'{"in.0":{"dtype":"F32"')
