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
use std::sync::Arc;

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
/// of their graph becomes one function, run by the reference interpreter.
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
    let out = interpret(&func, &inputs)?;
    if out.len() != keep.len() {
        return Err(Error::new(
            "eval",
            format!(
                "the interpreter returned {} values for {} results",
                out.len(),
                keep.len()
            ),
        ));
    }
    for (a, lit) in keep.iter().zip(out) {
        if lit.ty() != a.0.ty {
            return Err(Error::new(
                "eval",
                format!("the interpreter returned {} for a {}", lit.ty(), a.0.ty),
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
