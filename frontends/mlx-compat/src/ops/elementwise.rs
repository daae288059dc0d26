//! Elementwise ops: unary math, binary math with NumPy broadcasting and MLX
//! promotion (Rust scalars are weak, like Python scalars in MLX),
//! comparisons, logical and bitwise ops, `where`, `astype`.

use super::{at_least_float, broadcast_shape_of, broadcast_to_shape, cast_to, full_of, infallible};
use crate::array::{build1, Array, IntoOperand, Operand, Scalar};
use crate::error::Error;
use psionic_ir::{Attr, Attrs, DType, Opcode, DYN};

/// How a binary op picks its computation dtype from the promoted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Promote {
    /// The promoted dtype (`add`, `maximum`, comparisons ...).
    Plain,
    /// Integer and bool results become f32 (`divide`, `arctan2`, `logaddexp`).
    AtLeastFloat,
    /// Operands are cast to bool (`logical_and`, `logical_or`).
    ToBool,
}

/// The common dtype of operands (weak scalars take the array's dtype).
pub(crate) fn result_dtype(ops: &[&Operand]) -> DType {
    let mut strong: Option<DType> = None;
    for o in ops {
        if let Operand::Array(a) = o {
            strong = Some(match strong {
                None => a.dtype(),
                Some(d) => d.promote(a.dtype()),
            });
        }
    }
    let mut weak: Option<DType> = None;
    for o in ops {
        if let Operand::Scalar(s) = o {
            weak = Some(match (strong, weak) {
                (Some(d), None) => s.weak_with(d),
                (Some(_), Some(w)) => s.weak_with(w),
                (None, None) => s.default_dtype(),
                (None, Some(w)) => w.promote(s.default_dtype()),
            });
        }
    }
    weak.or(strong).unwrap_or(DType::F32)
}

fn int_range(d: DType) -> Option<(i128, i128)> {
    Some(match d {
        DType::U8 => (0, u8::MAX as i128),
        DType::U16 => (0, u16::MAX as i128),
        DType::U32 => (0, u32::MAX as i128),
        DType::U64 => (0, u64::MAX as i128),
        DType::I8 => (i8::MIN as i128, i8::MAX as i128),
        DType::I16 => (i16::MIN as i128, i16::MAX as i128),
        DType::I32 => (i32::MIN as i128, i32::MAX as i128),
        DType::I64 => (i64::MIN as i128, i64::MAX as i128),
        _ => return None,
    })
}

/// A weak scalar as an array of `dtype` and `shape` (donors give symbolic dims).
pub(crate) fn scalar_array(
    op: &str,
    s: Scalar,
    dtype: DType,
    shape: &[i64],
    donors: &[&Array],
) -> Result<Array, Error> {
    if let (Scalar::Int(i), Some((lo, hi))) = (s, int_range(dtype)) {
        if !(lo..=hi).contains(&(i as i128)) {
            return Err(Error::new(
                op,
                format!("converting {i} to {dtype} would overflow"),
            ));
        }
    }
    let exact_in_f64 = match s {
        Scalar::Int(i) => i.unsigned_abs() <= 1 << 53,
        _ => true,
    };
    if !shape.contains(&DYN) && exact_in_f64 {
        return full_of(op, shape, dtype, s.as_f64());
    }
    let c = Array::from_literal(s.to_literal(dtype));
    broadcast_to_shape(op, &c, shape, donors)
}

/// Casts every operand to `dtype` and broadcasts all to their common shape.
pub(crate) fn materialize(op: &str, ops: Vec<Operand>, dtype: DType) -> Result<Vec<Array>, Error> {
    let dtypes = vec![dtype; ops.len()];
    materialize_each(op, ops, &dtypes)
}

/// Casts operand `i` to `dtypes[i]` and broadcasts all to their common shape.
pub(crate) fn materialize_each(
    op: &str,
    ops: Vec<Operand>,
    dtypes: &[DType],
) -> Result<Vec<Array>, Error> {
    let arrays: Vec<Array> = ops
        .iter()
        .filter_map(|o| match o {
            Operand::Array(a) => Some(a.clone()),
            Operand::Scalar(_) => None,
        })
        .collect();
    for a in &arrays {
        a.check()?;
    }
    let shapes: Vec<&[i64]> = arrays.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shape_of(op, &shapes)?;
    ops.into_iter()
        .zip(dtypes)
        .map(|(o, &dtype)| match o {
            Operand::Array(a) => {
                let c = cast_to(op, &a, dtype)?;
                let donors: Vec<&Array> = arrays.iter().filter(|b| !b.same_node(&a)).collect();
                broadcast_to_shape(op, &c, &shape, &donors)
            }
            Operand::Scalar(s) => {
                let donors: Vec<&Array> = arrays.iter().collect();
                scalar_array(op, s, dtype, &shape, &donors)
            }
        })
        .collect()
}

pub(crate) fn try_binary(
    op: &str,
    opcode: Opcode,
    a: Operand,
    b: Operand,
    promote: Promote,
) -> Result<Array, Error> {
    let dtype = result_dtype(&[&a, &b]);
    let dtype = match promote {
        Promote::Plain => dtype,
        Promote::AtLeastFloat => at_least_float(dtype),
        Promote::ToBool => DType::Bool,
    };
    let xs = materialize(op, vec![a, b], dtype)?;
    build1(op, opcode, xs, Attrs::new())
}

macro_rules! binary_ops {
    ($( $(#[$m:meta])* $name:ident, $try:ident = $opcode:ident, $promote:ident; )*) => {$(
        $(#[$m])*
        pub fn $try(a: impl IntoOperand, b: impl IntoOperand) -> Result<Array, Error> {
            try_binary(stringify!($name), Opcode::$opcode, a.into_operand(), b.into_operand(), Promote::$promote)
        }
        $(#[$m])*
        pub fn $name(a: impl IntoOperand, b: impl IntoOperand) -> Array {
            crate::array::lift($try(a, b))
        }
    )*};
}

binary_ops! {
    /// `a + b`.
    add, try_add = Add, Plain;
    /// `a - b`.
    subtract, try_subtract = Subtract, Plain;
    /// `a * b`.
    multiply, try_multiply = Multiply, Plain;
    /// `a / b`; integer and bool operands give f32, as in MLX.
    divide, try_divide = Divide, AtLeastFloat;
    /// `floor(a / b)`; integers stay integers (rounding toward -inf).
    floor_divide, try_floor_divide = FloorDivide, Plain;
    /// Python's `%`: the result takes the sign of `b`.
    remainder, try_remainder = Remainder, Plain;
    /// `a ** b` (integers stay integers).
    power, try_power = Power, Plain;
    /// Elementwise maximum (NaN propagates).
    maximum, try_maximum = Maximum, Plain;
    /// Elementwise minimum (NaN propagates).
    minimum, try_minimum = Minimum, Plain;
    /// `atan2(a, b)`.
    arctan2, try_arctan2 = Arctan2, AtLeastFloat;
    /// `log(exp(a) + exp(b))`, stably.
    logaddexp, try_logaddexp = LogAddExp, AtLeastFloat;
    /// `a == b` (bool result).
    equal, try_equal = Equal, Plain;
    /// `a != b`.
    not_equal, try_not_equal = NotEqual, Plain;
    /// `a < b`.
    less, try_less = Less, Plain;
    /// `a <= b`.
    less_equal, try_less_equal = LessEqual, Plain;
    /// `a > b`.
    greater, try_greater = Greater, Plain;
    /// `a >= b`.
    greater_equal, try_greater_equal = GreaterEqual, Plain;
    /// Boolean and (operands are cast to bool).
    logical_and, try_logical_and = LogicalAnd, ToBool;
    /// Boolean or (operands are cast to bool).
    logical_or, try_logical_or = LogicalOr, ToBool;
    /// Bitwise and of integer or bool operands.
    bitwise_and, try_bitwise_and = BitwiseAnd, Plain;
    /// Bitwise or.
    bitwise_or, try_bitwise_or = BitwiseOr, Plain;
    /// Bitwise xor.
    bitwise_xor, try_bitwise_xor = BitwiseXor, Plain;
    /// `a << b`.
    left_shift, try_left_shift = LeftShift, Plain;
    /// `a >> b`.
    right_shift, try_right_shift = RightShift, Plain;
}

/// `(a // b, a % b)` through one `tensor.divmod`.
pub fn try_divmod(a: impl IntoOperand, b: impl IntoOperand) -> Result<(Array, Array), Error> {
    let (a, b) = (a.into_operand(), b.into_operand());
    let dtype = result_dtype(&[&a, &b]);
    let xs = materialize("divmod", vec![a, b], dtype)?;
    let mut r = crate::array::build("divmod", Opcode::DivMod, xs, Attrs::new())?;
    let m = r.pop();
    let d = r.pop();
    match (d, m) {
        (Some(d), Some(m)) => Ok((d, m)),
        _ => Err(Error::new("divmod", "tensor.divmod must give two results")),
    }
}

/// `(a // b, a % b)`; on failure both carry the error.
pub fn divmod(a: impl IntoOperand, b: impl IntoOperand) -> (Array, Array) {
    match try_divmod(a, b) {
        Ok(r) => r,
        Err(e) => (Array::from_error(e.clone()), Array::from_error(e)),
    }
}

/// How a unary op treats its operand's dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unary {
    Keep,
    AtLeastFloat,
    ToBool,
}

fn try_unary(op: &str, opcode: Opcode, x: &Array, kind: Unary) -> Result<Array, Error> {
    x.check()?;
    let x = match kind {
        Unary::Keep => x.clone(),
        Unary::AtLeastFloat => cast_to(op, x, at_least_float(x.dtype()))?,
        Unary::ToBool => cast_to(op, x, DType::Bool)?,
    };
    build1(op, opcode, vec![x], Attrs::new())
}

macro_rules! unary_ops {
    ($( $(#[$m:meta])* $name:ident, $try:ident = $opcode:ident, $kind:ident; )*) => {$(
        $(#[$m])*
        pub fn $try(x: &Array) -> Result<Array, Error> {
            try_unary(stringify!($name), Opcode::$opcode, x, Unary::$kind)
        }
        $(#[$m])*
        pub fn $name(x: &Array) -> Array {
            crate::array::lift($try(x))
        }
    )*};
}

unary_ops! {
    /// `|x|`.
    abs, try_abs = Abs, Keep;
    /// `-x` (not for bool: use `logical_not`).
    negative, try_negative = Negative, Keep;
    /// -1, 0 or 1.
    sign, try_sign = Sign, Keep;
    /// `x * x`.
    square, try_square = Square, Keep;
    /// Square root (integers give f32).
    sqrt, try_sqrt = Sqrt, AtLeastFloat;
    /// `1 / sqrt(x)`.
    rsqrt, try_rsqrt = Rsqrt, AtLeastFloat;
    /// `1 / x`.
    reciprocal, try_reciprocal = Reciprocal, AtLeastFloat;
    /// `e^x`.
    exp, try_exp = Exp, AtLeastFloat;
    /// `e^x - 1`.
    expm1, try_expm1 = Expm1, AtLeastFloat;
    /// Natural log.
    log, try_log = Log, AtLeastFloat;
    /// `log(1 + x)`.
    log1p, try_log1p = Log1p, AtLeastFloat;
    /// Base-2 log.
    log2, try_log2 = Log2, AtLeastFloat;
    /// Base-10 log.
    log10, try_log10 = Log10, AtLeastFloat;
    /// Sine.
    sin, try_sin = Sin, AtLeastFloat;
    /// Cosine.
    cos, try_cos = Cos, AtLeastFloat;
    /// Tangent.
    tan, try_tan = Tan, AtLeastFloat;
    /// Inverse sine.
    arcsin, try_arcsin = Arcsin, AtLeastFloat;
    /// Inverse cosine.
    arccos, try_arccos = Arccos, AtLeastFloat;
    /// Inverse tangent.
    arctan, try_arctan = Arctan, AtLeastFloat;
    /// Hyperbolic sine.
    sinh, try_sinh = Sinh, AtLeastFloat;
    /// Hyperbolic cosine.
    cosh, try_cosh = Cosh, AtLeastFloat;
    /// Hyperbolic tangent.
    tanh, try_tanh = Tanh, AtLeastFloat;
    /// Inverse hyperbolic sine.
    arcsinh, try_arcsinh = Arcsinh, AtLeastFloat;
    /// Inverse hyperbolic cosine.
    arccosh, try_arccosh = Arccosh, AtLeastFloat;
    /// Inverse hyperbolic tangent.
    arctanh, try_arctanh = Arctanh, AtLeastFloat;
    /// `1 / (1 + e^-x)`.
    sigmoid, try_sigmoid = Sigmoid, AtLeastFloat;
    /// Error function.
    erf, try_erf = Erf, AtLeastFloat;
    /// Inverse error function.
    erfinv, try_erfinv = Erfinv, AtLeastFloat;
    /// Round toward -inf.
    floor, try_floor = Floor, Keep;
    /// Round toward +inf.
    ceil, try_ceil = Ceil, Keep;
    /// NaN test (bool result).
    isnan, try_isnan = IsNan, Keep;
    /// Infinity test.
    isinf, try_isinf = IsInf, Keep;
    /// Neither NaN nor infinite.
    isfinite, try_isfinite = IsFinite, Keep;
    /// Boolean not (the operand is cast to bool).
    logical_not, try_logical_not = LogicalNot, ToBool;
    /// Bitwise not of integers (logical not of bool).
    bitwise_invert, try_bitwise_invert = BitwiseInvert, Keep;
    /// Identity whose gradient is zero.
    stop_gradient, try_stop_gradient = StopGradient, Keep;
    /// Identity (a fresh array).
    copy, try_copy = Copy, Keep;
}

/// Round half to even at `decimals` digits (MLX's `round`).
pub fn try_round(x: &Array, decimals: i32) -> Result<Array, Error> {
    x.check()?;
    if decimals == 0 || !x.dtype().is_inexact() {
        return build1("round", Opcode::Round, vec![x.clone()], Attrs::new());
    }
    let s = 10f64.powi(decimals);
    let scaled = try_multiply(x, s)?;
    let r = build1("round", Opcode::Round, vec![scaled], Attrs::new())?;
    try_divide(&r, s)
}

/// `x` converted to `dtype` (MLX's `astype`).
pub fn try_astype(x: &Array, dtype: DType) -> Result<Array, Error> {
    cast_to("astype", x, dtype)
}

/// The bytes of `x` reinterpreted as `dtype` (MLX's `view`).
pub fn try_view(x: &Array, dtype: DType) -> Result<Array, Error> {
    x.check()?;
    build1(
        "view",
        Opcode::Bitcast,
        vec![x.clone()],
        Attrs::new().with("dtype", Attr::DType(dtype)),
    )
}

/// `cond ? x : y`, elementwise with broadcasting; `cond` is cast to bool
/// and `x`, `y` promoted together (scalars weak).
pub fn try_where(
    cond: impl IntoOperand,
    x: impl IntoOperand,
    y: impl IntoOperand,
) -> Result<Array, Error> {
    let (c, x, y) = (cond.into_operand(), x.into_operand(), y.into_operand());
    let dtype = result_dtype(&[&x, &y]);
    let mut xs = materialize_each("where", vec![c, x, y], &[DType::Bool, dtype, dtype])?;
    let (Some(y), Some(x), Some(c)) = (xs.pop(), xs.pop(), xs.pop()) else {
        return Err(Error::new("where", "expected three operands"));
    };
    build1("where", Opcode::Select, vec![c, x, y], Attrs::new())
}

/// Clips `x` to `[lo, hi]` (MLX's `clip` with both bounds).
pub fn try_clip(x: &Array, lo: impl IntoOperand, hi: impl IntoOperand) -> Result<Array, Error> {
    let m = try_maximum(x, lo)?;
    try_minimum(&m, hi)
}

infallible! {
    /// See [`try_round`].
    fn round = try_round(x: &Array, decimals: i32);
    /// See [`try_astype`].
    fn astype = try_astype(x: &Array, dtype: DType);
    /// See [`try_view`].
    fn view = try_view(x: &Array, dtype: DType);
    /// See [`try_clip`].
    fn clip = try_clip(x: &Array, lo: impl IntoOperand, hi: impl IntoOperand);
}

/// MLX's `where` (a Rust keyword, hence the raw name); see [`try_where`].
pub fn r#where(cond: impl IntoOperand, x: impl IntoOperand, y: impl IntoOperand) -> Array {
    crate::array::lift(try_where(cond, x, y))
}

/// Alias of MLX's `where` (see [`try_where`]).
pub fn select(cond: impl IntoOperand, x: impl IntoOperand, y: impl IntoOperand) -> Array {
    r#where(cond, x, y)
}
