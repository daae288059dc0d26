//! Method forms of common ops (`x.sum(1, true)`, `x.equal(&y)`, ...), each
//! the same as the free function of that name in [`crate::ops`].

use crate::array::{Array, IntoOperand};
use crate::ops::{self, Axes};
use psionic_ir::DType;

macro_rules! binary_methods {
    ($($name:ident),*) => {$(
        #[doc = concat!("Method form of [`ops::", stringify!($name), "`](crate::", stringify!($name), ").")]
        pub fn $name(&self, other: impl IntoOperand) -> Array {
            ops::elementwise::$name(self, other)
        }
    )*};
}
macro_rules! unary_methods {
    ($($name:ident),*) => {$(
        #[doc = concat!("Method form of [`", stringify!($name), "`](crate::", stringify!($name), ").")]
        pub fn $name(&self) -> Array {
            ops::elementwise::$name(self)
        }
    )*};
}
macro_rules! reduce_methods {
    ($($name:ident),*) => {$(
        #[doc = concat!("Method form of [`", stringify!($name), "`](crate::", stringify!($name), ").")]
        pub fn $name(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
            ops::reduce::$name(self, axes, keepdims)
        }
    )*};
}

impl Array {
    binary_methods!(
        add,
        subtract,
        multiply,
        divide,
        floor_divide,
        remainder,
        power,
        maximum,
        minimum,
        equal,
        not_equal,
        less,
        less_equal,
        greater,
        greater_equal,
        logical_and,
        logical_or
    );
    unary_methods!(
        abs,
        negative,
        square,
        sqrt,
        rsqrt,
        reciprocal,
        exp,
        log,
        sin,
        cos,
        tanh,
        sigmoid,
        floor,
        ceil,
        isnan,
        logical_not,
        stop_gradient
    );
    reduce_methods!(sum, prod, max, min, all, any, mean, logsumexp);

    /// Method form of [`astype`](crate::astype).
    pub fn astype(&self, dtype: DType) -> Array {
        ops::elementwise::astype(self, dtype)
    }
    /// Method form of [`reshape`](crate::reshape).
    pub fn reshape(&self, shape: &[i32]) -> Array {
        ops::shape::reshape(self, shape)
    }
    /// Method form of [`transpose`](crate::transpose) (axes reversed).
    pub fn t(&self) -> Array {
        ops::shape::transpose(self)
    }
    /// Method form of [`transpose_axes`](crate::transpose_axes).
    pub fn transpose(&self, axes: &[i32]) -> Array {
        ops::shape::transpose_axes(self, axes)
    }
    /// Method form of [`flatten`](crate::flatten) over every axis.
    pub fn flatten(&self) -> Array {
        ops::shape::flatten(self, 0, -1)
    }
    /// Method form of [`squeeze`](crate::squeeze).
    pub fn squeeze(&self, axes: impl Into<Axes>) -> Array {
        ops::shape::squeeze(self, axes)
    }
    /// Method form of [`expand_dims`](crate::expand_dims).
    pub fn expand_dims(&self, axes: impl Into<Axes>) -> Array {
        ops::shape::expand_dims(self, axes)
    }
    /// Method form of [`matmul`](crate::matmul).
    pub fn matmul(&self, other: &Array) -> Array {
        ops::linalg::matmul(self, other)
    }
    /// Method form of [`index`](crate::index).
    pub fn index(&self, idx: &[ops::shape::Idx]) -> Array {
        ops::shape::index(self, idx)
    }
    /// Method form of [`var`](crate::var).
    pub fn var(&self, axes: impl Into<Axes>, keepdims: bool, ddof: i32) -> Array {
        ops::reduce::var(self, axes, keepdims, ddof)
    }
    /// Method form of [`argmax`](crate::argmax).
    pub fn argmax(&self, axis: Option<i32>, keepdims: bool) -> Array {
        ops::reduce::argmax(self, axis, keepdims)
    }
    /// Method form of [`softmax`](crate::softmax).
    pub fn softmax(&self, axes: impl Into<Axes>) -> Array {
        ops::reduce::softmax(self, axes, false)
    }
}
