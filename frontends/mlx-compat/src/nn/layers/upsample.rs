//! `Upsample` with MLX's `nearest` and `linear` modes (linear over every
//! spatial axis: bilinear, trilinear), `align_corners` as MLX. Channels-last.

use super::fail;
use crate::array::Array;
use crate::nn::{Layer, ModuleState};
use crate::ops::elementwise as ew;
use crate::{arange_dtype, impl_module, take, DType};

/// How [`Upsample`] interpolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    Linear,
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

fn linear_axis(x: &Array, axis: usize, scale: f64, align_corners: bool) -> Array {
    let n = x.shape()[axis];
    let m = (scale * n as f64) as i64;
    let i = arange_dtype(0.0, m as f64, 1.0, DType::F32);
    let i = if align_corners {
        i * ((n - 1) as f64 / (m - 1).max(1) as f64)
    } else {
        let step = 1.0 / scale;
        let start = ((m - 1) as f64 * step - n as f64 + 1.0) / 2.0;
        i * step - start
    };
    let i = ew::clip(&i, 0.0, (n - 1) as f64);
    let l = ew::floor(&i);
    let r = ew::ceil(&i);
    let w = &i - &l;
    // The weight varies along `axis`: shape it (m, 1, ...) for the trailing axes.
    let mut ws: Vec<i32> = vec![m as i32];
    ws.extend(std::iter::repeat_n(1, x.ndim() - axis - 1));
    let w = crate::reshape(&w, &ws);
    let xl = take(x, &ew::astype(&l, DType::U32), Some(axis as i32));
    let xr = take(x, &ew::astype(&r, DType::U32), Some(axis as i32));
    xl * (1.0 - &w) + xr * &w
}

/// MLX's `nn.Upsample(scale_factor, mode="nearest", align_corners=False)`
/// over the spatial axes of `(N, spatial..., C)`.
#[derive(Clone, Debug)]
pub struct Upsample {
    pub scale_factor: Vec<f64>,
    pub mode: UpsampleMode,
    pub align_corners: bool,
    pub state: ModuleState,
}
impl Upsample {
    /// One factor per spatial axis, or one for all (`vec![2.0]`).
    pub fn new(scale_factor: Vec<f64>, mode: UpsampleMode, align_corners: bool) -> Self {
        Upsample {
            scale_factor,
            mode,
            align_corners,
            state: ModuleState::default(),
        }
    }
}
impl_module!(Upsample {});
impl Layer for Upsample {
    fn forward(&self, x: &Array) -> Array {
        let d = x.ndim().saturating_sub(2);
        if d == 0 {
            return fail(
                "Upsample",
                "expected input (N, spatial..., C) with at least one spatial axis",
            );
        }
        let scales: Vec<f64> = match self.scale_factor.len() {
            1 => vec![self.scale_factor[0]; d],
            n if n == d => self.scale_factor.clone(),
            n => {
                return fail(
                    "Upsample",
                    format!("{n} scale factors for {d} spatial axes"),
                )
            }
        };
        let mut y = x.clone();
        for (i, &s) in scales.iter().enumerate() {
            y = match self.mode {
                UpsampleMode::Nearest => nearest_axis(&y, i + 1, s),
                UpsampleMode::Linear => linear_axis(&y, i + 1, s, self.align_corners),
            };
        }
        y
    }
}
