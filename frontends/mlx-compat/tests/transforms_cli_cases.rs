//! The transforms of the extended op set through the `psionic run
//! --transform vjp|jvp|vmap` contract, on our own MLX-exported cases
//! (`tests/mlx_cases/t_*`, made by `tools/mlx/gen_transform_cases.py`):
//! convolution, FFT, rope, sdpa, quantized_matmul, cumprod with zeros and
//! linear algebra. Each case's module is loaded as the CLI loads it
//! (`files::load_module`), the data set's tensors are passed by name to
//! `transforms::run_transform` (what `psionic run --transform` calls) with
//! `--wrt` from the case's `diff_inputs`, and every tensor it writes is
//! compared with MLX's (JAX's for the linear-algebra derivatives, which MLX
//! lacks) within the case's tolerances.

mod mlxfn_support;

use mlxfn_support::*;
use psionic_mlx::files::load_module;
use psionic_mlx::transforms::{run_transform, CliTransform};

#[test]
fn transform_cases_through_the_cli_contract() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in all_case_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("t_") {
            continue;
        }
        let case = Case::load(&dir);
        let module = load_module(dir.join("fn.mlxfn")).unwrap();
        let tensors: Vec<(String, psionic_ir::Literal)> = case
            .tensors
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let wrt: Vec<String> = case.json["diff_inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let checks: Vec<String> = case.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        for (check, t) in [
            ("vjp", CliTransform::Vjp),
            ("jvp", CliTransform::Jvp),
            ("vmap", CliTransform::Vmap),
        ] {
            if !checks.iter().any(|c| c == check) {
                continue;
            }
            let w = if check == "vmap" {
                None
            } else {
                Some(&wrt[..])
            };
            let out = match run_transform(&module, "main", &tensors, "", t, w) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{name} {check}: {e}"));
                    continue;
                }
            };
            assert!(!out.is_empty(), "{name} {check}: nothing written");
            for (k, got) in &out {
                let Some(want) = case.tensors.get(k) else {
                    failures.push(format!("{name} {check}: wrote `{k}`, which MLX did not"));
                    continue;
                };
                if let Err(e) = compare(&format!("{name} {k}"), got, want, case.rtol, case.atol) {
                    failures.push(e);
                }
            }
            checked += 1;
        }
    }
    println!("{checked} transform checks");
    assert!(checked >= 30, "only {checked} transform checks ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where MLX's own jvp is wrong, `case.json` has `mlx_deviation` and the
/// generator stores JAX's float64 jvp as `jvp.out.J` (what the test above
/// compares) and MLX's value as `mlx.jvp.out.J`:
///
/// - `t_cumprod_zeros`: MLX 0.32.4 has no jvp for cumprod, and its
///   double-vjp fallback gives NaN where the input has a zero (the vjp of its
///   vjp multiplies a select's zero cotangent by `1/0`);
/// - `t_rfft_irfft`: MLX's jvp of `irfft(.., n = 7)` returns the even length
///   6, not 7.
///
/// Ours is checked against an independent reference, central differences of
/// the imported function evaluated in float64, and MLX's stored value must
/// still show the deviation (NaN or a different shape), so a regenerated
/// case with a fixed MLX makes this test say so.
#[test]
fn where_mlx_jvp_is_wrong_ours_matches_float64_finite_differences() {
    let mut checked = 0;
    for dir in all_case_dirs() {
        let case = Case::load(&dir);
        let Some(dev) = case.json["mlx_deviation"].as_object() else {
            continue;
        };
        let module = load_module(dir.join("fn.mlxfn")).unwrap();
        let tensors: Vec<(String, psionic_ir::Literal)> = case
            .tensors
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let wrt: Vec<String> = case.json["diff_inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let ours = run_transform(&module, "main", &tensors, "", CliTransform::Jvp, Some(&wrt))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let f = module.funcs.iter().find(|f| f.name == "main").unwrap();
        let wide = widen_f64(f);
        let n_in = f.params.len();
        let x: Vec<_> = (0..n_in)
            .map(|k| widen_literal(&case.tensors[&format!("in.{k}")]))
            .collect();
        let dirs: Vec<Option<Vec<f64>>> = (0..n_in)
            .map(|k| {
                wrt.contains(&k.to_string())
                    .then(|| case.tensors[&format!("jvp.tan.{k}")].to_f64_vec())
            })
            .collect();
        // Through c64 values (no c128) the function keeps f32 rounding
        // there: a larger step (the FFT case is quadratic, so central
        // differences have no truncation error).
        let complex = f.value_types.iter().any(|t| t.dtype.is_complex());
        let h = if complex { 1e-2 } else { 1e-5 };
        let fd = central_differences(&wide, &x, &dirs, h);
        for (j, want) in fd.iter().enumerate() {
            let key = format!("jvp.out.{j}");
            let got = ours
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, l)| l)
                .unwrap_or_else(|| panic!("{}: no {key}", case.name));
            let shape: Vec<usize> = f.value_types[f.results[j].index()]
                .shape
                .iter()
                .map(|&d| d as usize)
                .collect();
            assert_eq!(got.shape(), shape.as_slice(), "{} {key}", case.name);
            for (i, (a, b)) in got.to_f64_vec().iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
                    "{} {key}[{i}]: ours {a}, float64 finite differences {b}",
                    case.name
                );
            }
            checked += 1;
        }
        for key in dev.keys() {
            let mlx = &case.tensors[&format!("mlx.{key}")];
            let got = &ours.iter().find(|(k, _)| k == key).unwrap().1;
            let deviates =
                mlx.shape() != got.shape() || mlx.to_f64_vec().iter().any(|v| v.is_nan());
            assert!(
                deviates,
                "{}: MLX's {key} no longer deviates ({}); drop `mlx_deviation` from the generator",
                case.name, dev[key]
            );
        }
    }
    assert!(checked >= 4, "only {checked} outputs checked");
}
