// Parse error: input ends inside a function.
// RUN: not psionic opt %s 2>&1 | FileCheck %s
// CHECK: psionic: error: {{.*}}.pir:{{[0-9]+}}:1: expected `}` after `return`, found end of input
func @f(%0: tensor<2xf32>) -> (tensor<2xf32>) {
  return %0
