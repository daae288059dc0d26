//! Array files: `.npy`/`.npz`, safetensors, GGUF.
//!
//! Every loader refuses malformed input with an [`IoError`] that names the
//! file, the tensor and the problem; every writer writes atomically (a
//! temporary file in the same folder, then a rename), so a failed or
//! interrupted write never leaves a half-written file behind.

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
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| IoError::new(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        IoError::new(path, format!("cannot write: {e}"))
    })
}
