// Imported from mlp_step.mlxfn (written by MLX 0.32.4, gen.py).
module attributes {metadata = "", mlx_version = "0.32.4", shapeless = false} {
  func @main(%0: tensor<4x8xf32>, %1: tensor<4x3xf32>, %2: tensor<8x3xf32>) -> (tensor<f32>, tensor<8x3xf32>) {
    %3 = tensor.matmul %0, %2 : tensor<4x3xf32>
    %4 = tensor.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
    %5 = tensor.broadcast %4 {shape = [4, 3]} : tensor<4x3xf32>
    %6 = tensor.maximum %3, %5 : tensor<4x3xf32>
    %7 = tensor.subtract %6, %1 : tensor<4x3xf32>
    %8 = tensor.constant {value = dense<2.0> : tensor<f32>} : tensor<f32>
    %9 = tensor.broadcast %8 {shape = [4, 3]} : tensor<4x3xf32>
    %10 = tensor.power %7, %9 : tensor<4x3xf32>
    %11 = tensor.reduce_sum %10 {axes = [0, 1], keepdims = true} : tensor<1x1xf32>
    %12 = tensor.squeeze %11 {axes = [0, 1]} : tensor<f32>
    %13 = tensor.transpose %0 {perm = [1, 0]} : tensor<8x4xf32>
    %14 = tensor.constant {value = dense<1.0> : tensor<f32>} : tensor<f32>
    %15 = tensor.expand_dims %14 {axes = [0, 1]} : tensor<1x1xf32>
    %16 = tensor.broadcast %15 {shape = [4, 3]} : tensor<4x3xf32>
    %17 = tensor.broadcast %14 {shape = [4, 3]} : tensor<4x3xf32>
    %18 = tensor.subtract %9, %17 : tensor<4x3xf32>
    %19 = tensor.power %7, %18 : tensor<4x3xf32>
    %20 = tensor.multiply %19, %9 : tensor<4x3xf32>
    %21 = tensor.multiply %16, %20 : tensor<4x3xf32>
    %22 = tensor.greater %3, %5 : tensor<4x3xbool>
    %23 = tensor.cast %22 {dtype = f32} : tensor<4x3xf32>
    %24 = tensor.multiply %21, %23 : tensor<4x3xf32>
    %25 = tensor.matmul %13, %24 : tensor<8x3xf32>
    %26 = tensor.constant {value = dense<0.1> : tensor<f32>} : tensor<f32>
    %27 = tensor.broadcast %26 {shape = [8, 3]} : tensor<8x3xf32>
    %28 = tensor.multiply %25, %27 : tensor<8x3xf32>
    %29 = tensor.subtract %2, %28 : tensor<8x3xf32>
    return %12, %29
  }
}
