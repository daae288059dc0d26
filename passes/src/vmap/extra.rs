//! Batching rules of the MLX extras that need more than moving the batch
//! axis: convolution (the batch folded into N, the output channels or the
//! groups, as MLX's Convolution::vmap), rope (the batch beside the rope
//! batch axis), sdpa and masked_scatter (the batch folded into their leading
//! axis), as_strided (a leading stride), dynamic slices with batched starts
//! (lowered to a gather or scatter), and the composite ops batched through
//! their decompositions.

use super::rules::{all_front, front, materialize};
use crate::autodiff::builder::{inline, B, R};
use crate::autodiff::decomp::decompose;
use crate::autodiff::extra::conv;
use crate::autodiff::TransformError;
use psionic_ir::{Attr, Attrs, DType, Dim, Op, Opcode, TensorType, Value, DYN};

type Out = (Vec<Value>, Vec<Option<usize>>);

fn err(op: &Op, m: impl std::fmt::Display) -> TransformError {
    TransformError::new(format!("vmap of {}: {m}", op.opcode))
}

fn flatten(b: &mut B, x: Value, s: usize, e: usize) -> R<Value> {
    b.op(
        Opcode::Flatten,
        &[x],
        Attrs::new()
            .with("start_axis", Attr::Int(s as i64))
            .with("end_axis", Attr::Int(e as i64)),
    )
}

fn unflatten(b: &mut B, x: Value, axis: usize, parts: &[i64]) -> R<Value> {
    let parts: Vec<i64> = parts
        .iter()
        .map(|&d| if d == DYN { -1 } else { d })
        .collect();
    b.op(
        Opcode::Unflatten,
        &[x],
        Attrs::new()
            .with("axis", Attr::Int(axis as i64))
            .with("shape", Attr::Ints(parts)),
    )
}

/// The per-example type of a batched operand.
fn per_example(b: &B, v: Value, bd: Option<usize>) -> TensorType {
    let mut t = b.ty(v);
    if let Some(k) = bd {
        t.shape.remove(k);
    }
    t
}

/// Batches `op` through its decomposition: the vmap of the function that
/// computes it from primitive ops, inlined.
pub fn via_decomposition(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let types: Vec<TensorType> = op
        .operands
        .iter()
        .zip(bds)
        .map(|(&v, &d)| per_example(b, v, d))
        .collect();
    let g = decompose(op, &types)?;
    // Outputs that depend on no batched operand stay unbatched (computed by
    // the decomposition itself): broadcasting them would need a known batch
    // size, and their consumers are cheaper unbatched.
    let mut dep = vec![false; g.value_types.len()];
    for (p, d) in g.params.iter().zip(bds) {
        dep[p.index()] = d.is_some();
    }
    for o in &g.ops {
        if o.operands.iter().any(|v| dep[v.index()]) {
            for r in &o.results {
                dep[r.index()] = true;
            }
        }
    }
    let batched: Vec<bool> = g.results.iter().map(|r| dep[r.index()]).collect();
    let part = |keep: bool| {
        let mut h = g.clone();
        h.results = g
            .results
            .iter()
            .zip(&batched)
            .filter(|(_, &d)| d == keep)
            .map(|(&r, _)| r)
            .collect();
        crate::autodiff::builder::dce(&h)
    };
    let in_axes: Vec<Option<i64>> = bds.iter().map(|d| d.map(|k| k as i64)).collect();
    let gb = part(true);
    let out_axes = vec![0i64; gb.results.len()];
    let n = if size == DYN { None } else { Some(size) };
    let v = super::vmap_with_size(&gb, &in_axes, &out_axes, n)?;
    let mut rb = inline(b.f, &v, &op.operands)?.into_iter();
    // The unbatched part uses no batched operand (those are dead in it).
    let mut ru = if batched.iter().all(|&d| d) {
        Vec::new().into_iter()
    } else {
        inline(b.f, &part(false), &op.operands)?.into_iter()
    };
    let mut res = Vec::with_capacity(batched.len());
    let mut axes = Vec::with_capacity(batched.len());
    for &d in &batched {
        let next = if d { rb.next() } else { ru.next() };
        res.push(next.ok_or_else(|| err(op, "internal: decomposition outputs"))?);
        axes.push(d.then_some(0));
    }
    Ok((res, axes))
}

pub fn conv_general(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let a = &op.attrs;
    let (s, lo, hi, kd, idil) = (
        a.ints("kernel_strides")?.to_vec(),
        a.ints("padding_lo")?.to_vec(),
        a.ints("padding_hi")?.to_vec(),
        a.ints("kernel_dilation")?.to_vec(),
        a.ints("input_dilation")?.to_vec(),
    );
    let g = a.int("groups")?;
    let flip = a.bool("flip")?;
    let (x, w) = (op.operands[0], op.operands[1]);
    let sd = s.len();
    let cv = |b: &mut B, x: Value, w: Value, groups: i64| {
        conv(b, x, w, &s, &lo, &hi, &kd, &idil, groups, flip)
    };
    match (bds[0], bds[1]) {
        (Some(kx), None) => {
            // The batch joins N.
            let xf = b.move_axis(x, kx, 0)?;
            let n = b.ty(xf).shape[1];
            let xf = flatten(b, xf, 0, 1)?;
            let y = cv(b, xf, w, g)?;
            Ok((vec![unflatten(b, y, 0, &[size, n])?], vec![Some(0)]))
        }
        (None, Some(kw)) => {
            let wf = b.move_axis(w, kw, 0)?;
            let ws = b.ty(wf).shape;
            let o = ws[1];
            if g == 1 {
                // The batch joins the output channels.
                let wf = flatten(b, wf, 0, 1)?;
                let y = cv(b, x, wf, 1)?;
                return Ok((
                    vec![unflatten(b, y, sd + 1, &[size, o])?],
                    vec![Some(sd + 1)],
                ));
            }
            if size == DYN {
                return Err(err(
                    op,
                    "a batched grouped kernel needs a known batch size (use vmap_with_size)",
                ));
            }
            // (V, g*og, ...) -> (g, V, og, ...) -> (g*V*og, ...): each group
            // sees every lane's kernels.
            let og = o / g;
            let wu = unflatten(b, wf, 1, &[g, og])?;
            let r = b.rank(wu);
            let mut perm = vec![1usize, 0];
            perm.extend(2..r);
            let wt = b.transpose(wu, &perm)?;
            let wt = flatten(b, wt, 0, 2)?;
            let y = cv(b, x, wt, g)?;
            // (N, P..., g*V*og) -> (N, P..., g, V, og) -> (V, N, P..., g, og) -> (V, N, P..., O)
            let y = unflatten(b, y, sd + 1, &[g, size, og])?;
            let y = b.move_axis(y, sd + 2, 0)?;
            let y = flatten(b, y, sd + 2, sd + 3)?;
            Ok((vec![y], vec![Some(0)]))
        }
        (Some(kx), Some(kw)) => {
            // Lanes become groups: channels (V*C), kernels (V*O), groups V*g.
            if size == DYN {
                return Err(err(
                    op,
                    "batching both the input and the kernel needs a known batch size (use vmap_with_size)",
                ));
            }
            let r = b.rank(x);
            let xf = b.move_axis(x, kx, r - 2)?;
            let xf = flatten(b, xf, r - 2, r - 1)?;
            let wf = b.move_axis(w, kw, 0)?;
            let o = b.ty(wf).shape[1];
            let wf = flatten(b, wf, 0, 1)?;
            let y = cv(b, xf, wf, g * size)?;
            Ok((
                vec![unflatten(b, y, sd + 1, &[size, o])?],
                vec![Some(sd + 1)],
            ))
        }
        (None, None) => Err(err(op, "internal: no batched operand")),
    }
}

pub fn rope(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    if bds.get(2).copied().flatten().is_some() {
        return Err(err(op, "batched frequencies are not supported"));
    }
    let x = op.operands[0];
    let off = op.operands[1];
    match bds[1] {
        None => {
            // The batch goes right after the rope batch axis: offsets keep
            // indexing axis 0 and positions stay on axis -2.
            let k = bds[0].ok_or_else(|| err(op, "internal: no batched operand"))?;
            let xb = b.move_axis(x, k, 1)?;
            let mut operands = vec![xb];
            operands.extend_from_slice(&op.operands[1..]);
            let y = b.op(Opcode::Rope, &operands, op.attrs.clone())?;
            Ok((vec![y], vec![Some(1)]))
        }
        Some(ko) => {
            // Per-lane offsets: fold the batch into the rope batch axis.
            let xb = match bds[0] {
                Some(k) => b.move_axis(x, k, 0)?,
                None => {
                    let of = front(b, off, Some(ko))?;
                    let like = b.expand_dims(of, &(1..=b.rank(x)).collect::<Vec<_>>())?;
                    let r = b.rank(x);
                    let e = b.expand_dims(x, &[0])?;
                    b.op(
                        Opcode::BroadcastLike,
                        &[e, like],
                        Attrs::new().with(
                            "ignore_axes",
                            Attr::Ints((1..=r as i64).rev().map(|i| -i).collect()),
                        ),
                    )?
                }
            };
            let xs = b.ty(xb).shape;
            let nb = xs[1];
            if nb == DYN {
                return Err(err(op, "per-lane offsets need a static batch axis"));
            }
            let of = front(b, off, Some(ko))?;
            let of = if b.rank(of) == 1 {
                b.expand_dims(of, &[1])?
            } else {
                of
            };
            let ot = b.ty(of);
            let of = if ot.shape[1] != nb {
                if ot.shape[0] == DYN {
                    let donor = b.fill(0.0, &TensorType::new(ot.dtype, vec![1, nb]), None)?;
                    b.op(Opcode::BroadcastLike, &[of, donor], Attrs::new())?
                } else {
                    b.op(
                        Opcode::Broadcast,
                        &[of],
                        Attrs::new().with("shape", Attr::Ints(vec![ot.shape[0], nb])),
                    )?
                }
            } else {
                of
            };
            let of = flatten(b, of, 0, 1)?;
            let xf = flatten(b, xb, 0, 1)?;
            let mut operands = vec![xf, of];
            operands.extend_from_slice(&op.operands[2..]);
            let y = b.op(Opcode::Rope, &operands, op.attrs.clone())?;
            Ok((vec![unflatten(b, y, 0, &[size, nb])?], vec![Some(0)]))
        }
    }
}

/// Folds the batch into the leading axis of every operand: ops that treat
/// their leading axis as independent examples (`sdpa`'s B, `masked_scatter`'s
/// per-leading-index scatter). `lead` lists the operands that have that
/// axis; the others must be unbatched.
fn fold_leading(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim, lead: &[usize]) -> R<Out> {
    for (i, d) in bds.iter().enumerate() {
        if d.is_some() && !lead.contains(&i) {
            return Err(err(op, format!("operand {i} cannot be batched")));
        }
    }
    let like = lead
        .iter()
        .find_map(|&i| bds[i].map(|d| (i, d)))
        .ok_or_else(|| err(op, "internal: no batched operand"))?;
    let like = front(b, op.operands[like.0], Some(like.1))?;
    let nb = b.ty(like).shape[1];
    let mut operands = op.operands.clone();
    for &i in lead {
        let v = op.operands[i];
        let vf = match bds[i] {
            Some(d) => front(b, v, Some(d))?,
            None => {
                let t = b.ty(v);
                if t.rank() + 1 != b.rank(like) {
                    return Err(err(
                        op,
                        format!("operand {i} has a rank other than the batched ones"),
                    ));
                }
                materialize(b, v, like, size)?
            }
        };
        // An operand broadcast along the leading axis (size 1) is stretched.
        let vt = b.ty(vf);
        let vf = if vt.shape[1] != nb {
            let mut s = vt.shape.clone();
            s[1] = nb;
            if s.contains(&DYN) {
                return Err(err(op, "a broadcast leading axis needs static sizes"));
            }
            b.op(
                Opcode::Broadcast,
                &[vf],
                Attrs::new().with("shape", Attr::Ints(s)),
            )?
        } else {
            vf
        };
        operands[i] = flatten(b, vf, 0, 1)?;
    }
    let res = b.ops(op.opcode, &operands, op.attrs.clone())?;
    let mut out = Vec::with_capacity(res.len());
    for r in res {
        out.push(unflatten(b, r, 0, &[size, nb])?);
    }
    let k = out.len();
    Ok((out, vec![Some(0); k]))
}

pub fn sdpa(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let has_sinks = op.attrs.bool("has_sinks")?;
    let n = op.operands.len();
    // Batched sinks (one logit per query head) do not fold into B: through
    // the decomposition (static shapes).
    if has_sinks && bds[n - 1].is_some() {
        return via_decomposition(b, op, bds, size);
    }
    let mut lead = vec![0, 1, 2];
    let has_mask = n > 3 + usize::from(has_sinks);
    if has_mask {
        let m = op.operands[3];
        // A batched mask is broadcast to the full (B, H, Lq, Lk) shape first.
        if bds[3].is_some() || b.rank(m) == 4 {
            lead.push(3);
        }
    }
    if let Some(k) = bds.get(3).copied().flatten().filter(|_| has_mask) {
        let mf = b.move_axis(op.operands[3], k, 0)?;
        // The per-example shapes of q and k (their batch axis removed).
        let qs = per_example(b, op.operands[0], bds[0]).shape;
        let ks = per_example(b, op.operands[1], bds[1]).shape;
        let ms = b.ty(mf).shape;
        let mut full = vec![ms[0], qs[0], qs[1], qs[2], ks[2]];
        if full.contains(&DYN) {
            return Err(err(op, "a batched mask needs static shapes"));
        }
        let r = ms.len();
        let mut e = mf;
        if r < 5 {
            e = b.expand_dims(e, &(1..1 + 5 - r).collect::<Vec<_>>())?;
        }
        full[0] = ms[0];
        let e = b.op(
            Opcode::Broadcast,
            &[e],
            Attrs::new().with("shape", Attr::Ints(full)),
        )?;
        let mut bds2 = bds.to_vec();
        bds2[3] = Some(0);
        let mut op2 = op.clone();
        op2.operands[3] = e;
        return fold_leading(b, &op2, &bds2, size, &lead);
    }
    fold_leading(b, op, bds, size, &lead)
}

pub fn masked_scatter(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    // The mask must have dst's shape to fold; broadcast it first.
    let mut op2 = op.clone();
    let mut bds2 = bds.to_vec();
    let dst_t = per_example(b, op.operands[0], bds[0]);
    let mask_t = per_example(b, op.operands[1], bds[1]);
    if mask_t.shape != dst_t.shape {
        if !dst_t.is_static() {
            return Err(err(op, "a broadcast mask needs static shapes"));
        }
        let m = match bds[1] {
            Some(k) => {
                let mf = b.move_axis(op.operands[1], k, 0)?;
                let nb = b.ty(mf).shape[0];
                let r = b.rank(mf) - 1;
                let mf = b.expand_dims(mf, &(1..1 + dst_t.rank() - r).collect::<Vec<_>>())?;
                let mut s = vec![nb];
                s.extend(dst_t.shape.iter().copied());
                if nb == DYN {
                    return Err(err(op, "a broadcast mask needs a known batch size"));
                }
                bds2[1] = Some(0);
                b.op(
                    Opcode::Broadcast,
                    &[mf],
                    Attrs::new().with("shape", Attr::Ints(s)),
                )?
            }
            None => b.op(
                Opcode::Broadcast,
                &[op.operands[1]],
                Attrs::new().with("shape", Attr::Ints(dst_t.shape.clone())),
            )?,
        };
        op2.operands[1] = m;
    }
    fold_leading(b, &op2, &bds2, size, &[0, 1, 2])
}

pub fn as_strided(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let x = front(b, op.operands[0], bds[0])?;
    let t = per_example(b, x, Some(0));
    let n = t
        .num_elements()
        .ok_or_else(|| err(op, "needs a static per-example shape"))?;
    if size == DYN {
        return Err(err(op, "needs a known batch size (use vmap_with_size)"));
    }
    let a = &op.attrs;
    let mut shape = vec![size];
    shape.extend(a.ints("shape")?);
    let mut strides = vec![n as i64];
    strides.extend(a.ints("strides")?);
    let attrs = Attrs::new()
        .with("shape", Attr::Ints(shape))
        .with("strides", Attr::Ints(strides))
        .with("offset", Attr::Int(a.int("offset")?));
    Ok((vec![b.op(Opcode::AsStrided, &[x], attrs)?], vec![Some(0)]))
}

/// `v` with its batch axis in front; an unbatched `v` is broadcast along a
/// new leading axis whose size comes from `lane` (a `(V,)` value).
fn lanes(b: &mut B, v: Value, bd: Option<usize>, lane: Value, size: Dim) -> R<Value> {
    if let Some(k) = bd {
        return b.move_axis(v, k, 0);
    }
    let t = b.ty(v);
    let r = t.rank();
    let e = b.expand_dims(v, &[0])?;
    if size != DYN && t.is_static() {
        let mut s = vec![size];
        s.extend(t.shape.iter().copied());
        return b.op(
            Opcode::Broadcast,
            &[e],
            Attrs::new().with("shape", Attr::Ints(s)),
        );
    }
    let like = b.expand_dims(lane, &(1..=r).collect::<Vec<_>>())?;
    let mut a = Attrs::new();
    if r > 0 {
        a.set(
            "ignore_axes",
            Attr::Ints((1..=r as i64).rev().map(|i| -i).collect()),
        );
    }
    b.op(Opcode::BroadcastLike, &[e, like], a)
}

/// Starts `(V, k)` as `k` index vectors `(V,)` of i32, plus `0..V`.
fn start_indices(b: &mut B, starts: Value, bd: usize) -> R<Vec<Value>> {
    let s = b.move_axis(starts, bd, 0)?;
    let s = b.cast(s, DType::I32)?;
    let st = b.ty(s);
    let k = st.shape[1];
    if k == DYN {
        return Err(TransformError::new(
            "vmap: the number of start indices must be static",
        ));
    }
    let mut out = Vec::new();
    let first = if k > 0 {
        let parts = if k == 1 {
            vec![s]
        } else {
            b.ops(
                Opcode::Split,
                &[s],
                Attrs::new()
                    .with("indices", Attr::Ints((1..k).collect()))
                    .with("axis", Attr::Int(1)),
            )?
        };
        for p in parts {
            out.push(b.squeeze(p, &[1])?);
        }
        out[0]
    } else {
        return Err(TransformError::new(
            "vmap: a dynamic slice without start indices",
        ));
    };
    let bi = b.index_along(first, 0)?;
    out.insert(0, bi);
    Ok(out)
}

/// `dynamic_slice` with batched starts: a gather with one index per lane.
pub fn dynamic_slice(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let kb = bds[1].ok_or_else(|| err(op, "internal: unbatched starts"))?;
    let idx = start_indices(b, op.operands[1], kb)?;
    let x = lanes(b, op.operands[0], bds[0], idx[0], size)?;
    let axes = op.attrs.ints("axes")?.to_vec();
    // `sizes` is the result shape (full rank): one lane of it per gather index.
    let sizes = op.attrs.ints("sizes")?.to_vec();
    if sizes.contains(&DYN) {
        return Err(err(op, "a sliced operand with symbolic sizes"));
    }
    let mut ss = vec![1i64];
    ss.extend_from_slice(&sizes);
    let mut ax = vec![0i64];
    ax.extend(axes.iter().map(|&a| a + 1));
    let mut operands = vec![x];
    operands.extend(idx);
    let g = b.op(
        Opcode::Gather,
        &operands,
        Attrs::new()
            .with("axes", Attr::Ints(ax))
            .with("slice_sizes", Attr::Ints(ss)),
    )?;
    Ok((vec![b.squeeze(g, &[1])?], vec![Some(0)]))
}

/// `dynamic_slice_update` with batched starts: a scatter with one index per lane.
pub fn dynamic_slice_update(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let kb = bds[2].ok_or_else(|| err(op, "internal: unbatched starts"))?;
    let idx = start_indices(b, op.operands[2], kb)?;
    let dst = lanes(b, op.operands[0], bds[0], idx[0], size)?;
    let upd = lanes(b, op.operands[1], bds[1], idx[0], size)?;
    let u = b.expand_dims(upd, &[1])?;
    let axes = op.attrs.ints("axes")?.to_vec();
    let mut ax = vec![0i64];
    ax.extend(axes.iter().map(|&a| a + 1));
    let mut operands = vec![dst];
    operands.extend(idx);
    operands.push(u);
    let y = b.op(
        Opcode::Scatter,
        &operands,
        Attrs::new().with("axes", Attr::Ints(ax)),
    )?;
    Ok((vec![y], vec![Some(0)]))
}

/// `dequantize(w, scales[, biases])` is elementwise per group along the last
/// axis: every operand batched at the front (unbatched ones broadcast), one
/// dequantize over the batch.
pub fn dequantize(b: &mut B, op: &Op, bds: &[Option<usize>], size: Dim) -> R<Out> {
    let vs = all_front(b, op, bds, size)?;
    let r = b.op(Opcode::Dequantize, &vs, op.attrs.clone())?;
    Ok((vec![r], vec![Some(0)]))
}

/// `quantized_matmul(x, w, scales[, biases])` with batched weights, scales
/// or biases (MLX has no vmap for it at all): the batched dequantize of the
/// weights, then one batched matmul, `x`'s middle axes flattened into its
/// rows.
pub fn quantized_matmul_batched_weights(
    b: &mut B,
    op: &Op,
    bds: &[Option<usize>],
    size: Dim,
) -> R<Out> {
    let a = &op.attrs;
    let transpose = a.bool("transpose").map_err(|e| err(op, e))?;
    // The weights' operands, batched at the front.
    let mut like = None;
    let mut ws: Vec<Option<Value>> = vec![None; op.operands.len()];
    for i in 1..op.operands.len() {
        if bds[i].is_some() {
            let f = front(b, op.operands[i], bds[i])?;
            like.get_or_insert(f);
            ws[i] = Some(f);
        }
    }
    let like = like.ok_or_else(|| err(op, "internal: no batched weight operand"))?;
    let mut wops = Vec::new();
    for (i, w) in ws.iter().enumerate().skip(1) {
        wops.push(match w {
            Some(v) => *v,
            None => materialize(b, op.operands[i], like, size)?,
        });
    }
    let mut da = Attrs::new();
    for k in ["bits", "group_size", "mode"] {
        if let Some(v) = a.get(k) {
            da.set(k, v.clone());
        }
    }
    let wd = b.op(Opcode::Dequantize, &wops, da)?;
    if b.rank(wd) != 3 {
        return Err(err(
            op,
            "batched weights of a rank other than 2 are not supported",
        ));
    }
    // [B, K, N]
    let wk = if transpose { b.mt(wd)? } else { wd };
    let x = match bds[0] {
        Some(_) => front(b, op.operands[0], bds[0])?,
        None => materialize(b, op.operands[0], wd, size)?,
    };
    let xt = b.ty(x);
    let r = xt.rank();
    if r < 3 {
        return Err(err(op, "a 1-d activation is not supported"));
    }
    // [B, a..., M, K] -> [B, P, K], matmul, -> [B, a..., M, N].
    let xf = if r > 3 { flatten(b, x, 1, r - 2)? } else { x };
    let y = b.matmul(xf, wk)?;
    let y = if r > 3 {
        unflatten(b, y, 1, &xt.shape[1..r - 1])?
    } else {
        y
    };
    Ok((vec![y], vec![Some(0)]))
}
