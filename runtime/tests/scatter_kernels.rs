//! Scatters as generated code: `tensor.scatter` (several index operands,
//! slices, reductions none/sum/prod/max/min), `tensor.scatter_axis` (none,
//! sum) and `tensor.dynamic_slice_update` (starts clamped) become a copy of
//! the destination plus a kernel of `scatter.*` nodes over the updates,
//! fused with the computation of the destination, the indices and the
//! updates. Every backend that runs kernels agrees with the reference
//! interpreter: the CPU JIT and the kernel interpreter exactly (duplicate
//! indices included, in every mode: one thread, domain order), wgpu
//! (feature `wgpu`; lavapipe here) exactly where the result does not depend
//! on the order of duplicates. An index out of range after wrapping is an
//! error naming the index and the axis size on each of them.
//!
//! Cases are random (seeded): see `common/scatter_cases.rs`.

mod common;
#[path = "common/gather_cases.rs"]
mod gather_cases;
#[path = "common/scatter_cases.rs"]
mod scatter_cases;
use common::Rng;
use psionic_codegen::cpu::CpuOptions;
use psionic_ir::kernel::{Instr, Item, KProgram, ScatterKind};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_runtime::exec::compile_for;
use psionic_runtime::interp::{compare_literals, run_func};
use psionic_runtime::kernel_interp::run_program;
use scatter_cases::{
    dynamic_update_case, scatter_axis_case, scatter_case, take_vjp, ty, Case, REDUCES,
};

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

/// The scatter nodes of a program: (kind, kernel index among items).
fn scatters(p: &KProgram) -> Vec<(ScatterKind, usize)> {
    let mut v = Vec::new();
    for (i, it) in p.items.iter().enumerate() {
        if let Item::Kernel(k) = it {
            for n in k.stages.iter().flat_map(|s| &s.nodes) {
                if let Instr::Scatter { reduce, .. } = n.instr {
                    v.push((reduce, i));
                }
            }
        }
    }
    v
}

/// The GPU backends keep assigning scatters as library ops (duplicates
/// apply in order, last wins); reducing scatters and dynamic slice
/// updates are kernels on every backend.
#[test]
fn gpu_backends_keep_assigning_scatters_ordered() {
    use psionic_passes::fusion::compile::compile;
    use psionic_runtime::exec::Backend;
    let f = |reduce: &str| {
        psionic_ir::text::parse_func(&format!(
            "func @main(%x: tensor<5x3xf32>, %i: tensor<3xi32>, %u: tensor<3x1x3xf32>) -> (tensor<5x3xf32>) {{
               %y = tensor.scatter %x, %i, %u {{axes = [0], reduce = \"{reduce}\"}} : tensor<5x3xf32>
               return %y
             }}"
        ))
        .unwrap()
    };
    for b in [Backend::Cpu, Backend::Cuda, Backend::Wgpu] {
        let (set, _) = compile(&f("none"), &b.compile_options()).unwrap();
        let (sum, _) = compile(&f("sum"), &b.compile_options()).unwrap();
        assert_eq!(lib_ops(&set).is_empty(), b == Backend::Cpu, "{b}");
        assert!(lib_ops(&sum).is_empty(), "{b}");
    }
}

fn exact(got: &[Literal], want: &[Literal]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err("result count differs".into());
    }
    for (g, w) in got.iter().zip(want) {
        compare_literals(g, w, 0, 0.0)?;
    }
    Ok(())
}

fn out_of_range(e: &str) -> bool {
    e.contains("is out of range for axis size")
}

/// The CPU JIT and the kernel interpreter (on the planned program the JIT
/// runs) against the reference interpreter, exactly.
fn check_cpu(c: &Case) {
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
    }
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
        assert_eq!(
            j.message.split(": ").last(),
            e.message.split(": ").last(),
            "{}: JIT",
            c.desc
        );
        let k = kint
            .err()
            .unwrap_or_else(|| panic!("{}: kernel interp accepted", c.desc));
        assert!(
            k.ends_with(e.message.split(": ").last().unwrap()),
            "{}: kernel interp: {k}",
            c.desc
        );
        return;
    }
    let want = want.unwrap_or_else(|e| panic!("{}: interpreter: {e}", c.desc));
    let jit = jit.unwrap_or_else(|e| panic!("{}: JIT: {e}\n{text}", c.desc));
    exact(&jit, &want).unwrap_or_else(|e| panic!("{}: JIT: {e}\n{text}", c.desc));
    let kint = kint.unwrap_or_else(|e| panic!("{}: kernel interp: {e}\n{text}", c.desc));
    exact(&kint, &want).unwrap_or_else(|e| panic!("{}: kernel interp: {e}\n{text}", c.desc));
}

const CPU_DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::I32, DType::Bool, DType::F64];

#[test]
fn random_scatters_on_cpu_and_kernel_interpreter() {
    let mut rng = Rng(0x5ca7_7e25);
    for i in 0..150 {
        let dt = CPU_DTYPES[i % CPU_DTYPES.len()];
        let reduce = REDUCES[(i / CPU_DTYPES.len()) % REDUCES.len()];
        check_cpu(&scatter_case(&mut rng, dt, reduce, i % 7 == 3, false));
    }
}

#[test]
fn random_scatter_axis_on_cpu_and_kernel_interpreter() {
    let mut rng = Rng(0xa415_5ca7);
    for i in 0..100 {
        let dt = CPU_DTYPES[i % CPU_DTYPES.len()];
        let reduce = ["none", "sum"][(i / CPU_DTYPES.len()) % 2];
        check_cpu(&scatter_axis_case(&mut rng, dt, reduce, i % 6 == 2, false));
    }
}

#[test]
fn random_dynamic_slice_updates_on_cpu_and_kernel_interpreter() {
    let mut rng = Rng(0xd5_0bda7e);
    for i in 0..60 {
        check_cpu(&dynamic_update_case(
            &mut rng,
            CPU_DTYPES[i % CPU_DTYPES.len()],
        ));
    }
}

/// The narrow dtypes the CUDA device test draws (8- and 16-bit elements
/// combined through a word-wide CAS there), here on the CPU and the kernel
/// interpreter: every reduction, wrapping integer sums and products.
#[test]
fn random_scatters_of_narrow_dtypes_on_cpu() {
    let mut rng = Rng(0x0b_f16);
    for (i, dt) in [DType::BF16, DType::I8, DType::U8, DType::I16, DType::U16]
        .into_iter()
        .cycle()
        .take(50)
        .enumerate()
    {
        let reduce = REDUCES[i % REDUCES.len()];
        check_cpu(&scatter_case(&mut rng, dt, reduce, false, i % 2 == 0));
        check_cpu(&scatter_axis_case(
            &mut rng,
            dt,
            ["none", "sum"][i % 2],
            false,
            true,
        ));
    }
}

/// Duplicates, in order: `none` keeps the last update of each position,
/// reductions fold them all in, bool `sum`/`prod` are `or`/`and`.
#[test]
fn duplicate_indices_apply_in_order() {
    let run = |dt: DType, reduce: &str, dst: &[f64], idx: &[i64], upd: &[f64]| -> Vec<f64> {
        // Updates of shape idx.shape ++ [1].
        let mut f = Func::new(
            "dup",
            vec![
                ty(dt, &[dst.len()]),
                ty(DType::I32, &[idx.len()]),
                ty(dt, &[idx.len(), 1]),
            ],
        );
        let p = f.params.clone();
        let y = f
            .push1(
                Opcode::Scatter,
                &p,
                Attrs::new()
                    .with("axes", Attr::Ints(vec![0]))
                    .with("reduce", Attr::Str(reduce.into())),
            )
            .unwrap();
        f.results = vec![y];
        let args = vec![
            Literal::from_f64(dt, vec![dst.len()], dst).unwrap(),
            Literal::from_i64(DType::I32, vec![idx.len()], idx).unwrap(),
            Literal::from_f64(dt, vec![idx.len(), 1], upd).unwrap(),
        ];
        let want = run_func(&f, &args).unwrap();
        let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
        assert!(lib_ops(&comp.kernels).is_empty());
        let got = comp.run(&args).unwrap();
        exact(&got, &want).unwrap();
        exact(&run_program(&comp.kernels, &args).unwrap(), &want).unwrap();
        got[0].to_f64_vec()
    };
    let idx = [1, -3, 1, 0, -1];
    let upd = [5.0, 7.0, -2.0, 3.0, 4.0];
    let dst = [1.0, 2.0, 3.0];
    assert_eq!(run(DType::F32, "none", &dst, &idx, &upd), [3.0, -2.0, 4.0]);
    assert_eq!(run(DType::F32, "sum", &dst, &idx, &upd), [11.0, 5.0, 7.0]);
    assert_eq!(
        run(DType::I32, "prod", &dst, &idx, &upd),
        [21.0, -20.0, 12.0]
    );
    assert_eq!(run(DType::F16, "max", &dst, &idx, &upd), [7.0, 5.0, 4.0]);
    assert_eq!(run(DType::F64, "min", &dst, &idx, &upd), [1.0, -2.0, 3.0]);
    let b = [1.0, 1.0, 0.0];
    let bu = [1.0, 1.0, 0.0, 1.0, 1.0];
    assert_eq!(run(DType::Bool, "sum", &b, &idx, &bu), [1.0, 1.0, 1.0]);
    assert_eq!(run(DType::Bool, "prod", &b, &idx, &bu), [1.0, 0.0, 0.0]);
    assert_eq!(run(DType::Bool, "none", &b, &idx, &bu), [1.0, 0.0, 1.0]);
}

/// `zeros_like` + `scatter_axis` sum is a fill plus one scatter kernel;
/// an out-of-range label is the interpreter's error.
#[test]
fn zeros_plus_scatter_axis_sum_is_a_fill_and_one_scatter_kernel() {
    let f = take_vjp(6, 37, DType::I32);
    let labels = Literal::from_i64(DType::I32, vec![6, 1], &[0, 36, -1, 5, -37, 5]).unwrap();
    let ct = Literal::from_f64(DType::F32, vec![6, 1], &[1.0, -2.0, 0.5, 3.0, 1.5, -1.0]).unwrap();
    let args = vec![labels, ct];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let p = &comp.kernels;
    let text = psionic_ir::kernel::text::print_program(p);
    assert!(lib_ops(p).is_empty(), "{text}");
    assert_eq!(scatters(p), vec![(ScatterKind::Sum, 1)], "{text}");
    // The fill: a kernel storing a constant, no loads.
    let Item::Kernel(fill) = &p.items[0] else {
        panic!("{text}")
    };
    let nodes: Vec<&Instr> = fill
        .stages
        .iter()
        .flat_map(|s| &s.nodes)
        .map(|n| &n.instr)
        .collect();
    assert!(
        nodes
            .iter()
            .all(|i| matches!(i, Instr::Const(_) | Instr::Store { .. })),
        "{text}"
    );
    assert_eq!(p.stats().kernels, 3, "fill, scatter, square\n{text}");
    let want = run_func(&f, &args).unwrap();
    exact(&comp.run(&args).unwrap(), &want).unwrap();
    exact(&run_program(p, &args).unwrap(), &want).unwrap();
    let bad = vec![
        Literal::from_i64(DType::I32, vec![6, 1], &[0, 1, 2, 37, 4, 5]).unwrap(),
        args[1].clone(),
    ];
    let e = comp.run(&bad).unwrap_err().message;
    assert!(
        e.contains("index along axis 1 37 is out of range for axis size 37"),
        "{e}"
    );
    let e = run_program(p, &bad).unwrap_err();
    assert!(
        e.contains("index along axis 1 37 is out of range for axis size 37"),
        "{e}"
    );
}

/// The gradient of a cross-entropy (take_along_axis of the labels beside a
/// logsumexp) compiles with no library op left: its `scatter_axis` is a
/// kernel.
#[test]
fn cross_entropy_gradient_has_no_library_op() {
    let xent = gather_cases::cross_entropy(5, 23, DType::I32);
    let mut f = xent.clone();
    let loss = f.results[0];
    let s = f
        .push1(
            Opcode::ReduceSum,
            &[loss],
            Attrs::new().with("axes", Attr::Ints(vec![0])),
        )
        .unwrap();
    f.results = vec![s];
    let g = psionic_passes::autodiff::grad(&f, &[0]).unwrap();
    let mut rng = Rng(99);
    let logits = common::random_literal(&mut rng, &ty(DType::F32, &[5, 23]));
    let labels = Literal::from_i64(DType::I32, vec![5], &[0, 22, -1, 7, -23]).unwrap();
    let args = vec![logits, labels];
    let comp = compile_for(&g, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    assert!(lib_ops(&comp.kernels).is_empty(), "{text}");
    assert!(!scatters(&comp.kernels).is_empty(), "{text}");
    let want = run_func(&g, &args).unwrap();
    for got in [
        comp.run(&args).unwrap(),
        run_program(&comp.kernels, &args).unwrap(),
    ] {
        compare_literals(&got[0], &want[0], 8, 1e-6).unwrap();
    }
}

/// A scatter into a destination nothing else reads runs in place: buffer
/// planning gives the copy's output the destination's slot.
#[test]
fn a_dying_destination_is_updated_in_place() {
    let mut f = Func::new(
        "inplace",
        vec![
            ty(DType::F32, &[64]),
            ty(DType::I32, &[4]),
            ty(DType::F32, &[4, 1]),
        ],
    );
    let (x, i, u) = (f.params[0], f.params[1], f.params[2]);
    let e = f.push1(Opcode::Exp, &[x], Attrs::new()).unwrap();
    let m = f
        .push1(Opcode::Sort, &[e], Attrs::new().with("axis", Attr::Int(0)))
        .unwrap();
    let y = f
        .push1(
            Opcode::Scatter,
            &[m, i, u],
            Attrs::new()
                .with("axes", Attr::Ints(vec![0]))
                .with("reduce", Attr::Str("sum".into())),
        )
        .unwrap();
    let z = f.push1(Opcode::Tanh, &[y], Attrs::new()).unwrap();
    f.results = vec![z];
    let mut rng = Rng(3);
    let args = vec![
        common::random_literal(&mut rng, &ty(DType::F32, &[64])),
        Literal::from_i64(DType::I32, vec![4], &[3, 63, 3, -1]).unwrap(),
        Literal::from_f64(DType::F32, vec![4, 1], &[1.0, 2.0, 3.0, 4.0]).unwrap(),
    ];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let p = &comp.kernels;
    let text = psionic_ir::kernel::text::print_program(p);
    // exp, sort (library), copy, scatter, tanh.
    let (copy, scat) = (&p.items[2], &p.items[3]);
    let src = copy.reads()[0];
    let dst = copy.writes()[0];
    assert_eq!(scat.updates(), vec![dst], "{text}");
    assert_eq!(
        p.buffer(src).slot,
        p.buffer(dst).slot,
        "copy not in place\n{text}"
    );
    let want = run_func(&f, &args).unwrap();
    compare_literals(&comp.run(&args).unwrap()[0], &want[0], 2, 0.0).unwrap();
    compare_literals(&run_program(p, &args).unwrap()[0], &want[0], 2, 0.0).unwrap();
}

/// An f32 scatter whose index is uniform along the row keeps the f32x4
/// code shape (embedding gradient rows), and agrees exactly.
#[test]
fn embedding_gradient_rows_take_the_vector_shape() {
    let (v, d, n) = (7usize, 13usize, 9usize);
    let mut f = Func::new(
        "embed_grad",
        vec![ty(DType::I32, &[n]), ty(DType::F32, &[n, 1, d])],
    );
    let (ids, g) = (f.params[0], f.params[1]);
    let z = f
        .push1(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(0.0))
                .with("shape", Attr::Ints(vec![v as i64, d as i64]))
                .with("dtype", Attr::DType(DType::F32)),
        )
        .unwrap();
    let g2 = f.push1(Opcode::Multiply, &[g, g], Attrs::new()).unwrap();
    let y = f
        .push1(
            Opcode::Scatter,
            &[z, ids, g2],
            Attrs::new()
                .with("axes", Attr::Ints(vec![0]))
                .with("reduce", Attr::Str("sum".into())),
        )
        .unwrap();
    f.results = vec![y];
    let mut rng = Rng(8);
    let gl = scatter_cases::small_literal(&mut rng, DType::F32, &[n, 1, d]);
    let args = vec![
        Literal::from_i64(DType::I32, vec![n], &[0, 6, -1, 3, 3, 2, -7, 5, 0]).unwrap(),
        gl,
    ];
    let comp = compile_for(&f, &types(&args), &CpuOptions::default()).unwrap();
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    let shapes = comp.code.kernel_shapes();
    assert_eq!(shapes.len(), 2, "{text}");
    assert!(shapes[1].1, "scatter kernel not f32x4: {shapes:?}\n{text}");
    let want = run_func(&f, &args).unwrap();
    exact(&comp.run(&args).unwrap(), &want).unwrap();
    let mut bad = args.clone();
    bad[0] = Literal::from_i64(DType::I32, vec![n], &[0, 6, -1, 3, 3, 2, -8, 5, 0]).unwrap();
    let e = comp.run(&bad).unwrap_err().message;
    assert!(
        e.contains("index along axis 0 -8 is out of range for axis size 7"),
        "{e}"
    );
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
    /// programs with i64 indices fall back, so they are left out). Cases
    /// are built with `distinct` (no duplicate positions for `none`), and
    /// their update values make every float sum and product exact in any
    /// order: the results are exact.
    fn check_wgpu(c: &Case) {
        if c.args.iter().any(|a| a.dtype() == DType::I64) {
            return;
        }
        let want = run_func(&c.f, &c.args);
        let comp = compile_for_wgpu(&c.f, &types(&c.args))
            .unwrap_or_else(|e| panic!("{}: wgpu compile: {e}", c.desc));
        let text = psionic_ir::kernel::text::print_program(&comp.kernels);
        // Assigning scatters stay library ops on the GPUs (duplicates in
        // order): `FusionOptions::set_scatter_kernels`.
        let assigns = c.f.ops.iter().any(|o| {
            matches!(o.opcode, Opcode::Scatter | Opcode::ScatterAxis)
                && o.attrs.str("reduce").unwrap_or("none") == "none"
        });
        if c.lib_free && !assigns {
            assert!(lib_ops(&comp.kernels).is_empty(), "{}\n{text}", c.desc);
        }
        let got = comp.run(&c.args);
        if c.bad {
            let w = want.err().unwrap_or_else(|| panic!("{}", c.desc));
            let e = got
                .err()
                .unwrap_or_else(|| panic!("{}: wgpu accepted\n{text}", c.desc));
            assert!(out_of_range(&e.message), "{}: wgpu: {e}", c.desc);
            assert!(
                e.message.ends_with(w.message.split(": ").last().unwrap()),
                "{}: wgpu: {e} vs {w}",
                c.desc
            );
            return;
        }
        let want = want.unwrap_or_else(|e| panic!("{}: interpreter: {e}", c.desc));
        let got = got.unwrap_or_else(|e| panic!("{}: wgpu: {e}\n{text}", c.desc));
        exact(&got, &want).unwrap_or_else(|e| panic!("{}: wgpu: {e}\n{text}", c.desc));
    }

    const WGPU_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::I32, DType::Bool];

    #[test]
    fn random_scatters_on_wgpu() {
        if skip("random_scatters_on_wgpu") {
            return;
        }
        let mut rng = Rng(0x3c_a77e);
        for i in 0..60 {
            let dt = WGPU_DTYPES[i % 4];
            let reduce = REDUCES[(i / 4) % REDUCES.len()];
            check_wgpu(&scatter_case(&mut rng, dt, reduce, i % 7 == 3, true));
            let reduce = ["none", "sum"][(i / 4) % 2];
            check_wgpu(&scatter_axis_case(&mut rng, dt, reduce, i % 6 == 2, true));
            check_wgpu(&dynamic_update_case(&mut rng, dt));
        }
    }

    /// Many duplicates of one position: sums of integers are exact whatever
    /// the order; a float sum agrees within rounding; `none` picks one of
    /// the candidates.
    #[test]
    fn heavy_duplicates_on_wgpu() {
        if skip("heavy_duplicates_on_wgpu") {
            return;
        }
        for (dt, reduce) in [
            (DType::I32, "sum"),
            (DType::F32, "sum"),
            (DType::F16, "sum"),
            (DType::I32, "max"),
            (DType::F32, "none"),
        ] {
            let n = 1000usize;
            let mut f = Func::new(
                "dups",
                vec![ty(dt, &[5]), ty(DType::I32, &[n]), ty(dt, &[n, 1])],
            );
            let p = f.params.clone();
            let y = f
                .push1(
                    Opcode::Scatter,
                    &p,
                    Attrs::new()
                        .with("axes", Attr::Ints(vec![0]))
                        .with("reduce", Attr::Str(reduce.into())),
                )
                .unwrap();
            f.results = vec![y];
            let idx: Vec<i64> = (0..n as i64).map(|k| (k * 7) % 3 - 1).collect();
            let upd: Vec<f64> = (0..n).map(|k| ((k * 13) % 11) as f64 - 5.0).collect();
            let args = vec![
                Literal::from_f64(dt, vec![5], &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap(),
                Literal::from_i64(DType::I32, vec![n], &idx).unwrap(),
                Literal::from_f64(dt, vec![n, 1], &upd).unwrap(),
            ];
            let want = run_func(&f, &args).unwrap();
            let comp = compile_for_wgpu(&f, &types(&args)).unwrap();
            // An assigning scatter stays a library op on the GPUs: its
            // duplicates apply in order, exactly as in the interpreter.
            assert_eq!(lib_ops(&comp.kernels).is_empty(), reduce != "none");
            let got = comp.run(&args).unwrap();
            if reduce == "none" {
                compare_literals(&got[0], &want[0], 0, 0.0)
                    .unwrap_or_else(|e| panic!("{dt} none: {e}"));
                // Its kernel (the backend's default keeps it off) writes
                // one of the candidates at each position.
                let mut opts = psionic_runtime::exec::Backend::Wgpu.compile_options();
                opts.fusion.set_scatter_kernels = true;
                let (kp, _) = psionic_passes::fusion::compile::compile(&f, &opts).unwrap();
                assert!(lib_ops(&kp).is_empty());
                let got = psionic_runtime::wgpu::load_program(&kp)
                    .unwrap()
                    .run(&args)
                    .unwrap();
                let g = got[0].to_f64_vec();
                let w = want[0].to_f64_vec();
                for pos in 0..5 {
                    let cands: Vec<f64> = (0..n)
                        .filter(|&k| (idx[k] + 5) % 5 == pos as i64)
                        .map(|k| upd[k])
                        .collect();
                    if cands.is_empty() {
                        assert_eq!(g[pos], w[pos]);
                    } else {
                        assert!(cands.contains(&g[pos]), "{dt} none at {pos}: {}", g[pos]);
                    }
                }
            } else {
                // Partial sums of these integers are exact in f32; in f16
                // each step may round (the interpreter rounds once).
                let tol = if dt == DType::F16 { 2.0 } else { 0.0 };
                compare_literals(&got[0], &want[0], 0, tol)
                    .unwrap_or_else(|e| panic!("{dt} {reduce}: {e}"));
            }
        }
    }
}
