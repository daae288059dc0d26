//! Tests of the classic passes on functions built with `Func::push`.

use psionic_ir::ops::infer_types;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use psionic_passes::{PassContext, PassManager};

fn f32t(shape: &[i64]) -> TensorType {
    TensorType::new(DType::F32, shape.to_vec())
}

fn constant(f: &mut Func, l: Literal) -> Value {
    f.push1(
        Opcode::Constant,
        &[],
        Attrs::new().with("value", Attr::Dense(l)),
    )
    .unwrap()
}

fn full(f: &mut Func, v: f64, shape: &[i64], d: DType) -> Value {
    f.push1(
        Opcode::Full,
        &[],
        Attrs::new()
            .with("value", Attr::Float(v))
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("dtype", Attr::DType(d)),
    )
    .unwrap()
}

/// Independent well-formedness check: every operand defined before use,
/// every op's types re-inferred equal, results defined.
fn check(f: &Func) {
    let mut defined = vec![false; f.value_types.len()];
    for &p in &f.params {
        defined[p.index()] = true;
    }
    for op in &f.ops {
        for o in &op.operands {
            assert!(
                defined[o.index()],
                "{} uses %{} before definition",
                op.opcode,
                o.0
            );
        }
        let tys: Vec<&TensorType> = op.operands.iter().map(|&v| f.ty(v)).collect();
        let out = infer_types(op.opcode, &tys, &op.attrs).unwrap();
        let have: Vec<TensorType> = op.results.iter().map(|&r| f.ty(r).clone()).collect();
        assert_eq!(out, have, "{}", op.opcode);
        for r in &op.results {
            assert!(!defined[r.index()], "%{} defined twice", r.0);
            defined[r.index()] = true;
        }
    }
    for r in &f.results {
        assert!(defined[r.index()]);
    }
    psionic_ir::verify::verify_func(f).unwrap();
}

fn run(f: &mut Func, pipeline: &str, ctx: &PassContext) -> Vec<psionic_passes::PassReport> {
    let pm = PassManager::from_pipeline(pipeline).unwrap();
    let mut m = psionic_ir::Module::new(vec![f.clone()]);
    let reports = pm.run(&mut m, ctx, &mut std::io::sink()).unwrap();
    *f = m.funcs.pop().unwrap();
    check(f);
    reports
}

fn opcodes(f: &Func) -> Vec<&'static str> {
    f.ops.iter().map(|o| o.opcode.name()).collect()
}

/// A tiny folder for tests: elementwise add/multiply/negative in f64.
fn test_folder(op: Opcode, attrs: &Attrs, args: &[&Literal]) -> Result<Vec<Literal>, String> {
    if op == Opcode::Full {
        let shape: Vec<usize> = attrs.ints("shape")?.iter().map(|&d| d as usize).collect();
        let n = shape.iter().product();
        let l = Literal::from_f64(
            attrs.dtype("dtype")?,
            shape,
            &vec![attrs.float("value")?; n],
        );
        return Ok(vec![l.map_err(|e| e.0)?]);
    }
    let a = args[0];
    let v: Vec<f64> = match op {
        Opcode::Add => a
            .to_f64_vec()
            .iter()
            .zip(args[1].to_f64_vec())
            .map(|(x, y)| x + y)
            .collect(),
        Opcode::Multiply => a
            .to_f64_vec()
            .iter()
            .zip(args[1].to_f64_vec())
            .map(|(x, y)| x * y)
            .collect(),
        Opcode::Negative => a.to_f64_vec().iter().map(|x| -x).collect(),
        _ => return Err(format!("test folder does not do {op}")),
    };
    Ok(vec![
        Literal::from_f64(a.dtype(), a.shape().to_vec(), &v).map_err(|e| e.0)?
    ])
}

#[test]
fn dce_removes_unused_and_keeps_results() {
    let mut f = Func::new("f", vec![f32t(&[3]), f32t(&[3])]);
    let (a, b) = (f.params[0], f.params[1]);
    let s = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
    let _dead = f.push1(Opcode::Multiply, &[s, b], Attrs::new()).unwrap();
    let _dead2 = f.push1(Opcode::Exp, &[a], Attrs::new()).unwrap();
    f.results = vec![s, a];
    let r = run(&mut f, "dce", &PassContext::default());
    assert_eq!(opcodes(&f), ["tensor.add"]);
    assert_eq!(r[0].ops_before, 3);
    assert_eq!(r[0].ops_after, 1);
    assert_eq!(r[0].stats.get("ops removed"), 2);
    assert_eq!(f.results.len(), 2);
    assert_eq!(f.results[1], f.params[0]);
    assert_eq!(f.value_types.len(), 3, "dead values are dropped");
}

#[test]
fn cse_merges_equal_ops_and_commuted_operands() {
    let mut f = Func::new("f", vec![f32t(&[3]), f32t(&[3])]);
    let (a, b) = (f.params[0], f.params[1]);
    let s1 = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
    let s2 = f.push1(Opcode::Add, &[b, a], Attrs::new()).unwrap();
    let d1 = f.push1(Opcode::Subtract, &[a, b], Attrs::new()).unwrap();
    let d2 = f.push1(Opcode::Subtract, &[b, a], Attrs::new()).unwrap();
    let m = f.push1(Opcode::Multiply, &[s1, s2], Attrs::new()).unwrap();
    f.results = vec![m, d1, d2];
    let r = run(&mut f, "cse", &PassContext::default());
    assert_eq!(r[0].stats.get("ops merged"), 1);
    assert_eq!(
        opcodes(&f),
        [
            "tensor.add",
            "tensor.subtract",
            "tensor.subtract",
            "tensor.multiply"
        ]
    );
    let mul = &f.ops[3];
    assert_eq!(mul.operands[0], mul.operands[1]);
}

#[test]
fn cse_merges_constants_only_when_equal() {
    let mut f = Func::new("f", vec![]);
    let c1 = constant(&mut f, Literal::f32s(vec![2], &[1.0, 2.0]).unwrap());
    let c2 = constant(&mut f, Literal::f32s(vec![2], &[1.0, 2.0]).unwrap());
    let c3 = constant(&mut f, Literal::f32s(vec![2], &[1.0, 3.0]).unwrap());
    let f1 = full(&mut f, 1.0, &[2], DType::F32);
    let f2 = full(&mut f, 2.0, &[2], DType::F32);
    let f3 = full(&mut f, 2.0, &[2], DType::F32);
    f.results = vec![c1, c2, c3, f1, f2, f3];
    run(&mut f, "cse", &PassContext::default());
    assert_eq!(f.ops.len(), 4);
    assert_eq!(f.results[0], f.results[1]);
    assert_ne!(f.results[0], f.results[2]);
    assert_ne!(f.results[3], f.results[4]);
    assert_eq!(f.results[4], f.results[5]);
}

#[test]
fn canonicalize_removes_exact_identities_only() {
    let mut f = Func::new("f", vec![f32t(&[2]), TensorType::new(DType::I32, vec![2])]);
    let (x, i) = (f.params[0], f.params[1]);
    let pz = full(&mut f, 0.0, &[2], DType::F32);
    let nz = full(&mut f, -0.0, &[2], DType::F32);
    let one = full(&mut f, 1.0, &[2], DType::F32);
    let iz = full(&mut f, 0.0, &[2], DType::I32);
    let a1 = f.push1(Opcode::Add, &[x, pz], Attrs::new()).unwrap(); // kept: -0 + 0 = +0
    let a2 = f.push1(Opcode::Add, &[nz, x], Attrs::new()).unwrap(); // x
    let a3 = f.push1(Opcode::Add, &[i, iz], Attrs::new()).unwrap(); // i
    let s1 = f.push1(Opcode::Subtract, &[x, pz], Attrs::new()).unwrap(); // x
    let m1 = f.push1(Opcode::Multiply, &[one, x], Attrs::new()).unwrap(); // x
    let d1 = f.push1(Opcode::Divide, &[x, one], Attrs::new()).unwrap(); // x
    let c = f
        .push1(
            Opcode::Cast,
            &[x],
            Attrs::new().with("dtype", Attr::DType(DType::F32)),
        )
        .unwrap();
    let cp = f.push1(Opcode::Copy, &[c], Attrs::new()).unwrap();
    f.results = vec![a1, a2, a3, s1, m1, d1, cp];
    run(&mut f, "canonicalize", &PassContext::default());
    assert_eq!(opcodes(&f), ["tensor.full", "tensor.add"]);
    assert_eq!(&f.results[1..], &[x, i, x, x, x, x]);
}

#[test]
fn canonicalize_folds_layout_chains() {
    let mut f = Func::new("f", vec![f32t(&[2, 3, 4])]);
    let x = f.params[0];
    let perm = |p: &[i64]| Attrs::new().with("perm", Attr::Ints(p.to_vec()));
    let shape = |s: &[i64]| Attrs::new().with("shape", Attr::Ints(s.to_vec()));
    let t1 = f.push1(Opcode::Transpose, &[x], perm(&[1, 2, 0])).unwrap();
    let t2 = f.push1(Opcode::Transpose, &[t1], perm(&[2, 0, 1])).unwrap(); // identity
    let t3 = f.push1(Opcode::Transpose, &[t1], perm(&[1, 0, 2])).unwrap(); // composed
    let r1 = f.push1(Opcode::Reshape, &[x], shape(&[6, 4])).unwrap();
    let r2 = f.push1(Opcode::Reshape, &[r1], shape(&[24])).unwrap(); // reshape(x)
    let r3 = f.push1(Opcode::Reshape, &[r1], shape(&[2, 3, 4])).unwrap(); // x
    let e = f
        .push1(
            Opcode::ExpandDims,
            &[x],
            Attrs::new().with("axes", Attr::Ints(vec![0])),
        )
        .unwrap();
    let s = f
        .push1(
            Opcode::Squeeze,
            &[e],
            Attrs::new().with("axes", Attr::Ints(vec![0])),
        )
        .unwrap(); // x
    let n1 = f.push1(Opcode::Negative, &[x], Attrs::new()).unwrap();
    let n2 = f.push1(Opcode::Negative, &[n1], Attrs::new()).unwrap(); // x
    let b1 = f
        .push1(Opcode::Broadcast, &[x], shape(&[5, 2, 3, 4]))
        .unwrap();
    let b2 = f
        .push1(Opcode::Broadcast, &[b1], shape(&[6, 5, 2, 3, 4]))
        .unwrap();
    let b3 = f.push1(Opcode::Broadcast, &[x], shape(&[2, 3, 4])).unwrap(); // x
    f.results = vec![t2, t3, r2, r3, s, n2, b2, b3];
    let r = run(&mut f, "canonicalize", &PassContext::default());
    assert_eq!(f.results[0], x);
    assert_eq!(&f.results[3..6], &[x, x, x]);
    assert_eq!(f.results[7], x);
    assert_eq!(
        opcodes(&f),
        ["tensor.transpose", "tensor.reshape", "tensor.broadcast"]
    );
    assert_eq!(f.ops[0].operands, vec![x]);
    assert_eq!(f.ops[0].attrs.ints("perm").unwrap(), &[2, 1, 0]);
    assert_eq!(f.ops[1].operands, vec![x]);
    assert_eq!(f.ops[2].operands, vec![x]);
    assert!(r[0].stats.get("identities removed") >= 5);
}

#[test]
fn canonicalize_folds_constants_through_the_folder() {
    let mut f = Func::new("f", vec![f32t(&[2])]);
    let x = f.params[0];
    let a = constant(&mut f, Literal::f32s(vec![2], &[1.0, 2.0]).unwrap());
    let b = full(&mut f, 3.0, &[2], DType::F32);
    let s = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
    let n = f.push1(Opcode::Negative, &[s], Attrs::new()).unwrap();
    let y = f.push1(Opcode::Multiply, &[x, n], Attrs::new()).unwrap();
    let big = full(&mut f, 1.0, &[2000], DType::F32);
    let big2 = f.push1(Opcode::Negative, &[big], Attrs::new()).unwrap(); // over the limit
    f.results = vec![y, big2];
    // Without a folder only identities run.
    let mut g = f.clone();
    run(&mut g, "canonicalize", &PassContext::default());
    assert_eq!(g.ops.len(), 7);
    let folder = |o: Opcode, a: &Attrs, l: &[&Literal]| test_folder(o, a, l);
    let ctx = PassContext::with_folder(&folder);
    let r = run(&mut f, "canonicalize", &ctx);
    // add and negative fold (the small `full` materializes as an operand);
    // the 2000-element negative is over the fold limit and stays.
    assert_eq!(r[0].stats.get("ops folded"), 2);
    assert_eq!(
        opcodes(&f),
        [
            "tensor.constant",
            "tensor.multiply",
            "tensor.full",
            "tensor.negative"
        ]
    );
    assert_eq!(
        f.ops[0].attrs.dense("value").unwrap().to_f64_vec(),
        vec![-4.0, -5.0]
    );
}

#[test]
fn canonicalize_folds_constant_chains() {
    let mut f = Func::new("f", vec![f32t(&[2])]);
    let x = f.params[0];
    let a = constant(&mut f, Literal::f32s(vec![2], &[1.0, 2.0]).unwrap());
    let b = constant(&mut f, Literal::f32s(vec![2], &[3.0, 5.0]).unwrap());
    let s = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
    let n = f.push1(Opcode::Negative, &[s], Attrs::new()).unwrap();
    let y = f.push1(Opcode::Multiply, &[x, n], Attrs::new()).unwrap();
    f.results = vec![y];
    let folder = |o: Opcode, a: &Attrs, l: &[&Literal]| test_folder(o, a, l);
    let r = run(&mut f, "canonicalize", &PassContext::with_folder(&folder));
    assert_eq!(opcodes(&f), ["tensor.constant", "tensor.multiply"]);
    assert_eq!(r[0].stats.get("ops folded"), 2);
    let c = f.ops[0].attrs.dense("value").unwrap();
    assert_eq!(c.to_f64_vec(), vec![-4.0, -7.0]);
    // A folder error leaves the op alone.
    let mut g = Func::new("g", vec![]);
    let a = constant(&mut g, Literal::f32s(vec![2], &[1.0, 4.0]).unwrap());
    let s = g.push1(Opcode::Sqrt, &[a], Attrs::new()).unwrap();
    g.results = vec![s];
    run(&mut g, "canonicalize", &PassContext::with_folder(&folder));
    assert_eq!(opcodes(&g), ["tensor.constant", "tensor.sqrt"]);
}

#[test]
fn passes_are_idempotent_on_their_output() {
    let mut f = Func::new("f", vec![f32t(&[2, 3])]);
    let x = f.params[0];
    let e1 = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    let e2 = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    let s = f.push1(Opcode::Add, &[e1, e2], Attrs::new()).unwrap();
    f.results = vec![s];
    run(&mut f, "canonicalize,cse,dce", &PassContext::default());
    let once = f.clone();
    run(&mut f, "canonicalize,cse,dce", &PassContext::default());
    assert_eq!(f, once);
    assert_eq!(opcodes(&f), ["tensor.exp", "tensor.add"]);
}

/// A deliberately broken pass: retypes the first op's result.
struct Breaker;
impl psionic_passes::Pass for Breaker {
    fn name(&self) -> &str {
        "breaker"
    }
    fn run(&self, f: &mut Func, _: &PassContext) -> Result<psionic_passes::PassStats, String> {
        let r = f.ops[0].results[0];
        f.value_types[r.index()] = f32t(&[7]);
        Ok(Default::default())
    }
}

#[test]
fn verify_each_names_the_pass_that_broke_the_ir() {
    let mut f = Func::new("f", vec![f32t(&[3])]);
    let x = f.params[0];
    let e = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    f.results = vec![e];
    let mut pm = PassManager::from_pipeline("cse").unwrap();
    pm.add(Box::new(Breaker));
    pm.options.verify_each = true;
    let mut m = psionic_ir::Module::new(vec![f.clone()]);
    let err = pm
        .run(&mut m, &PassContext::default(), &mut std::io::sink())
        .unwrap_err();
    assert_eq!(err.pass, "breaker");
    assert!(
        err.to_string().contains("left IR the verifier rejects"),
        "{err}"
    );
    // Without verify-each the breakage goes through (and the verify pass catches it).
    pm.options.verify_each = false;
    let mut m = psionic_ir::Module::new(vec![f]);
    pm.run(&mut m, &PassContext::default(), &mut std::io::sink())
        .unwrap();
    let v = PassManager::from_pipeline("verify").unwrap();
    let err = v
        .run(&mut m, &PassContext::default(), &mut std::io::sink())
        .unwrap_err();
    assert_eq!(err.pass, "verify");
    assert_eq!(err.func.as_deref(), Some("f"));
}

#[test]
fn print_after_dumps_only_named_passes() {
    let mut f = Func::new("f", vec![f32t(&[3])]);
    let x = f.params[0];
    let e = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    f.results = vec![e];
    let mut pm = PassManager::from_pipeline("cse,dce,cse").unwrap();
    pm.options.print_after = vec!["cse".into()];
    let mut m = psionic_ir::Module::new(vec![f]);
    let mut out = Vec::new();
    let reports = pm.run(&mut m, &PassContext::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("IR Dump After cse").count(), 2);
    assert!(!text.contains("After dce"));
    assert_eq!(reports.len(), 3);
    assert!(text.contains("tensor.exp"));
}
