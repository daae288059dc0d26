//! Sorting along an axis: stable, NaNs last (complex numbers by real then
//! imaginary part, NaN-containing ones last). Partition and argpartition
//! return the fully sorted order, which is one valid (and deterministic)
//! partition.

use std::cmp::Ordering;

use psionic_ir::{DType, Literal, Opcode};

use super::data::{decode, encode_ints, for_each_offset, from_bytes, strides, Data};

fn nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

pub fn sort(op: Opcode, x: &Literal, axis: usize) -> Result<Literal, String> {
    let shape = x.shape();
    let st = strides(shape);
    let n = shape[axis];
    let stride = st[axis];
    let mut lines = shape.to_vec();
    lines[axis] = 1;
    let d = decode(x);
    let cmp = |i: usize, j: usize| -> Ordering {
        match &d {
            Data::Int(v) => v[i].cmp(&v[j]),
            Data::Float(v) => nan_last(v[i], v[j]),
            Data::Complex(v) => {
                let (a, b) = (v[i], v[j]);
                match (a.is_nan(), b.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => a.lex_cmp(b).unwrap_or(Ordering::Equal),
                }
            }
        }
    };
    let want_indices = matches!(op, Opcode::Argsort | Opcode::Argpartition);
    let total = x.num_elements();
    let mut idx_out = vec![0i128; if want_indices { total } else { 0 }];
    let s = x.dtype().size();
    let src = x.bytes();
    let mut val_out = vec![0u8; if want_indices { 0 } else { src.len() }];
    let mut perm: Vec<usize> = Vec::with_capacity(n);
    for_each_offset(&lines, &st, 0, |start| {
        let pos = |k: usize| (start as isize + k as isize * stride) as usize;
        perm.clear();
        perm.extend(0..n);
        // `sort_by` is stable: equal keys keep their order.
        perm.sort_by(|&a, &b| cmp(pos(a), pos(b)));
        for (k, &p) in perm.iter().enumerate() {
            let o = pos(k);
            if want_indices {
                idx_out[o] = p as i128;
            } else {
                let from = pos(p);
                val_out[o * s..o * s + s].copy_from_slice(&src[from * s..from * s + s]);
            }
        }
    });
    if want_indices {
        encode_ints(DType::U32, shape, &idx_out)
    } else {
        from_bytes(x.dtype(), shape, val_out)
    }
}
