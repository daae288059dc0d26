// dce removes ops whose results nothing uses, keeps every function result
// (parameters returned directly included), and renumbers values.
// RUN: psionic opt %s --pass dce | FileCheck %s
// RUN: psionic opt %s --pass dce --stats 2>&1 | FileCheck %s --check-prefix=STATS
// STATS: dce {{ *}}ops {{ *}}6 -> 2
// STATS-NEXT: ops removed: 4

func @f(%0: tensor<3xf32>, %1: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %2 = tensor.exp %0 : tensor<3xf32>
  %3 = tensor.log %2 : tensor<3xf32>
  %4 = tensor.add %0, %1 : tensor<3xf32>
  %5 = tensor.negative %4 : tensor<3xf32>
  return %5, %1
}
// CHECK-LABEL: func @f
// CHECK-NOT: tensor.exp
// CHECK-NOT: tensor.log
// CHECK: %2 = tensor.add %0, %1
// CHECK-NEXT: %3 = tensor.negative %2
// CHECK-NEXT: return %3, %1

// A function whose ops are all dead keeps none of them.
func @g(%0: tensor<3xf32>) -> (tensor<3xf32>) {
  %1 = tensor.sqrt %0 : tensor<3xf32>
  %2 = tensor.full {dtype = f32, shape = [3], value = 1.0} : tensor<3xf32>
  return %0
}
// CHECK-LABEL: func @g
// CHECK-NEXT: return %0
