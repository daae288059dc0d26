//! Random valid IR for the randomized tests: functions built op by op with
//! `Func::push` over every op of the table and every dtype, with attributes
//! chosen to fit the operands most of the time (rejected ops are skipped, so
//! every function produced is valid by construction).

#![allow(dead_code)]

use psionic_ir::ops::{Arity, OP_DEFS};
use psionic_ir::{Attr, AttrKind, Attrs, DType, Func, Literal, Module, TensorType, Value, DYN};

/// splitmix64: a tiny deterministic generator driven by a proptest seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn range(&mut self, lo: i64, hi_inclusive: i64) -> i64 {
        lo + self.below((hi_inclusive - lo + 1) as usize) as i64
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

pub fn random_dtype(r: &mut Rng) -> DType {
    r.pick(&DType::ALL)
}

pub fn random_shape(r: &mut Rng, allow_dyn: bool) -> Vec<i64> {
    let rank = r.below(4);
    (0..rank)
        .map(|_| {
            if allow_dyn && r.chance(10) {
                DYN
            } else {
                r.range(0, 4).max(if r.chance(90) { 1 } else { 0 })
            }
        })
        .collect()
}

/// A random f64, biased toward the values printing must get right.
pub fn random_f64(r: &mut Rng) -> f64 {
    match r.below(10) {
        0 => r.pick(&[
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
            1e300,
            0.1,
        ]),
        1..=3 => r.range(-100, 100) as f64,
        4..=6 => (r.range(-1_000_000, 1_000_000) as f64) / 1000.0,
        _ => {
            let x = f64::from_bits(r.next());
            if x.is_nan() {
                1.5
            } else {
                x
            }
        }
    }
}

/// A random dense literal of the given (static) type.
pub fn random_literal(r: &mut Rng, dtype: DType, shape: Vec<usize>) -> Literal {
    let n: usize = shape.iter().product();
    let mut bytes = Vec::with_capacity(n * dtype.size());
    let raw_bits = r.chance(30);
    for _ in 0..n {
        if dtype == DType::Bool {
            bytes.push(r.below(2) as u8);
        } else if raw_bits || dtype.is_integer() {
            // Any bit pattern: NaNs with payloads, subnormals, extreme integers.
            let b = r.next().to_le_bytes();
            bytes.extend_from_slice(&b[..dtype.size()]);
        } else {
            psionic_ir::literal::push_f64(&mut bytes, dtype, random_f64(r));
        }
    }
    Literal::from_bytes(dtype, shape, bytes).expect("sizes match")
}

fn random_static_shape(r: &mut Rng) -> Vec<usize> {
    if r.chance(5) {
        // Past the decimal limit: printed as hex.
        return vec![r.range(257, 300) as usize];
    }
    let rank = r.below(3);
    (0..rank).map(|_| r.below(4)).collect()
}

fn random_string(r: &mut Rng) -> String {
    let pool = [
        'a', 'z', '_', ' ', '"', '\\', '\n', '\t', 'é', '∑', '\u{1}', '0', '.', '%',
    ];
    (0..r.below(6)).map(|_| r.pick(&pool)).collect()
}

fn subset_sorted(r: &mut Rng, rank: usize) -> Vec<i64> {
    (0..rank as i64).filter(|_| r.chance(50)).collect()
}

fn dim_or(r: &mut Rng, d: i64) -> i64 {
    if d == DYN {
        r.range(0, 3)
    } else {
        d
    }
}

/// A value for attribute `name` of kind `kind`, shaped by the first operand.
fn random_attr(r: &mut Rng, name: &str, kind: AttrKind, x: Option<&TensorType>) -> Attr {
    let shape: Vec<i64> = x.map(|t| t.shape.clone()).unwrap_or_default();
    let rank = shape.len();
    if r.chance(5) {
        // Occasionally anything at all of the right kind: exercises rejection paths.
        return match kind {
            AttrKind::Bool => Attr::Bool(r.chance(50)),
            AttrKind::Int => Attr::Int(r.range(-3, 5)),
            AttrKind::Float => Attr::Float(random_f64(r)),
            AttrKind::Ints => Attr::Ints((0..r.below(4)).map(|_| r.range(-2, 5)).collect()),
            AttrKind::Str => Attr::Str(random_string(r)),
            AttrKind::DType => Attr::DType(random_dtype(r)),
            AttrKind::Dense => {
                let d = random_dtype(r);
                let s = random_static_shape(r);
                Attr::Dense(random_literal(r, d, s))
            }
        };
    }
    match (kind, name) {
        (AttrKind::Bool, _) => Attr::Bool(r.chance(50)),
        (AttrKind::Int, "kth") => Attr::Int(0),
        (AttrKind::Int, "start_axis") => Attr::Int(0),
        (AttrKind::Int, "end_axis") => Attr::Int((rank as i64 - 1).max(0)),
        (AttrKind::Int, _) => Attr::Int(r.range(0, (rank as i64 - 1).max(0))),
        (AttrKind::Float, "start") => Attr::Float(r.range(-3, 3) as f64),
        (AttrKind::Float, "stop") => Attr::Float(r.range(3, 8) as f64 + 0.5),
        (AttrKind::Float, "step") => Attr::Float(r.pick(&[1.0, 0.5, 2.0, 1.5])),
        (AttrKind::Float, _) => Attr::Float(random_f64(r)),
        (AttrKind::Ints, "axes") => Attr::Ints(subset_sorted(r, rank)),
        (AttrKind::Ints, "perm") => {
            let mut p: Vec<i64> = (0..rank as i64).collect();
            for i in (1..p.len()).rev() {
                let j = r.below(i + 1);
                p.swap(i, j);
            }
            Attr::Ints(p)
        }
        (AttrKind::Ints, "shape") => {
            if x.is_none() || r.chance(30) {
                Attr::Ints(random_shape(r, false))
            } else if r.chance(50) {
                // broadcast: a new leading axis
                let mut s = vec![r.range(1, 3)];
                s.extend(shape.iter().map(|&d| dim_or(r, d)));
                Attr::Ints(s)
            } else {
                // reshape: flatten, or the same shape
                let n: i64 = shape.iter().map(|&d| dim_or(r, d)).product();
                Attr::Ints(if r.chance(50) { vec![n] } else { vec![-1] })
            }
        }
        (AttrKind::Ints, "start") => Attr::Ints(vec![0; rank]),
        (AttrKind::Ints, "stop") => Attr::Ints(shape.iter().map(|&d| dim_or(r, d)).collect()),
        (AttrKind::Ints, "strides") => Attr::Ints((0..rank).map(|_| r.range(1, 2)).collect()),
        (AttrKind::Ints, "low" | "high") => Attr::Ints((0..rank).map(|_| r.range(0, 2)).collect()),
        (AttrKind::Ints, "sizes" | "slice_sizes") => Attr::Ints(
            shape
                .iter()
                .map(|&d| {
                    let hi = dim_or(r, d).max(0);
                    r.range(0, hi)
                })
                .collect(),
        ),
        (AttrKind::Ints, "indices") => Attr::Ints(vec![0]),
        (AttrKind::Ints, "ignore_axes") => Attr::Ints(if rank > 0 && r.chance(50) {
            vec![-1]
        } else {
            vec![]
        }),
        (AttrKind::Ints, _) => Attr::Ints(subset_sorted(r, rank)),
        (AttrKind::Str, "reduce") => {
            Attr::Str(r.pick(&["none", "sum", "prod", "max", "min"]).into())
        }
        (AttrKind::Str, _) => Attr::Str(random_string(r)),
        (AttrKind::DType, _) => Attr::DType(random_dtype(r)),
        (AttrKind::Dense, _) => {
            let d = random_dtype(r);
            let s = random_static_shape(r);
            Attr::Dense(random_literal(r, d, s))
        }
    }
}

/// A random valid function of up to `max_ops` ops (fewer when pushes fail).
pub fn random_func(r: &mut Rng, name: &str, max_ops: usize) -> Func {
    let nparams = r.below(4);
    let allow_dyn = r.chance(30);
    let params: Vec<TensorType> = (0..nparams)
        .map(|_| TensorType::new(random_dtype(r), random_shape(r, allow_dyn)))
        .collect();
    let mut f = Func::new(name, params);
    let mut pool: Vec<Value> = f.params.clone();
    let attempts = max_ops * 6;
    let mut ops = 0;
    for _ in 0..attempts {
        if ops >= max_ops {
            break;
        }
        let def = &OP_DEFS[r.below(OP_DEFS.len())];
        let n = match def.operands {
            Arity::Exact(k) => k,
            Arity::AtLeast(k) => k + r.below(3),
        };
        if n > 0 && pool.is_empty() {
            continue;
        }
        // Prefer operands of one type (elementwise ops need that).
        let first = if n > 0 { Some(r.pick(&pool)) } else { None };
        let operands: Vec<Value> = (0..n)
            .map(|i| {
                if i == 0 {
                    first.unwrap_or(Value(0))
                } else if r.chance(60) {
                    let want = f.ty(first.unwrap_or(Value(0))).clone();
                    let same: Vec<Value> =
                        pool.iter().copied().filter(|&v| *f.ty(v) == want).collect();
                    if same.is_empty() {
                        r.pick(&pool)
                    } else {
                        r.pick(&same)
                    }
                } else {
                    r.pick(&pool)
                }
            })
            .collect();
        let x = first.map(|v| f.ty(v).clone());
        let mut attrs = Attrs::new();
        for spec in def.attrs {
            if spec.required || r.chance(50) {
                attrs.set(spec.name, random_attr(r, spec.name, spec.kind, x.as_ref()));
            }
        }
        if let Ok(results) = f.push(def.opcode, &operands, attrs) {
            pool.extend(results);
            ops += 1;
        }
    }
    let nres = r.below(4).min(pool.len());
    f.results = (0..nres).map(|_| r.pick(&pool)).collect();
    if r.chance(20) {
        f.set_attr("kwargs", Attr::Str("scale".into()));
    }
    if r.chance(10) {
        f.set_attr(random_string(r), random_attr(r, "", AttrKind::Float, None));
    }
    f
}

/// A random module of one to three functions, sometimes with attributes.
pub fn random_module(r: &mut Rng, max_ops: usize) -> Module {
    let names = ["main", "f", "trace.1", "weird name", "main"];
    let n = 1 + r.below(3);
    let mut m = Module::new(
        (0..n)
            .map(|_| {
                let name = r.pick(&names);
                random_func(r, name, max_ops)
            })
            .collect(),
    );
    if r.chance(30) {
        m.set_attr("shapeless", Attr::Bool(r.chance(50)));
        let kinds = [
            AttrKind::Int,
            AttrKind::Ints,
            AttrKind::Str,
            AttrKind::DType,
            AttrKind::Dense,
            AttrKind::Float,
        ];
        let k = r.pick(&kinds);
        m.set_attr(random_string(r), random_attr(r, "", k, None));
    }
    m
}
