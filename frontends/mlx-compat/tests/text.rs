//! Traced programs printed as text, parsed back and verified interpret to
//! the same numbers as the trace itself and as eager evaluation.
//! Programs are random sequences of MLX ops (proptest), plus the MLP.

use proptest::prelude::*;
use psionic_ir::text::{parse_func, print_func};
use psionic_ir::verify::verify_func;
use psionic_ir::{Func, Literal};
use psionic_mlx::*;
use psionic_runtime::interp::run_func;

/// One step of a random program: an op applied to arrays of the pool.
#[derive(Clone, Debug)]
enum Step {
    Binary(u8, usize, usize),
    Unary(u8, usize),
    Reduce(u8, usize, i32, bool),
    Layout(u8, usize),
    Scalar(u8, usize, f32),
    Where(usize, usize, usize),
    Concat(usize, usize, i32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..6, 0usize..64, 0usize..64).prop_map(|(o, a, b)| Step::Binary(o, a, b)),
        (0u8..8, 0usize..64).prop_map(|(o, a)| Step::Unary(o, a)),
        (0u8..6, 0usize..64, -2i32..2, proptest::bool::ANY)
            .prop_map(|(o, a, x, k)| Step::Reduce(o, a, x, k)),
        (0u8..6, 0usize..64).prop_map(|(o, a)| Step::Layout(o, a)),
        (0u8..4, 0usize..64, -3.0f32..3.0).prop_map(|(o, a, s)| Step::Scalar(o, a, s)),
        (0usize..64, 0usize..64, 0usize..64).prop_map(|(c, a, b)| Step::Where(c, a, b)),
        (0usize..64, 0usize..64, -2i32..2).prop_map(|(a, b, x)| Step::Concat(a, b, x)),
    ]
}

/// Runs `steps` on `inputs`, skipping steps whose operands do not fit
/// (their `try_` form returns an error: that must never panic).
fn program(inputs: &[Array], steps: &[Step]) -> Vec<Array> {
    let mut pool: Vec<Array> = inputs.to_vec();
    for s in steps {
        let pick = |i: usize| pool[i % pool.len()].clone();
        let r = match s {
            Step::Binary(o, a, b) => {
                let (a, b) = (pick(*a), pick(*b));
                match o {
                    0 => try_add(&a, &b),
                    1 => try_subtract(&a, &b),
                    2 => try_multiply(&a, &b),
                    3 => try_maximum(&a, &b),
                    4 => try_greater(&a, &b),
                    _ => try_logaddexp(&a, &b),
                }
            }
            Step::Unary(o, a) => {
                let a = pick(*a);
                match o {
                    0 => try_tanh(&a),
                    1 => try_negative(&a),
                    2 => try_abs(&a),
                    3 => try_sigmoid(&a),
                    4 => try_square(&a),
                    5 => try_astype(&a, DType::F16),
                    6 => try_floor(&a),
                    _ => try_sin(&a),
                }
            }
            Step::Reduce(o, a, axis, keep) => {
                let a = pick(*a);
                match o {
                    0 => try_sum(&a, *axis, *keep),
                    1 => try_max(&a, *axis, *keep),
                    2 => try_mean(&a, *axis, *keep),
                    3 => try_softmax(&a, *axis, false),
                    4 => try_cumsum(&a, Some(*axis), *keep, true),
                    _ => try_logsumexp(&a, *axis, *keep),
                }
            }
            Step::Layout(o, a) => {
                let a = pick(*a);
                match o {
                    0 => try_transpose(&a),
                    1 => try_reshape(&a, &[-1]),
                    2 => try_expand_dims(&a, 0),
                    3 => try_flip(&a, -1),
                    4 => try_index(&a, &[Idx::slice(None, None, -2)]),
                    _ => try_sort(&a, Some(-1)),
                }
            }
            Step::Scalar(o, a, s) => {
                let a = pick(*a);
                match o {
                    0 => try_add(&a, *s),
                    1 => try_multiply(*s, &a),
                    2 => try_minimum(&a, *s),
                    _ => try_subtract(&a, *s as i32),
                }
            }
            Step::Where(c, a, b) => {
                let (c, a, b) = (pick(*c), pick(*a), pick(*b));
                try_greater(&c, 0.0).and_then(|m| try_where(&m, &a, &b))
            }
            Step::Concat(a, b, axis) => try_concatenate(&[pick(*a), pick(*b)], *axis),
        };
        if let Ok(r) = r {
            pool.push(r);
        }
    }
    // The last few arrays built are the outputs.
    let n = pool.len();
    pool[n.saturating_sub(3)..].to_vec()
}

fn same_bits(a: &[Literal], b: &[Literal]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn round_trip(f: &Func) -> Func {
    let text = print_func(f);
    let g = parse_func(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    verify_func(&g).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print_func(&g), text, "printing is stable");
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn traced_programs_round_trip_through_text(
        a in prop::collection::vec(-4.0f32..4.0, 6),
        b in prop::collection::vec(-4.0f32..4.0, 3),
        steps in prop::collection::vec(step(), 1..12),
    ) {
        let inputs = vec![array(&a, &[2, 3]), array(&b, &[3])];
        let types: Vec<TensorType> = inputs.iter().map(|x| x.ty().clone()).collect();
        let f = trace(|x| program(x, &steps), &types).unwrap();
        verify_func(&f).unwrap();
        let lits: Vec<Literal> = inputs.iter().map(|x| x.literal().unwrap()).collect();
        let traced = run_func(&f, &lits).unwrap();
        let parsed = run_func(&round_trip(&f), &lits).unwrap();
        prop_assert!(same_bits(&traced, &parsed));
        // Eager evaluation of the same program gives the same bits.
        let outs = program(&inputs, &steps);
        let refs: Vec<&Array> = outs.iter().collect();
        eval(&refs).unwrap();
        let eager: Vec<Literal> = outs.iter().map(|x| x.literal().unwrap()).collect();
        prop_assert!(same_bits(&traced, &eager));
    }
}

#[test]
fn mlp_trace_prints_parses_and_interprets_to_the_same_loss() {
    let x = array(&[0.5f32, -1.0, 2.0, 1.5, 0.25, -0.5], &[2, 3]);
    let w = linspace(-1.0, 1.0, 12, DType::F32).reshape(&[3, 4]);
    let labels = array(&[3i32, 0], &[2]);
    // Evaluated, the weight is captured as data; unevaluated, its graph
    // (linspace, reshape) would be traced instead.
    w.eval().unwrap();
    let f = trace(
        |p| {
            let z = tanh(&p[0].matmul(&w));
            let picked = take_along_axis(&z, &expand_dims(&p[1], -1), Some(-1)).squeeze(-1);
            vec![mean(&(logsumexp(&z, -1, false) - picked), Axes::All, false)]
        },
        &[x.ty().clone(), labels.ty().clone()],
    )
    .unwrap();
    // The captured weight is a constant in the text.
    let text = print_func(&f);
    assert!(text.contains("tensor.constant"), "{text}");
    assert!(text.contains("tensor.matmul"), "{text}");
    let lits = vec![x.literal().unwrap(), labels.literal().unwrap()];
    let a = run_func(&f, &lits).unwrap();
    let b = run_func(&round_trip(&f), &lits).unwrap();
    assert!(same_bits(&a, &b));
}
