//! The registry of named passes. Adding a pass is one line in [`PASSES`]:
//! its name, a one-line summary (shown by `psionic opt --list-passes`), and a
//! constructor that reads its pipeline options.

use crate::manager::{Pass, PassOptions, PassSpec};
use crate::{canonicalize, cse, dce, verify};

/// Builds a pass from its options (reject unknown ones with
/// [`PassOptions::expect_only`]).
pub type CreateFn = fn(&PassOptions) -> Result<Box<dyn Pass>, String>;

/// One registered pass.
pub struct PassInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub create: CreateFn,
}

/// Every named pass, in the order `--list-passes` shows them.
#[rustfmt::skip]
pub static PASSES: &[PassInfo] = &[
    PassInfo { name: "verify", summary: "Checks the IR; changes nothing.", create: verify::create },
    PassInfo { name: "dce", summary: "Removes ops whose results are never used.", create: dce::create },
    PassInfo { name: "cse", summary: "Merges ops with equal opcode, operands and attributes.", create: cse::create },
    PassInfo { name: "vjp", summary: "Reverse mode: (primals, cotangents) -> (outputs, grads); option wrt=0:1.", create: crate::autodiff::pass::create_vjp },
    PassInfo { name: "jvp", summary: "Forward mode: (primals, tangents) -> (outputs, output tangents); option wrt=0:1.", create: crate::autodiff::pass::create_jvp },
    PassInfo { name: "grad", summary: "Gradient of a scalar function; option argnums=0:1 (default 0).", create: crate::autodiff::pass::create_grad },
    PassInfo { name: "vmap", summary: "Vectorizing map; options in_axes=0:none, out_axes=0, size=N.", create: crate::vmap::pass::create },
    PassInfo { name: "canonicalize", summary: "Folds constants, removes identities, folds layout chains; then DCE.", create: canonicalize::create },
    PassInfo { name: "egraph", summary: "Algebraic, layout and fusion-exposing rewrites on an e-graph; bytes+flops extraction (docs/RULES.md).", create: crate::egraph::pass::create },
];

/// Looks a pass up by name and builds it with its options.
pub fn create_pass(spec: &PassSpec) -> Result<Box<dyn Pass>, String> {
    match PASSES.iter().find(|p| p.name == spec.name) {
        Some(info) => (info.create)(&spec.options),
        None => {
            let names: Vec<&str> = PASSES.iter().map(|p| p.name).collect();
            Err(format!(
                "unknown pass `{}` (known passes: {})",
                spec.name,
                names.join(", ")
            ))
        }
    }
}
