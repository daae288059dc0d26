//! The Cranelift CPU backend.

pub mod math;
#[rustfmt::skip]
mod math_coeffs;
