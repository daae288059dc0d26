//! A GGUF file written by llama.cpp's `gguf` package (tools/fixtures/gen_gguf.py)
//! loads with its metadata, and every quantized type dequantizes bit-identically
//! to `gguf.quants.dequantize`.

use psionic_mlx::io::gguf::{from_bytes, load_gguf, GgufValue};
use psionic_mlx::io::npy::load_npy;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf")
}

#[test]
fn every_tensor_type_matches_the_reference_dequantizer() {
    let g = load_gguf(&dir().join("model.gguf")).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.metadata("test.answer"), Some(&GgufValue::U32(42)));
    assert_eq!(
        g.metadata("test.name"),
        Some(&GgufValue::Str("psionic".into()))
    );
    assert_eq!(g.tensors.len(), 13);
    for (name, t) in &g.tensors {
        let want = load_npy(&dir().join(format!("{name}.npy"))).unwrap();
        assert_eq!(t.shape(), want.shape(), "{name}");
        assert_eq!(t.dtype(), want.dtype(), "{name}");
        // Bit-identical: the same f32 arithmetic as the reference.
        assert_eq!(t.bytes(), want.bytes(), "{name}");
    }
}

#[test]
fn truncated_and_corrupted_files_are_refused_cleanly() {
    let b = std::fs::read(dir().join("model.gguf")).unwrap();
    // The writer pads the last tensor to the 32-byte alignment: cutting only
    // padding leaves a valid file.
    for n in (0..b.len() - 32).step_by(7) {
        assert!(from_bytes(&b[..n]).is_err(), "truncation at {n} accepted");
    }
    // Flipping bytes anywhere must never panic (it may still parse).
    for i in (0..b.len()).step_by(3) {
        let mut c = b.clone();
        c[i] ^= 0xff;
        let _ = from_bytes(&c);
    }
}
