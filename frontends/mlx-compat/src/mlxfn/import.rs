//! From a parsed `.mlxfn` ([`RawFile`]) to IR: one [`Func`] per trace, each
//! MLX primitive mapped onto IR ops (spec §9, §10).
//!
//! Files exported shapeless get all-symbolic parameters (MLX keeps only
//! ranks and dtypes at import); shapes then re-infer at call time. Otherwise
//! every inferred type is checked against the shape the file records.

use super::format::{EntryKind, RawFile, RawFunc, RawOp};
use super::map::{self, ImportRule};
use super::prims::Field;
use super::MlxfnError;
use psionic_ir::ops::attr_name;
use psionic_ir::{Attr, AttrKind, Attrs, DType, Func, Module, Opcode, TensorType, Value, DYN};
use std::collections::HashMap;

/// Builds the module: one function named `main` per trace, with module
/// attributes `mlx_version`, `shapeless` and `metadata`, and function
/// attribute `kwargs` (see [`super::kwarg_names`]).
pub fn to_module(raw: &RawFile) -> Result<Module, MlxfnError> {
    let mut m = Module::new(Vec::with_capacity(raw.funcs.len()));
    for rf in &raw.funcs {
        m.funcs.push(import_func(raw, rf)?);
    }
    m.set_attr("mlx_version", Attr::Str(raw.version.clone()));
    m.set_attr("shapeless", Attr::Bool(raw.shapeless));
    m.set_attr("metadata", Attr::Str(raw.metadata.clone()));
    Ok(m)
}

fn import_func(raw: &RawFile, rf: &RawFunc) -> Result<Func, MlxfnError> {
    let types: Vec<TensorType> = rf
        .inputs
        .iter()
        .map(|(_, d)| {
            let shape = if raw.shapeless {
                vec![DYN; d.shape.len()]
            } else {
                d.shape.clone()
            };
            TensorType::new(d.dtype, shape)
        })
        .collect();
    let mut f = Func::new("main", types);
    if !rf.kwargs.is_empty() {
        super::set_kwarg_names(&mut f, &rf.kwargs).map_err(|m| MlxfnError::at(rf.at, m))?;
    }
    let mut vals: HashMap<u64, Value> = HashMap::new();
    for (i, (id, _)) in rf.inputs.iter().enumerate() {
        vals.insert(*id, f.params[i]);
    }
    let mut const_vals: HashMap<u64, Value> = HashMap::new();
    for e in &rf.tape {
        match &e.kind {
            EntryKind::Input => {}
            EntryKind::Constant => {
                if let Some(&v) = const_vals.get(&e.id) {
                    vals.insert(e.id, v);
                    continue;
                }
                let lit = raw.constants.get(&e.id).ok_or_else(|| {
                    MlxfnError::at(e.at, format!("constant {:#x} has no data", e.id))
                })?;
                let v = f
                    .push1(
                        Opcode::Constant,
                        &[],
                        Attrs::new().with("value", Attr::Dense(lit.clone())),
                    )
                    .map_err(|err| MlxfnError::at(e.at, err.message))?;
                const_vals.insert(e.id, v);
                vals.insert(e.id, v);
            }
            EntryKind::Op(op) => {
                let operands: Vec<Value> = op
                    .inputs
                    .iter()
                    .map(|i| {
                        vals.get(i).copied().ok_or_else(|| {
                            MlxfnError::at(
                                e.at,
                                format!("{}: input {i:#x} is not defined", op.name),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                let outs = map_op(&mut f, op, &operands, raw.shapeless)
                    .map_err(|m| MlxfnError::at(e.at, format!("{}: {m}", op.name)))?;
                if outs.len() != op.outputs.len() {
                    return Err(MlxfnError::at(
                        e.at,
                        format!(
                            "{}: the file lists {} outputs, the mapping gives {}",
                            op.name,
                            op.outputs.len(),
                            outs.len()
                        ),
                    ));
                }
                for (v, (id, d)) in outs.into_iter().zip(&op.outputs) {
                    let mut v = v;
                    let t = f.ty(v).clone();
                    if !raw.shapeless && t.shape != d.shape {
                        return Err(MlxfnError::at(
                            e.at,
                            format!(
                                "{}: the file records shape {:?} but the op gives {}",
                                op.name, d.shape, t
                            ),
                        ));
                    }
                    if t.dtype != d.dtype {
                        v = f
                            .push1(
                                Opcode::Cast,
                                &[v],
                                Attrs::new().with("dtype", Attr::DType(d.dtype)),
                            )
                            .map_err(|err| MlxfnError::at(e.at, err.message))?;
                    }
                    vals.insert(*id, v);
                }
            }
        }
    }
    f.results = rf
        .outputs
        .iter()
        .map(|o| {
            vals.get(o)
                .copied()
                .ok_or_else(|| MlxfnError::at(rf.at, format!("output id {o:#x} is not defined")))
        })
        .collect::<Result<_, _>>()?;
    Ok(f)
}

fn push(f: &mut Func, op: Opcode, operands: &[Value], attrs: Attrs) -> Result<Vec<Value>, String> {
    f.push(op, operands, attrs).map_err(|e| e.message)
}

fn int(op: &RawOp, name: &str) -> Result<i64, String> {
    match op.field(name) {
        Some(Field::Int(v)) => Ok(*v),
        other => Err(format!("state field {name} is {other:?}, expected an int")),
    }
}
fn ints(op: &RawOp, name: &str) -> Result<Vec<i64>, String> {
    match op.field(name) {
        Some(Field::Ints(v)) => Ok(v.clone()),
        other => Err(format!("state field {name} is {other:?}, expected a list")),
    }
}
fn boolean(op: &RawOp, name: &str) -> Result<bool, String> {
    match op.field(name) {
        Some(Field::Bool(v)) => Ok(*v),
        other => Err(format!("state field {name} is {other:?}, expected a bool")),
    }
}
fn float(op: &RawOp, name: &str) -> Result<f64, String> {
    match op.field(name) {
        Some(Field::Float(v)) => Ok(*v),
        other => Err(format!("state field {name} is {other:?}, expected a float")),
    }
}

fn norm_axis(a: i64, rank: usize) -> i64 {
    if a < 0 {
        a + rank as i64
    } else {
        a
    }
}
fn norm_axes(v: &[i64], rank: usize, sort: bool) -> Vec<i64> {
    let mut v: Vec<i64> = v.iter().map(|&a| norm_axis(a, rank)).collect();
    if sort {
        v.sort_unstable();
        v.dedup();
    }
    v
}

fn pick<'a>(table: &[&'a str], i: i64, what: &str) -> Result<&'a str, String> {
    usize::try_from(i)
        .ok()
        .and_then(|i| table.get(i).copied())
        .ok_or_else(|| format!("unknown {what} {i}"))
}

fn op_named(name: &str) -> Result<Opcode, String> {
    Opcode::from_name(name).ok_or_else(|| format!("maps to `{name}`, which this build's IR lacks"))
}

/// Maps one primitive application; returns one value per MLX output.
fn map_op(f: &mut Func, op: &RawOp, x: &[Value], shapeless: bool) -> Result<Vec<Value>, String> {
    let rank0 = x.first().map(|&v| f.ty(v).rank()).unwrap_or(0);
    let rule = map::import_rule(&op.name).ok_or_else(|| "no mapping to Psionic IR".to_string())?;
    let _ = shapeless;
    let a = Attrs::new();
    match rule {
        ImportRule::Direct(name) => push(f, op_named(name)?, x, a),
        ImportRule::Generic(name) => {
            let opcode = op_named(name)?;
            let attrs = generic_attrs(opcode, op)?;
            push(f, opcode, x, attrs)
        }
        ImportRule::Unsupported(why) => Err(why.to_string()),
        ImportRule::Special => special(f, op, x, rank0),
    }
}

/// Enum fields whose IR attribute is a string.
fn enum_name(field: &str, v: i64) -> Option<&'static str> {
    let t: &[&str] = match field {
        "mode" => &["affine", "mxfp4", "mxfp8", "nvfp4"],
        _ => return None,
    };
    usize::try_from(v).ok().and_then(|i| t.get(i).copied())
}

/// State fields become attributes of the same name, converted to the kind
/// the op's row asks for.
fn generic_attrs(opcode: Opcode, op: &RawOp) -> Result<Attrs, String> {
    let def = opcode.def();
    let mut attrs = Attrs::new();
    for (fname, field) in &op.state {
        if matches!(field, Field::Null) {
            continue;
        }
        let Some(spec) = def.attrs.iter().find(|s| s.name == *fname) else {
            // The op itself encodes this field (e.g. Quantize's `dequantize`).
            if map::implied_field(&op.name, fname) {
                continue;
            }
            return Err(format!(
                "`{}` has no attribute for state field {fname}",
                def.name
            ));
        };
        let name = attr_name(def, fname).unwrap_or(spec.name);
        let attr = match (spec.kind, field) {
            (AttrKind::Bool, Field::Bool(b)) => Attr::Bool(*b),
            (AttrKind::Int, Field::Int(v)) => Attr::Int(*v),
            (AttrKind::Int, Field::Bool(b)) => Attr::Int(i64::from(*b)),
            (AttrKind::Float, Field::Float(v)) => Attr::Float(*v),
            (AttrKind::Float, Field::Int(v)) => Attr::Float(*v as f64),
            (AttrKind::Ints, Field::Ints(v)) => Attr::Ints(v.clone()),
            (AttrKind::Str, Field::Str(s)) => Attr::Str(s.clone()),
            (AttrKind::Str, Field::Int(v)) => Attr::Str(
                enum_name(fname, *v)
                    .ok_or_else(|| format!("state field {fname}: unknown value {v}"))?
                    .to_string(),
            ),
            (AttrKind::DType, Field::DType(d)) => Attr::DType(*d),
            (k, fv) => {
                return Err(format!(
                    "state field {fname} ({fv:?}) does not fit attribute `{}` ({})",
                    spec.name,
                    k.name()
                ))
            }
        };
        attrs.set(name, attr);
    }
    // A result dtype the state does not hold (dequantize's) is the one the
    // file records for the first output.
    if let (Some(spec), None, Some((_, d))) = (
        def.attrs
            .iter()
            .find(|s| s.name == "dtype" && s.kind == AttrKind::DType),
        attrs.get("dtype"),
        op.outputs.first(),
    ) {
        attrs.set(spec.name, Attr::DType(d.dtype));
    }
    Ok(attrs)
}

const REDUCE_OPS: [&str; 6] = [
    "tensor.reduce_all",
    "tensor.reduce_any",
    "tensor.reduce_sum",
    "tensor.reduce_prod",
    "tensor.reduce_min",
    "tensor.reduce_max",
];
const SCAN_OPS: [&str; 5] = [
    "tensor.cummax",
    "tensor.cummin",
    "tensor.cumsum",
    "tensor.cumprod",
    "tensor.cumlogaddexp",
];
const SCATTER_REDUCE: [&str; 5] = ["max", "min", "sum", "prod", "none"];
const BITWISE_OPS: [&str; 5] = [
    "tensor.bitwise_and",
    "tensor.bitwise_or",
    "tensor.bitwise_xor",
    "tensor.left_shift",
    "tensor.right_shift",
];

fn special(f: &mut Func, op: &RawOp, x: &[Value], rank: usize) -> Result<Vec<Value>, String> {
    use Opcode as O;
    let ax = |v: i64| Attr::Int(norm_axis(v, rank));
    let attrs = Attrs::new;
    match op.name.as_str() {
        // MLX's operands are (a, b, c); ours are (c, a, b).
        "AddMM" => push(
            f,
            O::AddMM,
            &[*x.get(2).ok_or("AddMM takes 3 operands")?, x[0], x[1]],
            attrs()
                .with("alpha", Attr::Float(float(op, "alpha")?))
                .with("beta", Attr::Float(float(op, "beta")?)),
        ),
        "Arange" => {
            let dtype = op.outputs.first().map(|o| o.1.dtype).unwrap_or(DType::F32);
            push(
                f,
                O::Arange,
                x,
                attrs()
                    .with("start", Attr::Float(float(op, "start")?))
                    .with("stop", Attr::Float(float(op, "stop")?))
                    .with("step", Attr::Float(float(op, "step")?))
                    .with("dtype", Attr::DType(dtype)),
            )
        }
        "ArgPartition" | "Partition" => push(
            f,
            if op.name == "Partition" {
                O::Partition
            } else {
                O::Argpartition
            },
            x,
            attrs()
                .with("kth", Attr::Int(int(op, "kth")?))
                .with("axis", ax(int(op, "axis")?)),
        ),
        "ArgReduce" => {
            let o = match int(op, "reduce_type")? {
                0 => O::Argmin,
                1 => O::Argmax,
                t => return Err(format!("unknown reduce_type {t}")),
            };
            push(
                f,
                o,
                x,
                attrs()
                    .with("axis", ax(int(op, "axis")?))
                    .with("keepdims", Attr::Bool(true)),
            )
        }
        "ArgSort" | "Sort" | "Concatenate" | "GatherAxis" => {
            let o = match op.name.as_str() {
                "ArgSort" => O::Argsort,
                "Sort" => O::Sort,
                "Concatenate" => O::Concatenate,
                _ => O::TakeAlongAxis,
            };
            push(f, o, x, attrs().with("axis", ax(int(op, "axis")?)))
        }
        "AsType" | "View" => {
            let d = match op.field("dtype") {
                Some(Field::DType(d)) => *d,
                _ => return Err("state field dtype missing".into()),
            };
            let o = if op.name == "AsType" {
                O::Cast
            } else {
                O::Bitcast
            };
            push(f, o, x, attrs().with("dtype", Attr::DType(d)))
        }
        "BitwiseBinary" => {
            let name = pick(&BITWISE_OPS, int(op, "op")?, "bitwise op")?;
            push(f, op_named(name)?, x, attrs())
        }
        "Broadcast" => {
            if x.len() == 1 {
                push(
                    f,
                    O::Broadcast,
                    x,
                    attrs().with("shape", Attr::Ints(ints(op, "shape")?)),
                )
            } else {
                push(f, O::BroadcastLike, x, attrs())
            }
        }
        "BroadcastAxes" => {
            let ig = ints(op, "ignore_axes")?;
            let a = if ig.is_empty() {
                attrs()
            } else {
                attrs().with("ignore_axes", Attr::Ints(ig))
            };
            push(f, O::BroadcastLike, x, a)
        }
        "Depends" => {
            // Outputs are the first inputs; the rest only order side effects,
            // which this IR does not have.
            let n = op.outputs.len();
            if let Some(o) = Opcode::from_name("tensor.depends") {
                let a = match attr_name(o.def(), "num_outputs") {
                    Some(name) => attrs().with(name, Attr::Int(n as i64)),
                    None => attrs(),
                };
                return push(f, o, x, a);
            }
            if n > x.len() {
                return Err(format!("{n} outputs for {} inputs", x.len()));
            }
            Ok(x[..n].to_vec())
        }
        "DynamicSlice" => push(
            f,
            O::DynamicSlice,
            x,
            attrs()
                .with(
                    "axes",
                    Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
                )
                .with("sizes", Attr::Ints(ints(op, "slice_size")?)),
        ),
        "DynamicSliceUpdate" => push(
            f,
            O::DynamicSliceUpdate,
            x,
            attrs().with(
                "axes",
                Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
            ),
        ),
        "Equal" => {
            let a = if boolean(op, "equal_nan")? {
                attrs().with("equal_nan", Attr::Bool(true))
            } else {
                attrs()
            };
            push(f, O::Equal, x, a)
        }
        "ExpandDims" => {
            let n = ints(op, "axes")?.len();
            push(
                f,
                O::ExpandDims,
                x,
                attrs().with(
                    "axes",
                    Attr::Ints(norm_axes(&ints(op, "axes")?, rank + n, true)),
                ),
            )
        }
        "Squeeze" => push(
            f,
            O::Squeeze,
            x,
            attrs().with(
                "axes",
                Attr::Ints(norm_axes(&ints(op, "axes")?, rank, true)),
            ),
        ),
        "Transpose" => push(
            f,
            O::Transpose,
            x,
            attrs().with(
                "perm",
                Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
            ),
        ),
        "Flatten" => push(
            f,
            O::Flatten,
            x,
            attrs()
                .with(
                    "start_axis",
                    Attr::Int(norm_axis(int(op, "start_axis")?, rank.max(1))),
                )
                .with(
                    "end_axis",
                    Attr::Int(norm_axis(int(op, "end_axis")?, rank.max(1))),
                ),
        ),
        "Unflatten" => push(
            f,
            O::Unflatten,
            x,
            attrs()
                .with("axis", ax(int(op, "axis")?))
                .with("shape", Attr::Ints(ints(op, "shape")?)),
        ),
        "Full" => push(f, O::Copy, x, attrs()),
        "Gather" => push(
            f,
            O::Gather,
            x,
            attrs()
                .with(
                    "axes",
                    Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
                )
                .with("slice_sizes", Attr::Ints(ints(op, "slice_sizes")?)),
        ),
        "Scatter" => push(
            f,
            O::Scatter,
            x,
            attrs()
                .with(
                    "axes",
                    Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
                )
                .with(
                    "reduce",
                    Attr::Str(
                        pick(&SCATTER_REDUCE, int(op, "reduce_type")?, "reduce_type")?.into(),
                    ),
                ),
        ),
        "ScatterAxis" => {
            let r = pick(&["sum", "none"], int(op, "reduce_type")?, "reduce_type")?;
            push(
                f,
                O::ScatterAxis,
                x,
                attrs()
                    .with("axis", ax(int(op, "axis")?))
                    .with("reduce", Attr::Str(r.into())),
            )
        }
        "SliceUpdate" => {
            let r = pick(&SCATTER_REDUCE, int(op, "reduce_type")?, "reduce_type")?;
            let (start, stop, strides) = slice_fields(op)?;
            push(
                f,
                O::SliceUpdate,
                x,
                attrs()
                    .with("start", Attr::Ints(start))
                    .with("stop", Attr::Ints(stop))
                    .with("strides", Attr::Ints(strides))
                    .with("reduce", Attr::Str(r.into())),
            )
        }
        "Slice" => {
            let (start, stop, strides) = slice_fields(op)?;
            push(
                f,
                O::Slice,
                x,
                attrs()
                    .with("start", Attr::Ints(start))
                    .with("stop", Attr::Ints(stop))
                    .with("strides", Attr::Ints(strides)),
            )
        }
        "Log" => {
            let o = match int(op, "base")? {
                0 => O::Log2,
                1 => O::Log10,
                2 => O::Log,
                b => return Err(format!("unknown base {b}")),
            };
            push(f, o, x, attrs())
        }
        "LogSumExp" => {
            if rank == 0 {
                return Err("operand is 0-d".into());
            }
            push(
                f,
                O::LogSumExp,
                x,
                attrs()
                    .with("axes", Attr::Ints(vec![rank as i64 - 1]))
                    .with("keepdims", Attr::Bool(true)),
            )
        }
        "Softmax" => {
            if rank == 0 {
                return Err("operand is 0-d".into());
            }
            let mut a = attrs().with("axes", Attr::Ints(vec![rank as i64 - 1]));
            if boolean(op, "precise")? {
                a.set("precise", Attr::Bool(true));
            }
            push(f, O::Softmax, x, a)
        }
        "NumberOfElements" => {
            let d = match op.field("dtype") {
                Some(Field::DType(d)) => *d,
                _ => return Err("state field dtype missing".into()),
            };
            let mut a = attrs()
                .with(
                    "axes",
                    Attr::Ints(norm_axes(&ints(op, "axes")?, rank, false)),
                )
                .with("dtype", Attr::DType(d));
            if boolean(op, "inverted")? {
                a.set("inverted", Attr::Bool(true));
            }
            push(f, O::NumberOfElements, x, a)
        }
        "Pad" => {
            let axes = norm_axes(&ints(op, "axes")?, rank, false);
            let (lo, hi) = (ints(op, "low_pad")?, ints(op, "high_pad")?);
            if lo.len() != axes.len() || hi.len() != axes.len() {
                return Err("axes, low_pad and high_pad differ in length".into());
            }
            let mut low = vec![0i64; rank];
            let mut high = vec![0i64; rank];
            for (k, &a) in axes.iter().enumerate() {
                let a = usize::try_from(a)
                    .ok()
                    .filter(|&a| a < rank)
                    .ok_or_else(|| format!("axis {a} out of range"))?;
                low[a] = lo[k];
                high[a] = hi[k];
            }
            push(
                f,
                O::Pad,
                x,
                attrs()
                    .with("low", Attr::Ints(low))
                    .with("high", Attr::Ints(high)),
            )
        }
        "Reduce" => {
            let name = pick(&REDUCE_OPS, int(op, "reduce_type")?, "reduce_type")?;
            push(
                f,
                op_named(name)?,
                x,
                attrs()
                    .with(
                        "axes",
                        Attr::Ints(norm_axes(&ints(op, "axes")?, rank, true)),
                    )
                    .with("keepdims", Attr::Bool(true)),
            )
        }
        "Reshape" => push(
            f,
            O::Reshape,
            x,
            attrs().with("shape", Attr::Ints(ints(op, "shape")?)),
        ),
        "Scan" => {
            let name = pick(&SCAN_OPS, int(op, "reduce_type")?, "reduce_type")?;
            let mut a = attrs().with("axis", ax(int(op, "axis")?));
            if boolean(op, "reverse")? {
                a.set("reverse", Attr::Bool(true));
            }
            if !boolean(op, "inclusive")? {
                a.set("inclusive", Attr::Bool(false));
            }
            push(f, op_named(name)?, x, a)
        }
        "Split" => push(
            f,
            O::Split,
            x,
            attrs()
                .with("indices", Attr::Ints(ints(op, "indices")?))
                .with("axis", ax(int(op, "axis")?)),
        ),
        "Sqrt" => push(
            f,
            if boolean(op, "recip")? {
                O::Rsqrt
            } else {
                O::Sqrt
            },
            x,
            attrs(),
        ),
        "Quantize" => {
            let name = if boolean(op, "dequantize")? {
                "tensor.dequantize"
            } else {
                "tensor.quantize"
            };
            let o = op_named(name)?;
            let a = generic_attrs(o, op)?;
            push(f, o, x, a)
        }
        other => Err(format!("no import rule for {other}")),
    }
}

/// Slice bounds with MLX's "before the front" stop (-n-1 for a negative
/// stride) written as our -1.
type SliceBounds = (Vec<i64>, Vec<i64>, Vec<i64>);

fn slice_fields(op: &RawOp) -> Result<SliceBounds, String> {
    let start = ints(op, "start")?;
    let mut stop = ints(op, "stop")?;
    let strides = ints(op, "strides")?;
    if start.len() != stop.len() || start.len() != strides.len() {
        return Err("start, stop and strides differ in length".into());
    }
    for (s, &st) in stop.iter_mut().zip(&strides) {
        if st < 0 && *s < -1 {
            *s = -1;
        }
    }
    Ok((start, stop, strides))
}
