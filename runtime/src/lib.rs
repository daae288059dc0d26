//! (to be written)

pub mod kernel_interp;
