//! Gathers as generated code: `take_along_axis` and `tensor.gather` (several
//! index operands, `axes`, `slice_sizes`, negative indices) fuse with the
//! computation of their indices and with their consumers, and every
//! backend that runs kernels agrees with the reference interpreter:
//! the CPU JIT (strict: native code only), the kernel interpreter on the
//! same planned program, and wgpu (feature `wgpu`; lavapipe here) on its
//! own. An index out of range after wrapping is an error naming the index
//! and the axis size on each of them, never a panic or a wrong number.
//!
//! Cases are random (seeded): shapes, axes, slice sizes, index dtypes
//! (i32, i64, u32), source dtypes (f32, f16, i32, bool), an elementwise
//! producer of the indices, and an elementwise or reducing consumer.

mod common;
#[path = "common/gather_cases.rs"]
mod gather_cases;
use common::Rng;
use gather_cases::{cross_entropy, gather_case, take_case, ty, Case};
use psionic_codegen::cpu::CpuOptions;
use psionic_ir::kernel::{Instr, Item, KProgram};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_runtime::exec::compile_for;
use psionic_runtime::interp::{compare_literals, run_func};
use psionic_runtime::kernel_interp::run_program;

fn types(args: &[Literal]) -> Vec<TensorType> {
    args.iter().map(|a| a.ty()).collect()
}

fn lib_ops(p: &KProgram) -> Vec<String> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::LibOp(l) => Some(l.opcode.to_string()),
            _ => None,
        })
        .collect()
}

fn gathers(p: &KProgram) -> usize {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Kernel(k) => Some(k),
            _ => None,
        })
        .flat_map(|k| k.stages.iter().flat_map(|s| &s.nodes))
        .filter(|n| matches!(n.instr, Instr::Gather { .. }))
        .count()
}

fn same(got: &[Literal], want: &[Literal]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err("result count differs".into());
    }
    for (g, w) in got.iter().zip(want) {
        // Gathers move bits; the consumers add at most a few roundings.
        compare_literals(g, w, 4, 1e-5)?;
    }
    Ok(())
}

fn out_of_range(e: &str) -> bool {
    e.contains("is out of range for axis size")
}

/// The CPU JIT and the kernel interpreter (on the planned program the JIT
/// runs) against the reference interpreter; returns whether a gathering
/// kernel took the f32x4 shape.
fn check_cpu(c: &Case) -> bool {
    let want = run_func(&c.f, &c.args);
    let comp = compile_for(&c.f, &types(&c.args), &CpuOptions::default())
        .unwrap_or_else(|e| panic!("{}: compile: {e}", c.desc));
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    if c.lib_free {
        assert!(
            lib_ops(&comp.kernels).is_empty(),
            "{}: library ops left\n{text}",
            c.desc
        );
        assert!(
            gathers(&comp.kernels) > 0,
            "{}: no gather node\n{text}",
            c.desc
        );
    }
    let gathering: Vec<bool> = comp
        .kernels
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Kernel(k) => Some(k.has_gather()),
            _ => None,
        })
        .collect();
    let vector = comp
        .code
        .kernel_shapes()
        .iter()
        .zip(&gathering)
        .any(|((_, v), g)| *v && *g);
    let jit = comp.run(&c.args);
    let kint = run_program(&comp.kernels, &c.args);
    if c.bad {
        let e = want
            .err()
            .unwrap_or_else(|| panic!("{}: interpreter accepted", c.desc));
        assert!(out_of_range(&e.message), "{}: {e}", c.desc);
        let j = jit
            .err()
            .unwrap_or_else(|| panic!("{}: JIT accepted\n{text}", c.desc));
        assert!(out_of_range(&j.message), "{}: JIT: {j}", c.desc);
        let k = kint
            .err()
            .unwrap_or_else(|| panic!("{}: kernel interp accepted", c.desc));
        assert!(out_of_range(&k), "{}: kernel interp: {k}", c.desc);
        return vector;
    }
    let want = want.unwrap_or_else(|e| panic!("{}: interpreter: {e}", c.desc));
    let jit = jit.unwrap_or_else(|e| panic!("{}: JIT: {e}\n{text}", c.desc));
    same(&jit, &want).unwrap_or_else(|e| panic!("{}: JIT: {e}\n{text}", c.desc));
    let kint = kint.unwrap_or_else(|e| panic!("{}: kernel interp: {e}\n{text}", c.desc));
    same(&kint, &want).unwrap_or_else(|e| panic!("{}: kernel interp: {e}\n{text}", c.desc));
    vector
}

#[test]
fn random_take_along_axis_on_cpu_and_kernel_interpreter() {
    let mut rng = Rng(0x5eed_7a6e);
    let mut vector = 0;
    for i in 0..80 {
        vector += check_cpu(&take_case(&mut rng, i % 4 == 3)) as usize;
    }
    assert!(vector >= 1, "only {vector} cases took the f32x4 shape");
}

#[test]
fn random_gathers_on_cpu_and_kernel_interpreter() {
    let mut rng = Rng(0x9a7_4e25);
    let mut vector = 0;
    for i in 0..80 {
        vector += check_cpu(&gather_case(&mut rng, i % 4 == 3)) as usize;
    }
    assert!(vector >= 1, "only {vector} cases took the f32x4 shape");
}

#[test]
fn cross_entropy_is_one_kernel_with_the_gather_beside_the_logsumexp() {
    let f = cross_entropy(6, 37, DType::I32);
    let mut rng = Rng(77);
    let logits = common::random_literal(&mut rng, &ty(DType::F32, &[6, 37]));
    let labels = Literal::from_i64(DType::I32, vec![6], &[0, 36, -1, 5, -37, 20]).unwrap();
    let args = vec![logits, labels];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert!(!text.contains("kernel.op"), "{text}");
    assert_eq!(comp.kernels.stats().kernels, 1, "{text}");
    assert!(
        text.contains("acc.logsumexp") && text.contains("gather %b0"),
        "{text}"
    );
    // The index is one exact i64 per row: the row keeps the f32x4 loop.
    assert_eq!(
        comp.code.kernel_shapes(),
        vec![("k0".to_string(), true)],
        "{text}"
    );
    let want = run_func(&f, &args).unwrap();
    same(&comp.run(&args).unwrap(), &want).unwrap();
    same(&run_program(&comp.kernels, &args).unwrap(), &want).unwrap();
    // A label past the vocabulary: the interpreter's error, not a number.
    let bad = vec![
        args[0].clone(),
        Literal::from_i64(DType::I32, vec![6], &[0, 1, 2, 37, 4, 5]).unwrap(),
    ];
    let e = comp.run(&bad).unwrap_err().message;
    assert!(
        e.contains("index along axis 1 37 is out of range for axis size 37"),
        "{e}"
    );
    let e = run_program(&comp.kernels, &bad).unwrap_err();
    assert!(
        e.contains("index along axis 1 37 is out of range for axis size 37"),
        "{e}"
    );
}

/// An embedding lookup `tanh(table[ids[n], :])`: the f32x4 shape, with
/// the row read 4 lanes at a time (and a tail), negative ids wrapped, and a
/// bad id reported from the vector loop.
#[test]
fn embedding_rows_take_the_vector_shape() {
    let (v, d, n) = (11usize, 13usize, 9usize);
    let mut f = Func::new("embed", vec![ty(DType::F32, &[v, d]), ty(DType::I32, &[n])]);
    let (t, ids) = (f.params[0], f.params[1]);
    let g = f
        .push1(
            Opcode::Gather,
            &[t, ids],
            Attrs::new()
                .with("axes", Attr::Ints(vec![0]))
                .with("slice_sizes", Attr::Ints(vec![1, d as i64])),
        )
        .unwrap();
    let y = f.push1(Opcode::Tanh, &[g], Attrs::new()).unwrap();
    f.results = vec![y];
    let mut rng = Rng(5);
    let table = common::random_literal(&mut rng, &ty(DType::F32, &[v, d]));
    let good = [0, 10, -1, -11, 3, 4, 5, 9, 2];
    let args = vec![
        table.clone(),
        Literal::from_i64(DType::I32, vec![n], &good).unwrap(),
    ];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert_eq!(
        comp.code.kernel_shapes(),
        vec![("k0".to_string(), true)],
        "{text}"
    );
    let want = run_func(&f, &args).unwrap();
    compare_literals(&comp.run(&args).unwrap()[0], &want[0], 4, 1e-6).unwrap();
    let mut bad = good;
    bad[7] = -12;
    let e = comp
        .run(&[table, Literal::from_i64(DType::I32, vec![n], &bad).unwrap()])
        .unwrap_err()
        .message;
    assert!(
        e.contains("index along axis 0 -12 is out of range for axis size 11"),
        "{e}"
    );
}

#[test]
fn a_slice_of_a_gather_still_checks_every_index() {
    // Only x[idx][0] is used; the interpreter still rejects idx[1].
    let mut f = Func::new(
        "slice_of_take",
        vec![ty(DType::F32, &[5]), ty(DType::I32, &[3])],
    );
    let (x, i) = (f.params[0], f.params[1]);
    let g = f
        .push1(
            Opcode::TakeAlongAxis,
            &[x, i],
            Attrs::new().with("axis", Attr::Int(0)),
        )
        .unwrap();
    let s = f
        .push1(
            Opcode::Slice,
            &[g],
            Attrs::new()
                .with("start", Attr::Ints(vec![0]))
                .with("stop", Attr::Ints(vec![1]))
                .with("strides", Attr::Ints(vec![1])),
        )
        .unwrap();
    let y = f.push1(Opcode::Exp, &[s], Attrs::new()).unwrap();
    f.results = vec![y];
    let args = vec![
        Literal::from_f64(DType::F32, vec![5], &[0.0, 1.0, 2.0, 3.0, 4.0]).unwrap(),
        Literal::from_i64(DType::I32, vec![3], &[1, 9, 2]).unwrap(),
    ];
    assert!(run_func(&f, &args).is_err());
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let e = comp.run(&args).unwrap_err().message;
    assert!(out_of_range(&e), "{e}");
    let e = run_program(&comp.kernels, &args).unwrap_err();
    assert!(out_of_range(&e), "{e}");
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

    /// wgpu against the reference interpreter (WGSL has no 64-bit types:
    /// programs with i64 indices fall back, so they are left out).
    fn check_wgpu(c: &Case) {
        if c.args.iter().any(|a| a.dtype() == DType::I64) {
            return;
        }
        let want = run_func(&c.f, &c.args);
        let comp = compile_for_wgpu(&c.f, &types(&c.args))
            .unwrap_or_else(|e| panic!("{}: wgpu compile: {e}", c.desc));
        let text = psionic_ir::kernel::text::print_program(&comp.kernels);
        if c.lib_free {
            assert!(lib_ops(&comp.kernels).is_empty(), "{}\n{text}", c.desc);
        }
        let got = comp.run(&c.args);
        if c.bad {
            assert!(want.is_err(), "{}", c.desc);
            let e = got
                .err()
                .unwrap_or_else(|| panic!("{}: wgpu accepted\n{text}", c.desc));
            assert!(out_of_range(&e.message), "{}: wgpu: {e}", c.desc);
            return;
        }
        let want = want.unwrap_or_else(|e| panic!("{}: interpreter: {e}", c.desc));
        let got = got.unwrap_or_else(|e| panic!("{}: wgpu: {e}\n{text}", c.desc));
        same(&got, &want).unwrap_or_else(|e| panic!("{}: wgpu: {e}\n{text}", c.desc));
    }

    #[test]
    fn random_gathers_on_wgpu() {
        if skip("random_gathers_on_wgpu") {
            return;
        }
        let mut rng = Rng(0x3b_9e41);
        for i in 0..40 {
            check_wgpu(&take_case(&mut rng, i % 4 == 3));
            check_wgpu(&gather_case(&mut rng, i % 4 == 1));
        }
    }

    #[test]
    fn cross_entropy_on_wgpu_reports_a_bad_label() {
        if skip("cross_entropy_on_wgpu_reports_a_bad_label") {
            return;
        }
        let f = cross_entropy(5, 300, DType::I32);
        let mut rng = Rng(78);
        let logits = common::random_literal(&mut rng, &ty(DType::F32, &[5, 300]));
        let labels = Literal::from_i64(DType::I32, vec![5], &[0, 299, -1, 5, -300]).unwrap();
        let args = vec![logits, labels];
        let comp = compile_for_wgpu(&f, &types(&args)).unwrap();
        let want = run_func(&f, &args).unwrap();
        let got = comp.run(&args).unwrap();
        compare_literals(&got[0], &want[0], 64, 1e-5).unwrap();
        let bad = vec![
            args[0].clone(),
            Literal::from_i64(DType::I32, vec![5], &[0, -301, 2, 3, 4]).unwrap(),
        ];
        let e = comp.run(&bad).unwrap_err().message;
        assert!(
            e.contains("index along axis 1 -301 is out of range for axis size 300"),
            "{e}"
        );
    }
}

/// A full sum of gathered values is split into chunks (few rows, many
/// points): the partial kernel gathers through the split index maps.
#[test]
fn split_reductions_gather_through_split_maps() {
    let (r, c) = (2usize, 40_000usize);
    let mut f = Func::new(
        "sum_take",
        vec![ty(DType::F32, &[r, c]), ty(DType::I32, &[r, c])],
    );
    let (x, i) = (f.params[0], f.params[1]);
    let g = f
        .push1(
            Opcode::TakeAlongAxis,
            &[x, i],
            Attrs::new().with("axis", Attr::Int(1)),
        )
        .unwrap();
    let s = f
        .push1(
            Opcode::ReduceSum,
            &[g],
            Attrs::new().with("axes", Attr::Ints(vec![0, 1])),
        )
        .unwrap();
    f.results = vec![s];
    let mut rng = Rng(11);
    let xl = common::random_literal(&mut rng, &ty(DType::F32, &[r, c]));
    let iv: Vec<i64> = (0..r * c)
        .map(|k| (k as i64 * 7919) % (2 * c as i64) - c as i64)
        .collect();
    let args = vec![xl, Literal::from_i64(DType::I32, vec![r, c], &iv).unwrap()];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert!(text.contains("_part") && text.contains("gather"), "{text}");
    let want = run_func(&f, &args).unwrap();
    for got in [
        comp.run(&args).unwrap(),
        run_program(&comp.kernels, &args).unwrap(),
    ] {
        compare_literals(&got[0], &want[0], 64, 1e-2).unwrap();
    }
}
