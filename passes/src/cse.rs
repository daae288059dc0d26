//! Common-subexpression elimination: an op with the same opcode, operands
//! and attributes as an earlier op is replaced by that op's results.
//!
//! Every op of the tensor-level IR is pure and deterministic, so equal
//! inputs give equal outputs. Creation ops have no operands and merge only
//! when their attributes are equal (two constants with equal data and type
//! merge; two `tensor.full` with different values never do). Operands of
//! commutative ops are compared as a sorted pair, so `add(a, b)` and
//! `add(b, a)` merge. Values are renumbered afterwards.

use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use crate::util::ValueMap;
use psionic_ir::{Attrs, Func, Opcode, Value};
use std::collections::HashMap;

/// The `cse` pass.
pub struct Cse;

pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("cse", &[])?;
    Ok(Box::new(Cse))
}

impl Pass for Cse {
    fn name(&self) -> &str {
        "cse"
    }
    fn run(&self, func: &mut Func, _: &PassContext) -> Result<PassStats, String> {
        let mut stats = PassStats::default();
        stats.add("ops merged", cse(func) as u64);
        Ok(stats)
    }
}

/// Ops whose two operands may be swapped without changing the result
/// (bit for bit, NaN propagation included).
pub fn is_commutative(op: Opcode) -> bool {
    use Opcode::*;
    matches!(
        op,
        Add | Multiply
            | Maximum
            | Minimum
            | LogAddExp
            | LogicalAnd
            | LogicalOr
            | BitwiseAnd
            | BitwiseOr
            | BitwiseXor
            | Equal
            | NotEqual
    )
}

/// Merges equal ops; returns how many were removed.
pub fn cse(func: &mut Func) -> usize {
    let mut map = ValueMap::new(func);
    let mut seen: HashMap<(Opcode, Vec<Value>, Attrs), Vec<Value>> = HashMap::new();
    let ops = std::mem::take(&mut func.ops);
    let before = ops.len();
    let mut kept = Vec::with_capacity(ops.len());
    for mut op in ops {
        for v in &mut op.operands {
            *v = map.resolve(*v);
        }
        let mut key_operands = op.operands.clone();
        if is_commutative(op.opcode) && key_operands.len() == 2 {
            key_operands.sort();
        }
        let key = (op.opcode, key_operands, op.attrs.clone());
        match seen.get(&key) {
            Some(prev)
                if prev.len() == op.results.len()
                    && prev
                        .iter()
                        .zip(&op.results)
                        .all(|(&p, &r)| func.ty(p) == func.ty(r)) =>
            {
                for (&r, &p) in op.results.iter().zip(prev) {
                    map.replace(r, p);
                }
            }
            _ => {
                seen.insert(key, op.results.clone());
                kept.push(op);
            }
        }
    }
    func.ops = kept;
    map.apply(func);
    let removed = before - func.ops.len();
    if removed > 0 {
        *func = func.compact();
    }
    removed
}
