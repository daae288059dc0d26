//! The CUDA backend's f64 math routines (`cuda::f64math`), evaluated in
//! Rust operation for operation as the PTX runs them ([`Eval`]), against
//! Rust's std (glibc's libm, itself within about 1 ulp) on random inputs
//! over the whole range and at special values.
//!
//! `PSIONIC_MIRROR_N` sets the random inputs per distribution (default
//! 20000); `--nocapture` prints the max ulp error per function, which
//! docs/BACKENDS.md quotes from a run with PSIONIC_MIRROR_N=1000000.
#![cfg(feature = "cuda")]

use psionic_codegen::cuda::f64math::{self as dm, Eval};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// |x| log-uniform in [2^lo, 2^hi), random sign when `signed`.
    fn log_uniform(&mut self, lo: f64, hi: f64, signed: bool) -> f64 {
        let e = self.uniform(lo, hi);
        let v = e.exp2() * (1.0 + self.unit()) * 0.5;
        if signed && self.next() & 1 == 1 {
            -v
        } else {
            v
        }
    }
    /// Any finite double (random bits).
    fn bits(&mut self) -> f64 {
        loop {
            let v = f64::from_bits(self.next());
            if v.is_finite() {
                return v;
            }
        }
    }
}

fn n() -> usize {
    std::env::var("PSIONIC_MIRROR_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// Distance in units in the last place (0 for two NaNs, or equal values
/// including ±0; u64::MAX for NaN against a number).
fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    if a == b {
        return 0;
    }
    let key = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 {
            i64::MIN.wrapping_sub(i) as i128
        } else {
            i as i128
        }
    };
    (key(a) - key(b)).unsigned_abs() as u64
}

#[derive(Default)]
struct Stat {
    max: u64,
    at: f64,
    at2: f64,
    got: f64,
    want: f64,
    count: usize,
}

impl Stat {
    fn add(&mut self, x: f64, y: f64, got: f64, want: f64) {
        self.add_u(x, y, got, want, ulps(got, want));
    }
    fn add_u(&mut self, x: f64, y: f64, got: f64, want: f64, u: u64) {
        self.count += 1;
        if u > self.max {
            *self = Stat {
                max: u,
                at: x,
                at2: y,
                got,
                want,
                count: self.count,
            };
        }
    }
    fn report(&self, name: &str, bound: u64) {
        println!(
            "{name:>10}: max {} ulp over {} inputs (at {:e}, {:e}: got {:e}, want {:e})",
            self.max, self.count, self.at, self.at2, self.got, self.want
        );
        assert!(
            self.max <= bound,
            "{name}: {} ulp > {bound} at {:e}, {:e}: got {:e}, want {:e}",
            self.max,
            self.at,
            self.at2,
            self.got,
            self.want
        );
    }
}

const SPECIALS: [f64; 24] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    1e-310,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    709.782712893384,
    709.79,
    -745.13,
    -745.14,
    -708.4,
    1e300,
    -1e-300,
];

type Unary = fn(&mut Eval, &f64) -> f64;
type Gen2<'a> = &'a dyn Fn(&mut Rng) -> (f64, f64);
type UnaryCase = (&'static str, Unary, fn(f64) -> f64);
type BinaryCase = (&'static str, Binary, fn(f64, f64) -> f64);

fn unary(
    name: &str,
    f: Unary,
    want: fn(f64) -> f64,
    gens: &[&dyn Fn(&mut Rng) -> f64],
    bound: u64,
) {
    unary_in(name, f, want, gens, bound, f64::INFINITY)
}

/// As [`unary`], the special values restricted to |x| <= `domain` (and
/// the infinities).
fn unary_in(
    name: &str,
    f: Unary,
    want: fn(f64) -> f64,
    gens: &[&dyn Fn(&mut Rng) -> f64],
    bound: u64,
    domain: f64,
) {
    let mut st = Stat::default();
    for &x in SPECIALS
        .iter()
        .filter(|x| !(x.abs() > domain && x.is_finite()))
    {
        st.add(x, 0.0, f(&mut Eval, &x), want(x));
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for g in gens {
        for _ in 0..n() {
            let x = g(&mut rng);
            st.add(x, 0.0, f(&mut Eval, &x), want(x));
        }
    }
    st.report(name, bound);
}

#[test]
fn exp_and_expm1() {
    unary(
        "exp",
        dm::exp,
        f64::exp,
        &[
            &|r| r.uniform(-746.0, 710.0),
            &|r| r.uniform(-2.0, 2.0),
            &|r| r.log_uniform(-60.0, 0.0, true),
            &|r| r.uniform(-745.2, -708.0),
        ],
        2,
    );
    unary(
        "expm1",
        dm::expm1,
        f64::exp_m1,
        &[
            &|r| r.uniform(-50.0, 710.0),
            &|r| r.uniform(-2.0, 2.0),
            &|r| r.log_uniform(-1070.0, 0.0, true),
            &|r| r.uniform(-0.4, 0.4),
        ],
        2,
    );
}

#[test]
fn logs() {
    let gens: [&dyn Fn(&mut Rng) -> f64; 4] = [
        &|r| r.bits().abs(),
        &|r| r.uniform(0.5, 2.0),
        &|r| 1.0 + r.log_uniform(-60.0, -1.0, true),
        &|r| r.log_uniform(-1074.0, -1020.0, false),
    ];
    unary("log", dm::log, f64::ln, &gens, 1);
    unary("log2", dm::log2, f64::log2, &gens, 1);
    unary("log10", dm::log10, f64::log10, &gens, 2);
    unary(
        "log1p",
        dm::log1p,
        f64::ln_1p,
        &[
            &|r| r.bits().abs(),
            &|r| r.uniform(-1.0, 1.0),
            &|r| r.log_uniform(-1074.0, 0.0, true),
            &|r| -1.0 + r.log_uniform(-53.0, -1.0, false),
        ],
        2,
    );
}

/// The documented domain of sin/cos/tan: 2^20 pi/2.
const TRIG_DOMAIN: f64 = 1_647_099.3;

#[test]
fn trig() {
    let gens: [&dyn Fn(&mut Rng) -> f64; 4] = [
        &|r| r.uniform(-7.0, 7.0),
        &|r| r.log_uniform(-1074.0, 0.0, true),
        &|r| r.log_uniform(0.0, 20.0, true) * std::f64::consts::FRAC_PI_2,
        // Near multiples of pi/2 (the reduction's hard cases).
        &|r| {
            let k = (r.next() % 1_000_000) as f64;
            k * std::f64::consts::FRAC_PI_2 + r.uniform(-1e-6, 1e-6)
        },
    ];
    let dom = TRIG_DOMAIN;
    unary_in("sin", dm::sin, f64::sin, &gens, 2, dom);
    unary_in("cos", dm::cos, f64::cos, &gens, 2, dom);
    unary_in("tan", dm::tan, f64::tan, &gens, 4, dom);
}

/// Beyond the documented range (|x| up to 2^40): printed, loosely bounded.
#[test]
fn trig_far() {
    let gens: [&dyn Fn(&mut Rng) -> f64; 1] = [&|r| r.log_uniform(20.0, 40.0, true)];
    unary_in("sin far", dm::sin, f64::sin, &gens, 16, 1e12);
    unary_in("cos far", dm::cos, f64::cos, &gens, 16, 1e12);
}

#[test]
fn hyperbolic_and_sigmoid() {
    let gens: [&dyn Fn(&mut Rng) -> f64; 3] = [
        &|r| r.uniform(-720.0, 720.0),
        &|r| r.uniform(-3.0, 3.0),
        &|r| r.log_uniform(-1074.0, 0.0, true),
    ];
    unary("tanh", dm::tanh, f64::tanh, &gens, 2);
    unary("sinh", dm::sinh, f64::sinh, &gens, 3);
    unary("cosh", dm::cosh, f64::cosh, &gens, 3);
    unary(
        "sigmoid",
        dm::sigmoid,
        |x| 1.0 / (1.0 + (-x).exp()),
        &gens,
        3,
    );
}

#[test]
fn inverse_hyperbolic() {
    unary(
        "asinh",
        dm::asinh,
        // The interpreter's (musl's, the libm crate): std's overflows past
        // about 9e307 (it forms 2|x|), where the true value is log|x| + ln 2.
        libm::asinh,
        &[&|r| r.bits(), &|r| r.uniform(-3.0, 3.0), &|r| {
            r.log_uniform(-1074.0, 40.0, true)
        }],
        3,
    );
    unary(
        "acosh",
        dm::acosh,
        // Not std's acosh: it overflows past about 9e307 as asinh does,
        // and `ln(x + sqrt(x^2 - 1))` loses digits near 1 (2e7 ulp at
        // 1 + 2^-52); musl's (the libm crate) is accurate.
        libm::acosh,
        &[&|r| r.bits().abs(), &|r| r.uniform(1.0, 4.0), &|r| {
            1.0 + r.log_uniform(-52.0, 40.0, false)
        }],
        3,
    );
    unary(
        "atanh",
        dm::atanh,
        // Not std's atanh: `ln_1p(2x / (1 - x)) / 2` rounds the argument,
        // ~150 ulp near -1.
        libm::atanh,
        &[
            &|r| r.uniform(-1.0, 1.0),
            &|r| r.log_uniform(-1074.0, 0.0, true),
            &|r| 1.0 - r.log_uniform(-53.0, -1.0, false),
        ],
        3,
    );
}

#[test]
fn inverse_trig() {
    let gens: [&dyn Fn(&mut Rng) -> f64; 4] = [
        &|r| r.bits(),
        &|r| r.uniform(-4.0, 4.0),
        &|r| r.log_uniform(-1074.0, 60.0, true),
        // Around fdlibm's breakpoints.
        &|r| [7.0, 11.0, 19.0, 39.0][(r.next() % 4) as usize] / 16.0 + r.uniform(-1e-3, 1e-3),
    ];
    unary("atan", dm::atan, f64::atan, &gens, 2);
    let dom: [&dyn Fn(&mut Rng) -> f64; 4] = [
        &|r| r.uniform(-1.0, 1.0),
        &|r| r.log_uniform(-1074.0, 0.0, true),
        &|r| (1.0 - r.log_uniform(-53.0, -1.0, false)) * if r.next() & 1 == 1 { -1.0 } else { 1.0 },
        &|r| r.uniform(-1.5, 1.5),
    ];
    unary("asin", dm::asin, f64::asin, &dom, 2);
    unary("acos", dm::acos, f64::acos, &dom, 2);
}

#[test]
fn atan2() {
    binary(
        "atan2",
        dm::atan2,
        f64::atan2,
        &[
            &|r| (r.bits(), r.bits()),
            &|r| (r.uniform(-4.0, 4.0), r.uniform(-4.0, 4.0)),
            &|r| {
                (
                    r.log_uniform(-1074.0, 1024.0, true),
                    r.log_uniform(-1074.0, 1024.0, true),
                )
            },
            &|r| {
                let x = r.uniform(-4.0, 4.0);
                (x * (1.0 + r.uniform(-1e-3, 1e-3)), x)
            },
        ],
        2,
    );
}

#[test]
fn erf() {
    // Against musl's erf (the libm crate; Rust's std has none).
    unary(
        "erf",
        dm::erf,
        libm::erf,
        &[
            &|r| r.bits(),
            &|r| r.uniform(-7.0, 7.0),
            &|r| r.log_uniform(-1074.0, 3.0, true),
            // Around the piece boundaries.
            &|r| {
                let b = [0.84375, 1.25, 1.0 / 0.35, 6.0][(r.next() % 4) as usize];
                b + r.uniform(-1e-3, 1e-3)
            },
        ],
        2,
    );
}

#[test]
fn erfinv() {
    // Against the reference interpreter's erfinv: the same method (Newton
    // on erf for |x| <= 0.5, on ln erfc beyond) with fixed step counts
    // where the reference tests convergence.
    use psionic_ir::kernel::scalar::erfinv as want;
    let mut st = Stat::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let gens: [&dyn Fn(&mut Rng) -> f64; 4] = [
        &|r| r.uniform(-1.0, 1.0),
        &|r| r.log_uniform(-1074.0, 0.0, true),
        // 1 - |x| log-uniform down to 2^-53: the tail branch, past the
        // range Giles' start was fitted for.
        &|r| {
            let t = r.log_uniform(-53.0, -1.0, false);
            if r.next() & 1 == 1 {
                t - 1.0
            } else {
                1.0 - t
            }
        },
        &|r| r.uniform(-1.2, 1.2),
    ];
    let specials = SPECIALS
        .iter()
        .copied()
        .chain([1.0, -1.0, 0.5, -0.5, 1.0 - f64::EPSILON / 2.0]);
    for x in specials {
        st.add(x, 0.0, dm::erfinv(&mut Eval, &x), want(x));
    }
    for g in gens {
        for _ in 0..n() {
            let x = g(&mut rng);
            st.add(x, 0.0, dm::erfinv(&mut Eval, &x), want(x));
        }
    }
    st.report("erfinv", 2);
    // And the reference itself, by its backward error: erf of the result
    // lands within 1 ulp of x (erfinv is too ill-conditioned near ±1 for a
    // forward check, and there is no erfinv in std or libm).
    let mut back = Stat::default();
    for _ in 0..n() {
        let x = rng.uniform(-1.0, 1.0);
        let y = want(x);
        back.add(x, 0.0, libm::erf(y), x);
    }
    back.report("erf(erfinv)", 1);
}

type Binary = fn(&mut Eval, &f64, &f64) -> f64;

/// Ulps of `scale` (finite values): for results that cancel, whose
/// reference cancels as much.
fn ulps_of_scale(got: f64, want: f64, scale: f64) -> u64 {
    let u = ulps(got, want);
    if !(got.is_finite() && want.is_finite() && scale.is_finite()) || scale == 0.0 {
        return u;
    }
    let e = scale.abs().log2().floor() - 52.0;
    u.min(((got - want).abs() / e.exp2()).ceil() as u64)
}

fn binary(name: &str, f: Binary, want: fn(f64, f64) -> f64, gens: &[Gen2], bound: u64) {
    binary_scaled(name, f, want, gens, bound, None)
}

/// As [`binary`], errors in ulps of `scale(x, y)` where that is smaller.
fn binary_scaled(
    name: &str,
    f: Binary,
    want: fn(f64, f64) -> f64,
    gens: &[Gen2],
    bound: u64,
    scale: Option<fn(f64, f64) -> f64>,
) {
    let mut st = Stat::default();
    let sp = SPECIALS
        .iter()
        .copied()
        .chain([3.0, -3.0, 0.25, 4.5, -7.5, 1e20]);
    let sp: Vec<f64> = sp.collect();
    for &x in &sp {
        for &y in &sp {
            st.add(x, y, f(&mut Eval, &x, &y), want(x, y));
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for g in gens {
        for _ in 0..n() {
            let (x, y) = g(&mut rng);
            let (g, w) = (f(&mut Eval, &x, &y), want(x, y));
            match scale {
                Some(s) => st.add_u(x, y, g, w, ulps_of_scale(g, w, s(x, y))),
                None => st.add(x, y, g, w),
            }
        }
    }
    st.report(name, bound);
}

#[test]
fn pow() {
    binary(
        "pow",
        dm::pow,
        f64::powf,
        &[
            &|r| (r.bits().abs(), r.uniform(-2.0, 2.0)),
            &|r| (r.log_uniform(-1074.0, 1024.0, false), r.uniform(-1.0, 1.0)),
            &|r| (r.uniform(0.0, 4.0), r.uniform(-300.0, 300.0)),
            &|r| {
                (
                    1.0 + r.log_uniform(-40.0, -1.0, true),
                    r.log_uniform(0.0, 50.0, true),
                )
            },
            &|r| (-r.uniform(0.0, 8.0), (r.next() % 201) as f64 - 100.0),
        ],
        4,
    );
}

#[test]
fn logaddexp() {
    let want = |a: f64, b: f64| {
        let m = a.max(b);
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else if m.is_infinite() {
            m
        } else {
            m + (-(a - b).abs()).exp().ln_1p()
        }
    };
    // Where max(a, b) and log1p(e^-|a-b|) cancel (the result near 0), both
    // sides lose the same digits: errors in ulps of the larger term.
    binary_scaled(
        "logaddexp",
        dm::logaddexp,
        want,
        &[
            &|r| (r.uniform(-100.0, 100.0), r.uniform(-100.0, 100.0)),
            &|r| (r.uniform(-3.0, 3.0), r.uniform(-3.0, 3.0)),
            &|r| (r.uniform(1.0, 1000.0), r.uniform(1.0, 1000.0)),
        ],
        4,
        Some(|a, b| a.abs().max(b.abs()).max(std::f64::consts::LN_2)),
    );
}

#[test]
fn constants_split_as_documented() {
    // The high part of ln 2 has 21 trailing zero bits (k * LN2_HI exact).
    assert_eq!(dm::LN2_HI.to_bits() & 0x1F_FFFF, 0);
    assert_eq!(dm::LN2_HI + dm::LN2_LO, std::f64::consts::LN_2);
    assert!(dm::PIO2_2.abs() < dm::PIO2_1 * 1e-15 && dm::PIO2_3.abs() < dm::PIO2_2 * 1e-15);
    assert_eq!(dm::INV_LN2_HI + dm::INV_LN2_LO, std::f64::consts::LOG2_E);
    // atan's breakpoint values: the heads are std's atan, the tails below
    // half an ulp of them; pi's tail is twice pi/2's.
    for (i, x) in [0.5f64, 1.0, 1.5, f64::INFINITY].into_iter().enumerate() {
        assert_eq!(dm::ATAN_HI[i], x.atan());
        assert!(dm::ATAN_LO[i].abs() < dm::ATAN_HI[i] * 2f64.powi(-53));
    }
    assert_eq!(dm::PI_LO, 2.0 * dm::PIO2_2);
}

/// The special values of `cuda_device`'s
/// `f64_math_at_special_values_matches_the_interpreter`, with its
/// tolerance (8 ulp or 1e-15 absolute), against the interpreter's
/// formulas: what the GPU run should see.
#[test]
fn device_special_values() {
    let v = dm::EDGE_VALUES;
    let close = |g: f64, w: f64| ulps(g, w) <= 8 || (g - w).abs() <= 1e-15;
    let unary: [UnaryCase; 17] = [
        ("asinh", dm::asinh, libm::asinh),
        ("exp", dm::exp, f64::exp),
        ("expm1", dm::expm1, f64::exp_m1),
        ("log", dm::log, f64::ln),
        ("log1p", dm::log1p, f64::ln_1p),
        ("log2", dm::log2, f64::log2),
        ("log10", dm::log10, f64::log10),
        ("sin", dm::sin, f64::sin),
        ("cos", dm::cos, f64::cos),
        ("tan", dm::tan, f64::tan),
        ("tanh", dm::tanh, f64::tanh),
        ("sinh", dm::sinh, f64::sinh),
        ("cosh", dm::cosh, f64::cosh),
        ("sigmoid", dm::sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
        ("atan", dm::atan, f64::atan),
        ("asin", dm::asin, f64::asin),
        ("acos", dm::acos, f64::acos),
    ];
    let mut bad = Vec::new();
    for (name, f, want) in unary {
        let trig = matches!(name, "sin" | "cos" | "tan");
        for &x in v
            .iter()
            .filter(|x| !(trig && x.abs() > 1.6e6 && x.is_finite()))
        {
            let (g, w) = (f(&mut Eval, &x), want(x));
            // Past 8e307 std's asinh overflows (the device test skips it).
            if name == "asinh" && x.abs() > 8e307 && x.is_finite() {
                continue;
            }
            if !close(g, w) {
                bad.push(format!("{name}({x:e}) = {g:e}, want {w:e}"));
            }
        }
    }
    let w = [
        0.0,
        -0.0,
        0.5,
        -1.0,
        2.0,
        3.0,
        -3.0,
        1e-310,
        710.0,
        -745.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        0.34,
    ];
    let lae = |a: f64, b: f64| {
        let m = a.max(b);
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else if m.is_infinite() {
            m
        } else {
            m + (-(a - b).abs()).exp().ln_1p()
        }
    };
    let binary: [BinaryCase; 3] = [
        ("pow", dm::pow, f64::powf),
        ("logaddexp", dm::logaddexp, lae),
        ("atan2", dm::atan2, f64::atan2),
    ];
    for (name, f, want) in binary {
        for &x in &w {
            for &y in &w {
                let (g, wv) = (f(&mut Eval, &x, &y), want(x, y));
                if !close(g, wv) {
                    bad.push(format!("{name}({x:e}, {y:e}) = {g:e}, want {wv:e}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
