//! WGSL expressions for the kernel IR's scalar ops, with the kernel-level
//! semantics of `psionic_ir::kernel::scalar` (NaN propagation, integer
//! wrapping and division by zero, saturating casts, f16/bf16 rounding).
//!
//! Every value lives on the device as a 32-bit WGSL scalar ([`dev_type`]):
//! f32 for f32/f16/bf16 (f16 and bf16 values are rounded to their format
//! after every node: `psi_f16`, `psi_bf16`; naga's `quantizeToF16` needs a
//! capability wgpu does not grant everywhere), i32 for i32/i16/i8 and
//! u32 for u32/u16/u8 (narrow integers wrap after every node), `bool` for
//! bool. f64, i64, u64 and complex values have no WGSL type: [`dev_type`]
//! names the dtype in its error.
//!
//! NaN tests are bit tests (`psi_isnan`): WGSL lets implementations assume
//! floats are finite, so `x != x` may be folded away.

use psionic_ir::{Attrs, DType, Opcode};
use std::collections::BTreeSet;

/// The WGSL scalar type a dtype is computed and stored in.
pub fn dev_type(d: DType) -> Result<&'static str, String> {
    Ok(match d {
        DType::F32 | DType::F16 | DType::BF16 => "f32",
        DType::I32 | DType::I16 | DType::I8 => "i32",
        DType::U32 | DType::U16 | DType::U8 => "u32",
        DType::Bool => "bool",
        other => {
            return Err(format!(
                "wgpu backend: {other} has no WGSL type (WGSL has 32-bit floats and \
                 integers only; f64, i64, u64 and complex values are not supported: run \
                 this function on the cpu or interp backend)"
            ))
        }
    })
}

/// Helper functions a kernel may call, emitted once per module when used.
pub fn helper_source(name: &str) -> &'static str {
    match name {
        "psi_isnan" => "fn psi_isnan(x: f32) -> bool {\n    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;\n}\n",
        "psi_isinf" => "fn psi_isinf(x: f32) -> bool {\n    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;\n}\n",
        "psi_bf16" => "fn psi_bf16(x: f32) -> f32 {\n    let u = bitcast<u32>(x);\n    if ((u & 0x7fffffffu) > 0x7f800000u) {\n        return x;\n    }\n    return bitcast<f32>((u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u);\n}\n",
        "psi_f16" => "fn psi_f16(x: f32) -> f32 {\n    let a = abs(x);\n    if (psi_isnan(x) || psi_isinf(x)) {\n        return x;\n    }\n    if (a >= 65520.0f) {\n        return select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), x < 0.0f);\n    }\n    if (a < 6.103515625e-05f) {\n        return round(x * 16777216.0f) * 5.9604644775390625e-08f;\n    }\n    let u = bitcast<u32>(x);\n    return bitcast<f32>((u + 0x0fffu + ((u >> 13u) & 1u)) & 0xffffe000u);\n}\n",
        // Gathers: an index wrapped once if negative and checked against
        // `0..=lim`; out of range it records the fault (`sfault`: flag,
        // site, index bits; the first to raise the flag writes) and reads
        // element 0 of the index's range.
        "psi_wrap_i" => "fn psi_wrap_i(v: i32, dim: i32, lim: u32, site: u32) -> i32 {\n    let j = select(v, v + dim, v < 0i);\n    if (bitcast<u32>(j) > lim) {\n        psi_fault(site, bitcast<u32>(v));\n        return 0i;\n    }\n    return j;\n}\n",
        "psi_wrap_u" => "fn psi_wrap_u(v: u32, lim: u32, site: u32) -> i32 {\n    if (v > lim) {\n        psi_fault(site, v);\n        return 0i;\n    }\n    return i32(v);\n}\n",
        "psi_fault" => "fn psi_fault(site: u32, v: u32) {\n    if (atomicMax(&sfault[0], 1u) == 0u) {\n        atomicStore(&sfault[1], site);\n        atomicStore(&sfault[2], v);\n    }\n}\n",
        "psi_max" => "fn psi_max(a: f32, b: f32) -> f32 {\n    if (psi_isnan(a) || psi_isnan(b)) {\n        return a + b;\n    }\n    return max(a, b);\n}\n",
        "psi_min" => "fn psi_min(a: f32, b: f32) -> f32 {\n    if (psi_isnan(a) || psi_isnan(b)) {\n        return a + b;\n    }\n    return min(a, b);\n}\n",
        "psi_sign" => "fn psi_sign(a: f32) -> f32 {\n    if (psi_isnan(a)) {\n        return a;\n    }\n    return select(select(0.0f, -1.0f, a < 0.0f), 1.0f, a > 0.0f);\n}\n",
        "psi_tanh" => "fn psi_tanh(a: f32) -> f32 {\n    if (psi_isnan(a)) {\n        return a;\n    }\n    return tanh(clamp(a, -20.0f, 20.0f));\n}\n",
        "psi_sigmoid" => "fn psi_sigmoid(a: f32) -> f32 {\n    return 1.0f / (1.0f + exp(-a));\n}\n",
        "psi_expm1" => "fn psi_expm1(a: f32) -> f32 {\n    let u = exp(a);\n    if (u == 1.0f || psi_isnan(a)) {\n        return a;\n    }\n    let um = u - 1.0f;\n    if (um == -1.0f || psi_isinf(u)) {\n        return um;\n    }\n    return um * a / log(u);\n}\n",
        "psi_log1p" => "fn psi_log1p(a: f32) -> f32 {\n    let u = 1.0f + a;\n    if (u == 1.0f || psi_isnan(a)) {\n        return a;\n    }\n    if (psi_isinf(u)) {\n        return u;\n    }\n    return log(u) * a / (u - 1.0f);\n}\n",
        "psi_erf" => "fn psi_erf(x: f32) -> f32 {\n    if (psi_isnan(x)) {\n        return x;\n    }\n    let z = abs(x);\n    if (z < 0.5f) {\n        let x2 = x * x;\n        var term = x;\n        var sum = x;\n        for (var n = 1; n < 12; n++) {\n            term = term * (-x2 / f32(n));\n            sum = sum + term / f32(2 * n + 1);\n        }\n        return sum * 1.1283791670955126f;\n    }\n    let t = 1.0f / (1.0f + 0.5f * z);\n    let r = t * exp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));\n    return select(r - 1.0f, 1.0f - r, x >= 0.0f);\n}\n",
        "psi_erfinv" => "fn psi_erfinv(y: f32) -> f32 {\n    if (psi_isnan(y) || y < -1.0f || y > 1.0f) {\n        return bitcast<f32>(0x7fc00000u);\n    }\n    if (y == 1.0f) {\n        return bitcast<f32>(0x7f800000u);\n    }\n    if (y == -1.0f) {\n        return bitcast<f32>(0xff800000u);\n    }\n    var w = -log((1.0f - y) * (1.0f + y));\n    var p: f32;\n    if (w < 5.0f) {\n        w = w - 2.5f;\n        p = 2.81022636e-08f;\n        p = 3.43273939e-07f + p * w;\n        p = -3.5233877e-06f + p * w;\n        p = -4.39150654e-06f + p * w;\n        p = 0.00021858087f + p * w;\n        p = -0.00125372503f + p * w;\n        p = -0.00417768164f + p * w;\n        p = 0.246640727f + p * w;\n        p = 1.50140941f + p * w;\n    } else {\n        w = sqrt(w) - 3.0f;\n        p = -0.000200214257f;\n        p = 0.000100950558f + p * w;\n        p = 0.00134934322f + p * w;\n        p = -0.00367342844f + p * w;\n        p = 0.00573950773f + p * w;\n        p = -0.0076224613f + p * w;\n        p = 0.00943887047f + p * w;\n        p = 1.00167406f + p * w;\n        p = 2.83297682f + p * w;\n    }\n    var x = p * y;\n    let e = psi_erf(x) - y;\n    x = x - e / (1.1283791670955126f * exp(-x * x));\n    return x;\n}\n",
        "psi_pow" => "fn psi_pow(a: f32, b: f32) -> f32 {\n    if (b == 0.0f) {\n        return 1.0f;\n    }\n    if (psi_isnan(a) || psi_isnan(b)) {\n        return a + b;\n    }\n    if (a == 1.0f) {\n        return 1.0f;\n    }\n    let m = abs(a);\n    var r: f32;\n    if (m == 0.0f) {\n        r = select(bitcast<f32>(0x7f800000u), 0.0f, b > 0.0f);\n    } else if (psi_isinf(m)) {\n        r = select(0.0f, bitcast<f32>(0x7f800000u), b > 0.0f);\n    } else {\n        r = exp2(b * log2(m));\n    }\n    if (a < 0.0f || (a == 0.0f && (bitcast<u32>(a) >> 31u) == 1u)) {\n        if (floor(b) != b) {\n            return select(bitcast<f32>(0x7fc00000u), r, psi_isinf(b));\n        }\n        let odd = abs(b) < 16777216.0f && (abs(b) - 2.0f * floor(abs(b) * 0.5f)) == 1.0f;\n        return select(r, -r, odd);\n    }\n    return r;\n}\n",
        "psi_fmod" => "fn psi_fmod(a: f32, b: f32) -> f32 {\n    if (psi_isnan(a) || psi_isnan(b) || psi_isinf(a) || b == 0.0f) {\n        return bitcast<f32>(0x7fc00000u);\n    }\n    if (psi_isinf(b)) {\n        return a;\n    }\n    let ab = abs(b);\n    var r = abs(a);\n    if (r >= ab) {\n        r = r - ab * trunc(r / ab);\n        if (r < 0.0f) {\n            r = r + ab;\n        }\n        if (r >= ab) {\n            r = r - ab;\n        }\n    }\n    return select(r, -r, a < 0.0f);\n}\n",
        "psi_rem" => "fn psi_rem(a: f32, b: f32) -> f32 {\n    let r = psi_fmod(a, b);\n    if (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) {\n        return r + b;\n    }\n    return r;\n}\n",
        "psi_logaddexp" => "fn psi_logaddexp(a: f32, b: f32) -> f32 {\n    if (psi_isnan(a) || psi_isnan(b)) {\n        return a + b;\n    }\n    let m = max(a, b);\n    if (psi_isinf(m)) {\n        return m;\n    }\n    return m + log(exp(a - m) + exp(b - m));\n}\n",
        "psi_floordiv_i" => "fn psi_floordiv_i(a: i32, b: i32) -> i32 {\n    if (b == 0i) {\n        return 0i;\n    }\n    let q = a / b;\n    if ((a % b) != 0i && ((a < 0i) != (b < 0i))) {\n        return q - 1i;\n    }\n    return q;\n}\n",
        "psi_rem_i" => "fn psi_rem_i(a: i32, b: i32) -> i32 {\n    if (b == 0i) {\n        return 0i;\n    }\n    let r = a % b;\n    if (r != 0i && ((r < 0i) != (b < 0i))) {\n        return r + b;\n    }\n    return r;\n}\n",
        "psi_pow_i" => "fn psi_pow_i(a: i32, b: i32) -> i32 {\n    if (b < 0i) {\n        return 0i;\n    }\n    var acc = 1i;\n    var base = a;\n    var e = u32(b);\n    while (e > 0u) {\n        if ((e & 1u) == 1u) {\n            acc = acc * base;\n        }\n        base = base * base;\n        e = e >> 1u;\n    }\n    return acc;\n}\n",
        "psi_pow_u" => "fn psi_pow_u(a: u32, b: u32) -> u32 {\n    var acc = 1u;\n    var base = a;\n    var e = b;\n    while (e > 0u) {\n        if ((e & 1u) == 1u) {\n            acc = acc * base;\n        }\n        base = base * base;\n        e = e >> 1u;\n    }\n    return acc;\n}\n",
        "psi_f2i" => "fn psi_f2i(x: f32, lo: f32, hi: f32) -> i32 {\n    if (psi_isnan(x)) {\n        return 0i;\n    }\n    if (x >= 2147483648.0f) {\n        return 2147483647i;\n    }\n    return i32(clamp(trunc(x), lo, min(hi, 2147483520.0f)));\n}\n",
        "psi_f2u" => "fn psi_f2u(x: f32, hi: f32) -> u32 {\n    if (psi_isnan(x) || x <= 0.0f) {\n        return 0u;\n    }\n    if (x >= 4294967296.0f) {\n        return 4294967295u;\n    }\n    return u32(min(trunc(x), min(hi, 4294967040.0f)));\n}\n",
        "psi_lse_comb" => "fn psi_lse_comb(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {\n    if (psi_isnan(a.x) || psi_isnan(b.x)) {\n        return vec2<f32>(a.x + b.x, 1.0f);\n    }\n    if (a.x == bitcast<f32>(0xff800000u)) {\n        return b;\n    }\n    if (b.x == bitcast<f32>(0xff800000u)) {\n        return a;\n    }\n    if (a.x == b.x) {\n        return vec2<f32>(a.x, a.y + b.y);\n    }\n    let m = max(a.x, b.x);\n    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));\n}\n",
        "psi_lse_final" => "fn psi_lse_final(s: vec2<f32>) -> f32 {\n    if (psi_isnan(s.x) || psi_isinf(s.x)) {\n        return s.x;\n    }\n    return s.x + log(s.y);\n}\n",
        "psi_m2_push" => "fn psi_m2_push(s: vec3<f32>, v: f32) -> vec3<f32> {\n    let n = s.x + 1.0f;\n    let d = v - s.y;\n    let mean = s.y + d / n;\n    return vec3<f32>(n, mean, s.z + d * (v - mean));\n}\n",
        "psi_m2_comb" => "fn psi_m2_comb(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {\n    let n = a.x + b.x;\n    if (a.x == 0.0f) {\n        return b;\n    }\n    if (b.x == 0.0f) {\n        return a;\n    }\n    let d = b.y - a.y;\n    return vec3<f32>(n, a.y + d * (b.x / n), a.z + b.z + d * d * (a.x * b.x / n));\n}\n",
        "psi_atan" => "fn psi_atan(x: f32) -> f32 {\n    if (psi_isnan(x)) {\n        return x;\n    }\n    var a = abs(x);\n    var y = 0.0f;\n    if (a > 2.414213562373095f) {\n        y = 1.5707963267948966f;\n        a = -1.0f / a;\n    } else if (a > 0.41421356237309503f) {\n        y = 0.7853981633974483f;\n        a = (a - 1.0f) / (a + 1.0f);\n    }\n    let z = a * a;\n    y = y + (((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) * z - 3.33329491539e-1f) * z * a + a;\n    return select(y, -y, x < 0.0f);\n}\n",
        "psi_atan2" => "fn psi_atan2(y: f32, x: f32) -> f32 {\n    if (psi_isnan(x) || psi_isnan(y)) {\n        return x + y;\n    }\n    let ax = abs(x);\n    let ay = abs(y);\n    var r: f32;\n    if (psi_isinf(ax) && psi_isinf(ay)) {\n        r = 0.7853981633974483f;\n    } else if (ay == 0.0f || psi_isinf(ax)) {\n        r = 0.0f;\n    } else if (ax == 0.0f || psi_isinf(ay)) {\n        r = 1.5707963267948966f;\n    } else if (ay <= ax) {\n        r = psi_atan(ay / ax);\n    } else {\n        r = 1.5707963267948966f - psi_atan(ax / ay);\n    }\n    if ((bitcast<u32>(x) >> 31u) == 1u) {\n        r = 3.141592653589793f - r;\n    }\n    return select(r, -r, (bitcast<u32>(y) >> 31u) == 1u);\n}\n",
        "psi_asin" => "fn psi_asin(x: f32) -> f32 {\n    let a = abs(x);\n    if (psi_isnan(x) || a > 1.0f) {\n        return bitcast<f32>(0x7fc00000u);\n    }\n    var r: f32;\n    if (a > 0.5f) {\n        let z = 0.5f * (1.0f - a);\n        let s = sqrt(z);\n        r = 1.5707963267948966f - 2.0f * (s + s * z * ((((4.2163199048e-2f * z + 2.4181311049e-2f) * z + 4.5470025998e-2f) * z + 7.4953002686e-2f) * z + 1.6666752422e-1f));\n    } else {\n        let z = a * a;\n        r = a + a * z * ((((4.2163199048e-2f * z + 2.4181311049e-2f) * z + 4.5470025998e-2f) * z + 7.4953002686e-2f) * z + 1.6666752422e-1f);\n    }\n    return select(r, -r, x < 0.0f);\n}\n",
        "psi_acos" => "fn psi_acos(x: f32) -> f32 {\n    if (psi_isnan(x) || abs(x) > 1.0f) {\n        return bitcast<f32>(0x7fc00000u);\n    }\n    if (x < -0.5f) {\n        return 3.141592653589793f - 2.0f * psi_asin(sqrt(0.5f * (1.0f + x)));\n    }\n    if (x > 0.5f) {\n        return 2.0f * psi_asin(sqrt(0.5f * (1.0f - x)));\n    }\n    return 1.5707963267948966f - psi_asin(x);\n}\n",
        _ => "",
    }
}

/// Helpers a helper calls.
fn helper_deps(name: &str) -> &'static [&'static str] {
    match name {
        "psi_bf16" | "psi_isinf" | "psi_isnan" | "psi_sigmoid" | "psi_floordiv_i" | "psi_rem_i"
        | "psi_pow_i" | "psi_pow_u" | "psi_m2_push" | "psi_m2_comb" | "psi_fault" => &[],
        "psi_wrap_i" | "psi_wrap_u" => &["psi_fault"],
        "psi_erfinv" => &["psi_isnan", "psi_erf"],
        "psi_rem" => &["psi_fmod"],
        "psi_atan" => &["psi_isnan"],
        "psi_atan2" => &["psi_isnan", "psi_isinf", "psi_atan"],
        "psi_asin" => &["psi_isnan"],
        "psi_acos" => &["psi_isnan", "psi_asin"],
        "psi_expm1" | "psi_log1p" | "psi_pow" | "psi_fmod" | "psi_lse_final" | "psi_f16" => {
            &["psi_isnan", "psi_isinf"]
        }
        _ => &["psi_isnan", "psi_isinf"],
    }
}

/// Adds `name` and the helpers it calls to `set`.
pub fn need(set: &mut BTreeSet<&'static str>, name: &'static str) {
    if set.insert(name) {
        for d in helper_deps(name) {
            need(set, d);
        }
    }
}

/// A WGSL literal of `v` (already rounded to `d`) in `d`'s device type.
pub fn literal(d: DType, v: f64) -> Result<String, String> {
    let v = psionic_ir::kernel::scalar::round_to(d, v);
    Ok(match dev_type(d)? {
        "f32" => f32_lit(v as f32),
        "i32" => {
            let i = v as i64 as i32;
            if i == i32::MIN {
                "bitcast<i32>(0x80000000u)".into()
            } else {
                format!("{i}i")
            }
        }
        "u32" => format!("{}u", v as i64 as u32),
        _ => (if v != 0.0 { "true" } else { "false" }).into(),
    })
}

pub fn f32_lit(f: f32) -> String {
    if f.is_nan() {
        "bitcast<f32>(0x7fc00000u)".into()
    } else if f == f32::INFINITY {
        "bitcast<f32>(0x7f800000u)".into()
    } else if f == f32::NEG_INFINITY {
        "bitcast<f32>(0xff800000u)".into()
    } else if f != 0.0 && f.abs() < f32::MIN_POSITIVE {
        // Subnormals: exact bits (some front ends flush literal subnormals).
        format!("bitcast<f32>({:#x}u)", f.to_bits())
    } else {
        format!("{f:?}f")
    }
}

/// Rounds an expression of device type to `d` (f16/bf16 rounding, narrow
/// integer wrapping); identity for 32-bit types and bool.
pub fn round(d: DType, e: String, helpers: &mut BTreeSet<&'static str>) -> String {
    match d {
        DType::F16 => {
            need(helpers, "psi_f16");
            format!("psi_f16({e})")
        }
        DType::BF16 => {
            need(helpers, "psi_bf16");
            format!("psi_bf16({e})")
        }
        DType::I8 => format!("(({e}) << 24u) >> 24u"),
        DType::I16 => format!("(({e}) << 16u) >> 16u"),
        DType::U8 => format!("(({e}) & 0xffu)"),
        DType::U16 => format!("(({e}) & 0xffffu)"),
        _ => e,
    }
}

fn bits(d: DType) -> u32 {
    d.size() as u32 * 8
}

/// The WGSL expression of `opcode` on `args` (expressions of their device
/// types), whose operand dtype is `at` (for `select`, the values') and
/// result dtype `out`. The result is rounded to `out`.
pub fn op_expr(
    opcode: Opcode,
    attrs: &Attrs,
    args: &[String],
    at: DType,
    out: DType,
    h: &mut BTreeSet<&'static str>,
) -> Result<String, String> {
    use Opcode as O;
    dev_type(at)?;
    let od = dev_type(out)?;
    let a = args.first().cloned().unwrap_or_default();
    let b = args.get(1).cloned().unwrap_or_default();
    // Ops with their own bool and cast semantics.
    match opcode {
        O::Cast => return cast_expr(at, out, &a, h),
        O::Select => {
            let c = args
                .first()
                .ok_or("select without a condition")?
                .to_string();
            let (t, f) = (
                args.get(1).ok_or("select without values")?,
                args.get(2).ok_or("select without values")?,
            );
            return Ok(format!("select({f}, {t}, {c})"));
        }
        O::StopGradient | O::Copy => return Ok(a),
        O::LogicalNot | O::LogicalAnd | O::LogicalOr => {
            let mut t = |x: &str| truthy(at, x, h);
            let e = match opcode {
                O::LogicalNot => format!("!({})", t(&a)),
                O::LogicalAnd => format!("({}) && ({})", t(&a), t(&b)),
                _ => format!("({}) || ({})", t(&a), t(&b)),
            };
            return Ok(bool_to(out, e));
        }
        O::BitwiseInvert if at == DType::Bool => return Ok(bool_to(out, format!("!({a})"))),
        O::IsNan | O::IsInf | O::IsFinite => {
            let e = if at.is_float() {
                match opcode {
                    O::IsNan => {
                        need(h, "psi_isnan");
                        format!("psi_isnan({a})")
                    }
                    O::IsInf => {
                        need(h, "psi_isinf");
                        format!("psi_isinf({a})")
                    }
                    _ => {
                        need(h, "psi_isnan");
                        need(h, "psi_isinf");
                        format!("!(psi_isnan({a}) || psi_isinf({a}))")
                    }
                }
            } else {
                (if opcode == O::IsFinite {
                    "true"
                } else {
                    "false"
                })
                .to_string()
            };
            return Ok(bool_to(out, e));
        }
        _ => {}
    }
    // Bool operands compute as 0/1 integers (the interpreter's f64 0/1),
    // and a bool result is `!= 0`.
    let (args, at): (Vec<String>, DType) = if at == DType::Bool {
        (
            args.iter()
                .map(|x| format!("select(0i, 1i, {x})"))
                .collect(),
            DType::I32,
        )
    } else {
        (args.to_vec(), at)
    };
    let a = args.first().cloned().unwrap_or_default();
    let b = args.get(1).cloned().unwrap_or_default();
    let t = dev_type(at)?;
    let float = t == "f32";
    let signed = t == "i32";
    let cmp = |op: &str, h: &mut BTreeSet<&'static str>| -> String {
        if float {
            need(h, "psi_isnan");
            format!("!psi_isnan({a}) && !psi_isnan({b}) && ({a} {op} {b})")
        } else {
            format!("{a} {op} {b}")
        }
    };
    let call = |h: &mut BTreeSet<&'static str>, f: &'static str, xs: &[&String]| -> String {
        need(h, f);
        format!(
            "{f}({})",
            xs.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
        )
    };
    let unsupported = || {
        Err(format!(
            "wgpu backend: `{opcode}` on {at} is not supported by the WGSL code generator"
        ))
    };
    let e: String = match opcode {
        O::Equal => {
            let mut e = cmp("==", h);
            if float && attrs.bool("equal_nan").unwrap_or(false) {
                e = format!("({e}) || (psi_isnan({a}) && psi_isnan({b}))");
            }
            return Ok(bool_to(out, e));
        }
        O::NotEqual => {
            let e = if float {
                need(h, "psi_isnan");
                format!("psi_isnan({a}) || psi_isnan({b}) || ({a} != {b})")
            } else {
                format!("{a} != {b}")
            };
            return Ok(bool_to(out, e));
        }
        O::Less => return Ok(bool_to(out, cmp("<", h))),
        O::LessEqual => return Ok(bool_to(out, cmp("<=", h))),
        O::Greater => return Ok(bool_to(out, cmp(">", h))),
        O::GreaterEqual => return Ok(bool_to(out, cmp(">=", h))),
        O::Abs => {
            if t == "u32" {
                a
            } else {
                format!("abs({a})")
            }
        }
        O::Negative => {
            if t == "u32" {
                format!("0u - {a}")
            } else {
                format!("-({a})")
            }
        }
        O::Sign => match t {
            "f32" => call(h, "psi_sign", &[&a]),
            "i32" => format!("sign({a})"),
            _ => format!("select(0u, 1u, {a} > 0u)"),
        },
        O::Square => format!("{a} * {a}"),
        O::Add => format!("{a} + {b}"),
        O::Subtract => format!("{a} - {b}"),
        O::Multiply => format!("{a} * {b}"),
        O::Divide => {
            if float {
                format!("{a} / {b}")
            } else {
                let z = if signed { "0i" } else { "0u" };
                format!("select({a} / {b}, {z}, {b} == {z})")
            }
        }
        O::FloorDivide => match t {
            "f32" => format!("floor({a} / {b})"),
            "i32" => call(h, "psi_floordiv_i", &[&a, &b]),
            _ => format!("select({a} / {b}, 0u, {b} == 0u)"),
        },
        O::Remainder => match t {
            "f32" => call(h, "psi_rem", &[&a, &b]),
            "i32" => call(h, "psi_rem_i", &[&a, &b]),
            _ => format!("select({a} % {b}, 0u, {b} == 0u)"),
        },
        O::Power => match t {
            "f32" => call(h, "psi_pow", &[&a, &b]),
            "i32" => call(h, "psi_pow_i", &[&a, &b]),
            _ => call(h, "psi_pow_u", &[&a, &b]),
        },
        O::Maximum => match t {
            "f32" => call(h, "psi_max", &[&a, &b]),
            _ => format!("max({a}, {b})"),
        },
        O::Minimum => match t {
            "f32" => call(h, "psi_min", &[&a, &b]),
            _ => format!("min({a}, {b})"),
        },
        O::BitwiseAnd if !float => format!("{a} & {b}"),
        O::BitwiseOr if !float => format!("{a} | {b}"),
        O::BitwiseXor if !float => format!("{a} ^ {b}"),
        O::BitwiseInvert if !float => format!("~({a})"),
        O::LeftShift if !float => {
            let n = bits(at);
            let z = if signed { "0i" } else { "0u" };
            if signed {
                format!("select({a} << u32({b}), 0i, {b} < 0i || {b} >= {n}i)")
            } else {
                format!("select({a} << {b}, {z}, {b} >= {n}u)")
            }
        }
        O::RightShift if !float => {
            let n = bits(at);
            if signed {
                format!(
                    "{a} >> select(u32({b}), {m}u, {b} < 0i || {b} >= {n}i)",
                    m = n - 1
                )
            } else {
                format!("select({a} >> {b}, 0u, {b} >= {n}u)")
            }
        }
        O::Floor | O::Ceil | O::Round if !float => a,
        O::Floor => format!("floor({a})"),
        O::Ceil => format!("ceil({a})"),
        O::Round => format!("round({a})"),
        _ if !float => return unsupported(),
        O::Sqrt => format!("sqrt({a})"),
        O::Rsqrt => format!("1.0f / sqrt({a})"),
        O::Reciprocal => format!("1.0f / {a}"),
        O::Exp => format!("exp({a})"),
        O::Expm1 => call(h, "psi_expm1", &[&a]),
        O::Log => format!("log({a})"),
        O::Log1p => call(h, "psi_log1p", &[&a]),
        O::Log2 => format!("log2({a})"),
        O::Log10 => format!("log({a}) * 0.4342944819032518f"),
        O::Sin => format!("sin({a})"),
        O::Cos => format!("cos({a})"),
        O::Tan => format!("tan({a})"),
        // Inverse trig by our own polynomials: WGSL leaves the builtins'
        // accuracy to the driver (lavapipe's asin was off by 1e-4).
        O::Arcsin => call(h, "psi_asin", &[&a]),
        O::Arccos => call(h, "psi_acos", &[&a]),
        O::Arctan => call(h, "psi_atan", &[&a]),
        O::Sinh => format!("sinh({a})"),
        O::Cosh => format!("cosh({a})"),
        O::Tanh => call(h, "psi_tanh", &[&a]),
        O::Arcsinh => format!("asinh({a})"),
        O::Arccosh => format!("acosh({a})"),
        O::Arctanh => format!("atanh({a})"),
        O::Sigmoid => call(h, "psi_sigmoid", &[&a]),
        O::Erf => call(h, "psi_erf", &[&a]),
        O::Erfinv => call(h, "psi_erfinv", &[&a]),
        O::Arctan2 => call(h, "psi_atan2", &[&a, &b]),
        O::LogAddExp => call(h, "psi_logaddexp", &[&a, &b]),
        _ => return unsupported(),
    };
    // `e` has the device type of `at`; convert to `out` when they differ
    // (bool results of integer arithmetic on bools).
    let e = if od == "bool" && t != "bool" {
        let z = match t {
            "f32" => "0.0f",
            "i32" => "0i",
            _ => "0u",
        };
        return Ok(format!("({e}) != {z}"));
    } else {
        e
    };
    Ok(round(out, e, h))
}

fn truthy(at: DType, x: &str, h: &mut BTreeSet<&'static str>) -> String {
    match dev_type(at).unwrap_or("bool") {
        "bool" => x.to_string(),
        "f32" => {
            need(h, "psi_isnan");
            format!("({x} != 0.0f || psi_isnan({x}))")
        }
        "i32" => format!("{x} != 0i"),
        _ => format!("{x} != 0u"),
    }
}

fn bool_to(out: DType, e: String) -> String {
    match dev_type(out).unwrap_or("bool") {
        "bool" => e,
        "f32" => format!("select(0.0f, 1.0f, {e})"),
        "i32" => format!("select(0i, 1i, {e})"),
        _ => format!("select(0u, 1u, {e})"),
    }
}

/// `tensor.cast` from `from` to `to` (saturating float to integer, NaN to 0).
fn cast_expr(
    from: DType,
    to: DType,
    a: &str,
    h: &mut BTreeSet<&'static str>,
) -> Result<String, String> {
    let (ft, tt) = (dev_type(from)?, dev_type(to)?);
    if to == DType::Bool {
        return Ok(truthy(from, a, h));
    }
    if from == DType::Bool {
        let one = literal(to, 1.0)?;
        let zero = literal(to, 0.0)?;
        return Ok(format!("select({zero}, {one}, {a})"));
    }
    Ok(match (ft, tt) {
        ("f32", "f32") => round(to, a.to_string(), h),
        ("f32", "i32") => {
            need(h, "psi_f2i");
            let b = bits(to) as i32;
            let lo = -(2f64.powi(b - 1));
            let hi = 2f64.powi(b - 1) - 1.0;
            format!(
                "psi_f2i({a}, {}, {})",
                f32_lit(lo as f32),
                f32_lit(hi.min(2147483520.0) as f32)
            )
        }
        ("f32", "u32") => {
            need(h, "psi_f2u");
            let hi = 2f64.powi(bits(to) as i32) - 1.0;
            format!("psi_f2u({a}, {})", f32_lit(hi.min(4294967040.0) as f32))
        }
        (_, "f32") => round(to, format!("f32({a})"), h),
        ("i32", "i32") | ("u32", "u32") => round(to, a.to_string(), h),
        ("i32", "u32") => round(to, format!("bitcast<u32>({a})"), h),
        ("u32", "i32") => round(to, format!("bitcast<i32>({a})"), h),
        _ => return Err(format!("wgpu backend: cast from {from} to {to}")),
    })
}
