//! The remaining extras: `tensor.gather_mm`, `tensor.block_masked_mm`,
//! `tensor.as_strided`, `tensor.search_sorted`, `tensor.masked_scatter`,
//! `tensor.depends`, `tensor.real`, `tensor.imag`, `tensor.conjugate`.

use super::quant::check_index;
use super::{broadcast_index, complex_lit, complexes, dims, lit, matmul_f64, Res};
use psionic_ir::{Attrs, DType, Literal, TensorType};
use std::cmp::Ordering;

/// The (rows x cols) matrices of a literal's last two axes, flattened batch.
fn mats(l: &Literal) -> (Vec<f64>, usize, usize, usize) {
    let s = l.shape();
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    let count = s[..s.len() - 2].iter().product();
    (l.to_f64_vec(), r, c, count)
}

pub fn gather_mm(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let (a, m, k, na) = mats(ops[0]);
    let (b, _, n, nb) = mats(ops[1]);
    let (lhs, rhs) = (ops[2].to_i64_vec(), ops[3].to_i64_vec());
    let mut res = Vec::with_capacity(lhs.len() * m * n);
    for (&l, &r) in lhs.iter().zip(&rhs) {
        let l = check_index(l, na, "lhs")?;
        let r = check_index(r, nb, "rhs")?;
        res.extend(matmul_f64(
            &a[l * m * k..][..m * k],
            &b[r * k * n..][..k * n],
            m,
            k,
            n,
        ));
    }
    Ok(vec![lit(&out[0], &res)?])
}

/// Applies a block mask to one (rows x cols) matrix: bool masks zero the
/// blocks that are false, float masks scale each block.
fn apply_mask(data: &mut [f64], rows: usize, cols: usize, bs: usize, mask: &[f64], is_bool: bool) {
    let tc = cols.div_ceil(bs);
    for i in 0..rows {
        for j in 0..cols {
            let mv = mask[(i / bs) * tc + j / bs];
            if is_bool {
                if mv == 0.0 {
                    data[i * cols + j] = 0.0;
                }
            } else {
                data[i * cols + j] *= mv;
            }
        }
    }
}

pub fn block_masked_mm(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let bs = attrs.int("block_size")? as usize;
    let os = dims(&out[0])?;
    let r = os.len();
    let batch = &os[..r - 2];
    let nbatch: usize = batch.iter().product();
    let (a, b) = (ops[0], ops[1]);
    let (m, k, n) = (a.shape()[r - 2], a.shape()[r - 1], os[r - 1]);
    let (av, bv) = (a.to_f64_vec(), b.to_f64_vec());
    let (out_mask, lhs_mask, rhs_mask) = match ops.len() {
        3 => (Some(ops[2]), None, None),
        4 => (None, Some(ops[2]), Some(ops[3])),
        5 => (Some(ops[2]), Some(ops[3]), Some(ops[4])),
        _ => (None, None, None),
    };
    // One batch's block grid of a mask, broadcast over the batch axes.
    let grid = |mask: &Literal, bi: usize| -> (Vec<f64>, bool) {
        let s = mask.shape();
        let (gr, gc) = (s[s.len() - 2], s[s.len() - 1]);
        let mb = broadcast_index(bi, batch, &s[..s.len() - 2]);
        let all = mask.to_f64_vec();
        (
            all[mb * gr * gc..][..gr * gc].to_vec(),
            mask.dtype() == DType::Bool,
        )
    };
    let ab = &a.shape()[..r - 2];
    let bb = &b.shape()[..r - 2];
    let mut res = Vec::with_capacity(nbatch * m * n);
    for bi in 0..nbatch {
        let ai = broadcast_index(bi, batch, ab);
        let bj = broadcast_index(bi, batch, bb);
        let mut am = av[ai * m * k..][..m * k].to_vec();
        let mut bm = bv[bj * k * n..][..k * n].to_vec();
        if let Some(mk) = lhs_mask {
            let (g, is_bool) = grid(mk, bi);
            apply_mask(&mut am, m, k, bs, &g, is_bool);
        }
        if let Some(mk) = rhs_mask {
            let (g, is_bool) = grid(mk, bi);
            apply_mask(&mut bm, k, n, bs, &g, is_bool);
        }
        let mut c = matmul_f64(&am, &bm, m, k, n);
        if let Some(mk) = out_mask {
            let (g, is_bool) = grid(mk, bi);
            apply_mask(&mut c, m, n, bs, &g, is_bool);
        }
        res.extend(c);
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn as_strided(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let shape = dims(&out[0])?;
    let strides = attrs.ints("strides")?;
    let offset = attrs.int("offset")?;
    let x = ops[0];
    let size = x.dtype().size();
    let src = x.bytes();
    let count: usize = shape.iter().product();
    let mut bytes = Vec::with_capacity(count * size);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..count {
        let at = offset
            + idx
                .iter()
                .zip(strides)
                .map(|(&i, &s)| i as i64 * s)
                .sum::<i64>();
        let at = usize::try_from(at)
            .ok()
            .filter(|&a| a < x.num_elements())
            .ok_or_else(|| format!("as_strided reaches element {at} of {}", x.num_elements()))?;
        bytes.extend_from_slice(&src[at * size..(at + 1) * size]);
        for a in (0..shape.len()).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(vec![
        Literal::from_bytes(x.dtype(), shape, bytes).map_err(|e| e.to_string())?
    ])
}

/// Compares two elements of one dtype exactly (integers as integers, NaN
/// after every number).
fn compare(d: DType, a: &Literal, i: usize, b: &Literal, j: usize) -> Ordering {
    if d.is_integral() {
        if d == DType::U64 {
            (a.get_i64(i) as u64).cmp(&(b.get_i64(j) as u64))
        } else {
            a.get_i64(i).cmp(&b.get_i64(j))
        }
    } else {
        let (x, y) = (a.get_f64(i), b.get_f64(j));
        x.partial_cmp(&y)
            .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
    }
}

pub fn search_sorted(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let right = attrs.bool("right")?;
    let (s, v) = (ops[0], ops[1]);
    let d = s.dtype();
    let n = s.num_elements();
    let res: Vec<i64> = (0..v.num_elements())
        .map(|j| {
            // First index whose element is > v (right) or >= v (left).
            let (mut lo, mut hi) = (0, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                let c = compare(d, s, mid, v, j);
                let go_right = if right {
                    c != Ordering::Greater
                } else {
                    c == Ordering::Less
                };
                if go_right {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo as i64
        })
        .collect();
    Ok(vec![
        Literal::from_i64(DType::U32, dims(&out[0])?, &res).map_err(|e| e.to_string())?
    ])
}

pub fn masked_scatter(_: &Attrs, ops: &[&Literal], _: &[TensorType]) -> Res {
    let (dst, mask, src) = (ops[0], ops[1], ops[2]);
    let size = dst.dtype().size();
    let batch = dst.shape()[0];
    let mut bytes = dst.bytes().to_vec();
    if let (Some(per), Some(src_per)) = (
        dst.num_elements().checked_div(batch),
        src.num_elements().checked_div(batch),
    ) {
        let m = mask.bytes();
        let sb = src.bytes();
        for b in 0..batch {
            let mut used = 0;
            for i in 0..per {
                if m[b * per + i] != 0 {
                    if used >= src_per {
                        return Err(format!(
                            "masked_scatter: batch {b} selects more than the {src_per} source elements"
                        ));
                    }
                    let from = (b * src_per + used) * size;
                    let to = (b * per + i) * size;
                    bytes[to..to + size].copy_from_slice(&sb[from..from + size]);
                    used += 1;
                }
            }
        }
    }
    Ok(vec![Literal::from_bytes(
        dst.dtype(),
        dst.shape().to_vec(),
        bytes,
    )
    .map_err(|e| e.to_string())?])
}

pub fn depends(attrs: &Attrs, ops: &[&Literal], _: &[TensorType]) -> Res {
    let n = attrs.int("num_outputs")? as usize;
    Ok(ops[..n].iter().map(|&l| l.clone()).collect())
}

pub fn real(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let v: Vec<f64> = complexes(ops[0]).iter().map(|c| c.re).collect();
    Ok(vec![lit(&out[0], &v)?])
}

pub fn imag(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let v: Vec<f64> = complexes(ops[0]).iter().map(|c| c.im).collect();
    Ok(vec![lit(&out[0], &v)?])
}

pub fn conjugate(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let v: Vec<_> = complexes(ops[0]).iter().map(|c| c.conj()).collect();
    Ok(vec![complex_lit(&out[0], &v)?])
}
