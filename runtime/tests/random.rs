//! Randomized checks: f32 elementwise ops against f64 evaluation and Rust's
//! native f32 arithmetic; integer ops against Rust's wrapping arithmetic per
//! dtype; layout identities.

mod common;
use common::*;
use proptest::prelude::*;
use psionic_ir::{Attr, DType, Literal, Opcode, Opcode::*};

fn f32_lit(v: &[f32]) -> Literal {
    Literal::f32s(vec![v.len()], v).unwrap()
}
fn f64_lit(v: &[f32]) -> Literal {
    lit(
        DType::F64,
        &[v.len()],
        &v.iter().map(|&x| x as f64).collect::<Vec<_>>(),
    )
}
fn f32_out(l: &Literal) -> Vec<f32> {
    l.bytes()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Distance in units in the last place (0 for equal values or two NaNs).
fn ulps(a: f32, b: f32) -> u64 {
    if a.is_nan() && b.is_nan() || a == b {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        (if i < 0 { i32::MIN - i } else { i }) as i64
    };
    (key(a) - key(b)).unsigned_abs()
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        -100.0f32..100.0,
        -1.0f32..1.0,
        any::<f32>().prop_filter("finite", |x| x.is_finite())
    ]
}

type UnaryCase = (Opcode, fn(f32) -> f32);
type BinaryCase = (Opcode, fn(f32, f32) -> f32);

const UNARY: &[UnaryCase] = &[
    (Exp, f32::exp),
    (Log, f32::ln),
    (Sin, f32::sin),
    (Cos, f32::cos),
    (Tanh, f32::tanh),
    (Sqrt, f32::sqrt),
    (Expm1, f32::exp_m1),
    (Log1p, f32::ln_1p),
    (Arctan, f32::atan),
    (Arcsinh, f32::asinh),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn f32_unary_is_f64_rounded_once_and_near_native(v in prop::collection::vec(finite_f32(), 1..40)) {
        for &(o, native) in UNARY {
            let r32 = f32_out(&op(o, &[], &[&f32_lit(&v)]));
            let r64 = op(o, &[], &[&f64_lit(&v)]).to_f64_vec();
            for i in 0..v.len() {
                // Exactly the f64 result rounded once.
                prop_assert_eq!(ulps(r32[i], r64[i] as f32), 0, "{} of {}", o, v[i]);
                // And within 2 ulps of Rust's own f32 function (which
                // overflows inside for asinh of huge values; ours does not).
                let n = native(v[i]);
                prop_assert!(ulps(r32[i], n) <= 2 || (n.is_infinite() && r32[i].is_finite()), "{} of {}: {} vs {}", o, v[i], r32[i], native(v[i]));
            }
        }
    }

    #[test]
    fn f32_arithmetic_matches_native_exactly(a in prop::collection::vec(finite_f32(), 16), b in prop::collection::vec(finite_f32(), 16)) {
        let (la, lb) = (f32_lit(&a), f32_lit(&b));
        let cases: [BinaryCase; 5] = [
            (Add, |x, y| x + y),
            (Subtract, |x, y| x - y),
            (Multiply, |x, y| x * y),
            (Divide, |x, y| x / y),
            (Arctan2, f32::atan2),
        ];
        for (o, f) in cases {
            let r = f32_out(&op(o, &[], &[&la, &lb]));
            for i in 0..a.len() {
                let tol = if o == Arctan2 { 2 } else { 0 };
                prop_assert!(ulps(r[i], f(a[i], b[i])) <= tol, "{} {} {}", o, a[i], b[i]);
            }
        }
        let s = f32_out(&op(Sqrt, &[], &[&la]));
        for i in 0..a.len() {
            prop_assert_eq!(ulps(s[i], a[i].sqrt()), 0);
        }
    }

    #[test]
    fn integer_ops_match_wrapping_arithmetic(a in prop::collection::vec(any::<i64>(), 24), b in prop::collection::vec(any::<i64>(), 24)) {
        // i8 and u8 via i64 lanes truncated; i32; u64; i64.
        macro_rules! check {
            ($t:ty, $dt:expr) => {{
                let x: Vec<$t> = a.iter().map(|&v| v as $t).collect();
                let y: Vec<$t> = b.iter().map(|&v| v as $t).collect();
                let lx = ints($dt, &[24], &x.iter().map(|&v| v as i64).collect::<Vec<_>>());
                let ly = ints($dt, &[24], &y.iter().map(|&v| v as i64).collect::<Vec<_>>());
                let run = |o| op(o, &[], &[&lx, &ly]).to_i64_vec();
                let want = |f: &dyn Fn($t, $t) -> $t| -> Vec<i64> {
                    x.iter().zip(&y).map(|(&p, &q)| f(p, q) as i64).collect()
                };
                prop_assert_eq!(run(Add), want(&|p, q| p.wrapping_add(q)));
                prop_assert_eq!(run(Subtract), want(&|p, q| p.wrapping_sub(q)));
                prop_assert_eq!(run(Multiply), want(&|p, q| p.wrapping_mul(q)));
                prop_assert_eq!(run(Divide), want(&|p, q| if q == 0 { 0 } else { p.wrapping_div(q) }));
                prop_assert_eq!(run(FloorDivide), want(&|p, q| {
                    if q == 0 { return 0; }
                    let d = p.wrapping_div(q);
                    if p.wrapping_rem(q) != 0 && ((p < (0 as $t)) != (q < (0 as $t))) { d.wrapping_sub(1) } else { d }
                }));
                prop_assert_eq!(run(Remainder), want(&|p, q| {
                    if q == 0 { return 0; }
                    let r = p.wrapping_rem(q);
                    if r != 0 && ((r < (0 as $t)) != (q < (0 as $t))) { r.wrapping_add(q) } else { r }
                }));
                prop_assert_eq!(run(Maximum), want(&|p, q| p.max(q)));
                prop_assert_eq!(run(BitwiseXor), want(&|p, q| p ^ q));
                let bits = <$t>::BITS as u64;
                prop_assert_eq!(run(LeftShift), want(&|p, q| {
                    let s = q as i128;
                    if s < 0 || s >= bits as i128 { 0 } else { p.wrapping_shl(s as u32) }
                }));
                prop_assert_eq!(run(RightShift), want(&|p, q| {
                    let s = q as i128;
                    if s < 0 || s >= bits as i128 {
                        if p < (0 as $t) { p.wrapping_shr(bits as u32 - 1) } else { 0 }
                    } else { p.wrapping_shr(s as u32) }
                }));
                let lt: Vec<i64> = x.iter().zip(&y).map(|(p, q)| (p < q) as i64).collect();
                prop_assert_eq!(op(Less, &[], &[&lx, &ly]).to_i64_vec(), lt);
            }};
        }
        check!(i8, DType::I8);
        check!(u8, DType::U8);
        check!(i32, DType::I32);
        check!(u64, DType::U64);
        check!(i64, DType::I64);
    }

    #[test]
    fn transpose_and_flip_round_trip(d0 in 1usize..5, d1 in 1usize..5, d2 in 1usize..5) {
        let n = d0 * d1 * d2;
        let x = ints(DType::I16, &[d0, d1, d2], &(0..n as i64).collect::<Vec<_>>());
        let t = op(Transpose, &[("perm", ints_attr(&[1, 2, 0]))], &[&x]);
        let back = op(Transpose, &[("perm", ints_attr(&[2, 0, 1]))], &[&t]);
        prop_assert_eq!(&back, &x);
        let f = op(Flip, &[("axes", ints_attr(&[0, 2]))], &[&x]);
        prop_assert_eq!(&op(Flip, &[("axes", ints_attr(&[0, 2]))], &[&f]), &x);
        // A reversed slice equals a flip.
        let s = op(
            Slice,
            &[
                ("start", ints_attr(&[d0 as i64 - 1, 0, d2 as i64 - 1])),
                ("stop", ints_attr(&[-1, d1 as i64, -1])),
                ("strides", ints_attr(&[-1, 1, -1])),
            ],
            &[&x],
        );
        prop_assert_eq!(&s, &f);
        // Sum over all axes does not depend on the layout.
        let all = ("axes", Attr::Ints(vec![0, 1, 2]));
        prop_assert_eq!(op(ReduceSum, std::slice::from_ref(&all), &[&t]), op(ReduceSum, &[all], &[&x]));
    }
}

/// Row-major index -> multi-index.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}
fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |a, (&i, &d)| a * d + i)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn reductions_match_a_naive_loop(
        shape in prop::collection::vec(0usize..5, 0..5),
        mask in any::<u8>(),
        seed in any::<u64>(),
    ) {
        let n: usize = shape.iter().product();
        let v: Vec<i64> = (0..n as u64).map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 19) as i64 - 9).collect();
        let x = ints(DType::I32, &shape, &v);
        let axes: Vec<i64> = (0..shape.len() as i64).filter(|a| mask & (1 << a) != 0).collect();
        let out_shape: Vec<usize> = shape.iter().enumerate().filter(|(i, _)| !axes.contains(&(*i as i64))).map(|(_, &d)| d).collect();
        let m: usize = out_shape.iter().product();
        let mut sum = vec![0i64; m];
        let mut max = vec![i32::MIN as i64; m];
        for (i, &val) in v.iter().enumerate() {
            let idx = unravel(i, &shape);
            let oi: Vec<usize> = idx.iter().enumerate().filter(|(d, _)| !axes.contains(&(*d as i64))).map(|(_, &k)| k).collect();
            let o = ravel(&oi, &out_shape);
            sum[o] += val;
            max[o] = max[o].max(val);
        }
        let a = ("axes", Attr::Ints(axes.clone()));
        prop_assert_eq!(op(ReduceSum, std::slice::from_ref(&a), &[&x]).to_i64_vec(), sum);
        prop_assert_eq!(op(ReduceMax, std::slice::from_ref(&a), &[&x]).to_i64_vec(), max);
        // Softmax over the same axes sums to 1 per group (when groups are non-empty).
        let xf = op(Cast, &[("dtype", Attr::DType(DType::F64))], &[&x]);
        let sm = op(Softmax, std::slice::from_ref(&a), &[&xf]);
        let tot = op(ReduceSum, &[a], &[&sm]).to_f64_vec();
        prop_assert!(tot.iter().all(|t| (t - 1.0).abs() < 1e-12 || n == 0), "{:?}", tot);
        if let Some(&ax) = axes.first() {
            if shape[ax as usize] > 0 {
                let am = op(Argmax, &[("axis", Attr::Int(ax))], &[&x]).to_i64_vec();
                let os: Vec<usize> = shape.iter().enumerate().filter(|(i, _)| *i as i64 != ax).map(|(_, &d)| d).collect();
                let mut best = vec![(i64::MIN, 0i64); os.iter().product()];
                for (i, &val) in v.iter().enumerate() {
                    let idx = unravel(i, &shape);
                    let mut oi = idx.clone();
                    let k = oi.remove(ax as usize);
                    let o = ravel(&oi, &os);
                    if val > best[o].0 { best[o] = (val, k as i64); }
                }
                prop_assert_eq!(am, best.iter().map(|b| b.1).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn big_transposes_and_flips_match_index_math(a in 30usize..70, b in 30usize..70, c in 1usize..3) {
        let shape = [c, a, b];
        let n = a * b * c;
        let x = ints(DType::I32, &shape, &(0..n as i64).collect::<Vec<_>>());
        let t = op(Transpose, &[("perm", ints_attr(&[0, 2, 1]))], &[&x]).to_i64_vec();
        for (i, &val) in t.iter().enumerate() {
            let idx = unravel(i, &[c, b, a]);
            prop_assert_eq!(val as usize, ravel(&[idx[0], idx[2], idx[1]], &shape));
        }
        let f = op(Flip, &[("axes", ints_attr(&[1, 2]))], &[&x]).to_i64_vec();
        for (i, &val) in f.iter().enumerate() {
            let idx = unravel(i, &shape);
            prop_assert_eq!(val as usize, ravel(&[idx[0], a - 1 - idx[1], b - 1 - idx[2]], &shape));
        }
        let cs = op(Cumsum, &[("axis", Attr::Int(1)), ("reverse", Attr::Bool(true))], &[&x]).to_i64_vec();
        for (i, &val) in cs.iter().enumerate() {
            let idx = unravel(i, &shape);
            let want: i64 = (idx[1]..a).map(|k| ravel(&[idx[0], k, idx[2]], &shape) as i64).sum();
            prop_assert_eq!(val, want);
        }
    }
}
