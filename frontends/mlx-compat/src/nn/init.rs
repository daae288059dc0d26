//! MLX's `nn.init` initializers. Each returns a closure from an array (for
//! its shape) to a fresh array, as in MLX: `init::glorot_uniform(F32)(&w, 1.0)`.
//! Draws come from the global key sequence (see [`seed`]).

use super::rng;
use crate::array::Array;
use crate::error::{shape_str, Error};
use psionic_ir::DType;

pub use super::rng::seed;

/// Fills with `value`.
pub fn constant(value: f64, dtype: DType) -> impl Fn(&Array) -> Array {
    move |a| {
        crate::array::lift(crate::ops::full_of(
            "init.constant",
            a.shape(),
            dtype,
            value,
        ))
    }
}

/// Normal with `mean` and `std` (MLX's defaults 0 and 1).
pub fn normal(mean: f32, std: f32, dtype: DType) -> impl Fn(&Array) -> Array {
    move |a| crate::array::lift(rng::normal(a.shape(), mean, std, dtype, None))
}

/// Uniform in `[low, high)` (MLX's defaults 0 and 1).
pub fn uniform(low: f32, high: f32, dtype: DType) -> impl Fn(&Array) -> Array {
    move |a| crate::array::lift(rng::uniform(low, high, a.shape(), dtype, None))
}

/// The identity matrix; the array must be square.
pub fn identity(dtype: DType) -> impl Fn(&Array) -> Array {
    move |a| {
        if a.ndim() != 2 || a.shape()[0] != a.shape()[1] {
            return Array::from_error(Error::new(
                "init.identity",
                format!(
                    "the input array must be a square matrix but got shape {}",
                    shape_str(a.shape())
                ),
            ));
        }
        crate::eye(a.shape()[0] as i32, a.shape()[0] as i32, 0, dtype)
    }
}

/// `(fan_in, fan_out)` as MLX computes them: last and first axes, times
/// the product of the axes between.
pub fn fan_in_fan_out(a: &Array) -> Result<(f64, f64), Error> {
    if a.ndim() < 2 {
        return Err(Error::new(
            "init",
            format!(
                "Glorot / He initialization requires at least 2 dimensional input but input with {} dimensions",
                a.ndim()
            ),
        ));
    }
    let s = a.shape();
    let receptive: i64 = s[1..s.len() - 1].iter().product();
    Ok((
        (s[s.len() - 1] * receptive) as f64,
        (s[0] * receptive) as f64,
    ))
}

/// Which fan He initialization scales by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FanMode {
    #[default]
    FanIn,
    FanOut,
}

/// Glorot normal: std `gain * sqrt(2 / (fan_in + fan_out))`.
pub fn glorot_normal(dtype: DType) -> impl Fn(&Array, f32) -> Array {
    move |a, gain| {
        crate::array::lift(fan_in_fan_out(a).and_then(|(i, o)| {
            let std = gain as f64 * (2.0 / (i + o)).sqrt();
            rng::normal(a.shape(), 0.0, std as f32, dtype, None)
        }))
    }
}

/// Glorot uniform: limit `gain * sqrt(6 / (fan_in + fan_out))`.
pub fn glorot_uniform(dtype: DType) -> impl Fn(&Array, f32) -> Array {
    move |a, gain| {
        crate::array::lift(fan_in_fan_out(a).and_then(|(i, o)| {
            let limit = (gain as f64 * (6.0 / (i + o)).sqrt()) as f32;
            rng::uniform(-limit, limit, a.shape(), dtype, None)
        }))
    }
}

fn fan(a: &Array, mode: FanMode) -> Result<f64, Error> {
    let (i, o) = fan_in_fan_out(a)?;
    Ok(match mode {
        FanMode::FanIn => i,
        FanMode::FanOut => o,
    })
}

/// He normal: std `gain / sqrt(fan)`.
pub fn he_normal(dtype: DType) -> impl Fn(&Array, FanMode, f32) -> Array {
    move |a, mode, gain| {
        crate::array::lift(fan(a, mode).and_then(|f| {
            let std = gain as f64 / f.sqrt();
            rng::normal(a.shape(), 0.0, std as f32, dtype, None)
        }))
    }
}

/// He uniform: limit `gain * sqrt(3 / fan)`.
pub fn he_uniform(dtype: DType) -> impl Fn(&Array, FanMode, f32) -> Array {
    move |a, mode, gain| {
        crate::array::lift(fan(a, mode).and_then(|f| {
            let limit = (gain as f64 * (3.0 / f).sqrt()) as f32;
            rng::uniform(-limit, limit, a.shape(), dtype, None)
        }))
    }
}

/// Uniform in `[-scale, scale)` of `shape` (how MLX's layers initialize).
pub(crate) fn uniform_shape(scale: f32, shape: &[i64]) -> Array {
    crate::array::lift(rng::uniform(-scale, scale, shape, DType::F32, None))
}

/// Standard normal of `shape` times `std`.
pub(crate) fn normal_shape(std: f32, shape: &[i64]) -> Array {
    crate::array::lift(rng::normal(shape, 0.0, std, DType::F32, None))
}
