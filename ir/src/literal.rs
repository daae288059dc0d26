//! Dense tensor data: the payload of constants, and the currency between the
//! interpreter, the file formats and the frontends.
//!
//! Data is stored row-major as little-endian bytes of the dtype, so every
//! dtype (f16, bf16, c64 included) is held exactly and compared bit for bit.

use crate::dtype::DType;
use crate::types::{Dim, TensorType};
use half::{bf16, f16};
use std::sync::Arc;

/// A dense, immutable, cheaply clonable tensor value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Literal {
    dtype: DType,
    shape: Vec<usize>,
    bytes: Arc<[u8]>,
}

impl std::fmt::Debug for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Literal<{:?}x{}>", self.shape, self.dtype)?;
        if self.num_elements() <= 16 {
            write!(f, "{:?}", self.to_f64_vec())?;
        }
        Ok(())
    }
}

/// Why a literal could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiteralError(pub String);

impl std::fmt::Display for LiteralError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LiteralError {}

fn checked_len(shape: &[usize], dtype: DType) -> Result<usize, LiteralError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| LiteralError(format!("shape {shape:?} of {dtype} overflows")))
}

impl Literal {
    /// Builds a literal from raw little-endian row-major bytes.
    pub fn from_bytes(
        dtype: DType,
        shape: Vec<usize>,
        bytes: impl Into<Arc<[u8]>>,
    ) -> Result<Self, LiteralError> {
        let bytes = bytes.into();
        let want = checked_len(&shape, dtype)?;
        if bytes.len() != want {
            return Err(LiteralError(format!(
                "{} bytes given for a {dtype} tensor of shape {shape:?}, which needs {want}",
                bytes.len()
            )));
        }
        if dtype == DType::Bool && bytes.iter().any(|&b| b > 1) {
            return Err(LiteralError("bool data must be 0 or 1".into()));
        }
        Ok(Literal {
            dtype,
            shape,
            bytes,
        })
    }

    /// The same bytes read as `dtype` of `shape` (shared, not copied): a
    /// `c64 [S...]` tensor is an `f32 [S..., 2]` one
    /// ([`crate::kernel::pairs`]). An error when the byte counts differ.
    pub fn reinterpreted(&self, dtype: DType, shape: Vec<usize>) -> Result<Self, LiteralError> {
        if dtype == DType::Bool && self.dtype != DType::Bool {
            return Err(LiteralError("bool data cannot be reinterpreted".into()));
        }
        let want = checked_len(&shape, dtype)?;
        if self.bytes.len() != want {
            return Err(LiteralError(format!(
                "{} bytes cannot be read as a {dtype} tensor of shape {shape:?}, which needs {want}",
                self.bytes.len()
            )));
        }
        Ok(Literal {
            dtype,
            shape,
            bytes: self.bytes.clone(),
        })
    }

    /// A literal of zeros.
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Result<Self, LiteralError> {
        let n = checked_len(&shape, dtype)?;
        Ok(Literal {
            dtype,
            shape,
            bytes: vec![0u8; n].into(),
        })
    }

    /// Converts `f64` values to `dtype` (rounding to nearest, saturating
    /// integer conversion as `as` does; for c64 the values are real parts).
    pub fn from_f64(dtype: DType, shape: Vec<usize>, values: &[f64]) -> Result<Self, LiteralError> {
        let n: usize = shape.iter().product();
        if values.len() != n {
            return Err(LiteralError(format!(
                "{} values given for shape {shape:?}",
                values.len()
            )));
        }
        let mut bytes = Vec::with_capacity(checked_len(&shape, dtype)?);
        for &v in values {
            push_f64(&mut bytes, dtype, v);
        }
        Ok(Literal {
            dtype,
            shape,
            bytes: bytes.into(),
        })
    }

    /// Like [`Literal::from_f64`] with `i64` values (exact for every integer dtype).
    pub fn from_i64(dtype: DType, shape: Vec<usize>, values: &[i64]) -> Result<Self, LiteralError> {
        let n: usize = shape.iter().product();
        if values.len() != n {
            return Err(LiteralError(format!(
                "{} values given for shape {shape:?}",
                values.len()
            )));
        }
        let mut bytes = Vec::with_capacity(checked_len(&shape, dtype)?);
        for &v in values {
            push_i64(&mut bytes, dtype, v);
        }
        Ok(Literal {
            dtype,
            shape,
            bytes: bytes.into(),
        })
    }

    /// A 0-d literal.
    pub fn scalar_f64(dtype: DType, v: f64) -> Self {
        let mut bytes = Vec::with_capacity(dtype.size());
        push_f64(&mut bytes, dtype, v);
        Literal {
            dtype,
            shape: Vec::new(),
            bytes: bytes.into(),
        }
    }

    pub fn f32s(shape: Vec<usize>, values: &[f32]) -> Result<Self, LiteralError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Literal::from_bytes(DType::F32, shape, bytes)
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn ty(&self) -> TensorType {
        TensorType::new(
            self.dtype,
            self.shape.iter().map(|&d| d as Dim).collect::<Vec<_>>(),
        )
    }

    /// The same data under another shape with as many elements.
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<Self, LiteralError> {
        if shape.iter().product::<usize>() != self.num_elements() {
            return Err(LiteralError(format!(
                "cannot reshape {:?} to {shape:?}",
                self.shape
            )));
        }
        Ok(Literal {
            dtype: self.dtype,
            shape,
            bytes: self.bytes.clone(),
        })
    }

    /// Element `i` (row-major) converted to f64 (the real part for c64).
    pub fn get_f64(&self, i: usize) -> f64 {
        read_f64(self.dtype, &self.bytes[i * self.dtype.size()..])
    }

    /// Element `i` converted to i64 (floats truncate toward zero).
    pub fn get_i64(&self, i: usize) -> i64 {
        read_i64(self.dtype, &self.bytes[i * self.dtype.size()..])
    }

    /// Every element converted to f64.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.num_elements()).map(|i| self.get_f64(i)).collect()
    }

    /// Every element converted to i64.
    pub fn to_i64_vec(&self) -> Vec<i64> {
        (0..self.num_elements()).map(|i| self.get_i64(i)).collect()
    }

    /// If every element is bitwise equal, that element as a 0-d literal.
    pub fn splat_value(&self) -> Option<Literal> {
        let s = self.dtype.size();
        let first = self.bytes.get(..s)?;
        if self.bytes.chunks_exact(s).all(|c| c == first) {
            Some(Literal {
                dtype: self.dtype,
                shape: Vec::new(),
                bytes: first.to_vec().into(),
            })
        } else {
            None
        }
    }
}

/// `x` rounded to f32 with round-to-odd: truncated toward zero, with the last
/// mantissa bit set when inexact. Rounding that to a format with at most 22
/// mantissa bits (f16, bf16) gives the correctly rounded result, which a
/// plain f64 -> f32 -> f16 chain does not (double rounding).
fn f32_round_to_odd(x: f64) -> f32 {
    let t = x as f32;
    if !t.is_finite() || t as f64 == x {
        return t;
    }
    let mut bits = t.to_bits();
    if (t as f64).abs() > x.abs() {
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// f64 to f16, rounded once to nearest even.
pub fn f64_to_f16(x: f64) -> f16 {
    f16::from_f32(f32_round_to_odd(x))
}

/// f64 to bf16, rounded once to nearest even.
pub fn f64_to_bf16(x: f64) -> bf16 {
    bf16::from_f32(f32_round_to_odd(x))
}

/// Appends `v` converted to `dtype` as little-endian bytes.
pub fn push_f64(out: &mut Vec<u8>, dtype: DType, v: f64) {
    match dtype {
        DType::Bool => out.push((v != 0.0) as u8),
        DType::U8 => out.push(v as u8),
        DType::U16 => out.extend((v as u16).to_le_bytes()),
        DType::U32 => out.extend((v as u32).to_le_bytes()),
        DType::U64 => out.extend((v as u64).to_le_bytes()),
        DType::I8 => out.extend((v as i8).to_le_bytes()),
        DType::I16 => out.extend((v as i16).to_le_bytes()),
        DType::I32 => out.extend((v as i32).to_le_bytes()),
        DType::I64 => out.extend((v as i64).to_le_bytes()),
        DType::F16 => out.extend(f64_to_f16(v).to_le_bytes()),
        DType::BF16 => out.extend(f64_to_bf16(v).to_le_bytes()),
        DType::F32 => out.extend((v as f32).to_le_bytes()),
        DType::F64 => out.extend(v.to_le_bytes()),
        DType::C64 => {
            out.extend((v as f32).to_le_bytes());
            out.extend(0f32.to_le_bytes());
        }
    }
}

/// Appends `v` converted to `dtype` as little-endian bytes (integers wrap).
pub fn push_i64(out: &mut Vec<u8>, dtype: DType, v: i64) {
    match dtype {
        DType::Bool => out.push((v != 0) as u8),
        DType::U8 => out.push(v as u8),
        DType::U16 => out.extend((v as u16).to_le_bytes()),
        DType::U32 => out.extend((v as u32).to_le_bytes()),
        DType::U64 => out.extend((v as u64).to_le_bytes()),
        DType::I8 => out.extend((v as i8).to_le_bytes()),
        DType::I16 => out.extend((v as i16).to_le_bytes()),
        DType::I32 => out.extend((v as i32).to_le_bytes()),
        DType::I64 => out.extend(v.to_le_bytes()),
        _ => push_f64(out, dtype, v as f64),
    }
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Reads one element of `dtype` from the front of `b` as f64.
pub fn read_f64(dtype: DType, b: &[u8]) -> f64 {
    match dtype {
        DType::Bool => (b[0] != 0) as u8 as f64,
        DType::U8 => b[0] as f64,
        DType::U16 => u16::from_le_bytes(arr(b)) as f64,
        DType::U32 => u32::from_le_bytes(arr(b)) as f64,
        DType::U64 => u64::from_le_bytes(arr(b)) as f64,
        DType::I8 => b[0] as i8 as f64,
        DType::I16 => i16::from_le_bytes(arr(b)) as f64,
        DType::I32 => i32::from_le_bytes(arr(b)) as f64,
        DType::I64 => i64::from_le_bytes(arr(b)) as f64,
        DType::F16 => f16::from_le_bytes(arr(b)).to_f64(),
        DType::BF16 => bf16::from_le_bytes(arr(b)).to_f64(),
        DType::F32 => f32::from_le_bytes(arr(b)) as f64,
        DType::F64 => f64::from_le_bytes(arr(b)),
        DType::C64 => f32::from_le_bytes(arr(b)) as f64,
    }
}

/// Reads one element of `dtype` from the front of `b` as i64.
pub fn read_i64(dtype: DType, b: &[u8]) -> i64 {
    match dtype {
        DType::Bool => (b[0] != 0) as i64,
        DType::U8 => b[0] as i64,
        DType::U16 => u16::from_le_bytes(arr(b)) as i64,
        DType::U32 => u32::from_le_bytes(arr(b)) as i64,
        DType::U64 => u64::from_le_bytes(arr(b)) as i64,
        DType::I8 => b[0] as i8 as i64,
        DType::I16 => i16::from_le_bytes(arr(b)) as i64,
        DType::I32 => i32::from_le_bytes(arr(b)) as i64,
        DType::I64 => i64::from_le_bytes(arr(b)),
        _ => read_f64(dtype, b) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_where_representable() {
        for d in DType::ALL {
            let l = Literal::from_f64(d, vec![3], &[0.0, 1.0, 2.0]).unwrap();
            assert_eq!(
                l.to_f64_vec(),
                vec![0.0, 1.0, if d == DType::Bool { 1.0 } else { 2.0 }]
            );
            assert_eq!(l.ty().num_bytes(), Some(l.bytes().len()));
        }
        let l = Literal::from_i64(DType::I64, vec![1], &[i64::MIN]).unwrap();
        assert_eq!(l.get_i64(0), i64::MIN);
    }

    #[test]
    fn half_conversions_round_once() {
        // Halfway cases that double rounding through f32 gets wrong.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(f64_to_f16(x).to_f64(), 1.0 + 2f64.powi(-10));
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(f64_to_bf16(x).to_f64(), 1.0 + 2f64.powi(-7));
        assert_eq!(f64_to_f16(65520.0).to_f64(), f64::INFINITY);
        assert_eq!(f64_to_bf16(1e39).to_f64(), f64::INFINITY);
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        let l = Literal::from_f64(DType::F16, vec![1], &[x]).unwrap();
        assert_eq!(l.get_f64(0), 1.0 + 2f64.powi(-10));
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(Literal::from_bytes(DType::F32, vec![2], vec![0u8; 7]).is_err());
        assert!(Literal::from_bytes(DType::Bool, vec![1], vec![2u8]).is_err());
        assert!(Literal::zeros(DType::F32, vec![usize::MAX, 2]).is_err());
    }

    #[test]
    fn splat() {
        let l = Literal::from_f64(DType::F32, vec![2, 2], &[1.5; 4]).unwrap();
        assert_eq!(l.splat_value().unwrap().get_f64(0), 1.5);
        let l = Literal::from_f64(DType::F32, vec![2], &[1.5, 2.0]).unwrap();
        assert!(l.splat_value().is_none());
    }
}
