//! Helpers shared by the interpreter tests: literals from plain values and
//! one-op evaluation.
#![allow(dead_code)]

use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType};
use psionic_runtime::interp::eval_op;

pub fn lit(dt: DType, shape: &[usize], v: &[f64]) -> Literal {
    Literal::from_f64(dt, shape.to_vec(), v).expect("test literal")
}
pub fn f32s(shape: &[usize], v: &[f64]) -> Literal {
    lit(DType::F32, shape, v)
}
pub fn ints(dt: DType, shape: &[usize], v: &[i64]) -> Literal {
    Literal::from_i64(dt, shape.to_vec(), v).expect("test literal")
}
pub fn bools(shape: &[usize], v: &[bool]) -> Literal {
    Literal::from_bytes(
        DType::Bool,
        shape.to_vec(),
        v.iter().map(|&b| b as u8).collect::<Vec<_>>(),
    )
    .expect("test literal")
}
pub fn c64s(shape: &[usize], v: &[(f32, f32)]) -> Literal {
    let bytes: Vec<u8> = v
        .iter()
        .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
        .collect();
    Literal::from_bytes(DType::C64, shape.to_vec(), bytes).expect("test literal")
}
pub fn complex_vals(l: &Literal) -> Vec<(f32, f32)> {
    l.bytes()
        .chunks_exact(8)
        .map(|c| {
            (
                f32::from_le_bytes(c[..4].try_into().unwrap()),
                f32::from_le_bytes(c[4..].try_into().unwrap()),
            )
        })
        .collect()
}

pub fn attrs(list: &[(&'static str, Attr)]) -> Attrs {
    let mut a = Attrs::new();
    for (n, v) in list {
        a.set(n, v.clone());
    }
    a
}

/// Evaluates a one-result op, panicking with the interpreter's message on error.
pub fn op(opcode: Opcode, a: &[(&'static str, Attr)], xs: &[&Literal]) -> Literal {
    let mut r = eval_op(opcode, &attrs(a), xs).unwrap_or_else(|e| panic!("{opcode}: {e}"));
    assert_eq!(r.len(), 1);
    r.pop().unwrap()
}

pub fn opn(opcode: Opcode, a: &[(&'static str, Attr)], xs: &[&Literal]) -> Vec<Literal> {
    eval_op(opcode, &attrs(a), xs).unwrap_or_else(|e| panic!("{opcode}: {e}"))
}

pub fn op_err(opcode: Opcode, a: &[(&'static str, Attr)], xs: &[&Literal]) -> String {
    match eval_op(opcode, &attrs(a), xs) {
        Ok(r) => panic!("{opcode} succeeded with {r:?}"),
        Err(e) => e,
    }
}

/// Element values as f64, with NaN made comparable by `same`.
pub fn vals(l: &Literal) -> Vec<f64> {
    l.to_f64_vec()
}

/// Equal as floats, NaN equal to NaN, and the sign of zero checked.
pub fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.is_nan() && y.is_nan()) || (x == y && x.is_sign_negative() == y.is_sign_negative())
        })
}

#[track_caller]
pub fn assert_vals(l: &Literal, want: &[f64]) {
    let got = vals(l);
    assert!(same(&got, want), "got {got:?}, want {want:?}");
}

#[track_caller]
pub fn assert_ints(l: &Literal, want: &[i64]) {
    assert_eq!(l.to_i64_vec(), want);
}

pub fn ints_attr(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

/// xorshift64: the differential tests' deterministic generator.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random data of `ty`: bools, small integers (-20..=20, or 0..=40
/// unsigned) and floats in [-3, 3).
pub fn random_literal(rng: &mut Rng, ty: &TensorType) -> Literal {
    let shape = ty.static_shape().expect("static test type");
    let n: usize = shape.iter().product();
    let d = ty.dtype;
    if d == DType::Bool {
        let v: Vec<u8> = (0..n).map(|_| (rng.next() & 1) as u8).collect();
        return Literal::from_bytes(d, shape, v).unwrap();
    }
    if d.is_integer() {
        let v: Vec<i64> = (0..n)
            .map(|_| {
                let x = (rng.next() % 41) as i64;
                if d.is_unsigned_integer() {
                    x
                } else {
                    x - 20
                }
            })
            .collect();
        return Literal::from_i64(d, shape, &v).unwrap();
    }
    let v: Vec<f64> = (0..n).map(|_| rng.unit() * 6.0 - 3.0).collect();
    Literal::from_f64(d, shape, &v).unwrap()
}

/// Whether a result holds integers beyond 2^53 (outside the kernel level's
/// f64 semantics).
pub fn big_ints(v: &[Literal]) -> bool {
    v.iter()
        .any(|w| w.dtype().is_integer() && w.to_f64_vec().iter().any(|v| v.abs() >= 9.007e15))
}

/// Values with many ties and, for floats, every special value the order
/// treats specially (NaN last, -0.0 equal to 0.0, infinities).
pub fn sort_input(rng: &mut Rng, d: DType, shape: &[usize]) -> Literal {
    let n: usize = shape.iter().product();
    if d.is_float() {
        let special = [f64::NAN, -0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY];
        let v: Vec<f64> = (0..n)
            .map(|_| match rng.next() % 8 {
                0 => special[(rng.next() % 5) as usize],
                _ => ((rng.next() % 64) as f64 - 32.0) / 4.0,
            })
            .collect();
        return Literal::from_f64(d, shape.to_vec(), &v).unwrap();
    }
    if d == DType::Bool {
        let v: Vec<u8> = (0..n).map(|_| (rng.next() & 1) as u8).collect();
        return Literal::from_bytes(d, shape.to_vec(), v).unwrap();
    }
    // Small values (ties) and the dtype's extremes, as raw little-endian
    // bytes so that u64 values past i64::MAX are included.
    let bits = 8 * d.size() as u32;
    let (lo, hi): (i128, i128) = if d.is_signed_integer() {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let mut bytes = Vec::with_capacity(n * d.size());
    for _ in 0..n {
        let v: i128 = match rng.next() % 6 {
            0 => lo,
            1 => hi,
            _ => (rng.next() % 21) as i128 - if lo < 0 { 10 } else { 0 },
        };
        bytes.extend_from_slice(&(v as u128).to_le_bytes()[..d.size()]);
    }
    Literal::from_bytes(d, shape.to_vec(), bytes).unwrap()
}

/// `op(x)` along `axis` for a sort-class op (`kth = 0` for partitions).
pub fn sort_func(op: Opcode, d: DType, shape: &[usize], axis: i64) -> Func {
    let mut f = Func::new("main", vec![TensorType::from_dims(d, shape)]);
    let x = f.params[0];
    let mut attrs = Attrs::new().with("axis", Attr::Int(axis));
    if matches!(op, Opcode::Partition | Opcode::Argpartition) {
        attrs = attrs.with("kth", Attr::Int(0));
    }
    let r = f.push1(op, &[x], attrs).unwrap();
    f.results = vec![r];
    f
}
