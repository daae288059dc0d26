//! Robustness: any op applied to random operands and attributes returns a
//! result or an error message, never a panic.

use proptest::prelude::*;
use psionic_ir::{Attr, AttrKind, Attrs, DType, Literal, Opcode, OP_DEFS};
use psionic_runtime::interp::eval_op;

fn literal(dt: DType, shape: Vec<usize>, seed: u64) -> Literal {
    let n: usize = shape.iter().product();
    let vals: Vec<i64> = (0..n as u64)
        .map(|i| ((i.wrapping_mul(0x9E37_79B9) ^ seed) % 7) as i64 - 3)
        .collect();
    Literal::from_i64(dt, shape, &vals).expect("valid literal")
}

fn attr_for(kind: AttrKind, pick: &[i64], dt: DType, seed: u64) -> Attr {
    let k = pick[0];
    match kind {
        AttrKind::Bool => Attr::Bool(k % 2 == 0),
        AttrKind::Int => Attr::Int(k),
        AttrKind::Float => Attr::Float(k as f64 * 0.5),
        AttrKind::Ints => Attr::Ints(pick[1..(1 + (k.unsigned_abs() as usize % 4))].to_vec()),
        AttrKind::Str => Attr::Str(
            ["none", "sum", "prod", "max", "min", "bogus"][k.unsigned_abs() as usize % 6].into(),
        ),
        AttrKind::DType => Attr::DType(dt),
        AttrKind::Dense => Attr::Dense(literal(dt, vec![2], seed)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn eval_op_never_panics(
        op_i in 0usize..OP_DEFS.len(),
        dts in prop::collection::vec(0usize..DType::ALL.len(), 4),
        shapes in prop::collection::vec(prop::collection::vec(0usize..4, 0..4), 4),
        nops in 0usize..5,
        picks in prop::collection::vec(prop::collection::vec(-2i64..5, 5), 6),
        same in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let def = &OP_DEFS[op_i];
        let opcode: Opcode = def.opcode;
        let operands: Vec<Literal> = (0..nops)
            .map(|k| {
                // Often reuse operand 0's type so shape rules accept the op.
                let j = if same { 0 } else { k };
                literal(DType::ALL[dts[j]], shapes[j].clone(), seed ^ k as u64)
            })
            .collect();
        let mut attrs = Attrs::new();
        for (i, spec) in def.attrs.iter().enumerate() {
            attrs.set(spec.name, attr_for(spec.kind, &picks[i % picks.len()], DType::ALL[dts[1]], seed));
        }
        let refs: Vec<&Literal> = operands.iter().collect();
        let r = std::panic::catch_unwind(|| eval_op(opcode, &attrs, &refs));
        prop_assert!(r.is_ok(), "{} panicked on {:?} with {:?}", opcode, operands, attrs);
        // An op its shape rule accepts must be evaluated, not reported missing.
        if let Ok(Err(e)) = &r {
            prop_assert!(!e.contains("not implemented by the interpreter"), "{}", e);
        }
    }
}

fn ints_lit(v: &[i64]) -> Literal {
    Literal::from_i64(DType::I32, vec![v.len()], v).expect("valid literal")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Indexing and slicing ops with nearly valid attributes and indices
    /// (out of range, negative, repeated), so most reach the evaluator.
    #[test]
    fn indexing_ops_never_panic(
        shape in prop::collection::vec(1usize..4, 1..4),
        which in 0usize..9,
        idx in prop::collection::vec(-5i64..6, 1..5),
        p in prop::collection::vec(-1i64..4, 8),
        seed in any::<u64>(),
    ) {
        use Opcode::*;
        let r = shape.len();
        let x = literal(DType::F32, shape.clone(), seed);
        let ax = (p[0].rem_euclid(r as i64)) as usize;
        let sizes: Vec<i64> = shape.iter().enumerate().map(|(i, &d)| p[1 + i % 6].clamp(0, d as i64)).collect();
        let ones: Vec<i64> = shape.iter().enumerate().map(|(i, &d)| if i == ax { 1 } else { d as i64 }).collect();
        let il = ints_lit(&idx);
        let (opcode, attrs, operands): (Opcode, Attrs, Vec<Literal>) = match which {
            0 => (Gather, Attrs::new().with("axes", Attr::Ints(vec![ax as i64])).with("slice_sizes", Attr::Ints(ones.clone())), vec![x, il]),
            1 => {
                let mut us = vec![idx.len()];
                us.extend(ones.iter().map(|&d| d as usize));
                let upd = literal(DType::F32, us, seed);
                let red = ["none", "sum", "prod", "max", "min"][p[7].unsigned_abs() as usize % 5];
                (Scatter, Attrs::new().with("axes", Attr::Ints(vec![ax as i64])).with("reduce", Attr::Str(red.into())), vec![x, il, upd])
            }
            2 | 3 => {
                let mut is = shape.clone();
                is[ax] = idx.len();
                let n: usize = is.iter().product();
                let iv: Vec<i64> = (0..n).map(|k| idx[k % idx.len()]).collect();
                let ilit = Literal::from_i64(DType::I64, is.clone(), &iv).expect("valid");
                if which == 2 {
                    (TakeAlongAxis, Attrs::new().with("axis", Attr::Int(ax as i64)), vec![x, ilit])
                } else {
                    let upd = literal(DType::F32, is, seed);
                    (ScatterAxis, Attrs::new().with("axis", Attr::Int(ax as i64)).with("reduce", Attr::Str("sum".into())), vec![x, ilit, upd])
                }
            }
            4 => {
                let starts = ints_lit(&idx[..1]);
                (DynamicSlice, Attrs::new().with("axes", Attr::Ints(vec![ax as i64])).with("sizes", Attr::Ints(sizes.clone())), vec![x, starts])
            }
            5 => {
                let upd = literal(DType::F32, sizes.iter().map(|&d| d as usize).collect(), seed);
                let starts = ints_lit(&idx[..1]);
                (DynamicSliceUpdate, Attrs::new().with("axes", Attr::Ints(vec![ax as i64])), vec![x, upd, starts])
            }
            6 | 7 => {
                let start: Vec<i64> = shape.iter().enumerate().map(|(i, &d)| p[i].min(d as i64)).collect();
                let stop: Vec<i64> = shape.iter().enumerate().map(|(i, &d)| p[7 - i].min(d as i64)).collect();
                let strides: Vec<i64> = (0..r).map(|i| if p[2 + i] <= 0 { -1 } else { p[2 + i] }).collect();
                let a = Attrs::new().with("start", Attr::Ints(start.clone())).with("stop", Attr::Ints(stop.clone())).with("strides", Attr::Ints(strides.clone()));
                if which == 6 {
                    (Slice, a, vec![x])
                } else {
                    let len: Vec<usize> = (0..r).map(|i| psionic_ir::infer::slice_len(shape[i] as i64, start[i], stop[i], strides[i]).unwrap_or(0).max(0) as usize).collect();
                    let upd = literal(DType::F32, len, seed);
                    (SliceUpdate, a.with("reduce", Attr::Str("max".into())), vec![x, upd])
                }
            }
            _ => {
                let low: Vec<i64> = (0..r).map(|i| p[i]).collect();
                let high: Vec<i64> = (0..r).map(|i| p[7 - i]).collect();
                let v = literal(DType::F32, vec![], seed);
                (Pad, Attrs::new().with("low", Attr::Ints(low)).with("high", Attr::Ints(high)), vec![x, v])
            }
        };
        let refs: Vec<&Literal> = operands.iter().collect();
        let res = std::panic::catch_unwind(|| eval_op(opcode, &attrs, &refs));
        prop_assert!(res.is_ok(), "{} panicked on {:?} with {:?}", opcode, operands, attrs);
    }
}
