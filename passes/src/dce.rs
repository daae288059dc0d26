//! Dead-code elimination: removes ops none of whose results reach a function
//! result. Every op of the tensor-level IR is pure, so an unused op has no
//! effect. Function results and parameters are always kept.

use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use psionic_ir::Func;

/// The `dce` pass.
pub struct Dce;

pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("dce", &[])?;
    Ok(Box::new(Dce))
}

impl Pass for Dce {
    fn name(&self) -> &str {
        "dce"
    }
    fn run(&self, func: &mut Func, _: &PassContext) -> Result<PassStats, String> {
        let mut stats = PassStats::default();
        stats.add("ops removed", dce(func) as u64);
        Ok(stats)
    }
}

/// Removes dead ops and renumbers values; returns how many ops went.
pub fn dce(func: &mut Func) -> usize {
    let mut live = vec![false; func.value_types.len()];
    for r in &func.results {
        live[r.index()] = true;
    }
    let mut keep = vec![false; func.ops.len()];
    for (i, op) in func.ops.iter().enumerate().rev() {
        if op.results.iter().any(|r| live[r.index()]) {
            keep[i] = true;
            for o in &op.operands {
                live[o.index()] = true;
            }
        }
    }
    let before = func.ops.len();
    let mut i = 0;
    func.ops.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    let removed = before - func.ops.len();
    if removed > 0 || func.value_types.len() != func.params.len() + count_results(func) {
        *func = func.compact();
    }
    removed
}

fn count_results(func: &Func) -> usize {
    func.ops.iter().map(|o| o.results.len()).sum()
}
