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
    let fd = fd_jvp(
        f,
        &x,
        &dirs.iter().cloned().map(Some).collect::<Vec<_>>(),
        h,
    );
    for k in 0..n {
        assert_close(
            &jout[n + k],
            &fd[k],
            rtol,
            atol,
            &format!(
                "jvp vs finite differences\n{}\njvp:\n{}",
                describe(f),
                describe(&j)
            ),
        );
    }

    let v = vjp(f, &wrt).unwrap_or_else(|e| panic!("vjp failed: {e}\n{}", describe(f)));
    let mut vin = x.clone();
    vin.extend(cots.iter().cloned());
    let vout = run(&v, &vin);
    for k in 0..n {
        assert_close(&vout[k], &want[k], 0.0, 0.0, "vjp primal output");
    }
    let lhs: f64 = vout[n..].iter().zip(&dirs).map(|(g, d)| dot(g, d)).sum();
    let rhs: f64 = cots.iter().zip(&fd).map(|(c, t)| dot(c, t)).sum();
    assert!(
        (lhs - rhs).abs() <= 10.0 * atol + rtol * 10.0 * rhs.abs().max(1.0),
        "<vjp(c), v> = {lhs} but <c, J v> = {rhs} (finite differences)\n{}\nvjp:\n{}",
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
