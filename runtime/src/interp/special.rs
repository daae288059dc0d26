//! Special functions in f64: erf and its inverse, shared with the kernel
//! interpreter (`psionic_ir::kernel::scalar`).

pub use psionic_ir::kernel::scalar::{erf, erfinv};

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
