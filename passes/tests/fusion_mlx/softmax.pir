// Imported from softmax.mlxfn (written by MLX 0.32.4, gen.py).
module attributes {metadata = "", mlx_version = "0.32.4", shapeless = false} {
  func @main(%0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
    %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
    %2 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
    %3 = tensor.subtract %0, %2 : tensor<8x32xf32>
    %4 = tensor.exp %3 : tensor<8x32xf32>
    %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<8x1xf32>
    %6 = tensor.broadcast %5 {shape = [8, 32]} : tensor<8x32xf32>
    %7 = tensor.divide %4, %6 : tensor<8x32xf32>
    return %7
  }
}
