//! The random draws `nn` needs (initializers, dropout): MLX's key-based
//! generator on the IR's threefry `tensor.random_bits`, with MLX's global
//! key sequence (`seed`), `uniform` and `normal` formulas.

use crate::array::{build1, Array};
use crate::error::Error;
use crate::ops::elementwise as ew;
use psionic_ir::{Attr, Attrs, DType, Opcode};
use std::sync::Mutex;

static KEY: Mutex<Option<[u32; 2]>> = Mutex::new(None);

/// Seeds the global key sequence (MLX's `mx.random.seed`).
pub fn seed(seed: u64) {
    let mut k = KEY.lock().unwrap_or_else(|e| e.into_inner());
    *k = Some([(seed >> 32) as u32, seed as u32]);
}

/// Threefry bits of `shape` (u32) from `key`.
pub fn bits(shape: &[i64], key: &Array) -> Result<Array, Error> {
    build1(
        "random.bits",
        Opcode::RandomBits,
        vec![key.clone()],
        Attrs::new()
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("width", Attr::Int(4)),
    )
}

/// The next key of the global sequence: split the state in two, keep the
/// first half as the new state and hand out the second (as MLX does).
pub fn next_key() -> Result<Array, Error> {
    let mut guard = KEY.lock().unwrap_or_else(|e| e.into_inner());
    let cur = match *guard {
        Some(k) => k,
        None => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            [(t >> 32) as u32, t as u32]
        }
    };
    let split = bits(&[2, 2], &crate::array(&cur, &[2]))?;
    let v = split.to_vec::<u32>()?;
    *guard = Some([v[0], v[1]]);
    Ok(crate::array(&[v[2], v[3]], &[2]))
}

fn key_or_next(key: Option<&Array>) -> Result<Array, Error> {
    match key {
        Some(k) => Ok(k.clone()),
        None => next_key(),
    }
}

/// MLX's `uniform(low, high, shape)`: f32 in `[low, high)`.
pub fn uniform(
    low: f32,
    high: f32,
    shape: &[i64],
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let k = key_or_next(key)?;
    let b = bits(shape, &k)?;
    let u = crate::try_divide(&crate::try_astype(&b, DType::F32)?, u32::MAX as f32)?;
    let upper = f32::from_bits(1.0f32.to_bits() - 1);
    let u = ew::try_minimum(&u, upper)?;
    let out = crate::try_add(&crate::try_multiply(&u, high - low)?, low)?;
    crate::try_astype(&out, dtype)
}

/// MLX's `normal(shape, loc, scale)`: `sqrt(2) * erfinv(u)` for `u`
/// uniform in `(-1, 1)`.
pub fn normal(
    shape: &[i64],
    loc: f32,
    scale: f32,
    dtype: DType,
    key: Option<&Array>,
) -> Result<Array, Error> {
    let low = f32::from_bits((-1.0f32).to_bits() - 1);
    let u = uniform(low, 1.0, shape, DType::F32, key)?;
    let s = crate::try_multiply(&ew::try_erfinv(&u)?, std::f32::consts::SQRT_2)?;
    let s = crate::try_add(&crate::try_multiply(&s, scale)?, loc)?;
    crate::try_astype(&s, dtype)
}

/// MLX's `bernoulli(p, shape)`: true with probability `p`.
pub fn bernoulli(p: f32, shape: &[i64], key: Option<&Array>) -> Result<Array, Error> {
    let u = uniform(0.0, 1.0, shape, DType::F32, key)?;
    ew::try_less(&u, p)
}
