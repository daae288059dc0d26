//! Quick timing of two workloads of issue 6, compiled (Cranelift) against
//! the reference interpreter:
//! - W1: `gelu_tanh(x * a + b)` on N f32 (default 16M; a, b scalars),
//! - W3: row softmax of R x R f32 (default 4096).
//!
//! `cargo run --release -p psionic-runtime --example exec_timing [N] [R]`.
//! Prints compile time, the best of 5 compiled runs, one interpreter run,
//! and the largest difference between the two.

use psionic_codegen::cpu::CpuOptions;
use psionic_ir::{DType, Func, Literal, TensorType};
use psionic_runtime::exec::compile_for;
use psionic_runtime::interp::run_func;
use std::time::Instant;

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).expect("workload parses")
}

fn w1() -> Func {
    parse(
        "func @main(%0: tensor<?xf32>, %1: tensor<f32>, %2: tensor<f32>) -> (tensor<?xf32>) {
           %a = tensor.broadcast_like %1, %0 : tensor<?xf32>
           %b = tensor.broadcast_like %2, %0 : tensor<?xf32>
           %3 = tensor.multiply %0, %a : tensor<?xf32>
           %4 = tensor.add %3, %b : tensor<?xf32>
           %5 = tensor.multiply %4, %4 : tensor<?xf32>
           %6 = tensor.multiply %5, %4 : tensor<?xf32>
           %7 = tensor.constant {value = dense<0.044715> : tensor<f32>} : tensor<f32>
           %8 = tensor.broadcast_like %7, %4 : tensor<?xf32>
           %9 = tensor.multiply %6, %8 : tensor<?xf32>
           %10 = tensor.add %4, %9 : tensor<?xf32>
           %11 = tensor.constant {value = dense<0.7978845608> : tensor<f32>} : tensor<f32>
           %12 = tensor.broadcast_like %11, %4 : tensor<?xf32>
           %13 = tensor.multiply %10, %12 : tensor<?xf32>
           %14 = tensor.tanh %13 : tensor<?xf32>
           %15 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
           %16 = tensor.broadcast_like %15, %4 : tensor<?xf32>
           %17 = tensor.add %14, %16 : tensor<?xf32>
           %18 = tensor.multiply %4, %17 : tensor<?xf32>
           %19 = tensor.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
           %20 = tensor.broadcast_like %19, %4 : tensor<?xf32>
           %21 = tensor.multiply %18, %20 : tensor<?xf32>
           return %21
         }",
    )
}

fn w3() -> Func {
    parse(
        "func @main(%0: tensor<?x?xf32>) -> (tensor<?x?xf32>) {
           %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<?x1xf32>
           %2 = tensor.broadcast_like %1, %0 : tensor<?x?xf32>
           %3 = tensor.subtract %0, %2 : tensor<?x?xf32>
           %4 = tensor.exp %3 : tensor<?x?xf32>
           %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<?x1xf32>
           %6 = tensor.broadcast_like %5, %0 : tensor<?x?xf32>
           %7 = tensor.divide %4, %6 : tensor<?x?xf32>
           return %7
         }",
    )
}

fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 6.0 - 3.0
        })
        .collect()
}

fn max_diff(a: &Literal, b: &Literal) -> f64 {
    a.to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn time(name: &str, f: Func, args: Vec<Literal>) {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let c = compile_for(&f, &types, &CpuOptions::default()).expect("compiles");
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        out = c.run(&args).expect("runs");
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    let want = run_func(&f, &args).expect("interprets");
    let interp = t.elapsed().as_secs_f64() * 1e3;
    let shapes = c.code.kernel_shapes();
    println!(
        "{name}: compile {:.2} ms, compiled best of 5 {best:.2} ms, interpreter {interp:.1} ms ({:.0}x), max |diff| {:.2e}, kernels {shapes:?}",
        c.compile_ms,
        interp / best,
        max_diff(&out[0], &want[0])
    );
}

fn main() {
    let argv: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = argv.first().copied().unwrap_or(16 << 20);
    let r = argv.get(1).copied().unwrap_or(4096);
    let x = Literal::from_f64(DType::F32, vec![n], &data(n, 1)).expect("literal");
    let a = Literal::scalar_f64(DType::F32, 0.7);
    let b = Literal::scalar_f64(DType::F32, 0.1);
    time(
        &format!("W1 gelu_tanh(x*a+b), {n} f32"),
        w1(),
        vec![x, a, b],
    );
    let m = Literal::from_f64(DType::F32, vec![r, r], &data(r * r, 2)).expect("literal");
    time(&format!("W3 row softmax {r}x{r} f32"), w3(), vec![m]);
}
