//! Sorts along an axis on the wgpu backend: `sort`, `argsort`, `partition`
//! and `argpartition` of rows of up to `MAX_SORT_ROW` elements run as a
//! bitonic-network shader (no host round trip) and agree with the
//! reference interpreter's stable sort bit for bit: ties keep their order,
//! NaNs go last, `-0.0` and `0.0` are equal. Longer rows stay host calls.
//! On a machine without a Vulkan adapter the test prints `SKIPPED`. (The
//! CUDA backend's device sort is checked by `cuda_device.rs`.)
#![cfg(feature = "wgpu")]

use psionic_codegen::wgpu::{compile_program, sort::MAX_SORT_ROW, GpuItem};
use psionic_ir::{DType, Literal, Opcode};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_runtime::interp::run_func;
use psionic_runtime::wgpu::{load_program, unavailable};

mod common;
use common::{sort_func, sort_input, Rng};

/// Index of the first element whose bytes differ.
fn first_difference(a: &Literal, b: &Literal) -> Option<usize> {
    let s = a.dtype().size();
    a.bytes()
        .chunks(s)
        .zip(b.bytes().chunks(s))
        .position(|(x, y)| x != y)
}

#[test]
fn sorts_are_shaders_and_match_the_interpreter_bit_for_bit() {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED sorts_are_shaders_and_match_the_interpreter_bit_for_bit: {why}");
        return;
    }
    let dtypes = [
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
    let shapes: [(&[usize], i64); 6] = [
        (&[5, 37], 1),
        (&[37, 5], 0),
        (&[3, 4, 6], 1),
        (&[1], 0),
        (&[2, MAX_SORT_ROW], 1),
        (&[300, 3], 0),
    ];
    let mut rng = Rng(17);
    for op in [
        Opcode::Sort,
        Opcode::Argsort,
        Opcode::Partition,
        Opcode::Argpartition,
    ] {
        for d in dtypes {
            for (shape, axis) in shapes {
                let f = sort_func(op, d, shape, axis);
                let arg = sort_input(&mut rng, d, shape);
                let want = run_func(&f, std::slice::from_ref(&arg)).unwrap();
                let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
                let gp = compile_program(&kp).unwrap();
                assert!(
                    !gp.items.iter().any(|i| matches!(i, GpuItem::Lib(_))),
                    "{op} of {d} {shape:?} went through the host"
                );
                let got = load_program(&kp).unwrap().run(&[arg]).unwrap();
                if let Some(i) = first_difference(&got[0], &want[0]) {
                    panic!(
                        "{op} of {d} {shape:?} axis {axis}: element {i} is {} on wgpu, {} in the interpreter",
                        got[0].get_f64(i),
                        want[0].get_f64(i)
                    );
                }
            }
        }
    }
}

#[test]
fn sort_shaders_are_written_as_msl_and_spirv() {
    use psionic_codegen::wgpu::{emit_module, Target};
    for (op, d) in [(Opcode::Sort, DType::F16), (Opcode::Argsort, DType::I8)] {
        let f = sort_func(op, d, &[4, 100], 1);
        let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
        let gp = compile_program(&kp).unwrap();
        let [GpuItem::Shader(sk)] = gp.items.as_slice() else {
            panic!("{op} of {d} is not one shader");
        };
        let msl = emit_module(sk, Target::Msl).unwrap();
        assert!(
            msl.contains("[[buffer(0)]]") && msl.contains("threadgroup"),
            "{msl}"
        );
        assert!(!emit_module(sk, Target::Spirv).unwrap().is_empty());
    }
}

#[test]
fn long_rows_and_complex_values_are_host_calls() {
    let f = sort_func(Opcode::Argsort, DType::F32, &[3, MAX_SORT_ROW + 1], 1);
    let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
    let gp = compile_program(&kp).unwrap();
    assert!(gp.items.iter().any(|i| matches!(i, GpuItem::Lib(_))));
    // A complex sort (f32 pair buffers here) is a host call too.
    let c = sort_func(Opcode::Sort, DType::C64, &[4, 9], 1);
    let (ckp, _) = compile(&c, &CompileOptions::default()).unwrap();
    let cgp = compile_program(&ckp).unwrap();
    assert!(cgp.items.iter().any(|i| matches!(i, GpuItem::Lib(_))));
    if unavailable().is_some() {
        return;
    }
    let mut rng = Rng(9);
    let parts: Vec<(f32, f32)> = (0..36)
        .map(|_| ((rng.next() % 5) as f32 - 2.0, (rng.next() % 5) as f32 - 2.0))
        .collect();
    let z = common::c64s(&[4, 9], &parts);
    let want = run_func(&c, std::slice::from_ref(&z)).unwrap();
    // The program itself takes and returns the pair buffers (the same bytes).
    let pairs = Literal::from_bytes(DType::F32, vec![4, 9, 2], z.bytes().to_vec()).unwrap();
    let got = load_program(&ckp).unwrap().run(&[pairs]).unwrap();
    assert_eq!(got[0].bytes(), want[0].bytes());
    let mut rng = Rng(5);
    let arg = sort_input(&mut rng, DType::F32, &[3, MAX_SORT_ROW + 1]);
    let want = run_func(&f, std::slice::from_ref(&arg)).unwrap();
    let got = load_program(&kp).unwrap().run(&[arg]).unwrap();
    assert_eq!(first_difference(&got[0], &want[0]), None);
}
