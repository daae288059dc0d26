//! `psionic-ir`: Psionic's typed SSA IR.
//!
//! Owns dtypes, tensor types, literals, attributes, the op table
//! ([`ops::OP_DEFS`]: one row per op drives parsing, printing, verification
//! and docs), shape and dtype inference, functions and modules, the text form
//! ([`text`]: printer and parser), the verifier ([`verify`]), specialization
//! of shapeless functions to concrete shapes ([`specialize`]) and the op
//! reference of `docs/IR.md` ([`docs`]).
//!
//! This crate must never depend on passes, backends, the runtime or any
//! frontend: everything else depends on it.

pub mod attr;
pub mod docs;
pub mod dtype;
pub mod func;
pub mod infer;
pub mod infer_extra;
pub mod kernel;
pub mod literal;
pub mod ops;
pub mod psifn;
pub mod specialize;
pub mod text;
pub mod types;
pub mod verify;

pub use attr::{Attr, AttrKind, Attrs};
pub use dtype::{DType, DTypeKind};
pub use func::{Func, IrError, Loc, Module, Op, Value};
pub use literal::{Literal, LiteralError};
pub use ops::{OpClass, OpDef, Opcode, OP_DEFS};
pub use types::{Dim, TensorType, DYN};
