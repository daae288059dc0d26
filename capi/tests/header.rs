//! The committed C header matches what cbindgen generates from the sources
//! (`PSIONIC_BLESS=1` rewrites it), and every exported function is in it.

use std::path::Path;

#[test]
fn header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen parses src/lib.rs");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8 header");
    let path = dir.join("include/psionic.h");
    if std::env::var_os("PSIONIC_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "capi/include/psionic.h is stale: run `PSIONIC_BLESS=1 cargo test -p psionic-capi --test header`"
    );
    let src = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    for line in src.lines() {
        if let Some(rest) = line.split("extern \"C\" fn ").nth(1) {
            let name = rest.split('(').next().unwrap();
            assert!(
                generated.contains(&format!("{name}(")),
                "{name} missing from the header"
            );
        }
    }
}
