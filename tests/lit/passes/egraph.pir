// The e-graph pass: one function per rule family, the golden output after
// `--pass egraph` (rules and their contract: docs/RULES.md). Refusals are
// golden too: exp(log(x)) stays, x / 3 stays (1/3 is inexact), x * 0 stays
// for floats (NaN * 0 is NaN) while it folds to 0 for integers.
// RUN: psionic opt %s --pass egraph | FileCheck %s
// RUN: psionic opt %s --pass egraph --stats 2>&1 | FileCheck %s --check-prefix=STATS
// STATS: // egraph
// STATS: //   stop: algebra+layout+fusion: saturated after
// STATS: //   stop: ac: saturated after

func @log_exp(%0: tensor<4xf32>) -> (tensor<4xf32>) {
  %1 = tensor.exp %0 : tensor<4xf32>
  %2 = tensor.log %1 : tensor<4xf32>
  return %2
}
// CHECK-LABEL: func @log_exp(
// CHECK-NEXT: return %0

func @exp_log_stays(%0: tensor<4xf32>) -> (tensor<4xf32>) {
  %1 = tensor.log %0 : tensor<4xf32>
  %2 = tensor.exp %1 : tensor<4xf32>
  return %2
}
// CHECK-LABEL: func @exp_log_stays(
// CHECK-NEXT: %1 = tensor.log %0 : tensor<4xf32>
// CHECK-NEXT: %2 = tensor.exp %1 : tensor<4xf32>
// CHECK-NEXT: return %2

func @div_pow2(%0: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %1 = tensor.full {dtype = f32, shape = [4], value = 4.0} : tensor<4xf32>
  %2 = tensor.divide %0, %1 : tensor<4xf32>
  %3 = tensor.full {dtype = f32, shape = [4], value = 3.0} : tensor<4xf32>
  %4 = tensor.divide %0, %3 : tensor<4xf32>
  return %2, %4
}
// CHECK-LABEL: func @div_pow2(
// CHECK-NEXT: %1 = tensor.full {dtype = f32, shape = [4], value = 0.25} : tensor<4xf32>
// CHECK-NEXT: %2 = tensor.multiply %0, %1 : tensor<4xf32>
// CHECK-NEXT: %3 = tensor.full {dtype = f32, shape = [4], value = 3.0} : tensor<4xf32>
// CHECK-NEXT: %4 = tensor.divide %0, %3 : tensor<4xf32>
// CHECK-NEXT: return %2, %4

func @mul_zero(%0: tensor<4xi32>, %1: tensor<4xf32>) -> (tensor<4xi32>, tensor<4xf32>) {
  %2 = tensor.full {dtype = i32, shape = [4], value = 0.0} : tensor<4xi32>
  %3 = tensor.multiply %0, %2 : tensor<4xi32>
  %4 = tensor.full {dtype = f32, shape = [4], value = 0.0} : tensor<4xf32>
  %5 = tensor.multiply %1, %4 : tensor<4xf32>
  return %3, %5
}
// CHECK-LABEL: func @mul_zero(
// CHECK-NEXT: %2 = tensor.full {dtype = i32, shape = [4], value = 0.0} : tensor<4xi32>
// CHECK-NEXT: %3 = tensor.full {dtype = f32, shape = [4], value = 0.0} : tensor<4xf32>
// CHECK-NEXT: %4 = tensor.multiply %1, %3 : tensor<4xf32>
// CHECK-NEXT: return %2, %4

func @exp_mul(%0: tensor<4xf32>, %1: tensor<4xf32>) -> (tensor<4xf32>) {
  %2 = tensor.exp %0 : tensor<4xf32>
  %3 = tensor.exp %1 : tensor<4xf32>
  %4 = tensor.multiply %2, %3 : tensor<4xf32>
  return %4
}
// CHECK-LABEL: func @exp_mul(
// CHECK-NEXT: %2 = tensor.add %0, %1 : tensor<4xf32>
// CHECK-NEXT: %3 = tensor.exp %2 : tensor<4xf32>
// CHECK-NEXT: return %3

func @transposes(%0: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>) {
  %1 = tensor.transpose %0 {perm = [2, 0, 1]} : tensor<4x2x3xf32>
  %2 = tensor.transpose %1 {perm = [1, 2, 0]} : tensor<2x3x4xf32>
  return %2
}
// CHECK-LABEL: func @transposes(
// CHECK-NEXT: return %0

func @softmax(%0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
  %1 = tensor.reduce_max %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %2 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
  %3 = tensor.subtract %0, %2 : tensor<8x32xf32>
  %4 = tensor.exp %3 : tensor<8x32xf32>
  %5 = tensor.reduce_sum %4 {axes = [1], keepdims = true} : tensor<8x1xf32>
  %6 = tensor.broadcast %5 {shape = [8, 32]} : tensor<8x32xf32>
  %7 = tensor.divide %4, %6 : tensor<8x32xf32>
  return %7
}
// CHECK-LABEL: func @softmax(
// CHECK-NEXT: %1 = tensor.softmax %0 {axes = [1]} : tensor<8x32xf32>
// CHECK-NEXT: return %1

func @log_softmax(%0: tensor<8x32xf32>) -> (tensor<8x32xf32>) {
  %1 = tensor.softmax %0 {axes = [1]} : tensor<8x32xf32>
  %2 = tensor.log %1 : tensor<8x32xf32>
  return %2
}
// CHECK-LABEL: func @log_softmax(
// CHECK-NEXT: %1 = tensor.logsumexp %0 {axes = [1], keepdims = true} : tensor<8x1xf32>
// CHECK-NEXT: %2 = tensor.broadcast %1 {shape = [8, 32]} : tensor<8x32xf32>
// CHECK-NEXT: %3 = tensor.subtract %0, %2 : tensor<8x32xf32>
// CHECK-NEXT: return %3
