//! Differential tests of the wgpu backend (`psionic_runtime::wgpu`, shaders
//! from `psionic_codegen::wgpu`) against the interpreters, on whatever
//! Vulkan adapter this machine has (Mesa's lavapipe in CI). Without an
//! adapter every test prints a visible `SKIPPED` note and returns.
//!
//! Each function is fused and planned once; the planned program runs on the
//! GPU and through the kernel interpreter (same program: a difference is
//! code generation or the device's arithmetic), and is also checked loosely
//! against the tensor interpreter. Tolerances (docs/BACKENDS.md):
//! - integers and bools: exact;
//! - f32 `+ - * /`, comparisons, casts, rounding, min/max, select: 2 ulp
//!   (Vulkan allows 2.5 ulp for division);
//! - f32 math functions (exp, log, sin, tanh, erf, pow, ...): 64 ulp or
//!   2e-6 absolute (Vulkan's precision rules; lavapipe is far better);
//! - f16/bf16: 1 ulp of the format (one f32 rounding before the format's);
//! - reductions: as above plus 1e-5 · row length absolute (f32 tree sums
//!   against the interpreter's f64);
//! - matmul: 1e-4 · k absolute (f32 accumulation in another order).
#![cfg(feature = "wgpu")]

use psionic_ir::specialize::specialize;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, OpClass, Opcode, TensorType, OP_DEFS};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_runtime::interp::{compare_literals, eval_op, run_func};
use psionic_runtime::kernel_interp::run_program_with;
use psionic_runtime::wgpu::{load_program, unavailable, WgpuExecutable};

mod common;
use common::{random_literal, Rng};

fn skip(test: &str) -> bool {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED {test}: {why}");
        return true;
    }
    false
}

/// Runs `f` on the GPU and through the kernel interpreter; panics with the
/// program and its WGSL on mismatch. None: the kernel level cannot run it.
fn check(f: &Func, args: &[Literal], ulps: u64, atol: f64) -> Option<Vec<Literal>> {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let g = specialize(f, &types).expect("specialize");
    let (kp, _) = compile(&g, &CompileOptions::default()).ok()?;
    let want = run_program_with(&kp, args, &eval_op).ok()?;
    let prog = load_program(&kp).unwrap_or_else(|e| {
        panic!(
            "wgpu compile failed: {e}\n{}",
            psionic_ir::kernel::text::print_program(&kp)
        )
    });
    let got = prog.run(args).expect("wgpu run");
    assert_eq!(got.len(), want.len());
    for (g2, w) in got.iter().zip(&want) {
        let dt = w.dtype();
        // f16/bf16 results: one ulp of their own format (they are
        // rounded from f32 after every node, as the interpreter rounds).
        let (u, a) = if dt == DType::F16 || dt == DType::BF16 {
            (1, atol)
        } else {
            (ulps, atol)
        };
        if let Err(e) = compare_literals(g2, w, u, a) {
            let shaders: Vec<String> = prog
                .shaders
                .items
                .iter()
                .filter_map(|i| match i {
                    psionic_codegen::wgpu::GpuItem::Shader(s) => Some(s.wgsl.clone()),
                    _ => None,
                })
                .collect();
            panic!(
                "wgpu vs kernel interpreter: {e}\n{}\n{}",
                psionic_ir::kernel::text::print_program(&kp),
                shaders.join("\n")
            );
        }
    }
    Some(want)
}

const DTYPES: [DType; 10] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::Bool,
];

fn math_op(op: Opcode) -> bool {
    use Opcode as O;
    !matches!(
        op,
        O::Add
            | O::Subtract
            | O::Multiply
            | O::Divide
            | O::Negative
            | O::Abs
            | O::Square
            | O::Sign
            | O::Maximum
            | O::Minimum
            | O::Floor
            | O::Ceil
            | O::Round
            | O::Equal
            | O::NotEqual
            | O::Less
            | O::LessEqual
            | O::Greater
            | O::GreaterEqual
    )
}

#[test]
fn every_elementwise_op_and_dtype_matches_the_interpreter() {
    if skip("every_elementwise_op_and_dtype_matches_the_interpreter") {
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ran = 0;
    let mut covered = std::collections::BTreeSet::new();
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
            let shape = vec![3usize, 37];
            let ty = TensorType::from_dims(dt, &shape);
            let arity = if def.class == OpClass::Unary { 1 } else { 2 };
            let mut f = Func::new("main", vec![ty.clone(); arity]);
            let ps = f.params.clone();
            let Ok(r) = f.push1(op, &ps, Attrs::new()) else {
                continue;
            };
            f.results = vec![r];
            let args: Vec<Literal> = (0..arity).map(|_| random_literal(&mut rng, &ty)).collect();
            let (ulps, atol) = if dt.is_float() && math_op(op) {
                (64, 2e-6)
            } else {
                (2, 0.0)
            };
            if check(&f, &args, ulps, atol).is_some() {
                ran += 1;
                covered.insert((op.name(), dt.name()));
            }
        }
    }
    eprintln!(
        "wgpu elementwise cases: {ran}, op/dtype pairs: {}",
        covered.len()
    );
    assert!(ran > 350, "only {ran} op/dtype cases ran");
}

#[test]
fn casts_between_every_wgsl_dtype() {
    if skip("casts_between_every_wgsl_dtype") {
        return;
    }
    let mut rng = Rng(99);
    let mut ran = 0;
    for &from in &DTYPES {
        for &to in &DTYPES {
            let ty = TensorType::from_dims(from, &[50]);
            let mut f = Func::new("main", vec![ty.clone()]);
            let x = f.params[0];
            let r = f
                .push1(
                    Opcode::Cast,
                    &[x],
                    Attrs::new().with("dtype", Attr::DType(to)),
                )
                .unwrap();
            f.results = vec![r];
            // Values beyond every narrow range, and fractions.
            let a = if from.is_float() {
                let v: Vec<f64> = (0..50).map(|_| rng.unit() * 700.0 - 350.0).collect();
                Literal::from_f64(from, vec![50], &v).unwrap()
            } else {
                random_literal(&mut rng, &ty)
            };
            if check(&f, &[a], 0, 0.0).is_some() {
                ran += 1;
            }
        }
    }
    assert_eq!(ran, DTYPES.len() * DTYPES.len());
}

#[test]
fn reductions_match_the_interpreter() {
    if skip("reductions_match_the_interpreter") {
        return;
    }
    let mut rng = Rng(77);
    use Opcode as O;
    let mut cases = 0;
    for dt in [DType::F32, DType::I32, DType::F16, DType::U8, DType::Bool] {
        for shape in [
            vec![5usize, 13],
            vec![4, 300],
            vec![3, 4, 5],
            vec![1000],
            vec![2, 0],
        ] {
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
                        if dt.is_integral() {
                            continue;
                        }
                        let n = ty.num_elements().unwrap();
                        let v: Vec<f64> = (0..n).map(|_| 0.9 + 0.2 * rng.unit()).collect();
                        Literal::from_f64(dt, shape.clone(), &v).unwrap()
                    } else {
                        random_literal(&mut rng, &ty)
                    };
                    let row = shape.iter().product::<usize>() as f64;
                    let (ulps, atol) = if dt.is_float() {
                        (8, 1e-5 * row)
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
    eprintln!("wgpu reduction cases: {cases}");
    assert!(cases > 150, "only {cases} reduction cases ran");
}

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).unwrap_or_else(|e| panic!("{e}"))
}

pub fn softmax() -> Func {
    parse(
        "func @main(%0: tensor<?x?xf32>) -> (tensor<?x?xf32>) {
           %1 = tensor.softmax %0 {axes = [1]} : tensor<?x?xf32>
           return %1
         }",
    )
}

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

fn mlp() -> Func {
    parse(
        "func @main(%0: tensor<?x?xf32>, %1: tensor<?x?xf32>, %2: tensor<?xf32>) -> (tensor<?x?xf32>) {
           %3 = tensor.matmul %0, %1 : tensor<?x?xf32>
           %4 = tensor.broadcast_like %2, %3 : tensor<?x?xf32>
           %5 = tensor.add %3, %4 : tensor<?x?xf32>
           %6 = tensor.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
           %7 = tensor.broadcast_like %6, %5 : tensor<?x?xf32>
           %8 = tensor.maximum %5, %7 : tensor<?x?xf32>
           return %8
         }",
    )
}

#[test]
fn softmax_layer_norm_matmul_and_batched_matmul() {
    if skip("softmax_layer_norm_matmul_and_batched_matmul") {
        return;
    }
    let mut rng = Rng(5);
    let t = |s: &[usize]| TensorType::from_dims(DType::F32, s);
    for (rows, cols) in [(1usize, 1usize), (3, 5), (17, 64), (64, 257), (2, 1000)] {
        let x = random_literal(&mut rng, &t(&[rows, cols]));
        check(&softmax(), std::slice::from_ref(&x), 8, 1e-6).expect("softmax compiles");
        let w = random_literal(&mut rng, &t(&[cols]));
        let b = random_literal(&mut rng, &t(&[cols]));
        check(&layer_norm(rows, cols), &[x.clone(), w, b], 16, 1e-5).expect("layer norm");
        let a = random_literal(&mut rng, &t(&[rows, cols]));
        let bm = random_literal(&mut rng, &t(&[cols, 70]));
        let bias = random_literal(&mut rng, &t(&[70]));
        check(&mlp(), &[a, bm, bias], 16, 1e-4 * cols as f64).expect("matmul");
    }
    // Batched, transposed operand (stride swap), flipped operand (a
    // negative stride).
    let bmm = parse(
        "func @main(%0: tensor<3x5x7xf32>, %1: tensor<3x9x7xf32>) -> (tensor<3x5x9xf32>) {
           %2 = tensor.transpose %1 {perm = [0, 2, 1]} : tensor<3x7x9xf32>
           %3 = tensor.matmul %0, %2 : tensor<3x5x9xf32>
           return %3
         }",
    );
    let a = random_literal(&mut rng, &t(&[3, 5, 7]));
    let b = random_literal(&mut rng, &t(&[3, 9, 7]));
    check(&bmm, &[a, b], 16, 1e-4 * 7.0).expect("batched matmul");
    let fmm = parse(
        "func @main(%0: tensor<33x70xf32>, %1: tensor<70x65xf32>) -> (tensor<33x65xf32>) {
           %2 = tensor.flip %1 {axes = [0]} : tensor<70x65xf32>
           %3 = tensor.matmul %0, %2 : tensor<33x65xf32>
           return %3
         }",
    );
    let a = random_literal(&mut rng, &t(&[33, 70]));
    let b = random_literal(&mut rng, &t(&[70, 65]));
    check(&fmm, &[a, b], 16, 1e-4 * 70.0).expect("matmul of a flipped operand");
}

#[test]
fn library_ops_run_on_the_host_and_f64_falls_back_or_is_a_clear_error() {
    if skip("library_ops_run_on_the_host_and_f64_falls_back_or_is_a_clear_error") {
        return;
    }
    let f = parse(
        "func @main(%0: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
           %1 = tensor.sort %0 {axis = 0} : tensor<?xf32>
           %2 = tensor.exp %1 : tensor<?xf32>
           return %1, %2
         }",
    );
    let exe = WgpuExecutable::new(f.clone());
    let mut rng = Rng(11);
    // 5 and 9: a sort shader; 1500 is longer than one holds: a host call.
    for n in [5usize, 9, 5, 1500] {
        let x = random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[n]));
        let got = exe.run(std::slice::from_ref(&x)).unwrap();
        let want = run_func(&f, &[x]).unwrap();
        compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        compare_literals(&got[1], &want[1], 64, 1e-6).unwrap();
    }
    let g = parse(
        "func @main(%0: tensor<4xf64>) -> (tensor<4xf64>) {
           %1 = tensor.exp %0 : tensor<4xf64>
           return %1
         }",
    );
    let x = Literal::from_f64(DType::F64, vec![4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    // The executable runs it on the interpreter (tests/gpu_fallback.rs);
    // strictly, it is an error naming the dtype.
    let exe = WgpuExecutable::new(g.clone());
    let p = exe.prepared(&[x.ty()]).unwrap();
    assert_eq!(p.fallback(), Some("wgpu: f64 has no WGSL type"));
    let got = p.run(std::slice::from_ref(&x)).unwrap();
    compare_literals(
        &got[0],
        &run_func(&g, std::slice::from_ref(&x)).unwrap()[0],
        0,
        0.0,
    )
    .unwrap();
    let e = WgpuExecutable::new(g).strict().run(&[x]).unwrap_err();
    assert!(
        e.message.contains("f64") && e.message.contains("WGSL"),
        "unclear error: {}",
        e.message
    );
}

/// A random f32 program over `x: RxC`, `y: C` (broadcast), `z: CxR`
/// (transposed) and a flip of `x`: a short DAG of elementwise ops returning
/// the last value and a reduction of it.
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
                let op = unary[(rng.next() as usize) % unary.len()];
                let a = pick(rng, &pool);
                if op == O::Exp {
                    let b = f.push1(O::Tanh, &[a], Attrs::new()).unwrap();
                    f.push1(O::Exp, &[b], Attrs::new()).unwrap()
                } else if op == O::Square || op == O::Sinh {
                    // Bounded growth over a chain.
                    let b = f.push1(O::Tanh, &[a], Attrs::new()).unwrap();
                    f.push1(op, &[b], Attrs::new()).unwrap()
                } else {
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
fn random_programs_match_the_interpreters() {
    if skip("random_programs_match_the_interpreters") {
        return;
    }
    let seed = std::env::var("PSIONIC_WGPU_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xdead_beefu64);
    let mut rng = Rng(seed);
    for case in 0..80 {
        let rows = 1 + (rng.next() % 19) as usize;
        let cols = 1 + (rng.next() % 300) as usize;
        let f = random_program(&mut rng, rows, cols);
        let args = [
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[rows, cols])),
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[cols])),
            random_literal(&mut rng, &TensorType::from_dims(DType::F32, &[cols, rows])),
        ];
        let tol = 1e-4 * cols.max(rows) as f64;
        let want = check(&f, &args, 256, tol).unwrap_or_else(|| {
            panic!(
                "case {case} (seed {seed}) did not compile:\n{}",
                psionic_ir::text::print_func(&f)
            )
        });
        // And the tensor interpreter on the unfused function.
        let direct = run_func(&f, &args).unwrap();
        for (w, d) in want.iter().zip(&direct) {
            compare_literals(w, d, 256, tol)
                .unwrap_or_else(|e| panic!("case {case}: kernel level vs run_func: {e}"));
        }
    }
}
