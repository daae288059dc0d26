//! Array creation with MLX names: `array`, `zeros`, `ones`, `full`,
//! `zeros_like`, `ones_like`, `arange`, `linspace`, `eye`, `identity`,
//! `tri`, `tril`, `triu`.

use super::elementwise::{
    scalar_array, try_divide, try_equal, try_less_equal, try_subtract, try_where,
};
use super::{cast_to, dims, full_of, infallible};
use crate::array::{build1, Array, Element, Scalar};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Literal, Opcode};

/// An array of `shape` from row-major host data.
pub fn try_array<T: Element>(data: &[T], shape: &[i32]) -> Result<Array, Error> {
    let dims_ = dims("array", shape)?;
    let n = dims_
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d as usize));
    if n != Some(data.len()) {
        return Err(Error::new(
            "array",
            format!(
                "{} values given for shape {}",
                data.len(),
                shape_str(&dims_)
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(data.len() * T::DTYPE.size());
    for &v in data {
        v.write_le(&mut bytes);
    }
    let lit = Literal::from_bytes(T::DTYPE, dims_.iter().map(|&d| d as usize).collect(), bytes)
        .map_err(|e| Error::new("array", e.0))?;
    Ok(Array::from_literal(lit))
}

/// A 0-d array holding `v`.
pub fn scalar<T: Element>(v: T) -> Array {
    let mut bytes = Vec::with_capacity(T::DTYPE.size());
    v.write_le(&mut bytes);
    match Literal::from_bytes(T::DTYPE, Vec::new(), bytes) {
        Ok(l) => Array::from_literal(l),
        Err(e) => Array::from_error(Error::new("array", e.0)),
    }
}

impl Array {
    /// See [`try_array`]; a failure is recorded in the array.
    pub fn from_slice<T: Element>(data: &[T], shape: &[i32]) -> Array {
        crate::array::lift(try_array(data, shape))
    }
    /// See [`scalar`].
    pub fn from_scalar<T: Element>(v: T) -> Array {
        scalar(v)
    }
}

macro_rules! from_scalar {
    ($($t:ty),*) => {$(
        impl From<$t> for Array {
            fn from(v: $t) -> Array {
                scalar(v)
            }
        }
    )*};
}
from_scalar!(
    bool,
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    f32,
    f64,
    half::f16,
    half::bf16
);

/// An array of `shape` filled with `value` converted to `dtype`.
pub fn try_full(shape: &[i32], value: f64, dtype: DType) -> Result<Array, Error> {
    full_of("full", &dims("full", shape)?, dtype, value)
}
/// Zeros of `shape` and `dtype`.
pub fn try_zeros(shape: &[i32], dtype: DType) -> Result<Array, Error> {
    full_of("zeros", &dims("zeros", shape)?, dtype, 0.0)
}
/// Ones of `shape` and `dtype`.
pub fn try_ones(shape: &[i32], dtype: DType) -> Result<Array, Error> {
    full_of("ones", &dims("ones", shape)?, dtype, 1.0)
}
/// Zeros of the shape and dtype of `x`.
pub fn try_zeros_like(x: &Array) -> Result<Array, Error> {
    x.check()?;
    scalar_array("zeros_like", Scalar::Int(0), x.dtype(), x.shape(), &[x])
}
/// Ones of the shape and dtype of `x`.
pub fn try_ones_like(x: &Array) -> Result<Array, Error> {
    x.check()?;
    scalar_array("ones_like", Scalar::Int(1), x.dtype(), x.shape(), &[x])
}
/// `value` in the shape and dtype of `x`.
pub fn try_full_like(x: &Array, value: f64) -> Result<Array, Error> {
    x.check()?;
    scalar_array(
        "full_like",
        Scalar::Float(value),
        x.dtype(),
        x.shape(),
        &[x],
    )
}

/// `start, start + step, ...` below `stop`, as `dtype`.
pub fn try_arange_dtype(start: f64, stop: f64, step: f64, dtype: DType) -> Result<Array, Error> {
    build1(
        "arange",
        Opcode::Arange,
        Vec::new(),
        Attrs::new()
            .with("start", Attr::Float(start))
            .with("stop", Attr::Float(stop))
            .with("step", Attr::Float(step))
            .with("dtype", Attr::DType(dtype)),
    )
}

/// `arange` whose dtype is that of `T` (`arange(0, 5, 1)` is i32,
/// `arange(0.0f32, 1.0, 0.25)` f32).
pub fn try_arange<T: Element + Into<f64>>(start: T, stop: T, step: T) -> Result<Array, Error> {
    try_arange_dtype(start.into(), stop.into(), step.into(), T::DTYPE)
}

/// `num` evenly spaced values from `start` to `stop` inclusive, computed
/// as MLX does (`(1 - t) * start + t * stop` in f32 with `t = i / (num - 1)`,
/// then cast to `dtype`).
pub fn try_linspace(start: f64, stop: f64, num: i32, dtype: DType) -> Result<Array, Error> {
    if num < 0 {
        return Err(Error::new(
            "linspace",
            format!("number of samples {num} must be non-negative"),
        ));
    }
    if num == 1 {
        return full_of("linspace", &[1], dtype, start);
    }
    let i = try_arange_dtype(0.0, num as f64, 1.0, DType::F32)?;
    let t = try_divide(&i, (num - 1) as f32)?;
    let t_bar = try_subtract(1.0f32, &t)?;
    let a = super::elementwise::try_multiply(&t_bar, start as f32)?;
    let b = super::elementwise::try_multiply(&t, stop as f32)?;
    let s = super::elementwise::try_add(&a, &b)?;
    cast_to("linspace", &s, dtype)
}

fn iota(op: &str, shape: &[i64], axis: i64) -> Result<Array, Error> {
    build1(
        op,
        Opcode::Iota,
        Vec::new(),
        Attrs::new()
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("dtype", Attr::DType(DType::I32))
            .with("axis", Attr::Int(axis)),
    )
}

/// An `n x m` array with ones on diagonal `k` (above the main one for k > 0).
pub fn try_eye(n: i32, m: i32, k: i32, dtype: DType) -> Result<Array, Error> {
    let shape = dims("eye", &[n, m])?;
    let rows = iota("eye", &shape, 0)?;
    let cols = iota("eye", &shape, 1)?;
    let d = try_subtract(&cols, &rows)?;
    let mask = try_equal(&d, k)?;
    cast_to("eye", &mask, dtype)
}

/// The `n x n` identity.
pub fn try_identity(n: i32, dtype: DType) -> Result<Array, Error> {
    try_eye(n, n, 0, dtype)
}

/// An `n x m` array with ones at and below diagonal `k`.
pub fn try_tri(n: i32, m: i32, k: i32, dtype: DType) -> Result<Array, Error> {
    let shape = dims("tri", &[n, m])?;
    let rows = iota("tri", &shape, 0)?;
    let cols = iota("tri", &shape, 1)?;
    let d = try_subtract(&cols, &rows)?;
    let mask = try_less_equal(&d, k)?;
    cast_to("tri", &mask, dtype)
}

fn last_two(op: &str, x: &Array) -> Result<(i32, i32), Error> {
    x.check()?;
    let s = x.shape();
    if s.len() < 2 {
        return Err(Error::new(
            op,
            format!("array must be at least 2-D, found shape {}", shape_str(s)),
        ));
    }
    let (n, m) = (s[s.len() - 2], s[s.len() - 1]);
    if n < 0 || m < 0 {
        return Err(Error::new(op, "the last two dimensions must be static"));
    }
    Ok((n as i32, m as i32))
}

/// `x` with elements above diagonal `k` zeroed (over the last two axes).
pub fn try_tril(x: &Array, k: i32) -> Result<Array, Error> {
    let (n, m) = last_two("tril", x)?;
    let mask = try_tri(n, m, k, DType::Bool)?;
    try_where(&mask, x, 0)
}

/// `x` with elements below diagonal `k` zeroed (over the last two axes).
pub fn try_triu(x: &Array, k: i32) -> Result<Array, Error> {
    let (n, m) = last_two("triu", x)?;
    let mask = try_tri(n, m, k - 1, DType::Bool)?;
    try_where(&mask, 0, x)
}

/// See [`try_array`].
pub fn array<T: Element>(data: &[T], shape: &[i32]) -> Array {
    crate::array::lift(try_array(data, shape))
}

/// See [`try_arange`].
pub fn arange<T: Element + Into<f64>>(start: T, stop: T, step: T) -> Array {
    crate::array::lift(try_arange(start, stop, step))
}

infallible! {
    /// See [`try_full`].
    fn full = try_full(shape: &[i32], value: f64, dtype: DType);
    /// See [`try_zeros`].
    fn zeros = try_zeros(shape: &[i32], dtype: DType);
    /// See [`try_ones`].
    fn ones = try_ones(shape: &[i32], dtype: DType);
    /// See [`try_zeros_like`].
    fn zeros_like = try_zeros_like(x: &Array);
    /// See [`try_ones_like`].
    fn ones_like = try_ones_like(x: &Array);
    /// See [`try_full_like`].
    fn full_like = try_full_like(x: &Array, value: f64);
    /// See [`try_arange_dtype`].
    fn arange_dtype = try_arange_dtype(start: f64, stop: f64, step: f64, dtype: DType);
    /// See [`try_linspace`].
    fn linspace = try_linspace(start: f64, stop: f64, num: i32, dtype: DType);
    /// See [`try_eye`].
    fn eye = try_eye(n: i32, m: i32, k: i32, dtype: DType);
    /// See [`try_identity`].
    fn identity = try_identity(n: i32, dtype: DType);
    /// See [`try_tri`].
    fn tri = try_tri(n: i32, m: i32, k: i32, dtype: DType);
    /// See [`try_tril`].
    fn tril = try_tril(x: &Array, k: i32);
    /// See [`try_triu`].
    fn triu = try_triu(x: &Array, k: i32);
}
