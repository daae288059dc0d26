//! Specialization re-infers every type for concrete inputs: symbolic dims
//! become concrete, ill-fitting inputs are rejected, and rules skipped for
//! symbolic sizes run on the concrete ones.

mod common;

use common::{random_func, Rng};
use proptest::prelude::*;
use psionic_ir::specialize::specialize;
use psionic_ir::text::{parse_func, print_func};
use psionic_ir::verify::verify_func;
use psionic_ir::{DType, TensorType, DYN};

const SHAPELESS: &str = "\
func @f(%x: tensor<?x3xf32>, %b: tensor<3xf32>) -> (tensor<?x3xf32>, tensor<?xf32>, tensor<?xf32>) {
  %bb = tensor.broadcast_like %b, %x : tensor<?x3xf32>
  %s = tensor.add %x, %bb : tensor<?x3xf32>
  %r = tensor.reduce_sum %s {axes = [1]} : tensor<?xf32>
  %flat = tensor.reshape %s {shape = [-1]} : tensor<?xf32>
  return %s, %r, %flat
}
";

#[test]
fn symbolic_dims_become_concrete() {
    let f = parse_func(SHAPELESS).unwrap();
    let g = specialize(
        &f,
        &[
            TensorType::new(DType::F32, vec![4, 3]),
            TensorType::new(DType::F32, vec![3]),
        ],
    )
    .unwrap();
    verify_func(&g).unwrap();
    assert_eq!(
        print_func(&g),
        "\
func @f(%0: tensor<4x3xf32>, %1: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<4xf32>, tensor<12xf32>) {
  %2 = tensor.broadcast_like %1, %0 : tensor<4x3xf32>
  %3 = tensor.add %0, %2 : tensor<4x3xf32>
  %4 = tensor.reduce_sum %3 {axes = [1]} : tensor<4xf32>
  %5 = tensor.reshape %3 {shape = [-1]} : tensor<12xf32>
  return %3, %4, %5
}
"
    );
}

#[test]
fn inputs_must_fit_parameters() {
    let f = parse_func(SHAPELESS).unwrap();
    let b = TensorType::new(DType::F32, vec![3]);
    let e = |x: TensorType, b: TensorType| specialize(&f, &[x, b]).unwrap_err().to_string();
    assert_eq!(
        e(TensorType::new(DType::F16, vec![4, 3]), b.clone()),
        "@f: input 0 of type tensor<4x3xf16> does not fit parameter type tensor<?x3xf32>: dtype f16 differs from f32"
    );
    assert_eq!(
        e(TensorType::new(DType::F32, vec![4]), b.clone()),
        "@f: input 0 of type tensor<4xf32> does not fit parameter type tensor<?x3xf32>: rank 1 differs from 2"
    );
    assert_eq!(
        e(TensorType::new(DType::F32, vec![4, 5]), b.clone()),
        "@f: input 0 of type tensor<4x5xf32> does not fit parameter type tensor<?x3xf32>: axis 1 has size 5, but the parameter's is 3"
    );
    assert_eq!(
        specialize(&f, &[b]).unwrap_err().to_string(),
        "@f takes 2 inputs, 1 given"
    );
}

#[test]
fn rules_run_on_concrete_sizes() {
    let f = parse_func(
        "func @f(%x: tensor<?xf32>) -> (tensor<?x2xf32>) {\n  %y = tensor.reshape %x {shape = [-1, 2]} : tensor<?x2xf32>\n  return %y\n}\n",
    )
    .unwrap();
    let ok = specialize(&f, &[TensorType::new(DType::F32, vec![6])]).unwrap();
    assert_eq!(
        ok.result_types(),
        vec![TensorType::new(DType::F32, vec![3, 2])]
    );
    let e = specialize(&f, &[TensorType::new(DType::F32, vec![5])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "2:8: @f: op 0 (`tensor.reshape`): `tensor.reshape`: cannot reshape [5] (5 elements) to [-1, 2]"
    );
    // Partial specialization keeps the `?` where the input has one.
    let same = specialize(&f, &[TensorType::new(DType::F32, vec![DYN])]).unwrap();
    assert_eq!(same, f.compact());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// At the function's own parameter types, specialization is the identity;
    /// at concrete types it gives a verified function without symbolic dims
    /// (or an error from a rule).
    #[test]
    fn random_functions_specialize(seed in any::<u64>(), size in 0i64..4) {
        let mut r = Rng::new(seed);
        let f = random_func(&mut r, "f", 12);
        let same = specialize(&f, &f.param_types()).unwrap();
        prop_assert_eq!(&same, &f.compact());
        let concrete: Vec<TensorType> = f
            .param_types()
            .into_iter()
            .map(|t| {
                let shape = t.shape.iter().map(|&d| if d == DYN { size } else { d }).collect();
                t.with_shape(shape)
            })
            .collect();
        if let Ok(g) = specialize(&f, &concrete) {
            prop_assert!(verify_func(&g).is_ok());
            for t in &g.value_types {
                prop_assert!(t.is_static(), "{} in\n{}", t, print_func(&g));
            }
        }
    }
}
