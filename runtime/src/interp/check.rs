//! Comparing a result against the interpreter's: what backends and pass
//! tests call to check themselves against the oracle.

use psionic_ir::{DType, Literal};

use super::complex::C;
use super::data::{decode, Data};

/// Distance between two floats of `dtype` in units in the last place of
/// that dtype (0 when equal, NaN matching NaN, -0 matching +0; `u64::MAX`
/// when exactly one is NaN).
pub fn ulp_distance(a: f64, b: f64, dtype: DType) -> u64 {
    if (a.is_nan() && b.is_nan()) || a == b {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    // Map each value onto a line where adjacent floats of the dtype are 1
    // apart: the sign-magnitude bits made monotonic.
    let key = |x: f64| -> i128 {
        let bits: i128 = match dtype {
            DType::F64 => x.to_bits() as i64 as i128,
            DType::F16 => {
                let h = super::data::f64_to_f16(x).to_bits();
                (h as i16) as i128
            }
            DType::BF16 => {
                let h = super::data::f64_to_bf16(x).to_bits();
                (h as i16) as i128
            }
            _ => (x as f32).to_bits() as i32 as i128,
        };
        if bits < 0 {
            let min = match dtype {
                DType::F64 => i64::MIN as i128,
                DType::F16 | DType::BF16 => i16::MIN as i128,
                _ => i32::MIN as i128,
            };
            min - bits
        } else {
            bits
        }
    };
    (key(a) - key(b)).unsigned_abs().min(u64::MAX as u128) as u64
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        if shape[d] > 0 {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
    }
    idx
}

/// Checks that `got` equals `want` up to a tolerance: same dtype and shape;
/// integers and bools exactly; each float (or complex part) within `ulps`
/// units in the last place of the dtype *or* within `atol` absolutely (for
/// results near zero after cancellation). NaN matches NaN.
///
/// The error names the number of differing elements and the first one by
/// index, with both values.
pub fn compare_literals(got: &Literal, want: &Literal, ulps: u64, atol: f64) -> Result<(), String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!("got {}, expected {}", got.ty(), want.ty()));
    }
    let dt = got.dtype();
    let close = |a: f64, b: f64| ulp_distance(a, b, dt) <= ulps || (a - b).abs() <= atol;
    let mut bad = Vec::new();
    match (decode(got), decode(want)) {
        (Data::Int(g), Data::Int(w)) => {
            bad.extend(
                g.iter()
                    .zip(&w)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b)
                    .map(|(i, (a, b))| (i, a.to_string(), b.to_string())),
            );
        }
        (Data::Float(g), Data::Float(w)) => {
            bad.extend(
                g.iter()
                    .zip(&w)
                    .enumerate()
                    .filter(|(_, (&a, &b))| !close(a, b))
                    .map(|(i, (a, b))| (i, format!("{a:e}"), format!("{b:e}"))),
            );
        }
        (Data::Complex(g), Data::Complex(w)) => {
            let show = |z: &C| format!("{:e}{:+e}i", z.re, z.im);
            let dt32 = DType::F32;
            let closec = |a: f64, b: f64| ulp_distance(a, b, dt32) <= ulps || (a - b).abs() <= atol;
            bad.extend(
                g.iter()
                    .zip(&w)
                    .enumerate()
                    .filter(|(_, (a, b))| !(closec(a.re, b.re) && closec(a.im, b.im)))
                    .map(|(i, (a, b))| (i, show(a), show(b))),
            );
        }
        _ => return Err("internal: operands decoded differently".into()),
    }
    match bad.first() {
        None => Ok(()),
        Some((i, a, b)) => Err(format!(
            "{} of {} elements differ; first at {:?}: got {a}, expected {b}",
            bad.len(),
            got.num_elements(),
            unravel(*i, got.shape())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulps_count_representable_steps() {
        assert_eq!(ulp_distance(1.0, 1.0 + f32::EPSILON as f64, DType::F32), 1);
        assert_eq!(ulp_distance(1.0, 1.0 + 2f64.powi(-10), DType::F16), 1);
        assert_eq!(ulp_distance(-0.0, 0.0, DType::F32), 0);
        assert_eq!(ulp_distance(f64::NAN, f64::NAN, DType::F64), 0);
        assert_eq!(ulp_distance(f64::NAN, 1.0, DType::F64), u64::MAX);
        // Across zero: the smallest subnormals either side are 2 apart.
        let tiny = f32::from_bits(1) as f64;
        assert_eq!(ulp_distance(-tiny, tiny, DType::F32), 2);
    }

    #[test]
    fn compare_names_the_first_difference() {
        let a = Literal::f32s(vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Literal::f32s(vec![2, 2], &[1.0, 2.0, 3.5, 4.0]).unwrap();
        assert!(compare_literals(&a, &a, 0, 0.0).is_ok());
        let e = compare_literals(&a, &b, 4, 0.0).unwrap_err();
        assert!(e.contains("1 of 4 elements differ; first at [1, 0]"), "{e}");
        assert!(compare_literals(&a, &b, 0, 0.5).is_ok());
        let i = Literal::from_i64(DType::I32, vec![2], &[1, 2]).unwrap();
        assert!(compare_literals(&a, &i, 0, 0.0)
            .unwrap_err()
            .contains("expected tensor<2xi32>"));
    }
}
