//! The whole MLX conformance set on the compiled CPU backend: every case of
//! `shared/conformance/mlx/` and `tests/mlx_cases/`, every data set
//! (`shape1.` too), its `run` check and its `vjp`/`jvp`/`vmap` checks, run
//! the way `psionic run --backend cpu [--transform T]` runs them
//! (`mlxfn::select_trace` or `transforms::prepare_transform`, then
//! `exec::Executable`), compared with MLX's tensors within each case's
//! tolerances. Specializations the backend hands to the interpreter
//! (`exec::native_unsupported`: complex values, 64-bit integers) are
//! counted, and must stay rare, so the test cannot pass by falling back.

mod mlxfn_support;

use mlxfn_support::*;
use psionic_ir::{Literal, TensorType};
use psionic_mlx::mlxfn;
use psionic_mlx::transforms::{prepare_transform, CliTransform};
use psionic_runtime::exec::Executable;

#[derive(Default)]
struct Tally {
    native: usize,
    fallback: Vec<String>,
}

/// Runs `func` on `args` compiled; records whether it ran natively.
fn run_cpu(
    tally: &mut Tally,
    what: &str,
    func: &psionic_ir::Func,
    args: &[Literal],
) -> Result<Vec<Literal>, String> {
    let exe = Executable::new(func.clone());
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let p = exe
        .prepared(&types)
        .map_err(|e| format!("{what}: compile: {e}"))?;
    match p.fallback() {
        None => tally.native += 1,
        Some(r) => tally.fallback.push(format!("{what} ({r})")),
    }
    p.run(args).map_err(|e| format!("{what}: run: {e}"))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn check_case(case: &Case, tally: &mut Tally) -> Result<usize, String> {
    let m = mlxfn::read(&case.bytes()).map_err(|e| format!("import: {e}"))?;
    let tensors: Vec<(String, Literal)> = case
        .tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let checks = strings(&case.json["checks"]);
    let diff = strings(&case.json["diff_inputs"]);
    let mut ran = 0;
    for prefix in case.prefixes() {
        // run: the outputs on the inputs.
        let head = format!("{prefix}in.");
        let given: Vec<(String, TensorType)> = case
            .tensors
            .iter()
            .filter_map(|(n, l)| Some((n.strip_prefix(&head)?.to_string(), l.ty())))
            .collect();
        let (f, keys) = mlxfn::select_trace(&m, "main", &given)?;
        let args: Vec<Literal> = keys
            .iter()
            .map(|k| case.tensors[&format!("{prefix}in.{k}")].clone())
            .collect();
        let what = format!("{}/{prefix}run", case.name);
        let outs = run_cpu(tally, &what, f, &args)?;
        let mut j = 0;
        while let Some(want) = case.tensors.get(&format!("{prefix}out.{j}")) {
            let got = outs
                .get(j)
                .ok_or_else(|| format!("{what}: too few outputs"))?;
            compare(&format!("{what} out.{j}"), got, want, case.rtol, case.atol)?;
            j += 1;
        }
        if outs.len() != j {
            return Err(format!("{what}: {} outputs, expected {j}", outs.len()));
        }
        ran += 1;
        // The transforms, as `psionic run --transform` prepares them.
        for (check, t) in [
            ("vjp", CliTransform::Vjp),
            ("jvp", CliTransform::Jvp),
            ("vmap", CliTransform::Vmap),
        ] {
            if !checks.iter().any(|c| c == check) {
                continue;
            }
            let what = format!("{}/{prefix}{check}", case.name);
            let wrt = (t != CliTransform::Vmap).then_some(diff.as_slice());
            let plan = prepare_transform(&m, "main", &tensors, &prefix, t, wrt)
                .map_err(|e| format!("{what}: {e}"))?;
            let outs = run_cpu(tally, &what, &plan.func, &plan.args)?;
            let named = plan.name_results(outs)?;
            let mut compared = 0;
            for (name, got) in &named {
                // jvp also names the primal outputs (`out.J`), stored too.
                let want = case
                    .tensors
                    .get(name)
                    .ok_or_else(|| format!("{what}: no reference tensor `{name}`"))?;
                compare(&format!("{what} {name}"), got, want, case.rtol, case.atol)?;
                compared += 1;
            }
            if compared == 0 {
                return Err(format!("{what}: nothing compared"));
            }
            ran += 1;
        }
    }
    Ok(ran)
}

#[test]
fn every_conformance_case_matches_mlx_on_the_cpu_backend() {
    let mut failures = Vec::new();
    let mut unsupported = Vec::new();
    let mut tally = Tally::default();
    let mut checks = 0;
    let mut cases = 0;
    for dir in all_case_dirs() {
        let case = Case::load(&dir);
        if !case_supported(&case) {
            unsupported.push(case.name.clone());
            continue;
        }
        match check_case(&case, &mut tally) {
            Ok(n) => {
                checks += n;
                cases += 1;
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    println!(
        "{cases} cases, {checks} checks pass on the cpu backend; {} native programs, {} interpreted: {:?}; unmapped: {unsupported:?}",
        tally.native,
        tally.fallback.len(),
        tally.fallback
    );
    assert!(
        failures.is_empty(),
        "{} cases fail on the cpu backend:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases >= 90, "only {cases} cases ran");
    assert!(checks >= 250, "only {checks} checks ran");
    assert!(
        tally.fallback.len() * 20 <= tally.native,
        "too many programs fell back to the interpreter: {:?}",
        tally.fallback
    );
}
