//! MLX's CPU float32 math, composed from IR ops so that ops built on it
//! (`random::normal`, `random::truncated_normal`, `random::gumbel`,
//! `random::laplace`, the inverse-CDF `random::categorical`) give MLX's
//! values bit for bit, not merely close ones: the IR's own
//! `tensor.erfinv`/`tensor.exp`/`tensor.log` are correctly rounded, while
//! MLX's results come from other approximations that are off by up to a
//! few ulp.
//!
//! - `erf`, `erfinv` and `exp` are MLX's own polynomials
//!   (`mlx/backend/cpu/simd/math.h`). MLX evaluates them with fused
//!   multiply-adds. The IR has no fma, so [`fma_f32`] computes `a*b + c`
//!   exactly in f64 (the product of two f32 is exact there; TwoSum gives the
//!   addition's error) and corrects the one case where rounding that sum to
//!   f32 rounds twice, which makes the result the correctly rounded f32 fma.
//! - `log` and `log1p` MLX leaves to the C library (`std::log`,
//!   `std::log1p` on one float at a time; on Linux x86-64 there is no SIMD
//!   path). [`log_f32`] and [`log1p_f32`] are the algorithms of glibc's
//!   `logf` (since 2.27: a 16-entry table of `1/c`, `log c` and a cubic in
//!   f64, ULP error 0.82, so not correctly rounded) and `log1pf` (fdlibm's,
//!   all in f32). Both were checked against the glibc 2.36 `logf`/`log1pf`
//!   on every float: equal on all 2^32 inputs (with or without the fma
//!   variant of `logf` that glibc picks on FMA CPUs: its double-precision
//!   contractions never change the float result). MLX built against another
//!   C library (musl has the same `logf`, not the same `log1pf`; macOS uses
//!   Accelerate) can give other bits there.

#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

use super::elementwise::{
    try_add, try_bitwise_and, try_bitwise_or, try_divide, try_equal, try_floor, try_greater,
    try_greater_equal, try_isnan, try_left_shift, try_less, try_less_equal, try_logical_and,
    try_logical_or, try_multiply, try_negative, try_not_equal, try_right_shift, try_subtract,
    try_view, try_where,
};
use super::indexing::try_take;
use super::{cast_to, full_of};
use crate::array::Array;
use crate::error::Error;
use psionic_ir::DType;

const OP: &str = "mlx_math";

fn cast(x: &Array, d: DType) -> Result<Array, Error> {
    cast_to(OP, x, d)
}

/// Correctly rounded f32 `a * b + c` for f32 operands of one shape.
///
/// The product is exact in f64 and TwoSum gives the f64 sum `s` and its
/// error `e` exactly. Rounding `s` to f32 is then right except where `s`
/// lies exactly halfway between two floats while `e` is not zero: the
/// exact sum is then on `e`'s side of the midpoint, and that neighbour is
/// the result. (No 64-bit integers: the CPU backend compiles all of this.)
pub(crate) fn fma_f32(a: &Array, b: &Array, c: &Array) -> Result<Array, Error> {
    let (a, b, c) = (
        cast(a, DType::F64)?,
        cast(b, DType::F64)?,
        cast(c, DType::F64)?,
    );
    let p = try_multiply(&a, &b)?; // exact: 24 + 24 bits fit in 53
    let s = try_add(&p, &c)?;
    // TwoSum: s + e == p + c exactly.
    let bb = try_subtract(&s, &p)?;
    let e = try_add(
        &try_subtract(&p, &try_subtract(&s, &bb)?)?,
        &try_subtract(&c, &bb)?,
    )?;
    let r = cast(&s, DType::F32)?;
    let r64 = cast(&r, DType::F64)?;
    let d = try_subtract(&s, &r64)?; // exact
                                     // The float next to r on s's side (r is never 0 where it matters).
    let bits = try_view(&r, DType::U32)?;
    let away = try_equal(&try_greater(&d, 0.0)?, &try_greater(&r, 0.0f32)?)?;
    let next = try_view(
        &try_where(&away, &try_add(&bits, 1u32)?, &try_subtract(&bits, 1u32)?)?,
        DType::F32,
    )?;
    let gap = try_subtract(&cast(&next, DType::F64)?, &r64)?;
    let halfway = try_logical_and(
        &try_not_equal(&d, 0.0)?,
        &try_equal(&try_multiply(&d, 2.0)?, &gap)?,
    )?;
    let same_side = try_equal(&try_greater(&e, 0.0)?, &try_greater(&d, 0.0)?)?;
    let fix = try_logical_and(
        &try_logical_and(&halfway, &try_not_equal(&e, 0.0)?)?,
        &try_logical_and(&same_side, &try_not_equal(&r, 0.0f32)?)?,
    )?;
    try_where(&fix, &next, &r)
}

/// `fma_f32(a, b, c)` with `b` an f32 array and `a`, `c` constants.
fn fma_cc(a: f32, b: &Array, c: f32) -> Result<Array, Error> {
    let a = full_of(OP, b.shape(), DType::F32, a as f64)?;
    let c = full_of(OP, b.shape(), DType::F32, c as f64)?;
    fma_f32(&a, b, &c)
}

/// `fma_f32(a, b, c)` with a constant `c`.
fn fma_c(a: &Array, b: &Array, c: f32) -> Result<Array, Error> {
    let c = full_of(OP, b.shape(), DType::F32, c as f64)?;
    fma_f32(a, b, &c)
}

/// Horner's rule with fmas: `((c[0] t + c[1]) t + ...) t + c[n-1]`.
fn horner(coeffs: &[f32], t: &Array) -> Result<Array, Error> {
    let mut p = fma_cc(coeffs[0], t, coeffs[1])?;
    for &c in &coeffs[2..] {
        p = fma_c(&p, t, c)?;
    }
    Ok(p)
}

/// MLX's CPU `exp` of an f32 array (Cephes-style 2^x split, `math.h`).
// MLX's source multiplies by this literal (not `LOG2_E`): keep it for bit-exactness.
#[allow(clippy::approx_constant)]
pub(crate) fn exp_f32(x0: &Array) -> Result<Array, Error> {
    let x = try_multiply(x0, 1.442695f32)?;
    // `floor(x + 0.5)` adds a double in MLX's source.
    let ipart = cast(
        &try_floor(&try_add(&cast(&x, DType::F64)?, 0.5)?)?,
        DType::F32,
    )?;
    let fpart = try_subtract(&x, &ipart)?;
    let p = horner(
        &[
            1.535336188319500e-4,
            1.339887440266574e-3,
            9.618437357674640e-3,
            5.550332471162809e-2,
            2.402264791363012e-1,
            6.931472028550421e-1,
            1.0,
        ],
        &fpart,
    )?;
    let e = try_left_shift(&try_add(&cast(&ipart, DType::I32)?, 127)?, 23)?;
    let r = try_multiply(&try_view(&e, DType::F32)?, &p)?;
    let r = try_where(&try_isnan(x0)?, x0, &r)?;
    let r = try_where(&try_greater(x0, 88.0)?, f32::INFINITY, &r)?;
    try_where(&try_less(x0, -88.0)?, 0.0, &r)
}

/// MLX's CPU `erf` (Abramowitz-Stegun 7.1.26 with fmas); float inputs of
/// any width compute in f32 and round to their dtype, as MLX's do.
pub(crate) fn erf(x: &Array) -> Result<Array, Error> {
    let dtype = x.dtype();
    let v = cast(x, DType::F32)?;
    let av = super::elementwise::try_abs(&v)?;
    let den = fma_cc(0.3275911, &av, 1.0)?;
    let t = super::elementwise::try_divide(1.0f32, &den)?;
    let r = horner(
        &[
            1.061405429,
            -1.453152027,
            1.421413741,
            -0.284496736,
            0.254829592,
        ],
        &t,
    )?;
    let e = try_negative(&exp_f32(&try_multiply(&try_negative(&v)?, &v)?)?)?;
    let et = try_multiply(&e, &t)?;
    let result = cast(&fma_c(&et, &r, 1.0)?, dtype)?;
    try_where(&try_greater(x, 0.0)?, &result, &try_negative(&result)?)
}

/// MLX's CPU `erfinv` (Giles' single-precision polynomials with fmas).
pub(crate) fn erfinv(x: &Array) -> Result<Array, Error> {
    let dtype = x.dtype();
    let a = cast(x, DType::F32)?;
    let t = fma_f32(
        &a,
        &try_negative(&a)?,
        &full_of(OP, a.shape(), DType::F32, 1.0)?,
    )?;
    let t = log_f32(&t)?;
    let lhs = horner(
        &[
            3.03697567e-10,
            2.93243101e-8,
            1.22150334e-6,
            2.84108955e-5,
            3.93552968e-4,
            3.02698812e-3,
            4.83185798e-3,
            -2.64646143e-1,
            8.40016484e-1,
        ],
        &t,
    )?;
    let rhs = horner(
        &[
            5.43877832e-9,
            1.43285448e-7,
            1.22774793e-6,
            1.12963626e-7,
            -5.61530760e-5,
            -1.47697632e-4,
            2.31468678e-3,
            1.15392581e-2,
            -2.32015476e-1,
            8.86226892e-1,
        ],
        &t,
    )?;
    let big = try_greater(&super::elementwise::try_abs(&t)?, 6.125)?;
    let p = try_where(&big, &lhs, &rhs)?;
    cast(&try_multiply(&a, &p)?, dtype)
}

/// `1/c` and `log(c)` for the 16 subintervals of `[0x3f330000, 2 * 0x3f330000)`
/// that glibc's `logf` splits the reduced argument into (f64 bit patterns).
const LOGF_INVC: [u64; 16] = [
    0x3ff661ec79f8f3be,
    0x3ff571ed4aaf883d,
    0x3ff49539f0f010b0,
    0x3ff3c995b0b80385,
    0x3ff30d190c8864a5,
    0x3ff25e227b0b8ea0,
    0x3ff1bb4a4a1a343f,
    0x3ff12358f08ae5ba,
    0x3ff0953f419900a7,
    0x3ff0000000000000,
    0x3fee608cfd9a47ac,
    0x3feca4b31f026aa0,
    0x3feb2036576afce6,
    0x3fe9c2d163a1aa2d,
    0x3fe886e6037841ed,
    0x3fe767dcf5534862,
];
const LOGF_LOGC: [u64; 16] = [
    0xbfd57bf7808caade,
    0xbfd2bef0a7c06ddb,
    0xbfd01eae7f513a67,
    0xbfcb31d8a68224e9,
    0xbfc6574f0ac07758,
    0xbfc1aa2bc79c8100,
    0xbfba4e76ce8c0e5e,
    0xbfb1973c5a611ccc,
    0xbfa252f438e10c1e,
    0x0000000000000000,
    0x3faaa5aa5df25984,
    0x3fbc5e53aa362eb4,
    0x3fc526e57720db08,
    0x3fcbc2860d224770,
    0x3fd1058bc8a07ee1,
    0x3fd4043057b6ee09,
];
/// `ln 2` and the cubic's coefficients (of `r^4`, `r^3`, `r^2`) in f64.
const LOGF_LN2: u64 = 0x3fe62e42fefa39ef;
const LOGF_POLY: [u64; 3] = [0xbfd00ea348b88334, 0x3fd5575b0be00b6a, 0xbfdffffef20a4123];

fn f64_const(bits: u64) -> Array {
    Array::from_scalar(f64::from_bits(bits))
}

fn f64_table(bits: &[u64]) -> Array {
    let v: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
    Array::from_slice(&v, &[v.len() as i32])
}

/// glibc's `logf` of an f32 array (see the module docs).
pub(crate) fn log_f32(x: &Array) -> Result<Array, Error> {
    let x = cast(x, DType::F32)?;
    let ix = try_view(&x, DType::U32)?;
    // Subnormals: scale by 2^23 and take the 23 back from the exponent.
    let sub = try_subtract(
        &try_view(&try_multiply(&x, 8388608.0f32)?, DType::U32)?,
        23u32 << 23,
    )?;
    let ix = try_where(&try_less(&ix, 0x0080_0000u32)?, &sub, &ix)?;
    // x = 2^k z with z in [OFF, 2 OFF); the top 4 bits of z's mantissa
    // above OFF pick the subinterval.
    let tmp = try_subtract(&ix, 0x3f33_0000u32)?;
    let i = try_bitwise_and(&try_right_shift(&tmp, 19u32)?, 15u32)?;
    let k = try_right_shift(&try_view(&tmp, DType::I32)?, 23i32)?;
    let iz = try_subtract(&ix, &try_bitwise_and(&tmp, 0xff80_0000u32)?)?;
    let invc = try_take(&f64_table(&LOGF_INVC), &i, None)?;
    let logc = try_take(&f64_table(&LOGF_LOGC), &i, None)?;
    let z = cast(&try_view(&iz, DType::F32)?, DType::F64)?;
    let r = try_subtract(&try_multiply(&z, &invc)?, 1.0f64)?;
    let y0 = try_add(
        &logc,
        &try_multiply(&cast(&k, DType::F64)?, f64_const(LOGF_LN2))?,
    )?;
    let r2 = try_multiply(&r, &r)?;
    let y = try_add(
        &try_multiply(f64_const(LOGF_POLY[1]), &r)?,
        f64_const(LOGF_POLY[2]),
    )?;
    let y = try_add(&try_multiply(f64_const(LOGF_POLY[0]), &r2)?, &y)?;
    let y = try_add(&try_multiply(&y, &r2)?, &try_add(&y0, &r)?)?;
    let y = cast(&y, DType::F32)?;
    // log(1) = +0; log(+-0) = -inf; log(inf) = inf; log(x < 0) and NaN: NaN.
    let y = try_where(&try_equal(&x, 1.0f32)?, 0.0f32, &y)?;
    let y = try_where(&try_equal(&x, 0.0f32)?, f32::NEG_INFINITY, &y)?;
    let y = try_where(&try_equal(&x, f32::INFINITY)?, f32::INFINITY, &y)?;
    let bad = try_logical_or(&try_less(&x, 0.0f32)?, &try_isnan(&x)?)?;
    try_where(&bad, f32::NAN, &y)
}

/// glibc's (fdlibm's) `log1pf` of an f32 array, every step in f32 as there
/// (see the module docs): `x = 2^k (1 + f) - c`, `log1p(x) = k ln2 +
/// log(1 + f) + c / u`, with `log(1 + f)` from `s = f / (2 + f)` and a
/// degree-7 polynomial in `s^2`; `k = 0` near zero, where `f = x`.
pub(crate) fn log1p_f32(x: &Array) -> Result<Array, Error> {
    let x = cast(x, DType::F32)?;
    let f32c = |v: u32| Array::from_scalar(f32::from_bits(v));
    let (ln2_hi, ln2_lo) = (f32c(0x3f31_7180), f32c(0x3717_f7d1));
    let hx = try_view(&x, DType::I32)?;
    let ax = try_bitwise_and(&hx, 0x7fff_ffffi32)?;
    // k = 0 and f = x for -0.2929 < x < 0.41422.
    let small = try_logical_and(
        &try_less(&hx, 0x3ed4_13d7i32)?,
        &try_logical_or(
            &try_greater(&hx, 0i32)?,
            &try_less_equal(&hx, 0xbe95_f61fu32 as i32)?,
        )?,
    )?;
    // Otherwise u = 1 + x (or x itself when 1 is lost in it) splits into
    // 2^k times a mantissa in [sqrt(2)/2, sqrt(2)), c corrects 1 + x's rounding.
    let big = try_greater_equal(&hx, 0x5a00_0000i32)?;
    let u = try_where(&big, &x, &try_add(&x, 1.0f32)?)?;
    let hu = try_view(&u, DType::I32)?;
    let k = try_subtract(&try_right_shift(&hu, 23i32)?, 127i32)?;
    let c_pos = try_subtract(1.0f32, &try_subtract(&u, &x)?)?;
    let c_neg = try_subtract(&x, &try_subtract(&u, 1.0f32)?)?;
    let c = try_divide(&try_where(&try_greater(&k, 0i32)?, &c_pos, &c_neg)?, &u)?;
    let c = try_where(&big, 0.0f32, &c)?;
    let m = try_bitwise_and(&hu, 0x007f_ffffi32)?;
    let low = try_less(&m, 0x0035_04f7i32)?;
    let u_low = try_view(&try_bitwise_or(&m, 0x3f80_0000i32)?, DType::F32)?;
    let u_high = try_view(&try_bitwise_or(&m, 0x3f00_0000i32)?, DType::F32)?;
    let k = try_where(&low, &k, &try_add(&k, 1i32)?)?;
    let hu = try_where(
        &low,
        &m,
        &try_right_shift(&try_subtract(0x0080_0000i32, &m)?, 2i32)?,
    )?;
    let f = try_subtract(&try_where(&low, &u_low, &u_high)?, 1.0f32)?;
    // The k = 0 range.
    let f = try_where(&small, &x, &f)?;
    let k = try_where(&small, 0i32, &k)?;
    let hu = try_where(&small, 1i32, &hu)?;
    let c = try_where(&small, 0.0f32, &c)?;

    let kf = cast(&k, DType::F32)?;
    let k_lo_c = try_add(&try_multiply(&kf, &ln2_lo)?, &c)?;
    let k_hi = try_multiply(&kf, &ln2_hi)?;
    let k_zero = try_equal(&k, 0i32)?;
    let hfsq = try_multiply(&try_multiply(&f, 0.5f32)?, &f)?;
    // |f| < 2^-20: a two-term series.
    let r_tiny = try_multiply(
        &hfsq,
        &try_subtract(1.0f32, &try_multiply(&f, 0.666_666_7f32)?)?,
    )?;
    let tiny = try_where(
        &k_zero,
        &try_subtract(&f, &r_tiny)?,
        &try_subtract(&k_hi, &try_subtract(&try_subtract(&r_tiny, &k_lo_c)?, &f)?)?,
    )?;
    let exact_pow2 = try_where(&k_zero, 0.0f32, &try_add(&k_hi, &k_lo_c)?)?;
    let tiny = try_where(&try_equal(&f, 0.0f32)?, &exact_pow2, &tiny)?;
    // Otherwise the polynomial in s^2.
    let s = try_divide(&f, &try_add(&f, 2.0f32)?)?;
    let z = try_multiply(&s, &s)?;
    let lp = [
        0x3f2a_aaab,
        0x3ecc_cccd,
        0x3e92_4925,
        0x3e63_8e29,
        0x3e3a_3325,
        0x3e1c_d04f,
        0x3e17_8897,
    ];
    let mut r = f32c(lp[6]);
    for &c in lp[..6].iter().rev() {
        r = try_add(f32c(c), &try_multiply(&z, &r)?)?;
    }
    let r = try_multiply(&z, &r)?;
    let shr = try_multiply(&s, &try_add(&hfsq, &r)?)?;
    let general = try_where(
        &k_zero,
        &try_subtract(&f, &try_subtract(&hfsq, &shr)?)?,
        &try_subtract(
            &k_hi,
            &try_subtract(&try_subtract(&hfsq, &try_add(&shr, &k_lo_c)?)?, &f)?,
        )?,
    )?;
    let y = try_where(&try_equal(&hu, 0i32)?, &tiny, &general)?;
    // |x| < 2^-29: x - x^2/2, or x itself below 2^-54.
    let y = try_where(
        &try_less(&ax, 0x3100_0000i32)?,
        &try_where(
            &try_less(&ax, 0x2480_0000i32)?,
            &x,
            &try_subtract(&x, &try_multiply(&try_multiply(&x, &x)?, 0.5f32)?)?,
        )?,
        &y,
    )?;
    // log1p(-1) = -inf, below -1 NaN, +inf and NaN themselves.
    let y = try_where(&try_equal(&x, -1.0f32)?, f32::NEG_INFINITY, &y)?;
    let y = try_where(&try_less(&x, -1.0f32)?, f32::NAN, &y)?;
    let special = try_logical_or(&try_greater_equal(&hx, 0x7f80_0000i32)?, &try_isnan(&x)?)?;
    try_where(&special, &try_add(&x, &x)?, &y)
}

/// MLX's CPU `log` of a float array: glibc's `logf` for f32, f16 and bf16
/// (computed in f32, rounded to the dtype), the IR's `log` for f64.
pub(crate) fn log(x: &Array) -> Result<Array, Error> {
    match x.dtype() {
        DType::F32 => log_f32(x),
        d @ (DType::F16 | DType::BF16) => cast(&log_f32(x)?, d),
        _ => super::elementwise::try_log(x),
    }
}

/// MLX's CPU `log1p` of a float array, as [`log`] with glibc's `log1pf`.
pub(crate) fn log1p(x: &Array) -> Result<Array, Error> {
    match x.dtype() {
        DType::F32 => log1p_f32(x),
        d @ (DType::F16 | DType::BF16) => cast(&log1p_f32(x)?, d),
        _ => super::elementwise::try_log1p(x),
    }
}
