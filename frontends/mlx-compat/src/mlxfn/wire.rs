//! The wire encoding of `.mlxfn` (spec §1): a bounds-checked little-endian
//! reader that reports byte offsets, and the matching writer.
//!
//! Every length read from a file is checked against the bytes that remain
//! before anything is allocated from it.

use super::MlxfnError;
use psionic_ir::DType;

/// A cursor over the file's bytes. Every read either succeeds or returns an
/// error naming the offset where it started.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    pub fn err(&self, at: usize, msg: impl Into<String>) -> MlxfnError {
        MlxfnError::at(at, msg)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MlxfnError> {
        if n > self.remaining() {
            return Err(self.err(
                self.pos,
                format!(
                    "truncated file: {what} needs {n} bytes, {} left",
                    self.remaining()
                ),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], MlxfnError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self, what: &str) -> Result<u8, MlxfnError> {
        Ok(self.arr::<1>(what)?[0])
    }
    pub fn bool(&mut self, what: &str) -> Result<bool, MlxfnError> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.err(at, format!("{what}: bool byte is {b}, expected 0 or 1"))),
        }
    }
    pub fn i32(&mut self, what: &str) -> Result<i32, MlxfnError> {
        Ok(i32::from_le_bytes(self.arr(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, MlxfnError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64, MlxfnError> {
        Ok(i64::from_le_bytes(self.arr(what)?))
    }
    pub fn f32(&mut self, what: &str) -> Result<f32, MlxfnError> {
        Ok(f32::from_le_bytes(self.arr(what)?))
    }
    pub fn f64(&mut self, what: &str) -> Result<f64, MlxfnError> {
        Ok(f64::from_le_bytes(self.arr(what)?))
    }

    /// A vector length, bounded so that `count * min_elem` bytes remain.
    pub fn count(&mut self, min_elem: usize, what: &str) -> Result<usize, MlxfnError> {
        let at = self.pos;
        let n = self.u64(what)?;
        let left = self.remaining() as u64;
        let need = n.checked_mul(min_elem.max(1) as u64);
        match need {
            Some(need) if need <= left || (min_elem == 0 && n <= 1 << 20) => Ok(n as usize),
            _ => Err(self.err(
                at,
                format!(
                    "truncated file or absurd length: {what} claims {n} elements, only {left} bytes remain"
                ),
            )),
        }
    }

    pub fn string(&mut self, what: &str) -> Result<String, MlxfnError> {
        let at = self.pos;
        let n = self.count(1, what)?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| self.err(at, format!("{what} is not valid UTF-8")))
    }

    pub fn vec_i32(&mut self, what: &str) -> Result<Vec<i64>, MlxfnError> {
        let n = self.count(4, what)?;
        (0..n).map(|_| self.i32(what).map(i64::from)).collect()
    }
    pub fn vec_i64(&mut self, what: &str) -> Result<Vec<i64>, MlxfnError> {
        let n = self.count(8, what)?;
        (0..n).map(|_| self.i64(what)).collect()
    }
    pub fn vec_u64(&mut self, what: &str) -> Result<Vec<u64>, MlxfnError> {
        let n = self.count(8, what)?;
        (0..n).map(|_| self.u64(what)).collect()
    }

    pub fn dtype(&mut self, what: &str) -> Result<DType, MlxfnError> {
        let at = self.pos;
        let code = self.i32(what)?;
        let size = self.u8(what)?;
        let d = DType::from_mlx_code(i64::from(code))
            .ok_or_else(|| self.err(at, format!("{what}: unknown dtype code {code}")))?;
        if d.size() != usize::from(size) {
            return Err(self.err(
                at,
                format!(
                    "{what}: dtype code {code} ({d}) has item size {}, file says {size}",
                    d.size()
                ),
            ));
        }
        Ok(d)
    }
}

/// Appends the wire encoding of values to a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    pub fn string(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub fn dtype(&mut self, d: DType) {
        self.i32(i32::from(d.mlx_code()));
        self.u8(d.size() as u8);
    }
}
