//! `tensor.fft` with `rustfft`: complex transforms over any axes, and MLX's
//! real forms (`real` forward keeps n/2+1 bins of the last listed axis;
//! `real` inverse rebuilds the Hermitian spectrum of `2*(n-1) + odd_out`
//! points and keeps the real part). Inverses scale by 1/n, as MLX (and NumPy's
//! default "backward" norm).

use super::{complex_lit, complexes, dims, lit, Res};
use num_complex::Complex64;
use psionic_ir::{Attrs, Literal, TensorType};
use rustfft::FftPlanner;

/// Transforms `data` (row-major, `shape`) along `axis` in place.
fn fft_axis(
    planner: &mut FftPlanner<f64>,
    data: &mut [Complex64],
    shape: &[usize],
    axis: usize,
    inverse: bool,
) {
    let n = shape[axis];
    if n <= 1 || data.is_empty() {
        return;
    }
    let inner: usize = shape[axis + 1..].iter().product();
    let outer = data.len() / (n * inner);
    let plan = if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    };
    let mut line = vec![Complex64::new(0.0, 0.0); n];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            for (k, l) in line.iter_mut().enumerate() {
                *l = data[base + k * inner];
            }
            plan.process(&mut line);
            for (k, l) in line.iter().enumerate() {
                data[base + k * inner] = *l;
            }
        }
    }
}

/// Resizes `axis` of `data` from `shape[axis]` to `n`: truncates, or (for the
/// inverse real transform) fills the missing bins with the conjugates of their
/// mirror images.
fn resize_axis(
    data: &[Complex64],
    shape: &[usize],
    axis: usize,
    n: usize,
    hermitian: bool,
) -> Vec<Complex64> {
    let old = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer = data
        .len()
        .checked_div(old * inner)
        .unwrap_or_else(|| shape[..axis].iter().product());
    let mut out = Vec::with_capacity(outer * n * inner);
    for o in 0..outer {
        for k in 0..n {
            for i in 0..inner {
                let v = if k < old {
                    data[(o * old + k) * inner + i]
                } else if hermitian && n - k < old {
                    data[(o * old + (n - k)) * inner + i].conj()
                } else {
                    Complex64::new(0.0, 0.0)
                };
                out.push(v);
            }
        }
    }
    out
}

pub fn fft(attrs: &Attrs, ops: &[&Literal], out: &[TensorType]) -> Res {
    let axes: Vec<usize> = attrs.ints("axes")?.iter().map(|&a| a as usize).collect();
    let inverse = attrs.bool("inverse")?;
    let real = attrs.bool("real")?;
    let x = ops[0];
    let mut shape = x.shape().to_vec();
    let out_shape = dims(&out[0])?;
    let last = axes[axes.len() - 1];
    let mut data = complexes(x);
    let mut planner = FftPlanner::new();
    let mut scale = 1.0;
    if real && inverse {
        for &a in &axes[..axes.len() - 1] {
            fft_axis(&mut planner, &mut data, &shape, a, true);
            scale *= shape[a] as f64;
        }
        let n = out_shape[last];
        data = resize_axis(&data, &shape, last, n, true);
        shape[last] = n;
        // c2r ignores the imaginary parts of the DC and Nyquist bins.
        fft_axis(&mut planner, &mut data, &shape, last, true);
        scale *= n as f64;
        let v: Vec<f64> = data.iter().map(|c| c.re / scale).collect();
        return Ok(vec![lit(&out[0], &v)?]);
    }
    for &a in &axes {
        fft_axis(&mut planner, &mut data, &shape, a, inverse);
        scale *= shape[a] as f64;
    }
    if inverse {
        for c in data.iter_mut() {
            *c /= scale;
        }
    }
    if real {
        data = resize_axis(&data, &shape, last, out_shape[last], false);
        shape[last] = out_shape[last];
    }
    Ok(vec![complex_lit(&out[0], &data)?])
}
