//! The verifier: checks that a [`Func`] or [`Module`] is well formed. Every
//! pass must leave it green; the parser's output always passes it.
//!
//! Invariants checked, for every function:
//!
//! 1. **Types in range.** Every value a function mentions (parameter, op
//!    operand, op result, function result) indexes into `value_types`.
//! 2. **Well-formed types.** Every dimension of every value type is a
//!    non-negative size or [`DYN`] (-1); no other negative sizes.
//! 3. **Single definition.** Every value is defined exactly once: as one
//!    parameter or as one result of one op. (Values that nothing defines and
//!    nothing uses may sit in `value_types`; [`Func::compact`] drops them.)
//! 4. **Dominance.** Every operand is defined before the op that uses it: a
//!    parameter, or a result of an earlier op (never the op's own result).
//! 5. **Results defined.** Every function result is a defined value.
//! 6. **Op rules.** Each op is re-checked against its row of the op table
//!    ([`crate::ops::infer_types`]): operand count (arity), attributes (every
//!    required one present, none unknown, each of its declared kind), and the
//!    op's shape and dtype rule on its operand types.
//! 7. **Recorded types.** Each op has as many results as its rule infers and
//!    each result's recorded type equals the inferred type exactly.
//! 8. **Function attributes.** Names are unique and sorted (as
//!    [`Func::set_attr`] keeps them).
//!
//! For a module: every function passes, and module attribute names are unique
//! and sorted.
//!
//! Not checked, because the types make it impossible: op attributes are
//! sorted and unique ([`crate::Attrs`] keeps them so), dense literals hold
//! exactly as many bytes as their type needs ([`crate::Literal`]'s constructors
//! check it).
//!
//! Errors carry the op's [`Loc`] (from the text, when it was parsed) and name
//! the function, the op index and the op.

use crate::func::{Func, IrError, Loc, Module};
use crate::ops::infer_types;
use crate::types::{TensorType, DYN};

/// Where a value is defined.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Def {
    Undefined,
    Param,
    /// Result of op `i`.
    Op(usize),
}

fn describe_def(d: Def) -> String {
    match d {
        Def::Undefined => "nowhere".into(),
        Def::Param => "as a parameter".into(),
        Def::Op(i) => format!("by op {i}"),
    }
}

/// Checks every invariant of the module doc for one function.
pub fn verify_func(f: &Func) -> Result<(), IrError> {
    let fname = &f.name;
    let n = f.value_types.len();
    let func_err = |msg: String| IrError::new(Loc::default(), format!("@{fname}: {msg}"));
    let op_err = |i: usize, loc: Loc, msg: String| {
        let name = f.ops[i].opcode.name();
        IrError::new(loc, format!("@{fname}: op {i} (`{name}`): {msg}"))
    };

    for (i, t) in f.value_types.iter().enumerate() {
        check_type(t).map_err(|m| func_err(format!("value %{i} has type {t}: {m}")))?;
    }

    let mut def = vec![Def::Undefined; n];
    for &p in &f.params {
        let slot = def
            .get_mut(p.index())
            .ok_or_else(|| func_err(format!("parameter %{} has no type (only {n} values)", p.0)))?;
        if *slot != Def::Undefined {
            return Err(func_err(format!(
                "value %{} is defined twice (already {})",
                p.0,
                describe_def(*slot)
            )));
        }
        *slot = Def::Param;
    }

    for (i, op) in f.ops.iter().enumerate() {
        for (k, &v) in op.operands.iter().enumerate() {
            match def.get(v.index()) {
                None => {
                    return Err(op_err(
                        i,
                        op.loc,
                        format!("operand {k} %{} has no type (only {n} values)", v.0),
                    ))
                }
                Some(Def::Undefined) => {
                    let later = f
                        .ops
                        .iter()
                        .skip(i)
                        .position(|o| o.results.contains(&v))
                        .map(|j| format!(" (it is defined later, by op {})", i + j))
                        .unwrap_or_default();
                    return Err(op_err(
                        i,
                        op.loc,
                        format!("operand {k} %{} is used before it is defined{later}", v.0),
                    ));
                }
                Some(_) => {}
            }
        }

        let types: Vec<&TensorType> = op.operands.iter().map(|&v| f.ty(v)).collect();
        let inferred =
            infer_types(op.opcode, &types, &op.attrs).map_err(|m| op_err(i, op.loc, m))?;
        if inferred.len() != op.results.len() {
            return Err(op_err(
                i,
                op.loc,
                format!(
                    "has {} results, but its rule gives {}",
                    op.results.len(),
                    inferred.len()
                ),
            ));
        }
        for (k, (&r, want)) in op.results.iter().zip(&inferred).enumerate() {
            let slot = def.get_mut(r.index()).ok_or_else(|| {
                op_err(
                    i,
                    op.loc,
                    format!("result {k} %{} has no type (only {n} values)", r.0),
                )
            })?;
            if *slot != Def::Undefined {
                let already = describe_def(*slot);
                return Err(op_err(
                    i,
                    op.loc,
                    format!("result {k} %{} is defined twice (already {already})", r.0),
                ));
            }
            *slot = Def::Op(i);
            let got = &f.value_types[r.index()];
            if got != want {
                return Err(op_err(
                    i,
                    op.loc,
                    format!(
                        "result {k} %{} is recorded as {got}, but its rule gives {want}",
                        r.0
                    ),
                ));
            }
        }
    }

    for (k, &r) in f.results.iter().enumerate() {
        match def.get(r.index()) {
            None => {
                return Err(func_err(format!(
                    "result {k} %{} has no type (only {n} values)",
                    r.0
                )))
            }
            Some(Def::Undefined) => {
                return Err(func_err(format!(
                    "result {k} %{} is not defined by any parameter or op",
                    r.0
                )))
            }
            Some(_) => {}
        }
    }

    check_attr_names(f.attrs.iter().map(|(n, _)| n.as_str()))
        .map_err(|m| func_err(format!("function attributes: {m}")))?;
    Ok(())
}

/// Checks every function and the module's attribute names.
pub fn verify_module(m: &Module) -> Result<(), IrError> {
    for f in &m.funcs {
        verify_func(f)?;
    }
    check_attr_names(m.attrs.iter().map(|(n, _)| n.as_str()))
        .map_err(|msg| IrError::new(Loc::default(), format!("module attributes: {msg}")))
}

fn check_type(t: &TensorType) -> Result<(), String> {
    match t.shape.iter().find(|&&d| d < 0 && d != DYN) {
        Some(d) => Err(format!("dimension {d} is neither a size nor `?`")),
        None => Ok(()),
    }
}

fn check_attr_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut prev: Option<&str> = None;
    for n in names {
        if let Some(p) = prev {
            if p == n {
                return Err(format!("`{n}` appears twice"));
            }
            if p > n {
                return Err(format!("`{p}` comes before `{n}`: names must be sorted"));
            }
        }
        prev = Some(n);
    }
    Ok(())
}
