// `psionic compile --backend`: 64-bit integer ops are library calls for the
// CPU (its kernels hold values in f64 registers, exact only below 2^53) and
// for wgpu (WGSL has no 64-bit types: it runs them on the interpreter), but
// CUDA's kernels hold them in 64-bit registers, so there they fuse.
// RUN: psionic compile %s | FileCheck %s --check-prefix=CPU
// CPU-NOT: kernel.fused
// CPU: kernel.op tensor.multiply
// CPU: kernel.op tensor.add
// CPU: kernel.op tensor.reduce_sum
// RUN: psionic compile %s --backend wgpu --stats-json | FileCheck %s --check-prefix=WGPU
// WGPU: {"kernels": 0, "library_calls": 3,
// RUN: psionic compile %s --backend cuda | FileCheck %s --check-prefix=CUDA
// CUDA-NOT: kernel.op
// CUDA: kernel.fused @k0 domain [4, 8] reduce [] {
// CUDA:   %{{[0-9]+}} = multiply %{{[0-9]+}}, %{{[0-9]+}} : i64
// CUDA:   %{{[0-9]+}} = add %{{[0-9]+}}, %{{[0-9]+}} : i64
// CUDA: kernel.fused @k1 domain [4, 8] reduce [1] {
// CUDA:   acc.sum %{{[0-9]+}} : i64
// RUN: psionic compile %s --backend cuda --stats-json | FileCheck %s --check-prefix=JSON
// JSON: {"kernels": 2, "library_calls": 0,
// RUN: not psionic compile %s --backend tpu 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: compile: unknown backend `tpu` (cpu, cuda or wgpu)
// RUN: not psionic compile %s --backend cpu --emit ptx 2>&1 | FileCheck %s --check-prefix=MISMATCH
// MISMATCH: compile: --emit ptx is cuda code; --backend cpu applies to --emit kernel
func @main(%0: tensor<4x8xi64>, %1: tensor<4x8xi64>) -> (tensor<4x8xi64>, tensor<4x1xi64>) {
  %2 = tensor.multiply %0, %1 : tensor<4x8xi64>
  %3 = tensor.add %2, %0 : tensor<4x8xi64>
  %4 = tensor.reduce_sum %3 {axes = [1], keepdims = true} : tensor<4x1xi64>
  return %3, %4
}
