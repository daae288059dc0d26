//! `psionic-passes`: passes over the tensor-level IR.
//!
//! Owns the transforms (`autodiff`: vjp, jvp, grad and friends; `vmap`),
//! which take a `Func` and return a new `Func` in the same IR.
//! Depends only on `psionic-ir`: never on backends, the runtime or frontends.

pub mod autodiff;
pub mod vmap;
