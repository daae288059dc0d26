//! One test per rule that it fires, and one that it does not fire where it
//! must not (docs/RULES.md says why each refusal is required). Every
//! rewritten program is also run against the original.

mod fusion_common;
use fusion_common::*;
use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType, Value};
use psionic_passes::egraph::{rules, simplify, EgraphOptions, EgraphStats, RuleFlags};
use psionic_passes::fusion::lower_unfused;

fn opts(set: &str) -> EgraphOptions {
    EgraphOptions {
        rulesets: vec![set.into()],
        ac: false,
        ..Default::default()
    }
}

/// Runs one ruleset; returns the stats and checks the result numerically.
fn go(f: &Func, o: &EgraphOptions) -> (Func, EgraphStats) {
    let (g, st) = simplify(f, o).unwrap();
    if f.param_types().iter().all(|t| t.dtype.is_float()) {
        let (a, b) = (lower_unfused(f).unwrap(), lower_unfused(&g).unwrap());
        for seed in 0..2 {
            let args = random_args(f, seed);
            assert_close(&run(&a, &args), &oracle(f, &args), 1e-5);
            assert_close(&run(&b, &args), &oracle(f, &args), 1e-5);
            assert_close(&oracle(&g, &args), &oracle(f, &args), 1e-5);
        }
    }
    (g, st)
}

fn fires(set: &str, rule: &str, f: &Func) -> bool {
    assert!(
        rules::rule_names(set).iter().any(|r| r == rule),
        "no rule {rule} in {set}"
    );
    go(f, &opts(set)).1.fired(rule) > 0
}

fn unary(dt: DType, op: Opcode, ops: &[Opcode]) -> Func {
    let mut f = Func::new("main", vec![TensorType::new(dt, vec![3, 4])]);
    let mut v = f.params[0];
    for &o in ops.iter().chain([op].iter()) {
        v = f.push1(o, &[v], Attrs::new()).unwrap();
    }
    f.results = vec![v];
    f
}

/// `x OP c` (or `c OP x` when `swap`) with `c` a filled constant.
fn with_const(dt: DType, op: Opcode, c: f64, swap: bool) -> Func {
    let mut f = Func::new("main", vec![TensorType::new(dt, vec![3, 4])]);
    let x = f.params[0];
    let k = f
        .push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(c))
                .with("shape", Attr::Ints(vec![3, 4]))
                .with("dtype", Attr::DType(dt)),
        )
        .unwrap();
    let ops = if swap { [k, x] } else { [x, k] };
    let r = f.push1(op, &ops, Attrs::new()).unwrap();
    f.results = vec![r];
    f
}

fn two(dt: DType, build: impl Fn(&mut Func, Value, Value) -> Value) -> Func {
    let t = TensorType::new(dt, vec![3, 4]);
    let mut f = Func::new("main", vec![t.clone(), t]);
    let (a, b) = (f.params[0], f.params[1]);
    let r = build(&mut f, a, b);
    f.results = vec![r];
    f
}

fn op(f: &mut Func, o: Opcode, xs: &[Value]) -> Value {
    f.push1(o, xs, Attrs::new()).unwrap()
}

const F: DType = DType::F32;
const I: DType = DType::I32;

#[test]
fn identities_fire_on_exact_constants_only() {
    for (rule, o, c, swap) in [
        ("add-zero", Opcode::Add, 0.0, false),
        ("zero-add", Opcode::Add, 0.0, true),
        ("sub-zero", Opcode::Subtract, 0.0, false),
        ("mul-one", Opcode::Multiply, 1.0, false),
        ("one-mul", Opcode::Multiply, 1.0, true),
        ("div-one", Opcode::Divide, 1.0, false),
    ] {
        assert!(
            fires(rules::ALGEBRA, rule, &with_const(F, o, c, swap)),
            "{rule} f32"
        );
        assert!(
            fires(rules::ALGEBRA, rule, &with_const(I, o, c, swap)),
            "{rule} i32"
        );
        assert!(
            !fires(rules::ALGEBRA, rule, &with_const(F, o, 2.0, swap)),
            "{rule} with 2"
        );
    }
}

#[test]
fn mul_zero_fires_for_integers_not_floats() {
    // Floats: NaN * 0 and inf * 0 are NaN, so x * 0 is not 0.
    assert!(fires(
        rules::ALGEBRA,
        "mul-zero-int",
        &with_const(I, Opcode::Multiply, 0.0, false)
    ));
    assert!(!fires(
        rules::ALGEBRA,
        "mul-zero-int",
        &with_const(F, Opcode::Multiply, 0.0, false)
    ));
}

#[test]
fn sub_self_fires_for_integers_not_floats() {
    // Floats: inf - inf is NaN.
    let f = |dt| two(dt, |f, a, _| op(f, Opcode::Subtract, &[a, a]));
    assert!(fires(rules::ALGEBRA, "sub-self-int", &f(I)));
    assert!(!fires(rules::ALGEBRA, "sub-self-int", &f(F)));
}

#[test]
fn neg_neg_and_add_neg() {
    assert!(fires(
        rules::ALGEBRA,
        "neg-neg",
        &unary(F, Opcode::Negative, &[Opcode::Negative])
    ));
    assert!(!fires(
        rules::ALGEBRA,
        "neg-neg",
        &unary(F, Opcode::Negative, &[Opcode::Abs])
    ));
    let g = two(F, |f, a, b| {
        let n = op(f, Opcode::Negative, &[b]);
        op(f, Opcode::Add, &[a, n])
    });
    assert!(fires(rules::ALGEBRA, "add-neg", &g));
    let h = two(F, |f, a, b| {
        let n = op(f, Opcode::Abs, &[b]);
        op(f, Opcode::Add, &[a, n])
    });
    assert!(!fires(rules::ALGEBRA, "add-neg", &h));
}

#[test]
fn strength_reduction() {
    let sq = two(F, |f, a, _| op(f, Opcode::Multiply, &[a, a]));
    assert!(fires(rules::ALGEBRA, "mul-self", &sq));
    assert!(!fires(
        rules::ALGEBRA,
        "mul-self",
        &two(F, |f, a, b| op(f, Opcode::Multiply, &[a, b]))
    ));
    assert!(fires(
        rules::ALGEBRA,
        "pow-two",
        &with_const(F, Opcode::Power, 2.0, false)
    ));
    assert!(!fires(
        rules::ALGEBRA,
        "pow-two",
        &with_const(F, Opcode::Power, 3.0, false)
    ));
    // Integers: power(x, 2) wraps like x * x but we keep integer powers as written.
    assert!(!fires(
        rules::ALGEBRA,
        "pow-two",
        &with_const(I, Opcode::Power, 2.0, false)
    ));
}

#[test]
fn division_by_a_power_of_two_becomes_a_multiplication() {
    for c in [2.0, 0.25, -8.0] {
        assert!(
            fires(
                rules::ALGEBRA,
                "div-const",
                &with_const(F, Opcode::Divide, c, false)
            ),
            "{c}"
        );
    }
    // 1/3 is not exact: only under the approx_reciprocal flag.
    let third = with_const(F, Opcode::Divide, 3.0, false);
    assert!(!fires(rules::ALGEBRA, "div-const", &third));
    let mut o = opts(rules::ALGEBRA);
    o.flags = RuleFlags {
        approx_reciprocal: true,
        ..Default::default()
    };
    assert!(simplify(&third, &o).unwrap().1.fired("div-const") > 0);
    // Integer division truncates: never.
    assert!(!fires(
        rules::ALGEBRA,
        "div-const",
        &with_const(I, Opcode::Divide, 2.0, false)
    ));
    // 2^-127 is subnormal in f32 but its reciprocal 2^127 is normal: exact.
    assert!(fires(
        rules::ALGEBRA,
        "div-const",
        &with_const(F, Opcode::Divide, 2f64.powi(-127), false)
    ));
    // 2^-130's reciprocal overflows f32: x / c and x * inf differ.
    assert!(!fires(
        rules::ALGEBRA,
        "div-const",
        &with_const(F, Opcode::Divide, 2f64.powi(-130), false)
    ));
}

#[test]
fn exp_times_exp_only_in_f32_and_f64() {
    let g = |dt| {
        two(dt, |f, a, b| {
            let (x, y) = (op(f, Opcode::Exp, &[a]), op(f, Opcode::Exp, &[b]));
            op(f, Opcode::Multiply, &[x, y])
        })
    };
    assert!(fires(rules::ALGEBRA, "exp-mul", &g(F)));
    // f16: a + b rounds to 11 bits before exp, a relative error of |a+b| * 2^-11.
    assert!(!fires(rules::ALGEBRA, "exp-mul", &g(DType::F16)));
}

#[test]
fn log_exp_but_not_exp_log() {
    assert!(fires(
        rules::ALGEBRA,
        "log-exp",
        &unary(F, Opcode::Log, &[Opcode::Exp])
    ));
    // exp(log(x)) is NaN for x < 0: no rule, and nothing else may fire on it.
    let (g, st) = go(
        &unary(F, Opcode::Exp, &[Opcode::Log]),
        &opts(rules::ALGEBRA),
    );
    assert_eq!(g.ops.len(), 2);
    assert_eq!(st.fired("log-exp"), 0);
}

fn layout_fn(build: impl Fn(&mut Func, Value) -> Value) -> Func {
    let mut f = Func::new("main", vec![TensorType::new(F, vec![2, 3, 4])]);
    let x = f.params[0];
    let r = build(&mut f, x);
    f.results = vec![r];
    f
}

fn tr(f: &mut Func, x: Value, p: &[i64]) -> Value {
    f.push1(
        Opcode::Transpose,
        &[x],
        Attrs::new().with("perm", Attr::Ints(p.to_vec())),
    )
    .unwrap()
}
fn rs(f: &mut Func, x: Value, s: &[i64]) -> Value {
    f.push1(
        Opcode::Reshape,
        &[x],
        Attrs::new().with("shape", Attr::Ints(s.to_vec())),
    )
    .unwrap()
}
fn bc(f: &mut Func, x: Value, s: &[i64]) -> Value {
    f.push1(
        Opcode::Broadcast,
        &[x],
        Attrs::new().with("shape", Attr::Ints(s.to_vec())),
    )
    .unwrap()
}

#[test]
fn transposes_compose() {
    let inverse = layout_fn(|f, x| {
        let t = tr(f, x, &[2, 0, 1]);
        tr(f, t, &[1, 2, 0])
    });
    let (g, st) = go(&inverse, &opts(rules::LAYOUT));
    assert!(st.fired("transpose-transpose") > 0);
    assert!(g.ops.is_empty(), "{:?}", g.op_counts());
    let other = layout_fn(|f, x| {
        let t = tr(f, x, &[2, 0, 1]);
        tr(f, t, &[2, 0, 1])
    });
    let (g, _) = go(&other, &opts(rules::LAYOUT));
    assert_eq!(g.op_counts(), vec![("tensor.transpose", 1)]);
    // A transpose of an exp is not a transpose of a transpose.
    let no = layout_fn(|f, x| {
        let e = op(f, Opcode::Exp, &[x]);
        tr(f, e, &[1, 0, 2])
    });
    assert!(!fires(rules::LAYOUT, "transpose-transpose", &no));
    assert!(fires(
        rules::LAYOUT,
        "transpose-identity",
        &layout_fn(|f, x| tr(f, x, &[0, 1, 2]))
    ));
    assert!(!fires(
        rules::LAYOUT,
        "transpose-identity",
        &layout_fn(|f, x| tr(f, x, &[0, 2, 1]))
    ));
    // Equal types are not enough: the transpose of a square matrix is a
    // real permutation (this rule once dropped the transposes of an
    // attention vjp's weight gradients), while moving axes of extent 1 is not.
    let square = |p: &'static [i64], shape: Vec<i64>| {
        let mut f = Func::new("main", vec![TensorType::new(F, shape)]);
        let x = f.params[0];
        f.results = vec![tr(&mut f, x, p)];
        f
    };
    assert!(!fires(
        rules::LAYOUT,
        "transpose-identity",
        &square(&[1, 0], vec![8, 8])
    ));
    assert!(!fires(
        rules::LAYOUT,
        "transpose-identity",
        &square(&[0, 2, 1], vec![2, 3, 3])
    ));
    assert!(fires(
        rules::LAYOUT,
        "transpose-identity",
        &square(&[1, 0, 2], vec![1, 1, 5])
    ));
    assert!(fires(
        rules::LAYOUT,
        "transpose-identity",
        &square(&[2, 1, 0], vec![1, 4, 1])
    ));
}

#[test]
fn reshapes_and_broadcasts_compose() {
    let rr = layout_fn(|f, x| {
        let a = rs(f, x, &[6, 4]);
        rs(f, a, &[4, 6])
    });
    assert!(fires(rules::LAYOUT, "reshape-reshape", &rr));
    assert!(!fires(
        rules::LAYOUT,
        "reshape-reshape",
        &layout_fn(|f, x| rs(f, x, &[6, 4]))
    ));
    let back = layout_fn(|f, x| {
        let a = rs(f, x, &[6, 4]);
        rs(f, a, &[2, 3, 4])
    });
    assert_eq!(go(&back, &opts(rules::LAYOUT)).0.ops.len(), 0);
    assert!(fires(
        rules::LAYOUT,
        "reshape-identity",
        &layout_fn(|f, x| rs(f, x, &[2, 3, 4]))
    ));
    let bb = layout_fn(|f, x| {
        let a = bc(f, x, &[5, 2, 3, 4]);
        bc(f, a, &[7, 5, 2, 3, 4])
    });
    assert!(fires(rules::LAYOUT, "broadcast-broadcast", &bb));
    assert!(!fires(
        rules::LAYOUT,
        "broadcast-broadcast",
        &layout_fn(|f, x| bc(f, x, &[5, 2, 3, 4]))
    ));
    assert!(fires(
        rules::LAYOUT,
        "broadcast-identity",
        &layout_fn(|f, x| bc(f, x, &[2, 3, 4]))
    ));
    assert!(!fires(
        rules::LAYOUT,
        "broadcast-identity",
        &layout_fn(|f, x| bc(f, x, &[1, 2, 3, 4]))
    ));
    let cast = |d| {
        layout_fn(move |f, x| {
            f.push1(
                Opcode::Cast,
                &[x],
                Attrs::new().with("dtype", Attr::DType(d)),
            )
            .unwrap()
        })
    };
    assert!(fires(rules::LAYOUT, "cast-identity", &cast(F)));
    assert!(!fires(rules::LAYOUT, "cast-identity", &cast(DType::F16)));
}

fn softmax_fn(keepdims_path: bool, shift: bool) -> Func {
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let e = if shift {
        let m = if keepdims_path {
            b.reduce(Opcode::ReduceMax, x, &[1], true)
        } else {
            let m = b.reduce(Opcode::ReduceMax, x, &[1], false);
            b.op(
                Opcode::Reshape,
                &[m],
                Attrs::new().with("shape", Attr::Ints(vec![4, 1])),
            )
        };
        let mb = b.bcast(m, &[4, 6]);
        let d = b.bin(Opcode::Subtract, x, mb);
        b.un(Opcode::Exp, d)
    } else {
        b.un(Opcode::Exp, x)
    };
    let s = b.reduce(Opcode::ReduceSum, e, &[1], true);
    let sb = b.bcast(s, &[4, 6]);
    let r = b.bin(Opcode::Divide, e, sb);
    b.done(&[r])
}

#[test]
fn hand_written_softmax_becomes_the_op() {
    for (keep, shift) in [(true, true), (false, true), (true, false)] {
        let (g, st) = go(&softmax_fn(keep, shift), &opts(rules::FUSION));
        assert!(st.fired("softmax") > 0, "{keep} {shift}");
        assert_eq!(g.op_counts(), vec![("tensor.softmax", 1)], "{keep} {shift}");
    }
    // Dividing exp(x) by a row sum of x (not of exp(x)) is not a softmax.
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let e = b.un(Opcode::Exp, x);
    let s = b.reduce(Opcode::ReduceSum, x, &[1], true);
    let sb = b.bcast(s, &[4, 6]);
    let r = b.bin(Opcode::Divide, e, sb);
    assert!(!fires(rules::FUSION, "softmax", &b.done(&[r])));
}

#[test]
fn log_softmax_takes_its_stable_form() {
    // (x - max) - log(sum(exp(x - max)))
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let m = b.reduce(Opcode::ReduceMax, x, &[1], true);
    let mb = b.bcast(m, &[4, 6]);
    let d = b.bin(Opcode::Subtract, x, mb);
    let e = b.un(Opcode::Exp, d);
    let s = b.reduce(Opcode::ReduceSum, e, &[1], true);
    let l = b.un(Opcode::Log, s);
    let lb = b.bcast(l, &[4, 6]);
    let r = b.bin(Opcode::Subtract, d, lb);
    let (g, st) = go(&b.done(&[r]), &opts(rules::FUSION));
    assert!(st.fired("log-softmax") > 0);
    assert!(
        g.op_counts().contains(&("tensor.logsumexp", 1)),
        "{:?}",
        g.op_counts()
    );
    // log(softmax(x))
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let s = b.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![1])),
    );
    let l = b.un(Opcode::Log, s);
    let (g, st) = go(&b.done(&[l]), &opts(rules::FUSION));
    assert!(st.fired("log-of-softmax") > 0);
    assert!(!g.op_counts().iter().any(|(n, _)| *n == "tensor.softmax"));
    // x - log(sum(exp(x))) without the max shift subtracted from x is not matched.
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let y = b.un(Opcode::Negative, x);
    let l = b.un(Opcode::Log, y);
    let r = b.bin(Opcode::Subtract, x, l);
    assert!(!fires(rules::FUSION, "log-softmax", &b.done(&[r])));
}

#[test]
fn log_sum_exp_becomes_the_stable_op() {
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let e = b.un(Opcode::Exp, x);
    let s = b.reduce(Opcode::ReduceSum, e, &[1], false);
    let l = b.un(Opcode::Log, s);
    let (g, st) = go(&b.done(&[l]), &opts(rules::FUSION));
    assert!(st.fired("logsumexp") > 0);
    assert_eq!(g.op_counts(), vec![("tensor.logsumexp", 1)]);
    // log(sum(x)) is not.
    let mut b = B::new(&[&[4, 6]]);
    let x = b.p(0);
    let s = b.reduce(Opcode::ReduceSum, x, &[1], false);
    let l = b.un(Opcode::Log, s);
    assert!(!fires(rules::FUSION, "logsumexp", &b.done(&[l])));
}

#[test]
fn commutativity_fires_associativity_only_for_integers() {
    let sum3 = |dt| {
        two(dt, |f, a, b| {
            let s = op(f, Opcode::Add, &[b, a]);
            op(f, Opcode::Add, &[a, s])
        })
    };
    assert!(fires(rules::AC, "add-comm", &sum3(F)));
    assert!(fires(rules::AC, "add-assoc", &sum3(I)));
    // Float addition is not associative: (a + b) + c rounds differently.
    assert!(!fires(rules::AC, "add-assoc", &sum3(F)));
    let mut o = opts(rules::AC);
    o.flags = RuleFlags {
        reassociate_floats: true,
        ..Default::default()
    };
    assert!(simplify(&sum3(F), &o).unwrap().1.fired("add-assoc") > 0);
    let prod = two(I, |f, a, b| {
        let s = op(f, Opcode::Multiply, &[b, a]);
        op(f, Opcode::Multiply, &[a, s])
    });
    assert!(fires(rules::AC, "mul-comm", &prod));
    assert!(fires(rules::AC, "mul-assoc", &prod));
    assert!(!fires(rules::AC, "mul-comm", &sum3(I)));
}

#[test]
fn constants_fold_in_the_analysis() {
    // (2 + 3) * x -> 5 * x, by the analysis alone (no rule).
    let mut f = Func::new("main", vec![TensorType::new(F, vec![3])]);
    let x = f.params[0];
    let full = |f: &mut Func, v| {
        f.push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(v))
                .with("shape", Attr::Ints(vec![3]))
                .with("dtype", Attr::DType(F)),
        )
        .unwrap()
    };
    let (a, b) = (full(&mut f, 2.0), full(&mut f, 3.0));
    let s = op(&mut f, Opcode::Add, &[a, b]);
    let r = op(&mut f, Opcode::Multiply, &[s, x]);
    f.results = vec![r];
    let (g, _) = go(&f, &opts(rules::ALGEBRA));
    assert_eq!(
        g.op_counts(),
        vec![("tensor.full", 1), ("tensor.multiply", 1)]
    );
    let v = g
        .ops
        .iter()
        .find(|o| o.opcode == Opcode::Full)
        .unwrap()
        .attrs
        .float("value")
        .unwrap();
    assert_eq!(v, 5.0);
}

#[test]
fn every_rule_is_tested_here() {
    let src = include_str!("egraph_rules.rs");
    for set in rules::RULESETS {
        for r in rules::rule_names(set) {
            assert!(src.contains(&format!("\"{r}\"")), "rule {r} has no test");
        }
    }
}
