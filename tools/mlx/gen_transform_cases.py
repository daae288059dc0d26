#!/usr/bin/env python3
"""MLX-exported functions with vjp, jvp and vmap reference values, for the
transforms of the extended op set (issue 4): convolution, FFT, rope, sdpa,
quantized_matmul, cumprod with zeros, and linear algebra.

Same layout as `gen_cases.py` (and `shared/conformance/mlx/README.md`):

    <out>/<case>/fn.mlxfn, data.safetensors, case.json

with `vjp.cot.J`/`vjp.in.K`, `jvp.tan.K`/`jvp.out.J` and `vmap.in.K`/`vmap.out.J`
tensors and `checks`/`diff_inputs` set. vjp/jvp/vmap values come from
`mx.vjp`/`mx.jvp`/`mx.vmap` on the same function. MLX 0.32 has no derivatives
for its linear algebra; for those cases (`ref: jax` in case.json) the
derivatives come from `jax.vjp`/`jax.jvp` in float64, cast to float32, and the
run/vmap values from MLX. A check MLX cannot compute (e.g. vmap of
quantized_matmul, "NYI" in MLX) is left out of the case.

Usage: python3 tools/mlx/gen_transform_cases.py [OUT_DIR]
"""
import json
import os
import sys

import mlx.core as mx
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from gen_cases import desc, primitives  # noqa: E402

rng = np.random.default_rng(4321)
LANES = 3


def f32(*shape, lo=-1.0, hi=1.0):
    return mx.array(rng.uniform(lo, hi, size=shape).astype(np.float32))


def like(x):
    return mx.array(rng.uniform(-1, 1, size=x.shape).astype(np.float32))


def as_list(o):
    return list(o) if isinstance(o, (list, tuple)) else [o]


def save(out_dir, name, description, fn, args, diff, rtol, atol, vmap=True, jax_fn=None,
         batch_args=None, jvp_jax_fn=None, mlx_deviation=None):
    """`diff`: indices of the inputs the vjp/jvp differentiate. `jax_fn`: a
    jax.numpy version of `fn` giving the derivatives instead of MLX.
    `jvp_jax_fn`: a jax.numpy version of `fn` giving only the jvp, where
    MLX's own jvp is wrong (`mlx_deviation` says how); MLX's value is kept as
    `mlx.jvp.out.J` so tests can see the deviation is still MLX's.
    `batch_args(lane)`: inputs of one vmap lane (default: random like args,
    integer inputs repeated)."""
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "fn.mlxfn")
    mx.export_function(path, fn, *args)
    outs = as_list(fn(*args))
    mx.eval(outs)
    t = {}
    for i, x in enumerate(args):
        t[f"in.{i}"] = x
    for j, y in enumerate(outs):
        t[f"out.{j}"] = y
    checks = ["run"]

    def bound(*dx):
        full = list(args)
        for k, i in enumerate(diff):
            full[i] = dx[k]
        return as_list(fn(*full))

    case_note = []
    cots = [like(y) for y in outs]
    tans = [like(args[i]) for i in diff]

    def jax_bound(jfn):
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)

        def jbound(*dx):
            full = [jnp.asarray(np.array(a), dtype=jnp.float64) if a.dtype == mx.float32
                    else jnp.asarray(np.array(a)) for a in args]
            for k, i in enumerate(diff):
                full[i] = dx[k]
            return tuple(jfn(*full))

        prim = [jnp.asarray(np.array(args[i]), dtype=jnp.float64) for i in diff]
        return jax, jnp, jbound, prim

    mlx_jv = None
    if jax_fn is not None:
        jax, jnp, jbound, prim = jax_bound(jax_fn)
        _, pull = jax.vjp(jbound, *prim)
        vj = pull(tuple(jnp.asarray(np.array(c), dtype=jnp.float64) for c in cots))
        _, jv = jax.jvp(jbound, tuple(prim), tuple(jnp.asarray(np.array(x), dtype=jnp.float64) for x in tans))
        vj = [mx.array(np.asarray(v, dtype=np.float32)) for v in vj]
        jv = [mx.array(np.asarray(v, dtype=np.float32)) for v in jv]
    else:
        prim = [args[i] for i in diff]
        _, vj = mx.vjp(bound, prim, cots)
        try:
            _, jv = mx.jvp(bound, prim, tans)
        except (ValueError, RuntimeError):
            # No jvp in MLX (Convolution; QuantizedMatmul wrt scales): J t as the vjp of u -> J^T u,
            # which is linear in u, with cotangent t (double-vjp trick).
            def pull(*u):
                return mx.vjp(bound, prim, list(u))[1]
            _, jv = mx.vjp(pull, [mx.zeros_like(y) for y in as_list(fn(*args))], tans)
            case_note.append("jvp by double vjp (MLX has no jvp for this primitive)")
        mx.eval(vj, jv)
        if jvp_jax_fn is not None:
            mlx_jv = jv
            jax, jnp, jbound, jprim = jax_bound(jvp_jax_fn)
            _, jv = jax.jvp(jbound, tuple(jprim),
                            tuple(jnp.asarray(np.array(x), dtype=jnp.float64) for x in tans))
            jv = [mx.array(np.asarray(v, dtype=np.float32)) for v in jv]
    for j, y in enumerate(mlx_jv or []):
        t[f"mlx.jvp.out.{j}"] = y
    for j, c in enumerate(cots):
        t[f"vjp.cot.{j}"] = c
    for k, i in enumerate(diff):
        t[f"vjp.in.{i}"] = vj[k]
        t[f"jvp.tan.{i}"] = tans[k]
    for j, y in enumerate(jv):
        t[f"jvp.out.{j}"] = y
    checks += ["vjp", "jvp"]
    if vmap:
        try:
            lanes = [batch_args(l) if batch_args else
                     [like(a) if a.dtype in (mx.float32,) else a for a in args] for l in range(LANES)]
            lanes[0] = list(args)
            vin = [mx.stack([lanes[l][i] for l in range(LANES)]) for i in range(len(args))]
            vout = as_list(mx.vmap(fn, in_axes=0, out_axes=0)(*vin))
            mx.eval(vout)
            for i, x in enumerate(vin):
                t[f"vmap.in.{i}"] = x
            for j, y in enumerate(vout):
                t[f"vmap.out.{j}"] = y
            checks.append("vmap")
        except Exception as e:
            print(f"{name}: no vmap reference ({type(e).__name__}: {e})")
    mx.save_safetensors(os.path.join(d, "data.safetensors"), t)
    case = {
        "name": name,
        "description": description,
        "inputs": [desc(x) for x in args],
        "outputs": [desc(y) for y in outs],
        "checks": checks,
        "rtol": rtol,
        "atol": atol,
        "primitives": primitives(path),
        "mlx_version": mx.__version__,
        "diff_inputs": [str(i) for i in diff],
        "shapeless": False,
        "num_traces": 1,
        "generator": "tools/mlx/gen_transform_cases.py",
    }
    if case_note:
        case["note"] = "; ".join(case_note)
    if jax_fn is not None:
        case["ref"] = "jax"
    if jvp_jax_fn is not None:
        case["jvp_ref"] = "jax"
        case["mlx_deviation"] = mlx_deviation
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(case, fh, indent=1)
        fh.write("\n")
    print(f"{name}: {', '.join(checks)}; {', '.join(case['primitives'])}")


def spd(n):
    a = f32(n, n)
    return a @ a.T + n * mx.eye(n)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "frontends", "mlx-compat", "tests", "mlx_cases")
    mx.set_default_device(mx.cpu)
    global jnp
    import jax.numpy as jnp

    save(out, "t_conv2d_strided", "conv2d stride 2 padding 1: grads wrt input and weight",
         lambda x, w: mx.conv2d(x, w, stride=2, padding=1),
         [f32(2, 5, 6, 3), f32(4, 3, 2, 3)], [0, 1], 1e-4, 1e-4)
    save(out, "t_conv1d_grouped_dilated", "conv1d dilation 2, groups 2",
         lambda x, w: mx.conv1d(x, w, dilation=2, groups=2),
         [f32(2, 9, 4), f32(4, 3, 2)], [0, 1], 1e-4, 1e-4)
    save(out, "t_conv_transpose1d", "conv_transpose1d stride 2 padding 1",
         lambda x, w: mx.conv_transpose1d(x, w, stride=2, padding=1),
         [f32(1, 5, 3), f32(2, 3, 3)], [0, 1], 1e-4, 1e-4)
    save(out, "t_fft_complex", "real/imag of fft2 and ifft of a complex input built from two reals",
         lambda a, b: [mx.real(mx.fft.fft2(a + 1j * b)), mx.imag(mx.fft.ifft(a - 1j * b, axis=0))],
         [f32(3, 4), f32(3, 4)], [0, 1], 1e-4, 1e-4)
    save(out, "t_rfft_irfft", "rfft magnitudes and irfft of an odd-length signal",
         lambda x, y: [mx.real(mx.fft.rfft(x)) * mx.imag(mx.fft.rfft(x)),
                       mx.fft.irfft(mx.fft.rfft(y), n=7)],
         [f32(2, 6), f32(2, 7)], [0, 1], 1e-4, 1e-4,
         jvp_jax_fn=lambda x, y: [jnp.real(jnp.fft.rfft(x)) * jnp.imag(jnp.fft.rfft(x)),
                                  jnp.fft.irfft(jnp.fft.rfft(y), n=7)],
         mlx_deviation={"jvp.out.1": "MLX 0.32.4's jvp of irfft(n=7) returns the even length "
                        "2*(4-1) = 6, not n = 7 (the FFT jvp drops n); jvp from JAX"})
    save(out, "t_rope", "fast.rope dims 4 of 6, offset 2, scale 0.5, traditional and not",
         lambda x: [mx.fast.rope(x, 4, traditional=False, base=10000.0, scale=0.5, offset=2),
                    mx.fast.rope(x, 6, traditional=True, base=500.0, scale=1.0, offset=0)],
         [f32(2, 3, 6)], [0], 1e-4, 1e-4)
    save(out, "t_sdpa", "fast.scaled_dot_product_attention with grouped heads and an additive mask",
         lambda q, k, v, m: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5, mask=m),
         [f32(1, 4, 3, 5), f32(1, 2, 4, 5), f32(1, 2, 4, 3), f32(3, 4)], [0, 1, 2], 1e-4, 1e-4)
    save(out, "t_sdpa_causal", "fast.scaled_dot_product_attention, causal",
         lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.7, mask="causal"),
         [f32(2, 2, 3, 4), f32(2, 2, 3, 4), f32(2, 2, 3, 4)], [0, 1, 2], 1e-4, 1e-4)
    w = f32(8, 64)
    wq, s, b = mx.quantize(w, group_size=32, bits=4)
    save(out, "t_quantized_matmul", "quantized_matmul(x, w, scales, biases, transpose): grads wrt x, scales, biases",
         lambda x, wq, s, b: mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=32, bits=4),
         [f32(3, 64), wq, s, b], [0, 2, 3], 1e-4, 1e-4, vmap=True,
         batch_args=lambda l: [like(mx.zeros((3, 64))), wq, s, b])
    x0 = mx.array(np.array([[2.0, 0.0, 3.0, 0.5], [1.5, -1.0, 0.0, 0.0], [0.0, 2.0, 1.0, 3.0]], np.float32))
    save(out, "t_cumprod_zeros", "cumprod with zeros along both axes, reverse and exclusive",
         lambda x: [mx.cumprod(x, axis=1), mx.cumprod(x, axis=0, reverse=True, inclusive=False)],
         [x0], [0], 1e-5, 1e-5,
         batch_args=lambda l: [mx.where(like(x0) > 0.3, 0.0, like(x0))],
         jvp_jax_fn=lambda x: [jnp.cumprod(x, axis=1),
                               jnp.concatenate([jnp.cumprod(x[::-1][:-1], axis=0)[::-1],
                                                jnp.ones_like(x[:1])], axis=0)],
         mlx_deviation={"jvp.out.0": "MLX 0.32.4 has no jvp for cumprod, and the double-vjp "
                        "fallback (the vjp of MLX's cumprod vjp) gives NaN where the input has "
                        "a zero (a select's zero cotangent times 1/0); jvp from JAX",
                        "jvp.out.1": "as jvp.out.0"})
    # Linear algebra: MLX computes the values; derivatives from JAX.
    save(out, "t_linalg_inv_cholesky", "inv(a) and cholesky(s) (lower triangle read)",
         lambda a, s: [mx.linalg.inv(a, stream=mx.cpu), mx.linalg.cholesky(s, stream=mx.cpu)],
         [f32(3, 3) + 3 * mx.eye(3), spd(3)], [0, 1], 1e-4, 1e-4,
         # Every vmap lane of `s` is positive definite (a random matrix is
         # not, and MLX returns LAPACK's partial factorization for it).
         batch_args=lambda l: [like(mx.zeros((3, 3))), spd(3)],
         jax_fn=lambda a, s: [jnp.linalg.inv(a), jnp.linalg.cholesky(jnp.tril(s) + jnp.tril(s, -1).T)])
    save(out, "t_linalg_eigvalsh_svdvals", "eigvalsh(s) and singular values of a",
         lambda s, a: [mx.linalg.eigvalsh(s, stream=mx.cpu), mx.linalg.svd(a, compute_uv=False, stream=mx.cpu)],
         [spd(4), f32(4, 3)], [0, 1], 1e-4, 1e-4,
         jax_fn=lambda s, a: [jnp.linalg.eigvalsh(jnp.tril(s) + jnp.tril(s, -1).T),
                              jnp.linalg.svd(a, compute_uv=False)])
    save(out, "t_linalg_qr", "q @ diag(sign(diag r)) and sign-normalized r of a tall matrix",
         lambda a: _qr_norm(mx, a), [f32(4, 3)], [0], 1e-4, 1e-4,
         jax_fn=lambda a: _qr_norm(jnp, a))


def _qr_norm(m, a):
    if m is mx:
        q, r = mx.linalg.qr(a, stream=mx.cpu)
    else:
        q, r = m.linalg.qr(a)
    s = m.sign(m.diagonal(r))
    return [q * s, r * s[:, None]]


if __name__ == "__main__":
    main()
