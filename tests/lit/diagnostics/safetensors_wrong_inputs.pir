// Inputs that fit no trace: the error lists the signatures there are.
// RUN: not psionic run %s --inputs %S/../inputs/wrong_dtype.safetensors --out %t.safetensors 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: psionic: error: {{.*}}.pir: no trace of @main accepts inputs (0: tensor<2x3xi32>, 1: tensor<3xi32>); available signatures: (0: tensor<2x3xf32>, 1: tensor<3xf32>)
// RUN: not psionic run %s --inputs %S/../inputs/no_inputs.safetensors --out %t.safetensors 2>&1 | FileCheck %s --check-prefix=NAMES
// NAMES: psionic: error: {{.*}}no_inputs.safetensors: no tensor `in.0` (it has: weights)
// RUN: not psionic run %s --inputs %S/../inputs/nosuchfile.safetensors --out %t.safetensors 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: psionic: error: {{.*}}nosuchfile.safetensors: cannot read: {{.*}}
// RUN: not psionic run %s --inputs %S/../inputs/add_bcast.safetensors --func nope --out %t.safetensors 2>&1 | FileCheck %s --check-prefix=FUNC
// FUNC: psionic: error: {{.*}}: no function @nope (the module has: @main)
// RUN: not psionic run %s --inputs %S/../inputs/add_bcast.safetensors --out %S/no/such/dir/out.safetensors 2>&1 | FileCheck %s --check-prefix=OUT
// OUT: psionic: error: {{.*}}out.safetensors: cannot write: {{.*}}
func @main(%0: tensor<2x3xf32>, %1: tensor<3xf32>) -> (tensor<2x3xf32>) {
  return %0
}
