// Type error: elementwise operands must have one shape (broadcasting is explicit).
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>, %1: tensor<3xf32>) -> (tensor<2xf32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:8: `tensor.add`: operand shapes differ ([2] and [3]): insert tensor.broadcast
  %2 = tensor.add %0, %1 : tensor<2xf32>
  return %2
}
