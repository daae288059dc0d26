//! Layout ops: reshape family, transpose, broadcast, slices (negative
//! strides), slice_update, pad, concatenate, split, flip, creation ops.

mod common;
use common::*;
use psionic_ir::{Attr, DType, Opcode::*};

fn iota_f(shape: &[usize]) -> psionic_ir::Literal {
    let n: usize = shape.iter().product();
    f32s(shape, &(0..n).map(|i| i as f64).collect::<Vec<_>>())
}

#[test]
fn reshape_family_keeps_row_major_order() {
    let x = iota_f(&[2, 3]);
    let r = op(Reshape, &[("shape", ints_attr(&[3, -1]))], &[&x]);
    assert_eq!(r.shape(), &[3, 2]);
    assert_vals(&r, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let e = op(ExpandDims, &[("axes", ints_attr(&[0, 2]))], &[&x]);
    assert_eq!(e.shape(), &[1, 2, 1, 3]);
    let s = op(Squeeze, &[("axes", ints_attr(&[0, 2]))], &[&e]);
    assert_eq!(s.shape(), &[2, 3]);
    let f = op(
        Flatten,
        &[("start_axis", Attr::Int(0)), ("end_axis", Attr::Int(1))],
        &[&x],
    );
    assert_eq!(f.shape(), &[6]);
    let u = op(
        Unflatten,
        &[("axis", Attr::Int(0)), ("shape", ints_attr(&[2, -1]))],
        &[&f],
    );
    assert_eq!(u.shape(), &[2, 3]);
}

#[test]
fn transpose_permutes() {
    let x = iota_f(&[2, 3, 4]);
    let t = op(Transpose, &[("perm", ints_attr(&[2, 0, 1]))], &[&x]);
    assert_eq!(t.shape(), &[4, 2, 3]);
    let v = vals(&t);
    for a in 0..4 {
        for b in 0..2 {
            for c in 0..3 {
                assert_eq!(v[a * 6 + b * 3 + c], (b * 12 + c * 4 + a) as f64);
            }
        }
    }
    // Works on c64 (byte copies).
    let z = c64s(&[2, 1], &[(1.0, 2.0), (3.0, 4.0)]);
    let zt = op(Transpose, &[("perm", ints_attr(&[1, 0]))], &[&z]);
    assert_eq!(complex_vals(&zt), vec![(1.0, 2.0), (3.0, 4.0)]);
}

#[test]
fn broadcast_stretches_size_one_axes() {
    let x = f32s(&[3, 1], &[1.0, 2.0, 3.0]);
    let b = op(Broadcast, &[("shape", ints_attr(&[2, 3, 2]))], &[&x]);
    assert_vals(
        &b,
        &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
    );
    let donor = f32s(&[2, 3, 4], &[0.0; 24]);
    let bl = op(BroadcastLike, &[], &[&x, &donor]);
    assert_eq!(bl.shape(), &[2, 3, 4]);
    assert_vals(
        &op(ReduceSum, &[("axes", ints_attr(&[0, 1, 2]))], &[&bl]),
        &[48.0],
    );
    let scalar = ints(DType::I16, &[], &[-7]);
    let b = op(Broadcast, &[("shape", ints_attr(&[2, 2]))], &[&scalar]);
    assert_ints(&b, &[-7; 4]);
}

#[test]
fn slices_with_positive_and_negative_strides() {
    let x = iota_f(&[5]);
    let s = |start: i64, stop: i64, step: i64| {
        op(
            Slice,
            &[
                ("start", ints_attr(&[start])),
                ("stop", ints_attr(&[stop])),
                ("strides", ints_attr(&[step])),
            ],
            &[&x],
        )
    };
    assert_vals(&s(1, 3, 1), &[1.0, 2.0]);
    assert_vals(&s(0, 5, 2), &[0.0, 2.0, 4.0]);
    assert_vals(&s(4, -1, -1), &[4.0, 3.0, 2.0, 1.0, 0.0]); // x[::-1]
    assert_vals(&s(4, 0, -2), &[4.0, 2.0]); // x[4:0:-2]
    assert_vals(&s(3, 3, 1), &[]);
    let m = iota_f(&[3, 4]);
    let r = op(
        Slice,
        &[
            ("start", ints_attr(&[2, 1])),
            ("stop", ints_attr(&[-1, 4])),
            ("strides", ints_attr(&[-2, 2])),
        ],
        &[&m],
    );
    assert_eq!(r.shape(), &[2, 2]);
    assert_vals(&r, &[9.0, 11.0, 1.0, 3.0]);
}

#[test]
fn slice_update_overwrites_or_reduces() {
    let x = iota_f(&[5]);
    let u = f32s(&[2], &[10.0, 20.0]);
    let at = |reduce: &str| {
        op(
            SliceUpdate,
            &[
                ("start", ints_attr(&[4])),
                ("stop", ints_attr(&[0])),
                ("strides", ints_attr(&[-3])),
                ("reduce", Attr::Str(reduce.into())),
            ],
            &[&x, &u],
        )
    };
    assert_vals(&at("none"), &[0.0, 20.0, 2.0, 3.0, 10.0]);
    assert_vals(&at("sum"), &[0.0, 21.0, 2.0, 3.0, 14.0]);
    assert_vals(&at("prod"), &[0.0, 20.0, 2.0, 3.0, 40.0]);
    assert_vals(&at("max"), &[0.0, 20.0, 2.0, 3.0, 10.0]);
    assert_vals(&at("min"), &[0.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn pad_concatenate_split_flip() {
    let x = iota_f(&[2, 2]);
    let p = op(
        Pad,
        &[("low", ints_attr(&[1, 0])), ("high", ints_attr(&[0, 2]))],
        &[&x, &f32s(&[], &[-1.0])],
    );
    assert_eq!(p.shape(), &[3, 4]);
    assert_vals(
        &p,
        &[
            -1.0, -1.0, -1.0, -1.0, 0.0, 1.0, -1.0, -1.0, 2.0, 3.0, -1.0, -1.0,
        ],
    );
    let y = f32s(&[2, 1], &[9.0, 8.0]);
    let c = op(Concatenate, &[("axis", Attr::Int(1))], &[&x, &y, &x]);
    assert_eq!(c.shape(), &[2, 5]);
    assert_vals(&c, &[0.0, 1.0, 9.0, 0.0, 1.0, 2.0, 3.0, 8.0, 2.0, 3.0]);
    let c0 = op(
        Concatenate,
        &[("axis", Attr::Int(0))],
        &[&x, &f32s(&[0, 2], &[]), &x],
    );
    assert_eq!(c0.shape(), &[4, 2]);
    let parts = opn(
        Split,
        &[("indices", ints_attr(&[1, 1, 4])), ("axis", Attr::Int(1))],
        &[&c],
    );
    assert_eq!(parts.len(), 4);
    assert_vals(&parts[0], &[0.0, 2.0]);
    assert_eq!(parts[1].shape(), &[2, 0]);
    assert_vals(&parts[2], &[1.0, 9.0, 0.0, 3.0, 8.0, 2.0]);
    assert_vals(&parts[3], &[1.0, 3.0]);
    let f = op(Flip, &[("axes", ints_attr(&[0, 1]))], &[&x]);
    assert_vals(&f, &[3.0, 2.0, 1.0, 0.0]);
    let f = op(Flip, &[("axes", ints_attr(&[1]))], &[&x]);
    assert_vals(&f, &[1.0, 0.0, 3.0, 2.0]);
}

#[test]
fn creation_ops() {
    let f = op(
        Full,
        &[
            ("value", Attr::Float(-2.5)),
            ("shape", ints_attr(&[2])),
            ("dtype", Attr::DType(DType::I32)),
        ],
        &[],
    );
    assert_ints(&f, &[-2, -2]);
    let i = op(
        Iota,
        &[
            ("shape", ints_attr(&[2, 3])),
            ("dtype", Attr::DType(DType::F16)),
            ("axis", Attr::Int(1)),
        ],
        &[],
    );
    assert_vals(&i, &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    let i = op(
        Iota,
        &[
            ("shape", ints_attr(&[2, 3])),
            ("dtype", Attr::DType(DType::U8)),
            ("axis", Attr::Int(0)),
        ],
        &[],
    );
    assert_ints(&i, &[0, 0, 0, 1, 1, 1]);
    let a = op(
        Arange,
        &[
            ("start", Attr::Float(0.0)),
            ("stop", Attr::Float(1.0)),
            ("step", Attr::Float(0.25)),
            ("dtype", Attr::DType(DType::F32)),
        ],
        &[],
    );
    assert_vals(&a, &[0.0, 0.25, 0.5, 0.75]);
    let a = op(
        Arange,
        &[
            ("start", Attr::Float(5.0)),
            ("stop", Attr::Float(0.0)),
            ("step", Attr::Float(-2.0)),
            ("dtype", Attr::DType(DType::I64)),
        ],
        &[],
    );
    assert_ints(&a, &[5, 3, 1]);
    // MLX semantics for integer dtypes: start and start+step are truncated first.
    let a = op(
        Arange,
        &[
            ("start", Attr::Float(0.5)),
            ("stop", Attr::Float(3.0)),
            ("step", Attr::Float(0.5)),
            ("dtype", Attr::DType(DType::I32)),
        ],
        &[],
    );
    assert_ints(&a, &[0, 1, 2, 3, 4]);
    let c = f32s(&[2], &[1.0, 2.0]);
    let k = op(Constant, &[("value", Attr::Dense(c.clone()))], &[]);
    assert_eq!(k, c);
}
