//! `psionic-passes`: IR-to-IR transformations and the pass manager that runs them.
//!
//! Owns the [`Pass`] trait, the registry of named passes ([`registry::PASSES`],
//! one line per pass), pipelines parsed from strings such as
//! `"canonicalize,cse,dce"`, the classic passes (`verify`, `dce`, `cse`,
//! `canonicalize`: identity removal, layout folding and constant folding), and
//! the transforms (`autodiff`: vjp, jvp, grad and friends; `vmap`), which take
//! a `Func` and return a new `Func` in the same IR.
//!
//! Invariants:
//! - Every pass leaves the verifier green: a pass that cannot rewrite an op
//!   safely leaves it as it was.
//! - Passes never evaluate through the runtime directly. Constant folding
//!   takes its evaluator from the caller ([`PassContext::folder`]), so this
//!   crate depends only on `psionic-ir` (crate direction
//!   `ir <- passes <- codegen <- runtime`).
//! - Passes are deterministic: the same input gives byte-identical output.

pub mod autodiff;
pub mod bufplan;
pub mod canonicalize;
pub mod cse;
pub mod dce;
pub mod egraph;
pub mod fusion;
pub mod manager;
pub mod registry;
pub mod util;
pub mod verify;
pub mod vmap;

pub use manager::{
    parse_pipeline, FoldFn, Pass, PassContext, PassError, PassManager, PassOptions, PassReport,
    PassSpec, PassStats, PipelineOptions,
};
pub use registry::{create_pass, PassInfo, PASSES};
