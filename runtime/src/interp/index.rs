//! Data-dependent indexing: dynamic slices, gather, take_along_axis, scatter.
//!
//! Gather and scatter indices wrap once when negative (`-1` is the last
//! element); an index still out of range after that is an error naming it.
//! Dynamic slice starts are clamped so the slice fits.

use psionic_ir::Literal;

use super::data::{decode, from_bytes, offsets, strides, view, Data};
use super::layout::update_at;

/// Index axes must be distinct: two indices on one axis would add offsets.
fn distinct_axes(axes: &[i64]) -> Result<(), String> {
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].contains(a) {
            return Err(format!("axes {axes:?} name axis {a} twice"));
        }
    }
    Ok(())
}

fn ints(l: &Literal) -> Result<Vec<i128>, String> {
    match decode(l) {
        Data::Int(v) => Ok(v),
        _ => Err(format!("indices must be integers, found {}", l.dtype())),
    }
}

/// Clamped start offset of a dynamic slice of `sizes` (per axis).
fn dynamic_base(
    shape: &[usize],
    sizes: &[usize],
    starts: &Literal,
    axes: &[i64],
) -> Result<isize, String> {
    distinct_axes(axes)?;
    let st = strides(shape);
    let s = ints(starts)?;
    let mut base = 0isize;
    for (j, &a) in axes.iter().enumerate() {
        let a = a as usize;
        let hi = shape[a].saturating_sub(sizes[a]) as i128;
        let start = s[j].clamp(0, hi);
        base += start as isize * st[a];
    }
    Ok(base)
}

pub fn dynamic_slice(
    x: &Literal,
    starts: &Literal,
    axes: &[i64],
    sizes: &[usize],
) -> Result<Literal, String> {
    if sizes.contains(&0) {
        return from_bytes(x.dtype(), sizes, Vec::new());
    }
    let base = dynamic_base(x.shape(), sizes, starts, axes)?;
    view(x, sizes, &strides(x.shape()), base)
}

pub fn dynamic_slice_update(
    x: &Literal,
    upd: &Literal,
    starts: &Literal,
    axes: &[i64],
) -> Result<Literal, String> {
    if upd.num_elements() == 0 {
        return Ok(x.clone());
    }
    let base = dynamic_base(x.shape(), upd.shape(), starts, axes)?;
    let pos = offsets(upd.shape(), &strides(x.shape()), base);
    update_at(x, upd, &pos, "none")
}

/// Wraps a negative index once and checks that a slice of `size` fits.
fn wrap_index(i: i128, dim: usize, size: usize, what: &str) -> Result<isize, String> {
    let j = if i < 0 { i + dim as i128 } else { i };
    if j < 0 || j + size as i128 > dim as i128 {
        return Err(format!(
            "{what} {i} is out of range for axis size {dim}{}",
            if size > 1 {
                format!(" with slice size {size}")
            } else {
                String::new()
            }
        ));
    }
    Ok(j as isize)
}

/// Base offsets in `x` of every index position of gather/scatter.
fn index_bases(
    x_shape: &[usize],
    idx: &[&Literal],
    axes: &[i64],
    sizes: &[usize],
) -> Result<Vec<isize>, String> {
    distinct_axes(axes)?;
    let st = strides(x_shape);
    let m = idx.first().map_or(1, |l| l.num_elements());
    let mut bases = vec![0isize; m];
    for (j, l) in idx.iter().enumerate() {
        let a = axes[j] as usize;
        for (b, &i) in bases.iter_mut().zip(&ints(l)?) {
            *b += wrap_index(i, x_shape[a], sizes[a], &format!("index along axis {a}"))? * st[a];
        }
    }
    Ok(bases)
}

pub fn gather(
    x: &Literal,
    idx: &[&Literal],
    axes: &[i64],
    sizes: &[usize],
    out: &[usize],
) -> Result<Literal, String> {
    let s = x.dtype().size();
    let n: usize = out.iter().product();
    if n == 0 {
        return from_bytes(x.dtype(), out, Vec::new());
    }
    let bases = index_bases(x.shape(), idx, axes, sizes)?;
    let inner = offsets(sizes, &strides(x.shape()), 0);
    let b = x.bytes();
    let mut bytes = Vec::with_capacity(n * s);
    for &base in &bases {
        for &q in &inner {
            let o = base as usize + q;
            bytes.extend_from_slice(&b[o * s..o * s + s]);
        }
    }
    from_bytes(x.dtype(), out, bytes)
}

pub fn scatter(
    x: &Literal,
    idx: &[&Literal],
    upd: &Literal,
    axes: &[i64],
    reduce: &str,
) -> Result<Literal, String> {
    let r = x.shape().len();
    let us = upd.shape();
    let slice = &us[us.len() - r..];
    if upd.num_elements() == 0 {
        return Ok(x.clone());
    }
    let bases = index_bases(x.shape(), idx, axes, slice)?;
    let inner = offsets(slice, &strides(x.shape()), 0);
    if bases.len() * inner.len() != upd.num_elements() {
        return Err(format!(
            "updates of shape {us:?} do not match {} index positions of slices of shape {slice:?}",
            bases.len()
        ));
    }
    let mut pos = Vec::with_capacity(upd.num_elements());
    for &base in &bases {
        pos.extend(inner.iter().map(|&q| base as usize + q));
    }
    update_at(x, upd, &pos, reduce)
}

/// Element offsets in `x` for take_along_axis / scatter_axis.
fn along_axis_offsets(x: &Literal, idx: &Literal, axis: usize) -> Result<Vec<usize>, String> {
    let xs = x.shape();
    let is = idx.shape();
    for d in 0..xs.len() {
        if d != axis && is[d] > xs[d] {
            return Err(format!(
                "indices of shape {is:?} do not fit operand shape {xs:?} on axis {d}"
            ));
        }
    }
    let mut st = strides(xs);
    let axis_stride = st[axis];
    st[axis] = 0;
    let rest = offsets(is, &st, 0);
    let vals = ints(idx)?;
    rest.iter()
        .zip(&vals)
        .map(|(&o, &i)| {
            let j = wrap_index(i, xs[axis], 1, &format!("index along axis {axis}"))?;
            Ok((o as isize + j * axis_stride) as usize)
        })
        .collect()
}

pub fn take_along_axis(x: &Literal, idx: &Literal, axis: usize) -> Result<Literal, String> {
    let s = x.dtype().size();
    let pos = if idx.num_elements() == 0 {
        Vec::new()
    } else {
        along_axis_offsets(x, idx, axis)?
    };
    let b = x.bytes();
    let mut bytes = Vec::with_capacity(pos.len() * s);
    for &o in &pos {
        bytes.extend_from_slice(&b[o * s..o * s + s]);
    }
    from_bytes(x.dtype(), idx.shape(), bytes)
}

pub fn scatter_axis(
    x: &Literal,
    idx: &Literal,
    upd: &Literal,
    axis: usize,
    reduce: &str,
) -> Result<Literal, String> {
    if idx.num_elements() == 0 {
        return Ok(x.clone());
    }
    let pos = along_axis_offsets(x, idx, axis)?;
    update_at(x, upd, &pos, reduce)
}
