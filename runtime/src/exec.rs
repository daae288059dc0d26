//! Compiled execution on the CPU: [`Executable`] turns a tensor-level
//! function into native code (specialization to the argument types,
//! clean-up passes, e-graph simplification, fusion, buffer planning, then
//! Cranelift through `psionic_codegen::cpu`) and runs it. Library ops
//! inside compiled programs run through the reference interpreter's
//! [`crate::interp::eval_op`] ([`crate::pairs::eval_lib_op`]: complex
//! values live in `f32` pair buffers).
//!
//! Compiled programs are cached by the argument types, so a shapeless
//! function (symbolic dims) compiles once per distinct shape and dtype
//! combination it is called with.
//!
//! What the native code cannot represent exactly runs on the interpreter
//! instead, per specialization, and says so ([`Prepared::fallback`]): see
//! [`unsupported`], which states the rule of every backend (CPU, CUDA,
//! wgpu); the GPU executables prepare their specializations through the
//! same [`prepare_with`]. [`Executable::strict`] turns that off (an error
//! instead), for tests of the code generator.

use crate::interp::{eval_op, run_func, RuntimeError};
use crate::pairs::{eval_lib_op, Boundary};
use crate::spec_cache::SpecCache;
use psionic_codegen::cpu::{compile_program, CpuOptions, CpuProgram};
use psionic_ir::kernel::KProgram;
use psionic_ir::{DType, Func, Literal, Module, TensorType};
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
    /// Which results the program returns as `c64` pairs.
    pub boundary: Boundary,
}

impl Compiled {
    /// Runs on `args` (their types must be the ones compiled for).
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let args = self.boundary.args(args)?;
        let outs = self.code.run(&args, &eval_lib_op).map_err(err)?;
        self.boundary.results(outs)
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
    let mut c = compile_specialized(&g, opts)?;
    c.compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(c)
}

/// Compiles `g`, already specialized to its argument types.
pub fn compile_specialized(g: &Func, opts: &CpuOptions) -> Result<Compiled, RuntimeError> {
    let t0 = Instant::now();
    let g = cleanup(g)?;
    let (kernels, report) =
        compile(&g, &Backend::Cpu.compile_options()).map_err(|e| err(e.to_string()))?;
    let code = compile_program(&kernels, opts).map_err(err)?;
    Ok(Compiled {
        kernels,
        code,
        report,
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
        boundary: Boundary::of(&g),
    })
}

/// A compiled backend: where a compiled function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Cranelift native code ([`Executable`]).
    Cpu,
    /// PTX through the CUDA driver (`cuda::CudaExecutable`, feature `cuda`).
    Cuda,
    /// WGSL shaders through wgpu (`wgpu::WgpuExecutable`, feature `wgpu`).
    Wgpu,
}

impl Backend {
    /// `cpu`, `cuda` or `wgpu`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }
    /// The backend called `name` (`cpu`, `cuda`, `wgpu`).
    pub fn from_name(name: &str) -> Option<Backend> {
        [Backend::Cpu, Backend::Cuda, Backend::Wgpu]
            .into_iter()
            .find(|b| b.name() == name)
    }
    /// The fusion and planning options this backend compiles with: only
    /// CUDA keeps 64-bit integers in kernels (its registers hold them; the
    /// CPU's f64 registers do not, and WGSL has no 64-bit types at all:
    /// see [`psionic_passes::fusion::FusionOptions::wide_int_kernels`]);
    /// on the GPUs, assigning scatters stay library ops so that duplicate
    /// indices apply in order
    /// ([`psionic_passes::fusion::FusionOptions::set_scatter_kernels`]).
    pub fn compile_options(self) -> CompileOptions {
        let mut o = CompileOptions::default();
        o.fusion.wide_int_kernels = self == Backend::Cuda;
        o.fusion.set_scatter_kernels = self == Backend::Cpu;
        o
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why `backend`'s code cannot represent the values of `f` (specialized to
/// its argument types), or `None` when it can. Each executable runs such a
/// specialization on the reference interpreter instead, and says why
/// ([`Prepared::fallback`]):
/// - wgpu: `f64`, `i64` and `u64`, which WGSL has no type for.
///
/// Complex values (`c64`) compile on every backend: kernels compute on
/// their `f32` parts (`psionic_ir::kernel::pairs`), and the complex ops
/// fusion does not lower (FFTs, powers...) are library calls.
///
/// 64-bit integers do compile for the CPU, whose kernels hold values in f64
/// registers: fusion sends every op that reads or writes one to a library
/// call, which the reference interpreter's `eval_op` computes exactly on
/// the buffers' bytes ([`Backend::compile_options`]). CUDA holds them in
/// 64-bit registers and fuses them.
pub fn unsupported(backend: Backend, f: &Func) -> Option<String> {
    for t in &f.value_types {
        let d = t.dtype;
        if backend == Backend::Wgpu && matches!(d, DType::F64 | DType::I64 | DType::U64) {
            return Some(format!("wgpu: {d} has no WGSL type"));
        }
    }
    None
}

/// [`unsupported`] for the CPU backend.
pub fn native_unsupported(f: &Func) -> Option<String> {
    unsupported(Backend::Cpu, f)
}

/// [`unsupported`] for a GPU backend (`None` for [`Backend::Cpu`]).
pub fn gpu_unsupported(backend: Backend, f: &Func) -> Option<String> {
    match backend {
        Backend::Cpu => None,
        gpu => unsupported(gpu, f),
    }
}

/// Compiled code of one specialization on some backend.
pub trait NativeCode {
    /// Runs on `args` (their types must be the ones compiled for).
    fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError>;
}

impl NativeCode for Compiled {
    fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        Compiled::run(self, args)
    }
}

/// How one specialization runs.
// Held once per specialization behind an `Arc<Prepared>`: the size of the
// native variant costs nothing, boxing it would cost an indirection per call.
#[allow(clippy::large_enum_variant)]
pub enum Engine<C = Compiled> {
    /// The backend's code.
    Native(C),
    /// The reference interpreter on the specialized function, and why.
    Interp { func: Func, reason: String },
}

/// One prepared specialization of an executable (of [`Executable`] by
/// default; `cuda::CudaExecutable` and `wgpu::WgpuExecutable` prepare
/// theirs the same way).
pub struct Prepared<C = Compiled> {
    pub engine: Engine<C>,
    /// Wall time of preparing it (specialization, optimization, code
    /// generation; for a fallback, specialization only).
    pub compile_ms: f64,
}

impl<C: NativeCode> Prepared<C> {
    /// Runs on `args` (their types must be the ones prepared for).
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        match &self.engine {
            Engine::Native(c) => c.run(args),
            Engine::Interp { func, .. } => run_func(func, args),
        }
    }
}

impl<C> Prepared<C> {
    /// The backend's program, unless this specialization falls back.
    pub fn native(&self) -> Option<&C> {
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

/// Prepares `f` for `types` on `backend`: specializes it once, then, when
/// [`unsupported`] names a reason, falls back to the interpreter (with
/// `fallback`) or fails with that reason (without); otherwise `compile`
/// turns the specialized function into the backend's code.
pub fn prepare_with<C>(
    backend: Backend,
    f: &Func,
    types: &[TensorType],
    fallback: bool,
    compile: impl FnOnce(&Func) -> Result<C, RuntimeError>,
) -> Result<Prepared<C>, RuntimeError> {
    let t0 = Instant::now();
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    let engine = match unsupported(backend, &g) {
        Some(reason) if fallback => Engine::Interp { func: g, reason },
        Some(reason) => return Err(err(reason)),
        None => Engine::Native(compile(&g)?),
    };
    Ok(Prepared {
        engine,
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// Prepares `f` for `types` on the CPU: native code, or (when `fallback`
/// is set and [`native_unsupported`] says so) the interpreter.
pub fn prepare_for(
    f: &Func,
    types: &[TensorType],
    opts: &CpuOptions,
    fallback: bool,
) -> Result<Prepared, RuntimeError> {
    prepare_with(Backend::Cpu, f, types, fallback, |g| {
        compile_specialized(g, opts)
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
    /// names becomes an error with that reason.
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
