// vjp of single-head attention: softmax(q k^T / sqrt(8)) v with q, k, v
// projections of x. Matmul cotangents are matmuls with transposed operands.
// RUN: psionic opt %s --pass vjp
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
// CHECK: func @main(%0: tensor<6x8xf32>, %1: tensor<8x8xf32>, %2: tensor<8x8xf32>, %3: tensor<8x8xf32>, %4: tensor<6x8xf32>) -> (tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) {
// CHECK-NEXT: %5 = tensor.matmul %0, %1 : tensor<6x8xf32>
// CHECK-NEXT: %6 = tensor.matmul %0, %2 : tensor<6x8xf32>
// CHECK-NEXT: %7 = tensor.matmul %0, %3 : tensor<6x8xf32>
// CHECK-NEXT: %8 = tensor.transpose %6 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %9 = tensor.matmul %5, %8 : tensor<6x6xf32>
// CHECK-NEXT: %10 = tensor.full {dtype = f32, shape = [6, 6], value = 0.35355339} : tensor<6x6xf32>
// CHECK-NEXT: %11 = tensor.multiply %9, %10 : tensor<6x6xf32>
// CHECK-NEXT: %12 = tensor.softmax %11 {axes = [1]} : tensor<6x6xf32>
// CHECK-NEXT: %13 = tensor.matmul %12, %7 : tensor<6x8xf32>
// CHECK-NEXT: %14 = tensor.transpose %7 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %15 = tensor.matmul %4, %14 : tensor<6x6xf32>
// CHECK-NEXT: %16 = tensor.transpose %12 {perm = [1, 0]} : tensor<6x6xf32>
// CHECK-NEXT: %17 = tensor.matmul %16, %4 : tensor<6x8xf32>
// CHECK-NEXT: %18 = tensor.multiply %15, %12 : tensor<6x6xf32>
// CHECK-NEXT: %19 = tensor.reduce_sum %18 {axes = [1], keepdims = true} : tensor<6x1xf32>
// CHECK-NEXT: %20 = tensor.broadcast %19 {shape = [6, 6]} : tensor<6x6xf32>
// CHECK-NEXT: %21 = tensor.subtract %15, %20 : tensor<6x6xf32>
// CHECK-NEXT: %22 = tensor.multiply %12, %21 : tensor<6x6xf32>
// CHECK-NEXT: %23 = tensor.multiply %22, %10 : tensor<6x6xf32>
// CHECK-NEXT: %24 = tensor.transpose %8 {perm = [1, 0]} : tensor<6x8xf32>
// CHECK-NEXT: %25 = tensor.matmul %23, %24 : tensor<6x8xf32>
// CHECK-NEXT: %26 = tensor.transpose %5 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %27 = tensor.matmul %26, %23 : tensor<8x6xf32>
// CHECK-NEXT: %28 = tensor.transpose %27 {perm = [1, 0]} : tensor<6x8xf32>
// CHECK-NEXT: %29 = tensor.transpose %3 {perm = [1, 0]} : tensor<8x8xf32>
// CHECK-NEXT: %30 = tensor.matmul %17, %29 : tensor<6x8xf32>
// CHECK-NEXT: %31 = tensor.transpose %0 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %32 = tensor.matmul %31, %17 : tensor<8x8xf32>
// CHECK-NEXT: %33 = tensor.transpose %2 {perm = [1, 0]} : tensor<8x8xf32>
// CHECK-NEXT: %34 = tensor.matmul %28, %33 : tensor<6x8xf32>
// CHECK-NEXT: %35 = tensor.transpose %0 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %36 = tensor.matmul %35, %28 : tensor<8x8xf32>
// CHECK-NEXT: %37 = tensor.add %30, %34 : tensor<6x8xf32>
// CHECK-NEXT: %38 = tensor.transpose %1 {perm = [1, 0]} : tensor<8x8xf32>
// CHECK-NEXT: %39 = tensor.matmul %25, %38 : tensor<6x8xf32>
// CHECK-NEXT: %40 = tensor.transpose %0 {perm = [1, 0]} : tensor<8x6xf32>
// CHECK-NEXT: %41 = tensor.matmul %40, %25 : tensor<8x8xf32>
// CHECK-NEXT: %42 = tensor.add %37, %39 : tensor<6x8xf32>
// CHECK-NEXT: return %13, %42, %41, %36, %32
// CHECK-NEXT: }
