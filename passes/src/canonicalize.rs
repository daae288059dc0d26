//! Canonicalization: constant folding, identity removal and layout folding,
//! repeated to a fixed point, followed by dead-code elimination.
//!
//! Every rewrite keeps the types of the values it replaces: an identity is
//! removed only where the operand's type equals the result's, and a composed
//! op is used only where shape inference gives the original result type.
//! Identities are exact for every input (signed zeros and NaNs included):
//! `x + 0.0` is not `x` for floats (`-0.0 + 0.0 = +0.0`), so for floats only
//! `x + (-0.0)` folds; `x - 0`, `x * 1` and `x / 1` fold for real types.
//!
//! Constant folding evaluates an op whose operands are all known (constants,
//! or small `tensor.full`/`tensor.iota`/`tensor.arange`) through the folder
//! the caller supplies ([`PassContext::folder`], the reference interpreter in
//! the CLI), when every result has at most [`PassContext::fold_limit`]
//! elements. A fold whose result type differs from the op's, or that the
//! folder refuses, leaves the op as it was.

use crate::dce::dce;
use crate::manager::{Pass, PassContext, PassOptions, PassStats};
use crate::util::ValueMap;
use psionic_ir::ops::infer_types;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Op, OpClass, Opcode, TensorType, Value, DYN};

/// The `canonicalize` pass.
pub struct Canonicalize {
    /// Whether to fold constants (when the context has a folder).
    pub fold: bool,
    /// Rounds before giving up on reaching a fixed point.
    pub max_rounds: usize,
}

impl Default for Canonicalize {
    fn default() -> Self {
        Canonicalize {
            fold: true,
            max_rounds: 16,
        }
    }
}

pub fn create(o: &PassOptions) -> Result<Box<dyn Pass>, String> {
    o.expect_only("canonicalize", &["fold", "max-rounds"])?;
    Ok(Box::new(Canonicalize {
        fold: o.bool_or("fold", true)?,
        max_rounds: o.usize_or("max-rounds", 16)?.max(1),
    }))
}

/// Operands from creation ops are materialized for folding only up to this
/// many elements, so folding never allocates much more than the IR holds.
const MATERIALIZE_LIMIT: usize = 1 << 16;

impl Pass for Canonicalize {
    fn name(&self) -> &str {
        "canonicalize"
    }
    fn run(&self, func: &mut Func, ctx: &PassContext) -> Result<PassStats, String> {
        let mut stats = PassStats::default();
        let folder = if self.fold { ctx.folder } else { None };
        let ctx = PassContext { folder, ..*ctx };
        for round in 0..self.max_rounds {
            let changed = canonicalize_once(func, &ctx, &mut stats);
            stats.add("ops removed", dce(func) as u64);
            if !changed {
                stats.add("rounds", round as u64 + 1);
                return Ok(stats);
            }
        }
        stats.add("rounds", self.max_rounds as u64);
        stats.note("stopped", "round limit reached before a fixed point");
        Ok(stats)
    }
}

enum Rewrite {
    Keep,
    /// Each result is replaced by this value (of the same type).
    Forward(Vec<Value>),
    /// The op becomes another op with the same results.
    Replace(Opcode, Vec<Value>, Attrs),
    /// Each result becomes a constant.
    Fold(Vec<Literal>),
}

struct State<'f> {
    func: &'f Func,
    /// The ops kept so far (operands already resolved).
    ops: Vec<Op>,
    /// Index in `ops` of the op defining each value.
    def: Vec<Option<usize>>,
    /// Known values of constants and materialized creation ops.
    known: Vec<Option<Literal>>,
}

impl State<'_> {
    fn producer(&self, v: Value) -> Option<&Op> {
        self.def[v.index()].map(|i| &self.ops[i])
    }

    /// The value of `v` if it is known at compile time and small enough.
    fn literal(&mut self, v: Value, ctx: &PassContext) -> Option<Literal> {
        if let Some(l) = &self.known[v.index()] {
            return Some(l.clone());
        }
        let op = self.producer(v)?;
        if !matches!(op.opcode, Opcode::Full | Opcode::Iota | Opcode::Arange) {
            return None;
        }
        let n = self.func.ty(v).num_elements()?;
        if n > MATERIALIZE_LIMIT {
            return None;
        }
        let folder = ctx.folder?;
        let lit = folder(op.opcode, &op.attrs, &[]).ok()?.into_iter().next()?;
        if lit.ty() != *self.func.ty(v) {
            return None;
        }
        self.known[v.index()] = Some(lit.clone());
        Some(lit)
    }

    /// The single value every element of `v` holds, as a 0-d literal, if
    /// that is known without materializing anything large.
    fn splat(&self, v: Value) -> Option<Literal> {
        if let Some(l) = &self.known[v.index()] {
            return l.splat_value();
        }
        let op = self.producer(v)?;
        if op.opcode == Opcode::Full {
            let dtype = op.attrs.dtype("dtype").ok()?;
            let value = op.attrs.float("value").ok()?;
            return Some(Literal::scalar_f64(dtype, value));
        }
        None
    }
}

fn same_bytes(l: &Literal, dtype: DType, v: f64) -> bool {
    l.bytes() == Literal::scalar_f64(dtype, v).bytes()
}

fn is_real_float(d: DType) -> bool {
    d.is_float() && !d.is_complex()
}

/// `c` is an additive identity for `dtype`: bit-exact for every `x + c`.
fn is_add_identity(c: &Literal) -> bool {
    let d = c.dtype();
    if d.is_complex() {
        false
    } else if is_real_float(d) {
        same_bytes(c, d, -0.0)
    } else {
        same_bytes(c, d, 0.0)
    }
}

/// `x - c == x` for every x.
fn is_sub_identity(c: &Literal) -> bool {
    let d = c.dtype();
    !d.is_bool() && same_bytes(c, d, 0.0)
}

/// `x * c == x` (and `x / c == x`) for every x.
fn is_mul_identity(c: &Literal) -> bool {
    let d = c.dtype();
    !d.is_complex() && same_bytes(c, d, 1.0)
}

fn identity_perm(p: &[i64]) -> bool {
    p.iter().enumerate().all(|(i, &a)| a == i as i64)
}

fn count_dyn(t: &TensorType) -> usize {
    t.shape.iter().filter(|&&d| d == DYN).count()
}

/// Reshape-like ops: the result holds the operand's elements in the same
/// row-major order.
fn is_reshape_like(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::Reshape
            | Opcode::Flatten
            | Opcode::Unflatten
            | Opcode::ExpandDims
            | Opcode::Squeeze
    )
}

fn simplify(st: &mut State, op: &Op, ctx: &PassContext) -> Rewrite {
    use Opcode::*;
    let f = st.func;
    let res_ty = |i: usize| f.ty(op.results[i]);
    let x = op.operands.first().copied();
    // The operand forwarded must have the result's type exactly.
    let forward = |v: Value| {
        if op.results.len() == 1 && f.ty(v) == f.ty(op.results[0]) {
            Rewrite::Forward(vec![v])
        } else {
            Rewrite::Keep
        }
    };

    // ---- constant folding ----
    if let Some(folder) = ctx.folder {
        if op.opcode.class() != OpClass::Creation && !op.operands.is_empty() {
            let small = op
                .results
                .iter()
                .all(|&r| f.ty(r).num_elements().is_some_and(|n| n <= ctx.fold_limit));
            if small {
                let mut lits = Vec::with_capacity(op.operands.len());
                for &v in &op.operands {
                    match st.literal(v, ctx) {
                        Some(l) => lits.push(l),
                        None => break,
                    }
                }
                if lits.len() == op.operands.len() {
                    let refs: Vec<&Literal> = lits.iter().collect();
                    if let Ok(out) = folder(op.opcode, &op.attrs, &refs) {
                        if out.len() == op.results.len()
                            && out
                                .iter()
                                .zip(&op.results)
                                .all(|(l, &r)| l.ty() == *f.ty(r))
                        {
                            return Rewrite::Fold(out);
                        }
                    }
                }
            }
        }
    }

    let Some(x) = x else { return Rewrite::Keep };
    let operand = |i: usize| op.operands[i];
    let producer_of = |st: &State, v: Value| st.producer(v).cloned();

    match op.opcode {
        Add if op.operands.len() == 2 => {
            if st.splat(operand(1)).is_some_and(|c| is_add_identity(&c)) {
                return forward(operand(0));
            }
            if st.splat(operand(0)).is_some_and(|c| is_add_identity(&c)) {
                return forward(operand(1));
            }
            Rewrite::Keep
        }
        Subtract => {
            if st.splat(operand(1)).is_some_and(|c| is_sub_identity(&c)) {
                return forward(operand(0));
            }
            Rewrite::Keep
        }
        Multiply => {
            if st.splat(operand(1)).is_some_and(|c| is_mul_identity(&c)) {
                return forward(operand(0));
            }
            if st.splat(operand(0)).is_some_and(|c| is_mul_identity(&c)) {
                return forward(operand(1));
            }
            Rewrite::Keep
        }
        Divide => {
            let d = f.ty(x).dtype;
            if !d.is_bool() && st.splat(operand(1)).is_some_and(|c| is_mul_identity(&c)) {
                return forward(operand(0));
            }
            Rewrite::Keep
        }
        FloorDivide => {
            let d = f.ty(x).dtype;
            if d.is_integer() && st.splat(operand(1)).is_some_and(|c| is_mul_identity(&c)) {
                return forward(operand(0));
            }
            Rewrite::Keep
        }
        Copy => forward(x),
        Cast | Bitcast => forward(x),
        Reshape => {
            if count_dyn(f.ty(x)) <= 1 && f.ty(x) == res_ty(0) {
                return forward(x);
            }
            // reshape(reshape-like(y)) -> reshape(y)
            if let Some(inner) = producer_of(st, x) {
                if is_reshape_like(inner.opcode) {
                    let y = inner.operands[0];
                    if count_dyn(f.ty(y)) <= 1 && f.ty(y) == res_ty(0) {
                        return forward(y);
                    }
                    return replace_checked(f, op, Reshape, vec![y], op.attrs.clone());
                }
            }
            Rewrite::Keep
        }
        Transpose => {
            let Ok(p2) = op.attrs.ints("perm") else {
                return Rewrite::Keep;
            };
            if identity_perm(p2) {
                return forward(x);
            }
            if let Some(inner) = producer_of(st, x) {
                if inner.opcode == Transpose {
                    let Ok(p1) = inner.attrs.ints("perm") else {
                        return Rewrite::Keep;
                    };
                    if p1.len() != p2.len() {
                        return Rewrite::Keep;
                    }
                    let mut q = Vec::with_capacity(p2.len());
                    for &i in p2 {
                        match usize::try_from(i).ok().and_then(|i| p1.get(i)) {
                            Some(&a) => q.push(a),
                            None => return Rewrite::Keep,
                        }
                    }
                    let y = inner.operands[0];
                    if identity_perm(&q) {
                        return forward(y);
                    }
                    return replace_checked(
                        f,
                        op,
                        Transpose,
                        vec![y],
                        Attrs::new().with("perm", Attr::Ints(q)),
                    );
                }
            }
            Rewrite::Keep
        }
        Broadcast => {
            if f.ty(x).is_static() && f.ty(x) == res_ty(0) {
                return forward(x);
            }
            if let Some(inner) = producer_of(st, x) {
                if inner.opcode == Broadcast {
                    return replace_checked(
                        f,
                        op,
                        Broadcast,
                        vec![inner.operands[0]],
                        op.attrs.clone(),
                    );
                }
            }
            Rewrite::Keep
        }
        BroadcastLike => {
            if f.ty(x).is_static() && f.ty(x) == res_ty(0) {
                return forward(x);
            }
            Rewrite::Keep
        }
        ExpandDims | Squeeze => {
            if op.attrs.ints("axes").is_ok_and(|a| a.is_empty()) {
                return forward(x);
            }
            let inverse = if op.opcode == Squeeze {
                ExpandDims
            } else {
                Squeeze
            };
            if let Some(inner) = producer_of(st, x) {
                if inner.opcode == inverse && inner.attrs.get("axes") == op.attrs.get("axes") {
                    return forward(inner.operands[0]);
                }
            }
            reshape_chain(st, op)
        }
        Unflatten => reshape_chain(st, op),
        Flatten => {
            if op.attrs.int("start_axis").ok() == op.attrs.int("end_axis").ok() {
                return forward(x);
            }
            reshape_chain(st, op)
        }
        Slice => {
            let starts_zero = op
                .attrs
                .ints("start")
                .is_ok_and(|s| s.iter().all(|&v| v == 0));
            let unit = op
                .attrs
                .ints("strides")
                .is_ok_and(|s| s.iter().all(|&v| v == 1));
            if starts_zero && unit && f.ty(x).is_static() && f.ty(x) == res_ty(0) {
                return forward(x);
            }
            Rewrite::Keep
        }
        Pad => {
            let zero = |k: &str| op.attrs.ints(k).is_ok_and(|s| s.iter().all(|&v| v == 0));
            if zero("low") && zero("high") {
                return forward(x);
            }
            Rewrite::Keep
        }
        Concatenate if op.operands.len() == 1 => forward(x),
        Negative | LogicalNot | BitwiseInvert | Flip => {
            if let Some(inner) = producer_of(st, x) {
                if inner.opcode == op.opcode && inner.attrs == op.attrs {
                    return forward(inner.operands[0]);
                }
            }
            if op.opcode == Flip && op.attrs.ints("axes").is_ok_and(|a| a.is_empty()) {
                return forward(x);
            }
            Rewrite::Keep
        }
        Select => {
            let (a, b) = (operand(1), operand(2));
            if a == b {
                return forward(a);
            }
            if let Some(c) = st.splat(x) {
                return forward(if c.get_f64(0) != 0.0 { a } else { b });
            }
            Rewrite::Keep
        }
        _ => Rewrite::Keep,
    }
}

/// A reshape-like op of a reshape-like op: one reshape of the inner operand
/// (or that operand itself when the types are equal).
fn reshape_chain(st: &State, op: &Op) -> Rewrite {
    let f = st.func;
    let Some(inner) = op.operands.first().and_then(|&x| st.producer(x)) else {
        return Rewrite::Keep;
    };
    if !is_reshape_like(inner.opcode) || op.results.len() != 1 {
        return Rewrite::Keep;
    }
    let y = inner.operands[0];
    let res = f.ty(op.results[0]);
    if count_dyn(f.ty(y)) <= 1 && f.ty(y) == res {
        return Rewrite::Forward(vec![y]);
    }
    if !res.is_static() {
        return Rewrite::Keep;
    }
    let attrs = Attrs::new().with("shape", Attr::Ints(res.shape.clone()));
    replace_checked(f, op, Opcode::Reshape, vec![y], attrs)
}

/// `Replace` if shape inference gives the op's own result types, else `Keep`.
fn replace_checked(
    f: &Func,
    op: &Op,
    opcode: Opcode,
    operands: Vec<Value>,
    attrs: Attrs,
) -> Rewrite {
    let types: Vec<&TensorType> = operands.iter().map(|&v| f.ty(v)).collect();
    match infer_types(opcode, &types, &attrs) {
        Ok(out)
            if out.len() == op.results.len()
                && out.iter().zip(&op.results).all(|(t, &r)| t == f.ty(r)) =>
        {
            Rewrite::Replace(opcode, operands, attrs)
        }
        _ => Rewrite::Keep,
    }
}

/// One forward sweep; returns whether anything changed.
fn canonicalize_once(func: &mut Func, ctx: &PassContext, stats: &mut PassStats) -> bool {
    let mut map = ValueMap::new(func);
    let old_ops = std::mem::take(&mut func.ops);
    let n = func.value_types.len();
    let mut changed = false;
    let mut st = State {
        func,
        ops: Vec::with_capacity(old_ops.len()),
        def: vec![None; n],
        known: vec![None; n],
    };
    for mut op in old_ops {
        for v in &mut op.operands {
            *v = map.resolve(*v);
        }
        match simplify(&mut st, &op, ctx) {
            Rewrite::Keep => {}
            Rewrite::Forward(vals) => {
                for (&r, &v) in op.results.iter().zip(&vals) {
                    map.replace(r, v);
                }
                stats.add("identities removed", 1);
                changed = true;
                continue;
            }
            Rewrite::Replace(opcode, operands, attrs) => {
                op.opcode = opcode;
                op.operands = operands;
                op.attrs = attrs;
                stats.add("ops composed", 1);
                changed = true;
            }
            Rewrite::Fold(lits) => {
                for (&r, lit) in op.results.iter().zip(lits) {
                    st.def[r.index()] = Some(st.ops.len());
                    st.known[r.index()] = Some(lit.clone());
                    st.ops.push(Op {
                        opcode: Opcode::Constant,
                        operands: Vec::new(),
                        attrs: Attrs::new().with("value", Attr::Dense(lit)),
                        results: vec![r],
                        loc: op.loc,
                    });
                }
                stats.add("ops folded", 1);
                changed = true;
                continue;
            }
        }
        for &r in &op.results {
            st.def[r.index()] = Some(st.ops.len());
        }
        if op.opcode == Opcode::Constant {
            if let (Ok(l), [r]) = (op.attrs.dense("value"), op.results.as_slice()) {
                st.known[r.index()] = Some(l.clone());
            }
        }
        st.ops.push(op);
    }
    let ops = st.ops;
    func.ops = ops;
    map.apply(func);
    changed
}
