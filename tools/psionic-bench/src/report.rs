//! Renders a [`Run`] as `docs/BENCHMARKS.md`: the machine, its limits, one
//! table of times (Psionic, each peer, the floor) with Psionic's ratios to
//! the best peer and to the floor, first-call times, the issue's targets and
//! notes on every result that is not a plain timing.

use crate::peers::{PeerResult, PeersDoc, WorkloadResult, PEERS};
use crate::{Outcome, Run};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Milliseconds with about three significant digits.
pub fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        "—".into()
    } else if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else if ms >= 0.01 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.2e}")
    }
}

/// A ratio `a / b` as `12.3×`.
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        "—".into()
    } else if r < 0.01 {
        format!("{r:.1e}×")
    } else if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// The floors of one run: the best bandwidth and flop rate the machine showed.
#[derive(Clone, Debug, Default)]
pub struct Floors {
    /// GB/s and where it came from.
    pub bandwidth: Option<(f64, String)>,
    /// GFLOP/s and where it came from.
    pub flops: Option<(f64, String)>,
}

impl Floors {
    pub fn of(run: &Run) -> Floors {
        let mut bw: Vec<(f64, String)> = Vec::new();
        if let Ok(t) = &run.triad {
            bw.push((t.gb_per_s(), format!("native triad, {} threads", t.threads)));
        }
        let mut fl: Vec<(f64, String)> = Vec::new();
        if let Ok(d) = &run.peers {
            if let Some(g) = d.limits.stream_triad.as_ref().and_then(|l| l.gb_per_s) {
                bw.push((g, "NumPy triad, 1 thread".into()));
            }
            if let Some(l) = &d.limits.sgemm {
                if let (Some(g), Some(n)) = (l.gflop_per_s, l.n) {
                    fl.push((g, format!("NumPy sgemm {n}³")));
                }
            }
            // What a correct peer did, the machine can do: a floor it beats
            // is no floor (at the quick sizes data sits in cache, faster than
            // a triad over larger arrays; a contended sgemm runs below what a
            // peer's matmul shows).
            for (id, w) in &d.workloads {
                if id == "W7" {
                    continue;
                }
                for (peer, r) in &w.results {
                    if let (Some(ms), "ok") = (r.min_ms, r.status.as_str()) {
                        let secs = ms * 1e-3;
                        if w.flops > 0 {
                            fl.push((w.flops as f64 / secs / 1e9, format!("{peer} on {id}")));
                        } else if w.bytes > 0 {
                            bw.push((w.bytes as f64 / secs / 1e9, format!("{peer} on {id}")));
                        }
                    }
                }
            }
        }
        let best = |v: Vec<(f64, String)>| {
            v.into_iter()
                .filter(|x| x.0.is_finite())
                .max_by(|a, b| a.0.total_cmp(&b.0))
        };
        Floors {
            bandwidth: best(bw),
            flops: best(fl),
        }
    }

    /// The floor of one workload in ms, and which limit sets it.
    pub fn floor_ms(&self, id: &str, w: &WorkloadResult) -> Option<(f64, &'static str)> {
        if w.flops > 0 {
            let (g, _) = self.flops.as_ref()?;
            Some((w.flops as f64 / (g * 1e9) * 1e3, "flops"))
        } else if w.bytes > 0 && id != "W7" {
            let (g, _) = self.bandwidth.as_ref()?;
            Some((w.bytes as f64 / (g * 1e9) * 1e3, "bandwidth"))
        } else {
            None
        }
    }
}

fn peer_cell(r: Option<&PeerResult>) -> String {
    match r {
        None => "—".into(),
        Some(r) => match (r.status.as_str(), r.min_ms, r.median_ms) {
            ("ok", Some(min), Some(med)) => format!("{} ({})", fmt_ms(min), fmt_ms(med)),
            ("wrong", ..) => "**wrong**".into(),
            ("error", ..) => "error".into(),
            ("n/a", ..) => "n/a".into(),
            ("missing", ..) => "missing".into(),
            (other, ..) => other.to_string(),
        },
    }
}

fn psionic_cell(o: &Outcome) -> String {
    match o {
        Outcome::Ok { stats, .. } => {
            format!("{} ({})", fmt_ms(stats.min_ms), fmt_ms(stats.median_ms))
        }
        Outcome::Wrong(_) => "**wrong**".into(),
        Outcome::Error(_) => "error".into(),
        Outcome::Unavailable(_) => "not yet available".into(),
    }
}

/// The fastest peer that ran correctly: (name, min ms).
pub fn best_peer(w: &WorkloadResult) -> Option<(&str, f64)> {
    PEERS
        .iter()
        .filter_map(|&p| {
            let r = w.results.get(p)?;
            (r.status == "ok").then_some((p, r.min_ms?))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn sizes_str(id: &str, s: &BTreeMap<String, u64>) -> String {
    let g = |k: &str| s.get(k).copied().unwrap_or(0);
    if s.contains_key("rows") {
        format!("{}×{}", g("rows"), g("cols"))
    } else if s.contains_key("filters") {
        format!(
            "{}×{}²×{} → {}, {}×{}",
            g("batch"),
            g("size"),
            g("channels"),
            g("filters"),
            g("kernel"),
            g("kernel")
        )
    } else if s.contains_key("batch") {
        format!(
            "B={} {}→{}→{}",
            g("batch"),
            g("inputs"),
            g("hidden"),
            g("classes")
        )
    } else if s.contains_key("ops") {
        format!("{} ops, n={}", g("ops"), g("n"))
    } else if id.starts_with("W5") {
        format!("{}³", g("n"))
    } else {
        format!("n={}", g("n"))
    }
}

fn min_ms(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Ok { stats, .. } => Some(stats.min_ms),
        _ => None,
    }
}

/// The results table (Markdown), also printed to the terminal.
pub fn table(run: &Run) -> String {
    let floors = Floors::of(run);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | size | psionic ({}) | {} | floor | best peer | psionic / best peer | psionic / floor | best peer / floor |",
        run.backend_name,
        PEERS.join(" | ")
    );
    let _ = writeln!(s, "|{}", "---|".repeat(8 + PEERS.len()));
    let doc = run.peers.as_ref().ok();
    for p in &run.psionic {
        let w = doc.and_then(|d| d.workloads.get(&p.id));
        let sizes = run
            .spec
            .workloads
            .get(&p.id)
            .map(|w| sizes_str(&p.id, w.sizes(run.options.mode)));
        let mut cells = vec![
            format!("{} {}", p.id, p.title),
            sizes.unwrap_or_default(),
            psionic_cell(&p.outcome),
        ];
        for peer in PEERS {
            cells.push(peer_cell(w.and_then(|w| w.results.get(peer))));
        }
        let floor = w.and_then(|w| floors.floor_ms(&p.id, w));
        let best = w.and_then(best_peer);
        cells.push(match (floor, p.id.as_str()) {
            (Some((f, kind)), _) => format!("{} ({kind})", fmt_ms(f)),
            (None, "W7") => "target 20".into(),
            _ => "—".into(),
        });
        cells.push(best.map_or("—".into(), |(n, _)| n.to_string()));
        let ps = min_ms(&p.outcome);
        cells.push(match (ps, best) {
            (Some(a), Some((_, b))) => fmt_ratio(a / b),
            _ => "—".into(),
        });
        cells.push(match (ps, floor, p.id.as_str()) {
            (Some(a), Some((f, _)), _) => fmt_ratio(a / f),
            (Some(a), None, "W7") => fmt_ratio(a / 20.0),
            _ => "—".into(),
        });
        cells.push(match (best, floor) {
            (Some((_, b)), Some((f, _))) => fmt_ratio(b / f),
            _ => "—".into(),
        });
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

fn first_call_table(run: &Run, doc: &PeersDoc) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | psionic prepare | psionic first call | {} |",
        PEERS.join(" | ")
    );
    let _ = writeln!(s, "|{}", "---|".repeat(3 + PEERS.len()));
    for p in &run.psionic {
        if p.id == "W7" {
            continue;
        }
        let (prep, first) = match &p.outcome {
            Outcome::Ok {
                prepare_ms,
                first_call_ms,
                ..
            } => (fmt_ms(*prepare_ms), fmt_ms(*first_call_ms)),
            _ => ("—".into(), "—".into()),
        };
        let mut cells = vec![p.id.clone(), prep, first];
        for peer in PEERS {
            let r = doc.workloads.get(&p.id).and_then(|w| w.results.get(peer));
            cells.push(match r {
                Some(r) if r.status == "ok" => r.first_call_ms.map_or("—".into(), fmt_ms),
                _ => "—".into(),
            });
        }
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

fn machine_section(run: &Run, floors: &Floors) -> String {
    let mut s = String::new();
    let m = run.peers.as_ref().ok().map(|d| &d.machine);
    let get = |k: &str| -> String {
        m.and_then(|m| m.get(k))
            .map(|v| match v {
                serde_json::Value::String(x) => x.clone(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| match x {
                        serde_json::Value::String(t) => t.clone(),
                        serde_json::Value::Number(n) => {
                            n.as_f64().map_or(n.to_string(), |f| format!("{f:.1}"))
                        }
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "?".into())
    };
    let _ = writeln!(
        s,
        "- CPU: {} — {} logical cores ({} usable by this run), SIMD {}",
        get("cpu_model"),
        get("logical_cores"),
        run.threads,
        get("simd")
    );
    let _ = writeln!(
        s,
        "- Memory: {} GiB; L2 {} per core, L3 {} (as the VM reports it)",
        get("memory_gib"),
        get("l2_cache"),
        get("l3_cache")
    );
    let _ = writeln!(s, "- OS: {}; Python {}", get("platform"), get("python"));
    let _ = writeln!(
        s,
        "- Load average (1, 5, 15 min) when the peers started: {}; when they ended: {}",
        get("load_average_start"),
        get("load_average_end")
    );
    if let Ok(d) = &run.peers {
        let mut v = Vec::new();
        for p in PEERS {
            match d.peers.get(p) {
                Some(i) if i.available => {
                    v.push(format!("{p} {}", i.version.clone().unwrap_or_default()))
                }
                Some(i) => v.push(format!(
                    "{p}: not run ({})",
                    i.reason.clone().unwrap_or_default()
                )),
                None => {}
            }
        }
        let _ = writeln!(s, "- Peers: {}", v.join("; "));
        let threads = d
            .peer_threads
            .as_ref()
            .map_or("library default".into(), |v| match v {
                serde_json::Value::String(x) => x.clone(),
                other => other.to_string(),
            });
        let _ = writeln!(
            s,
            "- Threads per peer: {threads} (each peer runs in a child process of its own); NumPy's BLAS: {}; PyTorch threads: {}",
            get("numpy_blas"),
            get("torch_threads")
        );
    } else if let Err(e) = &run.peers {
        let _ = writeln!(s, "- Peers: none ({e})");
    }
    let load = m
        .and_then(|m| m.get("load_average_start"))
        .and_then(|v| v.get(0))
        .and_then(|v| v.as_f64());
    if let Some(load) = load.filter(|&l| l > 1.5 * run.threads as f64) {
        let _ = writeln!(
            s,
            "\n**The machine was oversubscribed** (load {load:.1} on {} cores) while this ran: every time here is \
inflated by waiting for a core, and multi-threaded code (PyTorch, OpenBLAS, XLA) suffers most, since each parallel \
region waits for its slowest, descheduled thread. The minimum of several runs is the least disturbed estimate; \
single numbers can be off by 10× or more between runs (PyTorch's 1024×1024 row sum took 12 ms on 2 threads and \
0.18 ms on 1 while this page was made). Rerun on a quiet machine, or with `--threads 1`, before drawing conclusions.",
            run.threads
        );
    }
    let _ = writeln!(s, "\nMachine limits measured in this run:\n");
    match &run.triad {
        Ok(t) => {
            let _ = writeln!(
                s,
                "- STREAM triad, native Rust, {} threads, 3×{} f32: {:.1} GB/s (best), {:.1} GB/s (median)",
                t.threads,
                t.n,
                t.gb_per_s(),
                t.bytes as f64 / (t.stats.median_ms * 1e-3) / 1e9
            );
        }
        Err(e) => {
            let _ = writeln!(s, "- STREAM triad, native Rust: failed: {e}");
        }
    }
    if let Ok(d) = &run.peers {
        if let Some(l) = &d.limits.stream_triad {
            let _ = writeln!(
                s,
                "- STREAM triad, NumPy ({}), 3×{} f32: {}",
                l.how.clone().unwrap_or_default(),
                l.n.unwrap_or(0),
                l.gb_per_s.map_or(
                    format!("{} {}", l.status, l.detail.clone().unwrap_or_default()),
                    |g| format!("{g:.1} GB/s (best)")
                )
            );
        }
        if let Some(l) = &d.limits.sgemm {
            let _ = writeln!(
                s,
                "- sgemm, {} {}³: {}",
                l.how.clone().unwrap_or_default(),
                l.n.unwrap_or(0),
                l.gflop_per_s.map_or(
                    format!("{} {}", l.status, l.detail.clone().unwrap_or_default()),
                    |g| format!("{g:.1} GFLOP/s (best)")
                )
            );
        }
    }
    let _ = writeln!(
        s,
        "- Floors used below: bandwidth {}; flops {}.",
        floors
            .bandwidth
            .as_ref()
            .map_or("none".into(), |(g, from)| format!("{g:.1} GB/s ({from})")),
        floors
            .flops
            .as_ref()
            .map_or("none".into(), |(g, from)| format!(
                "{g:.1} GFLOP/s ({from})"
            ))
    );
    s
}

fn targets_section(run: &Run) -> String {
    let mut s = String::new();
    let doc = match &run.peers {
        Ok(d) => d,
        Err(_) => return "No peers ran, so the targets cannot be judged.\n".into(),
    };
    let floors = Floors::of(run);
    let _ = writeln!(s, "| workload | target (issue 6) | measured | met |");
    let _ = writeln!(s, "|---|---|---|---|");
    for p in &run.psionic {
        let Some(w) = doc.workloads.get(&p.id) else {
            continue;
        };
        let ps = min_ms(&p.outcome);
        let peer = |name: &str| {
            w.results
                .get(name)
                .filter(|r| r.status == "ok")
                .and_then(|r| r.min_ms)
        };
        let (target, measured, met): (&str, String, Option<bool>) = match p.id.as_str() {
            "W1" | "W2" | "W3" | "W4" => {
                let floor = floors.floor_ms(&p.id, w).map(|f| f.0);
                let (jax, mlx) = (peer("jax"), peer("mlx"));
                let measured = format!(
                    "{} of floor; {} of jax.jit; {} of mx.compile",
                    ps.zip(floor).map_or("—".into(), |(a, f)| fmt_ratio(a / f)),
                    ps.zip(jax).map_or("—".into(), |(a, b)| fmt_ratio(a / b)),
                    ps.zip(mlx).map_or("—".into(), |(a, b)| fmt_ratio(a / b)),
                );
                let met = ps.zip(floor).map(|(a, f)| {
                    a <= 1.5 * f && jax.is_none_or(|j| a < j) && mlx.is_none_or(|m| a < m)
                });
                (
                    "≤ 1.5× floor, faster than jax.jit and mx.compile",
                    measured,
                    met,
                )
            }
            "W5a" | "W5b" => {
                let best = best_peer(w);
                let measured = match (ps, best) {
                    (Some(a), Some((n, b))) => format!("{:.1}% of {n}'s rate", 100.0 * b / a),
                    _ => "—".into(),
                };
                (
                    "≥ 90% of the best BLAS",
                    measured,
                    ps.zip(best).map(|(a, (_, b))| b / a >= 0.9),
                )
            }
            "W6" => {
                let (jax, mlx) = (peer("jax"), peer("mlx"));
                let measured = format!(
                    "{} of jax.jit; {} of mx.compile",
                    ps.zip(jax).map_or("—".into(), |(a, b)| fmt_ratio(a / b)),
                    ps.zip(mlx).map_or("—".into(), |(a, b)| fmt_ratio(a / b))
                );
                (
                    "faster than jax.jit and mx.compile",
                    measured,
                    ps.map(|a| jax.is_none_or(|j| a < j) && mlx.is_none_or(|m| a < m)),
                )
            }
            "W8" => {
                let best = best_peer(w);
                let floor = floors.floor_ms(&p.id, w).map(|f| f.0);
                let measured = format!(
                    "{} of {}; {} of the sgemm floor",
                    ps.zip(best)
                        .map_or("—".into(), |(a, (_, b))| fmt_ratio(a / b)),
                    best.map_or("the best peer", |(n, _)| n),
                    ps.zip(floor).map_or("—".into(), |(a, f)| fmt_ratio(a / f)),
                );
                (
                    "none (item 4: convolution through gemm with a fused epilogue)",
                    measured,
                    None,
                )
            }
            "W7" if !run.backend_compiles => (
                "under 20 ms",
                format!(
                    "{} ms tracing and verifying the IR; {} compiles nothing",
                    ps.map_or("—".into(), fmt_ms),
                    run.backend_name
                ),
                None,
            ),
            "W7" => (
                "under 20 ms",
                ps.map_or("—".into(), |a| format!("{} ms", fmt_ms(a))),
                ps.map(|a| a < 20.0),
            ),
            _ => continue,
        };
        let met = match met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not judged",
        };
        let _ = writeln!(s, "| {} | {target} | {measured} | {met} |", p.id);
    }
    s
}

fn notes_section(run: &Run) -> String {
    let mut s = String::new();
    for p in &run.psionic {
        match &p.outcome {
            Outcome::Ok {
                checked,
                ops,
                prepare_ms,
                note,
                ..
            } => {
                let check = match checked {
                    Some(e) => format!("matches NumPy (largest sampled error {e:.2e})"),
                    None => "NOT checked (no NumPy reference in this run)".into(),
                };
                let plural = if *ops == 1 { "" } else { "s" };
                let note = note.as_ref().map_or(String::new(), |n| format!("; {n}"));
                if p.id == "W7" {
                    let _ = writeln!(
                        s,
                        "- {} psionic: a {ops}-op function ({} elementwise ops, plus the scalar constants); `prepare` takes {} ms of it (min); the chain {check}{note}.",
                        p.id,
                        run.options_ops(&p.id),
                        fmt_ms(*prepare_ms)
                    );
                } else {
                    let _ = writeln!(s, "- {} psionic: {ops} op{plural}; {check}{note}.", p.id);
                }
            }
            Outcome::Wrong(d) => {
                let _ = writeln!(s, "- {} psionic: **wrong result, not timed**: {d}", p.id);
            }
            Outcome::Error(d) => {
                let _ = writeln!(s, "- {} psionic: error: {d}", p.id);
            }
            Outcome::Unavailable(d) => {
                let _ = writeln!(s, "- {} psionic: {d}", p.id);
            }
        }
    }
    if let Ok(doc) = &run.peers {
        for (id, w) in &doc.workloads {
            for peer in PEERS {
                if let Some(r) = w.results.get(peer) {
                    if matches!(r.status.as_str(), "wrong" | "error") {
                        let _ = writeln!(
                            s,
                            "- {id} {peer}: {}: {}",
                            if r.status == "wrong" {
                                "**wrong result, not timed**"
                            } else {
                                "error"
                            },
                            r.detail.clone().unwrap_or_default()
                        );
                    }
                }
            }
        }
        for peer in PEERS {
            if let Some(i) = doc.peers.get(peer) {
                if !i.available {
                    let _ = writeln!(
                        s,
                        "- {peer}: not run: {}",
                        i.reason.clone().unwrap_or_default()
                    );
                }
            }
        }
    }
    s
}

impl Run {
    fn options_ops(&self, id: &str) -> u64 {
        let mode = self.options.mode;
        self.spec
            .workloads
            .get(id)
            .and_then(|w| w.sizes(mode).get("ops").copied())
            .unwrap_or(0)
    }
}

/// The whole of `docs/BENCHMARKS.md`.
pub fn markdown(run: &Run) -> String {
    let floors = Floors::of(run);
    let mut s = String::new();
    let mode = match run.options.mode {
        crate::spec::Mode::Quick => {
            "quick (smaller sizes than the issue names; see bench/workloads.json)"
        }
        crate::spec::Mode::Full => "full (the sizes issue 6 names)",
    };
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `{}` on {} in {:.0} s; mode {mode}. Do not edit by hand: rerun the command.\n",
        run.options.command, run.date_utc, run.elapsed_s
    );
    if run.backend_compiles {
        let _ = writeln!(s, "> Psionic backend: {}.\n", run.backend_about);
    } else {
        let _ = writeln!(
            s,
            "> **These Psionic numbers are the reference interpreter's**, not compiled code: {}. \
It exists to be right, not fast, so it is expected to be orders of magnitude slower than every peer; \
run with `--backend cpu` for compiled code.\n",
            run.backend_about
        );
    }
    let _ = writeln!(s, "## Machine\n");
    s.push_str(&machine_section(run, &floors));
    let _ = writeln!(s, "\n## Results\n");
    let _ = writeln!(
        s,
        "Times in ms: **min (median)** of the timed runs after warm-up ({}), all in this one run, one workload at a time. \
Ratios use the minimum: the machine is shared (see the load average), and the minimum is the best estimate of the \
uncontended time. The floor is the time a perfect kernel would take: the bytes it must move divided by the best \
bandwidth the machine showed in this run (W1-W4: the triads, or a correct peer's own bytes/time, since a floor someone \
beats is no floor), or its flops divided by the best rate shown (W5, W6: NumPy's sgemm or a correct peer's own flops/time). \
A peer whose result differs from NumPy's is marked **wrong** and not timed.\n",
        run.spec
            .timing(run.options.mode)
            .map(|t| format!("{} warm-up, up to {} runs, stopping after {} s once 3 are in", t.warmup, t.runs, t.max_seconds))
            .unwrap_or_default()
    );
    s.push_str(&table(run));
    if let Ok(doc) = &run.peers {
        let _ = writeln!(
            s,
            "\nFirst call, ms (for mlx, jax and torch.compile this includes tracing and compiling, \
unless an on-disk cache from an earlier run served it: MLX keeps compiled CPU kernels under /tmp/mlx, \
inductor under /tmp/torchinductor_*; W7 measures compilation with fresh constants every time):\n"
        );
        s.push_str(&first_call_table(run, doc));
    }
    let _ = writeln!(s, "\n## Targets of issue 6\n");
    s.push_str(&targets_section(run));
    let _ = writeln!(
        s,
        "\nW7 for the interpreter is only tracing and verifying the IR: the interpreter compiles nothing, so \
that row is a lower bound on what the JIT will take, not a result.\n"
    );
    let _ = writeln!(
        s,
        "Why W1 and W3 stay far from their bandwidth floors: they are bound by arithmetic, not memory. \
Cranelift's x86-64 backend emits 128-bit vectors (4 f32 lanes; this machine has 512-bit AVX-512), and \
`tanh` (W1) or `exp` (W3, one per element since the sum pass stores `exp(x - max)`) is a polynomial of \
about 25 vector instructions per 4 elements, so 16M elements cost some 10^8 vector instructions per core \
on 2 cores before a byte moves. No peer reaches these floors either (the best peer / floor column): \
reaching 1.5x would take 256- or 512-bit vectors, which Cranelift does not lower. The other rows' margins \
against jax.jit and mx.compile are in the table; docs/BACKENDS.md describes the kernels.\n"
    );
    let _ = writeln!(s, "## Notes\n");
    s.push_str(&notes_section(run));
    let _ = writeln!(
        s,
        "\n## How it runs\n\n\
- GPU results (the CUDA backend on an H200, against torch.compile and jax.jit) are in \
[BENCHMARKS_GPU.md](BENCHMARKS_GPU.md): CI has no GPU, so that page is written from device runs.\n\
- `cargo run --release -p psionic-bench -- [--quick] [--only W1,W3] [--threads N] [--torch-compile] [--no-peers] [--out FILE]` runs, in one process tree, \
`python3 bench/peers.py` (NumPy, MLX `mx.compile`, JAX `jax.jit`, PyTorch eager and `torch.compile`, NumPy's STREAM triad and sgemm), \
a native STREAM triad on every core, then Psionic's version of each workload, and writes this page.\n\
- `bench/workloads.json` holds the sizes and constants both sides read; inputs are a hash of the element index \
(`uniform` in peers.py, `inputs.rs`), bit-identical in Python and Rust.\n\
- Every peer's result is compared with NumPy's (full arrays, per-workload rtol/atol; sums against the sum of the \
magnitudes they add). Psionic's is compared with a fingerprint of NumPy's (shape, sum, sum of magnitudes, 16 sampled elements).\n\
- W6 is `value_and_grad` of the mean cross-entropy (one-hot labels) of `relu(x@W1+b1)@W2+b2`, then one SGD step, returning the \
loss and the new parameters; NumPy's backward pass is written by hand. W7 times a fresh 200-op chain (`x*c, x+0.01, tanh, x-0.005` repeated) \
from definition to first result, with new constants each time so no cache serves it.\n\
- `bench/requirements.txt` lists the peer packages; a peer that is not installed shows as missing. Nothing here is a \
pass/fail test: timings are reported, never asserted."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Mode, Spec};
    use crate::timing::Stats;
    use crate::{default_root, Options, PsionicResult};

    const PEERS_DOC: &str = r#"{
      "schema": "psionic-bench-peers/1", "mode": "quick", "command": "python3 bench/peers.py --quick",
      "date_utc": "2026-11-26T01:00:00Z", "machine": {"cpu_model": "Test CPU"},
      "peers": {"numpy": {"available": true, "version": "2"}, "mlx": {"available": true, "version": "0.32"},
                "jax": {"available": true, "version": "0.10"}, "torch": {"available": false, "reason": "import torch failed"}},
      "limits": {"stream_triad": {"status": "ok", "n": 100, "gb_per_s": 10.0},
                 "sgemm": {"status": "ok", "n": 1024, "gflop_per_s": 100.0}},
      "workloads": {"W5a": {"title": "matmul", "sizes": {"n": 256}, "bytes": 786432, "flops": 33554432,
          "reference": [],
          "results": {"numpy": {"status": "ok", "median_ms": 12.0, "min_ms": 10.0, "runs": 5},
                      "mlx": {"status": "wrong", "detail": "output 0 element 3: 1.0 vs NumPy 2.0"},
                      "jax": {"status": "ok", "median_ms": 6.0, "min_ms": 5.0, "runs": 5},
                      "torch": {"status": "missing", "detail": "import torch failed"}}}}
    }"#;

    fn run_with(min_ms: f64) -> Run {
        let options = Options {
            mode: Mode::Quick,
            root: default_root(),
            only: vec!["W5a".into()],
            backend: "interp".into(),
            python: None,
            peers_args: vec![],
            command: "test".into(),
        };
        Run {
            spec: Spec::load(&options.root.join("bench/workloads.json")).unwrap(),
            options,
            backend_name: "interp",
            backend_about: "test",
            backend_compiles: false,
            date_utc: "now".into(),
            psionic: vec![PsionicResult {
                id: "W5a".into(),
                title: "matmul".into(),
                outcome: Outcome::Ok {
                    stats: Stats {
                        median_ms: min_ms,
                        min_ms,
                        runs: 3,
                    },
                    prepare_ms: 0.0,
                    first_call_ms: min_ms,
                    checked: Some(0.0),
                    ops: 1,
                    note: None,
                },
            }],
            triad: Err("not run".into()),
            threads: 2,
            peers: crate::peers::parse(PEERS_DOC),
            elapsed_s: 0.0,
        }
    }

    #[test]
    fn wrong_peers_are_shown_but_never_the_best_and_ratios_use_minimums() {
        let run = run_with(50.0);
        let doc = run.peers.as_ref().unwrap();
        assert_eq!(best_peer(&doc.workloads["W5a"]), Some(("jax", 5.0)));
        let floors = Floors::of(&run);
        // NumPy's sgemm (100 GFLOP/s) beats what jax showed (6.7): the floor is 0.336 ms.
        let (floor, kind) = floors.floor_ms("W5a", &doc.workloads["W5a"]).unwrap();
        assert_eq!(kind, "flops");
        assert!((floor - 0.33554432).abs() < 1e-9);
        let t = table(&run);
        let row = t.lines().find(|l| l.starts_with("| W5a")).unwrap();
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells[1], "256³");
        assert_eq!(cells[2], "50.0 (50.0)");
        assert_eq!(cells[3], "10.0 (12.0)");
        assert_eq!(cells[4], "**wrong**");
        assert_eq!(cells[6], "missing");
        assert_eq!(cells[9], "jax");
        assert_eq!(cells[10], "10.0×");
        assert_eq!(cells[11], "149×");
        // The header has as many columns as each row.
        let header = t.lines().next().unwrap();
        assert_eq!(header.matches(" | ").count(), row.matches(" | ").count());
        assert_eq!(
            t.lines().nth(1).unwrap().matches("---").count(),
            cells.len()
        );
        let md = markdown(&run);
        assert!(md.contains("W5a mlx: **wrong result, not timed**: output 0 element 3"));
        assert!(md.contains("torch: not run: import torch failed"));
        assert!(md.contains("reference interpreter"));
    }

    #[test]
    fn a_peers_document_of_another_schema_is_refused() {
        let bad = PEERS_DOC.replace("psionic-bench-peers/1", "other/2");
        assert!(crate::peers::parse(&bad).unwrap_err().contains("schema"));
        assert!(crate::peers::parse("not json")
            .unwrap_err()
            .contains("unreadable"));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(1234.4), "1234");
        assert_eq!(fmt_ms(12.34), "12.3");
        assert_eq!(fmt_ms(1.234), "1.23");
        assert_eq!(fmt_ms(0.1234), "0.123");
        assert_eq!(fmt_ms(f64::NAN), "—");
        assert_eq!(fmt_ratio(2.0), "2.00×");
        assert_eq!(fmt_ratio(345.6), "346×");
        assert_eq!(fmt_ratio(0.00076), "7.6e-4×");
    }
}
