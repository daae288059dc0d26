//! Constant folding covers every op the interpreter runs: each op of the
//! table, applied to constants, folds to constants holding exactly the bits
//! the interpreter computes for the unfolded op.

use psionic_cli::samples::build;
use psionic_ir::ops::OpClass;
use psionic_ir::{Attr, Attrs, Func, Literal, Module, Opcode, OP_DEFS};
use psionic_passes::{PassContext, PassManager};
use psionic_runtime::interp::{eval_op, run_func};

/// Deterministic small inputs: floats in (0, 2), integers 0..=2 (valid
/// indices for every sample), alternating bools.
fn input(ty: &psionic_ir::TensorType, seed: &mut u64) -> Literal {
    let shape = ty.static_shape().expect("samples have static shapes");
    let n: usize = shape.iter().product();
    let vals: Vec<f64> = (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (*seed >> 33) % 15;
            if ty.dtype.is_float() {
                0.125 * (r + 1) as f64
            } else {
                (r % 3) as f64
            }
        })
        .collect();
    Literal::from_f64(ty.dtype, shape, &vals).unwrap()
}

fn fold(op: Opcode, a: &Attrs, l: &[&Literal]) -> Result<Vec<Literal>, String> {
    eval_op(op, a, l)
}

#[test]
fn every_op_folds_to_what_the_interpreter_computes() {
    let mut not_run = Vec::new();
    let mut folded = 0;
    for def in OP_DEFS {
        if def.class == OpClass::Creation {
            continue; // creation ops stay (they are smaller than their data)
        }
        // Ops without a sample are reported by `lit_meta::every_op_has_a_lit_test`.
        let Ok(f) = build(def.opcode) else { continue };
        let mut seed = def.opcode as u64 + 1;
        let inputs: Vec<Literal> = f
            .param_types()
            .iter()
            .map(|t| input(t, &mut seed))
            .collect();
        let want = match run_func(&f, &inputs) {
            Ok(w) => w,
            Err(e) => {
                not_run.push(format!("{}: {e}", def.name));
                continue;
            }
        };
        // The same op on constants.
        let mut g = Func::new(def.name.trim_start_matches("tensor."), vec![]);
        let consts: Vec<_> = inputs
            .iter()
            .map(|l| {
                g.push1(
                    Opcode::Constant,
                    &[],
                    Attrs::new().with("value", Attr::Dense(l.clone())),
                )
                .unwrap()
            })
            .collect();
        g.results = g.push(def.opcode, &consts, f.ops[0].attrs.clone()).unwrap();
        let mut m = Module::new(vec![g]);
        let pm = PassManager::from_pipeline("canonicalize").unwrap();
        pm.run(
            &mut m,
            &PassContext::with_folder(&fold),
            &mut std::io::sink(),
        )
        .unwrap();
        let g = &m.funcs[0];
        assert!(
            g.ops.iter().all(|o| o.opcode == Opcode::Constant),
            "{} did not fold: {:?}",
            def.name,
            g.op_counts()
        );
        let def_of = |v| g.ops.iter().find(|o| o.results.contains(&v));
        for (i, (&r, w)) in g.results.iter().zip(&want).enumerate() {
            let got = match def_of(r).map(|o| o.attrs.dense("value")) {
                Some(Ok(l)) => l.clone(),
                _ => panic!("{}: result {i} is not a constant", def.name),
            };
            assert_eq!(
                &got, w,
                "{}: result {i} differs from the interpreter",
                def.name
            );
        }
        folded += 1;
    }
    assert!(
        not_run.is_empty(),
        "the interpreter refused these samples: {not_run:#?}"
    );
    assert!(folded >= 100, "only {folded} ops folded");
}
