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
    run_file(&path, &cfg).map_err(|e| Box::new(LitFailure(e)) as _)
}

/// A failure report whose `Debug` (what the harness prints) keeps newlines.
struct LitFailure(String);

impl std::fmt::Debug for LitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::fmt::Display for LitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LitFailure {}

datatest_stable::harness! {
    { test = lit, root = "../../tests/lit", pattern = r".*\.pir$" },
}
