//! Reads `fixtures/mlx_api.safetensors` (written by
//! `tools/mlx/gen_api_fixtures.py` with real MLX 0.32.4) and compares
//! psionic_mlx results with MLX's: bit for bit, within a few ulp, or close.

#![allow(dead_code)]

use psionic_ir::{DType, Literal};
use psionic_mlx::Array;
use serde_json::Value;
use std::collections::BTreeMap;

pub struct Fixture {
    pub tensors: BTreeMap<String, Literal>,
    pub cases: BTreeMap<String, Value>,
}

fn dtype_of(s: &str) -> DType {
    match s {
        "BOOL" => DType::Bool,
        "U8" => DType::U8,
        "U16" => DType::U16,
        "U32" => DType::U32,
        "U64" => DType::U64,
        "I8" => DType::I8,
        "I16" => DType::I16,
        "I32" => DType::I32,
        "I64" => DType::I64,
        "F16" => DType::F16,
        "F32" => DType::F32,
        "F64" => DType::F64,
        "BF16" => DType::BF16,
        "C64" => DType::C64,
        other => panic!("fixture dtype {other} is not expected"),
    }
}

/// Our short dtype names, as the fixture script writes them.
pub fn dtype_arg(s: &str) -> DType {
    match s {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        "f64" => DType::F64,
        "i32" => DType::I32,
        "u32" => DType::U32,
        "i8" => DType::I8,
        "u8" => DType::U8,
        "i16" => DType::I16,
        "u16" => DType::U16,
        "i64" => DType::I64,
        "bool" => DType::Bool,
        "c64" => DType::C64,
        other => panic!("dtype argument {other} is not expected"),
    }
}

/// A minimal safetensors reader (8-byte header length, JSON header, data);
/// it also takes the C64 dtype numpy writes.
pub fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mlx_api.safetensors"
    );
    let bytes = std::fs::read(path).expect("fixture present");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut tensors = BTreeMap::new();
    let mut cases = BTreeMap::new();
    for (name, entry) in header.as_object().unwrap() {
        if name == "__metadata__" {
            for (case, json) in entry.as_object().unwrap() {
                cases.insert(
                    case.clone(),
                    serde_json::from_str(json.as_str().unwrap()).unwrap(),
                );
            }
            continue;
        }
        let dtype = dtype_of(entry["dtype"].as_str().unwrap());
        let shape: Vec<usize> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let off = entry["data_offsets"].as_array().unwrap();
        let (a, b) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        tensors.insert(
            name.clone(),
            Literal::from_bytes(dtype, shape, data[a..b].to_vec()).unwrap(),
        );
    }
    Fixture { tensors, cases }
}

impl Fixture {
    /// Tensor `<case>.<kind>.<i>`, bf16 restored from its u16 bits.
    fn tensor(&self, case: &str, kind: &str, i: usize) -> Option<Literal> {
        let lit = self.tensors.get(&format!("{case}.{kind}.{i}"))?;
        let bf16 = self.cases[case]["bf16"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_str() == Some(&format!("{kind}.{i}")));
        Some(if bf16 {
            Literal::from_bytes(DType::BF16, lit.shape().to_vec(), lit.bytes().to_vec()).unwrap()
        } else {
            lit.clone()
        })
    }

    pub fn inputs(&self, case: &str) -> Vec<Array> {
        (0..)
            .map_while(|i| self.tensor(case, "in", i))
            .map(Array::from_literal)
            .collect()
    }

    pub fn outputs(&self, case: &str) -> Vec<Literal> {
        (0..).map_while(|i| self.tensor(case, "out", i)).collect()
    }

    /// Case names whose `fn` is one of `fns`.
    pub fn cases_of(&self, fns: &[&str]) -> Vec<String> {
        self.cases
            .iter()
            .filter(|(_, v)| fns.contains(&v["fn"].as_str().unwrap()))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// An ordered integer for a float bit pattern (ulp distance is a difference).
fn ordered(bits: i64, width: u32) -> i64 {
    let sign = 1i64 << (width - 1);
    if bits & sign != 0 {
        -(bits & (sign - 1))
    } else {
        bits
    }
}

fn float_bits(lit: &Literal, i: usize) -> Option<(i64, u32)> {
    let b = lit.bytes();
    Some(match lit.dtype() {
        DType::F32 => (
            u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()) as i64,
            32,
        ),
        DType::F16 | DType::BF16 => (
            u16::from_le_bytes(b[2 * i..2 * i + 2].try_into().unwrap()) as i64,
            16,
        ),
        DType::F64 => (
            u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()) as i64,
            64,
        ),
        _ => return None,
    })
}

/// Tally of elements compared under "ulp:N" checks.
#[derive(Default, Debug)]
pub struct UlpStats {
    pub elements: usize,
    pub exact: usize,
    pub max_ulp: i64,
}

/// Compares one result with MLX's under the case's check; `Err` says why not.
pub fn compare(
    case: &str,
    meta: &Value,
    got: &Array,
    want: &Literal,
    stats: &mut UlpStats,
) -> Result<(), String> {
    let got = got
        .literal()
        .map_err(|e| format!("{case}: evaluation failed: {e}"))?;
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!(
            "{case}: got {:?} {:?}, MLX gives {:?} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    let check = meta["check"].as_str().unwrap();
    if check == "exact" {
        if got.bytes() != want.bytes() {
            let n = got.num_elements();
            let first = (0..n).find(|&i| {
                let s = got.dtype().size();
                got.bytes()[i * s..(i + 1) * s] != want.bytes()[i * s..(i + 1) * s]
            });
            return Err(format!(
                "{case}: not bit-exact; first difference at element {first:?}: got {} want {}",
                first.map(|i| got.get_f64(i)).unwrap_or(0.0),
                first.map(|i| want.get_f64(i)).unwrap_or(0.0)
            ));
        }
        return Ok(());
    }
    if let Some(n) = check.strip_prefix("ulp:") {
        let n: i64 = n.parse().unwrap();
        for i in 0..got.num_elements() {
            stats.elements += 1;
            match (float_bits(&got, i), float_bits(want, i)) {
                (Some((g, w)), Some((m, _))) => {
                    let d = (ordered(g, w) - ordered(m, w)).abs();
                    stats.max_ulp = stats.max_ulp.max(d);
                    if d == 0 {
                        stats.exact += 1;
                    } else if d > n {
                        return Err(format!(
                            "{case}: element {i} is {d} ulp from MLX's ({} vs {})",
                            got.get_f64(i),
                            want.get_f64(i)
                        ));
                    }
                }
                _ => {
                    if got.get_f64(i) == want.get_f64(i) {
                        stats.exact += 1;
                    } else {
                        return Err(format!("{case}: element {i} differs"));
                    }
                }
            }
        }
        return Ok(());
    }
    let (rtol, atol) = (
        meta["rtol"].as_f64().unwrap(),
        meta["atol"].as_f64().unwrap(),
    );
    let n = got.num_elements();
    let complex = got.dtype() == DType::C64;
    let m = if complex { 2 * n } else { n };
    let read = |lit: &Literal, i: usize| -> f64 {
        if complex {
            f32::from_le_bytes(lit.bytes()[4 * i..4 * i + 4].try_into().unwrap()) as f64
        } else {
            lit.get_f64(i)
        }
    };
    for i in 0..m {
        let (g, w) = (read(&got, i), read(want, i));
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= atol + rtol * w.abs();
        if !ok {
            return Err(format!(
                "{case}: element {i} is {g}, MLX gives {w} (rtol {rtol}, atol {atol})"
            ));
        }
    }
    Ok(())
}

/// Runs every case with `fn` in `fns` through `call`, collecting failures.
pub fn run_cases(
    fx: &Fixture,
    fns: &[&str],
    call: impl Fn(&str, &Value, &[Array]) -> Vec<Array>,
) -> UlpStats {
    let names = fx.cases_of(fns);
    assert!(!names.is_empty(), "no fixture cases for {fns:?}");
    let mut stats = UlpStats::default();
    let mut failures = Vec::new();
    for name in &names {
        let meta = &fx.cases[name];
        let ins = fx.inputs(name);
        let got = call(meta["fn"].as_str().unwrap(), &meta["args"], &ins);
        let want = fx.outputs(name);
        if got.len() != want.len() {
            failures.push(format!(
                "{name}: {} results, MLX gives {}",
                got.len(),
                want.len()
            ));
            continue;
        }
        for (g, w) in got.iter().zip(&want) {
            if let Err(e) = compare(name, meta, g, w, &mut stats) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from MLX:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
    stats
}

pub fn ints(v: &Value) -> Vec<i32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap() as i32)
        .collect()
}
