//! `compile`: MLX's `mx.compile` for Rust closures over [`Tree`]s of arrays.
//!
//! [`compile(f)`](compile) returns a [`CompiledFn`]. Its first call at given
//! input types traces `f` into an IR function ([`crate::trace`]), and the
//! backend of the call's [`Device`] compiles it (specialization, clean-up
//! passes, e-graph, fusion, buffer planning, then code generation); later
//! calls with the same input structure, shapes and dtypes reuse that code
//! and run it on the inputs' data.
//!
//! # Devices
//! A call runs on [`CompileOptions::device`], or when that is `None` on
//! [`default_device()`](crate::default_device) at the time of the call
//! (MLX's `mx.set_default_device(mx.gpu)`; see [`crate::device`]):
//! - [`Device::Cpu`]: Cranelift native code
//!   ([`psionic_runtime::exec::Executable`]);
//! - [`Device::Cuda`]: PTX through the NVIDIA driver, cuBLAS for matmuls
//!   (`psionic_runtime::cuda::CudaExecutable`, feature `cuda`);
//! - [`Device::Wgpu`]: WGSL compute shaders through wgpu on Vulkan
//!   (`psionic_runtime::wgpu::WgpuExecutable`, feature `wgpu`).
//!
//! A device that cannot be used here (no driver, no adapter, a build
//! without its feature) makes the call return an error naming the device
//! and why. One trace serves every device: a function called on two
//! devices is traced once and compiled once per device. What a device has
//! no code for runs on the reference interpreter, per specialization:
//! complex values on any device, f64, i64 and u64 under wgpu (WGSL has no
//! 64-bit types); [`CompiledFn::fallback`] says why
//! ([`psionic_runtime::exec::unsupported`] states the rules).
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
//!   yet, with [`crate::eval`], on the CPU), runs the compiled code on the
//!   device (copying inputs to it and results back) and returns evaluated
//!   arrays in `f`'s output structure.
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
use crate::device::{default_device, Device};
use crate::error::Error;
use crate::transforms::{Traceable, Tree};
use crate::{apply, eval};
use psionic_ir::{Func, Literal, TensorType, DYN};
use psionic_runtime::exec::Executable;
use psionic_runtime::interp::RuntimeError;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Options of [`compile_with`] (MLX's `mx.compile` keywords, and the
/// device, which MLX takes from its default stream).
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileOptions {
    /// Trace once for any shapes of the same ranks and dtypes (MLX's
    /// `shapeless=True`); code is still generated per concrete shape.
    pub shapeless: bool,
    /// Where calls run; `None`: [`default_device()`] at the time of each
    /// call.
    pub device: Option<Device>,
}

/// One function's executable on one device (also what [`crate::eval`]
/// runs on a GPU default device).
pub(crate) enum DeviceExe {
    Cpu(Executable),
    #[cfg(feature = "cuda")]
    Cuda(psionic_runtime::cuda::CudaExecutable),
    #[cfg(feature = "wgpu")]
    Wgpu(psionic_runtime::wgpu::WgpuExecutable),
}

impl DeviceExe {
    /// The executable of `func` on `device`, which must be usable here.
    pub(crate) fn new(device: Device, func: Func) -> Result<DeviceExe, Error> {
        device
            .availability()
            .map_err(|e| Error::new("compile", format!("device {device}: {}", e.message)))?;
        Ok(match device {
            Device::Cpu => DeviceExe::Cpu(Executable::new(func)),
            #[cfg(feature = "cuda")]
            Device::Cuda => DeviceExe::Cuda(psionic_runtime::cuda::CudaExecutable::new(func)),
            #[cfg(feature = "wgpu")]
            Device::Wgpu => DeviceExe::Wgpu(psionic_runtime::wgpu::WgpuExecutable::new(func)),
            // Without the feature, `availability` above has already failed.
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::new(
                    "compile",
                    format!("device {other}: not built into this psionic-mlx"),
                ))
            }
        })
    }
    pub(crate) fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        match self {
            DeviceExe::Cpu(e) => e.run(args),
            #[cfg(feature = "cuda")]
            DeviceExe::Cuda(e) => e.run(args),
            #[cfg(feature = "wgpu")]
            DeviceExe::Wgpu(e) => e.run(args),
        }
    }
    fn cache_len(&self) -> usize {
        match self {
            DeviceExe::Cpu(e) => e.cache_len(),
            #[cfg(feature = "cuda")]
            DeviceExe::Cuda(e) => e.cache_len(),
            #[cfg(feature = "wgpu")]
            DeviceExe::Wgpu(e) => e.cache_len(),
        }
    }
    /// Why the specialization for `types` runs on the interpreter, if it
    /// does (prepares it on first use).
    pub(crate) fn fallback(&self, types: &[TensorType]) -> Result<Option<String>, RuntimeError> {
        let why = match self {
            DeviceExe::Cpu(e) => e.prepared(types)?.fallback().map(str::to_string),
            #[cfg(feature = "cuda")]
            DeviceExe::Cuda(e) => e.prepared(types)?.fallback().map(str::to_string),
            #[cfg(feature = "wgpu")]
            DeviceExe::Wgpu(e) => e.prepared(types)?.fallback().map(str::to_string),
        };
        Ok(why)
    }
}

/// One trace: the IR function, the output structure, and its executable
/// on each device it has been called on.
struct Entry<O> {
    func: Func,
    out: O,
    exes: Mutex<Vec<(Device, Arc<DeviceExe>)>>,
}

impl<O> Entry<O> {
    /// The executable on `device` (made on first use).
    fn exe(&self, device: Device) -> Result<Arc<DeviceExe>, Error> {
        let mut exes = self.exes.lock().map_err(|_| lock_err())?;
        if let Some((_, e)) = exes.iter().find(|(d, _)| *d == device) {
            return Ok(e.clone());
        }
        // Creating one compiles nothing (specializations compile on first
        // run), so holding the lock is cheap.
        let e = Arc::new(DeviceExe::new(device, self.func.clone())?);
        exes.push((device, e.clone()));
        Ok(e)
    }
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
/// shapes and dtypes, run as native code on the default device.
pub fn compile<P: Tree, O: Tree, F: Traceable<P, O>>(f: F) -> CompiledFn<P, O, F> {
    compile_with(f, CompileOptions::default())
}

/// [`compile`] with options (`shapeless`, `device`).
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
    compile_with(
        f,
        CompileOptions {
            shapeless: true,
            ..CompileOptions::default()
        },
    )
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
            func,
            out,
            exes: Mutex::new(Vec::new()),
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
        let exe = entry.exe(self.device())?;
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
        let outs = exe
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

    /// Number of specializations compiled so far, over every device (for
    /// shapeless functions, one per concrete shape; otherwise, on one
    /// device, equal to [`Self::traces`]).
    pub fn specializations(&self) -> usize {
        let Ok(cache) = self.cache.lock() else {
            return 0;
        };
        cache
            .values()
            .map(|e| {
                e.exes
                    .lock()
                    .map(|x| x.iter().map(|(_, exe)| exe.cache_len()).sum::<usize>())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The device calls run on now: [`CompileOptions::device`], else
    /// [`default_device()`].
    pub fn device(&self) -> Device {
        self.opts.device.unwrap_or_else(default_device)
    }

    /// Why calls on inputs like `p` run on the reference interpreter on
    /// [`Self::device`] instead of its code, or `None` when they run its
    /// code (complex values on any device; f64, i64, u64 under wgpu).
    /// Traces and compiles for `p` if needed; an unusable device is an
    /// error.
    pub fn fallback(&self, p: &P) -> Result<Option<String>, Error> {
        let leaves = p.leaves();
        for a in &leaves {
            a.check()?;
        }
        let entry = self.entry(p, &leaves)?;
        let types: Vec<TensorType> = leaves.iter().map(|a| a.ty().clone()).collect();
        entry
            .exe(self.device())?
            .fallback(&types)
            .map_err(|e| Error::new("compile", e.to_string()))
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
