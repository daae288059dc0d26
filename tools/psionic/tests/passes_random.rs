//! Randomized check of the classic passes: random programs, optimized by
//! every pass and pipeline, interpret to the same bits as the originals (the
//! reference interpreter is the oracle), verify, never grow, and single
//! passes are idempotent.

use proptest::prelude::*;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Module, Opcode, TensorType, Value};
use psionic_passes::{PassContext, PassManager};
use psionic_runtime::interp::{eval_op, run_func};

/// One step of a random program; indices pick earlier values modulo the
/// number of values so far.
#[derive(Clone, Debug)]
enum Step {
    Unary(u8, usize),
    Binary(u8, usize, usize),
    Full(u8),
    Const(Vec<i8>),
    TransposeTwice(usize, bool),
    ReshapeTwice(usize),
    Reduce(usize),
    Select(usize, usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..8, any::<usize>()).prop_map(|(k, a)| Step::Unary(k, a)),
        (0u8..7, any::<usize>(), any::<usize>()).prop_map(|(k, a, b)| Step::Binary(k, a, b)),
        (0u8..5).prop_map(Step::Full),
        prop::collection::vec(-3i8..4, 6).prop_map(Step::Const),
        (any::<usize>(), any::<bool>()).prop_map(|(a, c)| Step::TransposeTwice(a, c)),
        any::<usize>().prop_map(Step::ReshapeTwice),
        any::<usize>().prop_map(Step::Reduce),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, b, c)| Step::Select(a, b, c)),
    ]
}

const SHAPE: [i64; 2] = [2, 3];

fn build(steps: &[Step], outs: &[usize]) -> Func {
    let t = TensorType::new(DType::F32, SHAPE.to_vec());
    let mut f = Func::new("main", vec![t.clone(), t]);
    let mut vals: Vec<Value> = f.params.clone();
    let shape_attr = |s: &[i64]| Attrs::new().with("shape", Attr::Ints(s.to_vec()));
    for s in steps {
        let pick = |i: usize| vals[i % vals.len()];
        let v = match s {
            Step::Unary(k, a) => {
                let op = [
                    Opcode::Exp,
                    Opcode::Negative,
                    Opcode::Abs,
                    Opcode::Sin,
                    Opcode::Tanh,
                    Opcode::Copy,
                    Opcode::Square,
                    Opcode::Floor,
                ][*k as usize];
                f.push1(op, &[pick(*a)], Attrs::new())
            }
            Step::Binary(k, a, b) => {
                let op = [
                    Opcode::Add,
                    Opcode::Subtract,
                    Opcode::Multiply,
                    Opcode::Divide,
                    Opcode::Maximum,
                    Opcode::Minimum,
                    Opcode::Add,
                ][*k as usize];
                f.push1(op, &[pick(*a), pick(*b)], Attrs::new())
            }
            Step::Full(k) => {
                let value = [0.0, -0.0, 1.0, 2.0, -1.5][*k as usize];
                f.push1(
                    Opcode::Full,
                    &[],
                    Attrs::new()
                        .with("value", Attr::Float(value))
                        .with("shape", Attr::Ints(SHAPE.to_vec()))
                        .with("dtype", Attr::DType(DType::F32)),
                )
            }
            Step::Const(v) => {
                let data: Vec<f64> = v.iter().map(|&x| x as f64 * 0.5).collect();
                let lit = Literal::from_f64(DType::F32, vec![2, 3], &data).unwrap();
                f.push1(
                    Opcode::Constant,
                    &[],
                    Attrs::new().with("value", Attr::Dense(lit)),
                )
            }
            Step::TransposeTwice(a, cancel) => {
                let p = Attrs::new().with("perm", Attr::Ints(vec![1, 0]));
                let x = f.push1(Opcode::Transpose, &[pick(*a)], p.clone()).unwrap();
                let y = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
                let z = if *cancel { x } else { y };
                f.push1(Opcode::Transpose, &[z], p)
            }
            Step::ReshapeTwice(a) if a % 2 == 0 => {
                let axes = Attrs::new().with("axes", Attr::Ints(vec![0]));
                let x = f.push1(Opcode::ExpandDims, &[pick(*a)], axes).unwrap();
                let fl = Attrs::new()
                    .with("start_axis", Attr::Int(1))
                    .with("end_axis", Attr::Int(2));
                let y = f.push1(Opcode::Flatten, &[x], fl).unwrap();
                let un = Attrs::new()
                    .with("axis", Attr::Int(1))
                    .with("shape", Attr::Ints(vec![2, 3]));
                let z = f.push1(Opcode::Unflatten, &[y], un).unwrap();
                let sq = Attrs::new().with("axes", Attr::Ints(vec![0]));
                f.push1(Opcode::Squeeze, &[z], sq)
            }
            Step::ReshapeTwice(a) => {
                let x = f
                    .push1(Opcode::Reshape, &[pick(*a)], shape_attr(&[3, 2]))
                    .unwrap();
                let y = f.push1(Opcode::Reshape, &[x], shape_attr(&[6])).unwrap();
                f.push1(Opcode::Reshape, &[y], shape_attr(&SHAPE))
            }
            Step::Reduce(a) => {
                let r = f
                    .push1(
                        Opcode::ReduceSum,
                        &[pick(*a)],
                        Attrs::new()
                            .with("axes", Attr::Ints(vec![1]))
                            .with("keepdims", Attr::Bool(true)),
                    )
                    .unwrap();
                f.push1(Opcode::Broadcast, &[r], shape_attr(&SHAPE))
            }
            Step::Select(a, b, c) => {
                let cond = f
                    .push1(Opcode::Greater, &[pick(*a), pick(*b)], Attrs::new())
                    .unwrap();
                f.push1(Opcode::Select, &[cond, pick(*b), pick(*c)], Attrs::new())
            }
        };
        vals.push(v.expect("every generated op is well typed"));
    }
    f.results = outs.iter().map(|&i| vals[i % vals.len()]).collect();
    f
}

fn bits(l: &Literal) -> Vec<u64> {
    l.to_f64_vec()
        .iter()
        .map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() })
        .collect()
}

fn fold(op: Opcode, a: &Attrs, l: &[&Literal]) -> Result<Vec<Literal>, String> {
    eval_op(op, a, l)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn passes_preserve_results(
        steps in prop::collection::vec(step(), 1..24),
        outs in prop::collection::vec(any::<usize>(), 1..4),
        x in prop::collection::vec(-4i8..5, 6),
        y in prop::collection::vec(-4i8..5, 6),
    ) {
        let f = build(&steps, &outs);
        let to_lit = |v: &[i8]| {
            let d: Vec<f64> = v.iter().map(|&a| a as f64 * 0.75).collect();
            Literal::from_f64(DType::F32, vec![2, 3], &d).unwrap()
        };
        let inputs = [to_lit(&x), to_lit(&y)];
        let want = run_func(&f, &inputs).unwrap();
        for pipeline in ["dce", "cse", "canonicalize", "canonicalize,cse,dce", "cse,canonicalize{fold=false},cse"] {
            let mut pm = PassManager::from_pipeline(pipeline).unwrap();
            pm.options.verify_each = true;
            let mut m = Module::new(vec![f.clone()]);
            let ctx = PassContext::with_folder(&fold);
            pm.run(&mut m, &ctx, &mut std::io::sink()).unwrap();
            let g = &m.funcs[0];
            psionic_ir::verify::verify_func(g).unwrap();
            prop_assert!(g.ops.len() <= f.ops.len(), "{pipeline} grew the program");
            let got = run_func(g, &inputs).unwrap();
            prop_assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                prop_assert_eq!(a.ty(), b.ty());
                prop_assert_eq!(bits(a), bits(b), "{} changed a result", pipeline);
            }
            // Each single pass reaches its fixed point: a second run changes
            // nothing. (Pipelines need not: cse can expose new identities.)
            if !pipeline.contains(',') {
                let once = m.clone();
                pm.run(&mut m, &ctx, &mut std::io::sink()).unwrap();
                prop_assert_eq!(&m, &once, "{} is not idempotent", pipeline);
            }
        }
    }
}
