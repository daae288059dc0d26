//! The seam where Psionic's executors plug into the benchmarks.
//!
//! A [`Backend`] turns a verified function into a [`Prepared`] one (the
//! Cranelift JIT will compile here; the interpreter only keeps the function)
//! and a prepared function runs on literals. The harness times `prepare`
//! separately (W7 and the `compile_ms` column) from `run` (W1-W6).

use psionic_ir::{Func, Literal};

/// A function ready to run.
pub trait Prepared {
    fn run(&self, inputs: &[Literal]) -> Result<Vec<Literal>, String>;
}

/// One way of executing Psionic IR.
pub trait Backend {
    /// Short name shown in the report (`interp`, later `cpu`).
    fn name(&self) -> &'static str;
    /// One line on what this backend is, for the report.
    fn describe(&self) -> &'static str;
    /// True when `prepare` generates code (W7's target applies only then).
    fn compiles(&self) -> bool;
    /// Compiles (or otherwise readies) `f`.
    fn prepare(&self, f: &Func) -> Result<Box<dyn Prepared>, String>;
}

/// The reference interpreter, `psionic_runtime::interp::run_func`.
pub struct Interp;

struct InterpPrepared(Func);

impl Prepared for InterpPrepared {
    fn run(&self, inputs: &[Literal]) -> Result<Vec<Literal>, String> {
        psionic_runtime::interp::run_func(&self.0, inputs).map_err(|e| e.to_string())
    }
}

impl Backend for Interp {
    fn name(&self) -> &'static str {
        "interp"
    }
    fn describe(&self) -> &'static str {
        "the reference interpreter (psionic_runtime::interp::run_func): op by op, f64 arithmetic, one thread, no fusion"
    }
    fn compiles(&self) -> bool {
        false
    }
    fn prepare(&self, f: &Func) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(InterpPrepared(f.clone())))
    }
}

/// The backends this build knows, by name.
pub fn by_name(name: &str) -> Result<Box<dyn Backend>, String> {
    match name {
        "interp" => Ok(Box::new(Interp)),
        "cpu" => Ok(Box::new(Cpu)),
        other => Err(format!(
            "unknown backend `{other}`; this build has: cpu (Cranelift), interp"
        )),
    }
}

/// The Cranelift CPU backend: e-graph, fusion, buffer planning and native
/// code, through `psionic_runtime::exec::compile_for`.
pub struct Cpu;

struct CpuPrepared(psionic_runtime::exec::Compiled);

impl Prepared for CpuPrepared {
    fn run(&self, inputs: &[Literal]) -> Result<Vec<Literal>, String> {
        self.0.run(inputs).map_err(|e| e.to_string())
    }
}

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn describe(&self) -> &'static str {
        "the Cranelift CPU backend (psionic_runtime::exec): e-graph, fusion, buffer planning, f32x4 native code, gemm for matmul, threads over cores"
    }
    fn compiles(&self) -> bool {
        true
    }
    fn prepare(&self, f: &Func) -> Result<Box<dyn Prepared>, String> {
        let c = psionic_runtime::exec::compile_for(f, &f.param_types(), &Default::default())
            .map_err(|e| e.to_string())?;
        Ok(Box::new(CpuPrepared(c)))
    }
}
