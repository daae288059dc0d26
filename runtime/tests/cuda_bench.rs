//! GPU benchmarks of the CUDA backend (ignored by default; run on a GPU with
//! `cargo test -p psionic-runtime --features cuda --test cuda_bench -- --ignored --nocapture`).
//! Prints one JSON object per line; `bench/gpu_peers.py` times the same
//! workloads with torch.compile and jax.jit on the same card.
//!
//! Workloads (docs/BENCHMARKS.md, GPU section): W1 `gelu_tanh(x*a+b)` on 64M
//! f32; row softmax 8192x8192; layer norm 16384x4096; matmul 8192^3 in
//! f32, TF32 and bf16; the MLP training step 784->1024->10, batch 256
//! (value_and_grad + SGD, replayed as one CUDA graph); compile time of the
//! 200-op chain; device copy bandwidth.
#![cfg(feature = "cuda")]

use psionic_codegen::cuda::CudaOptions;
use psionic_ir::{DType, Func, Literal, TensorType};
use psionic_runtime::cuda::{availability, compile_for, copy_bandwidth};

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn uniform(shape: &[usize], seed: u64, lo: f64, hi: f64, dt: DType) -> Literal {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    Literal::from_f64(dt, shape.to_vec(), &v).unwrap()
}

fn konst(v: f64, ty: &str, id: usize, like: &str) -> String {
    format!(
        "%c{id} = tensor.constant {{value = dense<{v:e}> : tensor<f32>}} : tensor<f32>\n%k{id} = tensor.broadcast_like %c{id}, {like} : {ty}\n"
    )
}

fn gelu(n: usize) -> Func {
    let t = format!("tensor<{n}xf32>");
    let mut s = format!("func @main(%x: {t}) -> ({t}) {{\n");
    s += &konst(0.75, &t, 0, "%x");
    s += &konst(0.1, &t, 1, "%x");
    s += &konst(0.044715, &t, 2, "%x");
    s += &konst((2.0 / std::f64::consts::PI).sqrt(), &t, 3, "%x");
    s += &konst(1.0, &t, 4, "%x");
    s += &konst(0.5, &t, 5, "%x");
    s += &format!(
        "%xa = tensor.multiply %x, %k0 : {t}
%y = tensor.add %xa, %k1 : {t}
%y2 = tensor.multiply %y, %y : {t}
%y3 = tensor.multiply %y2, %y : {t}
%cy = tensor.multiply %y3, %k2 : {t}
%in = tensor.add %y, %cy : {t}
%sc = tensor.multiply %in, %k3 : {t}
%th = tensor.tanh %sc : {t}
%o1 = tensor.add %th, %k4 : {t}
%hy = tensor.multiply %y, %k5 : {t}
%out = tensor.multiply %hy, %o1 : {t}
return %out
}}"
    );
    parse(&s)
}

fn softmax(r: usize, c: usize) -> Func {
    let t = format!("tensor<{r}x{c}xf32>");
    parse(&format!(
        "func @main(%x: {t}) -> ({t}) {{
%s = tensor.softmax %x {{axes = [1]}} : {t}
return %s
}}"
    ))
}

fn layer_norm(r: usize, c: usize) -> Func {
    let t = format!("tensor<{r}x{c}xf32>");
    let t1 = format!("tensor<{r}x1xf32>");
    let v = format!("tensor<{c}xf32>");
    let mut s = format!("func @main(%x: {t}, %w: {v}, %b: {v}) -> ({t}) {{\n");
    s += &format!("%sum = tensor.reduce_sum %x {{axes = [1], keepdims = true}} : {t1}\n");
    s += &konst(1.0 / c as f64, &t1, 0, "%sum");
    s += &konst(1e-5, &t1, 1, "%sum");
    s += &format!(
        "%mean = tensor.multiply %sum, %k0 : {t1}
%mb = tensor.broadcast_like %mean, %x : {t}
%d = tensor.subtract %x, %mb : {t}
%d2 = tensor.multiply %d, %d : {t}
%ss = tensor.reduce_sum %d2 {{axes = [1], keepdims = true}} : {t1}
%var = tensor.multiply %ss, %k0 : {t1}
%ve = tensor.add %var, %k1 : {t1}
%rs = tensor.rsqrt %ve : {t1}
%rb = tensor.broadcast_like %rs, %x : {t}
%nm = tensor.multiply %d, %rb : {t}
%wb = tensor.broadcast_like %w, %x : {t}
%sc = tensor.multiply %nm, %wb : {t}
%bb = tensor.broadcast_like %b, %x : {t}
%out = tensor.add %sc, %bb : {t}
return %out
}}"
    );
    parse(&s)
}

fn matmul(n: usize, dt: DType) -> Func {
    let t = format!("tensor<{n}x{n}x{dt}>");
    parse(&format!(
        "func @main(%a: {t}, %b: {t}) -> ({t}) {{
%c = tensor.matmul %a, %b : {t}
return %c
}}"
    ))
}

fn mlp_loss(b: usize, i: usize, h: usize, c: usize) -> Func {
    let mut s = format!(
        "func @main(%x: tensor<{b}x{i}xf32>, %oh: tensor<{b}x{c}xf32>, %w1: tensor<{i}x{h}xf32>, %b1: tensor<{h}xf32>, %w2: tensor<{h}x{c}xf32>, %b2: tensor<{c}xf32>) -> (tensor<f32>) {{
%xw = tensor.matmul %x, %w1 : tensor<{b}x{h}xf32>
%b1b = tensor.broadcast_like %b1, %xw : tensor<{b}x{h}xf32>
%z1 = tensor.add %xw, %b1b : tensor<{b}x{h}xf32>
"
    );
    s += &konst(0.0, &format!("tensor<{b}x{h}xf32>"), 0, "%z1");
    s += &format!(
        "%hh = tensor.maximum %z1, %k0 : tensor<{b}x{h}xf32>
%hw = tensor.matmul %hh, %w2 : tensor<{b}x{c}xf32>
%b2b = tensor.broadcast_like %b2, %hw : tensor<{b}x{c}xf32>
%lg = tensor.add %hw, %b2b : tensor<{b}x{c}xf32>
%lse = tensor.logsumexp %lg {{axes = [1]}} : tensor<{b}xf32>
%pa = tensor.multiply %lg, %oh : tensor<{b}x{c}xf32>
%pk = tensor.reduce_sum %pa {{axes = [1]}} : tensor<{b}xf32>
%pr = tensor.subtract %lse, %pk : tensor<{b}xf32>
%tot = tensor.reduce_sum %pr {{axes = [0]}} : tensor<f32>
%c9 = tensor.constant {{value = dense<{inv:e}> : tensor<f32>}} : tensor<f32>
%loss = tensor.multiply %tot, %c9 : tensor<f32>
return %loss
}}",
        inv = 1.0 / b as f64
    );
    parse(&s)
}

fn mlp_step(b: usize, i: usize, h: usize, c: usize, lr: f64) -> Func {
    use psionic_ir::{Attrs, Opcode};
    let loss = mlp_loss(b, i, h, c);
    let mut f = psionic_passes::autodiff::value_and_grad(&loss, &[2, 3, 4, 5]).unwrap();
    let value = f.results[0];
    let grads = f.results[1..].to_vec();
    let mut results = vec![value];
    for (k, g) in grads.into_iter().enumerate() {
        let p = f.params[2 + k];
        let ty = f.ty(g).clone();
        let c0 = f
            .push1(
                Opcode::Constant,
                &[],
                Attrs::new().with(
                    "value",
                    psionic_ir::Attr::Dense(Literal::from_f64(DType::F32, vec![], &[lr]).unwrap()),
                ),
            )
            .unwrap();
        let cb = f
            .push1(Opcode::BroadcastLike, &[c0, g], Attrs::new())
            .unwrap();
        let _ = ty;
        let st = f.push1(Opcode::Multiply, &[g, cb], Attrs::new()).unwrap();
        results.push(f.push1(Opcode::Subtract, &[p, st], Attrs::new()).unwrap());
    }
    f.results = results;
    f
}

fn chain(ops: usize, n: usize) -> Func {
    let t = format!("tensor<{n}xf32>");
    let mut s = format!("func @main(%v0: {t}) -> ({t}) {{\n");
    for k in 0..ops {
        let (a, o) = (format!("%v{k}"), format!("%v{}", k + 1));
        s += &match k % 4 {
            0 => format!(
                "{}{o} = tensor.multiply {a}, %k{k} : {t}\n",
                konst(1.0, &t, k, &a)
            ),
            1 => format!(
                "{}{o} = tensor.add {a}, %k{k} : {t}\n",
                konst(0.01, &t, k, &a)
            ),
            2 => format!("{o} = tensor.tanh {a} : {t}\n"),
            _ => format!(
                "{}{o} = tensor.subtract {a}, %k{k} : {t}\n",
                konst(0.005, &t, k, &a)
            ),
        };
    }
    s += &format!("return %v{ops}\n}}");
    parse(&s)
}

fn stats(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(|a, b| a.total_cmp(b));
    (t[t.len() / 2], t[0])
}

fn bench(
    name: &str,
    f: &Func,
    args: &[Literal],
    opts: &CudaOptions,
    bytes: f64,
    flops: f64,
    graph: bool,
    iters: usize,
) {
    let types: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let c = match compile_for(f, &types, opts) {
        Ok(c) => c,
        Err(e) => {
            println!("{{\"bench\":\"{name}\",\"error\":{:?}}}", e.message);
            return;
        }
    };
    let kinds: Vec<String> = c
        .program
        .plan
        .steps
        .iter()
        .map(|s| match s {
            psionic_codegen::cuda::Step::Launch(l) => {
                format!("{:?}", l.shape).chars().take(60).collect()
            }
            psionic_codegen::cuda::Step::Gemm(g) => format!("gemm {:?} tf32={}", g.dtype, g.tf32),
            psionic_codegen::cuda::Step::Lib(l) => format!("lib {}", l.opcode),
        })
        .collect();
    match c.program.time_runs(args, iters, graph) {
        Ok(t) => {
            let (med, min) = stats(t);
            let gbps = if bytes > 0.0 {
                bytes / (med * 1e-3) / 1e9
            } else {
                0.0
            };
            let tflops = if flops > 0.0 {
                flops / (med * 1e-3) / 1e12
            } else {
                0.0
            };
            println!(
                "{{\"bench\":\"{name}\",\"median_ms\":{med:.4},\"min_ms\":{min:.4},\"compile_ms\":{:.2},\"emit_ms\":{:.2},\"jit_ms\":{:.2},\"gbps\":{gbps:.1},\"tflops\":{tflops:.1},\"steps\":{}}}",
                c.compile_ms,
                c.emit_ms,
                c.program.load_ms,
                serde_json::to_string(&kinds).unwrap()
            );
        }
        Err(e) => println!("{{\"bench\":\"{name}\",\"error\":{e:?}}}"),
    }
}

#[test]
#[ignore = "GPU benchmark: run with --ignored on a CUDA machine"]
fn gpu_benchmarks() {
    match availability() {
        Ok(d) => println!("{{\"device\":{d:?}}}"),
        Err(e) => {
            eprintln!("note: {e}; skipping");
            return;
        }
    }
    let bw = copy_bandwidth(1 << 30, 10).unwrap();
    println!("{{\"bench\":\"copy_bandwidth\",\"gbps\":{bw:.1}}}");
    let f32b = 4.0;
    let def = CudaOptions::default();
    let n = 64 << 20;
    bench(
        "W1_gelu_64M",
        &gelu(n),
        &[uniform(&[n], 1, -3.0, 3.0, DType::F32)],
        &def,
        2.0 * n as f64 * f32b,
        0.0,
        false,
        20,
    );
    let (r, c) = (8192, 8192);
    bench(
        "softmax_8192x8192",
        &softmax(r, c),
        &[uniform(&[r, c], 3, -4.0, 4.0, DType::F32)],
        &def,
        2.0 * (r * c) as f64 * f32b,
        0.0,
        false,
        20,
    );
    let (r, c) = (16384, 4096);
    bench(
        "layernorm_16384x4096",
        &layer_norm(r, c),
        &[
            uniform(&[r, c], 4, -2.0, 2.0, DType::F32),
            uniform(&[c], 5, 0.5, 1.5, DType::F32),
            uniform(&[c], 6, -0.5, 0.5, DType::F32),
        ],
        &def,
        2.0 * (r * c) as f64 * f32b,
        0.0,
        false,
        20,
    );
    let m = 8192;
    let fl = 2.0 * (m as f64).powi(3);
    for (name, dt, tf32) in [
        ("matmul_8192_f32", DType::F32, false),
        ("matmul_8192_tf32", DType::F32, true),
        ("matmul_8192_bf16", DType::BF16, false),
    ] {
        let opts = CudaOptions {
            allow_tf32: tf32,
            ..CudaOptions::default()
        };
        bench(
            name,
            &matmul(m, dt),
            &[
                uniform(&[m, m], 7, -1.0, 1.0, dt),
                uniform(&[m, m], 8, -1.0, 1.0, dt),
            ],
            &opts,
            0.0,
            fl,
            false,
            5,
        );
    }
    let (b, i, h, cl) = (256, 784, 1024, 10);
    let mut oh = vec![0.0f64; b * cl];
    for k in 0..b {
        oh[k * cl + (k * 7) % cl] = 1.0;
    }
    let s1 = 1.0 / (i as f64).sqrt();
    let s2 = 1.0 / (h as f64).sqrt();
    let args = vec![
        uniform(&[b, i], 9, 0.0, 1.0, DType::F32),
        Literal::from_f64(DType::F32, vec![b, cl], &oh).unwrap(),
        uniform(&[i, h], 11, -s1, s1, DType::F32),
        uniform(&[h], 12, -0.1, 0.1, DType::F32),
        uniform(&[h, cl], 13, -s2, s2, DType::F32),
        uniform(&[cl], 14, -0.1, 0.1, DType::F32),
    ];
    let step = mlp_step(b, i, h, cl, 0.1);
    bench("mlp_step_graph", &step, &args, &def, 0.0, 0.0, true, 50);
    bench("mlp_step_stream", &step, &args, &def, 0.0, 0.0, false, 50);
    let tf = CudaOptions {
        allow_tf32: true,
        ..CudaOptions::default()
    };
    bench("mlp_step_graph_tf32", &step, &args, &tf, 0.0, 0.0, true, 50);
    // Compile time of the 200-op chain (fresh function each time).
    let n = 1 << 20;
    let mut times = Vec::new();
    let mut emit = Vec::new();
    let mut jit = Vec::new();
    for _ in 0..5 {
        let f = chain(200, n);
        let t0 = std::time::Instant::now();
        let c = compile_for(&f, &[TensorType::from_dims(DType::F32, &[n])], &def).unwrap();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        emit.push(c.emit_ms);
        jit.push(c.program.load_ms);
    }
    let (med, min) = stats(times);
    println!(
        "{{\"bench\":\"compile_chain200\",\"median_ms\":{med:.2},\"min_ms\":{min:.2},\"emit_median_ms\":{:.2},\"jit_median_ms\":{:.2}}}",
        stats(emit).0,
        stats(jit).0
    );
}

/// W1's grid: elementwise grid-stride launches at 4 to 512 blocks of 256
/// threads per SM (`CudaOptions::elementwise_blocks_per_sm`).
#[test]
#[ignore = "GPU benchmark: run with --ignored on a CUDA machine"]
fn elementwise_grid_sweep() {
    if let Err(e) = availability() {
        eprintln!("note: {e}; skipping");
        return;
    }
    let bw = copy_bandwidth(1 << 30, 10).unwrap();
    println!("{{\"bench\":\"copy_bandwidth\",\"gbps\":{bw:.1}}}");
    let n = 64 << 20;
    for per_sm in [4, 16, 64, 128, 256, 512] {
        let opts = CudaOptions {
            elementwise_blocks_per_sm: per_sm,
            ..CudaOptions::default()
        };
        bench(
            &format!("W1_gelu_64M_blocks{per_sm}"),
            &gelu(n),
            &[uniform(&[n], 1, -3.0, 3.0, DType::F32)],
            &opts,
            2.0 * n as f64 * 4.0,
            0.0,
            false,
            20,
        );
    }
}

/// The row kernels' block size: softmax 8192x8192 and layer norm
/// 16384x4096 at 4 to 64 points a thread (`CudaOptions::row_points`;
/// blocks of `clamp(next_pow2(row) / points, 32, 1024)` threads).
#[test]
#[ignore = "GPU benchmark: run with --ignored on a CUDA machine"]
fn row_block_sweep() {
    if let Err(e) = availability() {
        eprintln!("note: {e}; skipping");
        return;
    }
    let bytes = |r: usize, c: usize| 2.0 * (r * c) as f64 * 4.0;
    for points in [4, 8, 16, 32, 64] {
        let opts = CudaOptions {
            row_points: points,
            max_row_block: 1024,
            ..CudaOptions::default()
        };
        let (r, c) = (8192, 8192);
        bench(
            &format!("softmax_8192x8192_points{points}"),
            &softmax(r, c),
            &[uniform(&[r, c], 3, -4.0, 4.0, DType::F32)],
            &opts,
            bytes(r, c),
            0.0,
            false,
            20,
        );
        let (r, c) = (16384, 4096);
        bench(
            &format!("layernorm_16384x4096_points{points}"),
            &layer_norm(r, c),
            &[
                uniform(&[r, c], 4, -2.0, 2.0, DType::F32),
                uniform(&[c], 5, 0.5, 1.5, DType::F32),
                uniform(&[c], 6, -0.5, 0.5, DType::F32),
            ],
            &opts,
            bytes(r, c),
            0.0,
            false,
            20,
        );
    }
}
