//! Sorting along an axis as a compute shader: `tensor.sort`, `argsort`,
//! `partition` and `argpartition` of rows of up to [`MAX_SORT_ROW`]
//! elements, instead of a host round trip. The same algorithm as the CUDA
//! backend's (`crate::cuda::sort`): one workgroup per row loads `(key,
//! index)` pairs into workgroup memory, pads them to a power of two with
//! pairs that sort last and runs a bitonic network, one
//! `workgroupBarrier` per step.
//!
//! Every dtype this backend holds is one 32-bit word per element (f16 and
//! bf16 as f32, narrow integers as i32/u32, bool as 0/1), so the key is a
//! `u32` whose unsigned order is the interpreter's: floats with `-0.0`
//! made `+0.0`, every NaN the largest key, signed integers with the sign bit
//! flipped. Ties compare by index, so the result is the interpreter's
//! stable sort bit for bit; values are stored from a workgroup copy of the
//! row's original words, so the output may share storage with the input.

use super::kernel::{ShaderKernel, MAX_GROUPS};
use crate::sort_rows::sort_rows;
use psionic_ir::kernel::{KProgram, LibOp};
use std::fmt::Write;

/// Longest row sorted on the device: 3 words a slot of workgroup memory,
/// within the 16 KiB WebGPU guarantees.
pub const MAX_SORT_ROW: usize = 1024;

/// The shader of a library op this backend sorts on the device (see the
/// module doc), or `None` for any other op: a host round trip.
/// `storage_of` maps buffers to device storage (one binding each).
pub fn sort_shader(
    p: &KProgram,
    storage_of: &[usize],
    l: &LibOp,
    name: &str,
) -> Option<ShaderKernel> {
    let r = sort_rows(p, l, MAX_SORT_ROW)?;
    let (indices, dtype, input, output) = (r.indices, r.dtype, r.input, r.output);
    let (n, inner, rows) = (r.n, r.inner, r.rows);
    // f64 and 64-bit integers have no WGSL type: such programs run on the
    // interpreter as a whole (see `scalar::dev_type`).
    super::scalar::dev_type(dtype).ok()?;
    let pow2 = r.pow2();
    let block = (pow2 / 2).clamp(32, 256);
    let (si, so) = (storage_of[input.index()], storage_of[output.index()]);
    // One binding per storage: an in-place sort binds its storage once.
    let (bindings, in_bind, out_bind) = if si == so {
        (vec![(si, true)], 0, 0)
    } else {
        (vec![(si, false), (so, true)], 0, 1)
    };
    let entry = "psi_sort".to_string();
    let mut w = String::new();
    for (i, (_, write)) in bindings.iter().enumerate() {
        let acc = if *write { "read_write" } else { "read" };
        let _ = writeln!(
            w,
            "@group(0) @binding({i}) var<storage, {acc}> s{i}: array<u32>;"
        );
    }
    let _ = writeln!(w, "var<workgroup> skey: array<u32, {pow2}>;");
    let _ = writeln!(w, "var<workgroup> sidx: array<u32, {pow2}>;");
    if !indices {
        let _ = writeln!(w, "var<workgroup> sraw: array<u32, {pow2}>;");
    }
    let key = if dtype.is_float() {
        "    if ((w & 0x7fffffffu) > 0x7f800000u) {\n        return 0xffffffffu;\n    }\n    \
         let u = select(w, 0u, w == 0x80000000u);\n    \
         return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);"
    } else if dtype.is_signed_integer() {
        "    return w ^ 0x80000000u;"
    } else {
        "    return w;"
    };
    let _ = writeln!(w, "\nfn psi_sort_key(w: u32) -> u32 {{\n{key}\n}}\n");
    let store = if indices { "sidx[i]" } else { "sraw[sidx[i]]" };
    let keep_raw = if indices {
        ""
    } else {
        "\n            sraw[i] = raw;"
    };
    let half = pow2 / 2;
    let _ = write!(
        w,
        "@compute @workgroup_size({block})
fn {entry}(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{
    for (var row = wid.x; row < {rows}u; row = row + nwg.x) {{
        let base = (row / {inner}u) * {stride}u + row % {inner}u;
        for (var i = lid.x; i < {pow2}u; i = i + {block}u) {{
            var key = 0xffffffffu;
            var raw = 0u;
            if (i < {n}u) {{
                raw = s{in_bind}[base + i * {inner}u];
                key = psi_sort_key(raw);
            }}
            skey[i] = key;
            sidx[i] = i;{keep_raw}
        }}
        workgroupBarrier();
        for (var k = 2u; k <= {pow2}u; k = k << 1u) {{
            for (var j = k >> 1u; j > 0u; j = j >> 1u) {{
                for (var t = lid.x; t < {half}u; t = t + {block}u) {{
                    let i = ((t & ~(j - 1u)) << 1u) | (t & (j - 1u));
                    let l = i + j;
                    let ki = skey[i];
                    let kl = skey[l];
                    let ii = sidx[i];
                    let il = sidx[l];
                    let greater = ki > kl || (ki == kl && ii > il);
                    if (greater == ((i & k) == 0u)) {{
                        skey[i] = kl;
                        skey[l] = ki;
                        sidx[i] = il;
                        sidx[l] = ii;
                    }}
                }}
                workgroupBarrier();
            }}
        }}
        for (var i = lid.x; i < {n}u; i = i + {block}u) {{
            s{out_bind}[base + i * {inner}u] = {store};
        }}
        workgroupBarrier();
    }}
}}
",
        stride = n * inner,
    );
    Some(ShaderKernel {
        name: name.to_string(),
        entry,
        wgsl: w,
        bindings,
        groups: [rows.min(MAX_GROUPS) as u32, 1, 1],
    })
}
