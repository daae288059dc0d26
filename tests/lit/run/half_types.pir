// f16 and bf16 tensors travel through safetensors bit for bit.
// RUN: psionic run %s --inputs %S/../inputs/half_types.safetensors --out %t.safetensors
// RUN: psionic inspect %t.safetensors | FileCheck %s
// CHECK: out.0: tensor<4xf16> = [-1.0, 2.5, -0.5, -65504.0]
// CHECK-NEXT: out.1: tensor<4xbf16> = [2.0, 4.0, -6.0, 0.25]
// CHECK-NEXT: out.2: tensor<4xf32> = [1.0, -2.5, 0.5, 65504.0]
func @main(%0: tensor<4xf16>, %1: tensor<4xbf16>) -> (tensor<4xf16>, tensor<4xbf16>, tensor<4xf32>) {
  %2 = tensor.negative %0 : tensor<4xf16>
  %3 = tensor.add %1, %1 : tensor<4xbf16>
  %4 = tensor.cast %0 {dtype = f32} : tensor<4xf32>
  return %2, %3, %4
}
