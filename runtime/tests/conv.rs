//! Convolutions lowered to im2col matmuls (`psionic_passes::fusion::conv`)
//! against the reference interpreter's direct `conv_general`, over random
//! configurations: 1 to 3 spatial axes, strides, padding, kernel and input
//! dilation (transposed convolutions), groups, flipped kernels, f32/f64/f16.
//!
//! Each configuration is checked three ways: the lowered function on the
//! interpreter (the rewrite's algebra; one rounding per element either
//! way), the compiled CPU program (im2col kernel plus `gemm`, f32
//! accumulation), and the compiled program's structure (a matmul, no
//! `conv_general` library call).

use psionic_ir::kernel::Item;
use psionic_ir::specialize::specialize;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_passes::fusion::conv::lower_convolutions;
use psionic_runtime::exec::Executable;
use psionic_runtime::interp::{compare_literals, run_func};

mod common;
use common::{random_literal, Rng};

fn ints(v: &[usize]) -> Attr {
    Attr::Ints(v.iter().map(|&x| x as i64).collect())
}

struct Case {
    f: Func,
    args: Vec<Literal>,
    /// Multiply-adds per output element.
    depth: usize,
    desc: String,
}

/// A random valid convolution, or None when the draw is not one.
fn draw(rng: &mut Rng, dtype: DType) -> Option<Case> {
    let mut r = |n: u64| (rng.next() % n) as usize;
    let sd = 1 + r(3);
    let groups = 1 + r(3);
    let (cg, og, n) = (1 + r(4), 1 + r(3), 1 + r(2));
    let max_sp = [0, 9, 7, 4][sd];
    let sp: Vec<usize> = (0..sd).map(|_| 1 + r(max_sp)).collect();
    let k: Vec<usize> = (0..sd).map(|_| 1 + r(3)).collect();
    let stride: Vec<usize> = (0..sd).map(|_| 1 + r(3)).collect();
    let lo: Vec<usize> = (0..sd).map(|_| r(3)).collect();
    let hi: Vec<usize> = (0..sd).map(|_| r(3)).collect();
    let kdil: Vec<usize> = (0..sd).map(|_| 1 + r(2)).collect();
    let idil: Vec<usize> = (0..sd).map(|_| if r(3) == 0 { 2 } else { 1 }).collect();
    let flip = r(2) == 1;
    let mut xs = vec![n];
    xs.extend(&sp);
    xs.push(groups * cg);
    let mut ws = vec![groups * og];
    ws.extend(&k);
    ws.push(cg);
    let xt = TensorType::from_dims(dtype, &xs);
    let wt = TensorType::from_dims(dtype, &ws);
    let mut f = Func::new("main", vec![xt.clone(), wt.clone()]);
    let ps = f.params.clone();
    let attrs = Attrs::new()
        .with("kernel_strides", ints(&stride))
        .with("padding_lo", ints(&lo))
        .with("padding_hi", ints(&hi))
        .with("kernel_dilation", ints(&kdil))
        .with("input_dilation", ints(&idil))
        .with("groups", Attr::Int(groups as i64))
        .with("flip", Attr::Bool(flip));
    let y = f.push1(Opcode::ConvGeneral, &ps, attrs).ok()?;
    // A consumer, so the matmul gets an epilogue.
    let y = f.push1(Opcode::Tanh, &[y], Attrs::new()).ok()?;
    f.results = vec![y];
    let desc = format!(
        "x {xs:?} w {ws:?} groups {groups} strides {stride:?} pad {lo:?}/{hi:?} kdil {kdil:?} idil {idil:?} flip {flip} {dtype}"
    );
    let args = vec![random_literal(rng, &xt), random_literal(rng, &wt)];
    Some(Case {
        f,
        args,
        depth: k.iter().product::<usize>() * cg,
        desc,
    })
}

#[test]
fn lowered_convolutions_match_the_interpreter() {
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let mut ran = 0;
    for i in 0..400 {
        let dtype = match i % 8 {
            6 => DType::F64,
            7 => DType::F16,
            _ => DType::F32,
        };
        let Some(case) = draw(&mut rng, dtype) else {
            continue;
        };
        let want = run_func(&case.f, &case.args).unwrap();
        let types: Vec<TensorType> = case.args.iter().map(|a| a.ty()).collect();
        let g = specialize(&case.f, &types).unwrap();

        // The rewrite alone, on the interpreter.
        let mut lowered = g.clone();
        assert_eq!(lower_convolutions(&mut lowered), 1, "{}", case.desc);
        assert!(
            !lowered
                .ops
                .iter()
                .any(|op| op.opcode == Opcode::ConvGeneral),
            "{}",
            case.desc
        );
        let got = run_func(&lowered, &case.args).unwrap();
        let (ulps, atol) = match dtype {
            DType::F16 => (2, 2e-3),
            _ => (4, 1e-12),
        };
        compare_literals(&got[0], &want[0], ulps, atol)
            .unwrap_or_else(|e| panic!("lowered, interpreted: {}: {e}", case.desc));

        // Compiled: a matmul, no library call for the convolution.
        let (kp, _) = compile(&g, &CompileOptions::default()).unwrap();
        assert!(
            kp.items.iter().any(|it| matches!(it, Item::Matmul(_))),
            "no matmul for {}",
            case.desc
        );
        assert!(
            !kp.items
                .iter()
                .any(|it| matches!(it, Item::LibOp(l) if l.opcode == Opcode::ConvGeneral)),
            "{}",
            case.desc
        );
        let got = Executable::new(case.f.clone())
            .strict()
            .run(&case.args)
            .unwrap_or_else(|e| panic!("{}: {e}", case.desc));
        // f32 products accumulate in f32 (gemm); inputs are in [-3, 3).
        let atol = match dtype {
            DType::F32 => 1e-6 * 9.0 * case.depth as f64,
            DType::F16 => 4e-3,
            _ => 1e-12 * case.depth as f64,
        };
        compare_literals(&got[0], &want[0], 16, atol)
            .unwrap_or_else(|e| panic!("compiled: {}: {e}", case.desc));
        ran += 1;
    }
    assert!(ran > 250, "only {ran} valid draws");
}

#[test]
fn without_the_lowering_a_convolution_is_a_library_call() {
    let mut rng = Rng(7);
    let case = loop {
        if let Some(c) = draw(&mut rng, DType::F32) {
            break c;
        }
    };
    let types: Vec<TensorType> = case.args.iter().map(|a| a.ty()).collect();
    let g = specialize(&case.f, &types).unwrap();
    let opts = CompileOptions {
        lower_convolutions: false,
        ..CompileOptions::default()
    };
    let (kp, _) = compile(&g, &opts).unwrap();
    assert!(kp
        .items
        .iter()
        .any(|it| matches!(it, Item::LibOp(l) if l.opcode == Opcode::ConvGeneral)));
}

/// The same draws through a GPU backend (`run` compiles without fallback),
/// against the interpreter; f32 only (wgpu has no f64), f16 where the
/// backend has it. Returns how many ran.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
type Runner<'a> = &'a dyn Fn(&Func, &[Literal]) -> Result<Vec<Literal>, String>;

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn gpu_draws(run: Runner, f16: bool) -> usize {
    let mut rng = Rng(0x5eed_c0de_1234_5678);
    let mut ran = 0;
    for i in 0..40 {
        let dtype = if f16 && i % 4 == 3 {
            DType::F16
        } else {
            DType::F32
        };
        let Some(case) = draw(&mut rng, dtype) else {
            continue;
        };
        let want = run_func(&case.f, &case.args).unwrap();
        let got = run(&case.f, &case.args).unwrap_or_else(|e| panic!("{}: {e}", case.desc));
        // GPU gemms may use FMA chains in any order; TF32 is off.
        let atol = match dtype {
            DType::F16 => 4e-3,
            _ => 1e-6 * 9.0 * case.depth as f64,
        };
        compare_literals(&got[0], &want[0], 16, atol)
            .unwrap_or_else(|e| panic!("{}: {e}", case.desc));
        ran += 1;
    }
    ran
}

#[cfg(feature = "wgpu")]
#[test]
fn convolutions_on_wgpu() {
    use psionic_runtime::wgpu::{run_func_wgpu, unavailable};
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED convolutions_on_wgpu: {why}");
        return;
    }
    let ran = gpu_draws(&|f, a| run_func_wgpu(f, a).map_err(|e| e.to_string()), true);
    assert!(ran > 20, "only {ran} draws");
}

#[cfg(feature = "cuda")]
#[test]
fn convolutions_on_cuda() {
    use psionic_runtime::cuda::{availability, run_func_cuda};
    if let Err(e) = availability() {
        eprintln!("note: {e}; skipping");
        return;
    }
    let ran = gpu_draws(&|f, a| run_func_cuda(f, a).map_err(|e| e.to_string()), true);
    assert!(ran > 20, "only {ran} draws");
}

#[test]
fn an_empty_batch_stays_a_library_call_and_runs() {
    let xt = TensorType::from_dims(DType::F32, &[0, 5, 3]);
    let wt = TensorType::from_dims(DType::F32, &[2, 3, 3]);
    let mut f = Func::new("main", vec![xt.clone(), wt.clone()]);
    let ps = f.params.clone();
    let attrs = Attrs::new()
        .with("kernel_strides", ints(&[1]))
        .with("padding_lo", ints(&[0]))
        .with("padding_hi", ints(&[0]))
        .with("kernel_dilation", ints(&[1]))
        .with("input_dilation", ints(&[1]))
        .with("groups", Attr::Int(1))
        .with("flip", Attr::Bool(false));
    let y = f.push1(Opcode::ConvGeneral, &ps, attrs).unwrap();
    f.results = vec![y];
    let mut g = f.clone();
    assert_eq!(lower_convolutions(&mut g), 0);
    let mut rng = Rng(3);
    let args = vec![random_literal(&mut rng, &xt), random_literal(&mut rng, &wt)];
    let got = Executable::new(f.clone()).run(&args).unwrap();
    assert_eq!(got[0].shape(), &[0, 3, 2]);
}
