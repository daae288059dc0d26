//! The reference interpreter of the kernel-level IR.
//!
//! It runs a [`KProgram`] exactly as its text says: for each outer index of a
//! kernel, its stages in order, `loop` and `map` stages over the reduced axes;
//! scalars in `f64`, rounded to their dtype after every node
//! ([`psionic_ir::kernel::scalar`]); scatters combine into their buffer in
//! domain order, each combination rounded to the dtype
//! ([`scalar::scatter_combine`]: a float scatter-sum of duplicates rounds
//! at every step where the tensor interpreter rounds once); float accumulators in `f64`, rounded
//! once; integer sums and products wrapped at every step; scans (`map`
//! stages) advance their running state once per point of the row, in order.
//! Temporaries that buffer planning put in one slot share storage here, so a
//! wrong plan gives wrong numbers. Library ops ([`Item::LibOp`]) run through
//! a tensor-level evaluator: the tensor interpreter's `eval_op` in
//! [`run_program`], any other in [`run_program_with`]. This makes a fused program checkable against the unfused
//! one, independent of any code generator.

use psionic_ir::kernel::scalar;
use psionic_ir::kernel::{
    AccKind, BufId, BufferKind, IndexMap, Instr, Item, KProgram, Node, StageKind,
};
use psionic_ir::{Attrs, DType, Literal, Opcode};
use std::collections::HashMap;

/// Evaluates a tensor-level op on whole literals (for library ops).
pub type LibEval<'a> = &'a dyn Fn(Opcode, &Attrs, &[&Literal]) -> Result<Vec<Literal>, String>;

/// Where a buffer's storage lives.
#[derive(Clone, Copy)]
enum Home {
    Own(usize),
    Slot(u32),
}

struct Memory {
    own: Vec<Vec<f64>>,
    slots: HashMap<u32, Vec<f64>>,
    home: Vec<Home>,
}

impl Memory {
    fn get(&self, b: BufId) -> &[f64] {
        match self.home[b.index()] {
            Home::Own(i) => &self.own[i],
            Home::Slot(s) => &self.slots[&s],
        }
    }
    fn get_mut(&mut self, b: BufId) -> &mut Vec<f64> {
        match self.home[b.index()] {
            Home::Own(i) => &mut self.own[i],
            Home::Slot(s) => self.slots.get_mut(&s).expect("slot allocated up front"),
        }
    }
}

fn index_iter(
    shape: &[usize],
    mut f: impl FnMut(&[usize]) -> Result<(), String>,
) -> Result<(), String> {
    if shape.contains(&0) {
        return Ok(());
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx)?;
        let mut ax = shape.len();
        loop {
            if ax == 0 {
                return Ok(());
            }
            ax -= 1;
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
}

#[derive(Clone, Copy)]
struct AccState {
    kind: AccKind,
    /// The accumulated dtype: integer sums and products wrap to it at every
    /// step, exactly (in f64 a product would lose low bits past 2^53).
    dtype: DType,
    a: f64,
    b: f64,
    n: f64,
}

impl AccState {
    fn new(kind: AccKind, dtype: DType) -> Self {
        let a = match kind {
            AccKind::Sum => 0.0,
            AccKind::Prod => 1.0,
            AccKind::Max | AccKind::LogSumExp => f64::NEG_INFINITY,
            AccKind::Min => f64::INFINITY,
            AccKind::M2 => 0.0,
        };
        AccState {
            kind,
            dtype,
            a,
            b: 0.0,
            n: 0.0,
        }
    }
    /// A scan's running state: as an accumulator's, but integer `max` and
    /// `min` start from the dtype's extreme value, as the interpreter's
    /// scans do (an exclusive scan shows it at position 0).
    fn for_scan(kind: AccKind, dtype: DType) -> Self {
        AccState {
            a: scalar::scan_identity(kind, dtype),
            ..AccState::new(kind, dtype)
        }
    }
    fn push(&mut self, v: f64) {
        match self.kind {
            AccKind::Sum if self.dtype.is_integer() => {
                self.a = scalar::round_to(self.dtype, self.a + v)
            }
            AccKind::Prod if self.dtype.is_integer() => {
                self.a = scalar::int_mul(self.dtype, self.a, v)
            }
            AccKind::Sum => self.a += v,
            AccKind::Prod => self.a *= v,
            AccKind::Max => {
                if v.is_nan() || self.a.is_nan() {
                    self.a = f64::NAN
                } else if v > self.a {
                    self.a = v
                }
            }
            AccKind::Min => {
                if v.is_nan() || self.a.is_nan() {
                    self.a = f64::NAN
                } else if v < self.a {
                    self.a = v
                }
            }
            AccKind::M2 => {
                // a: running mean, b: running sum of squared deviations.
                self.n += 1.0;
                let d = v - self.a;
                self.a += d / self.n;
                self.b += d * (v - self.a);
            }
            AccKind::LogSumExp => {
                // a: running maximum, b: sum of exp(v - a).
                if v.is_nan() || self.a.is_nan() {
                    self.a = f64::NAN;
                } else if v == f64::NEG_INFINITY {
                } else if v > self.a {
                    self.b = self.b * (self.a - v).exp() + 1.0;
                    self.a = v;
                } else if v == self.a && v == f64::INFINITY {
                    self.b += 1.0;
                } else {
                    self.b += (v - self.a).exp();
                }
            }
        }
    }
    fn finish(&self) -> f64 {
        match self.kind {
            AccKind::LogSumExp => {
                if self.a.is_nan() || self.a.is_infinite() {
                    self.a
                } else {
                    self.a + self.b.ln()
                }
            }
            AccKind::M2 => self.b,
            _ => self.a,
        }
    }
}

/// Evaluates the nodes of one stage at one domain index.
#[allow(clippy::too_many_arguments)]
fn eval_nodes(
    nodes: &[Node],
    idx: &[usize],
    vals: &mut [f64],
    dtypes: &[DType],
    mem: &mut Memory,
    accs: &mut HashMap<u32, AccState>,
    matmul_result: f64,
    writes: bool,
) -> Result<(), String> {
    for n in nodes {
        let v = match &n.instr {
            Instr::Load { buf, map } => {
                let at = map.at(idx);
                let data = mem.get(*buf);
                *data
                    .get(at as usize)
                    .ok_or_else(|| format!("load of %b{} at {at} is out of bounds", buf.0))?
            }
            Instr::Gather { buf, map, index } => {
                let mut at = map.at(idx);
                for d in index {
                    // Index nodes hold integers (exact in f64 below 2^53;
                    // anything larger is out of range anyway).
                    let v = vals[d.arg as usize] as i64;
                    let j = d.wrap(v).ok_or_else(|| d.error(v))?;
                    at += d.stride * j;
                }
                let data = mem.get(*buf);
                *data
                    .get(at as usize)
                    .ok_or_else(|| format!("gather from %b{} at {at} is out of bounds", buf.0))?
            }
            Instr::LoadOr {
                buf,
                map,
                lo,
                hi,
                fill,
            } => {
                if psionic_ir::kernel::in_box(idx, lo, hi) {
                    let at = map.at(idx);
                    *mem.get(*buf).get(at as usize).ok_or_else(|| {
                        format!("guarded load of %b{} at {at} is out of bounds", buf.0)
                    })?
                } else {
                    vals[*fill as usize]
                }
            }
            Instr::Const(c) => scalar::round_to(n.dtype, *c),
            Instr::Op {
                opcode,
                attrs,
                args,
            } => {
                let a: Vec<f64> = args.iter().map(|&x| vals[x as usize]).collect();
                let arg_dtype = match opcode {
                    Opcode::Select => dtypes[args[1] as usize],
                    _ => dtypes[args[0] as usize],
                };
                scalar::eval(*opcode, attrs, &a, arg_dtype, n.dtype)?
            }
            Instr::Acc { kind, arg } => {
                accs.entry(n.id)
                    .or_insert_with(|| AccState::new(*kind, n.dtype))
                    .push(vals[*arg as usize]);
                continue;
            }
            Instr::Scan {
                kind,
                arg,
                exclusive,
            } => {
                let st = accs
                    .entry(n.id)
                    .or_insert_with(|| AccState::for_scan(*kind, n.dtype));
                let before = st.finish();
                st.push(vals[*arg as usize]);
                scalar::round_to(n.dtype, if *exclusive { before } else { st.finish() })
            }
            Instr::Scatter {
                buf,
                map,
                index,
                arg,
                reduce,
            } => {
                let mut at = map.at(idx);
                for d in index {
                    let v = vals[d.arg as usize] as i64;
                    let j = d.wrap(v).ok_or_else(|| d.error(v))?;
                    at += d.stride * j;
                }
                let v = vals[*arg as usize];
                let data = mem.get_mut(*buf);
                let len = data.len();
                let e = data.get_mut(at as usize).ok_or_else(|| {
                    format!("scatter into %b{} at {at} is out of bounds ({len})", buf.0)
                })?;
                *e = scalar::scatter_combine(*reduce, n.dtype, *e, v);
                continue;
            }
            Instr::Store { buf, map, arg } => {
                if writes {
                    let at = map.at(idx);
                    let v = vals[*arg as usize];
                    let data = mem.get_mut(*buf);
                    let len = data.len();
                    *data.get_mut(at as usize).ok_or_else(|| {
                        format!("store to %b{} at {at} is out of bounds ({len})", buf.0)
                    })? = v;
                }
                continue;
            }
            Instr::MatmulResult => matmul_result,
        };
        vals[n.id as usize] = v;
    }
    Ok(())
}

fn max_id(nodes: &[Node]) -> usize {
    nodes.iter().map(|n| n.id as usize + 1).max().unwrap_or(0)
}

fn to_literal(dtype: DType, shape: &[usize], data: &[f64]) -> Result<Literal, String> {
    let n: usize = shape.iter().product();
    let vals = data.get(..n).ok_or("buffer shorter than its type")?;
    if dtype.is_integer() {
        let iv: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
        Literal::from_i64(dtype, shape.to_vec(), &iv).map_err(|e| e.0)
    } else {
        Literal::from_f64(dtype, shape.to_vec(), vals).map_err(|e| e.0)
    }
}

/// Runs a program on `args`, with library ops evaluated by `lib`.
pub fn run_program_with(
    p: &KProgram,
    args: &[Literal],
    lib: LibEval,
) -> Result<Vec<Literal>, String> {
    psionic_ir::kernel::verify::verify_program(p)?;
    if args.len() != p.params.len() {
        return Err(format!(
            "`{}` takes {} arguments, got {}",
            p.name,
            p.params.len(),
            args.len()
        ));
    }
    let mut mem = Memory {
        own: Vec::new(),
        slots: HashMap::new(),
        home: Vec::new(),
    };
    for (i, b) in p.buffers.iter().enumerate() {
        let n = b.ty.num_elements().unwrap_or(0);
        let home = match (&b.kind, b.slot) {
            (BufferKind::Temp, Some(s)) => {
                let e = mem.slots.entry(s).or_default();
                if e.len() < n {
                    e.resize(n, f64::NAN);
                }
                Home::Slot(s)
            }
            (BufferKind::Param(k), _) => {
                let a = &args[*k as usize];
                if a.ty() != b.ty {
                    return Err(format!("argument {k} is {}, expected {}", a.ty(), b.ty));
                }
                if a.dtype().is_complex() {
                    return Err(
                        "complex arguments are not supported by the kernel interpreter".into(),
                    );
                }
                mem.own.push(a.to_f64_vec());
                Home::Own(mem.own.len() - 1)
            }
            (BufferKind::Const(l), _) => {
                mem.own.push(l.to_f64_vec());
                Home::Own(mem.own.len() - 1)
            }
            (BufferKind::Temp, None) => {
                mem.own.push(vec![f64::NAN; n]);
                Home::Own(mem.own.len() - 1)
            }
        };
        mem.home.push(home);
        let _ = i;
    }
    for item in &p.items {
        match item {
            Item::Kernel(k) => {
                let ids = k.stages.iter().map(|s| max_id(&s.nodes)).max().unwrap_or(0);
                let mut dtypes = vec![DType::F32; ids];
                for n in k.stages.iter().flat_map(|s| &s.nodes) {
                    dtypes[n.id as usize] = n.dtype;
                }
                let mut vals = vec![0.0; ids];
                let outer_shape: Vec<usize> = k
                    .domain
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if k.reduce_axes.contains(&i) { 1 } else { d })
                    .collect();
                let inner_shape: Vec<usize> = k.reduce_axes.iter().map(|&a| k.domain[a]).collect();
                let run = index_iter(&outer_shape, |o| {
                    let mut accs: HashMap<u32, AccState> = HashMap::new();
                    let mut idx = o.to_vec();
                    for s in &k.stages {
                        match s.kind {
                            StageKind::Outer => eval_nodes(
                                &s.nodes, &idx, &mut vals, &dtypes, &mut mem, &mut accs, 0.0, true,
                            )?,
                            StageKind::Loop | StageKind::Map => {
                                let writes = s.kind == StageKind::Map;
                                index_iter(&inner_shape, |r| {
                                    for (j, &ax) in k.reduce_axes.iter().enumerate() {
                                        idx[ax] = r[j];
                                    }
                                    eval_nodes(
                                        &s.nodes, &idx, &mut vals, &dtypes, &mut mem, &mut accs,
                                        0.0, writes,
                                    )
                                })?;
                                if inner_shape.contains(&0) {
                                    // Empty rows: accumulators keep their initial values.
                                }
                                for n in &s.nodes {
                                    if let Instr::Acc { kind, .. } = n.instr {
                                        let st = accs
                                            .get(&n.id)
                                            .copied()
                                            .unwrap_or(AccState::new(kind, n.dtype));
                                        vals[n.id as usize] =
                                            scalar::round_to(n.dtype, st.finish());
                                    }
                                }
                            }
                        }
                    }
                    Ok(())
                });
                run.map_err(|e| format!("kernel @{}: {e}", k.name))?;
            }
            Item::Matmul(m) => {
                let ids = max_id(&m.epilogue);
                let mut dtypes = vec![DType::F32; ids];
                for n in &m.epilogue {
                    dtypes[n.id as usize] = n.dtype;
                }
                let mut vals = vec![0.0; ids];
                let domain = m.domain();
                let r = domain.len();
                let (a, b) = (mem.get(m.a).to_vec(), mem.get(m.b).to_vec());
                let at = |map: &IndexMap, bidx: &[usize], i: usize, j: usize| -> f64 {
                    let mut full = bidx.to_vec();
                    full.extend([i, j]);
                    map.at(&full) as f64
                };
                index_iter(&domain, |idx| {
                    let (bi, i, j) = (&idx[..r - 2], idx[r - 2], idx[r - 1]);
                    let mut acc = 0.0;
                    for kk in 0..m.k {
                        acc += a[at(&m.a_map, bi, i, kk) as usize]
                            * b[at(&m.b_map, bi, kk, j) as usize];
                    }
                    let prod = scalar::round_to(m.dtype, acc);
                    eval_nodes(
                        &m.epilogue,
                        idx,
                        &mut vals,
                        &dtypes,
                        &mut mem,
                        &mut HashMap::new(),
                        prod,
                        true,
                    )
                })?;
            }
            Item::LibOp(l) => {
                let ins: Vec<Literal> = l
                    .inputs
                    .iter()
                    .map(|&b| {
                        let ty = &p.buffer(b).ty;
                        to_literal(ty.dtype, &ty.static_shape().unwrap_or_default(), mem.get(b))
                    })
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&Literal> = ins.iter().collect();
                let outs = lib(l.opcode, &l.attrs, &refs)
                    .map_err(|e| format!("kernel.op {}: {e}", l.opcode))?;
                if outs.len() != l.outputs.len() {
                    return Err(format!(
                        "kernel.op {} gave {} results, expected {}",
                        l.opcode,
                        outs.len(),
                        l.outputs.len()
                    ));
                }
                for (&b, lit) in l.outputs.iter().zip(outs) {
                    let v = lit.to_f64_vec();
                    let dst = mem.get_mut(b);
                    dst[..v.len()].copy_from_slice(&v);
                }
            }
        }
    }
    p.results
        .iter()
        .map(|&b| {
            let ty = &p.buffer(b).ty;
            to_literal(ty.dtype, &ty.static_shape().unwrap_or_default(), mem.get(b))
        })
        .collect()
}

/// Runs a program; library ops run through the tensor interpreter's
/// [`crate::interp::eval_op`] (by [`crate::pairs::eval_lib_op`], which
/// reads `c64` pair buffers as complex tensors).
pub fn run_program(p: &KProgram, args: &[Literal]) -> Result<Vec<Literal>, String> {
    run_program_with(p, args, &crate::pairs::eval_lib_op)
}
