//! `psionic-codegen`: code generators over the kernel-level IR.
//!
//! `cpu` (feature `cpu`, on by default): Cranelift JIT with f32x4 SIMD.
//! Depends on `psionic-ir` and `psionic-passes`; never on the runtime or a frontend.

#[cfg(feature = "cpu")]
pub mod cpu;
