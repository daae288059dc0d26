//! The random draws `nn` needs (initializers, dropout), from
//! [`crate::random`]'s global key sequence, so `random::seed` (re-exported
//! as `nn::init::seed`) makes layer initialization MLX's.

use crate::array::Array;
use crate::error::Error;
use psionic_ir::DType;

pub use crate::random::seed;

fn shape32(shape: &[i64]) -> Vec<i32> {
    shape.iter().map(|&d| d as i32).collect()
}

/// MLX's `uniform(low, high, shape, dtype)`.
pub fn uniform(
    low: f32,
    high: f32,
    shape: &[i64],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    crate::random::try_uniform(low, high, &shape32(shape), dtype, key)
}

/// MLX's `normal(shape, dtype, loc, scale)` (loc 0 and scale 1 are omitted,
/// as MLX skips them).
pub fn normal(
    shape: &[i64],
    loc: f32,
    scale: f32,
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let l = (loc != 0.0).then(|| crate::array(&[loc], &[]));
    let s = (scale != 1.0).then(|| crate::array(&[scale], &[]));
    crate::random::try_normal(&shape32(shape), dtype, l.as_ref(), s.as_ref(), key)
}

/// MLX's `bernoulli(p, shape)`: true with probability `p`.
pub fn bernoulli(p: f32, shape: &[i64], key: Option<&Array>) -> Result<Array, Error> {
    let s = shape32(shape);
    crate::random::try_bernoulli(p, Some(s.as_slice()), key)
}
