//! The verifier accepts every function built through `Func::push` and
//! rejects each broken invariant with a message naming the op and its location.

mod common;

use common::{random_module, Rng};
use proptest::prelude::*;
use psionic_ir::text::parse_func;
use psionic_ir::verify::{verify_func, verify_module};
use psionic_ir::{Attr, Attrs, DType, Func, Loc, Module, Opcode, TensorType, Value};

fn sample() -> Func {
    let t = TensorType::new(DType::F32, vec![2, 3]);
    let mut f = Func::new("f", vec![t.clone(), t]);
    let (a, b) = (f.params[0], f.params[1]);
    let s = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
    let r = f
        .push1(
            Opcode::ReduceSum,
            &[s],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    f.results = vec![r];
    f
}

fn msg(f: &Func) -> String {
    verify_func(f).unwrap_err().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn functions_built_with_push_verify(seed in any::<u64>()) {
        let mut r = Rng::new(seed);
        let m = random_module(&mut r, 12);
        prop_assert!(verify_module(&m).is_ok(), "{:?}", verify_module(&m));
        prop_assert!(verify_module(&m.compact()).is_ok());
    }
}

#[test]
fn sample_verifies() {
    verify_func(&sample()).unwrap();
}

#[test]
fn value_without_type() {
    let mut f = sample();
    f.ops[1].operands[0] = Value(99);
    assert_eq!(
        msg(&f),
        "@f: op 1 (`tensor.reduce_sum`): operand 0 %99 has no type (only 4 values)"
    );
    let mut f = sample();
    f.results = vec![Value(7)];
    assert_eq!(msg(&f), "@f: result 0 %7 has no type (only 4 values)");
}

#[test]
fn malformed_type() {
    let mut f = sample();
    f.value_types[0].shape[0] = -5;
    assert_eq!(
        msg(&f),
        "@f: value %0 has type tensor<?x3xf32>: dimension -5 is neither a size nor `?`"
    );
}

#[test]
fn value_defined_twice() {
    let mut f = sample();
    f.params[1] = f.params[0];
    assert_eq!(
        msg(&f),
        "@f: value %0 is defined twice (already as a parameter)"
    );
    let mut f = sample();
    f.ops[1].results[0] = f.ops[0].results[0];
    f.results = vec![f.ops[0].results[0]];
    assert!(
        msg(&f).starts_with(
            "@f: op 1 (`tensor.reduce_sum`): result 0 %2 is defined twice (already by op 0)"
        ),
        "{}",
        msg(&f)
    );
}

#[test]
fn operand_used_before_definition() {
    let mut f = sample();
    f.ops.swap(0, 1);
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.reduce_sum`): operand 0 %2 is used before it is defined (it is defined later, by op 1)"
    );
    // An op may not use its own result.
    let mut f = sample();
    f.ops[0].operands[1] = f.ops[0].results[0];
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.add`): operand 1 %2 is used before it is defined (it is defined later, by op 0)"
    );
}

#[test]
fn result_not_defined() {
    let mut f = sample();
    let v = f.new_value(TensorType::scalar(DType::F32));
    f.results = vec![v];
    assert_eq!(
        msg(&f),
        "@f: result 0 %4 is not defined by any parameter or op"
    );
}

#[test]
fn op_rules_rerun() {
    // Arity.
    let mut f = sample();
    f.ops[0].operands.pop();
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.add`): `tensor.add` takes 2 operands, got 1"
    );
    // Missing attribute.
    let mut f = sample();
    f.ops[1].attrs = Attrs::new();
    assert_eq!(
        msg(&f),
        "@f: op 1 (`tensor.reduce_sum`): `tensor.reduce_sum` needs attribute `axes` (int list)"
    );
    // Unknown attribute.
    let mut f = sample();
    f.ops[0].attrs = Attrs::new().with("axes", Attr::Ints(vec![]));
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.add`): `tensor.add` has no attribute `axes`"
    );
    // Wrong kind.
    let mut f = sample();
    f.ops[1].attrs = Attrs::new().with("axes", Attr::Int(1));
    assert_eq!(
        msg(&f),
        "@f: op 1 (`tensor.reduce_sum`): attribute `axes` of `tensor.reduce_sum` must be a int list, found a int"
    );
    // Shape rule.
    let mut f = sample();
    f.value_types[1] = TensorType::new(DType::F32, vec![2, 4]);
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.add`): `tensor.add`: operand shapes differ ([2, 3] and [2, 4]): insert tensor.broadcast"
    );
}

#[test]
fn recorded_types_match_rules() {
    let mut f = sample();
    f.value_types[3] = TensorType::new(DType::F32, vec![3]);
    assert_eq!(
        msg(&f),
        "@f: op 1 (`tensor.reduce_sum`): result 0 %3 is recorded as tensor<3xf32>, but its rule gives tensor<2xf32>"
    );
    let mut f = sample();
    let extra = f.new_value(TensorType::scalar(DType::F32));
    f.ops[0].results.push(extra);
    assert_eq!(
        msg(&f),
        "@f: op 0 (`tensor.add`): has 2 results, but its rule gives 1"
    );
}

#[test]
fn attribute_names_unique_and_sorted() {
    let mut f = sample();
    f.attrs = vec![("b".into(), Attr::Int(1)), ("a".into(), Attr::Int(2))];
    assert_eq!(
        msg(&f),
        "@f: function attributes: `b` comes before `a`: names must be sorted"
    );
    f.attrs = vec![("a".into(), Attr::Int(1)), ("a".into(), Attr::Int(2))];
    assert_eq!(msg(&f), "@f: function attributes: `a` appears twice");
    let mut m = Module::new(vec![sample()]);
    m.attrs = vec![
        ("x".into(), Attr::Bool(true)),
        ("x".into(), Attr::Bool(false)),
    ];
    assert_eq!(
        verify_module(&m).unwrap_err().to_string(),
        "module attributes: `x` appears twice"
    );
}

#[test]
fn errors_carry_the_text_location() {
    let mut f = parse_func(
        "func @g(%x: tensor<4xf32>) -> (tensor<4xf32>) {\n  %y = tensor.exp %x : tensor<4xf32>\n  %z = tensor.negative %y : tensor<4xf32>\n  return %z\n}\n",
    )
    .unwrap();
    verify_func(&f).unwrap();
    assert_eq!(f.ops[1].loc, Loc::new(3, 8));
    f.value_types[2] = TensorType::new(DType::F16, vec![4]);
    let e = verify_func(&f).unwrap_err();
    assert_eq!(e.loc, Loc::new(3, 8));
    assert_eq!(
        e.to_string(),
        "3:8: @g: op 1 (`tensor.negative`): result 0 %2 is recorded as tensor<4xf16>, but its rule gives tensor<4xf32>"
    );
}
