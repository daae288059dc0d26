//! `.psifn`: Psionic's own versioned binary container for a [`Module`].
//!
//! Layout (all integers little-endian; see `docs/FORMATS.md`):
//!
//! ```text
//! magic    8 bytes  "PSIFN\0\r\n"   (the CR LF catches text-mode mangling)
//! version  u32      1
//! body     module attrs, funcs (below)
//! checksum u64      FNV-1a 64 of every byte before it
//! ```
//!
//! A function is stored as its name, attributes, parameter types, ops
//! (name, operand ids, attributes) and result ids. Value ids are implicit:
//! parameters are `0..n`, then each op's results in order. Result types are
//! not stored: loading re-infers them through the op table, so a file that
//! loads is a verified function. Every length is checked against the bytes
//! that remain before anything is allocated, and any problem is reported with
//! its byte offset.

use crate::attr::{Attr, Attrs};
use crate::dtype::DType;
use crate::func::{Func, Loc, Module, Value};
use crate::literal::Literal;
use crate::ops::{attr_name, Opcode};
use crate::types::TensorType;
use std::fmt;
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"PSIFN\0\r\n";
pub const VERSION: u32 = 1;

/// A malformed or unreadable `.psifn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsifnError {
    /// Byte offset of the problem, when it concerns the file's contents.
    pub offset: Option<usize>,
    pub message: String,
}

impl fmt::Display for PsifnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "psifn: byte {o}: {}", self.message),
            None => write!(f, "psifn: {}", self.message),
        }
    }
}
impl std::error::Error for PsifnError {}

// ---- writing ----

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend((v as u32).to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend(v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend(s.as_bytes());
    }
    fn ty(&mut self, t: &TensorType) {
        self.u8(t.dtype.mlx_code());
        self.u32(t.rank());
        for &d in &t.shape {
            self.i64(d);
        }
    }
    fn attr(&mut self, a: &Attr) {
        match a {
            Attr::Bool(b) => {
                self.u8(0);
                self.u8(*b as u8);
            }
            Attr::Int(i) => {
                self.u8(1);
                self.i64(*i);
            }
            Attr::Float(f) => {
                self.u8(2);
                self.0.extend(f.to_bits().to_le_bytes());
            }
            Attr::Ints(v) => {
                self.u8(3);
                self.u32(v.len());
                for &i in v {
                    self.i64(i);
                }
            }
            Attr::Str(s) => {
                self.u8(4);
                self.str(s);
            }
            Attr::DType(d) => {
                self.u8(5);
                self.u8(d.mlx_code());
            }
            Attr::Dense(l) => {
                self.u8(6);
                self.ty(&l.ty());
                self.0.extend((l.bytes().len() as u64).to_le_bytes());
                self.0.extend(l.bytes());
            }
        }
    }
    fn attrs<'a, 'b>(&mut self, attrs: impl ExactSizeIterator<Item = (&'a str, &'b Attr)>) {
        self.u32(attrs.len());
        for (n, a) in attrs {
            self.str(n);
            self.attr(a);
        }
    }
}

/// Serializes a module.
pub fn to_bytes(module: &Module) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.0.extend(MAGIC);
    w.0.extend(VERSION.to_le_bytes());
    w.attrs(module.attrs.iter().map(|(n, a)| (n.as_str(), a)));
    w.u32(module.funcs.len());
    for f in &module.funcs {
        let f = f.compact();
        w.str(&f.name);
        w.attrs(f.attrs.iter().map(|(n, a)| (n.as_str(), a)));
        w.u32(f.params.len());
        for &p in &f.params {
            w.ty(f.ty(p));
        }
        w.u32(f.ops.len());
        for op in &f.ops {
            w.str(op.opcode.name());
            w.u32(op.operands.len());
            for v in &op.operands {
                w.u32(v.index());
            }
            w.attrs(op.attrs.iter());
        }
        w.u32(f.results.len());
        for v in &f.results {
            w.u32(v.index());
        }
    }
    let sum = fnv1a(&w.0);
    w.0.extend(sum.to_le_bytes());
    w.0
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Writes `module` to `path` atomically: a temporary file in the same folder,
/// then a rename, so a failure never leaves a half-written file.
pub fn save(path: &Path, module: &Module) -> Result<(), PsifnError> {
    write_atomic(path, &to_bytes(module)).map_err(|e| PsifnError {
        offset: None,
        message: format!("cannot write {}: {e}", path.display()),
    })
}

/// Writes bytes to `path` through a temporary sibling file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per process and call, so concurrent writers never share a temporary.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

// ---- reading ----

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, PsifnError> {
        Err(PsifnError {
            offset: Some(at),
            message: message.into(),
        })
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PsifnError> {
        let remaining = self.bytes.len() - self.pos;
        if n > remaining {
            return self.err(
                self.pos,
                format!("truncated: {what} needs {n} bytes, {remaining} remain"),
            );
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, PsifnError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<usize, PsifnError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn u64(&mut self, what: &str) -> Result<u64, PsifnError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self, what: &str) -> Result<i64, PsifnError> {
        Ok(self.u64(what)? as i64)
    }
    /// A count of items each at least `min_size` bytes, bounded by what remains.
    fn count(&mut self, what: &str, min_size: usize) -> Result<usize, PsifnError> {
        let at = self.pos;
        let n = self.u32(what)?;
        let remaining = self.bytes.len() - self.pos;
        if n.saturating_mul(min_size.max(1)) > remaining {
            return self.err(
                at,
                format!("{what} count {n} is larger than the {remaining} bytes that remain"),
            );
        }
        Ok(n)
    }
    fn str(&mut self, what: &str) -> Result<String, PsifnError> {
        let n = self.count(what, 1)?;
        let at = self.pos;
        let b = self.take(n, what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => self.err(at, format!("{what} is not UTF-8")),
        }
    }
    fn dtype(&mut self) -> Result<DType, PsifnError> {
        let at = self.pos;
        let c = self.u8("dtype")?;
        DType::from_mlx_code(c as i64)
            .map_or_else(|| self.err(at, format!("unknown dtype code {c}")), Ok)
    }
    fn ty(&mut self) -> Result<TensorType, PsifnError> {
        let dtype = self.dtype()?;
        let rank = self.count("rank", 8)?;
        let mut shape = Vec::with_capacity(rank);
        for _ in 0..rank {
            let at = self.pos;
            let d = self.i64("dimension")?;
            if d < -1 {
                return self.err(at, format!("dimension {d} is negative"));
            }
            shape.push(d);
        }
        Ok(TensorType::new(dtype, shape))
    }
    fn attr(&mut self) -> Result<Attr, PsifnError> {
        let at = self.pos;
        Ok(match self.u8("attribute tag")? {
            0 => match self.u8("bool")? {
                0 => Attr::Bool(false),
                1 => Attr::Bool(true),
                b => return self.err(at + 1, format!("bool byte {b} is not 0 or 1")),
            },
            1 => Attr::Int(self.i64("int")?),
            2 => Attr::Float(f64::from_bits(self.u64("float")?)),
            3 => {
                let n = self.count("int list", 8)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.i64("int")?);
                }
                Attr::Ints(v)
            }
            4 => Attr::Str(self.str("string")?),
            5 => Attr::DType(self.dtype()?),
            6 => {
                let t = self.ty()?;
                let shape = match t.static_shape() {
                    Some(s) => s,
                    None => return self.err(at, "dense data with a symbolic shape"),
                };
                let n_at = self.pos;
                let n = self.u64("dense byte count")?;
                if Some(n as usize) != t.num_bytes() {
                    return self.err(n_at, format!("dense data of {n} bytes does not fit {t}"));
                }
                let b = self.take(n as usize, "dense data")?;
                Literal::from_bytes(t.dtype, shape, b.to_vec())
                    .map(Attr::Dense)
                    .or_else(|e| self.err(n_at, e.0))?
            }
            t => return self.err(at, format!("unknown attribute tag {t}")),
        })
    }
}

/// Parses a module, verifying every op through the op table.
pub fn from_bytes(bytes: &[u8]) -> Result<Module, PsifnError> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return r.err(0, "not a .psifn file (bad magic)");
    }
    if bytes.len() < MAGIC.len() + 4 + 8 {
        return r.err(bytes.len(), "truncated header");
    }
    let body_end = bytes.len() - 8;
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&bytes[body_end..]);
    r.pos = MAGIC.len();
    let version = r.u32("version")? as u32;
    if version != VERSION {
        return r.err(
            MAGIC.len(),
            format!("version {version} is not supported (this build reads version {VERSION})"),
        );
    }
    if fnv1a(&bytes[..body_end]) != u64::from_le_bytes(sum) {
        return r.err(
            body_end,
            "checksum mismatch: the file is corrupt or truncated",
        );
    }
    let mut r = Reader {
        bytes: &bytes[..body_end],
        pos: r.pos,
    };
    let mut module = Module::new(Vec::new());
    let n = r.count("module attribute", 5)?;
    for _ in 0..n {
        let name = r.str("attribute name")?;
        let a = r.attr()?;
        module.set_attr(name, a);
    }
    let nf = r.count("function", 16)?;
    for _ in 0..nf {
        module.funcs.push(read_func(&mut r)?);
    }
    if r.pos != r.bytes.len() {
        return r.err(r.pos, "unexpected bytes after the last function");
    }
    Ok(module)
}

fn read_func(r: &mut Reader) -> Result<Func, PsifnError> {
    let name = r.str("function name")?;
    let mut attrs = Vec::new();
    for _ in 0..r.count("function attribute", 5)? {
        let n = r.str("attribute name")?;
        attrs.push((n, r.attr()?));
    }
    let np = r.count("parameter", 5)?;
    let mut params = Vec::with_capacity(np);
    for _ in 0..np {
        params.push(r.ty()?);
    }
    let mut f = Func::new(name, params);
    for (n, a) in attrs {
        f.set_attr(n, a);
    }
    let nops = r.count("op", 12)?;
    for i in 0..nops {
        let at = r.pos;
        let opname = r.str("op name")?;
        let opcode = Opcode::from_name(&opname)
            .map_or_else(|| r.err(at, format!("unknown op `{opname}`")), Ok)?;
        let nargs = r.count("operand", 4)?;
        let mut operands = Vec::with_capacity(nargs);
        for _ in 0..nargs {
            let vat = r.pos;
            let v = r.u32("operand")?;
            if v >= f.value_types.len() {
                return r.err(vat, format!("op {i} (`{opname}`) uses undefined value {v}"));
            }
            operands.push(Value(v as u32));
        }
        let mut op_attrs = Attrs::new();
        for _ in 0..r.count("attribute", 5)? {
            let nat = r.pos;
            let an = r.str("attribute name")?;
            let stat = attr_name(opcode.def(), &an).map_or_else(
                || r.err(nat, format!("`{opname}` has no attribute `{an}`")),
                Ok,
            )?;
            op_attrs.set(stat, r.attr()?);
        }
        f.push_at(opcode, &operands, op_attrs, Loc::default())
            .or_else(|e| r.err(at, format!("op {i}: {}", e.message)))?;
    }
    let nr = r.count("result", 4)?;
    for _ in 0..nr {
        let at = r.pos;
        let v = r.u32("result")?;
        if v >= f.value_types.len() {
            return r.err(at, format!("result refers to undefined value {v}"));
        }
        f.results.push(Value(v as u32));
    }
    Ok(f)
}

/// Reads a `.psifn` file.
pub fn load(path: &Path) -> Result<Module, PsifnError> {
    let bytes = std::fs::read(path).map_err(|e| PsifnError {
        offset: None,
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Module {
        let t = TensorType::new(DType::F32, vec![2, 3]);
        let mut f = Func::new(
            "main",
            vec![t.clone(), TensorType::new(DType::F32, vec![3])],
        );
        let (x, b) = (f.params[0], f.params[1]);
        let bb = f
            .push1(
                Opcode::Broadcast,
                &[b],
                Attrs::new().with("shape", Attr::Ints(vec![2, 3])),
            )
            .unwrap();
        let c = f
            .push1(
                Opcode::Constant,
                &[],
                Attrs::new().with(
                    "value",
                    Attr::Dense(Literal::from_f64(DType::BF16, vec![2], &[1.5, f64::NAN]).unwrap()),
                ),
            )
            .unwrap();
        let s = f.push1(Opcode::Add, &[x, bb], Attrs::new()).unwrap();
        let qr = f.push(Opcode::DivMod, &[s, x], Attrs::new()).unwrap();
        f.results = vec![qr[1], c, x];
        f.set_attr("kwargs", Attr::Str("scale".into()));
        let mut m = Module::new(vec![f]);
        m.set_attr("shapeless", Attr::Bool(false));
        m.set_attr("metadata", Attr::Str("héllo".into()));
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let bytes = to_bytes(&m);
        assert_eq!(from_bytes(&bytes).unwrap(), m.compact());
        assert_eq!(to_bytes(&from_bytes(&bytes).unwrap()), bytes);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_a_clean_error() {
        let bytes = to_bytes(&sample());
        for n in 0..bytes.len() {
            let e = from_bytes(&bytes[..n]).unwrap_err();
            assert!(!e.message.is_empty());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            assert!(from_bytes(&b).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = from_bytes(b"hello world, not a psifn").unwrap_err();
        assert_eq!(
            e.to_string(),
            "psifn: byte 0: not a .psifn file (bad magic)"
        );
        let mut b = to_bytes(&sample());
        b[8] = 9;
        let n = b.len() - 8;
        let sum = fnv1a(&b[..n]);
        b[n..].copy_from_slice(&sum.to_le_bytes());
        assert!(from_bytes(&b).unwrap_err().message.contains("version 9"));
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        // A function count of u32::MAX with a valid checksum must not allocate.
        let mut w = Writer(Vec::new());
        w.0.extend(MAGIC);
        w.0.extend(VERSION.to_le_bytes());
        w.u32(0);
        w.0.extend(u32::MAX.to_le_bytes());
        let sum = fnv1a(&w.0);
        w.0.extend(sum.to_le_bytes());
        let e = from_bytes(&w.0).unwrap_err();
        assert!(e.message.contains("function count"), "{e}");
    }

    proptest::proptest! {
        /// Mutations behind a recomputed checksum reach the parser proper:
        /// it must return a module or an error, never panic.
        #[test]
        fn mutated_files_never_panic(
            edits in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8),
            cut in 0usize..4096,
        ) {
            let mut b = to_bytes(&sample());
            let body = b.len() - 8;
            for (i, v) in edits {
                let i = MAGIC.len() + 4 + i % (body - MAGIC.len() - 4);
                b[i] = v;
            }
            let body = (MAGIC.len() + 4 + cut % (body - MAGIC.len() - 4)).max(body * (cut % 2));
            b.truncate(body);
            let sum = fnv1a(&b);
            b.extend(sum.to_le_bytes());
            let _ = from_bytes(&b);
        }
    }

    #[test]
    fn atomic_save_and_load() {
        let dir = std::env::temp_dir().join(format!("psifn-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.psifn");
        save(&p, &sample()).unwrap();
        assert_eq!(load(&p).unwrap(), sample().compact());
        let bad = dir.join("no/such/dir/m.psifn");
        assert!(save(&bad, &sample()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
