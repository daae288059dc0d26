//! `run_func`: input checking, shapeless functions, errors naming the op,
//! and long programs.

mod common;
use common::*;
use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType, DYN};
use psionic_runtime::interp::{run_func, run_func_with_stats};

/// f(x: ?x3 f32, y: 3 f32) = (x + broadcast_like(y, x), sum(x*x, axis 1))
fn shapeless() -> Func {
    let mut f = Func::new(
        "main",
        vec![
            TensorType::new(DType::F32, vec![DYN, 3]),
            TensorType::new(DType::F32, vec![3]),
        ],
    );
    let (x, y) = (f.params[0], f.params[1]);
    let yb = f
        .push1(Opcode::BroadcastLike, &[y, x], Attrs::new())
        .unwrap();
    let s = f.push1(Opcode::Add, &[x, yb], Attrs::new()).unwrap();
    let sq = f.push1(Opcode::Multiply, &[x, x], Attrs::new()).unwrap();
    let r = f
        .push1(
            Opcode::ReduceSum,
            &[sq],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    f.results = vec![s, r];
    f
}

#[test]
fn shapeless_functions_run_at_any_accepted_shape() {
    let f = shapeless();
    let y = f32s(&[3], &[10.0, 20.0, 30.0]);
    for rows in [0usize, 1, 4] {
        let x = f32s(
            &[rows, 3],
            &(0..rows * 3).map(|i| i as f64).collect::<Vec<_>>(),
        );
        let out = run_func(&f, &[x, y.clone()]).unwrap();
        assert_eq!(out[0].shape(), &[rows, 3]);
        assert_eq!(out[1].shape(), &[rows]);
        if rows == 4 {
            assert_vals(
                &out[0],
                &[
                    10.0, 21.0, 32.0, 13.0, 24.0, 35.0, 16.0, 27.0, 38.0, 19.0, 30.0, 41.0,
                ],
            );
            assert_vals(&out[1], &[5.0, 50.0, 149.0, 302.0]);
        }
    }
}

#[test]
fn bad_inputs_name_the_problem() {
    let f = shapeless();
    let y = f32s(&[3], &[1.0, 2.0, 3.0]);
    let e = run_func(&f, std::slice::from_ref(&y)).unwrap_err();
    assert!(e.to_string().contains("takes 2 inputs, got 1"), "{e}");
    let e = run_func(&f, &[f32s(&[2, 4], &[0.0; 8]), y.clone()]).unwrap_err();
    assert_eq!(e.op_index, None);
    assert!(
        e.to_string()
            .contains("input 0: expected tensor<?x3xf32>, got tensor<2x4xf32>"),
        "{e}"
    );
    let e = run_func(&f, &[ints(DType::I32, &[2, 3], &[0; 6]), y.clone()]).unwrap_err();
    assert!(e.to_string().contains("got tensor<2x3xi32>"), "{e}");
    let e = run_func(&f, &[f32s(&[3], &[0.0; 3]), y]).unwrap_err();
    assert!(e.to_string().contains("input 0"), "{e}");
}

#[test]
fn op_errors_name_the_op_index_and_name() {
    // Shapeless program whose concrete shapes are rejected at run time.
    let mut f = Func::new(
        "main",
        vec![
            TensorType::new(DType::F32, vec![DYN]),
            TensorType::new(DType::F32, vec![DYN]),
        ],
    );
    let (a, b) = (f.params[0], f.params[1]);
    let n = f.push1(Opcode::Negative, &[a], Attrs::new()).unwrap();
    let s = f.push1(Opcode::Add, &[n, b], Attrs::new()).unwrap();
    f.results = vec![s];
    let e = run_func(&f, &[f32s(&[2], &[1.0, 2.0]), f32s(&[3], &[1.0, 2.0, 3.0])]).unwrap_err();
    assert_eq!(e.op_index, Some(1));
    assert_eq!(e.op_name, Some("tensor.add"));
    let msg = e.to_string();
    assert!(msg.starts_with("op #1 (tensor.add): "), "{msg}");
    assert!(msg.contains("shapes differ"), "{msg}");
    // A gather index out of range is an error, not a panic.
    let mut g = Func::new(
        "main",
        vec![
            TensorType::new(DType::F32, vec![4]),
            TensorType::new(DType::I32, vec![1]),
        ],
    );
    let (x, i) = (g.params[0], g.params[1]);
    let r = g
        .push1(
            Opcode::Gather,
            &[x, i],
            Attrs::new()
                .with("axes", Attr::Ints(vec![0]))
                .with("slice_sizes", Attr::Ints(vec![1])),
        )
        .unwrap();
    g.results = vec![r];
    let e = run_func(&g, &[f32s(&[4], &[0.0; 4]), ints(DType::I32, &[1], &[7])]).unwrap_err();
    assert!(
        e.to_string()
            .contains("index along axis 0 7 is out of range"),
        "{e}"
    );
}

#[test]
fn long_chains_run_and_results_may_repeat_and_be_params() {
    let mut f = Func::new("main", vec![TensorType::new(DType::F64, vec![1000])]);
    let x = f.params[0];
    let one = f
        .push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(1.0))
                .with("shape", Attr::Ints(vec![1000]))
                .with("dtype", Attr::DType(DType::F64)),
        )
        .unwrap();
    let mut v = x;
    for _ in 0..10_000 {
        v = f.push1(Opcode::Add, &[v, one], Attrs::new()).unwrap();
    }
    // A dead op whose result nobody reads.
    f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    f.results = vec![v, v, x];
    let input = lit(DType::F64, &[1000], &vec![0.5; 1000]);
    let (out, stats) = run_func_with_stats(&f, std::slice::from_ref(&input)).unwrap();
    // Liveness: the parameter, the constant, and the chain's two newest values.
    assert_eq!(stats.peak_live_values, 4, "{stats:?}");
    assert_eq!(stats.peak_live_bytes, 4 * 8000, "{stats:?}");
    assert_eq!(out.len(), 3);
    assert_vals(&out[0], &vec![10_000.5; 1000]);
    assert_eq!(out[0], out[1]);
    assert_eq!(out[2], input);
}

#[test]
fn runs_a_function_parsed_from_text() {
    let src = r#"
func @main(%0: tensor<2x3xf32>, %1: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %2 = tensor.broadcast %1 {shape = [2, 3]} : tensor<2x3xf32>
  %3 = tensor.add %0, %2 : tensor<2x3xf32>
  %4, %5 = tensor.divmod %3, %0 : tensor<2x3xf32>, tensor<2x3xf32>
  %6 = tensor.constant {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : tensor<3xf32>
  return %3, %4, %5
}
"#;
    let f = psionic_ir::text::parse_func(src).unwrap();
    let x = f32s(&[2, 3], &[1.0, -2.0, 3.0, 4.0, 5.0, -6.0]);
    let y = f32s(&[3], &[0.5, 0.5, -7.0]);
    let out = run_func(&f, &[x, y]).unwrap();
    assert_vals(&out[0], &[1.5, -1.5, -4.0, 4.5, 5.5, -13.0]);
    // floor((x + y) / x) and its remainder, Python signs.
    assert_vals(&out[1], &[1.0, 0.0, -2.0, 1.0, 1.0, 2.0]);
    assert_vals(&out[2], &[0.5, -1.5, 2.0, 0.5, 0.5, -1.0]);
}
