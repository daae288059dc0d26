// canonicalize removes identities that hold bit for bit: x - 0, x * 1, x / 1,
// x + (-0.0) for floats, x + 0 for integers, casts to the same dtype, copies,
// reshapes/broadcasts to the same shape, identity transposes. x + 0.0 stays
// for floats, because -0.0 + 0.0 is +0.0.
// RUN: psionic opt %s --pass canonicalize | FileCheck %s

func @f(%0: tensor<2x3xf32>, %1: tensor<2x3xi32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xi32>, tensor<2x3xf32>) {
  %2 = tensor.full {dtype = f32, shape = [2, 3], value = 0.0} : tensor<2x3xf32>
  %3 = tensor.full {dtype = f32, shape = [2, 3], value = -0.0} : tensor<2x3xf32>
  %4 = tensor.full {dtype = f32, shape = [2, 3], value = 1.0} : tensor<2x3xf32>
  %5 = tensor.full {dtype = i32, shape = [2, 3], value = 0.0} : tensor<2x3xi32>
  %6 = tensor.add %0, %2 : tensor<2x3xf32>
  %7 = tensor.add %3, %0 : tensor<2x3xf32>
  %8 = tensor.subtract %0, %2 : tensor<2x3xf32>
  %9 = tensor.multiply %4, %0 : tensor<2x3xf32>
  %10 = tensor.divide %0, %4 : tensor<2x3xf32>
  %11 = tensor.add %1, %5 : tensor<2x3xi32>
  %12 = tensor.cast %0 {dtype = f32} : tensor<2x3xf32>
  %13 = tensor.copy %12 : tensor<2x3xf32>
  %14 = tensor.reshape %13 {shape = [2, 3]} : tensor<2x3xf32>
  %15 = tensor.broadcast %14 {shape = [2, 3]} : tensor<2x3xf32>
  %16 = tensor.transpose %15 {perm = [0, 1]} : tensor<2x3xf32>
  return %6, %7, %8, %9, %10, %11, %16
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %2 = tensor.full {dtype = f32, shape = [2, 3], value = 0.0}
// CHECK-NEXT: %3 = tensor.add %0, %2
// CHECK-NEXT: return %3, %0, %0, %0, %0, %1, %0
