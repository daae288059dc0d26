//! Decompositions of composite MLX ops into primitive ops of the table, used
//! where an op's derivative (or batching) is the derivative of what it
//! computes: `sdpa` (MLX's own vjp differentiates its fallback the same
//! way), `gather_mm`, `gather_qmm`, `block_masked_mm`, `masked_scatter` and
//! the fused norm backward ops `rms_norm_vjp`/`layer_norm_vjp` (their
//! derivatives are second derivatives of the norms).
//!
//! [`decompose`] builds a [`Func`] taking the op's operands and returning its
//! results; the rules then inline the vjp, jvp or vmap of that function
//! ([`vjp_via`], [`jvp_via`], [`crate::vmap`]'s `vmap_via`). Each
//! decomposition needs static shapes and says so otherwise.

use super::builder::{inline, ints, B, R};
use super::TransformError;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Op, Opcode, TensorType, Value};

fn err(op: &Op, why: impl std::fmt::Display) -> TransformError {
    TransformError::new(format!("`{}`: {why}", op.opcode))
}

/// Whether [`decompose`] knows `op`.
pub fn has_decomposition(op: Opcode) -> bool {
    use Opcode::*;
    matches!(
        op,
        Sdpa | GatherMm | GatherQmm | BlockMaskedMm | MaskedScatter | RmsNormVjp | LayerNormVjp
    )
}

/// A function `(operands...) -> (results...)` computing `op` with primitive
/// ops. `types` are the operand types.
pub fn decompose(op: &Op, types: &[TensorType]) -> R<Func> {
    for t in types {
        if !t.is_static() {
            return Err(err(
                op,
                format!("differentiating or batching it needs static shapes, found {t}"),
            ));
        }
    }
    let mut f = Func::new(
        format!("{}_decomposed", op.opcode.name().replace('.', "_")),
        types.to_vec(),
    );
    let ps = f.params.clone();
    let res = {
        let mut b = B::new(&mut f);
        match op.opcode {
            Opcode::Sdpa => sdpa(&mut b, op, &ps)?,
            Opcode::GatherMm => {
                let r = gather_mm(&mut b, ps[0], ps[1], ps[2], ps[3])?;
                vec![r]
            }
            Opcode::GatherQmm => {
                let n = ps.len();
                let w = b.op(Opcode::Dequantize, &ps[1..n - 2], quant_attrs(&op.attrs)?)?;
                let w = if op.attrs.bool("transpose")? {
                    b.mt(w)?
                } else {
                    w
                };
                let w = b.cast(w, b.dtype(ps[0]))?;
                vec![gather_mm(&mut b, ps[0], w, ps[n - 2], ps[n - 1])?]
            }
            Opcode::BlockMaskedMm => vec![block_masked_mm(&mut b, op, &ps)?],
            Opcode::Cumprod => vec![cumprod(&mut b, op, ps[0])?],
            Opcode::MaskedScatter => vec![masked_scatter(&mut b, ps[0], ps[1], ps[2])?],
            Opcode::RmsNormVjp | Opcode::LayerNormVjp => {
                let eps = op.attrs.float("eps")? as f32 as f64; // an f32 in MLX, as the interpreter
                let layer = op.opcode == Opcode::LayerNormVjp;
                let nt: Vec<TensorType> = types[..types.len() - 1].to_vec();
                let mut g = Func::new("norm", nt);
                let gp = g.params.clone();
                let y = {
                    let mut gb = B::new(&mut g);
                    norm(&mut gb, &gp, eps, layer)?
                };
                g.results = vec![y];
                let wrt: Vec<usize> = (0..gp.len()).collect();
                let v = super::vjp(&g, &wrt)?;
                let outs = inline(b.f, &v, &ps)?;
                outs[1..].to_vec()
            }
            other => {
                return Err(TransformError::new(format!(
                    "internal: no decomposition of `{other}`"
                )))
            }
        }
    };
    f.results = res;
    Ok(f)
}

/// `cumprod` as a Hillis-Steele scan: `log2(n)` steps of `y *= y shifted
/// by d` (ones shifted in), `d = 1, 2, 4, ...`; a reverse scan flips around
/// it, an exclusive one shifts the input by one first. Only multiplications,
/// so its derivatives of every order are exact where the input has zeros
/// (the division-based construction's are not past the first order).
fn cumprod(b: &mut B, op: &Op, x: Value) -> R<Value> {
    let t = b.ty(x);
    let r = t.rank() as i64;
    let axis = op.attrs.int("axis")?;
    let axis = if axis < 0 { axis + r } else { axis } as usize;
    let reverse = op.attrs.bool("reverse").unwrap_or(false);
    let inclusive = op.attrs.bool("inclusive").unwrap_or(true);
    let n = t.shape[axis];
    let flip = |b: &mut B, v: Value| {
        b.op(
            Opcode::Flip,
            &[v],
            Attrs::new().with("axes", Attr::Ints(vec![axis as i64])),
        )
    };
    // `v` shifted by `d` along the axis, ones shifted in.
    let shift = |b: &mut B, v: Value, d: i64| -> R<Value> {
        let mut ones_t = t.clone();
        ones_t.shape[axis] = d.min(n);
        let ones = b.fill(1.0, &ones_t, None)?;
        if d >= n {
            return Ok(ones);
        }
        let mut stop = t.shape.clone();
        stop[axis] = n - d;
        let head = b.op(
            Opcode::Slice,
            &[v],
            Attrs::new()
                .with("start", Attr::Ints(vec![0; t.rank()]))
                .with("stop", Attr::Ints(stop))
                .with("strides", Attr::Ints(vec![1; t.rank()])),
        )?;
        b.op(
            Opcode::Concatenate,
            &[ones, head],
            Attrs::new().with("axis", Attr::Int(axis as i64)),
        )
    };
    let mut y = if reverse { flip(b, x)? } else { x };
    if n == 0 {
        return Ok(x);
    }
    if !inclusive {
        y = shift(b, y, 1)?;
    }
    let mut d = 1;
    while d < n {
        let s = shift(b, y, d)?;
        y = b.mul(y, s)?;
        d *= 2;
    }
    if reverse {
        y = flip(b, y)?;
    }
    Ok(y)
}

/// The quantization attributes of a quantized matmul, for `dequantize`.
pub fn quant_attrs(a: &Attrs) -> R<Attrs> {
    Ok(Attrs::new()
        .with("group_size", Attr::Int(a.int("group_size")?))
        .with("bits", Attr::Int(a.int("bits")?))
        .with("mode", Attr::Str(a.str("mode")?.to_string())))
}

fn reshape(b: &mut B, x: Value, shape: &[i64]) -> R<Value> {
    if b.ty(x).shape == shape {
        return Ok(x);
    }
    b.op(
        Opcode::Reshape,
        &[x],
        Attrs::new().with("shape", Attr::Ints(shape.to_vec())),
    )
}

fn broadcast(b: &mut B, x: Value, shape: &[i64]) -> R<Value> {
    if b.ty(x).shape == shape {
        return Ok(x);
    }
    b.op(
        Opcode::Broadcast,
        &[x],
        Attrs::new().with("shape", Attr::Ints(shape.to_vec())),
    )
}

/// `x` as `(count, rows, cols)`: its leading axes flattened.
fn as_stack(b: &mut B, x: Value) -> R<Value> {
    let s = b.ty(x).shape;
    let r = s.len();
    let n: i64 = s[..r - 2].iter().product();
    reshape(b, x, &[n, s[r - 2], s[r - 1]])
}

/// Matrices of `x` (as a stack) picked by `idx`: shape `idx.shape ++ (rows, cols)`.
fn pick(b: &mut B, x: Value, idx: Value) -> R<Value> {
    let st = as_stack(b, x)?;
    let s = b.ty(st).shape;
    let g = b.op(
        Opcode::Gather,
        &[st, idx],
        Attrs::new()
            .with("axes", Attr::Ints(vec![0]))
            .with("slice_sizes", Attr::Ints(vec![1, s[1], s[2]])),
    )?;
    let ir = b.rank(idx);
    b.squeeze(g, &[ir])
}

fn gather_mm(b: &mut B, a: Value, w: Value, lhs: Value, rhs: Value) -> R<Value> {
    let ga = pick(b, a, lhs)?;
    let gw = pick(b, w, rhs)?;
    b.matmul(ga, gw)
}

/// A block mask grid `(..., ceil(rows/bs), ceil(cols/bs))` expanded to
/// `(..., rows, cols)` in `dt` (bool masks as 0/1).
fn expand_mask(b: &mut B, m: Value, rows: i64, cols: i64, bs: i64, dt: DType) -> R<Value> {
    let m = b.cast(m, dt)?;
    let s = b.ty(m).shape;
    let r = s.len();
    let (gr, gc) = (s[r - 2], s[r - 1]);
    // (..., gr, 1, gc, 1) -> (..., gr, bs, gc, bs) -> (..., gr*bs, gc*bs)
    let e = b.expand_dims(m, &[r - 1, r + 1])?;
    let mut big = s[..r - 2].to_vec();
    big.extend([gr, bs, gc, bs]);
    let e = broadcast(b, e, &big)?;
    let mut flat = s[..r - 2].to_vec();
    flat.extend([gr * bs, gc * bs]);
    let e = reshape(b, e, &flat)?;
    if gr * bs == rows && gc * bs == cols {
        return Ok(e);
    }
    let mut start = vec![0; r];
    let mut stop = flat.clone();
    stop[r - 2] = rows;
    stop[r - 1] = cols;
    let _ = &mut start;
    b.op(
        Opcode::Slice,
        &[e],
        Attrs::new()
            .with("start", Attr::Ints(start))
            .with("stop", Attr::Ints(stop))
            .with("strides", Attr::Ints(vec![1; r])),
    )
}

fn block_masked_mm(b: &mut B, op: &Op, ps: &[Value]) -> R<Value> {
    let bs = op.attrs.int("block_size")?;
    let (a, w) = (ps[0], ps[1]);
    let dt = b.dtype(a);
    let (at, wt) = (b.ty(a), b.ty(w));
    let r = at.rank();
    let (m, k, n) = (at.shape[r - 2], at.shape[r - 1], wt.shape[r - 1]);
    let (out_m, lhs_m, rhs_m) = match ps.len() {
        3 => (Some(ps[2]), None, None),
        4 => (None, Some(ps[2]), Some(ps[3])),
        5 => (Some(ps[2]), Some(ps[3]), Some(ps[4])),
        _ => (None, None, None),
    };
    let apply = |b: &mut B, x: Value, mask: Option<Value>, rows: i64, cols: i64| -> R<Value> {
        match mask {
            None => Ok(x),
            Some(mk) => {
                let e = expand_mask(b, mk, rows, cols, bs, dt)?;
                let xs = b.ty(x).shape;
                let es = b.ty(e).shape;
                let full = psionic_ir::types::broadcast_shapes(&xs, &es).ok_or_else(|| {
                    err(
                        op,
                        format!("mask of shape {es:?} does not broadcast to {xs:?}"),
                    )
                })?;
                let x = broadcast(b, x, &full)?;
                let e = broadcast(b, e, &full)?;
                b.mul(x, e)
            }
        }
    };
    let a = apply(b, a, lhs_m, m, k)?;
    let w = apply(b, w, rhs_m, k, n)?;
    // Batch axes broadcast as in matmul.
    let (as_, ws) = (b.ty(a).shape, b.ty(w).shape);
    let batch = psionic_ir::types::broadcast_shapes(&as_[..r - 2], &ws[..r - 2])
        .ok_or_else(|| err(op, "batch axes do not broadcast"))?;
    let mut sa = batch.clone();
    sa.extend([m, k]);
    let mut sw = batch.clone();
    sw.extend([k, n]);
    let a = broadcast(b, a, &sa)?;
    let w = broadcast(b, w, &sw)?;
    let c = b.matmul(a, w)?;
    apply(b, c, out_m, m, n)
}

/// `(dst, mask, src)`: per leading index, the true positions of `mask`
/// take `src`'s elements in order. As primitive ops: the exclusive running
/// count of the mask picks the source element, a select keeps `dst`
/// elsewhere.
fn masked_scatter(b: &mut B, dst: Value, mask: Value, src: Value) -> R<Value> {
    let dt = b.ty(dst);
    let nb = dt.shape[0];
    let per: i64 = dt.shape[1..].iter().product();
    let sp: i64 = b.ty(src).shape[1..].iter().product();
    let mask = broadcast(b, mask, &dt.shape)?;
    let mf = reshape(b, mask, &[nb, per])?;
    let df = reshape(b, dst, &[nb, per])?;
    if sp == 0 {
        return Ok(dst);
    }
    let sf = reshape(b, src, &[nb, sp])?;
    let mi = b.cast(mf, DType::I32)?;
    let idx = b.op(
        Opcode::Cumsum,
        &[mi],
        Attrs::new()
            .with("axis", Attr::Int(1))
            .with("inclusive", Attr::Bool(false)),
    )?;
    // Positions past the source (only where the mask is false) read its last element.
    let last = b.fill(
        sp as f64 - 1.0,
        &TensorType::new(DType::I32, vec![nb, per]),
        None,
    )?;
    let idx = b.bin(Opcode::Minimum, idx, last)?;
    // take_along_axis needs the index and source to agree on the other axes.
    let picked = b.op(
        Opcode::TakeAlongAxis,
        &[sf, idx],
        Attrs::new().with("axis", Attr::Int(1)),
    )?;
    let out = b.op(Opcode::Select, &[mf, picked, df], Attrs::new())?;
    reshape(b, out, &dt.shape)
}

/// rms_norm (x, w) or layer_norm (x, w, bias) over the last axis.
pub fn norm(b: &mut B, ps: &[Value], eps: f64, layer: bool) -> R<Value> {
    let x = ps[0];
    let last = b.rank(x) - 1;
    let n = b.ty(x).shape[last] as f64;
    let xc = if layer {
        let s = b.sum(x, &[last], true)?;
        let m = b.scale(s, 1.0 / n)?;
        let m = b.broadcast_to_value(m, x)?;
        b.sub(x, m)?
    } else {
        x
    };
    let sq = b.un(Opcode::Square, xc)?;
    let s = b.sum(sq, &[last], true)?;
    let m = b.scale(s, 1.0 / n)?;
    let e = b.scalar_like(eps, m)?;
    let v = b.add(m, e)?;
    let r = b.un(Opcode::Rsqrt, v)?;
    let r = b.broadcast_to_value(r, x)?;
    let y = b.mul(xc, r)?;
    let w = b.broadcast_to_value(ps[1], x)?;
    let y = b.mul(y, w)?;
    if layer {
        let bias = b.broadcast_to_value(ps[2], x)?;
        b.add(y, bias)
    } else {
        Ok(y)
    }
}

/// `softmax(scale q k^T + mask) v` with grouped heads, causal masking and
/// attention sinks, as MLX's fallback computes it.
fn sdpa(b: &mut B, op: &Op, ps: &[Value]) -> R<Vec<Value>> {
    let a = &op.attrs;
    // MLX keeps the scale as an f32 (as the interpreter does).
    let scale = a.float("scale")? as f32 as f64;
    let causal = a.bool("do_causal")?;
    let has_sinks = a.bool("has_sinks")?;
    let want_lse = a.bool("output_logsumexp")?;
    let (q, k, v) = (ps[0], ps[1], ps[2]);
    let dt = b.dtype(q);
    let (qs, ks, vs) = (b.ty(q).shape, b.ty(k).shape, b.ty(v).shape);
    let (bn, hq, lq, dk) = (qs[0], qs[1], qs[2], qs[3]);
    let (hk, lk, dv) = (ks[1], ks[2], vs[3]);
    let rep = hq / hk;
    // Repeat the key/value heads for the query groups.
    let rep_heads = |b: &mut B, x: Value, d: i64| -> R<Value> {
        if rep == 1 {
            return Ok(x);
        }
        let e = b.expand_dims(x, &[2])?;
        let e = broadcast(b, e, &[bn, hk, rep, lk, d])?;
        reshape(b, e, &[bn, hq, lk, d])
    };
    let k = rep_heads(b, k, dk)?;
    let v = rep_heads(b, v, dv)?;
    let qs_ = b.scale(q, scale)?;
    let kt = b.mt(k)?;
    let mut s = b.matmul(qs_, kt)?;
    let full = [bn, hq, lq, lk];
    let min = match dt {
        DType::F64 => f64::MIN,
        DType::F16 => -65504.0,
        DType::BF16 => -3.3895313892515355e38,
        _ => f32::MIN as f64,
    };
    let has_mask = ps.len() > 3 + usize::from(has_sinks);
    if has_mask {
        let m = ps[3];
        let mb = broadcast(b, m, &full)?;
        if b.dtype(m) == DType::Bool {
            let lo = b.fill(min, &TensorType::new(dt, full.to_vec()), None)?;
            s = b.op(Opcode::Select, &[mb, s, lo], Attrs::new())?;
        } else {
            let mb = b.cast(mb, dt)?;
            s = b.add(s, mb)?;
        }
    }
    if causal {
        let keep: Vec<i64> = (0..lq)
            .flat_map(|i| (0..lk).map(move |j| i64::from(i + lk >= j + lq)))
            .collect();
        let lit = Literal::from_i64(DType::Bool, vec![lq as usize, lk as usize], &keep)
            .map_err(|e| err(op, e))?;
        let c = b.op(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(lit)),
        )?;
        let cb = broadcast(b, c, &full)?;
        let lo = b.fill(min, &TensorType::new(dt, full.to_vec()), None)?;
        s = b.op(Opcode::Select, &[cb, s, lo], Attrs::new())?;
    }
    let logits = if has_sinks {
        let sk = ps[ps.len() - 1];
        let sk = b.cast(sk, dt)?;
        let sk = reshape(b, sk, &[1, hq, 1, 1])?;
        let sk = broadcast(b, sk, &[bn, hq, lq, 1])?;
        b.op(
            Opcode::Concatenate,
            &[sk, s],
            Attrs::new().with("axis", Attr::Int(3)),
        )?
    } else {
        s
    };
    let p = b.op(
        Opcode::Softmax,
        &[logits],
        Attrs::new().with("axes", ints([3])),
    )?;
    let p = if has_sinks {
        b.op(
            Opcode::Slice,
            &[p],
            Attrs::new()
                .with("start", Attr::Ints(vec![0, 0, 0, 1]))
                .with("stop", Attr::Ints(vec![bn, hq, lq, lk + 1]))
                .with("strides", Attr::Ints(vec![1; 4])),
        )?
    } else {
        p
    };
    let o = b.matmul(p, v)?;
    let mut out = vec![o];
    if want_lse {
        let l = b.op(
            Opcode::LogSumExp,
            &[logits],
            Attrs::new()
                .with("axes", ints([3]))
                .with("keepdims", Attr::Bool(true)),
        )?;
        out.push(b.cast(l, DType::F32)?);
    }
    Ok(out)
}

/// The vjp rule of a decomposed op: inlines the vjp of its decomposition.
pub fn vjp_via(b: &mut B, op: &Op, cts: &[Option<Value>], needs: &[bool]) -> R<Vec<Option<Value>>> {
    let types: Vec<TensorType> = op.operands.iter().map(|&v| b.ty(v)).collect();
    let g = decompose(op, &types)?;
    let wrt: Vec<usize> = (0..op.operands.len()).filter(|&i| needs[i]).collect();
    let mut out = vec![None; op.operands.len()];
    if wrt.is_empty() {
        return Ok(out);
    }
    let v = super::vjp(&g, &wrt)?;
    let mut args = op.operands.clone();
    for (c, &r) in cts.iter().zip(&op.results) {
        args.push(match c {
            Some(c) => *c,
            None => b.zeros_like(r)?,
        });
    }
    let res = inline(b.f, &v, &args)?;
    let nr = op.results.len();
    for (k, &i) in wrt.iter().enumerate() {
        out[i] = Some(res[nr + k]);
    }
    Ok(out)
}

/// The jvp rule of a decomposed op: inlines the jvp of its decomposition.
pub fn jvp_via(b: &mut B, op: &Op, ts: &[Option<Value>]) -> R<Vec<Option<Value>>> {
    let types: Vec<TensorType> = op.operands.iter().map(|&v| b.ty(v)).collect();
    let g = decompose(op, &types)?;
    let wrt: Vec<usize> = (0..op.operands.len())
        .filter(|&i| ts[i].is_some())
        .collect();
    let j = super::jvp(&g, &wrt)?;
    let mut args = op.operands.clone();
    args.extend(wrt.iter().filter_map(|&i| ts[i]));
    let res = inline(b.f, &j, &args)?;
    let nr = op.results.len();
    Ok((0..nr)
        .map(|k| {
            if b.dtype(op.results[k]).is_inexact() {
                Some(res[nr + k])
            } else {
                None
            }
        })
        .collect())
}
