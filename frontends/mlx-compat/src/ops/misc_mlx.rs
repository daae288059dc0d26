//! Further MLX ops: `as_strided`, `hadamard_transform` and `einsum`.

use super::elementwise::try_multiply;
use super::reduce::try_sum;
use super::shape::{try_expand_dims, try_transpose_axes};
use super::{cast_to, full_of, infallible};
use crate::array::{build1, Array};
use crate::error::Error;
use psionic_ir::{Attr, Attrs, DType, Opcode};

/// A view of `a`'s elements in row-major order with `shape`, `strides` (in
/// elements) and `offset` (MLX's `as_strided`; `None` keeps `a`'s shape and
/// row-major strides). Every addressed element must lie inside `a`.
pub fn try_as_strided(
    a: &Array,
    shape: Option<&[i32]>,
    strides: Option<&[i64]>,
    offset: i64,
) -> Result<Array, Error> {
    let op = "as_strided";
    a.check()?;
    let shape: Vec<i64> = match shape {
        Some(s) => super::dims(op, s)?,
        None => a.shape().to_vec(),
    };
    let strides: Vec<i64> = match strides {
        Some(s) => s.to_vec(),
        None => {
            let mut st = vec![1i64; shape.len()];
            for i in (0..shape.len().saturating_sub(1)).rev() {
                st[i] = st[i + 1] * shape[i + 1];
            }
            st
        }
    };
    let flat = if a.ndim() == 1 {
        a.clone()
    } else {
        super::shape::try_reshape(a, &[a.size() as i32])?
    };
    build1(
        op,
        Opcode::AsStrided,
        vec![flat],
        Attrs::new()
            .with("shape", Attr::Ints(shape))
            .with("strides", Attr::Ints(strides))
            .with("offset", Attr::Int(offset)),
    )
}

/// Walsh-Hadamard transform of the last axis times `scale` (default
/// `1/sqrt(n)`, orthonormal); sizes `m * 2^k` with m in 1, 12, 20, 28.
pub fn try_hadamard_transform(a: &Array, scale: Option<f32>) -> Result<Array, Error> {
    let op = "hadamard_transform";
    a.check()?;
    if a.size() == 0 {
        return Err(Error::new(op, "does not support empty arrays"));
    }
    let n = a.shape().last().copied().unwrap_or(1);
    let scale = scale.unwrap_or(1.0 / (n as f32).sqrt());
    let dtype = if a.dtype().is_float() {
        a.dtype()
    } else {
        DType::F32
    };
    if n == 1 {
        if scale == 1.0 {
            return Ok(a.clone());
        }
        return try_multiply(a, &full_of(op, &[], dtype, scale as f64)?);
    }
    build1(
        op,
        Opcode::Hadamard,
        vec![cast_to(op, a, dtype)?],
        Attrs::new().with("scale", Attr::Float(scale as f64)),
    )
}

/// Einstein summation over single-letter subscripts, `"ij,jk->ik"` (an
/// implicit output takes the letters seen once, sorted). Each operand is
/// laid out over all letters, the operands are multiplied with
/// broadcasting and the letters not in the output summed: simple and
/// exact in what it computes, though it materializes the full product
/// (MLX picks a contraction path; values agree up to rounding). Repeated
/// letters within one operand (diagonals) and `...` are not supported.
pub fn try_einsum(subscripts: &str, operands: &[Array]) -> Result<Array, Error> {
    let op = "einsum";
    for o in operands {
        o.check()?;
    }
    let s: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
    if s.contains("...") {
        return Err(Error::new(
            op,
            "ellipsis ('...') subscripts are not supported",
        ));
    }
    let (lhs, out) = match s.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (s.clone(), None),
    };
    let ins: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    if ins.len() != operands.len() {
        return Err(Error::new(
            op,
            format!(
                "subscripts name {} operands but {} were given",
                ins.len(),
                operands.len()
            ),
        ));
    }
    let mut letters: Vec<char> = Vec::new();
    let mut sizes: Vec<i64> = Vec::new();
    for (t, x) in ins.iter().zip(operands) {
        if t.len() != x.ndim() {
            return Err(Error::new(
                op,
                format!(
                    "subscript {:?} has {} letters for an operand of rank {}",
                    t.iter().collect::<String>(),
                    t.len(),
                    x.ndim()
                ),
            ));
        }
        for (i, &c) in t.iter().enumerate() {
            if !c.is_ascii_alphabetic() {
                return Err(Error::new(op, format!("invalid subscript character {c:?}")));
            }
            if t[..i].contains(&c) {
                return Err(Error::new(
                    op,
                    format!("repeated subscript {c:?} in one operand is not supported"),
                ));
            }
            let d = x.shape()[i];
            match letters.iter().position(|&l| l == c) {
                Some(p) => {
                    if sizes[p] == 1 {
                        sizes[p] = d;
                    } else if d != 1 && d != sizes[p] {
                        return Err(Error::new(
                            op,
                            format!("subscript {c:?} has sizes {} and {d}", sizes[p]),
                        ));
                    }
                }
                None => {
                    letters.push(c);
                    sizes.push(d);
                }
            }
        }
    }
    let out: Vec<char> = match out {
        Some(o) => {
            let o: Vec<char> = o.chars().collect();
            for (i, c) in o.iter().enumerate() {
                if !letters.contains(c) || o[..i].contains(c) {
                    return Err(Error::new(
                        op,
                        format!("output subscript {c:?} is unknown or repeated"),
                    ));
                }
            }
            o
        }
        None => {
            let mut once: Vec<char> = letters
                .iter()
                .copied()
                .filter(|c| ins.iter().flatten().filter(|&x| x == c).count() == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    // Letter order: the output's, then the summed ones.
    let mut order = out.clone();
    order.extend(letters.iter().filter(|c| !out.contains(c)));
    let mut prod: Option<Array> = None;
    for (t, x) in ins.iter().zip(operands) {
        // Put the operand's axes in `order`, then add size-1 axes for the rest.
        let mine: Vec<char> = order.iter().copied().filter(|c| t.contains(c)).collect();
        let perm: Vec<i32> = mine
            .iter()
            .map(|c| t.iter().position(|x| x == c).unwrap_or(0) as i32)
            .collect();
        let mut y = if perm.iter().enumerate().all(|(i, &p)| i as i32 == p) {
            x.clone()
        } else {
            try_transpose_axes(x, &perm)?
        };
        let missing: Vec<i32> = order
            .iter()
            .enumerate()
            .filter(|(_, c)| !t.contains(c))
            .map(|(i, _)| i as i32)
            .collect();
        if !missing.is_empty() {
            y = try_expand_dims(&y, missing)?;
        }
        prod = Some(match prod {
            None => y,
            Some(p) => try_multiply(&p, &y)?,
        });
    }
    let mut r = prod.ok_or_else(|| Error::new(op, "needs at least one operand"))?;
    if order.len() > out.len() {
        let summed: Vec<i32> = (out.len() as i32..order.len() as i32).collect();
        r = try_sum(&r, summed, false)?;
    }
    Ok(r)
}

infallible! {
    /// See [`try_as_strided`].
    fn as_strided = try_as_strided(a: &Array, shape: Option<&[i32]>, strides: Option<&[i64]>, offset: i64);
    /// See [`try_hadamard_transform`].
    fn hadamard_transform = try_hadamard_transform(a: &Array, scale: Option<f32>);
    /// See [`try_einsum`].
    fn einsum = try_einsum(subscripts: &str, operands: &[Array]);
}
