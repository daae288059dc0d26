// --prefix P reads P+in.i and writes P+out.i; among several traces of @main
// the first whose parameter types accept the inputs runs (? matches any size).
// RUN: psionic run %s --inputs %S/../inputs/prefixed.safetensors --prefix layer. --out %t.safetensors
// RUN: psionic inspect %t.safetensors | FileCheck %s
// CHECK: // 1 tensors
// CHECK-NEXT: layer.out.0: tensor<2x3xf32> = [0.5, 0.5, -3.0, 2.0, 1.25, -6.0]
func @main(%0: tensor<3x3xf32>, %1: tensor<3xf32>) -> (tensor<3x3xf32>) {
  return %0
}
func @main(%0: tensor<?x3xf32>, %1: tensor<3xf32>) -> (tensor<?x3xf32>) {
  %2 = tensor.broadcast_like %1, %0 : tensor<?x3xf32>
  %3 = tensor.multiply %0, %2 : tensor<?x3xf32>
  return %3
}
