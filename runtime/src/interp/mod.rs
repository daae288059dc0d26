//! The reference interpreter. [`extra`] holds the kernels of the MLX extras
//! ops (convolution, FFT, linear algebra, quantization, random bits, the
//! `fast` primitives); the core interpreter falls back to [`extra::eval`] for
//! every op it does not handle itself.

pub mod extra;
