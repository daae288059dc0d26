//! Finite-difference checks of vjp and jvp, in f64, on random programs built
//! from the op table: every differentiable op heads some programs, followed
//! by up to two random ops. For each program and random direction `v` and
//! cotangent `c`: the jvp matches central differences, the vjp satisfies
//! `<vjp(c), v> = <c, jvp(v)>`, and both return the function's own outputs.

mod autodiff_support;

use autodiff_support::*;
use proptest::prelude::*;
use psionic_ir::{Func, Literal, Opcode};
use psionic_passes::autodiff::{jvp, vjp};

fn check_program(f: &Func, seed: u64) {
    let mut r = rng(seed ^ 0x5eed);
    let x = rand_inputs(&mut r, f);
    let wrt: Vec<usize> = (0..f.params.len()).collect();
    let dirs: Vec<Literal> = f
        .param_types()
        .iter()
        .map(|t| rand_lit(&mut r, t, -1.0, 1.0))
        .collect();
    let cots: Vec<Literal> = f
        .result_types()
        .iter()
        .map(|t| rand_lit(&mut r, t, -1.0, 1.0))
        .collect();
    let has_cast = f.ops.iter().any(|o| o.opcode == Opcode::Cast);
    // A round trip through f32 needs a larger step.
    let (h, rtol, atol) = if has_cast {
        (1e-2, 2e-3, 2e-3)
    } else {
        (1e-5, 1e-5, 1e-6)
    };
    let want = run(f, &x);

    let j = jvp(f, &wrt).unwrap_or_else(|e| panic!("jvp failed: {e}\n{}", describe(f)));
    let mut jin = x.clone();
    jin.extend(dirs.iter().cloned());
    let jout = run(&j, &jin);
    let n = f.results.len();
    for k in 0..n {
        assert_close(&jout[k], &want[k], 0.0, 0.0, "jvp primal output");
    }
    let d: Vec<Option<Literal>> = dirs.iter().cloned().map(Some).collect();
    let fd = fd_jvp(f, &x, &d, h);
    let fd2 = fd_jvp(f, &x, &d, h / 2.0);
    for k in 0..n {
        let (a, b, c) = (
            jout[n + k].to_f64_vec(),
            fd[k].to_f64_vec(),
            fd2[k].to_f64_vec(),
        );
        for i in 0..a.len() {
            // Where the two steps disagree the step crossed a jump of a
            // piecewise-constant op (floor, remainder, sort order...): no
            // derivative to compare there.
            if (b[i] - c[i]).abs() > 10.0 * (atol + rtol * b[i].abs()) {
                continue;
            }
            assert!(
                (a[i] - b[i]).abs() <= atol + rtol * b[i].abs(),
                "jvp vs finite differences: output {k} element {i}: {} vs {}\n{}\njvp:\n{}",
                a[i],
                b[i],
                describe(f),
                describe(&j)
            );
        }
    }

    // The vjp is the transpose of the jvp: <vjp(c), v> = <c, jvp(v)>.
    let v = vjp(f, &wrt).unwrap_or_else(|e| panic!("vjp failed: {e}\n{}", describe(f)));
    let mut vin = x.clone();
    vin.extend(cots.iter().cloned());
    let vout = run(&v, &vin);
    for k in 0..n {
        assert_close(&vout[k], &want[k], 0.0, 0.0, "vjp primal output");
    }
    let terms = |a: &[Literal], b: &[Literal]| -> (f64, f64) {
        let mut s = 0.0;
        let mut m = 0.0;
        for (x, y) in a.iter().zip(b) {
            for (p, q) in x.to_f64_vec().iter().zip(y.to_f64_vec()) {
                s += p * q;
                m += (p * q).abs();
            }
        }
        (s, m)
    };
    let (lhs, m1) = terms(&vout[n..], &dirs);
    let (rhs, m2) = terms(&cots, &jout[n..]);
    let tol = if has_cast { 1e-5 } else { 1e-10 } * (1.0 + m1.max(m2));
    assert!(
        (lhs - rhs).abs() <= tol,
        "<vjp(c), v> = {lhs} but <c, jvp(v)> = {rhs}\n{}\nvjp:\n{}",
        describe(f),
        describe(&v)
    );
}

/// Every differentiable op of the table (StopGradient has its own test: its
/// derivative is zero on purpose, which finite differences cannot see).
fn fd_ops() -> Vec<Opcode> {
    Opcode::all()
        .filter(|&o| !non_differentiable(o) && o != Opcode::StopGradient)
        .collect()
}

#[test]
fn every_differentiable_op_has_a_random_case() {
    // apply_case panics for an op it does not know: building one program per
    // op proves the table is covered.
    for (i, op) in fd_ops().into_iter().enumerate() {
        let mut r = rng(i as u64);
        random_program(&mut r, Some(op), 1);
    }
}

#[test]
fn each_op_alone() {
    for (i, op) in fd_ops().into_iter().enumerate() {
        for s in 0..3u64 {
            let seed = 1000 * i as u64 + s;
            let mut r = rng(seed);
            let f = random_program(&mut r, Some(op), 1);
            eprintln!("{op} seed {seed}");
            check_program(&f, seed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    #[test]
    fn random_chains(seed in any::<u64>(), chain in 1usize..=3) {
        let mut r = rng(seed);
        let ops = fd_ops();
        let first = ops[(seed % ops.len() as u64) as usize];
        let f = random_program(&mut r, Some(first), chain);
        check_program(&f, seed);
    }
}

#[test]
fn stop_gradient_and_donors_get_zero() {
    let mut r = rng(7);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[3]);
    let s = g.un(Opcode::StopGradient, x);
    let y = g.bin(Opcode::Multiply, s, x);
    g.f.results = vec![y];
    let f = g.f;
    // d/dx (sg(x) * x) = sg(x) = x.
    let v = vjp(&f, &[0]).unwrap();
    let xin = Literal::from_f64(F, vec![3], &[1.0, 2.0, -3.0]).unwrap();
    let ones = Literal::from_f64(F, vec![3], &[1.0; 3]).unwrap();
    let out = run(&v, &[xin.clone(), ones]);
    assert_close(&out[1], &xin, 0.0, 0.0, "stop_gradient");
}

/// The product's derivative is exact with zeros (no division by x).
#[test]
fn reduce_prod_with_zeros() {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[2, 3]);
    let p = g.op(
        Opcode::ReduceProd,
        &[x],
        psionic_ir::Attrs::new().with("axes", a_ints(&[0, 1])),
    );
    g.f.results = vec![p];
    let f = g.f;
    let xin = Literal::from_f64(F, vec![2, 3], &[0.0, 2.0, 3.0, 1.0, -1.0, 2.0]).unwrap();
    let out = run(
        &psionic_passes::autodiff::grad(&f, &[0]).unwrap(),
        std::slice::from_ref(&xin),
    );
    let want = Literal::from_f64(F, vec![2, 3], &[-12.0, 0.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
    assert_close(&out[0], &want, 0.0, 0.0, "grad of prod with a zero");
    let t = Literal::from_f64(F, vec![2, 3], &[1.0; 6]).unwrap();
    let jo = run(&jvp(&f, &[0]).unwrap(), &[xin, t]);
    assert_eq!(jo[1].to_f64_vec(), vec![-12.0]);
}
