//! NumPy `.npy` and `.npz` files, as MLX's `mx.load`/`mx.save`/`mx.savez` read
//! and write them.
//!
//! `.npy` versions 1.0, 2.0 and 3.0 are read; 1.0 is written (2.0 when the
//! header does not fit 1.0's 16-bit length). Little- and big-endian data and
//! Fortran order are read and converted to row-major little-endian. `.npz` is
//! a zip of `.npy` members (stored or deflated). bfloat16 has no NumPy dtype:
//! writing it is refused with a clear error, as MLX does.

use psionic_ir::{DType, Literal};
use std::io::{Read, Write};
use std::path::Path;

/// A malformed or unwritable `.npy`/`.npz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyError(pub String);

impl std::fmt::Display for NpyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NpyError {}

fn err<T>(msg: impl Into<String>) -> Result<T, NpyError> {
    Err(NpyError(msg.into()))
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The NumPy `descr` for a dtype (little-endian).
fn descr(d: DType) -> Result<&'static str, NpyError> {
    Ok(match d {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::C64 => "<c8",
        DType::BF16 => {
            return err("bfloat16 arrays cannot be saved as .npy (NumPy has no bfloat16)")
        }
    })
}

/// Parses a `descr` into (dtype, big-endian?).
fn parse_descr(s: &str) -> Result<(DType, bool), NpyError> {
    let (order, code) = s.split_at(s.len().min(1));
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return err(format!("unsupported dtype descr '{s}'")),
    };
    let d = match code {
        "b1" => DType::Bool,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "c8" => DType::C64,
        _ => return err(format!("unsupported dtype descr '{s}'")),
    };
    Ok((d, big))
}

/// Serializes one array as `.npy` bytes.
pub fn to_npy_bytes(a: &Literal) -> Result<Vec<u8>, NpyError> {
    let shape = match a.shape() {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(a.dtype())?
    );
    // Pad so that the data starts on a 64-byte boundary, ending in '\n'.
    let (version, prefix) = if header.len() + 1 + 10 <= u16::MAX as usize {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    header.push_str(&" ".repeat(total - prefix - header.len() - 1));
    header.push('\n');
    let mut out = Vec::with_capacity(total + a.bytes().len());
    out.extend(MAGIC);
    out.extend([version, 0]);
    if version == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(a.bytes());
    Ok(out)
}

/// Parses `.npy` bytes.
pub fn from_npy_bytes(b: &[u8]) -> Result<Literal, NpyError> {
    if b.len() < 10 || &b[..6] != MAGIC {
        return err("not a .npy file (bad magic)");
    }
    let (hlen, start): (usize, usize) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            if b.len() < 12 {
                return err("truncated .npy header");
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => return err(format!(".npy version {v} is not supported")),
    };
    let header = b
        .get(start..start.saturating_add(hlen))
        .ok_or_else(|| NpyError(format!("truncated .npy header: {hlen} bytes announced")))?;
    let header =
        std::str::from_utf8(header).map_err(|_| NpyError(".npy header is not text".into()))?;
    let descr = dict_value(header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let (dtype, big) = parse_descr(descr)?;
    let fortran = match dict_value(header, "fortran_order")?.as_str() {
        "True" => true,
        "False" => false,
        v => return err(format!("fortran_order '{v}' is not True or False")),
    };
    let shape = parse_shape(&dict_value(header, "shape")?)?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| NpyError(format!("shape {shape:?} is too large")))?;
    let data = &b[start + hlen..];
    if data.len() != n {
        return err(format!(
            ".npy data has {} bytes, shape {shape:?} of {dtype} needs {n}",
            data.len()
        ));
    }
    let mut bytes = data.to_vec();
    if big {
        let item = if dtype == DType::C64 { 4 } else { dtype.size() };
        for c in bytes.chunks_exact_mut(item) {
            c.reverse();
        }
    }
    if fortran && shape.len() > 1 {
        bytes = fortran_to_c(&bytes, &shape, dtype.size());
    }
    Literal::from_bytes(dtype, shape, bytes).map_err(|e| NpyError(e.0))
}

/// Reorders column-major data to row-major.
fn fortran_to_c(src: &[u8], shape: &[usize], item: usize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; src.len()];
    let mut idx = vec![0usize; shape.len()];
    for c_pos in 0..n {
        // Column-major position of the row-major index `idx`.
        let mut f_pos = 0;
        let mut stride = 1;
        for (i, &d) in idx.iter().zip(shape) {
            f_pos += i * stride;
            stride *= d;
        }
        out[c_pos * item..(c_pos + 1) * item]
            .copy_from_slice(&src[f_pos * item..(f_pos + 1) * item]);
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// The raw text of `key`'s value in a Python dict literal.
fn dict_value(header: &str, key: &str) -> Result<String, NpyError> {
    let pat_a = format!("'{key}'");
    let pat_b = format!("\"{key}\"");
    let at = header
        .find(&pat_a)
        .or_else(|| header.find(&pat_b))
        .ok_or_else(|| NpyError(format!(".npy header has no '{key}'")))?;
    let rest = header[at + key.len() + 2..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| NpyError(format!(".npy header: expected ':' after '{key}'")))?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(|| NpyError(format!(".npy header: unterminated value of '{key}'")))?;
    Ok(rest[..end].trim().to_string())
}

fn parse_shape(s: &str) -> Result<Vec<usize>, NpyError> {
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| NpyError(format!(".npy shape '{s}' is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| NpyError(format!(".npy shape '{s}' has a bad size '{p}'")))
        })
        .collect()
}

/// Reads a `.npy` file.
pub fn load_npy(path: &Path) -> Result<Literal, NpyError> {
    let b = std::fs::read(path)
        .map_err(|e| NpyError(format!("cannot read {}: {e}", path.display())))?;
    from_npy_bytes(&b).map_err(|e| NpyError(format!("{}: {e}", path.display())))
}

/// Writes a `.npy` file atomically.
pub fn save_npy(path: &Path, a: &Literal) -> Result<(), NpyError> {
    let b = to_npy_bytes(a)?;
    super::write_atomic(path, &b).map_err(|e| NpyError(e.to_string()))
}

/// Reads every array of a `.npz` file, in archive order; member names lose
/// their `.npy` suffix, as in NumPy.
pub fn load_npz(path: &Path) -> Result<Vec<(String, Literal)>, NpyError> {
    let f = std::fs::File::open(path)
        .map_err(|e| NpyError(format!("cannot read {}: {e}", path.display())))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| {
        NpyError(format!(
            "{}: not a valid .npz (zip) file: {e}",
            path.display()
        ))
    })?;
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut m = zip
            .by_index(i)
            .map_err(|e| NpyError(format!("{}: member {i}: {e}", path.display())))?;
        let name = m
            .name()
            .map_err(|e| {
                NpyError(format!(
                    "{}: member {i} has a bad name: {e}",
                    path.display()
                ))
            })?
            .to_string();
        // Bound the read by the declared size so a zip bomb cannot exhaust memory.
        let size = m.size();
        if size > (1 << 40) {
            return err(format!(
                "{}: member {name} declares {size} bytes",
                path.display()
            ));
        }
        let mut b = Vec::new();
        (&mut m)
            .take(size)
            .read_to_end(&mut b)
            .map_err(|e| NpyError(format!("{}: member {name}: {e}", path.display())))?;
        let a = from_npy_bytes(&b)
            .map_err(|e| NpyError(format!("{}: member {name}: {e}", path.display())))?;
        out.push((name.strip_suffix(".npy").unwrap_or(&name).to_string(), a));
    }
    Ok(out)
}

/// Writes named arrays as a `.npz` (deflated when `compressed`), atomically.
pub fn save_npz(
    path: &Path,
    arrays: &[(String, Literal)],
    compressed: bool,
) -> Result<(), NpyError> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let method = if compressed {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(true);
        for (name, a) in arrays {
            let b = to_npy_bytes(a).map_err(|e| NpyError(format!("{name}: {e}")))?;
            zip.start_file(format!("{name}.npy"), opts)
                .map_err(|e| NpyError(format!("{name}: {e}")))?;
            zip.write_all(&b)
                .map_err(|e| NpyError(format!("{name}: {e}")))?;
        }
        zip.finish().map_err(|e| NpyError(e.to_string()))?;
    }
    super::write_atomic(path, buf.get_ref()).map_err(|e| NpyError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(d: DType) -> Literal {
        Literal::from_f64(d, vec![2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap()
    }

    #[test]
    fn npy_round_trip_every_dtype() {
        for d in DType::ALL {
            if d == DType::BF16 {
                assert!(to_npy_bytes(&sample(d)).unwrap_err().0.contains("bfloat16"));
                continue;
            }
            let b = to_npy_bytes(&sample(d)).unwrap();
            assert_eq!((b.len() - a_len(&sample(d))) % 64, 0);
            assert_eq!(from_npy_bytes(&b).unwrap(), sample(d), "{d}");
        }
        let s = Literal::from_f64(DType::F32, vec![], &[7.0]).unwrap();
        assert_eq!(from_npy_bytes(&to_npy_bytes(&s).unwrap()).unwrap(), s);
    }

    fn a_len(a: &Literal) -> usize {
        a.bytes().len()
    }

    #[test]
    fn big_endian_and_fortran_order() {
        // np.arange(6, dtype='>i4').reshape(2, 3, order='F')
        let header = "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }";
        let mut b = MAGIC.to_vec();
        b.extend([1, 0]);
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        for v in [0i32, 3, 1, 4, 2, 5] {
            b.extend(v.to_be_bytes());
        }
        let a = from_npy_bytes(&b).unwrap();
        assert_eq!(a.to_i64_vec(), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(a.shape(), &[2, 3]);
    }

    #[test]
    fn malformed_files_give_errors() {
        assert!(from_npy_bytes(b"").unwrap_err().0.contains("bad magic"));
        let good = to_npy_bytes(&sample(DType::F32)).unwrap();
        for n in 0..good.len() {
            assert!(from_npy_bytes(&good[..n]).is_err());
        }
        let mut bad = good.clone();
        let pos = bad.windows(3).position(|w| w == b"<f4").unwrap();
        bad[pos + 1] = b'x';
        assert!(from_npy_bytes(&bad).unwrap_err().0.contains("descr"));
    }

    #[test]
    fn npz_round_trip() {
        let dir = std::env::temp_dir().join(format!("npz-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for compressed in [false, true] {
            let p = dir.join("a.npz");
            let arrays = vec![
                ("w".to_string(), sample(DType::F32)),
                ("idx".to_string(), sample(DType::I64)),
            ];
            save_npz(&p, &arrays, compressed).unwrap();
            assert_eq!(load_npz(&p).unwrap(), arrays);
        }
        std::fs::write(dir.join("bad.npz"), b"PK nonsense").unwrap();
        assert!(load_npz(&dir.join("bad.npz")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
