//! Indexing ops: dynamic slices (clamped), gather, take_along_axis, scatter
//! (duplicates, reductions), scatter_axis; negative indices wrap.

mod common;
use common::*;
use psionic_ir::{Attr, DType, Opcode::*};

fn iota_f(shape: &[usize]) -> psionic_ir::Literal {
    let n: usize = shape.iter().product();
    f32s(shape, &(0..n).map(|i| i as f64).collect::<Vec<_>>())
}

#[test]
fn dynamic_slice_clamps_starts() {
    let x = iota_f(&[4, 5]);
    let ds = |starts: &[i64]| {
        op(
            DynamicSlice,
            &[("axes", ints_attr(&[0, 1])), ("sizes", ints_attr(&[2, 2]))],
            &[&x, &ints(DType::I32, &[2], starts)],
        )
    };
    assert_vals(&ds(&[1, 2]), &[7.0, 8.0, 12.0, 13.0]);
    assert_vals(&ds(&[9, 9]), &[13.0, 14.0, 18.0, 19.0]); // clamped to the end
    assert_vals(&ds(&[-3, 0]), &[0.0, 1.0, 5.0, 6.0]); // clamped to 0
    let one_axis = op(
        DynamicSlice,
        &[("axes", ints_attr(&[1])), ("sizes", ints_attr(&[4, 1]))],
        &[&x, &ints(DType::U8, &[1], &[3])],
    );
    assert_vals(&one_axis, &[3.0, 8.0, 13.0, 18.0]);
}

#[test]
fn dynamic_slice_update_clamps_starts() {
    let x = iota_f(&[5]);
    let u = f32s(&[2], &[-1.0, -2.0]);
    let r = op(
        DynamicSliceUpdate,
        &[("axes", ints_attr(&[0]))],
        &[&x, &u, &ints(DType::I64, &[1], &[1])],
    );
    assert_vals(&r, &[0.0, -1.0, -2.0, 3.0, 4.0]);
    let r = op(
        DynamicSliceUpdate,
        &[("axes", ints_attr(&[0]))],
        &[&x, &u, &ints(DType::I64, &[1], &[7])],
    );
    assert_vals(&r, &[0.0, 1.0, 2.0, -1.0, -2.0]);
}

#[test]
fn gather_takes_slices_and_wraps_negative_indices() {
    let x = iota_f(&[3, 4]);
    // x[idx] with slices of full rows: shape idx.shape ++ [1, 4].
    let g = op(
        Gather,
        &[
            ("axes", ints_attr(&[0])),
            ("slice_sizes", ints_attr(&[1, 4])),
        ],
        &[&x, &ints(DType::I32, &[2], &[2, -3])],
    );
    assert_eq!(g.shape(), &[2, 1, 4]);
    assert_vals(&g, &[8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0]);
    // Point gather with two index arrays: x[i, j].
    let g = op(
        Gather,
        &[
            ("axes", ints_attr(&[0, 1])),
            ("slice_sizes", ints_attr(&[1, 1])),
        ],
        &[
            &x,
            &ints(DType::I64, &[3], &[0, 2, -1]),
            &ints(DType::I64, &[3], &[1, -1, 0]),
        ],
    );
    assert_eq!(g.shape(), &[3, 1, 1]);
    assert_vals(&g, &[1.0, 11.0, 8.0]);
    let e = op_err(
        Gather,
        &[
            ("axes", ints_attr(&[0])),
            ("slice_sizes", ints_attr(&[1, 4])),
        ],
        &[&x, &ints(DType::I32, &[1], &[3])],
    );
    assert!(e.contains("out of range"), "{e}");
}

#[test]
fn take_along_axis_and_scatter_axis() {
    let x = f32s(&[2, 3], &[10.0, 30.0, 20.0, 5.0, 4.0, 6.0]);
    let idx = ints(DType::I32, &[2, 2], &[1, -1, 0, 0]);
    let t = op(TakeAlongAxis, &[("axis", Attr::Int(1))], &[&x, &idx]);
    assert_eq!(t.shape(), &[2, 2]);
    assert_vals(&t, &[30.0, 20.0, 5.0, 5.0]);
    let upd = f32s(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let s = op(ScatterAxis, &[("axis", Attr::Int(1))], &[&x, &idx, &upd]);
    assert_vals(&s, &[10.0, 1.0, 2.0, 4.0, 4.0, 6.0]); // duplicate: last wins
    let s = op(
        ScatterAxis,
        &[("axis", Attr::Int(1)), ("reduce", Attr::Str("sum".into()))],
        &[&x, &idx, &upd],
    );
    assert_vals(&s, &[10.0, 31.0, 22.0, 12.0, 4.0, 6.0]);
}

#[test]
fn scatter_with_duplicates() {
    let x = f32s(&[4], &[0.0; 4]);
    let idx = ints(DType::I32, &[4], &[1, 3, 1, -1]);
    let upd = f32s(&[4, 1], &[1.0, 2.0, 3.0, 4.0]);
    let sc = |reduce: &str| {
        op(
            Scatter,
            &[
                ("axes", ints_attr(&[0])),
                ("reduce", Attr::Str(reduce.into())),
            ],
            &[&x, &idx, &upd],
        )
    };
    // np.add.at semantics for sum: duplicates accumulate.
    assert_vals(&sc("sum"), &[0.0, 4.0, 0.0, 6.0]);
    assert_vals(&sc("none"), &[0.0, 3.0, 0.0, 4.0]);
    assert_vals(&sc("max"), &[0.0, 3.0, 0.0, 4.0]);
    assert_vals(&sc("min"), &[0.0, 0.0, 0.0, 0.0]);
    let ones = f32s(&[4], &[1.0; 4]);
    let p = op(
        Scatter,
        &[
            ("axes", ints_attr(&[0])),
            ("reduce", Attr::Str("prod".into())),
        ],
        &[&ones, &idx, &upd],
    );
    assert_vals(&p, &[1.0, 3.0, 1.0, 8.0]);
    // Row slices into a matrix, integer dtype.
    let m = ints(DType::I32, &[3, 2], &[0; 6]);
    let rows = ints(DType::I32, &[2], &[2, 0]);
    let upd = ints(DType::I32, &[2, 1, 2], &[1, 2, 3, 4]);
    let r = op(
        Scatter,
        &[
            ("axes", ints_attr(&[0])),
            ("reduce", Attr::Str("sum".into())),
        ],
        &[&m, &rows, &upd],
    );
    assert_ints(&r, &[3, 4, 0, 0, 1, 2]);
}

#[test]
fn malformed_index_ops_are_errors_not_panics() {
    let x = f32s(&[4], &[0.0; 4]);
    let idx = ints(DType::I32, &[2], &[0, 1]);
    // Updates whose leading shape is not the index shape.
    let upd = f32s(&[3, 1], &[1.0, 2.0, 3.0]);
    let e = op_err(Scatter, &[("axes", ints_attr(&[0]))], &[&x, &idx, &upd]);
    assert!(e.contains("do not match 2 index positions"), "{e}");
    let m = f32s(&[3, 3], &[0.0; 9]);
    let e = op_err(
        DynamicSlice,
        &[("axes", ints_attr(&[0, 0])), ("sizes", ints_attr(&[1, 1]))],
        &[&m, &ints(DType::I32, &[2], &[2, 2])],
    );
    assert!(e.contains("twice"), "{e}");
    let e = op_err(
        Gather,
        &[
            ("axes", ints_attr(&[0, 0])),
            ("slice_sizes", ints_attr(&[1, 1])),
        ],
        &[&m, &idx, &idx],
    );
    assert!(e.contains("twice"), "{e}");
    let e = op_err(
        TakeAlongAxis,
        &[("axis", Attr::Int(0))],
        &[&x, &ints(DType::I32, &[1], &[-5])],
    );
    assert!(e.contains("-5 is out of range"), "{e}");
}
