//! `psionic_mlx::fft`: MLX's FFT functions (`mlx/fft.cpp`) over
//! `tensor.fft`. Sizes `n`/`s` crop or zero-pad the input along each
//! transformed axis first; `norm` is MLX's `"backward"` (default: the
//! inverse divides by n), `"ortho"` or `"forward"`. Complex transforms take
//! and give c64; real ones take floats (f32) and give c64 of `n/2 + 1` on
//! the last axis, and their inverses give f32.

use super::elementwise::try_multiply;
use super::shape::{try_pad, try_slice};
use super::{cast_to, infallible, norm_axis};
use crate::array::{build1, Array};
use crate::error::Error;
use psionic_ir::{Attr, Attrs, DType, Opcode};

/// FFT normalization (MLX's `norm` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FftNorm {
    /// No scaling forward, `1/n` inverse (MLX's default).
    #[default]
    Backward,
    /// `1/sqrt(n)` both ways.
    Ortho,
    /// `1/n` forward, none inverse.
    Forward,
}

fn scale_factor(n: &[i64], norm: FftNorm, inverse: bool) -> f64 {
    if n.is_empty() {
        return 1.0;
    }
    let ne: f64 = n.iter().map(|&d| d as f64).product();
    match norm {
        FftNorm::Backward => 1.0,
        FftNorm::Ortho => {
            if inverse {
                ne.sqrt()
            } else {
                1.0 / ne.sqrt()
            }
        }
        FftNorm::Forward => {
            if inverse {
                ne
            } else {
                1.0 / ne
            }
        }
    }
}

fn fft_impl(
    a: &Array,
    n: Option<&[i32]>,
    axes: &[i32],
    real: bool,
    inverse: bool,
    norm: FftNorm,
) -> Result<Array, Error> {
    let op = "fftn";
    a.check()?;
    if a.ndim() < 1 {
        return Err(Error::new(
            op,
            "requires an array with at least one dimension",
        ));
    }
    if axes.is_empty() {
        return Ok(a.clone());
    }
    let mut valid = Vec::with_capacity(axes.len());
    for &ax in axes {
        let v = norm_axis(op, ax as i64, a.ndim())?;
        if valid.contains(&v) {
            return Err(Error::new(op, format!("duplicated axis received {axes:?}")));
        }
        valid.push(v);
    }
    let n: Vec<i64> = match n {
        Some(n) => {
            if n.len() != axes.len() {
                return Err(Error::new(op, "shape and axes have different sizes"));
            }
            n.iter().map(|&d| d as i64).collect()
        }
        None => {
            let mut n: Vec<i64> = valid.iter().map(|&ax| a.shape()[ax]).collect();
            if real && inverse {
                if let Some(last) = n.last_mut() {
                    *last = (*last - 1) * 2;
                }
            }
            n
        }
    };
    if n.iter().any(|&d| d <= 0) {
        return Err(Error::new(
            op,
            format!("invalid FFT output size requested {n:?}"),
        ));
    }
    let mut in_shape = a.shape().to_vec();
    for (i, &ax) in valid.iter().enumerate() {
        in_shape[ax] = n[i];
    }
    let last_ax = valid[valid.len() - 1];
    let last_n = n[n.len() - 1];
    if real && inverse {
        in_shape[last_ax] = last_n / 2 + 1;
    }
    let mut x = a.clone();
    if in_shape.iter().zip(a.shape()).any(|(i, s)| i < s) {
        let stop: Vec<i32> = in_shape
            .iter()
            .zip(a.shape())
            .map(|(&i, &s)| i.min(s) as i32)
            .collect();
        x = try_slice(&x, &vec![0; x.ndim()], &stop, &vec![1; x.ndim()])?;
    }
    if in_shape.iter().zip(x.shape()).any(|(i, s)| i > s) {
        let widths: Vec<(i32, i32)> = in_shape
            .iter()
            .zip(x.shape())
            .map(|(&i, &s)| (0, (i - s).max(0) as i32))
            .collect();
        x = try_pad(&x, &widths, 0)?;
    }
    let in_type = if real && !inverse {
        DType::F32
    } else {
        DType::C64
    };
    let x = cast_to(op, &x, in_type)?;
    let out = build1(
        op,
        Opcode::Fft,
        vec![x],
        Attrs::new()
            .with(
                "axes",
                Attr::Ints(valid.iter().map(|&a| a as i64).collect()),
            )
            .with("inverse", Attr::Bool(inverse))
            .with("real", Attr::Bool(real))
            .with("odd_out", Attr::Bool(real && inverse && last_n % 2 == 1)),
    )?;
    let scale = scale_factor(&n, norm, inverse);
    if scale != 1.0 {
        let s = super::full_of(op, &[], out.dtype(), scale)?;
        return try_multiply(&out, &s);
    }
    Ok(out)
}

fn one(n: Option<i32>) -> Option<Vec<i32>> {
    n.map(|n| vec![n])
}

/// 1-d discrete Fourier transform along `axis` (MLX default `-1`), input
/// cropped or zero-padded to `n`.
pub fn try_fft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm) -> Result<Array, Error> {
    fft_impl(a, one(n).as_deref(), &[axis], false, false, norm)
}

/// Inverse of [`try_fft`].
pub fn try_ifft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm) -> Result<Array, Error> {
    fft_impl(a, one(n).as_deref(), &[axis], false, true, norm)
}

/// FFT of a real input: `n/2 + 1` complex outputs along `axis`.
pub fn try_rfft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm) -> Result<Array, Error> {
    fft_impl(a, one(n).as_deref(), &[axis], true, false, norm)
}

/// Inverse of [`try_rfft`]: `n` (default `2 * (m - 1)`) real outputs.
pub fn try_irfft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm) -> Result<Array, Error> {
    fft_impl(a, one(n).as_deref(), &[axis], true, true, norm)
}

/// The axes MLX uses when none are given: the last `s.len()` or all.
fn default_axes(a: &Array, s: Option<&[i32]>, axes: Option<&[i32]>) -> Vec<i32> {
    match (axes, s) {
        (Some(ax), _) => ax.to_vec(),
        (None, Some(s)) => (a.ndim() as i32 - s.len() as i32..a.ndim() as i32).collect(),
        (None, None) => (0..a.ndim() as i32).collect(),
    }
}

/// n-d FFT over `axes` (default: all, or the last `s.len()`) with sizes `s`.
pub fn try_fftn(
    a: &Array,
    s: Option<&[i32]>,
    axes: Option<&[i32]>,
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, &default_axes(a, s, axes), false, false, norm)
}

/// Inverse of [`try_fftn`].
pub fn try_ifftn(
    a: &Array,
    s: Option<&[i32]>,
    axes: Option<&[i32]>,
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, &default_axes(a, s, axes), false, true, norm)
}

/// n-d FFT of a real input (the last axis halves).
pub fn try_rfftn(
    a: &Array,
    s: Option<&[i32]>,
    axes: Option<&[i32]>,
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, &default_axes(a, s, axes), true, false, norm)
}

/// Inverse of [`try_rfftn`].
pub fn try_irfftn(
    a: &Array,
    s: Option<&[i32]>,
    axes: Option<&[i32]>,
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, &default_axes(a, s, axes), true, true, norm)
}

/// 2-d FFT over `axes` (MLX default `[-2, -1]`).
pub fn try_fft2(a: &Array, s: Option<&[i32]>, axes: &[i32], norm: FftNorm) -> Result<Array, Error> {
    fft_impl(a, s, axes, false, false, norm)
}

/// Inverse of [`try_fft2`].
pub fn try_ifft2(
    a: &Array,
    s: Option<&[i32]>,
    axes: &[i32],
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, axes, false, true, norm)
}

/// 2-d FFT of a real input.
pub fn try_rfft2(
    a: &Array,
    s: Option<&[i32]>,
    axes: &[i32],
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, axes, true, false, norm)
}

/// Inverse of [`try_rfft2`].
pub fn try_irfft2(
    a: &Array,
    s: Option<&[i32]>,
    axes: &[i32],
    norm: FftNorm,
) -> Result<Array, Error> {
    fft_impl(a, s, axes, true, true, norm)
}

/// Rolls the zero-frequency term to the centre of `axes` (default: all).
pub fn try_fftshift(a: &Array, axes: Option<&[i32]>) -> Result<Array, Error> {
    shift(a, axes, false)
}

/// Inverse of [`try_fftshift`].
pub fn try_ifftshift(a: &Array, axes: Option<&[i32]>) -> Result<Array, Error> {
    shift(a, axes, true)
}

/// A roll by `n // 2` (or `-(n // 2)` inverse) per axis, as two slices.
fn shift(a: &Array, axes: Option<&[i32]>, inverse: bool) -> Result<Array, Error> {
    a.check()?;
    let axes: Vec<usize> = match axes {
        Some(ax) => ax
            .iter()
            .map(|&x| norm_axis("fftshift", x as i64, a.ndim()))
            .collect::<Result<_, _>>()?,
        None => (0..a.ndim()).collect(),
    };
    let mut x = a.clone();
    for ax in axes {
        let n = x.shape()[ax];
        if n <= 1 {
            continue;
        }
        // Result element i is input element (i - shift) mod n.
        let shift = if inverse { -(n / 2) } else { n / 2 };
        let split = (n - shift).rem_euclid(n) as i32;
        let r = x.ndim();
        let full: Vec<i32> = x.shape().iter().map(|&d| d as i32).collect();
        let mut start = vec![0; r];
        start[ax] = split;
        let tail = try_slice(&x, &start, &full, &vec![1; r])?;
        let mut stop = full.clone();
        stop[ax] = split;
        let head = try_slice(&x, &vec![0; r], &stop, &vec![1; r])?;
        x = super::shape::try_concatenate(&[tail, head], ax as i32)?;
    }
    Ok(x)
}

/// Sample frequencies of an `n`-point FFT with spacing `d` (f32).
pub fn try_fftfreq(n: i32, d: f64) -> Result<Array, Error> {
    if n <= 0 {
        return Err(Error::new(
            "fftfreq",
            format!("n must be positive, found {n}"),
        ));
    }
    let v: Vec<f32> = (0..n)
        .map(|i| {
            let k = if i < (n + 1) / 2 { i } else { i - n };
            (k as f64 / (n as f64 * d)) as f32
        })
        .collect();
    super::creation::try_array(&v, &[n])
}

/// Sample frequencies of an `n`-point real FFT (`n/2 + 1` of them).
pub fn try_rfftfreq(n: i32, d: f64) -> Result<Array, Error> {
    if n <= 0 {
        return Err(Error::new(
            "rfftfreq",
            format!("n must be positive, found {n}"),
        ));
    }
    let m = n / 2 + 1;
    let v: Vec<f32> = (0..m).map(|i| (i as f64 / (n as f64 * d)) as f32).collect();
    super::creation::try_array(&v, &[m])
}

infallible! {
    /// See [`try_fft`].
    fn fft = try_fft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm);
    /// See [`try_ifft`].
    fn ifft = try_ifft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm);
    /// See [`try_rfft`].
    fn rfft = try_rfft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm);
    /// See [`try_irfft`].
    fn irfft = try_irfft(a: &Array, n: Option<i32>, axis: i32, norm: FftNorm);
    /// See [`try_fftn`].
    fn fftn = try_fftn(a: &Array, s: Option<&[i32]>, axes: Option<&[i32]>, norm: FftNorm);
    /// See [`try_ifftn`].
    fn ifftn = try_ifftn(a: &Array, s: Option<&[i32]>, axes: Option<&[i32]>, norm: FftNorm);
    /// See [`try_rfftn`].
    fn rfftn = try_rfftn(a: &Array, s: Option<&[i32]>, axes: Option<&[i32]>, norm: FftNorm);
    /// See [`try_irfftn`].
    fn irfftn = try_irfftn(a: &Array, s: Option<&[i32]>, axes: Option<&[i32]>, norm: FftNorm);
    /// See [`try_fft2`].
    fn fft2 = try_fft2(a: &Array, s: Option<&[i32]>, axes: &[i32], norm: FftNorm);
    /// See [`try_ifft2`].
    fn ifft2 = try_ifft2(a: &Array, s: Option<&[i32]>, axes: &[i32], norm: FftNorm);
    /// See [`try_rfft2`].
    fn rfft2 = try_rfft2(a: &Array, s: Option<&[i32]>, axes: &[i32], norm: FftNorm);
    /// See [`try_irfft2`].
    fn irfft2 = try_irfft2(a: &Array, s: Option<&[i32]>, axes: &[i32], norm: FftNorm);
    /// See [`try_fftshift`].
    fn fftshift = try_fftshift(a: &Array, axes: Option<&[i32]>);
    /// See [`try_ifftshift`].
    fn ifftshift = try_ifftshift(a: &Array, axes: Option<&[i32]>);
    /// See [`try_fftfreq`].
    fn fftfreq = try_fftfreq(n: i32, d: f64);
    /// See [`try_rfftfreq`].
    fn rfftfreq = try_rfftfreq(n: i32, d: f64);
}
