//! `psionic-runtime`: executing Psionic IR.
//!
//! Owns the reference interpreter ([`interp::run_func`], [`interp::eval_op`]),
//! the oracle that every pass and backend is tested against. It depends on
//! the IR only for types, the op table and shape rules.

pub mod interp;
