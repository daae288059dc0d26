//! `MultiHeadAttention` and the Transformer encoder/decoder layers, stacks
//! and `Transformer`, as MLX builds them (pre-norm by default, ReLU MLP of
//! `4 * dims`, parameter names `query_proj`, `ln1`, `linear1`, `layers.N`).

use super::{fail, Dropout, LayerNorm, Linear};
use crate::array::Array;
use crate::nn::{Layer, ModuleState};
use crate::ops::elementwise as ew;
use crate::{flatten, impl_module, matmul, softmax, transpose_axes, unflatten, DType};

/// `softmax(scale * q k^T + mask) v` over `(B, H, L, D)` inputs, as
/// `mx.fast.scaled_dot_product_attention` computes it (in f32 or wider).
/// A bool mask keeps the true positions; any other mask is added.
pub fn scaled_dot_product_attention(
    q: &Array,
    k: &Array,
    v: &Array,
    scale: f32,
    mask: Option<&Array>,
) -> Array {
    let scores = matmul(&(q * scale), &crate::swapaxes(k, -1, -2));
    let scores = match mask {
        Some(m) if m.dtype() == DType::Bool => ew::r#where(m, &scores, f32::MIN),
        Some(m) => scores + m,
        None => scores,
    };
    matmul(&softmax(&scores, -1, true), v)
}

/// MLX's `nn.MultiHeadAttention(dims, num_heads, query_input_dims=None,
/// key_input_dims=None, value_input_dims=None, value_dims=None,
/// value_output_dims=None, bias=False)`.
#[derive(Clone, Debug)]
pub struct MultiHeadAttention {
    pub num_heads: i64,
    pub query_proj: Linear,
    pub key_proj: Linear,
    pub value_proj: Linear,
    pub out_proj: Linear,
    pub state: ModuleState,
}

/// The optional sizes of [`MultiHeadAttention::with_options`] (`None`
/// defaults as in MLX).
#[derive(Clone, Copy, Debug, Default)]
pub struct AttentionDims {
    pub query_input_dims: Option<i64>,
    pub key_input_dims: Option<i64>,
    pub value_input_dims: Option<i64>,
    pub value_dims: Option<i64>,
    pub value_output_dims: Option<i64>,
}

impl MultiHeadAttention {
    /// MLX's defaults: all sizes `dims`, no bias.
    pub fn new(dims: i64, num_heads: i64) -> Self {
        Self::with_options(dims, num_heads, AttentionDims::default(), false)
    }
    pub fn with_options(dims: i64, num_heads: i64, o: AttentionDims, bias: bool) -> Self {
        let q_in = o.query_input_dims.unwrap_or(dims);
        let k_in = o.key_input_dims.unwrap_or(dims);
        let v_in = o.value_input_dims.unwrap_or(k_in);
        let v_dims = o.value_dims.unwrap_or(dims);
        let v_out = o.value_output_dims.unwrap_or(dims);
        MultiHeadAttention {
            num_heads,
            query_proj: Linear::new(q_in, dims, bias),
            key_proj: Linear::new(k_in, dims, bias),
            value_proj: Linear::new(v_in, v_dims, bias),
            out_proj: Linear::new(v_dims, v_out, bias),
            state: ModuleState::default(),
        }
    }

    /// Attention of `queries` over `keys`/`values` (`B, L, dims`), with an
    /// optional additive or boolean mask broadcast against `(B, H, Lq, Lk)`.
    pub fn attend(
        &self,
        queries: &Array,
        keys: &Array,
        values: &Array,
        mask: Option<&Array>,
    ) -> Array {
        let dims = self.query_proj.weight.shape()[0];
        if dims % self.num_heads != 0 {
            return fail(
                "MultiHeadAttention",
                format!(
                    "the input feature dimensions should be divisible by the number of heads ({dims} % {}) != 0",
                    self.num_heads
                ),
            );
        }
        let h = self.num_heads as i32;
        let heads = |x: Array| transpose_axes(&unflatten(&x, -1, &[h, -1]), &[0, 2, 1, 3]);
        let q = heads(self.query_proj.forward(queries));
        let k = heads(self.key_proj.forward(keys));
        let v = heads(self.value_proj.forward(values));
        let scale = (1.0 / q.shape()[3] as f64).sqrt() as f32;
        let o = scaled_dot_product_attention(&q, &k, &v, scale, mask);
        let o = flatten(&transpose_axes(&o, &[0, 2, 1, 3]), -2, -1);
        self.out_proj.forward(&o)
    }

    /// MLX's `create_additive_causal_mask(N)`: `finfo.min` above the diagonal.
    pub fn create_additive_causal_mask(n: i64, dtype: DType) -> Array {
        let i = crate::arange_dtype(0.0, n as f64, 1.0, DType::I32);
        let m = ew::less(i.expand_dims(1), i.expand_dims(0));
        let min = match dtype {
            DType::F16 => -65504.0,
            DType::BF16 => -3.3895313892515355e38,
            DType::F64 => f64::MIN,
            _ => f32::MIN as f64,
        };
        ew::astype(&m, dtype) * min
    }
}
impl_module!(MultiHeadAttention { module query_proj, module key_proj, module value_proj, module out_proj });

/// The MLP activation of the transformer layers (MLX's default: relu).
pub type Activation = fn(&Array) -> Array;

/// MLX's `nn.TransformerEncoderLayer(dims, num_heads, mlp_dims=None,
/// dropout=0.0, activation=relu, norm_first=True)`.
#[derive(Clone)]
pub struct TransformerEncoderLayer {
    pub attention: MultiHeadAttention,
    pub ln1: LayerNorm,
    pub ln2: LayerNorm,
    pub linear1: Linear,
    pub linear2: Linear,
    pub dropout1: Dropout,
    pub dropout2: Dropout,
    pub activation: Activation,
    pub norm_first: bool,
    pub state: ModuleState,
}
impl TransformerEncoderLayer {
    pub fn new(
        dims: i64,
        num_heads: i64,
        mlp_dims: Option<i64>,
        dropout: f32,
        activation: Activation,
        norm_first: bool,
    ) -> Self {
        let mlp = mlp_dims.unwrap_or(dims * 4);
        TransformerEncoderLayer {
            attention: MultiHeadAttention::new(dims, num_heads),
            ln1: LayerNorm::with_dims(dims),
            ln2: LayerNorm::with_dims(dims),
            linear1: Linear::new(dims, mlp, true),
            linear2: Linear::new(mlp, dims, true),
            dropout1: Dropout::new(dropout),
            dropout2: Dropout::new(dropout),
            activation,
            norm_first,
            state: ModuleState::default(),
        }
    }
    pub fn forward_mask(&self, x: &Array, mask: Option<&Array>) -> Array {
        let act = self.activation;
        if self.norm_first {
            let y = self.ln1.forward(x);
            let y = self.attention.attend(&y, &y, &y, mask);
            let x = x + self.dropout1.forward(&y);
            let y = self.linear1.forward(&self.ln2.forward(&x));
            let y = self.linear2.forward(&self.dropout2.forward(&act(&y)));
            x + y
        } else {
            let y = self.attention.attend(x, x, x, mask);
            let x = self.ln1.forward(&(x + self.dropout1.forward(&y)));
            let y = self.linear1.forward(&x);
            let y = self.linear2.forward(&self.dropout2.forward(&act(&y)));
            self.ln2.forward(&(x + y))
        }
    }
}
impl_module!(TransformerEncoderLayer {
    module attention, module ln1, module ln2, module linear1, module linear2,
    module dropout1, module dropout2
});

/// MLX's `nn.TransformerEncoder(num_layers, dims, num_heads, ...)`: the
/// layers then a final `ln`.
#[derive(Clone)]
pub struct TransformerEncoder {
    pub layers: Vec<TransformerEncoderLayer>,
    pub ln: LayerNorm,
    pub state: ModuleState,
}
impl TransformerEncoder {
    pub fn new(
        num_layers: usize,
        dims: i64,
        num_heads: i64,
        mlp_dims: Option<i64>,
        dropout: f32,
        activation: Activation,
        norm_first: bool,
    ) -> Self {
        TransformerEncoder {
            layers: (0..num_layers)
                .map(|_| {
                    TransformerEncoderLayer::new(
                        dims, num_heads, mlp_dims, dropout, activation, norm_first,
                    )
                })
                .collect(),
            ln: LayerNorm::with_dims(dims),
            state: ModuleState::default(),
        }
    }
    pub fn forward_mask(&self, x: &Array, mask: Option<&Array>) -> Array {
        let x = self
            .layers
            .iter()
            .fold(x.clone(), |x, l| l.forward_mask(&x, mask));
        self.ln.forward(&x)
    }
}
impl_module!(TransformerEncoder { list layers, module ln });

/// MLX's `nn.TransformerDecoderLayer(dims, num_heads, mlp_dims=None,
/// dropout=0.0, activation=relu, norm_first=True)`.
#[derive(Clone)]
pub struct TransformerDecoderLayer {
    pub self_attention: MultiHeadAttention,
    pub cross_attention: MultiHeadAttention,
    pub ln1: LayerNorm,
    pub ln2: LayerNorm,
    pub ln3: LayerNorm,
    pub linear1: Linear,
    pub linear2: Linear,
    pub dropout1: Dropout,
    pub dropout2: Dropout,
    pub dropout3: Dropout,
    pub activation: Activation,
    pub norm_first: bool,
    pub state: ModuleState,
}
impl TransformerDecoderLayer {
    pub fn new(
        dims: i64,
        num_heads: i64,
        mlp_dims: Option<i64>,
        dropout: f32,
        activation: Activation,
        norm_first: bool,
    ) -> Self {
        let mlp = mlp_dims.unwrap_or(dims * 4);
        TransformerDecoderLayer {
            self_attention: MultiHeadAttention::new(dims, num_heads),
            cross_attention: MultiHeadAttention::new(dims, num_heads),
            ln1: LayerNorm::with_dims(dims),
            ln2: LayerNorm::with_dims(dims),
            ln3: LayerNorm::with_dims(dims),
            linear1: Linear::new(dims, mlp, true),
            linear2: Linear::new(mlp, dims, true),
            dropout1: Dropout::new(dropout),
            dropout2: Dropout::new(dropout),
            dropout3: Dropout::new(dropout),
            activation,
            norm_first,
            state: ModuleState::default(),
        }
    }
    pub fn forward_mask(
        &self,
        x: &Array,
        memory: &Array,
        x_mask: Option<&Array>,
        memory_mask: Option<&Array>,
    ) -> Array {
        let act = self.activation;
        if self.norm_first {
            let y = self.ln1.forward(x);
            let y = self.self_attention.attend(&y, &y, &y, x_mask);
            let x = x + self.dropout1.forward(&y);
            let y = self.ln2.forward(&x);
            let y = self.cross_attention.attend(&y, memory, memory, memory_mask);
            let x = x + self.dropout2.forward(&y);
            let y = self.linear1.forward(&self.ln3.forward(&x));
            let y = self.linear2.forward(&self.dropout3.forward(&act(&y)));
            x + y
        } else {
            let y = self.self_attention.attend(x, x, x, x_mask);
            let x = self.ln1.forward(&(x + self.dropout1.forward(&y)));
            let y = self.cross_attention.attend(&x, memory, memory, memory_mask);
            let x = self.ln2.forward(&(x + self.dropout2.forward(&y)));
            let y = self.linear1.forward(&x);
            let y = self.linear2.forward(&self.dropout3.forward(&act(&y)));
            self.ln3.forward(&(x + y))
        }
    }
}
impl_module!(TransformerDecoderLayer {
    module self_attention, module cross_attention, module ln1, module ln2, module ln3,
    module linear1, module linear2, module dropout1, module dropout2, module dropout3
});

/// MLX's `nn.TransformerDecoder(num_layers, dims, num_heads, ...)`.
#[derive(Clone)]
pub struct TransformerDecoder {
    pub layers: Vec<TransformerDecoderLayer>,
    pub ln: LayerNorm,
    pub state: ModuleState,
}
impl TransformerDecoder {
    pub fn new(
        num_layers: usize,
        dims: i64,
        num_heads: i64,
        mlp_dims: Option<i64>,
        dropout: f32,
        activation: Activation,
        norm_first: bool,
    ) -> Self {
        TransformerDecoder {
            layers: (0..num_layers)
                .map(|_| {
                    TransformerDecoderLayer::new(
                        dims, num_heads, mlp_dims, dropout, activation, norm_first,
                    )
                })
                .collect(),
            ln: LayerNorm::with_dims(dims),
            state: ModuleState::default(),
        }
    }
    pub fn forward_mask(
        &self,
        x: &Array,
        memory: &Array,
        x_mask: Option<&Array>,
        memory_mask: Option<&Array>,
    ) -> Array {
        let x = self.layers.iter().fold(x.clone(), |x, l| {
            l.forward_mask(&x, memory, x_mask, memory_mask)
        });
        self.ln.forward(&x)
    }
}
impl_module!(TransformerDecoder { list layers, module ln });

/// MLX's `nn.Transformer(dims=512, num_heads=8, num_encoder_layers=6,
/// num_decoder_layers=6, mlp_dims=None, dropout=0.0, activation=relu,
/// norm_first=True)`.
#[derive(Clone)]
pub struct Transformer {
    pub encoder: TransformerEncoder,
    pub decoder: TransformerDecoder,
    pub state: ModuleState,
}
impl Transformer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dims: i64,
        num_heads: i64,
        num_encoder_layers: usize,
        num_decoder_layers: usize,
        mlp_dims: Option<i64>,
        dropout: f32,
        activation: Activation,
        norm_first: bool,
    ) -> Self {
        Transformer {
            encoder: TransformerEncoder::new(
                num_encoder_layers,
                dims,
                num_heads,
                mlp_dims,
                dropout,
                activation,
                norm_first,
            ),
            decoder: TransformerDecoder::new(
                num_decoder_layers,
                dims,
                num_heads,
                mlp_dims,
                dropout,
                activation,
                norm_first,
            ),
            state: ModuleState::default(),
        }
    }
    pub fn forward_masks(
        &self,
        src: &Array,
        tgt: &Array,
        src_mask: Option<&Array>,
        tgt_mask: Option<&Array>,
        memory_mask: Option<&Array>,
    ) -> Array {
        let memory = self.encoder.forward_mask(src, src_mask);
        self.decoder
            .forward_mask(tgt, &memory, tgt_mask, memory_mask)
    }
}
impl_module!(Transformer { module encoder, module decoder });
