//! `psionic-runtime`: running Psionic IR.
//!
//! Owns the reference interpreter ([`interp`]), the oracle every backend is
//! compared against. It depends on the IR and never on a frontend.

pub mod interp;
