//! The `psionic run --bench N` timing contract (issue 6): stdout is exactly
//! one JSON line `{"median_ms": …, "min_ms": …, "compile_ms": …}`, outputs
//! are still written with `--out` (and equal a plain run's), `--out` is
//! optional, and `--transform` works too. Also: `cpu` is the default
//! backend and agrees with `--backend interp`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn psionic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_psionic"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lit(p: &str) -> String {
    root().join("tests/lit").join(p).display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("psionic-run-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs `psionic` with `args`; (status code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let o = psionic().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Checks the one JSON line; returns (median, min, compile).
fn timing(stdout: &str) -> (f64, f64, f64) {
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout:?}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");
    let obj = v.as_object().expect("an object");
    let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let get = |k: &str| obj[k].as_f64().unwrap_or_else(|| panic!("{k} is a number"));
    let (med, min, comp) = (get("median_ms"), get("min_ms"), get("compile_ms"));
    assert!(min >= 0.0 && med >= min && comp >= 0.0, "{stdout}");
    (med, min, comp)
}

#[test]
fn bench_prints_one_json_line_and_writes_outputs() {
    let file = lit("run/add_reduce.pir");
    let inputs = lit("inputs/add_bcast.safetensors");
    let plain = scratch("plain.safetensors");
    let timed = scratch("timed.safetensors");
    let interp = scratch("interp.safetensors");
    let (c, out, err) = run(&[
        "run",
        &file,
        "--inputs",
        &inputs,
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{err}");
    assert!(out.is_empty(), "a plain run prints nothing: {out:?}");
    let (c, out, err) = run(&[
        "run",
        &file,
        "--inputs",
        &inputs,
        "--out",
        timed.to_str().unwrap(),
        "--backend",
        "cpu",
        "--bench",
        "5",
    ]);
    assert_eq!(c, 0, "{err}");
    let (_, _, comp) = timing(&out);
    assert!(comp > 0.0, "the cpu backend compiles: {out}");
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        std::fs::read(&timed).unwrap(),
        "--bench writes the same outputs"
    );
    // The interpreter: no compilation, same outputs.
    let (c, out, err) = run(&[
        "run",
        &file,
        "--inputs",
        &inputs,
        "--out",
        interp.to_str().unwrap(),
        "--backend",
        "interp",
        "--bench=2",
    ]);
    assert_eq!(c, 0, "{err}");
    let (_, _, comp) = timing(&out);
    assert_eq!(comp, 0.0);
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        std::fs::read(&interp).unwrap()
    );
    // Without --out.
    let (c, out, err) = run(&["run", &file, "--inputs", &inputs, "--bench", "1"]);
    assert_eq!(c, 0, "{err}");
    timing(&out);
}

#[test]
fn bench_works_with_transforms() {
    // A shared conformance case with vjp, jvp and vmap data: `shared/` sits
    // beside the checkout in CI, higher up on a developer machine.
    let dir = match std::env::var("PSIONIC_SHARED") {
        Ok(s) => PathBuf::from(s).join("conformance/mlx/mlp_relu"),
        Err(_) => root()
            .canonicalize()
            .unwrap()
            .ancestors()
            .map(|a| a.join("shared/conformance/mlx/mlp_relu"))
            .find(|d| d.is_dir())
            .expect("shared/conformance/mlx beside the checkout (or set PSIONIC_SHARED)"),
    };
    let f = dir.join("fn.mlxfn").display().to_string();
    let d = dir.join("data.safetensors").display().to_string();
    for t in ["vjp", "jvp", "vmap"] {
        let o1 = scratch(&format!("{t}.cpu.safetensors"));
        let o2 = scratch(&format!("{t}.interp.safetensors"));
        let (c, out, err) = run(&[
            "run",
            &f,
            "--inputs",
            &d,
            "--transform",
            t,
            "--out",
            o1.to_str().unwrap(),
            "--bench",
            "3",
        ]);
        assert_eq!(c, 0, "{t}: {err}");
        timing(&out);
        let (c, out, err) = run(&[
            "run",
            &f,
            "--inputs",
            &d,
            "--transform",
            t,
            "--out",
            o2.to_str().unwrap(),
            "--backend",
            "interp",
        ]);
        assert_eq!(c, 0, "{t}: {err}");
        assert!(out.is_empty());
        // Same tensor names from both backends.
        let names = |p: &Path| {
            let (c, out, _) = run(&["inspect", p.to_str().unwrap()]);
            assert_eq!(c, 0);
            out.lines()
                .map(|l| l.split(':').next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&o1), names(&o2), "{t}");
    }
}

#[test]
fn bench_usage_errors() {
    let file = lit("run/add_reduce.pir");
    let inputs = lit("inputs/add_bcast.safetensors");
    for bad in ["0", "-1", "x", ""] {
        let (c, out, err) = run(&["run", &file, "--inputs", &inputs, "--bench", bad]);
        assert_eq!(c, 2, "--bench {bad:?}: {err}");
        assert!(out.is_empty());
        assert!(err.starts_with("psionic: error: run: --bench"), "{err}");
    }
}
