//! Structural and numeric tests of fusion: how many kernels and passes over
//! memory real programs compile to, and that fused programs compute what
//! the unfused ones do.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::{Attr, Attrs, Opcode};
use psionic_passes::fusion::{fuse, lower_unfused};

fn check(f: &psionic_ir::Func) -> psionic_ir::kernel::KProgram {
    let fused = fuse(f).unwrap();
    let unfused = lower_unfused(f).unwrap();
    check_text(&fused);
    check_text(&unfused);
    for seed in 0..3 {
        let args = random_args(f, seed);
        let want = oracle(f, &args);
        assert_close(&run(&unfused, &args), &want, 1e-5);
        assert_close(&run(&fused, &args), &want, 1e-5);
    }
    fused
}

#[test]
fn softmax_op_is_one_kernel_of_two_passes() {
    let mut b = B::new(&[&[4, 16]]);
    let x = b.p(0);
    let s = b.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![1])),
    );
    let f = b.done(&[s]);
    let p = check(&f);
    let st = p.stats();
    assert_eq!(
        (st.kernels, st.library_calls, st.passes),
        (1, 0, 2),
        "{}",
        print_program(&p)
    );
}

#[test]
fn hand_written_softmax_is_one_kernel_of_two_passes() {
    let mut b = B::new(&[&[5, 12]]);
    let x = b.p(0);
    let s = softmax_by_hand(&mut b, x, &[5, 12]);
    let f = b.done(&[s]);
    let p = check(&f);
    let st = p.stats();
    assert_eq!((st.kernels, st.passes), (1, 2), "{}", print_program(&p));
    // The unfused form pays one pass per op.
    assert!(lower_unfused(&f).unwrap().stats().passes >= 6);
}

#[test]
fn layer_norm_is_one_kernel_of_two_passes() {
    let mut b = B::new(&[&[6, 10], &[10], &[10]]);
    let (x, w, bias) = (b.p(0), b.p(1), b.p(2));
    let y = layer_norm(&mut b, x, w, bias, &[6, 10]);
    let f = b.done(&[y]);
    let p = check(&f);
    let st = p.stats();
    assert_eq!((st.kernels, st.passes), (1, 2), "{}", print_program(&p));
}

#[test]
fn rms_norm_is_one_kernel_of_two_passes() {
    let mut b = B::new(&[&[3, 8], &[8]]);
    let (x, w) = (b.p(0), b.p(1));
    let y = rms_norm(&mut b, x, w, &[3, 8]);
    let f = b.done(&[y]);
    let p = check(&f);
    assert_eq!(
        (p.stats().kernels, p.stats().passes),
        (1, 2),
        "{}",
        print_program(&p)
    );
}

#[test]
fn gelu_chain_is_one_kernel() {
    let mut b = B::new(&[&[7, 9]]);
    let x = b.p(0);
    let y = gelu(&mut b, x, &[7, 9]);
    let f = b.done(&[y]);
    let p = check(&f);
    assert_eq!(
        (p.stats().kernels, p.stats().passes),
        (1, 1),
        "{}",
        print_program(&p)
    );
}

#[test]
fn mlp_layers_are_matmuls_with_epilogues() {
    // relu(x @ w1 + b1) @ w2 + b2
    let mut b = B::new(&[&[4, 8], &[8, 16], &[16], &[16, 3], &[3]]);
    let (x, w1, b1, w2, b2) = (b.p(0), b.p(1), b.p(2), b.p(3), b.p(4));
    let h = b.bin(Opcode::Matmul, x, w1);
    let bb = b.bcast(b1, &[4, 16]);
    let h = b.bin(Opcode::Add, h, bb);
    let z = b.full(0.0, &[4, 16]);
    let h = b.bin(Opcode::Maximum, h, z);
    let y = b.bin(Opcode::Matmul, h, w2);
    let bb2 = b.bcast(b2, &[4, 3]);
    let y = b.bin(Opcode::Add, y, bb2);
    let f = b.done(&[y]);
    let p = check(&f);
    let st = p.stats();
    assert_eq!(
        (st.kernels, st.library_calls),
        (0, 2),
        "{}",
        print_program(&p)
    );
}

#[test]
fn attention_is_two_matmuls_and_one_softmax_kernel() {
    // softmax(q @ k^T * scale) @ v
    let mut b = B::new(&[&[2, 6, 4], &[2, 6, 4], &[2, 6, 4]]);
    let (q, k, v) = (b.p(0), b.p(1), b.p(2));
    let kt = b.transpose(k, &[0, 2, 1]);
    let s = b.bin(Opcode::Matmul, q, kt);
    let c = b.full(0.5, &[2, 6, 6]);
    let s = b.bin(Opcode::Multiply, s, c);
    let pr = softmax_by_hand(&mut b, s, &[2, 6, 6]);
    let o = b.bin(Opcode::Matmul, pr, v);
    let f = b.done(&[o]);
    let p = check(&f);
    let st = p.stats();
    assert_eq!(
        (st.kernels, st.library_calls),
        (1, 2),
        "{}",
        print_program(&p)
    );
    // The transpose is folded into the gemm's operand strides.
    assert!(!print_program(&p).contains("transpose"));
}

#[test]
fn views_fold_into_index_maps() {
    let mut b = B::new(&[&[3, 4], &[4]]);
    let (x, v) = (b.p(0), b.p(1));
    let xt = b.transpose(x, &[1, 0]);
    let vb = b.op(
        Opcode::Reshape,
        &[v],
        Attrs::new().with("shape", Attr::Ints(vec![4, 1])),
    );
    let vb = b.bcast(vb, &[4, 3]);
    let y = b.bin(Opcode::Add, xt, vb);
    let y = b.un(Opcode::Exp, y);
    let f = b.done(&[y]);
    let p = check(&f);
    assert_eq!(p.stats().kernels, 1, "{}", print_program(&p));
    assert!(
        print_program(&p).contains("load %b0[0; 1, 4]"),
        "{}",
        print_program(&p)
    );
}

#[test]
fn a_reduction_over_another_shape_gets_its_own_kernel() {
    // y = x + broadcast(sum(z, axis 0)): z's shape differs from y's.
    let mut b = B::new(&[&[4, 5], &[7, 5]]);
    let (x, z) = (b.p(0), b.p(1));
    let s = b.reduce(Opcode::ReduceSum, z, &[0], false);
    let sb = b.bcast(s, &[4, 5]);
    let y = b.bin(Opcode::Add, x, sb);
    let f = b.done(&[y]);
    let p = check(&f);
    assert_eq!(p.stats().kernels, 2, "{}", print_program(&p));
}

#[test]
#[ignore]
fn show() {
    let mut b = B::new(&[&[6, 10], &[10], &[10]]);
    let (x, w, bias) = (b.p(0), b.p(1), b.p(2));
    let y = layer_norm(&mut b, x, w, bias, &[6, 10]);
    let f = b.done(&[y]);
    println!("{}", print_program(&fuse(&f).unwrap()));
    let mut b = B::new(&[&[2, 6, 4], &[2, 6, 4], &[2, 6, 4]]);
    let (q, k, v) = (b.p(0), b.p(1), b.p(2));
    let kt = b.transpose(k, &[0, 2, 1]);
    let s = b.bin(Opcode::Matmul, q, kt);
    let c = b.full(0.5, &[2, 6, 6]);
    let s = b.bin(Opcode::Multiply, s, c);
    let pr = softmax_by_hand(&mut b, s, &[2, 6, 6]);
    let o = b.bin(Opcode::Matmul, pr, v);
    let f = b.done(&[o]);
    println!("{}", print_program(&fuse(&f).unwrap()));
}

#[test]
fn a_ten_thousand_op_chain_is_cut_into_bounded_kernels() {
    let mut b = B::new(&[&[4, 4]]);
    let mut v = b.p(0);
    for i in 0..10_000 {
        v = b.un(
            if i % 2 == 0 {
                Opcode::Tanh
            } else {
                Opcode::Sin
            },
            v,
        );
    }
    let f = b.done(&[v]);
    let p = fuse(&f).unwrap();
    let st = p.stats();
    assert!(
        st.kernels >= 10_000 / 200 && st.kernels <= 2 * 10_000 / 200,
        "{}",
        st.kernels
    );
    let args = random_args(&f, 0);
    assert_close(&run(&p, &args), &oracle(&f, &args), 1e-5);
}

#[test]
fn reductions_over_no_axes_and_empty_axes() {
    let mut b = B::new(&[&[3, 4], &[0, 4]]);
    let (x, e) = (b.p(0), b.p(1));
    let s0 = b.reduce(Opcode::ReduceSum, x, &[], false);
    let s0 = b.un(Opcode::Tanh, s0);
    let se = b.reduce(Opcode::ReduceSum, e, &[0], false);
    let sm = b.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![])),
    );
    let f = b.done(&[s0, se, sm]);
    check(&f);
}
