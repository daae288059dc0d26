//! `custom_vjp` and `checkpoint`: function attributes that change how
//! [`super::vjp`] differentiates a function.
//!
//! - [`custom_vjp`]`(fwd, bwd)` returns `fwd` carrying the attribute
//!   `autodiff.custom_vjp`, the text form of `bwd`. `bwd` takes
//!   `(primals..., outputs..., cotangent per output...)` and returns one
//!   cotangent per primal (MLX's `custom_function` with `.vjp`). `vjp` of
//!   such a function runs the forward ops for the outputs and inlines `bwd`
//!   for the cotangents instead of differentiating the forward ops. The
//!   result is ordinary IR, so higher derivatives differentiate `bwd`. `jvp`
//!   and `vmap` differentiate and batch the forward ops (the attribute is
//!   dropped by `vmap`, whose result has other shapes).
//! - [`checkpoint`]`(f)` returns `f` carrying `autodiff.checkpoint = true`.
//!   `vjp` of such a function computes the outputs with the forward ops,
//!   then replays the forward ops a second time from `tensor.copy`s of the
//!   inputs and runs the backward rules on the replayed values, so the
//!   first copy's intermediates die when the outputs are done and the
//!   backward pass recomputes what it needs (rematerialization). The copies
//!   keep the two replays apart under CSE.
//!
//! - A **checkpointed region** inside a larger function is marked with two
//!   `tensor.depends` ops: a pure pass-through of the region's inputs
//!   (`depends(x..., num_outputs = #x)`, which nothing else emits) opens it,
//!   and `depends(y..., opened..., num_outputs = #y)` closes it (the region's
//!   outputs, ordered after the opening marker's results). [`find_regions`]
//!   finds them; `vjp` replays the region's ops at the start of its backward
//!   part, from copies of the opened inputs, so the forward intermediates of
//!   the region die once its outputs are computed. [`mark_region`] builds
//!   the markers; the closure API's `Checkpoint::call` emits them.
//!
//! `custom_vjp` has the granularity of a function: a frontend that attaches
//! a backward to a sub-computation differentiates that function on its own.

use super::builder::{inline, R};
use super::TransformError;
use psionic_ir::text::{parse_func, print_func};
use psionic_ir::{Attr, Func, Op, Value};

/// Name of the function attribute holding a custom backward function.
pub const CUSTOM_VJP_ATTR: &str = "autodiff.custom_vjp";
/// Name of the function attribute marking a function for recomputation.
pub const CHECKPOINT_ATTR: &str = "autodiff.checkpoint";

/// `fwd` with `bwd` attached as its vjp. `bwd` must take
/// `(primals..., outputs..., cotangents...)` of `fwd`'s types and return one
/// value per primal of that primal's type.
pub fn custom_vjp(fwd: &Func, bwd: &Func) -> R<Func> {
    let mut want = fwd.param_types();
    want.extend(fwd.result_types());
    want.extend(fwd.result_types());
    if bwd.param_types() != want {
        let show: Vec<String> = want.iter().map(|t| t.to_string()).collect();
        return Err(TransformError::new(format!(
            "custom_vjp: the backward function `{}` must take (primals, outputs, cotangents) = ({})",
            bwd.name,
            show.join(", ")
        )));
    }
    if bwd.result_types() != fwd.param_types() {
        return Err(TransformError::new(format!(
            "custom_vjp: the backward function `{}` must return one cotangent per input of `{}`, typed like the input",
            bwd.name, fwd.name
        )));
    }
    let mut f = fwd.clone();
    f.set_attr(CUSTOM_VJP_ATTR, Attr::Str(print_func(bwd)));
    Ok(f)
}

/// `f` marked for recomputation in the backward pass.
pub fn checkpoint(f: &Func) -> Func {
    let mut g = f.clone();
    g.set_attr(CHECKPOINT_ATTR, Attr::Bool(true));
    g
}

pub fn is_checkpointed(f: &Func) -> bool {
    matches!(f.attr(CHECKPOINT_ATTR), Some(Attr::Bool(true)))
}

/// The backward function attached by [`custom_vjp`], if any.
pub fn backward_of(f: &Func) -> R<Option<Func>> {
    match f.attr(CUSTOM_VJP_ATTR) {
        None => Ok(None),
        Some(Attr::Str(text)) => parse_func(text).map(Some).map_err(|e| {
            TransformError::new(format!(
                "custom_vjp: the backward function attached to `{}` does not parse: {e}",
                f.name
            ))
        }),
        Some(_) => Err(TransformError::new(format!(
            "`{}`: attribute `{CUSTOM_VJP_ATTR}` must be a string",
            f.name
        ))),
    }
}

/// The vjp of a function with a custom backward.
pub fn vjp_custom(f: &Func, bwd: &Func, wrt: &[usize]) -> R<Func> {
    let mut types = f.param_types();
    types.extend(f.result_types());
    let mut g = Func::new(format!("{}_vjp", f.name), types);
    g.attrs = plain_attrs(f);
    let np = f.params.len();
    let params = g.params.clone();
    let outs = inline(&mut g, f, &params[..np])?;
    let mut args = params[..np].to_vec();
    args.extend(outs.iter().copied());
    args.extend(params[np..].iter().copied());
    let grads = inline(&mut g, bwd, &args)?;
    let mut results = outs;
    results.extend(wrt.iter().map(|&i| grads[i]));
    g.results = results;
    Ok(super::builder::dce(&g))
}

/// Copies `f`'s ops into `g` with `args` for its parameters; returns the
/// copied ops (remapped) and the value map.
pub fn replay(g: &mut Func, f: &Func, args: &[Value]) -> R<(Vec<Op>, Vec<Value>)> {
    let mut map = vec![Value(u32::MAX); f.value_types.len()];
    for (&p, &a) in f.params.iter().zip(args) {
        map[p.index()] = a;
    }
    let mut ops = Vec::with_capacity(f.ops.len());
    for op in &f.ops {
        let operands: Vec<Value> = op.operands.iter().map(|v| map[v.index()]).collect();
        let res = g.push_at(op.opcode, &operands, op.attrs.clone(), op.loc)?;
        for (&r, &n) in op.results.iter().zip(&res) {
            map[r.index()] = n;
        }
        ops.push(Op {
            opcode: op.opcode,
            operands,
            attrs: op.attrs.clone(),
            results: res,
            loc: op.loc,
        });
    }
    Ok((ops, map))
}

/// `f`'s attributes without the autodiff markers (a transformed function
/// has another signature: the markers do not carry over).
pub fn plain_attrs(f: &Func) -> Vec<(String, Attr)> {
    f.attrs
        .iter()
        .filter(|(n, _)| n != CUSTOM_VJP_ATTR && n != CHECKPOINT_ATTR)
        .cloned()
        .collect()
}

/// A checkpointed region of an op list: the indices of its opening and
/// closing markers and of the ops between them that compute its outputs
/// from its inputs (in order).
#[derive(Clone, Debug)]
pub struct Region {
    pub begin: usize,
    pub end: usize,
    pub ops: Vec<usize>,
}

fn is_open_marker(op: &Op) -> bool {
    op.opcode == psionic_ir::Opcode::Depends
        && matches!(op.attrs.int("num_outputs"), Ok(n) if n as usize == op.operands.len())
}

/// The checkpointed regions of `ops` (see the module docs). A region whose
/// intermediate values are also used outside it is not recomputed (it is
/// differentiated as ordinary ops), so the replay never changes results.
pub fn find_regions(ops: &[Op]) -> Vec<Region> {
    let mut def: std::collections::HashMap<Value, usize> = std::collections::HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for &r in &op.results {
            def.insert(r, i);
        }
    }
    let mut out = Vec::new();
    for (end, op) in ops.iter().enumerate() {
        if op.opcode != psionic_ir::Opcode::Depends {
            continue;
        }
        let Ok(k) = op.attrs.int("num_outputs") else {
            continue;
        };
        let k = k as usize;
        let tail = &op.operands[k..];
        let Some(&first) = tail.first() else { continue };
        let Some(&begin) = def.get(&first) else {
            continue;
        };
        let bop = &ops[begin];
        if !is_open_marker(bop) || bop.results.as_slice() != tail || begin >= end {
            continue;
        }
        // Ops between the markers that the outputs depend on, and that
        // depend on the inputs.
        let mut from_in: std::collections::HashSet<Value> = bop.results.iter().copied().collect();
        let mut inside = Vec::new();
        for (i, o) in ops.iter().enumerate().take(end).skip(begin + 1) {
            if o.operands.iter().any(|v| from_in.contains(v)) {
                from_in.extend(o.results.iter().copied());
                inside.push(i);
            }
        }
        let mut needed: std::collections::HashSet<Value> =
            op.operands[..k].iter().copied().collect();
        let mut ops_in = Vec::new();
        for &i in inside.iter().rev() {
            if ops[i].results.iter().any(|r| needed.contains(r)) {
                needed.extend(ops[i].operands.iter().copied());
                ops_in.push(i);
            }
        }
        ops_in.reverse();
        // Every use of a region value must be inside the region or the
        // closing marker.
        let produced: std::collections::HashSet<Value> = ops_in
            .iter()
            .flat_map(|&i| ops[i].results.iter().copied())
            .collect();
        let members: std::collections::HashSet<usize> = ops_in.iter().copied().collect();
        let escapes = ops.iter().enumerate().any(|(i, o)| {
            i != end && !members.contains(&i) && o.operands.iter().any(|v| produced.contains(v))
        });
        if escapes || ops_in.is_empty() {
            continue;
        }
        out.push(Region {
            begin,
            end,
            ops: ops_in,
        });
    }
    out
}

/// Wraps ops `f` applied to `inputs` in checkpoint markers: emits the
/// opening marker on `inputs`, calls `body` with its results, and closes the
/// region on the values `body` returns. Returns the closed outputs.
pub fn mark_region(
    g: &mut Func,
    inputs: &[Value],
    body: impl FnOnce(&mut Func, &[Value]) -> R<Vec<Value>>,
) -> R<Vec<Value>> {
    let n = inputs.len() as i64;
    let opened = g.push(
        psionic_ir::Opcode::Depends,
        inputs,
        psionic_ir::Attrs::new().with("num_outputs", Attr::Int(n)),
    )?;
    let outs = body(g, &opened)?;
    let mut operands = outs.clone();
    operands.extend(opened.iter().copied());
    Ok(g.push(
        psionic_ir::Opcode::Depends,
        &operands,
        psionic_ir::Attrs::new().with("num_outputs", Attr::Int(outs.len() as i64)),
    )?)
}
