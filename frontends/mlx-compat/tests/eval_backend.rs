//! `eval` on its backends (`set_default_backend`): the interpreter, the CPU
//! backend, and `Auto` (native code for large graphs only). One test, since
//! the backend is process-wide state.

use psionic_mlx::*;

fn data(seed: u64, n: i32) -> Array {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect();
    array(&v, &[n])
}

/// A graph of a few ops over `x`.
fn graph(x: &Array) -> Array {
    let y = tanh(&(x * 1.5 + 0.25));
    softmax(&(&y * x), -1, false) + sum(&y, Axes::All, false)
}

fn run(backend: Backend, x: &Array) -> (Vec<f32>, EvalStats, EvalStats) {
    set_default_backend(backend);
    let before = eval_stats();
    let v = graph(x).to_vec::<f32>().unwrap();
    (v, before, eval_stats())
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{i}: {x} vs {y}");
    }
}

#[test]
fn eval_runs_on_each_backend_and_auto_compiles_large_graphs_only() {
    assert_eq!(default_backend(), Backend::Auto, "Auto is the default");
    let big = data(1, 1 << 18);
    let small = data(2, 100);

    let (vi, b, a) = run(Backend::Interp, &big);
    assert_eq!(a.interpreted, b.interpreted + 1);
    assert_eq!(a.compiled, b.compiled);

    let (vc, b, a) = run(Backend::Cpu, &big);
    assert_eq!(a.compiled, b.compiled + 1);
    close(&vc, &vi, 1e-5);

    // Auto: the large graph compiles (and its code is cached: same text),
    // the small one is interpreted.
    let (va, b, a) = run(Backend::Auto, &big);
    assert_eq!(a.compiled, b.compiled + 1);
    assert_eq!(a.cache_hits, b.cache_hits + 1, "the Cpu run compiled it");
    close(&va, &vi, 1e-5);
    let other = data(3, 1 << 18);
    let (_, b, a) = run(Backend::Auto, &other);
    assert_eq!(a.cache_hits, b.cache_hits + 1, "same graph, other data");
    let (vs, b, a) = run(Backend::Auto, &small);
    assert_eq!(a.interpreted, b.interpreted + 1);
    assert_eq!(a.compiled, b.compiled);
    let (vs2, _, _) = run(Backend::Cpu, &small);
    close(&vs2, &vs, 1e-5);

    // 64-bit integers stay on the interpreter under Auto, exactly.
    set_default_backend(Backend::Auto);
    let big_i = arange(0, 1 << 18, 1).astype(DType::I64) * (1i64 << 40);
    let before = eval_stats();
    let s = (&big_i + 1).to_vec::<i64>().unwrap();
    assert_eq!(eval_stats().interpreted, before.interpreted + 1);
    assert_eq!(s[(1 << 18) - 1], ((1i64 << 18) - 1) * (1i64 << 40) + 1);

    // A training-style loop: each step evaluates a graph of the same shape.
    set_default_backend(Backend::Auto);
    let mut w = data(4, 1 << 18);
    let before = eval_stats();
    for _ in 0..3 {
        w = &w - &(tanh(&w) * 0.1);
        w.eval().unwrap();
    }
    let after = eval_stats();
    assert_eq!(after.compiled, before.compiled + 3);
    assert!(after.cache_hits >= before.cache_hits + 2, "compiled once");
    set_default_backend(Backend::Auto);
}
