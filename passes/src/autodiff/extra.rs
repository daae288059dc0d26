//! vjp and jvp rules of the MLX extras written out directly: convolution
//! (MLX's Convolution::vjp construction: the input gradient is a
//! convolution of the cotangent with the transposed, flipped kernel, the
//! weight gradient a convolution of the input with the cotangent), the FFTs
//! (MLX's adjoint formulas with their DC/Nyquist masks), the linear-algebra
//! factorizations (JAX's formulas; MLX 0.32 has none), quantized matmul and
//! dequantize (MLX: gradients for x, scales and biases, none for the packed
//! weights), rope (the inverse rotation), as_strided (a scatter-add through
//! the view's index map) and the complex parts.
//!
//! The composite ops (`sdpa`, `gather_mm`, ...) are differentiated through
//! their decompositions in [`super::decomp`].

use super::builder::{ints, B, R};
use super::TransformError;
use psionic_ir::{Attr, Attrs, DType, Literal, Op, Opcode, Value, DYN};

fn unsupported(op: &Op, what: &str, why: &str) -> TransformError {
    TransformError::new(format!("{what} of `{}`: {why}", op.opcode))
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

fn slice(b: &mut B, x: Value, start: Vec<i64>, stop: Vec<i64>, strides: Vec<i64>) -> R<Value> {
    let s = b.ty(x).shape;
    if start.iter().all(|&v| v == 0) && stop == s && strides.iter().all(|&v| v == 1) {
        return Ok(x);
    }
    b.op(
        Opcode::Slice,
        &[x],
        Attrs::new()
            .with("start", Attr::Ints(start))
            .with("stop", Attr::Ints(stop))
            .with("strides", Attr::Ints(strides)),
    )
}

fn static_shape(b: &B, v: Value, op: &Op, what: &str) -> R<Vec<i64>> {
    let t = b.ty(v);
    if !t.is_static() {
        return Err(unsupported(
            op,
            what,
            &format!("needs static shapes, found {t}"),
        ));
    }
    Ok(t.shape)
}

// ---------------------------------------------------------------------------
// Convolution
// ---------------------------------------------------------------------------

struct Conv {
    s: Vec<i64>,
    lo: Vec<i64>,
    hi: Vec<i64>,
    kd: Vec<i64>,
    idil: Vec<i64>,
    groups: i64,
    flip: bool,
}

impl Conv {
    fn of(a: &Attrs) -> R<Conv> {
        Ok(Conv {
            s: a.ints("kernel_strides")?.to_vec(),
            lo: a.ints("padding_lo")?.to_vec(),
            hi: a.ints("padding_hi")?.to_vec(),
            kd: a.ints("kernel_dilation")?.to_vec(),
            idil: a.ints("input_dilation")?.to_vec(),
            groups: a.int("groups")?,
            flip: a.bool("flip")?,
        })
    }
}

#[allow(clippy::too_many_arguments)]
pub fn conv(
    b: &mut B,
    x: Value,
    w: Value,
    s: &[i64],
    lo: &[i64],
    hi: &[i64],
    kd: &[i64],
    idil: &[i64],
    groups: i64,
    flip: bool,
) -> R<Value> {
    b.op(
        Opcode::ConvGeneral,
        &[x, w],
        Attrs::new()
            .with("kernel_strides", Attr::Ints(s.to_vec()))
            .with("padding_lo", Attr::Ints(lo.to_vec()))
            .with("padding_hi", Attr::Ints(hi.to_vec()))
            .with("kernel_dilation", Attr::Ints(kd.to_vec()))
            .with("input_dilation", Attr::Ints(idil.to_vec()))
            .with("groups", Attr::Int(groups))
            .with("flip", Attr::Bool(flip)),
    )
}

/// `(A, spatial..., B)` with `A = g * a` -> `(B / g ... )`: the channel
/// regrouping both gradients need. `v` has shape `(d0, sp..., d1)`; the
/// result is `(d1 / g, sp..., g * d0)` with group-major channels (for
/// `g == 1` simply the first and last axes swapped).
fn regroup(b: &mut B, v: Value, g: i64) -> R<Value> {
    let s = b.ty(v).shape;
    let r = s.len();
    let sd = r - 2;
    if g == 1 {
        let mut perm: Vec<usize> = vec![r - 1];
        perm.extend(1..=sd);
        perm.push(0);
        return b.transpose(v, &perm);
    }
    // (d0, sp..., g, c) -> (c, sp..., g, d0) -> (c, sp..., g*d0)
    let (d0, d1) = (s[0], s[r - 1]);
    let c = d1 / g;
    let mut split = s[..r - 1].to_vec();
    split.extend([g, c]);
    let v = reshape(b, v, &split)?;
    let mut perm: Vec<usize> = vec![sd + 2];
    perm.extend(1..=sd);
    perm.extend([sd + 1, 0]);
    let v = b.transpose(v, &perm)?;
    let mut out = vec![c];
    out.extend_from_slice(&s[1..=sd]);
    out.push(g * d0);
    reshape(b, v, &out)
}

/// Weight `(O, K..., cg)` -> `(g*cg, K..., og)`: per group, the kernel
/// with input and output channels exchanged.
fn transpose_kernel(b: &mut B, w: Value, g: i64) -> R<Value> {
    let s = b.ty(w).shape;
    let r = s.len();
    let sd = r - 2;
    let mut perm: Vec<usize> = vec![r - 1];
    perm.extend(1..=sd);
    perm.push(0);
    if g == 1 {
        return b.transpose(w, &perm);
    }
    let (o, cg) = (s[0], s[r - 1]);
    let og = o / g;
    // (g, og, K..., cg) -> (g, cg, K..., og) -> (g*cg, K..., og)
    let mut split = vec![g, og];
    split.extend_from_slice(&s[1..=sd]);
    split.push(cg);
    let v = reshape(b, w, &split)?;
    let mut perm = vec![0usize, sd + 2];
    perm.extend(2..=sd + 1);
    perm.push(1);
    let v = b.transpose(v, &perm)?;
    let mut out = vec![g * cg];
    out.extend_from_slice(&s[1..=sd]);
    out.push(og);
    reshape(b, v, &out)
}

fn conv_vjp(b: &mut B, op: &Op, ct: Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
    let (x, w) = (op.operands[0], op.operands[1]);
    let c = Conv::of(&op.attrs)?;
    let xs = static_shape(b, x, op, "vjp")?;
    let ws = static_shape(b, w, op, "vjp")?;
    let cs = static_shape(b, ct, op, "vjp")?;
    let sd = xs.len() - 2;
    let g = c.groups;
    let mut out = vec![None, None];
    // Length of the dilated, padded input per spatial axis.
    let ld: Vec<i64> = (0..sd).map(|i| (xs[1 + i] - 1) * c.idil[i] + 1).collect();
    let lxp: Vec<i64> = (0..sd).map(|i| ld[i] + c.lo[i] + c.hi[i]).collect();
    if needs[0] {
        let wt = transpose_kernel(b, w, g)?;
        let lo_c: Vec<i64> = (0..sd).map(|i| (ws[1 + i] - 1) * c.kd[i]).collect();
        let hi_c: Vec<i64> = (0..sd)
            .map(|i| lxp[i] - (cs[1 + i] - 1) * c.s[i] - 1)
            .collect();
        let r = conv(
            b,
            ct,
            wt,
            &vec![1; sd],
            &lo_c,
            &hi_c,
            &c.kd,
            &c.s,
            g,
            !c.flip,
        )?;
        let mut start = vec![0];
        let mut stop = vec![xs[0]];
        let mut st = vec![1];
        for i in 0..sd {
            start.push(c.lo[i]);
            stop.push(c.lo[i] + ld[i]);
            st.push(c.idil[i]);
        }
        start.push(0);
        stop.push(xs[sd + 1]);
        st.push(1);
        out[0] = Some(slice(b, r, start, stop, st)?);
    }
    if needs[1] {
        let xt = regroup(b, x, g)?;
        let ctt = if g == 1 {
            regroup(b, ct, 1)?
        } else {
            // (N, P..., g*og) -> (g*og, P..., N)
            let (n, o) = (cs[0], cs[sd + 1]);
            let og = o / g;
            let mut split = cs[..=sd].to_vec();
            split.extend([g, og]);
            let v = reshape(b, ct, &split)?;
            let mut perm = vec![sd + 1, sd + 2];
            perm.extend(1..=sd);
            perm.push(0);
            let v = b.transpose(v, &perm)?;
            let mut to = vec![o];
            to.extend_from_slice(&cs[1..=sd]);
            to.push(n);
            reshape(b, v, &to)?
        };
        let r = conv(b, xt, ctt, &c.kd, &c.lo, &c.hi, &c.s, &c.idil, g, false)?;
        let rs = b.ty(r).shape;
        let mut stop = rs.clone();
        stop[1..sd + 1].copy_from_slice(&ws[1..sd + 1]);
        let r = slice(b, r, vec![0; sd + 2], stop, vec![1; sd + 2])?;
        // (cg, K..., O) -> (O, K..., cg)
        let mut perm = vec![sd + 1];
        perm.extend(1..=sd);
        perm.push(0);
        let mut r = b.transpose(r, &perm)?;
        if c.flip {
            r = b.op(Opcode::Flip, &[r], Attrs::new().with("axes", ints(1..=sd)))?;
        }
        out[1] = Some(r);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// FFT
// ---------------------------------------------------------------------------

fn fft_attrs(axes: &[i64], inverse: bool, real: bool, odd_out: bool) -> Attrs {
    Attrs::new()
        .with("axes", Attr::Ints(axes.to_vec()))
        .with("inverse", Attr::Bool(inverse))
        .with("real", Attr::Bool(real))
        .with("odd_out", Attr::Bool(odd_out))
}

/// A 0-d complex constant.
fn c64(b: &mut B, re: f32, im: f32) -> R<Value> {
    let mut bytes = re.to_le_bytes().to_vec();
    bytes.extend(im.to_le_bytes());
    let lit = Literal::from_bytes(DType::C64, vec![], bytes)
        .map_err(|e| TransformError::new(e.to_string()))?;
    b.op(
        Opcode::Constant,
        &[],
        Attrs::new().with("value", Attr::Dense(lit)),
    )
}

/// `v * k` for a complex or real `v` and a real constant `k`.
fn scale_any(b: &mut B, v: Value, k: f64) -> R<Value> {
    if k == 1.0 {
        return Ok(v);
    }
    if b.dtype(v) == DType::C64 {
        let c = c64(b, k as f32, 0.0)?;
        let c = b.broadcast_to_value(c, v)?;
        b.mul(v, c)
    } else {
        b.scale(v, k)
    }
}

/// The DC/Nyquist mask of MLX's real-FFT adjoints: `inner` for the bins
/// strictly between the first and `last`, `edge` elsewhere, shaped to
/// broadcast along `axis` of `like`.
fn bin_mask(
    b: &mut B,
    like: Value,
    axis: usize,
    n: i64,
    last: i64,
    edge: f64,
    inner: f64,
) -> R<Value> {
    let t = b.ty(like);
    let vals: Vec<f64> = (0..n)
        .map(|i| if i > 0 && i < last { inner } else { edge })
        .collect();
    let mut shape = vec![1usize; t.rank()];
    shape[axis] = n as usize;
    let dt = if t.dtype == DType::C64 {
        DType::F32
    } else {
        t.dtype
    };
    let lit =
        Literal::from_f64(dt, shape, &vals).map_err(|e| TransformError::new(e.to_string()))?;
    let m = b.op(
        Opcode::Constant,
        &[],
        Attrs::new().with("value", Attr::Dense(lit)),
    )?;
    let m = b.cast(m, t.dtype)?;
    b.broadcast_to_value(m, like)
}

fn fft_vjp(b: &mut B, op: &Op, ct: Value) -> R<Value> {
    let a = &op.attrs;
    let axes = a.ints("axes")?.to_vec();
    let inverse = a.bool("inverse")?;
    let real = a.bool("real")?;
    let x = op.operands[0];
    let xs = static_shape(b, x, op, "vjp")?;
    let cs = static_shape(b, ct, op, "vjp")?;
    let last = *axes.last().unwrap_or(&0) as usize;
    let n_el: f64 = axes
        .iter()
        .map(|&ax| if inverse { cs[ax as usize] } else { xs[ax as usize] } as f64)
        .product();
    match (real, inverse) {
        (true, true) => {
            // ct is real: rfft it, then weight the bins used twice.
            let n = xs[last];
            let odd = cs[last] % 2 == 1;
            let ct32 = b.cast(ct, DType::F32)?;
            let f = b.op(Opcode::Fft, &[ct32], fft_attrs(&axes, false, true, false))?;
            let m = bin_mask(b, f, last, n, n - 1 + odd as i64, 1.0 / n_el, 2.0 / n_el)?;
            b.mul(f, m)
        }
        (true, false) => {
            let n = cs[last];
            let odd = xs[last] % 2 == 1;
            let m = bin_mask(b, ct, last, n, n - 1 + odd as i64, 1.0, 0.5)?;
            let cm = b.mul(ct, m)?;
            let r = b.op(Opcode::Fft, &[cm], fft_attrs(&axes, true, true, odd))?;
            let r = b.scale(r, n_el)?;
            b.cast(r, b.dtype(x))
        }
        (false, true) => {
            let f = b.op(Opcode::Fft, &[ct], fft_attrs(&axes, false, false, false))?;
            scale_any(b, f, 1.0 / n_el)
        }
        (false, false) => {
            let f = b.op(Opcode::Fft, &[ct], fft_attrs(&axes, true, false, false))?;
            scale_any(b, f, n_el)
        }
    }
}

// ---------------------------------------------------------------------------
// Linear algebra
// ---------------------------------------------------------------------------

/// Row and column index matrices (i32) of the last two axes of `like`.
fn row_col(b: &mut B, like: Value) -> R<(Value, Value)> {
    let r = b.rank(like);
    let i = b.index_along(like, r - 2)?;
    let j = b.index_along(like, r - 1)?;
    Ok((i, j))
}

/// `x` with the entries outside a triangle zeroed: `lower` keeps `i >= j`
/// (`i > j` when `strict`), else `i <= j` (`i < j`).
fn tri(b: &mut B, x: Value, lower: bool, strict: bool) -> R<Value> {
    let (i, j) = row_col(b, x)?;
    let cmp = match (lower, strict) {
        (true, false) => Opcode::GreaterEqual,
        (true, true) => Opcode::Greater,
        (false, false) => Opcode::LessEqual,
        (false, true) => Opcode::Less,
    };
    let m = b.bin(cmp, i, j)?;
    let z = b.zeros_like(x)?;
    b.op(Opcode::Select, &[m, x, z], Attrs::new())
}

/// `x` times a matrix of `diag` on the diagonal and `off` elsewhere.
fn diag_off(b: &mut B, x: Value, diag: f64, off: f64) -> R<Value> {
    let (i, j) = row_col(b, x)?;
    let m = b.bin(Opcode::Equal, i, j)?;
    let d = b.scalar_like(diag, x)?;
    let o = b.scalar_like(off, x)?;
    let k = b.op(Opcode::Select, &[m, d, o], Attrs::new())?;
    b.mul(x, k)
}

/// The diagonal of the last two axes (square): `(..., n)`.
fn diagonal(b: &mut B, x: Value) -> R<Value> {
    let r = b.rank(x);
    let d = diag_off(b, x, 1.0, 0.0)?;
    b.sum(d, &[r - 1], false)
}

/// `(..., n)` -> `(..., n, n)` diagonal matrices.
fn diag_matrix(b: &mut B, v: Value) -> R<Value> {
    let r = b.rank(v);
    let e = b.expand_dims(v, &[r])?;
    let mut s = b.ty(v).shape;
    let n = s[r - 1];
    s.push(n);
    let e = if s.contains(&DYN) {
        let t = b.ty(v);
        let donor = b.fill(0.0, &t.with_shape(s.clone()), None)?;
        b.op(Opcode::BroadcastLike, &[e, donor], Attrs::new())?
    } else {
        b.op(
            Opcode::Broadcast,
            &[e],
            Attrs::new().with("shape", Attr::Ints(s)),
        )?
    };
    diag_off(b, e, 1.0, 0.0)
}

/// Scales column `j` of `m` by `v[j]` (`v`: `(..., n)`).
fn scale_cols(b: &mut B, m: Value, v: Value) -> R<Value> {
    let r = b.rank(v);
    let e = b.expand_dims(v, &[r - 1])?;
    let e = b.broadcast_to_value(e, m)?;
    b.mul(m, e)
}

/// Scales row `i` of `m` by `v[i]`.
fn scale_rows(b: &mut B, m: Value, v: Value) -> R<Value> {
    let r = b.rank(v);
    let e = b.expand_dims(v, &[r])?;
    let e = b.broadcast_to_value(e, m)?;
    b.mul(m, e)
}

fn sym(b: &mut B, g: Value) -> R<Value> {
    let gt = b.mt(g)?;
    let s = b.add(g, gt)?;
    b.scale(s, 0.5)
}

/// The symmetric matrix a factorization reads from one triangle of `a`.
fn from_triangle(b: &mut B, a: Value, lower: bool) -> R<Value> {
    let t = tri(b, a, lower, false)?;
    let s = tri(b, a, lower, true)?;
    let st = b.mt(s)?;
    b.add(t, st)
}

/// The adjoint of [`from_triangle`] applied to a cotangent `g` of the
/// symmetric matrix.
fn to_triangle(b: &mut B, g: Value, lower: bool) -> R<Value> {
    let gs = sym(b, g)?;
    let t = tri(b, gs, lower, false)?;
    diag_off(b, t, 1.0, 2.0)
}

fn inv_tri(b: &mut B, l: Value, lower: bool) -> R<Value> {
    b.op(
        Opcode::Inverse,
        &[l],
        Attrs::new()
            .with("tri", Attr::Bool(true))
            .with("upper", Attr::Bool(!lower)),
    )
}

/// The lower Cholesky factor of the op's result.
fn chol_lower(b: &mut B, op: &Op) -> R<Value> {
    let y = op.results[0];
    if op.attrs.bool("upper")? {
        b.mt(y)
    } else {
        Ok(y)
    }
}

/// Eigen-decomposition `(w, V)` behind an `eigh` op (recomputed with the
/// vectors when the op gives values only).
fn eigh_parts(b: &mut B, op: &Op) -> R<(Value, Value)> {
    if op.results.len() == 2 {
        return Ok((op.results[0], op.results[1]));
    }
    let r = b.ops(
        Opcode::Eigh,
        &[op.operands[0]],
        Attrs::new()
            .with("uplo", Attr::Str(op.attrs.str("uplo")?.to_string()))
            .with("compute_eigenvectors", Attr::Bool(true)),
    )?;
    Ok((r[0], r[1]))
}

/// `F_ij = 1 / (v_j - v_i)` off the diagonal, 0 on it.
fn gap_inverse(b: &mut B, v: Value, like: Value) -> R<Value> {
    let r = b.rank(v);
    let vj = b.expand_dims(v, &[r - 1])?;
    let vj = b.broadcast_to_value(vj, like)?;
    let vi = b.expand_dims(v, &[r])?;
    let vi = b.broadcast_to_value(vi, like)?;
    let d = b.sub(vj, vi)?;
    let inv = b.un(Opcode::Reciprocal, d)?;
    let (i, j) = row_col(b, like)?;
    let m = b.bin(Opcode::Equal, i, j)?;
    let z = b.zeros_like(like)?;
    b.op(Opcode::Select, &[m, z, inv], Attrs::new())
}

/// SVD parts `(U_k, s, Vt_k)` (reduced to `k = min(m, n)`).
fn svd_parts(b: &mut B, op: &Op) -> R<(Value, Value, Value)> {
    let a = op.operands[0];
    let (u, s, vt) = if op.results.len() == 3 {
        (op.results[0], op.results[1], op.results[2])
    } else {
        let r = b.ops(
            Opcode::Svd,
            &[a],
            Attrs::new().with("compute_uv", Attr::Bool(true)),
        )?;
        (r[0], r[1], r[2])
    };
    let sh = static_shape(b, a, op, "derivative")?;
    let r = sh.len();
    let (m, n) = (sh[r - 2], sh[r - 1]);
    let k = m.min(n);
    let mut us = b.ty(u).shape;
    let mut ustop = us.clone();
    ustop[r - 1] = k;
    let u = slice(b, u, vec![0; r], ustop, vec![1; r])?;
    us = b.ty(vt).shape;
    let mut vstop = us.clone();
    vstop[r - 2] = k;
    let vt = slice(b, vt, vec![0; r], vstop, vec![1; r])?;
    Ok((u, s, vt))
}

/// Rows `r0..r1` and columns `c0..c1` of the last two axes of `x` (static).
fn block(b: &mut B, x: Value, rows: (i64, i64), cols: (i64, i64)) -> R<Value> {
    let sh = b.ty(x).shape;
    let r = sh.len();
    let mut start = vec![0; r];
    let mut stop = sh.clone();
    start[r - 2] = rows.0;
    stop[r - 2] = rows.1;
    start[r - 1] = cols.0;
    stop[r - 1] = cols.1;
    slice(b, x, start, stop, vec![1; r])
}

/// `1/s`, and 0 where `s` is 0 (no infinities, even in masked branches).
fn safe_reciprocal(b: &mut B, s: Value) -> R<Value> {
    let z = b.zeros_like(s)?;
    let is0 = b.bin(Opcode::Equal, s, z)?;
    let one = b.scalar_like(1.0, s)?;
    let safe = b.op(Opcode::Select, &[is0, one, s], Attrs::new())?;
    let inv = b.un(Opcode::Reciprocal, safe)?;
    b.op(Opcode::Select, &[is0, z, inv], Attrs::new())
}

/// The columns of the full `U` (`m x m`) past `k`, and the rows of the
/// full `Vt` (`n x n`) past `k`: the parts a non-square matrix's SVD does
/// not determine (`None` where there are none).
fn svd_complements(b: &mut B, op: &Op, k: i64) -> R<(Option<Value>, Option<Value>)> {
    let (u, vt) = if op.results.len() == 3 {
        (op.results[0], op.results[2])
    } else {
        let r = b.ops(
            Opcode::Svd,
            &[op.operands[0]],
            Attrs::new().with("compute_uv", Attr::Bool(true)),
        )?;
        (r[0], r[2])
    };
    let m = *b.ty(u).shape.last().unwrap_or(&0);
    let n = *b.ty(vt).shape.last().unwrap_or(&0);
    let up = if m > k {
        Some(block(b, u, (0, m), (k, m))?)
    } else {
        None
    };
    let vp = if n > k {
        Some(block(b, vt, (k, n), (0, n))?)
    } else {
        None
    };
    Ok((up, vp))
}

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

/// vjp rules of the extras handled here (see [`handles_vjp`]).
pub fn vjp_extra(
    b: &mut B,
    op: &Op,
    cts: &[Option<Value>],
    needs: &[bool],
) -> R<Vec<Option<Value>>> {
    use Opcode::*;
    let n = op.operands.len();
    let mut out = vec![None; n];
    let Some(ct) = cts.iter().copied().find_map(|c| c) else {
        return Ok(out);
    };
    let x = op.operands[0];
    match op.opcode {
        ConvGeneral => return conv_vjp(b, op, ct, needs),
        Fft => out[0] = Some(fft_vjp(b, op, ct)?),
        Imag => {
            let i = c64(b, 0.0, 1.0)?;
            let c = b.cast(ct, DType::C64)?;
            let i = b.broadcast_to_value(i, c)?;
            out[0] = Some(b.mul(c, i)?);
        }
        Inverse => {
            let y = op.results[0];
            let yt = b.mt(y)?;
            let m = b.matmul(yt, ct)?;
            let m = b.matmul(m, yt)?;
            let m = b.neg(m)?;
            out[0] = Some(if op.attrs.bool("tri")? {
                tri(b, m, !op.attrs.bool("upper")?, false)?
            } else {
                m
            });
        }
        Cholesky => {
            let upper = op.attrs.bool("upper")?;
            let l = chol_lower(b, op)?;
            let lbar = if upper { b.mt(ct)? } else { ct };
            let lt = b.mt(l)?;
            let p = b.matmul(lt, lbar)?;
            let p = tri(b, p, true, false)?;
            let p = diag_off(b, p, 0.5, 1.0)?;
            let li = inv_tri(b, l, true)?;
            let lit = b.mt(li)?;
            let s = b.matmul(lit, p)?;
            let s = b.matmul(s, li)?;
            out[0] = Some(to_triangle(b, s, !upper)?);
        }
        Eigh => {
            let lower = op.attrs.str("uplo")? == "L";
            let (w, v) = eigh_parts(b, op)?;
            let mut inner = match cts[0] {
                Some(wb) => Some(diag_matrix(b, wb)?),
                None => None,
            };
            if let Some(vbar) = cts.get(1).copied().flatten() {
                let vt = b.mt(v)?;
                let m = b.matmul(vt, vbar)?;
                let f = gap_inverse(b, w, m)?;
                let fm = b.mul(f, m)?;
                inner = b.add_opt(inner, Some(fm))?;
            }
            if let Some(inner) = inner {
                let vt = b.mt(v)?;
                let g = b.matmul(v, inner)?;
                let g = b.matmul(g, vt)?;
                out[0] = Some(to_triangle(b, g, lower)?);
            }
        }
        Qr => {
            let sh = static_shape(b, x, op, "vjp")?;
            let r = sh.len();
            if sh[r - 2] < sh[r - 1] {
                return Err(unsupported(
                    op,
                    "vjp",
                    "only matrices with at least as many rows as columns are supported (as JAX)",
                ));
            }
            let (q, rr) = (op.results[0], op.results[1]);
            let qbar = match cts[0] {
                Some(c) => c,
                None => b.zeros_like(q)?,
            };
            let rt = b.mt(rr)?;
            let mut m = match cts[1] {
                Some(rbar) => Some(b.matmul(rbar, rt)?),
                None => None,
            };
            if cts[0].is_some() {
                let qt = b.mt(q)?;
                let qq = b.matmul(qt, qbar)?;
                let nq = b.neg(qq)?;
                m = b.add_opt(m, Some(nq))?;
            }
            let m = m.ok_or_else(|| TransformError::new("internal: no cotangent"))?;
            let up = tri(b, m, false, false)?;
            let mt = b.mt(m)?;
            let lo = tri(b, mt, true, true)?;
            let nn = b.add(up, lo)?;
            let qn = b.matmul(q, nn)?;
            let s = b.add(qbar, qn)?;
            let ri = inv_tri(b, rr, false)?;
            let rit = b.mt(ri)?;
            out[0] = Some(b.matmul(s, rit)?);
        }
        // Square matrices: the classic rule. Non-square (`k = min(m, n)`):
        // JAX's thin-SVD derivative for the first `k` columns of `U` and rows
        // of `Vt`, plus the projection terms `(I - U U^T) dA V S^-1` (tall)
        // or `(I - V V^T) dA^T U S^-1` (wide); the remaining columns of the
        // full `U`/`Vt` are not unique, and take the tangent that keeps them
        // orthogonal to the rest (`dU_p = -U_k dU_k^T U_p`), whose transpose
        // folds their cotangent into the first `k`.
        Svd => {
            let sh = static_shape(b, x, op, "vjp")?;
            let r = sh.len();
            let (m, n) = (sh[r - 2], sh[r - 1]);
            let k = m.min(n);
            let vec_cts = op.results.len() == 3 && (cts[0].is_some() || cts[2].is_some());
            let (u, s, vt) = svd_parts(b, op)?;
            let sbar = if op.results.len() == 3 { cts[1] } else { cts[0] };
            let mut d = match sbar {
                Some(sb) => Some(diag_matrix(b, sb)?),
                None => None,
            };
            let mut extra = None;
            if vec_cts {
                let (up, vp) = svd_complements(b, op, k)?;
                // The cotangents of U_k and Vt_k, with those of the
                // complements folded in.
                let ubar = match cts[0] {
                    Some(c) => {
                        let ck = block(b, c, (0, m), (0, k))?;
                        Some(match up {
                            Some(up) => {
                                let cp = block(b, c, (0, m), (k, m))?;
                                let cpt = b.mt(cp)?;
                                let t = b.matmul(cpt, u)?;
                                let t = b.matmul(up, t)?;
                                b.sub(ck, t)?
                            }
                            None => ck,
                        })
                    }
                    None => None,
                };
                let vtbar = match cts[2] {
                    Some(c) => {
                        let ck = block(b, c, (0, k), (0, n))?;
                        Some(match vp {
                            Some(vp) => {
                                let cp = block(b, c, (k, n), (0, n))?;
                                let cpt = b.mt(cp)?;
                                let t = b.matmul(vt, cpt)?;
                                let t = b.matmul(t, vp)?;
                                b.sub(ck, t)?
                            }
                            None => ck,
                        })
                    }
                    None => None,
                };
                let s2 = b.un(Opcode::Square, s)?;
                let ut0 = b.mt(u)?;
                let like = b.matmul(ut0, u)?; // any (..., k, k) value
                let f = gap_inverse(b, s2, like)?;
                let sinv = safe_reciprocal(b, s)?;
                if let Some(ubar) = ubar {
                    let ut = b.mt(u)?;
                    let au = b.matmul(ut, ubar)?;
                    let au = b.mul(f, au)?;
                    let aut = b.mt(au)?;
                    let su = b.add(au, aut)?;
                    let du = scale_cols(b, su, s)?;
                    d = b.add_opt(d, Some(du))?;
                    if m > n {
                        // (I - U U^T) Ubar S^-1 Vt
                        let us = scale_cols(b, ubar, sinv)?;
                        let ut = b.mt(u)?;
                        let p = b.matmul(ut, us)?;
                        let p = b.matmul(u, p)?;
                        let q = b.sub(us, p)?;
                        let e = b.matmul(q, vt)?;
                        extra = b.add_opt(extra, Some(e))?;
                    }
                }
                if let Some(vtbar) = vtbar {
                    // V = Vt^T, Vbar = Vtbar^T: A_v = F o (V^T Vbar) = F o (Vt Vtbar^T).
                    let vbt = b.mt(vtbar)?;
                    let av = b.matmul(vt, vbt)?;
                    let av = b.mul(f, av)?;
                    let avt = b.mt(av)?;
                    let sv = b.add(av, avt)?;
                    let dv = scale_rows(b, sv, s)?;
                    d = b.add_opt(d, Some(dv))?;
                    if n > m {
                        // U S^-1 Vtbar (I - V Vt)
                        let usi = scale_cols(b, u, sinv)?;
                        let v = b.mt(vt)?;
                        let p = b.matmul(vtbar, v)?;
                        let p = b.matmul(p, vt)?;
                        let q = b.sub(vtbar, p)?;
                        let e = b.matmul(usi, q)?;
                        extra = b.add_opt(extra, Some(e))?;
                    }
                }
            }
            if let Some(d) = d {
                let ud = b.matmul(u, d)?;
                out[0] = Some(b.matmul(ud, vt)?);
            }
            out[0] = b.add_opt(out[0], extra)?;
        }
        Eig => {
            return Err(unsupported(
                op,
                "vjp",
                "the derivative of a general (complex) eigendecomposition is not supported (MLX has none)",
            ))
        }
        QuantizedMatmul => {
            let transpose = op.attrs.bool("transpose")?;
            if needs[0] {
                let mut a = op.attrs.clone();
                a.set("transpose", Attr::Bool(!transpose));
                let mut operands = vec![ct];
                operands.extend_from_slice(&op.operands[1..]);
                let g = b.op(QuantizedMatmul, &operands, a)?;
                out[0] = Some(b.cast(g, b.dtype(x))?);
            }
            if needs.get(2).copied().unwrap_or(false) || needs.get(3).copied().unwrap_or(false) {
                let (ds, db) = qmm_scale_grads(b, op, ct, needs)?;
                out[2] = ds;
                if n > 3 {
                    out[3] = db;
                }
            }
        }
        Dequantize => {
            let (ds, db) = dequant_grads(b, op, ct, needs)?;
            out[1] = ds;
            if n > 2 {
                out[2] = db;
            }
        }
        Rope => {
            let mut a = op.attrs.clone();
            a.set("forward", Attr::Bool(!op.attrs.bool("forward")?));
            let mut operands = vec![ct];
            operands.extend_from_slice(&op.operands[1..]);
            out[0] = Some(b.op(Rope, &operands, a)?);
        }
        AsStrided => {
            let xs = static_shape(b, x, op, "vjp")?;
            let cs = static_shape(b, ct, op, "vjp")?;
            let numel: i64 = xs.iter().product();
            let count: i64 = cs.iter().product();
            let iota = b.op(
                Iota,
                &[],
                Attrs::new()
                    .with("shape", Attr::Ints(vec![numel]))
                    .with("dtype", Attr::DType(DType::I32))
                    .with("axis", Attr::Int(0)),
            )?;
            let idx = b.op(AsStrided, &[iota], op.attrs.clone())?;
            let idx = reshape(b, idx, &[count])?;
            let z = b.fill(0.0, &b.ty(x).with_shape(vec![numel]), None)?;
            let upd = reshape(b, ct, &[count, 1])?;
            let g = b.op(
                Scatter,
                &[z, idx, upd],
                Attrs::new()
                    .with("axes", Attr::Ints(vec![0]))
                    .with("reduce", Attr::Str("sum".into())),
            )?;
            out[0] = Some(reshape(b, g, &xs)?);
        }
        other => {
            return Err(TransformError::new(format!(
                "internal: `{other}` has no rule in autodiff::extra"
            )))
        }
    }
    Ok(out)
}

/// `(d scales, d biases)` of an affine quantized matmul, as MLX: the full
/// weight gradient `x^T ct` (or `ct^T x`) regrouped, summed per group
/// (biases) or weighted by the unit-scale dequantized weights (scales).
fn qmm_scale_grads(
    b: &mut B,
    op: &Op,
    ct: Value,
    needs: &[bool],
) -> R<(Option<Value>, Option<Value>)> {
    let a = &op.attrs;
    if a.str("mode")? != "affine" {
        return Err(unsupported(
            op,
            "vjp",
            "no gradient for the scales outside affine quantization (as MLX)",
        ));
    }
    let x = op.operands[0];
    let w = op.operands[1];
    if b.rank(w) != 2 {
        return Err(unsupported(
            op,
            "vjp",
            "scale gradients need a 2-d quantized weight",
        ));
    }
    let xs = static_shape(b, x, op, "vjp")?;
    let cs = static_shape(b, ct, op, "vjp")?;
    let r = xs.len();
    let lead: i64 = xs[..r - 1].iter().product();
    let fx = reshape(b, x, &[lead, xs[r - 1]])?;
    let fc = reshape(b, ct, &[lead, cs[r - 1]])?;
    let sdt = b.dtype(op.operands[2]);
    let fx = b.cast(fx, sdt)?;
    let fc = b.cast(fc, sdt)?;
    let dw = if a.bool("transpose")? {
        let t = b.mt(fc)?;
        b.matmul(t, fx)?
    } else {
        let t = b.mt(fx)?;
        b.matmul(t, fc)?
    };
    let gs = a.int("group_size")?;
    let dsb = b.op(
        Opcode::Unflatten,
        &[dw],
        Attrs::new()
            .with("axis", Attr::Int(1))
            .with("shape", Attr::Ints(vec![-1, gs])),
    )?;
    group_grads(
        b,
        op,
        dsb,
        needs[2],
        needs.get(3).copied().unwrap_or(false),
        1,
    )
}

/// Per-group sums of `dsb` (`(..., groups, gs)`): weighted by the unit
/// dequantized weights for the scales, plain for the biases. `w_at` is the
/// operand index of the packed weights.
fn group_grads(
    b: &mut B,
    op: &Op,
    dsb: Value,
    want_s: bool,
    want_b: bool,
    w_at: usize,
) -> R<(Option<Value>, Option<Value>)> {
    let last = b.rank(dsb) - 1;
    let mut ds = None;
    let mut db = None;
    if want_b {
        db = Some(b.sum(dsb, &[last], false)?);
    }
    if want_s {
        let sc = op.operands[w_at + 1];
        let bi = op.operands[w_at + 2];
        let ones = b.scalar_like(1.0, sc)?;
        let zeros = b.zeros_like(bi)?;
        let wq = b.op(
            Opcode::Dequantize,
            &[op.operands[w_at], ones, zeros],
            super::decomp::quant_attrs(&op.attrs)?,
        )?;
        let r = b.rank(wq);
        let gs = op.attrs.int("group_size")?;
        let wq = b.op(
            Opcode::Unflatten,
            &[wq],
            Attrs::new()
                .with("axis", Attr::Int(r as i64 - 1))
                .with("shape", Attr::Ints(vec![-1, gs])),
        )?;
        let wq = b.cast(wq, b.dtype(dsb))?;
        let p = b.mul(dsb, wq)?;
        ds = Some(b.sum(p, &[last], false)?);
    }
    Ok((ds, db))
}

fn dequant_grads(
    b: &mut B,
    op: &Op,
    ct: Value,
    needs: &[bool],
) -> R<(Option<Value>, Option<Value>)> {
    if op.attrs.str("mode")? != "affine" {
        return Ok((None, None));
    }
    let r = b.rank(ct);
    let gs = op.attrs.int("group_size")?;
    let sdt = b.dtype(op.operands[1]);
    let c = b.cast(ct, sdt)?;
    let dsb = b.op(
        Opcode::Unflatten,
        &[c],
        Attrs::new()
            .with("axis", Attr::Int(r as i64 - 1))
            .with("shape", Attr::Ints(vec![-1, gs])),
    )?;
    group_grads(
        b,
        op,
        dsb,
        needs[1],
        needs.get(2).copied().unwrap_or(false),
        0,
    )
}

/// jvp rules of the extras handled here.
pub fn jvp_extra(b: &mut B, op: &Op, ts: &[Option<Value>]) -> R<Vec<Option<Value>>> {
    use Opcode::*;
    let nres = op.results.len();
    let mut out: Vec<Option<Value>> = vec![None; nres];
    let x = op.operands[0];
    let t_or_zero = |b: &mut B, i: usize| -> R<Value> {
        match ts[i] {
            Some(t) => Ok(t),
            None => b.zeros_like(op.operands[i]),
        }
    };
    match op.opcode {
        ConvGeneral => {
            let p = match ts[0] {
                Some(t) => Some(b.op(ConvGeneral, &[t, op.operands[1]], op.attrs.clone())?),
                None => None,
            };
            let q = match ts[1] {
                Some(t) => Some(b.op(ConvGeneral, &[x, t], op.attrs.clone())?),
                None => None,
            };
            out[0] = b.add_opt(p, q)?;
        }
        Fft | Rope | AsStrided => {
            if let Some(t) = ts[0] {
                let mut operands = vec![t];
                operands.extend_from_slice(&op.operands[1..]);
                out[0] = Some(b.op(op.opcode, &operands, op.attrs.clone())?);
            }
        }
        Inverse => {
            if let Some(t) = ts[0] {
                let t = if op.attrs.bool("tri")? {
                    tri(b, t, !op.attrs.bool("upper")?, false)?
                } else {
                    t
                };
                let y = op.results[0];
                let m = b.matmul(y, t)?;
                let m = b.matmul(m, y)?;
                out[0] = Some(b.neg(m)?);
            }
        }
        Cholesky => {
            if let Some(t) = ts[0] {
                let upper = op.attrs.bool("upper")?;
                let sd = from_triangle(b, t, !upper)?;
                let l = chol_lower(b, op)?;
                let li = inv_tri(b, l, true)?;
                let lit = b.mt(li)?;
                let m = b.matmul(li, sd)?;
                let m = b.matmul(m, lit)?;
                let m = tri(b, m, true, false)?;
                let m = diag_off(b, m, 0.5, 1.0)?;
                let ld = b.matmul(l, m)?;
                out[0] = Some(if upper { b.mt(ld)? } else { ld });
            }
        }
        Eigh => {
            if let Some(t) = ts[0] {
                let lower = op.attrs.str("uplo")? == "L";
                let sd = from_triangle(b, t, lower)?;
                let (w, v) = eigh_parts(b, op)?;
                let vt = b.mt(v)?;
                let d = b.matmul(vt, sd)?;
                let d = b.matmul(d, v)?;
                out[0] = Some(diagonal(b, d)?);
                if nres == 2 {
                    let f = gap_inverse(b, w, d)?;
                    let fd = b.mul(f, d)?;
                    out[1] = Some(b.matmul(v, fd)?);
                }
            }
        }
        Qr => {
            if let Some(t) = ts[0] {
                let sh = static_shape(b, x, op, "jvp")?;
                let r = sh.len();
                if sh[r - 2] < sh[r - 1] {
                    return Err(unsupported(
                        op,
                        "jvp",
                        "only matrices with at least as many rows as columns are supported (as JAX)",
                    ));
                }
                let (q, rr) = (op.results[0], op.results[1]);
                let ri = inv_tri(b, rr, false)?;
                let xx = b.matmul(t, ri)?;
                let qt = b.mt(q)?;
                let c = b.matmul(qt, xx)?;
                let l = tri(b, c, true, true)?;
                let lt = b.mt(l)?;
                let om = b.sub(l, lt)?;
                let omc = b.sub(om, c)?;
                let dq = b.matmul(q, omc)?;
                out[0] = Some(b.add(dq, xx)?);
                let cmo = b.sub(c, om)?;
                out[1] = Some(b.matmul(cmo, rr)?);
            }
        }
        // See the vjp rule: JAX's thin-SVD tangents plus the projection
        // terms for a non-square matrix; the complements of the full U/Vt
        // take `dU_p = -U_k dU_k^T U_p`, `dVt_p = -Vt_p dVt_k^T Vt_k`.
        Svd => {
            if let Some(t) = ts[0] {
                let sh = static_shape(b, x, op, "jvp")?;
                let r = sh.len();
                let (m, n) = (sh[r - 2], sh[r - 1]);
                let k = m.min(n);
                let full = nres == 3;
                let (u, s, vt) = svd_parts(b, op)?;
                let ut = b.mt(u)?;
                let v = b.mt(vt)?;
                let d = b.matmul(ut, t)?;
                let d = b.matmul(d, v)?;
                let ds = diagonal(b, d)?;
                if !full {
                    out[0] = Some(ds);
                } else {
                    out[1] = Some(ds);
                    let s2 = b.un(Opcode::Square, s)?;
                    let f = gap_inverse(b, s2, d)?;
                    let dt = b.mt(d)?;
                    let sinv = safe_reciprocal(b, s)?;
                    // dU = U (F o (D S + S D^T)), dV = V (F o (S D + D^T S)).
                    let dss = scale_cols(b, d, s)?;
                    let sdt = scale_rows(b, dt, s)?;
                    let a1 = b.add(dss, sdt)?;
                    let a1 = b.mul(f, a1)?;
                    let mut du = b.matmul(u, a1)?;
                    if m > n {
                        // + (I - U U^T) dA V S^-1
                        let av = b.matmul(t, v)?;
                        let p = b.matmul(ut, av)?;
                        let p = b.matmul(u, p)?;
                        let q = b.sub(av, p)?;
                        let q = scale_cols(b, q, sinv)?;
                        du = b.add(du, q)?;
                    }
                    let sd = scale_rows(b, d, s)?;
                    let dts = scale_cols(b, dt, s)?;
                    let a2 = b.add(sd, dts)?;
                    let a2 = b.mul(f, a2)?;
                    let mut dv = b.matmul(v, a2)?;
                    if n > m {
                        // + (I - V V^T) dA^T U S^-1
                        let tt = b.mt(t)?;
                        let au = b.matmul(tt, u)?;
                        let p = b.matmul(vt, au)?;
                        let p = b.matmul(v, p)?;
                        let q = b.sub(au, p)?;
                        let q = scale_cols(b, q, sinv)?;
                        dv = b.add(dv, q)?;
                    }
                    let dvt = b.mt(dv)?;
                    let (up, vp) = svd_complements(b, op, k)?;
                    out[0] = Some(match up {
                        Some(up) => {
                            let dut = b.mt(du)?;
                            let c = b.matmul(dut, up)?;
                            let c = b.matmul(u, c)?;
                            let c = b.neg(c)?;
                            b.op(
                                Opcode::Concatenate,
                                &[du, c],
                                Attrs::new().with("axis", Attr::Int(r as i64 - 1)),
                            )?
                        }
                        None => du,
                    });
                    out[2] = Some(match vp {
                        Some(vp) => {
                            let dvtt = b.mt(dvt)?;
                            let c = b.matmul(vp, dvtt)?;
                            let c = b.matmul(c, vt)?;
                            let c = b.neg(c)?;
                            b.op(
                                Opcode::Concatenate,
                                &[dvt, c],
                                Attrs::new().with("axis", Attr::Int(r as i64 - 2)),
                            )?
                        }
                        None => dvt,
                    });
                }
            }
        }
        Eig => {
            if ts[0].is_some() {
                return Err(unsupported(
                    op,
                    "jvp",
                    "the derivative of a general (complex) eigendecomposition is not supported (MLX has none)",
                ));
            }
        }
        QuantizedMatmul => {
            let mut acc = None;
            if let Some(t) = ts[0] {
                let mut operands = vec![t];
                operands.extend_from_slice(&op.operands[1..]);
                acc = Some(b.op(QuantizedMatmul, &operands, op.attrs.clone())?);
            }
            let n = op.operands.len();
            if ts.get(2).copied().flatten().is_some() || (n > 3 && ts[3].is_some()) {
                // Linear in (scales, biases) together.
                let s = t_or_zero(b, 2)?;
                let mut operands = vec![x, op.operands[1], s];
                if n > 3 {
                    operands.push(t_or_zero(b, 3)?);
                }
                let p = b.op(QuantizedMatmul, &operands, op.attrs.clone())?;
                acc = b.add_opt(acc, Some(p))?;
            }
            out[0] = acc;
        }
        Dequantize => {
            let n = op.operands.len();
            if ts[1].is_some() || (n > 2 && ts[2].is_some()) {
                let mut operands = vec![x, t_or_zero(b, 1)?];
                if n > 2 {
                    operands.push(t_or_zero(b, 2)?);
                }
                out[0] = Some(b.op(Dequantize, &operands, op.attrs.clone())?);
            }
        }
        other => {
            return Err(TransformError::new(format!(
                "internal: `{other}` has no jvp rule in autodiff::extra"
            )))
        }
    }
    Ok(out)
}
