// `psionic compile`: a hand-written softmax (as MLX traces `x - max`, `exp`,
// `/ sum`) becomes one kernel of two passes: an online logsumexp loop and a map
// (the per-row `lse + (lse - lse)` makes a row holding +inf NaN, as MLX's is).
// RUN: psionic compile %s | FileCheck %s
// CHECK: kernel.program @main(%b0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
// CHECK-NEXT:   %b1 = kernel.buffer : tensor<8x32xf32>
// CHECK-NEXT:   kernel.fused @k0 domain [8, 32] reduce [1] {
// CHECK-NEXT:     loop {
// CHECK-NEXT:       %0 = load %b0[0; 32, 1] : f32
// CHECK-NEXT:       %1 = acc.logsumexp %0 : f32
// CHECK-NEXT:     }
// CHECK-NEXT:     outer {
// CHECK-NEXT:       %2 = subtract %1, %1 : f32
// CHECK-NEXT:       %3 = add %1, %2 : f32
// CHECK-NEXT:     }
// CHECK-NEXT:     map {
// CHECK:       store %b1[0; 32, 1], %{{[0-9]+}} : f32
// CHECK:   return %b1
// RUN: psionic compile %s --stats-json | FileCheck %s --check-prefix=JSON
// JSON: {"kernels": 1, "library_calls": 0, "peak_bytes": 1024, "bytes_moved": 3072, "passes": 2,
// RUN: psionic compile %s --emit clif | FileCheck %s --check-prefix=CLIF
// CLIF: function
// CLIF: f32x4
func @main(%0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
  %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %2 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
  %3 = tensor.subtract %0, %2 : tensor<8x32xf32>
  %4 = tensor.exp %3 : tensor<8x32xf32>
  %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %6 = tensor.broadcast %5 {shape = [8, 32]} : tensor<8x32xf32>
  %7 = tensor.divide %4, %6 : tensor<8x32xf32>
  return %7
}
