// canonicalize: more identities and chains: select with equal branches or a
// known condition, full slices, zero padding, single-operand concatenate,
// one-axis flatten, reshape of flatten, expand_dims of squeeze.
// RUN: psionic opt %s --pass canonicalize | FileCheck %s

func @f(%0: tensor<2x3xf32>, %1: tensor<2x3xbool>, %2: tensor<2x3xf32>, %3: tensor<f32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<2x3xf32>) {
  %4 = tensor.select %1, %0, %0 : tensor<2x3xf32>
  %5 = tensor.full {dtype = bool, shape = [2, 3], value = 0.0} : tensor<2x3xbool>
  %6 = tensor.select %5, %0, %2 : tensor<2x3xf32>
  %7 = tensor.slice %0 {start = [0, 0], stop = [2, 3], strides = [1, 1]} : tensor<2x3xf32>
  %8 = tensor.pad %0, %3 {high = [0, 0], low = [0, 0]} : tensor<2x3xf32>
  %9 = tensor.concatenate %0 {axis = 1} : tensor<2x3xf32>
  %10 = tensor.flatten %0 {end_axis = 1, start_axis = 1} : tensor<2x3xf32>
  %11 = tensor.flatten %0 {end_axis = 1, start_axis = 0} : tensor<6xf32>
  %12 = tensor.reshape %11 {shape = [3, 2]} : tensor<3x2xf32>
  %13 = tensor.reshape %0 {shape = [2, 1, 3]} : tensor<2x1x3xf32>
  %14 = tensor.squeeze %13 {axes = [1]} : tensor<2x3xf32>
  return %4, %6, %7, %8, %9, %10, %12, %14
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %4 = tensor.reshape %0 {shape = [3, 2]} : tensor<3x2xf32>
// CHECK-NEXT: return %0, %2, %0, %0, %0, %0, %4, %0

// Reshape-like ops of reshape-like ops become one reshape.
func @chains(%0: tensor<2x3x4xf32>) -> (tensor<2x12x1xf32>, tensor<6x4xf32>) {
  %1 = tensor.reshape %0 {shape = [6, 4]} : tensor<6x4xf32>
  %2 = tensor.unflatten %1 {axis = 0, shape = [2, 3]} : tensor<2x3x4xf32>
  %3 = tensor.flatten %2 {end_axis = 2, start_axis = 1} : tensor<2x12xf32>
  %4 = tensor.expand_dims %3 {axes = [2]} : tensor<2x12x1xf32>
  %5 = tensor.squeeze %4 {axes = [2]} : tensor<2x12xf32>
  %6 = tensor.reshape %5 {shape = [6, 4]} : tensor<6x4xf32>
  return %4, %6
}
// CHECK-LABEL: func @chains
// CHECK-NEXT: %1 = tensor.reshape %0 {shape = [2, 12, 1]} : tensor<2x12x1xf32>
// CHECK-NEXT: %2 = tensor.reshape %0 {shape = [6, 4]} : tensor<6x4xf32>
// CHECK-NEXT: return %1, %2

// Slices that are not the identity stay.
func @g(%0: tensor<4xf32>) -> (tensor<2xf32>, tensor<4xf32>) {
  %1 = tensor.slice %0 {start = [0], stop = [4], strides = [2]} : tensor<2xf32>
  %2 = tensor.slice %0 {start = [3], stop = [-1], strides = [-1]} : tensor<4xf32>
  return %1, %2
}
// CHECK-LABEL: func @g
// CHECK-NEXT: tensor.slice %0 {start = [0], stop = [4], strides = [2]}
// CHECK-NEXT: tensor.slice %0 {start = [3], stop = [-1], strides = [-1]}
