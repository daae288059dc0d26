// A shapeless function (symbolic dims, MLX's shapeless export) transforms
// at any shape: the broadcast_like shape donors get no cotangent, the
// cotangent of the broadcast scalar is summed with shape-polymorphic ops,
// and constants take their shape from broadcast_like.
// RUN: psionic opt %s --pass vjp
func @main(%x: tensor<?x?xf32>, %y: tensor<?x?xf32>, %s: tensor<f32>) -> (tensor<?x?xf32>) {
  %e = tensor.exp %x : tensor<?x?xf32>
  %m = tensor.multiply %e, %y : tensor<?x?xf32>
  %one = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
  %ob = tensor.broadcast_like %one, %m : tensor<?x?xf32>
  %r = tensor.add %m, %ob : tensor<?x?xf32>
  %sb = tensor.broadcast_like %s, %x : tensor<?x?xf32>
  %out = tensor.multiply %r, %sb : tensor<?x?xf32>
  return %out
}
// BLESS
// CHECK: func @main(%0: tensor<?x?xf32>, %1: tensor<?x?xf32>, %2: tensor<f32>, %3: tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<f32>) {
// CHECK-NEXT: %4 = tensor.exp %0 : tensor<?x?xf32>
// CHECK-NEXT: %5 = tensor.multiply %4, %1 : tensor<?x?xf32>
// CHECK-NEXT: %6 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
// CHECK-NEXT: %7 = tensor.broadcast_like %6, %5 : tensor<?x?xf32>
// CHECK-NEXT: %8 = tensor.add %5, %7 : tensor<?x?xf32>
// CHECK-NEXT: %9 = tensor.broadcast_like %2, %0 : tensor<?x?xf32>
// CHECK-NEXT: %10 = tensor.multiply %8, %9 : tensor<?x?xf32>
// CHECK-NEXT: %11 = tensor.multiply %3, %9 : tensor<?x?xf32>
// CHECK-NEXT: %12 = tensor.multiply %3, %8 : tensor<?x?xf32>
// CHECK-NEXT: %13 = tensor.reduce_sum %12 {axes = [0, 1]} : tensor<f32>
// CHECK-NEXT: %14 = tensor.multiply %11, %1 : tensor<?x?xf32>
// CHECK-NEXT: %15 = tensor.multiply %11, %4 : tensor<?x?xf32>
// CHECK-NEXT: %16 = tensor.multiply %14, %4 : tensor<?x?xf32>
// CHECK-NEXT: return %10, %16, %15, %13
// CHECK-NEXT: }
