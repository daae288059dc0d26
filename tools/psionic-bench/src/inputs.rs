//! Benchmark inputs, bit-identical to `uniform` in `bench/peers.py`.
//!
//! Element `i` of an input with seed `s` is
//! `lo + (hi - lo) * h / 2^32` rounded to f32, where
//! `h = (i * 2654435761 + s * 1013904223) mod 2^32` in 64-bit integers: exact
//! in both languages, so Psionic and its peers compute on the same numbers
//! and Psionic's results can be checked against NumPy's fingerprints.

use psionic_ir::Literal;

/// `n` values of the hash sequence with `seed`, scaled to `[lo, hi)`.
pub fn uniform_values(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f32> {
    let offset = seed.wrapping_mul(1_013_904_223);
    (0..n as u64)
        .map(|i| {
            let h = i.wrapping_mul(2_654_435_761).wrapping_add(offset) & 0xFFFF_FFFF;
            let u = h as f64 / 4_294_967_296.0;
            (lo + (hi - lo) * u) as f32
        })
        .collect()
}

/// An f32 literal of `shape` filled by [`uniform_values`].
pub fn uniform(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Result<Literal, String> {
    let n = shape.iter().product();
    Literal::f32s(shape.to_vec(), &uniform_values(n, seed, lo, hi)).map_err(|e| e.to_string())
}

/// A `batch x classes` one-hot f32 matrix; row `i` marks class
/// `floor(u_i * classes)` of the seed's sequence in `[0, 1)`.
pub fn one_hot(batch: usize, classes: usize, seed: u64) -> Result<Literal, String> {
    let u = uniform_values(batch, seed, 0.0, 1.0);
    let mut v = vec![0f32; batch * classes];
    for (row, &ui) in u.iter().enumerate() {
        let label = ((ui as f64 * classes as f64) as usize).min(classes - 1);
        v[row * classes + label] = 1.0;
    }
    Literal::f32s(vec![batch, classes], &v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // `peers.uniform((4,), 1, -3.0, 3.0).tolist()` printed by NumPy 2.4.
        let want: [f32; 4] = [-1.5835922, 2.1246119, -0.16718432, -2.4589803];
        assert_eq!(uniform_values(4, 1, -3.0, 3.0), want);
    }

    #[test]
    fn one_hot_has_one_mark_per_row() {
        let l = one_hot(64, 10, 10).unwrap();
        let v = l.to_f64_vec();
        for row in v.chunks(10) {
            assert_eq!(row.iter().sum::<f64>(), 1.0);
        }
    }
}
