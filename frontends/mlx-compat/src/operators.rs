//! Rust operators on arrays: `+ - * / %` between `Array`/`&Array` and
//! with `f32`, `f64`, `i32` on either side, and unary `-`. They follow the
//! MLX functions (`add`, `subtract`, `multiply`, `divide`, `remainder`,
//! `negative`): broadcasting, promotion with weak scalars, and errors
//! recorded in the result rather than a panic.

use crate::array::{Array, IntoOperand};
use crate::ops::elementwise::{add, divide, multiply, negative, remainder, subtract};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// Rust scalars usable on the right of an operator (`x * 2.0`, `x + 1`):
/// `f32`, `f64`, `i32`, `i64`, `u32`. On the left (`2.0 * x`) `f32`, `f64`
/// and `i32` work; there a bare float literal is ambiguous between `f32` and
/// `f64` until the end of type checking, so in a method chain write
/// `(2.0f32 * &x).exp()` or put the scalar on the right.
pub trait ScalarOperand: IntoOperand {}
impl ScalarOperand for f32 {}
impl ScalarOperand for f64 {}
impl ScalarOperand for i32 {}
impl ScalarOperand for i64 {}
impl ScalarOperand for u32 {}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $func:ident) => {
        impl $trait<Array> for Array {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array {
                $func(&self, &rhs)
            }
        }
        impl $trait<&Array> for Array {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                $func(&self, rhs)
            }
        }
        impl $trait<Array> for &Array {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array {
                $func(self, &rhs)
            }
        }
        impl $trait<&Array> for &Array {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                $func(self, rhs)
            }
        }
        // One generic impl per receiver, so `(&x * 2.0).exp()` type-checks
        // before the literal's type is settled.
        impl<S: ScalarOperand> $trait<S> for Array {
            type Output = Array;
            fn $method(self, rhs: S) -> Array {
                $func(&self, rhs)
            }
        }
        impl<S: ScalarOperand> $trait<S> for &Array {
            type Output = Array;
            fn $method(self, rhs: S) -> Array {
                $func(self, rhs)
            }
        }
        binary_operator!(@scalars $trait, $method, $func, f32, f64, i32);
    };
    (@scalars $trait:ident, $method:ident, $func:ident, $($s:ty),*) => {$(
        impl $trait<Array> for $s {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array {
                $func(self, &rhs)
            }
        }
        impl $trait<&Array> for $s {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                $func(self, rhs)
            }
        }
    )*};
}

binary_operator!(Add, add, add);
binary_operator!(Sub, sub, subtract);
binary_operator!(Mul, mul, multiply);
binary_operator!(Div, div, divide);
binary_operator!(Rem, rem, remainder);

impl Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        negative(&self)
    }
}
impl Neg for &Array {
    type Output = Array;
    fn neg(self) -> Array {
        negative(self)
    }
}
