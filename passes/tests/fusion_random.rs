//! Randomized programs: the unfused, e-graph-simplified, fused and
//! buffer-planned forms interpret to the numbers the tensor-level reference
//! interpreter gives for the original.

mod fusion_common;
use fusion_common::*;
use proptest::prelude::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::{Attr, Attrs, DType, Func, Opcode, Value};
use psionic_passes::bufplan::plan;
use psionic_passes::egraph::{simplify, EgraphOptions};
use psionic_passes::fusion::{fuse, lower_unfused};

/// Builds a program over params x: [r, c], y: [r, c], w: [c, c], from a list
/// of (instruction, operand pick, operand pick) triples.
fn build(r: i64, c: i64, prog: &[(u8, usize, usize)], extra_result: bool) -> Func {
    let s = [r, c];
    let mut b = B::new(&[&s, &s, &[c, c]]);
    let mut pool: Vec<Value> = vec![b.p(0), b.p(1)];
    let w = b.p(2);
    for &(code, i, j) in prog {
        let x = pool[pool.len() - 1 - i % pool.len()];
        let y = pool[pool.len() - 1 - j % pool.len()];
        let v = match code % 25 {
            0 => b.un(Opcode::Tanh, x),
            1 => b.un(Opcode::Sin, x),
            2 => b.un(Opcode::Sigmoid, x),
            3 => {
                let t = b.un(Opcode::Tanh, x);
                b.un(Opcode::Exp, t)
            }
            4 => b.bin(Opcode::Add, x, y),
            5 => b.bin(Opcode::Subtract, x, y),
            6 => b.bin(Opcode::Multiply, x, y),
            7 => b.bin(Opcode::Maximum, x, y),
            8 => {
                let k = b.full(4.0, &s);
                b.bin(Opcode::Divide, x, k)
            }
            9 => {
                let m = b.reduce(Opcode::ReduceSum, x, &[1], true);
                let mb = b.bcast(m, &s);
                b.bin(Opcode::Subtract, x, mb)
            }
            10 => {
                let m = b.reduce(Opcode::ReduceMax, x, &[0], false);
                let mb = b.bcast(m, &s);
                b.bin(Opcode::Add, y, mb)
            }
            11 => b.op(
                Opcode::Softmax,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            ),
            12 => softmax_by_hand(&mut b, x, &s),
            13 => {
                let t = b.transpose(x, &[1, 0]);
                let t = b.un(Opcode::Negative, t);
                b.transpose(t, &[1, 0])
            }
            14 => b.bin(Opcode::Matmul, x, w),
            15 => {
                let t = b.op(
                    Opcode::Reshape,
                    &[x],
                    Attrs::new().with("shape", Attr::Ints(vec![c, r])),
                );
                let t = b.un(Opcode::Abs, t);
                b.op(
                    Opcode::Reshape,
                    &[t],
                    Attrs::new().with("shape", Attr::Ints(vec![r, c])),
                )
            }
            16 => {
                let z = b.full(0.0, &s);
                b.bin(Opcode::Add, x, z)
            }
            17 => {
                let e = b.un(Opcode::Exp, x);
                let l = b.un(Opcode::Log, e);
                b.un(Opcode::Tanh, l)
            }
            18 => {
                let wv = b.reduce(Opcode::ReduceSum, w, &[0], false);
                let wb = b.bcast(wv, &s);
                b.bin(Opcode::Multiply, x, wb)
            }
            20 => b.op(Opcode::Sort, &[x], Attrs::new().with("axis", Attr::Int(1))),
            21 => b.op(
                Opcode::Cumsum,
                &[x],
                Attrs::new().with("axis", Attr::Int(0)),
            ),
            22 => {
                let cat = b.op(
                    Opcode::Concatenate,
                    &[x, y],
                    Attrs::new().with("axis", Attr::Int(1)),
                );
                let e = b.un(Opcode::Tanh, cat);
                b.op(
                    Opcode::Slice,
                    &[e],
                    Attrs::new()
                        .with("start", Attr::Ints(vec![0, c]))
                        .with("stop", Attr::Ints(vec![r, 2 * c]))
                        .with("strides", Attr::Ints(vec![1, 1])),
                )
            }
            // take_along_axis(y, idx, 1) with idx = (floor(3x) mod c) - c,
            // negative indices that wrap.
            23 => {
                let idx = wrapped_index(&mut b, x, &s, c);
                b.op(
                    Opcode::TakeAlongAxis,
                    &[y, idx],
                    Attrs::new().with("axis", Attr::Int(1)),
                )
            }
            // Rows of y picked by the first column of x: gather with a slice.
            24 => {
                let col = b.op(
                    Opcode::Slice,
                    &[x],
                    Attrs::new()
                        .with("start", Attr::Ints(vec![0, 0]))
                        .with("stop", Attr::Ints(vec![r, 1]))
                        .with("strides", Attr::Ints(vec![1, 1])),
                );
                let col = b.op(
                    Opcode::Reshape,
                    &[col],
                    Attrs::new().with("shape", Attr::Ints(vec![r])),
                );
                let idx = wrapped_index(&mut b, col, &[r], r);
                let g = b.op(
                    Opcode::Gather,
                    &[y, idx],
                    Attrs::new()
                        .with("axes", Attr::Ints(vec![0]))
                        .with("slice_sizes", Attr::Ints(vec![1, c])),
                );
                let g = b.op(
                    Opcode::Reshape,
                    &[g],
                    Attrs::new().with("shape", Attr::Ints(vec![r, c])),
                );
                b.un(Opcode::Sin, g)
            }
            _ => {
                let s1 = b.reduce(Opcode::ReduceSum, x, &[0, 1], false);
                let sb = b.bcast(s1, &s);
                let sb = b.un(Opcode::Tanh, sb);
                b.bin(Opcode::Multiply, y, sb)
            }
        };
        pool.push(v);
    }
    let last = *pool.last().unwrap();
    let mut results = vec![last];
    if extra_result && pool.len() > 3 {
        results.push(pool[pool.len() / 2]);
    }
    b.done(&results)
}

/// `(floor(3 v) mod n) - n` as i32: indices in `-n..0` computed from `v`.
fn wrapped_index(b: &mut B, v: Value, shape: &[i64], n: i64) -> Value {
    let i32_full = |b: &mut B, k: i64| {
        b.op(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(k as f64))
                .with("shape", Attr::Ints(shape.to_vec()))
                .with("dtype", Attr::DType(DType::I32)),
        )
    };
    let three = b.full(3.0, shape);
    let t = b.bin(Opcode::Multiply, v, three);
    let t = b.un(Opcode::Floor, t);
    let t = b.op(
        Opcode::Cast,
        &[t],
        Attrs::new().with("dtype", Attr::DType(DType::I32)),
    );
    let nn = i32_full(b, n);
    let m = b.bin(Opcode::Remainder, t, nn);
    b.bin(Opcode::Subtract, m, nn)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn optimized_and_fused_programs_match_the_original(
        r in 1i64..5,
        c in 1i64..6,
        prog in prop::collection::vec((0u8..25, 0usize..8, 0usize..8), 1..16),
        extra in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let f = build(r, c, &prog, extra);
        let args = random_args(&f, seed);
        let reference = oracle(&f, &args);
        assert_close(&run(&lower_unfused(&f).unwrap(), &args), &reference, 1e-5);

        let fused = fuse(&f).unwrap();
        check_text(&fused);
        assert_close(&run(&fused, &args), &reference, 1e-5);

        let (g, _) = simplify(&f, &EgraphOptions::default()).unwrap();
        let mut opt = fuse(&g).unwrap();
        let text = print_program(&opt);
        let got = run(&opt, &args);
        assert_close(&got, &reference, 2e-4);
        prop_assert!(opt.stats().passes <= lower_unfused(&f).unwrap().stats().passes, "{}", text);

        let rep = plan(&mut opt);
        check_text(&opt);
        prop_assert!(rep.peak_bytes <= rep.unplanned_bytes);
        assert_close(&run(&opt, &args), &got, 0.0);
    }
}
