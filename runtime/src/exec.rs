//! Compiled execution on the CPU: [`Executable`] turns a tensor-level
//! function into native code (specialization to the argument types,
//! clean-up passes, e-graph simplification, fusion, buffer planning, then
//! Cranelift through `psionic_codegen::cpu`) and runs it. Library ops
//! inside compiled programs run through the reference interpreter's
//! [`crate::interp::eval_op`].
//!
//! Compiled programs are cached by the argument types, so a shapeless
//! function (symbolic dims) compiles once per distinct shape and dtype
//! combination it is called with.
//!
//! What the native code cannot represent exactly runs on the interpreter
//! instead, per specialization, and says so ([`Prepared::fallback`]): see
//! [`native_unsupported`]. [`Executable::strict`] turns that off (an error
//! instead), for tests of the code generator.

use crate::interp::{eval_op, run_func, RuntimeError};
use crate::spec_cache::SpecCache;
use psionic_codegen::cpu::{compile_program, CpuOptions, CpuProgram};
use psionic_ir::kernel::KProgram;
use psionic_ir::{Func, Literal, Module, TensorType};
use psionic_passes::fusion::compile::{compile, CompileOptions, CompileReport};
use psionic_passes::{PassContext, PassManager};
use std::sync::Arc;
use std::time::Instant;

fn err(message: String) -> RuntimeError {
    RuntimeError {
        op_index: None,
        op_name: None,
        loc: Default::default(),
        message,
    }
}

/// One compiled specialization of a function.
pub struct Compiled {
    /// The planned kernel-level program.
    pub kernels: KProgram,
    /// Native code of it.
    pub code: CpuProgram,
    /// What the optimizer did.
    pub report: CompileReport,
    /// Wall time of specialization, optimization and code generation.
    pub compile_ms: f64,
}

impl Compiled {
    /// Runs on `args` (their types must be the ones compiled for).
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        self.code.run(args, &eval_op).map_err(err)
    }
}

fn fold(
    op: psionic_ir::Opcode,
    attrs: &psionic_ir::Attrs,
    args: &[&Literal],
) -> Result<Vec<Literal>, String> {
    eval_op(op, attrs, args)
}

/// The clean-up passes every compilation starts with: canonicalize (folds
/// constants with the interpreter, removes identities), CSE, DCE. Functions
/// made by transforms and traces carry many of each.
pub fn cleanup(f: &Func) -> Result<Func, RuntimeError> {
    let mut m = Module::new(vec![f.clone()]);
    let mut pm = PassManager::new();
    pm.add_pipeline("canonicalize,cse,dce").map_err(err)?;
    pm.options.verify_each = false;
    let ctx = PassContext::with_folder(&fold);
    pm.run(&mut m, &ctx, &mut std::io::sink())
        .map_err(|e| err(e.to_string()))?;
    m.funcs
        .pop()
        .ok_or_else(|| err("the clean-up passes dropped the function".into()))
}

/// Compiles `f` for arguments of types `types`.
pub fn compile_for(
    f: &Func,
    types: &[TensorType],
    opts: &CpuOptions,
) -> Result<Compiled, RuntimeError> {
    let t0 = Instant::now();
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    let g = cleanup(&g)?;
    let (kernels, report) =
        compile(&g, &CompileOptions::default()).map_err(|e| err(e.to_string()))?;
    let code = compile_program(&kernels, opts).map_err(err)?;
    Ok(Compiled {
        kernels,
        code,
        report,
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// Why the native code cannot run `f` exactly, or `None` when it can.
///
/// The kernel level holds every element in an f64 register, so complex
/// values (`c64`) are not compiled at all. 64-bit integers (`i64`, `u64`),
/// which an f64 holds exactly only below 2^53, are compiled: fusion sends
/// every op that reads or writes one to a library call, which the
/// reference interpreter's `eval_op` computes exactly on the buffers'
/// bytes (`psionic_passes::fusion`), so no kernel touches them.
///
/// [`Executable`] runs such specializations on the reference interpreter.
pub fn native_unsupported(f: &Func) -> Option<String> {
    if f.value_types.iter().any(|t| t.dtype.is_complex()) {
        Some("complex values are not compiled by the CPU backend".into())
    } else {
        None
    }
}

/// How one specialization runs.
// Held once per specialization behind an `Arc<Prepared>`: the size of the
// native variant costs nothing, boxing it would cost an indirection per call.
#[allow(clippy::large_enum_variant)]
pub enum Engine {
    /// Native code.
    Native(Compiled),
    /// The reference interpreter on the specialized function, and why.
    Interp { func: Func, reason: String },
}

/// One prepared specialization of an [`Executable`].
pub struct Prepared {
    pub engine: Engine,
    /// Wall time of preparing it (specialization, optimization, code
    /// generation; for a fallback, specialization only).
    pub compile_ms: f64,
}

impl Prepared {
    /// Runs on `args` (their types must be the ones prepared for).
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        match &self.engine {
            Engine::Native(c) => c.run(args),
            Engine::Interp { func, .. } => run_func(func, args),
        }
    }
    /// The native program, unless this specialization falls back.
    pub fn native(&self) -> Option<&Compiled> {
        match &self.engine {
            Engine::Native(c) => Some(c),
            Engine::Interp { .. } => None,
        }
    }
    /// Why this specialization runs on the interpreter, if it does.
    pub fn fallback(&self) -> Option<&str> {
        match &self.engine {
            Engine::Native(_) => None,
            Engine::Interp { reason, .. } => Some(reason),
        }
    }
}

/// Prepares `f` for `types`: native code, or (when `fallback` is set and
/// [`native_unsupported`] says so) the interpreter.
pub fn prepare_for(
    f: &Func,
    types: &[TensorType],
    opts: &CpuOptions,
    fallback: bool,
) -> Result<Prepared, RuntimeError> {
    let t0 = Instant::now();
    if fallback {
        let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
        if let Some(reason) = native_unsupported(&g) {
            return Ok(Prepared {
                engine: Engine::Interp { func: g, reason },
                compile_ms: t0.elapsed().as_secs_f64() * 1e3,
            });
        }
    }
    let c = compile_for(f, types, opts)?;
    Ok(Prepared {
        engine: Engine::Native(c),
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// A function compiled for the CPU, specialized and cached per argument
/// types.
pub struct Executable {
    func: Func,
    opts: CpuOptions,
    fallback: bool,
    cache: SpecCache<Prepared>,
}

impl Executable {
    pub fn new(func: Func) -> Executable {
        Executable::with_options(func, CpuOptions::default())
    }
    pub fn with_options(func: Func, opts: CpuOptions) -> Executable {
        Executable {
            func,
            opts,
            fallback: true,
            cache: SpecCache::default(),
        }
    }
    /// Never fall back to the interpreter: what [`native_unsupported`]
    /// names becomes a compile error.
    pub fn strict(mut self) -> Executable {
        self.fallback = false;
        self
    }
    /// The function this executable runs.
    pub fn func(&self) -> &Func {
        &self.func
    }
    /// The prepared specialization for arguments of `types` (compiling on
    /// first use).
    pub fn prepared(&self, types: &[TensorType]) -> Result<Arc<Prepared>, RuntimeError> {
        self.cache.get_or_compile(types, || {
            prepare_for(&self.func, types, &self.opts, self.fallback)
        })
    }
    /// Number of specializations compiled so far.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }
    /// Runs the function on `args`.
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
        self.prepared(&types)?.run(args)
    }
}

/// Runs `f` once on the CPU backend (no cache; the interpreter where
/// [`native_unsupported`] says so).
pub fn run_func_cpu(f: &Func, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    prepare_for(f, &types, &CpuOptions::default(), true)?.run(args)
}

/// The Cranelift IR of every kernel of `f` compiled for `types`
/// (`psionic compile --emit clif`).
pub fn emit_clif(f: &Func, types: &[TensorType]) -> Result<String, RuntimeError> {
    let opts = CpuOptions {
        emit_clif: true,
        ..CpuOptions::default()
    };
    Ok(compile_for(f, types, &opts)?.code.clif())
}
