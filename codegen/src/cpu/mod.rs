//! The Cranelift CPU backend: f32x4 math ([`math`]), per-kernel code
//! generation ([`jit`]) and whole programs with matmuls and library calls
//! ([`program`]).

pub mod jit;
pub mod math;
#[rustfmt::skip]
#[allow(clippy::excessive_precision)] // generated: the fitted f32 values as printed
mod math_coeffs;
pub mod program;

pub use program::{compile_program, CpuOptions, CpuProgram, LibEval};
