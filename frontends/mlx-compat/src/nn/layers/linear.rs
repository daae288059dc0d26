//! `Linear`, `Bilinear`, `Identity` and `Embedding`.

use super::shape_i32;
use crate::array::Array;
use crate::nn::init::{normal_shape, uniform_shape};
use crate::nn::{Layer, ModuleState};
use crate::{impl_module, matmul, reshape, squeeze, swapaxes, take};

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
#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Array,
    pub bias: Option<Array>,
    pub state: ModuleState,
}
impl Linear {
    pub fn new(input_dims: i64, output_dims: i64, bias: bool) -> Self {
        let scale = (1.0 / input_dims as f64).sqrt() as f32;
        Linear {
            weight: uniform_shape(scale, &[output_dims, input_dims]),
            bias: bias.then(|| uniform_shape(scale, &[output_dims])),
            state: ModuleState::default(),
        }
    }
}
impl_module!(Linear { array weight, opt bias });
impl Layer for Linear {
    fn forward(&self, x: &Array) -> Array {
        let y = matmul(x, &self.weight.t());
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
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: Array,
    pub state: ModuleState,
}
impl Embedding {
    pub fn new(num_embeddings: i64, dims: i64) -> Self {
        let scale = (1.0 / dims as f64).sqrt() as f32;
        Embedding {
            weight: normal_shape(scale, &[num_embeddings, dims]),
            state: ModuleState::default(),
        }
    }

    /// `x @ weight.T`: the embedding used as an output projection (tied weights).
    pub fn as_linear(&self, x: &Array) -> Array {
        matmul(x, &self.weight.t())
    }
}
impl_module!(Embedding { array weight });
impl Layer for Embedding {
    fn forward(&self, x: &Array) -> Array {
        take(&self.weight, x, Some(0))
    }
}
