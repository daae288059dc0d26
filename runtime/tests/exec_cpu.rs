//! Differential tests of the compiled CPU backend (`exec`, Cranelift code
//! from `psionic_codegen::cpu`) against the interpreters.
//!
//! Each program is fused and planned once; the planned kernel program then
//! runs compiled and through the kernel interpreter (same program, so any
//! difference is code generation), and the compiled result is also checked
//! against the tensor-level interpreter on the original function.
//! Tolerances (also in docs/BACKENDS.md):
//! - scalar code shape (f64, integers, bool, f16, bf16, and f32 kernels with
//!   ops the vector shape lacks): **exact** against the kernel interpreter;
//! - f32x4 shape, arithmetic only: exact (`rsqrt`: 1 ulp, it rounds twice);
//! - f32x4 shape with the vector math library: 8 ulp or 1e-6 absolute
//!   (the library's worst case is 4 ulp plus one rounding per fused op);
//! - f32 reductions: 4 ulp or 1e-5 · (row length) absolute against the kernel
//!   interpreter (sums accumulate in f32 partials flushed to f64 lanes every
//!   32 adds, the interpreter in one f64); long rows are checked against the
//!   tighter bound docs/BACKENDS.md states, (32 + 8) · 2^-24 · sum(|x|).

use psionic_codegen::cpu::{compile_program, CpuOptions};
use psionic_ir::specialize::specialize;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, OpClass, Opcode, TensorType, OP_DEFS};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_runtime::exec::Executable;
use psionic_runtime::interp::{compare_literals, eval_op, run_func};
use psionic_runtime::kernel_interp::run_program_with;

mod common;
use common::{big_ints, random_literal, Rng};

struct Outcome {
    /// Kernels that got the f32x4 shape / all kernels.
    vector: usize,
    kernels: usize,
    /// The kernel interpreter's results.
    want: Vec<Literal>,
}

/// Runs `f` compiled and interpreted; panics with the program on mismatch.
fn check(f: &Func, args: &[Literal], ulps: u64, atol: f64) -> Option<Outcome> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let g = specialize(f, &types).expect("specialize");
    let (kp, _) = match compile(&g, &CompileOptions::default()) {
        Ok(x) => x,
        Err(_) => return None,
    };
    let want = match run_program_with(&kp, args, &eval_op) {
        Ok(w) => w,
        Err(_) => return None,
    };
    // The interpreter holds values in f64: 64-bit integers beyond 2^53 (a
    // wrapped u64 negation) are outside what it represents.
    if big_ints(&want) {
        return None;
    }
    // Small thresholds so that the threaded path runs too.
    let opts = CpuOptions {
        threads: 3,
        parallel_min_points: 8,
        ..CpuOptions::default()
    };
    let code = compile_program(&kp, &opts).unwrap_or_else(|e| {
        panic!(
            "compile failed: {e}\n{}",
            psionic_ir::kernel::text::print_program(&kp)
        )
    });
    let got = code.run(args, &eval_op).expect("compiled run");
    assert_eq!(got.len(), want.len());
    for (g2, w) in got.iter().zip(&want) {
        if let Err(e) = compare_literals(g2, w, ulps, atol) {
            panic!(
                "compiled vs kernel interpreter: {e}\n{}\nshapes: {:?}",
                psionic_ir::kernel::text::print_program(&kp),
                code.kernel_shapes()
            );
        }
    }
    let shapes = code.kernel_shapes();
    Some(Outcome {
        vector: shapes.iter().filter(|s| s.1).count(),
        kernels: shapes.len(),
        want,
    })
}

const DTYPES: [DType; 12] = [
    DType::F32,
    DType::F64,
    DType::F16,
    DType::BF16,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U32,
    DType::U64,
    DType::Bool,
];

fn math_op(op: Opcode) -> bool {
    use Opcode as O;
    matches!(
        op,
        O::Exp
            | O::Log
            | O::Log2
            | O::Log10
            | O::LogAddExp
            | O::Log1p
            | O::Expm1
            | O::Tanh
            | O::Sigmoid
            | O::Erf
            | O::Erfinv
            | O::Sin
            | O::Cos
    )
}

#[test]
fn every_elementwise_op_and_dtype_matches_the_interpreter() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ran, mut vector) = (0, 0);
    let mut covered = std::collections::BTreeSet::new();
    let mut inherited = std::collections::BTreeSet::new();
    for def in OP_DEFS.iter() {
        let op = def.opcode;
        if !matches!(
            def.class,
            OpClass::Unary | OpClass::Binary | OpClass::Compare
        ) || op == Opcode::DivMod
        {
            continue;
        }
        for &dt in &DTYPES {
            // Odd sizes: vector main loops plus scalar tails.
            for shape in [vec![3usize, 7], vec![37]] {
                let ty = TensorType::from_dims(dt, &shape);
                let arity = if def.class == OpClass::Unary { 1 } else { 2 };
                let mut f = Func::new("main", vec![ty.clone(); arity]);
                let ps = f.params.clone();
                let Ok(r) = f.push1(op, &ps, Attrs::new()) else {
                    continue;
                };
                f.results = vec![r];
                let args: Vec<Literal> =
                    (0..arity).map(|_| random_literal(&mut rng, &ty)).collect();
                let (ulps, atol) = if dt == DType::F32 && math_op(op) {
                    (8, 1e-6)
                } else if dt == DType::F32 && op == Opcode::Rsqrt {
                    // 1/sqrt(x) rounds twice in f32.
                    (1, 0.0)
                } else {
                    (0, 0.0)
                };
                if let Some(o) = check(&f, &args, ulps, atol) {
                    ran += 1;
                    vector += o.vector;
                    covered.insert((op.name(), dt.name()));
                    // And against the tensor-level interpreter, loosely.
                    let want = run_func(&f, &args).unwrap();
                    if big_ints(&want) {
                        continue;
                    }
                    let got = Executable::new(f.clone()).run(&args).unwrap();
                    let tol = if dt.is_inexact() {
                        (64, 1e-5)
                    } else {
                        (0, 0.0)
                    };
                    if let Err(e) = compare_literals(&got[0], &want[0], tol.0, tol.1) {
                        // Allowed only where the kernel level's scalar
                        // semantics (psionic_ir::kernel::scalar) already
                        // differ from the tensor interpreter.
                        assert!(
                            compare_literals(&o.want[0], &want[0], tol.0, tol.1).is_err(),
                            "{} on {dt}: compiled differs from run_func but the kernel interpreter does not: {e}",
                            op.name()
                        );
                        inherited.insert(format!("{} on {dt}", op.name()));
                    }
                }
            }
        }
    }
    eprintln!("kernel-level scalar semantics differ from run_func (inherited): {inherited:?}");
    eprintln!(
        "elementwise cases: {ran}, f32x4 kernels: {vector}, op/dtype pairs: {}",
        covered.len()
    );
    assert!(ran > 400, "only {ran} op/dtype cases ran");
    assert!(vector > 40, "only {vector} cases used the f32x4 shape");
}

#[test]
fn reductions_match_the_interpreter() {
    let mut rng = Rng(77);
    use Opcode as O;
    let mut cases = 0;
    for dt in [DType::F32, DType::F64, DType::I32, DType::F16] {
        for shape in [vec![5usize, 13], vec![4, 64], vec![3, 4, 5], vec![1000]] {
            for op in [
                O::ReduceSum,
                O::ReduceMax,
                O::ReduceMin,
                O::ReduceProd,
                O::LogSumExp,
                O::ReduceAll,
                O::ReduceAny,
            ] {
                let rank = shape.len() as i64;
                for axes in [vec![rank - 1], vec![0], (0..rank).collect::<Vec<_>>()] {
                    let ty = TensorType::from_dims(dt, &shape);
                    let mut f = Func::new("main", vec![ty.clone()]);
                    let x = f.params[0];
                    let Ok(r) = f.push1(
                        op,
                        &[x],
                        Attrs::new().with("axes", Attr::Ints(axes.clone())),
                    ) else {
                        continue;
                    };
                    f.results = vec![r];
                    let a = if op == O::ReduceProd {
                        // Products of values near 1 stay finite.
                        let n = ty.num_elements().unwrap();
                        let v: Vec<f64> = (0..n).map(|_| 0.9 + 0.2 * rng.unit()).collect();
                        if dt.is_integer() {
                            continue;
                        }
                        Literal::from_f64(dt, shape.clone(), &v).unwrap()
                    } else {
                        random_literal(&mut rng, &ty)
                    };
                    let row = shape.iter().product::<usize>() as f64;
                    let (ulps, atol) = if dt == DType::F32 {
                        (4, 1e-5 * row)
                    } else {
                        (0, 0.0)
                    };
                    if check(&f, &[a], ulps, atol).is_some() {
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 150, "only {cases} reduction cases ran");
}

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).unwrap_or_else(|e| panic!("{e}"))
}

/// Layer norm over the last axis with weight and bias (eps 1e-5).
fn layer_norm(rows: usize, cols: usize) -> Func {
    parse(&format!(
        "func @main(%0: tensor<{rows}x{cols}xf32>, %1: tensor<{cols}xf32>, %2: tensor<{cols}xf32>) -> (tensor<{rows}x{cols}xf32>) {{
           %3 = tensor.reduce_sum %0 {{axes = [1], keepdims = true}} : tensor<{rows}x1xf32>
           %4 = tensor.constant {{value = dense<{n:.1}> : tensor<f32>}} : tensor<f32>
           %5 = tensor.broadcast_like %4, %3 : tensor<{rows}x1xf32>
           %6 = tensor.divide %3, %5 : tensor<{rows}x1xf32>
           %7 = tensor.broadcast_like %6, %0 : tensor<{rows}x{cols}xf32>
           %8 = tensor.subtract %0, %7 : tensor<{rows}x{cols}xf32>
           %9 = tensor.multiply %8, %8 : tensor<{rows}x{cols}xf32>
           %10 = tensor.reduce_sum %9 {{axes = [1], keepdims = true}} : tensor<{rows}x1xf32>
           %11 = tensor.divide %10, %5 : tensor<{rows}x1xf32>
           %12 = tensor.constant {{value = dense<1.0e-5> : tensor<f32>}} : tensor<f32>
           %13 = tensor.broadcast_like %12, %11 : tensor<{rows}x1xf32>
           %14 = tensor.add %11, %13 : tensor<{rows}x1xf32>
           %15 = tensor.rsqrt %14 : tensor<{rows}x1xf32>
           %16 = tensor.broadcast_like %15, %0 : tensor<{rows}x{cols}xf32>
           %17 = tensor.multiply %8, %16 : tensor<{rows}x{cols}xf32>
           %18 = tensor.broadcast_like %1, %0 : tensor<{rows}x{cols}xf32>
           %19 = tensor.multiply %17, %18 : tensor<{rows}x{cols}xf32>
           %20 = tensor.broadcast_like %2, %0 : tensor<{rows}x{cols}xf32>
           %21 = tensor.add %19, %20 : tensor<{rows}x{cols}xf32>
           return %21
         }}",
        n = cols as f64
    ))
}

#[test]
fn softmax_layer_norm_gelu_and_matmul_epilogues() {
    let mut rng = Rng(5);
    let softmax = parse(
        "func @main(%0: tensor<?x?xf32>) -> (tensor<?x?xf32>) {
           %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<?x1xf32>
           %2 = tensor.broadcast_like %1, %0 : tensor<?x?xf32>
           %3 = tensor.subtract %0, %2 : tensor<?x?xf32>
           %4 = tensor.exp %3 : tensor<?x?xf32>
           %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<?x1xf32>
           %6 = tensor.broadcast_like %5, %0 : tensor<?x?xf32>
           %7 = tensor.divide %4, %6 : tensor<?x?xf32>
           return %7
         }",
    );
    let gelu = parse(
        "func @main(%0: tensor<?xf32>, %1: tensor<?xf32>, %2: tensor<?xf32>) -> (tensor<?xf32>) {
           %3 = tensor.multiply %0, %1 : tensor<?xf32>
           %4 = tensor.add %3, %2 : tensor<?xf32>
           %5 = tensor.multiply %4, %4 : tensor<?xf32>
           %6 = tensor.multiply %5, %4 : tensor<?xf32>
           %7 = tensor.constant {value = dense<0.044715> : tensor<f32>} : tensor<f32>
           %8 = tensor.broadcast_like %7, %4 : tensor<?xf32>
           %9 = tensor.multiply %6, %8 : tensor<?xf32>
           %10 = tensor.add %4, %9 : tensor<?xf32>
           %11 = tensor.constant {value = dense<0.7978845608> : tensor<f32>} : tensor<f32>
           %12 = tensor.broadcast_like %11, %4 : tensor<?xf32>
           %13 = tensor.multiply %10, %12 : tensor<?xf32>
           %14 = tensor.tanh %13 : tensor<?xf32>
           %15 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
           %16 = tensor.broadcast_like %15, %4 : tensor<?xf32>
           %17 = tensor.add %14, %16 : tensor<?xf32>
           %18 = tensor.multiply %4, %17 : tensor<?xf32>
           %19 = tensor.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
           %20 = tensor.broadcast_like %19, %4 : tensor<?xf32>
           %21 = tensor.multiply %18, %20 : tensor<?xf32>
           return %21
         }",
    );
    let mlp = parse(
        "func @main(%0: tensor<?x?xf32>, %1: tensor<?x?xf32>, %2: tensor<?xf32>) -> (tensor<?x?xf32>) {
           %3 = tensor.matmul %0, %1 : tensor<?x?xf32>
           %4 = tensor.broadcast_like %2, %3 : tensor<?x?xf32>
           %5 = tensor.add %3, %4 : tensor<?x?xf32>
           %6 = tensor.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
           %7 = tensor.broadcast_like %6, %5 : tensor<?x?xf32>
           %8 = tensor.maximum %5, %7 : tensor<?x?xf32>
           return %8
         }",
    );
    let t = |s: &[usize]| TensorType::from_dims(DType::F32, s);
    for (rows, cols) in [(1usize, 1usize), (3, 5), (17, 64), (64, 257)] {
        let x = random_literal(&mut rng, &t(&[rows, cols]));
        let o = check(&softmax, std::slice::from_ref(&x), 8, 1e-6).expect("softmax compiles");
        assert!(
            o.vector == o.kernels,
            "softmax kernels all take the f32x4 shape"
        );
        let w = random_literal(&mut rng, &t(&[cols]));
        let b = random_literal(&mut rng, &t(&[cols]));
        check(
            &layer_norm(rows, cols),
            &[x.clone(), w.clone(), b.clone()],
            8,
            1e-5,
        )
        .expect("layer norm compiles");
        let n = rows * cols;
        let v = [t(&[n]), t(&[n]), t(&[n])].map(|ty| random_literal(&mut rng, &ty));
        check(&gelu, &v, 8, 1e-6).expect("gelu compiles");
        let a = random_literal(&mut rng, &t(&[rows, cols]));
        let bm = random_literal(&mut rng, &t(&[cols, 9]));
        let bias = random_literal(&mut rng, &t(&[9]));
        // gemm sums in another order than the interpreter's f64 loop.
        check(&mlp, &[a, bm, bias], 16, 1e-4 * cols as f64).expect("matmul compiles");
    }
}

#[test]
fn executable_caches_by_input_types_and_runs_library_ops() {
    let f = parse(
        "func @main(%0: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
           %1 = tensor.sort %0 {axis = 0} : tensor<?xf32>
           %2 = tensor.exp %1 : tensor<?xf32>
           return %1, %2
         }",
    );
    let exe = Executable::new(f.clone());
    let mut rng = Rng(11);
    for n in [5usize, 9, 5] {
        let x = random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[n]));
        let got = exe.run(std::slice::from_ref(&x)).unwrap();
        let want = run_func(&f, &[x]).unwrap();
        compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        compare_literals(&got[1], &want[1], 8, 1e-6).unwrap();
    }
    assert_eq!(
        exe.cache_len(),
        2,
        "one specialization per distinct input type"
    );
    let bad = exe.run(&[Literal::f32s(vec![2, 2], &[1.0; 4]).unwrap()]);
    assert!(
        bad.is_err(),
        "a rank-2 argument to a rank-1 parameter is an error"
    );
}

/// A random f32 program over `x: RxC`, `y: C` (broadcast), `z: CxR`
/// (transposed), and a flip of `x`: a short DAG of elementwise ops (mostly
/// ones the f32x4 shape has, sometimes one that forces the scalar shape),
/// returning the last value and a reduction of it.
fn random_program(rng: &mut Rng, rows: usize, cols: usize) -> Func {
    use Opcode as O;
    let t = |s: &[usize]| TensorType::from_dims(DType::F32, s);
    let mut f = Func::new("main", vec![t(&[rows, cols]), t(&[cols]), t(&[cols, rows])]);
    let (x, y, z) = (f.params[0], f.params[1], f.params[2]);
    let yb = f.push1(O::BroadcastLike, &[y, x], Attrs::new()).unwrap();
    let zt = f
        .push1(
            O::Transpose,
            &[z],
            Attrs::new().with("perm", Attr::Ints(vec![1, 0])),
        )
        .unwrap();
    let xf = f
        .push1(
            O::Flip,
            &[x],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    let mut pool = vec![x, yb, zt, xf];
    let unary = [
        O::Tanh,
        O::Sigmoid,
        O::Sin,
        O::Cos,
        O::Erf,
        O::Abs,
        O::Negative,
        O::Square,
        O::Exp,
        O::Floor,
        O::Sinh,
        O::Arctan,
    ];
    let binary = [
        O::Add,
        O::Subtract,
        O::Multiply,
        O::Maximum,
        O::Minimum,
        O::Arctan2,
    ];
    let n = 2 + rng.next() % 7;
    for _ in 0..n {
        let pick =
            |rng: &mut Rng, pool: &[psionic_ir::Value]| pool[(rng.next() as usize) % pool.len()];
        let v = match rng.next() % 3 {
            0 => {
                let mut op = unary[(rng.next() as usize) % unary.len()];
                // Exp only of bounded values.
                let a = pick(rng, &pool);
                if op == O::Exp {
                    let b = f.push1(O::Tanh, &[a], Attrs::new()).unwrap();
                    f.push1(O::Exp, &[b], Attrs::new()).unwrap()
                } else {
                    if op == O::Square && rng.next().is_multiple_of(2) {
                        op = O::Sigmoid;
                    }
                    f.push1(op, &[a], Attrs::new()).unwrap()
                }
            }
            1 => {
                let op = binary[(rng.next() as usize) % binary.len()];
                let (a, b) = (pick(rng, &pool), pick(rng, &pool));
                f.push1(op, &[a, b], Attrs::new()).unwrap()
            }
            _ => {
                let (a, b, c) = (pick(rng, &pool), pick(rng, &pool), pick(rng, &pool));
                let m = f.push1(O::Greater, &[a, b], Attrs::new()).unwrap();
                f.push1(O::Select, &[m, b, c], Attrs::new()).unwrap()
            }
        };
        pool.push(v);
    }
    let last = *pool.last().unwrap();
    let red = [O::ReduceSum, O::ReduceMax, O::LogSumExp][(rng.next() % 3) as usize];
    let axis = (rng.next() % 2) as i64;
    let r = f
        .push1(
            red,
            &[last],
            Attrs::new().with("axes", Attr::Ints(vec![axis])),
        )
        .unwrap();
    f.results = vec![last, r];
    f
}

#[test]
fn random_programs_match_the_interpreter() {
    let mut rng = Rng(0xdead_beef);
    let (mut ran, mut vector) = (0, 0);
    for case in 0..120 {
        let rows = 1 + (rng.next() % 19) as usize;
        let cols = 1 + (rng.next() % 37) as usize;
        let f = random_program(&mut rng, rows, cols);
        let args = [
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[rows, cols])),
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[cols])),
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[cols, rows])),
        ];
        // Short chains of well-conditioned ops: per-op library error (a few
        // ulp) compounds mildly; reductions add a row's worth of rounding.
        let o = check(&f, &args, 256, 1e-4 * cols.max(rows) as f64).unwrap_or_else(|| {
            panic!(
                "case {case} did not compile:\n{}",
                psionic_ir::text::print_func(&f)
            )
        });
        ran += 1;
        vector += o.vector;
    }
    eprintln!("random programs: {ran}, f32x4 kernels: {vector}");
    assert!(vector > 60, "only {vector} kernels took the f32x4 shape");
}

/// Long f32 rows, where the vector code keeps f32 partial sums flushed to
/// f64 every 32 adds a lane and the fusion pipeline splits full reductions
/// into per-chunk partials: the result stays within (32 + 8) · 2^-24 of
/// the row's absolute sum (plus one rounding) of the exact sum, for sums
/// that cancel and sums that do not; max and min are exact.
#[test]
fn long_f32_reductions_stay_within_the_stated_bound() {
    use Opcode as O;
    let mut rng = Rng(2024);
    let mut checked = 0;
    for (shape, axes) in [
        (vec![3usize, 5000], vec![1i64]),
        (vec![70_000], vec![0]),
        (vec![300, 300], vec![0, 1]),
        (vec![2, 64, 600], vec![1, 2]),
        (vec![40_000, 2], vec![0]),
        // Columns: 4 at a time, one per lane (row lanes), then the rest.
        (vec![30_000, 7], vec![0]),
        (vec![3, 5000, 9], vec![1]),
        (vec![600, 50, 12], vec![0, 1]),
    ] {
        for offset in [0.0, 1.0, 1e3] {
            let ty = TensorType::from_dims(DType::F32, &shape);
            let n: usize = shape.iter().product();
            let v: Vec<f64> = (0..n).map(|_| offset + 2.0 * rng.unit() - 1.0).collect();
            let x = Literal::from_f64(DType::F32, shape.clone(), &v).unwrap();
            for op in [O::ReduceSum, O::LogSumExp, O::ReduceMax, O::ReduceMin] {
                let mut f = Func::new("main", vec![ty.clone()]);
                let p = f.params[0];
                let r = f
                    .push1(
                        op,
                        &[p],
                        Attrs::new().with("axes", Attr::Ints(axes.clone())),
                    )
                    .unwrap();
                f.results = vec![r];
                let got = Executable::new(f.clone())
                    .run(std::slice::from_ref(&x))
                    .unwrap();
                let want = run_func(&f, std::slice::from_ref(&x)).unwrap();
                let (got, want) = (got[0].to_f64_vec(), want[0].to_f64_vec());
                let row = n / got.len();
                // The absolute sum of a row (of exp(x - max) for logsumexp,
                // relative to the sum itself: its error is in the log).
                let bound_rel = (32.0 + 8.0) * 2f64.powi(-24);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let ulp = 2f64.powi(-23) * w.abs().max(f64::MIN_POSITIVE);
                    let tol = match op {
                        O::ReduceSum => bound_rel * (offset.abs() + 1.0) * row as f64 + ulp,
                        O::LogSumExp => bound_rel + ulp,
                        _ => 0.0,
                    };
                    assert!(
                        (g - w).abs() <= tol,
                        "{op:?} shape {shape:?} axes {axes:?} offset {offset} row {i}: {g} vs {w} (tol {tol:e})"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100);
}

/// `sum((x - mean(x))^2)` (fusion's `acc.m2`) over long f32 rows: the
/// vector code takes the row mean in a first pass and sums the deviations
/// in f32 partials; against the f64 interpreter the result is within
/// (32 + 8) · 2^-24 relative, also for rows whose mean dwarfs their
/// spread (no cancellation), exactly 0 for constant rows, and NaN for rows
/// holding an infinity or a NaN.
#[test]
fn long_f32_variances_are_accurate() {
    let mut rng = Rng(99);
    for cols in [7usize, 1000, 4099] {
        let rows = 6;
        let shape = vec![rows, cols];
        let ty = TensorType::from_dims(DType::F32, &shape);
        let mut f = Func::new("main", vec![ty.clone()]);
        let x = f.params[0];
        let keep = |a: &[i64]| {
            Attrs::new()
                .with("axes", Attr::Ints(a.to_vec()))
                .with("keepdims", Attr::Bool(true))
        };
        let s = f.push1(Opcode::ReduceSum, &[x], keep(&[1])).unwrap();
        let inv = f
            .push1(
                Opcode::Full,
                &[],
                Attrs::new()
                    .with("shape", Attr::Ints(vec![rows as i64, 1]))
                    .with("value", Attr::Float(1.0 / cols as f64))
                    .with("dtype", Attr::DType(DType::F32)),
            )
            .unwrap();
        let mean = f.push1(Opcode::Multiply, &[s, inv], Attrs::new()).unwrap();
        let mean = f
            .push1(
                Opcode::Broadcast,
                &[mean],
                Attrs::new().with("shape", Attr::Ints(vec![rows as i64, cols as i64])),
            )
            .unwrap();
        let d = f.push1(Opcode::Subtract, &[x, mean], Attrs::new()).unwrap();
        let d2 = f.push1(Opcode::Multiply, &[d, d], Attrs::new()).unwrap();
        let m2 = f.push1(Opcode::ReduceSum, &[d2], keep(&[1])).unwrap();
        f.results = vec![m2];
        let types = vec![ty.clone()];
        let g = specialize(&f, &types).unwrap();
        let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
        assert!(
            psionic_ir::kernel::text::print_program(&kp).contains("acc.m2"),
            "the pattern fuses to acc.m2"
        );
        // Rows: centered, offset 1, offset 1e4 with spread 1, constant,
        // one infinity, one NaN.
        let mut v = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let u = 2.0 * rng.unit() - 1.0;
                v.push(match r {
                    0 => u,
                    1 => 1.0 + u,
                    2 => 1e4 + u,
                    3 => 5.0,
                    4 if c == cols / 2 => f64::INFINITY,
                    5 if c == cols / 3 => f64::NAN,
                    _ => u,
                });
            }
        }
        let a = Literal::from_f64(DType::F32, shape.clone(), &v).unwrap();
        let got = Executable::new(f.clone())
            .run(std::slice::from_ref(&a))
            .unwrap()[0]
            .to_f64_vec();
        let want = run_func(&f, &[a]).unwrap()[0].to_f64_vec();
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            match r {
                3 => assert_eq!(*g, 0.0, "constant row of {cols}: {g}"),
                4 | 5 => assert!(g.is_nan() && w.is_nan(), "row {r} of {cols}: {g} vs {w}"),
                _ => assert!(
                    (g - w).abs() <= 40.0 * 2f64.powi(-24) * w.abs() + 1e-30,
                    "row {r} of {cols}: {g} vs {w}"
                ),
            }
        }
    }
}

/// The row softmax takes one exponential per element: its sum pass stores
/// `exp(x - max)` to the output and a last pass scales by `1 / sum`
/// (`SoftmaxReuse` in codegen/src/cpu/jit.rs). Checked structurally (half
/// the exp code of a softmax whose map does more than store) and against
/// the interpreter at 8 ulp or 1e-6 on long rows, on rows of large
/// values, and on rows with -inf (masked), all -inf, +inf and NaN entries.
#[test]
fn softmax_takes_one_exp_per_element_and_matches_at_special_rows() {
    let softmax = |cols: usize, times_two: bool| {
        let ty = TensorType::from_dims(DType::F32, &[6, cols]);
        let mut f = Func::new("main", vec![ty]);
        let x = f.params[0];
        let mut s = f
            .push1(
                Opcode::Softmax,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            )
            .unwrap();
        if times_two {
            s = f.push1(Opcode::Add, &[s, s], Attrs::new()).unwrap();
        }
        f.results = vec![s];
        f
    };
    // The exp's rounding constant 1.5 * 2^23 appears once per copy of an
    // exp in the code: the sum pass has three (blocked main loop, main
    // loop, one-element tail); a map that computes its own exp adds two
    // (main loop, tail).
    let exps = |f: &Func| {
        let g = specialize(f, &f.param_types()).unwrap();
        let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
        let opts = CpuOptions {
            emit_clif: true,
            ..CpuOptions::default()
        };
        let code = compile_program(&kp, &opts).unwrap();
        code.clif().matches("f32const 0x1.800000p23").count()
    };
    let (one, two) = (exps(&softmax(64, false)), exps(&softmax(64, true)));
    assert!(one == 3 && two == one + 2, "exp copies: {one} vs {two}");
    let mut rng = Rng(5);
    for (cols, times_two) in [
        (1usize, false),
        (3, false),
        (64, false),
        (1001, false),
        (8192, false),
        (3, true),
        (1001, true),
    ] {
        // `times_two`: the map does more than store, so the kernel takes
        // the two-exp path; special rows must agree there too.
        let f = softmax(cols, times_two);
        let mut v = Vec::new();
        for r in 0..6 {
            for c in 0..cols {
                let u = 8.0 * rng.unit() - 4.0;
                v.push(match r {
                    // The two-exp path computes exp(x - lse) with lse
                    // rounded to f32, which costs |lse| * 2^-24 absolute in
                    // the exponent (docs/BACKENDS.md): large rows only on
                    // the one-exp path.
                    1 if !times_two => 1e4 + u,
                    1 => 30.0 + u,
                    2 if c % 3 == 0 => f64::NEG_INFINITY,
                    3 => f64::NEG_INFINITY,
                    4 if c == cols / 2 => f64::INFINITY,
                    5 if c == cols / 3 => f64::NAN,
                    _ => u,
                });
            }
        }
        let a = Literal::from_f64(DType::F32, vec![6, cols], &v).unwrap();
        let got = Executable::new(f.clone())
            .run(std::slice::from_ref(&a))
            .unwrap();
        let want = run_func(&f, &[a]).unwrap();
        if let Err(e) = compare_literals(&got[0], &want[0], 8, 1e-6) {
            panic!("softmax of {cols} (times two: {times_two}): {e}");
        }
    }
}

/// Casts between f32 and bool inside f32 kernels (relu's derivative
/// `cast(x > 0)`, masks from f32) keep the f32x4 shape, with bools as lane
/// masks, and agree exactly with the interpreter, NaN, ±0 and ±inf
/// included.
#[test]
fn mask_casts_keep_the_vector_shape() {
    let ty = TensorType::from_dims(DType::F32, &[3, 37]);
    let mut f = Func::new("main", vec![ty.clone(), ty.clone()]);
    let (x, y) = (f.params[0], f.params[1]);
    let cast = |f: &mut Func, v, d: DType| {
        f.push1(
            Opcode::Cast,
            &[v],
            Attrs::new().with("dtype", Attr::DType(d)),
        )
        .unwrap()
    };
    let gt = f.push1(Opcode::Greater, &[x, y], Attrs::new()).unwrap();
    let m = cast(&mut f, gt, DType::F32);
    let relu_grad = f.push1(Opcode::Multiply, &[m, y], Attrs::new()).unwrap();
    let xb = cast(&mut f, x, DType::Bool);
    let nb = f.push1(Opcode::LogicalNot, &[xb], Attrs::new()).unwrap();
    let nf = cast(&mut f, nb, DType::F32);
    let same = cast(&mut f, x, DType::F32);
    let out = f
        .push1(Opcode::Add, &[relu_grad, nf], Attrs::new())
        .unwrap();
    let out = f.push1(Opcode::Add, &[out, same], Attrs::new()).unwrap();
    f.results = vec![out];
    let mut rng = Rng(31);
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let vals = |rng: &mut Rng| -> Vec<f64> {
        (0..111)
            .map(|i| {
                if i % 5 == 0 {
                    special[(rng.next() % 7) as usize]
                } else {
                    4.0 * rng.unit() - 2.0
                }
            })
            .collect()
    };
    let a = Literal::from_f64(DType::F32, vec![3, 37], &vals(&mut rng)).unwrap();
    let b = Literal::from_f64(DType::F32, vec![3, 37], &vals(&mut rng)).unwrap();
    let out = check(&f, &[a, b], 0, 0.0).expect("compiles");
    assert_eq!(
        out.vector, out.kernels,
        "every kernel takes the f32x4 shape"
    );
}

/// Reductions over axes other than the innermost (column sums, bias
/// gradients) run 4 columns at a time, one per lane: vector loads in the
/// code, and exact agreement with the interpreter for max/min (NaN
/// included) and the kernel interpreter's tolerance for sums, with
/// column counts that are not multiples of 4, a consumer of the column
/// value in the same kernel, and a map stage storing `x - colmax`.
#[test]
fn column_reductions_run_four_columns_a_vector() {
    let mut rng = Rng(404);
    for (rows, cols) in [(256usize, 1024usize), (37, 10), (5, 3), (1000, 6)] {
        for op in [Opcode::ReduceSum, Opcode::ReduceMax, Opcode::ReduceMin] {
            let ty = TensorType::from_dims(DType::F32, &[rows, cols]);
            let mut f = Func::new("main", vec![ty.clone()]);
            let x = f.params[0];
            let r = f
                .push1(
                    op,
                    &[x],
                    Attrs::new()
                        .with("axes", Attr::Ints(vec![0]))
                        .with("keepdims", Attr::Bool(true)),
                )
                .unwrap();
            let y = f.push1(Opcode::Multiply, &[r, r], Attrs::new()).unwrap();
            let rb = f
                .push1(
                    Opcode::Broadcast,
                    &[r],
                    Attrs::new().with("shape", Attr::Ints(vec![rows as i64, cols as i64])),
                )
                .unwrap();
            let d = f.push1(Opcode::Subtract, &[x, rb], Attrs::new()).unwrap();
            f.results = vec![y, d];
            let n = rows * cols;
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 97 == 5 {
                        f64::NAN
                    } else {
                        4.0 * rng.unit() - 2.0
                    }
                })
                .collect();
            let a = Literal::from_f64(DType::F32, vec![rows, cols], &v).unwrap();
            let (ulps, atol) = match op {
                Opcode::ReduceSum => (4, 1e-5 * rows as f64),
                _ => (0, 0.0),
            };
            check(&f, &[a], ulps, atol).expect("compiles");
            if cols >= 4 {
                // The reduction alone (the map above could be a kernel of
                // its own, vectorized anyway).
                let mut f = f.clone();
                f.results = vec![y];
                let g = specialize(&f, &f.param_types()).unwrap();
                let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
                let opts = CpuOptions {
                    emit_clif: true,
                    ..CpuOptions::default()
                };
                let clif = compile_program(&kp, &opts).unwrap().clif();
                assert!(
                    clif.contains("load.f32x4"),
                    "{op:?} of {rows}x{cols}: no vector loads"
                );
            }
        }
    }
}

/// The SGD update `w - lr * (x^T @ g)` becomes the gradient matmul's
/// epilogue (one epilogue kernel, no separate elementwise pass), also when
/// the learning rate is broadcast with `broadcast_like` of the product
/// (a shape-only use that must not count as a second use of the product).
/// Every operand order and sign, f32 and f64, and a batched product.
#[test]
fn sgd_updates_become_the_gradient_matmuls_epilogue() {
    let forms = [
        ("%6 = tensor.multiply %3, %5", "%7 = tensor.subtract %2, %6"),
        ("%6 = tensor.multiply %5, %3", "%7 = tensor.add %2, %6"),
        ("%6 = tensor.multiply %3, %5", "%7 = tensor.add %6, %2"),
        ("%6 = tensor.copy %3", "%7 = tensor.add %3, %2"),
    ];
    let mut rng = Rng(8);
    for (dt, name) in [(DType::F32, "f32"), (DType::F64, "f64")] {
        for (mul, upd) in forms {
            for batch in [false, true] {
                let (m, k, n) = (9usize, 33usize, 17usize);
                let lead = if batch { "?x" } else { "" };
                let src = format!(
                    "func @main(%0: tensor<{lead}?x?x{name}>, %1: tensor<{lead}?x?x{name}>, %2: tensor<{lead}?x?x{name}>) -> (tensor<{lead}?x?x{name}>) {{
                       %3 = tensor.matmul %0, %1 : tensor<{lead}?x?x{name}>
                       %4 = tensor.constant {{value = dense<0.125> : tensor<{name}>}} : tensor<{name}>
                       %5 = tensor.broadcast_like %4, %3 : tensor<{lead}?x?x{name}>
                       {mul} : tensor<{lead}?x?x{name}>
                       {upd} : tensor<{lead}?x?x{name}>
                       return %7
                     }}"
                );
                let f = parse(&src);
                let shape = |r: usize, c: usize| {
                    if batch {
                        vec![2, r, c]
                    } else {
                        vec![r, c]
                    }
                };
                let args: Vec<Literal> = [shape(m, k), shape(k, n), shape(m, n)]
                    .iter()
                    .map(|s| random_literal(&mut rng, &TensorType::from_dims(dt, s)))
                    .collect();
                check(&f, &args, 16, 1e-4 * k as f64)
                    .unwrap_or_else(|| panic!("{name} {upd}: compiles"));
                let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
                let (kp, _) =
                    compile(&specialize(&f, &types).unwrap(), &CompileOptions::default()).unwrap();
                let items = &kp.items;
                assert!(
                    items.len() == 1
                        && matches!(&items[0], psionic_ir::kernel::Item::Matmul(m) if m.epilogue.len() > 2),
                    "{name} {mul}; {upd}: the update is the matmul's epilogue\n{}",
                    psionic_ir::kernel::text::print_program(&kp)
                );
            }
        }
    }
}
