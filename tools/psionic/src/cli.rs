//! The commands of the `psionic` binary. Every failure is a [`CliError`]
//! the binary prints as one line, `psionic: error: ...`, exiting with status
//! 1 (2 for bad usage).

use psionic_ir::kernel::text::print_program;
use psionic_ir::text::print_module;
use psionic_ir::{Attr, DType, Func, Literal, Module, Opcode, TensorType};
use psionic_mlx::files::{load_module, parse_module_text, save_module};
use psionic_mlx::io::safetensors::{load_safetensors, save_safetensors};
use psionic_passes::fusion::compile::compile;
use psionic_passes::manager::format_reports;
use psionic_passes::{PassContext, PassManager, PASSES};
use psionic_runtime::exec::{Backend, Prepared};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A failure to report: one line, and whether it was bad usage.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub usage: bool,
}

impl CliError {
    fn usage(m: impl Into<String>) -> Self {
        CliError {
            message: m.into(),
            usage: true,
        }
    }
    fn fail(m: impl std::fmt::Display) -> Self {
        CliError {
            message: m.to_string(),
            usage: false,
        }
    }
    /// The exit status for this error.
    pub fn code(&self) -> i32 {
        if self.usage {
            2
        } else {
            1
        }
    }
}

pub const USAGE: &str = "\
usage: psionic <command> [options]

commands:
  opt FILE|-      parse, verify, run passes, print the IR
      --pass NAME            run a pass (repeatable; in order with --pipeline)
      --pipeline P           run a pipeline, e.g. 'canonicalize,cse,dce'
      --print-after NAME     print the IR to stderr after each run of pass NAME
      --print-after-all      print the IR to stderr after every pass
      --verify-each          verify after every pass (default in debug builds)
      --no-verify-each       do not verify after every pass
      --stats                print per-pass statistics to stderr
      -o OUT                 write the IR to OUT (atomically) instead of stdout
      --list-passes          list the known passes
  run FILE --inputs IN.safetensors --out OUT.safetensors [--prefix P] [--func NAME]
      [--transform vjp|jvp|vmap] [--wrt K1,K2] [--backend interp|cpu|cuda|wgpu]
      [--bench N]
                  run a function on inputs P+in.0, P+in.1, ...;
                  write P+out.0, P+out.1, ... (cpu: compiled with
                  Cranelift, the default; interp: the reference interpreter;
                  cuda: PTX on an NVIDIA GPU through the driver, where one is;
                  wgpu: WGSL compute shaders through wgpu on Vulkan).
                  --bench N: after one warm-up call, N timed calls; prints one
                  JSON line {\"median_ms\": ..., \"min_ms\": ..., \"compile_ms\": ...}
                  to stdout (--out is then optional; on cuda the times are
                  device time on resident inputs)
  compile FILE|- [--stats-json] [--emit kernel|clif|ptx|wgsl|msl|spirv]
      [--func NAME] [--backend cpu|cuda|wgpu]
                  canonicalize, cse, dce, e-graph, fuse and plan buffers; print
                  the kernel-level IR (or, with --emit clif, the Cranelift IR
                  of each kernel; ptx: the CUDA PTX module; wgsl|msl|spirv:
                  the naga-validated shaders), or one JSON object with kernels,
                  library_calls, peak_bytes and bytes_moved. --backend: fuse
                  as that backend does (cpu, the default, and wgpu keep i64
                  and u64 ops out of kernels; cuda fuses them)
  inspect FILE    summarize a module (signature, op counts, constants) and
                  print it as IR text, or list the tensors of a .safetensors file
  convert IN OUT  convert between .mlxfn, .psifn and .pir (by extension);
                  the output is written atomically
  help            show this text
";

/// Runs the command line `args` (without the program name); writes the
/// command's output to `out` and diagnostics to `err`.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(CliError::usage("no command given (try `psionic help`)"));
    };
    match cmd.as_str() {
        "opt" => cmd_opt(rest, out, err),
        "run" => cmd_run(rest, out),
        "inspect" => cmd_inspect(rest, out),
        "compile" => cmd_compile(rest, out, err),
        "convert" => cmd_convert(rest),
        "help" | "--help" | "-h" => write_out(out, USAGE),
        other => Err(CliError::usage(format!(
            "unknown command `{other}` (commands: opt, run, compile, inspect, convert, help)"
        ))),
    }
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| CliError::fail(format!("cannot write output: {e}")))
}

/// A tiny argument reader: flags with values as `--flag VALUE` or `--flag=VALUE`.
struct Args<'a> {
    items: &'a [String],
    pos: usize,
}

impl<'a> Args<'a> {
    fn new(items: &'a [String]) -> Self {
        Args { items, pos: 0 }
    }
    fn next(&mut self) -> Option<&'a str> {
        let a = self.items.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }
    /// The value of a flag whose name was just read (`--x=v` gives `v`).
    fn value(&mut self, flag: &str, inline: Option<&'a str>) -> Result<&'a str, CliError> {
        if let Some(v) = inline {
            return Ok(v);
        }
        self.next()
            .ok_or_else(|| CliError::usage(format!("`{flag}` needs a value")))
    }
}

/// Splits `--flag=value` into (`--flag`, Some(`value`)).
fn split_flag(a: &str) -> (&str, Option<&str>) {
    match a.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f, Some(v)),
        _ => (a, None),
    }
}

fn no_inline(flag: &str, inline: Option<&str>) -> Result<(), CliError> {
    match inline {
        Some(_) => Err(CliError::usage(format!("`{flag}` takes no value"))),
        None => Ok(()),
    }
}

/// Reads a module from a path or `-` (stdin; text IR).
fn read_module(input: &str) -> Result<Module, CliError> {
    if input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::fail(format!("<stdin>: cannot read: {e}")))?;
        parse_module_text(Path::new("<stdin>"), &text).map_err(CliError::fail)
    } else {
        load_module(input).map_err(CliError::fail)
    }
}

/// The folder for constant folding: the reference interpreter.
fn fold(op: Opcode, attrs: &psionic_ir::Attrs, args: &[&Literal]) -> Result<Vec<Literal>, String> {
    psionic_runtime::interp::eval_op(op, attrs, args)
}

fn cmd_opt(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let mut a = Args::new(args);
    let mut input: Option<&str> = None;
    let mut output: Option<&str> = None;
    let mut pm = PassManager::new();
    let mut stats = false;
    while let Some(arg) = a.next() {
        let (flag, inline) = split_flag(arg);
        match flag {
            "--pass" => {
                let name = a.value(flag, inline)?;
                pm.add_pipeline(name).map_err(CliError::usage)?;
            }
            "--pipeline" => {
                let p = a.value(flag, inline)?;
                pm.add_pipeline(p).map_err(CliError::usage)?;
            }
            "--print-after" => {
                let name = a.value(flag, inline)?;
                if !PASSES.iter().any(|p| p.name == name) {
                    return Err(CliError::usage(format!(
                        "--print-after: unknown pass `{name}`"
                    )));
                }
                pm.options.print_after.push(name.to_string());
            }
            "--print-after-all" => {
                no_inline(flag, inline)?;
                pm.options.print_after_all = true;
            }
            "--verify-each" => {
                no_inline(flag, inline)?;
                pm.options.verify_each = true;
            }
            "--no-verify-each" => {
                no_inline(flag, inline)?;
                pm.options.verify_each = false;
            }
            "--stats" => {
                no_inline(flag, inline)?;
                stats = true;
                pm.options.stats = true;
            }
            "-o" => output = Some(a.value(flag, inline)?),
            "--list-passes" => {
                let mut s = String::new();
                for p in PASSES {
                    s += &format!("{:14} {}\n", p.name, p.summary);
                }
                return write_out(out, &s);
            }
            f if f.starts_with('-') && f != "-" => {
                return Err(CliError::usage(format!("opt: unknown option `{f}`")))
            }
            _ => {
                if input.replace(arg).is_some() {
                    return Err(CliError::usage("opt: more than one input file given"));
                }
            }
        }
    }
    let input = input.ok_or_else(|| CliError::usage("opt: no input file (use `-` for stdin)"))?;
    let mut module = read_module(input)?;
    let ctx = PassContext::with_folder(&fold);
    let reports = pm.run(&mut module, &ctx, err).map_err(CliError::fail)?;
    if stats {
        err.write_all(format_reports(&reports).as_bytes())
            .map_err(|e| CliError::fail(format!("cannot write statistics: {e}")))?;
    }
    match output {
        Some(path) if path != "-" => save_module(path, &module).map_err(CliError::fail),
        _ => write_out(out, &print_module(&module)),
    }
}

/// `psionic compile FILE [--stats-json] [--func NAME]`: the default pipeline
/// (canonicalize, cse, dce, then e-graph, fusion and buffer planning) on one
/// function at its traced shapes; prints the kernel-level IR, or with
/// `--stats-json` one JSON object of counts.
fn cmd_compile(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let mut a = Args::new(args);
    let mut input: Option<&str> = None;
    let mut stats_json = false;
    let mut emit = "kernel";
    let mut func_name: Option<&str> = None;
    let mut backend: Option<Backend> = None;
    while let Some(arg) = a.next() {
        let (flag, inline) = split_flag(arg);
        match flag {
            "--backend" => {
                let name = a.value(flag, inline)?;
                backend = Some(Backend::from_name(name).ok_or_else(|| {
                    CliError::usage(format!(
                        "compile: unknown backend `{name}` (cpu, cuda or wgpu)"
                    ))
                })?);
            }
            "--stats-json" => {
                no_inline(flag, inline)?;
                stats_json = true;
            }
            "--emit" => emit = a.value(flag, inline)?,
            "--func" => func_name = Some(a.value(flag, inline)?),
            f if f.starts_with('-') && f != "-" => {
                return Err(CliError::usage(format!("compile: unknown option `{f}`")))
            }
            _ => {
                if input.replace(arg).is_some() {
                    return Err(CliError::usage("compile: more than one input file given"));
                }
            }
        }
    }
    let input =
        input.ok_or_else(|| CliError::usage("compile: no input file (use `-` for stdin)"))?;
    // Code for one backend is fused as that backend fuses.
    let emits_for = match emit {
        "clif" => Some(Backend::Cpu),
        "ptx" => Some(Backend::Cuda),
        "wgsl" | "msl" | "spirv" => Some(Backend::Wgpu),
        _ => None,
    };
    if let (Some(b), Some(e)) = (backend, emits_for) {
        if b != e {
            return Err(CliError::usage(format!(
                "compile: --emit {emit} is {e} code; --backend {b} applies to --emit kernel"
            )));
        }
    }
    let module = read_module(input)?;
    let func = match func_name {
        Some(n) => module
            .func(n)
            .ok_or_else(|| CliError::fail(format!("compile: {input} has no function `@{n}`")))?,
        None => module
            .funcs
            .first()
            .ok_or_else(|| CliError::fail(format!("compile: {input} has no function")))?,
    };
    if emit == "clif" {
        // The Cranelift IR of every compiled kernel, for the traced input types.
        let clif = psionic_runtime::exec::emit_clif(func, &func.param_types())
            .map_err(|e| CliError::fail(format!("compile: {input}: {e}")))?;
        return write_out(out, &clif);
    }
    if matches!(emit, "wgsl" | "msl" | "spirv") {
        let text = emit_shaders(func, emit)
            .map_err(|e| CliError::fail(format!("compile: {input}: {e}")))?;
        return write_out(out, &text);
    }
    if emit == "ptx" {
        let ptx = emit_ptx(func).map_err(|e| CliError::fail(format!("compile: {input}: {e}")))?;
        return write_out(out, &ptx);
    }
    if emit != "kernel" {
        return Err(CliError::usage(format!(
            "compile: unknown --emit `{emit}` (kernel, clif, ptx, wgsl, msl or spirv)"
        )));
    }
    let mut one = Module::new(vec![func.clone()]);
    let mut pm = PassManager::new();
    pm.add_pipeline("canonicalize,cse,dce")
        .map_err(CliError::fail)?;
    let ctx = PassContext::with_folder(&fold);
    pm.run(&mut one, &ctx, err).map_err(CliError::fail)?;
    let opts = backend.unwrap_or(Backend::Cpu).compile_options();
    let (program, report) = compile(&one.funcs[0], &opts)
        .map_err(|e| CliError::fail(format!("compile: {input}: {e}")))?;
    if stats_json {
        write_out(out, &format!("{}\n", report.to_json()))
    } else {
        write_out(out, &print_program(&program))
    }
}

/// The PTX module of `func` at its traced types (`compile --emit ptx`; no
/// GPU needed).
#[cfg(feature = "cuda")]
fn emit_ptx(func: &Func) -> Result<String, String> {
    psionic_runtime::cuda::emit_ptx(func, &func.param_types()).map_err(|e| e.to_string())
}
#[cfg(not(feature = "cuda"))]
fn emit_ptx(_: &Func) -> Result<String, String> {
    Err("this psionic was built without the `cuda` feature".into())
}

/// `compile --emit wgsl|msl|spirv`: the shaders naga validated and wrote
/// (no GPU needed).
#[cfg(feature = "wgpu")]
fn emit_shaders(func: &Func, target: &str) -> Result<String, String> {
    psionic_runtime::wgpu::emit_shaders(func, &func.param_types(), target)
        .map_err(|e| e.to_string())
}
#[cfg(not(feature = "wgpu"))]
fn emit_shaders(_: &Func, target: &str) -> Result<String, String> {
    Err(format!(
        "--emit {target} needs a psionic built with the `wgpu` feature"
    ))
}

/// How `psionic run` executes a function.
enum Runner {
    Interp(Func),
    Cpu(Arc<Prepared>),
    #[cfg(feature = "cuda")]
    Cuda(Arc<Prepared<psionic_runtime::cuda::CudaCompiled>>),
    #[cfg(feature = "wgpu")]
    Wgpu(Arc<Prepared<psionic_runtime::wgpu::WgpuCompiled>>),
}

impl Runner {
    /// Prepares `func` for `args` on `backend`; the compile time in ms
    /// (0 for the interpreter). A backend's executable runs what it has
    /// no code for on the reference interpreter (f64 and 64-bit integers
    /// under WGSL; complex values compile everywhere): stderr says so.
    fn new(backend: &str, func: &Func, args: &[Literal]) -> Result<(Runner, f64), String> {
        let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
        let runner =
            match backend {
                "interp" => return Ok((Runner::Interp(func.clone()), 0.0)),
                "cpu" => {
                    let exe = psionic_runtime::exec::Executable::new(func.clone());
                    Runner::Cpu(exe.prepared(&types).map_err(|e| e.to_string())?)
                }
                #[cfg(feature = "cuda")]
                "cuda" => {
                    let exe = psionic_runtime::cuda::CudaExecutable::new(func.clone());
                    Runner::Cuda(exe.prepared(&types).map_err(|e| e.to_string())?)
                }
                #[cfg(not(feature = "cuda"))]
                "cuda" => return Err(
                    "CUDA backend unavailable: this psionic was built without the `cuda` feature"
                        .into(),
                ),
                #[cfg(feature = "wgpu")]
                "wgpu" => {
                    let exe = psionic_runtime::wgpu::WgpuExecutable::new(func.clone());
                    Runner::Wgpu(exe.prepared(&types).map_err(|e| e.to_string())?)
                }
                #[cfg(not(feature = "wgpu"))]
                "wgpu" => return Err(
                    "wgpu backend unavailable: this psionic was built without the `wgpu` feature"
                        .into(),
                ),
                other => {
                    return Err(format!(
                        "unknown backend `{other}` (interp, cpu, cuda or wgpu)"
                    ))
                }
            };
        let (fallback, ms) = match &runner {
            Runner::Interp(_) => (None, 0.0),
            Runner::Cpu(p) => (p.fallback(), p.compile_ms),
            #[cfg(feature = "cuda")]
            Runner::Cuda(p) => (p.fallback(), p.compile_ms),
            #[cfg(feature = "wgpu")]
            Runner::Wgpu(p) => (p.fallback(), p.compile_ms),
        };
        if let Some(why) = fallback {
            eprintln!("note: {why}; running @{} on the interpreter", func.name);
        }
        Ok((runner, ms))
    }
    fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, String> {
        match self {
            Runner::Interp(f) => psionic_runtime::interp::run_func(f, args),
            Runner::Cpu(p) => p.run(args),
            #[cfg(feature = "cuda")]
            Runner::Cuda(p) => p.run(args),
            #[cfg(feature = "wgpu")]
            Runner::Wgpu(p) => p.run(args),
        }
        .map_err(|e| e.to_string())
    }
    /// `n` timed calls in ms. On the GPU: device time of the launches on
    /// inputs already resident (CUDA events; a CUDA graph where the program
    /// has no host-side library op), since host copies would swamp it.
    fn time(&self, args: &[Literal], n: usize) -> Result<Vec<f64>, String> {
        #[cfg(feature = "cuda")]
        if let Some(c) = match self {
            Runner::Cuda(p) => p.native(),
            _ => None,
        } {
            return c.program.time_runs(args, n, true);
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = std::time::Instant::now();
            let r = self.run(args)?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            drop(r);
        }
        Ok(times)
    }
}

/// Runs once (the results) and, with `bench = Some(n)`, n more timed
/// calls; returns the results and the timing line.
fn run_timed(
    runner: &Runner,
    args: &[Literal],
    bench: Option<usize>,
    compile_ms: f64,
) -> Result<(Vec<Literal>, Option<String>), String> {
    let results = runner.run(args)?;
    let Some(n) = bench else {
        return Ok((results, None));
    };
    let mut times = runner.time(args, n)?;
    times.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    };
    let line = format!(
        "{{\"median_ms\": {median:.6}, \"min_ms\": {:.6}, \"compile_ms\": {compile_ms:.6}}}\n",
        times[0]
    );
    Ok((results, Some(line)))
}

fn cmd_run(args: &[String], out: &mut dyn Write) -> Result<(), CliError> {
    let mut a = Args::new(args);
    let mut file = None;
    let mut inputs: Option<PathBuf> = None;
    let mut output: Option<PathBuf> = None;
    let mut prefix = String::new();
    let mut func_name: Option<String> = None;
    let mut transform = None;
    let mut wrt: Option<Vec<String>> = None;
    let mut backend = String::from("cpu");
    let mut bench: Option<usize> = None;
    while let Some(arg) = a.next() {
        let (flag, inline) = split_flag(arg);
        match flag {
            "--backend" => backend = a.value(flag, inline)?.to_string(),
            "--inputs" => inputs = Some(a.value(flag, inline)?.into()),
            "--out" => output = Some(a.value(flag, inline)?.into()),
            "--prefix" => prefix = a.value(flag, inline)?.to_string(),
            "--func" => func_name = Some(a.value(flag, inline)?.to_string()),
            "--bench" => {
                let v = a.value(flag, inline)?;
                match v.parse::<usize>() {
                    Ok(n) if n >= 1 => bench = Some(n),
                    _ => {
                        return Err(CliError::usage(format!(
                            "run: --bench takes a number of timed calls (1 or more), not `{v}`"
                        )))
                    }
                }
            }
            // Transforms (issue 4): see psionic_mlx::transforms::run_transform.
            "--transform" => {
                let t = a.value(flag, inline)?;
                transform = Some(
                    psionic_mlx::transforms::CliTransform::parse(t)
                        .map_err(|e| CliError::usage(format!("run: {e}")))?,
                );
            }
            "--wrt" => {
                wrt = Some(
                    a.value(flag, inline)?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
            }
            f if f.starts_with('-') && f != "-" => {
                return Err(CliError::usage(format!("run: unknown option `{f}`")))
            }
            _ => {
                if file.replace(arg).is_some() {
                    return Err(CliError::usage("run: more than one module file given"));
                }
            }
        }
    }
    if !matches!(backend.as_str(), "interp" | "cpu" | "cuda" | "wgpu") {
        return Err(CliError::usage(format!(
            "run: unknown backend `{backend}` (interp, cpu, cuda or wgpu)"
        )));
    }
    let file = file.ok_or_else(|| CliError::usage("run: no module file given"))?;
    if output.is_none() && bench.is_none() {
        return Err(CliError::usage("run: `--out OUT.safetensors` is required"));
    }
    let module = read_module(file)?;
    // Writes the named results (when --out is given) and the timing line.
    let mut finish =
        |named: Vec<(String, Literal)>, line: Option<String>| -> Result<(), CliError> {
            if let Some(path) = &output {
                save_safetensors(path, &named).map_err(CliError::fail)?;
            }
            match line {
                Some(l) => write_out(out, &l),
                None => Ok(()),
            }
        };
    if let Some(t) = transform {
        let path = inputs
            .as_ref()
            .ok_or_else(|| CliError::usage("run: --transform needs --inputs"))?;
        let tensors = load_safetensors(path).map_err(CliError::fail)?;
        let name = func_name.as_deref().unwrap_or("main");
        let t0 = std::time::Instant::now();
        let plan = psionic_mlx::transforms::prepare_transform(
            &module,
            name,
            &tensors,
            &prefix,
            t,
            wrt.as_deref(),
        )
        .map_err(|e| CliError::fail(format!("{file}: {e}")))?;
        let transform_ms = t0.elapsed().as_secs_f64() * 1e3;
        let fail = |e: String| CliError::fail(format!("{file}: @{}: {e}", plan.func.name));
        let (runner, compile_ms) = Runner::new(&backend, &plan.func, &plan.args).map_err(fail)?;
        let (results, line) =
            run_timed(&runner, &plan.args, bench, transform_ms + compile_ms).map_err(fail)?;
        let named = plan
            .name_results(results)
            .map_err(|e| CliError::fail(format!("{file}: {e}")))?;
        return finish(named, line);
    }
    if wrt.is_some() {
        return Err(CliError::usage("run: --wrt needs --transform vjp or jvp"));
    }

    // Inputs P+in.K: K is a positional index (0, 1, ...) or a keyword name,
    // as MLX's exported functions name them; the trace is chosen by MLX's
    // dispatch on those keys and the input types.
    let mut given: Vec<(String, Literal)> = Vec::new();
    if let Some(path) = &inputs {
        let tensors = load_safetensors(path).map_err(CliError::fail)?;
        let head = format!("{prefix}in.");
        let names: Vec<String> = tensors.iter().map(|(n, _)| n.clone()).take(8).collect();
        for (n, l) in tensors {
            if let Some(key) = n.strip_prefix(&head) {
                given.push((key.to_string(), l));
            }
        }
        if given.is_empty() && !names.is_empty() {
            return Err(CliError::fail(format!(
                "{}: no tensor `{prefix}in.0` (it has: {})",
                path.display(),
                names.join(", ")
            )));
        }
    }
    let name = match func_name.as_deref() {
        Some(n) => n.to_string(),
        None if module.func("main").is_some() || module.funcs.is_empty() => "main".to_string(),
        None => module.funcs[0].name.clone(),
    };
    if module.func(&name).is_none() {
        let names: Vec<String> = module
            .funcs
            .iter()
            .map(|f| format!("@{}", f.name))
            .collect();
        return Err(CliError::fail(format!(
            "{file}: no function @{name} (the module has: {})",
            names.join(", ")
        )));
    }
    let keyed: Vec<(String, TensorType)> = given.iter().map(|(k, l)| (k.clone(), l.ty())).collect();
    let (func, keys) = psionic_mlx::mlxfn::select_trace(&module, &name, &keyed).map_err(|e| {
        let from = match &inputs {
            Some(p) => format!("inputs from {}", p.display()),
            None => "no inputs (give --inputs)".to_string(),
        };
        CliError::fail(format!("{file}: {e} [{from}]"))
    })?;
    let args_in: Vec<Literal> = keys
        .iter()
        .filter_map(|k| given.iter().find(|(g, _)| g == k).map(|(_, l)| l.clone()))
        .collect();
    let fail = |e: String| CliError::fail(format!("{file}: @{}: {e}", func.name));
    let (runner, compile_ms) = Runner::new(&backend, func, &args_in).map_err(fail)?;
    let (results, line) = run_timed(&runner, &args_in, bench, compile_ms).map_err(fail)?;
    let named: Vec<(String, Literal)> = results
        .into_iter()
        .enumerate()
        .map(|(i, l)| (format!("{prefix}out.{i}"), l))
        .collect();
    finish(named, line)
}

fn signature(f: &Func) -> String {
    let ps: Vec<String> = f
        .params
        .iter()
        .enumerate()
        .map(|(i, &p)| format!("%{i}: {}", f.ty(p)))
        .collect();
    let rs: Vec<String> = f.result_types().iter().map(ToString::to_string).collect();
    format!("func @{}({}) -> ({})", f.name, ps.join(", "), rs.join(", "))
}

fn fmt_values(l: &Literal) -> String {
    let n = l.num_elements();
    let shown = n.min(16);
    let vals: Vec<String> = (0..shown)
        .map(|i| {
            if l.dtype() == DType::F64 {
                format!("{:?}", l.get_f64(i))
            } else if l.dtype().is_float() {
                // f16, bf16 and f32 values are exact in f32: print its shortest form.
                format!("{:?}", l.get_f64(i) as f32)
            } else if l.dtype() == DType::Bool {
                (l.get_i64(i) != 0).to_string()
            } else if l.dtype() == DType::U64 {
                u64::from_le_bytes(l.bytes()[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))
                    .to_string()
            } else {
                l.get_i64(i).to_string()
            }
        })
        .collect();
    format!(
        "[{}{}]",
        vals.join(", "),
        if n > shown { ", ..." } else { "" }
    )
}

fn cmd_inspect(args: &[String], out: &mut dyn Write) -> Result<(), CliError> {
    let file = match args {
        [f] if !f.starts_with("--") => f,
        [] => return Err(CliError::usage("inspect: no file given")),
        _ => return Err(CliError::usage("inspect: takes exactly one file")),
    };
    let mut s = String::new();
    if file.to_ascii_lowercase().ends_with(".safetensors") {
        let tensors = load_safetensors(file).map_err(CliError::fail)?;
        s += &format!("// {} tensors\n", tensors.len());
        let mut tensors = tensors;
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, l) in &tensors {
            s += &format!("{name}: {} = {}\n", l.ty(), fmt_values(l));
        }
        return write_out(out, &s);
    }
    let module = read_module(file)?;
    for (k, v) in &module.attrs {
        s += &format!(
            "module attribute {k} = {}\n",
            psionic_ir::text::print_attr(v)
        );
    }
    for f in &module.funcs {
        s += &format!("{}\n", signature(f));
        s += &format!("  ops: {}\n", f.ops.len());
        for (name, n) in f.op_counts() {
            s += &format!("    {name}: {n}\n");
        }
        let consts: Vec<&Literal> = f
            .ops
            .iter()
            .filter(|o| o.opcode == Opcode::Constant)
            .filter_map(|o| match o.attrs.get("value") {
                Some(Attr::Dense(l)) => Some(l),
                _ => None,
            })
            .collect();
        let elems: usize = consts.iter().map(|l| l.num_elements()).sum();
        let bytes: usize = consts.iter().map(|l| l.bytes().len()).sum();
        s += &format!(
            "  constants: {} ({} elements, {} bytes)\n",
            consts.len(),
            elems,
            bytes
        );
        if let Some(big) = consts.iter().max_by_key(|l| l.bytes().len()) {
            s += &format!("    largest: {} ({} bytes)\n", big.ty(), big.bytes().len());
        }
    }
    s += "\n";
    s += &print_module(&module);
    write_out(out, &s)
}

fn cmd_convert(args: &[String]) -> Result<(), CliError> {
    let (input, output) = match args {
        [i, o] if !i.starts_with("--") && !o.starts_with("--") => (i, o),
        _ => {
            return Err(CliError::usage(
                "convert: takes an input and an output file",
            ))
        }
    };
    let module = read_module(input)?;
    save_module(output, &module).map_err(CliError::fail)
}
