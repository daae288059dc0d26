//! Compositions of transforms on imported `.mlxfn` functions against finite
//! differences: for every conformance case with a `vjp` check (the shared
//! set and our `t_*` cases; shapeless files and complex-valued functions
//! left out), the imported function is widened to float64 (the same ops,
//! f64 rounding: `widen_f64`) and reduced to a scalar with random weights,
//! `s(x) = sum_j <c_j, f_j(x)>`, over the case's differentiated inputs.
//! With random directions `u`, `v`:
//!
//! - `grad`: `<v, grad s>` against a central difference of `s`;
//! - `grad(grad)`: `<v, grad <u, grad s>>` (= `v^T H u`) against the
//!   second difference `[s(+u+v) - s(+u-v) - s(-u+v) + s(-u-v)] / 4h^2`;
//! - `jvp(grad)`: `<v, jvp(grad s)(u)>`, the same `v^T H u`;
//! - `vmap(grad)`: `grad s` of three random lanes at once (a batched axis 0
//!   on every differentiated input), against `grad s` of each lane and each
//!   lane's central difference;
//! - `grad(vmap)`: `grad` of `sum <C, vmap(f)(X)>` against a central
//!   difference along a random batched direction.
//!
//! Only the function's forward evaluation (the reference interpreter)
//! produces the references. Where `s` is not smooth at the point (a step
//! crosses a kink: the differences at `h` and `h/2` disagree), that check is
//! skipped and counted; skips must stay rare.

mod mlxfn_support;

use mlxfn_support::*;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_mlx::mlxfn;
use psionic_passes::autodiff::builder::{inline, B};
use psionic_passes::autodiff::{grad, jvp};
use psionic_passes::vmap::vmap_with_size;
use psionic_runtime::interp::run_func;

const LANES: usize = 3;

/// xorshift64*: deterministic random values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn lit(&mut self, t: &TensorType) -> Literal {
        let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| self.next()).collect();
        Literal::from_f64(DType::F64, shape, &v).unwrap()
    }
}

fn run(f: &Func, x: &[Literal]) -> Vec<Literal> {
    run_func(f, x).unwrap_or_else(|e| panic!("{}: {e}", f.name))
}

fn dot(a: &Literal, b: &Literal) -> f64 {
    a.to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .map(|(x, y)| x * y)
        .sum()
}

/// `x + s d` (f64).
fn axpy(x: &Literal, s: f64, d: &Literal) -> Literal {
    let v: Vec<f64> = x
        .to_f64_vec()
        .iter()
        .zip(d.to_f64_vec())
        .map(|(a, b)| a + s * b)
        .collect();
    Literal::from_f64(x.dtype(), x.shape().to_vec(), &v).unwrap()
}

/// `(primals...) -> sum_j <w_j, f_j(primals)>` over the outputs with a
/// weight (`None`: not used).
fn weighted_sum(f: &Func, w: &[Option<Literal>]) -> Func {
    let mut g = Func::new(format!("{}_sum", f.name), f.param_types());
    let args = g.params.clone();
    let outs = inline(&mut g, f, &args).unwrap();
    let mut b = B::new(&mut g);
    let mut acc = None;
    for (o, w) in outs.iter().zip(w) {
        let Some(w) = w else { continue };
        let c = b
            .op(
                Opcode::Constant,
                &[],
                Attrs::new().with("value", Attr::Dense(w.clone())),
            )
            .unwrap();
        let p = b.mul(*o, c).unwrap();
        let r = b.rank(p);
        let s = if r == 0 {
            p
        } else {
            b.sum(p, &(0..r).collect::<Vec<_>>(), false).unwrap()
        };
        acc = Some(match acc {
            None => s,
            Some(a) => b.add(a, s).unwrap(),
        });
    }
    g.results = vec![acc.expect("a float output")];
    g
}

/// `s(x)` with the differentiated inputs `x[i]` for `i` in `wrt` moved.
fn at(f: &Func, x: &[Literal], wrt: &[usize], moves: &[(f64, &[Literal])]) -> f64 {
    let mut xs = x.to_vec();
    for (s, d) in moves {
        for (k, &i) in wrt.iter().enumerate() {
            xs[i] = axpy(&xs[i], *s, &d[k]);
        }
    }
    run(f, &xs)[0].to_f64_vec()[0]
}

/// `d/dt s(x + t d)` by central differences at step `h`.
fn first(f: &Func, x: &[Literal], wrt: &[usize], d: &[Literal], h: f64) -> f64 {
    (at(f, x, wrt, &[(h, d)]) - at(f, x, wrt, &[(-h, d)])) / (2.0 * h)
}

/// `d^2/dt ds s(x + t u + s v)` by second differences at step `h`.
fn second(f: &Func, x: &[Literal], wrt: &[usize], u: &[Literal], v: &[Literal], h: f64) -> f64 {
    let e = |a: f64, b: f64| at(f, x, wrt, &[(a, u), (b, v)]);
    (e(h, h) - e(h, -h) - e(-h, h) + e(-h, -h)) / (4.0 * h * h)
}

/// A finite difference at `h` that agrees with the one at `h/2` (the
/// function is smooth there), or `None`.
fn smooth(d: impl Fn(f64) -> f64, h: f64, tol: f64) -> Option<f64> {
    let (a, b) = (d(h), d(h / 2.0));
    ((a - b).abs() <= tol * (1.0 + b.abs())).then_some(b)
}

fn close(what: &str, got: f64, want: f64, tol: f64) -> Result<(), String> {
    if (got - want).abs() <= tol * (1.0 + want.abs()) {
        Ok(())
    } else {
        Err(format!("{what}: {got} vs finite differences {want}"))
    }
}

#[derive(Default)]
struct Tally {
    checks: usize,
    skipped: Vec<String>,
}

/// All five compositions on one case (first data set), with directions
/// from `seed`.
fn check_case(case: &Case, seed: u64, t: &mut Tally) -> Result<(), String> {
    let m = mlxfn::read(&case.bytes()).map_err(|e| format!("import: {e}"))?;
    let given: Vec<(String, TensorType)> = case
        .tensors
        .iter()
        .filter_map(|(n, l)| Some((n.strip_prefix("in.")?.to_string(), l.ty())))
        .collect();
    let (f, keys) = mlxfn::select_trace(&m, "main", &given)?;
    let diff: Vec<String> = case.json["diff_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let wrt: Vec<usize> = diff
        .iter()
        .map(|k| keys.iter().position(|x| x == k).unwrap())
        .collect();
    let f = widen_f64(f);
    let x: Vec<Literal> = keys
        .iter()
        .map(|k| widen_literal(&case.tensors[&format!("in.{k}")]))
        .collect();
    let mut r = Rng::new(seed);
    let w: Vec<Option<Literal>> = f
        .result_types()
        .iter()
        .map(|t| (t.dtype == DType::F64).then(|| r.lit(t)))
        .collect();
    let s = weighted_sum(&f, &w);
    let dir = |r: &mut Rng| -> Vec<Literal> { wrt.iter().map(|&i| r.lit(&x[i].ty())).collect() };
    let (u, v) = (dir(&mut r), dir(&mut r));
    let dots = |a: &[Literal], b: &[Literal]| a.iter().zip(b).map(|(p, q)| dot(p, q)).sum::<f64>();
    let name = &case.name;

    // grad: <v, grad s> against a central difference.
    let g1 = grad(&s, &wrt).map_err(|e| format!("grad: {e}"))?;
    let gx = run(&g1, &x);
    match smooth(|h| first(&s, &x, &wrt, &v, h), 1e-4, 1e-5) {
        Some(fd) => close("grad", dots(&v, &gx), fd, 1e-6)?,
        None => t.skipped.push(format!("{name} grad")),
    }
    t.checks += 1;

    // grad(grad) and jvp(grad): v^T H u against second differences.
    let s2 = weighted_sum(&g1, &u.iter().cloned().map(Some).collect::<Vec<_>>());
    let g2 = grad(&s2, &wrt).map_err(|e| format!("grad(grad): {e}"))?;
    let hu = run(&g2, &x);
    let jg = jvp(&g1, &wrt).map_err(|e| format!("jvp(grad): {e}"))?;
    let mut jx = x.clone();
    jx.extend(u.iter().cloned());
    let jo = run(&jg, &jx);
    let hu_fwd = &jo[wrt.len()..];
    match smooth(|h| second(&s, &x, &wrt, &u, &v, h), 1e-3, 1e-4) {
        Some(fd) => {
            close("grad(grad)", dots(&v, &hu), fd, 1e-4)?;
            close("jvp(grad)", dots(&v, hu_fwd), fd, 1e-4)?;
        }
        None => t.skipped.push(format!("{name} grad(grad)")),
    }
    t.checks += 2;

    // vmap(grad): three lanes of the differentiated inputs at once.
    let lanes: Vec<Vec<Literal>> = (0..LANES)
        .map(|l| {
            let mut xl = x.clone();
            if l > 0 {
                // Near the data point: the cases keep away from kinks and
                // from the edges of domains (log, sqrt, cholesky).
                let d = dir(&mut r);
                for (k, &i) in wrt.iter().enumerate() {
                    xl[i] = axpy(&x[i], 0.05, &d[k]);
                }
            }
            xl
        })
        .collect();
    let in_axes: Vec<Option<i64>> = (0..x.len())
        .map(|i| wrt.contains(&i).then_some(0))
        .collect();
    let bargs: Vec<Literal> = (0..x.len())
        .map(|i| {
            if wrt.contains(&i) {
                stack0(&lanes.iter().map(|l| l[i].clone()).collect::<Vec<_>>())
            } else {
                x[i].clone()
            }
        })
        .collect();
    let vg = vmap_with_size(&g1, &in_axes, &vec![0; wrt.len()], Some(LANES as i64))
        .map_err(|e| format!("vmap(grad): {e}"))?;
    let bg = run(&vg, &bargs);
    for (l, xl) in lanes.iter().enumerate() {
        let gl = run(&g1, xl);
        for (k, b) in bg.iter().enumerate() {
            let lane = slice0(b, l);
            for (p, q) in lane.to_f64_vec().iter().zip(gl[k].to_f64_vec()) {
                close(&format!("vmap(grad) lane {l}"), *p, q, 1e-9)?;
            }
        }
        match smooth(|h| first(&s, xl, &wrt, &v, h), 1e-4, 1e-5) {
            Some(fd) => close(&format!("vmap(grad) lane {l}"), dots(&v, &gl), fd, 1e-6)?,
            None => t.skipped.push(format!("{name} vmap(grad) lane {l}")),
        }
    }
    t.checks += 1;

    // grad(vmap): the gradient of sum <C, vmap(f)(X)>.
    let fv = vmap_with_size(&f, &in_axes, &vec![0; f.results.len()], Some(LANES as i64))
        .map_err(|e| format!("vmap: {e}"))?;
    let wv: Vec<Option<Literal>> = fv
        .result_types()
        .iter()
        .map(|t| (t.dtype == DType::F64).then(|| r.lit(t)))
        .collect();
    let sv = weighted_sum(&fv, &wv);
    let gv = grad(&sv, &wrt).map_err(|e| format!("grad(vmap): {e}"))?;
    let gb = run(&gv, &bargs);
    let vb: Vec<Literal> = wrt.iter().map(|&i| r.lit(&bargs[i].ty())).collect();
    match smooth(|h| first(&sv, &bargs, &wrt, &vb, h), 1e-4, 1e-5) {
        Some(fd) => close("grad(vmap)", dots(&vb, &gb), fd, 1e-6)?,
        None => t.skipped.push(format!("{name} grad(vmap)")),
    }
    t.checks += 1;
    Ok(())
}

/// Stacks literals along a new axis 0.
fn stack0(xs: &[Literal]) -> Literal {
    let mut shape = vec![xs.len()];
    shape.extend_from_slice(xs[0].shape());
    let v: Vec<f64> = xs.iter().flat_map(|l| l.to_f64_vec()).collect();
    Literal::from_f64(xs[0].dtype(), shape, &v).unwrap()
}

/// Lane `i` of axis 0.
fn slice0(x: &Literal, i: usize) -> Literal {
    let shape = x.shape()[1..].to_vec();
    let n: usize = shape.iter().product();
    let v = x.to_f64_vec()[i * n..(i + 1) * n].to_vec();
    Literal::from_f64(x.dtype(), shape, &v).unwrap()
}

fn eligible(case: &Case) -> bool {
    let checks = case.json["checks"].as_array().cloned().unwrap_or_default();
    let has_vjp = checks.iter().any(|c| c == "vjp");
    let diff = case.json["diff_inputs"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    has_vjp
        && diff
        && case.json["shapeless"] != true
        && case_supported(case)
        && !case.primitives().iter().any(|p| {
            // Complex values stay c64 (f32 rounding) in the widened function.
            matches!(p.as_str(), "FFT" | "Real" | "Imag" | "Conjugate")
        })
}

#[test]
fn compositions_on_imported_functions_match_finite_differences() {
    let mut t = Tally::default();
    let mut failures = Vec::new();
    let mut cases = 0;
    for dir in all_case_dirs() {
        let case = Case::load(&dir);
        if !eligible(&case) {
            continue;
        }
        cases += 1;
        for seed in [1u64, 2] {
            let seed = seed ^ (cases as u64) << 8;
            if let Err(e) = check_case(&case, seed, &mut t) {
                failures.push(format!("{} (seed {seed}): {e}", case.name));
            }
        }
    }
    println!(
        "{cases} cases, {} checks, {} skipped where not smooth: {:?}",
        t.checks,
        t.skipped.len(),
        t.skipped
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 30, "only {cases} cases");
    assert!(
        t.skipped.len() * 10 <= t.checks,
        "too many checks skipped: {:?}",
        t.skipped
    );
}
