//! Runs every lit test under `tests/lit/` (one `.pir` file each) against the
//! `psionic` binary. `PSIONIC_BLESS=1 cargo test --test lit` rewrites the
//! exact-output blocks of `// BLESS` files. See docs/TESTING.md.

use psionic_cli::lit::{run_file, LitConfig};
use std::path::Path;

fn lit(path: &Path) -> datatest_stable::Result<()> {
    let path = path.canonicalize()?;
    let cfg = LitConfig {
        psionic: env!("CARGO_BIN_EXE_psionic").into(),
        bless: std::env::var_os("PSIONIC_BLESS").is_some_and(|v| v == "1"),
        scratch: std::env::temp_dir().join(format!("psionic-lit-{}", std::process::id())),
    };
    run_file(&path, &cfg).map_err(|e| e.into())
}

datatest_stable::harness! {
    { test = lit, root = "../../tests/lit", pattern = r".*\.pir$" },
}
