//! Kernel counts of whole programs through the default pipeline
//! (e-graph, fusion, buffer planning), checked numerically as well.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::{Attr, Attrs, Func, Opcode, Value};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_passes::fusion::lower_unfused;

fn compiled(f: &Func) -> psionic_ir::kernel::KProgram {
    let (p, rep) = compile(f, &CompileOptions::default()).unwrap();
    check_text(&p);
    let reference = lower_unfused(f).unwrap();
    for seed in 0..2 {
        let args = random_args(f, seed);
        assert_close(&run(&reference, &args), &oracle(f, &args), 1e-5);
        assert_close(&run(&p, &args), &oracle(f, &args), 2e-4);
    }
    let json = rep.to_json();
    for key in [
        "\"kernels\"",
        "\"library_calls\"",
        "\"peak_bytes\"",
        "\"bytes_moved\"",
        "\"stop_reason\"",
    ] {
        assert!(json.contains(key), "{json}");
    }
    p
}

/// One SGD step of a two-layer MLP with a squared-error loss, backward pass
/// written out: returns new w1, b1, w2, b2 and the loss.
fn mlp_step(bsz: i64, din: i64, hid: i64, dout: i64) -> Func {
    let mut b = B::new(&[
        &[bsz, din],
        &[bsz, dout],
        &[din, hid],
        &[hid],
        &[hid, dout],
        &[dout],
    ]);
    let (x, t, w1, b1, w2, b2) = (b.p(0), b.p(1), b.p(2), b.p(3), b.p(4), b.p(5));
    let lr = |b: &mut B, shape: &[i64]| b.full(0.1, shape);
    // forward
    let hp = b.bin(Opcode::Matmul, x, w1);
    let b1b = b.bcast(b1, &[bsz, hid]);
    let hp = b.bin(Opcode::Add, hp, b1b);
    let zero = b.full(0.0, &[bsz, hid]);
    let h = b.bin(Opcode::Maximum, hp, zero);
    let y = b.bin(Opcode::Matmul, h, w2);
    let b2b = b.bcast(b2, &[bsz, dout]);
    let y = b.bin(Opcode::Add, y, b2b);
    let d = b.bin(Opcode::Subtract, y, t);
    let sq = b.un(Opcode::Square, d);
    let loss = b.reduce(Opcode::ReduceSum, sq, &[0, 1], false);
    // backward
    let two = b.full(2.0, &[bsz, dout]);
    let dy = b.bin(Opcode::Multiply, d, two);
    let ht = b.transpose(h, &[1, 0]);
    let dw2 = b.bin(Opcode::Matmul, ht, dy);
    let db2 = b.reduce(Opcode::ReduceSum, dy, &[0], false);
    let w2t = b.transpose(w2, &[1, 0]);
    let dh = b.bin(Opcode::Matmul, dy, w2t);
    let pos = b.bin(Opcode::Greater, hp, zero);
    let dhp = b.op(Opcode::Select, &[pos, dh, zero], Attrs::new());
    let xt = b.transpose(x, &[1, 0]);
    let dw1 = b.bin(Opcode::Matmul, xt, dhp);
    let db1 = b.reduce(Opcode::ReduceSum, dhp, &[0], false);
    // update
    let upd = |b: &mut B, w: Value, g: Value, shape: &[i64]| {
        let l = lr(b, shape);
        let s = b.bin(Opcode::Multiply, g, l);
        b.bin(Opcode::Subtract, w, s)
    };
    let nw1 = upd(&mut b, w1, dw1, &[din, hid]);
    let nb1 = upd(&mut b, b1, db1, &[hid]);
    let nw2 = upd(&mut b, w2, dw2, &[hid, dout]);
    let nb2 = upd(&mut b, b2, db2, &[dout]);
    b.done(&[nw1, nb1, nw2, nb2, loss])
}

#[test]
fn mlp_training_step() {
    let f = mlp_step(4, 5, 8, 3);
    let p = compiled(&f);
    let st = p.stats();
    // Five gemms (two forward, three backward); the weight updates are gemm
    // epilogues; the bias gradients and updates are one row kernel each.
    assert_eq!(st.library_calls, 5, "{}", print_program(&p));
    assert!(
        st.kernels <= 5,
        "{} kernels\n{}",
        st.kernels,
        print_program(&p)
    );
    let unfused = lower_unfused(&f).unwrap().stats();
    assert!(st.bytes_moved < unfused.bytes_moved);
    assert!(st.kernels + st.library_calls < unfused.kernels + unfused.library_calls);
}

#[test]
fn hand_written_attention_through_the_pipeline() {
    let mut b = B::new(&[&[2, 6, 4], &[2, 6, 4], &[2, 6, 4]]);
    let (q, k, v) = (b.p(0), b.p(1), b.p(2));
    let kt = b.transpose(k, &[0, 2, 1]);
    let s = b.bin(Opcode::Matmul, q, kt);
    let c = b.full(2.0, &[2, 6, 6]);
    let s = b.bin(Opcode::Divide, s, c);
    let pr = softmax_by_hand(&mut b, s, &[2, 6, 6]);
    let o = b.bin(Opcode::Matmul, pr, v);
    let f = b.done(&[o]);
    let p = compiled(&f);
    let st = p.stats();
    // The e-graph turns /2 into *0.5 and the softmax into tensor.softmax:
    // matmul (scale epilogue), one two-pass softmax kernel, matmul.
    assert_eq!(
        (st.kernels, st.library_calls, st.passes),
        (1, 2, 4),
        "{}",
        print_program(&p)
    );
}

#[test]
fn log_softmax_through_the_pipeline() {
    let mut b = B::new(&[&[3, 10]]);
    let x = b.p(0);
    let s = b.op(
        Opcode::Softmax,
        &[x],
        Attrs::new().with("axes", Attr::Ints(vec![1])),
    );
    let l = b.un(Opcode::Log, s);
    let f = b.done(&[l]);
    let p = compiled(&f);
    assert_eq!(
        (p.stats().kernels, p.stats().passes),
        (1, 2),
        "{}",
        print_program(&p)
    );
}

#[test]
fn layer_norm_and_gelu_through_the_pipeline() {
    let mut b = B::new(&[&[6, 10], &[10], &[10]]);
    let (x, w, bias) = (b.p(0), b.p(1), b.p(2));
    let y = layer_norm(&mut b, x, w, bias, &[6, 10]);
    let y = gelu(&mut b, y, &[6, 10]);
    let f = b.done(&[y]);
    let p = compiled(&f);
    assert_eq!(
        (p.stats().kernels, p.stats().passes),
        (1, 2),
        "{}",
        print_program(&p)
    );
}

#[test]
#[ignore]
fn show_mlp() {
    let (p, rep) = compile(&mlp_step(4, 5, 8, 3), &CompileOptions::default()).unwrap();
    println!("{}\n{}", print_program(&p), rep.to_json());
}

#[test]
fn compiling_is_deterministic() {
    let f = mlp_step(4, 5, 8, 3);
    let texts: Vec<String> = (0..4)
        .map(|_| {
            let (p, rep) = compile(&f, &CompileOptions::default()).unwrap();
            // Timings differ between runs; everything else must not.
            let json = rep.to_json();
            let json: String = json
                .split("\"seconds\": ")
                .map(|s| s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.'))
                .collect();
            format!("{}{}", print_program(&p), json)
        })
        .collect();
    for w in texts.windows(2) {
        if w[0] != w[1] {
            let (a, b): (Vec<_>, Vec<_>) = (w[0].lines().collect(), w[1].lines().collect());
            let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
            panic!(
                "differ at line {i}:\n{}\n{}",
                a.get(i).unwrap_or(&""),
                b.get(i).unwrap_or(&"")
            );
        }
    }
}
