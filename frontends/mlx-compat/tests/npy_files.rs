//! `.npy`/`.npz` files written by NumPy and MLX (tools/fixtures/gen_npy.py) read back exactly.

use psionic_mlx::io::npy::{load_npy, load_npz};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy")
}

#[test]
fn numpy_written_npy_files_match_numpy_values() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    let cases = expected.as_object().unwrap();
    assert!(cases.len() >= 7);
    for (name, want) in cases {
        let a = load_npy(&dir().join(format!("{name}.npy"))).unwrap();
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(a.shape(), shape.as_slice(), "{name}");
        let values: Vec<f64> = want["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(a.to_f64_vec(), values, "{name}");
    }
}

#[test]
fn numpy_and_mlx_npz_files_load() {
    for f in ["plain.npz", "compressed.npz"] {
        let arrays = load_npz(&dir().join(f)).unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"], "{f}");
        assert_eq!(arrays[0].1.to_f64_vec(), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(arrays[1].1.to_i64_vec(), vec![1, 0, 0, 1]);
    }
    let mlx = load_npz(&dir().join("mlx.npz")).unwrap();
    assert_eq!(mlx[0].0, "w");
    assert_eq!(mlx[0].1.shape(), &[2, 3]);
    assert_eq!(mlx[0].1.to_f64_vec(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn missing_file_is_a_clean_error() {
    let e = load_npy(&dir().join("nope.npy")).unwrap_err();
    assert!(
        e.0.contains("cannot read") && e.0.contains("nope.npy"),
        "{e}"
    );
}
