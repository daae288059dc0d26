//! Compiled execution on NVIDIA GPUs (feature `cuda`): the driver side of
//! the CUDA backend.
//!
//! [`CudaExecutable`] is keyed like [`crate::exec::Executable`]: a tensor-level
//! function specialized to its argument types, optimized, fused, buffer
//! planned, turned into PTX and launch steps by
//! `psionic_codegen::cuda::plan_program`, loaded with the driver API
//! (`cuModuleLoadData`, which JIT-compiles the PTX for the card) and run on
//! one stream: kernel launches, cuBLAS gemms (strided batched, f32 / TF32 /
//! f16 / bf16 with f32 accumulation / f64) and host round-trips for library
//! ops through the reference interpreter's [`crate::interp::eval_op`].
//!
//! Device memory: one allocation per buffer-planning slot (temporaries of a
//! slot share it), per parameter, per constant (uploaded once) and per
//! scratch buffer, made when the program is loaded and reused by every run.
//!
//! Fusion keeps 64-bit integers in kernels (`%rd` registers hold them;
//! [`Backend::compile_options`]). What CUDA has no code for (complex
//! values, [`unsupported`]) runs on the reference interpreter in a
//! [`CudaExecutable`], which says why ([`Prepared::fallback`]).
//!
//! Everything goes through `cudarc` with dynamic loading: nothing is linked,
//! and [`device`] first checks that `libcuda` and `libcublas` can be opened
//! (calling into `cudarc::driver::sys` without them panics), so a machine
//! without a driver gets the error "CUDA backend unavailable: <why>".

use crate::exec::{prepare_with, unsupported, Backend, NativeCode, Prepared};
use crate::interp::RuntimeError;
use crate::pairs::{eval_lib_op, Boundary};
use crate::spec_cache::SpecCache;
use cudarc::cublas::sys as cb;
use cudarc::driver::result as dr;
use cudarc::driver::sys;
use psionic_codegen::cuda::ptx::Shape;
use psionic_codegen::cuda::{plan_program, CudaOptions, CudaPlan, GemmSpec, Step};
use psionic_ir::kernel::BufferKind;
use psionic_ir::{DType, Func, Literal, TensorType};
use psionic_passes::fusion::compile::{compile, CompileReport};
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

fn err(message: String) -> RuntimeError {
    RuntimeError {
        op_index: None,
        op_name: None,
        loc: Default::default(),
        message,
    }
}

/// The one CUDA device this process uses (ordinal 0), its primary context,
/// a stream and a cuBLAS handle.
pub struct CudaDevice {
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    cublas: cb::cublasHandle_t,
    /// Streaming multiprocessors.
    pub sm_count: u32,
    /// The card's name as the driver reports it.
    pub name: String,
    /// Compute capability.
    pub capability: (i32, i32),
}

// SAFETY: the context is made current on every thread before use; the
// stream and handle are only used under the program's run lock.
unsafe impl Send for CudaDevice {}
unsafe impl Sync for CudaDevice {}

impl CudaDevice {
    fn bind(&self) -> Result<(), String> {
        // SAFETY: ctx is a retained primary context.
        unsafe { dr::ctx::set_current(self.ctx) }.map_err(|e| format!("cuCtxSetCurrent: {e:?}"))
    }
    /// Waits for all work queued on the device's stream.
    pub fn synchronize(&self) -> Result<(), String> {
        self.bind()?;
        // SAFETY: the stream is alive.
        unsafe { dr::stream::synchronize(self.stream) }.map_err(|e| format!("{e:?}"))
    }
}

fn open_device() -> Result<CudaDevice, String> {
    // SAFETY: only opens the shared libraries to see whether they exist.
    if !unsafe { sys::is_culib_present() } {
        return Err("libcuda (the NVIDIA driver) was not found".into());
    }
    // SAFETY: as above.
    if !unsafe { cb::is_culib_present() } {
        return Err("libcublas was not found".into());
    }
    dr::init().map_err(|e| format!("cuInit failed: {e:?}"))?;
    let n = dr::device::get_count().map_err(|e| format!("{e:?}"))?;
    if n < 1 {
        return Err("no CUDA device is visible".into());
    }
    let dev = dr::device::get(0).map_err(|e| format!("{e:?}"))?;
    // SAFETY: dev is a valid device handle; the primary context stays
    // retained for the process's lifetime.
    unsafe {
        let ctx = dr::primary_ctx::retain(dev).map_err(|e| format!("{e:?}"))?;
        dr::ctx::set_current(ctx).map_err(|e| format!("{e:?}"))?;
        let sm = dr::device::get_attribute(
            dev,
            sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
        )
        .map_err(|e| format!("{e:?}"))?;
        let major = dr::device::get_attribute(
            dev,
            sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
        )
        .map_err(|e| format!("{e:?}"))?;
        let minor = dr::device::get_attribute(
            dev,
            sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
        )
        .map_err(|e| format!("{e:?}"))?;
        let name = dr::device::get_name(dev).unwrap_or_else(|_| "unknown".into());
        let stream = dr::stream::create(dr::stream::StreamKind::NonBlocking)
            .map_err(|e| format!("{e:?}"))?;
        let cublas =
            cudarc::cublas::result::create_handle().map_err(|e| format!("cublasCreate: {e:?}"))?;
        cudarc::cublas::result::set_stream(cublas, stream as _)
            .map_err(|e| format!("cublasSetStream: {e:?}"))?;
        Ok(CudaDevice {
            ctx,
            stream,
            cublas,
            sm_count: sm.max(1) as u32,
            name,
            capability: (major, minor),
        })
    }
}

/// The process's CUDA device, opened on first use; an error (never a
/// panic) says why the backend is unavailable.
pub fn device() -> Result<Arc<CudaDevice>, RuntimeError> {
    static DEV: OnceLock<Result<Arc<CudaDevice>, String>> = OnceLock::new();
    DEV.get_or_init(|| open_device().map(Arc::new))
        .clone()
        .map_err(|why| err(format!("CUDA backend unavailable: {why}")))
}

/// Whether a CUDA device can be used here (the reason when not).
pub fn availability() -> Result<String, String> {
    match device() {
        Ok(d) => Ok(format!(
            "{} (sm_{}{}, {} SMs)",
            d.name, d.capability.0, d.capability.1, d.sm_count
        )),
        Err(e) => Err(e.message),
    }
}

/// Device memory of one allocation.
struct DevMem {
    ptr: sys::CUdeviceptr,
    bytes: usize,
}

impl Drop for DevMem {
    fn drop(&mut self) {
        if self.ptr != 0 {
            // SAFETY: allocated by malloc_sync and not freed elsewhere.
            unsafe {
                let _ = dr::free_sync(self.ptr);
            }
        }
    }
}

fn alloc(bytes: usize) -> Result<DevMem, String> {
    // SAFETY: plain device allocation (at least 1 byte, 256-byte aligned).
    // Whole 32-bit words: a scatter into 8- or 16-bit elements updates
    // the word holding its element with `atom.cas.b32`.
    let ptr = unsafe { dr::malloc_sync(bytes.max(16).next_multiple_of(4)) }
        .map_err(|e| format!("cuMemAlloc of {bytes} bytes: {e:?}"))?;
    Ok(DevMem { ptr, bytes })
}

struct LoadedKernel {
    func: sys::CUfunction,
}

/// A planned program loaded on the device, with its memory.
pub struct CudaProgram {
    pub plan: CudaPlan,
    dev: Arc<CudaDevice>,
    module: sys::CUmodule,
    /// Per step: the loaded function of launch steps.
    kernels: Vec<Option<LoadedKernel>>,
    /// Device address of every buffer (program buffers, then scratch).
    ptrs: Vec<sys::CUdeviceptr>,
    _mem: Vec<DevMem>,
    run_lock: Mutex<()>,
    /// Wall time of `cuModuleLoadData` (PTX JIT by the driver).
    pub load_ms: f64,
}

// SAFETY: device handles are used under `run_lock` with the context bound.
unsafe impl Send for CudaProgram {}
unsafe impl Sync for CudaProgram {}

impl Drop for CudaProgram {
    fn drop(&mut self) {
        let _ = self.dev.bind();
        // SAFETY: loaded by load_data and unloaded once.
        unsafe {
            let _ = dr::stream::synchronize(self.dev.stream);
            let _ = dr::module::unload(self.module);
        }
    }
}

fn buffer_bytes(plan: &CudaPlan, i: usize) -> usize {
    let (d, n) = plan.buffer_info(i);
    d.size() * n
}

impl CudaProgram {
    /// Loads `plan` on `dev`: JIT of the PTX, device memory, constants.
    pub fn load(plan: CudaPlan, dev: Arc<CudaDevice>) -> Result<CudaProgram, String> {
        dev.bind()?;
        let t0 = Instant::now();
        let src = CString::new(plan.ptx.clone()).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated PTX image.
        let module = unsafe { dr::module::load_data(src.as_ptr() as *const c_void) }
            .map_err(|e| format!("loading the PTX module (cuModuleLoadData): {e:?}"))?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        let mut kernels = Vec::new();
        for s in &plan.steps {
            kernels.push(match s {
                Step::Launch(l) => {
                    let name = CString::new(l.entry.clone()).map_err(|e| e.to_string())?;
                    // SAFETY: module is loaded.
                    let func = unsafe { dr::module::get_function(module, name) }
                        .map_err(|e| format!("kernel {}: {e:?}", l.entry))?;
                    Some(LoadedKernel { func })
                }
                _ => None,
            });
        }
        // Memory: slots shared, everything else its own.
        let p = &plan.program;
        let total = p.buffers.len() + plan.scratch.len();
        let mut ptrs = vec![0; total];
        let mut mem = Vec::new();
        let mut slot_size: HashMap<u32, usize> = HashMap::new();
        for b in &p.buffers {
            if let (BufferKind::Temp, Some(s)) = (&b.kind, b.slot) {
                let e = slot_size.entry(s).or_default();
                *e = (*e).max(b.ty.num_bytes().unwrap_or(0));
            }
        }
        // Results get their own memory (a result must survive later
        // writers of its slot: each temporary has one writer, so this only
        // drops sharing).
        let mut slot_ptr: HashMap<u32, sys::CUdeviceptr> = HashMap::new();
        for i in 0..total {
            let bytes = buffer_bytes(&plan, i);
            let own = |mem: &mut Vec<DevMem>| -> Result<sys::CUdeviceptr, String> {
                let m = alloc(bytes)?;
                let p = m.ptr;
                mem.push(m);
                Ok(p)
            };
            ptrs[i] = if i < p.buffers.len() {
                let b = &p.buffers[i];
                let is_result = p.results.iter().any(|r| r.index() == i);
                match (&b.kind, b.slot) {
                    (BufferKind::Temp, Some(s)) if !is_result => match slot_ptr.get(&s) {
                        Some(&ptr) => ptr,
                        None => {
                            let m = alloc(slot_size[&s])?;
                            let ptr = m.ptr;
                            mem.push(m);
                            slot_ptr.insert(s, ptr);
                            ptr
                        }
                    },
                    (BufferKind::Const(l), _) => {
                        let ptr = own(&mut mem)?;
                        // SAFETY: ptr holds the literal's bytes.
                        unsafe { dr::memcpy_htod_sync(ptr, l.bytes()) }
                            .map_err(|e| format!("{e:?}"))?;
                        ptr
                    }
                    _ => own(&mut mem)?,
                }
            } else {
                own(&mut mem)?
            };
        }
        let _ = mem.iter().map(|m| m.bytes).sum::<usize>();
        Ok(CudaProgram {
            plan,
            dev,
            module,
            kernels,
            ptrs,
            _mem: mem,
            run_lock: Mutex::new(()),
            load_ms,
        })
    }

    /// Copies `args` into the parameter buffers (queued on the stream).
    pub fn upload(&self, args: &[Literal]) -> Result<(), String> {
        let p = &self.plan.program;
        if args.len() != p.params.len() {
            return Err(format!(
                "`{}` takes {} arguments, got {}",
                p.name,
                p.params.len(),
                args.len()
            ));
        }
        self.dev.bind()?;
        for (k, &b) in p.params.iter().enumerate() {
            let ty = &p.buffer(b).ty;
            if args[k].ty() != *ty {
                return Err(format!("argument {k} is {}, expected {ty}", args[k].ty()));
            }
            let bytes = args[k].bytes();
            if bytes.is_empty() {
                continue;
            }
            // SAFETY: the parameter buffer holds exactly these bytes; the copy
            // completes before this returns.
            unsafe { dr::memcpy_htod_sync(self.ptrs[b.index()], bytes) }
                .map_err(|e| format!("host-to-device copy: {e:?}"))?;
        }
        Ok(())
    }

    fn download(&self, i: usize) -> Result<Literal, String> {
        let ty = &self.plan.program.buffers[i].ty;
        let mut host = vec![0u8; ty.num_bytes().unwrap_or(0)];
        if !host.is_empty() {
            // SAFETY: the device buffer holds host.len() bytes; sync copy.
            unsafe { dr::memcpy_dtoh_sync(&mut host, self.ptrs[i]) }
                .map_err(|e| format!("device-to-host copy: {e:?}"))?;
        }
        Literal::from_bytes(ty.dtype, ty.static_shape().unwrap_or_default(), host).map_err(|e| e.0)
    }

    /// Zeroes the gather fault record (see `psionic_codegen::fault`).
    fn clear_faults(&self) -> Result<(), String> {
        if let Some(f) = &self.plan.faults {
            let zero = [0u8; psionic_codegen::fault::FAULT_WORDS * 4];
            // SAFETY: the record is a scratch buffer of exactly these bytes.
            unsafe { dr::memcpy_htod_sync(self.ptrs[f.buf], &zero[..]) }
                .map_err(|e| format!("clearing the gather fault record: {e:?}"))?;
        }
        Ok(())
    }

    /// The error the gathers recorded so far, if any (the stream must be
    /// synchronized).
    fn check_faults(&self) -> Result<(), String> {
        let Some(f) = &self.plan.faults else {
            return Ok(());
        };
        let mut host = [0u8; psionic_codegen::fault::FAULT_WORDS * 4];
        // SAFETY: the record holds these bytes; synchronous copy.
        unsafe { dr::memcpy_dtoh_sync(&mut host[..], self.ptrs[f.buf]) }
            .map_err(|e| format!("reading the gather fault record: {e:?}"))?;
        let words: Vec<u32> = host
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        match f.error(&words) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Queues every step on the stream (library ops synchronize and run on
    /// the host).
    pub fn launch_all(&self) -> Result<(), String> {
        self.dev.bind()?;
        let sm = self.dev.sm_count as u64;
        for (s, k) in self.plan.steps.iter().zip(&self.kernels) {
            match s {
                Step::Launch(l) => {
                    let (grid, block) = match l.shape {
                        Shape::Elementwise { units, .. } => {
                            let b = psionic_codegen::cuda::ptx::ELEMENTWISE_BLOCK as u64;
                            let per_sm = self.plan.elementwise_blocks_per_sm as u64;
                            (units.div_ceil(b).min(sm * per_sm), b as u32)
                        }
                        Shape::Rows { rows, block, .. } => (rows.min(sm * 64), block),
                    };
                    if grid == 0 {
                        continue;
                    }
                    let mut vals: Vec<u64> = l.params.iter().map(|&i| self.ptrs[i]).collect();
                    let mut argp: Vec<*mut c_void> = vals
                        .iter_mut()
                        .map(|v| v as *mut u64 as *mut c_void)
                        .collect();
                    let f = k.as_ref().ok_or("launch step without a kernel")?.func;
                    // SAFETY: every parameter is a live device buffer of the
                    // size the kernel was generated for.
                    unsafe {
                        dr::launch_kernel(
                            f,
                            (grid as u32, 1, 1),
                            (block, 1, 1),
                            0,
                            self.dev.stream,
                            &mut argp,
                        )
                    }
                    .map_err(|e| format!("launching {}: {e:?}", l.entry))?;
                }
                Step::Gemm(g) => self.gemm(g)?,
                Step::Lib(l) => {
                    self.dev.synchronize()?;
                    // A kernel before this call may have gathered out of range.
                    self.check_faults()?;
                    let ins: Vec<Literal> = l
                        .inputs
                        .iter()
                        .map(|b| self.download(b.index()))
                        .collect::<Result<_, _>>()?;
                    let refs: Vec<&Literal> = ins.iter().collect();
                    let outs = eval_lib_op(l.opcode, &l.attrs, &refs)
                        .map_err(|e| format!("kernel.op {}: {e}", l.opcode))?;
                    if outs.len() != l.outputs.len() {
                        return Err(format!("kernel.op {}: wrong result count", l.opcode));
                    }
                    for (b, lit) in l.outputs.iter().zip(outs) {
                        let ty = &self.plan.program.buffer(*b).ty;
                        if lit.ty() != *ty {
                            return Err(format!(
                                "kernel.op {} gave {}, expected {ty}",
                                l.opcode,
                                lit.ty()
                            ));
                        }
                        if !lit.bytes().is_empty() {
                            // SAFETY: the output buffer holds these bytes.
                            unsafe { dr::memcpy_htod_sync(self.ptrs[b.index()], lit.bytes()) }
                                .map_err(|e| format!("{e:?}"))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn gemm(&self, g: &GemmSpec) -> Result<(), String> {
        use cb::cublasOperation_t::{CUBLAS_OP_N, CUBLAS_OP_T};
        let es = g.dtype.size() as u64;
        let (ty, compute) = match g.dtype {
            DType::F32 if g.tf32 => (
                cb::cudaDataType::CUDA_R_32F,
                cb::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
            ),
            DType::F32 => (
                cb::cudaDataType::CUDA_R_32F,
                cb::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            DType::F64 => (
                cb::cudaDataType::CUDA_R_64F,
                cb::cublasComputeType_t::CUBLAS_COMPUTE_64F,
            ),
            DType::F16 => (
                cb::cudaDataType::CUDA_R_16F,
                cb::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            DType::BF16 => (
                cb::cudaDataType::CUDA_R_16BF,
                cb::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            d => return Err(format!("no cuBLAS gemm for {d}")),
        };
        let (one32, zero32) = (1.0f32, 0.0f32);
        let (one64, zero64) = (1.0f64, 0.0f64);
        let (alpha, beta): (*const c_void, *const c_void) = if g.dtype == DType::F64 {
            (
                &one64 as *const f64 as *const c_void,
                &zero64 as *const f64 as *const c_void,
            )
        } else {
            (
                &one32 as *const f32 as *const c_void,
                &zero32 as *const f32 as *const c_void,
            )
        };
        // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS's first
        // operand is our B, its second our A.
        let op = |t: bool| if t { CUBLAS_OP_T } else { CUBLAS_OP_N };
        let bptr = self.ptrs[g.b.buf] + g.b.offset as u64 * es;
        let aptr = self.ptrs[g.a.buf] + g.a.offset as u64 * es;
        let cptr = self.ptrs[g.c];
        let int = |v: i64| -> Result<i32, String> {
            i32::try_from(v).map_err(|_| format!("gemm dimension {v} exceeds cuBLAS's int"))
        };
        // SAFETY: operand maps were verified to stay inside their buffers;
        // c holds batch*m*n elements.
        unsafe {
            cudarc::cublas::result::gemm_strided_batched_ex(
                self.dev.cublas,
                op(g.b.transposed),
                op(g.a.transposed),
                int(g.n as i64)?,
                int(g.m as i64)?,
                int(g.k as i64)?,
                alpha,
                bptr as *const c_void,
                ty,
                int(g.b.ld)?,
                g.b.batch_stride,
                aptr as *const c_void,
                ty,
                int(g.a.ld)?,
                g.a.batch_stride,
                beta,
                cptr as *mut c_void,
                ty,
                int(g.n as i64)?,
                (g.m * g.n) as i64,
                int(g.batch as i64)?,
                compute,
                cb::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| format!("cuBLAS gemm {}: {e:?}", g.name))
    }

    /// The results, copied to the host after the stream drains.
    /// An out-of-range gather index is an error naming it and its axis
    /// size (the reference interpreter's words).
    pub fn results(&self) -> Result<Vec<Literal>, String> {
        self.dev.synchronize()?;
        self.check_faults()?;
        self.plan
            .program
            .results
            .iter()
            .map(|b| self.download(b.index()))
            .collect()
    }

    /// Runs on `args`: upload, every step, download.
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, String> {
        let _g = self.run_lock.lock().map_err(|_| "run lock poisoned")?;
        self.upload(args)?;
        self.clear_faults()?;
        self.launch_all()?;
        self.results()
    }

    /// Device time of `iters` runs of the steps on resident inputs (after
    /// one warm-up), in milliseconds, each measured with CUDA events; with
    /// `graph`, the steps are captured once into a CUDA graph and replayed
    /// (programs without library ops only).
    pub fn time_runs(
        &self,
        args: &[Literal],
        iters: usize,
        graph: bool,
    ) -> Result<Vec<f64>, String> {
        let _g = self.run_lock.lock().map_err(|_| "run lock poisoned")?;
        self.upload(args)?;
        self.launch_all()?;
        self.dev.synchronize()?;
        let has_lib = self.plan.steps.iter().any(|s| matches!(s, Step::Lib(_)));
        let mut exec: Option<sys::CUgraphExec> = None;
        if graph && !has_lib {
            // SAFETY: capture of this stream's launches; the graph is
            // instantiated and destroyed here.
            unsafe {
                dr::stream::begin_capture(
                    self.dev.stream,
                    sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
                )
                .map_err(|e| format!("{e:?}"))?;
                let r = self.launch_all();
                let gr = dr::stream::end_capture(self.dev.stream).map_err(|e| format!("{e:?}"))?;
                r?;
                let ge = dr::graph::instantiate(gr, sys::CUgraphInstantiate_flags(0))
                    .map_err(|e| format!("{e:?}"))?;
                let _ = dr::graph::destroy(gr);
                exec = Some(ge);
            }
        }
        let e0 = dr::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| format!("{e:?}"))?;
        let e1 = dr::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| format!("{e:?}"))?;
        let mut out = Vec::with_capacity(iters);
        for _ in 0..iters {
            // SAFETY: events and stream are alive.
            unsafe {
                dr::event::record(e0, self.dev.stream).map_err(|e| format!("{e:?}"))?;
                match exec {
                    Some(ge) => {
                        dr::graph::launch(ge, self.dev.stream).map_err(|e| format!("{e:?}"))?
                    }
                    None => self.launch_all()?,
                }
                dr::event::record(e1, self.dev.stream).map_err(|e| format!("{e:?}"))?;
                dr::event::synchronize(e1).map_err(|e| format!("{e:?}"))?;
                out.push(dr::event::elapsed(e0, e1).map_err(|e| format!("{e:?}"))? as f64);
            }
        }
        // SAFETY: created above.
        unsafe {
            let _ = dr::event::destroy(e0);
            let _ = dr::event::destroy(e1);
            if let Some(ge) = exec {
                let _ = dr::graph::exec_destroy(ge);
            }
        }
        Ok(out)
    }
}

/// Measured device-to-device copy bandwidth (GB/s, bytes read plus bytes
/// written) over `bytes`-sized buffers: the bandwidth floor benchmarks
/// compare against.
pub fn copy_bandwidth(bytes: usize, iters: usize) -> Result<f64, RuntimeError> {
    let dev = device()?;
    let f = || -> Result<f64, String> {
        dev.bind()?;
        let a = alloc(bytes)?;
        let b = alloc(bytes)?;
        let e0 = dr::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| format!("{e:?}"))?;
        let e1 = dr::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| format!("{e:?}"))?;
        let mut best = f64::MAX;
        for _ in 0..iters.max(1) + 1 {
            // SAFETY: both buffers hold `bytes`.
            unsafe {
                dr::event::record(e0, dev.stream).map_err(|e| format!("{e:?}"))?;
                dr::memcpy_dtod_async(b.ptr, a.ptr, bytes, dev.stream)
                    .map_err(|e| format!("{e:?}"))?;
                dr::event::record(e1, dev.stream).map_err(|e| format!("{e:?}"))?;
                dr::event::synchronize(e1).map_err(|e| format!("{e:?}"))?;
                best = best.min(dr::event::elapsed(e0, e1).map_err(|e| format!("{e:?}"))? as f64);
            }
        }
        Ok(2.0 * bytes as f64 / (best * 1e-3) / 1e9)
    };
    f().map_err(err)
}

/// One compiled specialization of a function for CUDA.
pub struct CudaCompiled {
    pub report: CompileReport,
    pub program: CudaProgram,
    /// Specialization, optimization, PTX emission and driver JIT (ms).
    pub compile_ms: f64,
    /// Of which: PTX emission (ms).
    pub emit_ms: f64,
    /// Which results the program returns as `c64` pairs.
    pub boundary: Boundary,
}

impl CudaCompiled {
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let args = self.boundary.args(args)?;
        let outs = self.program.run(&args).map_err(err)?;
        self.boundary.results(outs)
    }
}

impl NativeCode for CudaCompiled {
    fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        CudaCompiled::run(self, args)
    }
}

/// The PTX module and launch plan of `f` for `types` (no device needed:
/// `psionic compile --emit ptx`).
pub fn plan_for(
    f: &Func,
    types: &[TensorType],
    opts: &CudaOptions,
) -> Result<(CudaPlan, CompileReport), RuntimeError> {
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    plan_specialized(&g, opts)
}

/// [`plan_for`] of `g`, already specialized. Values CUDA has no code for
/// ([`unsupported`]) are an error naming them.
pub fn plan_specialized(
    g: &Func,
    opts: &CudaOptions,
) -> Result<(CudaPlan, CompileReport), RuntimeError> {
    if let Some(why) = unsupported(Backend::Cuda, g) {
        return Err(err(why));
    }
    let (kernels, report) =
        compile(g, &Backend::Cuda.compile_options()).map_err(|e| err(e.to_string()))?;
    let plan = plan_program(&kernels, opts).map_err(err)?;
    Ok((plan, report))
}

/// Compiles `f` for arguments of `types` on the CUDA device.
pub fn compile_for(
    f: &Func,
    types: &[TensorType],
    opts: &CudaOptions,
) -> Result<CudaCompiled, RuntimeError> {
    let t0 = Instant::now();
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    let mut c = compile_specialized(&g, opts)?;
    c.compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(c)
}

/// Compiles `g`, already specialized, on the CUDA device.
pub fn compile_specialized(g: &Func, opts: &CudaOptions) -> Result<CudaCompiled, RuntimeError> {
    let dev = device()?;
    let t0 = Instant::now();
    let (plan, report) = plan_specialized(g, opts)?;
    let emit_ms = t0.elapsed().as_secs_f64() * 1e3;
    let program = CudaProgram::load(plan, dev).map_err(err)?;
    Ok(CudaCompiled {
        report,
        program,
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
        emit_ms,
        boundary: Boundary::of(g),
    })
}

/// Prepares `f` for `types`: CUDA code, or (when `fallback` is set and
/// [`unsupported`] names a reason: complex values) the reference
/// interpreter, with the reason.
pub fn prepare_for(
    f: &Func,
    types: &[TensorType],
    opts: &CudaOptions,
    fallback: bool,
) -> Result<Prepared<CudaCompiled>, RuntimeError> {
    prepare_with(Backend::Cuda, f, types, fallback, |g| {
        compile_specialized(g, opts)
    })
}

/// A function compiled for CUDA, specialized and cached per argument
/// types. A specialization CUDA has no code for runs on the reference
/// interpreter ([`Prepared::fallback`] says why) unless [`Self::strict`].
pub struct CudaExecutable {
    func: Func,
    opts: CudaOptions,
    fallback: bool,
    cache: SpecCache<Prepared<CudaCompiled>>,
}

impl CudaExecutable {
    pub fn new(func: Func) -> CudaExecutable {
        CudaExecutable::with_options(func, CudaOptions::default())
    }
    pub fn with_options(func: Func, opts: CudaOptions) -> CudaExecutable {
        CudaExecutable {
            func,
            opts,
            fallback: true,
            cache: SpecCache::default(),
        }
    }
    /// Never fall back to the interpreter: what [`unsupported`] names
    /// becomes an error with that reason.
    pub fn strict(mut self) -> CudaExecutable {
        self.fallback = false;
        self
    }
    /// The function this executable runs.
    pub fn func(&self) -> &Func {
        &self.func
    }
    /// The prepared specialization for arguments of `types` (compiling on
    /// first use).
    pub fn prepared(
        &self,
        types: &[TensorType],
    ) -> Result<Arc<Prepared<CudaCompiled>>, RuntimeError> {
        self.cache.get_or_compile(types, || {
            prepare_for(&self.func, types, &self.opts, self.fallback)
        })
    }
    /// Number of specializations prepared so far.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
        self.prepared(&types)?.run(args)
    }
}

/// Runs `f` once on the CUDA device (no cache, no fallback: what CUDA has
/// no code for is an error).
pub fn run_func_cuda(f: &Func, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    compile_for(f, &types, &CudaOptions::default())?.run(args)
}

/// The PTX module of `f` compiled for `types` (`psionic compile --emit ptx`).
pub fn emit_ptx(f: &Func, types: &[TensorType]) -> Result<String, RuntimeError> {
    Ok(plan_for(f, types, &CudaOptions::default())?.0.ptx)
}
