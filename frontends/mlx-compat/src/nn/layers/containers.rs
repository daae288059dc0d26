//! `Sequential`: layers applied in order, stored under `layers.N`.

use crate::array::Array;
use crate::impl_module;
use crate::nn::{Layer, ModuleState};

/// MLX's `nn.Sequential(*modules)`: parameters are named `layers.0...`.
#[derive(Clone, Default)]
pub struct Sequential {
    pub layers: Vec<Box<dyn Layer>>,
    pub state: ModuleState,
}
impl Sequential {
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Self {
        Sequential {
            layers,
            state: ModuleState::default(),
        }
    }
    /// Appends a layer (builder style).
    pub fn push(mut self, layer: impl Layer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
}
impl_module!(Sequential { list layers });
impl Layer for Sequential {
    fn forward(&self, x: &Array) -> Array {
        self.layers.iter().fold(x.clone(), |x, l| l.forward(&x))
    }
    fn forward_mut(&mut self, x: &Array) -> Array {
        self.layers
            .iter_mut()
            .fold(x.clone(), |x, l| l.forward_mut(&x))
    }
}
