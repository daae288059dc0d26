// Type error: attributes the op does not take.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:23: `tensor.exp` has no attribute `axes`
  %1 = tensor.exp %0 {axes = [1]} : tensor<2xf32>
  return %1
}
