//! MLX's `.mlxfn` format (MLX 0.32.x), read and written byte-compatibly.
//!
//! The byte layout is `shared/mlxfn-format.md`; this module follows it:
//! - [`format`] parses and prints the layout (header, traces, tapes, the
//!   file-global constant table) with every length bounded by the bytes left,
//! - [`prims`] holds the 116 primitive names and their state layouts,
//! - [`map`] is the one table that maps primitives to IR ops (and drives
//!   `docs/MLX_COMPAT.md`),
//! - `import` and `export` turn the parsed file into IR and back.
//!
//! Invariants: the reader never panics and never allocates from an unchecked
//! length; every error is one line naming the byte offset where it was found.
//! Files written here use the 0.32.4 layout, stream `(0, cpu, 0)`, ids unique
//! across the file, each constant's data once per file, sorted kwargs.
//!
//! Conventions of the imported [`Module`]: one function `main` per trace, in
//! file order; module attributes `mlx_version`, `shapeless`, `metadata`;
//! function attribute `kwargs` (read it with [`kwarg_names`]) naming the
//! trailing parameters that are keyword inputs. Parameters of a shapeless
//! file have symbolic (`DYN`) dimensions.

pub mod format;
pub mod map;
pub mod prims;

mod export;
mod import;
mod wire;

use psionic_ir::{Attr, Func, Module, Opcode, TensorType, DYN};
use std::fmt;
use std::path::Path;

/// Why a file could not be read or written: one line, with the byte offset
/// where the problem was found when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlxfnError {
    pub offset: Option<usize>,
    pub message: String,
}

impl MlxfnError {
    pub fn at(offset: usize, message: impl Into<String>) -> Self {
        MlxfnError {
            offset: Some(offset),
            message: message.into(),
        }
    }
    pub fn msg(message: impl Into<String>) -> Self {
        MlxfnError {
            offset: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for MlxfnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "byte {o}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
impl std::error::Error for MlxfnError {}

/// Reads a `.mlxfn` file's bytes into IR.
pub fn read(bytes: &[u8]) -> Result<Module, MlxfnError> {
    let raw = format::parse(bytes)?;
    let m = import::to_module(&raw)?;
    psionic_ir::verify::verify_module(&m)
        .map_err(|e| MlxfnError::msg(format!("the imported IR does not verify: {e}")))?;
    Ok(m)
}

/// Writes IR as a `.mlxfn` file in MLX 0.32.4's layout. Ops with no MLX
/// counterpart are refused, naming the op.
pub fn write(m: &Module) -> Result<Vec<u8>, MlxfnError> {
    let raw = export::from_module(m)?;
    format::print(&raw)
}

/// Reads a `.mlxfn` file from disk.
pub fn import_file(path: impl AsRef<Path>) -> Result<Module, MlxfnError> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| MlxfnError::msg(format!("{}: {e}", path.display())))?;
    read(&bytes).map_err(|e| MlxfnError {
        offset: e.offset,
        message: format!("{}: {}", path.display(), e.message),
    })
}

/// Writes a `.mlxfn` file atomically: the bytes go to a temporary file in
/// the same folder, renamed over `path` only once complete.
pub fn export_file(path: impl AsRef<Path>, m: &Module) -> Result<(), MlxfnError> {
    let path = path.as_ref();
    let bytes = write(m)?;
    crate::io::write_atomic(path, &bytes).map_err(|e| MlxfnError::msg(e.to_string()))
}

/// The keyword-input names of a trace (the trailing parameters), in
/// parameter order. Stored as the function attribute `kwargs`, a string of
/// names joined by `,` (IR attributes have no list of strings).
pub fn kwarg_names(f: &Func) -> Result<Vec<String>, String> {
    match f.attr("kwargs") {
        None => Ok(Vec::new()),
        Some(Attr::Str(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Attr::Str(s)) => Ok(s.split(',').map(str::to_string).collect()),
        Some(other) => Err(format!(
            "function attribute `kwargs` must be a string of names joined by ',', found a {}",
            other.kind().name()
        )),
    }
}

/// Sets the `kwargs` attribute (see [`kwarg_names`]).
pub fn set_kwarg_names(f: &mut Func, names: &[String]) -> Result<(), String> {
    if let Some(bad) = names.iter().find(|n| n.is_empty() || n.contains(',')) {
        return Err(format!(
            "keyword input name {bad:?} cannot be stored (empty or contains ',')"
        ));
    }
    if names.is_empty() {
        f.attrs.retain(|(n, _)| n != "kwargs");
    } else {
        f.set_attr("kwargs", Attr::Str(names.join(",")));
    }
    Ok(())
}

/// The input names of a trace, in parameter order, as the conformance data
/// and `psionic run` name them: `0, 1, ...` for positional inputs, then the
/// keyword names.
pub fn input_keys(f: &Func) -> Result<Vec<String>, String> {
    let kw = kwarg_names(f)?;
    if kw.len() > f.params.len() {
        return Err(format!(
            "{} keyword names for {} parameters",
            kw.len(),
            f.params.len()
        ));
    }
    let npos = f.params.len() - kw.len();
    Ok((0..npos).map(|i| i.to_string()).chain(kw).collect())
}

/// True when a value of type `actual` can be passed for a parameter of
/// type `param` (dtype and rank equal; sizes equal unless symbolic).
pub use crate::files::accepts as type_accepts;

/// MLX's dispatch (spec §6): the first function named `name` whose input
/// keys (see [`input_keys`]) are exactly the keys given, each with a type its
/// parameter accepts. `given` maps input keys (`"0"`, `"1"`, ..., keyword
/// names) to the types of the arrays passed. Returns the function and its
/// keys in parameter order, so `args[i] = given[keys[i]]`; otherwise an error
/// listing the available signatures.
pub fn select_trace<'a>(
    m: &'a Module,
    name: &str,
    given: &[(String, TensorType)],
) -> Result<(&'a Func, Vec<String>), String> {
    let mut tried = Vec::new();
    for f in m.funcs.iter().filter(|f| f.name == name) {
        let keys = input_keys(f)?;
        let ok = keys.len() == given.len()
            && keys.iter().zip(f.param_types()).all(|(k, t)| {
                given
                    .iter()
                    .find(|(g, _)| g == k)
                    .is_some_and(|(_, actual)| type_accepts(&t, actual))
            });
        if ok {
            return Ok((f, keys));
        }
        let sig: Vec<String> = keys
            .iter()
            .zip(f.param_types())
            .map(|(k, t)| format!("{k}: {t}"))
            .collect();
        tried.push(format!("({})", sig.join(", ")));
    }
    if tried.is_empty() {
        return Err(format!("no function named @{name}"));
    }
    let got: Vec<String> = given.iter().map(|(k, t)| format!("{k}: {t}")).collect();
    Err(format!(
        "no trace of @{name} accepts inputs ({}); available signatures: {}",
        got.join(", "),
        tried.join(", ")
    ))
}

/// What this build supports of one MLX primitive name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimitiveSupport {
    pub name: &'static str,
    /// The IR ops it imports to (empty for a refused name, or for Depends
    /// forwarded as values); each with whether this build's op table has it.
    pub ir_ops: Vec<(&'static str, bool)>,
    pub imports: bool,
    /// Some IR op of this build is written as this primitive.
    pub exports: bool,
}

/// One row per name of the 116 that MLX 0.32.4 can import.
pub fn primitive_support() -> Vec<PrimitiveSupport> {
    let exported = exported_primitives();
    prims::PRIMITIVE_NAMES
        .iter()
        .map(|&name| PrimitiveSupport {
            name,
            ir_ops: map::import_targets(name)
                .into_iter()
                .map(|t| (t, Opcode::from_name(t).is_some()))
                .collect(),
            imports: map::can_import(name),
            exports: exported.contains(&name),
        })
        .collect()
}

/// MLX primitive names the writer emits for some IR op of this build.
fn exported_primitives() -> Vec<&'static str> {
    let mut out = Vec::new();
    for op in Opcode::all() {
        if !export::exportable(op) {
            continue;
        }
        let name = op.name();
        for (m, i) in map::DIRECT.iter().chain(map::GENERIC.iter()) {
            if *i == name {
                out.push(*m);
            }
        }
        for (m, targets) in map::SPECIAL {
            // Full imports as a copy, but copies export as Copy.
            if *m != "Full" && targets.contains(&name) {
                out.push(*m);
            }
        }
        if name == "tensor.depends" {
            out.push("Depends");
        }
        if name == "tensor.full" {
            out.push("Full");
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
