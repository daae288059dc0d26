//! Quantization as MLX names it (`mlx/ops.cpp`): `quantize`, `dequantize`,
//! `quantized_matmul` and `gather_qmm`, lowered to `tensor.quantize`,
//! `tensor.dequantize`, `tensor.quantized_matmul` and `tensor.gather_qmm`.
//!
//! Affine mode packs groups of `group_size` (32, 64 or 128) elements of the
//! last axis to `bits` (2, 3, 4, 5, 6 or 8) with one scale and bias per
//! group, bit for bit as MLX; `mxfp4`, `mxfp8` and `nvfp4` take u8 scales
//! and no biases. [`QuantMode`] gives MLX's defaults for each mode (affine:
//! group 64, 4 bits; mxfp4: 32, 4; mxfp8: 32, 8; nvfp4: 16, 4) when
//! `group_size` or `bits` is `None`.

use super::shape::try_reshape;
use super::{broadcast_all, cast_to, infallible};
use crate::array::{build, build1, Array};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Opcode};

/// How values are quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QuantMode {
    /// Integers with a scale and bias per group (MLX's default).
    #[default]
    Affine,
    /// fp4 (e2m1) values with a power-of-two (e8m0) scale per 32.
    Mxfp4,
    /// fp8 (e4m3) values with a power-of-two scale per 32.
    Mxfp8,
    /// fp4 values with an e4m3 scale per 16.
    Nvfp4,
}

impl QuantMode {
    /// MLX's mode string.
    pub fn name(self) -> &'static str {
        match self {
            QuantMode::Affine => "affine",
            QuantMode::Mxfp4 => "mxfp4",
            QuantMode::Mxfp8 => "mxfp8",
            QuantMode::Nvfp4 => "nvfp4",
        }
    }

    /// Parses MLX's mode string.
    pub fn parse(s: &str) -> Result<QuantMode, Error> {
        Ok(match s {
            "affine" => QuantMode::Affine,
            "mxfp4" => QuantMode::Mxfp4,
            "mxfp8" => QuantMode::Mxfp8,
            "nvfp4" => QuantMode::Nvfp4,
            other => {
                return Err(Error::new(
                    "quantize",
                    format!(
                    "invalid quantization mode {other:?}: expected affine, mxfp4, mxfp8 or nvfp4"
                ),
                ))
            }
        })
    }

    /// `(group_size, bits)` with MLX's defaults for the missing ones.
    pub fn params(self, group_size: Option<i32>, bits: Option<i32>) -> (i32, i32) {
        let (g, b) = match self {
            QuantMode::Affine => (64, 4),
            QuantMode::Mxfp4 => (32, 4),
            QuantMode::Mxfp8 => (32, 8),
            QuantMode::Nvfp4 => (16, 4),
        };
        (group_size.unwrap_or(g), bits.unwrap_or(b))
    }
}

fn qattrs(mode: QuantMode, group_size: i32, bits: i32) -> Attrs {
    Attrs::new()
        .with("group_size", Attr::Int(group_size as i64))
        .with("bits", Attr::Int(bits as i64))
        .with("mode", Attr::Str(mode.name().into()))
}

/// Checks scales and biases for `mode`; gives the dtype they imply (the
/// promoted scales/biases dtype for affine, bf16 for the fp modes).
fn validate_mode(
    op: &str,
    scales: &Array,
    biases: Option<&Array>,
    mode: QuantMode,
) -> Result<DType, Error> {
    scales.check()?;
    if mode == QuantMode::Affine {
        let b = biases
            .ok_or_else(|| Error::new(op, "biases must be provided for affine quantization"))?;
        b.check()?;
        let d = scales.dtype().promote(b.dtype());
        if !d.is_float() {
            return Err(Error::new(
                op,
                format!(
                    "only real floating types are supported but scales.dtype() == {} and biases.dtype() == {}",
                    scales.dtype(),
                    b.dtype()
                ),
            ));
        }
        return Ok(d);
    }
    if scales.dtype() != DType::U8 {
        return Err(Error::new(
            op,
            format!(
                "scale type must be uint8 but received type {}",
                scales.dtype()
            ),
        ));
    }
    if biases.is_some() {
        return Err(Error::new(
            op,
            format!(
                "biases must be null for quantization mode '{}'",
                mode.name()
            ),
        ));
    }
    Ok(DType::BF16)
}

/// Quantizes `w` (at least 2-d, float) along its last axis: the packed u32
/// matrix, the scales and (affine only) the biases, as MLX's `quantize`.
pub fn try_quantize(
    w: &Array,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
) -> Result<Vec<Array>, Error> {
    let op = "quantize";
    w.check()?;
    let (gs, bits) = mode.params(group_size, bits);
    if !w.dtype().is_float() {
        return Err(Error::new(
            op,
            format!(
                "only real floating types can be quantized but w has type {}",
                w.dtype()
            ),
        ));
    }
    if w.ndim() < 2 {
        return Err(Error::new(
            op,
            format!(
                "the matrix to be quantized must have at least 2 dimensions but it has only {}",
                w.ndim()
            ),
        ));
    }
    if gs <= 0 || w.shape()[w.ndim() - 1] % gs as i64 != 0 {
        return Err(Error::new(
            op,
            format!(
                "the last dimension of the matrix needs to be divisible by the quantization group size {gs}, but the matrix has shape {}",
                shape_str(w.shape())
            ),
        ));
    }
    build(
        op,
        Opcode::Quantize,
        vec![w.clone()],
        qattrs(mode, gs, bits),
    )
}

/// The inverse of [`try_quantize`]: u32 `w` with its scales (and affine
/// biases) back to floats. Affine gives the scales' dtype, the fp modes
/// bf16, unless `dtype` asks otherwise (MLX's `dequantize`).
pub fn try_dequantize(
    w: &Array,
    scales: &Array,
    biases: Option<&Array>,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
    dtype: Option<DType>,
) -> Result<Array, Error> {
    let op = "dequantize";
    w.check()?;
    let implied = validate_mode(op, scales, biases, mode)?;
    if let Some(d) = dtype {
        if !d.is_float() {
            return Err(Error::new(
                op,
                format!("only real floating types are supported but output dtype == {d}"),
            ));
        }
    }
    let (gs, bits) = mode.params(group_size, bits);
    if w.dtype() != DType::U32 {
        return Err(Error::new(op, "the matrix should be given as a uint32"));
    }
    if w.ndim() < 2 {
        return Err(Error::new(
            op,
            format!(
                "the matrix to be dequantized must have at least 2 dimensions but it has only {}",
                w.ndim()
            ),
        ));
    }
    let attrs = qattrs(mode, gs, bits);
    if mode == QuantMode::Affine {
        let (s, b) = (
            cast_to(op, scales, implied)?,
            cast_to(op, need_biases(op, biases)?, implied)?,
        );
        let r = build1(op, Opcode::Dequantize, vec![w.clone(), s, b], attrs)?;
        return cast_to(op, &r, dtype.unwrap_or(implied));
    }
    let out = dtype.unwrap_or(implied);
    build1(
        op,
        Opcode::Dequantize,
        vec![w.clone(), scales.clone()],
        attrs.with("dtype", Attr::DType(out)),
    )
}

fn need_biases<'a>(op: &str, b: Option<&'a Array>) -> Result<&'a Array, Error> {
    b.ok_or_else(|| Error::new(op, "biases must be provided for affine quantization"))
}

fn qmm_dtype(op: &str, x: &Array, implied: DType, mode: QuantMode) -> Result<DType, Error> {
    x.check()?;
    let d = if mode == QuantMode::Affine {
        x.dtype().promote(implied)
    } else {
        x.dtype()
    };
    if !d.is_float() {
        return Err(Error::new(
            op,
            format!(
                "only real floating types are supported but x.dtype() == {}",
                x.dtype()
            ),
        ));
    }
    Ok(d)
}

/// `x @ dequantize(w)^T` (or `x @ dequantize(w)` with `transpose = false`)
/// without materializing the dequantized weight (MLX's `quantized_matmul`;
/// default `transpose = true`).
pub fn try_quantized_matmul(
    x: &Array,
    w: &Array,
    scales: &Array,
    biases: Option<&Array>,
    transpose: bool,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
) -> Result<Array, Error> {
    let op = "quantized_matmul";
    w.check()?;
    let implied = validate_mode(op, scales, biases, mode)?;
    let (gs, bits) = mode.params(group_size, bits);
    let d = qmm_dtype(op, x, implied, mode)?;
    let mut inputs = vec![cast_to(op, x, d)?, w.clone()];
    if mode == QuantMode::Affine {
        inputs.push(cast_to(op, scales, d)?);
        inputs.push(cast_to(op, need_biases(op, biases)?, d)?);
    } else {
        inputs.push(scales.clone());
    }
    if x.ndim() > 2 && w.ndim() > 2 {
        inputs = broadcast_batch(op, inputs)?;
    }
    build1(
        op,
        Opcode::QuantizedMatmul,
        inputs,
        qattrs(mode, gs, bits).with("transpose", Attr::Bool(transpose)),
    )
}

/// Broadcasts the batch axes (all but the last two) of every operand.
fn broadcast_batch(op: &str, xs: Vec<Array>) -> Result<Vec<Array>, Error> {
    let batches: Vec<&[i64]> = xs.iter().map(|a| &a.shape()[..a.ndim() - 2]).collect();
    let batch = super::broadcast_shape_of(op, &batches)?;
    xs.iter()
        .map(|a| {
            let mut s = batch.clone();
            s.extend_from_slice(&a.shape()[a.ndim() - 2..]);
            super::broadcast_to_shape(op, a, &s, &[])
        })
        .collect()
}

/// Default gather indices: every batch matrix of `x` in order.
fn indices_or_default(op: &str, idx: Option<&Array>, x: &Array) -> Result<Array, Error> {
    if x.ndim() < 2 {
        return Err(Error::new(
            op,
            format!(
                "input must have at least two dimensions but got input with shape {}",
                shape_str(x.shape())
            ),
        ));
    }
    if let Some(i) = idx {
        i.check()?;
        if !i.dtype().is_integral() || i.dtype() == DType::Bool {
            return Err(Error::new(
                op,
                "got indices with invalid dtype: indices must be integral",
            ));
        }
        return cast_to(op, i, DType::U32);
    }
    let shape: Vec<i32> = x.shape()[..x.ndim() - 2]
        .iter()
        .map(|&d| d as i32)
        .collect();
    let total: i32 = shape.iter().product();
    let r = super::creation::try_arange_dtype(0.0, total as f64, 1.0, DType::U32)?;
    try_reshape(&r, &shape)
}

/// Quantized matmul of gathered batch matrices: for each position of the
/// (broadcast) indices, `x[lhs] @ dequantize(w[rhs])^T` (MLX's
/// `gather_qmm`); missing indices take every batch matrix in order, and
/// with neither it is [`try_quantized_matmul`].
#[allow(clippy::too_many_arguments)]
pub fn try_gather_qmm(
    x: &Array,
    w: &Array,
    scales: &Array,
    biases: Option<&Array>,
    lhs_indices: Option<&Array>,
    rhs_indices: Option<&Array>,
    transpose: bool,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
) -> Result<Array, Error> {
    if lhs_indices.is_none() && rhs_indices.is_none() {
        return try_quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode);
    }
    let op = "gather_qmm";
    w.check()?;
    let implied = validate_mode(op, scales, biases, mode)?;
    let (gs, bits) = mode.params(group_size, bits);
    let d = qmm_dtype(op, x, implied, mode)?;
    let l = indices_or_default(op, lhs_indices, x)?;
    let r = indices_or_default(op, rhs_indices, w)?;
    let lr = broadcast_all(op, &[l, r])?;
    let mut inputs = vec![cast_to(op, x, d)?, w.clone()];
    if mode == QuantMode::Affine {
        inputs.push(cast_to(op, scales, d)?);
        inputs.push(cast_to(op, need_biases(op, biases)?, d)?);
    } else {
        inputs.push(scales.clone());
    }
    inputs.extend(lr);
    build1(
        op,
        Opcode::GatherQmm,
        inputs,
        qattrs(mode, gs, bits).with("transpose", Attr::Bool(transpose)),
    )
}

infallible! {
    /// See [`try_dequantize`].
    fn dequantize = try_dequantize(w: &Array, scales: &Array, biases: Option<&Array>, group_size: Option<i32>, bits: Option<i32>, mode: QuantMode, dtype: Option<DType>);
    /// See [`try_quantized_matmul`].
    fn quantized_matmul = try_quantized_matmul(x: &Array, w: &Array, scales: &Array, biases: Option<&Array>, transpose: bool, group_size: Option<i32>, bits: Option<i32>, mode: QuantMode);
    /// See [`try_gather_qmm`].
    fn gather_qmm = try_gather_qmm(x: &Array, w: &Array, scales: &Array, biases: Option<&Array>, lhs_indices: Option<&Array>, rhs_indices: Option<&Array>, transpose: bool, group_size: Option<i32>, bits: Option<i32>, mode: QuantMode);
}

/// See [`try_quantize`]; on failure every result carries the error (three
/// results for affine, two for the fp modes).
pub fn quantize(
    w: &Array,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
) -> Vec<Array> {
    match try_quantize(w, group_size, bits, mode) {
        Ok(r) => r,
        Err(e) => {
            let n = if mode == QuantMode::Affine { 3 } else { 2 };
            vec![Array::from_error(e); n]
        }
    }
}
