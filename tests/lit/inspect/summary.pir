// `psionic inspect` prints each function's signature, op counts and a
// summary of its constants, then the module as IR text.
// RUN: psionic inspect %s | FileCheck %s
// CHECK: func @main(%0: tensor<2x3xf32>) -> (tensor<2x3xf32>)
// CHECK-NEXT:   ops: 4
// CHECK-NEXT:     tensor.add: 1
// CHECK-NEXT:     tensor.broadcast: 1
// CHECK-NEXT:     tensor.constant: 2
// CHECK-NEXT:   constants: 2 (4 elements, 16 bytes)
// CHECK-NEXT:     largest: tensor<3xf32> (12 bytes)
// CHECK-NEXT: func @other() -> ()
// CHECK-NEXT:   ops: 0
// CHECK-NEXT:   constants: 0 (0 elements, 0 bytes)
// CHECK-EMPTY:
// CHECK-NEXT: func @main(%0: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:   %1 = tensor.constant {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : tensor<3xf32>
// CHECK:        return %4
func @main(%0: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
  %1 = tensor.constant {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : tensor<3xf32>
  %2 = tensor.constant {value = dense<5.0> : tensor<f32>} : tensor<f32>
  %3 = tensor.broadcast %1 {shape = [2, 3]} : tensor<2x3xf32>
  %4 = tensor.add %0, %3 : tensor<2x3xf32>
  return %4
}
func @other() -> () {
  return
}
