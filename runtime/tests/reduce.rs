//! Reductions, arg reductions, logsumexp, softmax and scans.

mod common;
use common::*;
use psionic_ir::{Attr, DType, Opcode::*};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn axes(v: &[i64]) -> (&'static str, Attr) {
    ("axes", ints_attr(v))
}

#[test]
fn sums_over_any_axes() {
    let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_vals(&op(ReduceSum, &[axes(&[0])], &[&x]), &[5.0, 7.0, 9.0]);
    assert_vals(&op(ReduceSum, &[axes(&[1])], &[&x]), &[6.0, 15.0]);
    let all = op(
        ReduceSum,
        &[axes(&[0, 1]), ("keepdims", Attr::Bool(true))],
        &[&x],
    );
    assert_eq!(all.shape(), &[1, 1]);
    assert_vals(&all, &[21.0]);
    let none = op(ReduceSum, &[axes(&[])], &[&x]);
    assert_vals(&none, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_vals(&op(ReduceProd, &[axes(&[1])], &[&x]), &[6.0, 120.0]);
    // 3-d, middle axis.
    let v: Vec<f64> = (0..24).map(|i| i as f64).collect();
    let x = lit(DType::F64, &[2, 3, 4], &v);
    let r = op(ReduceSum, &[axes(&[1])], &[&x]);
    let want: Vec<f64> = (0..2)
        .flat_map(|a| (0..4).map(move |c| (0..3).map(|b| (a * 12 + b * 4 + c) as f64).sum()))
        .collect();
    assert_vals(&r, &want);
    let r = op(ReduceMax, &[axes(&[0, 2])], &[&x]);
    assert_vals(&r, &[15.0, 19.0, 23.0]);
}

#[test]
fn float_sums_accumulate_in_f64() {
    // 1 + 1e-8 * 1000 in f32 would lose every small term one at a time.
    let mut v = vec![1.0];
    v.extend(std::iter::repeat_n(1e-8, 1000));
    let x = f32s(&[1001], &v);
    let s = op(ReduceSum, &[axes(&[0])], &[&x]);
    let exact: f64 = x.to_f64_vec().iter().sum();
    assert_eq!(s.get_f64(0), exact as f32 as f64);
    assert!(s.get_f64(0) > 1.0);
}

#[test]
fn integer_and_bool_reductions() {
    let b = bools(&[2, 2], &[true, true, false, true]);
    let s = op(ReduceSum, &[axes(&[1])], &[&b]);
    assert_eq!(s.dtype(), DType::I32);
    assert_ints(&s, &[2, 1]);
    assert_ints(&op(ReduceAll, &[axes(&[1])], &[&b]), &[1, 0]);
    assert_ints(&op(ReduceAny, &[axes(&[0])], &[&b]), &[1, 1]);
    let x = ints(DType::I8, &[3], &[100, 100, 100]);
    assert_ints(&op(ReduceSum, &[axes(&[0])], &[&x]), &[44]); // 300 wraps in i8
    let x = ints(DType::U64, &[2], &[-1, 1]);
    assert_ints(&op(ReduceMax, &[axes(&[0])], &[&x]), &[-1]); // u64::MAX
    let e = ints(DType::I32, &[0], &[]);
    assert_ints(&op(ReduceSum, &[axes(&[0])], &[&e]), &[0]);
    assert_ints(&op(ReduceProd, &[axes(&[0])], &[&e]), &[1]);
    assert_ints(&op(ReduceMax, &[axes(&[0])], &[&e]), &[i32::MIN as i64]);
    assert_ints(&op(ReduceAll, &[axes(&[0])], &[&e]), &[1]);
}

#[test]
fn max_and_min_propagate_nan() {
    let x = f32s(&[2, 3], &[1.0, NAN, 2.0, -1.0, -3.0, 0.0]);
    assert_vals(&op(ReduceMax, &[axes(&[1])], &[&x]), &[NAN, 0.0]);
    assert_vals(&op(ReduceMin, &[axes(&[1])], &[&x]), &[NAN, -3.0]);
    assert_vals(&op(ReduceMax, &[axes(&[0])], &[&x]), &[1.0, NAN, 2.0]);
}

#[test]
fn argmax_takes_the_first_extreme_and_nan_wins() {
    let x = ints(DType::I32, &[4], &[1, 3, 3, 2]);
    assert_ints(&op(Argmax, &[("axis", Attr::Int(0))], &[&x]), &[1]);
    let x = ints(DType::I32, &[4], &[2, 1, 1, 3]);
    assert_ints(&op(Argmin, &[("axis", Attr::Int(0))], &[&x]), &[1]);
    // MLX: a NaN counts as both the maximum and the minimum; the first one wins.
    let x = f32s(&[4], &[1.0, NAN, 3.0, NAN]);
    assert_ints(&op(Argmax, &[("axis", Attr::Int(0))], &[&x]), &[1]);
    assert_ints(&op(Argmin, &[("axis", Attr::Int(0))], &[&x]), &[1]);
    let x = f32s(&[2, 3], &[1.0, 5.0, 5.0, 7.0, 0.0, 7.0]);
    let r = op(
        Argmax,
        &[("axis", Attr::Int(0)), ("keepdims", Attr::Bool(true))],
        &[&x],
    );
    assert_eq!(r.dtype(), DType::U32);
    assert_eq!(r.shape(), &[1, 3]);
    assert_ints(&r, &[1, 0, 1]);
    assert_ints(&op(Argmin, &[("axis", Attr::Int(1))], &[&x]), &[0, 1]);
    let e = f32s(&[2, 0], &[]);
    assert!(op_err(Argmax, &[("axis", Attr::Int(1))], &[&e]).contains("empty axis"));
}

#[test]
fn logsumexp_is_stable_and_handles_infinities() {
    let x = lit(
        DType::F64,
        &[3, 2],
        &[
            1000.0,
            1000.0,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            INF,
            1.0,
        ],
    );
    let r = op(LogSumExp, &[axes(&[1])], &[&x]);
    assert_vals(
        &r,
        &[1000.0 + std::f64::consts::LN_2, f64::NEG_INFINITY, INF],
    );
    let x = f32s(&[2], &[0.0, NAN]);
    assert_vals(&op(LogSumExp, &[axes(&[0])], &[&x]), &[NAN]);
}

#[test]
fn softmax_normalizes_stably() {
    let x = lit(
        DType::F64,
        &[2, 2],
        &[1000.0, 1000.0, 0.0, std::f64::consts::LN_2],
    );
    let r = op(Softmax, &[axes(&[1])], &[&x]);
    let v = vals(&r);
    assert!((v[0] - 0.5).abs() < 1e-15 && (v[1] - 0.5).abs() < 1e-15);
    assert!((v[2] - 1.0 / 3.0).abs() < 1e-15 && (v[3] - 2.0 / 3.0).abs() < 1e-15);
    let r = op(Softmax, &[axes(&[0, 1])], &[&f32s(&[2, 2], &[0.0; 4])]);
    assert_vals(&r, &[0.25; 4]);
}

fn scan(
    o: psionic_ir::Opcode,
    x: &psionic_ir::Literal,
    axis: i64,
    reverse: bool,
    inclusive: bool,
) -> psionic_ir::Literal {
    op(
        o,
        &[
            ("axis", Attr::Int(axis)),
            ("reverse", Attr::Bool(reverse)),
            ("inclusive", Attr::Bool(inclusive)),
        ],
        &[x],
    )
}

#[test]
fn scans_forward_reverse_inclusive_exclusive() {
    // Expectations from MLX 0.32.
    let x = f32s(&[4], &[1.0, 2.0, 3.0, 4.0]);
    assert_vals(&scan(Cumsum, &x, 0, false, true), &[1.0, 3.0, 6.0, 10.0]);
    assert_vals(&scan(Cumsum, &x, 0, true, false), &[9.0, 7.0, 4.0, 0.0]);
    assert_vals(&scan(Cumsum, &x, 0, false, false), &[0.0, 1.0, 3.0, 6.0]);
    assert_vals(&scan(Cumsum, &x, 0, true, true), &[10.0, 9.0, 7.0, 4.0]);
    assert_vals(&scan(Cumprod, &x, 0, true, true), &[24.0, 24.0, 12.0, 4.0]);
    assert_vals(&scan(Cumprod, &x, 0, false, false), &[1.0, 1.0, 2.0, 6.0]);
    let y = f32s(&[5], &[1.0, 3.0, 2.0, 5.0, 4.0]);
    assert_vals(
        &scan(Cummax, &y, 0, true, false),
        &[5.0, 5.0, 5.0, 4.0, f64::NEG_INFINITY],
    );
    assert_vals(
        &scan(Cummin, &y, 0, false, true),
        &[1.0, 1.0, 1.0, 1.0, 1.0],
    );
    let z = f32s(&[3], &[1.0, NAN, 3.0]);
    assert_vals(&scan(Cummax, &z, 0, false, true), &[1.0, NAN, NAN]);
    // Along axis 0 of a matrix.
    let m = ints(DType::I32, &[2, 3], &[1, 2, 3, 4, 5, 6]);
    assert_ints(&scan(Cumsum, &m, 0, false, true), &[1, 2, 3, 5, 7, 9]);
    assert_ints(&scan(Cumsum, &m, 1, true, false), &[5, 3, 0, 11, 6, 0]);
    let b = bools(&[3], &[true, false, true]);
    let c = scan(Cumsum, &b, 0, false, true);
    assert_eq!(c.dtype(), DType::I32);
    assert_ints(&c, &[1, 1, 2]);
    let i8s = ints(DType::I8, &[3], &[-100, -100, 50]);
    assert_ints(&scan(Cummin, &i8s, 0, false, false), &[127, -100, -100]);
    assert_ints(&scan(Cumsum, &i8s, 0, false, true), &[-100, 56, 106]);
    let l = scan(
        CumLogAddExp,
        &lit(DType::F64, &[2], &[0.0, 0.0]),
        0,
        false,
        true,
    );
    assert_vals(&l, &[0.0, std::f64::consts::LN_2]);
    let l = scan(
        CumLogAddExp,
        &lit(DType::F64, &[2], &[0.0, 0.0]),
        0,
        false,
        false,
    );
    assert_vals(&l, &[f64::NEG_INFINITY, 0.0]);
}

#[test]
fn number_of_elements_counts_axes() {
    let x = f32s(&[2, 3, 4], &[0.0; 24]);
    let n = op(
        NumberOfElements,
        &[axes(&[0, 2]), ("dtype", Attr::DType(DType::I32))],
        &[&x],
    );
    assert_eq!(n.shape(), &[] as &[usize]);
    assert_ints(&n, &[8]);
    let n = op(
        NumberOfElements,
        &[
            axes(&[0, 2]),
            ("inverted", Attr::Bool(true)),
            ("dtype", Attr::DType(DType::F32)),
        ],
        &[&x],
    );
    assert_vals(&n, &[0.125]);
}
