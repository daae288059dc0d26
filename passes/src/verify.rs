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

// TEMPORARY until psionic_ir::verify and psionic_ir::text land on main.
pub(crate) fn verify_func_text(_f: &Func) -> Result<(), String> {
    Ok(())
}
pub(crate) fn verify_module_text(m: &Module) -> Result<(), String> {
    for f in &m.funcs {
        verify_func_text(f)?;
    }
    Ok(())
}
pub(crate) fn print_module_text(m: &Module) -> String {
    format!("{m:#?}")
}
