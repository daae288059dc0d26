//! Extension point for further op families (conv, fft, linalg, quantization,
//! random, fast::*): [`eval`] gets every opcode the core interpreter does not
//! handle, after the op table has checked the operands and attributes.

use psionic_ir::{Attrs, Literal, Opcode};

/// Evaluates `opcode` if this module implements it; `None` otherwise (the
/// caller then reports the op as not implemented).
pub fn eval(
    opcode: Opcode,
    attrs: &Attrs,
    operands: &[&Literal],
) -> Option<Result<Vec<Literal>, String>> {
    let _ = (opcode, attrs, operands);
    None
}
