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
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
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
        let (g2, _) = match &opts.egraph {
            Some(o) => psionic_passes::egraph::simplify(&g, o).map_err(|e| e.to_string())?,
            None => (g.clone(), Default::default()),
        };
        let t_eg = ms(t);
        let t = Instant::now();
        let mut p = psionic_passes::fusion::fuse(&g2).map_err(|e| e.to_string())?;
        let t_fuse = ms(t);
        let t = Instant::now();
        psionic_passes::bufplan::plan(&mut p);
        let t_plan = ms(t);
        let t = Instant::now();
        let code = psionic_codegen::cpu::compile_program(&p, &Default::default())?;
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
