//! `psionic-mlx`: the MLX-shaped API over Psionic's IR.

pub mod io;
