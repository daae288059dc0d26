//! A whole kernel-level program compiled for the CPU: one native function
//! per fused kernel (and per matmul epilogue), matmuls through the `gemm`
//! crate, library ops through a caller-given tensor-level evaluator, and the
//! memory plan (buffer planning's slots) turned into an arena.
//!
//! Entry points: [`compile_program`] and [`CpuProgram::run`].

use super::jit::{compile_kernel, count_ops, CompiledKernel, GatherFault, KernelFn, OpDesc, Shape};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use psionic_ir::kernel::{
    BufId, BufferKind, IndexMap, Instr, Item, KProgram, Kernel, LibOp, MatmulCall, Node, Stage,
    StageKind,
};
use psionic_ir::{Attrs, DType, Literal, Opcode};

/// Evaluates a tensor-level op on whole literals (library ops); the runtime
/// passes the reference interpreter's `eval_op`.
pub type LibEval<'a> =
    &'a (dyn Fn(Opcode, &Attrs, &[&Literal]) -> Result<Vec<Literal>, String> + Sync);

/// Options of [`compile_program`].
#[derive(Clone, Debug)]
pub struct CpuOptions {
    /// Keep each function's Cranelift IR text ([`CpuProgram::clif`]).
    pub emit_clif: bool,
    /// Worker threads for large kernels and matmuls (0: all cores).
    pub threads: usize,
    /// Kernels with less estimated work than this (domain points times
    /// `jit::work_per_point`, 1 for a few cheap ops) run on one thread:
    /// waking the pool costs about 30 us, so on 2 cores a 2^18-point
    /// `max(x + y, x)` took 0.062 ms on one thread and 0.091 on two, and a
    /// 2^20-point one 0.28 and 0.17.
    pub parallel_min_points: usize,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            emit_clif: false,
            threads: 0,
            parallel_min_points: 1 << 19,
        }
    }
}

enum CItem {
    Kernel(CompiledKernel),
    Matmul {
        call: MatmulCall,
        /// Where the products go: a program buffer (when the epilogue is a
        /// plain row-major store) or a scratch pointer slot.
        dst: usize,
        /// The epilogue as a kernel reading the scratch (None: direct store).
        epilogue: Option<CompiledKernel>,
    },
    Lib(LibOp),
}

/// A compiled program. Its code lives as long as it does.
pub struct CpuProgram {
    program: KProgram,
    items: Vec<CItem>,
    /// Scratch pointer slots after the program's buffers: (slot, dtype, elements).
    scratch: Vec<(usize, DType, usize)>,
    _ops: Vec<OpDesc>,
    _module: JITModule,
    threads: usize,
    parallel_min_points: usize,
    /// Arena blocks of finished runs, reused by the next ones.
    blocks: std::sync::Mutex<Vec<Vec<Block>>>,
    /// Worker threads (rayon's global pool when `threads` is every core).
    pool: Pool,
    /// Per buffer: every element is written by the program (no zero fill).
    fully_written: Vec<bool>,
    /// The storage of the last call's results, by buffer index: when the
    /// caller has dropped a result (the clone here is the only reference
    /// left), the next call writes into it instead of allocating fresh pages
    /// (first touch of a 64 MB result costs more than computing it).
    last_results: std::sync::Mutex<std::collections::HashMap<usize, std::sync::Arc<[u8]>>>,
}

// SAFETY: the compiled code and the op table are immutable after
// compilation; `run` shares nothing mutable between calls.
unsafe impl Send for CpuProgram {}
unsafe impl Sync for CpuProgram {}

/// Drops non-reduced axes of extent 1 and merges neighbouring axes that
/// every index map walks as one (row-major runs), so that an elementwise
/// kernel over contiguous buffers becomes one flat loop.
pub fn normalize_kernel(k: &Kernel) -> Kernel {
    let maps = |k: &Kernel| -> Vec<IndexMap> {
        k.stages
            .iter()
            .flat_map(|s| &s.nodes)
            .filter_map(|n| match &n.instr {
                Instr::Load { map, .. }
                | Instr::Gather { map, .. }
                | Instr::LoadOr { map, .. }
                | Instr::Scatter { map, .. }
                | Instr::Store { map, .. } => Some(map.clone()),
                _ => None,
            })
            .collect()
    };
    // Guard boxes of guarded loads, as (lo, hi).
    let boxes = |k: &Kernel| -> Vec<(Vec<i64>, Vec<i64>)> {
        k.stages
            .iter()
            .flat_map(|s| &s.nodes)
            .filter_map(|n| match &n.instr {
                Instr::LoadOr { lo, hi, .. } => Some((lo.clone(), hi.clone())),
                _ => None,
            })
            .collect()
    };
    type BoxFn<'a> = &'a dyn Fn(&[i64], &[i64]) -> (Vec<i64>, Vec<i64>);
    let rewrite = |k: &Kernel, f: &dyn Fn(&IndexMap) -> IndexMap, g: BoxFn| -> Vec<Stage> {
        k.stages
            .iter()
            .map(|s| Stage {
                kind: s.kind,
                nodes: s
                    .nodes
                    .iter()
                    .map(|n| Node {
                        id: n.id,
                        dtype: n.dtype,
                        instr: match &n.instr {
                            Instr::Load { buf, map } => Instr::Load {
                                buf: *buf,
                                map: f(map),
                            },
                            Instr::Gather { buf, map, index } => Instr::Gather {
                                buf: *buf,
                                map: f(map),
                                index: index.clone(),
                            },
                            Instr::LoadOr {
                                buf,
                                map,
                                lo,
                                hi,
                                fill,
                            } => {
                                let (lo, hi) = g(lo, hi);
                                Instr::LoadOr {
                                    buf: *buf,
                                    map: f(map),
                                    lo,
                                    hi,
                                    fill: *fill,
                                }
                            }
                            Instr::Store { buf, map, arg } => Instr::Store {
                                buf: *buf,
                                map: f(map),
                                arg: *arg,
                            },
                            Instr::Scatter {
                                buf,
                                map,
                                index,
                                arg,
                                reduce,
                            } => Instr::Scatter {
                                buf: *buf,
                                map: f(map),
                                index: index.clone(),
                                arg: *arg,
                                reduce: *reduce,
                            },
                            other => other.clone(),
                        },
                    })
                    .collect(),
            })
            .collect()
    };
    let mut k = k.clone();
    // Drop outer axes of extent 1 (a guard box holds all of such an axis).
    while let Some(ax) =
        (0..k.domain.len()).find(|&a| k.domain[a] == 1 && !k.reduce_axes.contains(&a))
    {
        let drop = |v: &[i64]| {
            let mut v = v.to_vec();
            v.remove(ax);
            v
        };
        let stages = rewrite(
            &k,
            &|m| IndexMap {
                offset: m.offset,
                strides: drop(&m.strides),
            },
            &|lo, hi| (drop(lo), drop(hi)),
        );
        k.stages = stages;
        k.domain.remove(ax);
        k.reduce_axes = k
            .reduce_axes
            .iter()
            .map(|&r| if r > ax { r - 1 } else { r })
            .collect();
    }
    // Merge axis i with i+1 where every map has stride[i] == stride[i+1] * d[i+1]
    // and every guard box stays a box on the merged axis (it holds all of
    // axis i+1, or one index of axis i).
    loop {
        let all = maps(&k);
        let bx = boxes(&k);
        let Some(i) = (0..k.domain.len().saturating_sub(1)).find(|&i| {
            k.reduce_axes.contains(&i) == k.reduce_axes.contains(&(i + 1))
                && all
                    .iter()
                    .all(|m| m.strides[i] == m.strides[i + 1] * k.domain[i + 1] as i64)
                && bx.iter().all(|(lo, hi)| {
                    (lo[i + 1] == 0 && hi[i + 1] == k.domain[i + 1] as i64) || hi[i] - lo[i] == 1
                })
        }) else {
            break;
        };
        let d1 = k.domain[i + 1] as i64;
        let stages = rewrite(
            &k,
            &|m| {
                let mut s = m.strides.clone();
                s.remove(i);
                IndexMap {
                    offset: m.offset,
                    strides: s,
                }
            },
            &|lo, hi| {
                let (mut lo, mut hi) = (lo.to_vec(), hi.to_vec());
                lo[i + 1] += lo[i] * d1;
                hi[i + 1] += (hi[i] - 1) * d1;
                lo.remove(i);
                hi.remove(i);
                (lo, hi)
            },
        );
        k.stages = stages;
        k.domain[i + 1] *= k.domain[i];
        k.domain.remove(i);
        let reduced = k.reduce_axes.contains(&i);
        k.reduce_axes = k
            .reduce_axes
            .iter()
            .filter(|&&r| !(reduced && r == i))
            .map(|&r| if r > i { r - 1 } else { r })
            .collect();
    }
    k
}

/// The buffer an epilogue stores the plain product into, row-major, when
/// that is all it does.
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

/// True when `map` visits distinct elements at distinct points of the axes
/// `axes` of `domain`: sorted by stride magnitude, each stride exceeds the
/// farthest reach of the smaller ones (a mixed-radix numbering).
fn injective(map: &IndexMap, domain: &[usize], axes: &[usize]) -> bool {
    let mut st: Vec<(u64, u64)> = axes
        .iter()
        .filter(|&&a| domain[a] > 1)
        .map(|&a| (map.strides[a].unsigned_abs(), domain[a] as u64 - 1))
        .collect();
    st.sort();
    let mut reach = 0u64;
    for (s, ext) in st {
        if s <= reach {
            return false;
        }
        reach = reach.saturating_add(s.saturating_mul(ext));
    }
    true
}

/// Buffers every element of which the program writes before returning: the
/// item writing it stores through one injective map whose iteration count
/// equals the buffer's size (checked by the verifier), or is a library op or
/// a plain matmul. Such results need no zero fill.
fn fully_written(p: &KProgram) -> Vec<bool> {
    let mut full = vec![false; p.buffers.len()];
    let stores_cover = |nodes: &mut dyn Iterator<Item = (&Node, Vec<usize>)>,
                        domain: &[usize],
                        full: &mut Vec<bool>| {
        let mut seen: std::collections::HashMap<u32, (usize, bool)> =
            std::collections::HashMap::new();
        for (n, axes) in nodes {
            if let Instr::Store { buf, map, .. } = &n.instr {
                let e = seen.entry(buf.0).or_insert((0, true));
                e.0 += 1;
                e.1 &= injective(map, domain, &axes);
            }
        }
        for (b, (count, inj)) in seen {
            if count == 1 && inj {
                full[b as usize] = true;
            }
        }
    };
    for it in &p.items {
        match it {
            Item::Kernel(k) => {
                let all: Vec<usize> = (0..k.domain.len()).collect();
                let outer: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|a| !k.reduce_axes.contains(a))
                    .collect();
                let mut it = k.stages.iter().flat_map(|s| {
                    let axes = if s.kind == StageKind::Outer {
                        outer.clone()
                    } else {
                        all.clone()
                    };
                    s.nodes.iter().map(move |n| (n, axes.clone()))
                });
                stores_cover(&mut it, &k.domain, &mut full);
            }
            Item::Matmul(m) => {
                let d = m.domain();
                let all: Vec<usize> = (0..d.len()).collect();
                let mut it = m.epilogue.iter().map(|n| (n, all.clone()));
                stores_cover(&mut it, &d, &mut full);
            }
            Item::LibOp(l) => {
                for b in &l.outputs {
                    full[b.index()] = true;
                }
            }
        }
    }
    full
}

fn make_module() -> Result<JITModule, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
    let isa = cranelift_native::builder()
        .map_err(|e| format!("host not supported by Cranelift: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    Ok(JITModule::new(JITBuilder::with_isa(
        isa,
        cranelift_module::default_libcall_names(),
    )))
}

/// Compiles a (verified, ideally buffer-planned) kernel-level program.
pub fn compile_program(p: &KProgram, opts: &CpuOptions) -> Result<CpuProgram, String> {
    psionic_ir::kernel::verify::verify_program(p)?;
    for b in &p.buffers {
        if b.ty.dtype.is_complex() {
            return Err(format!(
                "complex buffers ({}) are not supported by the CPU backend",
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
    let mut module = make_module()?;
    let nbuf = p.buffers.len();
    let mut scratch: Vec<(usize, DType, usize)> = Vec::new();
    // Kernels to compile, with their item index (epilogues included).
    let mut kernels: Vec<(usize, Kernel)> = Vec::new();
    let mut matmul_dst: Vec<Option<usize>> = vec![None; p.items.len()];
    for (i, it) in p.items.iter().enumerate() {
        match it {
            Item::Kernel(k) => kernels.push((i, normalize_kernel(k))),
            Item::Matmul(m) => match direct_store(m, p) {
                Some(b) => matmul_dst[i] = Some(b.index()),
                None => {
                    let slot = nbuf + scratch.len();
                    scratch.push((slot, m.dtype, m.domain().iter().product()));
                    matmul_dst[i] = Some(slot);
                    kernels.push((i, normalize_kernel(&m.epilogue_kernel(BufId(slot as u32)))));
                }
            },
            Item::LibOp(_) => {}
        }
    }
    let scratch_dtypes: Vec<DType> = scratch.iter().map(|s| s.1).collect();
    let buf_dtype = |b: BufId| -> DType {
        if b.index() < nbuf {
            p.buffer(b).ty.dtype
        } else {
            scratch_dtypes[b.index() - nbuf]
        }
    };
    let total_ops: usize = kernels.iter().map(|(_, k)| count_ops(k)).sum();
    let mut ops: Vec<OpDesc> = Vec::with_capacity(total_ops);
    let mut compiled: Vec<(
        usize,
        cranelift_module::FuncId,
        Shape,
        Option<String>,
        &Kernel,
    )> = Vec::new();
    for (j, (i, k)) in kernels.iter().enumerate() {
        let (id, shape, clif) = compile_kernel(
            &mut module,
            k,
            &buf_dtype,
            nbuf + scratch.len(),
            &mut ops,
            j as u32,
            opts.emit_clif,
        )?;
        compiled.push((*i, id, shape, clif, k));
    }
    module
        .finalize_definitions()
        .map_err(|e| format!("linking compiled kernels: {e}"))?;
    let mut by_item: Vec<Option<CompiledKernel>> = (0..p.items.len()).map(|_| None).collect();
    for (i, id, shape, clif, k) in compiled {
        let code = module.get_finalized_function(id);
        // SAFETY: the function was defined with signature (ptr, i64, i64) -> ().
        let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
        let outer: Vec<usize> = (0..k.domain.len())
            .filter(|a| !k.reduce_axes.contains(a))
            .collect();
        by_item[i] = Some(CompiledKernel {
            func,
            shape,
            split_extent: outer.first().map(|&a| k.domain[a]).unwrap_or(1),
            points: k.domain.iter().product(),
            work: k.domain.iter().product::<usize>() * super::jit::work_per_point(k),
            serial: k.has_scatter(),
            clif,
        });
    }
    let items = p
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| match it {
            Item::Kernel(_) => CItem::Kernel(by_item[i].take().expect("kernel compiled")),
            Item::Matmul(m) => CItem::Matmul {
                call: m.clone(),
                dst: matmul_dst[i].expect("matmul destination chosen"),
                epilogue: by_item[i].take(),
            },
            Item::LibOp(l) => CItem::Lib(l.clone()),
        })
        .collect();
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    Ok(CpuProgram {
        program: p.clone(),
        items,
        scratch,
        _ops: ops,
        _module: module,
        threads,
        parallel_min_points: opts.parallel_min_points,
        blocks: std::sync::Mutex::new(Vec::new()),
        pool: Pool::new(threads)?,
        fully_written: fully_written(p),
        last_results: std::sync::Mutex::new(std::collections::HashMap::new()),
    })
}

/// Results at least this large are kept for reuse by the next call once the
/// caller drops them (smaller ones come from malloc's free lists anyway).
const KEEP_RESULT_MIN_BYTES: usize = 1 << 20;

/// Chunks per worker thread of a parallel kernel (load balance on a shared
/// machine against per-chunk overhead).
const CHUNKS_PER_THREAD: usize = 4;

/// The thread pool kernels and matmuls run on.
enum Pool {
    /// rayon's global pool (every core; gemm uses it too).
    Global,
    Own(rayon::ThreadPool),
}

impl Pool {
    fn new(threads: usize) -> Result<Pool, String> {
        if threads == rayon::current_num_threads() || threads <= 1 {
            return Ok(Pool::Global);
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map(Pool::Own)
            .map_err(|e| format!("starting {threads} worker threads: {e}"))
    }
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Pool::Global => f(),
            Pool::Own(p) => p.install(f),
        }
    }
}

/// Storage of a result buffer handed to the caller without a copy.
enum ResultStorage {
    Init(std::sync::Arc<[u8]>),
    Uninit(std::sync::Arc<[std::mem::MaybeUninit<u8>]>),
}

impl ResultStorage {
    fn ptr(&mut self) -> *mut u8 {
        match self {
            ResultStorage::Init(a) => std::sync::Arc::get_mut(a)
                .expect("result storage is not shared yet")
                .as_mut_ptr(),
            ResultStorage::Uninit(a) => std::sync::Arc::get_mut(a)
                .expect("result storage is not shared yet")
                .as_mut_ptr() as *mut u8,
        }
    }
    /// # Safety
    /// An `Uninit` storage must have had every byte written.
    unsafe fn finish(self) -> std::sync::Arc<[u8]> {
        match self {
            ResultStorage::Init(a) => a,
            // SAFETY: by the caller.
            ResultStorage::Uninit(a) => unsafe { a.assume_init() },
        }
    }
}

/// 16-byte aligned storage.
struct Block(Vec<u128>);

impl Block {
    fn new(bytes: usize) -> Block {
        Block(vec![0u128; bytes.div_ceil(16).max(1)])
    }
    fn ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr() as *mut u8
    }
}

#[derive(Clone, Copy)]
struct Ptrs(*const *mut u8);
// SAFETY: threads write disjoint elements (each takes its own outer range).
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

impl CpuProgram {
    /// The program as compiled (kernels before normalization).
    pub fn program(&self) -> &KProgram {
        &self.program
    }

    /// Per kernel item: its name and whether it got the f32x4 shape.
    pub fn kernel_shapes(&self) -> Vec<(String, bool)> {
        let mut v = Vec::new();
        for (it, c) in self.program.items.iter().zip(&self.items) {
            match (it, c) {
                (Item::Kernel(k), CItem::Kernel(ck)) => {
                    v.push((k.name.clone(), ck.shape == Shape::Vector))
                }
                (
                    Item::Matmul(m),
                    CItem::Matmul {
                        epilogue: Some(e), ..
                    },
                ) => v.push((format!("{}_epilogue", m.name), e.shape == Shape::Vector)),
                _ => {}
            }
        }
        v
    }

    /// The Cranelift IR of every compiled function (when compiled with
    /// `emit_clif`), each preceded by a `; kernel @name` line.
    pub fn clif(&self) -> String {
        let mut s = String::new();
        for (it, c) in self.program.items.iter().zip(&self.items) {
            let (name, k) = match (it, c) {
                (Item::Kernel(k), CItem::Kernel(ck)) => (k.name.clone(), Some(ck)),
                (Item::Matmul(m), CItem::Matmul { epilogue, .. }) => {
                    (m.name.clone(), epilogue.as_ref())
                }
                (Item::LibOp(l), _) => (format!("library op {}", l.opcode), None),
                _ => continue,
            };
            s.push_str(&format!("; kernel @{name}\n"));
            match k.and_then(|k| k.clif.as_ref()) {
                Some(t) => s.push_str(t),
                None => s.push_str("; (no generated code: library call)\n"),
            }
            s.push('\n');
        }
        s
    }

    fn run_kernel(&self, k: &CompiledKernel, ptrs: &[*mut u8]) {
        let n = k.split_extent;
        let t = self.threads.min(n);
        let table = Ptrs(ptrs.as_ptr());
        if t <= 1 || k.work < self.parallel_min_points || k.serial {
            // SAFETY: every pointer of the table addresses a live buffer of its
            // declared size, and the kernel's maps stay inside them (verified).
            unsafe { (k.func)(ptrs.as_ptr(), 0, n as i64) };
            return;
        }
        // Several chunks per thread, taken by whichever worker is free (rayon
        // work stealing): on a shared machine a busy core's share moves to an
        // idle one instead of the whole kernel waiting for it. No chunk is
        // smaller than a quarter of the single-thread threshold, and chunk
        // edges are multiples of 16 so vector loops stay on whole lanes.
        let per_index = (k.work / n.max(1)).max(1);
        let min_chunk = (self.parallel_min_points / 4).div_ceil(per_index).max(1);
        let chunk = n
            .div_ceil(t * CHUNKS_PER_THREAD)
            .max(min_chunk)
            .div_ceil(16)
            * 16;
        let chunks = n.div_ceil(chunk);
        let f = k.func;
        let body = move |c: usize| {
            let tb = table;
            let lo = c * chunk;
            let hi = (lo + chunk).min(n);
            // SAFETY: as above; outer ranges of different chunks address
            // disjoint output elements.
            unsafe { f(tb.0, lo as i64, hi as i64) }
        };
        self.pool.install(|| {
            use rayon::prelude::*;
            (0..chunks).into_par_iter().for_each(body);
        });
    }

    fn run_matmul(&self, m: &MatmulCall, dst: usize, ptrs: &[*mut u8]) -> Result<(), String> {
        let r = m.batch.len();
        let nb: usize = m.batch.iter().product();
        // gemm's threads cost more than they give below ~4M multiply-adds:
        // on 2 cores 256x1024x10 took 0.078 ms on one thread and 0.138 on
        // two, 256x784x1024 2.38 and 1.21.
        let par = if m.m * m.n * m.k >= 1 << 22 && self.threads > 1 {
            gemm::Parallelism::Rayon(self.threads)
        } else {
            gemm::Parallelism::None
        };
        let (a0, b0, d0) = (ptrs[m.a.index()], ptrs[m.b.index()], ptrs[dst]);
        for bi in 0..nb {
            // Batch index -> offsets.
            let mut rem = bi;
            let mut bidx = vec![0usize; r];
            for ax in (0..r).rev() {
                bidx[ax] = rem % m.batch[ax];
                rem /= m.batch[ax];
            }
            let boff = |map: &IndexMap| -> isize {
                map.offset as isize
                    + bidx
                        .iter()
                        .zip(&map.strides)
                        .map(|(&i, &s)| i as isize * s as isize)
                        .sum::<isize>()
            };
            let (ao, bo) = (boff(&m.a_map), boff(&m.b_map));
            let (ars, acs) = (m.a_map.strides[r] as isize, m.a_map.strides[r + 1] as isize);
            let (brs, bcs) = (m.b_map.strides[r] as isize, m.b_map.strides[r + 1] as isize);
            let doff = (bi * m.m * m.n) as isize;
            macro_rules! gemm_t {
                ($t:ty, $zero:expr, $one:expr) => {{
                    // SAFETY: operand maps are verified to stay inside their
                    // buffers; dst is a row-major [batch, m, n] buffer.
                    unsafe {
                        let a = (a0 as *const $t).offset(ao);
                        let b = (b0 as *const $t).offset(bo);
                        let d = (d0 as *mut $t).offset(doff);
                        gemm::gemm(
                            m.m,
                            m.n,
                            m.k,
                            d,
                            1,
                            m.n as isize,
                            false,
                            a,
                            acs,
                            ars,
                            b,
                            bcs,
                            brs,
                            $zero,
                            $one,
                            false,
                            false,
                            false,
                            par,
                        );
                    }
                }};
            }
            match m.dtype {
                DType::F32 => gemm_t!(f32, 0.0f32, 1.0f32),
                DType::F64 => gemm_t!(f64, 0.0f64, 1.0f64),
                DType::F16 => gemm_t!(half::f16, half::f16::ZERO, half::f16::ONE),
                d => {
                    // Other dtypes: products accumulated in f64, rounded once
                    // (the interpreter's semantics).
                    let es = d.size() as isize;
                    for i in 0..m.m {
                        for j in 0..m.n {
                            let mut acc = 0.0f64;
                            for kk in 0..m.k {
                                let ai = ao + i as isize * ars + kk as isize * acs;
                                let bj = bo + kk as isize * brs + j as isize * bcs;
                                // SAFETY: inside the operand buffers (verified maps).
                                let (x, y) = unsafe {
                                    (
                                        psionic_ir::literal::read_f64(
                                            d,
                                            std::slice::from_raw_parts(
                                                a0.offset(ai * es),
                                                es as usize,
                                            ),
                                        ),
                                        psionic_ir::literal::read_f64(
                                            d,
                                            std::slice::from_raw_parts(
                                                b0.offset(bj * es),
                                                es as usize,
                                            ),
                                        ),
                                    )
                                };
                                acc += x * y;
                            }
                            let v = psionic_ir::kernel::scalar::round_to(d, acc);
                            let mut out = Vec::with_capacity(8);
                            if d.is_integer() {
                                psionic_ir::literal::push_i64(&mut out, d, v as i64);
                            } else {
                                psionic_ir::literal::push_f64(&mut out, d, v);
                            }
                            let at = doff + (i * m.n + j) as isize;
                            // SAFETY: inside dst.
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    out.as_ptr(),
                                    d0.offset(at * es),
                                    es as usize,
                                )
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the program on `args` (types must match the parameters).
    pub fn run(&self, args: &[Literal], lib: LibEval) -> Result<Vec<Literal>, String> {
        let t_setup = std::time::Instant::now();
        let p = &self.program;
        if args.len() != p.params.len() {
            return Err(format!(
                "`{}` takes {} arguments, got {}",
                p.name,
                p.params.len(),
                args.len()
            ));
        }
        // Blocks of an earlier run (same sizes, same order) avoid fresh pages.
        let mut reuse: std::vec::IntoIter<Block> = self
            .blocks
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default()
            .into_iter();
        let mut new_block = |bytes: usize| -> Block {
            match reuse.next() {
                Some(b) if b.0.len() == bytes.div_ceil(16).max(1) => b,
                _ => Block::new(bytes),
            }
        };
        let mut blocks: Vec<Block> = Vec::new();
        let mut slot_block: std::collections::HashMap<u32, usize> =
            std::collections::HashMap::new();
        let mut slot_size: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
        for b in &p.buffers {
            if let (BufferKind::Temp, Some(s)) = (&b.kind, b.slot) {
                let e = slot_size.entry(s).or_default();
                *e = (*e).max(b.ty.num_bytes().unwrap_or(0));
            }
        }
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(p.buffers.len() + self.scratch.len());
        let mut owned_args: Vec<Block> = Vec::new();
        // Results that are temporaries get their own storage, handed to the
        // result literals without a copy (dropping a slot's sharing never
        // changes values: each temporary has one writer).
        let mut direct: std::collections::HashMap<usize, ResultStorage> =
            std::collections::HashMap::new();
        let mut last = self
            .last_results
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default();
        for &r in &p.results {
            let b = p.buffer(r);
            if matches!(b.kind, BufferKind::Temp)
                && p.results.iter().filter(|&&x| x == r).count() == 1
            {
                let n = b.ty.num_bytes().unwrap_or(0);
                let reused = last.remove(&r.index()).and_then(|mut a| {
                    // Unique: the caller dropped every literal sharing it.
                    let ok = a.len() == n && std::sync::Arc::get_mut(&mut a).is_some();
                    ok.then_some(a)
                });
                let st = if let Some(mut a) = reused {
                    if !self.fully_written[r.index()] {
                        if let Some(m) = std::sync::Arc::get_mut(&mut a) {
                            m.fill(0);
                        }
                    }
                    ResultStorage::Init(a)
                } else if self.fully_written[r.index()] {
                    // Every byte is written before the literal is built:
                    // skip the zero fill (a whole extra pass over memory, or
                    // page faults on fresh pages, for large results).
                    ResultStorage::Uninit(std::sync::Arc::<[u8]>::new_uninit_slice(n))
                } else {
                    // SAFETY: zeroed bytes are initialized u8.
                    ResultStorage::Init(unsafe {
                        std::sync::Arc::<[u8]>::new_zeroed_slice(n).assume_init()
                    })
                };
                direct.insert(r.index(), st);
            }
        }
        for (i, b) in p.buffers.iter().enumerate() {
            if let Some(a) = direct.get_mut(&i) {
                ptrs.push(a.ptr());
                continue;
            }
            let ptr = match (&b.kind, b.slot) {
                (BufferKind::Param(k), _) => {
                    let a = &args[*k as usize];
                    if a.ty() != b.ty {
                        return Err(format!("argument {k} is {}, expected {}", a.ty(), b.ty));
                    }
                    let bytes = a.bytes();
                    if (bytes.as_ptr() as usize).is_multiple_of(16) {
                        // Parameters are never written (checked at compile time).
                        bytes.as_ptr() as *mut u8
                    } else {
                        let mut blk = Block::new(bytes.len());
                        // SAFETY: blk holds at least bytes.len() bytes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(bytes.as_ptr(), blk.ptr(), bytes.len())
                        };
                        let ptr = blk.ptr();
                        owned_args.push(blk);
                        ptr
                    }
                }
                (BufferKind::Const(l), _) => {
                    let bytes = l.bytes();
                    let mut blk = new_block(bytes.len());
                    // SAFETY: as above.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), blk.ptr(), bytes.len())
                    };
                    let ptr = blk.ptr();
                    blocks.push(blk);
                    ptr
                }
                (BufferKind::Temp, Some(s)) => {
                    let bi = match slot_block.get(&s) {
                        Some(&bi) => bi,
                        None => {
                            blocks.push(new_block(slot_size[&s]));
                            slot_block.insert(s, blocks.len() - 1);
                            blocks.len() - 1
                        }
                    };
                    blocks[bi].ptr()
                }
                (BufferKind::Temp, None) => {
                    blocks.push(new_block(b.ty.num_bytes().unwrap_or(0)));
                    blocks.last_mut().expect("just pushed").ptr()
                }
            };
            ptrs.push(ptr);
        }
        for &(_, d, n) in &self.scratch {
            blocks.push(new_block(d.size() * n));
            ptrs.push(blocks.last_mut().expect("just pushed").ptr());
        }
        // Gathers record an out-of-range index here (the entry after the
        // buffers and scratch: see `jit`).
        let fault = GatherFault::default();
        ptrs.push(&fault as *const GatherFault as *mut u8);
        let trace = std::env::var_os("PSIONIC_CPU_TRACE").is_some();
        let mut t0 = std::time::Instant::now();
        if trace {
            eprintln!(
                "[cpu] setup {:.3} ms",
                t_setup.elapsed().as_secs_f64() * 1e3
            );
        }
        for (it, c) in p.items.iter().zip(&self.items) {
            if trace {
                t0 = std::time::Instant::now();
            }
            match c {
                CItem::Kernel(k) => {
                    self.run_kernel(k, &ptrs);
                    if let (Item::Kernel(kern), Some(msg)) = (it, fault.message()) {
                        return Err(format!("kernel @{}: {msg}", kern.name));
                    }
                }
                CItem::Matmul {
                    call,
                    dst,
                    epilogue,
                } => {
                    self.run_matmul(call, *dst, &ptrs)?;
                    if let Some(e) = epilogue {
                        self.run_kernel(e, &ptrs);
                    }
                }
                CItem::Lib(l) => {
                    let ins: Vec<Literal> = l
                        .inputs
                        .iter()
                        .map(|&b| buffer_literal(p, b, ptrs[b.index()]))
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
                        let ty = &p.buffer(b).ty;
                        if lit.ty() != *ty {
                            return Err(format!(
                                "kernel.op {} gave {}, expected {ty}",
                                l.opcode,
                                lit.ty()
                            ));
                        }
                        let bytes = lit.bytes();
                        // SAFETY: the output buffer holds exactly ty's bytes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                bytes.as_ptr(),
                                ptrs[b.index()],
                                bytes.len(),
                            )
                        };
                    }
                }
            }
            if trace {
                let name = match it {
                    Item::Kernel(k) => k.name.clone(),
                    Item::Matmul(m) => m.name.clone(),
                    Item::LibOp(l) => l.opcode.to_string(),
                };
                eprintln!("[cpu] {name} {:.3} ms", t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        let t_out = std::time::Instant::now();
        let mut kept = Vec::new();
        let out = p
            .results
            .iter()
            .map(|&b| match direct.remove(&b.index()) {
                Some(a) => {
                    // SAFETY: the program has run to the end; an Uninit
                    // storage is fully written (see `fully_written`).
                    let a = unsafe { a.finish() };
                    if a.len() >= KEEP_RESULT_MIN_BYTES {
                        kept.push((b.index(), a.clone()));
                    }
                    let ty = &p.buffer(b).ty;
                    Literal::from_bytes(ty.dtype, ty.static_shape().unwrap_or_default(), a)
                        .map_err(|e| e.0)
                }
                None => buffer_literal(p, b, ptrs[b.index()]),
            })
            .collect();
        if trace {
            eprintln!(
                "[cpu] results {:.3} ms",
                t_out.elapsed().as_secs_f64() * 1e3
            );
        }
        drop(owned_args);
        if let Ok(mut m) = self.last_results.lock() {
            m.extend(kept);
        }
        if let Ok(mut pool) = self.blocks.lock() {
            if pool.len() < 2 {
                pool.push(blocks);
            }
        }
        out
    }
}

fn buffer_literal(p: &KProgram, b: BufId, ptr: *const u8) -> Result<Literal, String> {
    let ty = &p.buffer(b).ty;
    let n = ty.num_bytes().unwrap_or(0);
    // SAFETY: the buffer holds n bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, n) };
    Literal::from_bytes(ty.dtype, ty.static_shape().unwrap_or_default(), bytes).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::injective;
    use psionic_ir::kernel::IndexMap;

    /// Brute force: every point of the domain gets its own element.
    fn distinct(map: &IndexMap, domain: &[usize]) -> bool {
        let n: usize = domain.iter().product();
        let mut seen = std::collections::HashSet::new();
        for flat in 0..n {
            let mut rem = flat;
            let mut idx = vec![0usize; domain.len()];
            for a in (0..domain.len()).rev() {
                idx[a] = rem % domain[a];
                rem /= domain[a];
            }
            if !seen.insert(map.at(&idx)) {
                return false;
            }
        }
        true
    }

    #[test]
    fn injectivity_agrees_with_brute_force_and_never_claims_overlap() {
        // A small deterministic generator over strides in -7..=7 and extents 1..=4.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let mut claimed = 0;
        for _ in 0..4000 {
            let rank = 1 + next(3) as usize;
            let domain: Vec<usize> = (0..rank).map(|_| 1 + next(4) as usize).collect();
            let strides: Vec<i64> = (0..rank).map(|_| next(15) as i64 - 7).collect();
            let map = IndexMap {
                offset: 100,
                strides,
            };
            let axes: Vec<usize> = (0..rank).collect();
            if injective(&map, &domain, &axes) {
                claimed += 1;
                assert!(distinct(&map, &domain), "{map:?} over {domain:?}");
            }
        }
        assert!(claimed > 100, "the test exercised too few injective maps");
        // Row-major, transposed and flipped maps are injective.
        for (strides, dom) in [
            (vec![3i64, 1], vec![2usize, 3]),
            (vec![1, 2], vec![2, 3]),
            (vec![-3, -1], vec![2, 3]),
        ] {
            let map = IndexMap { offset: 5, strides };
            assert!(injective(&map, &dom, &[0, 1]));
        }
        // A broadcast store is not.
        let map = IndexMap {
            offset: 0,
            strides: vec![0, 1],
        };
        assert!(!injective(&map, &[2, 3], &[0, 1]));
    }
}
