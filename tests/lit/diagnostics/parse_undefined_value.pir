// Parse error: a use of a value nothing defines.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:19: use of undefined value %7
  %1 = tensor.exp %7 : tensor<2xf32>
  return %1
}
