//! Complex values at the edges of compiled programs. Kernel programs hold a
//! `c64 [S...]` tensor in an `f32 [S..., 2]` buffer, the same bytes
//! ([`psionic_ir::kernel::pairs`]): compiled executables read their `c64`
//! arguments as pairs and return pair results as `c64` ([`Boundary`]), and
//! library ops run through [`eval_lib_op`], which hands the interpreter's
//! `eval_op` the `c64` tensors its pair buffers hold. Nothing is copied.

use crate::interp::{eval_op, RuntimeError};
use psionic_ir::kernel::pairs::{self, ATTR};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use std::borrow::Cow;

fn err(message: String) -> RuntimeError {
    RuntimeError {
        op_index: None,
        op_name: None,
        loc: Default::default(),
        message,
    }
}

/// `x` (a `c64 [S...]`) as `f32 [S..., 2]`; other literals unchanged.
pub fn to_pairs(x: &Literal) -> Result<Literal, String> {
    if x.dtype() != DType::C64 {
        return Ok(x.clone());
    }
    let mut shape = x.shape().to_vec();
    shape.push(2);
    x.reinterpreted(DType::F32, shape)
        .map_err(|e| e.to_string())
}

/// `x` (an `f32 [S..., 2]`) as `c64 [S...]`; an error for any other type.
pub fn from_pairs(x: &Literal) -> Result<Literal, String> {
    let t = pairs::unpaired(&x.ty())?;
    let shape = x.shape()[..t.rank()].to_vec();
    x.reinterpreted(DType::C64, shape)
        .map_err(|e| e.to_string())
}

/// Which results of a compiled specialization are complex: the program
/// returns those as pairs.
#[derive(Clone, Debug, Default)]
pub struct Boundary {
    /// The function's parameter types: the program's pair parameters
    /// would take an `f32 [S..., 2]` for a `c64 [S...]`.
    params: Vec<TensorType>,
    complex_results: Vec<bool>,
}

impl Boundary {
    /// The boundary of `g` (specialized).
    pub fn of(g: &Func) -> Boundary {
        Boundary {
            params: g.params.iter().map(|&p| g.ty(p).clone()).collect(),
            complex_results: g
                .results
                .iter()
                .map(|&r| g.ty(r).dtype.is_complex())
                .collect(),
        }
    }
    /// The program's arguments: `c64` ones as pairs. An error for an
    /// argument whose type is not the parameter's (with complex
    /// parameters, the program's own check would take pairs for them).
    pub fn args<'a>(&self, args: &'a [Literal]) -> Result<Cow<'a, [Literal]>, RuntimeError> {
        if !self.params.iter().any(|t| t.dtype.is_complex()) {
            return Ok(Cow::Borrowed(args));
        }
        if args.len() != self.params.len() {
            return Err(err(format!(
                "{} arguments given, the function takes {}",
                args.len(),
                self.params.len()
            )));
        }
        for (i, (a, t)) in args.iter().zip(&self.params).enumerate() {
            if a.ty() != *t {
                return Err(err(format!("argument {i} is {}, expected {t}", a.ty())));
            }
        }
        if !args.iter().any(|a| a.dtype().is_complex()) {
            return Ok(Cow::Borrowed(args));
        }
        let v = args
            .iter()
            .map(to_pairs)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(Cow::Owned(v))
    }
    /// The function's results from the program's: pairs back to `c64`.
    pub fn results(&self, outs: Vec<Literal>) -> Result<Vec<Literal>, RuntimeError> {
        if outs.len() != self.complex_results.len() {
            return Err(err(format!(
                "the program gave {} results, the function has {}",
                outs.len(),
                self.complex_results.len()
            )));
        }
        outs.into_iter()
            .zip(&self.complex_results)
            .map(|(o, &c)| {
                if c {
                    from_pairs(&o).map_err(err)
                } else {
                    Ok(o)
                }
            })
            .collect()
    }
}

/// Runs a `kernel.op` on its buffers' literals: the interpreter's
/// `eval_op`, with the buffers named by `c64_pairs` read as the `c64`
/// tensors they hold and complex results returned as pairs.
pub fn eval_lib_op(op: Opcode, attrs: &Attrs, args: &[&Literal]) -> Result<Vec<Literal>, String> {
    let Some(spec) = attrs.get(ATTR) else {
        return eval_op(op, attrs, args);
    };
    let Attr::Ints(ix) = spec else {
        return Err(format!("`{ATTR}` must be a list of buffer positions"));
    };
    let mut own = Attrs::new();
    for (name, a) in attrs.iter().filter(|(n, _)| *n != ATTR) {
        own.set(name, a.clone());
    }
    let n = args.len();
    let mut ins: Vec<Literal> = args.iter().map(|&a| a.clone()).collect();
    for &i in ix.iter().filter(|&&i| (i as usize) < n) {
        let i = i as usize;
        ins[i] = from_pairs(&ins[i]).map_err(|e| format!("input {i}: {e}"))?;
    }
    let refs: Vec<&Literal> = ins.iter().collect();
    let mut outs = eval_op(op, &own, &refs)?;
    for &i in ix.iter().filter(|&&i| i < 0 || (i as usize) >= n) {
        let j = (i as usize).wrapping_sub(n);
        let Some(o) = outs.get_mut(j) else {
            return Err(format!("`{ATTR}` position {i} names no buffer"));
        };
        if o.dtype() != DType::C64 {
            return Err(format!("result {j} is {}, not c64", o.ty()));
        }
        *o = to_pairs(o)?;
    }
    Ok(outs)
}
