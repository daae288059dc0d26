//! Shared helpers of the transform tests: random programs built from the op
//! table, random data, running through the reference interpreter, finite
//! differences, stacking along a batch axis.
#![allow(dead_code)]

use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};
use psionic_runtime::interp::run_func;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const F: DType = DType::F64;

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn run(f: &Func, inputs: &[Literal]) -> Vec<Literal> {
    match run_func(f, inputs) {
        Ok(v) => v,
        Err(e) => panic!("interpreter failed on\n{}\n{e:?}", describe(f)),
    }
}

pub fn rand_lit(r: &mut StdRng, t: &TensorType, lo: f64, hi: f64) -> Literal {
    let shape = t.static_shape().expect("static test shape");
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| r.gen_range(lo..hi)).collect();
    Literal::from_f64(t.dtype, shape, &v).unwrap()
}

pub fn rand_inputs(r: &mut StdRng, f: &Func) -> Vec<Literal> {
    f.param_types()
        .iter()
        .map(|t| {
            if t.dtype.is_float() {
                rand_lit(r, t, -1.5, 1.5)
            } else {
                // Index inputs are built inside programs; inputs are floats.
                rand_lit(r, t, 0.0, 1.0)
            }
        })
        .collect()
}

pub fn axpy(a: f64, x: &Literal, y: &Literal) -> Literal {
    let v: Vec<f64> = x
        .to_f64_vec()
        .iter()
        .zip(y.to_f64_vec())
        .map(|(x, y)| a * x + y)
        .collect();
    Literal::from_f64(y.dtype(), y.shape().to_vec(), &v).unwrap()
}

pub fn dot(a: &Literal, b: &Literal) -> f64 {
    a.to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .map(|(x, y)| x * y)
        .sum()
}

/// Asserts `|a - b| <= atol + rtol |b|` elementwise with equal shapes.
pub fn assert_close(a: &Literal, b: &Literal, rtol: f64, atol: f64, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes differ");
    assert_eq!(a.dtype(), b.dtype(), "{what}: dtypes differ");
    let (av, bv) = (a.to_f64_vec(), b.to_f64_vec());
    for (i, (x, y)) in av.iter().zip(&bv).enumerate() {
        let ok = x == y || (x - y).abs() <= atol + rtol * y.abs() || (x.is_nan() && y.is_nan());
        assert!(ok, "{what}: element {i}: {x} vs {y}\n{av:?}\n{bv:?}");
    }
}

/// Central differences of every output along direction `dir` (one tangent
/// per input; `None` holds that input fixed).
pub fn fd_jvp(f: &Func, x: &[Literal], dir: &[Option<Literal>], h: f64) -> Vec<Literal> {
    let shift = |s: f64| -> Vec<Literal> {
        x.iter()
            .zip(dir)
            .map(|(x, d)| match d {
                Some(d) => axpy(s, d, x),
                None => x.clone(),
            })
            .collect()
    };
    let plus = run(f, &shift(h));
    let minus = run(f, &shift(-h));
    plus.iter()
        .zip(&minus)
        .map(|(p, m)| {
            let v: Vec<f64> = p
                .to_f64_vec()
                .iter()
                .zip(m.to_f64_vec())
                .map(|(p, m)| (p - m) / (2.0 * h))
                .collect();
            Literal::from_f64(p.dtype(), p.shape().to_vec(), &v).unwrap()
        })
        .collect()
}

/// Builds a random program around one case: a generator of programs.
pub struct Gen<'a> {
    pub f: Func,
    pub r: &'a mut StdRng,
}

pub fn a_ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

impl<'a> Gen<'a> {
    pub fn new(r: &'a mut StdRng) -> Self {
        Gen {
            f: Func::new("f", vec![]),
            r,
        }
    }
    pub fn param(&mut self, shape: &[i64]) -> Value {
        self.f.add_param(TensorType::new(F, shape.to_vec()))
    }
    pub fn op(&mut self, op: Opcode, xs: &[Value], a: Attrs) -> Value {
        match self.f.push1(op, xs, a) {
            Ok(v) => v,
            Err(e) => panic!("building {op}: {e}"),
        }
    }
    pub fn ops(&mut self, op: Opcode, xs: &[Value], a: Attrs) -> Vec<Value> {
        self.f.push(op, xs, a).unwrap()
    }
    pub fn un(&mut self, op: Opcode, x: Value) -> Value {
        self.op(op, &[x], Attrs::new())
    }
    pub fn bin(&mut self, op: Opcode, a: Value, b: Value) -> Value {
        self.op(op, &[a, b], Attrs::new())
    }
    pub fn shape(&self, v: Value) -> Vec<i64> {
        self.f.ty(v).shape.clone()
    }
    pub fn konst(&mut self, c: f64, like: Value) -> Value {
        let s = self.shape(like);
        let dt = self.f.ty(like).dtype;
        self.op(
            Opcode::Full,
            &[],
            Attrs::new()
                .with("value", Attr::Float(c))
                .with("shape", Attr::Ints(s))
                .with("dtype", Attr::DType(dt)),
        )
    }
    /// x*x + c: positive.
    pub fn pos(&mut self, x: Value, c: f64) -> Value {
        let s = self.un(Opcode::Square, x);
        let k = self.konst(c, x);
        self.bin(Opcode::Add, s, k)
    }
    /// 0.8 tanh(x): inside (-1, 1).
    pub fn unit(&mut self, x: Value) -> Value {
        let t = self.un(Opcode::Tanh, x);
        let k = self.konst(0.8, x);
        self.bin(Opcode::Multiply, t, k)
    }
    pub fn rand_shape(&mut self, min_rank: usize) -> Vec<i64> {
        let rank = self.r.gen_range(min_rank.max(1)..=3);
        (0..rank).map(|_| self.r.gen_range(1..=4)).collect()
    }
    /// A random permutation of 0..n as an i32 constant of shape `shape`
    /// (values taken mod `n`, distinct along the flattened order when
    /// `shape` has at most n elements).
    pub fn perm_indices(&mut self, n: i64, shape: &[i64]) -> Value {
        let count: i64 = shape.iter().product();
        let mut v: Vec<i64> = (0..n.max(count)).map(|i| i % n).collect();
        for i in (1..v.len()).rev() {
            let j = self.r.gen_range(0..=i);
            v.swap(i, j);
        }
        v.truncate(count as usize);
        let lit =
            Literal::from_i64(DType::I32, shape.iter().map(|&d| d as usize).collect(), &v).unwrap();
        self.op(
            Opcode::Constant,
            &[],
            Attrs::new().with("value", Attr::Dense(lit)),
        )
    }
}

/// Opcodes the random programs deliberately do not differentiate: their
/// results are not floats or their operands are not (no derivative exists),
/// or they create values from attributes alone.
pub fn non_differentiable(op: Opcode) -> bool {
    use Opcode::*;
    matches!(
        op,
        Constant
            | Full
            | Iota
            | Arange
            | IsNan
            | IsInf
            | IsFinite
            | LogicalNot
            | BitwiseInvert
            | LogicalAnd
            | LogicalOr
            | BitwiseAnd
            | BitwiseOr
            | BitwiseXor
            | LeftShift
            | RightShift
            | Equal
            | NotEqual
            | Less
            | LessEqual
            | Greater
            | GreaterEqual
            | ReduceAll
            | ReduceAny
            | Argmax
            | Argmin
            | Argsort
            | Argpartition
            | Bitcast
            | NumberOfElements
            // MLX extras without a derivative (integer or quantized
            // results) or whose programs need inputs these random chains
            // cannot make (complex values, packed weights, index arrays,
            // matrices of a fixed shape): their rules are checked on their
            // own random programs in `autodiff_extra.rs`.
            | Real
            | Imag
            | Conjugate
            | RandomBits
            | SearchSorted
            | Quantize
            | Dequantize
            | QuantizedMatmul
            | GatherQmm
            | GatherMm
            | BlockMaskedMm
            | ConvGeneral
            | Fft
            | Qr
            | Svd
            | Cholesky
            | Eigh
            | Eig
            | RmsNormVjp
            | LayerNormVjp
            | Rope
            | Sdpa
            | AsStrided
            | MaskedScatter
    )
}

/// Applies `op` to `x` (a float value), building whatever extra inputs and
/// constants it needs, with operands in the op's domain. Returns the
/// program's output.
pub fn apply_case(g: &mut Gen, op: Opcode, x: Value) -> Value {
    use Opcode::*;
    let xs = g.shape(x);
    let rank = xs.len();
    let r_axis = |g: &mut Gen| g.r.gen_range(0..rank) as i64;
    let rand_axes = |g: &mut Gen| -> Vec<i64> {
        let v: Vec<i64> = (0..rank as i64).filter(|_| g.r.gen_bool(0.5)).collect();
        if v.is_empty() {
            vec![g.r.gen_range(0..rank) as i64]
        } else {
            v
        }
    };
    match op {
        Abs | Negative | Sign | Square | Exp | Expm1 | Sin | Cos | Arctan | Sinh | Cosh | Tanh
        | Arcsinh | Sigmoid | Erf | Floor | Ceil | Round | StopGradient | Copy => g.un(op, x),
        Tan => {
            let u = g.unit(x);
            g.un(Tan, u)
        }
        Sqrt | Rsqrt | Reciprocal | Log | Log2 | Log10 | Log1p => {
            let p = g.pos(x, 0.5);
            g.un(op, p)
        }
        Arcsin | Arccos | Arctanh | Erfinv => {
            let u = g.unit(x);
            g.un(op, u)
        }
        Arccosh => {
            let p = g.pos(x, 1.5);
            g.un(op, p)
        }
        Add | Subtract | Multiply | Maximum | Minimum | Arctan2 | LogAddExp => {
            let y = g.param(&xs);
            g.bin(op, x, y)
        }
        Divide | Remainder | FloorDivide => {
            let y = g.param(&xs);
            let p = g.pos(y, 0.7);
            g.bin(op, x, p)
        }
        Power => {
            let y = g.param(&xs);
            let p = g.pos(x, 0.5);
            g.bin(op, p, y)
        }
        DivMod => {
            let y = g.param(&xs);
            let p = g.pos(y, 0.7);
            let r = g.ops(DivMod, &[x, p], Attrs::new());
            // Use both results.
            g.bin(Add, r[0], r[1])
        }
        Select => {
            let y = g.param(&xs);
            let z = g.param(&xs);
            let c = g.bin(Greater, y, z);
            g.op(Select, &[c, x, y], Attrs::new())
        }
        Cast => {
            let c = g.op(
                Cast,
                &[x],
                Attrs::new().with("dtype", Attr::DType(DType::F32)),
            );
            g.op(
                Cast,
                &[c],
                Attrs::new().with("dtype", Attr::DType(DType::F64)),
            )
        }
        ReduceSum | ReduceProd | ReduceMax | ReduceMin | LogSumExp => {
            let axes = rand_axes(g);
            let keep = g.r.gen_bool(0.5);
            g.op(
                op,
                &[x],
                Attrs::new()
                    .with("axes", a_ints(&axes))
                    .with("keepdims", Attr::Bool(keep)),
            )
        }
        Softmax => {
            let axes = rand_axes(g);
            g.op(op, &[x], Attrs::new().with("axes", a_ints(&axes)))
        }
        Cumsum | Cumprod | CumLogAddExp | Cummax | Cummin => {
            let axis = r_axis(g);
            let rev = g.r.gen_bool(0.5);
            let inc = matches!(op, Cummax | Cummin | CumLogAddExp) || g.r.gen_bool(0.7);
            g.op(
                op,
                &[x],
                Attrs::new()
                    .with("axis", Attr::Int(axis))
                    .with("reverse", Attr::Bool(rev))
                    .with("inclusive", Attr::Bool(inc)),
            )
        }
        Reshape => {
            let n: i64 = xs.iter().product();
            g.op(op, &[x], Attrs::new().with("shape", a_ints(&[n])))
        }
        Transpose => {
            let mut p: Vec<i64> = (0..rank as i64).collect();
            p.reverse();
            g.op(op, &[x], Attrs::new().with("perm", a_ints(&p)))
        }
        Broadcast => {
            // Stretch the size-1 version of x: sum axis 0 with keepdims then broadcast.
            let s = g.op(
                ReduceSum,
                &[x],
                Attrs::new()
                    .with("axes", a_ints(&[0]))
                    .with("keepdims", Attr::Bool(true)),
            );
            let mut to = vec![2];
            to.extend(xs.iter().copied());
            to[1] = 3;
            g.op(op, &[s], Attrs::new().with("shape", a_ints(&to)))
        }
        BroadcastLike => {
            let s = g.op(
                ReduceSum,
                &[x],
                Attrs::new()
                    .with("axes", a_ints(&[0]))
                    .with("keepdims", Attr::Bool(true)),
            );
            let mut ds = vec![2];
            ds.extend(xs.iter().copied());
            ds[1] = 3;
            let d = g.param(&ds);
            let dd = g.un(Exp, d);
            let b = g.op(op, &[s, dd], Attrs::new());
            // The donor is used: its gradient must be zero, not absent.
            let z = g.un(Copy, b);
            g.bin(Multiply, z, b)
        }
        ExpandDims => g.op(
            op,
            &[x],
            Attrs::new().with("axes", a_ints(&[0, rank as i64 + 1])),
        ),
        Squeeze => {
            let e = g.op(ExpandDims, &[x], Attrs::new().with("axes", a_ints(&[1])));
            g.op(op, &[e], Attrs::new().with("axes", a_ints(&[1])))
        }
        Flatten => g.op(
            op,
            &[x],
            Attrs::new()
                .with("start_axis", Attr::Int(0))
                .with("end_axis", Attr::Int(rank as i64 - 1)),
        ),
        Unflatten => {
            let e = g.op(ExpandDims, &[x], Attrs::new().with("axes", a_ints(&[0])));
            let c = g.op(
                Concatenate,
                &[e, e],
                Attrs::new().with("axis", Attr::Int(0)),
            );
            let f = g.op(
                Flatten,
                &[c],
                Attrs::new()
                    .with("start_axis", Attr::Int(0))
                    .with("end_axis", Attr::Int(1)),
            );
            let mut s = vec![2];
            s.push(xs[0]);
            g.op(
                op,
                &[f],
                Attrs::new()
                    .with("axis", Attr::Int(0))
                    .with("shape", a_ints(&s)),
            )
        }
        Slice => {
            let start: Vec<i64> = xs.iter().map(|&d| if d > 1 { 1 } else { 0 }).collect();
            let stop: Vec<i64> = xs.clone();
            let strides: Vec<i64> = xs.iter().map(|&d| if d > 2 { 2 } else { 1 }).collect();
            g.op(
                op,
                &[x],
                Attrs::new()
                    .with("start", a_ints(&start))
                    .with("stop", a_ints(&stop))
                    .with("strides", a_ints(&strides)),
            )
        }
        SliceUpdate => {
            let start: Vec<i64> = xs.iter().map(|&d| if d > 1 { 1 } else { 0 }).collect();
            let us: Vec<i64> = xs.iter().zip(&start).map(|(d, s)| d - s).collect();
            let u = g.param(&us);
            let kinds = ["none", "sum", "prod", "max", "min"];
            let kind = kinds[g.r.gen_range(0..kinds.len())];
            g.op(
                op,
                &[x, u],
                Attrs::new()
                    .with("start", a_ints(&start))
                    .with("stop", a_ints(&xs))
                    .with("strides", a_ints(&vec![1; rank]))
                    .with("reduce", Attr::Str(kind.into())),
            )
        }
        Pad => {
            let v = g.param(&[]);
            let low: Vec<i64> = (0..rank).map(|i| (i % 2) as i64).collect();
            let high: Vec<i64> = (0..rank).map(|i| 1 + (i % 2) as i64).collect();
            g.op(
                op,
                &[x, v],
                Attrs::new()
                    .with("low", a_ints(&low))
                    .with("high", a_ints(&high)),
            )
        }
        Concatenate => {
            let axis = r_axis(g);
            let mut ys = xs.clone();
            ys[axis as usize] = 2;
            let y = g.param(&ys);
            g.op(op, &[x, y, x], Attrs::new().with("axis", Attr::Int(axis)))
        }
        Split => {
            let axis = r_axis(g);
            let n = xs[axis as usize];
            let idx = if n > 1 { vec![1] } else { vec![0] };
            let parts = g.ops(
                op,
                &[x],
                Attrs::new()
                    .with("indices", a_ints(&idx))
                    .with("axis", Attr::Int(axis)),
            );
            // Only the last part is used: the first gets a symbolic zero.
            let e = g.un(Exp, parts[1]);
            g.bin(Add, e, parts[1])
        }
        Flip => {
            let axes = rand_axes(g);
            g.op(op, &[x], Attrs::new().with("axes", a_ints(&axes)))
        }
        DynamicSlice => {
            let starts = g.perm_indices(1, &[rank as i64]);
            let sizes: Vec<i64> = xs.iter().map(|&d| (d + 1) / 2).collect();
            let axes: Vec<i64> = (0..rank as i64).collect();
            g.op(
                op,
                &[x, starts],
                Attrs::new()
                    .with("axes", a_ints(&axes))
                    .with("sizes", a_ints(&sizes)),
            )
        }
        DynamicSliceUpdate => {
            let sizes: Vec<i64> = xs.iter().map(|&d| (d + 1) / 2).collect();
            let u = g.param(&sizes);
            let starts = g.perm_indices(1, &[1]);
            g.op(op, &[x, u, starts], Attrs::new().with("axes", a_ints(&[0])))
        }
        Gather => {
            let idx = g.perm_indices(xs[0], &[2]);
            let mut ss = xs.clone();
            ss[0] = 1;
            g.op(
                op,
                &[x, idx],
                Attrs::new()
                    .with("axes", a_ints(&[0]))
                    .with("slice_sizes", a_ints(&ss)),
            )
        }
        TakeAlongAxis => {
            let axis = r_axis(g);
            let mut is = xs.clone();
            is[axis as usize] = 3;
            let idx = g.perm_indices(xs[axis as usize], &is);
            g.op(op, &[x, idx], Attrs::new().with("axis", Attr::Int(axis)))
        }
        Scatter => {
            let k = xs[0].min(2);
            let idx = g.perm_indices(xs[0], &[k]);
            let mut us = vec![k, 1];
            us.extend(xs[1..].iter().copied());
            let u = g.param(&us);
            let kind = if g.r.gen_bool(0.5) { "none" } else { "sum" };
            g.op(
                op,
                &[x, idx, u],
                Attrs::new()
                    .with("axes", a_ints(&[0]))
                    .with("reduce", Attr::Str(kind.into())),
            )
        }
        ScatterAxis => {
            let axis = r_axis(g);
            // A permutation along the axis: no duplicate positions.
            let n = xs[axis as usize];
            let idx = g.perm_indices(n, &[n]);
            let mut es: Vec<i64> = vec![1; rank];
            es[axis as usize] = n;
            let idx = g.op(Reshape, &[idx], Attrs::new().with("shape", a_ints(&es)));
            let idx = g.op(Broadcast, &[idx], Attrs::new().with("shape", a_ints(&xs)));
            let u = g.param(&xs);
            let kind = if g.r.gen_bool(0.5) { "none" } else { "sum" };
            g.op(
                op,
                &[x, idx, u],
                Attrs::new()
                    .with("axis", Attr::Int(axis))
                    .with("reduce", Attr::Str(kind.into())),
            )
        }
        Sort => {
            let axis = r_axis(g);
            g.op(op, &[x], Attrs::new().with("axis", Attr::Int(axis)))
        }
        Partition => {
            let axis = r_axis(g);
            let kth = g.r.gen_range(0..xs[axis as usize]);
            g.op(
                op,
                &[x],
                Attrs::new()
                    .with("axis", Attr::Int(axis))
                    .with("kth", Attr::Int(kth)),
            )
        }
        Matmul | AddMM => {
            let a = if rank < 2 {
                g.op(ExpandDims, &[x], Attrs::new().with("axes", a_ints(&[0])))
            } else {
                x
            };
            let s = g.shape(a);
            let r = s.len();
            let mut ws = s.clone();
            ws[r - 2] = s[r - 1];
            ws[r - 1] = 3;
            let w = g.param(&ws);
            if op == Matmul {
                g.bin(Matmul, a, w)
            } else {
                let mut cs = s.clone();
                cs[r - 1] = 3;
                let c = g.param(&cs);
                g.op(
                    AddMM,
                    &[c, a, w],
                    Attrs::new()
                        .with("alpha", Attr::Float(0.5))
                        .with("beta", Attr::Float(2.0)),
                )
            }
        }
        Inverse => {
            // A well-conditioned matrix: 0.3 * random + 2 I.
            let a = g.param(&[3, 3]);
            let k = g.konst(0.3, a);
            let m = g.bin(Multiply, a, k);
            let eye = Literal::from_f64(
                F,
                vec![3, 3],
                &[2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0],
            )
            .unwrap();
            let e = g.op(Constant, &[], Attrs::new().with("value", Attr::Dense(eye)));
            let m = g.bin(Add, m, e);
            let inv = g.op(
                Inverse,
                &[m],
                Attrs::new()
                    .with("tri", Attr::Bool(false))
                    .with("upper", Attr::Bool(false)),
            );
            let _ = x;
            inv
        }
        Hadamard => {
            let y = g.param(&[2, 4]);
            let _ = x;
            g.op(Hadamard, &[y], Attrs::new().with("scale", Attr::Float(0.5)))
        }
        RmsNorm | LayerNorm => {
            let y = g.param(&[2, 4]);
            let w = g.param(&[4]);
            let _ = x;
            let mut ops = vec![y, w];
            if op == LayerNorm {
                ops.push(g.param(&[4]));
            }
            g.op(op, &ops, Attrs::new().with("eps", Attr::Float(1e-5)))
        }
        Depends => {
            let y = g.param(&xs);
            let d = g.ops(
                Depends,
                &[x, y],
                Attrs::new().with("num_outputs", Attr::Int(1)),
            );
            g.bin(Multiply, d[0], y)
        }
        other => panic!("no random case for {other}"),
    }
}

/// A random program: a float input of random shape, one to three random
/// cases applied in turn (the first is `first` when given).
pub fn random_program(r: &mut StdRng, first: Option<Opcode>, chain: usize) -> Func {
    let mut g = Gen::new(r);
    let s = g.rand_shape(1);
    let mut x = g.param(&s);
    let all: Vec<Opcode> = Opcode::all()
        .filter(|&o| !non_differentiable(o) && o != Opcode::StopGradient)
        .collect();
    for i in 0..chain {
        let op = match (i, first) {
            (0, Some(o)) => o,
            _ => all[g.r.gen_range(0..all.len())],
        };
        x = apply_case(&mut g, op, x);
        if g.f.ty(x).rank() == 0 {
            x = g.op(
                Opcode::ExpandDims,
                &[x],
                Attrs::new().with("axes", a_ints(&[0])),
            );
        }
    }
    g.f.results = vec![x];
    g.f
}

/// Stacks literals along a new axis `axis`.
pub fn stack(xs: &[Literal], axis: usize) -> Literal {
    let shape = xs[0].shape().to_vec();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis..].iter().product();
    let mut v = Vec::new();
    for o in 0..outer {
        for x in xs {
            let xv = x.to_f64_vec();
            v.extend_from_slice(&xv[o * inner..(o + 1) * inner]);
        }
    }
    let mut s = shape.clone();
    s.insert(axis, xs.len());
    Literal::from_f64(xs[0].dtype(), s, &v).unwrap()
}

/// Element `i` along `axis`.
pub fn unstack(x: &Literal, axis: usize, i: usize) -> Literal {
    let shape = x.shape().to_vec();
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let xv = x.to_f64_vec();
    let mut v = Vec::new();
    for o in 0..outer {
        let base = (o * n + i) * inner;
        v.extend_from_slice(&xv[base..base + inner]);
    }
    let mut s = shape.clone();
    s.remove(axis);
    Literal::from_f64(x.dtype(), s, &v).unwrap()
}

/// A short listing of a function for failure messages.
pub fn describe(f: &Func) -> String {
    let mut s = format!("func {}(", f.name);
    for p in &f.params {
        s += &format!("%{}: {}, ", p.0, f.ty(*p));
    }
    s += ")\n";
    for op in &f.ops {
        let rs: Vec<String> = op.results.iter().map(|r| format!("%{}", r.0)).collect();
        let os: Vec<String> = op.operands.iter().map(|r| format!("%{}", r.0)).collect();
        let ts: Vec<String> = op.results.iter().map(|r| f.ty(*r).to_string()).collect();
        s += &format!(
            "  {} = {} {} {:?} : {}\n",
            rs.join(", "),
            op.opcode,
            os.join(", "),
            op.attrs,
            ts.join(", ")
        );
    }
    let rs: Vec<String> = f.results.iter().map(|r| format!("%{}", r.0)).collect();
    s += &format!("  return {}\n", rs.join(", "));
    s
}
