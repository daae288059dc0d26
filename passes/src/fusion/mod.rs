//! Fusion: lowers a tensor-level [`Func`] to the kernel-level IR
//! ([`psionic_ir::kernel`]), grouping ops into as few passes over memory as
//! it can.
//!
//! How it decides, in order:
//! 1. A value gets a buffer (is *materialized*) when it is a result, an
//!    operand or result of a library call (matmul, sorts, scans, scatters...),
//!    the source of a gather, or a reduction that cannot be computed inside
//!    the kernel that reads it. Everything else is computed inside the
//!    kernels of its consumers.
//!
//!    `take_along_axis` and `gather` become [`Instr::Gather`] nodes: the
//!    source is read at data-dependent addresses (its views fold into the
//!    map and the dynamic strides, resolved over the domain extended by one
//!    axis per index), the indices are computed inline like any elementwise
//!    value, and the gathered value feeds elementwise consumers and
//!    reductions in the same kernel. A gather is inlined only where its
//!    consumer reads every element of it ([`covers`]): otherwise (a slice
//!    of it, say) it is materialized, so every index is checked as the
//!    reference interpreter checks them.
//!
//!    `scatter`, `scatter_axis` and `dynamic_slice_update` become two
//!    kernels ([`Lowering::build_scatter`]): a copy of the destination into
//!    the result's buffer (fused with the destination's producers, so
//!    `zeros_like` is a fill; buffer planning runs it in place when the
//!    destination's buffer dies there), then a kernel over the updates'
//!    domain whose [`Instr::Scatter`] node combines each update value
//!    (computed inline, with its indices) into that buffer. A dynamic
//!    slice's starts are clamping indices. The result is always read from
//!    memory by its consumers.
//! 2. Each materialized value is the root of one item. Its kernel is emitted
//!    by walking producers from the root: elementwise ops become scalar
//!    nodes; layout ops (transpose, broadcast, slice, flip, expand/squeeze,
//!    reshapes that split or keep axes) only change the affine index maps of
//!    the loads below them; a reduction (or softmax, logsumexp) whose
//!    operand has the kernel's domain is computed in a `loop` stage of the
//!    same kernel, so a reduction fuses with its elementwise producers *and*
//!    consumers. A scan (`cumsum`, `cumprod`, `cummax`, `cummin`,
//!    `cumlogaddexp`) whose scanned axis follows one domain axis becomes a
//!    `scan.*` node of the `map` stage with that axis reduced: its
//!    producers are computed inline and its consumers read it in
//!    registers. A reverse scan runs forward over a flipped axis (the
//!    kernel's root access is flipped). A scan feeding an accumulator or
//!    another scan is read from memory.
//! 3. An elementwise consumer chain of a matmul whose only use is that chain
//!    becomes the matmul's epilogue (bias, activation, residual, scale).
//! 4. Two accumulator rewrites make row normalizations one loop plus one map:
//!    `sum(exp(x - max(x)))` is read off `logsumexp(x)` computed in the same
//!    loop as `max(x)`, and `sum((x - sum(x)/n)^2)` becomes Welford's
//!    `acc.m2`, in the loop that computes `sum(x)`.
//!
//! Values with several consumers are recomputed in each consumer's kernel
//! rather than stored: this pass minimizes bytes moved, not flops.
//! With [`FusionOptions::fuse`] off, every op becomes its own item: the
//! unfused reference that tests compare fused programs against.
//!
//! ```
//! use psionic_ir::kernel::text::print_program;
//! use psionic_ir::{Attr, Attrs, DType, Func, Opcode, TensorType};
//!
//! // softmax(x) * 2 over rows of a [4, 8] input
//! let mut f = Func::new("main", vec![TensorType::new(DType::F32, vec![4, 8])]);
//! let x = f.params[0];
//! let axes = Attrs::new().with("axes", Attr::Ints(vec![1]));
//! let s = f.push1(Opcode::Softmax, &[x], axes).unwrap();
//! let y = f.push1(Opcode::Add, &[s, s], Attrs::new()).unwrap();
//! f.results = vec![y];
//!
//! let p = psionic_passes::fusion::fuse(&f).unwrap();
//! let stats = p.stats();
//! assert_eq!((stats.kernels, stats.passes), (1, 2));
//! assert!(print_program(&p).contains("acc.logsumexp"));
//! ```

pub mod collapse;
pub mod compile;
mod complex;
pub mod conv;
pub mod reuse;
pub mod split;

use psionic_ir::kernel::{
    pairs, AccKind, BufId, BufferKind, DynIndex, IndexMap, Instr, Item, KProgram, Kernel, LibOp,
    MatmulCall, Node, ScatterKind, Stage, StageKind,
};
use psionic_ir::types::row_major_strides;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Op, OpClass, Opcode, TensorType, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// Why fusion could not lower a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FusionError(pub String);

impl fmt::Display for FusionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fusion: {}", self.0)
    }
}
impl std::error::Error for FusionError {}

fn ferr<T>(msg: impl Into<String>) -> Result<T, FusionError> {
    Err(FusionError(msg.into()))
}

/// Options of [`lower`].
#[derive(Clone, Debug)]
pub struct FusionOptions {
    /// Group ops into kernels (false: one item per op).
    pub fuse: bool,
    /// Fuse elementwise consumers of matmuls into their epilogues.
    pub matmul_epilogues: bool,
    /// Kernels may read, compute and write 64-bit integers (`i64`, `u64`).
    /// Off (the default), every op that reads or writes one becomes a
    /// library op, which the reference interpreter's `eval_op` computes
    /// exactly on the buffers' bytes: the CPU backend's kernels hold every
    /// value in an f64 register, exact for integers only below 2^53. On,
    /// such ops fuse like any other, and a splat constant that an f64
    /// does not hold exactly is loaded from its buffer instead of being
    /// inlined: the CUDA backend turns it on (its kernels hold integers in
    /// 64-bit registers). The kernel interpreter still evaluates kernels
    /// in f64, so its results for such programs are exact only below 2^53.
    pub wide_int_kernels: bool,
    /// Scans become kernels (`scan.*` nodes, fused with their elementwise
    /// producers and consumers); off, they are library ops.
    pub scan_kernels: bool,
    /// Scatters that assign (`scatter` and `scatter_axis` with reduce
    /// `none`) become kernels. Off (the GPU backends), they stay library
    /// ops, so duplicate indices apply in order and the last one wins, as
    /// on the CPU, in the interpreter and in MLX's CPU backend: a GPU
    /// kernel would apply them in no fixed order. Reducing scatters
    /// (atomics: the order changes only rounding) and
    /// `dynamic_slice_update` (each element written once) are kernels
    /// either way.
    pub set_scatter_kernels: bool,
}

impl Default for FusionOptions {
    fn default() -> Self {
        FusionOptions {
            fuse: true,
            matmul_epilogues: true,
            wide_int_kernels: false,
            scan_kernels: true,
            set_scatter_kernels: true,
        }
    }
}

/// Lowers with the default options (fusion on).
pub fn fuse(f: &Func) -> Result<KProgram, FusionError> {
    lower(f, &FusionOptions::default())
}

/// Lowers one op per item: the unfused reference.
pub fn lower_unfused(f: &Func) -> Result<KProgram, FusionError> {
    lower(
        f,
        &FusionOptions {
            fuse: false,
            matmul_epilogues: false,
            ..FusionOptions::default()
        },
    )
}

/// An affine access to a value: for each of the value's axes `j`, its index
/// is `c[j] + sum_i a[j][i] * d[i]` for the domain index `d`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Access {
    c: Vec<i64>,
    a: Vec<Vec<i64>>,
}

impl Access {
    fn identity(n: usize) -> Access {
        Access {
            c: vec![0; n],
            a: (0..n)
                .map(|j| (0..n).map(|i| (i == j) as i64).collect())
                .collect(),
        }
    }
    fn zero_row(n: usize) -> Vec<i64> {
        vec![0; n]
    }
    fn is_identity(&self) -> bool {
        let n = self.c.len();
        self.a.len() == n && *self == Access::identity(n)
    }
    /// The flat row-major address in a value of `shape`.
    fn flat(&self, shape: &[usize], ndom: usize) -> IndexMap {
        let rs = row_major_strides(shape);
        let mut m = IndexMap {
            offset: 0,
            strides: vec![0; ndom],
        };
        for (j, &r) in rs.iter().enumerate() {
            let r = r as i64;
            m.offset += self.c[j] * r;
            for (i, s) in m.strides.iter_mut().enumerate() {
                *s += self.a[j][i] * r;
            }
        }
        m
    }
}

/// Splits a flat affine address into an access of a value of `shape`, if no
/// axis can carry into the next one over `domain`.
fn decompose(m: &IndexMap, shape: &[usize], domain: &[usize]) -> Option<Access> {
    let n = domain.len();
    let rs: Vec<i64> = row_major_strides(shape)
        .into_iter()
        .map(|s| s as i64)
        .collect();
    let total: i64 = shape.iter().product::<usize>() as i64;
    if m.offset < 0 || (total > 0 && m.offset >= total) {
        return None;
    }
    let mut acc = Access {
        c: vec![0; shape.len()],
        a: vec![vec![0; n]; shape.len()],
    };
    let mut rem = m.offset;
    for j in 0..shape.len() {
        acc.c[j] = rem / rs[j];
        rem %= rs[j];
    }
    for (i, &f) in m.strides.iter().enumerate() {
        if f == 0 || domain[i] <= 1 {
            continue;
        }
        let j = (0..shape.len()).find(|&j| shape[j] > 1 && f % rs[j] == 0 && f.abs() >= rs[j])?;
        acc.a[j][i] = f / rs[j];
    }
    for j in 0..shape.len() {
        let (mut lo, mut hi) = (acc.c[j], acc.c[j]);
        for (i, &d) in domain.iter().enumerate() {
            let span = acc.a[j][i] * (d as i64 - 1).max(0);
            if span < 0 {
                lo += span
            } else {
                hi += span
            }
        }
        if lo < 0 || hi >= shape[j] as i64 {
            return None;
        }
    }
    Some(acc)
}

/// The iteration space of a kernel whose root has the shape of a reduction
/// of `domain` over `axes`: the root is stored once per row.
#[derive(Clone, Debug, PartialEq)]
struct RowDomain {
    domain: Vec<usize>,
    axes: Vec<usize>,
    keepdims: bool,
}

/// A node of a kernel under construction (hash-consed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BNode {
    Load(BufId, IndexMap),
    /// A gather; the indices' `arg`s are nodes of the kernel under construction.
    Gather(BufId, IndexMap, Vec<DynIndex>),
    /// A guarded load: buffer, map, box `lo..hi` on domain indices, fill node.
    LoadOr(BufId, IndexMap, Vec<i64>, Vec<i64>, u32),
    Const(u64),
    Op(Opcode, Attrs, Vec<u32>),
    Acc(AccKind, u32),
    /// A forward running value along the kernel's reduced axis (exclusive when true).
    Scan(AccKind, u32, bool),
    MatmulResult,
}

/// Most `loop` stages (dependent reductions) one kernel may have; a deeper
/// reduction is read from memory instead.
const MAX_LOOPS: usize = 3;

struct KBuild {
    domain: Vec<usize>,
    /// Loops that must run before each node is known (see [`schedule`]).
    depth: Vec<usize>,
    reduce: Option<Vec<usize>>,
    nodes: Vec<(BNode, DType)>,
    /// Whether each node depends on a scan (may not feed an accumulator
    /// or another scan).
    scanned: Vec<bool>,
    dedup: HashMap<(BNode, DType), u32>,
    memo: HashMap<(Value, Access), u32>,
    stores: Vec<(BufId, IndexMap, u32)>,
    /// Scatters (buffer, map, indices, kind, value): only in kernels
    /// without reduced axes.
    scatters: Vec<(BufId, IndexMap, Vec<DynIndex>, ScatterKind, u32)>,
    claimed: Option<Value>,
    allow_claim: bool,
    /// A reduction that could have been computed here with a larger domain.
    wish: Option<RowDomain>,
    /// A reverse scan that could have been computed here were this domain
    /// axis iterated backwards.
    flip_wish: Option<usize>,
}

/// Zeroes the strides of size-1 axes: they never move, and equal loads
/// should look equal.
fn canon(mut m: IndexMap, domain: &[usize]) -> IndexMap {
    for (s, &d) in m.strides.iter_mut().zip(domain) {
        if d == 1 {
            *s = 0;
        }
    }
    m
}

impl KBuild {
    fn add(&mut self, n: BNode, d: DType) -> u32 {
        let n = match n {
            BNode::Load(b, m) => BNode::Load(b, canon(m, &self.domain)),
            BNode::Gather(b, m, ix) => BNode::Gather(b, canon(m, &self.domain), ix),
            BNode::LoadOr(b, m, lo, hi, f) => BNode::LoadOr(b, canon(m, &self.domain), lo, hi, f),
            other => other,
        };
        if let Some(&i) = self.dedup.get(&(n.clone(), d)) {
            return i;
        }
        let depth = match &n {
            BNode::Op(_, _, a) => a.iter().map(|&x| self.depth[x as usize]).max().unwrap_or(0),
            BNode::Acc(_, a) => self.depth[*a as usize] + 1,
            BNode::Scan(_, a, _) | BNode::LoadOr(.., a) => self.depth[*a as usize],
            BNode::Gather(_, _, ix) => ix
                .iter()
                .map(|d| self.depth[d.arg as usize])
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        let scanned = match &n {
            BNode::Op(_, _, a) => a.iter().any(|&x| self.scanned[x as usize]),
            BNode::LoadOr(.., a) => self.scanned[*a as usize],
            BNode::Gather(_, _, ix) => ix.iter().any(|d| self.scanned[d.arg as usize]),
            BNode::Scan(..) => true,
            _ => false,
        };
        self.depth.push(depth);
        self.scanned.push(scanned);
        self.nodes.push((n.clone(), d));
        let i = self.nodes.len() as u32 - 1;
        self.dedup.insert((n, d), i);
        i
    }
    fn cnst(&mut self, v: f64, d: DType) -> u32 {
        self.add(
            BNode::Const(psionic_ir::kernel::scalar::round_to(d, v).to_bits()),
            d,
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A scalar node.
    Elementwise,
    /// Only changes index maps.
    View,
    /// A reduction, softmax or logsumexp that may be computed in a loop.
    Reduce,
    /// A cumulative op (`cumsum`...), computed as running values along
    /// the row in a `map` stage.
    Scan,
    Matmul,
    /// Constant data or a fill.
    Creation,
    /// `take_along_axis` or `gather`: the source is read from memory at
    /// data-dependent addresses, the indices are computed inline.
    Gather,
    /// `scatter`, `scatter_axis`, `dynamic_slice_update`: a copy of the
    /// destination, then a kernel of [`Instr::Scatter`] over the updates.
    Scatter,
    /// `tensor.pad`: a guarded load of its (materialized) operand, the
    /// pad value elsewhere.
    Pad,
    /// `tensor.concatenate`: a chain of guarded loads, one per piece.
    Concat,
    /// An op on complex values computed on their `f32` parts
    /// ([`complex::lowers`]).
    Complex,
    /// Run as a library op.
    Lib,
}

/// True for the 64-bit integer dtypes, which kernels cannot hold exactly:
/// a kernel computes in f64 registers, exact for integers only below 2^53.
pub fn is_wide_int(d: psionic_ir::DType) -> bool {
    matches!(d, psionic_ir::DType::I64 | psionic_ir::DType::U64)
}

fn kind_of(op: &Op, f: &Func, opts: &FusionOptions) -> Kind {
    use Opcode as O;
    let (operands, attrs) = (&op.operands, &op.attrs);
    if matches!(op.opcode, O::TakeAlongAxis | O::Gather) {
        return if gather_fusable(op, f, opts) {
            Kind::Gather
        } else {
            Kind::Lib
        };
    }
    if matches!(
        op.opcode,
        O::Scatter | O::ScatterAxis | O::DynamicSliceUpdate
    ) {
        return if opts.fuse && scatter_fusable(op, f, opts) {
            Kind::Scatter
        } else {
            Kind::Lib
        };
    }
    // Unless kernels may hold them, every op that reads or writes a 64-bit
    // integer runs as a library op (the reference interpreter's exact
    // `eval_op` on the buffers' bytes), so no kernel ever holds one in an
    // f64 register, and a program with a few such values (an optimizer's
    // u64 step counter) still compiles.
    if !opts.wide_int_kernels
        && operands
            .iter()
            .chain(&op.results)
            .any(|&v| is_wide_int(f.ty(v).dtype))
    {
        return Kind::Lib;
    }
    let complex = op
        .operands
        .iter()
        .chain(&op.results)
        .any(|&v| f.ty(v).dtype.is_complex());
    if complex && complex::lowers(op, f) {
        return Kind::Complex;
    }
    match op.opcode {
        O::Constant | O::Full => Kind::Creation,
        O::Pad | O::Concatenate if operands.iter().any(|&v| f.ty(v).dtype.is_complex()) => {
            Kind::Lib
        }
        O::Pad => Kind::Pad,
        O::Concatenate => Kind::Concat,
        O::Transpose
        | O::Broadcast
        | O::ExpandDims
        | O::Squeeze
        | O::Slice
        | O::Flip
        | O::Reshape
        | O::Flatten
        | O::Unflatten
        | O::AsStrided => Kind::View,
        O::BroadcastLike if attrs.get("ignore_axes").is_none() => Kind::View,
        // A reduction over no axes is left to the library (a copy, or for
        // softmax a constant), so every kernel loop has axes.
        O::ReduceSum
        | O::ReduceProd
        | O::ReduceMax
        | O::ReduceMin
        | O::ReduceAll
        | O::ReduceAny
        | O::LogSumExp
        | O::Softmax
            if attrs.ints("axes").is_ok_and(|a| a.is_empty()) =>
        {
            Kind::Lib
        }
        // Of complex reductions only sums are loops (one per part).
        O::ReduceSum
        | O::ReduceProd
        | O::ReduceMax
        | O::ReduceMin
        | O::ReduceAll
        | O::ReduceAny
        | O::LogSumExp
        | O::Softmax
            if complex && op.opcode != O::ReduceSum =>
        {
            Kind::Lib
        }
        O::ReduceSum
        | O::ReduceProd
        | O::ReduceMax
        | O::ReduceMin
        | O::ReduceAll
        | O::ReduceAny
        | O::LogSumExp
        | O::Softmax => Kind::Reduce,
        O::Matmul if complex => Kind::Lib,
        O::Matmul => Kind::Matmul,
        O::Cumsum | O::Cumprod | O::Cummax | O::Cummin | O::CumLogAddExp
            if opts.scan_kernels && !operands.iter().any(|&v| f.ty(v).dtype.is_complex()) =>
        {
            Kind::Scan
        }
        _ if psionic_ir::kernel::scalar::is_scalar_op(op.opcode)
            && !operands.iter().any(|&v| f.ty(v).dtype.is_complex()) =>
        {
            Kind::Elementwise
        }
        _ => Kind::Lib,
    }
}

/// True when a `take_along_axis` or `gather` becomes kernel code: static
/// shapes, a non-empty source of a dtype kernels hold (64-bit integer
/// indices are fine: they only address), at least one index, distinct
/// axes and slices of at least one element. Anything else (including what
/// the reference interpreter rejects, such as repeated axes) stays a
/// library op, so its error is the interpreter's.
/// The shape of a gather's source or a scatter's destination (operand 0)
/// when kernels can address it: every operand and result of static shape,
/// operand 0 non-empty and of a dtype kernels hold (not complex; 64-bit
/// integers only with `wide_int_kernels`).
fn addressed_shape(op: &Op, f: &Func, opts: &FusionOptions) -> Option<Vec<usize>> {
    let x = f.ty(op.operands[0]);
    let xs = x.static_shape()?;
    let statics = op
        .operands
        .iter()
        .chain(&op.results)
        .all(|&v| f.ty(v).static_shape().is_some());
    let held = !x.dtype.is_complex() && (opts.wide_int_kernels || !is_wide_int(x.dtype));
    (statics && held && !xs.contains(&0)).then_some(xs)
}

fn gather_fusable(op: &Op, f: &Func, opts: &FusionOptions) -> bool {
    let Some(xs) = addressed_shape(op, f, opts) else {
        return false;
    };
    let indices_ok = op.operands[1..].iter().all(|&i| f.ty(i).dtype.is_integer());
    if !indices_ok || op.operands.len() < 2 {
        return false;
    }
    match op.opcode {
        Opcode::TakeAlongAxis => op
            .attrs
            .int("axis")
            .is_ok_and(|a| a >= 0 && (a as usize) < xs.len()),
        _ => {
            let (Ok(axes), Ok(sizes)) = (op.attrs.ints("axes"), op.attrs.ints("slice_sizes"))
            else {
                return false;
            };
            let distinct = axes.iter().enumerate().all(|(i, a)| !axes[..i].contains(a));
            distinct
                && axes.len() == op.operands.len() - 1
                && axes.iter().all(|&a| a >= 0 && (a as usize) < xs.len())
                && sizes.len() == xs.len()
                && sizes
                    .iter()
                    .zip(&xs)
                    .all(|(&s, &d)| s >= 1 && s as usize <= d)
        }
    }
}

/// The kind of a scatter op's `reduce` attribute on `dtype` (on `bool`,
/// a sum is an `or` and a product an `and`: `max` and `min` of 0 and 1).
fn scatter_kind(op: &Op, dtype: DType) -> Option<ScatterKind> {
    let k = ScatterKind::from_reduce(op.attrs.str("reduce").unwrap_or("none"))?;
    Some(match (k, dtype) {
        (ScatterKind::Sum, DType::Bool) => ScatterKind::Max,
        (ScatterKind::Prod, DType::Bool) => ScatterKind::Min,
        _ => k,
    })
}

/// True when a `scatter`, `scatter_axis` or `dynamic_slice_update` becomes
/// kernel code: static shapes, a non-empty destination of a dtype kernels
/// hold (every backend combines every such dtype: see BACKENDS.md), integer indices,
/// distinct axes in range, a known reduction, and index shapes the
/// reference interpreter accepts. Anything else stays a library op, so
/// its error is the interpreter's.
fn scatter_fusable(op: &Op, f: &Func, opts: &FusionOptions) -> bool {
    let Some(xs) = addressed_shape(op, f, opts) else {
        return false;
    };
    match scatter_kind(op, f.ty(op.operands[0]).dtype) {
        None => return false,
        Some(ScatterKind::Set)
            if !opts.set_scatter_kernels && op.opcode != Opcode::DynamicSliceUpdate =>
        {
            return false
        }
        Some(_) => {}
    }
    let shape = |i: usize| f.ty(op.operands[i]).static_shape().unwrap_or_default();
    let n = op.operands.len();
    let in_range = |a: i64| a >= 0 && (a as usize) < xs.len();
    match op.opcode {
        Opcode::ScatterAxis => {
            let Ok(axis) = op.attrs.int("axis") else {
                return false;
            };
            let is = shape(1);
            in_range(axis)
                && f.ty(op.operands[1]).dtype.is_integer()
                && is.len() == xs.len()
                && shape(2) == is
                && (0..xs.len()).all(|d| d == axis as usize || is[d] <= xs[d])
        }
        Opcode::DynamicSliceUpdate => {
            let Ok(axes) = op.attrs.ints("axes") else {
                return false;
            };
            let us = shape(1);
            let distinct = axes.iter().enumerate().all(|(i, a)| !axes[..i].contains(a));
            distinct
                && axes.iter().all(|&a| in_range(a))
                && f.ty(op.operands[2]).dtype.is_integer()
                && shape(2) == [axes.len()]
                && us.len() == xs.len()
                && us.iter().zip(&xs).all(|(u, x)| u <= x)
        }
        _ => {
            let Ok(axes) = op.attrs.ints("axes") else {
                return false;
            };
            let nidx = n - 2;
            let us = shape(n - 1);
            let q = us.len().wrapping_sub(xs.len());
            let distinct = axes.iter().enumerate().all(|(i, a)| !axes[..i].contains(a));
            distinct
                && axes.len() == nidx
                && axes.iter().all(|&a| in_range(a))
                && us.len() >= xs.len()
                && (1..=nidx)
                    .all(|k| f.ty(op.operands[k]).dtype.is_integer() && shape(k) == us[..q])
                && us[q..].iter().zip(&xs).all(|(u, x)| u <= x)
        }
    }
}

/// True when `acc`, over `domain`, reaches every element of a value of
/// `shape`. A gather is computed inline only where its consumer reads all
/// of it: every index is then checked, as the reference interpreter checks
/// them (a slice of a gather would otherwise skip an out-of-range index).
fn covers(acc: &Access, shape: &[usize], domain: &[usize]) -> bool {
    if domain.contains(&0) {
        return false;
    }
    shape.iter().enumerate().all(|(j, &n)| {
        // The values of `c + sum_i a_i * d_i` are exactly 0..n when, taken
        // by increasing |a_i|, each step is at most one past what the
        // smaller ones reach (a mixed-radix numbering without gaps).
        let mut lo = acc.c[j];
        let mut terms: Vec<(u64, u64)> = Vec::new();
        for (i, &d) in domain.iter().enumerate() {
            let a = acc.a[j][i];
            if a == 0 || d <= 1 {
                continue;
            }
            if a < 0 {
                lo += a * (d as i64 - 1);
            }
            terms.push((a.unsigned_abs(), d as u64 - 1));
        }
        terms.sort_unstable();
        let mut reach = 0u64;
        for (s, ext) in terms {
            if s > reach + 1 {
                return false;
            }
            reach = reach.saturating_add(s.saturating_mul(ext));
        }
        lo == 0 && reach + 1 == n as u64
    })
}

struct Lowering<'f> {
    f: &'f Func,
    opts: FusionOptions,
    /// Producer op index of each value (None for parameters).
    producer: Vec<Option<usize>>,
    uses: Vec<usize>,
    buf_of: HashMap<Value, BufId>,
    /// Materialized values whose item is not built yet, by producer op.
    pending: BTreeMap<usize, ()>,
    /// Items by producer op index (and position among that op's items: a
    /// scatter has two).
    items: BTreeMap<(usize, u8), Item>,
    /// Matmuls whose result became some kernel's epilogue.
    claimed: HashSet<Value>,
    prog: KProgram,
    kernel_names: usize,
    /// The iteration space being emitted (reshape decomposition needs it).
    cur_domain: Vec<usize>,
    /// Current nesting of [`Lowering::emit`].
    depth: usize,
    /// Above 0 while emitting the argument of an accumulator or a scan:
    /// a scan met there is read from memory (running values are only
    /// known in `map` stages, one scan level deep).
    no_scan: usize,
    /// The `[true, false]` constant that selects the part a complex root
    /// stores ([`complex`]).
    part_flags: Option<BufId>,
}

/// How many producers deep one kernel inlines.
const MAX_INLINE_DEPTH: usize = 200;

fn shape_of(t: &TensorType) -> Result<Vec<usize>, FusionError> {
    t.static_shape().ok_or_else(|| {
        FusionError(format!(
            "needs static shapes, found {t}: specialize the function first"
        ))
    })
}

impl<'f> Lowering<'f> {
    fn shape(&self, v: Value) -> Result<Vec<usize>, FusionError> {
        shape_of(self.f.ty(v))
    }
    fn dtype(&self, v: Value) -> DType {
        self.f.ty(v).dtype
    }
    /// Gives `v` a buffer and schedules its item.
    fn request(&mut self, v: Value) -> Result<BufId, FusionError> {
        if let Some(&b) = self.buf_of.get(&v) {
            return Ok(b);
        }
        let p = self.producer[v.index()]
            .ok_or_else(|| FusionError("parameter without a buffer".into()))?;
        let op = &self.f.ops[p];
        // Constants live in constant buffers, built at once.
        if op.opcode == Opcode::Constant {
            let mut lit = op.attrs.dense("value").map_err(FusionError)?.clone();
            let ty = pairs::paired(self.f.ty(v));
            if lit.dtype().is_complex() {
                // The same bytes, as f32 pairs.
                lit = Literal::from_bytes(DType::F32, self.pshape(v)?, lit.bytes().to_vec())
                    .map_err(|e| FusionError(e.to_string()))?;
            }
            let b = self.prog.add_buffer(ty, BufferKind::Const(lit));
            self.buf_of.insert(v, b);
            return Ok(b);
        }
        for &r in &op.results {
            shape_of(self.f.ty(r))?;
            let b = self
                .prog
                .add_buffer(pairs::paired(self.f.ty(r)), BufferKind::Temp);
            self.buf_of.insert(r, b);
        }
        self.pending.insert(p, ());
        Ok(self.buf_of[&v])
    }

    fn new_name(&mut self) -> String {
        self.kernel_names += 1;
        format!("k{}", self.kernel_names - 1)
    }

    /// Builds the item of the materialized value(s) of op `p`.
    fn build(&mut self, p: usize) -> Result<(), FusionError> {
        let op = self.f.ops[p].clone();
        let kind = kind_of(&op, self.f, &self.opts);
        let root = op.results[0];
        if self.claimed.contains(&root) {
            return Ok(());
        }
        match kind {
            Kind::Lib => {
                let inputs = op
                    .operands
                    .iter()
                    .map(|&v| self.request(v))
                    .collect::<Result<Vec<_>, _>>()?;
                let outputs = op.results.iter().map(|r| self.buf_of[r]).collect();
                // Complex operands and results live in f32 pair buffers.
                let complex: Vec<bool> = op
                    .operands
                    .iter()
                    .chain(&op.results)
                    .map(|&v| self.dtype(v).is_complex())
                    .collect();
                self.items.insert(
                    (p, 0),
                    Item::LibOp(LibOp {
                        opcode: op.opcode,
                        attrs: pairs::with_pairs(&op.attrs, &complex),
                        inputs,
                        outputs,
                    }),
                );
            }
            Kind::Scatter => self.build_scatter(p)?,
            Kind::Matmul => {
                let out = self.buf_of[&root];
                let shape = self.shape(root)?;
                let dtype = self.dtype(root);
                let epilogue = vec![
                    Node {
                        id: 0,
                        dtype,
                        instr: Instr::MatmulResult,
                    },
                    Node {
                        id: 1,
                        dtype,
                        instr: Instr::Store {
                            buf: out,
                            map: IndexMap::row_major(&shape),
                            arg: 0,
                        },
                    },
                ];
                let mm = self.matmul_call(p, epilogue)?;
                self.items.insert((p, 0), Item::Matmul(mm));
            }
            _ => {
                // Attempts may request buffers that a later attempt does
                // not need: each retry starts from this snapshot.
                let snap = (self.pending.clone(), self.buf_of.clone());
                // A reverse scan root runs forward over its flipped axis.
                let flip = match kind {
                    Kind::Scan => scan_attrs(&op, &self.shape(op.operands[0])?)?
                        .filter(|&(_, rev, _)| rev)
                        .map(|(axis, _, _)| axis),
                    _ => None,
                };
                let claim = self.opts.matmul_epilogues && self.opts.fuse;
                let mut built = self.build_kernel(root, claim, None, flip)?;
                let gathers =
                    |kb: &KBuild| kb.nodes.iter().any(|n| matches!(n.0, BNode::Gather(..)));
                if built.claimed.is_some()
                    && (built.reduce.as_ref().is_some_and(|r| !r.is_empty()) || gathers(&built))
                {
                    (self.pending, self.buf_of) = snap.clone();
                    built = self.build_kernel(root, false, None, flip)?;
                }
                // An elementwise root reading a reverse scan: iterate the
                // root's domain with that axis flipped, so the scan runs
                // forward inside this kernel.
                // Taken when it reads fewer values from memory (forward
                // scans of the same root may no longer fit).
                if let (Some(ax), None) = (built.flip_wish, flip) {
                    let keep = (self.pending.clone(), self.buf_of.clone());
                    (self.pending, self.buf_of) = snap.clone();
                    match self.build_kernel(root, false, None, Some(ax)) {
                        Ok(flipped)
                            if flipped.wish.is_none()
                                && flipped.claimed.is_none()
                                && self.pending.len() < keep.0.len() =>
                        {
                            built = flipped
                        }
                        _ => (self.pending, self.buf_of) = keep,
                    }
                }
                if let Some(rd) = built.wish.clone() {
                    let keep = (self.pending.clone(), self.buf_of.clone());
                    (self.pending, self.buf_of) = snap.clone();
                    match self.build_kernel(root, false, Some(&rd), None) {
                        Ok(wider)
                            if wider.reduce.is_some()
                                && wider.wish.is_none()
                                && wider.claimed.is_none() =>
                        {
                            built = wider
                        }
                        _ => (self.pending, self.buf_of) = keep,
                    }
                }
                match built.claimed {
                    Some(m) => {
                        let mp = self.producer[m.index()]
                            .ok_or_else(|| FusionError("matmul without producer".into()))?;
                        let (stages, _) = schedule(&built);
                        let epilogue = stages.into_iter().flat_map(|s| s.nodes).collect();
                        let mm = self.matmul_call(mp, epilogue)?;
                        self.claimed.insert(m);
                        self.pending.remove(&mp);
                        self.items.insert((p, 0), Item::Matmul(mm));
                    }
                    None => {
                        let (stages, reduce) = schedule(&built);
                        let name = self.new_name();
                        self.items.insert(
                            (p, 0),
                            Item::Kernel(Kernel {
                                name,
                                domain: built.domain.clone(),
                                reduce_axes: reduce,
                                stages,
                            }),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn matmul_call(&mut self, p: usize, epilogue: Vec<Node>) -> Result<MatmulCall, FusionError> {
        let op = self.f.ops[p].clone();
        let (a, b) = (op.operands[0], op.operands[1]);
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        let r = sa.len();
        let saved = std::mem::replace(&mut self.cur_domain, sa.clone());
        let (a, a_map) = self.resolve_buffer(a, &Access::identity(r))?;
        self.cur_domain = sb.clone();
        let (b, b_map) = self.resolve_buffer(b, &Access::identity(r))?;
        self.cur_domain = saved;
        let name = self.new_name();
        Ok(MatmulCall {
            name,
            a,
            a_map,
            b,
            b_map,
            batch: sa[..r - 2].to_vec(),
            m: sa[r - 2],
            n: sb[r - 1],
            k: sa[r - 1],
            dtype: self.dtype(op.results[0]),
            epilogue,
        })
    }

    /// A buffer and map reading `v` through `acc`, following only views.
    fn resolve_buffer(&mut self, v: Value, acc: &Access) -> Result<(BufId, IndexMap), FusionError> {
        let ndom = acc.a.first().map(|r| r.len()).unwrap_or(0);
        let shape = self.shape(v)?;
        if let Some(&b) = self.buf_of.get(&v) {
            return Ok((b, acc.flat(&shape, ndom)));
        }
        if self.opts.fuse {
            if let Some(p) = self.producer[v.index()] {
                let op = &self.f.ops[p];
                if kind_of(op, self.f, &self.opts) == Kind::View {
                    let x = op.operands[0];
                    if let Some(inner) = self.view_access(p, acc, ndom)? {
                        return self.resolve_buffer(x, &inner);
                    }
                    // Not affine in the operand's axes but in its flat
                    // order (a reshape that splits or merges a domain
                    // axis, an overlapping `as_strided`): read the
                    // operand's buffer instead of copying the view.
                    if let Some(m) = self.view_flat(p, acc, ndom)? {
                        let b = self.request(x)?;
                        return Ok((b, m));
                    }
                }
            }
        }
        let b = self.request(v)?;
        Ok((b, acc.flat(&shape, ndom)))
    }

    /// The access to the operand of view op `p` given the access to its
    /// result, or None when it is not affine.
    fn view_access(
        &self,
        p: usize,
        acc: &Access,
        ndom: usize,
    ) -> Result<Option<Access>, FusionError> {
        use Opcode as O;
        let op = &self.f.ops[p];
        let x = op.operands[0];
        let xs = self.shape(x)?;
        let ws = self.shape(op.results[0])?;
        let ints = |n: &str| op.attrs.ints(n).map(|v| v.to_vec()).map_err(FusionError);
        let out = match op.opcode {
            O::Transpose => {
                let perm = ints("perm")?;
                let mut c = vec![0; xs.len()];
                let mut a = vec![Access::zero_row(ndom); xs.len()];
                for (i, &pi) in perm.iter().enumerate() {
                    c[pi as usize] = acc.c[i];
                    a[pi as usize] = acc.a[i].clone();
                }
                Access { c, a }
            }
            O::Broadcast | O::BroadcastLike => {
                let off = ws.len() - xs.len();
                let mut out = Access {
                    c: vec![],
                    a: vec![],
                };
                for (k, &d) in xs.iter().enumerate() {
                    if d == 1 && ws[k + off] != 1 {
                        out.c.push(0);
                        out.a.push(Access::zero_row(ndom));
                    } else {
                        out.c.push(acc.c[k + off]);
                        out.a.push(acc.a[k + off].clone());
                    }
                }
                out
            }
            O::ExpandDims => {
                let axes = ints("axes")?;
                let mut out = Access {
                    c: vec![],
                    a: vec![],
                };
                for j in 0..ws.len() {
                    if !axes.contains(&(j as i64)) {
                        out.c.push(acc.c[j]);
                        out.a.push(acc.a[j].clone());
                    }
                }
                out
            }
            O::Squeeze => {
                let axes = ints("axes")?;
                let mut out = Access {
                    c: vec![],
                    a: vec![],
                };
                let mut j = 0;
                for k in 0..xs.len() {
                    if axes.contains(&(k as i64)) {
                        out.c.push(0);
                        out.a.push(Access::zero_row(ndom));
                    } else {
                        out.c.push(acc.c[j]);
                        out.a.push(acc.a[j].clone());
                        j += 1;
                    }
                }
                out
            }
            O::Slice => {
                let start = ints("start")?;
                let strides = ints("strides")?;
                let mut out = acc.clone();
                for j in 0..xs.len() {
                    out.c[j] = start[j] + strides[j] * acc.c[j];
                    for a in out.a[j].iter_mut() {
                        *a *= strides[j];
                    }
                }
                out
            }
            O::Flip => {
                let axes = ints("axes")?;
                let mut out = acc.clone();
                for &ax in &axes {
                    let j = ax as usize;
                    out.c[j] = xs[j] as i64 - 1 - acc.c[j];
                    for a in out.a[j].iter_mut() {
                        *a = -*a;
                    }
                }
                out
            }
            O::Reshape | O::Flatten | O::Unflatten | O::AsStrided => {
                let flat = self
                    .view_flat(p, acc, ndom)?
                    .ok_or_else(|| FusionError("a flat view without a flat map".into()))?;
                return Ok(self.decompose_for(&flat, &xs));
            }
            _ => return Ok(None),
        };
        Ok(Some(out))
    }

    /// For views that address their operand through its flat (row-major)
    /// element order, the flat map reading the operand for `acc` on the
    /// view's result: a reshape keeps row-major order, so the flat address
    /// carries over; `as_strided` is an affine map of the result index.
    /// None for the other views.
    fn view_flat(
        &self,
        p: usize,
        acc: &Access,
        ndom: usize,
    ) -> Result<Option<IndexMap>, FusionError> {
        use Opcode as O;
        let op = &self.f.ops[p];
        Ok(match op.opcode {
            O::Reshape | O::Flatten | O::Unflatten => {
                Some(acc.flat(&self.shape(op.results[0])?, ndom))
            }
            O::AsStrided => {
                let strides = op.attrs.ints("strides").map_err(FusionError)?;
                let mut m = IndexMap {
                    offset: op.attrs.int("offset").map_err(FusionError)?,
                    strides: vec![0; ndom],
                };
                for (i, &s) in strides.iter().enumerate() {
                    m.offset += s * acc.c[i];
                    for (j, t) in m.strides.iter_mut().enumerate() {
                        *t += s * acc.a[i][j];
                    }
                }
                Some(m)
            }
            _ => None,
        })
    }

    fn decompose_for(&self, flat: &IndexMap, xs: &[usize]) -> Option<Access> {
        decompose(flat, xs, &self.cur_domain)
    }
}

// The domain of the kernel being built (read by reshape decomposition).
impl<'f> Lowering<'f> {
    fn build_kernel(
        &mut self,
        root: Value,
        allow_claim: bool,
        row_domain: Option<&RowDomain>,
        flip: Option<usize>,
    ) -> Result<KBuild, FusionError> {
        let root_op = self.producer[root.index()]
            .ok_or_else(|| FusionError("root without producer".into()))?;
        let op = self.f.ops[root_op].clone();
        let kind = kind_of(&op, self.f, &self.opts);
        let out_buf = self.buf_of[&root];
        // A complex root iterates its pairs (`[S..., 2]`).
        let rshape = self.pshape(root)?;
        // A reduction root iterates its operand's shape; so does a root
        // computed from a reduction's result (`row_domain`).
        let own_row = if kind == Kind::Reduce && op.opcode != Opcode::Softmax {
            Some(RowDomain {
                domain: self.pshape(op.operands[0])?,
                axes: op
                    .attrs
                    .ints("axes")
                    .map_err(FusionError)?
                    .iter()
                    .map(|&a| a as usize)
                    .collect(),
                keepdims: op.attrs.bool("keepdims").unwrap_or(false),
            })
        } else {
            None
        };
        let rooted = match (&own_row, row_domain) {
            (None, Some(rd)) => {
                // Root element `p` (row-major) is computed at the outer point
                // whose row-major index is `p`: same count, same order as
                // the reduction it was asked for.
                let mut store = IndexMap {
                    offset: 0,
                    strides: vec![0; rd.domain.len()],
                };
                let mut stride = 1i64;
                for k in (0..rd.domain.len()).rev() {
                    if !rd.axes.contains(&k) {
                        store.strides[k] = stride;
                        stride *= rd.domain[k] as i64;
                    }
                }
                let store = canon(store, &rd.domain);
                if stride as usize != rshape.iter().product::<usize>() {
                    return ferr("row domain does not match the root's size");
                }
                let access = decompose(&store, &rshape, &rd.domain)
                    .ok_or_else(|| FusionError("row domain does not decompose".into()))?;
                Some((rd.domain.clone(), access, store))
            }
            _ => None,
        };
        let (domain, access, store_map) = if let Some(r) = rooted {
            r
        } else if let Some(rd) = own_row.as_ref() {
            let xs = rd.domain.clone();
            let (axes, keep) = (&rd.axes, rd.keepdims);
            let rs = row_major_strides(&rshape);
            let n = xs.len();
            let mut acc = Access {
                c: vec![],
                a: vec![],
            };
            let mut store = IndexMap {
                offset: 0,
                strides: vec![0; n],
            };
            let mut j = 0;
            for k in 0..n {
                let red = axes.contains(&k);
                if red && !keep {
                    continue;
                }
                acc.c.push(0);
                let mut row = vec![0; n];
                if !red {
                    row[k] = 1;
                    store.strides[k] = rs[j] as i64;
                }
                acc.a.push(row);
                j += 1;
            }
            (xs, acc, store)
        } else {
            let n = rshape.len();
            let mut access = Access::identity(n);
            if let Some(ax) = flip.filter(|&ax| ax < n && rshape[ax] > 0) {
                access.c[ax] = rshape[ax] as i64 - 1;
                access.a[ax][ax] = -1;
            }
            let store = access.flat(&rshape, n);
            (rshape.clone(), access, store)
        };
        let mut kb = self.new_kbuild(domain);
        kb.allow_claim = allow_claim;
        let v = self.emit(&mut kb, root, &access, true, Some(root))?;
        let store_map = canon(store_map, &kb.domain);
        kb.stores.push((out_buf, store_map, v));
        online_accumulators(&mut kb);
        Ok(kb)
    }

    /// Emits the scalar node computing `v` at `acc` into `kb`.
    fn emit(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        if let Some(&n) = kb.memo.get(&(v, acc.clone())) {
            return Ok(n);
        }
        // Deep chains are cut into kernels of bounded depth (and bounded
        // recursion): past the limit, the value is read from memory.
        if self.depth >= MAX_INLINE_DEPTH && root != Some(v) && self.producer[v.index()].is_some() {
            return self.load(kb, v, acc);
        }
        self.depth += 1;
        let n = self.emit_uncached(kb, v, acc, single, root);
        self.depth -= 1;
        let n = n?;
        kb.memo.insert((v, acc.clone()), n);
        Ok(n)
    }

    fn load(&mut self, kb: &mut KBuild, v: Value, acc: &Access) -> Result<u32, FusionError> {
        let b = self.request(v)?;
        let shape = self.pshape(v)?;
        let m = acc.flat(&shape, kb.domain.len());
        Ok(kb.add(BNode::Load(b, m), self.kdtype(v)))
    }

    fn emit_uncached(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let d = self.kdtype(v);
        let ndom = kb.domain.len();
        let Some(p) = self.producer[v.index()] else {
            return self.load(kb, v, acc);
        };
        let op = self.f.ops[p].clone();
        let kind = kind_of(&op, self.f, &self.opts);
        let is_root = root == Some(v);
        // Matmul results may become this kernel's epilogue input.
        if kind == Kind::Matmul && !is_root {
            if kb.allow_claim
                && !self.buf_of.contains_key(&v)
                && kb.claimed.is_none()
                && single
                && self.uses[v.index()] == 1
                && acc.is_identity()
                && self.shape(v)? == kb.domain
                && !self.claimed.contains(&v)
            {
                kb.claimed = Some(v);
                return Ok(kb.add(BNode::MatmulResult, d));
            }
            return self.load(kb, v, acc);
        }
        if !is_root && (self.buf_of.contains_key(&v) || !self.opts.fuse) {
            if kind == Kind::Creation && self.opts.fuse {
                // fall through: constants fold into the kernel.
            } else {
                return self.load(kb, v, acc);
            }
        }
        let single_of = |this: &Self, x: Value| single && this.uses[x.index()] == 1;
        if self.dtype(v).is_complex() && matches!(kind, Kind::View | Kind::Creation) {
            return self.emit_complex(kb, v, &op, kind, acc, single, root);
        }
        match kind {
            Kind::Complex => self.emit_complex(kb, v, &op, kind, acc, single, root),
            Kind::Creation => {
                if op.opcode == Opcode::Full {
                    let val = op.attrs.float("value").map_err(FusionError)?;
                    return Ok(kb.cnst(val, d));
                }
                let lit = op.attrs.dense("value").map_err(FusionError)?;
                // Kernel constants are f64: a 64-bit integer an f64 does not
                // hold exactly stays in its buffer.
                let exact = |s: &Literal| !is_wide_int(d) || (s.get_f64(0) as i64) == s.get_i64(0);
                if let Some(s) = lit.splat_value().filter(|s| !d.is_complex() && exact(s)) {
                    return Ok(kb.cnst(s.get_f64(0), d));
                }
                self.load(kb, v, acc)
            }
            Kind::Elementwise => {
                let mut args = Vec::new();
                for &x in &op.operands {
                    let s = single_of(self, x);
                    args.push(self.emit(kb, x, acc, s, root)?);
                }
                Ok(kb.add(BNode::Op(op.opcode, op.attrs.clone(), args), d))
            }
            Kind::View => {
                let x = op.operands[0];
                if !is_root && !self.opts.fuse {
                    return self.load(kb, v, acc);
                }
                match self.view_access(p, acc, ndom)? {
                    Some(inner) => {
                        let s = single_of(self, x);
                        self.emit(kb, x, &inner, s, root)
                    }
                    None => {
                        // Not affine in the operand's axes: read it from memory.
                        let m = self
                            .view_flat(p, acc, ndom)?
                            .ok_or_else(|| FusionError("a view without an access".into()))?;
                        let b = self.request(x)?;
                        Ok(kb.add(BNode::Load(b, m), d))
                    }
                }
            }
            Kind::Reduce => {
                let x = op.operands[0];
                // A complex sum reduces its pairs, the pair axis kept.
                let xs = self.pshape(x)?;
                let axes: Vec<usize> = op
                    .attrs
                    .ints("axes")
                    .map_err(FusionError)?
                    .iter()
                    .map(|&a| a as usize)
                    .collect();
                let keep = op.attrs.bool("keepdims").unwrap_or(false);
                // Which domain axis each kept result axis must follow.
                let fits = xs == kb.domain
                    && kb.reduce.as_ref().is_none_or(|r| *r == axes)
                    && if op.opcode == Opcode::Softmax {
                        acc.is_identity()
                    } else {
                        let mut ok = true;
                        let mut j = 0;
                        for k in 0..xs.len() {
                            let red = axes.contains(&k);
                            if red && !keep {
                                continue;
                            }
                            let want: Vec<i64> =
                                (0..ndom).map(|i| (i == k && !red) as i64).collect();
                            // Size-1 axes never move: their coefficients do not matter.
                            ok &= acc.c[j] == 0
                                && (0..ndom).all(|i| kb.domain[i] == 1 || acc.a[j][i] == want[i]);
                            j += 1;
                        }
                        ok
                    };
                if !fits || (!is_root && !self.opts.fuse) {
                    // A row-shaped root reading a full row reduction could
                    // iterate the reduction's domain instead.
                    if self.opts.fuse
                        && kb.wish.is_none()
                        && kb.reduce.is_none()
                        && op.opcode != Opcode::Softmax
                        && xs != kb.domain
                        && acc.flat(&self.pshape(v)?, ndom) == IndexMap::row_major(&kb.domain)
                    {
                        kb.wish = Some(RowDomain {
                            domain: xs.clone(),
                            axes: axes.clone(),
                            keepdims: keep,
                        });
                    }
                    return self.load(kb, v, acc);
                }
                // Kept even if this reduction is then read from memory:
                // nodes emitted for `x` (memoized) may be accumulators.
                kb.reduce = Some(axes);
                let s = single_of(self, x);
                let xa = Access::identity(ndom);
                self.no_scan += 1;
                let xn = self.emit(kb, x, &xa, s, root);
                self.no_scan -= 1;
                let xn = xn?;
                if (kb.depth[xn as usize] >= MAX_LOOPS || kb.scanned[xn as usize]) && !is_root {
                    return self.load(kb, v, acc);
                }
                if kb.scanned[xn as usize] {
                    return ferr("internal: a reduction root over a scan");
                }
                let xd = self.kdtype(x);
                use Opcode as O;
                Ok(match op.opcode {
                    O::ReduceSum | O::ReduceProd => {
                        let k = if op.opcode == O::ReduceSum {
                            AccKind::Sum
                        } else {
                            AccKind::Prod
                        };
                        let xn = if xd != d {
                            kb.add(
                                BNode::Op(
                                    O::Cast,
                                    Attrs::new().with("dtype", Attr::DType(d)),
                                    vec![xn],
                                ),
                                d,
                            )
                        } else {
                            xn
                        };
                        kb.add(BNode::Acc(k, xn), d)
                    }
                    O::ReduceMax => kb.add(BNode::Acc(AccKind::Max, xn), d),
                    O::ReduceMin => kb.add(BNode::Acc(AccKind::Min, xn), d),
                    O::ReduceAll | O::ReduceAny => {
                        let z = kb.cnst(0.0, xd);
                        let nz = kb.add(
                            BNode::Op(O::NotEqual, Attrs::new(), vec![xn, z]),
                            DType::Bool,
                        );
                        let k = if op.opcode == O::ReduceAll {
                            AccKind::Min
                        } else {
                            AccKind::Max
                        };
                        kb.add(BNode::Acc(k, nz), DType::Bool)
                    }
                    O::LogSumExp => kb.add(BNode::Acc(AccKind::LogSumExp, xn), d),
                    O::Softmax => {
                        // exp(x - lse), with lse + (lse - lse) for lse: a
                        // row holding +inf has lse = +inf, and MLX's
                        // `exp(x - max) / sum` is NaN for all of it (inf -
                        // inf in the sum), where exp(x - inf) would give 0
                        // for the finite entries. The per-row correction is
                        // +0 for a finite lse and NaN otherwise.
                        let lse = kb.add(BNode::Acc(AccKind::LogSumExp, xn), d);
                        let nan_if_inf =
                            kb.add(BNode::Op(O::Subtract, Attrs::new(), vec![lse, lse]), d);
                        let lse = kb.add(BNode::Op(O::Add, Attrs::new(), vec![lse, nan_if_inf]), d);
                        let sub = kb.add(BNode::Op(O::Subtract, Attrs::new(), vec![xn, lse]), d);
                        kb.add(BNode::Op(O::Exp, Attrs::new(), vec![sub]), d)
                    }
                    other => return ferr(format!("`{other}` is not a fusable reduction")),
                })
            }
            Kind::Scan => self.emit_scan(kb, v, &op, acc, single, root),
            Kind::Gather => {
                if !is_root && !covers(acc, &self.shape(v)?, &kb.domain) {
                    return self.load(kb, v, acc);
                }
                self.emit_gather(kb, &op, acc, single, root)
            }
            Kind::Pad | Kind::Concat => self.emit_guarded(kb, v, &op, acc, is_root, root),
            Kind::Matmul | Kind::Lib | Kind::Scatter => self.load(kb, v, acc),
        }
    }

    /// A kernel under construction over `domain`.
    fn new_kbuild(&mut self, domain: Vec<usize>) -> KBuild {
        self.cur_domain = domain.clone();
        KBuild {
            domain,
            depth: Vec::new(),
            reduce: None,
            nodes: Vec::new(),
            scanned: Vec::new(),
            dedup: HashMap::new(),
            memo: HashMap::new(),
            stores: Vec::new(),
            scatters: Vec::new(),
            claimed: None,
            allow_claim: false,
            wish: None,
            flip_wish: None,
        }
    }

    /// Builds the two items of scatter op `p`: a kernel copying the
    /// destination (computed inline) into the result's buffer, then one
    /// over the updates' domain that scatters each update (computed inline,
    /// as are its indices) into that buffer. The second is left out when
    /// there are no updates (the reference interpreter then checks no
    /// index either).
    fn build_scatter(&mut self, p: usize) -> Result<(), FusionError> {
        let op = self.f.ops[p].clone();
        let root = op.results[0];
        let out = self.buf_of[&root];
        let xs = self.shape(root)?;
        let dtype = self.dtype(root);
        let r = xs.len();
        let rs: Vec<i64> = row_major_strides(&xs)
            .into_iter()
            .map(|s| s as i64)
            .collect();
        let mut kb = self.new_kbuild(xs.clone());
        let v = self.emit(&mut kb, op.operands[0], &Access::identity(r), false, None)?;
        kb.stores
            .push((out, canon(IndexMap::row_major(&xs), &xs), v));
        online_accumulators(&mut kb);
        let (stages, reduce_axes) = schedule(&kb);
        let name = self.new_name();
        self.items.insert(
            (p, 0),
            Item::Kernel(Kernel {
                name,
                domain: xs.clone(),
                reduce_axes,
                stages,
            }),
        );
        let n = op.operands.len();
        let upd = match op.opcode {
            Opcode::DynamicSliceUpdate => op.operands[1],
            _ => op.operands[n - 1],
        };
        let us = self.shape(upd)?;
        if us.contains(&0) {
            return Ok(());
        }
        let kind = scatter_kind(&op, dtype)
            .ok_or_else(|| FusionError(format!("`{}`: unknown reduction", op.opcode)))?;
        let mut kb = self.new_kbuild(us.clone());
        // No loops: a reduction or scan among the updates' producers is
        // read from memory.
        kb.reduce = Some(vec![]);
        let nd = us.len();
        let value = self.emit(&mut kb, upd, &Access::identity(nd), false, None)?;
        let ints = |name: &str| -> Result<Vec<usize>, FusionError> {
            Ok(op
                .attrs
                .ints(name)
                .map_err(FusionError)?
                .iter()
                .map(|&a| a as usize)
                .collect())
        };
        // Per index: (index node, axis, slice, clamp); the static map.
        let mut terms: Vec<(u32, usize, usize, bool)> = Vec::new();
        let mut map = IndexMap {
            offset: 0,
            strides: vec![0; nd],
        };
        match op.opcode {
            Opcode::ScatterAxis => {
                let axis = op.attrs.int("axis").map_err(FusionError)? as usize;
                let i = self.emit(&mut kb, op.operands[1], &Access::identity(nd), false, None)?;
                terms.push((i, axis, 1, false));
                for d in 0..r {
                    if d != axis {
                        map.strides[d] = rs[d];
                    }
                }
            }
            Opcode::DynamicSliceUpdate => {
                for (k, a) in ints("axes")?.into_iter().enumerate() {
                    let at = Access {
                        c: vec![k as i64],
                        a: vec![Access::zero_row(nd)],
                    };
                    let i = self.emit(&mut kb, op.operands[2], &at, false, None)?;
                    terms.push((i, a, us[a], true));
                }
                map.strides = rs.clone();
            }
            _ => {
                let q = nd - r;
                let mut ia = Access {
                    c: vec![0; q],
                    a: vec![],
                };
                for j in 0..q {
                    ia.a.push((0..nd).map(|i| (i == j) as i64).collect());
                }
                for (k, a) in ints("axes")?.into_iter().enumerate() {
                    let i = self.emit(&mut kb, op.operands[1 + k], &ia, false, None)?;
                    terms.push((i, a, us[q + a], false));
                }
                map.strides[q..].copy_from_slice(&rs);
            }
        }
        let index = terms
            .into_iter()
            .map(|(arg, a, slice, clamp)| DynIndex {
                arg,
                stride: rs[a],
                dim: xs[a],
                slice,
                axis: a as u32,
                clamp,
            })
            .collect();
        let map = canon(map, &kb.domain);
        kb.scatters.push((out, map, index, kind, value));
        let (stages, reduce_axes) = schedule(&kb);
        if !reduce_axes.is_empty() {
            return ferr("internal: a scatter kernel with reduced axes");
        }
        let name = self.new_name();
        self.items.insert(
            (p, 1),
            Item::Kernel(Kernel {
                name,
                domain: us,
                reduce_axes,
                stages,
            }),
        );
        Ok(())
    }

    /// Emits a `take_along_axis` or `gather` at `acc`: its indices inline,
    /// its source through [`Lowering::resolve_buffer`] over the kernel's
    /// domain extended by one axis per index (the range of valid indices),
    /// whose strides become the gather's dynamic strides.
    fn emit_gather(
        &mut self,
        kb: &mut KBuild,
        op: &Op,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let x = op.operands[0];
        let xs = self.shape(x)?;
        let ndom = kb.domain.len();
        let nidx = op.operands.len() - 1;
        let ext_row = |row: &[i64], k: Option<usize>| -> Vec<i64> {
            let mut r = row.to_vec();
            r.extend((0..nidx).map(|e| (Some(e) == k) as i64));
            r
        };
        // Per index: (source axis, slice size).
        let (axes, slices, idx_acc, src): (Vec<usize>, Vec<usize>, Access, Access) = match op.opcode
        {
            Opcode::TakeAlongAxis => {
                let axis = op.attrs.int("axis").map_err(FusionError)? as usize;
                let mut src = Access {
                    c: vec![],
                    a: vec![],
                };
                for a in 0..xs.len() {
                    if a == axis {
                        src.c.push(0);
                        src.a.push(ext_row(&Access::zero_row(ndom), Some(0)));
                    } else {
                        src.c.push(acc.c[a]);
                        src.a.push(ext_row(&acc.a[a], None));
                    }
                }
                (vec![axis], vec![1], acc.clone(), src)
            }
            _ => {
                let axes: Vec<usize> = op
                    .attrs
                    .ints("axes")
                    .map_err(FusionError)?
                    .iter()
                    .map(|&a| a as usize)
                    .collect();
                let sizes: Vec<usize> = op
                    .attrs
                    .ints("slice_sizes")
                    .map_err(FusionError)?
                    .iter()
                    .map(|&s| s as usize)
                    .collect();
                // Result axes: the indices' axes, then the slice's.
                let q = acc.c.len() - xs.len();
                let idx_acc = Access {
                    c: acc.c[..q].to_vec(),
                    a: acc.a[..q].to_vec(),
                };
                let mut src = Access {
                    c: vec![],
                    a: vec![],
                };
                for a in 0..xs.len() {
                    src.c.push(acc.c[q + a]);
                    src.a
                        .push(ext_row(&acc.a[q + a], axes.iter().position(|&b| b == a)));
                }
                let slices = axes.iter().map(|&a| sizes[a]).collect();
                (axes, slices, idx_acc, src)
            }
        };
        let mut args = Vec::with_capacity(nidx);
        for k in 0..nidx {
            let i = op.operands[1 + k];
            let s = single && self.uses[i.index()] == 1;
            args.push(self.emit(kb, i, &idx_acc, s, root)?);
        }
        let mut ext = kb.domain.clone();
        ext.extend((0..nidx).map(|k| xs[axes[k]] - slices[k] + 1));
        let saved = std::mem::replace(&mut self.cur_domain, ext);
        let resolved = self.resolve_buffer(x, &src);
        self.cur_domain = saved;
        let (b, m) = resolved?;
        let index = (0..nidx)
            .map(|k| DynIndex {
                arg: args[k],
                stride: m.strides[ndom + k],
                dim: xs[axes[k]],
                slice: slices[k],
                axis: axes[k] as u32,
                clamp: false,
            })
            .collect();
        let map = IndexMap {
            offset: m.offset,
            strides: m.strides[..ndom].to_vec(),
        };
        Ok(kb.add(BNode::Gather(b, map, index), self.dtype(op.results[0])))
    }

    /// Emits `tensor.pad` or `tensor.concatenate` (result `v`) at `acc`:
    /// each data operand is read through a guarded load over the box of
    /// domain indices where `acc` falls inside it (inline when that box is
    /// the whole domain, skipped when it is empty); the pad value, or for a
    /// concatenation the previous piece, fills the rest. When a box is not
    /// rectangular in the domain (a view mixing domain axes), the result is
    /// read from memory instead.
    fn emit_guarded(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        op: &Op,
        acc: &Access,
        is_root: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let d = self.dtype(v);
        let vs = self.shape(v)?;
        // (operand, range of the result it covers on each axis: lo, hi)
        let mut pieces: Vec<(Value, Vec<i64>, Vec<i64>)> = Vec::new();
        if op.opcode == Opcode::Pad {
            let low = op.attrs.ints("low").map_err(FusionError)?.to_vec();
            let xs = self.shape(op.operands[0])?;
            let hi = low.iter().zip(&xs).map(|(&l, &n)| l + n as i64).collect();
            pieces.push((op.operands[0], low, hi));
        } else {
            let rank = vs.len() as i64;
            let ax = op.attrs.int("axis").map_err(FusionError)?;
            let ax = if ax < 0 { ax + rank } else { ax } as usize;
            let mut off = 0i64;
            for &x in &op.operands {
                let n = self.shape(x)?[ax] as i64;
                let mut lo = vec![0i64; vs.len()];
                let mut hi: Vec<i64> = vs.iter().map(|&s| s as i64).collect();
                lo[ax] = off;
                hi[ax] = off + n;
                off += n;
                pieces.push((x, lo, hi));
            }
        }
        let mut guards = Vec::new();
        for (x, lo, hi) in &pieces {
            match guard_box(acc, lo, hi, &kb.domain) {
                Some(g) => guards.push((*x, lo.clone(), g)),
                None if is_root => return ferr(format!("`{}` root read outside a box", op.opcode)),
                None => return self.load(kb, v, acc),
            }
        }
        let mut fill = if op.opcode == Opcode::Pad {
            self.emit(
                kb,
                op.operands[1],
                &Access {
                    c: vec![],
                    a: vec![],
                },
                false,
                root,
            )?
        } else {
            // Never read: the pieces cover the whole result.
            kb.cnst(0.0, d)
        };
        for (x, lo, g) in guards {
            let Guard::Box(blo, bhi) = g else { continue };
            let mut inner = acc.clone();
            for (c, &l) in inner.c.iter_mut().zip(&lo) {
                *c -= l;
            }
            let whole = blo.iter().all(|&l| l == 0)
                && bhi.iter().zip(&kb.domain).all(|(&h, &n)| h == n as i64);
            if whole {
                // Every read is inside the operand: compute it inline.
                return self.emit(kb, x, &inner, false, root);
            }
            let (b, m) = self.resolve_buffer(x, &inner)?;
            fill = kb.add(BNode::LoadOr(b, m, blo, bhi, fill), d);
        }
        Ok(fill)
    }

    /// Emits scan op `op` (result `v`) at `acc`: a forward [`BNode::Scan`]
    /// along the domain axis that the scanned axis follows (backwards for
    /// a reverse scan), or a load when it cannot run in this kernel.
    fn emit_scan(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        op: &Op,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        use Opcode as O;
        let is_root = root == Some(v);
        let x = op.operands[0];
        let xs = self.shape(x)?;
        let Some((axis, reverse, inclusive)) = scan_attrs(op, &xs)? else {
            return self.load(kb, v, acc);
        };
        let n = xs[axis] as i64;
        // The domain axis the scanned axis follows, forwards or backwards.
        let ndom = kb.domain.len();
        let follow = (0..ndom).find_map(|i| {
            if kb.domain[i] as i64 != n {
                return None;
            }
            let coef = acc.a[axis][i];
            let others_fixed = (0..ndom)
                .all(|k| k == i || kb.domain[k] <= 1 || acc.a[axis][k] == 0)
                && (0..acc.a.len()).all(|j| j == axis || n <= 1 || acc.a[j][i] == 0);
            let forward = coef == 1 && acc.c[axis] == 0;
            let backward = coef == -1 && acc.c[axis] == n - 1;
            (others_fixed && (forward || backward)).then_some((i, backward))
        });
        let fits = self.no_scan == 0
            && follow.is_some_and(|(i, _)| kb.reduce.as_ref().is_none_or(|r| *r == [i]));
        let (i, backward) = match follow {
            Some(f) if fits => f,
            _ => return self.load(kb, v, acc),
        };
        if backward != (reverse && n > 0) {
            if kb.flip_wish.is_none() && kb.reduce.is_none() && self.opts.fuse {
                kb.flip_wish = Some(i);
            }
            return self.load(kb, v, acc);
        }
        kb.reduce = Some(vec![i]);
        let s = single && self.uses[x.index()] == 1;
        self.no_scan += 1;
        let xn = self.emit(kb, x, acc, s, root);
        self.no_scan -= 1;
        let xn = xn?;
        if kb.scanned[xn as usize] {
            if is_root {
                return ferr("internal: a scan root over a scan");
            }
            return self.load(kb, v, acc);
        }
        let d = self.dtype(v);
        let xn = if self.dtype(x) != d {
            kb.add(
                BNode::Op(
                    O::Cast,
                    Attrs::new().with("dtype", Attr::DType(d)),
                    vec![xn],
                ),
                d,
            )
        } else {
            xn
        };
        let kind = match op.opcode {
            O::Cumsum => AccKind::Sum,
            O::Cumprod => AccKind::Prod,
            O::Cummax => AccKind::Max,
            O::Cummin => AccKind::Min,
            _ => AccKind::LogSumExp,
        };
        Ok(kb.add(BNode::Scan(kind, xn, !inclusive), d))
    }
}

/// Where a guarded read falls inside its operand, over the domain.
#[derive(Clone, Debug, PartialEq)]
enum Guard {
    /// Nowhere: the read always takes the fill.
    Empty,
    /// Inside the box `lo..hi` of domain indices (maybe all of them).
    Box(Vec<i64>, Vec<i64>),
}

/// The domain indices where `acc` reads inside `lo..hi` (per value axis),
/// or None when they do not form a box (a value axis that moves with two
/// domain axes and leaves the range).
fn guard_box(acc: &Access, lo: &[i64], hi: &[i64], domain: &[usize]) -> Option<Guard> {
    if domain.contains(&0) {
        return Some(Guard::Empty);
    }
    let mut blo = vec![0i64; domain.len()];
    let mut bhi: Vec<i64> = domain.iter().map(|&n| n as i64).collect();
    for j in 0..acc.c.len() {
        let (l, h) = (lo[j], hi[j]);
        if l >= h {
            return Some(Guard::Empty);
        }
        let moving: Vec<(usize, i64)> = (0..domain.len())
            .filter(|&i| domain[i] > 1 && acc.a[j][i] != 0)
            .map(|i| (i, acc.a[j][i]))
            .collect();
        let c = acc.c[j];
        let (mut vmin, mut vmax) = (c, c);
        for &(i, a) in &moving {
            let span = a * (domain[i] as i64 - 1);
            if span < 0 {
                vmin += span
            } else {
                vmax += span
            }
        }
        if l <= vmin && vmax < h {
            continue;
        }
        match moving[..] {
            [] => return Some(Guard::Empty),
            [(i, a)] => {
                // l <= c + a * t < h, for the domain index t on axis i.
                let (tlo, thi) = if a > 0 {
                    (
                        (l - c).div_euclid(a) + ((l - c).rem_euclid(a) != 0) as i64,
                        (h - 1 - c).div_euclid(a) + 1,
                    )
                } else {
                    let b = -a;
                    (
                        (c - h + 1).div_euclid(b) + ((c - h + 1).rem_euclid(b) != 0) as i64,
                        (c - l).div_euclid(b) + 1,
                    )
                };
                blo[i] = blo[i].max(tlo);
                bhi[i] = bhi[i].min(thi);
            }
            _ => return None,
        }
    }
    if blo.iter().zip(&bhi).any(|(l, h)| l >= h) {
        return Some(Guard::Empty);
    }
    Some(Guard::Box(blo, bhi))
}

/// `(axis, reverse, inclusive)` of a scan op over an operand of `shape`
/// (None for a 0-d operand, which has no axis to scan).
fn scan_attrs(op: &Op, shape: &[usize]) -> Result<Option<(usize, bool, bool)>, FusionError> {
    let rank = shape.len() as i64;
    let a = op.attrs.int("axis").map_err(FusionError)?;
    let a = if a < 0 { a + rank } else { a };
    if a < 0 || a >= rank {
        return Ok(None);
    }
    let reverse = op.attrs.bool("reverse").unwrap_or(false);
    let inclusive = op.attrs.bool("inclusive").unwrap_or(true);
    Ok(Some((a as usize, reverse, inclusive)))
}

/// Rewrites accumulators so row normalizations need one loop:
/// `sum(exp(x - max(x)))` to `exp(logsumexp(x) - max(x))`, and
/// `sum(sq(x - sum(x) * c))` with `c = 1/n` (or `/ n`) to `m2(x)`.
fn online_accumulators(kb: &mut KBuild) {
    use Opcode as O;
    let count: usize = kb
        .reduce
        .as_ref()
        .map(|r| r.iter().map(|&a| kb.domain[a]).product())
        .unwrap_or(1);
    let n = kb.nodes.len();
    for i in 0..n {
        let (node, d) = kb.nodes[i].clone();
        let BNode::Acc(AccKind::Sum, arg) = node else {
            continue;
        };
        if !d.is_float() {
            continue;
        }
        let get = |kb: &KBuild, i: u32| kb.nodes[i as usize].0.clone();
        // sum(exp(x - max(x)))
        if let BNode::Op(O::Exp, _, a) = get(kb, arg) {
            if let BNode::Op(O::Subtract, _, s) = get(kb, a[0]) {
                if let BNode::Acc(AccKind::Max, x) = get(kb, s[1]) {
                    if x == s[0] {
                        let lse = kb.add(BNode::Acc(AccKind::LogSumExp, x), d);
                        let diff = kb.add(BNode::Op(O::Subtract, Attrs::new(), vec![lse, s[1]]), d);
                        let e = kb.add(BNode::Op(O::Exp, Attrs::new(), vec![diff]), d);
                        redirect(kb, i as u32, e);
                        continue;
                    }
                }
            }
        }
        // sum((x - mean(x))^2)
        let dev = match get(kb, arg) {
            BNode::Op(O::Square, _, a) => Some(a[0]),
            BNode::Op(O::Multiply, _, a) if a[0] == a[1] => Some(a[0]),
            _ => None,
        };
        let Some(dev) = dev else { continue };
        let BNode::Op(O::Subtract, _, s) = get(kb, dev) else {
            continue;
        };
        let (x, mean) = (s[0], s[1]);
        let is_count = |kb: &KBuild, c: u32, inv: bool| match get(kb, c) {
            BNode::Const(bits) => {
                let v = f64::from_bits(bits);
                let want = if inv {
                    1.0 / count as f64
                } else {
                    count as f64
                };
                (v - want).abs() <= want.abs() * 1e-6
            }
            _ => false,
        };
        let sum_of_x =
            |kb: &KBuild, s: u32| matches!(get(kb, s), BNode::Acc(AccKind::Sum, y) if y == x);
        let is_mean = match get(kb, mean) {
            BNode::Op(O::Multiply, _, m) => {
                (sum_of_x(kb, m[0]) && is_count(kb, m[1], true))
                    || (sum_of_x(kb, m[1]) && is_count(kb, m[0], true))
            }
            BNode::Op(O::Divide, _, m) => sum_of_x(kb, m[0]) && is_count(kb, m[1], false),
            _ => false,
        };
        if is_mean {
            let m2 = kb.add(BNode::Acc(AccKind::M2, x), d);
            redirect(kb, i as u32, m2);
        }
    }
}

/// Makes every use of node `from` use `to` (which was added after `from`,
/// so uses of `from` are moved after it by re-sorting in [`schedule`]).
fn redirect(kb: &mut KBuild, from: u32, to: u32) {
    for (n, _) in kb.nodes.iter_mut() {
        match n {
            BNode::Op(_, _, args) => {
                for a in args {
                    if *a == from {
                        *a = to;
                    }
                }
            }
            BNode::Acc(_, a) | BNode::Scan(_, a, _) | BNode::LoadOr(.., a) if *a == from => *a = to,
            BNode::Gather(_, _, ix) => {
                for d in ix {
                    if d.arg == from {
                        d.arg = to;
                    }
                }
            }
            _ => {}
        }
    }
    for s in kb.stores.iter_mut() {
        if s.2 == from {
            s.2 = to;
        }
    }
    for s in kb.scatters.iter_mut() {
        for d in s.2.iter_mut() {
            if d.arg == from {
                d.arg = to;
            }
        }
        if s.4 == from {
            s.4 = to;
        }
    }
}

/// A gather's indices with their nodes renumbered by `map`.
fn remap_index(ix: &[DynIndex], map: impl Fn(u32) -> u32) -> Vec<DynIndex> {
    ix.iter()
        .map(|d| DynIndex {
            arg: map(d.arg),
            ..d.clone()
        })
        .collect()
}

/// The kernel-IR instruction of a built node, its node arguments renamed
/// by `map`.
fn instr_of(node: &BNode, map: impl Fn(u32) -> u32) -> Instr {
    match node {
        BNode::Load(b, m) => Instr::Load {
            buf: *b,
            map: m.clone(),
        },
        BNode::Gather(b, m, ix) => Instr::Gather {
            buf: *b,
            map: m.clone(),
            index: remap_index(ix, &map),
        },
        BNode::LoadOr(b, m, lo, hi, f) => Instr::LoadOr {
            buf: *b,
            map: m.clone(),
            lo: lo.clone(),
            hi: hi.clone(),
            fill: map(*f),
        },
        BNode::Const(bits) => Instr::Const(f64::from_bits(*bits)),
        BNode::Op(o, at, a) => Instr::Op {
            opcode: *o,
            attrs: at.clone(),
            args: a.iter().map(|&x| map(x)).collect(),
        },
        BNode::Acc(k, a) => Instr::Acc {
            kind: *k,
            arg: map(*a),
        },
        BNode::Scan(k, a, ex) => Instr::Scan {
            kind: *k,
            arg: map(*a),
            exclusive: *ex,
        },
        BNode::MatmulResult => Instr::MatmulResult,
    }
}

/// Splits a built kernel into stages (see the module doc of
/// [`psionic_ir::kernel`]); returns them and the reduce axes.
fn schedule(kb: &KBuild) -> (Vec<Stage>, Vec<usize>) {
    let reduce = kb.reduce.clone().unwrap_or_default();
    let n = kb.nodes.len();
    let args_of = |i: usize| -> Vec<u32> {
        match &kb.nodes[i].0 {
            BNode::Op(_, _, a) => a.clone(),
            BNode::Acc(_, a) | BNode::Scan(_, a, _) | BNode::LoadOr(.., a) => vec![*a],
            BNode::Gather(_, _, ix) => ix.iter().map(|d| d.arg).collect(),
            _ => vec![],
        }
    };
    // Topological order (redirects may point at later nodes).
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n];
    fn visit(
        i: usize,
        args_of: &dyn Fn(usize) -> Vec<u32>,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        for a in args_of(i) {
            visit(a as usize, args_of, state, order);
        }
        order.push(i);
    }
    for s in &kb.stores {
        visit(s.2 as usize, &args_of, &mut state, &mut order);
    }
    for s in &kb.scatters {
        for a in s.2.iter().map(|d| d.arg).chain([s.4]) {
            visit(a as usize, &args_of, &mut state, &mut order);
        }
    }
    let needed: HashSet<usize> = order.iter().copied().collect();
    let mut varying = vec![false; n];
    let mut avail = vec![0usize; n];
    for &i in &order {
        match &kb.nodes[i].0 {
            BNode::Load(_, m) => varying[i] = reduce.iter().any(|&a| m.strides[a] != 0),
            BNode::LoadOr(_, m, lo, hi, f) => {
                varying[i] = varying[*f as usize]
                    || reduce
                        .iter()
                        .any(|&a| m.strides[a] != 0 || lo[a] != 0 || hi[a] != kb.domain[a] as i64);
                avail[i] = avail[*f as usize];
            }
            BNode::Const(_) => {}
            BNode::MatmulResult => varying[i] = !reduce.is_empty(),
            BNode::Op(_, _, a) => {
                varying[i] = a.iter().any(|&x| varying[x as usize]);
                avail[i] = a.iter().map(|&x| avail[x as usize]).max().unwrap_or(0);
            }
            BNode::Acc(_, a) => avail[i] = avail[*a as usize] + 1,
            BNode::Scan(_, a, _) => {
                varying[i] = true;
                avail[i] = avail[*a as usize];
            }
            BNode::Gather(_, m, ix) => {
                varying[i] = reduce.iter().any(|&a| m.strides[a] != 0)
                    || ix.iter().any(|d| varying[d.arg as usize]);
                avail[i] = ix.iter().map(|d| avail[d.arg as usize]).max().unwrap_or(0);
            }
        }
        if reduce.is_empty() {
            varying[i] = true;
        }
    }
    let loops = order
        .iter()
        .filter(|&&i| matches!(kb.nodes[i].0, BNode::Acc(..)))
        .map(|&i| avail[i])
        .max()
        .unwrap_or(0);
    // A store goes in the `map` stage when its value or its address moves
    // along a reduced axis (a row value broadcast over the row included).
    let store_in_map = |v: u32, m: &IndexMap| {
        reduce.is_empty()
            || varying[v as usize]
            || reduce
                .iter()
                .any(|&a| kb.domain[a] > 1 && m.strides[a] != 0)
    };
    let mut next_id = 0u32;
    let mut outer_ids: HashMap<usize, u32> = HashMap::new();
    let mut stages = Vec::new();
    // Instantiates the varying closure of `roots` into one stage.
    let inst = |roots: &[usize],
                stage_nodes: &mut Vec<Node>,
                next_id: &mut u32,
                outer_ids: &HashMap<usize, u32>,
                accs_here: bool| {
        let mut local: HashMap<usize, u32> = HashMap::new();
        let mut want: HashSet<usize> = HashSet::new();
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if outer_ids.contains_key(&i) || !want.insert(i) {
                continue;
            }
            if matches!(kb.nodes[i].0, BNode::Acc(..)) && !accs_here {
                continue;
            }
            stack.extend(args_of(i).into_iter().map(|a| a as usize));
        }
        for &i in &order {
            if !want.contains(&i) || outer_ids.contains_key(&i) {
                continue;
            }
            let map = |a: u32| {
                local
                    .get(&(a as usize))
                    .or(outer_ids.get(&(a as usize)))
                    .copied()
                    .unwrap_or(u32::MAX)
            };
            let instr = instr_of(&kb.nodes[i].0, map);
            local.insert(i, *next_id);
            stage_nodes.push(Node {
                id: *next_id,
                dtype: kb.nodes[i].1,
                instr,
            });
            *next_id += 1;
        }
        local
    };
    for p in 0..=loops {
        // Per-row scalars available after `p` loops.
        let mut outer = Vec::new();
        for &i in &order {
            if needed.contains(&i)
                && !varying[i]
                && avail[i] == p
                && !matches!(kb.nodes[i].0, BNode::Acc(..))
                && !reduce.is_empty()
            {
                let map = |a: u32| outer_ids.get(&(a as usize)).copied().unwrap_or(u32::MAX);
                // Scans and matmul results are not per-row scalars.
                if matches!(kb.nodes[i].0, BNode::Scan(..) | BNode::MatmulResult) {
                    continue;
                }
                let instr = instr_of(&kb.nodes[i].0, map);
                outer_ids.insert(i, next_id);
                outer.push(Node {
                    id: next_id,
                    dtype: kb.nodes[i].1,
                    instr,
                });
                next_id += 1;
            }
        }
        if p == loops {
            for (b, m, v) in &kb.stores {
                if !store_in_map(*v, m) {
                    outer.push(Node {
                        id: next_id,
                        dtype: kb.nodes[*v as usize].1,
                        instr: Instr::Store {
                            buf: *b,
                            map: m.clone(),
                            arg: outer_ids[&(*v as usize)],
                        },
                    });
                    next_id += 1;
                }
            }
        }
        if !outer.is_empty() {
            stages.push(Stage {
                kind: StageKind::Outer,
                nodes: outer,
            });
        }
        if p < loops {
            let accs: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| matches!(kb.nodes[i].0, BNode::Acc(..)) && avail[i] == p + 1)
                .collect();
            let mut nodes = Vec::new();
            let local = inst(&accs, &mut nodes, &mut next_id, &outer_ids, true);
            for &a in &accs {
                outer_ids.insert(a, local[&a]);
            }
            stages.push(Stage {
                kind: StageKind::Loop,
                nodes,
            });
        }
    }
    let varying_stores: Vec<&(BufId, IndexMap, u32)> = kb
        .stores
        .iter()
        .filter(|s| store_in_map(s.2, &s.1))
        .collect();
    if !varying_stores.is_empty() || !kb.scatters.is_empty() {
        let mut roots: Vec<usize> = varying_stores.iter().map(|s| s.2 as usize).collect();
        for s in &kb.scatters {
            roots.extend(s.2.iter().map(|d| d.arg as usize).chain([s.4 as usize]));
        }
        let mut nodes = Vec::new();
        let local = inst(&roots, &mut nodes, &mut next_id, &outer_ids, false);
        let id_of = |v: u32| {
            local
                .get(&(v as usize))
                .or(outer_ids.get(&(v as usize)))
                .copied()
                .unwrap_or(u32::MAX)
        };
        for (b, m, ix, kind, v) in &kb.scatters {
            nodes.push(Node {
                id: next_id,
                dtype: kb.nodes[*v as usize].1,
                instr: Instr::Scatter {
                    buf: *b,
                    map: m.clone(),
                    index: remap_index(ix, id_of),
                    arg: id_of(*v),
                    reduce: *kind,
                },
            });
            next_id += 1;
        }
        for (b, m, v) in varying_stores {
            let arg = local
                .get(&(*v as usize))
                .or(outer_ids.get(&(*v as usize)))
                .copied()
                .unwrap_or(u32::MAX);
            nodes.push(Node {
                id: next_id,
                dtype: kb.nodes[*v as usize].1,
                instr: Instr::Store {
                    buf: *b,
                    map: m.clone(),
                    arg,
                },
            });
            next_id += 1;
        }
        stages.push(Stage {
            kind: StageKind::Map,
            nodes,
        });
    }
    (stages, reduce)
}

/// Lowers `f` to the kernel level.
pub fn lower(f: &Func, opts: &FusionOptions) -> Result<KProgram, FusionError> {
    let mut producer = vec![None; f.value_types.len()];
    let mut uses = vec![0usize; f.value_types.len()];
    for (i, op) in f.ops.iter().enumerate() {
        for &r in &op.results {
            producer[r.index()] = Some(i);
        }
        for (k, &x) in op.operands.iter().enumerate() {
            // `broadcast_like`'s second operand only lends its shape: it
            // does not make a matmul result (say) used twice.
            if op.opcode == Opcode::BroadcastLike && k == 1 {
                continue;
            }
            uses[x.index()] += 1;
        }
    }
    for &r in &f.results {
        uses[r.index()] += 1;
    }
    let mut lw = Lowering {
        f,
        opts: opts.clone(),
        producer,
        uses,
        buf_of: HashMap::new(),
        pending: BTreeMap::new(),
        items: BTreeMap::new(),
        claimed: HashSet::new(),
        prog: KProgram {
            name: f.name.clone(),
            buffers: Vec::new(),
            params: Vec::new(),
            items: Vec::new(),
            results: Vec::new(),
        },
        kernel_names: 0,
        cur_domain: Vec::new(),
        depth: 0,
        no_scan: 0,
        part_flags: None,
    };
    for (i, &p) in f.params.iter().enumerate() {
        let t = f.ty(p);
        shape_of(t)?;
        let b = lw
            .prog
            .add_buffer(pairs::paired(t), BufferKind::Param(i as u32));
        lw.prog.params.push(b);
        lw.buf_of.insert(p, b);
    }
    let mut results = Vec::new();
    for &r in &f.results {
        results.push(lw.request(r)?);
    }
    if !opts.fuse {
        for op in &f.ops {
            for &r in &op.results {
                lw.request(r)?;
            }
        }
    }
    // Operands of library calls are materialized whatever else happens:
    // request them first so that kernels built earlier read them instead
    // of recomputing them.
    if opts.fuse {
        let mut live = vec![false; f.value_types.len()];
        for &r in &f.results {
            live[r.index()] = true;
        }
        for op in f.ops.iter().rev() {
            if op.results.iter().any(|r| live[r.index()]) {
                for &x in &op.operands {
                    live[x.index()] = true;
                }
            }
        }
        for op in &f.ops {
            if !op.results.iter().any(|r| live[r.index()]) {
                continue;
            }
            match kind_of(op, f, opts) {
                Kind::Matmul => {
                    for &x in &op.operands {
                        let xs = lw.shape(x)?;
                        lw.cur_domain = xs.clone();
                        lw.resolve_buffer(x, &Access::identity(xs.len()))?;
                    }
                }
                Kind::Lib => {
                    for &x in &op.operands {
                        lw.request(x)?;
                    }
                }
                Kind::Gather => {
                    // The gathered source is read from memory.
                    let x = op.operands[0];
                    let xs = lw.shape(x)?;
                    lw.cur_domain = xs.clone();
                    lw.resolve_buffer(x, &Access::identity(xs.len()))?;
                }
                _ => {}
            }
        }
    }
    // Build from the last op backwards: a kernel only asks for values
    // defined before its root.
    while let Some((&p, _)) = lw.pending.iter().next_back() {
        lw.pending.remove(&p);
        lw.build(p)?;
    }
    lw.prog.items = std::mem::take(&mut lw.items).into_values().collect();
    // Names follow program order (items were built last to first).
    for (i, it) in lw.prog.items.iter_mut().enumerate() {
        match it {
            Item::Kernel(k) => k.name = format!("k{i}"),
            Item::Matmul(m) => m.name = format!("k{i}"),
            Item::LibOp(_) => {}
        }
    }
    lw.prog.results = results;
    // Drop buffers of matmuls that became epilogues (nothing reads them).
    let used: HashSet<BufId> = lw
        .prog
        .items
        .iter()
        .flat_map(|it| it.reads().into_iter().chain(it.writes()))
        .chain(lw.prog.results.iter().copied())
        .chain(lw.prog.params.iter().copied())
        .collect();
    let mut prog = compact_buffers(lw.prog, &used);
    prog.renumber();
    psionic_ir::kernel::verify::verify_program(&prog).map_err(|e| {
        FusionError(format!(
            "produced invalid kernel IR: {e}\n{}",
            psionic_ir::kernel::text::print_program(&prog)
        ))
    })?;
    Ok(prog)
}

/// Removes buffers nothing uses and renumbers the rest in order of first
/// definition (parameters, constants, then temporaries in item order).
fn compact_buffers(mut p: KProgram, used: &HashSet<BufId>) -> KProgram {
    let mut order: Vec<BufId> = p.params.clone();
    for (i, b) in p.buffers.iter().enumerate() {
        if matches!(b.kind, BufferKind::Const(_)) && used.contains(&BufId(i as u32)) {
            order.push(BufId(i as u32));
        }
    }
    for it in &p.items {
        for w in it.writes() {
            if !order.contains(&w) {
                order.push(w);
            }
        }
    }
    for (i, _) in p.buffers.iter().enumerate() {
        let b = BufId(i as u32);
        if used.contains(&b) && !order.contains(&b) {
            order.push(b);
        }
    }
    let mut map = HashMap::new();
    for (n, b) in order.iter().enumerate() {
        map.insert(*b, BufId(n as u32));
    }
    let m = |b: &mut BufId| *b = map[b];
    let buffers = order.iter().map(|b| p.buffers[b.index()].clone()).collect();
    p.buffers = buffers;
    p.params.iter_mut().for_each(m);
    p.results.iter_mut().for_each(m);
    let fix = |nodes: &mut Vec<Node>| {
        for n in nodes {
            match &mut n.instr {
                Instr::Load { buf, .. }
                | Instr::Gather { buf, .. }
                | Instr::LoadOr { buf, .. }
                | Instr::Scatter { buf, .. }
                | Instr::Store { buf, .. } => *buf = map[buf],
                _ => {}
            }
        }
    };
    for it in &mut p.items {
        match it {
            Item::Kernel(k) => k.stages.iter_mut().for_each(|s| fix(&mut s.nodes)),
            Item::Matmul(mm) => {
                mm.a = map[&mm.a];
                mm.b = map[&mm.b];
                fix(&mut mm.epilogue);
            }
            Item::LibOp(l) => {
                l.inputs.iter_mut().for_each(m);
                l.outputs.iter_mut().for_each(m);
            }
        }
    }
    p
}

/// Class of ops fusion treats as library calls (for docs and tests).
/// `take_along_axis`, `gather`, `scatter`, `scatter_axis` and
/// `dynamic_slice_update` are not: they become kernel code (a library
/// call only where `gather_fusable` or `scatter_fusable` refuses them).
pub fn is_library_op(op: Opcode) -> bool {
    !matches!(
        op,
        Opcode::TakeAlongAxis
            | Opcode::Gather
            | Opcode::Scatter
            | Opcode::ScatterAxis
            | Opcode::DynamicSliceUpdate
    ) && matches!(
        op.class(),
        OpClass::Contraction | OpClass::Sort | OpClass::Indexing
    )
}
