//! Linear algebra kernels over the last two axes, computed in f64 with
//! `faer`: `tensor.qr`, `tensor.svd`, `tensor.inverse`, `tensor.cholesky`,
//! `tensor.eigh`, `tensor.eig`.
//!
//! SVD and `eigh` also take c64 (Hermitian for `eigh`); the others take real
//! matrices. Factorizations are unique only up to signs (QR, SVD, eigenvectors) and
//! order (`eig`); these follow faer's conventions, which need not match
//! LAPACK's choices in MLX. Unique results (singular values, `eigh`
//! eigenvalues, inverses, Cholesky factors) match MLX within rounding.

use super::{complex_lit, complexes, dims, lit, Res};
use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use num_complex::Complex64;
use psionic_ir::{Attrs, DType, Literal, TensorType};

/// The operand as a list of (rows x cols) f64 matrices.
fn matrices(a: &Literal) -> Result<(Vec<Mat<f64>>, usize, usize), String> {
    if a.dtype() == DType::C64 {
        return Err("this factorization takes real matrices (f32 or f64), not c64".into());
    }
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let v = a.to_f64_vec();
    let per = m * n;
    let count = v
        .len()
        .checked_div(per)
        .unwrap_or_else(|| s[..s.len() - 2].iter().product());
    let mats = (0..count)
        .map(|b| Mat::from_fn(m, n, |i, j| v[b * per + i * n + j]))
        .collect();
    Ok((mats, m, n))
}

fn push_mat(out: &mut Vec<f64>, m: faer::MatRef<'_, f64>) {
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.push(m[(i, j)]);
        }
    }
}

fn check_finite(m: &Mat<f64>, what: &str) -> Result<(), String> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(format!("{what}: the matrix has a non-finite entry"));
            }
        }
    }
    Ok(())
}

/// Results for an operand with an empty matrix axis: every square result of
/// non-zero size is the identity (U and Vt of an SVD), everything else zeros.
fn empty_results(out: &[TensorType]) -> Res {
    out.iter()
        .map(|t| {
            let shape = dims(t)?;
            let r = shape.len();
            let n: usize = shape.iter().product();
            let mut v = vec![0.0; n];
            if r >= 2 && shape[r - 1] == shape[r - 2] && shape[r - 1] > 0 {
                let k = shape[r - 1];
                for (i, x) in v.iter_mut().enumerate() {
                    if (i % (k * k)) / k == i % k {
                        *x = 1.0;
                    }
                }
            }
            if t.dtype == DType::C64 {
                let c: Vec<Complex64> = v.iter().map(|&x| Complex64::new(x, 0.0)).collect();
                complex_lit(t, &c)
            } else {
                lit(t, &v)
            }
        })
        .collect()
}

fn has_empty_matrix(a: &Literal) -> bool {
    let s = a.shape();
    s[s.len() - 1] == 0 || s[s.len() - 2] == 0
}

pub fn qr(_: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let (mut q, mut r) = (Vec::new(), Vec::new());
    for a in &mats {
        let f = a.qr();
        push_mat(&mut q, f.compute_thin_Q().as_ref());
        push_mat(&mut r, f.thin_R());
    }
    Ok(vec![lit(&out[0], &q)?, lit(&out[1], &r)?])
}

pub fn svd(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    if ops[0].dtype() == DType::C64 {
        return svd_complex(attrs, ops, out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let uv = attrs.bool("compute_uv")?;
    let (mut u, mut s, mut vt) = (Vec::new(), Vec::new(), Vec::new());
    for a in &mats {
        check_finite(a, "svd")?;
        if uv {
            let f = a
                .svd()
                .map_err(|e| format!("svd did not converge: {e:?}"))?;
            push_mat(&mut u, f.U());
            s.extend(f.S().column_vector().iter().copied());
            push_mat(&mut vt, f.V().transpose());
        } else {
            s.extend(
                a.singular_values()
                    .map_err(|e| format!("svd did not converge: {e:?}"))?,
            );
        }
    }
    if uv {
        Ok(vec![
            lit(&out[0], &u)?,
            lit(&out[1], &s)?,
            lit(&out[2], &vt)?,
        ])
    } else {
        Ok(vec![lit(&out[0], &s)?])
    }
}

/// The matrix with the triangle not read zeroed (`lower`: keep i >= j).
fn triangle(a: &Mat<f64>, lower: bool) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
        if (lower && i >= j) || (!lower && i <= j) {
            a[(i, j)]
        } else {
            0.0
        }
    })
}

pub fn inverse(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let tri = attrs.bool("tri")?;
    let upper = attrs.bool("upper")?;
    let mut res = Vec::new();
    for a in &mats {
        let a = if tri { triangle(a, !upper) } else { a.clone() };
        let lu = a.partial_piv_lu();
        let inv = lu.inverse();
        // A singular matrix shows up as a non-finite inverse.
        check_finite(&inv, "inverse").map_err(|_| "inverse: the matrix is singular".to_string())?;
        push_mat(&mut res, inv.as_ref());
    }
    Ok(vec![lit(&out[0], &res)?])
}

/// The symmetric matrix read from one triangle.
fn symmetric(a: &Mat<f64>, lower: bool) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
        let (r, c) = if (i >= j) == lower { (i, j) } else { (j, i) };
        a[(r, c)]
    })
}

pub fn cholesky(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let upper = attrs.bool("upper")?;
    let mut res = Vec::new();
    for a in &mats {
        let s = symmetric(a, !upper);
        let f = s
            .llt(Side::Lower)
            .map_err(|e| format!("cholesky: the matrix is not positive definite ({e:?})"))?;
        let l = f.L();
        if upper {
            push_mat(&mut res, l.transpose());
        } else {
            push_mat(&mut res, l);
        }
    }
    Ok(vec![lit(&out[0], &res)?])
}

pub fn eigh(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    if ops[0].dtype() == DType::C64 {
        return eigh_complex(attrs, ops, out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let lower = attrs.str("uplo")? == "L";
    let vectors = attrs.bool("compute_eigenvectors")?;
    let (mut w, mut v) = (Vec::new(), Vec::new());
    for a in &mats {
        check_finite(a, "eigh")?;
        let s = symmetric(a, lower);
        let f = s
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| format!("eigh did not converge: {e:?}"))?;
        w.extend(f.S().column_vector().iter().copied());
        if vectors {
            push_mat(&mut v, f.U());
        }
    }
    let mut outs = vec![lit(&out[0], &w)?];
    if vectors {
        outs.push(lit(&out[1], &v)?);
    }
    Ok(outs)
}

pub fn eig(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    if has_empty_matrix(ops[0]) {
        return empty_results(out);
    }
    let (mats, _, _) = matrices(ops[0])?;
    let vectors = attrs.bool("compute_eigenvectors")?;
    let (mut w, mut v): (Vec<Complex64>, Vec<Complex64>) = (Vec::new(), Vec::new());
    for a in &mats {
        check_finite(a, "eig")?;
        let f = a
            .eigen()
            .map_err(|e| format!("eig did not converge: {e:?}"))?;
        w.extend(
            f.S()
                .column_vector()
                .iter()
                .map(|c| Complex64::new(c.re, c.im)),
        );
        if vectors {
            let u = f.U();
            for i in 0..u.nrows() {
                for j in 0..u.ncols() {
                    let c = u[(i, j)];
                    v.push(Complex64::new(c.re, c.im));
                }
            }
        }
    }
    let _ = dims(&out[0])?;
    let mut outs = vec![complex_lit(&out[0], &w)?];
    if vectors {
        outs.push(complex_lit(&out[1], &v)?);
    }
    Ok(outs)
}

// ---- complex (c64) SVD and Hermitian eigendecomposition ----

/// The c64 operand as a list of (rows x cols) complex matrices.
fn complex_matrices(a: &Literal) -> Vec<Mat<faer::c64>> {
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let v = complexes(a);
    let per = m * n;
    (0..v.len() / per)
        .map(|b| {
            Mat::from_fn(m, n, |i, j| {
                let c = v[b * per + i * n + j];
                faer::c64::new(c.re, c.im)
            })
        })
        .collect()
}

fn push_complex(out: &mut Vec<Complex64>, m: faer::MatRef<'_, faer::c64>) {
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            let c = m[(i, j)];
            out.push(Complex64::new(c.re, c.im));
        }
    }
}

fn check_finite_complex(m: &Mat<faer::c64>, what: &str) -> Result<(), String> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let c = m[(i, j)];
            if !(c.re.is_finite() && c.im.is_finite()) {
                return Err(format!("{what}: the matrix has a non-finite entry"));
            }
        }
    }
    Ok(())
}

fn svd_complex(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let uv = attrs.bool("compute_uv")?;
    let (mut u, mut s, mut vt) = (Vec::new(), Vec::new(), Vec::new());
    for a in &complex_matrices(ops[0]) {
        check_finite_complex(a, "svd")?;
        let f = a
            .svd()
            .map_err(|e| format!("svd did not converge: {e:?}"))?;
        s.extend(f.S().column_vector().iter().map(|c| c.re));
        if uv {
            push_complex(&mut u, f.U());
            // A = U S V^H, and MLX gives Vt = V^H.
            let vm = f.V();
            for i in 0..vm.ncols() {
                for j in 0..vm.nrows() {
                    let c = vm[(j, i)];
                    vt.push(Complex64::new(c.re, -c.im));
                }
            }
        }
    }
    if uv {
        Ok(vec![
            complex_lit(&out[0], &u)?,
            lit(&out[1], &s)?,
            complex_lit(&out[2], &vt)?,
        ])
    } else {
        Ok(vec![lit(&out[0], &s)?])
    }
}

fn eigh_complex(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let lower = attrs.str("uplo")? == "L";
    let vectors = attrs.bool("compute_eigenvectors")?;
    let (mut w, mut v) = (Vec::new(), Vec::new());
    for a in &complex_matrices(ops[0]) {
        check_finite_complex(a, "eigh")?;
        // The Hermitian matrix read from one triangle (the diagonal's
        // imaginary parts are ignored, as LAPACK does).
        let h = Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
            if i == j {
                faer::c64::new(a[(i, i)].re, 0.0)
            } else if (i > j) == lower {
                a[(i, j)]
            } else {
                let c = a[(j, i)];
                faer::c64::new(c.re, -c.im)
            }
        });
        let f = h
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| format!("eigh did not converge: {e:?}"))?;
        w.extend(f.S().column_vector().iter().map(|c| c.re));
        if vectors {
            push_complex(&mut v, f.U());
        }
    }
    let mut outs = vec![lit(&out[0], &w)?];
    if vectors {
        outs.push(complex_lit(&out[1], &v)?);
    }
    Ok(outs)
}
