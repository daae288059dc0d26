//! Every loss in MLX's `nn.losses`, with MLX's formulas, argument order and
//! default reductions (noted on each function). Shape mismatches MLX
//! rejects are errors carried in the returned array.

use crate::array::Array;
use crate::error::{shape_str, Error};
use crate::ops::elementwise as ew;
use crate::{
    expand_dims, logsumexp, max, mean, squeeze, stop_gradient, sum, take_along_axis, Axes,
};

/// How a per-element loss is reduced: MLX's `"none"`, `"mean"`, `"sum"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl std::str::FromStr for Reduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            _ => Err(Error::new(
                "losses",
                "invalid reduction: must be one of ('none', 'mean', 'sum')",
            )),
        }
    }
}

fn reduce(loss: Array, reduction: Reduction) -> Array {
    match reduction {
        Reduction::None => loss,
        Reduction::Mean => mean(&loss, Axes::All, false),
        Reduction::Sum => sum(&loss, Axes::All, false),
    }
}

fn fail(op: &str, msg: String) -> Array {
    Array::from_error(Error::new(op, msg))
}

fn same_shape(op: &str, a: &Array, an: &str, b: &Array, bn: &str) -> Option<Array> {
    (a.shape() != b.shape()).then(|| {
        fail(
            op,
            format!(
                "{an} shape {} does not match {bn} shape {}",
                shape_str(a.shape()),
                shape_str(b.shape())
            ),
        )
    })
}

fn weighted(op: &str, loss: Array, weights: Option<&Array>) -> Array {
    match weights {
        None => loss,
        Some(w) if w.shape() != loss.shape() => fail(
            op,
            format!(
                "weights with shape {} is not the same as output loss with shape {}",
                shape_str(w.shape()),
                shape_str(loss.shape())
            ),
        ),
        Some(w) => loss * w,
    }
}

/// Cross entropy of `logits` against class indices (one dim fewer than
/// `logits`) or probabilities (same shape). Default reduction: none.
/// `label_smoothing` must be in `[0, 1)`.
pub fn cross_entropy(
    logits: &Array,
    targets: &Array,
    weights: Option<&Array>,
    axis: i32,
    label_smoothing: f32,
    reduction: Reduction,
) -> Array {
    const OP: &str = "cross_entropy";
    if !(0.0..1.0).contains(&label_smoothing) {
        return fail(
            OP,
            format!("label smoothing must be in [0, 1), got {label_smoothing}"),
        );
    }
    let as_probs = targets.ndim() == logits.ndim();
    let r = logits.ndim() as i32;
    let ax = if axis < 0 { axis + r } else { axis };
    if ax < 0 || ax >= r {
        return fail(OP, format!("axis {axis} is out of bounds for rank {r}"));
    }
    let mut dropped = logits.shape().to_vec();
    dropped.remove(ax as usize);
    if (as_probs && targets.shape() != logits.shape())
        || (!as_probs && targets.shape() != dropped.as_slice())
    {
        return fail(
            OP,
            format!(
                "targets shape {} does not match logits shape {}",
                shape_str(targets.shape()),
                shape_str(logits.shape())
            ),
        );
    }
    let logits = logits - stop_gradient(&max(logits, axis, true));
    let score = if as_probs {
        sum(&(&logits * targets), axis, false)
    } else {
        squeeze(
            &take_along_axis(&logits, &expand_dims(targets, axis), Some(axis)),
            axis,
        )
    };
    let lse = logsumexp(&logits, axis, false);
    let loss = if label_smoothing > 0.0 {
        let adjusted = &score * (1.0 - label_smoothing);
        let smoothed = -mean(&logits, axis, false) * label_smoothing;
        lse - adjusted + smoothed
    } else {
        lse - score
    };
    reduce(weighted(OP, loss, weights), reduction)
}

/// Binary cross entropy from logits (`with_logits`, MLX's default) or
/// probabilities (logs clipped at -100). Default reduction: mean.
pub fn binary_cross_entropy(
    inputs: &Array,
    targets: &Array,
    weights: Option<&Array>,
    with_logits: bool,
    reduction: Reduction,
) -> Array {
    const OP: &str = "binary_cross_entropy";
    if let Some(e) = same_shape(OP, inputs, "inputs", targets, "targets") {
        return e;
    }
    let loss = if with_logits {
        ew::logaddexp(0.0, inputs) - inputs * targets
    } else {
        let li = ew::maximum(ew::log(inputs), -100.0);
        let lin = ew::maximum(ew::log(&(1.0 - inputs)), -100.0);
        let inv: Array = 1.0 - targets;
        let ll: Array = targets * li + inv * lin;
        -ll
    };
    reduce(weighted(OP, loss, weights), reduction)
}

/// `|predictions - targets|`. Default reduction: mean.
pub fn l1_loss(predictions: &Array, targets: &Array, reduction: Reduction) -> Array {
    if let Some(e) = same_shape("l1_loss", predictions, "predictions", targets, "targets") {
        return e;
    }
    reduce(ew::abs(&(predictions - targets)), reduction)
}

/// `(predictions - targets)^2`. Default reduction: mean.
pub fn mse_loss(predictions: &Array, targets: &Array, reduction: Reduction) -> Array {
    if let Some(e) = same_shape("mse_loss", predictions, "predictions", targets, "targets") {
        return e;
    }
    reduce(ew::square(&(predictions - targets)), reduction)
}

/// Negative log likelihood of log-probabilities at class indices.
/// Default reduction: none.
pub fn nll_loss(inputs: &Array, targets: &Array, axis: i32, reduction: Reduction) -> Array {
    let picked = take_along_axis(inputs, &expand_dims(targets, axis), Some(axis));
    reduce(-squeeze(&picked, axis), reduction)
}

/// Gaussian negative log likelihood with variances `vars` (clamped at
/// `eps`, default 1e-6; `full` adds `0.5 log(2 pi)`). Default reduction: mean.
pub fn gaussian_nll_loss(
    inputs: &Array,
    targets: &Array,
    vars: &Array,
    full: bool,
    eps: f32,
    reduction: Reduction,
) -> Array {
    const OP: &str = "gaussian_nll_loss";
    if let Some(e) = same_shape(OP, inputs, "inputs", targets, "targets") {
        return e;
    }
    if let Some(e) = same_shape(OP, inputs, "inputs", vars, "vars") {
        return e;
    }
    let vars = ew::maximum(vars, eps);
    let mut loss = (ew::log(&vars) + ew::square(&(targets - inputs)) / &vars) * 0.5;
    if full {
        loss = loss + 0.5 * (2.0 * std::f64::consts::PI).ln();
    }
    reduce(loss, reduction)
}

/// `sum(exp(targets) * (targets - inputs), axis)` over log-probabilities.
/// Default reduction: none.
pub fn kl_div_loss(inputs: &Array, targets: &Array, axis: i32, reduction: Reduction) -> Array {
    reduce(
        sum(&(ew::exp(targets) * (targets - inputs)), axis, false),
        reduction,
    )
}

/// Smooth L1: `0.5 d^2 / beta` below `beta` (default 1), `d - 0.5 beta`
/// above. Default reduction: mean.
pub fn smooth_l1_loss(
    predictions: &Array,
    targets: &Array,
    beta: f32,
    reduction: Reduction,
) -> Array {
    if let Some(e) = same_shape(
        "smooth_l1_loss",
        predictions,
        "predictions",
        targets,
        "targets",
    ) {
        return e;
    }
    let diff = ew::abs(&(predictions - targets));
    let quad = ew::square(&diff) * 0.5 / beta;
    let lin = ew::abs(&diff) - 0.5 * beta;
    reduce(ew::r#where(ew::less(&diff, beta), &quad, &lin), reduction)
}

/// Triplet margin loss with the `p`-norm (defaults: axis -1, p 2, margin 1,
/// eps 1e-6). Default reduction: none.
pub fn triplet_loss(
    anchors: &Array,
    positives: &Array,
    negatives: &Array,
    axis: i32,
    p: i32,
    margin: f32,
    eps: f32,
    reduction: Reduction,
) -> Array {
    let dist = |other: &Array| {
        let s = sum(&ew::power(ew::abs(&(anchors - other)), p), axis, false);
        ew::power(&(s + eps), 1.0 / p as f64)
    };
    let loss = ew::maximum(&(dist(positives) - dist(negatives) + margin), 0);
    reduce(loss, reduction)
}

/// `max(1 - inputs * targets, 0)`. Default reduction: none.
pub fn hinge_loss(inputs: &Array, targets: &Array, reduction: Reduction) -> Array {
    reduce(ew::maximum(&(1 - inputs * targets), 0), reduction)
}

/// Huber loss with threshold `delta` (default 1). Default reduction: none.
pub fn huber_loss(inputs: &Array, targets: &Array, delta: f32, reduction: Reduction) -> Array {
    let abs_errors = ew::abs(&(inputs - targets));
    let quadratic = ew::minimum(&abs_errors, delta);
    let linear = &abs_errors - &quadratic;
    let loss = ew::power(&quadratic, 2) * 0.5 + linear * delta;
    reduce(loss, reduction)
}

/// `log(cosh(inputs - targets))`, stably. Default reduction: none.
pub fn log_cosh_loss(inputs: &Array, targets: &Array, reduction: Reduction) -> Array {
    let e = inputs - targets;
    let loss = ew::logaddexp(&e, ew::negative(&e)) - std::f64::consts::LN_2;
    reduce(loss, reduction)
}

/// Cosine similarity along `axis` (default 1; norms clamped at `eps`,
/// default 1e-8). Default reduction: none.
pub fn cosine_similarity_loss(
    x1: &Array,
    x2: &Array,
    axis: i32,
    eps: f32,
    reduction: Reduction,
) -> Array {
    let norm = |x: &Array| ew::sqrt(&sum(&ew::square(x), axis, false));
    let denom = ew::maximum(&(norm(x1) * norm(x2)), eps);
    reduce(sum(&(x1 * x2), axis, false) / denom, reduction)
}

/// `max(0, -targets * (inputs1 - inputs2) + margin)` (default margin 0).
/// Default reduction: none.
pub fn margin_ranking_loss(
    inputs1: &Array,
    inputs2: &Array,
    targets: &Array,
    margin: f32,
    reduction: Reduction,
) -> Array {
    if inputs1.shape() != inputs2.shape() || inputs1.shape() != targets.shape() {
        return fail(
            "margin_ranking_loss",
            format!(
                "the shapes of the arguments do not match: inputs1 {}, inputs2 {}, targets {}",
                shape_str(inputs1.shape()),
                shape_str(inputs2.shape()),
                shape_str(targets.shape())
            ),
        );
    }
    let d = inputs1 - inputs2;
    reduce(ew::maximum(0, &(-(targets * d) + margin)), reduction)
}
