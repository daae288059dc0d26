//! MLX's `nn.quantize`: the leaf modules that have a quantized form
//! (`Linear`, `Embedding`) are turned into it (MLX's `QuantizedLinear`,
//! `QuantizedEmbedding`; see [`crate::nn::Linear`] for how a Rust model
//! holds them), as chosen by a predicate.

use super::Module;
use crate::error::Error;
use crate::QuantMode;

/// What a [`quantize`] predicate decides for one leaf module (MLX's
/// `class_predicate` returns `False`, `True` or a dict of `to_quantized`
/// arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizeChoice {
    /// Leave the module as it is.
    Skip,
    /// Quantize it with [`quantize`]'s own settings.
    Quantize,
    /// Quantize it with these settings instead.
    With {
        group_size: Option<i32>,
        bits: Option<i32>,
        mode: QuantMode,
    },
}

/// Quantizes `model`'s leaf modules in place (MLX's `nn.quantize(model,
/// group_size=None, bits=None, mode="affine", class_predicate=None)`;
/// `None` group size and bits take the mode's defaults, affine 64 and 4).
/// Without a predicate every leaf with a quantized form is quantized; a
/// predicate gets each leaf's dotted path and the module. A leaf the
/// predicate picks that has no quantized form, or a weight the settings
/// cannot quantize (a last axis not divisible by the group size), is an
/// error; modules quantized before the error stay quantized, as in MLX.
#[allow(clippy::type_complexity)]
pub fn quantize<M: Module + ?Sized>(
    model: &mut M,
    group_size: Option<i32>,
    bits: Option<i32>,
    mode: QuantMode,
    class_predicate: Option<&dyn Fn(&str, &dyn Module) -> QuantizeChoice>,
) -> Result<(), Error> {
    let mut err: Option<Error> = None;
    model.apply_to_modules(&mut |path, m| {
        // MLX's `leaf_modules()`: modules below the root with no children.
        if err.is_some() || path.is_empty() || !m.children().is_empty() {
            return;
        }
        let choice = match class_predicate {
            Some(p) => p(path, &*m),
            None if m.can_quantize() => QuantizeChoice::Quantize,
            None => QuantizeChoice::Skip,
        };
        let (g, b, md) = match choice {
            QuantizeChoice::Skip => return,
            QuantizeChoice::Quantize => (group_size, bits, mode),
            QuantizeChoice::With {
                group_size,
                bits,
                mode,
            } => (group_size, bits, mode),
        };
        if let Err(e) = m.quantize_in_place(g, b, md) {
            let what = if e.op == "quantize" {
                e.message
            } else {
                e.to_string()
            };
            err = Some(Error::new("quantize", format!("{path}: {what}")));
        }
    });
    err.map_or(Ok(()), Err)
}
