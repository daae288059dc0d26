#!/usr/bin/env python3
"""Regenerates frontends/mlx-compat/tests/fixtures/mlx_api.safetensors with real MLX.

Each case calls one public MLX function (mx.random.*, mx.quantize, mx.conv2d,
mx.fast.*, mx.fft.*, mx.linalg.*, ...) and stores its array inputs as
`<case>.in.<i>` and its outputs as `<case>.out.<i>`. The safetensors metadata
maps each case name to a JSON object {"fn", "args", "check", "rtol", "atol",
"bf16"}: `fn` names the psionic_mlx function the test calls, `args` its
non-array arguments (keys, shapes, dtypes, axes ...), `check` is "exact" (bit
for bit), "ulp:N" (at most N ulp apart) or "close" (allclose with rtol/atol). bf16
tensors travel as their u16 bits and are listed under "bf16".

Run:  python3 tools/mlx/gen_api_fixtures.py   (mlx 0.32.4, numpy, safetensors)
"""
import json
import os

import mlx.core as mx
import numpy as np
from safetensors.numpy import save_file

mx.set_default_device(mx.cpu)
rng = np.random.default_rng(20261127)
tensors = {}
meta = {}

DT = {
    "f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16, "f64": mx.float64,
    "i32": mx.int32, "u32": mx.uint32, "i8": mx.int8, "u8": mx.uint8, "i16": mx.int16,
    "i64": mx.int64, "u16": mx.uint16, "bool": mx.bool_, "c64": mx.complex64,
}


def npy(a):
    a = np.array(a)
    return a if a.flags.c_contiguous else a.copy()


def to_np(a):
    if a.dtype == mx.bfloat16:
        return npy(a.view(mx.uint16))
    return npy(a)


def case(name, fn, ins, outs, args, check="exact", rtol=1e-5, atol=1e-6):
    assert name not in meta, name
    bf16 = []
    for kind, xs in [("in", ins), ("out", outs)]:
        for i, x in enumerate(xs):
            if not isinstance(x, mx.array):
                x = mx.array(x)
            mx.eval(x)
            tensors[f"{name}.{kind}.{i}"] = to_np(x)
            if x.dtype == mx.bfloat16:
                bf16.append(f"{kind}.{i}")
    meta[name] = json.dumps(
        {"fn": fn, "args": args, "check": check, "rtol": rtol, "atol": atol, "bf16": bf16}
    )


def randn(*shape, dtype=mx.float32):
    return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)


# ---- random ----
def random_cases():
    seeds = [0, 1, 7, 42, 2**32 + 5, 123456789012345]
    shapes = [[], [1], [3], [7], [4, 5], [2, 3, 4], [33], [16, 17]]
    k = 0
    for s in seeds:
        key = mx.random.key(s)
        case(f"key_{s}", "key", [], [key], {"seed": s})
        for num in [2, 3, 5]:
            case(f"split_{s}_{num}", "split", [key], [mx.random.split(key, num)], {"num": num})
    for i, s in enumerate(seeds):
        key = mx.random.key(s)
        for j, shape in enumerate(shapes):
            k += 1
            for dt in ["f32", "f16", "bf16"]:
                case(f"uniform_{i}_{j}_{dt}", "uniform", [key],
                     [mx.random.uniform(shape=shape, dtype=DT[dt], key=key)],
                     {"shape": shape, "dtype": dt, "low": 0.0, "high": 1.0})
            case(f"uniform_lh_{i}_{j}", "uniform", [key],
                 [mx.random.uniform(-3.5, 2.25, shape=shape, key=key)],
                 {"shape": shape, "dtype": "f32", "low": -3.5, "high": 2.25})
            for dt in ["f32", "f16", "bf16"]:
                case(f"normal_{i}_{j}_{dt}", "normal", [key],
                     [mx.random.normal(shape=shape, dtype=DT[dt], key=key)],
                     {"shape": shape, "dtype": dt}, check="exact")
            case(f"normal_ls_{i}_{j}", "normal", [key],
                 [mx.random.normal(shape=shape, loc=1.5, scale=0.25, key=key)],
                 {"shape": shape, "dtype": "f32", "loc": 1.5, "scale": 0.25}, check="exact")
            for lo, hi, dt in [(0, 10, "i32"), (-100, 100, "i32"), (0, 2, "u8"), (-5, 1000000, "i64")]:
                case(f"randint_{i}_{j}_{lo}_{hi}_{dt}", "randint", [key],
                     [mx.random.randint(lo, hi, shape=shape, dtype=DT[dt], key=key)],
                     {"shape": shape, "dtype": dt, "low": lo, "high": hi})
            for p in [0.5, 0.1, 0.9]:
                case(f"bernoulli_{i}_{j}_{p}", "bernoulli", [key],
                     [mx.random.bernoulli(p, shape=shape, key=key)], {"shape": shape, "p": p})
            for dt in ["f32", "f16", "bf16"]:
                case(f"gumbel_{i}_{j}_{dt}", "gumbel", [key],
                     [mx.random.gumbel(shape=shape, dtype=DT[dt], key=key)],
                     {"shape": shape, "dtype": dt}, check="exact")
            case(f"laplace_{i}_{j}", "laplace", [key],
                 [mx.random.laplace(shape=shape, key=key)], {"shape": shape, "dtype": "f32", "loc": 0.0, "scale": 1.0},
                 check="exact")
            case(f"laplace_ls_{i}_{j}", "laplace", [key],
                 [mx.random.laplace(shape=shape, loc=0.5, scale=2.0, key=key)],
                 {"shape": shape, "dtype": "f32", "loc": 0.5, "scale": 2.0}, check="exact")
            for dt in ["f16", "bf16"]:
                case(f"laplace_{i}_{j}_{dt}", "laplace", [key],
                     [mx.random.laplace(shape=shape, dtype=DT[dt], loc=-0.25, scale=3.0, key=key)],
                     {"shape": shape, "dtype": dt, "loc": -0.25, "scale": 3.0})
            for lo, hi in [(-2.0, 2.0), (-1.0, 0.5), (0.0, 3.0)]:
                case(f"truncnorm_{i}_{j}_{lo}_{hi}", "truncated_normal", [key],
                     [mx.random.truncated_normal(lo, hi, shape=shape, key=key)],
                     {"shape": shape, "dtype": "f32", "lower": lo, "upper": hi})
        for n in [1, 5, 16, 100]:
            case(f"perm_{i}_{n}", "permutation_n", [key], [mx.random.permutation(n, key=key)], {"n": n})
        x = randn(6, 4)
        for ax in [0, 1]:
            case(f"perm_arr_{i}_{ax}", "permutation", [key, x], [mx.random.permutation(x, axis=ax, key=key)],
                 {"axis": ax})
        # categorical: Gumbel-max and the single-distribution inverse CDF.
        logits = randn(5, 8)
        case(f"cat_{i}", "categorical", [key, logits], [mx.random.categorical(logits, key=key)], {"axis": -1})
        case(f"cat_ax0_{i}", "categorical", [key, logits], [mx.random.categorical(logits, axis=0, key=key)],
             {"axis": 0})
        case(f"cat_num_{i}", "categorical", [key, logits],
             [mx.random.categorical(logits, num_samples=7, key=key)], {"axis": -1, "num_samples": 7})
        case(f"cat_shape_{i}", "categorical", [key, logits],
             [mx.random.categorical(logits, shape=[3, 5], key=key)], {"axis": -1, "shape": [3, 5]})
        one = randn(10)
        case(f"cat_icdf_{i}", "categorical", [key, one],
             [mx.random.categorical(one, shape=[40], key=key)], {"axis": -1, "shape": [40]})
        case(f"cat_icdf_num_{i}", "categorical", [key, one],
             [mx.random.categorical(one, num_samples=25, key=key)], {"axis": -1, "num_samples": 25})
        mean = randn(3)
        a = randn(3, 3)
        cov = a @ a.T + 0.5 * mx.eye(3)
        case(f"mvn_{i}", "multivariate_normal", [key, mean, cov],
             [mx.random.multivariate_normal(mean, cov, shape=[4], key=key)], {"shape": [4]},
             check="close", rtol=1e-4, atol=1e-4)
    # The global sequence: seed, then successive draws.
    mx.random.seed(1234)
    draws = [mx.random.uniform(shape=[3]), mx.random.normal(shape=[2]), mx.random.randint(0, 9, shape=[4])]
    case("seeded_sequence", "seeded_sequence", [], draws, {"seed": 1234}, check="exact")
    # Large draws: many values through MLX's erfinv and the C library's log.
    key = mx.random.key(99)
    case("normal_big", "normal", [key], [mx.random.normal(shape=[8000], key=key)],
         {"shape": [8000], "dtype": "f32"}, check="exact")
    case("gumbel_big", "gumbel", [key], [mx.random.gumbel(shape=[8000], key=key)],
         {"shape": [8000], "dtype": "f32"}, check="exact")
    case("laplace_big", "laplace", [key], [mx.random.laplace(shape=[8000], key=key)],
         {"shape": [8000], "dtype": "f32", "loc": 0.0, "scale": 1.0})
    case("uniform_big", "uniform", [key], [mx.random.uniform(shape=[8000], key=key)],
         {"shape": [8000], "dtype": "f32", "low": 0.0, "high": 1.0})


# ---- quantization ----
def quant_cases():
    for dt in ["f32", "f16", "bf16"]:
        for gs in [32, 64, 128]:
            for bits in [2, 3, 4, 5, 6, 8]:
                w = randn(2, 256, dtype=DT[dt])
                wq, sc, bi = mx.quantize(w, group_size=gs, bits=bits)
                args = {"group_size": gs, "bits": bits, "mode": "affine"}
                case(f"quantize_{dt}_{gs}_{bits}", "quantize", [w], [wq, sc, bi], args)
                case(f"dequantize_{dt}_{gs}_{bits}", "dequantize", [wq, sc, bi],
                     [mx.dequantize(wq, sc, bi, group_size=gs, bits=bits)], args)
                x = randn(2, 256, dtype=DT[dt])
                case(f"qmm_t_{dt}_{gs}_{bits}", "quantized_matmul", [x, wq, sc, bi],
                     [mx.quantized_matmul(x, wq, sc, bi, transpose=True, group_size=gs, bits=bits)],
                     dict(args, transpose=True))
                if dt == "f32" and bits in (4, 8):
                    w2 = randn(256, 128)
                    wq2, sc2, bi2 = mx.quantize(w2, group_size=gs, bits=bits)
                    case(f"qmm_n_{gs}_{bits}", "quantized_matmul", [x, wq2, sc2, bi2],
                         [mx.quantized_matmul(x, wq2, sc2, bi2, transpose=False, group_size=gs, bits=bits)],
                         dict(args, transpose=False))
    # Default group size and bits, batched weights, gather_qmm.
    w = randn(3, 16, 128)
    wq, sc, bi = mx.quantize(w)
    case("quantize_default_batched", "quantize", [w], [wq, sc, bi], {"mode": "affine"})
    x = randn(2, 5, 128)
    lhs = mx.array([0, 1, 1, 0], dtype=mx.uint32)
    rhs = mx.array([2, 0, 1, 2], dtype=mx.uint32)
    case("gather_qmm_both", "gather_qmm", [x, wq, sc, bi, lhs, rhs],
         [mx.gather_qmm(x, wq, sc, bi, lhs_indices=lhs, rhs_indices=rhs)], {"mode": "affine", "transpose": True})
    x1 = randn(5, 128)
    case("gather_qmm_rhs", "gather_qmm", [x1, wq, sc, bi, rhs],
         [mx.gather_qmm(x1, wq, sc, bi, rhs_indices=rhs)], {"mode": "affine", "transpose": True, "only": "rhs"})
    # Microscaling modes: MLX quantizes, Psionic dequantizes and multiplies.
    for mode, gs, bits in [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]:
        w = randn(8, 128)
        wq, sc = mx.quantize(w, mode=mode)
        args = {"group_size": gs, "bits": bits, "mode": mode}
        for dt in ["f32", "bf16"]:
            case(f"dequantize_{mode}_{dt}", "dequantize", [wq, sc],
                 [mx.dequantize(wq, sc, mode=mode, dtype=DT[dt])], dict(args, dtype=dt))
        x = randn(3, 128)
        case(f"qmm_{mode}", "quantized_matmul", [x, wq, sc],
             [mx.quantized_matmul(x, wq, sc, mode=mode)], dict(args, transpose=True))


# ---- convolution ----
def conv_cases():
    x = randn(2, 9, 4)
    for i, (st, pd, dl, g) in enumerate([(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2), (3, 0, 1, 4)]):
        w = randn(8, 3, 4 // g)
        case(f"conv1d_{i}", "conv1d", [x, w], [mx.conv1d(x, w, stride=st, padding=pd, dilation=dl, groups=g)],
             {"stride": st, "padding": pd, "dilation": dl, "groups": g}, check="close")
    x = randn(2, 7, 6, 4)
    for i, (st, pd, dl, g) in enumerate([((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1),
                                         ((1, 2), (1, 1), (2, 1), 2), ((1, 1), (0, 0), (1, 1), 4)]):
        w = randn(4, 3, 2, 4 // g)
        case(f"conv2d_{i}", "conv2d", [x, w], [mx.conv2d(x, w, stride=st, padding=pd, dilation=dl, groups=g)],
             {"stride": list(st), "padding": list(pd), "dilation": list(dl), "groups": g}, check="close")
    x = randn(1, 5, 4, 6, 3)
    w = randn(2, 2, 3, 2, 3)
    for i, (st, pd, dl) in enumerate([((1, 1, 1), (0, 0, 0), (1, 1, 1)), ((2, 1, 2), (1, 1, 1), (1, 1, 2))]):
        case(f"conv3d_{i}", "conv3d", [x, w], [mx.conv3d(x, w, stride=st, padding=pd, dilation=dl)],
             {"stride": list(st), "padding": list(pd), "dilation": list(dl), "groups": 1}, check="close")
    x = randn(2, 5, 4)
    for i, (st, pd, dl, op, g) in enumerate([(1, 0, 1, 0, 1), (2, 1, 1, 1, 1), (3, 1, 2, 0, 1), (2, 0, 1, 0, 2)]):
        w = randn(6, 3, 4 // g)
        case(f"convt1d_{i}", "conv_transpose1d", [x, w],
             [mx.conv_transpose1d(x, w, stride=st, padding=pd, dilation=dl, output_padding=op, groups=g)],
             {"stride": st, "padding": pd, "dilation": dl, "output_padding": op, "groups": g}, check="close")
    x = randn(1, 4, 5, 3)
    w = randn(2, 3, 3, 3)
    for i, (st, pd, dl, op) in enumerate([((1, 1), (0, 0), (1, 1), (0, 0)), ((2, 2), (1, 0), (1, 1), (1, 0))]):
        case(f"convt2d_{i}", "conv_transpose2d", [x, w],
             [mx.conv_transpose2d(x, w, stride=st, padding=pd, dilation=dl, output_padding=op)],
             {"stride": list(st), "padding": list(pd), "dilation": list(dl), "output_padding": list(op), "groups": 1},
             check="close")
    x = randn(1, 3, 3, 4, 2)
    w = randn(2, 2, 2, 3, 2)
    case("convt3d_0", "conv_transpose3d", [x, w],
         [mx.conv_transpose3d(x, w, stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 0))],
         {"stride": [2, 1, 2], "padding": [1, 0, 1], "dilation": [1, 1, 1], "output_padding": [1, 0, 0], "groups": 1},
         check="close")
    x = randn(2, 6, 5, 2)
    w = randn(3, 3, 2, 2)
    for i, (st, lo, hi, kd, idl, fl) in enumerate([([1, 2], [1, 0], [2, 1], [1, 1], [2, 1], True),
                                                   ([2, 1], [-1, 1], [0, -1], [2, 1], [1, 1], False)]):
        case(f"convgen_{i}", "conv_general", [x, w],
             [mx.conv_general(x, w, stride=st, padding=(lo, hi), kernel_dilation=kd, input_dilation=idl, flip=fl)],
             {"stride": st, "padding_lo": lo, "padding_hi": hi, "kernel_dilation": kd, "input_dilation": idl,
              "flip": fl, "groups": 1}, check="close")


# ---- fast ----
def fast_cases():
    for dt, tol in [("f32", 1e-5), ("f16", 2e-3), ("bf16", 2e-2)]:
        x = randn(3, 5, 16, dtype=DT[dt])
        w = randn(16, dtype=DT[dt])
        b = randn(16, dtype=DT[dt])
        case(f"rms_norm_{dt}", "rms_norm", [x, w], [mx.fast.rms_norm(x, w, 1e-5)], {"eps": 1e-5},
             check="close", rtol=tol, atol=tol)
        case(f"rms_norm_now_{dt}", "rms_norm", [x], [mx.fast.rms_norm(x, None, 1e-5)], {"eps": 1e-5},
             check="close", rtol=tol, atol=tol)
        case(f"layer_norm_{dt}", "layer_norm", [x, w, b], [mx.fast.layer_norm(x, w, b, 1e-5)],
             {"eps": 1e-5, "has": "wb"}, check="close", rtol=tol, atol=tol)
        case(f"layer_norm_w_{dt}", "layer_norm", [x, w], [mx.fast.layer_norm(x, w, None, 1e-5)],
             {"eps": 1e-5, "has": "w"}, check="close", rtol=tol, atol=tol)
        case(f"layer_norm_none_{dt}", "layer_norm", [x], [mx.fast.layer_norm(x, None, None, 1e-5)],
             {"eps": 1e-5, "has": ""}, check="close", rtol=tol, atol=tol)
    x = randn(2, 3, 7, 16)
    for trad in [False, True]:
        for dims, base, scale, off in [(16, 10000.0, 1.0, 0), (8, 500.0, 0.5, 3)]:
            case(f"rope_{trad}_{dims}_{off}", "rope", [x],
                 [mx.fast.rope(x, dims, traditional=trad, base=base, scale=scale, offset=off)],
                 {"dims": dims, "traditional": trad, "base": base, "scale": scale, "offset": off},
                 check="close", rtol=1e-4, atol=1e-4)
    freqs = mx.array(np.linspace(0.5, 3.0, 8).astype(np.float32))
    case("rope_freqs", "rope", [x, freqs],
         [mx.fast.rope(x, 16, traditional=False, base=None, scale=1.0, offset=2, freqs=freqs)],
         {"dims": 16, "traditional": False, "scale": 1.0, "offset": 2}, check="close", rtol=1e-4, atol=1e-4)
    q = randn(2, 4, 5, 8)
    k = randn(2, 2, 6, 8)
    v = randn(2, 2, 6, 8)
    sc = 8 ** -0.5
    case("sdpa_plain", "sdpa", [q, k, v], [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc)],
         {"scale": sc, "mask": "none"}, check="close", rtol=1e-4, atol=1e-5)
    case("sdpa_causal", "sdpa", [q, k, v],
         [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask="causal")],
         {"scale": sc, "mask": "causal"}, check="close", rtol=1e-4, atol=1e-5)
    bm = mx.array(rng.random((5, 6)) > 0.3)
    case("sdpa_bool", "sdpa", [q, k, v, bm],
         [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask=bm)],
         {"scale": sc, "mask": "array"}, check="close", rtol=1e-4, atol=1e-5)
    fm = randn(1, 4, 5, 6)
    case("sdpa_float", "sdpa", [q, k, v, fm],
         [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, mask=fm)],
         {"scale": sc, "mask": "array"}, check="close", rtol=1e-4, atol=1e-5)
    sinks = randn(4)
    case("sdpa_sinks", "sdpa", [q, k, v, sinks],
         [mx.fast.scaled_dot_product_attention(q, k, v, scale=sc, sinks=sinks)],
         {"scale": sc, "mask": "none", "sinks": True}, check="close", rtol=1e-4, atol=1e-5)


# ---- fft ----
def fft_cases():
    xr = randn(4, 6)
    xc = (randn(4, 6) + 1j * randn(4, 6)).astype(mx.complex64)
    t = dict(check="close", rtol=1e-4, atol=1e-4)
    for norm in ["backward", "ortho", "forward"]:
        case(f"fft_{norm}", "fft", [xc], [mx.fft.fft(xc, norm=norm)], {"norm": norm, "axis": -1}, **t)
        case(f"ifft_{norm}", "ifft", [xc], [mx.fft.ifft(xc, norm=norm)], {"norm": norm, "axis": -1}, **t)
    case("fft_n8_ax0", "fft", [xc], [mx.fft.fft(xc, n=8, axis=0)], {"norm": "backward", "axis": 0, "n": 8}, **t)
    case("fft_n3", "fft", [xc], [mx.fft.fft(xc, n=3)], {"norm": "backward", "axis": -1, "n": 3}, **t)
    case("fft_real_in", "fft", [xr], [mx.fft.fft(xr)], {"norm": "backward", "axis": -1}, **t)
    case("rfft", "rfft", [xr], [mx.fft.rfft(xr)], {"norm": "backward", "axis": -1}, **t)
    case("rfft_n5", "rfft", [xr], [mx.fft.rfft(xr, n=5, axis=0)], {"norm": "backward", "axis": 0, "n": 5}, **t)
    r = mx.fft.rfft(xr)
    case("irfft", "irfft", [r], [mx.fft.irfft(r)], {"norm": "backward", "axis": -1}, **t)
    case("irfft_n7", "irfft", [r], [mx.fft.irfft(r, n=7)], {"norm": "backward", "axis": -1, "n": 7}, **t)
    case("irfft_ortho", "irfft", [r], [mx.fft.irfft(r, norm="ortho")], {"norm": "ortho", "axis": -1}, **t)
    x3 = (randn(3, 4, 5) + 1j * randn(3, 4, 5)).astype(mx.complex64)
    case("fft2", "fft2", [x3], [mx.fft.fft2(x3)], {"norm": "backward"}, **t)
    case("ifft2", "ifft2", [x3], [mx.fft.ifft2(x3)], {"norm": "backward"}, **t)
    case("fftn", "fftn", [x3], [mx.fft.fftn(x3)], {"norm": "backward"}, **t)
    case("fftn_s", "fftn", [x3], [mx.fft.fftn(x3, s=[6, 3], axes=[0, 2])],
         {"norm": "backward", "s": [6, 3], "axes": [0, 2]}, **t)
    case("ifftn", "ifftn", [x3], [mx.fft.ifftn(x3, axes=[1, 2])], {"norm": "backward", "axes": [1, 2]}, **t)
    x3r = randn(3, 4, 6)
    case("rfft2", "rfft2", [x3r], [mx.fft.rfft2(x3r)], {"norm": "backward"}, **t)
    case("rfftn", "rfftn", [x3r], [mx.fft.rfftn(x3r)], {"norm": "backward"}, **t)
    r3 = mx.fft.rfftn(x3r)
    case("irfftn", "irfftn", [r3], [mx.fft.irfftn(r3)], {"norm": "backward"}, **t)
    case("irfft2", "irfft2", [r3], [mx.fft.irfft2(r3)], {"norm": "backward"}, **t)
    x5 = randn(5, 4)
    case("fftshift", "fftshift", [x5], [mx.fft.fftshift(x5)], {}, check="exact")
    case("ifftshift", "ifftshift", [x5], [mx.fft.ifftshift(x5)], {}, check="exact")
    case("fftshift_ax", "fftshift", [x5], [mx.fft.fftshift(x5, axes=[0])], {"axes": [0]}, check="exact")
    case("fftfreq", "fftfreq", [], [mx.fft.fftfreq(7, 0.5)], {"n": 7, "d": 0.5}, **t)
    case("rfftfreq", "rfftfreq", [], [mx.fft.rfftfreq(8, 0.1)], {"n": 8, "d": 0.1}, **t)


# ---- linalg ----
def linalg_cases():
    t = dict(check="close", rtol=1e-4, atol=1e-4)
    a = randn(4, 4) + 4 * mx.eye(4)
    spd = a @ a.T
    b = randn(4, 3)
    x = randn(3, 5)
    v = randn(6)
    cpu = mx.cpu
    case("norm_default", "norm", [x], [mx.linalg.norm(x)], {}, **t)
    case("norm_default_keep", "norm", [x], [mx.linalg.norm(x, keepdims=True)], {"keepdims": True}, **t)
    for o in [1, 2, 3.5, 0, float("inf"), float("-inf")]:
        case(f"norm_vec_{o}", "norm", [v], [mx.linalg.norm(v, ord=o)], {"ord": str(o)}, **t)
    case("norm_axis1", "norm", [x], [mx.linalg.norm(x, ord=2, axis=1)], {"ord": "2", "axis": [1]}, **t)
    for o in ["fro", "nuc", 1, -1, 2, -2, float("inf"), float("-inf")]:
        case(f"norm_mat_{o}", "norm", [x], [mx.linalg.norm(x, ord=o, stream=cpu)], {"ord": str(o)}, **t)
    case("inv", "inv", [a], [mx.linalg.inv(a, stream=cpu)], {}, **t)
    lo = mx.tril(a)
    case("tri_inv", "tri_inv", [lo], [mx.linalg.tri_inv(lo, upper=False, stream=cpu)], {"upper": False}, **t)
    case("cholesky", "cholesky", [spd], [mx.linalg.cholesky(spd, stream=cpu)], {"upper": False}, **t)
    case("cholesky_u", "cholesky", [spd], [mx.linalg.cholesky(spd, upper=True, stream=cpu)], {"upper": True}, **t)
    L = mx.linalg.cholesky(spd, stream=cpu)
    case("cholesky_inv", "cholesky_inv", [L], [mx.linalg.cholesky_inv(L, stream=cpu)], {"upper": False},
         check="close", rtol=1e-3, atol=1e-4)
    case("pinv", "pinv", [x], [mx.linalg.pinv(x, stream=cpu)], {}, **t)
    case("solve", "solve", [a, b], [mx.linalg.solve(a, b, stream=cpu)], {}, **t)
    case("solve_tri", "solve_triangular", [lo, b], [mx.linalg.solve_triangular(lo, b, upper=False, stream=cpu)],
         {"upper": False}, **t)
    case("eigvalsh", "eigvalsh", [spd], [mx.linalg.eigvalsh(spd, stream=cpu)], {}, check="close", rtol=1e-4,
         atol=1e-3)
    case("svd_s", "svd_s", [x], [mx.linalg.svd(x, compute_uv=False, stream=cpu)], {}, **t)
    case("qr", "qr", [x.T], list(mx.linalg.qr(x.T, stream=cpu)), {}, check="qr", rtol=1e-4, atol=1e-4)
    c1 = randn(4, 3)
    c2 = randn(4, 3)
    case("cross", "cross", [c1, c2], [mx.linalg.cross(c1, c2)], {"axis": -1}, **t)
    c3 = randn(2, 4)


# ---- misc ----
def misc_cases():
    t = dict(check="close", rtol=1e-5, atol=1e-5)
    x = randn(4, 6)
    case("as_strided", "as_strided", [x], [mx.as_strided(x, shape=[3, 4], strides=[5, 2], offset=1)],
         {"shape": [3, 4], "strides": [5, 2], "offset": 1}, check="exact")
    h = randn(3, 16)
    case("hadamard", "hadamard_transform", [h], [mx.hadamard_transform(h)], {}, **t)
    h12 = randn(2, 24)
    case("hadamard_24", "hadamard_transform", [h12], [mx.hadamard_transform(h12, scale=0.5)], {"scale": 0.5}, **t)
    a = randn(3, 4)
    b = randn(4, 5)
    c = randn(5)
    case("einsum_mm", "einsum", [a, b], [mx.einsum("ij,jk->ik", a, b)], {"s": "ij,jk->ik"}, **t)
    case("einsum_implicit", "einsum", [a, b], [mx.einsum("ij,jk", a, b)], {"s": "ij,jk"}, **t)
    case("einsum_3", "einsum", [a, b, c], [mx.einsum("ij,jk,k->i", a, b, c)], {"s": "ij,jk,k->i"}, **t)
    case("einsum_t", "einsum", [a], [mx.einsum("ij->ji", a)], {"s": "ij->ji"}, **t)
    case("einsum_sum", "einsum", [a], [mx.einsum("ij->", a)], {"s": "ij->"}, **t)
    bt = randn(2, 3, 4)
    bt2 = randn(2, 4, 5)
    case("einsum_bmm", "einsum", [bt, bt2], [mx.einsum("bij,bjk->bik", bt, bt2)], {"s": "bij,bjk->bik"}, **t)


random_cases()
quant_cases()
conv_cases()
fast_cases()
fft_cases()
linalg_cases()
misc_cases()

out = os.environ.get("MLX_API_FIXTURES") or os.path.join(
    os.path.dirname(__file__), "..", "..", "frontends", "mlx-compat", "tests", "fixtures",
    "mlx_api.safetensors")
save_file(tensors, out, metadata=meta)
print(f"wrote {len(meta)} cases, {sum(t.nbytes for t in tensors.values())} bytes of tensors to {out}")

