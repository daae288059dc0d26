//! `Conv1d/2d/3d` and `ConvTranspose1d/2d/3d` over channels-last input
//! (`N, spatial..., C`), weights `(C_out, kernel..., C_in / groups)`, as
//! MLX. The convolution is built from differentiable ops (padding,
//! strided windows, one matmul), so gradients reach input and weights.

use super::fail;
use crate::array::Array;
use crate::nn::init::uniform_shape;
use crate::nn::{Layer, ModuleState};
use crate::ops::shape::Idx;
use crate::{impl_module, index, matmul, pad, reshape, stack, transpose_axes, zeros, DType};

/// The strided window of `x` (`N, spatial..., C`) that kernel tap `off`
/// reads: for each spatial axis `i`, positions `off[i] * dil[i] + o *
/// stride[i]` for `o < out[i]`.
fn tap(x: &Array, off: &[i64], dil: &[i64], stride: &[i64], out: &[i64]) -> Array {
    let mut idx = vec![Idx::Slice {
        start: None,
        stop: None,
        step: 1,
    }];
    for i in 0..off.len() {
        let start = off[i] * dil[i];
        idx.push(Idx::Slice {
            start: Some(start),
            stop: Some(start + (out[i] - 1) * stride[i] + 1),
            step: stride[i],
        });
    }
    idx.push(Idx::Ellipsis);
    index(x, &idx)
}

/// Every kernel offset in row-major order.
fn offsets(kernel: &[i64]) -> Vec<Vec<i64>> {
    let mut out = vec![vec![]];
    for &k in kernel {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..k).map(move |j| {
                    let mut q = p.clone();
                    q.push(j);
                    q
                })
            })
            .collect();
    }
    out
}

/// MLX's general convolution (correlation) of `x` (`N, spatial..., C_in`)
/// with `w` (`C_out, kernel..., C_in / groups`): `stride`, zero padding
/// `(lo, hi)` per axis, kernel `dilation`, `groups`.
pub fn conv_general(
    x: &Array,
    w: &Array,
    stride: &[i64],
    padding: &[(i64, i64)],
    dilation: &[i64],
    groups: i64,
) -> Array {
    let d = x.ndim().saturating_sub(2);
    if d == 0 || w.ndim() != d + 2 || stride.len() != d || padding.len() != d || dilation.len() != d
    {
        return fail(
            "conv",
            format!(
                "input rank {} and weight rank {} do not match {} spatial axes",
                x.ndim(),
                w.ndim(),
                stride.len()
            ),
        );
    }
    let c_in = x.shape()[d + 1];
    let c_out = w.shape()[0];
    let cg = w.shape()[d + 1];
    if groups < 1 || c_in != cg * groups || c_out % groups != 0 {
        return fail(
            "conv",
            format!(
                "expected {c_in} input channels to be {cg} per group times {groups} groups, and {c_out} output channels divisible by the groups"
            ),
        );
    }
    let kernel: Vec<i64> = w.shape()[1..=d].to_vec();
    let mut pw = vec![(0i32, 0i32)];
    pw.extend(padding.iter().map(|&(l, h)| (l as i32, h as i32)));
    pw.push((0, 0));
    let xp = if padding.iter().any(|&(l, h)| l != 0 || h != 0) {
        pad(x, &pw, 0.0)
    } else {
        x.clone()
    };
    let mut out = Vec::with_capacity(d);
    for i in 0..d {
        let size = xp.shape()[i + 1];
        let span = dilation[i] * (kernel[i] - 1) + 1;
        if size < span || stride[i] < 1 {
            return fail(
                "conv",
                format!("the padded input size {size} is smaller than the dilated kernel {span}"),
            );
        }
        out.push((size - span) / stride[i] + 1);
    }
    let taps: Vec<Array> = offsets(&kernel)
        .iter()
        .map(|off| tap(&xp, off, dilation, stride, &out))
        .collect();
    let k: i64 = kernel.iter().product();
    let n = x.shape()[0];
    let patches = stack(&taps, -2); // (N, out..., K, C_in)
    let mut out_shape: Vec<i32> = vec![n as i32];
    out_shape.extend(out.iter().map(|&o| o as i32));
    if groups == 1 {
        let mut ps = out_shape.clone();
        ps.push((k * c_in) as i32);
        let p = reshape(&patches, &ps);
        let wm = reshape(w, &[c_out as i32, (k * c_in) as i32]);
        return matmul(&p, &wm.t());
    }
    // (N, out..., K, g, cg) -> (N, out..., g, 1, K*cg) @ (g, K*cg, og).
    let g = groups as i32;
    let r = out_shape.len();
    let mut ps = out_shape.clone();
    ps.extend([k as i32, g, cg as i32]);
    let p = reshape(&patches, &ps);
    let mut perm: Vec<i32> = (0..r as i32).collect();
    perm.extend([r as i32 + 1, r as i32, r as i32 + 2]);
    let p = transpose_axes(&p, &perm);
    let mut ps2 = out_shape.clone();
    ps2.extend([g, 1, (k * cg) as i32]);
    let p = reshape(&p, &ps2);
    let og = (c_out / groups) as i32;
    let wg = reshape(w, &[g, og, (k * cg) as i32]);
    let y = matmul(&p, &transpose_axes(&wg, &[0, 2, 1]));
    let mut ys = out_shape;
    ys.push(c_out as i32);
    reshape(&y, &ys)
}

/// `x` with `s - 1` zeros between neighbours along spatial axis `axis`.
fn dilate_input(x: &Array, axis: usize, s: i64) -> Array {
    if s == 1 {
        return x.clone();
    }
    let shape = x.shape().to_vec();
    let len = shape[axis];
    // (.., len, 1, ..) padded to (.., len, s, ..) then merged and trimmed.
    let y = x.expand_dims(axis as i32 + 1);
    let mut pw = vec![(0i32, 0i32); y.ndim()];
    pw[axis + 1] = (0, (s - 1) as i32);
    let y = pad(&y, &pw, 0.0);
    let mut merged: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    merged[axis] = (len * s) as i32;
    let y = reshape(&y, &merged);
    let mut idx: Vec<Idx> = (0..axis)
        .map(|_| Idx::Slice {
            start: None,
            stop: None,
            step: 1,
        })
        .collect();
    idx.push(Idx::Slice {
        start: Some(0),
        stop: Some((len - 1) * s + 1),
        step: 1,
    });
    idx.push(Idx::Ellipsis);
    index(&y, &idx)
}

/// MLX's `conv_transpose` (the input-gradient of a convolution): input
/// dilated by `stride`, kernel flipped, padding `dilation * (k - 1) -
/// padding` (plus `output_padding` after).
pub fn conv_transpose_general(
    x: &Array,
    w: &Array,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    output_padding: &[i64],
    groups: i64,
) -> Array {
    let d = x.ndim().saturating_sub(2);
    if w.ndim() != d + 2 || stride.len() != d || padding.len() != d || output_padding.len() != d {
        return fail(
            "conv_transpose",
            "input, weight and options disagree on the spatial rank",
        );
    }
    let mut xd = x.clone();
    for i in 0..d {
        xd = dilate_input(&xd, i + 1, stride[i]);
    }
    let flip_axes: Vec<i32> = (1..=d as i32).collect();
    let wf = crate::flip(w, flip_axes);
    let pads: Vec<(i64, i64)> = (0..d)
        .map(|i| {
            let k = w.shape()[i + 1];
            let p = dilation[i] * (k - 1) - padding[i];
            (p, p + output_padding[i])
        })
        .collect();
    if pads.iter().any(|&(l, _)| l < 0) {
        return fail(
            "conv_transpose",
            "padding larger than the dilated kernel is not supported",
        );
    }
    let ones = vec![1i64; d];
    conv_general(&xd, &wf, &ones, &pads, dilation, groups)
}

fn with_bias(y: Array, b: &Option<Array>) -> Array {
    match b {
        Some(b) => y + b,
        None => y,
    }
}

macro_rules! conv_layer {
    ($(#[$m:meta])* $name:ident, $d:expr, groups) => {
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub weight: Array,
            pub bias: Option<Array>,
            pub stride: [i64; $d],
            pub padding: [i64; $d],
            pub dilation: [i64; $d],
            pub groups: i64,
            pub state: ModuleState,
        }
        impl $name {
            /// MLX's constructor (defaults: stride 1, padding 0, dilation 1,
            /// groups 1, bias true); `weight` uniform in `±sqrt(1 / (C_in/groups * prod(kernel)))`, bias zeros.
            #[allow(clippy::too_many_arguments)]
            pub fn new(
                in_channels: i64,
                out_channels: i64,
                kernel_size: [i64; $d],
                stride: [i64; $d],
                padding: [i64; $d],
                dilation: [i64; $d],
                groups: i64,
                bias: bool,
            ) -> Self {
                let cg = in_channels / groups.max(1);
                let fan: i64 = cg * kernel_size.iter().product::<i64>();
                let scale = (1.0 / fan.max(1) as f64).sqrt() as f32;
                let mut shape = vec![out_channels];
                shape.extend(kernel_size);
                shape.push(cg);
                let weight = if in_channels % groups.max(1) != 0 {
                    fail(stringify!($name), format!(
                        "the number of input channels ({in_channels}) must be divisible by the number of groups ({groups})"
                    ))
                } else {
                    uniform_shape(scale, &shape)
                };
                $name {
                    weight,
                    bias: bias.then(|| zeros(&[out_channels as i32], DType::F32)),
                    stride,
                    padding,
                    dilation,
                    groups,
                    state: ModuleState::default(),
                }
            }
            /// MLX's defaults for the given sizes.
            pub fn with_kernel(in_channels: i64, out_channels: i64, kernel_size: i64) -> Self {
                Self::new(in_channels, out_channels, [kernel_size; $d], [1; $d], [0; $d], [1; $d], 1, true)
            }
        }
        impl_module!($name { array weight, opt bias });
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                let pads: Vec<(i64, i64)> = self.padding.iter().map(|&p| (p, p)).collect();
                with_bias(
                    conv_general(x, &self.weight, &self.stride, &pads, &self.dilation, self.groups),
                    &self.bias,
                )
            }
        }
    };
}

conv_layer!(
    /// MLX's `nn.Conv1d(in_channels, out_channels, kernel_size, stride=1,
    /// padding=0, dilation=1, groups=1, bias=True)` on `(N, L, C)`.
    Conv1d, 1, groups
);
conv_layer!(
    /// MLX's `nn.Conv2d(...)` on `(N, H, W, C)`.
    Conv2d, 2, groups
);
conv_layer!(
    /// MLX's `nn.Conv3d(...)` on `(N, D, H, W, C)` (MLX's has no groups: keep 1).
    Conv3d, 3, groups
);

macro_rules! conv_transpose_layer {
    ($(#[$m:meta])* $name:ident, $d:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub weight: Array,
            pub bias: Option<Array>,
            pub stride: [i64; $d],
            pub padding: [i64; $d],
            pub dilation: [i64; $d],
            pub output_padding: [i64; $d],
            pub state: ModuleState,
        }
        impl $name {
            /// MLX's constructor (defaults: stride 1, padding 0, dilation 1,
            /// output_padding 0, bias true); `weight` `(C_out, kernel..., C_in)`
            /// uniform in `±sqrt(1 / (C_in * prod(kernel)))`, bias zeros.
            #[allow(clippy::too_many_arguments)]
            pub fn new(
                in_channels: i64,
                out_channels: i64,
                kernel_size: [i64; $d],
                stride: [i64; $d],
                padding: [i64; $d],
                dilation: [i64; $d],
                output_padding: [i64; $d],
                bias: bool,
            ) -> Self {
                let fan: i64 = in_channels * kernel_size.iter().product::<i64>();
                let scale = (1.0 / fan.max(1) as f64).sqrt() as f32;
                let mut shape = vec![out_channels];
                shape.extend(kernel_size);
                shape.push(in_channels);
                $name {
                    weight: uniform_shape(scale, &shape),
                    bias: bias.then(|| zeros(&[out_channels as i32], DType::F32)),
                    stride,
                    padding,
                    dilation,
                    output_padding,
                    state: ModuleState::default(),
                }
            }
            /// MLX's defaults for the given sizes.
            pub fn with_kernel(in_channels: i64, out_channels: i64, kernel_size: i64) -> Self {
                Self::new(in_channels, out_channels, [kernel_size; $d], [1; $d], [0; $d], [1; $d], [0; $d], true)
            }
        }
        impl_module!($name { array weight, opt bias });
        impl Layer for $name {
            fn forward(&self, x: &Array) -> Array {
                with_bias(
                    conv_transpose_general(
                        x,
                        &self.weight,
                        &self.stride,
                        &self.padding,
                        &self.dilation,
                        &self.output_padding,
                        1,
                    ),
                    &self.bias,
                )
            }
        }
    };
}

conv_transpose_layer!(
    /// MLX's `nn.ConvTranspose1d(in_channels, out_channels, kernel_size,
    /// stride=1, padding=0, dilation=1, output_padding=0, bias=True)`.
    ConvTranspose1d, 1
);
conv_transpose_layer!(
    /// MLX's `nn.ConvTranspose2d(...)`.
    ConvTranspose2d, 2
);
conv_transpose_layer!(
    /// MLX's `nn.ConvTranspose3d(...)`.
    ConvTranspose3d, 3
);
