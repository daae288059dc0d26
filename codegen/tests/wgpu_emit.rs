//! The naga backend without a GPU: golden WGSL and MSL for representative
//! kernels (softmax, layer norm, GELU, matmul with a bias/ReLU epilogue),
//! and naga validation plus WGSL/SPIR-V/MSL output for every elementwise
//! op and WGSL dtype and every reduction kind.
//!
//! Goldens live in `tests/golden/wgpu/`; `PSIONIC_BLESS=1` rewrites them.
#![cfg(feature = "wgpu")]

use psionic_codegen::wgpu::{compile_program, emit_program, GpuItem, Target};
use psionic_ir::{Attr, Attrs, DType, Func, OpClass, Opcode, TensorType, OP_DEFS};
use psionic_passes::fusion::compile::{compile, CompileOptions};
use std::path::PathBuf;

fn parse(src: &str) -> Func {
    psionic_ir::text::parse_func(src).unwrap_or_else(|e| panic!("{e}"))
}

fn program(f: &Func) -> psionic_codegen::wgpu::GpuProgram {
    let (kp, _) = compile(f, &CompileOptions::default()).expect("fusion");
    compile_program(&kp).unwrap_or_else(|e| panic!("{e}"))
}

fn golden(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/wgpu")
        .join(name);
    if std::env::var_os("PSIONIC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with PSIONIC_BLESS=1)", path.display()));
    if want != text {
        let line = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or(want.lines().count().min(text.lines().count()) + 1);
        panic!(
            "{} differs from the generated code at line {line} (bless with PSIONIC_BLESS=1):\n{text}",
            path.display()
        );
    }
}

fn softmax() -> Func {
    parse(
        "func @main(%0: tensor<8x100xf32>) -> (tensor<8x100xf32>) {
           %1 = tensor.softmax %0 {axes = [1]} : tensor<8x100xf32>
           return %1
         }",
    )
}

fn layer_norm() -> Func {
    parse(
        "func @main(%0: tensor<4x64xf32>, %1: tensor<64xf32>, %2: tensor<64xf32>) -> (tensor<4x64xf32>) {
           %3 = tensor.reduce_sum %0 {axes = [1], keepdims = true} : tensor<4x1xf32>
           %4 = tensor.constant {value = dense<64.0> : tensor<f32>} : tensor<f32>
           %5 = tensor.broadcast_like %4, %3 : tensor<4x1xf32>
           %6 = tensor.divide %3, %5 : tensor<4x1xf32>
           %7 = tensor.broadcast_like %6, %0 : tensor<4x64xf32>
           %8 = tensor.subtract %0, %7 : tensor<4x64xf32>
           %9 = tensor.multiply %8, %8 : tensor<4x64xf32>
           %10 = tensor.reduce_sum %9 {axes = [1], keepdims = true} : tensor<4x1xf32>
           %11 = tensor.divide %10, %5 : tensor<4x1xf32>
           %12 = tensor.constant {value = dense<1.0e-5> : tensor<f32>} : tensor<f32>
           %13 = tensor.broadcast_like %12, %11 : tensor<4x1xf32>
           %14 = tensor.add %11, %13 : tensor<4x1xf32>
           %15 = tensor.rsqrt %14 : tensor<4x1xf32>
           %16 = tensor.broadcast_like %15, %0 : tensor<4x64xf32>
           %17 = tensor.multiply %8, %16 : tensor<4x64xf32>
           %18 = tensor.broadcast_like %1, %0 : tensor<4x64xf32>
           %19 = tensor.multiply %17, %18 : tensor<4x64xf32>
           %20 = tensor.broadcast_like %2, %0 : tensor<4x64xf32>
           %21 = tensor.add %19, %20 : tensor<4x64xf32>
           return %21
         }",
    )
}

fn gelu() -> Func {
    parse(
        "func @main(%0: tensor<1024xf32>, %1: tensor<1024xf32>, %2: tensor<1024xf32>) -> (tensor<1024xf32>) {
           %3 = tensor.multiply %0, %1 : tensor<1024xf32>
           %4 = tensor.add %3, %2 : tensor<1024xf32>
           %5 = tensor.multiply %4, %4 : tensor<1024xf32>
           %6 = tensor.multiply %5, %4 : tensor<1024xf32>
           %7 = tensor.constant {value = dense<0.044715> : tensor<f32>} : tensor<f32>
           %8 = tensor.broadcast_like %7, %4 : tensor<1024xf32>
           %9 = tensor.multiply %6, %8 : tensor<1024xf32>
           %10 = tensor.add %4, %9 : tensor<1024xf32>
           %11 = tensor.constant {value = dense<0.7978845608> : tensor<f32>} : tensor<f32>
           %12 = tensor.broadcast_like %11, %4 : tensor<1024xf32>
           %13 = tensor.multiply %10, %12 : tensor<1024xf32>
           %14 = tensor.tanh %13 : tensor<1024xf32>
           %15 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
           %16 = tensor.broadcast_like %15, %4 : tensor<1024xf32>
           %17 = tensor.add %14, %16 : tensor<1024xf32>
           %18 = tensor.multiply %4, %17 : tensor<1024xf32>
           %19 = tensor.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
           %20 = tensor.broadcast_like %19, %4 : tensor<1024xf32>
           %21 = tensor.multiply %18, %20 : tensor<1024xf32>
           return %21
         }",
    )
}

fn matmul_bias_relu() -> Func {
    parse(
        "func @main(%0: tensor<128x784xf32>, %1: tensor<784x100xf32>, %2: tensor<100xf32>) -> (tensor<128x100xf32>) {
           %3 = tensor.matmul %0, %1 : tensor<128x100xf32>
           %4 = tensor.broadcast_like %2, %3 : tensor<128x100xf32>
           %5 = tensor.add %3, %4 : tensor<128x100xf32>
           %6 = tensor.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
           %7 = tensor.broadcast_like %6, %5 : tensor<128x100xf32>
           %8 = tensor.maximum %5, %7 : tensor<128x100xf32>
           return %8
         }",
    )
}

#[test]
fn golden_wgsl_and_msl_for_softmax_layer_norm_gelu_and_matmul() {
    for (name, f) in [
        ("softmax", softmax()),
        ("layer_norm", layer_norm()),
        ("gelu", gelu()),
        ("matmul_bias_relu", matmul_bias_relu()),
    ] {
        let g = program(&f);
        let shaders = g
            .items
            .iter()
            .filter(|i| matches!(i, GpuItem::Shader(_)))
            .count();
        // Matmul: the gemm with the bias/ReLU epilogue fused; fusion may
        // leave a second item (see the golden).
        assert!(shaders >= 1, "{name}: no shader");
        if name != "matmul_bias_relu" {
            assert_eq!(shaders, 1, "{name}: one fused shader");
        }
        let wgsl = emit_program(&g, Target::Wgsl).unwrap();
        let msl = emit_program(&g, Target::Msl).unwrap();
        // Metal: real buffer bindings, a current language version, no
        // placeholder bindings.
        assert!(msl.contains("[[buffer(0)]]"), "{name}: {msl}");
        assert!(
            !msl.contains("fake"),
            "{name}: placeholder bindings:\n{msl}"
        );
        assert!(msl.contains("metal_stdlib"), "{name}");
        golden(&format!("{name}.wgsl"), &wgsl);
        golden(&format!("{name}.msl"), &msl);
        let spv = emit_program(&g, Target::Spirv).unwrap();
        // SPIR-V magic number first.
        assert!(spv.lines().nth(1).unwrap().starts_with("07230203"), "{spv}");
    }
}

#[test]
fn row_kernels_reduce_in_shared_memory_and_matmul_tiles() {
    let g = program(&softmax());
    let GpuItem::Shader(s) = &g.items[0] else {
        panic!("softmax is a shader")
    };
    assert!(s.wgsl.contains("var<workgroup>"), "{}", s.wgsl);
    assert!(s.wgsl.contains("workgroupBarrier()"));
    assert_eq!(s.groups, [8, 1, 1], "one workgroup per row");
    let g = program(&matmul_bias_relu());
    let GpuItem::Shader(s) = &g.items[0] else {
        panic!("matmul is a shader")
    };
    assert!(s.wgsl.contains("var<workgroup> ta"), "tiled: {}", s.wgsl);
    assert_eq!(s.groups, [2, 2, 1], "64x64 output tiles");
}

const DTYPES: [DType; 10] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::Bool,
];

fn emits_everywhere(f: &Func) -> bool {
    let Ok((kp, _)) = compile(f, &CompileOptions::default()) else {
        return false;
    };
    let g = compile_program(&kp)
        .unwrap_or_else(|e| panic!("{e}\n{}", psionic_ir::kernel::text::print_program(&kp)));
    for t in [Target::Wgsl, Target::Msl, Target::Spirv] {
        emit_program(&g, t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
    }
    true
}

#[test]
fn every_elementwise_op_dtype_and_reduction_validates_and_emits() {
    let mut n = 0;
    for def in OP_DEFS.iter() {
        if !matches!(
            def.class,
            OpClass::Unary | OpClass::Binary | OpClass::Compare
        ) || def.opcode == Opcode::DivMod
        {
            continue;
        }
        for &dt in &DTYPES {
            let ty = TensorType::from_dims(dt, &[3, 5]);
            let arity = if def.class == OpClass::Unary { 1 } else { 2 };
            let mut f = Func::new("main", vec![ty; arity]);
            let ps = f.params.clone();
            let Ok(r) = f.push1(def.opcode, &ps, Attrs::new()) else {
                continue;
            };
            f.results = vec![r];
            n += emits_everywhere(&f) as usize;
        }
    }
    assert!(n > 350, "only {n} elementwise kernels emitted");
    let mut m = 0;
    for &dt in &DTYPES {
        for op in [
            Opcode::ReduceSum,
            Opcode::ReduceMax,
            Opcode::ReduceMin,
            Opcode::ReduceProd,
            Opcode::LogSumExp,
            Opcode::ReduceAll,
            Opcode::ReduceAny,
            Opcode::Softmax,
        ] {
            let ty = TensorType::from_dims(dt, &[6, 7]);
            let mut f = Func::new("main", vec![ty]);
            let x = f.params[0];
            let Ok(r) = f.push1(op, &[x], Attrs::new().with("axes", Attr::Ints(vec![1]))) else {
                continue;
            };
            f.results = vec![r];
            m += emits_everywhere(&f) as usize;
        }
    }
    assert!(m > 40, "only {m} reductions emitted");
}

#[test]
fn f64_and_i64_are_clear_errors() {
    for dt in [DType::F64, DType::I64, DType::U64] {
        let ty = TensorType::from_dims(dt, &[4]);
        let mut f = Func::new("main", vec![ty.clone(), ty]);
        let ps = f.params.clone();
        let r = f.push1(Opcode::Add, &ps, Attrs::new()).unwrap();
        f.results = vec![r];
        let (kp, _) = compile(&f, &CompileOptions::default()).unwrap();
        let e = compile_program(&kp).unwrap_err();
        assert!(
            e.contains(dt.name()) && e.contains("WGSL"),
            "unclear error for {dt}: {e}"
        );
    }
}
