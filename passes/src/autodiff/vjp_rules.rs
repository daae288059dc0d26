//! The vjp rule of every op, in one exhaustive `match` on [`Opcode`]: adding
//! an op to the table without a rule here fails to compile.
//!
//! A rule gets the op (its operands and results are values of the function
//! being built, so primal values are at hand), the cotangent of each result
//! (`None` is a symbolic zero) and which operands need a cotangent, and
//! returns one cotangent per operand (`None` for a zero or an unneeded one).
//! Rules never evaluate anything and use only shape-polymorphic ops where an
//! operand type has `DYN` dims.

use super::builder::{B, R};
use super::derivs::{self, Lin};
use super::TransformError;
use psionic_ir::{Attr, Attrs, Op, Opcode, DYN};

/// `conj(v)` for a complex `v`, `v` otherwise.
fn conj_if_complex(b: &mut B, v: psionic_ir::Value) -> R<psionic_ir::Value> {
    if b.dtype(v).is_complex() {
        b.un(Opcode::Conjugate, v)
    } else {
        Ok(v)
    }
}

/// The adjoint of a diagonal map: a complex factor is conjugated. Complex
/// cotangents are real adjoints (the inner product `Re(conj(u) v)` on C
/// taken as R^2), as MLX: for holomorphic `f` the vjp is `ct * conj(f'(z))`
/// while the jvp stays `f'(z) * t`.
fn adjoint(b: &mut B, d: Lin) -> R<Lin> {
    Ok(match d {
        Lin::Factor(v) => Lin::Factor(conj_if_complex(b, v)?),
        other => other,
    })
}

fn unsupported(op: &Op, why: &str) -> TransformError {
    TransformError::new(format!("vjp of `{}`: {why}", op.opcode))
}

/// Cotangents of `op`'s operands given the cotangents of its results.
pub fn vjp_rule(
    b: &mut B,
    op: &Op,
    cts: &[Option<psionic_ir::Value>],
    needs: &[bool],
) -> R<Vec<Option<psionic_ir::Value>>> {
    use Opcode::*;
    let x = |i: usize| op.operands[i];
    let n = op.operands.len();
    let mut out = vec![None; n];
    let Some(ct) = cts.iter().copied().find_map(|c| c) else {
        return Ok(out);
    };
    let attrs = &op.attrs;
    let a_ints = |name: &str| -> R<Vec<i64>> { Ok(attrs.ints(name)?.to_vec()) };
    let a_int = |name: &str| -> R<i64> { Ok(attrs.int(name)?) };
    match op.opcode {
        // ---- creation: no operands ----
        Constant | Full | Iota | Arange => {}

        // ---- unary elementwise ----
        Abs | Negative | Sign | Square | Sqrt | Rsqrt | Reciprocal | Exp | Expm1 | Log | Log1p
        | Log2 | Log10 | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh | Cosh | Tanh
        | Arcsinh | Arccosh | Arctanh | Sigmoid | Erf | Erfinv | Floor | Ceil | Round | IsNan
        | IsInf | IsFinite | LogicalNot | BitwiseInvert | StopGradient | Copy => {
            let d = derivs::unary(b, op.opcode, x(0), op.results[0])?;
            // |z| is not holomorphic: its real adjoint is ct * z/|z|, as
            // MLX, with no conjugate.
            let d = if op.opcode == Abs { d } else { adjoint(b, d)? };
            out[0] = d.apply(b, ct)?;
        }

        // ---- binary elementwise ----
        Add | Subtract | Multiply | Divide | FloorDivide | Remainder | Power | Maximum
        | Minimum | Arctan2 | LogAddExp | LogicalAnd | LogicalOr | BitwiseAnd | BitwiseOr
        | BitwiseXor | LeftShift | RightShift => {
            let (da, db) = match op.opcode {
                // Avoid building partials that are not needed.
                Multiply => (
                    if needs[0] {
                        Lin::Factor(x(1))
                    } else {
                        Lin::Zero
                    },
                    if needs[1] {
                        Lin::Factor(x(0))
                    } else {
                        Lin::Zero
                    },
                ),
                _ => derivs::binary(b, op.opcode, x(0), x(1), op.results[0])?,
            };
            let (da, db) = (adjoint(b, da)?, adjoint(b, db)?);
            if needs[0] {
                out[0] = da.apply(b, ct)?;
            }
            if needs[1] {
                out[1] = db.apply(b, ct)?;
            }
        }
        // (floor_divide(a, b), remainder(a, b)): the quotient is piecewise
        // constant; the remainder is a - b*q.
        DivMod => {
            if let Some(cr) = cts[1] {
                out[0] = Some(cr);
                if needs[1] {
                    let m = b.mul(cr, op.results[0])?;
                    out[1] = Some(b.neg(m)?);
                }
            }
        }

        // ---- comparisons: bool results carry no cotangent ----
        Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual => {}

        Select => {
            let z = b.zeros_like(ct)?;
            if needs[1] {
                out[1] = Some(b.op(Select, &[x(0), ct, z], Attrs::new())?);
            }
            if needs[2] {
                out[2] = Some(b.op(Select, &[x(0), z, ct], Attrs::new())?);
            }
        }
        // Cast back to the operand's type, integers and bools included (MLX's
        // AsType; an integer operand needs a cotangent only below an integer
        // input being differentiated).
        Cast => {
            let from = b.dtype(x(0));
            out[0] = Some(b.cast(ct, from)?);
        }
        // Reinterpreting bits is not differentiable.
        Bitcast => {}

        // ---- reductions ----
        ReduceSum => {
            let xt = b.ty(x(0));
            let axes = reduce_axes(op)?;
            out[0] = Some(expand_reduced(b, ct, op, &axes, x(0), xt.rank())?);
        }
        ReduceProd => {
            // d prod / d x_i = the product of the others (exact with zeros).
            let axes = reduce_axes(op)?;
            let keep = op.attrs.bool("keepdims").unwrap_or(false);
            let others = ProdOthers::new(b, x(0), &axes)?;
            let ct = if keep { b.squeeze(ct, &axes)? } else { ct };
            let last = b.rank(others.p) - 1;
            let ce = b.expand_dims(ct, &[last])?;
            let ce = b.broadcast_to_value(ce, others.p)?;
            let po = conj_if_complex(b, others.p)?;
            let g = b.mul(ce, po)?;
            out[0] = Some(others.back(b, g)?);
        }
        ReduceMax | ReduceMin => {
            // MLX: the cotangent is shared equally among the extremal elements.
            let axes = reduce_axes(op)?;
            let r = b.rank(x(0));
            let y = expand_reduced(b, op.results[0], op, &axes, x(0), r)?;
            let mask = b.bin(Equal, x(0), y)?;
            let dt = b.dtype(x(0));
            let m = b.cast(mask, dt)?;
            let count = b.sum(m, &axes, true)?;
            let count = b.broadcast_to_value(count, x(0))?;
            let share = b.div(m, count)?;
            let g = expand_reduced(b, ct, op, &axes, x(0), r)?;
            out[0] = Some(b.mul(g, share)?);
        }
        ReduceAll | ReduceAny | Argmax | Argmin => {}
        LogSumExp => {
            let axes = reduce_axes(op)?;
            let r = b.rank(x(0));
            let y = expand_reduced(b, op.results[0], op, &axes, x(0), r)?;
            let s = b.sub(x(0), y)?;
            let p = b.un(Exp, s)?;
            let g = expand_reduced(b, ct, op, &axes, x(0), r)?;
            out[0] = Some(b.mul(g, p)?);
        }
        // dx = y * (ct - sum(ct * y))
        Softmax => {
            let axes: Vec<usize> = a_ints("axes")?.iter().map(|&a| a as usize).collect();
            let y = op.results[0];
            let cy = b.mul(ct, y)?;
            let s = b.sum(cy, &axes, true)?;
            let s = b.broadcast_to_value(s, y)?;
            let d = b.sub(ct, s)?;
            out[0] = Some(b.mul(y, d)?);
        }

        // ---- scans ----
        Cumsum => {
            out[0] = Some(reverse_cumsum(b, ct, attrs)?);
        }
        // y_i = prod_{j<=i} x_j: dx_j = sum_{i>=j} ct_i prod_{k<=i, k!=j} x_k,
        // computed without dividing by x (exact with zeros; see
        // `cumprod_vjp`).
        // With a static scan, through the Hillis-Steele decomposition (only
        // products: exact with zeros to every order); otherwise MLX's
        // construction (exact with zeros at first order only).
        Cumprod => {
            if b.ty(x(0)).is_static() {
                return super::decomp::vjp_via(b, op, cts, needs);
            }
            out[0] = Some(cumprod_vjp(b, op, ct)?);
        }
        // Each output element takes its value from the latest element that
        // set the running extreme: send its cotangent there.
        Cummax | Cummin => {
            let idx = scan_source_index(b, op)?;
            let z = b.zeros_like(x(0))?;
            out[0] = Some(
                b.op(
                    ScatterAxis,
                    &[z, idx, ct],
                    Attrs::new()
                        .with("axis", Attr::Int(a_int("axis")?))
                        .with("reduce", Attr::Str("sum".into())),
                )?,
            );
        }
        // y_i = log sum_{j<=i} e^{x_j}: dx_j = e^{x_j} sum_{i>=j} ct_i e^{-y_i}
        CumLogAddExp => {
            let ny = b.neg(op.results[0])?;
            let e = b.un(Exp, ny)?;
            let ce = b.mul(ct, e)?;
            let s = reverse_cumsum(b, ce, attrs)?;
            let ex = b.un(Exp, x(0))?;
            out[0] = Some(b.mul(s, ex)?);
        }

        // ---- layout ----
        Reshape => {
            let xt = b.ty(x(0));
            out[0] = Some(b.reshape_to(ct, &xt)?);
        }
        Transpose => {
            let perm = a_ints("perm")?;
            let mut inv = vec![0usize; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p as usize] = i;
            }
            out[0] = Some(b.transpose(ct, &inv)?);
        }
        Broadcast => {
            let xt = b.ty(x(0));
            out[0] = Some(b.unbroadcast(ct, &xt)?);
        }
        // Donor operands only give shape: they get no cotangent.
        BroadcastLike => {
            let xt = b.ty(x(0));
            let ct_t = b.ty(ct);
            let ignore: Vec<i64> = attrs
                .ints("ignore_axes")
                .map(|v| v.to_vec())
                .unwrap_or_default();
            // Ignored axes keep x's size: never summed (marking them
            // symbolic tells `unbroadcast` they were not stretched).
            let mut xt_masked = xt.clone();
            for &a in &ignore {
                xt_masked.shape[(xt.rank() as i64 + a) as usize] = DYN;
            }
            let _ = ct_t;
            let g = b.unbroadcast(ct, &xt_masked)?;
            out[0] = Some(g);
        }
        ExpandDims => {
            let axes: Vec<usize> = a_ints("axes")?.iter().map(|&a| a as usize).collect();
            out[0] = Some(b.squeeze(ct, &axes)?);
        }
        Squeeze => {
            let axes: Vec<usize> = a_ints("axes")?.iter().map(|&a| a as usize).collect();
            out[0] = Some(b.expand_dims(ct, &axes)?);
        }
        Flatten => {
            let xt = b.ty(x(0));
            if xt.rank() == 0 {
                out[0] = Some(b.reshape_to(ct, &xt)?);
            } else {
                let (s, e) = (a_int("start_axis")? as usize, a_int("end_axis")? as usize);
                if s == e {
                    out[0] = Some(ct);
                } else {
                    let parts = xt.shape[s..=e].to_vec();
                    if parts.iter().filter(|&&d| d == DYN).count() > 1 {
                        return Err(unsupported(
                            op,
                            "the merged axes have more than one symbolic size",
                        ));
                    }
                    out[0] = Some(
                        b.op(
                            Unflatten,
                            &[ct],
                            Attrs::new()
                                .with("axis", Attr::Int(s as i64))
                                .with("shape", Attr::Ints(parts)),
                        )?,
                    );
                }
            }
        }
        Unflatten => {
            let axis = a_int("axis")?;
            let k = a_ints("shape")?.len() as i64;
            out[0] = Some(
                b.op(
                    Flatten,
                    &[ct],
                    Attrs::new()
                        .with("start_axis", Attr::Int(axis))
                        .with("end_axis", Attr::Int(axis + k - 1)),
                )?,
            );
        }
        Slice => {
            let z = b.zeros_like(x(0))?;
            out[0] = Some(b.op(SliceUpdate, &[z, ct], slice_attrs(attrs)?)?);
        }
        SliceUpdate => {
            let kind = attrs.str("reduce").unwrap_or("none").to_string();
            let region = b.op(Slice, &[ct], slice_attrs(attrs)?)?;
            match kind.as_str() {
                "none" => {
                    if needs[0] {
                        let z = b.zeros_like(x(1))?;
                        out[0] = Some(b.op(SliceUpdate, &[ct, z], slice_attrs(attrs)?)?);
                    }
                    out[1] = Some(region);
                }
                "sum" => {
                    out[0] = Some(ct);
                    out[1] = Some(region);
                }
                "prod" => {
                    let xr = b.op(Slice, &[x(0)], slice_attrs(attrs)?)?;
                    if needs[0] {
                        let cu = b.mul(region, x(1))?;
                        out[0] = Some(b.op(SliceUpdate, &[ct, cu], slice_attrs(attrs)?)?);
                    }
                    out[1] = Some(b.mul(region, xr)?);
                }
                _ => {
                    // max / min: like tensor.maximum / tensor.minimum on the region.
                    let xr = b.op(Slice, &[x(0)], slice_attrs(attrs)?)?;
                    let cmp = if kind == "max" { Greater } else { Less };
                    let mask = b.bin(cmp, xr, x(1))?;
                    let z = b.zeros_like(region)?;
                    if needs[0] {
                        let cx = b.op(Select, &[mask, region, z], Attrs::new())?;
                        out[0] = Some(b.op(SliceUpdate, &[ct, cx], slice_attrs(attrs)?)?);
                    }
                    out[1] = Some(b.op(Select, &[mask, z, region], Attrs::new())?);
                }
            }
        }
        Pad => {
            let xt = b.ty(x(0));
            let low = a_ints("low")?;
            if xt.shape.contains(&DYN) {
                return Err(unsupported(
                    op,
                    "the padded operand has symbolic dimensions",
                ));
            }
            let stop: Vec<i64> = low.iter().zip(&xt.shape).map(|(l, d)| l + d).collect();
            let sa = Attrs::new()
                .with("start", Attr::Ints(low.clone()))
                .with("stop", Attr::Ints(stop))
                .with("strides", Attr::Ints(vec![1; xt.rank()]));
            let cx = b.op(Slice, &[ct], sa)?;
            if needs[1] {
                let all: Vec<usize> = (0..xt.rank()).collect();
                let total = b.sum(ct, &all, false)?;
                let inner = b.sum(cx, &all, false)?;
                out[1] = Some(b.sub(total, inner)?);
            }
            out[0] = Some(cx);
        }
        Concatenate => {
            let axis = a_int("axis")? as usize;
            let mut idx = Vec::new();
            let mut off = 0i64;
            for k in 0..n - 1 {
                let d = b.ty(x(k)).shape[axis];
                if d == DYN {
                    return Err(unsupported(
                        op,
                        "an operand other than the last has a symbolic size on the axis",
                    ));
                }
                off += d;
                idx.push(off);
            }
            let parts = if n == 1 {
                vec![ct]
            } else {
                b.ops(
                    Split,
                    &[ct],
                    Attrs::new()
                        .with("indices", Attr::Ints(idx))
                        .with("axis", Attr::Int(axis as i64)),
                )?
            };
            for (k, p) in parts.into_iter().enumerate() {
                if needs[k] {
                    out[k] = Some(p);
                }
            }
        }
        Split => {
            let axis = a_int("axis")?;
            let mut parts = Vec::with_capacity(cts.len());
            for (c, &r) in cts.iter().zip(&op.results) {
                parts.push(match c {
                    Some(c) => *c,
                    None => b.zeros_like(r)?,
                });
            }
            out[0] = Some(b.op(
                Concatenate,
                &parts,
                Attrs::new().with("axis", Attr::Int(axis)),
            )?);
        }
        Flip => {
            out[0] = Some(b.op(Flip, &[ct], attrs.clone())?);
        }

        // ---- indexing ----
        DynamicSlice => {
            let z = b.zeros_like(x(0))?;
            let a = Attrs::new().with("axes", Attr::Ints(a_ints("axes")?));
            out[0] = Some(b.op(DynamicSliceUpdate, &[z, ct, x(1)], a)?);
        }
        DynamicSliceUpdate => {
            let axes = a_ints("axes")?;
            if needs[0] {
                let z = b.zeros_like(x(1))?;
                let a = Attrs::new().with("axes", Attr::Ints(axes.clone()));
                out[0] = Some(b.op(DynamicSliceUpdate, &[ct, z, x(2)], a)?);
            }
            if needs[1] {
                let ut = b.ty(x(1));
                if !ut.is_static() {
                    return Err(unsupported(op, "the update has symbolic dimensions"));
                }
                let a = Attrs::new()
                    .with("axes", Attr::Ints(axes))
                    .with("sizes", Attr::Ints(ut.shape.clone()));
                out[1] = Some(b.op(DynamicSlice, &[ct, x(2)], a)?);
            }
        }
        Gather => {
            let z = b.zeros_like(x(0))?;
            let mut operands = vec![z];
            operands.extend_from_slice(&op.operands[1..]);
            operands.push(ct);
            let a = Attrs::new()
                .with("axes", Attr::Ints(a_ints("axes")?))
                .with("reduce", Attr::Str("sum".into()));
            out[0] = Some(b.op(Scatter, &operands, a)?);
        }
        TakeAlongAxis => {
            let z = b.zeros_like(x(0))?;
            let a = Attrs::new()
                .with("axis", Attr::Int(a_int("axis")?))
                .with("reduce", Attr::Str("sum".into()));
            out[0] = Some(b.op(ScatterAxis, &[z, x(1), ct], a)?);
        }
        Scatter => {
            let kind = attrs.str("reduce").unwrap_or("none");
            let upd = x(n - 1);
            let idx = &op.operands[1..n - 1];
            let axes = a_ints("axes")?;
            if kind != "none" && kind != "sum" {
                return Err(unsupported(
                    op,
                    &format!("reduce `{kind}` has no vjp (MLX supports none and sum)"),
                ));
            }
            if needs[0] {
                if kind == "none" {
                    let z = b.zeros_like(upd)?;
                    let mut operands = vec![ct];
                    operands.extend_from_slice(idx);
                    operands.push(z);
                    let a = Attrs::new().with("axes", Attr::Ints(axes.clone()));
                    out[0] = Some(b.op(Scatter, &operands, a)?);
                } else {
                    out[0] = Some(ct);
                }
            }
            if needs[n - 1] {
                let ut = b.ty(upd);
                let ir = ut.rank() - b.rank(x(0));
                let sizes = ut.shape[ir..].to_vec();
                if sizes.contains(&DYN) {
                    return Err(unsupported(op, "the update slices have symbolic sizes"));
                }
                let mut operands = vec![ct];
                operands.extend_from_slice(idx);
                let a = Attrs::new()
                    .with("axes", Attr::Ints(axes))
                    .with("slice_sizes", Attr::Ints(sizes));
                let g = b.op(Gather, &operands, a)?;
                out[n - 1] = Some(b.reshape_to(g, &ut)?);
            }
        }
        ScatterAxis => {
            let kind = attrs.str("reduce").unwrap_or("none");
            let axis = a_int("axis")?;
            if needs[0] {
                if kind == "none" {
                    let z = b.zeros_like(x(2))?;
                    let a = Attrs::new().with("axis", Attr::Int(axis));
                    out[0] = Some(b.op(ScatterAxis, &[ct, x(1), z], a)?);
                } else {
                    out[0] = Some(ct);
                }
            }
            if needs[2] {
                let a = Attrs::new().with("axis", Attr::Int(axis));
                out[2] = Some(b.op(TakeAlongAxis, &[ct, x(1)], a)?);
            }
        }

        // ---- sorting: the values move; the cotangent moves back ----
        Sort | Partition => {
            let axis = a_int("axis")?;
            let perm_op = if op.opcode == Sort {
                Argsort
            } else {
                Argpartition
            };
            let idx = b.op(perm_op, &[x(0)], attrs.clone())?;
            let z = b.zeros_like(x(0))?;
            let a = Attrs::new()
                .with("axis", Attr::Int(axis))
                .with("reduce", Attr::Str("sum".into()));
            out[0] = Some(b.op(ScatterAxis, &[z, idx, ct], a)?);
        }
        Argsort | Argpartition => {}

        // ---- contractions ----
        // Complex operands: the conjugate transposes (MLX's real adjoint).
        Matmul => {
            if needs[0] {
                let bt = b.mt(x(1))?;
                let bt = conj_if_complex(b, bt)?;
                out[0] = Some(b.matmul(ct, bt)?);
            }
            if needs[1] {
                let at = b.mt(x(0))?;
                let at = conj_if_complex(b, at)?;
                out[1] = Some(b.matmul(at, ct)?);
            }
        }
        AddMM => {
            let alpha = attrs.float("alpha").unwrap_or(1.0);
            let beta = attrs.float("beta").unwrap_or(1.0);
            if needs[0] && beta != 0.0 {
                out[0] = Some(b.scale(ct, beta)?);
            }
            if alpha != 0.0 && (needs[1] || needs[2]) {
                let cs = b.scale(ct, alpha)?;
                if needs[1] {
                    let bt = b.mt(x(2))?;
                    let bt = conj_if_complex(b, bt)?;
                    out[1] = Some(b.matmul(cs, bt)?);
                }
                if needs[2] {
                    let at = b.mt(x(1))?;
                    let at = conj_if_complex(b, at)?;
                    out[2] = Some(b.matmul(at, cs)?);
                }
            }
        }

        // The operand only gives its shape.
        NumberOfElements => {}

        // ---- MLX extras ----
        // Integer or bit results, or quantized storage: no derivative.
        RandomBits | SearchSorted | Quantize => {}
        // The (scaled) Walsh-Hadamard matrix is symmetric.
        Hadamard => {
            out[0] = Some(b.op(Hadamard, &[ct], attrs.clone())?);
        }
        RmsNorm => {
            let r = b.ops(RmsNormVjp, &[x(0), x(1), ct], attrs.clone())?;
            out[0] = Some(r[0]);
            out[1] = Some(r[1]);
        }
        LayerNorm => {
            let r = b.ops(LayerNormVjp, &[x(0), x(1), x(2), ct], attrs.clone())?;
            out[0] = Some(r[0]);
            out[1] = Some(r[1]);
            out[2] = Some(r[2]);
        }
        // The passed-through operands get their results' cotangents; the
        // others only order the computation.
        Depends => {
            for (i, c) in cts.iter().enumerate() {
                out[i] = *c;
            }
        }
        Conjugate => {
            out[0] = Some(b.un(Conjugate, ct)?);
        }
        Real => {
            out[0] = Some(b.cast(ct, psionic_ir::DType::C64)?);
        }
        // Written out in `extra` (convolution, FFT, linear algebra,
        // quantized ops, rope, as_strided, imag).
        ConvGeneral | Fft | Inverse | Qr | Svd | Cholesky | Eigh | Eig | Dequantize
        | QuantizedMatmul | Rope | AsStrided | Imag => {
            return super::extra::vjp_extra(b, op, cts, needs);
        }
        // Composite ops: the vjp of their decomposition.
        GatherQmm | GatherMm | BlockMaskedMm | RmsNormVjp | LayerNormVjp | Sdpa | MaskedScatter => {
            return super::decomp::vjp_via(b, op, cts, needs);
        }
    }
    Ok(out)
}

/// The `axes` of a reduction as `usize`.
pub fn reduce_axes(op: &Op) -> R<Vec<usize>> {
    Ok(op.attrs.ints("axes")?.iter().map(|&a| a as usize).collect())
}

/// Brings a reduced value (a cotangent, or the result itself) back to the
/// operand's shape: re-insert the reduced axes (unless keepdims), then
/// broadcast against the operand.
pub fn expand_reduced(
    b: &mut B,
    v: psionic_ir::Value,
    op: &Op,
    axes: &[usize],
    like: psionic_ir::Value,
    _rank: usize,
) -> R<psionic_ir::Value> {
    let keep = op.attrs.bool("keepdims").unwrap_or(false);
    let v = if keep { v } else { b.expand_dims(v, axes)? };
    b.broadcast_to_value(v, like)
}

/// The transpose of a cumulative sum with these attributes: the same scan
/// run the other way.
pub fn reverse_cumsum(b: &mut B, v: psionic_ir::Value, attrs: &Attrs) -> R<psionic_ir::Value> {
    let reverse = attrs.bool("reverse").unwrap_or(false);
    let mut a = Attrs::new().with("axis", Attr::Int(attrs.int("axis")?));
    if !reverse {
        a.set("reverse", Attr::Bool(true));
    }
    if let Ok(inc) = attrs.bool("inclusive") {
        a.set("inclusive", Attr::Bool(inc));
    }
    b.op(Opcode::Cumsum, &[v], a)
}

/// For `cummax`/`cummin`: the index (along the axis) of the element each
/// output was taken from. Elements where the running extreme equals the
/// input set a new record; each output comes from the latest record before
/// it (after it, for reverse scans).
pub fn scan_source_index(b: &mut B, op: &Op) -> R<psionic_ir::Value> {
    let attrs = &op.attrs;
    if !attrs.bool("inclusive").unwrap_or(true) {
        return Err(TransformError::new(format!(
            "derivative of an exclusive `{}` is not supported",
            op.opcode
        )));
    }
    let axis = attrs.int("axis")?;
    let reverse = attrs.bool("reverse").unwrap_or(false);
    let (xv, y) = (op.operands[0], op.results[0]);
    let record = b.bin(Opcode::Equal, xv, y)?;
    let iota = b.index_along(xv, axis as usize)?;
    // Non-records get an index that loses the running max (min for reverse).
    let fill = if reverse {
        let t = b.ty(iota);
        let n = t.shape[axis as usize];
        if n == DYN {
            // Large enough for any axis size.
            b.scalar_like(i32::MAX as f64, iota)?
        } else {
            b.scalar_like(n as f64, iota)?
        }
    } else {
        b.scalar_like(-1.0, iota)?
    };
    let cand = b.op(Opcode::Select, &[record, iota, fill], Attrs::new())?;
    let scan = if reverse {
        Opcode::Cummin
    } else {
        Opcode::Cummax
    };
    let mut a = Attrs::new().with("axis", Attr::Int(axis));
    if reverse {
        a.set("reverse", Attr::Bool(true));
    }
    b.op(scan, &[cand], a)
}

/// The `start`/`stop`/`strides` attributes of a slice-like op.
pub fn slice_attrs(attrs: &Attrs) -> R<Attrs> {
    Ok(Attrs::new()
        .with("start", Attr::Ints(attrs.ints("start")?.to_vec()))
        .with("stop", Attr::Ints(attrs.ints("stop")?.to_vec()))
        .with("strides", Attr::Ints(attrs.ints("strides")?.to_vec())))
}

/// For a product over `axes`: the product of all the other elements of
/// each element's reduction group, computed without dividing (so zeros are
/// exact) as exclusive cumulative products from both ends. The reduced axes
/// are moved last and merged into one axis `p` works on.
pub struct ProdOthers {
    /// `[kept axes..., merged reduced axes]`.
    pub p: psionic_ir::Value,
    perm: Vec<usize>,
    /// The moved operand's shape before merging.
    moved: psionic_ir::TensorType,
    merged: bool,
    /// Number of kept (not reduced) axes.
    k: usize,
}

impl ProdOthers {
    pub fn new(b: &mut B, x: psionic_ir::Value, axes: &[usize]) -> R<ProdOthers> {
        let r = b.rank(x);
        let mut perm: Vec<usize> = (0..r).filter(|i| !axes.contains(i)).collect();
        perm.extend_from_slice(axes);
        let xt = b.transpose(x, &perm)?;
        let moved = b.ty(xt);
        let k = r - axes.len();
        let merged = axes.len() > 1;
        let xf = if merged {
            b.op(
                Opcode::Flatten,
                &[xt],
                Attrs::new()
                    .with("start_axis", Attr::Int(k as i64))
                    .with("end_axis", Attr::Int(r as i64 - 1)),
            )?
        } else {
            xt
        };
        let scan = |rev: bool| {
            let mut a = Attrs::new()
                .with("axis", Attr::Int(k as i64))
                .with("inclusive", Attr::Bool(false));
            if rev {
                a.set("reverse", Attr::Bool(true));
            }
            a
        };
        let left = b.op(Opcode::Cumprod, &[xf], scan(false))?;
        let right = b.op(Opcode::Cumprod, &[xf], scan(true))?;
        let p = b.mul(left, right)?;
        Ok(ProdOthers {
            p,
            perm,
            moved,
            merged,
            k,
        })
    }

    /// Moves a value of the operand's layout to `p`'s.
    pub fn to_layout(&self, b: &mut B, v: psionic_ir::Value) -> R<psionic_ir::Value> {
        let vt = b.transpose(v, &self.perm)?;
        if !self.merged {
            return Ok(vt);
        }
        let r = self.moved.rank();
        b.op(
            Opcode::Flatten,
            &[vt],
            Attrs::new()
                .with("start_axis", Attr::Int(self.k as i64))
                .with("end_axis", Attr::Int(r as i64 - 1)),
        )
    }

    /// Brings a value shaped like `p` back to the operand's layout.
    pub fn back(&self, b: &mut B, v: psionic_ir::Value) -> R<psionic_ir::Value> {
        let k = self.k;
        let v = if self.merged {
            let parts = self.moved.shape[k..].to_vec();
            if parts.iter().filter(|&&d| d == DYN).count() > 1 {
                return Err(TransformError::new(
                    "the derivative of a product over several symbolic axes is not supported",
                ));
            }
            b.op(
                Opcode::Unflatten,
                &[v],
                Attrs::new()
                    .with("axis", Attr::Int(k as i64))
                    .with("shape", Attr::Ints(parts)),
            )?
        } else {
            v
        };
        let mut inv = vec![0usize; self.perm.len()];
        for (i, &p) in self.perm.iter().enumerate() {
            inv[p] = i;
        }
        b.transpose(v, &inv)
    }
}

/// The scans a cumulative product's derivative needs, MLX's construction
/// (exact with zeros): `fz` marks the first zero of the input along the
/// scan, `with_one` is the scan with that zero replaced by one, `zero` marks
/// the outputs that are zero.
pub struct CumprodParts {
    pub fz: psionic_ir::Value,
    pub with_one: psionic_ir::Value,
    pub zero: psionic_ir::Value,
}

impl CumprodParts {
    pub fn new(b: &mut B, op: &Op) -> R<CumprodParts> {
        let x = op.operands[0];
        let y = op.results[0];
        let inclusive = op.attrs.bool("inclusive").unwrap_or(true);
        let mut other = op.attrs.clone();
        other.set("inclusive", Attr::Bool(!inclusive));
        let y2 = b.op(Opcode::Cumprod, &[x], other)?;
        let (inc, exc) = if inclusive { (y, y2) } else { (y2, y) };
        let z = b.zeros_like(x)?;
        let iz = b.bin(Opcode::Equal, inc, z)?;
        let enz = b.bin(Opcode::NotEqual, exc, z)?;
        let fz = b.bin(Opcode::LogicalAnd, iz, enz)?;
        let one = b.scalar_like(1.0, x)?;
        let x1 = b.op(Opcode::Select, &[fz, one, x], Attrs::new())?;
        let with_one = b.op(Opcode::Cumprod, &[x1], op.attrs.clone())?;
        let zero = b.bin(Opcode::Equal, y, z)?;
        Ok(CumprodParts { fz, with_one, zero })
    }
}

/// vjp of `cumprod`: `revcumsum(ct y) / x` before the first zero, the same
/// with that zero replaced by one at the zero, nothing after it.
fn cumprod_vjp(b: &mut B, op: &Op, ct: psionic_ir::Value) -> R<psionic_ir::Value> {
    let x = op.operands[0];
    let p = CumprodParts::new(b, op)?;
    let cy = b.mul(ct, op.results[0])?;
    let s = reverse_cumsum(b, cy, &op.attrs)?;
    let g = b.div(s, x)?;
    let cw = b.mul(ct, p.with_one)?;
    let g1 = reverse_cumsum(b, cw, &op.attrs)?;
    let z = b.zeros_like(x)?;
    // `zero` is about outputs; the input positions at or after the first
    // zero are those whose inclusive product is zero.
    let inclusive = op.attrs.bool("inclusive").unwrap_or(true);
    let past = if inclusive {
        p.zero
    } else {
        let mut a = op.attrs.clone();
        a.set("inclusive", Attr::Bool(true));
        let inc = b.op(Opcode::Cumprod, &[x], a)?;
        b.bin(Opcode::Equal, inc, z)?
    };
    let rest = b.op(Opcode::Select, &[past, z, g], Attrs::new())?;
    b.op(Opcode::Select, &[p.fz, g1, rest], Attrs::new())
}

/// jvp of `cumprod`: `y cumsum(t / x)` where the output is not zero; where
/// it is, only the first zero's tangent survives: `with_one * t[first zero]`.
pub fn cumprod_jvp(b: &mut B, op: &Op, t: psionic_ir::Value) -> R<psionic_ir::Value> {
    let x = op.operands[0];
    let y = op.results[0];
    let p = CumprodParts::new(b, op)?;
    let q = b.div(t, x)?;
    let c = b.op(Opcode::Cumsum, &[q], op.attrs.clone())?;
    let regular = b.mul(y, c)?;
    let z = b.zeros_like(t)?;
    let t0 = b.op(Opcode::Select, &[p.fz, t, z], Attrs::new())?;
    let t0 = b.op(Opcode::Cumsum, &[t0], op.attrs.clone())?;
    let at_zero = b.mul(p.with_one, t0)?;
    b.op(Opcode::Select, &[p.zero, at_zero, regular], Attrs::new())
}
