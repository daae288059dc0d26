//! `matmul` (NumPy rules: 1-d operands and broadcast batch axes) and `addmm`.

use super::elementwise::{try_add, try_multiply};
use super::shape::{try_expand_dims, try_squeeze};
use super::{broadcast_shape_of, broadcast_to_shape, cast_to, infallible};
use crate::array::{build1, Array};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Opcode, DYN};

/// Prepared operands: both at least 2-d, batch axes broadcast, one float dtype.
struct Prepared {
    a: Array,
    b: Array,
    squeeze: Vec<i32>,
    dtype: DType,
}

fn prepare(op: &str, a: &Array, b: &Array) -> Result<Prepared, Error> {
    a.check()?;
    b.check()?;
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::new(
            op,
            format!(
                "operands must have at least one dimension, found shapes {} and {}",
                shape_str(a.shape()),
                shape_str(b.shape())
            ),
        ));
    }
    let dtype = a.dtype().promote(b.dtype());
    if !dtype.is_inexact() {
        return Err(Error::new(
            op,
            format!(
                "only floating point types are supported, found {} and {}",
                a.dtype(),
                b.dtype()
            ),
        ));
    }
    let mut squeeze = Vec::new();
    let a2 = if a.ndim() == 1 {
        squeeze.push(-2);
        try_expand_dims(a, 0)?
    } else {
        a.clone()
    };
    let b2 = if b.ndim() == 1 {
        squeeze.push(-1);
        try_expand_dims(b, -1)?
    } else {
        b.clone()
    };
    let (ra, rb) = (a2.ndim(), b2.ndim());
    let (k1, k2) = (a2.shape()[ra - 1], b2.shape()[rb - 2]);
    if k1 != k2 && k1 != DYN && k2 != DYN {
        return Err(Error::new(
            op,
            format!(
                "last dimension of the first input with shape {} must match the second to last dimension of the second input with shape {}",
                shape_str(a2.shape()),
                shape_str(b2.shape())
            ),
        ));
    }
    let batch = broadcast_shape_of(op, &[&a2.shape()[..ra - 2], &b2.shape()[..rb - 2]])?;
    let mut sa = batch.clone();
    sa.extend_from_slice(&a2.shape()[ra - 2..]);
    let mut sb = batch;
    sb.extend_from_slice(&b2.shape()[rb - 2..]);
    let (ac, bc) = (cast_to(op, &a2, dtype)?, cast_to(op, &b2, dtype)?);
    let (a3, b3) = if sa.contains(&DYN) || sb.contains(&DYN) {
        // Symbolic batch sizes: broadcast against the other operand's batch
        // axes only (MLX's BroadcastAxes), keeping each one's matrix axes.
        (batch_like(op, &ac, &bc)?, batch_like(op, &bc, &ac)?)
    } else {
        (
            broadcast_to_shape(op, &ac, &sa, &[])?,
            broadcast_to_shape(op, &bc, &sb, &[])?,
        )
    };
    Ok(Prepared {
        a: a3,
        b: b3,
        squeeze,
        dtype,
    })
}

/// `x` broadcast to the batch axes of `x` and `other`, matrix axes kept.
fn batch_like(op: &str, x: &Array, other: &Array) -> Result<Array, Error> {
    if x.ndim() >= other.ndim() && x.shape()[..x.ndim() - 2] == other.shape()[..other.ndim() - 2] {
        return Ok(x.clone());
    }
    build1(
        op,
        Opcode::BroadcastLike,
        vec![x.clone(), other.clone()],
        Attrs::new().with("ignore_axes", Attr::Ints(vec![-2, -1])),
    )
}

fn finish(r: Array, squeeze: &[i32]) -> Result<Array, Error> {
    if squeeze.is_empty() {
        return Ok(r);
    }
    try_squeeze(&r, squeeze.to_vec())
}

/// Matrix product with NumPy's rules: a 1-d first operand is a row vector
/// and a 1-d second operand a column vector (the added axis is removed
/// again); batch axes broadcast. Only float dtypes, as in MLX.
pub fn try_matmul(a: &Array, b: &Array) -> Result<Array, Error> {
    let p = prepare("matmul", a, b)?;
    let r = build1("matmul", Opcode::Matmul, vec![p.a, p.b], Attrs::new())?;
    finish(r, &p.squeeze)
}

/// `alpha * (a @ b) + beta * c`, with `c` broadcast to the product's shape.
pub fn try_addmm(c: &Array, a: &Array, b: &Array, alpha: f32, beta: f32) -> Result<Array, Error> {
    c.check()?;
    let p = prepare("addmm", a, b)?;
    if !p.squeeze.is_empty() {
        // A vector operand: compose, as the fused op wants matrices.
        let m = try_matmul(a, b)?;
        let lhs = try_multiply(&m, alpha)?;
        let rhs = try_multiply(c, beta)?;
        return try_add(&lhs, &rhs);
    }
    let dtype = p.dtype.promote(c.dtype());
    let (pa, pb) = (
        cast_to("addmm", &p.a, dtype)?,
        cast_to("addmm", &p.b, dtype)?,
    );
    let mut out = pa.shape()[..pa.ndim() - 1].to_vec();
    out.push(pb.shape()[pb.ndim() - 1]);
    let b_shape = broadcast_shape_of("addmm", &[c.shape(), &out])?;
    if b_shape != out {
        return Err(Error::new(
            "addmm",
            format!(
                "c of shape {} does not broadcast to the product's shape {}",
                shape_str(c.shape()),
                shape_str(&out)
            ),
        ));
    }
    let c2 = broadcast_to_shape("addmm", &cast_to("addmm", c, dtype)?, &out, &[])?;
    build1(
        "addmm",
        Opcode::AddMM,
        vec![c2, pa, pb],
        Attrs::new()
            .with("alpha", Attr::Float(alpha as f64))
            .with("beta", Attr::Float(beta as f64)),
    )
}

infallible! {
    /// See [`try_matmul`].
    fn matmul = try_matmul(a: &Array, b: &Array);
    /// See [`try_addmm`].
    fn addmm = try_addmm(c: &Array, a: &Array, b: &Array, alpha: f32, beta: f32);
}
