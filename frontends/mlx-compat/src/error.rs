//! The frontend's error type.
//!
//! Rule (documented in the crate root): every op has a fallible `try_*` form
//! returning `Result<Array, Error>`; the infallible form (and every Rust
//! operator) never panics but records the error inside the resulting array.
//! Errors propagate through later ops and are returned by `eval`, `to_vec`,
//! `item` and `trace`.

use std::fmt;

/// What went wrong, and in which MLX-named op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The MLX name of the op, or the API entry point (`eval`, `trace`, `to_vec` ...).
    pub op: String,
    /// What was wrong, naming shapes and dtypes.
    pub message: String,
}

impl Error {
    pub fn new(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            op: op.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.message)
    }
}

impl std::error::Error for Error {}

/// Formats a shape as `[2,3]` (symbolic dimensions as `?`).
pub(crate) fn shape_str(shape: &[i64]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|&d| psionic_ir::types::fmt_dim(d))
        .collect();
    format!("[{}]", parts.join(","))
}
