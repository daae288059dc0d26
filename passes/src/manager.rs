//! The pass manager: a [`Pass`] trait, pipelines parsed from strings, and a
//! [`PassManager`] that runs passes over a module with optional dumps
//! (`--print-after`, `--print-after-all`), verification after every pass
//! (`--verify-each`, on by default in debug builds) and statistics
//! (`--stats`: ops before and after, time, and each pass's own counters).

use crate::registry;
use psionic_ir::{Attrs, Func, Literal, Module, Opcode};
use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

/// Evaluates one op on constant operands: the constant folder's oracle.
/// The caller supplies it (the CLI passes the reference interpreter's
/// `eval_op`), so this crate never depends on the runtime.
pub type FoldFn = dyn Fn(Opcode, &Attrs, &[&Literal]) -> Result<Vec<Literal>, String> + Sync;

/// What a pass may use besides the function: services supplied by the caller.
#[derive(Clone, Copy)]
pub struct PassContext<'a> {
    /// Evaluator for constant folding; `None` disables folding.
    pub folder: Option<&'a FoldFn>,
    /// Largest number of elements of one folded result.
    pub fold_limit: usize,
}

impl Default for PassContext<'_> {
    fn default() -> Self {
        PassContext {
            folder: None,
            fold_limit: 1024,
        }
    }
}

impl<'a> PassContext<'a> {
    /// A context that folds constants through `folder`.
    pub fn with_folder(folder: &'a FoldFn) -> Self {
        PassContext {
            folder: Some(folder),
            ..Default::default()
        }
    }
}

/// A pass's own counters (`"ops removed"`, `"folded"`, ...) and notes (for
/// example why an e-graph run stopped), shown by `--stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub counters: Vec<(&'static str, u64)>,
    pub notes: Vec<(&'static str, String)>,
}

impl PassStats {
    /// Adds `n` to counter `name` (created at zero).
    pub fn add(&mut self, name: &'static str, n: u64) {
        match self.counters.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => self.counters.push((name, n)),
        }
    }
    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, v)| *v)
    }
    pub fn note(&mut self, name: &'static str, text: impl Into<String>) {
        self.notes.push((name, text.into()));
    }
    /// Sums counters and appends notes of `other`.
    pub fn merge(&mut self, other: PassStats) {
        for (k, v) in other.counters {
            self.add(k, v);
        }
        self.notes.extend(other.notes);
    }
}

/// A pass failed, or left IR the verifier rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassError {
    pub pass: String,
    /// The function being transformed, if the failure is about one.
    pub func: Option<String>,
    pub message: String,
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func {
            Some(func) => write!(f, "pass `{}` on @{func}: {}", self.pass, self.message),
            None => write!(f, "pass `{}`: {}", self.pass, self.message),
        }
    }
}
impl std::error::Error for PassError {}

/// One transformation of the IR.
///
/// Most passes work function by function and implement only [`Pass::run`];
/// passes that add or remove functions override [`Pass::run_on_module`].
/// A pass must leave IR that the verifier accepts.
pub trait Pass {
    /// The name used in pipelines and `--print-after`.
    fn name(&self) -> &str;

    /// Transforms one function in place (replace `*func` for a
    /// `Func -> Func` pass). Errors are messages; the manager adds the pass
    /// and function names.
    fn run(&self, func: &mut Func, ctx: &PassContext) -> Result<PassStats, String>;

    /// Transforms a module; by default runs [`Pass::run`] on every function.
    fn run_on_module(
        &self,
        module: &mut Module,
        ctx: &PassContext,
    ) -> Result<PassStats, PassError> {
        let mut total = PassStats::default();
        for func in &mut module.funcs {
            let stats = self.run(func, ctx).map_err(|message| PassError {
                pass: self.name().to_string(),
                func: Some(func.name.clone()),
                message,
            })?;
            total.merge(stats);
        }
        Ok(total)
    }
}

/// Options of one pass in a pipeline: `name{key=value,key2=value2}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassOptions {
    pub values: Vec<(String, String)>,
}

impl PassOptions {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Fails on any option not in `known` (call first in a pass constructor).
    pub fn expect_only(&self, pass: &str, known: &[&str]) -> Result<(), String> {
        for (k, _) in &self.values {
            if !known.contains(&k.as_str()) {
                return Err(if known.is_empty() {
                    format!("pass `{pass}` takes no options, got `{k}`")
                } else {
                    format!(
                        "pass `{pass}` has no option `{k}` (it has: {})",
                        known.join(", ")
                    )
                });
            }
        }
        Ok(())
    }
    /// An unsigned integer option with a default.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("option `{key}` must be a non-negative integer, got `{v}`")),
        }
    }
    /// A boolean option (`true`/`false`) with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(format!("option `{key}` must be true or false, got `{v}`")),
        }
    }
}

/// One entry of a pipeline string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassSpec {
    pub name: String,
    pub options: PassOptions,
}

/// Parses `"canonicalize,cse,egraph{iters=8,nodes=10000},dce"`. Whitespace
/// around names is ignored; an empty string is an empty pipeline.
pub fn parse_pipeline(text: &str) -> Result<Vec<PassSpec>, String> {
    let mut specs = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let end = rest.find([',', '{']).unwrap_or(rest.len());
        let name = rest[..end].trim();
        if name.is_empty() {
            return Err(format!("pipeline `{text}`: empty pass name"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!("pipeline `{text}`: bad pass name `{name}`"));
        }
        rest = &rest[end..];
        let mut options = PassOptions::default();
        if let Some(after) = rest.strip_prefix('{') {
            let close = after
                .find('}')
                .ok_or_else(|| format!("pipeline `{text}`: `{{` after `{name}` is not closed"))?;
            for item in after[..close]
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let (k, v) = item.split_once('=').ok_or_else(|| {
                    format!("pipeline `{text}`: option `{item}` of `{name}` must be key=value")
                })?;
                options
                    .values
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
            rest = after[close + 1..].trim_start();
        }
        specs.push(PassSpec {
            name: name.to_string(),
            options,
        });
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
            if rest.is_empty() {
                return Err(format!("pipeline `{text}`: trailing `,`"));
            }
        } else if !rest.is_empty() {
            return Err(format!("pipeline `{text}`: expected `,` before `{rest}`"));
        }
    }
    Ok(specs)
}

/// How the manager runs its passes.
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    /// Print the module after every pass of one of these names.
    pub print_after: Vec<String>,
    pub print_after_all: bool,
    /// Run the verifier after every pass; a failure names the pass.
    pub verify_each: bool,
    /// Collect [`PassReport`]s (always collected; this only asks the caller
    /// to show them).
    pub stats: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            print_after: Vec::new(),
            print_after_all: false,
            verify_each: cfg!(debug_assertions),
            stats: false,
        }
    }
}

/// What one pass did to a module.
#[derive(Clone, Debug)]
pub struct PassReport {
    pub pass: String,
    pub ops_before: usize,
    pub ops_after: usize,
    pub time: Duration,
    pub stats: PassStats,
}

/// An ordered list of passes with dump, verify and statistics options.
#[derive(Default)]
pub struct PassManager {
    passes: Vec<Box<dyn Pass>>,
    pub options: PipelineOptions,
}

fn count_ops(m: &Module) -> usize {
    m.funcs.iter().map(|f| f.ops.len()).sum()
}

impl PassManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// A manager running the passes of a pipeline string.
    pub fn from_pipeline(text: &str) -> Result<Self, String> {
        let mut pm = PassManager::new();
        pm.add_pipeline(text)?;
        Ok(pm)
    }

    /// Appends every pass of a pipeline string (see [`parse_pipeline`]).
    pub fn add_pipeline(&mut self, text: &str) -> Result<(), String> {
        for spec in parse_pipeline(text)? {
            self.passes.push(registry::create_pass(&spec)?);
        }
        Ok(())
    }

    pub fn add(&mut self, pass: Box<dyn Pass>) {
        self.passes.push(pass);
    }

    pub fn pass_names(&self) -> Vec<&str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }

    /// Runs every pass in order over `module`. Dumps asked for by the
    /// options go to `dump` (the CLI passes stderr), each headed by
    /// `// -----// IR Dump After NAME //----- //`.
    pub fn run(
        &self,
        module: &mut Module,
        ctx: &PassContext,
        dump: &mut dyn Write,
    ) -> Result<Vec<PassReport>, PassError> {
        let mut reports = Vec::with_capacity(self.passes.len());
        for pass in &self.passes {
            let name = pass.name().to_string();
            let ops_before = count_ops(module);
            let start = Instant::now();
            let stats = pass.run_on_module(module, ctx)?;
            let time = start.elapsed();
            if self.options.verify_each {
                crate::verify::verify_module_text(module).map_err(|message| PassError {
                    pass: name.clone(),
                    func: None,
                    message: format!("left IR the verifier rejects: {message}"),
                })?;
            }
            if self.options.print_after_all || self.options.print_after.contains(&name) {
                let text = crate::verify::print_module_text(module);
                let io = |e: std::io::Error| PassError {
                    pass: name.clone(),
                    func: None,
                    message: format!("cannot write the IR dump: {e}"),
                };
                writeln!(dump, "// -----// IR Dump After {name} //----- //").map_err(io)?;
                dump.write_all(text.as_bytes()).map_err(io)?;
                if !text.ends_with('\n') {
                    writeln!(dump).map_err(io)?;
                }
            }
            reports.push(PassReport {
                pass: name,
                ops_before,
                ops_after: count_ops(module),
                time,
                stats,
            });
        }
        Ok(reports)
    }
}

/// Formats reports as the table `--stats` prints: one line per pass with ops
/// before and after and the time, then the pass's counters and notes.
pub fn format_reports(reports: &[PassReport]) -> String {
    let mut s = String::from("// pass statistics\n");
    let width = reports
        .iter()
        .map(|r| r.pass.len())
        .max()
        .unwrap_or(4)
        .max(4);
    for r in reports {
        s += &format!(
            "// {:width$}  ops {:>6} -> {:<6}  {:>10.3} ms\n",
            r.pass,
            r.ops_before,
            r.ops_after,
            r.time.as_secs_f64() * 1e3,
        );
        for (k, v) in &r.stats.counters {
            s += &format!("//   {k}: {v}\n");
        }
        for (k, v) in &r.stats.notes {
            s += &format!("//   {k}: {v}\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_parse() {
        let p = parse_pipeline(" canonicalize , cse,egraph{iters=8, nodes = 100},dce").unwrap();
        let names: Vec<_> = p.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["canonicalize", "cse", "egraph", "dce"]);
        assert_eq!(p[2].options.get("nodes"), Some("100"));
        assert_eq!(p[2].options.usize_or("iters", 1), Ok(8));
        assert!(parse_pipeline("").unwrap().is_empty());
        for bad in ["cse,", ",cse", "cse dce", "a{b", "a{b}", "c$e"] {
            assert!(parse_pipeline(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_passes_and_options_are_errors() {
        let e = PassManager::from_pipeline("cse,nosuchpass").err().unwrap();
        assert!(e.contains("unknown pass `nosuchpass`"), "{e}");
        assert!(e.contains("canonicalize"), "{e}");
        let e = PassManager::from_pipeline("dce{x=1}").err().unwrap();
        assert!(e.contains("takes no options"), "{e}");
    }

    #[test]
    fn stats_merge() {
        let mut a = PassStats::default();
        a.add("x", 1);
        let mut b = PassStats::default();
        b.add("x", 2);
        b.add("y", 5);
        b.note("why", "saturated");
        a.merge(b);
        assert_eq!(a.get("x"), 3);
        assert_eq!(a.get("y"), 5);
        assert_eq!(a.notes.len(), 1);
    }
}
