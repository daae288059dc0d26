//! Reduction reuse (`fusion::reuse`): a reduction that an earlier one of
//! the same kind covers in part reduces that result instead of re-reading
//! the operand. Structure (one pass over the matrix for its row sums and
//! full sum) and numbers against the tensor interpreter, over random
//! shapes, axis sets, keepdims and kinds.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::Opcode;
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_passes::fusion::reuse::reuse_reductions;
use rand::{Rng, SeedableRng};

#[test]
fn row_sums_and_full_sum_read_the_matrix_once() {
    let mut b = B::new(&[&[64, 128]]);
    let x = b.p(0);
    let rows = b.reduce(Opcode::ReduceSum, x, &[1], false);
    let all = b.reduce(Opcode::ReduceSum, x, &[0, 1], false);
    let f = b.done(&[rows, all]);
    let mut g = f.clone();
    assert_eq!(reuse_reductions(&mut g), 1);
    let (p, _) = compile(&f, &CompileOptions::default()).unwrap();
    check_text(&p);
    let text = print_program(&p);
    assert_eq!(stats(&p).passes, 2, "{text}");
    assert!(text.contains("domain [64] reduce [0]"), "{text}");
    for seed in 0..3 {
        let args = random_args(&f, seed);
        assert_close(&run(&p, &args), &oracle(&f, &args), 1e-5);
    }
}

#[test]
fn unrelated_later_or_product_reductions_are_left_alone() {
    // Axes not a subset.
    let mut b = B::new(&[&[8, 16]]);
    let x = b.p(0);
    let r0 = b.reduce(Opcode::ReduceSum, x, &[0], false);
    let r1 = b.reduce(Opcode::ReduceSum, x, &[1], false);
    let mut f = b.done(&[r0, r1]);
    assert_eq!(reuse_reductions(&mut f), 0);
    // The covering reduction comes later.
    let mut b = B::new(&[&[8, 16]]);
    let x = b.p(0);
    let all = b.reduce(Opcode::ReduceMax, x, &[0, 1], false);
    let rows = b.reduce(Opcode::ReduceMax, x, &[1], false);
    let mut f = b.done(&[all, rows]);
    assert_eq!(reuse_reductions(&mut f), 0);
    // Different kinds, and products.
    let mut b = B::new(&[&[8, 16]]);
    let x = b.p(0);
    let rows = b.reduce(Opcode::ReduceMax, x, &[1], false);
    let all = b.reduce(Opcode::ReduceSum, x, &[0, 1], false);
    let pr = b.reduce(Opcode::ReduceProd, x, &[1], false);
    let pa = b.reduce(Opcode::ReduceProd, x, &[0, 1], false);
    let mut f = b.done(&[rows, all, pr, pa]);
    assert_eq!(reuse_reductions(&mut f), 0);
}

#[test]
fn random_reuses_match_the_interpreter() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut rewritten = 0;
    for case in 0..150 {
        let rank = rng.gen_range(2..=4);
        let shape: Vec<i64> = (0..rank).map(|_| rng.gen_range(1..6)).collect();
        let all: Vec<i64> = (0..rank as i64).collect();
        let a2: Vec<i64> = all.iter().copied().filter(|_| rng.gen_bool(0.7)).collect();
        let a1: Vec<i64> = a2.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
        if a1.is_empty() || a1.len() == a2.len() {
            continue;
        }
        let op = [
            Opcode::ReduceSum,
            Opcode::ReduceMax,
            Opcode::ReduceMin,
            Opcode::LogSumExp,
        ][rng.gen_range(0..4)];
        let (k1, k2) = (rng.gen_bool(0.5), rng.gen_bool(0.5));
        let mut b = B::new(&[&shape]);
        let x = b.p(0);
        let r1 = b.reduce(op, x, &a1, k1);
        let r2 = b.reduce(op, x, &a2, k2);
        let f = b.done(&[r1, r2]);
        let mut g = f.clone();
        rewritten += reuse_reductions(&mut g);
        psionic_ir::verify::verify_func(&g).unwrap_or_else(|e| panic!("case {case}: {e:?}"));
        assert_eq!(g.result_types(), f.result_types(), "case {case}");
        let args = random_args(&f, case);
        let got = oracle(&g, &args);
        let want = oracle(&f, &args);
        assert_close(&got, &want, 1e-5);
        let (p, _) = compile(&f, &CompileOptions::default()).unwrap();
        assert_close(&run(&p, &args), &want, 1e-5);
    }
    assert!(rewritten > 40, "only {rewritten} rewritten");
}
