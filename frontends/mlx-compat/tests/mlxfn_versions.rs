//! Version dispatch (spec §11): files from older MLX releases have no
//! metadata string (≤ 0.32.0) and older state layouts (FFT without
//! `odd_out` before 0.32.3, SliceUpdate without `reduce_type` before
//! 0.32.0); the reader normalizes them to 0.32.4's.

mod mlxfn_support;

use mlxfn_support::*;
use psionic_mlx::mlxfn::{self, format, prims::Field};

fn reversioned(name: &str, version: &str) -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(extra_cases_dir().join(name).join("fn.mlxfn"))
        .or_else(|_| std::fs::read(conformance_dir().join(name).join("fn.mlxfn")))
        .unwrap();
    let mut raw = format::parse(&bytes).unwrap();
    raw.version = version.to_string();
    (bytes, format::print(&raw).unwrap())
}

#[test]
fn files_before_0_32_1_have_no_metadata() {
    let (now, old) = reversioned("kwargs", "0.31.0");
    // The old layout is the new one minus the 8-byte empty metadata string,
    // and the shorter version string.
    assert_eq!(old.len(), now.len() - 8);
    let m = mlxfn::read(&old).unwrap();
    assert_eq!(
        m.attr("mlx_version"),
        Some(&psionic_ir::Attr::Str("0.31.0".into()))
    );
    assert_eq!(m.funcs.len(), 1);
    // Read as 0.32.4, the same bytes are misaligned and refused cleanly.
    let mut wrong = old.clone();
    wrong[8..14].copy_from_slice(b"0.32.4");
    assert!(mlxfn::read(&wrong[..]).is_err() || mlxfn::read(&wrong[..]).unwrap() != m);
}

#[test]
fn slice_update_before_0_32_0_has_no_reduce_type() {
    let (now, old) = reversioned("slice_update_setitem", "0.31.2");
    assert_eq!(old.len(), now.len() - 8 - 4, "no metadata, no reduce_type");
    let raw = format::parse(&old).unwrap();
    let su = raw.funcs[0]
        .tape
        .iter()
        .find_map(|e| match &e.kind {
            format::EntryKind::Op(op) if op.name == "SliceUpdate" => Some(op.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        su.field("reduce_type"),
        Some(&Field::Int(4)),
        "normalized to None"
    );
    let case = Case::load(&conformance_dir().join("slice_update_setitem"));
    let m = mlxfn::read(&old).unwrap();
    run_and_compare(&m, &case, "").unwrap();
}

#[test]
fn fft_before_0_32_3_has_no_odd_out() {
    let (now, old) = reversioned("fft_real_imag", "0.32.2");
    let raw_now = format::parse(&now).unwrap();
    let n_fft = raw_now.funcs[0]
        .tape
        .iter()
        .filter(|e| matches!(&e.kind, format::EntryKind::Op(op) if op.name == "FFT"))
        .count();
    assert!(n_fft > 0);
    assert_eq!(old.len(), now.len() - n_fft, "one odd_out byte per FFT");
    let raw = format::parse(&old).unwrap();
    for e in &raw.funcs[0].tape {
        if let format::EntryKind::Op(op) = &e.kind {
            if op.name == "FFT" {
                assert_eq!(op.field("odd_out"), Some(&Field::Bool(false)));
            }
        }
    }
}

#[test]
fn dev_version_strings_parse() {
    use psionic_mlx::mlxfn::prims::Version;
    assert_eq!(
        Version::parse("0.32.4.dev20260101+abc123"),
        Some(Version(0, 32, 4))
    );
    assert_eq!(Version::parse("0.30.0"), Some(Version(0, 30, 0)));
    assert_eq!(Version::parse("garbage"), None);
}
