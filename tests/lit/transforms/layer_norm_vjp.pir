// vjp of a layer norm written with core ops, as MLX exports it:
// (x - mean) / sqrt(var + eps) * w + b over the last axis. The broadcasts'
// cotangents are summed back with reduce_sum over the stretched axes.
// RUN: psionic opt %s --pass vjp
// BLESS
// CHECK: func @main(%0: tensor<4x8xf32>, %1: tensor<8xf32>, %2: tensor<8xf32>, %3: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) {
// CHECK-NEXT: %4 = tensor.reduce_sum %0 {axes = [1], keepdims = true} : tensor<4x1xf32>
// CHECK-NEXT: %5 = tensor.full {dtype = f32, shape = [4, 1], value = 0.125} : tensor<4x1xf32>
// CHECK-NEXT: %6 = tensor.multiply %4, %5 : tensor<4x1xf32>
// CHECK-NEXT: %7 = tensor.broadcast %6 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %8 = tensor.subtract %0, %7 : tensor<4x8xf32>
// CHECK-NEXT: %9 = tensor.square %8 : tensor<4x8xf32>
// CHECK-NEXT: %10 = tensor.reduce_sum %9 {axes = [1], keepdims = true} : tensor<4x1xf32>
// CHECK-NEXT: %11 = tensor.multiply %10, %5 : tensor<4x1xf32>
// CHECK-NEXT: %12 = tensor.full {dtype = f32, shape = [4, 1], value = 1e-5} : tensor<4x1xf32>
// CHECK-NEXT: %13 = tensor.add %11, %12 : tensor<4x1xf32>
// CHECK-NEXT: %14 = tensor.sqrt %13 : tensor<4x1xf32>
// CHECK-NEXT: %15 = tensor.broadcast %14 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %16 = tensor.divide %8, %15 : tensor<4x8xf32>
// CHECK-NEXT: %17 = tensor.broadcast %1 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %18 = tensor.multiply %16, %17 : tensor<4x8xf32>
// CHECK-NEXT: %19 = tensor.broadcast %2 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %20 = tensor.add %18, %19 : tensor<4x8xf32>
// CHECK-NEXT: %21 = tensor.reduce_sum %3 {axes = [0]} : tensor<8xf32>
// CHECK-NEXT: %22 = tensor.multiply %3, %17 : tensor<4x8xf32>
// CHECK-NEXT: %23 = tensor.multiply %3, %16 : tensor<4x8xf32>
// CHECK-NEXT: %24 = tensor.reduce_sum %23 {axes = [0]} : tensor<8xf32>
// CHECK-NEXT: %25 = tensor.reciprocal %15 : tensor<4x8xf32>
// CHECK-NEXT: %26 = tensor.multiply %16, %25 : tensor<4x8xf32>
// CHECK-NEXT: %27 = tensor.negative %26 : tensor<4x8xf32>
// CHECK-NEXT: %28 = tensor.multiply %22, %25 : tensor<4x8xf32>
// CHECK-NEXT: %29 = tensor.multiply %22, %27 : tensor<4x8xf32>
// CHECK-NEXT: %30 = tensor.reduce_sum %29 {axes = [1], keepdims = true} : tensor<4x1xf32>
// CHECK-NEXT: %31 = tensor.full {dtype = f32, shape = [4, 1], value = 2.0} : tensor<4x1xf32>
// CHECK-NEXT: %32 = tensor.multiply %14, %31 : tensor<4x1xf32>
// CHECK-NEXT: %33 = tensor.reciprocal %32 : tensor<4x1xf32>
// CHECK-NEXT: %34 = tensor.multiply %30, %33 : tensor<4x1xf32>
// CHECK-NEXT: %35 = tensor.multiply %34, %5 : tensor<4x1xf32>
// CHECK-NEXT: %36 = tensor.broadcast %35 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %37 = tensor.full {dtype = f32, shape = [4, 8], value = 2.0} : tensor<4x8xf32>
// CHECK-NEXT: %38 = tensor.multiply %8, %37 : tensor<4x8xf32>
// CHECK-NEXT: %39 = tensor.multiply %36, %38 : tensor<4x8xf32>
// CHECK-NEXT: %40 = tensor.add %28, %39 : tensor<4x8xf32>
// CHECK-NEXT: %41 = tensor.negative %40 : tensor<4x8xf32>
// CHECK-NEXT: %42 = tensor.reduce_sum %41 {axes = [1], keepdims = true} : tensor<4x1xf32>
// CHECK-NEXT: %43 = tensor.multiply %42, %5 : tensor<4x1xf32>
// CHECK-NEXT: %44 = tensor.broadcast %43 {shape = [4, 8]} : tensor<4x8xf32>
// CHECK-NEXT: %45 = tensor.add %40, %44 : tensor<4x8xf32>
// CHECK-NEXT: return %20, %45, %24, %21
// CHECK-NEXT: }
