//! `psionic-bench`: the benchmarks of issue 6 (item 8).
//!
//! One run times Psionic's version of each workload W1-W8 of
//! `bench/workloads.json` through a [`backend::Backend`] (today the reference
//! interpreter; the Cranelift JIT plugs in as another backend), measures a
//! native multi-threaded STREAM triad, runs `bench/peers.py` (NumPy, MLX,
//! JAX, PyTorch eager and `torch.compile`, NumPy's STREAM triad and sgemm)
//! as a child process of the same run, checks Psionic's results against
//! NumPy's, and renders a table of times, the ratio to the best peer and the
//! ratio to the machine's floor ([`report`]), which the binary writes to
//! `docs/BENCHMARKS.md`.
//!
//! Timings are reported, never asserted: nothing here passes or fails on a
//! number. A result that differs from NumPy's is reported as wrong and its
//! time is not shown. The future `psionic bench` subcommand calls [`run`].
//!
//! Depends on the IR and the runtime only; knows nothing of MLX.

pub mod backend;
pub mod check;
pub mod inputs;
pub mod limits;
pub mod peers;
pub mod report;
pub mod spec;
pub mod timing;
pub mod workloads;

use backend::Backend;
use spec::{Mode, Spec};
use std::path::{Path, PathBuf};
use std::time::Instant;
use timing::Stats;
use workloads::Plan;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// The repository root (holds `bench/peers.py` and `bench/workloads.json`).
    pub root: PathBuf,
    /// Workload ids to run; empty means all.
    pub only: Vec<String>,
    /// Psionic backend name (`interp`).
    pub backend: String,
    /// Python interpreter for the peers; `None` skips them.
    pub python: Option<String>,
    /// Extra arguments passed to peers.py.
    pub peers_args: Vec<String>,
    /// The command line that started this run, for the report.
    pub command: String,
}

/// Psionic's outcome on one workload.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Timed. `checked` is the largest sampled error against NumPy, `None`
    /// when there was no NumPy reference to check against.
    Ok {
        stats: Stats,
        /// Time of `Backend::prepare` (compilation), ms.
        prepare_ms: f64,
        /// The first call, untimed by `stats`, ms.
        first_call_ms: f64,
        checked: Option<f64>,
        /// Ops in the function run (or built, for W7).
        ops: usize,
        /// A workload-specific remark for the notes.
        note: Option<String>,
    },
    /// The result differs from NumPy's.
    Wrong(String),
    /// Building or running failed.
    Error(String),
    /// Psionic cannot run this workload yet.
    Unavailable(String),
}

/// Psionic's side of one workload.
#[derive(Clone, Debug)]
pub struct PsionicResult {
    pub id: String,
    pub title: String,
    pub outcome: Outcome,
}

/// Everything one run measured.
pub struct Run {
    pub options: Options,
    pub backend_name: &'static str,
    pub backend_about: &'static str,
    /// Whether the backend compiles (W7 is judged only then).
    pub backend_compiles: bool,
    pub date_utc: String,
    pub spec: Spec,
    pub psionic: Vec<PsionicResult>,
    /// Native STREAM triad over every core.
    pub triad: Result<limits::Triad, String>,
    pub threads: usize,
    /// The peers' document, or why there is none.
    pub peers: Result<peers::PeersDoc, String>,
    pub elapsed_s: f64,
}

/// Runs the peers, then the machine's triad, then Psionic's workloads.
pub fn run(options: Options) -> Result<Run, String> {
    let start = Instant::now();
    let spec = Spec::load(&options.root.join("bench/workloads.json"))?;
    for id in &options.only {
        if !spec.workloads.contains_key(id) {
            let known: Vec<&String> = spec.workloads.keys().collect();
            return Err(format!("unknown workload `{id}`; known: {known:?}"));
        }
    }
    let backend = backend::by_name(&options.backend)?;
    let timing = spec.timing(options.mode)?;
    let date_utc = utc_now();

    // Peers first: their NumPy results are the reference Psionic is checked against.
    let peers = match &options.python {
        None => Err("not run (--no-peers)".to_string()),
        Some(py) => {
            let mut extra = options.peers_args.clone();
            if !options.only.is_empty() {
                extra.push("--only".into());
                extra.push(options.only.join(","));
            }
            eprintln!("[psionic-bench] running the peers: {py} bench/peers.py");
            peers::run(
                py,
                &options.root.join("bench/peers.py"),
                options.mode,
                &extra,
            )
        }
    };
    if let Err(e) = &peers {
        eprintln!("[psionic-bench] peers: {e}");
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let triad_n = *spec
        .limits
        .stream_triad
        .sizes(options.mode)
        .get("n")
        .ok_or("workloads.json has no stream_triad size `n`")? as usize;
    let scalar = spec.limits.stream_triad.scalar.unwrap_or(3.0) as f32;
    eprintln!("[psionic-bench] STREAM triad, {threads} threads");
    let triad = limits::stream_triad(triad_n, scalar, threads, &timing);

    let mut psionic = Vec::new();
    for (id, w) in &spec.workloads {
        if !options.only.is_empty() && !options.only.contains(id) {
            continue;
        }
        eprintln!("[psionic-bench] {id} psionic ({})", backend.name());
        let reference = peers
            .as_ref()
            .ok()
            .and_then(|d| d.workloads.get(id))
            .map(|r| r.reference.as_slice());
        let outcome = match workloads::plan(id, w, options.mode) {
            Err(e) => Outcome::Error(e),
            Ok(plan) => run_plan(plan, backend.as_ref(), &timing, reference),
        };
        psionic.push(PsionicResult {
            id: id.clone(),
            title: w.title.clone(),
            outcome,
        });
    }
    Ok(Run {
        backend_name: backend.name(),
        backend_about: backend.describe(),
        backend_compiles: backend.compiles(),
        options,
        date_utc,
        spec,
        psionic,
        triad,
        threads,
        peers,
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn verify(f: &psionic_ir::Func) -> Result<(), String> {
    psionic_ir::verify::verify_func(f).map_err(|e| format!("@{} does not verify: {e}", f.name))
}

fn run_plan(
    plan: Plan,
    backend: &dyn Backend,
    timing: &spec::Timing,
    reference: Option<&[check::Fingerprint]>,
) -> Outcome {
    match plan {
        Plan::Unavailable(why) => Outcome::Unavailable(why),
        Plan::Run(p) => {
            if let Err(e) = verify(&p.func) {
                return Outcome::Error(e);
            }
            let t0 = Instant::now();
            let prepared = match backend.prepare(&p.func) {
                Ok(x) => x,
                Err(e) => return Outcome::Error(e),
            };
            let prepare_ms = ms_since(t0);
            let t0 = Instant::now();
            let out = match prepared.run(&p.inputs) {
                Ok(x) => x,
                Err(e) => return Outcome::Error(e),
            };
            let first_call_ms = ms_since(t0);
            let checked = match reference.map(|r| check::check(&out, r)) {
                Some(Err(e)) => return Outcome::Wrong(e),
                Some(Ok(err)) => Some(err),
                None => None,
            };
            drop(out);
            // The first call served as one warm-up.
            let t = spec::Timing {
                warmup: timing.warmup.saturating_sub(1),
                ..*timing
            };
            match timing::time_calls(&t, || prepared.run(&p.inputs).map(drop)) {
                Ok(stats) => Outcome::Ok {
                    stats,
                    prepare_ms,
                    first_call_ms,
                    checked,
                    ops: p.func.ops.len(),
                    note: None,
                },
                Err(e) => Outcome::Error(e),
            }
        }
        Plan::Compile { ops, n, input } => {
            // Correctness: the chains NumPy's reference was computed from (salt 0),
            // traced through psionic-mlx and built directly.
            let mut checked = None;
            let mut n_ops = 0;
            for build in [workloads::chain_traced, workloads::chain] {
                let out = build(ops, n, 0).and_then(|f| {
                    verify(&f)?;
                    n_ops = f.ops.len();
                    backend.prepare(&f)?.run(std::slice::from_ref(&input))
                });
                match (out, reference) {
                    (Err(e), _) => return Outcome::Error(e),
                    (Ok(out), Some(r)) => match check::check(&out, r) {
                        Err(e) => return Outcome::Wrong(e),
                        Ok(err) => checked = Some(checked.map_or(err, |c: f64| c.max(err))),
                    },
                    (Ok(_), None) => {}
                }
            }
            // Timed: trace (or build), verify and prepare a fresh chain; a new
            // salt each time keeps it honest should a backend cache by content.
            let mut salt = 0u32;
            let mut prepare_min = f64::INFINITY;
            let mut time_path =
                |build: fn(usize, usize, u32) -> Result<psionic_ir::Func, String>| {
                    timing::time_calls(timing, || -> Result<(), String> {
                        salt += 1;
                        let f = build(ops, n, salt)?;
                        verify(&f)?;
                        let t0 = Instant::now();
                        let prepared = backend.prepare(&f)?;
                        prepare_min = prepare_min.min(ms_since(t0));
                        drop(prepared);
                        Ok(())
                    })
                };
            let traced = time_path(workloads::chain_traced);
            let direct = time_path(workloads::chain);
            match (traced, direct) {
                (Ok(stats), Ok(direct)) => Outcome::Ok {
                    stats,
                    prepare_ms: prepare_min,
                    first_call_ms: f64::NAN,
                    checked,
                    ops: n_ops,
                    note: Some(format!(
                        "the time is `psionic_mlx::trace` of a closure over lazy arrays, then verify and prepare; building the same function directly with `Func::push` instead takes {} ms (min; {} median)",
                        report::fmt_ms(direct.min_ms),
                        report::fmt_ms(direct.median_ms)
                    )),
                },
                (Err(e), _) | (_, Err(e)) => Outcome::Error(e),
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` from the system clock (civil-from-days, no
/// date crate needed).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The repository root this binary was built in (two levels above the crate).
pub fn default_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_795_656_896), "2026-11-26 01:34:56 UTC");
    }
}
