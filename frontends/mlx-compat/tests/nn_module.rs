//! The module tree: parameter nests and their MLX key names, freezing,
//! train/eval, `update`, `save_weights`/`load_weights` (round trips, files
//! MLX wrote, strict and non-strict errors), `value_and_grad` over a
//! model, initializer statistics and dropout.

use psionic_mlx::nn::{self, init, Layer, Module, Params};
use psionic_mlx::*;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nn")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("psionic-nn-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn mlp() -> nn::Sequential {
    nn::Sequential::default()
        .push(nn::Linear::new(4, 6, true))
        .push(nn::ReLU::new())
        .push(nn::LayerNorm::with_dims(6))
        .push(nn::Linear::new(6, 2, false))
}

fn keys(p: &Params) -> Vec<String> {
    p.flatten().into_iter().map(|(k, _)| k).collect()
}

#[test]
fn parameter_keys_are_mlxs() {
    let m = mlp();
    assert_eq!(
        keys(&m.parameters()),
        [
            "layers.0.bias",
            "layers.0.weight",
            "layers.2.bias",
            "layers.2.weight",
            "layers.3.weight"
        ]
    );
    let bn = nn::BatchNorm::with_features(3);
    assert_eq!(
        keys(&bn.parameters()),
        ["bias", "running_mean", "running_var", "weight"]
    );
    assert_eq!(keys(&bn.trainable_parameters()), ["bias", "weight"]);
    let mha = nn::MultiHeadAttention::new(8, 2);
    assert_eq!(
        keys(&mha.parameters()),
        [
            "key_proj.weight",
            "out_proj.weight",
            "query_proj.weight",
            "value_proj.weight"
        ]
    );
    let children: Vec<String> = m.children().into_iter().map(|(k, _)| k).collect();
    assert_eq!(children, ["layers.0", "layers.1", "layers.2", "layers.3"]);
    assert!(m
        .describe()
        .starts_with("Sequential(\n  (layers.0): Linear(input_dims=4, output_dims=6, bias=True)"));
}

#[test]
fn freeze_and_unfreeze_with_keys() {
    let mut m = mlp();
    m.freeze(true, None, false).unwrap();
    assert!(m.trainable_parameters().is_empty());
    m.unfreeze(true, Some(&["bias"]), false).unwrap();
    assert_eq!(
        keys(&m.trainable_parameters()),
        ["layers.0.bias", "layers.2.bias"]
    );
    m.unfreeze(true, None, false).unwrap();
    m.freeze(true, Some(&["weight"]), false).unwrap();
    assert_eq!(
        keys(&m.trainable_parameters()),
        ["layers.0.bias", "layers.2.bias"]
    );
    let e = m.freeze(true, Some(&["nope"]), true).unwrap_err();
    assert_eq!(e.to_string(), "freeze: module doesn't contain member nope");
    // Not recursive: only the root's own arrays (a Sequential has none).
    let mut lin = nn::Linear::new(2, 2, true);
    lin.freeze(false, None, false).unwrap();
    assert!(lin.trainable_parameters().is_empty());
    // BatchNorm's running statistics stay frozen through unfreeze.
    let mut bn = nn::BatchNorm::with_features(2);
    bn.freeze(true, None, false).unwrap();
    bn.unfreeze_params(None).unwrap();
    assert_eq!(keys(&bn.trainable_parameters()), ["bias", "weight"]);
}

#[test]
fn train_eval_reaches_every_module_and_changes_batchnorm() {
    let mut m = nn::Sequential::default()
        .push(nn::Dropout::new(0.5))
        .push(nn::BatchNorm::with_features(2));
    assert!(m.training());
    m.eval_mode();
    assert!(m.descendants().iter().all(|(_, c)| !c.training()));
    // Eval: running stats (0, 1) normalize, dropout is the identity.
    let x = array(&[1.0f32, 2.0, 3.0, 5.0], &[2, 2]);
    let y = m.forward(&x).to_vec::<f32>().unwrap();
    let k = 1.0 / (1.0f32 + 1e-5).sqrt();
    for (a, b) in y.iter().zip([1.0 * k, 2.0 * k, 3.0 * k, 5.0 * k]) {
        assert!((a - b).abs() < 1e-6, "{y:?}");
    }
    // Training: forward_mut updates the running stats with momentum 0.1.
    m.train(true);
    let mut bn = nn::BatchNorm::with_features(2);
    let _ = bn.forward_mut(&x);
    let rm = bn.running_mean.clone().unwrap().to_vec::<f32>().unwrap();
    let rv = bn.running_var.clone().unwrap().to_vec::<f32>().unwrap();
    assert!(
        (rm[0] - 0.2).abs() < 1e-6 && (rm[1] - 0.35).abs() < 1e-6,
        "{rm:?}"
    );
    // Unbiased variances 2 and 4.5.
    assert!(
        (rv[0] - 1.1).abs() < 1e-6 && (rv[1] - 1.35).abs() < 1e-6,
        "{rv:?}"
    );
}

#[test]
fn update_replaces_and_rejects_unknown_keys() {
    let mut lin = nn::Linear::new(2, 3, true);
    let w = ones(&[3, 2], DType::F32);
    let p = Params::unflatten(vec![("weight".to_string(), w)]).unwrap();
    lin.update(&p).unwrap();
    assert_eq!(lin.weight.to_vec::<f32>().unwrap(), vec![1.0; 6]);
    let bad = Params::unflatten(vec![("wieght".to_string(), zeros(&[3, 2], DType::F32))]).unwrap();
    assert_eq!(
        lin.update(&bad).unwrap_err().to_string(),
        "update: module does not have parameter named \"wieght\""
    );
    lin.update_with(&bad, false).unwrap();
    let p =
        Params::unflatten(vec![("layers.3.weight".into(), zeros(&[2, 6], DType::F32))]).unwrap();
    let mut m = mlp();
    m.update(&p).unwrap();
    assert_eq!(
        m.parameters()
            .get("layers.3.weight")
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        vec![0.0; 12]
    );
}

#[test]
fn save_load_round_trips_in_both_formats() {
    for ext in ["safetensors", "npz"] {
        let a = mlp();
        let path = tmp(&format!("rt.{ext}"));
        a.save_weights(&path).unwrap();
        let mut b = mlp();
        b.load_weights(&path, true).unwrap();
        for ((ka, va), (kb, vb)) in a
            .parameters()
            .flatten()
            .iter()
            .zip(b.parameters().flatten())
        {
            assert_eq!(ka, &kb);
            assert_eq!(
                va.to_vec::<f32>().unwrap(),
                vb.to_vec::<f32>().unwrap(),
                "{ext} {ka}"
            );
        }
    }
    let e = mlp().save_weights(&tmp("w.bin")).unwrap_err();
    assert!(
        e.to_string().contains("use '.npz' or '.safetensors'"),
        "{e}"
    );
}

#[test]
fn files_written_by_mlx_load_and_compute_the_same() {
    let io_fx = io::api::load(fixtures().join("mlx_model_io.safetensors"))
        .unwrap()
        .into_map();
    for ext in ["safetensors", "npz"] {
        let mut m = mlp();
        m.load_weights(&fixtures().join(format!("mlx_model.{ext}")), true)
            .unwrap();
        let y = m.forward(&io_fx["x"]).to_vec::<f32>().unwrap();
        let want = io_fx["y"].to_vec::<f32>().unwrap();
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{ext}: {a} vs MLX {b}");
        }
    }
}

#[test]
fn strict_load_names_missing_unexpected_and_misshaped_keys() {
    let good = mlp().parameters().flatten();
    let mut m = mlp();
    let mut extra = good.clone();
    extra.push(("layers.9.weight".into(), zeros(&[1], DType::F32)));
    assert_eq!(
        m.load_weights_from(extra.clone(), true)
            .unwrap_err()
            .to_string(),
        "load_weights: received 1 parameters not in model: layers.9.weight"
    );
    let missing: Vec<_> = good
        .iter()
        .filter(|(k, _)| k != "layers.2.bias")
        .cloned()
        .collect();
    assert_eq!(
        m.load_weights_from(missing.clone(), true)
            .unwrap_err()
            .to_string(),
        "load_weights: missing 1 parameters: layers.2.bias"
    );
    let mut shaped = good.clone();
    shaped[0].1 = zeros(&[7], DType::F32);
    assert_eq!(
        m.load_weights_from(shaped, true).unwrap_err().to_string(),
        "load_weights: expected shape [6] but received shape [7] for parameter layers.0.bias"
    );
    // Non-strict: extras are skipped, missing keys keep their values.
    let before = m
        .parameters()
        .get("layers.2.bias")
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    m.load_weights_from(extra, false).unwrap();
    m.load_weights_from(missing, false).unwrap();
    let after = m
        .parameters()
        .get("layers.2.bias")
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(before, after);
    let e = m
        .load_weights(&tmp("absent.safetensors"), true)
        .unwrap_err();
    assert!(e.to_string().starts_with("load_weights:"), "{e}");
}

#[test]
fn value_and_grad_trains_an_mlp() {
    init::seed(3);
    let mut model = mlp();
    let x = array(&[0.5f32, -1.0, 2.0, 0.0, 1.0, 1.0, -0.5, 0.25], &[2, 4]);
    let y = array(&[1i32, 0], &[2]);
    let mut last = f32::INFINITY;
    for step in 0..20 {
        let (loss, grads) = {
            let vg = nn::value_and_grad(&model, |m: &nn::Sequential, (x, y): &(Array, Array)| {
                nn::losses::cross_entropy(
                    &m.forward(x),
                    y,
                    None,
                    -1,
                    0.0,
                    nn::losses::Reduction::Mean,
                )
            });
            vg(&(x.clone(), y.clone())).unwrap()
        };
        let l = loss.item::<f32>().unwrap();
        if step == 0 {
            last = l;
        }
        let p = model.trainable_parameters();
        let mut flat_g = grads.flatten().into_iter();
        let updated = p.map(&mut |w| {
            let (_, g) = flat_g.next().unwrap();
            w - g * 0.5
        });
        model.update(&updated).unwrap();
        eval(&model.parameters().leaves().iter().collect::<Vec<_>>()).unwrap();
        if step == 19 {
            assert!(l < last * 0.5, "loss went from {last} to {l}");
        }
    }
    // Frozen parameters get no gradient.
    model.freeze(true, Some(&["weight"]), false).unwrap();
    let vg = nn::value_and_grad(&model, |m: &nn::Sequential, x: &Array| {
        m.forward(x).sum(Axes::All, false)
    });
    let (_, g) = vg(&x).unwrap();
    assert_eq!(keys(&g), ["layers.0.bias", "layers.2.bias"]);
}

use psionic_mlx::transforms::Tree;

fn stats(a: &Array) -> (f64, f64, f32, f32) {
    let v = a.to_vec::<f32>().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let lo = v.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    (mean, var.sqrt(), lo, hi)
}

#[test]
fn initializers_have_mlxs_distributions() {
    init::seed(11);
    let w = zeros(&[200, 100], DType::F32);
    let (m, s, lo, hi) = stats(&init::uniform(-2.0, 3.0, DType::F32)(&w));
    assert!((m - 0.5).abs() < 0.05 && (s - 5.0 / 12f64.sqrt()).abs() < 0.03);
    assert!(lo >= -2.0 && hi < 3.0);
    let (m, s, _, _) = stats(&init::normal(1.0, 2.0, DType::F32)(&w));
    assert!((m - 1.0).abs() < 0.05 && (s - 2.0).abs() < 0.03, "{m} {s}");
    let lim = (6.0f64 / 300.0).sqrt();
    let (_, s, lo, hi) = stats(&init::glorot_uniform(DType::F32)(&w, 1.0));
    assert!((s - lim / 3f64.sqrt()).abs() < 0.003 && lo >= -lim as f32 && hi <= lim as f32);
    let (_, s, _, _) = stats(&init::glorot_normal(DType::F32)(&w, 2.0));
    assert!((s - 2.0 * (2.0f64 / 300.0).sqrt()).abs() < 0.005, "{s}");
    let (_, s, _, _) = stats(&init::he_normal(DType::F32)(&w, init::FanMode::FanIn, 1.0));
    assert!((s - 0.1).abs() < 0.003, "{s}");
    let (_, s, lo, hi) = stats(&init::he_uniform(DType::F32)(
        &w,
        init::FanMode::FanOut,
        1.0,
    ));
    let lim = (3.0f64 / 200.0).sqrt();
    assert!((s - lim / 3f64.sqrt()).abs() < 0.003 && lo >= -lim as f32 && hi <= lim as f32);
    assert_eq!(
        init::constant(0.5, DType::F32)(&w).to_vec::<f32>().unwrap(),
        vec![0.5; 20000]
    );
    let id = init::identity(DType::F32)(&zeros(&[3, 3], DType::F32))
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(id, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let e = init::identity(DType::F32)(&zeros(&[2, 3], DType::F32))
        .to_vec::<f32>()
        .unwrap_err();
    assert!(
        e.to_string().contains("square matrix but got shape [2,3]"),
        "{e}"
    );
    let e = init::he_normal(DType::F32)(&zeros(&[3], DType::F32), init::FanMode::FanIn, 1.0)
        .to_vec::<f32>()
        .unwrap_err();
    assert!(e.to_string().contains("at least 2 dimensional"), "{e}");
}

#[test]
fn seeded_layer_init_matches_mlx_bit_for_bit() {
    let fx = io::api::load(fixtures().join("seeded_init.safetensors"))
        .unwrap()
        .into_map();
    init::seed(42);
    let lin = nn::Linear::new(3, 2, true);
    let emb = nn::Embedding::new(4, 3);
    let pairs = [
        ("linear.weight", &lin.weight),
        ("linear.bias", lin.bias.as_ref().unwrap()),
        ("embedding.weight", &emb.weight),
    ];
    for (k, a) in pairs {
        let got = a.to_vec::<f32>().unwrap();
        let want = fx[k].to_vec::<f32>().unwrap();
        assert_eq!(got, want, "{k}");
    }
}

#[test]
fn dropout_keeps_about_one_minus_p_and_rescales() {
    init::seed(5);
    let x = ones(&[100, 100], DType::F32);
    let d = nn::Dropout::new(0.25);
    let y = d.forward(&x).to_vec::<f32>().unwrap();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / 1e4;
    assert!((kept - 0.75).abs() < 0.02, "{kept}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    // Dropout2d zeroes whole channels of (N, H, W, C).
    let x = ones(&[4, 3, 3, 8], DType::F32);
    let y = nn::Dropout2d::new(0.5).forward(&x).to_vec::<f32>().unwrap();
    for n in 0..4 {
        for c in 0..8 {
            let vals: Vec<f32> = (0..9).map(|s| y[n * 72 + s * 8 + c]).collect();
            assert!(
                vals.iter().all(|&v| v == vals[0]),
                "channel not uniform: {vals:?}"
            );
        }
    }
    let mut e = nn::Dropout::new(0.9);
    e.eval_mode();
    assert_eq!(
        e.forward(&x).to_vec::<f32>().unwrap(),
        x.to_vec::<f32>().unwrap()
    );
    let bad = nn::Dropout::new(1.0)
        .forward(&x)
        .to_vec::<f32>()
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "Dropout: the dropout probability 1 is not in [0, 1)"
    );
}
