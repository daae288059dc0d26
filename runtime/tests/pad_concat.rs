//! `tensor.pad` and `tensor.concatenate` as generated kernels (guarded
//! loads, `load_or`), not library calls: random pads (random `low`/`high`
//! per axis, zeros included; a parameter, constant or NaN pad value) and
//! concatenations (1 to 4 pieces along the first, a middle or the last
//! axis), with elementwise producers and consumers, views around them and a
//! reduction, in f32/f16/i32/bool/u8. Each draw runs through the kernel
//! interpreter and the Cranelift JIT (and wgpu on lavapipe with the `wgpu`
//! feature) against the reference interpreter, and its compiled program
//! holds no `tensor.pad` / `tensor.concatenate` library call.

use psionic_ir::kernel::text::print_program;
use psionic_ir::kernel::{Instr, Item, KProgram};
use psionic_ir::specialize::specialize;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_runtime::exec::Executable;
use psionic_runtime::interp::{compare_literals, eval_op, run_func};
use psionic_runtime::kernel_interp::run_program_with;

mod common;
use common::{random_literal, Rng};

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

mod pad_concat_gen;
use pad_concat_gen::{draw, DTYPES};

fn has_guarded_pad_or_concat(kp: &KProgram) -> bool {
    kp.items.iter().any(
        |it| matches!(it, Item::LibOp(l) if matches!(l.opcode, Opcode::Pad | Opcode::Concatenate)),
    )
}

fn tolerance(d: DType) -> (u64, f64) {
    match d {
        DType::F16 => (1, 1e-2),
        _ => (4, 1e-5),
    }
}

#[test]
fn random_pads_and_concatenations_match_the_interpreter() {
    let mut rng = Rng(0x009a_dca7_1234_5678);
    let mut guarded = 0;
    for i in 0..300 {
        let d = DTYPES[i % DTYPES.len()];
        let case = draw(&mut rng, d);
        let want = run_func(&case.f, &case.args).unwrap();
        let types: Vec<TensorType> = case.args.iter().map(|a| a.ty()).collect();
        let g = specialize(&case.f, &types).unwrap();
        let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
        let text = print_program(&kp);
        assert!(!has_guarded_pad_or_concat(&kp), "{}\n{text}", case.desc);
        guarded += text.contains("load_or") as usize;
        let (ulps, atol) = tolerance(d);
        let got = run_program_with(&kp, &case.args, &eval_op).unwrap();
        compare_literals(&got[0], &want[0], ulps, atol)
            .unwrap_or_else(|e| panic!("kernel interpreter: {}: {e}\n{text}", case.desc));
        let got = Executable::new(case.f.clone())
            .strict()
            .run(&case.args)
            .unwrap_or_else(|e| panic!("{}: {e}", case.desc));
        compare_literals(&got[0], &want[0], ulps, atol)
            .unwrap_or_else(|e| panic!("JIT: {}: {e}\n{text}", case.desc));
    }
    assert!(guarded > 150, "only {guarded} programs with guarded loads");
}

/// With 64-bit integer kernels (the CUDA backend's setting), an i64 pad
/// and concatenation fuse too; the kernel interpreter runs them.
#[test]
fn wide_int_pads_fuse_when_kernels_hold_i64() {
    let mut rng = Rng(0x64);
    for _ in 0..40 {
        let case = draw(&mut rng, DType::I64);
        let want = run_func(&case.f, &case.args).unwrap();
        let types: Vec<TensorType> = case.args.iter().map(|a| a.ty()).collect();
        let g = specialize(&case.f, &types).unwrap();
        let mut opts = CompileOptions::default();
        opts.fusion.wide_int_kernels = true;
        let (kp, _) = compile(&g, &opts).unwrap();
        let text = print_program(&kp);
        assert!(!has_guarded_pad_or_concat(&kp), "{}\n{text}", case.desc);
        let got = run_program_with(&kp, &case.args, &eval_op).unwrap();
        compare_literals(&got[0], &want[0], 0, 0.0)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", case.desc));
    }
}

/// The printed program, which must parse back to the same program.
fn golden(f: &Func) -> String {
    let (kp, _) = compile(f, &CompileOptions::default()).unwrap();
    let text = print_program(&kp);
    let back = psionic_ir::kernel::text::parse_program(&text).unwrap();
    assert_eq!(print_program(&back), text);
    text
}

#[test]
fn golden_exp_of_pad_plus_one() {
    let t = TensorType::from_dims(DType::F32, &[2, 3]);
    let mut f = Func::new("main", vec![t]);
    let x = f.params[0];
    let z = Literal::from_f64(DType::F32, vec![], &[0.0]).unwrap();
    let z = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(z)),
        )
        .unwrap();
    let p = f
        .push1(
            Opcode::Pad,
            &[x, z],
            Attrs::new()
                .with("low", ints(&[1, 0]))
                .with("high", ints(&[0, 2])),
        )
        .unwrap();
    let e = f.push1(Opcode::Exp, &[p], Attrs::new()).unwrap();
    let one = Literal::from_f64(DType::F32, vec![], &[1.0]).unwrap();
    let one = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(one)),
        )
        .unwrap();
    let one = f
        .push1(
            Opcode::Broadcast,
            &[one],
            Attrs::new().with("shape", ints(&[3, 5])),
        )
        .unwrap();
    let y = f.push1(Opcode::Add, &[e, one], Attrs::new()).unwrap();
    f.results = vec![y];
    let want = "\
kernel.program @main(%b0: tensor<2x3xf32>) -> (tensor<3x5xf32>) {
  %b1 = kernel.buffer : tensor<3x5xf32>
  kernel.fused @k0 domain [3, 5] reduce [] {
    map {
      %0 = const 0.0 : f32
      %1 = load_or %b0[-3; 3, 1] in [1, 0]..[3, 3] else %0 : f32
      %2 = exp %1 : f32
      %3 = const 1.0 : f32
      %4 = add %2, %3 : f32
      store %b1[0; 5, 1], %4 : f32
    }
  }
  return %b1
}
";
    assert_eq!(golden(&f), want);
    let x = random_literal(&mut Rng(3), &f.param_types()[0]);
    let got = Executable::new(f.clone())
        .strict()
        .run(std::slice::from_ref(&x))
        .unwrap();
    compare_literals(&got[0], &run_func(&f, &[x]).unwrap()[0], 4, 0.0).unwrap();
}

#[test]
fn golden_concat_times_two() {
    let ta = TensorType::from_dims(DType::F32, &[2, 3]);
    let tb = TensorType::from_dims(DType::F32, &[2, 2]);
    let mut f = Func::new("main", vec![ta, tb]);
    let (a, b) = (f.params[0], f.params[1]);
    let c = f
        .push1(
            Opcode::Concatenate,
            &[a, b],
            Attrs::new().with("axis", Attr::Int(1)),
        )
        .unwrap();
    let two = Literal::from_f64(DType::F32, vec![], &[2.0]).unwrap();
    let two = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(two)),
        )
        .unwrap();
    let two = f
        .push1(
            Opcode::Broadcast,
            &[two],
            Attrs::new().with("shape", ints(&[2, 5])),
        )
        .unwrap();
    let y = f.push1(Opcode::Multiply, &[c, two], Attrs::new()).unwrap();
    f.results = vec![y];
    let want = "\
kernel.program @main(%b0: tensor<2x3xf32>, %b1: tensor<2x2xf32>) -> (tensor<2x5xf32>) {
  %b2 = kernel.buffer : tensor<2x5xf32>
  kernel.fused @k0 domain [2, 5] reduce [] {
    map {
      %0 = const 0.0 : f32
      %1 = load_or %b0[0; 3, 1] in [0, 0]..[2, 3] else %0 : f32
      %2 = load_or %b1[-3; 2, 1] in [0, 3]..[2, 5] else %1 : f32
      %3 = const 2.0 : f32
      %4 = multiply %2, %3 : f32
      store %b2[0; 5, 1], %4 : f32
    }
  }
  return %b2
}
";
    assert_eq!(golden(&f), want);
}

/// A padded convolution: the padding is a generated kernel, no library call.
#[test]
fn padded_convolution_has_no_library_call() {
    let xt = TensorType::from_dims(DType::F32, &[1, 5, 5, 2]);
    let wt = TensorType::from_dims(DType::F32, &[3, 3, 3, 2]);
    let mut f = Func::new("main", vec![xt.clone(), wt.clone()]);
    let ps = f.params.clone();
    let attrs = Attrs::new()
        .with("kernel_strides", ints(&[1, 1]))
        .with("padding_lo", ints(&[1, 2]))
        .with("padding_hi", ints(&[1, 0]))
        .with("kernel_dilation", ints(&[1, 1]))
        .with("input_dilation", ints(&[1, 2]))
        .with("groups", Attr::Int(1))
        .with("flip", Attr::Bool(false));
    let y = f.push1(Opcode::ConvGeneral, &ps, attrs).unwrap();
    f.results = vec![y];
    let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
    let text = print_program(&kp);
    assert!(
        !kp.items.iter().any(|it| matches!(it, Item::LibOp(_))),
        "{text}"
    );
    assert!(
        kp.items.iter().any(|it| match it {
            Item::Kernel(k) => k
                .stages
                .iter()
                .flat_map(|s| &s.nodes)
                .any(|n| matches!(n.instr, Instr::LoadOr { .. })),
            _ => false,
        }),
        "{text}"
    );
    let mut rng = Rng(11);
    let args = [random_literal(&mut rng, &xt), random_literal(&mut rng, &wt)];
    let want = run_func(&f, &args).unwrap();
    let got = Executable::new(f).strict().run(&args).unwrap();
    compare_literals(&got[0], &want[0], 16, 1e-4).unwrap();
}

#[cfg(feature = "wgpu")]
#[test]
fn random_pads_and_concatenations_on_wgpu() {
    use psionic_runtime::wgpu::{load_program, unavailable};
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED random_pads_and_concatenations_on_wgpu: {why}");
        return;
    }
    let mut rng = Rng(0x009a_dca7_1234_5678);
    for i in 0..120 {
        let d = DTYPES[i % DTYPES.len()];
        let case = draw(&mut rng, d);
        let want = run_func(&case.f, &case.args).unwrap();
        let types: Vec<TensorType> = case.args.iter().map(|a| a.ty()).collect();
        let g = specialize(&case.f, &types).unwrap();
        let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
        let text = print_program(&kp);
        assert!(!has_guarded_pad_or_concat(&kp), "{}\n{text}", case.desc);
        let prog = load_program(&kp).unwrap_or_else(|e| panic!("{}: {e}\n{text}", case.desc));
        let got = prog.run(&case.args).expect("wgpu run");
        let (ulps, atol) = tolerance(d);
        let atol = if d == DType::F32 { 1e-4 } else { atol };
        compare_literals(&got[0], &want[0], ulps, atol)
            .unwrap_or_else(|e| panic!("wgpu: {}: {e}\n{text}", case.desc));
    }
}
