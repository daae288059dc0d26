// vjp of a layer norm written with core ops, as MLX exports it:
// (x - mean) / sqrt(var + eps) * w + b over the last axis. The broadcasts'
// cotangents are summed back with reduce_sum over the stretched axes.
// RUN: psionic opt %s --pass vjp
func @main(%x: tensor<3x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<3x4xf32>) {
  %s = tensor.reduce_sum %x {axes = [1], keepdims = true} : tensor<3x1xf32>
  %n = tensor.full {dtype = f32, shape = [3, 1], value = 0.25} : tensor<3x1xf32>
  %mean = tensor.multiply %s, %n : tensor<3x1xf32>
  %mb = tensor.broadcast %mean {shape = [3, 4]} : tensor<3x4xf32>
  %c = tensor.subtract %x, %mb : tensor<3x4xf32>
  %sq = tensor.square %c : tensor<3x4xf32>
  %vs = tensor.reduce_sum %sq {axes = [1], keepdims = true} : tensor<3x1xf32>
  %var = tensor.multiply %vs, %n : tensor<3x1xf32>
  %eps = tensor.full {dtype = f32, shape = [3, 1], value = 1.0e-5} : tensor<3x1xf32>
  %ve = tensor.add %var, %eps : tensor<3x1xf32>
  %sd = tensor.sqrt %ve : tensor<3x1xf32>
  %sdb = tensor.broadcast %sd {shape = [3, 4]} : tensor<3x4xf32>
  %xn = tensor.divide %c, %sdb : tensor<3x4xf32>
  %wb = tensor.broadcast %w {shape = [3, 4]} : tensor<3x4xf32>
  %bb = tensor.broadcast %b {shape = [3, 4]} : tensor<3x4xf32>
  %y = tensor.multiply %xn, %wb : tensor<3x4xf32>
  %z = tensor.add %y, %bb : tensor<3x4xf32>
  return %z
}
// BLESS
// CHECK: func @main(%0: tensor<3x4xf32>, %1: tensor<4xf32>, %2: tensor<4xf32>, %3: tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>, tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT: %4 = tensor.reduce_sum %0 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %5 = tensor.full {dtype = f32, shape = [3, 1], value = 0.25} : tensor<3x1xf32>
// CHECK-NEXT: %6 = tensor.multiply %4, %5 : tensor<3x1xf32>
// CHECK-NEXT: %7 = tensor.broadcast %6 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %8 = tensor.subtract %0, %7 : tensor<3x4xf32>
// CHECK-NEXT: %9 = tensor.square %8 : tensor<3x4xf32>
// CHECK-NEXT: %10 = tensor.reduce_sum %9 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %11 = tensor.multiply %10, %5 : tensor<3x1xf32>
// CHECK-NEXT: %12 = tensor.full {dtype = f32, shape = [3, 1], value = 1e-5} : tensor<3x1xf32>
// CHECK-NEXT: %13 = tensor.add %11, %12 : tensor<3x1xf32>
// CHECK-NEXT: %14 = tensor.sqrt %13 : tensor<3x1xf32>
// CHECK-NEXT: %15 = tensor.broadcast %14 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %16 = tensor.divide %8, %15 : tensor<3x4xf32>
// CHECK-NEXT: %17 = tensor.broadcast %1 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %18 = tensor.broadcast %2 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %19 = tensor.multiply %16, %17 : tensor<3x4xf32>
// CHECK-NEXT: %20 = tensor.add %19, %18 : tensor<3x4xf32>
// CHECK-NEXT: %21 = tensor.multiply %3, %17 : tensor<3x4xf32>
// CHECK-NEXT: %22 = tensor.multiply %3, %16 : tensor<3x4xf32>
// CHECK-NEXT: %23 = tensor.reduce_sum %3 {axes = [0]} : tensor<4xf32>
// CHECK-NEXT: %24 = tensor.reduce_sum %22 {axes = [0]} : tensor<4xf32>
// CHECK-NEXT: %25 = tensor.reciprocal %15 : tensor<3x4xf32>
// CHECK-NEXT: %26 = tensor.multiply %16, %25 : tensor<3x4xf32>
// CHECK-NEXT: %27 = tensor.negative %26 : tensor<3x4xf32>
// CHECK-NEXT: %28 = tensor.multiply %21, %25 : tensor<3x4xf32>
// CHECK-NEXT: %29 = tensor.multiply %21, %27 : tensor<3x4xf32>
// CHECK-NEXT: %30 = tensor.reduce_sum %29 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %31 = tensor.full {dtype = f32, shape = [3, 1], value = 2.0} : tensor<3x1xf32>
// CHECK-NEXT: %32 = tensor.multiply %14, %31 : tensor<3x1xf32>
// CHECK-NEXT: %33 = tensor.reciprocal %32 : tensor<3x1xf32>
// CHECK-NEXT: %34 = tensor.multiply %30, %33 : tensor<3x1xf32>
// CHECK-NEXT: %35 = tensor.multiply %34, %5 : tensor<3x1xf32>
// CHECK-NEXT: %36 = tensor.broadcast %35 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %37 = tensor.full {dtype = f32, shape = [3, 4], value = 2.0} : tensor<3x4xf32>
// CHECK-NEXT: %38 = tensor.multiply %8, %37 : tensor<3x4xf32>
// CHECK-NEXT: %39 = tensor.multiply %36, %38 : tensor<3x4xf32>
// CHECK-NEXT: %40 = tensor.add %28, %39 : tensor<3x4xf32>
// CHECK-NEXT: %41 = tensor.negative %40 : tensor<3x4xf32>
// CHECK-NEXT: %42 = tensor.reduce_sum %41 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %43 = tensor.multiply %42, %5 : tensor<3x1xf32>
// CHECK-NEXT: %44 = tensor.broadcast %43 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %45 = tensor.add %40, %44 : tensor<3x4xf32>
// CHECK-NEXT: return %20, %45, %24, %23
// CHECK-NEXT: }
