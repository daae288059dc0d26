//! Matmul batch axes merged into `m` after fusion: a convolution's
//! `[N, oh, ow, K] x [K, O]` product (the weight broadcast over the batch
//! axes) is one `[N*oh*ow, K] x [K, O]` gemm, which BLAS and cuBLAS run far
//! better than `N*oh` small ones.

use psionic_ir::kernel::{IndexMap, Instr, Item, KProgram, MatmulCall};

/// Merges the last batch axis of a matmul into its `m` axis wherever the
/// left operand and every map of the epilogue step over the two as over
/// one row-major axis and the right operand does not depend on it (stride
/// 0): `[B, m, k] x [k, n]` broadcast over B is one `[B*m, k] x [k, n]`
/// gemm. Repeats while it applies; size-1 batch axes are dropped. Returns
/// how many axes were merged.
pub fn collapse_matmul_batches(p: &mut KProgram) -> usize {
    let mut merged = 0;
    for it in &mut p.items {
        if let Item::Matmul(mm) = it {
            while collapse_last_batch(mm) {
                merged += 1;
            }
        }
    }
    merged
}

fn collapse_last_batch(mm: &mut MatmulCall) -> bool {
    let Some(&bd) = mm.batch.last() else {
        return false;
    };
    let (j, mi) = (mm.batch.len() - 1, mm.batch.len());
    let m = mm.m as i64;
    let ok = |map: &IndexMap| bd == 1 || map.strides[j] == map.strides[mi] * m;
    if !ok(&mm.a_map) || (bd != 1 && mm.b_map.strides[j] != 0) {
        return false;
    }
    for node in &mm.epilogue {
        match &node.instr {
            Instr::Load { map, .. } | Instr::Store { map, .. } if ok(map) => {}
            Instr::Const(_) | Instr::Op { .. } | Instr::MatmulResult => {}
            _ => return false,
        }
    }
    let drop = |map: &mut IndexMap| {
        map.strides.remove(j);
    };
    drop(&mut mm.a_map);
    drop(&mut mm.b_map);
    for node in &mut mm.epilogue {
        if let Instr::Load { map, .. } | Instr::Store { map, .. } = &mut node.instr {
            drop(map);
        }
    }
    mm.batch.pop();
    mm.m *= bd;
    true
}
