//! Transforms at the API level: `grad`, `value_and_grad`, `vjp`, `jvp`,
//! `vmap`, `custom_vjp` and `checkpoint` over Rust closures of [`Array`]s
//! and nests of them ([`Tree`]: vectors, tuples, maps), and the
//! `psionic run --transform` driver ([`run_transform`]).
//!
//! A closure is traced into an IR function ([`crate::trace`]), the function
//! is transformed by `psionic_passes` (an IR-to-IR pass: nothing runs while
//! transforming), and the transformed function is replayed on the arrays
//! with [`crate::apply()`]: the results are lazy arrays like any others, so
//! transforms nest (`grad` of a closure that calls `grad`) and compose with
//! tracing.
//!
//! ```ignore
//! use psionic_mlx::transforms::grad;
//! let f = |x: &Array| (x * x).sum(Axes::All, false);
//! let df = grad(f);
//! let g = df(&array(&[1.0f32, 2.0], &[2])); // [2, 4]
//! ```

use crate::array::Array;
use crate::error::Error;
use crate::lower::trace_capturing;
use crate::{apply, mlxfn};
use psionic_ir::{Func, Literal, Module, TensorType};
use psionic_passes::autodiff::{
    checkpoint as ir_checkpoint, custom_vjp as ir_custom_vjp, jvp as ir_jvp,
    value_and_grad as ir_value_and_grad, vjp as ir_vjp,
};
use psionic_passes::vmap::vmap_with_size;
use psionic_runtime::interp::run_func;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------
// Transforms over closures of arrays.
// ---------------------------------------------------------------------------

/// A nest of arrays that transforms flatten to a list and rebuild: an
/// [`Array`], a `Vec`, a tuple of two or three nests, or a map from names
/// (MLX's trees of arrays).
pub trait Tree: Clone {
    /// Appends the leaves in order.
    fn flatten_into(&self, out: &mut Vec<Array>);
    /// A copy of `self`'s structure with leaves taken in order from `leaves`.
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error>;

    fn leaves(&self) -> Vec<Array> {
        let mut v = Vec::new();
        self.flatten_into(&mut v);
        v
    }

    /// Appends a description of the nest's structure (not of its leaves'
    /// types): two trees with equal descriptions rebuild alike. Used as
    /// part of `compile`'s cache key. The default, for trees defined
    /// elsewhere, is the number of leaves.
    fn structure_into(&self, out: &mut String) {
        out.push_str(&format!("<{}>", self.leaves().len()));
    }
}

impl Tree for Array {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        out.push(self.clone());
    }
    fn structure_into(&self, out: &mut String) {
        out.push('a');
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        leaves
            .next()
            .ok_or_else(|| Error::new("transforms", "too few arrays to rebuild a tree"))
    }
}

impl<T: Tree> Tree for Vec<T> {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        for x in self {
            x.flatten_into(out);
        }
    }
    fn structure_into(&self, out: &mut String) {
        out.push('[');
        for x in self {
            x.structure_into(out);
            out.push(',');
        }
        out.push(']');
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        self.iter().map(|x| x.rebuild(leaves)).collect()
    }
}

impl<A: Tree, B: Tree> Tree for (A, B) {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        self.0.flatten_into(out);
        self.1.flatten_into(out);
    }
    fn structure_into(&self, out: &mut String) {
        out.push('(');
        self.0.structure_into(out);
        out.push(',');
        self.1.structure_into(out);
        out.push(')');
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        Ok((self.0.rebuild(leaves)?, self.1.rebuild(leaves)?))
    }
}

impl<A: Tree, B: Tree, C: Tree> Tree for (A, B, C) {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        self.0.flatten_into(out);
        self.1.flatten_into(out);
        self.2.flatten_into(out);
    }
    fn structure_into(&self, out: &mut String) {
        out.push('(');
        self.0.structure_into(out);
        out.push(',');
        self.1.structure_into(out);
        out.push(',');
        self.2.structure_into(out);
        out.push(')');
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        Ok((
            self.0.rebuild(leaves)?,
            self.1.rebuild(leaves)?,
            self.2.rebuild(leaves)?,
        ))
    }
}

impl<T: Tree> Tree for BTreeMap<String, T> {
    fn flatten_into(&self, out: &mut Vec<Array>) {
        for x in self.values() {
            x.flatten_into(out);
        }
    }
    fn structure_into(&self, out: &mut String) {
        out.push('{');
        for (k, x) in self {
            out.push_str(&format!("{k:?}:"));
            x.structure_into(out);
            out.push(',');
        }
        out.push('}');
    }
    fn rebuild(&self, leaves: &mut std::vec::IntoIter<Array>) -> Result<Self, Error> {
        self.iter()
            .map(|(k, x)| Ok((k.clone(), x.rebuild(leaves)?)))
            .collect()
    }
}

fn rebuild_all<T: Tree>(template: &T, leaves: Vec<Array>) -> Result<T, Error> {
    let n = leaves.len();
    let mut it = leaves.into_iter();
    let t = template.rebuild(&mut it)?;
    if it.next().is_some() {
        return Err(Error::new(
            "transforms",
            format!("{n} arrays for a tree with fewer leaves"),
        ));
    }
    Ok(t)
}

fn terr(op: &str) -> impl Fn(psionic_passes::autodiff::TransformError) -> Error + '_ {
    move |e| Error::new(op, e.message)
}

/// A traced closure: the function, the output structure (with placeholder
/// leaves) and the arrays of enclosing traces it captured. The function's
/// parameters are the argument's leaves, then one per captured array; a
/// transform differentiates or batches the leaves only and passes the
/// captured arrays through, so the transformed function, applied in the
/// enclosing trace, carries the outer derivatives through them.
pub type Traced<O> = (Func, O, Vec<Array>);

/// Something a transform can trace into an IR function: a closure
/// `Fn(&P) -> O`, or a [`CustomVjp`] / [`Checkpoint`] wrapper.
pub trait Traceable<P: Tree, O: Tree> {
    /// The function of the flattened leaves (and captured arrays), at the
    /// types of `example`.
    fn trace_at(&self, example: &P) -> Result<Traced<O>, Error>;
}

impl<P: Tree, O: Tree, F: Fn(&P) -> O> Traceable<P, O> for F {
    fn trace_at(&self, example: &P) -> Result<Traced<O>, Error> {
        trace_closure(self, example)
    }
}

fn trace_closure<P: Tree, O: Tree>(f: &dyn Fn(&P) -> O, example: &P) -> Result<Traced<O>, Error> {
    let types: Vec<TensorType> = example.leaves().iter().map(|a| a.ty().clone()).collect();
    let mut out: Option<O> = None;
    let mut err: Option<Error> = None;
    let (func, captured) = trace_capturing(
        |xs| match rebuild_all(example, xs.to_vec()) {
            Ok(p) => {
                let o = f(&p);
                let leaves = o.leaves();
                out = Some(o);
                leaves
            }
            Err(e) => {
                err = Some(e);
                Vec::new()
            }
        },
        &types,
    )?;
    if let Some(e) = err {
        return Err(e);
    }
    let out = out.ok_or_else(|| Error::new("trace", "the closure was not called"))?;
    Ok((func, out, captured))
}

/// Runs a transformed function on arrays (lazily, through [`crate::apply()`],
/// so transforms nest inside other traces).
fn call(func: &Func, args: &[Array]) -> Result<Vec<Array>, Error> {
    apply(func, args)
}

/// `(outputs, vjp)`: the outputs of `f` at `primals` and the cotangent of
/// every primal leaf for the given output `cotangents` (MLX's `mx.vjp`).
pub fn vjp<P: Tree, O: Tree>(
    f: &impl Traceable<P, O>,
    primals: &P,
    cotangents: &O,
) -> Result<(O, P), Error> {
    let (func, out_t, captured) = f.trace_at(primals)?;
    let x = primals.leaves();
    let wrt: Vec<usize> = (0..x.len()).collect();
    let g = ir_vjp(&func, &wrt).map_err(terr("vjp"))?;
    let mut args = x;
    args.extend(captured);
    let cots = cotangents.leaves();
    if cots.len() != func.results.len() {
        return Err(Error::new(
            "vjp",
            format!(
                "{} cotangents for {} outputs",
                cots.len(),
                func.results.len()
            ),
        ));
    }
    args.extend(cots);
    let mut r = call(&g, &args)?;
    let grads = r.split_off(func.results.len());
    Ok((rebuild_all(&out_t, r)?, rebuild_all(primals, grads)?))
}

/// `(outputs, jvp)`: the outputs of `f` at `primals` and their tangents for
/// the given input `tangents` (MLX's `mx.jvp`).
pub fn jvp<P: Tree, O: Tree>(
    f: &impl Traceable<P, O>,
    primals: &P,
    tangents: &P,
) -> Result<(O, O), Error> {
    let (func, out_t, captured) = f.trace_at(primals)?;
    let x = primals.leaves();
    let wrt: Vec<usize> = (0..x.len()).collect();
    let g = ir_jvp(&func, &wrt).map_err(terr("jvp"))?;
    let mut args = x;
    args.extend(captured);
    args.extend(tangents.leaves());
    let mut r = call(&g, &args)?;
    let tans = r.split_off(func.results.len());
    Ok((rebuild_all(&out_t, r)?, rebuild_all(&out_t, tans)?))
}

/// `(value, gradient)` of a scalar-valued `f` with respect to every leaf of
/// its argument (MLX's `mx.value_and_grad` with `argnums=0` over a tree),
/// or the error (a non-scalar output, an op without a rule).
pub fn try_value_and_grad<P: Tree, T: Traceable<P, Array>>(
    f: T,
) -> impl Fn(&P) -> Result<(Array, P), Error> {
    move |p: &P| {
        let (func, _, captured) = f.trace_at(p)?;
        let mut x = p.leaves();
        let wrt: Vec<usize> = (0..x.len()).collect();
        let g = ir_value_and_grad(&func, &wrt).map_err(terr("value_and_grad"))?;
        x.extend(captured);
        let mut r = call(&g, &x)?;
        let grads = r.split_off(1);
        let v = r
            .pop()
            .ok_or_else(|| Error::new("value_and_grad", "no value"))?;
        Ok((v, rebuild_all(p, grads)?))
    }
}

/// [`try_value_and_grad`] in the crate's infallible style: an error is
/// recorded in every returned array (and returned by `eval`, `to_vec`...).
/// Its result is a tree, so it nests inside other transforms.
pub fn value_and_grad<P: Tree, T: Traceable<P, Array>>(f: T) -> impl Fn(&P) -> (Array, P) {
    let vg = try_value_and_grad(f);
    move |p: &P| match vg(p) {
        Ok(r) => r,
        Err(e) => (Array::from_error(e.clone()), error_tree(p, e)),
    }
}

/// The gradient of a scalar-valued `f` (MLX's `mx.grad`), one per leaf of
/// the argument in the argument's structure, or the error.
pub fn try_grad<P: Tree, T: Traceable<P, Array>>(f: T) -> impl Fn(&P) -> Result<P, Error> {
    let vg = try_value_and_grad(f);
    move |p: &P| vg(p).map(|(_, g)| g)
}

/// [`try_grad`] in the crate's infallible style (errors recorded in the
/// arrays): `grad(f)` is itself a `Fn(&P) -> P`, so `grad(grad(f))`-style
/// nesting and `vmap(grad(f))` work.
pub fn grad<P: Tree, T: Traceable<P, Array>>(f: T) -> impl Fn(&P) -> P {
    let g = try_grad(f);
    move |p: &P| g(p).unwrap_or_else(|e| error_tree(p, e))
}

// ---------------------------------------------------------------------------
// argnums: gradients with respect to some positional arguments.
// ---------------------------------------------------------------------------

/// Positional argument `I` of a closure's argument tuple, for
/// [`grad_argnums`] and [`value_and_grad_argnums`] (MLX's `argnums`):
/// `Argnum::<1>` selects the second element of a `(A, B)` or `(A, B, C)`
/// argument, and the gradient is that argument's tree; a tuple of them,
/// `(Argnum::<0>, Argnum::<2>)`, selects several, and the gradient is the
/// tuple of their trees in that order (MLX: a single value for one index, a
/// tuple for several). An index past the last argument does not compile
/// ("argnum 3 is out of range: `(Array, Array, Array)` has no positional
/// argument 3"):
///
/// ```compile_fail
/// use psionic_mlx::transforms::{grad_argnums, Argnum};
/// use psionic_mlx::{array, Array, Axes};
/// let f = |p: &(Array, Array, Array)| p.0.sum(Axes::All, false);
/// let a = array(&[1.0f32], &[1]);
/// let _ = grad_argnums(f, Argnum::<3>)(&(a.clone(), a.clone(), a));
/// ```
///
/// ```
/// use psionic_mlx::transforms::{grad_argnums, Argnum};
/// use psionic_mlx::{array, Array, Axes};
/// let f = |p: &(Array, Array, Array)| p.0.multiply(&p.2).sum(Axes::All, false);
/// let a = array(&[2.0f32], &[1]);
/// let b = array(&[5.0f32], &[1]);
/// let g: Array = grad_argnums(f, Argnum::<2>)(&(a.clone(), a, b));
/// assert_eq!(g.to_vec::<f32>().unwrap(), vec![2.0]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Argnum<const I: usize>;

/// A tree whose positional argument `I` is `Arg` (tuples of two or three
/// trees).
#[diagnostic::on_unimplemented(
    message = "argnum {I} is out of range: `{Self}` has no positional argument {I}",
    label = "argnums index a tuple argument `(A, B)` or `(A, B, C)` from 0"
)]
pub trait Positional<const I: usize>: Tree {
    type Arg: Tree;
    fn arg(&self) -> &Self::Arg;
    /// The index of the argument's first leaf among the tuple's leaves.
    fn first_leaf(&self) -> usize;
}

impl<A: Tree, B: Tree> Positional<0> for (A, B) {
    type Arg = A;
    fn arg(&self) -> &A {
        &self.0
    }
    fn first_leaf(&self) -> usize {
        0
    }
}

impl<A: Tree, B: Tree> Positional<1> for (A, B) {
    type Arg = B;
    fn arg(&self) -> &B {
        &self.1
    }
    fn first_leaf(&self) -> usize {
        self.0.leaves().len()
    }
}

impl<A: Tree, B: Tree, C: Tree> Positional<0> for (A, B, C) {
    type Arg = A;
    fn arg(&self) -> &A {
        &self.0
    }
    fn first_leaf(&self) -> usize {
        0
    }
}

impl<A: Tree, B: Tree, C: Tree> Positional<1> for (A, B, C) {
    type Arg = B;
    fn arg(&self) -> &B {
        &self.1
    }
    fn first_leaf(&self) -> usize {
        self.0.leaves().len()
    }
}

impl<A: Tree, B: Tree, C: Tree> Positional<2> for (A, B, C) {
    type Arg = C;
    fn arg(&self) -> &C {
        &self.2
    }
    fn first_leaf(&self) -> usize {
        self.0.leaves().len() + self.1.leaves().len()
    }
}

/// The leaf indices of argument `I` of `p`, and the argument.
fn pick<P: Positional<I>, const I: usize>(p: &P) -> (Vec<usize>, P::Arg) {
    let a = p.arg().clone();
    let s = p.first_leaf();
    let n = a.leaves().len();
    ((s..s + n).collect(), a)
}

/// Which positional arguments a gradient is taken with respect to: an
/// [`Argnum`] or a tuple of two or three of them.
pub trait Argnums<P: Tree>: Copy {
    /// The gradient's structure: the argument's tree, or a tuple of them.
    type Grad: Tree;
    /// The argument indices, in order.
    fn indices(self) -> Vec<usize>;
    /// The leaves of `p` that are differentiated (in the gradient's order)
    /// and the gradient's template.
    fn select(self, p: &P) -> (Vec<usize>, Self::Grad);
}

impl<P: Positional<I>, const I: usize> Argnums<P> for Argnum<I> {
    type Grad = P::Arg;
    fn indices(self) -> Vec<usize> {
        vec![I]
    }
    fn select(self, p: &P) -> (Vec<usize>, P::Arg) {
        pick::<P, I>(p)
    }
}

impl<P: Positional<I> + Positional<J>, const I: usize, const J: usize> Argnums<P>
    for (Argnum<I>, Argnum<J>)
{
    type Grad = (<P as Positional<I>>::Arg, <P as Positional<J>>::Arg);
    fn indices(self) -> Vec<usize> {
        vec![I, J]
    }
    fn select(self, p: &P) -> (Vec<usize>, Self::Grad) {
        let (mut w, a) = pick::<P, I>(p);
        let (w2, b) = pick::<P, J>(p);
        w.extend(w2);
        (w, (a, b))
    }
}

impl<P, const I: usize, const J: usize, const K: usize> Argnums<P>
    for (Argnum<I>, Argnum<J>, Argnum<K>)
where
    P: Positional<I> + Positional<J> + Positional<K>,
{
    type Grad = (
        <P as Positional<I>>::Arg,
        <P as Positional<J>>::Arg,
        <P as Positional<K>>::Arg,
    );
    fn indices(self) -> Vec<usize> {
        vec![I, J, K]
    }
    fn select(self, p: &P) -> (Vec<usize>, Self::Grad) {
        let (mut w, a) = pick::<P, I>(p);
        let (w2, b) = pick::<P, J>(p);
        let (w3, c) = pick::<P, K>(p);
        w.extend(w2);
        w.extend(w3);
        (w, (a, b, c))
    }
}

/// `(value, gradient)` of a scalar-valued `f` with respect to the
/// positional arguments `argnums` of its tuple argument (MLX's
/// `mx.value_and_grad(f, argnums=...)`); the other arguments are held
/// fixed (labels, masks, data). The error names a non-scalar output or an
/// argument listed twice.
pub fn try_value_and_grad_argnums<P: Tree, S: Argnums<P>, T: Traceable<P, Array>>(
    f: T,
    argnums: S,
) -> impl Fn(&P) -> Result<(Array, S::Grad), Error> {
    move |p: &P| {
        let idx = argnums.indices();
        for (k, i) in idx.iter().enumerate() {
            if idx[..k].contains(i) {
                return Err(Error::new(
                    "value_and_grad",
                    format!("argument index {i} is listed twice in argnums {idx:?}"),
                ));
            }
        }
        let (func, _, captured) = f.trace_at(p)?;
        let (wrt, template) = argnums.select(p);
        let g = ir_value_and_grad(&func, &wrt).map_err(terr("value_and_grad"))?;
        let mut x = p.leaves();
        x.extend(captured);
        let mut r = call(&g, &x)?;
        let grads = r.split_off(1);
        let v = r
            .pop()
            .ok_or_else(|| Error::new("value_and_grad", "no value"))?;
        Ok((v, rebuild_all(&template, grads)?))
    }
}

/// [`try_value_and_grad_argnums`] in the crate's infallible style (an
/// error is recorded in every returned array).
pub fn value_and_grad_argnums<P: Tree, S: Argnums<P>, T: Traceable<P, Array>>(
    f: T,
    argnums: S,
) -> impl Fn(&P) -> (Array, S::Grad) {
    let vg = try_value_and_grad_argnums(f, argnums);
    move |p: &P| match vg(p) {
        Ok(r) => r,
        Err(e) => {
            let (_, template) = argnums.select(p);
            (Array::from_error(e.clone()), error_tree(&template, e))
        }
    }
}

/// The gradient of a scalar-valued `f` with respect to the positional
/// arguments `argnums` (MLX's `mx.grad(f, argnums=...)`), or the error.
pub fn try_grad_argnums<P: Tree, S: Argnums<P>, T: Traceable<P, Array>>(
    f: T,
    argnums: S,
) -> impl Fn(&P) -> Result<S::Grad, Error> {
    let vg = try_value_and_grad_argnums(f, argnums);
    move |p: &P| vg(p).map(|(_, g)| g)
}

/// [`try_grad_argnums`] in the crate's infallible style.
pub fn grad_argnums<P: Tree, S: Argnums<P>, T: Traceable<P, Array>>(
    f: T,
    argnums: S,
) -> impl Fn(&P) -> S::Grad {
    let g = try_grad_argnums(f, argnums);
    move |p: &P| {
        g(p).unwrap_or_else(|e| {
            let (_, template) = argnums.select(p);
            error_tree(&template, e)
        })
    }
}

/// `template`'s structure with every leaf carrying `e`.
fn error_tree<P: Tree>(template: &P, e: Error) -> P {
    let n = template.leaves().len();
    let leaves = vec![Array::from_error(e.clone()); n];
    rebuild_all(template, leaves).unwrap_or_else(|_| template.clone())
}

/// The vectorizing map (MLX's `mx.vmap`): `in_axes` has one entry per leaf
/// of the argument (`None`: not batched; axes may be negative), `out_axes`
/// one per leaf of the result.
pub fn vmap<P: Tree, O: Tree, T: Traceable<P, O>>(
    f: T,
    in_axes: Vec<Option<i64>>,
    out_axes: Vec<i64>,
) -> impl Fn(&P) -> Result<O, Error> {
    move |p: &P| {
        let leaves = p.leaves();
        if leaves.len() != in_axes.len() {
            return Err(Error::new(
                "vmap",
                format!("{} in_axes for {} inputs", in_axes.len(), leaves.len()),
            ));
        }
        // Trace one example: each batched input without its batch axis.
        let mut size: Option<i64> = None;
        let mut examples = Vec::with_capacity(leaves.len());
        for (a, ax) in leaves.iter().zip(&in_axes) {
            match ax {
                None => examples.push(a.clone()),
                Some(ax) => {
                    let r = a.ndim() as i64;
                    let k = if *ax < 0 { ax + r } else { *ax };
                    if k < 0 || k >= r {
                        return Err(Error::new(
                            "vmap",
                            format!("in_axis {ax} is out of range for an input of rank {r}"),
                        ));
                    }
                    let n = a.shape()[k as usize];
                    if size.is_some_and(|s| s != n) {
                        return Err(Error::new(
                            "vmap",
                            format!("inputs have batch sizes {} and {n}", size.unwrap_or(0)),
                        ));
                    }
                    size = Some(n);
                    let mut s = a.shape().to_vec();
                    s.remove(k as usize);
                    examples.push(Array::placeholder(TensorType::new(a.dtype(), s), 0, 0));
                }
            }
        }
        let ex = rebuild_all(p, examples)?;
        let (func, out_t, captured) = f.trace_at(&ex)?;
        // Captured arrays of enclosing traces are not batched here.
        let mut axes = in_axes.clone();
        axes.extend(captured.iter().map(|_| None));
        let g = vmap_with_size(&func, &axes, &out_axes, size).map_err(terr("vmap"))?;
        let mut args = leaves;
        args.extend(captured);
        let r = call(&g, &args)?;
        rebuild_all(&out_t, r)
    }
}

/// A function with a user-supplied vjp (MLX's `mx.custom_function` with
/// `.vjp`): `fwd` computes the outputs; `bwd(primals, outputs, cotangents)`
/// returns one cotangent per primal leaf. Call it with [`CustomVjp::call`];
/// the transforms of this module use `bwd` for its derivative.
pub struct CustomVjp<F, B> {
    pub fwd: F,
    pub bwd: B,
}

/// Builds a [`CustomVjp`].
pub fn custom_vjp<F, B>(fwd: F, bwd: B) -> CustomVjp<F, B> {
    CustomVjp { fwd, bwd }
}

impl<F, B> CustomVjp<F, B> {
    /// Calls the forward function.
    pub fn call<P: Tree, O: Tree>(&self, p: &P) -> O
    where
        F: Fn(&P) -> O,
    {
        (self.fwd)(p)
    }
}

impl<P: Tree, O: Tree, F: Fn(&P) -> O, B: Fn(&P, &O, &O) -> P> Traceable<P, O> for CustomVjp<F, B> {
    fn trace_at(&self, example: &P) -> Result<Traced<O>, Error> {
        let (fwd, out_t, c1) = trace_closure(&self.fwd, example)?;
        let np = example.leaves().len();
        let no = out_t.leaves().len();
        let bex = (example.clone(), out_t.clone(), out_t.clone());
        let bwd_fn = |t: &(P, O, O)| (self.bwd)(&t.0, &t.1, &t.2);
        let (bwd, _, c2) = trace_closure(&bwd_fn, &bex)?;
        if !c1.is_empty() || !c2.is_empty() {
            return Err(Error::new(
                "custom_vjp",
                "the forward or backward function captures an array of an enclosing trace; pass it as an argument",
            ));
        }
        if bwd.params.len() != np + 2 * no {
            return Err(Error::new("custom_vjp", "internal: backward arity"));
        }
        let f = ir_custom_vjp(&fwd, &bwd).map_err(terr("custom_vjp"))?;
        Ok((f, out_t, Vec::new()))
    }
}

/// `f` marked for recomputation (MLX's `mx.checkpoint`): its vjp replays the
/// forward ops in the backward pass instead of keeping their values.
pub struct Checkpoint<F>(pub F);

/// Builds a [`Checkpoint`].
pub fn checkpoint<F>(f: F) -> Checkpoint<F> {
    Checkpoint(f)
}

impl<F> Checkpoint<F> {
    /// Calls `f`, marking its computation as a checkpointed region: inside
    /// a closure that a transform differentiates, the backward pass
    /// recomputes the region's intermediates from its inputs instead of
    /// keeping them (MLX's `mx.checkpoint` used inside a larger function).
    /// The markers are two pass-through `tensor.depends` ops around the
    /// region (see `psionic_passes::autodiff::custom`); outside transforms
    /// they cost nothing.
    pub fn call<P: Tree, O: Tree>(&self, p: &P) -> O
    where
        F: Fn(&P) -> O,
    {
        self.call_marked(p).unwrap_or_else(|_| (self.0)(p))
    }

    fn call_marked<P: Tree, O: Tree>(&self, p: &P) -> Result<O, Error>
    where
        F: Fn(&P) -> O,
    {
        use psionic_ir::{Attr, Attrs, Opcode};
        let leaves = p.leaves();
        if leaves.is_empty() {
            return Ok((self.0)(p));
        }
        let n = leaves.len() as i64;
        let opened = crate::array::build(
            "checkpoint",
            Opcode::Depends,
            leaves,
            Attrs::new().with("num_outputs", Attr::Int(n)),
        )?;
        let p2 = rebuild_all(p, opened.clone())?;
        let o = (self.0)(&p2);
        let outs = o.leaves();
        if outs.is_empty() {
            return Ok(o);
        }
        let k = outs.len() as i64;
        let mut operands = outs;
        operands.extend(opened);
        let closed = crate::array::build(
            "checkpoint",
            Opcode::Depends,
            operands,
            Attrs::new().with("num_outputs", Attr::Int(k)),
        )?;
        rebuild_all(&o, closed)
    }
}

impl<P: Tree, O: Tree, F: Fn(&P) -> O> Traceable<P, O> for Checkpoint<F> {
    fn trace_at(&self, example: &P) -> Result<Traced<O>, Error> {
        let (f, o, captured) = trace_closure(&self.0, example)?;
        Ok((ir_checkpoint(&f), o, captured))
    }
}

/// Which transform `psionic run --transform` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CliTransform {
    Vjp,
    Jvp,
    Vmap,
}

impl CliTransform {
    pub fn parse(s: &str) -> Result<CliTransform, String> {
        match s {
            "vjp" => Ok(CliTransform::Vjp),
            "jvp" => Ok(CliTransform::Jvp),
            "vmap" => Ok(CliTransform::Vmap),
            other => Err(format!(
                "unknown transform `{other}` (known: vjp, jvp, vmap)"
            )),
        }
    }
}

/// The `psionic run --transform` contract (names as in
/// `shared/conformance/mlx/README.md`, each with `prefix` in front):
/// - `vjp`: reads `in.K` and `vjp.cot.J` (one per output), writes `vjp.in.K`
///   for each differentiated input `K`;
/// - `jvp`: reads `in.K` and `jvp.tan.K` for each differentiated input,
///   writes `out.J` and `jvp.out.J`;
/// - `vmap`: reads `vmap.in.K` (every input batched on axis 0), writes
///   `vmap.out.J` (batched on axis 0).
///
/// `wrt` names the differentiated inputs by key (`0`, `1`, or a keyword
/// name); by default every floating-point input. The trace of `name` that
/// accepts the inputs is chosen as MLX dispatches.
pub fn run_transform(
    module: &Module,
    name: &str,
    tensors: &[(String, Literal)],
    prefix: &str,
    transform: CliTransform,
    wrt: Option<&[String]>,
) -> Result<Vec<(String, Literal)>, String> {
    let plan = prepare_transform(module, name, tensors, prefix, transform, wrt)?;
    let outs = run_func(&plan.func, &plan.args).map_err(|e| format!("@{}: {e}", plan.func.name))?;
    plan.name_results(outs)
}

/// What [`run_transform`] runs, before running it (so a caller can run it
/// on another backend, or time it): the transformed function, its
/// arguments, and the output tensor name of each result (`None`: not
/// written, e.g. the primal outputs of a vjp).
pub struct TransformPlan {
    pub func: Func,
    pub args: Vec<Literal>,
    pub names: Vec<Option<String>>,
}

impl TransformPlan {
    /// Names the results of running [`TransformPlan::func`].
    pub fn name_results(&self, outs: Vec<Literal>) -> Result<Vec<(String, Literal)>, String> {
        if outs.len() != self.names.len() {
            return Err(format!(
                "@{}: {} results, expected {}",
                self.func.name,
                outs.len(),
                self.names.len()
            ));
        }
        Ok(self
            .names
            .iter()
            .zip(outs)
            .filter_map(|(n, l)| n.clone().map(|n| (n, l)))
            .collect())
    }
}

/// The transformed function and arguments of [`run_transform`] (same
/// contract), without running it.
pub fn prepare_transform(
    module: &Module,
    name: &str,
    tensors: &[(String, Literal)],
    prefix: &str,
    transform: CliTransform,
    wrt: Option<&[String]>,
) -> Result<TransformPlan, String> {
    let get =
        |n: &str| -> Option<&Literal> { tensors.iter().find(|(k, _)| k == n).map(|(_, l)| l) };
    let need = |n: String| -> Result<Literal, String> {
        get(&n)
            .cloned()
            .ok_or_else(|| format!("the inputs have no tensor `{n}`"))
    };
    // The inputs named `head` + K, keyed by K, with their types (without
    // axis 0 for batched inputs), for MLX's dispatch.
    let keyed = |head: String, batched: bool| -> Vec<(String, TensorType)> {
        tensors
            .iter()
            .filter_map(|(n, l)| {
                let k = n.strip_prefix(&head)?;
                let t = l.ty();
                let t = if batched && t.rank() > 0 {
                    t.with_shape(t.shape[1..].to_vec())
                } else {
                    t
                };
                Some((k.to_string(), t))
            })
            .collect()
    };
    if transform == CliTransform::Vmap {
        // Dispatch on the per-example types: the batched inputs without axis 0.
        let given = keyed(format!("{prefix}vmap.in."), true);
        let (f, keys) = mlxfn::select_trace(module, name, &given)?;
        let args: Vec<Literal> = keys
            .iter()
            .map(|k| need(format!("{prefix}vmap.in.{k}")))
            .collect::<Result<_, _>>()?;
        let size = args.first().map(|l| l.shape()[0] as i64);
        if let Some(bad) = args.iter().position(|l| Some(l.shape()[0] as i64) != size) {
            return Err(format!(
                "vmap: input `{}` has batch size {}, the first input {}",
                keys[bad],
                args[bad].shape()[0],
                size.unwrap_or(0)
            ));
        }
        let in_axes = vec![Some(0); keys.len()];
        let out_axes = vec![0; f.results.len()];
        let g = vmap_with_size(f, &in_axes, &out_axes, size).map_err(|e| e.message)?;
        let names = (0..g.results.len())
            .map(|j| Some(format!("{prefix}vmap.out.{j}")))
            .collect();
        return Ok(TransformPlan {
            func: g,
            args,
            names,
        });
    }
    let given = keyed(format!("{prefix}in."), false);
    let (f, keys) = mlxfn::select_trace(module, name, &given)?;
    let args: Vec<Literal> = keys
        .iter()
        .map(|k| need(format!("{prefix}in.{k}")))
        .collect::<Result<_, _>>()?;
    let wrt_keys: Vec<String> = match wrt {
        Some(w) => w.to_vec(),
        None => keys
            .iter()
            .zip(f.param_types())
            .filter(|(_, t)| t.dtype.is_inexact())
            .map(|(k, _)| k.clone())
            .collect(),
    };
    let wrt_idx: Vec<usize> = wrt_keys
        .iter()
        .map(|k| {
            keys.iter().position(|x| x == k).ok_or_else(|| {
                format!("--wrt: `{k}` is not an input (inputs: {})", keys.join(", "))
            })
        })
        .collect::<Result<_, _>>()?;
    let nout = f.results.len();
    match transform {
        CliTransform::Vjp => {
            let g = ir_vjp(f, &wrt_idx).map_err(|e| e.message)?;
            let mut a = args;
            for j in 0..nout {
                a.push(need(format!("{prefix}vjp.cot.{j}"))?);
            }
            let mut names: Vec<Option<String>> = vec![None; nout];
            names.extend(wrt_keys.iter().map(|k| Some(format!("{prefix}vjp.in.{k}"))));
            Ok(TransformPlan {
                func: g,
                args: a,
                names,
            })
        }
        CliTransform::Jvp => {
            let g = ir_jvp(f, &wrt_idx).map_err(|e| e.message)?;
            let mut a = args;
            for k in &wrt_keys {
                a.push(need(format!("{prefix}jvp.tan.{k}"))?);
            }
            let names = (0..g.results.len())
                .map(|i| {
                    Some(if i < nout {
                        format!("{prefix}out.{i}")
                    } else {
                        format!("{prefix}jvp.out.{}", i - nout)
                    })
                })
                .collect();
            Ok(TransformPlan {
                func: g,
                args: a,
                names,
            })
        }
        CliTransform::Vmap => Err("internal: vmap is handled above".into()),
    }
}
