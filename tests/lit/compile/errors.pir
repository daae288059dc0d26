// `psionic compile` refuses what it cannot compile with one line naming why.
// RUN: not psionic compile 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: psionic: error: compile: no input file (use `-` for stdin)
// RUN: not psionic compile %s --frob 2>&1 | FileCheck %s --check-prefix=OPTION
// OPTION: psionic: error: compile: unknown option `--frob`
// RUN: not psionic compile %s 2>&1 | FileCheck %s --check-prefix=DYN
// DYN: psionic: error: compile: {{.*}}fusion: needs static shapes, found tensor<?x4xf32>: specialize the function first
func @main(%0: tensor<?x4xf32>) -> (tensor<?x4xf32>) {
  %1 = tensor.exp %0 : tensor<?x4xf32>
  return %1
}
