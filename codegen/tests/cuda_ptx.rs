//! PTX emission of the CUDA backend, without a GPU: golden files for
//! representative kernels (`tests/ptx/*.ptx`, bless with `PSIONIC_BLESS=1`)
//! and structural checks on every elementwise op and dtype (every kernel is
//! emitted, registers are declared, labels resolve, braces balance).
//! Where NVIDIA's assembler is installed (`PSIONIC_PTXAS`, or `ptxas` on
//! the `PATH`; `.ci/run` installs it from PyPI's `nvidia-cuda-nvcc-cu12`),
//! every module is also assembled for sm_90 and must be accepted. Whether
//! the code computes the right numbers is checked on the GPU by
//! `psionic-runtime`'s `cuda_device` test.
#![cfg(feature = "cuda")]

use psionic_codegen::cuda::{plan_program, CudaOptions, Step};
use psionic_ir::kernel::text::parse_program;
use psionic_ir::DType;
use std::path::PathBuf;

fn plan(src: &str) -> psionic_codegen::cuda::CudaPlan {
    let p = parse_program(src).unwrap_or_else(|e| panic!("{e}"));
    plan_program(&p, &CudaOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// NVIDIA's PTX assembler, if installed: `PSIONIC_PTXAS`, else `ptxas` on
/// the `PATH`.
fn ptxas() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PSIONIC_PTXAS") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("ptxas"))
        .find(|p| p.is_file())
}

/// Assembles `ptx` for sm_90 with `ptxas` where it is installed (a note
/// once where it is not) and fails with the assembler's message if it is
/// refused.
fn assembles(ptx: &str) {
    static NOTE: std::sync::Once = std::sync::Once::new();
    let Some(exe) = ptxas() else {
        NOTE.call_once(|| {
            eprintln!("note: ptxas not found (set PSIONIC_PTXAS): PTX checked structurally only")
        });
        return;
    };
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("psionic-ptxas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("m{k}.ptx"));
    std::fs::write(&src, ptx).unwrap();
    let out = std::process::Command::new(&exe)
        .args(["-arch=sm_90", "-o"])
        .arg(dir.join(format!("m{k}.cubin")))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    assert!(
        out.status.success(),
        "ptxas refused the module ({}):\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(dir.join(format!("m{k}.cubin")));
}

/// Labels branched to are defined; every register used is declared; the
/// assembler (where installed) accepts the module.
fn well_formed(ptx: &str) {
    assembles(ptx);
    assert!(ptx.contains(".version 8.0") && ptx.contains(".target sm_90"));
    assert_eq!(ptx.matches('{').count(), ptx.matches('}').count());
    for line in ptx.lines() {
        if let Some(i) = line.find("bra ") {
            let l = line[i + 4..].trim_end_matches(';').trim();
            assert!(ptx.contains(&format!("\n{l}:\n")), "label {l} undefined");
        }
    }
    // Declared counts cover every numbered register.
    for (decl, prefix) in [
        (".pred %p<", "%p"),
        (".b16 %h<", "%h"),
        (".b32 %r<", "%r"),
        (".b64 %rd<", "%rd"),
        (".f32 %f<", "%f"),
        (".f64 %fd<", "%fd"),
    ] {
        for entry in ptx.split(".entry").skip(1) {
            let max_decl = entry
                .find(decl)
                .map(|i| {
                    let rest = &entry[i + decl.len()..];
                    rest[..rest.find('>').unwrap()].parse::<u32>().unwrap()
                })
                .unwrap_or(0);
            let mut k = 0;
            while let Some(j) = entry[k..].find(prefix) {
                let s = k + j + prefix.len();
                let digits: String = entry[s..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                let next = entry[s..].chars().next().unwrap_or(' ');
                let skip = digits.is_empty() || (next == 'd' && (prefix == "%r" || prefix == "%f"));
                if !skip {
                    let n: u32 = digits.parse().unwrap();
                    assert!(n < max_decl, "{prefix}{n} not declared (<{max_decl})");
                }
                k = s;
            }
        }
    }
}

fn golden(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/ptx/{name}.ptx"));
    if std::env::var_os("PSIONIC_BLESS").is_some() || !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if std::env::var_os("PSIONIC_BLESS").is_none() {
            eprintln!("note: wrote new golden file {}", path.display());
        }
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert!(
        want == text,
        "{name}: PTX differs from {} (PSIONIC_BLESS=1 to update)",
        path.display()
    );
}

const SOFTMAX: &str = "kernel.program @main(%b0: tensor<4x16xf32>) -> (tensor<4x16xf32>) {
  %b1 = kernel.buffer : tensor<4x16xf32>
  kernel.fused @k0 domain [4, 16] reduce [1] {
    loop {
      %0 = load %b0[0; 16, 1] : f32
      %1 = acc.logsumexp %0 : f32
    }
    map {
      %2 = load %b0[0; 16, 1] : f32
      %3 = subtract %2, %1 : f32
      %4 = exp %3 : f32
      store %b1[0; 16, 1], %4 : f32
    }
  }
  return %b1
}
";

#[test]
fn softmax_is_one_rows_kernel_with_a_row_cache() {
    let p = plan(SOFTMAX);
    well_formed(&p.ptx);
    assert_eq!(p.steps.len(), 1);
    assert!(p.ptx.contains("shfl.sync.bfly.b32"), "warp shuffles");
    // 4 bytes a point for an f32 row (16 points).
    assert!(
        p.ptx.contains(".shared .align 16 .b8 rowcache[64];"),
        "row kept in shared memory, 4 bytes a point"
    );
    // One global load stream (the loop's), 16 bytes an access, kept in
    // the cache the same way; the map reads it back and stores 16 bytes.
    assert_eq!(p.ptx.matches("ld.global.v4.f32").count(), 1);
    assert_eq!(p.ptx.matches("st.shared.v4.f32").count(), 1);
    assert_eq!(p.ptx.matches("ld.shared.v4.f32").count(), 1);
    assert_eq!(p.ptx.matches("st.global.v4.f32").count(), 1);
    assert!(!p.ptx.contains("ld.global.f32") && !p.ptx.contains("st.global.f32"));
    golden("softmax", &p.ptx);
}

/// Softmax of `rows x cols` f32 reading `%b0` at `offset` with row stride
/// `stride`.
fn softmax_view(rows: usize, cols: usize, offset: usize, stride: usize) -> String {
    let n = offset + rows * stride;
    format!(
        "kernel.program @main(%b0: tensor<{n}xf32>) -> (tensor<{rows}x{cols}xf32>) {{
  %b1 = kernel.buffer : tensor<{rows}x{cols}xf32>
  kernel.fused @k0 domain [{rows}, {cols}] reduce [1] {{
    loop {{
      %0 = load %b0[{offset}; {stride}, 1] : f32
      %1 = acc.logsumexp %0 : f32
    }}
    map {{
      %2 = load %b0[{offset}; {stride}, 1] : f32
      %3 = subtract %2, %1 : f32
      %4 = exp %3 : f32
      store %b1[0; {cols}, 1], %4 : f32
    }}
  }}
  return %b1
}}
"
    )
}

/// The 16-byte path needs rows of a multiple of 4 points starting at a
/// multiple of 4 elements; anything else keeps the scalar loop (and its
/// 4-byte cache).
#[test]
fn row_vector_accesses_only_where_aligned() {
    for (rows, cols, offset, stride, vector) in [
        (4, 16, 0, 16, true),
        (3, 8192, 0, 8192, true),
        (4, 64, 4, 68, true),
        (4, 18, 0, 18, false), // row length not a multiple of 4
        (4, 16, 2, 16, false), // offset view
        (4, 16, 0, 18, false), // rows 18 apart: every other one misaligned
        (4, 2, 0, 2, false),   // shorter than a vector
        (1, 1, 0, 1, false),
    ] {
        let p = plan(&softmax_view(rows, cols, offset, stride));
        well_formed(&p.ptx);
        let what = format!("{rows}x{cols} offset {offset} stride {stride}");
        assert_eq!(p.ptx.contains("ld.global.v4.f32"), vector, "{what}");
        assert_eq!(p.ptx.contains("st.global.v4.f32"), vector, "{what}");
        assert_eq!(p.ptx.contains("ld.global.f32"), !vector, "{what}");
        let cache = format!(".shared .align 16 .b8 rowcache[{}];", cols * 4);
        assert!(p.ptx.contains(&cache), "{what}: 4-byte row cache");
    }
}

/// Rows longer than the cache (40 KiB: 10240 f32 points) are read twice
/// from global memory, still 16 bytes an access.
#[test]
fn rows_longer_than_the_cache_are_read_again() {
    let p = plan(&softmax_view(2, 10240, 0, 10240));
    assert!(p.ptx.contains("rowcache[40960]"));
    let p = plan(&softmax_view(2, 10244, 0, 10244));
    well_formed(&p.ptx);
    assert!(!p.ptx.contains("rowcache["));
    assert_eq!(p.ptx.matches("ld.global.v4.f32").count(), 2);
}

#[test]
fn contiguous_f32_elementwise_uses_16_byte_accesses() {
    let p = plan(
        "kernel.program @main(%b0: tensor<1024xf32>, %b1: tensor<1024xf32>) -> (tensor<1024xf32>) {
  %b2 = kernel.buffer : tensor<1024xf32>
  kernel.fused @k0 domain [1024] reduce [] {
    map {
      %0 = load %b0[0; 1] : f32
      %1 = load %b1[0; 0] : f32
      %2 = multiply %0, %1 : f32
      %3 = tanh %2 : f32
      store %b2[0; 1], %3 : f32
    }
  }
  return %b2
}
",
    );
    well_formed(&p.ptx);
    assert!(p.ptx.contains("ld.global.v4.f32") && p.ptx.contains("st.global.v4.f32"));
    golden("tanh_broadcast", &p.ptx);
}

#[test]
fn layer_norm_and_f16_and_int_kernels() {
    let p = plan(
        "kernel.program @main(%b0: tensor<8x32xf16>, %b1: tensor<8x32xi8>) -> (tensor<8x32xf16>, tensor<8xi8>) {
  %b2 = kernel.buffer : tensor<8x32xf16>
  %b3 = kernel.buffer : tensor<8xi8>
  kernel.fused @k0 domain [8, 32] reduce [1] {
    loop {
      %0 = load %b0[0; 32, 1] : f16
      %1 = acc.sum %0 : f16
      %2 = acc.m2 %0 : f16
    }
    map {
      %3 = load %b0[0; 32, 1] : f16
      %4 = subtract %3, %1 : f16
      %5 = divide %4, %2 : f16
      store %b2[0; 32, 1], %5 : f16
    }
  }
  kernel.fused @k1 domain [8, 32] reduce [1] {
    loop {
      %0 = load %b1[0; 32, 1] : i8
      %1 = acc.max %0 : i8
    }
    outer {
      store %b3[0; 1, 0], %1 : i8
    }
  }
  return %b2, %b3
}
",
    );
    well_formed(&p.ptx);
    assert!(p.ptx.contains("cvt.f32.f16") && p.ptx.contains("cvt.rn.f16.f32"));
    assert!(p.ptx.contains("max.s64"));
    golden("f16_norm_i8_max", &p.ptx);
}

#[test]
fn matmuls_go_to_cublas_or_a_rows_kernel_with_an_epilogue() {
    let p = plan(
        "kernel.program @main(%b0: tensor<4x8xf32>, %b1: tensor<8x16xf32>, %b2: tensor<16xf32>, %b3: tensor<4x8xf64>, %b4: tensor<8x16xf64>) -> (tensor<4x16xf32>, tensor<4x16xf64>) {
  %b5 = kernel.buffer : tensor<4x16xf32>
  %b6 = kernel.buffer : tensor<4x16xf64>
  kernel.matmul @k0 %b0[0; 8, 1], %b1[0; 16, 1] batch [] m 4 n 16 k 8 : f32 {
    %0 = matmul_result : f32
    %1 = load %b2[0; 0, 1] : f32
    %2 = add %0, %1 : f32
    store %b5[0; 16, 1], %2 : f32
  }
  kernel.matmul @k1 %b3[7; 8, -1], %b4[0; 16, 1] batch [] m 4 n 16 k 8 : f64 {
    %0 = matmul_result : f64
    store %b6[0; 16, 1], %0 : f64
  }
  return %b5, %b6
}
",
    );
    well_formed(&p.ptx);
    let kinds: Vec<&str> = p
        .steps
        .iter()
        .map(|s| match s {
            Step::Launch(_) => "launch",
            Step::Gemm(_) => "gemm",
            Step::Lib(_) => "lib",
        })
        .collect();
    // f32: cuBLAS then the bias epilogue; a flipped operand (negative
    // stride, which cuBLAS cannot take): one rows kernel reducing k.
    assert_eq!(kinds, ["gemm", "launch", "launch"]);
    assert_eq!(p.scratch, vec![(DType::F32, 64)]);
    assert!(p.ptx.contains("add.rn.f64"), "k reduced in f64");
    golden("matmul_bias_and_flipped", &p.ptx);
}

/// Every elementwise op on every dtype the op accepts emits well-formed PTX.
#[test]
fn every_elementwise_op_and_dtype_emits() {
    use psionic_ir::{Attrs, Func, OpClass, Opcode, TensorType, OP_DEFS};
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    let dtypes = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::Bool,
    ];
    let mut n = 0;
    for def in OP_DEFS.iter() {
        if !matches!(
            def.class,
            OpClass::Unary | OpClass::Binary | OpClass::Compare
        ) || def.opcode == Opcode::DivMod
        {
            continue;
        }
        for dt in dtypes {
            let ty = TensorType::from_dims(dt, &[37]);
            let arity = if def.class == OpClass::Unary { 1 } else { 2 };
            let mut f = Func::new("main", vec![ty.clone(); arity]);
            let ps = f.params.clone();
            let Ok(r) = f.push1(def.opcode, &ps, Attrs::new()) else {
                continue;
            };
            f.results = vec![r];
            let Ok((kp, _)) = compile(&f, &CompileOptions::default()) else {
                continue;
            };
            let p = plan_program(&kp, &CudaOptions::default())
                .unwrap_or_else(|e| panic!("{} on {dt}: {e}", def.opcode));
            well_formed(&p.ptx);
            // PSIONIC_PTX_DUMP=DIR keeps every module (for ptxas on a GPU machine).
            if let Some(dir) = std::env::var_os("PSIONIC_PTX_DUMP") {
                let path = PathBuf::from(dir).join(format!("{}_{dt}.ptx", def.opcode.name()));
                std::fs::write(path, &p.ptx).unwrap();
            }
            n += 1;
        }
    }
    assert!(n > 400, "only {n} op/dtype pairs emitted");
}

/// Layer norm with weight and bias as the benchmark writes it (mean, then
/// the mean of squared deviations), compiled from the tensor level.
fn layer_norm_plan(rows: usize, cols: usize, dt: DType) -> psionic_codegen::cuda::CudaPlan {
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    let t = format!("tensor<{rows}x{cols}x{dt}>");
    let t1 = format!("tensor<{rows}x1x{dt}>");
    let v = format!("tensor<{cols}x{dt}>");
    let src = format!(
        "func @main(%x: {t}, %w: {v}, %b: {v}) -> ({t}) {{
%sum = tensor.reduce_sum %x {{axes = [1], keepdims = true}} : {t1}
%c0 = tensor.constant {{value = dense<{inv:e}> : tensor<{dt}>}} : tensor<{dt}>
%k0 = tensor.broadcast_like %c0, %sum : {t1}
%c1 = tensor.constant {{value = dense<1e-5> : tensor<{dt}>}} : tensor<{dt}>
%k1 = tensor.broadcast_like %c1, %sum : {t1}
%mean = tensor.multiply %sum, %k0 : {t1}
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
}}",
        inv = 1.0 / cols as f64
    );
    let f = psionic_ir::text::parse_func(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let (kp, _) = compile(&f, &CompileOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let p = plan_program(&kp, &CudaOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    well_formed(&p.ptx);
    assert_eq!(p.steps.len(), 1, "one kernel");
    p
}

/// f32 layer norm: x, weight and bias move 16 bytes an access, the row is
/// cached at 4 bytes a point, and the variance is two-pass in f32 over the
/// cached row (mean from the f64 row sum, then squared deviations): no
/// Welford division, no three-value f64 state.
#[test]
fn f32_layer_norm_is_vectorized_with_a_two_pass_f32_variance() {
    let p = layer_norm_plan(16, 4096, DType::F32);
    let ptx = &p.ptx;
    assert!(ptx.contains(".shared .align 16 .b8 rowcache[16384];"));
    // x once from global memory; weight and bias in the map.
    assert_eq!(ptx.matches("ld.global.v4.f32").count(), 3);
    // The squared deviations' pass and the map read the cached row.
    assert_eq!(ptx.matches("ld.shared.v4.f32").count(), 2);
    assert_eq!(ptx.matches("st.global.v4.f32").count(), 1);
    assert!(!ptx.contains("ld.global.f32"));
    assert!(!ptx.contains("div.rn.f64"), "no Welford/Chan division");
    assert!(ptx.contains("max.NaN.f32"), "m2 = max(s2 - s1^2/n, 0)");
    // The row sum (mean) in f64: one f64 add per point.
    assert_eq!(ptx.matches("add.rn.f64").count(), 4 + 10);
    golden("layer_norm_f32", &p.ptx);
    // Small rows too (32 points: one warp, no shared-memory round).
    golden(
        "layer_norm_f32_small",
        &layer_norm_plan(8, 32, DType::F32).ptx,
    );
}

/// Fallbacks: f64 rows keep Welford in f64 (8 bytes a point, scalar
/// loads); f32 rows longer than the cache keep the f64 (count, sum, sum of
/// squares) state merged by Chan's formula, still with 16-byte loads; rows
/// of 4n+2 points take the scalar loop with the two-pass variance; f16 rows
/// are cached at 4 bytes a point with the two-pass variance.
#[test]
fn layer_norm_fallbacks() {
    let p = layer_norm_plan(4, 64, DType::F64);
    assert!(p.ptx.contains("rowcache[512];") && !p.ptx.contains(".v4."));
    assert!(p.ptx.contains("div.rn.f64"), "Welford");
    let p = layer_norm_plan(2, 12288, DType::F32);
    assert!(!p.ptx.contains("rowcache["));
    assert!(p.ptx.contains("ld.global.v4.f32") && p.ptx.contains("div.rn.f64"));
    let p = layer_norm_plan(4, 66, DType::F32);
    assert!(p.ptx.contains("rowcache[264];") && !p.ptx.contains(".v4."));
    assert!(!p.ptx.contains("div.rn.f64") && p.ptx.contains("max.NaN.f32"));
    let p = layer_norm_plan(4, 64, DType::F16);
    assert!(p.ptx.contains("rowcache[256];") && !p.ptx.contains(".v4."));
    assert!(!p.ptx.contains("div.rn.f64") && p.ptx.contains("max.NaN.f32"));
}

/// f64 transcendentals run in f64 (`cuda::f64math`): no f32 round trip
/// (`cvt.rn.f32.f64`), no f32 approximations (`ex2`/`lg2.approx`) and no
/// f32 registers in an f64 exp/log/sin/pow... kernel.
#[test]
fn f64_math_has_no_f32_round_trip() {
    use psionic_ir::{Attrs, Func, Opcode as O, TensorType};
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    for op in [
        O::Exp,
        O::Expm1,
        O::Log,
        O::Log1p,
        O::Log2,
        O::Log10,
        O::Sin,
        O::Cos,
        O::Tan,
        O::Tanh,
        O::Sinh,
        O::Cosh,
        O::Sigmoid,
        O::Power,
        O::LogAddExp,
        O::Arcsinh,
        O::Arccosh,
        O::Arctanh,
        O::Arctan,
        O::Arctan2,
        O::Arcsin,
        O::Arccos,
        O::Erf,
        O::Erfinv,
        O::LogSumExp,
        O::Softmax,
    ] {
        let row = matches!(op, O::LogSumExp | O::Softmax);
        let ty = TensorType::from_dims(DType::F64, if row { &[4, 37] } else { &[37] });
        let arity = if matches!(op, O::Power | O::LogAddExp | O::Arctan2) {
            2
        } else {
            1
        };
        let mut f = Func::new("main", vec![ty.clone(); arity]);
        let ps = f.params.clone();
        let attrs = if row {
            Attrs::new().with("axes", psionic_ir::Attr::Ints(vec![1]))
        } else {
            Attrs::new()
        };
        let r = f.push1(op, &ps, attrs).unwrap();
        f.results = vec![r];
        let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
        let p = plan_program(&kp, &CudaOptions::default()).unwrap();
        well_formed(&p.ptx);
        for bad in [
            "cvt.rn.f32.f64",
            "cvt.f64.f32",
            "ex2.approx",
            "lg2.approx",
            ".f32",
        ] {
            assert!(!p.ptx.contains(bad), "{op} on f64 emits `{bad}`");
        }
        assert!(p.ptx.contains("fma.rn.f64"), "{op}");
        if op == O::Exp {
            golden("f64_exp", &p.ptx);
        }
    }
}

/// `cumsum(exp(x)) * 2` over rows of 16: one rows kernel, no host round
/// trip; each thread a contiguous chunk, the chunk totals scanned across
/// the block in `smem_scan`, f32 sums carried in f64.
const CUMSUM_EXP: &str = "kernel.program @main(%b0: tensor<4x16xf32>) -> (tensor<4x16xf32>) {
  %b1 = kernel.buffer : tensor<4x16xf32>
  kernel.fused @k0 domain [4, 16] reduce [1] {
    outer {
      %0 = const 2.0 : f32
    }
    map {
      %1 = load %b0[0; 16, 1] : f32
      %2 = exp %1 : f32
      %3 = scan.sum %2 : f32
      %4 = multiply %3, %0 : f32
      store %b1[0; 16, 1], %4 : f32
    }
  }
  return %b1
}
";

#[test]
fn scans_are_rows_kernels_with_a_block_scan() {
    let p = plan(CUMSUM_EXP);
    well_formed(&p.ptx);
    assert_eq!(p.steps.len(), 1);
    assert!(
        matches!(p.steps[0], Step::Launch(_)),
        "a kernel, not a library op"
    );
    // 32 threads a row: 32 eight-byte slots.
    assert!(p.ptx.contains(".shared .align 8 .b8 smem_scan[256];"));
    assert!(p.ptx.contains("add.rn.f64"), "f32 sums carried in f64");
    golden("cumsum_exp", &p.ptx);
    // Every scan kind and dtype, inclusive and exclusive, after a loop
    // stage (row cache) or not, emits well-formed PTX.
    for kind in ["sum", "prod", "max", "min", "logsumexp"] {
        for dt in [
            DType::F32,
            DType::F64,
            DType::F16,
            DType::I32,
            DType::I64,
            DType::U8,
            DType::Bool,
        ] {
            if kind == "logsumexp" && !dt.is_float() {
                continue;
            }
            for excl in ["", "exclusive."] {
                let src = format!(
                    "kernel.program @main(%b0: tensor<3x1000x{dt}>) -> (tensor<3x1000x{dt}>) {{
  %b1 = kernel.buffer : tensor<3x1000x{dt}>
  kernel.fused @k0 domain [3, 1000] reduce [1] {{
    loop {{
      %0 = load %b0[0; 1000, 1] : {dt}
      %1 = acc.max %0 : {dt}
    }}
    map {{
      %2 = load %b0[999; 1000, -1] : {dt}
      %3 = scan.{excl}{kind} %2 : {dt}
      %4 = maximum %3, %1 : {dt}
      store %b1[999; 1000, -1], %4 : {dt}
    }}
  }}
  return %b1
}}
"
                );
                let p = plan(&src);
                well_formed(&p.ptx);
                assert!(p.ptx.contains("smem_scan"), "{kind} {dt}");
            }
        }
    }
}

/// Cross-entropy's gather beside its logsumexp: the label read in the
/// `outer` stage, then the logit at it.
const XENT: &str =
    "kernel.program @xent(%b0: tensor<4x37xf32>, %b1: tensor<4xi32>) -> (tensor<4xf32>) {
  %b2 = kernel.buffer : tensor<4xf32>
  kernel.fused @k0 domain [4, 37] reduce [1] {
    loop {
      %0 = load %b0[0; 37, 1] : f32
      %1 = acc.logsumexp %0 : f32
    }
    outer {
      %2 = load %b1[0; 1, 0] : i32
      %3 = gather %b0[0; 37, 0] + 1 * %2 {axis = 1, size = 37} : f32
      %4 = subtract %1, %3 : f32
      store %b2[0; 1, 0], %4 : f32
    }
  }
  return %b2
}
";

/// Slices of two rows of an f16 matrix at i64 indices (elementwise).
const ROWS: &str =
    "kernel.program @rows(%b0: tensor<5x6xf16>, %b1: tensor<3xi64>) -> (tensor<3x2x6xf16>) {
  %b2 = kernel.buffer : tensor<3x2x6xf16>
  kernel.fused @k0 domain [3, 2, 6] reduce [] {
    map {
      %0 = load %b1[0; 1, 0, 0] : i64
      %1 = gather %b0[0; 0, 6, 1] + 6 * %0 {axis = 0, size = 5, slice = 2} : f16
      store %b2[0; 12, 6, 1], %1 : f16
    }
  }
  return %b2
}
";

#[test]
fn gathers_wrap_check_and_record_faults() {
    for (name, src, sites) in [("gather_xent", XENT, 1), ("gather_rows_f16", ROWS, 1)] {
        let p = plan(src);
        well_formed(&p.ptx);
        let f = p.faults.as_ref().expect("a fault record");
        assert_eq!(f.sites.len(), sites, "{name}");
        // The record is a u32 scratch buffer the gathering kernel takes.
        assert_eq!(p.buffer_info(f.buf), (DType::U32, 4), "{name}");
        let Step::Launch(l) = &p.steps[0] else {
            panic!("{name}: expected a launch");
        };
        assert!(l.params.contains(&f.buf), "{name}: fault record not passed");
        // Wrap, range check, first offender records, clamped read.
        for needle in [
            "setp.lt.s64",
            "setp.le.u64",
            "atom.global.cas.b32",
            "st.global.u64",
        ] {
            assert!(p.ptx.contains(needle), "{name}: no `{needle}`\n{}", p.ptx);
        }
        // No 16-byte accesses: lanes would share one index.
        assert!(!p.ptx.contains(".v4."), "{name}\n{}", p.ptx);
        golden(name, &p.ptx);
    }
    // Without gathers, no record.
    assert!(plan(SOFTMAX).faults.is_none());
}

/// Sorts along an axis are device kernels (a bitonic network in shared
/// memory) for rows of up to `MAX_SORT_ROW` elements, of every non-complex
/// dtype and along any axis; longer rows stay host round trips.
#[test]
fn sorts_are_device_kernels_for_rows_that_fit() {
    use psionic_codegen::cuda::sort::MAX_SORT_ROW;
    use psionic_ir::{Attr, Attrs, Func, Opcode, TensorType};
    use psionic_passes::fusion::compile::{compile, CompileOptions};
    let dtypes = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U32,
        DType::U64,
        DType::Bool,
    ];
    let cases: [(&[usize], i64); 4] = [(&[5, 37], 1), (&[37, 5], 0), (&[3, 4, 6], 1), (&[1], 0)];
    for op in [
        Opcode::Sort,
        Opcode::Argsort,
        Opcode::Partition,
        Opcode::Argpartition,
    ] {
        for dt in dtypes {
            for (shape, axis) in cases {
                let mut f = Func::new("main", vec![TensorType::from_dims(dt, shape)]);
                let x = f.params[0];
                let mut attrs = Attrs::new().with("axis", Attr::Int(axis));
                if matches!(op, Opcode::Partition | Opcode::Argpartition) {
                    attrs = attrs.with("kth", Attr::Int(0));
                }
                let r = f.push1(op, &[x], attrs).unwrap();
                f.results = vec![r];
                let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
                let p = plan_program(&kp, &CudaOptions::default()).unwrap();
                assert!(
                    !p.steps.iter().any(|s| matches!(s, Step::Lib(_))),
                    "{op} of {dt} {shape:?} axis {axis} is a host round trip"
                );
                assert!(p.ptx.contains(".shared .align 8 .b64 skey["), "{op} {dt}");
                well_formed(&p.ptx);
                if let Some(dir) = std::env::var_os("PSIONIC_PTX_DUMP") {
                    let name = format!("{}_{dt}_{}.ptx", op.name(), shape.len());
                    std::fs::write(PathBuf::from(dir).join(name), &p.ptx).unwrap();
                }
            }
        }
    }
    // A row longer than shared memory holds stays a library call.
    let mut f = Func::new(
        "main",
        vec![TensorType::from_dims(DType::F32, &[2, MAX_SORT_ROW + 1])],
    );
    let x = f.params[0];
    let r = f
        .push1(Opcode::Sort, &[x], Attrs::new().with("axis", Attr::Int(1)))
        .unwrap();
    f.results = vec![r];
    let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
    let p = plan_program(&kp, &CudaOptions::default()).unwrap();
    assert!(p.steps.iter().any(|s| matches!(s, Step::Lib(_))));
    // Complex values are f32 pair buffers at the kernel level: sorting
    // their words would be wrong, so a complex sort stays a library call.
    let mut f = Func::new("main", vec![TensorType::from_dims(DType::C64, &[4, 9])]);
    let x = f.params[0];
    let r = f
        .push1(Opcode::Sort, &[x], Attrs::new().with("axis", Attr::Int(1)))
        .unwrap();
    f.results = vec![r];
    let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
    let p = plan_program(&kp, &CudaOptions::default()).unwrap();
    assert!(p.steps.iter().any(|s| matches!(s, Step::Lib(_))));
}

/// A copy of dst into %b3, then a scatter of the update rows at the rows
/// the indices pick (`DT`, `KIND`, `IX` and `CLAMP` substituted).
const SCATTER: &str = "kernel.program @s(%b0: tensor<4x3xDT>, %b1: tensor<2xIX>, %b2: tensor<2x3xDT>) -> (tensor<4x3xDT>) {
  %b3 = kernel.buffer : tensor<4x3xDT>
  kernel.fused @k0 domain [4, 3] reduce [] {
    map {
      %0 = load %b0[0; 3, 1] : DT
      store %b3[0; 3, 1], %0 : DT
    }
  }
  kernel.fused @k1 domain [2, 3] reduce [] {
    map {
      %0 = load %b1[0; 1, 0] : IX
      %1 = load %b2[0; 3, 1] : DT
      scatter.KIND %b3[0; 0, 1] + 3 * %0 {axis = 0, size = 4CLAMP}, %1 : DT
    }
  }
  return %b3
}
";

fn scatter_plan(dt: &str, kind: &str, ix: &str, clamp: bool) -> psionic_codegen::cuda::CudaPlan {
    let src = SCATTER
        .replace("DT", dt)
        .replace("KIND", kind)
        .replace("IX", ix)
        .replace("CLAMP", if clamp { ", clamp" } else { "" });
    plan(&src)
}

/// The scatter kernel's entry (the second).
fn scatter_entry(ptx: &str) -> &str {
    let i = ptx
        .find(".entry psi_k1")
        .expect("an entry for the scatter kernel");
    &ptx[i..]
}

#[test]
fn scatters_combine_with_native_atomics_or_cas_loops() {
    // (dtype, kind, instructions the scatter kernel must hold)
    let cases: &[(&str, &str, &[&str])] = &[
        ("f32", "set", &["st.global.f32"]),
        ("f16", "set", &["cvt.rn.f16.f32", "st.global.b16"]),
        ("i8", "set", &["st.global.u8"]),
        ("f32", "sum", &["red.global.add.f32"]),
        ("f64", "sum", &["red.global.add.f64"]),
        ("i32", "sum", &["cvt.u32.u64", "red.global.add.u32"]),
        ("u32", "sum", &["red.global.add.u32"]),
        ("i64", "sum", &["red.global.add.u64"]),
        ("u64", "sum", &["red.global.add.u64"]),
        ("i32", "max", &["red.global.max.s32"]),
        ("u32", "min", &["red.global.min.u32"]),
        ("i64", "min", &["red.global.min.s64"]),
        ("u64", "max", &["red.global.max.u64"]),
        // CAS on the element itself.
        (
            "f32",
            "max",
            &["ld.global.b32", "atom.global.cas.b32", "setp.ne.b32"],
        ),
        ("f32", "prod", &["mul", "atom.global.cas.b32"]),
        ("i32", "prod", &["atom.global.cas.b32"]),
        (
            "f64",
            "min",
            &["ld.global.b64", "atom.global.cas.b64", "setp.ne.b64"],
        ),
        ("i64", "prod", &["atom.global.cas.b64"]),
        // CAS on the 32-bit word holding an 8- or 16-bit element.
        (
            "f16",
            "sum",
            &[
                "and.b64",
                "0xFFFFFFFFFFFFFFFC",
                "cvt.f32.f16",
                "cvt.rn.f16.f32",
                "not.b32",
                "atom.global.cas.b32",
            ],
        ),
        ("bf16", "max", &["cvt.rn.bf16.f32", "atom.global.cas.b32"]),
        ("i8", "sum", &["shr.s32", "atom.global.cas.b32"]),
        ("u8", "prod", &["and.b32", "atom.global.cas.b32"]),
        ("i16", "min", &["shr.s32", "atom.global.cas.b32"]),
        ("bool", "max", &["atom.global.cas.b32"]),
    ];
    for &(dt, kind, needles) in cases {
        let p = scatter_plan(dt, kind, "i32", false);
        well_formed(&p.ptx);
        let k1 = scatter_entry(&p.ptx);
        for n in needles.iter().chain(&["setp.lt.s64", "setp.le.u64"]) {
            assert!(k1.contains(n), "{dt} {kind}: no `{n}`\n{k1}");
        }
        // A checked index: one fault site, the record passed to the kernel.
        let f = p.faults.as_ref().expect("a fault record");
        assert_eq!(f.sites.len(), 1, "{dt} {kind}");
        let Step::Launch(l) = &p.steps[1] else {
            panic!("{dt} {kind}: expected a launch");
        };
        assert!(l.params.contains(&f.buf), "{dt} {kind}: no fault record");
        // Atomics only where the combination needs them; never 16-byte
        // accesses in the scatter kernel.
        // (One `atom.global.cas.b32` raises the fault flag.)
        let atomic = k1.matches("atom.global").count() > 1 || k1.contains("red.global");
        assert_eq!(atomic, kind != "set", "{dt} {kind}\n{k1}");
        assert!(!k1.contains(".v4."), "{dt} {kind}\n{k1}");
    }
    golden(
        "scatter_sum_f32",
        &scatter_plan("f32", "sum", "i32", false).ptx,
    );
    golden(
        "scatter_prod_f16",
        &scatter_plan("f16", "prod", "u32", false).ptx,
    );
}

#[test]
fn dynamic_slice_starts_clamp_without_a_fault_record() {
    for (ix, needle) in [("i32", "min.s64"), ("i64", "min.s64"), ("u32", "min.u64")] {
        let p = scatter_plan("f32", "set", ix, true);
        well_formed(&p.ptx);
        let k1 = scatter_entry(&p.ptx);
        assert!(k1.contains(needle), "{ix}\n{k1}");
        assert!(!k1.contains("atom.global.cas"), "{ix}\n{k1}");
        assert!(p.faults.is_none(), "{ix}: a clamped start needs no record");
    }
}
