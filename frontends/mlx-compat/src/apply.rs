//! The inverse of [`crate::trace`]: replaying an IR function on arrays.
//!
//! [`apply`] builds, for every op of a [`Func`], the same op on arrays, so
//! a function produced by a transform (grad, vmap, an imported `.mlxfn`)
//! can be called like any other array code: lazily, inside another trace
//! (where it is inlined), and in O(ops). Types are inferred again on the
//! actual arguments, so a function with symbolic (`DYN`) dimensions runs
//! at any shape it accepts.

use crate::array::{build, Array};
use crate::error::{shape_str, Error};
use psionic_ir::{Func, Value};

/// Calls `func` on `args`: one array per result of `func`.
pub fn apply(func: &Func, args: &[Array]) -> Result<Vec<Array>, Error> {
    let op = "apply";
    if args.len() != func.params.len() {
        return Err(Error::new(
            op,
            format!(
                "`@{}` takes {} arguments, got {}",
                func.name,
                func.params.len(),
                args.len()
            ),
        ));
    }
    let mut values: Vec<Option<Array>> = vec![None; func.value_types.len()];
    for (k, (&p, a)) in func.params.iter().zip(args).enumerate() {
        a.check()?;
        let want = func.ty(p);
        let fits = a.dtype() == want.dtype
            && a.ndim() == want.rank()
            && a.shape()
                .iter()
                .zip(&want.shape)
                .all(|(&d, &w)| w < 0 || d == w);
        if !fits {
            return Err(Error::new(
                op,
                format!(
                    "argument {k} of `@{}` must be {want}, found {} of shape {}",
                    func.name,
                    a.dtype(),
                    shape_str(a.shape())
                ),
            ));
        }
        values[p.index()] = Some(a.clone());
    }
    let get = |values: &[Option<Array>], v: Value| -> Result<Array, Error> {
        values
            .get(v.index())
            .and_then(|x| x.clone())
            .ok_or_else(|| Error::new(op, format!("value %{} is used before it is defined", v.0)))
    };
    for o in &func.ops {
        let inputs = o
            .operands
            .iter()
            .map(|&v| get(&values, v))
            .collect::<Result<Vec<_>, _>>()?;
        let results = build(o.opcode.name(), o.opcode, inputs, o.attrs.clone())?;
        if results.len() != o.results.len() {
            return Err(Error::new(
                op,
                format!(
                    "`{}` gave {} results, the function names {}",
                    o.opcode,
                    results.len(),
                    o.results.len()
                ),
            ));
        }
        for (&r, a) in o.results.iter().zip(results) {
            match values.get_mut(r.index()) {
                Some(slot) => *slot = Some(a),
                None => return Err(Error::new(op, format!("value %{} does not exist", r.0))),
            }
        }
    }
    func.results.iter().map(|&v| get(&values, v)).collect()
}
