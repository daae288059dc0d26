//! `tensor.random_bits`: MLX's counter-based Threefry-2x32 generator, bit for
//! bit (`mlx/backend/cpu/threefry.cpp` and `RandomBits::eval_cpu`).

use super::{dims, Res};
use psionic_ir::{Attrs, Literal, TensorType};

/// One Threefry-2x32 block (20 rounds) of `count` under `key`.
pub fn threefry2x32(key: (u32, u32), count: (u32, u32)) -> (u32, u32) {
    const ROTATIONS: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
    let ks = [key.0, key.1, key.0 ^ key.1 ^ 0x1BD1_1BDA];
    let (mut x0, mut x1) = (count.0.wrapping_add(ks[0]), count.1.wrapping_add(ks[1]));
    for i in 0..5usize {
        for &r in &ROTATIONS[i % 2] {
            x0 = x0.wrapping_add(x1);
            x1 = x1.rotate_left(r);
            x1 ^= x0;
        }
        x0 = x0.wrapping_add(ks[(i + 1) % 3]);
        x1 = x1.wrapping_add(ks[(i + 2) % 3]).wrapping_add(i as u32 + 1);
    }
    (x0, x1)
}

/// Writes word `loc` of a key's output, truncated at the end of its bytes.
fn put(buf: &mut [u8], loc: usize, v: u32) {
    let start = 4 * loc;
    let end = (start + 4).min(buf.len());
    if start < end {
        buf[start..end].copy_from_slice(&v.to_le_bytes()[..end - start]);
    }
}

/// The bytes MLX produces for one key: the output is split into two halves
/// of u32 words, and block `c` fills word `c` of the first half and word `c`
/// of the second.
fn fill_key(key: (u32, u32), buf: &mut [u8]) {
    let words = buf.len().div_ceil(4);
    let half = words / 2;
    let even = words.is_multiple_of(2);
    let second = half + usize::from(!even);
    for c in 0..half {
        let (a, b) = threefry2x32(key, (c as u32, (second + c) as u32));
        put(buf, c, a);
        put(buf, second + c, b);
    }
    if !even {
        let (a, _) = threefry2x32(key, (half as u32, 0));
        put(buf, half, a);
    }
}

pub fn random_bits(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let key = ops[0];
    let shape = dims(&out[0])?;
    let total_bytes = shape.iter().product::<usize>() * out[0].dtype.size();
    let num_keys = key.num_elements() / 2;
    let mut bytes = vec![0u8; total_bytes];
    if num_keys > 0 && total_bytes > 0 {
        let per_key = total_bytes / num_keys;
        let k = key.bytes();
        let word =
            |i: usize| u32::from_le_bytes([k[4 * i], k[4 * i + 1], k[4 * i + 2], k[4 * i + 3]]);
        for (i, chunk) in bytes.chunks_mut(per_key).enumerate() {
            fill_key((word(2 * i), word(2 * i + 1)), chunk);
        }
    }
    Ok(vec![
        Literal::from_bytes(out[0].dtype, shape, bytes).map_err(|e| e.to_string())?
    ])
}
