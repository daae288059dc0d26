//! MLX's CPU float32 approximations of `erf`, `erfinv` and `exp`
//! (`mlx/backend/cpu/simd/math.h`), composed from IR ops so that ops built
//! on them (`random::normal`, `random::truncated_normal`, the inverse-CDF
//! `random::categorical`) give MLX's values bit for bit, not merely close
//! ones: the IR's own `tensor.erfinv`/`tensor.exp` are correctly rounded,
//! while MLX's polynomials are off by up to a few ulp.
//!
//! MLX evaluates these polynomials with fused multiply-adds. The IR has no
//! fma, so [`fma_f32`] computes `a*b + c` exactly in f64 (the product of two
//! f32 is exact there; TwoSum gives the addition's error) and rounds the sum
//! to odd before the final rounding to f32, which makes the result the
//! correctly rounded f32 fma (Boldo and Melquiond, round-to-odd).
//!
//! The one call MLX leaves to the platform is `std::log` inside `erfinv`;
//! here it is the IR's correctly rounded `log`, which a libm may round the
//! other way now and then (glibc's `logf` does for about 0.7% of inputs),
//! so `erfinv` can differ from MLX by an ulp where that happens.

#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

use super::elementwise::{
    try_add, try_bitwise_and, try_equal, try_floor, try_greater, try_isnan, try_left_shift,
    try_less, try_log, try_logical_and, try_multiply, try_negative, try_not_equal, try_subtract,
    try_view, try_where,
};
use super::{cast_to, full_of};
use crate::array::Array;
use crate::error::Error;
use psionic_ir::DType;

const OP: &str = "mlx_math";

fn cast(x: &Array, d: DType) -> Result<Array, Error> {
    cast_to(OP, x, d)
}

/// Correctly rounded f32 `a * b + c` for f32 operands of one shape.
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
    // Round to odd: an inexact sum with an even last bit moves one f64 ulp
    // toward the exact value.
    let bits = try_view(&s, DType::U64)?;
    let even = try_equal(&try_bitwise_and(&bits, 1u32)?, 0u32)?;
    let inexact = try_not_equal(&e, 0.0)?;
    let nudge = try_logical_and(&even, &inexact)?;
    let same_sign = try_equal(&try_greater(&e, 0.0)?, &try_greater(&s, 0.0)?)?;
    let one = full_of(OP, &[], DType::U64, 1.0)?;
    let up = try_add(&bits, &one)?;
    let down = try_subtract(&bits, &one)?;
    let moved = try_where(&same_sign, &up, &down)?;
    let odd = try_view(&try_where(&nudge, &moved, &bits)?, DType::F64)?;
    cast(&odd, DType::F32)
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
    let t = try_log(&t)?;
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
