//! Randomized checks of broadcasting, promotion and Python-style slicing
//! against small reference implementations written here on host data.

use proptest::prelude::*;
use psionic_mlx::*;

/// NumPy broadcasting of two shapes, or None.
fn np_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let get = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (get(a, i), get(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Element of `data` (shape `s`) seen at multi-index `idx` of the broadcast shape.
fn at(data: &[f32], s: &[usize], idx: &[usize]) -> f32 {
    let off = idx.len() - s.len();
    let mut flat = 0;
    for (k, &d) in s.iter().enumerate() {
        let i = if d == 1 { 0 } else { idx[off + k] };
        flat = flat * d + i;
    }
    data[flat]
}

fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in shape {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..4)
}

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 + 3) % 11) as f32 - 5.0).collect()
}

fn to_i32(s: &[usize]) -> Vec<i32> {
    s.iter().map(|&d| d as i32).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn binary_ops_broadcast_like_numpy(sa in shape(), sb in shape()) {
        let (da, db) = (data(sa.iter().product()), data(sb.iter().product()));
        let a = array(&da, &to_i32(&sa));
        let b = array(&db, &to_i32(&sb));
        let sum = &a + &b;
        let cond = greater(&a, &b);
        let picked = r#where(&cond, &a, &b);
        match np_broadcast(&sa, &sb) {
            None => {
                let e = sum.to_vec::<f32>().unwrap_err();
                prop_assert!(e.to_string().starts_with("add: shapes"), "{}", e);
                prop_assert!(picked.error().is_some());
            }
            Some(out) => {
                let want: Vec<f32> = indices(&out)
                    .iter()
                    .map(|i| at(&da, &sa, i) + at(&db, &sb, i))
                    .collect();
                let out_i64: Vec<i64> = out.iter().map(|&d| d as i64).collect();
                prop_assert_eq!(sum.shape(), &out_i64[..]);
                prop_assert_eq!(sum.to_vec::<f32>().unwrap(), want);
                let want_max: Vec<f32> = indices(&out)
                    .iter()
                    .map(|i| at(&da, &sa, i).max(at(&db, &sb, i)))
                    .collect();
                prop_assert_eq!(picked.to_vec::<f32>().unwrap(), want_max);
            }
        }
    }

    #[test]
    fn python_slices_select_what_python_selects(
        n in 0usize..7,
        start in prop::option::of(-9i64..9),
        stop in prop::option::of(-9i64..9),
        step in prop::sample::select(vec![-3i64, -2, -1, 1, 2, 3]),
    ) {
        let d: Vec<i32> = (0..n as i32).collect();
        let x = array(&d, &[n as i32]);
        let y = x.index(&[Idx::slice(start, stop, step)]);
        // Python's slice.indices, then walking the range.
        let n = n as i64;
        let fix = |v: i64, lo: i64, hi: i64| (if v < 0 { v + n } else { v }).clamp(lo, hi);
        let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
        let mut i = start.map_or(if step > 0 { 0 } else { n - 1 }, |s| fix(s, lo, hi));
        let end = stop.map_or(if step > 0 { n } else { -1 }, |s| fix(s, lo, hi));
        let mut want = Vec::new();
        while (step > 0 && i < end) || (step < 0 && i > end) {
            want.push(i as i32);
            i += step;
        }
        prop_assert_eq!(y.to_vec::<i32>().unwrap(), want);
    }

    #[test]
    fn integer_scalars_keep_the_array_dtype_unless_they_overflow(v in -300i64..300) {
        let x = array(&[1i8, -2], &[2]);
        let r = try_add(&x, v);
        if (-128..=127).contains(&v) {
            let r = r.unwrap();
            prop_assert_eq!(r.dtype(), DType::I8);
            let want: Vec<i8> = [1i8, -2].iter().map(|&e| e.wrapping_add(v as i8)).collect();
            prop_assert_eq!(r.to_vec::<i8>().unwrap(), want);
        } else {
            prop_assert!(r.unwrap_err().message.contains("overflow"));
        }
    }
}

/// One op with arbitrary (often invalid) arguments.
fn wild_op(k: u8, x: &Array, y: &Array, a: i32, b: i32) -> Array {
    match k % 24 {
        0 => sum(x, a, b % 2 == 0),
        1 => reshape(x, &[a, b]),
        2 => transpose_axes(x, &[a, b]),
        3 => swapaxes(x, a, b),
        4 => expand_dims(x, [a, b]),
        5 => squeeze(x, a),
        6 => slice(x, &[a, b], &[b, a], &[a.signum(), 1]),
        7 => x.index(&[
            Idx::Int(a as i64),
            Idx::slice(Some(b as i64), None, a as i64),
        ]),
        8 => pad(x, &[(a, b)], 0.5),
        9 => concatenate(&[x.clone(), y.clone()], a),
        10 => stack(&[x.clone(), y.clone()], b),
        11 => split(x, a, b).pop().unwrap_or_else(|| x.clone()),
        12 => take(x, &array(&[a, b], &[2]), Some(b)),
        13 => take_along_axis(x, &astype(y, DType::I32), Some(a)),
        14 => topk(x, a, Some(b)),
        15 => partition(x, a, Some(b)),
        16 => matmul(x, y),
        17 => broadcast_to(x, &[a, b]),
        18 => cumsum(x, Some(a), b > 0, a > 0),
        19 => flatten(x, a, b),
        20 => unflatten(x, a, &[b, -1]),
        21 => put_along_axis(x, &astype(y, DType::I32), 1.0, a),
        22 => dynamic_slice(x, &array(&[a], &[1]), &[b], &[1, 1]),
        _ => argmax(x, Some(a), b > 0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the arguments, ops give an array or an error value, and
    /// evaluating gives numbers or that error: never a panic.
    #[test]
    fn ops_never_panic(
        sx in shape(),
        sy in shape(),
        ops in prop::collection::vec((0u8..24, -4i32..5, -4i32..5), 1..5),
    ) {
        let x = array(&data(sx.iter().product()), &to_i32(&sx));
        let y = array(&data(sy.iter().product()), &to_i32(&sy));
        let mut cur = x;
        for (k, a, b) in ops {
            cur = wild_op(k, &cur, &y, a, b);
        }
        match cur.to_vec::<f32>() {
            Ok(v) => prop_assert_eq!(v.len(), cur.size()),
            Err(e) => prop_assert!(!e.op.is_empty() && !e.message.is_empty()),
        }
    }
}
