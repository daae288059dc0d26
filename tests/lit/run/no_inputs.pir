// A function without parameters runs without --inputs.
// RUN: psionic run %s --func consts --out %t.safetensors
// RUN: psionic inspect %t.safetensors | FileCheck %s
// CHECK: out.0: tensor<2x3xi32> = [0, 1, 2, 0, 1, 2]
// CHECK-NEXT: out.1: tensor<bool> = [true]
func @consts() -> (tensor<2x3xi32>, tensor<bool>) {
  %0 = tensor.iota {axis = 1, dtype = i32, shape = [2, 3]} : tensor<2x3xi32>
  %1 = tensor.constant {value = dense<true> : tensor<bool>} : tensor<bool>
  return %0, %1
}
