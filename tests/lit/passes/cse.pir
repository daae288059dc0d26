// cse merges ops with equal opcode, operands and attributes; commutative ops
// merge with swapped operands; constants merge only when their data is equal;
// creation ops with different attributes never merge.
// RUN: psionic opt %s --pass cse | FileCheck %s

func @f(%0: tensor<3xf32>, %1: tensor<3xf32>) -> (tensor<3xf32>) {
  %2 = tensor.add %0, %1 : tensor<3xf32>
  %3 = tensor.add %1, %0 : tensor<3xf32>
  %4 = tensor.subtract %0, %1 : tensor<3xf32>
  %5 = tensor.subtract %1, %0 : tensor<3xf32>
  %6 = tensor.multiply %2, %3 : tensor<3xf32>
  %7 = tensor.multiply %4, %5 : tensor<3xf32>
  %8 = tensor.add %6, %7 : tensor<3xf32>
  return %8
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %2 = tensor.add %0, %1
// CHECK-NEXT: %3 = tensor.subtract %0, %1
// CHECK-NEXT: %4 = tensor.subtract %1, %0
// CHECK-NEXT: %5 = tensor.multiply %2, %2
// CHECK-NEXT: %6 = tensor.multiply %3, %4
// CHECK-NEXT: %7 = tensor.add %5, %6

func @constants() -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xi32>) {
  %0 = tensor.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
  %1 = tensor.constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : tensor<2xf32>
  %2 = tensor.constant {value = dense<[1.0, 3.0]> : tensor<2xf32>} : tensor<2xf32>
  %3 = tensor.full {dtype = f32, shape = [2], value = 0.5} : tensor<2xf32>
  %4 = tensor.full {dtype = f32, shape = [2], value = 0.25} : tensor<2xf32>
  %5 = tensor.full {dtype = i32, shape = [2], value = 0.5} : tensor<2xi32>
  return %0, %1, %2, %3, %4, %5
}
// CHECK-LABEL: func @constants
// CHECK-NEXT: %0 = tensor.constant {value = dense<[1.0, 2.0]>
// CHECK-NEXT: %1 = tensor.constant {value = dense<[1.0, 3.0]>
// CHECK-NEXT: %2 = tensor.full {dtype = f32, shape = [2], value = 0.5}
// CHECK-NEXT: %3 = tensor.full {dtype = f32, shape = [2], value = 0.25}
// CHECK-NEXT: %4 = tensor.full {dtype = i32, shape = [2], value = 0.5}
// CHECK-NEXT: return %0, %0, %1, %2, %3, %4
