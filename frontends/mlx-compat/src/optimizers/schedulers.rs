//! Learning-rate schedules (`mlx.optimizers.schedulers`): functions of the
//! step array (the optimizer passes its `u64` `step` leaf) built from
//! array ops, so they trace with the rest of a training step. Constants
//! enter as weak scalars, as Python floats do in MLX, so the value is
//! `f32` for an integer step.
//!
//! ```
//! use psionic_mlx::*;
//! use psionic_mlx::optimizers::{cosine_decay, join_schedules, linear_schedule};
//! # fn main() -> Result<(), Error> {
//! let warmup = linear_schedule(0.0, 1e-1, 10)?;
//! let cosine = cosine_decay(1e-1, 200, 0.0)?;
//! let lr = join_schedules(vec![warmup, cosine], vec![10])?;
//! let v = lr(&Array::from(5u64)).item::<f32>()?;
//! assert!((v - 0.05).abs() < 1e-7);
//! # Ok(())
//! # }
//! ```

use crate::array::Array;
use crate::error::Error;
use crate::ops::elementwise::{
    add, cos, floor_divide, less, minimum, multiply, power, r#where, subtract,
};
use std::sync::Arc;

/// A schedule: the value of a hyperparameter at a step (an array).
pub type Schedule = Arc<dyn Fn(&Array) -> Array + Send + Sync>;

/// `init * decay_rate ** step` (MLX's `exponential_decay`).
pub fn exponential_decay(init: f64, decay_rate: f64) -> Schedule {
    Arc::new(move |step: &Array| multiply(init, power(decay_rate, step)))
}

/// `init * decay_rate ** (step // step_size)` (MLX's `step_decay`);
/// `step_size` must be at least 1.
pub fn step_decay(init: f64, decay_rate: f64, step_size: i64) -> Result<Schedule, Error> {
    if step_size < 1 {
        return Err(Error::new(
            "step_decay",
            format!("step_size must be greater than 0, but got {step_size}."),
        ));
    }
    Ok(Arc::new(move |step: &Array| {
        multiply(init, power(decay_rate, floor_divide(step, step_size)))
    }))
}

/// Cosine decay from `init` to `end` over `decay_steps` steps, constant
/// after (MLX's `cosine_decay`): `end + 0.5 * (1 + cos(pi / decay_steps *
/// min(step, decay_steps))) * (init - end)`.
pub fn cosine_decay(init: f64, decay_steps: i64, end: f64) -> Result<Schedule, Error> {
    if decay_steps < 1 {
        return Err(Error::new(
            "cosine_decay",
            format!("decay_steps must be greater than 0, but got {decay_steps}."),
        ));
    }
    Ok(Arc::new(move |step: &Array| {
        let s = minimum(step, decay_steps);
        let decay = multiply(
            0.5,
            add(
                1.0,
                cos(&multiply(std::f64::consts::PI / decay_steps as f64, &s)),
            ),
        );
        add(end, multiply(&decay, init - end))
    }))
}

/// Linear from `init` to `end` over `steps` steps, `end` after (MLX's
/// `linear_schedule`): `min(step, steps) * ((end - init) / steps) + init`.
pub fn linear_schedule(init: f64, end: f64, steps: i64) -> Result<Schedule, Error> {
    if steps < 1 {
        return Err(Error::new(
            "linear_schedule",
            format!("steps must be greater than 0, but got {steps}."),
        ));
    }
    Ok(Arc::new(move |step: &Array| {
        let s = minimum(step, steps);
        add(multiply(&s, (end - init) / steps as f64), init)
    }))
}

/// Joins schedules (MLX's `join_schedules`): schedule `i + 1` takes over at
/// `boundaries[i]` and sees the steps since that boundary. Needs one
/// boundary fewer than schedules.
pub fn join_schedules(schedules: Vec<Schedule>, boundaries: Vec<i64>) -> Result<Schedule, Error> {
    if schedules.is_empty() {
        return Err(Error::new(
            "join_schedules",
            "Must provide at least 1 schedule to join.",
        ));
    }
    if schedules.len() != boundaries.len() + 1 {
        return Err(Error::new(
            "join_schedules",
            format!(
                "Received {} boundaries but expected {}.",
                boundaries.len(),
                schedules.len() - 1
            ),
        ));
    }
    Ok(Arc::new(move |step: &Array| {
        let mut out = schedules[0](step);
        for (b, s) in boundaries.iter().zip(&schedules[1..]) {
            // For an unsigned step before the boundary the difference wraps,
            // as in MLX; `where` discards that branch.
            out = r#where(less(step, *b), &out, s(&subtract(step, *b)));
        }
        out
    }))
}
