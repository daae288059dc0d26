//! `Dropout`, `Dropout2d` and `Dropout3d`: in training mode a Bernoulli
//! mask (kept with probability `1 - p`) scaled by `1 / (1 - p)`, drawn from
//! the global key sequence; the identity in eval mode.

use super::fail;
use crate::array::Array;
use crate::impl_module;
use crate::nn::{rng, Layer, ModuleState};

fn dropout(x: &Array, p: f32, training: bool, zero_axes: &[usize], op: &str) -> Array {
    if !(0.0..1.0).contains(&p) {
        return fail(op, format!("the dropout probability {p} is not in [0, 1)"));
    }
    let keep = 1.0 - p;
    if keep == 1.0 || !training {
        return x.clone();
    }
    let mut shape = x.shape().to_vec();
    let r = shape.len();
    for &a in zero_axes {
        shape[r - a] = 1;
    }
    match rng::bernoulli(keep, &shape, None) {
        Ok(mask) => (mask * x) * (1.0 / keep),
        Err(e) => Array::from_error(e),
    }
}

macro_rules! dropout_layer {
    ($($(#[$m:meta])* $name:ident, $ranks:expr, $axes:expr;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub p: f32,
            pub state: ModuleState,
        }
        impl $name {
            pub fn new(p: f32) -> Self {
                $name { p, state: ModuleState::default() }
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new(0.5)
            }
        }
        impl_module!($name {});
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                let ranks: &[usize] = $ranks;
                if !ranks.is_empty() && !ranks.contains(&x.ndim()) {
                    return fail(
                        stringify!($name),
                        format!("received input with {} dimensions, expected {:?}", x.ndim(), ranks),
                    );
                }
                dropout(x, self.p, self.state.training, $axes, stringify!($name))
            }
        }
    )*};
}

dropout_layer! {
    /// MLX's `nn.Dropout(p=0.5)`: each element zeroed with probability `p`.
    Dropout, &[], &[];
    /// MLX's `nn.Dropout2d(p=0.5)`: whole channels of `(N, H, W, C)` or `(H, W, C)` input.
    Dropout2d, &[3, 4], &[2, 3];
    /// MLX's `nn.Dropout3d(p=0.5)`: whole channels of `(N, D, H, W, C)` or `(D, H, W, C)` input.
    Dropout3d, &[4, 5], &[2, 3, 4];
}
