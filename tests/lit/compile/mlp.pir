// `psionic compile`: relu(x @ w1 + b1) @ w2 + b2 is two gemm calls whose
// epilogues add the bias and apply the ReLU; no separate kernel.
// RUN: psionic compile %s | FileCheck %s
// CHECK: kernel.matmul @k0 %b0[0; 8, 1], %b1[0; 16, 1] batch [] m 4 n 16 k 8 : f32 {
// CHECK-NEXT:     %0 = matmul_result : f32
// CHECK-NEXT:     %1 = load %b2[0; 0, 1] : f32
// CHECK-NEXT:     %2 = add %0, %1 : f32
// CHECK:     maximum
// CHECK: kernel.matmul @k1
// CHECK-NOT: kernel.fused
// RUN: psionic compile %s --stats-json | FileCheck %s --check-prefix=JSON
// JSON: {"kernels": 0, "library_calls": 2,
func @main(%0: tensor<4x8xf32>, %1: tensor<8x16xf32>, %2: tensor<16xf32>, %3: tensor<16x3xf32>, %4: tensor<3xf32>) -> (tensor<4x3xf32>) {
  %5 = tensor.matmul %0, %1 : tensor<4x16xf32>
  %6 = tensor.broadcast %2 {shape = [4, 16]} : tensor<4x16xf32>
  %7 = tensor.add %5, %6 : tensor<4x16xf32>
  %8 = tensor.full {dtype = f32, shape = [4, 16], value = 0.0} : tensor<4x16xf32>
  %9 = tensor.maximum %7, %8 : tensor<4x16xf32>
  %10 = tensor.matmul %9, %3 : tensor<4x3xf32>
  %11 = tensor.broadcast %4 {shape = [4, 3]} : tensor<4x3xf32>
  %12 = tensor.add %10, %11 : tensor<4x3xf32>
  return %12
}
