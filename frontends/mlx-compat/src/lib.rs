//! (to be written)

pub mod io;
