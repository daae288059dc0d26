//! Programs read from the text form compile to the expected kernels, and the
//! kernel-level text of a compiled program parses back to it.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::text::parse_module;
use psionic_passes::fusion::compile::{compile, CompileOptions};

const SOFTMAX_BY_HAND: &str = "
func @main(%0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
  %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %2 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
  %3 = tensor.subtract %0, %2 : tensor<8x32xf32>
  %4 = tensor.exp %3 : tensor<8x32xf32>
  %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %6 = tensor.broadcast %5 {shape = [8, 32]} : tensor<8x32xf32>
  %7 = tensor.divide %4, %6 : tensor<8x32xf32>
  return %7
}
";

#[test]
fn softmax_text_compiles_to_one_two_pass_kernel() {
    let m = parse_module(SOFTMAX_BY_HAND).unwrap();
    let f = &m.funcs[0];
    let (p, rep) = compile(f, &CompileOptions::default()).unwrap();
    check_text(&p);
    let st = p.stats();
    assert_eq!(
        (st.kernels, st.library_calls, st.passes),
        (1, 0, 2),
        "{}",
        print_program(&p)
    );
    // One read of the input per pass, one write of the output.
    assert_eq!(st.bytes_moved, 3 * 8 * 32 * 4);
    assert_eq!(rep.plan.peak_bytes, 8 * 32 * 4);
    let args = random_args(f, 9);
    assert_close(&run(&p, &args), &oracle(f, &args), 1e-5);
}

#[test]
fn dynamic_shapes_are_refused_with_a_message() {
    use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType, DYN};
    let mut f = Func::new("main", vec![TensorType::new(DType::F32, vec![DYN, 32])]);
    let x = f.params[0];
    let s = f
        .push1(
            Opcode::Softmax,
            &[x],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    f.results = vec![s];
    let e = compile(&f, &CompileOptions::default()).unwrap_err();
    assert!(e.to_string().contains("static shapes"), "{e}");
}

/// Cross-entropy's `logsumexp(logits) - logits[n, labels[n]]`, with the
/// label shifted by an elementwise op first.
const CROSS_ENTROPY: &str = "
func @main(%0: tensor<4x10xf32>, %1: tensor<4xi32>) -> (tensor<f32>) {
  %2 = tensor.logsumexp %0 {axes = [1]} : tensor<4xf32>
  %3 = tensor.full {value = 1.0, shape = [4], dtype = i32} : tensor<4xi32>
  %4 = tensor.subtract %1, %3 : tensor<4xi32>
  %5 = tensor.expand_dims %4 {axes = [1]} : tensor<4x1xi32>
  %6 = tensor.take_along_axis %0, %5 {axis = 1} : tensor<4x1xf32>
  %7 = tensor.squeeze %6 {axes = [1]} : tensor<4xf32>
  %8 = tensor.subtract %2, %7 : tensor<4xf32>
  %9 = tensor.reduce_sum %8 {axes = [0]} : tensor<f32>
  return %9
}
";

/// No `kernel.op`: the gather is computed inline in the loop that sums the
/// losses, its index (the shifted label) beside it; the row logsumexps are
/// the only buffer in between.
const CROSS_ENTROPY_KERNELS: &str =
    "kernel.program @main(%b0: tensor<4x10xf32>, %b1: tensor<4xi32>) -> (tensor<f32>) {
  %b2 = kernel.buffer {slot = 0} : tensor<4xf32>
  %b3 = kernel.buffer : tensor<f32>
  kernel.fused @k0 domain [4, 10] reduce [1] {
    loop {
      %0 = load %b0[0; 10, 1] : f32
      %1 = acc.logsumexp %0 : f32
    }
    outer {
      store %b2[0; 1, 0], %1 : f32
    }
  }
  kernel.fused @k1 domain [4] reduce [0] {
    outer {
      %0 = const 1 : i32
    }
    loop {
      %1 = load %b2[0; 1] : f32
      %2 = load %b1[0; 1] : i32
      %3 = subtract %2, %0 : i32
      %4 = gather %b0[0; 10] + 1 * %3 {axis = 1, size = 10} : f32
      %5 = subtract %1, %4 : f32
      %6 = acc.sum %5 : f32
    }
    outer {
      store %b3[0; 0], %6 : f32
    }
  }
  return %b3
}
";

#[test]
fn cross_entropy_gathers_beside_its_logsumexp() {
    let m = parse_module(CROSS_ENTROPY).unwrap();
    let f = &m.funcs[0];
    let (p, _) = compile(f, &CompileOptions::default()).unwrap();
    check_text(&p);
    assert_eq!(print_program(&p), CROSS_ENTROPY_KERNELS);
    let st = p.stats();
    assert_eq!((st.kernels, st.library_calls), (2, 0));
    let mut args = random_args(f, 3);
    args[1] =
        psionic_ir::Literal::from_i64(psionic_ir::DType::I32, vec![4], &[1, 10, 0, -3]).unwrap();
    assert_close(&run(&p, &args), &oracle(f, &args), 1e-5);
    // Per-row losses: one kernel; the gather, once per row, in an `outer`
    // stage beside the logsumexp's loop.
    let per_row = CROSS_ENTROPY
        .replace("-> (tensor<f32>)", "-> (tensor<4xf32>)")
        .replace("return %9", "return %8");
    let m = parse_module(&per_row).unwrap();
    let (p, _) = compile(&m.funcs[0], &CompileOptions::default()).unwrap();
    let text = print_program(&p);
    assert_eq!(
        (p.stats().kernels, p.stats().library_calls),
        (1, 0),
        "{text}"
    );
    let outer = &text[text.find("outer {").unwrap()..text.find("loop {").unwrap()];
    assert!(
        outer.contains("gather %b0[0; 10, 0] + 1 * %2 {axis = 1, size = 10}"),
        "{text}"
    );
}
