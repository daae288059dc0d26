//! The layers of MLX's `nn`, with MLX's constructors, defaults and
//! parameter names (so `save_weights` files interchange with MLX).

pub mod containers;
pub mod convolution;
pub mod dropout;
pub mod linear;
pub mod normalization;
pub mod pooling;
pub mod positional;
pub mod recurrent;
pub mod transformer;
pub mod upsample;

pub use containers::*;
pub use convolution::*;
pub use dropout::*;
pub use linear::*;
pub use normalization::*;
pub use pooling::*;
pub use positional::*;
pub use recurrent::*;
pub use transformer::*;
pub use upsample::*;

use crate::array::Array;
use crate::error::Error;

/// An array carrying `msg` from `op` (layers report bad input this way,
/// as every infallible op does).
pub(crate) fn fail(op: &str, msg: impl Into<String>) -> Array {
    Array::from_error(Error::new(op, msg))
}

/// `x`'s shape as MLX's `i32` sizes.
pub(crate) fn shape_i32(x: &Array) -> Vec<i32> {
    x.shape().iter().map(|&d| d as i32).collect()
}

/// `split(x, n, axis)` that always gives `n` arrays (each carrying the
/// error when the split fails), so callers can index the parts.
pub(crate) fn split_n(x: &Array, n: usize, axis: i32) -> Vec<Array> {
    match crate::try_split(x, n as i32, axis) {
        Ok(v) if v.len() == n => v,
        Ok(_) => vec![fail("split", "wrong number of parts"); n],
        Err(e) => vec![Array::from_error(e); n],
    }
}
