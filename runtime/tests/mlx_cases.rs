//! Replays op applications evaluated by real MLX (`data/mlx_cases.json`,
//! made by `data/gen_mlx_cases.py`) through the interpreter. Exact ops must
//! match bit for bit (NaN matching NaN); transcendental ones, which MLX
//! computes in f32, within the case's ulps.

use psionic_ir::{Attr, AttrKind, Attrs, DType, Literal, Opcode};
use psionic_runtime::interp::eval_op;
use serde_json::Value;

fn parse_lit(v: &Value) -> Literal {
    let dt = DType::from_name(v["dtype"].as_str().expect("dtype")).expect("known dtype");
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let vals = v["values"].as_array().expect("values");
    if dt == DType::C64 {
        let parts: Vec<f32> = vals
            .iter()
            .map(|s| s.as_str().expect("str").parse().expect("float"))
            .collect();
        let bytes: Vec<u8> = parts.iter().flat_map(|p| p.to_le_bytes()).collect();
        Literal::from_bytes(dt, shape, bytes).expect("literal")
    } else if dt.is_float() {
        let f: Vec<f64> = vals
            .iter()
            .map(|s| s.as_str().expect("str").parse().expect("float"))
            .collect();
        Literal::from_f64(dt, shape, &f).expect("literal")
    } else {
        let i: Vec<i64> = vals
            .iter()
            .map(|s| s.as_str().expect("str").parse::<i128>().expect("int") as i64)
            .collect();
        Literal::from_i64(dt, shape, &i).expect("literal")
    }
}

fn parse_attrs(op: Opcode, v: &Value) -> Attrs {
    let mut attrs = Attrs::new();
    for (name, val) in v.as_object().expect("attrs") {
        let spec = op
            .def()
            .attrs
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{op} has no attribute {name}"));
        let a = match spec.kind {
            AttrKind::Bool => Attr::Bool(val.as_bool().expect("bool")),
            AttrKind::Int => Attr::Int(val.as_i64().expect("int")),
            AttrKind::Float => Attr::Float(val.as_f64().expect("float")),
            AttrKind::Ints => Attr::Ints(
                val.as_array()
                    .expect("ints")
                    .iter()
                    .map(|x| x.as_i64().expect("int"))
                    .collect(),
            ),
            AttrKind::Str => Attr::Str(val.as_str().expect("str").into()),
            AttrKind::DType => {
                Attr::DType(DType::from_name(val.as_str().expect("dtype")).expect("dtype"))
            }
            AttrKind::Dense => panic!("dense attributes are not used in cases"),
        };
        attrs.set(spec.name, a);
    }
    attrs
}

fn eps(dt: DType) -> f64 {
    match dt {
        DType::F16 => 2f64.powi(-10),
        DType::BF16 => 2f64.powi(-7),
        DType::F64 => f64::EPSILON,
        _ => 2f64.powi(-23),
    }
}

/// Why `got` differs from `want`, if it does.
fn compare(got: &Literal, want: &Literal, ulps: u64) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!("got {} want {}", got.ty(), want.ty()));
    }
    if got.dtype() == DType::C64 {
        let parts = |l: &Literal| -> Vec<f64> {
            l.bytes()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect()
        };
        let (g, w) = (parts(got), parts(want));
        let scale = w.iter().fold(1.0f64, |m, x| m.max(x.abs()));
        for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
            let ok = (a.is_nan() && b.is_nan())
                || a == b
                || (ulps > 0 && (a - b).abs() <= ulps as f64 * eps(DType::F32) * scale);
            if !ok {
                return Some(format!(
                    "part {i}: got {a:e} want {b:e} (all: got {g:?} want {w:?})"
                ));
            }
        }
        return None;
    }
    if !got.dtype().is_float() {
        return (got.to_i64_vec() != want.to_i64_vec())
            .then(|| format!("got {:?} want {:?}", got.to_i64_vec(), want.to_i64_vec()));
    }
    let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        let ok = if a.is_nan() || b.is_nan() {
            a.is_nan() && b.is_nan()
        } else if ulps == 0 {
            a == b
        } else {
            a == b || (a - b).abs() <= ulps as f64 * eps(got.dtype()) * b.abs().max(1.0)
        };
        if !ok {
            return Some(format!(
                "element {i}: got {a:e} want {b:e} (all: got {g:?} want {w:?})"
            ));
        }
    }
    None
}

#[test]
fn interpreter_matches_mlx() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mlx_cases.json"
    ))
    .expect("read cases");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() > 300);
    let mut failures = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let name = c["op"].as_str().expect("op");
        let op = Opcode::from_name(name).unwrap_or_else(|| panic!("unknown op {name}"));
        let attrs = parse_attrs(op, &c["attrs"]);
        let inputs: Vec<Literal> = c["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(parse_lit)
            .collect();
        let want: Vec<Literal> = c["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .map(parse_lit)
            .collect();
        let ulps = c["ulps"].as_u64().expect("ulps");
        let refs: Vec<&Literal> = inputs.iter().collect();
        match eval_op(op, &attrs, &refs) {
            Err(e) => failures.push(format!("case {k} {name} {:?}: error {e}", c["attrs"])),
            Ok(got) if got.len() != want.len() => failures.push(format!(
                "case {k} {name}: {} results, MLX gives {}",
                got.len(),
                want.len()
            )),
            Ok(got) => {
                for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                    if let Some(why) = compare(g, w, ulps) {
                        let ins: Vec<String> = inputs.iter().map(|l| format!("{l:?}")).collect();
                        failures.push(format!(
                            "case {k} {name} {} result {j}: {why}\n  inputs {}",
                            c["attrs"],
                            ins.join(", ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from MLX:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
