//! Shape and layout ops: `reshape, flatten, unflatten, transpose, swapaxes,
//! moveaxis, broadcast_to, broadcast_arrays, expand_dims, squeeze, slice`
//! (Python-style bounds), `index`, `slice_update, pad, concatenate, stack,
//! split, flip`.

use super::elementwise::{result_dtype, scalar_array};
use super::{
    broadcast_all, broadcast_shape_of, broadcast_to_shape, cast_to, dims, infallible, norm_axes,
    norm_axis, Axes,
};
use crate::array::{build, build1, Array, IntoOperand, Operand};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, Opcode, DYN};

/// Reshapes to `shape` (one entry may be -1, inferred).
pub fn try_reshape(x: &Array, shape: &[i32]) -> Result<Array, Error> {
    x.check()?;
    build1(
        "reshape",
        Opcode::Reshape,
        vec![x.clone()],
        Attrs::new().with(
            "shape",
            Attr::Ints(shape.iter().map(|&d| d as i64).collect()),
        ),
    )
}

/// Merges axes `start_axis..=end_axis` (negative axes count from the end).
pub fn try_flatten(x: &Array, start_axis: i32, end_axis: i32) -> Result<Array, Error> {
    x.check()?;
    let r = x.ndim().max(1);
    let s = norm_axis("flatten", start_axis as i64, r)?;
    let e = norm_axis("flatten", end_axis as i64, r)?;
    build1(
        "flatten",
        Opcode::Flatten,
        vec![x.clone()],
        Attrs::new()
            .with("start_axis", Attr::Int(s as i64))
            .with("end_axis", Attr::Int(e as i64)),
    )
}

/// Splits `axis` into `shape` (one entry may be -1).
pub fn try_unflatten(x: &Array, axis: i32, shape: &[i32]) -> Result<Array, Error> {
    x.check()?;
    let a = norm_axis("unflatten", axis as i64, x.ndim())?;
    build1(
        "unflatten",
        Opcode::Unflatten,
        vec![x.clone()],
        Attrs::new().with("axis", Attr::Int(a as i64)).with(
            "shape",
            Attr::Ints(shape.iter().map(|&d| d as i64).collect()),
        ),
    )
}

fn permute(op: &str, x: &Array, perm: Vec<i64>) -> Result<Array, Error> {
    if perm.iter().enumerate().all(|(i, &p)| i as i64 == p) {
        return Ok(x.clone());
    }
    build1(
        op,
        Opcode::Transpose,
        vec![x.clone()],
        Attrs::new().with("perm", Attr::Ints(perm)),
    )
}

/// Reverses the axes (MLX's `transpose` without `axes`).
pub fn try_transpose(x: &Array) -> Result<Array, Error> {
    x.check()?;
    permute("transpose", x, (0..x.ndim() as i64).rev().collect())
}

/// Permutes axes: result axis `i` is axis `axes[i]` of `x`.
pub fn try_transpose_axes(x: &Array, axes: &[i32]) -> Result<Array, Error> {
    x.check()?;
    if axes.len() != x.ndim() {
        return Err(Error::new(
            "transpose",
            format!(
                "{} axes given for an array of rank {}",
                axes.len(),
                x.ndim()
            ),
        ));
    }
    let perm = axes
        .iter()
        .map(|&a| norm_axis("transpose", a as i64, x.ndim()).map(|a| a as i64))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = vec![false; x.ndim()];
    for &p in &perm {
        if std::mem::replace(&mut seen[p as usize], true) {
            return Err(Error::new(
                "transpose",
                format!("repeated axis in {axes:?}"),
            ));
        }
    }
    permute("transpose", x, perm)
}

/// Swaps two axes.
pub fn try_swapaxes(x: &Array, axis1: i32, axis2: i32) -> Result<Array, Error> {
    x.check()?;
    let a = norm_axis("swapaxes", axis1 as i64, x.ndim())?;
    let b = norm_axis("swapaxes", axis2 as i64, x.ndim())?;
    let mut perm: Vec<i64> = (0..x.ndim() as i64).collect();
    perm.swap(a, b);
    permute("swapaxes", x, perm)
}

/// Moves axis `source` to position `destination`.
pub fn try_moveaxis(x: &Array, source: i32, destination: i32) -> Result<Array, Error> {
    x.check()?;
    let s = norm_axis("moveaxis", source as i64, x.ndim())?;
    let d = norm_axis("moveaxis", destination as i64, x.ndim())?;
    let mut perm: Vec<i64> = (0..x.ndim() as i64).collect();
    let a = perm.remove(s);
    perm.insert(d, a);
    permute("moveaxis", x, perm)
}

/// Broadcasts to `shape` (NumPy rules).
pub fn try_broadcast_to(x: &Array, shape: &[i32]) -> Result<Array, Error> {
    x.check()?;
    let target = dims("broadcast_to", shape)?;
    let b = broadcast_shape_of("broadcast_to", &[x.shape(), &target])?;
    if b != target {
        return Err(Error::new(
            "broadcast_to",
            format!(
                "cannot broadcast shape {} to {}",
                shape_str(x.shape()),
                shape_str(&target)
            ),
        ));
    }
    broadcast_to_shape("broadcast_to", x, &target, &[])
}

/// Broadcasts arrays against each other.
pub fn try_broadcast_arrays(xs: &[Array]) -> Result<Vec<Array>, Error> {
    broadcast_all("broadcast_arrays", xs)
}

/// Inserts size-1 axes at `axes` (positions in the result; negative count
/// from the result's end).
pub fn try_expand_dims(x: &Array, axes: impl Into<Axes>) -> Result<Array, Error> {
    x.check()?;
    let axes = axes.into();
    let n = match &axes {
        Axes::All => 0,
        Axes::List(l) => l.len(),
    };
    let axes = norm_axes("expand_dims", &axes, x.ndim() + n)?;
    if axes.is_empty() {
        return Ok(x.clone());
    }
    build1(
        "expand_dims",
        Opcode::ExpandDims,
        vec![x.clone()],
        Attrs::new().with("axes", Attr::Ints(axes)),
    )
}

/// Removes size-1 axes: the listed ones, or with [`Axes::All`] every one.
pub fn try_squeeze(x: &Array, axes: impl Into<Axes>) -> Result<Array, Error> {
    x.check()?;
    let axes: Vec<i64> = match axes.into() {
        Axes::All => (0..x.ndim())
            .filter(|&i| x.shape()[i] == 1)
            .map(|i| i as i64)
            .collect(),
        list => norm_axes("squeeze", &list, x.ndim())?,
    };
    if axes.is_empty() {
        return Ok(x.clone());
    }
    build1(
        "squeeze",
        Opcode::Squeeze,
        vec![x.clone()],
        Attrs::new().with("axes", Attr::Ints(axes)),
    )
}

/// Python slice bounds for an axis of size `n`: `(start, stop)` in the IR's
/// encoding (for negative steps a stop of -1 means past the front).
pub(crate) fn python_bounds(
    n: i64,
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> (i64, i64) {
    let norm = |v: i64, lo: i64, hi: i64| {
        let v = if v < 0 { v + n } else { v };
        v.clamp(lo, hi)
    };
    if step > 0 {
        (
            start.map_or(0, |s| norm(s, 0, n)),
            stop.map_or(n, |s| norm(s, 0, n)),
        )
    } else {
        (
            start.map_or(n - 1, |s| norm(s, -1, n - 1)),
            stop.map_or(-1, |s| norm(s, -1, n - 1)),
        )
    }
}

/// Normalized `(start, stop, strides)` attributes of a full-rank slice.
fn slice_attrs(
    op: &str,
    x: &Array,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
) -> Result<Attrs, Error> {
    let r = x.ndim();
    if start.len() != r || stop.len() != r || strides.len() != r {
        return Err(Error::new(
            op,
            format!(
                "start, stop and strides need {r} entries each for shape {} (got {}, {}, {})",
                shape_str(x.shape()),
                start.len(),
                stop.len(),
                strides.len()
            ),
        ));
    }
    let (mut s0, mut s1) = (Vec::with_capacity(r), Vec::with_capacity(r));
    for i in 0..r {
        let n = x.shape()[i];
        if strides[i] == 0 {
            return Err(Error::new(
                op,
                format!("axis {i}: slice step must be non-zero"),
            ));
        }
        if n == DYN {
            return Err(Error::new(op, format!("axis {i} has a symbolic size")));
        }
        let (a, b) = python_bounds(
            n,
            Some(start[i] as i64),
            Some(stop[i] as i64),
            strides[i] as i64,
        );
        s0.push(a);
        s1.push(b);
    }
    Ok(Attrs::new()
        .with("start", Attr::Ints(s0))
        .with("stop", Attr::Ints(s1))
        .with(
            "strides",
            Attr::Ints(strides.iter().map(|&s| s as i64).collect()),
        ))
}

/// `x[start:stop:strides]` per axis with Python's rules: negative bounds
/// count from the end and out-of-range bounds clamp (so `i32::MIN` /
/// `i32::MAX` reach past either end). All three have one entry per axis.
pub fn try_slice(x: &Array, start: &[i32], stop: &[i32], strides: &[i32]) -> Result<Array, Error> {
    x.check()?;
    let attrs = slice_attrs("slice", x, start, stop, strides)?;
    build1("slice", Opcode::Slice, vec![x.clone()], attrs)
}

/// `x` with `x[start:stop:strides]` replaced by `update` (broadcast to the
/// slice's shape and cast to `x`'s dtype).
pub fn try_slice_update(
    x: &Array,
    update: impl IntoOperand,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
) -> Result<Array, Error> {
    x.check()?;
    let attrs = slice_attrs("slice_update", x, start, stop, strides)?;
    let region = build1(
        "slice_update",
        Opcode::Slice,
        vec![x.clone()],
        attrs.clone(),
    )?;
    let upd = conform("slice_update", update.into_operand(), &region)?;
    build1(
        "slice_update",
        Opcode::SliceUpdate,
        vec![x.clone(), upd],
        attrs,
    )
}

/// `value` as an array of `like`'s dtype and shape.
pub(crate) fn conform(op: &str, value: Operand, like: &Array) -> Result<Array, Error> {
    match value {
        Operand::Scalar(s) => scalar_array(op, s, like.dtype(), like.shape(), &[like]),
        Operand::Array(a) => {
            let c = cast_to(op, &a, like.dtype())?;
            let b = broadcast_shape_of(op, &[c.shape(), like.shape()])?;
            if b != like.shape() {
                return Err(Error::new(
                    op,
                    format!(
                        "update of shape {} does not broadcast to {}",
                        shape_str(c.shape()),
                        shape_str(like.shape())
                    ),
                ));
            }
            broadcast_to_shape(op, &c, like.shape(), &[like])
        }
    }
}

/// One entry of a NumPy-style index (see [`try_index`]).
#[derive(Clone, Debug)]
pub enum Idx {
    /// One position (negative counts from the end); the axis is removed.
    Int(i64),
    /// `start:stop:step` with Python's defaults and clamping.
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: i64,
    },
    /// A new size-1 axis (`None` / `np.newaxis`).
    NewAxis,
    /// As many full slices as the remaining axes need (`...`).
    Ellipsis,
    /// Integer indices along this axis (`take`); the index array's axes
    /// replace this axis. At most one per index.
    Array(Array),
}

impl Idx {
    /// `:`
    pub fn full() -> Idx {
        Idx::Slice {
            start: None,
            stop: None,
            step: 1,
        }
    }
    /// `start:stop`
    pub fn range(start: i64, stop: i64) -> Idx {
        Idx::Slice {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }
    /// `start:stop:step` with optional bounds.
    pub fn slice(start: Option<i64>, stop: Option<i64>, step: i64) -> Idx {
        Idx::Slice { start, stop, step }
    }
}

/// NumPy-style indexing `x[idx...]`: integers, slices, new axes, one
/// ellipsis and at most one integer array. With an array index, integer
/// indices are advanced indices too (NumPy's rule): if they are not next
/// to the array index, the array's axes come first in the result.
pub fn try_index(x: &Array, idx: &[Idx]) -> Result<Array, Error> {
    x.check()?;
    let r = x.ndim();
    let used = idx
        .iter()
        .filter(|i| !matches!(i, Idx::NewAxis | Idx::Ellipsis))
        .count();
    if used > r {
        return Err(Error::new(
            "index",
            format!("too many indices ({used}) for an array of rank {r}"),
        ));
    }
    if idx.iter().filter(|i| matches!(i, Idx::Ellipsis)).count() > 1 {
        return Err(Error::new("index", "an index can hold only one ellipsis"));
    }
    // Expand to one entry per axis of `x`, plus new axes.
    let mut full: Vec<Idx> = Vec::with_capacity(r + idx.len());
    for i in idx {
        if let Idx::Ellipsis = i {
            full.extend((0..r - used).map(|_| Idx::full()));
        } else {
            full.push(i.clone());
        }
    }
    if !idx.iter().any(|i| matches!(i, Idx::Ellipsis)) {
        full.extend((0..r - used).map(|_| Idx::full()));
    }
    // First the strided slice of every axis; ints become 1-wide slices.
    let (mut start, mut stop, mut strides) = (Vec::new(), Vec::new(), Vec::new());
    let mut ax = 0;
    for i in &full {
        let n = match i {
            Idx::NewAxis => continue,
            _ => x.shape()[ax],
        };
        if n == DYN {
            return Err(Error::new(
                "index",
                format!("axis {ax} has a symbolic size"),
            ));
        }
        let (a, b, s) = match i {
            Idx::Int(k) => {
                let k2 = if *k < 0 { k + n } else { *k };
                if !(0..n).contains(&k2) {
                    return Err(Error::new(
                        "index",
                        format!("index {k} is out of bounds for axis {ax} of size {n}"),
                    ));
                }
                (k2, k2 + 1, 1)
            }
            Idx::Slice { start, stop, step } => {
                if *step == 0 {
                    return Err(Error::new("index", "slice step must be non-zero"));
                }
                let (a, b) = python_bounds(n, *start, *stop, *step);
                (a, b, *step)
            }
            _ => (0, n, 1),
        };
        start.push(a);
        stop.push(b);
        strides.push(s);
        ax += 1;
    }
    let trivial = (0..r).all(|i| start[i] == 0 && stop[i] == x.shape()[i] && strides[i] == 1);
    let mut y = if trivial {
        x.clone()
    } else {
        build1(
            "index",
            Opcode::Slice,
            vec![x.clone()],
            Attrs::new()
                .with("start", Attr::Ints(start))
                .with("stop", Attr::Ints(stop))
                .with("strides", Attr::Ints(strides)),
        )?
    };
    // Then the array index, then dropping int axes and adding new ones.
    let mut array_at = None;
    let mut ax = 0usize;
    for i in &full {
        match i {
            Idx::NewAxis => {}
            Idx::Array(a) => {
                if array_at.is_some() {
                    return Err(Error::new(
                        "index",
                        "only one integer array index is supported",
                    ));
                }
                array_at = Some((ax, a.clone()));
                ax += 1;
            }
            _ => ax += 1,
        }
    }
    let mut out_axes: Vec<Option<usize>> = Vec::new(); // per result axis: source axis, None = new
    let mut squeeze_axes = Vec::new();
    let mut ax = 0usize;
    for i in &full {
        match i {
            Idx::NewAxis => out_axes.push(None),
            Idx::Int(_) => {
                squeeze_axes.push(ax as i32);
                ax += 1;
            }
            _ => {
                out_axes.push(Some(ax));
                ax += 1;
            }
        }
    }
    let mut index_rank = 0usize;
    if let Some((axis, a)) = &array_at {
        y = super::indexing::try_take(&y, a, Some(*axis as i32))?;
        index_rank = a.ndim();
    }
    // Source axis positions shift once the array index is in place.
    let pos = |src: usize| -> usize {
        match &array_at {
            Some((axis, _)) if src > *axis => src + index_rank - 1,
            _ => src,
        }
    };
    let squeeze: Vec<i32> = squeeze_axes
        .iter()
        .map(|&a| pos(a as usize) as i32)
        .collect();
    y = try_squeeze(&y, Axes::List(squeeze.clone()))?;
    let mut new_axes = Vec::new();
    let mut array_pos = 0usize;
    let mut k = 0usize;
    for o in &out_axes {
        match o {
            None => {
                new_axes.push(k as i32);
                k += 1;
            }
            Some(src) => match &array_at {
                Some((axis, _)) if src == axis => {
                    array_pos = k;
                    k += index_rank;
                }
                _ => k += 1,
            },
        }
    }
    if !new_axes.is_empty() {
        y = try_expand_dims(&y, Axes::List(new_axes))?;
    }
    // With an array index, integers are advanced indices too; as in NumPy,
    // when the advanced indices are not adjacent their axes go first.
    let advanced: Vec<usize> = full
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Idx::Int(_) | Idx::Array(_)))
        .map(|(p, _)| p)
        .collect();
    let adjacent = advanced.windows(2).all(|w| w[1] == w[0] + 1);
    if array_at.is_some() && !adjacent && array_pos != 0 {
        let r = y.ndim();
        let perm: Vec<i32> = (array_pos..array_pos + index_rank)
            .chain(0..array_pos)
            .chain(array_pos + index_rank..r)
            .map(|a| a as i32)
            .collect();
        y = try_transpose_axes(&y, &perm)?;
    }
    Ok(y)
}

/// Pads with `value`: `pad_width` gives `(before, after)` per axis, or one
/// pair for every axis.
pub fn try_pad(
    x: &Array,
    pad_width: &[(i32, i32)],
    value: impl IntoOperand,
) -> Result<Array, Error> {
    x.check()?;
    let r = x.ndim();
    let widths: Vec<(i32, i32)> = match pad_width.len() {
        1 => vec![pad_width[0]; r],
        n if n == r => pad_width.to_vec(),
        n => {
            return Err(Error::new(
                "pad",
                format!("{n} pad widths given for an array of rank {r}"),
            ))
        }
    };
    if let Some(w) = widths.iter().find(|w| w.0 < 0 || w.1 < 0) {
        return Err(Error::new("pad", format!("negative pad width {w:?}")));
    }
    let v = match value.into_operand() {
        Operand::Scalar(s) => scalar_array("pad", s, x.dtype(), &[], &[])?,
        Operand::Array(a) => {
            a.check()?;
            if a.size() != 1 {
                return Err(Error::new(
                    "pad",
                    format!(
                        "pad value must have one element, found shape {}",
                        shape_str(a.shape())
                    ),
                ));
            }
            let a = if a.ndim() == 0 {
                a
            } else {
                try_reshape(&a, &[])?
            };
            cast_to("pad", &a, x.dtype())?
        }
    };
    build1(
        "pad",
        Opcode::Pad,
        vec![x.clone(), v],
        Attrs::new()
            .with(
                "low",
                Attr::Ints(widths.iter().map(|w| w.0 as i64).collect()),
            )
            .with(
                "high",
                Attr::Ints(widths.iter().map(|w| w.1 as i64).collect()),
            ),
    )
}

/// Joins arrays along `axis` (dtypes promoted together).
pub fn try_concatenate(xs: &[Array], axis: i32) -> Result<Array, Error> {
    let first = xs
        .first()
        .ok_or_else(|| Error::new("concatenate", "no arrays given"))?;
    for x in xs {
        x.check()?;
    }
    let a = norm_axis("concatenate", axis as i64, first.ndim())?;
    let ops: Vec<Operand> = xs.iter().map(|x| Operand::Array(x.clone())).collect();
    let refs: Vec<&Operand> = ops.iter().collect();
    let dtype = result_dtype(&refs);
    for (k, x) in xs.iter().enumerate() {
        let ok = x.ndim() == first.ndim()
            && (0..x.ndim()).all(|i| i == a || x.shape()[i] == first.shape()[i]);
        if !ok {
            return Err(Error::new(
                "concatenate",
                format!(
                    "array {k} of shape {} does not match shape {} except on axis {axis}",
                    shape_str(x.shape()),
                    shape_str(first.shape())
                ),
            ));
        }
    }
    let cast = xs
        .iter()
        .map(|x| cast_to("concatenate", x, dtype))
        .collect::<Result<Vec<_>, _>>()?;
    if let [one] = cast.as_slice() {
        return Ok(one.clone());
    }
    build1(
        "concatenate",
        Opcode::Concatenate,
        cast,
        Attrs::new().with("axis", Attr::Int(a as i64)),
    )
}

/// Stacks equal-shaped arrays along a new `axis`.
pub fn try_stack(xs: &[Array], axis: i32) -> Result<Array, Error> {
    let first = xs
        .first()
        .ok_or_else(|| Error::new("stack", "no arrays given"))?;
    for (k, x) in xs.iter().enumerate() {
        x.check()?;
        if x.shape() != first.shape() {
            return Err(Error::new(
                "stack",
                format!(
                    "array {k} has shape {}, expected {}",
                    shape_str(x.shape()),
                    shape_str(first.shape())
                ),
            ));
        }
    }
    let a = norm_axis("stack", axis as i64, first.ndim() + 1)? as i32;
    let expanded = xs
        .iter()
        .map(|x| try_expand_dims(x, a))
        .collect::<Result<Vec<_>, _>>()?;
    try_concatenate(&expanded, a)
}

/// How [`split`] cuts: into equal sections, or at indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitArg {
    Sections(i32),
    Indices(Vec<i32>),
}
impl From<i32> for SplitArg {
    fn from(n: i32) -> Self {
        SplitArg::Sections(n)
    }
}
impl From<&[i32]> for SplitArg {
    fn from(v: &[i32]) -> Self {
        SplitArg::Indices(v.to_vec())
    }
}
impl From<Vec<i32>> for SplitArg {
    fn from(v: Vec<i32>) -> Self {
        SplitArg::Indices(v)
    }
}
impl<const N: usize> From<[i32; N]> for SplitArg {
    fn from(v: [i32; N]) -> Self {
        SplitArg::Indices(v.to_vec())
    }
}

/// Splits along `axis` into equal sections or at indices (negative indices
/// count from the end, out-of-range ones clamp as in NumPy).
pub fn try_split(x: &Array, how: impl Into<SplitArg>, axis: i32) -> Result<Vec<Array>, Error> {
    x.check()?;
    let a = norm_axis("split", axis as i64, x.ndim())?;
    let n = x.shape()[a];
    if n == DYN {
        return Err(Error::new(
            "split",
            format!("axis {axis} has a symbolic size"),
        ));
    }
    let indices: Vec<i64> = match how.into() {
        SplitArg::Sections(k) => {
            if k <= 0 || n % k as i64 != 0 {
                return Err(Error::new(
                    "split",
                    format!("array split does not result in sub arrays with equal size: {k} sections of axis size {n}"),
                ));
            }
            let w = n / k as i64;
            (1..k as i64).map(|i| i * w).collect()
        }
        SplitArg::Indices(v) => {
            let mut prev = 0;
            v.iter()
                .map(|&i| {
                    let i = i as i64;
                    let i = if i < 0 { i + n } else { i }.clamp(0, n);
                    // NumPy gives empty pieces for descending indices.
                    let i = i.max(prev);
                    prev = i;
                    i
                })
                .collect()
        }
    };
    build(
        "split",
        Opcode::Split,
        vec![x.clone()],
        Attrs::new()
            .with("indices", Attr::Ints(indices))
            .with("axis", Attr::Int(a as i64)),
    )
}

/// See [`try_split`]; on failure the result is one array carrying the error.
pub fn split(x: &Array, how: impl Into<SplitArg>, axis: i32) -> Vec<Array> {
    try_split(x, how, axis).unwrap_or_else(|e| vec![Array::from_error(e)])
}

/// See [`try_broadcast_arrays`]; on failure every result carries the error.
pub fn broadcast_arrays(xs: &[Array]) -> Vec<Array> {
    try_broadcast_arrays(xs)
        .unwrap_or_else(|e| xs.iter().map(|_| Array::from_error(e.clone())).collect())
}

/// Reverses the order of elements along `axes`.
pub fn try_flip(x: &Array, axes: impl Into<Axes>) -> Result<Array, Error> {
    x.check()?;
    let axes = norm_axes("flip", &axes.into(), x.ndim())?;
    build1(
        "flip",
        Opcode::Flip,
        vec![x.clone()],
        Attrs::new().with("axes", Attr::Ints(axes)),
    )
}

/// See [`try_expand_dims`].
pub fn expand_dims(x: &Array, axes: impl Into<Axes>) -> Array {
    crate::array::lift(try_expand_dims(x, axes))
}
/// See [`try_squeeze`].
pub fn squeeze(x: &Array, axes: impl Into<Axes>) -> Array {
    crate::array::lift(try_squeeze(x, axes))
}
/// See [`try_flip`].
pub fn flip(x: &Array, axes: impl Into<Axes>) -> Array {
    crate::array::lift(try_flip(x, axes))
}
/// See [`try_pad`].
pub fn pad(x: &Array, pad_width: &[(i32, i32)], value: impl IntoOperand) -> Array {
    crate::array::lift(try_pad(x, pad_width, value))
}
/// See [`try_slice_update`].
pub fn slice_update(
    x: &Array,
    update: impl IntoOperand,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
) -> Array {
    crate::array::lift(try_slice_update(x, update, start, stop, strides))
}

infallible! {
    /// See [`try_reshape`].
    fn reshape = try_reshape(x: &Array, shape: &[i32]);
    /// See [`try_flatten`].
    fn flatten = try_flatten(x: &Array, start_axis: i32, end_axis: i32);
    /// See [`try_unflatten`].
    fn unflatten = try_unflatten(x: &Array, axis: i32, shape: &[i32]);
    /// See [`try_transpose`].
    fn transpose = try_transpose(x: &Array);
    /// See [`try_transpose_axes`].
    fn transpose_axes = try_transpose_axes(x: &Array, axes: &[i32]);
    /// See [`try_swapaxes`].
    fn swapaxes = try_swapaxes(x: &Array, axis1: i32, axis2: i32);
    /// See [`try_moveaxis`].
    fn moveaxis = try_moveaxis(x: &Array, source: i32, destination: i32);
    /// See [`try_broadcast_to`].
    fn broadcast_to = try_broadcast_to(x: &Array, shape: &[i32]);
    /// See [`try_slice`].
    fn slice = try_slice(x: &Array, start: &[i32], stop: &[i32], strides: &[i32]);
    /// See [`try_index`].
    fn index = try_index(x: &Array, idx: &[Idx]);
    /// See [`try_concatenate`].
    fn concatenate = try_concatenate(xs: &[Array], axis: i32);
    /// See [`try_stack`].
    fn stack = try_stack(xs: &[Array], axis: i32);
}
