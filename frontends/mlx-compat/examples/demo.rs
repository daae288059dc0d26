//! Psionic demo: trace an MLP forward pass and its softmax cross-entropy
//! loss on a small batch, print the IR, interpret it, and print the loss
//! (checked against eager evaluation of the same program).
//!
//! Run: `cargo run --release -p psionic-mlx --example demo`

use psionic_ir::text::print_func;
use psionic_ir::verify::verify_func;
use psionic_ir::Literal;
use psionic_mlx::*;
use psionic_runtime::interp::run_func;

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

    // Trace: every parameter is a function input.
    let types: Vec<TensorType> = params.iter().map(|a| a.ty().clone()).collect();
    let func = trace(
        |p| {
            let logits = mlp(&p[0], &p[2], &p[3], &p[4], &p[5]);
            vec![cross_entropy(&logits, &p[1]), softmax(&logits, -1, false)]
        },
        &types,
    )?;
    verify_func(&func)?;
    println!("// traced IR: {} ops", func.ops.len());
    println!("{}", print_func(&func));

    // Interpret the traced function on the parameters.
    let inputs: Vec<Literal> = params
        .iter()
        .map(|a| a.literal())
        .collect::<Result<_, _>>()?;
    let out = run_func(&func, &inputs)?;
    let loss = out[0].get_f64(0);
    println!("loss (interpreted trace): {loss:.7}");
    println!("probabilities: {:?}", out[1].to_f64_vec());

    // The same program evaluated eagerly through the lazy Array API.
    let eager = cross_entropy(
        &mlp(&params[0], &params[2], &params[3], &params[4], &params[5]),
        &params[1],
    )
    .item::<f32>()?;
    println!("loss (eager):             {eager:.7}");
    println!("loss (MLX 0.32):          0.8660791");
    Ok(())
}
