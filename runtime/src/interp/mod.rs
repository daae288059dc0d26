//! The reference interpreter: the oracle every pass and backend is checked
//! against.
//!
//! [`run_func`] checks the inputs against the function's parameters (a
//! [`DYN`] dimension accepts any size), then evaluates ops in
//! order with [`eval_op`], freeing each value after its last use. [`eval_op`]
//! computes result types from the concrete operand types with
//! [`psionic_ir::ops::infer_types`] (so shapeless functions run at any shape
//! they accept) and dispatches on the opcode; an opcode this module does not
//! handle goes to [`extra::eval`], where further op families live.
//!
//! Semantics, for every dtype each op's shape rule accepts:
//! - floats (f16, bf16, f32, f64) are computed in f64 and rounded to the dtype
//!   once per op; reductions, scans and matmul accumulate in f64;
//! - integers are exact (in i128) and wrap to the dtype; integer division and
//!   remainder by zero give 0; bool arithmetic is integer arithmetic then
//!   "non-zero" (add is or, multiply is and, subtract is xor);
//! - float to integer casts truncate toward zero and saturate, NaN gives 0;
//! - NaN propagates through maximum/minimum and max/min reductions, wins
//!   argmax/argmin (first NaN), and sorts last;
//! - c64 is a pair of f32s computed as an f64 complex number.
//!
//! Where MLX's CPU backend is undefined or differs, the op table's summaries
//! decide: integer `x / 0`, `x // 0`, `x % 0` are 0; integer powers with a
//! negative exponent are 0 (every base, as MLX's); shifts by a negative amount or by
//! the bit width or more give 0 (left) or the sign fill (right); float casts
//! to integers saturate; dynamic-slice starts clamp; gather/scatter indices
//! wrap once when negative and are otherwise an error when out of range;
//! `sign(NaN)` is NaN; float `floor_divide` is `floor(a / b)` of the exact
//! quotient (NumPy's `9` for `1 // 0.1f`, where MLX's f32 quotient gives 10);
//! float `arange` is `start + i*step` rounded once (MLX accumulates).
//!
//! Code under [`extra`] may use the private helpers of this module:
//! `data` (decode/encode between literals and `Data`, strides, strided
//! views), `complex::C`, `elementwise` (cast, NaN-aware max/min) and
//! `layout` (broadcast, `update_at` for scatter-like writes).
//!
//! [`compare_literals`] checks another evaluator's result against this one's
//! (exact for integers, ulps or an absolute tolerance for floats).
//!
//! Correctness comes before speed, but every op is linear in its elements
//! (sorts n log n, matmul m·k·n), with plain strided loops.

mod check;
mod complex;
mod contract;
mod data;
mod elementwise;
pub mod extra;
mod index;
mod layout;
mod reduce;
mod sort;
mod special;

use std::fmt;

use psionic_ir::ops::infer_types;
use psionic_ir::{Attrs, DType, Func, Literal, Loc, Opcode, TensorType, DYN};

pub use check::{compare_literals, ulp_distance};
use data::{encode_floats, encode_ints, from_bytes, static_shape};

/// Why a function could not be interpreted: which op (or input) and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    /// Index of the failing op in [`Func::ops`]; `None` for input checks.
    pub op_index: Option<usize>,
    /// Text name of the failing op (`tensor.add`).
    pub op_name: Option<&'static str>,
    /// Source location of the op, when it came from text.
    pub loc: Loc,
    pub message: String,
}

impl RuntimeError {
    fn input(message: String) -> Self {
        RuntimeError {
            op_index: None,
            op_name: None,
            loc: Loc::default(),
            message,
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.op_index {
            write!(f, "op #{i}")?;
            if let Some(n) = self.op_name {
                write!(f, " ({n})")?;
            }
            if self.loc.is_known() {
                write!(f, " at {}", self.loc)?;
            }
            write!(f, ": ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuntimeError {}

fn agrees(declared: &TensorType, actual: &TensorType) -> bool {
    declared.dtype == actual.dtype
        && declared.rank() == actual.rank()
        && declared
            .shape
            .iter()
            .zip(&actual.shape)
            .all(|(&d, &a)| d == DYN || d == a)
}

/// What a run held at its peak, for checking that values are freed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Most values alive at once (parameters included).
    pub peak_live_values: usize,
    /// Most bytes held by live values at once (a buffer shared by two values,
    /// as after a reshape, counts twice).
    pub peak_live_bytes: usize,
}

/// Runs `f` on `inputs` and returns its results.
///
/// Inputs must match the parameters in count, dtype and shape (a `DYN`
/// dimension accepts any size). Each value is dropped after its last use.
pub fn run_func(f: &Func, inputs: &[Literal]) -> Result<Vec<Literal>, RuntimeError> {
    run_func_with_stats(f, inputs).map(|(r, _)| r)
}

/// [`run_func`], also reporting the peak of live values.
pub fn run_func_with_stats(
    f: &Func,
    inputs: &[Literal],
) -> Result<(Vec<Literal>, RunStats), RuntimeError> {
    if inputs.len() != f.params.len() {
        return Err(RuntimeError::input(format!(
            "function @{} takes {} inputs, got {}",
            f.name,
            f.params.len(),
            inputs.len()
        )));
    }
    let nvals = f.value_types.len();
    let mut values: Vec<Option<Literal>> = vec![None; nvals];
    for (k, (&p, lit)) in f.params.iter().zip(inputs).enumerate() {
        let want = f
            .value_types
            .get(p.index())
            .ok_or_else(|| RuntimeError::input(format!("parameter {k} has no type")))?;
        let got = lit.ty();
        if !agrees(want, &got) {
            return Err(RuntimeError::input(format!(
                "input {k}: expected {want}, got {got}"
            )));
        }
        values[p.index()] = Some(lit.clone());
    }

    // Liveness: the last op that reads each value; results live to the end.
    const FOREVER: usize = usize::MAX;
    let mut last_use: Vec<Option<usize>> = vec![None; nvals];
    for (i, op) in f.ops.iter().enumerate() {
        for v in &op.operands {
            if let Some(slot) = last_use.get_mut(v.index()) {
                *slot = Some(i);
            }
        }
    }
    for v in &f.results {
        if let Some(slot) = last_use.get_mut(v.index()) {
            *slot = Some(FOREVER);
        }
    }
    for &p in &f.params {
        if last_use[p.index()].is_none() {
            values[p.index()] = None;
        }
    }
    let mut stats = RunStats::default();
    let (mut live, mut live_bytes) = (0usize, 0usize);
    for l in values.iter().flatten() {
        live += 1;
        live_bytes += l.bytes().len();
    }
    stats.peak_live_values = live;
    stats.peak_live_bytes = live_bytes;

    for (i, op) in f.ops.iter().enumerate() {
        let err = |message: String| RuntimeError {
            op_index: Some(i),
            op_name: Some(op.opcode.name()),
            loc: op.loc,
            message,
        };
        let mut operands = Vec::with_capacity(op.operands.len());
        for v in &op.operands {
            match values.get(v.index()).and_then(Option::as_ref) {
                Some(l) => operands.push(l),
                None => return Err(err(format!("operand %{} is not defined here", v.0))),
            }
        }
        let results = eval_op(op.opcode, &op.attrs, &operands).map_err(&err)?;
        if results.len() != op.results.len() {
            return Err(err(format!(
                "produced {} results, the op declares {}",
                results.len(),
                op.results.len()
            )));
        }
        for (k, (r, &v)) in results.into_iter().zip(&op.results).enumerate() {
            let declared = f
                .value_types
                .get(v.index())
                .ok_or_else(|| err(format!("result %{} has no type", v.0)))?;
            if !agrees(declared, &r.ty()) {
                return Err(err(format!(
                    "result {k} is {}, but the function declares {declared}",
                    r.ty()
                )));
            }
            if last_use[v.index()].is_some() {
                live += 1;
                live_bytes += r.bytes().len();
                if let Some(old) = values[v.index()].replace(r) {
                    live -= 1;
                    live_bytes -= old.bytes().len();
                }
            }
        }
        stats.peak_live_values = stats.peak_live_values.max(live);
        stats.peak_live_bytes = stats.peak_live_bytes.max(live_bytes);
        for v in &op.operands {
            if last_use[v.index()] == Some(i) {
                if let Some(old) = values[v.index()].take() {
                    live -= 1;
                    live_bytes -= old.bytes().len();
                }
            }
        }
    }

    let results = f
        .results
        .iter()
        .map(|v| {
            values
                .get(v.index())
                .and_then(Option::clone)
                .ok_or_else(|| RuntimeError::input(format!("result %{} is never defined", v.0)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((results, stats))
}

/// Evaluates one op on concrete operands.
///
/// Checks arity, attributes, dtypes and shapes through the op table first,
/// so a bad application gives the shape rule's message.
pub fn eval_op(
    opcode: Opcode,
    attrs: &Attrs,
    operands: &[&Literal],
) -> Result<Vec<Literal>, String> {
    let types: Vec<TensorType> = operands.iter().map(|l| l.ty()).collect();
    let refs: Vec<&TensorType> = types.iter().collect();
    let out = infer_types(opcode, &refs, attrs)?;
    let results = match dispatch(opcode, attrs, operands, &out) {
        Some(r) => r?,
        None => match extra::eval(opcode, attrs, operands) {
            Some(r) => r?,
            None => {
                return Err(format!(
                    "op `{}` is not implemented by the interpreter",
                    opcode.name()
                ))
            }
        },
    };
    if results.len() != out.len() || results.iter().zip(&out).any(|(r, t)| r.ty() != *t) {
        let got: Vec<String> = results.iter().map(|r| r.ty().to_string()).collect();
        let want: Vec<String> = out.iter().map(|t| t.to_string()).collect();
        return Err(format!(
            "internal: `{}` produced [{}], its shape rule says [{}]",
            opcode.name(),
            got.join(", "),
            want.join(", ")
        ));
    }
    Ok(results)
}

fn one(r: Result<Literal, String>) -> Result<Vec<Literal>, String> {
    r.map(|l| vec![l])
}

fn axis(attrs: &Attrs, name: &str) -> Result<usize, String> {
    Ok(attrs.int(name)? as usize)
}

/// The ops this module evaluates; `None` hands the op to [`extra::eval`].
/// Add an op family by adding an arm.
fn dispatch(
    op: Opcode,
    attrs: &Attrs,
    x: &[&Literal],
    out: &[TensorType],
) -> Option<Result<Vec<Literal>, String>> {
    use Opcode::*;
    let shape0 = || static_shape(&out[0]);
    Some(match op {
        // ---- creation ----
        Constant => attrs.dense("value").map(|l| vec![l.clone()]),
        Full => one(full(attrs, out)),
        Iota => one(iota(attrs, out)),
        Arange => one(arange(attrs, out)),

        // ---- elementwise ----
        Abs | Negative | Sign | Square | Sqrt | Rsqrt | Reciprocal | Exp | Expm1 | Log | Log1p
        | Log2 | Log10 | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh | Cosh | Tanh
        | Arcsinh | Arccosh | Arctanh | Sigmoid | Erf | Erfinv | Floor | Ceil | Round | IsNan
        | IsInf | IsFinite | LogicalNot | BitwiseInvert => one(elementwise::unary(op, x[0])),
        StopGradient | Copy => Ok(vec![x[0].clone()]),
        Add | Subtract | Multiply | Divide | FloorDivide | Remainder | Power | Maximum
        | Minimum | Arctan2 | LogAddExp | LogicalAnd | LogicalOr | BitwiseAnd | BitwiseOr
        | BitwiseXor | LeftShift | RightShift => one(elementwise::binary(op, x[0], x[1])),
        DivMod => elementwise::divmod(x[0], x[1]),
        Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual => {
            let equal_nan = attrs.bool("equal_nan").unwrap_or(false);
            one(elementwise::compare(op, x[0], x[1], equal_nan))
        }
        Select => one(elementwise::select(x[0], x[1], x[2])),
        Cast => one(elementwise::cast(x[0], out[0].dtype)),
        Bitcast => {
            shape0().and_then(|s| elementwise::bitcast(x[0], out[0].dtype, &s).map(|l| vec![l]))
        }

        // ---- reductions ----
        ReduceSum | ReduceProd | ReduceMax | ReduceMin | ReduceAll | ReduceAny | LogSumExp => {
            shape0().and_then(|s| {
                one(reduce::reduce(
                    op,
                    x[0],
                    attrs.ints("axes")?,
                    out[0].dtype,
                    &s,
                ))
            })
        }
        Argmax | Argmin => {
            shape0().and_then(|s| one(reduce::arg_reduce(op, x[0], axis(attrs, "axis")?, &s)))
        }
        Softmax => attrs
            .ints("axes")
            .and_then(|a| one(reduce::softmax(x[0], a))),

        // ---- scans ----
        Cumsum | Cumprod | Cummax | Cummin | CumLogAddExp => axis(attrs, "axis").and_then(|a| {
            one(reduce::scan(
                op,
                x[0],
                a,
                attrs.bool("reverse").unwrap_or(false),
                attrs.bool("inclusive").unwrap_or(true),
                out[0].dtype,
            ))
        }),

        // ---- layout ----
        Reshape | ExpandDims | Squeeze | Flatten | Unflatten => {
            shape0().and_then(|s| one(layout::reshape(x[0], &s)))
        }
        Transpose => shape0().and_then(|s| one(layout::transpose(x[0], attrs.ints("perm")?, &s))),
        Broadcast | BroadcastLike => shape0().and_then(|s| one(layout::broadcast(x[0], &s))),
        Slice => shape0().and_then(|s| one(layout::slice(x[0], attrs, &s))),
        SliceUpdate => one(layout::slice_update(x[0], x[1], attrs)),
        Pad => shape0().and_then(|s| one(layout::pad(x[0], x[1], attrs.ints("low")?, &s))),
        Concatenate => shape0().and_then(|s| one(layout::concatenate(x, axis(attrs, "axis")?, &s))),
        Split => attrs
            .ints("indices")
            .and_then(|idx| layout::split(x[0], axis(attrs, "axis")?, idx)),
        Flip => attrs.ints("axes").and_then(|a| one(layout::flip(x[0], a))),

        // ---- indexing ----
        DynamicSlice => {
            shape0().and_then(|s| one(index::dynamic_slice(x[0], x[1], attrs.ints("axes")?, &s)))
        }
        DynamicSliceUpdate => attrs
            .ints("axes")
            .and_then(|a| one(index::dynamic_slice_update(x[0], x[1], x[2], a))),
        Gather => shape0().and_then(|s| {
            let sizes: Vec<usize> = attrs
                .ints("slice_sizes")?
                .iter()
                .map(|&d| d as usize)
                .collect();
            one(index::gather(
                x[0],
                &x[1..],
                attrs.ints("axes")?,
                &sizes,
                &s,
            ))
        }),
        TakeAlongAxis => {
            axis(attrs, "axis").and_then(|a| one(index::take_along_axis(x[0], x[1], a)))
        }
        Scatter => attrs.ints("axes").and_then(|a| {
            let n = x.len();
            one(index::scatter(
                x[0],
                &x[1..n - 1],
                x[n - 1],
                a,
                attrs.str("reduce").unwrap_or("none"),
            ))
        }),
        ScatterAxis => axis(attrs, "axis").and_then(|a| {
            one(index::scatter_axis(
                x[0],
                x[1],
                x[2],
                a,
                attrs.str("reduce").unwrap_or("none"),
            ))
        }),

        // ---- sorting ----
        Sort | Argsort | Partition | Argpartition => {
            axis(attrs, "axis").and_then(|a| one(sort::sort(op, x[0], a)))
        }

        // ---- contractions ----
        Matmul => one(contract::matmul(x[0], x[1])),
        AddMM => one(contract::addmm(
            x[0],
            x[1],
            x[2],
            attrs.float("alpha").unwrap_or(1.0),
            attrs.float("beta").unwrap_or(1.0),
        )),

        NumberOfElements => one(number_of_elements(x[0], attrs, out[0].dtype)),

        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// A literal of `shape` with every element `v` converted to `dt` (as `tensor.cast` would).
fn splat(v: f64, dt: DType, shape: &[usize]) -> Result<Literal, String> {
    let one = elementwise::cast(&Literal::scalar_f64(DType::F64, v), dt)?;
    let n: usize = shape.iter().product();
    from_bytes(dt, shape, one.bytes().repeat(n))
}

fn full(attrs: &Attrs, out: &[TensorType]) -> Result<Literal, String> {
    splat(attrs.float("value")?, out[0].dtype, &static_shape(&out[0])?)
}

fn iota(attrs: &Attrs, out: &[TensorType]) -> Result<Literal, String> {
    let shape = static_shape(&out[0])?;
    let a = axis(attrs, "axis")?;
    let st = data::strides(&shape);
    let n: usize = shape.iter().product();
    let idx: Vec<i128> = (0..n)
        .map(|i| ((i as isize / st[a]) as usize % shape[a]) as i128)
        .collect();
    let dt = out[0].dtype;
    if dt.is_float() {
        encode_floats(
            dt,
            &shape,
            &idx.iter().map(|&i| i as f64).collect::<Vec<_>>(),
        )
    } else {
        encode_ints(dt, &shape, &idx)
    }
}

/// `arange`: floats are `start + i*step` computed in f64 and rounded once;
/// integer dtypes follow MLX: start and `start + step` are converted to the
/// dtype first, and their difference is the integer step.
fn arange(attrs: &Attrs, out: &[TensorType]) -> Result<Literal, String> {
    let shape = static_shape(&out[0])?;
    let n = shape[0];
    let (start, step) = (attrs.float("start")?, attrs.float("step")?);
    let dt = out[0].dtype;
    if dt.is_float() {
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        encode_floats(dt, &shape, &v)
    } else {
        let to_int = |v: f64| -> Result<i128, String> {
            let l = elementwise::cast(&Literal::scalar_f64(DType::F64, v), DType::I64)?;
            Ok(l.get_i64(0) as i128)
        };
        let s = to_int(start)?;
        let d = to_int(start + step)? - s;
        let v: Vec<i128> = (0..n).map(|i| s + i as i128 * d).collect();
        encode_ints(dt, &shape, &v)
    }
}

fn number_of_elements(x: &Literal, attrs: &Attrs, dt: DType) -> Result<Literal, String> {
    let count: usize = attrs
        .ints("axes")?
        .iter()
        .map(|&a| x.shape()[a as usize])
        .product();
    let v = if attrs.bool("inverted").unwrap_or(false) {
        1.0 / count as f64
    } else {
        count as f64
    };
    splat(v, dt, &[])
}
