//! Specialization: re-infers every type of a function for concrete input types.
//!
//! A shapeless function (symbolic dims, [`DYN`]) becomes a function of the
//! given static shapes: each op is pushed again through its shape rule, so
//! symbolic dims turn concrete and every check the rules skipped for symbolic
//! sizes runs now. Inputs may themselves keep a `?` where the parameter has
//! one (partial specialization).

use crate::func::{Func, IrError, Loc, Value};
use crate::types::{fmt_dim, TensorType, DYN};

/// Rebuilds `f` for parameters of types `inputs`.
///
/// Fails when an input does not fit its parameter (another dtype, another
/// rank, or a size differing from a static one), when `f` uses a value it
/// never defines, or when an op's rule rejects the concrete types (the error
/// then carries the op's location and names it).
pub fn specialize(f: &Func, inputs: &[TensorType]) -> Result<Func, IrError> {
    let name = &f.name;
    if inputs.len() != f.params.len() {
        return Err(IrError::new(
            Loc::default(),
            format!(
                "@{name} takes {} inputs, {} given",
                f.params.len(),
                inputs.len()
            ),
        ));
    }
    for (i, (&p, t)) in f.params.iter().zip(inputs).enumerate() {
        let want = f.value_types.get(p.index()).ok_or_else(|| {
            IrError::new(
                Loc::default(),
                format!("@{name}: parameter {i} has no type"),
            )
        })?;
        fits(want, t).map_err(|m| {
            IrError::new(
                Loc::default(),
                format!("@{name}: input {i} of type {t} does not fit parameter type {want}: {m}"),
            )
        })?;
    }

    let mut out = Func::new(f.name.clone(), inputs.to_vec());
    out.attrs = f.attrs.clone();
    let mut map: Vec<Option<Value>> = vec![None; f.value_types.len()];
    for (&p, &q) in f.params.iter().zip(&out.params) {
        if let Some(slot) = map.get_mut(p.index()) {
            *slot = Some(q);
        }
    }
    let lookup = |map: &[Option<Value>], v: Value, loc: Loc| {
        map.get(v.index()).copied().flatten().ok_or_else(|| {
            IrError::new(
                loc,
                format!("@{name}: value %{} is used but never defined", v.0),
            )
        })
    };
    for (i, op) in f.ops.iter().enumerate() {
        let operands = op
            .operands
            .iter()
            .map(|&v| lookup(&map, v, op.loc))
            .collect::<Result<Vec<_>, _>>()?;
        let results = out
            .push_at(op.opcode, &operands, op.attrs.clone(), op.loc)
            .map_err(|e| {
                IrError::new(
                    op.loc,
                    format!("@{name}: op {i} (`{}`): {}", op.opcode, e.message),
                )
            })?;
        if results.len() != op.results.len() {
            return Err(IrError::new(
                op.loc,
                format!(
                    "@{name}: op {i} (`{}`) has {} results, but its rule gives {}",
                    op.opcode,
                    op.results.len(),
                    results.len()
                ),
            ));
        }
        for (&r, q) in op.results.iter().zip(results) {
            if let Some(slot) = map.get_mut(r.index()) {
                *slot = Some(q);
            }
        }
    }
    out.results = f
        .results
        .iter()
        .map(|&v| lookup(&map, v, Loc::default()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(out)
}

/// Whether a value of type `given` may be passed for a parameter of type `want`.
fn fits(want: &TensorType, given: &TensorType) -> Result<(), String> {
    if want.dtype != given.dtype {
        return Err(format!("dtype {} differs from {}", given.dtype, want.dtype));
    }
    if want.rank() != given.rank() {
        return Err(format!(
            "rank {} differs from {}",
            given.rank(),
            want.rank()
        ));
    }
    for (axis, (&w, &g)) in want.shape.iter().zip(&given.shape).enumerate() {
        if g < DYN {
            return Err(format!("axis {axis} has invalid size {g}"));
        }
        if w != DYN && w != g {
            return Err(format!(
                "axis {axis} has size {}, but the parameter's is {w}",
                fmt_dim(g)
            ));
        }
    }
    Ok(())
}
