//! Random gather programs shared by `gather_kernels` (CPU, kernel
//! interpreter, wgpu) and `cuda_device` (CUDA): `take_along_axis` and
//! `tensor.gather` with an elementwise producer of their indices and an
//! elementwise or reducing consumer, over random shapes, axes, slice sizes,
//! index dtypes (i32, i64, u32) and source dtypes (f32, f16, i32, bool).
#![allow(dead_code)]

use super::common::{random_literal, Rng};
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};

const INDEX_DTYPES: [DType; 3] = [DType::I32, DType::I64, DType::U32];
const SOURCE_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::I32, DType::Bool];

pub struct Case {
    pub f: Func,
    pub args: Vec<Literal>,
    pub desc: String,
    /// Every op should become kernel code (no `kernel.op`).
    pub lib_free: bool,
    /// An index is out of range: every backend must report it.
    pub bad: bool,
}

fn pick<T: Copy>(rng: &mut Rng, v: &[T]) -> T {
    v[(rng.next() % v.len() as u64) as usize]
}
fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next() % n as u64) as usize
}

fn full(f: &mut Func, v: f64, shape: &[usize], d: DType) -> Value {
    f.push1(
        Opcode::Full,
        &[],
        Attrs::new()
            .with("value", Attr::Float(v))
            .with(
                "shape",
                Attr::Ints(shape.iter().map(|&x| x as i64).collect()),
            )
            .with("dtype", Attr::DType(d)),
    )
    .unwrap()
}

/// Index values for axis size `dim` and slice `slice`: each valid start,
/// wrapped negative half the time for signed dtypes.
fn index_values(rng: &mut Rng, n: usize, dim: usize, slice: usize, signed: bool) -> Vec<i64> {
    (0..n)
        .map(|_| {
            let j = below(rng, dim - slice + 1) as i64;
            if signed && rng.next() & 1 == 1 {
                j - dim as i64
            } else {
                j
            }
        })
        .collect()
}

/// A raw index parameter and the elementwise work that turns it into the
/// index: `raw - dim` for signed dtypes (raw holds `index + dim`), `raw * 1`
/// for unsigned ones; a third of the time the parameter is the index
/// itself. Returns (param literal, index value).
fn index_operand(
    rng: &mut Rng,
    f: &mut Func,
    param: Value,
    dt: DType,
    shape: &[usize],
    vals: &[i64],
    dim: usize,
) -> (Literal, Value) {
    if rng.next().is_multiple_of(3) {
        return (Literal::from_i64(dt, shape.to_vec(), vals).unwrap(), param);
    }
    if dt.is_signed_integer() {
        let raw: Vec<i64> = vals.iter().map(|v| v + dim as i64).collect();
        let c = full(f, dim as f64, shape, dt);
        let idx = f
            .push1(Opcode::Subtract, &[param, c], Attrs::new())
            .unwrap();
        (Literal::from_i64(dt, shape.to_vec(), &raw).unwrap(), idx)
    } else {
        let c = full(f, 1.0, shape, dt);
        let idx = f
            .push1(Opcode::Multiply, &[param, c], Attrs::new())
            .unwrap();
        (Literal::from_i64(dt, shape.to_vec(), vals).unwrap(), idx)
    }
}

/// Spoils one index so that it is out of range after wrapping (for an
/// axis of size `dim` and slices of `slice`).
fn spoil(rng: &mut Rng, vals: &mut [i64], dim: usize, slice: usize, signed: bool) {
    if vals.is_empty() {
        return;
    }
    let k = below(rng, vals.len());
    let r = below(rng, 3) as i64;
    vals[k] = if signed && rng.next() & 1 == 1 {
        -(dim as i64) - 1 - r
    } else {
        (dim - slice) as i64 + 1 + r
    };
}

/// An elementwise consumer of the gathered values, and sometimes a sum
/// over their last axis after it.
fn consume(rng: &mut Rng, f: &mut Func, g: Value) -> Value {
    let t = f.ty(g).clone();
    let d = t.dtype;
    let e = match d {
        DType::Bool => f.push1(Opcode::LogicalNot, &[g], Attrs::new()).unwrap(),
        _ if d.is_integer() => f.push1(Opcode::Add, &[g, g], Attrs::new()).unwrap(),
        _ => {
            let sq = f.push1(Opcode::Multiply, &[g, g], Attrs::new()).unwrap();
            f.push1(Opcode::Add, &[sq, g], Attrs::new()).unwrap()
        }
    };
    if t.rank() > 0 && rng.next().is_multiple_of(3) {
        let c = f
            .push1(
                Opcode::Cast,
                &[e],
                Attrs::new().with("dtype", Attr::DType(DType::F32)),
            )
            .unwrap();
        let axes = Attrs::new().with("axes", Attr::Ints(vec![t.rank() as i64 - 1]));
        return f.push1(Opcode::ReduceSum, &[c], axes).unwrap();
    }
    e
}

fn shape_of(rng: &mut Rng, rank: usize, max: usize) -> Vec<usize> {
    (0..rank).map(|_| 1 + below(rng, max)).collect()
}
pub fn ty(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.iter().map(|&x| x as i64).collect::<Vec<i64>>())
}

pub fn take_case(rng: &mut Rng, bad: bool) -> Case {
    let rank = 1 + below(rng, 3);
    let xs = shape_of(rng, rank, 5);
    let axis = below(rng, rank);
    let mut is = xs.clone();
    is[axis] = 1 + below(rng, 6);
    let (sd, id) = (pick(rng, &SOURCE_DTYPES), pick(rng, &INDEX_DTYPES));
    let mut f = Func::new("take", vec![ty(sd, &xs), ty(id, &is)]);
    let (x, r) = (f.params[0], f.params[1]);
    let n: usize = is.iter().product();
    let signed = id.is_signed_integer();
    let mut vals = index_values(rng, n, xs[axis], 1, signed);
    if bad {
        spoil(rng, &mut vals, xs[axis], 1, signed);
    }
    let (rl, idx) = index_operand(rng, &mut f, r, id, &is, &vals, xs[axis]);
    let g = f
        .push1(
            Opcode::TakeAlongAxis,
            &[x, idx],
            Attrs::new().with("axis", Attr::Int(axis as i64)),
        )
        .unwrap();
    let out = consume(rng, &mut f, g);
    f.results = vec![out];
    let xl = random_literal(rng, &ty(sd, &xs));
    Case {
        desc: format!("take_along_axis {sd}{xs:?} by {id}{is:?} axis {axis}"),
        f,
        args: vec![xl, rl],
        lib_free: id != DType::I64,
        bad,
    }
}

pub fn gather_case(rng: &mut Rng, bad: bool) -> Case {
    let rank = 1 + below(rng, 3);
    let xs = shape_of(rng, rank, 5);
    let k = 1 + below(rng, rank);
    let mut axes: Vec<usize> = (0..rank).collect();
    // A random order of k distinct axes.
    for i in 0..rank {
        let j = i + below(rng, rank - i);
        axes.swap(i, j);
    }
    axes.truncate(k);
    let sizes: Vec<usize> = xs.iter().map(|&d| 1 + below(rng, d)).collect();
    let irank = below(rng, 3);
    let is = shape_of(rng, irank, 3);
    let (sd, id) = (pick(rng, &SOURCE_DTYPES), pick(rng, &INDEX_DTYPES));
    let mut params = vec![ty(sd, &xs)];
    params.extend((0..k).map(|_| ty(id, &is)));
    let mut f = Func::new("gather", params);
    let n: usize = is.iter().product();
    let signed = id.is_signed_integer();
    let spoiled = if bad { below(rng, k) } else { k };
    let mut args = vec![random_literal(rng, &ty(sd, &xs))];
    let mut operands = vec![f.params[0]];
    for (j, &a) in axes.iter().enumerate() {
        let mut vals = index_values(rng, n, xs[a], sizes[a], signed);
        if j == spoiled {
            spoil(rng, &mut vals, xs[a], sizes[a], signed);
        }
        let p = f.params[1 + j];
        let (l, idx) = index_operand(rng, &mut f, p, id, &is, &vals, xs[a]);
        args.push(l);
        operands.push(idx);
    }
    let g = f
        .push1(
            Opcode::Gather,
            &operands,
            Attrs::new()
                .with("axes", Attr::Ints(axes.iter().map(|&a| a as i64).collect()))
                .with(
                    "slice_sizes",
                    Attr::Ints(sizes.iter().map(|&s| s as i64).collect()),
                ),
        )
        .unwrap();
    let out = consume(rng, &mut f, g);
    f.results = vec![out];
    Case {
        desc: format!("gather {sd}{xs:?} by {k} x {id}{is:?} axes {axes:?} slices {sizes:?}"),
        f,
        args,
        lib_free: id != DType::I64 && n > 0,
        bad: bad && n > 0,
    }
}

/// `loss[n] = logsumexp(logits[n, :]) - logits[n, labels[n]]`.
pub fn cross_entropy(n: usize, v: usize, label: DType) -> Func {
    let mut f = Func::new("xent", vec![ty(DType::F32, &[n, v]), ty(label, &[n])]);
    let (x, l) = (f.params[0], f.params[1]);
    let axes = Attrs::new().with("axes", Attr::Ints(vec![1]));
    let lse = f.push1(Opcode::LogSumExp, &[x], axes).unwrap();
    let l2 = f
        .push1(
            Opcode::ExpandDims,
            &[l],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    let picked = f
        .push1(
            Opcode::TakeAlongAxis,
            &[x, l2],
            Attrs::new().with("axis", Attr::Int(1)),
        )
        .unwrap();
    let picked = f
        .push1(
            Opcode::Squeeze,
            &[picked],
            Attrs::new().with("axes", Attr::Ints(vec![1])),
        )
        .unwrap();
    let loss = f
        .push1(Opcode::Subtract, &[lse, picked], Attrs::new())
        .unwrap();
    f.results = vec![loss];
    f
}
