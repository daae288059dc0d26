//! The lit runner: runs the `// RUN:` lines of one test file, shell-free.
//!
//! A RUN line is a pipeline of commands separated by `|`. Each command is
//! split into words (single or double quotes group words; no other shell
//! syntax). Substitutions: `%s` the test file, `%S` its folder, `%t` a
//! scratch path unique to the test, `%%` a literal `%`. Commands:
//! - `psionic ...` runs the binary under test.
//! - `FileCheck %s [--check-prefix=P]` checks the text piped into it
//!   against the directives in the test file (see [`crate::filecheck`]).
//! - `not CMD ...` succeeds when CMD exits with a failure status that is not
//!   a crash (exit code 101, a Rust panic, counts as a crash and fails).
//! - A trailing `2>&1` on a command sends its stderr into the pipe after its
//!   stdout (how error messages are checked).
//!
//! Every command of a pipeline must succeed (pipefail).
//!
//! A file with a `// BLESS` line is an exact-output test: the stdout of its
//! last RUN line must equal the `// CHECK:`/`// CHECK-NEXT:`/`// CHECK-EMPTY:`
//! block written after the marker (the run of `//` lines after it). With
//! `bless` set (`PSIONIC_BLESS=1`), that block is rewritten from the actual
//! output instead; the rest of the file is kept.
//!
//! Every file that `psionic opt FILE` accepts must also round-trip:
//! `psionic opt FILE | psionic opt -` prints the same text.

use crate::filecheck;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to run lit files.
#[derive(Clone, Debug)]
pub struct LitConfig {
    /// The `psionic` binary under test.
    pub psionic: PathBuf,
    /// Rewrite exact-output blocks of `// BLESS` files from actual output.
    pub bless: bool,
    /// Folder for `%t` scratch files.
    pub scratch: PathBuf,
}

/// The marker line that makes a file an exact-output test.
pub const BLESS_MARKER: &str = "// BLESS";

/// The RUN lines of a file (continuation lines ending in `\` joined).
pub fn run_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let Some(pos) = line.find("RUN:") else {
            continue;
        };
        if line[..pos]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            continue;
        }
        let body = line[pos + 4..].trim();
        let (body, cont) = match body.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (body, false),
        };
        let joined = match pending.take() {
            Some(p) => format!("{p} {body}"),
            None => body.to_string(),
        };
        if cont {
            pending = Some(joined);
        } else {
            out.push(joined);
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

/// Splits a command line into words; `|` is a word of its own.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(format!("unclosed {c} in `{line}`")),
                    }
                }
            }
            '|' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                words.push("|".into());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn substitute(word: &str, file: &Path, scratch: &Path) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('s') => out.push_str(&file.display().to_string()),
            Some('S') => out.push_str(
                &file
                    .parent()
                    .unwrap_or(Path::new("."))
                    .display()
                    .to_string(),
            ),
            Some('t') => out.push_str(&scratch.display().to_string()),
            Some('%') => out.push('%'),
            _ => {
                out.push('%');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// The result of one command.
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
}

struct Stage {
    not: bool,
    merge_stderr: bool,
    argv: Vec<String>,
}

fn parse_stage(words: &[String]) -> Result<Stage, String> {
    let mut words = words.to_vec();
    let mut not = false;
    while words.first().is_some_and(|w| w == "not") {
        not = !not;
        words.remove(0);
    }
    let merge_stderr = words.last().is_some_and(|w| w == "2>&1");
    if merge_stderr {
        words.pop();
    }
    if words.is_empty() {
        return Err("empty command in pipeline".into());
    }
    if let Some(w) = words
        .iter()
        .find(|w| w.starts_with('>') || w.starts_with('<') || w.contains("2>"))
    {
        return Err(format!(
            "unsupported redirection `{w}` (only a trailing 2>&1)"
        ));
    }
    Ok(Stage {
        not,
        merge_stderr,
        argv: words,
    })
}

fn run_stage(stage: &Stage, stdin: &[u8], file: &Path, cfg: &LitConfig) -> Result<Outcome, String> {
    let prog = stage.argv[0].as_str();
    let args = &stage.argv[1..];
    match prog {
        "FileCheck" => {
            let mut check_file = None;
            let mut prefix = "CHECK".to_string();
            let mut i = 0;
            while i < args.len() {
                let a = &args[i];
                if let Some(p) = a.strip_prefix("--check-prefix=") {
                    prefix = p.to_string();
                } else if a == "--check-prefix" {
                    i += 1;
                    prefix = args.get(i).cloned().ok_or("--check-prefix needs a value")?;
                } else if a.starts_with('-') {
                    return Err(format!("FileCheck: unknown option `{a}`"));
                } else {
                    check_file = Some(a.clone());
                }
                i += 1;
            }
            let check_file = check_file.ok_or("FileCheck needs a check file (%s)")?;
            let checks = std::fs::read_to_string(&check_file)
                .map_err(|e| format!("FileCheck: cannot read {check_file}: {e}"))?;
            let input = String::from_utf8_lossy(stdin);
            match filecheck::check(&checks, &input, &prefix) {
                Ok(()) => Ok(Outcome {
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    code: Some(0),
                }),
                Err(e) => Ok(Outcome {
                    stdout: Vec::new(),
                    stderr: format!("{}: {e}\n--- input was ---\n{input}", file.display())
                        .into_bytes(),
                    code: Some(1),
                }),
            }
        }
        "psionic" => {
            let mut cmd = Command::new(&cfg.psionic);
            cmd.args(args).stdin(Stdio::piped());
            // With 2>&1 both streams share one pipe, interleaved as a shell
            // would give them.
            let merged = if stage.merge_stderr {
                let (reader, writer) =
                    std::io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
                let w2 = writer
                    .try_clone()
                    .map_err(|e| format!("cannot create a pipe: {e}"))?;
                cmd.stdout(writer).stderr(w2);
                Some(reader)
            } else {
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
                None
            };
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", cfg.psionic.display()))?;
            // Drop our copies of the pipe's write end (held by `cmd`).
            drop(cmd);
            // Write stdin from a thread so a large output cannot deadlock us.
            let mut pipe = child.stdin.take().ok_or("no stdin pipe")?;
            let data = stdin.to_vec();
            let writer = std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
            let outcome = match merged {
                Some(mut reader) => {
                    let mut buf = Vec::new();
                    reader
                        .read_to_end(&mut buf)
                        .map_err(|e| format!("reading psionic's output: {e}"))?;
                    let status = child
                        .wait()
                        .map_err(|e| format!("waiting for psionic: {e}"))?;
                    Outcome {
                        stdout: buf,
                        stderr: Vec::new(),
                        code: status.code(),
                    }
                }
                None => {
                    let out = child
                        .wait_with_output()
                        .map_err(|e| format!("waiting for psionic: {e}"))?;
                    Outcome {
                        stdout: out.stdout,
                        stderr: out.stderr,
                        code: out.status.code(),
                    }
                }
            };
            let _ = writer.join();
            Ok(outcome)
        }
        other => Err(format!(
            "unknown command `{other}` (lit runs `psionic`, `FileCheck` and `not`)"
        )),
    }
}

/// Runs one pipeline; returns the final stdout.
fn run_pipeline(
    line: &str,
    file: &Path,
    cfg: &LitConfig,
    scratch: &Path,
) -> Result<Vec<u8>, String> {
    let words: Vec<String> = split_words(line)?
        .into_iter()
        .map(|w| {
            if w == "|" {
                w
            } else {
                substitute(&w, file, scratch)
            }
        })
        .collect();
    let mut data: Vec<u8> = Vec::new();
    for part in words.split(|w| w == "|") {
        let stage = parse_stage(part)?;
        let out = run_stage(&stage, &data, file, cfg)?;
        let crashed = out.code.is_none() || out.code == Some(101);
        let failed = out.code != Some(0);
        let ok = if stage.not {
            failed && !crashed
        } else {
            !failed
        };
        if !ok {
            return Err(format!(
                "RUN: {line}\ncommand `{}` {}\n--- stderr ---\n{}--- stdout ---\n{}",
                part.join(" "),
                match (stage.not, out.code) {
                    (true, Some(0)) => "succeeded but `not` expected a failure".to_string(),
                    (_, None) => "was killed by a signal".to_string(),
                    (_, Some(101)) => "crashed (panic)".to_string(),
                    (_, Some(c)) => format!("exited with status {c}"),
                },
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        data = out.stdout;
        if stage.merge_stderr {
            data.extend_from_slice(&out.stderr);
        }
    }
    Ok(data)
}

/// Turns output into the exact-output block of a BLESS file.
pub fn bless_block(output: &str) -> String {
    let mut s = String::new();
    for (i, line) in output.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if i == 0 {
                s += "// CHECK: {{^$}}\n";
            } else {
                s += "// CHECK-EMPTY:\n";
            }
        } else if i == 0 {
            s += &format!(
                "// CHECK: {}\n",
                filecheck::escape_pattern(line.trim_start())
            );
        } else {
            s += &format!(
                "// CHECK-NEXT: {}\n",
                filecheck::escape_pattern(line.trim_start())
            );
        }
    }
    s
}

/// Normalizes output for exact comparison: per line, trailing whitespace and
/// leading whitespace dropped (the block's patterns are trimmed), trailing
/// empty lines dropped.
fn normalize(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn diff(expected: &[String], actual: &[String]) -> String {
    let mut s = String::new();
    let n = expected.len().max(actual.len());
    for i in 0..n {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if e == a => s += &format!("  {a}\n"),
            (e, a) => {
                if let Some(e) = e {
                    s += &format!("- {e}\n");
                }
                if let Some(a) = a {
                    s += &format!("+ {a}\n");
                }
            }
        }
    }
    s
}

/// Runs every RUN line of `path`, then the round-trip check.
pub fn run_file(path: &Path, cfg: &LitConfig) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines = run_lines(&text);
    if lines.is_empty() {
        return Err(format!("{}: no RUN: lines", path.display()));
    }
    let name: String = path
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::fs::create_dir_all(&cfg.scratch)
        .map_err(|e| format!("cannot create {}: {e}", cfg.scratch.display()))?;
    let scratch = cfg.scratch.join(format!("{name}.tmp"));
    let mut last = Vec::new();
    for line in &lines {
        last = run_pipeline(line, path, cfg, &scratch)?;
    }

    let marker = text.lines().position(|l| l.trim() == BLESS_MARKER);
    if let Some(m) = marker {
        let actual = String::from_utf8_lossy(&last).into_owned();
        let all: Vec<&str> = text.lines().collect();
        // The block is the run of `//` lines after the marker; whatever
        // follows it (the test's IR, when the block is not at the end) is
        // kept as it is.
        let block_len = all[m + 1..]
            .iter()
            .take_while(|l| l.trim_start().starts_with("//"))
            .count();
        let head = &all[..m + 1];
        let tail = &all[m + 1 + block_len..];
        let block = bless_block(&actual);
        if cfg.bless {
            let mut new_text = format!("{}\n{block}", head.join("\n"));
            for l in tail {
                new_text += l;
                new_text.push('\n');
            }
            if new_text != text {
                std::fs::write(path, new_text)
                    .map_err(|e| format!("cannot bless {}: {e}", path.display()))?;
            }
        } else {
            let old: String = all[m + 1..m + 1 + block_len]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect();
            if normalize(&old) != normalize(&block) {
                let expected = expected_from_block(&old);
                return Err(format!(
                    "{}: output differs from the expectations after `{BLESS_MARKER}` (rerun with PSIONIC_BLESS=1 to update)\n{}",
                    path.display(),
                    diff(&normalize(&expected), &normalize(&actual))
                ));
            }
        }
    }

    round_trip(path, cfg)
}

/// The text an exact-output block expects.
fn expected_from_block(block: &str) -> String {
    let mut s = String::new();
    for l in block.lines() {
        let l = l.trim();
        let body = l
            .strip_prefix("// CHECK:")
            .or_else(|| l.strip_prefix("// CHECK-NEXT:"))
            .or_else(|| l.strip_prefix("// CHECK-EMPTY:"));
        if let Some(b) = body {
            let b = b.trim();
            let b = if b == "{{^$}}" { "" } else { b };
            s += &b.replace("{{\\[\\[}}", "[[").replace("{{\\{\\{}}", "{{");
            s.push('\n');
        }
    }
    s
}

/// `psionic opt FILE | psionic opt -` prints what `psionic opt FILE` prints,
/// for every file `psionic opt` accepts.
fn round_trip(path: &Path, cfg: &LitConfig) -> Result<(), String> {
    let first = Command::new(&cfg.psionic)
        .arg("opt")
        .arg(path)
        .output()
        .map_err(|e| format!("cannot start psionic: {e}"))?;
    if first.status.code() == Some(101) {
        return Err(format!(
            "`psionic opt {}` crashed:\n{}",
            path.display(),
            String::from_utf8_lossy(&first.stderr)
        ));
    }
    if !first.status.success() {
        return Ok(()); // an error test
    }
    let cfg2 = cfg.clone();
    let out = run_stage(
        &Stage {
            not: false,
            merge_stderr: false,
            argv: vec!["psionic".into(), "opt".into(), "-".into()],
        },
        &first.stdout,
        path,
        &cfg2,
    )?;
    if out.code != Some(0) {
        return Err(format!(
            "round trip: `psionic opt -` rejects the output of `psionic opt {}`:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if out.stdout != first.stdout {
        let a = normalize(&String::from_utf8_lossy(&first.stdout));
        let b = normalize(&String::from_utf8_lossy(&out.stdout));
        return Err(format!(
            "round trip: printing, parsing and printing {} changes the text:\n{}",
            path.display(),
            diff(&a, &b)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lines_join_continuations() {
        let t = "// RUN: psionic opt %s \\\n// RUN:   --pass cse | FileCheck %s\nfoo\n// RUN: not psionic opt %s 2>&1\n";
        assert_eq!(
            run_lines(t),
            [
                "psionic opt %s --pass cse | FileCheck %s",
                "not psionic opt %s 2>&1"
            ]
        );
    }

    #[test]
    fn words_and_substitutions() {
        let w = split_words("psionic opt %s --pipeline 'a, b'|FileCheck \"%s\"").unwrap();
        assert_eq!(
            w,
            [
                "psionic",
                "opt",
                "%s",
                "--pipeline",
                "a, b",
                "|",
                "FileCheck",
                "%s"
            ]
        );
        assert!(split_words("a 'b").is_err());
        let s = substitute(
            "%s:%S/x:%t:100%%",
            Path::new("/a/b.pir"),
            Path::new("/tmp/q"),
        );
        assert_eq!(s, "/a/b.pir:/a/x:/tmp/q:100%");
    }

    #[test]
    fn bless_blocks_round_trip() {
        let out = "func @f() -> () {\n  %0 = tensor.constant {value = dense<[[1]]> : tensor<1x1xi32>}\n\n  return\n}\n";
        let block = bless_block(out);
        assert!(block.starts_with("// CHECK: func @f"));
        assert!(block.contains("// CHECK-EMPTY:"));
        assert_eq!(normalize(&expected_from_block(&block)), normalize(out));
        // The block is also a valid FileCheck input for the same output.
        filecheck::check(&block, out, "CHECK").unwrap();
    }
}
