//! Running kernel programs on a GPU through `wgpu` (feature `wgpu`): the
//! shaders of `psionic_codegen::wgpu` on Vulkan (Mesa's lavapipe CPU driver
//! in CI, an NVIDIA driver on the lent GPU machine).
//!
//! - [`gpu`]: the process-wide device and queue (`WGPU_BACKEND` picks the
//!   backends, Vulkan by default); no adapter is the error
//!   `wgpu backend unavailable: ...`, never a panic.
//! - [`compile_for_wgpu`] specializes, optimizes and fuses a function like
//!   the CPU backend, generates and validates the shaders, creates their
//!   pipelines (cached per device by WGSL text) and the device storage.
//! - [`WgpuCompiled::run`] uploads the arguments, records every dispatch
//!   into one command buffer and reads the results back. `kernel.op`
//!   library calls run on the host through the interpreter's `eval_op`
//!   (their inputs are read back, their outputs written to the device).
//!
//! Values travel as 32-bit words: f16/bf16 are widened to f32 and narrow
//! integers to i32/u32 at the boundary, bool to 0/1 words (see
//! `psionic_codegen::wgpu::scalar`). f64, i64, u64 and complex values have
//! no WGSL type ([`unsupported`]): a [`WgpuExecutable`] runs such a
//! specialization on the reference interpreter and says why
//! ([`Prepared::fallback`]); compiling one directly
//! ([`compile_for_wgpu`], [`emit_shaders`]) is an error naming the dtype.

use crate::exec::{prepare_with, unsupported, Backend, NativeCode, Prepared};
use crate::interp::RuntimeError;
use crate::pairs::{eval_lib_op, Boundary};
use crate::spec_cache::SpecCache;
use psionic_codegen::wgpu::{self as cg, GpuItem, GpuProgram, ShaderKernel, Target};
use psionic_ir::kernel::{BufferKind, KProgram};
use psionic_ir::{DType, Func, Literal, TensorType};
use psionic_passes::fusion::compile::{compile, CompileReport};
use std::collections::HashMap;
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

/// The device, its queue and the pipeline cache.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Adapter name, driver and backend, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, llvmpipe)`.
    pub adapter: String,
    pipelines: Mutex<HashMap<(String, String), wgpu::ComputePipeline>>,
    /// Device errors raised since the last check (validation, out of memory).
    errors: Arc<Mutex<Vec<String>>>,
    /// One submission sequence at a time (errors are attributed to it).
    run_lock: Mutex<()>,
}

static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();

fn init() -> Result<Gpu, String> {
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::VULKAN);
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: None,
        ..Default::default()
    }))
    .map_err(|e| {
        format!(
            "wgpu backend unavailable: no adapter for backends {backends:?} ({e}); \
             on Linux install a Vulkan driver (CI uses Mesa's lavapipe: \
             apt-get install mesa-vulkan-drivers libvulkan1)"
        )
    })?;
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("psionic"),
        required_features: wgpu::Features::empty(),
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|e| {
        format!(
            "wgpu backend unavailable: requesting a device of {}: {e}",
            info.name
        )
    })?;
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        if let Ok(mut v) = sink.lock() {
            v.push(e.to_string());
        }
    }));
    Ok(Gpu {
        device,
        queue,
        adapter: format!("{} ({:?}, {})", info.name, info.backend, info.driver),
        pipelines: Mutex::new(HashMap::new()),
        errors,
        run_lock: Mutex::new(()),
    })
}

/// The process-wide GPU (initialized on first use).
pub fn gpu() -> Result<&'static Gpu, RuntimeError> {
    GPU.get_or_init(init).as_ref().map_err(|e| err(e.clone()))
}

/// Why the wgpu backend cannot run here, or None when it can (tests skip
/// with this note).
pub fn unavailable() -> Option<String> {
    gpu().err().map(|e| e.message)
}

impl Gpu {
    fn take_errors(&self) -> Result<(), RuntimeError> {
        let mut v = self
            .errors
            .lock()
            .map_err(|_| err("wgpu error log poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let msg = v.join("\n");
        v.clear();
        Err(err(format!("wgpu device error: {msg}")))
    }

    fn pipeline(&self, sk: &ShaderKernel) -> Result<wgpu::ComputePipeline, RuntimeError> {
        let key = (sk.wgsl.clone(), sk.entry.clone());
        if let Some(p) = self
            .pipelines
            .lock()
            .map_err(|_| err("pipeline cache poisoned".into()))?
            .get(&key)
        {
            return Ok(p.clone());
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&sk.name),
                source: wgpu::ShaderSource::Wgsl(sk.wgsl.as_str().into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&sk.name),
                layout: None,
                module: &module,
                entry_point: Some(&sk.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        self.pipelines
            .lock()
            .map_err(|_| err("pipeline cache poisoned".into()))?
            .insert(key, p.clone());
        Ok(p)
    }

    /// Number of distinct pipelines created so far.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }

    fn read_words(&self, buf: &wgpu::Buffer, words: u64) -> Result<Vec<u32>, RuntimeError> {
        if words == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: words * 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        enc.copy_buffer_to_buffer(buf, 0, &staging, 0, words * 4);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| err(format!("wgpu poll: {e}")))?;
        rx.recv()
            .map_err(|_| err("wgpu readback was dropped".into()))?
            .map_err(|e| err(format!("wgpu readback: {e}")))?;
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| err(format!("wgpu readback: {e}")))?;
            view.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        staging.unmap();
        Ok(out)
    }
}

/// A literal as device words (f16/bf16 widened to f32, narrow integers
/// extended, bool as 0/1).
pub fn to_words(l: &Literal) -> Result<Vec<u32>, RuntimeError> {
    let d = l.dtype();
    cg::scalar::dev_type(d).map_err(err)?;
    Ok(match d {
        DType::F32 | DType::I32 | DType::U32 => l
            .bytes()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 | DType::BF16 => l
            .to_f64_vec()
            .iter()
            .map(|&v| (v as f32).to_bits())
            .collect(),
        DType::I8 | DType::I16 => l.to_f64_vec().iter().map(|&v| v as i32 as u32).collect(),
        DType::Bool => l.to_f64_vec().iter().map(|&v| (v != 0.0) as u32).collect(),
        _ => l.to_f64_vec().iter().map(|&v| v as u32).collect(),
    })
}

/// Device words back as a literal of `ty`.
pub fn from_words(ty: &TensorType, w: &[u32]) -> Result<Literal, RuntimeError> {
    let d = ty.dtype;
    let shape = ty.static_shape().unwrap_or_default();
    let n = ty.num_elements().unwrap_or(0);
    let w = &w[..n.min(w.len())];
    let r = match d {
        DType::F32 | DType::I32 | DType::U32 => {
            let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
            Literal::from_bytes(d, shape, bytes)
        }
        DType::F16 | DType::BF16 => {
            let v: Vec<f64> = w.iter().map(|&x| f32::from_bits(x) as f64).collect();
            Literal::from_f64(d, shape, &v)
        }
        DType::I8 | DType::I16 => {
            let v: Vec<i64> = w.iter().map(|&x| x as i32 as i64).collect();
            Literal::from_i64(d, shape, &v)
        }
        _ => {
            let v: Vec<i64> = w.iter().map(|&x| x as i64).collect();
            Literal::from_i64(d, shape, &v)
        }
    };
    r.map_err(|e| err(e.0))
}

/// A kernel program ready to run on the GPU.
pub struct WgpuProgram {
    pub shaders: GpuProgram,
    storage: Vec<wgpu::Buffer>,
    /// Per item: its pipeline and bind group (None for library calls).
    bound: Vec<Option<(wgpu::ComputePipeline, wgpu::BindGroup)>>,
    /// One run at a time: the storage is the program's.
    lock: Mutex<()>,
}

/// Generates, validates and loads the shaders of `p`.
pub fn load_program(p: &KProgram) -> Result<WgpuProgram, RuntimeError> {
    let shaders = cg::compile_program(p).map_err(err)?;
    let g = gpu()?;
    let _run = g
        .run_lock
        .lock()
        .map_err(|_| err("wgpu device lock poisoned".into()))?;
    let storage: Vec<wgpu::Buffer> = shaders
        .storage
        .iter()
        .enumerate()
        .map(|(i, s)| {
            g.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("storage{i}")),
                size: (s.words * 4).max(4),
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
        .collect();
    // Constants are uploaded once.
    for (i, b) in p.buffers.iter().enumerate() {
        if let BufferKind::Const(l) = &b.kind {
            let w = to_words(l)?;
            if !w.is_empty() {
                g.queue
                    .write_buffer(&storage[shaders.storage_of[i]], 0, bytemuck_words(&w));
            }
        }
    }
    let mut bound = Vec::new();
    for it in &shaders.items {
        match it {
            GpuItem::Shader(sk) => {
                let pipe = g.pipeline(sk)?;
                let layout = pipe.get_bind_group_layout(0);
                let entries: Vec<wgpu::BindGroupEntry> = sk
                    .bindings
                    .iter()
                    .enumerate()
                    .map(|(i, (s, _))| wgpu::BindGroupEntry {
                        binding: i as u32,
                        resource: storage[*s].as_entire_binding(),
                    })
                    .collect();
                let bg = g.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&sk.name),
                    layout: &layout,
                    entries: &entries,
                });
                bound.push(Some((pipe, bg)));
            }
            GpuItem::Lib(_) => bound.push(None),
        }
    }
    g.take_errors()?;
    Ok(WgpuProgram {
        shaders,
        storage,
        bound,
        lock: Mutex::new(()),
    })
}

fn bytemuck_words(w: &[u32]) -> &[u8] {
    // SAFETY: u32 has no padding and any byte pattern is a valid u8.
    unsafe { std::slice::from_raw_parts(w.as_ptr() as *const u8, w.len() * 4) }
}

impl WgpuProgram {
    /// The error the gathers recorded so far in this run, if any (waits for
    /// the submitted work).
    fn gather_fault(&self, g: &Gpu) -> Result<(), RuntimeError> {
        let Some(f) = &self.shaders.faults else {
            return Ok(());
        };
        let w = g.read_words(
            &self.storage[f.buf],
            psionic_codegen::fault::FAULT_WORDS as u64,
        )?;
        match f.error(&w) {
            Some(e) => Err(err(e)),
            None => Ok(()),
        }
    }

    /// Runs on `args` (their types must be the parameters').
    /// An out-of-range gather index is an error naming it and its axis
    /// size (the reference interpreter's words).
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let g = gpu()?;
        let _own = self
            .lock
            .lock()
            .map_err(|_| err("program lock poisoned".into()))?;
        let _run = g
            .run_lock
            .lock()
            .map_err(|_| err("wgpu device lock poisoned".into()))?;
        g.take_errors()?;
        let p = &self.shaders.program;
        if args.len() != p.params.len() {
            return Err(err(format!(
                "`{}` takes {} arguments, got {}",
                p.name,
                p.params.len(),
                args.len()
            )));
        }
        for (i, b) in p.buffers.iter().enumerate() {
            if let BufferKind::Param(k) = b.kind {
                let a = &args[k as usize];
                if a.ty() != b.ty {
                    return Err(err(format!(
                        "argument {k} is {}, expected {}",
                        a.ty(),
                        b.ty
                    )));
                }
                let w = to_words(a)?;
                if !w.is_empty() {
                    g.queue.write_buffer(
                        &self.storage[self.shaders.storage_of[i]],
                        0,
                        bytemuck_words(&w),
                    );
                }
            }
        }
        if let Some(f) = &self.shaders.faults {
            g.queue.write_buffer(
                &self.storage[f.buf],
                0,
                bytemuck_words(&[0u32; psionic_codegen::fault::FAULT_WORDS]),
            );
        }
        let new_enc = || {
            g.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("psionic"),
                })
        };
        let mut enc = new_enc();
        for (it, b) in self.shaders.items.iter().zip(&self.bound) {
            match (it, b) {
                (GpuItem::Shader(sk), Some((pipe, bg))) => {
                    if sk.groups.contains(&0) {
                        continue;
                    }
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(&sk.name),
                        timestamp_writes: None,
                    });
                    pass.set_pipeline(pipe);
                    pass.set_bind_group(0, bg, &[]);
                    pass.dispatch_workgroups(sk.groups[0], sk.groups[1], sk.groups[2]);
                }
                (GpuItem::Lib(l), _) => {
                    g.queue
                        .submit([std::mem::replace(&mut enc, new_enc()).finish()]);
                    // A kernel before this call may have gathered out of range.
                    self.gather_fault(g)?;
                    let mut ins = Vec::new();
                    for &bi in &l.inputs {
                        let ty = &p.buffer(bi).ty;
                        let w = g.read_words(
                            &self.storage[self.shaders.storage_of[bi.index()]],
                            ty.num_elements().unwrap_or(0) as u64,
                        )?;
                        ins.push(from_words(ty, &w)?);
                    }
                    let refs: Vec<&Literal> = ins.iter().collect();
                    let outs = eval_lib_op(l.opcode, &l.attrs, &refs)
                        .map_err(|e| err(format!("kernel.op {} (host): {e}", l.opcode)))?;
                    if outs.len() != l.outputs.len() {
                        return Err(err(format!(
                            "kernel.op {} gave {} results, expected {}",
                            l.opcode,
                            outs.len(),
                            l.outputs.len()
                        )));
                    }
                    for (&bo, lit) in l.outputs.iter().zip(outs) {
                        let ty = &p.buffer(bo).ty;
                        if lit.ty() != *ty {
                            return Err(err(format!(
                                "kernel.op {} gave {}, expected {ty}",
                                l.opcode,
                                lit.ty()
                            )));
                        }
                        let w = to_words(&lit)?;
                        if !w.is_empty() {
                            g.queue.write_buffer(
                                &self.storage[self.shaders.storage_of[bo.index()]],
                                0,
                                bytemuck_words(&w),
                            );
                        }
                    }
                }
                _ => return Err(err("wgpu program items out of step".into())),
            }
        }
        g.queue.submit([enc.finish()]);
        self.gather_fault(g)?;
        let mut out = Vec::new();
        for &r in &p.results {
            let ty = &p.buffer(r).ty;
            let w = g.read_words(
                &self.storage[self.shaders.storage_of[r.index()]],
                ty.num_elements().unwrap_or(0) as u64,
            )?;
            out.push(from_words(ty, &w)?);
        }
        g.take_errors()?;
        Ok(out)
    }
}

/// One specialization of a function compiled for the GPU.
pub struct WgpuCompiled {
    pub kernels: KProgram,
    pub program: WgpuProgram,
    pub report: CompileReport,
    /// Specialization, optimization, shader generation and pipeline creation.
    pub compile_ms: f64,
    /// Which results the program returns as `c64` pairs.
    pub boundary: Boundary,
}

impl WgpuCompiled {
    pub fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        let args = self.boundary.args(args)?;
        let outs = self.program.run(&args)?;
        self.boundary.results(outs)
    }
}

impl NativeCode for WgpuCompiled {
    fn run(&self, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
        WgpuCompiled::run(self, args)
    }
}

/// The planned kernel program of `f` for `types` (what every backend runs).
pub fn kernel_program(
    f: &Func,
    types: &[TensorType],
) -> Result<(KProgram, CompileReport), RuntimeError> {
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    kernel_program_specialized(&g)
}

/// [`kernel_program`] of `g`, already specialized. Values WGSL has no type
/// for ([`unsupported`]: complex, f64, i64, u64) are an error naming the
/// dtype.
pub fn kernel_program_specialized(g: &Func) -> Result<(KProgram, CompileReport), RuntimeError> {
    if let Some(why) = unsupported(Backend::Wgpu, g) {
        return Err(err(format!(
            "{why} (such functions run on the interpreter, or on the cpu backend)"
        )));
    }
    compile(g, &Backend::Wgpu.compile_options()).map_err(|e| err(e.to_string()))
}

/// Compiles `f` for arguments of `types` onto the GPU.
pub fn compile_for_wgpu(f: &Func, types: &[TensorType]) -> Result<WgpuCompiled, RuntimeError> {
    let t0 = Instant::now();
    let g = psionic_ir::specialize::specialize(f, types).map_err(|e| err(e.to_string()))?;
    let mut c = compile_specialized(&g)?;
    c.compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(c)
}

/// Compiles `g`, already specialized, onto the GPU.
pub fn compile_specialized(g: &Func) -> Result<WgpuCompiled, RuntimeError> {
    let t0 = Instant::now();
    let (kernels, report) = kernel_program_specialized(g)?;
    let program = load_program(&kernels)?;
    Ok(WgpuCompiled {
        kernels,
        program,
        report,
        compile_ms: t0.elapsed().as_secs_f64() * 1e3,
        boundary: Boundary::of(g),
    })
}

/// Prepares `f` for `types`: shaders, or (when `fallback` is set and
/// [`unsupported`] names a reason: complex values, f64, i64, u64) the
/// reference interpreter, with the reason.
pub fn prepare_for(
    f: &Func,
    types: &[TensorType],
    fallback: bool,
) -> Result<Prepared<WgpuCompiled>, RuntimeError> {
    prepare_with(Backend::Wgpu, f, types, fallback, compile_specialized)
}

/// A function compiled for the GPU, specialized and cached per argument
/// types. A specialization WGSL cannot hold runs on the reference
/// interpreter ([`Prepared::fallback`] says why) unless [`Self::strict`].
pub struct WgpuExecutable {
    func: Func,
    fallback: bool,
    cache: SpecCache<Prepared<WgpuCompiled>>,
}

impl WgpuExecutable {
    pub fn new(func: Func) -> WgpuExecutable {
        WgpuExecutable {
            func,
            fallback: true,
            cache: SpecCache::default(),
        }
    }
    /// Never fall back to the interpreter: what [`unsupported`] names
    /// becomes an error with that reason.
    pub fn strict(mut self) -> WgpuExecutable {
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
    ) -> Result<Arc<Prepared<WgpuCompiled>>, RuntimeError> {
        self.cache
            .get_or_compile(types, || prepare_for(&self.func, types, self.fallback))
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

/// Runs `f` once on the GPU (no cache, no fallback: what WGSL has no type
/// for is an error).
pub fn run_func_wgpu(f: &Func, args: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    compile_for_wgpu(f, &types)?.run(args)
}

/// The shaders of `f` for `types` as `wgsl`, `msl` or `spirv` (hex words)
/// (`psionic compile --emit wgsl|msl|spirv`); needs no GPU.
pub fn emit_shaders(f: &Func, types: &[TensorType], target: &str) -> Result<String, RuntimeError> {
    let target = Target::from_name(target).ok_or_else(|| {
        err(format!(
            "unknown shader language `{target}` (wgsl, msl or spirv)"
        ))
    })?;
    let (kernels, _) = kernel_program(f, types)?;
    let g = cg::compile_program(&kernels).map_err(err)?;
    cg::emit_program(&g, target).map_err(err)
}
