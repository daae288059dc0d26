// Parse errors from stdin name `<stdin>`.
// RUN: psionic opt %s | not psionic opt - --pass nosuch 2>&1 | FileCheck %s --check-prefix=PASS
// PASS: psionic: error: unknown pass `nosuch` (known passes: {{.*}}canonicalize{{.*}})
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  return %0
}
