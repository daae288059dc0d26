//! Every activation in MLX's `nn`, as functions and as layers (`ReLU`,
//! `GELU`, ...), with MLX's formulas, so values and gradients match.

use super::{Layer, ModuleState};
use crate::array::Array;
use crate::ops::elementwise as ew;
use crate::{impl_module, logsumexp, max, softmax as core_softmax, stop_gradient};

/// `1 / (1 + exp(-x))`.
pub fn sigmoid(x: &Array) -> Array {
    ew::sigmoid(x)
}
/// `max(x, 0)`.
pub fn relu(x: &Array) -> Array {
    ew::maximum(x, 0)
}
/// `max(x, 0)^2`.
pub fn relu2(x: &Array) -> Array {
    ew::square(&ew::maximum(x, 0))
}
/// `min(max(x, 0), 6)`.
pub fn relu6(x: &Array) -> Array {
    ew::minimum(ew::maximum(x, 0), 6.0)
}
/// `max(negative_slope * x, x)` (MLX's default slope is 0.01).
pub fn leaky_relu(x: &Array, negative_slope: f32) -> Array {
    ew::maximum(&(x * negative_slope), x)
}
/// `x - logsumexp(x)` along `axis`, shifted by a gradient-stopped max.
pub fn log_softmax(x: &Array, axis: i32) -> Array {
    let x = x - stop_gradient(&max(x, axis, true));
    &x - logsumexp(&x, axis, true)
}
/// `x` where positive, `alpha * (exp(x) - 1)` elsewhere.
pub fn elu(x: &Array, alpha: f32) -> Array {
    ew::r#where(ew::greater(x, 0), x, &((ew::exp(x) - 1) * alpha))
}
/// Softmax along `axis`.
pub fn softmax(x: &Array, axis: i32) -> Array {
    core_softmax(x, axis, false)
}
/// `log(1 + exp(x))` as `logaddexp(x, 0)`.
pub fn softplus(x: &Array) -> Array {
    ew::logaddexp(x, 0)
}
/// `x / (1 + |x|)`.
pub fn softsign(x: &Array) -> Array {
    ew::divide(x, &(ew::abs(x) + 1))
}
/// `x - sign(x) * lambd` where `|x| > lambd`, else 0 (default 0.5).
pub fn softshrink(x: &Array, lambd: f32) -> Array {
    let shrunk = x - ew::sign(x) * lambd;
    ew::r#where(ew::greater(ew::abs(x), lambd), &shrunk, 0)
}
/// `max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)`.
pub fn celu(x: &Array, alpha: f32) -> Array {
    ew::maximum(x, 0.0) + (ew::exp(&(ew::minimum(x, 0.0) / alpha)) - 1) * alpha
}
/// `x * sigmoid(x)`.
pub fn silu(x: &Array) -> Array {
    x * ew::sigmoid(x)
}
/// `-softplus(-x)`.
pub fn log_sigmoid(x: &Array) -> Array {
    -softplus(&ew::negative(x))
}
/// `x * (1 + erf(x / sqrt(2))) / 2`.
pub fn gelu(x: &Array) -> Array {
    x * (ew::erf(&(x / std::f64::consts::SQRT_2)) + 1) / 2
}
/// The tanh approximation of GELU.
pub fn gelu_approx(x: &Array) -> Array {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let inner = (x + ew::power(x, 3) * 0.044715) * c;
    x * 0.5 * (ew::tanh(&inner) + 1)
}
/// `x * sigmoid(1.702 x)`.
pub fn gelu_fast_approx(x: &Array) -> Array {
    x * ew::sigmoid(&(x * 1.702))
}
/// `a * sigmoid(b)` for the two halves of `x` along `axis`.
pub fn glu(x: &Array, axis: i32) -> Array {
    let h = super::layers::split_n(x, 2, axis);
    &h[0] * ew::sigmoid(&h[1])
}
/// 1 where `x >= threshold`, else 0 (int32, as MLX's `where(.., 1, 0)`).
pub fn step(x: &Array, threshold: f32) -> Array {
    ew::r#where(ew::greater_equal(x, threshold), 1, 0)
}
/// `1.0507 * elu(x, 1.67326)`.
pub fn selu(x: &Array) -> Array {
    elu(x, 1.67326) * 1.0507
}
/// `max(0, x) + alpha * min(0, x)`.
pub fn prelu(x: &Array, alpha: &Array) -> Array {
    ew::maximum(0, x) + alpha * ew::minimum(0, x)
}
/// `x * tanh(softplus(x))`.
pub fn mish(x: &Array) -> Array {
    x * ew::tanh(&softplus(x))
}
/// `x * min(max(x + 3, 0), 6) / 6`.
pub fn hardswish(x: &Array) -> Array {
    let m = ew::maximum(&(x + 3), 0);
    x * ew::minimum(&m, 6) / 6
}
/// `min(max(x, min_val), max_val)` (defaults -1 and 1).
pub fn hard_tanh(x: &Array, min_val: f32, max_val: f32) -> Array {
    ew::minimum(ew::maximum(x, min_val), max_val)
}
/// `x` where `|x| > lambd`, else 0 (default 0.5).
pub fn hard_shrink(x: &Array, lambd: f32) -> Array {
    ew::r#where(ew::greater(ew::abs(x), lambd), x, 0)
}
/// `softmax(-x)` along `axis`.
pub fn softmin(x: &Array, axis: i32) -> Array {
    core_softmax(&ew::negative(x), axis, false)
}
/// Hyperbolic tangent.
pub fn tanh(x: &Array) -> Array {
    ew::tanh(x)
}
macro_rules! plain_activation {
    ($($(#[$m:meta])* $name:ident => $f:expr;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            pub state: ModuleState,
        }
        impl $name {
            pub fn new() -> Self {
                Self::default()
            }
        }
        impl_module!($name {});
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                let f: fn(&Array) -> Array = $f;
                f(x)
            }
        }
    )*};
}

plain_activation! {
    /// Layer form of [`sigmoid`].
    Sigmoid => sigmoid;
    /// Layer form of [`mish`].
    Mish => mish;
    /// Layer form of [`relu`].
    ReLU => relu;
    /// Layer form of [`relu2`].
    ReLU2 => relu2;
    /// Layer form of [`relu6`].
    ReLU6 => relu6;
    /// Layer form of [`softmax`] over the last axis.
    Softmax => |x| softmax(x, -1);
    /// Layer form of [`softplus`].
    Softplus => softplus;
    /// Layer form of [`softsign`].
    Softsign => softsign;
    /// Layer form of [`silu`].
    SiLU => silu;
    /// Layer form of [`log_softmax`] over the last axis.
    LogSoftmax => |x| log_softmax(x, -1);
    /// Layer form of [`log_sigmoid`].
    LogSigmoid => log_sigmoid;
    /// Layer form of [`tanh`].
    Tanh => tanh;
    /// Layer form of [`hardswish`].
    Hardswish => hardswish;
    /// Layer form of [`selu`].
    SELU => selu;
    /// Layer form of [`hard_tanh`] with bounds -1 and 1.
    HardTanh => |x| hard_tanh(x, -1.0, 1.0);
    /// Layer form of [`softmin`] over the last axis.
    Softmin => |x| softmin(x, -1);
}

macro_rules! param_activation {
    ($($(#[$m:meta])* $name:ident($arg:ident: $t:ty = $def:expr) => $f:expr;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub $arg: $t,
            pub state: ModuleState,
        }
        impl $name {
            pub fn new($arg: $t) -> Self {
                $name { $arg, state: ModuleState::default() }
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new($def)
            }
        }
        impl_module!($name {});
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                let f: fn(&Array, $t) -> Array = $f;
                f(x, self.$arg)
            }
        }
    )*};
}

param_activation! {
    /// Layer form of [`glu`] (default axis -1).
    GLU(axis: i32 = -1) => glu;
    /// Layer form of [`leaky_relu`] (default slope 0.01).
    LeakyReLU(negative_slope: f32 = 0.01) => leaky_relu;
    /// Layer form of [`elu`] (default alpha 1).
    ELU(alpha: f32 = 1.0) => elu;
    /// Layer form of [`softshrink`] (default 0.5).
    Softshrink(lambd: f32 = 0.5) => softshrink;
    /// Layer form of [`celu`] (default alpha 1).
    CELU(alpha: f32 = 1.0) => celu;
    /// Layer form of [`step`] (default threshold 0).
    Step(threshold: f32 = 0.0) => step;
    /// Layer form of [`hard_shrink`] (default 0.5).
    HardShrink(lambd: f32 = 0.5) => hard_shrink;
}

/// Which GELU [`GELU`] computes: MLX's `approx="none"`, `"precise"` /
/// `"tanh"`, or `"fast"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GeluApprox {
    #[default]
    None,
    Tanh,
    Fast,
}

/// Layer form of [`gelu`], [`gelu_approx`] or [`gelu_fast_approx`].
#[derive(Clone, Debug, Default)]
pub struct GELU {
    pub approx: GeluApprox,
    pub state: ModuleState,
}

impl GELU {
    pub fn new(approx: GeluApprox) -> Self {
        GELU {
            approx,
            state: ModuleState::default(),
        }
    }
    /// From MLX's strings: "none", "precise", "tanh" or "fast".
    pub fn from_name(approx: &str) -> Result<Self, crate::Error> {
        Ok(GELU::new(match approx {
            "none" => GeluApprox::None,
            "precise" | "tanh" => GeluApprox::Tanh,
            "fast" => GeluApprox::Fast,
            other => {
                return Err(crate::Error::new(
                    "GELU",
                    format!(
                        "the approximation should be in [\"none\", \"precise\", \"tanh\", \"fast\"] but '{other}' was given"
                    ),
                ))
            }
        }))
    }
}
impl_module!(GELU {});
impl Layer for GELU {
    fn forward(&self, x: &Array) -> Array {
        match self.approx {
            GeluApprox::None => gelu(x),
            GeluApprox::Tanh => gelu_approx(x),
            GeluApprox::Fast => gelu_fast_approx(x),
        }
    }
}

/// Layer form of [`prelu`] with a learned `weight` of `num_parameters`
/// slopes (MLX's defaults: 1 and 0.25).
#[derive(Clone, Debug)]
pub struct PReLU {
    pub weight: Array,
    pub state: ModuleState,
}
impl PReLU {
    pub fn new(num_parameters: i32, init: f32) -> Self {
        PReLU {
            weight: crate::full(&[num_parameters], init as f64, crate::DType::F32),
            state: ModuleState::default(),
        }
    }
}
impl Default for PReLU {
    fn default() -> Self {
        PReLU::new(1, 0.25)
    }
}
impl_module!(PReLU { array weight });
impl Layer for PReLU {
    fn forward(&self, x: &Array) -> Array {
        prelu(x, &self.weight)
    }
}
