//! `psionic_mlx::fast`: MLX's fused ops (`mlx/fast.cpp`) — `rms_norm`,
//! `layer_norm`, `rope` and `scaled_dot_product_attention` — lowered to
//! the IR ops `tensor.rms_norm`, `tensor.layer_norm`, `tensor.rope` and
//! `tensor.sdpa`, with MLX's argument checks and dtype promotion. A missing
//! weight (bias) is a 0-d one (zero), which leaves the values unchanged.

use super::elementwise::result_dtype;
use super::{broadcast_to_shape, cast_to, full_of, infallible};
use crate::array::{build, build1, Array, IntoOperand};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Opcode};

fn check_param(op: &str, what: &str, p: &Array, x: &Array) -> Result<(), Error> {
    p.check()?;
    if p.ndim() != 1 {
        return Err(Error::new(
            op,
            format!(
                "{what} must have 1 dimension but has {} dimensions",
                p.ndim()
            ),
        ));
    }
    if Some(p.shape()[0]) != x.shape().last().copied() {
        return Err(Error::new(
            op,
            format!(
                "{what} must have the same size as the last dimension of x but has {} elements",
                p.shape()[0]
            ),
        ));
    }
    Ok(())
}

fn out_type(op: &str, xs: &[&Array]) -> Result<DType, Error> {
    let ops: Vec<_> = xs.iter().map(|a| (*a).into_operand()).collect();
    let refs: Vec<_> = ops.iter().collect();
    let d = result_dtype(&refs);
    if !d.is_float() {
        return Err(Error::new(op, format!("received unsupported type {d}")));
    }
    Ok(d)
}

fn need_rank(op: &str, x: &Array) -> Result<(), Error> {
    x.check()?;
    if x.ndim() == 0 {
        return Err(Error::new(
            op,
            "input must have at least 1 dimension but got input with 0 dimensions",
        ));
    }
    Ok(())
}

/// `x * rsqrt(mean(x^2, -1) + eps) * weight`, accumulated in f32 (MLX's
/// `fast.rms_norm`; `weight: None` skips the scaling).
pub fn try_rms_norm(x: &Array, weight: Option<&Array>, eps: f32) -> Result<Array, Error> {
    let op = "rms_norm";
    need_rank(op, x)?;
    let mut all = vec![x];
    if let Some(w) = weight {
        check_param(op, "weight", w, x)?;
        all.push(w);
    }
    let d = out_type(op, &all)?;
    let w = match weight {
        Some(w) => cast_to(op, w, d)?,
        None => full_of(op, &[], d, 1.0)?,
    };
    build1(
        op,
        Opcode::RmsNorm,
        vec![cast_to(op, x, d)?, w],
        Attrs::new().with("eps", Attr::Float(eps as f64)),
    )
}

/// `(x - mean) * rsqrt(var + eps) * weight + bias` over the last axis
/// (MLX's `fast.layer_norm`; `None` skips the weight or the bias).
pub fn try_layer_norm(
    x: &Array,
    weight: Option<&Array>,
    bias: Option<&Array>,
    eps: f32,
) -> Result<Array, Error> {
    let op = "layer_norm";
    need_rank(op, x)?;
    let mut all = vec![x];
    if let Some(w) = weight {
        check_param(op, "weight", w, x)?;
        all.push(w);
        if let Some(b) = bias {
            all.push(b);
        }
    }
    if let Some(b) = bias {
        check_param(op, "bias", b, x)?;
    }
    // MLX promotes with the bias only when there is a weight too.
    let d = out_type(op, &all)?;
    let w = match weight {
        Some(w) => cast_to(op, w, d)?,
        None => full_of(op, &[], d, 1.0)?,
    };
    let b = match bias {
        Some(b) => cast_to(op, b, d)?,
        None => full_of(op, &[], d, 0.0)?,
    };
    build1(
        op,
        Opcode::LayerNorm,
        vec![cast_to(op, x, d)?, w, b],
        Attrs::new().with("eps", Attr::Float(eps as f64)),
    )
}

/// Rotary position embedding of the first `dims` features of `x` (at least
/// 3-d; positions along axis -2 start at `offset`, an integer or a 0-d or
/// per-batch 1-d integer array). Exactly one of `base` and `freqs` (f32,
/// `dims / 2` entries) gives the frequencies (MLX's `fast.rope`).
pub fn try_rope(
    x: &Array,
    dims: i32,
    traditional: bool,
    base: Option<f32>,
    scale: f32,
    offset: impl IntoOperand,
    freqs: Option<&Array>,
) -> Result<Array, Error> {
    let op = "rope";
    x.check()?;
    if x.ndim() < 3 {
        return Err(Error::new(
            op,
            format!(
                "input must have at least 3 dimensions but got input with {} dimensions",
                x.ndim()
            ),
        ));
    }
    if !x.dtype().is_float() {
        return Err(Error::new(
            op,
            format!("input must be a floating type but got {}", x.dtype()),
        ));
    }
    let offset = offset.into_operand().into_array();
    offset.check()?;
    if offset.ndim() > 1 {
        return Err(Error::new(
            op,
            format!(
                "offset must have at most one dimension but has shape {}",
                shape_str(offset.shape())
            ),
        ));
    }
    if !offset.dtype().is_integral() || offset.dtype() == DType::Bool {
        return Err(Error::new(
            op,
            format!("offset must be an integer but got type {}", offset.dtype()),
        ));
    }
    let offset = if offset.dtype().size() != 4 {
        cast_to(op, &offset, DType::I32)?
    } else {
        offset
    };
    let mut inputs = vec![x.clone(), offset];
    let base = match (base, freqs) {
        (Some(_), Some(_)) => {
            return Err(Error::new(op, "only one of base or freqs can have a value"))
        }
        (None, None) => return Err(Error::new(op, "neither base nor freqs has a value")),
        (Some(b), None) => b,
        (None, Some(f)) => {
            inputs.push(cast_to(op, f, DType::F32)?);
            1.0
        }
    };
    build1(
        op,
        Opcode::Rope,
        inputs,
        Attrs::new()
            .with("dims", Attr::Int(dims as i64))
            .with("traditional", Attr::Bool(traditional))
            .with("base", Attr::Float(base as f64))
            .with("scale", Attr::Float(scale as f64))
            .with("forward", Attr::Bool(true)),
    )
}

/// The mask of [`try_scaled_dot_product_attention`].
#[derive(Clone, Debug, Default)]
pub enum SdpaMask {
    /// No mask.
    #[default]
    None,
    /// Query `i` sees keys up to `i + (L_k - L_q)` (MLX's `"causal"`).
    Causal,
    /// A bool mask (false hides) or an additive float mask, broadcast to
    /// `[B, heads, L_q, L_k]`.
    Array(Array),
}

/// `softmax(scale * q k^T + mask) v` for `q` `[B, H_q, L_q, D]` and `k`,
/// `v` `[B, H_kv, L_k, D]` with `H_q` a multiple of `H_kv` (MLX's
/// `fast.scaled_dot_product_attention`); `sinks` (one logit per query head)
/// join each softmax as an extra column that is then dropped.
pub fn try_scaled_dot_product_attention(
    q: &Array,
    k: &Array,
    v: &Array,
    scale: f32,
    mask: SdpaMask,
    sinks: Option<&Array>,
) -> Result<Array, Error> {
    let op = "scaled_dot_product_attention";
    for t in [q, k, v] {
        t.check()?;
        if t.ndim() != 4 {
            return Err(Error::new(
                op,
                format!(
                    "input with shape {} expected to be rank 4",
                    shape_str(t.shape())
                ),
            ));
        }
    }
    let d = out_type(op, &[q, k, v])?;
    let mut inputs = vec![cast_to(op, q, d)?, cast_to(op, k, d)?, cast_to(op, v, d)?];
    let mut do_causal = false;
    match &mask {
        SdpaMask::None => {}
        SdpaMask::Causal => do_causal = true,
        SdpaMask::Array(m) => {
            m.check()?;
            if m.ndim() > 4 {
                return Err(Error::new(
                    op,
                    format!(
                        "the mask with shape {} expected to have at most rank 4",
                        shape_str(m.shape())
                    ),
                ));
            }
            if m.dtype().promote(d) != d {
                return Err(Error::new(
                    op,
                    format!("mask type must promote to output type {d}"),
                ));
            }
            let m = if m.dtype() == DType::Bool {
                m.clone()
            } else {
                cast_to(op, m, d)?
            };
            let mut shape = q.shape().to_vec();
            shape[3] = k.shape()[2];
            inputs.push(broadcast_to_shape(op, &m, &shape, &[])?);
        }
    }
    if let Some(s) = sinks {
        s.check()?;
        if s.dtype().promote(d) != d {
            return Err(Error::new(
                op,
                format!("type of sinks must promote to output type {d}"),
            ));
        }
        inputs.push(cast_to(op, s, d)?);
    }
    let mut out = build(
        op,
        Opcode::Sdpa,
        inputs,
        Attrs::new()
            .with("scale", Attr::Float(scale as f64))
            .with("do_causal", Attr::Bool(do_causal))
            .with("has_sinks", Attr::Bool(sinks.is_some()))
            .with("output_logsumexp", Attr::Bool(false)),
    )?;
    out.pop()
        .ok_or_else(|| Error::new(op, "tensor.sdpa gave no result"))
}

infallible! {
    /// See [`try_rms_norm`].
    fn rms_norm = try_rms_norm(x: &Array, weight: Option<&Array>, eps: f32);
    /// See [`try_layer_norm`].
    fn layer_norm = try_layer_norm(x: &Array, weight: Option<&Array>, bias: Option<&Array>, eps: f32);
    /// See [`try_rope`].
    fn rope = try_rope(x: &Array, dims: i32, traditional: bool, base: Option<f32>, scale: f32, offset: impl IntoOperand, freqs: Option<&Array>);
    /// See [`try_scaled_dot_product_attention`].
    fn scaled_dot_product_attention = try_scaled_dot_product_attention(q: &Array, k: &Array, v: &Array, scale: f32, mask: SdpaMask, sinks: Option<&Array>);
}
