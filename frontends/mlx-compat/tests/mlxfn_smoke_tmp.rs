use psionic_mlx::mlxfn;
#[test]
fn all_import() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().map(|a| a.join("shared/conformance/mlx")).find(|p| p.is_dir()).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    entries.sort();
    let mut bad = 0;
    for d in entries {
        let bytes = std::fs::read(d.join("fn.mlxfn")).unwrap();
        let raw = mlxfn::format::parse(&bytes);
        match &raw {
            Ok(r) => { let again = mlxfn::format::print(r).unwrap(); if again != bytes { println!("{}: raw reprint differs", d.display()); bad += 1; } }
            Err(e) => { println!("{}: {e}", d.display()); bad += 1; continue; }
        }
        match mlxfn::read(&bytes) {
            Ok(m) => {
                let w = mlxfn::write(&m);
                match w { Ok(b) => { if let Err(e) = mlxfn::read(&b) { println!("{}: reimport {e}", d.display()); bad += 1; } }
                          Err(e) => { println!("{}: write {e}", d.display()); bad += 1; } }
            }
            Err(e) => { println!("{}: {e}", d.display()); bad += 1; }
        }
    }
    assert_eq!(bad, 0);
}
