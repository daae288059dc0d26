//! `psionic_mlx::random`: MLX's key-based random numbers (`mlx/random.cpp`).
//!
//! A key is a `u32` array of shape `[2]` ([`key`]); `tensor.random_bits`
//! turns a key into Threefry-2x32 bits exactly as MLX does, and every
//! sampler here applies MLX's own arithmetic to those bits (the same f32
//! divisions, clamps, casts and MLX's CPU `erfinv`/`erf`/`exp`
//! polynomials, and glibc's `logf`/`log1pf` where MLX calls the C
//! library's `log`/`log1p`, see `ops/mlx_math.rs`), so the same key, shape
//! and dtype give MLX's values bit for bit: the MLX of the fixtures, on
//! Linux x86-64 with glibc. MLX elsewhere can differ where it calls the C
//! library (`gumbel`, `laplace`, `categorical`, and `normal`,
//! `truncated_normal`, `multivariate_normal` through `erfinv`): Apple's
//! `log` or musl's `log1pf` round differently now and then.
//!
//! Keys are arrays, so samplers trace into IR like any op and work inside
//! [`crate::trace`]d and compiled functions; pass keys in as inputs (and
//! [`split`] them inside) to get fresh numbers per call. With `key: None` a
//! sampler takes the next key of a global sequence, as MLX does: [`seed`]
//! resets it, and until then it is seeded from the clock. Inside a trace a
//! `None` key is drawn once, at trace time, and becomes a constant.

use super::creation::try_array;
use super::elementwise::{
    try_abs, try_add, try_divide, try_floor, try_isinf, try_less, try_maximum, try_minimum,
    try_multiply, try_negative, try_sign, try_subtract, try_view, try_where,
};
use super::indexing::{try_argsort, try_take};
use super::linalg::try_matmul;
use super::mlx_math;
use super::reduce::{try_argmax, try_cumsum, try_max, try_sum};
use super::shape::{try_expand_dims, try_reshape, try_squeeze};
use super::{broadcast_shape_of, cast_to, dims, full_of, infallible, norm_axis, Axes};
use crate::array::{build1, Array, IntoOperand};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Opcode};
use std::sync::Mutex;

/// The global key sequence (MLX's `KeySequence::default_()`), as host words.
static STATE: Mutex<Option<[u32; 2]>> = Mutex::new(None);

/// `[seed >> 32, seed & 0xffffffff]` as a `u32` key of shape `[2]`.
pub fn key(seed: u64) -> Array {
    Array::from_slice(&[(seed >> 32) as u32, seed as u32], &[2])
}

/// Resets the global key sequence to `key(seed)` (MLX's `mx.random.seed`).
pub fn seed(seed: u64) {
    let k = [(seed >> 32) as u32, seed as u32];
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = Some(k);
}

/// The current key of the global sequence (MLX's `mx.random.state[0]`).
pub fn state() -> Array {
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let k = *g.get_or_insert_with(clock_seed);
    Array::from_slice(&k, &[2])
}

fn clock_seed() -> [u32; 2] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    [(t >> 32) as u32, t as u32]
}

/// The next key of the global sequence: split the state, keep the first
/// half as the new state and hand out the second (MLX's `KeySequence::next`).
fn next_key() -> Result<Array, Error> {
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let k = *g.get_or_insert_with(clock_seed);
    let pair = try_split(&Array::from_slice(&k, &[2]), 2)?;
    let words = pair.to_vec::<u32>()?;
    if words.len() != 4 {
        return Err(Error::new("random", "splitting the global key failed"));
    }
    *g = Some([words[0], words[1]]);
    try_array(&words[2..], &[2])
}

fn check_key(op: &str, key: &Array) -> Result<(), Error> {
    key.check()?;
    if key.dtype() != DType::U32 {
        return Err(Error::new(
            op,
            format!("expected key type uint32 but received {}", key.dtype()),
        ));
    }
    if key.shape() != [2] {
        return Err(Error::new(
            op,
            format!(
                "expected key shape [2] but received {}",
                shape_str(key.shape())
            ),
        ));
    }
    Ok(())
}

fn key_or_next(op: &str, key: Option<&Array>) -> Result<Array, Error> {
    match key {
        Some(k) => {
            check_key(op, k)?;
            Ok(k.clone())
        }
        None => next_key(),
    }
}

fn bits_of(op: &str, shape: &[i64], width: i32, key: Option<&Array>) -> Result<Array, Error> {
    if ![1, 2, 4].contains(&width) {
        return Err(Error::new(
            op,
            format!("bit width must be in {{1, 2, 4}} but got {width}"),
        ));
    }
    let key = key_or_next(op, key)?;
    build1(
        op,
        Opcode::RandomBits,
        vec![key],
        Attrs::new()
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("width", Attr::Int(width as i64)),
    )
}

/// Random bits of `shape`: `u32`, `u16` or `u8` for `width` 4, 2 or 1.
pub fn try_bits(shape: &[i32], width: i32, key: Option<&Array>) -> Result<Array, Error> {
    let shape = dims("bits", shape)?;
    bits_of("bits", &shape, width, key)
}

/// `num` new keys from `key`, as a `[num, 2]` array (MLX's `split`).
pub fn try_split(key: &Array, num: i32) -> Result<Array, Error> {
    let shape = dims("split", &[num, 2])?;
    bits_of("split", &shape, 4, Some(key))
}

/// Two new keys from `key` (MLX's C++ `split(key)`).
pub fn try_split_pair(key: &Array) -> Result<(Array, Array), Error> {
    let both = try_split(key, 2)?;
    let a = try_take(&both, &Array::from_scalar(0u32), Some(0))?;
    let b = try_take(&both, &Array::from_scalar(1u32), Some(0))?;
    Ok((a, b))
}

/// A scalar operand as MLX's Python binding makes it: `int` to i32, `float` to f32.
fn operand_array(x: impl IntoOperand) -> Array {
    x.into_operand().into_array()
}

/// The largest value below 1.0 of `dtype`, as f32 (samples stay below `high`).
fn below_one(op: &str, dtype: DType) -> Result<f32, Error> {
    Ok(match dtype {
        DType::F32 => f32::from_bits(1.0f32.to_bits() - 1),
        DType::F16 => half::f16::from_bits(half::f16::ONE.to_bits() - 1).to_f32(),
        DType::BF16 => half::bf16::from_bits(half::bf16::ONE.to_bits() - 1).to_f32(),
        d => {
            return Err(Error::new(
                op,
                format!("can only generate uniform numbers with f32, f16 or bf16, not {d}"),
            ))
        }
    })
}

fn uniform_of(
    op: &str,
    low: &Array,
    high: &Array,
    shape: &[i64],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    low.check()?;
    high.check()?;
    let upper = below_one(op, dtype)?;
    let lo = cast_to(op, low, dtype)?;
    let hi = cast_to(op, high, dtype)?;
    let range = try_subtract(&hi, &lo)?;
    let out_shape = broadcast_shape_of(op, &[shape, range.shape()])?;
    if out_shape != shape {
        return Err(Error::new(
            op,
            format!(
                "cannot generate random values of shape {} from broadcasted shape {}",
                shape_str(shape),
                shape_str(&out_shape)
            ),
        ));
    }
    let bits = bits_of(op, shape, 4, key)?;
    // u32 / f32 promotes to f32: the bits round to f32 first, as in MLX.
    let maxval = Array::from_scalar(u32::MAX as f32);
    let u = try_divide(&bits, &maxval)?;
    let u = cast_to(op, &try_minimum(&u, Array::from_scalar(upper))?, dtype)?;
    try_add(&try_multiply(&range, &u)?, &lo)
}

/// Uniform samples in `[low, high)` of `shape` and float `dtype` (MLX's
/// `uniform`; defaults there: `low = 0`, `high = 1`, `shape = []`, f32).
/// `low` and `high` broadcast to `shape`.
pub fn try_uniform(
    low: impl IntoOperand,
    high: impl IntoOperand,
    shape: &[i32],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let shape = dims("uniform", shape)?;
    uniform_of(
        "uniform",
        &operand_array(low),
        &operand_array(high),
        &shape,
        dtype,
        key,
    )
}

/// Uniform samples in `(-1, 1)`, f32: the start of `normal` and `laplace`.
fn signed_unit(op: &str, shape: &[i64], key: Option<&Array>) -> Result<Array, Error> {
    let low = Array::from_scalar(f32::from_bits((-1.0f32).to_bits() - 1));
    let high = Array::from_scalar(1.0f32);
    uniform_of(op, &low, &high, shape, DType::F32, key)
}

/// Normal samples `loc + scale * N(0, 1)` of `shape` and `dtype` (MLX's
/// `normal`: `sqrt(2) * erfinv(u)` for `u` uniform in `(-1, 1)`). `c64`
/// gives complex samples with independent parts of variance 1/2, as MLX.
pub fn try_normal(
    shape: &[i32],
    dtype: DType,
    loc: Option<&Array>,
    scale: Option<&Array>,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "normal";
    let shape = dims(op, shape)?;
    if dtype == DType::C64 {
        let mut s2 = shape.clone();
        s2.push(2);
        let s = mlx_math::erfinv(&signed_unit(op, &s2, key)?)?;
        let mut s = try_squeeze(&try_view(&s, DType::C64)?, -1)?;
        if let Some(sc) = scale {
            s = try_multiply(sc, &s)?;
        }
        if let Some(l) = loc {
            s = try_add(l, &s)?;
        }
        return Ok(s);
    }
    if !dtype.is_float() {
        return Err(Error::new(
            op,
            format!("only floating point and complex64 types are supported, not {dtype}"),
        ));
    }
    let samples = signed_unit(op, &shape, key)?;
    let mut applied = full_of(op, &[], dtype, std::f64::consts::SQRT_2)?;
    if let Some(sc) = scale {
        applied = try_multiply(&applied, &cast_to(op, sc, dtype)?)?;
    }
    let s = cast_to(op, &mlx_math::erfinv(&samples)?, dtype)?;
    let mut s = try_multiply(&applied, &s)?;
    if let Some(l) = loc {
        s = try_add(&cast_to(op, l, dtype)?, &s)?;
    }
    Ok(s)
}

/// Normal samples truncated to `[lower, upper]` (MLX's `truncated_normal`,
/// JAX's inverse-CDF method). `shape: None` takes the broadcast shape of
/// the bounds.
pub fn try_truncated_normal(
    lower: impl IntoOperand,
    upper: impl IntoOperand,
    shape: Option<&[i32]>,
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "truncated_normal";
    if !dtype.is_float() {
        return Err(Error::new(
            op,
            format!("only floating point dtypes are supported, not {dtype}"),
        ));
    }
    let (lower, upper) = (operand_array(lower), operand_array(upper));
    lower.check()?;
    upper.check()?;
    let shape = match shape {
        Some(s) => dims(op, s)?,
        None => broadcast_shape_of(op, &[lower.shape(), upper.shape()])?,
    };
    let sqrt2 = full_of(op, &[], dtype, std::f64::consts::SQRT_2)?;
    let lo = cast_to(op, &lower, dtype)?;
    let hi = cast_to(op, &upper, dtype)?;
    let a = mlx_math::erf(&try_divide(&lo, &sqrt2)?)?;
    let b = mlx_math::erf(&try_divide(&hi, &sqrt2)?)?;
    let u = uniform_of(op, &a, &b, &shape, dtype, key)?;
    let out = try_multiply(&sqrt2, &mlx_math::erfinv(&u)?)?;
    try_maximum(&try_minimum(&hi, &out)?, &lo)
}

/// Random integers in `[low, high)` of `shape` and integer `dtype` (MLX's
/// `randint`: a float32 uniform, floored and clamped).
pub fn try_randint(
    low: impl IntoOperand,
    high: impl IntoOperand,
    shape: &[i32],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "randint";
    if dtype.is_inexact() {
        return Err(Error::new(
            op,
            format!("randint only accepts integer dtypes and bool, not {dtype}"),
        ));
    }
    let shape = dims(op, shape)?;
    let (low, high) = (operand_array(low), operand_array(high));
    let u = uniform_of(op, &low, &high, &shape, DType::F32, key)?;
    let out = cast_to(op, &try_floor(&u)?, dtype)?;
    let one = full_of(op, &[], high.dtype(), 1.0)?;
    let hi = cast_to(op, &try_subtract(&high, &one)?, dtype)?;
    try_maximum(&try_minimum(&out, &hi)?, &cast_to(op, &low, dtype)?)
}

/// `true` with probability `p` (MLX's `bernoulli`; default `p = 0.5`).
/// `shape: None` takes `p`'s shape.
pub fn try_bernoulli(
    p: impl IntoOperand,
    shape: Option<&[i32]>,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "bernoulli";
    let p = operand_array(p);
    p.check()?;
    if !p.dtype().is_float() {
        return Err(Error::new(
            op,
            format!(
                "the probability `p` must be a float type, not {}",
                p.dtype()
            ),
        ));
    }
    let shape = match shape {
        Some(s) => dims(op, s)?,
        None => p.shape().to_vec(),
    };
    // p on the scale [0, next float above u32::MAX]: p >= 1 is always true.
    let upper = f32::from_bits((u32::MAX as f32).to_bits() + 1);
    let bits = bits_of(op, &shape, 4, key)?;
    let res = try_less(&bits, &try_multiply(&p, Array::from_scalar(upper))?)?;
    if res.shape() != shape.as_slice() {
        return Err(Error::new(
            op,
            format!(
                "the shape of `p` {} is incompatible with the shape {}",
                shape_str(p.shape()),
                shape_str(&shape)
            ),
        ));
    }
    Ok(res)
}

fn gumbel_of(op: &str, shape: &[i64], dtype: DType, key: Option<&Array>) -> Result<Array, Error> {
    let u = uniform_of(
        op,
        &full_of(op, &[], dtype, 0.0)?,
        &full_of(op, &[], dtype, 1.0)?,
        shape,
        dtype,
        key,
    )?;
    try_negative(&mlx_math::log(&try_negative(&mlx_math::log(&u)?)?)?)
}

/// Standard Gumbel samples `-log(-log(u))` (MLX's `gumbel`).
pub fn try_gumbel(shape: &[i32], dtype: DType, key: Option<&Array>) -> Result<Array, Error> {
    let shape = dims("gumbel", shape)?;
    gumbel_of("gumbel", &shape, dtype, key)
}

/// How many samples [`try_categorical`] draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Samples {
    /// One per distribution: the logits' shape without `axis`.
    One,
    /// A result of this shape (broadcast against the logits without `axis`).
    Shape(Vec<i32>),
    /// This many per distribution, on a new last axis.
    Num(i32),
}

/// Indices (u32) drawn from the categorical distributions given by
/// unnormalized log-probabilities `logits` along `axis` (MLX's
/// `categorical`: the Gumbel-max trick, or an inverse CDF for a single
/// distribution sampled to a shape).
pub fn try_categorical(
    logits: &Array,
    axis: i32,
    samples: Samples,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "categorical";
    logits.check()?;
    let ax = norm_axis(op, axis as i64, logits.ndim())?;
    match samples {
        Samples::One => {
            let mut shape = logits.shape().to_vec();
            shape.remove(ax);
            categorical_impl(logits, ax, &shape, key)
        }
        Samples::Shape(s) => {
            let shape = dims(op, &s)?;
            let mut reduced = logits.shape().to_vec();
            reduced.remove(ax);
            if broadcast_shape_of(op, &[&shape, &reduced])? != shape {
                return Err(Error::new(
                    op,
                    format!(
                        "requested shape {} is not broadcast compatible with the reduced logits shape {}",
                        shape_str(&shape),
                        shape_str(&reduced)
                    ),
                ));
            }
            categorical_impl(logits, ax, &shape, key)
        }
        Samples::Num(n) => {
            let n = dims(op, &[n])?[0];
            let l = try_expand_dims(logits, -1)?;
            let mut shape = l.shape().to_vec();
            shape.remove(ax);
            if let Some(last) = shape.last_mut() {
                *last = n;
            }
            categorical_impl(&l, ax, &shape, key)
        }
    }
}

fn categorical_impl(
    logits: &Array,
    axis: usize,
    shape: &[i64],
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "categorical";
    let n = logits.shape()[axis];
    if n > 0 && logits.size() == n as usize && !shape.is_empty() {
        let flat = try_reshape(logits, &[n as i32])?;
        return categorical_inverse_cdf(&flat, shape, key);
    }
    let mut gshape = shape.to_vec();
    let offset = axis + shape.len() + 1 - logits.ndim();
    gshape.insert(offset, n);
    let g = gumbel_of(op, &gshape, DType::F32, key)?;
    try_argmax(&try_add(&g, logits)?, Some(offset as i32), false)
}

/// O(N + M) memory, where Gumbel-max needs O(N * M).
fn categorical_inverse_cdf(
    logits: &Array,
    shape: &[i64],
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "categorical";
    let dtype = logits.dtype().promote(DType::F32);
    let x = cast_to(op, logits, dtype)?;
    let m = try_max(&x, Axes::All, false)?;
    // exp(x - m) is NaN for an infinite maximum: sample its entries evenly.
    let d = try_subtract(&x, &m)?;
    let e = if dtype == DType::F32 {
        mlx_math::exp_f32(&d)?
    } else {
        super::elementwise::try_exp(&d)?
    };
    let eq = cast_to(op, &super::elementwise::try_equal(&x, &m)?, dtype)?;
    let w = try_where(&try_isinf(&m)?, &eq, &e)?;
    let cdf = try_cumsum(&w, Some(0), false, false)?;
    let u = uniform_of(
        op,
        &full_of(op, &[], DType::F32, 0.0)?,
        &full_of(op, &[], DType::F32, 1.0)?,
        shape,
        DType::F32,
        key,
    )?;
    let u = try_multiply(&u, &try_sum(&w, Axes::All, false)?)?;
    let (cdf, u) = {
        let d = cdf.dtype().promote(u.dtype());
        (cast_to(op, &cdf, d)?, cast_to(op, &u, d)?)
    };
    let idx = build1(
        op,
        Opcode::SearchSorted,
        vec![cdf, u],
        Attrs::new().with("right", Attr::Bool(true)),
    )?;
    try_subtract(&idx, Array::from_scalar(1u32))
}

/// Laplace samples with `loc` and `scale` (MLX's `laplace`, inverse CDF).
pub fn try_laplace(
    shape: &[i32],
    dtype: DType,
    loc: f32,
    scale: f32,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "laplace";
    if !dtype.is_float() {
        return Err(Error::new(
            op,
            format!("only real floating point types are supported, not {dtype}"),
        ));
    }
    let shape = dims(op, shape)?;
    let s = signed_unit(op, &shape, key)?;
    let minus_one = full_of(op, &[], dtype, -1.0)?;
    let s = try_multiply(
        &try_sign(&s)?,
        &mlx_math::log1p(&try_multiply(&minus_one, &try_abs(&s)?)?)?,
    )?;
    let mut s = cast_to(op, &s, dtype)?;
    if scale != 1.0 {
        s = try_multiply(&full_of(op, &[], dtype, scale as f64)?, &s)?;
    }
    if loc != 0.0 {
        s = try_add(&full_of(op, &[], dtype, loc as f64)?, &s)?;
    }
    Ok(s)
}

/// A random permutation of `0..n` (u32) (MLX's `permutation(int)`:
/// argsort of random bits).
pub fn try_permutation_n(n: i32, key: Option<&Array>) -> Result<Array, Error> {
    let shape = dims("permutation", &[n])?;
    let bits = bits_of("permutation", &shape, 4, key)?;
    try_argsort(&bits, Some(-1))
}

/// `x` with its entries along `axis` randomly permuted (MLX's
/// `permutation(array, axis)`; default `axis = 0`).
pub fn try_permutation(x: &Array, axis: i32, key: Option<&Array>) -> Result<Array, Error> {
    x.check()?;
    let ax = norm_axis("permutation", axis as i64, x.ndim())?;
    let n = x.shape()[ax];
    if n < 0 {
        return Err(Error::new(
            "permutation",
            "the permuted axis must have a static size",
        ));
    }
    let perm = try_permutation_n(n as i32, key)?;
    try_take(x, &perm, Some(ax as i32))
}

/// Samples of a multivariate normal with `mean` (..., n) and covariance
/// `cov` (..., n, n) (MLX's `multivariate_normal`: the covariance's square
/// root from its SVD times standard normals). Only f32, as MLX.
pub fn try_multivariate_normal(
    mean: &Array,
    cov: &Array,
    shape: &[i32],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let op = "multivariate_normal";
    mean.check()?;
    cov.check()?;
    if dtype != DType::F32 {
        return Err(Error::new(op, "dtype must be float32"));
    }
    if mean.ndim() < 1 {
        return Err(Error::new(op, "mean must have at least one dimension"));
    }
    if cov.ndim() < 2 {
        return Err(Error::new(op, "cov must have at least two dimensions"));
    }
    let n = mean.shape()[mean.ndim() - 1];
    let (c1, c2) = (cov.shape()[cov.ndim() - 1], cov.shape()[cov.ndim() - 2]);
    if c1 != c2 {
        return Err(Error::new(
            op,
            "the last two dimensions of cov must be equal",
        ));
    }
    if n != c1 {
        return Err(Error::new(op, "mean and cov must have compatible shapes"));
    }
    let shape = dims(op, shape)?;
    let out = broadcast_shape_of(
        op,
        &[
            &cov.shape()[..cov.ndim() - 2],
            &mean.shape()[..mean.ndim() - 1],
        ],
    )?;
    let mut out = broadcast_shape_of(op, &[&out, &shape])?;
    out.push(n);
    let covariance = cast_to(op, cov, DType::F32)?;
    let usv = crate::array::build(
        op,
        Opcode::Svd,
        vec![covariance],
        Attrs::new().with("compute_uv", Attr::Bool(true)),
    )?;
    let [u, s, vt] = <[Array; 3]>::try_from(usv)
        .map_err(|_| Error::new(op, "tensor.svd must give three results"))?;
    let root = try_multiply(
        &u,
        &try_expand_dims(&super::elementwise::try_sqrt(&s)?, -2)?,
    )?;
    let std = cast_to(op, &try_matmul(&root, &vt)?, dtype)?;
    let out32: Vec<i32> = out.iter().map(|&d| d as i32).collect();
    let z = try_normal(
        &out32,
        dtype,
        Some(&Array::from_scalar(0.0f32)),
        Some(&Array::from_scalar(1.0f32)),
        key,
    )?;
    let scaled = try_squeeze(&try_matmul(&try_expand_dims(&z, -2)?, &std)?, -2)?;
    try_add(mean, &scaled)
}

infallible! {
    /// See [`try_bits`].
    fn bits = try_bits(shape: &[i32], width: i32, key: Option<&Array>);
    /// See [`try_split`].
    fn split = try_split(key: &Array, num: i32);
    /// See [`try_uniform`].
    fn uniform = try_uniform(low: impl IntoOperand, high: impl IntoOperand, shape: &[i32], dtype: DType, key: Option<&Array>);
    /// See [`try_normal`].
    fn normal = try_normal(shape: &[i32], dtype: DType, loc: Option<&Array>, scale: Option<&Array>, key: Option<&Array>);
    /// See [`try_truncated_normal`].
    fn truncated_normal = try_truncated_normal(lower: impl IntoOperand, upper: impl IntoOperand, shape: Option<&[i32]>, dtype: DType, key: Option<&Array>);
    /// See [`try_randint`].
    fn randint = try_randint(low: impl IntoOperand, high: impl IntoOperand, shape: &[i32], dtype: DType, key: Option<&Array>);
    /// See [`try_bernoulli`].
    fn bernoulli = try_bernoulli(p: impl IntoOperand, shape: Option<&[i32]>, key: Option<&Array>);
    /// See [`try_gumbel`].
    fn gumbel = try_gumbel(shape: &[i32], dtype: DType, key: Option<&Array>);
    /// See [`try_categorical`].
    fn categorical = try_categorical(logits: &Array, axis: i32, samples: Samples, key: Option<&Array>);
    /// See [`try_laplace`].
    fn laplace = try_laplace(shape: &[i32], dtype: DType, loc: f32, scale: f32, key: Option<&Array>);
    /// See [`try_permutation_n`].
    fn permutation_n = try_permutation_n(n: i32, key: Option<&Array>);
    /// See [`try_permutation`].
    fn permutation = try_permutation(x: &Array, axis: i32, key: Option<&Array>);
    /// See [`try_multivariate_normal`].
    fn multivariate_normal = try_multivariate_normal(mean: &Array, cov: &Array, shape: &[i32], dtype: DType, key: Option<&Array>);
}

/// Two new keys from `key`; on failure both carry the error.
pub fn split_pair(key: &Array) -> (Array, Array) {
    match try_split_pair(key) {
        Ok(r) => r,
        Err(e) => (Array::from_error(e.clone()), Array::from_error(e)),
    }
}
