//! `tensor.conv_general`: MLX's general convolution, channels last.
//!
//! Input (N, spatial..., C), weight (O, kernel spatial..., C/groups), result
//! (N, out spatial..., O). The input is dilated by `input_dilation` (zeros
//! between elements, which is how MLX expresses transposed convolutions),
//! padded by `padding_lo`/`padding_hi`, and correlated with the kernel dilated
//! by `kernel_dilation` at `kernel_strides`; `flip` reverses the kernel along
//! every spatial axis. Direct loops in f64: for each output position the
//! contributing input positions come from per-axis tables built once.

use super::{dims, lit, Res};
use psionic_ir::{Attrs, Literal, TensorType};

/// For one spatial axis: `table[p * k_len + k]` is the input index that
/// kernel tap `k` reads at output position `p`, if it lands on a real
/// (non-padding, non-dilation-hole) element.
#[allow(clippy::too_many_arguments)]
fn axis_table(
    in_len: usize,
    out_len: usize,
    k_len: usize,
    stride: i64,
    lo: i64,
    kdil: i64,
    idil: i64,
) -> Vec<Option<usize>> {
    let dilated = if in_len == 0 {
        0
    } else {
        (in_len as i64 - 1) * idil + 1
    };
    let mut t = Vec::with_capacity(out_len * k_len);
    for p in 0..out_len as i64 {
        for k in 0..k_len as i64 {
            let pos = p * stride + k * kdil - lo;
            t.push(if pos < 0 || pos >= dilated || pos % idil != 0 {
                None
            } else {
                Some((pos / idil) as usize)
            });
        }
    }
    t
}

/// Row-major multi-index of `flat` over `shape`.
fn unravel(mut flat: usize, shape: &[usize], out: &mut [usize]) {
    for a in (0..shape.len()).rev() {
        out[a] = flat % shape[a];
        flat /= shape[a];
    }
}

pub fn conv_general(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let (x, w) = (ops[0], ops[1]);
    let (xs, ws) = (x.shape(), w.shape());
    let os = dims(&out[0])?;
    let sd = xs.len() - 2;
    let strides = attrs.ints("kernel_strides")?;
    let lo = attrs.ints("padding_lo")?;
    let kdil = attrs.ints("kernel_dilation")?;
    let idil = attrs.ints("input_dilation")?;
    let groups = attrs.int("groups")? as usize;
    let flip = attrs.bool("flip")?;
    let (n, c) = (xs[0], xs[sd + 1]);
    let (o, cg) = (ws[0], ws[sd + 1]);
    let og = o / groups;
    let in_sp = &xs[1..=sd];
    let k_sp = &ws[1..=sd];
    let out_sp = &os[1..=sd];
    let tables: Vec<Vec<Option<usize>>> = (0..sd)
        .map(|a| {
            axis_table(
                in_sp[a], out_sp[a], k_sp[a], strides[a], lo[a], kdil[a], idil[a],
            )
        })
        .collect();
    let out_count: usize = out_sp.iter().product();
    let k_count: usize = k_sp.iter().product();
    let in_count: usize = in_sp.iter().product();
    let xv = x.to_f64_vec();
    let wv = w.to_f64_vec();
    let mut res = vec![0.0; n * out_count * o];
    let mut p_idx = vec![0; sd];
    let mut k_idx = vec![0; sd];
    // Input spatial offset for each (output position, kernel tap), if real.
    let mut taps: Vec<(usize, usize)> = Vec::with_capacity(k_count);
    for p in 0..out_count {
        unravel(p, out_sp, &mut p_idx);
        taps.clear();
        for k in 0..k_count {
            unravel(k, k_sp, &mut k_idx);
            let mut flat = 0;
            let mut ok = true;
            for a in 0..sd {
                match tables[a][p_idx[a] * k_sp[a] + k_idx[a]] {
                    Some(i) => flat = flat * in_sp[a] + i,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                // The weight tap used: reversed along every axis when flipping.
                let wk = if flip { k_count - 1 - k } else { k };
                taps.push((flat, wk));
            }
        }
        for b in 0..n {
            let dst = &mut res[(b * out_count + p) * o..][..o];
            for &(xi, wk) in &taps {
                let xrow = &xv[(b * in_count + xi) * c..][..c];
                for (oc, d) in dst.iter_mut().enumerate() {
                    let g = oc / og.max(1);
                    let wrow = &wv[(oc * k_count + wk) * cg..][..cg];
                    let xg = &xrow[g * cg..][..cg];
                    *d += xg.iter().zip(wrow).map(|(a, b)| a * b).sum::<f64>();
                }
            }
        }
    }
    Ok(vec![lit(&out[0], &res)?])
}
