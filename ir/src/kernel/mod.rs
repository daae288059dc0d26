//! The kernel-level IR (`kernel.*`): what fusion produces and every code
//! generator consumes.
//!
//! A [`KProgram`] is a straight-line list of [`Item`]s over flat, row-major
//! buffers ([`Buffer`]): parameters, constants and temporaries. Each item is
//! - a fused [`Kernel`]: an iteration space (`domain`, with some axes marked as
//!   reduced) and a body of scalar [`Node`]s split into [`Stage`]s, run once per
//!   *outer* index (the domain without the reduced axes):
//!   `loop` stages iterate the reduced axes and feed accumulators, `outer`
//!   stages compute per-row scalars, a final `map` stage iterates the reduced
//!   axes again and stores. An elementwise kernel has no reduced axes and one
//!   `map` stage. A scan (`cumsum`...) is a kernel with one reduced axis, the
//!   scan axis, whose `map` stage holds [`Instr::Scan`] nodes: running values
//!   along the row. Every `loop` or `map` stage that loads is one pass over memory;
//! - a [`MatmulCall`]: a (batched) gemm on strided operands with an elementwise
//!   epilogue run on each product element before it is stored;
//! - a [`LibOp`]: a tensor-level op run as a library call on whole buffers
//!   (sorts, dynamic slices: what fusion does not generate loops for).
//!
//! Loads and stores address buffers through an [`IndexMap`]: a flat offset
//! plus one stride per domain axis (0 = broadcast), so transposes, broadcasts,
//! slices, flips and reshapes of stored values cost nothing. A gather
//! ([`Instr::Gather`]) adds data-dependent terms ([`DynIndex`]) to such an
//! address: `take_along_axis` and `tensor.gather` are generated code, fused
//! with the computation of their indices and with their consumers. A guarded
//! load ([`Instr::LoadOr`]) reads a buffer inside a box of the domain and
//! takes another node's value outside it: padding and concatenation are
//! generated code too. A scatter ([`Instr::Scatter`]) is the matching
//! data-dependent *store*: it writes (or combines into) one element of a
//! buffer at such an address; `scatter`, `scatter_axis` and
//! `dynamic_slice_update` are a copy of the destination followed by a
//! scatter kernel over the updates.
//!
//! Buffer writes: every temporary has exactly one *first writer*, any item
//! (its `store`s or a library op's outputs). After it, only kernels whose
//! [`Instr::Scatter`] nodes name the buffer may change it again
//! (*updates*), in item order; such a kernel neither loads nor stores that
//! buffer otherwise, and [`Item::reads`] counts the updated buffer (an
//! update reads the old contents). [`Item::updates`] lists them. An item
//! reads a buffer as the items before it left it.
//!
//! Scalar ops are the elementwise rows of the op table ([`crate::ops`]) applied
//! to scalars; [`scalar`] evaluates them. [`text`] prints and parses the
//! dialect, [`verify`] checks every invariant listed in its module doc.

pub mod pairs;
pub mod scalar;
pub mod text;
pub mod verify;

use crate::attr::Attrs;
use crate::dtype::DType;
use crate::literal::Literal;
use crate::ops::Opcode;
use crate::types::TensorType;

/// A buffer of a [`KProgram`]: an index into [`KProgram::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub u32);

impl BufId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a buffer's contents come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// The program's parameter number `n`.
    Param(u32),
    /// Constant data.
    Const(Literal),
    /// First written by exactly one item; later only updated by scatter
    /// kernels (see the module doc).
    Temp,
}

/// One buffer: a static tensor type, its origin, and (after buffer planning)
/// the arena slot it lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub ty: TensorType,
    pub kind: BufferKind,
    /// Set by buffer planning for temporaries: temporaries with one slot
    /// share memory (their lifetimes do not overlap, or one is written in
    /// place of the other).
    pub slot: Option<u32>,
}

/// An affine address: element `offset + sum(strides[i] * idx[i])` of a
/// row-major buffer, for an index `idx` of the iteration space.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexMap {
    pub offset: i64,
    pub strides: Vec<i64>,
}

impl IndexMap {
    /// The row-major map of `shape` (every element once, in order).
    pub fn row_major(shape: &[usize]) -> IndexMap {
        IndexMap {
            offset: 0,
            strides: crate::types::row_major_strides(shape)
                .into_iter()
                .map(|s| s as i64)
                .collect(),
        }
    }
    /// The element addressed by `idx`.
    pub fn at(&self, idx: &[usize]) -> i64 {
        self.offset
            + self
                .strides
                .iter()
                .zip(idx)
                .map(|(&s, &i)| s * i as i64)
                .sum::<i64>()
    }
    /// Smallest and largest element addressed over `shape` (None if empty).
    pub fn range(&self, shape: &[usize]) -> Option<(i64, i64)> {
        if shape.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = (self.offset, self.offset);
        for (&s, &d) in self.strides.iter().zip(shape) {
            let span = s * (d as i64 - 1);
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        Some((lo, hi))
    }
}

/// One data-dependent term of a gather's address (see [`Instr::Gather`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DynIndex {
    /// The integer node holding the index (visible where the gather is, as
    /// an op's argument would be).
    pub arg: u32,
    /// Elements the address moves per unit of the index: the stride of the
    /// indexed axis in the gathered buffer.
    pub stride: i64,
    /// Size of the indexed axis: a negative index wraps once by adding it.
    pub dim: usize,
    /// Elements of the gathered slice along that axis (1 for a single
    /// element): after wrapping the index must lie in `0..=dim - slice`.
    pub slice: usize,
    /// The indexed axis of the gathered tensor, for error messages.
    pub axis: u32,
    /// Clamp the index into `0..=dim - slice` instead of wrapping and
    /// checking it (never an error): a dynamic slice's start.
    pub clamp: bool,
}

impl DynIndex {
    /// The index `v` wrapped once if negative, or `None` when it is still
    /// out of range (the reference interpreter's rule); a clamping index
    /// is clamped into range instead and never `None`.
    pub fn wrap(&self, v: i64) -> Option<i64> {
        if self.clamp {
            return Some(v.clamp(0, self.dim as i64 - self.slice as i64));
        }
        let j = if v < 0 {
            v.checked_add(self.dim as i64)?
        } else {
            v
        };
        (j >= 0 && j <= self.dim as i64 - self.slice as i64).then_some(j)
    }
    /// The error an out-of-range index `v` raises, worded as the reference
    /// interpreter words it.
    pub fn error(&self, v: i64) -> String {
        gather_error(self.axis, v, self.dim, self.slice)
    }
}

/// `index along axis A V is out of range for axis size D[ with slice size S]`:
/// the reference interpreter's message for an index out of range after
/// wrapping, shared by every backend that reports it.
pub fn gather_error(axis: u32, v: i64, dim: usize, slice: usize) -> String {
    let with = if slice > 1 {
        format!(" with slice size {slice}")
    } else {
        String::new()
    };
    format!("index along axis {axis} {v} is out of range for axis size {dim}{with}")
}

/// How a scatter combines its value `v` with the element `e` it lands on.
/// On `bool`, fusion only emits `set`, `max` (or) and `min` (and).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScatterKind {
    /// `e = v` (of duplicate indices, the last in domain order wins on a
    /// backend that runs the kernel in order; GPUs leave it unordered).
    Set,
    Sum,
    Prod,
    /// `max(e, v)`, NaN if either is.
    Max,
    /// `min(e, v)`, NaN if either is.
    Min,
}

impl ScatterKind {
    pub const ALL: [ScatterKind; 5] = [
        ScatterKind::Set,
        ScatterKind::Sum,
        ScatterKind::Prod,
        ScatterKind::Max,
        ScatterKind::Min,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ScatterKind::Set => "set",
            ScatterKind::Sum => "sum",
            ScatterKind::Prod => "prod",
            ScatterKind::Max => "max",
            ScatterKind::Min => "min",
        }
    }
    pub fn from_name(s: &str) -> Option<ScatterKind> {
        ScatterKind::ALL.into_iter().find(|k| k.name() == s)
    }
    /// The kind of a tensor op's `reduce` attribute (`none`, `sum`, ...).
    pub fn from_reduce(s: &str) -> Option<ScatterKind> {
        match s {
            "none" => Some(ScatterKind::Set),
            "set" => None,
            _ => ScatterKind::from_name(s),
        }
    }
    /// The elementwise op that combines `e` and `v` (None for `set`).
    pub fn opcode(self) -> Option<Opcode> {
        match self {
            ScatterKind::Set => None,
            ScatterKind::Sum => Some(Opcode::Add),
            ScatterKind::Prod => Some(Opcode::Multiply),
            ScatterKind::Max => Some(Opcode::Maximum),
            ScatterKind::Min => Some(Opcode::Minimum),
        }
    }
}

/// How an accumulator combines the values of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccKind {
    Sum,
    Prod,
    Max,
    Min,
    /// `log(sum(exp(v)))`, computed online (running maximum and rescaled
    /// sum) so that it takes one pass and never overflows.
    LogSumExp,
    /// Sum of squared deviations from the row mean, `sum((v - mean(v))^2)`,
    /// by Welford's online update: variance in one pass, without the
    /// cancellation of `sum(v^2) - sum(v)^2 / n`.
    M2,
}

impl AccKind {
    pub const ALL: [AccKind; 6] = [
        AccKind::Sum,
        AccKind::Prod,
        AccKind::Max,
        AccKind::Min,
        AccKind::LogSumExp,
        AccKind::M2,
    ];
    pub fn name(self) -> &'static str {
        match self {
            AccKind::Sum => "sum",
            AccKind::Prod => "prod",
            AccKind::Max => "max",
            AccKind::Min => "min",
            AccKind::LogSumExp => "logsumexp",
            AccKind::M2 => "m2",
        }
    }
    pub fn from_name(s: &str) -> Option<AccKind> {
        AccKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// What a scalar node computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// Reads one element of a buffer.
    Load { buf: BufId, map: IndexMap },
    /// Reads element `map.at(idx) + sum_k index[k].stride * wrap(index[k])`
    /// of a buffer, where `wrap` adds the axis size once to a negative
    /// index. An index out of range after wrapping is an error of the
    /// program run (never an out-of-bounds read: code generators clamp the
    /// address and report it).
    Gather {
        buf: BufId,
        map: IndexMap,
        index: Vec<DynIndex>,
    },
    /// A guarded load (padding, concatenation): where the domain index lies
    /// in the box `lo[i] <= idx[i] < hi[i]` (one bound pair per domain axis,
    /// never empty), element `map.at(idx)` of `buf`; elsewhere the value of
    /// the earlier node `fill`. `map` need only stay inside `buf` over the
    /// box: backends read it at the index clamped into the box (always in
    /// bounds) and select, so no address outside the buffer is ever formed.
    /// A concatenation of k pieces is a chain of k guarded loads, each the
    /// fill of the next.
    LoadOr {
        buf: BufId,
        map: IndexMap,
        lo: Vec<i64>,
        hi: Vec<i64>,
        fill: u32,
    },
    /// A constant (converted to the node's dtype).
    Const(f64),
    /// An elementwise op of the op table applied to scalars.
    Op {
        opcode: Opcode,
        attrs: Attrs,
        args: Vec<u32>,
    },
    /// Combines `arg` over the reduced axes (only in `loop` stages); its value
    /// is visible to the stages after the loop.
    Acc { kind: AccKind, arg: u32 },
    /// A running combination along the kernel's single reduced axis (only
    /// in `map` stages): at position `j` of the row, `arg` combined over
    /// positions `0..=j`, or `0..j` when `exclusive` (the kind's identity,
    /// [`scalar::scan_identity`], at position 0). Always forward: a reverse
    /// scan is a forward one over flipped index maps. `arg` may not depend
    /// on another scan (backends compute each scan's chunk totals first).
    Scan {
        kind: AccKind,
        arg: u32,
        exclusive: bool,
    },
    /// Writes `arg` to one element of a buffer (no result).
    Store { buf: BufId, map: IndexMap, arg: u32 },
    /// Combines `arg` into element `map.at(idx) + sum_k index[k].stride *
    /// wrap(index[k])` of a buffer an earlier item wrote (no result): a
    /// data-dependent store. Only in the `map` stage of a kernel without
    /// reduced axes. Indices are checked as a gather's are (an index out of
    /// range is an error of the run, and nothing is written out of
    /// bounds); every point of the domain combines in domain order on a
    /// backend that runs the kernel in order (the CPU runs scatter kernels
    /// on one thread), in some order on GPUs (atomics).
    Scatter {
        buf: BufId,
        map: IndexMap,
        index: Vec<DynIndex>,
        arg: u32,
        reduce: ScatterKind,
    },
    /// The product element of the enclosing [`MatmulCall`] (epilogues only).
    MatmulResult,
}

impl Instr {
    /// The buffer and map of a load, guarded or not (a gather's map is
    /// only part of its address: it is not a load here).
    pub fn load_of(&self) -> Option<(BufId, &IndexMap)> {
        match self {
            Instr::Load { buf, map } | Instr::LoadOr { buf, map, .. } => Some((*buf, map)),
            _ => None,
        }
    }
    /// The scalar nodes this node reads, in order (a gather's indices, a
    /// guarded load's fill).
    pub fn args(&self) -> Vec<u32> {
        match self {
            Instr::Op { args, .. } => args.clone(),
            Instr::Acc { arg, .. } | Instr::Scan { arg, .. } | Instr::Store { arg, .. } => {
                vec![*arg]
            }
            Instr::Gather { index, .. } => index.iter().map(|d| d.arg).collect(),
            Instr::Scatter { index, arg, .. } => {
                let mut v: Vec<u32> = index.iter().map(|d| d.arg).collect();
                v.push(*arg);
                v
            }
            Instr::LoadOr { fill, .. } => vec![*fill],
            Instr::Load { .. } | Instr::Const(_) | Instr::MatmulResult => vec![],
        }
    }
}

/// Clamps `idx` into the box `lo..hi` (per axis): the index a guarded load
/// reads at, in bounds whether or not `idx` is inside the box.
pub fn clamp_to_box(idx: &[usize], lo: &[i64], hi: &[i64]) -> Vec<usize> {
    idx.iter()
        .zip(lo.iter().zip(hi))
        .map(|(&i, (&l, &h))| (i as i64).clamp(l, h - 1) as usize)
        .collect()
}

/// Whether `idx` lies in the box `lo..hi`.
pub fn in_box(idx: &[usize], lo: &[i64], hi: &[i64]) -> bool {
    idx.iter()
        .zip(lo.iter().zip(hi))
        .all(|(&i, (&l, &h))| l <= i as i64 && (i as i64) < h)
}

/// One scalar node: `%id = instr : dtype`. Stores have a dtype too (that of
/// the stored value) but define nothing that may be used.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: u32,
    pub dtype: DType,
    pub instr: Instr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StageKind {
    /// Iterates the reduced axes feeding accumulators: one pass over memory.
    Loop,
    /// Once per outer index: scalars from accumulators, and stores of
    /// row-shaped results.
    Outer,
    /// Iterates the reduced axes (every point of the domain when there are
    /// none) and stores: one pass over memory.
    Map,
}

impl StageKind {
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Loop => "loop",
            StageKind::Outer => "outer",
            StageKind::Map => "map",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub kind: StageKind,
    pub nodes: Vec<Node>,
}

/// A fused loop nest.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    /// The iteration space.
    pub domain: Vec<usize>,
    /// Axes of `domain` iterated inside `loop` and `map` stages; sorted.
    pub reduce_axes: Vec<usize>,
    pub stages: Vec<Stage>,
}

impl Kernel {
    /// True when some node is an [`Instr::Gather`] or a checked
    /// [`Instr::Scatter`]: the kernel can fail at run time (an index out
    /// of range).
    pub fn has_gather(&self) -> bool {
        self.stages
            .iter()
            .flat_map(|s| &s.nodes)
            .any(|n| match &n.instr {
                Instr::Gather { .. } => true,
                Instr::Scatter { index, .. } => index.iter().any(|d| !d.clamp),
                _ => false,
            })
    }
    /// True when some node is an [`Instr::Scatter`].
    pub fn has_scatter(&self) -> bool {
        self.stages
            .iter()
            .flat_map(|s| &s.nodes)
            .any(|n| matches!(n.instr, Instr::Scatter { .. }))
    }
}

/// A (batched) matrix product `out[b, i, j] = epilogue(sum_k a[b, i, k] * b[b, k, j])`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatmulCall {
    pub name: String,
    pub a: BufId,
    /// Over the axes `[batch..., m, k]`.
    pub a_map: IndexMap,
    pub b: BufId,
    /// Over the axes `[batch..., k, n]`.
    pub b_map: IndexMap,
    pub batch: Vec<usize>,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// Dtype the products accumulate in (that of `a` and `b`).
    pub dtype: DType,
    /// Scalar nodes run for each output index `[batch..., m, n]`: it reads
    /// [`Instr::MatmulResult`], may load other buffers over that domain, and
    /// stores (at least one store).
    pub epilogue: Vec<Node>,
}

impl MatmulCall {
    pub fn domain(&self) -> Vec<usize> {
        let mut d = self.batch.clone();
        d.push(self.m);
        d.push(self.n);
        d
    }
    /// The epilogue as an elementwise kernel over `[batch..., m, n]` whose
    /// `matmul_result` reads the row-major product buffer `scratch`: how
    /// a backend runs an epilogue its matmul library cannot fuse.
    pub fn epilogue_kernel(&self, scratch: BufId) -> Kernel {
        let domain = self.domain();
        let nodes = self
            .epilogue
            .iter()
            .map(|n| match n.instr {
                Instr::MatmulResult => Node {
                    id: n.id,
                    dtype: n.dtype,
                    instr: Instr::Load {
                        buf: scratch,
                        map: IndexMap::row_major(&domain),
                    },
                },
                _ => n.clone(),
            })
            .collect();
        Kernel {
            name: format!("{}_epilogue", self.name),
            domain,
            reduce_axes: vec![],
            stages: vec![Stage {
                kind: StageKind::Map,
                nodes,
            }],
        }
    }
}

/// A tensor-level op run as a library call on whole buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct LibOp {
    pub opcode: Opcode,
    pub attrs: Attrs,
    pub inputs: Vec<BufId>,
    pub outputs: Vec<BufId>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Kernel(Kernel),
    Matmul(MatmulCall),
    LibOp(LibOp),
}

impl Item {
    /// Buffers this item writes first (stores, library outputs); not the
    /// buffers it only updates ([`Item::updates`]).
    pub fn writes(&self) -> Vec<BufId> {
        match self {
            Item::Kernel(k) => {
                let mut v: Vec<BufId> = k
                    .stages
                    .iter()
                    .flat_map(|s| &s.nodes)
                    .filter_map(|n| match &n.instr {
                        Instr::Store { buf, .. } => Some(*buf),
                        _ => None,
                    })
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            Item::Matmul(m) => {
                let mut v: Vec<BufId> = stores(&m.epilogue).collect();
                v.sort();
                v.dedup();
                v
            }
            Item::LibOp(l) => l.outputs.clone(),
        }
    }
    /// Buffers an earlier item wrote that this item's scatters update.
    pub fn updates(&self) -> Vec<BufId> {
        let Item::Kernel(k) = self else {
            return vec![];
        };
        let mut v: Vec<BufId> = k.stages.iter().flat_map(|s| scatters(&s.nodes)).collect();
        v.sort();
        v.dedup();
        v
    }
    /// Buffers this item reads (an updated buffer included: its old
    /// contents are combined into).
    pub fn reads(&self) -> Vec<BufId> {
        let mut v: Vec<BufId> = match self {
            Item::Kernel(k) => k
                .stages
                .iter()
                .flat_map(|s| loads(&s.nodes).chain(scatters(&s.nodes)))
                .collect(),
            Item::Matmul(m) => {
                let mut v = vec![m.a, m.b];
                v.extend(loads(&m.epilogue));
                v
            }
            Item::LibOp(l) => l.inputs.clone(),
        };
        v.sort();
        v.dedup();
        v
    }
}

fn loads(nodes: &[Node]) -> impl Iterator<Item = BufId> + '_ {
    nodes.iter().filter_map(|n| match &n.instr {
        Instr::Load { buf, .. } | Instr::Gather { buf, .. } | Instr::LoadOr { buf, .. } => {
            Some(*buf)
        }
        _ => None,
    })
}
fn scatters(nodes: &[Node]) -> impl Iterator<Item = BufId> + '_ {
    nodes.iter().filter_map(|n| match &n.instr {
        Instr::Scatter { buf, .. } => Some(*buf),
        _ => None,
    })
}
fn stores(nodes: &[Node]) -> impl Iterator<Item = BufId> + '_ {
    nodes.iter().filter_map(|n| match &n.instr {
        Instr::Store { buf, .. } => Some(*buf),
        _ => None,
    })
}

/// A program at the kernel level.
#[derive(Clone, Debug, PartialEq)]
pub struct KProgram {
    pub name: String,
    pub buffers: Vec<Buffer>,
    /// Parameter buffers, in order (each of kind `Param(i)`).
    pub params: Vec<BufId>,
    pub items: Vec<Item>,
    pub results: Vec<BufId>,
}

/// Counts and traffic of a program, as `psionic compile --stats-json` reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramStats {
    /// Fused kernels.
    pub kernels: usize,
    /// Matmul calls and library ops.
    pub library_calls: usize,
    /// Passes over memory: loading `loop` and `map` stages of every kernel,
    /// plus one per library call.
    pub passes: usize,
    /// Bytes read and written, counting each buffer once per pass that
    /// touches it (a broadcast load counts the buffer's size, not the
    /// domain's).
    pub bytes_moved: u64,
}

impl KProgram {
    pub fn buffer(&self, b: BufId) -> &Buffer {
        &self.buffers[b.index()]
    }
    /// Adds a buffer.
    pub fn add_buffer(&mut self, ty: TensorType, kind: BufferKind) -> BufId {
        self.buffers.push(Buffer {
            ty,
            kind,
            slot: None,
        });
        BufId(self.buffers.len() as u32 - 1)
    }
    fn buffer_bytes(&self, b: BufId) -> u64 {
        self.buffer(b).ty.num_bytes().unwrap_or(0) as u64
    }
    /// Kernel and call counts and bytes moved.
    pub fn stats(&self) -> ProgramStats {
        let mut st = ProgramStats::default();
        for item in &self.items {
            match item {
                Item::Kernel(k) => {
                    st.kernels += 1;
                    for s in &k.stages {
                        // A scatter's buffer counts once: it reads and
                        // writes the elements it lands on (at most the
                        // whole buffer).
                        let mut bufs: Vec<BufId> = loads(&s.nodes)
                            .chain(stores(&s.nodes))
                            .chain(scatters(&s.nodes))
                            .collect();
                        bufs.sort();
                        bufs.dedup();
                        if s.kind != StageKind::Outer
                            && (loads(&s.nodes).next().is_some()
                                || scatters(&s.nodes).next().is_some())
                        {
                            st.passes += 1;
                        }
                        st.bytes_moved += bufs.iter().map(|&b| self.buffer_bytes(b)).sum::<u64>();
                    }
                }
                Item::Matmul(m) => {
                    st.library_calls += 1;
                    st.passes += 1;
                    let mut bufs = vec![m.a, m.b];
                    bufs.extend(loads(&m.epilogue).chain(stores(&m.epilogue)));
                    bufs.sort();
                    bufs.dedup();
                    st.bytes_moved += bufs.iter().map(|&b| self.buffer_bytes(b)).sum::<u64>();
                }
                Item::LibOp(l) => {
                    st.library_calls += 1;
                    st.passes += 1;
                    st.bytes_moved += l
                        .inputs
                        .iter()
                        .chain(&l.outputs)
                        .map(|&b| self.buffer_bytes(b))
                        .sum::<u64>();
                }
            }
        }
        st
    }
}

fn renumber_nodes(
    nodes: &mut [Node],
    next: &mut u32,
    map: &mut std::collections::HashMap<u32, u32>,
) {
    for n in nodes {
        match &mut n.instr {
            Instr::Op { args, .. } => {
                for a in args {
                    *a = map.get(a).copied().unwrap_or(u32::MAX);
                }
            }
            Instr::Acc { arg, .. }
            | Instr::Scan { arg, .. }
            | Instr::Store { arg, .. }
            | Instr::LoadOr { fill: arg, .. } => {
                *arg = map.get(arg).copied().unwrap_or(u32::MAX);
            }
            Instr::Gather { index, .. } => {
                for d in index {
                    d.arg = map.get(&d.arg).copied().unwrap_or(u32::MAX);
                }
            }
            Instr::Scatter { index, arg, .. } => {
                for d in index {
                    d.arg = map.get(&d.arg).copied().unwrap_or(u32::MAX);
                }
                *arg = map.get(arg).copied().unwrap_or(u32::MAX);
            }
            _ => {}
        }
        map.insert(n.id, *next);
        n.id = *next;
        *next += 1;
    }
}

impl KProgram {
    /// Numbers the nodes of each kernel and epilogue 0, 1, ... in order
    /// (stores included): the form [`text::parse_program`] gives back.
    pub fn renumber(&mut self) {
        for item in &mut self.items {
            let mut map = std::collections::HashMap::new();
            let mut next = 0;
            match item {
                Item::Kernel(k) => {
                    for s in &mut k.stages {
                        renumber_nodes(&mut s.nodes, &mut next, &mut map);
                    }
                }
                Item::Matmul(m) => renumber_nodes(&mut m.epilogue, &mut next, &mut map),
                Item::LibOp(_) => {}
            }
        }
    }
}
