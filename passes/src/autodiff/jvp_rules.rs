//! The jvp rule of every op, in one exhaustive `match` on [`Opcode`]: adding
//! an op to the table without a rule here fails to compile.
//!
//! A rule gets the op (operands and results are values of the function being
//! built) and the tangent of each operand (`None` is a symbolic zero) and
//! returns the tangent of each result (`None` for a zero). Linear ops apply
//! themselves to the tangents; the others multiply by their local derivative.

use super::builder::{B, R};
use super::derivs;
use super::vjp_rules::{expand_reduced, reduce_axes, scan_source_index, slice_attrs, ProdOthers};
use super::TransformError;
use psionic_ir::{Attr, Attrs, Op, Opcode, Value};

/// Tangents of `op`'s results given the tangents of its operands.
pub fn jvp_rule(b: &mut B, op: &Op, ts: &[Option<Value>]) -> R<Vec<Option<Value>>> {
    use Opcode::*;
    let x = |i: usize| op.operands[i];
    let y = op.results[0];
    let nres = op.results.len();
    let mut out: Vec<Option<Value>> = vec![None; nres];
    if ts.iter().all(Option::is_none) {
        return Ok(out);
    }
    // Results that are not floats carry no tangent.
    if op.results.iter().all(|&r| !b.dtype(r).is_inexact()) {
        return Ok(out);
    }
    let attrs = &op.attrs;
    // The tangent of operand i, materialised as zeros when it is symbolic
    // (for ops that must combine several operands).
    let t_or_zero = |b: &mut B, i: usize| -> R<Value> {
        match ts[i] {
            Some(t) => Ok(t),
            None => b.zeros_like(op.operands[i]),
        }
    };
    // Apply the op itself to the tangent of operand 0 (linear unary ops).
    let same = |b: &mut B| -> R<Option<Value>> {
        match ts[0] {
            Some(t) => Ok(Some(b.op(op.opcode, &[t], attrs.clone())?)),
            None => Ok(None),
        }
    };
    match op.opcode {
        Constant | Full | Iota | Arange => {}

        Abs | Negative | Sign | Square | Sqrt | Rsqrt | Reciprocal | Exp | Expm1 | Log | Log1p
        | Log2 | Log10 | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh | Cosh | Tanh
        | Arcsinh | Arccosh | Arctanh | Sigmoid | Erf | Erfinv | Floor | Ceil | Round | IsNan
        | IsInf | IsFinite | LogicalNot | BitwiseInvert | StopGradient | Copy => {
            if let Some(t) = ts[0] {
                let d = derivs::unary(b, op.opcode, x(0), y)?;
                out[0] = d.apply(b, t)?;
            }
        }

        Add | Subtract | Multiply | Divide | FloorDivide | Remainder | Power | Maximum
        | Minimum | Arctan2 | LogAddExp | LogicalAnd | LogicalOr | BitwiseAnd | BitwiseOr
        | BitwiseXor | LeftShift | RightShift => {
            let (da, db) = derivs::binary(b, op.opcode, x(0), x(1), y)?;
            let ta = match ts[0] {
                Some(t) => da.apply(b, t)?,
                None => None,
            };
            let tb = match ts[1] {
                Some(t) => db.apply(b, t)?,
                None => None,
            };
            out[0] = b.add_opt(ta, tb)?;
        }
        DivMod => {
            // t_r = t_a - t_b * floor(a/b); the quotient's tangent is zero.
            let tb = match ts[1] {
                Some(t) => {
                    let m = b.mul(t, op.results[0])?;
                    Some(b.neg(m)?)
                }
                None => None,
            };
            out[1] = b.add_opt(ts[0], tb)?;
        }

        Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual => {}

        Select => {
            if ts[1].is_some() || ts[2].is_some() {
                let ta = t_or_zero(b, 1)?;
                let tb = t_or_zero(b, 2)?;
                out[0] = Some(b.op(Select, &[x(0), ta, tb], Attrs::new())?);
            }
        }
        Cast => {
            if let Some(t) = ts[0] {
                out[0] = Some(b.cast(t, b.dtype(y))?);
            }
        }
        Bitcast => {}

        ReduceSum => out[0] = same(b)?,
        ReduceProd => {
            if let Some(t) = ts[0] {
                // sum over the group of t * (product of the others).
                let axes = reduce_axes(op)?;
                let others = ProdOthers::new(b, x(0), &axes)?;
                let tt = others.to_layout(b, t)?;
                let m = b.mul(tt, others.p)?;
                let last = b.rank(m) - 1;
                let s = b.sum(m, &[last], false)?;
                out[0] = Some(if attrs.bool("keepdims").unwrap_or(false) {
                    b.expand_dims(s, &axes)?
                } else {
                    s
                });
            }
        }
        ReduceMax | ReduceMin => {
            if let Some(t) = ts[0] {
                let axes = reduce_axes(op)?;
                let r = b.rank(x(0));
                let yb = expand_reduced(b, y, op, &axes, x(0), r)?;
                let mask = b.bin(Equal, x(0), yb)?;
                let m = b.cast(mask, b.dtype(x(0)))?;
                let tm = b.mul(t, m)?;
                let s = b.op(ReduceSum, &[tm], attrs.clone())?;
                let c = b.op(ReduceSum, &[m], attrs.clone())?;
                out[0] = Some(b.div(s, c)?);
            }
        }
        ReduceAll | ReduceAny | Argmax | Argmin => {}
        LogSumExp => {
            if let Some(t) = ts[0] {
                let axes = reduce_axes(op)?;
                let r = b.rank(x(0));
                let yb = expand_reduced(b, y, op, &axes, x(0), r)?;
                let s = b.sub(x(0), yb)?;
                let p = b.un(Exp, s)?;
                let tp = b.mul(t, p)?;
                out[0] = Some(b.op(ReduceSum, &[tp], reduce_attrs_of(attrs)?)?);
            }
        }
        Softmax => {
            if let Some(t) = ts[0] {
                let axes: Vec<usize> = attrs.ints("axes")?.iter().map(|&a| a as usize).collect();
                let ty = b.mul(t, y)?;
                let s = b.sum(ty, &axes, true)?;
                let s = b.broadcast_to_value(s, y)?;
                let d = b.sub(t, s)?;
                out[0] = Some(b.mul(y, d)?);
            }
        }

        Cumsum => out[0] = same(b)?,
        // y * cumsum(t / x), exact with zeros (see `cumprod_jvp`).
        // As the vjp: the decomposition when static.
        Cumprod => {
            if let Some(t) = ts[0] {
                if b.ty(op.operands[0]).is_static() {
                    return super::decomp::jvp_via(b, op, ts);
                }
                out[0] = Some(super::vjp_rules::cumprod_jvp(b, op, t)?);
            }
        }
        Cummax | Cummin => {
            if let Some(t) = ts[0] {
                let idx = scan_source_index(b, op)?;
                let a = Attrs::new().with("axis", Attr::Int(attrs.int("axis")?));
                out[0] = Some(b.op(TakeAlongAxis, &[t, idx], a)?);
            }
        }
        // e^{-y} cumsum(e^x t)
        CumLogAddExp => {
            if let Some(t) = ts[0] {
                let ex = b.un(Exp, x(0))?;
                let et = b.mul(ex, t)?;
                let c = b.op(Cumsum, &[et], attrs.clone())?;
                let ny = b.neg(y)?;
                let e = b.un(Exp, ny)?;
                out[0] = Some(b.mul(c, e)?);
            }
        }

        Reshape | Transpose | Broadcast | ExpandDims | Squeeze | Flatten | Unflatten | Slice
        | Flip => out[0] = same(b)?,
        // Donors keep giving the shape; only x's tangent moves.
        BroadcastLike => {
            if let Some(t) = ts[0] {
                let mut operands = vec![t];
                operands.extend_from_slice(&op.operands[1..]);
                out[0] = Some(b.op(BroadcastLike, &operands, attrs.clone())?);
            }
        }
        SliceUpdate => {
            let kind = attrs.str("reduce").unwrap_or("none").to_string();
            match kind.as_str() {
                "none" | "sum" => {
                    let tx = t_or_zero(b, 0)?;
                    let tu = t_or_zero(b, 1)?;
                    out[0] = Some(b.op(SliceUpdate, &[tx, tu], attrs.clone())?);
                }
                "prod" => {
                    // region: t_x*u + x*t_u; elsewhere t_x.
                    let tx = t_or_zero(b, 0)?;
                    let tu = t_or_zero(b, 1)?;
                    let sa = slice_attrs(attrs)?;
                    let xr = b.op(Slice, &[x(0)], sa.clone())?;
                    let txr = b.op(Slice, &[tx], sa.clone())?;
                    let p1 = b.mul(txr, x(1))?;
                    let p2 = b.mul(xr, tu)?;
                    let r = b.add(p1, p2)?;
                    out[0] = Some(b.op(SliceUpdate, &[tx, r], sa)?);
                }
                _ => {
                    let tx = t_or_zero(b, 0)?;
                    let tu = t_or_zero(b, 1)?;
                    let sa = slice_attrs(attrs)?;
                    let xr = b.op(Slice, &[x(0)], sa.clone())?;
                    let txr = b.op(Slice, &[tx], sa.clone())?;
                    let cmp = if kind == "max" { Greater } else { Less };
                    let mask = b.bin(cmp, xr, x(1))?;
                    let r = b.op(Select, &[mask, txr, tu], Attrs::new())?;
                    out[0] = Some(b.op(SliceUpdate, &[tx, r], sa)?);
                }
            }
        }
        Pad => {
            let tx = t_or_zero(b, 0)?;
            let tv = t_or_zero(b, 1)?;
            out[0] = Some(b.op(Pad, &[tx, tv], attrs.clone())?);
        }
        Concatenate => {
            let mut parts = Vec::new();
            for i in 0..op.operands.len() {
                parts.push(t_or_zero(b, i)?);
            }
            out[0] = Some(b.op(Concatenate, &parts, attrs.clone())?);
        }
        Split => {
            if let Some(t) = ts[0] {
                let parts = b.ops(Split, &[t], attrs.clone())?;
                out = parts.into_iter().map(Some).collect();
            }
        }

        DynamicSlice => {
            if let Some(t) = ts[0] {
                out[0] = Some(b.op(DynamicSlice, &[t, x(1)], attrs.clone())?);
            }
        }
        DynamicSliceUpdate => {
            let td = t_or_zero(b, 0)?;
            let tu = t_or_zero(b, 1)?;
            out[0] = Some(b.op(DynamicSliceUpdate, &[td, tu, x(2)], attrs.clone())?);
        }
        Gather => {
            if let Some(t) = ts[0] {
                let mut operands = vec![t];
                operands.extend_from_slice(&op.operands[1..]);
                out[0] = Some(b.op(Gather, &operands, attrs.clone())?);
            }
        }
        TakeAlongAxis => {
            if let Some(t) = ts[0] {
                out[0] = Some(b.op(TakeAlongAxis, &[t, x(1)], attrs.clone())?);
            }
        }
        Scatter => {
            let kind = attrs.str("reduce").unwrap_or("none");
            if kind != "none" && kind != "sum" {
                return Err(TransformError::new(format!(
                    "jvp of `tensor.scatter`: reduce `{kind}` is not supported (none and sum are)"
                )));
            }
            let n = op.operands.len();
            let td = t_or_zero(b, 0)?;
            let tu = t_or_zero(b, n - 1)?;
            let mut operands = vec![td];
            operands.extend_from_slice(&op.operands[1..n - 1]);
            operands.push(tu);
            out[0] = Some(b.op(Scatter, &operands, attrs.clone())?);
        }
        ScatterAxis => {
            let td = t_or_zero(b, 0)?;
            let tu = t_or_zero(b, 2)?;
            out[0] = Some(b.op(ScatterAxis, &[td, x(1), tu], attrs.clone())?);
        }

        Sort | Partition => {
            if let Some(t) = ts[0] {
                let perm_op = if op.opcode == Sort {
                    Argsort
                } else {
                    Argpartition
                };
                let idx = b.op(perm_op, &[x(0)], attrs.clone())?;
                let a = Attrs::new().with("axis", Attr::Int(attrs.int("axis")?));
                out[0] = Some(b.op(TakeAlongAxis, &[t, idx], a)?);
            }
        }
        Argsort | Argpartition => {}

        Matmul => {
            let p = match ts[0] {
                Some(t) => Some(b.matmul(t, x(1))?),
                None => None,
            };
            let q = match ts[1] {
                Some(t) => Some(b.matmul(x(0), t)?),
                None => None,
            };
            out[0] = b.add_opt(p, q)?;
        }
        AddMM => {
            let alpha = attrs.float("alpha").unwrap_or(1.0);
            let beta = attrs.float("beta").unwrap_or(1.0);
            let tc = match ts[0] {
                Some(t) if beta != 0.0 => Some(b.scale(t, beta)?),
                _ => None,
            };
            let p = match ts[1] {
                Some(t) => Some(b.matmul(t, x(2))?),
                None => None,
            };
            let q = match ts[2] {
                Some(t) => Some(b.matmul(x(1), t)?),
                None => None,
            };
            let pq = match b.add_opt(p, q)? {
                Some(v) if alpha != 0.0 => Some(b.scale(v, alpha)?),
                _ => None,
            };
            out[0] = b.add_opt(tc, pq)?;
        }

        NumberOfElements => {}

        // ---- MLX extras ----
        RandomBits | SearchSorted | Quantize => {}
        Hadamard | Conjugate | Real | Imag => out[0] = same(b)?,
        Depends => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = ts[i];
            }
        }
        // y = x r w with r = rsqrt(mean(x^2) + eps) over the last axis:
        // dy = (t_x r + x dr) w + x r t_w, dr = -r^3 mean(x t_x).
        RmsNorm => {
            let (xv, w) = (x(0), x(1));
            let last = b.rank(xv) - 1;
            let eps = attrs.float("eps")? as f32 as f64; // an f32 in MLX, as the interpreter
            let r = norm_rsqrt(b, xv, last, eps, false)?;
            let wb = b.broadcast_to_value(w, xv)?;
            let mut acc = None;
            if let Some(t) = ts[0] {
                let xt = b.mul(xv, t)?;
                let m = mean_last(b, xt, last)?;
                let r2 = b.un(Square, r)?;
                let r3 = b.mul(r2, r)?;
                let dr = b.mul(r3, m)?;
                let dr = b.neg(dr)?;
                let dr = b.broadcast_to_value(dr, xv)?;
                let rb = b.broadcast_to_value(r, xv)?;
                let a1 = b.mul(t, rb)?;
                let a2 = b.mul(xv, dr)?;
                let s = b.add(a1, a2)?;
                acc = Some(b.mul(s, wb)?);
            }
            if let Some(tw) = ts[1] {
                let rb = b.broadcast_to_value(r, xv)?;
                let xr = b.mul(xv, rb)?;
                let twb = b.broadcast_to_value(tw, xv)?;
                let p = b.mul(xr, twb)?;
                acc = b.add_opt(acc, Some(p))?;
            }
            out[0] = acc;
        }
        // y = xc r w + b, xc = x - mean(x), r = rsqrt(mean(xc^2) + eps):
        // dxc = t - mean(t), dr = -r^3 mean(xc dxc), dy = (dxc r + xc dr) w + xc r t_w + t_b.
        LayerNorm => {
            let (xv, w) = (x(0), x(1));
            let last = b.rank(xv) - 1;
            let eps = attrs.float("eps")? as f32 as f64; // an f32 in MLX, as the interpreter
            let mu = mean_last(b, xv, last)?;
            let mu = b.broadcast_to_value(mu, xv)?;
            let xc = b.sub(xv, mu)?;
            let r = norm_rsqrt(b, xc, last, eps, false)?;
            let rb = b.broadcast_to_value(r, xv)?;
            let wb = b.broadcast_to_value(w, xv)?;
            let mut acc = None;
            if let Some(t) = ts[0] {
                let mt = mean_last(b, t, last)?;
                let mt = b.broadcast_to_value(mt, xv)?;
                let dxc = b.sub(t, mt)?;
                let p = b.mul(xc, dxc)?;
                let m = mean_last(b, p, last)?;
                let r2 = b.un(Square, r)?;
                let r3 = b.mul(r2, r)?;
                let dr = b.mul(r3, m)?;
                let dr = b.neg(dr)?;
                let dr = b.broadcast_to_value(dr, xv)?;
                let a1 = b.mul(dxc, rb)?;
                let a2 = b.mul(xc, dr)?;
                let s = b.add(a1, a2)?;
                acc = Some(b.mul(s, wb)?);
            }
            if let Some(tw) = ts[1] {
                let xr = b.mul(xc, rb)?;
                let twb = b.broadcast_to_value(tw, xv)?;
                let p = b.mul(xr, twb)?;
                acc = b.add_opt(acc, Some(p))?;
            }
            if let Some(tb) = ts[2] {
                let tbb = b.broadcast_to_value(tb, xv)?;
                acc = b.add_opt(acc, Some(tbb))?;
            }
            out[0] = acc;
        }
        // Written out in `extra`.
        ConvGeneral | Fft | Inverse | Qr | Svd | Cholesky | Eigh | Eig | Dequantize
        | QuantizedMatmul | Rope | AsStrided => {
            return super::extra::jvp_extra(b, op, ts);
        }
        // Composite ops: the jvp of their decomposition.
        GatherQmm | GatherMm | BlockMaskedMm | RmsNormVjp | LayerNormVjp | Sdpa | MaskedScatter => {
            return super::decomp::jvp_via(b, op, ts);
        }
    }
    Ok(out)
}

/// A reduction's `axes`/`keepdims` (for a `reduce_sum` beside another reduction).
fn reduce_attrs_of(attrs: &Attrs) -> R<Attrs> {
    let mut a = Attrs::new().with("axes", Attr::Ints(attrs.ints("axes")?.to_vec()));
    if let Ok(k) = attrs.bool("keepdims") {
        a.set("keepdims", Attr::Bool(k));
    }
    Ok(a)
}

/// mean over `axis` with keepdims (the count from the operand's shape, so
/// symbolic sizes work).
fn mean_last(b: &mut B, v: Value, axis: usize) -> R<Value> {
    let s = b.sum(v, &[axis], true)?;
    let dt = b.dtype(v);
    let inv = b.op(
        Opcode::NumberOfElements,
        &[v],
        Attrs::new()
            .with("axes", Attr::Ints(vec![axis as i64]))
            .with("inverted", Attr::Bool(true))
            .with("dtype", Attr::DType(dt)),
    )?;
    let inv = b.broadcast_to_value(inv, s)?;
    b.mul(s, inv)
}

/// rsqrt(mean(v^2 over `axis`) + eps), keepdims.
fn norm_rsqrt(b: &mut B, v: Value, axis: usize, eps: f64, _unused: bool) -> R<Value> {
    let sq = b.un(Opcode::Square, v)?;
    let m = mean_last(b, sq, axis)?;
    let e = b.scalar_like(eps, m)?;
    let s = b.add(m, e)?;
    b.un(Opcode::Rsqrt, s)
}
