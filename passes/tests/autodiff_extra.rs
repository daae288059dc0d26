//! Derivatives and batching of the MLX extras (convolution, FFT, linear
//! algebra, quantized matmuls, gather_mm, block masks, rope, sdpa,
//! as_strided, masked_scatter, the complex parts, the norm backward ops) and
//! of cumprod with zeros, on random shapes and attributes:
//!
//! - jvp against central differences (f64 programs; programs that pass
//!   through c64 or f32 use a larger step and tolerance),
//! - the vjp as the transpose of the jvp: `<vjp(c), v> = <c, jvp(v)>`, with
//!   complex values seen as pairs of reals (MLX's convention: the cotangent
//!   of a complex value is the real adjoint),
//! - vmap against a per-lane loop through the interpreter, with random
//!   in_axes (some inputs unbatched), known and symbolic batch sizes.

mod autodiff_support;

use autodiff_support::{describe, rng, run, Gen, F};
use proptest::prelude::*;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use psionic_passes::autodiff::{jvp, vjp};
use psionic_passes::vmap::{vmap, vmap_with_size};
use rand::rngs::StdRng;
use rand::Rng;

// ---------------------------------------------------------------------------
// Literals as real vectors (complex as (re, im) pairs) and back.
// ---------------------------------------------------------------------------

fn reals(l: &Literal) -> Vec<f64> {
    if l.dtype() == DType::C64 {
        l.bytes()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect()
    } else {
        l.to_f64_vec()
    }
}

fn from_reals(t: &TensorType, v: &[f64]) -> Literal {
    let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
    if t.dtype == DType::C64 {
        let bytes: Vec<u8> = v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect();
        Literal::from_bytes(DType::C64, shape, bytes).unwrap()
    } else {
        Literal::from_f64(t.dtype, shape, v).unwrap()
    }
}

fn rand_for(r: &mut StdRng, t: &TensorType) -> Literal {
    let n: usize =
        t.shape.iter().product::<i64>() as usize * if t.dtype == DType::C64 { 2 } else { 1 };
    let v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.0..1.0)).collect();
    from_reals(t, &v)
}

fn low_precision(f: &Func) -> bool {
    f.value_types
        .iter()
        .any(|t| matches!(t.dtype, DType::F32 | DType::C64 | DType::F16 | DType::BF16))
}

fn fd(f: &Func, x: &[Literal], wrt: &[usize], dir: &[Literal], h: f64) -> Vec<Vec<f64>> {
    let shifted = |s: f64| -> Vec<Literal> {
        let mut xs = x.to_vec();
        for (k, &i) in wrt.iter().enumerate() {
            let v: Vec<f64> = reals(&x[i])
                .iter()
                .zip(reals(&dir[k]))
                .map(|(a, d)| a + s * d)
                .collect();
            xs[i] = from_reals(&x[i].ty(), &v);
        }
        xs
    };
    let p = run(f, &shifted(h));
    let m = run(f, &shifted(-h));
    p.iter()
        .zip(&m)
        .map(|(p, m)| {
            reals(p)
                .iter()
                .zip(reals(m))
                .map(|(a, b)| (a - b) / (2.0 * h))
                .collect()
        })
        .collect()
}

/// Checks jvp (against finite differences) and vjp (as its transpose) of
/// `f` with respect to `wrt` at `x`.
fn check_ad(f: &Func, x: &[Literal], wrt: &[usize], seed: u64) {
    let mut r = rng(seed ^ 0xad);
    let lp = low_precision(f);
    let (h, rtol, atol) = if lp {
        (1e-2, 3e-3, 3e-3)
    } else {
        (1e-5, 1e-5, 1e-6)
    };
    let dirs: Vec<Literal> = wrt.iter().map(|&i| rand_for(&mut r, &x[i].ty())).collect();
    let want = run(f, x);
    let n = f.results.len();
    let float_out: Vec<bool> = f
        .result_types()
        .iter()
        .map(|t| t.dtype.is_inexact())
        .collect();
    let cots: Vec<Literal> = f
        .result_types()
        .iter()
        .map(|t| rand_for(&mut r, t))
        .collect();

    let j = jvp(f, wrt).unwrap_or_else(|e| panic!("jvp failed: {e}\n{}", describe(f)));
    let mut jin = x.to_vec();
    jin.extend(dirs.iter().cloned());
    let jout = run(&j, &jin);
    for k in 0..n {
        assert_eq!(reals(&jout[k]), reals(&want[k]), "jvp primal output {k}");
    }
    let d1 = fd(f, x, wrt, &dirs, h);
    let d2 = fd(f, x, wrt, &dirs, h / 2.0);
    for k in 0..n {
        if !float_out[k] {
            continue;
        }
        let a = reals(&jout[n + k]);
        for i in 0..a.len() {
            let (b, c) = (d1[k][i], d2[k][i]);
            if (b - c).abs() > 10.0 * (atol + rtol * b.abs()) {
                continue;
            }
            assert!(
                (a[i] - b).abs() <= atol + rtol * b.abs(),
                "jvp vs finite differences: output {k} element {i}: {} vs {b}\n{}\njvp:\n{}",
                a[i],
                describe(f),
                describe(&j)
            );
        }
    }

    let v = vjp(f, wrt).unwrap_or_else(|e| panic!("vjp failed: {e}\n{}", describe(f)));
    let mut vin = x.to_vec();
    vin.extend(cots.iter().cloned());
    let vout = run(&v, &vin);
    for k in 0..n {
        assert_eq!(reals(&vout[k]), reals(&want[k]), "vjp primal output {k}");
    }
    let mut lhs = 0.0;
    let mut m1 = 0.0;
    for (g, d) in vout[n..].iter().zip(&dirs) {
        for (p, q) in reals(g).iter().zip(reals(d)) {
            lhs += p * q;
            m1 += (p * q).abs();
        }
    }
    let mut rhs = 0.0;
    let mut m2 = 0.0;
    for k in 0..n {
        if !float_out[k] {
            continue;
        }
        for (p, q) in reals(&cots[k]).iter().zip(reals(&jout[n + k])) {
            rhs += p * q;
            m2 += (p * q).abs();
        }
    }
    let tol = if lp { 2e-5 } else { 1e-10 } * (1.0 + f64::max(m1, m2));
    // MLX's complex multiply/cast rules are not real adjoints (no
    // conjugation), so the identity only holds for programs without c64.
    let complex = f.value_types.iter().any(|t| t.dtype == DType::C64);
    assert!(
        complex || (lhs - rhs).abs() <= tol,
        "<vjp(c), v> = {lhs} but <c, jvp(v)> = {rhs}\n{}\nvjp:\n{}",
        describe(f),
        describe(&v)
    );
}

// ---------------------------------------------------------------------------
// vmap against a per-lane loop (byte-level stacking: any dtype).
// ---------------------------------------------------------------------------

fn stack(xs: &[Literal], axis: usize) -> Literal {
    let shape = xs[0].shape().to_vec();
    let es = xs[0].dtype().size();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis..].iter().product::<usize>() * es;
    let mut v = Vec::new();
    for o in 0..outer {
        for x in xs {
            v.extend_from_slice(&x.bytes()[o * inner..(o + 1) * inner]);
        }
    }
    let mut s = shape;
    s.insert(axis, xs.len());
    Literal::from_bytes(xs[0].dtype(), s, v).unwrap()
}

const LANES: usize = 3;

/// `lane_inputs(r)` draws one example's inputs; `batchable[i]` says whether
/// input `i` may be batched (every one may also be left unbatched).
fn check_vmap(
    f: &Func,
    seed: u64,
    lane_inputs: &dyn Fn(&mut StdRng) -> Vec<Literal>,
    batchable: &[bool],
) {
    let mut r = rng(seed ^ 0xbead);
    let np = f.params.len();
    let mut in_axes: Vec<Option<i64>> = Vec::new();
    for i in 0..np {
        let rank = f.ty(f.params[i]).rank();
        if !batchable[i] || (i > 0 && r.gen_bool(0.3)) {
            in_axes.push(None);
        } else {
            in_axes.push(Some(r.gen_range(0..=rank) as i64));
        }
    }
    if in_axes.iter().all(Option::is_none) {
        let i = (0..np).find(|&i| batchable[i]).unwrap();
        in_axes[i] = Some(0);
    }
    let per: Vec<Vec<Literal>> = (0..LANES).map(|_| lane_inputs(&mut r)).collect();
    let fixed = lane_inputs(&mut r);
    let mut batched = Vec::new();
    let mut examples: Vec<Vec<Literal>> = vec![Vec::new(); LANES];
    for i in 0..np {
        match in_axes[i] {
            Some(a) => {
                let xs: Vec<Literal> = (0..LANES).map(|l| per[l][i].clone()).collect();
                batched.push(stack(&xs, a as usize));
                for (l, e) in examples.iter_mut().enumerate() {
                    e.push(per[l][i].clone());
                }
            }
            None => {
                batched.push(fixed[i].clone());
                for e in examples.iter_mut() {
                    e.push(fixed[i].clone());
                }
            }
        }
    }
    let outs: Vec<Vec<Literal>> = examples.iter().map(|e| run(f, e)).collect();
    let out_axes: Vec<i64> = f
        .result_types()
        .iter()
        .map(|t| r.gen_range(0..=t.rank()) as i64)
        .collect();
    let want: Vec<Literal> = (0..f.results.len())
        .map(|j| {
            let xs: Vec<Literal> = outs.iter().map(|o| o[j].clone()).collect();
            stack(&xs, out_axes[j] as usize)
        })
        .collect();
    let lp = low_precision(f);
    let tol = if lp { 1e-5 } else { 1e-11 };
    let check = |v: &Func, what: &str| {
        let got = run(v, &batched);
        for j in 0..want.len() {
            assert_eq!(got[j].shape(), want[j].shape(), "{what} output {j} shape");
            let (a, b) = (reals(&got[j]), reals(&want[j]));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    x == y || (x - y).abs() <= tol * (1.0 + y.abs()),
                    "{what} output {j} element {i}: {x} vs {y}, in_axes {in_axes:?}\n{}\nvmap:\n{}",
                    describe(f),
                    describe(v)
                );
            }
        }
    };
    let v = vmap_with_size(f, &in_axes, &out_axes, Some(LANES as i64))
        .unwrap_or_else(|e| panic!("vmap failed: {e}, in_axes {in_axes:?}\n{}", describe(f)));
    check(&v, "vmap (known size)");
    match vmap(f, &in_axes, &out_axes) {
        Ok(v) => check(&v, "vmap (symbolic size)"),
        Err(e) => assert!(
            e.message.contains("known batch size") || e.message.contains("static"),
            "symbolic vmap failed: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------
// Program builders.
// ---------------------------------------------------------------------------

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

fn konst(g: &mut Gen, lit: Literal) -> Value {
    g.op(
        Opcode::Constant,
        &[],
        Attrs::new().with("value", Attr::Dense(lit)),
    )
}

/// A program with float params of `shapes` built by `body`.
fn program(
    shapes: &[Vec<i64>],
    body: impl FnOnce(&mut Gen, &[Value]) -> Vec<Value>,
    r: &mut StdRng,
) -> Func {
    let mut g = Gen::new(r);
    let ps: Vec<Value> = shapes.iter().map(|s| g.param(s)).collect();
    let res = body(&mut g, &ps);
    g.f.results = res;
    g.f
}

fn inputs(f: &Func, r: &mut StdRng) -> Vec<Literal> {
    f.param_types().iter().map(|t| rand_for(r, t)).collect()
}

fn all(f: &Func) -> Vec<usize> {
    (0..f.params.len())
        .filter(|&i| f.ty(f.params[i]).dtype.is_inexact())
        .collect()
}

/// Random convolution attributes and shapes: (x shape, w shape, attrs).
fn conv_case(r: &mut StdRng) -> (Vec<i64>, Vec<i64>, Attrs) {
    loop {
        let sd = r.gen_range(1..=2usize);
        let g = r.gen_range(1..=2i64);
        let (cg, og) = (r.gen_range(1..=2i64), r.gen_range(1..=2i64));
        let n = r.gen_range(1..=2i64);
        let mut xs = vec![n];
        let mut ws = vec![g * og];
        let mut s = vec![];
        let mut lo = vec![];
        let mut hi = vec![];
        let mut kd = vec![];
        let mut idil = vec![];
        let mut ok = true;
        for _ in 0..sd {
            let l = r.gen_range(2..=5i64);
            let k = r.gen_range(1..=3i64);
            let (st, p0, p1, d, id) = (
                r.gen_range(1..=2i64),
                r.gen_range(0..=2i64),
                r.gen_range(0..=2i64),
                r.gen_range(1..=2i64),
                r.gen_range(1..=2i64),
            );
            let dl = (l - 1) * id + 1 + p0 + p1;
            let dk = (k - 1) * d + 1;
            if dl < dk {
                ok = false;
            }
            xs.push(l);
            ws.push(k);
            s.push(st);
            lo.push(p0);
            hi.push(p1);
            kd.push(d);
            idil.push(id);
        }
        if !ok {
            continue;
        }
        xs.push(g * cg);
        ws.push(cg);
        let a = Attrs::new()
            .with("kernel_strides", ints(&s))
            .with("padding_lo", ints(&lo))
            .with("padding_hi", ints(&hi))
            .with("kernel_dilation", ints(&kd))
            .with("input_dilation", ints(&idil))
            .with("groups", Attr::Int(g))
            .with("flip", Attr::Bool(r.gen_bool(0.5)));
        return (xs, ws, a);
    }
}

fn conv_program(r: &mut StdRng) -> Func {
    let (xs, ws, a) = conv_case(r);
    program(
        &[xs, ws],
        |g, p| vec![g.op(Opcode::ConvGeneral, &[p[0], p[1]], a)],
        r,
    )
}

/// A c64 value `x + i y` from two f64 values.
fn complex(g: &mut Gen, x: Value, y: Value) -> Value {
    let c = |g: &mut Gen, v| {
        g.op(
            Opcode::Cast,
            &[v],
            Attrs::new().with("dtype", Attr::DType(DType::C64)),
        )
    };
    let (xc, yc) = (c(g, x), c(g, y));
    let mut bytes = 0f32.to_le_bytes().to_vec();
    bytes.extend(1f32.to_le_bytes());
    let i = konst(g, Literal::from_bytes(DType::C64, vec![], bytes).unwrap());
    let s = g.shape(x);
    let i = g.op(
        Opcode::Broadcast,
        &[i],
        Attrs::new().with("shape", ints(&s)),
    );
    let yi = g.bin(Opcode::Multiply, yc, i);
    g.bin(Opcode::Add, xc, yi)
}

fn fft_attrs(axes: &[i64], inverse: bool, real: bool, odd: bool) -> Attrs {
    Attrs::new()
        .with("axes", ints(axes))
        .with("inverse", Attr::Bool(inverse))
        .with("real", Attr::Bool(real))
        .with("odd_out", Attr::Bool(odd))
}

fn fft_program(r: &mut StdRng) -> Func {
    let rank = r.gen_range(1..=3usize);
    let shape: Vec<i64> = (0..rank).map(|_| r.gen_range(1..=5)).collect();
    let mut axes: Vec<i64> = (0..rank as i64).filter(|_| r.gen_bool(0.6)).collect();
    if axes.is_empty() {
        axes.push(rank as i64 - 1);
    }
    let kind = r.gen_range(0..4);
    let odd = r.gen_bool(0.5);
    let last = *axes.last().unwrap() as usize;
    let (sh, kind) = if kind == 3 && shape[last] < 2 {
        (shape.clone(), 0)
    } else {
        (shape.clone(), kind)
    };
    let part = r.gen_range(0..3);
    program(
        &[sh.clone(), sh.clone()],
        |g, p| {
            let out = match kind {
                // complex forward / inverse
                0 | 1 => {
                    let z = complex(g, p[0], p[1]);
                    g.op(Opcode::Fft, &[z], fft_attrs(&axes, kind == 1, false, false))
                }
                // real forward (f64 in)
                2 => {
                    let s = g.bin(Opcode::Add, p[0], p[1]);
                    g.op(Opcode::Fft, &[s], fft_attrs(&axes, false, true, false))
                }
                // inverse real: from a Hermitian-length spectrum
                _ => {
                    let z = complex(g, p[0], p[1]);
                    g.op(Opcode::Fft, &[z], fft_attrs(&axes, true, true, odd))
                }
            };
            if g.f.ty(out).dtype == DType::C64 {
                // Sometimes finish with a complex part (their rules too).
                match part {
                    0 => vec![out],
                    1 => vec![g.un(Opcode::Real, out)],
                    _ => {
                        let c = g.un(Opcode::Conjugate, out);
                        vec![g.un(Opcode::Imag, c)]
                    }
                }
            } else {
                vec![out]
            }
        },
        r,
    )
}

fn eye(g: &mut Gen, n: i64, c: f64) -> Value {
    let v: Vec<f64> = (0..n * n)
        .map(|k| if k / n == k % n { c } else { 0.0 })
        .collect();
    konst(
        g,
        Literal::from_f64(F, vec![n as usize, n as usize], &v).unwrap(),
    )
}

/// Multiplies columns of `m` (`(n, k)`) by `s` (`(k,)`, via broadcast).
fn col_signs(g: &mut Gen, m: Value, s: Value) -> Value {
    let ms = g.shape(m);
    let e = g.op(
        Opcode::ExpandDims,
        &[s],
        Attrs::new().with("axes", ints(&[0])),
    );
    let e = g.op(
        Opcode::Broadcast,
        &[e],
        Attrs::new().with("shape", ints(&ms)),
    );
    g.bin(Opcode::Multiply, m, e)
}

fn row_signs(g: &mut Gen, m: Value, s: Value) -> Value {
    let ms = g.shape(m);
    let e = g.op(
        Opcode::ExpandDims,
        &[s],
        Attrs::new().with("axes", ints(&[1])),
    );
    let e = g.op(
        Opcode::Broadcast,
        &[e],
        Attrs::new().with("shape", ints(&ms)),
    );
    g.bin(Opcode::Multiply, m, e)
}

/// sign of row 0 of `m` (`(n, k)` -> `(k,)`).
fn first_row_sign(g: &mut Gen, m: Value) -> Value {
    let ms = g.shape(m);
    let s = g.op(
        Opcode::Slice,
        &[m],
        Attrs::new()
            .with("start", ints(&[0, 0]))
            .with("stop", ints(&[1, ms[1]]))
            .with("strides", ints(&[1, 1])),
    );
    let s = g.op(Opcode::Squeeze, &[s], Attrs::new().with("axes", ints(&[0])));
    g.un(Opcode::Sign, s)
}

fn diag_sign(g: &mut Gen, m: Value) -> Value {
    let ms = g.shape(m);
    let n = ms[0].min(ms[1]);
    let e = eye(g, n, 1.0);
    let sq = if ms[0] == n && ms[1] == n {
        m
    } else {
        g.op(
            Opcode::Slice,
            &[m],
            Attrs::new()
                .with("start", ints(&[0, 0]))
                .with("stop", ints(&[n, n]))
                .with("strides", ints(&[1, 1])),
        )
    };
    let d = g.bin(Opcode::Multiply, sq, e);
    let d = g.op(
        Opcode::ReduceSum,
        &[d],
        Attrs::new().with("axes", ints(&[1])),
    );
    g.un(Opcode::Sign, d)
}

fn linalg_program(r: &mut StdRng) -> Func {
    let kind = r.gen_range(0..8);
    let n = r.gen_range(2..=4i64);
    match kind {
        // general inverse
        0 => program(
            &[vec![n, n]],
            |g, p| {
                let k = g.konst(0.3, p[0]);
                let m = g.bin(Opcode::Multiply, p[0], k);
                let e = eye(g, n, 2.0);
                let a = g.bin(Opcode::Add, m, e);
                vec![g.op(
                    Opcode::Inverse,
                    &[a],
                    Attrs::new()
                        .with("tri", Attr::Bool(false))
                        .with("upper", Attr::Bool(false)),
                )]
            },
            r,
        ),
        // triangular inverse (reads one triangle)
        1 => {
            let upper = r.gen_bool(0.5);
            program(
                &[vec![n, n]],
                |g, p| {
                    let k = g.konst(0.3, p[0]);
                    let m = g.bin(Opcode::Multiply, p[0], k);
                    let e = eye(g, n, 2.0);
                    let a = g.bin(Opcode::Add, m, e);
                    vec![g.op(
                        Opcode::Inverse,
                        &[a],
                        Attrs::new()
                            .with("tri", Attr::Bool(true))
                            .with("upper", Attr::Bool(upper)),
                    )]
                },
                r,
            )
        }
        // cholesky of X X^T + n I (the factorization reads one triangle)
        2 => {
            let upper = r.gen_bool(0.5);
            let plain = r.gen_bool(0.5);
            program(
                &[vec![n, n]],
                |g, p| {
                    let a = if plain {
                        // Straight from the input: only one triangle is read.
                        let e = eye(g, n, 3.0);
                        let k = g.konst(0.3, p[0]);
                        let m = g.bin(Opcode::Multiply, p[0], k);
                        g.bin(Opcode::Add, m, e)
                    } else {
                        let t = g.op(
                            Opcode::Transpose,
                            &[p[0]],
                            Attrs::new().with("perm", ints(&[1, 0])),
                        );
                        let xx = g.bin(Opcode::Matmul, p[0], t);
                        let e = eye(g, n, n as f64);
                        g.bin(Opcode::Add, xx, e)
                    };
                    vec![g.op(
                        Opcode::Cholesky,
                        &[a],
                        Attrs::new().with("upper", Attr::Bool(upper)),
                    )]
                },
                r,
            )
        }
        // eigh (values, or values and sign-normalized vectors)
        3 => {
            let uplo = if r.gen_bool(0.5) { "L" } else { "U" };
            let vecs = r.gen_bool(0.6);
            program(
                &[vec![n, n]],
                |g, p| {
                    let rs = g.ops(
                        Opcode::Eigh,
                        &[p[0]],
                        Attrs::new()
                            .with("uplo", Attr::Str(uplo.into()))
                            .with("compute_eigenvectors", Attr::Bool(vecs)),
                    );
                    if vecs {
                        let s = first_row_sign(g, rs[1]);
                        let v = col_signs(g, rs[1], s);
                        vec![rs[0], v]
                    } else {
                        rs
                    }
                },
                r,
            )
        }
        // qr (m >= n), sign-normalized
        4 => {
            let m = n + r.gen_range(0..=2);
            program(
                &[vec![m, n]],
                |g, p| {
                    let qr = g.ops(Opcode::Qr, &[p[0]], Attrs::new());
                    let s = diag_sign(g, qr[1]);
                    let q = col_signs(g, qr[0], s);
                    let rr = row_signs(g, qr[1], s);
                    vec![q, rr]
                },
                r,
            )
        }
        // singular values of any shape
        5 => {
            let m = r.gen_range(2..=4i64);
            program(
                &[vec![m, n]],
                |g, p| {
                    vec![g.op(
                        Opcode::Svd,
                        &[p[0]],
                        Attrs::new().with("compute_uv", Attr::Bool(false)),
                    )]
                },
                r,
            )
        }
        // full svd of a non-square matrix: the first k = min(m, n) columns
        // of U and rows of Vt (the rest are not unique), sign-normalized
        6 => {
            let m = loop {
                let m = r.gen_range(2..=5i64);
                if m != n {
                    break m;
                }
            };
            let k = m.min(n);
            program(
                &[vec![m, n]],
                |g, p| {
                    let rs = g.ops(
                        Opcode::Svd,
                        &[p[0]],
                        Attrs::new().with("compute_uv", Attr::Bool(true)),
                    );
                    let cut = |g: &mut Gen, x: Value, stop: [i64; 2]| {
                        g.op(
                            Opcode::Slice,
                            &[x],
                            Attrs::new()
                                .with("start", ints(&[0, 0]))
                                .with("stop", ints(&stop))
                                .with("strides", ints(&[1, 1])),
                        )
                    };
                    let uk = cut(g, rs[0], [m, k]);
                    let vk = cut(g, rs[2], [k, n]);
                    let s = first_row_sign(g, uk);
                    let u = col_signs(g, uk, s);
                    let vt = row_signs(g, vk, s);
                    vec![u, rs[1], vt]
                },
                r,
            )
        }
        // full svd of a square matrix, sign-normalized
        _ => program(
            &[vec![n, n]],
            |g, p| {
                let rs = g.ops(
                    Opcode::Svd,
                    &[p[0]],
                    Attrs::new().with("compute_uv", Attr::Bool(true)),
                );
                let s = first_row_sign(g, rs[0]);
                let u = col_signs(g, rs[0], s);
                let vt = row_signs(g, rs[2], s);
                vec![u, rs[1], vt]
            },
            r,
        ),
    }
}

fn quant_attrs(bits: i64) -> Attrs {
    Attrs::new()
        .with("group_size", Attr::Int(32))
        .with("bits", Attr::Int(bits))
        .with("mode", Attr::Str("affine".into()))
}

/// Packed weights, scales and biases of a random `(rows, cols)` matrix,
/// with the scales and biases shifted by parameters (so they are
/// differentiable inputs).
fn quantized(g: &mut Gen, shape: &[i64], bits: i64, ps: Value, pb: Value) -> (Value, Value, Value) {
    let n: i64 = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| g.r.gen_range(-1.0..1.0)).collect();
    let w = konst(
        g,
        Literal::from_f64(F, shape.iter().map(|&d| d as usize).collect(), &v).unwrap(),
    );
    let q = g.ops(Opcode::Quantize, &[w], quant_attrs(bits));
    let k = g.konst(0.1, ps);
    let ds = g.bin(Opcode::Multiply, ps, k);
    let s = g.bin(Opcode::Add, q[1], ds);
    let k = g.konst(0.1, pb);
    let db = g.bin(Opcode::Multiply, pb, k);
    let bb = g.bin(Opcode::Add, q[2], db);
    (q[0], s, bb)
}

fn quant_program(r: &mut StdRng) -> Func {
    let kind = r.gen_range(0..3);
    let bits = [4i64, 8][r.gen_range(0..2)];
    let transpose = r.gen_bool(0.5);
    let (m, kdim, nn) = (r.gen_range(1..=3i64), 64i64, r.gen_range(1..=3i64));
    let wshape = if transpose {
        vec![nn, kdim]
    } else {
        vec![kdim, nn]
    };
    let sshape = if transpose {
        vec![nn, kdim / 32]
    } else {
        vec![kdim, nn / 32 + 1]
    };
    match kind {
        0 => {
            // transpose=false quantizes w (K, N) along N: N must be a group multiple.
            let (wshape, sshape, nn2) = if transpose {
                (wshape, sshape, nn)
            } else {
                (vec![kdim, 32], vec![kdim, 1], 32)
            };
            let _ = nn2;
            program(
                &[vec![m, kdim], sshape.clone(), sshape],
                |g, p| {
                    let (w, s, b) = quantized(g, &wshape, bits, p[1], p[2]);
                    let mut a = quant_attrs(bits);
                    a.set("transpose", Attr::Bool(transpose));
                    vec![g.op(Opcode::QuantizedMatmul, &[p[0], w, s, b], a)]
                },
                r,
            )
        }
        1 => program(
            &[vec![nn, kdim / 32], vec![nn, kdim / 32]],
            |g, p| {
                let (w, s, b) = quantized(g, &[nn, kdim], bits, p[0], p[1]);
                vec![g.op(Opcode::Dequantize, &[w, s, b], quant_attrs(bits))]
            },
            r,
        ),
        _ => {
            // gather_qmm: x (2, M, K), w (E, N, K) transposed.
            let e = 2i64;
            let idx: Vec<i64> = (0..4).map(|_| r.gen_range(0..2)).collect();
            let ridx: Vec<i64> = (0..4).map(|_| r.gen_range(0..e)).collect();
            program(
                &[
                    vec![2, m, kdim],
                    vec![e, nn, kdim / 32],
                    vec![e, nn, kdim / 32],
                ],
                |g, p| {
                    let (w, s, b) = quantized(g, &[e, nn, kdim], bits, p[1], p[2]);
                    let li = konst(g, Literal::from_i64(DType::U32, vec![2, 2], &idx).unwrap());
                    let ri = konst(g, Literal::from_i64(DType::U32, vec![2, 2], &ridx).unwrap());
                    let mut a = quant_attrs(bits);
                    a.set("transpose", Attr::Bool(true));
                    vec![g.op(Opcode::GatherQmm, &[p[0], w, s, b, li, ri], a)]
                },
                r,
            )
        }
    }
}

fn gather_mm_program(r: &mut StdRng) -> Func {
    let (m, k, n) = (
        r.gen_range(1..=3i64),
        r.gen_range(1..=3i64),
        r.gen_range(1..=3i64),
    );
    let (na, nb) = (r.gen_range(1..=3i64), r.gen_range(1..=3i64));
    let is: Vec<i64> = vec![r.gen_range(1..=3i64), 2];
    let cnt = (is[0] * is[1]) as usize;
    let li: Vec<i64> = (0..cnt).map(|_| r.gen_range(0..na)).collect();
    let ri: Vec<i64> = (0..cnt).map(|_| r.gen_range(0..nb)).collect();
    let ish: Vec<usize> = is.iter().map(|&d| d as usize).collect();
    program(
        &[vec![na, m, k], vec![nb, k, n]],
        |g, p| {
            let l = konst(g, Literal::from_i64(DType::I32, ish.clone(), &li).unwrap());
            let rr = konst(g, Literal::from_i64(DType::I32, ish.clone(), &ri).unwrap());
            vec![g.op(Opcode::GatherMm, &[p[0], p[1], l, rr], Attrs::new())]
        },
        r,
    )
}

fn block_mm_program(r: &mut StdRng) -> Func {
    let bs = 2i64;
    let (m, k, n) = (
        r.gen_range(1..=5i64),
        r.gen_range(1..=5i64),
        r.gen_range(1..=5i64),
    );
    let cd = |a: i64| (a + bs - 1) / bs;
    let nmask = [2usize, 3, 4, 5][r.gen_range(0..4)];
    let float_masks = r.gen_bool(0.5);
    let mut shapes = vec![vec![m, k], vec![k, n]];
    let grids: Vec<(i64, i64)> = match nmask {
        3 => vec![(cd(m), cd(n))],
        4 => vec![(cd(m), cd(k)), (cd(k), cd(n))],
        5 => vec![(cd(m), cd(n)), (cd(m), cd(k)), (cd(k), cd(n))],
        _ => vec![],
    };
    if float_masks {
        for &(a, b) in &grids {
            shapes.push(vec![a, b]);
        }
    }
    let bools: Vec<Vec<i64>> = grids
        .iter()
        .map(|&(a, b)| (0..a * b).map(|_| i64::from(r.gen_bool(0.7))).collect())
        .collect();
    program(
        &shapes,
        |g, p| {
            let mut ops = vec![p[0], p[1]];
            for (i, &(a, b)) in grids.iter().enumerate() {
                ops.push(if float_masks {
                    p[2 + i]
                } else {
                    konst(
                        g,
                        Literal::from_i64(DType::Bool, vec![a as usize, b as usize], &bools[i])
                            .unwrap(),
                    )
                });
            }
            vec![g.op(
                Opcode::BlockMaskedMm,
                &ops,
                Attrs::new().with("block_size", Attr::Int(bs)),
            )]
        },
        r,
    )
}

fn rope_program(r: &mut StdRng) -> Func {
    let b = r.gen_range(1..=2i64);
    let heads = r.gen_bool(0.5);
    let t = r.gen_range(1..=4i64);
    let d = 2 * r.gen_range(1..=3i64);
    let dims = 2 * r.gen_range(1..=d / 2);
    let shape = if heads {
        vec![b, 2, t, d]
    } else {
        vec![b, t, d]
    };
    let per_batch = r.gen_bool(0.5);
    let offs: Vec<i64> = (0..b).map(|_| r.gen_range(0..5)).collect();
    let with_freqs = r.gen_bool(0.3);
    let a = Attrs::new()
        .with("dims", Attr::Int(dims))
        .with("traditional", Attr::Bool(r.gen_bool(0.5)))
        .with("base", Attr::Float(10000.0))
        .with("scale", Attr::Float([1.0, 0.5][r.gen_range(0..2)]))
        .with("forward", Attr::Bool(r.gen_bool(0.8)));
    program(
        &[shape],
        |g, p| {
            let off = if per_batch {
                konst(
                    g,
                    Literal::from_i64(DType::I32, vec![b as usize], &offs).unwrap(),
                )
            } else {
                konst(
                    g,
                    Literal::from_i64(DType::I32, vec![], &offs[..1]).unwrap(),
                )
            };
            let mut ops = vec![p[0], off];
            if with_freqs {
                let fv: Vec<f64> = (0..dims / 2).map(|j| 1.0 + j as f64 * 3.0).collect();
                ops.push(konst(
                    g,
                    Literal::from_f64(DType::F32, vec![(dims / 2) as usize], &fv).unwrap(),
                ));
            }
            vec![g.op(Opcode::Rope, &ops, a)]
        },
        r,
    )
}

fn sdpa_program(r: &mut StdRng, with_lse: bool) -> Func {
    let b = r.gen_range(1..=2i64);
    let hk = r.gen_range(1..=2i64);
    let hq = hk * r.gen_range(1..=2i64);
    let (lq, lk) = (r.gen_range(1..=3i64), r.gen_range(1..=3i64));
    let (d, dv) = (r.gen_range(1..=3i64), r.gen_range(1..=3i64));
    let mask_kind = r.gen_range(0..4);
    let sinks = r.gen_bool(0.3);
    let causal = mask_kind == 3;
    // The causal mask is aligned to the end of the keys, so with more
    // queries than keys the first rows are fully masked: every score is the
    // dtype's lowest value, the output the mean of v (as MLX) and the
    // logsumexp `f64::MIN + log(lk)`, which is -inf in its f32 output, where
    // finite differences are NaN. Such rows stay in the plain programs (their
    // output has a derivative); the logsumexp programs get no more queries
    // than keys.
    let lk = if causal && with_lse { lk.max(lq) } else { lk };
    let mut shapes = vec![vec![b, hq, lq, d], vec![b, hk, lk, d], vec![b, hk, lk, dv]];
    let mshape = if r.gen_bool(0.5) {
        vec![lq, lk]
    } else {
        vec![b, 1, lq, lk]
    };
    if mask_kind == 2 {
        shapes.push(mshape.clone());
    }
    if sinks {
        shapes.push(vec![hq]);
    }
    let bools: Vec<i64> = (0..mshape.iter().product::<i64>())
        .map(|k| {
            if k % (lk) == 0 {
                1
            } else {
                i64::from(r.gen_bool(0.7))
            }
        })
        .collect();
    let a = Attrs::new()
        .with("scale", Attr::Float(0.7))
        .with("do_causal", Attr::Bool(causal))
        .with("has_sinks", Attr::Bool(sinks))
        .with("output_logsumexp", Attr::Bool(with_lse));
    program(
        &shapes,
        |g, p| {
            let mut ops = vec![p[0], p[1], p[2]];
            match mask_kind {
                1 => ops.push(konst(
                    g,
                    Literal::from_i64(
                        DType::Bool,
                        mshape.iter().map(|&x| x as usize).collect(),
                        &bools,
                    )
                    .unwrap(),
                )),
                2 => ops.push(p[3]),
                _ => {}
            }
            if sinks {
                ops.push(p[p.len() - 1]);
            }
            g.ops(Opcode::Sdpa, &ops, a)
        },
        r,
    )
}

fn as_strided_program(r: &mut StdRng) -> Func {
    let n = r.gen_range(4..=12i64);
    loop {
        let rank = r.gen_range(1..=2usize);
        let shape: Vec<i64> = (0..rank).map(|_| r.gen_range(1..=3)).collect();
        let strides: Vec<i64> = (0..rank).map(|_| r.gen_range(0..=3)).collect();
        let offset = r.gen_range(0..3i64);
        let hi = offset
            + shape
                .iter()
                .zip(&strides)
                .map(|(d, s)| (d - 1) * s)
                .sum::<i64>();
        if hi >= n {
            continue;
        }
        let a = Attrs::new()
            .with("shape", ints(&shape))
            .with("strides", ints(&strides))
            .with("offset", Attr::Int(offset));
        return program(
            &[vec![n]],
            |g, p| vec![g.op(Opcode::AsStrided, &[p[0]], a)],
            r,
        );
    }
}

fn masked_scatter_program(r: &mut StdRng) -> Func {
    let b = r.gen_range(1..=2i64);
    let per = r.gen_range(1..=5i64);
    let mask: Vec<i64> = (0..b * per).map(|_| i64::from(r.gen_bool(0.5))).collect();
    let src = r.gen_range(1..=per);
    // Each batch selects at most `src` elements.
    let mut mask = mask;
    for bi in 0..b as usize {
        let mut c = 0;
        for i in 0..per as usize {
            if mask[bi * per as usize + i] == 1 {
                c += 1;
                if c > src {
                    mask[bi * per as usize + i] = 0;
                }
            }
        }
    }
    program(
        &[vec![b, per], vec![b, src]],
        |g, p| {
            let m = konst(
                g,
                Literal::from_i64(DType::Bool, vec![b as usize, per as usize], &mask).unwrap(),
            );
            vec![g.op(Opcode::MaskedScatter, &[p[0], m, p[1]], Attrs::new())]
        },
        r,
    )
}

fn norm_vjp_program(r: &mut StdRng) -> Func {
    let layer = r.gen_bool(0.5);
    let (rows, d) = (r.gen_range(1..=3i64), r.gen_range(2..=4i64));
    let mut shapes = vec![vec![rows, d], vec![d]];
    if layer {
        shapes.push(vec![d]);
    }
    shapes.push(vec![rows, d]);
    program(
        &shapes,
        |g, p| {
            let op = if layer {
                Opcode::LayerNormVjp
            } else {
                Opcode::RmsNormVjp
            };
            g.ops(op, p, Attrs::new().with("eps", Attr::Float(1e-5)))
        },
        r,
    )
}

/// Every op the random programs of `autodiff_fd.rs` leave out because
/// their rules live here has a builder here.
type Builder = fn(&mut StdRng) -> Func;
const BUILDERS: &[(&str, Builder)] = &[
    ("conv", conv_program),
    ("fft", fft_program),
    ("linalg", linalg_program),
    ("quant", quant_program),
    ("gather_mm", gather_mm_program),
    ("block_masked_mm", block_mm_program),
    ("rope", rope_program),
    ("sdpa", sdpa_plain),
    ("sdpa_lse", sdpa_lse),
    ("as_strided", as_strided_program),
    ("masked_scatter", masked_scatter_program),
    ("norm_vjp", norm_vjp_program),
];

fn sdpa_plain(r: &mut StdRng) -> Func {
    sdpa_program(r, false)
}
fn sdpa_lse(r: &mut StdRng) -> Func {
    sdpa_program(r, true)
}

#[test]
fn every_new_rule_is_exercised() {
    let mut seen: Vec<Opcode> = Vec::new();
    for (_, build) in BUILDERS {
        for s in 0..40 {
            let f = build(&mut rng(s));
            for op in &f.ops {
                if !seen.contains(&op.opcode) {
                    seen.push(op.opcode);
                }
            }
        }
    }
    use Opcode::*;
    for op in [
        ConvGeneral,
        Fft,
        Real,
        Imag,
        Conjugate,
        Inverse,
        Cholesky,
        Eigh,
        Qr,
        Svd,
        QuantizedMatmul,
        Dequantize,
        GatherQmm,
        GatherMm,
        BlockMaskedMm,
        Rope,
        Sdpa,
        AsStrided,
        MaskedScatter,
        RmsNormVjp,
        LayerNormVjp,
    ] {
        assert!(seen.contains(&op), "no test program uses {op}");
    }
}

fn ad_case(build: fn(&mut StdRng) -> Func, seed: u64) {
    let mut r = rng(seed);
    let f = build(&mut r);
    let x = inputs(&f, &mut r);
    check_ad(&f, &x, &all(&f), seed);
}

fn vmap_case(build: fn(&mut StdRng) -> Func, seed: u64) {
    let mut r = rng(seed);
    let f = build(&mut r);
    let types = f.param_types();
    let batchable = vec![true; types.len()];
    check_vmap(
        &f,
        seed,
        &|r: &mut StdRng| types.iter().map(|t| rand_for(r, t)).collect(),
        &batchable,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn derivatives_of_the_extras(which in 0usize..BUILDERS.len(), seed in any::<u64>()) {
        ad_case(BUILDERS[which].1, seed);
    }

    #[test]
    fn vmap_of_the_extras(which in 0usize..BUILDERS.len(), seed in any::<u64>()) {
        vmap_case(BUILDERS[which].1, seed);
    }
}

/// The quantization programs (quantized_matmul, dequantize, gather_qmm)
/// vmapped over every input, scales and biases included: their rules once
/// accepted only a batched first operand (and dequantize's broke even then,
/// its scales keeping the unbatched shape).
#[test]
fn quant_vmap_batches_every_operand() {
    for seed in 0..48 {
        vmap_case(quant_program, seed);
    }
}

/// A few fixed seeds per builder, so each rule runs on every test run.
#[test]
fn each_builder_a_few_times() {
    for (name, build) in BUILDERS {
        for s in 0..6u64 {
            eprintln!("{name} seed {s}");
            ad_case(*build, s);
            vmap_case(*build, s);
        }
    }
}

// ---------------------------------------------------------------------------
// cumprod with zeros; vmap of dynamic slices with batched starts.
// ---------------------------------------------------------------------------

#[test]
fn cumprod_with_zeros_has_exact_derivatives() {
    for seed in 0..60u64 {
        let mut r = rng(seed);
        let rank = r.gen_range(1..=2usize);
        let shape: Vec<i64> = (0..rank).map(|_| r.gen_range(1..=5)).collect();
        let axis = r.gen_range(0..rank) as i64;
        let a = Attrs::new()
            .with("axis", Attr::Int(axis))
            .with("reverse", Attr::Bool(r.gen_bool(0.5)))
            .with("inclusive", Attr::Bool(r.gen_bool(0.7)));
        let f = program(
            std::slice::from_ref(&shape),
            |g, p| vec![g.op(Opcode::Cumprod, &[p[0]], a)],
            &mut r,
        );
        // Inputs with exact zeros (one or two along the scans).
        let n: i64 = shape.iter().product();
        let mut v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.5..1.5)).collect();
        for _ in 0..r.gen_range(1..=2) {
            let i = r.gen_range(0..n as usize);
            v[i] = 0.0;
        }
        let x =
            vec![Literal::from_f64(F, shape.iter().map(|&d| d as usize).collect(), &v).unwrap()];
        // Central differences are exact for a polynomial of degree <= n up to rounding.
        check_ad(&f, &x, &[0], seed);
        // And the vjp has no NaN.
        let g = vjp(&f, &[0]).unwrap();
        let ct = rand_for(&mut r, &f.result_types()[0]);
        let out = run(&g, &[x[0].clone(), ct]);
        assert!(
            reals(&out[1]).iter().all(|v| v.is_finite()),
            "non-finite gradient\n{}",
            describe(&f)
        );
    }
}

#[test]
fn cumprod_gradient_matches_mlx_on_a_zero() {
    // mx.vjp(lambda x: mx.cumprod(x), [mx.array([2., 0., 3., 4.])], [mx.ones(4)])
    // -> [1, 32, 0, 0] (d/dx1 = 2 + 2*3 + 2*3*4 = 32).
    let mut r = rng(0);
    let f = program(
        &[vec![4]],
        |g, p| {
            vec![g.op(
                Opcode::Cumprod,
                &[p[0]],
                Attrs::new().with("axis", Attr::Int(0)),
            )]
        },
        &mut r,
    );
    let g = vjp(&f, &[0]).unwrap();
    let x = Literal::from_f64(F, vec![4], &[2.0, 0.0, 3.0, 4.0]).unwrap();
    let ones = Literal::from_f64(F, vec![4], &[1.0; 4]).unwrap();
    let out = run(&g, &[x, ones]);
    assert_eq!(out[1].to_f64_vec(), vec![1.0, 32.0, 0.0, 0.0]);
}

#[test]
fn vmap_of_dynamic_slices_with_batched_starts() {
    for seed in 0..40u64 {
        let mut r = rng(seed);
        let rank = r.gen_range(1..=3usize);
        let shape: Vec<i64> = (0..rank).map(|_| r.gen_range(1..=5)).collect();
        let axes: Vec<i64> = (0..rank as i64).filter(|_| r.gen_bool(0.6)).collect();
        let axes = if axes.is_empty() { vec![0] } else { axes };
        let sizes: Vec<i64> = axes
            .iter()
            .map(|&a| r.gen_range(1..=shape[a as usize]))
            .collect();
        let update = r.gen_bool(0.5);
        let mut g = Gen::new(&mut r);
        let x = g.param(&shape);
        let starts =
            g.f.add_param(TensorType::new(DType::I32, vec![axes.len() as i64]));
        let y = if update {
            let mut us = shape.clone();
            for (k, &a) in axes.iter().enumerate() {
                us[a as usize] = sizes[k];
            }
            let u = g.param(&us);
            g.op(
                Opcode::DynamicSliceUpdate,
                &[x, u, starts],
                Attrs::new().with("axes", ints(&axes)),
            )
        } else {
            // `sizes` is the result shape (full rank): the slice sizes on
            // `axes`, the whole extent elsewhere.
            let mut full = shape.clone();
            for (k, &a) in axes.iter().enumerate() {
                full[a as usize] = sizes[k];
            }
            g.op(
                Opcode::DynamicSlice,
                &[x, starts],
                Attrs::new()
                    .with("axes", ints(&axes))
                    .with("sizes", ints(&full)),
            )
        };
        g.f.results = vec![y];
        let f = g.f;
        let types = f.param_types();
        let (sh, ax, sz) = (shape.clone(), axes.clone(), sizes.clone());
        let lane = move |r: &mut StdRng| -> Vec<Literal> {
            let mut v = Vec::new();
            for (i, t) in types.iter().enumerate() {
                if i == 1 {
                    let s: Vec<i64> = ax
                        .iter()
                        .zip(&sz)
                        .map(|(&a, &n)| r.gen_range(0..=sh[a as usize] - n))
                        .collect();
                    v.push(Literal::from_i64(DType::I32, vec![s.len()], &s).unwrap());
                } else {
                    v.push(rand_for(r, t));
                }
            }
            v
        };
        let mut batchable = vec![true; f.params.len()];
        // Always batch the starts: that is the case under test.
        batchable[1] = true;
        check_vmap_starts(&f, seed, &lane, &batchable);
    }
}

/// [`check_vmap`] with the start indices (input 1) always batched.
fn check_vmap_starts(
    f: &Func,
    seed: u64,
    lane: &dyn Fn(&mut StdRng) -> Vec<Literal>,
    batchable: &[bool],
) {
    // Reuse check_vmap with a wrapper that forces input 1's batching by
    // making every other input optional: run it a few times so both the
    // batched and unbatched sources appear.
    for k in 0..3u64 {
        let mut r = rng(seed * 7 + k);
        let np = f.params.len();
        let mut in_axes: Vec<Option<i64>> = (0..np)
            .map(|i| {
                if i == 1 {
                    Some(r.gen_range(0..=1))
                } else if batchable[i] && r.gen_bool(0.6) {
                    Some(r.gen_range(0..=f.ty(f.params[i]).rank()) as i64)
                } else {
                    None
                }
            })
            .collect();
        in_axes[1] = Some(r.gen_range(0..=1));
        let per: Vec<Vec<Literal>> = (0..LANES).map(|_| lane(&mut r)).collect();
        let fixed = lane(&mut r);
        let mut batched = Vec::new();
        let mut examples: Vec<Vec<Literal>> = vec![Vec::new(); LANES];
        for i in 0..np {
            match in_axes[i] {
                Some(a) => {
                    let xs: Vec<Literal> = (0..LANES).map(|l| per[l][i].clone()).collect();
                    batched.push(stack(&xs, a as usize));
                    for (l, e) in examples.iter_mut().enumerate() {
                        e.push(per[l][i].clone());
                    }
                }
                None => {
                    batched.push(fixed[i].clone());
                    for e in examples.iter_mut() {
                        e.push(fixed[i].clone());
                    }
                }
            }
        }
        let outs: Vec<Literal> = examples.iter().map(|e| run(f, e)[0].clone()).collect();
        let want = stack(&outs, 0);
        for v in [
            vmap_with_size(f, &in_axes, &[0], Some(LANES as i64)),
            vmap(f, &in_axes, &[0]),
        ] {
            let v = v.unwrap_or_else(|e| panic!("vmap failed: {e}\n{}", describe(f)));
            // No per-lane loop: one gather or scatter.
            assert!(
                v.ops
                    .iter()
                    .any(|o| matches!(o.opcode, Opcode::Gather | Opcode::Scatter)),
                "{}",
                describe(&v)
            );
            let got = run(&v, &batched);
            assert_eq!(
                reals(&got[0]),
                reals(&want),
                "in_axes {in_axes:?}\n{}\nvmap:\n{}",
                describe(f),
                describe(&v)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Output quality of the new batching rules.
// ---------------------------------------------------------------------------

#[test]
fn vmap_of_conv_is_one_conv() {
    for seed in 0..20u64 {
        let mut r = rng(seed);
        let f = conv_program(&mut r);
        for in_axes in [[Some(0), None], [None, Some(0)], [Some(1), Some(0)]] {
            let v = vmap_with_size(&f, &in_axes, &[0], Some(3)).unwrap();
            let convs = v
                .ops
                .iter()
                .filter(|o| o.opcode == Opcode::ConvGeneral)
                .count();
            assert_eq!(convs, 1, "{}", describe(&v));
        }
    }
}

#[test]
fn errors_name_the_op() {
    let mut r = rng(1);
    // eig has no derivative (nor in MLX).
    let f = program(
        &[vec![3, 3]],
        |g, p| {
            let e = g.ops(
                Opcode::Eig,
                &[p[0]],
                Attrs::new().with("compute_eigenvectors", Attr::Bool(false)),
            );
            vec![g.un(Opcode::Real, e[0])]
        },
        &mut r,
    );
    let e = vjp(&f, &[0]).unwrap_err();
    assert!(e.message.contains("tensor.eig"), "{e}");
    // qr of a wide matrix.
    let f = program(
        &[vec![2, 3]],
        |g, p| g.ops(Opcode::Qr, &[p[0]], Attrs::new()),
        &mut r,
    );
    let e = jvp(&f, &[0]).unwrap_err();
    assert!(e.message.contains("tensor.qr"), "{e}");
}

// ---------------------------------------------------------------------------
// Complex cotangents: MLX's convention, on values printed by MLX 0.32.4.
// ---------------------------------------------------------------------------

/// The vjp of `f(z[, w])` on 1-element c64 inputs `z = 0.3+0.7i`,
/// `w = 2+3i` with cotangent `1+1i`, as (re, im) per input.
fn complex_vjp(op: Opcode, binary: bool) -> Vec<(f64, f64)> {
    let mut r = rng(0);
    let mut g = Gen::new(&mut r);
    let c = TensorType::new(DType::C64, vec![1, 1]);
    let z = g.f.add_param(c.clone());
    let mut xs = vec![z];
    if binary {
        xs.push(g.f.add_param(c.clone()));
    }
    let y = g.op(op, &xs, Attrs::new());
    g.f.results = vec![y];
    let f = g.f;
    let wrt: Vec<usize> = (0..xs.len()).collect();
    let v = vjp(&f, &wrt).unwrap();
    let mut args = vec![from_reals(&c, &[0.3, 0.7])];
    if binary {
        args.push(from_reals(&c, &[2.0, 3.0]));
    }
    args.push(from_reals(&c, &[1.0, 1.0]));
    let out = run(&v, &args);
    out[1..]
        .iter()
        .map(|l| {
            let v = reals(l);
            (v[0], v[1])
        })
        .collect()
}

/// MLX's cotangents of complex values are real adjoints (C seen as R^2):
/// `ct * conj(f'(z))` for a holomorphic `f`, while the jvp is `f'(z) t`.
/// The expected values are `mx.vjp`'s on the same inputs.
#[test]
fn complex_cotangents_are_mlx_real_adjoints() {
    use Opcode::*;
    // (op, binary, MLX's cotangent of each input as (re, im))
    type Case = (Opcode, bool, &'static [(f64, f64)]);
    let cases: [Case; 9] = [
        (Multiply, true, &[(5.0, -1.0), (1.0, -0.4)]),
        (Matmul, true, &[(5.0, -1.0), (1.0, -0.4)]),
        (
            Divide,
            true,
            &[(-0.07692308, 0.3846154), (0.00118343, -0.08284023)],
        ),
        // MLX 0.32.4's Power vjp alone does not conjugate (it gives
        // `ct * f'(z)`, -0.0611+0.1004i and -0.0171-0.0243i here, which is
        // not the adjoint of its own jvp `f'(z) t`); ours keeps the
        // convention: `ct * conj(w z^(w-1))`, `ct * conj(z^w log z)`.
        (
            Power,
            true,
            &[(0.10043264, -0.06105317), (-0.02432933, -0.0170762)],
        ),
        (Exp, false, &[(1.902032, 0.16282618)]),
        (Log, false, &[(-0.6896551, 1.7241379)]),
        (Sin, false, &[(0.974932, 1.4232856)]),
        (Square, false, &[(2.0, -0.8)]),
        (Reciprocal, false, &[(2.4375744, -0.05945315)]),
    ];
    for (op, binary, want) in cases {
        let got = complex_vjp(op, binary);
        assert_eq!(got.len(), want.len(), "{op}");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g.0 - w.0).abs() < 1e-5 && (g.1 - w.1).abs() < 1e-5,
                "{op} input {k}: {g:?}, MLX {w:?}"
            );
        }
    }
}

/// `sum(c * cumprod(x))` with exact zeros in `x`: its Hessian (vjp of the
/// vjp, through the Hillis-Steele decomposition) against second
/// differences, which are exact up to rounding for this polynomial. MLX's
/// division-based construction gives NaN here (and dropping the positions
/// past the first zero would lose the cross terms `d2/dx_z dx_j`).
#[test]
fn cumprod_second_derivatives_with_zeros() {
    use psionic_passes::autodiff::hessian;
    for seed in 0..30u64 {
        let mut r = rng(seed);
        let n = r.gen_range(2..=6i64);
        let a = Attrs::new()
            .with("axis", Attr::Int(0))
            .with("reverse", Attr::Bool(r.gen_bool(0.5)))
            .with("inclusive", Attr::Bool(r.gen_bool(0.7)));
        let c: Vec<f64> = (0..n).map(|_| r.gen_range(-1.0..1.0)).collect();
        let cl = Literal::from_f64(F, vec![n as usize], &c).unwrap();
        let f = program(
            &[vec![n]],
            |g, p| {
                let y = g.op(Opcode::Cumprod, &[p[0]], a);
                let w = konst(g, cl);
                let m = g.bin(Opcode::Multiply, y, w);
                vec![g.op(
                    Opcode::ReduceSum,
                    &[m],
                    Attrs::new().with("axes", ints(&[0])),
                )]
            },
            &mut r,
        );
        let mut v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.5..1.5)).collect();
        for _ in 0..r.gen_range(1..=2) {
            v[r.gen_range(0..n as usize)] = 0.0;
        }
        let x = Literal::from_f64(F, vec![n as usize], &v).unwrap();
        let h = hessian(&f, 0).unwrap();
        let hv = run(&h, std::slice::from_ref(&x))[0].to_f64_vec();
        let s = |d: &[(usize, f64)]| {
            let mut w = v.clone();
            for &(i, e) in d {
                w[i] += e;
            }
            run(&f, &[Literal::from_f64(F, vec![n as usize], &w).unwrap()])[0].to_f64_vec()[0]
        };
        let e = 1e-3;
        for i in 0..n as usize {
            for j in 0..n as usize {
                let fd = (s(&[(i, e), (j, e)]) - s(&[(i, e), (j, -e)]) - s(&[(i, -e), (j, e)])
                    + s(&[(i, -e), (j, -e)]))
                    / (4.0 * e * e);
                let got = hv[i * n as usize + j];
                assert!(
                    (got - fd).abs() <= 1e-5 * (1.0 + fd.abs()),
                    "H[{i}, {j}] = {got}, second differences {fd}, x = {v:?}\n{}",
                    describe(&f)
                );
            }
        }
    }
}

/// A scan of symbolic length keeps MLX's construction (exact with zeros at
/// first order): its vjp against the static (decomposed) one.
#[test]
fn cumprod_of_a_symbolic_length_has_exact_first_derivatives() {
    for seed in 0..30u64 {
        let mut r = rng(seed);
        let n = r.gen_range(1..=6usize);
        let a = Attrs::new()
            .with("axis", Attr::Int(0))
            .with("reverse", Attr::Bool(r.gen_bool(0.5)))
            .with("inclusive", Attr::Bool(r.gen_bool(0.7)));
        let build = |t: TensorType| {
            let mut f = Func::new("f", vec![t]);
            let p = f.params[0];
            let y = f.push1(Opcode::Cumprod, &[p], a.clone()).unwrap();
            f.results = vec![y];
            f
        };
        let dynf = build(TensorType::new(F, vec![psionic_ir::DYN]));
        let statf = build(TensorType::new(F, vec![n as i64]));
        let mut v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.5..1.5)).collect();
        v[r.gen_range(0..n)] = 0.0;
        let x = Literal::from_f64(F, vec![n], &v).unwrap();
        let ct = rand_for(&mut r, &TensorType::new(F, vec![n as i64]));
        let gd = run(&vjp(&dynf, &[0]).unwrap(), &[x.clone(), ct.clone()]);
        let gs = run(&vjp(&statf, &[0]).unwrap(), &[x, ct]);
        for (a, b) in reals(&gd[1]).iter().zip(reals(&gs[1])) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}
