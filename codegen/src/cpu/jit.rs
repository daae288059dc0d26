//! Cranelift code generation for one fused kernel of the kernel-level IR.
//!
//! Every kernel becomes one native function
//! `extern "C" fn(bufs: *const *mut u8, lo: i64, hi: i64)` that runs the
//! kernel for the outer indices whose first outer axis lies in `lo..hi`
//! (the whole kernel is `0..extent`; threads take disjoint ranges).
//! `bufs[k]` is the base address of buffer `%bk`; the entry after the last
//! buffer (and scratch) points at the run's [`GatherFault`] record.
//!
//! Gathers wrap each index once (a negative index adds the axis size) and
//! check it; an index still out of range reads the first valid element
//! instead (never out of bounds) and records itself in the fault record
//! through a cold helper call ([`gather_fault`]), which the program turns
//! into the run's error.
//!
//! Scatters ([`Instr::Scatter`]) address their buffer as gathers do (an
//! out-of-range index records the fault and lands on an in-bounds element
//! of a run that then fails); a dynamic slice's clamping index is clamped
//! instead. Each point reads the element, combines and writes it back:
//! `set` and float `sum` inline, the other combinations through a helper
//! ([`scatter_combine`], the interpreter's rule bit for bit). The program
//! runs scatter kernels on one thread, so points combine in domain order
//! and duplicates agree with the reference interpreter.
//!
//! Two code shapes, chosen per kernel:
//! - **vector** (every value f32, every load and store an f32 buffer, every op
//!   one the f32x4 emitters know): the innermost iterated axis runs 4 lanes at
//!   a time (contiguous loads are one 128-bit load, broadcast loads a splat,
//!   other strides four lane inserts) with a scalar tail that runs the same
//!   f32x4 code on splatted lanes and keeps lane 0. Accumulators keep per-lane
//!   state: `sum` in f32x4 partials flushed into f64x2 pairs every
//!   [`FLUSH_ADDS`] adds a lane, `prod` in f64x2 pairs, `max`/`min` in
//!   f32x4; `logsumexp` and `m2` take a first pass over the row for its
//!   maximum or mean ([`Gen::row_pre_pass`]) and then sum `exp(x - max)`,
//!   or `x - mean` and its square, like `sum`;
//! - **scalar** (everything else: f64, integers, bool, f16/bf16): one element
//!   at a time, values in f64 registers exactly as the reference
//!   interpreter holds them; loads and stores convert from and to the
//!   buffer's dtype in registers (f16 through a helper), cheap float ops are
//!   inlined, and the other ops call [`psionic_ir::kernel::scalar::eval`]
//!   through a helper, so integer wrapping, saturating casts and every
//!   op's edge cases agree with the interpreter bit for bit. Kernels with
//!   scans take this shape: the `map` stage walks the row in order keeping
//!   each scan's running value (an f64 variable for float sum, prod, max
//!   and min; the accumulator helpers otherwise), rows split over threads
//!   like any row kernel's.

use super::math::VMath;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, ConstantData, Endianness, InstBuilder, MemFlagsData, Signature, StackSlotData,
    StackSlotKind, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use psionic_ir::kernel::scalar;
use psionic_ir::kernel::{
    AccKind, BufId, DynIndex, IndexMap, Instr, Kernel, Node, ScatterKind, StageKind,
};
use psionic_ir::{Attrs, DType, Opcode};
use std::collections::HashMap;

/// A compiled kernel's entry point.
pub type KernelFn = unsafe extern "C" fn(*const *mut u8, i64, i64);

const F4: Type = types::F32X4;
const D2: Type = types::F64X2;

/// One scalar op the scalar code shape calls out for.
pub(crate) struct OpDesc {
    opcode: Opcode,
    attrs: Attrs,
    arg_dtype: DType,
    out: DType,
}

/// Helper: evaluates `table[i]` on `args` (scalar code shape).
extern "C" fn op_helper(table: *const OpDesc, i: u32, args: *const f64) -> f64 {
    // SAFETY: `table` points into the `Vec<OpDesc>` owned by the compiled
    // program for as long as its code can run; `i` indexes it and `args`
    // points at that op's arity (at most 3) of initialized f64 slots.
    unsafe {
        let d = &*table.add(i as usize);
        let n = match d.opcode.def().operands {
            psionic_ir::ops::Arity::Exact(n) | psionic_ir::ops::Arity::AtLeast(n) => n,
        };
        let a = std::slice::from_raw_parts(args, n);
        scalar::eval(d.opcode, &d.attrs, a, d.arg_dtype, d.out).unwrap_or(f64::NAN)
    }
}

/// The first out-of-range gather index of a run: `(axis, index, axis
/// size, slice size)`. Kernels write it through [`gather_fault`]; threads
/// of one kernel may race, and the first to take the lock wins.
#[derive(Default)]
pub struct GatherFault(pub std::sync::Mutex<Option<(u32, i64, usize, usize)>>);

impl GatherFault {
    /// The recorded fault as the reference interpreter words it.
    pub fn message(&self) -> Option<String> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.map(|(axis, v, dim, slice)| psionic_ir::kernel::gather_error(axis, v, dim, slice))
    }
}

/// Helper (cold path of a gather): records an out-of-range index.
extern "C" fn gather_fault(rec: *const GatherFault, axis: u32, v: i64, dim: i64, slice: i64) {
    // SAFETY: `rec` is the run's fault record, alive for the whole run
    // (`bufs[nbufs]`).
    let rec = unsafe { &*rec };
    let mut g = rec.0.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        *g = Some((axis, v, dim as usize, slice as usize));
    }
}

/// Helper: a scatter's combination of `e` with `v` (scalar shape).
extern "C" fn scatter_combine(kind: u32, dtype: u32, e: f64, v: f64) -> f64 {
    let kind = psionic_ir::kernel::ScatterKind::ALL[kind as usize];
    let dtype = DType::ALL[dtype as usize];
    scalar::scatter_combine(kind, dtype, e, v)
}

extern "C" fn f16_to_f64(bits: u32) -> f64 {
    half::f16::from_bits(bits as u16).to_f64()
}
extern "C" fn f64_to_f16(v: f64) -> u32 {
    psionic_ir::literal::f64_to_f16(v).to_bits() as u32
}
extern "C" fn f64_to_bf16(v: f64) -> u32 {
    psionic_ir::literal::f64_to_bf16(v).to_bits() as u32
}

/// Accumulator state of the scalar shape (the interpreter's algorithm):
/// `[a, b, n]`.
extern "C" fn acc_init(s: *mut f64, kind: u32) {
    let a = match acc_kind(kind) {
        AccKind::Sum | AccKind::M2 => 0.0,
        AccKind::Prod => 1.0,
        AccKind::Max | AccKind::LogSumExp => f64::NEG_INFINITY,
        AccKind::Min => f64::INFINITY,
    };
    // SAFETY: `s` is a 3-slot stack area of the calling kernel.
    unsafe {
        *s = a;
        *s.add(1) = 0.0;
        *s.add(2) = 0.0;
    }
}

fn acc_kind(k: u32) -> AccKind {
    AccKind::ALL[k as usize]
}

/// `kind` is the [`AccKind`] index, with the index in [`DType::ALL`] of the
/// accumulated dtype in bits 8 and up: integer sums and products wrap to it
/// at every step, exactly (as the interpreter's do), rather than growing in
/// f64 past 2^53 and losing the low bits the wrapped result keeps.
extern "C" fn acc_push(s: *mut f64, kind: u32, v: f64) {
    // SAFETY: as in `acc_init`.
    let st = unsafe { std::slice::from_raw_parts_mut(s, 3) };
    let (a, b, n) = (st[0], st[1], st[2]);
    let dtype = DType::ALL[(kind >> 8) as usize];
    match acc_kind(kind & 0xff) {
        AccKind::Sum if dtype.is_integer() => st[0] = scalar::round_to(dtype, a + v),
        AccKind::Prod if dtype.is_integer() => st[0] = scalar::int_mul(dtype, a, v),
        AccKind::Sum => st[0] = a + v,
        AccKind::Prod => st[0] = a * v,
        AccKind::Max => {
            st[0] = if v.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                a.max(v)
            }
        }
        AccKind::Min => {
            st[0] = if v.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                a.min(v)
            }
        }
        AccKind::M2 => {
            let n = n + 1.0;
            let d = v - a;
            let mean = a + d / n;
            st[0] = mean;
            st[1] = b + d * (v - mean);
            st[2] = n;
        }
        AccKind::LogSumExp => {
            if v.is_nan() || a.is_nan() {
                st[0] = f64::NAN;
            } else if v == f64::NEG_INFINITY {
            } else if v > a {
                st[1] = b * (a - v).exp() + 1.0;
                st[0] = v;
            } else if v == a && v == f64::INFINITY {
                st[1] = b + 1.0;
            } else {
                st[1] = b + (v - a).exp();
            }
        }
    }
}

extern "C" fn acc_finish(s: *const f64, kind: u32) -> f64 {
    // SAFETY: as in `acc_init`.
    let st = unsafe { std::slice::from_raw_parts(s, 3) };
    match acc_kind(kind) {
        AccKind::LogSumExp => {
            if st[0].is_nan() || st[0].is_infinite() {
                st[0]
            } else {
                st[0] + st[1].ln()
            }
        }
        AccKind::M2 => st[1],
        _ => st[0],
    }
}

/// Merges the per-lane accumulator state of the vector shape (layout in
/// [`VecAcc::vars`] order, each var 16 bytes) into the row's value.
extern "C" fn vacc_finish(s: *const f64, kind: u32) -> f64 {
    let lanes4 = |o: usize| -> [f64; 4] {
        // SAFETY: `s` is the kernel's spill area holding the acc's vars.
        unsafe { [*s.add(o), *s.add(o + 1), *s.add(o + 2), *s.add(o + 3)] }
    };
    match acc_kind(kind) {
        AccKind::Sum => lanes4(0).iter().sum(),
        AccKind::Prod => lanes4(0).iter().product(),
        AccKind::Max | AccKind::Min => {
            // f32x4 state: four f32 in the first 16 bytes.
            // SAFETY: as above.
            let f = unsafe { std::slice::from_raw_parts(s as *const f32, 4) };
            let mut r = f[0] as f64;
            for &x in &f[1..] {
                let x = x as f64;
                r = if r.is_nan() || x.is_nan() {
                    f64::NAN
                } else if acc_kind(kind) == AccKind::Max {
                    r.max(x)
                } else {
                    r.min(x)
                };
            }
            r
        }
        AccKind::LogSumExp => {
            // SAFETY: as above: an f32x4 maximum then f64 sums of 4 lanes.
            let m = unsafe { std::slice::from_raw_parts(s as *const f32, 4) };
            let sums = lanes4(2);
            let mut big = f64::NEG_INFINITY;
            for &x in m {
                let x = x as f64;
                if x.is_nan() || big.is_nan() {
                    big = f64::NAN;
                } else {
                    big = big.max(x);
                }
            }
            if big.is_nan() || big.is_infinite() {
                return big;
            }
            let t: f64 = m
                .iter()
                .zip(sums)
                .map(|(&mi, si)| {
                    if si == 0.0 {
                        0.0
                    } else {
                        si * (mi as f64 - big).exp()
                    }
                })
                .sum();
            big + t.ln()
        }
        // `m2` keeps the row mean: `vm2_finish`.
        AccKind::M2 => f64::NAN,
    }
}

/// `m2` of a row whose mean came from a first pass: spill layout two f64x2
/// pairs of sums of `d = x - mean` (four lanes), two of `d^2`, the
/// splatted f32 mean, then the row's point count `n` as f64. With `mean`
/// within rounding of the true mean the correction `s1^2 / n` is tiny and
/// nothing cancels: `m2 = s2 - s1^2 / n`.
extern "C" fn vm2_finish(s: *const f64, _kind: u32) -> f64 {
    // SAFETY: the kernel's spill area holds 4 f64x2 sums, an f32x4, an f64.
    let (s1, s2, n) = unsafe {
        let v = std::slice::from_raw_parts(s, 8);
        (
            v[..4].iter().sum::<f64>(),
            v[4..].iter().sum::<f64>(),
            *s.add(10),
        )
    };
    if n == 0.0 {
        return 0.0;
    }
    let m2 = s2 - s1 * s1 / n;
    if m2.is_nan() {
        f64::NAN
    } else {
        m2.max(0.0)
    }
}

/// `logsumexp` of a row whose maximum came from a first pass: spill layout
/// four f64 sums of `exp(x - max)` then the splatted f32 maximum.
extern "C" fn vlse_fixed_finish(s: *const f64, _kind: u32) -> f64 {
    // SAFETY: the kernel's spill area holds 2 f64x2 sums then an f32x4.
    let (sum, m) = unsafe {
        let sums = std::slice::from_raw_parts(s, 4);
        (sums.iter().sum::<f64>(), *(s.add(4) as *const f32) as f64)
    };
    if m.is_nan() || m.is_infinite() {
        m
    } else {
        m + sum.ln()
    }
}

/// Which code shape a kernel gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Vector,
    Scalar,
}

fn vector_op(opcode: Opcode, attrs: &Attrs) -> bool {
    use Opcode as O;
    match opcode {
        O::Equal => attrs
            .iter()
            .all(|(_, v)| *v == psionic_ir::Attr::Bool(false)),
        O::Add
        | O::Subtract
        | O::Multiply
        | O::Divide
        | O::Maximum
        | O::Minimum
        | O::Negative
        | O::Abs
        | O::Square
        | O::Sqrt
        | O::Rsqrt
        | O::Reciprocal
        | O::Exp
        | O::Log
        | O::Log2
        | O::Log10
        | O::LogAddExp
        | O::Log1p
        | O::Expm1
        | O::Tanh
        | O::Sigmoid
        | O::Erf
        | O::Erfinv
        | O::Sin
        | O::Cos
        | O::Floor
        | O::Ceil
        | O::Round
        | O::Copy
        | O::StopGradient
        | O::NotEqual
        | O::Less
        | O::LessEqual
        | O::Greater
        | O::GreaterEqual
        | O::Select
        | O::LogicalAnd
        | O::LogicalOr
        | O::LogicalNot => true,
        O::Cast => false,
        _ => false,
    }
}

/// The code shape `k` can take given the dtypes of the buffers.
///
/// Gathers of f32 take the vector shape when each index is an integer load
/// that does not move along the vector axis: one exact `i64` for all four
/// lanes, and the gathered elements are then read like any load's (one
/// 128-bit load when contiguous along that axis). Such integer loads feed
/// nothing else (any other use fails the checks below). Cross-entropy's
/// `logits[n, labels[n]]` beside a row logsumexp keeps the vector loop.
pub fn choose_shape(k: &Kernel, buf_dtype: &dyn Fn(BufId) -> DType) -> Shape {
    let mut dt: HashMap<u32, DType> = HashMap::new();
    let mut instr: HashMap<u32, &Instr> = HashMap::new();
    for n in k.stages.iter().flat_map(|s| &s.nodes) {
        dt.insert(n.id, n.dtype);
        instr.insert(n.id, &n.instr);
    }
    let vaxis = vector_axis(k);
    let uniform = |m: &IndexMap| vaxis.is_none_or(|v| m.strides[v] == 0);
    let index_load = |id: u32| {
        matches!(instr.get(&id), Some(Instr::Load { map, .. }) if uniform(map))
            && dt.get(&id).is_some_and(|d| d.is_integer())
    };
    for n in k.stages.iter().flat_map(|s| &s.nodes) {
        let ok = match &n.instr {
            Instr::Load { buf, map } if n.dtype.is_integer() => {
                buf_dtype(*buf) == n.dtype && uniform(map)
            }
            Instr::Gather { buf, index, .. } => {
                n.dtype == DType::F32
                    && buf_dtype(*buf) == DType::F32
                    && index.iter().all(|d| index_load(d.arg))
            }
            Instr::Load { buf, .. } => n.dtype == DType::F32 && buf_dtype(*buf) == DType::F32,
            // A guard on the vector axis would differ between lanes.
            Instr::LoadOr { buf, lo, hi, .. } => {
                n.dtype == DType::F32
                    && buf_dtype(*buf) == DType::F32
                    && vector_axis(k).is_none_or(|v| lo[v] == 0 && hi[v] == k.domain[v] as i64)
            }
            Instr::Store { buf, .. } => n.dtype == DType::F32 && buf_dtype(*buf) == DType::F32,
            // Lane by lane, in lane order (domain order): `set` and `sum`
            // of f32 at indices uniform along the vector axis.
            Instr::Scatter {
                buf, index, reduce, ..
            } => {
                n.dtype == DType::F32
                    && buf_dtype(*buf) == DType::F32
                    && matches!(reduce, ScatterKind::Set | ScatterKind::Sum)
                    && index.iter().all(|d| index_load(d.arg))
            }
            Instr::Const(_) | Instr::Acc { .. } => n.dtype == DType::F32,
            // Scans run one element at a time along the row, in f64.
            Instr::MatmulResult | Instr::Scan { .. } => false,
            Instr::Op {
                opcode,
                attrs,
                args,
            } => {
                use Opcode as O;
                let is = |i: usize, d: DType| args.get(i).and_then(|a| dt.get(a)) == Some(&d);
                let all = |d: DType| args.iter().all(|a| dt.get(a) == Some(&d));
                let (args_ok, out_ok) = match opcode {
                    // Bool values are lane masks: logic only on masks.
                    O::LogicalAnd | O::LogicalOr | O::LogicalNot => {
                        (all(DType::Bool), n.dtype == DType::Bool)
                    }
                    O::Select => (
                        is(0, DType::Bool) && is(1, DType::F32) && is(2, DType::F32),
                        n.dtype == DType::F32,
                    ),
                    O::Equal
                    | O::NotEqual
                    | O::Less
                    | O::LessEqual
                    | O::Greater
                    | O::GreaterEqual => (all(DType::F32), n.dtype == DType::Bool),
                    // Between masks and f32 (`relu`'s derivative is
                    // `cast(x > 0)`): see `Gen::cast_vector`.
                    O::Cast => {
                        let f32_or_bool =
                            |d: Option<&DType>| matches!(d, Some(DType::F32) | Some(DType::Bool));
                        (
                            f32_or_bool(args.first().and_then(|a| dt.get(a))),
                            f32_or_bool(Some(&n.dtype)),
                        )
                    }
                    _ => (all(DType::F32), n.dtype == DType::F32),
                };
                args_ok && out_ok && (*opcode == O::Cast || vector_op(*opcode, attrs))
            }
        };
        if !ok {
            return Shape::Scalar;
        }
    }
    Shape::Vector
}

/// The axis iterated 4 lanes at a time: the last domain axis when it is
/// reduced, or when the kernel is purely elementwise.
fn vector_axis(k: &Kernel) -> Option<usize> {
    let last = k.domain.len().checked_sub(1)?;
    if k.reduce_axes.contains(&last) {
        return Some(last);
    }
    if k.reduce_axes.is_empty() && k.stages.iter().all(|s| s.kind == StageKind::Map) {
        return Some(last);
    }
    if row_lanes_kernel(k) {
        return Some(last);
    }
    None
}

/// A reduction over axes other than the innermost one (a column sum, a
/// bias gradient) whose accumulators are all `sum`, `max` or `min`: its
/// innermost (outer) axis runs 4 rows at a time, one row per lane, each
/// lane accumulating its own row ([`Gen::row_lanes`]), instead of one row
/// at a time in lane 0.
fn row_lanes_kernel(k: &Kernel) -> bool {
    let Some(last) = k.domain.len().checked_sub(1) else {
        return false;
    };
    !k.reduce_axes.is_empty()
        && !k.reduce_axes.contains(&last)
        && k.domain[last] >= 4
        && k.stages
            .iter()
            .flat_map(|s| &s.nodes)
            .all(|n| match n.instr {
                Instr::Acc { kind, .. } => {
                    matches!(kind, AccKind::Sum | AccKind::Max | AccKind::Min)
                }
                _ => true,
            })
}

/// State of one accumulator in the vector shape.
struct VecAcc {
    kind: AccKind,
    vars: Vec<(Variable, Type)>,
    /// Independent partial states for the unrolled copies 1.. of the loop
    /// body (`sum`, `prod`, `max`, `min`: a chain per copy, merged at the end
    /// of the row, so the copies do not wait on one another's latency).
    extra: Vec<Vec<Variable>>,
    /// `logsumexp` with the row maximum known from a first pass (a splatted
    /// f32x4): the state is only f64 sums of `exp(x - max)`.
    fixed_max: Option<Value>,
    /// `m2`: the row mean from a first pass, rounded to f32 and splatted;
    /// the state is the f64 sums of `d = x - mean` and `d^2`.
    mean: Option<Value>,
    /// f32x4 partial sums, per unrolled copy: partial `j` of copy `c` is
    /// added into the f64x2 pair `2j, 2j+1` of that copy's vars at least
    /// every [`FLUSH_ADDS`] adds per lane ([`Gen::flush_partials`]). An
    /// f32 add is one instruction where widening every vector to f64 is
    /// five, and a lane's f32 partial of at most `FLUSH_ADDS` terms has
    /// error at most `FLUSH_ADDS * 2^-24` of its terms' absolute sum.
    /// Used by `sum`, `logsumexp` with a fixed maximum (one partial) and
    /// `m2` (two: `d` and `d^2`).
    part: Vec<Vec<Variable>>,
}

/// Running state of one scan (scalar shape).
#[derive(Clone, Copy)]
enum ScanSt {
    /// Float `sum`/`prod`/`max`/`min`: an f64 variable.
    Var(Variable),
    /// Anything else: the `[a, b, n]` accumulator state on the stack,
    /// stepped by `acc_push` (integer wrapping, online logsumexp).
    Slot(Value),
}

enum AccSt {
    Vec(VecAcc),
    /// Stack slot address of `[a, b, n]` (scalar shape).
    Scalar(Value),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 4 lanes along the vector axis.
    Lanes,
    /// One element (splatted in the vector shape; lane 0 is the value).
    One,
}

struct Gen<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    ptr: Type,
    fma: bool,
    shape: Shape,
    k: &'a Kernel,
    buf_dtype: &'a dyn Fn(BufId) -> DType,
    bases: HashMap<BufId, Value>,
    idx: Vec<Variable>,
    vaxis: Option<usize>,
    vals: HashMap<u32, Value>,
    dtypes: HashMap<u32, DType>,
    accs: HashMap<u32, AccSt>,
    scans: HashMap<u32, ScanSt>,
    /// Which unrolled copy of a vector body is being emitted.
    copy: usize,
    /// Row maxima of `logsumexp` accumulators (see `row_pre_pass`).
    lse_max: HashMap<u32, Value>,
    /// Row means of `m2` accumulators (see `row_pre_pass`).
    m2_mean: HashMap<u32, Value>,
    /// Row sums (f64) the `m2` pre-pass computed, by argument node: a
    /// `sum` of the same argument in the stage takes it instead of summing
    /// again (layer norm's mean and variance).
    pre_sum: HashMap<u32, Value>,
    /// The kernel is a softmax whose exponentials are stored by the sum
    /// pass (see [`SoftmaxReuse`]).
    reuse: Option<SoftmaxReuse>,
    /// Emitting the stages for 4 consecutive indices of the innermost
    /// (outer) axis at once, one per lane (see [`row_lanes_kernel`]):
    /// every node runs in `Mode::Lanes`, accumulators keep one row per
    /// lane and finish without merging lanes.
    row_lanes: bool,
    ops: &'a mut Vec<OpDesc>,
    table_addr: i64,
    /// The function's buffer table and the index of its fault-record entry.
    bufs: Value,
    fault_slot: usize,
    args_slot: Value,
    spill: Value,
    lo: Value,
    hi: Value,
}

fn mf() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}
fn le() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl Gen<'_, '_> {
    fn iconst(&mut self, v: i64) -> Value {
        self.b.ins().iconst(self.ptr, v)
    }

    /// Element offset of `map` at the current indices, in elements; with
    /// the vector axis's stride returned separately.
    fn elem_addr(&mut self, buf: BufId, map: &IndexMap) -> (Value, i64, i64) {
        let esize = (self.buf_dtype)(buf).size() as i64;
        let mut off = self.iconst(map.offset);
        for (ax, &s) in map.strides.iter().enumerate() {
            if s == 0 {
                continue;
            }
            let i = self.b.use_var(self.idx[ax]);
            let t = self.b.ins().imul_imm_s(i, s);
            off = self.b.ins().iadd(off, t);
        }
        let bytes = self.b.ins().imul_imm_s(off, esize);
        let base = self.bases[&buf];
        let a = self.b.ins().iadd(base, bytes);
        let vs = self.vaxis.map(|v| map.strides[v]).unwrap_or(0);
        (a, vs, esize)
    }

    fn f64c(&mut self, v: f64) -> Value {
        self.b.ins().f64const(v)
    }
    fn d2c(&mut self, v: f64) -> Value {
        let s = self.b.ins().f64const(v);
        self.b.ins().splat(D2, s)
    }
    fn f4c(&mut self, v: f32) -> Value {
        let s = self.b.ins().f32const(v);
        self.b.ins().splat(F4, s)
    }
    fn vconst(&mut self, ty: Type, bytes: Vec<u8>) -> Value {
        let h = self.b.func.dfg.constants.insert(ConstantData::from(bytes));
        self.b.ins().vconst(ty, h)
    }

    fn call_helper(
        &mut self,
        addr: usize,
        params: &[Type],
        ret: Option<Type>,
        args: &[Value],
    ) -> Option<Value> {
        let mut sig = Signature::new(CallConv::SystemV);
        for &p in params {
            sig.params.push(AbiParam::new(p));
        }
        if let Some(r) = ret {
            sig.returns.push(AbiParam::new(r));
        }
        let sref = self.b.import_signature(sig);
        let fp = self.iconst(addr as i64);
        let call = self.b.ins().call_indirect(sref, fp, args);
        self.b.inst_results(call).first().copied()
    }

    // ---- loads and stores ----

    fn load(&mut self, n: &Node, buf: BufId, map: &IndexMap, mode: Mode) -> Value {
        let (a, vs, esize) = self.elem_addr(buf, map);
        if self.shape == Shape::Vector && n.dtype.is_integer() {
            // A gather index (see `choose_shape`): the same in every lane.
            return self.load_int(n.dtype, a);
        }
        self.load_from(n, a, vs, esize, mode)
    }

    /// An integer element as an exact `i64` (a gather index in the vector
    /// shape).
    fn load_int(&mut self, d: DType, a: Value) -> Value {
        let ins = self.b.ins();
        match (d.size(), d.is_signed_integer()) {
            (1, true) => ins.sload8(types::I64, mf(), a, 0),
            (1, false) => ins.uload8(types::I64, mf(), a, 0),
            (2, true) => ins.sload16(types::I64, mf(), a, 0),
            (2, false) => ins.uload16(types::I64, mf(), a, 0),
            (4, true) => ins.sload32(mf(), a, 0),
            (4, false) => ins.uload32(mf(), a, 0),
            _ => ins.load(types::I64, mf(), a, 0),
        }
    }

    /// The element at address `a` (moving `vs` elements of `esize` bytes
    /// per lane along the vector axis).
    fn load_from(&mut self, n: &Node, a: Value, vs: i64, esize: i64, mode: Mode) -> Value {
        match self.shape {
            Shape::Vector => {
                if mode == Mode::One || vs == 0 {
                    let s = self.b.ins().load(types::F32, mf(), a, 0);
                    return self.b.ins().splat(F4, s);
                }
                if vs == 1 {
                    return self.b.ins().load(F4, mf(), a, 0);
                }
                let s0 = self.b.ins().load(types::F32, mf(), a, 0);
                let mut v = self.b.ins().splat(F4, s0);
                for l in 1..4 {
                    let off = (vs * esize * l) as i32;
                    let s = self.b.ins().load(types::F32, mf(), a, off);
                    v = self.b.ins().insertlane(v, s, l as u8);
                }
                v
            }
            Shape::Scalar => self.load_scalar(n.dtype, a),
        }
    }

    /// A guarded load: the element at the indices clamped into the box
    /// (always in bounds), or the fill where the indices leave the box.
    /// In the vector shape no box restricts the vector axis
    /// ([`choose_shape`]), so the guard is one for all lanes.
    #[allow(clippy::too_many_arguments)]
    fn load_or(
        &mut self,
        n: &Node,
        buf: BufId,
        map: &IndexMap,
        lo: &[i64],
        hi: &[i64],
        fill: u32,
        mode: Mode,
    ) -> Value {
        let mut inside: Option<Value> = None;
        let mut saved = Vec::new();
        for ax in 0..lo.len() {
            if lo[ax] == 0 && hi[ax] == self.k.domain[ax] as i64 {
                continue;
            }
            let i = self.b.use_var(self.idx[ax]);
            saved.push((ax, i));
            let ge = self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, i, lo[ax]);
            let lt = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, hi[ax]);
            let both = self.b.ins().band(ge, lt);
            inside = Some(match inside {
                Some(c) => self.b.ins().band(c, both),
                None => both,
            });
            let l = self.iconst(lo[ax]);
            let h = self.iconst(hi[ax] - 1);
            let c = self.b.ins().smax(i, l);
            let c = self.b.ins().smin(c, h);
            self.b.def_var(self.idx[ax], c);
        }
        let v = self.load(n, buf, map, mode);
        for (ax, i) in saved {
            self.b.def_var(self.idx[ax], i);
        }
        let f = self.vals[&fill];
        match inside {
            Some(c) => self.b.ins().select(c, v, f),
            None => v,
        }
    }

    fn load_scalar(&mut self, d: DType, a: Value) -> Value {
        let ins = self.b.ins();
        match d {
            DType::F64 => ins.load(types::F64, mf(), a, 0),
            DType::F32 => {
                let s = ins.load(types::F32, mf(), a, 0);
                self.b.ins().fpromote(types::F64, s)
            }
            DType::BF16 => {
                let h = ins.uload16(types::I32, mf(), a, 0);
                let w = self.b.ins().ishl_imm_u(h, 16);
                let f = self.b.ins().bitcast(types::F32, le(), w);
                self.b.ins().fpromote(types::F64, f)
            }
            DType::F16 => {
                let h = ins.uload16(types::I32, mf(), a, 0);
                self.call_helper(
                    f16_to_f64 as *const () as usize,
                    &[types::I32],
                    Some(types::F64),
                    &[h],
                )
                .expect("helper returns")
            }
            DType::Bool | DType::U8 => {
                let v = ins.uload8(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_uint(types::F64, v)
            }
            DType::U16 => {
                let v = ins.uload16(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_uint(types::F64, v)
            }
            DType::U32 => {
                let v = ins.uload32(mf(), a, 0);
                self.b.ins().fcvt_from_uint(types::F64, v)
            }
            DType::U64 => {
                let v = ins.load(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_uint(types::F64, v)
            }
            DType::I8 => {
                let v = ins.sload8(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_sint(types::F64, v)
            }
            DType::I16 => {
                let v = ins.sload16(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_sint(types::F64, v)
            }
            DType::I32 => {
                let v = ins.sload32(mf(), a, 0);
                self.b.ins().fcvt_from_sint(types::F64, v)
            }
            DType::I64 => {
                let v = ins.load(types::I64, mf(), a, 0);
                self.b.ins().fcvt_from_sint(types::F64, v)
            }
            DType::C64 => unreachable!("complex buffers are rejected before code generation"),
        }
    }

    /// A gather: the static address plus each wrapped and checked index
    /// times its stride. Indices are f64 values in the scalar shape, exact
    /// `i64` loads in the vector shape (the same in every lane: see
    /// `choose_shape`), where the gathered elements are read like a load's.
    fn gather(
        &mut self,
        n: &Node,
        buf: BufId,
        map: &IndexMap,
        index: &[DynIndex],
        mode: Mode,
    ) -> Value {
        let (addr, vs, esize) = self.dyn_addr(buf, map, index);
        self.load_from(n, addr, vs, esize, mode)
    }

    /// The address of a gather or scatter: the static part plus each
    /// wrapped and checked (or clamped) index times its stride.
    fn dyn_addr(&mut self, buf: BufId, map: &IndexMap, index: &[DynIndex]) -> (Value, i64, i64) {
        let (a, vs, esize) = self.elem_addr(buf, map);
        let mut off = self.iconst(0);
        for d in index {
            let v = self.vals[&d.arg];
            let i = if self.b.func.dfg.value_type(v) == types::I64 {
                v
            } else {
                self.b.ins().fcvt_to_sint_sat(types::I64, v)
            };
            let j = if d.clamp {
                let lo = self.iconst(0);
                let hi = self.iconst((d.dim - d.slice) as i64);
                let j = self.b.ins().smax(i, lo);
                self.b.ins().smin(j, hi)
            } else {
                self.wrap_index(i, d)
            };
            let t = self.b.ins().imul_imm_s(j, d.stride);
            off = self.b.ins().iadd(off, t);
        }
        let bytes = self.b.ins().imul_imm_s(off, esize);
        (self.b.ins().iadd(a, bytes), vs, esize)
    }

    /// A scatter: reads the element at its address, combines, writes it
    /// back. Vector shape (f32 `set`/`sum`, see `choose_shape`): lane by
    /// lane in lane order; scalar shape: in f64 like the interpreter.
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &mut self,
        n: &Node,
        buf: BufId,
        map: &IndexMap,
        index: &[DynIndex],
        v: Value,
        reduce: ScatterKind,
        mode: Mode,
    ) {
        let (addr, vs, esize) = self.dyn_addr(buf, map, index);
        match self.shape {
            Shape::Vector => {
                let lanes = if mode == Mode::Lanes { 4 } else { 1 };
                for l in 0..lanes {
                    let off = (vs * esize * l as i64) as i32;
                    let mut s = self.b.ins().extractlane(v, l);
                    if reduce == ScatterKind::Sum {
                        let e = self.b.ins().load(types::F32, mf(), addr, off);
                        s = self.b.ins().fadd(e, s);
                    }
                    self.b.ins().store(mf(), s, addr, off);
                }
            }
            Shape::Scalar => {
                let d = (self.buf_dtype)(buf);
                let r = match reduce {
                    ScatterKind::Set => v,
                    // The f64 sum of two floats rounds to the float's sum
                    // when stored.
                    ScatterKind::Sum if d.is_float() => {
                        let e = self.load_scalar(d, addr);
                        self.b.ins().fadd(e, v)
                    }
                    _ => {
                        let e = self.load_scalar(d, addr);
                        let kind = ScatterKind::ALL
                            .iter()
                            .position(|&k| k == reduce)
                            .expect("a scatter kind") as i64;
                        let dt = DType::ALL
                            .iter()
                            .position(|&x| x == n.dtype)
                            .expect("a dtype") as i64;
                        let kind = self.b.ins().iconst(types::I32, kind);
                        let dt = self.b.ins().iconst(types::I32, dt);
                        self.call_helper(
                            scatter_combine as *const () as usize,
                            &[types::I32, types::I32, types::F64, types::F64],
                            Some(types::F64),
                            &[kind, dt, e, v],
                        )
                        .expect("helper returns")
                    }
                };
                self.store_scalar(d, r, addr)
            }
        }
    }

    /// `i` wrapped once if negative and checked against `0..=dim - slice`;
    /// out of range, a cold block records the fault and the result is 0.
    fn wrap_index(&mut self, i: Value, d: &DynIndex) -> Value {
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
        let w = self.b.ins().iadd_imm_s(i, d.dim as i64);
        let j = self.b.ins().select(neg, w, i);
        let ok =
            self.b
                .ins()
                .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, j, (d.dim - d.slice) as i64);
        let fault = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(fault);
        self.b.ins().brif(ok, cont, &[], fault, &[]);
        self.b.switch_to_block(fault);
        self.b.seal_block(fault);
        let rec = self
            .b
            .ins()
            .load(self.ptr, mf(), self.bufs, (self.fault_slot * 8) as i32);
        let axis = self.b.ins().iconst(types::I32, d.axis as i64);
        let dim = self.b.ins().iconst(types::I64, d.dim as i64);
        let slice = self.b.ins().iconst(types::I64, d.slice as i64);
        self.call_helper(
            gather_fault as *const () as usize,
            &[self.ptr, types::I32, types::I64, types::I64, types::I64],
            None,
            &[rec, axis, i, dim, slice],
        );
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().select(ok, j, zero)
    }

    fn store(&mut self, buf: BufId, map: &IndexMap, v: Value, mode: Mode) {
        let (a, vs, esize) = self.elem_addr(buf, map);
        match self.shape {
            Shape::Vector => {
                if mode == Mode::Lanes && vs == 1 {
                    self.b.ins().store(mf(), v, a, 0);
                } else if mode == Mode::Lanes {
                    for l in 0..4u8 {
                        let s = self.b.ins().extractlane(v, l);
                        self.b
                            .ins()
                            .store(mf(), s, a, (vs * esize * l as i64) as i32);
                    }
                } else {
                    let s = self.b.ins().extractlane(v, 0);
                    self.b.ins().store(mf(), s, a, 0);
                }
            }
            Shape::Scalar => {
                let d = (self.buf_dtype)(buf);
                self.store_scalar(d, v, a)
            }
        }
    }

    fn store_scalar(&mut self, d: DType, v: Value, a: Value) {
        match d {
            DType::F64 => {
                self.b.ins().store(mf(), v, a, 0);
            }
            DType::F32 => {
                let s = self.b.ins().fdemote(types::F32, v);
                self.b.ins().store(mf(), s, a, 0);
            }
            DType::F16 | DType::BF16 => {
                let h: usize = if d == DType::F16 {
                    f64_to_f16 as *const () as usize
                } else {
                    f64_to_bf16 as *const () as usize
                };
                let bits = self
                    .call_helper(h, &[types::F64], Some(types::I32), &[v])
                    .expect("helper returns");
                self.b.ins().istore16(mf(), bits, a, 0);
            }
            DType::Bool => {
                let z = self.f64c(0.0);
                let c = self.b.ins().fcmp(FloatCC::NotEqual, v, z);
                self.b.ins().store(mf(), c, a, 0);
            }
            _ => {
                let i = if d.is_unsigned_integer() {
                    self.b.ins().fcvt_to_uint_sat(types::I64, v)
                } else {
                    self.b.ins().fcvt_to_sint_sat(types::I64, v)
                };
                match d.size() {
                    1 => self.b.ins().istore8(mf(), i, a, 0),
                    2 => self.b.ins().istore16(mf(), i, a, 0),
                    4 => self.b.ins().istore32(mf(), i, a, 0),
                    _ => self.b.ins().store(mf(), i, a, 0),
                };
            }
        }
    }

    // ---- ops ----

    fn op_vector(&mut self, opcode: Opcode, a: &[Value]) -> Value {
        use Opcode as O;
        let mut m = VMath::new(self.b, self.fma);
        let x = a[0];
        let cmp = |m: &mut VMath, cc: FloatCC| -> Value {
            let c = m.b.ins().fcmp(cc, a[0], a[1]);
            m.b.ins().bitcast(F4, le(), c)
        };
        match opcode {
            O::Add => m.b.ins().fadd(x, a[1]),
            O::Subtract => m.b.ins().fsub(x, a[1]),
            O::Multiply => m.b.ins().fmul(x, a[1]),
            O::Divide => m.b.ins().fdiv(x, a[1]),
            O::Maximum => m.b.ins().fmax(x, a[1]),
            O::Minimum => m.b.ins().fmin(x, a[1]),
            O::Negative => m.b.ins().fneg(x),
            O::Abs => m.b.ins().fabs(x),
            O::Square => m.b.ins().fmul(x, x),
            O::Sqrt => m.b.ins().sqrt(x),
            O::Rsqrt => {
                let s = m.b.ins().sqrt(x);
                let one = m.cf(1.0);
                m.b.ins().fdiv(one, s)
            }
            O::Reciprocal => {
                let one = m.cf(1.0);
                m.b.ins().fdiv(one, x)
            }
            O::Exp => m.exp(x),
            O::Log => m.log(x),
            O::Log2 => {
                let l = m.log(x);
                let c = m.cf(std::f32::consts::LOG2_E);
                m.b.ins().fmul(l, c)
            }
            O::Log10 => {
                let l = m.log(x);
                let c = m.cf(std::f32::consts::LOG10_E);
                m.b.ins().fmul(l, c)
            }
            O::LogAddExp => m.logaddexp(x, a[1]),
            O::Log1p => m.log1p(x),
            O::Expm1 => m.expm1(x),
            O::Tanh => m.tanh(x),
            O::Sigmoid => m.sigmoid(x),
            O::Erf => m.erf(x),
            O::Erfinv => m.erfinv(x),
            O::Sin => m.sin(x),
            O::Cos => m.cos(x),
            O::Floor => m.b.ins().floor(x),
            O::Ceil => m.b.ins().ceil(x),
            O::Round => m.b.ins().nearest(x),
            O::Copy | O::StopGradient => x,
            O::Equal => cmp(&mut m, FloatCC::Equal),
            O::NotEqual => cmp(&mut m, FloatCC::NotEqual),
            O::Less => cmp(&mut m, FloatCC::LessThan),
            O::LessEqual => cmp(&mut m, FloatCC::LessThanOrEqual),
            O::Greater => cmp(&mut m, FloatCC::GreaterThan),
            O::GreaterEqual => cmp(&mut m, FloatCC::GreaterThanOrEqual),
            // Bool values are all-ones / all-zeros lane masks.
            O::Select => m.b.ins().bitselect(a[0], a[1], a[2]),
            O::LogicalAnd => m.b.ins().band(x, a[1]),
            O::LogicalOr => m.b.ins().bor(x, a[1]),
            O::LogicalNot => m.b.ins().bnot(x),
            other => unreachable!("`{other}` is not a vector op (checked by choose_shape)"),
        }
    }

    /// The dtype of node `id` of the kernel.
    fn node_dtype(&self, id: u32) -> DType {
        self.k
            .stages
            .iter()
            .flat_map(|s| &s.nodes)
            .find(|n| n.id == id)
            .map_or(DType::F32, |n| n.dtype)
    }

    /// A cast in the vector shape, where bools are all-ones/all-zeros lane
    /// masks: a mask to f32 is 1.0 or 0.0 (`mask & bits(1.0)`), an f32 to
    /// bool is `x != 0` (true for NaN, as the interpreter's nonzero test).
    fn cast_vector(&mut self, v: Value, from: DType, to: DType) -> Value {
        match (from, to) {
            (DType::Bool, DType::F32) => {
                let one = self.f4c(1.0);
                self.b.ins().band(v, one)
            }
            (DType::F32, DType::Bool) => {
                let z = self.f4c(0.0);
                let c = self.b.ins().fcmp(FloatCC::NotEqual, v, z);
                self.b.ins().bitcast(F4, le(), c)
            }
            _ => v,
        }
    }

    fn op_scalar(&mut self, n: &Node, opcode: Opcode, attrs: &Attrs, args: &[u32]) -> Value {
        use Opcode as O;
        let a: Vec<Value> = args.iter().map(|x| self.vals[x]).collect();
        let arg_dtype = match opcode {
            O::Select => self.dtypes[&args[1]],
            _ => self.dtypes[&args[0]],
        };
        let out = n.dtype;
        let float_same = arg_dtype == out && (out == DType::F64 || out == DType::F32);
        if float_same {
            // Exact in f64 then rounded once to f32: the interpreter's value.
            let r = match opcode {
                O::Add => Some(self.b.ins().fadd(a[0], a[1])),
                O::Subtract => Some(self.b.ins().fsub(a[0], a[1])),
                O::Multiply => Some(self.b.ins().fmul(a[0], a[1])),
                O::Divide => Some(self.b.ins().fdiv(a[0], a[1])),
                O::Sqrt => Some(self.b.ins().sqrt(a[0])),
                O::Negative => Some(self.b.ins().fneg(a[0])),
                O::Abs => Some(self.b.ins().fabs(a[0])),
                O::Square => Some(self.b.ins().fmul(a[0], a[0])),
                O::Maximum => Some(self.b.ins().fmax(a[0], a[1])),
                O::Minimum => Some(self.b.ins().fmin(a[0], a[1])),
                O::Copy | O::StopGradient => Some(a[0]),
                _ => None,
            };
            if let Some(r) = r {
                if out == DType::F32 {
                    let s = self.b.ins().fdemote(types::F32, r);
                    return self.b.ins().fpromote(types::F64, s);
                }
                return r;
            }
        }
        let i = self.ops.len() as u32;
        self.ops.push(OpDesc {
            opcode,
            attrs: attrs.clone(),
            arg_dtype,
            out,
        });
        for (j, &v) in a.iter().enumerate() {
            self.b.ins().store(mf(), v, self.args_slot, (j * 8) as i32);
        }
        let t = self.iconst(self.table_addr);
        let iv = self.b.ins().iconst(types::I32, i as i64);
        let p = self.ptr;
        self.call_helper(
            op_helper as *const () as usize,
            &[p, types::I32, p],
            Some(types::F64),
            &[t, iv, self.args_slot],
        )
        .expect("helper returns")
    }

    // ---- accumulators ----

    fn acc_init(&mut self, id: u32, kind: AccKind, copies: usize) {
        match self.shape {
            Shape::Vector => {
                let mut vars = Vec::new();
                let mut add = |g: &mut Self, ty: Type, v: Value| {
                    let var = g.b.declare_var(ty);
                    g.b.def_var(var, v);
                    vars.push((var, ty));
                };
                match kind {
                    AccKind::Sum => {
                        let z = self.d2c(0.0);
                        add(self, D2, z);
                        add(self, D2, z);
                    }
                    AccKind::Prod => {
                        let o = self.d2c(1.0);
                        add(self, D2, o);
                        add(self, D2, o);
                    }
                    AccKind::Max => {
                        let v = self.f4c(f32::NEG_INFINITY);
                        add(self, F4, v);
                    }
                    AccKind::Min => {
                        let v = self.f4c(f32::INFINITY);
                        add(self, F4, v);
                    }
                    AccKind::LogSumExp if self.lse_max.contains_key(&id) => {
                        let z = self.d2c(0.0);
                        add(self, D2, z);
                        add(self, D2, z);
                    }
                    AccKind::LogSumExp => {
                        let v = self.f4c(f32::NEG_INFINITY);
                        add(self, F4, v);
                        let z = self.d2c(0.0);
                        add(self, D2, z);
                        add(self, D2, z);
                    }
                    AccKind::M2 => {
                        // Sums of d and d^2 (see `VecAcc::mean`), each a
                        // lo/hi pair of f64x2.
                        let z = self.d2c(0.0);
                        for _ in 0..4 {
                            add(self, D2, z);
                        }
                    }
                }
                let mut extra = Vec::new();
                let fixed_max = self.lse_max.get(&id).copied();
                let mean = match kind {
                    AccKind::M2 => Some(self.m2_mean[&id]),
                    _ => None,
                };
                let partials = match kind {
                    AccKind::Sum => 1,
                    AccKind::LogSumExp if fixed_max.is_some() => 1,
                    AccKind::M2 => 2,
                    _ => 0,
                };
                let z = self.f4c(0.0);
                let part: Vec<Vec<Variable>> = (0..copies.max(1))
                    .map(|_| {
                        (0..partials)
                            .map(|_| {
                                let var = self.b.declare_var(F4);
                                self.b.def_var(var, z);
                                var
                            })
                            .collect()
                    })
                    .collect();
                if matches!(
                    kind,
                    AccKind::Sum | AccKind::Prod | AccKind::Max | AccKind::Min | AccKind::M2
                ) || fixed_max.is_some()
                {
                    for _ in 1..copies {
                        let mut set = Vec::new();
                        for &(var, ty) in &vars {
                            let v = self.b.use_var(var);
                            let nv = self.b.declare_var(ty);
                            self.b.def_var(nv, v);
                            set.push(nv);
                        }
                        extra.push(set);
                    }
                }
                self.accs.insert(
                    id,
                    AccSt::Vec(VecAcc {
                        kind,
                        vars,
                        extra,
                        fixed_max,
                        mean,
                        part,
                    }),
                );
            }
            Shape::Scalar => {
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    24,
                    3,
                ));
                let addr = self.b.ins().stack_addr(self.ptr, slot, 0);
                let kv = self.b.ins().iconst(types::I32, kind as usize as i64);
                let kv = self.kind_index(kind, kv);
                let p = self.ptr;
                self.call_helper(
                    acc_init as *const () as usize,
                    &[p, types::I32],
                    None,
                    &[addr, kv],
                );
                self.accs.insert(id, AccSt::Scalar(addr));
            }
        }
    }

    fn kind_index(&mut self, kind: AccKind, _v: Value) -> Value {
        let i = AccKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        self.b.ins().iconst(types::I32, i as i64)
    }

    /// f32x4 -> (f64x2 of lanes 0,1; f64x2 of lanes 2,3).
    fn widen(&mut self, v: Value) -> (Value, Value) {
        let lo = self.b.ins().fvpromote_low(v);
        let bytes = self.b.ins().bitcast(types::I8X16, le(), v);
        let idx: Vec<u8> = (8..16).chain(0..8).collect();
        let imm = self.b.func.dfg.immediates.push(ConstantData::from(idx));
        let sh = self.b.ins().shuffle(bytes, bytes, imm);
        let shf = self.b.ins().bitcast(F4, le(), sh);
        let hi = self.b.ins().fvpromote_low(shf);
        (lo, hi)
    }

    fn acc_push(&mut self, id: u32, v: Value, mode: Mode) {
        let st = self.accs.get(&id).expect("accumulator initialized");
        match st {
            AccSt::Scalar(addr) => {
                let addr = *addr;
                let kind = self.scalar_kind(id);
                let i = AccKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
                let d = DType::ALL
                    .iter()
                    .position(|&d| d == self.node_dtype(id))
                    .unwrap_or(0);
                let kv = self.b.ins().iconst(types::I32, (i | d << 8) as i64);
                let p = self.ptr;
                self.call_helper(
                    acc_push as *const () as usize,
                    &[p, types::I32, types::F64],
                    None,
                    &[addr, kv, v],
                );
            }
            AccSt::Vec(a) => {
                let kind = a.kind;
                let fixed_max = a.fixed_max;
                let mean = a.mean;
                let vars: Vec<Variable> = match (self.copy, mode) {
                    (c, Mode::Lanes) if c > 0 && c <= a.extra.len() => a.extra[c - 1].clone(),
                    _ => a.vars.iter().map(|x| x.0).collect(),
                };
                // In `One` mode only lane 0 (lanes 0,1 of the low f64 pair,
                // masked to lane 0) takes part.
                let one = mode == Mode::One;
                let mask_f4 = if one {
                    let mut b = vec![0xffu8; 4];
                    b.extend([0u8; 12]);
                    Some(self.vconst(F4, b))
                } else {
                    None
                };
                let mask_d2 = if one {
                    let mut b = vec![0xffu8; 8];
                    b.extend([0u8; 8]);
                    Some(self.vconst(D2, b))
                } else {
                    None
                };
                match kind {
                    AccKind::LogSumExp if fixed_max.is_some() => {
                        let mx = fixed_max.expect("checked");
                        let d = self.b.ins().fsub(v, mx);
                        let e = VMath::new(self.b, self.fma).exp(d);
                        if let Some(r) = self.reuse.clone().filter(|r| r.lse == id) {
                            self.store(r.buf, &r.map, e, mode);
                        }
                        self.push_partial(id, 0, e, mask_f4, false);
                    }
                    AccKind::Sum => self.push_partial(id, 0, v, mask_f4, false),
                    AccKind::M2 => {
                        let mean = mean.expect("m2 has its row mean");
                        let d = self.b.ins().fsub(v, mean);
                        self.push_partial(id, 0, d, mask_f4, false);
                        self.push_partial(id, 1, d, mask_f4, true);
                    }
                    AccKind::Prod => {
                        let (lo, hi) = self.widen(v);
                        let nv = self.d2c(1.0);
                        let lo = match mask_d2 {
                            Some(m) => self.b.ins().bitselect(m, lo, nv),
                            None => lo,
                        };
                        let parts = if one {
                            vec![(vars[0], lo)]
                        } else {
                            vec![(vars[0], lo), (vars[1], hi)]
                        };
                        for (var, x) in parts {
                            let cur = self.b.use_var(var);
                            let r = self.b.ins().fmul(cur, x);
                            self.b.def_var(var, r);
                        }
                    }
                    AccKind::Max | AccKind::Min => {
                        let neutral = if kind == AccKind::Max {
                            f32::NEG_INFINITY
                        } else {
                            f32::INFINITY
                        };
                        let nv = self.f4c(neutral);
                        let x = match mask_f4 {
                            Some(m) => self.b.ins().bitselect(m, v, nv),
                            None => v,
                        };
                        let cur = self.b.use_var(vars[0]);
                        let r = if kind == AccKind::Max {
                            self.b.ins().fmax(cur, x)
                        } else {
                            self.b.ins().fmin(cur, x)
                        };
                        self.b.def_var(vars[0], r);
                    }
                    AccKind::LogSumExp => {
                        let ninf = self.f4c(f32::NEG_INFINITY);
                        let x = match mask_f4 {
                            Some(m) => self.b.ins().bitselect(m, v, ninf),
                            None => v,
                        };
                        let m_old = self.b.use_var(vars[0]);
                        let m_new = self.b.ins().fmax(m_old, x);
                        self.b.def_var(vars[0], m_new);
                        let is_ninf = self.b.ins().fcmp(FloatCC::Equal, m_new, ninf);
                        let is_ninf = self.b.ins().bitcast(F4, le(), is_ninf);
                        let zero_v = self.f4c(0.0);
                        let one_v = self.f4c(1.0);
                        // Rescaling the sums needs a second exp; skip it when
                        // no lane's maximum moved (NaN counts as moved).
                        let moved = self.b.ins().fcmp(FloatCC::NotEqual, m_new, m_old);
                        let any = self.b.ins().vany_true(moved);
                        let (slow, fast, join) = (
                            self.b.create_block(),
                            self.b.create_block(),
                            self.b.create_block(),
                        );
                        self.b.ins().brif(any, slow, &[], fast, &[]);
                        for (blk, rescale) in [(slow, true), (fast, false)] {
                            self.b.switch_to_block(blk);
                            self.b.seal_block(blk);
                            let d2 = self.b.ins().fsub(x, m_new);
                            let (scale, e) = {
                                let mut vm = VMath::new(self.b, self.fma);
                                let e = vm.exp(d2);
                                let s = if rescale {
                                    let d1 = vm.b.ins().fsub(m_old, m_new);
                                    Some(vm.exp(d1))
                                } else {
                                    None
                                };
                                (s, e)
                            };
                            let e = self.b.ins().bitselect(is_ninf, zero_v, e);
                            let (elo, ehi) = self.widen(e);
                            let scales = match scale {
                                Some(sc) => {
                                    let sc = self.b.ins().bitselect(is_ninf, one_v, sc);
                                    let (a, b) = self.widen(sc);
                                    [Some(a), Some(b)]
                                }
                                None => [None, None],
                            };
                            for ((var, s), e) in
                                [vars[1], vars[2]].into_iter().zip(scales).zip([elo, ehi])
                            {
                                let cur = self.b.use_var(var);
                                let t = match s {
                                    Some(s) => self.b.ins().fmul(cur, s),
                                    None => cur,
                                };
                                let r = self.b.ins().fadd(t, e);
                                self.b.def_var(var, r);
                            }
                            self.b.ins().jump(join, &[]);
                        }
                        self.b.switch_to_block(join);
                        self.b.seal_block(join);
                    }
                }
            }
        }
    }

    /// Adds `v` (or `v * v` when `square`; lane 0 only under `mask`) to sum
    /// `j` of accumulator `id`: inside a vector loop (`Mode::Lanes`, not row
    /// lanes) to the current copy's f32x4 partial, which the loop flushes
    /// every [`FLUSH_ADDS`] adds a lane and at its end; otherwise (one
    /// element at a time, or row lanes, whose reduced loops have no flush
    /// points) straight into the f64 pair `2j, 2j+1` of copy 0.
    fn push_partial(&mut self, id: u32, j: usize, v: Value, mask: Option<Value>, square: bool) {
        let Some(AccSt::Vec(a)) = self.accs.get(&id) else {
            unreachable!("vector accumulator")
        };
        let direct = mask.is_some() || self.row_lanes;
        let c = if !direct && self.copy < a.part.len() {
            self.copy
        } else {
            0
        };
        let var = a.part[c][j];
        let (lo_var, hi_var) = (a.vars[2 * j].0, a.vars[2 * j + 1].0);
        let x = match mask {
            Some(m) => {
                let z = self.f4c(0.0);
                self.b.ins().bitselect(m, v, z)
            }
            None => v,
        };
        if direct {
            let x = if square { self.b.ins().fmul(x, x) } else { x };
            self.add_widened(x, lo_var, hi_var);
            return;
        }
        let cur = self.b.use_var(var);
        let r = match (square, self.fma) {
            (false, _) => self.b.ins().fadd(cur, x),
            (true, true) => self.b.ins().fma(x, x, cur),
            (true, false) => {
                let sq = self.b.ins().fmul(x, x);
                self.b.ins().fadd(cur, sq)
            }
        };
        self.b.def_var(var, r);
    }

    /// `lo_var += lanes 0,1 of v; hi_var += lanes 2,3`, in f64.
    fn add_widened(&mut self, v: Value, lo_var: Variable, hi_var: Variable) {
        let (lo, hi) = self.widen(v);
        for (var, x) in [(lo_var, lo), (hi_var, hi)] {
            let cur = self.b.use_var(var);
            let r = self.b.ins().fadd(cur, x);
            self.b.def_var(var, r);
        }
    }

    /// Whether any live accumulator keeps f32 partials.
    fn has_partials(&self) -> bool {
        self.accs
            .values()
            .any(|a| matches!(a, AccSt::Vec(v) if v.part.iter().any(|p| !p.is_empty())))
    }

    /// Adds every f32 partial into its f64 pair and clears it (of one
    /// accumulator, or all when `only` is None).
    fn flush_partials(&mut self, only: Option<u32>) {
        let mut ids: Vec<u32> = self.accs.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if only.is_some_and(|o| o != id) {
                continue;
            }
            let Some(AccSt::Vec(a)) = self.accs.get(&id) else {
                continue;
            };
            let mut sets: Vec<(Variable, Variable, Variable)> = Vec::new();
            for (c, parts) in a.part.iter().enumerate() {
                let set: Vec<Variable> = if c == 0 {
                    a.vars.iter().map(|x| x.0).collect()
                } else {
                    a.extra[c - 1].clone()
                };
                for (j, &p) in parts.iter().enumerate() {
                    sets.push((p, set[2 * j], set[2 * j + 1]));
                }
            }
            for (p, lo_var, hi_var) in sets {
                let pv = self.b.use_var(p);
                self.add_widened(pv, lo_var, hi_var);
                let z = self.f4c(0.0);
                self.b.def_var(p, z);
            }
        }
    }

    fn scalar_kind(&self, id: u32) -> AccKind {
        for n in self.k.stages.iter().flat_map(|s| &s.nodes) {
            if n.id == id {
                if let Instr::Acc { kind, .. } = n.instr {
                    return kind;
                }
            }
        }
        AccKind::Sum
    }

    fn acc_finish(&mut self, id: u32, dtype: DType) -> Value {
        if self.row_lanes {
            return self.row_lanes_value(id);
        }
        if let Some(AccSt::Vec(_)) = self.accs.get(&id) {
            let r = self.vec_acc_value(id);
            let s = self.b.ins().fdemote(types::F32, r);
            return self.b.ins().splat(F4, s);
        }
        let kind = self.scalar_kind(id);
        let kv = self.b.ins().iconst(
            types::I32,
            AccKind::ALL.iter().position(|&k| k == kind).unwrap_or(0) as i64,
        );
        let Some(AccSt::Scalar(addr)) = self.accs.remove(&id) else {
            unreachable!("accumulator initialized")
        };
        let p = self.ptr;
        let r = self
            .call_helper(
                acc_finish as *const () as usize,
                &[p, types::I32],
                Some(types::F64),
                &[addr, kv],
            )
            .expect("helper returns");
        self.round_scalar(dtype, r)
    }

    /// In row-lanes mode, accumulator `id`'s four rows as an f32x4 (each
    /// lane's f64 sum rounded once, or its f32 maximum/minimum).
    fn row_lanes_value(&mut self, id: u32) -> Value {
        self.flush_partials(Some(id));
        let Some(AccSt::Vec(a)) = self.accs.remove(&id) else {
            unreachable!("vector accumulator")
        };
        match a.kind {
            AccKind::Sum => {
                let lo = self.b.use_var(a.vars[0].0);
                let hi = self.b.use_var(a.vars[1].0);
                let lo = self.b.ins().fvdemote(lo);
                let hi = self.b.ins().fvdemote(hi);
                // Lanes 0,1 of each demoted pair: bytes 0..8 of `lo`, then
                // bytes 0..8 of `hi` (16..24 of the shuffle's pair).
                let lb = self.b.ins().bitcast(types::I8X16, le(), lo);
                let hb = self.b.ins().bitcast(types::I8X16, le(), hi);
                let idx: Vec<u8> = (0..8).chain(16..24).collect();
                let imm = self.b.func.dfg.immediates.push(ConstantData::from(idx));
                let v = self.b.ins().shuffle(lb, hb, imm);
                self.b.ins().bitcast(F4, le(), v)
            }
            _ => self.b.use_var(a.vars[0].0),
        }
    }

    /// The row value (f64) of vector-shape accumulator `id`: flushes its
    /// partials, merges the unrolled copies and the lanes.
    fn vec_acc_value(&mut self, id: u32) -> Value {
        self.flush_partials(Some(id));
        let Some(AccSt::Vec(a)) = self.accs.remove(&id) else {
            unreachable!("vector accumulator")
        };
        let p = self.ptr;
        for set in &a.extra {
            for ((var, _), &ev) in a.vars.iter().zip(set) {
                let x = self.b.use_var(*var);
                let y = self.b.use_var(ev);
                let r = match a.kind {
                    AccKind::Sum | AccKind::LogSumExp | AccKind::M2 => self.b.ins().fadd(x, y),
                    AccKind::Prod => self.b.ins().fmul(x, y),
                    AccKind::Max => self.b.ins().fmax(x, y),
                    _ => self.b.ins().fmin(x, y),
                };
                self.b.def_var(*var, r);
            }
        }
        for (j, (var, _)) in a.vars.iter().enumerate() {
            let v = self.b.use_var(*var);
            self.b.ins().store(mf(), v, self.spill, (j * 16) as i32);
        }
        let kind_index = AccKind::ALL.iter().position(|&k| k == a.kind).unwrap_or(0);
        let kv = self.b.ins().iconst(types::I32, kind_index as i64);
        let off = (a.vars.len() * 16) as i32;
        let helper = match (a.fixed_max, a.mean) {
            (Some(mx), _) => {
                self.b.ins().store(mf(), mx, self.spill, off);
                vlse_fixed_finish as *const () as usize
            }
            (None, Some(mean)) => {
                self.b.ins().store(mf(), mean, self.spill, off);
                let n = self.f64c(self.row_points() as f64);
                self.b.ins().store(mf(), n, self.spill, off + 16);
                vm2_finish as *const () as usize
            }
            (None, None) => vacc_finish as *const () as usize,
        };
        self.call_helper(
            helper,
            &[p, types::I32],
            Some(types::F64),
            &[self.spill, kv],
        )
        .expect("helper returns")
    }

    fn round_scalar(&mut self, dtype: DType, r: Value) -> Value {
        match dtype {
            DType::F64 => r,
            DType::F32 => {
                let s = self.b.ins().fdemote(types::F32, r);
                self.b.ins().fpromote(types::F64, s)
            }
            _ => {
                // Rare (integer sums): round through the op helper's table as a cast.
                let i = self.ops.len() as u32;
                self.ops.push(OpDesc {
                    opcode: Opcode::Copy,
                    attrs: Attrs::new(),
                    arg_dtype: dtype,
                    out: dtype,
                });
                self.b.ins().store(mf(), r, self.args_slot, 0);
                let t = self.iconst(self.table_addr);
                let iv = self.b.ins().iconst(types::I32, i as i64);
                let p = self.ptr;
                self.call_helper(
                    op_helper as *const () as usize,
                    &[p, types::I32, p],
                    Some(types::F64),
                    &[t, iv, self.args_slot],
                )
                .expect("helper returns")
            }
        }
    }

    // ---- scans ----

    /// Starts the running state of every scan of `nodes` (once per row).
    fn scan_init(&mut self, nodes: &[Node]) {
        for n in nodes {
            let Instr::Scan { kind, .. } = n.instr else {
                continue;
            };
            let start = scalar::scan_identity(kind, n.dtype);
            let inline = n.dtype.is_float()
                && matches!(
                    kind,
                    AccKind::Sum | AccKind::Prod | AccKind::Max | AccKind::Min
                );
            if inline {
                let v = self.f64c(start);
                let var = self.b.declare_var(types::F64);
                self.b.def_var(var, v);
                self.scans.insert(n.id, ScanSt::Var(var));
            } else {
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    24,
                    3,
                ));
                let addr = self.b.ins().stack_addr(self.ptr, slot, 0);
                let kv = self.kind_index(kind, addr);
                let z = self.f64c(start);
                let p = self.ptr;
                self.call_helper(
                    acc_init as *const () as usize,
                    &[p, types::I32],
                    None,
                    &[addr, kv],
                );
                // Integer max/min start from the dtype's extreme value.
                self.b.ins().store(mf(), z, addr, 0);
                self.scans.insert(n.id, ScanSt::Slot(addr));
            }
        }
    }

    /// One step of scan `n` along the row: its value here (the running
    /// state after `arg` when inclusive, before it when exclusive).
    fn scan_step(&mut self, n: &Node, kind: AccKind, arg: u32, exclusive: bool) -> Value {
        let x = self.vals[&arg];
        match self.scans[&n.id] {
            ScanSt::Var(var) => {
                // Float sum/prod/max/min in f64, as the interpreter's scans.
                let cur = self.b.use_var(var);
                let next = match kind {
                    AccKind::Sum => self.b.ins().fadd(cur, x),
                    AccKind::Prod => self.b.ins().fmul(cur, x),
                    AccKind::Max => self.b.ins().fmax(cur, x),
                    _ => self.b.ins().fmin(cur, x),
                };
                self.b.def_var(var, next);
                let r = if exclusive { cur } else { next };
                self.round_scalar(n.dtype, r)
            }
            ScanSt::Slot(addr) => {
                let i = AccKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
                let d = DType::ALL.iter().position(|&d| d == n.dtype).unwrap_or(0);
                let p = self.ptr;
                let finish = |g: &mut Self| {
                    let kv = g.b.ins().iconst(types::I32, i as i64);
                    g.call_helper(
                        acc_finish as *const () as usize,
                        &[p, types::I32],
                        Some(types::F64),
                        &[addr, kv],
                    )
                    .expect("helper returns")
                };
                let before = exclusive.then(|| finish(self));
                let kv = self.b.ins().iconst(types::I32, (i | d << 8) as i64);
                self.call_helper(
                    acc_push as *const () as usize,
                    &[p, types::I32, types::F64],
                    None,
                    &[addr, kv, x],
                );
                let r = match before {
                    Some(b) => b,
                    None => finish(self),
                };
                self.round_scalar(n.dtype, r)
            }
        }
    }

    // ---- structure ----

    fn emit_nodes(&mut self, nodes: &[Node], mode: Mode) {
        for n in nodes {
            let v = match &n.instr {
                Instr::Load { buf, map } => self.load(n, *buf, map, mode),
                Instr::Gather { buf, map, index } => self.gather(n, *buf, map, index, mode),
                Instr::LoadOr {
                    buf,
                    map,
                    lo,
                    hi,
                    fill,
                } => self.load_or(n, *buf, map, lo, hi, *fill, mode),
                Instr::Const(c) => {
                    let r = scalar::round_to(n.dtype, *c);
                    match self.shape {
                        Shape::Vector => self.f4c(r as f32),
                        Shape::Scalar => self.f64c(r),
                    }
                }
                Instr::Op {
                    opcode,
                    attrs,
                    args,
                } => match self.shape {
                    Shape::Vector if *opcode == Opcode::Cast => {
                        let from = self.node_dtype(args[0]);
                        self.cast_vector(self.vals[&args[0]], from, n.dtype)
                    }
                    Shape::Vector => {
                        let a: Vec<Value> = args.iter().map(|x| self.vals[x]).collect();
                        self.op_vector(*opcode, &a)
                    }
                    Shape::Scalar => self.op_scalar(n, *opcode, attrs, args),
                },
                Instr::Acc { arg, .. } => {
                    let v = self.vals[arg];
                    self.acc_push(n.id, v, mode);
                    continue;
                }
                Instr::Scan {
                    kind,
                    arg,
                    exclusive,
                } => self.scan_step(n, *kind, *arg, *exclusive),
                Instr::Store { buf, map, arg } => {
                    let v = self.vals[arg];
                    self.store(*buf, map, v, mode);
                    continue;
                }
                Instr::Scatter {
                    buf,
                    map,
                    index,
                    arg,
                    reduce,
                } => {
                    let v = self.vals[arg];
                    self.scatter(n, *buf, map, index, v, *reduce, mode);
                    continue;
                }
                Instr::MatmulResult => unreachable!("epilogues are lowered to loads"),
            };
            self.vals.insert(n.id, v);
        }
    }

    /// `for var in start..end step` (the var keeps its final value); `body`
    /// runs with the var set.
    fn for_loop(
        &mut self,
        var: Variable,
        start: Option<Value>,
        end: Value,
        step: i64,
        body: &mut dyn FnMut(&mut Self),
    ) {
        self.for_loop_checked(var, start, end, step, step, body)
    }

    /// `while var + check <= end { body; var += step }`.
    fn for_loop_checked(
        &mut self,
        var: Variable,
        start: Option<Value>,
        end: Value,
        check: i64,
        step: i64,
        body: &mut dyn FnMut(&mut Self),
    ) {
        if let Some(s) = start {
            self.b.def_var(var, s);
        }
        let header = self.b.create_block();
        let blk = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(var);
        let next = self.b.ins().iadd_imm_s(i, check);
        let ok = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, next, end);
        self.b.ins().brif(ok, blk, &[], exit, &[]);
        self.b.switch_to_block(blk);
        body(self);
        let i = self.b.use_var(var);
        let next = self.b.ins().iadd_imm_s(i, step);
        self.b.def_var(var, next);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(blk);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
    }

    /// The vector axis `var` over `start..end`: a main loop of `unroll`
    /// f32x4 steps per iteration (independent chains for the out-of-order
    /// core; Cranelift does not unroll), then one f32x4 step at a time, then
    /// one element at a time. Each step is a copy of the body, so large
    /// bodies get fewer copies (compile time grows with code size, and a
    /// long body has instruction-level parallelism of its own).
    fn vector_loop(&mut self, var: Variable, start: Value, end: Value, nodes: &[Node]) {
        let unroll = unroll_for(nodes);
        let width = 4 * unroll as i64;
        let main = |g: &mut Self| {
            for u in 0..unroll {
                g.copy = u;
                if u > 0 {
                    let i = g.b.use_var(var);
                    let n = g.b.ins().iadd_imm_s(i, 4);
                    g.b.def_var(var, n);
                }
                g.emit_nodes(nodes, Mode::Lanes);
            }
            g.copy = 0;
        };
        self.b.def_var(var, start);
        if self.has_partials() {
            // Blocks of FLUSH_ADDS main-loop iterations, each followed by a
            // flush of the f32 partials (see `VecAcc::part`); what is left
            // (under one block) runs through the loops below and is flushed
            // by `acc_finish`.
            let block = FLUSH_ADDS as i64 * width;
            self.for_loop_checked(var, None, end, block, 0, &mut |g| {
                let i = g.b.use_var(var);
                let bend = g.b.ins().iadd_imm_s(i, block);
                g.for_loop_checked(var, None, bend, width, 4, &mut |g| main(g));
                g.flush_partials(None);
            });
        }
        if unroll > 1 {
            self.for_loop_checked(var, None, end, width, 4, &mut |g| main(g));
        }
        self.for_loop(var, None, end, 4, &mut |g| g.emit_nodes(nodes, Mode::Lanes));
        self.for_loop(var, None, end, 1, &mut |g| g.emit_nodes(nodes, Mode::One));
        // What is left in the partials (under one block) goes to f64 before
        // an enclosing loop (another reduced axis) runs this loop again.
        if self.has_partials() {
            self.flush_partials(None);
        }
    }

    /// Iterates `axes` (nested, the last possibly 4 lanes at a time) and runs
    /// `nodes` at each point.
    fn emit_axes(&mut self, axes: &[usize], nodes: &[Node], first_range: Option<(Value, Value)>) {
        let Some((&ax, rest)) = axes.split_first() else {
            let mode = self.point_mode();
            self.emit_nodes(nodes, mode);
            return;
        };
        let (start, end) = match first_range {
            Some(r) => r,
            None => {
                let z = self.iconst(0);
                let e = self.iconst(self.k.domain[ax] as i64);
                (z, e)
            }
        };
        let var = self.idx[ax];
        if rest.is_empty() && self.vaxis == Some(ax) && self.shape == Shape::Vector {
            self.vector_loop(var, start, end, nodes);
        } else {
            self.for_loop(var, Some(start), end, 1, &mut |g| {
                g.emit_axes(rest, nodes, None)
            });
        }
    }

    /// An id past every node of the kernel, for synthetic nodes.
    fn next_node_id(&self) -> u32 {
        self.k
            .stages
            .iter()
            .flat_map(|s| &s.nodes)
            .map(|n| n.id)
            .max()
            .map_or(0, |m| m + 1)
    }

    /// The mode of code run once per domain point outside vector loops.
    fn point_mode(&self) -> Mode {
        if self.row_lanes {
            Mode::Lanes
        } else {
            Mode::One
        }
    }

    /// Points of the reduced axes (one row).
    fn row_points(&self) -> usize {
        self.k
            .reduce_axes
            .iter()
            .map(|&a| self.k.domain[a])
            .product()
    }

    /// A first pass over the reduced axes computing, for each accumulator
    /// of a loop stage that needs it, a row statistic of its argument (only
    /// the nodes those arguments depend on are evaluated):
    /// - `logsumexp`: the row maximum, so that the stage's own pass sums
    ///   `exp(x - max)` with one exp per element, no running rescale and no
    ///   branch;
    /// - `m2`: the row mean (rounded to f32), so that the stage's pass sums
    ///   `d = x - mean` and `d^2` in f32 partials: three instructions a
    ///   vector instead of a per-lane Welford update in f64, and accurate,
    ///   since the deviations from a mean known to within rounding do not
    ///   cancel (`m2 = sum(d^2) - sum(d)^2 / n`, the correction tiny).
    fn row_pre_pass(&mut self, nodes: &[Node]) {
        let wanted: Vec<(u32, u32, AccKind)> = nodes
            .iter()
            .filter_map(|n| match n.instr {
                Instr::Acc {
                    kind: AccKind::LogSumExp,
                    arg,
                } => Some((n.id, arg, AccKind::Max)),
                Instr::Acc {
                    kind: AccKind::M2,
                    arg,
                } => Some((n.id, arg, AccKind::Sum)),
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        // The cone of the arguments inside this stage.
        let mut need: std::collections::HashSet<u32> = wanted.iter().map(|x| x.1).collect();
        for n in nodes.iter().rev() {
            if need.contains(&n.id) {
                need.extend(n.instr.args());
            }
        }
        let mut pre: Vec<Node> = nodes
            .iter()
            .filter(|n| need.contains(&n.id) && !matches!(n.instr, Instr::Acc { .. }))
            .cloned()
            .collect();
        // Synthetic accumulators, numbered past every node of the kernel.
        let base = self.next_node_id();
        let synth: Vec<u32> = (0..wanted.len() as u32).map(|i| base + i).collect();
        for (&(_, arg, kind), &sid) in wanted.iter().zip(&synth) {
            pre.push(Node {
                id: sid,
                dtype: DType::F32,
                instr: Instr::Acc { kind, arg },
            });
        }
        let copies = unroll_for(&pre);
        for (&(_, _, kind), &sid) in wanted.iter().zip(&synth) {
            self.acc_init(sid, kind, copies);
        }
        let axes = self.k.reduce_axes.clone();
        for &ax in &axes {
            let z = self.iconst(0);
            self.b.def_var(self.idx[ax], z);
        }
        self.emit_axes(&axes, &pre, None);
        for (&(id, arg, kind), &sid) in wanted.iter().zip(&synth) {
            if kind == AccKind::Max {
                let v = self.acc_finish(sid, DType::F32);
                self.lse_max.insert(id, v);
            } else {
                // The mean in f64, then one rounding to f32 (an f32 sum of
                // a row of large values could overflow where its mean
                // does not).
                let sum = self.vec_acc_value(sid);
                self.pre_sum.insert(arg, sum);
                let n = self.f64c(self.row_points().max(1) as f64);
                let mean = self.b.ins().fdiv(sum, n);
                let mean = self.b.ins().fdemote(types::F32, mean);
                let mean = self.b.ins().splat(F4, mean);
                self.m2_mean.insert(id, mean);
            }
        }
    }

    fn emit_stages(&mut self) {
        let k = self.k;
        let elementwise = k.reduce_axes.is_empty();
        if self.shape == Shape::Vector && !elementwise {
            if let Some(r) = softmax_reuse(k) {
                self.emit_softmax_reuse(r);
                return;
            }
        }
        for s in &k.stages {
            match s.kind {
                StageKind::Outer => {
                    let mode = self.point_mode();
                    self.emit_nodes(&s.nodes, mode)
                }
                StageKind::Map if elementwise => self.emit_nodes(&s.nodes, Mode::One),
                StageKind::Loop | StageKind::Map => {
                    self.pre_sum.clear();
                    if self.shape == Shape::Vector && s.kind == StageKind::Loop {
                        self.row_pre_pass(&s.nodes);
                    }
                    // Sums the pre-pass already took: their values now, and
                    // their nodes out of the pass.
                    let mut taken = Vec::new();
                    for n in &s.nodes {
                        if let Instr::Acc {
                            kind: AccKind::Sum,
                            arg,
                        } = n.instr
                        {
                            if let Some(&sum) = self.pre_sum.get(&arg) {
                                let v = self.b.ins().fdemote(types::F32, sum);
                                let v = self.b.ins().splat(F4, v);
                                self.vals.insert(n.id, v);
                                taken.push(n.id);
                            }
                        }
                    }
                    let pass: Vec<Node>;
                    let nodes: &[Node] = if taken.is_empty() {
                        &s.nodes
                    } else {
                        pass = s
                            .nodes
                            .iter()
                            .filter(|n| !taken.contains(&n.id))
                            .cloned()
                            .collect();
                        &pass
                    };
                    let copies = if self.row_lanes { 1 } else { unroll_for(nodes) };
                    for n in nodes {
                        if let Instr::Acc { kind, .. } = n.instr {
                            self.acc_init(n.id, kind, copies);
                        }
                    }
                    self.scan_init(nodes);
                    let axes = k.reduce_axes.clone();
                    for &ax in &axes {
                        let z = self.iconst(0);
                        self.b.def_var(self.idx[ax], z);
                    }
                    self.emit_axes(&axes, nodes, None);
                    for n in nodes {
                        if let Instr::Acc { .. } = n.instr {
                            let v = self.acc_finish(n.id, n.dtype);
                            self.vals.insert(n.id, v);
                        }
                    }
                }
            }
        }
    }

    /// A softmax row (see [`SoftmaxReuse`]): the maximum pass, a pass that
    /// sums `e = exp(x - max)` and stores each `e` where the output goes,
    /// then a pass scaling the stored row by `1 / sum`.
    fn emit_softmax_reuse(&mut self, r: SoftmaxReuse) {
        let k = self.k;
        let lp = &k.stages[0].nodes;
        self.row_pre_pass(lp);
        self.acc_init(r.lse, AccKind::LogSumExp, unroll_for(lp));
        let axes = k.reduce_axes.clone();
        for &ax in &axes {
            let z = self.iconst(0);
            self.b.def_var(self.idx[ax], z);
        }
        self.reuse = Some(r.clone());
        self.emit_axes(&axes, lp, None);
        self.reuse = None;
        // 1 / sum. A row with a NaN, a +inf or only -inf has a NaN among
        // its `exp(x - max)` and so a NaN sum: every output is NaN, as the
        // interpreter's `exp(x - max) / sum` gives.
        self.flush_partials(Some(r.lse));
        let Some(AccSt::Vec(a)) = self.accs.remove(&r.lse) else {
            unreachable!("vector accumulator")
        };
        let mut lo = self.b.use_var(a.vars[0].0);
        let mut hi = self.b.use_var(a.vars[1].0);
        for set in &a.extra {
            let (x, y) = (self.b.use_var(set[0]), self.b.use_var(set[1]));
            lo = self.b.ins().fadd(lo, x);
            hi = self.b.ins().fadd(hi, y);
        }
        let v = self.b.ins().fadd(lo, hi);
        let l0 = self.b.ins().extractlane(v, 0);
        let l1 = self.b.ins().extractlane(v, 1);
        let sum = self.b.ins().fadd(l0, l1);
        let one = self.f64c(1.0);
        let inv = self.b.ins().fdiv(one, sum);
        let scale = self.b.ins().fdemote(types::F32, inv);
        let scale = self.b.ins().splat(F4, scale);
        // The scaling pass: `out = out * scale`, as nodes numbered past the
        // kernel's.
        let base = self.next_node_id();
        self.vals.insert(base, scale);
        let node = |id: u32, instr: Instr| Node {
            id,
            dtype: DType::F32,
            instr,
        };
        let pass = [
            node(
                base + 1,
                Instr::Load {
                    buf: r.buf,
                    map: r.map.clone(),
                },
            ),
            node(
                base + 2,
                Instr::Op {
                    opcode: Opcode::Multiply,
                    attrs: Attrs::new(),
                    args: vec![base + 1, base],
                },
            ),
            node(
                base + 3,
                Instr::Store {
                    buf: r.buf,
                    map: r.map.clone(),
                    arg: base + 2,
                },
            ),
        ];
        for &ax in &axes {
            let z = self.iconst(0);
            self.b.def_var(self.idx[ax], z);
        }
        self.emit_axes(&axes, &pass, None);
    }

    fn emit_outer(&mut self, outer: &[usize], level: usize) {
        if level == outer.len() {
            self.emit_stages();
            return;
        }
        let ax = outer[level];
        let (start, end) = if level == 0 {
            (self.lo, self.hi)
        } else {
            let z = self.iconst(0);
            let e = self.iconst(self.k.domain[ax] as i64);
            (z, e)
        };
        let var = self.idx[ax];
        let last = level + 1 == outer.len();
        let k = self.k;
        if last && self.vaxis == Some(ax) && self.shape == Shape::Vector && k.reduce_axes.is_empty()
        {
            let nodes = &k.stages[0].nodes;
            self.vector_loop(var, start, end, nodes);
        } else if last && self.vaxis == Some(ax) && self.shape == Shape::Vector {
            // Row lanes: 4 rows at a time, then the rest one at a time.
            self.b.def_var(var, start);
            self.for_loop_checked(var, None, end, 4, 4, &mut |g| {
                g.row_lanes = true;
                g.emit_stages();
                g.row_lanes = false;
            });
            self.for_loop(var, None, end, 1, &mut |g| g.emit_stages());
        } else {
            self.for_loop(var, Some(start), end, 1, &mut |g| {
                g.emit_outer(outer, level + 1)
            });
        }
    }
}

/// A row softmax kernel of the vector shape: a `loop` stage whose only
/// accumulator is `%lse = acc.logsumexp %a`, then a `map` stage that only
/// recomputes `%a` and stores `exp(%a - %lse)` to `buf` (which no load of
/// the kernel reads). Such a kernel is emitted as three passes over the
/// row with one exponential per element instead of two: the maximum, the
/// sum of `e = exp(x - max)` *storing each e* to `buf`, and `buf *= 1/sum`
/// ([`Gen::emit_softmax_reuse`]). When buffer planning put `buf` in place
/// of an input, every load of that input uses `buf`'s map, so each
/// element is read before the sum pass overwrites it.
#[derive(Clone)]
struct SoftmaxReuse {
    lse: u32,
    buf: BufId,
    map: IndexMap,
}

fn softmax_reuse(k: &Kernel) -> Option<SoftmaxReuse> {
    // `[loop, map]`, or `[loop, outer, map]` whose outer stage is only
    // fusion's `lse + (lse - lse)` (NaN for a row with +inf).
    let (lp, op, mp) = match &k.stages[..] {
        [lp, mp] => (lp, None, mp),
        [lp, op, mp] => (lp, Some(op), mp),
        _ => return None,
    };
    if lp.kind != StageKind::Loop
        || mp.kind != StageKind::Map
        || op.is_some_and(|o| o.kind != StageKind::Outer)
    {
        return None;
    }
    let mut accs = lp.nodes.iter().filter_map(|n| match n.instr {
        Instr::Acc { kind, arg } => Some((n.id, kind, arg)),
        _ => None,
    });
    let (lse, AccKind::LogSumExp, a) = accs.next()? else {
        return None;
    };
    if accs.next().is_some() {
        return None;
    }
    let (store, rest) = mp.nodes.split_last()?;
    let Instr::Store { buf, map, arg } = &store.instr else {
        return None;
    };
    let node = |id: u32| mp.nodes.iter().find(|n| n.id == id);
    let e = node(*arg)?;
    let Instr::Op {
        opcode: Opcode::Exp,
        args: ea,
        ..
    } = &e.instr
    else {
        return None;
    };
    let sub = node(*ea.first()?)?;
    let Instr::Op {
        opcode: Opcode::Subtract,
        args: sa,
        ..
    } = &sub.instr
    else {
        return None;
    };
    let [a2, l] = sa[..] else { return None };
    let l_ok = match op {
        None => l == lse,
        Some(op) => is_lse_nan_if_inf(&op.nodes, l, lse),
    };
    if !l_ok || !same_value(&lp.nodes, a, &mp.nodes, a2) {
        return None;
    }
    // Nothing else in the map stage: the cone of `a2`, the subtract, the exp.
    let mut cone = std::collections::HashSet::from([a2]);
    for n in mp.nodes.iter().rev() {
        if cone.contains(&n.id) {
            cone.extend(n.instr.args());
        }
    }
    if rest
        .iter()
        .any(|n| n.id != sub.id && n.id != e.id && !cone.contains(&n.id))
    {
        return None;
    }
    let loaded = k
        .stages
        .iter()
        .flat_map(|s| &s.nodes)
        .any(|n| {
            matches!(&n.instr, Instr::Load { buf: b, .. } | Instr::Gather { buf: b, .. } | Instr::LoadOr { buf: b, .. } if b == buf)
        });
    if loaded {
        return None;
    }
    Some(SoftmaxReuse {
        lse,
        buf: *buf,
        map: map.clone(),
    })
}

/// Whether the outer stage `nodes` is exactly `t = lse - lse; l = lse + t`.
/// With it the reuse path needs nothing more: a row whose logsumexp is
/// not finite has a NaN among its `exp(x - max)` and so a NaN sum, which
/// makes every output NaN, as `exp(x - l)` does.
fn is_lse_nan_if_inf(nodes: &[Node], l: u32, lse: u32) -> bool {
    let [t, add] = nodes else {
        return false;
    };
    matches!(&t.instr, Instr::Op { opcode: Opcode::Subtract, args, .. } if args[..] == [lse, lse])
        && add.id == l
        && matches!(&add.instr, Instr::Op { opcode: Opcode::Add, args, .. }
            if args[..] == [lse, t.id] || args[..] == [t.id, lse])
}

/// Whether node `x` of `xs` and node `y` of `ys` compute the same value
/// (same instructions over the same loads and constants; values from
/// outside the two lists must be the same node).
fn same_value(xs: &[Node], x: u32, ys: &[Node], y: u32) -> bool {
    let (nx, ny) = (xs.iter().find(|n| n.id == x), ys.iter().find(|n| n.id == y));
    let (nx, ny) = match (nx, ny) {
        (Some(a), Some(b)) => (a, b),
        (None, None) => return x == y,
        _ => return false,
    };
    if nx.dtype != ny.dtype {
        return false;
    }
    match (&nx.instr, &ny.instr) {
        (Instr::Load { buf: b1, map: m1 }, Instr::Load { buf: b2, map: m2 }) => {
            b1 == b2 && m1 == m2
        }
        (Instr::Const(c1), Instr::Const(c2)) => c1.to_bits() == c2.to_bits(),
        (
            Instr::Op {
                opcode: o1,
                attrs: a1,
                args: r1,
            },
            Instr::Op {
                opcode: o2,
                attrs: a2,
                args: r2,
            },
        ) => {
            o1 == o2
                && a1 == a2
                && r1.len() == r2.len()
                && r1.iter().zip(r2).all(|(&p, &q)| same_value(xs, p, ys, q))
        }
        _ => false,
    }
}

/// Most f32 adds a lane of a partial sum takes between flushes into f64
/// (see [`VecAcc::part`]).
const FLUSH_ADDS: usize = 32;

/// f32x4 steps per main-loop iteration for a vector body: 4 for short
/// bodies (loop overhead and load latency dominate), 2 for medium ones, 1
/// for long ones and for any body with a transcendental.
fn unroll_for(nodes: &[Node]) -> usize {
    // With a transcendental in the body one copy is best: the copies share
    // their (many) polynomial constants, which then stay live across the
    // body and get spilled to the stack on every iteration.
    if nodes.iter().any(is_math) {
        return 1;
    }
    match nodes.len() {
        0..=24 => 4,
        25..=64 => 2,
        _ => 1,
    }
}

/// A transcendental (a vector polynomial of some 25 instructions, or a
/// helper call in the scalar shape), or a `logsumexp` accumulator (an exp
/// per element).
fn is_math(n: &Node) -> bool {
    use Opcode as O;
    match &n.instr {
        Instr::Op { opcode, .. } => matches!(
            opcode,
            O::Exp
                | O::Log
                | O::Log1p
                | O::Expm1
                | O::Tanh
                | O::Sigmoid
                | O::Erf
                | O::Erfinv
                | O::Sin
                | O::Cos
                | O::Log2
                | O::Log10
                | O::LogAddExp
                | O::Power
        ),
        Instr::Acc { kind, .. } => *kind == AccKind::LogSumExp,
        _ => false,
    }
}

/// Relative cost of one domain point of `k`: 1 for a few cheap ops, plus
/// one per 8 nodes, plus 4 per transcendental (a vector polynomial of some
/// 25 instructions).
pub fn work_per_point(k: &Kernel) -> usize {
    let nodes: Vec<&Node> = k.stages.iter().flat_map(|s| &s.nodes).collect();
    1 + nodes.len() / 8 + 4 * nodes.iter().filter(|n| is_math(n)).count()
}

/// A compiled kernel's code and metadata.
pub struct CompiledKernel {
    pub func: KernelFn,
    pub shape: Shape,
    /// Extent of the axis `lo..hi` ranges over (1 when there is no outer axis).
    pub split_extent: usize,
    /// Number of domain points.
    pub points: usize,
    /// Estimated work: `points` weighted by the kernel's body
    /// ([`work_per_point`]); what decides whether threads pay off.
    pub work: usize,
    /// Runs on one thread, in domain order (kernels with scatters: their
    /// points may land on one element, and combine in order).
    pub serial: bool,
    /// The Cranelift IR, when asked for.
    pub clif: Option<String>,
}

/// Compiles `k` into `module`. `ops` collects the scalar ops the code calls
/// out for; its heap storage must not move once the code runs (the caller
/// reserves it: `ops.capacity()` is fixed by [`count_ops`]).
pub(crate) fn compile_kernel(
    module: &mut JITModule,
    k: &Kernel,
    buf_dtype: &dyn Fn(BufId) -> DType,
    nbufs: usize,
    ops: &mut Vec<OpDesc>,
    fn_index: u32,
    want_clif: bool,
) -> Result<(cranelift_module::FuncId, Shape, Option<String>), String> {
    let shape = choose_shape(k, buf_dtype);
    let ptr = module.target_config().pointer_type();
    let fma = module.isa().has_native_fma();
    let tcfg = module.target_config();
    let mut ctx = module.make_context();
    ctx.func.signature.params.push(AbiParam::new(ptr));
    ctx.func.signature.params.push(AbiParam::new(types::I64));
    ctx.func.signature.params.push(AbiParam::new(types::I64));
    ctx.func.name = UserFuncName::user(0, fn_index);
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let (bufs, lo, hi) = (
            b.block_params(entry)[0],
            b.block_params(entry)[1],
            b.block_params(entry)[2],
        );
        let mut used: Vec<BufId> = k
            .stages
            .iter()
            .flat_map(|s| &s.nodes)
            .filter_map(|n| match &n.instr {
                Instr::Load { buf, .. }
                | Instr::Gather { buf, .. }
                | Instr::LoadOr { buf, .. }
                | Instr::Scatter { buf, .. }
                | Instr::Store { buf, .. } => Some(*buf),
                _ => None,
            })
            .collect();
        used.sort();
        used.dedup();
        let mut bases = HashMap::new();
        for &u in &used {
            if u.index() >= nbufs {
                return Err(format!(
                    "kernel @{} uses %b{} beyond the program's buffers",
                    k.name, u.0
                ));
            }
            let v = b.ins().load(ptr, mf(), bufs, (u.index() * 8) as i32);
            bases.insert(u, v);
        }
        let idx: Vec<Variable> = (0..k.domain.len())
            .map(|_| b.declare_var(types::I64))
            .collect();
        let zero = b.ins().iconst(types::I64, 0);
        for &v in &idx {
            b.def_var(v, zero);
        }
        let args_ss =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 32, 3));
        let args_slot = b.ins().stack_addr(ptr, args_ss, 0);
        let spill_ss =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16 * 8, 4));
        let spill = b.ins().stack_addr(ptr, spill_ss, 0);
        let table_addr = ops.as_ptr() as i64;
        let mut dtypes = HashMap::new();
        for n in k.stages.iter().flat_map(|s| &s.nodes) {
            dtypes.insert(n.id, n.dtype);
        }
        let mut g = Gen {
            b: &mut b,
            ptr,
            fma,
            shape,
            k,
            buf_dtype,
            bases,
            idx,
            vaxis: vector_axis(k),
            vals: HashMap::new(),
            dtypes,
            accs: HashMap::new(),
            scans: HashMap::new(),
            copy: 0,
            lse_max: HashMap::new(),
            m2_mean: HashMap::new(),
            pre_sum: HashMap::new(),
            reuse: None,
            row_lanes: false,
            ops,
            table_addr,
            bufs,
            fault_slot: nbufs,
            args_slot,
            spill,
            lo,
            hi,
        };
        let outer: Vec<usize> = (0..k.domain.len())
            .filter(|a| !k.reduce_axes.contains(a))
            .collect();
        if outer.is_empty() {
            g.emit_stages();
        } else {
            g.emit_outer(&outer, 0);
        }
        if g.ops.as_ptr() as i64 != table_addr {
            return Err("internal: op table moved during code generation".into());
        }
        b.ins().return_(&[]);
        b.finalize(tcfg);
    }
    let clif = want_clif.then(|| ctx.func.display().to_string());
    let id = module
        .declare_function(
            &format!("{}_{fn_index}", k.name),
            Linkage::Local,
            &ctx.func.signature,
        )
        .map_err(|e| format!("declaring kernel @{}: {e}", k.name))?;
    let asm = std::env::var_os("PSIONIC_CPU_ASM").is_some();
    ctx.set_disasm(asm);
    module
        .define_function(id, &mut ctx)
        .map_err(|e| format!("compiling kernel @{}: {e:?}", k.name))?;
    if asm {
        if let Some(v) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            eprintln!("; kernel @{} machine code\n{v}", k.name);
        }
    }
    module.clear_context(&mut ctx);
    Ok((id, shape, clif))
}

/// Upper bound on the op-table entries compiling `k` adds.
pub(crate) fn count_ops(k: &Kernel) -> usize {
    k.stages.iter().map(|s| s.nodes.len()).sum::<usize>() * 2 + 1
}
