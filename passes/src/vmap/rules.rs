//! The batching rule of every op, in one exhaustive `match` on [`Opcode`]:
//! adding an op to the table without a rule here fails to compile.
//!
//! A rule gets the op with batched operands, each operand's batch axis
//! (`None`: unbatched; at least one is batched), the op's per-example result
//! types and the batch size (`DYN` when unknown), and returns the batched
//! results with their batch axes. Elementwise ops and ops with an axis
//! attribute keep the batch axis where it is and shift their axes; the
//! others move it to the front (one transpose) and prepend a batch axis to
//! their attributes. An unbatched operand that must be combined with batched
//! ones is broadcast along the batch axis.

use crate::autodiff::builder::{B, R};
use crate::autodiff::TransformError;
use psionic_ir::{Attr, Attrs, Dim, Op, Opcode, TensorType, Value, DYN};

type Out = (Vec<Value>, Vec<Option<usize>>);

fn err(m: impl Into<String>) -> TransformError {
    TransformError::new(m)
}

/// An axis of the per-example value, seen in the batched value whose batch
/// axis is `k`.
fn shift(a: i64, k: usize) -> i64 {
    if a as usize >= k {
        a + 1
    } else {
        a
    }
}

/// Moves the batch axis of `v` to the front (no-op for unbatched values).
pub(super) fn front(b: &mut B, v: Value, bd: Option<usize>) -> R<Value> {
    match bd {
        Some(k) => b.move_axis(v, k, 0),
        None => Ok(v),
    }
}

/// Gives an unbatched `v` a leading batch axis, broadcast from `like` (a
/// value batched at axis 0). Static when the sizes are known; otherwise a
/// `broadcast_like` that takes only the batch size from `like` (its rank
/// must then be `1 + rank(v)`).
pub(super) fn materialize(b: &mut B, v: Value, like: Value, size: Dim) -> R<Value> {
    let t = b.ty(v);
    let e = b.expand_dims(v, &[0])?;
    if size != DYN && t.is_static() {
        let mut s = vec![size];
        s.extend_from_slice(&t.shape);
        return b.op(
            Opcode::Broadcast,
            &[e],
            Attrs::new().with("shape", Attr::Ints(s)),
        );
    }
    let lr = b.rank(like);
    if lr != t.rank() + 1 {
        return Err(err(format!(
            "broadcasting an unbatched {t} along the batch axis needs a known batch size (use vmap_with_size)"
        )));
    }
    let mut a = Attrs::new();
    if t.rank() > 0 {
        a.set(
            "ignore_axes",
            Attr::Ints((1..=t.rank() as i64).rev().map(|i| -i).collect()),
        );
    }
    b.op(Opcode::BroadcastLike, &[e, like], a)
}

/// Every operand batched at the front; unbatched ones broadcast from the
/// first batched operand.
pub(super) fn all_front(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Vec<Value>> {
    let mut vs: Vec<Option<Value>> = vec![None; op.operands.len()];
    let mut like = None;
    for (i, (&v, &d)) in op.operands.iter().zip(bds).enumerate() {
        if d.is_some() {
            let f = front(b, v, d)?;
            like.get_or_insert(f);
            vs[i] = Some(f);
        }
    }
    let like = like.ok_or_else(|| err("internal: no batched operand"))?;
    let mut out = Vec::with_capacity(vs.len());
    for (i, v) in vs.into_iter().enumerate() {
        out.push(match v {
            Some(v) => v,
            None => materialize(b, op.operands[i], like, size)?,
        });
    }
    Ok(out)
}

/// Elementwise ops: bring batched operands to one axis (the first batched
/// operand's), broadcast unbatched ones along it.
fn elementwise(b: &mut B, op: &Op, bds: &[Option<usize>]) -> R<Out> {
    let (first, k) = op
        .operands
        .iter()
        .zip(bds)
        .find_map(|(&v, &d)| d.map(|d| (v, d)))
        .ok_or_else(|| err("internal: no batched operand"))?;
    let mut vs = Vec::with_capacity(op.operands.len());
    for (&v, &d) in op.operands.iter().zip(bds) {
        vs.push(match d {
            Some(d) => b.move_axis(v, d, k)?,
            None => {
                let e = b.expand_dims(v, &[k])?;
                b.broadcast_to_value(e, first)?
            }
        });
    }
    let res = b.ops(op.opcode, &vs, op.attrs.clone())?;
    let n = res.len();
    Ok((res, vec![Some(k); n]))
}

fn one(v: Value, d: Option<usize>) -> R<Out> {
    Ok((vec![v], vec![d]))
}

fn axes_attr(attrs: &Attrs, name: &str) -> R<Vec<i64>> {
    Ok(attrs.ints(name)?.to_vec())
}

/// `attrs` with `name` replaced.
fn with(attrs: &Attrs, name: &'static str, v: Attr) -> Attrs {
    let mut a = attrs.clone();
    a.set(name, v);
    a
}

fn need_size(size: Dim, what: &str) -> R<i64> {
    if size == DYN {
        Err(err(format!(
            "{what} needs a known batch size (use vmap_with_size)"
        )))
    } else {
        Ok(size)
    }
}

/// The batched results of `op` and their batch axes.
pub fn batch_rule(
    b: &mut B,
    op: &Op,
    bds: &[Option<usize>],
    result_types: &[TensorType],
    size: Dim,
) -> R<Out> {
    use Opcode::*;
    let attrs = &op.attrs;
    let x = op.operands.first().copied();
    let k0 = bds.first().copied().flatten();
    match op.opcode {
        // No operands: never reaches a batching rule, but listed so that
        // the match stays exhaustive.
        Constant | Full | Iota | Arange => Err(err("internal: creation ops take no operands")),

        Abs | Negative | Sign | Square | Sqrt | Rsqrt | Reciprocal | Exp | Expm1 | Log | Log1p
        | Log2 | Log10 | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh | Cosh | Tanh
        | Arcsinh | Arccosh | Arctanh | Sigmoid | Erf | Erfinv | Floor | Ceil | Round | IsNan
        | IsInf | IsFinite | LogicalNot | BitwiseInvert | StopGradient | Copy | Add | Subtract
        | Multiply | Divide | FloorDivide | Remainder | Power | Maximum | Minimum | Arctan2
        | LogAddExp | LogicalAnd | LogicalOr | BitwiseAnd | BitwiseOr | BitwiseXor | LeftShift
        | RightShift | DivMod | Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual
        | Select | Cast => elementwise(b, op, bds),

        // The last axis changes size: keep the batch axis off it.
        Bitcast => {
            let x = x.ok_or_else(|| err("missing operand"))?;
            let k = k0.ok_or_else(|| err("internal: unbatched"))?;
            let r = b.rank(x);
            let (v, k) = if k == r - 1 {
                (b.move_axis(x, k, 0)?, 0)
            } else {
                (x, k)
            };
            one(b.op(Bitcast, &[v], attrs.clone())?, Some(k))
        }

        // ---- reductions over shifted axes ----
        ReduceSum | ReduceProd | ReduceMax | ReduceMin | ReduceAll | ReduceAny | LogSumExp => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axes = axes_attr(attrs, "axes")?;
            let shifted: Vec<i64> = axes.iter().map(|&a| shift(a, k)).collect();
            let keep = attrs.bool("keepdims").unwrap_or(false);
            let nk = if keep {
                k
            } else {
                k - axes.iter().filter(|&&a| (a as usize) < k).count()
            };
            one(
                b.op(op.opcode, &[x], with(attrs, "axes", Attr::Ints(shifted)))?,
                Some(nk),
            )
        }
        Argmax | Argmin => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axis = attrs.int("axis")?;
            let keep = attrs.bool("keepdims").unwrap_or(false);
            let nk = if keep || axis as usize >= k { k } else { k - 1 };
            one(
                b.op(
                    op.opcode,
                    &[x],
                    with(attrs, "axis", Attr::Int(shift(axis, k))),
                )?,
                Some(nk),
            )
        }
        Softmax | Flip => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axes: Vec<i64> = axes_attr(attrs, "axes")?
                .iter()
                .map(|&a| shift(a, k))
                .collect();
            one(
                b.op(op.opcode, &[x], with(attrs, "axes", Attr::Ints(axes)))?,
                Some(k),
            )
        }
        Cumsum | Cumprod | Cummax | Cummin | CumLogAddExp | Sort | Argsort | Partition
        | Argpartition => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axis = attrs.int("axis")?;
            one(
                b.op(
                    op.opcode,
                    &[x],
                    with(attrs, "axis", Attr::Int(shift(axis, k))),
                )?,
                Some(k),
            )
        }
        Split => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axis = attrs.int("axis")?;
            let res = b.ops(Split, &[x], with(attrs, "axis", Attr::Int(shift(axis, k))))?;
            let n = res.len();
            Ok((res, vec![Some(k); n]))
        }
        NumberOfElements => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axes: Vec<i64> = axes_attr(attrs, "axes")?
                .iter()
                .map(|&a| shift(a, k))
                .collect();
            one(
                b.op(op.opcode, &[x], with(attrs, "axes", Attr::Ints(axes)))?,
                None,
            )
        }

        // ---- layout, batch axis in front ----
        Reshape => {
            let x = front(b, op.operands[0], k0)?;
            let shape = axes_attr(attrs, "shape")?;
            let lead = if size != DYN {
                size
            } else if shape.contains(&-1) {
                // Keep the per-example shape's own -1; the batch size must
                // then be known.
                return Err(err(
                    "a reshape with an inferred (-1) size needs a known batch size (use vmap_with_size)",
                ));
            } else {
                -1
            };
            let mut s = vec![lead];
            s.extend(shape);
            one(
                b.op(Reshape, &[x], with(attrs, "shape", Attr::Ints(s)))?,
                Some(0),
            )
        }
        Transpose => {
            let x = front(b, op.operands[0], k0)?;
            let mut perm = vec![0i64];
            perm.extend(axes_attr(attrs, "perm")?.iter().map(|&p| p + 1));
            one(
                b.op(Transpose, &[x], with(attrs, "perm", Attr::Ints(perm)))?,
                Some(0),
            )
        }
        Broadcast => {
            let x = front(b, op.operands[0], k0)?;
            let shape = axes_attr(attrs, "shape")?;
            let rx = b.rank(x) - 1;
            let e = b.expand_dims(x, &(1..1 + shape.len() - rx).collect::<Vec<_>>())?;
            if size != DYN {
                let mut s = vec![size];
                s.extend(shape);
                return one(
                    b.op(Broadcast, &[e], with(attrs, "shape", Attr::Ints(s)))?,
                    Some(0),
                );
            }
            // Symbolic batch size: a constant shape donor of [1, shape...].
            let mut s = vec![1];
            s.extend(shape);
            let dt = b.dtype(x);
            let donor = b.fill(0.0, &TensorType::new(dt, s), None)?;
            one(b.op(BroadcastLike, &[e, donor], Attrs::new())?, Some(0))
        }
        BroadcastLike => {
            let r = result_types[0].rank();
            let mut vs = Vec::with_capacity(op.operands.len());
            for (&v, &d) in op.operands.iter().zip(bds) {
                match d {
                    Some(_) => {
                        let f = front(b, v, d)?;
                        let rv = b.rank(f) - 1;
                        let e = b.expand_dims(f, &(1..1 + r - rv).collect::<Vec<_>>())?;
                        vs.push(e);
                    }
                    None => vs.push(v),
                }
            }
            // An unbatched first operand still gets the batch axis from the
            // batched donors, since every batched operand has rank 1 + r.
            one(b.op(BroadcastLike, &vs, attrs.clone())?, Some(0))
        }
        ExpandDims | Squeeze => {
            let x = front(b, op.operands[0], k0)?;
            let axes: Vec<i64> = axes_attr(attrs, "axes")?.iter().map(|&a| a + 1).collect();
            one(
                b.op(op.opcode, &[x], with(attrs, "axes", Attr::Ints(axes)))?,
                Some(0),
            )
        }
        Flatten => {
            let x = front(b, op.operands[0], k0)?;
            if b.rank(x) == 1 {
                // A 0-d example flattens to [1].
                return one(b.expand_dims(x, &[1])?, Some(0));
            }
            let a = with(
                &with(attrs, "start_axis", Attr::Int(attrs.int("start_axis")? + 1)),
                "end_axis",
                Attr::Int(attrs.int("end_axis")? + 1),
            );
            one(b.op(Flatten, &[x], a)?, Some(0))
        }
        Unflatten => {
            let x = front(b, op.operands[0], k0)?;
            one(
                b.op(
                    Unflatten,
                    &[x],
                    with(attrs, "axis", Attr::Int(attrs.int("axis")? + 1)),
                )?,
                Some(0),
            )
        }
        Slice => {
            let n = need_size(size, "a slice")?;
            let x = front(b, op.operands[0], k0)?;
            one(b.op(Slice, &[x], batched_slice(attrs, n)?)?, Some(0))
        }
        SliceUpdate => {
            let n = need_size(size, "a slice update")?;
            let vs = all_front(b, op, bds, size)?;
            one(b.op(SliceUpdate, &vs, batched_slice(attrs, n)?)?, Some(0))
        }
        Pad => {
            let low = axes_attr(attrs, "low")?;
            let high = axes_attr(attrs, "high")?;
            let mut l = vec![0];
            l.extend(low);
            let mut h = vec![0];
            h.extend(high);
            let pa = with(&with(attrs, "low", Attr::Ints(l)), "high", Attr::Ints(h));
            match bds[1] {
                None => {
                    let x = front(b, op.operands[0], k0)?;
                    one(b.op(Pad, &[x, op.operands[1]], pa)?, Some(0))
                }
                Some(_) => {
                    // A batched pad value: pad with anything, then select the
                    // padding positions through a padded mask.
                    let vb = op.operands[1]; // [B]
                    let x = match bds[0] {
                        Some(_) => front(b, op.operands[0], bds[0])?,
                        None => {
                            let r = b.rank(op.operands[0]);
                            let vlike = b.expand_dims(vb, &(1..1 + r).collect::<Vec<_>>())?;
                            let xe = b.expand_dims(op.operands[0], &[0])?;
                            let mut a = Attrs::new();
                            if r > 0 {
                                a.set(
                                    "ignore_axes",
                                    Attr::Ints((1..=r as i64).rev().map(|i| -i).collect()),
                                );
                            }
                            b.op(BroadcastLike, &[xe, vlike], a)?
                        }
                    };
                    let zero = b.fill(0.0, &TensorType::scalar(b.dtype(x)), None)?;
                    let p = b.op(Pad, &[x, zero], pa.clone())?;
                    let t = b.fill(1.0, &b.ty(x).with_dtype(psionic_ir::DType::Bool), Some(x))?;
                    let fls = b.fill(0.0, &TensorType::scalar(psionic_ir::DType::Bool), None)?;
                    let mask = b.op(Pad, &[t, fls], pa)?;
                    let r = b.rank(p);
                    let ve = b.expand_dims(vb, &(1..r).collect::<Vec<_>>())?;
                    let vfull = b.broadcast_to_value(ve, p)?;
                    one(b.op(Select, &[mask, p, vfull], Attrs::new())?, Some(0))
                }
            }
        }
        Concatenate => {
            let vs = all_front(b, op, bds, size)?;
            one(
                b.op(
                    Concatenate,
                    &vs,
                    with(attrs, "axis", Attr::Int(attrs.int("axis")? + 1)),
                )?,
                Some(0),
            )
        }

        // ---- indexing ----
        DynamicSlice => {
            if bds[1].is_some() {
                return super::extra::dynamic_slice(b, op, bds, size);
            }
            let n = need_size(size, "a dynamic slice")?;
            let x = front(b, op.operands[0], k0)?;
            let axes: Vec<i64> = axes_attr(attrs, "axes")?.iter().map(|&a| a + 1).collect();
            let mut sizes = vec![n];
            sizes.extend(axes_attr(attrs, "sizes")?);
            let a = Attrs::new()
                .with("axes", Attr::Ints(axes))
                .with("sizes", Attr::Ints(sizes));
            one(b.op(DynamicSlice, &[x, op.operands[1]], a)?, Some(0))
        }
        DynamicSliceUpdate => {
            if bds[2].is_some() {
                return super::extra::dynamic_slice_update(b, op, bds, size);
            }
            let sub = Op {
                opcode: op.opcode,
                operands: op.operands[..2].to_vec(),
                attrs: attrs.clone(),
                results: Vec::new(),
                loc: op.loc,
            };
            let vs = all_front(b, &sub, &bds[..2], size)?;
            let axes: Vec<i64> = axes_attr(attrs, "axes")?.iter().map(|&a| a + 1).collect();
            one(
                b.op(
                    DynamicSliceUpdate,
                    &[vs[0], vs[1], op.operands[2]],
                    Attrs::new().with("axes", Attr::Ints(axes)),
                )?,
                Some(0),
            )
        }
        Gather => {
            let axes = axes_attr(attrs, "axes")?;
            let ss = axes_attr(attrs, "slice_sizes")?;
            let idx_batched = bds[1..].iter().any(Option::is_some);
            if !idx_batched {
                // Only the source is batched: take whole slices along its
                // batch axis.
                let (x, k) = (op.operands[0], k0.unwrap_or(0));
                let n = need_size(size, "a gather from a batched source")?;
                let sh: Vec<i64> = axes.iter().map(|&a| shift(a, k)).collect();
                let mut s2 = ss.clone();
                s2.insert(k, n);
                let mut operands = vec![x];
                operands.extend_from_slice(&op.operands[1..]);
                let a = Attrs::new()
                    .with("axes", Attr::Ints(sh))
                    .with("slice_sizes", Attr::Ints(s2));
                let ir = b.rank(op.operands[1..].first().copied().unwrap_or(x));
                let ir = if op.operands.len() > 1 { ir } else { 0 };
                return one(b.op(Gather, &operands, a)?, Some(ir + k));
            }
            // Batched indices: all index operands batched in front.
            let sub = Op {
                opcode: op.opcode,
                operands: op.operands[1..].to_vec(),
                attrs: attrs.clone(),
                results: Vec::new(),
                loc: op.loc,
            };
            let idx = all_front(b, &sub, &bds[1..], size)?;
            match k0 {
                None => {
                    let mut operands = vec![op.operands[0]];
                    operands.extend(idx);
                    one(b.op(Gather, &operands, attrs.clone())?, Some(0))
                }
                Some(_) => {
                    // Both batched: index the batch axis with 0..B as well.
                    let x = front(b, op.operands[0], k0)?;
                    let bi = b.index_along(idx[0], 0)?;
                    let ir = b.rank(idx[0]);
                    let mut operands = vec![x, bi];
                    operands.extend(idx);
                    let mut ax = vec![0i64];
                    ax.extend(axes.iter().map(|&a| a + 1));
                    let mut s2 = vec![1i64];
                    s2.extend(ss);
                    let a = Attrs::new()
                        .with("axes", Attr::Ints(ax))
                        .with("slice_sizes", Attr::Ints(s2));
                    let g = b.op(Gather, &operands, a)?;
                    one(b.squeeze(g, &[ir])?, Some(0))
                }
            }
        }
        TakeAlongAxis | ScatterAxis => {
            let vs = all_front(b, op, bds, size)?;
            one(
                b.op(
                    op.opcode,
                    &vs,
                    with(attrs, "axis", Attr::Int(attrs.int("axis")? + 1)),
                )?,
                Some(0),
            )
        }
        Scatter => {
            let n = op.operands.len();
            let axes = axes_attr(attrs, "axes")?;
            let idx_batched = bds[1..n - 1].iter().any(Option::is_some);
            if !idx_batched && bds[0].is_some() {
                // Same positions in every lane: the batch axis becomes a
                // whole-slice axis of the destination (in front), and of the
                // updates (right after the index axes).
                let dst = front(b, op.operands[0], bds[0])?;
                let ir = if n > 2 { b.rank(op.operands[1]) } else { 0 };
                let upd = match bds[n - 1] {
                    Some(k) => b.move_axis(op.operands[n - 1], k, ir)?,
                    None => {
                        let u = op.operands[n - 1];
                        let e = b.expand_dims(u, &[ir])?;
                        let r = b.rank(dst) - 1;
                        let mut a = Attrs::new();
                        if r > 0 {
                            a.set(
                                "ignore_axes",
                                Attr::Ints((1..=r as i64).rev().map(|i| -i).collect()),
                            );
                        }
                        b.op(BroadcastLike, &[e, dst], a)?
                    }
                };
                let mut operands = vec![dst];
                operands.extend_from_slice(&op.operands[1..n - 1]);
                operands.push(upd);
                let ax: Vec<i64> = axes.iter().map(|&a| a + 1).collect();
                return one(
                    b.op(Scatter, &operands, with(attrs, "axes", Attr::Ints(ax)))?,
                    Some(0),
                );
            }
            let vs = all_front(b, op, bds, size)?;
            let idx = &vs[1..n - 1];
            let (dst, upd) = (vs[0], vs[n - 1]);
            let bi = match idx.first() {
                Some(&i0) => b.index_along(i0, 0)?,
                None => {
                    return Err(err("a scatter without index operands cannot be batched"));
                }
            };
            let ir = b.rank(bi);
            let u = b.expand_dims(upd, &[ir])?;
            let mut operands = vec![dst, bi];
            operands.extend_from_slice(idx);
            operands.push(u);
            let mut ax = vec![0i64];
            ax.extend(axes.iter().map(|&a| a + 1));
            one(
                b.op(Scatter, &operands, with(attrs, "axes", Attr::Ints(ax)))?,
                Some(0),
            )
        }

        // ---- MLX extras ----
        // Elementwise or pass-through.
        Real | Imag | Conjugate => elementwise(b, op, bds),
        Depends => {
            let n = attrs.int("num_outputs")? as usize;
            let res = b.ops(Depends, &op.operands, attrs.clone())?;
            Ok((res, bds[..n].to_vec()))
        }
        // Ops over the trailing axes of their first operand (any leading
        // axes): the batch axis goes in front; the other operands must be
        // unbatched.
        // Batched weights: normalize with unit weights (and zero bias),
        // then apply the batched affine part elementwise.
        RmsNorm | LayerNorm if bds[1..].iter().any(Option::is_some) => {
            let vs = all_front(b, op, bds, size)?;
            let x = vs[0];
            // Per-example weight type: the batched one without its batch axis.
            let per = |b: &B, v: Value| {
                let t = b.ty(v);
                t.with_shape(t.shape[1..].to_vec())
            };
            let unit = b.fill(1.0, &per(b, vs[1]), None)?;
            let mut plain = vec![x, unit];
            if op.opcode == LayerNorm {
                let zt = per(b, vs[2]);
                plain.push(b.fill(0.0, &zt, None)?);
            }
            let n = b.op(op.opcode, &plain, attrs.clone())?;
            let r = b.rank(x);
            // [B, D] -> [B, 1, ..., D] -> x's shape.
            let lift = |b: &mut B, v: Value| -> R<Value> {
                let e = b.expand_dims(v, &(1..r - 1).collect::<Vec<_>>())?;
                b.broadcast_to_value(e, x)
            };
            let w = lift(b, vs[1])?;
            let mut y = b.mul(n, w)?;
            if op.opcode == LayerNorm {
                let bias = lift(b, vs[2])?;
                y = b.add(y, bias)?;
            }
            one(y, Some(0))
        }
        // The packed weights, scales and biases share their leading axes:
        // every operand with the batch in front (unbatched ones broadcast).
        Dequantize => {
            let vs = all_front(b, op, bds, size)?;
            one(b.op(op.opcode, &vs, attrs.clone())?, Some(0))
        }
        // Batched weights (or scales, biases): the weights batched in front
        // (unbatched ones broadcast), with unit axes after the batch so that
        // their batch axes line up with x's (batched or broadcast in front).
        QuantizedMatmul if bds[1..].iter().any(Option::is_some) => {
            let mut like = None;
            for (i, &d) in bds.iter().enumerate().skip(1) {
                if d.is_some() {
                    like = Some(front(b, op.operands[i], d)?);
                    break;
                }
            }
            let like = like.ok_or_else(|| err("internal: no batched weight"))?;
            let mut ws = Vec::new();
            for (&v, &d) in op.operands.iter().zip(bds).skip(1) {
                ws.push(match d {
                    Some(_) => front(b, v, d)?,
                    None => materialize(b, v, like, size)?,
                });
            }
            let x = match bds[0] {
                Some(_) => front(b, op.operands[0], bds[0])?,
                None => materialize(b, op.operands[0], like, size)?,
            };
            let extra = b.rank(x).saturating_sub(b.rank(ws[0]));
            if extra > 0 {
                let axes: Vec<usize> = (1..=extra).collect();
                for w in &mut ws {
                    *w = b.expand_dims(*w, &axes)?;
                }
            }
            let mut operands = vec![x];
            operands.extend(ws);
            one(b.op(op.opcode, &operands, attrs.clone())?, Some(0))
        }
        Inverse | Cholesky | Qr | Svd | Eigh | Eig | Hadamard | RmsNorm | LayerNorm | Quantize
        | QuantizedMatmul | RandomBits => {
            if bds[1..].iter().any(Option::is_some) {
                return Err(err("only the first operand may be batched"));
            }
            let x = front(b, op.operands[0], k0)?;
            let mut operands = vec![x];
            operands.extend_from_slice(&op.operands[1..]);
            let res = b.ops(op.opcode, &operands, attrs.clone())?;
            let n = res.len();
            Ok((res, vec![Some(0); n]))
        }
        SearchSorted => {
            if bds[0].is_some() {
                return Err(err("a batched sorted array is not supported"));
            }
            let res = b.op(SearchSorted, &op.operands, attrs.clone())?;
            one(res, bds[1])
        }
        Fft => {
            let (x, k) = (op.operands[0], k0.unwrap_or(0));
            let axes: Vec<i64> = axes_attr(attrs, "axes")?
                .iter()
                .map(|&a| shift(a, k))
                .collect();
            one(
                b.op(Fft, &[x], with(attrs, "axes", Attr::Ints(axes)))?,
                Some(k),
            )
        }
        ConvGeneral => super::extra::conv_general(b, op, bds, size),
        Rope => super::extra::rope(b, op, bds, size),
        Sdpa => super::extra::sdpa(b, op, bds, size),
        MaskedScatter => super::extra::masked_scatter(b, op, bds, size),
        AsStrided => super::extra::as_strided(b, op, bds, size),
        // Matmul with block masks: every operand batched in front (the
        // batch is one more broadcast batch axis).
        BlockMaskedMm => {
            let vs = all_front(b, op, bds, size)?;
            one(b.op(op.opcode, &vs, attrs.clone())?, Some(0))
        }
        // Index-addressed stacks and the norm backward ops: through their
        // decompositions (gathers and batched matmuls; the norms' own ops).
        GatherQmm | GatherMm | RmsNormVjp | LayerNormVjp => {
            super::extra::via_decomposition(b, op, bds, size)
        }

        // ---- contractions: batched matmul with the batch axis in front ----
        Matmul | AddMM => {
            let vs = all_front(b, op, bds, size)?;
            one(b.op(op.opcode, &vs, attrs.clone())?, Some(0))
        }
    }
}

/// Slice attributes with the whole batch axis prepended.
fn batched_slice(attrs: &Attrs, n: i64) -> R<Attrs> {
    let mut start = vec![0];
    start.extend(attrs.ints("start")?);
    let mut stop = vec![n];
    stop.extend(attrs.ints("stop")?);
    let mut strides = vec![1];
    strides.extend(attrs.ints("strides")?);
    let mut a = attrs.clone();
    a.set("start", Attr::Ints(start));
    a.set("stop", Attr::Ints(stop));
    a.set("strides", Attr::Ints(strides));
    Ok(a)
}
