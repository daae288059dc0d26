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

/// `wide_int_kernels` decides whether 64-bit integer ops fuse: off (the
/// CPU's setting) each one is a library op; on (CUDA's) an i64 chain and
/// its reduction are kernels, with no library call. A splat constant past 2^53 stays exact:
/// it is loaded from its buffer, not inlined as an f64.
#[test]
fn wide_int_kernels_fuse_i64_chains_only_when_asked() {
    use psionic_passes::fusion::{lower, FusionOptions};
    let t = TensorType::new(DType::I64, vec![3, 5]);
    let mut f = Func::new("main", vec![t.clone(), t.clone()]);
    let (a, b) = (f.params[0], f.params[1]);
    let p = f.push1(Opcode::Multiply, &[a, b], Attrs::new()).unwrap();
    let big = (1i64 << 53) + 1;
    let c = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with(
                "value",
                Attr::Dense(Literal::from_i64(DType::I64, vec![3, 5], &[big; 15]).unwrap()),
            ),
        )
        .unwrap();
    let q = f.push1(Opcode::Add, &[p, c], Attrs::new()).unwrap();
    let s = f
        .push1(
            Opcode::ReduceSum,
            &[q],
            Attrs::new()
                .with("axes", Attr::Ints(vec![1]))
                .with("keepdims", Attr::Bool(true)),
        )
        .unwrap();
    f.results = vec![q, s];

    // (Not `check_text`: an i64 constant buffer past 2^53 prints exactly
    // but does not parse back exactly.)
    let verify = |p: &psionic_ir::kernel::KProgram| {
        psionic_ir::kernel::verify::verify_program(p)
            .unwrap_or_else(|e| panic!("{e}\n{}", print_program(p)))
    };
    let cpu = fuse(&f).unwrap();
    verify(&cpu);
    let st = cpu.stats();
    assert_eq!(
        (st.kernels, st.library_calls),
        (0, 3),
        "{}",
        print_program(&cpu)
    );

    let opts = FusionOptions {
        wide_int_kernels: true,
        ..FusionOptions::default()
    };
    let gpu = lower(&f, &opts).unwrap();
    verify(&gpu);
    let text = print_program(&gpu);
    let st = gpu.stats();
    assert_eq!((st.kernels, st.library_calls), (2, 0), "{text}");
    // The constant is a buffer (exact bytes), not an inlined f64.
    assert!(!text.contains("const 9007199254740992"), "{text}");
    assert!(
        gpu.buffers
            .iter()
            .any(|b| matches!(&b.kind, psionic_ir::kernel::BufferKind::Const(_))),
        "{text}"
    );
    // Small values (exact in the kernel interpreter's f64) agree.
    let args = args_for(&f);
    let small: Vec<Literal> = args
        .iter()
        .map(|l| {
            let v: Vec<i64> = l.to_i64_vec().iter().map(|x| x / 40_000_000).collect();
            Literal::from_i64(DType::I64, vec![3, 5], &v).unwrap()
        })
        .collect();
    let mut g = f.clone();
    // Same program with a small constant, inlined this time.
    let small_c = Attr::Dense(Literal::from_i64(DType::I64, vec![3, 5], &[7; 15]).unwrap());
    g.ops[1].attrs = Attrs::new().with("value", small_c);
    let gp = lower(&g, &opts).unwrap();
    check_text(&gp);
    assert!(
        print_program(&gp).contains("const 7"),
        "{}",
        print_program(&gp)
    );
    assert_close(&run(&gp, &small), &oracle(&g, &small), 0.0);
}
