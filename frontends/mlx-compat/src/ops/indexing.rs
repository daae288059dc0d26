//! Data-dependent indexing and sorting: `take, take_along_axis,
//! put_along_axis, gather, scatter` (and its reducing forms),
//! `dynamic_slice, dynamic_slice_update, sort, argsort, partition,
//! argpartition, topk`.

use super::shape::{conform, try_reshape, try_slice, try_squeeze};
use super::{broadcast_shape_of, broadcast_to_shape, cast_to, dims, infallible, norm_axis};
use crate::array::{build1, Array, IntoOperand};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, Opcode, DYN};

fn check_indices(op: &str, idx: &Array) -> Result<(), Error> {
    idx.check()?;
    if !idx.dtype().is_integer() {
        return Err(Error::new(
            op,
            format!("indices must be integers, found {}", idx.dtype()),
        ));
    }
    Ok(())
}

fn static_shape(op: &str, x: &Array) -> Result<(), Error> {
    if x.shape().contains(&DYN) {
        return Err(Error::new(
            op,
            format!("needs a static shape, found {}", shape_str(x.shape())),
        ));
    }
    Ok(())
}

/// `(x, axis)`, with `x` flattened and axis 0 when `axis` is `None`.
fn axis_or_flat(op: &str, x: &Array, axis: Option<i32>) -> Result<(Array, usize), Error> {
    x.check()?;
    match axis {
        Some(a) => Ok((x.clone(), norm_axis(op, a as i64, x.ndim())?)),
        None => Ok((try_reshape(x, &[-1])?, 0)),
    }
}

/// Elements of `x` at `indices` along `axis` (negative indices wrap); the
/// result has `x`'s axes with `axis` replaced by the axes of `indices`.
/// `None` indexes the flattened array.
pub fn try_take(x: &Array, indices: &Array, axis: Option<i32>) -> Result<Array, Error> {
    check_indices("take", indices)?;
    let (x, axis) = axis_or_flat("take", x, axis)?;
    static_shape("take", &x)?;
    let mut sizes: Vec<i64> = x.shape().to_vec();
    sizes[axis] = 1;
    let g = build1(
        "take",
        Opcode::Gather,
        vec![x.clone(), indices.clone()],
        Attrs::new()
            .with("axes", Attr::Ints(vec![axis as i64]))
            .with("slice_sizes", Attr::Ints(sizes)),
    )?;
    // idx.shape ++ x.shape (axis of size 1) -> x.shape[:axis] ++ idx.shape ++ x.shape[axis+1:]
    let ir = indices.ndim();
    let g = try_squeeze(&g, (ir + axis) as i32)?;
    let r = g.ndim();
    let perm: Vec<i32> = (ir..ir + axis)
        .chain(0..ir)
        .chain(ir + axis..r)
        .map(|a| a as i32)
        .collect();
    super::shape::try_transpose_axes(&g, &perm)
}

/// Broadcasts `x` and `idx` against each other on every axis but `axis`.
fn broadcast_along(op: &str, x: &Array, idx: &Array, axis: usize) -> Result<(Array, Array), Error> {
    if idx.ndim() != x.ndim() {
        return Err(Error::new(
            op,
            format!(
                "indices of shape {} must have the rank of the array's shape {}",
                shape_str(idx.shape()),
                shape_str(x.shape())
            ),
        ));
    }
    let mut xs = x.shape().to_vec();
    let mut is = idx.shape().to_vec();
    xs[axis] = 1;
    is[axis] = 1;
    let mut common = broadcast_shape_of(op, &[&xs, &is])?;
    common[axis] = x.shape()[axis];
    let xb = broadcast_to_shape(op, x, &common, &[])?;
    common[axis] = idx.shape()[axis];
    let ib = broadcast_to_shape(op, idx, &common, &[])?;
    Ok((xb, ib))
}

/// `out[..., i, ...] = x[..., indices[..., i, ...], ...]` along `axis`
/// (indices broadcast with `x` on the other axes; `None`: both flattened).
pub fn try_take_along_axis(x: &Array, indices: &Array, axis: Option<i32>) -> Result<Array, Error> {
    check_indices("take_along_axis", indices)?;
    let (x, idx, axis) = match axis {
        Some(a) => (
            x.clone(),
            indices.clone(),
            norm_axis("take_along_axis", a as i64, x.ndim())?,
        ),
        None => (try_reshape(x, &[-1])?, try_reshape(indices, &[-1])?, 0),
    };
    let (xb, ib) = broadcast_along("take_along_axis", &x, &idx, axis)?;
    build1(
        "take_along_axis",
        Opcode::TakeAlongAxis,
        vec![xb, ib],
        Attrs::new().with("axis", Attr::Int(axis as i64)),
    )
}

fn scatter_along(
    op: &str,
    reduce: &str,
    x: &Array,
    indices: &Array,
    values: impl IntoOperand,
    axis: i32,
) -> Result<Array, Error> {
    x.check()?;
    check_indices(op, indices)?;
    let axis = norm_axis(op, axis as i64, x.ndim())?;
    if indices.ndim() != x.ndim() {
        return Err(Error::new(
            op,
            format!(
                "indices of shape {} must have the rank of the array's shape {}",
                shape_str(indices.shape()),
                shape_str(x.shape())
            ),
        ));
    }
    let mut target = x.shape().to_vec();
    target[axis] = indices.shape()[axis];
    let idx = broadcast_to_shape(op, indices, &target, &[]).map_err(|_| {
        Error::new(
            op,
            format!(
                "indices of shape {} do not broadcast to {}",
                shape_str(indices.shape()),
                shape_str(&target)
            ),
        )
    })?;
    let vals = conform(op, values.into_operand(), &idx.clone())
        .and_then(|v| cast_to(op, &v, x.dtype()))?;
    build1(
        op,
        Opcode::ScatterAxis,
        vec![x.clone(), idx, vals],
        Attrs::new()
            .with("axis", Attr::Int(axis as i64))
            .with("reduce", Attr::Str(reduce.into())),
    )
}

/// `x` with `values` written at `indices` along `axis` (the inverse of
/// `take_along_axis`).
pub fn try_put_along_axis(
    x: &Array,
    indices: &Array,
    values: impl IntoOperand,
    axis: i32,
) -> Result<Array, Error> {
    scatter_along("put_along_axis", "none", x, indices, values, axis)
}

/// `x` with `values` added at `indices` along `axis` (duplicates accumulate).
pub fn try_scatter_add_along_axis(
    x: &Array,
    indices: &Array,
    values: impl IntoOperand,
    axis: i32,
) -> Result<Array, Error> {
    scatter_along("scatter_add_along_axis", "sum", x, indices, values, axis)
}

/// Broadcasts index arrays together (all integer).
fn index_arrays(op: &str, indices: &[Array]) -> Result<Vec<Array>, Error> {
    for i in indices {
        check_indices(op, i)?;
    }
    super::broadcast_all(op, indices)
}

/// MLX's `gather`: for each position of the (broadcast) `indices`, the slice
/// of `slice_sizes` starting at those indices along `axes`; the result's
/// shape is `indices.shape ++ slice_sizes`.
pub fn try_gather(
    x: &Array,
    indices: &[Array],
    axes: &[i32],
    slice_sizes: &[i32],
) -> Result<Array, Error> {
    x.check()?;
    let idx = index_arrays("gather", indices)?;
    let axes = axes
        .iter()
        .map(|&a| norm_axis("gather", a as i64, x.ndim()).map(|a| a as i64))
        .collect::<Result<Vec<_>, _>>()?;
    let mut inputs = vec![x.clone()];
    inputs.extend(idx);
    build1(
        "gather",
        Opcode::Gather,
        inputs,
        Attrs::new()
            .with("axes", Attr::Ints(axes))
            .with("slice_sizes", Attr::Ints(dims("gather", slice_sizes)?)),
    )
}

fn scatter_op(
    op: &str,
    reduce: &str,
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    x.check()?;
    updates.check()?;
    let idx = index_arrays(op, indices)?;
    let axes = axes
        .iter()
        .map(|&a| norm_axis(op, a as i64, x.ndim()).map(|a| a as i64))
        .collect::<Result<Vec<_>, _>>()?;
    let upd = cast_to(op, updates, x.dtype())?;
    let mut inputs = vec![x.clone()];
    inputs.extend(idx);
    inputs.push(upd);
    build1(
        op,
        Opcode::Scatter,
        inputs,
        Attrs::new()
            .with("axes", Attr::Ints(axes))
            .with("reduce", Attr::Str(reduce.into())),
    )
}

/// MLX's `scatter`: `x` with update slices written at `indices` along
/// `axes`; `updates` has shape `indices.shape ++ slice shape` (slice rank =
/// `x`'s rank).
pub fn try_scatter(
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    scatter_op("scatter", "none", x, indices, updates, axes)
}
/// [`try_scatter`] adding updates (duplicates accumulate).
pub fn try_scatter_add(
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    scatter_op("scatter_add", "sum", x, indices, updates, axes)
}
/// [`try_scatter`] multiplying.
pub fn try_scatter_prod(
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    scatter_op("scatter_prod", "prod", x, indices, updates, axes)
}
/// [`try_scatter`] keeping the maximum.
pub fn try_scatter_max(
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    scatter_op("scatter_max", "max", x, indices, updates, axes)
}
/// [`try_scatter`] keeping the minimum.
pub fn try_scatter_min(
    x: &Array,
    indices: &[Array],
    updates: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    scatter_op("scatter_min", "min", x, indices, updates, axes)
}

/// A slice of shape `slice_size` whose start along `axes` is given by the
/// 1-d integer array `start` (clamped in range), as MLX's dynamic `slice`.
pub fn try_dynamic_slice(
    x: &Array,
    start: &Array,
    axes: &[i32],
    slice_size: &[i32],
) -> Result<Array, Error> {
    x.check()?;
    check_indices("dynamic_slice", start)?;
    let axes = axes
        .iter()
        .map(|&a| norm_axis("dynamic_slice", a as i64, x.ndim()).map(|a| a as i64))
        .collect::<Result<Vec<_>, _>>()?;
    build1(
        "dynamic_slice",
        Opcode::DynamicSlice,
        vec![x.clone(), start.clone()],
        Attrs::new()
            .with("axes", Attr::Ints(axes))
            .with("sizes", Attr::Ints(dims("dynamic_slice", slice_size)?)),
    )
}

/// `x` with the slice at `start` (along `axes`) replaced by `update`.
pub fn try_dynamic_slice_update(
    x: &Array,
    update: &Array,
    start: &Array,
    axes: &[i32],
) -> Result<Array, Error> {
    x.check()?;
    check_indices("dynamic_slice_update", start)?;
    let upd = cast_to("dynamic_slice_update", update, x.dtype())?;
    let axes = axes
        .iter()
        .map(|&a| norm_axis("dynamic_slice_update", a as i64, x.ndim()).map(|a| a as i64))
        .collect::<Result<Vec<_>, _>>()?;
    build1(
        "dynamic_slice_update",
        Opcode::DynamicSliceUpdate,
        vec![x.clone(), upd, start.clone()],
        Attrs::new().with("axes", Attr::Ints(axes)),
    )
}

fn sort_like(op: &str, opcode: Opcode, x: &Array, axis: Option<i32>) -> Result<Array, Error> {
    let (x, axis) = axis_or_flat(op, x, axis)?;
    build1(
        op,
        opcode,
        vec![x],
        Attrs::new().with("axis", Attr::Int(axis as i64)),
    )
}

/// Sorted along `axis` (`None`: the flattened array).
pub fn try_sort(x: &Array, axis: Option<i32>) -> Result<Array, Error> {
    sort_like("sort", Opcode::Sort, x, axis)
}
/// Indices (u32) that sort along `axis` (stable).
pub fn try_argsort(x: &Array, axis: Option<i32>) -> Result<Array, Error> {
    sort_like("argsort", Opcode::Argsort, x, axis)
}

fn partition_like(
    op: &str,
    opcode: Opcode,
    x: &Array,
    kth: i32,
    axis: Option<i32>,
) -> Result<Array, Error> {
    let (x, axis) = axis_or_flat(op, x, axis)?;
    let n = x.shape()[axis];
    let k = if kth < 0 && n != DYN {
        kth as i64 + n
    } else {
        kth as i64
    };
    if k < 0 || (n != DYN && k >= n) {
        return Err(Error::new(
            op,
            format!("kth {kth} is out of range for axis {axis} of size {n}"),
        ));
    }
    build1(
        op,
        opcode,
        vec![x],
        Attrs::new()
            .with("kth", Attr::Int(k))
            .with("axis", Attr::Int(axis as i64)),
    )
}

/// Element `kth` in sorted position, smaller ones before, larger after.
pub fn try_partition(x: &Array, kth: i32, axis: Option<i32>) -> Result<Array, Error> {
    partition_like("partition", Opcode::Partition, x, kth, axis)
}
/// Indices (u32) of a partition.
pub fn try_argpartition(x: &Array, kth: i32, axis: Option<i32>) -> Result<Array, Error> {
    partition_like("argpartition", Opcode::Argpartition, x, kth, axis)
}

/// The `k` largest elements along `axis` (unordered, as MLX: the last `k`
/// of a partition at `-k`).
pub fn try_topk(x: &Array, k: i32, axis: Option<i32>) -> Result<Array, Error> {
    let (x, axis) = axis_or_flat("topk", x, axis)?;
    let n = x.shape()[axis];
    if n == DYN || k < 1 || k as i64 > n {
        return Err(Error::new(
            "topk",
            format!("k {k} must be in 1..={n} for axis {axis}"),
        ));
    }
    let p = try_partition(&x, -k, Some(axis as i32))?;
    let r = x.ndim();
    let mut start = vec![0; r];
    let stop: Vec<i32> = x.shape().iter().map(|&d| d as i32).collect();
    start[axis] = (n - k as i64) as i32;
    try_slice(&p, &start, &stop, &vec![1; r])
}

/// See [`try_put_along_axis`].
pub fn put_along_axis(x: &Array, indices: &Array, values: impl IntoOperand, axis: i32) -> Array {
    crate::array::lift(try_put_along_axis(x, indices, values, axis))
}
/// See [`try_scatter_add_along_axis`].
pub fn scatter_add_along_axis(
    x: &Array,
    indices: &Array,
    values: impl IntoOperand,
    axis: i32,
) -> Array {
    crate::array::lift(try_scatter_add_along_axis(x, indices, values, axis))
}

infallible! {
    /// See [`try_take`].
    fn take = try_take(x: &Array, indices: &Array, axis: Option<i32>);
    /// See [`try_take_along_axis`].
    fn take_along_axis = try_take_along_axis(x: &Array, indices: &Array, axis: Option<i32>);
    /// See [`try_gather`].
    fn gather = try_gather(x: &Array, indices: &[Array], axes: &[i32], slice_sizes: &[i32]);
    /// See [`try_scatter`].
    fn scatter = try_scatter(x: &Array, indices: &[Array], updates: &Array, axes: &[i32]);
    /// See [`try_scatter_add`].
    fn scatter_add = try_scatter_add(x: &Array, indices: &[Array], updates: &Array, axes: &[i32]);
    /// See [`try_scatter_prod`].
    fn scatter_prod = try_scatter_prod(x: &Array, indices: &[Array], updates: &Array, axes: &[i32]);
    /// See [`try_scatter_max`].
    fn scatter_max = try_scatter_max(x: &Array, indices: &[Array], updates: &Array, axes: &[i32]);
    /// See [`try_scatter_min`].
    fn scatter_min = try_scatter_min(x: &Array, indices: &[Array], updates: &Array, axes: &[i32]);
    /// See [`try_dynamic_slice`].
    fn dynamic_slice = try_dynamic_slice(x: &Array, start: &Array, axes: &[i32], slice_size: &[i32]);
    /// See [`try_dynamic_slice_update`].
    fn dynamic_slice_update = try_dynamic_slice_update(x: &Array, update: &Array, start: &Array, axes: &[i32]);
    /// See [`try_sort`].
    fn sort = try_sort(x: &Array, axis: Option<i32>);
    /// See [`try_argsort`].
    fn argsort = try_argsort(x: &Array, axis: Option<i32>);
    /// See [`try_partition`].
    fn partition = try_partition(x: &Array, kth: i32, axis: Option<i32>);
    /// See [`try_argpartition`].
    fn argpartition = try_argpartition(x: &Array, kth: i32, axis: Option<i32>);
    /// See [`try_topk`].
    fn topk = try_topk(x: &Array, k: i32, axis: Option<i32>);
}
