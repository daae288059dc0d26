//! A whole kernel-level program planned for CUDA: one PTX module and the
//! steps that run it.
//!
//! - every `kernel.fused` becomes one `.entry` ([`super::ptx::emit_kernel`]);
//! - a `kernel.matmul` on f32/f64/f16/bf16 whose operand maps cuBLAS can
//!   express (each operand row- or column-major with a positive leading
//!   dimension; batch axes collapsing to one non-negative stride) becomes a
//!   [`GemmSpec`]; its epilogue is a plain store into the output (then cuBLAS
//!   writes the result buffer directly) or an elementwise kernel reading the
//!   product from a scratch buffer. Other matmuls (integer dtypes, exotic
//!   strides) become a rows kernel over `[batch..., m, n, k]` reducing `k`
//!   with the epilogue in its `outer` stage;
//! - a `kernel.op` sort along an axis short enough for shared memory is a
//!   bitonic sort kernel ([`super::sort`]); any other `kernel.op` is a host
//!   round-trip ([`Step::Lib`]): its inputs are copied to the host,
//!   evaluated by the caller's tensor-level evaluator (the reference
//!   interpreter), and the outputs copied back.

use super::ptx::{emit_kernel, header, KernelPtx, RowBlock, Shape};
use crate::cpu::program::normalize_kernel;
use crate::fault::{Faults, FAULT_WORDS};
use psionic_ir::kernel::{
    AccKind, BufId, BufferKind, IndexMap, Instr, Item, KProgram, Kernel, LibOp, MatmulCall, Node,
    Stage, StageKind,
};
use psionic_ir::{Attrs, DType, Opcode};

/// Options of [`plan_program`].
#[derive(Clone, Debug)]
pub struct CudaOptions {
    /// PTX `.target` (`sm_90` by default).
    pub target: String,
    /// Let f32 matmuls use TF32 tensor cores (10-bit mantissa products).
    pub allow_tf32: bool,
    /// Most threads a row kernel's block gets (a power of two, 32 to
    /// 1024; 256 by default); a row of `n` points gets
    /// `clamp(next_pow2(n) / row_points, 32, this)`.
    pub max_row_block: u32,
    /// Points a thread of a row kernel aims at (a power of two; 16 by
    /// default). With 16-byte accesses an H200 ran 8192-wide softmax rows
    /// best at 256 threads (32 points) and 4096-wide layer-norm rows best
    /// at 256 threads (16 points): see docs/BENCHMARKS_GPU.md. Knobs for
    /// sweeps on the device.
    pub row_points: u32,
    /// Most blocks of an elementwise grid-stride launch per SM (64 by
    /// default: on an H200, W1 (64M f32 gelu) ran in 0.139 ms at 64 and
    /// 128 against 0.148 at 16, 0.144 at 256 and 0.155 at 512; cuda_bench's
    /// `elementwise_grid_sweep`). A knob for sweeps on the device.
    pub elementwise_blocks_per_sm: u32,
}

impl Default for CudaOptions {
    fn default() -> Self {
        CudaOptions {
            target: "sm_90".into(),
            allow_tf32: false,
            max_row_block: 256,
            row_points: 16,
            elementwise_blocks_per_sm: 64,
        }
    }
}

/// One kernel launch.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    /// The item it runs (`@k0`, `@k1_epilogue`, ...).
    pub name: String,
    pub entry: String,
    /// Buffer index of each parameter (scratch buffers follow the
    /// program's buffers).
    pub params: Vec<usize>,
    pub shape: Shape,
}

/// One operand of a gemm as cuBLAS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operand {
    pub buf: usize,
    /// Element offset of batch 0's first element.
    pub offset: i64,
    /// Leading dimension (elements).
    pub ld: i64,
    /// Stored transposed: the row-major matrix is in column-major order.
    pub transposed: bool,
    /// Elements between batches (0: broadcast).
    pub batch_stride: i64,
}

/// A row-major `c[b] = a[b] @ b[b]` through cuBLAS.
#[derive(Clone, Debug)]
pub struct GemmSpec {
    pub name: String,
    pub dtype: DType,
    pub tf32: bool,
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Operand,
    pub b: Operand,
    /// Row-major `[batch, m, n]` output buffer.
    pub c: usize,
}

#[derive(Clone, Debug)]
pub enum Step {
    Launch(LaunchSpec),
    Gemm(GemmSpec),
    /// A library op evaluated on the host.
    Lib(LibOp),
}

/// A program planned for CUDA.
#[derive(Clone, Debug)]
pub struct CudaPlan {
    pub program: KProgram,
    /// The PTX module of every kernel.
    pub ptx: String,
    pub steps: Vec<Step>,
    /// Scratch buffers after the program's: (dtype, elements).
    pub scratch: Vec<(DType, usize)>,
    /// Most blocks an elementwise launch gets per SM
    /// ([`CudaOptions::elementwise_blocks_per_sm`]).
    pub elementwise_blocks_per_sm: u32,
    /// The fault record of gathers (a `u32` scratch buffer of
    /// [`crate::fault::FAULT_WORDS`]) when some kernel gathers: the runtime
    /// zeroes it before a run and reads it back before host calls and with
    /// the results.
    pub faults: Option<Faults>,
}

impl CudaPlan {
    /// Number of program buffers (scratch indices start here).
    pub fn nbuf(&self) -> usize {
        self.program.buffers.len()
    }
    /// dtype and element count of buffer index `i` (program or scratch).
    pub fn buffer_info(&self, i: usize) -> (DType, usize) {
        let n = self.nbuf();
        if i < n {
            let t = &self.program.buffers[i].ty;
            (t.dtype, t.num_elements().unwrap_or(0))
        } else {
            self.scratch[i - n]
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The buffer an epilogue stores the plain product into, row-major.
fn direct_store(m: &MatmulCall, p: &KProgram) -> Option<BufId> {
    if m.epilogue.len() != 2 {
        return None;
    }
    let (Instr::MatmulResult, Instr::Store { buf, map, arg }) =
        (&m.epilogue[0].instr, &m.epilogue[1].instr)
    else {
        return None;
    };
    let ty = &p.buffer(*buf).ty;
    (*arg == m.epilogue[0].id
        && ty.dtype == m.dtype
        && *map == IndexMap::row_major(&m.domain())
        && ty.num_elements() == Some(m.domain().iter().product()))
    .then_some(*buf)
}

/// cuBLAS's view of an operand `rows x cols` with strides `(sr, sc)`.
fn operand(
    buf: BufId,
    map: &IndexMap,
    batch: &[usize],
    rows: usize,
    cols: usize,
) -> Option<Operand> {
    let r = batch.len();
    let (sr, sc) = (map.strides[r], map.strides[r + 1]);
    let (ld, transposed) = if (cols == 1 || sc == 1) && (rows == 1 || sr >= cols as i64) {
        (if rows == 1 { cols.max(1) as i64 } else { sr }, false)
    } else if (rows == 1 || sr == 1) && (cols == 1 || sc >= rows as i64) {
        (if cols == 1 { rows.max(1) as i64 } else { sc }, true)
    } else {
        return None;
    };
    // Batch axes must collapse to one stride.
    let axes: Vec<(usize, i64)> = batch
        .iter()
        .zip(&map.strides[..r])
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &s)| (d, s))
        .collect();
    let mut batch_stride = 0;
    if let Some(&(_, last)) = axes.last() {
        for w in axes.windows(2) {
            if w[0].1 != w[1].1 * w[1].0 as i64 {
                return None;
            }
        }
        batch_stride = last;
    }
    if batch_stride < 0 || map.offset < 0 {
        return None;
    }
    Some(Operand {
        buf: buf.index(),
        offset: map.offset,
        ld,
        transposed,
        batch_stride,
    })
}

/// A matmul as a rows kernel over `[batch..., m, n, k]` reducing `k`.
pub fn matmul_as_kernel(m: &MatmulCall) -> Kernel {
    let r = m.batch.len();
    let mut domain = m.domain();
    domain.push(m.k);
    let a_map = {
        let mut s = m.a_map.strides[..r].to_vec();
        s.extend([m.a_map.strides[r], 0, m.a_map.strides[r + 1]]);
        IndexMap {
            offset: m.a_map.offset,
            strides: s,
        }
    };
    let b_map = {
        let mut s = m.b_map.strides[..r].to_vec();
        s.extend([0, m.b_map.strides[r + 1], m.b_map.strides[r]]);
        IndexMap {
            offset: m.b_map.offset,
            strides: s,
        }
    };
    let base = m.epilogue.iter().map(|n| n.id).max().unwrap_or(0) + 1;
    let (la, lb, prod, acc) = (base, base + 1, base + 2, base + 3);
    let loop_nodes = vec![
        Node {
            id: la,
            dtype: m.dtype,
            instr: Instr::Load {
                buf: m.a,
                map: a_map,
            },
        },
        Node {
            id: lb,
            dtype: m.dtype,
            instr: Instr::Load {
                buf: m.b,
                map: b_map,
            },
        },
        Node {
            id: prod,
            dtype: m.dtype,
            instr: Instr::Op {
                opcode: Opcode::Multiply,
                attrs: Attrs::default(),
                args: vec![la, lb],
            },
        },
        Node {
            id: acc,
            dtype: m.dtype,
            instr: Instr::Acc {
                kind: AccKind::Sum,
                arg: prod,
            },
        },
    ];
    let extend = |map: &IndexMap| {
        let mut s = map.strides.clone();
        s.push(0);
        IndexMap {
            offset: map.offset,
            strides: s,
        }
    };
    let mut outer = Vec::new();
    let mut result_ids = Vec::new();
    for n in &m.epilogue {
        match &n.instr {
            Instr::MatmulResult => result_ids.push(n.id),
            Instr::Load { buf, map } => outer.push(Node {
                id: n.id,
                dtype: n.dtype,
                instr: Instr::Load {
                    buf: *buf,
                    map: extend(map),
                },
            }),
            Instr::LoadOr {
                buf,
                map,
                lo,
                hi,
                fill,
            } => outer.push(Node {
                id: n.id,
                dtype: n.dtype,
                instr: Instr::LoadOr {
                    buf: *buf,
                    map: extend(map),
                    lo: lo.iter().copied().chain([0]).collect(),
                    hi: hi.iter().copied().chain([m.k as i64]).collect(),
                    fill: if result_ids.contains(fill) {
                        acc
                    } else {
                        *fill
                    },
                },
            }),
            Instr::Store { buf, map, arg } => outer.push(Node {
                id: n.id,
                dtype: n.dtype,
                instr: Instr::Store {
                    buf: *buf,
                    map: extend(map),
                    arg: if result_ids.contains(arg) { acc } else { *arg },
                },
            }),
            Instr::Op {
                opcode,
                attrs,
                args,
            } => outer.push(Node {
                id: n.id,
                dtype: n.dtype,
                instr: Instr::Op {
                    opcode: *opcode,
                    attrs: attrs.clone(),
                    args: args
                        .iter()
                        .map(|a| if result_ids.contains(a) { acc } else { *a })
                        .collect(),
                },
            }),
            _ => outer.push(n.clone()),
        }
    }
    Kernel {
        name: m.name.clone(),
        domain,
        reduce_axes: vec![r + 2],
        stages: vec![
            Stage {
                kind: StageKind::Loop,
                nodes: loop_nodes,
            },
            Stage {
                kind: StageKind::Outer,
                nodes: outer,
            },
        ],
    }
}

/// Plans a (verified, ideally buffer-planned) program for CUDA.
pub fn plan_program(p: &KProgram, opts: &CudaOptions) -> Result<CudaPlan, String> {
    psionic_ir::kernel::verify::verify_program(p)?;
    for b in &p.buffers {
        if b.ty.dtype.is_complex() {
            return Err(format!(
                "complex buffers ({}) are not supported by the CUDA backend",
                b.ty
            ));
        }
        if !b.ty.is_static() {
            return Err(format!("buffer type {} is not static", b.ty));
        }
    }
    for it in &p.items {
        for w in it.writes() {
            if !matches!(p.buffer(w).kind, BufferKind::Temp) {
                return Err(format!(
                    "an item writes %b{}, which is not a temporary",
                    w.0
                ));
            }
        }
    }
    let nbuf = p.buffers.len();
    let mut scratch: Vec<(DType, usize)> = Vec::new();
    let mut faults = p
        .items
        .iter()
        .any(|it| matches!(it, Item::Kernel(k) if k.has_gather()))
        .then(|| {
            scratch.push((DType::U32, FAULT_WORDS));
            Faults {
                buf: nbuf + scratch.len() - 1,
                sites: vec![],
            }
        });
    let mut steps = Vec::new();
    let mut kernels: Vec<KernelPtx> = Vec::new();
    let mut entries = std::collections::HashSet::new();
    // Device sorts of library ops (`super::sort`).
    let mut sorts: Vec<KernelPtx> = Vec::new();
    let mut emit = |k: &Kernel,
                    name: String,
                    scratch: &Vec<(DType, usize)>,
                    steps: &mut Vec<Step>,
                    faults: Option<&mut Faults>|
     -> Result<(), String> {
        let buf_dtype = |b: BufId| -> DType {
            if b.index() < nbuf {
                p.buffer(b).ty.dtype
            } else {
                scratch[b.index() - nbuf].0
            }
        };
        let mut entry = format!("psi_{}", sanitize(&name));
        while !entries.insert(entry.clone()) {
            entry.push('_');
        }
        let rows = RowBlock {
            max_block: opts.max_row_block,
            points: opts.row_points,
        };
        let kp = emit_kernel(&normalize_kernel(k), &entry, &buf_dtype, rows, faults)
            .map_err(|e| format!("kernel @{name}: {e}"))?;
        steps.push(Step::Launch(LaunchSpec {
            name,
            entry,
            params: kp.params.iter().map(|b| b.index()).collect(),
            shape: kp.shape.clone(),
        }));
        kernels.push(kp);
        Ok(())
    };
    for it in &p.items {
        match it {
            Item::Kernel(k) => emit(k, k.name.clone(), &scratch, &mut steps, faults.as_mut())?,
            Item::LibOp(l) => {
                // `$` never appears in the entries `emit` names (it
                // sanitizes names to alphanumerics and `_`).
                let entry = format!("psi$sort{}", sorts.len());
                match super::sort::sort_kernel(p, l, &entry) {
                    Some(kp) => {
                        steps.push(Step::Launch(LaunchSpec {
                            name: format!("{}_sort", l.opcode),
                            entry,
                            params: kp.params.iter().map(|b| b.index()).collect(),
                            shape: kp.shape.clone(),
                        }));
                        sorts.push(kp);
                    }
                    None => steps.push(Step::Lib(l.clone())),
                }
            }
            Item::Matmul(m) => {
                let blas = matches!(m.dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16);
                let ops = operand(m.a, &m.a_map, &m.batch, m.m, m.k)
                    .zip(operand(m.b, &m.b_map, &m.batch, m.k, m.n));
                match ops {
                    Some((a, b)) if blas && m.m > 0 && m.n > 0 && m.k > 0 => {
                        let (c, epi) = match direct_store(m, p) {
                            Some(buf) => (buf.index(), None),
                            None => {
                                let slot = nbuf + scratch.len();
                                scratch.push((m.dtype, m.domain().iter().product()));
                                (slot, Some(m.epilogue_kernel(BufId(slot as u32))))
                            }
                        };
                        steps.push(Step::Gemm(GemmSpec {
                            name: m.name.clone(),
                            dtype: m.dtype,
                            tf32: opts.allow_tf32 && m.dtype == DType::F32,
                            batch: m.batch.iter().product(),
                            m: m.m,
                            n: m.n,
                            k: m.k,
                            a,
                            b,
                            c,
                        }));
                        if let Some(e) = epi {
                            emit(&e, e.name.clone(), &scratch, &mut steps, None)?;
                        }
                    }
                    _ => emit(
                        &matmul_as_kernel(m),
                        m.name.clone(),
                        &scratch,
                        &mut steps,
                        None,
                    )?,
                }
            }
        }
    }
    let mut ptx = header(&opts.target);
    for k in kernels.iter().chain(&sorts) {
        ptx.push_str(&k.text);
        ptx.push('\n');
    }
    Ok(CudaPlan {
        program: p.clone(),
        ptx,
        steps,
        scratch,
        elementwise_blocks_per_sm: opts.elementwise_blocks_per_sm.max(1),
        faults,
    })
}
