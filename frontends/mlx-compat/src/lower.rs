//! Lowering the lazy graph to IR: the shared core of [`eval`] and [`trace`].
//!
//! A depth-first walk from the requested arrays (iterative, so chains of any
//! length are fine) emits every op node once, in an order where operands
//! come first; an op record with several results is emitted once for all of
//! them. What becomes of a leaf depends on the mode:
//! - eval: constants and already-evaluated arrays become function inputs
//!   (their data is passed, not copied into the IR) and are never evaluated
//!   again; trace placeholders are an error (a tracer leaked out of `trace`).
//! - trace: the placeholders of this trace become the parameters; constants
//!   and evaluated arrays captured by the closure become `tensor.constant`.

use crate::array::{next_id, Array, Element, Node, Source};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, Func, Literal, Loc, Op, Opcode, TensorType, Value};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

/// Keys are unique ids or addresses: a multiplicative hash is enough and
/// several times cheaper than SipHash on the lowering's hot path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

enum Mode {
    Eval,
    Trace(u64),
}

struct Lowering {
    mode: Mode,
    func: Func,
    /// Node id to its value in `func`.
    values: IdMap<u64, Value>,
    /// Op record (by address; the graph keeps it alive) to its results.
    /// Only ops with several results are recorded: the others are reached
    /// through their single node.
    records: IdMap<usize, Vec<Value>>,
    /// Eval mode: the data of each function input, in parameter order.
    inputs: Vec<Literal>,
    /// Eval mode: every op node emitted, in emission order.
    emitted: Vec<Array>,
    /// Eval mode: how many op-input slots of the emitted graph use each node.
    uses: IdMap<u64, usize>,
    /// Trace mode: `Some` when inputs of other (enclosing) traces may be
    /// captured; each one captured becomes a parameter after the inputs.
    captures: Option<Vec<Array>>,
}

impl Lowering {
    fn new(mode: Mode, func: Func) -> Self {
        Lowering {
            mode,
            func,
            values: IdMap::default(),
            records: IdMap::default(),
            inputs: Vec::new(),
            emitted: Vec::new(),
            uses: IdMap::default(),
            captures: None,
        }
    }

    fn entry(&self) -> &'static str {
        match self.mode {
            Mode::Eval => "eval",
            Mode::Trace(_) => "trace",
        }
    }

    /// Maps a leaf (constant, evaluated node, placeholder, error) to a value.
    /// Returns false for an unevaluated op node.
    fn leaf(&mut self, a: &Array) -> Result<bool, Error> {
        let node: &Node = &a.0;
        if let Source::Error(e) = &node.source {
            return Err(e.clone());
        }
        if let Some(lit) = node.value.get() {
            let v = match self.mode {
                Mode::Eval => {
                    self.inputs.push(lit.clone());
                    self.func.add_param(node.ty.clone())
                }
                Mode::Trace(_) => self
                    .func
                    .push1(
                        Opcode::Constant,
                        &[],
                        Attrs::new().with("value", Attr::Dense(lit.clone())),
                    )
                    .map_err(|e| Error::new("trace", e.message))?,
            };
            self.values.insert(node.id, v);
            return Ok(true);
        }
        if let Source::Input { trace, index } = node.source {
            return match self.mode {
                Mode::Trace(t) if t == trace => {
                    let v = self.func.params[index];
                    self.values.insert(node.id, v);
                    Ok(true)
                }
                // An input of an enclosing trace, which a closure under a
                // transform captured: one more parameter.
                Mode::Trace(_) if self.captures.is_some() => {
                    let v = self.func.add_param(node.ty.clone());
                    self.values.insert(node.id, v);
                    if let Some(c) = self.captures.as_mut() {
                        c.push(a.clone());
                    }
                    Ok(true)
                }
                Mode::Trace(_) => Err(Error::new(
                    "trace",
                    "an input of another trace was captured (a tracer leaked out of its `trace` call)",
                )),
                Mode::Eval => Err(Error::new(
                    "eval",
                    "the array depends on an input of a trace and has no value (a tracer leaked out of its `trace` call, or `eval` was called inside `trace`)",
                )),
            };
        }
        Ok(false)
    }

    /// Emits everything `roots` need; returns their values.
    fn lower(&mut self, roots: &[&Array]) -> Result<Vec<Value>, Error> {
        let mut stack: Vec<(Array, bool)> = Vec::new();
        for root in roots {
            stack.push(((*root).clone(), false));
            while let Some((a, expanded)) = stack.pop() {
                if self.values.contains_key(&a.0.id) {
                    continue;
                }
                if self.leaf(&a)? {
                    continue;
                }
                let Some((op, output)) = a.0.op() else {
                    // Evaluated (and detached) by another thread meanwhile.
                    if self.leaf(&a)? {
                        continue;
                    }
                    return Err(Error::new(
                        self.entry(),
                        "internal error: a node is neither a leaf nor an op",
                    ));
                };
                let output = &output;
                let key = Arc::as_ptr(&op) as usize;
                let multi = op.outputs > 1;
                if multi {
                    if let Some(vals) = self.records.get(&key) {
                        let v = vals[*output];
                        self.values.insert(a.0.id, v);
                        continue;
                    }
                }
                if !expanded {
                    stack.push((a, true));
                    for i in op.inputs.iter().rev() {
                        if matches!(self.mode, Mode::Eval) {
                            *self.uses.entry(i.0.id).or_insert(0) += 1;
                        }
                        if !self.values.contains_key(&i.0.id) {
                            stack.push((i.clone(), false));
                        }
                    }
                    continue;
                }
                let operands: Vec<Value> = op.inputs.iter().map(|i| self.values[&i.0.id]).collect();
                let results = if multi {
                    self.func
                        .push(op.opcode, &operands, op.attrs.clone())
                        .map_err(|e| Error::new(self.entry(), e.message))?
                } else {
                    // The node's type was inferred by the op table when it
                    // was built, from these operands' types: no need to
                    // infer it again.
                    let r = self.func.new_value(a.0.ty.clone());
                    self.func.ops.push(Op {
                        opcode: op.opcode,
                        operands,
                        attrs: op.attrs.clone(),
                        results: vec![r],
                        loc: Loc::default(),
                    });
                    vec![r]
                };
                self.values.insert(a.0.id, results[*output]);
                if multi {
                    self.records.insert(key, results);
                }
                if matches!(self.mode, Mode::Eval) {
                    self.emitted.push(a.clone());
                }
            }
        }
        Ok(roots.iter().map(|r| self.values[&r.0.id]).collect())
    }
}

/// Runs a function on the reference interpreter.
fn interpret(func: &Func, inputs: &[Literal]) -> Result<Vec<Literal>, Error> {
    psionic_runtime::interp::run_func(func, inputs).map_err(|e| Error::new("eval", e.to_string()))
}

// ---------------------------------------------------------------------------
// The backend of `eval`.
// ---------------------------------------------------------------------------

/// Which engine [`eval`] runs the lowered graph on
/// ([`set_default_backend`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The reference interpreter, always.
    Interp,
    /// The compiled CPU backend (`psionic_runtime::exec`), always; a graph
    /// it cannot compile is an error (what it cannot represent exactly,
    /// `exec::native_unsupported`, still runs on the interpreter).
    Cpu,
    /// The CPU backend for graphs that compute at least
    /// [`AUTO_MIN_ELEMENTS`] elements and that it represents exactly; the
    /// interpreter for smaller graphs (compiling costs milliseconds, more
    /// than interpreting a few thousand elements) and when compilation
    /// fails. The default.
    Auto,
}

/// [`Backend::Auto`]'s threshold: the number of elements all the graph's
/// ops produce together (static shapes), from which the CPU backend is used.
pub const AUTO_MIN_ELEMENTS: usize = 1 << 20;

static BACKEND: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);

/// Sets the backend of every later [`eval`] in the process (also `to_vec`,
/// `item`...). Returns the previous one.
pub fn set_default_backend(b: Backend) -> Backend {
    let v = match b {
        Backend::Interp => 0,
        Backend::Cpu => 1,
        Backend::Auto => 2,
    };
    decode_backend(BACKEND.swap(v, std::sync::atomic::Ordering::Relaxed))
}

/// The backend [`eval`] uses now.
pub fn default_backend() -> Backend {
    decode_backend(BACKEND.load(std::sync::atomic::Ordering::Relaxed))
}

fn decode_backend(v: u8) -> Backend {
    match v {
        0 => Backend::Interp,
        1 => Backend::Cpu,
        _ => Backend::Auto,
    }
}

/// Counts of how [`eval`] ran its graphs (process-wide, since start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Graphs run by the interpreter.
    pub interpreted: u64,
    /// Graphs run as native code.
    pub compiled: u64,
    /// Of those, graphs whose code came from the cache.
    pub cache_hits: u64,
    /// `Auto` graphs whose compilation failed and that were interpreted.
    pub fallbacks: u64,
    /// Graphs given to a GPU default device ([`crate::set_default_device`]);
    /// they count in `compiled` or, when the device hands them to the
    /// interpreter, in `interpreted` too.
    pub on_gpu: u64,
}

static STATS: Mutex<EvalStats> = Mutex::new(EvalStats {
    interpreted: 0,
    compiled: 0,
    cache_hits: 0,
    fallbacks: 0,
    on_gpu: 0,
});

/// How [`eval`] has run its graphs so far.
pub fn eval_stats() -> EvalStats {
    *STATS.lock().unwrap_or_else(|e| e.into_inner())
}

fn count(f: impl FnOnce(&mut EvalStats)) {
    f(&mut STATS.lock().unwrap_or_else(|e| e.into_inner()));
}

/// Compiled eval graphs, keyed by their text (an evaluated array is a
/// parameter, never a constant, so a training loop's step prints the same
/// every time and compiles once).
type EvalCache = HashMap<String, Arc<psionic_runtime::exec::Prepared>>;
static EVAL_CACHE: Mutex<Option<EvalCache>> = Mutex::new(None);
/// Entries kept before the cache is emptied.
const EVAL_CACHE_MAX: usize = 256;

/// Elements produced by the ops of `func` (static shapes) that native
/// kernels would compute: 64-bit integer values are computed op by op by
/// the interpreter's `eval_op` on either backend, so they do not count.
fn work(func: &Func) -> usize {
    func.ops
        .iter()
        .flat_map(|o| o.results.iter())
        .filter(|&&r| !psionic_passes::fusion::is_wide_int(func.ty(r).dtype))
        .map(|&r| func.ty(r).num_elements().unwrap_or(0))
        .fold(0usize, usize::saturating_add)
}

/// Runs `func` on `inputs` with `backend`.
fn run_backend(backend: Backend, func: &Func, inputs: &[Literal]) -> Result<Vec<Literal>, Error> {
    use psionic_runtime::exec;
    let native = match backend {
        Backend::Interp => false,
        Backend::Cpu => true,
        Backend::Auto => {
            work(func) >= AUTO_MIN_ELEMENTS && exec::native_unsupported(func).is_none()
        }
    };
    if !native {
        count(|s| s.interpreted += 1);
        return interpret(func, inputs);
    }
    let device = crate::device::default_device();
    if device != crate::device::Device::Cpu {
        return run_on_gpu(device, func, inputs);
    }
    let key = psionic_ir::text::print_func(func);
    let made = cached_or_make(&EVAL_CACHE, key, || {
        exec::prepare_for(func, &func.param_types(), &Default::default(), true)
    });
    let prepared = match made {
        Ok(p) => p,
        Err(_) if backend == Backend::Auto => {
            count(|s| {
                s.fallbacks += 1;
                s.interpreted += 1
            });
            return interpret(func, inputs);
        }
        Err(e) => return Err(Error::new("eval", format!("cpu backend: {e}"))),
    };
    if prepared.fallback().is_some() {
        // `exec` hands this graph to the interpreter (c64, 64-bit integers).
        count(|s| s.interpreted += 1);
    } else {
        count(|s| s.compiled += 1);
    }
    prepared
        .run(inputs)
        .map_err(|e| Error::new("eval", e.to_string()))
}

/// The cached value for `key`, or `make()`'s, cached (a hit counts in
/// [`EvalStats::cache_hits`]; a full cache is emptied first).
fn cached_or_make<K: std::hash::Hash + Eq, T, E>(
    cache: &Mutex<Option<HashMap<K, Arc<T>>>>,
    key: K,
    make: impl FnOnce() -> Result<T, E>,
) -> Result<Arc<T>, E> {
    let hit = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|c| c.get(&key).cloned());
    if let Some(v) = hit {
        count(|s| s.cache_hits += 1);
        return Ok(v);
    }
    let v = Arc::new(make()?);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    let c = c.get_or_insert_with(HashMap::new);
    if c.len() >= EVAL_CACHE_MAX {
        c.clear();
    }
    c.insert(key, v.clone());
    Ok(v)
}

/// GPU executables of eval graphs, keyed by device and graph text.
type GpuEvalCache = HashMap<(crate::device::Device, String), Arc<crate::compile::DeviceExe>>;
static GPU_EVAL_CACHE: Mutex<Option<GpuEvalCache>> = Mutex::new(None);

/// Runs an eval graph on the GPU default device, as MLX's
/// `set_default_device(mx.gpu)` makes evaluation run there. What the
/// device cannot hold (complex values; f64 and 64-bit integers under wgpu)
/// runs on the interpreter through the executable's fallback.
fn run_on_gpu(
    device: crate::device::Device,
    func: &Func,
    inputs: &[Literal],
) -> Result<Vec<Literal>, Error> {
    let key = (device, psionic_ir::text::print_func(func));
    let exe = cached_or_make(&GPU_EVAL_CACHE, key, || {
        crate::compile::DeviceExe::new(device, func.clone())
    })
    .map_err(|e| Error::new("eval", e.message))?;
    count(|s| s.on_gpu += 1);
    let types = func.param_types();
    match exe.fallback(&types) {
        Ok(Some(_)) => count(|s| s.interpreted += 1),
        Ok(None) => count(|s| s.compiled += 1),
        Err(e) => return Err(Error::new("eval", format!("{device}: {e}"))),
    }
    exe.run(inputs)
        .map_err(|e| Error::new("eval", format!("{device}: {e}")))
}

/// Lowers what [`eval`] of `arrays` would run: the unevaluated part of their
/// graph as one function (inputs: the values it reads; results: the
/// requested arrays and the intermediates still held elsewhere), with the
/// input data. For inspection and tests; `eval` itself runs this.
pub fn eval_plan(arrays: &[&Array]) -> Result<(Func, Vec<Literal>, Vec<Array>), Error> {
    for a in arrays {
        a.check()?;
    }
    let todo: Vec<&Array> = arrays
        .iter()
        .copied()
        .filter(|a| !a.is_evaluated())
        .collect();
    let mut l = Lowering::new(Mode::Eval, Func::new("eval", Vec::new()));
    l.lower(&todo)?;
    // Keep the value of every emitted node that someone besides this graph
    // and the `emitted` list holds (the callers' handles count as such).
    let keep: Vec<Array> = std::mem::take(&mut l.emitted)
        .into_iter()
        .filter(|a| {
            let internal = l.uses.get(&a.0.id).copied().unwrap_or(0) + 1;
            Arc::strong_count(&a.0) > internal
        })
        .collect();
    l.func.results = keep.iter().map(|a| l.values[&a.0.id]).collect();
    Ok((l.func, l.inputs, keep))
}

/// Evaluates `arrays` (and nothing already evaluated): the unevaluated part
/// of their graph becomes one function, run by the backend
/// [`set_default_backend`] chose (by default [`Backend::Auto`]: native code
/// for large graphs, the reference interpreter for small ones); native code
/// runs on the default device ([`crate::set_default_device`]: the CPU, or a
/// GPU as MLX's `set_default_device(mx.gpu)` makes evaluation run there).
/// Values are stored in the requested arrays and in every intermediate that
/// something outside this graph still holds, so later evals reuse them.
pub fn eval(arrays: &[&Array]) -> Result<(), Error> {
    for a in arrays {
        a.check()?;
    }
    if arrays.iter().all(|a| a.is_evaluated()) {
        return Ok(());
    }
    let (func, inputs, keep) = eval_plan(arrays)?;
    let out = run_backend(default_backend(), &func, &inputs)?;
    if out.len() != keep.len() {
        return Err(Error::new(
            "eval",
            format!(
                "the backend returned {} values for {} results",
                out.len(),
                keep.len()
            ),
        ));
    }
    for (a, lit) in keep.iter().zip(out) {
        if lit.ty() != a.0.ty {
            return Err(Error::new(
                "eval",
                format!("the backend returned {} for a {}", lit.ty(), a.0.ty),
            ));
        }
        a.0.set_value(lit);
    }
    Ok(())
}

/// Traces `f` on placeholder inputs of `input_types` into a function
/// `main`: the closure's graph, from its outputs back to the inputs, with
/// shared subgraphs emitted once and captured evaluated arrays as
/// `tensor.constant`. A captured array that is not evaluated yet
/// contributes its graph instead (evaluate it first to capture its data).
/// An output may be an input. Input dims may be
/// [`psionic_ir::DYN`] (shapeless tracing) where every op used allows it.
pub fn trace<F>(f: F, input_types: &[TensorType]) -> Result<Func, Error>
where
    F: FnOnce(&[Array]) -> Vec<Array>,
{
    let id = next_id();
    let inputs: Vec<Array> = input_types
        .iter()
        .enumerate()
        .map(|(i, t)| Array::placeholder(t.clone(), id, i))
        .collect();
    let outputs = f(&inputs);
    let mut l = Lowering::new(Mode::Trace(id), Func::new("main", input_types.to_vec()));
    let roots: Vec<&Array> = outputs.iter().collect();
    let results = l.lower(&roots)?;
    l.func.results = results;
    Ok(l.func)
}

/// [`trace`] for a closure that may capture arrays of enclosing traces (a
/// closure given to `grad` inside another transform that uses the outer
/// function's inputs, as JAX and MLX closures over tracers): every input
/// of another trace the outputs depend on becomes one more parameter, after
/// the inputs, in the order first reached. Returns the function and the
/// captured arrays, which the caller passes for those parameters (the
/// transformed function is then applied in the enclosing trace, so its
/// derivatives flow through them there).
pub fn trace_capturing<F>(f: F, input_types: &[TensorType]) -> Result<(Func, Vec<Array>), Error>
where
    F: FnOnce(&[Array]) -> Vec<Array>,
{
    let id = next_id();
    let inputs: Vec<Array> = input_types
        .iter()
        .enumerate()
        .map(|(i, t)| Array::placeholder(t.clone(), id, i))
        .collect();
    let outputs = f(&inputs);
    let mut l = Lowering::new(Mode::Trace(id), Func::new("main", input_types.to_vec()));
    l.captures = Some(Vec::new());
    let roots: Vec<&Array> = outputs.iter().collect();
    let results = l.lower(&roots)?;
    l.func.results = results;
    let captured = l.captures.take().unwrap_or_default();
    // Captured parameters were added between ops: renumber.
    let func = if captured.is_empty() {
        l.func
    } else {
        l.func.compact()
    };
    Ok((func, captured))
}

/// [`trace`] with the input types of example arrays (their values are not used).
pub fn trace_with<F>(f: F, examples: &[Array]) -> Result<Func, Error>
where
    F: FnOnce(&[Array]) -> Vec<Array>,
{
    for e in examples {
        e.check()?;
    }
    let types: Vec<TensorType> = examples.iter().map(|a| a.ty().clone()).collect();
    trace(f, &types)
}

impl Array {
    /// Evaluates this array (see [`eval`]).
    pub fn eval(&self) -> Result<&Array, Error> {
        eval(&[self])?;
        Ok(self)
    }

    /// The evaluated value (evaluating first if needed).
    pub fn literal(&self) -> Result<Literal, Error> {
        eval(&[self])?;
        self.value()
            .cloned()
            .ok_or_else(|| Error::new("eval", "no value was stored"))
    }

    /// Every element in row-major order, converted to `T` as `astype` would
    /// (floats to integers truncate toward zero).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, Error> {
        let lit = self.literal()?;
        Ok((0..lit.num_elements()).map(|i| T::read(&lit, i)).collect())
    }

    /// The single element of a one-element array, converted to `T`.
    pub fn item<T: Element>(&self) -> Result<T, Error> {
        let lit = self.literal()?;
        if lit.num_elements() != 1 {
            return Err(Error::new(
                "item",
                format!(
                    "item needs an array of one element, found shape {}",
                    shape_str(self.shape())
                ),
            ));
        }
        Ok(T::read(&lit, 0))
    }
}
