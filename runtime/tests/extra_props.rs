//! Properties of the MLX-extras kernels that the MLX fixtures cannot show:
//! round trips, byte layouts MLX's Python API cannot reach (random bits of
//! width 1 and 2), hand-checked semantics, error messages, and robustness on
//! random nearly-valid operands.

use proptest::prelude::*;
use psionic_ir::{Attr, Attrs, DType, Literal, Opcode};
use psionic_runtime::interp::eval_op;
use psionic_runtime::interp::extra::eval;

fn run(op: Opcode, attrs: &Attrs, ins: &[&Literal]) -> Result<Vec<Literal>, String> {
    eval(op, attrs, ins).expect("an extras op")
}

fn f32s(shape: &[usize], v: &[f32]) -> Literal {
    Literal::f32s(shape.to_vec(), v).unwrap()
}

fn c64(shape: &[usize], v: &[(f32, f32)]) -> Literal {
    let bytes: Vec<u8> = v
        .iter()
        .flat_map(|(r, i)| r.to_le_bytes().into_iter().chain(i.to_le_bytes()))
        .collect();
    Literal::from_bytes(DType::C64, shape.to_vec(), bytes).unwrap()
}

fn key(a: u32, b: u32) -> Literal {
    Literal::from_i64(DType::U32, vec![2], &[a as i64, b as i64]).unwrap()
}

fn bits_attrs(shape: &[i64], width: i64) -> Attrs {
    Attrs::new()
        .with("shape", Attr::Ints(shape.to_vec()))
        .with("width", Attr::Int(width))
}

fn fft_attrs(axes: &[i64], inverse: bool, real: bool, odd: bool) -> Attrs {
    Attrs::new()
        .with("axes", Attr::Ints(axes.to_vec()))
        .with("inverse", Attr::Bool(inverse))
        .with("real", Attr::Bool(real))
        .with("odd_out", Attr::Bool(odd))
}

fn quant_attrs(gs: i64, bits: i64) -> Attrs {
    Attrs::new()
        .with("group_size", Attr::Int(gs))
        .with("bits", Attr::Int(bits))
        .with("mode", Attr::Str("affine".into()))
}

#[test]
fn extras_are_reached_through_eval_op_and_others_are_not_extras() {
    let z = c64(&[2], &[(1.0, 2.0), (-3.0, 0.5)]);
    let im = eval_op(Opcode::Imag, &Attrs::new(), &[&z]).unwrap();
    assert_eq!(im[0].to_f64_vec(), vec![2.0, 0.5]);
    let x = f32s(&[2], &[1.0, 2.0]);
    assert!(eval(Opcode::Add, &Attrs::new(), &[&x, &x]).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Width 1 and 2 outputs share the width-4 layout: with the same number of
    /// u32 words, they are byte prefixes of the width-4 output (the last word
    /// truncated), as in MLX's `RandomBits::eval_cpu`.
    #[test]
    fn narrow_random_bits_are_prefixes_of_wide_ones(k0 in any::<u32>(), k1 in any::<u32>(), n in 1usize..40) {
        let k = key(k0, k1);
        let wide = run(Opcode::RandomBits, &bits_attrs(&[n.div_ceil(4) as i64], 4), &[&k]).unwrap();
        let b1 = run(Opcode::RandomBits, &bits_attrs(&[n as i64], 1), &[&k]).unwrap();
        prop_assert_eq!(b1[0].dtype(), DType::U8);
        prop_assert_eq!(b1[0].bytes(), &wide[0].bytes()[..n]);
        let wide2 = run(Opcode::RandomBits, &bits_attrs(&[(2 * n).div_ceil(4) as i64], 4), &[&k]).unwrap();
        let b2 = run(Opcode::RandomBits, &bits_attrs(&[n as i64], 2), &[&k]).unwrap();
        prop_assert_eq!(b2[0].bytes(), &wide2[0].bytes()[..2 * n]);
    }

    /// Each key of a batch of keys draws what it draws alone.
    #[test]
    fn batched_keys_draw_independently(ks in prop::collection::vec(any::<u32>(), 6), n in 1usize..9) {
        let keys = Literal::from_i64(DType::U32, vec![3, 2], &ks.iter().map(|&k| k as i64).collect::<Vec<_>>()).unwrap();
        let all = run(Opcode::RandomBits, &bits_attrs(&[n as i64], 2), &[&keys]).unwrap();
        prop_assert_eq!(all[0].shape(), &[3, n][..]);
        for i in 0..3 {
            let one = run(Opcode::RandomBits, &bits_attrs(&[n as i64], 2), &[&key(ks[2 * i], ks[2 * i + 1])]).unwrap();
            prop_assert_eq!(one[0].bytes(), &all[0].bytes()[i * 2 * n..(i + 1) * 2 * n]);
        }
    }

    /// ifft(fft(x)) = x, over one or two axes.
    #[test]
    fn fft_round_trips(v in prop::collection::vec((-4.0f32..4.0, -4.0f32..4.0), 12), two in any::<bool>()) {
        let x = c64(&[3, 4], &v);
        let axes: &[i64] = if two { &[0, 1] } else { &[1] };
        let f = run(Opcode::Fft, &fft_attrs(axes, false, false, false), &[&x]).unwrap();
        let back = run(Opcode::Fft, &fft_attrs(axes, true, false, false), &[&f[0]]).unwrap();
        let (a, b) = (x.bytes(), back[0].bytes());
        for (p, q) in a.chunks(4).zip(b.chunks(4)) {
            let (p, q) = (f32::from_le_bytes(p.try_into().unwrap()), f32::from_le_bytes(q.try_into().unwrap()));
            prop_assert!((p - q).abs() < 1e-4, "{} vs {}", p, q);
        }
    }

    /// irfft(rfft(x), n) = x for even and odd n.
    #[test]
    fn rfft_round_trips(v in prop::collection::vec(-4.0f32..4.0, 1..16)) {
        let n = v.len();
        let x = f32s(&[n], &v);
        let f = run(Opcode::Fft, &fft_attrs(&[0], false, true, false), &[&x]).unwrap();
        prop_assert_eq!(f[0].shape(), &[n / 2 + 1][..]);
        let back = run(Opcode::Fft, &fft_attrs(&[0], true, true, n % 2 == 1), &[&f[0]]).unwrap();
        for (p, q) in x.to_f64_vec().iter().zip(back[0].to_f64_vec()) {
            prop_assert!((p - q).abs() < 1e-4, "{} vs {}", p, q);
        }
    }

    /// Dequantizing a quantization stays within 1.5 steps of the input, for
    /// every supported bit width and group size. (Not half a step: MLX snaps
    /// the grid so that the group's largest-magnitude end is exact, which
    /// rescales the step and can clip the other end; with 2 bits, a group
    /// [-2.88, 0, ..., 0, 2.84] dequantizes 2.84 to 1.44, in MLX as here.)
    #[test]
    fn quantization_error_is_bounded(
        v in prop::collection::vec(-3.0f32..3.0, 128),
        bits in prop::sample::select(vec![2i64, 3, 4, 5, 6, 8]),
        gs in prop::sample::select(vec![32i64, 64, 128]),
    ) {
        let w = f32s(&[1, 128], &v);
        let a = quant_attrs(gs, bits);
        let q = run(Opcode::Quantize, &a, &[&w]).unwrap();
        prop_assert_eq!(q[0].shape(), &[1, 4 * bits as usize][..]);
        let back = run(Opcode::Dequantize, &a, &[&q[0], &q[1], &q[2]]).unwrap();
        let scales = q[1].to_f64_vec();
        for (i, (x, y)) in v.iter().zip(back[0].to_f64_vec()).enumerate() {
            let step = scales[i / gs as usize].abs();
            prop_assert!((*x as f64 - y).abs() <= 1.5 * step + 1e-5, "element {}: {} vs {} (step {})", i, x, y, step);
        }
    }

    /// A 1x1 convolution with an identity weight is the identity; with groups
    /// it stays the identity per group.
    #[test]
    fn pointwise_identity_convolution(v in prop::collection::vec(-2.0f32..2.0, 24), groups in prop::sample::select(vec![1i64, 2, 4])) {
        let x = f32s(&[2, 3, 4], &v);
        let cg = 4 / groups as usize;
        let mut w = vec![0.0f32; 4 * cg];
        for o in 0..4 {
            w[o * cg + o % cg] = 1.0;
        }
        let w = f32s(&[4, 1, cg], &w);
        let attrs = Attrs::new()
            .with("kernel_strides", Attr::Ints(vec![1]))
            .with("padding_lo", Attr::Ints(vec![0]))
            .with("padding_hi", Attr::Ints(vec![0]))
            .with("kernel_dilation", Attr::Ints(vec![1]))
            .with("input_dilation", Attr::Ints(vec![1]))
            .with("groups", Attr::Int(groups))
            .with("flip", Attr::Bool(false));
        let y = run(Opcode::ConvGeneral, &attrs, &[&x, &w]).unwrap();
        prop_assert_eq!(y[0].to_f64_vec(), x.to_f64_vec());
    }

    /// inverse(A) @ A = I for well-conditioned A; cholesky factors rebuild A.
    #[test]
    fn inverse_and_cholesky_rebuild(v in prop::collection::vec(-1.0f64..1.0, 9)) {
        let n = 3;
        let a: Vec<f64> = (0..9).map(|i| v[i] + if i % 4 == 0 { 4.0 } else { 0.0 }).collect();
        let lit = Literal::from_f64(DType::F64, vec![n, n], &a).unwrap();
        let inv = run(Opcode::Inverse, &Attrs::new().with("tri", Attr::Bool(false)).with("upper", Attr::Bool(false)), &[&lit]).unwrap();
        let iv = inv[0].to_f64_vec();
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| iv[i * n + k] * a[k * n + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                prop_assert!((s - want).abs() < 1e-9, "{} vs {}", s, want);
            }
        }
        // A^T A + I is positive definite.
        let spd: Vec<f64> = (0..9).map(|ij| {
            let (i, j) = (ij / n, ij % n);
            (0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>() + if i == j { 1.0 } else { 0.0 }
        }).collect();
        let lit = Literal::from_f64(DType::F64, vec![n, n], &spd).unwrap();
        let l = run(Opcode::Cholesky, &Attrs::new().with("upper", Attr::Bool(false)), &[&lit]).unwrap()[0].to_f64_vec();
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
                prop_assert!((s - spd[i * n + j]).abs() < 1e-9);
                if j > i {
                    prop_assert_eq!(l[i * n + j], 0.0);
                }
            }
        }
    }
}

#[test]
fn masked_scatter_fills_true_positions_in_order_per_batch() {
    let dst = f32s(&[2, 3], &[0.0; 6]);
    let mask = Literal::from_i64(DType::Bool, vec![2, 3], &[1, 0, 1, 0, 1, 0]).unwrap();
    let src = f32s(&[2, 3], &[10.0, 11.0, 12.0, 20.0, 21.0, 22.0]);
    let out = run(Opcode::MaskedScatter, &Attrs::new(), &[&dst, &mask, &src]).unwrap();
    assert_eq!(out[0].to_f64_vec(), vec![10.0, 0.0, 11.0, 0.0, 20.0, 0.0]);
    let too_few = f32s(&[2, 1], &[1.0, 2.0]);
    let all = Literal::from_i64(DType::Bool, vec![2, 3], &[1; 6]).unwrap();
    let e = run(
        Opcode::MaskedScatter,
        &Attrs::new(),
        &[&dst, &all, &too_few],
    )
    .unwrap_err();
    assert!(e.contains("more than the 1 source elements"), "{e}");
}

#[test]
fn depends_passes_leading_operands_through() {
    let a = f32s(&[2], &[1.0, 2.0]);
    let b = f32s(&[1], &[5.0]);
    let attrs = Attrs::new().with("num_outputs", Attr::Int(1));
    let out = run(Opcode::Depends, &attrs, &[&a, &b]).unwrap();
    assert_eq!(out, vec![a.clone()]);
    let e = run(
        Opcode::Depends,
        &Attrs::new().with("num_outputs", Attr::Int(3)),
        &[&a, &b],
    )
    .unwrap_err();
    assert!(e.contains("num_outputs"), "{e}");
}

#[test]
fn search_sorted_compares_wide_integers_exactly() {
    let s = Literal::from_i64(DType::U64, vec![3], &[1, i64::MAX, -1]).unwrap(); // -1 is u64::MAX
    let v = Literal::from_i64(DType::U64, vec![2], &[i64::MAX, 0]).unwrap();
    let left = run(
        Opcode::SearchSorted,
        &Attrs::new().with("right", Attr::Bool(false)),
        &[&s, &v],
    )
    .unwrap();
    assert_eq!(left[0].to_i64_vec(), vec![1, 0]);
    let right = run(
        Opcode::SearchSorted,
        &Attrs::new().with("right", Attr::Bool(true)),
        &[&s, &v],
    )
    .unwrap();
    assert_eq!(right[0].to_i64_vec(), vec![2, 0]);
}

#[test]
fn errors_name_the_problem() {
    let w = f32s(&[2, 64], &[0.5; 128]);
    let e = run(Opcode::Quantize, &quant_attrs(64, 7), &[&w]).unwrap_err();
    assert!(
        e.contains("bits must be 2, 3, 4, 5, 6 or 8, found 7"),
        "{e}"
    );
    let e = run(Opcode::Quantize, &quant_attrs(48, 4), &[&w]).unwrap_err();
    assert!(e.contains("group_size must be 32, 64 or 128"), "{e}");
    let fkey = f32s(&[2], &[0.0, 1.0]);
    let e = run(Opcode::RandomBits, &bits_attrs(&[3], 4), &[&fkey]).unwrap_err();
    assert!(e.contains("key must be u32"), "{e}");
    let e = run(Opcode::RandomBits, &bits_attrs(&[3], 3), &[&key(1, 2)]).unwrap_err();
    assert!(e.contains("width must be 1, 2 or 4"), "{e}");
    let singular = f32s(&[2, 2], &[1.0, 2.0, 2.0, 4.0]);
    let e = run(
        Opcode::Inverse,
        &Attrs::new()
            .with("tri", Attr::Bool(false))
            .with("upper", Attr::Bool(false)),
        &[&singular],
    )
    .unwrap_err();
    assert!(e.contains("singular"), "{e}");
    let e = run(
        Opcode::Cholesky,
        &Attrs::new().with("upper", Attr::Bool(false)),
        &[&singular],
    )
    .unwrap_err();
    assert!(e.contains("not positive definite"), "{e}");
    let x = f32s(&[1, 4, 6], &[0.0; 24]);
    let e = run(
        Opcode::Hadamard,
        &Attrs::new().with("scale", Attr::Float(1.0)),
        &[&x],
    )
    .unwrap_err();
    assert!(e.contains("2^k, 12*2^k"), "{e}");
}

#[test]
fn empty_matrices_factor_without_panicking() {
    let a = Literal::zeros(DType::F32, vec![0, 3]).unwrap();
    let s = run(
        Opcode::Svd,
        &Attrs::new().with("compute_uv", Attr::Bool(true)),
        &[&a],
    )
    .unwrap();
    assert_eq!(s[0].shape(), &[0, 0]);
    assert_eq!(s[1].shape(), &[0]);
    assert_eq!(
        s[2].to_f64_vec(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    let q = run(Opcode::Qr, &Attrs::new(), &[&a]).unwrap();
    assert_eq!((q[0].shape(), q[1].shape()), (&[0, 0][..], &[0, 3][..]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Random small operands for every extras op, shaped so the shape rules
    /// usually accept them: kernels return results or errors, never panic.
    #[test]
    fn extras_never_panic(which in 0usize..12, dims in prop::collection::vec(0usize..4, 5), seed in any::<u32>(), flag in any::<bool>()) {
        let vals = |n: usize| -> Vec<f32> { (0..n).map(|i| ((i as u32).wrapping_mul(2654435761) ^ seed) as f32 / u32::MAX as f32 - 0.5).collect() };
        let t = |shape: &[usize]| f32s(shape, &vals(shape.iter().product()));
        let (a, b, c) = (dims[0], dims[1], dims[2]);
        let r = std::panic::catch_unwind(|| -> Result<Vec<Literal>, String> {
            match which {
                0 => run(Opcode::Qr, &Attrs::new(), &[&t(&[a, b])]),
                1 => run(Opcode::Svd, &Attrs::new().with("compute_uv", Attr::Bool(flag)), &[&t(&[c, a, b])]),
                2 => run(Opcode::Eigh, &Attrs::new().with("uplo", Attr::Str("L".into())).with("compute_eigenvectors", Attr::Bool(flag)), &[&t(&[a, a])]),
                3 => run(Opcode::Eig, &Attrs::new().with("compute_eigenvectors", Attr::Bool(flag)), &[&t(&[a, a])]),
                4 => run(Opcode::Inverse, &Attrs::new().with("tri", Attr::Bool(flag)).with("upper", Attr::Bool(true)), &[&t(&[a, a])]),
                5 => run(Opcode::Fft, &fft_attrs(&[0], flag, true, a % 2 == 1), &[&if flag { c64(&[a, b], &vec![(0.5, 0.25); a * b]) } else { t(&[a, b]) }]),
                6 => run(Opcode::Sdpa, &Attrs::new().with("scale", Attr::Float(0.5)).with("do_causal", Attr::Bool(flag)).with("has_sinks", Attr::Bool(false)).with("output_logsumexp", Attr::Bool(true)), &[&t(&[1, a, b, c]), &t(&[1, a, dims[3], c]), &t(&[1, a, dims[3], dims[4]])]),
                7 => run(Opcode::Rope, &Attrs::new().with("dims", Attr::Int(2)).with("traditional", Attr::Bool(flag)).with("base", Attr::Float(10.0)).with("scale", Attr::Float(1.0)).with("forward", Attr::Bool(true)), &[&t(&[a, b, 2 + c]), &Literal::from_i64(DType::I32, vec![], &[3]).unwrap()]),
                8 => run(Opcode::LayerNormVjp, &Attrs::new().with("eps", Attr::Float(1e-5)), &[&t(&[a, b]), &t(&[b]), &t(&[]), &t(&[a, b])]),
                9 => run(Opcode::GatherMm, &Attrs::new(), &[&t(&[c, a, b]), &t(&[2, b, a]), &Literal::from_i64(DType::U32, vec![2], &[0, 1]).unwrap(), &Literal::from_i64(DType::U32, vec![2], &[1, 0]).unwrap()]),
                10 => run(Opcode::AsStrided, &Attrs::new().with("shape", Attr::Ints(vec![a as i64, b as i64])).with("strides", Attr::Ints(vec![c as i64, -1])).with("offset", Attr::Int(dims[3] as i64)), &[&t(&[6])]),
                _ => run(Opcode::Dequantize, &quant_attrs(32, 4), &[&Literal::zeros(DType::U32, vec![a, 4 * b]).unwrap(), &t(&[a, b]), &t(&[a, b])]),
            }
        });
        prop_assert!(r.is_ok(), "op {} panicked with dims {:?}", which, dims);
    }
}

/// Extras ops travel through the text form and run in `run_func` like any
/// other op (shapeless: the symbolic batch takes any size).
#[test]
fn extras_parse_print_and_run() {
    let src = r#"func @main(%0: tensor<?x8xf32>, %1: tensor<2xu32>) -> (tensor<?x5xc64>, tensor<?x8xf32>, tensor<3xu8>) {
  %2 = tensor.fft %0 {axes = [1], inverse = false, odd_out = false, real = true} : tensor<?x5xc64>
  %3 = tensor.fft %2 {axes = [1], inverse = true, odd_out = false, real = true} : tensor<?x8xf32>
  %4 = tensor.random_bits %1 {shape = [3], width = 1} : tensor<3xu8>
  return %2, %3, %4
}
"#;
    let m = psionic_ir::text::parse_module(src).expect("parses");
    assert_eq!(psionic_ir::text::print_module(&m), src);
    let x = f32s(
        &[3, 8],
        &(0..24).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
    );
    let out =
        psionic_runtime::interp::run_func(&m.funcs[0], &[x.clone(), key(7, 9)]).expect("runs");
    assert_eq!(out[0].shape(), &[3, 5]);
    for (a, b) in out[1].to_f64_vec().iter().zip(x.to_f64_vec()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let direct = run(Opcode::RandomBits, &bits_attrs(&[3], 1), &[&key(7, 9)]).unwrap();
    assert_eq!(out[2], direct[0]);
}
