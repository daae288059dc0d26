//! Split reductions: a kernel that reduces many points into few rows gets
//! its reduced space cut into `parts` chunks, so that backends, which run
//! a kernel's outer indices in parallel (CPU threads, GPU blocks), are not
//! left with one outer index doing all the work.
//!
//! ```text
//! kernel @k domain [4096, 4096] reduce [0, 1]      (one outer index)
//!   loop  { %0 = load %b0[0; 4096, 1]; %1 = acc.sum %0 }
//!   outer { store %b2[..], %1 }
//! ```
//! becomes a partial kernel whose new outer axis `t` takes one chunk of the
//! split reduced axis each, storing each accumulator's chunk value to a
//! temporary, and a combining kernel that reduces the chunks with the same
//! accumulator kind and then runs the original `outer` stage:
//! ```text
//! kernel @k_part domain [64, 64, 4096] reduce [1, 2]
//!   loop  { %0 = load %b0[0; 262144, 4096, 1]; %1 = acc.sum %0 }
//!   outer { store %bp[0; 1, 0, 0], %1 }
//! kernel @k domain [64] reduce [0]
//!   loop  { %2 = load %bp[0; 1]; %1 = acc.sum %2 }
//!   outer { store %b2[..], %1 }
//! ```
//! This is exact for `max` and `min`, and for `sum` and `logsumexp` it
//! reassociates: each chunk's value is rounded to the accumulator's dtype
//! once, which adds at most one rounding of `sum(|x|)` to the result.
//! Only `f32` and `f64` accumulators of those four kinds are split (a
//! product could overflow in a chunk, Welford's `m2` needs its mean, and a
//! half-precision chunk would round far more than the unsplit row).

use psionic_ir::kernel::{
    AccKind, BufId, Buffer, BufferKind, IndexMap, Instr, Item, KProgram, Kernel, Node, Stage,
    StageKind,
};
use psionic_ir::{DType, TensorType};

/// When and how much to split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitOptions {
    /// Kernels with fewer outer indices than this are split.
    pub max_outer: usize,
    /// Only kernels reducing at least this many points per outer index.
    pub min_points: usize,
    /// Chunks to aim for over all outer indices (outer indices × chunks).
    pub parts: usize,
    /// Smallest chunk of a split contiguous innermost axis (so its vector
    /// loop still runs whole vectors).
    pub min_inner_chunk: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            max_outer: 8,
            min_points: 1 << 15,
            parts: 64,
            min_inner_chunk: 256,
        }
    }
}

/// Splits every kernel of `p` that [`SplitOptions`] selects; returns how
/// many were split.
pub fn split_reductions(p: &mut KProgram, opts: &SplitOptions) -> usize {
    let mut items = Vec::with_capacity(p.items.len());
    let mut count = 0;
    for item in std::mem::take(&mut p.items) {
        match item {
            Item::Kernel(k) => match plan_split(&k, opts) {
                Some((axis, chunks)) => {
                    let (part, combine) = split_kernel(p, &k, axis, chunks);
                    items.push(Item::Kernel(part));
                    items.push(Item::Kernel(combine));
                    count += 1;
                }
                None => items.push(Item::Kernel(k)),
            },
            other => items.push(other),
        }
    }
    p.items = items;
    if count > 0 {
        // Node ids in order of appearance, as the text form numbers them.
        p.renumber();
    }
    count
}

/// The reduced axis to split and into how many chunks, if `k` qualifies.
fn plan_split(k: &Kernel, opts: &SplitOptions) -> Option<(usize, usize)> {
    if k.reduce_axes.is_empty() || k.stages.len() != 2 {
        return None;
    }
    let (lp, outer) = (&k.stages[0], &k.stages[1]);
    if lp.kind != StageKind::Loop || outer.kind != StageKind::Outer {
        return None;
    }
    let splittable = lp.nodes.iter().all(|n| match n.instr {
        Instr::Acc { kind, .. } => {
            matches!(
                kind,
                AccKind::Sum | AccKind::Max | AccKind::Min | AccKind::LogSumExp
            ) && matches!(n.dtype, DType::F32 | DType::F64)
        }
        // Scans live in `map` stages, which this plan excludes anyway.
        // A guard box on the split axis would not stay a box over the
        // chunked domain.
        // Scatters only live in kernels without reduced axes.
        Instr::Store { .. }
        | Instr::Scatter { .. }
        | Instr::MatmulResult
        | Instr::Scan { .. }
        | Instr::LoadOr { .. } => false,
        Instr::Load { .. } | Instr::Gather { .. } | Instr::Const(_) | Instr::Op { .. } => true,
    }) && !outer
        .nodes
        .iter()
        .any(|n| matches!(n.instr, Instr::LoadOr { .. }));
    if !splittable {
        return None;
    }
    let outer_points: usize = (0..k.domain.len())
        .filter(|a| !k.reduce_axes.contains(a))
        .map(|a| k.domain[a])
        .product();
    let points: usize = k.reduce_axes.iter().map(|&a| k.domain[a]).product();
    if outer_points == 0 || outer_points >= opts.max_outer || points < opts.min_points {
        return None;
    }
    let target = opts.parts.div_ceil(outer_points).max(2);
    let last = k.domain.len() - 1;
    // The reduced axis with the most chunks (ties: the outermost), each
    // chunk a divisor of the extent.
    let mut best: Option<(usize, usize)> = None;
    for &a in &k.reduce_axes {
        let n = k.domain[a];
        let min_chunk = if a == last { opts.min_inner_chunk } else { 1 };
        let d = (2..=target.min(n))
            .rev()
            .find(|&d| n.is_multiple_of(d) && n / d >= min_chunk);
        if let Some(d) = d {
            if best.is_none_or(|(_, bd)| d > bd) {
                best = Some((a, d));
            }
        }
    }
    best
}

/// `map` with domain axis `axis` (extent `chunks * m`) replaced by the two
/// axes `[chunks, m]`.
fn split_map(map: &IndexMap, axis: usize, m: usize) -> IndexMap {
    let mut strides = map.strides.clone();
    let s = strides[axis];
    strides.insert(axis, s * m as i64);
    IndexMap {
        offset: map.offset,
        strides,
    }
}

fn max_id(k: &Kernel) -> u32 {
    k.stages
        .iter()
        .flat_map(|s| &s.nodes)
        .map(|n| n.id)
        .max()
        .unwrap_or(0)
}

fn add_temp(p: &mut KProgram, ty: TensorType) -> BufId {
    p.buffers.push(Buffer {
        ty,
        kind: BufferKind::Temp,
        slot: None,
    });
    BufId(p.buffers.len() as u32 - 1)
}

/// The partial and combining kernels of `k`, its reduced axis `axis` cut
/// into `chunks`; adds one temporary per accumulator to `p`.
fn split_kernel(p: &mut KProgram, k: &Kernel, axis: usize, chunks: usize) -> (Kernel, Kernel) {
    let m = k.domain[axis] / chunks;
    // Partial kernel: domain with [chunks, m] at `axis`; the chunk axis is
    // an outer axis, the others keep their roles (shifted past `axis`).
    let mut pdomain = k.domain.clone();
    pdomain[axis] = m;
    pdomain.insert(axis, chunks);
    let shift = |a: usize| if a >= axis { a + 1 } else { a };
    let preduce: Vec<usize> = k.reduce_axes.iter().map(|&a| shift(a)).collect();
    let pouter: Vec<usize> = (0..pdomain.len())
        .filter(|a| !preduce.contains(a))
        .collect();
    // Each accumulator's chunk values live in a buffer over the partial
    // kernel's outer axes, in domain order.
    let pshape: Vec<usize> = pouter.iter().map(|&a| pdomain[a]).collect();
    let row_major = IndexMap::row_major(&pshape);
    let mut store_map = IndexMap {
        offset: 0,
        strides: vec![0; pdomain.len()],
    };
    for (i, &a) in pouter.iter().enumerate() {
        store_map.strides[a] = row_major.strides[i];
    }
    let mut next = max_id(k) + 1;
    let mut loop_nodes = Vec::new();
    let mut outer_nodes = Vec::new();
    let mut combine_loop = Vec::new();
    // The combining kernel's domain: the original outer axes plus the chunk
    // axis at `axis`'s place; its maps drop the other reduced axes.
    let caxes: Vec<usize> = (0..k.domain.len())
        .filter(|&a| a == axis || !k.reduce_axes.contains(&a))
        .collect();
    let cdomain: Vec<usize> = caxes
        .iter()
        .map(|&a| if a == axis { chunks } else { k.domain[a] })
        .collect();
    let creduce = vec![caxes.iter().position(|&a| a == axis).expect("axis kept")];
    let cmap = |map: &IndexMap| IndexMap {
        offset: map.offset,
        strides: caxes.iter().map(|&a| map.strides[a]).collect(),
    };
    // Reading the partial buffer in the combining kernel: its axes are the
    // combining domain's, in the same order.
    let pread = IndexMap {
        offset: 0,
        strides: row_major.strides.clone(),
    };
    for n in &k.stages[0].nodes {
        let instr = match &n.instr {
            Instr::Load { buf, map } => Instr::Load {
                buf: *buf,
                map: split_map(map, axis, m),
            },
            Instr::Gather { buf, map, index } => Instr::Gather {
                buf: *buf,
                map: split_map(map, axis, m),
                index: index.clone(),
            },
            Instr::Acc { kind, .. } => {
                let buf = add_temp(
                    p,
                    TensorType::new(
                        n.dtype,
                        pshape.iter().map(|&d| d as i64).collect::<Vec<i64>>(),
                    ),
                );
                outer_nodes.push(Node {
                    id: next,
                    dtype: n.dtype,
                    instr: Instr::Store {
                        buf,
                        map: store_map.clone(),
                        arg: n.id,
                    },
                });
                combine_loop.push(Node {
                    id: next + 1,
                    dtype: n.dtype,
                    instr: Instr::Load {
                        buf,
                        map: pread.clone(),
                    },
                });
                combine_loop.push(Node {
                    id: n.id,
                    dtype: n.dtype,
                    instr: Instr::Acc {
                        kind: *kind,
                        arg: next + 1,
                    },
                });
                next += 2;
                n.instr.clone()
            }
            other => other.clone(),
        };
        loop_nodes.push(Node {
            id: n.id,
            dtype: n.dtype,
            instr,
        });
    }
    let part = Kernel {
        name: format!("{}_part", k.name),
        domain: pdomain,
        reduce_axes: preduce,
        stages: vec![
            Stage {
                kind: StageKind::Loop,
                nodes: loop_nodes,
            },
            Stage {
                kind: StageKind::Outer,
                nodes: outer_nodes,
            },
        ],
    };
    let combine_outer = k.stages[1]
        .nodes
        .iter()
        .map(|n| Node {
            id: n.id,
            dtype: n.dtype,
            instr: match &n.instr {
                Instr::Load { buf, map } => Instr::Load {
                    buf: *buf,
                    map: cmap(map),
                },
                Instr::Gather { buf, map, index } => Instr::Gather {
                    buf: *buf,
                    map: cmap(map),
                    index: index.clone(),
                },
                Instr::Store { buf, map, arg } => Instr::Store {
                    buf: *buf,
                    map: cmap(map),
                    arg: *arg,
                },
                other => other.clone(),
            },
        })
        .collect();
    let combine = Kernel {
        name: k.name.clone(),
        domain: cdomain,
        reduce_axes: creduce,
        stages: vec![
            Stage {
                kind: StageKind::Loop,
                nodes: combine_loop,
            },
            Stage {
                kind: StageKind::Outer,
                nodes: combine_outer,
            },
        ],
    };
    (part, combine)
}
