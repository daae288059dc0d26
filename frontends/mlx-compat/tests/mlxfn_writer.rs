//! The writer on functions built here (not imported): ops MLX expresses
//! differently are lowered (full, iota, reductions without keepdims, flip,
//! isnan/isinf/isfinite, reciprocal, bitwise_invert, logsumexp over several
//! axes, softmax over a leading axis, ...). Each function is written, read
//! back and run against the original through the interpreter, and the
//! written files are run in real MLX (see `mlxfn_mlx_roundtrip.rs` for the
//! policy when MLX is missing).

mod mlxfn_support;

use mlxfn_support::*;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Module, Opcode as O, TensorType, Value, DYN};
use psionic_mlx::mlxfn;
use std::collections::HashMap;
use std::process::Command;

fn t(d: DType, s: &[i64]) -> TensorType {
    TensorType::new(d, s.to_vec())
}
fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}
fn p1(f: &mut Func, op: O, xs: &[Value], a: Attrs) -> Value {
    f.push1(op, xs, a).unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// Deterministic data with a few special values.
fn data(ty: &TensorType, seed: u64, specials: bool) -> Literal {
    let shape: Vec<usize> = ty.shape.iter().map(|&d| d as usize).collect();
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let vals: Vec<f64> = (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 11) as f64) / ((1u64 << 53) as f64);
            if specials && i % 5 == 1 {
                [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][i % 3]
            } else if ty.dtype.is_inexact() {
                u * 4.0 - 2.0
            } else if ty.dtype.is_bool() {
                f64::from(u8::from(u > 0.5))
            } else {
                (u * 40.0 - 20.0).round()
            }
        })
        .collect();
    Literal::from_f64(ty.dtype, shape, &vals).unwrap()
}

struct Built {
    name: &'static str,
    module: Module,
    specials: bool,
}

fn one(name: &'static str, f: Func) -> Built {
    Built {
        name,
        module: Module::new(vec![f]),
        specials: false,
    }
}

fn programs() -> Vec<Built> {
    let mut v = Vec::new();
    let f32 = DType::F32;

    // full, iota, arange
    let mut f = Func::new("main", vec![t(f32, &[2, 3])]);
    let x = f.params[0];
    let full = p1(
        &mut f,
        O::Full,
        &[],
        Attrs::new()
            .with("value", Attr::Float(0.5))
            .with("shape", ints(&[2, 3]))
            .with("dtype", Attr::DType(f32)),
    );
    let io = p1(
        &mut f,
        O::Iota,
        &[],
        Attrs::new()
            .with("shape", ints(&[2, 3]))
            .with("dtype", Attr::DType(DType::I32))
            .with("axis", Attr::Int(1)),
    );
    let ioc = p1(
        &mut f,
        O::Cast,
        &[io],
        Attrs::new().with("dtype", Attr::DType(f32)),
    );
    let a = p1(&mut f, O::Add, &[x, full], Attrs::new());
    let b = p1(&mut f, O::Multiply, &[a, ioc], Attrs::new());
    let ar = p1(
        &mut f,
        O::Arange,
        &[],
        Attrs::new()
            .with("start", Attr::Float(1.0))
            .with("stop", Attr::Float(4.0))
            .with("step", Attr::Float(1.0))
            .with("dtype", Attr::DType(f32)),
    );
    f.results = vec![b, ar, io];
    v.push(one("w_full_iota_arange", f));

    // reductions and arg-reductions without keepdims
    let mut f = Func::new("main", vec![t(f32, &[2, 3, 4])]);
    let x = f.params[0];
    let s = p1(
        &mut f,
        O::ReduceSum,
        &[x],
        Attrs::new().with("axes", ints(&[0, 2])),
    );
    let m = p1(
        &mut f,
        O::ReduceMax,
        &[x],
        Attrs::new().with("axes", ints(&[1])),
    );
    let am = p1(
        &mut f,
        O::Argmin,
        &[x],
        Attrs::new().with("axis", Attr::Int(1)),
    );
    let z = p1(
        &mut f,
        O::Full,
        &[],
        Attrs::new()
            .with("value", Attr::Float(0.0))
            .with("shape", ints(&[2, 3, 4]))
            .with("dtype", Attr::DType(f32)),
    );
    let pos = p1(&mut f, O::Greater, &[x, z], Attrs::new());
    let any = p1(
        &mut f,
        O::ReduceAny,
        &[pos],
        Attrs::new().with("axes", ints(&[0])),
    );
    let lse = p1(
        &mut f,
        O::LogSumExp,
        &[x],
        Attrs::new().with("axes", ints(&[0, 2])),
    );
    let sm = p1(
        &mut f,
        O::Softmax,
        &[x],
        Attrs::new().with("axes", ints(&[0])),
    );
    f.results = vec![s, m, am, any, lse, sm];
    v.push(one("w_reductions", f));

    // flip, reciprocal, rsqrt, logs, floor_divide, cumulative logaddexp
    let mut f = Func::new("main", vec![t(f32, &[3, 4])]);
    let x = f.params[0];
    let fl = p1(
        &mut f,
        O::Flip,
        &[x],
        Attrs::new().with("axes", ints(&[0, 1])),
    );
    let ab = p1(&mut f, O::Abs, &[x], Attrs::new());
    let r = p1(&mut f, O::Reciprocal, &[ab], Attrs::new());
    let rs = p1(&mut f, O::Rsqrt, &[ab], Attrs::new());
    let l2 = p1(&mut f, O::Log2, &[ab], Attrs::new());
    let l10 = p1(&mut f, O::Log10, &[ab], Attrs::new());
    let fd = p1(&mut f, O::FloorDivide, &[x, fl], Attrs::new());
    let cl = p1(
        &mut f,
        O::CumLogAddExp,
        &[x],
        Attrs::new().with("axis", Attr::Int(1)),
    );
    let ex = p1(
        &mut f,
        O::Cumsum,
        &[x],
        Attrs::new()
            .with("axis", Attr::Int(0))
            .with("reverse", Attr::Bool(true))
            .with("inclusive", Attr::Bool(false)),
    );
    f.results = vec![fl, r, rs, l2, l10, fd, cl, ex];
    v.push(one("w_elementwise_lowerings", f));

    // isnan / isinf / isfinite on data with NaN and infinities
    let mut f = Func::new("main", vec![t(f32, &[10])]);
    let x = f.params[0];
    let n = p1(&mut f, O::IsNan, &[x], Attrs::new());
    let i = p1(&mut f, O::IsInf, &[x], Attrs::new());
    let fi = p1(&mut f, O::IsFinite, &[x], Attrs::new());
    let eq = p1(
        &mut f,
        O::Equal,
        &[x, x],
        Attrs::new().with("equal_nan", Attr::Bool(true)),
    );
    f.results = vec![n, i, fi, eq];
    v.push(Built {
        name: "w_float_classes",
        module: Module::new(vec![f]),
        specials: true,
    });

    // bitwise_invert on integers and bool; shifts
    let mut f = Func::new("main", vec![t(DType::I32, &[2, 3]), t(DType::Bool, &[4])]);
    let (x, m) = (f.params[0], f.params[1]);
    let ix = p1(&mut f, O::BitwiseInvert, &[x], Attrs::new());
    let im = p1(&mut f, O::BitwiseInvert, &[m], Attrs::new());
    let ax = p1(&mut f, O::Abs, &[x], Attrs::new());
    let sh = p1(&mut f, O::RightShift, &[x, ax], Attrs::new());
    f.results = vec![ix, im, sh];
    v.push(one("w_bitwise", f));

    // keyword inputs listed out of order: written sorted, dispatched by name
    let mut f = Func::new("main", vec![t(f32, &[2, 3]), t(f32, &[3]), t(f32, &[])]);
    let (x, zb, ya) = (f.params[0], f.params[1], f.params[2]);
    let b = p1(
        &mut f,
        O::Broadcast,
        &[zb],
        Attrs::new().with("shape", ints(&[2, 3])),
    );
    let a = p1(
        &mut f,
        O::Broadcast,
        &[ya],
        Attrs::new().with("shape", ints(&[2, 3])),
    );
    let s = p1(&mut f, O::Multiply, &[x, b], Attrs::new());
    let r = p1(&mut f, O::Subtract, &[s, a], Attrs::new());
    f.results = vec![r];
    mlxfn::set_kwarg_names(&mut f, &["zb".into(), "ya".into()]).unwrap();
    v.push(one("w_kwargs_unsorted", f));

    // shapeless: symbolic batch
    let mut f = Func::new("main", vec![t(f32, &[DYN, DYN]), t(f32, &[DYN])]);
    let (x, y) = (f.params[0], f.params[1]);
    let yb = p1(&mut f, O::BroadcastLike, &[y, x], Attrs::new());
    let e = p1(&mut f, O::Exp, &[x], Attrs::new());
    let s = p1(&mut f, O::Multiply, &[e, yb], Attrs::new());
    f.results = vec![s];
    let mut m = Module::new(vec![f]);
    m.set_attr("shapeless", Attr::Bool(true));
    v.push(Built {
        name: "w_shapeless",
        module: m,
        specials: false,
    });
    v
}

/// Concrete input types for a function (symbolic dims become 3).
fn concrete(f: &Func) -> Vec<TensorType> {
    f.param_types()
        .into_iter()
        .map(|t| {
            t.with_shape(
                t.shape
                    .iter()
                    .map(|&d| if d == DYN { 3 } else { d })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn written_functions_read_back_and_compute_the_same() {
    for b in programs() {
        let f = &b.module.funcs[0];
        let args: Vec<Literal> = concrete(f)
            .iter()
            .enumerate()
            .map(|(i, t)| data(t, i as u64, b.specials))
            .collect();
        let want = psionic_runtime::interp::run_func(f, &args)
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        let bytes = mlxfn::write(&b.module).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        let back = mlxfn::read(&bytes).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        let g = &back.funcs[0];
        // Keyword inputs come back sorted by name: feed them by key.
        let keys = mlxfn::input_keys(f).unwrap();
        let by_key: HashMap<&str, &Literal> = keys.iter().map(|k| k.as_str()).zip(&args).collect();
        let args2: Vec<Literal> = mlxfn::input_keys(g)
            .unwrap()
            .iter()
            .map(|k| by_key[k.as_str()].clone())
            .collect();
        let got = psionic_runtime::interp::run_func(g, &args2)
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        assert_eq!(got.len(), want.len(), "{}", b.name);
        for (j, (x, y)) in got.iter().zip(&want).enumerate() {
            compare(&format!("{} out.{j}", b.name), x, y, 1e-6, 1e-6).unwrap();
        }
    }
}

#[test]
fn kwargs_are_written_sorted_and_shapeless_flag_is_kept() {
    let progs = programs();
    let kw = progs
        .iter()
        .find(|b| b.name == "w_kwargs_unsorted")
        .unwrap();
    let raw = mlxfn::format::parse(&mlxfn::write(&kw.module).unwrap()).unwrap();
    assert_eq!(raw.funcs[0].kwargs, ["ya", "zb"]);
    assert_eq!(raw.version, "0.32.4");
    let sl = progs.iter().find(|b| b.name == "w_shapeless").unwrap();
    let raw = mlxfn::format::parse(&mlxfn::write(&sl.module).unwrap()).unwrap();
    assert!(raw.shapeless);
}

#[test]
fn refusals_name_the_op() {
    // Symbolic dims without the shapeless flag.
    let mut f = Func::new("main", vec![t(DType::F32, &[DYN])]);
    let x = f.params[0];
    let e = p1(&mut f, O::Exp, &[x], Attrs::new());
    f.results = vec![e];
    let err = mlxfn::write(&Module::new(vec![f])).unwrap_err().to_string();
    assert!(
        err.contains("symbolic") && err.contains("shapeless"),
        "{err}"
    );
    // Softmax over two axes has no MLX primitive.
    let mut f = Func::new("main", vec![t(DType::F32, &[2, 3])]);
    let x = f.params[0];
    let s = p1(
        &mut f,
        O::Softmax,
        &[x],
        Attrs::new().with("axes", ints(&[0, 1])),
    );
    f.results = vec![s];
    let err = mlxfn::write(&Module::new(vec![f])).unwrap_err().to_string();
    assert!(err.contains("tensor.softmax"), "{err}");
}

#[test]
fn one_file_holds_one_function() {
    let mut a = programs().remove(0).module;
    let mut g = a.funcs[0].clone();
    g.name = "other".into();
    a.funcs.push(g);
    let err = mlxfn::write(&a).unwrap_err().to_string();
    assert!(err.contains("@main and @other"), "{err}");
}

#[test]
fn export_file_is_atomic() {
    let dir = std::env::temp_dir().join(format!("psionic-mlxfn-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.mlxfn");
    std::fs::write(&path, b"old").unwrap();
    let mut f = Func::new("main", vec![t(DType::F32, &[DYN])]);
    let x = f.params[0];
    let e = p1(&mut f, O::Exp, &[x], Attrs::new());
    f.results = vec![e];
    assert!(mlxfn::export_file(&path, &Module::new(vec![f])).is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"old",
        "a failed export leaves the old file"
    );
    let good = &programs()[0].module;
    mlxfn::export_file(&path, good).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), mlxfn::write(good).unwrap());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn st_dtype(d: DType) -> safetensors::Dtype {
    use safetensors::Dtype as S;
    match d {
        DType::Bool => S::BOOL,
        DType::U8 => S::U8,
        DType::U32 => S::U32,
        DType::I32 => S::I32,
        DType::F16 => S::F16,
        DType::BF16 => S::BF16,
        DType::F32 => S::F32,
        other => panic!("no test data of {other}"),
    }
}

#[test]
fn written_functions_run_in_mlx() {
    let mlx_ok = Command::new("python3")
        .args(["-c", "import mlx.core"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !mlx_ok {
        if std::env::var("PSIONIC_SKIP_MLX").as_deref() == Ok("1") {
            eprintln!("SKIPPED (PSIONIC_SKIP_MLX=1): MLX is not importable");
            return;
        }
        panic!("MLX is not importable from python3: `pip install \"mlx[cpu]\"` (or PSIONIC_SKIP_MLX=1 to skip knowingly)");
    }
    let root = std::env::temp_dir().join(format!("psionic-mlxfn-w-{}", std::process::id()));
    let files = root.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut dirs = Vec::new();
    for b in programs() {
        let f = &b.module.funcs[0];
        let args: Vec<Literal> = concrete(f)
            .iter()
            .enumerate()
            .map(|(i, t)| data(t, i as u64, b.specials))
            .collect();
        let outs = psionic_runtime::interp::run_func(f, &args).unwrap();
        let keys = mlxfn::input_keys(f).unwrap();
        let mut tensors: Vec<(String, Literal)> = keys
            .iter()
            .zip(&args)
            .map(|(k, a)| (format!("in.{k}"), a.clone()))
            .collect();
        tensors.extend(
            outs.iter()
                .enumerate()
                .map(|(j, o)| (format!("out.{j}"), o.clone())),
        );
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(n, l)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(
                        st_dtype(l.dtype()),
                        l.shape().to_vec(),
                        l.bytes(),
                    )
                    .unwrap(),
                )
            })
            .collect();
        let dir = root.join(b.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("data.safetensors"),
            safetensors::serialize(views, &None).unwrap(),
        )
        .unwrap();
        let kw = mlxfn::kwarg_names(f).unwrap();
        let npos = keys.len() - kw.len();
        let case = serde_json::json!({
            "name": b.name,
            "inputs": (0..npos).map(|i| args[i].shape().to_vec()).collect::<Vec<_>>(),
            "kwargs": kw.iter().map(|k| (k.clone(), serde_json::json!([]))).collect::<serde_json::Map<_, _>>(),
            "rtol": 1e-5, "atol": 1e-6,
        });
        std::fs::write(dir.join("case.json"), case.to_string()).unwrap();
        mlxfn::export_file(files.join(format!("{}.mlxfn", b.name)), &b.module).unwrap();
        dirs.push(dir);
    }
    let script = manifest_dir().join("../../tools/mlx/check_roundtrip.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&files)
        .args(&dirs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        o.status.success() && stdout.lines().filter(|l| l.starts_with("ok ")).count() == dirs.len(),
        "MLX disagrees with our interpreter on files we wrote:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
