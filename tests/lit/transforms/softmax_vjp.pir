// vjp of softmax, as the fused op and from core ops (max, subtract, exp,
// sum, divide as MLX exports it): the result takes (x, cotangent) and
// returns (y, dx). The fused op's rule is y * (ct - sum(ct * y)); the core
// version (the max under stop_gradient, as MLX traces it) gets no cotangent
// for the max, and no zero tensors appear.
// RUN: psionic opt %s --pass vjp
func @fused(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>) {
  %y = tensor.softmax %x {axes = [1]} : tensor<2x4xf32>
  return %y
}
func @core(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>) {
  %m = tensor.reduce_max %x {axes = [1], keepdims = true} : tensor<2x1xf32>
  %ms = tensor.stop_gradient %m : tensor<2x1xf32>
  %mb = tensor.broadcast %ms {shape = [2, 4]} : tensor<2x4xf32>
  %d = tensor.subtract %x, %mb : tensor<2x4xf32>
  %e = tensor.exp %d : tensor<2x4xf32>
  %s = tensor.reduce_sum %e {axes = [1], keepdims = true} : tensor<2x1xf32>
  %sb = tensor.broadcast %s {shape = [2, 4]} : tensor<2x4xf32>
  %y = tensor.divide %e, %sb : tensor<2x4xf32>
  return %y
}
// BLESS
// CHECK: func @fused(%0: tensor<2x4xf32>, %1: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
// CHECK-NEXT: %2 = tensor.softmax %0 {axes = [1]} : tensor<2x4xf32>
// CHECK-NEXT: %3 = tensor.multiply %1, %2 : tensor<2x4xf32>
// CHECK-NEXT: %4 = tensor.reduce_sum %3 {axes = [1], keepdims = true} : tensor<2x1xf32>
// CHECK-NEXT: %5 = tensor.broadcast %4 {shape = [2, 4]} : tensor<2x4xf32>
// CHECK-NEXT: %6 = tensor.subtract %1, %5 : tensor<2x4xf32>
// CHECK-NEXT: %7 = tensor.multiply %2, %6 : tensor<2x4xf32>
// CHECK-NEXT: return %2, %7
// CHECK-NEXT: }
// CHECK-EMPTY:
// CHECK-NEXT: func @core(%0: tensor<2x4xf32>, %1: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
// CHECK-NEXT: %2 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<2x1xf32>
// CHECK-NEXT: %3 = tensor.stop_gradient %2 : tensor<2x1xf32>
// CHECK-NEXT: %4 = tensor.broadcast %3 {shape = [2, 4]} : tensor<2x4xf32>
// CHECK-NEXT: %5 = tensor.subtract %0, %4 : tensor<2x4xf32>
// CHECK-NEXT: %6 = tensor.exp %5 : tensor<2x4xf32>
// CHECK-NEXT: %7 = tensor.reduce_sum %6 {axes = [1], keepdims = true} : tensor<2x1xf32>
// CHECK-NEXT: %8 = tensor.broadcast %7 {shape = [2, 4]} : tensor<2x4xf32>
// CHECK-NEXT: %9 = tensor.divide %6, %8 : tensor<2x4xf32>
// CHECK-NEXT: %10 = tensor.reciprocal %8 : tensor<2x4xf32>
// CHECK-NEXT: %11 = tensor.multiply %9, %10 : tensor<2x4xf32>
// CHECK-NEXT: %12 = tensor.negative %11 : tensor<2x4xf32>
// CHECK-NEXT: %13 = tensor.multiply %1, %10 : tensor<2x4xf32>
// CHECK-NEXT: %14 = tensor.multiply %1, %12 : tensor<2x4xf32>
// CHECK-NEXT: %15 = tensor.reduce_sum %14 {axes = [1], keepdims = true} : tensor<2x1xf32>
// CHECK-NEXT: %16 = tensor.broadcast %15 {shape = [2, 4]} : tensor<2x4xf32>
// CHECK-NEXT: %17 = tensor.add %13, %16 : tensor<2x4xf32>
// CHECK-NEXT: %18 = tensor.multiply %17, %6 : tensor<2x4xf32>
// CHECK-NEXT: return %9, %18
// CHECK-NEXT: }
