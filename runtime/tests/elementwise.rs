//! Elementwise ops against hand-computed values and NumPy/MLX expectations
//! for the tricky semantics (integer division signs, rounding, casts, NaN).

mod common;
use common::*;
use psionic_ir::{Attr, DType, Opcode::*};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

#[test]
fn integer_floor_divide_and_remainder_follow_python_signs() {
    // Values as NumPy/MLX give them; x // 0 and x % 0 are 0 by contract.
    let a = ints(DType::I32, &[7], &[-7, -7, 7, 7, -8, 5, 0]);
    let b = ints(DType::I32, &[7], &[2, -2, 2, -2, 3, 0, 0]);
    assert_ints(&op(FloorDivide, &[], &[&a, &b]), &[-4, 3, 3, -4, -3, 0, 0]);
    assert_ints(&op(Remainder, &[], &[&a, &b]), &[1, -1, 1, -1, 1, 0, 0]);
    assert_ints(&op(Divide, &[], &[&a, &b]), &[-3, 3, 3, -3, -2, 0, 0]);
    let dm = opn(DivMod, &[], &[&a, &b]);
    assert_ints(&dm[0], &[-4, 3, 3, -4, -3, 0, 0]);
    assert_ints(&dm[1], &[1, -1, 1, -1, 1, 0, 0]);
    // i32::MIN / -1 wraps instead of trapping.
    let m = ints(DType::I32, &[1], &[i32::MIN as i64]);
    let n1 = ints(DType::I32, &[1], &[-1]);
    assert_ints(&op(Divide, &[], &[&m, &n1]), &[i32::MIN as i64]);
    assert_ints(&op(FloorDivide, &[], &[&m, &n1]), &[i32::MIN as i64]);
    assert_ints(&op(Remainder, &[], &[&m, &n1]), &[0]);
}

#[test]
fn unsigned_division_is_exact_for_u64() {
    let a = ints(DType::U64, &[2], &[-1, -2]); // u64::MAX, u64::MAX - 1
    let b = ints(DType::U64, &[2], &[3, 7]);
    let q = op(Divide, &[], &[&a, &b]);
    let got: Vec<u64> = q
        .bytes()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, vec![u64::MAX / 3, (u64::MAX - 1) / 7]);
    let r = op(Remainder, &[], &[&a, &b]);
    let got: Vec<u64> = r
        .bytes()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, vec![u64::MAX % 3, (u64::MAX - 1) % 7]);
}

#[test]
fn float_floor_divide_and_remainder_match_mlx() {
    let a = f32s(&[6], &[-7.5, -7.5, 7.5, 7.5, -0.0, 5.0]);
    let b = f32s(&[6], &[2.0, -2.0, 2.0, -2.0, 3.0, 0.0]);
    assert_vals(
        &op(FloorDivide, &[], &[&a, &b]),
        &[-4.0, 3.0, 3.0, -4.0, -0.0, INF],
    );
    assert_vals(
        &op(Remainder, &[], &[&a, &b]),
        &[0.5, -1.5, 1.5, -0.5, -0.0, NAN],
    );
}

#[test]
fn round_is_half_to_even() {
    let x = f32s(&[7], &[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999]);
    assert_vals(
        &op(Round, &[], &[&x]),
        &[0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 2.0],
    );
    let x = ints(DType::I8, &[2], &[-3, 5]);
    assert_ints(&op(Round, &[], &[&x]), &[-3, 5]);
    let x = f32s(&[3], &[-1.5, 1.5, NAN]);
    assert_vals(&op(Floor, &[], &[&x]), &[-2.0, 1.0, NAN]);
    assert_vals(&op(Ceil, &[], &[&x]), &[-1.0, 2.0, NAN]);
}

#[test]
fn integer_power_wraps_and_negative_exponents_give_zero() {
    let a = ints(DType::I32, &[5], &[2, 3, -2, 0, 7]);
    let b = ints(DType::I32, &[5], &[10, 3, 3, 0, 20]);
    // 7^20 wraps to the same value MLX gives.
    assert_ints(&op(Power, &[], &[&a, &b]), &[1024, 27, -8, 1, -1199696159]);
    let a = ints(DType::I8, &[1], &[3]);
    let b = ints(DType::I8, &[1], &[5]);
    assert_ints(&op(Power, &[], &[&a, &b]), &[-13]);
    // MLX gives 0 for every negative exponent, bases 1 and -1 included.
    let a = ints(DType::I32, &[6], &[1, 2, -3, 0, -1, -1]);
    let b = ints(DType::I32, &[6], &[-1, -1, -2, -1, -1, -2]);
    assert_ints(&op(Power, &[], &[&a, &b]), &[0, 0, 0, 0, 0, 0]);
    let a = f32s(&[3], &[2.0, -8.0, 0.0]);
    let b = f32s(&[3], &[0.5, 1.0 / 3.0, -1.0]);
    assert_vals(
        &op(Power, &[], &[&a, &b]),
        &[(2.0f64.sqrt() as f32) as f64, NAN, INF],
    );
}

#[test]
fn shifts_saturate_at_the_bit_width() {
    let a = ints(DType::U8, &[4], &[1, 255, 255, 3]);
    let b = ints(DType::U8, &[4], &[7, 1, 8, 200]);
    assert_ints(&op(LeftShift, &[], &[&a, &b]), &[128, 254, 0, 0]);
    let a = ints(DType::I8, &[4], &[-128, 64, -1, -7]);
    let b = ints(DType::I8, &[4], &[3, 3, 9, 1]);
    assert_ints(&op(RightShift, &[], &[&a, &b]), &[-16, 8, -1, -4]);
    let a = ints(DType::U8, &[2], &[200, 200]);
    let b = ints(DType::U8, &[2], &[3, 8]);
    assert_ints(&op(RightShift, &[], &[&a, &b]), &[25, 0]);
    let a = ints(DType::I32, &[2], &[1, 5]);
    let b = ints(DType::I32, &[2], &[-1, 31]);
    assert_ints(&op(LeftShift, &[], &[&a, &b]), &[0, i32::MIN as i64]);
}

#[test]
fn casts_truncate_saturate_and_send_nan_to_zero() {
    let x = f32s(&[6], &[3.7, -3.7, 300.0, -1.0, 255.9, NAN]);
    let u8s = op(Cast, &[("dtype", Attr::DType(DType::U8))], &[&x]);
    assert_ints(&u8s, &[3, 0, 255, 0, 255, 0]);
    let i32s = op(
        Cast,
        &[("dtype", Attr::DType(DType::I32))],
        &[&f32s(&[3], &[1e10, -1e10, -2.7])],
    );
    assert_ints(&i32s, &[i32::MAX as i64, i32::MIN as i64, -2]);
    // Integer to integer wraps.
    let w = op(
        Cast,
        &[("dtype", Attr::DType(DType::U8))],
        &[&ints(DType::I32, &[2], &[-1, 300])],
    );
    assert_ints(&w, &[255, 44]);
    let w = op(
        Cast,
        &[("dtype", Attr::DType(DType::U32))],
        &[&ints(DType::I8, &[1], &[-1])],
    );
    assert_ints(&w, &[u32::MAX as i64]);
    // Float to bool: non-zero (NaN is non-zero).
    let b = op(
        Cast,
        &[("dtype", Attr::DType(DType::Bool))],
        &[&f32s(&[3], &[0.0, NAN, -0.5])],
    );
    assert_ints(&b, &[0, 1, 1]);
    // i64 beyond 2^53 to f32 rounds once, from the exact value.
    let big = (1i64 << 60) + (1 << 36) + 1; // just above a halfway point of f32
    let f = op(
        Cast,
        &[("dtype", Attr::DType(DType::F32))],
        &[&ints(DType::I64, &[1], &[big])],
    );
    assert_eq!(f.get_f64(0), (big as f32) as f64);
    // u64 exactness: u64::MAX survives a round trip through i64 bits.
    let u = ints(DType::U64, &[1], &[-1]);
    let back = op(Cast, &[("dtype", Attr::DType(DType::I64))], &[&u]);
    assert_ints(&back, &[-1]);
    // f32 to f16 rounds to nearest even and overflows to inf.
    let h = op(
        Cast,
        &[("dtype", Attr::DType(DType::F16))],
        &[&f32s(&[3], &[1.0 + 1.0 / 2048.0, 70000.0, -0.0])],
    );
    assert_vals(&h, &[1.0, INF, -0.0]);
    // Complex to real takes the real part; real to complex has zero imaginary part.
    let z = c64s(&[2], &[(1.5, 2.0), (-3.0, 0.5)]);
    assert_vals(
        &op(Cast, &[("dtype", Attr::DType(DType::F32))], &[&z]),
        &[1.5, -3.0],
    );
    let zc = op(
        Cast,
        &[("dtype", Attr::DType(DType::C64))],
        &[&f32s(&[1], &[2.5])],
    );
    assert_eq!(complex_vals(&zc), vec![(2.5, 0.0)]);
}

#[test]
fn nan_propagates_through_maximum_and_minimum() {
    let a = f32s(&[3], &[NAN, 1.0, -0.0]);
    let b = f32s(&[3], &[1.0, NAN, 2.0]);
    assert_vals(&op(Maximum, &[], &[&a, &b]), &[NAN, NAN, 2.0]);
    assert_vals(&op(Minimum, &[], &[&a, &b]), &[NAN, NAN, -0.0]);
}

#[test]
fn comparisons_treat_nan_as_unordered() {
    let a = f32s(&[3], &[NAN, 1.0, 2.0]);
    let b = f32s(&[3], &[NAN, 1.0, 1.0]);
    assert_ints(&op(Equal, &[], &[&a, &b]), &[0, 1, 0]);
    assert_ints(
        &op(Equal, &[("equal_nan", Attr::Bool(true))], &[&a, &b]),
        &[1, 1, 0],
    );
    assert_ints(&op(NotEqual, &[], &[&a, &b]), &[1, 0, 1]);
    assert_ints(&op(Less, &[], &[&a, &b]), &[0, 0, 0]);
    assert_ints(&op(GreaterEqual, &[], &[&a, &b]), &[0, 1, 1]);
    let a = ints(DType::U64, &[1], &[-1]);
    let b = ints(DType::U64, &[1], &[1]);
    assert_ints(&op(Greater, &[], &[&a, &b]), &[1]);
}

#[test]
fn bool_arithmetic_is_or_and_xor() {
    let a = bools(&[4], &[false, false, true, true]);
    let b = bools(&[4], &[false, true, false, true]);
    assert_ints(&op(Add, &[], &[&a, &b]), &[0, 1, 1, 1]);
    assert_ints(&op(Multiply, &[], &[&a, &b]), &[0, 0, 0, 1]);
    assert_ints(&op(Subtract, &[], &[&a, &b]), &[0, 1, 1, 0]);
    assert_ints(&op(Maximum, &[], &[&a, &b]), &[0, 1, 1, 1]);
    assert_ints(&op(LogicalAnd, &[], &[&a, &b]), &[0, 0, 0, 1]);
    assert_ints(&op(BitwiseXor, &[], &[&a, &b]), &[0, 1, 1, 0]);
    assert_ints(&op(BitwiseInvert, &[], &[&a]), &[1, 1, 0, 0]);
    assert_ints(&op(LogicalNot, &[], &[&a]), &[1, 1, 0, 0]);
}

#[test]
fn integer_unary_ops_wrap() {
    let x = ints(DType::I8, &[4], &[-128, -5, 0, 7]);
    assert_ints(&op(Abs, &[], &[&x]), &[-128, 5, 0, 7]);
    assert_ints(&op(Negative, &[], &[&x]), &[-128, 5, 0, -7]);
    assert_ints(&op(Sign, &[], &[&x]), &[-1, -1, 0, 1]);
    assert_ints(&op(Square, &[], &[&x]), &[0, 25, 0, 49]);
    assert_ints(&op(BitwiseInvert, &[], &[&x]), &[127, 4, -1, -8]);
    let u = ints(DType::U16, &[2], &[1, 0]);
    assert_ints(&op(Negative, &[], &[&u]), &[65535, 0]);
}

#[test]
fn float_unary_ops_match_libm_values() {
    let x = lit(DType::F64, &[4], &[0.5, -0.25, 2.0, NAN]);
    let check = |o, f: fn(f64) -> f64| {
        let r = op(o, &[], &[&x]);
        let want: Vec<f64> = [0.5, -0.25, 2.0, NAN].iter().map(|&v| f(v)).collect();
        assert_vals(&r, &want);
    };
    check(Exp, f64::exp);
    check(Expm1, f64::exp_m1);
    check(Log1p, f64::ln_1p);
    check(Sin, f64::sin);
    check(Arctanh, f64::atanh);
    check(Tanh, f64::tanh);
    let s = op(Sigmoid, &[], &[&f32s(&[3], &[0.0, 100.0, -800.0])]);
    assert_vals(&s, &[0.5, 1.0, 0.0]);
    let e = op(Erf, &[], &[&lit(DType::F64, &[2], &[0.5, -1.0])]);
    assert!((e.get_f64(0) - 0.520_499_877_813_046_5).abs() < 1e-15);
    assert!((e.get_f64(1) + 0.842_700_792_949_714_9).abs() < 1e-15);
    let ei = op(Erfinv, &[], &[&f32s(&[4], &[0.5, 1.0, -1.0, 2.0])]);
    assert_vals(
        &ei,
        &[0.476_936_276_204_469_9f64 as f32 as f64, INF, -INF, NAN],
    );
    let sg = op(Sign, &[], &[&f32s(&[4], &[-2.0, 0.0, 3.0, NAN])]);
    assert_vals(&sg, &[-1.0, 0.0, 1.0, NAN]);
    let fl = op(IsNan, &[], &[&f32s(&[3], &[NAN, INF, 1.0])]);
    assert_ints(&fl, &[1, 0, 0]);
    assert_ints(
        &op(IsInf, &[], &[&f32s(&[3], &[NAN, -INF, 1.0])]),
        &[0, 1, 0],
    );
    assert_ints(
        &op(IsFinite, &[], &[&f32s(&[3], &[NAN, -INF, 1.0])]),
        &[0, 0, 1],
    );
    assert_ints(&op(IsNan, &[], &[&ints(DType::I32, &[1], &[3])]), &[0]);
}

#[test]
fn half_types_round_once_per_op() {
    // In bf16, 1 + 2^-9 is not representable: the exact sum rounds to 1.
    let a = lit(DType::BF16, &[2], &[1.0, 256.0]);
    let b = lit(DType::BF16, &[2], &[1.0 / 512.0, 1.0]);
    assert_vals(&op(Add, &[], &[&a, &b]), &[1.0, 256.0]);
    let a = lit(DType::F16, &[1], &[2048.0]);
    let b = lit(DType::F16, &[1], &[3.0]);
    // 2051 is halfway between 2050 and 2052 in f16: ties to even gives 2052.
    assert_vals(&op(Add, &[], &[&a, &b]), &[2052.0]);
}

#[test]
fn logaddexp_and_arctan2_are_stable() {
    let a = lit(DType::F64, &[4], &[1000.0, f64::NEG_INFINITY, INF, 0.0]);
    let b = lit(DType::F64, &[4], &[1000.0, f64::NEG_INFINITY, INF, 0.0]);
    let r = op(LogAddExp, &[], &[&a, &b]);
    assert_vals(
        &r,
        &[
            1000.0 + std::f64::consts::LN_2,
            f64::NEG_INFINITY,
            INF,
            std::f64::consts::LN_2,
        ],
    );
    let r = op(
        Arctan2,
        &[],
        &[&f32s(&[2], &[1.0, -1.0]), &f32s(&[2], &[-1.0, 0.0])],
    );
    assert_vals(
        &r,
        &[
            (3.0 * std::f64::consts::FRAC_PI_4) as f32 as f64,
            -std::f64::consts::FRAC_PI_2 as f32 as f64,
        ],
    );
}

#[test]
fn complex_arithmetic() {
    let a = c64s(&[2], &[(1.0, 2.0), (3.0, -1.0)]);
    let b = c64s(&[2], &[(0.5, -1.0), (0.0, 2.0)]);
    assert_eq!(
        complex_vals(&op(Add, &[], &[&a, &b])),
        vec![(1.5, 1.0), (3.0, 1.0)]
    );
    assert_eq!(
        complex_vals(&op(Subtract, &[], &[&a, &b])),
        vec![(0.5, 3.0), (3.0, -3.0)]
    );
    assert_eq!(
        complex_vals(&op(Multiply, &[], &[&a, &b])),
        vec![(2.5, 0.0), (2.0, 6.0)]
    );
    assert_eq!(
        complex_vals(&op(Divide, &[], &[&a, &b])),
        vec![(-1.2, 1.6), (-0.5, -1.5)]
    );
    assert_eq!(
        complex_vals(&op(Negative, &[], &[&a])),
        vec![(-1.0, -2.0), (-3.0, 1.0)]
    );
    assert_eq!(
        complex_vals(&op(Abs, &[], &[&c64s(&[1], &[(3.0, 4.0)])])),
        vec![(5.0, 0.0)]
    );
    assert_eq!(
        complex_vals(&op(Sign, &[], &[&c64s(&[1], &[(3.0, 4.0)])])),
        vec![(0.6, 0.8)]
    );
    assert_eq!(
        complex_vals(&op(Sqrt, &[], &[&c64s(&[1], &[(-4.0, 0.0)])])),
        vec![(0.0, 2.0)]
    );
    let e = complex_vals(&op(
        Exp,
        &[],
        &[&c64s(&[1], &[(0.0, std::f32::consts::PI)])],
    ));
    assert!((e[0].0 + 1.0).abs() < 1e-6 && e[0].1.abs() < 1e-6);
    assert_ints(&op(Equal, &[], &[&a, &a]), &[1, 1]);
    assert_ints(
        &op(IsNan, &[], &[&c64s(&[2], &[(0.0, f32::NAN), (1.0, 1.0)])]),
        &[1, 0],
    );
    assert!(op_err(FloorDivide, &[], &[&a, &b]).contains("not defined for c64"));
}

#[test]
fn select_picks_per_element() {
    let c = bools(&[3], &[true, false, true]);
    let a = ints(DType::I64, &[3], &[1, 2, 3]);
    let b = ints(DType::I64, &[3], &[-1, -2, -3]);
    assert_ints(&op(Select, &[], &[&c, &a, &b]), &[1, -2, 3]);
}

#[test]
fn bitcast_reinterprets_bytes() {
    let x = f32s(&[2], &[1.0, -2.0]);
    let u = op(Bitcast, &[("dtype", Attr::DType(DType::U32))], &[&x]);
    assert_ints(&u, &[0x3f80_0000, 0xc000_0000]);
    let h = op(Bitcast, &[("dtype", Attr::DType(DType::U16))], &[&x]);
    assert_eq!(h.shape(), &[4]);
    assert_ints(&h, &[0, 0x3f80, 0, 0xc000]);
}

#[test]
fn bad_operands_name_the_problem() {
    let a = f32s(&[2], &[1.0, 2.0]);
    let b = f32s(&[3], &[1.0, 2.0, 3.0]);
    assert!(op_err(Add, &[], &[&a, &b]).contains("shapes differ"));
    let i = ints(DType::I32, &[2], &[1, 2]);
    assert!(op_err(Add, &[], &[&a, &i]).contains("dtypes differ"));
    assert!(op_err(Add, &[], &[&a]).contains("takes 2 operands"));
    assert!(op_err(Sqrt, &[], &[&i]).contains("float or complex"));
}

#[test]
fn casts_to_half_types_round_once() {
    // 2^60 + 2^52 + 1 is just above the halfway point between two bf16 values
    // (8 mantissa bits): rounding through f64 first would land on the tie.
    let v = (1i64 << 60) + (1 << 52) + 1;
    let b = op(
        Cast,
        &[("dtype", Attr::DType(DType::BF16))],
        &[&ints(DType::I64, &[1], &[v])],
    );
    assert_eq!(b.get_f64(0), ((1u64 << 60) + (1 << 53)) as f64);
    let x = lit(DType::F64, &[1], &[1.0 + 2f64.powi(-11) + 2f64.powi(-40)]);
    let h = op(Cast, &[("dtype", Attr::DType(DType::F16))], &[&x]);
    assert_eq!(h.get_f64(0), 1.0 + 2f64.powi(-10));
}
