//! f64 transcendentals in f64 arithmetic, written once for two machines.
//!
//! PTX has no f64 transcendental instructions (only `rcp/sqrt/div.rn.f64`,
//! `fma.rn.f64`, conversions and integer/bit operations), so every routine
//! here is range reduction plus polynomials in those operations. Each one
//! is generic over [`F64Ops`]: the PTX emitter implements it by writing one
//! instruction a call (`psionic_codegen::cuda::ptx`), and [`Eval`] by doing
//! the same IEEE operation in Rust (`f64::mul_add` for `fma.rn.f64`, the
//! same saturating conversions, the same comparisons). The mirror tests
//! (`codegen/tests/f64_math_mirror.rs`) run [`Eval`] on millions of inputs
//! against Rust's std: they test the very operation sequence the GPU runs.
//!
//! Algorithms (constants below, Taylor coefficients computed from their
//! definitions so that none is copied by hand):
//! - `exp`: `k = rint(x log2 e)`, `r = x - k ln2` (ln2 in two parts, the
//!   first with 21 trailing zero bits), degree-13 Taylor polynomial on
//!   |r| <= ln2/2, scaling by `2^k` as two exact powers of two built from
//!   exponent bits (subnormal results round once); x clamped to
//!   [-746, 710] first (NaN passes), so overflow gives +inf and underflow 0.
//! - `log`: exponent and mantissa from the bits (subnormals scaled by 2^54
//!   first), mantissa in [sqrt(1/2), sqrt(2)), `f = m - 1` exact,
//!   `log1p(f) = 2 atanh(s)`, `s = f / (2 + f)` as a head and tail, the
//!   leading terms `2s + 2s^3/3` in double-f64, the rest by Taylor in s^2;
//!   `k ln2` added in double-f64. The result is a head and tail good to
//!   about 2^-63 relative: `log2`/`log10` multiply it by a two-part
//!   constant, `pow` multiplies it by y in double-f64.
//! - `sin`/`cos`/`tan`: Cody–Waite reduction by pi/2 in three parts with a
//!   double-f64 remainder, Taylor polynomials to r^19 / r^18.
//! - `atan`: fdlibm's reduction (breakpoints 7/16, 11/16, 19/16, 39/16,
//!   the breakpoint's atan in two parts) and its degree-21 odd minimax
//!   polynomial; `atan2`, `asin`, `acos` from it (see each function).
//! - the rest composed from those (see each function).

use std::f64::consts::{FRAC_2_PI, LN_2, LOG2_E};

/// ln 2 in two parts; the first has 21 trailing zero bits so that `k *
/// LN2_HI` is exact for |k| < 2^21 (fdlibm's split).
pub const LN2_HI: f64 = 6.931_471_803_691_238e-1;
pub const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// pi/2 = PIO2_1 + PIO2_2 + PIO2_3 to about 2^-160.
pub const PIO2_1: f64 = std::f64::consts::FRAC_PI_2;
pub const PIO2_2: f64 = 6.123_233_995_736_766e-17;
pub const PIO2_3: f64 = -1.497_384_904_859_169_8e-33;
/// 1/ln 2 and 1/ln 10 in two parts.
pub const INV_LN2_HI: f64 = LOG2_E;
pub const INV_LN2_LO: f64 = 2.035_527_374_093_103_3e-17;
pub const INV_LN10_HI: f64 = std::f64::consts::LOG10_E;
pub const INV_LN10_LO: f64 = 1.098_319_650_216_765e-17;
/// 2/3 in two parts.
pub const TWO_THIRDS_HI: f64 = 2.0 / 3.0;
pub const TWO_THIRDS_LO: f64 = 3.700_743_415_417_188e-17;
/// exp's argument clamp: beyond it the result is inf or 0 anyway, and
/// `k` stays where `2^(k/2)` is a normal number.
pub const EXP_MAX: f64 = 710.0;
pub const EXP_MIN: f64 = -746.0;

/// The f64 edge values the routines are checked at on the device
/// (`runtime/tests/cuda_device.rs`) and, with the device's tolerance, in
/// the mirror test: zeros of both signs, infinities, NaN, the range ends,
/// subnormals, exp's overflow (709.78) and underflow (-745.13) thresholds,
/// sinh/cosh past 710, arguments near 1 for the logs and inverse
/// hyperbolics, large trig arguments inside the reduction's domain.
pub const EDGE_VALUES: [f64; 37] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    1e-310,
    1e-300,
    -1e-20,
    709.78,
    709.79,
    710.4,
    710.5,
    -708.4,
    -745.1,
    -745.2,
    -40.5,
    40.5,
    22.5,
    0.34,
    -0.35,
    0.5,
    1.0 + 1e-15,
    1.0 - 1e-16,
    -0.999_999_999_999,
    1.0,
    -1.0,
    2.0,
    3.0,
    1.0e4,
    1.0e6,
    355.0,
    1e300,
];

/// 1/n! for n in `from..=to`, with alternating signs when `alt`.
fn inv_fact(from: u32, to: u32, step: u32, alt: bool) -> Vec<f64> {
    let mut v = Vec::new();
    let mut n = from;
    let mut sign = 1.0;
    while n <= to {
        let f: f64 = (1..=n).map(|i| i as f64).product();
        v.push(sign / f);
        if alt {
            sign = -sign;
        }
        n += step;
    }
    v
}

/// exp(r) - 1 - r = r^2 (1/2! + r/3! + ... + r^12/14!): |r| <= ln2/2
/// (also used by exp, which needs the terms to 1/13!).
pub fn expm1_coefs() -> Vec<f64> {
    inv_fact(2, 14, 1, false)
}
/// sin r = r + r^3 (-1/3! + r^2/5! - ... - r^16/19!).
pub fn sin_coefs() -> Vec<f64> {
    inv_fact(3, 19, 2, true).into_iter().map(|c| -c).collect()
}
/// cos r = 1 - r^2/2 + r^4 (1/4! - r^2/6! + ... + r^14/18!).
pub fn cos_coefs() -> Vec<f64> {
    inv_fact(4, 18, 2, true)
}
/// 2 atanh(s) - 2s - 2s^3/3 = s^5 (2/5 + 2 s^2/7 + ... + 2 s^18/23).
pub fn atanh_coefs() -> Vec<f64> {
    (2..=11).map(|n| 2.0 / (2 * n + 1) as f64).collect()
}

/// tanh x = x + x^3 (a_1 + a_2 x^2 + ... + a_17 x^32), the Taylor
/// coefficients from tanh' = 1 - tanh^2: (2k + 1) a_k = -sum_{i+j=k-1}
/// a_i a_j, a_0 = 1 (|x| <= 1/2: the terms past a_17 are below 2^-56).
pub fn tanh_coefs() -> Vec<f64> {
    let mut a = vec![1.0f64];
    for k in 1..=17usize {
        let s: f64 = (0..k).map(|i| a[i] * a[k - 1 - i]).sum();
        a.push(-s / (2 * k + 1) as f64);
    }
    a.remove(0);
    a
}

/// Float comparisons (ordered: false when either operand is NaN, except
/// `Nan`, true when either is) and signed 64-bit integer comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Nan,
}

impl Cmp {
    pub fn ptx(self) -> &'static str {
        match self {
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Nan => "nan",
        }
    }
}

/// The operations the routines are written in: each is one PTX
/// instruction (named in its doc) and one IEEE operation in [`Eval`].
/// Constants (`k`, `ik`) are immediates in PTX: the routines never give a
/// constant to a unary operation; Horner's first step is `fma.rn.f64 d,
/// imm, r, imm`, the form the f32 routines have always used.
pub trait F64Ops {
    type D: Clone;
    type I: Clone;
    type P: Clone;
    fn k(&mut self, v: f64) -> Self::D;
    fn ik(&mut self, v: i64) -> Self::I;
    /// `add.rn.f64`
    fn add(&mut self, a: &Self::D, b: &Self::D) -> Self::D;
    /// `sub.rn.f64`
    fn sub(&mut self, a: &Self::D, b: &Self::D) -> Self::D;
    /// `mul.rn.f64`
    fn mul(&mut self, a: &Self::D, b: &Self::D) -> Self::D;
    /// `div.rn.f64`
    fn div(&mut self, a: &Self::D, b: &Self::D) -> Self::D;
    /// `fma.rn.f64`: a * b + c, rounded once.
    fn fma(&mut self, a: &Self::D, b: &Self::D, c: &Self::D) -> Self::D;
    /// `sqrt.rn.f64`
    fn sqrt(&mut self, a: &Self::D) -> Self::D;
    /// `neg.f64`
    fn neg(&mut self, a: &Self::D) -> Self::D;
    /// `abs.f64`
    fn abs(&mut self, a: &Self::D) -> Self::D;
    /// `cvt.rni.f64.f64`: nearest integer, ties to even.
    fn rni(&mut self, a: &Self::D) -> Self::D;
    /// `cvt.rzi.f64.f64`: toward zero.
    fn trunc(&mut self, a: &Self::D) -> Self::D;
    /// `copysign.f64 d, sign, mag`: |mag| with the sign of `sign`.
    fn copysign(&mut self, mag: &Self::D, sign: &Self::D) -> Self::D;
    /// `setp.<c>.f64`
    fn cmp(&mut self, c: Cmp, a: &Self::D, b: &Self::D) -> Self::P;
    /// `selp.f64`: a where p, else b.
    fn sel(&mut self, p: &Self::P, a: &Self::D, b: &Self::D) -> Self::D;
    /// `and.pred`
    fn and(&mut self, a: &Self::P, b: &Self::P) -> Self::P;
    /// `or.pred`
    fn or(&mut self, a: &Self::P, b: &Self::P) -> Self::P;
    /// `not.pred`
    fn not(&mut self, a: &Self::P) -> Self::P;
    /// `mov.b64 %rd, %fd`
    fn bits(&mut self, a: &Self::D) -> Self::I;
    /// `mov.b64 %fd, %rd`
    fn bits_to_f64(&mut self, a: &Self::I) -> Self::D;
    /// `cvt.rni.s64.f64` (saturating, NaN to 0).
    fn to_int(&mut self, a: &Self::D) -> Self::I;
    /// `cvt.rn.f64.s64`
    fn i2d(&mut self, a: &Self::I) -> Self::D;
    /// `add.s64` (wrapping)
    fn iadd(&mut self, a: &Self::I, b: &Self::I) -> Self::I;
    /// `sub.s64` (wrapping)
    fn isub(&mut self, a: &Self::I, b: &Self::I) -> Self::I;
    /// `and.b64`
    fn iand(&mut self, a: &Self::I, b: &Self::I) -> Self::I;
    /// `or.b64`
    fn ior(&mut self, a: &Self::I, b: &Self::I) -> Self::I;
    /// `shl.b64`
    fn shl(&mut self, a: &Self::I, n: u32) -> Self::I;
    /// `shr.s64` (arithmetic)
    fn sar(&mut self, a: &Self::I, n: u32) -> Self::I;
    /// `shr.u64` (logical)
    fn shr(&mut self, a: &Self::I, n: u32) -> Self::I;
    /// `setp.<c>.s64`
    fn icmp(&mut self, c: Cmp, a: &Self::I, b: &Self::I) -> Self::P;
    /// `selp.b64`
    fn isel(&mut self, p: &Self::P, a: &Self::I, b: &Self::I) -> Self::I;
}

/// The operations evaluated in Rust, exactly as the GPU does them.
pub struct Eval;

impl F64Ops for Eval {
    type D = f64;
    type I = i64;
    type P = bool;
    fn k(&mut self, v: f64) -> f64 {
        v
    }
    fn ik(&mut self, v: i64) -> i64 {
        v
    }
    fn add(&mut self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn sub(&mut self, a: &f64, b: &f64) -> f64 {
        a - b
    }
    fn mul(&mut self, a: &f64, b: &f64) -> f64 {
        a * b
    }
    fn div(&mut self, a: &f64, b: &f64) -> f64 {
        a / b
    }
    fn fma(&mut self, a: &f64, b: &f64, c: &f64) -> f64 {
        a.mul_add(*b, *c)
    }
    fn sqrt(&mut self, a: &f64) -> f64 {
        a.sqrt()
    }
    fn neg(&mut self, a: &f64) -> f64 {
        -a
    }
    fn abs(&mut self, a: &f64) -> f64 {
        a.abs()
    }
    fn rni(&mut self, a: &f64) -> f64 {
        a.round_ties_even()
    }
    fn trunc(&mut self, a: &f64) -> f64 {
        a.trunc()
    }
    fn copysign(&mut self, mag: &f64, sign: &f64) -> f64 {
        mag.copysign(*sign)
    }
    fn cmp(&mut self, c: Cmp, a: &f64, b: &f64) -> bool {
        let (a, b) = (*a, *b);
        match c {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => !a.is_nan() && !b.is_nan() && a != b,
            Cmp::Nan => a.is_nan() || b.is_nan(),
        }
    }
    fn sel(&mut self, p: &bool, a: &f64, b: &f64) -> f64 {
        if *p {
            *a
        } else {
            *b
        }
    }
    fn and(&mut self, a: &bool, b: &bool) -> bool {
        *a && *b
    }
    fn or(&mut self, a: &bool, b: &bool) -> bool {
        *a || *b
    }
    fn not(&mut self, a: &bool) -> bool {
        !*a
    }
    fn bits(&mut self, a: &f64) -> i64 {
        a.to_bits() as i64
    }
    fn bits_to_f64(&mut self, a: &i64) -> f64 {
        f64::from_bits(*a as u64)
    }
    fn to_int(&mut self, a: &f64) -> i64 {
        a.round_ties_even() as i64
    }
    fn i2d(&mut self, a: &i64) -> f64 {
        *a as f64
    }
    fn iadd(&mut self, a: &i64, b: &i64) -> i64 {
        a.wrapping_add(*b)
    }
    fn isub(&mut self, a: &i64, b: &i64) -> i64 {
        a.wrapping_sub(*b)
    }
    fn iand(&mut self, a: &i64, b: &i64) -> i64 {
        a & b
    }
    fn ior(&mut self, a: &i64, b: &i64) -> i64 {
        a | b
    }
    fn shl(&mut self, a: &i64, n: u32) -> i64 {
        a.wrapping_shl(n)
    }
    fn sar(&mut self, a: &i64, n: u32) -> i64 {
        a >> n
    }
    fn shr(&mut self, a: &i64, n: u32) -> i64 {
        ((*a as u64) >> n) as i64
    }
    fn icmp(&mut self, c: Cmp, a: &i64, b: &i64) -> bool {
        match c {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Nan => false,
        }
    }
    fn isel(&mut self, p: &bool, a: &i64, b: &i64) -> i64 {
        if *p {
            *a
        } else {
            *b
        }
    }
}

/// c[0] + x (c[1] + x (...)) with fma.
fn horner<M: F64Ops>(m: &mut M, x: &M::D, c: &[f64]) -> M::D {
    let last = m.k(c[c.len() - 1]);
    let mut acc = m.k(c[c.len() - 2]);
    acc = m.fma(&last, x, &acc);
    for &ci in c[..c.len() - 2].iter().rev() {
        let k = m.k(ci);
        acc = m.fma(&acc, x, &k);
    }
    acc
}

/// 2^k for k in [-1022, 1023] from exponent bits.
fn pow2<M: F64Ops>(m: &mut M, k: &M::I) -> M::D {
    let bias = m.ik(1023);
    let e = m.iadd(k, &bias);
    let b = m.shl(&e, 52);
    m.bits_to_f64(&b)
}

/// (s, e) with s + e = a + b exactly (Knuth's two-sum).
fn two_sum<M: F64Ops>(m: &mut M, a: &M::D, b: &M::D) -> (M::D, M::D) {
    let s = m.add(a, b);
    let bb = m.sub(&s, a);
    let ab = m.sub(&s, &bb);
    let da = m.sub(a, &ab);
    let db = m.sub(b, &bb);
    let e = m.add(&da, &db);
    (s, e)
}

/// (s, e) with s + e = a + b exactly when |a| >= |b| (or a = 0).
fn fast_two_sum<M: F64Ops>(m: &mut M, a: &M::D, b: &M::D) -> (M::D, M::D) {
    let s = m.add(a, b);
    let d = m.sub(&s, a);
    let e = m.sub(b, &d);
    (s, e)
}

/// `v` where `x` is ±0 (keeps the sign of zero for odd functions), else `r`.
fn keep_zero<M: F64Ops>(m: &mut M, x: &M::D, r: &M::D) -> M::D {
    let z = m.k(0.0);
    let p = m.cmp(Cmp::Eq, x, &z);
    m.sel(&p, x, r)
}

/// e^(x + tail), `tail` a small correction (|tail| << 1) or none.
pub fn exp_tail<M: F64Ops>(m: &mut M, x: &M::D, tail: Option<&M::D>) -> M::D {
    let hi = m.k(EXP_MAX);
    let lo = m.k(EXP_MIN);
    let p = m.cmp(Cmp::Gt, x, &hi);
    let x = m.sel(&p, &hi, x);
    let p = m.cmp(Cmp::Lt, &x, &lo);
    let x = m.sel(&p, &lo, &x);
    let l2e = m.k(LOG2_E);
    let t = m.mul(&x, &l2e);
    let kd = m.rni(&t);
    let nk = m.neg(&kd);
    let c = m.k(LN2_HI);
    let r = m.fma(&nk, &c, &x);
    let c = m.k(LN2_LO);
    let mut r = m.fma(&nk, &c, &r);
    if let Some(t) = tail {
        r = m.add(&r, t);
    }
    // e^r = 1 + r + r^2 q(r).
    let q = horner(m, &r, &expm1_coefs()[..12]);
    let one = m.k(1.0);
    let r2 = m.mul(&r, &r);
    let e = m.fma(&r2, &q, &r);
    let y = m.add(&one, &e);
    let ki = m.to_int(&kd);
    let k1 = m.sar(&ki, 1);
    let k2 = m.isub(&ki, &k1);
    let s1 = pow2(m, &k1);
    let s2 = pow2(m, &k2);
    let y = m.mul(&y, &s1);
    m.mul(&y, &s2)
}

pub fn exp<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    exp_tail(m, x, None)
}

/// e^x - 1: Taylor on |x| <= ln2/2 (exact near 0); else `2^k (e^r - 1) +
/// (2^k - 1)` with one rounding, -1 below -40, e^x above 40.
pub fn expm1<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let c = expm1_coefs();
    // Near zero.
    let q = horner(m, x, &c);
    let x2 = m.mul(x, x);
    let small = m.fma(&x2, &q, x);
    let small = keep_zero(m, x, &small);
    // Reduced.
    let l2e = m.k(LOG2_E);
    let t = m.mul(x, &l2e);
    let kd = m.rni(&t);
    let nk = m.neg(&kd);
    let hi = m.k(LN2_HI);
    let r1 = m.fma(&nk, &hi, x);
    let lo = m.k(LN2_LO);
    let r = m.fma(&nk, &lo, &r1);
    // The reduction's rounding error: r1 - r is exact.
    let d = m.sub(&r1, &r);
    let rl = m.fma(&nk, &lo, &d);
    let q = horner(m, &r, &c);
    let r2 = m.mul(&r, &r);
    // e^(r + rl) - 1 = r + (r^2 q + rl (1 + r)).
    let t = m.fma(&rl, &r, &rl);
    let u = m.fma(&r2, &q, &t);
    let ki = m.to_int(&kd);
    let s = pow2(m, &ki);
    let one = m.k(1.0);
    let sm1 = m.sub(&s, &one);
    let w = m.fma(&s, &r, &sm1);
    let mid = m.fma(&s, &u, &w);
    let big = exp(m, x);
    let ax = m.abs(x);
    let lim = m.k(0.5 * LN_2);
    let p = m.cmp(Cmp::Le, &ax, &lim);
    let v = m.sel(&p, &small, &mid);
    let k40 = m.k(40.0);
    let p = m.cmp(Cmp::Gt, x, &k40);
    let v = m.sel(&p, &big, &v);
    let km40 = m.k(-40.0);
    let p = m.cmp(Cmp::Lt, x, &km40);
    let m1 = m.k(-1.0);
    m.sel(&p, &m1, &v)
}

/// log(x) as head + tail for finite x > 0 (other inputs give garbage: the
/// callers select their special values).
pub fn log_dd<M: F64Ops>(m: &mut M, x: &M::D) -> (M::D, M::D) {
    // Subnormals: scale by 2^54 first.
    let tiny = m.k(f64::MIN_POSITIVE);
    let sub = m.cmp(Cmp::Lt, x, &tiny);
    let s54 = m.k(18_014_398_509_481_984.0);
    let xs = m.mul(x, &s54);
    let xs = m.sel(&sub, &xs, x);
    let b = m.bits(&xs);
    let eb = m.shr(&b, 52);
    let mask = m.ik(0x000F_FFFF_FFFF_FFFF);
    let mb = m.iand(&b, &mask);
    let one_bits = m.ik(0x3FF0_0000_0000_0000);
    let mb = m.ior(&mb, &one_bits);
    let mm = m.bits_to_f64(&mb);
    // Mantissa to [sqrt(1/2), sqrt(2)).
    let sqrt2 = m.k(std::f64::consts::SQRT_2);
    let big = m.cmp(Cmp::Ge, &mm, &sqrt2);
    let half = m.k(0.5);
    let mh = m.mul(&mm, &half);
    let mm = m.sel(&big, &mh, &mm);
    let bias_big = m.ik(-1022);
    let bias = m.ik(-1023);
    let bias = m.isel(&big, &bias_big, &bias);
    let e = m.iadd(&eb, &bias);
    let e54 = m.ik(54);
    let e0 = m.ik(0);
    let adj = m.isel(&sub, &e54, &e0);
    let e = m.isub(&e, &adj);
    let kd = m.i2d(&e);
    let one = m.k(1.0);
    let f = m.sub(&mm, &one);
    // s = f / (2 + f) as sh + sl.
    let two = m.k(2.0);
    let d = m.add(&f, &two);
    let dm2 = m.sub(&d, &two);
    let dl = m.sub(&f, &dm2);
    let sh = m.div(&f, &d);
    let nsh = m.neg(&sh);
    let rho = m.fma(&nsh, &d, &f);
    let rho = m.fma(&nsh, &dl, &rho);
    let sl = m.div(&rho, &d);
    // s^3 as c + cl.
    let z = m.mul(&sh, &sh);
    let nz = m.neg(&z);
    let zl = m.fma(&sh, &sh, &nz);
    let c = m.mul(&z, &sh);
    let nc = m.neg(&c);
    let cl = m.fma(&z, &sh, &nc);
    let cl = m.fma(&zl, &sh, &cl);
    // 2s^3/3 as ah + al, with the 2 s^2 sl term of sl's share.
    let tt = m.k(TWO_THIRDS_HI);
    let ah = m.mul(&c, &tt);
    let nah = m.neg(&ah);
    let al = m.fma(&c, &tt, &nah);
    let ttl = m.k(TWO_THIRDS_LO);
    let al = m.fma(&c, &ttl, &al);
    let al = m.fma(&cl, &tt, &al);
    let z2 = m.add(&z, &z);
    let al = m.fma(&z2, &sl, &al);
    // The rest: s^5 R(s^2).
    let rc = horner(m, &z, &atanh_coefs());
    let s5 = m.mul(&c, &z);
    let rest = m.mul(&s5, &rc);
    // 2s + 2s^3/3 + rest.
    let s2h = m.add(&sh, &sh);
    let (h, e1) = fast_two_sum(m, &s2h, &ah);
    let s2l = m.add(&sl, &sl);
    let t = m.add(&al, &rest);
    let t = m.add(&s2l, &t);
    let lo = m.add(&e1, &t);
    // + k ln2.
    let l2h = m.k(LN2_HI);
    let kh = m.mul(&kd, &l2h);
    let l2l = m.k(LN2_LO);
    let kl = m.mul(&kd, &l2l);
    let (s, t) = two_sum(m, &kh, &h);
    let lo = m.add(&kl, &lo);
    let lo = m.add(&t, &lo);
    fast_two_sum(m, &s, &lo)
}

/// `r` with log's special values: -inf at ±0, NaN below 0 and at NaN,
/// +inf at +inf.
fn log_specials<M: F64Ops>(m: &mut M, x: &M::D, r: &M::D) -> M::D {
    let inf = m.k(f64::INFINITY);
    let p = m.cmp(Cmp::Eq, x, &inf);
    let r = m.sel(&p, &inf, r);
    let z = m.k(0.0);
    let p = m.cmp(Cmp::Eq, x, &z);
    let ninf = m.k(f64::NEG_INFINITY);
    let r = m.sel(&p, &ninf, &r);
    let neg = m.cmp(Cmp::Lt, x, &z);
    let nan = m.cmp(Cmp::Nan, x, x);
    let p = m.or(&neg, &nan);
    let qnan = m.k(f64::NAN);
    m.sel(&p, &qnan, &r)
}

pub fn log<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let (h, _) = log_dd(m, x);
    log_specials(m, x, &h)
}

/// log(x) * (ch + cl) from the double-f64 log.
fn log_scaled<M: F64Ops>(m: &mut M, x: &M::D, ch: f64, cl: f64) -> M::D {
    let (h, l) = log_dd(m, x);
    let ch = m.k(ch);
    let cl = m.k(cl);
    let p = m.mul(&h, &ch);
    let np = m.neg(&p);
    let e = m.fma(&h, &ch, &np);
    let e = m.fma(&h, &cl, &e);
    let e = m.fma(&l, &ch, &e);
    let r = m.add(&p, &e);
    log_specials(m, x, &r)
}

pub fn log2<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    log_scaled(m, x, INV_LN2_HI, INV_LN2_LO)
}

pub fn log10<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    log_scaled(m, x, INV_LN10_HI, INV_LN10_LO)
}

/// log(1 + x) = log(u) + c/u with u = 1 + x rounded and c its exact error.
pub fn log1p<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let one = m.k(1.0);
    let u = m.add(x, &one);
    // Fast two-sum error of 1 + x, the larger operand first.
    let um1 = m.sub(&u, &one);
    let c1 = m.sub(x, &um1);
    let umx = m.sub(&u, x);
    let c2 = m.sub(&one, &umx);
    let ax = m.abs(x);
    let p = m.cmp(Cmp::Le, &ax, &one);
    let c = m.sel(&p, &c1, &c2);
    let (h, l) = log_dd(m, &u);
    let cu = m.div(&c, &u);
    let l = m.add(&l, &cu);
    let r = m.add(&h, &l);
    // Specials as log's at u, with x = inf (where c is NaN) and ±0.
    let r = log_specials(m, &u, &r);
    let inf = m.k(f64::INFINITY);
    let p = m.cmp(Cmp::Eq, x, &inf);
    let r = m.sel(&p, &inf, &r);
    let m1 = m.k(-1.0);
    let p = m.cmp(Cmp::Lt, x, &m1);
    let qnan = m.k(f64::NAN);
    let r = m.sel(&p, &qnan, &r);
    keep_zero(m, x, &r)
}

/// sin(r) and cos(r) of the reduced argument r = rh + rl, |r| <~ pi/4.
fn sincos_poly<M: F64Ops>(m: &mut M, rh: &M::D, rl: &M::D) -> (M::D, M::D) {
    let z = m.mul(rh, rh);
    // sin(rh + rl) = rh + rh z S(z) + rl (1 - z/2).
    let sp = horner(m, &z, &sin_coefs());
    let mhalf = m.k(-0.5);
    let one = m.k(1.0);
    let c0 = m.fma(&z, &mhalf, &one);
    let t = m.mul(rl, &c0);
    let rz = m.mul(rh, &z);
    let u = m.fma(&rz, &sp, &t);
    let s = m.add(rh, &u);
    // cos(rh + rl) = 1 - z/2 + z^2 C(z) - rh rl, with z's rounding error.
    let cp = horner(m, &z, &cos_coefs());
    let nz = m.neg(&z);
    let zl = m.fma(rh, rh, &nz);
    let half = m.k(0.5);
    let hz = m.mul(&z, &half);
    let w = m.sub(&one, &hz);
    let omw = m.sub(&one, &w);
    let corr = m.sub(&omw, &hz);
    let corr = m.fma(&zl, &mhalf, &corr);
    let zz = m.mul(&z, &z);
    let nrl = m.neg(rl);
    let tail = m.mul(rh, &nrl);
    let tail = m.fma(&zz, &cp, &tail);
    let corr = m.add(&corr, &tail);
    let c = m.add(&w, &corr);
    (s, c)
}

/// x - k pi/2 as rh + rl (three-part pi/2, double-f64 remainder) and k.
fn trig_reduce<M: F64Ops>(m: &mut M, x: &M::D) -> (M::D, M::D, M::I) {
    let tpi = m.k(FRAC_2_PI);
    let t = m.mul(x, &tpi);
    let kd = m.rni(&t);
    let nk = m.neg(&kd);
    let p1 = m.k(PIO2_1);
    // Exact: k P1 and x are multiples of 2^-53 (or of a coarser power),
    // and the difference is below 1.
    let r1 = m.fma(&nk, &p1, x);
    let p2 = m.k(PIO2_2);
    let th = m.mul(&kd, &p2);
    let nth = m.neg(&th);
    let tl = m.fma(&kd, &p2, &nth);
    let (r2, e2) = two_sum(m, &r1, &nth);
    let e = m.sub(&e2, &tl);
    let p3 = m.k(PIO2_3);
    let e = m.fma(&nk, &p3, &e);
    let (rh, rl) = fast_two_sum(m, &r2, &e);
    let q = m.to_int(&kd);
    (rh, rl, q)
}

/// sin (shift 0) or cos (shift 1) of quadrant q from sin r and cos r.
fn quadrant<M: F64Ops>(m: &mut M, s: &M::D, c: &M::D, q: &M::I, shift: i64) -> M::D {
    let sh = m.ik(shift);
    let qq = m.iadd(q, &sh);
    let one = m.ik(1);
    let two = m.ik(2);
    let zero = m.ik(0);
    let b0 = m.iand(&qq, &one);
    let b1 = m.iand(&qq, &two);
    let p0 = m.icmp(Cmp::Ne, &b0, &zero);
    let p1 = m.icmp(Cmp::Ne, &b1, &zero);
    let v = m.sel(&p0, c, s);
    let nv = m.neg(&v);
    m.sel(&p1, &nv, &v)
}

pub fn sin<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let (rh, rl, q) = trig_reduce(m, x);
    let (s, c) = sincos_poly(m, &rh, &rl);
    let v = quadrant(m, &s, &c, &q, 0);
    keep_zero(m, x, &v)
}

pub fn cos<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let (rh, rl, q) = trig_reduce(m, x);
    let (s, c) = sincos_poly(m, &rh, &rl);
    quadrant(m, &s, &c, &q, 1)
}

pub fn tan<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let (rh, rl, q) = trig_reduce(m, x);
    let (s, c) = sincos_poly(m, &rh, &rl);
    let sn = quadrant(m, &s, &c, &q, 0);
    let cs = quadrant(m, &s, &c, &q, 1);
    let v = m.div(&sn, &cs);
    keep_zero(m, x, &v)
}

/// e^|x| / 2 for |x| >= 22 as e^(|x| - ln2) (|x| - LN2_HI is exact there):
/// finite up to where the result overflows.
fn half_exp<M: F64Ops>(m: &mut M, ax: &M::D) -> M::D {
    let l2h = m.k(LN2_HI);
    let xh = m.sub(ax, &l2h);
    let nl = m.k(-LN2_LO);
    exp_tail(m, &xh, Some(&nl))
}

/// tanh x: Taylor for |x| <= 1/2, else sign(x) t / (t + 2) with t =
/// expm1(2|x|); 1 past |x| = 22.
pub fn tanh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let x2 = m.mul(x, x);
    let p = horner(m, &x2, &tanh_coefs());
    let x3 = m.mul(&x2, x);
    let small = m.fma(&x3, &p, x);
    let ax = m.abs(x);
    let a2 = m.add(&ax, &ax);
    let t = expm1(m, &a2);
    // y = t / (t + 2) corrected by the exact residual of the division and
    // of t + 2: only t's error remains (damped by 2 / (t + 2) <= 1).
    let two = m.k(2.0);
    let (d, dl) = two_sum(m, &t, &two);
    let y = m.div(&t, &d);
    let ny = m.neg(&y);
    let rho = m.fma(&ny, &d, &t);
    let rho = m.fma(&ny, &dl, &rho);
    let c = m.div(&rho, &d);
    let y = m.add(&y, &c);
    let k22 = m.k(22.0);
    let big = m.cmp(Cmp::Gt, &ax, &k22);
    let one = m.k(1.0);
    let y = m.sel(&big, &one, &y);
    let y = m.copysign(&y, x);
    let half = m.k(0.5);
    let p = m.cmp(Cmp::Le, &ax, &half);
    m.sel(&p, &small, &y)
}

/// sinh |x| = t - t^2 / (2 (t + 1)) (|x| < 1) or (t + t / (t + 1)) / 2,
/// t = expm1(|x|); e^|x| / 2 from 22 on.
pub fn sinh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let t = expm1(m, &ax);
    let one = m.k(1.0);
    let t1 = m.add(&t, &one);
    let q = m.div(&t, &t1);
    let mhalf = m.k(-0.5);
    let ht = m.mul(&t, &mhalf);
    let small = m.fma(&ht, &q, &t);
    let s = m.add(&t, &q);
    let half = m.k(0.5);
    let mid = m.mul(&s, &half);
    let p = m.cmp(Cmp::Lt, &ax, &one);
    let v = m.sel(&p, &small, &mid);
    let big = half_exp(m, &ax);
    let k22 = m.k(22.0);
    let p = m.cmp(Cmp::Ge, &ax, &k22);
    let v = m.sel(&p, &big, &v);
    m.copysign(&v, x)
}

/// cosh x = (e + 1/e) / 2, e = e^|x|; e^|x| / 2 from 22 on.
pub fn cosh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let e = exp(m, &ax);
    let half = m.k(0.5);
    let ie = m.div(&half, &e);
    let v = m.fma(&half, &e, &ie);
    let big = half_exp(m, &ax);
    let k22 = m.k(22.0);
    let p = m.cmp(Cmp::Ge, &ax, &k22);
    m.sel(&p, &big, &v)
}

/// 1 / (1 + e^-x), as the interpreter.
pub fn sigmoid<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let nx = m.neg(x);
    let e = exp(m, &nx);
    let one = m.k(1.0);
    let d = m.add(&e, &one);
    m.div(&one, &d)
}

/// max + log1p(e^-|a - b|); NaN if either is NaN; an infinite maximum is
/// the answer (as the interpreter).
pub fn logaddexp<M: F64Ops>(m: &mut M, a: &M::D, b: &M::D) -> M::D {
    let p = m.cmp(Cmp::Gt, a, b);
    let mx = m.sel(&p, a, b);
    let d = m.sub(a, b);
    let ad = m.abs(&d);
    let nd = m.neg(&ad);
    let e = exp(m, &nd);
    let l = log1p(m, &e);
    let r = m.add(&mx, &l);
    let am = m.abs(&mx);
    let inf = m.k(f64::INFINITY);
    let p = m.cmp(Cmp::Eq, &am, &inf);
    let r = m.sel(&p, &mx, &r);
    let p = m.cmp(Cmp::Nan, a, b);
    let qnan = m.k(f64::NAN);
    m.sel(&p, &qnan, &r)
}

/// a^b = e^(b log|a|) with log|a| in double-f64 and the product b log|a|
/// as head + tail, signs and special values as C's pow (Rust's powf).
pub fn pow<M: F64Ops>(m: &mut M, a: &M::D, b: &M::D) -> M::D {
    let ax = m.abs(a);
    let (lh, ll) = log_dd(m, &ax);
    let z = m.k(0.0);
    let inf = m.k(f64::INFINITY);
    let ninf = m.k(f64::NEG_INFINITY);
    let p = m.cmp(Cmp::Eq, &ax, &z);
    let lh = m.sel(&p, &ninf, &lh);
    let ll = m.sel(&p, &z, &ll);
    let p = m.cmp(Cmp::Eq, &ax, &inf);
    let lh = m.sel(&p, &inf, &lh);
    let ll = m.sel(&p, &z, &ll);
    let ph = m.mul(b, &lh);
    let nph = m.neg(&ph);
    let pl = m.fma(b, &lh, &nph);
    let pl = m.fma(b, &ll, &pl);
    // No tail where the product is far out of exp's range (the error term
    // of a huge product is huge, of an infinite one NaN): e^ph is 0 or
    // inf there anyway.
    let aph = m.abs(&ph);
    let lim = m.k(1024.0);
    let fin = m.cmp(Cmp::Lt, &aph, &lim);
    let pl = m.sel(&fin, &pl, &z);
    let y = exp_tail(m, &ph, Some(&pl));
    // Odd integer b: the sign of a. Negative finite a, b not an integer: NaN.
    let bi = m.trunc(b);
    let isint = m.cmp(Cmp::Eq, &bi, b);
    let half = m.k(0.5);
    let hb = m.mul(b, &half);
    let hbi = m.trunc(&hb);
    let even = m.cmp(Cmp::Eq, &hbi, &hb);
    let noteven = m.not(&even);
    let odd = m.and(&isint, &noteven);
    let abits = m.bits(a);
    let i0 = m.ik(0);
    let aneg = m.icmp(Cmp::Lt, &abits, &i0);
    let flip = m.and(&odd, &aneg);
    let ny = m.neg(&y);
    let r = m.sel(&flip, &ny, &y);
    let lt0 = m.cmp(Cmp::Lt, a, &z);
    let afin = m.cmp(Cmp::Gt, a, &ninf);
    let negfin = m.and(&lt0, &afin);
    let notint = m.not(&isint);
    let p = m.and(&negfin, &notint);
    let qnan = m.k(f64::NAN);
    let r = m.sel(&p, &qnan, &r);
    let p = m.cmp(Cmp::Nan, a, b);
    let r = m.sel(&p, &qnan, &r);
    // 1 at b = ±0, a = 1, and a = -1 with b = ±inf.
    let one = m.k(1.0);
    let mone = m.k(-1.0);
    let b0 = m.cmp(Cmp::Eq, b, &z);
    let a1 = m.cmp(Cmp::Eq, a, &one);
    let am1 = m.cmp(Cmp::Eq, a, &mone);
    let abs_b = m.abs(b);
    let binf = m.cmp(Cmp::Eq, &abs_b, &inf);
    let m1inf = m.and(&am1, &binf);
    let p = m.or(&b0, &a1);
    let p = m.or(&p, &m1inf);
    m.sel(&p, &one, &r)
}

/// log(2 |x|) for |x| >= 2^28 (asinh, acosh there): the double-f64 log
/// plus ln 2, one rounding.
fn log_2x<M: F64Ops>(m: &mut M, ax: &M::D) -> M::D {
    let (h, l) = log_dd(m, ax);
    let l2 = m.k(LN_2);
    let t = m.add(&l2, &l);
    let r = m.add(&h, &t);
    log_specials(m, ax, &r)
}

/// asinh x = sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2))); log(2|x|)
/// from 2^28 on (where x^2 would overflow, or 1 is lost beside it).
pub fn asinh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let one = m.k(1.0);
    let a2 = m.mul(&ax, &ax);
    let s = m.add(&a2, &one);
    let s = m.sqrt(&s);
    let s = m.add(&s, &one);
    let q = m.div(&a2, &s);
    let u = m.add(&ax, &q);
    let y = log1p(m, &u);
    let big = log_2x(m, &ax);
    let lim = m.k(268_435_456.0);
    let p = m.cmp(Cmp::Ge, &ax, &lim);
    let y = m.sel(&p, &big, &y);
    m.copysign(&y, x)
}

/// acosh x = log1p(t + sqrt(t (t + 2))), t = x - 1 (exact near 1);
/// log(2x) from 2^28 on; NaN below 1.
pub fn acosh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let one = m.k(1.0);
    let t = m.sub(x, &one);
    let two = m.k(2.0);
    let t2 = m.add(&t, &two);
    let pr = m.mul(&t, &t2);
    let s = m.sqrt(&pr);
    let u = m.add(&t, &s);
    let y = log1p(m, &u);
    let big = log_2x(m, x);
    let lim = m.k(268_435_456.0);
    let p = m.cmp(Cmp::Ge, x, &lim);
    let y = m.sel(&p, &big, &y);
    let p = m.cmp(Cmp::Lt, x, &one);
    let qnan = m.k(f64::NAN);
    m.sel(&p, &qnan, &y)
}

/// atanh x = (log1p(x) - log1p(-x)) / 2: exact arguments near ±1.
pub fn atanh<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let nx = m.neg(x);
    let a = log1p(m, x);
    let b = log1p(m, &nx);
    let d = m.sub(&a, &b);
    let half = m.k(0.5);
    m.mul(&d, &half)
}

/// atan's odd polynomial: atan t = t - t z (c_0 + c_1 z + ... + c_10 z^10),
/// z = t^2, on |t| <= 7/16 (fdlibm's `s_atan.c` minimax coefficients
/// `aT[0..10]`, given by their bit patterns as fdlibm prints them).
pub const ATAN_COEFS: [f64; 11] = [
    f64::from_bits(0x3FD5_5555_5555_550D),
    f64::from_bits(0xBFC9_9999_9998_EBC4),
    f64::from_bits(0x3FC2_4924_9200_83FF),
    f64::from_bits(0xBFBC_71C6_FE23_1671),
    f64::from_bits(0x3FB7_45CD_C54C_206E),
    f64::from_bits(0xBFB3_B0F2_AF74_9A6D),
    f64::from_bits(0x3FB1_0D66_A0D0_3D51),
    f64::from_bits(0xBFAD_DE2D_52DE_FD9A),
    f64::from_bits(0x3FA9_7B4B_2476_0DEB),
    f64::from_bits(0xBFA2_B444_2C6A_6C2F),
    f64::from_bits(0x3F90_AD3A_E322_DA11),
];
/// atan(1/2), atan(1), atan(3/2), atan(inf) as head + tail (fdlibm's
/// `atanhi`/`atanlo`; the mirror test checks the heads against std).
pub const ATAN_HI: [f64; 4] = [
    f64::from_bits(0x3FDD_AC67_0561_BB4F),
    f64::from_bits(0x3FE9_21FB_5444_2D18),
    f64::from_bits(0x3FEF_730B_D281_F69B),
    f64::from_bits(0x3FF9_21FB_5444_2D18),
];
pub const ATAN_LO: [f64; 4] = [
    f64::from_bits(0x3C7A_2B7F_222F_65E2),
    f64::from_bits(0x3C81_A626_3314_5C07),
    f64::from_bits(0x3C70_0788_7AF0_CBBD),
    f64::from_bits(0x3C91_A626_3314_5C07),
];
/// pi = PI_HI + PI_LO (PI_LO = 2 PIO2_2).
pub const PI_HI: f64 = std::f64::consts::PI;
pub const PI_LO: f64 = 1.224_646_799_147_353_2e-16;

/// atan q for q >= 0 (+inf and NaN included; NaN gives NaN): fdlibm's
/// reduction, t = q (q < 7/16), (2q - 1)/(2 + q) around 1/2 (< 11/16),
/// (q - 1)/(q + 1) around 1 (< 19/16), (q - 3/2)/(1 + 3q/2) around 3/2
/// (< 39/16), -1/q beyond (NaN falls there); then
/// `hi - ((t z P(z) - lo) - t)` with the breakpoint's atan as hi + lo
/// (0 + 0 for the first interval): one division, one polynomial.
fn atan_pos<M: F64Ops>(m: &mut M, q: &M::D) -> M::D {
    let one = m.k(1.0);
    let two = m.k(2.0);
    let onehalf = m.k(1.5);
    // Candidates, from the last interval back to the first.
    let mone = m.k(-1.0);
    let n2 = m.sub(q, &onehalf);
    let d2 = m.fma(q, &onehalf, &one);
    let n1 = m.sub(q, &one);
    let d1 = m.add(q, &one);
    let q2 = m.add(q, q);
    let n0 = m.sub(&q2, &one);
    let d0 = m.add(q, &two);
    let z = m.k(0.0);
    let b = m.k(39.0 / 16.0);
    let p = m.cmp(Cmp::Lt, q, &b);
    let num = m.sel(&p, &n2, &mone);
    let den = m.sel(&p, &d2, q);
    let hi3 = m.k(ATAN_HI[3]);
    let hi2 = m.k(ATAN_HI[2]);
    let hi = m.sel(&p, &hi2, &hi3);
    let lo3 = m.k(ATAN_LO[3]);
    let lo2 = m.k(ATAN_LO[2]);
    let lo = m.sel(&p, &lo2, &lo3);
    let b = m.k(19.0 / 16.0);
    let p = m.cmp(Cmp::Lt, q, &b);
    let num = m.sel(&p, &n1, &num);
    let den = m.sel(&p, &d1, &den);
    let c = m.k(ATAN_HI[1]);
    let hi = m.sel(&p, &c, &hi);
    let c = m.k(ATAN_LO[1]);
    let lo = m.sel(&p, &c, &lo);
    let b = m.k(11.0 / 16.0);
    let p = m.cmp(Cmp::Lt, q, &b);
    let num = m.sel(&p, &n0, &num);
    let den = m.sel(&p, &d0, &den);
    let c = m.k(ATAN_HI[0]);
    let hi = m.sel(&p, &c, &hi);
    let c = m.k(ATAN_LO[0]);
    let lo = m.sel(&p, &c, &lo);
    let b = m.k(7.0 / 16.0);
    let p = m.cmp(Cmp::Lt, q, &b);
    let num = m.sel(&p, q, &num);
    let den = m.sel(&p, &one, &den);
    let hi = m.sel(&p, &z, &hi);
    let lo = m.sel(&p, &z, &lo);
    let t = m.div(&num, &den);
    let tz = m.mul(&t, &t);
    let pz = horner(m, &tz, &ATAN_COEFS);
    let s = m.mul(&tz, &pz);
    let ts = m.mul(&t, &s);
    let u = m.sub(&ts, &lo);
    let u = m.sub(&u, &t);
    m.sub(&hi, &u)
}

/// pi - z with pi in two parts.
fn pi_minus<M: F64Ops>(m: &mut M, z: &M::D) -> M::D {
    let lo = m.k(PI_LO);
    let u = m.sub(z, &lo);
    let hi = m.k(PI_HI);
    m.sub(&hi, &u)
}

/// atan x = sign(x) atan|x| (keeps the sign of zero; NaN passes).
pub fn atan<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let r = atan_pos(m, &ax);
    m.copysign(&r, x)
}

/// atan2(y, x) as C's (Rust's `f64::atan2`): z = atan(|y|/|x|), pi - z
/// for x < 0, the sign of y. Special values: y = ±0 gives ±0 (x with the
/// sign bit clear) or ±pi (sign bit set); x = ±0 or y = ±inf gives ±pi/2,
/// x = ±inf with finite y gives ±0 or ±pi (all of those through the same
/// path, the quotient being 0 or inf); both infinite gives ±pi/4 or
/// ±3pi/4; NaN in either gives NaN.
pub fn atan2<M: F64Ops>(m: &mut M, y: &M::D, x: &M::D) -> M::D {
    let ay = m.abs(y);
    let ax = m.abs(x);
    let q = m.div(&ay, &ax);
    let zr = atan_pos(m, &q);
    let zero = m.k(0.0);
    let xneg = m.cmp(Cmp::Lt, x, &zero);
    let pz = pi_minus(m, &zr);
    let r = m.sel(&xneg, &pz, &zr);
    // y = ±0: 0 or pi by the sign bit of x (x = -0 included).
    let xb = m.bits(x);
    let i0 = m.ik(0);
    let xsign = m.icmp(Cmp::Lt, &xb, &i0);
    let pi = m.k(PI_HI);
    let r0 = m.sel(&xsign, &pi, &ay);
    let yz = m.cmp(Cmp::Eq, y, &zero);
    let r = m.sel(&yz, &r0, &r);
    // Both infinite: pi/4 or 3pi/4.
    let inf = m.k(f64::INFINITY);
    let xi = m.cmp(Cmp::Eq, &ax, &inf);
    let yi = m.cmp(Cmp::Eq, &ay, &inf);
    let both = m.and(&xi, &yi);
    let q3 = m.k(3.0 * std::f64::consts::FRAC_PI_4);
    let r = m.sel(&both, &q3, &r);
    let xpos = m.cmp(Cmp::Gt, x, &zero);
    let both_pos = m.and(&both, &xpos);
    let q1 = m.k(std::f64::consts::FRAC_PI_4);
    let r = m.sel(&both_pos, &q1, &r);
    let r = m.copysign(&r, y);
    let p = m.cmp(Cmp::Nan, x, y);
    let qnan = m.k(f64::NAN);
    m.sel(&p, &qnan, &r)
}

/// asin x = sign(x) atan(|x| / sqrt(1 - x^2)), 1 - x^2 by one fma
/// (rounded once, no cancellation near ±1): ±pi/2 at ±1, NaN past
/// |x| = 1 (the square root of a negative) and at NaN, ±0 kept.
pub fn asin<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let nax = m.neg(&ax);
    let one = m.k(1.0);
    let w = m.fma(&nax, &ax, &one);
    let s = m.sqrt(&w);
    let q = m.div(&ax, &s);
    let r = atan_pos(m, &q);
    m.copysign(&r, x)
}

/// acos x = atan(sqrt(1 - x^2) / |x|), pi minus that for x < 0: 0 at 1,
/// pi at -1, pi/2 at ±0, NaN past |x| = 1 and at NaN.
pub fn acos<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let ax = m.abs(x);
    let nax = m.neg(&ax);
    let one = m.k(1.0);
    let w = m.fma(&nax, &ax, &one);
    let s = m.sqrt(&w);
    let q = m.div(&s, &ax);
    let r = atan_pos(m, &q);
    let zero = m.k(0.0);
    let neg = m.cmp(Cmp::Lt, x, &zero);
    let pr = pi_minus(m, &r);
    m.sel(&neg, &pr, &r)
}

/// erf's rational approximations: fdlibm's `s_erf.c` (FreeBSD msun, as
/// in musl), by the bit patterns it prints beside each coefficient.
/// Numerators and denominators in ascending powers, the denominators'
/// constant term 1.
const fn b(v: u64) -> f64 {
    f64::from_bits(v)
}
/// erf x = x + x P(x^2)/Q(x^2) on |x| < 0.84375.
pub const ERF_PP: [f64; 5] = [
    b(0x3FC0_6EBA_8214_DB68),
    b(0xBFD4_CD7D_691C_B913),
    b(0xBF9D_2A51_DBD7_194F),
    b(0xBF77_A291_2366_68E4),
    b(0xBEF8_EAD6_1200_16AC),
];
pub const ERF_QQ: [f64; 6] = [
    1.0,
    b(0x3FD9_7779_CDDA_DC09),
    b(0x3FB0_A54C_5536_CEBA),
    b(0x3F74_D022_C4D3_6B0F),
    b(0x3F21_5DC9_221C_1A10),
    b(0xBED0_9C43_42A2_6120),
];
/// erf(1 + s) = ERX + P(s)/Q(s) on 0.84375 <= |x| < 1.25; ERX is erf(1)
/// rounded to f32.
pub const ERX: f64 = b(0x3FEB_0AC1_6000_0000);
pub const ERF_PA: [f64; 7] = [
    b(0xBF63_59B8_BEF7_7538),
    b(0x3FDA_8D00_AD92_B34D),
    b(0xBFD7_D240_FBB8_C3F1),
    b(0x3FD4_5FCA_8051_20E4),
    b(0xBFBC_6398_3D3E_28EC),
    b(0x3FA2_2A36_5997_95EB),
    b(0xBF61_BF38_0A96_073F),
];
pub const ERF_QA: [f64; 7] = [
    1.0,
    b(0x3FBB_3E66_18EE_E323),
    b(0x3FE1_4AF0_92EB_6F33),
    b(0x3FB2_635C_D99F_E9A7),
    b(0x3FC0_2660_E763_351F),
    b(0x3F8B_EDC2_6B51_DD1C),
    b(0x3F88_8B54_5735_151D),
];
/// erfc x = exp(-x^2 - 0.5625 + R(1/x^2)/S(1/x^2)) / x on [1.25, 1/0.35).
pub const ERF_RA: [f64; 8] = [
    b(0xBF84_3412_600D_6435),
    b(0xBFE6_3416_E4BA_7360),
    b(0xC025_1E04_41B0_E726),
    b(0xC04F_300A_E4CB_A38D),
    b(0xC064_4CB1_8428_2266),
    b(0xC067_135C_EBCC_ABB2),
    b(0xC054_5265_57E4_D2F2),
    b(0xC023_A0EF_C69A_C25C),
];
pub const ERF_SA: [f64; 9] = [
    1.0,
    b(0x4033_A6B9_BD70_7687),
    b(0x4061_350C_526A_E721),
    b(0x407B_290D_D58A_1A71),
    b(0x4084_2B19_21EC_2868),
    b(0x407A_D021_5770_0314),
    b(0x405B_28A3_EE48_AE2C),
    b(0x401A_47EF_8E48_4A93),
    b(0xBFAE_EFF2_EE74_9A62),
];
/// The same on [1/0.35, 6).
pub const ERF_RB: [f64; 7] = [
    b(0xBF84_3412_39E8_6F4A),
    b(0xBFE9_93BA_70C2_85DE),
    b(0xC031_C209_555F_995A),
    b(0xC064_145D_43C5_ED98),
    b(0xC083_EC88_1375_F228),
    b(0xC090_0461_6A2E_5992),
    b(0xC07E_384E_9BDC_383F),
];
pub const ERF_SB: [f64; 8] = [
    1.0,
    b(0x403E_568B_261D_5190),
    b(0x4074_5CAE_221B_9F0A),
    b(0x4098_02EB_189D_5118),
    b(0x40A8_FFB7_688C_246A),
    b(0x40A3_F219_CEDF_3BE6),
    b(0x407D_A874_E79F_E763),
    b(0xC036_70E2_4271_2D62),
];

/// erfc a for a >= 1.25 (up to fdlibm's 28, past which it underflows):
/// e^(-z^2 - 0.5625) e^((z - a)(z + a) + R/S) / a with z = a's top 32
/// bits (z^2 exact), R/S rational in 1/a^2 (one fit below 1/0.35, one
/// above).
fn erfc_far<M: F64Ops>(m: &mut M, a: &M::D) -> M::D {
    let one = m.k(1.0);
    let z = m.mul(a, a);
    let s = m.div(&one, &z);
    let r = horner(m, &s, &ERF_RA);
    let sd = horner(m, &s, &ERF_SA);
    let ra = m.div(&r, &sd);
    let r = horner(m, &s, &ERF_RB);
    let sd = horner(m, &s, &ERF_SB);
    let rb = m.div(&r, &sd);
    let brk = m.k(f64::from_bits(0x4006_DB6E_0000_0000));
    let pa = m.cmp(Cmp::Lt, a, &brk);
    let rs = m.sel(&pa, &ra, &rb);
    let ab = m.bits(a);
    let zb = m.shr(&ab, 32);
    let zb = m.shl(&zb, 32);
    let zt = m.bits_to_f64(&zb);
    let nzt = m.neg(&zt);
    let c = m.k(-0.5625);
    let e1 = m.fma(&nzt, &zt, &c);
    let e1 = exp(m, &e1);
    let d = m.sub(&zt, a);
    let sm = m.add(&zt, a);
    let e2 = m.fma(&d, &sm, &rs);
    let e2 = exp(m, &e2);
    let r = m.mul(&e1, &e2);
    m.div(&r, a)
}

/// erfc a for a >= 0 (NaN passes): 1 - erf a below 0.84375, where erf a
/// < 0.77 and nothing cancels; `(1 - ERX) - P/Q` below 1.25 (1 - ERX is
/// exact); [`erfc_far`] beyond. Accurate to a few ulps, relative.
fn erfc_pos<M: F64Ops>(m: &mut M, a: &M::D) -> M::D {
    let one = m.k(1.0);
    let z = m.mul(a, a);
    let p = horner(m, &z, &ERF_PP);
    let q = horner(m, &z, &ERF_QQ);
    let y = m.div(&p, &q);
    let e = m.fma(a, &y, a);
    let near = m.sub(&one, &e);
    let s = m.sub(a, &one);
    let p = horner(m, &s, &ERF_PA);
    let q = horner(m, &s, &ERF_QA);
    let pq = m.div(&p, &q);
    let c = m.k(1.0 - ERX);
    let mid = m.sub(&c, &pq);
    let far = erfc_far(m, a);
    let k = m.k(1.25);
    let p = m.cmp(Cmp::Lt, a, &k);
    let v = m.sel(&p, &mid, &far);
    let k = m.k(0.84375);
    let p = m.cmp(Cmp::Lt, a, &k);
    m.sel(&p, &near, &v)
}

/// erf x, fdlibm's method on a = |x|, the sign of x put back: a + a
/// P/Q (a < 0.84375); ERX + P/Q of a - 1 (< 1.25); 1 - erfc a, erfc a =
/// e^(-z^2 - 0.5625) e^((z - a)(z + a) + R/S) / a with z = a's top 32
/// bits (z^2 exact), R/S in 1/a^2 (< 6); 1 beyond. NaN passes, ±0 kept.
pub fn erf<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let a = m.abs(x);
    let one = m.k(1.0);
    // |x| < 0.84375.
    let z = m.mul(&a, &a);
    let p = horner(m, &z, &ERF_PP);
    let q = horner(m, &z, &ERF_QQ);
    let y = m.div(&p, &q);
    let va = m.fma(&a, &y, &a);
    // 0.84375 <= |x| < 1.25.
    let s = m.sub(&a, &one);
    let p = horner(m, &s, &ERF_PA);
    let q = horner(m, &s, &ERF_QA);
    let pq = m.div(&p, &q);
    let erx = m.k(ERX);
    let vb = m.add(&erx, &pq);
    // 1.25 <= |x| < 6.
    let ra = erfc_far(m, &a);
    let vc = m.sub(&one, &ra);
    // Piece together.
    let k6 = m.k(6.0);
    let p = m.cmp(Cmp::Lt, &a, &k6);
    let v = m.sel(&p, &vc, &one);
    let k = m.k(1.25);
    let p = m.cmp(Cmp::Lt, &a, &k);
    let v = m.sel(&p, &vb, &v);
    let k = m.k(0.84375);
    let p = m.cmp(Cmp::Lt, &a, &k);
    let v = m.sel(&p, &va, &v);
    let v = m.copysign(&v, x);
    let p = m.cmp(Cmp::Nan, x, x);
    m.sel(&p, x, &v)
}

use psionic_ir::kernel::scalar::{ERFINV_CENTRAL, ERFINV_TAIL};

/// erfinv x, as the reference interpreter computes it
/// (`psionic_ir::kernel::scalar::erfinv`): Giles' approximation (about
/// 1e-7 relative where |x| < 1 - 2^-24, worse beyond) as the start, then
/// for |x| <= 0.5 three Newton steps on `erf(y) - x` (quadratic: 1e-7,
/// 1e-14, rounding), and for |x| > 0.5 five Newton steps on `ln erfc(y) -
/// ln(1 - |x|)` (1 - |x| is exact there): erf's own steps stall near ±1,
/// where erf(y) rounds to 1, while ln erfc is nearly quadratic, so its
/// steps converge from Giles' start even at 1 - 2^-53. ±1 gives ±inf,
/// |x| > 1 and NaN give NaN, ±0 is kept.
pub fn erfinv<M: F64Ops>(m: &mut M, x: &M::D) -> M::D {
    let one = m.k(1.0);
    let a = m.sub(&one, x);
    let b = m.add(&one, x);
    let ab = m.mul(&a, &b);
    let l = log(m, &ab);
    let w = m.neg(&l);
    let k = m.k(2.5);
    let wc = m.sub(&w, &k);
    let pc = horner(m, &wc, &ERFINV_CENTRAL);
    let ws = m.sqrt(&w);
    let k = m.k(3.0);
    let wt = m.sub(&ws, &k);
    let pt = horner(m, &wt, &ERFINV_TAIL);
    let k = m.k(5.0);
    let central = m.cmp(Cmp::Lt, &w, &k);
    let p = m.sel(&central, &pc, &pt);
    let y0 = m.mul(&p, x);
    let c = m.k(std::f64::consts::FRAC_2_SQRT_PI);
    // |x| <= 0.5: Newton on erf.
    let mut y = y0.clone();
    for _ in 0..3 {
        let e = erf(m, &y);
        let r = m.sub(&e, x);
        let ny = m.neg(&y);
        let sq = m.mul(&ny, &y);
        let g = exp(m, &sq);
        let d = m.mul(&c, &g);
        let step = m.div(&r, &d);
        y = m.sub(&y, &step);
    }
    // |x| > 0.5: Newton on ln erfc, on |y|.
    let ax = m.abs(x);
    let t = m.sub(&one, &ax);
    let lt = log(m, &t);
    let mut u = m.abs(&y0);
    let nc = m.neg(&c);
    for _ in 0..5 {
        let e = erfc_pos(m, &u);
        let le = log(m, &e);
        let r = m.sub(&le, &lt);
        let nu = m.neg(&u);
        let sq = m.mul(&nu, &u);
        let g = exp(m, &sq);
        let d = m.mul(&nc, &g);
        let d = m.div(&d, &e);
        let step = m.div(&r, &d);
        u = m.sub(&u, &step);
    }
    let u = m.copysign(&u, x);
    let h = m.k(0.5);
    let small = m.cmp(Cmp::Le, &ax, &h);
    let y = m.sel(&small, &y, &u);
    // Edges: ±1 to ±inf, outside [-1, 1] (and NaN) to NaN, ±0 kept.
    let inf = m.k(f64::INFINITY);
    let sinf = m.copysign(&inf, x);
    let at1 = m.cmp(Cmp::Eq, &ax, &one);
    let y = m.sel(&at1, &sinf, &y);
    let z = m.k(0.0);
    let at0 = m.cmp(Cmp::Eq, x, &z);
    let y = m.sel(&at0, x, &y);
    let ok = m.cmp(Cmp::Le, &ax, &one);
    let nan = m.k(f64::NAN);
    m.sel(&ok, &y, &nan)
}
