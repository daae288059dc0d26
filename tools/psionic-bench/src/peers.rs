//! Runs `bench/peers.py` (NumPy, MLX, JAX, PyTorch and the machine limits)
//! as a child process of this run and reads the one JSON document it prints.

use crate::check::Fingerprint;
use crate::spec::Mode;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// One peer's outcome on one workload. `status` is `ok` (timed), `wrong`
/// (its result differs from NumPy's; not timed), `error` (it raised),
/// `missing` (not installed or not requested) or `n/a` (the workload means
/// nothing for it, as W7 for a library that does not compile).
#[derive(Clone, Debug, Deserialize)]
pub struct PeerResult {
    pub status: String,
    #[serde(default)]
    pub median_ms: Option<f64>,
    #[serde(default)]
    pub min_ms: Option<f64>,
    #[serde(default)]
    pub runs: Option<usize>,
    #[serde(default)]
    pub first_call_ms: Option<f64>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WorkloadResult {
    pub title: String,
    pub sizes: BTreeMap<String, u64>,
    /// Bytes a perfect kernel moves.
    pub bytes: u64,
    /// Flops a perfect kernel performs (0 where memory bounds the workload).
    pub flops: u64,
    /// NumPy's results.
    pub reference: Vec<Fingerprint>,
    pub results: BTreeMap<String, PeerResult>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PeerInfo {
    pub available: bool,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A limit measurement (STREAM triad or sgemm); fields of the other kind are absent.
#[derive(Clone, Debug, Deserialize)]
pub struct LimitResult {
    pub status: String,
    #[serde(default)]
    pub n: Option<u64>,
    #[serde(default)]
    pub gb_per_s: Option<f64>,
    #[serde(default)]
    pub gflop_per_s: Option<f64>,
    #[serde(default)]
    pub how: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PeerLimits {
    #[serde(default)]
    pub stream_triad: Option<LimitResult>,
    #[serde(default)]
    pub sgemm: Option<LimitResult>,
}

/// The whole document (`"schema": "psionic-bench-peers/1"`).
#[derive(Clone, Debug, Deserialize)]
pub struct PeersDoc {
    pub schema: String,
    pub mode: String,
    pub command: String,
    pub date_utc: String,
    pub machine: serde_json::Map<String, serde_json::Value>,
    /// Threads each peer was allowed (a number, or "library default").
    #[serde(default)]
    pub peer_threads: Option<serde_json::Value>,
    pub peers: BTreeMap<String, PeerInfo>,
    #[serde(default)]
    pub limits: PeerLimits,
    pub workloads: BTreeMap<String, WorkloadResult>,
    #[serde(default)]
    pub elapsed_s: Option<f64>,
}

/// The peer columns of the report, in order.
pub const PEERS: [&str; 5] = ["numpy", "mlx", "jax", "torch", "torch.compile"];

/// Parses and checks a peers document.
pub fn parse(text: &str) -> Result<PeersDoc, String> {
    let doc: PeersDoc =
        serde_json::from_str(text).map_err(|e| format!("peers.py printed unreadable JSON: {e}"))?;
    if doc.schema != "psionic-bench-peers/1" {
        return Err(format!(
            "peers.py printed schema `{}`, expected psionic-bench-peers/1",
            doc.schema
        ));
    }
    Ok(doc)
}

/// Runs `python bench/peers.py` with the mode's flag plus `extra` arguments;
/// its progress goes to this process's stderr.
pub fn run(
    python: &str,
    peers_py: &Path,
    mode: Mode,
    extra: &[String],
) -> Result<PeersDoc, String> {
    let mut cmd = Command::new(python);
    cmd.arg(peers_py);
    if mode == Mode::Quick {
        cmd.arg("--quick");
    }
    cmd.args(extra)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{python} {}`: {e}", peers_py.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{python} {}` failed ({})",
            peers_py.display(),
            out.status
        ));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| "peers.py printed non-UTF-8 output".to_string())?;
    parse(&text)
}
