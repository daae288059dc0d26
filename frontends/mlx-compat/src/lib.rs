//! (to be written)

pub mod mlxfn;
