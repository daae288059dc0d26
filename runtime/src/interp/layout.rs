//! Layout ops: every one is a strided view (or a write into one), so each
//! copies bytes exactly, for every dtype, in time linear in the elements.

use psionic_ir::{Attrs, Literal};

use super::data::{decode, encode, from_bytes, offsets, strides, view, write_view, Data};

/// Strides that broadcast `from` (right-aligned) to a shape of rank `to_rank`
/// whose sizes are `to`: size-1 and new axes get stride 0.
pub fn broadcast_strides(from: &[usize], to: &[usize]) -> Vec<isize> {
    let st = strides(from);
    let off = to.len() - from.len();
    (0..to.len())
        .map(|i| {
            if i < off || (from[i - off] == 1 && to[i] != 1) {
                0
            } else {
                st[i - off]
            }
        })
        .collect()
}

pub fn broadcast(x: &Literal, to: &[usize]) -> Result<Literal, String> {
    view(x, to, &broadcast_strides(x.shape(), to), 0)
}

pub fn reshape(x: &Literal, to: &[usize]) -> Result<Literal, String> {
    x.reshaped(to.to_vec()).map_err(|e| e.0)
}

pub fn transpose(x: &Literal, perm: &[i64], out: &[usize]) -> Result<Literal, String> {
    let st = strides(x.shape());
    let s: Vec<isize> = perm.iter().map(|&p| st[p as usize]).collect();
    view(x, out, &s, 0)
}

/// Base offset and strides of a strided slice (attributes already checked).
pub fn slice_view(shape: &[usize], start: &[i64], step: &[i64]) -> (isize, Vec<isize>) {
    let st = strides(shape);
    let base = start
        .iter()
        .zip(&st)
        .zip(shape)
        .map(|((&a, &s), &n)| if n == 0 { 0 } else { a as isize * s })
        .sum();
    let s = step
        .iter()
        .zip(&st)
        .map(|(&k, &s)| k as isize * s)
        .collect();
    (base, s)
}

pub fn slice(x: &Literal, attrs: &Attrs, out: &[usize]) -> Result<Literal, String> {
    if out.contains(&0) {
        return from_bytes(x.dtype(), out, Vec::new());
    }
    let (base, s) = slice_view(x.shape(), attrs.ints("start")?, attrs.ints("strides")?);
    view(x, out, &s, base)
}

pub fn flip(x: &Literal, axes: &[i64]) -> Result<Literal, String> {
    let shape = x.shape();
    if shape.contains(&0) {
        return Ok(x.clone());
    }
    let mut s = strides(shape);
    let mut base = 0isize;
    for &a in axes {
        let a = a as usize;
        base += (shape[a] as isize - 1) * s[a];
        s[a] = -s[a];
    }
    view(x, shape, &s, base)
}

/// Combines `upd[k]` into `dst[pos]` with a scatter/slice-update reduction.
pub fn combine(
    dst: &mut Data,
    pos: usize,
    upd: &Data,
    k: usize,
    reduce: &str,
    dt: psionic_ir::DType,
) -> Result<(), String> {
    use super::elementwise::{fmax, fmin};
    match (dst, upd) {
        (Data::Int(d), Data::Int(u)) => {
            let (a, b) = (d[pos], u[k]);
            d[pos] = match reduce {
                "none" => b,
                "sum" => super::data::wrap(a + b, dt),
                "prod" => super::data::wrap(a.wrapping_mul(b), dt),
                "max" => a.max(b),
                "min" => a.min(b),
                r => return Err(format!("unknown reduction `{r}`")),
            }
        }
        (Data::Float(d), Data::Float(u)) => {
            let (a, b) = (d[pos], u[k]);
            d[pos] = match reduce {
                "none" => b,
                "sum" => a + b,
                "prod" => a * b,
                "max" => fmax(a, b),
                "min" => fmin(a, b),
                r => return Err(format!("unknown reduction `{r}`")),
            }
        }
        (Data::Complex(d), Data::Complex(u)) => {
            let (a, b) = (d[pos], u[k]);
            d[pos] = match reduce {
                "none" => b,
                "sum" => a + b,
                "prod" => a * b,
                r => return Err(format!("reduction `{r}` is not defined for c64")),
            }
        }
        _ => return Err("internal: scatter operands decoded differently".into()),
    }
    Ok(())
}

/// Writes (or reduces) `upd` into `dst` at the element offsets `pos`
/// (one per element of `upd`, row-major). Overwrites apply in order, so the
/// last of duplicate positions wins.
pub fn update_at(
    dst: &Literal,
    upd: &Literal,
    pos: &[usize],
    reduce: &str,
) -> Result<Literal, String> {
    if reduce == "none" {
        let s = dst.dtype().size();
        let mut out = dst.bytes().to_vec();
        let u = upd.bytes();
        for (k, &p) in pos.iter().enumerate() {
            out[p * s..p * s + s].copy_from_slice(&u[k * s..k * s + s]);
        }
        return from_bytes(dst.dtype(), dst.shape(), out);
    }
    let mut d = decode(dst);
    let u = decode(upd);
    for (k, &p) in pos.iter().enumerate() {
        combine(&mut d, p, &u, k, reduce, dst.dtype())?;
    }
    encode(dst.dtype(), dst.shape(), &d)
}

pub fn slice_update(x: &Literal, upd: &Literal, attrs: &Attrs) -> Result<Literal, String> {
    let reduce = attrs.str("reduce").unwrap_or("none");
    if upd.num_elements() == 0 {
        return Ok(x.clone());
    }
    let (base, s) = slice_view(x.shape(), attrs.ints("start")?, attrs.ints("strides")?);
    let pos = offsets(upd.shape(), &s, base);
    update_at(x, upd, &pos, reduce)
}

pub fn pad(x: &Literal, value: &Literal, low: &[i64], out: &[usize]) -> Result<Literal, String> {
    let n: usize = out.iter().product();
    let mut bytes = value.bytes().repeat(n);
    let st = strides(out);
    let base: isize = low.iter().zip(&st).map(|(&l, &s)| l as isize * s).sum();
    write_view(&mut bytes, x, &st, base);
    from_bytes(x.dtype(), out, bytes)
}

pub fn concatenate(xs: &[&Literal], axis: usize, out: &[usize]) -> Result<Literal, String> {
    let dt = xs[0].dtype();
    let n: usize = out.iter().product();
    let mut bytes = vec![0u8; n * dt.size()];
    let st = strides(out);
    let mut at = 0isize;
    for x in xs {
        write_view(&mut bytes, x, &st, at * st[axis]);
        at += x.shape()[axis] as isize;
    }
    from_bytes(dt, out, bytes)
}

pub fn split(x: &Literal, axis: usize, indices: &[i64]) -> Result<Vec<Literal>, String> {
    let shape = x.shape();
    let st = strides(shape);
    let mut out = Vec::with_capacity(indices.len() + 1);
    let mut prev = 0usize;
    for &i in indices.iter().chain(std::iter::once(&(shape[axis] as i64))) {
        let i = i as usize;
        let mut s = shape.to_vec();
        s[axis] = i - prev;
        if s.contains(&0) {
            out.push(from_bytes(x.dtype(), &s, Vec::new())?);
        } else {
            out.push(view(x, &s, &st, prev as isize * st[axis])?);
        }
        prev = i;
    }
    Ok(out)
}
