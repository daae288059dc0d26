#!/usr/bin/env python3
"""Writes MLX reference values for psionic_mlx::nn's tests.

For every case: the layer's parameters exactly as MLX's `save_weights`
writes them (so the Rust test loads them with `load_weights`, which also
checks the key names), an input, a cotangent, the forward output, and the
gradients of sum(output * cotangent) with respect to every parameter and
the input. Losses get their inputs, value and input gradient.

Run: python3 tools/mlx/gen_nn_fixtures.py  (needs mlx; writes
frontends/mlx-compat/tests/fixtures/nn/*.safetensors)
"""
import os

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "frontends", "mlx-compat", "tests", "fixtures", "nn")


def save(name, arrays):
    os.makedirs(OUT, exist_ok=True)
    mx.save_safetensors(os.path.join(OUT, name + ".safetensors"), arrays)


def layer_case(name, layer, inputs, call=None, eval_mode=False, extra=None):
    """inputs: list of arrays; call(layer, *inputs) -> output (default layer(x));
    extra: more arrays to store with the case."""
    if eval_mode:
        layer.eval()
    call = call or (lambda m, *xs: m(*xs))
    mx.eval(layer.parameters())
    y = call(layer, *inputs)
    cot = mx.random.normal(y.shape)

    def loss(params, *xs):
        layer.update(params)
        return (call(layer, *xs) * cot).sum()

    float_idx = [i for i, x in enumerate(inputs) if mx.issubdtype(x.dtype, mx.floating)]
    argnums = [0] + [i + 1 for i in float_idx]
    grads = mx.grad(loss, argnums=argnums)(layer.trainable_parameters(), *inputs)
    if len(argnums) == 1:
        grads = (grads,)
    out = {}
    for k, v in tree_flatten(layer.parameters()):
        out["param." + k] = v
    for k, v in tree_flatten(grads[0]):
        out["gparam." + k] = v
    for i, x in enumerate(inputs):
        out[f"x{i}"] = x
    for j, i in enumerate(float_idx):
        out[f"gx{i}"] = grads[j + 1]
    out["y"] = y
    out["cot"] = cot
    out.update(extra or {})
    save(name, out)


def loss_case(name, f, inputs, diff=0):
    """f(*inputs) -> loss; the gradient of sum(loss) w.r.t. input `diff`."""
    v = f(*inputs)
    g = mx.grad(lambda a: f(*inputs[:diff], a, *inputs[diff + 1:]).sum())(inputs[diff])
    out = {f"x{i}": x for i, x in enumerate(inputs)}
    out["y"] = v
    out["g"] = g
    save("loss_" + name, out)


def main():
    mx.random.seed(7)
    n = mx.random.normal
    # Layers: name, constructor, inputs.
    layer_case("linear", nn.Linear(5, 3), [n((2, 4, 5))])
    layer_case("linear_nobias", nn.Linear(5, 3, bias=False), [n((4, 5))])
    layer_case("bilinear", nn.Bilinear(3, 4, 2), [n((5, 3)), n((5, 4))])
    layer_case("embedding", nn.Embedding(10, 4), [mx.array([[1, 3, 9], [0, 3, 3]])])
    layer_case("embedding_as_linear", nn.Embedding(10, 4), [n((3, 4))], call=lambda m, x: m.as_linear(x))
    layer_case("sequential", nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), [n((3, 4))])
    layer_case("layernorm", nn.LayerNorm(6), [n((2, 3, 6))])
    layer_case("layernorm_noaffine", nn.LayerNorm(6, affine=False), [n((4, 6))])
    layer_case("rmsnorm", nn.RMSNorm(6), [n((2, 3, 6))])
    layer_case("groupnorm", nn.GroupNorm(2, 6), [n((2, 5, 6))])
    layer_case("groupnorm_pt", nn.GroupNorm(3, 6, pytorch_compatible=True), [n((2, 4, 4, 6))])
    layer_case("instancenorm", nn.InstanceNorm(4, affine=True), [n((2, 5, 3, 4))])
    bn = nn.BatchNorm(4)
    layer_case("batchnorm_train", bn, [n((6, 4))])
    bn2 = nn.BatchNorm(3)
    bn2.running_mean = n((3,))
    bn2.running_var = mx.abs(n((3,))) + 0.5
    layer_case("batchnorm_eval", bn2, [n((2, 5, 3))], eval_mode=True)
    layer_case("conv1d", nn.Conv1d(3, 4, 3, stride=2, padding=1), [n((2, 9, 3))])
    layer_case("conv1d_groups", nn.Conv1d(4, 6, 3, dilation=2, groups=2), [n((2, 9, 4))])
    layer_case("conv2d", nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0)), [n((2, 5, 6, 2))])
    layer_case("conv3d", nn.Conv3d(2, 2, 2, padding=1), [n((1, 3, 3, 4, 2))])
    layer_case("convt1d", nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1, output_padding=1), [n((2, 5, 3))])
    layer_case("convt2d", nn.ConvTranspose2d(2, 3, 3, stride=2), [n((1, 3, 4, 2))])
    layer_case("convt3d", nn.ConvTranspose3d(2, 2, 2, stride=1, padding=1), [n((1, 3, 3, 3, 2))])
    layer_case("maxpool1d", nn.MaxPool1d(3, stride=2, padding=1), [n((2, 8, 3))])
    layer_case("maxpool2d", nn.MaxPool2d(2), [n((2, 4, 6, 3))])
    layer_case("maxpool3d", nn.MaxPool3d(2, stride=1), [n((1, 3, 3, 3, 2))])
    layer_case("avgpool1d", nn.AvgPool1d(2, padding=1), [n((2, 7, 3))])
    layer_case("avgpool2d", nn.AvgPool2d((2, 3), stride=(1, 2)), [n((1, 5, 7, 2))])
    layer_case("avgpool3d", nn.AvgPool3d(2), [n((1, 4, 4, 2, 3))])
    layer_case("upsample_nearest", nn.Upsample(2.0, mode="nearest"), [n((1, 3, 4, 2))])
    layer_case("upsample_linear", nn.Upsample(2.0, mode="linear"), [n((1, 3, 4, 2))])
    layer_case("upsample_linear_ac", nn.Upsample((2.0, 1.5), mode="linear", align_corners=True), [n((1, 3, 4, 2))])
    layer_case("prelu", nn.PReLU(3, 0.1), [n((4, 3))])
    layer_case("rope", nn.RoPE(6), [n((2, 3, 5, 8))])
    layer_case("rope_traditional", nn.RoPE(8, traditional=True, base=500.0, scale=0.5), [n((2, 5, 8))])
    layer_case("rope_offset", nn.RoPE(4), [n((1, 4, 6))], call=lambda m, x: m(x, offset=3))
    layer_case("sinusoidal", nn.SinusoidalPositionalEncoding(8), [mx.arange(5).astype(mx.float32) * 0.7])
    layer_case("sinusoidal_cos", nn.SinusoidalPositionalEncoding(6, cos_first=True, full_turns=True, scale=1.0), [n((4,))])
    layer_case("alibi", nn.ALiBi(), [n((2, 3, 4, 4))])
    layer_case("mha", nn.MultiHeadAttention(8, 2), [n((2, 4, 8)), n((2, 5, 8)), n((2, 5, 8))])
    layer_case("mha_mask", nn.MultiHeadAttention(8, 4, bias=True), [n((2, 4, 8))],
               call=lambda m, x: m(x, x, x, nn.MultiHeadAttention.create_additive_causal_mask(4)))
    layer_case("encoder_layer", nn.TransformerEncoderLayer(8, 2, mlp_dims=16), [n((2, 4, 8))],
               call=lambda m, x: m(x, nn.MultiHeadAttention.create_additive_causal_mask(4)))
    layer_case("encoder_layer_post", nn.TransformerEncoderLayer(8, 2, norm_first=False), [n((2, 4, 8))],
               call=lambda m, x: m(x, None))
    layer_case("encoder", nn.TransformerEncoder(2, 8, 2, mlp_dims=12), [n((1, 3, 8))], call=lambda m, x: m(x, None))
    layer_case("decoder_layer", nn.TransformerDecoderLayer(8, 2, mlp_dims=16), [n((2, 3, 8)), n((2, 4, 8))],
               call=lambda m, x, mem: m(x, mem, nn.MultiHeadAttention.create_additive_causal_mask(3), None))
    layer_case("transformer", nn.Transformer(8, 2, 1, 1, 16), [n((2, 4, 8)), n((2, 3, 8))],
               call=lambda m, s, t: m(s, t, None, nn.MultiHeadAttention.create_additive_causal_mask(3), None))
    layer_case("rnn", nn.RNN(3, 4), [n((2, 5, 3))])
    layer_case("rnn_nobias", nn.RNN(3, 4, bias=False), [n((5, 3))])
    layer_case("gru", nn.GRU(3, 4), [n((2, 5, 3))])
    layer_case("lstm", nn.LSTM(3, 4), [n((2, 5, 3))], call=lambda m, x: m(x)[0] + 2 * m(x)[1])

    # Activations (class forms; parameter-free ones have no params).
    x = n((3, 8)) * 3
    acts = {
        "relu": nn.ReLU(), "relu6": nn.ReLU6(), "leaky_relu": nn.LeakyReLU(0.2), "elu": nn.ELU(0.7),
        "selu": nn.SELU(), "celu": nn.CELU(1.3), "gelu": nn.GELU(), "gelu_approx": nn.GELU("precise"),
        "gelu_fast": nn.GELU("fast"), "silu": nn.SiLU(), "mish": nn.Mish(), "softplus": nn.Softplus(),
        "softsign": nn.Softsign(), "softmin": nn.Softmin(), "log_softmax": nn.LogSoftmax(),
        "softmax": nn.Softmax(), "sigmoid": nn.Sigmoid(), "log_sigmoid": nn.LogSigmoid(),
        "hard_tanh": nn.HardTanh(), "hardswish": nn.Hardswish(), "hard_shrink": nn.HardShrink(),
        "softshrink": nn.Softshrink(0.7), "tanh": nn.Tanh(), "glu": nn.GLU(), "relu2": nn.ReLU2(),
    }
    for k, m in acts.items():
        layer_case("act_" + k, m, [x])

    # Losses with their defaults and some options.
    L = nn.losses
    logits = n((4, 5))
    tgt = mx.array([1, 0, 4, 2])
    probs = mx.softmax(n((4, 5)), axis=-1)
    w = mx.abs(n((4,)))
    loss_case("ce", lambda a, t: L.cross_entropy(a, t), [logits, tgt])
    loss_case("ce_probs_mean", lambda a, t: L.cross_entropy(a, t, reduction="mean"), [logits, probs])
    loss_case("ce_smooth_w", lambda a, t, ww: L.cross_entropy(a, t, weights=ww, label_smoothing=0.2, reduction="sum"), [logits, tgt, w])
    loss_case("ce_axis0", lambda a, t: L.cross_entropy(a, t, axis=0), [n((5, 3)), mx.array([4, 0, 2])])
    p = mx.sigmoid(n((6,)))
    yb = (n((6,)) > 0).astype(mx.float32)
    loss_case("bce_logits", lambda a, t: L.binary_cross_entropy(a, t), [n((6,)), yb])
    loss_case("bce_probs", lambda a, t: L.binary_cross_entropy(a, t, with_logits=False, reduction="none"), [p, yb])
    a, b = n((3, 4)), n((3, 4))
    loss_case("l1", lambda a, b: L.l1_loss(a, b), [a, b])
    loss_case("mse", lambda a, b: L.mse_loss(a, b), [a, b])
    loss_case("mse_sum", lambda a, b: L.mse_loss(a, b, reduction="sum"), [a, b])
    loss_case("nll", lambda a, t: L.nll_loss(a, t), [nn.log_softmax(logits), tgt])
    loss_case("kl_div", lambda a, b: L.kl_div_loss(a, b), [nn.log_softmax(a), nn.log_softmax(b)])
    loss_case("smooth_l1", lambda a, b: L.smooth_l1_loss(a, b, beta=0.5), [a, b])
    loss_case("triplet", lambda a, p_, q: L.triplet_loss(a, p_, q), [a, b, n((3, 4))])
    loss_case("triplet_p1", lambda a, p_, q: L.triplet_loss(a, p_, q, p=1, margin=0.5, reduction="mean"), [a, b, n((3, 4))])
    loss_case("hinge", lambda a, t: L.hinge_loss(a, t), [a, mx.sign(b)])
    loss_case("huber", lambda a, b: L.huber_loss(a, b, delta=0.8), [a, b])
    loss_case("log_cosh", lambda a, b: L.log_cosh_loss(a, b), [a, b])
    loss_case("cosine", lambda a, b: L.cosine_similarity_loss(a, b), [a, b])
    loss_case("margin_ranking", lambda a, b, t: L.margin_ranking_loss(a, b, t, margin=0.3), [a, b, mx.sign(n((3, 4)))])
    loss_case("gaussian_nll", lambda a, t, v: L.gaussian_nll_loss(a, t, v), [a, b, mx.abs(n((3, 4)))])
    loss_case("gaussian_nll_full", lambda a, t, v: L.gaussian_nll_loss(a, t, v, full=True, reduction="sum"), [a, b, mx.abs(n((3, 4)))])

    # A whole model written by MLX's save_weights, in both formats.
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.LayerNorm(6), nn.Linear(6, 2, bias=False))
    mx.eval(model.parameters())
    model.save_weights(os.path.join(OUT, "mlx_model.safetensors"))
    model.save_weights(os.path.join(OUT, "mlx_model.npz"))
    xin = n((3, 4))
    save("mlx_model_io", {"x": xin, "y": model(xin)})

    # Random streams: uniform and normal from seed 42 through Linear's init.
    mx.random.seed(42)
    lin = nn.Linear(3, 2)
    emb = nn.Embedding(4, 3)
    save("seeded_init", {"linear.weight": lin.weight, "linear.bias": lin.bias, "embedding.weight": emb.weight})

    # nn.quantize: Linear and Embedding leaves swapped for QuantizedLinear and
    # QuantizedEmbedding. The float weights are stored as "float.*", the
    # quantized ones as the case's "param.*".
    mx.random.seed(11)

    def model():
        return nn.Sequential(nn.Embedding(16, 64), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32, bias=False))

    def quant_case(name, m, x, call=None, **kw):
        mx.eval(m.parameters())
        floats = {"float." + k: v for k, v in tree_flatten(m.parameters())}
        if isinstance(m, nn.Embedding):
            m = m.to_quantized(**kw)
        else:
            nn.quantize(m, **kw)
        layer_case(name, m, [x], call=call, extra=floats)

    tokens = mx.array([[1, 15, 3, 3, 0], [7, 2, 9, 12, 4]])
    quant_case("quant_default", model(), tokens)
    quant_case("quant_g32_b3", model(), tokens, group_size=32, bits=3)
    quant_case("quant_g128_b6", nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 128)), n((3, 128)),
               group_size=128, bits=6)
    quant_case("quant_predicate", model(), tokens,
               class_predicate=lambda p, m: {"group_size": 32, "bits": 8} if p == "layers.3"
               else isinstance(m, nn.Embedding))
    quant_case("quant_embedding_as_linear", nn.Embedding(16, 64), n((3, 64)),
               call=lambda m, x: m.as_linear(x), group_size=32, bits=2)

    # Upsample's cubic mode (Keys a=-0.75) and antialiasing (linear and cubic).
    mx.random.seed(12)
    layer_case("upsample_cubic", nn.Upsample(2.0, mode="cubic"), [n((1, 3, 4, 2))])
    layer_case("upsample_cubic_ac", nn.Upsample((2.0, 1.5), mode="cubic", align_corners=True), [n((2, 3, 4, 2))])
    layer_case("upsample_cubic_1d", nn.Upsample(2.5, mode="cubic"), [n((2, 5, 3))])
    layer_case("upsample_cubic_down", nn.Upsample((0.5, 0.75), mode="cubic"), [n((1, 6, 8, 2))])
    layer_case("upsample_cubic_3d", nn.Upsample((2.0, 1.0, 1.5), mode="cubic", align_corners=True), [n((1, 3, 2, 2, 2))])
    layer_case("upsample_cubic_aa", nn.Upsample((0.5, 1.5), mode="cubic", antialias=True), [n((1, 8, 4, 2))])
    layer_case("upsample_linear_aa", nn.Upsample((0.4, 2.0), mode="linear", antialias=True), [n((2, 10, 3, 2))])


if __name__ == "__main__":
    main()
