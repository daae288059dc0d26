//! Split reductions (`fusion::split`): which kernels are split, the
//! structure of the two kernels, and that the split programs compute what
//! the unsplit ones do (kernel interpreter against the tensor-level
//! interpreter), over random shapes, axes, accumulator kinds and layouts.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::kernel::{Item, KProgram};
use psionic_ir::{Attr, Attrs, Opcode};
use psionic_passes::fusion::fuse;
use psionic_passes::fusion::split::{split_reductions, SplitOptions};
use rand::{Rng, SeedableRng};

/// Small thresholds so that test-sized kernels split.
fn small() -> SplitOptions {
    SplitOptions {
        max_outer: 8,
        min_points: 16,
        parts: 8,
        min_inner_chunk: 4,
    }
}

fn kernels(p: &KProgram) -> usize {
    p.items
        .iter()
        .filter(|i| matches!(i, Item::Kernel(_)))
        .count()
}

fn split_and_check(f: &psionic_ir::Func, opts: &SplitOptions, tol: f64) -> (KProgram, usize) {
    let mut p = fuse(f).unwrap();
    let n = split_reductions(&mut p, opts);
    check_text(&p);
    for seed in 0..2 {
        let args = random_args(f, seed);
        assert_close(&run(&p, &args), &oracle(f, &args), tol);
    }
    (p, n)
}

#[test]
fn full_sum_splits_into_a_partial_and_a_combining_kernel() {
    let mut b = B::new(&[&[64, 128]]);
    let x = b.p(0);
    let s = b.reduce(Opcode::ReduceSum, x, &[0, 1], false);
    let f = b.done(&[s]);
    let (p, n) = split_and_check(&f, &small(), 1e-5);
    assert_eq!(n, 1);
    assert_eq!(kernels(&p), 2);
    let text = print_program(&p);
    // The first reduced axis (64) is cut into 8 chunks of 8 rows.
    assert!(
        text.contains("domain [8, 8, 128] reduce [1, 2]"),
        "partial kernel:\n{text}"
    );
    assert!(
        text.contains("domain [8] reduce [0]"),
        "combining kernel:\n{text}"
    );
}

#[test]
fn row_reductions_with_many_rows_are_left_alone() {
    let mut b = B::new(&[&[64, 128]]);
    let x = b.p(0);
    let s = b.reduce(Opcode::ReduceSum, x, &[1], false);
    let f = b.done(&[s]);
    let (p, n) = split_and_check(&f, &small(), 1e-5);
    assert_eq!(n, 0);
    assert_eq!(kernels(&p), 1);
}

#[test]
fn defaults_leave_small_reductions_alone() {
    let mut b = B::new(&[&[64, 128]]);
    let x = b.p(0);
    let s = b.reduce(Opcode::ReduceSum, x, &[0, 1], false);
    let f = b.done(&[s]);
    let (_, n) = split_and_check(&f, &SplitOptions::default(), 1e-5);
    assert_eq!(n, 0, "8192 points is below the default threshold");
}

#[test]
fn products_variances_and_row_maps_are_not_split() {
    // prod: a chunk's product may overflow where the row's does not.
    let mut b = B::new(&[&[64, 128]]);
    let x = b.p(0);
    let s = b.reduce(Opcode::ReduceProd, x, &[0, 1], false);
    let f = b.done(&[s]);
    assert_eq!(split_and_check(&f, &small(), 1e-5).1, 0);
    // var: Welford's m2 needs the row mean.
    let mut b = B::new(&[&[4, 1024]]);
    let x = b.p(0);
    let sum = b.reduce(Opcode::ReduceSum, x, &[1], true);
    let inv = b.scalar(1.0 / 1024.0, &[4, 1]);
    let mean = b.bin(Opcode::Multiply, sum, inv);
    let mean = b.bcast(mean, &[4, 1024]);
    let d = b.bin(Opcode::Subtract, x, mean);
    let d2 = b.bin(Opcode::Multiply, d, d);
    let v = b.reduce(Opcode::ReduceSum, d2, &[1], false);
    let f = b.done(&[v]);
    assert!(print_program(&fuse(&f).unwrap()).contains("acc.m2"));
    assert_eq!(split_and_check(&f, &small(), 1e-5).1, 0);
    // softmax of few long rows: a map stage reads the row again.
    let mut b = B::new(&[&[2, 1024]]);
    let x = b.p(0);
    let s = b.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![1])),
    );
    let f = b.done(&[s]);
    assert_eq!(split_and_check(&f, &small(), 1e-5).1, 0);
}

/// Random reductions over random axes of random 2-4-d shapes, with few
/// outer indices, through transposed and broadcast layouts, with an
/// elementwise producer and an elementwise consumer of the result.
#[test]
fn random_split_reductions_match_the_interpreter() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut split = 0;
    for case in 0..120 {
        let rank = rng.gen_range(2..=4);
        let shape: Vec<i64> = (0..rank)
            .map(|_| [1, 2, 3, 4, 6, 8, 12, 16, 30][rng.gen_range(0..9)])
            .collect();
        let mut axes: Vec<i64> = (0..rank as i64).filter(|_| rng.gen_bool(0.7)).collect();
        if axes.is_empty() {
            axes.push(rng.gen_range(0..rank as i64));
        }
        let op = [
            Opcode::ReduceSum,
            Opcode::ReduceMax,
            Opcode::ReduceMin,
            Opcode::LogSumExp,
        ][rng.gen_range(0..4)];
        let keep = rng.gen_bool(0.5);
        let mut b = B::new(&[&shape]);
        let mut x = b.p(0);
        if rng.gen_bool(0.4) {
            let mut perm: Vec<i64> = (0..rank as i64).collect();
            perm.reverse();
            x = b.transpose(x, &perm);
        }
        let x = b.un(Opcode::Sin, x);
        let r = b.reduce(op, x, &axes, keep);
        let r = b.un(Opcode::Exp, r);
        let f = b.done(&[r]);
        let opts = SplitOptions {
            max_outer: 16,
            min_points: 4,
            parts: rng.gen_range(2..12),
            min_inner_chunk: rng.gen_range(1..5),
        };
        let mut p = fuse(&f).unwrap();
        split += split_reductions(&mut p, &opts);
        check_text(&p);
        let args = random_args(&f, case);
        let got = run(&p, &args);
        let want = oracle(&f, &args);
        for (g, w) in got.iter().zip(&want) {
            for (i, (u, v)) in g.to_f64_vec().iter().zip(w.to_f64_vec()).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-5 * (1.0 + v.abs()),
                    "case {case} {op:?} shape {shape:?} axes {axes:?} element {i}: {u} vs {v}\n{}",
                    print_program(&p)
                );
            }
        }
    }
    assert!(split > 40, "only {split} of 120 cases split");
}
