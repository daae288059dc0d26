// canonicalize folds ops on constants through the reference interpreter,
// including values of small tensor.full/iota/arange, while results have at
// most 1024 elements; larger results stay as ops.
// RUN: psionic opt %s --pass canonicalize | FileCheck %s

func @f(%0: tensor<3xf32>) -> (tensor<3xf32>) {
  %1 = tensor.constant {value = dense<[1.0, 4.0, 9.0]> : tensor<3xf32>} : tensor<3xf32>
  %2 = tensor.sqrt %1 : tensor<3xf32>
  %3 = tensor.full {dtype = f32, shape = [3], value = 2.0} : tensor<3xf32>
  %4 = tensor.multiply %2, %3 : tensor<3xf32>
  %5 = tensor.add %0, %4 : tensor<3xf32>
  return %5
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %1 = tensor.constant {value = dense<[2.0, 4.0, 6.0]> : tensor<3xf32>} : tensor<3xf32>
// CHECK-NEXT: %2 = tensor.add %0, %1
// CHECK-NEXT: return %2

func @reductions() -> (tensor<i32>, tensor<2xu32>, tensor<3xi64>) {
  %0 = tensor.iota {axis = 1, dtype = i32, shape = [2, 3]} : tensor<2x3xi32>
  %1 = tensor.reduce_sum %0 {axes = [0, 1]} : tensor<i32>
  %2 = tensor.argmax %0 {axis = 1} : tensor<2xu32>
  %3 = tensor.arange {dtype = i64, start = 0.0, step = 2.0, stop = 6.0} : tensor<3xi64>
  %4 = tensor.cumsum %3 {axis = 0} : tensor<3xi64>
  return %1, %2, %4
}
// CHECK-LABEL: func @reductions
// CHECK-NEXT: %0 = tensor.constant {value = dense<6> : tensor<i32>} : tensor<i32>
// CHECK-NEXT: %1 = tensor.constant {value = dense<[2, 2]> : tensor<2xu32>} : tensor<2xu32>
// CHECK-NEXT: %2 = tensor.constant {value = dense<[0, 2, 6]> : tensor<3xi64>} : tensor<3xi64>
// CHECK-NEXT: return %0, %1, %2

// Multi-result ops fold to one constant per result.
func @divmod() -> (tensor<2xi32>, tensor<2xi32>) {
  %0 = tensor.constant {value = dense<[7, -7]> : tensor<2xi32>} : tensor<2xi32>
  %1 = tensor.full {dtype = i32, shape = [2], value = 2.0} : tensor<2xi32>
  %2, %3 = tensor.divmod %0, %1 : tensor<2xi32>, tensor<2xi32>
  return %2, %3
}
// CHECK-LABEL: func @divmod
// CHECK-NEXT: %0 = tensor.constant {value = dense<[3, -4]> : tensor<2xi32>}
// CHECK-NEXT: %1 = tensor.constant {value = dense<[1, 1]> : tensor<2xi32>}
// CHECK-NEXT: return %0, %1

// Over the fold limit: the negative of 2000 ones stays an op.
func @large() -> (tensor<2000xf32>) {
  %0 = tensor.full {dtype = f32, shape = [2000], value = 1.0} : tensor<2000xf32>
  %1 = tensor.negative %0 : tensor<2000xf32>
  return %1
}
// CHECK-LABEL: func @large
// CHECK-NEXT: tensor.full
// CHECK-NEXT: tensor.negative

// canonicalize{fold=false} removes identities but folds nothing.
// RUN: psionic opt %s --pipeline 'canonicalize{fold=false}' | FileCheck %s --check-prefix=NOFOLD
// NOFOLD-LABEL: func @f
// NOFOLD: tensor.sqrt
