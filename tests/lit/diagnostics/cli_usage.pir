// Bad command lines: one line on stderr, a non-zero status, never a panic.
// RUN: not psionic 2>&1 | FileCheck %s --check-prefix=NOCMD
// NOCMD: psionic: error: no command given (try `psionic help`)
// RUN: not psionic frobnicate 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: psionic: error: unknown command `frobnicate` (commands: opt, run, inspect, convert, help)
// RUN: not psionic opt 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: psionic: error: opt: no input file (use `-` for stdin)
// RUN: not psionic opt %s --frob 2>&1 | FileCheck %s --check-prefix=OPTION
// OPTION: psionic: error: opt: unknown option `--frob`
// RUN: not psionic opt %s --pass 2>&1 | FileCheck %s --check-prefix=VALUE
// VALUE: psionic: error: `--pass` needs a value
// RUN: not psionic opt %s --pipeline 'cse,,dce' 2>&1 | FileCheck %s --check-prefix=PIPE
// PIPE: psionic: error: pipeline `cse,,dce`: empty pass name
// RUN: not psionic opt %s --pipeline 'dce{aggressive=true}' 2>&1 | FileCheck %s --check-prefix=PASSOPT
// PASSOPT: psionic: error: pass `dce` takes no options, got `aggressive`
// RUN: not psionic opt %s --print-after nosuch 2>&1 | FileCheck %s --check-prefix=PRINT
// PRINT: psionic: error: --print-after: unknown pass `nosuch`
// RUN: not psionic opt %s.missing.pir 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: psionic: error: {{.*}}cli_usage.pir.missing.pir: cannot read: {{.*}}
// RUN: not psionic opt %S/../inputs/add_bcast.safetensors 2>&1 | FileCheck %s --check-prefix=EXT
// EXT: psionic: error: {{.*}}add_bcast.safetensors: unknown module file type `safetensors` (expected .pir, .psifn or .mlxfn)
// RUN: not psionic run %s 2>&1 | FileCheck %s --check-prefix=RUNOUT
// RUNOUT: psionic: error: run: `--out OUT.safetensors` is required
// RUN: not psionic inspect 2>&1 | FileCheck %s --check-prefix=INSPECT
// INSPECT: psionic: error: inspect: no file given
// RUN: psionic help | FileCheck %s --check-prefix=HELP
// HELP: usage: psionic <command> [options]
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  return %0
}
