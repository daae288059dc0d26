//! Reductions (`sum, prod, max, min, all, any, mean, var, std, logsumexp,
//! argmax, argmin`), `softmax`, and scans (`cumsum, cumprod, cummax, cummin,
//! logcumsumexp`) with MLX's axis and dtype rules.

use super::elementwise::{
    try_divide, try_maximum, try_multiply, try_sqrt, try_square, try_subtract,
};
use super::shape::try_reshape;
use super::{at_least_float, cast_to, infallible, norm_axes, norm_axis, Axes};
use crate::array::{build1, Array};
use crate::error::Error;
use psionic_ir::{Attr, Attrs, DType, Opcode};

fn reduce(op: &str, opcode: Opcode, x: &Array, axes: Axes, keepdims: bool) -> Result<Array, Error> {
    x.check()?;
    let axes = norm_axes(op, &axes, x.ndim())?;
    build1(
        op,
        opcode,
        vec![x.clone()],
        Attrs::new()
            .with("axes", Attr::Ints(axes))
            .with("keepdims", Attr::Bool(keepdims)),
    )
}

/// MLX accumulates sums and products of small integers in 32 bits.
fn sum_dtype(d: DType) -> DType {
    match d {
        DType::Bool => DType::I32,
        d if d.is_signed_integer() => {
            if d.size() <= 4 {
                DType::I32
            } else {
                DType::I64
            }
        }
        d if d.is_unsigned_integer() => {
            if d.size() <= 4 {
                DType::U32
            } else {
                DType::U64
            }
        }
        d => d,
    }
}

/// Sum over `axes` (integers accumulate as i32/u32 or 64-bit, bool as i32).
pub fn try_sum(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    let c = cast_to("sum", x, sum_dtype(x.dtype()))?;
    reduce("sum", Opcode::ReduceSum, &c, axes.into(), keepdims)
}
/// Product over `axes` (integer dtypes as for `sum`).
pub fn try_prod(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    let c = cast_to("prod", x, sum_dtype(x.dtype()))?;
    reduce("prod", Opcode::ReduceProd, &c, axes.into(), keepdims)
}
/// Maximum over `axes`.
pub fn try_max(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    reduce("max", Opcode::ReduceMax, x, axes.into(), keepdims)
}
/// Minimum over `axes`.
pub fn try_min(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    reduce("min", Opcode::ReduceMin, x, axes.into(), keepdims)
}
/// True where every element over `axes` is non-zero.
pub fn try_all(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    reduce("all", Opcode::ReduceAll, x, axes.into(), keepdims)
}
/// True where some element over `axes` is non-zero.
pub fn try_any(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    reduce("any", Opcode::ReduceAny, x, axes.into(), keepdims)
}

/// The element count over `axes` (or its inverse) as a 0-d `dtype`.
fn count(op: &str, x: &Array, axes: &[i64], inverted: bool, dtype: DType) -> Result<Array, Error> {
    build1(
        op,
        Opcode::NumberOfElements,
        vec![x.clone()],
        Attrs::new()
            .with("axes", Attr::Ints(axes.to_vec()))
            .with("inverted", Attr::Bool(inverted))
            .with("dtype", Attr::DType(dtype)),
    )
}

/// Mean over `axes` (integers give f32), as MLX: `sum * (1 / count)`.
pub fn try_mean(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    x.check()?;
    let axes = norm_axes("mean", &axes.into(), x.ndim())?;
    let dtype = at_least_float(x.dtype());
    let s = try_sum(
        x,
        Axes::List(axes.iter().map(|&a| a as i32).collect()),
        keepdims,
    )?;
    let inv = count("mean", x, &axes, true, dtype)?;
    let m = try_multiply(&s, &inv)?;
    cast_to("mean", &m, dtype)
}

/// Variance over `axes` with `ddof` delta degrees of freedom.
pub fn try_var(
    x: &Array,
    axes: impl Into<Axes>,
    keepdims: bool,
    ddof: i32,
) -> Result<Array, Error> {
    x.check()?;
    let axes = norm_axes("var", &axes.into(), x.ndim())?;
    let list = Axes::List(axes.iter().map(|&a| a as i32).collect());
    let dtype = at_least_float(x.dtype());
    let xf = cast_to("var", x, dtype)?;
    let mu = try_mean(&xf, list.clone(), true)?;
    let d = try_subtract(&xf, &mu)?;
    let v = try_mean(&try_square(&d)?, list, keepdims)?;
    if ddof == 0 {
        return Ok(v);
    }
    let n = count("var", x, &axes, false, dtype)?;
    let dof = try_maximum(&try_subtract(&n, ddof as f64)?, 0.0)?;
    let factor = try_divide(&n, &dof)?;
    try_multiply(&v, &factor)
}

/// Standard deviation: `sqrt(var)`.
pub fn try_std(
    x: &Array,
    axes: impl Into<Axes>,
    keepdims: bool,
    ddof: i32,
) -> Result<Array, Error> {
    try_sqrt(&try_var(x, axes, keepdims, ddof)?)
}

/// `log(sum(exp(x)))` over `axes`, computed stably (integers give f32).
pub fn try_logsumexp(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Result<Array, Error> {
    let c = cast_to("logsumexp", x, at_least_float(x.dtype()))?;
    reduce("logsumexp", Opcode::LogSumExp, &c, axes.into(), keepdims)
}

fn arg_reduce(
    op: &str,
    opcode: Opcode,
    x: &Array,
    axis: Option<i32>,
    keepdims: bool,
) -> Result<Array, Error> {
    x.check()?;
    let none_axis = axis.is_none();
    let (src, axis) = match axis {
        Some(a) => (x.clone(), norm_axis(op, a as i64, x.ndim())?),
        None => (try_reshape(x, &[-1])?, 0),
    };
    let r = build1(
        op,
        opcode,
        vec![src],
        Attrs::new()
            .with("axis", Attr::Int(axis as i64))
            .with("keepdims", Attr::Bool(keepdims)),
    )?;
    if none_axis && keepdims && x.ndim() != 1 {
        // Every axis of the input is kept as size 1.
        return try_reshape(&r, &vec![1; x.ndim()]);
    }
    Ok(r)
}

/// Index (u32) of the first maximum along `axis` (`None`: of the flattened array).
pub fn try_argmax(x: &Array, axis: Option<i32>, keepdims: bool) -> Result<Array, Error> {
    arg_reduce("argmax", Opcode::Argmax, x, axis, keepdims)
}
/// Index (u32) of the first minimum along `axis` (`None`: of the flattened array).
pub fn try_argmin(x: &Array, axis: Option<i32>, keepdims: bool) -> Result<Array, Error> {
    arg_reduce("argmin", Opcode::Argmin, x, axis, keepdims)
}

/// `exp(x - max) / sum(exp(x - max))` over `axes`; `precise` accumulates
/// half types in f32. Integers give f32.
pub fn try_softmax(x: &Array, axes: impl Into<Axes>, precise: bool) -> Result<Array, Error> {
    x.check()?;
    let axes = norm_axes("softmax", &axes.into(), x.ndim())?;
    let c = cast_to("softmax", x, at_least_float(x.dtype()))?;
    build1(
        "softmax",
        Opcode::Softmax,
        vec![c],
        Attrs::new()
            .with("axes", Attr::Ints(axes))
            .with("precise", Attr::Bool(precise)),
    )
}

fn scan(
    op: &str,
    opcode: Opcode,
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    x.check()?;
    let (src, axis) = match axis {
        Some(a) => (x.clone(), norm_axis(op, a as i64, x.ndim())?),
        None => (try_reshape(x, &[-1])?, 0),
    };
    build1(
        op,
        opcode,
        vec![src],
        Attrs::new()
            .with("axis", Attr::Int(axis as i64))
            .with("reverse", Attr::Bool(reverse))
            .with("inclusive", Attr::Bool(inclusive)),
    )
}

/// Running sum along `axis` (`None`: over the flattened array).
pub fn try_cumsum(
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    scan("cumsum", Opcode::Cumsum, x, axis, reverse, inclusive)
}
/// Running product along `axis`.
pub fn try_cumprod(
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    scan("cumprod", Opcode::Cumprod, x, axis, reverse, inclusive)
}
/// Running maximum along `axis`.
pub fn try_cummax(
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    scan("cummax", Opcode::Cummax, x, axis, reverse, inclusive)
}
/// Running minimum along `axis`.
pub fn try_cummin(
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    scan("cummin", Opcode::Cummin, x, axis, reverse, inclusive)
}
/// Running `logaddexp` along `axis` (integers give f32).
pub fn try_logcumsumexp(
    x: &Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
) -> Result<Array, Error> {
    let c = cast_to("logcumsumexp", x, at_least_float(x.dtype()))?;
    scan(
        "logcumsumexp",
        Opcode::CumLogAddExp,
        &c,
        axis,
        reverse,
        inclusive,
    )
}

/// See [`try_sum`].
pub fn sum(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_sum(x, axes, keepdims))
}
/// See [`try_prod`].
pub fn prod(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_prod(x, axes, keepdims))
}
/// See [`try_max`].
pub fn max(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_max(x, axes, keepdims))
}
/// See [`try_min`].
pub fn min(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_min(x, axes, keepdims))
}
/// See [`try_all`].
pub fn all(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_all(x, axes, keepdims))
}
/// See [`try_any`].
pub fn any(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_any(x, axes, keepdims))
}
/// See [`try_mean`].
pub fn mean(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_mean(x, axes, keepdims))
}
/// See [`try_var`].
pub fn var(x: &Array, axes: impl Into<Axes>, keepdims: bool, ddof: i32) -> Array {
    crate::array::lift(try_var(x, axes, keepdims, ddof))
}
/// See [`try_std`].
pub fn std(x: &Array, axes: impl Into<Axes>, keepdims: bool, ddof: i32) -> Array {
    crate::array::lift(try_std(x, axes, keepdims, ddof))
}
/// See [`try_logsumexp`].
pub fn logsumexp(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    crate::array::lift(try_logsumexp(x, axes, keepdims))
}
/// See [`try_softmax`].
pub fn softmax(x: &Array, axes: impl Into<Axes>, precise: bool) -> Array {
    crate::array::lift(try_softmax(x, axes, precise))
}

infallible! {
    /// See [`try_argmax`].
    fn argmax = try_argmax(x: &Array, axis: Option<i32>, keepdims: bool);
    /// See [`try_argmin`].
    fn argmin = try_argmin(x: &Array, axis: Option<i32>, keepdims: bool);
    /// See [`try_cumsum`].
    fn cumsum = try_cumsum(x: &Array, axis: Option<i32>, reverse: bool, inclusive: bool);
    /// See [`try_cumprod`].
    fn cumprod = try_cumprod(x: &Array, axis: Option<i32>, reverse: bool, inclusive: bool);
    /// See [`try_cummax`].
    fn cummax = try_cummax(x: &Array, axis: Option<i32>, reverse: bool, inclusive: bool);
    /// See [`try_cummin`].
    fn cummin = try_cummin(x: &Array, axis: Option<i32>, reverse: bool, inclusive: bool);
    /// See [`try_logcumsumexp`].
    fn logcumsumexp = try_logcumsumexp(x: &Array, axis: Option<i32>, reverse: bool, inclusive: bool);
}

/// `|a - b| <= atol + rtol * |b|` elementwise (NaNs equal when `equal_nan`).
pub fn try_isclose(
    a: &Array,
    b: &Array,
    rtol: f64,
    atol: f64,
    equal_nan: bool,
) -> Result<Array, Error> {
    use super::elementwise::{try_abs, try_isnan, try_less_equal, try_logical_and, try_logical_or};
    let diff = try_abs(&try_subtract(a, b)?)?;
    let bound = super::elementwise::try_add(&try_multiply(&try_abs(b)?, rtol)?, atol)?;
    // Equal infinities are close; `inf - inf` is NaN.
    let same = super::elementwise::try_equal(a, b)?;
    let close = try_logical_or(&try_less_equal(&diff, &bound)?, &same)?;
    if !equal_nan {
        return Ok(close);
    }
    let both_nan = try_logical_and(&try_isnan(a)?, &try_isnan(b)?)?;
    try_logical_or(&close, &both_nan)
}

/// True when every element is close (see [`try_isclose`]).
pub fn try_allclose(
    a: &Array,
    b: &Array,
    rtol: f64,
    atol: f64,
    equal_nan: bool,
) -> Result<Array, Error> {
    try_all(&try_isclose(a, b, rtol, atol, equal_nan)?, Axes::All, false)
}

/// True when `a` and `b` have one shape and equal elements (any dtypes).
pub fn try_array_equal(a: &Array, b: &Array, equal_nan: bool) -> Result<Array, Error> {
    a.check()?;
    b.check()?;
    if a.shape() != b.shape() {
        return super::full_of("array_equal", &[], DType::Bool, 0.0);
    }
    let eq = super::elementwise::try_equal(a, b)?;
    let eq = if equal_nan {
        let both = super::elementwise::try_logical_and(
            &super::elementwise::try_isnan(a)?,
            &super::elementwise::try_isnan(b)?,
        )?;
        super::elementwise::try_logical_or(&eq, &both)?
    } else {
        eq
    };
    try_all(&eq, Axes::All, false)
}

infallible! {
    /// See [`try_isclose`].
    fn isclose = try_isclose(a: &Array, b: &Array, rtol: f64, atol: f64, equal_nan: bool);
    /// See [`try_allclose`].
    fn allclose = try_allclose(a: &Array, b: &Array, rtol: f64, atol: f64, equal_nan: bool);
    /// See [`try_array_equal`].
    fn array_equal = try_array_equal(a: &Array, b: &Array, equal_nan: bool);
}
