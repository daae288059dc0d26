//! From IR to a [`RawFile`] in MLX 0.32.4's layout: each IR op becomes the
//! MLX primitive(s) that compute it, ids are unique across the file, and
//! each distinct constant's data is written once per file.

use super::format::{Desc, Entry, EntryKind, RawFile, RawFunc, RawOp};
use super::map;
use super::prims::{self, Field, Version};
use super::MlxfnError;
use psionic_ir::{
    Attr, AttrKind, Attrs, DType, Func, Literal, Module, Op, Opcode, TensorType, DYN,
};
use std::collections::{HashMap, HashSet};

const CPU_STREAM: (i32, i32, i32) = (0, 0, 0);

struct FileState {
    next_id: u64,
    const_ids: HashMap<Literal, u64>,
    constants: HashMap<u64, Literal>,
}

impl FileState {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

struct Emitter<'a> {
    fs: &'a mut FileState,
    tape: Vec<Entry>,
    in_tape: HashSet<u64>,
    shapeless: bool,
}

type R<T> = Result<T, String>;

impl Emitter<'_> {
    fn desc(&self, t: &TensorType) -> R<Desc> {
        if t.shape.contains(&DYN) && !self.shapeless {
            return Err(format!(
                "type {t} has symbolic dimensions: set the module attribute `shapeless = true` to export it"
            ));
        }
        // Shapeless MLX re-infers every shape at call time; the recorded
        // sizes only need to be valid.
        let shape = t
            .shape
            .iter()
            .map(|&d| if d == DYN { 1 } else { d })
            .collect();
        Ok(Desc {
            shape,
            dtype: t.dtype,
        })
    }

    fn constant(&mut self, lit: &Literal) -> u64 {
        let id = match self.fs.const_ids.get(lit) {
            Some(&id) => id,
            None => {
                let id = self.fs.id();
                self.fs.const_ids.insert(lit.clone(), id);
                self.fs.constants.insert(id, lit.clone());
                id
            }
        };
        if self.in_tape.insert(id) {
            self.tape.push(Entry {
                id,
                at: 0,
                kind: EntryKind::Constant,
            });
        }
        id
    }

    fn op(
        &mut self,
        name: &str,
        inputs: Vec<u64>,
        state: Vec<(&'static str, Field)>,
        outs: &[TensorType],
    ) -> R<Vec<u64>> {
        let mut outputs = Vec::with_capacity(outs.len());
        for t in outs {
            outputs.push((self.fs.id(), self.desc(t)?));
        }
        let ids: Vec<u64> = outputs.iter().map(|(i, _)| *i).collect();
        self.in_tape.extend(ids.iter().copied());
        self.tape.push(Entry {
            id: ids[0],
            at: 0,
            kind: EntryKind::Op(RawOp {
                inputs,
                stream: CPU_STREAM,
                name: name.to_string(),
                state,
                outputs,
            }),
        });
        Ok(ids)
    }

    fn op1(
        &mut self,
        name: &str,
        inputs: Vec<u64>,
        state: Vec<(&'static str, Field)>,
        out: &TensorType,
    ) -> R<u64> {
        Ok(self.op(name, inputs, state, std::slice::from_ref(out))?[0])
    }

    /// A 0-d constant broadcast to `like` (with `donor` giving the shape
    /// when `like` is symbolic).
    fn splat(&mut self, lit: Literal, like: &TensorType, donor: u64) -> R<u64> {
        let c = self.constant(&lit);
        if like.shape.is_empty() {
            return Ok(c);
        }
        let t = TensorType::new(lit.dtype(), like.shape.clone());
        let d = self.desc(&t)?;
        let inputs = if t.is_static() {
            vec![c]
        } else {
            vec![c, donor]
        };
        self.op1(
            "Broadcast",
            inputs,
            vec![("shape", Field::Ints(d.shape))],
            &t,
        )
    }
}

fn ints(v: &[i64]) -> Field {
    Field::Ints(v.to_vec())
}

fn kept(t: &TensorType, axes: &[i64]) -> TensorType {
    let mut s = t.shape.clone();
    for &a in axes {
        if let Some(d) = usize::try_from(a).ok().and_then(|a| s.get_mut(a)) {
            *d = 1;
        }
    }
    t.with_shape(s)
}

/// Builds the raw file for a module. Every function becomes one trace.
pub fn from_module(m: &Module) -> Result<RawFile, MlxfnError> {
    let shapeless = matches!(m.attr("shapeless"), Some(Attr::Bool(true)));
    let metadata = match m.attr("metadata") {
        Some(Attr::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let mut fs = FileState {
        next_id: 0,
        const_ids: HashMap::new(),
        constants: HashMap::new(),
    };
    // One file is one function, possibly traced at several signatures.
    if let Some(other) = m.funcs.iter().find(|f| f.name != m.funcs[0].name) {
        return Err(MlxfnError::msg(format!(
            "a .mlxfn file holds the traces of one function, but the module has @{} and @{}",
            m.funcs[0].name, other.name
        )));
    }
    let mut funcs = Vec::with_capacity(m.funcs.len());
    for f in &m.funcs {
        funcs.push(
            export_func(&mut fs, f, shapeless)
                .map_err(|e| MlxfnError::msg(format!("function @{}: {e}", f.name)))?,
        );
    }
    Ok(RawFile {
        version: format!(
            "{}.{}.{}",
            Version::LATEST.0,
            Version::LATEST.1,
            Version::LATEST.2
        ),
        shapeless,
        metadata,
        funcs,
        constants: fs.constants,
    })
}

fn export_func(fs: &mut FileState, f: &Func, shapeless: bool) -> R<RawFunc> {
    let kw = super::kwarg_names(f)?;
    if kw.len() > f.params.len() {
        return Err(format!(
            "{} kwargs for {} parameters",
            kw.len(),
            f.params.len()
        ));
    }
    let npos = f.params.len() - kw.len();
    // MLX orders keyword inputs by name.
    let mut order: Vec<usize> = (0..kw.len()).collect();
    order.sort_by(|&a, &b| kw[a].as_bytes().cmp(kw[b].as_bytes()));
    let flat: Vec<usize> = (0..npos).chain(order.iter().map(|&k| npos + k)).collect();
    let kwargs: Vec<String> = order.iter().map(|&k| kw[k].clone()).collect();

    let mut e = Emitter {
        fs,
        tape: Vec::new(),
        in_tape: HashSet::new(),
        shapeless,
    };
    let mut ids: Vec<Option<u64>> = vec![None; f.value_types.len()];
    let mut inputs = Vec::with_capacity(f.params.len());
    for &i in &flat {
        let p = f.params[i];
        let id = e.fs.id();
        ids[p.index()] = Some(id);
        inputs.push((id, e.desc(f.ty(p))?));
        e.in_tape.insert(id);
        e.tape.push(Entry {
            id,
            at: 0,
            kind: EntryKind::Input,
        });
    }
    for op in &f.ops {
        let args: Vec<u64> = op
            .operands
            .iter()
            .map(|v| {
                ids.get(v.index())
                    .copied()
                    .flatten()
                    .ok_or_else(|| format!("operand %{} of `{}` is undefined", v.0, op.opcode))
            })
            .collect::<R<_>>()?;
        let outs: Vec<TensorType> = op.results.iter().map(|&r| f.ty(r).clone()).collect();
        let in_types: Vec<TensorType> = op.operands.iter().map(|&v| f.ty(v).clone()).collect();
        let res = lower(&mut e, op, args, &in_types, &outs)
            .map_err(|m| format!("`{}`: {m}", op.opcode))?;
        for (r, id) in op.results.iter().zip(res) {
            ids[r.index()] = Some(id);
        }
    }
    let outputs = f
        .results
        .iter()
        .map(|v| {
            ids.get(v.index())
                .copied()
                .flatten()
                .ok_or_else(|| format!("result %{} is undefined", v.0))
        })
        .collect::<R<_>>()?;
    Ok(RawFunc {
        kwargs,
        inputs,
        outputs,
        tape: e.tape,
        at: 0,
    })
}

fn reverse_direct(ir: &str) -> Option<&'static str> {
    map::DIRECT.iter().find(|(_, i)| *i == ir).map(|(m, _)| *m)
}
fn reverse_generic(ir: &str) -> Option<&'static str> {
    map::GENERIC.iter().find(|(_, i)| *i == ir).map(|(m, _)| *m)
}

fn idx_of(table: &[&str], s: &str) -> R<i64> {
    table
        .iter()
        .position(|t| *t == s)
        .map(|i| i as i64)
        .ok_or_else(|| format!("`{s}` is not one of {table:?}"))
}

/// The IR ops the writer can express, for docs: every op whose lowering
/// does not always refuse.
pub fn exportable(opcode: Opcode) -> bool {
    let name = opcode.name();
    if reverse_direct(name).is_some() || reverse_generic(name).is_some() {
        return true;
    }
    matches!(lowering_kind(opcode), LoweringKind::Some)
}

enum LoweringKind {
    Some,
    None,
}

fn lowering_kind(opcode: Opcode) -> LoweringKind {
    use Opcode as O;
    match opcode {
        O::Constant
        | O::Full
        | O::Iota
        | O::Arange
        | O::Sqrt
        | O::Rsqrt
        | O::Log
        | O::Log2
        | O::Log10
        | O::Reciprocal
        | O::IsNan
        | O::IsInf
        | O::IsFinite
        | O::BitwiseInvert
        | O::BitwiseAnd
        | O::BitwiseOr
        | O::BitwiseXor
        | O::LeftShift
        | O::RightShift
        | O::FloorDivide
        | O::Equal
        | O::Cast
        | O::Bitcast
        | O::ReduceSum
        | O::ReduceProd
        | O::ReduceMax
        | O::ReduceMin
        | O::ReduceAll
        | O::ReduceAny
        | O::Argmax
        | O::Argmin
        | O::LogSumExp
        | O::Softmax
        | O::Cumsum
        | O::Cumprod
        | O::Cummax
        | O::Cummin
        | O::CumLogAddExp
        | O::Reshape
        | O::Transpose
        | O::Broadcast
        | O::BroadcastLike
        | O::ExpandDims
        | O::Squeeze
        | O::Flatten
        | O::Unflatten
        | O::Slice
        | O::SliceUpdate
        | O::Pad
        | O::Concatenate
        | O::Split
        | O::Flip
        | O::DynamicSlice
        | O::DynamicSliceUpdate
        | O::Gather
        | O::TakeAlongAxis
        | O::Scatter
        | O::ScatterAxis
        | O::Sort
        | O::Argsort
        | O::Partition
        | O::Argpartition
        | O::AddMM
        | O::NumberOfElements => LoweringKind::Some,
        _ => match opcode.name() {
            "tensor.quantize" | "tensor.dequantize" | "tensor.depends" => LoweringKind::Some,
            _ => LoweringKind::None,
        },
    }
}

const REDUCE_KINDS: [&str; 6] = [
    "tensor.reduce_all",
    "tensor.reduce_any",
    "tensor.reduce_sum",
    "tensor.reduce_prod",
    "tensor.reduce_min",
    "tensor.reduce_max",
];
const SCAN_KINDS: [&str; 5] = [
    "tensor.cummax",
    "tensor.cummin",
    "tensor.cumsum",
    "tensor.cumprod",
    "tensor.cumlogaddexp",
];
const SCATTER_REDUCE: [&str; 5] = ["max", "min", "sum", "prod", "none"];
const BITWISE: [&str; 5] = [
    "tensor.bitwise_and",
    "tensor.bitwise_or",
    "tensor.bitwise_xor",
    "tensor.left_shift",
    "tensor.right_shift",
];

fn lower(
    e: &mut Emitter,
    op: &Op,
    x: Vec<u64>,
    tin: &[TensorType],
    outs: &[TensorType],
) -> R<Vec<u64>> {
    use Opcode as O;
    let a = &op.attrs;
    let out = outs
        .first()
        .cloned()
        .unwrap_or_else(|| TensorType::scalar(DType::F32));
    let one = |v: u64| Ok(vec![v]);
    let name = op.opcode.name();
    if let Some(m) = reverse_direct(name) {
        return e.op(m, x, vec![], outs);
    }
    if let Some(m) = reverse_generic(name) {
        let state = generic_state(m, a, op.opcode)?;
        return e.op(m, x, state, outs);
    }
    match op.opcode {
        O::Constant => {
            let lit = a.dense("value")?;
            one(e.constant(lit))
        }
        O::Full => {
            if !out.is_static() {
                return Err("symbolic shape".into());
            }
            let v = a.float("value")?;
            let lit = Literal::scalar_f64(out.dtype, v);
            let b = e.splat(lit, &out, 0)?;
            one(e.op1("Full", vec![b], vec![], &out)?)
        }
        O::Iota => {
            let axis = a.int("axis")? as usize;
            let shape = out.static_shape().ok_or("symbolic shape")?;
            let n = *shape.get(axis).ok_or("axis out of range")?;
            let line_t = TensorType::new(out.dtype, vec![n as i64]);
            let r = e.op1(
                "Arange",
                vec![],
                vec![
                    ("start", Field::Float(0.0)),
                    ("stop", Field::Float(n as f64)),
                    ("step", Field::Float(1.0)),
                ],
                &line_t,
            )?;
            let mut rs = vec![1i64; shape.len()];
            rs[axis] = n as i64;
            let rt = TensorType::new(out.dtype, rs.clone());
            let r = e.op1("Reshape", vec![r], vec![("shape", ints(&rs))], &rt)?;
            if rt == out {
                return one(r);
            }
            one(e.op1(
                "Broadcast",
                vec![r],
                vec![("shape", ints(&out.shape))],
                &out,
            )?)
        }
        O::Arange => one(e.op1(
            "Arange",
            vec![],
            vec![
                ("start", Field::Float(a.float("start")?)),
                ("stop", Field::Float(a.float("stop")?)),
                ("step", Field::Float(a.float("step")?)),
            ],
            &out,
        )?),
        O::Sqrt | O::Rsqrt => e.op(
            "Sqrt",
            x,
            vec![("recip", Field::Bool(op.opcode == O::Rsqrt))],
            outs,
        ),
        O::Log | O::Log2 | O::Log10 => {
            let base = match op.opcode {
                O::Log2 => 0,
                O::Log10 => 1,
                _ => 2,
            };
            e.op("Log", x, vec![("base", Field::Int(base))], outs)
        }
        O::Reciprocal => {
            let c = e.splat(Literal::scalar_f64(out.dtype, 1.0), &out, x[0])?;
            e.op("Divide", vec![c, x[0]], vec![], outs)
        }
        // NaN is the only value unequal to itself (integers give false).
        O::IsNan => e.op("NotEqual", vec![x[0], x[0]], vec![], outs),
        O::IsInf | O::IsFinite => {
            let t = &tin[0];
            if !t.dtype.is_inexact() || t.dtype.is_complex() {
                let name = if op.opcode == O::IsInf {
                    "NotEqual"
                } else {
                    "Equal"
                };
                let st = if name == "Equal" {
                    vec![("equal_nan", Field::Bool(false))]
                } else {
                    vec![]
                };
                return e.op(name, vec![x[0], x[0]], st, outs);
            }
            let ab = e.op1("Abs", vec![x[0]], vec![], t)?;
            let inf = e.splat(Literal::scalar_f64(t.dtype, f64::INFINITY), t, x[0])?;
            if op.opcode == O::IsInf {
                e.op(
                    "Equal",
                    vec![ab, inf],
                    vec![("equal_nan", Field::Bool(false))],
                    outs,
                )
            } else {
                e.op("Less", vec![ab, inf], vec![], outs)
            }
        }
        O::BitwiseInvert => {
            if out.dtype.is_bool() {
                return e.op("LogicalNot", x, vec![], outs);
            }
            let ones = Literal::from_i64(out.dtype, vec![], &[-1]).map_err(|m| m.0)?;
            let c = e.splat(ones, &out, x[0])?;
            e.op(
                "BitwiseBinary",
                vec![x[0], c],
                vec![("op", Field::Int(2))],
                outs,
            )
        }
        O::BitwiseAnd | O::BitwiseOr | O::BitwiseXor | O::LeftShift | O::RightShift => e.op(
            "BitwiseBinary",
            x,
            vec![("op", Field::Int(idx_of(&BITWISE, name)?))],
            outs,
        ),
        O::Equal => e.op(
            "Equal",
            x,
            vec![(
                "equal_nan",
                Field::Bool(a.bool("equal_nan").unwrap_or(false)),
            )],
            outs,
        ),
        O::Cast => e.op("AsType", x, vec![("dtype", Field::DType(out.dtype))], outs),
        O::Bitcast => e.op("View", x, vec![("dtype", Field::DType(out.dtype))], outs),
        O::ReduceSum
        | O::ReduceProd
        | O::ReduceMax
        | O::ReduceMin
        | O::ReduceAll
        | O::ReduceAny => {
            let axes = a.ints("axes")?.to_vec();
            let kd = a.bool("keepdims").unwrap_or(false);
            let kt = kept(&tin[0], &axes).with_dtype(out.dtype);
            let r = e.op1(
                "Reduce",
                x,
                vec![
                    ("reduce_type", Field::Int(idx_of(&REDUCE_KINDS, name)?)),
                    ("axes", ints(&axes)),
                ],
                &kt,
            )?;
            if kd {
                return one(r);
            }
            one(e.op1("Squeeze", vec![r], vec![("axes", ints(&axes))], &out)?)
        }
        O::Argmax | O::Argmin => {
            let axis = a.int("axis")?;
            let kd = a.bool("keepdims").unwrap_or(false);
            let kt = kept(&tin[0], &[axis]).with_dtype(out.dtype);
            let r = e.op1(
                "ArgReduce",
                x,
                vec![
                    ("reduce_type", Field::Int(i64::from(op.opcode == O::Argmax))),
                    ("axis", Field::Int(axis)),
                ],
                &kt,
            )?;
            if kd {
                return one(r);
            }
            one(e.op1("Squeeze", vec![r], vec![("axes", ints(&[axis]))], &out)?)
        }
        O::LogSumExp => lower_logsumexp(e, a, x[0], &tin[0], &out),
        O::Softmax => {
            let axes = a.ints("axes")?;
            let precise = a.bool("precise").unwrap_or(false);
            let t = &tin[0];
            let r = t.rank() as i64;
            let st = vec![("precise", Field::Bool(precise))];
            match axes {
                [ax] if *ax == r - 1 => e.op("Softmax", x, st, outs),
                [ax] => {
                    let mut perm: Vec<i64> = (0..r).collect();
                    perm.swap(*ax as usize, (r - 1) as usize);
                    let mut ps = t.shape.clone();
                    ps.swap(*ax as usize, (r - 1) as usize);
                    let pt = t.with_shape(ps);
                    let p = e.op1("Transpose", x, vec![("axes", ints(&perm))], &pt)?;
                    let s = e.op1("Softmax", vec![p], st, &pt)?;
                    e.op("Transpose", vec![s], vec![("axes", ints(&perm))], outs)
                }
                _ => Err("MLX's Softmax works on one axis; split the op first".into()),
            }
        }
        O::Cumsum | O::Cumprod | O::Cummax | O::Cummin | O::CumLogAddExp => e.op(
            "Scan",
            x,
            vec![
                ("reduce_type", Field::Int(idx_of(&SCAN_KINDS, name)?)),
                ("axis", Field::Int(a.int("axis")?)),
                ("reverse", Field::Bool(a.bool("reverse").unwrap_or(false))),
                (
                    "inclusive",
                    Field::Bool(a.bool("inclusive").unwrap_or(true)),
                ),
            ],
            outs,
        ),
        O::Reshape => e.op("Reshape", x, vec![("shape", ints(a.ints("shape")?))], outs),
        O::Transpose => e.op("Transpose", x, vec![("axes", ints(a.ints("perm")?))], outs),
        O::Broadcast => e.op(
            "Broadcast",
            x,
            vec![("shape", ints(a.ints("shape")?))],
            outs,
        ),
        O::BroadcastLike => {
            let ig = a.ints("ignore_axes").unwrap_or(&[]).to_vec();
            if ig.is_empty() {
                let d = e.desc(&out)?;
                e.op("Broadcast", x, vec![("shape", Field::Ints(d.shape))], outs)
            } else {
                e.op(
                    "BroadcastAxes",
                    x,
                    vec![("ignore_axes", Field::Ints(ig))],
                    outs,
                )
            }
        }
        O::ExpandDims | O::Squeeze => {
            let n = if op.opcode == O::Squeeze {
                "Squeeze"
            } else {
                "ExpandDims"
            };
            e.op(n, x, vec![("axes", ints(a.ints("axes")?))], outs)
        }
        O::Flatten => e.op(
            "Flatten",
            x,
            vec![
                ("start_axis", Field::Int(a.int("start_axis")?)),
                ("end_axis", Field::Int(a.int("end_axis")?)),
            ],
            outs,
        ),
        O::Unflatten => e.op(
            "Unflatten",
            x,
            vec![
                ("axis", Field::Int(a.int("axis")?)),
                ("shape", ints(a.ints("shape")?)),
            ],
            outs,
        ),
        O::Slice => e.op("Slice", x, slice_state(a, &tin[0])?, outs),
        O::SliceUpdate => {
            let r = a.str("reduce").unwrap_or("none");
            let mut st = vec![("reduce_type", Field::Int(idx_of(&SCATTER_REDUCE, r)?))];
            st.extend(slice_state(a, &tin[0])?);
            e.op("SliceUpdate", x, st, outs)
        }
        O::Flip => {
            let t = &tin[0];
            let axes = a.ints("axes")?;
            let mut start = vec![0i64; t.rank()];
            let mut stop = t.shape.clone();
            let mut strides = vec![1i64; t.rank()];
            for &ax in axes {
                let i = ax as usize;
                let n = t.shape[i];
                if n == DYN {
                    return Err(
                        "cannot flip a symbolic axis (MLX slices need static bounds)".into(),
                    );
                }
                start[i] = n - 1;
                stop[i] = -n - 1;
                strides[i] = -1;
            }
            if stop.contains(&DYN) {
                return Err("symbolic axes: MLX slices need static bounds".into());
            }
            e.op(
                "Slice",
                x,
                vec![
                    ("start", ints(&start)),
                    ("stop", ints(&stop)),
                    ("strides", ints(&strides)),
                ],
                outs,
            )
        }
        O::Pad => {
            let r = tin[0].rank() as i64;
            e.op(
                "Pad",
                x,
                vec![
                    ("axes", Field::Ints((0..r).collect())),
                    ("low_pad", ints(a.ints("low")?)),
                    ("high_pad", ints(a.ints("high")?)),
                ],
                outs,
            )
        }
        O::Concatenate => e.op(
            "Concatenate",
            x,
            vec![("axis", Field::Int(a.int("axis")?))],
            outs,
        ),
        O::Split => e.op(
            "Split",
            x,
            vec![
                ("indices", ints(a.ints("indices")?)),
                ("axis", Field::Int(a.int("axis")?)),
            ],
            outs,
        ),
        O::DynamicSlice => e.op(
            "DynamicSlice",
            x,
            vec![
                ("axes", ints(a.ints("axes")?)),
                ("slice_size", ints(a.ints("sizes")?)),
            ],
            outs,
        ),
        O::DynamicSliceUpdate => e.op(
            "DynamicSliceUpdate",
            x,
            vec![("axes", ints(a.ints("axes")?))],
            outs,
        ),
        O::Gather => e.op(
            "Gather",
            x,
            vec![
                ("axes", ints(a.ints("axes")?)),
                ("slice_sizes", ints(a.ints("slice_sizes")?)),
            ],
            outs,
        ),
        O::TakeAlongAxis => e.op(
            "GatherAxis",
            x,
            vec![("axis", Field::Int(a.int("axis")?))],
            outs,
        ),
        O::Scatter => e.op(
            "Scatter",
            x,
            vec![
                (
                    "reduce_type",
                    Field::Int(idx_of(&SCATTER_REDUCE, a.str("reduce").unwrap_or("none"))?),
                ),
                ("axes", ints(a.ints("axes")?)),
            ],
            outs,
        ),
        O::ScatterAxis => e.op(
            "ScatterAxis",
            x,
            vec![
                (
                    "reduce_type",
                    Field::Int(idx_of(&["sum", "none"], a.str("reduce").unwrap_or("none"))?),
                ),
                ("axis", Field::Int(a.int("axis")?)),
            ],
            outs,
        ),
        O::Sort | O::Argsort => {
            let n = if op.opcode == O::Sort {
                "Sort"
            } else {
                "ArgSort"
            };
            e.op(n, x, vec![("axis", Field::Int(a.int("axis")?))], outs)
        }
        O::Partition | O::Argpartition => {
            let n = if op.opcode == O::Partition {
                "Partition"
            } else {
                "ArgPartition"
            };
            e.op(
                n,
                x,
                vec![
                    ("kth", Field::Int(a.int("kth")?)),
                    ("axis", Field::Int(a.int("axis")?)),
                ],
                outs,
            )
        }
        // MLX's operands are (a, b, c); ours are (c, a, b).
        O::AddMM => e.op(
            "AddMM",
            vec![x[1], x[2], x[0]],
            vec![
                ("alpha", Field::Float(a.float("alpha").unwrap_or(1.0))),
                ("beta", Field::Float(a.float("beta").unwrap_or(1.0))),
            ],
            outs,
        ),
        O::NumberOfElements => e.op(
            "NumberOfElements",
            x,
            vec![
                ("axes", ints(a.ints("axes")?)),
                ("inverted", Field::Bool(a.bool("inverted").unwrap_or(false))),
                ("dtype", Field::DType(a.dtype("dtype")?)),
            ],
            outs,
        ),
        _ => match name {
            "tensor.quantize" | "tensor.dequantize" => {
                let st = generic_state("Quantize", a, op.opcode)?;
                e.op("Quantize", x, st, outs)
            }
            "tensor.depends" => e.op("Depends", x, vec![], outs),
            _ => Err("MLX has no primitive for this op".into()),
        },
    }
}

fn slice_state(a: &Attrs, t: &TensorType) -> R<Vec<(&'static str, Field)>> {
    let start = a.ints("start")?.to_vec();
    let mut stop = a.ints("stop")?.to_vec();
    let strides = a.ints("strides")?.to_vec();
    // MLX writes "before the front" as -n-1.
    for i in 0..stop.len().min(strides.len()).min(t.rank()) {
        if strides[i] < 0 && stop[i] == -1 && t.shape[i] != DYN {
            stop[i] = -t.shape[i] - 1;
        }
    }
    Ok(vec![
        ("start", Field::Ints(start)),
        ("stop", Field::Ints(stop)),
        ("strides", Field::Ints(strides)),
    ])
}

/// logsumexp over any axes: MLX's primitive works on the last axis, so the
/// reduced axes are moved last and merged (static shapes only).
fn lower_logsumexp(
    e: &mut Emitter,
    a: &Attrs,
    x: u64,
    t: &TensorType,
    out: &TensorType,
) -> R<Vec<u64>> {
    let axes = a.ints("axes")?.to_vec();
    let kd = a.bool("keepdims").unwrap_or(false);
    let r = t.rank() as i64;
    if axes.is_empty() {
        return Ok(vec![e.op1("Copy", vec![x], vec![], out)?]);
    }
    let kt = kept(t, &axes);
    let lse = if axes == [r - 1] {
        e.op1("LogSumExp", vec![x], vec![], &kt)?
    } else {
        let shape = t
            .static_shape()
            .ok_or("logsumexp over several axes needs static shapes")?;
        let keep: Vec<i64> = (0..r).filter(|i| !axes.contains(i)).collect();
        let perm: Vec<i64> = keep.iter().chain(axes.iter()).copied().collect();
        let mut cur = x;
        if perm != (0..r).collect::<Vec<_>>() {
            let ps: Vec<i64> = perm.iter().map(|&p| shape[p as usize] as i64).collect();
            cur = e.op1(
                "Transpose",
                vec![cur],
                vec![("axes", ints(&perm))],
                &t.with_shape(ps),
            )?;
        }
        let mut ms: Vec<i64> = keep.iter().map(|&k| shape[k as usize] as i64).collect();
        ms.push(axes.iter().map(|&k| shape[k as usize] as i64).product());
        cur = e.op1(
            "Reshape",
            vec![cur],
            vec![("shape", ints(&ms))],
            &t.with_shape(ms.clone()),
        )?;
        let mut ls = ms.clone();
        *ls.last_mut().unwrap_or(&mut 0) = 1;
        cur = e.op1("LogSumExp", vec![cur], vec![], &t.with_shape(ls))?;
        e.op1("Reshape", vec![cur], vec![("shape", ints(&kt.shape))], &kt)?
    };
    if kd {
        return Ok(vec![lse]);
    }
    Ok(vec![e.op1(
        "Squeeze",
        vec![lse],
        vec![("axes", ints(&axes))],
        out,
    )?])
}

/// State of a primitive whose fields are the op's attributes, by name.
fn generic_state(mlx: &str, a: &Attrs, opcode: Opcode) -> R<Vec<(&'static str, Field)>> {
    let spec = prims::schema(mlx, Version::LATEST).ok_or("unknown primitive")?;
    let def = opcode.def();
    let mut st = Vec::with_capacity(spec.len());
    for (fname, ty) in spec {
        let f = if ty == prims::FieldType::Null {
            Field::Null
        } else if mlx == "Quantize" && fname == "dequantize" {
            Field::Bool(opcode.name() == "tensor.dequantize")
        } else {
            let kind = def.attrs.iter().find(|s| s.name == fname).map(|s| s.kind);
            match (a.get(fname), ty) {
                (Some(Attr::Bool(b)), prims::FieldType::Bool) => Field::Bool(*b),
                (Some(Attr::Int(v)), prims::FieldType::Bool) => Field::Bool(*v != 0),
                (Some(Attr::Int(v)), _) => Field::Int(*v),
                (Some(Attr::Float(v)), _) => Field::Float(*v),
                (Some(Attr::Ints(v)), _) => Field::Ints(v.clone()),
                (Some(Attr::Str(s)), prims::FieldType::I32) if kind == Some(AttrKind::Str) => {
                    Field::Int(idx_of(&["affine", "mxfp4", "mxfp8", "nvfp4"], s)?)
                }
                (Some(Attr::Str(s)), _) => Field::Str(s.clone()),
                (Some(Attr::DType(d)), _) => Field::DType(*d),
                (Some(other), _) => {
                    return Err(format!(
                        "attribute `{fname}` ({:?}) has no MLX encoding",
                        other.kind()
                    ))
                }
                (None, _) => prims::default_for(mlx, fname)
                    .or_else(|| default_attr(mlx, fname))
                    .ok_or_else(|| format!("attribute `{fname}` is needed by MLX's {mlx}"))?,
            }
        };
        st.push((fname, f));
    }
    Ok(st)
}

/// Values MLX uses when an optional attribute is absent from the IR op.
fn default_attr(mlx: &str, field: &str) -> Option<Field> {
    match (mlx, field) {
        (_, "left_sorted" | "right_sorted" | "transpose" | "traditional" | "do_causal") => {
            Some(Field::Bool(false))
        }
        ("RoPE", "forward") => Some(Field::Bool(true)),
        ("GatherQMM" | "QuantizedMatmul" | "Quantize", "mode") => Some(Field::Int(0)),
        _ => None,
    }
}
