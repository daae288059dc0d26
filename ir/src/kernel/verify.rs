//! The kernel-level verifier. [`verify_program`] checks:
//!
//! 1. Buffers: every `%bN` used exists; parameters are exactly the buffers of
//!    kind `Param`, numbered in order; every type is static; every results
//!    buffer exists.
//! 2. Writes: parameters and constants are never written; each temporary is
//!    first written by exactly one item, and read only by later items (and
//!    is written before any result refers to it). After its first write it
//!    is changed only by `scatter.*` nodes of later kernels (updates); a
//!    kernel that scatters into a buffer neither loads, gathers nor stores
//!    it otherwise.
//! 3. Kernels: the domain has no zero-length restriction but reduce axes are
//!    sorted, unique and in range; `loop` stages appear only with reduce
//!    axes; at most one `map` stage, and it is the last; every stage has
//!    nodes.
//! 4. Scoping: a node uses only nodes defined before it in its own stage
//!    (accumulators excepted), results of earlier `outer` stages, and
//!    accumulators of earlier `loop` stages. `acc.*` appears only in `loop`
//!    stages, `store` never does; `matmul_result` only in matmul epilogues.
//!    `scan.*` appears only in the `map` stage of a kernel with exactly one
//!    reduce axis, and its argument does not depend on another scan.
//! 5. Typing: a load has its buffer's dtype; a store stores a value of its
//!    buffer's dtype; a scalar op is a single-result elementwise op whose
//!    result dtype follows from the op table's rule applied to its
//!    arguments' dtypes; accumulators and scans keep their argument's dtype
//!    (`logsumexp` needs a float, `m2` is no scan); a constant is finite or
//!    not, any dtype.
//! 6. Addressing: every index map has one stride per domain axis and stays
//!    inside its buffer for every index of the domain (for a gather, with
//!    every index in its valid range `0..=size - slice` added: an index
//!    outside it is a run-time error, never an out-of-bounds read; for a
//!    guarded load, of its box, which has one non-empty range per domain
//!    axis inside the domain, and does not restrict reduced axes in `outer`
//!    stages; its fill is a node visible where the load is, of its dtype);
//!    a gather has at least one index, each an integer node visible where
//!    the gather is, with `1 <= slice <= size`, and is not in a matmul
//!    epilogue; loads, guarded loads and gathers in `outer`
//!    stages and stores in `outer` stages do not move along reduced axes;
//!    a store's domain (the outer space for `outer`, all of it otherwise) has
//!    as many points as its buffer has elements, so it can cover it.
//!    A scatter addresses its buffer as a gather does (same index rules,
//!    any number of indices), stores a value of the buffer's dtype, and
//!    appears only in the `map` stage of a kernel without reduce axes,
//!    never in a matmul epilogue; on `bool` its kind is `set`, `max` or
//!    `min`.
//! 7. Matmuls: operand maps fit `[batch..., m, k]` and `[batch..., k, n]`
//!    inside their buffers, operands have the matmul dtype, and the epilogue
//!    obeys 4-6 over the domain `[batch..., m, n]`.
//! 8. Library ops: the op table's shape rule on the input types gives the
//!    output types (a buffer named by `c64_pairs` typed as the c64 it
//!    holds: [`super::pairs`]).

use super::*;
use crate::ops::infer_types;

fn err<T>(at: &str, msg: impl Into<String>) -> Result<T, String> {
    Err(format!("{at}: {}", msg.into()))
}

struct Scope {
    /// dtype of each visible node id.
    visible: HashMap<u32, DType>,
}

use std::collections::HashMap;

fn check_map(
    p: &KProgram,
    at: &str,
    buf: BufId,
    map: &IndexMap,
    domain: &[usize],
) -> Result<(), String> {
    check_gather_map(p, at, buf, map, &[], domain)
}

/// [`check_map`] with the data-dependent terms of a gather: each index
/// ranges over `0..=dim - slice`.
fn check_gather_map(
    p: &KProgram,
    at: &str,
    buf: BufId,
    map: &IndexMap,
    index: &[DynIndex],
    domain: &[usize],
) -> Result<(), String> {
    if buf.index() >= p.buffers.len() {
        return err(at, format!("buffer %b{} does not exist", buf.0));
    }
    if map.strides.len() != domain.len() {
        return err(
            at,
            format!(
                "index map of %b{} has {} strides for a domain of rank {}",
                buf.0,
                map.strides.len(),
                domain.len()
            ),
        );
    }
    let n = p.buffer(buf).ty.num_elements().unwrap_or(0) as i64;
    if let Some((mut lo, mut hi)) = map.range(domain) {
        for d in index {
            let span = d.stride * (d.dim as i64 - d.slice as i64);
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        if lo < 0 || hi >= n {
            return err(
                at,
                format!(
                    "index map of %b{} addresses elements {lo}..={hi} of a buffer of {n}",
                    buf.0
                ),
            );
        }
    }
    Ok(())
}

/// The indices of a gather or scatter: integer nodes, `1 <= slice <= size`.
fn check_index(
    at: &str,
    index: &[DynIndex],
    what: &str,
    get: &impl Fn(u32) -> Result<DType, String>,
) -> Result<(), String> {
    for d in index {
        let t = get(d.arg)?;
        if !t.is_integer() {
            return err(
                at,
                format!("{what} index %{} is {t}, not an integer", d.arg),
            );
        }
        if d.slice == 0 || d.slice > d.dim {
            return err(
                at,
                format!(
                    "{what} slice {} does not fit axis size {} (1 <= slice <= size)",
                    d.slice, d.dim
                ),
            );
        }
    }
    Ok(())
}

/// Checks nodes of one stage (or an epilogue).
#[allow(clippy::too_many_arguments)]
fn check_nodes(
    p: &KProgram,
    at: &str,
    nodes: &[Node],
    kind: StageKind,
    domain: &[usize],
    reduce_axes: &[usize],
    in_matmul: bool,
    scope: &mut Scope,
    accs_out: &mut Vec<(u32, DType)>,
) -> Result<Vec<BufId>, String> {
    let mut local: HashMap<u32, DType> = HashMap::new();
    // Nodes of this stage that depend on a scan.
    let mut scanned: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut stored = Vec::new();
    let outer_count: usize = domain
        .iter()
        .enumerate()
        .filter(|(i, _)| !reduce_axes.contains(i))
        .map(|(_, &d)| d)
        .product();
    let full_count: usize = domain.iter().product();
    for n in nodes {
        let at = format!("{at}, node {}", n.id);
        let get = |a: u32| -> Result<DType, String> {
            local
                .get(&a)
                .or_else(|| scope.visible.get(&a))
                .copied()
                .ok_or_else(|| format!("{at}: uses %{a}, which is not visible here"))
        };
        let moves_on_reduced = |m: &IndexMap| {
            reduce_axes
                .iter()
                .any(|&ax| domain[ax] > 1 && m.strides.get(ax).copied().unwrap_or(0) != 0)
        };
        match &n.instr {
            Instr::Load { buf, map } => {
                check_map(p, &at, *buf, map, domain)?;
                if p.buffer(*buf).ty.dtype != n.dtype {
                    return err(
                        &at,
                        format!(
                            "load of a {} buffer typed {}",
                            p.buffer(*buf).ty.dtype,
                            n.dtype
                        ),
                    );
                }
                if kind == StageKind::Outer && moves_on_reduced(map) {
                    return err(&at, "a load in an `outer` stage moves along a reduced axis");
                }
            }
            Instr::Gather { buf, map, index } => {
                if index.is_empty() {
                    return err(&at, "a gather without indices (a load)");
                }
                if in_matmul {
                    return err(&at, "gathers do not belong in matmul epilogues");
                }
                check_index(&at, index, "gather", &get)?;
                check_gather_map(p, &at, *buf, map, index, domain)?;
                if p.buffer(*buf).ty.dtype != n.dtype {
                    return err(
                        &at,
                        format!(
                            "gather of a {} buffer typed {}",
                            p.buffer(*buf).ty.dtype,
                            n.dtype
                        ),
                    );
                }
                if kind == StageKind::Outer && moves_on_reduced(map) {
                    return err(
                        &at,
                        "a gather in an `outer` stage moves along a reduced axis",
                    );
                }
            }
            Instr::LoadOr {
                buf,
                map,
                lo,
                hi,
                fill,
            } => {
                if lo.len() != domain.len() || hi.len() != domain.len() {
                    return err(
                        &at,
                        format!(
                            "a guard box of rank {} for a domain of rank {}",
                            lo.len(),
                            domain.len()
                        ),
                    );
                }
                for (i, &d) in domain.iter().enumerate() {
                    if !(0 <= lo[i] && lo[i] < hi[i] && hi[i] <= d as i64) {
                        return err(
                            &at,
                            format!(
                                "guard box {}..{} on axis {i} of size {d} is empty or out of range",
                                lo[i], hi[i]
                            ),
                        );
                    }
                }
                // The map need only be in bounds over the box.
                let shifted = IndexMap {
                    offset: map.at(&lo.iter().map(|&l| l as usize).collect::<Vec<_>>()),
                    strides: map.strides.clone(),
                };
                let sizes: Vec<usize> =
                    lo.iter().zip(hi).map(|(&l, &h)| (h - l) as usize).collect();
                check_map(p, &at, *buf, &shifted, &sizes)?;
                if p.buffer(*buf).ty.dtype != n.dtype {
                    return err(
                        &at,
                        format!(
                            "load of a {} buffer typed {}",
                            p.buffer(*buf).ty.dtype,
                            n.dtype
                        ),
                    );
                }
                let d = get(*fill)?;
                if d != n.dtype {
                    return err(
                        &at,
                        format!("a guarded load typed {} with a {d} fill", n.dtype),
                    );
                }
                let boxed_on_reduced = reduce_axes
                    .iter()
                    .any(|&ax| lo[ax] != 0 || hi[ax] != domain[ax] as i64);
                if kind == StageKind::Outer && (moves_on_reduced(map) || boxed_on_reduced) {
                    return err(&at, "a load in an `outer` stage moves along a reduced axis");
                }
            }
            Instr::Const(_) => {}
            Instr::Op {
                opcode,
                attrs,
                args,
            } => {
                if !scalar::is_scalar_op(*opcode) {
                    return err(&at, format!("`{opcode}` is not a scalar op"));
                }
                let tys: Vec<TensorType> = args
                    .iter()
                    .map(|&a| get(a).map(TensorType::scalar))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&TensorType> = tys.iter().collect();
                let out = infer_types(*opcode, &refs, attrs).map_err(|e| format!("{at}: {e}"))?;
                if out.len() != 1 || out[0].dtype != n.dtype {
                    return err(
                        &at,
                        format!("`{opcode}` gives {}, node typed {}", out[0].dtype, n.dtype),
                    );
                }
            }
            Instr::Acc { kind: k, arg } => {
                if kind != StageKind::Loop {
                    return err(&at, "accumulators belong in `loop` stages");
                }
                let d = get(*arg)?;
                if d != n.dtype {
                    return err(&at, format!("accumulator of {d} typed {}", n.dtype));
                }
                if matches!(k, AccKind::LogSumExp | AccKind::M2) && !d.is_float() {
                    return err(&at, format!("acc.{} needs a float", k.name()));
                }
                accs_out.push((n.id, n.dtype));
                continue;
            }
            Instr::Scatter {
                buf,
                map,
                index,
                arg,
                reduce,
            } => {
                if kind != StageKind::Map || in_matmul || !reduce_axes.is_empty() {
                    return err(
                        &at,
                        "scatters belong in the `map` stage of a kernel without reduce axes",
                    );
                }
                check_index(&at, index, "scatter", &get)?;
                check_gather_map(p, &at, *buf, map, index, domain)?;
                let d = get(*arg)?;
                if d != n.dtype || p.buffer(*buf).ty.dtype != d {
                    return err(
                        &at,
                        format!("scatters a {d} into a {} buffer", p.buffer(*buf).ty.dtype),
                    );
                }
                if d == DType::Bool && matches!(reduce, ScatterKind::Sum | ScatterKind::Prod) {
                    return err(
                        &at,
                        format!("scatter.{} on bool (use max or min)", reduce.name()),
                    );
                }
                continue;
            }
            Instr::Store { buf, map, arg } => {
                if kind == StageKind::Loop {
                    return err(&at, "stores do not belong in `loop` stages");
                }
                check_map(p, &at, *buf, map, domain)?;
                let d = get(*arg)?;
                if d != n.dtype || p.buffer(*buf).ty.dtype != d {
                    return err(
                        &at,
                        format!("stores a {d} into a {} buffer", p.buffer(*buf).ty.dtype),
                    );
                }
                let count = if kind == StageKind::Outer {
                    if moves_on_reduced(map) {
                        return err(
                            &at,
                            "a store in an `outer` stage moves along a reduced axis",
                        );
                    }
                    outer_count
                } else {
                    full_count
                };
                let n_el = p.buffer(*buf).ty.num_elements().unwrap_or(0);
                if count != n_el {
                    return err(
                        &at,
                        format!("stores {count} elements into %b{} of {n_el}", buf.0),
                    );
                }
                stored.push(*buf);
                continue;
            }
            Instr::Scan { kind: k, arg, .. } => {
                if kind != StageKind::Map || in_matmul || reduce_axes.len() != 1 {
                    return err(
                        &at,
                        "scans belong in the `map` stage of a kernel with one reduce axis",
                    );
                }
                let d = get(*arg)?;
                if d != n.dtype {
                    return err(&at, format!("scan of {d} typed {}", n.dtype));
                }
                match k {
                    AccKind::M2 => return err(&at, "`m2` is not a scan"),
                    AccKind::LogSumExp if !d.is_float() => {
                        return err(&at, "scan.logsumexp needs a float")
                    }
                    _ => {}
                }
                if scanned.contains(arg) {
                    return err(&at, "a scan's argument depends on another scan");
                }
            }
            Instr::MatmulResult => {
                if !in_matmul {
                    return err(&at, "`matmul_result` outside a matmul epilogue");
                }
            }
        }
        let depends_on_scan = match &n.instr {
            Instr::Scan { .. } => true,
            // Ops, gathers (through their indices) and guarded loads
            // (through their fill) carry a scan's dependence on.
            i => i.args().iter().any(|a| scanned.contains(a)),
        };
        if depends_on_scan {
            scanned.insert(n.id);
        }
        if local.insert(n.id, n.dtype).is_some() || scope.visible.contains_key(&n.id) {
            return err(&at, format!("%{} defined twice", n.id));
        }
    }
    if kind == StageKind::Outer {
        scope.visible.extend(local);
    }
    Ok(stored)
}

/// Checks every invariant listed in the module doc.
pub fn verify_program(p: &KProgram) -> Result<(), String> {
    let mut written = vec![false; p.buffers.len()];
    let mut params = 0u32;
    for (i, b) in p.buffers.iter().enumerate() {
        if !b.ty.is_static() {
            return err(&format!("%b{i}"), "kernel IR buffers have static shapes");
        }
        match &b.kind {
            BufferKind::Param(n) => {
                if p.params.get(*n as usize) != Some(&BufId(i as u32)) {
                    return err(
                        &format!("%b{i}"),
                        format!("parameter {n} is not listed in order"),
                    );
                }
                params += 1;
                written[i] = true;
            }
            BufferKind::Const(l) => {
                if l.ty() != b.ty {
                    return err(&format!("%b{i}"), "constant data does not match its type");
                }
                written[i] = true;
            }
            BufferKind::Temp => {}
        }
    }
    if params as usize != p.params.len() {
        return err(
            "program",
            "parameter list names buffers that are not parameters",
        );
    }
    for (idx, item) in p.items.iter().enumerate() {
        let at = format!("item {idx}");
        let updates = item.updates();
        for &u in &updates {
            if u.index() >= p.buffers.len() {
                return err(&at, format!("buffer %b{} does not exist", u.0));
            }
            if p.buffer(u).kind != BufferKind::Temp {
                return err(
                    &at,
                    format!("scatters into %b{}, which is not a temporary", u.0),
                );
            }
            if !written[u.index()] {
                return err(
                    &at,
                    format!("scatters into %b{} before anything writes it", u.0),
                );
            }
            if let Item::Kernel(k) = item {
                let other = k
                    .stages
                    .iter()
                    .flat_map(|s| &s.nodes)
                    .any(|n| match &n.instr {
                        Instr::Load { buf, .. }
                        | Instr::Gather { buf, .. }
                        | Instr::LoadOr { buf, .. }
                        | Instr::Store { buf, .. } => *buf == u,
                        _ => false,
                    });
                if other {
                    return err(
                        &at,
                        format!(
                            "a kernel that scatters into %b{} also loads or stores it",
                            u.0
                        ),
                    );
                }
            }
        }
        for r in item.reads() {
            if r.index() >= p.buffers.len() {
                return err(&at, format!("buffer %b{} does not exist", r.0));
            }
            if !written[r.index()] {
                return err(&at, format!("reads %b{} before anything writes it", r.0));
            }
        }
        let stored = match item {
            Item::Kernel(k) => {
                let at = format!("kernel @{}", k.name);
                if k.reduce_axes.windows(2).any(|w| w[0] >= w[1])
                    || k.reduce_axes.iter().any(|&a| a >= k.domain.len())
                {
                    return err(&at, "reduce axes must be sorted, unique and in range");
                }
                if k.stages.is_empty() {
                    return err(&at, "a kernel needs at least one stage");
                }
                let mut scope = Scope {
                    visible: HashMap::new(),
                };
                let mut stored = Vec::new();
                for (si, s) in k.stages.iter().enumerate() {
                    if s.nodes.is_empty() {
                        return err(&at, format!("stage {si} is empty"));
                    }
                    if s.kind == StageKind::Loop && k.reduce_axes.is_empty() {
                        return err(&at, "`loop` stages need reduce axes");
                    }
                    if s.kind == StageKind::Map && si + 1 != k.stages.len() {
                        return err(&at, "the `map` stage must be the last");
                    }
                    let mut accs = Vec::new();
                    stored.extend(check_nodes(
                        p,
                        &format!("{at}, stage {si}"),
                        &s.nodes,
                        s.kind,
                        &k.domain,
                        &k.reduce_axes,
                        false,
                        &mut scope,
                        &mut accs,
                    )?);
                    scope.visible.extend(accs);
                }
                stored
            }
            Item::Matmul(m) => {
                let at = format!("matmul @{}", m.name);
                let mut ad = m.batch.clone();
                ad.extend([m.m, m.k]);
                let mut bd = m.batch.clone();
                bd.extend([m.k, m.n]);
                check_map(p, &at, m.a, &m.a_map, &ad)?;
                check_map(p, &at, m.b, &m.b_map, &bd)?;
                if p.buffer(m.a).ty.dtype != m.dtype || p.buffer(m.b).ty.dtype != m.dtype {
                    return err(&at, format!("operands must be {}", m.dtype));
                }
                if !m.dtype.is_float() {
                    return err(&at, "matmul needs a float dtype");
                }
                let mut scope = Scope {
                    visible: HashMap::new(),
                };
                let stored = check_nodes(
                    p,
                    &at,
                    &m.epilogue,
                    StageKind::Map,
                    &m.domain(),
                    &[],
                    true,
                    &mut scope,
                    &mut Vec::new(),
                )?;
                for n in &m.epilogue {
                    if n.instr == Instr::MatmulResult && n.dtype != m.dtype {
                        return err(&at, "matmul_result has the matmul dtype");
                    }
                }
                if stored.is_empty() {
                    return err(&at, "the epilogue stores nothing");
                }
                stored
            }
            Item::LibOp(l) => {
                let at = format!("kernel.op {}", l.opcode);
                for b in l.inputs.iter().chain(&l.outputs) {
                    if b.index() >= p.buffers.len() {
                        return err(&at, format!("buffer %b{} does not exist", b.0));
                    }
                }
                // Pair buffers (`c64_pairs`) are checked as the c64 they hold.
                let (attrs, pairs) =
                    super::pairs::split_attrs(&l.attrs, l.inputs.len() + l.outputs.len())
                        .map_err(|e| format!("{at}: {e}"))?;
                let ty = |i: usize, b: BufId| -> Result<TensorType, String> {
                    let t = &p.buffer(b).ty;
                    if pairs[i] {
                        super::pairs::unpaired(t).map_err(|e| format!("{at}: %b{}: {e}", b.0))
                    } else {
                        Ok(t.clone())
                    }
                };
                let tys = l
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| ty(i, b))
                    .collect::<Result<Vec<_>, _>>()?;
                let tys: Vec<&TensorType> = tys.iter().collect();
                let out = infer_types(l.opcode, &tys, &attrs).map_err(|e| format!("{at}: {e}"))?;
                let got = l
                    .outputs
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| ty(l.inputs.len() + i, b))
                    .collect::<Result<Vec<_>, _>>()?;
                if out != got {
                    return err(&at, "output buffers do not have the op's result types");
                }
                l.outputs.clone()
            }
        };
        let mut seen = Vec::new();
        for b in stored {
            if seen.contains(&b) {
                continue;
            }
            seen.push(b);
            if p.buffer(b).kind != BufferKind::Temp {
                return err(&at, format!("writes %b{}, which is not a temporary", b.0));
            }
            if written[b.index()] {
                return err(&at, format!("%b{} is written twice", b.0));
            }
            written[b.index()] = true;
        }
    }
    for r in &p.results {
        if r.index() >= p.buffers.len() || !written[r.index()] {
            return err("return", format!("result %b{} is never written", r.0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::text::{parse_program, print_program};

    const GOOD: &str =
        "kernel.program @f(%b0: tensor<2x3xf32>) -> (tensor<2xf32>, tensor<2x3xf32>) {
  %b1 = kernel.buffer : tensor<2xf32>
  %b2 = kernel.buffer {slot = 0} : tensor<2x3xf32>
  kernel.fused @k0 domain [2, 3] reduce [1] {
    loop {
      %0 = load %b0[0; 3, 1] : f32
      %1 = acc.logsumexp %0 : f32
    }
    outer {
      store %b1[0; 1, 0], %1 : f32
    }
    map {
      %2 = load %b0[0; 3, 1] : f32
      %3 = subtract %2, %1 : f32
      %4 = exp %3 : f32
      %5 = cast %4 {dtype = f32} : f32
      store %b2[0; 3, 1], %5 : f32
    }
  }
  return %b1, %b2
}
";

    fn bad(edit: (&str, &str), want: &str) {
        let src = GOOD.replace(edit.0, edit.1);
        assert_ne!(src, GOOD, "edit {edit:?} did not apply");
        let e = match parse_program(&src) {
            Err(e) => e.to_string(),
            Ok(p) => verify_program(&p).expect_err("verifier accepted a bad program"),
        };
        assert!(e.contains(want), "{e}");
    }

    #[test]
    fn good_program_round_trips_and_verifies() {
        let p = parse_program(GOOD).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), GOOD);
    }

    #[test]
    fn verifier_names_each_broken_invariant() {
        bad(
            ("%0 = load %b0[0; 3, 1]", "%0 = load %b0[1; 3, 1]"),
            "addresses elements 1..=6 of a buffer of 6",
        );
        bad(
            ("%0 = load %b0[0; 3, 1]", "%0 = load %b0[0; 3]"),
            "has 1 strides for a domain of rank 2",
        );
        bad(
            ("store %b1[0; 1, 0]", "store %b1[0; 1, 1]"),
            "addresses elements 0..=3 of a buffer of 2",
        );
        bad(
            (
                "    outer {\n",
                "    outer {\n      %9 = load %b0[0; 3, 1] : f32\n",
            ),
            "a load in an `outer` stage moves along a reduced axis",
        );
        bad(
            ("%4 = exp %3 : f32", "%4 = exp %3 : f16"),
            "gives f32, node typed f16",
        );
        bad(
            ("%3 = subtract %2, %1", "%3 = subtract %2, %0"),
            "uses %0, which is not visible here",
        );
        bad(
            ("reduce [1]", "reduce [2]"),
            "reduce axes must be sorted, unique and in range",
        );
        bad(
            ("store %b2[0; 3, 1], %5", "store %b1[0; 1, 0], %5"),
            "stores 6 elements into %b1 of 2",
        );
        bad(
            (
                "    outer {\n      store %b1[0; 1, 0], %1 : f32\n    }\n",
                "    map {\n      store %b1[0; 1, 0], %1 : f32\n    }\n",
            ),
            "the `map` stage must be the last",
        );
        bad(
            ("return %b1, %b2", "return %b1, %b3"),
            "result %b3 is never written",
        );
        bad(
            ("store %b2[0; 3, 1], %5", "store %b0[0; 3, 1], %5"),
            "not a temporary",
        );
        bad(
            ("%1 = acc.logsumexp %0", "%1 = acc.median %0"),
            "unknown accumulator `acc.median`",
        );
        bad(
            ("%4 = exp %3", "%4 = frobnicate %3"),
            "unknown scalar op `frobnicate`",
        );
        bad(
            ("%b2 = kernel.buffer", "%b5 = kernel.buffer"),
            "declared out of order",
        );
    }

    const GUARDED: &str = "kernel.program @f(%b0: tensor<2x3xf32>, %b1: tensor<f32>) -> (tensor<3x5xf32>, tensor<3xf32>) {
  %b2 = kernel.buffer : tensor<3x5xf32>
  %b3 = kernel.buffer : tensor<3xf32>
  kernel.fused @k0 domain [3, 5] reduce [] {
    map {
      %0 = load %b1[0; 0, 0] : f32
      %1 = load_or %b0[-3; 3, 1] in [1, 0]..[3, 3] else %0 : f32
      %2 = exp %1 : f32
      store %b2[0; 5, 1], %2 : f32
    }
  }
  kernel.fused @k1 domain [3, 5] reduce [1] {
    outer {
      %0 = const 0.0 : f32
    }
    loop {
      %1 = load_or %b0[-3; 3, 1] in [1, 0]..[3, 3] else %0 : f32
      %2 = acc.sum %1 : f32
    }
    outer {
      store %b3[0; 1, 0], %2 : f32
    }
  }
  return %b2, %b3
}
";

    #[test]
    fn guarded_loads_round_trip_and_their_rules_are_checked() {
        let p = parse_program(GUARDED).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), GUARDED);
        let bad_guard = |edit: (&str, &str), want: &str| {
            let src = GUARDED.replacen(edit.0, edit.1, 1);
            assert_ne!(src, GUARDED, "edit {edit:?} did not apply");
            let e = match parse_program(&src) {
                Err(e) => e.to_string(),
                Ok(p) => verify_program(&p).expect_err("verifier accepted a bad program"),
            };
            assert!(e.contains(want), "{e}");
        };
        // The map is only checked over the box: one row more leaves %b0.
        bad_guard(
            ("in [1, 0]..[3, 3]", "in [0, 0]..[3, 3]"),
            "addresses elements -3..=5 of a buffer of 6",
        );
        bad_guard(
            ("in [1, 0]..[3, 3]", "in [1, 0]..[4, 3]"),
            "guard box 1..4 on axis 0 of size 3",
        );
        bad_guard(
            ("in [1, 0]..[3, 3]", "in [1, 2]..[3, 2]"),
            "is empty or out of range",
        );
        bad_guard(
            ("in [1, 0]..[3, 3]", "in [1]..[3]"),
            "a guard box of rank 1",
        );
        bad_guard(
            ("%0 = load %b1[0; 0, 0] : f32", "%0 = const 0 : i32"),
            "a guarded load typed f32 with a i32 fill",
        );
        bad_guard(
            ("else %0 : f32", "else %7 : f32"),
            "scalar %7 is not defined",
        );
        // A guard on the reduced axis may not sit in an `outer` stage.
        bad_guard(
            (
                "      %0 = const 0.0 : f32\n    }\n    loop",
                "      %0 = const 0.0 : f32\n      %9 = load_or %b0[-3; 3, 0] in [1, 0]..[3, 3] else %0 : f32\n    }\n    loop",
            ),
            "moves along a reduced axis",
        );
    }

    const SCAN: &str = "kernel.program @f(%b0: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
  %b1 = kernel.buffer : tensor<2x3xf32>
  kernel.fused @k0 domain [2, 3] reduce [1] {
    map {
      %0 = load %b0[2; 3, -1] : f32
      %1 = exp %0 : f32
      %2 = scan.sum %1 : f32
      %3 = scan.exclusive.max %0 : f32
      %4 = add %2, %3 : f32
      store %b1[2; 3, -1], %4 : f32
    }
  }
  return %b1
}
";

    #[test]
    fn scans_round_trip_and_their_rules_are_checked() {
        let p = parse_program(SCAN).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), SCAN);
        let bad_scan = |edit: (&str, &str), want: &str| {
            let src = SCAN.replace(edit.0, edit.1);
            assert_ne!(src, SCAN, "edit {edit:?} did not apply");
            let e = match parse_program(&src) {
                Err(e) => e.to_string(),
                Ok(p) => verify_program(&p).expect_err("verifier accepted a bad program"),
            };
            assert!(e.contains(want), "{e}");
        };
        bad_scan(
            ("%3 = scan.exclusive.max %0", "%3 = scan.exclusive.max %2"),
            "depends on another scan",
        );
        bad_scan(
            ("domain [2, 3] reduce [1]", "domain [2, 3] reduce [0, 1]"),
            "one reduce axis",
        );
        bad_scan(
            ("scan.sum %1 : f32", "scan.m2 %1 : f32"),
            "`m2` is not a scan",
        );
        bad_scan(
            ("scan.sum %1", "scan.median %1"),
            "unknown scan `scan.median`",
        );
        bad_scan(
            ("%2 = scan.sum %1 : f32", "%2 = scan.sum %1 : f16"),
            "scan of f32 typed f16",
        );
        // A scan in a loop stage.
        bad_scan(
            (
                "    map {\n      %0 = load %b0[2; 3, -1] : f32\n      %1 = exp %0 : f32\n      %2 = scan.sum %1 : f32\n",
                "    loop {\n      %0 = load %b0[2; 3, -1] : f32\n      %1 = exp %0 : f32\n      %2 = scan.sum %1 : f32\n    }\n    map {\n",
            ),
            "scans belong in the `map` stage",
        );
    }

    const GATHER: &str =
        "kernel.program @g(%b0: tensor<4x8xf32>, %b1: tensor<4xi32>) -> (tensor<4xf32>) {
  %b2 = kernel.buffer : tensor<4xf32>
  kernel.fused @k0 domain [4] reduce [] {
    map {
      %0 = load %b1[0; 1] : i32
      %1 = const 2.0 : f32
      %2 = gather %b0[0; 8] + 1 * %0 {axis = 1, size = 8} : f32
      %3 = multiply %2, %1 : f32
      store %b2[0; 1], %3 : f32
    }
  }
  return %b2
}
";

    #[test]
    fn gathers_round_trip_and_their_invariants_are_checked() {
        let p = parse_program(GATHER).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), GATHER);
        let with_slice = GATHER
            .replace("%b0[0; 8]", "%b0[0; 0]")
            .replace("{axis = 1, size = 8}", "{axis = 1, size = 8, slice = 3}");
        let p = parse_program(&with_slice).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), with_slice);
        let bad = |edit: (&str, &str), want: &str| {
            let src = GATHER.replace(edit.0, edit.1);
            assert_ne!(src, GATHER, "edit {edit:?} did not apply");
            let e = match parse_program(&src) {
                Err(e) => e.to_string(),
                Ok(p) => verify_program(&p).expect_err("verifier accepted a bad gather"),
            };
            assert!(e.contains(want), "{e}");
        };
        // The static part plus the largest index leaves the buffer.
        bad(
            ("%b0[0; 8]", "%b0[1; 8]"),
            "addresses elements 1..=32 of a buffer of 32",
        );
        bad(
            ("+ 1 * %0", "+ 8 * %0"),
            "addresses elements 0..=80 of a buffer of 32",
        );
        bad(
            ("+ 1 * %0", "+ 1 * %1"),
            "gather index %1 is f32, not an integer",
        );
        bad(("+ 1 * %0", "+ 1 * %3"), "scalar %3 is not defined");
        bad(
            ("size = 8}", "size = 8, slice = 9}"),
            "does not fit axis size 8",
        );
        bad(
            ("size = 8}", "size = 8, slice = 0}"),
            "does not fit axis size 8",
        );
        bad(
            (" + 1 * %0 {axis = 1, size = 8}", ""),
            "a gather without indices",
        );
        bad(
            (
                "%2 = gather %b0[0; 8] + 1 * %0 {axis = 1, size = 8} : f32",
                "%2 = gather %b0[0; 8] + 1 * %0 {axis = 1, size = 8} : f16",
            ),
            "gather of a f32 buffer typed f16",
        );
    }

    #[test]
    fn gather_errors_read_like_the_interpreter() {
        let d = DynIndex {
            arg: 0,
            stride: 1,
            dim: 5,
            slice: 1,
            axis: 1,
            clamp: false,
        };
        assert_eq!(d.wrap(-1), Some(4));
        assert_eq!(d.wrap(4), Some(4));
        assert_eq!(d.wrap(5), None);
        assert_eq!(d.wrap(-6), None);
        assert_eq!(d.wrap(i64::MIN), None);
        assert_eq!(
            d.error(5),
            "index along axis 1 5 is out of range for axis size 5"
        );
        let s = DynIndex { slice: 2, ..d };
        assert_eq!(s.wrap(4), None);
        assert_eq!(s.wrap(-2), Some(3));
        assert!(s.error(4).ends_with("for axis size 5 with slice size 2"));
        // A dynamic slice's start clamps instead (never an error).
        let c = DynIndex { clamp: true, ..s };
        assert_eq!(c.wrap(-2), Some(0));
        assert_eq!(c.wrap(4), Some(3));
        assert_eq!(c.wrap(i64::MAX), Some(3));
    }

    /// A copy of dst into %b3, then a scatter-add of the updates at rows
    /// picked by the indices.
    const SCATTER: &str =
        "kernel.program @s(%b0: tensor<4x3xf32>, %b1: tensor<2xi32>, %b2: tensor<2x3xf32>) -> (tensor<4x3xf32>) {
  %b3 = kernel.buffer : tensor<4x3xf32>
  kernel.fused @k0 domain [4, 3] reduce [] {
    map {
      %0 = load %b0[0; 3, 1] : f32
      store %b3[0; 3, 1], %0 : f32
    }
  }
  kernel.fused @k1 domain [2, 3] reduce [] {
    map {
      %0 = load %b1[0; 1, 0] : i32
      %1 = load %b2[0; 3, 1] : f32
      scatter.sum %b3[0; 0, 1] + 3 * %0 {axis = 0, size = 4}, %1 : f32
    }
  }
  return %b3
}
";

    #[test]
    fn scatters_round_trip_and_their_invariants_are_checked() {
        let p = parse_program(SCATTER).unwrap();
        verify_program(&p).unwrap();
        assert_eq!(print_program(&p), SCATTER);
        assert_eq!(p.items[1].updates(), vec![BufId(3)]);
        assert!(p.items[1].reads().contains(&BufId(3)));
        assert!(p.items[1].writes().is_empty());
        for k in ScatterKind::ALL {
            let src = SCATTER.replace("scatter.sum", &format!("scatter.{}", k.name()));
            assert_eq!(print_program(&parse_program(&src).unwrap()), src);
        }
        let clamped = SCATTER.replace("size = 4}", "size = 4, slice = 2, clamp}");
        assert_eq!(print_program(&parse_program(&clamped).unwrap()), clamped);
        let bad = |edit: (&str, &str), want: &str| {
            let src = SCATTER.replace(edit.0, edit.1);
            assert_ne!(src, SCATTER, "edit {edit:?} did not apply");
            let e = match parse_program(&src) {
                Err(e) => e.to_string(),
                Ok(p) => verify_program(&p).expect_err("verifier accepted a bad scatter"),
            };
            assert!(e.contains(want), "{e}");
        };
        bad(
            ("scatter.sum", "scatter.mean"),
            "unknown scatter `scatter.mean`",
        );
        bad(
            (
                "+ 3 * %0 {axis = 0, size = 4}",
                "+ 4 * %0 {axis = 0, size = 4}",
            ),
            "addresses elements 0..=14 of a buffer of 12",
        );
        bad(
            ("+ 3 * %0", "+ 3 * %1"),
            "scatter index %1 is f32, not an integer",
        );
        bad(
            ("}, %1 : f32", "}, %0 : f32"),
            "scatters a i32 into a f32 buffer",
        );
        // Nothing wrote the buffer before the scatter.
        bad(
            ("store %b3[0; 3, 1], %0 : f32", "%1 = exp %0 : f32"),
            "scatters into %b3 before anything writes it",
        );
        // Into a parameter.
        bad(("scatter.sum %b3", "scatter.sum %b0"), "not a temporary");
        // The scattering kernel also reads its target.
        bad(
            (
                "%1 = load %b2[0; 3, 1] : f32",
                "%1 = load %b3[0; 3, 1] : f32",
            ),
            "also loads or stores it",
        );
        bad(
            ("domain [2, 3] reduce []", "domain [2, 3] reduce [1]"),
            "scatters belong in the `map` stage of a kernel without reduce axes",
        );
    }

    #[test]
    fn parse_errors_have_positions() {
        let e = parse_program("kernel.program @f() -> () {\n  bogus\n}").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3), "{e}");
    }
}
