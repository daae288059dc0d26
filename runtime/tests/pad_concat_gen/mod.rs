//! Random `tensor.pad` / `tensor.concatenate` programs shared by
//! `pad_concat.rs` and `cuda_device.rs`.

use crate::common::{random_literal, Rng};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};

/// The dtypes the draws cover on every backend.
pub const DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::I32, DType::Bool, DType::U8];

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

pub struct Case {
    pub f: Func,
    pub args: Vec<Literal>,
    pub desc: String,
}

fn shape_of(f: &Func, v: Value) -> Vec<usize> {
    f.ty(v).static_shape().unwrap()
}

/// An elementwise op of `v` that keeps the dtype.
fn ew(f: &mut Func, v: Value) -> Value {
    let d = f.ty(v).dtype;
    let (op, ops) = match d {
        DType::Bool => (Opcode::LogicalNot, vec![v]),
        _ if d.is_unsigned_integer() => (Opcode::Add, vec![v, v]),
        _ => (Opcode::Negative, vec![v]),
    };
    f.push1(op, &ops, Attrs::new()).unwrap()
}

fn pad_value(rng: &mut Rng, f: &mut Func, d: DType, params: &mut Vec<TensorType>) -> Value {
    match rng.next() % 3 {
        0 => {
            // A parameter (appended by the caller).
            let t = TensorType::from_dims(d, &[]);
            params.push(t.clone());
            let v = f.new_value(t);
            f.params.push(v);
            v
        }
        k => {
            let x = if k == 1 && d.is_float() {
                f64::NAN
            } else {
                [1.0, 7.0, 0.0][(rng.next() % 3) as usize]
            };
            let lit = Literal::from_f64(d, vec![], &[x]).unwrap();
            f.push1(
                Opcode::Constant,
                &[],
                Attrs::new().with("value", Attr::Dense(lit)),
            )
            .unwrap()
        }
    }
}

/// A random pad or concatenation with producers, views and consumers.
pub fn draw(rng: &mut Rng, d: DType) -> Case {
    let mut r = |n: u64| (rng.next() % n) as usize;
    let rank = 1 + r(3);
    let shape: Vec<usize> = (0..rank).map(|_| 1 + r(5)).collect();
    let is_pad = r(2) == 0;
    let mut params: Vec<TensorType> = Vec::new();
    let mut f = Func::new("main", vec![]);
    let mut desc = String::new();
    let piece = |f: &mut Func, params: &mut Vec<TensorType>, s: &[usize], prod: bool| {
        let t = TensorType::from_dims(d, s);
        params.push(t.clone());
        let v = f.new_value(t);
        f.params.push(v);
        if prod {
            ew(f, v)
        } else {
            v
        }
    };
    let prod = r(2) == 0;
    let mut y = if is_pad {
        let x = piece(&mut f, &mut params, &shape, prod);
        let low: Vec<i64> = (0..rank).map(|_| r(4) as i64).collect();
        let high: Vec<i64> = (0..rank).map(|_| r(4) as i64).collect();
        let pv = pad_value(rng, &mut f, d, &mut params);
        desc = format!("pad {shape:?} low {low:?} high {high:?} producer {prod}");
        f.push1(
            Opcode::Pad,
            &[x, pv],
            Attrs::new()
                .with("low", ints(&low))
                .with("high", ints(&high)),
        )
        .unwrap()
    } else {
        let mut r = |n: u64| (rng.next() % n) as usize;
        let axis = [0, rank / 2, rank - 1][r(3)];
        let k = 1 + r(4);
        let mut pieces = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..k {
            let mut s = shape.clone();
            s[axis] = 1 + r(4);
            sizes.push(s[axis]);
            let prod = r(2) == 0;
            pieces.push(piece(&mut f, &mut params, &s, prod));
        }
        desc = format!("{desc}concat axis {axis} of {sizes:?} in {shape:?}");
        f.push1(
            Opcode::Concatenate,
            &pieces,
            Attrs::new().with("axis", Attr::Int(axis as i64)),
        )
        .unwrap()
    };
    let mut r = |n: u64| (rng.next() % n) as usize;
    // A view around it.
    let ys = shape_of(&f, y);
    match r(4) {
        1 if ys.len() >= 2 => {
            let mut perm: Vec<i64> = (0..ys.len() as i64).collect();
            perm.swap(0, ys.len() - 1);
            desc += " transposed";
            y = f
                .push1(
                    Opcode::Transpose,
                    &[y],
                    Attrs::new().with("perm", ints(&perm)),
                )
                .unwrap();
        }
        2 => {
            let start: Vec<i64> = ys.iter().map(|&n| (n / 3) as i64).collect();
            let limit: Vec<i64> = ys.iter().map(|&n| n as i64).collect();
            let strides: Vec<i64> = ys.iter().map(|_| 1 + r(2) as i64).collect();
            desc += &format!(" sliced {start:?} by {strides:?}");
            y = f
                .push1(
                    Opcode::Slice,
                    &[y],
                    Attrs::new()
                        .with("start", ints(&start))
                        .with("stop", ints(&limit))
                        .with("strides", ints(&strides)),
                )
                .unwrap();
        }
        3 => {
            let mut s = vec![3i64];
            s.extend(ys.iter().map(|&n| n as i64));
            desc += " broadcast";
            y = f
                .push1(
                    Opcode::Broadcast,
                    &[y],
                    Attrs::new().with("shape", ints(&s)),
                )
                .unwrap();
        }
        _ => {}
    }
    // An elementwise consumer, and maybe a reduction.
    y = ew(&mut f, y);
    if r(3) == 0 {
        let ys = shape_of(&f, y);
        let ax = r(ys.len() as u64) as i64;
        let op = match d {
            DType::Bool => Opcode::ReduceAny,
            _ if d.is_float() => Opcode::ReduceSum,
            _ => Opcode::ReduceMax,
        };
        desc += &format!(" {op} over {ax}");
        y = f
            .push1(op, &[y], Attrs::new().with("axes", ints(&[ax])))
            .unwrap();
    }
    f.results = vec![y];
    for (v, t) in f.params.clone().iter().zip(&params) {
        assert_eq!(f.ty(*v), t);
    }
    let args = params.iter().map(|t| random_literal(rng, t)).collect();
    Case {
        f,
        args,
        desc: format!("{desc} {d}"),
    }
}
