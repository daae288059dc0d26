//! Kernels of MLX's `fast` primitives: `tensor.rms_norm`, `tensor.layer_norm`
//! and their vjps, `tensor.rope`, `tensor.sdpa`, and `tensor.hadamard`.
//!
//! Each follows the fallback MLX evaluates on CPU (`mlx/fast.cpp`): the
//! normalizations accumulate in f32 or wider and round to the input dtype
//! before applying the weight and bias; everything here accumulates in f64.

use super::{broadcast_index, dims, lit, round_to, Res};
use psionic_ir::{Attrs, DType, Literal, TensorType};

/// Rows of the last axis: (number of rows, row length).
fn rows(x: &Literal) -> (usize, usize) {
    let d = *x.shape().last().unwrap_or(&1);
    (x.num_elements().checked_div(d).unwrap_or(0), d)
}

/// A weight-like operand (0-d or 1-d) as a per-feature lookup.
fn param(p: &Literal, d: usize) -> Vec<f64> {
    let v = p.to_f64_vec();
    if p.shape().is_empty() {
        vec![v[0]; d]
    } else {
        v
    }
}

fn eps(attrs: &Attrs) -> Result<f64, String> {
    // MLX stores eps as f32.
    Ok(attrs.float("eps")? as f32 as f64)
}

pub fn rms_norm(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let eps = eps(attrs)?;
    let (x, dt) = (ops[0].to_f64_vec(), out[0].dtype);
    let (n, d) = rows(ops[0]);
    let w = param(ops[1], d);
    let mut res = Vec::with_capacity(x.len());
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let ms = row.iter().map(|v| v * v).sum::<f64>() / d as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        res.extend(row.iter().zip(&w).map(|(v, w)| round_to(dt, v * inv) * w));
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn rms_norm_vjp(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let eps = eps(attrs)?;
    let (x, g) = (ops[0].to_f64_vec(), ops[2].to_f64_vec());
    let (n, d) = rows(ops[0]);
    let w = param(ops[1], d);
    let mut dx = Vec::with_capacity(x.len());
    let mut dw = vec![0.0; d];
    for r in 0..n {
        let (xr, gr) = (&x[r * d..(r + 1) * d], &g[r * d..(r + 1) * d]);
        let inv = 1.0 / (xr.iter().map(|v| v * v).sum::<f64>() / d as f64 + eps).sqrt();
        let t = (0..d).map(|i| gr[i] * w[i] * xr[i]).sum::<f64>() / d as f64;
        for i in 0..d {
            dx.push(gr[i] * w[i] * inv - xr[i] * t * inv.powi(3));
            dw[i] += gr[i] * xr[i] * inv;
        }
    }
    let dw = if ops[1].shape().is_empty() {
        vec![0.0]
    } else {
        dw
    };
    Ok(vec![lit(&out[0], &dx)?, lit(&out[1], &dw)?])
}

fn mean_var(row: &[f64]) -> (f64, f64) {
    let d = row.len() as f64;
    let mu = row.iter().sum::<f64>() / d;
    let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / d;
    (mu, var)
}

pub fn layer_norm(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let eps = eps(attrs)?;
    let (x, dt) = (ops[0].to_f64_vec(), out[0].dtype);
    let (n, d) = rows(ops[0]);
    let (w, b) = (param(ops[1], d), param(ops[2], d));
    let mut res = Vec::with_capacity(x.len());
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let (mu, var) = mean_var(row);
        let inv = 1.0 / (var + eps).sqrt();
        for i in 0..d {
            res.push(round_to(dt, round_to(dt, (row[i] - mu) * inv) * w[i]) + b[i]);
        }
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn layer_norm_vjp(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let eps = eps(attrs)?;
    let (x, g) = (ops[0].to_f64_vec(), ops[3].to_f64_vec());
    let (n, d) = rows(ops[0]);
    let w = param(ops[1], d);
    let mut dx = Vec::with_capacity(x.len());
    let (mut dw, mut db) = (vec![0.0; d], vec![0.0; d]);
    for r in 0..n {
        let (xr, gr) = (&x[r * d..(r + 1) * d], &g[r * d..(r + 1) * d]);
        let (mu, var) = mean_var(xr);
        let inv = 1.0 / (var + eps).sqrt();
        let wg: Vec<f64> = (0..d).map(|i| w[i] * gr[i]).collect();
        let mean_wg = wg.iter().sum::<f64>() / d as f64;
        let mean_wgxc = (0..d).map(|i| wg[i] * (xr[i] - mu)).sum::<f64>() / d as f64;
        for i in 0..d {
            let xc = xr[i] - mu;
            dx.push((wg[i] - mean_wg) * inv - xc * mean_wgxc * inv.powi(3));
            dw[i] += gr[i] * xc * inv;
            db[i] += gr[i];
        }
    }
    let dw = if ops[1].shape().is_empty() {
        vec![0.0]
    } else {
        dw
    };
    let db = if ops[2].shape().is_empty() {
        vec![0.0]
    } else {
        db
    };
    Ok(vec![
        lit(&out[0], &dx)?,
        lit(&out[1], &dw)?,
        lit(&out[2], &db)?,
    ])
}

pub fn rope(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let dims_rot = attrs.int("dims")? as usize;
    let traditional = attrs.bool("traditional")?;
    let base = attrs.float("base")? as f32 as f64;
    let scale = attrs.float("scale")? as f32 as f64;
    let forward = attrs.bool("forward")?;
    let x = ops[0];
    let dt = x.dtype();
    let xs = x.shape();
    let r = xs.len();
    let (t_len, d) = (xs[r - 2], xs[r - 1]);
    let batch = xs[0];
    let offsets = ops[1].to_i64_vec();
    let half = dims_rot / 2;
    let inv_freqs: Vec<f64> = match ops.get(2) {
        Some(f) => f.to_f64_vec().iter().map(|v| 1.0 / v).collect(),
        None => (0..half)
            .map(|j| (-(j as f64) * (base.ln() / half as f64)).exp())
            .collect(),
    };
    let xv = x.to_f64_vec();
    let mut res = xv.clone();
    let per_batch = xv.len().checked_div(batch).unwrap_or(0);
    let rows = xv.len().checked_div(d).unwrap_or(0);
    for row in 0..rows {
        let b = (row * d).checked_div(per_batch).unwrap_or(0);
        let t = row % t_len.max(1);
        let off = if offsets.len() == 1 {
            offsets[0]
        } else {
            offsets[b]
        };
        let pos = (t as f64 + off as f64) * scale;
        let base_i = row * d;
        for (j, &inv_freq) in inv_freqs.iter().enumerate() {
            let theta = pos * inv_freq;
            let (c, s) = (round_to(dt, theta.cos()), round_to(dt, theta.sin()));
            let (i1, i2) = if traditional {
                (base_i + 2 * j, base_i + 2 * j + 1)
            } else {
                (base_i + j, base_i + half + j)
            };
            let (x1, x2) = (xv[i1], xv[i2]);
            if forward {
                res[i1] = x1 * c - x2 * s;
                res[i2] = x1 * s + x2 * c;
            } else {
                res[i1] = x2 * s + x1 * c;
                res[i2] = x2 * c - x1 * s;
            }
        }
    }
    Ok(vec![lit(&out[0], &res)?])
}

/// The most negative finite value of a float dtype (MLX's `finfo.min`).
fn finfo_min(d: DType) -> f64 {
    match d {
        DType::F16 => half::f16::MIN.to_f64(),
        DType::BF16 => half::bf16::MIN.to_f64(),
        DType::F64 => f64::MIN,
        _ => f32::MIN as f64,
    }
}

pub fn sdpa(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let scale = attrs.float("scale")? as f32 as f64;
    let causal = attrs.bool("do_causal")?;
    let has_sinks = attrs.bool("has_sinks")?;
    let (q, k, v) = (ops[0], ops[1], ops[2]);
    let dt = q.dtype();
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    let (b, hq, lq, dk) = (qs[0], qs[1], qs[2], qs[3]);
    let (hk, lk, dv) = (ks[1], ks[2], vs[3]);
    let rep = hq.checked_div(hk).unwrap_or(1);
    let mask = if ops.len() > 3 + usize::from(has_sinks) {
        Some(ops[3])
    } else {
        None
    };
    let mask_v = mask.map(|m| (m.to_f64_vec(), m.shape().to_vec(), m.dtype().is_bool()));
    let sinks = if has_sinks {
        Some(ops[ops.len() - 1].to_f64_vec())
    } else {
        None
    };
    let (qv, kv, vv) = (q.to_f64_vec(), k.to_f64_vec(), v.to_f64_vec());
    let full = [b, hq, lq, lk];
    let mut res = vec![0.0; b * hq * lq * dv];
    let mut lse = vec![0.0; b * hq * lq];
    let min = finfo_min(dt);
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / rep;
            for i in 0..lq {
                let qrow = &qv[((bi * hq + h) * lq + i) * dk..][..dk];
                let mut logits: Vec<f64> = (0..lk)
                    .map(|j| {
                        let krow = &kv[((bi * hk + kh) * lk + j) * dk..][..dk];
                        let s: f64 = qrow
                            .iter()
                            .zip(krow)
                            .map(|(a, c)| round_to(dt, a * scale) * c)
                            .sum();
                        let s = round_to(dt, s);
                        if causal && i + lk < j + lq {
                            return min;
                        }
                        match &mask_v {
                            Some((m, shape, is_bool)) => {
                                let flat = ((bi * hq + h) * lq + i) * lk + j;
                                let mv = m[broadcast_index(flat, &full, shape)];
                                if *is_bool {
                                    if mv != 0.0 {
                                        s
                                    } else {
                                        min
                                    }
                                } else {
                                    s + mv
                                }
                            }
                            None => s,
                        }
                    })
                    .collect();
                if let Some(sk) = &sinks {
                    logits.insert(0, sk[h]);
                }
                let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
                let sum: f64 = exps.iter().sum();
                let first = usize::from(has_sinks);
                let o = &mut res[((bi * hq + h) * lq + i) * dv..][..dv];
                for (j, e) in exps[first..].iter().enumerate() {
                    let p = round_to(dt, e / sum);
                    let vrow = &vv[((bi * hk + kh) * lk + j) * dv..][..dv];
                    for (oo, x) in o.iter_mut().zip(vrow) {
                        *oo += p * x;
                    }
                }
                lse[(bi * hq + h) * lq + i] = mx + sum.ln();
            }
        }
    }
    let mut outs = vec![lit(&out[0], &res)?];
    if out.len() > 1 {
        outs.push(lit(&out[1], &lse)?);
    }
    Ok(outs)
}

const H12: &str = "+-++++++++++--+-+-+-+-+-+++-++----+++---+--+-++-+++++-++----+-+---+--+-+++--+++-++--+--++---+--+++----+++-+++--+-++---+-++++----+++-+-+--+-++---";
const H20: &str = "+----+----++--++-++--+----+---+++---+-++--+----+---+++-+-+-+---+----+---+++++-+-----+----++--++-++-+-+++++-----+--+++--++-+++-+---+-+--+++--++-++--+---+-+--+++-+++-+---+---+-+--+++++++-----++--+-+--++--++-+-++-+-----++++---++-+-++-+---+-++++---++-+-+--+--++-++++---++-+----+-+++-+-++---++-+----+++++--+--+--++-+----+----+-+-----++-+----+----+-+-+---+--+----+----+-+++------+----+-+--+--++------+----+";
const H28: &str = "+------++----++-+--+-+--++---+-----+++-----+-+--+-+--++---+-----+++---+-+-+----+--++---+-----+++---+-+-+-+--+--+----+-----+++---+-+-+++--+-------+-----++++--+-+--++--+-------++----++-+--+-+--++--+--++++-+-------++--+++-+--+----++++-+-----+-++--+-+-+--++---+++--+----++-++--+-+-+--++---++---+----++-++--+-+-+-+++---+----+----++-++--+-+-+++++--------+-+--++-++--+-+--++++--------+++--++--+--+-+-+-++-++--++--+--------++++-+-+-++--+--++--+--------++++-+-+-++--+--++--+----+---++++-+-+-++--+--+---+---++---++++-+-+-++--+------+--+++---+-++-+-+-++--+------+-++++---+-++-+---++--+------+-++++---++--++-+-++-+++----++------+-++--++-+-++-+++-----+-----++-++---+-+-++-+++-----+-----++-++-+-+-+-+--+++-----+-----++-++++-+-+----+++-----+--+--++-+-++-+-+----+++-----+-++--++-+-++-+-+----++------+";

pub fn hadamard(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let scale = attrs.float("scale")? as f32 as f64;
    let x = ops[0];
    let len = *x.shape().last().unwrap_or(&1);
    let (m, hm) = match [(12, H12), (20, H20), (28, H28)]
        .iter()
        .find(|(m, _)| !len.is_power_of_two() && len.is_multiple_of(*m))
    {
        Some(&(m, h)) => (m, Some(h.as_bytes())),
        None => (1, None),
    };
    let n = len / m;
    let mut v = x.to_f64_vec();
    for row in v.chunks_mut(len.max(1)) {
        // The 2^k transform on each contiguous block of n (Sylvester order).
        for block in row.chunks_mut(n.max(1)) {
            let mut h = 1;
            while h < n {
                for i in (0..n).step_by(2 * h) {
                    for j in i..i + h {
                        let (a, c) = (block[j], block[j + h]);
                        block[j] = a + c;
                        block[j + h] = a - c;
                    }
                }
                h *= 2;
            }
        }
        // The m-point transform across blocks: element i of block j.
        if let Some(hm) = hm {
            let mut tmp = vec![0.0; m];
            for i in 0..n {
                for (j, t) in tmp.iter_mut().enumerate() {
                    *t = (0..m)
                        .map(|k| {
                            if hm[j * m + k] == b'+' {
                                row[i + k * n]
                            } else {
                                -row[i + k * n]
                            }
                        })
                        .sum();
                }
                for (j, t) in tmp.iter().enumerate() {
                    row[i + j * n] = *t;
                }
            }
        }
        for e in row.iter_mut() {
            *e *= scale;
        }
    }
    let _ = dims(&out[0])?;
    Ok(vec![lit(&out[0], &v)?])
}
