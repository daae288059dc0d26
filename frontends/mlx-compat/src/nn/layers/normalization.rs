//! `LayerNorm`, `RMSNorm`, `GroupNorm`, `BatchNorm` and `InstanceNorm`,
//! with MLX's formulas (biased variance; `BatchNorm` keeps running
//! statistics with the unbiased variance, frozen as in MLX).

use super::{fail, shape_i32};
use crate::array::Array;
use crate::nn::{Layer, Module, ModuleState};
use crate::ops::elementwise as ew;
use crate::{impl_module, mean, ones, reshape, transpose_axes, var, zeros, Axes, DType};

/// `(x - mean) * rsqrt(var + eps)` over `axes` (biased variance).
fn normalize(x: &Array, axes: impl Into<Axes> + Clone, eps: f32) -> Array {
    let m = mean(x, axes.clone(), true);
    let v = var(x, axes, true, 0);
    (x - m) * ew::rsqrt(&(v + eps))
}

fn affine(x: Array, weight: &Option<Array>, bias: &Option<Array>) -> Array {
    let x = match weight {
        Some(w) => w * x,
        None => x,
    };
    match bias {
        Some(b) => x + b,
        None => x,
    }
}

/// MLX's `nn.LayerNorm(dims, eps=1e-5, affine=True, bias=True)` over the
/// last axis; `weight` ones and `bias` zeros.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Option<Array>,
    pub bias: Option<Array>,
    pub dims: i64,
    pub eps: f32,
    pub state: ModuleState,
}
impl LayerNorm {
    pub fn new(dims: i64, eps: f32, affine: bool, bias: bool) -> Self {
        LayerNorm {
            weight: affine.then(|| ones(&[dims as i32], DType::F32)),
            bias: (affine && bias).then(|| zeros(&[dims as i32], DType::F32)),
            dims,
            eps,
            state: ModuleState::default(),
        }
    }
    /// MLX's defaults: `LayerNorm(dims)`.
    pub fn with_dims(dims: i64) -> Self {
        Self::new(dims, 1e-5, true, true)
    }
}
impl_module!(LayerNorm { opt weight, opt bias });
impl Layer for LayerNorm {
    fn forward(&self, x: &Array) -> Array {
        if self.eps <= 0.0 {
            return fail(
                "LayerNorm",
                format!("'eps' must be positive but got {}", self.eps),
            );
        }
        affine(normalize(x, -1, self.eps), &self.weight, &self.bias)
    }
}

/// MLX's `nn.RMSNorm(dims, eps=1e-5)`: `x * rsqrt(mean(x^2) + eps) * weight`.
#[derive(Clone, Debug)]
pub struct RMSNorm {
    pub weight: Array,
    pub eps: f32,
    pub state: ModuleState,
}
impl RMSNorm {
    pub fn new(dims: i64, eps: f32) -> Self {
        RMSNorm {
            weight: ones(&[dims as i32], DType::F32),
            eps,
            state: ModuleState::default(),
        }
    }
}
impl_module!(RMSNorm { array weight });
impl Layer for RMSNorm {
    fn forward(&self, x: &Array) -> Array {
        let ms = mean(&ew::square(x), -1, true);
        x * ew::rsqrt(&(ms + self.eps)) * &self.weight
    }
}

/// MLX's `nn.GroupNorm(num_groups, dims, eps=1e-5, affine=True,
/// pytorch_compatible=False)` over channels-last input.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    pub weight: Option<Array>,
    pub bias: Option<Array>,
    pub num_groups: i64,
    pub dims: i64,
    pub eps: f32,
    pub pytorch_compatible: bool,
    pub state: ModuleState,
}
impl GroupNorm {
    pub fn new(
        num_groups: i64,
        dims: i64,
        eps: f32,
        affine: bool,
        pytorch_compatible: bool,
    ) -> Self {
        GroupNorm {
            weight: affine.then(|| ones(&[dims as i32], DType::F32)),
            bias: affine.then(|| zeros(&[dims as i32], DType::F32)),
            num_groups,
            dims,
            eps,
            pytorch_compatible,
            state: ModuleState::default(),
        }
    }
}
impl_module!(GroupNorm { opt bias, opt weight });
impl Layer for GroupNorm {
    fn forward(&self, x: &Array) -> Array {
        if self.num_groups <= 0 || self.dims <= 0 || self.dims % self.num_groups != 0 {
            return fail(
                "GroupNorm",
                format!(
                    "the number of features ({}) must be evenly divisible by the number of groups ({})",
                    self.dims, self.num_groups
                ),
            );
        }
        let s = shape_i32(x);
        let (batch, dims) = (s[0], s[s.len() - 1]);
        let g = self.num_groups as i32;
        let y = if self.pytorch_compatible {
            let gs = dims / g;
            let y = reshape(x, &[batch, -1, g, gs]);
            let y = reshape(&transpose_axes(&y, &[0, 2, 1, 3]), &[batch, g, -1]);
            let y = normalize(&y, -1, self.eps);
            let y = reshape(&y, &[batch, g, -1, gs]);
            reshape(&transpose_axes(&y, &[0, 2, 1, 3]), &s)
        } else {
            let y = reshape(x, &[batch, -1, g]);
            reshape(&normalize(&y, 1, self.eps), &s)
        };
        affine(y, &self.weight, &self.bias)
    }
}

/// MLX's `nn.BatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True,
/// track_running_stats=True)` over the last axis of 2-4 dimensional input.
/// `running_mean`/`running_var` are parameters (saved with the weights)
/// but frozen. In training mode batch statistics normalize, and
/// [`Layer::forward_mut`] updates the running ones; in eval mode the
/// running statistics normalize.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    pub weight: Option<Array>,
    pub bias: Option<Array>,
    pub running_mean: Option<Array>,
    pub running_var: Option<Array>,
    pub num_features: i64,
    pub eps: f32,
    pub momentum: f32,
    pub state: ModuleState,
}
impl BatchNorm {
    pub fn new(
        num_features: i64,
        eps: f32,
        momentum: f32,
        affine: bool,
        track_running_stats: bool,
    ) -> Self {
        let n = [num_features as i32];
        let mut bn = BatchNorm {
            weight: affine.then(|| ones(&n, DType::F32)),
            bias: affine.then(|| zeros(&n, DType::F32)),
            running_mean: track_running_stats.then(|| zeros(&n, DType::F32)),
            running_var: track_running_stats.then(|| ones(&n, DType::F32)),
            num_features,
            eps,
            momentum,
            state: ModuleState::default(),
        };
        bn.freeze_stats();
        bn
    }
    /// MLX's defaults: `BatchNorm(num_features)`.
    pub fn with_features(num_features: i64) -> Self {
        Self::new(num_features, 1e-5, 0.1, true, true)
    }
    fn freeze_stats(&mut self) {
        if self.running_mean.is_some() {
            self.state.no_grad.insert("running_mean".into());
            self.state.no_grad.insert("running_var".into());
        }
    }
    fn check(&self, x: &Array) -> Option<Array> {
        if x.ndim() < 2 || x.ndim() > 4 {
            return Some(fail(
                "BatchNorm",
                format!(
                    "expected input tensor to have 2, 3 or 4 dimensions, but got {}",
                    x.ndim()
                ),
            ));
        }
        if self.state.training && x.shape()[..x.ndim() - 1].iter().product::<i64>() == 1 {
            return Some(fail(
                "BatchNorm",
                "BatchNorm training requires more than one value per channel",
            ));
        }
        None
    }
    fn axes(x: &Array) -> Vec<i32> {
        (0..x.ndim() as i32 - 1).collect()
    }
    fn apply(&self, x: &Array, m: &Array, v: &Array) -> Array {
        affine(
            (x - m) * ew::rsqrt(&(v + self.eps)),
            &self.weight,
            &self.bias,
        )
    }
    /// Unfreezes as MLX's `BatchNorm.unfreeze` does: the running statistics stay frozen.
    pub fn unfreeze_params(&mut self, keys: Option<&[&str]>) -> Result<(), crate::Error> {
        self.unfreeze(true, keys, false)?;
        self.freeze_stats();
        Ok(())
    }
}
impl_module!(BatchNorm { opt weight, opt bias, opt running_mean, opt running_var });
impl Layer for BatchNorm {
    fn forward(&self, x: &Array) -> Array {
        if let Some(e) = self.check(x) {
            return e;
        }
        match (&self.running_mean, &self.running_var, self.state.training) {
            (Some(m), Some(v), false) => self.apply(x, m, v),
            _ => {
                let ax = Self::axes(x);
                self.apply(x, &mean(x, ax.clone(), false), &var(x, ax, false, 0))
            }
        }
    }
    fn forward_mut(&mut self, x: &Array) -> Array {
        if let Some(e) = self.check(x) {
            return e;
        }
        if !self.state.training {
            return self.forward(x);
        }
        let ax = Self::axes(x);
        let m = mean(x, ax.clone(), false);
        let v = var(x, ax.clone(), false, 0);
        if let (Some(rm), Some(rv)) = (&self.running_mean, &self.running_var) {
            let mu = self.momentum;
            let unbiased = var(x, ax, false, 1);
            self.running_mean = Some(rm * (1.0 - mu) + &m * mu);
            self.running_var = Some(rv * (1.0 - mu) + unbiased * mu);
        }
        self.apply(x, &m, &v)
    }
}

/// MLX's `nn.InstanceNorm(dims, eps=1e-5, affine=False)`: each channel of
/// each sample normalized over the spatial axes (input `N, ..., C`).
#[derive(Clone, Debug)]
pub struct InstanceNorm {
    pub weight: Option<Array>,
    pub bias: Option<Array>,
    pub dims: i64,
    pub eps: f32,
    pub state: ModuleState,
}
impl InstanceNorm {
    pub fn new(dims: i64, eps: f32, affine: bool) -> Self {
        InstanceNorm {
            weight: affine.then(|| ones(&[dims as i32], DType::F32)),
            bias: affine.then(|| zeros(&[dims as i32], DType::F32)),
            dims,
            eps,
            state: ModuleState::default(),
        }
    }
}
impl_module!(InstanceNorm { opt weight, opt bias });
impl Layer for InstanceNorm {
    fn forward(&self, x: &Array) -> Array {
        if x.ndim() < 3 {
            return fail(
                "InstanceNorm",
                format!(
                    "InstanceNorm expects inputs with at least 3 dimensions (N, ..., C) but the input has {} dimensions",
                    x.ndim()
                ),
            );
        }
        let spatial: Vec<i32> = (1..x.ndim() as i32 - 1).collect();
        affine(normalize(x, spatial, self.eps), &self.weight, &self.bias)
    }
}
