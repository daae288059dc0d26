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
//! `quantized_matmul` and `gather_qmm` compute as MLX's CPU kernels do,
//! rounding every product and sum to the dtype in MLX's order (so f16 and
//! bf16 accumulate in f16 and bf16), and never unpack a whole weight: one
//! row (transposed) or `K_TILE` rows of one batch matrix at a time.
//!
//! The microscaling modes (`mxfp4`, `mxfp8`, `nvfp4`, without a global
//! scale) dequantize and multiply as MLX's fallback does; quantizing to them
//! is refused with a message.

use super::{broadcast_index, dims, lit, round_to, Res};
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

/// A packed matrix read element by element: value `i` (row-major over
/// `w`'s shape with the last axis unpacked) dequantized and rounded as MLX
/// stores it (`dtype`).
struct Packed<'a> {
    data: &'a [u8],
    scales: &'a Literal,
    biases: Option<&'a Literal>,
    gs: usize,
    bits: u32,
    mode: &'a str,
    dtype: DType,
}

impl Packed<'_> {
    /// The scale of group `g` (e8m0 scales are 2^(code - 127), code 255
    /// overflowing to inf in f32 as in MLX; nvfp4 scales are e4m3).
    fn raw_scale(&self, g: usize) -> f64 {
        if self.mode == "affine" {
            return self.scales.get_f64(g);
        }
        let code = read_f64(DType::U8, &self.scales.bytes()[g..]) as u8;
        if self.mode == "nvfp4" {
            e4m3(code)
        } else {
            2f64.powi(code as i32 - 127)
        }
    }

    /// The scale of group `g` as the matmul kernels hold it: in `dtype`.
    fn scale(&self, g: usize) -> f64 {
        round_to(self.dtype, self.raw_scale(g))
    }

    /// Element `i` before scaling: the integer `q` (affine) or the fp4/fp8
    /// value (exact in every float dtype).
    fn code(&self, i: usize) -> f64 {
        let q = get_bits(self.data, i * self.bits as usize, self.bits);
        match self.mode {
            "affine" => q as f64,
            _ if self.bits == 4 => FP4[q as usize],
            _ => e4m3(q as u8),
        }
    }

    /// Element `i` (row-major over `w`'s shape with the last axis unpacked)
    /// dequantized and rounded as MLX stores it (`dtype`).
    fn value(&self, i: usize) -> f64 {
        let g = i / self.gs;
        let (c, s) = (self.code(i), self.raw_scale(g));
        match self.mode {
            "affine" => {
                let b = self.biases.map_or(0.0, |b| b.get_f64(g));
                round_to(self.dtype, round_to(self.dtype, c * s) + b)
            }
            _ => round_to(self.dtype, c * s),
        }
    }
}

pub fn dequantize(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let (gs, bits, mode) = quant_params(attrs)?;
    let p = Packed {
        data: ops[0].bytes(),
        scales: ops[1],
        biases: ops.get(2).copied(),
        gs: gs as usize,
        bits: bits as u32,
        mode,
        dtype: out[0].dtype,
    };
    let n = ops[0].num_elements() * 32 / bits as usize;
    let v: Vec<f64> = (0..n).map(|i| p.value(i)).collect();
    Ok(vec![lit(&out[0], &v)?])
}

/// Rows of the contracted axis dequantized at a time: the weight is never
/// unpacked whole, only a `K_TILE x N` slice of one batch matrix.
const K_TILE: usize = 64;

/// The quantized weight of a matmul: its batch matrices, each stored
/// `rows x cols` (unpacked), contracted over `cols` when `transpose`.
struct QWeight<'a> {
    packed: Packed<'a>,
    batch: Vec<usize>,
    rows: usize,
    cols: usize,
    transpose: bool,
}

impl<'a> QWeight<'a> {
    fn new(
        ops: &[&'a Literal],
        used: usize,
        attrs: &'a Attrs,
        dtype: DType,
    ) -> Result<Self, String> {
        let (gs, bits, mode) = quant_params(attrs)?;
        let w = ops[1];
        let ws = w.shape();
        let r = ws.len();
        Ok(QWeight {
            packed: Packed {
                data: w.bytes(),
                scales: ops[2],
                biases: if used == 4 { Some(ops[3]) } else { None },
                gs: gs as usize,
                bits: bits as u32,
                mode,
                dtype,
            },
            batch: ws[..r - 2].to_vec(),
            rows: ws[r - 2],
            cols: ws[r - 1] * 32 / bits as usize,
            transpose: attrs.bool("transpose")?,
        })
    }

    fn count(&self) -> usize {
        self.batch.iter().product()
    }

    /// (K, N) of `x @ w` for one batch matrix.
    fn kn(&self) -> (usize, usize) {
        if self.transpose {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// `x (m x k) @ w[b]` with MLX's CPU kernels' arithmetic (`_qmm_t`,
    /// `_qmm`, `fp_qmm_t`, `fp_qmm` in `backend/cpu/quantized.cpp`, which
    /// are scalar loops on x86-64): every product and sum is rounded to the
    /// dtype, and each output element accumulates from 0 in `k` order.
    /// Affine: `acc += x * (scale * q + bias)`. Microscaling: transposed,
    /// `acc += scale * (sum over the group of x * v)`; otherwise
    /// `acc += x * scale * v`. (So f16 and bf16 accumulate in f16 and bf16,
    /// as MLX's do.)
    ///
    /// The weight is never unpacked whole: transposed, one row of `w` (the
    /// `k` values of one output column) at a time; otherwise `K_TILE` rows.
    fn matmul(&self, x: &[f64], b: usize, m: usize) -> Vec<f64> {
        let (k, n) = self.kn();
        let base = b * self.rows * self.cols;
        let dt = self.packed.dtype;
        let r = |v: f64| round_to(dt, v);
        let affine = self.packed.mode == "affine";
        let gs = self.packed.gs;
        let mut out = vec![0.0; m * n];
        if self.transpose {
            let mut row = vec![0.0; k];
            for j in 0..n {
                let start = base + j * self.cols;
                for (p, v) in row.iter_mut().enumerate() {
                    *v = if affine {
                        self.packed.value(start + p)
                    } else {
                        self.packed.code(start + p)
                    };
                }
                for i in 0..m {
                    let xr = &x[i * k..(i + 1) * k];
                    let dot = |xs: &[f64], ws: &[f64]| {
                        xs.iter()
                            .zip(ws)
                            .fold(0.0, |acc, (&a, &w)| r(acc + r(a * w)))
                    };
                    out[i * n + j] = if affine {
                        dot(xr, &row)
                    } else {
                        xr.chunks(gs).zip(row.chunks(gs)).enumerate().fold(
                            0.0,
                            |acc, (g, (xs, ws))| {
                                let s = self.packed.scale(start / gs + g);
                                r(acc + r(s * dot(xs, ws)))
                            },
                        )
                    };
                }
            }
            return out;
        }
        // tile[p * n + j] = w(k0 + p, j): its value (affine) or its code
        // and scale (microscaling).
        let mut tile = vec![(0.0, 0.0); K_TILE.min(k.max(1)) * n];
        let mut k0 = 0;
        while k0 < k {
            let kt = K_TILE.min(k - k0);
            for p in 0..kt {
                for j in 0..n {
                    let flat = base + (k0 + p) * self.cols + j;
                    tile[p * n + j] = if affine {
                        (self.packed.value(flat), 1.0)
                    } else {
                        (self.packed.code(flat), self.packed.scale(flat / gs))
                    };
                }
            }
            for i in 0..m {
                let row = &mut out[i * n..(i + 1) * n];
                for p in 0..kt {
                    let xv = x[i * k + k0 + p];
                    for (o, &(v, s)) in row.iter_mut().zip(&tile[p * n..(p + 1) * n]) {
                        let term = if affine { r(xv * v) } else { r(r(xv * s) * v) };
                        *o = r(*o + term);
                    }
                }
            }
            k0 += kt;
        }
        out
    }
}

pub fn quantized_matmul(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let x = ops[0];
    let w = QWeight::new(ops, ops.len(), attrs, x.dtype())?;
    let xs = x.shape();
    let (m, k) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let out_shape = dims(&out[0])?;
    let n = out_shape[out_shape.len() - 1];
    let xbatch = &xs[..xs.len() - 2];
    let nb: usize = xbatch.iter().product();
    let xv = x.to_f64_vec();
    let mut res = Vec::with_capacity(nb * m * n);
    for b in 0..nb {
        let wb = broadcast_index(b, xbatch, &w.batch);
        if m * n == 0 {
            continue;
        }
        res.extend(w.matmul(&xv[b * m * k..(b + 1) * m * k], wb, m));
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn gather_qmm(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let x = ops[0];
    let used = ops.len() - 2;
    let w = QWeight::new(ops, used, attrs, x.dtype())?;
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
        let ri = check_index(r, w.count(), "rhs")?;
        if m * n == 0 {
            continue;
        }
        res.extend(w.matmul(&xv[li * m * k..(li + 1) * m * k], ri, m));
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
