//! The `psionic` command-line tool as a library: the commands (`opt`, `run`,
//! `inspect`), FileCheck, and the lit test runner used by `tests/lit.rs`.
//!
//! Nothing here is used by other crates; it sits at the top of the crate
//! graph and may depend on every other Psionic crate.

pub mod cli;
pub mod filecheck;
pub mod lit;
pub mod samples;
