//! The text form of the IR (`.pir`): an MLIR-like syntax, printed
//! deterministically and parsed back exactly.
//!
//! ```text
//! // a comment
//! func @main(%0: tensor<2x3xf32>, %1: tensor<3xf32>) -> (tensor<2x3xf32>) {
//!   %2 = tensor.broadcast %1 {shape = [2, 3]} : tensor<2x3xf32>
//!   %3 = tensor.add %0, %2 : tensor<2x3xf32>
//!   return %3
//! }
//! ```
//!
//! Invariants:
//! - Printing is deterministic: values are renumbered `%0, %1, ...` in
//!   definition order (parameters, then op results), attributes are sorted by
//!   name, numbers use the shortest decimal that round-trips.
//! - `parse_module(&print_module(m)) == Ok(m.compact())` for every module whose
//!   functions were built with [`crate::Func::push`] (float attributes that are
//!   NaN come back as the canonical NaN).
//! - The parser never panics: it returns IR or a [`ParseError`] with a line,
//!   a column and a message that says what was expected.
//! - The parser is driven by the op table: op and attribute names, attribute
//!   kinds and result types all come from [`crate::ops::OP_DEFS`]; result types
//!   written in the text are checked against the inferred ones.
//!
//! The full syntax is documented in `docs/IR.md`.

mod lexer;
mod parser;
mod printer;

pub use parser::{parse_func, parse_module};
pub use printer::{print_attr, print_func, print_literal, print_module};

use crate::func::{IrError, Loc};
use std::fmt;

/// A located error in text input: `LINE:COL: error: MESSAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    pub message: String,
}

impl ParseError {
    pub fn new(line: u32, col: u32, message: impl Into<String>) -> Self {
        ParseError {
            line,
            col,
            message: message.into(),
        }
    }

    pub fn loc(&self) -> Loc {
        Loc::new(self.line, self.col)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: error: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for IrError {
    fn from(e: ParseError) -> Self {
        IrError::new(e.loc(), e.message)
    }
}
