// A shapeless function (symbolic dims, MLX's shapeless export) transforms
// at any shape: the broadcast_like shape donors get no cotangent, the
// cotangent of the broadcast scalar is summed with shape-polymorphic ops,
// and constants take their shape from broadcast_like.
// RUN: psionic opt %s --pass vjp
// BLESS
// CHECK: func @main(%0: tensor<?x4xf32>, %1: tensor<?x4xf32>, %2: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
// CHECK-NEXT: %3 = tensor.exp %0 : tensor<?x4xf32>
// CHECK-NEXT: %4 = tensor.multiply %3, %1 : tensor<?x4xf32>
// CHECK-NEXT: %5 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
// CHECK-NEXT: %6 = tensor.broadcast_like %5, %4 : tensor<?x4xf32>
// CHECK-NEXT: %7 = tensor.add %4, %6 : tensor<?x4xf32>
// CHECK-NEXT: %8 = tensor.reduce_sum %7 {axes = [1], keepdims = true} : tensor<?x1xf32>
// CHECK-NEXT: %9 = tensor.broadcast_like %8, %0 : tensor<?x4xf32>
// CHECK-NEXT: %10 = tensor.divide %7, %9 : tensor<?x4xf32>
// CHECK-NEXT: %11 = tensor.reciprocal %9 : tensor<?x4xf32>
// CHECK-NEXT: %12 = tensor.multiply %10, %11 : tensor<?x4xf32>
// CHECK-NEXT: %13 = tensor.negative %12 : tensor<?x4xf32>
// CHECK-NEXT: %14 = tensor.multiply %2, %11 : tensor<?x4xf32>
// CHECK-NEXT: %15 = tensor.multiply %2, %13 : tensor<?x4xf32>
// CHECK-NEXT: %16 = tensor.reduce_sum %15 {axes = [1], keepdims = true} : tensor<?x1xf32>
// CHECK-NEXT: %17 = tensor.broadcast_like %16, %7 : tensor<?x4xf32>
// CHECK-NEXT: %18 = tensor.add %14, %17 : tensor<?x4xf32>
// CHECK-NEXT: %19 = tensor.multiply %18, %1 : tensor<?x4xf32>
// CHECK-NEXT: %20 = tensor.multiply %18, %3 : tensor<?x4xf32>
// CHECK-NEXT: %21 = tensor.multiply %19, %3 : tensor<?x4xf32>
// CHECK-NEXT: return %10, %21, %20
// CHECK-NEXT: }
