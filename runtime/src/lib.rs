//! `psionic-runtime`: executing Psionic IR.
//!
//! Owns the reference interpreter ([`interp::run_func`], [`interp::eval_op`]),
//! the oracle that every pass and backend is tested against, the
//! kernel-level interpreter ([`kernel_interp::run_program`]) that checks fused
//! programs against unfused ones, and the compiled CPU executable
//! ([`exec::Executable`]); with feature `cuda`, the CUDA executable
//! (`cuda::CudaExecutable`). It depends on the IR only for types, the op table
//! and shape rules.

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod exec;
pub mod interp;
pub mod kernel_interp;
pub mod pairs;
pub mod spec_cache;
#[cfg(feature = "wgpu")]
pub mod wgpu;
