//! Profiling aid (not a benchmark of record): compiles one workload of
//! `bench/workloads.json` with the CPU backend, prints where compile time
//! goes (specialize, e-graph, fusion, planning, Cranelift), then runs it for
//! a number of seconds and prints the min and median call time. Run under
//! `perf record` to see where run time goes.
//!
//! `cargo run --release -p psionic-bench --example profile -- W1 [quick|full] [seconds]`

use psionic_bench::spec::{Mode, Spec};
use psionic_bench::workloads::{self, Plan};
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let id = args.first().cloned().unwrap_or_else(|| "W1".into());
    let mode = match args.get(1).map(String::as_str) {
        Some("full") => Mode::Full,
        _ => Mode::Quick,
    };
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    // The repository root: the current directory when it holds the bench
    // specs (a copy of the tree on another machine), else where this was built.
    let root = if std::path::Path::new("bench/workloads.json").exists() {
        std::path::PathBuf::from(".")
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    };
    let spec = Spec::load(&root.join("bench/workloads.json"))?;
    let ws = spec
        .workloads
        .get(&id)
        .ok_or_else(|| format!("no workload {id}"))?;
    let (func, inputs) = match workloads::plan(&id, ws, mode)? {
        Plan::Run(p) => (p.func, p.inputs),
        Plan::Compile { ops, n, input } => (workloads::chain(ops, n, 1)?, vec![input]),
        Plan::Unavailable(why) => return Err(why),
    };
    let types = func.param_types();
    for round in 0..3 {
        let t = Instant::now();
        let g = psionic_ir::specialize::specialize(&func, &types).map_err(|e| e.to_string())?;
        let t_spec = ms(t);
        let t = Instant::now();
        let opts = psionic_passes::fusion::compile::CompileOptions::default().for_func(&g);
        let g2 = match &opts.egraph {
            Some(o) => {
                psionic_passes::egraph::simplify(&g, o)
                    .map_err(|e| e.to_string())?
                    .0
            }
            None => g.clone(),
        };
        let t_eg = ms(t);
        let t = Instant::now();
        let mut p = psionic_passes::fusion::fuse(&g2).map_err(|e| e.to_string())?;
        let t_fuse = ms(t);
        let t = Instant::now();
        psionic_passes::bufplan::plan(&mut p);
        let t_plan = ms(t);
        let t = Instant::now();
        let copts = psionic_codegen::cpu::CpuOptions {
            emit_clif: std::env::var_os("PROFILE_CLIF").is_some(),
            ..Default::default()
        };
        let code = psionic_codegen::cpu::compile_program(&p, &copts)?;
        if round == 0 && copts.emit_clif {
            println!("{}", psionic_ir::kernel::text::print_program(&p));
            println!("{}", code.clif());
        }
        let t_cg = ms(t);
        println!(
            "compile #{round}: specialize {t_spec:.2} ms, egraph {t_eg:.2} ms, fuse {t_fuse:.2} ms, plan {t_plan:.2} ms, cranelift {t_cg:.2} ms ({} kernels: {:?})",
            code.kernel_shapes().len(),
            code.kernel_shapes()
        );
    }
    let c = psionic_runtime::exec::compile_for(&func, &types, &Default::default())
        .map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs || times.len() < 3 {
        let t = Instant::now();
        c.run(&inputs).map_err(|e| e.to_string())?;
        times.push(ms(t));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{id}: {} calls, min {:.3} ms, median {:.3} ms",
        times.len(),
        times[0],
        times[times.len() / 2]
    );
    Ok(())
}
