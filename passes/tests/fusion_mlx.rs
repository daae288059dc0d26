//! Structural checks on programs exported by MLX itself: `fusion_mlx/*.mlxfn`
//! were written by MLX 0.32.4 (`gen.py`), and `*.pir` are their imports
//! (`psionic opt FILE.mlxfn`), so these tests need no importer. Each compiles
//! through the default pipeline to the expected kernels and matches the
//! reference interpreter.

mod fusion_common;
use fusion_common::*;
use psionic_ir::kernel::text::print_program;
use psionic_ir::text::parse_module;
use psionic_passes::fusion::compile::{compile, CompileOptions};

/// (kernels, library calls, passes over memory) of one exported program.
fn counts(name: &str) -> (usize, usize, usize) {
    let path = format!("{}/tests/fusion_mlx/{name}.pir", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let m = parse_module(&text).unwrap();
    let f = &m.funcs[0];
    let (p, _) = compile(f, &CompileOptions::default()).unwrap();
    check_text(&p);
    let args = random_args(f, 5);
    assert_close(&run(&p, &args), &oracle(f, &args), 1e-4);
    let st = p.stats();
    eprintln!("{name}:\n{}", print_program(&p));
    (st.kernels, st.library_calls, st.passes)
}

#[test]
fn mlx_softmax_is_one_kernel_of_two_passes() {
    assert_eq!(counts("softmax"), (1, 0, 2));
}

#[test]
fn mlx_layer_norm_is_one_kernel_of_two_passes() {
    assert_eq!(counts("layer_norm"), (1, 0, 2));
}

#[test]
fn mlx_attention_is_two_gemms_and_one_kernel() {
    assert_eq!(counts("attention"), (1, 2, 4));
}

#[test]
fn mlx_mlp_is_two_gemms_with_epilogues() {
    assert_eq!(counts("mlp"), (0, 2, 2));
}

#[test]
fn mlx_training_step() {
    // Two gemms (the weight update is the second's epilogue), the loss
    // reduction (squeezed in the same kernel) and the ReLU-masked gradient.
    assert_eq!(counts("mlp_step"), (2, 2, 4));
}
