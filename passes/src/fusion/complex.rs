//! Complex (`c64`) values in kernels, legalized to pairs of `f32`.
//!
//! A `c64` value of shape `S` lives in an `f32` buffer of shape `[S..., 2]`
//! ([`psionic_ir::kernel::pairs`]): its real part at pair index 0, its
//! imaginary part at 1. During emission an access to a complex value has
//! one row more than the value's rank: the *part row*, the index along that
//! pair axis. Views move pairs (the part row passes through them
//! untouched), loads address the pair buffer with it, and every lowered op
//! ([`lowers`]) is emitted for a constant part from its operands' parts as
//! `f32` scalar nodes (hash-consing shares what the real and imaginary
//! parts have in common). A complex *root* iterates `[S..., 2]`: its part
//! row moves along the last domain axis, and the stored value selects the
//! real or imaginary node by a 2-element constant flag (`[true, false]`)
//! loaded along that axis. A complex `sum` reduces in a loop like any
//! other, with the pair axis an outer axis of its kernel.
//!
//! The formulas are the reference interpreter's (`runtime/src/interp/
//! complex.rs`: Smith's division, a scaled hypot for `abs`, the
//! cancellation-free principal square root...), computed in `f32` nodes
//! instead of `f64`: `docs/BACKENDS.md` states the resulting error bounds.
//! Ops not listed in [`lowers`] (powers, inverse trigonometric functions,
//! complex max/min, products, cumulative ops, matmuls, FFTs...) stay
//! library ops on the pair buffers, and the rest of the function compiles
//! around them.

use super::*;

/// True when fusion computes `op`, which reads or writes complex values,
/// as kernel code (elementwise on pairs of `f32`).
pub(super) fn lowers(op: &Op, f: &Func) -> bool {
    use Opcode as O;
    let complex = |v: &Value| f.ty(*v).dtype.is_complex();
    if !op.operands.iter().chain(&op.results).any(complex) || op.results.len() != 1 {
        return false;
    }
    matches!(
        op.opcode,
        O::Add
            | O::Subtract
            | O::Multiply
            | O::Divide
            | O::Negative
            | O::Conjugate
            | O::Real
            | O::Imag
            | O::Abs
            | O::Square
            | O::Exp
            | O::Expm1
            | O::Log
            | O::Log1p
            | O::Log2
            | O::Log10
            | O::Sqrt
            | O::Rsqrt
            | O::Sin
            | O::Cos
            | O::Tan
            | O::Sinh
            | O::Cosh
            | O::Tanh
            | O::Sigmoid
            | O::Sign
            | O::Reciprocal
            | O::Floor
            | O::Ceil
            | O::Round
            | O::Copy
            | O::StopGradient
            | O::Equal
            | O::NotEqual
            | O::IsNan
            | O::IsInf
            | O::IsFinite
            | O::Select
            | O::Cast
    )
}

/// A complex scalar under construction: real and imaginary `f32` nodes.
type Z = (u32, u32);

fn op1(kb: &mut KBuild, o: Opcode, a: u32) -> u32 {
    kb.add(BNode::Op(o, Attrs::new(), vec![a]), DType::F32)
}
fn op2(kb: &mut KBuild, o: Opcode, a: u32, b: u32) -> u32 {
    kb.add(BNode::Op(o, Attrs::new(), vec![a, b]), DType::F32)
}
fn pred(kb: &mut KBuild, o: Opcode, args: Vec<u32>) -> u32 {
    kb.add(BNode::Op(o, Attrs::new(), args), DType::Bool)
}
fn sel(kb: &mut KBuild, c: u32, a: u32, b: u32) -> u32 {
    kb.add(
        BNode::Op(Opcode::Select, Attrs::new(), vec![c, a, b]),
        DType::F32,
    )
}
fn f(kb: &mut KBuild, v: f64) -> u32 {
    kb.cnst(v, DType::F32)
}
fn add(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    op2(kb, Opcode::Add, a, b)
}
fn sub(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    op2(kb, Opcode::Subtract, a, b)
}
fn mul(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    op2(kb, Opcode::Multiply, a, b)
}
/// `a / b` with the divisor brought into `[2^-120, 2^120]` by an exact
/// power of two applied to both operands: WGSL guarantees division only
/// for divisors in `[2^-126, 2^126]`, and GPUs that divide by multiplying
/// with a reciprocal flush `1 / 3e38` (subnormal) to zero, which made
/// `sign(3e38 + 2.8i)` zero on NVIDIA's Vulkan. The scaling is exact, so
/// the quotient is the plain one wherever that is defined.
fn div(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    let m = op1(kb, Opcode::Abs, b);
    let hi = f(kb, 2f64.powi(120));
    let lo = f(kb, 2f64.powi(-120));
    let big = pred(kb, Opcode::Greater, vec![m, hi]);
    let small = pred(kb, Opcode::Less, vec![m, lo]);
    let (down, up, one) = (f(kb, 2f64.powi(-64)), f(kb, 2f64.powi(64)), f(kb, 1.0));
    let k = sel(kb, small, up, one);
    let k = sel(kb, big, down, k);
    let (a, b) = (mul(kb, a, k), mul(kb, b, k));
    op2(kb, Opcode::Divide, a, b)
}
fn and(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    pred(kb, Opcode::LogicalAnd, vec![a, b])
}
fn or(kb: &mut KBuild, a: u32, b: u32) -> u32 {
    pred(kb, Opcode::LogicalOr, vec![a, b])
}
fn is_zero(kb: &mut KBuild, z: Z) -> u32 {
    let zero = f(kb, 0.0);
    let a = pred(kb, Opcode::Equal, vec![z.0, zero]);
    let b = pred(kb, Opcode::Equal, vec![z.1, zero]);
    and(kb, a, b)
}

fn cmul(kb: &mut KBuild, x: Z, y: Z) -> Z {
    let (ac, bd) = (mul(kb, x.0, y.0), mul(kb, x.1, y.1));
    let (ad, bc) = (mul(kb, x.0, y.1), mul(kb, x.1, y.0));
    (sub(kb, ac, bd), add(kb, ad, bc))
}

/// `a / +0` spelled out (±inf by the sign of `a`, NaN for 0 or NaN):
/// WGSL leaves a float division by zero indeterminate.
fn over_zero(kb: &mut KBuild, a: u32) -> u32 {
    let zero = f(kb, 0.0);
    let pos = pred(kb, Opcode::Greater, vec![a, zero]);
    let neg = pred(kb, Opcode::Less, vec![a, zero]);
    let (pinf, ninf, nan) = (
        f(kb, f64::INFINITY),
        f(kb, f64::NEG_INFINITY),
        f(kb, f64::NAN),
    );
    let n = sel(kb, neg, ninf, nan);
    sel(kb, pos, pinf, n)
}

/// Smith's division (no overflow in `|y|^2`), as the interpreter's: `x / 0`
/// divides each part by `+0`.
fn cdiv(kb: &mut KBuild, x: Z, y: Z) -> Z {
    let ((a0, b0), (c, d)) = (x, y);
    // The numerator halved, the quotient doubled: `a + b r` (|r| <= 1)
    // cannot overflow f32 where the interpreter's f64 does not.
    let half = f(kb, 0.5);
    let (a, b) = (mul(kb, a0, half), mul(kb, b0, half));
    let (ac, ad) = (op1(kb, Opcode::Abs, c), op1(kb, Opcode::Abs, d));
    let wide = pred(kb, Opcode::GreaterEqual, vec![ac, ad]);
    // |c| >= |d|: r = d / c.
    let r1 = div(kb, d, c);
    let dr1 = mul(kb, d, r1);
    let den1 = add(kb, c, dr1);
    let br1 = mul(kb, b, r1);
    let ar1 = mul(kb, a, r1);
    let n1re = add(kb, a, br1);
    let n1im = sub(kb, b, ar1);
    let re1 = div(kb, n1re, den1);
    let im1 = div(kb, n1im, den1);
    // |c| < |d|: r = c / d.
    let r2 = div(kb, c, d);
    let cr2 = mul(kb, c, r2);
    let den2 = add(kb, cr2, d);
    let ar2 = mul(kb, a, r2);
    let br2 = mul(kb, b, r2);
    let n2re = add(kb, ar2, b);
    let n2im = sub(kb, br2, a);
    let re2 = div(kb, n2re, den2);
    let im2 = div(kb, n2im, den2);
    // y == 0: parts over +0.
    let zero = is_zero(kb, y);
    let (re0, im0) = (over_zero(kb, a0), over_zero(kb, b0));
    let two = f(kb, 2.0);
    let re = sel(kb, wide, re1, re2);
    let im = sel(kb, wide, im1, im2);
    let (re, im) = (mul(kb, re, two), mul(kb, im, two));
    (sel(kb, zero, re0, re), sel(kb, zero, im0, im))
}

/// `m = max(|a|, |b|)` and `sqrt(1 + (min(|a|, |b|) / m)^2)`: `|z|` is
/// their product, `z / |z|` is `(z / m) / s` (no overflow in either).
fn hypot_parts(kb: &mut KBuild, z: Z) -> (u32, u32) {
    let (a, b) = (op1(kb, Opcode::Abs, z.0), op1(kb, Opcode::Abs, z.1));
    let m = op2(kb, Opcode::Maximum, a, b);
    let n = op2(kb, Opcode::Minimum, a, b);
    let r = div(kb, n, m);
    let rr = mul(kb, r, r);
    let one = f(kb, 1.0);
    let s = add(kb, one, rr);
    (m, op1(kb, Opcode::Sqrt, s))
}

/// `hypot(a, b)` without overflow or underflow: `m * sqrt(1 + (n/m)^2)`
/// for `m = max(|a|, |b|)`, `n = min`; `inf` when either part is infinite
/// (even NaN), 0 for 0, NaN when a part is NaN.
fn cabs(kb: &mut KBuild, z: Z) -> u32 {
    let (m, s) = hypot_parts(kb, z);
    let (a, b) = (op1(kb, Opcode::Abs, z.0), op1(kb, Opcode::Abs, z.1));
    let h = mul(kb, m, s);
    let zero = f(kb, 0.0);
    let m0 = pred(kb, Opcode::Equal, vec![m, zero]);
    let h = sel(kb, m0, zero, h);
    let ia = pred(kb, Opcode::IsInf, vec![a]);
    let ib = pred(kb, Opcode::IsInf, vec![b]);
    let inf = or(kb, ia, ib);
    let pinf = f(kb, f64::INFINITY);
    sel(kb, inf, pinf, h)
}

fn cexp(kb: &mut KBuild, z: Z) -> Z {
    let e = op1(kb, Opcode::Exp, z.0);
    let (c, s) = (op1(kb, Opcode::Cos, z.1), op1(kb, Opcode::Sin, z.1));
    let (ec, es) = (mul(kb, e, c), mul(kb, e, s));
    // A real argument gives a real result (no inf * 0 in the imaginary part).
    let zero = f(kb, 0.0);
    let real = pred(kb, Opcode::Equal, vec![z.1, zero]);
    (sel(kb, real, e, ec), sel(kb, real, zero, es))
}

/// `exp(z) - 1` without cancellation near 0: the real part is
/// `expm1(a) cos b - 2 sin^2(b / 2)` (as the interpreter's f64 `exp(z) - 1`
/// rounded once, not an f32 `exp(a) cos b - 1`).
fn cexpm1(kb: &mut KBuild, z: Z) -> Z {
    let e = cexp(kb, z);
    let em1 = op1(kb, Opcode::Expm1, z.0);
    let c = op1(kb, Opcode::Cos, z.1);
    let half = f(kb, 0.5);
    let hb = mul(kb, z.1, half);
    let s = op1(kb, Opcode::Sin, hb);
    let ss = mul(kb, s, s);
    let two = f(kb, 2.0);
    let ss2 = mul(kb, two, ss);
    let ec = mul(kb, em1, c);
    let re = sub(kb, ec, ss2);
    let zero = f(kb, 0.0);
    let real = pred(kb, Opcode::Equal, vec![z.1, zero]);
    (sel(kb, real, em1, re), e.1)
}

/// `ln(1 + z)`: near 0 (`|a| + |b| < 1/2`) the real part is
/// `log1p(a (2 + a) + b^2) / 2`, which keeps the digits an f32 `1 + z`
/// loses; elsewhere `ln(1 + z)`.
fn cln1p(kb: &mut KBuild, z: Z) -> Z {
    let (one, zero) = (f(kb, 1.0), f(kb, 0.0));
    // `z + (1 + 0i)`: a -0 imaginary part becomes +0, as in the
    // interpreter (by a select: shader compilers fold `x + 0` to `x`).
    let b0 = pred(kb, Opcode::Equal, vec![z.1, zero]);
    let w = (add(kb, z.0, one), sel(kb, b0, zero, z.1));
    let far = cln(kb, w);
    let two = f(kb, 2.0);
    let a2 = add(kb, z.0, two);
    let aa = mul(kb, z.0, a2);
    let bb = mul(kb, z.1, z.1);
    let t = add(kb, aa, bb);
    let l = op1(kb, Opcode::Log1p, t);
    let half = f(kb, 0.5);
    let near_re = mul(kb, l, half);
    let (ab, bb2) = (op1(kb, Opcode::Abs, z.0), op1(kb, Opcode::Abs, z.1));
    let m = add(kb, ab, bb2);
    let near = pred(kb, Opcode::Less, vec![m, half]);
    (sel(kb, near, near_re, far.0), far.1)
}

fn cln(kb: &mut KBuild, z: Z) -> Z {
    let r = cabs(kb, z);
    (op1(kb, Opcode::Log, r), op2(kb, Opcode::Arctan2, z.1, z.0))
}

/// The principal square root without cancellation, as the interpreter's.
fn csqrt(kb: &mut KBuild, z: Z) -> Z {
    let (a, b) = z;
    let r = cabs(kb, z);
    let aa = op1(kb, Opcode::Abs, a);
    let s = add(kb, r, aa);
    let half = f(kb, 0.5);
    let s = mul(kb, s, half);
    let t = op1(kb, Opcode::Sqrt, s);
    let two = f(kb, 2.0);
    let t2 = mul(kb, two, t);
    let pos_im = div(kb, b, t2);
    let ab = op1(kb, Opcode::Abs, b);
    let neg_re = div(kb, ab, t2);
    // copysign(t, b): b < 0, or b is -0 (atan2(-0, -1) = -pi; no division
    // by zero, which WGSL leaves indeterminate).
    let zero = f(kb, 0.0);
    let m1 = f(kb, -1.0);
    let at = op2(kb, Opcode::Arctan2, b, m1);
    let lt = pred(kb, Opcode::Less, vec![b, zero]);
    let nz = pred(kb, Opcode::Less, vec![at, zero]);
    let negb = or(kb, lt, nz);
    let mt = op1(kb, Opcode::Negative, t);
    let neg_im = sel(kb, negb, mt, t);
    let nonneg = pred(kb, Opcode::GreaterEqual, vec![a, zero]);
    let re = sel(kb, nonneg, t, neg_re);
    let im = sel(kb, nonneg, pos_im, neg_im);
    let r0 = pred(kb, Opcode::Equal, vec![r, zero]);
    (sel(kb, r0, zero, re), sel(kb, r0, b, im))
}

fn csin(kb: &mut KBuild, z: Z) -> Z {
    let (s, c) = (op1(kb, Opcode::Sin, z.0), op1(kb, Opcode::Cos, z.0));
    let (ch, sh) = (op1(kb, Opcode::Cosh, z.1), op1(kb, Opcode::Sinh, z.1));
    (mul(kb, s, ch), mul(kb, c, sh))
}
fn ccos(kb: &mut KBuild, z: Z) -> Z {
    let (s, c) = (op1(kb, Opcode::Sin, z.0), op1(kb, Opcode::Cos, z.0));
    let (ch, sh) = (op1(kb, Opcode::Cosh, z.1), op1(kb, Opcode::Sinh, z.1));
    let ms = op1(kb, Opcode::Negative, s);
    (mul(kb, c, ch), mul(kb, ms, sh))
}
fn csinh(kb: &mut KBuild, z: Z) -> Z {
    let (sh, ch) = (op1(kb, Opcode::Sinh, z.0), op1(kb, Opcode::Cosh, z.0));
    let (c, s) = (op1(kb, Opcode::Cos, z.1), op1(kb, Opcode::Sin, z.1));
    (mul(kb, sh, c), mul(kb, ch, s))
}
fn ccosh(kb: &mut KBuild, z: Z) -> Z {
    let (sh, ch) = (op1(kb, Opcode::Sinh, z.0), op1(kb, Opcode::Cosh, z.0));
    let (c, s) = (op1(kb, Opcode::Cos, z.1), op1(kb, Opcode::Sin, z.1));
    (mul(kb, ch, c), mul(kb, sh, s))
}

fn is_nan(kb: &mut KBuild, z: Z) -> u32 {
    let a = pred(kb, Opcode::IsNan, vec![z.0]);
    let b = pred(kb, Opcode::IsNan, vec![z.1]);
    or(kb, a, b)
}

/// The access `base` with a constant part row `part`.
fn with_part(base: &Access, ndom: usize, part: i64) -> Access {
    let mut a = base.clone();
    a.c.push(part);
    a.a.push(Access::zero_row(ndom));
    a
}

/// `acc` without its (last) part row, and that row.
fn split_part(acc: &Access) -> (Access, i64, Vec<i64>) {
    let mut base = acc.clone();
    let c = base.c.pop().unwrap_or(0);
    let a = base.a.pop().unwrap_or_default();
    (base, c, a)
}

impl Lowering<'_> {
    /// The shape of the buffer holding `v`: `[S..., 2]` for a complex `v`.
    pub(super) fn pshape(&self, v: Value) -> Result<Vec<usize>, FusionError> {
        let mut s = self.shape(v)?;
        if self.dtype(v).is_complex() {
            s.push(2);
        }
        Ok(s)
    }

    /// The dtype kernels hold `v`'s elements in (`f32` parts for `c64`).
    pub(super) fn kdtype(&self, v: Value) -> DType {
        match self.dtype(v) {
            DType::C64 => DType::F32,
            d => d,
        }
    }

    /// The 2-element flag `[true, false]` read along a moving part row.
    fn part_flag(&mut self, kb: &mut KBuild, c: i64, a: Vec<i64>) -> u32 {
        let b = match self.part_flags {
            Some(b) => b,
            None => {
                let lit = Literal::from_bytes(DType::Bool, vec![2], vec![1, 0])
                    .expect("a 2-element bool literal");
                let b = self.prog.add_buffer(
                    TensorType::from_dims(DType::Bool, &[2]),
                    BufferKind::Const(lit),
                );
                self.part_flags = Some(b);
                b
            }
        };
        kb.add(
            BNode::Load(
                b,
                IndexMap {
                    offset: c,
                    strides: a,
                },
            ),
            DType::Bool,
        )
    }

    /// One part of operand `x` at `base` (the value's access without part
    /// row): a real operand is its own real part, with imaginary part 0.
    fn part(
        &mut self,
        kb: &mut KBuild,
        x: Value,
        base: &Access,
        p: i64,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let ndom = kb.domain.len();
        let s = single && self.uses[x.index()] == 1;
        if self.dtype(x).is_complex() {
            return self.emit(kb, x, &with_part(base, ndom, p), s, root);
        }
        if p == 1 {
            return Ok(f(kb, 0.0));
        }
        let n = self.emit(kb, x, base, s, root)?;
        Ok(match self.dtype(x) {
            DType::F32 => n,
            _ => kb.add(
                BNode::Op(
                    Opcode::Cast,
                    Attrs::new().with("dtype", Attr::DType(DType::F32)),
                    vec![n],
                ),
                DType::F32,
            ),
        })
    }

    fn operand(
        &mut self,
        kb: &mut KBuild,
        x: Value,
        base: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<Z, FusionError> {
        Ok((
            self.part(kb, x, base, 0, single, root)?,
            self.part(kb, x, base, 1, single, root)?,
        ))
    }

    /// Emits `v` (of op `op`, of kind `kind`), complex or computed from
    /// complex operands, at `acc` (with a part row when `v` is complex).
    pub(super) fn emit_complex(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        op: &Op,
        kind: Kind,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let ndom = kb.domain.len();
        let cout = self.dtype(v).is_complex();
        let (base, pc, pa) = if cout {
            split_part(acc)
        } else {
            (acc.clone(), 0, vec![])
        };
        if kind == Kind::View {
            return self.emit_complex_view(kb, v, op, acc, single, root);
        }
        let stored = kind == Kind::Creation && op.opcode == Opcode::Constant;
        if cout && !stored && pa.iter().any(|&s| s != 0) {
            // A moving part row (a complex root): both parts, selected.
            let re = self.emit(kb, v, &with_part(&base, ndom, 0), single, root)?;
            let im = self.emit(kb, v, &with_part(&base, ndom, 1), single, root)?;
            let flag = self.part_flag(kb, pc, pa);
            return Ok(sel(kb, flag, re, im));
        }
        if kind == Kind::Creation {
            if op.opcode == Opcode::Full {
                let val = op.attrs.float("value").map_err(FusionError)?;
                return Ok(f(kb, if pc == 0 { val } else { 0.0 }));
            }
            return self.load(kb, v, acc);
        }
        use Opcode as O;
        let xs = op.operands.clone();
        let arg = |this: &mut Self, kb: &mut KBuild, i: usize| -> Result<Z, FusionError> {
            this.operand(kb, xs[i], &base, single, root)
        };
        // Real results of complex operands.
        if !cout {
            let d = self.dtype(v);
            let z = arg(self, kb, 0)?;
            return Ok(match op.opcode {
                O::Real => z.0,
                O::Imag => z.1,
                O::Abs => cabs(kb, z),
                O::IsNan => is_nan(kb, z),
                O::IsInf | O::IsFinite => {
                    let k = op.opcode;
                    let a = pred(kb, k, vec![z.0]);
                    let b = pred(kb, k, vec![z.1]);
                    if k == O::IsInf {
                        or(kb, a, b)
                    } else {
                        and(kb, a, b)
                    }
                }
                O::Equal | O::NotEqual => {
                    let w = arg(self, kb, 1)?;
                    let re = pred(kb, O::Equal, vec![z.0, w.0]);
                    let im = pred(kb, O::Equal, vec![z.1, w.1]);
                    let eq = and(kb, re, im);
                    if op.opcode == O::NotEqual {
                        pred(kb, O::LogicalNot, vec![eq])
                    } else if op.attrs.bool("equal_nan").unwrap_or(false) {
                        let (nz, nw) = (is_nan(kb, z), is_nan(kb, w));
                        let both = and(kb, nz, nw);
                        or(kb, eq, both)
                    } else {
                        eq
                    }
                }
                O::Cast if d == DType::Bool => {
                    let zero = is_zero(kb, z);
                    pred(kb, O::LogicalNot, vec![zero])
                }
                O::Cast if d == DType::F32 => z.0,
                O::Cast => kb.add(
                    BNode::Op(
                        O::Cast,
                        Attrs::new().with("dtype", Attr::DType(d)),
                        vec![z.0],
                    ),
                    d,
                ),
                other => {
                    return ferr(format!(
                        "internal: `{other}` with a real result from complex operands"
                    ))
                }
            });
        }
        let one = (f(kb, 1.0), f(kb, 0.0));
        let z: Z = match op.opcode {
            O::Select => {
                let c = self.emit(
                    kb,
                    xs[0],
                    &base,
                    single && self.uses[xs[0].index()] == 1,
                    root,
                )?;
                let (x, y) = (arg(self, kb, 1)?, arg(self, kb, 2)?);
                (sel(kb, c, x.0, y.0), sel(kb, c, x.1, y.1))
            }
            O::Add | O::Subtract | O::Multiply | O::Divide => {
                let (x, y) = (arg(self, kb, 0)?, arg(self, kb, 1)?);
                match op.opcode {
                    O::Add => (add(kb, x.0, y.0), add(kb, x.1, y.1)),
                    O::Subtract => (sub(kb, x.0, y.0), sub(kb, x.1, y.1)),
                    O::Multiply => cmul(kb, x, y),
                    _ => cdiv(kb, x, y),
                }
            }
            _ => {
                let x = arg(self, kb, 0)?;
                match op.opcode {
                    O::Cast | O::Copy | O::StopGradient => x,
                    O::Negative => (op1(kb, O::Negative, x.0), op1(kb, O::Negative, x.1)),
                    O::Conjugate => (x.0, op1(kb, O::Negative, x.1)),
                    O::Square => cmul(kb, x, x),
                    O::Reciprocal => cdiv(kb, one, x),
                    O::Exp => cexp(kb, x),
                    O::Abs => (cabs(kb, x), f(kb, 0.0)),
                    O::Expm1 => cexpm1(kb, x),
                    O::Log => cln(kb, x),
                    O::Log1p => cln1p(kb, x),
                    O::Log2 | O::Log10 => {
                        let l = cln(kb, x);
                        let k = f(
                            kb,
                            if op.opcode == O::Log2 {
                                std::f64::consts::LN_2
                            } else {
                                std::f64::consts::LN_10
                            },
                        );
                        (div(kb, l.0, k), div(kb, l.1, k))
                    }
                    O::Sqrt => csqrt(kb, x),
                    O::Rsqrt => {
                        let s = csqrt(kb, x);
                        cdiv(kb, one, s)
                    }
                    O::Sin => csin(kb, x),
                    O::Cos => ccos(kb, x),
                    O::Tan => {
                        let (s, c) = (csin(kb, x), ccos(kb, x));
                        cdiv(kb, s, c)
                    }
                    O::Sinh => csinh(kb, x),
                    O::Cosh => ccosh(kb, x),
                    O::Tanh => {
                        let (s, c) = (csinh(kb, x), ccosh(kb, x));
                        cdiv(kb, s, c)
                    }
                    O::Sigmoid => {
                        let m = (op1(kb, O::Negative, x.0), op1(kb, O::Negative, x.1));
                        let e = cexp(kb, m);
                        let b0 = pred(kb, O::Equal, vec![e.1, one.1]);
                        let den = (add(kb, one.0, e.0), sel(kb, b0, one.1, e.1));
                        cdiv(kb, one, den)
                    }
                    O::Sign => {
                        // (z / m) / sqrt(1 + (n/m)^2): no overflow in |z|.
                        let (m, s) = hypot_parts(kb, x);
                        let zero = is_zero(kb, x);
                        let z0 = f(kb, 0.0);
                        let (re, im) = (div(kb, x.0, m), div(kb, x.1, m));
                        let (re, im) = (div(kb, re, s), div(kb, im, s));
                        (sel(kb, zero, z0, re), sel(kb, zero, z0, im))
                    }
                    O::Floor | O::Ceil | O::Round => {
                        (op1(kb, op.opcode, x.0), op1(kb, op.opcode, x.1))
                    }
                    other => {
                        return ferr(format!(
                            "internal: `{other}` on complex values is not lowered"
                        ))
                    }
                }
            }
        };
        Ok(if pc == 0 { z.0 } else { z.1 })
    }

    /// A view of a complex value: the part row passes through the view's
    /// index map untouched.
    fn emit_complex_view(
        &mut self,
        kb: &mut KBuild,
        v: Value,
        op: &Op,
        acc: &Access,
        single: bool,
        root: Option<Value>,
    ) -> Result<u32, FusionError> {
        let ndom = kb.domain.len();
        let p = self.producer[v.index()]
            .ok_or_else(|| FusionError("a view without producer".into()))?;
        let x = op.operands[0];
        let (base, pc, pa) = split_part(acc);
        match self.view_access(p, &base, ndom)? {
            Some(mut inner) => {
                inner.c.push(pc);
                inner.a.push(pa);
                let s = single && self.uses[x.index()] == 1;
                self.emit(kb, x, &inner, s, root)
            }
            None => {
                // Not affine in the operand's axes: read its pair buffer
                // through the flat map, in f32 units.
                let m = self
                    .view_flat(p, &base, ndom)?
                    .ok_or_else(|| FusionError("a view without an access".into()))?;
                let m = IndexMap {
                    offset: 2 * m.offset + pc,
                    strides: m.strides.iter().zip(&pa).map(|(s, a)| 2 * s + a).collect(),
                };
                let b = self.request(x)?;
                Ok(kb.add(BNode::Load(b, m), DType::F32))
            }
        }
    }
}
