//! Optimizers, schedules and `clip_grad_norm` against real MLX: fixtures
//! written by `tools/mlx/gen_optim_fixtures.py` (MLX 0.32.4) hold fixed
//! parameters, the gradients of five steps, the parameters after every
//! step and MLX's state after the last (flattened with MLX's key names).
//! Every case runs both through the pure `apply_gradients(grads, params,
//! state)` and the stateful `update`, and must match MLX in f32 within a
//! few ulps-scale tolerance, with the same state keys, dtypes and values.

use psionic_mlx::optimizers::*;
use psionic_mlx::utils::{tree_flatten, tree_unflatten};
use psionic_mlx::*;
use serde_json::Value;
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/optim");

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture file");
    serde_json::from_str(&text).expect("fixture json")
}

fn arr(v: &Value) -> Array {
    let shape: Vec<i32> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap() as i32)
        .collect();
    let data = v["data"].as_array().unwrap();
    match v["dtype"].as_str().unwrap() {
        "float32" => {
            let d: Vec<f32> = data.iter().map(|x| x.as_f64().unwrap() as f32).collect();
            array(&d, &shape)
        }
        "uint64" => {
            let d: Vec<u64> = data.iter().map(|x| x.as_u64().unwrap()).collect();
            array(&d, &shape)
        }
        other => panic!("fixture dtype {other}"),
    }
}

fn flat_items(v: &Value) -> Vec<(String, Array)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|kv| (kv[0].as_str().unwrap().to_string(), arr(&kv[1])))
        .collect()
}

fn tree(v: &Value) -> Nest {
    tree_unflatten(flat_items(v)).unwrap()
}

/// Compares a tree with MLX's flattened one: the same keys in the same
/// order, dtypes, shapes, and values within `rtol`/`atol`.
fn assert_close(what: &str, got: &Nest, want: &Value, rtol: f64, atol: f64) {
    let got = tree_flatten(got);
    let want = flat_items(want);
    let gk: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    let wk: Vec<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(gk, wk, "{what}: keys");
    for ((k, g), (_, w)) in got.iter().zip(&want) {
        assert_eq!(g.dtype(), w.dtype(), "{what}: dtype of {k}");
        assert_eq!(g.shape(), w.shape(), "{what}: shape of {k}");
        if g.dtype() == DType::U64 {
            assert_eq!(
                g.to_vec::<u64>().unwrap(),
                w.to_vec::<u64>().unwrap(),
                "{what}: {k}"
            );
            continue;
        }
        let gv = g.to_vec::<f32>().unwrap();
        let wv = w.to_vec::<f32>().unwrap();
        for (i, (a, b)) in gv.iter().zip(&wv).enumerate() {
            let (a, b) = (*a as f64, *b as f64);
            assert!(
                (a - b).abs() <= atol + rtol * b.abs(),
                "{what}: {k}[{i}] = {a}, MLX {b}"
            );
        }
    }
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn betas(v: &Value) -> Option<(f64, f64)> {
    let b = v.get("betas")?.as_array()?;
    Some((b[0].as_f64()?, b[1].as_f64()?))
}

fn schedule(spec: &Value) -> Schedule {
    let a = &spec["args"];
    match spec["kind"].as_str().unwrap() {
        "exponential_decay" => {
            exponential_decay(f(a, "init").unwrap(), f(a, "decay_rate").unwrap())
        }
        "step_decay" => step_decay(
            f(a, "init").unwrap(),
            f(a, "decay_rate").unwrap(),
            a["step_size"].as_i64().unwrap(),
        )
        .unwrap(),
        "cosine_decay" => cosine_decay(
            f(a, "init").unwrap(),
            a["decay_steps"].as_i64().unwrap(),
            f(a, "end").unwrap_or(0.0),
        )
        .unwrap(),
        "linear_schedule" => linear_schedule(
            f(a, "init").unwrap(),
            f(a, "end").unwrap(),
            a["steps"].as_i64().unwrap(),
        )
        .unwrap(),
        "join" => join_schedules(
            a["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(schedule)
                .collect(),
            a["boundaries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_i64().unwrap())
                .collect(),
        )
        .unwrap(),
        other => panic!("schedule {other}"),
    }
}

fn lr(kw: &Value) -> Option<LearningRate> {
    match kw.get("learning_rate")? {
        Value::Number(n) => Some(LearningRate::Constant(n.as_f64().unwrap())),
        spec => Some(LearningRate::Schedule(schedule(spec))),
    }
}

/// The optimizer a fixture case names, built through the public API.
fn build(case: &Value) -> Box<dyn Optimizer> {
    let kw = &case["kwargs"];
    let name = case["optimizer"].as_str().unwrap();
    match name {
        "SGD" => Box::new(
            SGD::new(lr(kw).unwrap())
                .momentum(f(kw, "momentum").unwrap_or(0.0))
                .weight_decay(f(kw, "weight_decay").unwrap_or(0.0))
                .dampening(f(kw, "dampening").unwrap_or(0.0))
                .nesterov(kw.get("nesterov").and_then(Value::as_bool).unwrap_or(false)),
        ),
        "RMSprop" => {
            let mut o = RMSprop::new(lr(kw).unwrap());
            if let Some(v) = f(kw, "alpha") {
                o = o.alpha(v);
            }
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            Box::new(o)
        }
        "Adagrad" => {
            let mut o = Adagrad::new(lr(kw).unwrap());
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            Box::new(o)
        }
        "AdaDelta" => {
            let mut o = AdaDelta::new(lr(kw).unwrap());
            if let Some(v) = f(kw, "rho") {
                o = o.rho(v);
            }
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            Box::new(o)
        }
        "Adam" => {
            let mut o = Adam::new(lr(kw).unwrap());
            if let Some((a, b)) = betas(kw) {
                o = o.betas(a, b);
            }
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            if let Some(v) = kw.get("bias_correction").and_then(Value::as_bool) {
                o = o.bias_correction(v);
            }
            Box::new(o)
        }
        "AdamW" => {
            let mut o = AdamW::new(lr(kw).unwrap());
            if let Some((a, b)) = betas(kw) {
                o = o.betas(a, b);
            }
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            if let Some(v) = f(kw, "weight_decay") {
                o = o.weight_decay(v);
            }
            if let Some(v) = kw.get("bias_correction").and_then(Value::as_bool) {
                o = o.bias_correction(v);
            }
            Box::new(o)
        }
        "Adamax" => {
            let mut o = Adamax::new(lr(kw).unwrap());
            if let Some((a, b)) = betas(kw) {
                o = o.betas(a, b);
            }
            if let Some(v) = f(kw, "eps") {
                o = o.eps(v);
            }
            Box::new(o)
        }
        "Lion" => {
            let mut o = Lion::new(lr(kw).unwrap());
            if let Some((a, b)) = betas(kw) {
                o = o.betas(a, b);
            }
            if let Some(v) = f(kw, "weight_decay") {
                o = o.weight_decay(v);
            }
            Box::new(o)
        }
        "Adafactor" => {
            let mut o = Adafactor::new();
            if let Some(l) = lr(kw) {
                o = o.learning_rate(l);
            }
            if let Some(e) = kw.get("eps").and_then(Value::as_array) {
                o = o.eps(e[0].as_f64().unwrap(), e[1].as_f64().unwrap());
            }
            if let Some(v) = f(kw, "clip_threshold") {
                o = o.clip_threshold(v);
            }
            if let Some(v) = f(kw, "decay_rate") {
                o = o.decay_rate(v);
            }
            if let Some(v) = f(kw, "beta_1") {
                o = o.beta_1(Some(v));
            }
            if let Some(v) = f(kw, "weight_decay") {
                o = o.weight_decay(v);
            }
            for (k, set) in [
                (
                    "scale_parameter",
                    Adafactor::scale_parameter as fn(_, _) -> _,
                ),
                ("relative_step", Adafactor::relative_step),
                ("warmup_init", Adafactor::warmup_init),
            ] {
                if let Some(v) = kw.get(k).and_then(Value::as_bool) {
                    o = set(o, v);
                }
            }
            Box::new(o)
        }
        "Muon" => {
            let mut o = Muon::new(lr(kw).unwrap());
            if let Some(v) = f(kw, "momentum") {
                o = o.momentum(v);
            }
            if let Some(v) = f(kw, "weight_decay") {
                o = o.weight_decay(v);
            }
            if let Some(v) = kw.get("nesterov").and_then(Value::as_bool) {
                o = o.nesterov(v);
            }
            if let Some(v) = kw.get("ns_steps").and_then(Value::as_u64) {
                o = o.ns_steps(v as usize);
            }
            Box::new(o)
        }
        "MultiOptimizer" => {
            let filter: Filter = Arc::new(|_path: &str, g: &Array| g.ndim() >= 2);
            Box::new(
                MultiOptimizer::new(
                    vec![
                        Box::new(Adam::new(0.01)),
                        Box::new(SGD::new(0.1).momentum(0.9)),
                    ],
                    vec![filter],
                )
                .unwrap(),
            )
        }
        other => panic!("optimizer {other}"),
    }
}

fn case_name(case: &Value) -> String {
    format!("{} {}", case["optimizer"], case["kwargs"])
}

// Tolerances: f32 arithmetic in a different order (our interpreter rounds
// each op from f64; MLX's CPU kernels vectorise) over five steps.
const RTOL: f64 = 2e-5;
const ATOL: f64 = 2e-6;

#[test]
fn every_optimizer_matches_mlx_through_the_pure_api() {
    let data = load("optimizers.json");
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 27);
    for case in cases {
        let name = case_name(case);
        let opt = build(case);
        let mut params = tree(&case["params"]);
        let mut state = opt.init_state(&params).unwrap();
        for (i, (g, want)) in case["grads"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["after"].as_array().unwrap())
            .enumerate()
        {
            let grads = tree(g);
            let (new, s) = opt.apply_gradients(&grads, &params, &state).unwrap();
            let new = psionic_mlx::utils::tree_update(&params, &new).unwrap();
            eval(&new.arrays().iter().collect::<Vec<_>>()).unwrap();
            eval(&s.arrays().iter().collect::<Vec<_>>()).unwrap();
            assert_close(&format!("{name} step {}", i + 1), &new, want, RTOL, ATOL);
            params = new;
            state = s;
        }
        assert_close(&format!("{name} state"), &state, &case["state"], RTOL, ATOL);
    }
}

#[test]
fn every_optimizer_matches_mlx_through_the_stateful_api() {
    let data = load("optimizers.json");
    for case in data["cases"].as_array().unwrap() {
        let name = case_name(case);
        let mut opt = build(case);
        let mut params = tree(&case["params"]);
        for (g, want) in case["grads"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["after"].as_array().unwrap())
        {
            opt.update(&mut params, &tree(g)).unwrap();
            eval(&params.arrays().iter().collect::<Vec<_>>()).unwrap();
            assert_close(&name, &params, want, RTOL, ATOL);
        }
        assert_close(
            &format!("{name} state"),
            &opt.state(),
            &case["state"],
            RTOL,
            ATOL,
        );
    }
}

#[test]
fn schedules_match_mlx() {
    let data = load("schedules.json");
    for case in data["cases"].as_array().unwrap() {
        let s = schedule(&case["spec"]);
        for (i, want) in case["values"].as_array().unwrap().iter().enumerate() {
            let got = s(&Array::from(i as u64));
            let want = arr(want);
            assert_eq!(got.dtype(), want.dtype(), "{}", case["spec"]);
            let (g, w) = (got.item::<f32>().unwrap(), want.item::<f32>().unwrap());
            assert!(
                (g - w).abs() <= 1e-7 + 1e-6 * w.abs(),
                "{} at step {i}: {g}, MLX {w}",
                case["spec"]
            );
        }
    }
}

#[test]
fn clip_grad_norm_matches_mlx() {
    let data = load("optimizers.json");
    for case in data["clip_grad_norm"].as_array().unwrap() {
        let max_norm = case["max_norm"].as_f64().unwrap();
        let (clipped, norm) = clip_grad_norm(&tree(&case["grads"]), max_norm).unwrap();
        let want_norm = arr(&case["norm"]).item::<f32>().unwrap();
        let got_norm = norm.item::<f32>().unwrap();
        assert!((got_norm - want_norm).abs() <= 1e-5 * want_norm, "norm");
        assert_close(
            &format!("clip {max_norm}"),
            &clipped,
            &case["clipped"],
            1e-5,
            1e-7,
        );
    }
    let e = clip_grad_norm(&Nest::empty(), -1.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "clip_grad_norm: max_norm should be >=0, -1 was provided instead"
    );
}

#[test]
fn invalid_hyperparameters_are_errors_that_name_them() {
    let p = Nest::dict([("w", Nest::Leaf(ones(&[2], DType::F32)))]);
    let e = SGD::new(0.1).nesterov(true).init_state(&p).unwrap_err();
    assert!(
        e.to_string()
            .contains("Nesterov momentum requires a momentum"),
        "{e}"
    );
    let e = Adam::new(0.1).betas(1.0, 0.9).init_state(&p).unwrap_err();
    assert!(
        e.to_string()
            .contains("Adam beta1 should be in [0, 1), 1 was provided"),
        "{e}"
    );
    let e = RMSprop::new(0.1).eps(0.0).init_state(&p).unwrap_err();
    assert!(
        e.to_string().contains("RMSprop epsilon should be >0"),
        "{e}"
    );
    let e = Adafactor::new()
        .relative_step(false)
        .init_state(&p)
        .unwrap_err();
    assert!(e.to_string().contains("learning rate"), "{e}");
    assert!(step_decay(0.1, 0.9, 0).is_err());
    assert!(cosine_decay(0.1, 0, 0.0).is_err());
    assert!(linear_schedule(0.0, 0.1, 0).is_err());
    assert!(join_schedules(vec![exponential_decay(0.1, 0.9)], vec![3]).is_err());
    assert!(MultiOptimizer::new(
        vec![Box::new(SGD::new(0.1))],
        vec![Arc::new(|_: &str, _: &Array| true)]
    )
    .is_err());
    // A gradient without a parameter names its path.
    let g = Nest::dict([("v", Nest::Leaf(ones(&[2], DType::F32)))]);
    let mut opt = Adam::new(0.1);
    let e = opt.apply_gradients_mut(&g, &p).unwrap_err();
    assert!(e.to_string().contains("no entry `v`"), "{e}");
}

#[test]
fn state_layout_is_mlx_s() {
    let p = Nest::dict([
        ("w", Nest::Leaf(ones(&[3, 2], DType::F32))),
        (
            "layers",
            Nest::List(vec![Nest::dict([(
                "b",
                Nest::Leaf(ones(&[2], DType::F32)),
            )])]),
        ),
    ]);
    let keys = |s: &Nest| -> Vec<String> { tree_flatten(s).into_iter().map(|(k, _)| k).collect() };
    let s = Adam::new(1e-3).init_state(&p).unwrap();
    assert_eq!(
        keys(&s),
        [
            "step",
            "learning_rate",
            "w.m",
            "w.v",
            "layers.0.b.m",
            "layers.0.b.v"
        ]
    );
    assert_eq!(s.array_at("step").unwrap().dtype(), DType::U64);
    assert_eq!(
        s.array_at("learning_rate").unwrap().item::<f32>().unwrap(),
        1e-3
    );
    let s = Adafactor::new().beta_1(Some(0.9)).init_state(&p).unwrap();
    assert_eq!(
        keys(&s),
        [
            "step",
            "w.exp_avg_sq_row",
            "w.exp_avg_sq_col",
            "w.exp_avg",
            "layers.0.b.exp_avg_sq",
            "layers.0.b.exp_avg"
        ]
    );
    assert_eq!(s.array_at("w.exp_avg_sq_row").unwrap().shape(), &[3]);
    assert_eq!(s.array_at("w.exp_avg_sq_col").unwrap().shape(), &[2]);
    let m = MultiOptimizer::new(
        vec![Box::new(Adam::new(1e-3)), Box::new(SGD::new(0.1))],
        vec![Arc::new(|path: &str, _: &Array| path.starts_with('w'))],
    )
    .unwrap();
    assert_eq!(
        keys(&m.init_state(&p).unwrap()),
        [
            "states.0.step",
            "states.0.learning_rate",
            "states.0.w.m",
            "states.0.w.v",
            "states.1.step",
            "states.1.learning_rate",
            "states.1.layers.0.b.v"
        ]
    );
    // Setting the learning rate writes the state, as in MLX.
    let mut o = SGD::new(0.1);
    o.set_learning_rate(0.5).unwrap();
    assert_eq!(o.learning_rate().unwrap().item::<f32>().unwrap(), 0.5);
}
