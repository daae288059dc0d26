//! GGUF (versions 2 and 3) reading: metadata and tensors, with the common
//! block-quantized types dequantized to f32.
//!
//! Supported tensor types: F32, F16, BF16, F64, I8, I16, I32, I64 (kept as
//! they are) and Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K
//! (dequantized to f32 with the same f32 arithmetic as ggml, so results are
//! bit-identical to `gguf.quants.dequantize`). Other types are refused with
//! their name. Every length and offset is checked against the file before use;
//! errors give the byte offset.

use half::f16;
use psionic_ir::{DType, Literal};
use std::path::Path;

/// A malformed or unsupported GGUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufError(pub String);

impl std::fmt::Display for GgufError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for GgufError {}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    Array(Vec<GgufValue>),
}

/// A parsed GGUF file.
#[derive(Debug, Clone)]
pub struct Gguf {
    pub version: u32,
    pub metadata: Vec<(String, GgufValue)>,
    /// Tensors in file order, shapes in row-major (NumPy) order.
    pub tensors: Vec<(String, Literal)>,
}

impl Gguf {
    pub fn metadata(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn fail<T>(&self, at: usize, msg: impl Into<String>) -> Result<T, GgufError> {
        Err(GgufError(format!("gguf: byte {at}: {}", msg.into())))
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], GgufError> {
        if n > self.b.len() - self.pos {
            return self.fail(
                self.pos,
                format!(
                    "truncated: {what} needs {n} bytes, {} remain",
                    self.b.len() - self.pos
                ),
            );
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    /// A count of items of at least `min` bytes each, bounded by what remains.
    fn count(&mut self, what: &str, min: usize) -> Result<usize, GgufError> {
        let at = self.pos;
        let n = self.u64(what)?;
        let left = (self.b.len() - self.pos) as u64;
        if n.saturating_mul(min.max(1) as u64) > left {
            return self.fail(
                at,
                format!("{what} {n} is larger than the {left} bytes that remain"),
            );
        }
        Ok(n as usize)
    }
    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.count(what, 1)?;
        let at = self.pos;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).or_else(|_| self.fail(at, format!("{what} is not UTF-8")))
    }
    fn value(&mut self, ty: u32, depth: u32) -> Result<GgufValue, GgufError> {
        let at = self.pos;
        Ok(match ty {
            0 => GgufValue::U8(self.arr::<1>("u8")?[0]),
            1 => GgufValue::I8(self.arr::<1>("i8")?[0] as i8),
            2 => GgufValue::U16(u16::from_le_bytes(self.arr("u16")?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.arr("i16")?)),
            4 => GgufValue::U32(self.u32("u32")?),
            5 => GgufValue::I32(i32::from_le_bytes(self.arr("i32")?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.arr("f32")?)),
            7 => match self.arr::<1>("bool")?[0] {
                0 => GgufValue::Bool(false),
                1 => GgufValue::Bool(true),
                b => return self.fail(at, format!("bool byte {b} is not 0 or 1")),
            },
            8 => GgufValue::Str(self.string("string length")?),
            9 => {
                if depth > 8 {
                    return self.fail(at, "arrays nested deeper than 8 levels");
                }
                let inner = self.u32("array element type")?;
                let n = self.count("array length", 1)?;
                let mut v = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    v.push(self.value(inner, depth + 1)?);
                }
                GgufValue::Array(v)
            }
            10 => GgufValue::U64(self.u64("u64")?),
            11 => GgufValue::I64(i64::from_le_bytes(self.arr("i64")?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.arr("f64")?)),
            t => return self.fail(at, format!("unknown metadata value type {t}")),
        })
    }
}

/// A ggml tensor type this reader understands: elements per block, bytes per
/// block, and the dtype it loads as.
struct TypeInfo {
    name: &'static str,
    block: usize,
    bytes: usize,
    out: DType,
}

fn type_info(t: u32) -> Result<TypeInfo, String> {
    let (name, block, bytes, out) = match t {
        0 => ("F32", 1, 4, DType::F32),
        1 => ("F16", 1, 2, DType::F16),
        2 => ("Q4_0", 32, 18, DType::F32),
        3 => ("Q4_1", 32, 20, DType::F32),
        6 => ("Q5_0", 32, 22, DType::F32),
        7 => ("Q5_1", 32, 24, DType::F32),
        8 => ("Q8_0", 32, 34, DType::F32),
        10 => ("Q2_K", 256, 84, DType::F32),
        11 => ("Q3_K", 256, 110, DType::F32),
        12 => ("Q4_K", 256, 144, DType::F32),
        13 => ("Q5_K", 256, 176, DType::F32),
        14 => ("Q6_K", 256, 210, DType::F32),
        24 => ("I8", 1, 1, DType::I8),
        25 => ("I16", 1, 2, DType::I16),
        26 => ("I32", 1, 4, DType::I32),
        27 => ("I64", 1, 8, DType::I64),
        28 => ("F64", 1, 8, DType::F64),
        30 => ("BF16", 1, 2, DType::BF16),
        9 => return Err("tensor type Q8_1 is not supported".into()),
        15 => return Err("tensor type Q8_K is not supported".into()),
        16..=23 | 29 => return Err(format!("i-quant tensor type {t} is not supported")),
        t => return Err(format!("tensor type {t} is not supported")),
    };
    Ok(TypeInfo {
        name,
        block,
        bytes,
        out,
    })
}

/// Parses a GGUF file held in memory.
pub fn from_bytes(b: &[u8]) -> Result<Gguf, GgufError> {
    let mut c = Cursor { b, pos: 0 };
    if c.take(4, "magic").ok() != Some(b"GGUF") {
        return c.fail(0, "not a GGUF file (bad magic)");
    }
    let version = c.u32("version")?;
    if !(2..=3).contains(&version) {
        return c.fail(
            4,
            format!("version {version} is not supported (2 and 3 are)"),
        );
    }
    let n_tensors = c.count("tensor count", 24)?;
    let n_kv = c.count("metadata count", 12)?;
    let mut metadata = Vec::with_capacity(n_kv);
    for _ in 0..n_kv {
        let key = c.string("key length")?;
        let ty = c.u32("value type")?;
        let v = c.value(ty, 0)?;
        metadata.push((key, v));
    }
    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => 32,
        Some((_, GgufValue::U32(a))) if *a > 0 && a.is_power_of_two() => *a as usize,
        Some((_, v)) => {
            return c.fail(
                c.pos,
                format!("general.alignment {v:?} is not a power of two u32"),
            )
        }
    };
    struct Info {
        name: String,
        shape: Vec<usize>,
        ty: TypeInfo,
        offset: u64,
        at: usize,
    }
    let mut infos = Vec::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let at = c.pos;
        let name = c.string("tensor name length")?;
        let nd = c.u32("dimension count")? as usize;
        if nd > 8 {
            return c.fail(at, format!("tensor {name}: {nd} dimensions (at most 8)"));
        }
        let mut ne = Vec::with_capacity(nd);
        for _ in 0..nd {
            ne.push(c.u64("dimension")?);
        }
        let tat = c.pos;
        let ty = type_info(c.u32("tensor type")?)
            .or_else(|e| c.fail(tat, format!("tensor {name}: {e}")))?;
        let offset = c.u64("tensor offset")?;
        let mut shape = Vec::with_capacity(nd);
        for &d in ne.iter().rev() {
            shape.push(
                usize::try_from(d)
                    .or_else(|_| c.fail(at, format!("tensor {name}: dimension {d}")))?,
            );
        }
        infos.push(Info {
            name,
            shape,
            ty,
            offset,
            at,
        });
    }
    let data_start = c.pos.div_ceil(alignment) * alignment;
    let mut tensors = Vec::with_capacity(infos.len());
    for info in infos {
        let fail = |m: String| {
            Err(GgufError(format!(
                "gguf: byte {}: tensor {}: {m}",
                info.at, info.name
            )))
        };
        let n = match info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
            Some(n) => n,
            None => return fail(format!("shape {:?} overflows", info.shape)),
        };
        let inner = info.shape.last().copied().unwrap_or(1);
        if inner % info.ty.block != 0 {
            return fail(format!(
                "{} rows of {inner} elements are not whole blocks of {}",
                info.ty.name, info.ty.block
            ));
        }
        let nbytes = n / info.ty.block * info.ty.bytes;
        let start = (data_start as u64).checked_add(info.offset);
        let range = start
            .and_then(|s| usize::try_from(s).ok())
            .and_then(|s| s.checked_add(nbytes).map(|e| s..e));
        let data = match range.and_then(|r| b.get(r)) {
            Some(d) => d,
            None => {
                return fail(format!(
                    "data at offset {} ({nbytes} bytes) lies outside the file",
                    info.offset
                ))
            }
        };
        let lit = if info.ty.block == 1 {
            Literal::from_bytes(info.ty.out, info.shape, data.to_vec())
        } else {
            let values = dequantize(info.ty.name, data, n);
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Literal::from_bytes(DType::F32, info.shape, bytes)
        };
        match lit {
            Ok(l) => tensors.push((info.name, l)),
            Err(e) => return fail(e.0),
        }
    }
    Ok(Gguf {
        version,
        metadata,
        tensors,
    })
}

/// Reads a GGUF file.
pub fn load_gguf(path: &Path) -> Result<Gguf, GgufError> {
    let b = std::fs::read(path)
        .map_err(|e| GgufError(format!("cannot read {}: {e}", path.display())))?;
    from_bytes(&b).map_err(|e| GgufError(format!("{}: {e}", path.display())))
}

fn h(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Dequantizes `n` elements of whole blocks. `data` holds exactly those blocks.
fn dequantize(kind: &str, data: &[u8], n: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(n);
    let (block, size) = match kind {
        "Q4_0" => (32, 18),
        "Q4_1" => (32, 20),
        "Q5_0" => (32, 22),
        "Q5_1" => (32, 24),
        "Q8_0" => (32, 34),
        "Q2_K" => (256, 84),
        "Q3_K" => (256, 110),
        "Q4_K" => (256, 144),
        "Q5_K" => (256, 176),
        _ => (256, 210),
    };
    let mut out = [0f32; 256];
    for blk in data.chunks_exact(size) {
        let o = &mut out[..block];
        match kind {
            "Q4_0" => {
                let d = h(blk, 0);
                for j in 0..16 {
                    let q = blk[2 + j];
                    o[j] = d * ((q & 0xF) as i32 - 8) as f32;
                    o[j + 16] = d * ((q >> 4) as i32 - 8) as f32;
                }
            }
            "Q4_1" => {
                let (d, m) = (h(blk, 0), h(blk, 2));
                for j in 0..16 {
                    let q = blk[4 + j];
                    o[j] = d * (q & 0xF) as f32 + m;
                    o[j + 16] = d * (q >> 4) as f32 + m;
                }
            }
            "Q5_0" | "Q5_1" => {
                let one = kind == "Q5_1";
                let d = h(blk, 0);
                let (m, at) = if one { (h(blk, 2), 4) } else { (0.0, 2) };
                let qh = u32::from_le_bytes([blk[at], blk[at + 1], blk[at + 2], blk[at + 3]]);
                for j in 0..16 {
                    let q = blk[at + 4 + j];
                    let lo = (q & 0xF) as u32 | ((qh >> j) & 1) << 4;
                    let hi = (q >> 4) as u32 | ((qh >> (j + 16)) & 1) << 4;
                    if one {
                        o[j] = d * lo as f32 + m;
                        o[j + 16] = d * hi as f32 + m;
                    } else {
                        o[j] = d * (lo as i32 - 16) as f32;
                        o[j + 16] = d * (hi as i32 - 16) as f32;
                    }
                }
            }
            "Q8_0" => {
                let d = h(blk, 0);
                for j in 0..32 {
                    o[j] = blk[2 + j] as i8 as f32 * d;
                }
            }
            "Q2_K" => {
                let (scales, qs) = (&blk[..16], &blk[16..80]);
                let (d, dmin) = (h(blk, 80), h(blk, 82));
                for e in 0..256 {
                    let (half, s, l) = (e / 128, (e / 32) % 4, e % 32);
                    let q = (qs[half * 32 + l] >> (2 * s)) & 3;
                    let k = e / 16;
                    let dl = d * (scales[k] & 0xF) as f32;
                    let ml = dmin * (scales[k] >> 4) as f32;
                    o[e] = dl * q as f32 - ml;
                }
            }
            "Q3_K" => {
                let (hmask, qs, sc, d) = (&blk[..32], &blk[32..96], &blk[96..108], h(blk, 108));
                let mut dl = [0f32; 16];
                for (i, v) in dl.iter_mut().enumerate() {
                    let lo = (sc[i % 8] >> (4 * (i / 8))) & 0xF;
                    let hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
                    let s = ((lo | hi << 4) as i8).wrapping_sub(32);
                    *v = d * s as f32;
                }
                for e in 0..256 {
                    let (half, s, l) = (e / 128, (e / 32) % 4, e % 32);
                    let ql = ((qs[half * 32 + l] >> (2 * s)) & 3) as i8;
                    let hbit = ((hmask[l] >> (e / 32)) & 1) ^ 1;
                    o[e] = dl[e / 16] * (ql - ((hbit << 2) as i8)) as f32;
                }
            }
            "Q4_K" | "Q5_K" => {
                let (d, dmin) = (h(blk, 0), h(blk, 2));
                let (sc, m) = scale_min_k4(&blk[4..16]);
                let (qh, qs) = if kind == "Q5_K" {
                    (Some(&blk[16..48]), &blk[48..176])
                } else {
                    (None, &blk[16..144])
                };
                for e in 0..256 {
                    let (c, s, l) = (e / 64, (e / 32) % 2, e % 32);
                    let mut q = ((qs[c * 32 + l] >> (4 * s)) & 0xF) as u32;
                    if let Some(qh) = qh {
                        q |= (((qh[l] >> (e / 32)) & 1) as u32) << 4;
                    }
                    let j = e / 32;
                    o[e] = d * sc[j] as f32 * q as f32 - dmin * m[j] as f32;
                }
            }
            _ => {
                // Q6_K
                let (ql, qh, sc, d) = (&blk[..128], &blk[128..192], &blk[192..208], h(blk, 208));
                for e in 0..256 {
                    let (half, s2, l64) = (e / 128, (e / 64) % 2, e % 64);
                    let lo = (ql[half * 64 + l64] >> (4 * s2)) & 0xF;
                    let (s4, l) = ((e / 32) % 4, e % 32);
                    let hi = (qh[half * 32 + l] >> (2 * s4)) & 3;
                    let q = ((lo | hi << 4) as i8).wrapping_sub(32);
                    o[e] = d * sc[e / 16] as i8 as f32 * q as f32;
                }
            }
        }
        y.extend_from_slice(o);
    }
    y
}

/// The 6-bit scales and mins of Q4_K/Q5_K blocks.
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (d, m, md) = (&s[..4], &s[4..8], &s[8..12]);
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for i in 0..4 {
        sc[i] = d[i] & 0x3F;
        mn[i] = m[i] & 0x3F;
        sc[i + 4] = (md[i] & 0x0F) | ((d[i] >> 2) & 0x30);
        mn[i + 4] = (md[i] >> 4) | ((m[i] >> 2) & 0x30);
    }
    (sc, mn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_cleanly() {
        assert!(from_bytes(b"").unwrap_err().0.contains("bad magic"));
        assert!(from_bytes(b"GGUF\x09\0\0\0")
            .unwrap_err()
            .0
            .contains("version 9"));
        let mut b = b"GGUF\x03\0\0\0".to_vec();
        b.extend(u64::MAX.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        assert!(from_bytes(&b).unwrap_err().0.contains("tensor count"));
    }
}
