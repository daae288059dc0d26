//! Every `nn` layer and activation against MLX: the parameters MLX drew are
//! loaded with `load_weights` (strict, so the key names must be MLX's),
//! then the forward output and the gradients of `sum(y * cot)` with respect
//! to every trainable parameter and every float input are compared with
//! the values MLX computed (`tools/mlx/gen_nn_fixtures.py`).

use psionic_mlx::nn::{self, Layer, Module, Params};
use psionic_mlx::transforms::try_value_and_grad;
use psionic_mlx::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> BTreeMap<String, Array> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nn")
        .join(format!("{name}.safetensors"));
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
        let err = (a - b).abs();
        assert!(
            err <= tol * (1.0 + b.abs()),
            "{what}[{i}]: got {a}, MLX {b} (|diff| {err})"
        );
    }
}

/// Loads MLX's parameters into `model`, then checks output and gradients.
fn check<M, F>(name: &str, mut model: M, eval_mode: bool, call: F)
where
    M: Module + Clone,
    F: Fn(&M, &[Array]) -> Array,
{
    let fx = fixture(name);
    let weights: Vec<(String, Array)> = fx
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("param.").map(|k| (k.to_string(), v.clone())))
        .collect();
    model
        .load_weights_from(weights, true)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if eval_mode {
        model.eval_mode();
    }
    let inputs: Vec<Array> = (0..)
        .map_while(|i| fx.get(&format!("x{i}")).cloned())
        .collect();
    let y = call(&model, &inputs);
    close(&format!("{name}: y"), &y, &fx["y"], 2e-4);

    let cot = fx["cot"].clone();
    let float_idx: Vec<usize> = (0..inputs.len())
        .filter(|&i| inputs[i].dtype().is_inexact())
        .collect();
    let diff_inputs: Vec<Array> = float_idx.iter().map(|&i| inputs[i].clone()).collect();
    let f = |(p, xs): &(Params, Vec<Array>)| {
        let m = nn::with_params(&model, p).unwrap();
        let mut all = inputs.clone();
        for (k, &i) in float_idx.iter().enumerate() {
            all[i] = xs[k].clone();
        }
        (call(&m, &all) * &cot).sum(Axes::All, false)
    };
    let vg = try_value_and_grad(f);
    let (_, (gp, gx)) = vg(&(model.trainable_parameters(), diff_inputs))
        .unwrap_or_else(|e| panic!("{name}: grad: {e}"));
    let gp = gp.flatten_map();
    let want_gp: BTreeMap<&str, &Array> = fx
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("gparam.").map(|k| (k, v)))
        .collect();
    assert_eq!(
        gp.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        want_gp.keys().copied().collect::<Vec<_>>(),
        "{name}: gradient keys"
    );
    for (k, w) in want_gp {
        close(&format!("{name}: d/d{k}"), &gp[k], w, 1e-3);
    }
    for (k, &i) in float_idx.iter().enumerate() {
        close(
            &format!("{name}: d/dx{i}"),
            &gx[k],
            &fx[&format!("gx{i}")],
            1e-3,
        );
    }
}

fn unary<L: Layer + Clone>(name: &str, layer: L) {
    check(name, layer, false, |m, xs| m.forward(&xs[0]));
}

#[test]
fn linear_bilinear_embedding_sequential() {
    unary("linear", nn::Linear::new(5, 3, true));
    unary("linear_nobias", nn::Linear::new(5, 3, false));
    check(
        "bilinear",
        nn::Bilinear::new(3, 4, 2, true),
        false,
        |m, xs| m.forward2(&xs[0], &xs[1]),
    );
    unary("embedding", nn::Embedding::new(10, 4));
    check(
        "embedding_as_linear",
        nn::Embedding::new(10, 4),
        false,
        |m, xs| m.as_linear(&xs[0]),
    );
    let seq = nn::Sequential::default()
        .push(nn::Linear::new(4, 8, true))
        .push(nn::ReLU::new())
        .push(nn::Linear::new(8, 2, true));
    unary("sequential", seq);
}

fn bytes(a: &Array) -> Vec<u8> {
    a.literal().unwrap().bytes().to_vec()
}

/// `nn::quantize` against MLX's: MLX's float weights (`float.*`) are loaded
/// and quantized here, and the quantized parameters must be MLX's bit for
/// bit, and so must the forward output when every matmul is quantized
/// (`exact_y`; a float `Linear`'s matmul sums in another order than MLX's
/// BLAS); then the usual check of the output and of the gradients (the
/// trainable parameters, as MLX freezes them, and the float input).
fn quantized_case<M, Q, F>(name: &str, exact_y: bool, mut model: M, quantize: Q, call: F)
where
    M: Module + Clone,
    Q: Fn(&mut M) -> Result<(), Error>,
    F: Fn(&M, &[Array]) -> Array,
{
    let fx = fixture(name);
    let floats: Vec<(String, Array)> = fx
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("float.").map(|k| (k.to_string(), v.clone())))
        .collect();
    model
        .load_weights_from(floats, true)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    quantize(&mut model).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = model.parameters().flatten_map();
    let want: BTreeMap<&str, &Array> = fx
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("param.").map(|k| (k, v)))
        .collect();
    assert_eq!(
        got.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        want.keys().copied().collect::<Vec<_>>(),
        "{name}: parameter keys"
    );
    for (k, w) in &want {
        assert_eq!(got[*k].dtype(), w.dtype(), "{name}: {k} dtype");
        assert_eq!(bytes(&got[*k]), bytes(w), "{name}: {k} differs from MLX's");
    }
    let inputs: Vec<Array> = (0..)
        .map_while(|i| fx.get(&format!("x{i}")).cloned())
        .collect();
    if exact_y {
        assert_eq!(
            bytes(&call(&model, &inputs)),
            bytes(&fx["y"]),
            "{name}: y is not MLX's bit for bit"
        );
    }
    check(name, model, false, call);
}

#[test]
fn quantized_layers_match_mlx() {
    use nn::{QuantizeChoice, Sequential};
    let model = || {
        Sequential::default()
            .push(nn::Embedding::new(16, 64))
            .push(nn::Linear::new(64, 64, true))
            .push(nn::ReLU::new())
            .push(nn::Linear::new(64, 32, false))
    };
    let fwd = |m: &Sequential, xs: &[Array]| m.forward(&xs[0]);
    quantized_case(
        "quant_default",
        true,
        model(),
        |m| nn::quantize(m, None, None, QuantMode::Affine, None),
        fwd,
    );
    quantized_case(
        "quant_g32_b3",
        true,
        model(),
        |m| nn::quantize(m, Some(32), Some(3), QuantMode::Affine, None),
        fwd,
    );
    let wide = Sequential::default()
        .push(nn::Linear::new(128, 256, true))
        .push(nn::ReLU::new())
        .push(nn::Linear::new(256, 128, true));
    quantized_case(
        "quant_g128_b6",
        true,
        wide,
        |m| nn::quantize(m, Some(128), Some(6), QuantMode::Affine, None),
        fwd,
    );
    // MLX: {"group_size": 32, "bits": 8} for layers.3, True for the
    // embedding, False otherwise.
    let pick = |path: &str, m: &dyn Module| {
        if path == "layers.3" {
            QuantizeChoice::With {
                group_size: Some(32),
                bits: Some(8),
                mode: QuantMode::Affine,
            }
        } else if m.type_name() == "Embedding" {
            QuantizeChoice::Quantize
        } else {
            QuantizeChoice::Skip
        }
    };
    quantized_case(
        "quant_predicate",
        false,
        model(),
        |m| nn::quantize(m, None, None, QuantMode::Affine, Some(&pick)),
        fwd,
    );
    quantized_case(
        "quant_embedding_as_linear",
        true,
        nn::Embedding::new(16, 64),
        |m| {
            *m = m.to_quantized(Some(32), Some(2), QuantMode::Affine)?;
            Ok(())
        },
        |m, xs| m.as_linear(&xs[0]),
    );
}

#[test]
fn quantize_reports_what_it_cannot_do() {
    let mut m = nn::Sequential::default()
        .push(nn::Linear::new(96, 8, true))
        .push(nn::ReLU::new());
    // 96 is not a multiple of the default group size 64: MLX's message.
    let e = nn::quantize(&mut m, None, None, QuantMode::Affine, None).unwrap_err();
    assert!(e.to_string().contains("divisible"), "{e}");
    // A predicate that picks a layer without a quantized form.
    let all = |_: &str, _: &dyn Module| nn::QuantizeChoice::Quantize;
    let e = nn::quantize(&mut m, Some(32), None, QuantMode::Affine, Some(&all)).unwrap_err();
    assert!(e.to_string().contains("ReLU"), "{e}");
    // The Linear before it was quantized, and is now skipped by default.
    assert_eq!(m.children()[0].1.type_name(), "QuantizedLinear");
    nn::quantize(&mut m, Some(32), None, QuantMode::Affine, None).unwrap();
    assert_eq!(
        m.describe(),
        "Sequential(\n  (layers.0): QuantizedLinear(input_dims=96, output_dims=8, bias=True, group_size=32, bits=4, mode=affine)\n  (layers.1): ReLU()\n)"
    );
}

#[test]
fn normalization() {
    unary("layernorm", nn::LayerNorm::with_dims(6));
    unary(
        "layernorm_noaffine",
        nn::LayerNorm::new(6, 1e-5, false, true),
    );
    unary("rmsnorm", nn::RMSNorm::new(6, 1e-5));
    unary("groupnorm", nn::GroupNorm::new(2, 6, 1e-5, true, false));
    unary("groupnorm_pt", nn::GroupNorm::new(3, 6, 1e-5, true, true));
    unary("instancenorm", nn::InstanceNorm::new(4, 1e-5, true));
    unary("batchnorm_train", nn::BatchNorm::with_features(4));
    check(
        "batchnorm_eval",
        nn::BatchNorm::with_features(3),
        true,
        |m, xs| m.forward(&xs[0]),
    );
}

#[test]
fn convolution() {
    unary("conv1d", nn::Conv1d::new(3, 4, [3], [2], [1], [1], 1, true));
    unary(
        "conv1d_groups",
        nn::Conv1d::new(4, 6, [3], [1], [0], [2], 2, true),
    );
    unary(
        "conv2d",
        nn::Conv2d::new(2, 3, [3, 2], [1, 2], [1, 0], [1, 1], 1, true),
    );
    unary(
        "conv3d",
        nn::Conv3d::new(2, 2, [2, 2, 2], [1; 3], [1; 3], [1; 3], 1, true),
    );
    unary(
        "convt1d",
        nn::ConvTranspose1d::new(3, 2, [3], [2], [1], [1], [1], true),
    );
    unary(
        "convt2d",
        nn::ConvTranspose2d::new(2, 3, [3, 3], [2, 2], [0; 2], [1; 2], [0; 2], true),
    );
    unary(
        "convt3d",
        nn::ConvTranspose3d::new(2, 2, [2; 3], [1; 3], [1; 3], [1; 3], [0; 3], true),
    );
}

#[test]
fn pooling_and_upsampling() {
    unary("maxpool1d", nn::MaxPool1d::new([3], Some([2]), [1]));
    unary("maxpool2d", nn::MaxPool2d::with_kernel(2));
    unary(
        "maxpool3d",
        nn::MaxPool3d::new([2; 3], Some([1; 3]), [0; 3]),
    );
    unary("avgpool1d", nn::AvgPool1d::new([2], None, [1]));
    unary(
        "avgpool2d",
        nn::AvgPool2d::new([2, 3], Some([1, 2]), [0, 0]),
    );
    unary("avgpool3d", nn::AvgPool3d::with_kernel(2));
    use nn::UpsampleMode::*;
    unary(
        "upsample_nearest",
        nn::Upsample::new(vec![2.0], Nearest, false),
    );
    unary(
        "upsample_linear",
        nn::Upsample::new(vec![2.0], Linear, false),
    );
    unary(
        "upsample_linear_ac",
        nn::Upsample::new(vec![2.0, 1.5], Linear, true),
    );
}

#[test]
fn upsample_cubic_and_antialiased() {
    use nn::Upsample;
    use nn::UpsampleMode::*;
    // Values bit for bit (the same f32 grid, weights, gathers and sums in
    // MLX's order), then the usual check with gradients.
    let both = |name: &str, u: Upsample| {
        let fx = fixture(name);
        assert_eq!(
            bytes(&u.forward(&fx["x0"])),
            bytes(&fx["y"]),
            "{name}: y is not MLX's bit for bit"
        );
        unary(name, u);
    };
    both("upsample_cubic", Upsample::new(vec![2.0], Cubic, false));
    both(
        "upsample_cubic_ac",
        Upsample::new(vec![2.0, 1.5], Cubic, true),
    );
    both("upsample_cubic_1d", Upsample::new(vec![2.5], Cubic, false));
    both(
        "upsample_cubic_down",
        Upsample::new(vec![0.5, 0.75], Cubic, false),
    );
    both(
        "upsample_cubic_3d",
        Upsample::new(vec![2.0, 1.0, 1.5], Cubic, true),
    );
    both(
        "upsample_cubic_aa",
        Upsample::new(vec![0.5, 1.5], Cubic, false).with_antialias(true),
    );
    both(
        "upsample_linear_aa",
        Upsample::new(vec![0.4, 2.0], Linear, false).with_antialias(true),
    );
    both("upsample_linear", Upsample::new(vec![2.0], Linear, false));
    both(
        "upsample_linear_ac",
        Upsample::new(vec![2.0, 1.5], Linear, true),
    );
    // MLX's refusals.
    let x = zeros(&[1, 4, 4, 1], DType::F32);
    let e = Upsample::new(vec![2.0], Nearest, false)
        .with_antialias(true)
        .forward(&x)
        .eval()
        .unwrap_err();
    assert!(e.to_string().contains("nearest"), "{e}");
    let e = Upsample::new(vec![2.0], Cubic, true)
        .with_antialias(true)
        .forward(&x)
        .eval()
        .unwrap_err();
    assert!(e.to_string().contains("align_corners"), "{e}");
}

#[test]
fn positional_encodings() {
    unary("rope", nn::RoPE::new(6, false, 10000.0, 1.0));
    unary("rope_traditional", nn::RoPE::new(8, true, 500.0, 0.5));
    check(
        "rope_offset",
        nn::RoPE::new(4, false, 10000.0, 1.0),
        false,
        |m, xs| m.forward_offset(&xs[0], 3),
    );
    unary("sinusoidal", nn::SinusoidalPositionalEncoding::with_dims(8));
    unary(
        "sinusoidal_cos",
        nn::SinusoidalPositionalEncoding::new(6, 1e-4, 1.0, Some(1.0), true, true),
    );
    check("alibi", nn::ALiBi::new(), false, |m, xs| {
        m.forward_scores(&xs[0], 0, None)
    });
}

fn causal(n: i64) -> Array {
    nn::MultiHeadAttention::create_additive_causal_mask(n, DType::F32)
}

#[test]
fn attention_and_transformers() {
    check("mha", nn::MultiHeadAttention::new(8, 2), false, |m, xs| {
        m.attend(&xs[0], &xs[1], &xs[2], None)
    });
    let mha = nn::MultiHeadAttention::with_options(8, 4, Default::default(), true);
    check("mha_mask", mha, false, |m, xs| {
        m.attend(&xs[0], &xs[0], &xs[0], Some(&causal(4)))
    });
    let enc = nn::TransformerEncoderLayer::new(8, 2, Some(16), 0.0, nn::relu, true);
    check("encoder_layer", enc, false, |m, xs| {
        m.forward_mask(&xs[0], Some(&causal(4)))
    });
    let post = nn::TransformerEncoderLayer::new(8, 2, None, 0.0, nn::relu, false);
    check("encoder_layer_post", post, false, |m, xs| {
        m.forward_mask(&xs[0], None)
    });
    let stack = nn::TransformerEncoder::new(2, 8, 2, Some(12), 0.0, nn::relu, true);
    check("encoder", stack, false, |m, xs| {
        m.forward_mask(&xs[0], None)
    });
    let dec = nn::TransformerDecoderLayer::new(8, 2, Some(16), 0.0, nn::relu, true);
    check("decoder_layer", dec, false, |m, xs| {
        m.forward_mask(&xs[0], &xs[1], Some(&causal(3)), None)
    });
    let t = nn::Transformer::new(8, 2, 1, 1, Some(16), 0.0, nn::relu, true);
    check("transformer", t, false, |m, xs| {
        m.forward_masks(&xs[0], &xs[1], None, Some(&causal(3)), None)
    });
}

#[test]
fn recurrent() {
    unary("rnn", nn::RNN::new(3, 4, true));
    unary("rnn_nobias", nn::RNN::new(3, 4, false));
    unary("gru", nn::GRU::new(3, 4, true));
    check("lstm", nn::LSTM::new(3, 4, true), false, |m, xs| {
        let (h, c) = m.forward_state(&xs[0], None, None);
        h + c * 2.0
    });
}

#[test]
fn activations() {
    unary("act_relu", nn::ReLU::new());
    unary("act_relu6", nn::ReLU6::new());
    unary("act_relu2", nn::ReLU2::new());
    unary("act_leaky_relu", nn::LeakyReLU::new(0.2));
    unary("act_elu", nn::ELU::new(0.7));
    unary("act_selu", nn::SELU::new());
    unary("act_celu", nn::CELU::new(1.3));
    unary("act_gelu", nn::GELU::new(nn::GeluApprox::None));
    unary("act_gelu_approx", nn::GELU::from_name("precise").unwrap());
    unary("act_gelu_fast", nn::GELU::from_name("fast").unwrap());
    unary("act_silu", nn::SiLU::new());
    unary("act_mish", nn::Mish::new());
    unary("act_softplus", nn::Softplus::new());
    unary("act_softsign", nn::Softsign::new());
    unary("act_softmin", nn::Softmin::new());
    unary("act_log_softmax", nn::LogSoftmax::new());
    unary("act_softmax", nn::Softmax::new());
    unary("act_sigmoid", nn::Sigmoid::new());
    unary("act_log_sigmoid", nn::LogSigmoid::new());
    unary("act_hard_tanh", nn::HardTanh::new());
    unary("act_hardswish", nn::Hardswish::new());
    unary("act_hard_shrink", nn::HardShrink::default());
    unary("act_softshrink", nn::Softshrink::new(0.7));
    unary("act_tanh", nn::Tanh::new());
    unary("act_glu", nn::GLU::default());
    unary("prelu", nn::PReLU::new(3, 0.1));
}
