//! Loading and saving modules by file name, and picking the trace of a
//! module that fits given input types (MLX's dispatch of exported functions).
//!
//! [`load_module`] dispatches on the extension: `.pir` (text IR), `.psifn`
//! (`psionic_ir::psifn`) and `.mlxfn` (`crate::mlxfn`). Loaded modules are
//! verified, so callers get IR that every pass and the interpreter accept.

use psionic_ir::text::{parse_module, print_module};
use psionic_ir::verify::verify_module;
use psionic_ir::{Func, Loc, Module, TensorType, DYN};
use std::fmt;
use std::path::{Path, PathBuf};

/// An error loading, saving or dispatching a module; displays as
/// `FILE:LINE:COL: MESSAGE` when the problem has a location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub path: Option<PathBuf>,
    /// Line and column in the file, when known.
    pub loc: Option<Loc>,
    pub message: String,
}

impl Error {
    pub fn new(path: Option<&Path>, message: impl Into<String>) -> Self {
        Error {
            path: path.map(Path::to_path_buf),
            loc: None,
            message: message.into(),
        }
    }
    pub fn at(path: &Path, loc: Loc, message: impl Into<String>) -> Self {
        Error {
            path: Some(path.to_path_buf()),
            loc: loc.is_known().then_some(loc),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}:", p.display())?;
            if let Some(l) = self.loc {
                write!(f, "{l}:")?;
            }
            f.write_str(" ")?;
        }
        f.write_str(&self.message)
    }
}
impl std::error::Error for Error {}

/// Parses and verifies text IR. `name` names the source in errors (a path,
/// or `<stdin>`).
pub fn parse_module_text(name: &Path, text: &str) -> Result<Module, Error> {
    let m = parse_module(text).map_err(|e| Error::at(name, e.loc(), e.message))?;
    verify_module(&m).map_err(|e| Error::at(name, e.loc, e.message))?;
    Ok(m)
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Loads a module from a file, choosing the reader by extension.
pub fn load_module(path: impl AsRef<Path>) -> Result<Module, Error> {
    let path = path.as_ref();
    match extension(path).as_str() {
        "pir" => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::new(Some(path), format!("cannot read: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Error::new(Some(path), format!("not UTF-8 text: {e}")))?;
            parse_module_text(path, &text)
        }
        "psifn" => psionic_ir::psifn::load(path).map_err(|e| Error::new(Some(path), e.to_string())),
        "mlxfn" => {
            crate::mlxfn::import_file(path).map_err(|e| Error::new(Some(path), e.to_string()))
        }
        other => Err(Error::new(
            Some(path),
            format!(
                "unknown module file type `{}` (expected .pir, .psifn or .mlxfn)",
                if other.is_empty() { "(none)" } else { other }
            ),
        )),
    }
}

/// Saves a module, choosing the writer by extension; the file is written
/// atomically.
pub fn save_module(path: impl AsRef<Path>, module: &Module) -> Result<(), Error> {
    let path = path.as_ref();
    match extension(path).as_str() {
        "pir" => crate::io::write_atomic(path, print_module(module).as_bytes())
            .map_err(|e| Error::new(Some(path), e.message)),
        "psifn" => crate::io::write_atomic(path, &psionic_ir::psifn::to_bytes(module))
            .map_err(|e| Error::new(Some(path), e.message)),
        "mlxfn" => {
            let bytes =
                crate::mlxfn::write(module).map_err(|e| Error::new(Some(path), e.to_string()))?;
            crate::io::write_atomic(path, &bytes).map_err(|e| Error::new(Some(path), e.message))
        }
        other => Err(Error::new(
            Some(path),
            format!(
                "cannot write module files of type `{other}` (expected .pir, .psifn or .mlxfn)"
            ),
        )),
    }
}

/// Whether a parameter of type `param` accepts an argument of type `arg`:
/// equal dtypes and ranks, equal sizes except where `param` has [`DYN`].
pub fn accepts(param: &TensorType, arg: &TensorType) -> bool {
    param.dtype == arg.dtype
        && param.rank() == arg.rank()
        && param
            .shape
            .iter()
            .zip(&arg.shape)
            .all(|(&p, &a)| p == DYN || p == a)
}

fn signature(f: &Func) -> String {
    let ps: Vec<String> = f.param_types().iter().map(ToString::to_string).collect();
    format!("@{}({})", f.name, ps.join(", "))
}

/// The first function of `module` whose parameters accept `args` (MLX's
/// dispatch among the traces of one exported function).
pub fn select_trace<'m>(module: &'m Module, args: &[TensorType]) -> Result<&'m Func, Error> {
    select_named_trace(module, None, args)
}

/// [`select_trace`] among the functions called `name` (all when `None`).
pub fn select_named_trace<'m>(
    module: &'m Module,
    name: Option<&str>,
    args: &[TensorType],
) -> Result<&'m Func, Error> {
    let candidates: Vec<&Func> = module
        .funcs
        .iter()
        .filter(|f| name.is_none_or(|n| f.name == n))
        .collect();
    if candidates.is_empty() {
        let names: Vec<String> = module
            .funcs
            .iter()
            .map(|f| format!("@{}", f.name))
            .collect();
        return Err(Error::new(
            None,
            match name {
                Some(n) => format!("no function @{n} (the module has: {})", names.join(", ")),
                None => "the module has no functions".to_string(),
            },
        ));
    }
    for f in &candidates {
        let params = f.param_types();
        if params.len() == args.len() && params.iter().zip(args).all(|(p, a)| accepts(p, a)) {
            return Ok(f);
        }
    }
    let given: Vec<String> = args.iter().map(ToString::to_string).collect();
    let sigs: Vec<String> = candidates.iter().map(|f| signature(f)).collect();
    Err(Error::new(
        None,
        format!(
            "no trace accepts inputs ({}); available: {}",
            given.join(", "),
            sigs.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use psionic_ir::DType;

    fn t(d: DType, s: &[i64]) -> TensorType {
        TensorType::new(d, s.to_vec())
    }

    #[test]
    fn dispatch_picks_the_first_matching_trace() {
        let m = Module::new(vec![
            Func::new("f", vec![t(DType::F32, &[2, 3])]),
            Func::new("f", vec![t(DType::F32, &[DYN, 3])]),
            Func::new("g", vec![t(DType::I32, &[])]),
        ]);
        let pick = |a: &[TensorType]| select_trace(&m, a).map(|f| f.param_types());
        assert_eq!(
            pick(&[t(DType::F32, &[2, 3])]).unwrap(),
            vec![t(DType::F32, &[2, 3])]
        );
        assert_eq!(
            pick(&[t(DType::F32, &[7, 3])]).unwrap(),
            vec![t(DType::F32, &[DYN, 3])]
        );
        assert_eq!(select_trace(&m, &[t(DType::I32, &[])]).unwrap().name, "g");
        let e = pick(&[t(DType::F16, &[2, 3])]).unwrap_err().to_string();
        assert!(
            e.contains("no trace accepts inputs (tensor<2x3xf16>)"),
            "{e}"
        );
        assert!(e.contains("@f(tensor<?x3xf32>)"), "{e}");
        let e = select_named_trace(&m, Some("h"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no function @h (the module has: @f, @f, @g)"),
            "{e}"
        );
        let e = select_named_trace(&m, Some("g"), &[t(DType::I32, &[1])]).unwrap_err();
        assert!(e.message.contains("@g(tensor<i32>)"), "{e}");
    }

    #[test]
    fn pir_files_load_verify_and_save() {
        let dir = std::env::temp_dir().join(format!("psionic-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.pir");
        std::fs::write(
            &p,
            "func @main(%0: tensor<2xf32>) -> (tensor<2xf32>) {\n  %1 = tensor.exp %0 : tensor<2xf32>\n  return %1\n}\n",
        )
        .unwrap();
        let m = load_module(&p).unwrap();
        let q = dir.join("out.pir");
        save_module(&q, &m).unwrap();
        assert_eq!(load_module(&q).unwrap(), m);
        std::fs::write(&p, "func @main( {").unwrap();
        let e = load_module(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:1:", p.display())), "{e}");
        let e = load_module(dir.join("x.onnx")).unwrap_err().to_string();
        assert!(e.contains("unknown module file type `onnx`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
