//! Sorting (stable, NaN last) and contractions.

mod common;
use common::*;
use psionic_ir::{Attr, DType, Opcode::*};

const NAN: f64 = f64::NAN;

#[test]
fn sort_puts_nan_last_and_argsort_is_stable() {
    let x = f32s(&[2, 3], &[3.0, 1.0, 2.0, NAN, -1.0, 0.0]);
    let s = op(Sort, &[("axis", Attr::Int(1))], &[&x]);
    assert_vals(&s, &[1.0, 2.0, 3.0, -1.0, 0.0, NAN]);
    let a = op(
        Argsort,
        &[("axis", Attr::Int(0))],
        &[&ints(DType::I32, &[5], &[2, 1, 2, 1, 0])],
    );
    assert_eq!(a.dtype(), DType::U32);
    assert_ints(&a, &[4, 1, 3, 0, 2]);
    let m = f32s(&[3, 2], &[5.0, 0.0, NAN, 1.0, -2.0, 1.0]);
    let a = op(Argsort, &[("axis", Attr::Int(0))], &[&m]);
    assert_ints(&a, &[2, 0, 0, 1, 1, 2]);
    let u = ints(DType::U64, &[3], &[-1, 0, 5]);
    assert_ints(&op(Sort, &[("axis", Attr::Int(0))], &[&u]), &[0, 5, -1]);
}

#[test]
fn partition_places_kth_and_splits_around_it() {
    let v = [5.0, 1.0, 4.0, 2.0, 3.0, 0.0];
    let x = f32s(&[6], &v);
    for kth in 0..6 {
        let p = vals(&op(
            Partition,
            &[("kth", Attr::Int(kth)), ("axis", Attr::Int(0))],
            &[&x],
        ));
        let k = kth as usize;
        assert_eq!(p[k], k as f64);
        assert!(p[..k].iter().all(|&a| a <= p[k]) && p[k + 1..].iter().all(|&a| a >= p[k]));
        let ap = op(
            Argpartition,
            &[("kth", Attr::Int(kth)), ("axis", Attr::Int(0))],
            &[&x],
        )
        .to_i64_vec();
        assert_eq!(v[ap[k] as usize], k as f64);
    }
}

#[test]
fn matmul_batched() {
    let a = f32s(
        &[2, 2, 3],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    );
    let b = f32s(&[2, 3, 1], &[1.0, 1.0, 1.0, 7.0, 8.0, 9.0]);
    let c = op(Matmul, &[], &[&a, &b]);
    assert_eq!(c.shape(), &[2, 2, 1]);
    assert_vals(&c, &[6.0, 15.0, 7.0, 8.0]);
    let cc = f32s(&[2, 2, 1], &[1.0, 1.0, 1.0, NAN]);
    let r = op(
        AddMM,
        &[("alpha", Attr::Float(2.0)), ("beta", Attr::Float(-1.0))],
        &[&cc, &a, &b],
    );
    assert_vals(&r, &[11.0, 29.0, 13.0, NAN]);
    let r = op(AddMM, &[("beta", Attr::Float(0.0))], &[&cc, &a, &b]);
    assert_vals(&r, &[6.0, 15.0, 7.0, 8.0]);
    let z = c64s(&[1, 1, 2], &[(0.0, 1.0), (1.0, 0.0)]);
    let w = c64s(&[1, 2, 1], &[(0.0, 1.0), (2.0, 3.0)]);
    assert_eq!(complex_vals(&op(Matmul, &[], &[&z, &w])), vec![(1.0, 3.0)]);
    // Matmul accumulates in f64: the f32 sum 1e8 + 1 - 1e8 is exact here.
    let a = f32s(&[1, 3], &[1e8, 1.0, -1e8]);
    let b = f32s(&[3, 1], &[1.0, 1.0, 1.0]);
    assert_vals(&op(Matmul, &[], &[&a, &b]), &[1.0]);
    let e = op_err(
        Matmul,
        &[],
        &[&f32s(&[2, 3], &[0.0; 6]), &f32s(&[2, 3], &[0.0; 6])],
    );
    assert!(e.contains("contracting"), "{e}");
}
