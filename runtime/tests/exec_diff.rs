//! Differential testing of the compiled CPU backend against the reference
//! interpreter: randomized programs (proptest; shrinking shortens the
//! program) over every op family the backend compiles (elementwise unary,
//! binary and comparison ops, select, casts, reductions, arg-reductions,
//! scans, layout ops, matmul, sort/argsort, gathers, softmax) and every
//! dtype (f32, f64, f16, bf16, i8, i16, i32, i64, u8, u16, u32, u64, bool),
//! run through `exec` (strict: native code only) and `interp::run_func`.
//!
//! Tolerances (docs/TESTING.md states them too), element by element, `n`
//! the number of ops of the program:
//! - integers and bool: exact;
//! - f32 and f64: within `16·n` ulp, or within `2^-20·n` (f32) / `2^-40·n`
//!   (f64) times the largest finite magnitude of that output (normwise:
//!   cancellation in a difference of large values is allowed its inputs'
//!   rounding, not more);
//! - f16 and bf16: within `2·n` ulp of the dtype, or `2^-9·n` (f16) /
//!   `2^-6·n` (bf16) times the largest finite magnitude: the compiled code
//!   keeps fused intermediates in f64 registers and rounds once per stored
//!   value, the interpreter rounds every op's result.
//!
//! Programs whose interpreter results hold integers of magnitude 2^53 or
//! more are skipped (the kernel level holds values in f64: that case is the
//! interpreter's, `exec::native_unsupported`), as are programs the
//! interpreter itself rejects.

use proptest::prelude::*;
use psionic_codegen::cpu::CpuOptions;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use psionic_runtime::exec::compile_for;
use psionic_runtime::interp::{compare_literals, run_func};

const DTYPES: [DType; 13] = [
    DType::F32,
    DType::F64,
    DType::F16,
    DType::BF16,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::Bool,
];

const UNARY: [Opcode; 38] = {
    use Opcode as O;
    [
        O::Abs,
        O::Negative,
        O::Sign,
        O::Square,
        O::Sqrt,
        O::Rsqrt,
        O::Reciprocal,
        O::Exp,
        O::Expm1,
        O::Log,
        O::Log1p,
        O::Log2,
        O::Log10,
        O::Sin,
        O::Cos,
        O::Tan,
        O::Arcsin,
        O::Arccos,
        O::Arctan,
        O::Sinh,
        O::Cosh,
        O::Tanh,
        O::Arcsinh,
        O::Arccosh,
        O::Arctanh,
        O::Sigmoid,
        O::Erf,
        O::Erfinv,
        O::Floor,
        O::Ceil,
        O::Round,
        O::IsNan,
        O::IsInf,
        O::IsFinite,
        O::LogicalNot,
        O::BitwiseInvert,
        O::StopGradient,
        O::Copy,
    ]
};

const BINARY: [Opcode; 25] = {
    use Opcode as O;
    [
        O::Add,
        O::Subtract,
        O::Multiply,
        O::Divide,
        O::FloorDivide,
        O::Remainder,
        O::Power,
        O::Maximum,
        O::Minimum,
        O::Arctan2,
        O::LogAddExp,
        O::LogicalAnd,
        O::LogicalOr,
        O::BitwiseAnd,
        O::BitwiseOr,
        O::BitwiseXor,
        O::LeftShift,
        O::RightShift,
        O::Equal,
        O::NotEqual,
        O::Less,
        O::LessEqual,
        O::Greater,
        O::GreaterEqual,
        O::Maximum,
    ]
};

const REDUCE: [Opcode; 9] = {
    use Opcode as O;
    [
        O::ReduceSum,
        O::ReduceProd,
        O::ReduceMax,
        O::ReduceMin,
        O::ReduceAll,
        O::ReduceAny,
        O::Argmax,
        O::Argmin,
        O::LogSumExp,
    ]
};

const SCAN: [Opcode; 5] = {
    use Opcode as O;
    [O::Cumsum, O::Cumprod, O::Cummax, O::Cummin, O::CumLogAddExp]
};

/// One step of a program: which family, and three choices within it.
type Step = (u8, u16, u16, u16);

struct Builder {
    f: Func,
    pool: Vec<Value>,
    /// Ops that took (each one a step towards the tolerance).
    ops: usize,
}

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

impl Builder {
    fn ty(&self, v: Value) -> TensorType {
        self.f.ty(v).clone()
    }
    fn pick(&self, k: u16) -> Value {
        self.pool[k as usize % self.pool.len()]
    }
    /// A pool value of `v`'s type other than `v` if there is one.
    fn partner(&self, v: Value, k: u16) -> Value {
        let t = self.ty(v);
        let same: Vec<Value> = self
            .pool
            .iter()
            .copied()
            .filter(|&w| self.ty(w) == t)
            .collect();
        same[k as usize % same.len()]
    }
    fn push(&mut self, op: Opcode, operands: &[Value], attrs: Attrs) -> Option<Value> {
        let r = self.f.push1(op, operands, attrs).ok()?;
        self.pool.push(r);
        self.ops += 1;
        Some(r)
    }

    fn step(&mut self, (family, a, b, c): Step) {
        use Opcode as O;
        let x = self.pick(a);
        let t = self.ty(x);
        let rank = t.rank() as i64;
        match family % 12 {
            0 | 1 => {
                let op = UNARY[b as usize % UNARY.len()];
                self.push(op, &[x], Attrs::new());
            }
            2 | 3 => {
                let op = BINARY[b as usize % BINARY.len()];
                let y = self.partner(x, c);
                self.push(op, &[x, y], Attrs::new());
            }
            4 => {
                // select(x > y, y, x) on a partner.
                let y = self.partner(x, c);
                if let Some(m) = self.push(O::Greater, &[x, y], Attrs::new()) {
                    self.push(O::Select, &[m, y, x], Attrs::new());
                }
            }
            5 => {
                let d = DTYPES[b as usize % DTYPES.len()];
                self.push(O::Cast, &[x], Attrs::new().with("dtype", Attr::DType(d)));
            }
            6 => {
                if rank == 0 {
                    return;
                }
                let op = REDUCE[b as usize % REDUCE.len()];
                let attrs = if matches!(op, O::Argmax | O::Argmin) {
                    Attrs::new()
                        .with("axis", Attr::Int((c as i64) % rank))
                        .with("keepdims", Attr::Bool(c % 2 == 0))
                } else {
                    let axes: Vec<i64> = match c % 3 {
                        0 => vec![rank - 1],
                        1 => vec![0],
                        _ => (0..rank).collect(),
                    };
                    Attrs::new()
                        .with("axes", ints(&axes))
                        .with("keepdims", Attr::Bool(c % 2 == 0))
                };
                self.push(op, &[x], attrs);
            }
            7 => {
                if rank == 0 {
                    return;
                }
                let op = SCAN[b as usize % SCAN.len()];
                let attrs = Attrs::new()
                    .with("axis", Attr::Int((c as i64) % rank))
                    .with("reverse", Attr::Bool(b % 2 == 0))
                    .with("inclusive", Attr::Bool(c % 3 != 0));
                self.push(op, &[x], attrs);
            }
            8 => {
                // Layout: transpose, flip, slice, reshape to flat, pad,
                // concatenate, broadcast of a new leading axis.
                let shape = t.shape.clone();
                match b % 7 {
                    0 if rank >= 2 => {
                        let mut perm: Vec<i64> = (0..rank).collect();
                        perm.reverse();
                        self.push(O::Transpose, &[x], Attrs::new().with("perm", ints(&perm)));
                    }
                    1 if rank >= 1 => {
                        let ax = (c as i64) % rank;
                        self.push(O::Flip, &[x], Attrs::new().with("axes", ints(&[ax])));
                    }
                    2 if rank >= 1 => {
                        let start: Vec<i64> = shape.iter().map(|&d| (d - 1).min(1)).collect();
                        let stop: Vec<i64> = shape.clone();
                        let strides: Vec<i64> = shape.iter().map(|_| 1 + (c as i64) % 2).collect();
                        self.push(
                            O::Slice,
                            &[x],
                            Attrs::new()
                                .with("start", ints(&start))
                                .with("stop", ints(&stop))
                                .with("strides", ints(&strides)),
                        );
                    }
                    3 => {
                        let n: i64 = shape.iter().product();
                        self.push(O::Reshape, &[x], Attrs::new().with("shape", ints(&[n])));
                    }
                    4 if rank >= 1 => {
                        // Pad with a scalar of x's dtype: a 0-d slice of a reduction-free value.
                        let zero = self.f.push1(
                            O::Constant,
                            &[],
                            Attrs::new().with(
                                "value",
                                Attr::Dense(
                                    Literal::from_f64(t.dtype, vec![], &[1.0])
                                        .expect("a scalar of every dtype"),
                                ),
                            ),
                        );
                        if let Ok(z) = zero {
                            let lo: Vec<i64> = (0..rank).map(|i| (i + c as i64) % 2).collect();
                            let hi: Vec<i64> = (0..rank).map(|i| (i + b as i64) % 3).collect();
                            self.push(
                                O::Pad,
                                &[x, z],
                                Attrs::new().with("low", ints(&lo)).with("high", ints(&hi)),
                            );
                        }
                    }
                    5 if rank >= 1 => {
                        let y = self.partner(x, c);
                        self.push(
                            O::Concatenate,
                            &[x, y],
                            Attrs::new().with("axis", Attr::Int((c as i64) % rank)),
                        );
                    }
                    _ => {
                        let mut s = vec![2];
                        s.extend(&shape);
                        if let Some(e) =
                            self.push(O::ExpandDims, &[x], Attrs::new().with("axes", ints(&[0])))
                        {
                            self.push(O::Broadcast, &[e], Attrs::new().with("shape", ints(&s)));
                        }
                    }
                }
            }
            9 => {
                // x @ x^T (rank 2), or batched x @ x^T after a reshape.
                if rank != 2 {
                    return;
                }
                if let Some(xt) =
                    self.push(O::Transpose, &[x], Attrs::new().with("perm", ints(&[1, 0])))
                {
                    if b % 2 == 0 {
                        self.push(O::Matmul, &[x, xt], Attrs::new());
                    } else {
                        self.push(O::Matmul, &[xt, x], Attrs::new());
                    }
                }
            }
            10 => {
                // sort / argsort, and a gather by the argsort.
                if rank == 0 {
                    return;
                }
                let ax = (c as i64) % rank;
                let attrs = Attrs::new().with("axis", Attr::Int(ax));
                match b % 3 {
                    0 => {
                        self.push(O::Sort, &[x], attrs);
                    }
                    1 => {
                        self.push(O::Argsort, &[x], attrs);
                    }
                    _ => {
                        if let Some(i) = self.push(O::Argsort, &[x], attrs.clone()) {
                            self.push(O::TakeAlongAxis, &[x, i], attrs);
                        }
                    }
                }
            }
            _ => {
                if rank == 0 {
                    return;
                }
                self.push(
                    O::Softmax,
                    &[x],
                    Attrs::new().with("axes", ints(&[rank - 1])),
                );
            }
        }
    }
}

fn random_literal(seed: u64, ty: &TensorType) -> Literal {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let shape = ty.static_shape().expect("static");
    let n: usize = shape.iter().product();
    let d = ty.dtype;
    if d == DType::Bool {
        let v: Vec<u8> = (0..n).map(|_| (next() & 1) as u8).collect();
        return Literal::from_bytes(d, shape, v).unwrap();
    }
    if d.is_integer() {
        let v: Vec<i64> = (0..n)
            .map(|_| {
                let x = (next() % 13) as i64;
                if d.is_unsigned_integer() {
                    x
                } else {
                    x - 6
                }
            })
            .collect();
        return Literal::from_i64(d, shape, &v).unwrap();
    }
    // Quarter steps in [-3, 3]: exact in every float dtype, with ties for
    // sorts and comparisons.
    let v: Vec<f64> = (0..n)
        .map(|_| ((next() % 25) as f64 - 12.0) / 4.0)
        .collect();
    Literal::from_f64(d, shape, &v).unwrap()
}

/// Largest finite magnitude of a float literal.
fn max_finite(l: &Literal) -> f64 {
    l.to_f64_vec()
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()))
}

fn tolerance(d: DType, n: usize, want: &Literal) -> (u64, f64) {
    let n = n.max(1);
    let scale = max_finite(want);
    match d {
        DType::F32 => (16 * n as u64, 2f64.powi(-20) * n as f64 * scale),
        DType::F64 => (16 * n as u64, 2f64.powi(-40) * n as f64 * scale),
        DType::F16 => (2 * n as u64, 2f64.powi(-9) * n as f64 * scale),
        DType::BF16 => (2 * n as u64, 2f64.powi(-6) * n as f64 * scale),
        _ => (0, 0.0),
    }
}

/// Builds the program for (dtype, shape, steps); None when nothing took.
fn build(d: DType, rows: usize, cols: usize, steps: &[Step]) -> Option<(Func, usize)> {
    let t = TensorType::from_dims(d, &[rows, cols]);
    let mut b = Builder {
        f: Func::new("main", vec![t.clone(), t]),
        pool: Vec::new(),
        ops: 0,
    };
    b.pool = b.f.params.clone();
    for &s in steps {
        b.step(s);
    }
    if b.ops == 0 {
        return None;
    }
    // Return the last three values made (and so everything they use).
    let n = b.pool.len();
    b.f.results = b.pool[n.saturating_sub(3).max(2)..].to_vec();
    Some((b.f, b.ops))
}

/// Runs one program both ways; Err describes a disagreement.
fn differ(d: DType, rows: usize, cols: usize, steps: &[Step], seed: u64) -> Result<bool, String> {
    let Some((f, nops)) = build(d, rows, cols, steps) else {
        return Ok(false);
    };
    let args: Vec<Literal> = f
        .param_types()
        .iter()
        .enumerate()
        .map(|(i, t)| random_literal(seed.wrapping_add(i as u64 * 7919), t))
        .collect();
    let Ok(want) = run_func(&f, &args) else {
        return Ok(false);
    };
    if want
        .iter()
        .any(|w| w.dtype().is_integer() && w.to_f64_vec().iter().any(|v| v.abs() >= 9.007e15))
    {
        return Ok(false);
    }
    let text = psionic_ir::text::print_func(&f);
    // Small thresholds so that the threaded split runs too.
    let opts = CpuOptions {
        threads: 2,
        parallel_min_points: 8,
        ..CpuOptions::default()
    };
    let types = f.param_types();
    let c = compile_for(&f, &types, &opts).map_err(|e| format!("compile: {e}\n{text}"))?;
    let got = c.run(&args).map_err(|e| format!("run: {e}\n{text}"))?;
    if got.len() != want.len() {
        return Err(format!(
            "{} results, expected {}\n{text}",
            got.len(),
            want.len()
        ));
    }
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        let (ulps, atol) = tolerance(w.dtype(), nops, w);
        compare_literals(g, w, ulps, atol).map_err(|e| {
            format!(
                "result {k} ({}): {e}\nargs: {:?}\n{text}",
                w.ty(),
                args.iter().map(|a| a.to_f64_vec()).collect::<Vec<_>>()
            )
        })?;
    }
    Ok(true)
}

fn step() -> impl Strategy<Value = Step> {
    (any::<u8>(), any::<u16>(), any::<u16>(), any::<u16>())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 160,
        failure_persistence: None,
        // Fixed, so CI sees the same 160 programs every run (set another
        // seed here to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00c0_ffee),
        ..ProptestConfig::default()
    })]

    /// Random programs of every op family on every dtype agree with the
    /// interpreter within the tolerances above.
    #[test]
    fn random_programs_agree_with_the_interpreter(
        d in 0usize..DTYPES.len(),
        rows in 1usize..6,
        cols in 1usize..9,
        steps in prop::collection::vec(step(), 1..7),
        seed in any::<u64>(),
    ) {
        if let Err(e) = differ(DTYPES[d], rows, cols, &steps, seed) {
            return Err(TestCaseError::fail(format!("{}: {e}", DTYPES[d])));
        }
    }
}

/// Every dtype and every op family runs natively in a fixed sweep, so the
/// randomized test above cannot pass by skipping everything.
#[test]
fn sweep_covers_every_dtype_and_family() {
    let mut ran = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for (di, &d) in DTYPES.iter().enumerate() {
        for family in 0u8..12 {
            for k in 0u16..6 {
                let steps = [
                    (family, k, k.wrapping_mul(7) + di as u16, k + 1),
                    (family + 12 * (k as u8 % 2), k + 3, k.wrapping_mul(5), k),
                ];
                match differ(d, 3, 5, &steps, 1 + k as u64 + 31 * di as u64) {
                    Ok(true) => *ran.entry((d.name(), family)).or_insert(0) += 1,
                    Ok(false) => {}
                    Err(e) => failures.push(format!("{d} family {family}: {e}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} programs differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    for &d in &DTYPES {
        let fams = ran.keys().filter(|(n, _)| *n == d.name()).count();
        assert!(fams >= 9, "{d}: only {fams} of 12 op families ran: {ran:?}");
    }
}

/// Found by the randomized test above (an i8 program: cast to u32, then
/// `reduce_prod`): the compiled code multiplied integers in f64, so a u32
/// product past 2^53 lost the low bits that its wrapped value keeps
/// (`[-2, 1, -1, -2, 2]` as u32 gave 0, not 2^32 - 8 as in the interpreter
/// and MLX). The same held for elementwise `multiply`, `square` and
/// `power`, and for the kernel interpreter's accumulators.
#[test]
fn wrapping_integer_products_are_exact() {
    let run = |f: &Func, args: &[Literal]| {
        let want = run_func(f, args).unwrap();
        let got = compile_for(f, &f.param_types(), &CpuOptions::default())
            .unwrap()
            .run(args)
            .unwrap();
        compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        want.into_iter().next().unwrap()
    };
    // The minimal program the random test found.
    let t = TensorType::from_dims(DType::I8, &[2, 5]);
    let mut f = Func::new("main", vec![t]);
    let p = f.params[0];
    let c = f
        .push1(
            Opcode::Cast,
            &[p],
            Attrs::new().with("dtype", Attr::DType(DType::U32)),
        )
        .unwrap();
    let r = f
        .push1(
            Opcode::ReduceProd,
            &[c],
            Attrs::new()
                .with("axes", Attr::Ints(vec![1]))
                .with("keepdims", Attr::Bool(false)),
        )
        .unwrap();
    f.results = vec![r];
    let x =
        Literal::from_i64(DType::I8, vec![2, 5], &[-2, 1, -1, -2, 2, 4, -3, -1, 6, -1]).unwrap();
    // MLX 0.32.4: mx.prod(x.astype(mx.uint32), axis=1) == [4294967288, 4294967224].
    assert_eq!(run(&f, &[x]).to_f64_vec(), [4294967288.0, 4294967224.0]);
    // Elementwise: u32 and i32 multiply, square, power (MLX's values).
    for (d, a, b, op, want) in [
        (
            DType::U32,
            4294967294i64,
            4294967294i64,
            Opcode::Multiply,
            4.0,
        ),
        (
            DType::U32,
            3000000000,
            3000000000,
            Opcode::Multiply,
            3800301568.0,
        ),
        (
            DType::I32,
            2000000001,
            2000000001,
            Opcode::Multiply,
            -1946474495.0,
        ),
        (DType::I32, 2000000001, 3, Opcode::Power, 2119220225.0),
    ] {
        let t = TensorType::from_dims(d, &[1]);
        let mut f = Func::new("main", vec![t.clone(), t]);
        let ps = f.params.clone();
        let r = f.push1(op, &ps, Attrs::new()).unwrap();
        f.results = vec![r];
        let args = [
            Literal::from_i64(d, vec![1], &[a]).unwrap(),
            Literal::from_i64(d, vec![1], &[b]).unwrap(),
        ];
        assert_eq!(run(&f, &args).to_f64_vec(), [want], "{d} {op} {a} {b}");
    }
    let t = TensorType::from_dims(DType::I32, &[1]);
    let mut f = Func::new("main", vec![t]);
    let p = f.params[0];
    let r = f.push1(Opcode::Square, &[p], Attrs::new()).unwrap();
    f.results = vec![r];
    let x = Literal::from_i64(DType::I32, vec![1], &[2000000001]).unwrap();
    assert_eq!(run(&f, &[x]).to_f64_vec(), [-1946474495.0]);
}

/// Found by the randomized test above: integer `power` with a negative
/// exponent and base -1 gave ±1 in compiled code (the kernel level's scalar
/// semantics) and 0 in the interpreter, which gave 1 for base 1. MLX 0.32.4
/// gives 0 for every negative exponent, bases 1 and -1 included (eager and
/// `mx.compile`d); both sides now do.
#[test]
fn integer_power_with_a_negative_exponent() {
    let t = TensorType::from_dims(DType::I32, &[8]);
    let mut f = Func::new("main", vec![t.clone(), t.clone()]);
    let ps = f.params.clone();
    let r = f.push1(Opcode::Power, &ps, Attrs::new()).unwrap();
    f.results = vec![r];
    // MLX: mx.power([1, -1, -1, 2, 0, 0, -2, 3], [-1, -1, -2, -1, -1, 0, -3, 0])
    // (int32) == [0, 0, 0, 0, 0, 1, 0, 1].
    let a = Literal::from_i64(DType::I32, vec![8], &[1, -1, -1, 2, 0, 0, -2, 3]).unwrap();
    let b = Literal::from_i64(DType::I32, vec![8], &[-1, -1, -2, -1, -1, 0, -3, 0]).unwrap();
    let mlx = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    let want = run_func(&f, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(want[0].to_f64_vec(), mlx, "interpreter");
    let got = compile_for(&f, &f.param_types(), &CpuOptions::default())
        .unwrap()
        .run(&[a, b])
        .unwrap();
    assert_eq!(got[0].to_f64_vec(), mlx, "CPU backend");
}
