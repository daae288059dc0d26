//! Contractions: batched matmul and addmm, accumulated in f64 (complex in
//! f64 pairs) with the contraction index ascending, rounded once.

use psionic_ir::Literal;

use super::complex::C;
use super::data::{decode, encode, Data};

/// Batched product over the last two axes; returns f64 or complex data.
fn product(a: &Literal, b: &Literal) -> Result<(Data, Vec<usize>), String> {
    let (sa, sb) = (a.shape(), b.shape());
    let r = sa.len();
    let (m, k, n) = (sa[r - 2], sa[r - 1], sb[r - 1]);
    let batch: usize = sa[..r - 2].iter().product();
    let mut shape = sa[..r - 2].to_vec();
    shape.extend([m, n]);
    fn run<T: Copy + std::ops::Add<Output = T> + std::ops::Mul<Output = T>>(
        x: &[T],
        y: &[T],
        zero: T,
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<T> {
        let mut out = vec![zero; batch * m * n];
        for bi in 0..batch {
            let (xa, ya) = (&x[bi * m * k..], &y[bi * k * n..]);
            let o = &mut out[bi * m * n..(bi + 1) * m * n];
            for i in 0..m {
                let row = &mut o[i * n..(i + 1) * n];
                for p in 0..k {
                    let av = xa[i * k + p];
                    let yr = &ya[p * n..(p + 1) * n];
                    for (acc, &bv) in row.iter_mut().zip(yr) {
                        *acc = *acc + av * bv;
                    }
                }
            }
        }
        out
    }
    let d = match (decode(a), decode(b)) {
        (Data::Float(x), Data::Float(y)) => Data::Float(run(&x, &y, 0.0, batch, m, k, n)),
        (Data::Complex(x), Data::Complex(y)) => {
            Data::Complex(run(&x, &y, C::default(), batch, m, k, n))
        }
        _ => return Err(format!("`tensor.matmul` is not defined for {}", a.dtype())),
    };
    Ok((d, shape))
}

pub fn matmul(a: &Literal, b: &Literal) -> Result<Literal, String> {
    let (d, shape) = product(a, b)?;
    encode(a.dtype(), &shape, &d)
}

/// alpha * a@b + beta * c, rounded once (c is ignored when beta is 0, as in BLAS).
pub fn addmm(
    c: &Literal,
    a: &Literal,
    b: &Literal,
    alpha: f64,
    beta: f64,
) -> Result<Literal, String> {
    let (d, shape) = product(a, b)?;
    let out = match (d, decode(c)) {
        (Data::Float(p), Data::Float(cv)) => Data::Float(
            p.iter()
                .zip(&cv)
                .map(|(&p, &c)| {
                    if beta == 0.0 {
                        alpha * p
                    } else {
                        alpha * p + beta * c
                    }
                })
                .collect(),
        ),
        (Data::Complex(p), Data::Complex(cv)) => Data::Complex(
            p.iter()
                .zip(&cv)
                .map(|(&p, &c)| {
                    if beta == 0.0 {
                        C::real(alpha) * p
                    } else {
                        C::real(alpha) * p + C::real(beta) * c
                    }
                })
                .collect(),
        ),
        _ => return Err("internal: addmm operands decoded differently".into()),
    };
    encode(a.dtype(), &shape, &out)
}
