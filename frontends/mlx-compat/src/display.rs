//! `Display` for arrays in MLX's style: `array([[1, 2],\n       [3, 4]],
//! dtype=int32)`. Printing evaluates the array, as MLX's `print` does; a
//! failure prints as `array(error: ...)`.

use crate::array::Array;
use psionic_ir::{DType, Literal};
use std::fmt;

/// MLX's name of a dtype (`float32`, `int8`, `bool` ...).
pub fn mlx_dtype_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::U8 => "uint8",
        DType::U16 => "uint16",
        DType::U32 => "uint32",
        DType::U64 => "uint64",
        DType::I8 => "int8",
        DType::I16 => "int16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::F16 => "float16",
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::BF16 => "bfloat16",
        DType::C64 => "complex64",
    }
}

fn element(lit: &Literal, i: usize) -> String {
    let d = lit.dtype();
    if d.is_bool() {
        return if lit.get_i64(i) != 0 { "True" } else { "False" }.into();
    }
    if d == DType::U64 {
        return (lit.get_i64(i) as u64).to_string();
    }
    if d.is_integer() {
        return lit.get_i64(i).to_string();
    }
    let v = lit.get_f64(i);
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e16) {
        // Shortest round-trip digits of the element's own precision.
        let s = if d == DType::F64 {
            format!("{v:e}")
        } else {
            format!("{:e}", v as f32)
        };
        // C's `%g` style exponent: a sign and at least two digits.
        match s.split_once('e') {
            Some((m, e)) => {
                let e: i32 = e.parse().unwrap_or(0);
                let sign = if e < 0 { '-' } else { '+' };
                format!("{m}e{sign}{:02}", e.abs())
            }
            None => s,
        }
    } else if d == DType::F64 {
        format!("{v}")
    } else {
        format!("{}", v as f32)
    }
}

fn nested(out: &mut String, lit: &Literal, shape: &[usize], offset: usize, depth: usize) {
    out.push('[');
    match shape {
        [] => {}
        [n] => {
            for i in 0..*n {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&element(lit, offset + i));
            }
        }
        [n, rest @ ..] => {
            let stride: usize = rest.iter().product();
            for i in 0..*n {
                if i > 0 {
                    out.push(',');
                    out.push_str(&"\n".repeat(rest.len()));
                    // Align under the first bracket: "array(" plus depth.
                    out.push_str(&" ".repeat(6 + depth + 1));
                }
                nested(out, lit, rest, offset + i * stride, depth + 1);
            }
        }
    }
    out.push(']');
}

impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lit = match self.literal() {
            Ok(l) => l,
            Err(e) => return write!(f, "array(error: {e})"),
        };
        let mut s = String::new();
        if lit.shape().is_empty() {
            s.push_str(&element(&lit, 0));
        } else {
            nested(&mut s, &lit, lit.shape(), 0, 0);
        }
        write!(f, "array({s}, dtype={})", mlx_dtype_name(lit.dtype()))
    }
}
