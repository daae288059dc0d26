// Imported from attention.mlxfn (written by MLX 0.32.4, gen.py).
module attributes {metadata = "", mlx_version = "0.32.4", shapeless = false} {
  func @main(%0: tensor<2x6x4xf32>, %1: tensor<2x6x4xf32>, %2: tensor<2x6x4xf32>) -> (tensor<2x6x4xf32>) {
    %3 = tensor.transpose %1 {perm = [0, 2, 1]} : tensor<2x4x6xf32>
    %4 = tensor.matmul %0, %3 : tensor<2x6x6xf32>
    %5 = tensor.constant {value = dense<0.5> : tensor<f32>} : tensor<f32>
    %6 = tensor.broadcast %5 {shape = [2, 6, 6]} : tensor<2x6x6xf32>
    %7 = tensor.multiply %4, %6 : tensor<2x6x6xf32>
    %8 = tensor.softmax %7 {axes = [2]} : tensor<2x6x6xf32>
    %9 = tensor.matmul %8, %2 : tensor<2x6x4xf32>
    return %9
  }
}
