//! Complex (`c64`) values as generated code: fusion computes complex ops on
//! `f32` pairs (`psionic_ir::kernel::pairs`), so they fuse like any other
//! elementwise code, and every backend that runs kernels agrees with the
//! reference interpreter: the CPU JIT (strict: native code only), the
//! kernel interpreter on the same planned program, and wgpu (feature
//! `wgpu`; lavapipe here). Complex ops fusion does not lower (`power`,
//! FFTs...) stay library ops, and the rest of the function compiles around
//! them.
//!
//! The interpreter computes each complex op in f64 and rounds once; kernels
//! compute in f32 nodes. Complex results are compared norm-wise,
//! `|got - want| <= tol * (|want| + floor)`, with the per-op bounds that
//! `docs/BACKENDS.md` states; a NaN (in either part) must be a NaN, and an
//! infinite part the same infinity. Cases are random (seeded), with special
//! values (0, -0, ±inf, NaN; huge and tiny magnitudes for the ops that scale
//! them: division, reciprocal, abs, sign).

mod common;
#[path = "common/complex_cases.rs"]
mod complex_cases;
use common::{c64s, Rng};
use complex_cases::*;
use psionic_codegen::cpu::CpuOptions;
use psionic_ir::{Attrs, DType, Func, Literal, Opcode};
use psionic_runtime::exec::compile_for;
use psionic_runtime::kernel_interp::run_program;

#[test]
fn every_lowered_op_on_cpu_and_kernel_interpreter() {
    every_op(None, 1.0, 1e-30);
}

#[test]
fn random_complex_programs_on_cpu_and_kernel_interpreter() {
    random_programs(None, 1.0);
}

/// `abs(x * y + z)` on c64: one kernel, no library op, no pair buffer
/// written (the complex values live in registers).
#[test]
fn abs_of_complex_multiply_add_is_one_kernel() {
    let s = [4usize, 33];
    let mut f = Func::new("main", vec![ty(DType::C64, &s); 3]);
    let (x, y, z) = (f.params[0], f.params[1], f.params[2]);
    let m = f.push1(Opcode::Multiply, &[x, y], Attrs::new()).unwrap();
    let a = f.push1(Opcode::Add, &[m, z], Attrs::new()).unwrap();
    let r = f.push1(Opcode::Abs, &[a], Attrs::new()).unwrap();
    f.results = vec![r];
    let mut rng = Rng(3);
    let args: Vec<Literal> = (0..3)
        .map(|_| random_c64(&mut rng, &s, &SPECIAL, -3.0, 3.0))
        .collect();
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert_eq!(items(&comp.kernels), vec!["k"], "{text}");
    assert!(text.contains("tensor<4x33x2xf32>"), "{text}");
    check_all(&f, &args, 1e-6, 1e-30, true, None);
}

#[test]
fn fft_filter_is_fft_kernel_fft_kernel() {
    let f = fft_filter(16);
    let mut rng = Rng(11);
    let args = vec![
        random_c64(&mut rng, &[3, 16], &[], -1.0, 1.0),
        random_c64(&mut rng, &[3, 16], &[], -1.0, 1.0),
    ];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert_eq!(
        items(&comp.kernels),
        vec!["tensor.fft", "k", "tensor.fft", "k"],
        "{text}"
    );
    assert!(text.contains("c64_pairs"), "{text}");
    check_all(&f, &args, 1e-5, 1.0, false, None);
}

/// Ops fusion does not lower stay library ops, and what is around them
/// still compiles: `exp(x ** y) + x` is pow (library) then one kernel.
#[test]
fn unlowered_complex_ops_are_library_ops_between_kernels() {
    let s = [5usize, 6];
    let mut f = Func::new("main", vec![ty(DType::C64, &s); 2]);
    let (x, y) = (f.params[0], f.params[1]);
    let p = f.push1(Opcode::Power, &[x, y], Attrs::new()).unwrap();
    let e = f.push1(Opcode::Exp, &[p], Attrs::new()).unwrap();
    let r = f.push1(Opcode::Add, &[e, x], Attrs::new()).unwrap();
    let m = f.push1(Opcode::Maximum, &[r, y], Attrs::new()).unwrap();
    f.results = vec![m];
    let mut rng = Rng(5);
    let args = vec![
        random_c64(&mut rng, &s, &[], 0.2, 1.0),
        random_c64(&mut rng, &s, &[], -0.5, 0.5),
    ];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert_eq!(
        items(&comp.kernels),
        vec!["tensor.power", "k", "tensor.maximum"],
        "{text}"
    );
    check_all(&f, &args, 1e-5, 1.0, false, None);
}

/// A complex fill as a result (a root of its own, both parts selected),
/// and a non-splat complex constant read from its pair buffer.
#[test]
fn complex_fills_and_constants() {
    let s = [3usize, 4];
    let mut f = Func::new("main", vec![ty(DType::C64, &s)]);
    let x = f.params[0];
    let full = f
        .push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", psionic_ir::Attr::Float(2.5))
                .with("shape", psionic_ir::Attr::Ints(vec![3, 4]))
                .with("dtype", psionic_ir::Attr::DType(DType::C64)),
        )
        .unwrap();
    let vals: Vec<(f32, f32)> = (0..12).map(|i| (i as f32 - 5.0, 0.5 * i as f32)).collect();
    let k = f
        .push1(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", psionic_ir::Attr::Dense(c64s(&s, &vals))),
        )
        .unwrap();
    let m = f.push1(Opcode::Multiply, &[x, k], Attrs::new()).unwrap();
    let r = f.push1(Opcode::Add, &[m, full], Attrs::new()).unwrap();
    f.results = vec![full, r];
    let mut rng = Rng(8);
    let args = vec![random_c64(&mut rng, &s, &SPECIAL, -3.0, 3.0)];
    check_all(&f, &args, 4e-7, 1e-30, true, None);
}

/// Arguments of the wrong type are an error, never a panic.
#[test]
fn wrong_argument_types_are_errors() {
    let f = unary_program(Opcode::Exp, &[2, 3]);
    let args = vec![c64s(&[2, 3], &[(1.0, 2.0); 6])];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let bad = [c64s(&[3, 2], &[(1.0, 2.0); 6])];
    assert!(comp.run(&bad).is_err());
    let real = [Literal::from_f64(DType::F32, vec![2, 3, 2], &[0.0; 12]).unwrap()];
    assert!(comp.run(&real).is_err());
    // The kernel program's pair parameter is f32 [2, 3, 2]: a c64 argument
    // given to the kernel interpreter directly is a type error.
    let e = run_program(&comp.kernels, &args).unwrap_err();
    assert!(e.contains("expected tensor<2x3x2xf32>"), "{e}");
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use psionic_runtime::wgpu::{compile_for_wgpu, unavailable};

    fn skip(test: &str) -> bool {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED {test}: {why}");
            return true;
        }
        false
    }

    fn run(f: &Func, args: &[Literal]) -> Option<Result<Vec<Literal>, String>> {
        let comp = match compile_for_wgpu(f, &types(args)) {
            Ok(c) => c,
            Err(e) => return Some(Err(format!("compile: {e}"))),
        };
        Some(comp.run(args).map_err(|e| e.message))
    }

    // WGSL's f32 transcendental functions are less accurate than the
    // CPU's (f64, rounded): the bounds are 64 times wider, with an
    // absolute floor of about 2e-6, as for real math ops in `exec_wgpu.rs`.
    #[test]
    fn every_lowered_op_on_wgpu() {
        if skip("every_lowered_op_on_wgpu") {
            return;
        }
        every_op(Some(&run), 64.0, 0.03);
    }

    #[test]
    fn random_complex_programs_on_wgpu() {
        if skip("random_complex_programs_on_wgpu") {
            return;
        }
        random_programs(Some(&run), 64.0);
    }

    #[test]
    fn fft_filter_on_wgpu() {
        if skip("fft_filter_on_wgpu") {
            return;
        }
        let f = fft_filter(8);
        let mut rng = Rng(12);
        let args = vec![
            random_c64(&mut rng, &[3, 8], &[], -1.0, 1.0),
            random_c64(&mut rng, &[3, 8], &[], -1.0, 1.0),
        ];
        let comp = compile_for_wgpu(&f, &types(&args)).unwrap();
        assert_eq!(
            items(&comp.kernels),
            vec!["tensor.fft", "k", "tensor.fft", "k"]
        );
        check_all(&f, &args, 1e-4, 1.0, false, Some(&run));
    }
}
