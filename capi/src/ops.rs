//! `psi_op`'s table: MLX op names to `psionic-mlx` calls, with keyword
//! arguments read from a JSON object.
//!
//! Keywords follow MLX's Python signatures (`axis`/`axes`, `keepdims`,
//! `shape`, `dtype` as a name such as `"float32"`, …). Every keyword is
//! checked: an unknown one, a wrong JSON type or a wrong number of inputs
//! is an error naming the op and the keyword. [`NAMES`] lists every op.

use crate::{Fail, PSI_ERROR_INVALID_ARGUMENT, PSI_ERROR_UNKNOWN_OP};
use psionic_ir::DType;
use psionic_mlx as mx;
use psionic_mlx::{Array, Axes};
use serde_json::{Map, Value};

/// Every name `psi_op` knows, sorted.
pub const NAMES: &[&str] = &[
    "abs",
    "add",
    "all",
    "any",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argsort",
    "astype",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_or",
    "bitwise_xor",
    "broadcast_to",
    "ceil",
    "clip",
    "concatenate",
    "copy",
    "cos",
    "cosh",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "divide",
    "equal",
    "erf",
    "erfinv",
    "exp",
    "expand_dims",
    "expm1",
    "eye",
    "flatten",
    "floor",
    "floor_divide",
    "full",
    "greater",
    "greater_equal",
    "isfinite",
    "isinf",
    "isnan",
    "left_shift",
    "less",
    "less_equal",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logcumsumexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "moveaxis",
    "multiply",
    "negative",
    "not_equal",
    "ones",
    "power",
    "prod",
    "reciprocal",
    "remainder",
    "reshape",
    "right_shift",
    "rsqrt",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "subtract",
    "sum",
    "swapaxes",
    "take",
    "take_along_axis",
    "tan",
    "tanh",
    "topk",
    "transpose",
    "var",
    "where",
    "zeros",
];

/// Keyword arguments of one call, with the ones read so far, so that
/// leftovers can be reported as unknown.
struct Kw<'a> {
    op: &'a str,
    map: Map<String, Value>,
    used: Vec<&'static str>,
}

fn bad(op: &str, msg: impl std::fmt::Display) -> Fail {
    Fail::new(PSI_ERROR_INVALID_ARGUMENT, format!("{op}: {msg}"))
}

impl<'a> Kw<'a> {
    fn parse(op: &'a str, json: &str) -> Result<Kw<'a>, Fail> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| bad(op, format!("keyword arguments are not valid JSON: {e}")))?;
        match v {
            Value::Object(map) => Ok(Kw {
                op,
                map,
                used: Vec::new(),
            }),
            Value::Null => Ok(Kw {
                op,
                map: Map::new(),
                used: Vec::new(),
            }),
            other => Err(bad(
                op,
                format!("keyword arguments must be a JSON object, found {other}"),
            )),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&Value> {
        self.used.push(key);
        match self.map.get(key) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    fn int_of(&self, key: &str, v: &Value) -> Result<i32, Fail> {
        v.as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(|| bad(self.op, format!("`{key}` must be an integer, found {v}")))
    }

    fn opt_int(&mut self, key: &'static str) -> Result<Option<i32>, Fail> {
        match self.get(key).cloned() {
            None => Ok(None),
            Some(v) => self.int_of(key, &v).map(Some),
        }
    }

    fn int(&mut self, key: &'static str, default: i32) -> Result<i32, Fail> {
        Ok(self.opt_int(key)?.unwrap_or(default))
    }

    fn req_int(&mut self, key: &'static str) -> Result<i32, Fail> {
        self.opt_int(key)?
            .ok_or_else(|| bad(self.op, format!("the keyword `{key}` is required")))
    }

    fn float(&mut self, key: &'static str, default: f64) -> Result<f64, Fail> {
        match self.get(key).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(self.op, format!("`{key}` must be a number, found {v}"))),
        }
    }

    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, Fail> {
        match self.get(key).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad(self.op, format!("`{key}` must be true or false, found {v}"))),
        }
    }

    /// An integer list, also given as one integer.
    fn opt_ints(&mut self, key: &'static str) -> Result<Option<Vec<i32>>, Fail> {
        match self.get(key).cloned() {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| self.int_of(key, v))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Ok(Some(vec![self.int_of(key, &v)?])),
        }
    }

    fn req_ints(&mut self, key: &'static str) -> Result<Vec<i32>, Fail> {
        self.opt_ints(key)?
            .ok_or_else(|| bad(self.op, format!("the keyword `{key}` is required")))
    }

    /// `axis` or `axes` (MLX accepts either for reductions); all when absent.
    fn axes(&mut self) -> Result<Axes, Fail> {
        let a = self.opt_ints("axis")?;
        let b = self.opt_ints("axes")?;
        match (a, b) {
            (Some(_), Some(_)) => Err(bad(self.op, "give `axis` or `axes`, not both")),
            (Some(v), None) | (None, Some(v)) => Ok(Axes::List(v)),
            (None, None) => Ok(Axes::All),
        }
    }

    fn dtype(&mut self, key: &'static str, default: DType) -> Result<DType, Fail> {
        match self.get(key).cloned() {
            None => Ok(default),
            Some(Value::String(s)) => dtype_named(&s).ok_or_else(|| {
                bad(
                    self.op,
                    format!("unknown dtype `{s}` (bool, uint8..uint64, int8..int64, float16, float32, float64, bfloat16, complex64)"),
                )
            }),
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(DType::from_mlx_code)
                .ok_or_else(|| bad(self.op, format!("unknown dtype code {n}"))),
            Some(v) => Err(bad(self.op, format!("`{key}` must be a dtype name, found {v}"))),
        }
    }

    /// Fails on keywords no read asked for.
    fn finish(self) -> Result<(), Fail> {
        let mut unknown: Vec<&str> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(&k.as_str()))
            .map(|k| k.as_str())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort();
        let mut known = self.used.clone();
        known.sort();
        known.dedup();
        Err(bad(
            self.op,
            format!(
                "unknown keyword {} (it takes: {})",
                unknown
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }
}

/// MLX's dtype names (`mx.float32` is "float32"), plus our short ones.
pub fn dtype_named(s: &str) -> Option<DType> {
    Some(match s {
        "bool" | "bool_" => DType::Bool,
        "uint8" | "u8" => DType::U8,
        "uint16" | "u16" => DType::U16,
        "uint32" | "u32" => DType::U32,
        "uint64" | "u64" => DType::U64,
        "int8" | "i8" => DType::I8,
        "int16" | "i16" => DType::I16,
        "int32" | "i32" => DType::I32,
        "int64" | "i64" => DType::I64,
        "float16" | "f16" => DType::F16,
        "float32" | "f32" => DType::F32,
        "float64" | "f64" => DType::F64,
        "bfloat16" | "bf16" => DType::BF16,
        "complex64" | "c64" => DType::C64,
        _ => return None,
    })
}

fn arity(op: &str, xs: &[Array], n: usize) -> Result<(), Fail> {
    if xs.len() != n {
        return Err(bad(
            op,
            format!(
                "takes {n} input array{}, {} given",
                if n == 1 { "" } else { "s" },
                xs.len()
            ),
        ));
    }
    Ok(())
}

type Unary = fn(&Array) -> Result<Array, mx::Error>;
type Binary = fn(&Array, &Array) -> Result<Array, mx::Error>;

fn unary(name: &str) -> Option<Unary> {
    Some(match name {
        "abs" => mx::try_abs,
        "negative" => mx::try_negative,
        "sign" => mx::try_sign,
        "square" => mx::try_square,
        "sqrt" => mx::try_sqrt,
        "rsqrt" => mx::try_rsqrt,
        "reciprocal" => mx::try_reciprocal,
        "exp" => mx::try_exp,
        "expm1" => mx::try_expm1,
        "log" => mx::try_log,
        "log1p" => mx::try_log1p,
        "log2" => mx::try_log2,
        "log10" => mx::try_log10,
        "sin" => mx::try_sin,
        "cos" => mx::try_cos,
        "tan" => mx::try_tan,
        "arcsin" => mx::try_arcsin,
        "arccos" => mx::try_arccos,
        "arctan" => mx::try_arctan,
        "sinh" => mx::try_sinh,
        "cosh" => mx::try_cosh,
        "tanh" => mx::try_tanh,
        "arcsinh" => mx::try_arcsinh,
        "arccosh" => mx::try_arccosh,
        "arctanh" => mx::try_arctanh,
        "sigmoid" => mx::try_sigmoid,
        "erf" => mx::try_erf,
        "erfinv" => mx::try_erfinv,
        "floor" => mx::try_floor,
        "ceil" => mx::try_ceil,
        "isnan" => mx::try_isnan,
        "isinf" => mx::try_isinf,
        "isfinite" => mx::try_isfinite,
        "logical_not" => mx::try_logical_not,
        "bitwise_invert" => mx::try_bitwise_invert,
        "stop_gradient" => mx::try_stop_gradient,
        "copy" => mx::try_copy,
        _ => return None,
    })
}

fn binary(name: &str) -> Option<Binary> {
    fn wrap(f: fn(&Array, &Array) -> Result<Array, mx::Error>) -> Binary {
        f
    }
    Some(match name {
        "add" => |a, b| mx::try_add(a, b),
        "subtract" => |a, b| mx::try_subtract(a, b),
        "multiply" => |a, b| mx::try_multiply(a, b),
        "divide" => |a, b| mx::try_divide(a, b),
        "floor_divide" => |a, b| mx::try_floor_divide(a, b),
        "remainder" => |a, b| mx::try_remainder(a, b),
        "power" => |a, b| mx::try_power(a, b),
        "maximum" => |a, b| mx::try_maximum(a, b),
        "minimum" => |a, b| mx::try_minimum(a, b),
        "arctan2" => |a, b| mx::try_arctan2(a, b),
        "logaddexp" => |a, b| mx::try_logaddexp(a, b),
        "equal" => |a, b| mx::try_equal(a, b),
        "not_equal" => |a, b| mx::try_not_equal(a, b),
        "less" => |a, b| mx::try_less(a, b),
        "less_equal" => |a, b| mx::try_less_equal(a, b),
        "greater" => |a, b| mx::try_greater(a, b),
        "greater_equal" => |a, b| mx::try_greater_equal(a, b),
        "logical_and" => |a, b| mx::try_logical_and(a, b),
        "logical_or" => |a, b| mx::try_logical_or(a, b),
        "bitwise_and" => |a, b| mx::try_bitwise_and(a, b),
        "bitwise_or" => |a, b| mx::try_bitwise_or(a, b),
        "bitwise_xor" => |a, b| mx::try_bitwise_xor(a, b),
        "left_shift" => |a, b| mx::try_left_shift(a, b),
        "right_shift" => |a, b| mx::try_right_shift(a, b),
        "matmul" => wrap(mx::try_matmul),
        _ => return None,
    })
}

/// Runs the op `name` on `xs` with keyword arguments `kwargs` (JSON).
pub fn call(name: &str, xs: &[Array], kwargs: &str) -> Result<Vec<Array>, Fail> {
    let mut kw = Kw::parse(name, kwargs)?;
    let out = dispatch(name, xs, &mut kw)?;
    kw.finish()?;
    Ok(out)
}

fn one(r: Result<Array, mx::Error>) -> Result<Vec<Array>, Fail> {
    Ok(vec![r?])
}

fn dispatch(name: &str, xs: &[Array], kw: &mut Kw) -> Result<Vec<Array>, Fail> {
    if let Some(f) = unary(name) {
        arity(name, xs, 1)?;
        return one(f(&xs[0]));
    }
    if let Some(f) = binary(name) {
        arity(name, xs, 2)?;
        return one(f(&xs[0], &xs[1]));
    }
    match name {
        "sum" | "prod" | "max" | "min" | "all" | "any" | "mean" | "logsumexp" => {
            arity(name, xs, 1)?;
            let axes = kw.axes()?;
            let keep = kw.bool("keepdims", false)?;
            let f = match name {
                "sum" => mx::try_sum,
                "prod" => mx::try_prod,
                "max" => mx::try_max,
                "min" => mx::try_min,
                "all" => mx::try_all,
                "any" => mx::try_any,
                "mean" => mx::try_mean,
                _ => mx::try_logsumexp,
            };
            one(f(&xs[0], axes, keep))
        }
        "var" | "std" => {
            arity(name, xs, 1)?;
            let axes = kw.axes()?;
            let keep = kw.bool("keepdims", false)?;
            let ddof = kw.int("ddof", 0)?;
            let f = if name == "var" {
                mx::try_var
            } else {
                mx::try_std
            };
            one(f(&xs[0], axes, keep, ddof))
        }
        "argmax" | "argmin" => {
            arity(name, xs, 1)?;
            let axis = kw.opt_int("axis")?;
            let keep = kw.bool("keepdims", false)?;
            let f = if name == "argmax" {
                mx::try_argmax
            } else {
                mx::try_argmin
            };
            one(f(&xs[0], axis, keep))
        }
        "softmax" => {
            arity(name, xs, 1)?;
            let axes = kw.axes()?;
            let precise = kw.bool("precise", false)?;
            one(mx::try_softmax(&xs[0], axes, precise))
        }
        "cumsum" | "cumprod" | "cummax" | "cummin" | "logcumsumexp" => {
            arity(name, xs, 1)?;
            let axis = kw.opt_int("axis")?;
            let reverse = kw.bool("reverse", false)?;
            let inclusive = kw.bool("inclusive", true)?;
            let f = match name {
                "cumsum" => mx::try_cumsum,
                "cumprod" => mx::try_cumprod,
                "cummax" => mx::try_cummax,
                "cummin" => mx::try_cummin,
                _ => mx::try_logcumsumexp,
            };
            one(f(&xs[0], axis, reverse, inclusive))
        }
        "reshape" => {
            arity(name, xs, 1)?;
            let shape = kw.req_ints("shape")?;
            one(mx::try_reshape(&xs[0], &shape))
        }
        "flatten" => {
            arity(name, xs, 1)?;
            let start = kw.int("start_axis", 0)?;
            let end = kw.int("end_axis", -1)?;
            one(mx::try_flatten(&xs[0], start, end))
        }
        "transpose" => {
            arity(name, xs, 1)?;
            match kw.opt_ints("axes")? {
                Some(axes) => one(mx::try_transpose_axes(&xs[0], &axes)),
                None => one(mx::try_transpose(&xs[0])),
            }
        }
        "swapaxes" => {
            arity(name, xs, 1)?;
            let a = kw.req_int("axis1")?;
            let b = kw.req_int("axis2")?;
            one(mx::try_swapaxes(&xs[0], a, b))
        }
        "moveaxis" => {
            arity(name, xs, 1)?;
            let s = kw.req_int("source")?;
            let d = kw.req_int("destination")?;
            one(mx::try_moveaxis(&xs[0], s, d))
        }
        "broadcast_to" => {
            arity(name, xs, 1)?;
            let shape = kw.req_ints("shape")?;
            one(mx::try_broadcast_to(&xs[0], &shape))
        }
        "expand_dims" => {
            arity(name, xs, 1)?;
            let axes = kw.req_ints("axis")?;
            one(mx::try_expand_dims(&xs[0], axes))
        }
        "squeeze" => {
            arity(name, xs, 1)?;
            let axes = match kw.opt_ints("axis")? {
                Some(v) => Axes::List(v),
                None => Axes::All,
            };
            one(mx::try_squeeze(&xs[0], axes))
        }
        "concatenate" | "stack" => {
            if xs.is_empty() {
                return Err(bad(name, "takes at least one input array"));
            }
            let axis = kw.int("axis", 0)?;
            if name == "concatenate" {
                one(mx::try_concatenate(xs, axis))
            } else {
                one(mx::try_stack(xs, axis))
            }
        }
        "split" => {
            arity(name, xs, 1)?;
            let how = kw
                .get("indices_or_sections")
                .cloned()
                .ok_or_else(|| bad(name, "the keyword `indices_or_sections` is required"))?;
            let axis = kw.int("axis", 0)?;
            let parts = match how {
                Value::Array(items) => {
                    let idx = items
                        .iter()
                        .map(|v| kw.int_of("indices_or_sections", v))
                        .collect::<Result<Vec<_>, _>>()?;
                    mx::try_split(&xs[0], idx, axis)?
                }
                v => mx::try_split(&xs[0], kw.int_of("indices_or_sections", &v)?, axis)?,
            };
            Ok(parts)
        }
        "take" | "take_along_axis" => {
            arity(name, xs, 2)?;
            let axis = kw.opt_int("axis")?;
            if name == "take" {
                one(mx::try_take(&xs[0], &xs[1], axis))
            } else {
                one(mx::try_take_along_axis(&xs[0], &xs[1], axis))
            }
        }
        "where" => {
            arity(name, xs, 3)?;
            one(mx::try_where(&xs[0], &xs[1], &xs[2]))
        }
        "clip" => {
            arity(name, xs, 1)?;
            let lo = kw.float("a_min", f64::NEG_INFINITY)?;
            let hi = kw.float("a_max", f64::INFINITY)?;
            one(mx::try_clip(&xs[0], lo, hi))
        }
        "astype" => {
            arity(name, xs, 1)?;
            if !kw.map.contains_key("dtype") {
                return Err(bad(name, "the keyword `dtype` is required"));
            }
            let dtype = kw.dtype("dtype", DType::F32)?;
            one(mx::try_astype(&xs[0], dtype))
        }
        "sort" | "argsort" => {
            arity(name, xs, 1)?;
            let axis = kw.int("axis", -1)?;
            if name == "sort" {
                one(mx::try_sort(&xs[0], Some(axis)))
            } else {
                one(mx::try_argsort(&xs[0], Some(axis)))
            }
        }
        "topk" => {
            arity(name, xs, 1)?;
            let k = kw.req_int("k")?;
            let axis = kw.int("axis", -1)?;
            one(mx::try_topk(&xs[0], k, Some(axis)))
        }
        "zeros" | "ones" | "full" => {
            arity(name, xs, 0)?;
            let shape = kw.req_ints("shape")?;
            let dtype = kw.dtype("dtype", DType::F32)?;
            match name {
                "zeros" => one(mx::try_zeros(&shape, dtype)),
                "ones" => one(mx::try_ones(&shape, dtype)),
                _ => {
                    let v = kw.float("vals", f64::NAN)?;
                    if v.is_nan() && !kw.map.contains_key("vals") {
                        return Err(bad(name, "the keyword `vals` is required"));
                    }
                    one(mx::try_full(&shape, v, dtype))
                }
            }
        }
        "arange" => {
            arity(name, xs, 0)?;
            let start = kw.float("start", 0.0)?;
            let stop = kw.float("stop", f64::NAN)?;
            if stop.is_nan() {
                return Err(bad(name, "the keyword `stop` is required"));
            }
            let step = kw.float("step", 1.0)?;
            let dtype = kw.dtype("dtype", DType::F32)?;
            one(mx::try_arange_dtype(start, stop, step, dtype))
        }
        "eye" => {
            arity(name, xs, 0)?;
            let n = kw.req_int("n")?;
            let m = kw.int("m", n)?;
            let k = kw.int("k", 0)?;
            let dtype = kw.dtype("dtype", DType::F32)?;
            one(mx::try_eye(n, m, k, dtype))
        }
        _ => Err(Fail::new(
            PSI_ERROR_UNKNOWN_OP,
            format!("unknown op `{name}` (known: {})", NAMES.join(", ")),
        )),
    }
}
