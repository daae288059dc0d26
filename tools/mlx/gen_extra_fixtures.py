#!/usr/bin/env python3
"""Regenerates runtime/tests/fixtures/extra_ops.safetensors with real MLX.

Each case is one application of a Psionic "MLX extras" op (tensor.conv_general,
tensor.fft, tensor.quantize, ...) with its operands and MLX's results. Tensors
are stored as `<case>.in.<i>` and `<case>.out.<i>`; the safetensors metadata
maps each case name to a JSON object {"op", "attrs", "check", "rtol", "atol"}.
`check` is "exact" (bit for bit), "close" (allclose), or a property check for
factorizations whose signs or order are not unique ("qr", "svd", "eigh",
"eig"). Attribute JSON types: bool, int, float, list of ints, str; floats are
always written with a fractional part so the test reads them back as floats.

Run:  python3 tools/mlx/gen_extra_fixtures.py   (needs `pip install "mlx[cpu]" numpy`)
"""
import json
import os

import mlx.core as mx
import numpy as np
from safetensors.numpy import save_file

mx.set_default_device(mx.cpu)
rng = np.random.default_rng(20261126)
tensors = {}
meta = {}


def npy(a):
    # np.ascontiguousarray would turn 0-d arrays into 1-d ones.
    a = np.array(a)
    return a if a.flags.c_contiguous else a.copy()


def to_np(a):
    # numpy has no bf16: such tensors travel as their u16 bits, and the case
    # lists them under "bf16".
    if a.dtype == mx.bfloat16:
        return npy(a.view(mx.uint16))
    return npy(a)


def case(name, op, ins, outs, attrs, check="close", rtol=1e-4, atol=1e-5):
    assert name not in meta, name
    bf16 = []
    for kind, xs in [("in", ins), ("out", outs)]:
        for i, x in enumerate(xs):
            tensors[f"{name}.{kind}.{i}"] = to_np(x) if isinstance(x, mx.array) else npy(x)
            if isinstance(x, mx.array) and x.dtype == mx.bfloat16:
                bf16.append(f"{kind}.{i}")
    meta[name] = json.dumps(
        {"op": op, "attrs": attrs, "check": check, "rtol": rtol, "atol": atol, "bf16": bf16}
    )


def randn(*shape, dtype=mx.float32):
    return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)


# ---- convolution ----
def conv(name, x_shape, w_shape, stride, lo, hi, kd, idl, groups, flip):
    x, w = randn(*x_shape), randn(*w_shape)
    y = mx.conv_general(
        x, w, stride=stride, padding=(lo, hi), kernel_dilation=kd,
        input_dilation=idl, groups=groups, flip=flip,
    )
    attrs = {
        "kernel_strides": stride, "padding_lo": lo, "padding_hi": hi,
        "kernel_dilation": kd, "input_dilation": idl, "groups": groups, "flip": flip,
    }
    case(name, "tensor.conv_general", [x, w], [y], attrs, rtol=1e-4, atol=1e-4)


conv("conv1d_plain", (2, 9, 3), (4, 3, 3), [1], [0], [0], [1], [1], 1, False)
conv("conv1d_stride_pad", (2, 10, 4), (6, 3, 2), [2], [1], [2], [1], [1], 2, False)
conv("conv1d_dil_flip", (1, 12, 2), (3, 4, 2), [1], [3], [1], [2], [1], 1, True)
conv("conv1d_transposed", (2, 5, 3), (2, 3, 3), [1], [2], [2], [1], [2], 1, True)
conv("conv2d_plain", (2, 6, 5, 3), (4, 3, 2, 3), [1, 1], [0, 0], [0, 0], [1, 1], [1, 1], 1, False)
conv("conv2d_all", (2, 9, 8, 4), (6, 3, 3, 2), [2, 1], [1, 2], [0, 1], [1, 2], [1, 1], 2, True)
conv("conv2d_depthwise", (1, 7, 7, 4), (4, 3, 3, 1), [1, 2], [1, 1], [1, 1], [1, 1], [1, 1], 4, False)
conv("conv2d_input_dil", (1, 4, 5, 2), (3, 2, 3, 2), [1, 1], [1, 2], [1, 2], [1, 1], [2, 3], 1, True)
conv("conv3d", (1, 4, 5, 4, 2), (2, 2, 3, 2, 2), [1, 2, 1], [1, 0, 1], [0, 1, 1], [1, 1, 2], [1, 1, 1], 1, False)


# ---- FFT ----
def c64(*shape):
    return mx.array(
        (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    )


def fft_case(name, x, y, axes, inverse, real, odd_out, tol=1e-4):
    attrs = {"axes": axes, "inverse": inverse, "real": real, "odd_out": odd_out}
    case(name, "tensor.fft", [x], [y], attrs, rtol=tol, atol=tol)


x = c64(3, 8)
fft_case("fft_1d", x, mx.fft.fft(x), [1], False, False, False)
fft_case("ifft_1d", x, mx.fft.ifft(x), [1], True, False, False)
x = c64(4, 6, 5)
fft_case("fft_2d", x, mx.fft.fft2(x, axes=[0, 2]), [0, 2], False, False, False)
fft_case("ifftn", x, mx.fft.ifftn(x), [0, 1, 2], True, False, False)
x = c64(7)
fft_case("fft_prime", x, mx.fft.fft(x), [0], False, False, False)
r = randn(3, 10)
fft_case("rfft_even", r, mx.fft.rfft(r), [1], False, True, False)
r = randn(2, 9)
fft_case("rfft_odd", r, mx.fft.rfft(r), [1], False, True, False)
r = randn(4, 6, 8)
fft_case("rfft2", r, mx.fft.rfft2(r, axes=[0, 2]), [0, 2], False, True, False)
h = c64(3, 6)
fft_case("irfft_even", h, mx.fft.irfft(h, n=10), [1], True, True, False)
fft_case("irfft_odd", h, mx.fft.irfft(h, n=11), [1], True, True, True)
h = c64(4, 5, 3)
fft_case("irfftn", h, mx.fft.irfftn(h, s=[4, 5, 5], axes=[0, 1, 2]), [0, 1, 2], True, True, True)

# ---- linear algebra ----
a = randn(2, 5, 3)
q, rr = mx.linalg.qr(a)
case("qr_tall", "tensor.qr", [a], [q, rr], {}, check="qr", rtol=1e-4, atol=1e-4)
a = randn(3, 4)
q, rr = mx.linalg.qr(a)
case("qr_wide", "tensor.qr", [a], [q, rr], {}, check="qr", rtol=1e-4, atol=1e-4)
a = randn(2, 4, 6)
u, s, vt = mx.linalg.svd(a)
case("svd_uv", "tensor.svd", [a], [u, s, vt], {"compute_uv": True}, check="svd", rtol=1e-4, atol=1e-4)
s = mx.linalg.svd(a, compute_uv=False)
case("svd_s", "tensor.svd", [a], [s], {"compute_uv": False}, rtol=1e-4, atol=1e-4)
a = randn(2, 4, 4) + 4 * mx.eye(4)
case("inv", "tensor.inverse", [a], [mx.linalg.inv(a)], {"tri": False, "upper": False}, rtol=1e-4, atol=1e-4)
case("tri_inv_upper", "tensor.inverse", [a], [mx.linalg.tri_inv(a, upper=True)], {"tri": True, "upper": True}, rtol=1e-4, atol=1e-4)
case("tri_inv_lower", "tensor.inverse", [a], [mx.linalg.tri_inv(a, upper=False)], {"tri": True, "upper": False}, rtol=1e-4, atol=1e-4)
b = randn(3, 5, 5)
spd = b @ b.swapaxes(-1, -2) + 5 * mx.eye(5)
case("cholesky_lower", "tensor.cholesky", [spd], [mx.linalg.cholesky(spd)], {"upper": False}, rtol=1e-4, atol=1e-4)
case("cholesky_upper", "tensor.cholesky", [spd], [mx.linalg.cholesky(spd, upper=True)], {"upper": True}, rtol=1e-4, atol=1e-4)
sym = randn(2, 5, 5)
w, v = mx.linalg.eigh(sym, UPLO="L")
case("eigh_lower", "tensor.eigh", [sym], [w, v], {"uplo": "L", "compute_eigenvectors": True}, check="eigh", rtol=1e-4, atol=1e-4)
w, v = mx.linalg.eigh(sym, UPLO="U")
case("eigh_upper", "tensor.eigh", [sym], [w, v], {"uplo": "U", "compute_eigenvectors": True}, check="eigh", rtol=1e-4, atol=1e-4)
case("eigvalsh", "tensor.eigh", [sym], [mx.linalg.eigvalsh(sym, UPLO="U")], {"uplo": "U", "compute_eigenvectors": False}, rtol=1e-4, atol=1e-4)
z = c64(2, 3, 4)
u, s, vt = mx.linalg.svd(z)
case("svd_complex", "tensor.svd", [z], [u, s, vt], {"compute_uv": True}, check="svd", rtol=1e-4, atol=1e-4)
hz = c64(2, 4, 4)
hz = hz + mx.conj(hz.swapaxes(-1, -2))
w, v = mx.linalg.eigh(hz, UPLO="U")
case("eigh_complex", "tensor.eigh", [hz], [w, v], {"uplo": "U", "compute_eigenvectors": True}, check="eigh", rtol=1e-4, atol=1e-4)
g = randn(2, 4, 4)
w, v = mx.linalg.eig(g)
case("eig", "tensor.eig", [g], [w, v], {"compute_eigenvectors": True}, check="eig", rtol=1e-4, atol=1e-4)

# ---- quantization (bit-exact) ----
for bits in [2, 3, 4, 5, 6, 8]:
    for gs in [32, 64, 128]:
        for dt, dname in [(mx.float32, "f32"), (mx.float16, "f16")]:
            w = randn(3, 256, dtype=dt) * 0.5
            wq, sc, bi = mx.quantize(w, group_size=gs, bits=bits)
            attrs = {"group_size": gs, "bits": bits, "mode": "affine"}
            case(f"quantize_b{bits}_g{gs}_{dname}", "tensor.quantize", [w], [wq, sc, bi], attrs, check="exact")
            deq = mx.dequantize(wq, sc, bi, group_size=gs, bits=bits)
            case(f"dequantize_b{bits}_g{gs}_{dname}", "tensor.dequantize", [wq, sc, bi], [deq], attrs, check="exact")
        x = randn(2, 5, 256)
        wq, sc, bi = mx.quantize(randn(6, 256), group_size=gs, bits=bits)
        y = mx.quantized_matmul(x, wq, sc, bi, transpose=True, group_size=gs, bits=bits)
        case(f"qmm_t_b{bits}_g{gs}", "tensor.quantized_matmul", [x, wq, sc, bi], [y],
             {"group_size": gs, "bits": bits, "mode": "affine", "transpose": True}, rtol=1e-4, atol=1e-3)
        x = randn(3, 128)
        wq, sc, bi = mx.quantize(randn(128, 256), group_size=gs, bits=bits)
        y = mx.quantized_matmul(x, wq, sc, bi, transpose=False, group_size=gs, bits=bits)
        case(f"qmm_n_b{bits}_g{gs}", "tensor.quantized_matmul", [x, wq, sc, bi], [y],
             {"group_size": gs, "bits": bits, "mode": "affine", "transpose": False}, rtol=1e-4, atol=1e-3)
# bf16, the usual LLM weight dtype.
for bits, gs in [(4, 64), (3, 32), (8, 128), (6, 64)]:
    w = randn(2, 256, dtype=mx.bfloat16)
    wq, sc, bi = mx.quantize(w, group_size=gs, bits=bits)
    attrs = {"group_size": gs, "bits": bits, "mode": "affine"}
    case(f"quantize_b{bits}_g{gs}_bf16", "tensor.quantize", [w], [wq, sc, bi], attrs, check="exact")
    deq = mx.dequantize(wq, sc, bi, group_size=gs, bits=bits)
    case(f"dequantize_b{bits}_g{gs}_bf16", "tensor.dequantize", [wq, sc, bi], [deq], attrs, check="exact")
# Quantizing a group with a zero edge (bias 0 path) and constant groups.
w = mx.concatenate([mx.zeros((1, 64)), mx.ones((1, 64)) * 3.0, mx.arange(64).reshape(1, 64) / 7.0])
wq, sc, bi = mx.quantize(w, group_size=64, bits=4)
case("quantize_special", "tensor.quantize", [w], [wq, sc, bi], {"group_size": 64, "bits": 4, "mode": "affine"}, check="exact")
# Microscaling modes: dequantize (to f32 and f16) and quantized matmul.
for mode, gs, bits in [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]:
    w = randn(3, 64)
    wq, sc = mx.quantize(w, group_size=gs, bits=bits, mode=mode)
    for dt, dname in [(mx.float32, "f32"), (mx.float16, "f16")]:
        deq = mx.dequantize(wq, sc, group_size=gs, bits=bits, mode=mode, dtype=dt)
        case(f"dequantize_{mode}_{dname}", "tensor.dequantize", [wq, sc], [deq],
             {"group_size": gs, "bits": bits, "mode": mode, "dtype": dname}, check="exact")
    x = randn(2, 64)
    y = mx.quantized_matmul(x, wq, sc, transpose=True, group_size=gs, bits=bits, mode=mode)
    case(f"qmm_{mode}", "tensor.quantized_matmul", [x, wq, sc], [y],
         {"group_size": gs, "bits": bits, "mode": mode, "transpose": True}, rtol=1e-4, atol=1e-3)
# gather_qmm: x (B, M, K), w (E, N, K/pack), indices of one shape.
x = randn(3, 2, 128)
wq, sc, bi = mx.quantize(randn(4, 8, 128), group_size=64, bits=4)
li = mx.array(np.array([[0, 2], [1, 1]], dtype=np.uint32))
ri = mx.array(np.array([[3, 0], [2, 1]], dtype=np.uint32))
y = mx.gather_qmm(x, wq, sc, bi, li, ri, transpose=True, group_size=64, bits=4)
case("gather_qmm", "tensor.gather_qmm", [x, wq, sc, bi, li, ri], [y],
     {"group_size": 64, "bits": 4, "mode": "affine", "transpose": True}, rtol=1e-4, atol=1e-3)

# ---- gather_mm, block_masked_mm ----
a, b = randn(3, 2, 4), randn(5, 4, 3)
li = mx.array(np.array([0, 2, 1, 2], dtype=np.uint32))
ri = mx.array(np.array([4, 0, 3, 3], dtype=np.uint32))
case("gather_mm", "tensor.gather_mm", [a, b, li, ri], [mx.gather_mm(a, b, li, ri)], {}, rtol=1e-4, atol=1e-4)
a, b = randn(2, 64, 96), randn(2, 96, 64)
mo = mx.array(rng.random((2, 2, 2)) > 0.3)
ml = mx.array(rng.random((2, 2, 3)) > 0.3)
mr = mx.array(rng.random((2, 3, 2)) > 0.3)
y = mx.block_masked_mm(a, b, 32, mo, ml, mr)
case("block_masked_mm_bool", "tensor.block_masked_mm", [a, b, mo, ml, mr], [y], {"block_size": 32}, rtol=1e-4, atol=1e-3)
y = mx.block_masked_mm(a, b, 32, mo)
case("block_masked_mm_out", "tensor.block_masked_mm", [a, b, mo], [y], {"block_size": 32}, rtol=1e-4, atol=1e-3)
mlf = mx.array(rng.random((2, 2, 3)).astype(np.float32))
mrf = mx.array(rng.random((2, 3, 2)).astype(np.float32))
y = mx.block_masked_mm(a, b, 32, None, mlf, mrf)
case("block_masked_mm_float", "tensor.block_masked_mm", [a, b, mlf, mrf], [y], {"block_size": 32}, rtol=1e-4, atol=1e-3)

# ---- random bits (bit-exact) ----
# Python exposes RandomBits only through other ops: `split(key, num)` is
# bits(shape=[num, 2], width=4) exactly, and `uniform` is
# min(f32(bits) / f32(2^32 - 1), nextafter(1, 0)) of width-4 bits, which the
# test recomputes from our bits ("uniform" check). Widths 1 and 2 share the
# width-4 byte layout (same word count), which the Rust tests check.
for seed, num in [(0, 1), (42, 3), (7, 8), (2**40 + 5, 5), (123456789, 16)]:
    key = mx.random.key(seed)
    case(f"random_bits_split_s{seed}_n{num}", "tensor.random_bits", [key],
         [mx.random.split(key, num)], {"shape": [num, 2], "width": 4}, check="exact")
for seed, shape in [(0, [1]), (3, [7]), (11, [3, 5]), (2**33, [9]), (5, [2, 2])]:
    key = mx.random.key(seed)
    u = mx.random.uniform(shape=shape, key=key)
    case(f"random_bits_uniform_s{seed}_{'x'.join(map(str, shape))}", "tensor.random_bits", [key], [u],
         {"shape": shape, "width": 4}, check="uniform")
keys = mx.random.split(mx.random.key(3), 3)
bits = mx.vmap(lambda k: mx.random.split(k, 3))(keys)
case("random_bits_batched_keys", "tensor.random_bits", [keys], [bits], {"shape": [3, 2], "width": 4}, check="exact")

# ---- fast ----
x, wgt = randn(2, 3, 16), randn(16)
case("rms_norm", "tensor.rms_norm", [x, wgt], [mx.fast.rms_norm(x, wgt, 1e-5)], {"eps": 1e-5})
case("rms_norm_noweight", "tensor.rms_norm", [x, mx.array(1.0)], [mx.fast.rms_norm(x, None, 1e-5)], {"eps": 1e-5})
xh, wh = x.astype(mx.float16), wgt.astype(mx.float16)
case("rms_norm_f16", "tensor.rms_norm", [xh, wh], [mx.fast.rms_norm(xh, wh, 1e-5)], {"eps": 1e-5}, rtol=2e-3, atol=2e-3)
xb, wb = x.astype(mx.bfloat16), wgt.astype(mx.bfloat16)
case("rms_norm_bf16", "tensor.rms_norm", [xb, wb], [mx.fast.rms_norm(xb, wb, 1e-5)], {"eps": 1e-5}, rtol=1e-2, atol=1e-2)
g = randn(2, 3, 16)
_, (dx, dw) = mx.vjp(lambda a, b: mx.fast.rms_norm(a, b, 1e-5), [x, wgt], [g])
case("rms_norm_vjp", "tensor.rms_norm_vjp", [x, wgt, g], [dx, dw], {"eps": 1e-5}, atol=1e-4)
bias = randn(16)
case("layer_norm", "tensor.layer_norm", [x, wgt, bias], [mx.fast.layer_norm(x, wgt, bias, 1e-5)], {"eps": 1e-5})
case("layer_norm_plain", "tensor.layer_norm", [x, mx.array(1.0), mx.array(0.0)], [mx.fast.layer_norm(x, None, None, 1e-5)], {"eps": 1e-5})
_, (dx, dw, db) = mx.vjp(lambda a, b, c: mx.fast.layer_norm(a, b, c, 1e-5), [x, wgt, bias], [g])
case("layer_norm_vjp", "tensor.layer_norm_vjp", [x, wgt, bias, g], [dx, dw, db], {"eps": 1e-5}, atol=1e-4)

x = randn(2, 3, 5, 16)
for trad in [False, True]:
    for dims in [16, 8]:
        y = mx.fast.rope(x, dims, traditional=trad, base=10000.0, scale=1.0, offset=3)
        case(f"rope_t{int(trad)}_d{dims}", "tensor.rope", [x, mx.array(3, dtype=mx.int32)], [y],
             {"dims": dims, "traditional": trad, "base": 10000.0, "scale": 1.0, "forward": True}, atol=1e-4)
        g = randn(2, 3, 5, 16)
        _, (dx,) = mx.vjp(lambda a: mx.fast.rope(a, dims, traditional=trad, base=10000.0, scale=1.0, offset=3), [x], [g])
        case(f"rope_inverse_t{int(trad)}_d{dims}", "tensor.rope", [g, mx.array(3, dtype=mx.int32)], [dx],
             {"dims": dims, "traditional": trad, "base": 10000.0, "scale": 1.0, "forward": False}, atol=1e-4)
offs = mx.array(np.array([0, 7], dtype=np.int32))
y = mx.fast.rope(x, 16, traditional=False, base=500.0, scale=0.5, offset=offs)
case("rope_batch_offsets", "tensor.rope", [x, offs], [y],
     {"dims": 16, "traditional": False, "base": 500.0, "scale": 0.5, "forward": True}, atol=1e-4)
freqs = mx.array(rng.uniform(1.0, 50.0, 4).astype(np.float32))
x3 = randn(3, 6, 10)
y = mx.fast.rope(x3, 8, traditional=True, base=None, scale=1.0, offset=2, freqs=freqs)
case("rope_freqs_rank3", "tensor.rope", [x3, mx.array(2, dtype=mx.int32), freqs], [y],
     {"dims": 8, "traditional": True, "base": 1.0, "scale": 1.0, "forward": True}, atol=1e-4)

def sdpa_attrs(scale, causal=False, sinks=False):
    return {"scale": scale, "do_causal": causal, "has_sinks": sinks, "output_logsumexp": False}

q, k, v = randn(2, 4, 5, 8), randn(2, 2, 7, 8), randn(2, 2, 7, 6)
sc = 8 ** -0.5
case("sdpa_plain", "tensor.sdpa", [q, k, v], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc)], sdpa_attrs(sc))
case("sdpa_causal", "tensor.sdpa", [q, k, v], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask="causal")], sdpa_attrs(sc, causal=True))
bm = mx.array(rng.random((2, 4, 5, 7)) > 0.3)
case("sdpa_bool_mask", "tensor.sdpa", [q, k, v, bm], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask=bm)], sdpa_attrs(sc))
fm = randn(5, 7)
case("sdpa_float_mask", "tensor.sdpa", [q, k, v, fm], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask=fm)], sdpa_attrs(sc))
sk = randn(4)
case("sdpa_sinks", "tensor.sdpa", [q, k, v, sk], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, sinks=sk)], sdpa_attrs(sc, sinks=True))

qh, kh, vh = q.astype(mx.float16), k.astype(mx.float16), v.astype(mx.float16)
case("sdpa_f16_causal", "tensor.sdpa", [qh, kh, vh], [mx.fast.scaled_dot_product_attention(qh, kh, vh, scale=sc, mask="causal")],
     sdpa_attrs(sc, causal=True), rtol=1e-2, atol=1e-2)
xh, wh = randn(1, 8, 8, 3, dtype=mx.float16), randn(4, 3, 3, 3, dtype=mx.float16)
case("conv2d_f16", "tensor.conv_general", [xh, wh], [mx.conv_general(xh, wh, stride=[1, 2], padding=([1, 0], [1, 1]))],
     {"kernel_strides": [1, 2], "padding_lo": [1, 0], "padding_hi": [1, 1], "kernel_dilation": [1, 1],
      "input_dilation": [1, 1], "groups": 1, "flip": False}, rtol=1e-2, atol=1e-2)
for n in [8, 12, 40, 28]:
    x = randn(3, n)
    s = 1.0 / np.sqrt(n)
    case(f"hadamard_{n}", "tensor.hadamard", [x], [mx.hadamard_transform(x, scale=float(s))], {"scale": float(s)}, atol=1e-4)

# ---- misc ----
x = mx.arange(24, dtype=mx.float32)
case("as_strided", "tensor.as_strided", [x], [mx.as_strided(x, [3, 4], [5, 1], 2)], {"shape": [3, 4], "strides": [5, 1], "offset": 2}, check="exact")
case("as_strided_overlap", "tensor.as_strided", [x], [mx.as_strided(x, [4, 3], [2, 3], 1)], {"shape": [4, 3], "strides": [2, 3], "offset": 1}, check="exact")
sseq = mx.array(np.array([1.0, 2.0, 2.0, 3.5, 7.0], dtype=np.float32))
vals = mx.array(np.array([[0.0, 2.0, 9.0], [3.5, 1.0, 2.5]], dtype=np.float32))
case("search_sorted_left", "tensor.search_sorted", [sseq, vals], [mx.searchsorted(sseq, vals, side="left")], {"right": False}, check="exact")
case("search_sorted_right", "tensor.search_sorted", [sseq, vals], [mx.searchsorted(sseq, vals, side="right")], {"right": True}, check="exact")
z = c64(3, 4)
case("real", "tensor.real", [z], [mx.real(z)], {}, check="exact")
case("imag", "tensor.imag", [z], [mx.imag(z)], {}, check="exact")
case("conjugate", "tensor.conjugate", [z], [mx.conj(z)], {}, check="exact")

out = os.path.join(os.path.dirname(__file__), "..", "..", "runtime", "tests", "fixtures", "extra_ops.safetensors")
save_file(tensors, os.path.normpath(out), metadata=meta)
print(f"{len(meta)} cases, {len(tensors)} tensors -> {os.path.normpath(out)}")
