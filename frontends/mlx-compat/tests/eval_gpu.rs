//! `eval` on a GPU default device: with `set_default_device(Device::Wgpu)`
//! (or `Cuda`) evaluation runs the graph's native code on that device, as
//! MLX's `set_default_device(mx.gpu)` does, and agrees with the reference
//! interpreter; what the device cannot hold (f64 under wgpu) runs on the
//! interpreter. A device that is absent prints a note and is skipped.
//! One test in its own process: the default device and backend are
//! process-wide.

use psionic_mlx::*;
use psionic_runtime::interp::compare_literals;

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

/// softmax(2x + 1) over rows, its row sums and a matmul, as one graph.
fn graph(x: &Array, w: &Array) -> Vec<Array> {
    let y = softmax(&(&(x * 2.0) + 1.0), 1, false);
    vec![sum(&y, 1, false), matmul(&y, w)]
}

#[test]
fn eval_follows_the_default_device() {
    for device in [Device::Wgpu, Device::Cuda] {
        if let Err(e) = device.availability() {
            eprintln!("note: {}; skipping", e.message);
            continue;
        }
        let (x, w) = (data(1, &[64, 33]), data(2, &[33, 7]));
        // Reference: the interpreter.
        set_default_backend(Backend::Interp);
        let want = graph(&x, &w);
        eval(&want.iter().collect::<Vec<_>>()).expect("eval");
        // Native code for every graph, on the device.
        set_default_backend(Backend::Cpu);
        let prev = set_default_device(device).expect("usable device");
        let before = eval_stats();
        let got = graph(&x, &w);
        eval(&got.iter().collect::<Vec<_>>()).unwrap_or_else(|e| panic!("{device}: {e}"));
        let after = eval_stats();
        assert_eq!(
            after.compiled,
            before.compiled + 1,
            "{device}: one compiled graph"
        );
        assert_eq!(
            after.on_gpu,
            before.on_gpu + 1,
            "{device}: run on the device"
        );
        for (g, w) in got.iter().zip(&want) {
            let (g, w) = (g.literal().unwrap(), w.literal().unwrap());
            compare_literals(&g, &w, 64, 1e-4).unwrap_or_else(|e| panic!("{device}: {e}"));
        }
        // The same graph again: the cached executable.
        let again = graph(&x, &w);
        eval(&again.iter().collect::<Vec<_>>()).expect("eval");
        assert_eq!(
            eval_stats().cache_hits,
            after.cache_hits + 1,
            "{device}: cache hit"
        );
        // f64 has no WGSL type: the interpreter runs it, with the right values.
        if device == Device::Wgpu {
            let xd = x.astype(DType::F64);
            let before = eval_stats();
            let y = &(&xd * 3.0) - 1.0;
            eval(&[&y]).expect("eval");
            assert_eq!(eval_stats().interpreted, before.interpreted + 1);
            let want = (&(&x * 3.0) - 1.0).astype(DType::F64);
            set_default_backend(Backend::Interp);
            eval(&[&want]).expect("eval");
            set_default_backend(Backend::Cpu);
            compare_literals(&y.literal().unwrap(), &want.literal().unwrap(), 4, 1e-6)
                .unwrap_or_else(|e| panic!("f64 on wgpu: {e}"));
        }
        set_default_device(prev).expect("previous device");
    }
    set_default_backend(Backend::Auto);
}
