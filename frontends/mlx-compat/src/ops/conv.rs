//! Convolutions as MLX names them (`mlx/ops.cpp`): `conv1d`, `conv2d`,
//! `conv3d`, their transposes and `conv_general`, all channels-last (input
//! `[N, spatial..., C_in]`, weight `[C_out, spatial..., C_in / groups]`),
//! lowered to `tensor.conv_general`. Operands promote to one float dtype;
//! negative padding crops the input, as in MLX.

use super::shape::try_slice;
use super::{cast_to, infallible};
use crate::array::{build1, Array};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, Opcode};

fn conv_checks(op: &str, x: &Array, w: &Array, sd: usize, groups: i32) -> Result<(), Error> {
    if !x.dtype().is_float() {
        return Err(Error::new(
            op,
            format!(
                "invalid input array with type {}: convolution only supports floating point types",
                x.dtype()
            ),
        ));
    }
    if x.ndim() != sd + 2 {
        return Err(Error::new(
            op,
            format!(
                "invalid input array with {} dimensions for {sd}D convolution: expected [N, ..., C_in] with {} dimensions",
                x.ndim(),
                sd + 2
            ),
        ));
    }
    if w.ndim() != sd + 2 {
        return Err(Error::new(
            op,
            format!(
                "invalid weight array with {} dimensions for {sd}D convolution: expected [C_out, ..., C_in] with {} dimensions",
                w.ndim(),
                sd + 2
            ),
        ));
    }
    if groups < 1 {
        return Err(Error::new(
            op,
            format!("groups must be positive, found {groups}"),
        ));
    }
    let g = groups as i64;
    let c = x.shape()[sd + 1];
    if c % g != 0 {
        return Err(Error::new(
            op,
            format!(
                "the input channels must be divisible by the number of groups: input shape {} and {groups} groups",
                shape_str(x.shape())
            ),
        ));
    }
    if groups > 1 && w.shape()[0] % g != 0 {
        return Err(Error::new(
            op,
            format!(
                "with groups > 1 the output channels must be divisible by the groups: {} output channels and {groups} groups",
                w.shape()[0]
            ),
        ));
    }
    if c != g * w.shape()[sd + 1] {
        return Err(Error::new(
            op,
            format!(
                "input channels do not match: input {} and weight {} with {groups} groups",
                shape_str(x.shape()),
                shape_str(w.shape())
            ),
        ));
    }
    Ok(())
}

/// One entry per spatial axis: an empty or one-entry list repeats.
fn per_axis(op: &str, what: &str, v: &[i32], sd: usize, default: i32) -> Result<Vec<i64>, Error> {
    match v.len() {
        0 => Ok(vec![default as i64; sd]),
        1 => Ok(vec![v[0] as i64; sd]),
        n if n == sd => Ok(v.iter().map(|&x| x as i64).collect()),
        n => Err(Error::new(
            op,
            format!("{what} has {n} entries for {sd} spatial dimensions"),
        )),
    }
}

/// MLX's general convolution: `stride`, `padding_lo`/`padding_hi` (zeros
/// before and after), `kernel_dilation` and `input_dilation` per spatial
/// axis (an empty list takes the default, a single entry repeats), channel
/// `groups`, and `flip` for a true convolution rather than a correlation.
#[allow(clippy::too_many_arguments)]
pub fn try_conv_general(
    x: &Array,
    w: &Array,
    stride: &[i32],
    padding_lo: &[i32],
    padding_hi: &[i32],
    kernel_dilation: &[i32],
    input_dilation: &[i32],
    groups: i32,
    flip: bool,
) -> Result<Array, Error> {
    let op = "conv";
    x.check()?;
    w.check()?;
    if groups != 1 && x.ndim() != 3 && x.ndim() != 4 {
        return Err(Error::new(
            op,
            "can only handle groups != 1 in 1D or 2D convolutions",
        ));
    }
    if x.ndim() < 3 || x.ndim() > 5 {
        return Err(Error::new(
            op,
            "only works for inputs with 1-3 spatial dimensions in the format [N, ..., C_in]",
        ));
    }
    let sd = x.ndim() - 2;
    conv_checks(op, x, w, sd, groups)?;
    let dtype = x.dtype().promote(w.dtype());
    let (mut x, w) = (cast_to(op, x, dtype)?, cast_to(op, w, dtype)?);
    let stride = per_axis(op, "stride", stride, sd, 1)?;
    let mut lo = per_axis(op, "padding", padding_lo, sd, 0)?;
    let mut hi = per_axis(op, "padding", padding_hi, sd, 0)?;
    let kd = per_axis(op, "kernel_dilation", kernel_dilation, sd, 1)?;
    let id = per_axis(op, "input_dilation", input_dilation, sd, 1)?;
    if lo.iter().chain(&hi).any(|&p| p < 0) {
        let mut start = vec![0i32; x.ndim()];
        let mut stop: Vec<i32> = x.shape().iter().map(|&d| d as i32).collect();
        for i in 0..sd {
            if lo[i] < 0 {
                start[i + 1] = -lo[i] as i32;
                lo[i] = 0;
            }
            if hi[i] < 0 {
                stop[i + 1] += hi[i] as i32;
                hi[i] = 0;
            }
        }
        x = try_slice(&x, &start, &stop, &vec![1; x.ndim()])?;
    }
    build1(
        op,
        Opcode::ConvGeneral,
        vec![x, w],
        Attrs::new()
            .with("kernel_strides", Attr::Ints(stride))
            .with("padding_lo", Attr::Ints(lo))
            .with("padding_hi", Attr::Ints(hi))
            .with("kernel_dilation", Attr::Ints(kd))
            .with("input_dilation", Attr::Ints(id))
            .with("groups", Attr::Int(groups as i64))
            .with("flip", Attr::Bool(flip)),
    )
}

fn conv_n(
    x: &Array,
    w: &Array,
    stride: &[i32],
    padding: &[i32],
    dilation: &[i32],
    groups: i32,
) -> Result<Array, Error> {
    let ones = vec![1; stride.len()];
    try_conv_general(
        x, w, stride, padding, padding, dilation, &ones, groups, false,
    )
}

/// 1-d convolution (correlation) of `[N, L, C_in]` with `[C_out, K, C_in/groups]`.
/// MLX defaults: `stride = 1`, `padding = 0`, `dilation = 1`, `groups = 1`.
pub fn try_conv1d(
    x: &Array,
    w: &Array,
    stride: i32,
    padding: i32,
    dilation: i32,
    groups: i32,
) -> Result<Array, Error> {
    conv_n(x, w, &[stride], &[padding], &[dilation], groups)
}

/// 2-d convolution of `[N, H, W, C_in]` with `[C_out, KH, KW, C_in/groups]`.
/// MLX defaults: `(1, 1)`, `(0, 0)`, `(1, 1)`, `groups = 1`.
pub fn try_conv2d(
    x: &Array,
    w: &Array,
    stride: (i32, i32),
    padding: (i32, i32),
    dilation: (i32, i32),
    groups: i32,
) -> Result<Array, Error> {
    conv_n(
        x,
        w,
        &[stride.0, stride.1],
        &[padding.0, padding.1],
        &[dilation.0, dilation.1],
        groups,
    )
}

/// 3-d convolution of `[N, D, H, W, C_in]` with `[C_out, KD, KH, KW, C_in]`.
pub fn try_conv3d(
    x: &Array,
    w: &Array,
    stride: (i32, i32, i32),
    padding: (i32, i32, i32),
    dilation: (i32, i32, i32),
    groups: i32,
) -> Result<Array, Error> {
    conv_n(
        x,
        w,
        &[stride.0, stride.1, stride.2],
        &[padding.0, padding.1, padding.2],
        &[dilation.0, dilation.1, dilation.2],
        groups,
    )
}

/// MLX's `conv_transpose_general`: a flipped convolution over the input
/// dilated by `stride`, padded so the result is the gradient shape of the
/// forward convolution (plus `output_padding` at the end).
fn conv_transpose_n(
    x: &Array,
    w: &Array,
    stride: &[i32],
    padding: &[i32],
    dilation: &[i32],
    output_padding: &[i32],
    groups: i32,
) -> Result<Array, Error> {
    let op = "conv_transpose";
    x.check()?;
    w.check()?;
    let sd = stride.len();
    if x.ndim() != sd + 2 || w.ndim() != sd + 2 {
        return Err(Error::new(
            op,
            format!(
                "expected input and weight of rank {} for {sd}D, found {} and {}",
                sd + 2,
                shape_str(x.shape()),
                shape_str(w.shape())
            ),
        ));
    }
    let mut lo = Vec::with_capacity(sd);
    let mut hi = Vec::with_capacity(sd);
    for i in 0..sd {
        let (s, p, d, op_) = (
            stride[i] as i64,
            padding[i] as i64,
            dilation[i] as i64,
            output_padding[i] as i64,
        );
        let k = w.shape()[1 + i];
        let n = x.shape()[1 + i];
        let wt_size = 1 + d * (k - 1);
        lo.push(wt_size - p - 1);
        let conv_out = (n - 1) * s - 2 * p + d * (k - 1) + 1;
        let in_size = conv_out;
        let out_size = 1 + s * (n - 1);
        hi.push(in_size - out_size + p + op_);
    }
    let to32 = |v: &[i64]| -> Result<Vec<i32>, Error> {
        v.iter()
            .map(|&p| i32::try_from(p).map_err(|_| Error::new(op, "padding overflows i32")))
            .collect()
    };
    try_conv_general(
        x,
        w,
        &vec![1; sd],
        &to32(&lo)?,
        &to32(&hi)?,
        dilation,
        stride,
        groups,
        true,
    )
}

/// 1-d transposed convolution; weight `[C_out, K, C_in/groups]`. MLX
/// defaults: `stride = 1`, `padding = 0`, `dilation = 1`,
/// `output_padding = 0`, `groups = 1`.
pub fn try_conv_transpose1d(
    x: &Array,
    w: &Array,
    stride: i32,
    padding: i32,
    dilation: i32,
    output_padding: i32,
    groups: i32,
) -> Result<Array, Error> {
    conv_transpose_n(
        x,
        w,
        &[stride],
        &[padding],
        &[dilation],
        &[output_padding],
        groups,
    )
}

/// 2-d transposed convolution.
pub fn try_conv_transpose2d(
    x: &Array,
    w: &Array,
    stride: (i32, i32),
    padding: (i32, i32),
    dilation: (i32, i32),
    output_padding: (i32, i32),
    groups: i32,
) -> Result<Array, Error> {
    conv_transpose_n(
        x,
        w,
        &[stride.0, stride.1],
        &[padding.0, padding.1],
        &[dilation.0, dilation.1],
        &[output_padding.0, output_padding.1],
        groups,
    )
}

/// 3-d transposed convolution.
pub fn try_conv_transpose3d(
    x: &Array,
    w: &Array,
    stride: (i32, i32, i32),
    padding: (i32, i32, i32),
    dilation: (i32, i32, i32),
    output_padding: (i32, i32, i32),
    groups: i32,
) -> Result<Array, Error> {
    conv_transpose_n(
        x,
        w,
        &[stride.0, stride.1, stride.2],
        &[padding.0, padding.1, padding.2],
        &[dilation.0, dilation.1, dilation.2],
        &[output_padding.0, output_padding.1, output_padding.2],
        groups,
    )
}

infallible! {
    /// See [`try_conv_general`].
    fn conv_general = try_conv_general(x: &Array, w: &Array, stride: &[i32], padding_lo: &[i32], padding_hi: &[i32], kernel_dilation: &[i32], input_dilation: &[i32], groups: i32, flip: bool);
    /// See [`try_conv1d`].
    fn conv1d = try_conv1d(x: &Array, w: &Array, stride: i32, padding: i32, dilation: i32, groups: i32);
    /// See [`try_conv2d`].
    fn conv2d = try_conv2d(x: &Array, w: &Array, stride: (i32, i32), padding: (i32, i32), dilation: (i32, i32), groups: i32);
    /// See [`try_conv3d`].
    fn conv3d = try_conv3d(x: &Array, w: &Array, stride: (i32, i32, i32), padding: (i32, i32, i32), dilation: (i32, i32, i32), groups: i32);
    /// See [`try_conv_transpose1d`].
    fn conv_transpose1d = try_conv_transpose1d(x: &Array, w: &Array, stride: i32, padding: i32, dilation: i32, output_padding: i32, groups: i32);
    /// See [`try_conv_transpose2d`].
    fn conv_transpose2d = try_conv_transpose2d(x: &Array, w: &Array, stride: (i32, i32), padding: (i32, i32), dilation: (i32, i32), output_padding: (i32, i32), groups: i32);
    /// See [`try_conv_transpose3d`].
    fn conv_transpose3d = try_conv_transpose3d(x: &Array, w: &Array, stride: (i32, i32, i32), padding: (i32, i32, i32), dilation: (i32, i32, i32), output_padding: (i32, i32, i32), groups: i32);
}
