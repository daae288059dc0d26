// Pipelines run in command-line order; --print-after dumps to stderr after
// each named pass; --stats reports ops before/after and each pass's counters.
// RUN: psionic opt %s --pipeline 'canonicalize,cse,dce' | FileCheck %s
// RUN: psionic opt %s --pass canonicalize --pass cse --pass dce | FileCheck %s
// RUN: psionic opt %s --pipeline canonicalize,cse --print-after cse 2>&1 | FileCheck %s --check-prefix=DUMP
// RUN: psionic opt %s --pipeline canonicalize,cse --print-after-all 2>&1 | FileCheck %s --check-prefix=ALL
// RUN: psionic opt %s --pipeline canonicalize,cse,verify --verify-each --stats 2>&1 | FileCheck %s --check-prefix=STATS
// RUN: psionic opt %s --list-passes | FileCheck %s --check-prefix=LIST

func @f(%0: tensor<3xf32>) -> (tensor<3xf32>) {
  %1 = tensor.exp %0 : tensor<3xf32>
  %2 = tensor.exp %0 : tensor<3xf32>
  %3 = tensor.full {dtype = f32, shape = [3], value = 1.0} : tensor<3xf32>
  %4 = tensor.multiply %2, %3 : tensor<3xf32>
  %5 = tensor.add %1, %4 : tensor<3xf32>
  return %5
}
// CHECK-LABEL: func @f
// CHECK-NEXT: %1 = tensor.exp %0
// CHECK-NEXT: %2 = tensor.add %1, %1
// CHECK-NEXT: return %2

// DUMP-NOT: IR Dump After canonicalize
// DUMP: // -----// IR Dump After cse //----- //
// DUMP-NEXT: func @f
// DUMP-NEXT: tensor.exp
// DUMP-NEXT: tensor.add
// DUMP: func @f

// ALL: // -----// IR Dump After canonicalize //----- //
// ALL: tensor.exp
// ALL: tensor.exp
// ALL: // -----// IR Dump After cse //----- //

// STATS: // pass statistics
// STATS-NEXT: // canonicalize {{ *}}ops {{ *}}5 -> 3 {{.*}} ms
// STATS: identities removed: 1
// STATS: // cse {{ *}}ops {{ *}}3 -> 2
// STATS-NEXT: ops merged: 1
// STATS-NEXT: // verify {{ *}}ops {{ *}}2 -> 2

// LIST-DAG: verify
// LIST-DAG: dce
// LIST-DAG: cse
// LIST-DAG: canonicalize
