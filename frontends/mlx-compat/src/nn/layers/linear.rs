//! `Linear`, `Bilinear`, `Identity` and `Embedding`, and the quantized
//! forms of `Linear` and `Embedding` (MLX's `QuantizedLinear` and
//! `QuantizedEmbedding`).
//!
//! MLX's `nn.quantize` replaces a `Linear` by a new `QuantizedLinear`
//! object. A Rust model's fields have fixed types, so here a `Linear` (or
//! `Embedding`) carries its quantized state itself: after
//! [`Module::quantize_in_place`] its `weight` is the packed `u32` matrix,
//! [`Linear::quant`] holds the scales, biases and settings, the module
//! reports MLX's type name, parameters (`weight`, `scales`, `biases`,
//! `bias`) and frozen keys, and `forward` is MLX's quantized one. Weights
//! saved from a quantized MLX model load into a quantized Psionic one.

use super::shape_i32;
use crate::array::Array;
use crate::error::Error;
use crate::nn::init::{normal_shape, uniform_shape};
use crate::nn::{Layer, Module, ModuleState, Slot, SlotMut};
use crate::{
    dequantize, impl_module, matmul, quantized_matmul, reshape, squeeze, swapaxes, take,
    try_quantize, QuantMode,
};

/// The quantized state of a `Linear` or `Embedding` weight: its scales,
/// biases (affine mode only) and quantization settings.
#[derive(Clone, Debug)]
pub struct Quantized {
    pub scales: Array,
    pub biases: Option<Array>,
    pub group_size: i32,
    pub bits: i32,
    pub mode: QuantMode,
}

impl Quantized {
    /// Quantizes `w` (MLX's `mx.quantize(w, group_size, bits, mode=mode)`,
    /// with the mode's defaults for `None`); gives the packed weight too.
    fn of(
        w: &Array,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<(Array, Quantized), Error> {
        let (gs, b) = mode.params(group_size, bits);
        let mut parts = try_quantize(w, Some(gs), Some(b), mode)?.into_iter();
        let (Some(wq), Some(scales)) = (parts.next(), parts.next()) else {
            return Err(Error::new(
                "quantize",
                "quantize must give a weight and scales",
            ));
        };
        let q = Quantized {
            scales,
            biases: parts.next(),
            group_size: gs,
            bits: b,
            mode,
        };
        Ok((wq, q))
    }

    /// `x @ dequantize(w).T`.
    fn matmul(&self, x: &Array, w: &Array) -> Array {
        quantized_matmul(
            x,
            w,
            &self.scales,
            self.biases.as_ref(),
            true,
            Some(self.group_size),
            Some(self.bits),
            self.mode,
        )
    }

    fn repr(&self) -> String {
        format!(
            "group_size={}, bits={}, mode={}",
            self.group_size,
            self.bits,
            self.mode.name()
        )
    }
}

/// The slots of a weight that may be quantized: `weight`, then `scales`
/// and `biases` when quantized (MLX's order).
fn weight_slots<'a>(w: &'a Array, q: &'a Option<Quantized>) -> Vec<(String, Slot<'a>)> {
    let mut v = vec![("weight".to_string(), Slot::Array(w))];
    if let Some(q) = q {
        v.push(("scales".to_string(), Slot::Array(&q.scales)));
        if let Some(b) = &q.biases {
            v.push(("biases".to_string(), Slot::Array(b)));
        }
    }
    v
}

fn weight_slots_mut<'a>(
    w: &'a mut Array,
    q: &'a mut Option<Quantized>,
) -> Vec<(String, SlotMut<'a>)> {
    let mut v = vec![("weight".to_string(), SlotMut::Array(w))];
    if let Some(q) = q {
        v.push(("scales".to_string(), SlotMut::Array(&mut q.scales)));
        if let Some(b) = &mut q.biases {
            v.push(("biases".to_string(), SlotMut::Array(b)));
        }
    }
    v
}

/// Freezes the quantized weight's keys, as MLX's quantized layers do.
fn freeze_quantized(state: &mut ModuleState, q: &Quantized) {
    state.no_grad.insert("weight".into());
    state.no_grad.insert("scales".into());
    if q.biases.is_some() {
        state.no_grad.insert("biases".into());
    }
}

/// MLX's `nn.Identity`: returns its input.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub state: ModuleState,
}
impl Identity {
    pub fn new() -> Self {
        Self::default()
    }
}
impl_module!(Identity {});
impl Layer for Identity {
    fn forward(&self, x: &Array) -> Array {
        x.clone()
    }
}

/// MLX's `nn.Linear(input_dims, output_dims, bias=True)`: `x @ weight.T +
/// bias`, `weight` of shape `(output_dims, input_dims)`, both drawn
/// uniformly from `[-1/sqrt(input_dims), 1/sqrt(input_dims))`.
///
/// Quantized (`quant` set: MLX's `QuantizedLinear`), `weight` is the packed
/// `u32` matrix and the product is `quantized_matmul` (see the module docs).
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Array,
    pub bias: Option<Array>,
    pub quant: Option<Quantized>,
    pub state: ModuleState,
}
impl Linear {
    pub fn new(input_dims: i64, output_dims: i64, bias: bool) -> Self {
        let scale = (1.0 / input_dims as f64).sqrt() as f32;
        Linear {
            weight: uniform_shape(scale, &[output_dims, input_dims]),
            bias: bias.then(|| uniform_shape(scale, &[output_dims])),
            quant: None,
            state: ModuleState::default(),
        }
    }

    /// MLX's `nn.QuantizedLinear(input_dims, output_dims, bias=True,
    /// group_size=None, bits=None, mode="affine")`: a uniform weight as
    /// `Linear`'s, quantized, a zero bias, every parameter frozen.
    pub fn new_quantized(
        input_dims: i64,
        output_dims: i64,
        bias: bool,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<Self, Error> {
        let scale = (1.0 / input_dims as f64).sqrt() as f32;
        let w = uniform_shape(scale, &[output_dims, input_dims]);
        let (weight, q) = Quantized::of(&w, group_size, bits, mode)?;
        let mut l = Linear {
            weight,
            bias: bias.then(|| crate::zeros(&[output_dims as i32], crate::DType::F32)),
            quant: Some(q),
            state: ModuleState::default(),
        };
        l.freeze(false, None, false)?;
        Ok(l)
    }

    /// A quantized copy (MLX's `Linear.to_quantized` and
    /// `QuantizedLinear.from_linear`): the weight quantized and frozen, the
    /// bias kept and, as in MLX, left trainable.
    pub fn to_quantized(
        &self,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<Self, Error> {
        let mut l = self.clone();
        l.quantize_in_place(group_size, bits, mode)?;
        Ok(l)
    }

    /// `(input_dims, output_dims)`.
    fn dims(&self) -> (i64, i64) {
        let s = self.weight.shape();
        let (out, inp) = (s[0], s[s.len() - 1]);
        match &self.quant {
            Some(q) => (inp * 32 / q.bits as i64, out),
            None => (inp, out),
        }
    }
}
impl Module for Linear {
    fn type_name(&self) -> &'static str {
        if self.quant.is_some() {
            "QuantizedLinear"
        } else {
            "Linear"
        }
    }
    fn slots(&self) -> Vec<(String, Slot<'_>)> {
        let mut v = weight_slots(&self.weight, &self.quant);
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), Slot::Array(b)));
        }
        v
    }
    fn slots_mut(&mut self) -> Vec<(String, SlotMut<'_>)> {
        let mut v = weight_slots_mut(&mut self.weight, &mut self.quant);
        if let Some(b) = &mut self.bias {
            v.push(("bias".to_string(), SlotMut::Array(b)));
        }
        v
    }
    fn state(&self) -> &ModuleState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ModuleState {
        &mut self.state
    }
    fn as_dyn_mut(&mut self) -> &mut dyn Module {
        self
    }
    fn extra_repr(&self) -> String {
        let (i, o) = self.dims();
        let bias = if self.bias.is_some() { "True" } else { "False" };
        match &self.quant {
            Some(q) => format!("input_dims={i}, output_dims={o}, bias={bias}, {}", q.repr()),
            None => format!("input_dims={i}, output_dims={o}, bias={bias}"),
        }
    }
    fn can_quantize(&self) -> bool {
        self.quant.is_none()
    }
    fn quantize_in_place(
        &mut self,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<(), Error> {
        if self.quant.is_some() {
            return Err(Error::new(
                "quantize",
                "unable to quantize model of type QuantizedLinear",
            ));
        }
        let (weight, q) = Quantized::of(&self.weight, group_size, bits, mode)?;
        self.state.no_grad.clear();
        freeze_quantized(&mut self.state, &q);
        self.weight = weight;
        self.quant = Some(q);
        Ok(())
    }
}
impl Layer for Linear {
    fn forward(&self, x: &Array) -> Array {
        let y = match &self.quant {
            Some(q) => q.matmul(x, &self.weight),
            None => matmul(x, &self.weight.t()),
        };
        match &self.bias {
            Some(b) => y + b,
            None => y,
        }
    }
}

/// MLX's `nn.Bilinear(input1_dims, input2_dims, output_dims, bias=True)`:
/// `y[o] = x1 . weight[o] . x2 + bias[o]`, `weight` of shape
/// `(output_dims, input2_dims, input1_dims)`.
#[derive(Clone, Debug)]
pub struct Bilinear {
    pub weight: Array,
    pub bias: Option<Array>,
    pub state: ModuleState,
}
impl Bilinear {
    pub fn new(input1_dims: i64, input2_dims: i64, output_dims: i64, bias: bool) -> Self {
        let scale = (1.0 / input1_dims as f64).sqrt() as f32;
        Bilinear {
            weight: uniform_shape(scale, &[output_dims, input2_dims, input1_dims]),
            bias: bias.then(|| uniform_shape(scale, &[output_dims])),
            state: ModuleState::default(),
        }
    }

    /// The bilinear form of `x1` (`..., input1_dims`) and `x2` (`..., input2_dims`).
    pub fn forward2(&self, x1: &Array, x2: &Array) -> Array {
        let s = shape_i32(&self.weight);
        let (out, in2, in1) = (s[0], s[1], s[2]);
        let mut xshape = shape_i32(x1);
        xshape.pop();
        let x1 = reshape(x1, &[-1, in1]);
        let x2 = reshape(x2, &[-1, 1, in2]);
        let w = reshape(&self.weight, &[out * in2, in1]);
        let y = matmul(&x1, &w.t());
        let y = swapaxes(&reshape(&y, &[-1, out, in2]), -2, -1);
        let y = squeeze(&matmul(&x2, &y), 1);
        xshape.push(out);
        let y = reshape(&y, &xshape);
        match &self.bias {
            Some(b) => y + b,
            None => y,
        }
    }
}
impl_module!(Bilinear { array weight, opt bias });

/// MLX's `nn.Embedding(num_embeddings, dims)`: rows of `weight` (drawn
/// from a normal with std `1/sqrt(dims)`) at integer indices.
///
/// Quantized (`quant` set: MLX's `QuantizedEmbedding`), `weight` is the
/// packed `u32` matrix and the rows are dequantized after the lookup.
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: Array,
    pub quant: Option<Quantized>,
    pub state: ModuleState,
}
impl Embedding {
    pub fn new(num_embeddings: i64, dims: i64) -> Self {
        let scale = (1.0 / dims as f64).sqrt() as f32;
        Embedding {
            weight: normal_shape(scale, &[num_embeddings, dims]),
            quant: None,
            state: ModuleState::default(),
        }
    }

    /// MLX's `nn.QuantizedEmbedding(num_embeddings, dims, group_size=None,
    /// bits=None, mode="affine")`: a normal weight as `Embedding`'s,
    /// quantized and frozen.
    pub fn new_quantized(
        num_embeddings: i64,
        dims: i64,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<Self, Error> {
        Embedding::new(num_embeddings, dims).to_quantized(group_size, bits, mode)
    }

    /// A quantized copy (MLX's `Embedding.to_quantized` and
    /// `QuantizedEmbedding.from_embedding`), every parameter frozen.
    pub fn to_quantized(
        &self,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<Self, Error> {
        let mut e = self.clone();
        e.quantize_in_place(group_size, bits, mode)?;
        Ok(e)
    }

    /// `x @ weight.T`: the embedding used as an output projection (tied
    /// weights); quantized, `quantized_matmul` as MLX's `as_linear`.
    pub fn as_linear(&self, x: &Array) -> Array {
        match &self.quant {
            Some(q) => q.matmul(x, &self.weight),
            None => matmul(x, &self.weight.t()),
        }
    }
}
impl Module for Embedding {
    fn type_name(&self) -> &'static str {
        if self.quant.is_some() {
            "QuantizedEmbedding"
        } else {
            "Embedding"
        }
    }
    fn slots(&self) -> Vec<(String, Slot<'_>)> {
        weight_slots(&self.weight, &self.quant)
    }
    fn slots_mut(&mut self) -> Vec<(String, SlotMut<'_>)> {
        weight_slots_mut(&mut self.weight, &mut self.quant)
    }
    fn state(&self) -> &ModuleState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut ModuleState {
        &mut self.state
    }
    fn as_dyn_mut(&mut self) -> &mut dyn Module {
        self
    }
    fn extra_repr(&self) -> String {
        let s = self.weight.shape();
        match &self.quant {
            Some(q) => format!(
                "{}, {}, {}",
                s[0],
                s[s.len() - 1] * 32 / q.bits as i64,
                q.repr()
            ),
            None => format!("{}, {}", s[0], s[s.len() - 1]),
        }
    }
    fn can_quantize(&self) -> bool {
        self.quant.is_none()
    }
    fn quantize_in_place(
        &mut self,
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    ) -> Result<(), Error> {
        if self.quant.is_some() {
            return Err(Error::new(
                "quantize",
                "unable to quantize model of type QuantizedEmbedding",
            ));
        }
        let (weight, q) = Quantized::of(&self.weight, group_size, bits, mode)?;
        self.state.no_grad.clear();
        freeze_quantized(&mut self.state, &q);
        self.weight = weight;
        self.quant = Some(q);
        Ok(())
    }
}
impl Layer for Embedding {
    fn forward(&self, x: &Array) -> Array {
        match &self.quant {
            Some(q) => dequantize(
                &take(&self.weight, x, Some(0)),
                &take(&q.scales, x, Some(0)),
                q.biases.as_ref().map(|b| take(b, x, Some(0))).as_ref(),
                Some(q.group_size),
                Some(q.bits),
                q.mode,
                None,
            ),
            None => take(&self.weight, x, Some(0)),
        }
    }
}
