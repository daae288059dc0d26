//! An MLP forward pass and softmax cross-entropy loss: evaluated eagerly,
//! traced, and the trace interpreted; numbers from MLX 0.32 (the script is
//! quoted below).
//!
//! ```python
//! x = mx.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.0], [0.1, 0.2, 0.3]])
//! w1 = ((mx.arange(15).reshape(3,5) % 7) - 3) * 0.1
//! b1 = mx.array([0.1, -0.1, 0.0, 0.2, -0.2])
//! w2 = ((mx.arange(10).reshape(5,2) % 3) - 1) * 0.5
//! b2 = mx.array([0.05, -0.05])
//! labels = mx.array([0, 1, 1, 0])
//! h = mx.maximum(x @ w1 + b1, 0)
//! logits = h @ w2 + b2
//! loss = mx.mean(mx.logsumexp(logits, axis=-1)
//!                - mx.take_along_axis(logits, labels[:, None], axis=-1).squeeze(-1))
//! ```

// Expected values are copied verbatim from MLX's output.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use psionic_ir::Opcode;
use psionic_mlx::*;

const LOGITS: [f32; 8] = [-0.45, 0.275, 0.0875, -0.0875, -0.1, -0.35, -0.13, -0.05];
const LOSS: f32 = 0.866_079_1;

/// `[x, labels, w1, b1, w2, b2]`.
fn params() -> Vec<Array> {
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
    vec![x, labels, w1, b1, w2, b2]
}

fn logits(p: &[Array]) -> Array {
    let h = maximum(p[0].matmul(&p[2]) + &p[3], 0.0);
    h.matmul(&p[4]) + &p[5]
}

/// Softmax cross-entropy of `logits` against integer `labels`.
fn cross_entropy(z: &Array, labels: &Array) -> Array {
    let picked = take_along_axis(z, &expand_dims(labels, -1), Some(-1)).squeeze(-1);
    mean(&(logsumexp(z, -1, false) - picked), Axes::All, false)
}

fn loss(p: &[Array]) -> Array {
    cross_entropy(&logits(p), &p[1])
}

#[test]
fn mlp_traces_to_a_function_of_its_parameters() {
    let p = params();
    let types: Vec<TensorType> = p.iter().map(|a| a.ty().clone()).collect();
    let f = trace(
        |a| {
            let z = logits(a);
            vec![cross_entropy(&z, &a[1]), z]
        },
        &types,
    )
    .unwrap();
    assert_eq!(f.params.len(), 6);
    assert_eq!(f.result_types()[0], TensorType::new(DType::F32, vec![]));
    assert_eq!(f.result_types()[1], TensorType::new(DType::F32, vec![4, 2]));
    let count = |op| f.ops.iter().filter(|o| o.opcode == op).count();
    assert_eq!(count(Opcode::Matmul), 2);
    assert_eq!(count(Opcode::LogSumExp), 1);
    assert_eq!(count(Opcode::TakeAlongAxis), 1);
    // Biases are broadcast explicitly; no constant data is captured.
    assert_eq!(count(Opcode::Broadcast), 2);
    assert_eq!(count(Opcode::Constant), 0);
}

#[test]
fn mlp_loss_matches_mlx_eagerly_and_traced() {
    let p = params();
    let z = logits(&p).to_vec::<f32>().unwrap();
    for (g, w) in z.iter().zip(LOGITS) {
        assert!((g - w).abs() < 1e-6, "{z:?}");
    }
    let l = loss(&p).item::<f32>().unwrap();
    assert!((l - LOSS).abs() < 1e-6, "{l}");

    let types: Vec<TensorType> = p.iter().map(|a| a.ty().clone()).collect();
    let f = trace(|a| vec![loss(a)], &types).unwrap();
    let inputs: Vec<psionic_ir::Literal> = p.iter().map(|a| a.literal().unwrap()).collect();
    let out = psionic_runtime::interp::run_func(&f, &inputs).unwrap();
    let traced = out[0].get_f64(0) as f32;
    assert!((traced - LOSS).abs() < 1e-6, "{traced}");
}
