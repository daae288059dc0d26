// `psionic convert` writes .psifn and reads it back losslessly; the output is
// the same IR, and converting to an unknown extension is refused.
// RUN: psionic convert %s %t.psifn
// RUN: psionic convert %t.psifn %t.pir
// RUN: psionic opt %t.pir | FileCheck %s
// RUN: not psionic convert %s %t.onnx 2>&1 | FileCheck %s --check-prefix=EXT
// RUN: not psionic convert %s 2>&1 | FileCheck %s --check-prefix=USAGE
// CHECK: func @main(%0: tensor<2x3xf32>, %1: tensor<3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:   %2 = tensor.broadcast %1 {shape = [2, 3]} : tensor<2x3xf32>
// CHECK-NEXT:   %3 = tensor.constant {value = dense<{{\[\[}}0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]> : tensor<2x3xf32>} : tensor<2x3xf32>
// CHECK-NEXT:   %4 = tensor.add %0, %2 : tensor<2x3xf32>
// CHECK-NEXT:   %5 = tensor.multiply %4, %3 : tensor<2x3xf32>
// CHECK-NEXT:   return %5
// EXT: psionic: error: {{.*}}.onnx: cannot write module files of type `onnx`
// USAGE: psionic: error: convert: takes an input and an output file
func @main(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> (tensor<2x3xf32>) {
  %bb = tensor.broadcast %b {shape = [2, 3]} : tensor<2x3xf32>
  %c = tensor.constant {value = dense<[[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]> : tensor<2x3xf32>} : tensor<2x3xf32>
  %s = tensor.add %x, %bb : tensor<2x3xf32>
  %m = tensor.multiply %s, %c : tensor<2x3xf32>
  return %m
}
