//! Array files: `.npy`/`.npz`, safetensors, GGUF.

pub mod npy;
