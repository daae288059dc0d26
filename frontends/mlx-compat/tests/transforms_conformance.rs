//! The transforms on imported `.mlxfn` functions against real MLX: for every
//! shared conformance case with `vjp`, `jvp` or `vmap` checks (and every data
//! set, `shape1.` included: other traces, shapeless files at other shapes),
//! our `vjp`/`jvp`/`vmap` of the *imported* function reproduce the stored
//! tensors within the case's tolerances. Naming as in
//! `shared/conformance/mlx/README.md`: `vjp.cot.J` -> `vjp.in.K`,
//! `jvp.tan.K` -> `jvp.out.J`, `vmap.in.K` -> `vmap.out.J` (axis 0).

mod mlxfn_support;

use mlxfn_support::*;
use psionic_ir::{Literal, TensorType};
use psionic_mlx::mlxfn;
use psionic_passes::autodiff::{jvp, vjp};
use psionic_passes::vmap::vmap_with_size;
use psionic_runtime::interp::run_func;

fn checks(case: &Case) -> Vec<String> {
    case.json["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn diff_inputs(case: &Case) -> Vec<String> {
    case.json["diff_inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn tensor<'a>(case: &'a Case, name: &str) -> Result<&'a Literal, String> {
    case.tensors
        .get(name)
        .ok_or_else(|| format!("missing tensor `{name}`"))
}

/// Checks one data set of one case; `Err` names the first mismatch.
fn check_prefix(case: &Case, prefix: &str, which: &[String]) -> Result<(), String> {
    let m = mlxfn::read(&case.bytes()).map_err(|e| format!("import: {e}"))?;
    // The data set's inputs, keyed as MLX dispatches: `P` + `in.K`.
    let head = format!("{prefix}in.");
    let given: Vec<(String, TensorType)> = case
        .tensors
        .iter()
        .filter_map(|(n, l)| Some((n.strip_prefix(&head)?.to_string(), l.ty())))
        .collect();
    let (f, keys) = mlxfn::select_trace(&m, "main", &given)?;
    let args: Vec<Literal> = keys
        .iter()
        .map(|k| tensor(case, &format!("{prefix}in.{k}")).cloned())
        .collect::<Result<_, _>>()?;
    let nout = f.results.len();
    let diff = diff_inputs(case);
    let wrt: Vec<usize> = diff
        .iter()
        .map(|k| {
            keys.iter()
                .position(|x| x == k)
                .ok_or_else(|| format!("diff input `{k}` is not an input"))
        })
        .collect::<Result<_, _>>()?;

    if which.iter().any(|c| c == "vjp") {
        let g = vjp(f, &wrt).map_err(|e| format!("vjp: {e}"))?;
        let mut a = args.clone();
        for j in 0..nout {
            a.push(tensor(case, &format!("{prefix}vjp.cot.{j}"))?.clone());
        }
        let outs = run_func(&g, &a).map_err(|e| format!("{prefix}vjp run: {e}"))?;
        for (i, k) in diff.iter().enumerate() {
            let name = format!("{prefix}vjp.in.{k}");
            compare(
                &name,
                &outs[nout + i],
                tensor(case, &name)?,
                case.rtol,
                case.atol,
            )?;
        }
    }
    if which.iter().any(|c| c == "jvp") {
        let g = jvp(f, &wrt).map_err(|e| format!("jvp: {e}"))?;
        let mut a = args.clone();
        for k in &diff {
            a.push(tensor(case, &format!("{prefix}jvp.tan.{k}"))?.clone());
        }
        let outs = run_func(&g, &a).map_err(|e| format!("{prefix}jvp run: {e}"))?;
        for j in 0..nout {
            let name = format!("{prefix}jvp.out.{j}");
            compare(
                &name,
                &outs[nout + j],
                tensor(case, &name)?,
                case.rtol,
                case.atol,
            )?;
        }
    }
    if which.iter().any(|c| c == "vmap") {
        let a: Vec<Literal> = keys
            .iter()
            .map(|k| tensor(case, &format!("{prefix}vmap.in.{k}")).cloned())
            .collect::<Result<_, _>>()?;
        let size = a.first().map(|l| l.shape()[0] as i64);
        let in_axes = vec![Some(0); keys.len()];
        let out_axes = vec![0; nout];
        let g = vmap_with_size(f, &in_axes, &out_axes, size).map_err(|e| format!("vmap: {e}"))?;
        let outs = run_func(&g, &a).map_err(|e| format!("{prefix}vmap run: {e}"))?;
        for j in 0..nout {
            let name = format!("{prefix}vmap.out.{j}");
            compare(&name, &outs[j], tensor(case, &name)?, case.rtol, case.atol)?;
        }
    }
    Ok(())
}

#[test]
fn transforms_of_imported_functions_match_mlx() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in all_case_dirs()
        .iter()
        .filter(|d| d.starts_with(conformance_dir()))
    {
        let case = Case::load(dir);
        let which: Vec<String> = checks(&case).into_iter().filter(|c| c != "run").collect();
        if which.is_empty() {
            continue;
        }
        for p in case.prefixes() {
            match check_prefix(&case, &p, &which) {
                Ok(()) => checked += 1,
                Err(e) => failures.push(format!("{}: {e}", case.name)),
            }
        }
    }
    println!("{checked} data sets pass");
    assert!(checked >= 50, "only {checked} data sets checked");
    assert!(
        failures.is_empty(),
        "{} data sets fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
