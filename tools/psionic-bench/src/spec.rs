//! The workload specification shared with `bench/peers.py`: `bench/workloads.json`.
//!
//! One file holds the sizes (the issue's `full` ones and smaller `quick`
//! ones), the constants of each workload and the timing budget, so the Rust
//! and Python sides cannot drift apart.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Which sizes and repetition counts to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The sizes issue 6 names.
    Full,
    /// Smaller sizes and fewer repetitions for a short run.
    Quick,
}

impl Mode {
    pub fn key(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
        }
    }
}

/// Repetitions of one timing: `warmup` untimed calls, then up to `runs`
/// timed ones, stopping early (after at least three) once `max_seconds` pass.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Timing {
    pub warmup: usize,
    pub runs: usize,
    pub max_seconds: f64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SizedLimit {
    pub full: BTreeMap<String, u64>,
    pub quick: BTreeMap<String, u64>,
    #[serde(default)]
    pub scalar: Option<f64>,
}

impl SizedLimit {
    pub fn sizes(&self, mode: Mode) -> &BTreeMap<String, u64> {
        match mode {
            Mode::Full => &self.full,
            Mode::Quick => &self.quick,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Limits {
    pub stream_triad: SizedLimit,
    pub sgemm: SizedLimit,
}

/// One workload: a title, sizes per mode and its constants.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkloadSpec {
    pub title: String,
    pub full: BTreeMap<String, u64>,
    pub quick: BTreeMap<String, u64>,
    #[serde(default)]
    pub a: Option<f64>,
    #[serde(default)]
    pub b: Option<f64>,
    #[serde(default)]
    pub eps: Option<f64>,
    #[serde(default)]
    pub lr: Option<f64>,
}

impl WorkloadSpec {
    pub fn sizes(&self, mode: Mode) -> &BTreeMap<String, u64> {
        match mode {
            Mode::Full => &self.full,
            Mode::Quick => &self.quick,
        }
    }

    /// A size of this workload (`n`, `rows`, ...), or an error naming it.
    pub fn size(&self, mode: Mode, key: &str) -> Result<usize, String> {
        self.sizes(mode)
            .get(key)
            .map(|&v| v as usize)
            .ok_or_else(|| {
                format!(
                    "workload `{}` has no size `{key}` in mode {}",
                    self.title,
                    mode.key()
                )
            })
    }

    /// A constant of this workload, or an error naming it.
    pub fn constant(&self, name: &str, v: Option<f64>) -> Result<f64, String> {
        v.ok_or_else(|| format!("workload `{}` needs the constant `{name}`", self.title))
    }
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
pub struct Spec {
    pub timing: BTreeMap<String, Timing>,
    pub limits: Limits,
    /// Keyed by id (`W1` ... `W7`); the ids sort in their natural order.
    pub workloads: BTreeMap<String, WorkloadSpec>,
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn timing(&self, mode: Mode) -> Result<Timing, String> {
        self.timing
            .get(mode.key())
            .copied()
            .ok_or_else(|| format!("workloads.json has no timing for mode {}", mode.key()))
    }
}
