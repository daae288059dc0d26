// grad of an MLP loss mean((relu(x w1 + b1) w2 + b2 - y)^2) with respect to
// the four weights: relu's maximum routes the cotangent by a mask; the
// function returns one gradient per weight.
// RUN: psionic opt %s --pass "grad{argnums=1:2:3:4}"
func @main(%x: tensor<4x3xf32>, %w1: tensor<3x5xf32>, %b1: tensor<5xf32>, %w2: tensor<5x2xf32>, %b2: tensor<2xf32>, %y: tensor<4x2xf32>) -> (tensor<f32>) {
  %h0 = tensor.matmul %x, %w1 : tensor<4x5xf32>
  %b1b = tensor.broadcast %b1 {shape = [4, 5]} : tensor<4x5xf32>
  %h1 = tensor.add %h0, %b1b : tensor<4x5xf32>
  %z = tensor.full {dtype = f32, shape = [4, 5], value = 0.0} : tensor<4x5xf32>
  %h = tensor.maximum %h1, %z : tensor<4x5xf32>
  %o0 = tensor.matmul %h, %w2 : tensor<4x2xf32>
  %b2b = tensor.broadcast %b2 {shape = [4, 2]} : tensor<4x2xf32>
  %o = tensor.add %o0, %b2b : tensor<4x2xf32>
  %d = tensor.subtract %o, %y : tensor<4x2xf32>
  %sq = tensor.square %d : tensor<4x2xf32>
  %s = tensor.reduce_sum %sq {axes = [0, 1]} : tensor<f32>
  %n = tensor.full {dtype = f32, shape = [], value = 0.125} : tensor<f32>
  %l = tensor.multiply %s, %n : tensor<f32>
  return %l
}
// BLESS
// CHECK: func @main(%0: tensor<4x3xf32>, %1: tensor<3x5xf32>, %2: tensor<5xf32>, %3: tensor<5x2xf32>, %4: tensor<2xf32>, %5: tensor<4x2xf32>) -> (tensor<3x5xf32>, tensor<5xf32>, tensor<5x2xf32>, tensor<2xf32>) {
// CHECK-NEXT: %6 = tensor.full {dtype = f32, shape = [], value = 1.0} : tensor<f32>
// CHECK-NEXT: %7 = tensor.matmul %0, %1 : tensor<4x5xf32>
// CHECK-NEXT: %8 = tensor.broadcast %2 {shape = [4, 5]} : tensor<4x5xf32>
// CHECK-NEXT: %9 = tensor.add %7, %8 : tensor<4x5xf32>
// CHECK-NEXT: %10 = tensor.full {dtype = f32, shape = [4, 5], value = 0.0} : tensor<4x5xf32>
// CHECK-NEXT: %11 = tensor.maximum %9, %10 : tensor<4x5xf32>
// CHECK-NEXT: %12 = tensor.matmul %11, %3 : tensor<4x2xf32>
// CHECK-NEXT: %13 = tensor.broadcast %4 {shape = [4, 2]} : tensor<4x2xf32>
// CHECK-NEXT: %14 = tensor.add %12, %13 : tensor<4x2xf32>
// CHECK-NEXT: %15 = tensor.subtract %14, %5 : tensor<4x2xf32>
// CHECK-NEXT: %16 = tensor.full {dtype = f32, shape = [], value = 0.125} : tensor<f32>
// CHECK-NEXT: %17 = tensor.multiply %6, %16 : tensor<f32>
// CHECK-NEXT: %18 = tensor.expand_dims %17 {axes = [0, 1]} : tensor<1x1xf32>
// CHECK-NEXT: %19 = tensor.broadcast %18 {shape = [4, 2]} : tensor<4x2xf32>
// CHECK-NEXT: %20 = tensor.full {dtype = f32, shape = [4, 2], value = 2.0} : tensor<4x2xf32>
// CHECK-NEXT: %21 = tensor.multiply %15, %20 : tensor<4x2xf32>
// CHECK-NEXT: %22 = tensor.multiply %19, %21 : tensor<4x2xf32>
// CHECK-NEXT: %23 = tensor.reduce_sum %22 {axes = [0]} : tensor<2xf32>
// CHECK-NEXT: %24 = tensor.transpose %3 {perm = [1, 0]} : tensor<2x5xf32>
// CHECK-NEXT: %25 = tensor.matmul %22, %24 : tensor<4x5xf32>
// CHECK-NEXT: %26 = tensor.transpose %11 {perm = [1, 0]} : tensor<5x4xf32>
// CHECK-NEXT: %27 = tensor.matmul %26, %22 : tensor<5x2xf32>
// CHECK-NEXT: %28 = tensor.greater %9, %10 : tensor<4x5xbool>
// CHECK-NEXT: %29 = tensor.cast %28 {dtype = f32} : tensor<4x5xf32>
// CHECK-NEXT: %30 = tensor.multiply %25, %29 : tensor<4x5xf32>
// CHECK-NEXT: %31 = tensor.reduce_sum %30 {axes = [0]} : tensor<5xf32>
// CHECK-NEXT: %32 = tensor.transpose %0 {perm = [1, 0]} : tensor<3x4xf32>
// CHECK-NEXT: %33 = tensor.matmul %32, %30 : tensor<3x5xf32>
// CHECK-NEXT: return %33, %31, %27, %23
// CHECK-NEXT: }
