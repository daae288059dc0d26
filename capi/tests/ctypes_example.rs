//! Runs the Python `ctypes` example (`capi/examples/ctypes_demo.py`) against
//! the `libpsionic.so` that this `cargo test` built: arrays in and out, ops
//! by MLX name, errors as codes and messages, a real MLX-exported function
//! called and differentiated. The script checks every number against NumPy
//! and exits non-zero on a mismatch. Needs `python3` with NumPy (installed
//! by `.ci/run`); `PSIONIC_SKIP_PYTHON=1` skips it knowingly.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/libpsionic.so`, beside this test's `deps/` folder.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let name = if cfg!(target_os = "macos") {
        "libpsionic.dylib"
    } else if cfg!(windows) {
        "psionic.dll"
    } else {
        "libpsionic.so"
    };
    profile_dir.join(name)
}

#[test]
fn ctypes_example_runs_and_checks_against_numpy() {
    let numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !numpy {
        if std::env::var("PSIONIC_SKIP_PYTHON").as_deref() == Ok("1") {
            eprintln!("SKIPPED (PSIONIC_SKIP_PYTHON=1): python3 with numpy is not available");
            return;
        }
        panic!("python3 with numpy is needed (`pip install numpy`; PSIONIC_SKIP_PYTHON=1 skips)");
    }
    let lib = library();
    assert!(lib.exists(), "{} was not built", lib.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ctypes_demo.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&lib)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ctypes_demo.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    // Errors came back as codes with messages naming the problem.
    assert!(
        stdout.contains("shape mismatch   -> code 4: add: shapes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unknown op       -> code 3: unknown op `frobnicate`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bad keyword      -> code 2: sum: unknown keyword `axiz`"),
        "{stdout}"
    );
    assert!(stdout.contains("missing file     -> code 5"), "{stdout}");
}
