//! The GPU arms of the CLI, on any machine: `compile --emit
//! ptx|wgsl|msl|spirv` needs no GPU; `run --backend cuda|wgpu` either runs
//! and agrees with the interpreter, or fails with "... backend
//! unavailable: <why>" and writes no output file (CI has no NVIDIA driver;
//! it has lavapipe for wgpu).

use psionic_mlx::io::safetensors::load_safetensors;
use psionic_runtime::interp::compare_literals;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lit(p: &str) -> String {
    root().join("tests/lit").join(p).display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("psionic-gpu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs `psionic` with `args`; (status code, stdout, stderr).
fn psionic(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_psionic"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn compile_emits_gpu_code_without_a_gpu() {
    let file = lit("run/add_reduce.pir");
    let (c, ptx, err) = psionic(&["compile", &file, "--emit", "ptx"]);
    assert_eq!(c, 0, "{err}");
    assert!(
        ptx.contains(".target sm_90") && ptx.contains(".entry"),
        "{ptx}"
    );
    let (c, wgsl, err) = psionic(&["compile", &file, "--emit", "wgsl"]);
    assert_eq!(c, 0, "{err}");
    assert!(wgsl.contains("@compute"), "{wgsl}");
    let (c, msl, err) = psionic(&["compile", &file, "--emit", "msl"]);
    assert_eq!(c, 0, "{err}");
    assert!(
        msl.contains("kernel void") && msl.contains("[[buffer(0)]]"),
        "{msl}"
    );
    let (c, spv, err) = psionic(&["compile", &file, "--emit", "spirv"]);
    assert_eq!(c, 0, "{err}");
    assert!(!spv.trim().is_empty(), "empty SPIR-V output");
    let (c, _, err) = psionic(&["compile", &file, "--emit", "hlsl"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("unknown --emit `hlsl`"), "{err}");
}

#[test]
fn gpu_backends_run_or_say_why_not() {
    let file = lit("run/add_reduce.pir");
    let inputs = lit("inputs/add_bcast.safetensors");
    let want_path = scratch("interp.safetensors");
    let (c, _, err) = psionic(&[
        "run",
        &file,
        "--inputs",
        &inputs,
        "--out",
        want_path.to_str().unwrap(),
        "--backend",
        "interp",
    ]);
    assert_eq!(c, 0, "{err}");
    let want = load_safetensors(&want_path).unwrap();
    for (backend, unavailable) in [
        ("cuda", "CUDA backend unavailable"),
        ("wgpu", "wgpu backend unavailable"),
    ] {
        let out = scratch(&format!("{backend}.safetensors"));
        let (c, _, err) = psionic(&[
            "run",
            &file,
            "--inputs",
            &inputs,
            "--out",
            out.to_str().unwrap(),
            "--backend",
            backend,
        ]);
        if c == 0 {
            let got = load_safetensors(&out).unwrap();
            assert_eq!(got.len(), want.len());
            for ((gn, g), (wn, w)) in got.iter().zip(&want) {
                assert_eq!(gn, wn);
                compare_literals(g, w, 4, 1e-6).unwrap_or_else(|e| panic!("{backend} {gn}: {e}"));
            }
        } else {
            assert_eq!(c, 1, "{backend}: {err}");
            assert!(err.contains(unavailable), "{backend}: {err}");
            assert!(
                !out.exists(),
                "{backend}: an output was written after a failure"
            );
            eprintln!("note: {backend}: {}", err.trim());
        }
    }
}
