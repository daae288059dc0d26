// Type error: the written result type must be the inferred one.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<3xf32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:24: result 0 of `tensor.exp` has type tensor<2xf32>, but tensor<3xf32> is written
  %1 = tensor.exp %0 : tensor<3xf32>
  return %1
}
