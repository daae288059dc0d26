//! The [`Module`] trait: MLX's `nn.Module` over Rust structs. A module
//! names its arrays and child modules through [`Module::slots`]; everything
//! else (`parameters`, `trainable_parameters`, `update`, `freeze`,
//! `unfreeze`, `train`/`eval`, `children`, `save_weights`,
//! `load_weights`) is provided on top, with MLX's semantics and messages.

use super::params::Params;
use crate::array::Array;
use crate::error::{shape_str, Error};
use psionic_ir::DType;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What every module carries besides its arrays: the training flag and
/// the frozen keys (MLX's `_training` and `_no_grad`).
#[derive(Clone, Debug)]
pub struct ModuleState {
    pub training: bool,
    pub no_grad: BTreeSet<String>,
}

impl Default for ModuleState {
    fn default() -> Self {
        ModuleState {
            training: true,
            no_grad: BTreeSet::new(),
        }
    }
}

/// One named member of a module, as [`Module::slots`] reports it.
pub enum Slot<'a> {
    Array(&'a Array),
    Module(&'a dyn Module),
    List(Vec<Slot<'a>>),
}

/// A mutable member, as [`Module::slots_mut`] reports it.
pub enum SlotMut<'a> {
    Array(&'a mut Array),
    Module(&'a mut dyn Module),
    List(Vec<SlotMut<'a>>),
}

/// MLX's `nn.Module`. Implement the required methods (the
/// [`impl_module!`](crate::impl_module) macro writes them from a field
/// list); the rest is provided.
pub trait Module: Send + Sync {
    /// The layer's name as MLX prints it (`Linear`).
    fn type_name(&self) -> &'static str;
    /// The members, in declaration order: arrays, child modules, lists.
    fn slots(&self) -> Vec<(String, Slot<'_>)>;
    /// The same members, mutably.
    fn slots_mut(&mut self) -> Vec<(String, SlotMut<'_>)>;
    fn state(&self) -> &ModuleState;
    fn state_mut(&mut self) -> &mut ModuleState;
    /// `self` as a trait object (the macro writes `self`).
    fn as_dyn_mut(&mut self) -> &mut dyn Module;

    /// True in training mode (the default), false after [`Module::eval`].
    fn training(&self) -> bool {
        self.state().training
    }

    /// Every array, as a nest of maps and lists (MLX's `parameters()`).
    fn parameters(&self) -> Params {
        collect(self.slots(), self.state(), false)
    }

    /// The arrays not frozen (MLX's `trainable_parameters()`).
    fn trainable_parameters(&self) -> Params {
        collect(self.slots(), self.state(), true)
    }

    /// The direct child modules with their keys (`layers.0` for lists).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out = Vec::new();
        for (k, s) in self.slots() {
            child_modules(&k, s, &mut out);
        }
        out
    }

    /// Every module below this one with its dotted path (MLX's
    /// `named_modules()` without the root itself).
    fn descendants(&self) -> Vec<(String, &dyn Module)> {
        let mut out = Vec::new();
        for (k, m) in self.children() {
            let sub = m.descendants();
            out.push((k.clone(), m));
            out.extend(sub.into_iter().map(|(s, m)| (format!("{k}.{s}"), m)));
        }
        out
    }

    /// Visits this module and every module below it, mutably, with the
    /// dotted path (`""` for this one): MLX's `apply_to_modules`.
    fn apply_to_modules(&mut self, f: &mut dyn FnMut(&str, &mut dyn Module)) {
        apply_rec(self.as_dyn_mut(), "", f);
    }

    /// Replaces arrays with those of `params` (a partial nest is fine).
    /// A key the module lacks, or a nest where an array is expected, is an
    /// error, as with MLX's `update(..., strict=True)`.
    fn update(&mut self, params: &Params) -> Result<(), Error> {
        self.update_with(params, true)
    }

    /// [`Module::update`] with MLX's `strict` flag: when false, unknown
    /// keys are skipped.
    fn update_with(&mut self, params: &Params, strict: bool) -> Result<(), Error> {
        let Params::Map(m) = params else {
            if strict {
                return Err(Error::new(
                    "update",
                    "received invalid type: expected a map of parameters",
                ));
            }
            return Ok(());
        };
        let mut slots: BTreeMap<String, SlotMut<'_>> = self.slots_mut().into_iter().collect();
        for (k, v) in m {
            match slots.remove(k) {
                Some(slot) => update_slot(slot, v, strict, k)?,
                None if strict => {
                    return Err(Error::new(
                        "update",
                        format!("module does not have parameter named \"{k}\""),
                    ))
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Freezes parameters (MLX's `freeze(recurse=True, keys=None,
    /// strict=False)`): all of them, or only those named `keys` (in every
    /// module when `recurse`). With `strict`, a key no module has is an error.
    fn freeze(&mut self, recurse: bool, keys: Option<&[&str]>, strict: bool) -> Result<(), Error> {
        freeze_impl(self, recurse, keys, strict, true)
    }

    /// Unfreezes parameters (MLX's `unfreeze`), the converse of [`Module::freeze`].
    fn unfreeze(
        &mut self,
        recurse: bool,
        keys: Option<&[&str]>,
        strict: bool,
    ) -> Result<(), Error> {
        freeze_impl(self, recurse, keys, strict, false)
    }

    /// Sets training mode here and below (MLX's `train(mode)`).
    fn train(&mut self, mode: bool) {
        self.apply_to_modules(&mut |_, m| m.state_mut().training = mode);
    }

    /// Evaluation mode (MLX's `eval()`, not the array `eval`).
    fn eval_mode(&mut self) {
        self.train(false);
    }

    /// Maps every array through `f` and stores the results (MLX's `apply`).
    fn apply_params(&mut self, f: &mut dyn FnMut(&Array) -> Array) -> Result<(), Error> {
        let p = self.parameters().map(f);
        self.update(&p)
    }

    /// Casts floating parameters to `dtype` (MLX's `set_dtype`).
    fn set_dtype(&mut self, dtype: DType) -> Result<(), Error> {
        self.apply_params(&mut |a| {
            if a.dtype().is_float() {
                crate::astype(a, dtype)
            } else {
                a.clone()
            }
        })
    }

    /// Writes `parameters()` with dotted keys to `.npz` or `.safetensors`
    /// (MLX's `save_weights`). Arrays are evaluated first.
    fn save_weights(&self, path: &Path) -> Result<(), Error> {
        let flat = self.parameters().flatten_map();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let r = match ext.as_str() {
            "npz" => crate::io::api::savez(path, &flat),
            "safetensors" => crate::io::api::save_safetensors(path, &flat),
            _ => {
                return Err(Error::new(
                    "save_weights",
                    format!(
                        "unsupported file extension for {}: use '.npz' or '.safetensors'",
                        path.display()
                    ),
                ))
            }
        };
        r.map_err(|e| Error::new("save_weights", e.to_string()))
    }

    /// Reads `.npz` or `.safetensors` weights (MLX's `load_weights`). With
    /// `strict`, the file must hold exactly the model's keys with the
    /// model's shapes; otherwise only keys the model has are loaded.
    fn load_weights(&mut self, path: &Path, strict: bool) -> Result<(), Error> {
        let loaded =
            crate::io::api::load(path).map_err(|e| Error::new("load_weights", e.to_string()))?;
        self.load_weights_from(loaded.into_map().into_iter().collect(), strict)
    }

    /// [`Module::load_weights`] from `(dotted key, array)` pairs.
    fn load_weights_from(
        &mut self,
        weights: Vec<(String, Array)>,
        strict: bool,
    ) -> Result<(), Error> {
        let current = self.parameters().flatten_map();
        let new: BTreeMap<String, Array> = weights.iter().cloned().collect();
        if strict {
            let extras: Vec<&String> = new.keys().filter(|k| !current.contains_key(*k)).collect();
            if !extras.is_empty() {
                return Err(Error::new(
                    "load_weights",
                    format!(
                        "received {} parameters not in model: {}",
                        extras.len(),
                        list(&extras)
                    ),
                ));
            }
            let missing: Vec<&String> = current.keys().filter(|k| !new.contains_key(*k)).collect();
            if !missing.is_empty() {
                return Err(Error::new(
                    "load_weights",
                    format!("missing {} parameters: {}", missing.len(), list(&missing)),
                ));
            }
            for (k, v) in &current {
                let n = &new[k];
                if n.shape() != v.shape() {
                    return Err(Error::new(
                        "load_weights",
                        format!(
                            "expected shape {} but received shape {} for parameter {k}",
                            shape_str(v.shape()),
                            shape_str(n.shape())
                        ),
                    ));
                }
            }
        }
        if weights.is_empty() {
            return Ok(());
        }
        // Non-strict: keys the model lacks are skipped, as in MLX.
        let kept: Vec<(String, Array)> = if strict {
            weights
        } else {
            weights
                .into_iter()
                .filter(|(k, _)| current.contains_key(k))
                .collect()
        };
        let tree = Params::unflatten(kept)?;
        self.update_with(&tree, false)
    }

    /// A one-line-per-module description, as MLX's `repr`.
    fn describe(&self) -> String {
        let mut s = format!("{}({})", self.type_name(), self.extra_repr());
        let children = self.children();
        if children.is_empty() {
            return s;
        }
        s.pop();
        for (k, c) in children {
            let inner = c.describe().replace('\n', "\n  ");
            s.push_str(&format!("\n  ({k}): {inner}"));
        }
        s.push_str("\n)");
        s
    }

    /// Constructor arguments for [`Module::describe`].
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// Whether this module has a quantized form (MLX: it defines
    /// `to_quantized`); [`crate::nn::quantize`] swaps such leaves.
    fn can_quantize(&self) -> bool {
        false
    }

    /// Turns this module into its quantized form in place (MLX's
    /// `to_quantized`, which makes a new `QuantizedLinear` or
    /// `QuantizedEmbedding` from the layer): `Linear` and `Embedding`
    /// quantize their weight and freeze it. Modules without a quantized
    /// form (the default) say so in the error.
    fn quantize_in_place(
        &mut self,
        _group_size: Option<i32>,
        _bits: Option<i32>,
        _mode: crate::QuantMode,
    ) -> Result<(), Error> {
        Err(Error::new(
            "quantize",
            format!("unable to quantize model of type {}", self.type_name()),
        ))
    }
}

fn list(keys: &[&String]) -> String {
    keys.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn collect(slots: Vec<(String, Slot<'_>)>, state: &ModuleState, trainable: bool) -> Params {
    let mut m = BTreeMap::new();
    for (k, s) in slots {
        if k.starts_with('_') || (trainable && state.no_grad.contains(&k)) {
            continue;
        }
        m.insert(k, collect_slot(s, trainable));
    }
    Params::Map(m)
}

fn collect_slot(s: Slot<'_>, trainable: bool) -> Params {
    match s {
        Slot::Array(a) => Params::Array(a.clone()),
        Slot::Module(m) => {
            if trainable {
                m.trainable_parameters()
            } else {
                m.parameters()
            }
        }
        Slot::List(l) => Params::List(l.into_iter().map(|s| collect_slot(s, trainable)).collect()),
    }
}

fn child_modules<'a>(k: &str, s: Slot<'a>, out: &mut Vec<(String, &'a dyn Module)>) {
    match s {
        Slot::Module(m) => out.push((k.to_string(), m)),
        Slot::List(l) => {
            for (i, s) in l.into_iter().enumerate() {
                child_modules(&format!("{k}.{i}"), s, out);
            }
        }
        Slot::Array(_) => {}
    }
}

fn apply_rec(m: &mut dyn Module, path: &str, f: &mut dyn FnMut(&str, &mut dyn Module)) {
    f(path, &mut *m);
    for (k, s) in m.slots_mut() {
        let p = if path.is_empty() {
            k
        } else {
            format!("{path}.{k}")
        };
        apply_slot(s, &p, f);
    }
}

fn apply_slot(s: SlotMut<'_>, path: &str, f: &mut dyn FnMut(&str, &mut dyn Module)) {
    match s {
        SlotMut::Module(m) => apply_rec(m, path, f),
        SlotMut::List(l) => {
            for (i, s) in l.into_iter().enumerate() {
                apply_slot(s, &format!("{path}.{i}"), f);
            }
        }
        SlotMut::Array(_) => {}
    }
}

fn update_slot(slot: SlotMut<'_>, v: &Params, strict: bool, key: &str) -> Result<(), Error> {
    match (slot, v) {
        (SlotMut::Array(a), Params::Array(n)) => {
            *a = n.clone();
            Ok(())
        }
        (SlotMut::Array(_), _) if strict => Err(Error::new(
            "update",
            format!("received invalid type for `{key}`: a nest where an array is expected"),
        )),
        (SlotMut::Module(m), p @ Params::Map(_)) => m.update_with(p, strict),
        (SlotMut::List(l), Params::List(ps)) => {
            let n = l.len();
            for (i, (s, p)) in l.into_iter().zip(ps).enumerate() {
                update_slot(s, p, strict, &format!("{key}.{i}"))?;
            }
            if strict && ps.len() > n {
                return Err(Error::new(
                    "update",
                    format!("list index {n} is out of bounds for `{key}` of length {n}"),
                ));
            }
            Ok(())
        }
        (_, _) if strict => Err(Error::new(
            "update",
            format!("received invalid type for `{key}`"),
        )),
        _ => Ok(()),
    }
}

fn local_array_keys(m: &dyn Module) -> Vec<String> {
    m.slots()
        .into_iter()
        .filter(|(k, s)| !k.starts_with('_') && matches!(s, Slot::Array(_)))
        .map(|(k, _)| k)
        .collect()
}

fn has_member(m: &dyn Module, key: &str) -> bool {
    m.slots().iter().any(|(k, _)| k == key)
}

fn freeze_impl<M: Module + ?Sized>(
    m: &mut M,
    recurse: bool,
    keys: Option<&[&str]>,
    strict: bool,
    freeze: bool,
) -> Result<(), Error> {
    let op = if freeze { "freeze" } else { "unfreeze" };
    let mut err: Option<Error> = None;
    let mut strict_local = strict;
    if recurse && strict {
        if let Some(keys) = keys {
            let mut all: Vec<bool> = vec![false; keys.len()];
            m.apply_to_modules(&mut |_, mm| {
                for (i, k) in keys.iter().enumerate() {
                    all[i] |= has_member(mm, k);
                }
            });
            if let Some(i) = all.iter().position(|f| !f) {
                return Err(Error::new(
                    op,
                    format!("module doesn't contain member {}", keys[i]),
                ));
            }
            strict_local = false;
        }
    }
    let mut one = |mm: &mut dyn Module| {
        if err.is_some() {
            return;
        }
        let local: Vec<String> = match keys {
            Some(k) => k.iter().map(|s| s.to_string()).collect(),
            None if freeze => local_array_keys(mm),
            None => {
                mm.state_mut().no_grad.clear();
                return;
            }
        };
        if strict_local {
            if let Some(k) = local.iter().find(|k| !has_member(mm, k)) {
                err = Some(Error::new(op, format!("module doesn't contain member {k}")));
                return;
            }
        }
        let ng = &mut mm.state_mut().no_grad;
        for k in local {
            if freeze {
                ng.insert(k);
            } else {
                ng.remove(&k);
            }
        }
    };
    if recurse {
        m.apply_to_modules(&mut |_, mm| one(mm));
    } else {
        apply_root_only(m, &mut |mm| one(mm));
    }
    err.map_or(Ok(()), Err)
}

fn apply_root_only<M: Module + ?Sized>(m: &mut M, f: &mut dyn FnMut(&mut dyn Module)) {
    let mut first = true;
    m.apply_to_modules(&mut |_, mm| {
        if first {
            first = false;
            f(mm);
        }
    });
}

/// Writes the required [`Module`] methods from a field list. Each field is
/// `array name` (an [`Array`]), `opt name` (an `Option<Array>`, absent when
/// `None`), `module name` (a child module), `opt_module name`
/// (`Option<child>`), or `list name` (a `Vec` of modules, boxed or not).
/// The struct needs a `state: ModuleState` field.
#[macro_export]
macro_rules! impl_module {
    ($ty:ident { $($kind:ident $field:ident),* $(,)? }) => {
        impl $crate::nn::Module for $ty {
            fn type_name(&self) -> &'static str {
                stringify!($ty)
            }
            fn state(&self) -> &$crate::nn::ModuleState {
                &self.state
            }
            fn state_mut(&mut self) -> &mut $crate::nn::ModuleState {
                &mut self.state
            }
            fn as_dyn_mut(&mut self) -> &mut dyn $crate::nn::Module {
                self
            }
            #[allow(unused_mut, clippy::vec_init_then_push)]
            fn slots(&self) -> Vec<(String, $crate::nn::Slot<'_>)> {
                let mut v = Vec::new();
                $( $crate::impl_module!(@slot v, self, $kind $field); )*
                v
            }
            #[allow(unused_mut, clippy::vec_init_then_push)]
            fn slots_mut(&mut self) -> Vec<(String, $crate::nn::SlotMut<'_>)> {
                let mut v = Vec::new();
                $( $crate::impl_module!(@slot_mut v, self, $kind $field); )*
                v
            }
        }
    };
    (@slot $v:ident, $s:ident, array $f:ident) => {
        $v.push((stringify!($f).to_string(), $crate::nn::Slot::Array(&$s.$f)));
    };
    (@slot $v:ident, $s:ident, opt $f:ident) => {
        if let Some(a) = &$s.$f {
            $v.push((stringify!($f).to_string(), $crate::nn::Slot::Array(a)));
        }
    };
    (@slot $v:ident, $s:ident, module $f:ident) => {
        $v.push((stringify!($f).to_string(), $crate::nn::Slot::Module(&$s.$f)));
    };
    (@slot $v:ident, $s:ident, opt_module $f:ident) => {
        if let Some(m) = &$s.$f {
            $v.push((stringify!($f).to_string(), $crate::nn::Slot::Module(m)));
        }
    };
    (@slot $v:ident, $s:ident, list $f:ident) => {
        $v.push((
            stringify!($f).to_string(),
            $crate::nn::Slot::List(
                $s.$f.iter().map(|m| $crate::nn::Slot::Module($crate::nn::as_module(m))).collect(),
            ),
        ));
    };
    (@slot_mut $v:ident, $s:ident, array $f:ident) => {
        $v.push((stringify!($f).to_string(), $crate::nn::SlotMut::Array(&mut $s.$f)));
    };
    (@slot_mut $v:ident, $s:ident, opt $f:ident) => {
        if let Some(a) = &mut $s.$f {
            $v.push((stringify!($f).to_string(), $crate::nn::SlotMut::Array(a)));
        }
    };
    (@slot_mut $v:ident, $s:ident, module $f:ident) => {
        $v.push((stringify!($f).to_string(), $crate::nn::SlotMut::Module(&mut $s.$f)));
    };
    (@slot_mut $v:ident, $s:ident, opt_module $f:ident) => {
        if let Some(m) = &mut $s.$f {
            $v.push((stringify!($f).to_string(), $crate::nn::SlotMut::Module(m)));
        }
    };
    (@slot_mut $v:ident, $s:ident, list $f:ident) => {
        $v.push((
            stringify!($f).to_string(),
            $crate::nn::SlotMut::List(
                $s.$f
                    .iter_mut()
                    .map(|m| $crate::nn::SlotMut::Module($crate::nn::as_module_mut(m)))
                    .collect(),
            ),
        ));
    };
}

/// Views a list element (a module, or a boxed [`super::Layer`]) as `&dyn Module`.
pub trait AsModule {
    fn as_module(&self) -> &dyn Module;
    fn as_module_mut(&mut self) -> &mut dyn Module;
}

impl<T: Module + 'static> AsModule for T {
    fn as_module(&self) -> &dyn Module {
        self
    }
    fn as_module_mut(&mut self) -> &mut dyn Module {
        self
    }
}

impl AsModule for Box<dyn super::Layer> {
    fn as_module(&self) -> &dyn Module {
        &**self
    }
    fn as_module_mut(&mut self) -> &mut dyn Module {
        &mut **self
    }
}

/// Helper for [`impl_module!`].
pub fn as_module<T: AsModule>(m: &T) -> &dyn Module {
    m.as_module()
}

/// Helper for [`impl_module!`].
pub fn as_module_mut<T: AsModule>(m: &mut T) -> &mut dyn Module {
    m.as_module_mut()
}
