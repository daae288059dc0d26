//! The machine's own memory bandwidth, measured natively: a STREAM triad
//! `a[i] = b[i] + s*c[i]` over f32, split across every core with scoped
//! threads (NumPy's triad in peers.py runs on one thread).

use crate::spec::Timing;
use crate::timing::{time_calls, Stats};

/// A triad measurement.
#[derive(Clone, Copy, Debug)]
pub struct Triad {
    pub n: usize,
    pub threads: usize,
    /// 3 arrays of n f32: what memory must move.
    pub bytes: usize,
    pub stats: Stats,
}

impl Triad {
    /// Bandwidth of the fastest run, GB/s (1e9 bytes).
    pub fn gb_per_s(&self) -> f64 {
        self.bytes as f64 / (self.stats.min_ms * 1e-3) / 1e9
    }
}

fn triad_chunk(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    for ((a, &b), &c) in a.iter_mut().zip(b).zip(c) {
        *a = b + s * c;
    }
}

/// Runs the triad on `n` elements per array with `threads` threads.
pub fn stream_triad(n: usize, scalar: f32, threads: usize, t: &Timing) -> Result<Triad, String> {
    let threads = threads.max(1);
    let b: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let c: Vec<f32> = (0..n).map(|i| (i % 777) as f32 * 1e-3).collect();
    let mut a = vec![0f32; n];
    let chunk = n.div_ceil(threads).max(1);
    let mut run = || -> Result<(), String> {
        std::thread::scope(|sc| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                sc.spawn(move || triad_chunk(a, b, c, scalar));
            }
        });
        Ok(())
    };
    let stats = time_calls(t, &mut run)?;
    // The result is checked so a miscompiled loop cannot report a bandwidth.
    if let Some(i) = (0..n)
        .step_by(n / 97 + 1)
        .find(|&i| a[i] != b[i] + scalar * c[i])
    {
        return Err(format!("triad computed a wrong element {i}"));
    }
    Ok(Triad {
        n,
        threads,
        bytes: 3 * n * 4,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_triad_runs_and_reports_bandwidth() {
        let t = Timing {
            warmup: 1,
            runs: 3,
            max_seconds: 1.0,
        };
        let r = stream_triad(10_001, 3.0, 3, &t).unwrap();
        assert_eq!((r.bytes, r.stats.runs), (120_012, 3));
        assert!(r.gb_per_s() > 0.0 && r.gb_per_s().is_finite());
    }
}
