//! Vectorizing map as an IR-to-IR transform.
//!
//! [`vmap`] takes a per-example [`Func`] and returns a function over a batch:
//! each input is batched along its `in_axes` entry (or unbatched: `None`),
//! each output is batched along its `out_axes` entry. Every op is rewritten
//! by its batching rule ([`rules::batch_rule`], one exhaustive `match` on the
//! opcode) into ops over the whole batch: a matmul becomes a batched matmul,
//! a reduction a reduction over shifted axes; there are no per-lane loops.
//! Ops whose operands are all unbatched are copied unchanged.
//!
//! The batch size is symbolic (`DYN`) in [`vmap`]; [`vmap_with_size`] fixes
//! it, which a few rules need (slices, which name every axis' bounds).

pub mod extra;
pub mod pass;
pub mod rules;

use crate::autodiff::builder::{dce, B};
use crate::autodiff::TransformError;
use psionic_ir::{Dim, Func, Op, TensorType, Value, DYN};

type R<T> = Result<T, TransformError>;

/// `vmap(f, in_axes, out_axes)` with a symbolic batch size. Axes may be
/// negative (counted from the end of the batched rank).
pub fn vmap(f: &Func, in_axes: &[Option<i64>], out_axes: &[i64]) -> R<Func> {
    vmap_with_size(f, in_axes, out_axes, None)
}

/// [`vmap`] with a known batch size (`None`: symbolic).
pub fn vmap_with_size(
    f: &Func,
    in_axes: &[Option<i64>],
    out_axes: &[i64],
    size: Option<i64>,
) -> R<Func> {
    if in_axes.len() != f.params.len() {
        return Err(TransformError::new(format!(
            "vmap: {} in_axes for `{}` with {} inputs",
            in_axes.len(),
            f.name,
            f.params.len()
        )));
    }
    if out_axes.len() != f.results.len() {
        return Err(TransformError::new(format!(
            "vmap: {} out_axes for `{}` with {} outputs",
            out_axes.len(),
            f.name,
            f.results.len()
        )));
    }
    if in_axes.iter().all(Option::is_none) {
        return Err(TransformError::new(
            "vmap: at least one input must be batched (in_axes all None)",
        ));
    }
    if let Some(s) = size {
        if s < 0 {
            return Err(TransformError::new(format!(
                "vmap: batch size {s} is negative"
            )));
        }
    }
    let bsize: Dim = size.unwrap_or(DYN);
    let norm = |a: i64, rank: usize, what: &str| -> R<usize> {
        let n = rank as i64 + 1;
        let b = if a < 0 { a + n } else { a };
        if b < 0 || b >= n {
            return Err(TransformError::new(format!(
                "vmap: {what} axis {a} is out of range for batched rank {n}"
            )));
        }
        Ok(b as usize)
    };
    let mut types = Vec::with_capacity(f.params.len());
    let mut in_bd = Vec::with_capacity(f.params.len());
    for (i, (&p, a)) in f.params.iter().zip(in_axes).enumerate() {
        let t = f.ty(p);
        match a {
            Some(a) => {
                let k = norm(*a, t.rank(), &format!("input {i}"))?;
                let mut s = t.shape.clone();
                s.insert(k, bsize);
                types.push(t.with_shape(s));
                in_bd.push(Some(k));
            }
            None => {
                types.push(t.clone());
                in_bd.push(None);
            }
        }
    }
    let mut g = Func::new(format!("{}_vmap", f.name), types);
    g.attrs = crate::autodiff::custom::plain_attrs(f);
    let mut map = vec![Value(u32::MAX); f.value_types.len()];
    let mut bd: Vec<Option<usize>> = vec![None; f.value_types.len()];
    for (i, &p) in f.params.iter().enumerate() {
        map[p.index()] = g.params[i];
        bd[p.index()] = in_bd[i];
    }
    let mut b = B::new(&mut g);
    for op in &f.ops {
        let operands: Vec<Value> = op.operands.iter().map(|v| map[v.index()]).collect();
        let bds: Vec<Option<usize>> = op.operands.iter().map(|v| bd[v.index()]).collect();
        if bds.iter().all(Option::is_none) {
            let res =
                b.f.push_at(op.opcode, &operands, op.attrs.clone(), op.loc)?;
            for (&r, n) in op.results.iter().zip(res) {
                map[r.index()] = n;
            }
            continue;
        }
        let orig_types: Vec<TensorType> = op.results.iter().map(|&r| f.ty(r).clone()).collect();
        let mapped = Op {
            opcode: op.opcode,
            operands,
            attrs: op.attrs.clone(),
            results: Vec::new(),
            loc: op.loc,
        };
        let (res, rbds) =
            rules::batch_rule(&mut b, &mapped, &bds, &orig_types, bsize).map_err(|e| {
                let m = format!("vmap of `{}`: {}", op.opcode, e.message);
                if op.loc.is_known() {
                    TransformError::new(format!("{}: {m}", op.loc))
                } else {
                    TransformError::new(m)
                }
            })?;
        for ((&r, n), d) in op.results.iter().zip(res).zip(rbds) {
            map[r.index()] = n;
            bd[r.index()] = d;
        }
    }
    let mut outs = Vec::with_capacity(f.results.len());
    for (j, (&r, &a)) in f.results.iter().zip(out_axes).enumerate() {
        let v = map[r.index()];
        let rank = f.ty(r).rank();
        let k = norm(a, rank, &format!("output {j}"))?;
        let v = match bd[r.index()] {
            Some(d) => b.move_axis(v, d, k)?,
            None => {
                // An output that does not depend on a batched input is
                // repeated along the batch axis.
                let t = b.ty(v);
                if bsize == DYN || !t.is_static() {
                    return Err(TransformError::new(format!(
                        "vmap: output {j} does not depend on a batched input: broadcasting it needs a known batch size (use vmap_with_size)"
                    )));
                }
                let e = b.expand_dims(v, &[k])?;
                let mut s = t.shape.clone();
                s.insert(k, bsize);
                b.op(
                    psionic_ir::Opcode::Broadcast,
                    &[e],
                    psionic_ir::Attrs::new().with("shape", psionic_ir::Attr::Ints(s)),
                )?
            }
        };
        outs.push(v);
    }
    g.results = outs;
    Ok(dce(&g))
}
