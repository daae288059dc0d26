//! The e-graph stays within its bounds on large traces and says why it
//! stopped.

mod fusion_common;
use fusion_common::*;
use psionic_ir::{Attr, Attrs, Func, Opcode};
use psionic_passes::egraph::{simplify, EgraphOptions};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// A trace of `n` ops: random elementwise ops over a pool of live values,
/// with row reductions broadcast back, like an unrolled training loop.
fn big_trace(n: usize, seed: u64) -> Func {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut b = B::new(&[&[8, 16], &[8, 16], &[16]]);
    let w = b.p(2);
    let wb = b.bcast(w, &[8, 16]);
    let mut pool = vec![b.p(0), b.p(1), wb];
    while b.f.ops.len() < n {
        let pick = |rng: &mut rand::rngs::StdRng, pool: &Vec<_>| {
            pool[pool.len() - 1 - rng.gen_range(0..pool.len().min(6))]
        };
        let (x, y) = (pick(&mut rng, &pool), pick(&mut rng, &pool));
        let v = match rng.gen_range(0..10) {
            0 => b.bin(Opcode::Add, x, y),
            1 => b.bin(Opcode::Multiply, x, y),
            2 => b.bin(Opcode::Subtract, x, y),
            3 => b.un(Opcode::Tanh, x),
            4 => {
                let c = b.full(2.0, &[8, 16]);
                b.bin(Opcode::Divide, x, c)
            }
            5 => {
                let e = b.un(Opcode::Exp, x);
                b.un(Opcode::Log, e)
            }
            6 => {
                let s = b.reduce(Opcode::ReduceSum, x, &[1], true);
                b.bcast(s, &[8, 16])
            }
            7 => {
                let z = b.full(0.0, &[8, 16]);
                b.bin(Opcode::Add, x, z)
            }
            8 => {
                let t = b.transpose(x, &[1, 0]);
                b.transpose(t, &[1, 0])
            }
            _ => b.op(
                Opcode::Softmax,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            ),
        };
        pool.push(v);
    }
    let last = *pool.last().unwrap();
    b.done(&[last])
}

#[test]
fn ten_thousand_ops_stay_within_bounds() {
    let f = big_trace(10_000, 7);
    assert!(f.ops.len() >= 10_000);
    let o = EgraphOptions {
        node_limit: 60_000,
        time_limit: Duration::from_secs(4),
        iter_limit: 12,
        ..Default::default()
    };
    let start = Instant::now();
    let (g, st) = simplify(&f, &o).unwrap();
    let secs = start.elapsed().as_secs_f64();
    for p in &st.phases {
        assert!(
            ["saturated", "iteration limit", "node limit", "time limit"]
                .iter()
                .any(|r| p.stop_reason.starts_with(r)),
            "{p:?}"
        );
        // egg checks the node limit between rule applications: allow one
        // iteration's overshoot, never unbounded growth.
        assert!(p.nodes <= 2 * o.node_limit, "{p:?}");
        assert!(
            p.iterations <= o.iter_limit.max(o.ac_iter_limit) + 1,
            "{p:?}"
        );
    }
    assert!(secs < 3.0 * 4.0 + 20.0, "took {secs}s");
    // The identities in the trace (x + 0, log(exp(x)), double transposes) go away.
    assert!(
        g.ops.len() < f.ops.len(),
        "{} -> {}",
        f.ops.len(),
        g.ops.len()
    );
    assert!(st.cost_after <= st.cost_before);
    eprintln!(
        "{secs:.2}s, {} -> {} ops, phases {:?}",
        f.ops.len(),
        g.ops.len(),
        st.phases
            .iter()
            .map(|p| (&p.stop_reason, p.iterations, p.nodes))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_tight_node_limit_is_reported() {
    let f = big_trace(2_000, 3);
    let o = EgraphOptions {
        node_limit: 1_000,
        ac: false,
        ..Default::default()
    };
    let (_, st) = simplify(&f, &o).unwrap();
    assert!(
        st.phases[0].stop_reason.starts_with("node limit"),
        "{:?}",
        st.phases[0]
    );
}

#[test]
fn an_iteration_limit_is_reported() {
    let f = big_trace(300, 4);
    let o = EgraphOptions {
        iter_limit: 1,
        ac: false,
        ..Default::default()
    };
    let (_, st) = simplify(&f, &o).unwrap();
    assert_eq!(st.phases[0].stop_reason, "iteration limit 1");
}

#[test]
fn small_programs_saturate() {
    let f = big_trace(40, 5);
    let (_, st) = simplify(
        &f,
        &EgraphOptions {
            ac: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(st.phases[0].stop_reason, "saturated");
}

#[test]
fn the_whole_pipeline_handles_a_ten_thousand_op_trace() {
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    let f = big_trace(10_000, 11);
    let start = Instant::now();
    let (p, rep) = compile(&f, &CompileOptions::default()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    check_text(&p);
    eprintln!("{secs:.2}s: {}", rep.to_json());
    assert!(secs < 60.0, "took {secs}s");
    // Fusion and planning alone are checked against the oracle (the e-graph
    // legitimately turns some of this trace's overflows into finite values,
    // log(exp(x)) -> x, so its numbers are not the original's).
    let opts = CompileOptions {
        egraph: None,
        ..Default::default()
    };
    let (q, _) = compile(&f, &opts).unwrap();
    let args = random_args(&f, 1);
    assert_close(&run(&q, &args), &oracle(&f, &args), 1e-4);
}

#[test]
fn fusion_of_large_random_traces_matches_the_oracle() {
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    for seed in 20..32 {
        let f = big_trace(1_500, seed);
        let opts = CompileOptions {
            egraph: None,
            ..Default::default()
        };
        let (p, _) = compile(&f, &opts).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let args = random_args(&f, seed);
        assert_close(&run(&p, &args), &oracle(&f, &args), 1e-4);
        // The simplified program fuses too.
        let (g, _) =
            compile(&f, &CompileOptions::default()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        check_text(&g);
    }
}
