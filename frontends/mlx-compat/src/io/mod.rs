//! Array files: `.npy`/`.npz`, safetensors, GGUF; [`api`] has MLX's
//! `load`/`save`/`savez`/`save_safetensors` over arrays.
//!
//! Every loader refuses malformed input with an [`IoError`] that names the
//! file, the tensor and the problem; every writer writes atomically (a
//! temporary file in the same folder, then a rename), so a failed or
//! interrupted write never leaves a half-written file behind.

pub mod api;
pub mod gguf;
pub mod npy;
pub mod safetensors;

use std::fmt;
use std::path::{Path, PathBuf};

/// An error reading or writing a tensor file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoError {
    pub path: PathBuf,
    pub message: String,
}

impl IoError {
    pub fn new(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        IoError {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}
impl std::error::Error for IoError {}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// folder, flushed to disk, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    if path.file_name().is_none() {
        return Err(IoError::new(path, "not a file path"));
    }
    psionic_ir::psifn::write_atomic(path, bytes)
        .map_err(|e| IoError::new(path, format!("cannot write: {e}")))
}
