//! Reductions over axes, arg reductions, logsumexp, softmax and scans.
//!
//! Every reduction walks each input element once: offsets of the kept axes
//! ("outer") and of the reduced axes ("inner") are computed once, and the
//! loop order follows memory (reduced-innermost when the last axis is
//! reduced, else accumulators per output). Floats accumulate in f64 and are
//! rounded to the dtype once.

use psionic_ir::{DType, Literal, Opcode};

use super::complex::C;
use super::data::{decode, encode, for_each_offset, offsets, strides, wrap, Data};
use super::elementwise::{fmax, fmin, logaddexp};

struct Plan {
    outer: Vec<usize>,
    inner: Vec<usize>,
    inner_major: bool,
}

fn plan(shape: &[usize], axes: &[usize]) -> Plan {
    let st = strides(shape);
    let (mut ks, mut kst, mut rs, mut rst) = (vec![], vec![], vec![], vec![]);
    for (i, (&d, &s)) in shape.iter().zip(&st).enumerate() {
        if axes.contains(&i) {
            rs.push(d);
            rst.push(s);
        } else {
            ks.push(d);
            kst.push(s);
        }
    }
    let rank = shape.len();
    Plan {
        outer: offsets(&ks, &kst, 0),
        inner: offsets(&rs, &rst, 0),
        inner_major: rank > 0 && !axes.contains(&(rank - 1)),
    }
}

/// Folds each output's elements in increasing reduced-index order; `f` also
/// gets that index.
fn fold<T: Copy, A: Copy>(p: &Plan, data: &[T], init: A, f: impl Fn(A, T, usize) -> A) -> Vec<A> {
    if p.inner_major {
        let mut acc = vec![init; p.outer.len()];
        for (k, &i) in p.inner.iter().enumerate() {
            for (a, &o) in acc.iter_mut().zip(&p.outer) {
                *a = f(*a, data[o + i], k);
            }
        }
        acc
    } else {
        p.outer
            .iter()
            .map(|&o| {
                let mut a = init;
                for (k, &i) in p.inner.iter().enumerate() {
                    a = f(a, data[o + i], k);
                }
                a
            })
            .collect()
    }
}

pub fn int_min(dt: DType) -> i128 {
    match dt {
        DType::I8 => i8::MIN as i128,
        DType::I16 => i16::MIN as i128,
        DType::I32 => i32::MIN as i128,
        DType::I64 => i64::MIN as i128,
        _ => 0,
    }
}
pub fn int_max(dt: DType) -> i128 {
    match dt {
        DType::Bool => 1,
        DType::U8 => u8::MAX as i128,
        DType::U16 => u16::MAX as i128,
        DType::U32 => u32::MAX as i128,
        DType::U64 => u64::MAX as i128,
        DType::I8 => i8::MAX as i128,
        DType::I16 => i16::MAX as i128,
        DType::I32 => i32::MAX as i128,
        _ => i64::MAX as i128,
    }
}

fn axes_of(v: &[i64]) -> Vec<usize> {
    v.iter().map(|&a| a as usize).collect()
}

fn nonzero(d: &Data) -> Vec<bool> {
    match d {
        Data::Int(v) => v.iter().map(|&x| x != 0).collect(),
        Data::Float(v) => v.iter().map(|&x| x != 0.0).collect(),
        Data::Complex(v) => v.iter().map(|z| !z.is_zero()).collect(),
    }
}

fn cmax(a: C, b: C, want_max: bool) -> C {
    if a.is_nan() {
        return a;
    }
    if b.is_nan() {
        return b;
    }
    match b.lex_cmp(a) {
        Some(std::cmp::Ordering::Greater) if want_max => b,
        Some(std::cmp::Ordering::Less) if !want_max => b,
        _ => a,
    }
}

/// sum, prod, max, min, all, any over `axes`.
pub fn reduce(
    op: Opcode,
    x: &Literal,
    axes: &[i64],
    out_dt: DType,
    out_shape: &[usize],
) -> Result<Literal, String> {
    let p = plan(x.shape(), &axes_of(axes));
    let in_dt = x.dtype();
    let d = decode(x);
    if matches!(op, Opcode::ReduceAll | Opcode::ReduceAny) {
        let nz = nonzero(&d);
        let all = op == Opcode::ReduceAll;
        let r = fold(&p, &nz, all, |a, v, _| if all { a && v } else { a || v });
        let v: Vec<i128> = r.into_iter().map(|b| b as i128).collect();
        return encode(out_dt, out_shape, &Data::Int(v));
    }
    let out = match d {
        Data::Int(v) => Data::Int(match op {
            Opcode::ReduceSum => fold(&p, &v, 0i128, |a, x, _| a.wrapping_add(x))
                .into_iter()
                .map(|a| wrap(a, out_dt))
                .collect(),
            Opcode::ReduceProd => fold(&p, &v, 1i128, |a, x, _| wrap(a.wrapping_mul(x), out_dt)),
            Opcode::ReduceMax => fold(&p, &v, int_min(in_dt), |a, x, _| a.max(x)),
            Opcode::ReduceMin => fold(&p, &v, int_max(in_dt), |a, x, _| a.min(x)),
            _ => return Err(format!("`{op}` is not defined for {in_dt}")),
        }),
        Data::Float(v) => Data::Float(match op {
            Opcode::ReduceSum => fold(&p, &v, 0.0, |a, x, _| a + x),
            Opcode::ReduceProd => fold(&p, &v, 1.0, |a, x, _| a * x),
            Opcode::ReduceMax => fold(&p, &v, f64::NEG_INFINITY, |a, x, _| fmax(a, x)),
            Opcode::ReduceMin => fold(&p, &v, f64::INFINITY, |a, x, _| fmin(a, x)),
            Opcode::LogSumExp => return logsumexp(&p, &v, out_dt, out_shape),
            _ => return Err(format!("`{op}` is not defined for {in_dt}")),
        }),
        Data::Complex(v) => Data::Complex(match op {
            Opcode::ReduceSum => fold(&p, &v, C::default(), |a, x, _| a + x),
            Opcode::ReduceProd => fold(&p, &v, C::ONE, |a, x, _| a * x),
            Opcode::ReduceMax => fold(&p, &v, C::real(f64::NEG_INFINITY), |a, x, _| {
                cmax(a, x, true)
            }),
            Opcode::ReduceMin => fold(&p, &v, C::real(f64::INFINITY), |a, x, _| cmax(a, x, false)),
            _ => return Err(format!("`{op}` is not defined for {in_dt}")),
        }),
    };
    encode(out_dt, out_shape, &out)
}

fn logsumexp(p: &Plan, v: &[f64], out_dt: DType, out_shape: &[usize]) -> Result<Literal, String> {
    let m = fold(p, v, f64::NEG_INFINITY, |a, x, _| fmax(a, x));
    // An infinite maximum is shifted by 0 instead (as MLX does), so all -inf
    // gives -inf and any +inf gives +inf.
    let shift: Vec<f64> = m
        .iter()
        .map(|&m| if m.is_infinite() { 0.0 } else { m })
        .collect();
    let mut s = vec![0.0f64; p.outer.len()];
    for (o, (&ob, acc)) in p.outer.iter().zip(s.iter_mut()).enumerate() {
        for &i in &p.inner {
            *acc += (v[ob + i] - shift[o]).exp();
        }
    }
    let r: Vec<f64> = s
        .iter()
        .zip(&shift)
        .zip(&m)
        .map(|((&s, &sh), &m)| if m.is_nan() { f64::NAN } else { sh + s.ln() })
        .collect();
    encode(out_dt, out_shape, &Data::Float(r))
}

/// exp(x - max) / sum(exp(x - max)) over `axes`.
pub fn softmax(x: &Literal, axes: &[i64]) -> Result<Literal, String> {
    let p = plan(x.shape(), &axes_of(axes));
    let v = match decode(x) {
        Data::Float(v) => v,
        _ => return Err(format!("`tensor.softmax` is not defined for {}", x.dtype())),
    };
    let mut out = vec![0.0f64; v.len()];
    for &ob in &p.outer {
        let m = p
            .inner
            .iter()
            .fold(f64::NEG_INFINITY, |a, &i| fmax(a, v[ob + i]));
        let mut s = 0.0;
        for &i in &p.inner {
            let e = (v[ob + i] - m).exp();
            out[ob + i] = e;
            s += e;
        }
        for &i in &p.inner {
            out[ob + i] /= s;
        }
    }
    encode(x.dtype(), x.shape(), &Data::Float(out))
}

/// Index (u32) of the first maximum (minimum) along `axis`; a NaN counts as
/// the extreme, so the first NaN wins (as in MLX).
pub fn arg_reduce(
    op: Opcode,
    x: &Literal,
    axis: usize,
    out_shape: &[usize],
) -> Result<Literal, String> {
    let p = plan(x.shape(), &[axis]);
    if p.inner.is_empty() && !p.outer.is_empty() {
        return Err(format!("`{op}` of an empty axis {axis}"));
    }
    let is_max = op == Opcode::Argmax;
    let better_f = |cand: f64, best: f64| -> bool {
        if best.is_nan() {
            false
        } else if cand.is_nan() {
            true
        } else if is_max {
            cand > best
        } else {
            cand < best
        }
    };
    let idx: Vec<usize> = match decode(x) {
        Data::Int(v) => fold(&p, &v, (0i128, usize::MAX), |(b, bi), c, k| {
            if bi == usize::MAX || (is_max && c > b) || (!is_max && c < b) {
                (c, k)
            } else {
                (b, bi)
            }
        })
        .into_iter()
        .map(|t| t.1)
        .collect(),
        Data::Float(v) => fold(&p, &v, (0f64, usize::MAX), |(b, bi), c, k| {
            if bi == usize::MAX || better_f(c, b) {
                (c, k)
            } else {
                (b, bi)
            }
        })
        .into_iter()
        .map(|t| t.1)
        .collect(),
        Data::Complex(v) => fold(&p, &v, (C::default(), usize::MAX), |(b, bi), c, k| {
            let better = bi == usize::MAX
                || (!b.is_nan()
                    && (c.is_nan()
                        || matches!(
                            (c.lex_cmp(b), is_max),
                            (Some(std::cmp::Ordering::Greater), true)
                                | (Some(std::cmp::Ordering::Less), false)
                        )));
            if better {
                (c, k)
            } else {
                (b, bi)
            }
        })
        .into_iter()
        .map(|t| t.1)
        .collect(),
    };
    let v: Vec<i128> = idx.into_iter().map(|i| i as i128).collect();
    encode(DType::U32, out_shape, &Data::Int(v))
}

/// Cumulative ops along `axis`, forward or reverse, inclusive or exclusive.
pub fn scan(
    op: Opcode,
    x: &Literal,
    axis: usize,
    reverse: bool,
    inclusive: bool,
    out_dt: DType,
) -> Result<Literal, String> {
    let shape = x.shape();
    let st = strides(shape);
    let n = shape[axis];
    let stride = st[axis];
    let mut lines = shape.to_vec();
    lines[axis] = 1;
    let mut starts = Vec::new();
    for_each_offset(&lines, &st, 0, |o| starts.push(o));
    let in_dt = x.dtype();
    // Visits the positions of one line in scan order.
    let order = |start: usize| -> Vec<usize> {
        let mut v: Vec<usize> = (0..n)
            .map(|i| (start as isize + i as isize * stride) as usize)
            .collect();
        if reverse {
            v.reverse();
        }
        v
    };
    fn run<T: Copy>(
        v: &[T],
        starts: &[usize],
        order: &dyn Fn(usize) -> Vec<usize>,
        init: T,
        inclusive: bool,
        f: impl Fn(T, T) -> T,
    ) -> Vec<T> {
        let mut out = vec![init; v.len()];
        for &s in starts {
            let mut acc = init;
            for o in order(s) {
                let next = f(acc, v[o]);
                out[o] = if inclusive { next } else { acc };
                acc = next;
            }
        }
        out
    }
    let bad = || format!("`{op}` is not defined for {in_dt}");
    let out = match decode(x) {
        Data::Int(v) => Data::Int(match op {
            Opcode::Cumsum => run(&v, &starts, &order, 0, inclusive, |a, b| {
                wrap(a + b, out_dt)
            }),
            Opcode::Cumprod => run(&v, &starts, &order, 1, inclusive, |a, b| {
                wrap(a.wrapping_mul(b), out_dt)
            }),
            Opcode::Cummax => run(&v, &starts, &order, int_min(in_dt), inclusive, |a, b| {
                a.max(b)
            }),
            Opcode::Cummin => run(&v, &starts, &order, int_max(in_dt), inclusive, |a, b| {
                a.min(b)
            }),
            _ => return Err(bad()),
        }),
        Data::Float(v) => Data::Float(match op {
            Opcode::Cumsum => run(&v, &starts, &order, 0.0, inclusive, |a, b| a + b),
            Opcode::Cumprod => run(&v, &starts, &order, 1.0, inclusive, |a, b| a * b),
            Opcode::Cummax => run(&v, &starts, &order, f64::NEG_INFINITY, inclusive, fmax),
            Opcode::Cummin => run(&v, &starts, &order, f64::INFINITY, inclusive, fmin),
            Opcode::CumLogAddExp => {
                run(&v, &starts, &order, f64::NEG_INFINITY, inclusive, logaddexp)
            }
            _ => return Err(bad()),
        }),
        Data::Complex(v) => Data::Complex(match op {
            Opcode::Cumsum => run(&v, &starts, &order, C::default(), inclusive, |a, b| a + b),
            Opcode::Cumprod => run(&v, &starts, &order, C::ONE, inclusive, |a, b| a * b),
            Opcode::Cummax => run(
                &v,
                &starts,
                &order,
                C::real(f64::NEG_INFINITY),
                inclusive,
                |a, b| cmax(a, b, true),
            ),
            Opcode::Cummin => run(
                &v,
                &starts,
                &order,
                C::real(f64::INFINITY),
                inclusive,
                |a, b| cmax(a, b, false),
            ),
            _ => return Err(bad()),
        }),
    };
    encode(out_dt, shape, &out)
}
