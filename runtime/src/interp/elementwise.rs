//! Elementwise ops: unary, binary, comparisons, select, cast, bitcast.
//!
//! Floats are computed in f64 and rounded to the dtype once; integers are
//! exact in i128 and wrapped to the dtype; bool arithmetic is integer
//! arithmetic followed by "non-zero" (so add is or, multiply is and,
//! subtract is xor).

use psionic_ir::{DType, Literal, Opcode};

use super::complex::C;
use super::data::{
    arr, bits, decode, encode, encode_complex, encode_floats, encode_ints, wrap, Data,
};
use super::special::{erf, erfinv};

fn unsupported(op: Opcode, dt: DType) -> String {
    format!("`{op}` is not defined for {dt}")
}

fn floor_div_int(a: i128, b: i128) -> i128 {
    if b == 0 {
        return 0;
    }
    let q = a / b;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn rem_int(a: i128, b: i128) -> i128 {
    if b == 0 {
        return 0;
    }
    let r = a % b;
    if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    }
}

/// Python's float `%`: the result takes the sign of `b`.
pub fn rem_float(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
        r + b
    } else {
        r
    }
}

fn pow_int(base: i128, exp: i128, dt: DType) -> i128 {
    if exp < 0 {
        // Integer powers with negative exponents are 0, bases 1 and -1
        // included, as MLX's (`Power` returns 0 for any integral `exp < 0`).
        return 0;
    }
    let (mut b, mut e, mut r) = (base, exp, 1i128);
    while e > 0 {
        if e & 1 == 1 {
            r = r.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    wrap(r, dt)
}

/// NaN-propagating maximum and minimum.
pub fn fmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}
pub fn fmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

/// log(e^a + e^b) without overflow.
pub fn logaddexp(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    let m = a.max(b);
    if m.is_infinite() {
        return m;
    }
    m + (-(a - b).abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn sign_f(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn unary_float_fn(op: Opcode) -> Option<fn(f64) -> f64> {
    use Opcode::*;
    Some(match op {
        Abs => f64::abs,
        Negative => |x| -x,
        Sign => sign_f,
        Square => |x| x * x,
        Sqrt => f64::sqrt,
        Rsqrt => |x| 1.0 / x.sqrt(),
        Reciprocal => |x| 1.0 / x,
        Exp => f64::exp,
        Expm1 => f64::exp_m1,
        Log => f64::ln,
        Log1p => f64::ln_1p,
        Log2 => f64::log2,
        Log10 => f64::log10,
        Sin => f64::sin,
        Cos => f64::cos,
        Tan => f64::tan,
        Arcsin => f64::asin,
        Arccos => f64::acos,
        Arctan => f64::atan,
        Sinh => f64::sinh,
        Cosh => f64::cosh,
        Tanh => f64::tanh,
        Arcsinh => libm::asinh,
        Arccosh => libm::acosh,
        Arctanh => libm::atanh,
        Sigmoid => sigmoid,
        Erf => erf,
        Erfinv => erfinv,
        Floor => f64::floor,
        Ceil => f64::ceil,
        Round => f64::round_ties_even,
        StopGradient | Copy => |x| x,
        _ => return None,
    })
}

fn unary_complex(op: Opcode, z: C) -> Option<C> {
    use Opcode::*;
    Some(match op {
        Abs => C::real(z.abs()),
        Negative => -z,
        Sign => {
            if z.is_zero() {
                C::default()
            } else {
                let r = z.abs();
                C::new(z.re / r, z.im / r)
            }
        }
        Square => z * z,
        Sqrt => z.sqrt(),
        Rsqrt => z.sqrt().recip(),
        Reciprocal => z.recip(),
        Exp => z.exp(),
        Expm1 => z.exp() - C::ONE,
        Log => z.ln(),
        Log1p => (z + C::ONE).ln(),
        Log2 => {
            let l = z.ln();
            C::new(l.re / std::f64::consts::LN_2, l.im / std::f64::consts::LN_2)
        }
        Log10 => {
            let l = z.ln();
            C::new(
                l.re / std::f64::consts::LN_10,
                l.im / std::f64::consts::LN_10,
            )
        }
        Sin => z.sin(),
        Cos => z.cos(),
        Tan => z.tan(),
        Arcsin => z.asin(),
        Arccos => z.acos(),
        Arctan => z.atan(),
        Sinh => z.sinh(),
        Cosh => z.cosh(),
        Tanh => z.tanh(),
        Arcsinh => z.asinh(),
        Arccosh => z.acosh(),
        Arctanh => z.atanh(),
        Sigmoid => C::ONE / (C::ONE + (-z).exp()),
        Floor => C::new(z.re.floor(), z.im.floor()),
        Ceil => C::new(z.re.ceil(), z.im.ceil()),
        Round => C::new(z.re.round_ties_even(), z.im.round_ties_even()),
        StopGradient | Copy => z,
        _ => return None,
    })
}

fn unary_int(op: Opcode, x: i128, dt: DType) -> Option<i128> {
    use Opcode::*;
    Some(match op {
        Abs => wrap(x.abs(), dt),
        Negative => wrap(-x, dt),
        Sign => x.signum(),
        Square => wrap(x.wrapping_mul(x), dt),
        Floor | Ceil | Round | StopGradient | Copy => x,
        BitwiseInvert if dt == DType::Bool => (x == 0) as i128,
        BitwiseInvert => wrap(!x, dt),
        LogicalNot => (x == 0) as i128,
        _ => return None,
    })
}

/// Unary elementwise ops (including isnan/isinf/isfinite, which give bool).
pub fn unary(op: Opcode, x: &Literal) -> Result<Literal, String> {
    let dt = x.dtype();
    let shape = x.shape();
    let d = decode(x);
    if matches!(op, Opcode::IsNan | Opcode::IsInf | Opcode::IsFinite) {
        let v: Vec<i128> = match &d {
            Data::Int(v) => v.iter().map(|_| (op == Opcode::IsFinite) as i128).collect(),
            Data::Float(v) => v
                .iter()
                .map(|x| match op {
                    Opcode::IsNan => x.is_nan(),
                    Opcode::IsInf => x.is_infinite(),
                    _ => x.is_finite(),
                } as i128)
                .collect(),
            Data::Complex(v) => v
                .iter()
                .map(|z| match op {
                    Opcode::IsNan => z.is_nan(),
                    Opcode::IsInf => z.re.is_infinite() || z.im.is_infinite(),
                    _ => z.re.is_finite() && z.im.is_finite(),
                } as i128)
                .collect(),
        };
        return encode_ints(DType::Bool, shape, &v);
    }
    // Check support once, then map without per-element error plumbing.
    match d {
        Data::Float(v) if dt == DType::F32 => {
            let f = unary_float_fn(op).ok_or_else(|| unsupported(op, dt))?;
            let mut out = Vec::with_capacity(v.len() * 4);
            for x in v {
                out.extend_from_slice(&(f(x) as f32).to_le_bytes());
            }
            super::data::from_bytes(dt, shape, out)
        }
        Data::Int(v) => {
            unary_int(op, 0, dt).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<i128> = v
                .iter()
                .map(|&a| unary_int(op, a, dt).unwrap_or(0))
                .collect();
            encode_ints(dt, shape, &out)
        }
        Data::Float(v) => {
            let f = unary_float_fn(op).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<f64> = v.into_iter().map(f).collect();
            encode_floats(dt, shape, &out)
        }
        Data::Complex(v) => {
            unary_complex(op, C::ONE).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<C> = v
                .iter()
                .map(|&a| unary_complex(op, a).unwrap_or_default())
                .collect();
            encode_complex(shape, &out)
        }
    }
}

/// Integer binary op, exact then wrapped to `dt`.
pub fn binary_int(op: Opcode, a: i128, b: i128, dt: DType) -> Option<i128> {
    use Opcode::*;
    let w = |v: i128| wrap(v, dt);
    Some(match op {
        Add => w(a + b),
        Subtract => w(a - b),
        Multiply => w(a.wrapping_mul(b)),
        Divide => {
            if b == 0 {
                0
            } else {
                w(a / b)
            }
        }
        FloorDivide => w(floor_div_int(a, b)),
        Remainder => w(rem_int(a, b)),
        Power => pow_int(a, b, dt),
        Maximum => a.max(b),
        Minimum => a.min(b),
        LogicalAnd => (a != 0 && b != 0) as i128,
        LogicalOr => (a != 0 || b != 0) as i128,
        BitwiseAnd => a & b,
        BitwiseOr => a | b,
        BitwiseXor => a ^ b,
        LeftShift => {
            if b < 0 || b >= bits(dt) as i128 {
                0
            } else {
                w(a.wrapping_shl(b as u32))
            }
        }
        RightShift => {
            if b < 0 || b >= bits(dt) as i128 {
                if a < 0 {
                    -1
                } else {
                    0
                }
            } else {
                a >> b
            }
        }
        _ => return None,
    })
}

pub fn binary_float_fn(op: Opcode) -> Option<fn(f64, f64) -> f64> {
    use Opcode::*;
    Some(match op {
        Add => |a, b| a + b,
        Subtract => |a, b| a - b,
        Multiply => |a, b| a * b,
        Divide => |a, b| a / b,
        FloorDivide => |a, b| (a / b).floor(),
        Remainder => rem_float,
        Power => f64::powf,
        Maximum => fmax,
        Minimum => fmin,
        Arctan2 => f64::atan2,
        LogAddExp => logaddexp,
        _ => return None,
    })
}

fn complex_max(a: C, b: C, want_max: bool) -> C {
    if a.is_nan() || b.is_nan() {
        return C::new(f64::NAN, f64::NAN);
    }
    let a_wins = match a.lex_cmp(b) {
        Some(std::cmp::Ordering::Less) => !want_max,
        Some(std::cmp::Ordering::Greater) => want_max,
        _ => true,
    };
    if a_wins {
        a
    } else {
        b
    }
}

fn binary_complex(op: Opcode, a: C, b: C) -> Option<C> {
    use Opcode::*;
    Some(match op {
        Add => a + b,
        Subtract => a - b,
        Multiply => a * b,
        Divide => a / b,
        Power => a.powc(b),
        Maximum => complex_max(a, b, true),
        Minimum => complex_max(a, b, false),
        _ => return None,
    })
}

/// Binary elementwise ops on operands of one shape and dtype.
pub fn binary(op: Opcode, a: &Literal, b: &Literal) -> Result<Literal, String> {
    let dt = a.dtype();
    let shape = a.shape();
    if dt == DType::F32 {
        // Fast path for the common dtype: straight from bytes to bytes.
        let f = binary_float_fn(op).ok_or_else(|| unsupported(op, dt))?;
        let mut out = Vec::with_capacity(a.bytes().len());
        for (x, y) in a.bytes().chunks_exact(4).zip(b.bytes().chunks_exact(4)) {
            let (x, y) = (f32::from_le_bytes(arr(x)), f32::from_le_bytes(arr(y)));
            out.extend_from_slice(&(f(x as f64, y as f64) as f32).to_le_bytes());
        }
        return super::data::from_bytes(dt, shape, out);
    }
    match (decode(a), decode(b)) {
        (Data::Int(x), Data::Int(y)) => {
            binary_int(op, 1, 1, dt).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<i128> = x
                .iter()
                .zip(&y)
                .map(|(&p, &q)| binary_int(op, p, q, dt).unwrap_or(0))
                .collect();
            encode_ints(dt, shape, &out)
        }
        (Data::Float(x), Data::Float(y)) => {
            let f = binary_float_fn(op).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<f64> = x.iter().zip(&y).map(|(&p, &q)| f(p, q)).collect();
            encode_floats(dt, shape, &out)
        }
        (Data::Complex(x), Data::Complex(y)) => {
            binary_complex(op, C::ONE, C::ONE).ok_or_else(|| unsupported(op, dt))?;
            let out: Vec<C> = x
                .iter()
                .zip(&y)
                .map(|(&p, &q)| binary_complex(op, p, q).unwrap_or_default())
                .collect();
            encode_complex(shape, &out)
        }
        _ => Err(format!("internal: `{op}` operands decoded differently")),
    }
}

/// `divmod`: floor_divide and remainder.
pub fn divmod(a: &Literal, b: &Literal) -> Result<Vec<Literal>, String> {
    Ok(vec![
        binary(Opcode::FloorDivide, a, b)?,
        binary(Opcode::Remainder, a, b)?,
    ])
}

/// Comparisons, giving bool. NaN compares unequal to everything (unless
/// `equal_nan` for `equal`); complex numbers order by real then imaginary part.
pub fn compare(op: Opcode, a: &Literal, b: &Literal, equal_nan: bool) -> Result<Literal, String> {
    use std::cmp::Ordering;
    use Opcode::*;
    let test = |o: Option<Ordering>, both_nan: bool| -> bool {
        match op {
            Equal => o == Some(Ordering::Equal) || (equal_nan && both_nan),
            NotEqual => o != Some(Ordering::Equal),
            Less => o == Some(Ordering::Less),
            LessEqual => matches!(o, Some(Ordering::Less | Ordering::Equal)),
            Greater => o == Some(Ordering::Greater),
            _ => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
        }
    };
    let out: Vec<i128> = match (decode(a), decode(b)) {
        (Data::Int(x), Data::Int(y)) => x
            .iter()
            .zip(&y)
            .map(|(p, q)| test(Some(p.cmp(q)), false) as i128)
            .collect(),
        (Data::Float(x), Data::Float(y)) => x
            .iter()
            .zip(&y)
            .map(|(p, q)| test(p.partial_cmp(q), p.is_nan() && q.is_nan()) as i128)
            .collect(),
        (Data::Complex(x), Data::Complex(y)) => x
            .iter()
            .zip(&y)
            .map(|(p, q)| {
                let o = if matches!(op, Equal | NotEqual) {
                    if p.is_nan() || q.is_nan() {
                        None
                    } else if p == q {
                        Some(Ordering::Equal)
                    } else {
                        Some(Ordering::Less)
                    }
                } else {
                    p.lex_cmp(*q)
                };
                test(o, p.is_nan() && q.is_nan()) as i128
            })
            .collect(),
        _ => return Err(format!("internal: `{op}` operands decoded differently")),
    };
    encode_ints(DType::Bool, a.shape(), &out)
}

/// `cond ? a : b`, elementwise (a byte copy, exact for every dtype).
pub fn select(cond: &Literal, a: &Literal, b: &Literal) -> Result<Literal, String> {
    let s = a.dtype().size();
    let (c, x, y) = (cond.bytes(), a.bytes(), b.bytes());
    let mut out = Vec::with_capacity(x.len());
    for (i, &ci) in c.iter().enumerate() {
        let src = if ci != 0 { x } else { y };
        out.extend_from_slice(&src[i * s..i * s + s]);
    }
    super::data::from_bytes(a.dtype(), a.shape(), out)
}

/// Float to integer: truncate toward zero, saturate, NaN gives 0 (Rust's
/// `as` does exactly this per target type).
fn float_to_int(v: f64, to: DType) -> i128 {
    match to {
        DType::Bool => (v != 0.0) as i128,
        DType::U8 => v as u8 as i128,
        DType::U16 => v as u16 as i128,
        DType::U32 => v as u32 as i128,
        DType::U64 => v as u64 as i128,
        DType::I8 => v as i8 as i128,
        DType::I16 => v as i16 as i128,
        DType::I32 => v as i32 as i128,
        _ => v as i64 as i128,
    }
}

/// Integer to float, rounded once to the target: f32 and f64 directly from
/// the exact value; for f16/bf16 (encoded from f64 later) large values are
/// rounded to odd in f64 so that the final rounding is the only one.
fn int_to_float(v: i128, to: DType) -> f64 {
    match to {
        DType::F32 => v as f32 as f64,
        DType::F16 | DType::BF16 => {
            let t = v as f64;
            if t as i128 == v || !t.is_finite() {
                return t;
            }
            let mut bits = t.to_bits();
            if (t as i128).abs() > v.abs() {
                bits -= 1;
            }
            f64::from_bits(bits | 1)
        }
        _ => v as f64,
    }
}

/// Value conversion between any two dtypes.
pub fn cast(x: &Literal, to: DType) -> Result<Literal, String> {
    let shape = x.shape();
    if x.dtype() == to {
        return Ok(x.clone());
    }
    let d = decode(x);
    let out = match (d, to.kind()) {
        (Data::Int(v), k) => match k {
            psionic_ir::DTypeKind::Float => {
                Data::Float(v.iter().map(|&a| int_to_float(a, to)).collect())
            }
            psionic_ir::DTypeKind::Complex => Data::Complex(
                v.iter()
                    .map(|&a| C::real(int_to_float(a, DType::F32)))
                    .collect(),
            ),
            _ => Data::Int(v.iter().map(|&a| wrap(a, to)).collect()),
        },
        (Data::Float(v), k) => match k {
            psionic_ir::DTypeKind::Float => Data::Float(v),
            psionic_ir::DTypeKind::Complex => {
                Data::Complex(v.iter().map(|&a| C::real(a)).collect())
            }
            _ => Data::Int(v.iter().map(|&a| float_to_int(a, to)).collect()),
        },
        (Data::Complex(v), k) => match k {
            psionic_ir::DTypeKind::Float => Data::Float(v.iter().map(|z| z.re).collect()),
            psionic_ir::DTypeKind::Complex => Data::Complex(v),
            psionic_ir::DTypeKind::Bool => {
                Data::Int(v.iter().map(|z| (!z.is_zero()) as i128).collect())
            }
            _ => Data::Int(v.iter().map(|z| float_to_int(z.re, to)).collect()),
        },
    };
    encode(to, shape, &out)
}

/// Reinterprets bytes as another dtype; `shape` is the inferred result shape.
pub fn bitcast(x: &Literal, to: DType, shape: &[usize]) -> Result<Literal, String> {
    let bytes = x.bytes().to_vec();
    if to == DType::Bool && bytes.iter().any(|&b| b > 1) {
        return Err("bitcast to bool of a byte other than 0 or 1".into());
    }
    super::data::from_bytes(to, shape, bytes)
}
