// Imported from layer_norm.mlxfn (written by MLX 0.32.4, gen.py).
module attributes {metadata = "", mlx_version = "0.32.4", shapeless = false} {
  func @main(%0: tensor<8x32xf32>, %1: tensor<32xf32>, %2: tensor<32xf32>) -> (tensor<8x32xf32>) {
    %3 = tensor.reduce_sum %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
    %4 = tensor.constant {value = dense<0.03125> : tensor<f32>} : tensor<f32>
    %5 = tensor.broadcast %4 {shape = [8, 1]} : tensor<8x1xf32>
    %6 = tensor.multiply %3, %5 : tensor<8x1xf32>
    %7 = tensor.broadcast %6 {shape = [8, 32]} : tensor<8x32xf32>
    %8 = tensor.subtract %0, %7 : tensor<8x32xf32>
    %9 = tensor.multiply %8, %8 : tensor<8x32xf32>
    %10 = tensor.reduce_sum %9 {axes = [1], keepdims = true} : tensor<8x1xf32>
    %11 = tensor.multiply %10, %5 : tensor<8x1xf32>
    %12 = tensor.constant {value = dense<1e-5> : tensor<f32>} : tensor<f32>
    %13 = tensor.broadcast %12 {shape = [8, 1]} : tensor<8x1xf32>
    %14 = tensor.add %11, %13 : tensor<8x1xf32>
    %15 = tensor.rsqrt %14 : tensor<8x1xf32>
    %16 = tensor.broadcast %15 {shape = [8, 32]} : tensor<8x32xf32>
    %17 = tensor.multiply %8, %16 : tensor<8x32xf32>
    %18 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
    %19 = tensor.multiply %17, %18 : tensor<8x32xf32>
    %20 = tensor.broadcast %2 {shape = [8, 32]} : tensor<8x32xf32>
    %21 = tensor.add %19, %20 : tensor<8x32xf32>
    return %21
  }
}
