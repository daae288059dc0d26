// Type error: returned values must match the signature.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
func @f(%0: tensor<2xf32>) -> (tensor<2xi32>) {
  // CHECK: psionic: error: {{.*}}.pir:[[@LINE+1]]:10: result 0 has type tensor<2xf32>, but the signature declares tensor<2xi32>
  return %0
}
