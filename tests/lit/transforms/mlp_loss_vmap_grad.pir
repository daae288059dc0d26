// Per-example gradients: vmap(grad) of an MLP loss mean((relu(x w1 + b1) w2 + b2 - y)^2) with respect to
// the four weights: relu's maximum routes the cotangent by a mask; the
// function returns one gradient per weight, per example (x and y batched).
// RUN: psionic opt %s --pass "grad{argnums=1:2:3:4}" --pass "vmap{in_axes=0:none:none:none:none:0,out_axes=0:0:0:0,size=7}"
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
// CHECK: func @main(%0: tensor<7x4x3xf32>, %1: tensor<3x5xf32>, %2: tensor<5xf32>, %3: tensor<5x2xf32>, %4: tensor<2xf32>, %5: tensor<7x4x2xf32>) -> (tensor<7x3x5xf32>, tensor<7x5xf32>, tensor<7x5x2xf32>, tensor<7x2xf32>) {
// CHECK-NEXT: %6 = tensor.full {dtype = f32, shape = [], value = 1.0} : tensor<f32>
// CHECK-NEXT: %7 = tensor.expand_dims %1 {axes = [0]} : tensor<1x3x5xf32>
// CHECK-NEXT: %8 = tensor.broadcast %7 {shape = [7, 3, 5]} : tensor<7x3x5xf32>
// CHECK-NEXT: %9 = tensor.matmul %0, %8 : tensor<7x4x5xf32>
// CHECK-NEXT: %10 = tensor.broadcast %2 {shape = [4, 5]} : tensor<4x5xf32>
// CHECK-NEXT: %11 = tensor.expand_dims %10 {axes = [0]} : tensor<1x4x5xf32>
// CHECK-NEXT: %12 = tensor.broadcast %11 {shape = [7, 4, 5]} : tensor<7x4x5xf32>
// CHECK-NEXT: %13 = tensor.add %9, %12 : tensor<7x4x5xf32>
// CHECK-NEXT: %14 = tensor.full {dtype = f32, shape = [4, 5], value = 0.0} : tensor<4x5xf32>
// CHECK-NEXT: %15 = tensor.expand_dims %14 {axes = [0]} : tensor<1x4x5xf32>
// CHECK-NEXT: %16 = tensor.broadcast %15 {shape = [7, 4, 5]} : tensor<7x4x5xf32>
// CHECK-NEXT: %17 = tensor.maximum %13, %16 : tensor<7x4x5xf32>
// CHECK-NEXT: %18 = tensor.expand_dims %3 {axes = [0]} : tensor<1x5x2xf32>
// CHECK-NEXT: %19 = tensor.broadcast %18 {shape = [7, 5, 2]} : tensor<7x5x2xf32>
// CHECK-NEXT: %20 = tensor.matmul %17, %19 : tensor<7x4x2xf32>
// CHECK-NEXT: %21 = tensor.broadcast %4 {shape = [4, 2]} : tensor<4x2xf32>
// CHECK-NEXT: %22 = tensor.expand_dims %21 {axes = [0]} : tensor<1x4x2xf32>
// CHECK-NEXT: %23 = tensor.broadcast %22 {shape = [7, 4, 2]} : tensor<7x4x2xf32>
// CHECK-NEXT: %24 = tensor.add %20, %23 : tensor<7x4x2xf32>
// CHECK-NEXT: %25 = tensor.subtract %24, %5 : tensor<7x4x2xf32>
// CHECK-NEXT: %26 = tensor.full {dtype = f32, shape = [], value = 0.125} : tensor<f32>
// CHECK-NEXT: %27 = tensor.multiply %6, %26 : tensor<f32>
// CHECK-NEXT: %28 = tensor.expand_dims %27 {axes = [0, 1]} : tensor<1x1xf32>
// CHECK-NEXT: %29 = tensor.broadcast %28 {shape = [4, 2]} : tensor<4x2xf32>
// CHECK-NEXT: %30 = tensor.full {dtype = f32, shape = [4, 2], value = 2.0} : tensor<4x2xf32>
// CHECK-NEXT: %31 = tensor.expand_dims %30 {axes = [0]} : tensor<1x4x2xf32>
// CHECK-NEXT: %32 = tensor.broadcast %31 {shape = [7, 4, 2]} : tensor<7x4x2xf32>
// CHECK-NEXT: %33 = tensor.multiply %25, %32 : tensor<7x4x2xf32>
// CHECK-NEXT: %34 = tensor.expand_dims %29 {axes = [0]} : tensor<1x4x2xf32>
// CHECK-NEXT: %35 = tensor.broadcast %34 {shape = [7, 4, 2]} : tensor<7x4x2xf32>
// CHECK-NEXT: %36 = tensor.multiply %35, %33 : tensor<7x4x2xf32>
// CHECK-NEXT: %37 = tensor.reduce_sum %36 {axes = [1]} : tensor<7x2xf32>
// CHECK-NEXT: %38 = tensor.transpose %3 {perm = [1, 0]} : tensor<2x5xf32>
// CHECK-NEXT: %39 = tensor.expand_dims %38 {axes = [0]} : tensor<1x2x5xf32>
// CHECK-NEXT: %40 = tensor.broadcast %39 {shape = [7, 2, 5]} : tensor<7x2x5xf32>
// CHECK-NEXT: %41 = tensor.matmul %36, %40 : tensor<7x4x5xf32>
// CHECK-NEXT: %42 = tensor.transpose %17 {perm = [0, 2, 1]} : tensor<7x5x4xf32>
// CHECK-NEXT: %43 = tensor.matmul %42, %36 : tensor<7x5x2xf32>
// CHECK-NEXT: %44 = tensor.expand_dims %14 {axes = [0]} : tensor<1x4x5xf32>
// CHECK-NEXT: %45 = tensor.broadcast %44 {shape = [7, 4, 5]} : tensor<7x4x5xf32>
// CHECK-NEXT: %46 = tensor.greater %13, %45 : tensor<7x4x5xbool>
// CHECK-NEXT: %47 = tensor.cast %46 {dtype = f32} : tensor<7x4x5xf32>
// CHECK-NEXT: %48 = tensor.multiply %41, %47 : tensor<7x4x5xf32>
// CHECK-NEXT: %49 = tensor.reduce_sum %48 {axes = [1]} : tensor<7x5xf32>
// CHECK-NEXT: %50 = tensor.transpose %0 {perm = [0, 2, 1]} : tensor<7x3x4xf32>
// CHECK-NEXT: %51 = tensor.matmul %50, %48 : tensor<7x3x5xf32>
// CHECK-NEXT: return %51, %49, %43, %37
// CHECK-NEXT: }
