//! The e-graph as a named pass of the pass manager: `egraph{iters=N,
//! nodes=N,time-ms=N,ac=BOOL,rulesets=a+b,approx-reciprocal=BOOL,
//! reassociate-floats=BOOL}`. Its statistics give ops before and after,
//! iterations and node counts, and a note per phase with why it stopped.

use super::{rules, simplify, EgraphOptions};
use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use psionic_ir::Func;
use std::time::Duration;

pub struct EgraphPass {
    opts: EgraphOptions,
}

const OPTIONS: &[&str] = &[
    "iters",
    "nodes",
    "time-ms",
    "ac",
    "rulesets",
    "approx-reciprocal",
    "reassociate-floats",
];

/// Builds the pass from its pipeline options.
pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("egraph", OPTIONS)?;
    let mut opts = EgraphOptions::default();
    opts.iter_limit = o.usize_or("iters", opts.iter_limit)?;
    opts.node_limit = o.usize_or("nodes", opts.node_limit)?;
    opts.time_limit =
        Duration::from_millis(o.usize_or("time-ms", opts.time_limit.as_millis() as usize)? as u64);
    opts.ac = o.bool_or("ac", opts.ac)?;
    opts.flags.approx_reciprocal = o.bool_or("approx-reciprocal", false)?;
    opts.flags.reassociate_floats = o.bool_or("reassociate-floats", false)?;
    if let Some(sets) = o.get("rulesets") {
        let names: Vec<String> = sets.split('+').map(|s| s.trim().to_string()).collect();
        for n in &names {
            if rules::ruleset(n).is_none() || n == rules::AC {
                return Err(format!(
                    "egraph: unknown ruleset `{n}` (rulesets: algebra, layout, fusion; `ac` is the `ac` option)"
                ));
            }
        }
        opts.rulesets = names;
    }
    Ok(Box::new(EgraphPass { opts }))
}

impl Pass for EgraphPass {
    fn name(&self) -> &str {
        "egraph"
    }
    fn run(&self, func: &mut Func, _: &PassContext) -> Result<PassStats, String> {
        let (g, st) = simplify(func, &self.opts).map_err(|e| e.to_string())?;
        *func = g;
        let mut stats = PassStats::default();
        stats.add(
            "iterations",
            st.phases.iter().map(|p| p.iterations as u64).sum(),
        );
        stats.add("e-nodes", st.phases.last().map_or(0, |p| p.nodes as u64));
        stats.add(
            "rewrites",
            st.phases
                .iter()
                .flat_map(|p| &p.applied)
                .map(|(_, c)| *c as u64)
                .sum(),
        );
        for p in &st.phases {
            stats.note(
                "stop",
                format!(
                    "{}: {} after {} iterations, {} nodes",
                    p.rulesets.join("+"),
                    p.stop_reason,
                    p.iterations,
                    p.nodes
                ),
            );
        }
        Ok(stats)
    }
}
