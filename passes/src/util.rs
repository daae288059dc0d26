//! Small helpers shared by passes: value replacement, use counts, definitions.

use psionic_ir::{Func, Value};

/// A substitution of values by values, applied to operands and results.
/// Chains resolve: if `a -> b` and `b -> c`, uses of `a` become `c`.
#[derive(Clone, Debug)]
pub struct ValueMap {
    to: Vec<Value>,
}

impl ValueMap {
    /// The identity on the values of `func`.
    pub fn new(func: &Func) -> Self {
        ValueMap {
            to: (0..func.value_types.len() as u32).map(Value).collect(),
        }
    }
    /// Where `v` ends up after every replacement.
    pub fn resolve(&self, mut v: Value) -> Value {
        while let Some(&next) = self.to.get(v.index()) {
            if next == v {
                break;
            }
            v = next;
        }
        v
    }
    /// Replaces uses of `from` by `to` (which must have the same type).
    pub fn replace(&mut self, from: Value, to: Value) {
        let to = self.resolve(to);
        if to != from {
            self.to[from.index()] = to;
        }
    }
    /// Rewrites every operand and result of `func`.
    pub fn apply(&self, func: &mut Func) {
        for op in &mut func.ops {
            for v in &mut op.operands {
                *v = self.resolve(*v);
            }
        }
        for v in &mut func.results {
            *v = self.resolve(*v);
        }
    }
}

/// For each value, the index of the op that defines it (`None` for
/// parameters and undefined values).
pub fn defining_ops(func: &Func) -> Vec<Option<usize>> {
    let mut def = vec![None; func.value_types.len()];
    for (i, op) in func.ops.iter().enumerate() {
        for r in &op.results {
            def[r.index()] = Some(i);
        }
    }
    def
}

/// How many times each value is used as an operand or result.
pub fn use_counts(func: &Func) -> Vec<u32> {
    let mut n = vec![0u32; func.value_types.len()];
    for op in &func.ops {
        for v in &op.operands {
            n[v.index()] += 1;
        }
    }
    for v in &func.results {
        n[v.index()] += 1;
    }
    n
}
