//! `MaxPool1d/2d/3d` and `AvgPool1d/2d/3d` over channels-last input, as
//! MLX (stride defaults to the kernel size; padding with -inf for max and
//! 0 for average, which counts the padding).

use super::fail;
use crate::array::Array;
use crate::nn::{Layer, ModuleState};
use crate::ops::shape::Idx;
use crate::{impl_module, index, max, mean, pad, stack};

/// Pools windows of `kernel` every `stride` over the spatial axes of `x`
/// (`N, spatial..., C`), after padding each side by `padding` with `value`.
pub fn pool(x: &Array, kernel: &[i64], stride: &[i64], padding: &[i64], is_max: bool) -> Array {
    let d = kernel.len();
    if x.ndim() != d + 2 || stride.len() != d || padding.len() != d {
        return fail(
            "pool",
            format!(
                "expected an input of rank {} (N, spatial..., C), got rank {}",
                d + 2,
                x.ndim()
            ),
        );
    }
    if kernel.iter().chain(stride).any(|&v| v <= 0) || padding.iter().any(|&p| p < 0) {
        return fail(
            "pool",
            "kernel_size and stride must be positive and padding non-negative",
        );
    }
    let xp = if padding.iter().any(|&p| p > 0) {
        let mut pw = vec![(0i32, 0i32)];
        pw.extend(padding.iter().map(|&p| (p as i32, p as i32)));
        pw.push((0, 0));
        pad(x, &pw, if is_max { f32::NEG_INFINITY } else { 0.0 })
    } else {
        x.clone()
    };
    let mut out = Vec::new();
    for i in 0..d {
        let size = xp.shape()[i + 1];
        if size < kernel[i] {
            return fail(
                "pool",
                format!("window {} is larger than the input {size}", kernel[i]),
            );
        }
        out.push((size - kernel[i]) / stride[i] + 1);
    }
    let mut offs = vec![vec![]];
    for &k in kernel {
        offs = offs
            .into_iter()
            .flat_map(|p: Vec<i64>| {
                (0..k).map(move |j| {
                    let mut q = p.clone();
                    q.push(j);
                    q
                })
            })
            .collect();
    }
    let taps: Vec<Array> = offs
        .iter()
        .map(|off| {
            let mut idx = vec![Idx::Slice {
                start: None,
                stop: None,
                step: 1,
            }];
            for i in 0..d {
                idx.push(Idx::Slice {
                    start: Some(off[i]),
                    stop: Some(off[i] + (out[i] - 1) * stride[i] + 1),
                    step: stride[i],
                });
            }
            idx.push(Idx::Ellipsis);
            index(&xp, &idx)
        })
        .collect();
    let w = stack(&taps, -2);
    if is_max {
        max(&w, -2, false)
    } else {
        mean(&w, -2, false)
    }
}

macro_rules! pool_layer {
    ($(#[$m:meta])* $name:ident, $d:expr, $is_max:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub kernel_size: [i64; $d],
            pub stride: [i64; $d],
            pub padding: [i64; $d],
            pub state: ModuleState,
        }
        impl $name {
            /// `stride: None` means the kernel size, as in MLX.
            pub fn new(kernel_size: [i64; $d], stride: Option<[i64; $d]>, padding: [i64; $d]) -> Self {
                $name {
                    kernel_size,
                    stride: stride.unwrap_or(kernel_size),
                    padding,
                    state: ModuleState::default(),
                }
            }
            /// MLX's defaults: `kernel_size` on every axis, stride = kernel, no padding.
            pub fn with_kernel(k: i64) -> Self {
                Self::new([k; $d], None, [0; $d])
            }
        }
        impl_module!($name {});
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                pool(x, &self.kernel_size, &self.stride, &self.padding, $is_max)
            }
        }
    };
}

pool_layer!(/// MLX's `nn.MaxPool1d(kernel_size, stride=None, padding=0)`.
    MaxPool1d, 1, true);
pool_layer!(/// MLX's `nn.MaxPool2d(kernel_size, stride=None, padding=0)`.
    MaxPool2d, 2, true);
pool_layer!(/// MLX's `nn.MaxPool3d(kernel_size, stride=None, padding=0)`.
    MaxPool3d, 3, true);
pool_layer!(/// MLX's `nn.AvgPool1d(kernel_size, stride=None, padding=0)`.
    AvgPool1d, 1, false);
pool_layer!(/// MLX's `nn.AvgPool2d(kernel_size, stride=None, padding=0)`.
    AvgPool2d, 2, false);
pool_layer!(/// MLX's `nn.AvgPool3d(kernel_size, stride=None, padding=0)`.
    AvgPool3d, 3, false);
