//! Automatic differentiation as IR-to-IR transforms.
//!
//! [`vjp`] (reverse mode) and [`jvp`] (forward mode) take a [`Func`] and
//! return a new [`Func`] in the same IR, so they compose with each other and
//! with [`crate::vmap`]: `grad(grad(f))`, `vmap(grad(f))`, `jvp(grad(f))`.
//! Nothing is evaluated. The per-op rules live in [`vjp_rules`] and
//! [`jvp_rules`], each one exhaustive `match` on the opcode.
//!
//! Output quality: cotangents and tangents are symbolic zeros (`None`) until
//! something non-zero reaches them, so no zero tensor is built unless a
//! result must be returned; only values that depend on a differentiated
//! input get derivative code (activity analysis); a dead-code pass runs at
//! the end. See `docs/TRANSFORMS.md`.

pub mod builder;
pub mod custom;
pub mod decomp;
pub mod derivs;
pub mod extra;
pub mod jvp_rules;
pub mod pass;
pub mod vjp_rules;

use builder::{dce, inline, B};
pub use custom::{checkpoint, custom_vjp};
use psionic_ir::{Attr, Attrs, Func, IrError, Op, Opcode, TensorType, Value};
use std::fmt;

/// Why a transform could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformError {
    pub message: String,
}

impl TransformError {
    pub fn new(message: impl Into<String>) -> Self {
        TransformError {
            message: message.into(),
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for TransformError {}

impl From<IrError> for TransformError {
    fn from(e: IrError) -> Self {
        TransformError::new(e.to_string())
    }
}
impl From<String> for TransformError {
    fn from(e: String) -> Self {
        TransformError::new(e)
    }
}

type R<T> = Result<T, TransformError>;

/// The operands of `op` through which a derivative can flow: shape donors of
/// `broadcast_like`, the operand of `number_of_elements` and anything under
/// `stop_gradient` carry none.
fn differentiable_operand(op: &Op, i: usize) -> bool {
    match op.opcode {
        Opcode::BroadcastLike => i == 0,
        Opcode::NumberOfElements | Opcode::StopGradient => false,
        _ => true,
    }
}

/// Checks `wrt` against `f`: in range, no repeats, float parameters
/// (reverse mode also takes integer and bool ones, as MLX: see [`vjp`]).
fn check_wrt(f: &Func, wrt: &[usize], what: &str) -> R<()> {
    check_wrt_with(f, wrt, what, false)
}

fn check_wrt_with(f: &Func, wrt: &[usize], what: &str, integers: bool) -> R<()> {
    for (k, &i) in wrt.iter().enumerate() {
        let Some(&p) = f.params.get(i) else {
            return Err(TransformError::new(format!(
                "{what}: input {i} does not exist (`{}` has {} inputs)",
                f.name,
                f.params.len()
            )));
        };
        if wrt[..k].contains(&i) {
            return Err(TransformError::new(format!(
                "{what}: input {i} is listed twice"
            )));
        }
        let t = f.ty(p);
        if !t.dtype.is_inexact() && !integers {
            return Err(TransformError::new(format!(
                "{what}: input {i} is {t}; only floating-point inputs can be differentiated"
            )));
        }
    }
    Ok(())
}

/// Copies `f` into a new function whose first parameters are `f`'s, followed
/// by `extra` parameters. Returns the function, the map from `f`'s values to
/// the new ones, and `f`'s ops with operands and results remapped.
fn copy_forward(f: &Func, name: String, extra: Vec<TensorType>) -> R<(Func, Vec<Value>, Vec<Op>)> {
    let mut types = f.param_types();
    types.extend(extra);
    let mut g = Func::new(name, types);
    g.attrs = crate::autodiff::custom::plain_attrs(f);
    let mut map = vec![Value(u32::MAX); f.value_types.len()];
    for (i, &p) in f.params.iter().enumerate() {
        map[p.index()] = g.params[i];
    }
    let mut ops = Vec::with_capacity(f.ops.len());
    for op in &f.ops {
        let operands: Vec<Value> = op.operands.iter().map(|v| map[v.index()]).collect();
        let res = g.push_at(op.opcode, &operands, op.attrs.clone(), op.loc)?;
        for (&r, &n) in op.results.iter().zip(&res) {
            map[r.index()] = n;
        }
        ops.push(Op {
            opcode: op.opcode,
            operands,
            attrs: op.attrs.clone(),
            results: res,
            loc: op.loc,
        });
    }
    Ok((g, map, ops))
}

/// Reverse mode. Returns a function
/// `(primals..., cotangent per output...) -> (outputs..., cotangent of each wrt input...)`.
///
/// Cotangents of outputs that are not floating point are accepted and ignored.
/// A function made by [`custom_vjp`] uses its backward function; one marked
/// by [`checkpoint`] recomputes its forward values for the backward pass.
///
/// An integer or bool input in `wrt` gets a cotangent of its own type, as
/// in MLX: what reaches it through casts to floating point (cast to its
/// type) and through integer arithmetic, zeros where nothing does
/// (comparisons, indices, piecewise-constant ops). Integers computed from
/// floating-point inputs (`argmax`, casts) carry no cotangent.
pub fn vjp(f: &Func, wrt: &[usize]) -> R<Func> {
    check_wrt_with(f, wrt, "vjp", true)?;
    if let Some(bwd) = custom::backward_of(f)? {
        return custom::vjp_custom(f, &bwd, wrt);
    }
    let cot_types = f.result_types();
    let (mut g, map, ops) = copy_forward(f, format!("{}_vjp", f.name), cot_types)?;
    let np = f.params.len();
    let results: Vec<Value> = f.results.iter().map(|v| map[v.index()]).collect();
    // With a checkpoint, the backward rules read a second copy of the
    // forward ops, fed from copies of the inputs, so the forward values can
    // die as soon as the outputs are computed.
    let (bops, bresults, roots) = if custom::is_checkpointed(f) {
        let mut args = Vec::with_capacity(np);
        for i in 0..np {
            let p = g.params[i];
            args.push(g.push1(Opcode::Copy, &[p], Attrs::new())?);
        }
        let (ops2, map2) = custom::replay(&mut g, f, &args)?;
        let r2: Vec<Value> = f.results.iter().map(|v| map2[v.index()]).collect();
        // The copies stand for the parameters in the backward pass; their
        // cotangents are the parameters' (copy is the identity).
        (ops2, r2, args)
    } else {
        (ops, results.clone(), g.params[..np].to_vec())
    };
    let grads = backward(&mut g, &bops, &bresults, &roots, wrt, np)?;
    let mut outs = results;
    outs.extend(grads);
    g.results = outs;
    Ok(dce(&g))
}

/// The reverse sweep over `ops` (already in `g`): seeds the cotangent of
/// each of `results` with the cotangent parameter `np + j`, runs the vjp
/// rules backwards and returns the cotangent of `roots[i]` for each `i` in
/// `wrt` (zeros where none reaches it).
fn backward(
    g: &mut Func,
    ops: &[Op],
    results: &[Value],
    roots: &[Value],
    wrt: &[usize],
    np: usize,
) -> R<Vec<Value>> {
    // Activity: values that depend on a differentiated input. A float value
    // is active when any operand is; an integer or bool one only when an
    // integer or bool operand is (so integers come to life only below an
    // integer input in `wrt`, never from `argmax` or a cast of a float).
    let mut active = vec![false; g.value_types.len()];
    for &i in wrt {
        active[roots[i].index()] = true;
    }
    for op in ops {
        let live = |exact_only: bool| {
            op.operands.iter().enumerate().any(|(i, v)| {
                active[v.index()]
                    && differentiable_operand(op, i)
                    && !(exact_only && g.ty(*v).dtype.is_inexact())
            })
        };
        let (any, any_exact) = (live(false), live(true));
        for &r in &op.results {
            if (g.ty(r).dtype.is_inexact() && any) || any_exact {
                active[r.index()] = true;
            }
        }
    }
    let mut ct: Vec<Option<Value>> = vec![None; g.value_types.len()];
    let mut b = B::new(g);
    for (j, &r) in results.iter().enumerate() {
        if !active[r.index()] {
            continue;
        }
        let c = b.f.params[np + j];
        ct[r.index()] = b.add_opt(ct[r.index()], Some(c))?;
    }
    let regions = custom::find_regions(ops);
    let mut skip = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate().rev() {
        if skip[i] {
            continue;
        }
        step(&mut b, op, &mut ct, &active)?;
        // The end of a checkpointed region: replay the region's ops here,
        // from copies of its inputs, and run their rules on the replayed
        // values; the forward values of the region are not read again.
        if let Some(reg) = regions.iter().find(|r| r.end == i) {
            let begin = &ops[reg.begin];
            let mut map: Vec<Option<Value>> = vec![None; b.f.value_types.len()];
            for &r in &begin.results {
                let c = b.f.push1(Opcode::Copy, &[r], Attrs::new())?;
                map[r.index()] = Some(c);
            }
            let mut replayed = Vec::with_capacity(reg.ops.len());
            for &k in &reg.ops {
                let o = &ops[k];
                let operands: Vec<Value> = o
                    .operands
                    .iter()
                    .map(|v| map.get(v.index()).copied().flatten().unwrap_or(*v))
                    .collect();
                let res = b.f.push_at(o.opcode, &operands, o.attrs.clone(), o.loc)?;
                if map.len() < b.f.value_types.len() {
                    map.resize(b.f.value_types.len(), None);
                }
                for (&r, &nr) in o.results.iter().zip(&res) {
                    map[r.index()] = Some(nr);
                }
                replayed.push(Op {
                    opcode: o.opcode,
                    operands,
                    attrs: o.attrs.clone(),
                    results: res,
                    loc: o.loc,
                });
                skip[k] = true;
            }
            ct.resize(b.f.value_types.len(), None);
            active.resize(b.f.value_types.len(), false);
            // Activity and cotangents move to the replayed values.
            for (o, ro) in reg.ops.iter().map(|&k| &ops[k]).zip(&replayed) {
                for (&r, &nr) in o.results.iter().zip(&ro.results) {
                    active[nr.index()] = active[r.index()];
                    ct[nr.index()] = ct[r.index()].take();
                }
            }
            for &r in &begin.results {
                let c = map[r.index()].expect("copied region input");
                active[c.index()] = active[r.index()];
            }
            for ro in replayed.iter().rev() {
                step(&mut b, ro, &mut ct, &active)?;
            }
            for &r in &begin.results {
                let c = map[r.index()].expect("copied region input");
                if let Some(cc) = ct[c.index()].take() {
                    ct[r.index()] = b.add_opt(ct[r.index()], Some(cc))?;
                }
            }
        }
    }
    let mut outs = Vec::with_capacity(wrt.len());
    for &i in wrt {
        let p = roots[i];
        outs.push(match ct[p.index()] {
            Some(c) => c,
            None => b.zeros_like(p)?,
        });
    }
    Ok(outs)
}

/// One op of the reverse sweep: its vjp rule applied to the cotangents of
/// its results, accumulated into its operands' cotangents.
fn step(b: &mut B, op: &Op, ct: &mut [Option<Value>], active: &[bool]) -> R<()> {
    let cts: Vec<Option<Value>> = op.results.iter().map(|r| ct[r.index()]).collect();
    if cts.iter().all(Option::is_none) {
        return Ok(());
    }
    let needs: Vec<bool> = op
        .operands
        .iter()
        .enumerate()
        .map(|(i, v)| active[v.index()] && differentiable_operand(op, i))
        .collect();
    if !needs.iter().any(|&n| n) {
        return Ok(());
    }
    let grads = vjp_rules::vjp_rule(b, op, &cts, &needs).map_err(|e| at_op(e, op))?;
    for (i, gr) in grads.into_iter().enumerate() {
        if !needs[i] {
            continue;
        }
        if let Some(gr) = gr {
            let v = op.operands[i];
            let gr = fit_type(b, gr, v)?;
            ct[v.index()] = b.add_opt(ct[v.index()], Some(gr))?;
        }
    }
    Ok(())
}

/// A cotangent whose dtype differs from its primal (never for correct
/// rules) is cast; a shape that is more static than the primal's is fine.
fn fit_type(b: &mut B, v: Value, like: Value) -> R<Value> {
    let (vt, lt) = (b.ty(v), b.ty(like));
    if vt.dtype != lt.dtype {
        return Err(TransformError::new(format!(
            "internal: derivative of type {vt} for a value of type {lt}"
        )));
    }
    if vt.rank() != lt.rank() {
        return Err(TransformError::new(format!(
            "internal: derivative of shape {vt} for a value of type {lt}"
        )));
    }
    Ok(v)
}

fn at_op(e: TransformError, op: &Op) -> TransformError {
    if op.loc.is_known() {
        TransformError::new(format!("{}: {}", op.loc, e.message))
    } else {
        e
    }
}

/// Forward mode. Returns a function
/// `(primals..., tangent of each wrt input...) -> (outputs..., tangent of each output...)`.
///
/// Outputs that are not floating point get a zero tangent of their own type.
pub fn jvp(f: &Func, wrt: &[usize]) -> R<Func> {
    check_wrt(f, wrt, "jvp")?;
    let tan_types: Vec<TensorType> = wrt.iter().map(|&i| f.ty(f.params[i]).clone()).collect();
    let mut types = f.param_types();
    types.extend(tan_types);
    let mut g = Func::new(format!("{}_jvp", f.name), types);
    g.attrs = crate::autodiff::custom::plain_attrs(f);
    let np = f.params.len();
    let mut map = vec![Value(u32::MAX); f.value_types.len()];
    let mut tan: Vec<Option<Value>> = vec![None; f.value_types.len()];
    for (i, &p) in f.params.iter().enumerate() {
        map[p.index()] = g.params[i];
    }
    for (k, &i) in wrt.iter().enumerate() {
        tan[f.params[i].index()] = Some(g.params[np + k]);
    }
    let mut b = B::new(&mut g);
    for op in &f.ops {
        let operands: Vec<Value> = op.operands.iter().map(|v| map[v.index()]).collect();
        let res =
            b.f.push_at(op.opcode, &operands, op.attrs.clone(), op.loc)?;
        for (&r, &n) in op.results.iter().zip(&res) {
            map[r.index()] = n;
        }
        let ts: Vec<Option<Value>> = op
            .operands
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if differentiable_operand(op, i) {
                    tan[v.index()]
                } else {
                    None
                }
            })
            .collect();
        if ts.iter().all(Option::is_none) {
            continue;
        }
        let mapped = Op {
            opcode: op.opcode,
            operands,
            attrs: op.attrs.clone(),
            results: res,
            loc: op.loc,
        };
        let outs = jvp_rules::jvp_rule(&mut b, &mapped, &ts).map_err(|e| at_op(e, op))?;
        for (k, t) in outs.into_iter().enumerate() {
            let r = op.results[k];
            if let Some(t) = t {
                if b.f.ty(mapped.results[k]).dtype.is_inexact() {
                    tan[r.index()] = Some(fit_type(&mut b, t, mapped.results[k])?);
                }
            }
        }
    }
    let mut outs: Vec<Value> = f.results.iter().map(|v| map[v.index()]).collect();
    for &r in &f.results {
        let t = match tan[r.index()] {
            Some(t) => t,
            None => b.zeros_like(map[r.index()])?,
        };
        outs.push(t);
    }
    g.results = outs;
    Ok(dce(&g))
}

/// Checks that `f` has one floating-point output with exactly one element.
fn check_scalar_output(f: &Func, what: &str) -> R<()> {
    if f.results.len() != 1 {
        return Err(TransformError::new(format!(
            "{what} needs a function with one output; `{}` has {}",
            f.name,
            f.results.len()
        )));
    }
    let t = f.ty(f.results[0]);
    if !t.dtype.is_inexact() || t.num_elements() != Some(1) {
        return Err(TransformError::new(format!(
            "{what} needs a scalar floating-point output (one element); `{}` returns {t}",
            f.name
        )));
    }
    Ok(())
}

/// `(primals...) -> (output, grads...)` from a scalar-output function.
fn value_and_grad_impl(f: &Func, argnums: &[usize], what: &str, keep_value: bool) -> R<Func> {
    check_scalar_output(f, what)?;
    let v = vjp(f, argnums)?;
    let mut g = Func::new(
        format!(
            "{}_{}",
            f.name,
            if keep_value { "value_and_grad" } else { "grad" }
        ),
        f.param_types(),
    );
    g.attrs = crate::autodiff::custom::plain_attrs(f);
    let out_t = f.ty(f.results[0]).clone();
    let mut args = g.params.clone();
    {
        let mut b = B::new(&mut g);
        let one = b.fill(1.0, &out_t, None)?;
        args.push(one);
    }
    let outs = inline(&mut g, &v, &args)?;
    g.results = if keep_value { outs } else { outs[1..].to_vec() };
    Ok(dce(&g))
}

/// The gradient of a scalar-output function: `(primals...) -> (grad of each argnum...)`.
pub fn grad(f: &Func, argnums: &[usize]) -> R<Func> {
    value_and_grad_impl(f, argnums, "grad", false)
}

/// `(primals...) -> (value, grad of each argnum...)` for a scalar-output function.
pub fn value_and_grad(f: &Func, argnums: &[usize]) -> R<Func> {
    value_and_grad_impl(f, argnums, "value_and_grad", true)
}

fn static_shape(t: &TensorType, what: &str) -> R<Vec<usize>> {
    t.static_shape()
        .ok_or_else(|| TransformError::new(format!("{what} needs static shapes, found {t}")))
}

/// An identity matrix `[n, n]` reshaped to `[n, shape...]`, as a constant.
fn basis(b: &mut B, n: usize, shape: &[usize], dtype: psionic_ir::DType) -> R<Value> {
    let iota_attrs = |axis: i64| {
        Attrs::new()
            .with("shape", Attr::Ints(vec![n as i64, n as i64]))
            .with("dtype", Attr::DType(psionic_ir::DType::I32))
            .with("axis", Attr::Int(axis))
    };
    let r = b.op(Opcode::Iota, &[], iota_attrs(0))?;
    let c = b.op(Opcode::Iota, &[], iota_attrs(1))?;
    let eq = b.bin(Opcode::Equal, r, c)?;
    let eye = b.cast(eq, dtype)?;
    let mut full = vec![n as i64];
    full.extend(shape.iter().map(|&d| d as i64));
    let t = TensorType::new(dtype, full);
    b.reshape_to(eye, &t)
}

/// The Jacobian by reverse mode: for a one-output function, one output per
/// argnum of shape `out.shape ++ in.shape` (static shapes only). Built as
/// `vmap` of the vjp over the rows of an identity matrix.
pub fn jacrev(f: &Func, argnums: &[usize]) -> R<Func> {
    if f.results.len() != 1 {
        return Err(TransformError::new(format!(
            "jacrev needs a function with one output; `{}` has {}",
            f.name,
            f.results.len()
        )));
    }
    check_wrt(f, argnums, "jacrev")?;
    let out_t = f.ty(f.results[0]).clone();
    let out_shape = static_shape(&out_t, "jacrev")?;
    let m: usize = out_shape.iter().product();
    let v = vjp(f, argnums)?;
    let np = f.params.len();
    let mut in_axes: Vec<Option<i64>> = vec![None; np];
    in_axes.push(Some(0));
    let out_axes = vec![0i64; 1 + argnums.len()];
    let vv = crate::vmap::vmap_with_size(&v, &in_axes, &out_axes, Some(m as i64))?;
    let mut g = Func::new(format!("{}_jacrev", f.name), f.param_types());
    let mut args = g.params.clone();
    {
        let mut b = B::new(&mut g);
        let e = basis(&mut b, m, &out_shape, out_t.dtype)?;
        args.push(e);
    }
    let outs = inline(&mut g, &vv, &args)?;
    let mut res = Vec::new();
    {
        let mut b = B::new(&mut g);
        for (k, &i) in argnums.iter().enumerate() {
            let it = f.ty(f.params[i]).clone();
            let in_shape = static_shape(&it, "jacrev")?;
            let mut s: Vec<i64> = out_shape.iter().map(|&d| d as i64).collect();
            s.extend(in_shape.iter().map(|&d| d as i64));
            res.push(b.reshape_to(outs[1 + k], &it.with_shape(s))?);
        }
    }
    g.results = res;
    Ok(dce(&g))
}

/// The Jacobian by forward mode: same results as [`jacrev`], built as `vmap`
/// of the jvp over the rows of an identity matrix per argnum.
pub fn jacfwd(f: &Func, argnums: &[usize]) -> R<Func> {
    if f.results.len() != 1 {
        return Err(TransformError::new(format!(
            "jacfwd needs a function with one output; `{}` has {}",
            f.name,
            f.results.len()
        )));
    }
    check_wrt(f, argnums, "jacfwd")?;
    let out_t = f.ty(f.results[0]).clone();
    let out_shape = static_shape(&out_t, "jacfwd")?;
    let mut g = Func::new(format!("{}_jacfwd", f.name), f.param_types());
    let mut res = Vec::new();
    for &i in argnums {
        let it = f.ty(f.params[i]).clone();
        let in_shape = static_shape(&it, "jacfwd")?;
        let n: usize = in_shape.iter().product();
        let j = jvp(f, &[i])?;
        let mut in_axes: Vec<Option<i64>> = vec![None; f.params.len()];
        in_axes.push(Some(0));
        // The tangent output batched last: out.shape ++ [n].
        let out_rank = out_shape.len();
        let vj = crate::vmap::vmap_with_size(&j, &in_axes, &[0, out_rank as i64], Some(n as i64))?;
        let mut args = g.params.clone();
        {
            let mut b = B::new(&mut g);
            let e = basis(&mut b, n, &in_shape, it.dtype)?;
            args.push(e);
        }
        let outs = inline(&mut g, &vj, &args)?;
        let mut b = B::new(&mut g);
        let mut s: Vec<i64> = out_shape.iter().map(|&d| d as i64).collect();
        s.extend(in_shape.iter().map(|&d| d as i64));
        res.push(b.reshape_to(outs[1], &it.with_shape(s))?);
    }
    g.results = res;
    Ok(dce(&g))
}

/// The Hessian of a scalar-output function with respect to one input:
/// `jacfwd(grad(f))`, of shape `in.shape ++ in.shape`.
pub fn hessian(f: &Func, argnum: usize) -> R<Func> {
    let gf = grad(f, &[argnum])?;
    let mut h = jacfwd(&gf, &[argnum])?;
    h.name = format!("{}_hessian", f.name);
    Ok(h)
}
