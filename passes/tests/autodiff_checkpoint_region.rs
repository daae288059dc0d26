//! Checkpointed regions inside a larger function: the vjp equals the vjp
//! without the markers, and its backward part recomputes the region from
//! copies of the region's inputs instead of reading the forward activations.

mod autodiff_support;

use autodiff_support::{assert_close, rng, run, F};
use psionic_ir::{Attrs, Func, Literal, Opcode, TensorType, Value};
use psionic_passes::autodiff::custom::{find_regions, mark_region};
use psionic_passes::autodiff::{grad, vjp};
use rand::Rng;

/// `sum(g(x * w))` with `g(a) = exp(sin a) * sin a`, optionally checkpointed.
fn build(marked: bool, n: i64) -> Func {
    let t = TensorType::new(F, vec![n]);
    let mut f = Func::new("f", vec![t.clone(), t]);
    let (x, w) = (f.params[0], f.params[1]);
    let a = f.push1(Opcode::Multiply, &[x, w], Attrs::new()).unwrap();
    let body = |f: &mut Func, ins: &[Value]| {
        let s = f.push1(Opcode::Sin, &[ins[0]], Attrs::new())?;
        let e = f.push1(Opcode::Exp, &[s], Attrs::new())?;
        let m = f.push1(Opcode::Multiply, &[e, s], Attrs::new())?;
        Ok(vec![m])
    };
    let out = if marked {
        mark_region(&mut f, &[a], body).unwrap()
    } else {
        body(&mut f, &[a]).unwrap()
    };
    let r = f
        .push1(
            Opcode::ReduceSum,
            &[out[0]],
            Attrs::new().with("axes", psionic_ir::Attr::Ints(vec![0])),
        )
        .unwrap();
    f.results = vec![r];
    f
}

#[test]
fn regions_are_found() {
    let f = build(true, 4);
    let regions = find_regions(&f.ops);
    assert_eq!(regions.len(), 1);
    // sin, exp, multiply.
    assert_eq!(regions[0].ops.len(), 3);
    assert!(find_regions(&build(false, 4).ops).is_empty());
}

#[test]
fn checkpointed_region_recomputes_and_matches() {
    for seed in 0..10u64 {
        let mut r = rng(seed);
        let n = r.gen_range(1..=6);
        let plain = build(false, n);
        let marked = build(true, n);
        let lit = |r: &mut rand::rngs::StdRng| {
            let v: Vec<f64> = (0..n).map(|_| r.gen_range(-2.0..2.0)).collect();
            Literal::from_f64(F, vec![n as usize], &v).unwrap()
        };
        let (x, w) = (lit(&mut r), lit(&mut r));
        let ct = Literal::from_f64(F, vec![], &[1.5]).unwrap();
        let a = run(
            &vjp(&plain, &[0, 1]).unwrap(),
            &[x.clone(), w.clone(), ct.clone()],
        );
        let v = vjp(&marked, &[0, 1]).unwrap();
        let b = run(&v, &[x.clone(), w.clone(), ct]);
        for k in 0..3 {
            assert_close(&b[k], &a[k], 1e-12, 1e-12, "checkpointed vjp");
        }
        // The region runs twice: forward, and replayed for the backward.
        let count = |op| v.ops.iter().filter(|o| o.opcode == op).count();
        assert_eq!(count(Opcode::Sin), 2);
        assert_eq!(count(Opcode::Exp), 2);
        assert!(count(Opcode::Copy) >= 1);
        // The forward sin is read only by the forward region (exp, multiply):
        // the backward rules (cos, ...) read the replayed one.
        let sins: Vec<Value> = v
            .ops
            .iter()
            .filter(|o| o.opcode == Opcode::Sin)
            .map(|o| o.results[0])
            .collect();
        let users = |val: Value| -> Vec<Opcode> {
            v.ops
                .iter()
                .filter(|o| o.operands.contains(&val))
                .map(|o| o.opcode)
                .collect()
        };
        let first = users(sins[0]);
        assert!(
            first
                .iter()
                .all(|&o| matches!(o, Opcode::Exp | Opcode::Multiply)),
            "the forward activation is read by {first:?}"
        );
        let cos_inputs: Vec<Value> = v
            .ops
            .iter()
            .filter(|o| o.opcode == Opcode::Cos)
            .map(|o| o.operands[0])
            .collect();
        let copies: Vec<Value> = v
            .ops
            .iter()
            .filter(|o| o.opcode == Opcode::Copy)
            .map(|o| o.results[0])
            .collect();
        assert!(
            cos_inputs.iter().all(|c| copies.contains(c)),
            "cos reads a forward value"
        );
        // Higher order through the region works too.
        let g = grad(&marked, &[0]).unwrap();
        let h = grad(&plain, &[0]).unwrap();
        let (ga, ha) = (run(&g, &[x.clone(), w.clone()]), run(&h, &[x, w]));
        assert_close(&ga[0], &ha[0], 1e-12, 1e-12, "grad");
    }
}
