//! MLX-named ops. Each op comes in two forms: `try_name(...) -> Result<Array,
//! Error>` and `name(...) -> Array`, which never panics and records a failure
//! in the returned array (see the crate docs). Broadcasting and dtype
//! promotion are made explicit here, as `tensor.broadcast` and `tensor.cast`
//! ops, so the IR only ever sees equal shapes and dtypes.

pub mod conv;
pub mod creation;
pub mod elementwise;
pub mod fast;
pub mod fft;
pub mod indexing;
pub mod linalg;
pub mod linalg_mlx;
pub mod misc_mlx;
pub(crate) mod mlx_math;
pub mod quantized;
pub mod random;
pub mod reduce;
pub mod shape;

use crate::array::{build1, Array};
use crate::error::{shape_str, Error};
use psionic_ir::types::broadcast_shapes;
use psionic_ir::{Attr, Attrs, DType, Opcode, DYN};

/// Which axes an op works over: all of them, or a list (negative axes
/// count from the end). Built from `i32`, `&[i32]`, `[i32; N]`, `Vec<i32>`,
/// or [`Axes::All`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    All,
    List(Vec<i32>),
}

impl From<i32> for Axes {
    fn from(a: i32) -> Self {
        Axes::List(vec![a])
    }
}
impl From<&[i32]> for Axes {
    fn from(a: &[i32]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl From<Vec<i32>> for Axes {
    fn from(a: Vec<i32>) -> Self {
        Axes::List(a)
    }
}
impl<const N: usize> From<[i32; N]> for Axes {
    fn from(a: [i32; N]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl<const N: usize> From<&[i32; N]> for Axes {
    fn from(a: &[i32; N]) -> Self {
        Axes::List(a.to_vec())
    }
}
impl From<Option<i32>> for Axes {
    fn from(a: Option<i32>) -> Self {
        match a {
            Some(a) => Axes::List(vec![a]),
            None => Axes::All,
        }
    }
}

/// `axis` (negative counts from the end) as an index below `rank`.
pub(crate) fn norm_axis(op: &str, axis: i64, rank: usize) -> Result<usize, Error> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(Error::new(
            op,
            format!("axis {axis} is out of bounds for an array of rank {rank}"),
        ))
    }
}

/// Normalized, sorted axes; duplicates are an error.
pub(crate) fn norm_axes(op: &str, axes: &Axes, rank: usize) -> Result<Vec<i64>, Error> {
    match axes {
        Axes::All => Ok((0..rank as i64).collect()),
        Axes::List(list) => {
            let mut out = list
                .iter()
                .map(|&a| norm_axis(op, a as i64, rank).map(|a| a as i64))
                .collect::<Result<Vec<_>, _>>()?;
            out.sort_unstable();
            if out.windows(2).any(|w| w[0] == w[1]) {
                return Err(Error::new(op, format!("duplicate axes in {list:?}")));
            }
            Ok(out)
        }
    }
}

/// `x` converted to `dtype` (no op when it already is).
pub(crate) fn cast_to(op: &str, x: &Array, dtype: DType) -> Result<Array, Error> {
    x.check()?;
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    build1(
        op,
        Opcode::Cast,
        vec![x.clone()],
        Attrs::new().with("dtype", Attr::DType(dtype)),
    )
}

/// `x` broadcast to `shape` (no op when it already has it). With symbolic
/// dims in `shape`, `donors` give the shape through `tensor.broadcast_like`.
pub(crate) fn broadcast_to_shape(
    op: &str,
    x: &Array,
    shape: &[i64],
    donors: &[&Array],
) -> Result<Array, Error> {
    x.check()?;
    if x.shape() == shape {
        return Ok(x.clone());
    }
    if shape.contains(&DYN) {
        let mut inputs = vec![x.clone()];
        inputs.extend(donors.iter().map(|d| (*d).clone()));
        return build1(op, Opcode::BroadcastLike, inputs, Attrs::new());
    }
    build1(
        op,
        Opcode::Broadcast,
        vec![x.clone()],
        Attrs::new().with("shape", Attr::Ints(shape.to_vec())),
    )
}

/// The NumPy broadcast shape of several shapes, or an error naming them.
pub(crate) fn broadcast_shape_of(op: &str, shapes: &[&[i64]]) -> Result<Vec<i64>, Error> {
    let mut out: Vec<i64> = Vec::new();
    for (k, s) in shapes.iter().enumerate() {
        out = broadcast_shapes(&out, s).ok_or_else(|| {
            let names: Vec<String> = shapes[..=k].iter().map(|s| shape_str(s)).collect();
            Error::new(
                op,
                format!("shapes {} cannot be broadcast", names.join(" and ")),
            )
        })?;
    }
    Ok(out)
}

/// Broadcasts arrays against each other.
pub(crate) fn broadcast_all(op: &str, xs: &[Array]) -> Result<Vec<Array>, Error> {
    for x in xs {
        x.check()?;
    }
    let shapes: Vec<&[i64]> = xs.iter().map(|x| x.shape()).collect();
    let shape = broadcast_shape_of(op, &shapes)?;
    xs.iter()
        .map(|x| {
            let donors: Vec<&Array> = xs.iter().filter(|y| !y.same_node(x)).collect();
            broadcast_to_shape(op, x, &shape, &donors)
        })
        .collect()
}

/// A tensor of `shape` and `dtype` filled with `value`.
pub(crate) fn full_of(op: &str, shape: &[i64], dtype: DType, value: f64) -> Result<Array, Error> {
    build1(
        op,
        Opcode::Full,
        Vec::new(),
        Attrs::new()
            .with("value", Attr::Float(value))
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("dtype", Attr::DType(dtype)),
    )
}

/// Converts sizes given as `i32` (MLX's `Shape`) to IR dims, rejecting negatives.
pub(crate) fn dims(op: &str, shape: &[i32]) -> Result<Vec<i64>, Error> {
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return Err(Error::new(
            op,
            format!("shape {shape:?} has negative size {d}"),
        ));
    }
    Ok(shape.iter().map(|&d| d as i64).collect())
}

/// MLX's `at_least_float`: integer and bool dtypes become f32.
pub(crate) fn at_least_float(d: DType) -> DType {
    if d.is_inexact() {
        d
    } else {
        DType::F32
    }
}

/// Declares the infallible form of each `try_*` op: same arguments, the
/// error (if any) recorded in the returned array.
macro_rules! infallible {
    ($( $(#[$m:meta])* fn $name:ident = $try:ident ( $($arg:ident : $ty:ty),* $(,)? ); )*) => {$(
        $(#[$m])*
        pub fn $name($($arg: $ty),*) -> Array {
            crate::array::lift($try($($arg),*))
        }
    )*};
}
pub(crate) use infallible;
