//! Scans (`cumsum`, `cumprod`, `cummax`, `cummin`, `cumlogaddexp`) as
//! generated kernels: every op, both `reverse` and `inclusive`, the scanned
//! axis first, middle or last, f32/f16/i32/bool/i64, rows of 0, 1, 7, 1000
//! and 5000 points, bare or fused with an elementwise producer and consumer.
//! Each program runs through the kernel interpreter, the CPU JIT and (with
//! the `wgpu` feature and an adapter) wgpu, against the tensor-level
//! reference interpreter; fusion must leave no `kernel.op` for a scan
//! (except of i64, a library op unless kernels hold 64-bit integers).
//!
//! Tolerances against the reference (which scans in f64, rounding once):
//! integers and bools exact; the kernel interpreter and the JIT scan in f64
//! too (4 ulp, for `cumlogaddexp`'s online form); wgpu scans in f32 (chunk
//! totals, then a workgroup scan of them): 64 ulp or 1e-5 · row length.

use psionic_codegen::cpu::{compile_program, CpuOptions};
use psionic_ir::kernel::{Item, KProgram};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use psionic_runtime::interp::{compare_literals, eval_op, run_func};
use psionic_runtime::kernel_interp::run_program_with;

mod common;
use common::{random_literal, Rng};

const OPS: [Opcode; 5] = [
    Opcode::Cumsum,
    Opcode::Cumprod,
    Opcode::Cummax,
    Opcode::Cummin,
    Opcode::CumLogAddExp,
];
const DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::I32, DType::Bool, DType::I64];
const LENGTHS: [usize; 5] = [0, 1, 7, 1000, 5000];

/// One test case.
#[derive(Clone, Copy, Debug)]
struct Case {
    op: Opcode,
    dtype: DType,
    /// Scanned axis of a rank-3 operand.
    axis: usize,
    n: usize,
    reverse: bool,
    inclusive: bool,
    /// With an elementwise producer and consumer.
    fused: bool,
}

impl Case {
    fn shape(&self) -> Vec<usize> {
        let mut s = vec![3, 2, 2];
        s[self.axis] = self.n;
        s
    }
}

/// `consumer(scan(producer(x)))`, or the bare scan.
fn program(c: &Case) -> Func {
    let shape: Vec<i64> = c.shape().iter().map(|&d| d as i64).collect();
    let mut f = Func::new("main", vec![TensorType::new(c.dtype, shape)]);
    let x = f.params[0];
    let un = |d: DType| {
        if d == DType::Bool {
            Opcode::LogicalNot
        } else {
            Opcode::Negative
        }
    };
    let x = if c.fused {
        f.push1(un(c.dtype), &[x], Attrs::new()).unwrap()
    } else {
        x
    };
    let attrs = Attrs::new()
        .with("axis", Attr::Int(c.axis as i64))
        .with("reverse", Attr::Bool(c.reverse))
        .with("inclusive", Attr::Bool(c.inclusive));
    let mut y = f.push1(c.op, &[x], attrs).unwrap();
    if c.fused {
        let d = f.ty(y).dtype;
        y = if d == DType::Bool {
            f.push1(Opcode::LogicalNot, &[y], Attrs::new()).unwrap()
        } else {
            f.push1(Opcode::Add, &[y, y], Attrs::new()).unwrap()
        };
    }
    f.results = vec![y];
    f
}

/// Inputs: `cumprod` of floats gets magnitudes in [0.9, 1.1] so that long
/// products stay finite and normal in f32 too.
fn input(rng: &mut Rng, c: &Case) -> Literal {
    let ty = TensorType::new(
        c.dtype,
        c.shape().iter().map(|&d| d as i64).collect::<Vec<i64>>(),
    );
    if c.op == Opcode::Cumprod && c.dtype.is_float() {
        let n: usize = c.shape().iter().product();
        let v: Vec<f64> = (0..n)
            .map(|_| {
                let m = 0.9 + 0.2 * rng.unit();
                if rng.next() & 1 == 0 {
                    m
                } else {
                    -m
                }
            })
            .collect();
        return Literal::from_f64(c.dtype, c.shape(), &v).unwrap();
    }
    random_literal(rng, &ty)
}

fn valid(op: Opcode, d: DType) -> bool {
    op != Opcode::CumLogAddExp || d.is_float()
}

/// Every op × dtype × (reverse, inclusive) × axis, the row length and
/// fusion rotating through their values.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut i = 0usize;
    for op in OPS {
        for dtype in DTYPES {
            if !valid(op, dtype) {
                continue;
            }
            for reverse in [false, true] {
                for inclusive in [true, false] {
                    for axis in 0..3 {
                        out.push(Case {
                            op,
                            dtype,
                            axis,
                            n: LENGTHS[i % LENGTHS.len()],
                            reverse,
                            inclusive,
                            fused: (i / LENGTHS.len()).is_multiple_of(2),
                        });
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

fn tolerance(d: DType, gpu: bool, n: usize) -> (u64, f64) {
    match d {
        DType::F32 if gpu => (64, 1e-5 * n.max(1) as f64),
        DType::F16 if gpu => (2, 1e-3 * n.max(1) as f64),
        DType::F32 | DType::F16 => (4, 0.0),
        _ => (0, 0.0),
    }
}

fn lib_scans(p: &KProgram) -> usize {
    p.items
        .iter()
        .filter(|it| matches!(it, Item::LibOp(l) if l.opcode.class() == psionic_ir::OpClass::Scan))
        .count()
}

fn kernels(p: &KProgram) -> usize {
    p.items
        .iter()
        .filter(|it| matches!(it, Item::Kernel(_)))
        .count()
}

/// Lowers `c`, checks the structure, and returns the planned program with
/// the reference result.
fn prepare(c: &Case, rng: &mut Rng) -> (KProgram, Vec<Literal>, Vec<Literal>) {
    let f = program(c);
    let args = vec![input(rng, c)];
    let want = run_func(&f, &args).expect("reference interpreter");
    let (kp, _) = compile(&f, &CompileOptions::default()).expect("compile");
    let text = psionic_ir::kernel::text::print_program(&kp);
    if c.dtype == DType::I64 {
        assert_eq!(
            lib_scans(&kp),
            1,
            "{c:?}: i64 scans stay library ops\n{text}"
        );
    } else {
        assert_eq!(
            lib_scans(&kp),
            0,
            "{c:?}: a scan left as a library op\n{text}"
        );
        assert!(text.contains("scan."), "{c:?}: no scan node\n{text}");
        assert_eq!(kernels(&kp), 1, "{c:?}: not one kernel\n{text}");
    }
    (kp, args, want)
}

fn compare(what: &str, c: &Case, kp: &KProgram, got: &[Literal], want: &[Literal], gpu: bool) {
    for (g, w) in got.iter().zip(want) {
        let (u, a) = tolerance(w.dtype(), gpu, c.n);
        if let Err(e) = compare_literals(g, w, u, a) {
            panic!(
                "{what} vs reference, {c:?}: {e}\n{}",
                psionic_ir::kernel::text::print_program(kp)
            );
        }
    }
}

#[test]
fn kernel_interpreter_and_jit_match_the_reference() {
    let mut rng = Rng(0x5ca9_1234_abcd_0001);
    let opts = CpuOptions {
        threads: 3,
        parallel_min_points: 8,
        ..CpuOptions::default()
    };
    let all = cases();
    assert!(all.len() > 200);
    for c in &all {
        let (kp, args, want) = prepare(c, &mut rng);
        let got = run_program_with(&kp, &args, &eval_op).expect("kernel interpreter");
        compare("kernel interpreter", c, &kp, &got, &want, false);
        let code = compile_program(&kp, &opts).expect("jit compile");
        let got = code.run(&args, &eval_op).expect("jit run");
        compare("jit", c, &kp, &got, &want, false);
    }
}

/// Scans sharing a kernel with other work: after a row reduction (a
/// `loop` stage), two scans in one stage, over a transposed view, of a
/// matmul's product, and a reverse scan feeding a reduction. Each with
/// the number of kernels fusion must produce.
fn row_programs() -> Vec<(&'static str, usize)> {
    vec![
        (
            "func @main(%x: tensor<5x300xf32>) -> (tensor<5x300xf32>) {
  %s = tensor.softmax %x {axes = [1]} : tensor<5x300xf32>
  %c = tensor.cumsum %s {axis = 1} : tensor<5x300xf32>
  return %c
}",
            1,
        ),
        (
            "func @main(%x: tensor<6x77xf32>) -> (tensor<6x77xf32>) {
  %a = tensor.cumsum %x {axis = 1} : tensor<6x77xf32>
  %b = tensor.cummax %x {axis = 1, inclusive = false} : tensor<6x77xf32>
  %c = tensor.cumlogaddexp %x {axis = 1, reverse = true} : tensor<6x77xf32>
  %d = tensor.add %a, %b : tensor<6x77xf32>
  %e = tensor.add %d, %c : tensor<6x77xf32>
  return %e
}",
            // A reverse scan cannot run in a forward kernel: it is stored.
            2,
        ),
        (
            "func @main(%x: tensor<40x3xf32>) -> (tensor<3x40xf32>) {
  %t = tensor.transpose %x {perm = [1, 0]} : tensor<3x40xf32>
  %c = tensor.cummin %t {axis = 1, reverse = true} : tensor<3x40xf32>
  %y = tensor.multiply %c, %t : tensor<3x40xf32>
  return %y
}",
            1,
        ),
        (
            "func @main(%a: tensor<4x8xf32>, %b: tensor<8x9xf32>) -> (tensor<4x9xf32>) {
  %m = tensor.matmul %a, %b : tensor<4x9xf32>
  %c = tensor.cumsum %m {axis = 1} : tensor<4x9xf32>
  return %c
}",
            1,
        ),
        (
            "func @main(%x: tensor<7x64xi32>) -> (tensor<7xi32>, tensor<7x64xi32>) {
  %c = tensor.cumsum %x {axis = 1, reverse = true} : tensor<7x64xi32>
  %s = tensor.reduce_max %c {axes = [1]} : tensor<7xi32>
  return %s, %c
}",
            2,
        ),
    ]
}

fn check_row_program(src: &str, kernels_want: usize, gpu: bool) {
    let m = psionic_ir::text::parse_module(src).expect("parse");
    let f = &m.funcs[0];
    let mut rng = Rng(0x77);
    let args: Vec<Literal> = f
        .param_types()
        .iter()
        .map(|t| random_literal(&mut rng, t))
        .collect();
    let want = run_func(f, &args).expect("reference");
    let (kp, _) = compile(f, &CompileOptions::default()).expect("compile");
    let text = psionic_ir::kernel::text::print_program(&kp);
    assert_eq!(lib_scans(&kp), 0, "{text}");
    assert_eq!(kernels(&kp), kernels_want, "{text}");
    let check = |what: &str, got: &[Literal]| {
        for (g, w) in got.iter().zip(&want) {
            // Loose enough for the matmul case (gemm sums in another order).
            let (u, a) = if gpu { (64, 1e-3) } else { (16, 1e-4) };
            compare_literals(g, w, u, a).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
        }
    };
    if gpu {
        #[cfg(feature = "wgpu")]
        {
            let prog = psionic_runtime::wgpu::load_program(&kp).expect("wgpu compile");
            check("wgpu", &prog.run(&args).expect("wgpu run"));
        }
        return;
    }
    check(
        "kernel interpreter",
        &run_program_with(&kp, &args, &eval_op).expect("kernel interpreter"),
    );
    let code = compile_program(&kp, &CpuOptions::default()).expect("jit");
    check("jit", &code.run(&args, &eval_op).expect("jit run"));
}

#[test]
fn scans_fuse_with_reductions_views_matmuls_and_each_other() {
    for (src, k) in row_programs() {
        check_row_program(src, k, false);
    }
}

#[test]
fn fused_cumsum_of_exp_is_one_kernel() {
    let src = "func @main(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>) {
  %e = tensor.exp %x : tensor<4x16xf32>
  %c = tensor.cumsum %e {axis = 1} : tensor<4x16xf32>
  %two = tensor.full {dtype = f32, shape = [4, 16], value = 2.0} : tensor<4x16xf32>
  %y = tensor.multiply %c, %two : tensor<4x16xf32>
  return %y
}";
    let m = psionic_ir::text::parse_module(src).expect("parse");
    let f = &m.funcs[0];
    let p = psionic_passes::fusion::fuse(f).expect("fuse");
    let text = psionic_ir::kernel::text::print_program(&p);
    let want = "kernel.program @main(%b0: tensor<4x16xf32>) -> (tensor<4x16xf32>) {
  %b1 = kernel.buffer : tensor<4x16xf32>
  kernel.fused @k0 domain [4, 16] reduce [1] {
    outer {
      %0 = const 2.0 : f32
    }
    map {
      %1 = load %b0[0; 16, 1] : f32
      %2 = exp %1 : f32
      %3 = scan.sum %2 : f32
      %4 = multiply %3, %0 : f32
      store %b1[0; 16, 1], %4 : f32
    }
  }
  return %b1
}
";
    assert_eq!(text, want);
    assert!(!text.contains("kernel.op"));
    // The text form round-trips.
    let back = psionic_ir::kernel::text::parse_program(&text).expect("parse kernel text");
    assert_eq!(psionic_ir::kernel::text::print_program(&back), text);
}

#[test]
fn reverse_exclusive_scan_runs_forward_over_a_flipped_axis() {
    let src = "func @main(%x: tensor<3x5xf32>) -> (tensor<3x5xf32>) {
  %c = tensor.cummax %x {axis = 1, reverse = true, inclusive = false} : tensor<3x5xf32>
  %y = tensor.add %c, %x : tensor<3x5xf32>
  return %y
}";
    let m = psionic_ir::text::parse_module(src).expect("parse");
    let p = psionic_passes::fusion::fuse(&m.funcs[0]).expect("fuse");
    let text = psionic_ir::kernel::text::print_program(&p);
    assert_eq!(kernels(&p), 1, "{text}");
    assert!(text.contains("scan.exclusive.max"), "{text}");
    // Loads and the store walk the row backwards.
    assert!(text.contains("[4; 5, -1]"), "{text}");
}

#[test]
fn a_scan_feeding_a_reduction_or_a_scan_is_read_from_memory() {
    let src = "func @main(%x: tensor<3x6xf32>) -> (tensor<3xf32>, tensor<3x6xf32>) {
  %c = tensor.cumsum %x {axis = 1} : tensor<3x6xf32>
  %s = tensor.reduce_sum %c {axes = [1]} : tensor<3xf32>
  %d = tensor.cummax %c {axis = 1} : tensor<3x6xf32>
  return %s, %d
}";
    let m = psionic_ir::text::parse_module(src).expect("parse");
    let f = &m.funcs[0];
    let p = psionic_passes::fusion::fuse(f).expect("fuse");
    let text = psionic_ir::kernel::text::print_program(&p);
    assert_eq!(lib_scans(&p), 0, "{text}");
    let mut rng = Rng(77);
    let x = random_literal(&mut rng, &TensorType::new(DType::F32, vec![3i64, 6]));
    let want = run_func(f, std::slice::from_ref(&x)).expect("reference");
    let got = run_program_with(&p, std::slice::from_ref(&x), &eval_op).expect("kernel interp");
    for (g, w) in got.iter().zip(&want) {
        compare_literals(g, w, 4, 1e-6).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
    let code = compile_program(&p, &CpuOptions::default()).expect("jit");
    let got = code.run(std::slice::from_ref(&x), &eval_op).expect("run");
    for (g, w) in got.iter().zip(&want) {
        compare_literals(g, w, 4, 1e-6).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_the_reference() {
    use psionic_runtime::wgpu::{load_program, unavailable};
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED wgpu_matches_the_reference: {why}");
        return;
    }
    let mut rng = Rng(0x5ca9_1234_abcd_0002);
    // WGSL has no 64-bit integers: i64 programs do not load at all.
    for c in cases().into_iter().filter(|c| c.dtype != DType::I64) {
        let (kp, args, want) = prepare(&c, &mut rng);
        let prog = load_program(&kp).unwrap_or_else(|e| {
            panic!(
                "wgpu compile failed for {c:?}: {e}\n{}",
                psionic_ir::kernel::text::print_program(&kp)
            )
        });
        let got = prog.run(&args).expect("wgpu run");
        compare("wgpu", &c, &kp, &got, &want, true);
    }
    for (src, k) in row_programs() {
        check_row_program(src, k, true);
    }
}
