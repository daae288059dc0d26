#!/usr/bin/env python3
"""Runs the MLX conformance cases through `psionic run --backend cuda` (and
`--backend interp` for reference) and compares every output with MLX's
stored one within the case's tolerances. Usage:
    gpu_conformance.py PSIONIC_BINARY CASES_DIR [backend ...]
Prints one line per case and a summary; exits 1 if a case fails on a
backend."""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

DT = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I8": np.int8, "I16": np.int16,
      "I32": np.int32, "I64": np.int64, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32,
      "U64": np.uint64, "BOOL": np.bool_}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        lo, hi = v["data_offsets"]
        raw = data[8 + n + lo:8 + n + hi]
        if v["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=DT[v["dtype"]])
        out[k] = arr.reshape(v["shape"])
    return out


def main():
    exe, cases = sys.argv[1], sys.argv[2]
    backends = sys.argv[3:] or ["cuda"]
    fails = []
    passed = {b: 0 for b in backends}
    on_interp = {b: [] for b in backends}
    for name in sorted(os.listdir(cases)):
        d = os.path.join(cases, name)
        if not os.path.isfile(os.path.join(d, "case.json")):
            continue
        case = json.load(open(os.path.join(d, "case.json")))
        data = load(os.path.join(d, "data.safetensors"))
        # The base data set and each variant's (README of the cases).
        prefixes = [""] + [v["prefix"] for v in case.get("variants", [])]
        for b in backends:
            ok = True
            msg = ""
            for p in prefixes:
                with tempfile.TemporaryDirectory() as t:
                    o = os.path.join(t, "o.safetensors")
                    r = subprocess.run([exe, "run", os.path.join(d, "fn.mlxfn"), "--inputs", os.path.join(d, "data.safetensors"),
                                        "--prefix", p, "--out", o, "--backend", b], capture_output=True, text=True)
                    if r.returncode != 0:
                        ok, msg = False, r.stderr.strip()[-400:]
                        break
                    if "on the interpreter" in r.stderr and name not in on_interp[b]:
                        on_interp[b].append(name)
                    got = load(o)
                for k, want in data.items():
                    if not k.startswith(p + "out."):
                        continue
                    g = got.get(k)
                    if g is None or g.shape != want.shape:
                        ok, msg = False, f"{k}: missing or shape {None if g is None else g.shape} vs {want.shape}"
                        break
                    if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
                        good = np.array_equal(g, want)
                    else:
                        good = np.allclose(g.astype(np.float64), want.astype(np.float64), rtol=case["rtol"], atol=case["atol"], equal_nan=True)
                    if not good:
                        err = np.max(np.abs(g.astype(np.float64) - want.astype(np.float64)))
                        ok, msg = False, f"{k}: max abs err {err:.3g} (rtol {case['rtol']}, atol {case['atol']})"
                        break
                if not ok:
                    break
            print(f"{b:6} {name:34} {'ok' if ok else 'FAIL ' + msg}", flush=True)
            if ok:
                passed[b] += 1
            else:
                fails.append((b, name, msg))
    print(json.dumps({"conformance_passed": passed, "ran_on_the_interpreter": on_interp,
                      "failed": [f"{b}:{n}" for b, n, _ in fails]}))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
