//! Array files: `.npy`/`.npz`, safetensors, GGUF.

pub mod gguf;
pub mod npy;
