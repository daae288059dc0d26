//! Regenerates the op reference in `docs/IR.md` from the op table:
//! `cargo run -p psionic-ir --example gen_ir_docs`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/IR.md");
    let old = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let new = psionic_ir::docs::update_ir_md(&old);
    if new == old {
        println!("{} is current", path.display());
        return ExitCode::SUCCESS;
    }
    // Write beside the file, then rename: never leave a half-written doc.
    let tmp = path.with_extension("md.tmp");
    if let Err(e) = std::fs::write(&tmp, &new).and_then(|()| std::fs::rename(&tmp, &path)) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("updated {}", path.display());
    ExitCode::SUCCESS
}
