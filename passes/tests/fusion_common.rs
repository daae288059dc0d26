//! Shared helpers of the fusion and e-graph tests: small program builders
//! and numeric comparison through the kernel interpreter.
#![allow(dead_code)]

use psionic_ir::kernel::{text, verify, KProgram, ProgramStats};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use rand::{Rng, SeedableRng};

pub fn t(shape: &[i64]) -> TensorType {
    TensorType::new(DType::F32, shape.to_vec())
}

pub struct B {
    pub f: Func,
}

impl B {
    pub fn new(params: &[&[i64]]) -> B {
        B {
            f: Func::new("main", params.iter().map(|s| t(s)).collect()),
        }
    }
    pub fn p(&self, i: usize) -> Value {
        self.f.params[i]
    }
    pub fn op(&mut self, o: Opcode, xs: &[Value], attrs: Attrs) -> Value {
        self.f.push1(o, xs, attrs).unwrap()
    }
    pub fn un(&mut self, o: Opcode, x: Value) -> Value {
        self.op(o, &[x], Attrs::new())
    }
    pub fn bin(&mut self, o: Opcode, a: Value, b: Value) -> Value {
        self.op(o, &[a, b], Attrs::new())
    }
    pub fn full(&mut self, v: f64, shape: &[i64]) -> Value {
        self.op(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(v))
                .with("shape", Attr::Ints(shape.to_vec()))
                .with("dtype", Attr::DType(DType::F32)),
        )
    }
    pub fn reduce(&mut self, o: Opcode, x: Value, axes: &[i64], keep: bool) -> Value {
        self.op(
            o,
            &[x],
            Attrs::new()
                .with("axes", Attr::Ints(axes.to_vec()))
                .with("keepdims", Attr::Bool(keep)),
        )
    }
    pub fn bcast(&mut self, x: Value, shape: &[i64]) -> Value {
        self.op(
            Opcode::Broadcast,
            &[x],
            Attrs::new().with("shape", Attr::Ints(shape.to_vec())),
        )
    }
    pub fn transpose(&mut self, x: Value, perm: &[i64]) -> Value {
        self.op(
            Opcode::Transpose,
            &[x],
            Attrs::new().with("perm", Attr::Ints(perm.to_vec())),
        )
    }
    pub fn scalar(&mut self, v: f64, shape: &[i64]) -> Value {
        self.full(v, shape)
    }
    pub fn done(mut self, results: &[Value]) -> Func {
        self.f.results = results.to_vec();
        self.f
    }
}

/// Hand-written softmax over the last axis of a [rows, cols] input.
pub fn softmax_by_hand(b: &mut B, x: Value, shape: &[i64]) -> Value {
    let last = shape.len() as i64 - 1;
    let m = b.reduce(Opcode::ReduceMax, x, &[last], true);
    let mb = b.bcast(m, shape);
    let d = b.bin(Opcode::Subtract, x, mb);
    let e = b.un(Opcode::Exp, d);
    let s = b.reduce(Opcode::ReduceSum, e, &[last], true);
    let sb = b.bcast(s, shape);
    b.bin(Opcode::Divide, e, sb)
}

/// Layer norm over the last axis with weight and bias of shape [cols].
pub fn layer_norm(b: &mut B, x: Value, w: Value, bias: Value, shape: &[i64]) -> Value {
    let last = shape.len() as i64 - 1;
    let n = shape[shape.len() - 1] as f64;
    let mut kshape = shape.to_vec();
    kshape[shape.len() - 1] = 1;
    let s = b.reduce(Opcode::ReduceSum, x, &[last], true);
    let inv_n = b.full(1.0 / n, &kshape);
    let mean = b.bin(Opcode::Multiply, s, inv_n);
    let mb = b.bcast(mean, shape);
    let xc = b.bin(Opcode::Subtract, x, mb);
    let sq = b.un(Opcode::Square, xc);
    let ss = b.reduce(Opcode::ReduceSum, sq, &[last], true);
    let inv_n2 = b.full(1.0 / n, &kshape);
    let var = b.bin(Opcode::Multiply, ss, inv_n2);
    let eps = b.full(1e-5, &kshape);
    let ve = b.bin(Opcode::Add, var, eps);
    let r = b.un(Opcode::Rsqrt, ve);
    let rb = b.bcast(r, shape);
    let y = b.bin(Opcode::Multiply, xc, rb);
    let wb = b.bcast(w, shape);
    let y = b.bin(Opcode::Multiply, y, wb);
    let bb = b.bcast(bias, shape);
    b.bin(Opcode::Add, y, bb)
}

/// RMS norm over the last axis with weight [cols].
pub fn rms_norm(b: &mut B, x: Value, w: Value, shape: &[i64]) -> Value {
    let last = shape.len() as i64 - 1;
    let n = shape[shape.len() - 1] as f64;
    let mut kshape = shape.to_vec();
    kshape[shape.len() - 1] = 1;
    let sq = b.un(Opcode::Square, x);
    let ss = b.reduce(Opcode::ReduceSum, sq, &[last], true);
    let inv = b.full(1.0 / n, &kshape);
    let ms = b.bin(Opcode::Multiply, ss, inv);
    let eps = b.full(1e-6, &kshape);
    let ve = b.bin(Opcode::Add, ms, eps);
    let r = b.un(Opcode::Rsqrt, ve);
    let rb = b.bcast(r, shape);
    let y = b.bin(Opcode::Multiply, x, rb);
    let wb = b.bcast(w, shape);
    b.bin(Opcode::Multiply, y, wb)
}

/// GELU, erf form: 0.5 * x * (1 + erf(x / sqrt(2))).
pub fn gelu(b: &mut B, x: Value, shape: &[i64]) -> Value {
    let c = b.full(std::f64::consts::FRAC_1_SQRT_2, shape);
    let xs = b.bin(Opcode::Multiply, x, c);
    let e = b.un(Opcode::Erf, xs);
    let one = b.full(1.0, shape);
    let e1 = b.bin(Opcode::Add, e, one);
    let half = b.full(0.5, shape);
    let hx = b.bin(Opcode::Multiply, x, half);
    b.bin(Opcode::Multiply, hx, e1)
}

pub fn random_args(f: &Func, seed: u64) -> Vec<Literal> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    f.param_types()
        .iter()
        .map(|ty| {
            let shape = ty.static_shape().unwrap();
            let n: usize = shape.iter().product();
            let vals: Vec<f64> = (0..n).map(|_| rng.gen_range(-3.0..3.0)).collect();
            Literal::from_f64(ty.dtype, shape, &vals).unwrap()
        })
        .collect()
}

/// Checks that `p` verifies and prints, and that its text parses back to it.
pub fn check_text(p: &KProgram) {
    verify::verify_program(p).unwrap_or_else(|e| panic!("{e}\n{}", text::print_program(p)));
    let s = text::print_program(p);
    let back = text::parse_program(&s).unwrap_or_else(|e| panic!("{e}\n{s}"));
    assert_eq!(&back, p, "text round trip\n{s}");
}

pub fn run(p: &KProgram, args: &[Literal]) -> Vec<Literal> {
    psionic_runtime::kernel_interp::run_program(p, args)
        .unwrap_or_else(|e| panic!("{e}\n{}", text::print_program(p)))
}

/// The tensor-level reference interpreter's results.
pub fn oracle(f: &Func, args: &[Literal]) -> Vec<Literal> {
    psionic_runtime::interp::run_func(f, args).unwrap_or_else(|e| panic!("{e:?}"))
}

pub fn assert_close(a: &[Literal], b: &[Literal], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.ty(), y.ty());
        for (i, (u, v)) in x.to_f64_vec().iter().zip(y.to_f64_vec()).enumerate() {
            let ok =
                (u.is_nan() && v.is_nan()) || u == &v || (u - v).abs() <= tol * (1.0 + v.abs());
            assert!(ok, "element {i}: {u} vs {v}");
        }
    }
}

pub fn stats(p: &KProgram) -> ProgramStats {
    p.stats()
}
