//! Special functions in f64: erf (from `libm`) and its inverse.

/// The error function.
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The inverse error function: NaN outside [-1, 1], ±inf at ±1.
///
/// Giles' single-precision approximation as a start, then Newton steps on
/// `erf(y) - x`, which converge to f64 precision in two or three steps.
pub fn erfinv(x: f64) -> f64 {
    if x.is_nan() || !(-1.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    if x == 0.0 {
        return x;
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let mut y = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        p = 3.432_739_39e-07 + p * w;
        p = -3.523_387_7e-06 + p * w;
        p = -4.391_506_54e-06 + p * w;
        p = 0.000_218_580_87 + p * w;
        p = -0.001_253_725_03 + p * w;
        p = -0.004_177_681_64 + p * w;
        p = 0.246_640_727 + p * w;
        p = 1.501_409_41 + p * w;
        p * x
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        p = 0.000_100_950_558 + p * w;
        p = 0.001_349_343_22 + p * w;
        p = -0.003_673_428_44 + p * w;
        p = 0.005_739_507_73 + p * w;
        p = -0.007_622_461_3 + p * w;
        p = 0.009_438_870_47 + p * w;
        p = 1.001_674_06 + p * w;
        p = 2.832_976_82 + p * w;
        p * x
    };
    let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
    for _ in 0..4 {
        let d = two_over_sqrt_pi * (-y * y).exp();
        if d == 0.0 {
            break;
        }
        let step = (erf(y) - x) / d;
        y -= step;
        if step.abs() <= 1e-17 * y.abs() {
            break;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfinv_inverts_erf() {
        for &x in &[
            -0.999999,
            -0.9,
            -0.5,
            -1e-8,
            1e-300,
            0.1,
            0.5,
            0.75,
            0.99,
            0.999999999,
        ] {
            let y = erfinv(x);
            assert!(
                (erf(y) - x).abs() <= 4e-16 * (1.0f64).max(x.abs()),
                "{x} {y}"
            );
        }
        assert_eq!(erfinv(1.0), f64::INFINITY);
        assert!(erfinv(1.5).is_nan());
        assert!((erfinv(0.5) - 0.476_936_276_204_469_9).abs() < 1e-15);
    }
}
