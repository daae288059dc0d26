//! `compile` (MLX's `mx.compile`): results against the uncompiled closure
//! evaluated by the reference interpreter, the cache key (structure, shapes,
//! dtypes), shapeless compilation, whole training steps
//! (`compile(value_and_grad(loss))`), nests in and out, captured constants,
//! composition with transforms and traces, and errors.

use proptest::prelude::*;
use psionic_mlx::transforms::{grad, value_and_grad_argnums, vmap, Argnum};
use psionic_mlx::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Deterministic values in [-2, 2).
fn data(seed: u64, shape: &[i32]) -> Array {
    let n: i32 = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect();
    array(&v, shape)
}

fn vals(a: &Array) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}

/// Element-wise `|a - b| <= tol * (1 + |b|)`.
fn close(a: &Array, b: &Array, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    assert_eq!(a.dtype(), b.dtype());
    let (x, y) = (vals(a), vals(b));
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        assert!(
            (p - q).abs() <= tol * (1.0 + q.abs()),
            "element {i}: {p} vs {q}"
        );
    }
}

/// The interpreter's value of the uncompiled closure (the oracle).
fn reference<O>(f: impl FnOnce() -> O) -> O {
    // The process-wide eval backend may be Auto; the arrays in these tests
    // are small, so `eval` interprets them either way.
    f()
}

fn gelu(x: &Array) -> Array {
    x * &sigmoid(&(x * 1.702))
}

#[test]
fn results_match_and_the_cache_is_keyed_by_shapes_and_dtypes() {
    let c = compile(gelu);
    let x = data(1, &[3, 5]);
    close(&c.try_call(&x).unwrap(), &reference(|| gelu(&x)), 1e-6);
    let x2 = data(2, &[3, 5]);
    close(&c.try_call(&x2).unwrap(), &gelu(&x2), 1e-6);
    assert_eq!(c.traces(), 1, "same shape and dtype: one trace");
    let y = data(3, &[7]);
    close(&c.try_call(&y).unwrap(), &gelu(&y), 1e-6);
    assert_eq!(c.traces(), 2, "a new shape traces again");
    let z = data(4, &[7]).astype(DType::F16);
    let got = c.try_call(&z).unwrap();
    assert_eq!(got.dtype(), DType::F16);
    close(&got.astype(DType::F32), &gelu(&z).astype(DType::F32), 4e-3);
    assert_eq!(c.traces(), 3, "a new dtype traces again");
    assert_eq!(c.specializations(), 3);
    // Compiled outputs are evaluated arrays.
    assert!(c.try_call(&x).unwrap().is_evaluated());
}

#[test]
fn the_cache_key_includes_the_tree_structure() {
    // Same leaf types, different map keys: the closure reads by name.
    let calls = Mutex::new(0);
    let f = |m: &BTreeMap<String, Array>| {
        *calls.lock().unwrap() += 1;
        match m.get("a") {
            Some(a) => a * 2.0,
            None => m.values().next().unwrap() * 3.0,
        }
    };
    let c = compile(f);
    let x = data(5, &[4]);
    let mut m1 = BTreeMap::new();
    m1.insert("a".to_string(), x.clone());
    let mut m2 = BTreeMap::new();
    m2.insert("b".to_string(), x.clone());
    close(&c.try_call(&m1).unwrap(), &(&x * 2.0), 0.0);
    close(&c.try_call(&m2).unwrap(), &(&x * 3.0), 0.0);
    close(&c.try_call(&m1).unwrap(), &(&x * 2.0), 0.0);
    assert_eq!(c.traces(), 2);
    assert_eq!(*calls.lock().unwrap(), 2, "the closure runs once per trace");
}

#[test]
fn shapeless_traces_once_for_every_shape() {
    let f = |p: &(Array, Array)| exp(&p.0) * &p.1 + 1.0;
    let c = compile_shapeless(f);
    for (k, shape) in [[2i32, 4], [3, 7], [1, 1], [5, 2]].iter().enumerate() {
        let p = (data(10 + k as u64, shape), data(20 + k as u64, shape));
        close(&c.try_call(&p).unwrap(), &f(&p), 1e-5);
    }
    assert_eq!(c.traces(), 1, "one shapeless trace");
    assert_eq!(c.specializations(), 4, "code per concrete shape");
    // A new rank or dtype is a new trace.
    let p = (data(30, &[6]), data(31, &[6]));
    close(&c.try_call(&p).unwrap(), &f(&p), 1e-5);
    assert_eq!(c.traces(), 2);
    // The trace has symbolic dimensions.
    let t = c.traced(&p).unwrap();
    assert!(t.param_types().iter().all(|t| t.shape == vec![DYN]));
}

#[test]
fn shapeless_reductions_and_matmul() {
    // mean(x @ w + b, -1), as in the shared `shapeless_batched_matmul_mean` case.
    let f = |p: &(Array, Array, Array)| mean(&(p.0.matmul(&p.1) + &p.2), -1, false);
    let c = compile_shapeless(f);
    for (k, (b, m, n)) in [(2i32, 3i32, 4i32), (4, 2, 6), (1, 5, 3)]
        .iter()
        .enumerate()
    {
        let k = k as u64;
        let p = (
            data(40 + k, &[*b, 3, *m]),
            data(50 + k, &[*m, *n]),
            data(60 + k, &[*n]),
        );
        close(&c.try_call(&p).unwrap(), &f(&p), 1e-5);
    }
    assert_eq!(c.traces(), 1);
}

fn mlp_logits(p: &[Array], x: &Array) -> Array {
    let h = maximum(&(x.matmul(&p[0]) + &p[1]), 0.0);
    h.matmul(&p[2]) + &p[3]
}

fn cross_entropy(z: &Array, labels: &Array) -> Array {
    let picked = take_along_axis(z, &expand_dims(labels, -1), Some(-1)).squeeze(-1);
    mean(&(logsumexp(z, -1, false) - picked), Axes::All, false)
}

/// `(params, x, labels)`: MLX's `loss(params, x, labels)`, differentiated
/// with `argnums=0` so the integer labels are a plain argument.
type Args = (Vec<Array>, Array, Array);

fn loss(p: &Args) -> Array {
    cross_entropy(&mlp_logits(&p.0, &p.1), &p.2)
}

fn init() -> Args {
    let params = vec![
        data(70, &[6, 16]) * 0.3,
        data(71, &[16]) * 0.1,
        data(72, &[16, 4]) * 0.3,
        data(73, &[4]) * 0.1,
    ];
    let x = data(74, &[8, 6]);
    let labels = array(&[0i32, 1, 2, 3, 3, 2, 1, 0], &[8]);
    (params, x, labels)
}

#[test]
fn a_compiled_value_and_grad_matches_the_uncompiled_one() {
    let p = init();
    let step = compile(value_and_grad_argnums(loss, Argnum::<0>));
    let (v, g) = step.try_call(&p).unwrap();
    let (v0, g0) = value_and_grad_argnums(loss, Argnum::<0>)(&p);
    close(&v, &v0, 1e-5);
    // One gradient per parameter, none for x and the labels.
    assert_eq!(g.len(), 4);
    for (a, b) in g.iter().zip(&g0) {
        close(a, b, 1e-5);
    }
    // And it is the gradient: a central difference along one weight.
    let h = 1e-2f32;
    let mut plus = p.clone();
    let mut minus = p.clone();
    let bump = |w: &Array, s: f32| {
        let mut v = vals(w);
        v[5] += s;
        array(&v, &[6, 16])
    };
    plus.0[0] = bump(&p.0[0], h);
    minus.0[0] = bump(&p.0[0], -h);
    let fd = (vals(&loss(&plus))[0] - vals(&loss(&minus))[0]) / (2.0 * h);
    let g5 = vals(&g[0])[5];
    assert!(
        (fd - g5).abs() < 1e-3,
        "finite difference {fd}, gradient {g5}"
    );
}

#[test]
fn a_compiled_training_step_with_sgd_trains() {
    // One step: value_and_grad, then SGD, all in one compiled program.
    let sgd = |p: &Args| {
        let (l, g) = value_and_grad_argnums(loss, Argnum::<0>)(p);
        let new: Vec<Array> = p.0.iter().zip(&g).map(|(w, d)| w - &(d * 0.5)).collect();
        (l, new)
    };
    let step = compile(sgd);
    let (mut params, x, labels) = init();
    let (mut ref_params, _, _) = init();
    let mut losses = Vec::new();
    for _ in 0..12 {
        let (l, new) = step
            .try_call(&(params.clone(), x.clone(), labels.clone()))
            .unwrap();
        let (l0, new0) = sgd(&(ref_params.clone(), x.clone(), labels.clone()));
        close(&l, &l0, 1e-4);
        losses.push(l.item::<f32>().unwrap());
        params = new;
        ref_params = new0;
        eval(&ref_params.iter().collect::<Vec<_>>()).unwrap();
    }
    assert_eq!(step.traces(), 1, "one trace for the whole loop");
    assert!(losses[11] < 0.5 * losses[0], "the loss falls: {losses:?}");
}

#[test]
fn nests_in_and_out() {
    // (map, vec) in; (vec, (array, map)) out.
    let f = |p: &(BTreeMap<String, Array>, Vec<Array>)| {
        let a = &p.0["a"];
        let b = &p.0["b"];
        let s = &p.1[0] + &p.1[1];
        let mut m = BTreeMap::new();
        m.insert("prod".to_string(), a * b);
        m.insert("same".to_string(), b.clone());
        (vec![s.clone(), tanh(&s)], (sum(a, Axes::All, false), m))
    };
    let mut m = BTreeMap::new();
    m.insert("a".to_string(), data(80, &[2, 3]));
    m.insert("b".to_string(), data(81, &[2, 3]));
    let p = (m, vec![data(82, &[4]), data(83, &[4])]);
    let c = compile(f);
    let got = c.try_call(&p).unwrap();
    let want = f(&p);
    close(&got.0[0], &want.0[0], 1e-6);
    close(&got.0[1], &want.0[1], 1e-6);
    close(&got.1 .0, &want.1 .0, 1e-6);
    close(&got.1 .1["prod"], &want.1 .1["prod"], 1e-6);
    // An output that is an input comes back with the input's values.
    close(&got.1 .1["same"], &p.0["b"], 0.0);
}

#[test]
fn captured_arrays_are_constants_of_the_trace() {
    let w = Mutex::new(array(&[1.0f32, 2.0, 3.0], &[3]));
    let f = |x: &Array| x * &*w.lock().unwrap();
    let c = compile(f);
    let x = array(&[1.0f32, 1.0, 1.0], &[3]);
    assert_eq!(vals(&c.try_call(&x).unwrap()), [1.0, 2.0, 3.0]);
    // Rebinding the captured variable is not seen by the existing trace
    // (MLX behaves the same: pass changing state as an input).
    *w.lock().unwrap() = array(&[10.0f32, 20.0, 30.0], &[3]);
    assert_eq!(vals(&c.try_call(&x).unwrap()), [1.0, 2.0, 3.0]);
    // A new trace (another shape) captures the value current at its trace.
    *w.lock().unwrap() = array(&[5.0f32], &[1]);
    let x4 = array(&[1.0f32, 2.0, 3.0, 4.0], &[4]);
    assert_eq!(vals(&c.try_call(&x4).unwrap()), [5.0, 10.0, 15.0, 20.0]);
    // The captured data sits in the trace as a constant.
    let t = c.traced(&x).unwrap();
    assert!(t
        .ops
        .iter()
        .any(|o| o.opcode == psionic_ir::Opcode::Constant));
}

#[test]
fn compiled_functions_compose_with_transforms_and_traces() {
    let c = compile(|x: &Array| sum(&(x * x * x), Axes::All, false));
    let x = data(90, &[5]);
    // grad of a compiled function traces the closure.
    let g = grad(&c)(&x);
    close(&g, &(&x * &x * 3.0), 1e-5);
    // vmap of a compiled function.
    let xs = data(91, &[3, 5]);
    let v = vmap(&c, vec![Some(0)], vec![0])(&xs).unwrap();
    close(&v, &sum(&(&xs * &xs * &xs), -1, false), 1e-5);
    // A compiled function called inside another compiled function is
    // inlined into the outer trace.
    let outer = compile(|x: &Array| c.call(x) + 1.0);
    close(&outer.try_call(&x).unwrap(), &(c.call(&x) + 1.0), 1e-5);
    // Unevaluated inputs are evaluated first.
    let lazy = &x + 1.0;
    assert!(!lazy.is_evaluated());
    close(
        &c.try_call(&lazy).unwrap(),
        &sum(&(&lazy * &lazy * &lazy), Axes::All, false),
        1e-5,
    );
}

#[test]
fn errors_are_values() {
    let c = compile(|p: &(Array, Array)| &p.0 + &p.1);
    let bad = (data(1, &[2, 3]), data(2, &[4]));
    let e = c.try_call(&bad).unwrap_err();
    assert!(e.message.contains("cannot be broadcast"), "{e}");
    // The infallible form records the error in the outputs.
    let out = c.call(&bad);
    assert!(out.to_vec::<f32>().is_err());
    // An input carrying an error.
    let c1 = compile(gelu);
    let broken = data(1, &[2]) + data(2, &[3]);
    assert!(c1.try_call(&broken).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random shapes: a compiled softmax-and-reduce closure agrees with the
    /// interpreter on the uncompiled one.
    #[test]
    fn compiled_matches_eager_on_random_shapes(
        rows in 1i32..9, cols in 1i32..40, seed in proptest::arbitrary::any::<u64>(), shapeless in proptest::arbitrary::any::<bool>()
    ) {
        let f = |p: &(Array, Array)| {
            let s = softmax(&(&p.0 * &p.1), -1, false);
            (s.clone(), logsumexp(&p.0, -1, false) + max(&s, Axes::All, false))
        };
        let c = compile_with(
            f,
            psionic_mlx::compile::CompileOptions {
                shapeless,
                ..Default::default()
            },
        );
        let p = (data(seed, &[rows, cols]), data(seed ^ 1, &[cols]));
        let got = c.try_call(&p).unwrap();
        let want = f(&p);
        close(&got.0, &want.0, 1e-5);
        close(&got.1, &want.1, 1e-5);
    }
}
