//! Convolutions as matrix products: every `tensor.conv_general` with static
//! shapes becomes an im2col view and one (batched) matmul, so it runs
//! through the backends' matmul (the `gemm` crate on the CPU, cuBLAS on
//! CUDA, the tiled shader on wgpu) with the fused epilogues that gives,
//! instead of the reference interpreter's direct loops.
//!
//! For input `x` (N, spatial..., C), weight `w` (O, kernel spatial..., C/G)
//! and G groups:
//!
//! 1. input dilation `d > 1` along an axis puts `d - 1` zeros between
//!    elements (`expand_dims`, `pad` high by `d - 1`, merge, drop the
//!    trailing zeros), and `padding_lo`/`padding_hi` pad with zeros;
//! 2. `tensor.as_strided` views the padded input as
//!    `[G, N, out spatial..., kernel spatial..., C/G]`: output position `o`
//!    and tap `k` read padded element `o * stride + k * kernel_dilation`,
//!    group `g` reads channels `g * C/G ..`. Fusion materializes it as one
//!    kernel (the im2col copy), row-major, which reshapes for free to the
//!    `[G, M, K]` operand (M = N * out positions, K = taps * C/G);
//! 3. the weight, flipped along its spatial axes when `flip` is set, is
//!    viewed as `[G, K, O/G]`;
//! 4. the `[G, M, O/G]` product is transposed to `[M, G, O/G]` and reshaped
//!    to (N, out spatial..., O): output channel `g * O/G + j`. With one
//!    group the product is `[N, out..., K] x [K, O]` (the weight broadcast
//!    over the batch axes): it has the convolution's shape, so bias and
//!    activation fuse into the matmul's epilogue, and
//!    [`super::collapse::collapse_matmul_batches`] turns it back into one `[M, K] x [K, O]`
//!    gemm.
//!
//! The im2col buffer holds every tap of every output position (the usual
//! trade: `taps` times the input's size in memory, for one large gemm).
//! The reference interpreter still runs the op directly and stays the
//! reference the lowering is tested against (`runtime/tests/conv.rs`).

use crate::autodiff::builder::ints;
use crate::util::ValueMap;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Op, Opcode, Value};

fn push(f: &mut Func, opcode: Opcode, operands: &[Value], attrs: Attrs) -> Result<Value, String> {
    f.push1(opcode, operands, attrs).map_err(|e| e.to_string())
}

fn reshape(f: &mut Func, x: Value, shape: &[usize]) -> Result<Value, String> {
    push(
        f,
        Opcode::Reshape,
        &[x],
        Attrs::new().with("shape", ints(shape.iter().copied())),
    )
}

fn transpose(f: &mut Func, x: Value, perm: &[usize]) -> Result<Value, String> {
    push(
        f,
        Opcode::Transpose,
        &[x],
        Attrs::new().with("perm", ints(perm.iter().copied())),
    )
}

/// A 0-d zero of `dtype`.
fn zero(f: &mut Func, dtype: DType) -> Result<Value, String> {
    let value = Literal::from_f64(dtype, vec![], &[0.0]).map_err(|e| e.to_string())?;
    push(
        f,
        Opcode::Constant,
        &[],
        Attrs::new().with("value", Attr::Dense(value)),
    )
}

fn pad(f: &mut Func, x: Value, low: &[usize], high: &[usize]) -> Result<Value, String> {
    let z = zero(f, f.ty(x).dtype)?;
    push(
        f,
        Opcode::Pad,
        &[x, z],
        Attrs::new()
            .with("low", ints(low.iter().copied()))
            .with("high", ints(high.iter().copied())),
    )
}

/// The ops computing `op` (a `conv_general` of static shapes) as a matmul,
/// appended to `f`; the value equal to its result.
fn lower_one(f: &mut Func, op: &Op) -> Result<Value, String> {
    let (x, w) = (op.operands[0], op.operands[1]);
    let shape = |f: &Func, v: Value| {
        f.ty(v)
            .static_shape()
            .ok_or_else(|| format!("{} has no static shape", f.ty(v)))
    };
    let (xs, ws, os) = (shape(f, x)?, shape(f, w)?, shape(f, op.results[0])?);
    // Empty operands or results: nothing to multiply; the library call
    // handles them (an empty gemm is not worth a special case per backend).
    if [&xs, &ws, &os].iter().any(|s| s.contains(&0)) {
        return Err("an empty convolution".into());
    }
    let a = &op.attrs;
    let list = |name: &str| -> Result<Vec<usize>, String> {
        a.ints(name)?
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| format!("`{name}` holds {v}")))
            .collect()
    };
    let (stride, lo, hi) = (
        list("kernel_strides")?,
        list("padding_lo")?,
        list("padding_hi")?,
    );
    let (kdil, idil) = (list("kernel_dilation")?, list("input_dilation")?);
    let groups = usize::try_from(a.int("groups")?).map_err(|_| "negative groups".to_string())?;
    let flip = a.bool("flip")?;
    let sd = xs.len() - 2;
    let (n, c, o) = (xs[0], xs[sd + 1], ws[0]);
    let (cg, og) = (c / groups, o / groups);
    let k_sp = &ws[1..=sd];
    let out_sp = &os[1..=sd];

    // 1. Input dilation, then padding.
    let mut xp = x;
    for ax in 0..sd {
        let d = idil[ax];
        if d <= 1 {
            continue;
        }
        let cur = shape(f, xp)?;
        let a1 = ax + 1;
        let e = push(
            f,
            Opcode::ExpandDims,
            &[xp],
            Attrs::new().with("axes", ints([a1 + 1])),
        )?;
        let mut high = vec![0; cur.len() + 1];
        high[a1 + 1] = d - 1;
        let p = pad(f, e, &vec![0; cur.len() + 1], &high)?;
        let mut merged = cur.clone();
        merged[a1] = cur[a1] * d;
        let m = reshape(f, p, &merged)?;
        let len = if cur[a1] == 0 {
            0
        } else {
            (cur[a1] - 1) * d + 1
        };
        let mut stop: Vec<usize> = merged.clone();
        stop[a1] = len;
        xp = push(
            f,
            Opcode::Slice,
            &[m],
            Attrs::new()
                .with("start", ints(vec![0; merged.len()]))
                .with("stop", ints(stop))
                .with("strides", ints(vec![1; merged.len()])),
        )?;
    }
    if lo.iter().chain(&hi).any(|&p| p > 0) {
        let mut low = vec![0; sd + 2];
        let mut high = vec![0; sd + 2];
        low[1..=sd].copy_from_slice(&lo);
        high[1..=sd].copy_from_slice(&hi);
        xp = pad(f, xp, &low, &high)?;
    }

    // 2. The im2col view [G, N, out..., taps..., C/G] of the padded input.
    let ps = shape(f, xp)?;
    let rm: Vec<usize> = psionic_ir::types::row_major_strides(&ps);
    let mut vshape = vec![groups, n];
    let mut vstrides = vec![cg, rm[0]];
    vshape.extend_from_slice(out_sp);
    vstrides.extend((0..sd).map(|i| rm[i + 1] * stride[i]));
    vshape.extend_from_slice(k_sp);
    vstrides.extend((0..sd).map(|i| rm[i + 1] * kdil[i]));
    vshape.push(cg);
    vstrides.push(1);
    // Degenerate extents (a size-1 or empty axis) take stride 0, which
    // reads the same elements and keeps the view's bounds check exact.
    for (s, &d) in vstrides.iter_mut().zip(&vshape) {
        if d <= 1 {
            *s = 0;
        }
    }
    let cols = push(
        f,
        Opcode::AsStrided,
        &[xp],
        Attrs::new()
            .with("shape", ints(vshape.iter().copied()))
            .with("strides", ints(vstrides.iter().copied()))
            .with("offset", Attr::Int(0)),
    )?;
    let m: usize = n * out_sp.iter().product::<usize>();
    let taps: usize = k_sp.iter().product();
    let kk = taps * cg;
    // 3. The weight as [G, K, O/G], flipped along its spatial axes when
    // `flip` is set; 4. the product, channels back in place. One group
    // drops the group axis, so the product's consumers see a plain matmul
    // (and fuse into its epilogue).
    let mut wv = w;
    if flip && sd > 0 {
        wv = push(
            f,
            Opcode::Flip,
            &[wv],
            Attrs::new().with("axes", ints(1..=sd)),
        )?;
    }
    if groups == 1 {
        // [N, out..., K] x [K, O] broadcast to [N, out..., K, O]: the
        // product has the convolution's shape, so its consumers fuse into
        // the matmul's epilogue, and `collapse_matmul_batches` merges the
        // batch axes back into one M-row gemm.
        let mut cshape = vec![n];
        cshape.extend_from_slice(out_sp);
        cshape.push(kk);
        let cols = reshape(f, cols, &cshape)?;
        let wv = reshape(f, wv, &[o, kk])?;
        let wv = transpose(f, wv, &[1, 0])?;
        let mut bshape = cshape[..cshape.len() - 2].to_vec();
        bshape.extend([kk, o]);
        let wv = push(
            f,
            Opcode::Broadcast,
            &[wv],
            Attrs::new().with("shape", ints(bshape)),
        )?;
        return push(f, Opcode::Matmul, &[cols, wv], Attrs::new());
    }
    let cols = reshape(f, cols, &[groups, m, kk])?;
    let wv = reshape(f, wv, &[groups, og, kk])?;
    let wv = transpose(f, wv, &[0, 2, 1])?;
    let prod = push(f, Opcode::Matmul, &[cols, wv], Attrs::new())?;
    let t = transpose(f, prod, &[1, 0, 2])?;
    reshape(f, t, &os)
}

/// Rewrites every `tensor.conv_general` with static shapes into the
/// im2col matmul of the module docs; returns how many. One that cannot be
/// rewritten (dynamic shapes) is left for the library.
pub fn lower_convolutions(f: &mut Func) -> usize {
    if !f.ops.iter().any(|op| op.opcode == Opcode::ConvGeneral) {
        return 0;
    }
    let mut map = ValueMap::new(f);
    let mut count = 0;
    for mut op in std::mem::take(&mut f.ops) {
        for v in &mut op.operands {
            *v = map.resolve(*v);
        }
        if op.opcode != Opcode::ConvGeneral {
            f.ops.push(op);
            continue;
        }
        let before = f.ops.len();
        match lower_one(f, &op) {
            Ok(v) if f.ty(v) == f.ty(op.results[0]) => {
                map.replace(op.results[0], v);
                count += 1;
            }
            _ => {
                // Keep the op; drop whatever the attempt appended (dead).
                f.ops.truncate(before);
                f.ops.push(op);
            }
        }
    }
    map.apply(f);
    if count > 0 {
        *f = f.compact();
    }
    count
}
