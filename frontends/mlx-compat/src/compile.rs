//! `compile`: MLX's `mx.compile` for Rust closures over [`Tree`]s of arrays.
//!
//! [`compile(f)`](compile) returns a [`CompiledFn`]. Its first call at given
//! input types traces `f` into an IR function ([`crate::trace`]), and the
//! CPU backend ([`psionic_runtime::exec::Executable`]: specialization,
//! clean-up passes, e-graph, fusion, buffer planning, Cranelift) compiles
//! it; later calls with the same input structure, shapes and dtypes reuse
//! the native code and run it directly on the inputs' data.
//!
//! ```
//! use psionic_mlx::*;
//! use psionic_mlx::compile::compile;
//! # fn main() -> Result<(), Error> {
//! let gelu = compile(|x: &Array| x * sigmoid(&(x * 1.702)));
//! let y = gelu.try_call(&array(&[1.0f32, -2.0], &[2]))?; // traced and compiled
//! let z = gelu.try_call(&array(&[3.0f32, 0.5], &[2]))?;  // cached: runs native code
//! assert_eq!(gelu.traces(), 1);
//! # let _ = (y, z);
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//! - **Cache key**: the input tree's structure (vector lengths, map keys),
//!   and every leaf's dtype and shape. A new key traces again. With
//!   [`CompileOptions::shapeless`] the key keeps only dtypes and ranks: `f`
//!   is traced once with every dimension symbolic ([`psionic_ir::DYN`]) and
//!   the one traced function is specialized and code-generated per concrete
//!   shape by the executable (cheap: no tracing, no transform). A function
//!   whose ops need static shapes (a `reshape` to a size computed from
//!   the input shape, say) cannot be traced shapeless: the call returns the
//!   trace's error.
//! - **Captured arrays are constants of the trace**, as in MLX: an
//!   evaluated array the closure reads from its environment is copied into
//!   the trace as a `tensor.constant` when the trace is made, and later
//!   changes to the variable are not seen by that cache entry (MLX documents
//!   the same; pass state that changes as an input instead). A captured
//!   array that is not evaluated contributes its graph, which is then
//!   recomputed by every call (evaluate it first to bake in its value).
//! - **Eager execution**: a call evaluates its inputs (those not evaluated
//!   yet, with [`crate::eval`]), runs the compiled code and returns
//!   evaluated arrays in `f`'s output structure.
//! - **Inside transforms and traces**: a `CompiledFn` is [`Traceable`], so
//!   `grad(&compiled)`, `vmap(&compiled, ..)` and nesting in another
//!   `compile` trace `f` itself (compilation is inlined, as in MLX). A call
//!   whose inputs are tracers of an enclosing trace is replayed lazily into
//!   that trace ([`crate::apply()`]) instead of running.
//! - Composes the other way round too: `compile(value_and_grad(loss))`
//!   compiles a whole training step (forward, backward) into one program;
//!   `compile(|p| { let (l, g) = value_and_grad(loss)(p); ... sgd ... })`
//!   adds the update.

use crate::array::{Array, Source};
use crate::error::Error;
use crate::transforms::{Traceable, Tree};
use crate::{apply, eval};
use psionic_ir::{Func, Literal, TensorType, DYN};
use psionic_runtime::exec::Executable;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Options of [`compile_with`] (MLX's `mx.compile` keywords).
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileOptions {
    /// Trace once for any shapes of the same ranks and dtypes (MLX's
    /// `shapeless=True`); code is still generated per concrete shape.
    pub shapeless: bool,
}

/// One trace: the IR function, the output structure, the executable.
struct Entry<O> {
    func: Func,
    out: O,
    exe: Executable,
}

/// A compiled function: call it with [`CompiledFn::try_call`] (errors as
/// values) or [`CompiledFn::call`] (errors recorded in the output arrays,
/// the crate's infallible style). See the [module docs](self).
pub struct CompiledFn<P, O, F> {
    f: F,
    opts: CompileOptions,
    cache: Mutex<HashMap<String, Arc<Entry<O>>>>,
    _p: PhantomData<fn(&P) -> O>,
}

/// Compiles `f` (MLX's `mx.compile(f)`): traced once per input structure,
/// shapes and dtypes, run as native code.
pub fn compile<P: Tree, O: Tree, F: Traceable<P, O>>(f: F) -> CompiledFn<P, O, F> {
    compile_with(f, CompileOptions::default())
}

/// [`compile`] with options (`shapeless`).
pub fn compile_with<P: Tree, O: Tree, F: Traceable<P, O>>(
    f: F,
    opts: CompileOptions,
) -> CompiledFn<P, O, F> {
    CompiledFn {
        f,
        opts,
        cache: Mutex::new(HashMap::new()),
        _p: PhantomData,
    }
}

/// [`compile_with`] `shapeless: true` (MLX's `mx.compile(f, shapeless=True)`).
pub fn compile_shapeless<P: Tree, O: Tree, F: Traceable<P, O>>(f: F) -> CompiledFn<P, O, F> {
    compile_with(f, CompileOptions { shapeless: true })
}

/// True when `a`'s unevaluated graph reads an input of some trace: `a` is
/// a tracer (or built from one), so it has no value to run on.
fn depends_on_tracer(a: &Array) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![a.clone()];
    while let Some(x) = stack.pop() {
        if x.is_evaluated() || !seen.insert(x.0.id) {
            continue;
        }
        if matches!(x.0.source, Source::Input { .. }) {
            return true;
        }
        if let Some((op, _)) = x.0.op() {
            stack.extend(op.inputs.iter().cloned());
        }
    }
    false
}

fn lock_err() -> Error {
    Error::new("compile", "the compile cache is poisoned (a call panicked)")
}

impl<P: Tree, O: Tree, F: Traceable<P, O>> CompiledFn<P, O, F> {
    /// The cache key of `leaves` arranged as `p`.
    fn key(&self, p: &P, leaves: &[Array]) -> String {
        let mut k = String::new();
        p.structure_into(&mut k);
        k.push('|');
        for a in leaves {
            k.push_str(a.dtype().name());
            k.push('[');
            if self.opts.shapeless {
                k.push_str(&a.ndim().to_string());
            } else {
                for d in a.shape() {
                    k.push_str(&d.to_string());
                    k.push(',');
                }
            }
            k.push(']');
        }
        k
    }

    /// The trace for `p` (tracing and caching it on first use).
    fn entry(&self, p: &P, leaves: &[Array]) -> Result<Arc<Entry<O>>, Error> {
        let key = self.key(p, leaves);
        if let Some(e) = self.cache.lock().map_err(|_| lock_err())?.get(&key) {
            return Ok(e.clone());
        }
        // Trace outside the lock (the closure may call other compiled
        // functions). Shapeless: every dimension symbolic.
        let (func, out, captured) = if self.opts.shapeless {
            let examples: Vec<Array> = leaves
                .iter()
                .map(|a| {
                    let t = TensorType::new(a.dtype(), vec![DYN; a.ndim()]);
                    Array::placeholder(t, 0, 0)
                })
                .collect();
            let ex = rebuild(p, examples)?;
            self.f.trace_at(&ex).map_err(|e| {
                Error::new(
                    "compile",
                    format!("shapeless trace failed (compile without `shapeless` for this function): {e}"),
                )
            })?
        } else {
            self.f.trace_at(p)?
        };
        if !captured.is_empty() {
            return Err(Error::new(
                "compile",
                "the function captures an array of an enclosing trace (a tracer); pass it as an argument",
            ));
        }
        let e = Arc::new(Entry {
            exe: Executable::new(func.clone()),
            func,
            out,
        });
        let mut cache = self.cache.lock().map_err(|_| lock_err())?;
        Ok(cache.entry(key).or_insert(e).clone())
    }

    /// Calls the compiled function on `p`: its outputs, evaluated, in the
    /// structure `f` returns. Errors name the failing step (trace,
    /// compilation, run).
    pub fn try_call(&self, p: &P) -> Result<O, Error> {
        let leaves = p.leaves();
        for a in &leaves {
            a.check()?;
        }
        let entry = self.entry(p, &leaves)?;
        if leaves.iter().any(depends_on_tracer) {
            // Called inside another trace: replay lazily into it.
            let outs = apply(&entry.func, &leaves)?;
            return rebuild(&entry.out, outs);
        }
        let refs: Vec<&Array> = leaves.iter().collect();
        eval(&refs)?;
        let args: Vec<Literal> = leaves
            .iter()
            .map(|a| {
                a.value()
                    .cloned()
                    .ok_or_else(|| Error::new("compile", "an input has no value after eval"))
            })
            .collect::<Result<_, _>>()?;
        let outs = entry
            .exe
            .run(&args)
            .map_err(|e| Error::new("compile", e.to_string()))?;
        if outs.len() != entry.func.results.len() {
            return Err(Error::new(
                "compile",
                format!(
                    "the compiled code returned {} values for {} outputs",
                    outs.len(),
                    entry.func.results.len()
                ),
            ));
        }
        rebuild(
            &entry.out,
            outs.into_iter().map(Array::from_literal).collect(),
        )
    }

    /// [`CompiledFn::try_call`] in the crate's infallible style: on failure
    /// every output array carries the error (`eval`, `to_vec`... return
    /// it). The output structure is `f`'s own: `f` is called on arrays
    /// carrying the error, which propagate it through every op.
    pub fn call(&self, p: &P) -> O
    where
        F: Fn(&P) -> O,
    {
        match self.try_call(p) {
            Ok(o) => o,
            Err(e) => {
                let n = p.leaves().len();
                let errs = vec![Array::from_error(e.clone()); n];
                let ep = rebuild(p, errs).unwrap_or_else(|_| p.clone());
                // `f` on error arrays builds error arrays in its own structure.
                (self.f)(&ep)
            }
        }
    }

    /// Number of traces made so far (one per cache key).
    pub fn traces(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Number of native specializations generated so far (for shapeless
    /// functions, one per concrete shape; otherwise equal to [`Self::traces`]).
    pub fn specializations(&self) -> usize {
        self.cache
            .lock()
            .map(|c| c.values().map(|e| e.exe.cache_len()).sum())
            .unwrap_or(0)
    }

    /// The traced IR function for inputs like `p` (tracing if needed): for
    /// inspection (`psionic_ir::text::print_func`).
    pub fn traced(&self, p: &P) -> Result<Func, Error> {
        let leaves = p.leaves();
        Ok(self.entry(p, &leaves)?.func.clone())
    }

    /// Drops every trace and compiled program.
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }
}

fn rebuild<T: Tree>(template: &T, leaves: Vec<Array>) -> Result<T, Error> {
    let n = leaves.len();
    let mut it = leaves.into_iter();
    let t = template.rebuild(&mut it)?;
    if it.next().is_some() {
        return Err(Error::new(
            "compile",
            format!("{n} arrays for a tree with fewer leaves"),
        ));
    }
    Ok(t)
}

/// Tracing a compiled function traces `f` (compilation is inlined into the
/// enclosing trace or transform, as in MLX).
impl<P: Tree, O: Tree, F: Traceable<P, O>> Traceable<P, O> for CompiledFn<P, O, F> {
    fn trace_at(&self, example: &P) -> Result<crate::transforms::Traced<O>, Error> {
        self.f.trace_at(example)
    }
}

impl<P: Tree, O: Tree, F: Traceable<P, O>> Traceable<P, O> for &CompiledFn<P, O, F> {
    fn trace_at(&self, example: &P) -> Result<crate::transforms::Traced<O>, Error> {
        self.f.trace_at(example)
    }
}
