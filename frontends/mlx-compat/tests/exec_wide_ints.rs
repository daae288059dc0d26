//! Programs with 64-bit integers compile to native code: every op reading
//! or writing an `i64`/`u64` runs as a library call (the interpreter's
//! exact `eval_op`), the rest in Cranelift kernels. Before, any such value
//! sent the whole program to the interpreter, so a compiled training step
//! (the optimizers' `step` counter is a `u64`, as in MLX) never ran natively.

use psionic_mlx::optimizers::{Optimizer, SGD};
use psionic_mlx::transforms::{value_and_grad, Tree};
use psionic_mlx::*;
use psionic_runtime::exec::Executable;
use psionic_runtime::interp::run_func;

fn lit(a: &Array) -> psionic_ir::Literal {
    eval(&[a]).unwrap();
    a.value().unwrap().clone()
}

#[test]
fn wide_integers_run_exactly_inside_native_code() {
    let step = scalar(41u64);
    let w = array(
        &(0..96).map(|i| i as f32 * 0.25).collect::<Vec<_>>(),
        &[8, 12],
    );
    // Values far above 2^53, where an f64 register would drop low bits.
    let big_v: Vec<i64> = (0..5).map(|i| (1i64 << 60) + 2 * i + 1).collect();
    let big = array(&big_v, &[5]);
    let types = vec![step.ty().clone(), w.ty().clone(), big.ty().clone()];
    let func = trace(
        |xs| {
            let s = &xs[0] + 1u32;
            let scaled = exp(&(&xs[1] * 0.1)) + astype(&s, DType::F32);
            let b = &xs[2] * 3i32 - 7i32;
            let flipped = max(&b, Axes::All, false);
            vec![s, scaled, b, flipped]
        },
        &types,
    )
    .unwrap();
    let exe = Executable::new(func.clone());
    let args = vec![lit(&step), lit(&w), lit(&big)];
    let prepared = exe
        .prepared(&args.iter().map(|a| a.ty()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(prepared.fallback(), None, "compiled natively");
    let got = exe.run(&args).unwrap();
    let want = run_func(&func, &args).unwrap();
    let arr = |l: &psionic_ir::Literal| Array::from_literal(l.clone());
    assert_eq!(arr(&got[0]).item::<u64>().unwrap(), 42);
    let b: Vec<i64> = arr(&got[2]).to_vec().unwrap();
    let exact: Vec<i64> = big_v.iter().map(|v| v.wrapping_mul(3) - 7).collect();
    assert_eq!(b, exact, "no low bits lost");
    assert_eq!(
        arr(&got[3]).item::<i64>().unwrap(),
        *exact.iter().max().unwrap()
    );
    let (g, e) = (
        arr(&got[1]).to_vec::<f32>().unwrap(),
        arr(&want[1]).to_vec::<f32>().unwrap(),
    );
    for (x, y) in g.iter().zip(&e) {
        assert!((x - y).abs() <= 1e-5 * y.abs(), "{x} vs {y}");
    }
}

#[test]
fn a_traced_optimizer_step_compiles_natively() {
    let w = array(&[0.5f32, -1.0, 2.0, 0.25], &[2, 2]);
    let x = array(&[1.0f32, 2.0, -1.0, 0.5], &[2, 2]);
    let params = Nest::dict([("w", Nest::Leaf(w))]);
    let opt = SGD::new(0.1).momentum(0.9);
    let state = opt.init_state(&params).unwrap();
    let template = (params.clone(), state.clone());
    let mut types: Vec<TensorType> = template.leaves().iter().map(|a| a.ty().clone()).collect();
    types.push(x.ty().clone());
    let n = template.leaves().len();
    let func = trace(
        |xs| {
            #[allow(clippy::unnecessary_to_owned)]
            let mut it = xs[..n].to_vec().into_iter();
            let (p, s) = template.rebuild(&mut it).unwrap();
            let xin = xs[n].clone();
            let loss = |a: &(Nest, Array)| {
                let y = matmul(&a.1, a.0.array_at("w").unwrap());
                (&y * &y).sum(Axes::All, false)
            };
            let (l, (g, _)) = value_and_grad(loss)(&(p.clone(), xin));
            let (p, s) = opt.apply_gradients(&g, &p, &s).unwrap();
            let mut out = vec![l];
            out.extend((p, s).leaves());
            out
        },
        &types,
    )
    .unwrap();
    assert!(
        func.value_types.iter().any(|t| t.dtype == DType::U64),
        "the state's step is a u64"
    );
    let exe = Executable::new(func.clone());
    let mut args: Vec<_> = template.leaves().iter().map(lit).collect();
    args.push(lit(&x));
    let prepared = exe
        .prepared(&args.iter().map(|a| a.ty()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(prepared.fallback(), None);
    for _ in 0..3 {
        let got = exe.run(&args).unwrap();
        let want = run_func(&func, &args).unwrap();
        for (g, w) in got.iter().zip(&want) {
            let (g, w) = (
                Array::from_literal(g.clone()),
                Array::from_literal(w.clone()),
            );
            if g.dtype() == DType::U64 {
                assert_eq!(g.item::<u64>().unwrap(), w.item::<u64>().unwrap());
                continue;
            }
            for (a, b) in g
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .zip(&w.to_vec::<f32>().unwrap())
            {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
        let mut next: Vec<_> = got[1..].to_vec();
        next.push(args[n].clone());
        args = next;
    }
}
