//! The MLX-extras kernels against real MLX 0.32.4: every case of
//! `fixtures/extra_ops.safetensors` (written by `tools/mlx/gen_extra_fixtures.py`)
//! runs through `psionic_runtime::interp::extra::eval` and must match MLX's
//! outputs: bit for bit for quantization, random bits and data movement,
//! within the case's tolerance for float math, and by invariant checks where
//! MLX's LAPACK and our faer may legitimately choose other signs or orders.

use psionic_ir::ops::attr_name;
use psionic_ir::{Attr, AttrKind, Attrs, DType, Literal, Opcode};
use psionic_runtime::interp::extra::eval;
use serde_json::Value;
use std::collections::BTreeMap;

struct Fixture {
    tensors: BTreeMap<String, Literal>,
    cases: BTreeMap<String, Value>,
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

/// A minimal safetensors reader (the format is an 8-byte header length, a
/// JSON header and the data); it also takes the C64 dtype numpy writes.
fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extra_ops.safetensors"
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

fn is_dtype(op: Opcode, name: &str) -> bool {
    op.def()
        .attrs
        .iter()
        .any(|a| a.name == name && a.kind == AttrKind::DType)
}

fn attrs_of(op: Opcode, json: &Value) -> Attrs {
    let mut attrs = Attrs::new();
    for (k, v) in json.as_object().unwrap() {
        let name = attr_name(op.def(), k).unwrap_or_else(|| panic!("{op} has no attribute {k}"));
        let a = match v {
            Value::Bool(b) => Attr::Bool(*b),
            Value::Number(x) if x.is_i64() => Attr::Int(x.as_i64().unwrap()),
            Value::Number(x) => Attr::Float(x.as_f64().unwrap()),
            Value::String(s) if is_dtype(op, k) => {
                Attr::DType(DType::from_name(s).unwrap_or_else(|| panic!("dtype {s}")))
            }
            Value::String(s) => Attr::Str(s.clone()),
            Value::Array(xs) => Attr::Ints(xs.iter().map(|x| x.as_i64().unwrap()).collect()),
            other => panic!("attribute {k} = {other}"),
        };
        attrs.set(name, a);
    }
    attrs
}

/// Values as (re, im) pairs, so real and complex compare alike.
fn pairs(l: &Literal) -> Vec<(f64, f64)> {
    if l.dtype() == DType::C64 {
        l.bytes()
            .chunks_exact(8)
            .map(|c| {
                (
                    f32::from_le_bytes(c[..4].try_into().unwrap()) as f64,
                    f32::from_le_bytes(c[4..].try_into().unwrap()) as f64,
                )
            })
            .collect()
    } else {
        l.to_f64_vec().into_iter().map(|v| (v, 0.0)).collect()
    }
}

fn close(got: &[(f64, f64)], want: &[(f64, f64)], rtol: f64, atol: f64) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} values, expected {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (x, y) in [(g.0, w.0), (g.1, w.1)] {
            let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs();
            if !ok {
                return Err(format!("element {i}: got {g:?}, expected {w:?}"));
            }
        }
    }
    Ok(())
}

fn same_type(got: &Literal, want: &Literal) -> Result<(), String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!(
            "got {:?} {}, expected {:?} {}",
            got.shape(),
            got.dtype(),
            want.shape(),
            want.dtype()
        ));
    }
    Ok(())
}

/// Row-major matrices of the last two axes.
fn batches(l: &Literal) -> (Vec<Vec<f64>>, usize, usize) {
    let s = l.shape();
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    let v = l.to_f64_vec();
    (v.chunks(r * c).map(|m| m.to_vec()).collect(), r, c)
}

/// Complex matrices of the last two axes.
fn cbatches(l: &Literal) -> (Vec<Vec<(f64, f64)>>, usize, usize) {
    let s = l.shape();
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    (pairs(l).chunks(r * c).map(|m| m.to_vec()).collect(), r, c)
}

fn cmul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// QR with R's diagonal made non-negative (the unique normalization).
fn normalize_qr(q: &Literal, r: &Literal) -> (Vec<f64>, Vec<f64>) {
    let (qs, m, k) = batches(q);
    let (rs, _, n) = batches(r);
    let (mut qo, mut ro) = (Vec::new(), Vec::new());
    for (mut qm, mut rm) in qs.into_iter().zip(rs) {
        for d in 0..k {
            if rm[d * n + d] < 0.0 {
                for i in 0..m {
                    qm[i * k + d] = -qm[i * k + d];
                }
                for j in 0..n {
                    rm[d * n + j] = -rm[d * n + j];
                }
            }
        }
        qo.extend(qm);
        ro.extend(rm);
    }
    (qo, ro)
}

/// Columns scaled so each column's largest-magnitude entry is positive.
fn normalize_columns(v: &Literal) -> Vec<f64> {
    let (ms, r, c) = batches(v);
    let mut out = Vec::new();
    for mut m in ms {
        for j in 0..c {
            let big =
                (0..r)
                    .map(|i| m[i * c + j])
                    .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
            if big < 0.0 {
                for i in 0..r {
                    m[i * c + j] = -m[i * c + j];
                }
            }
        }
        out.extend(m);
    }
    out
}

fn reals(v: &[f64]) -> Vec<(f64, f64)> {
    v.iter().map(|&x| (x, 0.0)).collect()
}

fn check_case(name: &str, spec: &Value, fx: &Fixture) -> Result<(), String> {
    let op = Opcode::from_name(spec["op"].as_str().unwrap()).ok_or("unknown op")?;
    let attrs = attrs_of(op, &spec["attrs"]);
    // bf16 tensors are stored as their u16 bits.
    let bf16: Vec<&str> = spec["bf16"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let fetch = |kind: &str| -> Vec<Literal> {
        (0..)
            .map_while(|i| {
                let l = fx.tensors.get(&format!("{name}.{kind}.{i}"))?;
                Some(if bf16.contains(&format!("{kind}.{i}").as_str()) {
                    Literal::from_bytes(DType::BF16, l.shape().to_vec(), l.bytes().to_vec())
                        .unwrap()
                } else {
                    l.clone()
                })
            })
            .collect()
    };
    let (ins_owned, want_owned) = (fetch("in"), fetch("out"));
    let ins: Vec<&Literal> = ins_owned.iter().collect();
    let want: Vec<&Literal> = want_owned.iter().collect();
    let got = eval(op, &attrs, &ins).ok_or("not an extras op")??;
    if got.len() != want.len() {
        return Err(format!("{} results, expected {}", got.len(), want.len()));
    }
    let rtol = spec["rtol"].as_f64().unwrap();
    let atol = spec["atol"].as_f64().unwrap();
    match spec["check"].as_str().unwrap() {
        "exact" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
                if g.bytes() != w.bytes() {
                    let at = g
                        .bytes()
                        .iter()
                        .zip(w.bytes())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    return Err(format!(
                        "bytes differ from byte {at}: got {g:?}, expected {w:?}"
                    ));
                }
            }
        }
        "close" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
                close(&pairs(g), &pairs(w), rtol, atol)?;
            }
        }
        "uniform" => {
            let upper = f32::from_bits(1.0f32.to_bits() - 1);
            let u: Vec<f64> = got[0]
                .to_f64_vec()
                .iter()
                .map(|&b| ((b as u32 as f32) / (u32::MAX as f32)).min(upper) as f64)
                .collect();
            let w = want[0].to_f64_vec();
            if u != w {
                return Err(format!("uniforms from our bits differ: {u:?} vs {w:?}"));
            }
        }
        "qr" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
            }
            let (gq, gr) = normalize_qr(&got[0], &got[1]);
            let (wq, wr) = normalize_qr(want[0], want[1]);
            close(&reals(&gq), &reals(&wq), rtol, atol)?;
            close(&reals(&gr), &reals(&wr), rtol, atol)?;
        }
        "svd" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
            }
            close(&pairs(&got[1]), &pairs(want[1]), rtol, atol)?;
            // U diag(S) Vt must rebuild the input (complex arithmetic).
            let (us, m, _) = cbatches(&got[0]);
            let (vts, n, _) = cbatches(&got[2]);
            let (a, _, _) = cbatches(ins[0]);
            let s = got[1].to_f64_vec();
            let k = m.min(n);
            for b in 0..us.len() {
                for i in 0..m {
                    for j in 0..n {
                        let mut v = (0.0, 0.0);
                        for p in 0..k {
                            let t = cmul(us[b][i * m + p], vts[b][p * n + j]);
                            v.0 += t.0 * s[b * k + p];
                            v.1 += t.1 * s[b * k + p];
                        }
                        let want = a[b][i * n + j];
                        if (v.0 - want.0).abs() > 1e-4 || (v.1 - want.1).abs() > 1e-4 {
                            return Err(format!(
                                "U S Vt differs from A at batch {b} ({i}, {j}): {v:?} vs {want:?}"
                            ));
                        }
                    }
                }
            }
        }
        "eigh" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
            }
            close(&pairs(&got[0]), &pairs(want[0]), rtol, atol)?;
            if got[1].dtype() == DType::C64 {
                // Complex eigenvectors have a free phase: check A v = w v with
                // A Hermitian from the upper triangle (the fixtures use "U").
                let (a, n, _) = cbatches(ins[0]);
                let (vs, _, _) = cbatches(&got[1]);
                let w = got[0].to_f64_vec();
                for b in 0..a.len() {
                    for col in 0..n {
                        for i in 0..n {
                            let mut av = (0.0, 0.0);
                            for j in 0..n {
                                let aij = if i <= j {
                                    a[b][i * n + j]
                                } else {
                                    let c = a[b][j * n + i];
                                    (c.0, -c.1)
                                };
                                let t = cmul(aij, vs[b][j * n + col]);
                                av.0 += t.0;
                                av.1 += t.1;
                            }
                            let x = vs[b][i * n + col];
                            let lam = w[b * n + col];
                            if (av.0 - lam * x.0).abs() > 1e-4 || (av.1 - lam * x.1).abs() > 1e-4 {
                                return Err(format!("A v != w v at batch {b}, column {col}"));
                            }
                        }
                    }
                }
            } else {
                close(
                    &reals(&normalize_columns(&got[1])),
                    &reals(&normalize_columns(want[1])),
                    rtol,
                    atol,
                )?;
            }
        }
        "eig" => {
            for (g, w) in got.iter().zip(&want) {
                same_type(g, w)?;
            }
            let sort = |l: &Literal, n: usize| {
                let mut chunks: Vec<Vec<(f64, f64)>> =
                    pairs(l).chunks(n).map(|c| c.to_vec()).collect();
                for c in &mut chunks {
                    c.sort_by(|a, b| a.partial_cmp(b).unwrap());
                }
                chunks.concat()
            };
            let n = *ins[0].shape().last().unwrap();
            close(&sort(&got[0], n), &sort(want[0], n), rtol, atol)?;
            // A v = lambda v for each of our eigenpairs.
            let (a, _, _) = batches(ins[0]);
            let w = pairs(&got[0]);
            let v = pairs(&got[1]);
            for (b, am) in a.iter().enumerate() {
                for col in 0..n {
                    let lam = w[b * n + col];
                    for i in 0..n {
                        let (mut re, mut im) = (0.0, 0.0);
                        for j in 0..n {
                            let x = v[b * n * n + j * n + col];
                            re += am[i * n + j] * x.0;
                            im += am[i * n + j] * x.1;
                        }
                        let x = v[b * n * n + i * n + col];
                        let (lr, li) = (lam.0 * x.0 - lam.1 * x.1, lam.0 * x.1 + lam.1 * x.0);
                        if (re - lr).abs() > 1e-4 || (im - li).abs() > 1e-4 {
                            return Err(format!("A v != lambda v at batch {b}, column {col}"));
                        }
                    }
                }
            }
        }
        other => return Err(format!("unknown check {other}")),
    }
    Ok(())
}

#[test]
fn every_fixture_case_matches_mlx() {
    let fx = load();
    assert!(
        fx.cases.len() > 150,
        "fixture has only {} cases",
        fx.cases.len()
    );
    let mut failures = Vec::new();
    for (name, spec) in &fx.cases {
        if let Err(e) = check_case(name, spec, &fx) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from MLX:\n{}",
        failures.len(),
        fx.cases.len(),
        failures.join("\n")
    );
}
