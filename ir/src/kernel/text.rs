//! Text form of the kernel-level IR: [`print_program`] and [`parse_program`].
//!
//! ```text
//! kernel.program @softmax(%b0: tensor<4x8xf32>) -> (tensor<4x8xf32>) {
//!   %b1 = kernel.buffer : tensor<4x8xf32>
//!   kernel.fused @k0 domain [4, 8] reduce [1] {
//!     loop {
//!       %0 = load %b0[0; 8, 1] : f32
//!       %1 = acc.logsumexp %0 : f32
//!     }
//!     map {
//!       %2 = load %b0[0; 8, 1] : f32
//!       %3 = subtract %2, %1 : f32
//!       %4 = exp %3 : f32
//!       store %b1[0; 8, 1], %4 : f32
//!     }
//!   }
//!   return %b1
//! }
//! ```
//!
//! A scan kernel has one reduced axis and `scan.<kind> %x` (inclusive) or
//! `scan.exclusive.<kind> %x` nodes in its `map` stage.
//!
//! Buffers are `%bN` (printed in order, parameters first), scalar nodes `%N`
//! (numbered per kernel in order). An index map `[offset; strides...]` gives
//! one stride per domain axis. A gather adds one term per index to a map:
//! `gather %b0[0; 8, 0] + 8 * %3 {axis = 0, size = 4, slice = 2} : f32`
//! (`slice` is printed when it is not 1). Scalar ops use the op table's names without
//! the `tensor.` prefix. Printing is deterministic and `parse(print(p)) == p`
//! once node ids are in print order (the printer renumbers).

use super::*;
use crate::attr::Attr;
use crate::kernel::scalar;
use std::collections::HashMap;
use std::fmt::Write;

fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v == f64::INFINITY {
        "inf".into()
    } else if v == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// Shortest decimal that reads back to the same value of `dtype` (floats of
/// at most 32 bits print as f32, which holds f16 and bf16 exactly).
fn fmt_scalar(v: f64, dtype: DType) -> String {
    if matches!(dtype, DType::F32 | DType::F16 | DType::BF16 | DType::C64) && v.is_finite() {
        let s = format!("{:?}", v as f32);
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        fmt_float(v)
    }
}

fn fmt_ints<T: std::fmt::Display>(v: &[T]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn fmt_map(m: &IndexMap) -> String {
    let parts: Vec<String> = m.strides.iter().map(|x| x.to_string()).collect();
    if parts.is_empty() {
        format!("[{}]", m.offset)
    } else {
        format!("[{}; {}]", m.offset, parts.join(", "))
    }
}

fn fmt_literal(l: &Literal) -> String {
    let d = l.dtype();
    let vals: Vec<String> = (0..l.num_elements())
        .map(|i| {
            if d.is_inexact() {
                fmt_scalar(l.get_f64(i), d)
            } else if d.is_bool() {
                (l.get_i64(i) != 0).to_string()
            } else {
                l.get_i64(i).to_string()
            }
        })
        .collect();
    format!("dense<[{}]> : {}", vals.join(", "), l.ty())
}

/// Prints one attribute value.
pub fn fmt_attr(a: &Attr) -> String {
    match a {
        Attr::Bool(b) => b.to_string(),
        Attr::Int(i) => i.to_string(),
        Attr::Float(f) => fmt_float(*f),
        Attr::Ints(v) => fmt_ints(v),
        Attr::Str(s) => format!("{s:?}"),
        Attr::DType(d) => d.name().to_string(),
        Attr::Dense(l) => fmt_literal(l),
    }
}

fn fmt_attrs(a: &Attrs) -> String {
    if a.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = a
        .iter()
        .map(|(n, v)| format!("{n} = {}", fmt_attr(v)))
        .collect();
    format!(" {{{}}}", parts.join(", "))
}

fn short(op: Opcode) -> &'static str {
    op.name().strip_prefix("tensor.").unwrap_or(op.name())
}

/// The data-dependent terms of a gather or scatter address:
/// ` + 8 * %3 {axis = 0, size = 4[, slice = 2][, clamp]}` per index.
fn fmt_index(s: &mut String, index: &[DynIndex], arg: &mut impl FnMut(&u32) -> String) {
    for d in index {
        let _ = write!(
            s,
            " + {} * {} {{axis = {}, size = {}",
            d.stride,
            arg(&d.arg),
            d.axis,
            d.dim
        );
        if d.slice != 1 {
            let _ = write!(s, ", slice = {}", d.slice);
        }
        if d.clamp {
            s.push_str(", clamp");
        }
        s.push('}');
    }
}

fn print_nodes(out: &mut String, nodes: &[Node], indent: &str, ids: &mut HashMap<u32, u32>) {
    for n in nodes {
        let mut arg = |a: &u32| format!("%{}", ids.get(a).copied().unwrap_or(u32::MAX));
        let body = match &n.instr {
            Instr::Load { buf, map } => format!("load %b{}{}", buf.0, fmt_map(map)),
            Instr::Gather { buf, map, index } => {
                let mut s = format!("gather %b{}{}", buf.0, fmt_map(map));
                fmt_index(&mut s, index, &mut arg);
                s
            }
            Instr::Scatter {
                buf,
                map,
                index,
                arg: a,
                reduce,
            } => {
                let mut s = format!(
                    "{indent}scatter.{} %b{}{}",
                    reduce.name(),
                    buf.0,
                    fmt_map(map)
                );
                fmt_index(&mut s, index, &mut arg);
                let _ = writeln!(out, "{s}, {} : {}", arg(a), n.dtype);
                continue;
            }
            Instr::LoadOr {
                buf,
                map,
                lo,
                hi,
                fill,
            } => format!(
                "load_or %b{}{} in {}..{} else {}",
                buf.0,
                fmt_map(map),
                fmt_ints(lo),
                fmt_ints(hi),
                arg(fill)
            ),
            Instr::Const(v) => {
                if n.dtype.is_inexact() {
                    format!("const {}", fmt_scalar(*v, n.dtype))
                } else {
                    format!("const {}", *v as i64)
                }
            }
            Instr::Op {
                opcode,
                attrs,
                args,
            } => {
                let a: Vec<String> = args.iter().map(&mut arg).collect();
                format!("{} {}{}", short(*opcode), a.join(", "), fmt_attrs(attrs))
            }
            Instr::Acc { kind, arg: a } => format!("acc.{} {}", kind.name(), arg(a)),
            Instr::Scan {
                kind,
                arg: a,
                exclusive,
            } => format!(
                "scan.{}{} {}",
                if *exclusive { "exclusive." } else { "" },
                kind.name(),
                arg(a)
            ),
            Instr::Store { buf, map, arg: a } => {
                let _ = writeln!(
                    out,
                    "{indent}store %b{}{}, {} : {}",
                    buf.0,
                    fmt_map(map),
                    arg(a),
                    n.dtype
                );
                continue;
            }
            Instr::MatmulResult => "matmul_result".to_string(),
        };
        let id = ids.len() as u32;
        ids.insert(n.id, id);
        let _ = writeln!(out, "{indent}%{id} = {body} : {}", n.dtype);
    }
}

/// Prints a program.
pub fn print_program(p: &KProgram) -> String {
    let mut out = String::new();
    let params: Vec<String> = p
        .params
        .iter()
        .map(|&b| format!("%b{}: {}", b.0, p.buffer(b).ty))
        .collect();
    let res: Vec<String> = p
        .results
        .iter()
        .map(|&b| p.buffer(b).ty.to_string())
        .collect();
    let _ = writeln!(
        out,
        "kernel.program @{}({}) -> ({}) {{",
        p.name,
        params.join(", "),
        res.join(", ")
    );
    for (i, b) in p.buffers.iter().enumerate() {
        let slot = b
            .slot
            .map(|s| format!(" {{slot = {s}}}"))
            .unwrap_or_default();
        match &b.kind {
            BufferKind::Param(_) => {}
            BufferKind::Temp => {
                let _ = writeln!(out, "  %b{i} = kernel.buffer{slot} : {}", b.ty);
            }
            BufferKind::Const(l) => {
                let _ = writeln!(out, "  %b{i} = kernel.constant {}", fmt_literal(l));
            }
        }
    }
    for item in &p.items {
        match item {
            Item::Kernel(k) => {
                let _ = writeln!(
                    out,
                    "  kernel.fused @{} domain {} reduce {} {{",
                    k.name,
                    fmt_ints(&k.domain),
                    fmt_ints(&k.reduce_axes)
                );
                let mut ids = HashMap::new();
                for s in &k.stages {
                    let _ = writeln!(out, "    {} {{", s.kind.name());
                    print_nodes(&mut out, &s.nodes, "      ", &mut ids);
                    let _ = writeln!(out, "    }}");
                }
                let _ = writeln!(out, "  }}");
            }
            Item::Matmul(m) => {
                let _ = writeln!(
                    out,
                    "  kernel.matmul @{} %b{}{}, %b{}{} batch {} m {} n {} k {} : {} {{",
                    m.name,
                    m.a.0,
                    fmt_map(&m.a_map),
                    m.b.0,
                    fmt_map(&m.b_map),
                    fmt_ints(&m.batch),
                    m.m,
                    m.n,
                    m.k,
                    m.dtype
                );
                print_nodes(&mut out, &m.epilogue, "    ", &mut HashMap::new());
                let _ = writeln!(out, "  }}");
            }
            Item::LibOp(l) => {
                let ins: Vec<String> = l.inputs.iter().map(|b| format!("%b{}", b.0)).collect();
                let outs: Vec<String> = l.outputs.iter().map(|b| format!("%b{}", b.0)).collect();
                let _ = writeln!(
                    out,
                    "  kernel.op {}{} ({}) -> ({})",
                    l.opcode.name(),
                    fmt_attrs(&l.attrs),
                    ins.join(", "),
                    outs.join(", ")
                );
            }
        }
    }
    let res: Vec<String> = p.results.iter().map(|b| format!("%b{}", b.0)).collect();
    let _ = writeln!(out, "  return {}", res.join(", "));
    out.push_str("}\n");
    out
}

/// A parse error with its 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}
impl std::error::Error for ParseError {}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        let before = &self.src[..self.pos];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        Err(ParseError {
            line,
            col,
            message: msg.into(),
        })
    }
    fn skip_ws(&mut self) {
        loop {
            let rest = &self.src[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                let end = trimmed.find('\n').unwrap_or(trimmed.len());
                self.pos += end;
            } else {
                break;
            }
        }
    }
    fn peek(&mut self, s: &str) -> bool {
        self.skip_ws();
        self.src[self.pos..].starts_with(s)
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.peek(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, s: &str) -> PResult<()> {
        if self.eat(s) {
            Ok(())
        } else {
            let found: String = self.src[self.pos..].chars().take(12).collect();
            self.err(format!("expected `{s}`, found `{found}`"))
        }
    }
    fn word(&mut self) -> PResult<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let n = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return self.err("expected a name");
        }
        self.pos += n;
        Ok(&rest[..n])
    }
    fn number_text(&mut self) -> PResult<&'a str> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let n = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphanumeric()
                    || c == '.'
                    || ((c == '-' || c == '+') && (i == 0 || rest[..i].ends_with('e'))))
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if n == 0 {
            return self.err("expected a number");
        }
        self.pos += n;
        Ok(&rest[..n])
    }
    fn int(&mut self) -> PResult<i64> {
        let t = self.number_text()?;
        match t.parse() {
            Ok(v) => Ok(v),
            Err(_) => self.err(format!("`{t}` is not an integer")),
        }
    }
    fn float(&mut self) -> PResult<f64> {
        let t = self.number_text()?;
        match t {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => match t.parse() {
                Ok(v) => Ok(v),
                Err(_) => self.err(format!("`{t}` is not a number")),
            },
        }
    }
    fn ints(&mut self) -> PResult<Vec<i64>> {
        self.expect("[")?;
        let mut v = Vec::new();
        if !self.eat("]") {
            loop {
                v.push(self.int()?);
                if self.eat("]") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(v)
    }
    fn usizes(&mut self) -> PResult<Vec<usize>> {
        let v = self.ints()?;
        if v.iter().any(|&x| x < 0) {
            return self.err("sizes and axes must be non-negative");
        }
        Ok(v.into_iter().map(|x| x as usize).collect())
    }
    fn dtype(&mut self) -> PResult<DType> {
        let w = self.word()?;
        match DType::from_name(w) {
            Some(d) => Ok(d),
            None => self.err(format!("unknown dtype `{w}`")),
        }
    }
    fn tensor_type(&mut self) -> PResult<TensorType> {
        self.expect("tensor<")?;
        let rest = &self.src[self.pos..];
        let Some(end) = rest.find('>') else {
            return self.err("unterminated tensor type");
        };
        let body = &rest[..end];
        let mut parts: Vec<&str> = body.split('x').collect();
        let Some(dt) = parts.pop() else {
            return self.err("empty tensor type");
        };
        let Some(dtype) = DType::from_name(dt) else {
            return self.err(format!("unknown dtype `{dt}`"));
        };
        let mut shape = Vec::new();
        for p in parts {
            match p.parse::<i64>() {
                Ok(d) if d >= 0 => shape.push(d),
                _ => return self.err(format!("bad dimension `{p}` (kernel IR is static)")),
            }
        }
        self.pos += end + 1;
        Ok(TensorType::new(dtype, shape))
    }
    fn buf(&mut self) -> PResult<BufId> {
        self.expect("%b")?;
        let v = self.int()?;
        if v < 0 {
            return self.err("bad buffer id");
        }
        Ok(BufId(v as u32))
    }
    fn map(&mut self) -> PResult<IndexMap> {
        self.expect("[")?;
        let offset = self.int()?;
        let mut strides = Vec::new();
        if self.eat(";") {
            loop {
                strides.push(self.int()?);
                if !self.eat(",") {
                    break;
                }
            }
        }
        self.expect("]")?;
        Ok(IndexMap { offset, strides })
    }
    fn literal(&mut self) -> PResult<Literal> {
        self.expect("dense<")?;
        self.expect("[")?;
        let mut vals = Vec::new();
        if !self.eat("]") {
            loop {
                if self.eat("true") {
                    vals.push(1.0);
                } else if self.eat("false") {
                    vals.push(0.0);
                } else {
                    vals.push(self.float()?);
                }
                if self.eat("]") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.expect(">")?;
        self.expect(":")?;
        let ty = self.tensor_type()?;
        let shape: Vec<usize> = ty.shape.iter().map(|&d| d as usize).collect();
        let lit = if ty.dtype.is_integer() {
            let iv: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
            Literal::from_i64(ty.dtype, shape, &iv)
        } else {
            Literal::from_f64(ty.dtype, shape, &vals)
        };
        match lit {
            Ok(l) => Ok(l),
            Err(e) => self.err(e.0),
        }
    }
    fn attr(&mut self) -> PResult<Attr> {
        self.skip_ws();
        if self.peek("[") {
            return Ok(Attr::Ints(self.ints()?));
        }
        if self.peek("dense<") {
            return Ok(Attr::Dense(self.literal()?));
        }
        if self.peek("\"") {
            self.pos += 1;
            let mut s = String::new();
            let mut chars = self.src[self.pos..].char_indices();
            loop {
                match chars.next() {
                    None => return self.err("unterminated string"),
                    Some((i, '"')) => {
                        self.pos += i + 1;
                        return Ok(Attr::Str(s));
                    }
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, c)) => s.push(c),
                        None => return self.err("unterminated string"),
                    },
                    Some((_, c)) => s.push(c),
                }
            }
        }
        if self.eat("true") {
            return Ok(Attr::Bool(true));
        }
        if self.eat("false") {
            return Ok(Attr::Bool(false));
        }
        let start = self.pos;
        let t = self.number_text()?;
        if let Some(d) = DType::from_name(t) {
            return Ok(Attr::DType(d));
        }
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Attr::Int(i));
        }
        self.pos = start;
        Ok(Attr::Float(self.float()?))
    }
    fn attrs(&mut self, opcode: Opcode) -> PResult<Attrs> {
        let mut a = Attrs::new();
        if !self.eat("{") {
            return Ok(a);
        }
        loop {
            let name = self.word()?;
            let pairs = (name == super::pairs::ATTR).then_some(super::pairs::ATTR);
            let Some(stat) = pairs.or_else(|| crate::ops::attr_name(opcode.def(), name)) else {
                return self.err(format!("`{opcode}` has no attribute `{name}`"));
            };
            self.expect("=")?;
            a.set(stat, self.attr()?);
            if self.eat("}") {
                break;
            }
            self.expect(",")?;
        }
        Ok(a)
    }
    fn node_ref(&mut self, ids: &HashMap<u32, u32>) -> PResult<u32> {
        self.expect("%")?;
        let v = self.int()?;
        match ids.get(&(v as u32)) {
            Some(&i) if v >= 0 => Ok(i),
            _ => self.err(format!("scalar %{v} is not defined")),
        }
    }
    /// `scatter.<kind>` at the cursor (consumed), if there is one.
    fn scatter_kind(&mut self) -> PResult<Option<ScatterKind>> {
        let start = self.pos;
        if !self.eat("scatter.") {
            return Ok(None);
        }
        let w = self.word()?;
        match ScatterKind::from_name(w) {
            Some(k) => Ok(Some(k)),
            None => {
                self.pos = start;
                self.err(format!("unknown scatter `scatter.{w}`"))
            }
        }
    }
    /// The ` + stride * %i {axis = A, size = D[, slice = S][, clamp]}`
    /// terms of a gather or scatter address.
    fn index_terms(&mut self, ids: &HashMap<u32, u32>) -> PResult<Vec<DynIndex>> {
        let mut index = Vec::new();
        while self.eat("+") {
            let stride = self.int()?;
            self.expect("*")?;
            let arg = self.node_ref(ids)?;
            let field = |this: &mut Self, name: &str| -> PResult<usize> {
                this.expect(name)?;
                this.expect("=")?;
                let v = this.int()?;
                if v < 0 {
                    return this.err(format!("`{name}` must be non-negative"));
                }
                Ok(v as usize)
            };
            self.expect("{")?;
            let axis = field(self, "axis")? as u32;
            self.expect(",")?;
            let dim = field(self, "size")?;
            let mut slice = 1;
            let mut clamp = false;
            while self.eat(",") {
                if self.eat("clamp") {
                    clamp = true;
                } else {
                    slice = field(self, "slice")?;
                }
            }
            self.expect("}")?;
            index.push(DynIndex {
                arg,
                stride,
                dim,
                slice,
                axis,
                clamp,
            });
        }
        Ok(index)
    }
    /// Parses nodes until `}` (consumed).
    fn nodes(&mut self, ids: &mut HashMap<u32, u32>, next: &mut u32) -> PResult<Vec<Node>> {
        let mut nodes = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(nodes);
            }
            if let Some(reduce) = self.scatter_kind()? {
                let buf = self.buf()?;
                let map = self.map()?;
                let index = self.index_terms(ids)?;
                self.expect(",")?;
                let arg = self.node_ref(ids)?;
                self.expect(":")?;
                let dtype = self.dtype()?;
                nodes.push(Node {
                    id: *next,
                    dtype,
                    instr: Instr::Scatter {
                        buf,
                        map,
                        index,
                        arg,
                        reduce,
                    },
                });
                *next += 1;
                continue;
            }
            if self.eat("store") {
                let buf = self.buf()?;
                let map = self.map()?;
                self.expect(",")?;
                let arg = self.node_ref(ids)?;
                self.expect(":")?;
                let dtype = self.dtype()?;
                nodes.push(Node {
                    id: *next,
                    dtype,
                    instr: Instr::Store { buf, map, arg },
                });
                *next += 1;
                continue;
            }
            self.expect("%")?;
            let name = self.int()?;
            self.expect("=")?;
            let w = self.word()?;
            let instr = match w {
                "load" => {
                    let buf = self.buf()?;
                    Instr::Load {
                        buf,
                        map: self.map()?,
                    }
                }
                "gather" => {
                    let buf = self.buf()?;
                    let map = self.map()?;
                    let index = self.index_terms(ids)?;
                    Instr::Gather { buf, map, index }
                }
                "load_or" => {
                    let buf = self.buf()?;
                    let map = self.map()?;
                    self.expect("in")?;
                    let lo = self.ints()?;
                    self.expect("..")?;
                    let hi = self.ints()?;
                    self.expect("else")?;
                    Instr::LoadOr {
                        buf,
                        map,
                        lo,
                        hi,
                        fill: self.node_ref(ids)?,
                    }
                }
                "const" => Instr::Const(self.float()?),
                "matmul_result" => Instr::MatmulResult,
                _ if w.starts_with("scan.") => {
                    let rest = &w[5..];
                    let (exclusive, name) = match rest.strip_prefix("exclusive.") {
                        Some(n) => (true, n),
                        None => (false, rest),
                    };
                    let Some(kind) = AccKind::from_name(name) else {
                        return self.err(format!("unknown scan `{w}`"));
                    };
                    Instr::Scan {
                        kind,
                        arg: self.node_ref(ids)?,
                        exclusive,
                    }
                }
                _ if w.starts_with("acc.") => {
                    let Some(kind) = AccKind::from_name(&w[4..]) else {
                        return self.err(format!("unknown accumulator `{w}`"));
                    };
                    Instr::Acc {
                        kind,
                        arg: self.node_ref(ids)?,
                    }
                }
                _ => {
                    let Some(opcode) = Opcode::from_name(&format!("tensor.{w}")) else {
                        return self.err(format!("unknown scalar op `{w}`"));
                    };
                    let mut args = vec![self.node_ref(ids)?];
                    while self.eat(",") {
                        args.push(self.node_ref(ids)?);
                    }
                    let attrs = self.attrs(opcode)?;
                    Instr::Op {
                        opcode,
                        attrs,
                        args,
                    }
                }
            };
            self.expect(":")?;
            let dtype = self.dtype()?;
            // Constants hold their value rounded to the node's dtype.
            let instr = match instr {
                Instr::Const(v) => Instr::Const(scalar::round_to(dtype, v)),
                other => other,
            };
            if name < 0 || ids.insert(name as u32, *next).is_some() {
                return self.err(format!("scalar %{name} defined twice"));
            }
            nodes.push(Node {
                id: *next,
                dtype,
                instr,
            });
            *next += 1;
        }
    }
    fn program(&mut self) -> PResult<KProgram> {
        self.expect("kernel.program")?;
        self.expect("@")?;
        let name = self.word()?.to_string();
        let mut p = KProgram {
            name,
            buffers: Vec::new(),
            params: Vec::new(),
            items: Vec::new(),
            results: Vec::new(),
        };
        let decl = |p: &mut KProgram, this: &Self, b: BufId, buf: Buffer| -> PResult<()> {
            if b.index() != p.buffers.len() {
                return this.err(format!(
                    "buffer %b{} declared out of order (expected %b{})",
                    b.0,
                    p.buffers.len()
                ));
            }
            p.buffers.push(buf);
            Ok(())
        };
        self.expect("(")?;
        if !self.eat(")") {
            loop {
                let b = self.buf()?;
                self.expect(":")?;
                let ty = self.tensor_type()?;
                let n = p.params.len() as u32;
                decl(
                    &mut p,
                    self,
                    b,
                    Buffer {
                        ty,
                        kind: BufferKind::Param(n),
                        slot: None,
                    },
                )?;
                p.params.push(b);
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.expect("->")?;
        self.expect("(")?;
        while !self.eat(")") {
            self.tensor_type()?;
            self.eat(",");
        }
        self.expect("{")?;
        let mut kernel_count = 0;
        loop {
            if self.eat("return") {
                if !self.peek("}") {
                    loop {
                        p.results.push(self.buf()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                }
                self.expect("}")?;
                break;
            }
            if self.peek("%b") {
                let b = self.buf()?;
                self.expect("=")?;
                if self.eat("kernel.buffer") {
                    let mut slot = None;
                    if self.eat("{") {
                        self.expect("slot")?;
                        self.expect("=")?;
                        slot = Some(self.int()? as u32);
                        self.expect("}")?;
                    }
                    self.expect(":")?;
                    let ty = self.tensor_type()?;
                    decl(
                        &mut p,
                        self,
                        b,
                        Buffer {
                            ty,
                            kind: BufferKind::Temp,
                            slot,
                        },
                    )?;
                } else if self.eat("kernel.constant") {
                    let l = self.literal()?;
                    decl(
                        &mut p,
                        self,
                        b,
                        Buffer {
                            ty: l.ty(),
                            kind: BufferKind::Const(l),
                            slot: None,
                        },
                    )?;
                } else {
                    return self.err("expected `kernel.buffer` or `kernel.constant`");
                }
                continue;
            }
            if self.eat("kernel.fused") {
                self.expect("@")?;
                let name = self.word()?.to_string();
                self.expect("domain")?;
                let domain = self.usizes()?;
                self.expect("reduce")?;
                let reduce_axes = self.usizes()?;
                self.expect("{")?;
                let mut stages = Vec::new();
                let mut ids = HashMap::new();
                let mut next = 0;
                while !self.eat("}") {
                    let w = self.word()?;
                    let kind = match w {
                        "loop" => StageKind::Loop,
                        "outer" => StageKind::Outer,
                        "map" => StageKind::Map,
                        _ => {
                            return self
                                .err(format!("expected `loop`, `outer` or `map`, found `{w}`"))
                        }
                    };
                    self.expect("{")?;
                    let nodes = self.nodes(&mut ids, &mut next)?;
                    stages.push(Stage { kind, nodes });
                }
                kernel_count += 1;
                p.items.push(Item::Kernel(Kernel {
                    name,
                    domain,
                    reduce_axes,
                    stages,
                }));
                continue;
            }
            if self.eat("kernel.matmul") {
                self.expect("@")?;
                let name = self.word()?.to_string();
                let a = self.buf()?;
                let a_map = self.map()?;
                self.expect(",")?;
                let b = self.buf()?;
                let b_map = self.map()?;
                self.expect("batch")?;
                let batch = self.usizes()?;
                let dim = |this: &mut Self, w: &str| -> PResult<usize> {
                    this.expect(w)?;
                    let v = this.int()?;
                    if v < 0 {
                        return this.err("negative size");
                    }
                    Ok(v as usize)
                };
                let m = dim(self, "m")?;
                let n = dim(self, "n")?;
                let k = dim(self, "k")?;
                self.expect(":")?;
                let dtype = self.dtype()?;
                self.expect("{")?;
                let epilogue = self.nodes(&mut HashMap::new(), &mut 0)?;
                p.items.push(Item::Matmul(MatmulCall {
                    name,
                    a,
                    a_map,
                    b,
                    b_map,
                    batch,
                    m,
                    n,
                    k,
                    dtype,
                    epilogue,
                }));
                continue;
            }
            if self.eat("kernel.op") {
                let w = self.word()?;
                let Some(opcode) = Opcode::from_name(w) else {
                    return self.err(format!("unknown op `{w}`"));
                };
                let attrs = self.attrs(opcode)?;
                let list = |this: &mut Self| -> PResult<Vec<BufId>> {
                    this.expect("(")?;
                    let mut v = Vec::new();
                    while !this.eat(")") {
                        v.push(this.buf()?);
                        this.eat(",");
                    }
                    Ok(v)
                };
                let inputs = list(self)?;
                self.expect("->")?;
                let outputs = list(self)?;
                p.items.push(Item::LibOp(LibOp {
                    opcode,
                    attrs,
                    inputs,
                    outputs,
                }));
                continue;
            }
            let found: String = self.src[self.pos..].chars().take(16).collect();
            return self.err(format!("expected a buffer, `kernel.fused`, `kernel.matmul`, `kernel.op` or `return`, found `{found}`"));
        }
        let _ = kernel_count;
        Ok(p)
    }
}

/// Parses one program. Node ids are renumbered in order of definition.
pub fn parse_program(src: &str) -> Result<KProgram, ParseError> {
    let mut p = Parser { src, pos: 0 };
    let prog = p.program()?;
    p.skip_ws();
    if p.pos != src.len() {
        return p.err("text after the end of the program");
    }
    Ok(prog)
}
