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

/// An f32 constant `v` broadcast to `shape`, as a tracer records a scalar.
fn splat(f: &mut Func, v: f64, shape: &[i64]) -> psionic_ir::Value {
    let c = Literal::from_f64(DType::F32, vec![], &[v]).unwrap();
    let c = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(c)),
        )
        .unwrap();
    f.push1(
        Opcode::Broadcast,
        &[c],
        Attrs::new().with("shape", ints(shape)),
    )
    .unwrap()
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
    let one = splat(&mut f, 1.0, &[3, 5]);
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
    let two = splat(&mut f, 2.0, &[2, 5]);
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

// ---------- guarded loads beside gathers and scans ----------

/// Whether some kernel of `kp` holds a node matching each of `want`.
fn one_kernel_holds(kp: &KProgram, want: &[fn(&Instr) -> bool]) -> bool {
    kp.items.iter().any(|it| match it {
        Item::Kernel(k) => want
            .iter()
            .all(|w| k.stages.iter().flat_map(|s| &s.nodes).any(|n| w(&n.instr))),
        _ => false,
    })
}

fn is_load_or(i: &Instr) -> bool {
    matches!(i, Instr::LoadOr { .. })
}

/// `take_along_axis(concat([a, b], 1), concat([i1, i2], 1), 1) + pad(c)`
/// and its row sums: the gather's indices are guarded loads inline before
/// it, and the padded addend is one more guarded load of the same kernel.
fn gather_beside_pads() -> (Func, Vec<Literal>) {
    let f32t = |d: &[usize]| TensorType::from_dims(DType::F32, d);
    let i32t = |d: &[usize]| TensorType::from_dims(DType::I32, d);
    let mut f = Func::new(
        "main",
        vec![
            f32t(&[4, 3]),
            f32t(&[4, 5]),
            i32t(&[4, 2]),
            i32t(&[4, 4]),
            f32t(&[4, 3]),
            f32t(&[]),
        ],
    );
    let p = f.params.clone();
    let axis1 = || Attrs::new().with("axis", Attr::Int(1));
    let s = f
        .push1(Opcode::Concatenate, &[p[0], p[1]], axis1())
        .unwrap();
    let idx = f
        .push1(Opcode::Concatenate, &[p[2], p[3]], axis1())
        .unwrap();
    let g = f.push1(Opcode::TakeAlongAxis, &[s, idx], axis1()).unwrap();
    let padded = f
        .push1(
            Opcode::Pad,
            &[p[4], p[5]],
            Attrs::new()
                .with("low", ints(&[0, 1]))
                .with("high", ints(&[0, 2])),
        )
        .unwrap();
    let r = f.push1(Opcode::Add, &[g, padded], Attrs::new()).unwrap();
    let sums = f
        .push1(
            Opcode::ReduceSum,
            &[r],
            Attrs::new().with("axes", ints(&[1])),
        )
        .unwrap();
    f.results = vec![r, sums];
    let mut rng = Rng(0x9a7c);
    let mut args: Vec<Literal> = f
        .param_types()
        .iter()
        .map(|t| random_literal(&mut rng, t))
        .collect();
    // Indices into the 8 columns of the concatenation, negative ones too.
    let mut index =
        |n: usize| -> Vec<i64> { (0..n).map(|_| (rng.next() % 16) as i64 - 8).collect() };
    args[2] = Literal::from_i64(DType::I32, vec![4, 2], &index(8)).unwrap();
    args[3] = Literal::from_i64(DType::I32, vec![4, 4], &index(16)).unwrap();
    (f, args)
}

/// `cumsum(concat([a, b], 1), axis 1) * 2` and a reverse exclusive
/// `cummax` of `pad(x)`: scans whose arguments are guarded loads.
fn scans_of_concat_and_pad() -> (Func, Vec<Literal>) {
    let f32t = |d: &[usize]| TensorType::from_dims(DType::F32, d);
    let mut f = Func::new(
        "main",
        vec![f32t(&[3, 5]), f32t(&[3, 4]), f32t(&[3, 6]), f32t(&[])],
    );
    let p = f.params.clone();
    let c = f
        .push1(
            Opcode::Concatenate,
            &[p[0], p[1]],
            Attrs::new().with("axis", Attr::Int(1)),
        )
        .unwrap();
    let scan = |f: &mut Func, op: Opcode, x, reverse: bool, inclusive: bool| {
        f.push1(
            op,
            &[x],
            Attrs::new()
                .with("axis", Attr::Int(1))
                .with("reverse", Attr::Bool(reverse))
                .with("inclusive", Attr::Bool(inclusive)),
        )
        .unwrap()
    };
    let cs = scan(&mut f, Opcode::Cumsum, c, false, true);
    let y = f.push1(Opcode::Add, &[cs, cs], Attrs::new()).unwrap();
    let padded = f
        .push1(
            Opcode::Pad,
            &[p[2], p[3]],
            Attrs::new()
                .with("low", ints(&[0, 2]))
                .with("high", ints(&[0, 1])),
        )
        .unwrap();
    let cm = scan(&mut f, Opcode::Cummax, padded, true, false);
    f.results = vec![y, cm];
    let mut rng = Rng(0x5ca7);
    let args = f
        .param_types()
        .iter()
        .map(|t| random_literal(&mut rng, t))
        .collect();
    (f, args)
}

/// The JIT and the kernel interpreter (on the program the JIT runs)
/// against the reference interpreter; the program must hold a kernel with
/// every node kind of `want` and no library call.
fn check_cpu_and_kernel_interp(f: &Func, args: &[Literal], want: &[fn(&Instr) -> bool]) {
    use psionic_codegen::cpu::CpuOptions;
    let expect = run_func(f, args).unwrap();
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let comp = psionic_runtime::exec::compile_for(f, &types, &CpuOptions::default()).unwrap();
    let text = print_program(&comp.kernels);
    assert!(
        !comp
            .kernels
            .items
            .iter()
            .any(|it| matches!(it, Item::LibOp(_))),
        "{text}"
    );
    assert!(one_kernel_holds(&comp.kernels, want), "{text}");
    let got = comp
        .run(args)
        .unwrap_or_else(|e| panic!("JIT: {e}\n{text}"));
    for (g, w) in got.iter().zip(&expect) {
        compare_literals(g, w, 4, 1e-5).unwrap_or_else(|e| panic!("JIT: {e}\n{text}"));
    }
    let got = run_program_with(&comp.kernels, args, &eval_op).unwrap();
    for (g, w) in got.iter().zip(&expect) {
        compare_literals(g, w, 4, 1e-5).unwrap_or_else(|e| panic!("kernel interp: {e}\n{text}"));
    }
    let got = Executable::new(f.clone()).strict().run(args).unwrap();
    for (g, w) in got.iter().zip(&expect) {
        compare_literals(g, w, 4, 1e-5).unwrap_or_else(|e| panic!("strict JIT: {e}\n{text}"));
    }
}

#[test]
fn a_gather_and_guarded_loads_share_a_kernel() {
    let (f, args) = gather_beside_pads();
    check_cpu_and_kernel_interp(
        &f,
        &args,
        &[is_load_or, |i| matches!(i, Instr::Gather { .. })],
    );
}

#[test]
fn scans_over_a_concatenation_and_a_pad() {
    let (f, args) = scans_of_concat_and_pad();
    check_cpu_and_kernel_interp(
        &f,
        &args,
        &[is_load_or, |i| matches!(i, Instr::Scan { .. })],
    );
}

#[cfg(feature = "wgpu")]
#[test]
fn gathers_and_scans_beside_guarded_loads_on_wgpu() {
    use psionic_runtime::wgpu::{compile_for_wgpu, unavailable};
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED gathers_and_scans_beside_guarded_loads_on_wgpu: {why}");
        return;
    }
    for (f, args) in [gather_beside_pads(), scans_of_concat_and_pad()] {
        let expect = run_func(&f, &args).unwrap();
        let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
        let comp = compile_for_wgpu(&f, &types).unwrap();
        let text = print_program(&comp.kernels);
        assert!(
            !comp
                .kernels
                .items
                .iter()
                .any(|it| matches!(it, Item::LibOp(_))),
            "{text}"
        );
        let got = comp
            .run(&args)
            .unwrap_or_else(|e| panic!("wgpu: {e}\n{text}"));
        for (g, w) in got.iter().zip(&expect) {
            compare_literals(g, w, 4, 1e-4).unwrap_or_else(|e| panic!("wgpu: {e}\n{text}"));
        }
    }
}
