//! Transforms compose because each returns ordinary IR: grad(grad(f)),
//! vmap(grad(f)), grad(vmap(f)), jvp(grad(f)), vmap(vmap(f)), and the
//! Jacobian and Hessian helpers, checked against finite differences and
//! per-example runs.

mod autodiff_support;

use autodiff_support::*;
use psionic_ir::{Attr, Attrs, Func, Literal, Opcode};
use psionic_passes::autodiff::builder::inline;
use psionic_passes::autodiff::{grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp};
use psionic_passes::vmap::{vmap, vmap_with_size};

/// f(x, w) = sum(tanh(x @ w) * x @ w) / 2 + sum(sin(x)): scalar, smooth.
fn scalar_fn() -> Func {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[2, 3]);
    let w = g.param(&[3, 3]);
    let m = g.bin(Opcode::Matmul, x, w);
    let t = g.un(Opcode::Tanh, m);
    let p = g.bin(Opcode::Multiply, t, m);
    let s = g.op(
        Opcode::ReduceSum,
        &[p],
        Attrs::new().with("axes", a_ints(&[0, 1])),
    );
    let sx = g.un(Opcode::Sin, x);
    let s2 = g.op(
        Opcode::ReduceSum,
        &[sx],
        Attrs::new().with("axes", a_ints(&[0, 1])),
    );
    let h = g.konst(0.5, s);
    let s = g.bin(Opcode::Multiply, s, h);
    let y = g.bin(Opcode::Add, s, s2);
    g.f.results = vec![y];
    g.f
}

fn inputs(f: &Func, seed: u64) -> Vec<Literal> {
    let mut r = rng(seed);
    rand_inputs(&mut r, f)
}

#[test]
fn grad_matches_finite_differences_and_value_and_grad() {
    let f = scalar_fn();
    let x = inputs(&f, 1);
    let g = grad(&f, &[0, 1]).unwrap();
    let out = run(&g, &x);
    let vg = value_and_grad(&f, &[1]).unwrap();
    let vout = run(&vg, &x);
    assert_close(&vout[0], &run(&f, &x)[0], 0.0, 0.0, "value");
    assert_close(&vout[1], &out[1], 0.0, 0.0, "value_and_grad grad");
    for k in 0..2 {
        let mut r = rng(10 + k as u64);
        let d = rand_lit(&mut r, &f.param_types()[k], -1.0, 1.0);
        let mut dirs = vec![None, None];
        dirs[k] = Some(d.clone());
        let fd = fd_jvp(&f, &x, &dirs, 1e-5);
        let lhs = dot(&out[k], &d);
        let rhs = fd[0].to_f64_vec()[0];
        assert!(
            (lhs - rhs).abs() < 1e-6 * (1.0 + rhs.abs()),
            "{lhs} vs {rhs}"
        );
    }
}

#[test]
fn scalar_output_is_checked() {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[2]);
    let e = g.un(Opcode::Exp, x);
    g.f.results = vec![e];
    let err = grad(&g.f, &[0]).unwrap_err();
    assert!(err.message.contains("scalar"), "{err}");
    let err = grad(&scalar_fn(), &[5]).unwrap_err();
    assert!(err.message.contains("does not exist"), "{err}");
}

/// grad(grad(f)) for f: R -> R: f(x) = x^3 sin(x).
#[test]
fn grad_of_grad() {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[]);
    let s = g.un(Opcode::Square, x);
    let c = g.bin(Opcode::Multiply, s, x);
    let sn = g.un(Opcode::Sin, x);
    let y = g.bin(Opcode::Multiply, c, sn);
    g.f.results = vec![y];
    let f = g.f;
    let gg = grad(&grad(&f, &[0]).unwrap(), &[0]).unwrap();
    for &xv in &[0.3, -1.2, 2.0] {
        let out = run(&gg, &[Literal::scalar_f64(F, xv)]);
        // d2/dx2 x^3 sin x = 6x sin x + 6x^2 cos x - x^3 sin x
        let want = 6.0 * xv * xv.sin() + 6.0 * xv * xv * xv.cos() - xv.powi(3) * xv.sin();
        let got = out[0].to_f64_vec()[0];
        assert!((got - want).abs() < 1e-10, "{got} vs {want}");
    }
    // Third derivative too.
    let ggg = grad(&gg, &[0]).unwrap();
    let out = run(&ggg, &[Literal::scalar_f64(F, 0.7)]);
    let fd = |x: f64| run(&gg, &[Literal::scalar_f64(F, x)])[0].to_f64_vec()[0];
    let want = (fd(0.7 + 1e-5) - fd(0.7 - 1e-5)) / 2e-5;
    assert!((out[0].to_f64_vec()[0] - want).abs() < 1e-5);
}

/// jvp(grad(f)) is a Hessian-vector product: compare with finite
/// differences of the gradient and with hessian().
#[test]
fn hessian_vector_product_and_hessian() {
    let f = scalar_fn();
    let x = inputs(&f, 2);
    let g = grad(&f, &[0]).unwrap();
    let hvp = jvp(&g, &[0]).unwrap();
    let mut r = rng(3);
    let v = rand_lit(&mut r, &f.param_types()[0], -1.0, 1.0);
    let mut hin = x.clone();
    hin.push(v.clone());
    let out = run(&hvp, &hin);
    let fd = fd_jvp(&g, &x, &[Some(v.clone()), None], 1e-5);
    assert_close(&out[1], &fd[0], 1e-6, 1e-7, "hvp");
    // The full Hessian, contracted with v, gives the same.
    let h = hessian(&f, 0).unwrap();
    let hm = run(&h, &x)[0].clone();
    assert_eq!(hm.shape(), &[2, 3, 2, 3]);
    let hv: Vec<f64> = (0..6)
        .map(|i| {
            (0..6)
                .map(|j| hm.to_f64_vec()[i * 6 + j] * v.to_f64_vec()[j])
                .sum()
        })
        .collect();
    let hv = Literal::from_f64(F, vec![2, 3], &hv).unwrap();
    assert_close(&hv, &out[1], 1e-9, 1e-10, "hessian @ v");
}

/// jacrev and jacfwd agree with each other and with finite differences.
#[test]
fn jacobians() {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[3]);
    let w = g.param(&[2, 3]);
    let e = g.op(
        Opcode::ExpandDims,
        &[x],
        Attrs::new().with("axes", a_ints(&[1])),
    );
    let m = g.bin(Opcode::Matmul, w, e);
    let t = g.un(Opcode::Tanh, m);
    g.f.results = vec![t];
    let f = g.f;
    let x = inputs(&f, 4);
    let jr = run(&jacrev(&f, &[0, 1]).unwrap(), &x);
    let jf = run(&jacfwd(&f, &[0, 1]).unwrap(), &x);
    assert_eq!(jr[0].shape(), &[2, 1, 3]);
    assert_eq!(jr[1].shape(), &[2, 1, 2, 3]);
    assert_close(&jr[0], &jf[0], 1e-12, 1e-12, "jac x");
    assert_close(&jr[1], &jf[1], 1e-12, 1e-12, "jac w");
    // Column j of the Jacobian = derivative along basis vector j.
    for j in 0..3 {
        let mut d = vec![0.0; 3];
        d[j] = 1.0;
        let d = Literal::from_f64(F, vec![3], &d).unwrap();
        let fd = fd_jvp(&f, &x, &[Some(d), None], 1e-6)[0].to_f64_vec();
        for i in 0..2 {
            let got = jr[0].to_f64_vec()[i * 3 + j];
            assert!((got - fd[i]).abs() < 1e-7, "{got} vs {}", fd[i]);
        }
    }
}

/// vmap(grad(f)): per-example gradients.
#[test]
fn vmap_of_grad() {
    let f = scalar_fn();
    let g = grad(&f, &[0, 1]).unwrap();
    let vg = vmap_with_size(&g, &[Some(0), None], &[0, 0], Some(3)).unwrap();
    let vgs = vmap(&g, &[Some(0), None], &[0, 0]).unwrap();
    let mut r = rng(5);
    let xs: Vec<Literal> = (0..3)
        .map(|_| rand_lit(&mut r, &f.param_types()[0], -1.0, 1.0))
        .collect();
    let w = rand_lit(&mut r, &f.param_types()[1], -1.0, 1.0);
    let got = run(&vg, &[stack(&xs, 0), w.clone()]);
    let got_s = run(&vgs, &[stack(&xs, 0), w.clone()]);
    for b in 0..3 {
        let want = run(&g, &[xs[b].clone(), w.clone()]);
        for k in 0..2 {
            assert_close(
                &unstack(&got[k], 0, b),
                &want[k],
                1e-12,
                1e-12,
                "vmap(grad)",
            );
            assert_close(
                &unstack(&got_s[k], 0, b),
                &want[k],
                1e-12,
                1e-12,
                "vmap(grad) symbolic",
            );
        }
    }
}

/// grad(vmap(f)) through a wrapper that sums the batched outputs: the
/// gradient of a sum of independent terms is the stack of their gradients.
#[test]
fn grad_of_vmap() {
    let f = scalar_fn();
    let vf = vmap_with_size(&f, &[Some(0), None], &[0], Some(3)).unwrap();
    let mut w = Func::new("sum_vf", vf.param_types());
    let ps = w.params.clone();
    let outs = inline(&mut w, &vf, &ps).unwrap();
    let s = w
        .push1(
            Opcode::ReduceSum,
            &outs,
            Attrs::new().with("axes", Attr::Ints(vec![0])),
        )
        .unwrap();
    w.results = vec![s];
    let gw = grad(&w, &[0]).unwrap();
    let g = grad(&f, &[0]).unwrap();
    let mut r = rng(6);
    let xs: Vec<Literal> = (0..3)
        .map(|_| rand_lit(&mut r, &f.param_types()[0], -1.0, 1.0))
        .collect();
    let wv = rand_lit(&mut r, &f.param_types()[1], -1.0, 1.0);
    let got = run(&gw, &[stack(&xs, 0), wv.clone()]);
    for b in 0..3 {
        let want = run(&g, &[xs[b].clone(), wv.clone()]);
        assert_close(
            &unstack(&got[0], 0, b),
            &want[0],
            1e-12,
            1e-12,
            "grad(vmap)",
        );
    }
}

/// vmap(vmap(f)) over two axes equals the double loop.
#[test]
fn vmap_of_vmap() {
    let f = scalar_fn();
    let v1 = vmap_with_size(&f, &[Some(0), Some(2)], &[0], Some(2)).unwrap();
    let v2 = vmap(&v1, &[None, Some(0)], &[1]).unwrap();
    let mut r = rng(8);
    let xs: Vec<Literal> = (0..2)
        .map(|_| rand_lit(&mut r, &f.param_types()[0], -1.0, 1.0))
        .collect();
    let ws: Vec<Vec<Literal>> = (0..4)
        .map(|_| {
            (0..2)
                .map(|_| rand_lit(&mut r, &f.param_types()[1], -1.0, 1.0))
                .collect()
        })
        .collect();
    let wstack: Vec<Literal> = ws.iter().map(|w| stack(w, 2)).collect();
    let got = run(&v2, &[stack(&xs, 0), stack(&wstack, 0)]);
    assert_eq!(got[0].shape(), &[2, 4]);
    for (i, wrow) in ws.iter().enumerate() {
        for (b, x) in xs.iter().enumerate() {
            let want = run(&f, &[x.clone(), wrow[b].clone()])[0].to_f64_vec()[0];
            let g = got[0].to_f64_vec()[b * 4 + i];
            assert!((g - want).abs() < 1e-12, "{g} vs {want}");
        }
    }
}

/// Output quality: no derivative code for inputs not differentiated, no
/// zero tensors for missing cotangents, no dead ops.
#[test]
fn clean_output() {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[4]);
    let y = g.param(&[4]);
    let e = g.un(Opcode::Exp, x);
    let l = g.un(Opcode::Log, y);
    let p = g.bin(Opcode::Multiply, e, l);
    g.f.results = vec![p, l];
    let f = g.f;
    let v = vjp(&f, &[0]).unwrap();
    // exp, log, multiply forward; one multiply for d/dx (ct * log y) and one
    // for * exp: nothing for y's branch, no zeros, no second output's cotangent.
    let counts = v.op_counts();
    assert!(
        !counts.iter().any(|(n, _)| *n == "tensor.full"),
        "{counts:?}"
    );
    assert!(
        !counts.iter().any(|(n, _)| *n == "tensor.reciprocal"),
        "{counts:?}"
    );
    assert_eq!(v.ops.len(), 5, "{}", describe(&v));
    let j = jvp(&f, &[0]).unwrap();
    // The second output does not depend on x: its tangent is a zero output,
    // built once.
    assert_eq!(
        j.op_counts()
            .iter()
            .find(|(n, _)| *n == "tensor.full")
            .map(|c| c.1),
        Some(1),
        "{}",
        describe(&j)
    );
}
