//! `psionic-codegen`: code generators over the kernel-level IR.
//!
//! `cpu` (feature `cpu`, on by default): Cranelift JIT with f32x4 SIMD.
//! `cuda` (feature `cuda`): PTX text and launch plans for NVIDIA GPUs (pure
//! Rust; the driver side is `psionic_runtime::cuda`).
//! `wgpu` (feature `wgpu`): WGSL compute shaders validated by naga and
//! written as WGSL, SPIR-V and MSL; run by `psionic_runtime::wgpu`.
//! Depends on `psionic-ir` and `psionic-passes`; never on the runtime or a frontend.

#[cfg(feature = "cpu")]
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod fault;
pub mod sort_rows;
#[cfg(feature = "wgpu")]
pub mod wgpu;
