//! Vectorized f32 math for the Cranelift backend: transcendentals emitted as
//! f32x4 polynomial code (no libm calls), with range reduction and the IEEE
//! special cases (NaN, ±inf, ±0, denormals) handled by lane masks.
//!
//! Each function is a plain emitter: it takes f32x4 values and appends
//! instructions to the function being built. Coefficients come from
//! `math_coeffs.rs` (fitted by `tools/math/fit_coeffs.py`); the measured
//! maximum errors against f64 are in `docs/BACKENDS.md` and checked by the
//! tests at the end of this file.

use super::math_coeffs as k;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, ConstantData, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

const F4: types::Type = types::F32X4;
const I4: types::Type = types::I32X4;

/// Emits f32x4 math into a function under construction.
pub struct VMath<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    /// Use fused multiply-add (the host has FMA).
    pub fma: bool,
}

impl<'a, 'b> VMath<'a, 'b> {
    pub fn new(b: &'a mut FunctionBuilder<'b>, fma: bool) -> Self {
        VMath { b, fma }
    }

    // ---- building blocks ----

    /// A splatted f32 constant.
    pub fn cf(&mut self, v: f32) -> Value {
        let s = self.b.ins().f32const(v);
        self.b.ins().splat(F4, s)
    }
    /// A splatted i32 constant.
    fn ci(&mut self, v: i32) -> Value {
        let s = self.b.ins().iconst(types::I32, v as i64);
        self.b.ins().splat(I4, s)
    }
    /// A scalar shift amount (Cranelift shifts every lane by one scalar).
    fn sh(&mut self, n: i64) -> Value {
        self.b.ins().iconst(types::I32, n)
    }
    fn bits_i(&mut self, x: Value) -> Value {
        let f = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(I4, f, x)
    }
    fn bits_f(&mut self, x: Value) -> Value {
        let f = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(F4, f, x)
    }
    /// `a * b + c`, fused when the host allows.
    pub fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.fma {
            self.b.ins().fma(a, b, c)
        } else {
            let p = self.b.ins().fmul(a, b);
            self.b.ins().fadd(p, c)
        }
    }
    /// Horner evaluation of `c[0] + c[1] x + ... + c[n] x^n`.
    fn poly(&mut self, c: &[f32], x: Value) -> Value {
        let mut acc = self.cf(c[c.len() - 1]);
        for &ci in c[..c.len() - 1].iter().rev() {
            let cv = self.cf(ci);
            acc = self.mul_add(acc, x, cv);
        }
        acc
    }
    /// Lane-wise `mask ? a : b` for an fcmp mask.
    fn sel(&mut self, mask: Value, a: Value, b: Value) -> Value {
        let m = self.bits_f(mask);
        self.b.ins().bitselect(m, a, b)
    }
    fn cmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(cc, a, b)
    }
    fn cmp_c(&mut self, cc: FloatCC, a: Value, c: f32) -> Value {
        let cv = self.cf(c);
        self.cmp(cc, a, cv)
    }
    pub fn mul_c(&mut self, a: Value, c: f32) -> Value {
        let cv = self.cf(c);
        self.b.ins().fmul(a, cv)
    }
    fn add_c(&mut self, a: Value, c: f32) -> Value {
        let cv = self.cf(c);
        self.b.ins().fadd(a, cv)
    }
    /// `|x|` with the sign of `y` (x64 has no vector fcopysign lowering).
    fn copysign(&mut self, x: Value, y: Value) -> Value {
        let xi = self.bits_i(x);
        let yi = self.bits_i(y);
        let mag = self.ci(0x7fff_ffff);
        let sign = self.ci(i32::MIN);
        let m = self.b.ins().band(xi, mag);
        let s = self.b.ins().band(yi, sign);
        let r = self.b.ins().bor(m, s);
        self.bits_f(r)
    }

    /// `x < c ? c : x`: one `maxps` (the pattern Cranelift matches), NaN
    /// lanes of `x` pass through. `fmax` needs six instructions on x86 for
    /// its ±0 and NaN rules, which a clamp does not need.
    pub fn clamp_below(&mut self, x: Value, c: Value) -> Value {
        let m = self.b.ins().fcmp(FloatCC::LessThan, x, c);
        let m = self.bits_f(m);
        self.b.ins().bitselect(m, c, x)
    }
    /// `c < x ? c : x`: one `minps`; NaN lanes of `x` pass through.
    pub fn clamp_above(&mut self, x: Value, c: Value) -> Value {
        let m = self.b.ins().fcmp(FloatCC::LessThan, c, x);
        let m = self.bits_f(m);
        self.b.ins().bitselect(m, c, x)
    }

    /// `2^n` for i32x4 `n` in the normal exponent range [-126, 127].
    fn pow2i(&mut self, n: Value) -> Value {
        let bias = self.ci(127);
        let e = self.b.ins().iadd(n, bias);
        let sh = self.sh(23);
        let bits = self.b.ins().ishl(e, sh);
        self.bits_f(bits)
    }

    // ---- functions ----

    /// e^x. Cody-Waite reduction `x = n ln2 + r`, `e^r = 1 + r + r^2 P(r)`,
    /// scaled by 2^n in two halves so that denormal results round once.
    pub fn exp(&mut self, x: Value) -> Value {
        let lo = self.cf(-104.0);
        let hi = self.cf(88.8);
        let x = self.clamp_below(x, lo);
        let x = self.clamp_above(x, hi);
        let t = self.mul_c(x, std::f32::consts::LOG2_E);
        // Round to nearest by adding 1.5·2^23 (|t| < 2^22 after the clamp):
        // the sum's low mantissa bits are n, so both the float n and the
        // integer n come out of one add (cheaper than `nearest` plus a
        // saturating conversion, which x86 lowers to seven instructions).
        let magic = self.cf(12_582_912.0);
        let tm = self.b.ins().fadd(t, magic);
        let n = self.b.ins().fsub(tm, magic);
        let c1 = self.cf(-0.693_359_4);
        let r = self.mul_add(n, c1, x);
        let c2 = self.cf(2.121_944_4e-4);
        let r = self.mul_add(n, c2, r);
        let p = self.poly(&k::EXP, r);
        let r2 = self.b.ins().fmul(r, r);
        let y = self.mul_add(p, r2, r);
        let y = self.add_c(y, 1.0);
        let tmi = self.bits_i(tm);
        let mbits = self.ci(0x4b40_0000);
        let ni = self.b.ins().isub(tmi, mbits);
        let one = self.sh(1);
        let n1 = self.b.ins().sshr(ni, one);
        let n2 = self.b.ins().isub(ni, n1);
        let s1 = self.pow2i(n1);
        let s2 = self.pow2i(n2);
        let y = self.b.ins().fmul(y, s1);
        self.b.ins().fmul(y, s2)
    }

    /// Natural logarithm: `x = m 2^e` with m in [sqrt(1/2), sqrt(2)),
    /// `log(1+f) = f - f^2/2 + f^3 P(f)`.
    pub fn log(&mut self, x: Value) -> Value {
        // Denormals: scale into the normal range first.
        let tiny = self.cmp_c(FloatCC::LessThan, x, f32::MIN_POSITIVE);
        let scaled = self.mul_c(x, 8_388_608.0); // 2^23
        let xs = self.sel(tiny, scaled, x);
        let m23 = self.ci(-23);
        let z = self.ci(0);
        let tiny_i = tiny; // fcmp masks are i32x4 already
        let eadj = self.b.ins().bitselect(tiny_i, m23, z);
        let bits = self.bits_i(xs);
        let s23 = self.sh(23);
        let ebits = self.b.ins().ushr(bits, s23);
        let b127 = self.ci(127);
        let e = self.b.ins().isub(ebits, b127);
        let e = self.b.ins().iadd(e, eadj);
        let mmask = self.ci(0x007f_ffff);
        let mant = self.b.ins().band(bits, mmask);
        let one_bits = self.ci(0x3f80_0000);
        let mbits = self.b.ins().bor(mant, one_bits);
        let m = self.bits_f(mbits);
        let big = self.cmp_c(FloatCC::GreaterThan, m, std::f32::consts::SQRT_2);
        let half = self.mul_c(m, 0.5);
        let m = self.sel(big, half, m);
        let onei = self.ci(1);
        let inc = self.b.ins().band(big, onei);
        let e = self.b.ins().iadd(e, inc);
        let f = self.add_c(m, -1.0);
        let p = self.poly(&k::LOG, f);
        let f2 = self.b.ins().fmul(f, f);
        let f3 = self.b.ins().fmul(f2, f);
        let mh = self.cf(-0.5);
        let y = self.mul_add(mh, f2, f);
        let y = self.mul_add(f3, p, y);
        let ef = self.b.ins().fcvt_from_sint(F4, e);
        let lo = self.cf(-2.121_944_4e-4);
        let y = self.mul_add(ef, lo, y);
        let hi = self.cf(0.693_359_4);
        let y = self.mul_add(ef, hi, y);
        // Special cases: x < 0 or NaN -> NaN, 0 -> -inf, +inf -> +inf.
        let nan = self.cf(f32::NAN);
        let neg = self.cmp_c(FloatCC::UnorderedOrLessThan, x, 0.0);
        let y = self.sel(neg, nan, y);
        let zero = self.cmp_c(FloatCC::Equal, x, 0.0);
        let ninf = self.cf(f32::NEG_INFINITY);
        let y = self.sel(zero, ninf, y);
        let inf = self.cmp_c(FloatCC::Equal, x, f32::INFINITY);
        let pinf = self.cf(f32::INFINITY);
        self.sel(inf, pinf, y)
    }

    /// log(1 + x) as `log(u) * x / (u - 1)` with `u = 1 + x` (exact for u = 1).
    pub fn log1p(&mut self, x: Value) -> Value {
        let u = self.add_c(x, 1.0);
        let lu = self.log(u);
        let um1 = self.add_c(u, -1.0);
        let q = self.b.ins().fdiv(x, um1);
        let y = self.b.ins().fmul(lu, q);
        let exact = self.cmp_c(FloatCC::Equal, u, 1.0);
        let y = self.sel(exact, x, y);
        // u = inf: the quotient is inf/inf; the answer is inf.
        let inf = self.cmp_c(FloatCC::Equal, u, f32::INFINITY);
        self.sel(inf, u, y)
    }

    /// e^x - 1 as `(u - 1) x / log(u)` with `u = e^x` (Kahan's trick).
    pub fn expm1(&mut self, x: Value) -> Value {
        let u = self.exp(x);
        let um1 = self.add_c(u, -1.0);
        let lu = self.log(u);
        let q = self.b.ins().fdiv(x, lu);
        let y = self.b.ins().fmul(um1, q);
        let exact = self.cmp_c(FloatCC::Equal, u, 1.0);
        let y = self.sel(exact, x, y);
        let m1 = self.cmp_c(FloatCC::Equal, um1, -1.0);
        let y = self.sel(m1, um1, y);
        let inf = self.cmp_c(FloatCC::Equal, u, f32::INFINITY);
        self.sel(inf, u, y)
    }

    /// log(e^a + e^b) as `max + log1p(e^-|a-b|)`; equal arguments (both
    /// infinite included) give `max + ln 2`, and NaN propagates through the
    /// maximum.
    pub fn logaddexp(&mut self, a: Value, b: Value) -> Value {
        let m = self.b.ins().fmax(a, b);
        let d = self.b.ins().fsub(a, b);
        let ad = self.b.ins().fabs(d);
        let nd = self.b.ins().fneg(ad);
        let e = self.exp(nd);
        let l = self.log1p(e);
        let same = self.cmp(FloatCC::Equal, a, b);
        let ln2 = self.cf(std::f32::consts::LN_2);
        let l = self.sel(same, ln2, l);
        self.b.ins().fadd(m, l)
    }

    /// tanh: odd polynomial near 0, `1 - 2/(e^{2|x|} + 1)` beyond.
    pub fn tanh(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let x2 = self.b.ins().fmul(x, x);
        let p = self.poly(&k::TANH, x2);
        let x3 = self.b.ins().fmul(x2, x);
        let small = self.mul_add(x3, p, x);
        let a2 = self.b.ins().fadd(a, a);
        let e = self.exp(a2);
        let e1 = self.add_c(e, 1.0);
        let two = self.cf(2.0);
        let q = self.b.ins().fdiv(two, e1);
        let one = self.cf(1.0);
        let big = self.b.ins().fsub(one, q);
        let big = self.copysign(big, x);
        let is_small = self.cmp_c(FloatCC::LessThan, a, 0.625);
        let y = self.sel(is_small, small, big);
        // NaN fails every ordered compare; keep it.
        let isnan = self.cmp(FloatCC::Unordered, x, x);
        self.sel(isnan, x, y)
    }

    /// 1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 so e^-x never overflows.
    pub fn sigmoid(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let na = self.b.ins().fneg(a);
        let e = self.exp(na);
        let d = self.add_c(e, 1.0);
        let one = self.cf(1.0);
        let pos = self.b.ins().fdiv(one, d);
        let neg = self.b.ins().fdiv(e, d);
        let is_neg = self.cmp_c(FloatCC::LessThan, x, 0.0);
        self.sel(is_neg, neg, pos)
    }

    /// erf: `x P(x^2)` for |x| <= 1, `1 - e^{-x^2} Q(|x| - 2.5)` up to 4, 1 beyond.
    pub fn erf(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let x2 = self.b.ins().fmul(x, x);
        let p = self.poly(&k::ERF_SMALL, x2);
        let small = self.b.ins().fmul(x, p);
        let four = self.cf(4.0);
        let ac = self.clamp_above(a, four);
        let t = self.add_c(ac, -2.5);
        let q = self.poly(&k::ERFC_LARGE, t);
        let ac2 = self.b.ins().fmul(ac, ac);
        let nac2 = self.b.ins().fneg(ac2);
        let e = self.exp(nac2);
        let erfc = self.b.ins().fmul(e, q);
        let one = self.cf(1.0);
        let big = self.b.ins().fsub(one, erfc);
        let big = self.copysign(big, x);
        let is_small = self.cmp_c(FloatCC::LessThanOrEqual, a, 1.0);
        let y = self.sel(is_small, small, big);
        let isnan = self.cmp(FloatCC::Unordered, x, x);
        self.sel(isnan, x, y)
    }

    /// erfinv on (-1, 1): `y P(w)` with `w = -log(1 - y^2)` split at w = 5
    /// (Giles' scheme, our own fit); ±1 gives ±inf, |y| > 1 NaN.
    pub fn erfinv(&mut self, y: Value) -> Value {
        let one = self.cf(1.0);
        let a = self.b.ins().fsub(one, y);
        let c = self.b.ins().fadd(one, y);
        let ac = self.b.ins().fmul(a, c);
        let l = self.log(ac);
        let w = self.b.ins().fneg(l);
        let wc = self.add_c(w, -2.5);
        let pc = self.poly(&k::ERFINV_CENTRAL, wc);
        let sw = self.b.ins().sqrt(w);
        let wt = self.add_c(sw, -3.0);
        let pt = self.poly(&k::ERFINV_TAIL, wt);
        let central = self.cmp_c(FloatCC::LessThan, w, 5.0);
        let p = self.sel(central, pc, pt);
        let r = self.b.ins().fmul(p, y);
        let ay = self.b.ins().fabs(y);
        let is_one = self.cmp_c(FloatCC::Equal, ay, 1.0);
        let inf = self.cf(f32::INFINITY);
        let sinf = self.copysign(inf, y);
        let r = self.sel(is_one, sinf, r);
        let out = self.cmp_c(FloatCC::UnorderedOrGreaterThan, ay, 1.0);
        let nan = self.cf(f32::NAN);
        self.sel(out, nan, r)
    }

    /// Byte shuffle of two 128-bit values (indices 0-15 pick from `a`, 16-31 from `b`).
    fn shuffle(&mut self, a: Value, b: Value, idx: [u8; 16]) -> Value {
        let fl = MemFlagsData::new().with_endianness(Endianness::Little);
        let ab = self.b.ins().bitcast(types::I8X16, fl, a);
        let bb = self.b.ins().bitcast(types::I8X16, fl, b);
        let imm = self
            .b
            .func
            .dfg
            .immediates
            .push(ConstantData::from(idx.to_vec()));
        let r = self.b.ins().shuffle(ab, bb, imm);
        self.b.ins().bitcast(F4, fl, r)
    }

    /// Reduces `x` by multiples of pi/2 in f64 (two-part pi/2, fused), so the
    /// remainder is accurate to f32 precision even next to a multiple of
    /// pi/2. Returns the remainder and the multiple.
    fn reduce_half_pi(&mut self, x: Value) -> (Value, Value) {
        let hi_lanes = self.shuffle(
            x,
            x,
            [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
        );
        let mut rs = [x; 2];
        let mut js = [x; 2];
        for (h, src) in [x, hi_lanes].into_iter().enumerate() {
            let d = self.b.ins().fvpromote_low(src);
            let c = self.b.ins().f64const(std::f64::consts::FRAC_2_PI);
            let c = self.b.ins().splat(types::F64X2, c);
            let t = self.b.ins().fmul(d, c);
            let j = self.b.ins().nearest(t);
            let p1 = self.b.ins().f64const(-std::f64::consts::FRAC_PI_2);
            let p1 = self.b.ins().splat(types::F64X2, p1);
            let r = self.b.ins().fma(j, p1, d);
            let p2 = self.b.ins().f64const(-6.123_233_995_736_766e-17);
            let p2 = self.b.ins().splat(types::F64X2, p2);
            let r = self.b.ins().fma(j, p2, r);
            rs[h] = self.b.ins().fvdemote(r);
            js[h] = self.b.ins().fvdemote(j);
        }
        let join = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
        let r = self.shuffle(rs[0], rs[1], join);
        let j = self.shuffle(js[0], js[1], join);
        (r, j)
    }

    /// sin and cos together: f64 reduction by pi/2, polynomials on
    /// [-pi/4, pi/4], quadrant select by sign flips.
    pub fn sincos(&mut self, x: Value) -> (Value, Value) {
        let (r, j) = self.reduce_half_pi(x);
        let r2 = self.b.ins().fmul(r, r);
        let sp = self.poly(&k::SIN, r2);
        let r3 = self.b.ins().fmul(r2, r);
        let s = self.mul_add(r3, sp, r);
        let cp = self.poly(&k::COS, r2);
        let r4 = self.b.ins().fmul(r2, r2);
        let mh = self.cf(-0.5);
        let one = self.cf(1.0);
        let c = self.mul_add(mh, r2, one);
        let c = self.mul_add(r4, cp, c);
        let q = self.b.ins().fcvt_to_sint_sat(I4, j);
        // Quadrant q: sin x = [s, c, -s, -c][q & 3], cos x = [c, -s, -c, s][q & 3].
        let onei = self.ci(1);
        let odd_bit = self.b.ins().band(q, onei);
        let zero = self.ci(0);
        let odd = self.b.ins().icmp(
            cranelift_codegen::ir::condcodes::IntCC::NotEqual,
            odd_bit,
            zero,
        );
        let sin_base = self.sel(odd, c, s);
        let cos_base = self.sel(odd, s, c);
        let twoi = self.ci(2);
        let s30 = self.sh(30);
        let qs = self.b.ins().band(q, twoi);
        let sin_sign = self.b.ins().ishl(qs, s30);
        let q1 = self.b.ins().iadd(q, onei);
        let qc = self.b.ins().band(q1, twoi);
        let cos_sign = self.b.ins().ishl(qc, s30);
        let sb = self.bits_i(sin_base);
        let sb = self.b.ins().bxor(sb, sin_sign);
        let cb = self.bits_i(cos_base);
        let cb = self.b.ins().bxor(cb, cos_sign);
        (self.bits_f(sb), self.bits_f(cb))
    }

    pub fn sin(&mut self, x: Value) -> Value {
        self.sincos(x).0
    }
    pub fn cos(&mut self, x: Value) -> Value {
        self.sincos(x).1
    }
}

#[cfg(test)]
mod tests {
    //! Each function is JIT-compiled into a loop over f32x4 lanes, run on a
    //! dense sweep of inputs plus the special values, and compared with f64.
    use super::*;
    use cranelift_codegen::ir::{AbiParam, UserFuncName};
    use cranelift_codegen::settings::{self, Configurable};
    use cranelift_frontend::FunctionBuilderContext;
    use cranelift_jit::{JITBuilder, JITModule};
    use cranelift_module::{Linkage, Module};

    type Kernel = unsafe extern "C" fn(*const f32, *mut f32, usize);

    /// JITs `dst[i] = f(src[i])` for n a multiple of 4.
    fn jit(emit: fn(&mut VMath, Value) -> Value) -> (JITModule, Kernel) {
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").unwrap();
        let isa_builder = cranelift_native::builder().unwrap();
        let isa = isa_builder.finish(settings::Flags::new(flags)).unwrap();
        let fma = isa.has_native_fma();
        let mut module = JITModule::new(JITBuilder::with_isa(
            isa,
            cranelift_module::default_libcall_names(),
        ));
        let mut ctx = module.make_context();
        let ptr = module.target_config().pointer_type();
        for _ in 0..3 {
            ctx.func.signature.params.push(AbiParam::new(ptr));
        }
        ctx.func.name = UserFuncName::user(0, 0);
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let entry = b.create_block();
            let body = b.create_block();
            let exit = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let (src, dst, n) = (
                b.block_params(entry)[0],
                b.block_params(entry)[1],
                b.block_params(entry)[2],
            );
            let zero = b.ins().iconst(ptr, 0);
            b.append_block_param(body, ptr);
            b.ins().jump(body, &[zero.into()]);
            b.switch_to_block(body);
            let i = b.block_params(body)[0];
            let off = b.ins().ishl_imm_u(i, 2);
            let sa = b.ins().iadd(src, off);
            let da = b.ins().iadd(dst, off);
            let flags = MemFlagsData::new().with_notrap();
            let x = b.ins().load(F4, flags, sa, 0);
            let y = {
                let mut m = VMath::new(&mut b, fma);
                emit(&mut m, x)
            };
            b.ins().store(flags, y, da, 0);
            let next = b.ins().iadd_imm_u(i, 4);
            let more = b.ins().icmp(
                cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan,
                next,
                n,
            );
            b.ins().brif(more, body, &[next.into()], exit, &[]);
            b.switch_to_block(exit);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        let id = module
            .declare_function("kernel", Linkage::Local, &ctx.func.signature)
            .unwrap();
        module.define_function(id, &mut ctx).unwrap();
        module.clear_context(&mut ctx);
        module.finalize_definitions().unwrap();
        let f = module.get_finalized_function(id);
        (module, unsafe {
            std::mem::transmute::<*const u8, Kernel>(f)
        })
    }

    fn run(k: Kernel, xs: &[f32]) -> Vec<f32> {
        let n = xs.len().div_ceil(4) * 4;
        let mut src = xs.to_vec();
        src.resize(n, 0.0);
        let mut dst = vec![0f32; n];
        unsafe { k(src.as_ptr(), dst.as_mut_ptr(), n) };
        dst.truncate(xs.len());
        dst
    }

    /// Distance in units of the last place of the f32 nearest `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        if want.is_nan() {
            return if got.is_nan() { 0.0 } else { f64::INFINITY };
        }
        if want.is_infinite() || (want.abs() > f32::MAX as f64) {
            let w = want as f32;
            return if got == w { 0.0 } else { f64::INFINITY };
        }
        let w = want as f32;
        let ulp = if w == 0.0 || w.abs() < f32::MIN_POSITIVE {
            f32::from_bits(1) as f64
        } else {
            (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64
        };
        (got as f64 - want).abs() / ulp
    }

    /// Max ulp error of `emit` against `reference` over `xs`.
    fn max_err(
        emit: fn(&mut VMath, Value) -> Value,
        reference: fn(f64) -> f64,
        xs: &[f32],
    ) -> (f64, f32) {
        let (_m, k) = jit(emit);
        let ys = run(k, xs);
        let mut worst = (0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            let e = ulps(y, reference(x as f64));
            if e > worst.0 || e.is_nan() {
                worst = (e, x);
            }
        }
        worst
    }

    fn sweep(lo: f32, hi: f32, n: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n)
            .map(|i| lo + (hi - lo) * (i as f32 / (n - 1) as f32))
            .collect();
        v.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            1e-30,
            -1e-30,
        ]);
        v
    }

    pub fn erfinv_ref(y: f64) -> f64 {
        if y.abs() > 1.0 || y.is_nan() {
            return f64::NAN;
        }
        if y.abs() == 1.0 {
            return f64::INFINITY.copysign(y);
        }
        // Newton from a rough start on libm's f64 erf.
        let mut x = (-((1.0 - y) * (1.0 + y)).ln()).sqrt().copysign(y) * 0.8;
        for _ in 0..60 {
            let e = libm::erf(x) - y;
            x -= e / (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp());
        }
        x
    }

    /// The error bounds stated in docs/BACKENDS.md (max ulp over the domains named there).
    #[test]
    fn vector_math_error_bounds() {
        type Case = (
            &'static str,
            fn(&mut VMath, Value) -> Value,
            fn(f64) -> f64,
            Vec<f32>,
            f64,
        );
        let cases: &[Case] = &[
            (
                "exp",
                |m, x| m.exp(x),
                f64::exp,
                sweep(-104.0, 89.0, 200_003),
                1.0,
            ),
            (
                "log",
                |m, x| m.log(x),
                f64::ln,
                {
                    let mut v = sweep(0.0, 1000.0, 100_003);
                    v.extend((1..2000u32).map(|i| f32::from_bits(i * 1_000_000)));
                    v
                },
                1.0,
            ),
            (
                "log2",
                |m, x| {
                    let l = m.log(x);
                    m.mul_c(l, std::f32::consts::LOG2_E)
                },
                f64::log2,
                {
                    let mut v = sweep(0.0, 1000.0, 100_003);
                    v.extend((1..2000u32).map(|i| f32::from_bits(i * 1_000_000)));
                    v
                },
                2.0,
            ),
            (
                "log10",
                |m, x| {
                    let l = m.log(x);
                    m.mul_c(l, std::f32::consts::LOG10_E)
                },
                f64::log10,
                {
                    let mut v = sweep(0.0, 1000.0, 100_003);
                    v.extend((1..2000u32).map(|i| f32::from_bits(i * 1_000_000)));
                    v
                },
                2.0,
            ),
            (
                "logaddexp(x, 0.5)",
                |m, x| {
                    let c = m.cf(0.5);
                    m.logaddexp(x, c)
                },
                |x| {
                    let m = x.max(0.5);
                    if x.is_nan() {
                        f64::NAN
                    } else if m == f64::INFINITY {
                        m
                    } else {
                        m + ((x - m).exp() + (0.5 - m).exp()).ln()
                    }
                },
                sweep(-120.0, 120.0, 200_003),
                2.0,
            ),
            (
                "logaddexp(x, -x/3)",
                |m, x| {
                    let y = m.mul_c(x, -1.0 / 3.0);
                    m.logaddexp(x, y)
                },
                |x| {
                    let y = (x as f32 * (-1.0f32 / 3.0)) as f64;
                    let m = x.max(y);
                    if x.is_nan() {
                        f64::NAN
                    } else if m == f64::INFINITY {
                        m
                    } else {
                        m + ((x - m).exp() + (y - m).exp()).ln()
                    }
                },
                sweep(-120.0, 120.0, 200_003),
                2.0,
            ),
            (
                "log1p",
                |m, x| m.log1p(x),
                f64::ln_1p,
                sweep(-0.999, 100.0, 100_003),
                2.0,
            ),
            (
                "expm1",
                |m, x| m.expm1(x),
                f64::exp_m1,
                sweep(-20.0, 88.0, 100_003),
                2.0,
            ),
            (
                "tanh",
                |m, x| m.tanh(x),
                f64::tanh,
                sweep(-12.0, 12.0, 100_003),
                1.5,
            ),
            (
                "sigmoid",
                |m, x| m.sigmoid(x),
                |x| 1.0 / (1.0 + (-x).exp()),
                sweep(-100.0, 100.0, 100_003),
                2.5,
            ),
            (
                "erf",
                |m, x| m.erf(x),
                libm::erf,
                sweep(-6.0, 6.0, 100_003),
                2.5,
            ),
            (
                "erfinv",
                |m, x| m.erfinv(x),
                erfinv_ref,
                sweep(-0.999_999, 0.999_999, 100_003),
                3.0,
            ),
            (
                "sin",
                |m, x| m.sin(x),
                f64::sin,
                sweep(-1e5, 1e5, 400_003),
                2.0,
            ),
            (
                "cos",
                |m, x| m.cos(x),
                f64::cos,
                sweep(-1e5, 1e5, 400_003),
                2.0,
            ),
        ];
        let mut failures = Vec::new();
        for (name, emit, reference, xs, bound) in cases {
            let (err, at) = max_err(*emit, *reference, xs);
            println!("{name:18} max error {err:.2} ulp (at x = {at:e})");
            if err.is_nan() || err > *bound {
                failures.push(format!(
                    "{name}: {err:.2} ulp at x = {at:e} (bound {bound})"
                ));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
