//! Reductions over axes, arg reductions, logsumexp, softmax and scans.
//!
//! Every reduction walks each input element once: offsets of the kept axes
//! ("outer") and of the reduced axes ("inner") are computed once, and the
//! loop order follows memory (reduced-innermost when the last axis is
//! reduced, else accumulators per output). Floats accumulate in f64 and are
//! rounded to the dtype once.

use psionic_ir::{DType, Literal, Opcode};

use super::complex::C;
use super::data::{decode, encode, offsets, strides, wrap, Data};
use super::elementwise::{fmax, fmin, logaddexp};

/// How a reduction visits memory. Axes are coalesced (size-1 axes dropped,
/// neighbours of the same kind merged) so the innermost group is one
/// contiguous run of `run` elements, reduced or kept.
struct Plan {
    /// Offsets of the kept groups (all but the run when the run is kept).
    outer: Vec<usize>,
    /// Offsets of the reduced groups (all but the run when the run is reduced).
    inner: Vec<usize>,
    run: usize,
    run_reduced: bool,
}

fn plan(shape: &[usize], axes: &[usize]) -> Plan {
    let st = strides(shape);
    // (size, stride, reduced) per coalesced group, outermost first.
    let mut groups: Vec<(usize, isize, bool)> = Vec::new();
    for (i, (&d, &s)) in shape.iter().zip(&st).enumerate() {
        let red = axes.contains(&i);
        if d == 1 {
            continue;
        }
        match groups.last_mut() {
            Some(g) if g.2 == red && d != 0 && g.0 != 0 => {
                g.0 *= d;
                g.1 = s;
            }
            _ => groups.push((d, s, red)),
        }
    }
    let (run, run_reduced) = match groups.last() {
        Some(&(d, _, r)) => {
            groups.pop();
            (d, r)
        }
        None => (1, true),
    };
    let pick = |red: bool| -> Vec<usize> {
        let (sz, sd): (Vec<usize>, Vec<isize>) = groups
            .iter()
            .filter(|g| g.2 == red)
            .map(|g| (g.0, g.1))
            .unzip();
        offsets(&sz, &sd, 0)
    };
    Plan {
        outer: pick(false),
        inner: pick(true),
        run,
        run_reduced,
    }
}

impl Plan {
    fn outputs(&self) -> usize {
        self.outer.len() * if self.run_reduced { 1 } else { self.run }
    }
    /// Offsets of the elements of output `q`, in reduction order.
    fn group(&self, q: usize, buf: &mut Vec<usize>) {
        buf.clear();
        if self.run_reduced {
            let o = self.outer[q];
            for &s in &self.inner {
                buf.extend((0..self.run).map(|j| o + s + j));
            }
        } else {
            let o = self.outer[q / self.run] + q % self.run;
            buf.extend(self.inner.iter().map(|&s| o + s));
        }
    }
}

/// Folds each output's elements in increasing reduced-index order; `f` also
/// gets that index. Reads memory in order where the layout allows.
fn fold<T: Copy, A: Copy>(p: &Plan, data: &[T], init: A, f: impl Fn(A, T, usize) -> A) -> Vec<A> {
    if p.run_reduced {
        p.outer
            .iter()
            .map(|&o| {
                let mut a = init;
                let mut k = 0;
                for &s in &p.inner {
                    for &x in &data[o + s..o + s + p.run] {
                        a = f(a, x, k);
                        k += 1;
                    }
                }
                a
            })
            .collect()
    } else {
        let l = p.run;
        let mut acc = vec![init; p.outputs()];
        for (qo, &o) in p.outer.iter().enumerate() {
            let out = &mut acc[qo * l..(qo + 1) * l];
            for (k, &s) in p.inner.iter().enumerate() {
                for (a, &x) in out.iter_mut().zip(&data[o + s..o + s + l]) {
                    *a = f(*a, x, k);
                }
            }
        }
        acc
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
    let mut buf = Vec::new();
    let r: Vec<f64> = (0..p.outputs())
        .map(|q| {
            p.group(q, &mut buf);
            let m = buf.iter().fold(f64::NEG_INFINITY, |a, &i| fmax(a, v[i]));
            if m.is_nan() {
                return f64::NAN;
            }
            // An infinite maximum is shifted by 0 instead (as MLX does), so
            // all -inf gives -inf and any +inf gives +inf.
            let shift = if m.is_infinite() { 0.0 } else { m };
            let s: f64 = buf.iter().map(|&i| (v[i] - shift).exp()).sum();
            shift + s.ln()
        })
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
    let mut buf = Vec::new();
    for q in 0..p.outputs() {
        p.group(q, &mut buf);
        let m = buf.iter().fold(f64::NEG_INFINITY, |a, &i| fmax(a, v[i]));
        let mut s = 0.0;
        for &i in &buf {
            let e = (v[i] - m).exp();
            out[i] = e;
            s += e;
        }
        for &i in &buf {
            out[i] /= s;
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
    if x.shape()[axis] == 0 && p.outputs() > 0 {
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
///
/// The operand is viewed as `[outer, n, inner]`; each step along the axis
/// updates `inner` contiguous accumulators, so memory is read in order.
pub fn scan(
    op: Opcode,
    x: &Literal,
    axis: usize,
    reverse: bool,
    inclusive: bool,
    out_dt: DType,
) -> Result<Literal, String> {
    let shape = x.shape();
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let in_dt = x.dtype();
    let geo = (outer, n, inner, reverse, inclusive);
    fn run<T: Copy>(
        v: &[T],
        (outer, n, inner, reverse, inclusive): (usize, usize, usize, bool, bool),
        init: T,
        f: impl Fn(T, T) -> T,
    ) -> Vec<T> {
        let mut out = vec![init; v.len()];
        let mut acc = vec![init; inner];
        for o in 0..outer {
            acc.iter_mut().for_each(|a| *a = init);
            for step in 0..n {
                let i = if reverse { n - 1 - step } else { step };
                let base = (o * n + i) * inner;
                let (src, dst) = (&v[base..base + inner], &mut out[base..base + inner]);
                for ((a, &x), d) in acc.iter_mut().zip(src).zip(dst) {
                    let next = f(*a, x);
                    *d = if inclusive { next } else { *a };
                    *a = next;
                }
            }
        }
        out
    }
    let bad = || format!("`{op}` is not defined for {in_dt}");
    let out = match decode(x) {
        Data::Int(v) => Data::Int(match op {
            Opcode::Cumsum => run(&v, geo, 0, |a, b| wrap(a + b, out_dt)),
            Opcode::Cumprod => run(&v, geo, 1, |a, b| wrap(a.wrapping_mul(b), out_dt)),
            Opcode::Cummax => run(&v, geo, int_min(in_dt), |a, b| a.max(b)),
            Opcode::Cummin => run(&v, geo, int_max(in_dt), |a, b| a.min(b)),
            _ => return Err(bad()),
        }),
        Data::Float(v) => Data::Float(match op {
            Opcode::Cumsum => run(&v, geo, 0.0, |a, b| a + b),
            Opcode::Cumprod => run(&v, geo, 1.0, |a, b| a * b),
            Opcode::Cummax => run(&v, geo, f64::NEG_INFINITY, fmax),
            Opcode::Cummin => run(&v, geo, f64::INFINITY, fmin),
            Opcode::CumLogAddExp => run(&v, geo, f64::NEG_INFINITY, logaddexp),
            _ => return Err(bad()),
        }),
        Data::Complex(v) => Data::Complex(match op {
            Opcode::Cumsum => run(&v, geo, C::default(), |a, b| a + b),
            Opcode::Cumprod => run(&v, geo, C::ONE, |a, b| a * b),
            Opcode::Cummax => run(&v, geo, C::real(f64::NEG_INFINITY), |a, b| cmax(a, b, true)),
            Opcode::Cummin => run(&v, geo, C::real(f64::INFINITY), |a, b| cmax(a, b, false)),
            _ => return Err(bad()),
        }),
    };
    encode(out_dt, shape, &out)
}
