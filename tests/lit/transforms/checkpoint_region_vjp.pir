// vjp of a function with a checkpointed region (two pass-through
// tensor.depends markers, as psionic_mlx's Checkpoint::call emits them):
// the region (sin, exp, multiply) runs once in the forward part; the
// backward part copies the region's inputs and recomputes sin and exp from
// the copies, so its rules read the recomputed values, not the forward
// activations (%7, %8 are used only to produce the region output %9).
// RUN: psionic opt %s --pass vjp
func @main(%x: tensor<4xf32>, %w: tensor<4xf32>) -> (tensor<f32>) {
  %a = tensor.multiply %x, %w : tensor<4xf32>
  %in = tensor.depends %a {num_outputs = 1} : tensor<4xf32>
  %s = tensor.sin %in : tensor<4xf32>
  %e = tensor.exp %s : tensor<4xf32>
  %m = tensor.multiply %e, %s : tensor<4xf32>
  %out = tensor.depends %m, %in {num_outputs = 1} : tensor<4xf32>
  %r = tensor.reduce_sum %out {axes = [0]} : tensor<f32>
  return %r
}
// BLESS
// CHECK: func @main(%0: tensor<4xf32>, %1: tensor<4xf32>, %2: tensor<f32>) -> (tensor<f32>, tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT: %3 = tensor.multiply %0, %1 : tensor<4xf32>
// CHECK-NEXT: %4 = tensor.depends %3 {num_outputs = 1} : tensor<4xf32>
// CHECK-NEXT: %5 = tensor.sin %4 : tensor<4xf32>
// CHECK-NEXT: %6 = tensor.exp %5 : tensor<4xf32>
// CHECK-NEXT: %7 = tensor.multiply %6, %5 : tensor<4xf32>
// CHECK-NEXT: %8 = tensor.depends %7, %4 {num_outputs = 1} : tensor<4xf32>
// CHECK-NEXT: %9 = tensor.reduce_sum %8 {axes = [0]} : tensor<f32>
// CHECK-NEXT: %10 = tensor.expand_dims %2 {axes = [0]} : tensor<1xf32>
// CHECK-NEXT: %11 = tensor.broadcast %10 {shape = [4]} : tensor<4xf32>
// CHECK-NEXT: %12 = tensor.copy %4 : tensor<4xf32>
// CHECK-NEXT: %13 = tensor.sin %12 : tensor<4xf32>
// CHECK-NEXT: %14 = tensor.exp %13 : tensor<4xf32>
// CHECK-NEXT: %15 = tensor.multiply %11, %13 : tensor<4xf32>
// CHECK-NEXT: %16 = tensor.multiply %11, %14 : tensor<4xf32>
// CHECK-NEXT: %17 = tensor.multiply %15, %14 : tensor<4xf32>
// CHECK-NEXT: %18 = tensor.add %16, %17 : tensor<4xf32>
// CHECK-NEXT: %19 = tensor.cos %12 : tensor<4xf32>
// CHECK-NEXT: %20 = tensor.multiply %18, %19 : tensor<4xf32>
// CHECK-NEXT: %21 = tensor.multiply %20, %1 : tensor<4xf32>
// CHECK-NEXT: %22 = tensor.multiply %20, %0 : tensor<4xf32>
// CHECK-NEXT: return %9, %21, %22
// CHECK-NEXT: }
