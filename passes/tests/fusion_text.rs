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
