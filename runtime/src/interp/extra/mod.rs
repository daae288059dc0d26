//! Interpreter kernels for the "MLX extras" rows of the op table
//! (`psionic_ir::ops`, section `MLX extras`), split by family.
//!
//! [`eval`] is the single entry point: the core interpreter calls it for any
//! op it does not implement and gets `None` back for ops that are not extras.
//! Every kernel first runs the op's shape rule on the concrete operand types,
//! so kernels index only into operands the rule accepted. Kernels compute in
//! f64 (or f32 where MLX's bits must be matched exactly: quantization, random
//! bits) and round once to the result dtype.

mod conv;
mod fast;
mod fft;
mod linalg;
mod misc;
mod quant;
mod random;

use num_complex::Complex64;
use psionic_ir::ops::infer_types;
use psionic_ir::{Attrs, DType, Literal, Opcode, TensorType};

type Res = Result<Vec<Literal>, String>;

/// Evaluates one MLX-extras op on concrete operands. `None` when `opcode` is
/// not one of the extras; otherwise the results, or a message naming what is
/// wrong (bad operands, unsupported mode, a failed factorization...).
pub fn eval(
    opcode: Opcode,
    attrs: &Attrs,
    operands: &[&Literal],
) -> Option<Result<Vec<Literal>, String>> {
    use Opcode as O;
    let kernel: fn(&Attrs, &[&Literal], &[TensorType]) -> Res = match opcode {
        O::ConvGeneral => conv::conv_general,
        O::Fft => fft::fft,
        O::Qr => linalg::qr,
        O::Svd => linalg::svd,
        O::Inverse => linalg::inverse,
        O::Cholesky => linalg::cholesky,
        O::Eigh => linalg::eigh,
        O::Eig => linalg::eig,
        O::Quantize => quant::quantize,
        O::Dequantize => quant::dequantize,
        O::QuantizedMatmul => quant::quantized_matmul,
        O::GatherQmm => quant::gather_qmm,
        O::GatherMm => misc::gather_mm,
        O::BlockMaskedMm => misc::block_masked_mm,
        O::RandomBits => random::random_bits,
        O::RmsNorm => fast::rms_norm,
        O::RmsNormVjp => fast::rms_norm_vjp,
        O::LayerNorm => fast::layer_norm,
        O::LayerNormVjp => fast::layer_norm_vjp,
        O::Rope => fast::rope,
        O::Sdpa => fast::sdpa,
        O::Hadamard => fast::hadamard,
        O::AsStrided => misc::as_strided,
        O::SearchSorted => misc::search_sorted,
        O::MaskedScatter => misc::masked_scatter,
        O::Depends => misc::depends,
        O::Real => misc::real,
        O::Imag => misc::imag,
        O::Conjugate => misc::conjugate,
        _ => return None,
    };
    let types: Vec<TensorType> = operands.iter().map(|l| l.ty()).collect();
    let refs: Vec<&TensorType> = types.iter().collect();
    Some(infer_types(opcode, &refs, attrs).and_then(|out| kernel(attrs, operands, &out)))
}

/// The static shape of an inferred result type (operands are concrete, so
/// every result dimension is too).
fn dims(t: &TensorType) -> Result<Vec<usize>, String> {
    t.static_shape()
        .ok_or_else(|| format!("result type {t} is not static"))
}

/// A literal of `t`'s dtype and shape from f64 values (one rounding).
fn lit(t: &TensorType, values: &[f64]) -> Result<Literal, String> {
    Literal::from_f64(t.dtype, dims(t)?, values).map_err(|e| e.to_string())
}

/// Every element of a c64 literal (real literals give zero imaginary parts).
fn complexes(l: &Literal) -> Vec<Complex64> {
    if l.dtype() == DType::C64 {
        l.bytes()
            .chunks_exact(8)
            .map(|c| {
                let re = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let im = f32::from_le_bytes([c[4], c[5], c[6], c[7]]);
                Complex64::new(re as f64, im as f64)
            })
            .collect()
    } else {
        l.to_f64_vec()
            .into_iter()
            .map(|v| Complex64::new(v, 0.0))
            .collect()
    }
}

/// A c64 literal of shape `t` from complex values.
fn complex_lit(t: &TensorType, values: &[Complex64]) -> Result<Literal, String> {
    let mut bytes = Vec::with_capacity(values.len() * 8);
    for v in values {
        bytes.extend((v.re as f32).to_le_bytes());
        bytes.extend((v.im as f32).to_le_bytes());
    }
    Literal::from_bytes(DType::C64, dims(t)?, bytes).map_err(|e| e.to_string())
}

/// Rounds `v` to `dtype`'s precision and back (what storing it would do).
fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F16 => half::f16::from_f64(v).to_f64(),
        DType::BF16 => half::bf16::from_f64(v).to_f64(),
        DType::F32 => v as f32 as f64,
        _ => v,
    }
}

/// Maps a flat index of `out` (row-major) to the flat index of an operand of
/// shape `src` broadcast (NumPy, right-aligned) to `out`.
fn broadcast_index(flat: usize, out: &[usize], src: &[usize]) -> usize {
    let mut rem = flat;
    let mut idx = 0;
    let mut stride = 1;
    let off = out.len() - src.len();
    for ax in (0..out.len()).rev() {
        let i = rem % out[ax].max(1);
        rem /= out[ax].max(1);
        if ax >= off {
            let s = src[ax - off];
            if s != 1 {
                idx += i * stride;
            }
            stride *= s;
        }
    }
    idx
}

/// Row-major matrix product of `a` (m x k) and `b` (k x n), in f64.
fn matmul_f64(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p];
            let row = &b[p * n..(p + 1) * n];
            for (o, &y) in out[i * n..(i + 1) * n].iter_mut().zip(row) {
                *o += x * y;
            }
        }
    }
    out
}
