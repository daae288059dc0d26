//! Checks Psionic's results against NumPy's, through the fingerprints
//! `bench/peers.py` prints (shape, sum, sum of magnitudes, 16 sampled
//! elements and the tolerances the peers were held to), so no array has to
//! cross between the processes.

use psionic_ir::Literal;
use serde::Deserialize;

/// NumPy's result for one output of a workload.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Fingerprint {
    pub shape: Vec<usize>,
    pub sum: f64,
    pub abs_sum: f64,
    /// `(flat index, value)` pairs.
    pub samples: Vec<(usize, f64)>,
    pub rtol: f64,
    pub atol: f64,
}

impl Fingerprint {
    /// The fingerprint of `values` (the same definition as peers.py's).
    pub fn of(shape: &[usize], values: &[f64], rtol: f64, atol: f64) -> Fingerprint {
        let n = values.len();
        let mut idx: Vec<usize> = (0..16).map(|k| (k * n.saturating_sub(1)) / 15).collect();
        idx.dedup();
        if n == 0 {
            idx.clear();
        }
        Fingerprint {
            shape: shape.to_vec(),
            sum: values.iter().sum(),
            abs_sum: values.iter().map(|v| v.abs()).sum(),
            samples: idx.into_iter().map(|i| (i, values[i])).collect(),
            rtol,
            atol,
        }
    }
}

/// Compares `got` with NumPy's fingerprints. Each sampled element must be
/// within `atol + rtol*|want|`; the sum and the sum of magnitudes within the
/// sum of those per-element bounds (`n*atol + rtol*abs_sum`). Returns the
/// largest sampled error, or what differs.
pub fn check(got: &[Literal], want: &[Fingerprint]) -> Result<f64, String> {
    if got.len() != want.len() {
        return Err(format!("{} outputs, NumPy gives {}", got.len(), want.len()));
    }
    let mut worst = 0f64;
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        if g.shape() != w.shape.as_slice() {
            return Err(format!(
                "output {k} has shape {:?}, NumPy gives {:?}",
                g.shape(),
                w.shape
            ));
        }
        let v = g.to_f64_vec();
        for &(i, want_v) in &w.samples {
            let Some(&got_v) = v.get(i) else {
                return Err(format!("output {k} has no element {i}"));
            };
            let err = (got_v - want_v).abs();
            worst = worst.max(err);
            let within = err <= w.atol + w.rtol * want_v.abs(); // false for NaN
            if !within {
                return Err(format!(
                    "output {k} element {i}: {got_v} vs NumPy {want_v} (rtol {} atol {})",
                    w.rtol, w.atol
                ));
            }
        }
        let bound = v.len() as f64 * w.atol + w.rtol * w.abs_sum;
        let sum: f64 = v.iter().sum();
        let abs_sum: f64 = v.iter().map(|x| x.abs()).sum();
        for (what, got_s, want_s) in [
            ("sum", sum, w.sum),
            ("sum of magnitudes", abs_sum, w.abs_sum),
        ] {
            let within = (got_s - want_s).abs() <= bound;
            if !within {
                return Err(format!(
                    "output {k}: {what} {got_s} vs NumPy {want_s} (bound {bound:.3e})"
                ));
            }
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: &[f32]) -> Literal {
        Literal::f32s(vec![v.len()], v).unwrap()
    }

    #[test]
    fn accepts_close_and_rejects_far() {
        let want: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin()).collect();
        let fp = Fingerprint::of(&[40], &want, 1e-4, 1e-6);
        assert_eq!(fp.samples.len(), 16);
        let close: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert!(check(&[lit(&close)], std::slice::from_ref(&fp)).is_ok());

        // One sampled element off.
        let mut far = close.clone();
        far[fp.samples[3].0] += 0.01;
        assert!(check(&[lit(&far)], std::slice::from_ref(&fp))
            .unwrap_err()
            .contains("element"));

        // An element between the samples off: the sums catch it.
        let mut far = close.clone();
        far[1] += 0.5;
        assert!(check(&[lit(&far)], std::slice::from_ref(&fp))
            .unwrap_err()
            .contains("sum"));

        // Wrong shape and output count.
        assert!(check(&[lit(&close[..39])], std::slice::from_ref(&fp))
            .unwrap_err()
            .contains("shape"));
        assert!(check(&[], &[fp]).unwrap_err().contains("outputs"));
    }
}
