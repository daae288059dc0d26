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
    PassInfo { name: "canonicalize", summary: "Folds constants, removes identities, folds layout chains; then DCE.", create: canonicalize::create },
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
