// Parse error: SSA values are defined once.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  %1 = tensor.exp %0 : tensor<2xf32>
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:3: redefinition of value %1
  %1 = tensor.exp %0 : tensor<2xf32>
  return %1
}
