//! Quantization, convolution, `fast`, `fft`, `linalg` and misc wrappers
//! against real MLX (fixtures from `tools/mlx/gen_api_fixtures.py`):
//! quantize/dequantize bit for bit, matmuls and float math within the
//! case's tolerance, QR by reconstruction; plus properties.

mod mlx_api_support;

use mlx_api_support::{dtype_arg, ints, load, run_cases};
use proptest::prelude::*;
use psionic_mlx::fast::SdpaMask;
use psionic_mlx::fft::FftNorm;
use psionic_mlx::linalg::NormOrd;
use psionic_mlx::*;
use psionic_runtime::exec::Executable;
use serde_json::Value;

fn i(a: &Value, k: &str) -> i32 {
    a[k].as_i64().unwrap() as i32
}
fn pair(a: &Value, k: &str) -> (i32, i32) {
    let v = ints(&a[k]);
    (v[0], v[1])
}
fn triple(a: &Value, k: &str) -> (i32, i32, i32) {
    let v = ints(&a[k]);
    (v[0], v[1], v[2])
}
fn opt_i(a: &Value, k: &str) -> Option<i32> {
    a.get(k).map(|v| v.as_i64().unwrap() as i32)
}
fn norm_of(a: &Value) -> FftNorm {
    match a["norm"].as_str().unwrap_or("backward") {
        "ortho" => FftNorm::Ortho,
        "forward" => FftNorm::Forward,
        _ => FftNorm::Backward,
    }
}
fn mode(a: &Value) -> QuantMode {
    QuantMode::parse(a["mode"].as_str().unwrap()).unwrap()
}

fn call(name: &str, a: &Value, x: &[Array]) -> Vec<Array> {
    match name {
        "quantize" => quantize(&x[0], opt_i(a, "group_size"), opt_i(a, "bits"), mode(a)),
        "dequantize" => {
            let m = mode(a);
            let biases = if m == QuantMode::Affine {
                Some(&x[2])
            } else {
                None
            };
            let dtype = a.get("dtype").map(|d| dtype_arg(d.as_str().unwrap()));
            vec![dequantize(
                &x[0],
                &x[1],
                biases,
                opt_i(a, "group_size"),
                opt_i(a, "bits"),
                m,
                dtype,
            )]
        }
        "quantized_matmul" => {
            let m = mode(a);
            let biases = if m == QuantMode::Affine {
                Some(&x[3])
            } else {
                None
            };
            vec![quantized_matmul(
                &x[0],
                &x[1],
                &x[2],
                biases,
                a["transpose"].as_bool().unwrap(),
                opt_i(a, "group_size"),
                opt_i(a, "bits"),
                m,
            )]
        }
        "gather_qmm" => {
            let only_rhs = a.get("only").is_some();
            let (l, r) = if only_rhs {
                (None, Some(&x[4]))
            } else {
                (Some(&x[4]), Some(&x[5]))
            };
            vec![gather_qmm(
                &x[0],
                &x[1],
                &x[2],
                Some(&x[3]),
                l,
                r,
                true,
                None,
                None,
                mode(a),
            )]
        }
        "conv1d" => vec![conv1d(
            &x[0],
            &x[1],
            i(a, "stride"),
            i(a, "padding"),
            i(a, "dilation"),
            i(a, "groups"),
        )],
        "conv2d" => vec![conv2d(
            &x[0],
            &x[1],
            pair(a, "stride"),
            pair(a, "padding"),
            pair(a, "dilation"),
            i(a, "groups"),
        )],
        "conv3d" => vec![conv3d(
            &x[0],
            &x[1],
            triple(a, "stride"),
            triple(a, "padding"),
            triple(a, "dilation"),
            i(a, "groups"),
        )],
        "conv_transpose1d" => vec![conv_transpose1d(
            &x[0],
            &x[1],
            i(a, "stride"),
            i(a, "padding"),
            i(a, "dilation"),
            i(a, "output_padding"),
            i(a, "groups"),
        )],
        "conv_transpose2d" => vec![conv_transpose2d(
            &x[0],
            &x[1],
            pair(a, "stride"),
            pair(a, "padding"),
            pair(a, "dilation"),
            pair(a, "output_padding"),
            i(a, "groups"),
        )],
        "conv_transpose3d" => vec![conv_transpose3d(
            &x[0],
            &x[1],
            triple(a, "stride"),
            triple(a, "padding"),
            triple(a, "dilation"),
            triple(a, "output_padding"),
            i(a, "groups"),
        )],
        "conv_general" => vec![conv_general(
            &x[0],
            &x[1],
            &ints(&a["stride"]),
            &ints(&a["padding_lo"]),
            &ints(&a["padding_hi"]),
            &ints(&a["kernel_dilation"]),
            &ints(&a["input_dilation"]),
            i(a, "groups"),
            a["flip"].as_bool().unwrap(),
        )],
        "rms_norm" => vec![fast::rms_norm(
            &x[0],
            x.get(1),
            a["eps"].as_f64().unwrap() as f32,
        )],
        "layer_norm" => {
            let has = a["has"].as_str().unwrap();
            let w = if has.contains('w') { x.get(1) } else { None };
            let b = if has.contains('b') { x.get(2) } else { None };
            vec![fast::layer_norm(
                &x[0],
                w,
                b,
                a["eps"].as_f64().unwrap() as f32,
            )]
        }
        "rope" => {
            let base = a.get("base").map(|b| b.as_f64().unwrap() as f32);
            vec![fast::rope(
                &x[0],
                i(a, "dims"),
                a["traditional"].as_bool().unwrap(),
                base,
                a["scale"].as_f64().unwrap() as f32,
                i(a, "offset"),
                x.get(1),
            )]
        }
        "sdpa" => {
            let mask = match a["mask"].as_str().unwrap() {
                "causal" => SdpaMask::Causal,
                "array" => SdpaMask::Array(x[3].clone()),
                _ => SdpaMask::None,
            };
            let sinks = if a.get("sinks").is_some() {
                x.get(3)
            } else {
                None
            };
            vec![fast::scaled_dot_product_attention(
                &x[0],
                &x[1],
                &x[2],
                a["scale"].as_f64().unwrap() as f32,
                mask,
                sinks,
            )]
        }
        "fft" => vec![fft::fft(&x[0], opt_i(a, "n"), i(a, "axis"), norm_of(a))],
        "ifft" => vec![fft::ifft(&x[0], opt_i(a, "n"), i(a, "axis"), norm_of(a))],
        "rfft" => vec![fft::rfft(&x[0], opt_i(a, "n"), i(a, "axis"), norm_of(a))],
        "irfft" => vec![fft::irfft(&x[0], opt_i(a, "n"), i(a, "axis"), norm_of(a))],
        "fft2" => vec![fft::fft2(&x[0], None, &[-2, -1], norm_of(a))],
        "ifft2" => vec![fft::ifft2(&x[0], None, &[-2, -1], norm_of(a))],
        "rfft2" => vec![fft::rfft2(&x[0], None, &[-2, -1], norm_of(a))],
        "irfft2" => vec![fft::irfft2(&x[0], None, &[-2, -1], norm_of(a))],
        "fftn" | "ifftn" | "rfftn" | "irfftn" => {
            let s = a.get("s").map(ints);
            let axes = a.get("axes").map(ints);
            let f = match name {
                "fftn" => fft::fftn,
                "ifftn" => fft::ifftn,
                "rfftn" => fft::rfftn,
                _ => fft::irfftn,
            };
            vec![f(&x[0], s.as_deref(), axes.as_deref(), norm_of(a))]
        }
        "fftshift" => vec![fft::fftshift(&x[0], a.get("axes").map(ints).as_deref())],
        "ifftshift" => vec![fft::ifftshift(&x[0], a.get("axes").map(ints).as_deref())],
        "fftfreq" => vec![fft::fftfreq(i(a, "n"), a["d"].as_f64().unwrap())],
        "rfftfreq" => vec![fft::rfftfreq(i(a, "n"), a["d"].as_f64().unwrap())],
        "norm" => {
            let ord = match a.get("ord").and_then(|o| o.as_str()) {
                None => NormOrd::Default,
                Some("fro") => NormOrd::Fro,
                Some("nuc") => NormOrd::Nuc,
                Some(p) => NormOrd::P(p.parse().unwrap()),
            };
            let axis = a.get("axis").map(ints);
            let keep = a.get("keepdims").is_some();
            vec![linalg::norm(&x[0], ord, axis.as_deref(), keep)]
        }
        "inv" => vec![linalg::inv(&x[0])],
        "tri_inv" => vec![linalg::tri_inv(&x[0], a["upper"].as_bool().unwrap())],
        "cholesky" => vec![linalg::cholesky(&x[0], a["upper"].as_bool().unwrap())],
        "cholesky_inv" => vec![linalg::cholesky_inv(&x[0], a["upper"].as_bool().unwrap())],
        "pinv" => vec![linalg::pinv(&x[0])],
        "solve" => vec![linalg::solve(&x[0], &x[1])],
        "solve_triangular" => vec![linalg::solve_triangular(
            &x[0],
            &x[1],
            a["upper"].as_bool().unwrap(),
        )],
        "eigvalsh" => vec![linalg::eigvalsh(&x[0], "L")],
        "svd_s" => linalg::try_svd(&x[0], false).unwrap(),
        "cross" => vec![linalg::cross(&x[0], &x[1], i(a, "axis"))],
        "as_strided" => {
            let strides: Vec<i64> = ints(&a["strides"]).iter().map(|&s| s as i64).collect();
            vec![as_strided(
                &x[0],
                Some(&ints(&a["shape"])),
                Some(&strides),
                a["offset"].as_i64().unwrap(),
            )]
        }
        "hadamard_transform" => vec![hadamard_transform(
            &x[0],
            a.get("scale").map(|s| s.as_f64().unwrap() as f32),
        )],
        "einsum" => vec![einsum(a["s"].as_str().unwrap(), x)],
        other => panic!("no call for {other}"),
    }
}

#[test]
fn quantize_and_dequantize_are_bit_exact() {
    run_cases(&load(), &["quantize", "dequantize"], call);
}

#[test]
fn quantized_matmuls_match_mlx_bit_for_bit() {
    // MLX's CPU kernels round every product and sum to the dtype (f16 and
    // bf16 accumulate in f16 and bf16); so do Psionic's.
    run_cases(&load(), &["quantized_matmul", "gather_qmm"], call);
}

#[test]
fn compiled_quantization_matches_mlx_bit_for_bit() {
    // The same fixtures as functions compiled by the CPU backend, strictly
    // (no fall-back to the interpreter for the whole program).
    let fns = ["quantize", "dequantize", "quantized_matmul", "gather_qmm"];
    run_cases(&load(), &fns, |name, args, ins| {
        let types: Vec<_> = ins.iter().map(|a| a.ty().clone()).collect();
        let f = trace(|xs: &[Array]| call(name, args, xs), &types)
            .unwrap_or_else(|e| panic!("{name} {args}: {e}"));
        let lits: Vec<_> = ins.iter().map(|a| a.literal().unwrap()).collect();
        Executable::new(f)
            .strict()
            .run(&lits)
            .unwrap_or_else(|e| panic!("{name} {args}: {e}"))
            .into_iter()
            .map(Array::from_literal)
            .collect()
    });
}

#[test]
fn convolutions_match_mlx() {
    run_cases(
        &load(),
        &[
            "conv1d",
            "conv2d",
            "conv3d",
            "conv_transpose1d",
            "conv_transpose2d",
            "conv_transpose3d",
            "conv_general",
        ],
        call,
    );
}

#[test]
fn fast_ops_match_mlx() {
    run_cases(&load(), &["rms_norm", "layer_norm", "rope", "sdpa"], call);
}

#[test]
fn fft_matches_mlx() {
    run_cases(
        &load(),
        &[
            "fft",
            "ifft",
            "rfft",
            "irfft",
            "fft2",
            "ifft2",
            "rfft2",
            "irfft2",
            "fftn",
            "ifftn",
            "rfftn",
            "irfftn",
            "fftshift",
            "ifftshift",
            "fftfreq",
            "rfftfreq",
        ],
        call,
    );
}

#[test]
fn linalg_matches_mlx() {
    run_cases(
        &load(),
        &[
            "norm",
            "inv",
            "tri_inv",
            "cholesky",
            "cholesky_inv",
            "pinv",
            "solve",
            "solve_triangular",
            "eigvalsh",
            "svd_s",
            "cross",
        ],
        call,
    );
}

#[test]
fn qr_reconstructs_mlx_input() {
    let fx = load();
    let a = &fx.inputs("qr")[0];
    let (q, r) = linalg::try_qr(a).unwrap();
    let want = fx.outputs("qr");
    assert_eq!(
        q.shape(),
        want[0]
            .shape()
            .iter()
            .map(|&d| d as i64)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        r.shape(),
        want[1]
            .shape()
            .iter()
            .map(|&d| d as i64)
            .collect::<Vec<_>>()
    );
    let back = matmul(&q, &r).to_vec::<f32>().unwrap();
    for (g, w) in back.iter().zip(a.to_vec::<f32>().unwrap()) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
    // R is upper triangular.
    let rv = r.to_vec::<f32>().unwrap();
    let n = r.shape()[1] as usize;
    for (k, v) in rv.iter().enumerate() {
        if k % n < k / n {
            assert_eq!(*v, 0.0);
        }
    }
}

#[test]
fn misc_ops_match_mlx() {
    run_cases(
        &load(),
        &["as_strided", "hadamard_transform", "einsum"],
        call,
    );
}

#[test]
fn wrapper_errors_name_the_problem() {
    let x = Array::from_slice(&[1.0f32; 12], &[2, 3, 2]);
    let w = Array::from_slice(&[1.0f32; 12], &[2, 3, 2]);
    let e = try_conv2d(&x, &w, (1, 1), (0, 0), (1, 1), 1).unwrap_err();
    assert!(e.to_string().contains("dimensions"), "{e}");
    let e = try_quantize(
        &Array::from_slice(&[1.0f32; 48], &[2, 24]),
        Some(32),
        Some(4),
        QuantMode::Affine,
    )
    .unwrap_err();
    assert!(e.to_string().contains("divisible"), "{e}");
    let e = fast::try_rope(&x, 3, false, Some(10000.0), 1.0, 0, None).unwrap_err();
    assert!(e.to_string().contains("even"), "{e}");
    let e = try_einsum("ii->i", &[Array::from_slice(&[1.0f32; 4], &[2, 2])]).unwrap_err();
    assert!(e.to_string().contains("repeated"), "{e}");
    let e = linalg::try_inv(&Array::from_slice(&[1.0f32; 6], &[2, 3])).unwrap_err();
    assert!(e.to_string().contains("square"), "{e}");
}

fn floats(seed: u64, n: usize) -> Vec<f32> {
    // A small deterministic generator (xorshift) for property inputs.
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0) as f32
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn affine_roundtrip_error_is_within_a_step(seed in proptest::arbitrary::any::<u64>(), gi in 0usize..3, bi in 0usize..6, rows in 1i32..4) {
        // MLX's affine scheme stores the group's end of larger magnitude
        // exactly (the bias) and rescales so that it is `q0` steps from 0;
        // values round to the nearest of the 2^bits levels from there, so
        // they are within half a step, except at the far end: when the
        // rescaled step is a little smaller than (max - min) / (2^bits - 1),
        // values past the last level are clipped to it, within one step
        // (error/step = n (q0 - t) / t <= (n/2) / (n/2), t = |edge| / step0).
        // Real MLX shows the same: up to 0.9993 of a step over these inputs.
        let gs = [32, 64, 128][gi];
        let bits = [2, 3, 4, 5, 6, 8][bi];
        let n_bins = ((1 << bits) - 1) as f32;
        let v = floats(seed, (rows * 128) as usize);
        let w = Array::from_slice(&v, &[rows, 128]);
        let q = quantize(&w, Some(gs), Some(bits), QuantMode::Affine);
        let back = dequantize(&q[0], &q[1], Some(&q[2]), Some(gs), Some(bits), QuantMode::Affine, None)
            .to_vec::<f32>().unwrap();
        let scales = q[1].to_vec::<f32>().unwrap();
        let biases = q[2].to_vec::<f32>().unwrap();
        for (g, (group, bgroup)) in v.chunks(gs as usize).zip(back.chunks(gs as usize)).enumerate() {
            let (scale, bias) = (scales[g], biases[g]);
            let step = scale.abs();
            let edge = if scale > 0.0 {
                group.iter().copied().fold(f32::INFINITY, f32::min)
            } else {
                group.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            };
            prop_assert_eq!(bias, edge, "the bias is the end of larger magnitude");
            for (&a, &b) in group.iter().zip(bgroup) {
                let level = ((b - bias) / scale).round();
                prop_assert!((0.0..=n_bins).contains(&level), "level {level}");
                if a == edge {
                    prop_assert_eq!(b, a, "the edge round-trips exactly");
                }
                let bound = if level == n_bins { step } else { step * 0.5 };
                prop_assert!((a - b).abs() <= bound + 1e-5, "{a} vs {b} (step {step}, level {level})");
            }
        }
    }

    #[test]
    fn quantized_matmul_equals_matmul_of_dequantized(seed in proptest::arbitrary::any::<u64>(), m in 1i32..4, n in 1i32..5, bi in 0usize..6) {
        let bits = [2, 3, 4, 5, 6, 8][bi];
        let w = Array::from_slice(&floats(seed, (n * 64) as usize), &[n, 64]);
        let x = Array::from_slice(&floats(seed ^ 7, (m * 64) as usize), &[m, 64]);
        let q = quantize(&w, Some(32), Some(bits), QuantMode::Affine);
        let y = quantized_matmul(&x, &q[0], &q[1], Some(&q[2]), true, Some(32), Some(bits), QuantMode::Affine)
            .to_vec::<f32>().unwrap();
        let d = dequantize(&q[0], &q[1], Some(&q[2]), Some(32), Some(bits), QuantMode::Affine, None);
        let r = matmul(&x, &transpose(&d)).to_vec::<f32>().unwrap();
        for (a, b) in y.iter().zip(&r) {
            prop_assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn conv_transpose_is_the_adjoint_of_conv(seed in proptest::arbitrary::any::<u64>(), l in 3i32..9, s in 1i32..3, p in 0i32..2) {
        // <conv(x), y> == <x, conv_transpose(y)> for the same weight.
        let (c, o, k) = (2, 3, 3);
        let x = Array::from_slice(&floats(seed, (l * c) as usize), &[1, l, c]);
        let w = Array::from_slice(&floats(seed ^ 3, (o * k * c) as usize), &[o, k, c]);
        let y0 = conv1d(&x, &w, s, p, 1, 1);
        prop_assume!(y0.error().is_none());
        let lo = y0.shape()[1] as i32;
        let y = Array::from_slice(&floats(seed ^ 5, (lo * o) as usize), &[1, lo, o]);
        // The transposed weight maps O channels back to C: [C, K, O].
        let wt = transpose_axes(&w, &[2, 1, 0]);
        let out_pad = l - ((lo - 1) * s - 2 * p + k);
        prop_assume!((0..s.max(1)).contains(&out_pad));
        let xt = conv_transpose1d(&y, &wt, s, p, 1, out_pad, 1);
        let lhs: f32 = multiply(&y0, &y).sum(Axes::All, false).item::<f32>().unwrap();
        let rhs: f32 = multiply(&x, &xt).sum(Axes::All, false).item::<f32>().unwrap();
        prop_assert!((lhs - rhs).abs() <= 1e-3 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }

    #[test]
    fn irfft_inverts_rfft(seed in proptest::arbitrary::any::<u64>(), n in 2i32..17) {
        let x = Array::from_slice(&floats(seed, n as usize), &[n]);
        let back = fft::irfft(&fft::rfft(&x, None, -1, FftNorm::Backward), Some(n), -1, FftNorm::Backward)
            .to_vec::<f32>().unwrap();
        for (a, b) in back.iter().zip(x.to_vec::<f32>().unwrap()) {
            prop_assert!((a - b).abs() < 1e-4);
        }
    }
}
