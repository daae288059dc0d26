//! Buffer planning: reuse and in-place decisions, checked by running the
//! planned program (slots share storage in the kernel interpreter).

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::Opcode;
use psionic_passes::bufplan::plan;
use psionic_passes::fusion::{fuse, lower_unfused};

#[test]
fn unfused_chain_reuses_two_slots_in_place() {
    // exp(exp(exp(exp(x)))) unfused: each op's input dies in the next op.
    let mut b = B::new(&[&[64, 64]]);
    let mut v = b.p(0);
    for _ in 0..5 {
        v = b.un(Opcode::Exp, v);
        v = b.un(Opcode::Tanh, v);
    }
    let f = b.done(&[v]);
    let mut p = lower_unfused(&f).unwrap();
    let before = run(&p, &random_args(&f, 1));
    let rep = plan(&mut p);
    check_text(&p);
    let one = 64 * 64 * 4;
    assert_eq!(rep.unplanned_bytes, 10 * one);
    // Nine intermediates fit in one slot written in place; the result keeps its own.
    assert_eq!(rep.slot_bytes, vec![one]);
    assert_eq!(rep.in_place, 8);
    assert_eq!(rep.peak_bytes, 2 * one);
    assert_close(&run(&p, &random_args(&f, 1)), &before, 0.0);
}

#[test]
fn live_buffers_never_share_a_slot() {
    // a = exp(x); b = tanh(x); c = sin(x); r = a + b + c: a, b, c all live at once.
    let mut b = B::new(&[&[8, 8]]);
    let x = b.p(0);
    let e = b.un(Opcode::Exp, x);
    let t = b.un(Opcode::Tanh, x);
    let s = b.un(Opcode::Sin, x);
    let r = b.bin(Opcode::Add, e, t);
    let r = b.bin(Opcode::Add, r, s);
    let f = b.done(&[r]);
    let mut p = lower_unfused(&f).unwrap();
    let args = random_args(&f, 2);
    let before = run(&p, &args);
    let rep = plan(&mut p);
    assert!(rep.slot_bytes.len() >= 3, "{rep:?}\n{}", print_program(&p));
    assert_close(&run(&p, &args), &before, 0.0);
}

#[test]
fn no_in_place_through_a_transposed_read() {
    let mut b = B::new(&[&[8, 8]]);
    let x = b.p(0);
    let e = b.un(Opcode::Exp, x);
    let t = b.transpose(e, &[1, 0]);
    let r = b.un(Opcode::Tanh, t);
    let r = b.un(Opcode::Sin, r);
    let f = b.done(&[r]);
    let mut p = lower_unfused(&f).unwrap();
    let args = random_args(&f, 3);
    let before = run(&p, &args);
    let rep = plan(&mut p);
    // exp -> transpose may not be in place (transposed read), later ops may.
    assert_close(&run(&p, &args), &before, 0.0);
    assert!(rep.in_place <= 1, "{rep:?}\n{}", print_program(&p));
}

#[test]
fn fused_programs_plan_and_run() {
    let mut b = B::new(&[&[4, 8], &[8, 16], &[16], &[16, 3], &[3]]);
    let (x, w1, b1, w2, b2) = (b.p(0), b.p(1), b.p(2), b.p(3), b.p(4));
    let h = b.bin(Opcode::Matmul, x, w1);
    let bb = b.bcast(b1, &[4, 16]);
    let h = b.bin(Opcode::Add, h, bb);
    let h = b.un(Opcode::Tanh, h);
    let y = b.bin(Opcode::Matmul, h, w2);
    let bb2 = b.bcast(b2, &[4, 3]);
    let y = b.bin(Opcode::Add, y, bb2);
    let y = softmax_by_hand(&mut b, y, &[4, 3]);
    let f = b.done(&[y]);
    let mut p = fuse(&f).unwrap();
    let args = random_args(&f, 4);
    let before = run(&p, &args);
    let rep = plan(&mut p);
    check_text(&p);
    assert!(rep.peak_bytes <= rep.unplanned_bytes);
    assert_close(&run(&p, &args), &before, 0.0);
}
