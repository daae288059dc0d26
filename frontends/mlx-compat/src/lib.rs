//! `psionic-mlx`: the MLX-shaped Rust API of Psionic.
//!
//! Owns [`Array`] (a lazy, cheaply clonable, `Send + Sync` node of an op
//! graph), the MLX-named ops with NumPy broadcasting and MLX dtype promotion
//! made explicit as `tensor.broadcast` / `tensor.cast`, evaluation ([`eval`]:
//! the reference interpreter, or native code for large graphs, see
//! [`set_default_backend`]), `mx.compile` ([`compile()`], on the CPU, CUDA
//! or wgpu: [`Device`], [`set_default_device`]), and tracing of
//! Rust closures into
//! IR functions ([`trace`]) and back ([`apply()`] replays a function, say
//! one made by a transform, on arrays). It maps MLX names onto `psionic-ir`
//! ops and must never be depended on by the IR, passes, codegen or runtime.
//! A traced function prints with `psionic_ir::text::print_func`.
//!
//! ```
//! use psionic_mlx::*;
//! # fn main() -> Result<(), Error> {
//! let x = array(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let y = (&x * 2.0 + 1).sum(Axes::All, false);
//! assert_eq!(y.item::<f32>()?, 24.0);
//! let f = trace(|a| vec![softmax(&a[0], -1, false)], &[x.ty().clone()])?;
//! assert_eq!(f.ops.len(), 1);
//! let e = try_add(&x, &zeros(&[3], DType::F32)).unwrap_err();
//! assert_eq!(e.to_string(), "add: shapes [2,2] and [3] cannot be broadcast");
//! # Ok(())
//! # }
//! ```
//!
//! # Laziness and cost
//! Building an op allocates one record and one node and checks types
//! through the op table: O(1) per op, whatever the graph's size. Nothing
//! runs until [`eval`], [`Array::to_vec`] or [`Array::item`]. Evaluation
//! lowers exactly the unevaluated part of the graph into one function
//! (arrays that already hold values become its inputs and are not computed
//! again) and runs it; the requested arrays, and intermediates that other
//! handles still hold, keep their values and, as in MLX, are detached from
//! their graph, so a training loop that evaluates each step does not keep
//! its history alive.
//!
//! # Errors
//! Every op has a fallible form `try_name(...) -> Result<Array, Error>` and
//! an infallible form `name(...) -> Array` (also behind the Rust operators,
//! which cannot return `Result`). The infallible form never panics: a
//! failure (say `add: shapes [2,3] and [4] cannot be broadcast`) is
//! recorded in the returned array, every op built on it carries the same
//! error, and [`eval`], `to_vec`, `item` and [`trace`] return it. So
//! `(a + b).to_vec::<f32>()` reports a shape mismatch as an `Err`, while
//! `try_add(&a, &b)?` reports it at once. [`Array::error`] inspects it.
//!
//! # Promotion
//! Array–array operands promote with MLX's table
//! ([`psionic_ir::DType::promote`]). Rust scalars (`f32`, `f64`, `i32`,
//! `i64`, `u32`, `bool`) are weak like Python scalars in MLX: `x_f16 * 2.0`
//! stays f16, `x_i8 + 1` stays i8, a float scalar with an integer array
//! gives f32. `divide` of integers gives f32; `sqrt`, `exp` and the other
//! transcendental ops promote integers to f32; `sum`/`prod` accumulate
//! small integers in i32/u32.

pub mod apply;
pub mod array;
pub mod compile;
pub mod device;
pub mod display;
pub mod error;
pub mod files;
pub mod io;
pub mod lower;
pub mod methods;
pub mod mlxfn;
pub mod nn;
pub mod operators;
pub mod ops;
pub mod optimizers;
pub mod transforms;
pub mod tree;
pub mod utils;

pub use apply::apply;
pub use array::{Array, Element, IntoOperand, Operand, Scalar};
pub use compile::{compile, compile_shapeless, compile_with, CompiledFn};
pub use device::{default_device, set_default_device, Device};
pub use error::Error;
pub use lower::{
    default_backend, eval, eval_plan, eval_stats, set_default_backend, trace, trace_with, Backend,
    EvalStats,
};
pub use operators::ScalarOperand;
pub use ops::conv::*;
pub use ops::creation::*;
pub use ops::elementwise::*;
pub use ops::fast;
pub use ops::fft;
pub use ops::indexing::*;
pub use ops::linalg::*;
pub use ops::linalg_mlx as linalg;
pub use ops::misc_mlx::*;
pub use ops::quantized::*;
pub use ops::random;
pub use ops::reduce::*;
pub use ops::shape::*;
pub use ops::Axes;
pub use psionic_ir::{DType, TensorType, DYN};
pub use tree::{Dict, Nest};
