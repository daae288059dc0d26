//! Evaluation through the reference interpreter, against numbers produced
//! by MLX 0.32 (`pip install "mlx[cpu]"`; the Python that produced each
//! expectation is quoted next to it).

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
    assert_eq!(i64s(&(array(&[-7i32, 7], &[2]) % array(&[3i32, -3], &[2]))), [2, -2]);
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
    close(&f32s(&std(&a, 0, false, 1)), &[1.4142135, 2.1213202, 3.5355339], 1e-6);
    // mx.logsumexp(mx.array([1,2,3])) -> 3.4076059
    let i = array(&[1i32, 2, 3], &[3]);
    close(&f32s(&logsumexp(&i, Axes::All, false)), &[3.4076059], 1e-6);
    // mx.softmax(mx.array([1,2,3])) -> [0.09003057, 0.24472848, 0.66524094]
    close(&f32s(&softmax(&i, -1, false)), &[0.09003057, 0.24472848, 0.66524094], 1e-6);
    // mx.mean(mx.array([[1,2],[3,5]]), axis=0, keepdims=True) -> [[2.0, 3.5]]
    let m = mean(&array(&[1i32, 2, 3, 5], &[2, 2]), 0, true);
    assert_eq!(m.shape(), &[1, 2]);
    close(&f32s(&m), &[2.0, 3.5], 0.0);
    // sum of bool / int8 -> int32
    assert_eq!(sum(&array(&[true, false, true], &[3]), Axes::All, false).item::<i32>().unwrap(), 2);
    assert_eq!(prod(&array(&[3i8, 100], &[2]), Axes::All, false).item::<i32>().unwrap(), 300);
    // mx.argmax(mx.array([[1,5],[7,2]]), axis=1) -> [1, 0]
    assert_eq!(i64s(&argmax(&array(&[1i32, 5, 7, 2], &[2, 2]), Some(1), false)), [1, 0]);
    assert!(any(&array(&[0i32, 1], &[2]), Axes::All, false).item::<bool>().unwrap());
    assert!(!all(&array(&[0i32, 1], &[2]), Axes::All, false).item::<bool>().unwrap());
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
    assert_eq!(i64s(&cummax(&array(&[1i32, 3, 2, 5], &[4]), Some(0), true, true)), [5, 5, 5, 5]);
    // mx.logcumsumexp(mx.array([1.,2.,3.])) -> [1.0, 2.3132617, 3.4076061]
    let f = array(&[1.0f32, 2.0, 3.0], &[3]);
    close(&f32s(&logcumsumexp(&f, Some(0), false, true)), &[1.0, 2.3132617, 3.4076061], 1e-6);
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
    close(&f32s(&eye(2, 3, 1, DType::F32)), &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 0.0);
    close(&f32s(&tri(3, 2, 0, DType::F32)), &[1.0, 0.0, 1.0, 1.0, 1.0, 1.0], 0.0);
    close(&f32s(&identity(2, DType::F32)), &[1.0, 0.0, 0.0, 1.0], 0.0);
    // mx.tril(x, -1); mx.triu(x, 1)
    close(&f32s(&tril(&x23(), -1)), &[0.0, 0.0, 0.0, 4.0, 0.0, 0.0], 0.0);
    close(&f32s(&triu(&x23(), 1)), &[0.0, 2.0, 3.0, 0.0, 0.0, 6.0], 0.0);
    close(&f32s(&full(&[2], 2.5, DType::F32)), &[2.5, 2.5], 0.0);
    close(&f32s(&ones_like(&x23())), &[1.0; 6], 0.0);
    assert_eq!(zeros(&[2, 2], DType::I32).to_vec::<i32>().unwrap(), [0; 4]);
}

#[test]
fn slicing_and_layout_match_mlx() {
    let x = x23();
    // x[::-1, 1:] -> [[5, 6], [2, 3]]
    close(&f32s(&slice(&x, &[-1, 1], &[i32::MIN, i32::MAX], &[-1, 1])), &[5.0, 6.0, 2.0, 3.0], 0.0);
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
    close(&f32s(&concatenate(&[x.clone(), x.clone()], 1)), &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0], 0.0);
    let u = slice_update(&x, 0.0, &[0, 0], &[2, 3], &[1, 2]);
    close(&f32s(&u), &[0.0, 2.0, 0.0, 0.0, 5.0, 0.0], 0.0);
    close(&f32s(&broadcast_to(&array(&[1.0f32, 2.0], &[2, 1]), &[2, 2])), &[1.0, 1.0, 2.0, 2.0], 0.0);
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
    close(&f32s(&take_along_axis(&xf, &idx, Some(1))), &[1.0, 6.0], 0.0);
    // mx.put_along_axis(x, [[0],[2]], mx.array(9.0), axis=1) -> [[9,2,3],[4,5,9]]
    close(&f32s(&put_along_axis(&xf, &idx, 9.0, 1)), &[9.0, 2.0, 3.0, 4.0, 5.0, 9.0], 0.0);
    // mx.array([0,0,0]).at[mx.array([0,0,2])].add(mx.array([1,2,3])) -> [3, 0, 3]
    let s = scatter_add(
        &zeros(&[3], DType::I32),
        &[array(&[0i32, 0, 2], &[3])],
        &array(&[1i32, 2, 3], &[3, 1]),
        &[0],
    );
    assert_eq!(i64s(&s), [3, 0, 3]);
    // mx.sort([[3,1,2],[0,-1,5]]) -> [[1,2,3],[-1,0,5]]; mx.argsort([3,1,2]) -> [1,2,0]
    assert_eq!(i64s(&sort(&array(&[3i32, 1, 2, 0, -1, 5], &[2, 3]), Some(-1))), [1, 2, 3, -1, 0, 5]);
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
    close(&f32s(&matmul(&array(&[1.0f32, 2.0], &[2]), &x)), &[9.0, 12.0, 15.0], 0.0);
    // mx.ones((2,1,2,3)) @ mx.ones((3,3,1)) -> all 3, shape (2,3,2,1)
    let m = matmul(&ones(&[2, 1, 2, 3], DType::F32), &ones(&[3, 3, 1], DType::F32));
    assert_eq!(m.shape(), &[2, 3, 2, 1]);
    close(&f32s(&m), &[3.0; 12], 0.0);
    // mx.addmm(mx.array([1.,2.]), x, mx.ones((3,2)), alpha=2.0, beta=0.5)
    let a = addmm(&array(&[1.0f32, 2.0], &[2]), &x, &ones(&[3, 2], DType::F32), 2.0, 0.5);
    close(&f32s(&a), &[12.5, 13.0, 30.5, 31.0], 0.0);
    // mx.where(mx.array([True, False]), 1, 2.0) -> [1.0, 2.0]
    close(&f32s(&r#where(array(&[true, false], &[2]), 1, 2.0)), &[1.0, 2.0], 0.0);
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
