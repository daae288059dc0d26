// jvp of a layer norm written with core ops, as MLX exports it:
// (x - mean) / sqrt(var + eps) * w + b over the last axis. The broadcasts'
// tangent of x only (w and b held fixed): their broadcasts get no tangent code.
// RUN: psionic opt %s --pass "jvp{wrt=0}"
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
// CHECK: func @main(%0: tensor<3x4xf32>, %1: tensor<4xf32>, %2: tensor<4xf32>, %3: tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>) {
// CHECK-NEXT: %4 = tensor.reduce_sum %0 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %5 = tensor.reduce_sum %3 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %6 = tensor.full {dtype = f32, shape = [3, 1], value = 0.25} : tensor<3x1xf32>
// CHECK-NEXT: %7 = tensor.multiply %4, %6 : tensor<3x1xf32>
// CHECK-NEXT: %8 = tensor.multiply %5, %6 : tensor<3x1xf32>
// CHECK-NEXT: %9 = tensor.broadcast %7 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %10 = tensor.broadcast %8 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %11 = tensor.subtract %0, %9 : tensor<3x4xf32>
// CHECK-NEXT: %12 = tensor.negative %10 : tensor<3x4xf32>
// CHECK-NEXT: %13 = tensor.add %3, %12 : tensor<3x4xf32>
// CHECK-NEXT: %14 = tensor.square %11 : tensor<3x4xf32>
// CHECK-NEXT: %15 = tensor.full {dtype = f32, shape = [3, 4], value = 2.0} : tensor<3x4xf32>
// CHECK-NEXT: %16 = tensor.multiply %11, %15 : tensor<3x4xf32>
// CHECK-NEXT: %17 = tensor.multiply %13, %16 : tensor<3x4xf32>
// CHECK-NEXT: %18 = tensor.reduce_sum %14 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %19 = tensor.reduce_sum %17 {axes = [1], keepdims = true} : tensor<3x1xf32>
// CHECK-NEXT: %20 = tensor.multiply %18, %6 : tensor<3x1xf32>
// CHECK-NEXT: %21 = tensor.multiply %19, %6 : tensor<3x1xf32>
// CHECK-NEXT: %22 = tensor.full {dtype = f32, shape = [3, 1], value = 1e-5} : tensor<3x1xf32>
// CHECK-NEXT: %23 = tensor.add %20, %22 : tensor<3x1xf32>
// CHECK-NEXT: %24 = tensor.sqrt %23 : tensor<3x1xf32>
// CHECK-NEXT: %25 = tensor.full {dtype = f32, shape = [3, 1], value = 2.0} : tensor<3x1xf32>
// CHECK-NEXT: %26 = tensor.multiply %24, %25 : tensor<3x1xf32>
// CHECK-NEXT: %27 = tensor.reciprocal %26 : tensor<3x1xf32>
// CHECK-NEXT: %28 = tensor.multiply %21, %27 : tensor<3x1xf32>
// CHECK-NEXT: %29 = tensor.broadcast %24 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %30 = tensor.broadcast %28 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %31 = tensor.divide %11, %29 : tensor<3x4xf32>
// CHECK-NEXT: %32 = tensor.reciprocal %29 : tensor<3x4xf32>
// CHECK-NEXT: %33 = tensor.multiply %31, %32 : tensor<3x4xf32>
// CHECK-NEXT: %34 = tensor.negative %33 : tensor<3x4xf32>
// CHECK-NEXT: %35 = tensor.multiply %13, %32 : tensor<3x4xf32>
// CHECK-NEXT: %36 = tensor.multiply %30, %34 : tensor<3x4xf32>
// CHECK-NEXT: %37 = tensor.add %35, %36 : tensor<3x4xf32>
// CHECK-NEXT: %38 = tensor.broadcast %1 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %39 = tensor.broadcast %2 {shape = [3, 4]} : tensor<3x4xf32>
// CHECK-NEXT: %40 = tensor.multiply %31, %38 : tensor<3x4xf32>
// CHECK-NEXT: %41 = tensor.multiply %37, %38 : tensor<3x4xf32>
// CHECK-NEXT: %42 = tensor.add %40, %39 : tensor<3x4xf32>
// CHECK-NEXT: return %42, %41
// CHECK-NEXT: }
