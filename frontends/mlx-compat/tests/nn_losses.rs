//! Every loss in `nn::losses` against MLX (values and the gradient of the
//! summed loss with respect to the first input), on the inputs
//! `tools/mlx/gen_nn_fixtures.py` drew.

use psionic_mlx::nn::losses::{self, Reduction};
use psionic_mlx::transforms::try_grad;
use psionic_mlx::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> BTreeMap<String, Array> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nn")
        .join(format!("loss_{name}.safetensors"));
    io::api::load(&p)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_map()
}

fn close(what: &str, got: &Array, want: &Array, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let g = got
        .to_vec::<f32>()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let w = want.to_vec::<f32>().unwrap();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{i}]: got {a}, MLX {b}"
        );
    }
}

/// `f(inputs)` and `grad(sum f)` w.r.t. input 0 against MLX.
fn check(name: &str, f: impl Fn(&[Array]) -> Array) {
    let fx = fixture(name);
    let xs: Vec<Array> = (0..)
        .map_while(|i| fx.get(&format!("x{i}")).cloned())
        .collect();
    close(&format!("{name}: value"), &f(&xs), &fx["y"], 1e-4);
    let g = try_grad(|a: &Array| {
        let mut all = xs.clone();
        all[0] = a.clone();
        f(&all).sum(Axes::All, false)
    })(&xs[0])
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    close(&format!("{name}: grad"), &g, &fx["g"], 1e-3);
}

use Reduction::*;

#[test]
fn cross_entropy_variants() {
    check("ce", |x| {
        losses::cross_entropy(&x[0], &x[1], Option::None, -1, 0.0, None)
    });
    check("ce_probs_mean", |x| {
        losses::cross_entropy(&x[0], &x[1], Option::None, -1, 0.0, Mean)
    });
    check("ce_smooth_w", |x| {
        losses::cross_entropy(&x[0], &x[1], Some(&x[2]), -1, 0.2, Sum)
    });
    check("ce_axis0", |x| {
        losses::cross_entropy(&x[0], &x[1], Option::None, 0, 0.0, None)
    });
}

#[test]
fn binary_and_regression_losses() {
    check("bce_logits", |x| {
        losses::binary_cross_entropy(&x[0], &x[1], Option::None, true, Mean)
    });
    check("bce_probs", |x| {
        losses::binary_cross_entropy(&x[0], &x[1], Option::None, false, None)
    });
    check("l1", |x| losses::l1_loss(&x[0], &x[1], Mean));
    check("mse", |x| losses::mse_loss(&x[0], &x[1], Mean));
    check("mse_sum", |x| losses::mse_loss(&x[0], &x[1], Sum));
    check("smooth_l1", |x| {
        losses::smooth_l1_loss(&x[0], &x[1], 0.5, Mean)
    });
    check("huber", |x| losses::huber_loss(&x[0], &x[1], 0.8, None));
    check("log_cosh", |x| losses::log_cosh_loss(&x[0], &x[1], None));
    check("gaussian_nll", |x| {
        losses::gaussian_nll_loss(&x[0], &x[1], &x[2], false, 1e-6, Mean)
    });
    check("gaussian_nll_full", |x| {
        losses::gaussian_nll_loss(&x[0], &x[1], &x[2], true, 1e-6, Sum)
    });
}

#[test]
fn probabilistic_and_ranking_losses() {
    check("nll", |x| losses::nll_loss(&x[0], &x[1], -1, None));
    check("kl_div", |x| losses::kl_div_loss(&x[0], &x[1], -1, None));
    check("triplet", |x| {
        losses::triplet_loss(&x[0], &x[1], &x[2], -1, 2, 1.0, 1e-6, None)
    });
    check("triplet_p1", |x| {
        losses::triplet_loss(&x[0], &x[1], &x[2], -1, 1, 0.5, 1e-6, Mean)
    });
    check("hinge", |x| losses::hinge_loss(&x[0], &x[1], None));
    check("cosine", |x| {
        losses::cosine_similarity_loss(&x[0], &x[1], 1, 1e-8, None)
    });
    check("margin_ranking", |x| {
        losses::margin_ranking_loss(&x[0], &x[1], &x[2], 0.3, None)
    });
}

#[test]
fn shape_mismatches_are_errors_naming_the_shapes() {
    let a = zeros(&[3, 4], DType::F32);
    let b = zeros(&[4, 3], DType::F32);
    let e = losses::mse_loss(&a, &b, Mean).to_vec::<f32>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "mse_loss: predictions shape [3,4] does not match targets shape [4,3]"
    );
    let t = array(&[0i32, 1, 2], &[3]);
    let e = losses::cross_entropy(&a, &t, Option::None, -1, 1.0, Mean)
        .to_vec::<f32>()
        .unwrap_err();
    assert!(
        e.to_string().contains("label smoothing must be in [0, 1)"),
        "{e}"
    );
    let e = losses::cross_entropy(&a, &array(&[0i32, 1], &[2]), Option::None, -1, 0.0, Mean)
        .to_vec::<f32>()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("targets shape [2] does not match logits shape [3,4]"),
        "{e}"
    );
}
