// canonicalize folds layout chains: transpose of transpose composes (or
// cancels), reshape of reshape becomes one reshape, squeeze of expand_dims
// over the same axes cancels, broadcast of broadcast becomes one broadcast,
// double negation and double flips cancel.
// RUN: psionic opt %s --pass canonicalize | FileCheck %s

func @f(%0: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<3x2x4xf32>, tensor<24xf32>, tensor<2x3x4xf32>, tensor<5x6x2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %1 = tensor.transpose %0 {perm = [1, 2, 0]} : tensor<3x4x2xf32>
  %2 = tensor.transpose %1 {perm = [2, 0, 1]} : tensor<2x3x4xf32>
  %3 = tensor.transpose %1 {perm = [0, 2, 1]} : tensor<3x2x4xf32>
  %4 = tensor.reshape %0 {shape = [6, 4]} : tensor<6x4xf32>
  %5 = tensor.reshape %4 {shape = [24]} : tensor<24xf32>
  %6 = tensor.expand_dims %0 {axes = [0, 2]} : tensor<1x2x1x3x4xf32>
  %7 = tensor.squeeze %6 {axes = [0, 2]} : tensor<2x3x4xf32>
  %8 = tensor.broadcast %0 {shape = [6, 2, 3, 4]} : tensor<6x2x3x4xf32>
  %9 = tensor.broadcast %8 {shape = [5, 6, 2, 3, 4]} : tensor<5x6x2x3x4xf32>
  %10 = tensor.negative %0 : tensor<2x3x4xf32>
  %11 = tensor.negative %10 : tensor<2x3x4xf32>
  %12 = tensor.flip %0 {axes = [1]} : tensor<2x3x4xf32>
  %13 = tensor.flip %12 {axes = [1]} : tensor<2x3x4xf32>
  return %2, %3, %5, %7, %9, %11, %13
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %1 = tensor.transpose %0 {perm = [1, 0, 2]} : tensor<3x2x4xf32>
// CHECK-NEXT: %2 = tensor.reshape %0 {shape = [24]} : tensor<24xf32>
// CHECK-NEXT: %3 = tensor.broadcast %0 {shape = [5, 6, 2, 3, 4]} : tensor<5x6x2x3x4xf32>
// CHECK-NEXT: return %0, %1, %2, %0, %3, %0, %0
