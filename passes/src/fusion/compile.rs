//! The default compile pipeline from a tensor-level function to a planned
//! kernel-level program: e-graph simplification, convolutions as matmuls,
//! fusion, buffer planning.
//! `psionic compile` runs it after the classic clean-up passes.

use super::collapse::collapse_matmul_batches;
use super::conv::lower_convolutions;
use super::reuse::reuse_reductions;
use super::split::{split_reductions, SplitOptions};
use super::{lower, FusionError, FusionOptions};
use crate::bufplan::{plan, BufferPlan};
use crate::egraph::{simplify, EgraphOptions, EgraphStats};
use psionic_ir::kernel::{KProgram, ProgramStats};
use psionic_ir::Func;

/// Options of [`compile`].
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// E-graph simplification before fusion (None: skip it).
    pub egraph: Option<EgraphOptions>,
    /// Split reductions of many points into few rows (see [`super::split`]).
    pub split: Option<SplitOptions>,
    /// Plan buffers after fusion.
    pub plan_buffers: bool,
    /// Scale the e-graph's bounds down for large functions (see
    /// [`LARGE_FUNC_OPS`]).
    pub scale_egraph: bool,
    /// Rewrite convolutions as im2col matmuls ([`super::conv`]) so they
    /// run through the backend's matmul; off, they stay library calls.
    pub lower_convolutions: bool,
    /// How fusion groups ops (each backend sets
    /// [`FusionOptions::wide_int_kernels`] to what its kernels can hold).
    pub fusion: FusionOptions,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            egraph: Some(EgraphOptions::default()),
            split: Some(SplitOptions::default()),
            plan_buffers: true,
            scale_egraph: true,
            lower_convolutions: true,
            fusion: FusionOptions::default(),
        }
    }
}

/// Functions with more ops than this get a cheaper e-graph: no AC phase
/// and fewer iterations. Equality saturation grows faster than linearly in
/// the number of ops (the AC phase doubles the e-graph and the main rules
/// run twice), while long chains are mostly elementwise code that fusion
/// handles the same either way: a 200-op chain spent most of its compile
/// time in the e-graph.
pub const LARGE_FUNC_OPS: usize = 128;

impl CompileOptions {
    /// These options with the e-graph's bounds scaled to `f`'s size (see
    /// [`LARGE_FUNC_OPS`]) when `scale_egraph` is set; what [`compile`] runs.
    pub fn for_func(&self, f: &Func) -> Self {
        let mut o = self.clone();
        if o.scale_egraph && f.ops.len() > LARGE_FUNC_OPS {
            if let Some(e) = &mut o.egraph {
                e.ac = false;
                e.iter_limit = e.iter_limit.min(LARGE_FUNC_ITERS);
            }
        }
        o
    }
}

/// E-graph iterations for functions above [`LARGE_FUNC_OPS`].
pub const LARGE_FUNC_ITERS: usize = 6;

/// What [`compile`] did.
#[derive(Clone, Debug)]
pub struct CompileReport {
    pub egraph: Option<EgraphStats>,
    pub plan: BufferPlan,
    pub program: ProgramStats,
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl CompileReport {
    /// One JSON object: `kernels`, `library_calls`, `peak_bytes`,
    /// `bytes_moved`, `passes`, `unplanned_bytes`, and the e-graph's
    /// per-phase iterations, nodes and stop reasons.
    pub fn to_json(&self) -> String {
        let mut s = format!(
            "{{\"kernels\": {}, \"library_calls\": {}, \"peak_bytes\": {}, \"bytes_moved\": {}, \"passes\": {}, \"unplanned_bytes\": {}",
            self.program.kernels,
            self.program.library_calls,
            self.plan.peak_bytes,
            self.program.bytes_moved,
            self.program.passes,
            self.plan.unplanned_bytes
        );
        if let Some(e) = &self.egraph {
            let phases: Vec<String> = e
                .phases
                .iter()
                .map(|p| {
                    let sets: Vec<String> = p.rulesets.iter().map(|r| json_str(r)).collect();
                    format!(
                        "{{\"rulesets\": [{}], \"iterations\": {}, \"nodes\": {}, \"classes\": {}, \"stop_reason\": {}, \"seconds\": {:.6}}}",
                        sets.join(", "),
                        p.iterations,
                        p.nodes,
                        p.classes,
                        json_str(&p.stop_reason),
                        p.seconds
                    )
                })
                .collect();
            s.push_str(&format!(
                ", \"egraph\": {{\"ops_before\": {}, \"ops_after\": {}, \"phases\": [{}]}}",
                e.ops_before,
                e.ops_after,
                phases.join(", ")
            ));
        }
        s.push('}');
        s
    }
}

/// Simplifies, fuses and plans `f`.
pub fn compile(f: &Func, opts: &CompileOptions) -> Result<(KProgram, CompileReport), FusionError> {
    let opts = &opts.for_func(f);
    let (g, egraph) = match &opts.egraph {
        Some(o) => {
            let (g, st) = simplify(f, o).map_err(|e| FusionError(e.to_string()))?;
            (g, Some(st))
        }
        None => (f.clone(), None),
    };
    // Reductions an earlier one covers in part reduce its result instead
    // of reading their operand again (fusion::reuse).
    let mut g = g;
    if opts.lower_convolutions {
        lower_convolutions(&mut g);
    }
    reuse_reductions(&mut g);
    let mut p = lower(&g, &opts.fusion)?;
    collapse_matmul_batches(&mut p);
    if let Some(so) = &opts.split {
        split_reductions(&mut p, so);
    }
    let plan_report = if opts.plan_buffers {
        plan(&mut p)
    } else {
        BufferPlan::default()
    };
    let program = p.stats();
    Ok((
        p,
        CompileReport {
            egraph,
            plan: plan_report,
            program,
        },
    ))
}
