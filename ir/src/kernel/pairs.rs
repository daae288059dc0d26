//! Complex values at the kernel level: a `c64` tensor of shape `S` is held
//! in an `f32` buffer of shape `[S..., 2]` (interleaved real and imaginary
//! parts: the bytes of the `c64` tensor, as the interpreter, `.mlxfn` and
//! MLX lay them out). Kernels read and write the parts with plain `f32`
//! loads and stores, so no code generator knows about complex numbers.
//!
//! A `kernel.op` whose tensor-level operands or results are complex says
//! which of its buffers hold pairs with the attribute [`ATTR`]: the
//! positions, inputs first then outputs (`{c64_pairs = [0, 1]}`: input 0
//! and, for a one-input op, output 0). Whoever runs the op reads those
//! buffers as `c64` of shape `S` ([`unpaired`]) and writes its `c64`
//! results back as pairs; the verifier checks the op table's types on the
//! unpaired types.

use crate::{Attr, Attrs, DType, TensorType};

/// The `kernel.op` attribute naming the buffers that hold `c64` pairs.
pub const ATTR: &str = "c64_pairs";

/// The buffer type holding a value of type `t`: `f32 [S..., 2]` for a
/// `c64 [S...]`, `t` itself otherwise.
pub fn paired(t: &TensorType) -> TensorType {
    if t.dtype != DType::C64 {
        return t.clone();
    }
    let mut shape = t.shape.clone();
    shape.push(2);
    TensorType::new(DType::F32, shape)
}

/// The `c64 [S...]` type a pair buffer of type `f32 [S..., 2]` holds, or an
/// error naming a type that holds no pairs.
pub fn unpaired(t: &TensorType) -> Result<TensorType, String> {
    if t.dtype != DType::F32 || t.shape.last() != Some(&2) {
        return Err(format!("{t} does not hold c64 pairs (want f32 [..., 2])"));
    }
    Ok(TensorType::new(
        DType::C64,
        t.shape[..t.shape.len() - 1].to_vec(),
    ))
}

/// Splits a `kernel.op`'s attributes into the op's own and the positions
/// of its pair buffers (inputs first, then outputs); an error for a
/// malformed [`ATTR`].
pub fn split_attrs(attrs: &Attrs, n_buffers: usize) -> Result<(Attrs, Vec<bool>), String> {
    let mut own = Attrs::new();
    let mut pairs = vec![false; n_buffers];
    for (name, a) in attrs.iter() {
        if name != ATTR {
            own.set(name, a.clone());
            continue;
        }
        let Attr::Ints(ix) = a else {
            return Err(format!("`{ATTR}` must be a list of buffer positions"));
        };
        for &i in ix {
            if i < 0 || i as usize >= n_buffers || pairs[i as usize] {
                return Err(format!(
                    "`{ATTR}` position {i} is out of range or repeated ({n_buffers} buffers)"
                ));
            }
            pairs[i as usize] = true;
        }
    }
    Ok((own, pairs))
}

/// `attrs` with [`ATTR`] listing `pairs` (unchanged when none is set).
pub fn with_pairs(attrs: &Attrs, pairs: &[bool]) -> Attrs {
    let ix: Vec<i64> = (0..pairs.len())
        .filter(|&i| pairs[i])
        .map(|i| i as i64)
        .collect();
    if ix.is_empty() {
        return attrs.clone();
    }
    attrs.clone().with(ATTR, Attr::Ints(ix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_types_round_trip_and_bad_input_is_an_error() {
        let c = TensorType::from_dims(DType::C64, &[3, 4]);
        let p = paired(&c);
        assert_eq!(p, TensorType::from_dims(DType::F32, &[3, 4, 2]));
        assert_eq!(unpaired(&p).unwrap(), c);
        assert!(unpaired(&TensorType::from_dims(DType::F32, &[3])).is_err());
        let f = TensorType::from_dims(DType::F32, &[5]);
        assert_eq!(paired(&f), f);
        let a = with_pairs(&Attrs::new(), &[true, false, true]);
        let (own, pairs) = split_attrs(&a, 3).unwrap();
        assert!(own.is_empty());
        assert_eq!(pairs, vec![true, false, true]);
        assert!(split_attrs(&a, 2).is_err());
        let bad = Attrs::new().with(ATTR, Attr::Int(0));
        assert!(split_attrs(&bad, 1).is_err());
    }
}
