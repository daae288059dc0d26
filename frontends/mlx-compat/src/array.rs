//! `Array`: a lazy, immutable, cheaply clonable node of the op graph.
//!
//! An array is an `Arc<Node>`. A node is one of: a constant holding its
//! [`Literal`]; a placeholder input of a trace; the `output`-th result of an
//! op record (opcode, attributes, input arrays); or an error. Every node
//! knows its type, and op nodes get their value in a `OnceLock` when
//! evaluated. Building an op allocates one record and one node per result
//! and checks types through the op table: O(1) per op, never a copy of the
//! graph. Dropping a long chain is iterative, so a 100,000-op graph never
//! overflows the stack.

use crate::error::Error;
use half::{bf16, f16};
use psionic_ir::literal::push_f64;
use psionic_ir::ops::infer_types;
use psionic_ir::{Attrs, DType, Literal, Opcode, TensorType};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh process-unique id (nodes, op records and traces share the counter).
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A lazy n-dimensional array. Cloning is an `Arc` clone.
#[derive(Clone)]
pub struct Array(pub(crate) Arc<Node>);

pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) ty: TensorType,
    pub(crate) source: Source,
    pub(crate) value: OnceLock<Literal>,
}

pub(crate) enum Source {
    /// Host data; `value` is set at creation.
    Constant,
    /// Input `index` of the trace `trace`.
    Input { trace: u64, index: usize },
    /// Result `output` of an op. The record is dropped (`None`) once the
    /// node holds its value, so evaluated arrays do not keep their history
    /// alive (as MLX detaches evaluated arrays from their graph).
    Op {
        op: Mutex<Option<Arc<OpRecord>>>,
        output: usize,
    },
    /// A failed op: the error travels on to whoever evaluates or traces.
    Error(Error),
}

/// One op application in the graph; shared by the nodes of its results.
pub(crate) struct OpRecord {
    pub(crate) opcode: Opcode,
    pub(crate) attrs: Attrs,
    pub(crate) inputs: Vec<Array>,
    /// Number of results (nodes sharing this record).
    pub(crate) outputs: usize,
}

impl Drop for Node {
    // The default drop would recurse once per op of a chain. Instead unlink
    // inputs into a work list and drop nodes whose last reference we hold
    // one at a time.
    fn drop(&mut self) {
        let mut work: Vec<Array> = Vec::new();
        take_inputs(&mut self.source, &mut work);
        while let Some(a) = work.pop() {
            if let Some(mut node) = Arc::into_inner(a.0) {
                take_inputs(&mut node.source, &mut work);
            }
        }
    }
}

fn take_inputs(source: &mut Source, work: &mut Vec<Array>) {
    if let Source::Op { op, .. } = source {
        let slot = op.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(mut rec) = slot.take().and_then(Arc::into_inner) {
            work.append(&mut rec.inputs);
        }
    }
}

impl Node {
    /// The op record and result index, unless this is a leaf or detached.
    pub(crate) fn op(&self) -> Option<(Arc<OpRecord>, usize)> {
        match &self.source {
            Source::Op { op, output } => {
                let g = op.lock().unwrap_or_else(|e| e.into_inner());
                g.as_ref().map(|r| (r.clone(), *output))
            }
            _ => None,
        }
    }

    /// Stores the value and drops the op record (see [`Source::Op`]).
    pub(crate) fn set_value(&self, lit: Literal) {
        // Another thread may have stored the same value first; either is right.
        let _ = self.value.set(lit);
        if let Source::Op { op, .. } = &self.source {
            let rec = op.lock().unwrap_or_else(|e| e.into_inner()).take();
            // Dropped outside the lock; a long chain unlinks iteratively.
            if let Some(rec) = rec.and_then(Arc::into_inner) {
                drop(rec.inputs);
            }
        }
    }
}

impl Array {
    fn from_node(ty: TensorType, source: Source) -> Array {
        Array(Arc::new(Node {
            id: next_id(),
            ty,
            source,
            value: OnceLock::new(),
        }))
    }

    /// A constant leaf holding `lit`.
    pub fn from_literal(lit: Literal) -> Array {
        let node = Node {
            id: next_id(),
            ty: lit.ty(),
            source: Source::Constant,
            value: OnceLock::new(),
        };
        let _ = node.value.set(lit);
        Array(Arc::new(node))
    }

    /// An array that carries `err`: every op on it yields the same error,
    /// and `eval`, `to_vec`, `item` and `trace` return it.
    pub fn from_error(err: Error) -> Array {
        Array::from_node(TensorType::scalar(DType::F32), Source::Error(err))
    }

    pub(crate) fn placeholder(ty: TensorType, trace: u64, index: usize) -> Array {
        Array::from_node(ty, Source::Input { trace, index })
    }

    /// The error this array carries, if an op that built it failed.
    pub fn error(&self) -> Option<&Error> {
        match &self.0.source {
            Source::Error(e) => Some(e),
            _ => None,
        }
    }

    /// `Err` with the carried error, or `Ok(self)`.
    pub fn check(&self) -> Result<&Array, Error> {
        match self.error() {
            Some(e) => Err(e.clone()),
            None => Ok(self),
        }
    }

    /// The type: dtype and shape (symbolic dims are [`psionic_ir::DYN`]).
    pub fn ty(&self) -> &TensorType {
        &self.0.ty
    }
    pub fn dtype(&self) -> DType {
        self.0.ty.dtype
    }
    /// The shape; inside a trace with symbolic inputs a dimension may be
    /// [`psionic_ir::DYN`] (-1).
    pub fn shape(&self) -> &[i64] {
        &self.0.ty.shape
    }
    pub fn ndim(&self) -> usize {
        self.0.ty.shape.len()
    }
    /// Number of elements (symbolic dimensions count as 0; saturates
    /// rather than overflowing).
    pub fn size(&self) -> usize {
        self.0
            .ty
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .fold(1usize, usize::saturating_mul)
    }
    /// Size of `axis` (negative counts from the end), if in range.
    pub fn dim(&self, axis: i32) -> Option<i64> {
        let r = self.ndim() as i64;
        let a = if axis < 0 {
            axis as i64 + r
        } else {
            axis as i64
        };
        if (0..r).contains(&a) {
            Some(self.0.ty.shape[a as usize])
        } else {
            None
        }
    }
    /// The value, if already evaluated (constants always are).
    pub fn value(&self) -> Option<&Literal> {
        self.0.value.get()
    }
    pub fn is_evaluated(&self) -> bool {
        self.0.value.get().is_some()
    }
    /// True when both handles are the same graph node.
    pub fn same_node(&self, other: &Array) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// The op that produces this array, if it is an op result not yet
    /// evaluated (evaluation detaches an array from its graph).
    pub fn opcode(&self) -> Option<Opcode> {
        self.0.op().map(|(r, _)| r.opcode)
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.source, self.value()) {
            (Source::Error(e), _) => write!(f, "Array(error: {e})"),
            (_, Some(v)) => write!(f, "Array({} = {:?})", self.0.ty, v),
            (_, None) => write!(f, "Array({}, unevaluated)", self.0.ty),
        }
    }
}

/// Builds one op node per result of `opcode` on `inputs`. Types are checked
/// and inferred by the op table; a failure names the MLX op `op`. An input
/// that carries an error yields that error.
pub(crate) fn build(
    op: &str,
    opcode: Opcode,
    inputs: Vec<Array>,
    attrs: Attrs,
) -> Result<Vec<Array>, Error> {
    for i in &inputs {
        i.check()?;
    }
    let types: Vec<&TensorType> = inputs.iter().map(|a| &a.0.ty).collect();
    let out = infer_types(opcode, &types, &attrs).map_err(|m| Error::new(op, m))?;
    let rec = Arc::new(OpRecord {
        opcode,
        attrs,
        inputs,
        outputs: out.len(),
    });
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(output, ty)| {
            Array::from_node(
                ty,
                Source::Op {
                    op: Mutex::new(Some(rec.clone())),
                    output,
                },
            )
        })
        .collect())
}

/// [`build`] for single-result ops.
pub(crate) fn build1(
    op: &str,
    opcode: Opcode,
    inputs: Vec<Array>,
    attrs: Attrs,
) -> Result<Array, Error> {
    let mut r = build(op, opcode, inputs, attrs)?;
    match r.len() {
        1 => Ok(r.swap_remove(0)),
        n => Err(Error::new(
            op,
            format!("`{opcode}` gave {n} results, expected 1"),
        )),
    }
}

/// The infallible form of a `try_*` result: the error rides in the array.
pub(crate) fn lift(r: Result<Array, Error>) -> Array {
    r.unwrap_or_else(Array::from_error)
}

/// Host element types that arrays can be built from and read into.
pub trait Element: Copy + Send + Sync + 'static {
    /// The dtype an array built from this type gets.
    const DTYPE: DType;
    /// Appends the little-endian bytes of `self` as [`Element::DTYPE`].
    fn write_le(self, out: &mut Vec<u8>);
    /// Element `i` of `lit`, converted to this type as `astype` would.
    fn read(lit: &Literal, i: usize) -> Self;
}

macro_rules! int_element {
    ($($t:ty => $d:ident),*) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read(lit: &Literal, i: usize) -> Self {
                if lit.dtype().is_inexact() {
                    lit.get_f64(i) as $t
                } else {
                    lit.get_i64(i) as $t
                }
            }
        }
    )*};
}
int_element!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32, i64 => I64);

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(lit: &Literal, i: usize) -> Self {
        read_float(lit, i) as f32
    }
}
impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(lit: &Literal, i: usize) -> Self {
        read_float(lit, i)
    }
}
impl Element for f16 {
    const DTYPE: DType = DType::F16;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(lit: &Literal, i: usize) -> Self {
        f16::from_f64(read_float(lit, i))
    }
}
impl Element for bf16 {
    const DTYPE: DType = DType::BF16;
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(lit: &Literal, i: usize) -> Self {
        bf16::from_f64(read_float(lit, i))
    }
}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn read(lit: &Literal, i: usize) -> Self {
        if lit.dtype().is_inexact() {
            lit.get_f64(i) != 0.0
        } else {
            lit.get_i64(i) != 0
        }
    }
}

/// Integers above 2^53 lose nothing when read as i64 first.
fn read_float(lit: &Literal, i: usize) -> f64 {
    match lit.dtype() {
        DType::U64 => lit.get_i64(i) as u64 as f64,
        d if d.is_integral() => lit.get_i64(i) as f64,
        _ => lit.get_f64(i),
    }
}

/// A Rust scalar used as an operand. Like a Python scalar in MLX it is
/// "weak": it takes the dtype of the array it meets (`x_f16 * 2.0` stays
/// f16), except that a float scalar with an integer or bool array gives
/// f32 and an integer scalar with a bool array gives i32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    /// The dtype MLX gives a lone Python scalar of this kind.
    pub fn default_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I32,
            Scalar::Float(_) => DType::F32,
        }
    }
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    /// The dtype of `self` combined with an array of dtype `d` (weak promotion).
    pub fn weak_with(self, d: DType) -> DType {
        match self {
            Scalar::Bool(_) => d,
            Scalar::Int(_) if d.is_bool() => DType::I32,
            Scalar::Int(_) => d,
            Scalar::Float(_) if d.is_inexact() => d,
            Scalar::Float(_) => DType::F32,
        }
    }
    /// A 0-d literal of `dtype`.
    pub fn to_literal(self, dtype: DType) -> Literal {
        match self {
            Scalar::Int(i) if dtype.is_integral() => {
                let mut b = Vec::new();
                psionic_ir::literal::push_i64(&mut b, dtype, i);
                Literal::from_bytes(dtype, Vec::new(), b)
                    .unwrap_or_else(|_| Literal::scalar_f64(dtype, i as f64))
            }
            s => {
                let mut b = Vec::new();
                push_f64(&mut b, dtype, s.as_f64());
                Literal::from_bytes(dtype, Vec::new(), b)
                    .unwrap_or_else(|_| Literal::scalar_f64(dtype, s.as_f64()))
            }
        }
    }
}

/// An op operand: an array, or a weak scalar.
#[derive(Clone, Debug)]
pub enum Operand {
    Array(Array),
    Scalar(Scalar),
}

/// Anything usable as an op operand: `Array`, `&Array`, and the Rust
/// scalars `bool`, `i32`, `i64`, `u32`, `f32`, `f64` (weak, see [`Scalar`]).
pub trait IntoOperand {
    fn into_operand(self) -> Operand;
}

impl IntoOperand for Array {
    fn into_operand(self) -> Operand {
        Operand::Array(self)
    }
}
impl IntoOperand for &Array {
    fn into_operand(self) -> Operand {
        Operand::Array(self.clone())
    }
}
impl IntoOperand for &&Array {
    fn into_operand(self) -> Operand {
        Operand::Array((*self).clone())
    }
}
impl IntoOperand for Operand {
    fn into_operand(self) -> Operand {
        self
    }
}
impl IntoOperand for Scalar {
    fn into_operand(self) -> Operand {
        Operand::Scalar(self)
    }
}
impl IntoOperand for bool {
    fn into_operand(self) -> Operand {
        Operand::Scalar(Scalar::Bool(self))
    }
}
macro_rules! int_operand {
    ($($t:ty),*) => {$(
        impl IntoOperand for $t {
            fn into_operand(self) -> Operand {
                Operand::Scalar(Scalar::Int(self as i64))
            }
        }
    )*};
}
int_operand!(i32, i64, u32);
impl IntoOperand for f32 {
    fn into_operand(self) -> Operand {
        Operand::Scalar(Scalar::Float(self as f64))
    }
}
impl IntoOperand for f64 {
    fn into_operand(self) -> Operand {
        Operand::Scalar(Scalar::Float(self))
    }
}

impl Operand {
    /// The array, or the scalar as a 0-d constant of its default dtype.
    pub fn into_array(self) -> Array {
        match self {
            Operand::Array(a) => a,
            Operand::Scalar(s) => Array::from_literal(s.to_literal(s.default_dtype())),
        }
    }
}
