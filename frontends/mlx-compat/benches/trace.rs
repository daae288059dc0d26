//! Tracing cost per op: builds a 100,000-op chain of `negative` on a traced
//! input and lowers it to a `Func`, several times; prints the best ns/op for
//! building the graph, for lowering it, and for both (plus dropping it).
//! Run with `cargo bench -p psionic-mlx --bench trace`.

use psionic_mlx::{negative, trace, Array, DType, TensorType};
use std::time::Instant;

const N: usize = 100_000;
const RUNS: usize = 5;

fn main() {
    let ty = TensorType::new(DType::F32, vec![16]);
    let (mut build_best, mut lower_best, mut total_best) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..RUNS {
        let mut build_s = 0.0;
        let t0 = Instant::now();
        let f = trace(
            |x| {
                let t = Instant::now();
                let mut y: Array = x[0].clone();
                for _ in 0..N {
                    y = negative(&y);
                }
                build_s = t.elapsed().as_secs_f64();
                vec![y]
            },
            std::slice::from_ref(&ty),
        )
        .expect("the chain traces");
        let total = t0.elapsed().as_secs_f64();
        assert_eq!(f.ops.len(), N);
        drop(f);
        build_best = build_best.min(build_s);
        lower_best = lower_best.min(total - build_s);
        total_best = total_best.min(total);
    }
    let ns = |s: f64| s * 1e9 / N as f64;
    println!("trace of a {N}-op chain (best of {RUNS}):");
    println!("  build graph   {:8.1} ns/op", ns(build_best));
    println!(
        "  lower to IR   {:8.1} ns/op (includes dropping the graph)",
        ns(lower_best)
    );
    println!("  total         {:8.1} ns/op", ns(total_best));
}
