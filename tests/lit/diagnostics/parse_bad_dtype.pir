// Parse error: a dtype that does not exist.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:32: unknown dtype `f128`
  %1 = tensor.cast %0 {dtype = f128} : tensor<2xf32>
  return %1
}
