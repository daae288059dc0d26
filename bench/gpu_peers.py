#!/usr/bin/env python3
"""GPU peers for the CUDA backend's benchmarks (docs/BENCHMARKS.md, GPU
section): the workloads of runtime/tests/cuda_bench.rs timed with PyTorch
(eager and torch.compile) and JAX (jax.jit) on the same card, one JSON object
per line. Times are device times of one call on resident inputs (CUDA events
for torch, block_until_ready wall time for JAX), median over the runs after
warm-up."""
import json
import math
import sys
import time


def emit(**kw):
    print(json.dumps(kw), flush=True)


def med_min(ts):
    ts = sorted(ts)
    return ts[len(ts) // 2], ts[0]


def torch_part():
    import torch

    dev = torch.device("cuda")
    emit(torch=torch.__version__, device=torch.cuda.get_device_name(0))

    def time_fn(fn, iters=20, warm=3):
        for _ in range(warm):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            e.synchronize()
            ts.append(s.elapsed_time(e))
        return med_min(ts)

    # Copy bandwidth (read + write).
    a = torch.empty(1 << 28, dtype=torch.float32, device=dev)
    b = torch.empty_like(a)
    m, mn = time_fn(lambda: b.copy_(a), 10)
    emit(bench="copy_bandwidth", peer="torch", gbps=round(2 * a.numel() * 4 / (mn * 1e-3) / 1e9, 1))
    del a, b

    def gelu(x):
        y = x * 0.75 + 0.1
        return 0.5 * y * (1 + torch.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y * y * y)))

    def softmax(x):
        return torch.softmax(x, dim=1)

    def layernorm(x, w, b):
        return torch.nn.functional.layer_norm(x, (x.shape[1],), w, b, 1e-5)

    n = 64 << 20
    x = torch.rand(n, device=dev) * 6 - 3
    cases = [
        ("W1_gelu_64M", gelu, (x,), 2 * n * 4),
        ("softmax_8192x8192", softmax, (torch.rand(8192, 8192, device=dev) * 8 - 4,), 2 * 8192 * 8192 * 4),
        (
            "layernorm_16384x4096",
            layernorm,
            (torch.rand(16384, 4096, device=dev) * 4 - 2, torch.rand(4096, device=dev) + 0.5, torch.rand(4096, device=dev) - 0.5),
            2 * 16384 * 4096 * 4,
        ),
    ]
    for name, fn, args, bytes_ in cases:
        m, mn = time_fn(lambda: fn(*args))
        emit(bench=name, peer="torch_eager", median_ms=round(m, 4), min_ms=round(mn, 4), gbps=round(bytes_ / (m * 1e-3) / 1e9, 1))
        t0 = time.perf_counter()
        cf = torch.compile(fn)
        cf(*args)
        torch.cuda.synchronize()
        cms = (time.perf_counter() - t0) * 1e3
        m, mn = time_fn(lambda: cf(*args))
        emit(bench=name, peer="torch_compile", median_ms=round(m, 4), min_ms=round(mn, 4), gbps=round(bytes_ / (m * 1e-3) / 1e9, 1), compile_ms=round(cms, 1))
    del x, cases
    torch.cuda.empty_cache()

    nm = 8192
    for name, dt, tf32 in [("matmul_8192_f32", torch.float32, False), ("matmul_8192_tf32", torch.float32, True), ("matmul_8192_bf16", torch.bfloat16, False)]:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = (torch.rand(nm, nm, device=dev) * 2 - 1).to(dt)
        b = (torch.rand(nm, nm, device=dev) * 2 - 1).to(dt)
        m, mn = time_fn(lambda: a @ b, 5, 2)
        emit(bench=name, peer="torch_eager", median_ms=round(m, 4), min_ms=round(mn, 4), tflops=round(2 * nm**3 / (m * 1e-3) / 1e12, 1))
        del a, b
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.empty_cache()

    # MLP training step: value_and_grad of the mean cross-entropy + SGD.
    B, I, H, C = 256, 784, 1024, 10
    xb = torch.rand(B, I, device=dev)
    oh = torch.zeros(B, C, device=dev)
    oh[torch.arange(B), torch.arange(B) * 7 % C] = 1
    s1, s2 = 1 / math.sqrt(I), 1 / math.sqrt(H)
    params0 = [
        (torch.rand(I, H, device=dev) * 2 - 1) * s1,
        (torch.rand(H, device=dev) * 0.2 - 0.1),
        (torch.rand(H, C, device=dev) * 2 - 1) * s2,
        (torch.rand(C, device=dev) * 0.2 - 0.1),
    ]

    def step(x, oh, w1, b1, w2, b2):
        ps = [p.detach().requires_grad_(True) for p in (w1, b1, w2, b2)]
        h = torch.relu(x @ ps[0] + ps[1])
        lg = h @ ps[2] + ps[3]
        loss = (torch.logsumexp(lg, 1) - (lg * oh).sum(1)).mean()
        gs = torch.autograd.grad(loss, ps)
        return [loss] + [p.detach() - 0.1 * g for p, g in zip(ps, gs)]

    m, mn = time_fn(lambda: step(xb, oh, *params0), 50, 5)
    emit(bench="mlp_step", peer="torch_eager", median_ms=round(m, 4), min_ms=round(mn, 4))
    try:
        t0 = time.perf_counter()
        cs = torch.compile(step)
        cs(xb, oh, *params0)
        torch.cuda.synchronize()
        cms = (time.perf_counter() - t0) * 1e3
        m, mn = time_fn(lambda: cs(xb, oh, *params0), 50, 5)
        emit(bench="mlp_step", peer="torch_compile", median_ms=round(m, 4), min_ms=round(mn, 4), compile_ms=round(cms, 1))
    except Exception as e:  # noqa: BLE001
        emit(bench="mlp_step", peer="torch_compile", error=str(e)[:200])

    # Compile time of the 200-op chain.
    def chain(x):
        for k in range(200):
            r = k % 4
            if r == 0:
                x = x * 1.0
            elif r == 1:
                x = x + 0.01
            elif r == 2:
                x = torch.tanh(x)
            else:
                x = x - 0.005
        return x

    xc = torch.rand(1 << 20, device=dev)
    t0 = time.perf_counter()
    cc = torch.compile(chain)
    cc(xc)
    torch.cuda.synchronize()
    emit(bench="compile_chain200", peer="torch_compile", compile_ms=round((time.perf_counter() - t0) * 1e3, 1))


def jax_part():
    import jax
    import jax.numpy as jnp

    emit(jax=jax.__version__, devices=str(jax.devices()))

    def time_fn(fn, *args, iters=20, warm=3):
        for _ in range(warm):
            jax.block_until_ready(fn(*args))
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            ts.append((time.perf_counter() - t0) * 1e3)
        return med_min(ts)

    key = jax.random.PRNGKey(0)
    n = 64 << 20

    def gelu(x):
        y = x * 0.75 + 0.1
        return 0.5 * y * (1 + jnp.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y * y * y)))

    def layernorm(x, w, b):
        mu = x.mean(1, keepdims=True)
        var = ((x - mu) ** 2).mean(1, keepdims=True)
        return (x - mu) * jax.lax.rsqrt(var + 1e-5) * w + b

    cases = [
        ("W1_gelu_64M", gelu, (jax.random.uniform(key, (n,), minval=-3, maxval=3),), 2 * n * 4),
        ("softmax_8192x8192", lambda x: jax.nn.softmax(x, axis=1), (jax.random.uniform(key, (8192, 8192), minval=-4, maxval=4),), 2 * 8192 * 8192 * 4),
        (
            "layernorm_16384x4096",
            layernorm,
            (jax.random.uniform(key, (16384, 4096), minval=-2, maxval=2), jnp.ones(4096), jnp.zeros(4096)),
            2 * 16384 * 4096 * 4,
        ),
    ]
    for name, fn, args, bytes_ in cases:
        t0 = time.perf_counter()
        jf = jax.jit(fn)
        jax.block_until_ready(jf(*args))
        cms = (time.perf_counter() - t0) * 1e3
        m, mn = time_fn(jf, *args)
        emit(bench=name, peer="jax_jit", median_ms=round(m, 4), min_ms=round(mn, 4), gbps=round(bytes_ / (m * 1e-3) / 1e9, 1), compile_ms=round(cms, 1))
    del cases
    nm = 8192
    for name, dt, prec in [("matmul_8192_f32", jnp.float32, "highest"), ("matmul_8192_tf32", jnp.float32, "high"), ("matmul_8192_bf16", jnp.bfloat16, "default")]:
        a = jax.random.uniform(key, (nm, nm), minval=-1, maxval=1).astype(dt)
        b = jax.random.uniform(jax.random.PRNGKey(1), (nm, nm), minval=-1, maxval=1).astype(dt)
        f = jax.jit(lambda a, b, p=prec: jnp.matmul(a, b, precision=p))
        m, mn = time_fn(f, a, b, iters=5, warm=2)
        emit(bench=name, peer="jax_jit", median_ms=round(m, 4), min_ms=round(mn, 4), tflops=round(2 * nm**3 / (m * 1e-3) / 1e12, 1))
        del a, b

    B, I, H, C = 256, 784, 1024, 10

    def loss(ps, x, oh):
        w1, b1, w2, b2 = ps
        h = jax.nn.relu(x @ w1 + b1)
        lg = h @ w2 + b2
        return (jax.nn.logsumexp(lg, 1) - (lg * oh).sum(1)).mean()

    @jax.jit
    def step(ps, x, oh):
        l, g = jax.value_and_grad(loss)(ps, x, oh)
        return l, [p - 0.1 * gi for p, gi in zip(ps, g)]

    x = jax.random.uniform(key, (B, I))
    oh = jax.nn.one_hot(jnp.arange(B) * 7 % C, C)
    ps = [jax.random.uniform(key, (I, H)) * 0.03, jnp.zeros(H), jax.random.uniform(key, (H, C)) * 0.03, jnp.zeros(C)]
    m, mn = time_fn(step, ps, x, oh, iters=50, warm=5)
    emit(bench="mlp_step", peer="jax_jit", median_ms=round(m, 4), min_ms=round(mn, 4))

    def chain(x):
        for k in range(200):
            r = k % 4
            x = x * 1.0 if r == 0 else x + 0.01 if r == 1 else jnp.tanh(x) if r == 2 else x - 0.005
        return x

    xc = jax.random.uniform(key, (1 << 20,))
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(chain)(xc))
    emit(bench="compile_chain200", peer="jax_jit", compile_ms=round((time.perf_counter() - t0) * 1e3, 1))


if __name__ == "__main__":
    which = sys.argv[1:] or ["torch", "jax"]
    for w in which:
        try:
            {"torch": torch_part, "jax": jax_part}[w]()
        except Exception as e:  # noqa: BLE001
            emit(peer=w, error=repr(e)[:300])
