//! Fusion of non-f32 programs: integers (wrapping), bools (all/any),
//! casts, and half precision, against the reference interpreter.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_passes::fusion::{fuse, lower_unfused};

fn args_for(f: &Func) -> Vec<Literal> {
    f.param_types()
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let shape = t.static_shape().unwrap();
            let n: usize = shape.iter().product();
            let vals: Vec<f64> = (0..n)
                .map(|i| ((i * 7 + k * 3) % 11) as f64 - 5.0)
                .collect();
            if t.dtype.is_integer() {
                let iv: Vec<i64> = vals.iter().map(|&v| v as i64 * 40_000_000).collect();
                Literal::from_i64(t.dtype, shape, &iv).unwrap()
            } else {
                Literal::from_f64(
                    t.dtype,
                    shape,
                    &vals.iter().map(|v| v / 3.0).collect::<Vec<_>>(),
                )
                .unwrap()
            }
        })
        .collect()
}

fn check(f: &Func, tol: f64) -> psionic_ir::kernel::KProgram {
    let args = args_for(f);
    let want = oracle(f, &args);
    let p = fuse(f).unwrap();
    check_text(&p);
    assert_close(&run(&p, &args), &want, tol);
    assert_close(&run(&lower_unfused(f).unwrap(), &args), &want, tol);
    p
}

#[test]
fn integer_arithmetic_wraps_and_reduces() {
    let t = TensorType::new(DType::I32, vec![3, 5]);
    let mut f = Func::new("main", vec![t.clone(), t]);
    let (a, b) = (f.params[0], f.params[1]);
    let p = f.push1(Opcode::Multiply, &[a, b], Attrs::new()).unwrap();
    let q = f.push1(Opcode::Add, &[p, a], Attrs::new()).unwrap();
    let s = f
        .push1(
            Opcode::ReduceSum,
            &[q],
            Attrs::new()
                .with("axes", Attr::Ints(vec![1]))
                .with("keepdims", Attr::Bool(true)),
        )
        .unwrap();
    let sb = f
        .push1(
            Opcode::Broadcast,
            &[s],
            Attrs::new().with("shape", Attr::Ints(vec![3, 5])),
        )
        .unwrap();
    let d = f
        .push1(Opcode::FloorDivide, &[q, sb], Attrs::new())
        .unwrap();
    f.results = vec![d, s];
    let p = check(&f, 0.0);
    assert_eq!(p.stats().kernels, 2, "{}", print_program(&p));
}

#[test]
fn bool_reductions_and_selects() {
    let t = TensorType::new(DType::F32, vec![4, 6]);
    let mut f = Func::new("main", vec![t.clone(), t]);
    let (a, b) = (f.params[0], f.params[1]);
    let gt = f.push1(Opcode::Greater, &[a, b], Attrs::new()).unwrap();
    let all = f
        .push1(
            Opcode::ReduceAll,
            &[gt],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    let any = f
        .push1(
            Opcode::ReduceAny,
            &[gt],
            Attrs::new().with("axes", Attr::Ints(vec![0, 1])),
        )
        .unwrap();
    let cnt = f
        .push1(
            Opcode::ReduceSum,
            &[gt],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    let sel = f.push1(Opcode::Select, &[gt, a, b], Attrs::new()).unwrap();
    let as_i = f
        .push1(
            Opcode::Cast,
            &[sel],
            Attrs::new().with("dtype", Attr::DType(DType::I16)),
        )
        .unwrap();
    f.results = vec![all, any, cnt, as_i];
    check(&f, 0.0);
}

#[test]
fn half_precision_softmax_and_layer_norm() {
    for dt in [DType::F16, DType::BF16] {
        let t = TensorType::new(dt, vec![3, 16]);
        let mut f = Func::new("main", vec![t]);
        let x = f.params[0];
        let s = f
            .push1(
                Opcode::Softmax,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            )
            .unwrap();
        let l = f
            .push1(
                Opcode::LogSumExp,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            )
            .unwrap();
        f.results = vec![s, l];
        // One rounding of the result in the kernel against the oracle's.
        let tol = if dt == DType::F16 { 2e-3 } else { 1.6e-2 };
        let p = check(&f, tol);
        assert_eq!(p.stats().kernels, 2, "{}", print_program(&p));
    }
}
