#!/usr/bin/env python3
"""Regenerates Psionic's own MLX conformance cases with real MLX.

Each case is a small function exported with `mx.export_function` (or
`mx.exporter` for several traces), its inputs, and MLX's outputs, in the
layout of `shared/conformance/mlx/` (see its README):

    <out>/<case>/fn.mlxfn, data.safetensors (in.K, out.J, shape1.*), case.json

They cover primitives the shared set misses. Usage:

    python3 tools/mlx/gen_cases.py [OUT_DIR]   # default frontends/mlx-compat/tests/mlx_cases
"""
import json
import os
import struct
import sys

import mlx.core as mx
import numpy as np

NAMES = """Abs Add ArcCos ArcCosh ArcSin ArcSinh ArcTan ArcTan2 ArcTanh Ceil Conjugate Copy Cos Cosh
Depends Divide DivMod Erf ErfInv Exp Expm1 Floor FloorDivide Full Greater GreaterEqual Imag Less
LessEqual Log1p LogicalAnd LogicalNot LogicalOr LogAddExp LogSumExp MaskedScatter Matmul Maximum
Minimum Multiply Negative NotEqual Power QRF Real Remainder Round Select Sigmoid Sign Sin Sinh Square
StopGradient Subtract Tan Tanh AddMM Arange ArgPartition ArgReduce ArgSort AsStrided AsType
BitwiseBinary BlockMaskedMM Broadcast BroadcastAxes Cholesky Concatenate Convolution DynamicSlice
DynamicSliceUpdate Eig Eigh Equal ExpandDims FFT Flatten Gather GatherAxis GatherMM GatherQMM Hadamard
Inverse Log NumberOfElements Pad Partition QuantizedMatmul RandomBits Reduce Reshape Scan Scatter
ScatterAxis SearchSorted Slice SliceUpdate Softmax Sort Split Sqrt Squeeze SVD Transpose Unflatten View
Quantize RMSNorm RMSNormVJP LayerNorm LayerNormVJP RoPE ScaledDotProductAttention CustomKernel""".split()

DT = {
    mx.float32: "float32", mx.float16: "float16", mx.bfloat16: "bfloat16", mx.int32: "int32",
    mx.uint32: "uint32", mx.bool_: "bool", mx.uint8: "uint8", mx.int64: "int64",
    mx.complex64: "complex64", mx.int8: "int8", mx.uint16: "uint16", mx.int16: "int16",
    mx.uint64: "uint64", mx.float64: "float64",
}

rng = np.random.default_rng(1234)


def f32(*shape, lo=-2.0, hi=2.0):
    return mx.array(rng.uniform(lo, hi, size=shape).astype(np.float32))


def i32(*shape, lo=-20, hi=20):
    return mx.array(rng.integers(lo, hi, size=shape).astype(np.int32))


def primitives(path):
    data = open(path, "rb").read()
    return sorted(n for n in NAMES if struct.pack("<Q", len(n)) + n.encode() in data)


def desc(a):
    return [list(a.shape), DT[a.dtype]]


def call(fn, args, kwargs):
    out = fn(*args, **kwargs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def save(out_dir, name, description, fn, args, kwargs=None, rtol=1e-5, atol=1e-6,
         shapeless=False, second=None, traces=None):
    """Exports `fn` at `args`/`kwargs`; `second` = (args, kwargs) of a second data
    set, run on a second trace (`traces=2`) or the shapeless trace."""
    kwargs = kwargs or {}
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "fn.mlxfn")
    if traces == 2:
        with mx.exporter(path, fn) as ex:
            ex(*args, **kwargs)
            ex(*second[0], **second[1])
    else:
        mx.export_function(path, fn, *args, shapeless=shapeless, **kwargs)
    tensors = {}
    sets = [("", args, kwargs)] + ([("shape1.",) + tuple(second)] if second else [])
    outs_desc = []
    for prefix, a, k in sets:
        outs = call(fn, a, k)
        mx.eval(outs)
        for i, x in enumerate(a):
            tensors[f"{prefix}in.{i}"] = x
        for key, x in k.items():
            tensors[f"{prefix}in.{key}"] = x
        for j, y in enumerate(outs):
            tensors[f"{prefix}out.{j}"] = y
        outs_desc.append([desc(y) for y in outs])
    mx.save_safetensors(os.path.join(d, "data.safetensors"), tensors)
    case = {
        "name": name,
        "description": description,
        "inputs": [desc(x) for x in args],
        "outputs": outs_desc[0],
        "checks": ["run"],
        "rtol": rtol,
        "atol": atol,
        "primitives": primitives(path),
        "mlx_version": mx.__version__,
        "diff_inputs": [],
        "shapeless": shapeless,
        "num_traces": 2 if traces == 2 else 1,
        "generator": "tools/mlx/gen_cases.py",
    }
    if kwargs:
        case["kwargs"] = {k: desc(v) for k, v in kwargs.items()}
    if second:
        v = {"prefix": "shape1.", "inputs": [desc(x) for x in second[0]], "outputs": outs_desc[1]}
        if second[1]:
            v["kwargs"] = {k: desc(x) for k, x in second[1].items()}
        case["variants"] = [v]
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(case, fh, indent=1)
        fh.write("\n")
    print(f"{name}: {', '.join(case['primitives'])}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "frontends", "mlx-compat", "tests", "mlx_cases")
    mx.set_default_device(mx.cpu)

    save(out, "scan_variants", "cumsum reverse, cumprod exclusive, cummax, cummin",
         lambda x: [mx.cumsum(x, axis=1, reverse=True), mx.cumprod(x, axis=0, inclusive=False),
                    mx.cummax(x, axis=1), mx.cummin(x, axis=0, reverse=True)],
         [f32(3, 5, lo=0.5, hi=1.5)], rtol=1e-5, atol=1e-6)
    save(out, "sort_argsort", "sort(x, 1), argsort(x, 0)",
         lambda x: [mx.sort(x, axis=1), mx.argsort(x, axis=0)], [f32(4, 6)], rtol=0, atol=0)
    save(out, "partition_kth", "the kth values of partition/argpartition (order-independent)",
         lambda x: [mx.partition(x, 2, axis=1)[:, 2],
                    mx.take_along_axis(x, mx.argpartition(x, 3, axis=0), axis=0)[3],
                    mx.sort(mx.partition(x, 1, axis=1), axis=1)],
         [f32(5, 6)], rtol=0, atol=0)
    save(out, "pad_3d", "pad a 3-d tensor on two axes with -1.5",
         lambda x: mx.pad(x, ((0, 0), (2, 1), (1, 3)), constant_values=-1.5), [f32(2, 3, 2)])
    save(out, "scatter_ops", "x[idx] = u (Scatter), x.at[idx].add(u), put_along_axis",
         lambda x, i, u, j, v: [mx.array(x).at[i].add(u), _setitem(x, i, u),
                                mx.put_along_axis(x, j, v, axis=1)],
         [f32(5, 3), mx.array(np.array([0, 3, 3], np.int32)), f32(3, 3),
          mx.array(np.array([[0], [2], [1], [0], [2]], np.int32)), f32(5, 1)])
    save(out, "dynamic_slice", "slice / slice_update with array start indices",
         lambda x, s, u: [mx.slice(x, s, [0, 1], [2, 3]), mx.slice_update(x, u, s, [0, 1])],
         [f32(4, 6), mx.array(np.array([1, 2], np.int32)), f32(2, 3)])
    save(out, "flatten_range", "flatten(x, 1, 2)", lambda x: mx.flatten(x, 1, 2), [f32(2, 3, 4, 2)])
    nan_a = np.array([[1.0, np.nan, 3.0], [np.nan, 5.0, 6.0]], np.float32)
    nan_b = np.array([[1.0, np.nan, 2.0], [np.nan, 5.0, 6.0]], np.float32)
    save(out, "equal_nan", "array_equal(equal_nan=True), isnan, a == b",
         lambda a, b: [mx.array_equal(a, b, equal_nan=True), mx.array_equal(a, a, equal_nan=True),
                       mx.isnan(a), a == b],
         [mx.array(nan_a), mx.array(nan_b)], rtol=0, atol=0)
    save(out, "bitwise_int", "&, |, ^, <<, >> on int32 and uint8",
         lambda a, b, c: [a & b, a | b, a ^ b, a << (b & 7), a >> (b & 7), c ^ mx.array(5, mx.uint8)],
         [i32(3, 4, lo=-100, hi=100), i32(3, 4, lo=0, hi=100),
          mx.array(rng.integers(0, 255, size=(4,)).astype(np.uint8))], rtol=0, atol=0)
    save(out, "log_bases", "log2, log10, log", lambda x: [mx.log2(x), mx.log10(x), mx.log(x)],
         [f32(3, 4, lo=0.1, hi=10)], rtol=1e-5, atol=1e-6)
    save(out, "remainder_float", "remainder and floor_divide on floats with mixed signs",
         lambda a, b: [mx.remainder(a, b), a // b],
         [f32(3, 4, lo=-5, hi=5), mx.array(np.array([1.5, -2.5, 0.75, -3.0], np.float32))],
         rtol=1e-5, atol=1e-5)
    save(out, "softmax_axis0", "softmax(x, axis=0), softmax(x, axis=-1, precise=True)",
         lambda x: [mx.softmax(x, axis=0), mx.softmax(x, axis=-1, precise=True)], [f32(3, 5)],
         rtol=1e-5, atol=1e-6)
    save(out, "logsumexp_keepdims", "logsumexp(x, axis=-1, keepdims=True), logsumexp(x, axis=0)",
         lambda x: [mx.logsumexp(x, axis=-1, keepdims=True), mx.logsumexp(x, axis=0)],
         [f32(3, 5)], rtol=1e-5, atol=1e-6)
    save(out, "astype_view", "astype to int32/float16/bool, view as int32",
         lambda x: [x.astype(mx.int32), x.astype(mx.float16), x.astype(mx.bool_), x.view(mx.int32)],
         [f32(2, 5, lo=-4, hi=4)], rtol=0, atol=0)
    save(out, "all_any", "all/any reductions of a bool mask",
         lambda m: [mx.all(m, axis=1), mx.any(m, axis=0), mx.all(m)],
         [mx.array(rng.random((4, 3)) > 0.3)], rtol=0, atol=0)
    save(out, "unary_trig_round",
         "tan, arcsin, arccos, arctan, sinh, cosh, arcsinh, arctanh, ceil, floor, round, sign, erfinv, arctan2",
         lambda x, y: [mx.tan(x), mx.arcsin(x), mx.arccos(x), mx.arctan(y), mx.sinh(y), mx.cosh(y),
                       mx.arcsinh(y), mx.arctanh(x), mx.ceil(y), mx.floor(y), mx.round(y),
                       mx.sign(y), mx.erfinv(x), mx.arctan2(x, y)],
         [f32(3, 4, lo=-0.9, hi=0.9), f32(3, 4, lo=-3, hi=3)], rtol=1e-4, atol=1e-5)
    save(out, "arccosh_square", "arccosh(x) + square(x)",
         lambda x: mx.arccosh(x) + mx.square(x), [f32(6, lo=1.1, hi=4)], rtol=1e-5, atol=1e-5)
    save(out, "kwargs_two_traces", "x @ w * scale with keyword w, scale; two traces",
         lambda x, w=None, scale=None: (x @ w) * scale,
         [f32(2, 3)], {"w": f32(3, 4), "scale": f32(4)}, rtol=1e-5, atol=1e-5,
         traces=2, second=([f32(5, 3)], {"w": f32(3, 2), "scale": f32(2)}))
    save(out, "shapeless_reshape", "x.reshape(-1, 2) * 2 + sum over axis 1, shapeless",
         lambda x: [x.reshape(-1, 2) * 2.0, mx.sum(x, axis=1)],
         [f32(3, 4)], shapeless=True, second=([f32(5, 6)], {}), rtol=1e-5, atol=1e-5)
    save(out, "take_gather_2d", "take rows with 2-d indices; x[idx, :2]",
         lambda x, i: [mx.take(x, i, axis=0), x[i[0], :2]],
         [f32(5, 4), mx.array(np.array([[0, 4], [2, 2]], np.int32))])
    save(out, "where_minimum_int", "where(a > b, a, b) and minimum on int32, negative",
         lambda a, b: [mx.where(a > b, a, b), mx.minimum(a, b), -a, mx.abs(a)],
         [i32(3, 3), i32(3, 3)], rtol=0, atol=0)
    save(out, "expm1_sigmoid_f16", "float16: sigmoid(x) * expm1(x)",
         lambda x: mx.sigmoid(x) * mx.expm1(x), [f32(4, 4).astype(mx.float16)], rtol=5e-3, atol=5e-3)
    save(out, "arange_int", "arange(0, 12, 3, int32) + x; arange(5.0, 0.0, -1.5)",
         lambda x: [mx.arange(0, 12, 3, dtype=mx.int32) + x, mx.arange(5.0, 0.0, -1.5)],
         [i32(2, 4)], rtol=0, atol=0)
    save(out, "flip_reverse", "x[::-1, 1::2], x[:, ::-2]", lambda x: [x[::-1, 1::2], x[:, ::-2]],
         [f32(4, 5)], rtol=0, atol=0)
    save(out, "concat_split_uneven", "split(x, [1, 4], axis=1), concatenate 3 parts",
         lambda x: list(mx.split(x, [1, 4], axis=1)) + [mx.concatenate([x, x * 2, x], axis=0)],
         [f32(2, 6)], rtol=0, atol=0)
    # Primitives mapped to the extended op set (FFT, linear algebra, real/imag).
    save(out, "fft_real_imag", "real, imag of fft(x); irfft(rfft(x))",
         lambda x: [mx.real(mx.fft.fft(x)), mx.imag(mx.fft.fft(x)), mx.fft.irfft(mx.fft.rfft(x))],
         [f32(3, 8)], rtol=1e-4, atol=1e-4)
    save(out, "linalg_inv_cholesky", "inv(a), cholesky(s) with s = a a^T + 4 I",
         lambda a, s: [mx.linalg.inv(a, stream=mx.cpu), mx.linalg.cholesky(s, stream=mx.cpu)],
         [f32(3, 3) + 3 * mx.eye(3), _spd(3)], rtol=1e-4, atol=1e-4)
    extended(out)


def extended(out):
    """Primitives of the extended op set (convolution, quantization, linear
    algebra, random bits, ...). Each is independent: one MLX build lacking a
    function does not stop the others."""
    u32 = lambda *v: mx.array(np.array(v, np.uint32))
    global MASK
    MASK = mx.array(rng.random((3, 4)) > 0.5)
    cases = [
        ("conv2d_strided", "conv2d(x NHWC, w OHWI, stride 2, padding 1)",
         lambda x, w: mx.conv2d(x, w, stride=2, padding=1), [f32(1, 6, 6, 3), f32(4, 3, 3, 3)], 1e-4, 1e-5),
        ("conv1d_grouped_dilated", "conv1d(x, w, dilation 2, groups 2)",
         lambda x, w: mx.conv1d(x, w, dilation=2, groups=2), [f32(2, 9, 4), f32(4, 3, 2)], 1e-4, 1e-5),
        ("conv_transpose1d", "conv_transpose1d(x, w, stride 2)",
         lambda x, w: mx.conv_transpose1d(x, w, stride=2), [f32(1, 5, 3), f32(2, 3, 3)], 1e-4, 1e-5),
        ("quantize_dequantize", "quantize(w, 32, 4) and dequantize of it",
         lambda w: list(mx.quantize(w, group_size=32, bits=4)) + [mx.dequantize(*mx.quantize(w, group_size=32, bits=4), group_size=32, bits=4)],
         [f32(4, 64)], 1e-5, 1e-5),
        ("quantized_matmul", "quantized_matmul(x, w, scales, biases, transpose, 64, 4)",
         lambda x, wq, s, b: mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=64, bits=4),
         [f32(3, 128)] + list(mx.quantize(f32(8, 128), group_size=64, bits=4)), 1e-4, 1e-4),
        ("gather_mm", "gather_mm(a, b, lhs_indices, rhs_indices)",
         lambda a, b, li, ri: mx.gather_mm(a, b, li, ri),
         [f32(3, 2, 4), f32(2, 4, 5), u32(0, 2, 1), u32(1, 0, 1)], 1e-4, 1e-5),
        ("block_masked_mm", "block_masked_mm(a, b, 32, out_mask)",
         lambda a, b, m: mx.block_masked_mm(a, b, 32, m),
         [f32(64, 32), f32(32, 64), mx.array(np.array([[True, False], [False, True]]))], 1e-4, 1e-4),
        ("random_bits_key", "random.randint(0, 1000, (3, 4), key=k) and uniform(key=k)",
         lambda k: [mx.random.randint(0, 1000, (3, 4), key=k), mx.random.uniform(shape=(5,), key=k)],
         [u32(7, 11)], 1e-6, 1e-6),
        ("hadamard", "hadamard_transform(x, scale=0.5)",
         lambda x: mx.hadamard_transform(x, scale=0.5), [f32(3, 16)], 1e-5, 1e-5),
        ("as_strided", "as_strided(x, (3, 3), (1, 2), offset 1)",
         lambda x: mx.as_strided(x, (3, 3), (1, 2), 1), [f32(12)], 0, 0),
        ("masked_scatter", "x[mask] = v",
         lambda x, m, v: _masked_set(x, m, v),
         [f32(3, 4), MASK, f32(int(MASK.sum().item()))], 0, 0),
        ("linalg_qr_svd_eigh", "q @ r, |r|, svd values and u diag(s) vt, eigh values",
         lambda a, s: _linalg(a, s), [f32(4, 3), _spd(4)], 1e-4, 1e-4),
        ("conjugate_complex", "real/imag of conjugate(fft(x))",
         lambda x: [mx.real(mx.conj(mx.fft.fft(x))), mx.imag(mx.conj(mx.fft.fft(x)))], [f32(2, 4)], 1e-5, 1e-5),
    ]
    if hasattr(mx, "searchsorted"):
        cases.append(("search_sorted", "searchsorted(a, v), side=right",
                      lambda a, v: [mx.searchsorted(a, v), mx.searchsorted(a, v, side="right")],
                      [mx.array(np.array([1.0, 2.0, 2.0, 5.0, 7.0], np.float32)), f32(6, lo=0, hi=8)], 0, 0))
    for name, d, fn, args, rtol, atol in cases:
        try:
            save(out, name, d, fn, args, rtol=rtol, atol=atol)
        except Exception as e:  # a function this MLX cannot export
            print(f"{name}: skipped ({type(e).__name__}: {e})")


def _masked_set(x, m, v):
    y = mx.array(x)
    y[m] = v
    return y


def _linalg(a, s):
    q, r = mx.linalg.qr(a, stream=mx.cpu)
    u, sv, vt = mx.linalg.svd(a, stream=mx.cpu)
    w = mx.linalg.eigvalsh(s, stream=mx.cpu)
    return [q @ r, mx.abs(r), sv, (u[:, :3] * sv) @ vt, w]


def _setitem(x, i, u):
    y = mx.array(x)
    y[i] = u
    return y


def _spd(n):
    a = f32(n, n)
    return a @ a.T + 4 * mx.eye(n)


if __name__ == "__main__":
    main()
