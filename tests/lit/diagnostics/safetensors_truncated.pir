// Bad safetensors input: a header that promises more bytes than the file has.
// RUN: not psionic run %s --inputs %S/../inputs/truncated.safetensors --out %t.safetensors 2>&1 | FileCheck %s
// CHECK: psionic: error: {{.*}}truncated.safetensors: not a valid safetensors file: {{.*}}
// RUN: not psionic inspect %S/../inputs/truncated.safetensors 2>&1 | FileCheck %s
func @main(%0: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
  return %0
}
