//! Sorting along an axis on the device: `tensor.sort`, `argsort`,
//! `partition` and `argpartition` of rows that fit in shared memory, as one
//! PTX kernel instead of a host round trip.
//!
//! One block per row (grid-stride over rows). The block loads its row into
//! shared memory as `(key, index)` pairs, pads it to a power of two `P`
//! with pairs that sort last, runs a bitonic sorting network (`log2(P) *
//! (log2(P) + 1) / 2` compare-exchange steps, one `bar.sync` each) and
//! writes the values, or the indices as `u32`, back along the axis.
//!
//! The result is exactly the reference interpreter's stable sort (NaNs last,
//! `-0.0` equal to `0.0`): the key is a `u64` whose unsigned order is the
//! interpreter's order on values (floats widened to f64, `-0.0` made `+0.0`,
//! every NaN the largest key; signed integers with the sign bit flipped),
//! and pairs compare by key then by original index, so the order is total
//! and the network's output is the one stable order. Partitions return the
//! sorted order, as the interpreter's do (one valid partition). The values
//! stored are the original bits, kept in shared memory, so the output may
//! share storage with the input.

use super::ptx::{KernelPtx, Shape};
use crate::sort_rows::{sort_rows, SortRows};
use psionic_ir::kernel::{KProgram, LibOp};
use psionic_ir::DType;
use std::fmt::Write;

/// Longest row sorted on the device: `P = 2048` pairs take 40 KiB of the
/// 48 KiB of static shared memory a block may have (8-byte key, 8-byte
/// value, 4-byte index each).
pub const MAX_SORT_ROW: usize = 2048;

/// The device sort of a library op this backend sorts on the device (see
/// [`crate::sort_rows`], rows of at most [`MAX_SORT_ROW`]), or `None`: a
/// host round trip.
pub fn sort_kernel(p: &KProgram, l: &LibOp, entry: &str) -> Option<KernelPtx> {
    let r = sort_rows(p, l, MAX_SORT_ROW)?;
    let shared_bytes = (r.pow2() * if r.indices { 12 } else { 20 }) as usize;
    Some(KernelPtx {
        entry: entry.to_string(),
        text: emit(entry, &r),
        params: vec![r.input, r.output],
        shape: Shape::Rows {
            rows: r.rows,
            row_len: r.n,
            block: block(&r),
            cached_bytes: shared_bytes,
        },
    })
}

/// Threads a block: one per compare-exchange pair, at least a warp.
fn block(r: &SortRows) -> u32 {
    (r.pow2() / 2).clamp(32, 1024) as u32
}

/// The `.entry` text. Registers: `%rd1`/`%rd2` input/output base, `%rd3`
/// row, `%rd4` grid size, `%rd5` the row's first element, `%r1` thread,
/// `%r4` element loop, `%r5` k, `%r6` j, `%r7` pair loop.
fn emit(entry: &str, r: &SortRows) -> String {
    let (dtype, indices) = (r.dtype, r.indices);
    let es = dtype.size() as u64;
    let (p, half, t) = (r.pow2(), r.pow2() / 2, block(r));
    let (n, inner, rows) = (r.n, r.inner, r.rows);
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        ".visible .entry {entry}(\n\t.param .u64 p_in,\n\t.param .u64 p_out\n)\n{{"
    );
    let _ = writeln!(w, "\t.reg .pred %p<12>;");
    let _ = writeln!(w, "\t.reg .b16 %h<4>;");
    let _ = writeln!(w, "\t.reg .b32 %r<32>;");
    let _ = writeln!(w, "\t.reg .f32 %f<4>;");
    let _ = writeln!(w, "\t.reg .f64 %fd<4>;");
    let _ = writeln!(w, "\t.reg .b64 %rd<40>;");
    let _ = writeln!(w, "\t.shared .align 8 .b64 skey[{p}];");
    if !indices {
        let _ = writeln!(w, "\t.shared .align 8 .b64 sraw[{p}];");
    }
    let _ = writeln!(w, "\t.shared .align 4 .b32 sidx[{p}];");
    let ins = |w: &mut String, i: &str| {
        let _ = writeln!(w, "\t{i};");
    };
    let label = |w: &mut String, l: &str| {
        let _ = writeln!(w, "{l}:");
    };
    ins(w, "ld.param.u64 %rd1, [p_in]");
    ins(w, "cvta.to.global.u64 %rd1, %rd1");
    ins(w, "ld.param.u64 %rd2, [p_out]");
    ins(w, "cvta.to.global.u64 %rd2, %rd2");
    ins(w, "mov.u32 %r1, %tid.x");
    ins(w, "mov.u32 %r2, %ctaid.x");
    ins(w, "cvt.u64.u32 %rd3, %r2");
    ins(w, "mov.u32 %r3, %nctaid.x");
    ins(w, "cvt.u64.u32 %rd4, %r3");
    ins(w, "mov.u64 %rd30, skey");
    ins(w, "mov.u64 %rd31, sidx");
    if !indices {
        ins(w, "mov.u64 %rd32, sraw");
    }

    // ---- one row per iteration ----
    label(w, "ROW");
    ins(w, &format!("setp.ge.u64 %p1, %rd3, {rows}"));
    ins(w, "@%p1 bra DONE");
    // first element: (row / inner) * n * inner + row % inner
    ins(w, &format!("div.u64 %rd5, %rd3, {inner}"));
    ins(w, &format!("mul.lo.u64 %rd6, %rd5, {inner}"));
    ins(w, "sub.u64 %rd6, %rd3, %rd6");
    ins(w, &format!("mul.lo.u64 %rd5, %rd5, {}", n * inner));
    ins(w, "add.u64 %rd5, %rd5, %rd6");

    // ---- load: key, raw bits and index of each of the P slots ----
    ins(w, "mov.u32 %r4, %r1");
    label(w, "LOAD");
    ins(w, &format!("setp.ge.u32 %p2, %r4, {p}"));
    ins(w, "@%p2 bra LOADED");
    // padding: the largest key, an index past every element's
    ins(w, "mov.b64 %rd8, 0xFFFFFFFFFFFFFFFF");
    ins(w, "mov.b64 %rd9, 0");
    ins(w, &format!("setp.ge.u32 %p3, %r4, {n}"));
    ins(w, "@%p3 bra KEYED");
    ins(w, "cvt.u64.u32 %rd10, %r4");
    ins(w, &format!("mad.lo.u64 %rd10, %rd10, {inner}, %rd5"));
    ins(w, &format!("mad.lo.u64 %rd10, %rd10, {es}, %rd1"));
    load_raw(w, es, "%rd9", "%rd10");
    key_of(w, dtype, "%rd8", "%rd9");
    label(w, "KEYED");
    ins(w, "mul.wide.u32 %rd11, %r4, 8");
    ins(w, "add.u64 %rd12, %rd30, %rd11");
    ins(w, "st.shared.u64 [%rd12], %rd8");
    if !indices {
        ins(w, "add.u64 %rd12, %rd32, %rd11");
        ins(w, "st.shared.u64 [%rd12], %rd9");
    }
    ins(w, "mul.wide.u32 %rd11, %r4, 4");
    ins(w, "add.u64 %rd12, %rd31, %rd11");
    ins(w, "st.shared.u32 [%rd12], %r4");
    ins(w, &format!("add.u32 %r4, %r4, {t}"));
    ins(w, "bra LOAD");
    label(w, "LOADED");
    ins(w, "bar.sync 0");

    // ---- bitonic network: for k = 2..=P, j = k/2..1, every pair (i, i+j) ----
    ins(w, "mov.u32 %r5, 2");
    label(w, "KLOOP");
    ins(w, &format!("setp.gt.u32 %p2, %r5, {p}"));
    ins(w, "@%p2 bra SORTED");
    ins(w, "shr.u32 %r6, %r5, 1");
    label(w, "JLOOP");
    ins(w, "setp.eq.u32 %p2, %r6, 0");
    ins(w, "@%p2 bra JDONE");
    ins(w, "mov.u32 %r7, %r1");
    label(w, "TLOOP");
    ins(w, &format!("setp.ge.u32 %p2, %r7, {half}"));
    ins(w, "@%p2 bra TDONE");
    // i = ((t & ~(j-1)) << 1) | (t & (j-1)); l = i + j
    ins(w, "sub.u32 %r8, %r6, 1");
    ins(w, "and.b32 %r9, %r7, %r8");
    ins(w, "not.b32 %r10, %r8");
    ins(w, "and.b32 %r10, %r7, %r10");
    ins(w, "shl.b32 %r10, %r10, 1");
    ins(w, "or.b32 %r9, %r10, %r9");
    ins(w, "add.u32 %r11, %r9, %r6");
    ins(w, "mul.wide.u32 %rd13, %r9, 8");
    ins(w, "add.u64 %rd13, %rd30, %rd13");
    ins(w, "mul.wide.u32 %rd14, %r11, 8");
    ins(w, "add.u64 %rd14, %rd30, %rd14");
    ins(w, "mul.wide.u32 %rd15, %r9, 4");
    ins(w, "add.u64 %rd15, %rd31, %rd15");
    ins(w, "mul.wide.u32 %rd16, %r11, 4");
    ins(w, "add.u64 %rd16, %rd31, %rd16");
    ins(w, "ld.shared.u64 %rd17, [%rd13]");
    ins(w, "ld.shared.u64 %rd18, [%rd14]");
    ins(w, "ld.shared.u32 %r12, [%rd15]");
    ins(w, "ld.shared.u32 %r13, [%rd16]");
    // greater = (key_i, idx_i) > (key_l, idx_l)
    ins(w, "setp.gt.u64 %p3, %rd17, %rd18");
    ins(w, "setp.eq.u64 %p4, %rd17, %rd18");
    ins(w, "setp.gt.u32 %p5, %r12, %r13");
    ins(w, "and.pred %p4, %p4, %p5");
    ins(w, "or.pred %p3, %p3, %p4");
    // ascending = (i & k) == 0; swap when greater == ascending
    ins(w, "and.b32 %r14, %r9, %r5");
    ins(w, "setp.eq.u32 %p6, %r14, 0");
    ins(w, "xor.pred %p7, %p3, %p6");
    ins(w, "@%p7 bra NOSWAP");
    ins(w, "st.shared.u64 [%rd13], %rd18");
    ins(w, "st.shared.u64 [%rd14], %rd17");
    ins(w, "st.shared.u32 [%rd15], %r13");
    ins(w, "st.shared.u32 [%rd16], %r12");
    label(w, "NOSWAP");
    ins(w, &format!("add.u32 %r7, %r7, {t}"));
    ins(w, "bra TLOOP");
    label(w, "TDONE");
    ins(w, "bar.sync 0");
    ins(w, "shr.u32 %r6, %r6, 1");
    ins(w, "bra JLOOP");
    label(w, "JDONE");
    ins(w, "shl.b32 %r5, %r5, 1");
    ins(w, "bra KLOOP");
    label(w, "SORTED");

    // ---- store the first n slots along the axis ----
    ins(w, "mov.u32 %r4, %r1");
    label(w, "STORE");
    ins(w, &format!("setp.ge.u32 %p2, %r4, {n}"));
    ins(w, "@%p2 bra STORED");
    ins(w, "mul.wide.u32 %rd11, %r4, 4");
    ins(w, "add.u64 %rd12, %rd31, %rd11");
    ins(w, "ld.shared.u32 %r15, [%rd12]");
    ins(w, "cvt.u64.u32 %rd10, %r4");
    ins(w, &format!("mad.lo.u64 %rd10, %rd10, {inner}, %rd5"));
    if indices {
        ins(w, "mad.lo.u64 %rd10, %rd10, 4, %rd2");
        ins(w, "st.global.u32 [%rd10], %r15");
    } else {
        ins(w, &format!("mad.lo.u64 %rd10, %rd10, {es}, %rd2"));
        ins(w, "mul.wide.u32 %rd11, %r15, 8");
        ins(w, "add.u64 %rd12, %rd32, %rd11");
        ins(w, "ld.shared.u64 %rd9, [%rd12]");
        store_raw(w, es, "%rd10", "%rd9");
    }
    ins(w, &format!("add.u32 %r4, %r4, {t}"));
    ins(w, "bra STORE");
    label(w, "STORED");
    // The next row reuses shared memory.
    ins(w, "bar.sync 0");
    ins(w, "add.u64 %rd3, %rd3, %rd4");
    ins(w, "bra ROW");
    label(w, "DONE");
    ins(w, "ret");
    s.push_str("}\n");
    s
}

/// `raw` = the `es`-byte element at address `a`, zero-extended.
fn load_raw(w: &mut String, es: u64, raw: &str, a: &str) {
    let _ = match es {
        1 => writeln!(w, "\tld.global.u8 %h1, [{a}];\n\tcvt.u64.u16 {raw}, %h1;"),
        2 => writeln!(w, "\tld.global.u16 %h1, [{a}];\n\tcvt.u64.u16 {raw}, %h1;"),
        4 => writeln!(
            w,
            "\tld.global.u32 %r20, [{a}];\n\tcvt.u64.u32 {raw}, %r20;"
        ),
        _ => writeln!(w, "\tld.global.u64 {raw}, [{a}];"),
    };
}

/// Stores the low `es` bytes of `raw` at address `a`.
fn store_raw(w: &mut String, es: u64, a: &str, raw: &str) {
    let _ = match es {
        1 => writeln!(w, "\tcvt.u16.u64 %h2, {raw};\n\tst.global.u8 [{a}], %h2;"),
        2 => writeln!(w, "\tcvt.u16.u64 %h2, {raw};\n\tst.global.u16 [{a}], %h2;"),
        4 => writeln!(
            w,
            "\tcvt.u32.u64 %r21, {raw};\n\tst.global.u32 [{a}], %r21;"
        ),
        _ => writeln!(w, "\tst.global.u64 [{a}], {raw};"),
    };
}

/// `key` = the order-preserving `u64` of the element whose bits are `raw`
/// (see the module doc).
fn key_of(w: &mut String, d: DType, key: &str, raw: &str) {
    let mut ins = |i: String| {
        let _ = writeln!(w, "\t{i};");
    };
    if d.is_float() {
        match d {
            DType::F64 => ins(format!("mov.b64 %fd1, {raw}")),
            DType::F32 => {
                ins(format!("cvt.u32.u64 %r22, {raw}"));
                ins("mov.b32 %f1, %r22".into());
                ins("cvt.f64.f32 %fd1, %f1".into());
            }
            DType::F16 => {
                ins(format!("cvt.u16.u64 %h3, {raw}"));
                ins("cvt.f32.f16 %f1, %h3".into());
                ins("cvt.f64.f32 %fd1, %f1".into());
            }
            _ => {
                // bf16: the high half of an f32
                ins(format!("cvt.u32.u64 %r22, {raw}"));
                ins("shl.b32 %r22, %r22, 16".into());
                ins("mov.b32 %f1, %r22".into());
                ins("cvt.f64.f32 %fd1, %f1".into());
            }
        }
        // -0.0 + 0.0 is +0.0: equal values get equal keys.
        ins("add.rn.f64 %fd1, %fd1, 0d0000000000000000".into());
        ins("mov.b64 %rd20, %fd1".into());
        ins("setp.lt.s64 %p8, %rd20, 0".into());
        ins("not.b64 %rd21, %rd20".into());
        ins("or.b64 %rd22, %rd20, 0x8000000000000000".into());
        ins(format!("selp.b64 {key}, %rd21, %rd22, %p8"));
        ins("setp.nan.f64 %p9, %fd1, %fd1".into());
        ins(format!("@%p9 mov.b64 {key}, 0xFFFFFFFFFFFFFFFF"));
    } else if d.is_signed_integer() {
        let shift = 64 - 8 * d.size();
        if shift > 0 {
            ins(format!("shl.b64 {key}, {raw}, {shift}"));
            ins(format!("shr.s64 {key}, {key}, {shift}"));
            ins(format!("xor.b64 {key}, {key}, 0x8000000000000000"));
        } else {
            ins(format!("xor.b64 {key}, {raw}, 0x8000000000000000"));
        }
    } else {
        ins(format!("mov.b64 {key}, {raw}"));
    }
}
