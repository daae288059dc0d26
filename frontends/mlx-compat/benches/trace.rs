//! Tracing cost per op: builds a 100,000-op chain of `negative` on a traced
//! input and lowers it to a `Func`, several times; prints the best ns/op for
//! building the graph, for lowering it (dropping the graph included), and
//! for both, at 20,000 ops and at 100,000: a linear builder costs the same
//! per op at both sizes (a quadratic one five times as much at the larger).
//! Wall time comes from `std::time::Instant`; on Linux the
//! thread's CPU time (from `/proc/thread-self/schedstat`) is printed beside
//! it, which a loaded machine inflates much less.
//! Run with `cargo bench -p psionic-mlx --bench trace`.

use psionic_mlx::{negative, trace, Array, DType, TensorType};
use std::time::Instant;

const N: usize = 100_000;
const RUNS: usize = 5;

/// This thread's CPU time in ns, where the OS reports it.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

#[derive(Clone, Copy)]
struct Sample {
    wall: f64,
    cpu: Option<f64>,
}

impl Sample {
    fn start() -> (Instant, Option<u64>) {
        (Instant::now(), cpu_ns())
    }
    fn since(t: (Instant, Option<u64>)) -> Sample {
        let cpu = match (t.1, cpu_ns()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 * 1e-9),
            _ => None,
        };
        Sample {
            wall: t.0.elapsed().as_secs_f64(),
            cpu,
        }
    }
    fn minus(self, o: Sample) -> Sample {
        Sample {
            wall: self.wall - o.wall,
            cpu: self.cpu.zip(o.cpu).map(|(a, b)| a - b),
        }
    }
    fn best(self, o: Sample) -> Sample {
        Sample {
            wall: self.wall.min(o.wall),
            cpu: match (self.cpu, o.cpu) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }
    fn show(self, what: &str, n: usize) {
        let ns = |s: f64| s * 1e9 / n as f64;
        match self.cpu {
            Some(c) => println!(
                "  {what:<13} {:8.1} ns/op wall   {:8.1} ns/op cpu",
                ns(self.wall),
                ns(c)
            ),
            None => println!("  {what:<13} {:8.1} ns/op wall", ns(self.wall)),
        }
    }
}

fn main() {
    for n in [N / 5, N] {
        measure(n);
    }
}

fn measure(n: usize) {
    let ty = TensorType::new(DType::F32, vec![16]);
    let worst = Sample {
        wall: f64::MAX,
        cpu: None,
    };
    let (mut build_best, mut lower_best, mut total_best) = (worst, worst, worst);
    for _ in 0..RUNS {
        let mut build = worst;
        let t0 = Sample::start();
        let f = trace(
            |x| {
                let t = Sample::start();
                let mut y: Array = x[0].clone();
                for _ in 0..n {
                    y = negative(&y);
                }
                build = Sample::since(t);
                vec![y]
            },
            std::slice::from_ref(&ty),
        )
        .expect("the chain traces");
        let total = Sample::since(t0);
        assert_eq!(f.ops.len(), n);
        drop(f);
        build_best = build_best.best(build);
        lower_best = lower_best.best(total.minus(build));
        total_best = total_best.best(total);
    }
    println!("trace of a {n}-op chain (best of {RUNS}):");
    build_best.show("build graph", n);
    lower_best.show("lower to IR", n);
    total_best.show("total", n);
}
