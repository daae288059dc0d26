//! Shape and dtype rules, one per op row of [`crate::ops`].
//!
//! Each rule gets operand types and attributes (already checked against the
//! op's attribute specs for presence and kind) and returns the result types,
//! or a message that says what was expected. Symbolic dimensions ([`DYN`])
//! flow through: a rule that cannot decide a size from a symbolic one gives a
//! symbolic result, and the check happens when the function is specialized to
//! concrete shapes.

use crate::attr::Attrs;
use crate::dtype::DType;
use crate::types::{broadcast_shapes, fmt_dim, Dim, TensorType, DYN};

type Types<'a> = &'a [&'a TensorType];
type Out = Result<Vec<TensorType>, String>;

fn one(t: TensorType) -> Out {
    Ok(vec![t])
}

fn shape_str(s: &[Dim]) -> String {
    let parts: Vec<String> = s.iter().map(|&d| fmt_dim(d)).collect();
    format!("[{}]", parts.join(", "))
}

/// Two dims that must agree; a symbolic one agrees with anything.
fn dims_agree(a: Dim, b: Dim) -> bool {
    a == b || a == DYN || b == DYN
}

fn shapes_agree(a: &[Dim], b: &[Dim]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| dims_agree(x, y))
}

/// The more precise of two agreeing shapes.
fn meet(a: &[Dim], b: &[Dim]) -> Vec<Dim> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| if x == DYN { y } else { x })
        .collect()
}

fn check_axis(axis: i64, rank: usize, what: &str) -> Result<usize, String> {
    if axis >= 0 && (axis as usize) < rank {
        Ok(axis as usize)
    } else {
        Err(format!(
            "{what} {axis} is out of range for rank {rank} (axes are non-negative)"
        ))
    }
}

/// Sorted, unique, in-range axes.
fn check_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = check_axis(a, rank, "axis")?;
        if let Some(&last) = out.last() {
            if a <= last {
                return Err(format!("axes {axes:?} must be sorted and unique"));
            }
        }
        out.push(a);
    }
    Ok(out)
}

fn check_shape_attr(shape: &[i64]) -> Result<Vec<Dim>, String> {
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return Err(format!("shape {shape:?} has negative size {d}"));
    }
    Ok(shape.to_vec())
}

// ---- creation ----

pub fn constant(_: Types, attrs: &Attrs) -> Out {
    one(attrs.dense("value")?.ty())
}

pub fn full(_: Types, attrs: &Attrs) -> Out {
    let shape = check_shape_attr(attrs.ints("shape")?)?;
    one(TensorType::new(attrs.dtype("dtype")?, shape))
}

pub fn iota(_: Types, attrs: &Attrs) -> Out {
    let shape = check_shape_attr(attrs.ints("shape")?)?;
    check_axis(attrs.int("axis")?, shape.len(), "axis")?;
    let dtype = attrs.dtype("dtype")?;
    if dtype.is_bool() || dtype.is_complex() {
        return Err(format!(
            "dtype must be an integer or float type, not {dtype}"
        ));
    }
    one(TensorType::new(dtype, shape))
}

/// Element count of `arange(start, stop, step)`, as MLX computes it.
pub fn arange_len(start: f64, stop: f64, step: f64) -> Result<usize, String> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err(format!(
            "start {start}, stop {stop} and step {step} must be finite with step non-zero"
        ));
    }
    let n = ((stop - start) / step).ceil();
    if n > (i32::MAX as f64) {
        return Err(format!("{n} elements is too many"));
    }
    Ok(n.max(0.0) as usize)
}

pub fn arange(_: Types, attrs: &Attrs) -> Out {
    let n = arange_len(
        attrs.float("start")?,
        attrs.float("stop")?,
        attrs.float("step")?,
    )?;
    let dtype = attrs.dtype("dtype")?;
    if dtype.is_bool() || dtype.is_complex() {
        return Err(format!(
            "dtype must be an integer or float type, not {dtype}"
        ));
    }
    one(TensorType::new(dtype, vec![n as Dim]))
}

// ---- elementwise ----

fn unary_with(t: Types, ok: fn(DType) -> bool, what: &str) -> Out {
    let x = t[0];
    if !ok(x.dtype) {
        return Err(format!("operand must be {what}, found {}", x.dtype));
    }
    one(x.clone())
}

pub fn unary_any(t: Types, _: &Attrs) -> Out {
    one(t[0].clone())
}
pub fn unary_numeric(t: Types, _: &Attrs) -> Out {
    unary_with(t, |d| !d.is_bool(), "numeric (not bool)")
}
pub fn unary_inexact(t: Types, _: &Attrs) -> Out {
    unary_with(t, DType::is_inexact, "a float or complex type")
}
pub fn unary_float(t: Types, _: &Attrs) -> Out {
    unary_with(t, DType::is_float, "a float type")
}
pub fn unary_bool(t: Types, _: &Attrs) -> Out {
    unary_with(t, DType::is_bool, "bool")
}
pub fn unary_integral(t: Types, _: &Attrs) -> Out {
    unary_with(t, DType::is_integral, "an integer or bool type")
}
pub fn unary_to_bool(t: Types, _: &Attrs) -> Out {
    one(t[0].with_dtype(DType::Bool))
}

/// Same dtype, agreeing shapes; returns the common type.
fn same_types(a: &TensorType, b: &TensorType) -> Result<TensorType, String> {
    if a.dtype != b.dtype {
        return Err(format!(
            "operand dtypes differ ({} and {}): insert tensor.cast",
            a.dtype, b.dtype
        ));
    }
    if !shapes_agree(&a.shape, &b.shape) {
        return Err(format!(
            "operand shapes differ ({} and {}): insert tensor.broadcast",
            shape_str(&a.shape),
            shape_str(&b.shape)
        ));
    }
    Ok(TensorType::new(a.dtype, meet(&a.shape, &b.shape)))
}

fn binary_with(t: Types, ok: fn(DType) -> bool, what: &str) -> Out {
    let ty = same_types(t[0], t[1])?;
    if !ok(ty.dtype) {
        return Err(format!("operands must be {what}, found {}", ty.dtype));
    }
    one(ty)
}

pub fn binary_numeric(t: Types, _: &Attrs) -> Out {
    binary_with(t, |_| true, "any type")
}
pub fn binary_float(t: Types, _: &Attrs) -> Out {
    binary_with(t, DType::is_float, "a float type")
}
pub fn binary_bool(t: Types, _: &Attrs) -> Out {
    binary_with(t, DType::is_bool, "bool")
}
pub fn binary_integral(t: Types, _: &Attrs) -> Out {
    binary_with(t, DType::is_integral, "an integer or bool type")
}
pub fn divmod(t: Types, _: &Attrs) -> Out {
    let ty = same_types(t[0], t[1])?;
    Ok(vec![ty.clone(), ty])
}
pub fn compare(t: Types, _: &Attrs) -> Out {
    one(same_types(t[0], t[1])?.with_dtype(DType::Bool))
}

pub fn select(t: Types, _: &Attrs) -> Out {
    if t[0].dtype != DType::Bool {
        return Err(format!("condition must be bool, found {}", t[0].dtype));
    }
    let ty = same_types(t[1], t[2])?;
    if !shapes_agree(&t[0].shape, &ty.shape) {
        return Err(format!(
            "condition shape {} differs from value shape {}",
            shape_str(&t[0].shape),
            shape_str(&ty.shape)
        ));
    }
    let shape = meet(&ty.shape, &t[0].shape);
    one(TensorType::new(ty.dtype, shape))
}

pub fn cast(t: Types, attrs: &Attrs) -> Out {
    one(t[0].with_dtype(attrs.dtype("dtype")?))
}

pub fn bitcast(t: Types, attrs: &Attrs) -> Out {
    let to = attrs.dtype("dtype")?;
    let from = t[0].dtype;
    let mut shape = t[0].shape.clone();
    if to.size() != from.size() {
        let last = shape
            .last_mut()
            .ok_or_else(|| format!("a 0-d {from} cannot be viewed as {to}"))?;
        if *last != DYN {
            let bytes = last
                .checked_mul(from.size() as Dim)
                .ok_or_else(|| format!("last axis of {last} elements overflows in bytes"))?;
            if bytes % to.size() as Dim != 0 {
                return Err(format!(
                    "last axis of {} bytes does not divide into {to} elements",
                    bytes
                ));
            }
            *last = bytes / to.size() as Dim;
        }
    }
    one(TensorType::new(to, shape))
}

// ---- reductions ----

fn reduced_shape(x: &TensorType, attrs: &Attrs) -> Result<Vec<Dim>, String> {
    let axes = check_axes(attrs.ints("axes")?, x.rank())?;
    let keepdims = attrs.bool("keepdims").unwrap_or(false);
    let mut out = Vec::with_capacity(x.rank());
    for (i, &d) in x.shape.iter().enumerate() {
        if axes.contains(&i) {
            if keepdims {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    Ok(out)
}

pub fn reduce_sum(t: Types, attrs: &Attrs) -> Out {
    let dtype = if t[0].dtype.is_bool() {
        DType::I32
    } else {
        t[0].dtype
    };
    one(TensorType::new(dtype, reduced_shape(t[0], attrs)?))
}
pub fn reduce_same(t: Types, attrs: &Attrs) -> Out {
    one(TensorType::new(t[0].dtype, reduced_shape(t[0], attrs)?))
}
pub fn reduce_bool(t: Types, attrs: &Attrs) -> Out {
    one(TensorType::new(DType::Bool, reduced_shape(t[0], attrs)?))
}
pub fn reduce_float(t: Types, attrs: &Attrs) -> Out {
    if !t[0].dtype.is_float() {
        return Err(format!(
            "operand must be a float type, found {}",
            t[0].dtype
        ));
    }
    one(TensorType::new(t[0].dtype, reduced_shape(t[0], attrs)?))
}

pub fn arg_reduce(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let axis = check_axis(attrs.int("axis")?, x.rank(), "axis")?;
    let keepdims = attrs.bool("keepdims").unwrap_or(false);
    let mut shape = x.shape.clone();
    if keepdims {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    one(TensorType::new(DType::U32, shape))
}

pub fn softmax(t: Types, attrs: &Attrs) -> Out {
    check_axes(attrs.ints("axes")?, t[0].rank())?;
    unary_float(t, attrs)
}

// ---- scans ----

pub fn scan_same(t: Types, attrs: &Attrs) -> Out {
    check_axis(attrs.int("axis")?, t[0].rank(), "axis")?;
    one(t[0].clone())
}
pub fn scan_sum(t: Types, attrs: &Attrs) -> Out {
    check_axis(attrs.int("axis")?, t[0].rank(), "axis")?;
    if t[0].dtype.is_bool() {
        return one(t[0].with_dtype(DType::I32));
    }
    one(t[0].clone())
}
pub fn scan_float(t: Types, attrs: &Attrs) -> Out {
    check_axis(attrs.int("axis")?, t[0].rank(), "axis")?;
    unary_float(t, attrs)
}

// ---- layout ----

pub fn same_as_first(t: Types, attrs: &Attrs) -> Out {
    if let Ok(axes) = attrs.ints("axes") {
        check_axes(axes, t[0].rank())?;
    }
    if let Ok(axis) = attrs.int("axis") {
        check_axis(axis, t[0].rank(), "axis")?;
    }
    if let Ok(kth) = attrs.int("kth") {
        let axis = attrs.int("axis")? as usize;
        let n = t[0].shape[axis];
        if kth < 0 || (n != DYN && kth >= n) {
            return Err(format!("kth {kth} is out of range for axis size {n}"));
        }
    }
    one(t[0].clone())
}

pub fn to_u32(t: Types, attrs: &Attrs) -> Out {
    let mut out = same_as_first(t, attrs)?;
    out[0].dtype = DType::U32;
    Ok(out)
}

/// Resolves a reshape target with at most one -1 against `from`.
pub fn resolve_reshape(from: &[Dim], to: &[i64]) -> Result<Vec<Dim>, String> {
    let mut infer_at = None;
    let mut known: i64 = 1;
    for (i, &d) in to.iter().enumerate() {
        if d == -1 {
            if infer_at.replace(i).is_some() {
                return Err(format!("shape {to:?} has more than one -1"));
            }
        } else if d < 0 {
            return Err(format!("shape {to:?} has negative size {d}"));
        } else {
            known = known
                .checked_mul(d)
                .ok_or_else(|| format!("shape {to:?} overflows"))?;
        }
    }
    // None: a symbolic dim makes the count unknown (overflow is an error, not symbolic).
    let mut total: Option<i64> = Some(1);
    for &d in from {
        total = match total {
            _ if d == DYN => None,
            Some(a) => Some(
                a.checked_mul(d)
                    .ok_or_else(|| format!("element count of {} overflows", shape_str(from)))?,
            ),
            None => None,
        };
    }
    let mut out = to.to_vec();
    match (total, infer_at) {
        (None, Some(i)) => out[i] = DYN,
        (None, None) => {}
        (Some(n), Some(i)) => {
            if known == 0 || n % known != 0 {
                return Err(format!(
                    "cannot reshape {} ({n} elements) to {to:?}",
                    shape_str(from)
                ));
            }
            out[i] = n / known;
        }
        (Some(n), None) => {
            if n != known {
                return Err(format!(
                    "cannot reshape {} ({n} elements) to {} ({known} elements)",
                    shape_str(from),
                    shape_str(to)
                ));
            }
        }
    }
    Ok(out)
}

pub fn reshape(t: Types, attrs: &Attrs) -> Out {
    let shape = resolve_reshape(&t[0].shape, attrs.ints("shape")?)?;
    one(t[0].with_shape(shape))
}

pub fn transpose(t: Types, attrs: &Attrs) -> Out {
    let perm = attrs.ints("perm")?;
    let rank = t[0].rank();
    if perm.len() != rank {
        return Err(format!(
            "perm {perm:?} has {} entries for rank {rank}",
            perm.len()
        ));
    }
    let mut seen = vec![false; rank];
    let mut shape = Vec::with_capacity(rank);
    for &p in perm {
        let p = check_axis(p, rank, "perm entry")?;
        if std::mem::replace(&mut seen[p], true) {
            return Err(format!("perm {perm:?} repeats axis {p}"));
        }
        shape.push(t[0].shape[p]);
    }
    one(t[0].with_shape(shape))
}

pub fn broadcast(t: Types, attrs: &Attrs) -> Out {
    let to = check_shape_attr(attrs.ints("shape")?)?;
    let from = &t[0].shape;
    if from.len() > to.len() {
        return Err(format!(
            "cannot broadcast {} to lower rank {}",
            shape_str(from),
            shape_str(&to)
        ));
    }
    let off = to.len() - from.len();
    for (i, &d) in from.iter().enumerate() {
        if d != 1 && d != DYN && d != to[off + i] {
            return Err(format!(
                "cannot broadcast {} to {}",
                shape_str(from),
                shape_str(&to)
            ));
        }
    }
    one(t[0].with_shape(to))
}

pub fn broadcast_like(t: Types, attrs: &Attrs) -> Out {
    let ignore: &[i64] = attrs.ints("ignore_axes").unwrap_or(&[]);
    let x = t[0];
    for &a in ignore {
        if a >= 0 || a.unsigned_abs() > x.rank() as u64 {
            return Err(format!(
                "ignore_axes entry {a} must be negative and within rank {}",
                x.rank()
            ));
        }
    }
    let k = ignore.len();
    // Broadcast everything but the trailing ignored axes (MLX's
    // BroadcastAxes ignores axes counted from the end).
    let strip = |s: &[Dim]| -> Result<Vec<Dim>, String> {
        let mut s = s.to_vec();
        for &a in ignore {
            let i = s.len() as i64 + a;
            if i < 0 {
                return Err(format!("operand of rank {} has no axis {a}", s.len()));
            }
            s[i as usize] = 1;
        }
        Ok(s)
    };
    let mut shape = strip(&x.shape)?;
    for o in &t[1..] {
        let os = strip(&o.shape)?;
        shape = broadcast_shapes(&shape, &os).ok_or_else(|| {
            format!(
                "shapes {} and {} cannot be broadcast",
                shape_str(&x.shape),
                shape_str(&o.shape)
            )
        })?;
    }
    let n = shape.len();
    for &a in ignore {
        let xi = (x.rank() as i64 + a) as usize;
        shape[(n as i64 + a) as usize] = x.shape[xi];
    }
    let _ = k;
    one(x.with_shape(shape))
}

pub fn expand_dims(t: Types, attrs: &Attrs) -> Out {
    let axes = attrs.ints("axes")?;
    let rank = t[0].rank() + axes.len();
    let axes = check_axes(axes, rank)?;
    let mut src = t[0].shape.iter();
    let shape = (0..rank)
        .map(|i| {
            if axes.contains(&i) {
                1
            } else {
                *src.next().expect("rank counts match")
            }
        })
        .collect();
    one(t[0].with_shape(shape))
}

pub fn squeeze(t: Types, attrs: &Attrs) -> Out {
    let axes = check_axes(attrs.ints("axes")?, t[0].rank())?;
    let mut shape = Vec::new();
    for (i, &d) in t[0].shape.iter().enumerate() {
        if axes.contains(&i) {
            if d != 1 && d != DYN {
                return Err(format!("cannot squeeze axis {i} of size {d}"));
            }
        } else {
            shape.push(d);
        }
    }
    one(t[0].with_shape(shape))
}

pub fn flatten(t: Types, attrs: &Attrs) -> Out {
    let rank = t[0].rank().max(1);
    let s = check_axis(attrs.int("start_axis")?, rank, "start_axis")?;
    let e = check_axis(attrs.int("end_axis")?, rank, "end_axis")?;
    if s > e {
        return Err(format!("start_axis {s} is after end_axis {e}"));
    }
    if t[0].rank() == 0 {
        return one(t[0].with_shape(vec![1]));
    }
    let x = &t[0].shape;
    let merged = x[s..=e]
        .iter()
        .try_fold(Some(1i64), |a, &d| match (a, d) {
            (None, _) | (_, DYN) => Ok(None),
            (Some(a), d) => a.checked_mul(d).map(Some).ok_or(()),
        })
        .map_err(|()| format!("merged size of {} overflows", shape_str(&x[s..=e])))?
        .unwrap_or(DYN);
    let mut shape = x[..s].to_vec();
    shape.push(merged);
    shape.extend_from_slice(&x[e + 1..]);
    one(t[0].with_shape(shape))
}

pub fn unflatten(t: Types, attrs: &Attrs) -> Out {
    let axis = check_axis(attrs.int("axis")?, t[0].rank(), "axis")?;
    let parts = resolve_reshape(&[t[0].shape[axis]], attrs.ints("shape")?)?;
    let mut shape = t[0].shape[..axis].to_vec();
    shape.extend(parts);
    shape.extend_from_slice(&t[0].shape[axis + 1..]);
    one(t[0].with_shape(shape))
}

/// Number of elements a strided slice selects along one axis of size `n`.
pub fn slice_len(n: Dim, start: i64, stop: i64, stride: i64) -> Result<Dim, String> {
    if stride == 0 {
        return Err("slice stride must be non-zero".into());
    }
    if n == DYN {
        return Ok(DYN);
    }
    let (lo, hi) = if stride > 0 { (0, n) } else { (-1, n - 1) };
    if !(lo..=hi).contains(&start) || !(lo..=hi).contains(&stop) {
        return Err(format!(
            "slice {start}:{stop}:{stride} is out of range for size {n}"
        ));
    }
    // i128: `stride` may be i64::MIN and `span + step` may pass i64::MAX.
    let (start, stop, stride) = (start as i128, stop as i128, stride as i128);
    let span = if stride > 0 {
        stop - start
    } else {
        start - stop
    };
    let step = stride.abs();
    Ok(((span.max(0) + step - 1) / step) as Dim)
}

fn slice_shape(x: &TensorType, attrs: &Attrs) -> Result<Vec<Dim>, String> {
    let (start, stop, strides) = (
        attrs.ints("start")?,
        attrs.ints("stop")?,
        attrs.ints("strides")?,
    );
    let r = x.rank();
    if start.len() != r || stop.len() != r || strides.len() != r {
        return Err(format!(
            "start, stop and strides need {r} entries each (got {}, {}, {})",
            start.len(),
            stop.len(),
            strides.len()
        ));
    }
    (0..r)
        .map(|i| {
            slice_len(x.shape[i], start[i], stop[i], strides[i])
                .map_err(|e| format!("axis {i}: {e}"))
        })
        .collect()
}

pub fn slice(t: Types, attrs: &Attrs) -> Out {
    one(t[0].with_shape(slice_shape(t[0], attrs)?))
}

pub fn slice_update(t: Types, attrs: &Attrs) -> Out {
    let region = slice_shape(t[0], attrs)?;
    check_reduce_kind(attrs, &["none", "sum", "prod", "max", "min"])?;
    if t[1].dtype != t[0].dtype {
        return Err(format!(
            "update dtype {} differs from {}",
            t[1].dtype, t[0].dtype
        ));
    }
    if !shapes_agree(&region, &t[1].shape) {
        return Err(format!(
            "update shape {} differs from the slice's shape {}",
            shape_str(&t[1].shape),
            shape_str(&region)
        ));
    }
    one(t[0].clone())
}

fn check_reduce_kind(attrs: &Attrs, allowed: &[&str]) -> Result<(), String> {
    if let Ok(r) = attrs.str("reduce") {
        if !allowed.contains(&r) {
            return Err(format!("reduce `{r}` is not one of {allowed:?}"));
        }
    }
    Ok(())
}

pub fn pad(t: Types, attrs: &Attrs) -> Out {
    let (low, high) = (attrs.ints("low")?, attrs.ints("high")?);
    let x = t[0];
    if low.len() != x.rank() || high.len() != x.rank() {
        return Err(format!("low and high need {} entries each", x.rank()));
    }
    if t[1].rank() != 0 || t[1].dtype != x.dtype {
        return Err(format!(
            "pad value must be a 0-d {}, found {}",
            x.dtype, t[1]
        ));
    }
    let mut shape = Vec::with_capacity(x.rank());
    for i in 0..x.rank() {
        if low[i] < 0 || high[i] < 0 {
            return Err(format!("axis {i}: negative padding"));
        }
        shape.push(if x.shape[i] == DYN {
            DYN
        } else {
            x.shape[i]
                .checked_add(low[i])
                .and_then(|d| d.checked_add(high[i]))
                .ok_or_else(|| format!("axis {i}: padded size overflows"))?
        });
    }
    one(x.with_shape(shape))
}

pub fn concatenate(t: Types, attrs: &Attrs) -> Out {
    let first = t[0];
    let axis = check_axis(attrs.int("axis")?, first.rank(), "axis")?;
    let mut total: Dim = 0;
    let mut shape = first.shape.clone();
    for (k, o) in t.iter().enumerate() {
        if o.dtype != first.dtype || o.rank() != first.rank() {
            return Err(format!(
                "operand {k} is {o}, expected rank {} of {}",
                first.rank(),
                first.dtype
            ));
        }
        for (i, (&od, sd)) in o.shape.iter().zip(shape.iter_mut()).enumerate() {
            if i != axis && !dims_agree(od, *sd) {
                return Err(format!(
                    "operand {k} has size {} on axis {i}, expected {}",
                    fmt_dim(od),
                    fmt_dim(*sd)
                ));
            }
            if i != axis && *sd == DYN {
                *sd = od;
            }
        }
        total = if total == DYN || o.shape[axis] == DYN {
            DYN
        } else {
            total
                .checked_add(o.shape[axis])
                .ok_or_else(|| "concatenated size overflows".to_string())?
        };
    }
    shape[axis] = total;
    one(first.with_shape(shape))
}

pub fn split(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let axis = check_axis(attrs.int("axis")?, x.rank(), "axis")?;
    let idx = attrs.ints("indices")?;
    let n = x.shape[axis];
    let mut prev = 0;
    let mut out = Vec::with_capacity(idx.len() + 1);
    for &i in idx.iter().chain(std::iter::once(&n)) {
        if n == DYN {
            let mut s = x.shape.clone();
            s[axis] = DYN;
            out.push(x.with_shape(s));
            continue;
        }
        if i < prev || i > n {
            return Err(format!("split indices {idx:?} must ascend within size {n}"));
        }
        let mut s = x.shape.clone();
        s[axis] = i - prev;
        out.push(x.with_shape(s));
        prev = i;
    }
    Ok(out)
}

// ---- indexing ----

fn check_index_dtype(t: &TensorType, what: &str) -> Result<(), String> {
    if !t.dtype.is_integer() {
        return Err(format!("{what} must be an integer type, found {}", t.dtype));
    }
    Ok(())
}

pub fn dynamic_slice(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let axes = attrs.ints("axes")?;
    for &a in axes {
        check_axis(a, x.rank(), "axis")?;
    }
    check_index_dtype(t[1], "start indices")?;
    if t[1].shape.len() != 1 || !dims_agree(t[1].shape[0], axes.len() as Dim) {
        return Err(format!(
            "start indices must be 1-d with {} entries, found {}",
            axes.len(),
            t[1]
        ));
    }
    let sizes = check_shape_attr(attrs.ints("sizes")?)?;
    if sizes.len() != x.rank() {
        return Err(format!("sizes {sizes:?} must have {} entries", x.rank()));
    }
    for (i, (&s, &d)) in sizes.iter().zip(&x.shape).enumerate() {
        if d != DYN && s > d {
            return Err(format!("axis {i}: slice size {s} exceeds size {d}"));
        }
    }
    one(x.with_shape(sizes))
}

pub fn dynamic_slice_update(t: Types, attrs: &Attrs) -> Out {
    let (x, upd, start) = (t[0], t[1], t[2]);
    let axes = attrs.ints("axes")?;
    for &a in axes {
        check_axis(a, x.rank(), "axis")?;
    }
    check_index_dtype(start, "start indices")?;
    if start.shape.len() != 1 || !dims_agree(start.shape[0], axes.len() as Dim) {
        return Err(format!(
            "start indices must be 1-d with {} entries, found {start}",
            axes.len()
        ));
    }
    if upd.dtype != x.dtype || upd.rank() != x.rank() {
        return Err(format!("update {upd} must have the rank and dtype of {x}"));
    }
    for i in 0..x.rank() {
        if x.shape[i] != DYN && upd.shape[i] != DYN && upd.shape[i] > x.shape[i] {
            return Err(format!("axis {i}: update is larger than the operand"));
        }
    }
    one(x.clone())
}

/// Checks that every index operand is an integer tensor of one shape; returns it.
fn index_shape(idx: &[&TensorType]) -> Result<Vec<Dim>, String> {
    let mut shape: Option<Vec<Dim>> = None;
    for (k, i) in idx.iter().enumerate() {
        check_index_dtype(i, &format!("index operand {k}"))?;
        match &shape {
            None => shape = Some(i.shape.clone()),
            Some(s) if shapes_agree(s, &i.shape) => {}
            Some(s) => {
                return Err(format!(
                    "index operands must share one shape: {} and {}",
                    shape_str(s),
                    shape_str(&i.shape)
                ))
            }
        }
    }
    Ok(shape.unwrap_or_default())
}

pub fn gather(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let idx = &t[1..];
    let axes = attrs.ints("axes")?;
    if axes.len() != idx.len() {
        return Err(format!(
            "{} axes for {} index operands",
            axes.len(),
            idx.len()
        ));
    }
    for &a in axes {
        check_axis(a, x.rank(), "axis")?;
    }
    let sizes = check_shape_attr(attrs.ints("slice_sizes")?)?;
    if sizes.len() != x.rank() {
        return Err(format!(
            "slice_sizes {sizes:?} must have {} entries",
            x.rank()
        ));
    }
    for (i, (&s, &d)) in sizes.iter().zip(&x.shape).enumerate() {
        if d != DYN && s > d {
            return Err(format!("axis {i}: slice size {s} exceeds size {d}"));
        }
    }
    let mut shape = index_shape(idx)?;
    shape.extend(sizes);
    one(x.with_shape(shape))
}

pub fn take_along_axis(t: Types, attrs: &Attrs) -> Out {
    let (x, idx) = (t[0], t[1]);
    let axis = check_axis(attrs.int("axis")?, x.rank(), "axis")?;
    check_index_dtype(idx, "indices")?;
    if idx.rank() != x.rank() {
        return Err(format!("indices {idx} must have the rank of {x}"));
    }
    for i in 0..x.rank() {
        if i != axis && !dims_agree(idx.shape[i], x.shape[i]) {
            return Err(format!(
                "indices {idx} must match {x} on every axis but {axis}"
            ));
        }
    }
    one(x.with_shape(idx.shape.clone()))
}

pub fn scatter(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let upd = t[t.len() - 1];
    let idx = &t[1..t.len() - 1];
    let axes = attrs.ints("axes")?;
    check_reduce_kind(attrs, &["none", "sum", "prod", "max", "min"])?;
    if axes.len() != idx.len() {
        return Err(format!(
            "{} axes for {} index operands",
            axes.len(),
            idx.len()
        ));
    }
    for &a in axes {
        check_axis(a, x.rank(), "axis")?;
    }
    let ishape = index_shape(idx)?;
    if upd.dtype != x.dtype {
        return Err(format!(
            "updates dtype {} differs from {}",
            upd.dtype, x.dtype
        ));
    }
    if upd.rank() != ishape.len() + x.rank() {
        return Err(format!(
            "updates {upd} must have rank {} (index rank {} + operand rank {})",
            ishape.len() + x.rank(),
            ishape.len(),
            x.rank()
        ));
    }
    for i in 0..x.rank() {
        let u = upd.shape[ishape.len() + i];
        if u != DYN && x.shape[i] != DYN && u > x.shape[i] {
            return Err(format!(
                "updates slice is larger than the operand on axis {i}"
            ));
        }
    }
    one(x.clone())
}

pub fn scatter_axis(t: Types, attrs: &Attrs) -> Out {
    let (x, idx, upd) = (t[0], t[1], t[2]);
    let axis = check_axis(attrs.int("axis")?, x.rank(), "axis")?;
    check_reduce_kind(attrs, &["none", "sum"])?;
    check_index_dtype(idx, "indices")?;
    if idx.rank() != x.rank() || !shapes_agree(&idx.shape, &upd.shape) || upd.dtype != x.dtype {
        return Err(format!(
            "indices {idx} and updates {upd} must share a shape of the rank of {x}, updates of its dtype"
        ));
    }
    let _ = axis;
    one(x.clone())
}

// ---- contractions ----

pub fn matmul(t: Types, _: &Attrs) -> Out {
    let (a, b) = (t[0], t[1]);
    if a.dtype != b.dtype {
        return Err(format!(
            "operand dtypes differ ({} and {})",
            a.dtype, b.dtype
        ));
    }
    if !a.dtype.is_inexact() {
        return Err(format!("operands must be float, found {}", a.dtype));
    }
    if a.rank() < 2 || b.rank() < 2 || a.rank() != b.rank() {
        return Err(format!(
            "operands must have one rank of at least 2, found {a} and {b}"
        ));
    }
    let r = a.rank();
    if !shapes_agree(&a.shape[..r - 2], &b.shape[..r - 2]) {
        return Err(format!("batch dimensions differ: {a} and {b}"));
    }
    if !dims_agree(a.shape[r - 1], b.shape[r - 2]) {
        return Err(format!(
            "contracting dimensions differ: {} and {}",
            fmt_dim(a.shape[r - 1]),
            fmt_dim(b.shape[r - 2])
        ));
    }
    let mut shape = meet(&a.shape[..r - 2], &b.shape[..r - 2]);
    shape.push(a.shape[r - 2]);
    shape.push(b.shape[r - 1]);
    one(a.with_shape(shape))
}

pub fn addmm(t: Types, attrs: &Attrs) -> Out {
    let out = matmul(&t[1..], attrs)?;
    let c = t[0];
    if c.dtype != out[0].dtype || !shapes_agree(&c.shape, &out[0].shape) {
        return Err(format!("c is {c}, expected {}", out[0]));
    }
    Ok(out)
}

pub fn number_of_elements(t: Types, attrs: &Attrs) -> Out {
    let axes = attrs.ints("axes")?;
    for &a in axes {
        check_axis(a, t[0].rank(), "axis")?;
    }
    one(TensorType::scalar(attrs.dtype("dtype")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_inference() {
        assert_eq!(resolve_reshape(&[2, 6], &[3, -1]).unwrap(), vec![3, 4]);
        assert!(resolve_reshape(&[2, 6], &[5, -1]).is_err());
        assert!(resolve_reshape(&[2, 6], &[-1, -1]).is_err());
        assert_eq!(resolve_reshape(&[DYN, 6], &[-1, 3]).unwrap(), vec![DYN, 3]);
    }

    #[test]
    fn slice_lengths() {
        assert_eq!(slice_len(5, 1, 3, 1).unwrap(), 2);
        assert_eq!(slice_len(5, 0, 5, 2).unwrap(), 3);
        assert_eq!(slice_len(5, 4, -1, -1).unwrap(), 5);
        assert_eq!(slice_len(5, 4, 0, -2).unwrap(), 2);
        assert!(slice_len(5, 0, 9, 1).is_err());
        assert!(slice_len(5, 0, 1, 0).is_err());
    }
}
