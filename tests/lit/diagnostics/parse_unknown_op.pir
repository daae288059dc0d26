// Parse error: an op name the op table does not know.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  // CHECK: psionic: error: {{.*}}parse_unknown_op.pir:[[@LINE+1]]:8: unknown op `tensor.nosuch`
  %1 = tensor.nosuch %0 : tensor<2xf32>
  return %1
}
