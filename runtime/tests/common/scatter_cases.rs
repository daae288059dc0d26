//! Random scatter programs shared by `scatter_kernels` (CPU, kernel
//! interpreter, wgpu) and `cuda_device` (CUDA): `tensor.scatter` (several
//! index operands, slices, every reduction), `tensor.scatter_axis` (`none`,
//! `sum`) and `tensor.dynamic_slice_update` (starts clamped), with an
//! elementwise producer of the destination, the indices and the updates,
//! and an elementwise consumer of the result, over random shapes, axes,
//! index dtypes (i32, i64, u32) and destination dtypes.
//!
//! Update values are multiples of 1/2 in [-2, 2] (and small integers):
//! sums and short products of them are exact in every float dtype, so a
//! kernel that rounds each combination agrees exactly with the reference
//! interpreter, which rounds once. Duplicate indices are common; with
//! `distinct`, indices of `none` scatters land on distinct elements (for
//! GPUs, where the winner among duplicates is unordered).
#![allow(dead_code)]

use super::common::Rng;
use psionic_ir::{Attr, Attrs, DType, Func, Literal, Opcode, TensorType, Value};

pub const INDEX_DTYPES: [DType; 3] = [DType::I32, DType::I64, DType::U32];
pub const REDUCES: [&str; 5] = ["none", "sum", "prod", "max", "min"];

pub struct Case {
    pub f: Func,
    pub args: Vec<Literal>,
    pub desc: String,
    /// Every op should become kernel code (no `kernel.op`).
    pub lib_free: bool,
    /// An index is out of range: every backend must report it.
    pub bad: bool,
    /// The reduction (`none` for dynamic_slice_update).
    pub reduce: &'static str,
}

fn pick<T: Copy>(rng: &mut Rng, v: &[T]) -> T {
    v[(rng.next() % v.len() as u64) as usize]
}
fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next() % n as u64) as usize
}
pub fn ty(d: DType, s: &[usize]) -> TensorType {
    TensorType::new(d, s.iter().map(|&x| x as i64).collect::<Vec<i64>>())
}
fn shape_of(rng: &mut Rng, rank: usize, max: usize) -> Vec<usize> {
    (0..rank).map(|_| 1 + below(rng, max)).collect()
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

/// Data of `d`: multiples of 1/2 in [-2, 2] for floats, -3..=3 (0..=6
/// unsigned) for integers, random bools.
pub fn small_literal(rng: &mut Rng, d: DType, shape: &[usize]) -> Literal {
    let n: usize = shape.iter().product();
    if d == DType::Bool {
        let v: Vec<u8> = (0..n).map(|_| (rng.next() & 1) as u8).collect();
        return Literal::from_bytes(d, shape.to_vec(), v).unwrap();
    }
    let v: Vec<f64> = (0..n)
        .map(|_| {
            if d.is_integer() {
                let x = below(rng, 7) as f64;
                if d.is_unsigned_integer() {
                    x
                } else {
                    x - 3.0
                }
            } else {
                (below(rng, 9) as f64 - 4.0) / 2.0
            }
        })
        .collect();
    Literal::from_f64(d, shape.to_vec(), &v).unwrap()
}

/// An elementwise producer (half the time): `x + x` for numbers (exact),
/// `not x` for bools.
fn produce(rng: &mut Rng, f: &mut Func, x: Value) -> Value {
    if rng.next() & 1 == 0 {
        return x;
    }
    if f.ty(x).dtype == DType::Bool {
        f.push1(Opcode::LogicalNot, &[x], Attrs::new()).unwrap()
    } else {
        f.push1(Opcode::Add, &[x, x], Attrs::new()).unwrap()
    }
}

/// The destination: a parameter (with a producer) or, a third of the
/// time, a fill (`zeros_like`).
fn destination(rng: &mut Rng, f: &mut Func, x: Value, xs: &[usize], d: DType) -> Value {
    if rng.next().is_multiple_of(3) {
        return full(f, 0.0, xs, d);
    }
    produce(rng, f, x)
}

/// An elementwise consumer of the result (half the time).
fn consume(rng: &mut Rng, f: &mut Func, y: Value) -> Value {
    if rng.next() & 1 == 0 {
        return y;
    }
    match f.ty(y).dtype {
        DType::Bool => f.push1(Opcode::LogicalNot, &[y], Attrs::new()).unwrap(),
        _ => f.push1(Opcode::Add, &[y, y], Attrs::new()).unwrap(),
    }
}

/// An index operand: the parameter itself, or `raw - dim` for signed
/// dtypes (raw holds `index + dim`) / `raw * 1` for unsigned ones.
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

/// `n` valid starts in `0..=dim - slice` (wrapped negative half the time
/// for signed dtypes); with `distinct`, a random order of distinct ones
/// (`n <= dim - slice + 1`).
fn index_values(
    rng: &mut Rng,
    n: usize,
    dim: usize,
    slice: usize,
    signed: bool,
    distinct: bool,
) -> Vec<i64> {
    let m = dim - slice + 1;
    let mut base: Vec<i64> = if distinct {
        let mut p: Vec<i64> = (0..m as i64).collect();
        for i in 0..m {
            let j = i + below(rng, m - i);
            p.swap(i, j);
        }
        p.truncate(n);
        p
    } else {
        (0..n).map(|_| below(rng, m) as i64).collect()
    };
    for v in base.iter_mut() {
        if signed && rng.next() & 1 == 1 {
            *v -= dim as i64;
        }
    }
    base
}

/// Spoils one index so that it is out of range after wrapping.
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

/// `tensor.scatter` into a destination of `dt`: 1 to rank index operands
/// on distinct axes, slices on every axis, and `reduce`. With `distinct`,
/// a `none` scatter has slices of 1 on its indexed axes and distinct index
/// tuples (no element written twice).
pub fn scatter_case(
    rng: &mut Rng,
    dt: DType,
    reduce: &'static str,
    bad: bool,
    distinct: bool,
) -> Case {
    let rank = 1 + below(rng, 3);
    let xs = shape_of(rng, rank, 5);
    let k = 1 + below(rng, rank);
    let mut axes: Vec<usize> = (0..rank).collect();
    for i in 0..rank {
        let j = i + below(rng, rank - i);
        axes.swap(i, j);
    }
    axes.truncate(k);
    let unique = distinct && reduce == "none";
    let sizes: Vec<usize> = (0..rank)
        .map(|a| {
            if unique && axes.contains(&a) {
                1
            } else {
                1 + below(rng, xs[a])
            }
        })
        .collect();
    // Distinct tuples: distinct values on the first indexed axis.
    let irank = if unique { 1 } else { below(rng, 3) };
    let mut is = shape_of(rng, irank, 3);
    if unique {
        is[0] = 1 + below(rng, xs[axes[0]]);
    }
    let id = pick(rng, &INDEX_DTYPES);
    let n: usize = is.iter().product();
    let mut us = is.clone();
    us.extend(&sizes);
    let mut params = vec![ty(dt, &xs)];
    params.extend((0..k).map(|_| ty(id, &is)));
    params.push(ty(dt, &us));
    let mut f = Func::new("scatter", params);
    let fp = f.params.clone();
    let signed = id.is_signed_integer();
    let spoiled = if bad { below(rng, k) } else { k };
    let mut args = vec![small_literal(rng, dt, &xs)];
    let dst = destination(rng, &mut f, fp[0], &xs, dt);
    let mut operands = vec![dst];
    for (j, &a) in axes.iter().enumerate() {
        let mut vals = index_values(rng, n, xs[a], sizes[a], signed, unique && j == 0);
        if j == spoiled {
            spoil(rng, &mut vals, xs[a], sizes[a], signed);
        }
        let p = f.params[1 + j];
        let (l, idx) = index_operand(rng, &mut f, p, id, &is, &vals, xs[a]);
        args.push(l);
        operands.push(idx);
    }
    args.push(small_literal(rng, dt, &us));
    let upd = produce(rng, &mut f, fp[1 + k]);
    operands.push(upd);
    let y = f
        .push1(
            Opcode::Scatter,
            &operands,
            Attrs::new()
                .with("axes", Attr::Ints(axes.iter().map(|&a| a as i64).collect()))
                .with("reduce", Attr::Str(reduce.into())),
        )
        .unwrap();
    let out = consume(rng, &mut f, y);
    f.results = vec![out];
    Case {
        desc: format!(
            "scatter {reduce} into {dt}{xs:?} by {k} x {id}{is:?} axes {axes:?} updates {us:?}"
        ),
        f,
        args,
        lib_free: id != DType::I64,
        bad: bad && n > 0 && us.iter().all(|&u| u > 0),
        reduce,
    }
}

/// `tensor.scatter_axis` (`none` or `sum`) into a destination of `dt`.
/// With `distinct`, a `none` scatter's indices along the axis are distinct
/// within each line.
pub fn scatter_axis_case(
    rng: &mut Rng,
    dt: DType,
    reduce: &'static str,
    bad: bool,
    distinct: bool,
) -> Case {
    let rank = 1 + below(rng, 3);
    let xs = shape_of(rng, rank, 5);
    let axis = below(rng, rank);
    let unique = distinct && reduce == "none";
    let mut is: Vec<usize> = xs.iter().map(|&d| 1 + below(rng, d)).collect();
    is[axis] = if unique {
        1 + below(rng, xs[axis])
    } else {
        1 + below(rng, 6)
    };
    let id = pick(rng, &INDEX_DTYPES);
    let signed = id.is_signed_integer();
    let n: usize = is.iter().product();
    // Lines along the axis: `outer` lines of `is[axis]` indices each.
    let inner: usize = is[axis + 1..].iter().product();
    let mut vals = vec![0i64; n];
    let lines = n / is[axis];
    for line in 0..lines {
        let (o, i) = (line / inner, line % inner);
        let v = index_values(rng, is[axis], xs[axis], 1, signed, unique);
        for (j, x) in v.into_iter().enumerate() {
            vals[(o * is[axis] + j) * inner + i] = x;
        }
    }
    if bad {
        spoil(rng, &mut vals, xs[axis], 1, signed);
    }
    let mut f = Func::new("scatter_axis", vec![ty(dt, &xs), ty(id, &is), ty(dt, &is)]);
    let fp = f.params.clone();
    let dst = destination(rng, &mut f, fp[0], &xs, dt);
    let (il, idx) = index_operand(rng, &mut f, fp[1], id, &is, &vals, xs[axis]);
    let upd = produce(rng, &mut f, fp[2]);
    let y = f
        .push1(
            Opcode::ScatterAxis,
            &[dst, idx, upd],
            Attrs::new()
                .with("axis", Attr::Int(axis as i64))
                .with("reduce", Attr::Str(reduce.into())),
        )
        .unwrap();
    let out = consume(rng, &mut f, y);
    f.results = vec![out];
    Case {
        desc: format!("scatter_axis {reduce} into {dt}{xs:?} by {id}{is:?} axis {axis}"),
        args: vec![small_literal(rng, dt, &xs), il, small_literal(rng, dt, &is)],
        f,
        lib_free: id != DType::I64,
        bad,
        reduce,
    }
}

/// `tensor.dynamic_slice_update` of `dt`: starts on some axes, often out
/// of range (clamped, never an error).
pub fn dynamic_update_case(rng: &mut Rng, dt: DType) -> Case {
    let rank = 1 + below(rng, 3);
    let xs = shape_of(rng, rank, 6);
    let us: Vec<usize> = xs.iter().map(|&d| 1 + below(rng, d)).collect();
    let k = 1 + below(rng, rank);
    let mut axes: Vec<usize> = (0..rank).collect();
    for i in 0..rank {
        let j = i + below(rng, rank - i);
        axes.swap(i, j);
    }
    axes.truncate(k);
    let id = pick(rng, &INDEX_DTYPES);
    let starts: Vec<i64> = axes
        .iter()
        .map(|&a| {
            let v = below(rng, xs[a] + 5) as i64 - 2;
            if id.is_unsigned_integer() {
                v.max(0)
            } else {
                v
            }
        })
        .collect();
    let mut f = Func::new(
        "dynamic_slice_update",
        vec![ty(dt, &xs), ty(dt, &us), ty(id, &[k])],
    );
    let fp = f.params.clone();
    let dst = destination(rng, &mut f, fp[0], &xs, dt);
    let upd = produce(rng, &mut f, fp[1]);
    let y = f
        .push1(
            Opcode::DynamicSliceUpdate,
            &[dst, upd, f.params[2]],
            Attrs::new().with("axes", Attr::Ints(axes.iter().map(|&a| a as i64).collect())),
        )
        .unwrap();
    let out = consume(rng, &mut f, y);
    f.results = vec![out];
    Case {
        desc: format!("dynamic_slice_update {dt}{xs:?} <- {us:?} at {id} {starts:?} axes {axes:?}"),
        args: vec![
            small_literal(rng, dt, &xs),
            small_literal(rng, dt, &us),
            Literal::from_i64(id, vec![k], &starts).unwrap(),
        ],
        f,
        lib_free: id != DType::I64,
        bad: false,
        reduce: "none",
    }
}

/// `grad = vjp(sum(w * take_along_axis(x, idx, 1)))` w.r.t. `x`, written
/// out as autodiff writes it: a `scatter_axis` sum of the cotangent into
/// `zeros_like(x)`, then a consumer.
pub fn take_vjp(n: usize, v: usize, label: DType) -> Func {
    let mut f = Func::new(
        "take_vjp",
        vec![ty(label, &[n, 1]), ty(DType::F32, &[n, 1])],
    );
    let (l, ct) = (f.params[0], f.params[1]);
    let z = full(&mut f, 0.0, &[n, v], DType::F32);
    let g = f
        .push1(
            Opcode::ScatterAxis,
            &[z, l, ct],
            Attrs::new()
                .with("axis", Attr::Int(1))
                .with("reduce", Attr::Str("sum".into())),
        )
        .unwrap();
    let y = f.push1(Opcode::Multiply, &[g, g], Attrs::new()).unwrap();
    f.results = vec![y];
    f
}
