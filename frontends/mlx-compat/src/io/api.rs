//! MLX's array file functions over [`Array`]s: `load`, `save`, `savez`,
//! `savez_compressed` and `save_safetensors`, with MLX's choice of format by
//! extension (`.npy`, `.npz`, `.safetensors`, `.gguf`).

use super::{gguf, npy, safetensors, IoError};
use crate::array::Array;
use crate::error::Error;
use psionic_ir::Literal;
use std::collections::BTreeMap;
use std::path::Path;

/// What [`load`] returns: one array for `.npy`, named arrays otherwise, as
/// `mx.load` does.
#[derive(Clone)]
pub enum Loaded {
    Array(Array),
    Arrays(BTreeMap<String, Array>),
}

impl Loaded {
    /// The named arrays (an `.npy` file's array is named `""`).
    pub fn into_map(self) -> BTreeMap<String, Array> {
        match self {
            Loaded::Array(a) => BTreeMap::from([(String::new(), a)]),
            Loaded::Arrays(m) => m,
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn arrays(named: Vec<(String, Literal)>) -> BTreeMap<String, Array> {
    named
        .into_iter()
        .map(|(n, l)| (n, Array::from_literal(l)))
        .collect()
}

fn literals<'a>(
    path: &Path,
    named: impl IntoIterator<Item = (&'a String, &'a Array)>,
) -> Result<Vec<(String, Literal)>, IoError> {
    named
        .into_iter()
        .map(|(n, a)| {
            a.literal()
                .map(|l| (n.clone(), l))
                .map_err(|e| IoError::new(path, format!("array `{n}`: {e}")))
        })
        .collect()
}

/// `mx.load`: reads `.npy` (one array), `.npz`, `.safetensors` or `.gguf`
/// (named arrays; GGUF block-quantized tensors are dequantized to f32).
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, IoError> {
    let path = path.as_ref();
    match extension(path).as_str() {
        "npy" => npy::load_npy(path)
            .map(|l| Loaded::Array(Array::from_literal(l)))
            .map_err(|e| IoError::new(path, e.0)),
        "npz" => npy::load_npz(path)
            .map(|v| Loaded::Arrays(arrays(v)))
            .map_err(|e| IoError::new(path, e.0)),
        "safetensors" => safetensors::load_safetensors(path).map(|v| Loaded::Arrays(arrays(v))),
        "gguf" => gguf::load_gguf(path)
            .map(|g| Loaded::Arrays(arrays(g.tensors)))
            .map_err(|e| IoError::new(path, e.0)),
        other => Err(IoError::new(
            path,
            format!(
                "unknown array file type `{other}` (expected .npy, .npz, .safetensors or .gguf)"
            ),
        )),
    }
}

/// `mx.save`: one array as `.npy` (the extension is added when missing, as MLX does).
pub fn save(path: impl AsRef<Path>, a: &Array) -> Result<(), IoError> {
    let mut p = path.as_ref().to_path_buf();
    if extension(&p) != "npy" {
        p.set_extension(match p.extension() {
            Some(e) => format!("{}.npy", e.to_string_lossy()),
            None => "npy".to_string(),
        });
    }
    let l = a
        .literal()
        .map_err(|e: Error| IoError::new(&p, e.to_string()))?;
    npy::save_npy(&p, &l).map_err(|e| IoError::new(&p, e.0))
}

fn savez_impl(
    path: &Path,
    named: &BTreeMap<String, Array>,
    compressed: bool,
) -> Result<(), IoError> {
    let lits = literals(path, named)?;
    npy::save_npz(path, &lits, compressed).map_err(|e| IoError::new(path, e.0))
}

/// `mx.savez`: named arrays as an uncompressed `.npz`.
pub fn savez(path: impl AsRef<Path>, named: &BTreeMap<String, Array>) -> Result<(), IoError> {
    savez_impl(path.as_ref(), named, false)
}

/// `mx.savez_compressed`: named arrays as a deflated `.npz`.
pub fn savez_compressed(
    path: impl AsRef<Path>,
    named: &BTreeMap<String, Array>,
) -> Result<(), IoError> {
    savez_impl(path.as_ref(), named, true)
}

/// `mx.save_safetensors`: named arrays as `.safetensors`.
pub fn save_safetensors(
    path: impl AsRef<Path>,
    named: &BTreeMap<String, Array>,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let lits = literals(path, named)?;
    safetensors::save_safetensors(path, &lits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array;

    #[test]
    fn every_format_round_trips_through_arrays() {
        let dir = std::env::temp_dir().join(format!("mlx-io-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let w = array(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        let b = array(&[7i32, -8], &[2]);
        let named = BTreeMap::from([("w".to_string(), w.clone()), ("b".to_string(), b.clone())]);

        save(dir.join("w"), &w).unwrap();
        match load(dir.join("w.npy")).unwrap() {
            Loaded::Array(a) => assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]),
            Loaded::Arrays(_) => panic!("an .npy file loads as one array"),
        }
        type SaveFn = fn(&Path, &BTreeMap<String, Array>) -> Result<(), IoError>;
        let cases: [(&str, SaveFn); 3] = [
            ("a.npz", |p, m| savez(p, m)),
            ("c.npz", |p, m| savez_compressed(p, m)),
            ("a.safetensors", |p, m| save_safetensors(p, m)),
        ];
        for (file, save_fn) in cases {
            let p = dir.join(file);
            save_fn(&p, &named).unwrap();
            let m = load(&p).unwrap().into_map();
            assert_eq!(
                m["w"].to_vec::<f32>().unwrap(),
                vec![1.0, 2.0, 3.0, 4.0],
                "{file}"
            );
            assert_eq!(m["b"].to_vec::<i32>().unwrap(), vec![7, -8], "{file}");
            assert_eq!(m["w"].shape(), &[2, 2]);
        }
        let e = load(dir.join("x.onnx")).err().unwrap();
        assert!(
            e.to_string().contains("unknown array file type `onnx`"),
            "{e}"
        );
        let e = load(dir.join("missing.npz")).err().unwrap();
        assert!(e.to_string().contains("missing.npz"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
