// Type error: reduction axes must be in range.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<f32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:8: `tensor.reduce_sum`: axis 3 is out of range for rank 1
  %1 = tensor.reduce_sum %0 {axes = [3]} : tensor<f32>
  return %1
}
