//! The printer: deterministic text for functions, modules, attributes and
//! dense literals. It never fails and never panics, even on IR the verifier
//! would reject (undefined values print as `%undefN`).

use super::lexer::{is_bare_word, quote};
use crate::attr::{Attr, Attrs};
use crate::dtype::DType;
use crate::func::{Func, Module, Value};
use crate::literal::Literal;
use half::{bf16, f16};
use std::fmt::Write;

/// Dense literals with more elements than this print as hex bytes.
pub const MAX_DECIMAL_ELEMENTS: usize = 256;

/// Prints one function (no trailing blank line).
pub fn print_func(f: &Func) -> String {
    let mut out = String::new();
    write_func(&mut out, f, "");
    out
}

/// Prints a module: `module attributes {...} { ... }` when it has attributes,
/// otherwise its functions one after another, separated by blank lines.
pub fn print_module(m: &Module) -> String {
    let mut out = String::new();
    let indent = if m.attrs.is_empty() {
        ""
    } else {
        out.push_str("module attributes ");
        write_named_attrs(&mut out, &m.attrs);
        out.push_str(" {\n");
        "  "
    };
    for (i, f) in m.funcs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_func(&mut out, f, indent);
    }
    if !m.attrs.is_empty() {
        out.push_str("}\n");
    }
    out
}

/// Value numbering in definition order: parameters, then op results.
struct Names {
    num: Vec<Option<u32>>,
}

impl Names {
    fn new(f: &Func) -> Self {
        let mut num = vec![None; f.value_types.len()];
        let mut next = 0u32;
        let defs = f
            .params
            .iter()
            .chain(f.ops.iter().flat_map(|op| op.results.iter()));
        for v in defs {
            if let Some(slot @ None) = num.get_mut(v.index()) {
                *slot = Some(next);
                next += 1;
            }
        }
        Names { num }
    }

    fn write(&self, out: &mut String, v: Value) {
        match self.num.get(v.index()).copied().flatten() {
            Some(n) => {
                let _ = write!(out, "%{n}");
            }
            None => {
                let _ = write!(out, "%undef{}", v.0);
            }
        }
    }

    fn write_list(&self, out: &mut String, vs: &[Value]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.write(out, v);
        }
    }
}

fn write_type_of(out: &mut String, f: &Func, v: Value) {
    match f.value_types.get(v.index()) {
        Some(t) => {
            let _ = write!(out, "{t}");
        }
        None => out.push_str("<<value without type>>"),
    }
}

fn write_func(out: &mut String, f: &Func, indent: &str) {
    let names = Names::new(f);
    out.push_str(indent);
    out.push_str("func @");
    if is_bare_word(&f.name) {
        out.push_str(&f.name);
    } else {
        out.push_str(&quote(&f.name));
    }
    out.push('(');
    for (i, &p) in f.params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        names.write(out, p);
        out.push_str(": ");
        write_type_of(out, f, p);
    }
    out.push_str(") -> (");
    for (i, &r) in f.results.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_type_of(out, f, r);
    }
    out.push(')');
    if !f.attrs.is_empty() {
        out.push_str(" attributes ");
        write_named_attrs(out, &f.attrs);
    }
    out.push_str(" {\n");
    for op in &f.ops {
        out.push_str(indent);
        out.push_str("  ");
        names.write_list(out, &op.results);
        out.push_str(" = ");
        out.push_str(op.opcode.name());
        if !op.operands.is_empty() {
            out.push(' ');
            names.write_list(out, &op.operands);
        }
        if !op.attrs.is_empty() {
            out.push(' ');
            write_op_attrs(out, &op.attrs);
        }
        out.push_str(" : ");
        for (i, &r) in op.results.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_type_of(out, f, r);
        }
        out.push('\n');
    }
    out.push_str(indent);
    out.push_str("  return");
    if !f.results.is_empty() {
        out.push(' ');
        names.write_list(out, &f.results);
    }
    out.push('\n');
    out.push_str(indent);
    out.push_str("}\n");
}

fn write_op_attrs(out: &mut String, attrs: &Attrs) {
    out.push('{');
    for (i, (name, a)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str(" = ");
        write_attr(out, a);
    }
    out.push('}');
}

fn write_named_attrs(out: &mut String, attrs: &[(String, Attr)]) {
    out.push('{');
    for (i, (name, a)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_bare_word(name) {
            out.push_str(name);
        } else {
            out.push_str(&quote(name));
        }
        out.push_str(" = ");
        write_attr(out, a);
    }
    out.push('}');
}

/// Prints one attribute value as it appears after `name = `.
pub fn print_attr(a: &Attr) -> String {
    let mut out = String::new();
    write_attr(&mut out, a);
    out
}

fn write_attr(out: &mut String, a: &Attr) {
    match a {
        Attr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Attr::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Attr::Float(x) => out.push_str(&fmt_f64(*x)),
        Attr::Ints(v) => {
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Attr::Str(s) => out.push_str(&quote(s)),
        Attr::DType(d) => out.push_str(d.name()),
        Attr::Dense(l) => write_literal(out, l),
    }
}

/// Shortest round-trip decimal of an f64, always with `.` or an exponent;
/// `nan`, `inf`, `-inf`.
pub(crate) fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else {
        // Debug gives the shortest round-trip form with `.0` or `e` and `inf`/`-inf`.
        format!("{x:?}")
    }
}

fn fmt_f32(x: f32) -> String {
    if x.is_nan() {
        "nan".into()
    } else {
        format!("{x:?}")
    }
}

/// Prints a dense literal: `dense<...> : tensor<...>`.
pub fn print_literal(l: &Literal) -> String {
    let mut out = String::new();
    write_literal(&mut out, l);
    out
}

fn needs_hex(l: &Literal) -> bool {
    l.dtype() == DType::C64
        || l.num_elements() > MAX_DECIMAL_ELEMENTS
        || (l.dtype().is_float() && (0..l.num_elements()).any(|i| l.get_f64(i).is_nan()))
}

fn write_literal(out: &mut String, l: &Literal) {
    out.push_str("dense<");
    if needs_hex(l) {
        out.push_str("\"0x");
        for b in l.bytes() {
            let _ = write!(out, "{b:02X}");
        }
        out.push('"');
    } else {
        let mut next = 0usize;
        write_nested(out, l, l.shape(), &mut next);
    }
    let _ = write!(out, "> : {}", l.ty());
}

fn write_nested(out: &mut String, l: &Literal, shape: &[usize], next: &mut usize) {
    match shape.split_first() {
        None => {
            write_element(out, l, *next);
            *next += 1;
        }
        Some((&n, rest)) => {
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                write_nested(out, l, rest, next);
            }
            out.push(']');
        }
    }
}

fn write_element(out: &mut String, l: &Literal, i: usize) {
    let d = l.dtype();
    let b = &l.bytes()[i * d.size()..(i + 1) * d.size()];
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    let s = match d {
        DType::Bool => (if b[0] != 0 { "true" } else { "false" }).to_string(),
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => u64::from_le_bytes(a).to_string(),
        DType::I8 => (b[0] as i8).to_string(),
        DType::I16 => i16::from_le_bytes([a[0], a[1]]).to_string(),
        DType::I32 => i32::from_le_bytes([a[0], a[1], a[2], a[3]]).to_string(),
        DType::I64 => i64::from_le_bytes(a).to_string(),
        DType::F16 => fmt_f32(f16::from_le_bytes([a[0], a[1]]).to_f32()),
        DType::BF16 => fmt_f32(bf16::from_le_bytes([a[0], a[1]]).to_f32()),
        DType::F32 => fmt_f32(f32::from_le_bytes([a[0], a[1], a[2], a[3]])),
        DType::F64 => fmt_f64(f64::from_le_bytes(a)),
        // c64 always prints as hex; keep a readable fallback anyway.
        DType::C64 => fmt_f32(f32::from_le_bytes([a[0], a[1], a[2], a[3]])),
    };
    out.push_str(&s);
}
