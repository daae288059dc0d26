//! Decoding literals into computable element vectors and back, plus the
//! strided walks every layout op is built from.
//!
//! Three working representations cover every dtype exactly:
//! - integers and bool as `i128` (every u64 and i64 value fits, and wrapping
//!   to the dtype is a truncation of the low bits, see [`wrap`]);
//! - floats (f16, bf16, f32, f64) as `f64`, rounded to the dtype once when
//!   encoded;
//! - c64 as [`C`], a pair of `f64`s rounded to two `f32`s when encoded.

use half::{bf16, f16};
use psionic_ir::{DType, Literal};

use super::complex::C;

/// The elements of a literal in a form arithmetic can work on.
#[derive(Clone, Debug)]
pub enum Data {
    Int(Vec<i128>),
    Float(Vec<f64>),
    Complex(Vec<C>),
}

pub fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

/// Decodes every element of `l`.
pub fn decode(l: &Literal) -> Data {
    let b = l.bytes();
    match l.dtype() {
        DType::Bool => Data::Int(b.iter().map(|&x| (x != 0) as i128).collect()),
        DType::U8 => Data::Int(b.iter().map(|&x| x as i128).collect()),
        DType::I8 => Data::Int(b.iter().map(|&x| x as i8 as i128).collect()),
        DType::U16 => Data::Int(
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::I16 => Data::Int(
            b.chunks_exact(2)
                .map(|c| i16::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::U32 => Data::Int(
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::I32 => Data::Int(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::U64 => Data::Int(
            b.chunks_exact(8)
                .map(|c| u64::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::I64 => Data::Int(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(arr(c)) as i128)
                .collect(),
        ),
        DType::F16 => Data::Float(
            b.chunks_exact(2)
                .map(|c| f16::from_le_bytes(arr(c)).to_f64())
                .collect(),
        ),
        DType::BF16 => Data::Float(
            b.chunks_exact(2)
                .map(|c| bf16::from_le_bytes(arr(c)).to_f64())
                .collect(),
        ),
        DType::F32 => Data::Float(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(arr(c)) as f64)
                .collect(),
        ),
        DType::F64 => Data::Float(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(arr(c)))
                .collect(),
        ),
        DType::C64 => Data::Complex(
            b.chunks_exact(8)
                .map(|c| {
                    C::new(
                        f32::from_le_bytes(arr(&c[..4])) as f64,
                        f32::from_le_bytes(arr(&c[4..])) as f64,
                    )
                })
                .collect(),
        ),
    }
}

/// Wraps an exact integer to `dtype`'s range (two's complement truncation;
/// bool is "non-zero").
#[inline]
pub fn wrap(v: i128, dtype: DType) -> i128 {
    match dtype {
        DType::Bool => (v != 0) as i128,
        DType::U8 => v as u8 as i128,
        DType::U16 => v as u16 as i128,
        DType::U32 => v as u32 as i128,
        DType::U64 => v as u64 as i128,
        DType::I8 => v as i8 as i128,
        DType::I16 => v as i16 as i128,
        DType::I32 => v as i32 as i128,
        DType::I64 => v as i64 as i128,
        _ => v,
    }
}

/// Bit width of an integral dtype (bool counts as its 8-bit storage).
pub fn bits(dtype: DType) -> u32 {
    dtype.size() as u32 * 8
}

pub use psionic_ir::literal::{f64_to_bf16, f64_to_f16};

fn lit(dtype: DType, shape: &[usize], bytes: Vec<u8>) -> Result<Literal, String> {
    Literal::from_bytes(dtype, shape.to_vec(), bytes).map_err(|e| e.0)
}

/// Encodes integers (wrapping to `dtype`, which must be integral).
pub fn encode_ints(dtype: DType, shape: &[usize], v: &[i128]) -> Result<Literal, String> {
    let mut out = Vec::with_capacity(v.len() * dtype.size());
    match dtype {
        DType::Bool => out.extend(v.iter().map(|&x| (x != 0) as u8)),
        DType::U8 | DType::I8 => out.extend(v.iter().map(|&x| x as u8)),
        DType::U16 | DType::I16 => v.iter().for_each(|&x| out.extend((x as u16).to_le_bytes())),
        DType::U32 | DType::I32 => v.iter().for_each(|&x| out.extend((x as u32).to_le_bytes())),
        DType::U64 | DType::I64 => v.iter().for_each(|&x| out.extend((x as u64).to_le_bytes())),
        d => return Err(format!("internal: integer data encoded as {d}")),
    }
    lit(dtype, shape, out)
}

/// Encodes floats, rounding each to `dtype` (a float dtype) once.
pub fn encode_floats(dtype: DType, shape: &[usize], v: &[f64]) -> Result<Literal, String> {
    let mut out = Vec::with_capacity(v.len() * dtype.size());
    match dtype {
        DType::F16 => v
            .iter()
            .for_each(|&x| out.extend(f64_to_f16(x).to_le_bytes())),
        DType::BF16 => v
            .iter()
            .for_each(|&x| out.extend(f64_to_bf16(x).to_le_bytes())),
        DType::F32 => v.iter().for_each(|&x| out.extend((x as f32).to_le_bytes())),
        DType::F64 => v.iter().for_each(|&x| out.extend(x.to_le_bytes())),
        d => return Err(format!("internal: float data encoded as {d}")),
    }
    lit(dtype, shape, out)
}

/// Encodes complex numbers as c64 (each part rounded to f32).
pub fn encode_complex(shape: &[usize], v: &[C]) -> Result<Literal, String> {
    let mut out = Vec::with_capacity(v.len() * 8);
    for z in v {
        out.extend((z.re as f32).to_le_bytes());
        out.extend((z.im as f32).to_le_bytes());
    }
    lit(DType::C64, shape, out)
}

/// Encodes data of the representation that `dtype` uses.
pub fn encode(dtype: DType, shape: &[usize], d: &Data) -> Result<Literal, String> {
    match d {
        Data::Int(v) => encode_ints(dtype, shape, v),
        Data::Float(v) => encode_floats(dtype, shape, v),
        Data::Complex(v) if dtype == DType::C64 => encode_complex(shape, v),
        Data::Complex(_) => Err(format!("internal: complex data encoded as {dtype}")),
    }
}

/// Row-major strides of `shape`, in elements.
pub fn strides(shape: &[usize]) -> Vec<isize> {
    let mut s = vec![1isize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1] as isize;
    }
    s
}

/// Calls `f` with the element offset `base + sum(idx[d] * strides[d])` of
/// every index of `shape`, in row-major order. Linear in the element count.
pub fn for_each_offset(shape: &[usize], strides: &[isize], base: isize, mut f: impl FnMut(usize)) {
    if shape.contains(&0) {
        return;
    }
    let r = shape.len();
    if r == 0 {
        f(base as usize);
        return;
    }
    let (last, ls) = (shape[r - 1], strides[r - 1]);
    let mut idx = vec![0usize; r];
    let mut off = base;
    loop {
        let mut o = off;
        for _ in 0..last {
            f(o as usize);
            o += ls;
        }
        let mut d = r - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
}

/// The offsets [`for_each_offset`] visits, collected.
pub fn offsets(shape: &[usize], strides: &[isize], base: isize) -> Vec<usize> {
    let mut v = Vec::with_capacity(shape.iter().product());
    for_each_offset(shape, strides, base, |o| v.push(o));
    v
}

/// Side of the square tiles a transposing copy walks in (keeps reads within
/// a few pages instead of one page per element).
const TILE: usize = 32;

fn gather_n<const N: usize>(b: &[u8], shape: &[usize], strides: &[isize], base: isize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; n * N];
    let r = shape.len();
    if r >= 2
        && strides[r - 1] != 1
        && strides[r - 1] != 0
        && shape[r - 1] >= TILE
        && shape[r - 2] >= TILE
    {
        let (ra, rb) = (shape[r - 2], shape[r - 1]);
        let (sa, sb) = (strides[r - 2], strides[r - 1]);
        let mut planes = out.chunks_exact_mut(ra * rb * N);
        for_each_offset(&shape[..r - 2], &strides[..r - 2], base, |o| {
            let Some(plane) = planes.next() else { return };
            for ti in (0..ra).step_by(TILE) {
                for tj in (0..rb).step_by(TILE) {
                    for i in ti..(ti + TILE).min(ra) {
                        let row = o as isize + i as isize * sa;
                        for j in tj..(tj + TILE).min(rb) {
                            let s = (row + j as isize * sb) as usize;
                            let d = i * rb + j;
                            plane[d * N..d * N + N].copy_from_slice(&b[s * N..s * N + N]);
                        }
                    }
                }
            }
        });
        return out;
    }
    let mut chunks = out.chunks_exact_mut(N);
    for_each_offset(shape, strides, base, |o| {
        if let Some(c) = chunks.next() {
            c.copy_from_slice(&b[o * N..o * N + N]);
        }
    });
    out
}

/// A new literal of `shape` whose elements are read from `src` at the
/// offsets of a strided view (`strides` may be 0 or negative).
pub fn view(
    src: &Literal,
    shape: &[usize],
    strides: &[isize],
    base: isize,
) -> Result<Literal, String> {
    let b = src.bytes();
    let out = match src.dtype().size() {
        1 => gather_n::<1>(b, shape, strides, base),
        2 => gather_n::<2>(b, shape, strides, base),
        4 => gather_n::<4>(b, shape, strides, base),
        _ => gather_n::<8>(b, shape, strides, base),
    };
    lit(src.dtype(), shape, out)
}

/// Copies the elements of `src` (row-major) into `dst` bytes at the offsets of
/// a strided view of `dst` with `src`'s shape.
pub fn write_view(dst: &mut [u8], src: &Literal, strides: &[isize], base: isize) {
    let s = src.dtype().size();
    let b = src.bytes();
    let shape = src.shape();
    // Unit innermost stride (pad, concatenate, slice updates of rows): one
    // copy per innermost row instead of one per element.
    if let (Some(&last), Some(&1)) = (shape.last(), strides.last()) {
        let r = shape.len();
        let row = last * s;
        let mut i = 0;
        for_each_offset(&shape[..r - 1], &strides[..r - 1], base, |o| {
            dst[o * s..o * s + row].copy_from_slice(&b[i..i + row]);
            i += row;
        });
        return;
    }
    let mut i = 0;
    for_each_offset(shape, strides, base, |o| {
        dst[o * s..o * s + s].copy_from_slice(&b[i * s..i * s + s]);
        i += 1;
    });
}

/// Builds a literal from raw bytes of a known-good size.
pub fn from_bytes(dtype: DType, shape: &[usize], bytes: Vec<u8>) -> Result<Literal, String> {
    lit(dtype, shape, bytes)
}

/// The unique static shape of an inferred result type.
pub fn static_shape(t: &psionic_ir::TensorType) -> Result<Vec<usize>, String> {
    t.static_shape()
        .ok_or_else(|| format!("internal: result type {t} is not static"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_rounding_is_single() {
        // Just above the halfway point between 1 and the next value: a
        // double rounding through f32 lands on the tie and rounds down.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(f64_to_f16(x).to_f64(), 1.0 + 2f64.powi(-10));
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(f64_to_bf16(x).to_f64(), 1.0 + 2f64.powi(-7));
        // Exact ties still go to even; overflow, NaN and signed zero survive.
        assert_eq!(f64_to_f16(1.0 + 2f64.powi(-11)).to_f64(), 1.0);
        assert_eq!(f64_to_f16(65520.0).to_f64(), f64::INFINITY);
        assert_eq!(f64_to_f16(65519.9).to_f64(), 65504.0);
        assert!(f64_to_bf16(f64::NAN).to_f64().is_nan());
        assert!(f64_to_f16(-0.0).to_f64().is_sign_negative());
        assert_eq!(f64_to_bf16(1e39).to_f64(), f64::INFINITY);
        assert_eq!(
            f64_to_f16(2f64.powi(-25) + 2f64.powi(-60)).to_f64(),
            2f64.powi(-24)
        );
        assert_eq!(f64_to_f16(2f64.powi(-25)).to_f64(), 0.0);
    }
}
