//! Evaluation through the reference interpreter, against numbers produced
//! by MLX 0.32 (`pip install "mlx[cpu]"`; the Python that produced each
//! expectation is quoted next to it).

// Expected values are copied verbatim from MLX's output.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use psionic_mlx::*;

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{got:?} vs {want:?}"
        );
    }
}

fn f32s(a: &Array) -> Vec<f32> {
    a.to_vec::<f32>().unwrap()
}
fn i64s(a: &Array) -> Vec<i64> {
    a.to_vec::<i64>().unwrap()
}

fn x23() -> Array {
    array(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])
}

#[test]
fn integer_division_and_remainder_follow_mlx() {
    let i = array(&[7i32, -7], &[2]);
    // i/2 -> [3.5, -3.5] (f32); i//2 -> [3, -4]; i%2 -> [1, 1]; i%-2 -> [-1, -1]; 2//i -> [0, -1]
    close(&f32s(&(&i / 2)), &[3.5, -3.5], 0.0);
    assert_eq!(i64s(&floor_divide(&i, 2)), [3, -4]);
    assert_eq!(i64s(&(&i % 2)), [1, 1]);
    assert_eq!(i64s(&(&i % -2)), [-1, -1]);
    assert_eq!(i64s(&floor_divide(2, &i)), [0, -1]);
    // mx.array([-7, 7]) % mx.array([3, -3]) -> [2, -2]
    assert_eq!(
        i64s(&(array(&[-7i32, 7], &[2]) % array(&[3i32, -3], &[2]))),
        [2, -2]
    );
    let f = array(&[7.5f32, -7.5], &[2]);
    // f//2 -> [3, -4]; f%2 -> [1.5, 0.5]; f%-2 -> [-0.5, -1.5]
    close(&f32s(&floor_divide(&f, 2)), &[3.0, -4.0], 0.0);
    close(&f32s(&(&f % 2)), &[1.5, 0.5], 0.0);
    close(&f32s(&(&f % -2)), &[-0.5, -1.5], 0.0);
    // -mx.array([3, 4], dtype=mx.uint32) -> [4294967293, 4294967292]
    let u = array(&[3u32, 4], &[2]);
    assert_eq!((-&u).to_vec::<u32>().unwrap(), [4294967293, 4294967292]);
    let (q, r) = divmod(&i, 2);
    assert_eq!((i64s(&q), i64s(&r)), (vec![3, -4], vec![1, 1]));
}

#[test]
fn weak_scalars_keep_half_precision() {
    // (mx.array([1.5, 2.5], dtype=mx.float16) * 2.0) -> f16 [3.0, 5.0]
    let h = astype(&array(&[1.5f32, 2.5], &[2]), DType::F16);
    let y = &h * 2.0;
    assert_eq!(y.dtype(), DType::F16);
    close(&f32s(&y), &[3.0, 5.0], 0.0);
    // mx.mean(f16) -> 2.0 (f16)
    close(&f32s(&mean(&h, Axes::All, false)), &[2.0], 0.0);
}

#[test]
fn reductions_match_mlx() {
    let a = array(&[1.0f32, 2.0, 4.0, 3.0, 5.0, 9.0], &[2, 3]);
    // mx.var(a, axis=1) -> [1.5555556, 6.2222223]
    close(&f32s(&var(&a, 1, false, 0)), &[1.5555556, 6.2222223], 1e-6);
    // mx.std(a, axis=0, ddof=1) -> [1.4142135, 2.1213202, 3.5355339]
    close(
        &f32s(&std(&a, 0, false, 1)),
        &[1.4142135, 2.1213202, 3.5355339],
        1e-6,
    );
    // mx.logsumexp(mx.array([1,2,3])) -> 3.4076059
    let i = array(&[1i32, 2, 3], &[3]);
    close(&f32s(&logsumexp(&i, Axes::All, false)), &[3.4076059], 1e-6);
    // mx.softmax(mx.array([1,2,3])) -> [0.09003057, 0.24472848, 0.66524094]
    close(
        &f32s(&softmax(&i, -1, false)),
        &[0.09003057, 0.24472848, 0.66524094],
        1e-6,
    );
    // mx.mean(mx.array([[1,2],[3,5]]), axis=0, keepdims=True) -> [[2.0, 3.5]]
    let m = mean(&array(&[1i32, 2, 3, 5], &[2, 2]), 0, true);
    assert_eq!(m.shape(), &[1, 2]);
    close(&f32s(&m), &[2.0, 3.5], 0.0);
    // sum of bool / int8 -> int32
    assert_eq!(
        sum(&array(&[true, false, true], &[3]), Axes::All, false)
            .item::<i32>()
            .unwrap(),
        2
    );
    assert_eq!(
        prod(&array(&[3i8, 100], &[2]), Axes::All, false)
            .item::<i32>()
            .unwrap(),
        300
    );
    // mx.argmax(mx.array([[1,5],[7,2]]), axis=1) -> [1, 0]
    assert_eq!(
        i64s(&argmax(&array(&[1i32, 5, 7, 2], &[2, 2]), Some(1), false)),
        [1, 0]
    );
    assert!(any(&array(&[0i32, 1], &[2]), Axes::All, false)
        .item::<bool>()
        .unwrap());
    assert!(!all(&array(&[0i32, 1], &[2]), Axes::All, false)
        .item::<bool>()
        .unwrap());
    close(&f32s(&max(&x23(), 1, false)), &[3.0, 6.0], 0.0);
    close(&f32s(&min(&x23(), 0, false)), &[1.0, 2.0, 3.0], 0.0);
}

#[test]
fn scans_match_mlx() {
    let a = array(&[1i32, 2, 3, 4], &[4]);
    // mx.cumsum(a, reverse=True, inclusive=False) -> [9, 7, 4, 0]
    assert_eq!(i64s(&cumsum(&a, Some(0), true, false)), [9, 7, 4, 0]);
    assert_eq!(i64s(&cumprod(&a, None, false, true)), [1, 2, 6, 24]);
    // mx.cummax(mx.array([1,3,2,5]), reverse=True) -> [5, 5, 5, 5]
    assert_eq!(
        i64s(&cummax(&array(&[1i32, 3, 2, 5], &[4]), Some(0), true, true)),
        [5, 5, 5, 5]
    );
    // mx.logcumsumexp(mx.array([1.,2.,3.])) -> [1.0, 2.3132617, 3.4076061]
    let f = array(&[1.0f32, 2.0, 3.0], &[3]);
    close(
        &f32s(&logcumsumexp(&f, Some(0), false, true)),
        &[1.0, 2.3132617, 3.4076061],
        1e-6,
    );
}

#[test]
fn creation_matches_mlx() {
    // mx.linspace(0, 1, 7)
    close(
        &f32s(&linspace(0.0, 1.0, 7, DType::F32)),
        &[0.0, 0.16666667, 0.33333334, 0.5, 0.6666667, 0.8333333, 1.0],
        0.0,
    );
    // mx.linspace(0, 10, 4, dtype=mx.int32) -> [0, 3, 6, 10]
    assert_eq!(i64s(&linspace(0.0, 10.0, 4, DType::I32)), [0, 3, 6, 10]);
    // mx.arange(0, 2, 0.3)
    close(
        &f32s(&arange(0.0f32, 2.0, 0.3)),
        &[0.0, 0.3, 0.6, 0.90000004, 1.2, 1.5, 1.8],
        1e-7,
    );
    assert_eq!(i64s(&arange(0, 5, 1)), [0, 1, 2, 3, 4]);
    // mx.eye(2, 3, k=1); mx.tri(3, 2, k=0)
    close(
        &f32s(&eye(2, 3, 1, DType::F32)),
        &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        0.0,
    );
    close(
        &f32s(&tri(3, 2, 0, DType::F32)),
        &[1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        0.0,
    );
    close(&f32s(&identity(2, DType::F32)), &[1.0, 0.0, 0.0, 1.0], 0.0);
    // mx.tril(x, -1); mx.triu(x, 1)
    close(
        &f32s(&tril(&x23(), -1)),
        &[0.0, 0.0, 0.0, 4.0, 0.0, 0.0],
        0.0,
    );
    close(
        &f32s(&triu(&x23(), 1)),
        &[0.0, 2.0, 3.0, 0.0, 0.0, 6.0],
        0.0,
    );
    close(&f32s(&full(&[2], 2.5, DType::F32)), &[2.5, 2.5], 0.0);
    close(&f32s(&ones_like(&x23())), &[1.0; 6], 0.0);
    assert_eq!(zeros(&[2, 2], DType::I32).to_vec::<i32>().unwrap(), [0; 4]);
}

#[test]
fn slicing_and_layout_match_mlx() {
    let x = x23();
    // x[::-1, 1:] -> [[5, 6], [2, 3]]
    close(
        &f32s(&slice(&x, &[-1, 1], &[i32::MIN, i32::MAX], &[-1, 1])),
        &[5.0, 6.0, 2.0, 3.0],
        0.0,
    );
    // x[:, ::-2] -> [[3, 1], [6, 4]]
    let y = x.index(&[Idx::full(), Idx::slice(None, None, -2)]);
    close(&f32s(&y), &[3.0, 1.0, 6.0, 4.0], 0.0);
    // x[-1:, -2:-1] -> [[5]]
    let y = x.index(&[Idx::slice(Some(-1), None, 1), Idx::range(-2, -1)]);
    assert_eq!(y.shape(), &[1, 1]);
    close(&f32s(&y), &[5.0], 0.0);
    // mx.pad(mx.array([[1,2]]), [(1,0),(0,2)], constant_values=9)
    let p = pad(&array(&[1i32, 2], &[1, 2]), &[(1, 0), (0, 2)], 9);
    assert_eq!(i64s(&p), [9, 9, 9, 9, 1, 2, 9, 9]);
    // mx.stack([i8, i8], axis=1) -> [[1, 1], [2, 2]]
    let i8_ = array(&[1i8, 2], &[2]);
    assert_eq!(i64s(&stack(&[i8_.clone(), i8_], 1)), [1, 1, 2, 2]);
    // mx.split(mx.arange(6), [1, 4])[1] -> [1, 2, 3]
    assert_eq!(i64s(&split(&arange(0, 6, 1), [1, 4], 0)[1]), [1, 2, 3]);
    close(&f32s(&transpose(&x)), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 0.0);
    close(&f32s(&flip(&x, 1)), &[3.0, 2.0, 1.0, 6.0, 5.0, 4.0], 0.0);
    close(
        &f32s(&concatenate(&[x.clone(), x.clone()], 1)),
        &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0],
        0.0,
    );
    let u = slice_update(&x, 0.0, &[0, 0], &[2, 3], &[1, 2]);
    close(&f32s(&u), &[0.0, 2.0, 0.0, 0.0, 5.0, 0.0], 0.0);
    close(
        &f32s(&broadcast_to(&array(&[1.0f32, 2.0], &[2, 1]), &[2, 2])),
        &[1.0, 1.0, 2.0, 2.0],
        0.0,
    );
}

#[test]
fn indexing_and_sorting_match_mlx() {
    let x = array(&[1i32, 2, 3, 4, 5, 6], &[2, 3]);
    // mx.take(x, mx.array([[0,2],[1,-1]]), axis=1) -> [[[1,3],[2,3]],[[4,6],[5,6]]]
    let t = take(&x, &array(&[0i32, 2, 1, -1], &[2, 2]), Some(1));
    assert_eq!(t.shape(), &[2, 2, 2]);
    assert_eq!(i64s(&t), [1, 3, 2, 3, 4, 6, 5, 6]);
    // mx.take(x, mx.array([0, 5])) -> [1, 6]
    assert_eq!(i64s(&take(&x, &array(&[0i32, 5], &[2]), None)), [1, 6]);
    let xf = x23();
    // mx.take_along_axis(x, [[0],[2]], axis=1) -> [[1], [6]]
    let idx = array(&[0i32, 2], &[2, 1]);
    close(
        &f32s(&take_along_axis(&xf, &idx, Some(1))),
        &[1.0, 6.0],
        0.0,
    );
    // mx.put_along_axis(x, [[0],[2]], mx.array(9.0), axis=1) -> [[9,2,3],[4,5,9]]
    close(
        &f32s(&put_along_axis(&xf, &idx, 9.0, 1)),
        &[9.0, 2.0, 3.0, 4.0, 5.0, 9.0],
        0.0,
    );
    // mx.array([0,0,0]).at[mx.array([0,0,2])].add(mx.array([1,2,3])) -> [3, 0, 3]
    let s = scatter_add(
        &zeros(&[3], DType::I32),
        &[array(&[0i32, 0, 2], &[3])],
        &array(&[1i32, 2, 3], &[3, 1]),
        &[0],
    );
    assert_eq!(i64s(&s), [3, 0, 3]);
    // mx.sort([[3,1,2],[0,-1,5]]) -> [[1,2,3],[-1,0,5]]; mx.argsort([3,1,2]) -> [1,2,0]
    assert_eq!(
        i64s(&sort(&array(&[3i32, 1, 2, 0, -1, 5], &[2, 3]), Some(-1))),
        [1, 2, 3, -1, 0, 5]
    );
    assert_eq!(i64s(&argsort(&array(&[3i32, 1, 2], &[3]), None)), [1, 2, 0]);
    // mx.topk(mx.array([3,1,4,1,5,9,2,6]), 3) -> {5, 9, 6} (unordered)
    let v = array(&[3i32, 1, 4, 1, 5, 9, 2, 6], &[8]);
    let mut k = i64s(&topk(&v, 3, Some(-1)));
    k.sort();
    assert_eq!(k, [5, 6, 9]);
    let p = i64s(&partition(&v, 3, None));
    assert_eq!(p[3], 3);
    assert!(p[..3].iter().all(|&e| e <= 3) && p[4..].iter().all(|&e| e >= 3));
    let d = dynamic_slice(&xf, &array(&[1i32], &[1]), &[1], &[2, 2]);
    close(&f32s(&d), &[2.0, 3.0, 5.0, 6.0], 0.0);
    let g = gather(&xf, &[array(&[1i32, 0], &[2])], &[0], &[1, 3]);
    assert_eq!(g.shape(), &[2, 1, 3]);
    close(&f32s(&g), &[4.0, 5.0, 6.0, 1.0, 2.0, 3.0], 0.0);
}

#[test]
fn matmul_and_where_match_mlx() {
    let x = x23();
    // mx.array([1.,2.]) @ x -> [9, 12, 15]
    close(
        &f32s(&matmul(&array(&[1.0f32, 2.0], &[2]), &x)),
        &[9.0, 12.0, 15.0],
        0.0,
    );
    // mx.ones((2,1,2,3)) @ mx.ones((3,3,1)) -> all 3, shape (2,3,2,1)
    let m = matmul(
        &ones(&[2, 1, 2, 3], DType::F32),
        &ones(&[3, 3, 1], DType::F32),
    );
    assert_eq!(m.shape(), &[2, 3, 2, 1]);
    close(&f32s(&m), &[3.0; 12], 0.0);
    // mx.addmm(mx.array([1.,2.]), x, mx.ones((3,2)), alpha=2.0, beta=0.5)
    let a = addmm(
        &array(&[1.0f32, 2.0], &[2]),
        &x,
        &ones(&[3, 2], DType::F32),
        2.0,
        0.5,
    );
    close(&f32s(&a), &[12.5, 13.0, 30.5, 31.0], 0.0);
    // mx.where(mx.array([True, False]), 1, 2.0) -> [1.0, 2.0]
    close(
        &f32s(&r#where(array(&[true, false], &[2]), 1, 2.0)),
        &[1.0, 2.0],
        0.0,
    );
}

#[test]
fn eval_reuses_values_and_keeps_held_intermediates() {
    let x = array(&[1.0f32, 2.0], &[2]);
    let h = exp(&x);
    let y = &h + 1.0;
    y.eval().unwrap();
    // `h` is held here, so evaluating `y` stored its value too.
    assert!(h.is_evaluated());
    let z = &h * 2.0;
    let (f, inputs, _) = eval_plan(&[&z]).unwrap();
    // Only the multiply (and its scalar) run: `h` is an input, not recomputed.
    assert_eq!(inputs.len(), 1);
    assert!(f.ops.iter().all(|o| o.opcode != psionic_ir::Opcode::Exp));
    close(&f32s(&z), &[2.0 * 1f32.exp(), 2.0 * 2f32.exp()], 1e-6);
}

#[test]
fn unary_math_matches_mlx() {
    // x = mx.array([0.25, 0.5, 0.75]); getattr(mx, name)(x)
    let x = array(&[0.25f32, 0.5, 0.75], &[3]);
    let cases: Vec<(&str, Array, Vec<f32>)> = vec![
        ("abs", abs(&x), vec![0.25, 0.5, 0.75]),
        ("negative", negative(&x), vec![-0.25, -0.5, -0.75]),
        ("sign", sign(&x), vec![1.0, 1.0, 1.0]),
        ("square", square(&x), vec![0.0625, 0.25, 0.5625]),
        (
            "sqrt",
            sqrt(&x),
            vec![0.5, 0.7071067690849304, 0.8660253882408142],
        ),
        (
            "rsqrt",
            rsqrt(&x),
            vec![2.0, 1.4142135381698608, 1.154700517654419],
        ),
        (
            "reciprocal",
            reciprocal(&x),
            vec![4.0, 2.0, 1.3333333730697632],
        ),
        (
            "exp",
            exp(&x),
            vec![1.2840254306793213, 1.6487213373184204, 2.116999864578247],
        ),
        (
            "expm1",
            expm1(&x),
            vec![0.2840254306793213, 0.6487212777137756, 1.1169999837875366],
        ),
        (
            "log",
            log(&x),
            vec![
                -1.3862943649291992,
                -0.6931471824645996,
                -0.28768208622932434,
            ],
        ),
        (
            "log1p",
            log1p(&x),
            vec![0.2231435477733612, 0.40546509623527527, 0.5596157908439636],
        ),
        ("log2", log2(&x), vec![-2.0, -1.0, -0.41503751277923584]),
        (
            "log10",
            log10(&x),
            vec![
                -0.6020600199699402,
                -0.3010300099849701,
                -0.12493874877691269,
            ],
        ),
        (
            "sin",
            sin(&x),
            vec![0.24740396440029144, 0.4794255495071411, 0.681638777256012],
        ),
        (
            "cos",
            cos(&x),
            vec![0.9689124226570129, 0.8775825500488281, 0.7316888570785522],
        ),
        (
            "tan",
            tan(&x),
            vec![0.25534191727638245, 0.5463024973869324, 0.9315964579582214],
        ),
        (
            "arcsin",
            arcsin(&x),
            vec![0.252680242061615, 0.5235987901687622, 0.8480620980262756],
        ),
        (
            "arccos",
            arccos(&x),
            vec![1.3181160688400269, 1.0471975803375244, 0.722734272480011],
        ),
        (
            "arctan",
            arctan(&x),
            vec![0.244978666305542, 0.46364760398864746, 0.6435011029243469],
        ),
        (
            "sinh",
            sinh(&x),
            vec![0.25261232256889343, 0.5210952758789062, 0.8223167061805725],
        ),
        (
            "cosh",
            cosh(&x),
            vec![1.0314130783081055, 1.1276259422302246, 1.2946833372116089],
        ),
        (
            "tanh",
            tanh(&x),
            vec![0.24491865932941437, 0.46211716532707214, 0.6351489424705505],
        ),
        (
            "arcsinh",
            arcsinh(&x),
            vec![0.24746647477149963, 0.4812118411064148, 0.6931471824645996],
        ),
        (
            "arctanh",
            arctanh(&x),
            vec![0.2554128170013428, 0.5493061542510986, 0.9729551076889038],
        ),
        (
            "sigmoid",
            sigmoid(&x),
            vec![0.5621764659881592, 0.6224592924118042, 0.6791787147521973],
        ),
        (
            "erf",
            erf(&x),
            vec![0.27632609009742737, 0.520500123500824, 0.7111555933952332],
        ),
        (
            "erfinv",
            erfinv(&x),
            vec![0.22531206905841827, 0.4769362807273865, 0.8134198188781738],
        ),
        ("floor", floor(&x), vec![0.0, 0.0, 0.0]),
        ("ceil", ceil(&x), vec![1.0, 1.0, 1.0]),
        (
            "arccosh",
            arccosh(&(&x + 1.0)),
            vec![0.6931471824645996, 0.9624236822128296, 1.1588103771209717],
        ),
    ];
    for (name, got, want) in cases {
        assert_eq!(got.dtype(), DType::F32, "{name}");
        let got = f32s(&got);
        for (g, w) in got.iter().zip(&want) {
            // A few ulps: libm implementations differ in the last bits.
            assert!(
                (g - w).abs() <= 4.0 * f32::EPSILON * w.abs().max(1.0),
                "{name}: {got:?} vs {want:?}"
            );
        }
    }
    // mx.round(mx.array([1.2345, -2.5, 0.5]), 2) -> [1.23, -2.5, 0.5]; mx.round([1.5, 2.5, -0.5]) -> [2, 2, -0]
    close(
        &f32s(&round(&array(&[1.2345f32, -2.5, 0.5], &[3]), 2)),
        &[1.23, -2.5, 0.5],
        1e-7,
    );
    close(
        &f32s(&round(&array(&[1.5f32, 2.5, -0.5], &[3]), 0)),
        &[2.0, 2.0, -0.0],
        0.0,
    );
    // mx.clip(mx.array([-1, 0.5, 3]), 0, 1) -> [0, 0.5, 1]
    close(
        &f32s(&clip(&array(&[-1.0f32, 0.5, 3.0], &[3]), 0, 1)),
        &[0.0, 0.5, 1.0],
        0.0,
    );
    // mx.arctan2([1, -1], [-1, 2]); mx.logaddexp([1, -1], [-1, 2])
    let (a, b) = (array(&[1.0f32, -1.0], &[2]), array(&[-1.0f32, 2.0], &[2]));
    close(
        &f32s(&arctan2(&a, &b)),
        &[2.356194496154785, -0.46364760398864746],
        1e-6,
    );
    close(
        &f32s(&logaddexp(&a, &b)),
        &[1.1269279718399048, 2.0485873222351074],
        1e-6,
    );
    // Integer inputs are promoted to f32 first: mx.sqrt(mx.array([4, 9])) -> [2, 3]
    close(&f32s(&sqrt(&array(&[4i32, 9], &[2]))), &[2.0, 3.0], 0.0);
}

#[test]
fn integer_power_with_negative_exponents_is_zero() {
    // mx.array([2, 3, -2, 1, -1, -1]) ** mx.array([-1, -2, -3, -2, -1, -2])
    // -> [0, 0, 0, 0, 0, 0] (int32) in MLX 0.32.4: bases 1 and -1 too.
    let p = power(
        array(&[2i32, 3, -2, 1, -1, -1], &[6]),
        array(&[-1i32, -2, -3, -2, -1, -2], &[6]),
    );
    assert_eq!(p.dtype(), DType::I32);
    assert_eq!(p.to_vec::<i32>().unwrap(), [0, 0, 0, 0, 0, 0]);
    // mx.array([7, -7]) ** 2 -> [49, 49]; 2 ** mx.array([1, 2]) -> [2, 4]
    assert_eq!(
        power(array(&[7i32, -7], &[2]), 2).to_vec::<i32>().unwrap(),
        [49, 49]
    );
    assert_eq!(
        power(2, array(&[1i32, 2], &[2])).to_vec::<i32>().unwrap(),
        [2, 4]
    );
}

#[test]
fn numpy_style_indexing_matches_mlx() {
    let x = arange(0, 24, 1).reshape(&[2, 3, 4]);
    // x[:, mx.array([0, 2, 1]), -1] -> [[3, 11, 7], [15, 23, 19]]
    let y = x.index(&[
        Idx::full(),
        Idx::Array(array(&[0i32, 2, 1], &[3])),
        Idx::Int(-1),
    ]);
    assert_eq!(y.shape(), &[2, 3]);
    assert_eq!(i64s(&y), [3, 11, 7, 15, 23, 19]);
    // x[None, 1, :, ::2] -> [[[12, 14], [16, 18], [20, 22]]]
    let y = x.index(&[
        Idx::NewAxis,
        Idx::Int(1),
        Idx::full(),
        Idx::slice(None, None, 2),
    ]);
    assert_eq!(y.shape(), &[1, 3, 2]);
    assert_eq!(i64s(&y), [12, 14, 16, 18, 20, 22]);
    // x[..., mx.array([[3], [0]])] -> shape (2, 3, 2, 1)
    let y = x.index(&[Idx::Ellipsis, Idx::Array(array(&[3i32, 0], &[2, 1]))]);
    assert_eq!(y.shape(), &[2, 3, 2, 1]);
    assert_eq!(i64s(&y), [3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20]);
}

#[test]
fn applying_a_traced_function_gives_what_the_closure_gives() {
    let f = |x: &[Array]| vec![softmax(&(&x[0] * &x[1]), -1, false), sum(&x[0], 0, false)];
    let a = array(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = array(&[0.5f32, -1.0, 2.0], &[3]);
    let func = trace(f, &[a.ty().clone(), b.ty().clone()]).unwrap();
    let direct = f(&[a.clone(), b.clone()]);
    let applied = apply(&func, &[a.clone(), b.clone()]).unwrap();
    for (d, p) in direct.iter().zip(&applied) {
        assert_eq!(d.to_vec::<f32>().unwrap(), p.to_vec::<f32>().unwrap());
    }
    // Inside another trace the function is inlined.
    let g = trace(
        |x| apply(&func, x).unwrap(),
        &[a.ty().clone(), b.ty().clone()],
    )
    .unwrap();
    assert_eq!(g.ops.len(), func.ops.len());
    // A function with a symbolic dimension runs at any size it accepts.
    let h = trace(
        |x| vec![&x[0] * 2.0],
        &[TensorType::new(DType::F32, vec![DYN])],
    )
    .unwrap();
    let r = apply(&h, &[array(&[1.0f32, 2.0, 3.0], &[3])]).unwrap();
    assert_eq!(r[0].to_vec::<f32>().unwrap(), [2.0, 4.0, 6.0]);
    let e = apply(&h, &[array(&[1i32], &[1])]).unwrap_err();
    assert!(e.message.contains("must be tensor<?xf32>"), "{e}");
}

#[test]
fn matmul_with_symbolic_batch_runs_at_any_batch_size() {
    let w = array(&[1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
    w.eval().unwrap();
    let f = trace(
        |x| vec![matmul(&x[0], &w)],
        &[TensorType::new(DType::F32, vec![DYN, 2, 3])],
    )
    .unwrap();
    assert_eq!(
        f.result_types()[0],
        TensorType::new(DType::F32, vec![DYN, 2, 2])
    );
    let x = arange(0.0f32, 12.0, 1.0).reshape(&[2, 2, 3]);
    let r = apply(&f, std::slice::from_ref(&x)).unwrap();
    assert_eq!(r[0].shape(), &[2, 2, 2]);
    assert_eq!(
        r[0].to_vec::<f32>().unwrap(),
        matmul(&x, &w).to_vec::<f32>().unwrap()
    );
}

#[test]
fn separated_advanced_indices_put_their_axes_first_as_numpy() {
    let x = arange(0, 24, 1).reshape(&[2, 3, 4]);
    let i = array(&[0i32, 2, 1], &[3]);
    // x[1, :, i] -> shape (3, 3): [[12, 16, 20], [14, 18, 22], [13, 17, 21]]
    let y = x.index(&[Idx::Int(1), Idx::full(), Idx::Array(i.clone())]);
    assert_eq!(y.shape(), &[3, 3]);
    assert_eq!(i64s(&y), [12, 16, 20, 14, 18, 22, 13, 17, 21]);
    // MLX shapes: x[:, i, 1] (2, 3); x[i, :, 1] (3, 3); x[i, 1] (3, 4);
    // x[1, i] (3, 4); x[None, 1, :, i] (3, 1, 3)
    let shape = |idx: &[Idx]| x.index(idx).shape().to_vec();
    let a = || Idx::Array(i.clone());
    assert_eq!(shape(&[Idx::full(), a(), Idx::Int(1)]), [2, 3]);
    assert_eq!(shape(&[a(), Idx::full(), Idx::Int(1)]), [3, 3]);
    assert_eq!(shape(&[a(), Idx::Int(1)]), [3, 4]);
    assert_eq!(shape(&[Idx::Int(1), a()]), [3, 4]);
    assert_eq!(
        shape(&[Idx::NewAxis, Idx::Int(1), Idx::full(), a()]),
        [3, 1, 3]
    );
}

#[test]
fn evaluation_detaches_arrays_from_their_history() {
    // A 100,000-op chain evaluates in one function and is then released
    // (iteratively: no stack overflow), as MLX detaches evaluated arrays.
    let mut w = array(&[1.0f32, 2.0], &[2]);
    for _ in 0..100_000 {
        w = &w + 1.0;
    }
    assert_eq!(w.opcode(), Some(psionic_ir::Opcode::Add));
    assert_eq!(f32s(&w), [100_001.0, 100_002.0]);
    assert_eq!(w.opcode(), None);
    // A training-loop style update: each step reads only the last value.
    for _ in 0..3 {
        w = &w * 0.5;
        w.eval().unwrap();
        let (f, inputs, _) = eval_plan(&[&(&w - 1.0)]).unwrap();
        assert_eq!((inputs.len(), f.ops.len()), (1, 2));
    }
    assert_eq!(f32s(&w), [12_500.125, 12_500.25]);
}

#[test]
fn along_axis_ops_broadcast_indices_like_mlx() {
    let x = x23();
    // mx.take_along_axis(x, mx.array([[2, 0]]), axis=1) -> [[3, 1], [6, 4]]
    let i = array(&[2i32, 0], &[1, 2]);
    close(
        &f32s(&take_along_axis(&x, &i, Some(1))),
        &[3.0, 1.0, 6.0, 4.0],
        0.0,
    );
    // mx.put_along_axis(x, mx.array([[2, 0]]), mx.array([7., 8.]), axis=1)
    //   -> [[8, 2, 7], [8, 5, 7]]
    let v = array(&[7.0f32, 8.0], &[2]);
    close(
        &f32s(&put_along_axis(&x, &i, &v, 1)),
        &[8.0, 2.0, 7.0, 8.0, 5.0, 7.0],
        0.0,
    );
    // mx.take_along_axis(x, mx.array([1, 0]), axis=None) -> [2, 1]
    let j = array(&[1i32, 0], &[2]);
    close(&f32s(&take_along_axis(&x, &j, None)), &[2.0, 1.0], 0.0);
    // mx.cumsum(x) (flattened); mx.sort(x, axis=None); mx.argmin(x, keepdims=True).shape
    close(
        &f32s(&cumsum(&x, None, false, true)),
        &[1.0, 3.0, 6.0, 10.0, 15.0, 21.0],
        0.0,
    );
    close(&f32s(&sort(&x, None)), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.0);
    assert_eq!(argmin(&x, None, true).shape(), &[1, 1]);
    // mx.var(mx.array([1, 2, 3, 4]), ddof=5) -> inf
    let v = var(&array(&[1i32, 2, 3, 4], &[4]), Axes::All, false, 5);
    assert_eq!(f32s(&v), [f32::INFINITY]);
}

#[test]
fn arrays_print_as_mlx_prints_them() {
    // print(mx.array([1.0, 2.5])) etc. in MLX 0.32
    assert_eq!(
        array(&[1.0f32, 2.5], &[2]).to_string(),
        "array([1, 2.5], dtype=float32)"
    );
    assert_eq!(
        array(&[1i32, 2, 3, 4, 5, 6], &[2, 3]).to_string(),
        "array([[1, 2, 3],\n       [4, 5, 6]], dtype=int32)"
    );
    assert_eq!(scalar(true).to_string(), "array(True, dtype=bool)");
    assert_eq!(
        astype(&array(&[1.5f32], &[1, 1, 1]), DType::F16).to_string(),
        "array([[[1.5]]], dtype=float16)"
    );
    assert_eq!(
        zeros(&[2, 0], DType::F32).to_string(),
        "array([[],\n       []], dtype=float32)"
    );
    assert_eq!(
        array(&[1e-8f32, 3.0], &[2]).to_string(),
        "array([1e-08, 3], dtype=float32)"
    );
    assert_eq!(
        array(&[1u8, 2], &[2]).to_string(),
        "array([1, 2], dtype=uint8)"
    );
    let bad = zeros(&[2], DType::F32) + zeros(&[3], DType::F32);
    assert!(bad
        .to_string()
        .starts_with("array(error: add: shapes [2] and [3]"));
}

#[test]
fn closeness_and_equality_match_mlx() {
    let a = array(&[1.0f32, 2.0, f32::NAN, f32::INFINITY], &[4]);
    let b = array(&[1.0f32 + 1e-9, 2.1, f32::NAN, f32::INFINITY], &[4]);
    // mx.isclose(a, b) -> [True, False, False, True]; equal_nan=True -> [True, False, True, True]
    let c = isclose(&a, &b, 1e-5, 1e-8, false).to_vec::<bool>().unwrap();
    assert_eq!(c, [true, false, false, true]);
    let c = isclose(&a, &b, 1e-5, 1e-8, true).to_vec::<bool>().unwrap();
    assert_eq!(c, [true, false, true, true]);
    let first = |x: &Array| x.index(&[Idx::range(0, 1)]);
    assert!(allclose(&first(&a), &first(&b), 1e-5, 1e-8, false)
        .item::<bool>()
        .unwrap());
    // mx.array_equal([1, 2], [1., 2.]) -> True; with shape [3] -> False
    let i = array(&[1i32, 2], &[2]);
    assert!(array_equal(&i, &array(&[1.0f32, 2.0], &[2]), false)
        .item::<bool>()
        .unwrap());
    assert!(!array_equal(&i, &array(&[1i32, 2, 3], &[3]), false)
        .item::<bool>()
        .unwrap());
}
