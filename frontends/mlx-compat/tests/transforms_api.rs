//! The closure-level transforms: MLX's shapes of arguments and results,
//! trees of arrays, nesting, custom_vjp and checkpoint, checked against
//! closed forms and finite differences.

use psionic_mlx::transforms::{
    checkpoint, custom_vjp, grad, jvp, try_grad, value_and_grad, vjp, vmap, CustomVjp,
};
use psionic_mlx::*;
use std::collections::BTreeMap;

fn v(a: &Array) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn grad_of_a_sum_of_squares() {
    let f = |x: &Array| x.square().sum(Axes::All, false);
    let x = array(&[1.0f32, -2.0, 3.0], &[3]);
    let g = grad(f)(&x);
    close(&v(&g), &[2.0, -4.0, 6.0], 1e-6);
    let (val, g2) = value_and_grad(f)(&x);
    close(&v(&val), &[14.0], 1e-6);
    close(&v(&g2), &[2.0, -4.0, 6.0], 1e-6);
}

#[test]
fn scalar_output_is_required() {
    let f = |x: &Array| x.exp();
    let err = try_grad(f)(&array(&[1.0f32, 2.0], &[2])).unwrap_err();
    // The infallible form records the error in the arrays.
    let g = grad(f)(&array(&[1.0f32, 2.0], &[2]));
    assert!(g.to_vec::<f32>().is_err());
    assert!(err.message.contains("scalar"), "{err}");
}

/// Gradients over a tree: a tuple of a map of weights and a bias.
#[test]
fn grad_over_trees() {
    let mut w = BTreeMap::new();
    w.insert("a".to_string(), array(&[1.0f32, 2.0], &[2]));
    w.insert("b".to_string(), array(&[3.0f32], &[1]));
    let c = array(&[0.5f32], &[1]);
    let loss = |p: &(BTreeMap<String, Array>, Array)| {
        let s = p.0["a"].sum(Axes::All, false);
        let t = p.0["b"].multiply(&p.1).sum(Axes::All, false);
        s.multiply(&t)
    };
    let g = grad(loss)(&(w, c));
    // loss = (a0 + a1) * b * c: d/da = b c = 1.5, d/db = 3 c = 1.5, d/dc = 3 b = 9
    close(&v(&g.0["a"]), &[1.5, 1.5], 1e-6);
    close(&v(&g.0["b"]), &[1.5], 1e-6);
    close(&v(&g.1), &[9.0], 1e-6);
}

#[test]
fn vjp_and_jvp_with_several_outputs() {
    let f = |p: &Vec<Array>| (p[0].multiply(&p[1]), p[0].sin());
    let x = vec![array(&[1.0f32, 2.0], &[2]), array(&[3.0f32, 4.0], &[2])];
    let cots = (array(&[1.0f32, 1.0], &[2]), array(&[2.0f32, 0.0], &[2]));
    let ((o1, o2), g) = vjp(&f, &x, &cots).unwrap();
    close(&v(&o1), &[3.0, 8.0], 1e-6);
    close(&v(&o2), &[1f32.sin(), 2f32.sin()], 1e-6);
    close(&v(&g[0]), &[3.0 + 2.0 * 1f32.cos(), 4.0], 1e-6);
    close(&v(&g[1]), &[1.0, 2.0], 1e-6);
    let tans = vec![array(&[1.0f32, 0.0], &[2]), array(&[0.0f32, 1.0], &[2])];
    let (_, (t1, t2)) = jvp(&f, &x, &tans).unwrap();
    close(&v(&t1), &[3.0, 2.0], 1e-6);
    close(&v(&t2), &[1f32.cos(), 0.0], 1e-6);
}

/// grad of a closure that calls grad: transforms nest through tracing.
#[test]
fn grad_of_grad() {
    let f = |x: &Array| x.square().multiply(x).sum(Axes::All, false); // x^3
    let df = grad(f);
    let ddf = grad(move |x: &Array| df(x).sum(Axes::All, false));
    let g = ddf(&array(&[2.0f32], &[1]));
    close(&v(&g), &[12.0], 1e-5);
}

#[test]
fn vmap_batches_and_composes_with_grad() {
    let w = array(&[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
    let f = |p: &(Array, Array)| p.0.matmul(&p.1).tanh();
    let xs = array(&[0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 1, 3]);
    let vf = vmap(f, vec![Some(0), None], vec![0]);
    let out = vf(&(xs.clone(), w.clone())).unwrap();
    assert_eq!(out.shape(), &[2, 1, 2]);
    for b in 0..2 {
        let xb = array(&v(&xs)[b * 3..b * 3 + 3], &[1, 3]);
        let want = f(&(xb, w.clone()));
        close(&v(&out)[b * 2..b * 2 + 2], &v(&want), 1e-6);
    }
    // Per-example gradients: vmap(grad).
    let loss = |p: &(Array, Array)| p.0.matmul(&p.1).tanh().sum(Axes::All, false);
    let pg = vmap(grad(loss), vec![Some(0), None], vec![0, 0]);
    let (gx, gw) = pg(&(xs.clone(), w.clone())).unwrap();
    assert_eq!(gx.shape(), &[2, 1, 3]);
    assert_eq!(gw.shape(), &[2, 3, 2]);
    let xb = array(&v(&xs)[3..6], &[1, 3]);
    let (gx1, gw1) = grad(loss)(&(xb, w.clone()));
    close(&v(&gx)[3..6], &v(&gx1), 1e-6);
    close(&v(&gw)[6..12], &v(&gw1), 1e-6);
}

#[test]
fn custom_vjp_uses_the_backward() {
    // Forward exp; backward says 2 * cotangent (deliberately not exp).
    let f: CustomVjp<_, _> = custom_vjp(
        |x: &Array| x.exp(),
        |_x: &Array, _y: &Array, ct: &Array| ct.multiply(2.0),
    );
    let x = array(&[0.0f32, 1.0], &[2]);
    close(&v(&f.call(&x)), &[1.0, 1f32.exp()], 1e-6);
    let (_, g) = vjp(&f, &x, &array(&[1.0f32, 3.0], &[2])).unwrap();
    close(&v(&g), &[2.0, 6.0], 1e-6);
}

#[test]
fn checkpoint_gives_the_same_gradient() {
    let f = |x: &Array| x.sin().exp().sum(Axes::All, false);
    let x = array(&[0.3f32, -0.7, 1.1], &[3]);
    let g1 = grad(f)(&x);
    let g2 = grad(checkpoint(f))(&x);
    close(&v(&g2), &v(&g1), 1e-6);
    close(&v(&checkpoint(f).call(&x)), &v(&f(&x)), 0.0);
}
