//! The per-parameter optimizers, each a transcription of MLX's
//! `apply_single` (same order of operations, same placement of `eps` and
//! weight decay, Python floats entering as weak scalars). Constructors take
//! the learning rate; the other hyperparameters have MLX's defaults and
//! builder methods of the same names.

use super::{slot, top_scalar, Core, LearningRate, PerParam};
use crate::array::Array;
use crate::error::Error;
use crate::ops::creation::{try_zeros, try_zeros_like};
use crate::ops::elementwise::{
    try_abs, try_add, try_astype, try_divide, try_maximum, try_minimum, try_multiply, try_power,
    try_rsqrt, try_sign, try_sqrt, try_square, try_subtract,
};
use crate::ops::linalg::{try_addmm, try_matmul};
use crate::ops::reduce::{try_mean, try_sum};
use crate::ops::shape::{try_expand_dims, try_reshape, try_transpose};
use crate::ops::Axes;
use crate::tree::{Dict, Nest};

fn slots<const N: usize>(items: [(&str, Array); N]) -> Dict {
    items
        .into_iter()
        .map(|(k, v)| (k.to_string(), Nest::Leaf(v)))
        .collect()
}

fn set(slots: &mut Dict, name: &str, v: &Array) {
    slots.insert(name, Nest::Leaf(v.clone()));
}

fn bad(op: &str, msg: String) -> Result<(), Error> {
    Err(Error::new(op, msg))
}

macro_rules! core_access {
    () => {
        fn core(&self) -> &Core {
            &self.core
        }
        fn core_mut(&mut self) -> &mut Core {
            &mut self.core
        }
    };
}

fn core_with_lr(lr: &LearningRate) -> Core {
    let mut c = Core::new();
    c.maybe_schedule("learning_rate", lr);
    c
}

// ---------------------------------------------------------------------------

/// Stochastic gradient descent (MLX's `SGD`): `v = momentum * v + (1 -
/// dampening) * g` (plain `+ g` without dampening), `w -= lr * v` (Nesterov:
/// `lr * (g + momentum * v)`); weight decay adds `weight_decay * w` to the
/// gradient first. Without momentum the slot `v` stays zero, as in MLX.
#[derive(Clone)]
pub struct SGD {
    core: Core,
    pub momentum: f64,
    pub weight_decay: f64,
    pub dampening: f64,
    pub nesterov: bool,
}

impl SGD {
    pub fn new(learning_rate: impl Into<LearningRate>) -> SGD {
        SGD {
            core: core_with_lr(&learning_rate.into()),
            momentum: 0.0,
            weight_decay: 0.0,
            dampening: 0.0,
            nesterov: false,
        }
    }
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = v;
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
    pub fn dampening(mut self, v: f64) -> Self {
        self.dampening = v;
        self
    }
    pub fn nesterov(mut self, v: bool) -> Self {
        self.nesterov = v;
        self
    }
}

impl PerParam for SGD {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return bad(
                "SGD",
                "Nesterov momentum requires a momentum and zero dampening.".into(),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([("v", try_zeros_like(p)?)]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let mut g = g.clone();
        if self.weight_decay != 0.0 {
            g = try_add(&g, &try_multiply(self.weight_decay, p)?)?;
        }
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        if self.momentum <= 0.0 {
            return try_subtract(p, &try_multiply(&lr, &g)?);
        }
        let mut v = try_multiply(self.momentum, &slot(s, "v")?)?;
        if self.dampening > 0.0 {
            v = try_add(&v, &try_multiply(1.0 - self.dampening, &g)?)?;
        } else {
            v = try_add(&v, &g)?;
        }
        let update = if self.nesterov {
            try_add(&g, &try_multiply(self.momentum, &v)?)?
        } else {
            v.clone()
        };
        set(s, "v", &v);
        try_subtract(p, &try_multiply(&lr, &update)?)
    }
}

// ---------------------------------------------------------------------------

/// RMSprop (MLX's `RMSprop`): `v = alpha * v + (1 - alpha) * g^2`,
/// `w -= lr * g / (sqrt(v) + eps)`. Defaults `alpha = 0.99`, `eps = 1e-8`.
#[derive(Clone)]
pub struct RMSprop {
    core: Core,
    pub alpha: f64,
    pub eps: f64,
}

impl RMSprop {
    pub fn new(learning_rate: impl Into<LearningRate>) -> RMSprop {
        RMSprop {
            core: core_with_lr(&learning_rate.into()),
            alpha: 0.99,
            eps: 1e-8,
        }
    }
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
}

impl PerParam for RMSprop {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        if self.alpha < 0.0 {
            return bad(
                "RMSprop",
                format!(
                    "RMSprop alpha should be >=0, {} was provided instead",
                    self.alpha
                ),
            );
        }
        if self.eps <= 0.0 {
            return bad(
                "RMSprop",
                format!(
                    "RMSprop epsilon should be >0, {} was provided instead",
                    self.eps
                ),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([("v", try_zeros_like(p)?)]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let v = try_add(
            &try_multiply(self.alpha, &slot(s, "v")?)?,
            &try_multiply(1.0 - self.alpha, &try_square(g)?)?,
        )?;
        set(s, "v", &v);
        let den = try_add(&try_sqrt(&v)?, self.eps)?;
        try_subtract(p, &try_divide(&try_multiply(&lr, g)?, &den)?)
    }
}

// ---------------------------------------------------------------------------

/// Adagrad (MLX's `Adagrad`): `v += g^2`, `w -= lr * g / (sqrt(v) + eps)`.
/// Default `eps = 1e-8`.
#[derive(Clone)]
pub struct Adagrad {
    core: Core,
    pub eps: f64,
}

impl Adagrad {
    pub fn new(learning_rate: impl Into<LearningRate>) -> Adagrad {
        Adagrad {
            core: core_with_lr(&learning_rate.into()),
            eps: 1e-8,
        }
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
}

impl PerParam for Adagrad {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        if self.eps <= 0.0 {
            return bad(
                "Adagrad",
                format!(
                    "Adagrad epsilon should be >0, {} was provided instead",
                    self.eps
                ),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([("v", try_zeros_like(p)?)]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let v = try_add(&slot(s, "v")?, &try_square(g)?)?;
        set(s, "v", &v);
        let den = try_add(&try_sqrt(&v)?, self.eps)?;
        try_subtract(p, &try_divide(&try_multiply(&lr, g)?, &den)?)
    }
}

// ---------------------------------------------------------------------------

/// AdaDelta (MLX's `AdaDelta`): `v = rho * v + (1 - rho) * g^2`,
/// `d = sqrt(u + eps) / sqrt(v + eps) * g`, `u = rho * u + (1 - rho) * d^2`,
/// `w -= lr * d`. Defaults `rho = 0.9`, `eps = 1e-6`.
#[derive(Clone)]
pub struct AdaDelta {
    core: Core,
    pub rho: f64,
    pub eps: f64,
}

impl AdaDelta {
    pub fn new(learning_rate: impl Into<LearningRate>) -> AdaDelta {
        AdaDelta {
            core: core_with_lr(&learning_rate.into()),
            rho: 0.9,
            eps: 1e-6,
        }
    }
    pub fn rho(mut self, v: f64) -> Self {
        self.rho = v;
        self
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
}

impl PerParam for AdaDelta {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        if self.rho < 0.0 {
            return bad(
                "AdaDelta",
                format!(
                    "AdaDelta rho should be >=0, {} was provided instead",
                    self.rho
                ),
            );
        }
        if self.eps <= 0.0 {
            return bad(
                "AdaDelta",
                format!(
                    "AdaDelta epsilon should be >0, {} was provided instead",
                    self.eps
                ),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([
            ("v", try_zeros_like(p)?),
            ("u", try_zeros_like(p)?),
        ]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let (rho, eps) = (self.rho, self.eps);
        let v = try_add(
            &try_multiply(rho, &slot(s, "v")?)?,
            &try_multiply(1.0 - rho, &try_square(g)?)?,
        )?;
        let u = slot(s, "u")?;
        let d = try_multiply(
            &try_divide(
                &try_sqrt(&try_add(&u, eps)?)?,
                &try_sqrt(&try_add(&v, eps)?)?,
            )?,
            g,
        )?;
        let u = try_add(
            &try_multiply(rho, &u)?,
            &try_multiply(1.0 - rho, &try_square(&d)?)?,
        )?;
        set(s, "v", &v);
        set(s, "u", &u);
        try_subtract(p, &try_multiply(&lr, &d)?)
    }
}

// ---------------------------------------------------------------------------

fn check_betas(op: &str, betas: (f64, f64)) -> Result<(), Error> {
    for (i, b) in [betas.0, betas.1].into_iter().enumerate() {
        if !(0.0..1.0).contains(&b) {
            return bad(
                op,
                format!(
                    "{op} beta{} should be in [0, 1), {b} was provided instead",
                    i + 1
                ),
            );
        }
    }
    Ok(())
}

/// Adam (MLX's `Adam`): `m = b1 * m + (1 - b1) * g`,
/// `v = b2 * v + (1 - b2) * g^2`, `w -= lr * m / (sqrt(v) + eps)`; with `bias_correction` (off by
/// default, as in MLX) `w -= (lr / (1 - b1^t)) * m / (sqrt(v) * rsqrt(1 -
/// b2^t) + eps)`. Defaults `betas = (0.9, 0.999)`, `eps = 1e-8`.
#[derive(Clone)]
pub struct Adam {
    core: Core,
    pub betas: (f64, f64),
    pub eps: f64,
    pub bias_correction: bool,
}

impl Adam {
    pub fn new(learning_rate: impl Into<LearningRate>) -> Adam {
        Adam {
            core: core_with_lr(&learning_rate.into()),
            betas: (0.9, 0.999),
            eps: 1e-8,
            bias_correction: false,
        }
    }
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
    pub fn bias_correction(mut self, v: bool) -> Self {
        self.bias_correction = v;
        self
    }

    fn check(&self, op: &str) -> Result<(), Error> {
        check_betas(op, self.betas)?;
        if self.eps < 0.0 {
            return bad(
                op,
                format!(
                    "Adam epsilon should be >=0, {} was provided instead",
                    self.eps
                ),
            );
        }
        Ok(())
    }

    /// Adam's update of `p` (which AdamW has already decayed).
    fn step(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let (b1, b2) = self.betas;
        let m = try_add(
            &try_multiply(b1, &slot(s, "m")?)?,
            &try_multiply(1.0 - b1, g)?,
        )?;
        let v = try_add(
            &try_multiply(b2, &slot(s, "v")?)?,
            &try_multiply(1.0 - b2, &try_square(g)?)?,
        )?;
        set(s, "m", &m);
        set(s, "v", &v);
        if self.bias_correction {
            let step = top_scalar_raw(top, "step")?;
            let c1 = try_astype(
                &try_divide(&lr, &try_subtract(1.0, &try_power(b1, &step)?)?)?,
                g.dtype(),
            )?;
            let c2 = try_astype(
                &try_rsqrt(&try_subtract(1.0, &try_power(b2, &step)?)?)?,
                g.dtype(),
            )?;
            let num = try_multiply(&c1, &m)?;
            let den = try_add(&try_multiply(&try_sqrt(&v)?, &c2)?, self.eps)?;
            try_subtract(p, &try_divide(&num, &den)?)
        } else {
            let den = try_add(&try_sqrt(&v)?, self.eps)?;
            try_subtract(p, &try_divide(&try_multiply(&lr, &m)?, &den)?)
        }
    }
}

fn top_scalar_raw(top: &Dict, name: &str) -> Result<Array, Error> {
    top.get(name)
        .and_then(|n| n.leaf().cloned())
        .ok_or_else(|| Error::new("apply_gradients", format!("the state has no `{name}`")))
}

impl PerParam for Adam {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        self.check("Adam")
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([
            ("m", try_zeros_like(p)?),
            ("v", try_zeros_like(p)?),
        ]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        self.step(g, p, s, top)
    }
}

/// AdamW (MLX's `AdamW`): Adam applied to `w * (1 - lr * weight_decay)`.
/// Defaults as [`Adam`] and `weight_decay = 0.01`.
#[derive(Clone)]
pub struct AdamW {
    adam: Adam,
    pub weight_decay: f64,
}

impl AdamW {
    pub fn new(learning_rate: impl Into<LearningRate>) -> AdamW {
        AdamW {
            adam: Adam::new(learning_rate),
            weight_decay: 0.01,
        }
    }
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.adam.betas = (b1, b2);
        self
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.adam.eps = v;
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
    pub fn bias_correction(mut self, v: bool) -> Self {
        self.adam.bias_correction = v;
        self
    }
}

impl PerParam for AdamW {
    fn core(&self) -> &Core {
        &self.adam.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.adam.core
    }
    fn validate(&self) -> Result<(), Error> {
        self.adam.check("AdamW")
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        self.adam.init_single(p)
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let decayed = try_multiply(
            p,
            &try_subtract(1.0, &try_multiply(&lr, self.weight_decay)?)?,
        )?;
        self.adam.step(g, &decayed, s, top)
    }
}

/// Adamax (MLX's `Adamax`): `m = b1 * m + (1 - b1) * g`, `v = max(b2 * v,
/// |g|)`, `w -= lr * m / (v + eps)`. Defaults `betas = (0.9, 0.999)`,
/// `eps = 1e-8`.
#[derive(Clone)]
pub struct Adamax {
    core: Core,
    pub betas: (f64, f64),
    pub eps: f64,
}

impl Adamax {
    pub fn new(learning_rate: impl Into<LearningRate>) -> Adamax {
        Adamax {
            core: core_with_lr(&learning_rate.into()),
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }
    pub fn eps(mut self, v: f64) -> Self {
        self.eps = v;
        self
    }
}

impl PerParam for Adamax {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        check_betas("Adam", self.betas)?;
        if self.eps < 0.0 {
            return bad(
                "Adamax",
                format!(
                    "Adam epsilon should be >=0, {} was provided instead",
                    self.eps
                ),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([
            ("m", try_zeros_like(p)?),
            ("v", try_zeros_like(p)?),
        ]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let (b1, b2) = self.betas;
        let m = try_add(
            &try_multiply(b1, &slot(s, "m")?)?,
            &try_multiply(1.0 - b1, g)?,
        )?;
        let v = try_maximum(&try_multiply(b2, &slot(s, "v")?)?, &try_abs(g)?)?;
        set(s, "m", &m);
        set(s, "v", &v);
        try_subtract(
            p,
            &try_divide(&try_multiply(&lr, &m)?, &try_add(&v, self.eps)?)?,
        )
    }
}

// ---------------------------------------------------------------------------

/// Lion (MLX's `Lion`): `c = b1 * m + (1 - b1) * g`, `m = b2 * m + (1 - b2)
/// * g`, `w = w * (1 - lr * weight_decay) - lr * sign(c)` (the decay only
/// when positive). Defaults `betas = (0.9, 0.99)`, `weight_decay = 0`.
#[derive(Clone)]
pub struct Lion {
    core: Core,
    pub betas: (f64, f64),
    pub weight_decay: f64,
}

impl Lion {
    pub fn new(learning_rate: impl Into<LearningRate>) -> Lion {
        Lion {
            core: core_with_lr(&learning_rate.into()),
            betas: (0.9, 0.99),
            weight_decay: 0.0,
        }
    }
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
}

impl PerParam for Lion {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        check_betas("Lion", self.betas)
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([("m", try_zeros_like(p)?)]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let lr = top_scalar(top, "learning_rate", g.dtype())?;
        let (b1, b2) = self.betas;
        let m = slot(s, "m")?;
        let c = try_add(&try_multiply(b1, &m)?, &try_multiply(1.0 - b1, g)?)?;
        let m = try_add(&try_multiply(b2, &m)?, &try_multiply(1.0 - b2, g)?)?;
        set(s, "m", &m);
        let mut p = p.clone();
        if self.weight_decay > 0.0 {
            p = try_multiply(
                &try_subtract(1.0, &try_multiply(&lr, self.weight_decay)?)?,
                &p,
            )?;
        }
        try_subtract(&p, &try_multiply(&lr, &try_sign(&c)?)?)
    }
}

// ---------------------------------------------------------------------------

/// Adafactor (MLX's `Adafactor`): factored second moments (row and column
/// means, slots `exp_avg_sq_row`/`exp_avg_sq_col`) for parameters of rank
/// 2 or more, `exp_avg_sq` otherwise, `exp_avg` when `beta_1` is set; a
/// relative step size `min(1e-2, 1/sqrt(t))` (or `min(1e-6 t, 1/sqrt(t))`
/// with `warmup_init`) unless `relative_step` is off, scaled by
/// `max(eps.1, rms(w))` when `scale_parameter`; updates clipped to RMS
/// `clip_threshold`. Defaults: no learning rate, `eps = (1e-30, 1e-3)`,
/// `clip_threshold = 1`, `decay_rate = -0.8`, `beta_1 = None`,
/// `weight_decay = 0`, `scale_parameter`, `relative_step`, no
/// `warmup_init`.
#[derive(Clone)]
pub struct Adafactor {
    core: Core,
    has_lr: bool,
    pub eps: (f64, f64),
    pub clip_threshold: f64,
    pub decay_rate: f64,
    pub beta_1: Option<f64>,
    pub weight_decay: f64,
    pub scale_parameter: bool,
    pub relative_step: bool,
    pub warmup_init: bool,
}

impl Default for Adafactor {
    fn default() -> Self {
        Adafactor::new()
    }
}

impl Adafactor {
    /// Adafactor without a learning rate (it uses relative steps).
    pub fn new() -> Adafactor {
        Adafactor {
            core: Core::new(),
            has_lr: false,
            eps: (1e-30, 1e-3),
            clip_threshold: 1.0,
            decay_rate: -0.8,
            beta_1: None,
            weight_decay: 0.0,
            scale_parameter: true,
            relative_step: true,
            warmup_init: false,
        }
    }
    /// Sets a learning rate (used when `relative_step` is off).
    pub fn learning_rate(mut self, lr: impl Into<LearningRate>) -> Self {
        self.core.maybe_schedule("learning_rate", &lr.into());
        self.has_lr = true;
        self
    }
    pub fn eps(mut self, e1: f64, e2: f64) -> Self {
        self.eps = (e1, e2);
        self
    }
    pub fn clip_threshold(mut self, v: f64) -> Self {
        self.clip_threshold = v;
        self
    }
    pub fn decay_rate(mut self, v: f64) -> Self {
        self.decay_rate = v;
        self
    }
    pub fn beta_1(mut self, v: Option<f64>) -> Self {
        self.beta_1 = v;
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
    pub fn scale_parameter(mut self, v: bool) -> Self {
        self.scale_parameter = v;
        self
    }
    pub fn relative_step(mut self, v: bool) -> Self {
        self.relative_step = v;
        self
    }
    pub fn warmup_init(mut self, v: bool) -> Self {
        self.warmup_init = v;
        self
    }
}

fn rms(x: &Array) -> Result<Array, Error> {
    try_sqrt(&try_mean(&try_square(x)?, Axes::All, false)?)
}

impl PerParam for Adafactor {
    core_access!();
    fn validate(&self) -> Result<(), Error> {
        if !self.relative_step && !self.has_lr {
            return bad(
                "Adafactor",
                "a learning rate is needed when relative_step is off".into(),
            );
        }
        Ok(())
    }
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        let mut d = Dict::new();
        if p.ndim() >= 2 {
            let shape: Vec<i32> = p.shape().iter().map(|&x| x as i32).collect();
            let r = shape.len();
            let row = &shape[..r - 1];
            let mut col = shape[..r - 2].to_vec();
            col.push(shape[r - 1]);
            d.insert("exp_avg_sq_row", Nest::Leaf(try_zeros(row, p.dtype())?));
            d.insert("exp_avg_sq_col", Nest::Leaf(try_zeros(&col, p.dtype())?));
        } else {
            d.insert("exp_avg_sq", Nest::Leaf(try_zeros_like(p)?));
        }
        if self.beta_1.is_some() {
            d.insert("exp_avg", Nest::Leaf(try_zeros_like(p)?));
        }
        Ok(d)
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let factored = g.ndim() >= 2;
        let step = top_scalar_raw(top, "step")?;
        let p_rms = rms(p)?;
        // _compute_learning_rate
        let rel = if self.relative_step {
            let rs = try_rsqrt(&step)?;
            if self.warmup_init {
                try_minimum(&try_multiply(1e-6, &step)?, &rs)?
            } else {
                try_minimum(1e-2, &rs)?
            }
        } else {
            top_scalar_raw(top, "learning_rate")?
        };
        let rel = try_astype(&rel, p_rms.dtype())?;
        let lr = if self.scale_parameter {
            try_multiply(&try_maximum(self.eps.1, &p_rms)?, &rel)?
        } else {
            try_multiply(1.0, &rel)?
        };
        let beta_2 = try_subtract(
            1.0,
            &try_astype(&try_power(&step, self.decay_rate)?, p_rms.dtype())?,
        )?;
        let one_minus = try_subtract(1.0, &beta_2)?;
        let mut update = try_add(&try_square(g)?, self.eps.0)?;
        if factored {
            let row = try_add(
                &try_multiply(&beta_2, &slot(s, "exp_avg_sq_row")?)?,
                &try_multiply(&one_minus, &try_mean(&update, -1, false)?)?,
            )?;
            let col = try_add(
                &try_multiply(&beta_2, &slot(s, "exp_avg_sq_col")?)?,
                &try_multiply(&one_minus, &try_mean(&update, -2, false)?)?,
            )?;
            set(s, "exp_avg_sq_row", &row);
            set(s, "exp_avg_sq_col", &col);
            let r_factor = try_rsqrt(&try_divide(&row, &try_mean(&row, -1, true)?)?)?;
            let c_factor = try_rsqrt(&col)?;
            update = try_multiply(
                &try_expand_dims(&r_factor, -1)?,
                &try_expand_dims(&c_factor, -2)?,
            )?;
            update = try_multiply(&update, g)?;
        } else {
            let e = try_add(
                &try_multiply(&beta_2, &slot(s, "exp_avg_sq")?)?,
                &try_multiply(&one_minus, &update)?,
            )?;
            set(s, "exp_avg_sq", &e);
            update = try_multiply(&try_rsqrt(&e)?, g)?;
        }
        update = try_divide(
            &update,
            &try_maximum(1.0, &try_divide(&rms(&update)?, self.clip_threshold)?)?,
        )?;
        update = try_multiply(&lr, &update)?;
        if let Some(b1) = self.beta_1 {
            let e = try_add(
                &try_multiply(b1, &slot(s, "exp_avg")?)?,
                &try_multiply(1.0 - b1, &update)?,
            )?;
            set(s, "exp_avg", &e);
            update = e;
        }
        let mut p = p.clone();
        if self.weight_decay != 0.0 {
            p = try_add(
                &p,
                &try_multiply(&p, &try_multiply(-self.weight_decay, &lr)?)?,
            )?;
        }
        try_subtract(&p, &update)
    }
}

// ---------------------------------------------------------------------------

/// Muon (MLX's `Muon`): momentum `v = momentum * v + (1 - momentum) * g`
/// (after weight decay `g += weight_decay * w`), Nesterov update `g * (1 -
/// momentum) + v * momentum` by default, orthogonalized by `ns_steps`
/// Newton–Schulz iterations (coefficients 3.4445, -4.7750, 2.0315) for
/// parameters of rank 2 or more (flattened to `[rows, -1]`), with the
/// learning rate scaled by `sqrt(max(1, rows / cols))`. Defaults
/// `momentum = 0.95`, `weight_decay = 0.01`, `nesterov = true`,
/// `ns_steps = 5`.
#[derive(Clone)]
pub struct Muon {
    core: Core,
    pub momentum: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub ns_steps: usize,
}

impl Muon {
    pub fn new(learning_rate: impl Into<LearningRate>) -> Muon {
        Muon {
            core: core_with_lr(&learning_rate.into()),
            momentum: 0.95,
            weight_decay: 0.01,
            nesterov: true,
            ns_steps: 5,
        }
    }
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = v;
        self
    }
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
    pub fn nesterov(mut self, v: bool) -> Self {
        self.nesterov = v;
        self
    }
    pub fn ns_steps(mut self, v: usize) -> Self {
        self.ns_steps = v;
        self
    }
}

/// The quintic Newton–Schulz iteration of MLX's
/// `_zeropower_via_newtonschulz5` on a matrix.
pub fn newton_schulz5(x: &Array, steps: usize) -> Result<Array, Error> {
    if x.ndim() != 2 {
        return Err(Error::new(
            "Muon",
            format!(
                "Expected a 2D array for Newton-Schulz iteration, got shape {:?} instead.",
                x.shape()
            ),
        ));
    }
    let (a, b, c) = (3.4445, -4.7750, 2.0315);
    let transpose = x.shape()[0] > x.shape()[1];
    let mut x = if transpose {
        try_transpose(x)?
    } else {
        x.clone()
    };
    let norm = try_sqrt(&try_sum(&try_square(&x)?, Axes::All, true)?)?;
    x = try_divide(&x, &try_add(&norm, 1e-7)?)?;
    for _ in 0..steps {
        let xt = try_transpose(&x)?;
        let am = try_matmul(&x, &xt)?;
        let bm = try_addmm(&try_multiply(b, &am)?, &am, &am, c as f32, 1.0)?;
        x = try_addmm(&try_multiply(a, &x)?, &bm, &x, 1.0, 1.0)?;
    }
    if transpose {
        x = try_transpose(&x)?;
    }
    Ok(x)
}

impl PerParam for Muon {
    core_access!();
    fn init_single(&self, p: &Array) -> Result<Dict, Error> {
        Ok(slots([("v", try_zeros_like(p)?)]))
    }
    fn apply_single(&self, g: &Array, p: &Array, s: &mut Dict, top: &Dict) -> Result<Array, Error> {
        let mut g = g.clone();
        if self.weight_decay != 0.0 {
            g = try_add(&g, &try_multiply(self.weight_decay, p)?)?;
        }
        let v = try_multiply(self.momentum, &slot(s, "v")?)?;
        let v = try_add(&v, &try_multiply(1.0 - self.momentum, &g)?)?;
        set(s, "v", &v);
        let mut update = if self.nesterov {
            try_add(
                &try_multiply(&g, 1.0 - self.momentum)?,
                &try_multiply(&v, self.momentum)?,
            )?
        } else {
            v
        };
        let mut lr = top_scalar(top, "learning_rate", g.dtype())?;
        if update.ndim() >= 2 {
            let shape = update.shape().to_vec();
            let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
            let reshape = update.ndim() > 2;
            if reshape {
                update = try_reshape(&update, &[dims[0], -1])?;
            }
            update = newton_schulz5(&update, self.ns_steps)?;
            if reshape {
                update = try_reshape(&update, &dims)?;
            }
            let r = shape.len();
            let ratio = shape[r - 2] as f64 / shape[r - 1] as f64;
            lr = try_multiply(&lr, ratio.max(1.0).powf(0.5))?;
        }
        try_subtract(p, &try_multiply(&lr, &update)?)
    }
}
