//! `psionic-bench`: runs the benchmarks of issue 6 and writes
//! `docs/BENCHMARKS.md`. See the library docs (`psionic_bench`) for what it
//! measures; `--help` for the options.

use psionic_bench::spec::Mode;
use psionic_bench::{default_root, report, run, Options};
use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "\
psionic-bench: Psionic's workloads W1-W8 beside NumPy, MLX, JAX and PyTorch, in one run

usage: psionic-bench [options]

  --quick              smaller sizes and fewer runs (bench/workloads.json `quick`)
  --only W1,W3         run only these workloads
  --backend NAME       Psionic backend: cpu (Cranelift, the default) or interp
  --python PATH        Python for bench/peers.py (default python3)
  --no-peers           do not run the peers (no reference check, no floors from them)
  --torch-compile      include torch.compile in --quick mode (always included in full mode)
  --threads N          threads each peer may use (default: each library's default, every core)
  --root DIR           repository root (default: where this crate was built)
  --out FILE           where to write the report (default DIR/docs/BENCHMARKS.md; `-` for none)
  -h, --help           this text

Timings are printed and written, never asserted.";

fn parse(args: &[String]) -> Result<(Options, Option<PathBuf>), String> {
    let mut o = Options {
        mode: Mode::Full,
        root: default_root(),
        only: Vec::new(),
        backend: "cpu".into(),
        python: Some("python3".into()),
        peers_args: Vec::new(),
        command: String::new(),
    };
    let mut out: Option<Option<PathBuf>> = None;
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{name} needs a value"))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => o.mode = Mode::Quick,
            "--only" => {
                o.only = value(&mut i, "--only")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "--backend" => o.backend = value(&mut i, "--backend")?,
            "--python" => o.python = Some(value(&mut i, "--python")?),
            "--no-peers" => o.python = None,
            "--torch-compile" => o.peers_args.push("--torch-compile".into()),
            "--threads" => {
                let n = value(&mut i, "--threads")?;
                n.parse::<usize>()
                    .map_err(|_| format!("--threads needs a number, got `{n}`"))?;
                o.peers_args.extend(["--threads".to_string(), n]);
            }
            "--root" => o.root = PathBuf::from(value(&mut i, "--root")?),
            "--out" => {
                let v = value(&mut i, "--out")?;
                out = Some(if v == "-" {
                    None
                } else {
                    Some(PathBuf::from(v))
                });
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
        i += 1;
    }
    let out = out.unwrap_or_else(|| Some(o.root.join("docs/BENCHMARKS.md")));
    // The command as a user would retype it from the repository root.
    let profile = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    let mut cmd = format!("cargo run{profile} -p psionic-bench --");
    for a in args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    o.command = cmd;
    Ok((o, out))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, out) = match parse(&args) {
        Ok(x) => x,
        Err(e) if e.is_empty() => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("psionic-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let run = match run(options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("psionic-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report::table(&run));
    if let Some(path) = out {
        let text = report::markdown(&run);
        // Write beside the target, then rename: never a half-written page.
        let tmp = path.with_extension("md.tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path)) {
            eprintln!("psionic-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("[psionic-bench] wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
