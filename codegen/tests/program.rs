//! The CPU backend on kernel programs written in the text form: results
//! against values computed here in f64, the code shape chosen, and the
//! Cranelift IR it prints.

use psionic_codegen::cpu::{compile_program, CpuOptions};
use psionic_ir::kernel::text::parse_program;
use psionic_ir::{DType, Literal};

fn no_lib(
    op: psionic_ir::Opcode,
    _: &psionic_ir::Attrs,
    _: &[&Literal],
) -> Result<Vec<Literal>, String> {
    Err(format!("no library op expected, got {op}"))
}

#[test]
fn row_softmax_from_text_is_vectorized_and_correct() {
    let p = parse_program(
        "kernel.program @main(%b0: tensor<3x10xf32>) -> (tensor<3x10xf32>) {
          %b1 = kernel.buffer : tensor<3x10xf32>
          kernel.fused @k0 domain [3, 10] reduce [1] {
            loop {
              %0 = load %b0[0; 10, 1] : f32
              %1 = acc.logsumexp %0 : f32
            }
            map {
              %2 = load %b0[0; 10, 1] : f32
              %3 = subtract %2, %1 : f32
              %4 = exp %3 : f32
              store %b1[0; 10, 1], %4 : f32
            }
          }
          return %b1
        }",
    )
    .unwrap();
    let opts = CpuOptions {
        emit_clif: true,
        ..CpuOptions::default()
    };
    let code = compile_program(&p, &opts).unwrap();
    assert_eq!(code.kernel_shapes(), vec![("k0".to_string(), true)]);
    let clif = code.clif();
    assert!(
        clif.contains("; kernel @k0") && clif.contains("f32x4"),
        "{clif}"
    );
    let x: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
    let arg = Literal::from_f64(DType::F32, vec![3, 10], &x).unwrap();
    let out = code.run(&[arg], &no_lib).unwrap()[0].to_f64_vec();
    for r in 0..3 {
        let row = &x[r * 10..r * 10 + 10];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for c in 0..10 {
            let want = (row[c] - m).exp() / s;
            let got = out[r * 10 + c];
            assert!((got - want).abs() <= 1e-6, "[{r}, {c}]: {got} vs {want}");
        }
    }
}

#[test]
fn integer_kernels_wrap_like_the_interpreter() {
    let p = parse_program(
        "kernel.program @main(%b0: tensor<5xi8>, %b1: tensor<5xi8>) -> (tensor<5xi8>) {
          %b2 = kernel.buffer : tensor<5xi8>
          kernel.fused @k0 domain [5] reduce [] {
            map {
              %0 = load %b0[0; 1] : i8
              %1 = load %b1[4; -1] : i8
              %2 = add %0, %1 : i8
              store %b2[0; 1], %2 : i8
            }
          }
          return %b2
        }",
    )
    .unwrap();
    let code = compile_program(&p, &CpuOptions::default()).unwrap();
    assert_eq!(code.kernel_shapes(), vec![("k0".to_string(), false)]);
    let a = Literal::from_i64(DType::I8, vec![5], &[100, 1, 2, 3, -128]).unwrap();
    let b = Literal::from_i64(DType::I8, vec![5], &[-1, 0, 0, 0, 100]).unwrap();
    let out = code.run(&[a, b], &no_lib).unwrap();
    // b reversed: [100, 0, 0, 0, -1]; 100 + 100 wraps to -56.
    assert_eq!(out[0].to_i64_vec(), vec![-56, 1, 2, 3, 127]);
}

#[test]
fn library_ops_report_the_callback_error() {
    let p = parse_program(
        "kernel.program @main(%b0: tensor<4xf32>) -> (tensor<4xf32>) {
          %b1 = kernel.buffer : tensor<4xf32>
          kernel.op tensor.sort {axis = 0} (%b0) -> (%b1)
          return %b1
        }",
    )
    .unwrap();
    let code = compile_program(&p, &CpuOptions::default()).unwrap();
    let x = Literal::f32s(vec![4], &[3.0, 1.0, 2.0, 0.0]).unwrap();
    let err = code.run(&[x], &no_lib).unwrap_err();
    assert!(err.contains("tensor.sort"), "{err}");
}
