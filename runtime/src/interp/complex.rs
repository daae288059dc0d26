//! A small f64 complex type for c64 arithmetic (computed in f64, rounded to
//! two f32s on encoding), with the elementary functions the unary ops need.

use std::cmp::Ordering;
use std::ops::{Add, Div, Mul, Neg, Sub};

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct C {
    pub re: f64,
    pub im: f64,
}

impl C {
    pub const fn new(re: f64, im: f64) -> Self {
        C { re, im }
    }
    pub const fn real(re: f64) -> Self {
        C { re, im: 0.0 }
    }
    pub const I: C = C::new(0.0, 1.0);
    pub const ONE: C = C::new(1.0, 0.0);

    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    pub fn arg(self) -> f64 {
        self.im.atan2(self.re)
    }
    pub fn is_nan(self) -> bool {
        self.re.is_nan() || self.im.is_nan()
    }
    pub fn is_zero(self) -> bool {
        self.re == 0.0 && self.im == 0.0
    }
    pub fn exp(self) -> C {
        let e = self.re.exp();
        if self.im == 0.0 {
            return C::real(e);
        }
        C::new(e * self.im.cos(), e * self.im.sin())
    }
    pub fn ln(self) -> C {
        C::new(self.abs().ln(), self.arg())
    }
    pub fn sqrt(self) -> C {
        // Principal root, computed without cancellation.
        let r = self.abs();
        if r == 0.0 {
            return C::new(0.0, self.im);
        }
        let t = ((r + self.re.abs()) / 2.0).sqrt();
        if self.re >= 0.0 {
            C::new(t, self.im / (2.0 * t))
        } else {
            C::new(self.im.abs() / (2.0 * t), t.copysign(self.im))
        }
    }
    pub fn sin(self) -> C {
        C::new(
            self.re.sin() * self.im.cosh(),
            self.re.cos() * self.im.sinh(),
        )
    }
    pub fn cos(self) -> C {
        C::new(
            self.re.cos() * self.im.cosh(),
            -self.re.sin() * self.im.sinh(),
        )
    }
    pub fn tan(self) -> C {
        self.sin() / self.cos()
    }
    pub fn sinh(self) -> C {
        C::new(
            self.re.sinh() * self.im.cos(),
            self.re.cosh() * self.im.sin(),
        )
    }
    pub fn cosh(self) -> C {
        C::new(
            self.re.cosh() * self.im.cos(),
            self.re.sinh() * self.im.sin(),
        )
    }
    pub fn tanh(self) -> C {
        self.sinh() / self.cosh()
    }
    pub fn asin(self) -> C {
        // -i * ln(i z + sqrt(1 - z^2))
        let iz = C::I * self;
        let w = (iz + (C::ONE - self * self).sqrt()).ln();
        C::new(w.im, -w.re)
    }
    pub fn acos(self) -> C {
        C::real(std::f64::consts::FRAC_PI_2) - self.asin()
    }
    pub fn atan(self) -> C {
        // i/2 * (ln(1 - i z) - ln(1 + i z))
        let iz = C::I * self;
        let d = (C::ONE - iz).ln() - (C::ONE + iz).ln();
        C::new(-d.im / 2.0, d.re / 2.0)
    }
    pub fn asinh(self) -> C {
        (self + (self * self + C::ONE).sqrt()).ln()
    }
    pub fn acosh(self) -> C {
        (self + (self + C::ONE).sqrt() * (self - C::ONE).sqrt()).ln()
    }
    pub fn atanh(self) -> C {
        let d = (C::ONE + self).ln() - (C::ONE - self).ln();
        C::new(d.re / 2.0, d.im / 2.0)
    }
    pub fn powc(self, e: C) -> C {
        if e.is_zero() {
            return C::ONE;
        }
        if self.is_zero() {
            return if e.re > 0.0 {
                C::default()
            } else {
                C::new(f64::NAN, f64::NAN)
            };
        }
        (e * self.ln()).exp()
    }
    pub fn recip(self) -> C {
        C::ONE / self
    }

    /// MLX's order on complex numbers: by real part, then imaginary part.
    pub fn lex_cmp(self, o: C) -> Option<Ordering> {
        match self.re.partial_cmp(&o.re)? {
            Ordering::Equal => self.im.partial_cmp(&o.im),
            ord => Some(ord),
        }
    }
}

impl Add for C {
    type Output = C;
    fn add(self, o: C) -> C {
        C::new(self.re + o.re, self.im + o.im)
    }
}
impl Sub for C {
    type Output = C;
    fn sub(self, o: C) -> C {
        C::new(self.re - o.re, self.im - o.im)
    }
}
impl Mul for C {
    type Output = C;
    fn mul(self, o: C) -> C {
        C::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}
impl Div for C {
    type Output = C;
    fn div(self, o: C) -> C {
        // Smith's algorithm: avoids overflow in |o|^2.
        if o.re.abs() >= o.im.abs() {
            if o.re == 0.0 && o.im == 0.0 {
                return C::new(self.re / 0.0, self.im / 0.0);
            }
            let r = o.im / o.re;
            let d = o.re + o.im * r;
            C::new((self.re + self.im * r) / d, (self.im - self.re * r) / d)
        } else {
            let r = o.re / o.im;
            let d = o.re * r + o.im;
            C::new((self.re * r + self.im) / d, (self.im * r - self.re) / d)
        }
    }
}
impl Neg for C {
    type Output = C;
    fn neg(self) -> C {
        C::new(-self.re, -self.im)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: C, b: C) -> bool {
        (a - b).abs() < 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn inverse_functions_invert() {
        let z = C::new(0.3, -0.7);
        assert!(close(z.sin().asin(), z));
        assert!(close(z.cos().acos(), z));
        assert!(close(z.tan().atan(), z));
        assert!(close(z.sinh().asinh(), z));
        assert!(close(z.cosh().acosh(), z));
        assert!(close(z.tanh().atanh(), z));
        assert!(close(z.exp().ln(), z));
        assert!(close(z.sqrt() * z.sqrt(), z));
        assert!(close((z / C::new(2.0, 3.0)) * C::new(2.0, 3.0), z));
        assert!(close(C::new(-4.0, 0.0).sqrt(), C::new(0.0, 2.0)));
    }
}
