//! `psionic_mlx::linalg`: MLX's `mx.linalg` (`mlx/linalg.cpp`) over the
//! IR's `tensor.qr`, `tensor.svd`, `tensor.inverse`, `tensor.cholesky`,
//! `tensor.eigh` and `tensor.eig`, composed as MLX composes them (`norm`,
//! `pinv`, `cholesky_inv`, `solve_triangular`, `cross`). `solve` uses the
//! inverse, where MLX uses an LU factorization: equal up to rounding.
//! Factorizations give MLX's shapes; signs and orders of eigen- and
//! singular vectors may differ from LAPACK's where they are not unique.

use super::elementwise::{
    try_abs, try_greater, try_multiply, try_negative, try_not_equal, try_power, try_reciprocal,
    try_sqrt, try_square, try_subtract, try_where,
};
use super::linalg::try_matmul;
use super::reduce::{try_max, try_min, try_sum};
use super::shape::{
    try_broadcast_to, try_concatenate, try_expand_dims, try_flatten, try_moveaxis, try_reshape,
    try_slice, try_split, try_swapaxes,
};
use super::{at_least_float, cast_to, full_of, infallible, norm_axis};
use crate::array::{build, build1, Array};
use crate::error::{shape_str, Error};
use psionic_ir::{Attr, Attrs, DType, Opcode};

fn check_float(op: &str, a: &Array) -> Result<(), Error> {
    a.check()?;
    if a.dtype() != DType::F32 && a.dtype() != DType::F64 {
        return Err(Error::new(
            op,
            format!(
                "arrays must have type float32 or float64, received array with type {}",
                a.dtype()
            ),
        ));
    }
    Ok(())
}

fn check_matrix(op: &str, a: &Array, square: bool) -> Result<(), Error> {
    if a.ndim() < 2 {
        return Err(Error::new(
            op,
            format!(
                "arrays must have >= 2 dimensions, received array with {} dimensions",
                a.ndim()
            ),
        ));
    }
    if square && a.shape()[a.ndim() - 1] != a.shape()[a.ndim() - 2] {
        return Err(Error::new(op, "only defined for square matrices"));
    }
    Ok(())
}

/// The `ord` of [`try_norm`].
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum NormOrd {
    /// The 2-norm of vectors, Frobenius of matrices (MLX's `ord=None`).
    #[default]
    Default,
    /// A numeric order: vectors any p (0, ±inf included); matrices 1, -1,
    /// 2, -2, inf, -inf.
    P(f64),
    /// Frobenius (`"fro"`), matrices only.
    Fro,
    /// Nuclear (`"nuc"`: sum of singular values), matrices only.
    Nuc,
}

fn l2(a: &Array, axes: &[i32], keepdims: bool) -> Result<Array, Error> {
    let sq = if a.dtype() == DType::C64 {
        let m = try_abs(a)?;
        try_multiply(&m, &m)?
    } else {
        try_square(a)?
    };
    try_sqrt(&try_sum(&sq, axes.to_vec(), keepdims)?)
}

fn vector_norm(a: &Array, ord: f64, axes: &[i32], keepdims: bool) -> Result<Array, Error> {
    let op = "linalg::norm";
    let d = at_least_float(a.dtype());
    let ax = axes.to_vec();
    if ord == 0.0 {
        cast_to(op, &try_sum(&try_not_equal(a, 0)?, ax, keepdims)?, d)
    } else if ord == 1.0 {
        cast_to(op, &try_sum(&try_abs(a)?, ax, keepdims)?, d)
    } else if ord == 2.0 {
        l2(a, axes, keepdims)
    } else if ord == f64::INFINITY {
        cast_to(op, &try_max(&try_abs(a)?, ax, keepdims)?, d)
    } else if ord == f64::NEG_INFINITY {
        cast_to(op, &try_min(&try_abs(a)?, ax, keepdims)?, d)
    } else {
        let p = full_of(op, &[], d, ord)?;
        let inv = full_of(op, &[], d, 1.0 / ord)?;
        try_power(&try_sum(&try_power(&try_abs(a)?, &p)?, ax, keepdims)?, &inv)
    }
}

/// Singular values of the matrices on axes (row, col).
fn singular_values(a: &Array, row: usize, col: usize) -> Result<Array, Error> {
    let m = if row > col {
        try_moveaxis(&try_moveaxis(a, row as i32, -1)?, col as i32, -1)?
    } else {
        try_moveaxis(&try_moveaxis(a, col as i32, -1)?, row as i32, -2)?
    };
    let s = build(
        "linalg::norm",
        Opcode::Svd,
        vec![m],
        Attrs::new().with("compute_uv", Attr::Bool(false)),
    )?;
    s.into_iter()
        .next()
        .ok_or_else(|| Error::new("linalg::norm", "tensor.svd gave no result"))
}

fn matrix_norm(a: &Array, ord: NormOrd, axes: &[i32], keepdims: bool) -> Result<Array, Error> {
    let op = "linalg::norm";
    let d = at_least_float(a.dtype());
    let mut row = norm_axis(op, axes[0] as i64, a.ndim())?;
    let mut col = norm_axis(op, axes[1] as i64, a.ndim())?;
    let sorted = if row < col {
        vec![row as i32, col as i32]
    } else {
        vec![col as i32, row as i32]
    };
    let p = match ord {
        NormOrd::Default | NormOrd::Fro => return l2(a, axes, keepdims),
        NormOrd::Nuc => {
            let mut s = try_sum(&singular_values(a, row, col)?, -1, false)?;
            if keepdims {
                s = try_expand_dims(&s, sorted)?;
            }
            return Ok(s);
        }
        NormOrd::P(p) => p,
    };
    let abs = try_abs(a)?;
    let r = if p == 1.0 || p == -1.0 {
        if !keepdims && col > row && col > 0 {
            col -= 1;
        }
        let s = try_sum(&abs, row as i32, keepdims)?;
        if p == 1.0 {
            try_max(&s, col as i32, keepdims)?
        } else {
            try_min(&s, col as i32, keepdims)?
        }
    } else if p.is_infinite() {
        if !keepdims && row > col && row > 0 {
            row -= 1;
        }
        let s = try_sum(&abs, col as i32, keepdims)?;
        if p > 0.0 {
            try_max(&s, row as i32, keepdims)?
        } else {
            try_min(&s, row as i32, keepdims)?
        }
    } else if p == 2.0 || p == -2.0 {
        let s = singular_values(a, row, col)?;
        let mut s = if p == 2.0 {
            try_max(&s, -1, false)?
        } else {
            try_min(&s, -1, false)?
        };
        if keepdims {
            s = try_expand_dims(&s, sorted)?;
        }
        s
    } else {
        return Err(Error::new(op, format!("invalid ord {p} for matrix norm")));
    };
    cast_to(op, &r, d)
}

/// Vector or matrix norm over `axis` (MLX's `linalg.norm`): with no axis
/// and the default `ord`, the 2-norm of the flattened array; otherwise one
/// axis gives a vector norm and two a matrix norm.
pub fn try_norm(
    a: &Array,
    ord: NormOrd,
    axis: Option<&[i32]>,
    keepdims: bool,
) -> Result<Array, Error> {
    let op = "linalg::norm";
    a.check()?;
    let axes: Vec<i32> = match axis {
        Some(ax) => ax.to_vec(),
        None => {
            if ord == NormOrd::Default {
                let flat = try_flatten(a, 0, -1)?;
                let out = l2(&flat, &[0], keepdims)?;
                return if keepdims {
                    try_reshape(&out, &vec![1; a.ndim()])
                } else {
                    Ok(out)
                };
            }
            (0..a.ndim() as i32).collect()
        }
    };
    match (axes.len(), ord) {
        (1, NormOrd::Default) => l2(a, &axes, keepdims),
        (1, NormOrd::P(p)) => vector_norm(a, p, &axes, keepdims),
        (2, o) => matrix_norm(a, o, &axes, keepdims),
        (1, _) => Err(Error::new(
            op,
            "norms 'fro' and 'nuc' are only supported for matrices",
        )),
        _ => Err(Error::new(op, "received too many axes for norm")),
    }
}

/// Reduced QR factorization of the last two axes: `(Q, R)`.
pub fn try_qr(a: &Array) -> Result<(Array, Array), Error> {
    let op = "linalg::qr";
    check_float(op, a)?;
    check_matrix(op, a, false)?;
    let r = build(op, Opcode::Qr, vec![a.clone()], Attrs::new())?;
    let [q, r] = <[Array; 2]>::try_from(r).map_err(|_| Error::new(op, "expected two results"))?;
    Ok((q, r))
}

/// SVD of the last two axes: `[U, S, Vt]` (full U and Vt), or `[S]` when
/// `compute_uv` is false.
pub fn try_svd(a: &Array, compute_uv: bool) -> Result<Vec<Array>, Error> {
    let op = "linalg::svd";
    check_float(op, a)?;
    check_matrix(op, a, false)?;
    build(
        op,
        Opcode::Svd,
        vec![a.clone()],
        Attrs::new().with("compute_uv", Attr::Bool(compute_uv)),
    )
}

fn inverse(op: &str, a: &Array, tri: bool, upper: bool) -> Result<Array, Error> {
    check_float(op, a)?;
    check_matrix(op, a, true)?;
    build1(
        op,
        Opcode::Inverse,
        vec![a.clone()],
        Attrs::new()
            .with("tri", Attr::Bool(tri))
            .with("upper", Attr::Bool(upper)),
    )
}

/// Inverse of square matrices.
pub fn try_inv(a: &Array) -> Result<Array, Error> {
    inverse("linalg::inv", a, false, false)
}

/// Inverse of triangular matrices (the `upper` or lower triangle is read).
pub fn try_tri_inv(a: &Array, upper: bool) -> Result<Array, Error> {
    inverse("linalg::tri_inv", a, true, upper)
}

/// Cholesky factor `L` (`A = L L^T`), or `U` with `upper`.
pub fn try_cholesky(a: &Array, upper: bool) -> Result<Array, Error> {
    let op = "linalg::cholesky";
    check_float(op, a)?;
    check_matrix(op, a, true)?;
    build1(
        op,
        Opcode::Cholesky,
        vec![a.clone()],
        Attrs::new().with("upper", Attr::Bool(upper)),
    )
}

/// Inverse of `A` from its Cholesky factor.
pub fn try_cholesky_inv(l: &Array, upper: bool) -> Result<Array, Error> {
    let op = "linalg::cholesky_inv";
    check_float(op, l)?;
    check_matrix(op, l, true)?;
    let li = try_tri_inv(l, upper)?;
    let lt = try_swapaxes(&li, -1, -2)?;
    if upper {
        try_matmul(&li, &lt)
    } else {
        try_matmul(&lt, &li)
    }
}

/// Moore-Penrose pseudo-inverse from the SVD, singular values below
/// `10 * max(m, n) * eps * max(S)` dropped (MLX's `pinv`).
pub fn try_pinv(a: &Array) -> Result<Array, Error> {
    let op = "linalg::pinv";
    check_float(op, a)?;
    check_matrix(op, a, false)?;
    let r = a.ndim();
    let (m, n) = (a.shape()[r - 2], a.shape()[r - 1]);
    if a.size() == 0 {
        let mut s: Vec<i32> = a.shape().iter().map(|&d| d as i32).collect();
        s.swap(r - 1, r - 2);
        return super::creation::try_zeros(&s, a.dtype());
    }
    let k = m.min(n);
    let usv = try_svd(a, true)?;
    let [u, s, v] =
        <[Array; 3]>::try_from(usv).map_err(|_| Error::new(op, "expected three results"))?;
    let start = vec![0i32; r];
    let mut ends: Vec<i32> = a.shape().iter().map(|&d| d as i32).collect();
    ends[r - 2] = m as i32;
    ends[r - 1] = k as i32;
    let u = try_swapaxes(&try_slice(&u, &start, &ends, &vec![1; r])?, -1, -2)?;
    ends[r - 2] = k as i32;
    ends[r - 1] = n as i32;
    let v = try_swapaxes(&try_slice(&v, &start, &ends, &vec![1; r])?, -1, -2)?;
    let s = try_expand_dims(&s, -2)?;
    let eps = if a.dtype() == DType::F64 {
        f64::EPSILON
    } else {
        f32::EPSILON as f64
    };
    let rcond = 10.0 * m.max(n) as f64 * eps;
    let cutoff = try_multiply(
        &full_of(op, &[], a.dtype(), rcond)?,
        &try_max(&s, -1, true)?,
    )?;
    let rs = try_where(
        &try_greater(&s, &cutoff)?,
        &try_reciprocal(&s)?,
        &full_of(op, &[], a.dtype(), 0.0)?,
    )?;
    try_matmul(&try_multiply(&v, &rs)?, &u)
}

fn eigh_impl(op: &str, a: &Array, uplo: &str, vectors: bool) -> Result<Vec<Array>, Error> {
    check_float(op, a)?;
    check_matrix(op, a, true)?;
    if uplo != "L" && uplo != "U" {
        return Err(Error::new(
            op,
            format!("uplo must be 'L' or 'U', found {uplo:?}"),
        ));
    }
    build(
        op,
        Opcode::Eigh,
        vec![a.clone()],
        Attrs::new()
            .with("uplo", Attr::Str(uplo.into()))
            .with("compute_eigenvectors", Attr::Bool(vectors)),
    )
}

/// Eigenvalues (ascending) and eigenvectors (columns) of symmetric
/// matrices, reading triangle `uplo` (MLX default `"L"`).
pub fn try_eigh(a: &Array, uplo: &str) -> Result<(Array, Array), Error> {
    let r = eigh_impl("linalg::eigh", a, uplo, true)?;
    let [w, v] = <[Array; 2]>::try_from(r)
        .map_err(|_| Error::new("linalg::eigh", "expected two results"))?;
    Ok((w, v))
}

/// Eigenvalues (ascending) of symmetric matrices.
pub fn try_eigvalsh(a: &Array, uplo: &str) -> Result<Array, Error> {
    let r = eigh_impl("linalg::eigvalsh", a, uplo, false)?;
    r.into_iter()
        .next()
        .ok_or_else(|| Error::new("linalg::eigvalsh", "expected a result"))
}

fn eig_impl(op: &str, a: &Array, vectors: bool) -> Result<Vec<Array>, Error> {
    a.check()?;
    if ![DType::F32, DType::F64, DType::C64].contains(&a.dtype()) {
        return Err(Error::new(
            op,
            format!(
                "arrays must have type float32, float64 or complex64, received array with type {}",
                a.dtype()
            ),
        ));
    }
    check_matrix(op, a, true)?;
    build(
        op,
        Opcode::Eig,
        vec![a.clone()],
        Attrs::new().with("compute_eigenvectors", Attr::Bool(vectors)),
    )
}

/// Eigenvalues and eigenvectors (columns) of general square matrices, c64.
pub fn try_eig(a: &Array) -> Result<(Array, Array), Error> {
    let r = eig_impl("linalg::eig", a, true)?;
    let [w, v] =
        <[Array; 2]>::try_from(r).map_err(|_| Error::new("linalg::eig", "expected two results"))?;
    Ok((w, v))
}

/// Eigenvalues of general square matrices, c64.
pub fn try_eigvals(a: &Array) -> Result<Array, Error> {
    let r = eig_impl("linalg::eigvals", a, false)?;
    r.into_iter()
        .next()
        .ok_or_else(|| Error::new("linalg::eigvals", "expected a result"))
}

fn check_solve(op: &str, a: &Array, b: &Array) -> Result<(), Error> {
    check_float(op, a)?;
    b.check()?;
    check_matrix(op, a, true)?;
    if b.ndim() < 1 {
        return Err(Error::new(op, "b must have at least one dimension"));
    }
    let n = a.shape()[a.ndim() - 1];
    let bn = if b.ndim() == 1 {
        b.shape()[0]
    } else {
        b.shape()[b.ndim() - 2]
    };
    if bn != n {
        return Err(Error::new(
            op,
            format!(
                "the last dimension of a {} must match the rows of b {}",
                shape_str(a.shape()),
                shape_str(b.shape())
            ),
        ));
    }
    Ok(())
}

/// `x` with `a @ x = b` (square `a`; `b` a vector or matrices).
pub fn try_solve(a: &Array, b: &Array) -> Result<Array, Error> {
    check_solve("linalg::solve", a, b)?;
    try_matmul(&try_inv(a)?, b)
}

/// `x` with `a @ x = b` for triangular `a` (MLX: `tri_inv(a) @ b`).
pub fn try_solve_triangular(a: &Array, b: &Array, upper: bool) -> Result<Array, Error> {
    check_solve("linalg::solve_triangular", a, b)?;
    try_matmul(&try_tri_inv(a, upper)?, b)
}

/// Cross product of 2- or 3-vectors along `axis` (MLX default `-1`).
pub fn try_cross(a: &Array, b: &Array, axis: i32) -> Result<Array, Error> {
    let op = "linalg::cross";
    a.check()?;
    b.check()?;
    for x in [a, b] {
        let ax = norm_axis(op, axis as i64, x.ndim())?;
        if !(2..=3).contains(&x.shape()[ax]) {
            return Err(Error::new(op, "the specified axis must have size 2 or 3"));
        }
    }
    let (aa, ba) = (
        norm_axis(op, axis as i64, a.ndim())?,
        norm_axis(op, axis as i64, b.ndim())?,
    );
    let (a2, b2) = (a.shape()[aa] == 2, b.shape()[ba] == 2);
    let dt = a.dtype().promote(b.dtype());
    let mut ash = a.shape().to_vec();
    ash[aa] = 3;
    let mut bsh = b.shape().to_vec();
    bsh[ba] = 3;
    let mut out = super::broadcast_shape_of(op, &[&ash, &bsh])?;
    let ax = if axis < 0 {
        axis + out.len() as i32
    } else {
        axis
    } as usize;
    let to32 = |v: &[i64]| v.iter().map(|&d| d as i32).collect::<Vec<i32>>();
    out[ax] = if a2 { 2 } else { 3 };
    let a_ = try_broadcast_to(&cast_to(op, a, dt)?, &to32(&out))?;
    out[ax] = if b2 { 2 } else { 3 };
    let b_ = try_broadcast_to(&cast_to(op, b, dt)?, &to32(&out))?;
    let asp = try_split(&a_, if a2 { 2 } else { 3 }, ax as i32)?;
    let bsp = try_split(&b_, if b2 { 2 } else { 3 }, ax as i32)?;
    let mul = |x: &Array, y: &Array| try_multiply(x, y);
    let mut outs = Vec::new();
    if a2 && b2 {
        let z = super::creation::try_zeros_like(&asp[0])?;
        outs.push(z.clone());
        outs.push(z);
    } else if b2 {
        outs.push(try_negative(&mul(&asp[2], &bsp[1])?)?);
        outs.push(mul(&asp[2], &bsp[0])?);
    } else if a2 {
        outs.push(mul(&asp[1], &bsp[2])?);
        outs.push(try_negative(&mul(&asp[0], &bsp[2])?)?);
    } else {
        outs.push(try_subtract(
            &mul(&asp[1], &bsp[2])?,
            &mul(&asp[2], &bsp[1])?,
        )?);
        outs.push(try_subtract(
            &mul(&asp[2], &bsp[0])?,
            &mul(&asp[0], &bsp[2])?,
        )?);
    }
    outs.push(try_subtract(
        &mul(&asp[0], &bsp[1])?,
        &mul(&asp[1], &bsp[0])?,
    )?);
    try_concatenate(&outs, ax as i32)
}

infallible! {
    /// See [`try_norm`].
    fn norm = try_norm(a: &Array, ord: NormOrd, axis: Option<&[i32]>, keepdims: bool);
    /// See [`try_inv`].
    fn inv = try_inv(a: &Array);
    /// See [`try_tri_inv`].
    fn tri_inv = try_tri_inv(a: &Array, upper: bool);
    /// See [`try_cholesky`].
    fn cholesky = try_cholesky(a: &Array, upper: bool);
    /// See [`try_cholesky_inv`].
    fn cholesky_inv = try_cholesky_inv(l: &Array, upper: bool);
    /// See [`try_pinv`].
    fn pinv = try_pinv(a: &Array);
    /// See [`try_eigvalsh`].
    fn eigvalsh = try_eigvalsh(a: &Array, uplo: &str);
    /// See [`try_eigvals`].
    fn eigvals = try_eigvals(a: &Array);
    /// See [`try_solve`].
    fn solve = try_solve(a: &Array, b: &Array);
    /// See [`try_solve_triangular`].
    fn solve_triangular = try_solve_triangular(a: &Array, b: &Array, upper: bool);
    /// See [`try_cross`].
    fn cross = try_cross(a: &Array, b: &Array, axis: i32);
}
