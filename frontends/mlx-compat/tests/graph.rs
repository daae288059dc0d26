//! Graph building and tracing: structure, types, promotion and errors.
//! None of these run the interpreter.

use psionic_ir::{Func, Opcode};
use psionic_mlx::*;
use std::time::Instant;

fn tt(dtype: DType, shape: &[i64]) -> TensorType {
    TensorType::new(dtype, shape.to_vec())
}

fn opcodes(f: &Func) -> Vec<Opcode> {
    f.ops.iter().map(|o| o.opcode).collect()
}

/// Builds an `n`-op chain of `negative` inside a trace; returns the op
/// count of the traced function and the seconds the whole trace took
/// (build, lowering, dropping the graph).
fn chain(n: usize) -> (usize, f64) {
    let start = Instant::now();
    let f = trace(
        |x| {
            let mut y = x[0].clone();
            for _ in 0..n {
                y = negative(&y);
            }
            vec![y]
        },
        &[tt(DType::F32, &[4])],
    )
    .unwrap();
    assert!(f.ops.iter().all(|o| o.opcode == Opcode::Negative));
    (f.ops.len(), start.elapsed().as_secs_f64())
}

#[test]
fn a_long_chain_traces_to_one_op_each() {
    const N: usize = 100_000;
    let (ops, secs) = chain(N);
    assert_eq!(ops, N);
    // Not a timing test (the cost per op is `benches/trace.rs`'s to
    // report): a guard against a builder that went quadratic, which at
    // 10^5 ops takes ~10^10 steps, minutes rather than the ~0.1 s a
    // linear one takes even in a debug build on a loaded machine.
    assert!(secs < 30.0, "tracing {N} ops took {secs}s");
}

#[test]
fn dropping_a_long_unevaluated_chain_does_not_overflow_the_stack() {
    let mut y = zeros(&[2], DType::F32);
    for _ in 0..200_000 {
        y = &y + 1.0;
    }
    assert_eq!(y.shape(), &[2]);
    drop(y);
}

#[test]
fn arrays_are_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Array>();
    let a = ones(&[3], DType::F32);
    let b = std::thread::spawn(move || &a * 2.0).join().unwrap();
    assert_eq!(b.dtype(), DType::F32);
}

#[test]
fn broadcasting_is_explicit() {
    let f = trace(
        |x| vec![add(&x[0], &x[1])],
        &[tt(DType::F32, &[2, 3]), tt(DType::F32, &[3])],
    )
    .unwrap();
    assert_eq!(opcodes(&f), [Opcode::Broadcast, Opcode::Add]);
    assert_eq!(f.result_types(), [tt(DType::F32, &[2, 3])]);
    // Both sides may need to stretch.
    let f = trace(
        |x| vec![multiply(&x[0], &x[1])],
        &[tt(DType::F32, &[3, 1]), tt(DType::F32, &[1, 4])],
    )
    .unwrap();
    assert_eq!(
        opcodes(&f),
        [Opcode::Broadcast, Opcode::Broadcast, Opcode::Multiply]
    );
    assert_eq!(f.result_types(), [tt(DType::F32, &[3, 4])]);
}

#[test]
fn promotion_inserts_casts() {
    let f = trace(
        |x| vec![add(&x[0], &x[1])],
        &[tt(DType::I32, &[2]), tt(DType::F16, &[2])],
    )
    .unwrap();
    assert_eq!(opcodes(&f), [Opcode::Cast, Opcode::Add]);
    assert_eq!(f.result_types(), [tt(DType::F16, &[2])]);
}

/// Result dtypes checked against MLX 0.32 (`python -c "import mlx.core as mx; ..."`).
#[test]
fn dtypes_match_mlx() {
    let b = array(&[true, false], &[2]);
    let i8_ = array(&[1i8, 2], &[2]);
    let u32_ = array(&[3u32, 4], &[2]);
    let i32_ = array(&[7i32, -7], &[2]);
    let f16_ = astype(&array(&[1.5f32, 2.5], &[2]), DType::F16);
    let bf16_ = astype(&array(&[1.0f32], &[1]), DType::BF16);
    let i64_ = array(&[1i64], &[1]);
    let cases: Vec<(&str, Array, DType)> = vec![
        ("b+1", &b + 1, DType::I32),
        ("b+1.0", &b + 1.0, DType::F32),
        ("b+True", add(&b, true), DType::Bool),
        ("i8+1", &i8_ + 1, DType::I8),
        ("i8+1.0", &i8_ + 1.0, DType::F32),
        ("f16*2.0", &f16_ * 2.0, DType::F16),
        ("f16*2", &f16_ * 2, DType::F16),
        ("u32-1", &u32_ - 1, DType::U32),
        ("u32+1.0", &u32_ + 1.0f32, DType::F32),
        ("i32/2", &i32_ / 2, DType::F32),
        ("i8/i8", &i8_ / &i8_, DType::F32),
        ("f16/2", &f16_ / 2, DType::F16),
        ("i32//2", floor_divide(&i32_, 2), DType::I32),
        ("i32%2", &i32_ % 2, DType::I32),
        ("i32**2", power(&i32_, 2), DType::I32),
        ("1.0-i32", 1.0 - &i32_, DType::F32),
        ("f16+bf16", &f16_ + &bf16_, DType::F32),
        ("i64+f16", &i64_ + &f16_, DType::F16),
        ("sum b", sum(&b, Axes::All, false), DType::I32),
        ("sum i8", sum(&i8_, Axes::All, false), DType::I32),
        ("sum u32", sum(&u32_, Axes::All, false), DType::U32),
        ("prod i8", prod(&i8_, Axes::All, false), DType::I32),
        ("mean i32", mean(&i32_, Axes::All, false), DType::F32),
        ("mean f16", mean(&f16_, Axes::All, false), DType::F16),
        ("cumsum b", cumsum(&b, None, false, true), DType::I32),
        ("cumsum i8", cumsum(&i8_, None, false, true), DType::I8),
        ("sqrt i32", sqrt(&i32_), DType::F32),
        ("floor i32", floor(&i32_), DType::I32),
        (
            "logsumexp i32",
            logsumexp(&i32_, Axes::All, false),
            DType::F32,
        ),
        ("softmax i32", softmax(&i32_, -1, false), DType::F32),
        ("logaddexp int", logaddexp(&i32_, &i32_), DType::F32),
        ("arctan2 int", arctan2(&i32_, &i32_), DType::F32),
        ("isnan int", isnan(&i32_), DType::Bool),
        ("maximum f16 1.0", maximum(&f16_, 1.0), DType::F16),
        ("where 1 2.0", r#where(&b, 1, 2.0), DType::F32),
        ("where f16 2.0", r#where(&b, &f16_, 2.0), DType::F16),
        ("where i8 2", r#where(&b, &i8_, 2), DType::I8),
        (
            "concat i8 f16",
            concatenate(&[i8_.clone(), f16_.clone()], 0),
            DType::F16,
        ),
        ("-u32", -&u32_, DType::U32),
        ("argmax", argmax(&i32_, None, false), DType::U32),
        ("argsort", argsort(&i32_, None), DType::U32),
        ("b*2.5", &b * 2.5, DType::F32),
        ("var f16", var(&f16_, Axes::All, false, 0), DType::F16),
        ("std i32", std(&i32_, Axes::All, false, 1), DType::F32),
        ("linspace", linspace(0.0, 1.0, 7, DType::F32), DType::F32),
        ("arange int", arange(0, 5, 1), DType::I32),
        ("eye", eye(2, 3, 1, DType::F32), DType::F32),
    ];
    for (name, a, want) in cases {
        assert!(a.error().is_none(), "{name}: {:?}", a.error());
        assert_eq!(a.dtype(), want, "{name}");
    }
}

/// Shapes checked against MLX 0.32.
#[test]
fn shapes_match_mlx() {
    let x = zeros(&[2, 3, 4], DType::F32);
    let m = zeros(&[2, 3], DType::F32);
    let cases: Vec<(&str, Array, Vec<i64>)> = vec![
        ("moveaxis", moveaxis(&x, 0, -1), vec![3, 4, 2]),
        ("swapaxes", swapaxes(&x, 0, 2), vec![4, 3, 2]),
        ("transpose", transpose(&x), vec![4, 3, 2]),
        ("expand", expand_dims(&m, [0, -1]), vec![1, 2, 3, 1]),
        ("flatten", flatten(&x, 1, 2), vec![2, 12]),
        (
            "unflatten",
            unflatten(&zeros(&[2, 12], DType::F32), 1, &[3, -1]),
            vec![2, 3, 4],
        ),
        (
            "squeeze",
            squeeze(&zeros(&[1, 2, 1], DType::F32), Axes::All),
            vec![2],
        ),
        (
            "slice rev",
            slice(&m, &[-1, 1], &[i32::MIN, i32::MAX], &[-1, 1]),
            vec![2, 2],
        ),
        ("stack", stack(&[m.clone(), m.clone()], 1), vec![2, 2, 3]),
        ("pad", pad(&m, &[(1, 0), (0, 2)], 9), vec![3, 5]),
        ("matmul 1d2d", matmul(&zeros(&[2], DType::F32), &m), vec![3]),
        (
            "matmul batch",
            matmul(
                &zeros(&[2, 1, 2, 3], DType::F32),
                &zeros(&[3, 3, 1], DType::F32),
            ),
            vec![2, 3, 2, 1],
        ),
        (
            "matmul vv",
            matmul(&zeros(&[3], DType::F32), &zeros(&[3], DType::F32)),
            vec![],
        ),
        (
            "take",
            take(&m, &array(&[0i32, 2, 1, -1], &[2, 2]), Some(1)),
            vec![2, 2, 2],
        ),
        (
            "take flat",
            take(&m, &array(&[0i32, 5], &[2]), None),
            vec![2],
        ),
        (
            "take_along",
            take_along_axis(&m, &array(&[0i32, 2], &[2, 1]), Some(1)),
            vec![2, 1],
        ),
        ("topk", topk(&zeros(&[8], DType::I32), 3, Some(-1)), vec![3]),
        ("sum keep", sum(&x, [0, -1], true), vec![1, 3, 1]),
        ("argmax keep none", argmax(&x, None, true), vec![1, 1, 1]),
        (
            "index",
            x.index(&[Idx::Int(1), Idx::NewAxis, Idx::Ellipsis, Idx::range(1, 3)]),
            vec![1, 3, 2],
        ),
        (
            "index array",
            x.index(&[
                Idx::full(),
                Idx::Array(array(&[0i32, 2, 1], &[3])),
                Idx::Int(-1),
            ]),
            vec![2, 3],
        ),
        ("tril", tril(&m, -1), vec![2, 3]),
        ("linspace", linspace(0.0, 1.0, 7, DType::F32), vec![7]),
        ("arange float", arange(0.0f32, 2.0, 0.3), vec![7]),
        ("arange 1.5", arange(0.0f32, 1.5, 1.0), vec![2]),
    ];
    for (name, a, want) in cases {
        assert!(a.error().is_none(), "{name}: {:?}", a.error());
        assert_eq!(a.shape(), &want[..], "{name}");
    }
    let parts = split(&arange(0, 6, 1), [1, 4], 0);
    let shapes: Vec<&[i64]> = parts.iter().map(|p| p.shape()).collect();
    assert_eq!(shapes, [&[1][..], &[3], &[2]]);
    let parts = split(&x, 2, 0);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].shape(), &[1, 3, 4]);
}

#[test]
fn weak_scalars_become_one_full_of_the_arrays_dtype() {
    let f = trace(|x| vec![&x[0] * 2.0], &[tt(DType::F16, &[2, 2])]).unwrap();
    assert_eq!(opcodes(&f), [Opcode::Full, Opcode::Multiply]);
    assert_eq!(f.result_types(), [tt(DType::F16, &[2, 2])]);
}

#[test]
fn errors_name_the_op_and_shapes_and_propagate() {
    let a = zeros(&[2, 3], DType::F32);
    let b = zeros(&[4], DType::F32);
    let e = try_add(&a, &b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "add: shapes [2,3] and [4] cannot be broadcast"
    );
    // The infallible form records it; later ops carry it to eval and trace.
    let c = (&a + &b).exp().sum(Axes::All, false);
    assert_eq!(c.error(), Some(&e));
    assert_eq!(c.to_vec::<f32>().unwrap_err(), e);
    let t = trace(|x| vec![&x[0] + &b], &[tt(DType::F32, &[2, 3])]).unwrap_err();
    assert_eq!(t, e);
    let e = try_matmul(&a, &a).unwrap_err();
    assert!(e.to_string().starts_with("matmul: last dimension"), "{e}");
    let e = try_matmul(&array(&[1i32, 2], &[1, 2]), &array(&[3i32, 4], &[2, 1])).unwrap_err();
    assert!(e.message.contains("floating point"), "{e}");
    let e = try_sum(&a, 2, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sum: axis 2 is out of bounds for an array of rank 2"
    );
    let e = try_reshape(&a, &[4]).unwrap_err();
    assert!(e.to_string().starts_with("reshape:"), "{e}");
    let e = try_add(array(&[1i8], &[1]), 1000).unwrap_err();
    assert_eq!(e.to_string(), "add: converting 1000 to i8 would overflow");
    let e = try_array(&[1.0f32, 2.0], &[3]).unwrap_err();
    assert_eq!(e.to_string(), "array: 2 values given for shape [3]");
    let e = try_split(&a, 4, 1).unwrap_err();
    assert!(e.message.contains("equal size"), "{e}");
    let e = try_negative(&array(&[true], &[1])).unwrap_err();
    assert!(e.to_string().starts_with("negative:"), "{e}");
}

#[test]
fn shared_subgraphs_are_emitted_once_and_outputs_may_be_inputs() {
    let f = trace(
        |x| {
            let e = exp(&x[0]);
            let y = &e + &e;
            vec![y.clone(), x[0].clone(), y]
        },
        &[tt(DType::F32, &[3])],
    )
    .unwrap();
    assert_eq!(opcodes(&f), [Opcode::Exp, Opcode::Add]);
    assert_eq!(f.results[1], f.params[0]);
    assert_eq!(f.results[0], f.results[2]);
}

#[test]
fn captured_arrays_become_constants() {
    let w = array(&[1.0f32, 2.0, 3.0], &[3]);
    let f = trace(|x| vec![&x[0] * &w + &w], &[tt(DType::F32, &[3])]).unwrap();
    assert_eq!(
        opcodes(&f),
        [Opcode::Constant, Opcode::Multiply, Opcode::Add]
    );
    let c = f.ops[0].attrs.dense("value").unwrap();
    assert_eq!(c.to_f64_vec(), [1.0, 2.0, 3.0]);
}

#[test]
fn multi_result_ops_are_emitted_once() {
    let f = trace(
        |x| {
            let p = split(&x[0], 3, 0);
            let (q, r) = divmod(&x[0], 2.0);
            vec![&p[0] + &p[2], q, r]
        },
        &[tt(DType::F32, &[6])],
    )
    .unwrap();
    let count = |op| f.ops.iter().filter(|o| o.opcode == op).count();
    assert_eq!(count(Opcode::Split), 1);
    assert_eq!(count(Opcode::DivMod), 1);
}

#[test]
fn leaked_tracers_are_errors_not_panics() {
    let mut leaked = None;
    trace(
        |x| {
            leaked = Some(x[0].clone());
            vec![x[0].clone()]
        },
        &[tt(DType::F32, &[1])],
    )
    .unwrap();
    let leaked = leaked.unwrap();
    let e = (&leaked + 1.0).to_vec::<f32>().unwrap_err();
    assert!(e.message.contains("tracer leaked"), "{e}");
    let e = trace(|_| vec![&leaked * 2.0], &[]).unwrap_err();
    assert!(e.message.contains("another trace"), "{e}");
}

#[test]
fn symbolic_dims_broadcast_through_broadcast_like() {
    let f = trace(
        |x| vec![&x[0] + &x[1], &x[0] * 2.0],
        &[tt(DType::F32, &[DYN, 3]), tt(DType::F32, &[3])],
    )
    .unwrap();
    assert!(opcodes(&f).contains(&Opcode::BroadcastLike));
    assert_eq!(f.result_types()[0], tt(DType::F32, &[DYN, 3]));
    assert_eq!(f.result_types()[1], tt(DType::F32, &[DYN, 3]));
}

#[test]
fn trace_with_example_arrays_uses_their_types() {
    let x = array(&[1i32, 2, 3, 4], &[2, 2]);
    let f = trace_with(|a| vec![sum(&a[0], 1, false)], &[x]).unwrap();
    assert_eq!(f.param_types(), [tt(DType::I32, &[2, 2])]);
    assert_eq!(f.result_types(), [tt(DType::I32, &[2])]);
}
