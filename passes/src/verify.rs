//! The `verify` pass, and the verifier and printer hooks the manager uses.

use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use psionic_ir::{Func, Module};

/// The `verify` pass: checks every function, changes nothing.
pub struct Verify;

pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("verify", &[])?;
    Ok(Box::new(Verify))
}

impl Pass for Verify {
    fn name(&self) -> &str {
        "verify"
    }
    fn run(&self, func: &mut Func, _: &PassContext) -> Result<PassStats, String> {
        verify_func_text(func)?;
        Ok(PassStats::default())
    }
}

/// Verifies one function; the message carries the verifier's location.
pub(crate) fn verify_func_text(f: &Func) -> Result<(), String> {
    psionic_ir::verify::verify_func(f).map_err(|e| e.to_string())
}

pub(crate) fn verify_module_text(m: &Module) -> Result<(), String> {
    psionic_ir::verify::verify_module(m).map_err(|e| e.to_string())
}

pub(crate) fn print_module_text(m: &Module) -> String {
    psionic_ir::text::print_module(m)
}
