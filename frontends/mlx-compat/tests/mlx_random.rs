//! `psionic_mlx::random` against real MLX (fixtures from
//! `tools/mlx/gen_api_fixtures.py`): every sampler bit for bit, eagerly and
//! compiled, except `multivariate_normal`, whose covariance square root
//! comes from an SVD (LAPACK's in MLX), equal only to rounding; plus
//! properties over random keys and shapes, and use inside traced functions.

mod mlx_api_support;

use mlx_api_support::{dtype_arg, ints, load, run_cases};
use proptest::prelude::*;
use psionic_mlx::random::{self, Samples};
use psionic_mlx::*;
use psionic_runtime::exec::Executable;
use serde_json::Value;

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap()
}

fn call(name: &str, a: &Value, ins: &[Array]) -> Vec<Array> {
    let key = ins.first();
    let shape = || ints(&a["shape"]);
    let dtype = || dtype_arg(a["dtype"].as_str().unwrap());
    match name {
        "key" => vec![random::key(a["seed"].as_u64().unwrap())],
        "split" => vec![random::split(&ins[0], a["num"].as_i64().unwrap() as i32)],
        "uniform" => vec![random::uniform(
            f(a, "low") as f32,
            f(a, "high") as f32,
            &shape(),
            dtype(),
            key,
        )],
        "normal" => {
            let loc = a
                .get("loc")
                .map(|v| Array::from_scalar(v.as_f64().unwrap() as f32));
            let scale = a
                .get("scale")
                .map(|v| Array::from_scalar(v.as_f64().unwrap() as f32));
            vec![random::normal(
                &shape(),
                dtype(),
                loc.as_ref(),
                scale.as_ref(),
                key,
            )]
        }
        "randint" => vec![random::randint(
            a["low"].as_i64().unwrap() as i32,
            a["high"].as_i64().unwrap() as i32,
            &shape(),
            dtype(),
            key,
        )],
        "bernoulli" => vec![random::bernoulli(f(a, "p") as f32, Some(&shape()), key)],
        "gumbel" => vec![random::gumbel(&shape(), dtype(), key)],
        "laplace" => vec![random::laplace(
            &shape(),
            dtype(),
            f(a, "loc") as f32,
            f(a, "scale") as f32,
            key,
        )],
        "truncated_normal" => vec![random::truncated_normal(
            f(a, "lower") as f32,
            f(a, "upper") as f32,
            Some(&shape()),
            dtype(),
            key,
        )],
        "permutation_n" => vec![random::permutation_n(a["n"].as_i64().unwrap() as i32, key)],
        "permutation" => vec![random::permutation(
            &ins[1],
            a["axis"].as_i64().unwrap() as i32,
            key,
        )],
        "categorical" => {
            let samples = if let Some(n) = a.get("num_samples") {
                Samples::Num(n.as_i64().unwrap() as i32)
            } else if let Some(s) = a.get("shape") {
                Samples::Shape(ints(s))
            } else {
                Samples::One
            };
            vec![random::categorical(
                &ins[1],
                a["axis"].as_i64().unwrap() as i32,
                samples,
                key,
            )]
        }
        "multivariate_normal" => vec![random::multivariate_normal(
            &ins[1],
            &ins[2],
            &shape(),
            DType::F32,
            key,
        )],
        "seeded_sequence" => {
            random::seed(a["seed"].as_u64().unwrap());
            vec![
                random::uniform(0.0f32, 1.0f32, &[3], DType::F32, None),
                random::normal(&[2], DType::F32, None, None, None),
                random::randint(0, 9, &[4], DType::I32, None),
            ]
        }
        other => panic!("no call for {other}"),
    }
}

/// Every sampler whose MLX result is a deterministic function of the key,
/// shape and dtype: all of them but `multivariate_normal` (below).
const SAMPLERS: &[&str] = &[
    "key",
    "split",
    "uniform",
    "randint",
    "bernoulli",
    "permutation_n",
    "permutation",
    "categorical",
    "normal",
    "gumbel",
    "laplace",
    "truncated_normal",
    "seeded_sequence",
];

#[test]
fn samplers_match_mlx_bit_for_bit() {
    let fx = load();
    for name in fx.cases_of(SAMPLERS) {
        assert_eq!(fx.cases[&name]["check"], "exact", "{name}");
    }
    run_cases(&fx, SAMPLERS, call);
}

#[test]
fn compiled_samplers_match_mlx_bit_for_bit() {
    // The same cases as traced functions of the key (and any array
    // argument) compiled by the CPU backend (passes, e-graph, fusion,
    // Cranelift), strictly: no fall-back to the interpreter, except for
    // 64-bit integer results, which the CPU backend does not compile.
    let fx = load();
    let fns: Vec<&str> = SAMPLERS
        .iter()
        .copied()
        .filter(|f| !matches!(*f, "key" | "seeded_sequence"))
        .collect();
    let native = std::cell::Cell::new(0);
    run_cases(&fx, &fns, |name, args, ins| {
        let f = trace(
            |xs: &[Array]| call(name, args, xs),
            &ins.iter().map(|a| a.ty().clone()).collect::<Vec<_>>(),
        )
        .unwrap_or_else(|e| panic!("{name} {args}: {e}"));
        let lits: Vec<_> = ins.iter().map(|a| a.literal().unwrap()).collect();
        let wide = f
            .results
            .iter()
            .any(|&r| f.value_types[r.index()].dtype == DType::I64);
        let exe = Executable::new(f);
        let exe = if wide { exe } else { exe.strict() };
        let out = exe
            .run(&lits)
            .unwrap_or_else(|e| panic!("{name} {args}: {e}"));
        native.set(native.get() + !wide as usize);
        out.into_iter().map(Array::from_literal).collect()
    });
    assert!(
        native.get() > 500,
        "only {} cases compiled natively",
        native.get()
    );
}

#[test]
fn multivariate_normal_matches_mlx() {
    let fx = load();
    run_cases(&fx, &["multivariate_normal"], call);
}

#[test]
fn traced_samplers_give_eager_values() {
    // A key passed as a trace input: the traced function draws the same
    // numbers as the eager call, and new keys give new numbers.
    let k = random::key(5);
    let f = trace(
        |a| {
            let (k1, k2) = random::split_pair(&a[0]);
            vec![
                random::normal(&[4, 3], DType::F32, None, None, Some(&k1)),
                random::randint(0, 10, &[5], DType::I32, Some(&k2)),
            ]
        },
        &[k.ty().clone()],
    )
    .unwrap();
    let out = apply(&f, std::slice::from_ref(&k)).unwrap();
    let (k1, k2) = random::split_pair(&k);
    let n = random::normal(&[4, 3], DType::F32, None, None, Some(&k1));
    let r = random::randint(0, 10, &[5], DType::I32, Some(&k2));
    assert_eq!(out[0].to_vec::<f32>().unwrap(), n.to_vec::<f32>().unwrap());
    assert_eq!(out[1].to_vec::<i32>().unwrap(), r.to_vec::<i32>().unwrap());
    let other = apply(&f, &[random::key(6)]).unwrap();
    assert_ne!(
        other[0].to_vec::<f32>().unwrap(),
        n.to_vec::<f32>().unwrap()
    );
}

#[test]
fn errors_name_the_problem() {
    let bad = Array::from_slice(&[1i32, 2], &[2]);
    let e = random::try_uniform(0.0f32, 1.0f32, &[2], DType::F32, Some(&bad)).unwrap_err();
    assert!(e.to_string().contains("uint32"), "{e}");
    let e = random::try_uniform(0.0f32, 1.0f32, &[2], DType::I32, None).unwrap_err();
    assert!(e.to_string().contains("f32, f16 or bf16"), "{e}");
    let e = random::try_randint(0, 3, &[2], DType::F32, None).unwrap_err();
    assert!(e.to_string().contains("integer"), "{e}");
    let lo = Array::from_slice(&[0.0f32; 3], &[3]);
    let e = random::try_uniform(&lo, 1.0f32, &[2], DType::F32, None).unwrap_err();
    assert!(e.to_string().contains("broadcast"), "{e}");
    let e = random::try_split(&Array::from_slice(&[1u32, 2, 3], &[3]), 2).unwrap_err();
    assert!(e.to_string().contains("[2]"), "{e}");
}

#[test]
fn seed_makes_the_global_sequence_repeat() {
    random::seed(77);
    let a = random::uniform(0.0f32, 1.0f32, &[8], DType::F32, None)
        .to_vec::<f32>()
        .unwrap();
    let b = random::uniform(0.0f32, 1.0f32, &[8], DType::F32, None)
        .to_vec::<f32>()
        .unwrap();
    random::seed(77);
    let c = random::uniform(0.0f32, 1.0f32, &[8], DType::F32, None)
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(a, c);
    assert_ne!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn uniform_stays_in_range(seed in proptest::arbitrary::any::<u64>(), n in 1i32..200, lo in -5.0f32..5.0, w in 0.01f32..10.0) {
        let k = random::key(seed);
        let hi = lo + w;
        for dt in [DType::F32, DType::F16, DType::BF16] {
            let u = random::uniform(lo, hi, &[n], dt, Some(&k)).to_vec::<f64>().unwrap();
            // Bounds rounded to the dtype, as MLX casts them first.
            let (l, h) = (
                Array::from_scalar(lo).astype(dt).item::<f64>().unwrap(),
                Array::from_scalar(hi).astype(dt).item::<f64>().unwrap(),
            );
            for v in u {
                prop_assert!(v >= l && v <= h, "{v} outside [{l}, {h}] for {dt}");
            }
        }
    }

    #[test]
    fn randint_and_permutation_are_valid(seed in proptest::arbitrary::any::<u64>(), n in 1i32..300, lo in -50i32..50, w in 1i32..100) {
        let k = random::key(seed);
        let r = random::randint(lo, lo + w, &[n], DType::I32, Some(&k)).to_vec::<i32>().unwrap();
        prop_assert!(r.iter().all(|&v| v >= lo && v < lo + w));
        let mut p = random::permutation_n(n, Some(&k)).to_vec::<u32>().unwrap();
        p.sort_unstable();
        prop_assert_eq!(p, (0..n as u32).collect::<Vec<_>>());
    }

    #[test]
    fn split_keys_differ_and_are_deterministic(seed in proptest::arbitrary::any::<u64>(), num in 2i32..9) {
        let k = random::key(seed);
        let s = random::split(&k, num).to_vec::<u32>().unwrap();
        prop_assert_eq!(&s, &random::split(&k, num).to_vec::<u32>().unwrap());
        let pairs: Vec<(u32, u32)> = s.chunks(2).map(|c| (c[0], c[1])).collect();
        let mut uniq = pairs.clone();
        uniq.sort_unstable();
        uniq.dedup();
        prop_assert_eq!(uniq.len(), pairs.len());
    }

    #[test]
    fn truncated_normal_respects_bounds(seed in proptest::arbitrary::any::<u64>(), lo in -3.0f32..0.0, w in 0.1f32..3.0) {
        let k = random::key(seed);
        let v = random::truncated_normal(lo, lo + w, Some(&[64]), DType::F32, Some(&k)).to_vec::<f32>().unwrap();
        prop_assert!(v.iter().all(|&x| x >= lo && x <= lo + w));
    }

    #[test]
    fn categorical_never_picks_impossible_classes(seed in proptest::arbitrary::any::<u64>(), m in 2i32..6, c in 2i32..9) {
        // -inf logits have probability zero.
        let k = random::key(seed);
        let mut data = vec![0.0f32; (m * c) as usize];
        for (i, x) in data.iter_mut().enumerate() {
            if i % 2 == 1 { *x = f32::NEG_INFINITY; }
        }
        let l = Array::from_slice(&data, &[m, c]);
        let idx = random::categorical(&l, -1, Samples::Num(5), Some(&k)).to_vec::<u32>().unwrap();
        for (j, &i) in idx.iter().enumerate() {
            let row = j / 5;
            prop_assert!(((row * c as usize) + i as usize).is_multiple_of(2), "picked class {i}");
        }
    }
}

#[test]
fn normal_moments_are_standard() {
    let v = random::normal(&[20000], DType::F32, None, None, Some(&random::key(3)))
        .to_vec::<f32>()
        .unwrap();
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.03, "mean {mean}");
    assert!((var - 1.0).abs() < 0.04, "variance {var}");
    let b = random::bernoulli(0.3f32, Some(&[20000]), Some(&random::key(4)))
        .to_vec::<bool>()
        .unwrap();
    let p = b.iter().filter(|&&x| x).count() as f64 / 20000.0;
    assert!((p - 0.3).abs() < 0.02, "bernoulli rate {p}");
}
