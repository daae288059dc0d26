//! Which library ops the GPU backends sort on the device, and the shape of
//! the rows they sort: shared by the CUDA ([`crate::cuda::sort`]) and wgpu
//! ([`crate::wgpu::sort`]) sort kernels, which differ only in code.

use psionic_ir::kernel::{pairs, BufId, KProgram, LibOp};
use psionic_ir::{DType, Opcode};

/// A sort along one axis of a row-major buffer, seen as `rows` rows of `n`
/// elements `inner` apart: row `r` starts at element
/// `(r / inner) * n * inner + r % inner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortRows {
    pub input: BufId,
    pub output: BufId,
    /// The input's dtype (the output's too, unless `indices`).
    pub dtype: DType,
    /// `argsort`/`argpartition`: the output holds `u32` indices.
    pub indices: bool,
    pub rows: u64,
    pub n: u64,
    pub inner: u64,
}

impl SortRows {
    /// `n` rounded up to a power of two: the bitonic network's width.
    pub fn pow2(&self) -> u64 {
        self.n.next_power_of_two()
    }
}

/// The rows of a `sort`, `argsort`, `partition` or `argpartition` library
/// op on a static, non-empty, non-complex input whose axis is at most
/// `max_row` long; `None` for anything else. Partitions are sorted fully,
/// as the interpreter's are. Complex values are `f32` pair buffers at the
/// kernel level ([`pairs`]): sorting their words would be wrong, so those
/// ops are `None` too.
pub fn sort_rows(p: &KProgram, l: &LibOp, max_row: usize) -> Option<SortRows> {
    let indices = match l.opcode {
        Opcode::Sort | Opcode::Partition => false,
        Opcode::Argsort | Opcode::Argpartition => true,
        _ => return None,
    };
    let (&[input], &[output]) = (l.inputs.as_slice(), l.outputs.as_slice()) else {
        return None;
    };
    if l.attrs.get(pairs::ATTR).is_some() {
        return None;
    }
    let ty = |b: BufId| {
        let t = &p.buffer(b).ty;
        Some((t.dtype, t.static_shape()?))
    };
    let ((dtype, shape), (out_dtype, out_shape)) = (ty(input)?, ty(output)?);
    if dtype == DType::C64 || shape != out_shape || shape.contains(&0) {
        return None;
    }
    if out_dtype != if indices { DType::U32 } else { dtype } {
        return None;
    }
    let axis = usize::try_from(l.attrs.int("axis").ok()?).ok()?;
    let n = *shape.get(axis)?;
    if n > max_row {
        return None;
    }
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    Some(SortRows {
        input,
        output,
        dtype,
        indices,
        rows: (outer * inner) as u64,
        n: n as u64,
        inner: inner as u64,
    })
}
