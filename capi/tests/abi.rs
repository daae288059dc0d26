//! The C ABI called as C would call it: handles in and out, every error
//! path returning its code and a message (never a panic or a write through
//! an out-pointer on failure), and a loaded MLX function's gradient.

use psionic::ops::NAMES;
use psionic::*;
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};

fn last_error() -> String {
    unsafe { CStr::from_ptr(psi_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn f32_array(data: &[f32], shape: &[i64]) -> *mut PsiArray {
    let mut out = null_mut();
    let rc = unsafe {
        psi_array_from_data(
            data.as_ptr() as *const c_void,
            shape.as_ptr(),
            shape.len(),
            PSI_FLOAT32,
            &mut out,
        )
    };
    assert_eq!(rc, PSI_OK, "{}", last_error());
    out
}

fn read_f32(a: *const PsiArray) -> Vec<f32> {
    let mut n = 0usize;
    assert_eq!(
        unsafe { psi_array_size(a, &mut n) },
        PSI_OK,
        "{}",
        last_error()
    );
    let mut v = vec![0f32; n];
    let rc = unsafe { psi_array_read(a, v.as_mut_ptr() as *mut c_void, n * 4) };
    assert_eq!(rc, PSI_OK, "{}", last_error());
    v
}

fn op(name: &str, inputs: &[*mut PsiArray], kwargs: &str) -> (i32, Vec<*mut PsiArray>) {
    let name = CString::new(name).unwrap();
    let kwargs = CString::new(kwargs).unwrap();
    let ins: Vec<*const PsiArray> = inputs.iter().map(|&p| p as *const PsiArray).collect();
    let mut outs = [null_mut(); 4];
    let mut n = 0usize;
    let rc = unsafe {
        psi_op(
            name.as_ptr(),
            ins.as_ptr(),
            ins.len(),
            kwargs.as_ptr(),
            outs.as_mut_ptr(),
            outs.len(),
            &mut n,
        )
    };
    (rc, outs[..if rc == PSI_OK { n } else { 0 }].to_vec())
}

#[test]
fn arrays_round_trip_every_dtype() {
    for code in 0..=13 {
        let dtype = dtype_of(code).unwrap();
        let bytes: Vec<u8> = (0..6 * dtype.size())
            .map(|i| {
                if dtype == psionic_ir::DType::Bool {
                    (i % 2) as u8
                } else {
                    i as u8
                }
            })
            .collect();
        let mut a = null_mut();
        let shape = [2i64, 3];
        let rc = unsafe {
            psi_array_from_data(
                bytes.as_ptr() as *const c_void,
                shape.as_ptr(),
                2,
                code,
                &mut a,
            )
        };
        assert_eq!(rc, PSI_OK, "{code}: {}", last_error());
        let (mut d, mut ndim) = (-1, 0usize);
        let mut shp = [0i64; 2];
        unsafe {
            assert_eq!(psi_array_dtype(a, &mut d), PSI_OK);
            assert_eq!(psi_array_ndim(a, &mut ndim), PSI_OK);
            assert_eq!(psi_array_shape(a, shp.as_mut_ptr(), 2), PSI_OK);
        }
        assert_eq!((d, ndim, shp), (code, 2, [2, 3]));
        let mut back = vec![0u8; bytes.len()];
        let rc = unsafe { psi_array_read(a, back.as_mut_ptr() as *mut c_void, back.len()) };
        assert_eq!(rc, PSI_OK);
        assert_eq!(back, bytes);
        unsafe { psi_array_free(a) };
    }
}

#[test]
fn bad_arguments_give_codes_and_leave_outputs_alone() {
    let sentinel = std::ptr::dangling_mut::<PsiArray>();
    let mut out = sentinel;
    let d = [1f32];
    let rc = unsafe {
        psi_array_from_data(
            d.as_ptr() as *const c_void,
            [1i64].as_ptr(),
            1,
            99,
            &mut out,
        )
    };
    assert_eq!(rc, PSI_ERROR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("unknown dtype code 99"),
        "{}",
        last_error()
    );
    assert_eq!(out, sentinel);
    let rc = unsafe {
        psi_array_from_data(
            d.as_ptr() as *const c_void,
            [-1i64].as_ptr(),
            1,
            PSI_FLOAT32,
            &mut out,
        )
    };
    assert_eq!(rc, PSI_ERROR_INVALID_ARGUMENT);
    assert!(last_error().contains("non-negative"), "{}", last_error());
    let rc = unsafe { psi_array_from_data(null(), [4i64].as_ptr(), 1, PSI_FLOAT32, &mut out) };
    assert_eq!(rc, PSI_ERROR_NULL_ARGUMENT);
    assert!(last_error().contains("`data` is NULL"), "{}", last_error());
    let rc = unsafe {
        psi_array_from_data(
            d.as_ptr() as *const c_void,
            [1i64].as_ptr(),
            1,
            PSI_FLOAT32,
            null_mut(),
        )
    };
    assert_eq!(rc, PSI_ERROR_NULL_ARGUMENT);
    let mut n = 0usize;
    assert_eq!(
        unsafe { psi_array_size(null(), &mut n) },
        PSI_ERROR_NULL_ARGUMENT
    );
    // Freeing NULL is a no-op.
    unsafe {
        psi_array_free(null_mut());
        psi_function_free(null_mut());
    }
    // A success clears the message.
    let a = f32_array(&[1.0, 2.0], &[2]);
    assert_eq!(last_error(), "");
    // Reading into a buffer of the wrong size.
    let mut small = [0f32; 1];
    let rc = unsafe { psi_array_read(a, small.as_mut_ptr() as *mut c_void, 4) };
    assert_eq!(rc, PSI_ERROR_BUFFER_TOO_SMALL);
    assert!(
        last_error().contains("8 bytes, the buffer has 4"),
        "{}",
        last_error()
    );
    unsafe { psi_array_free(a) };
}

#[test]
fn ops_by_name_with_keywords() {
    let x = f32_array(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let (rc, r) = op("sum", &[x], r#"{"axis": 1, "keepdims": true}"#);
    assert_eq!(rc, PSI_OK, "{}", last_error());
    assert_eq!(read_f32(r[0]), vec![6.0, 15.0]);
    let (rc, r2) = op("multiply", &[x, x], "{}");
    assert_eq!(rc, PSI_OK);
    assert_eq!(read_f32(r2[0]), vec![1.0, 4.0, 9.0, 16.0, 25.0, 36.0]);
    let (rc, parts) = op("split", &[x], r#"{"indices_or_sections": 3, "axis": 1}"#);
    assert_eq!(rc, PSI_OK, "{}", last_error());
    assert_eq!(parts.len(), 3);
    assert_eq!(read_f32(parts[2]), vec![3.0, 6.0]);
    let (rc, t) = op("transpose", &[x], "null");
    assert_eq!(rc, PSI_OK);
    assert_eq!(read_f32(t[0]), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let (rc, z) = op("zeros", &[], r#"{"shape": [2, 2], "dtype": "float32"}"#);
    assert_eq!(rc, PSI_OK);
    assert_eq!(read_f32(z[0]), vec![0.0; 4]);
    for h in r.into_iter().chain(r2).chain(parts).chain(t).chain(z) {
        unsafe { psi_array_free(h) };
    }

    // Every way to get it wrong names the problem.
    let cases: &[(&str, &[*mut PsiArray], &str, i32, &str)] = &[
        (
            "frobnicate",
            &[x],
            "{}",
            PSI_ERROR_UNKNOWN_OP,
            "unknown op `frobnicate` (known: abs, add",
        ),
        (
            "sum",
            &[x],
            "{\"axis\": ",
            PSI_ERROR_INVALID_ARGUMENT,
            "sum: keyword arguments are not valid JSON",
        ),
        (
            "sum",
            &[x],
            "[1]",
            PSI_ERROR_INVALID_ARGUMENT,
            "must be a JSON object",
        ),
        (
            "sum",
            &[x],
            r#"{"axiz": 1}"#,
            PSI_ERROR_INVALID_ARGUMENT,
            "unknown keyword `axiz` (it takes: axes, axis, keepdims)",
        ),
        (
            "sum",
            &[x],
            r#"{"axis": "one"}"#,
            PSI_ERROR_INVALID_ARGUMENT,
            "`axis` must be an integer",
        ),
        ("sum", &[x], r#"{"axis": 5}"#, PSI_ERROR_OP, "sum"),
        (
            "add",
            &[x],
            "{}",
            PSI_ERROR_INVALID_ARGUMENT,
            "add: takes 2 input arrays, 1 given",
        ),
        (
            "reshape",
            &[x],
            "{}",
            PSI_ERROR_INVALID_ARGUMENT,
            "the keyword `shape` is required",
        ),
        (
            "reshape",
            &[x],
            r#"{"shape": [4, 2]}"#,
            PSI_ERROR_OP,
            "reshape",
        ),
        (
            "astype",
            &[x],
            r#"{"dtype": "float128"}"#,
            PSI_ERROR_INVALID_ARGUMENT,
            "unknown dtype `float128`",
        ),
    ];
    for &(name, ins, kw, code, msg) in cases {
        let (rc, outs) = op(name, ins, kw);
        assert_eq!(rc, code, "{name} {kw}: {}", last_error());
        assert!(outs.is_empty());
        assert!(last_error().contains(msg), "{name} {kw}: {}", last_error());
    }

    // Too few output slots: the count needed comes back with the error.
    let name = CString::new("split").unwrap();
    let kw = CString::new(r#"{"indices_or_sections": 3, "axis": 1}"#).unwrap();
    let mut one = [null_mut(); 1];
    let mut n = 0usize;
    let xs = [x as *const PsiArray];
    let rc = unsafe {
        psi_op(
            name.as_ptr(),
            xs.as_ptr(),
            1,
            kw.as_ptr(),
            one.as_mut_ptr(),
            1,
            &mut n,
        )
    };
    assert_eq!(rc, PSI_ERROR_BUFFER_TOO_SMALL);
    assert_eq!(n, 3);
    assert!(one[0].is_null());
    unsafe { psi_array_free(x) };
}

#[test]
fn every_listed_name_is_dispatched() {
    let mut sorted = NAMES.to_vec();
    sorted.sort();
    assert_eq!(sorted, NAMES, "NAMES must stay sorted");
    let x = f32_array(&[1.0], &[1]);
    for name in NAMES {
        let (rc, outs) = op(name, &[x], "{}");
        assert_ne!(rc, PSI_ERROR_UNKNOWN_OP, "{name}: {}", last_error());
        assert_ne!(rc, PSI_ERROR_INTERNAL, "{name}: {}", last_error());
        for h in outs {
            unsafe { psi_array_free(h) };
        }
    }
    unsafe { psi_array_free(x) };
}

#[test]
fn loaded_mlx_function_calls_and_differentiates() {
    let path = CString::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/loss.mlxfn")).unwrap();
    let mut f = null_mut();
    assert_eq!(
        unsafe { psi_function_load(path.as_ptr(), null(), &mut f) },
        PSI_OK,
        "{}",
        last_error()
    );
    // loss(w, x, y) = mean((x @ w - y)^2), w 3x1, x 8x3, y 8x1.
    let w = [0.5f32, -1.0, 2.0];
    let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let y: Vec<f32> = (0..8).map(|i| i as f32 / 3.0 - 1.0).collect();
    let resid: Vec<f64> = (0..8)
        .map(|r| {
            (0..3)
                .map(|c| x[r * 3 + c] as f64 * w[c] as f64)
                .sum::<f64>()
                - y[r] as f64
        })
        .collect();
    let want_loss = resid.iter().map(|e| e * e).sum::<f64>() / 8.0;
    let want_grad: Vec<f64> = (0..3)
        .map(|c| {
            (0..8)
                .map(|r| 2.0 / 8.0 * x[r * 3 + c] as f64 * resid[r])
                .sum()
        })
        .collect();
    let args = [
        f32_array(&w, &[3, 1]),
        f32_array(&x, &[8, 3]),
        f32_array(&y, &[8, 1]),
    ];
    let ins: Vec<*const PsiArray> = args.iter().map(|&p| p as *const PsiArray).collect();
    let mut outs = [null_mut(); 3];
    let mut n = 0usize;
    let rc = unsafe { psi_function_call(f, ins.as_ptr(), 3, outs.as_mut_ptr(), 3, &mut n) };
    assert_eq!(rc, PSI_OK, "{}", last_error());
    assert_eq!(n, 1);
    assert!((read_f32(outs[0])[0] as f64 - want_loss).abs() < 1e-5 * want_loss.max(1.0));
    unsafe { psi_array_free(outs[0]) };

    let rc =
        unsafe { psi_function_grad(f, ins.as_ptr(), 3, null(), 0, outs.as_mut_ptr(), 3, &mut n) };
    assert_eq!(rc, PSI_OK, "{}", last_error());
    let g = read_f32(outs[0]);
    for (a, b) in g.iter().zip(&want_grad) {
        assert!((*a as f64 - b).abs() < 1e-4, "{g:?} vs {want_grad:?}");
    }
    unsafe { psi_array_free(outs[0]) };

    // vjp with cotangent 2 gives twice the gradient, for every input.
    let cot = [f32_array(&[2.0], &[])];
    let cots: Vec<*const PsiArray> = cot.iter().map(|&p| p as *const PsiArray).collect();
    let rc = unsafe {
        psi_function_vjp(
            f,
            ins.as_ptr(),
            3,
            cots.as_ptr(),
            1,
            outs.as_mut_ptr(),
            3,
            &mut n,
        )
    };
    assert_eq!(rc, PSI_OK, "{}", last_error());
    assert_eq!(n, 3);
    for (a, b) in read_f32(outs[0]).iter().zip(&want_grad) {
        assert!((*a as f64 - 2.0 * b).abs() < 2e-4);
    }
    for h in &outs[..n] {
        unsafe { psi_array_free(*h) };
    }
    // Wrong count of cotangents, wrong shapes, bad argnums.
    let rc =
        unsafe { psi_function_vjp(f, ins.as_ptr(), 3, null(), 0, outs.as_mut_ptr(), 3, &mut n) };
    assert_eq!(rc, PSI_ERROR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("1 outputs, 0 cotangents given"),
        "{}",
        last_error()
    );
    let swapped = [ins[1], ins[0], ins[2]];
    let rc = unsafe { psi_function_call(f, swapped.as_ptr(), 3, outs.as_mut_ptr(), 3, &mut n) };
    assert_eq!(rc, PSI_ERROR_OP);
    assert!(!last_error().is_empty());
    let argnums = [7usize];
    let rc = unsafe {
        psi_function_grad(
            f,
            ins.as_ptr(),
            3,
            argnums.as_ptr(),
            1,
            outs.as_mut_ptr(),
            3,
            &mut n,
        )
    };
    assert_eq!(rc, PSI_ERROR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("argnum 7 is out of range"),
        "{}",
        last_error()
    );
    for a in args.into_iter().chain(cot) {
        unsafe { psi_array_free(a) };
    }
    unsafe { psi_function_free(f) };
}

#[test]
fn malformed_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("psionic-capi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("garbage.mlxfn", b"\x00\x01not an mlxfn at all".to_vec()),
        ("garbage.psifn", b"PSIFN\x00\x00\x00".to_vec()),
        (
            "bad.pir",
            b"func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) { return %9 }".to_vec(),
        ),
        ("unknown.ext", b"x".to_vec()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let c = CString::new(p.to_str().unwrap()).unwrap();
        let mut f = null_mut();
        let rc = unsafe { psi_function_load(c.as_ptr(), null(), &mut f) };
        assert_eq!(rc, PSI_ERROR_IO, "{name}");
        assert!(f.is_null());
        assert!(!last_error().is_empty(), "{name}");
    }
    let missing = CString::new(dir.join("nope.mlxfn").to_str().unwrap()).unwrap();
    let mut f = null_mut();
    assert_eq!(
        unsafe { psi_function_load(missing.as_ptr(), null(), &mut f) },
        PSI_ERROR_IO
    );
    std::fs::remove_dir_all(&dir).ok();
}
