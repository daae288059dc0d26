// `psionic run` runs @main (compiled for the CPU, the default backend) on
// in.0, in.1 and writes out.0, out.1.
// RUN: psionic run %s --inputs %S/../inputs/add_bcast.safetensors --out %t.safetensors
// RUN: psionic inspect %t.safetensors | FileCheck %s
// CHECK: // 2 tensors
// CHECK-NEXT: out.0: tensor<2x3xf32> = [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
// CHECK-NEXT: out.1: tensor<2xf32> = [66.0, 75.0]

// The optimized function computes the same numbers.
// RUN: psionic opt %s --pipeline canonicalize,cse,dce -o %t.pir
// RUN: psionic run %t.pir --inputs %S/../inputs/add_bcast.safetensors --out %t.opt.safetensors
// RUN: psionic inspect %t.opt.safetensors | FileCheck %s

// The reference interpreter, and the explicit cpu backend: the same numbers.
// RUN: psionic run %s --backend interp --inputs %S/../inputs/add_bcast.safetensors --out %t.interp.safetensors
// RUN: psionic inspect %t.interp.safetensors | FileCheck %s
// RUN: psionic run %s --backend cpu --inputs %S/../inputs/add_bcast.safetensors --out %t.cpu.safetensors
// RUN: psionic inspect %t.cpu.safetensors | FileCheck %s

// --bench N prints one JSON line (tools/psionic/tests/run_bench.rs checks it closely).
// RUN: psionic run %s --inputs %S/../inputs/add_bcast.safetensors --bench 3 | FileCheck %s --check-prefix=BENCH
// BENCH: {{^\{"median_ms": [0-9]+\.[0-9]+, "min_ms": [0-9]+\.[0-9]+, "compile_ms": [0-9]+\.[0-9]+\}$}}
// BENCH-NOT: {{.}}
// RUN: not psionic run %s --backend gpu --inputs %S/../inputs/add_bcast.safetensors --out %t.x.safetensors 2>&1 | FileCheck %s --check-prefix=BACKEND
// BACKEND: psionic: error: run: unknown backend `gpu` (interp, cpu, cuda or wgpu)
func @main(%0: tensor<2x3xf32>, %1: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2xf32>) {
  %2 = tensor.broadcast %1 {shape = [2, 3]} : tensor<2x3xf32>
  %3 = tensor.add %0, %2 : tensor<2x3xf32>
  %4 = tensor.copy %3 : tensor<2x3xf32>
  %5 = tensor.add %0, %2 : tensor<2x3xf32>
  %6 = tensor.reduce_sum %5 {axes = [1]} : tensor<2xf32>
  return %4, %6
}
