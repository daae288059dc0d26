// vmap of single-head attention: softmax(q k^T / sqrt(8)) v with q, k, v
// projections of x, batched over x only: every matmul becomes one batched
// matmul (the weights broadcast along the batch), the softmax axis shifts.
// RUN: psionic opt %s --pass "vmap{in_axes=0:none:none:none,out_axes=0,size=3}"
func @main(%x: tensor<6x8xf32>, %wq: tensor<8x8xf32>, %wk: tensor<8x8xf32>, %wv: tensor<8x8xf32>) -> (tensor<6x8xf32>) {
  %q = tensor.matmul %x, %wq : tensor<6x8xf32>
  %k = tensor.matmul %x, %wk : tensor<6x8xf32>
  %v = tensor.matmul %x, %wv : tensor<6x8xf32>
  %kt = tensor.transpose %k {perm = [1, 0]} : tensor<8x6xf32>
  %s = tensor.matmul %q, %kt : tensor<6x6xf32>
  %c = tensor.full {dtype = f32, shape = [6, 6], value = 0.35355339} : tensor<6x6xf32>
  %ss = tensor.multiply %s, %c : tensor<6x6xf32>
  %p = tensor.softmax %ss {axes = [1]} : tensor<6x6xf32>
  %o = tensor.matmul %p, %v : tensor<6x8xf32>
  return %o
}
// BLESS
// CHECK: func @main(%0: tensor<3x6x8xf32>, %1: tensor<8x8xf32>, %2: tensor<8x8xf32>, %3: tensor<8x8xf32>) -> (tensor<3x6x8xf32>) {
// CHECK-NEXT: %4 = tensor.expand_dims %1 {axes = [0]} : tensor<1x8x8xf32>
// CHECK-NEXT: %5 = tensor.broadcast %4 {shape = [3, 8, 8]} : tensor<3x8x8xf32>
// CHECK-NEXT: %6 = tensor.matmul %0, %5 : tensor<3x6x8xf32>
// CHECK-NEXT: %7 = tensor.expand_dims %2 {axes = [0]} : tensor<1x8x8xf32>
// CHECK-NEXT: %8 = tensor.broadcast %7 {shape = [3, 8, 8]} : tensor<3x8x8xf32>
// CHECK-NEXT: %9 = tensor.matmul %0, %8 : tensor<3x6x8xf32>
// CHECK-NEXT: %10 = tensor.expand_dims %3 {axes = [0]} : tensor<1x8x8xf32>
// CHECK-NEXT: %11 = tensor.broadcast %10 {shape = [3, 8, 8]} : tensor<3x8x8xf32>
// CHECK-NEXT: %12 = tensor.matmul %0, %11 : tensor<3x6x8xf32>
// CHECK-NEXT: %13 = tensor.transpose %9 {perm = [0, 2, 1]} : tensor<3x8x6xf32>
// CHECK-NEXT: %14 = tensor.matmul %6, %13 : tensor<3x6x6xf32>
// CHECK-NEXT: %15 = tensor.full {dtype = f32, shape = [6, 6], value = 0.35355339} : tensor<6x6xf32>
// CHECK-NEXT: %16 = tensor.expand_dims %15 {axes = [0]} : tensor<1x6x6xf32>
// CHECK-NEXT: %17 = tensor.broadcast %16 {shape = [3, 6, 6]} : tensor<3x6x6xf32>
// CHECK-NEXT: %18 = tensor.multiply %14, %17 : tensor<3x6x6xf32>
// CHECK-NEXT: %19 = tensor.softmax %18 {axes = [2]} : tensor<3x6x6xf32>
// CHECK-NEXT: %20 = tensor.matmul %19, %12 : tensor<3x6x8xf32>
// CHECK-NEXT: return %20
// CHECK-NEXT: }
