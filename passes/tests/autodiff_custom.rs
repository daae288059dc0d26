//! custom_vjp (a user backward function replaces the derivative of the
//! forward ops) and checkpoint (the backward pass recomputes forward values
//! instead of keeping them).

mod autodiff_support;

use autodiff_support::*;
use psionic_ir::{Attrs, Func, Literal, Opcode};
use psionic_passes::autodiff::{checkpoint, custom_vjp, grad, jvp, vjp};

/// softplus(x) = log(1 + exp(x)), summed.
fn softplus() -> Func {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[4]);
    let e = g.un(Opcode::Exp, x);
    let l = g.un(Opcode::Log1p, e);
    let s = g.op(
        Opcode::ReduceSum,
        &[l],
        Attrs::new().with("axes", a_ints(&[0])),
    );
    g.f.results = vec![s];
    g.f
}

/// (x, y, ct) -> ct * sigmoid(x) * scale
fn softplus_bwd(scale: f64) -> Func {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[4]);
    let _y = g.param(&[]);
    let ct = g.param(&[]);
    let s = g.un(Opcode::Sigmoid, x);
    let c = g.op(
        Opcode::Broadcast,
        &[ct],
        Attrs::new().with("shape", a_ints(&[4])),
    );
    let k = g.konst(scale, x);
    let m = g.bin(Opcode::Multiply, s, c);
    let m = g.bin(Opcode::Multiply, m, k);
    g.f.name = "softplus_bwd".into();
    g.f.results = vec![m];
    g.f
}

#[test]
fn custom_vjp_replaces_the_derivative() {
    let f = softplus();
    let x = Literal::from_f64(F, vec![4], &[-1.0, 0.0, 0.5, 2.0]).unwrap();
    let plain = run(&grad(&f, &[0]).unwrap(), std::slice::from_ref(&x));
    // The exact backward gives the same gradient...
    let cf = custom_vjp(&f, &softplus_bwd(1.0)).unwrap();
    let got = run(&grad(&cf, &[0]).unwrap(), std::slice::from_ref(&x));
    assert_close(&got[0], &plain[0], 1e-14, 1e-14, "custom = exact");
    // ...and a different backward is really the one used.
    let cf3 = custom_vjp(&f, &softplus_bwd(3.0)).unwrap();
    let got3 = run(&grad(&cf3, &[0]).unwrap(), std::slice::from_ref(&x));
    let want: Vec<f64> = plain[0].to_f64_vec().iter().map(|v| 3.0 * v).collect();
    assert_close(
        &got3[0],
        &Literal::from_f64(F, vec![4], &want).unwrap(),
        1e-14,
        1e-14,
        "scaled",
    );
    // Forward values are the function's; jvp differentiates the forward ops.
    let v = run(
        &vjp(&cf3, &[0]).unwrap(),
        &[x.clone(), Literal::scalar_f64(F, 1.0)],
    );
    assert_close(
        &v[0],
        &run(&f, std::slice::from_ref(&x))[0],
        0.0,
        0.0,
        "value",
    );
    let j = jvp(&cf3, &[0]).unwrap();
    assert!(
        j.attrs.is_empty(),
        "markers do not carry over: {:?}",
        j.attrs
    );
    let ones = Literal::from_f64(F, vec![4], &[1.0; 4]).unwrap();
    let jo = run(&j, &[x.clone(), ones]);
    let s: f64 = plain[0].to_f64_vec().iter().sum();
    assert!((jo[1].to_f64_vec()[0] - s).abs() < 1e-12);
    // Second derivatives differentiate the backward function.
    let gg = grad(&cf3, &[0]).unwrap();
    assert!(!gg.attrs.iter().any(|(n, _)| n.starts_with("autodiff.")));
}

#[test]
fn custom_vjp_checks_the_backward_signature() {
    let f = softplus();
    let mut bad = softplus_bwd(1.0);
    bad.params.pop();
    let err = custom_vjp(&f, &bad).unwrap_err();
    assert!(
        err.message
            .contains("must take (primals, outputs, cotangents)"),
        "{err}"
    );
}

#[test]
fn checkpoint_recomputes_and_keeps_values() {
    let mut r = rng(1);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[3]);
    let w = g.param(&[3]);
    let a = g.bin(Opcode::Multiply, x, w);
    let t = g.un(Opcode::Tanh, a);
    let e = g.un(Opcode::Exp, t);
    let s = g.op(
        Opcode::ReduceSum,
        &[e],
        Attrs::new().with("axes", a_ints(&[0])),
    );
    g.f.results = vec![s];
    let f = g.f;
    let c = checkpoint(&f);
    let v = vjp(&f, &[0, 1]).unwrap();
    let vc = vjp(&c, &[0, 1]).unwrap();
    let mut r = rng(2);
    let mut xs = rand_inputs(&mut r, &f);
    xs.push(Literal::scalar_f64(F, 1.5));
    let want = run(&v, &xs);
    let got = run(&vc, &xs);
    for k in 0..3 {
        assert_close(&got[k], &want[k], 0.0, 0.0, "checkpointed vjp");
    }
    // Structure: the first forward copy's intermediates (the ops before the
    // input copies) feed nothing after the copies: the backward pass reads
    // only recomputed values.
    let first_copy = vc
        .ops
        .iter()
        .position(|o| o.opcode == Opcode::Copy)
        .expect("input copies");
    let fwd_vals: Vec<_> = vc.ops[..first_copy]
        .iter()
        .flat_map(|o| o.results.clone())
        .collect();
    for op in &vc.ops[first_copy..] {
        for o in &op.operands {
            assert!(
                !fwd_vals.contains(o),
                "backward op {} reads a kept forward value\n{}",
                op.opcode,
                describe(&vc)
            );
        }
    }
    assert!(vc.ops.iter().filter(|o| o.opcode == Opcode::Tanh).count() == 2);
}
