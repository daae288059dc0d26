//! WGSL source for one item of a kernel program: elementwise kernels (one
//! invocation per domain point), row kernels (one workgroup per outer index,
//! each invocation striding over the reduced points, accumulators combined
//! by a shared-memory tree reduction; a `map` stage with scans takes a
//! contiguous chunk per invocation instead, see [`scan_stage`]) and a tiled
//! matmul with its epilogue fused into the store.
//!
//! Every device buffer is an `array<u32>` of 32-bit words (see
//! [`super::scalar::dev_type`]); loads and stores bitcast. Buffers that share
//! device storage (one buffer-planning slot) share one binding, so an
//! in-place kernel binds its storage once, read-write.
//!
//! A kernel with gathers also binds the program's fault record `sfault`
//! (`array<atomic<u32>>`: flag, site, index bits): each index is wrapped
//! and checked by `psi_wrap_i`/`psi_wrap_u`; out of range it reads the
//! first element of the index's range (never out of bounds) and the first
//! offender records its [`FaultSite`] number and value (32 bits), which the
//! runtime turns into the run's error ([`crate::fault`]).
//!
//! A scatter kernel binds the buffer it updates as `array<atomic<u32>>`
//! (every element has a word of its own, so no element shares a word with
//! another): `set` is an `atomicStore`, `sum` of i32/u32 an `atomicAdd`,
//! `max`/`min` of u32/u16/u8/bool an `atomicMax`/`atomicMin`; everything
//! else (floats, signed max/min, products, wrapping narrow sums) is an
//! `atomicCompareExchangeWeak` loop on the element's word that recomputes
//! the combination with the node ops' own expressions (rounded to the
//! dtype). A dynamic slice's start is clamped, not checked.

use super::scalar::{dev_type, literal, need, op_expr, round};
use super::Storage;
use crate::fault::{FaultSite, Faults};
use psionic_ir::kernel::{
    AccKind, BufId, DynIndex, IndexMap, Instr, KProgram, Kernel, MatmulCall, Node, ScatterKind,
    StageKind,
};
use psionic_ir::DType;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Invocations per workgroup of elementwise kernels.
pub const ELEM_WG: u32 = 256;
/// Most workgroups along one dispatch dimension (WebGPU's default limit).
pub const MAX_GROUPS: u64 = 65535;
/// Matmul tile: `MM_TILE`×`MM_TILE` outputs per workgroup of 16×16
/// invocations (4×4 each), `MM_BK` deep.
pub const MM_TILE: u32 = 64;
pub const MM_BK: u32 = 16;

/// Emits an accumulator update: (emitter, output, node, kind, node id).
type AccEmitter<'a, E> =
    dyn FnMut(&mut E, &mut String, &Node, AccKind, u32) -> Result<(), String> + 'a;

/// One generated compute shader.
#[derive(Clone, Debug)]
pub struct ShaderKernel {
    /// The kernel's name in the program (`k0`, ...).
    pub name: String,
    /// The WGSL entry point.
    pub entry: String,
    pub wgsl: String,
    /// Device storage index of each `@binding(i)` in order, and whether the
    /// kernel writes it.
    pub bindings: Vec<(usize, bool)>,
    /// Workgroups to dispatch (x, y, z); all zero: nothing to run.
    pub groups: [u32; 3],
}

struct Gen<'a> {
    p: &'a KProgram,
    storage: &'a [usize],
    helpers: BTreeSet<&'static str>,
    /// storage index -> binding number.
    binds: Vec<(usize, bool)>,
    /// node id -> (WGSL name, dtype).
    vals: HashMap<u32, (String, DType)>,
    /// The fault record (kernels with gathers), its binding number here,
    /// and the kernel's name for its sites.
    faults: Option<&'a mut Faults>,
    fault_bind: Option<usize>,
    /// Bindings a scatter updates (`array<atomic<u32>>`).
    atomic_binds: BTreeSet<usize>,
    name: String,
    /// Extent of each domain axis (guarded loads skip full ranges).
    dims: Vec<usize>,
}

fn entry_name(name: &str) -> String {
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("__");
    if ok {
        name.to_string()
    } else {
        "main".into()
    }
}

/// Workgroups for `n` workgroups of work: (x, y) with x ≤ 65535.
fn split_groups(n: u64) -> Result<(u32, u32), String> {
    if n == 0 {
        return Ok((0, 0));
    }
    let x = n.min(MAX_GROUPS);
    let y = n.div_ceil(x);
    if y > MAX_GROUPS {
        return Err(format!("wgpu backend: {n} workgroups exceed one dispatch"));
    }
    Ok((x as u32, y as u32))
}

impl<'a> Gen<'a> {
    fn new(p: &'a KProgram, storage: &'a [usize]) -> Self {
        Gen {
            p,
            storage,
            helpers: BTreeSet::new(),
            binds: Vec::new(),
            vals: HashMap::new(),
            faults: None,
            fault_bind: None,
            atomic_binds: BTreeSet::new(),
            name: String::new(),
            dims: Vec::new(),
        }
    }

    /// `(wrapped index expression statement name)`: wraps and checks the
    /// index `d` of gather node `id`, registering its fault site.
    fn gather_index(
        &mut self,
        out: &mut String,
        ind: &str,
        id: u32,
        k: usize,
        d: &DynIndex,
    ) -> Result<String, String> {
        let (e, dt) = self.val(d.arg)?.clone();
        let signed = match dev_type(dt)? {
            "i32" => true,
            "u32" => false,
            other => return Err(format!("wgpu backend: gather index of type {other}")),
        };
        if d.dim > i32::MAX as usize {
            return Err("wgpu backend: gather axis exceeds 2^31 elements".into());
        }
        let faults = self
            .faults
            .as_deref_mut()
            .ok_or("wgpu backend: a gather without a fault record")?;
        let site = faults.add(FaultSite {
            kernel: self.name.clone(),
            axis: d.axis,
            dim: d.dim,
            slice: d.slice,
            signed,
            wide: false,
        });
        let fs = faults.buf;
        if self.fault_bind.is_none() {
            self.fault_bind = Some(self.binding_storage(fs, true));
        }
        let lim = d.dim - d.slice;
        let j = format!("j{id}_{k}");
        let call = if signed {
            need(&mut self.helpers, "psi_wrap_i");
            format!("psi_wrap_i({e}, {}i, {lim}u, {site}u)", d.dim)
        } else {
            need(&mut self.helpers, "psi_wrap_u");
            format!("psi_wrap_u({e}, {lim}u, {site}u)")
        };
        writeln!(out, "{ind}let {j}: i32 = {call};").unwrap();
        Ok(j)
    }

    fn binding(&mut self, b: BufId, write: bool) -> usize {
        let s = self.storage[b.index()];
        self.binding_storage(s, write)
    }

    fn binding_storage(&mut self, s: usize, write: bool) -> usize {
        match self.binds.iter().position(|x| x.0 == s) {
            Some(i) => {
                self.binds[i].1 |= write;
                i
            }
            None => {
                self.binds.push((s, write));
                self.binds.len() - 1
            }
        }
    }

    /// Registers every buffer the nodes touch (stores first decide access).
    fn scan(&mut self, nodes: &[Node]) {
        for n in nodes {
            match &n.instr {
                Instr::Store { buf, .. } => {
                    self.binding(*buf, true);
                }
                Instr::Scatter { buf, .. } => {
                    let b = self.binding(*buf, true);
                    self.atomic_binds.insert(b);
                }
                Instr::Load { buf, .. } | Instr::Gather { buf, .. } | Instr::LoadOr { buf, .. } => {
                    self.binding(*buf, false);
                }
                _ => {}
            }
        }
    }

    fn val(&self, id: u32) -> Result<&(String, DType), String> {
        self.vals
            .get(&id)
            .ok_or_else(|| format!("wgpu backend: node %{id} used out of scope"))
    }

    /// `offset + sum(stride * coord)`, coords named by `coord`.
    fn address(map: &IndexMap, coords: &[String]) -> String {
        let mut s = format!("{}i", map.offset);
        for (st, c) in map.strides.iter().zip(coords) {
            match *st {
                0 => {}
                1 => write!(s, " + {c}").unwrap(),
                -1 => write!(s, " - {c}").unwrap(),
                k => write!(s, " + {k}i * {c}").unwrap(),
            }
        }
        s
    }

    /// Emits the nodes as `let` statements (accumulators are handled by
    /// the caller through `acc`).
    fn nodes(
        &mut self,
        out: &mut String,
        ind: &str,
        nodes: &[Node],
        coords: &[String],
        acc: &mut AccEmitter<'_, Self>,
        store_guard: Option<&str>,
    ) -> Result<(), String> {
        for n in nodes {
            let name = format!("v{}", n.id);
            let ty = dev_type(n.dtype)?;
            match &n.instr {
                Instr::Load { .. } | Instr::Gather { .. } => {
                    let (buf, map) = match &n.instr {
                        Instr::Load { buf, map } | Instr::Gather { buf, map, .. } => (buf, map),
                        _ => unreachable!("matched above"),
                    };
                    let bi = self.binding(*buf, false);
                    let mut a = Self::address(map, coords);
                    if let Instr::Gather { index, .. } = &n.instr {
                        for (k, d) in index.iter().enumerate() {
                            let j = self.gather_index(out, ind, n.id, k, d)?;
                            write!(a, " + {}i * {j}", d.stride).unwrap();
                        }
                    }
                    let bd = self.p.buffer(*buf).ty.dtype;
                    dev_type(bd)?;
                    let w = format!("s{bi}[u32({a})]");
                    let e = match ty {
                        "f32" => format!("bitcast<f32>({w})"),
                        "i32" => format!("bitcast<i32>({w})"),
                        "u32" => w,
                        _ => format!("({w} != 0u)"),
                    };
                    writeln!(out, "{ind}let {name}: {ty} = {e};").unwrap();
                }
                Instr::LoadOr {
                    buf,
                    map,
                    lo,
                    hi,
                    fill,
                } => {
                    // Read at the coordinates clamped into the box (always
                    // inside the buffer), then select the fill outside it.
                    let bi = self.binding(*buf, false);
                    let mut conds = Vec::new();
                    let mut cc = Vec::new();
                    for (ax, c) in coords.iter().enumerate() {
                        if lo[ax] == 0 && hi[ax] == self.dims[ax] as i64 {
                            cc.push(c.clone());
                            continue;
                        }
                        conds.push(format!("({c}) >= {}i && ({c}) < {}i", lo[ax], hi[ax]));
                        cc.push(format!("clamp({c}, {}i, {}i)", lo[ax], hi[ax] - 1));
                    }
                    let a = Self::address(map, &cc);
                    let bd = self.p.buffer(*buf).ty.dtype;
                    dev_type(bd)?;
                    let w = format!("s{bi}[u32({a})]");
                    let e = match ty {
                        "f32" => format!("bitcast<f32>({w})"),
                        "i32" => format!("bitcast<i32>({w})"),
                        "u32" => w,
                        _ => format!("({w} != 0u)"),
                    };
                    let (f, _) = self.val(*fill)?.clone();
                    let e = if conds.is_empty() {
                        e
                    } else {
                        format!("select({f}, {e}, {})", conds.join(" && "))
                    };
                    writeln!(out, "{ind}let {name}: {ty} = {e};").unwrap();
                }
                Instr::Const(c) => {
                    writeln!(out, "{ind}let {name}: {ty} = {};", literal(n.dtype, *c)?).unwrap();
                }
                Instr::Op {
                    opcode,
                    attrs,
                    args,
                } => {
                    let mut es = Vec::new();
                    let mut dts = Vec::new();
                    for a in args {
                        let (e, d) = self.val(*a)?.clone();
                        es.push(e);
                        dts.push(d);
                    }
                    let at = if *opcode == psionic_ir::Opcode::Select {
                        dts.get(1).copied()
                    } else {
                        dts.first().copied()
                    }
                    .unwrap_or(n.dtype);
                    let e = op_expr(*opcode, attrs, &es, at, n.dtype, &mut self.helpers)?;
                    writeln!(out, "{ind}let {name}: {ty} = {e};").unwrap();
                }
                // A scan's callback defines `v{id}` (see `scan_stage`).
                Instr::Acc { kind, arg } | Instr::Scan { kind, arg, .. } => {
                    acc(self, out, n, *kind, *arg)?;
                }
                Instr::Store { buf, map, arg } => {
                    let bi = self.binding(*buf, true);
                    let a = Self::address(map, coords);
                    let (e, d) = self.val(*arg)?.clone();
                    let w = match dev_type(d)? {
                        "f32" | "i32" => format!("bitcast<u32>({e})"),
                        "u32" => e,
                        _ => format!("select(0u, 1u, {e})"),
                    };
                    match store_guard {
                        Some(g) => writeln!(out, "{ind}if ({g}) {{ s{bi}[u32({a})] = {w}; }}"),
                        None => writeln!(out, "{ind}s{bi}[u32({a})] = {w};"),
                    }
                    .unwrap();
                    continue;
                }
                Instr::Scatter {
                    buf,
                    map,
                    index,
                    arg,
                    reduce,
                } => {
                    self.scatter(out, ind, n.id, *buf, map, index, *arg, *reduce, coords)?;
                    continue;
                }
                Instr::MatmulResult => {
                    writeln!(
                        out,
                        "{ind}let {name}: {ty} = {};",
                        round(n.dtype, "mm".into(), &mut self.helpers)
                    )
                    .unwrap();
                }
            }
            self.vals.insert(n.id, (name, n.dtype));
        }
        Ok(())
    }

    /// A scatter node `id` (see the module doc).
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &mut self,
        out: &mut String,
        ind: &str,
        id: u32,
        buf: BufId,
        map: &IndexMap,
        index: &[DynIndex],
        arg: u32,
        reduce: ScatterKind,
        coords: &[String],
    ) -> Result<(), String> {
        let bi = self.binding(buf, true);
        self.atomic_binds.insert(bi);
        let mut a = Self::address(map, coords);
        for (k, d) in index.iter().enumerate() {
            let j = if d.clamp {
                let (e, dt) = self.val(d.arg)?.clone();
                let lim = d.dim - d.slice;
                let j = format!("j{id}_{k}");
                let e = match dev_type(dt)? {
                    "i32" => format!("clamp({e}, 0i, {lim}i)"),
                    "u32" => format!("i32(min({e}, {lim}u))"),
                    other => return Err(format!("wgpu backend: scatter index of type {other}")),
                };
                writeln!(out, "{ind}let {j}: i32 = {e};").unwrap();
                j
            } else {
                self.gather_index(out, ind, id, k, d)?
            };
            write!(a, " + {}i * {j}", d.stride).unwrap();
        }
        let d = self.p.buffer(buf).ty.dtype;
        let ty = dev_type(d)?;
        let (v, _) = self.val(arg)?.clone();
        let word = |e: &str| match ty {
            "f32" | "i32" => format!("bitcast<u32>({e})"),
            "u32" => e.to_string(),
            _ => format!("select(0u, 1u, {e})"),
        };
        let at = format!("&s{bi}[u32({a})]");
        let narrow = d.size() < 4;
        use ScatterKind as K;
        let native = match (reduce, ty) {
            (K::Set, _) => Some(format!("atomicStore({at}, {});", word(&v))),
            (K::Sum, "i32" | "u32") if !narrow => Some(format!("atomicAdd({at}, {});", word(&v))),
            (K::Max, "u32" | "bool") => Some(format!("atomicMax({at}, {});", word(&v))),
            (K::Min, "u32" | "bool") => Some(format!("atomicMin({at}, {});", word(&v))),
            _ => None,
        };
        if let Some(s) = native {
            writeln!(out, "{ind}{s}").unwrap();
            return Ok(());
        }
        let op = reduce
            .opcode()
            .ok_or_else(|| format!("scatter.{} has no combining op", reduce.name()))?;
        let cur = match ty {
            "f32" => format!("bitcast<f32>(o{id})"),
            "i32" => format!("bitcast<i32>(o{id})"),
            "u32" => format!("o{id}"),
            _ => format!("(o{id} != 0u)"),
        };
        let comb = op_expr(
            op,
            &psionic_ir::Attrs::new(),
            &[cur, v.clone()],
            d,
            d,
            &mut self.helpers,
        )?;
        writeln!(out, "{ind}var o{id} = atomicLoad({at});").unwrap();
        writeln!(out, "{ind}loop {{").unwrap();
        writeln!(out, "{ind}    let n{id}: {ty} = {comb};").unwrap();
        writeln!(
            out,
            "{ind}    let r{id} = atomicCompareExchangeWeak({at}, o{id}, {});",
            word(&format!("n{id}"))
        )
        .unwrap();
        writeln!(
            out,
            "{ind}    if (r{id}.exchanged) {{
{ind}        break;
{ind}    }}"
        )
        .unwrap();
        writeln!(out, "{ind}    o{id} = r{id}.old_value;").unwrap();
        writeln!(out, "{ind}}}").unwrap();
        Ok(())
    }

    fn header(&self, shared: &str) -> String {
        let mut s = String::new();
        for (i, (_, w)) in self.binds.iter().enumerate() {
            if self.atomic_binds.contains(&i) {
                writeln!(
                    s,
                    "@group(0) @binding({i}) var<storage, read_write> s{i}: array<atomic<u32>>;"
                )
                .unwrap();
                continue;
            }
            if Some(i) == self.fault_bind {
                writeln!(
                    s,
                    "@group(0) @binding({i}) var<storage, read_write> sfault: array<atomic<u32>>;"
                )
                .unwrap();
                continue;
            }
            let acc = if *w { "read_write" } else { "read" };
            writeln!(
                s,
                "@group(0) @binding({i}) var<storage, {acc}> s{i}: array<u32>;"
            )
            .unwrap();
        }
        s.push_str(shared);
        for h in &self.helpers {
            s.push('\n');
            s.push_str(super::scalar::helper_source(h));
        }
        s
    }
}

/// Coordinates of the linear index `lin` over `dims` (row-major), as WGSL
/// `let` statements named `{prefix}{axis}` (i32).
fn decompose(out: &mut String, ind: &str, lin: &str, dims: &[(usize, usize)], prefix: &str) {
    // dims: (axis, extent) in row-major order. An empty axis makes the
    // enclosing loop run zero times, but naga rejects a constant division
    // by zero even in dead code: divide by at least 1.
    let mut inner: u64 = 1;
    let n = dims.len();
    let mut lines = Vec::new();
    for (k, &(ax, d)) in dims.iter().enumerate().rev() {
        let d = d.max(1);
        let e = if n == 1 {
            lin.to_string()
        } else if k == 0 {
            format!("{lin} / {inner}u")
        } else if inner == 1 {
            format!("{lin} % {d}u")
        } else {
            format!("({lin} / {inner}u) % {d}u")
        };
        lines.push(format!("{ind}let {prefix}{ax} = i32({e});"));
        inner *= d as u64;
    }
    lines.reverse();
    for l in lines {
        writeln!(out, "{l}").unwrap();
    }
}

fn check_size(p: &KProgram) -> Result<(), String> {
    for b in &p.buffers {
        let n = b.ty.num_elements().unwrap_or(0);
        if n as u64 > i32::MAX as u64 {
            return Err(format!(
                "wgpu backend: buffer {} exceeds 2^31 elements",
                b.ty
            ));
        }
    }
    Ok(())
}

/// The accumulator's shared-memory arrays and combine code.
struct AccInfo {
    id: u32,
    kind: AccKind,
    dtype: DType,
    /// Device type of the per-invocation state.
    state_ty: &'static str,
}

fn acc_init(kind: AccKind, dtype: DType) -> Result<(&'static str, String), String> {
    let t = dev_type(dtype)?;
    Ok(match (kind, t) {
        (AccKind::LogSumExp, "f32") => (
            "vec2<f32>",
            "vec2<f32>(bitcast<f32>(0xff800000u), 0.0f)".into(),
        ),
        (AccKind::M2, "f32") => ("vec3<f32>", "vec3<f32>(0.0f, 0.0f, 0.0f)".into()),
        (AccKind::LogSumExp | AccKind::M2, _) => {
            return Err(format!("wgpu backend: acc.{} on {dtype}", kind.name()))
        }
        (AccKind::Sum, "f32") => ("f32", "0.0f".into()),
        (AccKind::Prod, "f32") => ("f32", "1.0f".into()),
        (AccKind::Max, "f32") => ("f32", "bitcast<f32>(0xff800000u)".into()),
        (AccKind::Min, "f32") => ("f32", "bitcast<f32>(0x7f800000u)".into()),
        (AccKind::Sum, "i32") => ("i32", "0i".into()),
        (AccKind::Prod, "i32") => ("i32", "1i".into()),
        (AccKind::Max, "i32") => ("i32", "bitcast<i32>(0x80000000u)".into()),
        (AccKind::Min, "i32") => ("i32", "2147483647i".into()),
        (AccKind::Sum, "u32") => ("u32", "0u".into()),
        (AccKind::Prod, "u32") => ("u32", "1u".into()),
        (AccKind::Max, "u32") => ("u32", "0u".into()),
        (AccKind::Min, "u32") => ("u32", "4294967295u".into()),
        // bool: 0/1 in u32 (sum and max are `or`, prod and min `and`).
        (AccKind::Sum | AccKind::Max, _) => ("u32", "0u".into()),
        (AccKind::Prod | AccKind::Min, _) => ("u32", "1u".into()),
    })
}

/// `x ⊕ y` for two states of an accumulator.
fn combine(a: &AccInfo, x: &str, y: &str, h: &mut BTreeSet<&'static str>) -> String {
    let bool_acc = a.dtype == DType::Bool;
    match (a.kind, a.state_ty) {
        (AccKind::LogSumExp, _) => {
            need(h, "psi_lse_comb");
            format!("psi_lse_comb({x}, {y})")
        }
        (AccKind::M2, _) => {
            need(h, "psi_m2_comb");
            format!("psi_m2_comb({x}, {y})")
        }
        (AccKind::Sum, _) if bool_acc => format!("{x} | {y}"),
        (AccKind::Prod, _) if bool_acc => format!("{x} & {y}"),
        (AccKind::Sum, _) => format!("{x} + {y}"),
        (AccKind::Prod, _) => format!("{x} * {y}"),
        (AccKind::Max, "f32") => {
            need(h, "psi_max");
            format!("psi_max({x}, {y})")
        }
        (AccKind::Min, "f32") => {
            need(h, "psi_min");
            format!("psi_min({x}, {y})")
        }
        (AccKind::Max, _) => format!("max({x}, {y})"),
        (AccKind::Min, _) => format!("min({x}, {y})"),
    }
}

/// `state ⊕ value` (one element pushed).
fn push(a: &AccInfo, st: &str, v: &str, h: &mut BTreeSet<&'static str>) -> String {
    match a.kind {
        AccKind::LogSumExp => {
            need(h, "psi_lse_comb");
            format!("psi_lse_comb({st}, vec2<f32>({v}, 1.0f))")
        }
        AccKind::M2 => {
            need(h, "psi_m2_push");
            format!("psi_m2_push({st}, {v})")
        }
        _ if a.dtype == DType::Bool => combine(a, st, &format!("select(0u, 1u, {v})"), h),
        _ => combine(a, st, v, h),
    }
}

/// The accumulator's value from its final state, in its dtype.
fn finish(a: &AccInfo, st: &str, h: &mut BTreeSet<&'static str>) -> String {
    match a.kind {
        AccKind::LogSumExp => {
            need(h, "psi_lse_final");
            round(a.dtype, format!("psi_lse_final({st})"), h)
        }
        AccKind::M2 => round(a.dtype, format!("{st}.z"), h),
        _ if a.dtype == DType::Bool => format!("({st} != 0u)"),
        _ => round(a.dtype, st.to_string(), h),
    }
}

fn has_scans(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| matches!(n.instr, Instr::Scan { .. }))
}

/// The shared-memory declaration of the array holding states of `ty`.
fn shared_decl(sh: &str) -> &'static str {
    match sh {
        "sh_v2" => "var<workgroup> sh_v2: array<vec2<f32>, WG>;",
        "sh_v3" => "var<workgroup> sh_v3: array<vec3<f32>, WG>;",
        "sh_f" => "var<workgroup> sh_f: array<f32, WG>;",
        "sh_i" => "var<workgroup> sh_i: array<i32, WG>;",
        _ => "var<workgroup> sh_u: array<u32, WG>;",
    }
}

/// A scan's state type and its value at position 0 (the identity).
fn scan_init(kind: AccKind, dtype: DType) -> Result<(&'static str, String), String> {
    if kind == AccKind::LogSumExp || dtype == DType::Bool {
        return acc_init(kind, dtype);
    }
    let id = psionic_ir::kernel::scalar::scan_identity(kind, dtype);
    Ok((dev_type(dtype)?, literal(dtype, id)?))
}

/// The `map` stage of a scan kernel, one workgroup per row: invocation
/// `lid` takes the contiguous chunk `[lid * C, min((lid + 1) * C, red))`
/// of the row (`C = ceil(red / wg)`). A first pass over the chunk combines
/// each scan's argument into the chunk's total (only the nodes the
/// arguments need); a Hillis-Steele scan of the totals in workgroup memory
/// gives each invocation the combination of the chunks before its own;
/// a second pass over the chunk runs the whole stage, each scan's running
/// state starting from that prefix.
#[allow(clippy::too_many_arguments)]
fn scan_stage(
    g: &mut Gen<'_>,
    body: &mut String,
    shared: &mut BTreeSet<&'static str>,
    nodes: &[Node],
    inner: &[(usize, usize)],
    red: u64,
    wg: u32,
    coords: &[String],
) -> Result<(), String> {
    let mut scans: Vec<(AccInfo, String, u32)> = Vec::new();
    for n in nodes {
        if let Instr::Scan { kind, arg, .. } = n.instr {
            let (ty, init) = scan_init(kind, n.dtype)?;
            scans.push((
                AccInfo {
                    id: n.id,
                    kind,
                    dtype: n.dtype,
                    state_ty: ty,
                },
                init,
                arg,
            ));
        }
    }
    let chunk = red.div_ceil(wg as u64);
    writeln!(
        body,
        "    let lo = lid * {chunk}u;\n    let hi = min(lo + {chunk}u, {red}u);"
    )
    .unwrap();
    // Pass 1: chunk totals, from the cone of the scans' arguments.
    let mut need: std::collections::HashSet<u32> = scans.iter().map(|s| s.2).collect();
    for n in nodes.iter().rev() {
        if need.contains(&n.id) {
            // Ops' arguments, gathers' indices and guarded loads' fills.
            need.extend(n.instr.args());
        }
    }
    let cone: Vec<Node> = nodes
        .iter()
        .filter(|n| need.contains(&n.id) && !matches!(n.instr, Instr::Store { .. }))
        .cloned()
        .collect();
    for (a, init, _) in &scans {
        writeln!(body, "    var t{}: {} = {init};", a.id, a.state_ty).unwrap();
    }
    writeln!(body, "    for (var r = lo; r < hi; r = r + 1u) {{").unwrap();
    decompose(body, "        ", "r", inner, "c");
    let saved = g.vals.clone();
    g.nodes(
        body,
        "        ",
        &cone,
        coords,
        &mut |_, _, _, _, _| Err("scan in a scan's argument".into()),
        None,
    )?;
    for (a, _, arg) in &scans {
        let (v, _) = g.val(*arg)?.clone();
        let e = push(a, &format!("t{}", a.id), &v, &mut g.helpers);
        writeln!(body, "        t{} = {e};", a.id).unwrap();
    }
    body.push_str("    }\n");
    g.vals = saved.clone();
    // Exclusive scan of the chunk totals: p = totals of chunks 0..lid.
    for (a, init, _) in &scans {
        let sh = shared_arrays(a.state_ty)[0];
        shared.insert(shared_decl(sh));
        let c = combine(a, &format!("{sh}[lid - s]"), "v", &mut g.helpers);
        writeln!(
            body,
            "    workgroupBarrier();\n    {sh}[lid] = t{};\n    workgroupBarrier();",
            a.id
        )
        .unwrap();
        writeln!(
            body,
            "    for (var s = 1u; s < {wg}u; s = s << 1u) {{\n        var v = {sh}[lid];\n        if (lid >= s) {{\n            v = {c};\n        }}\n        workgroupBarrier();\n        {sh}[lid] = v;\n        workgroupBarrier();\n    }}"
        )
        .unwrap();
        writeln!(
            body,
            "    var a{}: {} = {init};\n    if (lid > 0u) {{\n        a{} = {sh}[lid - 1u];\n    }}",
            a.id, a.state_ty, a.id
        )
        .unwrap();
    }
    body.push_str("    workgroupBarrier();\n");
    // Pass 2: the stage, each scan running on from its prefix.
    let infos: HashMap<u32, usize> = scans.iter().enumerate().map(|(i, s)| (s.0.id, i)).collect();
    let excl: HashMap<u32, bool> = nodes
        .iter()
        .filter_map(|n| match n.instr {
            Instr::Scan { exclusive, .. } => Some((n.id, exclusive)),
            _ => None,
        })
        .collect();
    writeln!(body, "    for (var r = lo; r < hi; r = r + 1u) {{").unwrap();
    decompose(body, "        ", "r", inner, "c");
    let scans_ref = &scans;
    g.nodes(
        body,
        "        ",
        nodes,
        coords,
        &mut |g, out, n, _kind, arg| {
            let a = &scans_ref[infos[&n.id]].0;
            let (v, _) = g.val(arg)?.clone();
            let st = format!("a{}", n.id);
            let e = push(a, &st, &v, &mut g.helpers);
            let f = finish(a, &st, &mut g.helpers);
            let ty = dev_type(n.dtype)?;
            if excl[&n.id] {
                writeln!(
                    out,
                    "        let v{}: {ty} = {f};\n        {st} = {e};",
                    n.id
                )
                .unwrap();
            } else {
                writeln!(
                    out,
                    "        {st} = {e};\n        let v{}: {ty} = {f};",
                    n.id
                )
                .unwrap();
            }
            Ok(())
        },
        None,
    )?;
    body.push_str("    }\n");
    g.vals = saved;
    Ok(())
}

fn shared_arrays(ty: &str) -> &'static [&'static str] {
    match ty {
        "vec2<f32>" => &["sh_v2"],
        "vec3<f32>" => &["sh_v3"],
        "f32" => &["sh_f"],
        "i32" => &["sh_i"],
        _ => &["sh_u"],
    }
}

/// WGSL for a fused kernel; its gathers (if any) register their fault
/// sites in `faults`.
pub fn gen_kernel(
    p: &KProgram,
    storage: &[usize],
    k: &Kernel,
    faults: Option<&mut Faults>,
) -> Result<ShaderKernel, String> {
    check_size(p)?;
    let mut g = Gen::new(p, storage);
    g.faults = faults;
    g.name = k.name.clone();
    g.dims = k.domain.clone();
    for s in &k.stages {
        g.scan(&s.nodes);
    }
    let entry = entry_name(&k.name);
    let outer: Vec<(usize, usize)> = (0..k.domain.len())
        .filter(|a| !k.reduce_axes.contains(a))
        .map(|a| (a, k.domain[a]))
        .collect();
    let inner: Vec<(usize, usize)> = k.reduce_axes.iter().map(|&a| (a, k.domain[a])).collect();
    let rows: u64 = outer.iter().map(|d| d.1 as u64).product();
    let red: u64 = inner.iter().map(|d| d.1 as u64).product();
    let coords: Vec<String> = (0..k.domain.len()).map(|a| format!("c{a}")).collect();
    let mut body = String::new();
    let only_map = k.stages.iter().all(|s| s.kind == StageKind::Map);
    if k.reduce_axes.is_empty() && only_map {
        // Elementwise: one invocation per point.
        let n = rows;
        let (gx, gy) = split_groups(n.div_ceil(ELEM_WG as u64))?;
        writeln!(body, "@compute @workgroup_size({ELEM_WG})").unwrap();
        writeln!(
            body,
            "fn {entry}(@builtin(global_invocation_id) gid: vec3<u32>) {{"
        )
        .unwrap();
        writeln!(
            body,
            "    let i = gid.y * {}u + gid.x;",
            gx as u64 * ELEM_WG as u64
        )
        .unwrap();
        writeln!(body, "    if (i >= {n}u) {{\n        return;\n    }}").unwrap();
        decompose(&mut body, "    ", "i", &outer, "c");
        for s in &k.stages {
            g.nodes(
                &mut body,
                "    ",
                &s.nodes,
                &coords,
                &mut |_, _, _, _, _| Err("accumulator in a map stage".into()),
                None,
            )?;
        }
        body.push_str("}\n");
        let wgsl = g.header("") + "\n" + &body;
        return Ok(ShaderKernel {
            name: k.name.clone(),
            entry,
            wgsl,
            bindings: g.binds.clone(),
            groups: [gx, gy, if n == 0 { 0 } else { 1 }],
        });
    }
    // Row kernel: one workgroup per outer index.
    let wg: u32 = (red.next_power_of_two()).clamp(32, 256) as u32;
    let (gx, gy) = split_groups(rows)?;
    writeln!(body, "@compute @workgroup_size({wg})").unwrap();
    writeln!(
        body,
        "fn {entry}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{"
    )
    .unwrap();
    writeln!(body, "    let row = wid.y * {gx}u + wid.x;").unwrap();
    writeln!(body, "    if (row >= {rows}u) {{\n        return;\n    }}").unwrap();
    decompose(&mut body, "    ", "row", &outer, "c");
    let mut shared: BTreeSet<&'static str> = BTreeSet::new();
    for s in &k.stages {
        match s.kind {
            StageKind::Outer => {
                g.nodes(
                    &mut body,
                    "    ",
                    &s.nodes,
                    &coords,
                    &mut |_, _, _, _, _| Err("accumulator in an outer stage".into()),
                    Some("lid == 0u"),
                )?;
            }
            StageKind::Map if has_scans(&s.nodes) => {
                scan_stage(
                    &mut g,
                    &mut body,
                    &mut shared,
                    &s.nodes,
                    &inner,
                    red,
                    wg,
                    &coords,
                )?;
            }
            StageKind::Map | StageKind::Loop => {
                // Accumulators of this stage: declare state, loop, reduce.
                let mut accs: Vec<AccInfo> = Vec::new();
                for n in &s.nodes {
                    if let Instr::Acc { kind, .. } = n.instr {
                        let (ty, init) = acc_init(kind, n.dtype)?;
                        writeln!(body, "    var a{}: {ty} = {init};", n.id).unwrap();
                        accs.push(AccInfo {
                            id: n.id,
                            kind,
                            dtype: n.dtype,
                            state_ty: ty,
                        });
                    }
                }
                writeln!(body, "    for (var r = lid; r < {red}u; r = r + {wg}u) {{").unwrap();
                decompose(&mut body, "        ", "r", &inner, "c");
                let saved = g.vals.clone();
                let infos: HashMap<u32, usize> =
                    accs.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
                let accs_ref = &accs;
                g.nodes(
                    &mut body,
                    "        ",
                    &s.nodes,
                    &coords,
                    &mut |g, out, n, _kind, arg| {
                        let a = &accs_ref[infos[&n.id]];
                        let (v, _) = g.val(arg)?.clone();
                        let e = push(a, &format!("a{}", n.id), &v, &mut g.helpers);
                        writeln!(out, "        a{} = {e};", n.id).unwrap();
                        Ok(())
                    },
                    None,
                )?;
                body.push_str("    }\n");
                // Loop-local values go out of scope.
                g.vals = saved;
                for a in &accs {
                    let arrays = shared_arrays(a.state_ty);
                    let sh = arrays[0];
                    shared.insert(shared_decl(sh));
                    let ty = dev_type(a.dtype)?;
                    let name = format!("v{}", a.id);
                    if red == 0 {
                        // Empty rows: the interpreter's initial value.
                        let init = match a.kind {
                            AccKind::Sum | AccKind::M2 => 0.0,
                            AccKind::Prod => 1.0,
                            AccKind::Max | AccKind::LogSumExp => f64::NEG_INFINITY,
                            AccKind::Min => f64::INFINITY,
                        };
                        writeln!(body, "    let {name}: {ty} = {};", literal(a.dtype, init)?)
                            .unwrap();
                    } else {
                        let c = combine(
                            a,
                            &format!("{sh}[lid]"),
                            &format!("{sh}[lid + s]"),
                            &mut g.helpers,
                        );
                        writeln!(body, "    {sh}[lid] = a{};", a.id).unwrap();
                        body.push_str("    workgroupBarrier();\n");
                        writeln!(
                            body,
                            "    for (var s = {}u; s > 0u; s = s >> 1u) {{\n        if (lid < s) {{\n            {sh}[lid] = {c};\n        }}\n        workgroupBarrier();\n    }}",
                            wg / 2
                        )
                        .unwrap();
                        let f = finish(a, &format!("{sh}[0]"), &mut g.helpers);
                        writeln!(body, "    let {name}: {ty} = {f};").unwrap();
                        body.push_str("    workgroupBarrier();\n");
                    }
                    g.vals.insert(a.id, (name, a.dtype));
                }
            }
        }
    }
    body.push_str("}\n");
    let shared_decl: String = shared
        .iter()
        .map(|s| s.replace("WG", &wg.to_string()) + "\n")
        .collect();
    let wgsl = g.header(&shared_decl) + "\n" + &body;
    Ok(ShaderKernel {
        name: k.name.clone(),
        entry,
        wgsl,
        bindings: g.binds.clone(),
        groups: [gx, gy, if rows == 0 { 0 } else { 1 }],
    })
}

/// WGSL for a (batched) matmul with its epilogue applied at the store.
pub fn gen_matmul(p: &KProgram, storage: &[usize], m: &MatmulCall) -> Result<ShaderKernel, String> {
    check_size(p)?;
    let mut g = Gen::new(p, storage);
    g.dims = m.domain();
    let t = dev_type(m.dtype)?;
    if t == "bool" {
        return Err("wgpu backend: matmul of bool".into());
    }
    let ab = g.binding(m.a, false);
    let bb = g.binding(m.b, false);
    g.scan(&m.epilogue);
    let entry = entry_name(&m.name);
    let r = m.batch.len();
    let nb: u64 = m.batch.iter().map(|&d| d as u64).product();
    if nb > MAX_GROUPS {
        return Err(format!(
            "wgpu backend: a batch of {nb} matmuls exceeds one dispatch"
        ));
    }
    let (tl, bk) = (MM_TILE, MM_BK);
    let zero = match t {
        "f32" => "0.0f",
        "i32" => "0i",
        _ => "0u",
    };
    let ld = |bi: usize, a: String| match t {
        "f32" => format!("bitcast<f32>(s{bi}[u32({a})])"),
        "i32" => format!("bitcast<i32>(s{bi}[u32({a})])"),
        _ => format!("s{bi}[u32({a})]"),
    };
    let mut body = String::new();
    // Epilogue as a function of (product, batch index, row, column).
    let coords: Vec<String> = (0..r)
        .map(|a| format!("c{a}"))
        .chain(["ci".to_string(), "cj".to_string()])
        .collect();
    let mut epi = String::new();
    writeln!(epi, "fn epilogue(mm: {t}, bi: u32, ci: i32, cj: i32) {{").unwrap();
    let bdims: Vec<(usize, usize)> = m.batch.iter().copied().enumerate().collect();
    decompose(&mut epi, "    ", "bi", &bdims, "c");
    if r == 0 {
        epi.push_str("    _ = bi;\n");
    }
    g.nodes(
        &mut epi,
        "    ",
        &m.epilogue,
        &coords,
        &mut |_, _, _, _, _| Err("accumulator in a matmul epilogue".into()),
        None,
    )?;
    epi.push_str("}\n");
    // Batch offsets of the operands.
    let boff = |map: &IndexMap| -> String {
        let mut s = format!("{}i", map.offset);
        for a in 0..r {
            if map.strides[a] != 0 {
                write!(s, " + {}i * c{a}", map.strides[a]).unwrap();
            }
        }
        s
    };
    let (ars, acs) = (m.a_map.strides[r], m.a_map.strides[r + 1]);
    let (brs, bcs) = (m.b_map.strides[r], m.b_map.strides[r + 1]);
    let (mm, nn, kk) = (m.m, m.n, m.k);
    writeln!(body, "@compute @workgroup_size(16, 16)").unwrap();
    writeln!(body, "fn {entry}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {{").unwrap();
    body.push_str("    let bi = wid.z;\n    let lin = l.y * 16u + l.x;\n");
    writeln!(
        body,
        "    let row0 = i32(wid.y * {tl}u);\n    let col0 = i32(wid.x * {tl}u);"
    )
    .unwrap();
    decompose(&mut body, "    ", "bi", &bdims, "c");
    writeln!(
        body,
        "    let abase = {};\n    let bbase = {};",
        boff(&m.a_map),
        boff(&m.b_map)
    )
    .unwrap();
    writeln!(body, "    var acc: array<{t}, 16>;\n    for (var q = 0u; q < 16u; q = q + 1u) {{\n        acc[q] = {zero};\n    }}").unwrap();
    writeln!(
        body,
        "    for (var k0 = 0i; k0 < {kk}i; k0 = k0 + {bk}i) {{"
    )
    .unwrap();
    // A tile: tl x bk; B tile: bk x tl; 256 invocations load 4 each.
    writeln!(
        body,
        "        for (var q = 0u; q < {}u; q = q + 1u) {{",
        tl * bk / 256
    )
    .unwrap();
    writeln!(body, "            let e = lin + q * 256u;\n            let gr = row0 + i32(e / {bk}u);\n            let gc = k0 + i32(e % {bk}u);").unwrap();
    writeln!(body, "            var v = {zero};\n            if (gr < {mm}i && gc < {kk}i) {{\n                v = {};\n            }}\n            ta[e] = v;", ld(ab, format!("abase + {ars}i * gr + {acs}i * gc"))).unwrap();
    writeln!(
        body,
        "            let fr = k0 + i32(e / {tl}u);\n            let fc = col0 + i32(e % {tl}u);"
    )
    .unwrap();
    writeln!(body, "            var w = {zero};\n            if (fr < {kk}i && fc < {nn}i) {{\n                w = {};\n            }}\n            tb[e] = w;", ld(bb, format!("bbase + {brs}i * fr + {bcs}i * fc"))).unwrap();
    body.push_str("        }\n        workgroupBarrier();\n");
    writeln!(
        body,
        "        for (var kk = 0u; kk < {bk}u; kk = kk + 1u) {{"
    )
    .unwrap();
    body.push_str("            var av: array<");
    write!(body, "{t}, 4>;\n            for (var i = 0u; i < 4u; i = i + 1u) {{\n                av[i] = ta[(l.y + 16u * i) * {bk}u + kk];\n            }}\n", ).unwrap();
    writeln!(body, "            for (var j = 0u; j < 4u; j = j + 1u) {{\n                let bv = tb[kk * {tl}u + l.x + 16u * j];\n                for (var i = 0u; i < 4u; i = i + 1u) {{\n                    acc[i * 4u + j] = acc[i * 4u + j] + av[i] * bv;\n                }}\n            }}").unwrap();
    body.push_str("        }\n        workgroupBarrier();\n    }\n");
    writeln!(body, "    for (var q = 0u; q < 16u; q = q + 1u) {{\n        let ci = row0 + i32(l.y + 16u * (q / 4u));\n        let cj = col0 + i32(l.x + 16u * (q % 4u));\n        if (ci < {mm}i && cj < {nn}i) {{\n            epilogue(acc[q], bi, ci, cj);\n        }}\n    }}\n}}").unwrap();
    let shared = format!(
        "var<workgroup> ta: array<{t}, {}>;\nvar<workgroup> tb: array<{t}, {}>;\n",
        tl * bk,
        tl * bk
    );
    let wgsl = g.header(&shared) + "\n" + &epi + "\n" + &body;
    let (gx, gy) = (
        (nn as u64).div_ceil(tl as u64),
        (mm as u64).div_ceil(tl as u64),
    );
    if gx > MAX_GROUPS || gy > MAX_GROUPS {
        return Err("wgpu backend: matmul too large for one dispatch".into());
    }
    let empty = nb == 0 || mm == 0 || nn == 0;
    Ok(ShaderKernel {
        name: m.name.clone(),
        entry,
        wgsl,
        bindings: g.binds.clone(),
        groups: if empty {
            [0, 0, 0]
        } else {
            [gx as u32, gy as u32, nb as u32]
        },
    })
}

/// Device storage of a program: temporaries of one planning slot share
/// one; every other buffer has its own. Returns each buffer's storage
/// index and each storage's size in 32-bit words.
pub fn plan_storage(p: &KProgram) -> (Vec<usize>, Vec<Storage>) {
    let mut of = Vec::with_capacity(p.buffers.len());
    let mut st: Vec<Storage> = Vec::new();
    let mut slots: HashMap<u32, usize> = HashMap::new();
    for (i, b) in p.buffers.iter().enumerate() {
        let words = b.ty.num_elements().unwrap_or(0) as u64;
        let idx = match (&b.kind, b.slot) {
            (psionic_ir::kernel::BufferKind::Temp, Some(s))
                if !p.results.contains(&BufId(i as u32)) =>
            {
                match slots.get(&s) {
                    Some(&j) => {
                        st[j].words = st[j].words.max(words);
                        st[j].buffers.push(BufId(i as u32));
                        j
                    }
                    None => {
                        st.push(Storage {
                            words,
                            buffers: vec![BufId(i as u32)],
                        });
                        slots.insert(s, st.len() - 1);
                        st.len() - 1
                    }
                }
            }
            _ => {
                st.push(Storage {
                    words,
                    buffers: vec![BufId(i as u32)],
                });
                st.len() - 1
            }
        };
        of.push(idx);
    }
    (of, st)
}
