//! Shape and dtype rules for the "MLX extras" rows of [`crate::ops`]: the ops
//! that exist because MLX 0.32.4 has an importable primitive for them
//! (convolution, FFT, linear algebra, quantization, random bits, the `fast`
//! primitives and a few odd ones).
//!
//! Attributes mirror the MLX primitive's state fields (same names, snake case),
//! so an `.mlxfn` importer maps state to attributes one to one. Symbolic
//! dimensions ([`DYN`]) flow through: a size that depends on a symbolic one is
//! symbolic, and checks that need a concrete size are skipped until the
//! function is specialized.

use crate::attr::Attrs;
use crate::dtype::DType;
use crate::types::{broadcast_shapes, fmt_dim, Dim, TensorType, DYN};

type Types<'a> = &'a [&'a TensorType];
type Out = Result<Vec<TensorType>, String>;

fn one(t: TensorType) -> Out {
    Ok(vec![t])
}

fn agree(a: Dim, b: Dim) -> bool {
    a == b || a == DYN || b == DYN
}

fn shapes_agree(a: &[Dim], b: &[Dim]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| agree(x, y))
}

fn meet(a: &[Dim], b: &[Dim]) -> Vec<Dim> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| if x == DYN { y } else { x })
        .collect()
}

fn need_float(t: &TensorType, what: &str) -> Result<(), String> {
    if t.dtype.is_float() {
        Ok(())
    } else {
        Err(format!("{what} must be a float type, found {t}"))
    }
}

fn need_rank_at_least(t: &TensorType, r: usize, what: &str) -> Result<(), String> {
    if t.rank() >= r {
        Ok(())
    } else {
        Err(format!("{what} must have rank at least {r}, found {t}"))
    }
}

fn need_integer(t: &TensorType, what: &str) -> Result<(), String> {
    if t.dtype.is_integer() {
        Ok(())
    } else {
        Err(format!("{what} must have an integer dtype, found {t}"))
    }
}

fn same_dtype(a: &TensorType, b: &TensorType, what: &str) -> Result<(), String> {
    if a.dtype == b.dtype {
        Ok(())
    } else {
        Err(format!(
            "{what}: dtypes differ ({} and {}): insert tensor.cast",
            a.dtype, b.dtype
        ))
    }
}

/// `a * b` on dims, symbolic if either is.
fn mul_dim(a: Dim, b: Dim) -> Dim {
    if a == DYN || b == DYN {
        DYN
    } else {
        a * b
    }
}

// ---- convolution ----

/// Output spatial size of one convolution axis, as MLX's `conv_out_shape`.
pub fn conv_out_len(
    n: Dim,
    k: Dim,
    stride: i64,
    lo: i64,
    hi: i64,
    kdil: i64,
    idil: i64,
) -> Result<Dim, String> {
    if n == DYN || k == DYN {
        return Ok(DYN);
    }
    let n_dil = if n == 0 { 0 } else { (n - 1) * idil + 1 };
    let padded = n_dil + lo + hi;
    let k_dil = (k - 1) * kdil + 1;
    if padded < k_dil {
        return Err(format!(
            "the padded input ({padded}) is smaller than the dilated kernel ({k_dil})"
        ));
    }
    Ok((padded - k_dil) / stride + 1)
}

pub fn conv_general(t: Types, attrs: &Attrs) -> Out {
    let (x, w) = (t[0], t[1]);
    if x.dtype != w.dtype || !x.dtype.is_float() {
        return Err(format!(
            "input and weight must share one float dtype, found {x} and {w}"
        ));
    }
    if x.rank() < 3 || w.rank() != x.rank() {
        return Err(format!(
            "input (N, spatial..., C) and weight (O, spatial..., C/groups) must have one rank of at least 3, found {x} and {w}"
        ));
    }
    let sd = x.rank() - 2;
    let names = [
        "kernel_strides",
        "padding_lo",
        "padding_hi",
        "kernel_dilation",
        "input_dilation",
    ];
    let mut lists = Vec::new();
    for name in names {
        let v = attrs.ints(name)?;
        if v.len() != sd {
            return Err(format!(
                "`{name}` has {} entries for {sd} spatial axes",
                v.len()
            ));
        }
        lists.push(v);
    }
    for (i, name) in names.iter().enumerate() {
        let min = if name.starts_with("padding") { 0 } else { 1 };
        if let Some(v) = lists[i].iter().find(|&&v| v < min) {
            return Err(format!(
                "`{name}` entries must be at least {min}, found {v}"
            ));
        }
    }
    let groups = attrs.int("groups")?;
    if groups < 1 {
        return Err(format!("groups must be positive, found {groups}"));
    }
    let c = x.shape[x.rank() - 1];
    let wc = w.shape[w.rank() - 1];
    let o = w.shape[0];
    if c != DYN && wc != DYN && c != wc * groups {
        return Err(format!(
            "input channels ({c}) must equal weight input channels ({wc}) times groups ({groups})"
        ));
    }
    if o != DYN && o % groups != 0 {
        return Err(format!(
            "output channels ({o}) must be divisible by groups ({groups})"
        ));
    }
    let mut shape = vec![x.shape[0]];
    for (i, (&n, &k)) in x.shape[1..=sd].iter().zip(&w.shape[1..=sd]).enumerate() {
        let [stride, lo, hi, kdil, idil] = [0, 1, 2, 3, 4].map(|l| lists[l][i]);
        shape.push(conv_out_len(n, k, stride, lo, hi, kdil, idil)?);
    }
    shape.push(o);
    one(x.with_shape(shape))
}

// ---- FFT ----

/// Unique, in-range FFT axes (order matters: the real axis is the last one).
fn fft_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    if axes.is_empty() {
        return Err("axes must not be empty".into());
    }
    let mut out: Vec<usize> = Vec::new();
    for &a in axes {
        if a < 0 || a as usize >= rank {
            return Err(format!("axis {a} is out of range for rank {rank}"));
        }
        if out.contains(&(a as usize)) {
            return Err(format!("axes {axes:?} repeat an axis"));
        }
        out.push(a as usize);
    }
    Ok(out)
}

pub fn fft(t: Types, attrs: &Attrs) -> Out {
    let x = t[0];
    let axes = fft_axes(attrs.ints("axes")?, x.rank())?;
    let inverse = attrs.bool("inverse")?;
    let real = attrs.bool("real")?;
    let odd_out = attrs.bool("odd_out")?;
    let last = *axes.last().unwrap_or(&0);
    let mut shape = x.shape.clone();
    match (real, inverse) {
        (false, _) => {
            if x.dtype != DType::C64 {
                return Err(format!("a complex FFT takes c64, found {x}"));
            }
            one(x.clone())
        }
        (true, false) => {
            need_float(x, "the input of a real FFT")?;
            if shape[last] != DYN {
                shape[last] = shape[last] / 2 + 1;
            }
            one(TensorType::new(DType::C64, shape))
        }
        (true, true) => {
            if x.dtype != DType::C64 {
                return Err(format!("an inverse real FFT takes c64, found {x}"));
            }
            if shape[last] == 0 {
                return Err("the inverse real FFT axis is empty".into());
            }
            if shape[last] != DYN {
                shape[last] = (shape[last] - 1) * 2 + odd_out as i64;
            }
            one(TensorType::new(DType::F32, shape))
        }
    }
}

// ---- linear algebra ----

fn matrix(t: &TensorType, square: bool, complex_ok: bool) -> Result<(Dim, Dim), String> {
    let ok = matches!(t.dtype, DType::F32 | DType::F64) || (complex_ok && t.dtype == DType::C64);
    if !ok {
        return Err(format!(
            "the matrix must be f32 or f64{}, found {t}",
            if complex_ok { " or c64" } else { "" }
        ));
    }
    need_rank_at_least(t, 2, "the matrix")?;
    let r = t.rank();
    let (m, n) = (t.shape[r - 2], t.shape[r - 1]);
    if square && !agree(m, n) {
        return Err(format!("the matrix must be square, found {t}"));
    }
    Ok((m, n))
}

fn min_dim(a: Dim, b: Dim) -> Dim {
    if a == DYN || b == DYN {
        DYN
    } else {
        a.min(b)
    }
}

fn real_of(d: DType) -> DType {
    if d == DType::C64 {
        DType::F32
    } else {
        d
    }
}

pub fn qr(t: Types, _: &Attrs) -> Out {
    let a = t[0];
    let (m, n) = matrix(a, false, false)?;
    let k = min_dim(m, n);
    let r = a.rank();
    let mut q = a.shape.clone();
    q[r - 1] = k;
    let mut rr = a.shape.clone();
    rr[r - 2] = k;
    Ok(vec![a.with_shape(q), a.with_shape(rr)])
}

pub fn svd(t: Types, attrs: &Attrs) -> Out {
    let a = t[0];
    let (m, n) = matrix(a, false, true)?;
    let r = a.rank();
    let mut s = a.shape[..r - 1].to_vec();
    s[r - 2] = min_dim(m, n);
    let s = TensorType::new(real_of(a.dtype), s);
    if !attrs.bool("compute_uv")? {
        return one(s);
    }
    let mut u = a.shape.clone();
    u[r - 1] = m;
    let mut vt = a.shape.clone();
    vt[r - 2] = n;
    Ok(vec![a.with_shape(u), s, a.with_shape(vt)])
}

pub fn square_same(t: Types, _: &Attrs) -> Out {
    matrix(t[0], true, false)?;
    one(t[0].clone())
}

pub fn eigh(t: Types, attrs: &Attrs) -> Out {
    let a = t[0];
    matrix(a, true, true)?;
    let uplo = attrs.str("uplo")?;
    if uplo != "L" && uplo != "U" {
        return Err(format!("uplo must be \"L\" or \"U\", found {uplo:?}"));
    }
    let w = TensorType::new(real_of(a.dtype), a.shape[..a.rank() - 1].to_vec());
    if attrs.bool("compute_eigenvectors")? {
        Ok(vec![w, a.clone()])
    } else {
        one(w)
    }
}

pub fn eig(t: Types, attrs: &Attrs) -> Out {
    let a = t[0];
    matrix(a, true, false)?;
    let w = TensorType::new(DType::C64, a.shape[..a.rank() - 1].to_vec());
    if attrs.bool("compute_eigenvectors")? {
        Ok(vec![w, a.with_dtype(DType::C64)])
    } else {
        one(w)
    }
}

// ---- quantization ----

/// The quantization modes MLX names (`QuantizationMode`).
pub const QUANT_MODES: [&str; 4] = ["affine", "mxfp4", "mxfp8", "nvfp4"];

/// Checked `(group_size, bits, mode)`, with MLX's rules per mode.
pub fn quant_params(attrs: &Attrs) -> Result<(i64, i64, &str), String> {
    let gs = attrs.int("group_size")?;
    let bits = attrs.int("bits")?;
    let mode = attrs.str("mode")?;
    match mode {
        "affine" => {
            if ![32, 64, 128].contains(&gs) {
                return Err(format!(
                    "affine group_size must be 32, 64 or 128, found {gs}"
                ));
            }
            if ![2, 3, 4, 5, 6, 8].contains(&bits) {
                return Err(format!(
                    "affine bits must be 2, 3, 4, 5, 6 or 8, found {bits}"
                ));
            }
        }
        "mxfp4" | "mxfp8" | "nvfp4" => {
            let (want_gs, want_bits) = match mode {
                "mxfp4" => (32, 4),
                "mxfp8" => (32, 8),
                _ => (16, 4),
            };
            if gs != want_gs || bits != want_bits {
                return Err(format!(
                    "{mode} needs group_size {want_gs} and bits {want_bits}, found {gs} and {bits}"
                ));
            }
        }
        _ => {
            return Err(format!(
                "mode must be one of {QUANT_MODES:?}, found {mode:?}"
            ))
        }
    }
    Ok((gs, bits, mode))
}

/// `n` elements packed `bits` to a u32 word: n*bits/32 words.
fn packed_len(n: Dim, bits: i64) -> Result<Dim, String> {
    if n == DYN {
        return Ok(DYN);
    }
    if (n * bits) % 32 != 0 {
        return Err(format!(
            "{n} elements of {bits} bits do not fill whole u32 words"
        ));
    }
    Ok(n * bits / 32)
}

fn unpacked_len(n: Dim, bits: i64) -> Dim {
    if n == DYN {
        DYN
    } else {
        n * 32 / bits
    }
}

fn scale_dtype(mode: &str, w: DType) -> DType {
    if mode == "affine" {
        w
    } else {
        DType::U8
    }
}

pub fn quantize(t: Types, attrs: &Attrs) -> Out {
    let (gs, bits, mode) = quant_params(attrs)?;
    let w = t[0];
    need_float(w, "the quantized matrix")?;
    need_rank_at_least(w, 2, "the quantized matrix")?;
    let r = w.rank();
    let n = w.shape[r - 1];
    if n != DYN && n % gs != 0 {
        return Err(format!(
            "the last axis ({n}) must be divisible by group_size {gs}"
        ));
    }
    let mut q = w.shape.clone();
    q[r - 1] = packed_len(n, bits)?;
    let mut s = w.shape.clone();
    s[r - 1] = if n == DYN { DYN } else { n / gs };
    let q = TensorType::new(DType::U32, q);
    let s = TensorType::new(scale_dtype(mode, w.dtype), s);
    if mode == "affine" {
        Ok(vec![q, s.clone(), s])
    } else {
        Ok(vec![q, s])
    }
}

/// Checks (w, scales[, biases]) of a quantized matrix; gives the unpacked
/// last-axis length.
fn check_quantized(
    w: &TensorType,
    scales: &TensorType,
    biases: Option<&TensorType>,
    gs: i64,
    bits: i64,
    mode: &str,
) -> Result<Dim, String> {
    if w.dtype != DType::U32 {
        return Err(format!("packed weights must be u32, found {w}"));
    }
    need_rank_at_least(w, 2, "packed weights")?;
    let r = w.rank();
    let n = unpacked_len(w.shape[r - 1], bits);
    let want_groups = if n == DYN { DYN } else { n / gs };
    let mut sshape = w.shape.clone();
    sshape[r - 1] = want_groups;
    if !shapes_agree(&scales.shape, &sshape) {
        return Err(format!(
            "scales {scales} do not match packed weights {w} (group_size {gs}, bits {bits})"
        ));
    }
    if mode == "affine" {
        need_float(scales, "scales")?;
        let b = biases.ok_or("affine mode needs biases")?;
        if b.dtype != scales.dtype || !shapes_agree(&b.shape, &scales.shape) {
            return Err(format!("biases {b} must match scales {scales}"));
        }
    } else {
        if scales.dtype != DType::U8 {
            return Err(format!("{mode} scales must be u8, found {scales}"));
        }
        if biases.is_some() {
            return Err(format!("{mode} mode takes no biases"));
        }
    }
    Ok(n)
}

pub fn dequantize(t: Types, attrs: &Attrs) -> Out {
    let (gs, bits, mode) = quant_params(attrs)?;
    let want = if mode == "affine" { 3 } else { 2 };
    if t.len() != want {
        return Err(format!(
            "{mode} dequantize takes {want} operands (w, scales{}), got {}",
            if want == 3 { ", biases" } else { "" },
            t.len()
        ));
    }
    let n = check_quantized(t[0], t[1], t.get(2).copied(), gs, bits, mode)?;
    let mut shape = t[0].shape.clone();
    let r = shape.len();
    shape[r - 1] = n;
    let dtype = match (mode, attrs.get("dtype")) {
        ("affine", None) => t[1].dtype,
        ("affine", Some(_)) => {
            let d = attrs.dtype("dtype")?;
            if d != t[1].dtype {
                return Err(format!(
                    "affine dequantize gives the scales' dtype {}, not {d}",
                    t[1].dtype
                ));
            }
            d
        }
        (_, None) => DType::BF16,
        (_, Some(_)) => {
            let d = attrs.dtype("dtype")?;
            if !d.is_float() {
                return Err(format!("dtype must be a float type, found {d}"));
            }
            d
        }
    };
    one(TensorType::new(dtype, shape))
}

/// Shared by quantized_matmul and gather_qmm: (x, w, scales[, biases]) and the
/// number of operands they use; gives (K, N) of `x @ dequant(w)(^T)`.
fn qmm_operands(t: Types, attrs: &Attrs) -> Result<(usize, Dim, Dim), String> {
    let (gs, bits, mode) = quant_params(attrs)?;
    let used = if mode == "affine" { 4 } else { 3 };
    if t.len() < used {
        return Err(format!(
            "{mode} mode needs {used} leading operands (x, w, scales{})",
            if used == 4 { ", biases" } else { "" }
        ));
    }
    let (x, w) = (t[0], t[1]);
    need_float(x, "x")?;
    need_rank_at_least(x, 2, "x")?;
    let biases = if used == 4 { Some(t[3]) } else { None };
    if let Some(b) = biases {
        same_dtype(x, b, "x and biases")?;
    }
    if mode == "affine" {
        same_dtype(x, t[2], "x and scales")?;
    }
    let n_unpacked = check_quantized(w, t[2], biases, gs, bits, mode)?;
    let r = w.rank();
    let transpose = attrs.bool("transpose")?;
    let (k, n) = if transpose {
        (n_unpacked, w.shape[r - 2])
    } else {
        (w.shape[r - 2], n_unpacked)
    };
    let xk = x.shape[x.rank() - 1];
    if !agree(xk, k) {
        return Err(format!(
            "x's last axis ({}) must equal the contracted size of w ({})",
            fmt_dim(xk),
            fmt_dim(k)
        ));
    }
    Ok((used, k, n))
}

pub fn quantized_matmul(t: Types, attrs: &Attrs) -> Out {
    let (used, _, n) = qmm_operands(t, attrs)?;
    if t.len() != used {
        return Err(format!(
            "takes {used} operands in this mode, got {}",
            t.len()
        ));
    }
    let (x, w) = (t[0], t[1]);
    // Batch axes of w broadcast against x's.
    let xb = &x.shape[..x.rank() - 2];
    let wb = &w.shape[..w.rank() - 2];
    let batch = broadcast_shapes(xb, wb)
        .ok_or_else(|| format!("batch axes of x {x} and w {w} do not broadcast"))?;
    if w.rank() > 2 && batch != xb {
        return Err(format!(
            "batch axes of w {w} must broadcast to those of x {x}"
        ));
    }
    let mut shape = x.shape.clone();
    let r = shape.len();
    shape[r - 1] = n;
    one(x.with_shape(shape))
}

fn check_index_pair(lhs: &TensorType, rhs: &TensorType) -> Result<Vec<Dim>, String> {
    need_integer(lhs, "lhs indices")?;
    need_integer(rhs, "rhs indices")?;
    if !shapes_agree(&lhs.shape, &rhs.shape) {
        return Err(format!(
            "lhs indices {lhs} and rhs indices {rhs} must have one shape"
        ));
    }
    Ok(meet(&lhs.shape, &rhs.shape))
}

pub fn gather_qmm(t: Types, attrs: &Attrs) -> Out {
    let (used, _, n) = qmm_operands(t, attrs)?;
    if t.len() != used + 2 {
        return Err(format!(
            "takes {} operands in this mode (quantized operands, lhs indices, rhs indices), got {}",
            used + 2,
            t.len()
        ));
    }
    let mut shape = check_index_pair(t[used], t[used + 1])?;
    let x = t[0];
    shape.push(x.shape[x.rank() - 2]);
    shape.push(n);
    one(x.with_shape(shape))
}

pub fn gather_mm(t: Types, _: &Attrs) -> Out {
    let (a, b) = (t[0], t[1]);
    same_dtype(a, b, "a and b")?;
    need_float(a, "a")?;
    need_rank_at_least(a, 2, "a")?;
    need_rank_at_least(b, 2, "b")?;
    let (ka, kb) = (a.shape[a.rank() - 1], b.shape[b.rank() - 2]);
    if !agree(ka, kb) {
        return Err(format!(
            "contracting dimensions differ: {} and {}",
            fmt_dim(ka),
            fmt_dim(kb)
        ));
    }
    let mut shape = check_index_pair(t[2], t[3])?;
    shape.push(a.shape[a.rank() - 2]);
    shape.push(b.shape[b.rank() - 1]);
    one(a.with_shape(shape))
}

fn ceil_div(a: Dim, b: i64) -> Dim {
    if a == DYN {
        DYN
    } else {
        (a + b - 1) / b
    }
}

pub fn block_masked_mm(t: Types, attrs: &Attrs) -> Out {
    let bs = attrs.int("block_size")?;
    if bs < 1 {
        return Err(format!("block_size must be positive, found {bs}"));
    }
    let (a, b) = (t[0], t[1]);
    same_dtype(a, b, "a and b")?;
    need_float(a, "a")?;
    if a.rank() < 2 || a.rank() != b.rank() {
        return Err(format!(
            "a and b must have one rank of at least 2, found {a} and {b}"
        ));
    }
    let r = a.rank();
    let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1]);
    if !agree(k, b.shape[r - 2]) {
        return Err(format!("contracting dimensions differ: {a} and {b}"));
    }
    let batch = broadcast_shapes(&a.shape[..r - 2], &b.shape[..r - 2])
        .ok_or_else(|| format!("batch axes of {a} and {b} do not broadcast"))?;
    // Masks: 3 operands = out mask, 4 = lhs and rhs masks, 5 = all three.
    let masks: Vec<(&TensorType, Dim, Dim, &str)> = match t.len() {
        2 => vec![],
        3 => vec![(t[2], m, n, "out mask")],
        4 => vec![(t[2], m, k, "lhs mask"), (t[3], k, n, "rhs mask")],
        5 => vec![
            (t[2], m, n, "out mask"),
            (t[3], m, k, "lhs mask"),
            (t[4], k, n, "rhs mask"),
        ],
        n => {
            return Err(format!(
                "takes 2 to 5 operands (a, b[, out_mask][, lhs_mask, rhs_mask]), got {n}"
            ))
        }
    };
    for (mask, rows, cols, what) in masks {
        if !(mask.dtype.is_bool() || mask.dtype == a.dtype) {
            return Err(format!("{what} must be bool or {}, found {mask}", a.dtype));
        }
        let want = [ceil_div(rows, bs), ceil_div(cols, bs)];
        let mr = mask.rank();
        if mr < 2 || !shapes_agree(&mask.shape[mr - 2..], &want) {
            return Err(format!(
                "{what} {mask} must end in the block grid [{}, {}]",
                fmt_dim(want[0]),
                fmt_dim(want[1])
            ));
        }
        if broadcast_shapes(&mask.shape[..mr - 2], &batch).as_deref() != Some(&batch[..]) {
            return Err(format!(
                "{what} {mask} batch axes must broadcast to {batch:?}"
            ));
        }
    }
    let mut shape = batch;
    shape.push(m);
    shape.push(n);
    one(a.with_shape(shape))
}

// ---- random ----

pub fn random_bits(t: Types, attrs: &Attrs) -> Out {
    let key = t[0];
    if key.dtype != DType::U32 || key.rank() < 1 || !agree(key.shape[key.rank() - 1], 2) {
        return Err(format!("the key must be u32 with last axis 2, found {key}"));
    }
    let shape = attrs.ints("shape")?;
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return Err(format!("shape {shape:?} has negative size {d}"));
    }
    let dtype = match attrs.int("width")? {
        1 => DType::U8,
        2 => DType::U16,
        4 => DType::U32,
        w => return Err(format!("width must be 1, 2 or 4 bytes, found {w}")),
    };
    let mut out = key.shape[..key.rank() - 1].to_vec();
    out.extend_from_slice(shape);
    one(TensorType::new(dtype, out))
}

// ---- fast ----

/// A weight-like operand: a 0-d scalar or a 1-d vector of the last axis.
fn check_affine_param(p: &TensorType, x: &TensorType, what: &str) -> Result<(), String> {
    same_dtype(x, p, what)?;
    let d = x.shape[x.rank() - 1];
    if p.rank() == 0 || (p.rank() == 1 && agree(p.shape[0], d)) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 0-d or 1-d of the last axis size {}, found {p}",
            fmt_dim(d)
        ))
    }
}

fn norm_x(x: &TensorType) -> Result<(), String> {
    need_float(x, "x")?;
    need_rank_at_least(x, 1, "x")
}

pub fn rms_norm(t: Types, _: &Attrs) -> Out {
    norm_x(t[0])?;
    check_affine_param(t[1], t[0], "weight")?;
    one(t[0].clone())
}

pub fn rms_norm_vjp(t: Types, _: &Attrs) -> Out {
    norm_x(t[0])?;
    check_affine_param(t[1], t[0], "weight")?;
    if !shapes_agree(&t[2].shape, &t[0].shape) || t[2].dtype != t[0].dtype {
        return Err(format!("cotangent {} must match x {}", t[2], t[0]));
    }
    Ok(vec![t[0].clone(), t[1].clone()])
}

pub fn layer_norm(t: Types, _: &Attrs) -> Out {
    norm_x(t[0])?;
    check_affine_param(t[1], t[0], "weight")?;
    check_affine_param(t[2], t[0], "bias")?;
    one(t[0].clone())
}

pub fn layer_norm_vjp(t: Types, _: &Attrs) -> Out {
    norm_x(t[0])?;
    check_affine_param(t[1], t[0], "weight")?;
    check_affine_param(t[2], t[0], "bias")?;
    if !shapes_agree(&t[3].shape, &t[0].shape) || t[3].dtype != t[0].dtype {
        return Err(format!("cotangent {} must match x {}", t[3], t[0]));
    }
    Ok(vec![t[0].clone(), t[1].clone(), t[2].clone()])
}

pub fn rope(t: Types, attrs: &Attrs) -> Out {
    let (x, offset) = (t[0], t[1]);
    need_float(x, "x")?;
    need_rank_at_least(x, 3, "x")?;
    if t.len() > 3 {
        return Err(format!(
            "takes (x, offset[, freqs]), got {} operands",
            t.len()
        ));
    }
    need_integer(offset, "offset")?;
    let b = x.shape[0];
    let ok = offset.rank() == 0
        || (offset.rank() == 1 && (agree(offset.shape[0], 1) || agree(offset.shape[0], b)));
    if !ok {
        return Err(format!(
            "offset must be 0-d or 1-d with 1 or {} (batch) elements, found {offset}",
            fmt_dim(b)
        ));
    }
    let dims = attrs.int("dims")?;
    let d = x.shape[x.rank() - 1];
    if dims <= 0 || dims % 2 != 0 || (d != DYN && dims > d) {
        return Err(format!(
            "dims must be positive, even and at most the last axis ({}), found {dims}",
            fmt_dim(d)
        ));
    }
    if let Some(f) = t.get(2) {
        if f.dtype != DType::F32 || f.rank() != 1 || !agree(f.shape[0], dims / 2) {
            return Err(format!(
                "freqs must be f32 of shape [{}], found {f}",
                dims / 2
            ));
        }
    }
    one(x.clone())
}

pub fn sdpa(t: Types, attrs: &Attrs) -> Out {
    let (q, k, v) = (t[0], t[1], t[2]);
    for (x, what) in [(q, "queries"), (k, "keys"), (v, "values")] {
        need_float(x, what)?;
        if x.rank() != 4 {
            return Err(format!("{what} must be rank 4 (B, heads, L, D), found {x}"));
        }
        same_dtype(q, x, what)?;
    }
    if !agree(q.shape[0], k.shape[0]) || !agree(q.shape[0], v.shape[0]) {
        return Err(format!("batch sizes differ: {q}, {k}, {v}"));
    }
    if !agree(q.shape[3], k.shape[3]) {
        return Err(format!("queries {q} and keys {k} differ in head dim"));
    }
    if !agree(k.shape[1], v.shape[1]) || !agree(k.shape[2], v.shape[2]) {
        return Err(format!("keys {k} and values {v} differ in heads or length"));
    }
    let (hq, hk) = (q.shape[1], k.shape[1]);
    if hq != DYN && hk != DYN && (hk == 0 || hq % hk != 0) {
        return Err(format!(
            "query heads ({hq}) must be a multiple of key heads ({hk})"
        ));
    }
    let do_causal = attrs.bool("do_causal")?;
    let has_sinks = attrs.bool("has_sinks")?;
    let want = 3 + usize::from(has_sinks);
    let has_mask = match t.len() {
        n if n == want => false,
        n if n == want + 1 => true,
        n => {
            return Err(format!(
                "takes (q, k, v[, mask]{}), got {n} operands",
                if has_sinks { ", sinks" } else { "" }
            ))
        }
    };
    if has_mask && do_causal {
        return Err("a mask operand and do_causal exclude each other".into());
    }
    let full = [q.shape[0], hq, q.shape[2], k.shape[2]];
    if has_mask {
        let m = t[3];
        if !(m.dtype.is_bool() || m.dtype == q.dtype) {
            return Err(format!("mask must be bool or {}, found {m}", q.dtype));
        }
        match broadcast_shapes(&m.shape, &full) {
            Some(s) if m.rank() <= 4 && shapes_agree(&s, &full) => {}
            _ => {
                return Err(format!(
                    "mask {m} must broadcast to [B, heads, Lq, Lk] = {full:?}"
                ))
            }
        }
    }
    if has_sinks {
        let s = t[t.len() - 1];
        same_dtype(q, s, "sinks")?;
        if s.rank() != 1 || !agree(s.shape[0], hq) {
            return Err(format!(
                "sinks must be 1-d with one entry per query head, found {s}"
            ));
        }
    }
    let out = q.with_shape(vec![q.shape[0], hq, q.shape[2], v.shape[3]]);
    if attrs.bool("output_logsumexp")? {
        let lse = TensorType::new(DType::F32, vec![q.shape[0], hq, q.shape[2], 1]);
        Ok(vec![out, lse])
    } else {
        one(out)
    }
}

pub fn hadamard(t: Types, _: &Attrs) -> Out {
    let x = t[0];
    need_float(x, "x")?;
    need_rank_at_least(x, 1, "x")?;
    let n = x.shape[x.rank() - 1];
    if n != DYN && !hadamard_size_ok(n as usize) {
        return Err(format!(
            "the last axis ({n}) must be 2^k, 12*2^k, 20*2^k or 28*2^k"
        ));
    }
    one(x.clone())
}

/// Sizes MLX's Hadamard transform supports: `m * 2^k` with m in {1, 12, 20, 28}.
pub fn hadamard_size_ok(n: usize) -> bool {
    [1usize, 12, 20, 28]
        .iter()
        .any(|&m| n.is_multiple_of(m) && (n / m).is_power_of_two())
}

// ---- misc ----

pub fn as_strided(t: Types, attrs: &Attrs) -> Out {
    let shape = attrs.ints("shape")?;
    let strides = attrs.ints("strides")?;
    let offset = attrs.int("offset")?;
    if shape.len() != strides.len() {
        return Err(format!(
            "shape {shape:?} and strides {strides:?} differ in length"
        ));
    }
    if let Some(d) = shape.iter().find(|&&d| d < 0) {
        return Err(format!("shape {shape:?} has negative size {d}"));
    }
    if offset < 0 {
        return Err(format!("offset must be non-negative, found {offset}"));
    }
    let x = t[0];
    if let Some(n) = x.num_elements() {
        // Every addressed element must lie in the operand.
        if !shape.contains(&0) {
            let mut lo = offset;
            let mut hi = offset;
            for (&d, &s) in shape.iter().zip(strides) {
                let span = (d - 1) * s;
                if span < 0 {
                    lo += span;
                } else {
                    hi += span;
                }
            }
            if lo < 0 || hi >= n as i64 {
                return Err(format!(
                    "the view reaches elements {lo}..={hi} of an operand of {n} elements"
                ));
            }
        }
    }
    one(TensorType::new(x.dtype, shape.to_vec()))
}

pub fn search_sorted(t: Types, _: &Attrs) -> Out {
    let (s, v) = (t[0], t[1]);
    if s.rank() != 1 {
        return Err(format!("the sorted sequence must be 1-d, found {s}"));
    }
    same_dtype(s, v, "sorted sequence and values")?;
    if s.dtype == DType::C64 {
        return Err("complex values have no order".into());
    }
    one(v.with_dtype(DType::U32))
}

pub fn masked_scatter(t: Types, _: &Attrs) -> Out {
    let (dst, mask, src) = (t[0], t[1], t[2]);
    if !mask.dtype.is_bool() || !shapes_agree(&mask.shape, &dst.shape) {
        return Err(format!(
            "mask must be bool of the shape of {dst}, found {mask}"
        ));
    }
    same_dtype(dst, src, "destination and source")?;
    if dst.rank() < 1 || src.rank() < 1 || !agree(src.shape[0], dst.shape[0]) {
        return Err(format!(
            "source {src} and destination {dst} must share the leading (batch) axis"
        ));
    }
    one(dst.clone())
}

pub fn depends(t: Types, attrs: &Attrs) -> Out {
    let n = attrs.int("num_outputs")?;
    if n < 1 || n as usize > t.len() {
        return Err(format!(
            "num_outputs must be between 1 and the operand count {}, found {n}",
            t.len()
        ));
    }
    Ok(t[..n as usize].iter().map(|&x| x.clone()).collect())
}

fn complex_in<'a>(t: Types<'a>) -> Result<&'a TensorType, String> {
    if t[0].dtype != DType::C64 {
        return Err(format!("operand must be c64, found {}", t[0]));
    }
    Ok(t[0])
}

pub fn complex_part(t: Types, _: &Attrs) -> Out {
    one(complex_in(t)?.with_dtype(DType::F32))
}

pub fn conjugate(t: Types, _: &Attrs) -> Out {
    one(complex_in(t)?.clone())
}

/// `mul_dim` is exported for kernels that size buffers from symbolic dims.
pub fn product(dims: &[Dim]) -> Dim {
    dims.iter().fold(1, |a, &d| mul_dim(a, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attr;
    use crate::ops::{infer_types, Opcode};

    fn ty(d: DType, s: &[i64]) -> TensorType {
        TensorType::new(d, s.to_vec())
    }

    fn conv_attrs(sd: usize, groups: i64) -> Attrs {
        let ones = Attr::Ints(vec![1; sd]);
        Attrs::new()
            .with("kernel_strides", ones.clone())
            .with("padding_lo", Attr::Ints(vec![0; sd]))
            .with("padding_hi", Attr::Ints(vec![0; sd]))
            .with("kernel_dilation", ones.clone())
            .with("input_dilation", ones)
            .with("groups", Attr::Int(groups))
            .with("flip", Attr::Bool(false))
    }

    #[test]
    fn conv_shapes() {
        let x = ty(DType::F32, &[2, 10, 4]);
        let w = ty(DType::F32, &[6, 3, 2]);
        let out = infer_types(Opcode::ConvGeneral, &[&x, &w], &conv_attrs(1, 2)).unwrap();
        assert_eq!(out[0].shape, vec![2, 8, 6]);
        let e = infer_types(Opcode::ConvGeneral, &[&x, &w], &conv_attrs(1, 1)).unwrap_err();
        assert!(e.contains("input channels"), "{e}");
        let strided = conv_attrs(1, 2)
            .with("kernel_strides", Attr::Ints(vec![3]))
            .with("padding_lo", Attr::Ints(vec![1]))
            .with("input_dilation", Attr::Ints(vec![2]));
        // dilated input 19, padded 20, kernel 3: (20-3)/3+1 = 6
        let out = infer_types(Opcode::ConvGeneral, &[&x, &w], &strided).unwrap();
        assert_eq!(out[0].shape, vec![2, 6, 6]);
    }

    #[test]
    fn fft_shapes() {
        let a = |real: bool, inverse: bool, odd: bool| {
            Attrs::new()
                .with("axes", Attr::Ints(vec![1]))
                .with("real", Attr::Bool(real))
                .with("inverse", Attr::Bool(inverse))
                .with("odd_out", Attr::Bool(odd))
        };
        let r = ty(DType::F32, &[2, 9]);
        let c = ty(DType::C64, &[2, 5]);
        assert_eq!(
            infer_types(Opcode::Fft, &[&r], &a(true, false, false)).unwrap()[0],
            ty(DType::C64, &[2, 5])
        );
        assert_eq!(
            infer_types(Opcode::Fft, &[&c], &a(true, true, true)).unwrap()[0],
            ty(DType::F32, &[2, 9])
        );
        assert_eq!(
            infer_types(Opcode::Fft, &[&c], &a(true, true, false)).unwrap()[0],
            ty(DType::F32, &[2, 8])
        );
        assert!(infer_types(Opcode::Fft, &[&r], &a(false, false, false))
            .unwrap_err()
            .contains("c64"));
    }

    #[test]
    fn quant_shapes() {
        let a = Attrs::new()
            .with("group_size", Attr::Int(64))
            .with("bits", Attr::Int(3))
            .with("mode", Attr::Str("affine".into()));
        let w = ty(DType::F16, &[8, 128]);
        let out = infer_types(Opcode::Quantize, &[&w], &a).unwrap();
        assert_eq!(out[0], ty(DType::U32, &[8, 12]));
        assert_eq!(out[1], ty(DType::F16, &[8, 2]));
        let back = infer_types(Opcode::Dequantize, &[&out[0], &out[1], &out[2]], &a).unwrap();
        assert_eq!(back[0], w);
        let x = ty(DType::F16, &[3, 128]);
        let qa = a.clone().with("transpose", Attr::Bool(true));
        let mm = infer_types(
            Opcode::QuantizedMatmul,
            &[&x, &out[0], &out[1], &out[2]],
            &qa,
        )
        .unwrap();
        assert_eq!(mm[0], ty(DType::F16, &[3, 8]));
        let bad = a.with("bits", Attr::Int(7));
        assert!(infer_types(Opcode::Quantize, &[&w], &bad)
            .unwrap_err()
            .contains("bits"));
    }

    #[test]
    fn random_and_linalg_shapes() {
        let key = ty(DType::U32, &[2]);
        let a = Attrs::new()
            .with("shape", Attr::Ints(vec![3, 5]))
            .with("width", Attr::Int(2));
        assert_eq!(
            infer_types(Opcode::RandomBits, &[&key], &a).unwrap()[0],
            ty(DType::U16, &[3, 5])
        );
        let m = ty(DType::F32, &[4, 3]);
        let s = infer_types(
            Opcode::Svd,
            &[&m],
            &Attrs::new().with("compute_uv", Attr::Bool(true)),
        )
        .unwrap();
        assert_eq!(s[0].shape, vec![4, 4]);
        assert_eq!(s[1].shape, vec![3]);
        assert_eq!(s[2].shape, vec![3, 3]);
        let q = infer_types(Opcode::Qr, &[&m], &Attrs::new()).unwrap();
        assert_eq!(
            (q[0].shape.clone(), q[1].shape.clone()),
            (vec![4, 3], vec![3, 3])
        );
        assert!(infer_types(
            Opcode::Cholesky,
            &[&m],
            &Attrs::new().with("upper", Attr::Bool(false))
        )
        .unwrap_err()
        .contains("square"));
    }
}
