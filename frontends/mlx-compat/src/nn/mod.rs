//! `nn`: MLX's neural-network layer library over [`Array`]s.
//!
//! Owns the module tree ([`Module`], [`Params`]), the layers with MLX's
//! constructors, defaults and parameter names, the activations, the
//! initializers ([`init`]) and the losses ([`losses`]). Every forward pass
//! is built from traceable array ops, so [`value_and_grad`] differentiates
//! a loss with respect to a model's trainable parameters exactly as
//! `mlx.nn.value_and_grad` does: the model is copied, the copy is updated
//! with the traced parameters, and the loss is traced through it.
//!
//! ```
//! use psionic_mlx::nn::{self, Layer, Module};
//! use psionic_mlx::*;
//! # fn main() -> Result<(), Error> {
//! let model = nn::Linear::new(3, 2, true);
//! let x = array(&[1.0f32, 2.0, 3.0], &[1, 3]);
//! let y = array(&[0.5f32, -0.5], &[1, 2]);
//! let loss_and_grad = nn::value_and_grad(&model, |m: &nn::Linear, (x, y): &(Array, Array)| {
//!     nn::losses::mse_loss(&m.forward(x), y, nn::losses::Reduction::Mean)
//! });
//! let (loss, grads) = loss_and_grad(&(x, y))?;
//! assert!(loss.item::<f32>()? >= 0.0);
//! assert_eq!(grads.get("weight").map(|g| g.shape().to_vec()), Some(vec![2, 3]));
//! # Ok(())
//! # }
//! ```

pub mod activations;
pub mod init;
pub mod layers;
pub mod losses;
pub mod module;
pub mod params;
pub mod quantize;
pub(crate) mod rng;

pub use activations::*;
pub use layers::*;
pub use module::{as_module, as_module_mut, AsModule, Module, ModuleState, Slot, SlotMut};
pub use params::Params;
pub use quantize::{quantize, QuantizeChoice};

use crate::array::Array;
use crate::error::Error;

/// A module with one array in and one array out (MLX's `__call__(x)`);
/// what [`Sequential`] chains.
pub trait Layer: Module + LayerClone {
    /// The layer applied to `x`. Nothing in the module changes; for
    /// `BatchNorm` in training mode that means batch statistics are used
    /// but the running statistics are not updated (see [`Layer::forward_mut`]).
    fn forward(&self, x: &Array) -> Array;

    /// [`Layer::forward`] that may update the module's state as MLX's
    /// `__call__` does (`BatchNorm`'s running statistics in training mode).
    fn forward_mut(&mut self, x: &Array) -> Array {
        self.forward(x)
    }
}

/// Cloning behind `Box<dyn Layer>` (implemented for every `Clone` layer).
pub trait LayerClone {
    fn clone_layer(&self) -> Box<dyn Layer>;
}

impl<T: Layer + Clone + 'static> LayerClone for T {
    fn clone_layer(&self) -> Box<dyn Layer> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Layer> {
    fn clone(&self) -> Self {
        self.clone_layer()
    }
}

/// A copy of `model` holding `params` (a full or partial nest): the
/// functional call, `f(model with params)` without touching `model`.
pub fn with_params<M: Module + Clone>(model: &M, params: &Params) -> Result<M, Error> {
    let mut m = model.clone();
    m.update(params)?;
    Ok(m)
}

/// MLX's `nn.value_and_grad(model, fn)`: a function of the inputs giving
/// the loss and its gradient with respect to `model`'s trainable
/// parameters (a [`Params`] nest shaped like `trainable_parameters()`).
///
/// The inputs (any [`Tree`](crate::transforms::Tree) of arrays: an array, a
/// tuple `(x, y)`, ...) are inputs of the traced loss, not constants, and
/// only the parameters are differentiated, as in MLX. So integer inputs
/// (class labels, token ids) are fine, and the returned function may be
/// called inside another trace, say the body of a [`crate::compile()`]d
/// training step, where the batch is a tracer of that trace.
pub fn value_and_grad<M, A, F>(
    model: &M,
    f: F,
) -> impl Fn(&A) -> Result<(Array, Params), Error> + '_
where
    M: Module + Clone,
    A: crate::transforms::Tree,
    F: Fn(&M, &A) -> Array + 'static,
{
    use crate::transforms::{Traceable, Tree};
    move |args: &A| {
        let params = model.trainable_parameters();
        let n = params.leaves().len();
        let loss = |pa: &(Params, A)| match with_params(model, &pa.0) {
            Ok(m) => f(&m, &pa.1),
            Err(e) => Array::from_error(e),
        };
        let example = (params, args.clone());
        // Arrays the loss captures from an enclosing trace come back as
        // extra parameters after the leaves: held fixed here, and the
        // enclosing transform differentiates through them.
        let (func, _, captured) = loss.trace_at(&example)?;
        let wrt: Vec<usize> = (0..n).collect();
        let g = psionic_passes::autodiff::value_and_grad(&func, &wrt)
            .map_err(|e| Error::new("value_and_grad", e.message))?;
        let mut args = example.leaves();
        args.extend(captured);
        let mut r = crate::apply(&g, &args)?;
        if r.len() != 1 + n {
            return Err(Error::new(
                "value_and_grad",
                format!("{} results for a loss and {n} gradients", r.len()),
            ));
        }
        let grads = r.split_off(1);
        let v = r.remove(0);
        let mut it = grads.into_iter();
        Ok((v, example.0.rebuild(&mut it)?))
    }
}
