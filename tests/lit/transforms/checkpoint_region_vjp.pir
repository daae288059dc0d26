// vjp of a function with a checkpointed region (two pass-through
// tensor.depends markers, as psionic_mlx's Checkpoint::call emits them):
// the region (sin, exp, multiply) runs once in the forward part; the
// backward part copies the region's inputs and recomputes sin and exp from
// the copies, so its rules read the recomputed values, not the forward
// activations (%7, %8 are used only to produce the region output %9).
// RUN: psionic opt %s --pass vjp
func @main(%x: tensor<4xf32>, %w: tensor<4xf32>) -> (tensor<f32>) {
  %a = tensor.multiply %x, %w : tensor<4xf32>
  %in = tensor.depends %a {num_outputs = 1} : tensor<4xf32>
  %s = tensor.sin %in : tensor<4xf32>
  %e = tensor.exp %s : tensor<4xf32>
  %m = tensor.multiply %e, %s : tensor<4xf32>
  %out = tensor.depends %m, %in {num_outputs = 1} : tensor<4xf32>
  %r = tensor.reduce_sum %out {axes = [0]} : tensor<f32>
  return %r
}
// BLESS
