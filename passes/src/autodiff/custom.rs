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
//! The granularity is a function: a frontend that checkpoints or attaches a
//! backward to a sub-computation differentiates that function on its own.

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
