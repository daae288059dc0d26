//! (to be written)

pub mod files;
pub mod io;
