//! End-to-end training examples, each a line-by-line port of an MLX script
//! in `examples/mlx/`: the same data, model, loss, optimizer, batches and
//! hyperparameters, written with `psionic_mlx`'s `nn` modules,
//! `nn::value_and_grad`, an optimizer's `update_module`, and the whole
//! training step compiled into one native executable with `compile()`.
//!
//! - [`mlp_digits`]: an MLP on the 8x8 digits (`examples/mlx/mlp_digits.py`).
//! - [`char_lm`]: a character-level transformer (`examples/mlx/char_lm.py`).
//!
//! The binaries (`src/bin/`) parse flags and call these modules; the test
//! (`tests/train.rs`) runs short versions of both. See `docs/EXAMPLES.md`.

pub mod char_lm;
pub mod common;
pub mod mlp_digits;
