//! Shared helpers of the `.mlxfn` tests: finding the conformance cases,
//! loading their data, running an imported module on it through the
//! reference interpreter, and comparing with MLX's outputs.
#![allow(dead_code)]

use psionic_ir::{DType, Literal, Module, TensorType};
use psionic_mlx::mlxfn;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/conformance/mlx`: CI clones the repository with `shared/` beside
/// the checkout (`CARGO_MANIFEST_DIR/../../../shared`); a developer machine
/// may have it higher up. `PSIONIC_SHARED` overrides both. Panics with a
/// clear message when it is absent: these tests must not pass vacuously.
pub fn conformance_dir() -> PathBuf {
    if let Ok(s) = std::env::var("PSIONIC_SHARED") {
        let p = PathBuf::from(s).join("conformance/mlx");
        assert!(
            p.is_dir(),
            "PSIONIC_SHARED is set but {} is not a folder",
            p.display()
        );
        return p;
    }
    let m = manifest_dir();
    let direct = m.join("../../../shared/conformance/mlx");
    if direct.is_dir() {
        return direct;
    }
    m.ancestors()
        .map(|a| a.join("shared/conformance/mlx"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the MLX conformance cases are missing: expected `shared/conformance/mlx` beside the \
                 checkout ({}), or set PSIONIC_SHARED to the `shared` folder",
                direct.display()
            )
        })
}

/// Our own MLX-generated cases (tools/mlx/gen_cases.py).
pub fn extra_cases_dir() -> PathBuf {
    manifest_dir().join("tests/mlx_cases")
}

fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("fn.mlxfn").is_file())
        .collect();
    v.sort();
    v
}

/// Every case: the shared ones, then ours.
pub fn all_case_dirs() -> Vec<PathBuf> {
    let shared = case_dirs(&conformance_dir());
    assert!(
        shared.len() >= 50,
        "only {} shared cases found",
        shared.len()
    );
    let mut v = shared;
    v.extend(case_dirs(&extra_cases_dir()));
    v
}

pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub json: serde_json::Value,
    pub tensors: HashMap<String, Literal>,
    pub rtol: f64,
    pub atol: f64,
}

impl Case {
    pub fn load(dir: &Path) -> Case {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let tensors = load_safetensors(&dir.join("data.safetensors"));
        let rtol = json["rtol"].as_f64().unwrap_or(0.0);
        let atol = json["atol"].as_f64().unwrap_or(0.0);
        Case {
            name,
            dir: dir.to_path_buf(),
            json,
            tensors,
            rtol,
            atol,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("fn.mlxfn")).unwrap()
    }

    /// The data-set prefixes: `""` and any variants' (`shape1.`).
    pub fn prefixes(&self) -> Vec<String> {
        let mut v = vec![String::new()];
        if let Some(vs) = self.json["variants"].as_array() {
            for x in vs {
                v.push(x["prefix"].as_str().unwrap_or("").to_string());
            }
        }
        v
    }

    pub fn primitives(&self) -> Vec<String> {
        self.json["primitives"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn load_safetensors(path: &Path) -> HashMap<String, Literal> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        use safetensors::Dtype as S;
        let dtype = match view.dtype() {
            S::BOOL => DType::Bool,
            S::U8 => DType::U8,
            S::U16 => DType::U16,
            S::U32 => DType::U32,
            S::U64 => DType::U64,
            S::I8 => DType::I8,
            S::I16 => DType::I16,
            S::I32 => DType::I32,
            S::I64 => DType::I64,
            S::F16 => DType::F16,
            S::BF16 => DType::BF16,
            S::F32 => DType::F32,
            S::F64 => DType::F64,
            other => panic!("{name}: dtype {other:?}"),
        };
        let lit = Literal::from_bytes(dtype, view.shape().to_vec(), view.data().to_vec())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(name, lit);
    }
    out
}

/// `|a - b| <= atol + rtol * |b|` elementwise (NaN matches NaN); shapes and
/// dtypes equal.
pub fn compare(
    what: &str,
    got: &Literal,
    want: &Literal,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!("{what}: got {}, expected {}", got.ty(), want.ty()));
    }
    let (g, w) = if got.dtype() == DType::C64 {
        let re = |l: &Literal| -> Vec<f64> {
            l.bytes()
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        };
        (re(got), re(want))
    } else {
        (got.to_f64_vec(), want.to_f64_vec())
    };
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= atol + rtol * b.abs();
        if !ok {
            return Err(format!(
                "{what}: element {i} is {a}, expected {b} (rtol {rtol}, atol {atol})"
            ));
        }
    }
    Ok(())
}

/// Runs `m` on the data set `prefix` of `case` (trace chosen by input
/// types, as MLX dispatches) and compares every output.
pub fn run_and_compare(m: &Module, case: &Case, prefix: &str) -> Result<(), String> {
    // "in.K" of the first data set, "shape1.in.K" of the second.
    let given: Vec<(String, TensorType)> = case
        .tensors
        .iter()
        .filter_map(|(n, l)| {
            Some((
                n.strip_prefix(prefix)?.strip_prefix("in.")?.to_string(),
                l.ty(),
            ))
        })
        .collect();
    let (f, keys) = mlxfn::select_trace(m, "main", &given)?;
    let args: Vec<Literal> = keys
        .iter()
        .map(|k| case.tensors[&format!("{prefix}in.{k}")].clone())
        .collect();
    let outs =
        psionic_runtime::interp::run_func(f, &args).map_err(|e| format!("{prefix}run: {e}"))?;
    let mut j = 0;
    while let Some(want) = case.tensors.get(&format!("{prefix}out.{j}")) {
        let got = outs
            .get(j)
            .ok_or_else(|| format!("{prefix}: {} outputs, expected more", outs.len()))?;
        compare(&format!("{prefix}out.{j}"), got, want, case.rtol, case.atol)?;
        j += 1;
    }
    if outs.len() != j {
        return Err(format!("{prefix}: {} outputs, expected {j}", outs.len()));
    }
    Ok(())
}

/// The outcome of one case: import, run on every data set, write and
/// re-import, run again. `Err` names the first failing step.
pub fn check_case(case: &Case) -> Result<(), String> {
    let m = mlxfn::read(&case.bytes()).map_err(|e| format!("import: {e}"))?;
    for p in case.prefixes() {
        run_and_compare(&m, case, &p).map_err(|e| format!("run: {e}"))?;
    }
    let written = mlxfn::write(&m).map_err(|e| format!("export: {e}"))?;
    let m2 = mlxfn::read(&written).map_err(|e| format!("re-import of our file: {e}"))?;
    for p in case.prefixes() {
        run_and_compare(&m2, case, &p).map_err(|e| format!("run after round trip: {e}"))?;
    }
    Ok(())
}

/// True when this build maps every primitive the case's file holds.
pub fn case_supported(case: &Case) -> bool {
    let names: Vec<String> = match mlxfn::format::parse(&case.bytes()) {
        Ok(raw) => raw
            .funcs
            .iter()
            .flat_map(|f| f.tape.iter())
            .filter_map(|e| match &e.kind {
                mlxfn::format::EntryKind::Op(op) => Some(op.name.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => return true,
    };
    names.iter().all(|n| mlxfn::map::can_import(n))
}

fn widened(d: DType) -> DType {
    match d {
        DType::F16 | DType::BF16 | DType::F32 => DType::F64,
        d => d,
    }
}

/// `f` with every real float type (f16, bf16, f32) made f64: value types,
/// dtype attributes (casts, `full`, `arange` ...) and float constants. The
/// ops and their order are unchanged, so it computes the same function with
/// float64 rounding: the reference for finite differences of an imported
/// MLX function. (Complex values stay c64, there being no c128.)
pub fn widen_f64(f: &psionic_ir::Func) -> psionic_ir::Func {
    use psionic_ir::{Attr, Attrs, Opcode, Value};
    let mut g = f.clone();
    for t in &mut g.value_types {
        t.dtype = widened(t.dtype);
    }
    let mut ops = Vec::with_capacity(g.ops.len());
    for mut op in std::mem::take(&mut g.ops) {
        let mut attrs = Attrs::new();
        for (name, a) in op.attrs.iter() {
            let a = match a {
                Attr::DType(d) => Attr::DType(widened(*d)),
                Attr::Dense(l) if widened(l.dtype()) != l.dtype() => Attr::Dense(
                    Literal::from_f64(DType::F64, l.shape().to_vec(), &l.to_f64_vec()).unwrap(),
                ),
                a => a.clone(),
            };
            attrs.set(name, a);
        }
        op.attrs = attrs;
        // An op from c64 to a real float (`real`, `imag`, an inverse real
        // FFT) still gives f32: a cast to f64 follows it.
        let operand_types: Vec<&TensorType> = op
            .operands
            .iter()
            .map(|v| &g.value_types[v.index()])
            .collect();
        let inferred = psionic_ir::ops::infer_types(op.opcode, &operand_types, &op.attrs)
            .unwrap_or_else(|e| panic!("widening {}: {e}", f.name));
        let mut casts = Vec::new();
        for (r, t) in op.results.iter_mut().zip(inferred) {
            let wide = *r;
            if t.dtype != g.value_types[wide.index()].dtype {
                let narrow = Value(g.value_types.len() as u32);
                g.value_types.push(t);
                *r = narrow;
                casts.push(psionic_ir::Op {
                    opcode: Opcode::Cast,
                    operands: vec![narrow],
                    attrs: Attrs::new().with("dtype", Attr::DType(DType::F64)),
                    results: vec![wide],
                    loc: op.loc,
                });
            }
        }
        ops.push(op);
        ops.extend(casts);
    }
    g.ops = ops;
    psionic_ir::verify::verify_func(&g)
        .unwrap_or_else(|e| panic!("widening {} to f64: {e}", f.name));
    g
}

/// `l` as f64 when it is a real float (f16, bf16, f32); unchanged otherwise.
pub fn widen_literal(l: &Literal) -> Literal {
    if widened(l.dtype()) != l.dtype() {
        Literal::from_f64(DType::F64, l.shape().to_vec(), &l.to_f64_vec()).unwrap()
    } else {
        l.clone()
    }
}

/// Central differences of `f` at `x` along `dir` (one direction per input;
/// `None`: held fixed), step `h`: one vector per output.
pub fn central_differences(
    f: &psionic_ir::Func,
    x: &[Literal],
    dir: &[Option<Vec<f64>>],
    h: f64,
) -> Vec<Vec<f64>> {
    let shifted = |s: f64| -> Vec<Literal> {
        x.iter()
            .zip(dir)
            .map(|(xi, d)| match d {
                None => xi.clone(),
                Some(d) => {
                    let v: Vec<f64> = xi
                        .to_f64_vec()
                        .iter()
                        .zip(d)
                        .map(|(a, d)| a + s * d)
                        .collect();
                    Literal::from_f64(xi.dtype(), xi.shape().to_vec(), &v).unwrap()
                }
            })
            .collect()
    };
    let run = |xs: &[Literal]| {
        psionic_runtime::interp::run_func(f, xs).unwrap_or_else(|e| panic!("{}: {e}", f.name))
    };
    let p = run(&shifted(h));
    let m = run(&shifted(-h));
    p.iter()
        .zip(&m)
        .map(|(p, m)| {
            p.to_f64_vec()
                .iter()
                .zip(m.to_f64_vec())
                .map(|(a, b)| (a - b) / (2.0 * h))
                .collect()
        })
        .collect()
}
