//! The CUDA backend's code generator (feature `cuda`): PTX text for every
//! kernel of the kernel-level IR and a launch plan for a whole program.
//!
//! Pure Rust, no driver needed: [`plan::plan_program`] turns a planned
//! [`psionic_ir::kernel::KProgram`] into one PTX module ([`plan::CudaPlan::ptx`],
//! `.target sm_90` by default) plus the [`plan::Step`]s that run it: kernel
//! launches (generated kernels and device sorts), cuBLAS gemms and host
//! round-trips for the other library ops. Loading the
//! module and launching (cudarc) lives in `psionic_runtime::cuda`.
//!
//! Kernel shapes ([`ptx`]):
//! - **elementwise** (no reduced axes): a grid-stride loop over the domain;
//!   when the normalized domain is flat and every load and store is a
//!   contiguous f32 stream (or a broadcast scalar), each thread moves 16
//!   bytes per access (`ld.global.v4.f32`), with a scalar tail;
//! - **rows** (reduced axes): one block per outer index (grid-stride over
//!   rows); threads stride over the reduced points, accumulators combine by
//!   warp shuffles (`shfl.sync.bfly`) and a shared-memory block step. When a
//!   row of the loaded stream fits in shared memory (4 bytes a point for
//!   f32/f16/bf16), the first `loop` stage keeps it there and later stages
//!   read it back: softmax and layer norm touch global memory once for
//!   reading and once for writing. Aligned f32 rows (length, offsets and
//!   outer strides multiples of 4 elements) move 16 bytes an access; `m2`
//!   of a cached f32-class row is two-pass (mean, then squared deviations
//!   in f32);
//! - **matmul**: cuBLAS (f32, TF32 when allowed, f16/bf16 with f32
//!   accumulation, f64), with the epilogue as a following elementwise kernel
//!   unless it is a plain store; integer matmuls and operand layouts cuBLAS
//!   cannot express become a rows kernel reducing over `k`.
//! - **sort**: `sort`/`argsort`/`partition`/`argpartition` of rows of up to
//!   2048 elements, a bitonic network in shared memory ([`sort`]).
//!
//! Values live in three register classes: `f32` (f32, f16 and bf16, rounded
//! to their dtype after every node, as the interpreter does), `f64`, and
//! 64-bit integers (every integer dtype and bool, wrapped to their width
//! after every node). Transcendentals are written out in PTX: on f32-class
//! values range reduction plus polynomials around `ex2.approx`/`lg2.approx`;
//! on `f64` values [`f64math`]'s routines in f64 arithmetic (exp, log, trig
//! and inverse trig, hyperbolics and their inverses, pow, erf, erfinv...).

pub mod f64math;
pub mod plan;
pub mod ptx;
pub mod sort;

pub use plan::{plan_program, CudaOptions, CudaPlan, GemmSpec, LaunchSpec, Step};
