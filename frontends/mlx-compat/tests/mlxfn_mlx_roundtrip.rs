//! Files Psionic writes load and run in real MLX with MLX's own numbers.
//!
//! For every conformance case this build supports, the imported module is
//! written back to `.mlxfn` and `tools/mlx/check_roundtrip.py` imports it
//! with `mx.import_function`, runs it on the case's inputs and compares with
//! the stored outputs. Needs `python3` with `mlx` (`pip install "mlx[cpu]"`,
//! as `.ci/run` does). Without it the test fails, saying so; set
//! `PSIONIC_SKIP_MLX=1` to skip it knowingly.

mod mlxfn_support;

use mlxfn_support::*;
use psionic_mlx::mlxfn;
use std::process::Command;

fn mlx_available() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import mlx.core"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_string()),
        Err(e) => Err(format!("python3: {e}")),
    }
}

#[test]
fn files_we_write_load_and_run_in_mlx() {
    if let Err(why) = mlx_available() {
        if std::env::var("PSIONIC_SKIP_MLX").as_deref() == Ok("1") {
            eprintln!("SKIPPED (PSIONIC_SKIP_MLX=1): MLX is not importable: {why}");
            return;
        }
        panic!(
            "MLX is not importable from python3 ({why}): install it with `pip install \"mlx[cpu]\"` \
             (or set PSIONIC_SKIP_MLX=1 to skip this check knowingly)"
        );
    }
    let out = std::env::temp_dir().join(format!("psionic-mlxfn-rt-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let mut dirs = Vec::new();
    for dir in all_case_dirs() {
        let case = Case::load(&dir);
        if !case_supported(&case) {
            continue;
        }
        let m = mlxfn::read(&case.bytes()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        mlxfn::export_file(out.join(format!("{}.mlxfn", case.name)), &m)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        dirs.push(dir);
    }
    let script = manifest_dir().join("../../tools/mlx/check_roundtrip.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .args(&dirs)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let _ = std::fs::remove_dir_all(&out);
    let fails: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("ok ")).collect();
    let oks = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(
        o.status.success() && fails.is_empty() && oks == dirs.len(),
        "MLX rejected or disagreed with {} of our files ({oks} ok):\n{}\n{}",
        dirs.len() - oks,
        fails.join("\n"),
        String::from_utf8_lossy(&o.stderr)
    );
}
