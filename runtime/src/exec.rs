//! Compiled execution on the CPU: [`Executable`] turns a tensor-level
//! function into native code (specialization to the argument types,
//! e-graph simplification, fusion, buffer planning, then Cranelift through
//! `psionic_codegen::cpu`) and runs it. Library ops inside compiled programs
//! run through the reference interpreter's [`crate::interp::eval_op`].
//!
//! Compiled programs are cached by the argument types, so a shapeless
//! function (symbolic dims) compiles once per distinct shape and dtype
//! combination it is called with.

use crate::interp::{eval_op, RuntimeError};
use psionic_codegen::cpu::{compile_program, CpuOptions, CpuProgram};
use psionic_ir::kernel::KProgram;
use psionic_ir::{Func, Literal, TensorType};
use psionic_passes::fusion::compile::{compile, CompileOptions, CompileReport};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// Compiles `f` for arguments of types `types`.
pub fn compile_for(
    f: &Func,
    types: &[TensorType],
    opts: &CpuOptions,
) -> Result<Compiled, RuntimeError> {
    let t0 = Instant::now();
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
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

/// A function compiled for the CPU, specialized and cached per argument
/// types.
pub struct Executable {
    func: Func,
    opts: CpuOptions,
    cache: Mutex<HashMap<Vec<TensorType>, Arc<Compiled>>>,
}

impl Executable {
    pub fn new(func: Func) -> Executable {
        Executable::with_options(func, CpuOptions::default())
    }
    pub fn with_options(func: Func, opts: CpuOptions) -> Executable {
        Executable {
            func,
            opts,
            cache: Mutex::new(HashMap::new()),
        }
    }
    /// The compiled program for arguments of `types` (compiling on first use).
    pub fn compiled(&self, types: &[TensorType]) -> Result<Arc<Compiled>, RuntimeError> {
        if let Some(c) = self
            .cache
            .lock()
            .map_err(|_| err("compile cache poisoned".into()))?
            .get(types)
        {
            return Ok(c.clone());
        }
        let c = Arc::new(compile_for(&self.func, types, &self.opts)?);
        self.cache
            .lock()
            .map_err(|_| err("compile cache poisoned".into()))?
            .insert(types.to_vec(), c.clone());
        Ok(c)
    }
    /// Number of specializations compiled so far.
    pub fn cache_len(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
    /// Runs the function on `args`.
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
        self.compiled(&types)?.run(args)
    }
}

/// Runs `f` once on the compiled CPU backend (no cache).
pub fn run_func_cpu(f: &Func, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    compile_for(f, &types, &CpuOptions::default())?.run(args)
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
