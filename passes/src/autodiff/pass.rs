//! The transforms as named passes of the pass manager (`psionic opt --pass
//! vjp`): each replaces every function of the module by its transform.
//!
//! Options (lists separated by `:`, since `,` separates options):
//! - `vjp{wrt=0:2}`, `jvp{wrt=0}`: inputs differentiated (default: every
//!   floating-point input);
//! - `grad{argnums=0:1}`: default input 0 (MLX's default);
//! - `vmap{in_axes=0:none:1,out_axes=0,size=3}`: default axis 0 for every
//!   input and output, symbolic batch size.

use crate::autodiff::{grad, jvp, vjp};
use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use psionic_ir::Func;

fn parse_list(key: &str, v: &str) -> Result<Vec<Option<i64>>, String> {
    v.split(':')
        .map(|s| {
            let s = s.trim();
            if s == "none" || s == "None" {
                Ok(None)
            } else {
                s.parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("option `{key}`: `{s}` is not an integer or `none`"))
            }
        })
        .collect()
}

fn parse_indices(key: &str, v: &str) -> Result<Vec<usize>, String> {
    parse_list(key, v)?
        .into_iter()
        .map(|x| match x {
            Some(i) if i >= 0 => Ok(i as usize),
            _ => Err(format!(
                "option `{key}`: input indices are non-negative integers"
            )),
        })
        .collect()
}

/// Every floating-point input of `f`.
pub fn float_inputs(f: &Func) -> Vec<usize> {
    f.param_types()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.dtype.is_inexact())
        .map(|(i, _)| i)
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vjp,
    Jvp,
    Grad,
}

struct DiffPass {
    kind: Kind,
    wrt: Option<Vec<usize>>,
}

impl Pass for DiffPass {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Vjp => "vjp",
            Kind::Jvp => "jvp",
            Kind::Grad => "grad",
        }
    }
    fn run(&self, func: &mut Func, _ctx: &PassContext) -> Result<PassStats, String> {
        let wrt = match (&self.wrt, self.kind) {
            (Some(w), _) => w.clone(),
            (None, Kind::Grad) => vec![0],
            (None, _) => float_inputs(func),
        };
        let before = func.ops.len();
        let mut g = match self.kind {
            Kind::Vjp => vjp(func, &wrt),
            Kind::Jvp => jvp(func, &wrt),
            Kind::Grad => grad(func, &wrt),
        }
        .map_err(|e| e.message)?;
        g.name = func.name.clone();
        let mut stats = PassStats::default();
        stats.add("ops added", g.ops.len().saturating_sub(before) as u64);
        *func = g;
        Ok(stats)
    }
}

fn create_diff(kind: Kind, key: &'static str, o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    let name = match kind {
        Kind::Vjp => "vjp",
        Kind::Jvp => "jvp",
        Kind::Grad => "grad",
    };
    o.expect_only(name, &[key])?;
    let wrt = o.get(key).map(|v| parse_indices(key, v)).transpose()?;
    Ok(Box::new(DiffPass { kind, wrt }))
}

pub fn create_vjp(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    create_diff(Kind::Vjp, "wrt", o)
}
pub fn create_jvp(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    create_diff(Kind::Jvp, "wrt", o)
}
pub fn create_grad(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    create_diff(Kind::Grad, "argnums", o)
}
