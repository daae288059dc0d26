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

// ---------------------------------------------------------------------------
// argnums (MLX's `mx.grad(f, argnums=...)`).
// ---------------------------------------------------------------------------

use psionic_mlx::transforms::{
    grad_argnums, try_grad_argnums, try_value_and_grad_argnums, value_and_grad_argnums, Argnum,
};

/// `f(x, y, z) = sum(x * y) + 2 sum(z)`.
fn xyz(p: &(Array, Array, Array)) -> Array {
    p.0.multiply(&p.1).sum(Axes::All, false) + p.2.sum(Axes::All, false) * 2.0
}

fn xyz_args() -> (Array, Array, Array) {
    (
        array(&[1.0f32, 2.0], &[2]),
        array(&[3.0f32, -1.0], &[2]),
        array(&[0.5f32, 0.25, 4.0], &[3]),
    )
}

#[test]
fn one_argnum_gives_that_arguments_gradient() {
    let p = xyz_args();
    // MLX: mx.grad(f, argnums=1)(x, y, z) -> x (a single array).
    let gy: Array = grad_argnums(xyz, Argnum::<1>)(&p);
    close(&v(&gy), &[1.0, 2.0], 1e-6);
    let (val, gz) = value_and_grad_argnums(xyz, Argnum::<2>)(&p);
    close(&v(&val), &[1.0 + 9.5], 1e-6);
    close(&v(&gz), &[2.0, 2.0, 2.0], 1e-6);
}

#[test]
fn several_argnums_give_a_tuple_in_their_order() {
    let p = xyz_args();
    // MLX: mx.grad(f, argnums=[2, 0]) -> (dz, dx).
    let (gz, gx) = grad_argnums(xyz, (Argnum::<2>, Argnum::<0>))(&p);
    close(&v(&gz), &[2.0, 2.0, 2.0], 1e-6);
    close(&v(&gx), &[3.0, -1.0], 1e-6);
    let (gx, gy, gz) = grad_argnums(xyz, (Argnum::<0>, Argnum::<1>, Argnum::<2>))(&p);
    close(&v(&gx), &[3.0, -1.0], 1e-6);
    close(&v(&gy), &[1.0, 2.0], 1e-6);
    close(&v(&gz), &[2.0, 2.0, 2.0], 1e-6);
}

/// An argument that is a tree: its gradient is a tree of the same shape.
#[test]
fn an_argnum_selects_a_whole_tree() {
    let loss = |p: &(Vec<Array>, Array)| {
        let s = p.0[0].multiply(&p.1).sum(Axes::All, false);
        s.multiply(p.0[1].sum(Axes::All, false))
    };
    let p = (
        vec![array(&[1.0f32, 2.0], &[2]), array(&[3.0f32], &[1])],
        array(&[4.0f32, 5.0], &[2]),
    );
    let g: Vec<Array> = grad_argnums(loss, Argnum::<0>)(&p);
    // loss = (4 w0 + 5 w1) * b: d/dw = (4b, 5b) = (12, 15), d/db = 14.
    assert_eq!(g.len(), 2);
    close(&v(&g[0]), &[12.0, 15.0], 1e-6);
    close(&v(&g[1]), &[14.0], 1e-6);
}

#[test]
fn argnums_errors_are_clear() {
    let p = xyz_args();
    // A repeated index (MLX: "Duplicate argument index 0 is not allowed").
    let e = try_grad_argnums(xyz, (Argnum::<0>, Argnum::<0>))(&p).unwrap_err();
    assert!(e.message.contains("listed twice"), "{e}");
    // A non-scalar output (MLX raises too).
    let e = try_value_and_grad_argnums(|p: &(Array, Array)| p.0.multiply(&p.1), Argnum::<0>)(&(
        array(&[1.0f32, 2.0], &[2]),
        array(&[3.0f32, 4.0], &[2]),
    ))
    .unwrap_err();
    assert!(e.message.contains("scalar"), "{e}");
    // The infallible form records it in the arrays.
    let g = grad_argnums(|p: &(Array, Array)| p.0.multiply(&p.1), Argnum::<1>)(&(
        array(&[1.0f32, 2.0], &[2]),
        array(&[3.0f32, 4.0], &[2]),
    ));
    assert!(g.to_vec::<f32>().is_err());
    // An index past the last argument (`Argnum::<3>` of a triple) does not
    // compile: "argnum 3 is out of range: `(Array, Array, Array)` has no
    // positional argument 3".
}

/// Integer and bool leaves inside a differentiated tree get a gradient of
/// their own type, as `mx.grad` gives it (values printed by MLX 0.32.4):
/// the cotangent that reaches them through a promotion to float, cast to
/// their type; zeros where nothing reaches them.
#[test]
fn integer_leaves_get_mlx_gradients_of_their_type() {
    let z = array(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    // mx.grad(lambda p: (p[0] * p[1]).sum())([z, [[2], [3]]])
    //   -> [[2, 2], [3, 3]] and [[3], [7]] (int32).
    let m = |p: &Vec<Array>| p[0].multiply(&p[1]).sum(Axes::All, false);
    let g = grad(m)(&vec![z.clone(), array(&[2i32, 3], &[2, 1])]);
    close(&v(&g[0]), &[2.0, 2.0, 3.0, 3.0], 1e-6);
    assert_eq!(g[1].dtype(), DType::I32);
    assert_eq!(g[1].to_vec::<i32>().unwrap(), vec![3, 7]);
    // Through a comparison only: zeros ([[0], [0]] int32).
    let h = |p: &Vec<Array>| {
        p[0].multiply(greater(&p[1], array(&[0i32], &[1])).astype(DType::F32))
            .sum(Axes::All, false)
    };
    let g = grad(h)(&vec![z.clone(), array(&[2i32, -3], &[2, 1])]);
    close(&v(&g[0]), &[1.0, 1.0, 0.0, 0.0], 1e-6);
    assert_eq!(g[1].dtype(), DType::I32);
    assert_eq!(g[1].to_vec::<i32>().unwrap(), vec![0, 0]);
    // A bool leaf: mx.grad gives [[True], [True]] here (the cotangents
    // [[3], [7]] cast to bool).
    let g = grad(m)(&vec![z.clone(), array(&[true, false], &[2, 1])]);
    close(&v(&g[0]), &[1.0, 1.0, 0.0, 0.0], 1e-6);
    assert_eq!(g[1].dtype(), DType::Bool);
    assert_eq!(g[1].to_vec::<bool>().unwrap(), vec![true, true]);
    // Used as indices: MLX raises ("Cannot calculate VJP with respect to
    // indices"); indices are piecewise constant, so they get zeros here.
    let t = |p: &Vec<Array>| take_along_axis(&p[0], &p[1], Some(-1)).sum(Axes::All, false);
    let g = grad(t)(&vec![z, array(&[0i32, 1], &[2, 1])]);
    close(&v(&g[0]), &[1.0, 0.0, 0.0, 1.0], 1e-6);
    assert_eq!(g[1].to_vec::<i32>().unwrap(), vec![0, 0]);
}

// ---------------------------------------------------------------------------
// Closures that capture arrays of an enclosing trace (JAX/MLX closures over
// tracers): the inner transform treats them as constants, the outer one
// differentiates through them.
// ---------------------------------------------------------------------------

fn xs() -> Array {
    array(&[1.0f32, 2.0, -3.0], &[3])
}

#[test]
fn grad_of_a_closure_capturing_the_outer_input() {
    // d/dx [ d/dy sum(x y^2) at y = x ] = d/dx sum(2 x^2) = 4x.
    let f = |x: &Array| {
        let inner = grad(|y: &Array| x.multiply(y).multiply(y).sum(Axes::All, false));
        inner(x).sum(Axes::All, false)
    };
    close(&v(&f(&xs())), &[2.0 * (1.0 + 4.0 + 9.0)], 1e-5);
    close(&v(&grad(f)(&xs())), &[4.0, 8.0, -12.0], 1e-5);
}

/// The classic perturbation-confusion check: d/dx [x * d/dy (x + y)] = 1,
/// not 2 (the inner derivative must not see x's perturbation).
#[test]
fn nested_derivatives_do_not_confuse_perturbations() {
    let f = |x: &Array| {
        let d = grad(|y: &Array| x.add(y).sum(Axes::All, false))(x);
        x.multiply(&d).sum(Axes::All, false)
    };
    close(&v(&grad(f)(&xs())), &[1.0, 1.0, 1.0], 1e-6);
}

#[test]
fn vjp_and_jvp_of_closures_capturing_the_outer_input() {
    // h(x) = <vjp of y -> x sin(y) at y = x with cotangent 1> = sum(x cos x);
    // h'(x) = cos x - x sin x. jvp with tangent 1 gives the same h.
    let want: Vec<f32> = [1.0f32, 2.0, -3.0]
        .iter()
        .map(|x| x.cos() - x * x.sin())
        .collect();
    let by_vjp = |x: &Array| {
        let g = |y: &Array| x.multiply(y.sin());
        let (_, c) = vjp(&g, x, &ones_like(x)).unwrap();
        c.sum(Axes::All, false)
    };
    close(&v(&grad(by_vjp)(&xs())), &want, 1e-5);
    let by_jvp = |x: &Array| {
        let g = |y: &Array| x.multiply(y.sin());
        let (_, t) = jvp(&g, x, &ones_like(x)).unwrap();
        t.sum(Axes::All, false)
    };
    close(&v(&grad(by_jvp)(&xs())), &want, 1e-5);
    // And the other way round: jvp of a function whose inner grad captures.
    let f = |x: &Array| grad(|y: &Array| x.multiply(y).multiply(y).sum(Axes::All, false))(x);
    // f(x) = 2 x^2 elementwise: its jvp along t is 4 x t.
    let t = array(&[1.0f32, 0.5, 2.0], &[3]);
    let (o, ft) = jvp(&f, &xs(), &t).unwrap();
    close(&v(&o), &[2.0, 8.0, 18.0], 1e-5);
    close(&v(&ft), &[4.0, 4.0, -24.0], 1e-5);
}

#[test]
fn vmap_of_a_closure_capturing_the_outer_input() {
    // loss(w) = sum_i sum_j X_ij w_j through a vmap over the rows of X that
    // captures w: d/dw = the column sums of X.
    let x = array(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let loss = |w: &Array| {
        let rows = vmap(
            |r: &Array| r.multiply(w).sum(Axes::All, false),
            vec![Some(0)],
            vec![0],
        );
        rows(&x).unwrap().sum(Axes::All, false)
    };
    close(
        &v(&loss(&xs())),
        &[(1.0 + 4.0 - 9.0) + (4.0 + 10.0 - 18.0)],
        1e-5,
    );
    close(&v(&grad(loss)(&xs())), &[5.0, 7.0, 9.0], 1e-5);
    // vmap of a function whose inner grad captures its input.
    let f = |x: &Array| grad(|y: &Array| x.multiply(y).multiply(y).sum(Axes::All, false))(x);
    let b = vmap(f, vec![Some(0)], vec![0])(&x).unwrap();
    close(&v(&b), &[2.0, 8.0, 18.0, 32.0, 50.0, 72.0], 1e-5);
}

#[test]
fn a_compiled_function_whose_inner_grad_captures_its_input() {
    let f = |x: &Array| grad(|y: &Array| x.multiply(y).multiply(y).sum(Axes::All, false))(x);
    let c = compile(f);
    close(&v(&c.try_call(&xs()).unwrap()), &[2.0, 8.0, 18.0], 1e-5);
    // A compiled closure called inside a trace may not capture the trace's
    // tracers (compile runs eagerly): that is a clear error, not a panic.
}

#[test]
fn custom_vjp_capturing_an_outer_input_is_a_clear_error() {
    let seen = std::cell::RefCell::new(None);
    let x0 = xs();
    trace(
        |a| {
            let x = &a[0];
            let cv = custom_vjp(
                |y: &Array| x.multiply(y).sum(Axes::All, false),
                |y: &Array, _: &Array, _: &Array| ones_like(y),
            );
            *seen.borrow_mut() = Some(try_grad(cv)(x).map(|_| ()));
            vec![x.clone()]
        },
        &[x0.ty().clone()],
    )
    .unwrap();
    let e = seen.into_inner().unwrap().unwrap_err();
    assert!(
        e.message
            .contains("captures an array of an enclosing trace"),
        "{e}"
    );
}
