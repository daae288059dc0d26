//! Local derivatives of the elementwise ops, shared by the vjp and jvp rules:
//! for `y = f(x)` (or `f(a, b)`) the partial derivative as a [`Lin`], a
//! linear map applied to a cotangent (vjp) or a tangent (jvp) alike, because
//! an elementwise Jacobian is diagonal.

use super::builder::{B, R};
use psionic_ir::{Opcode, Value};
use std::f64::consts::{LN_10, LN_2, PI};

/// A diagonal linear map.
#[derive(Clone, Copy, Debug)]
pub enum Lin {
    /// Derivative zero (non-differentiable ops, MLX's convention): no
    /// cotangent flows, nothing is emitted.
    Zero,
    Identity,
    Negate,
    /// Multiply by this value (of the operand's shape and dtype).
    Factor(Value),
}

impl Lin {
    /// Applies the map to `t`; `None` is a symbolic zero.
    pub fn apply(self, b: &mut B, t: Value) -> R<Option<Value>> {
        Ok(match self {
            Lin::Zero => None,
            Lin::Identity => Some(t),
            Lin::Negate => Some(b.neg(t)?),
            Lin::Factor(d) => Some(b.mul(t, d)?),
        })
    }
}

/// `d/dx f(x)` at `x`, with `y = f(x)` already computed. Ops whose result is
/// not a float never get here (no cotangent or tangent reaches them).
pub fn unary(b: &mut B, op: Opcode, x: Value, y: Value) -> R<Lin> {
    use Opcode::*;
    let d = match op {
        Negative => return Ok(Lin::Negate),
        Copy => return Ok(Lin::Identity),
        Sign | Floor | Ceil | Round | StopGradient | IsNan | IsInf | IsFinite | LogicalNot
        | BitwiseInvert => return Ok(Lin::Zero),
        Abs => b.un(Sign, x)?,
        Square => b.scale(x, 2.0)?,
        // d sqrt = 1 / (2 y)
        Sqrt => {
            let two_y = b.scale(y, 2.0)?;
            b.un(Reciprocal, two_y)?
        }
        // d x^-1/2 = -1/2 x^-3/2 = -y / (2x)
        Rsqrt => {
            let q = b.div(y, x)?;
            b.scale(q, -0.5)?
        }
        Reciprocal => {
            let y2 = b.un(Square, y)?;
            b.neg(y2)?
        }
        Exp => y,
        Expm1 => {
            let one = b.scalar_like(1.0, y)?;
            b.add(y, one)?
        }
        Log => b.un(Reciprocal, x)?,
        Log1p => {
            let one = b.scalar_like(1.0, x)?;
            let s = b.add(x, one)?;
            b.un(Reciprocal, s)?
        }
        Log2 | Log10 => {
            let k = if op == Log2 { LN_2 } else { LN_10 };
            let s = b.scale(x, k)?;
            b.un(Reciprocal, s)?
        }
        Sin => b.un(Cos, x)?,
        Cos => {
            let s = b.un(Sin, x)?;
            b.neg(s)?
        }
        // 1 + tan^2
        Tan => {
            let y2 = b.un(Square, y)?;
            let one = b.scalar_like(1.0, y)?;
            b.add(one, y2)?
        }
        Arcsin | Arccos => {
            let x2 = b.un(Square, x)?;
            let one = b.scalar_like(1.0, x)?;
            let s = b.sub(one, x2)?;
            let r = b.un(Rsqrt, s)?;
            if op == Arccos {
                b.neg(r)?
            } else {
                r
            }
        }
        Arctan => {
            let x2 = b.un(Square, x)?;
            let one = b.scalar_like(1.0, x)?;
            let s = b.add(one, x2)?;
            b.un(Reciprocal, s)?
        }
        Sinh => b.un(Cosh, x)?,
        Cosh => b.un(Sinh, x)?,
        Tanh => {
            let y2 = b.un(Square, y)?;
            let one = b.scalar_like(1.0, y)?;
            b.sub(one, y2)?
        }
        Arcsinh | Arccosh => {
            let x2 = b.un(Square, x)?;
            let one = b.scalar_like(1.0, x)?;
            let s = if op == Arcsinh {
                b.add(x2, one)?
            } else {
                b.sub(x2, one)?
            };
            b.un(Rsqrt, s)?
        }
        Arctanh => {
            let x2 = b.un(Square, x)?;
            let one = b.scalar_like(1.0, x)?;
            let s = b.sub(one, x2)?;
            b.un(Reciprocal, s)?
        }
        // y (1 - y)
        Sigmoid => {
            let one = b.scalar_like(1.0, y)?;
            let s = b.sub(one, y)?;
            b.mul(y, s)?
        }
        // 2/sqrt(pi) e^{-x^2}
        Erf => {
            let x2 = b.un(Square, x)?;
            let n = b.neg(x2)?;
            let e = b.un(Exp, n)?;
            b.scale(e, 2.0 / PI.sqrt())?
        }
        // sqrt(pi)/2 e^{y^2}
        Erfinv => {
            let y2 = b.un(Square, y)?;
            let e = b.un(Exp, y2)?;
            b.scale(e, PI.sqrt() / 2.0)?
        }
        other => {
            return Err(super::TransformError::new(format!(
                "internal: `{other}` is not a unary elementwise op"
            )))
        }
    };
    Ok(Lin::Factor(d))
}

/// Partial derivatives of `y = f(a, b)` with respect to `a` and `b`.
pub fn binary(bd: &mut B, op: Opcode, a: Value, b: Value, y: Value) -> R<(Lin, Lin)> {
    use Opcode::*;
    Ok(match op {
        Add => (Lin::Identity, Lin::Identity),
        Subtract => (Lin::Identity, Lin::Negate),
        Multiply => (Lin::Factor(b), Lin::Factor(a)),
        // d/da = 1/b, d/db = -y/b
        Divide => {
            let rb = bd.un(Reciprocal, b)?;
            let q = bd.mul(y, rb)?;
            let nq = bd.neg(q)?;
            (Lin::Factor(rb), Lin::Factor(nq))
        }
        // a - b*floor(a/b): d/da = 1, d/db = -floor(a/b)
        Remainder => {
            let q = bd.bin(FloorDivide, a, b)?;
            let nq = bd.neg(q)?;
            (Lin::Identity, Lin::Factor(nq))
        }
        // d/da = b a^(b-1), d/db = y log(a)
        Power => {
            let one = bd.scalar_like(1.0, b)?;
            let bm1 = bd.sub(b, one)?;
            let p = bd.bin(Power, a, bm1)?;
            let da = bd.mul(b, p)?;
            let la = bd.un(Log, a)?;
            let db = bd.mul(y, la)?;
            (Lin::Factor(da), Lin::Factor(db))
        }
        // MLX: a gets the cotangent where a > b (a < b for minimum), b elsewhere.
        Maximum | Minimum => {
            let cmp = if op == Maximum { Greater } else { Less };
            let mask = bd.bin(cmp, a, b)?;
            let dt = bd.dtype(a);
            let ma = bd.cast(mask, dt)?;
            let one = bd.scalar_like(1.0, a)?;
            let mb = bd.sub(one, ma)?;
            (Lin::Factor(ma), Lin::Factor(mb))
        }
        // atan2(a, b): d/da = b/(a^2+b^2), d/db = -a/(a^2+b^2)
        Arctan2 => {
            let a2 = bd.un(Square, a)?;
            let b2 = bd.un(Square, b)?;
            let s = bd.add(a2, b2)?;
            let r = bd.un(Reciprocal, s)?;
            let da = bd.mul(b, r)?;
            let na = bd.neg(a)?;
            let db = bd.mul(na, r)?;
            (Lin::Factor(da), Lin::Factor(db))
        }
        // d/da = e^(a - y), d/db = e^(b - y)
        LogAddExp => {
            let sa = bd.sub(a, y)?;
            let da = bd.un(Exp, sa)?;
            let sb = bd.sub(b, y)?;
            let db = bd.un(Exp, sb)?;
            (Lin::Factor(da), Lin::Factor(db))
        }
        FloorDivide | LogicalAnd | LogicalOr | BitwiseAnd | BitwiseOr | BitwiseXor | LeftShift
        | RightShift => (Lin::Zero, Lin::Zero),
        other => {
            return Err(super::TransformError::new(format!(
                "internal: `{other}` is not a binary elementwise op"
            )))
        }
    })
}
