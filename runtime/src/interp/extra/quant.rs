//! Quantization kernels: `tensor.quantize`, `tensor.dequantize`,
//! `tensor.quantized_matmul` and `tensor.gather_qmm`.
//!
//! Affine mode matches MLX's CPU kernels bit for bit: `fast::Quantize::eval_cpu`
//! computes per group in f32 with `rint` (ties to even), and dequantization is
//! `round(round(q * scale) + bias)` in the scale dtype, as MLX's fallback.
//! Packed weights are a little-endian bit stream along the last axis (element
//! `i` of a row at bit `i * bits`), which is MLX's layout for every bit width:
//! u32 words for 2/4/8 bits, 3- or 5-byte packs of 8 elements for 3/5 bits and
//! 3-byte packs of 4 elements for 6 bits.
//!
//! The microscaling modes (`mxfp4`, `mxfp8`, `nvfp4`, without a global
//! scale) dequantize and multiply as MLX's fallback does; quantizing to them
//! is refused with a message.

use super::{broadcast_index, dims, lit, matmul_f64, round_to, Res};
use psionic_ir::infer_extra::quant_params;
use psionic_ir::literal::read_f64;
use psionic_ir::{Attrs, DType, Literal, TensorType};

pub fn quantize(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let (gs, bits, mode) = quant_params(attrs)?;
    if mode != "affine" {
        return Err(format!(
            "the interpreter quantizes in affine mode only, not {mode}"
        ));
    }
    let (gs, bits) = (gs as usize, bits as u32);
    let w = ops[0];
    let vals: Vec<f32> = w.to_f64_vec().into_iter().map(|v| v as f32).collect();
    let n_bins = ((1u32 << bits) - 1) as f32;
    let eps = 1e-7f32;
    let groups = vals.len() / gs;
    let mut packed = vec![0u8; vals.len() * bits as usize / 8];
    let mut scales = Vec::with_capacity(groups);
    let mut biases = Vec::with_capacity(groups);
    for (g, group) in vals.chunks_exact(gs).enumerate() {
        let mut w_max = f32::NEG_INFINITY;
        let mut w_min = f32::INFINITY;
        // std::max / std::min: the first argument unless the second wins a `<`.
        for &v in group {
            w_max = if w_max < v { v } else { w_max };
            w_min = if v < w_min { v } else { w_min };
        }
        let mask = w_min.abs() > w_max.abs();
        let mut scale = (w_max - w_min) / n_bins;
        scale = if scale < eps { eps } else { scale };
        if !mask {
            scale = -scale;
        }
        let edge = if mask { w_min } else { w_max };
        let q0 = (edge / scale).round_ties_even();
        let mut bias = 0f32;
        if q0 != 0.0 {
            scale = edge / q0;
            bias = edge;
        }
        for (j, &v) in group.iter().enumerate() {
            let q = ((v - bias) / scale).round_ties_even();
            let q = q.max(0.0).min(n_bins);
            // Float-to-int as C++'s static_cast (NaN gives 0 here; MLX's is UB).
            put_bits(&mut packed, (g * gs + j) * bits as usize, bits, q as u32);
        }
        scales.push(scale as f64);
        biases.push(bias as f64);
    }
    let words: Vec<u32> = packed
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let wq = Literal::from_bytes(
        DType::U32,
        dims(&out[0])?,
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .map_err(|e| e.to_string())?;
    Ok(vec![wq, lit(&out[1], &scales)?, lit(&out[2], &biases)?])
}

fn put_bits(buf: &mut [u8], bit: usize, bits: u32, v: u32) {
    for b in 0..bits as usize {
        if (v >> b) & 1 == 1 {
            let at = bit + b;
            buf[at / 8] |= 1 << (at % 8);
        }
    }
}

fn get_bits(buf: &[u8], bit: usize, bits: u32) -> u32 {
    let mut v = 0;
    for b in 0..bits as usize {
        let at = bit + b;
        v |= (((buf[at / 8] >> (at % 8)) & 1) as u32) << b;
    }
    v
}

/// The fp4 (e2m1) values, by code.
const FP4: [f64; 16] = [
    0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0,
];

/// An fp8 e4m3 (OCP, "fn": no infinities, 0x7f/0xff are NaN) code as f64.
fn e4m3(code: u8) -> f64 {
    let sign = if code & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((code >> 3) & 0xf) as i32;
    let m = (code & 0x7) as f64;
    if e == 0xf && m == 7.0 {
        return f64::NAN;
    }
    if e == 0 {
        sign * m / 8.0 * 2f64.powi(-6)
    } else {
        sign * (1.0 + m / 8.0) * 2f64.powi(e - 7)
    }
}

/// Dequantized values of a packed matrix, row-major over `w`'s shape with
/// the last axis unpacked, each rounded as MLX stores it (`dtype`).
fn dequant_values(
    w: &Literal,
    scales: &Literal,
    biases: Option<&Literal>,
    gs: usize,
    bits: u32,
    mode: &str,
    dtype: DType,
) -> Vec<f64> {
    let n = w.num_elements() * 32 / bits as usize;
    let data = w.bytes();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let q = get_bits(data, i * bits as usize, bits);
        let g = i / gs;
        let v = match mode {
            "affine" => {
                let s = scales.get_f64(g);
                let b = biases.map_or(0.0, |b| b.get_f64(g));
                round_to(dtype, round_to(dtype, q as f64 * s) + b)
            }
            _ => {
                let code = read_f64(DType::U8, &scales.bytes()[g..]) as u8;
                // e8m0 scales are 2^(code - 127) (code 255 overflows to inf
                // in f32, as in MLX's fallback); nvfp4 scales are e4m3.
                let scale = if mode == "nvfp4" {
                    e4m3(code)
                } else {
                    2f64.powi(code as i32 - 127)
                };
                let x = if bits == 4 {
                    FP4[q as usize]
                } else {
                    e4m3(q as u8)
                };
                round_to(dtype, x * scale)
            }
        };
        out.push(v);
    }
    out
}

pub fn dequantize(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let (gs, bits, mode) = quant_params(attrs)?;
    let v = dequant_values(
        ops[0],
        ops[1],
        ops.get(2).copied(),
        gs as usize,
        bits as u32,
        mode,
        out[0].dtype,
    );
    Ok(vec![lit(&out[0], &v)?])
}

/// One dequantized matrix of `w` (batch `b`): `rows x cols` as stored.
struct Dequantized {
    values: Vec<f64>,
    rows: usize,
    cols: usize,
}

fn dequant_batches(
    ops: &[&Literal],
    used: usize,
    attrs: &Attrs,
    dtype: DType,
) -> Result<(Vec<Dequantized>, Vec<usize>), String> {
    let (gs, bits, mode) = quant_params(attrs)?;
    let w = ops[1];
    let all = dequant_values(
        w,
        ops[2],
        if used == 4 { Some(ops[3]) } else { None },
        gs as usize,
        bits as u32,
        mode,
        dtype,
    );
    let ws = w.shape();
    let r = ws.len();
    let rows = ws[r - 2];
    let cols = ws[r - 1] * 32 / bits as usize;
    let per = rows * cols;
    let batch: Vec<usize> = ws[..r - 2].to_vec();
    let count: usize = batch.iter().product();
    let mats = (0..count)
        .map(|i| Dequantized {
            values: all[i * per..(i + 1) * per].to_vec(),
            rows,
            cols,
        })
        .collect();
    Ok((mats, batch))
}

/// `x (m x k) @ w` where w is stored (n, k) when `transpose`, else (k, n).
fn qmm_one(x: &[f64], w: &Dequantized, m: usize, transpose: bool) -> Vec<f64> {
    if transpose {
        let (n, k) = (w.rows, w.cols);
        let mut wt = vec![0.0; k * n];
        for i in 0..n {
            for j in 0..k {
                wt[j * n + i] = w.values[i * k + j];
            }
        }
        matmul_f64(x, &wt, m, k, n)
    } else {
        matmul_f64(x, &w.values, m, w.rows, w.cols)
    }
}

pub fn quantized_matmul(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let x = ops[0];
    let used = ops.len();
    let (mats, wbatch) = dequant_batches(ops, used, attrs, x.dtype())?;
    let transpose = attrs.bool("transpose")?;
    let xs = x.shape();
    let (m, k) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let out_shape = dims(&out[0])?;
    let n = out_shape[out_shape.len() - 1];
    let xbatch = &xs[..xs.len() - 2];
    let nb: usize = xbatch.iter().product();
    let xv = x.to_f64_vec();
    let mut res = Vec::with_capacity(nb * m * n);
    for b in 0..nb {
        let wb = broadcast_index(b, xbatch, &wbatch);
        if m * n == 0 {
            continue;
        }
        res.extend(qmm_one(
            &xv[b * m * k..(b + 1) * m * k],
            &mats[wb],
            m,
            transpose,
        ));
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn gather_qmm(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let x = ops[0];
    let used = ops.len() - 2;
    let (mats, _) = dequant_batches(ops, used, attrs, x.dtype())?;
    let transpose = attrs.bool("transpose")?;
    let (lhs, rhs) = (ops[used].to_i64_vec(), ops[used + 1].to_i64_vec());
    let xs = x.shape();
    let (m, k) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let nx: usize = xs[..xs.len() - 2].iter().product();
    let out_shape = dims(&out[0])?;
    let n = out_shape[out_shape.len() - 1];
    let xv = x.to_f64_vec();
    let mut res = Vec::with_capacity(lhs.len() * m * n);
    for (&l, &r) in lhs.iter().zip(&rhs) {
        let li = check_index(l, nx, "lhs")?;
        let ri = check_index(r, mats.len(), "rhs")?;
        if m * n == 0 {
            continue;
        }
        res.extend(qmm_one(
            &xv[li * m * k..(li + 1) * m * k],
            &mats[ri],
            m,
            transpose,
        ));
    }
    Ok(vec![lit(&out[0], &res)?])
}

/// An index into `n` batch matrices.
pub(super) fn check_index(i: i64, n: usize, what: &str) -> Result<usize, String> {
    if i >= 0 && (i as usize) < n {
        Ok(i as usize)
    } else {
        Err(format!("{what} index {i} is out of range for {n} matrices"))
    }
}
