//! `compile()` on the GPU devices (`Device::Cuda`, `Device::Wgpu`): every
//! function runs compiled on the device and agrees with the same function
//! compiled for the CPU and with the uncompiled closure evaluated by the
//! reference interpreter; the cache (traces per structure, shapes and
//! dtypes; shapeless: one trace, code per shape) behaves as on the CPU;
//! what a device has no code for runs on the interpreter and says why;
//! the default device (`set_default_device`) is followed at call time; an
//! unusable device is an error naming it.
//!
//! Each device test is in module `cuda` or `wgpu` (`cargo test -p
//! psionic-mlx --test compile_gpu cuda::`). Where the device is absent it
//! prints `note: CUDA backend unavailable: ...; skipping` (or the wgpu
//! reason) and passes. Self-contained: every input is generated here.
//!
//! Tolerances (see docs/BACKENDS.md): integers exact; f32 elementwise math
//! 64 ulp or 1e-5 absolute (Vulkan's precision rules; CUDA is tighter);
//! reductions and matmuls 1e-5 · length absolute (another summation
//! order); f16 one ulp of f16 more than the math; results of the
//! interpreter fallback bit-identical to the interpreter's.

use psionic_mlx::compile::CompileOptions;
use psionic_mlx::transforms::{grad, value_and_grad_argnums, Argnum};
use psionic_mlx::*;
use psionic_runtime::interp::compare_literals;
use std::sync::Mutex;

/// Serializes the tests that change or read the process-wide default
/// device (the others name their device in `CompileOptions`).
static DEFAULT_DEVICE: Mutex<()> = Mutex::new(());

/// True when `d` can run here; otherwise prints why and the test skips.
fn usable(d: Device) -> bool {
    // References are the reference interpreter's (eval's default would
    // compile large graphs for the CPU). Every test sets the same value.
    set_default_backend(Backend::Interp);
    match d.availability() {
        Ok(what) => {
            eprintln!("note: {d} device: {what}");
            true
        }
        Err(e) => {
            eprintln!("note: {}; skipping", e.message);
            false
        }
    }
}

fn on(d: Device) -> CompileOptions {
    CompileOptions {
        device: Some(d),
        ..CompileOptions::default()
    }
}

fn on_shapeless(d: Device) -> CompileOptions {
    CompileOptions {
        shapeless: true,
        device: Some(d),
    }
}

/// Deterministic values in [-2, 2).
fn data(seed: u64, shape: &[i32]) -> Array {
    let n: i32 = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect();
    array(&v, shape)
}

/// `got` against `want`: same dtype and shape, integers exact, floats
/// within `ulps` or `atol`.
fn check(what: &str, got: &Array, want: &Array, ulps: u64, atol: f64) {
    let g = got.literal().unwrap_or_else(|e| panic!("{what}: {e}"));
    let w = want.literal().unwrap_or_else(|e| panic!("{what}: {e}"));
    compare_literals(&g, &w, ulps, atol).unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// Runs `f` compiled on `d` and on the CPU, and uncompiled on the
/// interpreter; checks all three agree and returns the device's outputs.
fn agree<P, O, F>(d: Device, what: &str, f: F, p: &P, ulps: u64, atol: f64) -> Vec<Array>
where
    P: transforms::Tree,
    O: transforms::Tree,
    F: Fn(&P) -> O + Clone,
{
    let dev = compile_with(f.clone(), on(d));
    let cpu = compile_with(f.clone(), on(Device::Cpu));
    let got = dev
        .try_call(p)
        .unwrap_or_else(|e| panic!("{what} on {d}: {e}"))
        .leaves();
    let cpu_out = cpu
        .try_call(p)
        .unwrap_or_else(|e| panic!("{what} on cpu: {e}"))
        .leaves();
    let want = f(p).leaves();
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, ((g, c), w)) in got.iter().zip(&cpu_out).zip(&want).enumerate() {
        check(&format!("{what}[{i}] {d} vs interpreter"), g, w, ulps, atol);
        check(&format!("{what}[{i}] {d} vs cpu"), g, c, ulps, atol);
    }
    assert_eq!(dev.fallback(p).unwrap(), None, "{what}: runs as {d} code");
    got
}

fn gelu_mix(x: &Array) -> Array {
    x * &sigmoid(&(x * 1.702)) + tanh(x) * 0.5 - exp(&(-abs(x)))
}

/// Shader pipelines created so far by the wgpu backend (0 for CUDA):
/// proof that a call ran shaders, not some other code.
#[cfg(not(feature = "wgpu"))]
fn wgpu_pipelines(_: Device) -> usize {
    0
}
#[cfg(feature = "wgpu")]
fn wgpu_pipelines(d: Device) -> usize {
    match d {
        Device::Wgpu => psionic_runtime::wgpu::gpu()
            .map(|g| g.pipeline_count())
            .unwrap_or(0),
        _ => 0,
    }
}

fn elementwise_reductions_matmul_softmax(d: Device) {
    // Odd sizes: partial vectors, partial blocks and workgroups.
    let x = data(1, &[37, 129]);
    let before = wgpu_pipelines(d);
    agree(d, "elementwise", gelu_mix, &x, 64, 1e-5);
    if d == Device::Wgpu {
        assert!(wgpu_pipelines(d) > before, "no shader was created");
    }
    let f16 = x.astype(DType::F16);
    agree(d, "elementwise f16", gelu_mix, &f16, 2, 2e-3);
    agree(
        d,
        "reductions",
        |x: &Array| {
            vec![
                sum(x, -1, false),
                max(x, 0, true),
                mean(x, Axes::All, false),
                var(x, -1, false, 0),
            ]
        },
        &x,
        64,
        1e-5 * 129.0 * 37.0,
    );
    agree(
        d,
        "integer arithmetic and argmax",
        |x: &Array| {
            let i = (x * 1000.0).astype(DType::I32);
            (&i * &i - &i * 3 + 7, x.argmax(Some(-1), false))
        },
        &x,
        0,
        0.0,
    );
    let p = (data(2, &[33, 70]), data(3, &[70, 65]), data(4, &[65]));
    agree(
        d,
        "matmul, bias, relu",
        |p: &(Array, Array, Array)| maximum(&(p.0.matmul(&p.1) + &p.2), 0.0),
        &p,
        64,
        1e-5 * 70.0,
    );
    let batched = (data(5, &[3, 17, 40]), data(6, &[40, 24]));
    agree(
        d,
        "batched matmul",
        |p: &(Array, Array)| p.0.matmul(&p.1),
        &batched,
        64,
        1e-5 * 40.0,
    );
    let rows = data(7, &[64, 300]) * 3.0;
    agree(
        d,
        "softmax and logsumexp",
        |x: &Array| (softmax(x, -1, false), logsumexp(x, -1, true)),
        &rows,
        64,
        1e-5 * 300.0,
    );
    let ln = (data(8, &[48, 96]), data(9, &[96]), data(10, &[96]));
    agree(
        d,
        "layer norm",
        |p: &(Array, Array, Array)| fast::layer_norm(&p.0, Some(&p.1), Some(&p.2), 1e-5),
        &ln,
        64,
        1e-5 * 96.0,
    );
    // Larger: rows longer than a block, a matmul that is real work.
    let big = data(11, &[256, 1000]);
    agree(
        d,
        "large softmax",
        |x: &Array| softmax(x, -1, false),
        &big,
        64,
        1e-5,
    );
    let mm = (data(12, &[128, 256]), data(13, &[256, 192]));
    agree(
        d,
        "large matmul",
        |p: &(Array, Array)| p.0.matmul(&p.1),
        &mm,
        64,
        1e-5 * 256.0,
    );
}

fn cache_hits_follow_structure_shapes_and_dtypes(d: Device) {
    let c = compile_with(gelu_mix, on(d));
    assert_eq!(c.device(), d);
    for seed in 0..3 {
        let x = data(20 + seed, &[9, 31]);
        check("call", &c.try_call(&x).unwrap(), &gelu_mix(&x), 64, 1e-5);
    }
    assert_eq!(c.traces(), 1, "same shape and dtype: one trace");
    assert_eq!(c.specializations(), 1);
    let y = data(30, &[5]);
    check(
        "new shape",
        &c.try_call(&y).unwrap(),
        &gelu_mix(&y),
        64,
        1e-5,
    );
    assert_eq!(c.traces(), 2, "a new shape traces again");
    let z = data(31, &[5]).astype(DType::F16);
    let got = c.try_call(&z).unwrap();
    assert_eq!(got.dtype(), DType::F16);
    check("new dtype", &got, &gelu_mix(&z), 2, 2e-3);
    assert_eq!(c.traces(), 3, "a new dtype traces again");
    assert_eq!(c.specializations(), 3);
    assert!(c.try_call(&y).unwrap().is_evaluated());
    assert_eq!(c.traces(), 3, "cache hit");
    c.clear_cache();
    assert_eq!((c.traces(), c.specializations()), (0, 0));
}

fn shapeless_traces_once(d: Device) {
    let f = |p: &(Array, Array)| exp(&p.0) * &p.1 + sum(&p.0, -1, true);
    let c = compile_with(f, on_shapeless(d));
    for (k, shape) in [[2i32, 4], [3, 7], [1, 1], [16, 130]].iter().enumerate() {
        let p = (data(40 + k as u64, shape), data(50 + k as u64, shape));
        let got = c.try_call(&p).unwrap();
        check(&format!("shapeless {shape:?}"), &got, &f(&p), 64, 1e-4);
        // Again: a cache hit, no new code.
        c.try_call(&p).unwrap();
    }
    assert_eq!(c.traces(), 1, "one shapeless trace");
    assert_eq!(c.specializations(), 4, "code per concrete shape");
    let p = (data(60, &[6]), data(61, &[6]));
    check("new rank", &c.try_call(&p).unwrap(), &f(&p), 64, 1e-5);
    assert_eq!(c.traces(), 2, "a new rank traces again");
    assert!(c
        .traced(&p)
        .unwrap()
        .param_types()
        .iter()
        .all(|t| t.shape == vec![DYN]));
}

fn mlp_logits(p: &[Array], x: &Array) -> Array {
    let h = maximum(&(x.matmul(&p[0]) + &p[1]), 0.0);
    h.matmul(&p[2]) + &p[3]
}

/// `(params, x, labels)`, differentiated with respect to the params.
type Args = (Vec<Array>, Array, Array);

fn loss(p: &Args) -> Array {
    let z = mlp_logits(&p.0, &p.1);
    let picked = take_along_axis(&z, &expand_dims(&p.2, -1), Some(-1)).squeeze(-1);
    mean(&(logsumexp(&z, -1, false) - picked), Axes::All, false)
}

fn init() -> Args {
    let params = vec![
        data(70, &[6, 16]) * 0.3,
        data(71, &[16]) * 0.1,
        data(72, &[16, 4]) * 0.3,
        data(73, &[4]) * 0.1,
    ];
    let x = data(74, &[8, 6]);
    let labels = array(&[0i32, 1, 2, 3, 3, 2, 1, 0], &[8]);
    (params, x, labels)
}

fn sgd_step(p: &Args) -> (Array, Vec<Array>) {
    let (l, g) = value_and_grad_argnums(loss, Argnum::<0>)(p);
    let new: Vec<Array> = p.0.iter().zip(&g).map(|(w, d)| w - &(d * 0.5)).collect();
    (l, new)
}

fn a_grad_step_trains(d: Device) {
    // One compiled program: forward, backward (a gather of the labels
    // and its scatter-add), SGD.
    let step = compile_with(sgd_step, on(d));
    let cpu = compile_with(sgd_step, on(Device::Cpu));
    let (mut params, x, labels) = init();
    let mut losses = Vec::new();
    for _ in 0..12 {
        let args = (params.clone(), x.clone(), labels.clone());
        let (l, new) = step.try_call(&args).unwrap();
        let (l_cpu, new_cpu) = cpu.try_call(&args).unwrap();
        let (l_ref, new_ref) = sgd_step(&args);
        check("loss vs cpu", &l, &l_cpu, 64, 1e-5);
        check("loss vs interpreter", &l, &l_ref, 64, 1e-5);
        for (i, ((a, b), c)) in new.iter().zip(&new_cpu).zip(&new_ref).enumerate() {
            check(&format!("param {i} vs cpu"), a, b, 64, 1e-5);
            check(&format!("param {i} vs interpreter"), a, c, 64, 1e-5);
        }
        losses.push(l.item::<f32>().unwrap());
        params = new;
    }
    assert_eq!(step.traces(), 1, "one trace for the whole loop");
    assert_eq!(step.fallback(&(params, x, labels)).unwrap(), None);
    assert!(losses[11] < 0.5 * losses[0], "the loss falls: {losses:?}");
    // Inside a transform a compiled function is inlined: grad of it
    // matches grad of the closure.
    let f = |x: &Array| sum(&(gelu_mix(x) * x), Axes::All, false);
    let x = data(75, &[4, 9]);
    let g = grad(compile_with(f, on(d)))(&x);
    check("grad(compile)", &g, &grad(f)(&x), 64, 1e-5);
}

/// `z * z + 1` summed over the last axis, for any dtype.
fn square_sum(x: &Array) -> (Array, Array) {
    let y = x * x + x * 2 - 1;
    (y.clone(), sum(&y, -1, false))
}

fn complex_abs(x: &Array) -> Array {
    let z = x.astype(DType::C64);
    abs(&(&z * &z + 1.0))
}

fn what_the_device_cannot_hold_runs_on_the_interpreter(d: Device) {
    let x = data(80, &[3, 10]);
    // Complex values: every device compiles them (f32 pairs).
    let c = compile_with(complex_abs, on(d));
    assert_eq!(c.fallback(&x).unwrap(), None, "complex is {d} code");
    check(
        "complex",
        &c.try_call(&x).unwrap(),
        &complex_abs(&x),
        64,
        1e-5,
    );

    // f64, and i64 past 2^53: WGSL has neither, CUDA computes both.
    let x64 = x.astype(DType::F64) * 1e3;
    let big: Vec<i64> = (0..30)
        .map(|i| (1i64 << 55) + i * 1_000_003 - (i % 7) * (1 << 40))
        .collect();
    let i64s = array(&big, &[3, 10]);
    for (name, x) in [("f64", &x64), ("i64", &i64s)] {
        let c = compile_with(square_sum, on(d));
        let reason = c.fallback(x).unwrap();
        let got = c.try_call(x).unwrap();
        let want = square_sum(x);
        match d {
            Device::Wgpu => {
                let r = format!("wgpu: {name} has no WGSL type");
                assert_eq!(reason.as_deref(), Some(r.as_str()));
                // The interpreter itself.
                check(name, &got.0, &want.0, 0, 0.0);
                check(name, &got.1, &want.1, 0, 0.0);
            }
            _ => {
                assert_eq!(reason, None, "{name} is {d} code");
                // Integers exact (wrapping past 2^63 like the
                // interpreter); f64 arithmetic exact up to the sum's order.
                check(name, &got.0, &want.0, 0, 0.0);
                check(name, &got.1, &want.1, 4, 1e-9);
            }
        }
    }
    // A specialization that falls back sits beside native ones.
    let c = compile_with(square_sum, on(d));
    c.try_call(&x).unwrap();
    c.try_call(&x64).unwrap();
    assert_eq!(c.fallback(&x).unwrap(), None);
    assert_eq!(c.traces(), 2);
}

fn compile_follows_the_default_device(d: Device) {
    let _g = DEFAULT_DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    // f64: the CPU and CUDA compile it, WGSL has no type for it, so
    // the fallback reason tells which backend the call used.
    let c = compile(square_sum);
    let x = data(90, &[2, 5]).astype(DType::F64);
    let before = set_default_device(d).unwrap();
    assert_eq!(default_device(), d);
    assert_eq!(c.device(), d);
    let on_device = c.fallback(&x).unwrap();
    let got = c.try_call(&x).unwrap();
    let want = square_sum(&x);
    check("on device", &got.0, &want.0, 0, 0.0);
    check("on device", &got.1, &want.1, 4, 1e-9);
    set_default_device(Device::Cpu).unwrap();
    let on_cpu = c.fallback(&x).unwrap();
    set_default_device(before).unwrap();
    match d {
        Device::Wgpu => assert_eq!(on_device.as_deref(), Some("wgpu: f64 has no WGSL type")),
        _ => assert_eq!(on_device, None),
    }
    assert_eq!(on_cpu, None);
    assert_eq!(c.traces(), 1, "one trace serves every device");
    // Real code on the default device, too.
    let _ = set_default_device(d).unwrap();
    let g = compile(gelu_mix);
    let y = data(91, &[7, 7]);
    check(
        "default device",
        &g.try_call(&y).unwrap(),
        &gelu_mix(&y),
        64,
        1e-5,
    );
    assert_eq!(g.fallback(&y).unwrap(), None);
    set_default_device(before).unwrap();
}

macro_rules! device_tests {
    ($device:ident, $($test:ident),*) => {$(
        #[test]
        fn $test() {
            if super::usable(super::Device::$device) {
                super::$test(super::Device::$device);
            }
        }
    )*};
}

mod cuda {
    device_tests!(
        Cuda,
        elementwise_reductions_matmul_softmax,
        cache_hits_follow_structure_shapes_and_dtypes,
        shapeless_traces_once,
        a_grad_step_trains,
        what_the_device_cannot_hold_runs_on_the_interpreter,
        compile_follows_the_default_device
    );
}

mod wgpu {
    device_tests!(
        Wgpu,
        elementwise_reductions_matmul_softmax,
        cache_hits_follow_structure_shapes_and_dtypes,
        shapeless_traces_once,
        a_grad_step_trains,
        what_the_device_cannot_hold_runs_on_the_interpreter,
        compile_follows_the_default_device
    );
}

#[test]
fn an_unusable_device_is_an_error_naming_it() {
    let _g = DEFAULT_DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    set_default_backend(Backend::Interp);
    let x = data(100, &[4]);
    let mut checked = 0;
    for d in [Device::Cuda, Device::Wgpu] {
        let Err(why) = d.availability() else {
            continue;
        };
        checked += 1;
        assert_eq!(why.op, "device");
        let backend = match d {
            Device::Cuda => "CUDA backend unavailable: ",
            _ => "wgpu backend unavailable: ",
        };
        assert!(why.message.starts_with(backend), "{why}");
        assert!(!d.is_available());

        let c = compile_with(gelu_mix, on(d));
        let e = c.try_call(&x).unwrap_err();
        assert_eq!(e.op, "compile");
        assert_eq!(e.message, format!("device {}: {}", d.name(), why.message));
        assert_eq!(c.fallback(&x).unwrap_err(), e);
        // The infallible call carries the error in its outputs.
        assert_eq!(c.call(&x).literal().unwrap_err(), e);
        // Inside a transform nothing runs on the device: it is inlined.
        let g = grad(compile_with(
            |x: &Array| sum(&gelu_mix(x), Axes::All, false),
            on(d),
        ))(&x);
        check(
            "grad",
            &g,
            &grad(|x: &Array| sum(&gelu_mix(x), Axes::All, false))(&x),
            0,
            0.0,
        );

        let before = default_device();
        let e = set_default_device(d).unwrap_err();
        assert_eq!(e, why);
        assert_eq!(default_device(), before, "a failed set changes nothing");
    }
    // MLX's `mx.gpu`: the first usable GPU, or both reasons.
    match Device::gpu() {
        Ok(g) => assert!(g.is_available()),
        Err(e) => {
            assert!(
                e.message.contains("CUDA backend unavailable")
                    && e.message.contains("wgpu backend unavailable"),
                "{e}"
            );
        }
    }
    if checked == 0 {
        eprintln!("note: every device is usable here; the unusable-device checks did not run");
    }
    assert_eq!(Device::Cpu.availability().map(|_| ()), Ok(()));
}
