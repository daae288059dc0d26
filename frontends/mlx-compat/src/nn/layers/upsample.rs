//! `Upsample` with MLX's `nearest`, `linear` (bilinear, trilinear...) and
//! `cubic` (bicubic...) modes, `align_corners` and `antialias` as MLX 0.32
//! (`mlx/nn/layers/upsample.py`). Channels-last: `(N, spatial..., C)`.
//!
//! Every interpolating mode is a weighted sum of gathered samples, built the
//! way MLX builds it so that the values (and, by the same ops, the
//! gradients) follow MLX's arithmetic:
//! - per spatial axis, a few taps: source indices (clipped to the axis, the
//!   border value pads) and weights, all from MLX's f32 sampling grid
//!   (`_scaled_indices`: `i * (N-1)/(M-1)` with `align_corners`, otherwise
//!   `i / scale - ((M-1)/scale - N + 1) / 2`, `M = floor(scale * N)`);
//! - `linear`: 2 taps, floor and ceil of the grid clipped to `[0, N-1]`,
//!   weights `1 - t` and `t`;
//! - `cubic`: 4 taps at `floor(g)`, `floor(g + 1)`, `floor(g) - 1`,
//!   `floor(g + 1) + 1` (that order), weights from Keys' cubic kernel with
//!   `a = -0.75` (OpenCV's coefficient; PyTorch's bicubic) of the distance
//!   `x = |g - tap|`: `((a + 2) x - (a + 3)) x x + 1` for the inner taps,
//!   `(((x - 5) x + 8) x - 4) a` for the outer ones; the grid is not clipped
//!   (taps outside the axis read the border value);
//! - `antialias` (linear and cubic, not with `align_corners`): MLX's
//!   `_aa_indices`, the triangle or the `a = -0.5` Keys kernel widened by
//!   `1/scale` when downscaling, taps outside the axis dropped and the
//!   weights renormalized, applied one axis at a time.
//!
//! Non-antialiased `linear` without `align_corners` is applied one axis at a
//! time and the other non-antialiased cases sum over every combination of
//! the axes' taps (MLX's `_interpolate_separable` and `_interpolate`).

use super::fail;
use crate::array::Array;
use crate::nn::{Layer, ModuleState};
use crate::ops::elementwise as ew;
use crate::{arange_dtype, impl_module, reshape, take, DType};

/// How [`Upsample`] interpolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    Linear,
    Cubic,
}

impl UpsampleMode {
    /// MLX's name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            UpsampleMode::Nearest => "nearest",
            UpsampleMode::Linear => "linear",
            UpsampleMode::Cubic => "cubic",
        }
    }
}

fn nearest_axis(x: &Array, axis: usize, scale: f64) -> Array {
    let n = x.shape()[axis];
    let m = (scale * n as f64) as i64;
    let i = arange_dtype(0.0, m as f64, 1.0, DType::F32);
    let i = if m > n {
        ew::round(&((i + 0.5) * (n as f64 / m as f64) - 0.5), 0)
    } else {
        i * (n as f64 / m as f64)
    };
    take(x, &ew::astype(&i, DType::U32), Some(axis as i32))
}

/// One tap of an axis: source indices (u32, `(M,)`) and weights (f32, `(M,)`).
type Tap = (Array, Array);

/// MLX's `_scaled_indices`: the f32 sampling grid of an axis of `n`
/// upsampled by `scale` (length `floor(scale * n)`).
fn grid(n: i64, scale: f64, align_corners: bool) -> Array {
    let m = (scale * n as f64) as i64;
    let i = arange_dtype(0.0, m as f64, 1.0, DType::F32);
    if align_corners {
        i * ((n - 1) as f64 / (m - 1).max(1) as f64)
    } else {
        let step = 1.0 / scale;
        let start = ((m - 1) as f64 * step - n as f64 + 1.0) / 2.0;
        i * step - start
    }
}

/// Clipped to the axis `[0, n)` and made u32 indices.
fn clip_index(i: &Array, n: i64) -> Array {
    ew::astype(&ew::clip(i, 0.0, (n - 1) as f64), DType::U32)
}

/// MLX's `_linear_indices`.
fn linear_taps(n: i64, scale: f64, align_corners: bool) -> Vec<Tap> {
    let g = ew::clip(&grid(n, scale, align_corners), 0.0, (n - 1) as f64);
    let l = ew::floor(&g);
    let r = ew::ceil(&g);
    let w = &g - &l;
    vec![
        (ew::astype(&l, DType::U32), 1.0 - &w),
        (ew::astype(&r, DType::U32), w),
    ]
}

/// MLX's `_cubic_indices` (Keys' kernel, `a = -0.75`).
fn cubic_taps(n: i64, scale: f64, align_corners: bool) -> Vec<Tap> {
    let g = grid(n, scale, align_corners);
    let l1 = ew::floor(&g);
    let r1 = ew::floor(&(&g + 1.0));
    let l2 = &l1 - 1.0;
    let r2 = &r1 + 1.0;
    let a = -0.75;
    let weight = |tap: &Array, inner: bool| {
        let x = ew::abs(&(&g - tap));
        if inner {
            (((a + 2.0) * &x - (a + 3.0)) * &x) * &x + 1.0
        } else {
            (((&x - 5.0) * &x + 8.0) * &x - 4.0) * a
        }
    };
    [(&l1, true), (&r1, true), (&l2, false), (&r2, false)]
        .into_iter()
        .map(|(t, inner)| (clip_index(t, n), weight(t, inner)))
        .collect()
}

/// MLX's `_triangle_kernel`.
fn triangle(x: &Array) -> Array {
    ew::maximum(&(1.0 - x), 0.0)
}

/// MLX's `_cubic_kernel`: Keys' cubic with `a = -0.5` (PIL's).
fn keys_half(x: &Array) -> Array {
    let a = -0.5;
    let inner = (((a + 2.0) * x - (a + 3.0)) * x) * x + 1.0;
    let outer = (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    let le = |v: f64| ew::less_equal(x, v);
    ew::r#where(le(1.0), &inner, ew::r#where(le(2.0), &outer, 0.0))
}

/// MLX's `_aa_indices`: the kernel widened by `1/scale` when downscaling,
/// taps outside the axis zeroed, weights renormalized per output.
fn antialiased_taps(n: i64, scale: f64, kernel: fn(&Array) -> Array, radius: f64) -> Vec<Tap> {
    let g = grid(n, scale, false);
    let inv_scale = if scale < 1.0 { 1.0 / scale } else { 1.0 };
    let num_taps = (radius * inv_scale).ceil() as i64 + 1;
    let base = ew::floor(&g);
    let mut taps = Vec::new();
    for k in (-num_taps + 1)..num_taps {
        let idx = &base + k as f64;
        let dist = ew::abs(&(&g - &idx)) / inv_scale;
        let inside = ew::logical_and(ew::greater_equal(&idx, 0.0), ew::less(&idx, n as f64));
        let w = ew::r#where(&inside, kernel(&dist), 0.0);
        taps.push((idx, w));
    }
    let total = sum(taps.iter().map(|(_, w)| w.clone()));
    let total = ew::r#where(ew::greater(&total, 0.0), &total, 1.0);
    taps.into_iter()
        .map(|(idx, w)| (clip_index(&idx, n), w / &total))
        .collect()
}

/// `w` (shape `(M,)`) shaped to broadcast along `axis` of an `ndim` array
/// whose last axis is the channels: `(M, 1, ..., 1)` for the axes after it.
fn along(w: &Array, axis: usize, ndim: usize) -> Array {
    let mut s: Vec<i32> = vec![-1];
    s.extend(std::iter::repeat_n(1, ndim - axis - 1));
    reshape(w, &s)
}

/// MLX's `_interpolate_separable`: one axis at a time, `sum(take * w)`.
fn separable(x: &Array, taps: &[Vec<Tap>]) -> Array {
    let mut out = x.clone();
    for (i, axis_taps) in taps.iter().enumerate() {
        let axis = i + 1;
        let nd = out.ndim();
        out = sum(axis_taps
            .iter()
            .map(|(idx, w)| take(&out, idx, Some(axis as i32)) * along(w, axis, nd)));
    }
    out
}

/// MLX's `_interpolate`: every combination of the axes' taps (the first
/// axis outermost), its samples weighted by the product of its weights.
fn combined(x: &Array, taps: &[Vec<Tap>]) -> Array {
    let nd = x.ndim();
    let mut combos: Vec<Vec<&Tap>> = vec![Vec::new()];
    for axis_taps in taps {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis_taps.iter().map(move |t| {
                    let mut c = c.clone();
                    c.push(t);
                    c
                })
            })
            .collect();
    }
    sum(combos.iter().map(|combo| {
        let mut sample = x.clone();
        let mut weight: Option<Array> = None;
        for (i, (idx, w)) in combo.iter().enumerate() {
            sample = take(&sample, idx, Some(i as i32 + 1));
            let w = along(w, i + 1, nd);
            weight = Some(match weight {
                None => w,
                Some(acc) => acc * w,
            });
        }
        match weight {
            Some(w) => w * sample,
            None => sample,
        }
    }))
}

/// Python's `sum` of arrays, left to right (its start, the integer 0, adds
/// nothing but the sign of a zero).
fn sum(terms: impl Iterator<Item = Array>) -> Array {
    terms
        .reduce(|s, t| s + t)
        .unwrap_or_else(|| fail("Upsample", "no taps"))
}

/// MLX's `nn.Upsample(scale_factor, mode="nearest", align_corners=False,
/// antialias=False)` over the spatial axes of `(N, spatial..., C)`.
#[derive(Clone, Debug)]
pub struct Upsample {
    pub scale_factor: Vec<f64>,
    pub mode: UpsampleMode,
    pub align_corners: bool,
    pub antialias: bool,
    pub state: ModuleState,
}
impl Upsample {
    /// One factor per spatial axis, or one for all (`vec![2.0]`).
    pub fn new(scale_factor: Vec<f64>, mode: UpsampleMode, align_corners: bool) -> Self {
        Upsample {
            scale_factor,
            mode,
            align_corners,
            antialias: false,
            state: ModuleState::default(),
        }
    }

    /// With MLX's `antialias` flag (linear and cubic modes, not with
    /// `align_corners`; a filter as wide as the downscaling needs).
    pub fn with_antialias(mut self, antialias: bool) -> Self {
        self.antialias = antialias;
        self
    }
}
impl_module!(Upsample {});
impl Layer for Upsample {
    fn forward(&self, x: &Array) -> Array {
        if self.antialias && self.mode == UpsampleMode::Nearest {
            return fail(
                "Upsample",
                "antialiasing is not supported for nearest neighbor upsampling",
            );
        }
        if self.antialias && self.align_corners {
            return fail(
                "Upsample",
                "antialias=True with align_corners=True is not supported; use align_corners=False for antialiased interpolation",
            );
        }
        let d = x.ndim().saturating_sub(2);
        if d == 0 {
            return fail(
                "Upsample",
                format!(
                    "the input should have at least 1 spatial dimension, which means it should be at least 3D, but {}D was provided",
                    x.ndim()
                ),
            );
        }
        let scales: Vec<f64> = match self.scale_factor.len() {
            1 => vec![self.scale_factor[0]; d],
            n if n == d => self.scale_factor.clone(),
            n => {
                return fail(
                    "Upsample",
                    format!("one scale per spatial dimension is required, but {n} scale factors were given for {d} spatial dimensions"),
                )
            }
        };
        let sizes = &x.shape()[1..=d];
        let taps = |f: &dyn Fn(i64, f64) -> Vec<Tap>| -> Vec<Vec<Tap>> {
            sizes.iter().zip(&scales).map(|(&n, &s)| f(n, s)).collect()
        };
        let ac = self.align_corners;
        match (self.mode, self.antialias) {
            (UpsampleMode::Nearest, _) => scales
                .iter()
                .enumerate()
                .fold(x.clone(), |y, (i, &s)| nearest_axis(&y, i + 1, s)),
            (UpsampleMode::Linear, true) => {
                separable(x, &taps(&|n, s| antialiased_taps(n, s, triangle, 1.0)))
            }
            (UpsampleMode::Cubic, true) => {
                separable(x, &taps(&|n, s| antialiased_taps(n, s, keys_half, 2.0)))
            }
            (UpsampleMode::Linear, false) if !ac => {
                separable(x, &taps(&|n, s| linear_taps(n, s, false)))
            }
            (UpsampleMode::Linear, false) => combined(x, &taps(&|n, s| linear_taps(n, s, true))),
            (UpsampleMode::Cubic, false) => combined(x, &taps(&|n, s| cubic_taps(n, s, ac))),
        }
    }
}
