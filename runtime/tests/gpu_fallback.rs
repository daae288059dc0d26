//! The interpreter fallback of the compiled backends
//! (`psionic_runtime::exec::unsupported`, `prepare_with`): what a backend
//! has no code for (f64, i64, u64 under WGSL) runs on the reference
//! interpreter, per specialization, with the reason available; complex
//! values compile on every backend (as f32 pairs, no fallback); `strict()` turns it into an error naming the reason. None of
//! the fallback cases touch a device, so they run on any machine; the
//! cases that compile for a device skip with a visible note when it is
//! absent.

use psionic_ir::{DType, Func, Literal, TensorType};
use psionic_runtime::exec::{gpu_unsupported, native_unsupported, unsupported, Backend};
use psionic_runtime::interp::{compare_literals, run_func};

mod common;
use common::{c64s, ints, lit};

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).unwrap_or_else(|e| panic!("{e}"))
}

/// `x * x + x` over `tensor<?xD>`.
fn square_plus_self(d: &str) -> Func {
    parse(&format!(
        "func @main(%0: tensor<?x{d}>) -> (tensor<?x{d}>) {{
           %1 = tensor.multiply %0, %0 : tensor<?x{d}>
           %2 = tensor.add %1, %0 : tensor<?x{d}>
           return %2
         }}"
    ))
}

/// The real part of `z * z` (complex only inside the function).
fn complex_inside() -> Func {
    parse(
        "func @main(%0: tensor<3xc64>) -> (tensor<3xf32>) {
           %1 = tensor.multiply %0, %0 : tensor<3xc64>
           %2 = tensor.real %1 : tensor<3xf32>
           return %2
         }",
    )
}

fn specialized(f: &Func, args: &[Literal]) -> Func {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    psionic_ir::specialize::specialize(f, &types).unwrap()
}

fn inputs() -> Vec<(&'static str, Literal)> {
    vec![
        ("f32", lit(DType::F32, &[4], &[1.5, -2.0, 0.25, 3.0])),
        ("f64", lit(DType::F64, &[4], &[1.5, -2.0, 0.25, 3.0])),
        (
            "i64",
            ints(DType::I64, &[4], &[3_000_000_000, -7, 0, 1 << 31]),
        ),
        ("u64", ints(DType::U64, &[4], &[1, 2, 3, 4_000_000_000])),
        ("i32", ints(DType::I32, &[4], &[3, -7, 0, 40_000])),
    ]
}

#[test]
fn each_backend_names_what_it_has_no_code_for() {
    for (d, x) in inputs() {
        let g = specialized(&square_plus_self(d), &[x]);
        assert_eq!(unsupported(Backend::Cpu, &g), None, "{d}");
        assert_eq!(unsupported(Backend::Cuda, &g), None, "{d}");
        let wgpu = unsupported(Backend::Wgpu, &g);
        if matches!(d, "f64" | "i64" | "u64") {
            assert_eq!(
                wgpu.as_deref(),
                Some(format!("wgpu: {d} has no WGSL type").as_str())
            );
        } else {
            assert_eq!(wgpu, None, "{d}");
        }
        assert_eq!(gpu_unsupported(Backend::Cpu, &g), None);
    }
    // Complex values are code on every backend (f32 pairs).
    let z = complex_inside();
    assert_eq!(native_unsupported(&z), None);
    assert_eq!(gpu_unsupported(Backend::Cuda, &z), None);
    assert_eq!(gpu_unsupported(Backend::Wgpu, &z), None);
    // Only CUDA keeps 64-bit integers in kernels.
    assert!(!Backend::Cpu.compile_options().fusion.wide_int_kernels);
    assert!(Backend::Cuda.compile_options().fusion.wide_int_kernels);
    assert!(!Backend::Wgpu.compile_options().fusion.wide_int_kernels);
    for b in [Backend::Cpu, Backend::Cuda, Backend::Wgpu] {
        assert_eq!(Backend::from_name(b.name()), Some(b));
    }
    assert_eq!(Backend::from_name("gpu"), None);
}

#[test]
fn the_cpu_executable_compiles_complex_values() {
    use psionic_runtime::exec::Executable;
    let f = complex_inside();
    let z = c64s(&[3], &[(1.0, 2.0), (-0.5, 0.0), (0.0, 3.0)]);
    let exe = Executable::new(f.clone());
    let p = exe.prepared(&[z.ty()]).unwrap();
    assert_eq!(p.fallback(), None);
    assert_eq!(p.native().unwrap().report.program.library_calls, 0);
    let got = p.run(std::slice::from_ref(&z)).unwrap();
    let want = run_func(&f, std::slice::from_ref(&z)).unwrap();
    compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
    let got = Executable::new(f).strict().run(&[z]).unwrap();
    compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_runs_what_wgsl_cannot_hold_on_the_interpreter() {
    use psionic_runtime::wgpu::{unavailable, WgpuExecutable};
    // The fallback never needs the device: it runs on any machine.
    for (d, x) in inputs() {
        if !matches!(d, "f64" | "i64" | "u64") {
            continue;
        }
        let f = square_plus_self(d);
        let exe = WgpuExecutable::new(f.clone());
        let p = exe.prepared(&[x.ty()]).unwrap();
        assert_eq!(
            p.fallback(),
            Some(format!("wgpu: {d} has no WGSL type").as_str())
        );
        let got = exe.run(std::slice::from_ref(&x)).unwrap();
        let want = run_func(&f, std::slice::from_ref(&x)).unwrap();
        // The interpreter itself: exact, including i64 past 2^32.
        compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        assert_eq!(exe.cache_len(), 1);
        let e = WgpuExecutable::new(f).strict().run(&[x]).unwrap_err();
        assert_eq!(e.message, format!("wgpu: {d} has no WGSL type"));
    }
    // Compiling such a function directly names the dtype.
    let x64 = inputs().remove(1).1;
    let e = psionic_runtime::wgpu::compile_for_wgpu(&square_plus_self("f64"), &[x64.ty()])
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert!(e.starts_with("wgpu: f64 has no WGSL type"), "{e}");

    // What WGSL holds compiles to shaders (no fallback) where a device is.
    if let Some(why) = unavailable() {
        eprintln!("note: {why}; skipping the native half");
        return;
    }
    let f = square_plus_self("f32");
    let x = inputs().remove(0).1;
    let exe = WgpuExecutable::new(f.clone());
    let p = exe.prepared(&[x.ty()]).unwrap();
    assert_eq!(p.fallback(), None);
    assert!(p.native().is_some());
    let got = p.run(std::slice::from_ref(&x)).unwrap();
    let want = run_func(&f, &[x]).unwrap();
    compare_literals(&got[0], &want[0], 2, 0.0).unwrap();
    // So do complex values (f32 pairs).
    let z = c64s(&[3], &[(1.0, 2.0), (-0.5, 0.0), (0.0, 3.0)]);
    let exe = WgpuExecutable::new(complex_inside());
    let p = exe.prepared(&[z.ty()]).unwrap();
    assert_eq!(p.fallback(), None);
    let got = p.run(std::slice::from_ref(&z)).unwrap();
    let want = run_func(&complex_inside(), std::slice::from_ref(&z)).unwrap();
    compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_compiles_complex_values_and_says_when_it_is_unavailable() {
    use psionic_runtime::cuda::{availability, CudaExecutable};
    // Complex values are CUDA code (f32 pairs): no fallback reason.
    let f = complex_inside();
    let z = c64s(&[3], &[(1.0, 2.0), (-0.5, 0.0), (0.0, 3.0)]);
    let want = run_func(&f, std::slice::from_ref(&z)).unwrap();
    let exe = CudaExecutable::new(f.clone());
    match availability() {
        Err(_) => {
            let e = exe.run(std::slice::from_ref(&z)).unwrap_err();
            assert!(
                e.message.starts_with("CUDA backend unavailable: "),
                "{}",
                e.message
            );
        }
        Ok(_) => {
            let p = exe.prepared(&[z.ty()]).unwrap();
            assert_eq!(p.fallback(), None);
            let got = p.run(std::slice::from_ref(&z)).unwrap();
            compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        }
    }

    // 64-bit integers are CUDA code, not a fallback.
    let (_, x) = inputs().remove(2);
    let f = square_plus_self("i64");
    let exe = CudaExecutable::new(f.clone());
    match availability() {
        Err(why) => {
            eprintln!("note: {why}; skipping");
            let e = exe.run(&[x]).unwrap_err();
            assert!(
                e.message.starts_with("CUDA backend unavailable: "),
                "{}",
                e.message
            );
        }
        Ok(dev) => {
            eprintln!("note: CUDA device: {dev}");
            let p = exe.prepared(&[x.ty()]).unwrap();
            assert_eq!(p.fallback(), None);
            let c = p.native().unwrap();
            assert_eq!(c.report.program.library_calls, 0, "i64 ops are kernels");
            let got = p.run(std::slice::from_ref(&x)).unwrap();
            let want = run_func(&f, &[x]).unwrap();
            compare_literals(&got[0], &want[0], 0, 0.0).unwrap();
        }
    }
}
