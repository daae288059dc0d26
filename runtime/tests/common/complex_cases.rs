//! Complex programs shared by `complex_kernels` (CPU, kernel interpreter,
//! wgpu) and `cuda_device` (CUDA): every lowered complex op alone on random
//! and special values, random programs of them, and an FFT filter, each
//! run on the strict CPU JIT, the kernel interpreter and an optional extra
//! backend, compared norm-wise with the reference interpreter (module doc
//! of `complex_kernels.rs`; bounds in docs/BACKENDS.md).
#![allow(dead_code)]

use super::common::{self, c64s, complex_vals, Rng};
use psionic_codegen::cpu::CpuOptions;
use psionic_ir::kernel::{Item, KProgram};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use psionic_runtime::exec::{compile_for, Executable};
use psionic_runtime::interp::{compare_literals, run_func};
use psionic_runtime::kernel_interp::run_program;
use psionic_runtime::pairs::to_pairs;

pub fn ty(d: DType, s: &[usize]) -> TensorType {
    TensorType::from_dims(d, s)
}

pub fn show(f: &Func) -> String {
    psionic_ir::text::print_func(f)
}

/// The complex arguments' elements (for failure messages).
pub fn show_args(args: &[Literal]) -> String {
    args.iter()
        .filter(|a| a.dtype() == DType::C64)
        .map(|a| format!("{:?}", complex_vals(a)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn types(args: &[Literal]) -> Vec<TensorType> {
    args.iter().map(|a| a.ty()).collect()
}

pub fn lib_ops(p: &KProgram) -> Vec<String> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::LibOp(l) => Some(l.opcode.to_string()),
            _ => None,
        })
        .collect()
}

/// The item sequence: `k` for a kernel, `m` for a matmul, the op name for
/// a library op.
pub fn items(p: &KProgram) -> Vec<String> {
    p.items
        .iter()
        .map(|i| match i {
            Item::Kernel(_) => "k".to_string(),
            Item::Matmul(_) => "m".to_string(),
            Item::LibOp(l) => l.opcode.to_string(),
        })
        .collect()
}

/// Moderate values, and the special ones every lowered op must treat as
/// the interpreter does.
pub const SPECIAL: [f32; 7] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    0.5,
    -2.0,
];
/// Magnitudes whose squares overflow or underflow f32.
pub const SCALED: [f32; 8] = [1e30, -3e35, 1e-30, -2e-35, 3e38, 0.0, 1.0, -7.0];

pub fn random_c64(rng: &mut Rng, shape: &[usize], special: &[f32], lo: f64, hi: f64) -> Literal {
    let n: usize = shape.iter().product();
    let part = |rng: &mut Rng| -> f32 {
        if !special.is_empty() && rng.next().is_multiple_of(3) {
            special[(rng.next() % special.len() as u64) as usize]
        } else {
            (lo + rng.unit() * (hi - lo)) as f32
        }
    };
    let v: Vec<(f32, f32)> = (0..n).map(|_| (part(rng), part(rng))).collect();
    c64s(shape, &v)
}

pub fn random_f32(rng: &mut Rng, shape: &[usize]) -> Literal {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.unit() * 4.0 - 2.0).collect();
    Literal::from_f64(DType::F32, shape.to_vec(), &v).unwrap()
}

/// Norm-wise comparison of complex results (see the module doc); other
/// dtypes through `compare_literals` (`ulps`, `atol`).
pub fn close(got: &Literal, want: &Literal, tol: f64, floor: f64) -> Result<(), String> {
    if got.ty() != want.ty() {
        return Err(format!("got {}, expected {}", got.ty(), want.ty()));
    }
    if got.dtype() != DType::C64 {
        let ulps = (tol / f32::EPSILON as f64).ceil() as u64;
        return compare_literals(got, want, ulps, tol * floor);
    }
    for (i, (g, w)) in complex_vals(got)
        .into_iter()
        .zip(complex_vals(want))
        .enumerate()
    {
        let bad = || Err(format!("element {i}: got {g:?}, want {w:?}"));
        let nan = |z: (f32, f32)| z.0.is_nan() || z.1.is_nan();
        if nan(w) || nan(g) {
            if nan(w) != nan(g) {
                return bad();
            }
            continue;
        }
        let inf_ok =
            |a: f32, b: f32| a.is_infinite() == b.is_infinite() && (!a.is_infinite() || a == b);
        if !inf_ok(g.0, w.0) || !inf_ok(g.1, w.1) {
            return bad();
        }
        let fin = |a: f32| if a.is_finite() { a as f64 } else { 0.0 };
        let (dr, di) = (fin(g.0) - fin(w.0), fin(g.1) - fin(w.1));
        let err = dr.hypot(di);
        let norm = fin(w.0).hypot(fin(w.1));
        if err > tol * (norm + floor) {
            return bad();
        }
    }
    Ok(())
}

/// One backend's run of a program (`None` when the backend is absent).
pub type Runner<'a> = &'a dyn Fn(&Func, &[Literal]) -> Option<Result<Vec<Literal>, String>>;

/// The CPU JIT, strict (an interpreter fallback is an error), checked free
/// of library ops when `lib_free`; and the kernel interpreter on the same
/// planned program.
pub fn cpu_runs(f: &Func, args: &[Literal], lib_free: bool) -> Vec<(&'static str, Vec<Literal>)> {
    let comp = compile_for(f, &types(args), &CpuOptions::default())
        .unwrap_or_else(|e| panic!("compile: {e}\n{}", show(f)));
    let text = psionic_ir::kernel::text::print_program(&comp.kernels);
    if lib_free {
        assert!(
            lib_ops(&comp.kernels).is_empty(),
            "library ops left\n{text}"
        );
    }
    let strict = Executable::new(f.clone()).strict();
    let jit = strict
        .run(args)
        .unwrap_or_else(|e| panic!("JIT: {e}\n{text}"));
    let pairs: Vec<Literal> = args.iter().map(|a| to_pairs(a).unwrap()).collect();
    let kint =
        run_program(&comp.kernels, &pairs).unwrap_or_else(|e| panic!("kernel interp: {e}\n{text}"));
    // The kernel interpreter returns pair buffers: read them back as c64.
    let want_tys: Vec<TensorType> = f.results.iter().map(|&r| f.ty(r).clone()).collect();
    let kint = kint
        .into_iter()
        .zip(&want_tys)
        .map(|(l, t)| {
            if t.dtype == DType::C64 {
                psionic_runtime::pairs::from_pairs(&l).unwrap()
            } else {
                l
            }
        })
        .collect();
    vec![("cpu", jit), ("kernel interp", kint)]
}

pub fn check_all(
    f: &Func,
    args: &[Literal],
    tol: f64,
    floor: f64,
    lib_free: bool,
    extra: Option<Runner>,
) {
    let want = run_func(f, args).unwrap_or_else(|e| panic!("interpreter: {e}\n{}", show(f)));
    let mut runs = cpu_runs(f, args, lib_free);
    if let Some(r) = extra {
        if let Some(got) = r(f, args) {
            runs.push((
                "gpu",
                got.unwrap_or_else(|e| panic!("gpu: {e}\n{}", show(f))),
            ));
        }
    }
    for (who, got) in runs {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            close(g, w, tol, floor)
                .unwrap_or_else(|e| panic!("{who}: {e}\n{}\nargs {}", show(f), show_args(args)));
        }
    }
}

/// Unary complex ops, with their special-value set and the norm-wise bound
/// (relative to |want| + floor) the f32 formulas keep on the CPU.
pub fn unary_cases() -> Vec<(Opcode, &'static [f32], f64)> {
    use Opcode as O;
    vec![
        (O::Negative, &SPECIAL, 0.0),
        (O::Conjugate, &SPECIAL, 0.0),
        (O::Square, &SPECIAL, 4e-7),
        (O::Exp, &SPECIAL, 1e-6),
        (O::Expm1, &SPECIAL, 1e-6),
        (O::Log, &SPECIAL, 1e-6),
        (O::Log1p, &SPECIAL, 1e-6),
        (O::Log2, &SPECIAL, 1e-6),
        (O::Log10, &SPECIAL, 1e-6),
        (O::Sqrt, &SPECIAL, 1e-6),
        (O::Rsqrt, &SPECIAL, 2e-6),
        (O::Sin, &SPECIAL, 1e-6),
        (O::Cos, &SPECIAL, 1e-6),
        (O::Tan, &SPECIAL, 2e-6),
        (O::Sinh, &SPECIAL, 1e-6),
        (O::Cosh, &SPECIAL, 1e-6),
        (O::Tanh, &SPECIAL, 2e-6),
        (O::Sigmoid, &SPECIAL, 2e-6),
        (O::Sign, &SCALED, 1e-6),
        (O::Reciprocal, &SCALED, 1e-6),
        (O::Floor, &SPECIAL, 0.0),
        (O::Round, &SPECIAL, 0.0),
    ]
}

pub fn unary_program(op: Opcode, shape: &[usize]) -> Func {
    let mut f = Func::new("main", vec![ty(DType::C64, shape)]);
    let x = f.params[0];
    let r = f.push1(op, &[x], Attrs::new()).unwrap();
    f.results = vec![r];
    f
}

pub fn binary_program(op: Opcode, shape: &[usize]) -> Func {
    let mut f = Func::new("main", vec![ty(DType::C64, shape); 2]);
    let (x, y) = (f.params[0], f.params[1]);
    let r = f.push1(op, &[x, y], Attrs::new()).unwrap();
    f.results = vec![r];
    f
}

/// Every lowered op, one at a time, on random and special values.
/// `floor`: the norm-wise bound's floor (an absolute error of
/// `tol * floor` always passes).
pub fn every_op(extra: Option<Runner>, scale: f64, floor: f64) {
    use Opcode as O;
    let mut rng = Rng(0xc0_4e1e);
    let shape = [3usize, 37];
    for (op, special, tol) in unary_cases() {
        for _ in 0..3 {
            let f = unary_program(op, &shape);
            let x = random_c64(&mut rng, &shape, special, -3.0, 3.0);
            check_all(&f, &[x], tol * scale, floor, true, extra);
        }
    }
    for (op, special, tol) in [
        (O::Add, &SPECIAL[..], 2e-7),
        (O::Subtract, &SPECIAL[..], 2e-7),
        (O::Multiply, &SPECIAL[..], 4e-7),
        (O::Divide, &SCALED[..], 1e-6),
        (O::Divide, &SPECIAL[..], 1e-6),
    ] {
        for _ in 0..3 {
            let f = binary_program(op, &shape);
            let x = random_c64(&mut rng, &shape, special, -3.0, 3.0);
            let y = random_c64(&mut rng, &shape, special, -3.0, 3.0);
            check_all(&f, &[x, y], tol * scale, floor, true, extra);
        }
    }
    // Real results: abs (scaled hypot), real, imag, predicates, casts.
    for (op, attrs, special) in [
        (O::Abs, Attrs::new(), &SCALED[..]),
        (O::Abs, Attrs::new(), &SPECIAL[..]),
        (O::Real, Attrs::new(), &SPECIAL[..]),
        (O::Imag, Attrs::new(), &SPECIAL[..]),
        (O::IsNan, Attrs::new(), &SPECIAL[..]),
        (O::IsInf, Attrs::new(), &SPECIAL[..]),
        (O::IsFinite, Attrs::new(), &SPECIAL[..]),
        (
            O::Cast,
            Attrs::new().with("dtype", Attr::DType(DType::F32)),
            &SPECIAL[..],
        ),
        (
            O::Cast,
            Attrs::new().with("dtype", Attr::DType(DType::Bool)),
            &SPECIAL[..],
        ),
        (
            O::Cast,
            Attrs::new().with("dtype", Attr::DType(DType::I32)),
            &SCALED[..],
        ),
        (
            O::Cast,
            Attrs::new().with("dtype", Attr::DType(DType::F16)),
            &SCALED[..],
        ),
    ] {
        let mut f = Func::new("main", vec![ty(DType::C64, &shape)]);
        let x = f.params[0];
        let r = f.push1(op, &[x], attrs).unwrap();
        f.results = vec![r];
        let x = random_c64(&mut rng, &shape, special, -3.0, 3.0);
        check_all(&f, &[x], 2e-7 * scale, floor, true, extra);
    }
    // Comparisons (equal elements on purpose) and select.
    for (op, attrs) in [
        (O::Equal, Attrs::new()),
        (O::Equal, Attrs::new().with("equal_nan", Attr::Bool(true))),
        (O::NotEqual, Attrs::new()),
    ] {
        let mut f = Func::new("main", vec![ty(DType::C64, &shape); 2]);
        let (x, y) = (f.params[0], f.params[1]);
        let r = f.push1(op, &[x, y], attrs).unwrap();
        f.results = vec![r];
        let few = [0.0, 1.0, f32::NAN];
        let x = random_c64(&mut rng, &shape, &few, 0.0, 0.0);
        let y = random_c64(&mut rng, &shape, &few, 0.0, 0.0);
        check_all(&f, &[x, y], 0.0, 0.0, true, extra);
    }
    let mut f = Func::new(
        "main",
        vec![
            ty(DType::Bool, &shape),
            ty(DType::C64, &shape),
            ty(DType::C64, &shape),
        ],
    );
    let ps = f.params.clone();
    let r = f.push1(O::Select, &ps, Attrs::new()).unwrap();
    f.results = vec![r];
    let c = common::random_literal(&mut rng, &ty(DType::Bool, &shape));
    let (x, y) = (
        random_c64(&mut rng, &shape, &SPECIAL, -3.0, 3.0),
        random_c64(&mut rng, &shape, &SPECIAL, -3.0, 3.0),
    );
    check_all(&f, &[c, x, y], 0.0, 0.0, true, extra);
    // Real to complex: f32, f64 is no WGSL type, so f16 and i32 here.
    for d in [DType::F32, DType::F16, DType::I32] {
        let mut f = Func::new("main", vec![ty(d, &shape)]);
        let x = f.params[0];
        let r = f
            .push1(
                O::Cast,
                &[x],
                Attrs::new().with("dtype", Attr::DType(DType::C64)),
            )
            .unwrap();
        f.results = vec![r];
        let x = common::random_literal(&mut rng, &ty(d, &shape));
        check_all(&f, &[x], 0.0, 0.0, true, extra);
    }
}

/// Random programs: a tree of lowered ops over c64 parameters, a real one
/// cast to c64, views (transpose, flip, broadcast), a complex constant,
/// ending in a complex result, its abs, its real part or a complex sum.
pub struct Gen {
    f: Func,
    rng: Rng,
    shape: Vec<usize>,
}

impl Gen {
    fn push(&mut self, op: Opcode, xs: &[Value], attrs: Attrs) -> Value {
        self.f
            .push1(op, xs, attrs)
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next() % n as u64) as usize
    }
    fn full(&mut self, v: f64) -> Value {
        let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        self.push(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(v))
                .with("shape", Attr::Ints(shape))
                .with("dtype", Attr::DType(DType::C64)),
        )
    }
    fn leaf(&mut self) -> Value {
        use Opcode as O;
        let ps = self.f.params.clone();
        let x = ps[self.pick(3)];
        match self.pick(7) {
            0 => self.push(O::Log, &[x], Attrs::new()),
            1 => self.push(O::Sqrt, &[x], Attrs::new()),
            2 => {
                let r = ps[3];
                self.push(
                    O::Cast,
                    &[r],
                    Attrs::new().with("dtype", Attr::DType(DType::C64)),
                )
            }
            3 => {
                // A transpose of a transpose: a view that moves pairs.
                let t = self.push(
                    O::Transpose,
                    &[x],
                    Attrs::new().with("perm", Attr::Ints(vec![1, 0])),
                );
                self.push(
                    O::Transpose,
                    &[t],
                    Attrs::new().with("perm", Attr::Ints(vec![1, 0])),
                )
            }
            4 => self.push(
                O::Flip,
                &[x],
                Attrs::new().with("axes", Attr::Ints(vec![1])),
            ),
            5 => {
                // A row broadcast along axis 0.
                let row = ps[4];
                let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
                self.push(
                    O::Broadcast,
                    &[row],
                    Attrs::new().with("shape", Attr::Ints(shape)),
                )
            }
            _ => x,
        }
    }
    /// Away from zero (|d| >= 1): a divisor.
    fn shifted(&mut self) -> Value {
        let x = self.leaf();
        let k = self.full(3.0);
        self.push(Opcode::Add, &[x, k], Attrs::new())
    }
    fn node(&mut self, depth: usize) -> Value {
        use Opcode as O;
        if depth == 0 {
            return self.leaf();
        }
        match self.pick(14) {
            0..=2 => {
                let op = [O::Add, O::Subtract, O::Multiply][self.pick(3)];
                let (a, b) = (self.node(depth - 1), self.node(depth - 1));
                self.push(op, &[a, b], Attrs::new())
            }
            3 => {
                let (a, b) = (self.node(depth - 1), self.shifted());
                self.push(O::Divide, &[a, b], Attrs::new())
            }
            4 => {
                let b = self.shifted();
                self.push(O::Reciprocal, &[b], Attrs::new())
            }
            5 => {
                let (a, b) = (self.node(depth - 1), self.node(depth - 1));
                let c = self.f.params[5];
                self.push(O::Select, &[c, a, b], Attrs::new())
            }
            6 => {
                let a = self.node(depth - 1);
                let r = self.push(O::Abs, &[a], Attrs::new());
                self.push(
                    O::Cast,
                    &[r],
                    Attrs::new().with("dtype", Attr::DType(DType::C64)),
                )
            }
            k => {
                let op = [
                    O::Negative,
                    O::Conjugate,
                    O::Square,
                    O::Sign,
                    O::Tanh,
                    O::Sin,
                    O::Exp,
                ][k - 7];
                // Bounded arguments for the functions that grow.
                let a = if matches!(op, O::Exp | O::Sin | O::Tanh | O::Square) {
                    self.leaf()
                } else {
                    self.node(depth - 1)
                };
                self.push(op, &[a], Attrs::new())
            }
        }
    }
}

pub fn random_program(rng: &mut Rng) -> (Func, Vec<Literal>) {
    let shape = vec![2 + (rng.next() % 5) as usize, 1 + (rng.next() % 9) as usize];
    let sq = vec![shape[0], shape[0]];
    let shape = if rng.next().is_multiple_of(4) {
        sq
    } else {
        shape
    };
    let c = ty(DType::C64, &shape);
    let f = Func::new(
        "main",
        vec![
            c.clone(),
            c.clone(),
            c.clone(),
            ty(DType::F32, &shape),
            ty(DType::C64, &[shape[1]]),
            ty(DType::Bool, &shape),
        ],
    );
    let mut g = Gen {
        f,
        rng: Rng(rng.next() | 1),
        shape: shape.clone(),
    };
    let depth = 1 + g.pick(3);
    let v = g.node(depth);
    let r = match g.pick(4) {
        0 => g.push(Opcode::Abs, &[v], Attrs::new()),
        1 => g.push(Opcode::Real, &[v], Attrs::new()),
        2 => {
            let axis = g.pick(2) as i64;
            g.push(
                Opcode::ReduceSum,
                &[v],
                Attrs::new()
                    .with("axes", Attr::Ints(vec![axis]))
                    .with("keepdims", Attr::Bool(false)),
            )
        }
        _ => v,
    };
    g.f.results = vec![r];
    let args = vec![
        random_c64(rng, &shape, &[], -1.5, 1.5),
        random_c64(rng, &shape, &[], -1.5, 1.5),
        random_c64(rng, &shape, &[], -1.5, 1.5),
        random_f32(rng, &shape),
        random_c64(rng, &[shape[1]], &[], -1.5, 1.5),
        common::random_literal(rng, &ty(DType::Bool, &shape)),
    ];
    (g.f, args)
}

pub fn random_programs(extra: Option<Runner>, scale: f64) {
    let mut rng = Rng(0x5eed_c0de);
    for _ in 0..60 {
        let (f, args) = random_program(&mut rng);
        check_all(&f, &args, 2e-5 * scale, 1.0, true, extra);
    }
}

/// `real(ifft(fft(x) * h))`: the FFTs stay library ops on pair buffers,
/// the product is one kernel between them and the real part another.
pub fn fft_filter(n: usize) -> Func {
    let mut f = Func::new(
        "main",
        vec![ty(DType::C64, &[3, n]), ty(DType::C64, &[3, n])],
    );
    let (x, h) = (f.params[0], f.params[1]);
    let fft = |inverse: bool| {
        Attrs::new()
            .with("axes", Attr::Ints(vec![1]))
            .with("inverse", Attr::Bool(inverse))
            .with("real", Attr::Bool(false))
            .with("odd_out", Attr::Bool(false))
    };
    let fx = f.push1(Opcode::Fft, &[x], fft(false)).unwrap();
    let p = f.push1(Opcode::Multiply, &[fx, h], Attrs::new()).unwrap();
    let y = f.push1(Opcode::Fft, &[p], fft(true)).unwrap();
    let r = f.push1(Opcode::Real, &[y], Attrs::new()).unwrap();
    f.results = vec![r];
    f
}
