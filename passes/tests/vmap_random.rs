//! vmap against the definition: on random programs built from the op table,
//! with random in_axes (some inputs unbatched) and out_axes, the batched
//! function equals running the function on each batch element and stacking.
//! Checked with a known batch size and with a symbolic one (where the rules
//! need no size).

mod autodiff_support;

use autodiff_support::*;
use proptest::prelude::*;
use psionic_ir::{Attr, Attrs, Func, Literal, Opcode};
use psionic_passes::vmap::{vmap, vmap_with_size};
use rand::Rng;

const B: usize = 3;

fn check_vmap(f: &Func, seed: u64) {
    let mut r = rng(seed ^ 0xbead);
    let np = f.params.len();
    let mut in_axes: Vec<Option<i64>> = Vec::new();
    for (i, t) in f.param_types().iter().enumerate() {
        if i > 0 && r.gen_bool(0.3) {
            in_axes.push(None);
        } else {
            let a = r.gen_range(0..=t.rank()) as i64;
            // Negative axes are accepted too.
            in_axes.push(Some(if r.gen_bool(0.3) {
                a - t.rank() as i64 - 1
            } else {
                a
            }));
        }
    }
    let out_axes: Vec<i64> = f
        .result_types()
        .iter()
        .map(|t| r.gen_range(0..=t.rank()) as i64)
        .collect();
    // Per-example inputs.
    let per: Vec<Vec<Literal>> = (0..B).map(|_| rand_inputs(&mut r, f)).collect();
    let fixed = rand_inputs(&mut r, f);
    let mut batched_in = Vec::new();
    let mut examples: Vec<Vec<Literal>> = vec![Vec::new(); B];
    for i in 0..np {
        match in_axes[i] {
            Some(a) => {
                let rank = f.param_types()[i].rank() as i64;
                let a = if a < 0 { a + rank + 1 } else { a } as usize;
                let xs: Vec<Literal> = (0..B).map(|b| per[b][i].clone()).collect();
                batched_in.push(stack(&xs, a));
                for (b, e) in examples.iter_mut().enumerate() {
                    e.push(per[b][i].clone());
                }
            }
            None => {
                batched_in.push(fixed[i].clone());
                for e in examples.iter_mut() {
                    e.push(fixed[i].clone());
                }
            }
        }
    }
    let outs: Vec<Vec<Literal>> = examples.iter().map(|e| run(f, e)).collect();
    let want: Vec<Literal> = (0..f.results.len())
        .map(|j| {
            let xs: Vec<Literal> = outs.iter().map(|o| o[j].clone()).collect();
            stack(&xs, out_axes[j] as usize)
        })
        .collect();
    let v = vmap_with_size(f, &in_axes, &out_axes, Some(B as i64))
        .unwrap_or_else(|e| panic!("vmap failed: {e}\n{}", describe(f)));
    let got = run(&v, &batched_in);
    for j in 0..want.len() {
        assert_close(
            &got[j],
            &want[j],
            1e-12,
            1e-12,
            &format!(
                "vmap output {j}, in_axes {in_axes:?}\n{}\nvmap:\n{}",
                describe(f),
                describe(&v)
            ),
        );
    }
    match vmap(f, &in_axes, &out_axes) {
        Ok(v) => {
            let got = run(&v, &batched_in);
            for j in 0..want.len() {
                assert_close(
                    &got[j],
                    &want[j],
                    1e-12,
                    1e-12,
                    &format!("symbolic-size vmap\n{}", describe(&v)),
                );
            }
        }
        Err(e) => assert!(
            e.message.contains("batch size"),
            "symbolic-size vmap failed for another reason: {e}"
        ),
    }
}

fn all_ops() -> Vec<Opcode> {
    Opcode::all()
        .filter(|&o| !non_differentiable(o) && o != Opcode::StopGradient)
        .collect()
}

#[test]
fn each_op_alone() {
    for (i, op) in all_ops().into_iter().enumerate() {
        for s in 0..4u64 {
            let seed = 1000 * i as u64 + s;
            let mut r = rng(seed);
            let f = random_program(&mut r, Some(op), 1);
            check_vmap(&f, seed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    #[test]
    fn random_chains(seed in any::<u64>(), chain in 1usize..=3) {
        let mut r = rng(seed);
        let ops = all_ops();
        let first = ops[(seed % ops.len() as u64) as usize];
        let f = random_program(&mut r, Some(first), chain);
        check_vmap(&f, seed);
    }
}

/// Integer, bool and index-producing ops batch too.
#[test]
fn non_float_ops() {
    let mut r = rng(3);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[3, 4]);
    let y = g.param(&[3, 4]);
    let c = g.bin(Opcode::Less, x, y);
    let n = g.un(Opcode::LogicalNot, c);
    let a = g.op(
        Opcode::Argmax,
        &[x],
        Attrs::new().with("axis", Attr::Int(1)),
    );
    let s = g.op(
        Opcode::Argsort,
        &[y],
        Attrs::new().with("axis", Attr::Int(0)),
    );
    let i = g.op(
        Opcode::Cast,
        &[x],
        Attrs::new().with("dtype", Attr::DType(psionic_ir::DType::I32)),
    );
    let any = g.op(
        Opcode::ReduceAny,
        &[n],
        Attrs::new().with("axes", a_ints(&[0])),
    );
    g.f.results = vec![n, a, s, i, any];
    let f = g.f;
    check_vmap(&f, 11);
}

/// vmap of matmul is one batched matmul, vmap of a reduction a reduction
/// over a shifted axis: no per-lane ops.
#[test]
fn batched_ops_not_loops() {
    let mut r = rng(5);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[2, 3]);
    let w = g.param(&[3, 4]);
    let m = g.bin(Opcode::Matmul, x, w);
    let s = g.op(
        Opcode::ReduceSum,
        &[m],
        Attrs::new().with("axes", a_ints(&[1])),
    );
    g.f.results = vec![s];
    let f = g.f;
    let v = vmap(&f, &[Some(0), None], &[0]).unwrap();
    let counts = v.op_counts();
    assert!(counts.contains(&("tensor.matmul", 1)), "{counts:?}");
    let red: Vec<_> = v
        .ops
        .iter()
        .filter(|o| o.opcode == Opcode::ReduceSum)
        .collect();
    assert_eq!(red.len(), 1);
    assert_eq!(red[0].attrs.ints("axes").unwrap(), &[2]);
    // A batched input on axis 1 of x: the reduction axis moves with it.
    let v = vmap(&f, &[Some(2), None], &[0]).unwrap();
    assert_eq!(
        v.op_counts()
            .iter()
            .filter(|(n, _)| *n == "tensor.matmul")
            .count(),
        1
    );
    check_vmap(&f, 9);
}

#[test]
fn bad_axes_are_errors() {
    let mut r = rng(1);
    let mut g = Gen::new(&mut r);
    let x = g.param(&[2, 3]);
    let e = g.un(Opcode::Exp, x);
    g.f.results = vec![e];
    let f = g.f;
    let err = vmap(&f, &[Some(3)], &[0]).unwrap_err();
    assert!(err.message.contains("out of range"), "{err}");
    let err = vmap(&f, &[None], &[0]).unwrap_err();
    assert!(err.message.contains("at least one input"), "{err}");
    let err = vmap(&f, &[Some(0), None], &[0]).unwrap_err();
    assert!(err.message.contains("in_axes"), "{err}");
    assert!(vmap(&f, &[Some(-3)], &[-1]).is_ok());
}
