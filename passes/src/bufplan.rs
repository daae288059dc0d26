//! Buffer planning: assigns the temporaries of a kernel-level program to
//! arena slots so that buffers whose lifetimes do not overlap share memory.
//!
//! - Liveness: a temporary lives from the item that first writes it to the
//!   last item that reads or updates it (a scatter kernel reads the buffer
//!   it updates: [`Item::reads`]); an update never moves it to another
//!   slot. Results live to the end and keep their own memory
//!   (they are handed to the caller); parameters and constants are not
//!   planned.
//! - In place: a kernel's output takes the slot of an input that dies in
//!   that kernel when the two have the same size and every load of the input
//!   uses exactly the address map of the output's store (each element is read
//!   before it is overwritten, and by no other iteration). Never for a
//!   kernel with scans (GPU backends read their rows twice), nor over an
//!   input the kernel gathers from (a gather reads data-dependent elements).
//!   The copy kernel of a scatter (a load and a store of one map) is
//!   therefore in place when the destination dies there, and the scatter
//!   kernel after it updates that slot.
//! - Otherwise the smallest free slot that is large enough is reused, else
//!   the largest free slot grows, else a new slot is opened.
//!
//! The kernel interpreter honours slots (buffers of one slot share storage),
//! so a wrong plan shows up as wrong numbers in tests.

use psionic_ir::kernel::{BufId, BufferKind, Instr, Item, KProgram, StageKind};
use std::collections::{HashMap, HashSet};

/// What planning decided, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BufferPlan {
    /// Size of each slot.
    pub slot_bytes: Vec<u64>,
    /// Bytes of result buffers (not shared).
    pub result_bytes: u64,
    /// Memory the program needs beyond its parameters and constants:
    /// the arena (sum of slots) plus the results.
    pub peak_bytes: u64,
    /// Bytes without planning: every temporary in its own memory.
    pub unplanned_bytes: u64,
    /// Outputs written over a dying input.
    pub in_place: usize,
    /// Temporaries that reused a freed slot.
    pub reused: usize,
}

fn bytes(p: &KProgram, b: BufId) -> u64 {
    p.buffer(b).ty.num_bytes().unwrap_or(0) as u64
}

/// True when the kernel of `item` may write `out` over `input`.
fn in_place_ok(item: &Item, input: BufId, out: BufId) -> bool {
    let Item::Kernel(k) = item else { return false };
    // A scan's backends read a row in two passes (chunk totals, then
    // running values): never overwrite a scan kernel's input.
    if k.stages
        .iter()
        .flat_map(|s| &s.nodes)
        .any(|n| matches!(n.instr, Instr::Scan { .. }))
    {
        return false;
    }
    let mut store_map = None;
    for s in &k.stages {
        for n in &s.nodes {
            if let Instr::Store { buf, map, .. } = &n.instr {
                if *buf == out {
                    if s.kind != StageKind::Map || store_map.is_some_and(|m| m != map) {
                        return false;
                    }
                    store_map = Some(map);
                }
            }
        }
    }
    let Some(store_map) = store_map else {
        return false;
    };
    k.stages
        .iter()
        .flat_map(|s| &s.nodes)
        .all(|n| match &n.instr {
            Instr::Load { buf, map } if *buf == input => map == store_map,
            // A gather reads elements other iterations may have overwritten;
            // backends read a guarded load at an index clamped into its box,
            // another element than the one stored: neither is ever in place.
            Instr::Gather { buf, .. } | Instr::LoadOr { buf, .. } => *buf != input,
            _ => true,
        })
}

/// Plans `p` in place (sets [`psionic_ir::kernel::Buffer::slot`]) and reports.
pub fn plan(p: &mut KProgram) -> BufferPlan {
    let results: HashSet<BufId> = p.results.iter().copied().collect();
    let mut last_use: HashMap<BufId, usize> = HashMap::new();
    for (i, it) in p.items.iter().enumerate() {
        for b in it.reads().into_iter().chain(it.writes()) {
            last_use.insert(b, i);
        }
    }
    let planned = |b: BufId| p.buffer(b).kind == BufferKind::Temp && !results.contains(&b);
    let mut report = BufferPlan::default();
    let mut slot_of: HashMap<BufId, u32> = HashMap::new();
    let mut free: Vec<u32> = Vec::new();
    for b in 0..p.buffers.len() {
        let b = BufId(b as u32);
        if p.buffer(b).kind == BufferKind::Temp {
            if results.contains(&b) {
                report.result_bytes += bytes(p, b);
            } else {
                report.unplanned_bytes += bytes(p, b);
            }
        }
    }
    report.unplanned_bytes += report.result_bytes;
    for (i, it) in p.items.iter().enumerate() {
        let reads = it.reads();
        let dying: Vec<BufId> = reads
            .iter()
            .copied()
            .filter(|&b| planned(b) && last_use.get(&b) == Some(&i) && slot_of.contains_key(&b))
            .collect();
        let mut taken: HashSet<BufId> = HashSet::new();
        for out in it.writes() {
            if !planned(out) || slot_of.contains_key(&out) {
                continue;
            }
            let need = bytes(p, out);
            if let Some(&x) = dying
                .iter()
                .find(|&&x| !taken.contains(&x) && bytes(p, x) == need && in_place_ok(it, x, out))
            {
                taken.insert(x);
                slot_of.insert(out, slot_of[&x]);
                report.in_place += 1;
                continue;
            }
            let fit = free
                .iter()
                .enumerate()
                .filter(|(_, &s)| report.slot_bytes[s as usize] >= need)
                .min_by_key(|(_, &s)| report.slot_bytes[s as usize])
                .map(|(k, _)| k)
                .or_else(|| {
                    free.iter()
                        .enumerate()
                        .max_by_key(|(_, &s)| report.slot_bytes[s as usize])
                        .map(|(k, _)| k)
                });
            let s = match fit {
                Some(k) => {
                    let s = free.swap_remove(k);
                    let sz = &mut report.slot_bytes[s as usize];
                    *sz = (*sz).max(need);
                    report.reused += 1;
                    s
                }
                None => {
                    report.slot_bytes.push(need);
                    report.slot_bytes.len() as u32 - 1
                }
            };
            slot_of.insert(out, s);
        }
        // Inputs that die here (and were not overwritten in place) free
        // their slots, as do outputs nothing reads.
        for &x in &dying {
            if !taken.contains(&x) {
                free.push(slot_of[&x]);
            }
        }
        for out in it.writes() {
            // (An updated buffer is no write: when nothing reads it
            // later, it is in `dying`.)
            if planned(out) && last_use.get(&out) == Some(&i) {
                free.push(slot_of[&out]);
            }
        }
    }
    for (b, s) in slot_of {
        p.buffers[b.index()].slot = Some(s);
    }
    report.peak_bytes = report.slot_bytes.iter().sum::<u64>() + report.result_bytes;
    report
}
