//! (to be written)

pub mod bufplan;
pub mod egraph;
pub mod fusion;
