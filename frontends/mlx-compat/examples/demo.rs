//! Psionic demo: one training step of a small MLP, through every stage.
//!
//! 1. trace     an MLP forward pass + softmax cross-entropy into IR;
//! 2. optimize  it with the classic passes (canonicalize, cse, dce);
//! 3. autodiff  it: `value_and_grad` as an IR-to-IR pass, then optimize again;
//! 4. compile   it: e-graph simplification, fusion into kernels, buffer
//!    planning, and native code with Cranelift;
//! 5. run       it through the reference interpreter, the kernel program and
//!    the native code, and check them against each other, eager evaluation,
//!    and MLX;
//! 6. speed     the same step at MNIST size (batch 256, 784 -> 128 -> 10):
//!    native code against the interpreter.
//!
//! Run: `cargo run --release -p psionic-mlx --example demo`

use psionic_ir::kernel::text::print_program;
use psionic_ir::text::print_func;
use psionic_ir::verify::verify_func;
use psionic_ir::{Func, Literal, Module};
use psionic_mlx::*;
use psionic_passes::autodiff::value_and_grad;
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_passes::{PassContext, PassManager};
use psionic_runtime::exec::compile_for;
use psionic_runtime::interp::{eval_op, run_func};
use psionic_runtime::kernel_interp::run_program;
use std::time::Instant;

/// A two-layer perceptron: `relu(x @ w1 + b1) @ w2 + b2`.
fn mlp(x: &Array, w1: &Array, b1: &Array, w2: &Array, b2: &Array) -> Array {
    let h = maximum(x.matmul(w1) + b1, 0.0);
    h.matmul(w2) + b2
}

/// Mean softmax cross-entropy of `logits` against integer class `labels`.
fn cross_entropy(logits: &Array, labels: &Array) -> Array {
    let picked = take_along_axis(logits, &expand_dims(labels, -1), Some(-1)).squeeze(-1);
    mean(&(logsumexp(logits, -1, false) - picked), Axes::All, false)
}

/// Runs the classic pipeline on one function and says what it did.
fn optimize(f: Func, label: &str) -> Result<Func, Box<dyn std::error::Error>> {
    let fold = |op, attrs: &_, args: &[&Literal]| eval_op(op, attrs, args);
    let ctx = PassContext::with_folder(&fold);
    let pm = PassManager::from_pipeline("canonicalize,cse,dce")?;
    let mut m = Module::new(vec![f]);
    let reports = pm.run(&mut m, &ctx, &mut std::io::sink())?;
    let steps: Vec<String> = reports
        .iter()
        .map(|r| format!("{} {}->{}", r.pass, r.ops_before, r.ops_after))
        .collect();
    println!("   {label}: {}", steps.join(", "));
    Ok(m.funcs.remove(0))
}

fn time_ms(mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A batch of 4 examples with 3 features, 5 hidden units, 2 classes.
    let x = array(
        &[
            0.5f32, -1.0, 2.0, 1.5, 0.25, -0.5, -2.0, 1.0, 0.0, 0.1, 0.2, 0.3,
        ],
        &[4, 3],
    );
    let labels = array(&[0i32, 1, 1, 0], &[4]);
    let w1 = ((arange(0, 15, 1).reshape(&[3, 5]) % 7) - 3) * 0.1;
    let b1 = array(&[0.1f32, -0.1, 0.0, 0.2, -0.2], &[5]);
    let w2 = ((arange(0, 10, 1).reshape(&[5, 2]) % 3) - 1) * 0.5;
    let b2 = array(&[0.05f32, -0.05], &[2]);
    let params = [x, labels, w1, b1, w2, b2];
    eval(&params.iter().collect::<Vec<_>>())?;
    let inputs: Vec<Literal> = params
        .iter()
        .map(|a| a.literal())
        .collect::<Result<_, _>>()?;

    // 1. Trace: every parameter is a function input.
    let types: Vec<TensorType> = params.iter().map(|a| a.ty().clone()).collect();
    let t = Instant::now();
    let forward = trace(
        |p| {
            vec![cross_entropy(
                &mlp(&p[0], &p[2], &p[3], &p[4], &p[5]),
                &p[1],
            )]
        },
        &types,
    )?;
    verify_func(&forward)?;
    println!(
        "== 1. trace: {} ops in {:.2} ms",
        forward.ops.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    println!("{}", print_func(&forward));

    // 2. Optimize the forward function.
    println!("== 2. optimize (canonicalize, cse, dce)");
    let forward = optimize(forward, "forward")?;

    // 3. Autodiff: loss and the gradients of w1, b1, w2, b2 as one function.
    let step = value_and_grad(&forward, &[2, 3, 4, 5])?;
    println!(
        "== 3. autodiff: value_and_grad wrt w1, b1, w2, b2 -> {} ops",
        step.ops.len()
    );
    let step = optimize(step, "value_and_grad")?;

    // 4. Compile: e-graph, fusion into kernels, buffer planning.
    let (program, report) = compile(&step, &CompileOptions::default())?;
    if let Some(eg) = &report.egraph {
        let stops: Vec<String> = eg
            .phases
            .iter()
            .map(|p| format!("{} ({} iterations)", p.stop_reason, p.iterations))
            .collect();
        println!(
            "== 4. compile: e-graph {} -> {} ops, stopped: {}",
            eg.ops_before,
            eg.ops_after,
            stops.join("; ")
        );
    }
    println!(
        "   fusion: {} kernels + {} library calls, {} passes over memory, {} bytes moved; buffer plan: peak {} bytes (unplanned {})",
        report.program.kernels,
        report.program.library_calls,
        report.program.passes,
        report.program.bytes_moved,
        report.plan.peak_bytes,
        report.plan.unplanned_bytes
    );
    println!("{}", print_program(&program));
    let native = compile_for(&step, &step.param_types(), &Default::default())?;
    println!(
        "   Cranelift: {} native kernels compiled in {:.1} ms (e-graph, fusion, planning and codegen)",
        native.code.kernel_shapes().len(),
        native.compile_ms
    );

    // 5. Run: interpreter on the tensor IR, and the fused kernel program.
    let interp = run_func(&step, &inputs)?;
    let fused = run_program(&program, &inputs)?;
    let jit = native.run(&inputs)?;
    let loss = interp[0].get_f64(0);
    println!("== 5. run");
    println!("   loss (interpreter):     {loss:.7}");
    println!("   loss (kernel program):  {:.7}", fused[0].get_f64(0));
    println!("   loss (Cranelift):       {:.7}", jit[0].get_f64(0));
    let eager = cross_entropy(
        &mlp(&params[0], &params[2], &params[3], &params[4], &params[5]),
        &params[1],
    )
    .item::<f32>()?;
    println!("   loss (eager Array API): {eager:.7}");
    println!("   loss (MLX 0.32):        0.8660791");
    let max_diff = |a: &[Literal], b: &[Literal]| {
        let mut worst = 0.0f64;
        for (a, b) in a.iter().zip(b) {
            for (x, y) in a.to_f64_vec().iter().zip(b.to_f64_vec()) {
                worst = worst.max((x - y).abs());
            }
        }
        worst
    };
    println!(
        "   loss and gradients, max |difference| from the interpreter: kernel program {:.2e}, Cranelift {:.2e}",
        max_diff(&interp, &fused),
        max_diff(&interp, &jit)
    );
    println!(
        "   grad w2 = {:?}",
        interp[3]
            .to_f64_vec()
            .iter()
            .map(|v| (v * 1e4).round() / 1e4)
            .collect::<Vec<_>>()
    );

    // 6. The same step at MNIST size: native code against the interpreter.
    let (batch, din, dh, dout) = (256i32, 784i32, 128i32, 10i32);
    let big = [
        (sin(&arange(0, batch * din, 1)) * 0.5).reshape(&[batch, din]),
        arange(0, batch, 1) % dout,
        sin(&(arange(0, din * dh, 1) * 0.37)).reshape(&[din, dh]) * 0.05,
        zeros(&[dh], DType::F32),
        cos(&(arange(0, dh * dout, 1) * 0.11)).reshape(&[dh, dout]) * 0.1,
        zeros(&[dout], DType::F32),
    ];
    eval(&big.iter().collect::<Vec<_>>())?;
    let big_inputs: Vec<Literal> = big.iter().map(|a| a.literal()).collect::<Result<_, _>>()?;
    let big_types: Vec<TensorType> = big_inputs.iter().map(Literal::ty).collect();
    let big_forward = trace(
        |p| {
            vec![cross_entropy(
                &mlp(&p[0], &p[2], &p[3], &p[4], &p[5]),
                &p[1],
            )]
        },
        &big_types,
    )?;
    let big_step = value_and_grad(&big_forward, &[2, 3, 4, 5])?;
    let big_native = compile_for(&big_step, &big_types, &Default::default())?;
    let (a, b) = (
        run_func(&big_step, &big_inputs)?,
        big_native.run(&big_inputs)?,
    );
    println!("== 6. speed: value_and_grad step, batch {batch}, {din} -> {dh} -> {dout}");
    println!(
        "   loss {:.6} (interpreter) vs {:.6} (Cranelift); compiled in {:.1} ms",
        a[0].get_f64(0),
        b[0].get_f64(0),
        big_native.compile_ms
    );
    let ti = time_ms(|| {
        run_func(&big_step, &big_inputs).expect("ran above");
    });
    let tc = time_ms(|| {
        big_native.run(&big_inputs).expect("ran above");
    });
    println!(
        "   time per step: interpreter {ti:.2} ms, Cranelift {tc:.2} ms ({:.0}x faster)",
        ti / tc
    );
    Ok(())
}
