//! The MLX conformance set on `--backend wgpu`: every case of
//! `shared/conformance/mlx/` and `frontends/mlx-compat/tests/mlx_cases/`
//! is imported, compiled for the GPU (fusion, WGSL through naga, wgpu) and
//! run on every data set; each output must match MLX's within the case's
//! tolerances (`|a - b| <= atol + rtol |b|`, NaN matching NaN), widened by
//! the GPU's f32 arithmetic against MLX's (8 f32 ulp-sized relative steps).
//!
//! Cases whose functions hold values WGSL has no type for (f64, i64, u64)
//! are listed as not runnable, and must fail with the backend's
//! named-dtype error; every other failure fails the test. Complex cases
//! (the FFT ones) compile: kernels on f32 pairs, FFTs as library ops. Without a Vulkan
//! adapter the test prints `SKIPPED` with the reason.
#![cfg(feature = "wgpu")]

use psionic_ir::{Literal, TensorType};
use psionic_mlx::io::safetensors::load_safetensors;
use psionic_mlx::mlxfn;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    if let Ok(s) = std::env::var("PSIONIC_SHARED") {
        return PathBuf::from(s).join("conformance/mlx");
    }
    let m = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    m.ancestors()
        .map(|a| a.join("shared/conformance/mlx"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("shared/conformance/mlx not found above {}", m.display()))
}

fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("fn.mlxfn").is_file())
        .collect();
    v.sort();
    v
}

fn number(json: &str, key: &str) -> f64 {
    let re = regex::Regex::new(&format!(r#""{key}":\s*([-+0-9.eE]+)"#)).unwrap();
    re.captures(json)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or(0.0)
}

fn close(got: &Literal, want: &Literal, rtol: f64, atol: f64) -> Result<(), String> {
    if got.ty() != want.ty() {
        return Err(format!("got {}, expected {}", got.ty(), want.ty()));
    }
    let rtol = rtol + 8.0 * f32::EPSILON as f64;
    for (i, (a, b)) in got.to_f64_vec().iter().zip(want.to_f64_vec()).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || *a == b || (a - b).abs() <= atol + rtol * b.abs();
        if !ok {
            return Err(format!("element {i} is {a}, expected {b}"));
        }
    }
    Ok(())
}

enum Outcome {
    Pass(usize),
    NoWgslType(String),
}

fn run_case(dir: &Path) -> Result<Outcome, String> {
    let json = std::fs::read_to_string(dir.join("case.json")).map_err(|e| e.to_string())?;
    let (rtol, atol) = (number(&json, "rtol"), number(&json, "atol"));
    let bytes = std::fs::read(dir.join("fn.mlxfn")).map_err(|e| e.to_string())?;
    let m = mlxfn::read(&bytes).map_err(|e| format!("import: {e}"))?;
    let tensors: HashMap<String, Literal> = load_safetensors(dir.join("data.safetensors"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let mut prefixes = vec![String::new()];
    let re = regex::Regex::new(r#""prefix":\s*"([^"]*)""#).unwrap();
    prefixes.extend(re.captures_iter(&json).map(|c| c[1].to_string()));
    let mut outputs = 0;
    for prefix in prefixes {
        let given: Vec<(String, TensorType)> = tensors
            .iter()
            .filter_map(|(n, l)| {
                Some((
                    n.strip_prefix(&prefix)?.strip_prefix("in.")?.to_string(),
                    l.ty(),
                ))
            })
            .collect();
        let (f, keys) = mlxfn::select_trace(&m, "main", &given)?;
        let args: Vec<Literal> = keys
            .iter()
            .map(|k| tensors[&format!("{prefix}in.{k}")].clone())
            .collect();
        let outs = match psionic_runtime::wgpu::run_func_wgpu(f, &args) {
            Ok(o) => o,
            Err(e) if e.message.contains("has no WGSL type") => {
                return Ok(Outcome::NoWgslType(e.message))
            }
            Err(e) => return Err(format!("{prefix}wgpu: {e}")),
        };
        let mut j = 0;
        while let Some(want) = tensors.get(&format!("{prefix}out.{j}")) {
            let got = outs
                .get(j)
                .ok_or_else(|| format!("{prefix}: {} outputs, expected more", outs.len()))?;
            close(got, want, rtol, atol).map_err(|e| format!("{prefix}out.{j}: {e}"))?;
            j += 1;
        }
        if outs.len() != j {
            return Err(format!("{prefix}: {} outputs, expected {j}", outs.len()));
        }
        outputs += j;
    }
    Ok(Outcome::Pass(outputs))
}

#[test]
fn mlx_conformance_cases_run_on_wgpu() {
    if let Some(why) = psionic_runtime::wgpu::unavailable() {
        eprintln!("SKIPPED mlx_conformance_cases_run_on_wgpu: {why}");
        return;
    }
    let shared = case_dirs(&shared_dir());
    assert!(shared.len() >= 50, "only {} shared cases", shared.len());
    // Ours (`PSIONIC_EXTRA_CASES` overrides: a binary carried to another
    // machine has no checkout at its build path).
    let ours = std::env::var("PSIONIC_EXTRA_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../frontends/mlx-compat/tests/mlx_cases")
        });
    let mut dirs = shared;
    dirs.extend(case_dirs(&ours));
    let (mut passed, mut outputs) = (0, 0);
    let mut no_type = Vec::new();
    let mut failures = Vec::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(d) {
            Ok(Outcome::Pass(n)) => {
                passed += 1;
                outputs += n;
            }
            Ok(Outcome::NoWgslType(why)) => {
                no_type.push(format!("{name} ({})", why.lines().next().unwrap_or("")))
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!(
        "wgpu on {}: {passed} of {} MLX cases pass ({outputs} outputs); not runnable in WGSL: {no_type:?}",
        psionic_runtime::wgpu::gpu().map(|g| g.adapter.clone()).unwrap_or_default(),
        dirs.len()
    );
    assert!(
        !no_type.iter().any(|w| w.contains("c64")),
        "complex cases must compile: {no_type:?}"
    );
    assert!(
        failures.is_empty(),
        "{} cases fail on wgpu:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        passed * 10 >= dirs.len() * 8,
        "only {passed} of {} cases ran",
        dirs.len()
    );
}
