//! Timing by the repository's contract: warm-up calls, then the median and
//! minimum of up to N timed calls within a time budget.

use crate::spec::Timing;
use std::time::Instant;

/// The summary of one timed series, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median_ms: f64,
    pub min_ms: f64,
    pub runs: usize,
}

/// The median of `v` (the mean of the middle two for an even count); `None`
/// when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// Summarizes times in milliseconds; `None` when empty.
pub fn stats(times_ms: &[f64]) -> Option<Stats> {
    Some(Stats {
        median_ms: median(times_ms)?,
        min_ms: times_ms.iter().copied().fold(f64::INFINITY, f64::min),
        runs: times_ms.len(),
    })
}

/// Calls `f` `t.warmup` times untimed, then times up to `t.runs` calls,
/// stopping after `t.max_seconds` once three are in. The first error stops it.
pub fn time_calls<E>(t: &Timing, mut f: impl FnMut() -> Result<(), E>) -> Result<Stats, E> {
    for _ in 0..t.warmup {
        f()?;
    }
    let start = Instant::now();
    let mut times = Vec::with_capacity(t.runs);
    for _ in 0..t.runs.max(1) {
        let t0 = Instant::now();
        f()?;
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        if start.elapsed().as_secs_f64() > t.max_seconds && times.len() >= 3 {
            break;
        }
    }
    Ok(stats(&times).expect("at least one run was timed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_min() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let s = stats(&[5.0, 1.0, 9.0]).unwrap();
        assert_eq!((s.median_ms, s.min_ms, s.runs), (5.0, 1.0, 3));
    }

    #[test]
    fn budget_stops_after_three_runs_and_errors_stop_at_once() {
        let t = Timing {
            warmup: 1,
            runs: 100,
            max_seconds: 0.0,
        };
        let mut calls = 0;
        let s = time_calls::<()>(&t, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((s.runs, calls), (3, 4));
        let mut calls = 0;
        let r = time_calls(&t, || {
            calls += 1;
            if calls == 2 {
                Err("boom")
            } else {
                Ok(())
            }
        });
        assert_eq!((r, calls), (Err("boom"), 2));
    }
}
