//! MLX's optimizers (`mlx.optimizers`): SGD, RMSprop, Adagrad, AdaDelta,
//! Adam, AdamW, Adamax, Lion, Adafactor, Muon and MultiOptimizer, the
//! learning-rate schedules ([`schedulers`]) and [`clip_grad_norm`], with
//! MLX's update formulas, defaults, state names and order of operations.
//!
//! # State
//! An optimizer's state is a [`Nest`] laid out as MLX lays it out: a map
//! with `step` (a `u64` scalar, the number of updates applied),
//! `learning_rate` (an `f32` scalar; other scheduled hyperparameters sit
//! beside it), and, under each parameter's own path, a map of that
//! parameter's slots (`m`, `v`, `exp_avg_sq_row`...). For parameters
//! `{"w": .., "layers": [{"b": ..}]}` Adam's state is
//! `{"step", "learning_rate", "w": {"m", "v"}, "layers": [{"b": {"m", "v"}}]}`
//! and `tree_flatten` names its leaves `w.m`, `layers.0.b.v`...
//!
//! # Two ways to step
//! - Stateful, as in MLX: [`Optimizer::update`] (`opt.update(model, grads)`)
//!   and [`Optimizer::apply_gradients_mut`] keep the state in the optimizer.
//! - Pure: [`Optimizer::apply_gradients`]`(grads, params, state) ->
//!   (params, state)` reads nothing but its arguments and the optimizer's
//!   fixed hyperparameters (schedules are functions of the `step` leaf), so
//!   a whole training step — forward, `value_and_grad`, update — traces
//!   into one function with parameters and state in and out.
//!
//! A learning rate is a number or a [`Schedule`] (a function of the step
//! array): `Adam::new(1e-3)` or `Adam::new(cosine_decay(1e-3, 1000, 0.0)?)`.
//! As in MLX a schedule is evaluated at the current step *before* the step
//! is incremented, and the update sees the incremented step (so Adam's bias
//! correction uses `t = 1` on the first update).

mod algorithms;
mod multi;
pub mod schedulers;

pub use algorithms::{AdaDelta, Adafactor, Adagrad, Adam, AdamW, Adamax, Lion, Muon, RMSprop, SGD};
pub use multi::{Filter, MultiOptimizer};
pub use schedulers::{
    cosine_decay, exponential_decay, join_schedules, linear_schedule, step_decay, Schedule,
};

use crate::array::Array;
use crate::error::Error;
use crate::ops::creation::scalar;
use crate::ops::elementwise::{
    try_add, try_astype, try_divide, try_minimum, try_multiply, try_sqrt,
};
use crate::ops::reduce::try_sum;
use crate::ops::Axes;
use crate::tree::{Dict, Nest};
use crate::utils::tree_update;
use psionic_ir::DType;

/// A learning rate (or another schedulable hyperparameter): a constant or
/// a [`Schedule`].
#[derive(Clone)]
pub enum LearningRate {
    Constant(f64),
    Schedule(Schedule),
}

impl From<f64> for LearningRate {
    fn from(v: f64) -> Self {
        LearningRate::Constant(v)
    }
}
impl From<f32> for LearningRate {
    fn from(v: f32) -> Self {
        LearningRate::Constant(v as f64)
    }
}
impl From<Schedule> for LearningRate {
    fn from(s: Schedule) -> Self {
        LearningRate::Schedule(s)
    }
}

impl std::fmt::Debug for LearningRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LearningRate::Constant(v) => write!(f, "{v}"),
            LearningRate::Schedule(_) => write!(f, "<schedule>"),
        }
    }
}

/// The optimizer interface. Every optimizer of this module implements it;
/// [`MultiOptimizer`] holds them as `Box<dyn Optimizer>`.
pub trait Optimizer: Send + Sync {
    /// The state (MLX's `optimizer.state`); see the module docs for its
    /// layout.
    fn state(&self) -> Nest;
    /// Replaces the state (MLX's `optimizer.state = ...`), say with one
    /// returned by [`Optimizer::apply_gradients`] or loaded from a file.
    fn set_state(&mut self, state: Nest) -> Result<(), Error>;
    /// The current state with slots added for every parameter of `params`
    /// that has none (MLX's `init`, without changing `self`).
    fn init_state(&self, params: &Nest) -> Result<Nest, Error>;
    /// One update, purely: the new parameters (with the structure of
    /// `grads`, which `params` may extend, as MLX's `apply_gradients`) and
    /// the new state. Parameters without slots in `state` get fresh ones.
    fn apply_gradients(
        &self,
        grads: &Nest,
        params: &Nest,
        state: &Nest,
    ) -> Result<(Nest, Nest), Error>;
    /// Sets `learning_rate` in the state (MLX's `optimizer.learning_rate =
    /// lr`; a schedule, if any, still overwrites it at the next step).
    fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error>;

    /// Adds slots for `params` to the stored state (MLX's `init`).
    fn init(&mut self, params: &Nest) -> Result<(), Error> {
        let s = self.init_state(params)?;
        self.set_state(s)
    }
    /// MLX's stateful `apply_gradients(grads, params)`: updates the stored
    /// state and returns the new parameters (the structure of `grads`).
    fn apply_gradients_mut(&mut self, grads: &Nest, params: &Nest) -> Result<Nest, Error> {
        let (p, s) = self.apply_gradients(grads, params, &self.state())?;
        self.set_state(s)?;
        Ok(p)
    }
    /// MLX's `update(model, grads)`: writes the updated parameters into
    /// `params` (which may hold more than `grads`, say frozen parameters).
    fn update(&mut self, params: &mut Nest, grads: &Nest) -> Result<(), Error> {
        let new = self.apply_gradients_mut(grads, params)?;
        *params = tree_update(params, &new)?;
        Ok(())
    }
    /// MLX's `optimizer.update(model, grads)` for an [`nn`](crate::nn)
    /// module: applies `grads` (as [`crate::nn::value_and_grad`] returns
    /// them) to the module's trainable parameters and writes the new values
    /// into the module; frozen parameters are left alone.
    fn update_module(
        &mut self,
        model: &mut dyn crate::nn::Module,
        grads: &crate::nn::Params,
    ) -> Result<(), Error> {
        let params = Nest::from(&model.trainable_parameters());
        let new = self.apply_gradients_mut(&Nest::from(grads), &params)?;
        model.update(&crate::nn::Params::from(&new))
    }
    /// The `learning_rate` entry of the state.
    fn learning_rate(&self) -> Option<Array> {
        self.state().get("learning_rate")?.leaf().cloned()
    }
    /// The `step` entry of the state.
    fn step(&self) -> Option<Array> {
        self.state().get("step")?.leaf().cloned()
    }
}

/// The part every per-parameter optimizer shares: the state's top level
/// (`step`, scheduled hyperparameters) and the schedules.
#[derive(Clone)]
pub struct Core {
    state: Nest,
    schedules: Vec<(String, Schedule)>,
}

impl Default for Core {
    fn default() -> Self {
        Core::new()
    }
}

impl Core {
    /// `{"step": 0u64}`, as MLX's `Optimizer.__init__`.
    pub fn new() -> Core {
        Core {
            state: Nest::dict([("step", Nest::Leaf(scalar(0u64)))]),
            schedules: Vec::new(),
        }
    }
    /// MLX's `_maybe_schedule(name, value)`: a constant becomes an `f32`
    /// scalar in the state; a schedule is evaluated at the current step
    /// and re-evaluated before every update.
    pub fn maybe_schedule(&mut self, name: &str, value: &LearningRate) {
        let v = match value {
            LearningRate::Constant(c) => scalar(*c as f32),
            LearningRate::Schedule(s) => {
                let step = self
                    .state
                    .get("step")
                    .and_then(|n| n.leaf().cloned())
                    .unwrap_or_else(|| scalar(0u64));
                self.schedules.retain(|(n, _)| n != name);
                self.schedules.push((name.to_string(), s.clone()));
                s(&step)
            }
        };
        if let Some(d) = self.state.as_dict_mut() {
            d.insert(name, Nest::Leaf(v));
        }
    }
}

/// An optimizer defined by an update of one parameter at a time (all but
/// [`MultiOptimizer`]); implementing it gives [`Optimizer`].
pub trait PerParam: Send + Sync {
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;
    /// Rejects hyperparameters MLX rejects (checked before every update).
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
    /// The slots of one parameter (MLX's `init_single`).
    fn init_single(&self, param: &Array) -> Result<Dict, Error>;
    /// The new value of one parameter; `slots` holds its slots (updated in
    /// place) and `top` the state's top level after this step's schedules
    /// and step increment (MLX's `apply_single`).
    fn apply_single(
        &self,
        grad: &Array,
        param: &Array,
        slots: &mut Dict,
        top: &Dict,
    ) -> Result<Array, Error>;
}

impl<P: PerParam> Optimizer for P {
    fn state(&self) -> Nest {
        self.core().state.clone()
    }
    fn set_state(&mut self, state: Nest) -> Result<(), Error> {
        if !matches!(state, Nest::Dict(_)) {
            return Err(Error::new("optimizer", "the state must be a map"));
        }
        self.core_mut().state = state;
        Ok(())
    }
    fn init_state(&self, params: &Nest) -> Result<Nest, Error> {
        self.validate()?;
        let mut state = self.core().state.clone();
        fill_slots(self, params, &mut state, "")?;
        Ok(state)
    }
    fn apply_gradients(
        &self,
        grads: &Nest,
        params: &Nest,
        state: &Nest,
    ) -> Result<(Nest, Nest), Error> {
        self.validate()?;
        let mut state = state.clone();
        let top = state
            .as_dict_mut()
            .ok_or_else(|| Error::new("apply_gradients", "the state must be a map"))?;
        let step = top
            .get("step")
            .and_then(|n| n.leaf().cloned())
            .ok_or_else(|| Error::new("apply_gradients", "the state has no `step` array"))?;
        for (name, s) in &self.core().schedules {
            top.insert(name.clone(), Nest::Leaf(s(&step)));
        }
        top.insert("step", Nest::Leaf(try_add(&step, 1)?));
        // Only the scalars: apply_single reads `step` and hyperparameters.
        let scalars: Dict = top
            .iter()
            .filter(|(_, v)| matches!(v, Nest::Leaf(_)))
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let new = walk(self, grads, params, &mut state, &scalars, "")?;
        Ok((new, state))
    }
    fn set_learning_rate(&mut self, lr: f64) -> Result<(), Error> {
        let d = self
            .core_mut()
            .state
            .as_dict_mut()
            .ok_or_else(|| Error::new("optimizer", "the state must be a map"))?;
        d.insert("learning_rate", Nest::Leaf(scalar(lr as f32)));
        Ok(())
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn is_empty_dict(n: &Nest) -> bool {
    matches!(n, Nest::Dict(d) if d.is_empty())
}

/// MLX's `init`: mirror `params` into `state`, giving each leaf without
/// slots fresh ones.
fn fill_slots<P: PerParam + ?Sized>(
    opt: &P,
    params: &Nest,
    state: &mut Nest,
    path: &str,
) -> Result<(), Error> {
    match params {
        Nest::Leaf(p) => {
            if is_empty_dict(state) {
                *state = Nest::Dict(opt.init_single(p)?);
            }
            Ok(())
        }
        Nest::List(l) => {
            if !matches!(state, Nest::List(_)) {
                if !is_empty_dict(state) {
                    return Err(Error::new(
                        "init",
                        format!("the state at `{path}` is not a list as the parameters are"),
                    ));
                }
                *state = Nest::List(Vec::new());
            }
            let Nest::List(s) = state else {
                return Err(Error::new("init", "internal: list state"));
            };
            while s.len() < l.len() {
                s.push(Nest::empty());
            }
            for (i, (p, st)) in l.iter().zip(s.iter_mut()).enumerate() {
                fill_slots(opt, p, st, &join(path, &i.to_string()))?;
            }
            Ok(())
        }
        Nest::Dict(d) => {
            let s = state.as_dict_mut().ok_or_else(|| {
                Error::new(
                    "init",
                    format!("the state at `{path}` is not a map as the parameters are"),
                )
            })?;
            for (k, p) in d.iter() {
                if s.get(k).is_none() {
                    s.insert(k, Nest::empty());
                }
                let st = s
                    .get_mut(k)
                    .ok_or_else(|| Error::new("init", "internal: map state"))?;
                fill_slots(opt, p, st, &join(path, k))?;
            }
            Ok(())
        }
    }
}

/// MLX's `tree_map(apply_single, gradients, parameters, state)`, creating
/// missing slots on the way.
fn walk<P: PerParam + ?Sized>(
    opt: &P,
    grads: &Nest,
    params: &Nest,
    state: &mut Nest,
    top: &Dict,
    path: &str,
) -> Result<Nest, Error> {
    match grads {
        Nest::Leaf(g) => {
            let p = params.leaf().ok_or_else(|| {
                Error::new(
                    "apply_gradients",
                    format!("the parameters have a subtree at `{path}` where the gradients have an array"),
                )
            })?;
            let mut slots = match state {
                Nest::Dict(d) if !d.is_empty() => d.clone(),
                Nest::Dict(_) => opt.init_single(p)?,
                _ => {
                    return Err(Error::new(
                        "apply_gradients",
                        format!("the state at `{path}` is not a map of slots"),
                    ))
                }
            };
            let new = opt
                .apply_single(g, p, &mut slots, top)
                .map_err(|e| Error::new(e.op, format!("{} (parameter `{path}`)", e.message)))?;
            *state = Nest::Dict(slots);
            Ok(Nest::Leaf(new))
        }
        Nest::List(gl) => {
            let pl = params.as_list().ok_or_else(|| {
                Error::new(
                    "apply_gradients",
                    format!("the parameters at `{path}` are not a list as the gradients are"),
                )
            })?;
            if pl.len() < gl.len() {
                return Err(Error::new(
                    "apply_gradients",
                    format!(
                        "the gradients have {} items at `{path}`, the parameters {}",
                        gl.len(),
                        pl.len()
                    ),
                ));
            }
            if is_empty_dict(state) {
                *state = Nest::List(Vec::new());
            }
            let Nest::List(sl) = state else {
                return Err(Error::new(
                    "apply_gradients",
                    format!("the state at `{path}` is not a list as the gradients are"),
                ));
            };
            while sl.len() < gl.len() {
                sl.push(Nest::empty());
            }
            let mut out = Vec::with_capacity(gl.len());
            for (i, g) in gl.iter().enumerate() {
                out.push(walk(
                    opt,
                    g,
                    &pl[i],
                    &mut sl[i],
                    top,
                    &join(path, &i.to_string()),
                )?);
            }
            Ok(Nest::List(out))
        }
        Nest::Dict(gd) => {
            let pd = params.as_dict().ok_or_else(|| {
                Error::new(
                    "apply_gradients",
                    format!("the parameters at `{path}` are not a map as the gradients are"),
                )
            })?;
            let sd = state.as_dict_mut().ok_or_else(|| {
                Error::new(
                    "apply_gradients",
                    format!("the state at `{path}` is not a map as the gradients are"),
                )
            })?;
            let mut out = Dict::new();
            for (k, g) in gd.iter() {
                let kp = join(path, k);
                let p = pd.get(k).ok_or_else(|| {
                    Error::new(
                        "apply_gradients",
                        format!("the parameters have no entry `{kp}` for its gradient"),
                    )
                })?;
                if sd.get(k).is_none() {
                    sd.insert(k, Nest::empty());
                }
                let st = sd
                    .get_mut(k)
                    .ok_or_else(|| Error::new("apply_gradients", "internal: map state"))?;
                out.insert(k, walk(opt, g, p, st, top, &kp)?);
            }
            Ok(Nest::Dict(out))
        }
    }
}

/// A scalar hyperparameter of the state's top level as `dtype` (MLX's
/// `self.learning_rate.astype(gradient.dtype)`).
pub(crate) fn top_scalar(top: &Dict, name: &str, dtype: DType) -> Result<Array, Error> {
    let a = top
        .get(name)
        .and_then(|n| n.leaf())
        .ok_or_else(|| Error::new("apply_gradients", format!("the state has no `{name}`")))?;
    try_astype(a, dtype)
}

/// The slot `name` of a parameter.
pub(crate) fn slot(slots: &Dict, name: &str) -> Result<Array, Error> {
    slots
        .get(name)
        .and_then(|n| n.leaf().cloned())
        .ok_or_else(|| Error::new("apply_gradients", format!("the state has no slot `{name}`")))
}

/// Clips the global norm of `grads` to `max_norm` (MLX's
/// `clip_grad_norm`): returns the rescaled gradients and the norm before
/// clipping. `f16` squares are summed in `f32`; the factor is
/// `min(max_norm / (norm + 1e-6), 1)` and floating gradients keep their
/// dtype.
pub fn clip_grad_norm(grads: &Nest, max_norm: f64) -> Result<(Nest, Array), Error> {
    if max_norm < 0.0 {
        return Err(Error::new(
            "clip_grad_norm",
            format!("max_norm should be >=0, {max_norm} was provided instead"),
        ));
    }
    let mut acc: Option<Array> = None;
    for g in grads.leaf_refs() {
        let g = if g.dtype() == DType::F16 {
            try_astype(g, DType::F32)?
        } else {
            g.clone()
        };
        let sq = try_sum(&try_multiply(&g, &g)?, Axes::All, false)?;
        acc = Some(match acc {
            // MLX starts from the Python float 0.0, which is weak.
            None => try_add(0.0, &sq)?,
            Some(a) => try_add(&a, &sq)?,
        });
    }
    let norm_sq = acc.unwrap_or_else(|| scalar(0.0f32));
    let total = try_sqrt(&norm_sq)?;
    let normalizer = try_minimum(&try_divide(max_norm, &try_add(&total, 1e-6)?)?, 1.0)?;
    let clipped = grads.try_map(&mut |g: &Array| {
        let s = try_multiply(g, &normalizer)?;
        if g.dtype().is_inexact() {
            try_astype(&s, g.dtype())
        } else {
            Ok(s)
        }
    })?;
    Ok((clipped, total))
}
