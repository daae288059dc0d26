//! Functions and modules: typed SSA values defined by parameters and ops.
//!
//! A [`Func`] is one straight-line block: parameters, ops in an order where
//! every operand is defined before use, and results. Values are dense indices
//! into the function's type table, so building a function costs O(1) per op.

use crate::attr::{Attr, Attrs};
use crate::ops::{infer_types, Opcode};
use crate::types::TensorType;
use std::fmt;

/// An SSA value of one function: an index into [`Func::value_types`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

impl Value {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where an op came from: a line and column of text, or nothing (built in code).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Loc {
    /// 1-based; 0 means unknown.
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(line: u32, col: u32) -> Self {
        Loc { line, col }
    }
    pub fn is_known(self) -> bool {
        self.line != 0
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One op application.
#[derive(Clone, Debug)]
pub struct Op {
    pub opcode: Opcode,
    pub operands: Vec<Value>,
    pub attrs: Attrs,
    pub results: Vec<Value>,
    /// Source location; ignored by equality.
    pub loc: Loc,
}

impl PartialEq for Op {
    fn eq(&self, o: &Self) -> bool {
        self.opcode == o.opcode
            && self.operands == o.operands
            && self.attrs == o.attrs
            && self.results == o.results
    }
}
impl Eq for Op {}

/// A function: parameters, ops, results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    pub name: String,
    pub params: Vec<Value>,
    pub ops: Vec<Op>,
    pub results: Vec<Value>,
    /// The type of every value, indexed by [`Value::index`].
    pub value_types: Vec<TensorType>,
    /// Function-level attributes (for example MLX keyword-argument names),
    /// sorted by name.
    pub attrs: Vec<(String, Attr)>,
}

/// An error building or checking IR: a message and where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrError {
    pub loc: Loc,
    pub message: String,
}

impl IrError {
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        IrError {
            loc,
            message: message.into(),
        }
    }
}

impl fmt::Display for IrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loc.is_known() {
            write!(f, "{}: {}", self.loc, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}
impl std::error::Error for IrError {}

impl Func {
    /// An empty function with the given parameter types.
    pub fn new(name: impl Into<String>, param_types: Vec<TensorType>) -> Self {
        let mut f = Func {
            name: name.into(),
            params: Vec::new(),
            ops: Vec::new(),
            results: Vec::new(),
            value_types: Vec::new(),
            attrs: Vec::new(),
        };
        for t in param_types {
            let v = f.new_value(t);
            f.params.push(v);
        }
        f
    }

    /// Adds a value of type `t` that no op defines yet (used by builders
    /// and parsers; the verifier rejects values left undefined).
    pub fn new_value(&mut self, t: TensorType) -> Value {
        let v = Value(self.value_types.len() as u32);
        self.value_types.push(t);
        v
    }

    pub fn ty(&self, v: Value) -> &TensorType {
        &self.value_types[v.index()]
    }

    /// Appends a parameter.
    pub fn add_param(&mut self, t: TensorType) -> Value {
        let v = self.new_value(t);
        self.params.push(v);
        v
    }

    /// Appends an op after checking and inferring its types; returns its results.
    pub fn push(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        attrs: Attrs,
    ) -> Result<Vec<Value>, IrError> {
        self.push_at(opcode, operands, attrs, Loc::default())
    }

    /// [`Func::push`] with a source location.
    pub fn push_at(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        attrs: Attrs,
        loc: Loc,
    ) -> Result<Vec<Value>, IrError> {
        let n = self.value_types.len();
        if let Some(bad) = operands.iter().find(|v| v.index() >= n) {
            return Err(IrError::new(
                loc,
                format!("operand %{} does not exist", bad.0),
            ));
        }
        let types: Vec<&TensorType> = operands.iter().map(|&v| self.ty(v)).collect();
        let result_types = infer_types(opcode, &types, &attrs).map_err(|m| IrError::new(loc, m))?;
        let results: Vec<Value> = result_types
            .into_iter()
            .map(|t| self.new_value(t))
            .collect();
        self.ops.push(Op {
            opcode,
            operands: operands.to_vec(),
            attrs,
            results: results.clone(),
            loc,
        });
        Ok(results)
    }

    /// [`Func::push`] for single-result ops.
    pub fn push1(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        attrs: Attrs,
    ) -> Result<Value, IrError> {
        let r = self.push(opcode, operands, attrs)?;
        match r.as_slice() {
            [v] => Ok(*v),
            _ => Err(IrError::new(
                Loc::default(),
                format!("`{opcode}` has {} results, expected 1", r.len()),
            )),
        }
    }

    pub fn param_types(&self) -> Vec<TensorType> {
        self.params.iter().map(|&v| self.ty(v).clone()).collect()
    }
    pub fn result_types(&self) -> Vec<TensorType> {
        self.results.iter().map(|&v| self.ty(v).clone()).collect()
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Sets a function attribute, keeping the list sorted.
    pub fn set_attr(&mut self, name: impl Into<String>, value: Attr) {
        let name = name.into();
        match self.attrs.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.attrs[i].1 = value,
            Err(i) => self.attrs.insert(i, (name, value)),
        }
    }

    /// Renumbers values in definition order (parameters, then op results in
    /// op order) and drops values nothing defines. After this, two functions
    /// that print the same compare equal.
    pub fn compact(&self) -> Func {
        let mut map = vec![u32::MAX; self.value_types.len()];
        let mut types = Vec::with_capacity(self.value_types.len());
        let mut def = |v: Value, map: &mut Vec<u32>| {
            map[v.index()] = types.len() as u32;
            types.push(self.ty(v).clone());
        };
        for &p in &self.params {
            def(p, &mut map);
        }
        for op in &self.ops {
            for &r in &op.results {
                def(r, &mut map);
            }
        }
        let m = |v: Value| Value(map[v.index()]);
        Func {
            name: self.name.clone(),
            params: self.params.iter().map(|&v| m(v)).collect(),
            ops: self
                .ops
                .iter()
                .map(|op| Op {
                    opcode: op.opcode,
                    operands: op.operands.iter().map(|&v| m(v)).collect(),
                    attrs: op.attrs.clone(),
                    results: op.results.iter().map(|&v| m(v)).collect(),
                    loc: op.loc,
                })
                .collect(),
            results: self.results.iter().map(|&v| m(v)).collect(),
            value_types: types,
            attrs: self.attrs.clone(),
        }
    }

    /// Counts ops by name, sorted by name.
    pub fn op_counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for op in &self.ops {
            *counts.entry(op.opcode.name()).or_insert(0usize) += 1;
        }
        counts.into_iter().collect()
    }
}

/// A set of functions, looked up by name, with module-level attributes
/// (for an imported `.mlxfn`: `shapeless`, `metadata`, `mlx_version`).
/// Several functions of one name are several traces of one program (MLX's
/// export of one function at several input signatures).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    pub funcs: Vec<Func>,
    /// Sorted by name.
    pub attrs: Vec<(String, Attr)>,
}

impl Module {
    pub fn new(funcs: Vec<Func>) -> Self {
        Module {
            funcs,
            attrs: Vec::new(),
        }
    }
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
    /// Sets a module attribute, keeping the list sorted.
    pub fn set_attr(&mut self, name: impl Into<String>, value: Attr) {
        let name = name.into();
        match self.attrs.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.attrs[i].1 = value,
            Err(i) => self.attrs.insert(i, (name, value)),
        }
    }
    pub fn func(&self, name: &str) -> Option<&Func> {
        self.funcs.iter().find(|f| f.name == name)
    }
    pub fn compact(&self) -> Module {
        Module {
            funcs: self.funcs.iter().map(Func::compact).collect(),
            attrs: self.attrs.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    #[test]
    fn push_infers_types_and_rejects_bad_ops() {
        let t = TensorType::new(DType::F32, vec![2, 3]);
        let mut f = Func::new("f", vec![t.clone(), t.clone()]);
        let (a, b) = (f.params[0], f.params[1]);
        let s = f.push1(Opcode::Add, &[a, b], Attrs::new()).unwrap();
        assert_eq!(f.ty(s), &t);
        let r = f
            .push1(
                Opcode::ReduceSum,
                &[s],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            )
            .unwrap();
        assert_eq!(f.ty(r).shape, vec![2]);
        let err = f
            .push1(
                Opcode::ReduceSum,
                &[s],
                Attrs::new().with("axes", Attr::Ints(vec![2])),
            )
            .unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
        let err = f.push1(Opcode::Add, &[a], Attrs::new()).unwrap_err();
        assert!(err.message.contains("takes 2 operands"), "{err}");
        f.results = vec![r];
        assert_eq!(f.compact(), f);
    }
}
