//! Reduction reuse: a reduction of `x` over axes `A2` that an earlier
//! reduction of the same kind over axes `A1 ⊂ A2` already covers in part
//! reduces that earlier result instead of `x`:
//!
//! ```text
//! %1 = tensor.reduce_sum %0 {axes = [1]}            : tensor<4096xf32>
//! %2 = tensor.reduce_sum %0 {axes = [0, 1]}         : tensor<f32>
//! ```
//! becomes
//! ```text
//! %1 = tensor.reduce_sum %0 {axes = [1]}            : tensor<4096xf32>
//! %2 = tensor.reduce_sum %1 {axes = [0]}            : tensor<f32>
//! ```
//! so a matrix's row sums and full sum read the matrix once, not twice.
//! `max`, `min` and `logsumexp` are exact under this regrouping; a `sum`
//! adds one rounding of each partial result (as any blocked summation
//! does), within what the backends' reductions already allow. Products are
//! left alone (a partial product may overflow where the whole does not).

use crate::util::ValueMap;
use psionic_ir::{Attr, Attrs, Func, Opcode, Value};

fn reusable(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::ReduceSum | Opcode::ReduceMax | Opcode::ReduceMin | Opcode::LogSumExp
    )
}

/// The reduced axes of a reduction of a rank-`rank` operand (sorted,
/// non-negative; all axes when the attribute is absent) and its keepdims.
fn axes_of(attrs: &Attrs, rank: usize) -> Option<(Vec<usize>, bool)> {
    let mut axes: Vec<usize> = match attrs.get("axes") {
        Some(Attr::Ints(v)) => v
            .iter()
            .map(|&a| {
                let a = if a < 0 { a + rank as i64 } else { a };
                usize::try_from(a).ok().filter(|&a| a < rank)
            })
            .collect::<Option<Vec<usize>>>()?,
        None => (0..rank).collect(),
        _ => return None,
    };
    axes.sort_unstable();
    axes.dedup();
    let keep = matches!(attrs.get("keepdims"), Some(Attr::Bool(true)));
    Some((axes, keep))
}

/// Rewrites every reduction an earlier one covers in part (see the module
/// docs); returns how many were rewritten.
pub fn reuse_reductions(f: &mut Func) -> usize {
    let mut map = ValueMap::new(f);
    // Earlier reductions: (opcode, operand) -> [(axes, keepdims, result)].
    type Seen = Vec<(Opcode, Value, Vec<usize>, bool, Value)>;
    let mut seen: Seen = Vec::new();
    let mut count = 0;
    for mut op in std::mem::take(&mut f.ops) {
        for v in &mut op.operands {
            *v = map.resolve(*v);
        }
        let candidate = (reusable(op.opcode)
            && op.operands.len() == 1
            && op.results.len() == 1
            && op.attrs.iter().all(|(k, _)| k == "axes" || k == "keepdims"))
        .then(|| {
            let x = op.operands[0];
            let shape = f.ty(x).static_shape()?;
            let (axes, keep) = axes_of(&op.attrs, shape.len())?;
            Some((x, shape, axes, keep))
        })
        .flatten();
        let Some((x, shape, axes, keep)) = candidate else {
            f.ops.push(op);
            continue;
        };
        // The earlier reduction covering the most of `axes`.
        let best = seen
            .iter()
            .filter(|(o, v, a1, _, _)| {
                *o == op.opcode
                    && *v == x
                    && a1.len() < axes.len()
                    && a1.iter().all(|a| axes.contains(a))
            })
            .max_by_key(|(_, _, a1, _, _)| a1.len())
            .cloned();
        let result = op.results[0];
        match best {
            Some((_, _, a1, keep1, r1)) => {
                // The earlier result without its reduced axes, reduced over
                // the rest of `axes` (renumbered), then given `keep`'s 1s.
                let dropped: Vec<i64> = (0..shape.len())
                    .filter(|i| !a1.contains(i))
                    .map(|i| shape[i] as i64)
                    .collect();
                let rest: Vec<i64> = (0..shape.len())
                    .filter(|i| !a1.contains(i))
                    .enumerate()
                    .filter(|(_, i)| axes.contains(i))
                    .map(|(j, _)| j as i64)
                    .collect();
                let kept: Vec<i64> = shape
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if axes.contains(&i) { 1 } else { d as i64 })
                    .collect();
                let reshape = |f: &mut Func, v: Value, to: Vec<i64>| {
                    f.push1(
                        Opcode::Reshape,
                        &[v],
                        Attrs::new().with("shape", Attr::Ints(to)),
                    )
                };
                let src = if keep1 {
                    reshape(f, r1, dropped)
                } else {
                    Ok(r1)
                };
                let new = src
                    .and_then(|s| {
                        f.push1(
                            op.opcode,
                            &[s],
                            Attrs::new()
                                .with("axes", Attr::Ints(rest))
                                .with("keepdims", Attr::Bool(false)),
                        )
                    })
                    .and_then(|v| if keep { reshape(f, v, kept) } else { Ok(v) });
                match new {
                    Ok(v) if f.ty(v) == f.ty(result) => {
                        map.replace(result, v);
                        count += 1;
                    }
                    // Types that do not line up (an op with other
                    // attributes): keep the original.
                    _ => f.ops.push(op),
                }
            }
            None => {
                seen.push((op.opcode, x, axes, keep, result));
                f.ops.push(op);
            }
        }
    }
    map.apply(f);
    if count > 0 {
        *f = f.compact();
    }
    count
}
