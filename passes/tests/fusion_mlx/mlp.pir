// Imported from mlp.mlxfn (written by MLX 0.32.4, gen.py).
module attributes {metadata = "", mlx_version = "0.32.4", shapeless = false} {
  func @main(%0: tensor<4x8xf32>, %1: tensor<8x16xf32>, %2: tensor<16xf32>, %3: tensor<16x3xf32>, %4: tensor<3xf32>) -> (tensor<4x3xf32>) {
    %5 = tensor.matmul %0, %1 : tensor<4x16xf32>
    %6 = tensor.broadcast %2 {shape = [4, 16]} : tensor<4x16xf32>
    %7 = tensor.add %5, %6 : tensor<4x16xf32>
    %8 = tensor.constant {value = dense<0.0> : tensor<f32>} : tensor<f32>
    %9 = tensor.broadcast %8 {shape = [4, 16]} : tensor<4x16xf32>
    %10 = tensor.maximum %7, %9 : tensor<4x16xf32>
    %11 = tensor.matmul %10, %3 : tensor<4x3xf32>
    %12 = tensor.broadcast %4 {shape = [4, 3]} : tensor<4x3xf32>
    %13 = tensor.add %11, %12 : tensor<4x3xf32>
    return %13
  }
}
