//! The naga backend: every item of a kernel-level program as a WGSL compute
//! shader ([`kernel`]), parsed into a `naga::Module`, validated, and written
//! as WGSL, SPIR-V and Metal Shading Language ([`emit_module`]). The runtime
//! (`psionic_runtime::wgpu`) runs the WGSL through `wgpu`.
//!
//! Why WGSL text parsed by naga rather than a `naga::Module` built by hand:
//! the text is what runs (wgpu takes WGSL), it is readable in golden tests
//! and error messages, naga's front end does type inference, constant
//! evaluation and `Emit` ranges that a hand-built arena gets subtly wrong,
//! and the validator then checks exactly the module every backend writes.
//!
//! Kernels: elementwise (one invocation per point), row kernels (softmax,
//! norms, reductions: one workgroup per outer index, a shared-memory tree
//! reduction per accumulator), matmul (64×64 tiles, 16×16 invocations, the
//! epilogue applied at the store), sorts of rows of up to 1024 elements
//! (a bitonic network in workgroup memory, [`sort`]). Other `kernel.op`
//! library calls have no shader: the runtime runs them on the host
//! ([`GpuItem::Lib`]). Dtypes: see
//! [`scalar::dev_type`] (f64/i64/u64/complex are an error naming the dtype).

pub mod kernel;
pub mod scalar;
pub mod sort;

pub use crate::fault::{FaultSite, Faults};
pub use kernel::{plan_storage, ShaderKernel};
use psionic_ir::kernel::{BufId, BufferKind, Item, KProgram, LibOp};

/// One device allocation: the program buffers that live in it (several for
/// temporaries sharing a planning slot) and its size in 32-bit words.
#[derive(Clone, Debug)]
pub struct Storage {
    pub words: u64,
    pub buffers: Vec<BufId>,
}

/// An item of a compiled program.
#[derive(Clone, Debug)]
pub enum GpuItem {
    Shader(ShaderKernel),
    /// Run on the host by the caller's tensor-level evaluator.
    Lib(LibOp),
}

/// A kernel program as shaders over device storage.
#[derive(Clone, Debug)]
pub struct GpuProgram {
    pub program: KProgram,
    /// Storage index of each buffer.
    pub storage_of: Vec<usize>,
    pub storage: Vec<Storage>,
    pub items: Vec<GpuItem>,
    /// The fault record of gathers (4 words of storage holding no program
    /// buffer), when some kernel gathers: the runtime zeroes it before a
    /// run and reads it back before host calls and with the results.
    pub faults: Option<Faults>,
}

/// Output language of [`emit_module`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Wgsl,
    Msl,
    Spirv,
}

impl Target {
    pub fn from_name(s: &str) -> Option<Target> {
        match s {
            "wgsl" => Some(Target::Wgsl),
            "msl" => Some(Target::Msl),
            "spirv" | "spv" => Some(Target::Spirv),
            _ => None,
        }
    }
}

/// Generates the shaders of a verified kernel program; each shader is
/// parsed and validated by naga.
pub fn compile_program(p: &KProgram) -> Result<GpuProgram, String> {
    psionic_ir::kernel::verify::verify_program(p)?;
    for b in &p.buffers {
        scalar::dev_type(b.ty.dtype)?;
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
    let (storage_of, mut storage) = plan_storage(p);
    let mut faults = p
        .items
        .iter()
        .any(|it| matches!(it, Item::Kernel(k) if k.has_gather()))
        .then(|| {
            storage.push(Storage {
                words: crate::fault::FAULT_WORDS as u64,
                buffers: vec![],
            });
            Faults {
                buf: storage.len() - 1,
                sites: vec![],
            }
        });
    let mut items = Vec::new();
    for it in &p.items {
        let sk = match it {
            Item::Kernel(k) => kernel::gen_kernel(p, &storage_of, k, faults.as_mut())?,
            Item::Matmul(m) => kernel::gen_matmul(p, &storage_of, m)?,
            Item::LibOp(l) => match sort::sort_shader(p, &storage_of, l, l.opcode.name()) {
                Some(sk) => sk,
                None => {
                    items.push(GpuItem::Lib(l.clone()));
                    continue;
                }
            },
        };
        validate(&sk.wgsl).map_err(|e| format!("kernel @{}: {e}", sk.name))?;
        items.push(GpuItem::Shader(sk));
    }
    Ok(GpuProgram {
        program: p.clone(),
        storage_of,
        storage,
        items,
        faults,
    })
}

/// Parses and validates WGSL with naga.
pub fn validate(wgsl: &str) -> Result<(naga::Module, naga::valid::ModuleInfo), String> {
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| {
        format!(
            "naga rejected the WGSL:\n{}\n{wgsl}",
            e.emit_to_string(wgsl)
        )
    })?;
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| {
        format!(
            "naga validation failed:\n{}\n{wgsl}",
            e.emit_to_string(wgsl)
        )
    })?;
    Ok((module, info))
}

/// One shader written in `target`. SPIR-V is returned as hex words, eight
/// to a line (the binary form is `spirv_words`).
pub fn emit_module(sk: &ShaderKernel, target: Target) -> Result<String, String> {
    let (module, info) = validate(&sk.wgsl)?;
    match target {
        Target::Wgsl => {
            naga::back::wgsl::write_string(&module, &info, naga::back::wgsl::WriterFlags::empty())
                .map_err(|e| format!("naga WGSL writer: {e}"))
        }
        Target::Msl => msl(sk, &module, &info),
        Target::Spirv => {
            let words = spirv_words(&module, &info)?;
            let mut s = String::new();
            for chunk in words.chunks(8) {
                let line: Vec<String> = chunk.iter().map(|w| format!("{w:08x}")).collect();
                s.push_str(&line.join(" "));
                s.push('\n');
            }
            Ok(s)
        }
    }
}

/// The SPIR-V binary of a validated module.
pub fn spirv_words(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
) -> Result<Vec<u32>, String> {
    let opts = naga::back::spv::Options {
        lang_version: (1, 3),
        ..Default::default()
    };
    naga::back::spv::write_vec(module, info, &opts, None)
        .map_err(|e| format!("naga SPIR-V writer: {e}"))
}

/// Metal Shading Language 2.4 with `[[buffer(i)]]` for `@binding(i)` and
/// the sizes buffer after them.
fn msl(
    sk: &ShaderKernel,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
) -> Result<String, String> {
    use naga::back::msl;
    let n = sk.bindings.len();
    if n >= 31 {
        return Err(format!(
            "kernel @{}: {n} buffers exceed Metal's 31 buffer slots",
            sk.name
        ));
    }
    let mut res = msl::EntryPointResources::default();
    for (i, (_, w)) in sk.bindings.iter().enumerate() {
        res.resources.insert(
            naga::ResourceBinding {
                group: 0,
                binding: i as u32,
            },
            msl::BindTarget {
                buffer: Some(i as u8),
                mutable: *w,
                ..Default::default()
            },
        );
    }
    res.sizes_buffer = Some(n as u8);
    let mut map = msl::EntryPointResourceMap::new();
    map.insert(sk.entry.clone(), res);
    let opts = msl::Options {
        lang_version: (2, 4),
        per_entry_point_map: map,
        fake_missing_bindings: false,
        ..Default::default()
    };
    let pipe = msl::PipelineOptions {
        entry_point: Some((naga::ShaderStage::Compute, sk.entry.clone())),
        ..Default::default()
    };
    let (text, tinfo) = msl::write_string(module, info, &opts, &pipe)
        .map_err(|e| format!("naga MSL writer: {e}"))?;
    for r in tinfo.entry_point_names {
        r.map_err(|e| format!("naga MSL writer: {e}"))?;
    }
    Ok(text)
}

/// Every shader of a program in `target`, each preceded by a comment line
/// naming the kernel (`// kernel @k0 ...` for WGSL and MSL, `; kernel @k0`
/// for SPIR-V words); library calls are listed as running on the host.
pub fn emit_program(g: &GpuProgram, target: Target) -> Result<String, String> {
    let c = if target == Target::Spirv { ";" } else { "//" };
    let mut s = String::new();
    for it in &g.items {
        match it {
            GpuItem::Shader(sk) => {
                s.push_str(&format!(
                    "{c} kernel @{} entry {} workgroups {:?} bindings {}\n",
                    sk.name,
                    sk.entry,
                    sk.groups,
                    sk.bindings.len()
                ));
                s.push_str(&emit_module(sk, target)?);
            }
            GpuItem::Lib(l) => {
                s.push_str(&format!("{c} library op {} (runs on the host)\n", l.opcode));
            }
        }
        s.push('\n');
    }
    Ok(s)
}
