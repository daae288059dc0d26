//! `RoPE`, `SinusoidalPositionalEncoding` and `ALiBi`, with MLX's formulas
//! (RoPE as `mx.fast.rope` computes it, built from differentiable ops).

use super::{fail, shape_i32};
use crate::array::Array;
use crate::nn::ModuleState;
use crate::ops::elementwise as ew;
use crate::ops::shape::Idx;
use crate::{arange_dtype, concatenate, expand_dims, impl_module, index, reshape, stack, DType};

fn last_slice(x: &Array, start: i64, stop: i64, step: i64) -> Array {
    index(
        x,
        &[
            Idx::Ellipsis,
            Idx::Slice {
                start: Some(start),
                stop: Some(stop),
                step,
            },
        ],
    )
}

/// MLX's `mx.fast.rope`: rotates the first `dims` features of `x` (`...,
/// L, D`) by angle `(offset + l) * scale * base^(-2i/dims)`; the halves
/// `[:dims/2]` and `[dims/2:dims]` are paired, or adjacent features when
/// `traditional`. Features past `dims` pass through.
pub fn rope(x: &Array, dims: i64, traditional: bool, base: f32, scale: f32, offset: i64) -> Array {
    if x.ndim() < 2 || dims % 2 != 0 || dims > x.shape()[x.ndim() - 1] {
        return fail(
            "rope",
            format!("dims {dims} must be even and at most the last axis of a rank-2+ input"),
        );
    }
    let l = x.shape()[x.ndim() - 2];
    let d = x.shape()[x.ndim() - 1];
    let half = dims / 2;
    let pos = arange_dtype(offset as f64, (offset + l) as f64, 1.0, DType::F32) * scale;
    let inv = ew::exp(
        &(arange_dtype(0.0, half as f64, 1.0, DType::F32) * (-(base as f64).ln() / half as f64)),
    );
    let theta = expand_dims(&pos, -1) * expand_dims(&inv, 0); // (L, half)
    let (cos, sin) = (
        ew::astype(&ew::cos(&theta), x.dtype()),
        ew::astype(&ew::sin(&theta), x.dtype()),
    );
    let rotated = if traditional {
        let x1 = last_slice(x, 0, dims, 2);
        let x2 = last_slice(x, 1, dims, 2);
        let r1 = &x1 * &cos - &x2 * &sin;
        let r2 = &x1 * &sin + &x2 * &cos;
        let mut s = shape_i32(&r1);
        let pair = stack(&[r1, r2], -1);
        *s.last_mut().unwrap_or(&mut 0) = dims as i32;
        reshape(&pair, &s)
    } else {
        let x1 = last_slice(x, 0, half, 1);
        let x2 = last_slice(x, half, dims, 1);
        let r1 = &x1 * &cos - &x2 * &sin;
        let r2 = &x1 * &sin + &x2 * &cos;
        concatenate(&[r1, r2], -1)
    };
    if dims < d {
        concatenate(&[rotated, last_slice(x, dims, d, 1)], -1)
    } else {
        rotated
    }
}

/// MLX's `nn.RoPE(dims, traditional=False, base=10000, scale=1.0)`.
#[derive(Clone, Debug)]
pub struct RoPE {
    pub dims: i64,
    pub traditional: bool,
    pub base: f32,
    pub scale: f32,
    pub state: ModuleState,
}
impl RoPE {
    pub fn new(dims: i64, traditional: bool, base: f32, scale: f32) -> Self {
        RoPE {
            dims,
            traditional,
            base,
            scale,
            state: ModuleState::default(),
        }
    }
    /// Rotates `x` with positions starting at `offset`.
    pub fn forward_offset(&self, x: &Array, offset: i64) -> Array {
        rope(
            x,
            self.dims,
            self.traditional,
            self.base,
            self.scale,
            offset,
        )
    }
}
impl_module!(RoPE {});
impl crate::nn::Layer for RoPE {
    fn forward(&self, x: &Array) -> Array {
        self.forward_offset(x, 0)
    }
}

/// MLX's `nn.SinusoidalPositionalEncoding(dims, min_freq=1e-4, max_freq=1,
/// scale=None, cos_first=False, full_turns=False)`: maps positions `x`
/// to `[sin(x s), cos(x s)] * scale` (or cos first) with `dims/2`
/// geometrically spaced frequencies `s`.
#[derive(Clone, Debug)]
pub struct SinusoidalPositionalEncoding {
    /// The frequencies (private in MLX: `_sigmas`, not a parameter).
    pub sigmas: Array,
    pub scale: f32,
    pub cos_first: bool,
    pub state: ModuleState,
}
impl SinusoidalPositionalEncoding {
    pub fn new(
        dims: i64,
        min_freq: f32,
        max_freq: f32,
        scale: Option<f32>,
        cos_first: bool,
        full_turns: bool,
    ) -> Self {
        let half = dims / 2;
        let one_zero = if dims == 2 {
            crate::array(&[1.0f32], &[1])
        } else {
            1.0 - arange_dtype(0.0, half as f64, 1.0, DType::F32) / (half - 1) as f32
        };
        let (lo, hi) = ((min_freq as f64).ln(), (max_freq as f64).ln());
        let mut sigmas = ew::exp(&(one_zero * (hi - lo) + lo));
        if full_turns {
            sigmas = sigmas * (2.0 * std::f64::consts::PI);
        }
        if dims <= 0 || dims % 2 != 0 {
            sigmas = fail(
                "SinusoidalPositionalEncoding",
                format!("dims must be positive and even but got {dims}"),
            );
        }
        SinusoidalPositionalEncoding {
            sigmas,
            scale: scale.unwrap_or((2.0 / dims as f32).sqrt()),
            cos_first,
            state: ModuleState::default(),
        }
    }
    /// MLX's defaults for `dims`.
    pub fn with_dims(dims: i64) -> Self {
        Self::new(dims, 1e-4, 1.0, None, false, false)
    }
}
impl_module!(SinusoidalPositionalEncoding {});
impl crate::nn::Layer for SinusoidalPositionalEncoding {
    fn forward(&self, x: &Array) -> Array {
        let y = expand_dims(x, -1) * &self.sigmas;
        let (c, s) = (ew::cos(&y), ew::sin(&y));
        let y = if self.cos_first {
            concatenate(&[c, s], -1)
        } else {
            concatenate(&[s, c], -1)
        };
        if self.scale != 1.0 {
            y * self.scale
        } else {
            y
        }
    }
}

/// MLX's `nn.ALiBi`: adds `-|i - j| * slope_h` to attention scores
/// `(B, H, Lq, Lk)`.
#[derive(Clone, Debug, Default)]
pub struct ALiBi {
    pub state: ModuleState,
}
impl_module!(ALiBi {});

impl ALiBi {
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-head slopes, shape `(H, 1, 1)`.
    pub fn create_alibi_slope(num_heads: i64, dtype: DType) -> Array {
        fn slopes(n: i64) -> Vec<f64> {
            let l = (n as f64).log2();
            if l.fract() == 0.0 {
                let start = 2f64.powf(-(2f64.powf(-(l - 3.0))));
                (0..n).map(|i| start * start.powi(i as i32)).collect()
            } else {
                let c = 2i64.pow(l.floor() as u32);
                let mut v = slopes(c);
                v.extend(slopes(2 * c).into_iter().step_by(2).take((n - c) as usize));
                v
            }
        }
        let s: Vec<f32> = slopes(num_heads).into_iter().map(|x| x as f32).collect();
        let a = crate::array(&s, &[num_heads as i32]);
        ew::astype(&expand_dims(&a, [-1, -2]), dtype)
    }

    /// The bias `(1, H, Lq - offset, Lk)` for queries `offset..q_len`.
    pub fn create_alibi_matrix(
        q_len: i64,
        k_len: i64,
        num_heads: i64,
        offset: i64,
        dtype: DType,
    ) -> Array {
        let x1 = arange_dtype(offset as f64, q_len as f64, 1.0, DType::I32);
        let x2 = arange_dtype(0.0, k_len as f64, 1.0, DType::I32);
        let d = expand_dims(&x1, 1) - expand_dims(&x2, 0);
        let dist = ew::negative(&ew::abs(&expand_dims(&d, [0, 1])));
        ew::astype(&(dist * Self::create_alibi_slope(num_heads, dtype)), dtype)
    }

    /// `scores + alibi (+ mask)`.
    pub fn forward_scores(&self, scores: &Array, offset: i64, mask: Option<&Array>) -> Array {
        let s = scores.shape();
        if s.len() != 4 {
            return fail("ALiBi", "attention scores must be (B, H, Lq, Lk)");
        }
        let m = Self::create_alibi_matrix(s[2] + offset, s[3], s[1], offset, scores.dtype());
        let m = match mask {
            Some(mask) => m + mask,
            None => m,
        };
        scores + m
    }
}
