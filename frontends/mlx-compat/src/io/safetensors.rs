//! safetensors files (Hugging Face's tensor container), through the
//! `safetensors` crate: every dtype both sides know (bool, u8..u64, i8..i64,
//! f16, bf16, f32, f64). Complex tensors have no safetensors dtype and the
//! FP8 types have no Psionic dtype: both are refused with a message naming
//! the tensor.

use super::{write_atomic, IoError};
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use psionic_ir::{DType, Literal};
use std::path::Path;

fn to_dtype(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::U8,
        Dtype::U16 => DType::U16,
        Dtype::U32 => DType::U32,
        Dtype::U64 => DType::U64,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        _ => return None,
    })
}

fn from_dtype(d: DType) -> Option<Dtype> {
    Some(match d {
        DType::Bool => Dtype::BOOL,
        DType::U8 => Dtype::U8,
        DType::U16 => Dtype::U16,
        DType::U32 => Dtype::U32,
        DType::U64 => Dtype::U64,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::C64 => return None,
    })
}

/// Parses safetensors bytes into named literals, in the order their data
/// lies in the file. `path` only names the file in errors.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Literal)>, IoError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| IoError::new(path, format!("not a valid safetensors file: {e}")))?;
    let base = bytes.as_ptr() as usize;
    let mut views = st.tensors();
    views.sort_by(|(a, va), (b, vb)| {
        let (pa, pb) = (va.data().as_ptr() as usize, vb.data().as_ptr() as usize);
        (pa.wrapping_sub(base), a).cmp(&(pb.wrapping_sub(base), b))
    });
    let mut out = Vec::with_capacity(views.len());
    for (name, view) in views {
        let dtype = to_dtype(view.dtype()).ok_or_else(|| {
            IoError::new(
                path,
                format!("tensor `{name}`: dtype {:?} is not supported", view.dtype()),
            )
        })?;
        let lit = Literal::from_bytes(dtype, view.shape().to_vec(), view.data().to_vec())
            .map_err(|e| IoError::new(path, format!("tensor `{name}`: {e}")))?;
        out.push((name, lit));
    }
    Ok(out)
}

/// Loads every tensor of a safetensors file, in file order.
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Vec<(String, Literal)>, IoError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| IoError::new(path, format!("cannot read: {e}")))?;
    parse_safetensors(path, &bytes)
}

/// Serializes named literals to safetensors bytes. `path` only names the
/// file in errors.
pub fn serialize_safetensors(
    path: &Path,
    tensors: &[(String, Literal)],
) -> Result<Vec<u8>, IoError> {
    let mut seen = std::collections::HashSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, lit) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(IoError::new(
                path,
                format!("tensor `{name}` is given twice"),
            ));
        }
        let dtype = from_dtype(lit.dtype()).ok_or_else(|| {
            IoError::new(
                path,
                format!(
                    "tensor `{name}`: dtype {} has no safetensors equivalent",
                    lit.dtype()
                ),
            )
        })?;
        let view = TensorView::new(dtype, lit.shape().to_vec(), lit.bytes())
            .map_err(|e| IoError::new(path, format!("tensor `{name}`: {e}")))?;
        views.push((name.clone(), view));
    }
    ::safetensors::serialize(views, &None)
        .map_err(|e| IoError::new(path, format!("cannot serialize: {e}")))
}

/// Writes named literals to a safetensors file, atomically.
pub fn save_safetensors(
    path: impl AsRef<Path>,
    tensors: &[(String, Literal)],
) -> Result<(), IoError> {
    let path = path.as_ref();
    let bytes = serialize_safetensors(path, tensors)?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(d: DType) -> Literal {
        Literal::from_f64(d, vec![2, 3], &[0.0, 1.0, -2.5, 3.0, 1e3, -0.0]).unwrap()
    }

    #[test]
    fn every_dtype_round_trips_bit_for_bit() {
        let tensors: Vec<(String, Literal)> = DType::ALL
            .iter()
            .filter(|d| !d.is_complex())
            .map(|&d| (format!("t.{d}"), sample(d)))
            .collect();
        let p = Path::new("mem.safetensors");
        let bytes = serialize_safetensors(p, &tensors).unwrap();
        let back = parse_safetensors(p, &bytes).unwrap();
        let mut want = tensors.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let mut got = back;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
    }

    #[test]
    fn files_are_written_atomically_and_read_back() {
        let dir = std::env::temp_dir().join(format!("psionic-st-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.safetensors");
        let t = vec![
            ("in.1".to_string(), sample(DType::BF16)),
            ("in.0".to_string(), Literal::scalar_f64(DType::I64, -7.0)),
        ];
        save_safetensors(&path, &t).unwrap();
        let back = load_safetensors(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.contains(&t[0]) && back.contains(&t[1]));
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        // A write into a missing folder fails without creating anything.
        let e = save_safetensors(dir.join("nope/x.safetensors"), &t).unwrap_err();
        assert!(e.message.contains("cannot write"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_names_the_problem() {
        let p = Path::new("bad.safetensors");
        let e = parse_safetensors(p, b"\x05\x00\x00").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bad.safetensors: not a valid safetensors file"),
            "{e}"
        );
        // A header promising more data than there is.
        let header = br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0u8; 8]);
        assert!(parse_safetensors(p, &bytes).is_err());
        // Bool data other than 0/1 names the tensor.
        let header = br#"{"mask":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[1, 7]);
        let e = parse_safetensors(p, &bytes).unwrap_err();
        assert!(e.message.contains("tensor `mask`"), "{e}");
        // FP8 is refused by name.
        let header = br#"{"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.push(0);
        let e = parse_safetensors(p, &bytes).unwrap_err();
        assert!(e.message.contains("tensor `q`: dtype F8_E4M3"), "{e}");
        // Complex cannot be written.
        let c = Literal::zeros(DType::C64, vec![1]).unwrap();
        let e = serialize_safetensors(p, &[("z".into(), c)]).unwrap_err();
        assert!(e.message.contains("tensor `z`"), "{e}");
        let l = Literal::scalar_f64(DType::F32, 1.0);
        let e = serialize_safetensors(p, &[("a".into(), l.clone()), ("a".into(), l)]).unwrap_err();
        assert!(e.message.contains("given twice"), "{e}");
    }
}
