//! Psionic's C ABI (`libpsionic.so`, header `capi/include/psionic.h`).
//!
//! Owns the boundary between C (or Python's `ctypes`) and `psionic-mlx`:
//! - **Handles.** A `PsiArray*` owns one lazy [`Array`]; a `PsiFunction*`
//!   owns a loaded `.mlxfn`/`.psifn`/`.pir` module. Every handle returned
//!   through an out-pointer is the caller's, freed with the matching
//!   `psi_*_free` (which accept NULL).
//! - **Errors.** Every fallible function returns a status code (`PSI_OK`
//!   is 0; the others are the `PSI_ERROR_*` constants) and leaves a message
//!   naming the problem for `psi_last_error()` (per thread, valid until the
//!   next call on that thread). Out-pointers are written only on success.
//! - **No unwinding across the boundary.** Each entry point runs inside
//!   `catch_unwind`; a panic (a bug) becomes `PSI_ERROR_INTERNAL`.
//! - **Dtype codes** are MLX's (`Dtype::Val` order, as in `.mlxfn`):
//!   `PSI_BOOL` 0 … `PSI_FLOAT32` 10 … `PSI_COMPLEX64` 13.
//!
//! Arrays are lazy as in MLX: `psi_op` builds a graph; `psi_eval` or
//! `psi_array_read` evaluates it. Ops are called by MLX name with keyword
//! arguments as a JSON object (`psi_op("sum", &x, 1, "{\"axis\": 1}", …)`);
//! see [`ops`] for the table.

use psionic_ir::{DType, Module, TensorType};
use psionic_mlx::{apply, eval, files, Array};
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod ops;

/// Success.
pub const PSI_OK: i32 = 0;
/// A required pointer argument was NULL.
pub const PSI_ERROR_NULL_ARGUMENT: i32 = 1;
/// An argument is malformed: a dtype code, a shape, a UTF-8 string, JSON keyword arguments.
pub const PSI_ERROR_INVALID_ARGUMENT: i32 = 2;
/// `psi_op` was given a name it does not know.
pub const PSI_ERROR_UNKNOWN_OP: i32 = 3;
/// An op or a function call rejected its inputs (shapes, dtypes, attributes) or failed to run.
pub const PSI_ERROR_OP: i32 = 4;
/// A file could not be read or parsed.
pub const PSI_ERROR_IO: i32 = 5;
/// A transform (grad, vjp) could not be built for the function.
pub const PSI_ERROR_TRANSFORM: i32 = 6;
/// An output buffer or handle array is too small; the message says how much is needed.
pub const PSI_ERROR_BUFFER_TOO_SMALL: i32 = 7;
/// A bug inside Psionic (a caught panic). Please report it with the message.
pub const PSI_ERROR_INTERNAL: i32 = 8;

pub const PSI_BOOL: i32 = 0;
pub const PSI_UINT8: i32 = 1;
pub const PSI_UINT16: i32 = 2;
pub const PSI_UINT32: i32 = 3;
pub const PSI_UINT64: i32 = 4;
pub const PSI_INT8: i32 = 5;
pub const PSI_INT16: i32 = 6;
pub const PSI_INT32: i32 = 7;
pub const PSI_INT64: i32 = 8;
pub const PSI_FLOAT16: i32 = 9;
pub const PSI_FLOAT32: i32 = 10;
pub const PSI_FLOAT64: i32 = 11;
pub const PSI_BFLOAT16: i32 = 12;
pub const PSI_COMPLEX64: i32 = 13;

/// An array handle (opaque to C).
pub struct PsiArray {
    array: Array,
}

/// A loaded function handle (opaque to C): a module and the name of the
/// function to call among its traces.
pub struct PsiFunction {
    module: Module,
    name: Option<String>,
}

/// A failure on its way to C: a status code and its message.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

impl From<psionic_mlx::Error> for Fail {
    fn from(e: psionic_mlx::Error) -> Fail {
        Fail::new(PSI_ERROR_OP, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    // Interior NULs cannot cross into C: show them escaped.
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs one entry point: its error becomes a status code and the thread's
/// last error; a panic becomes `PSI_ERROR_INTERNAL`.
fn guard(f: impl FnOnce() -> Result<(), Fail>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error("");
            PSI_OK
        }
        Ok(Err(fail)) => {
            set_last_error(&fail.message);
            fail.code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&format!("internal error (please report): {what}"));
            PSI_ERROR_INTERNAL
        }
    }
}

fn nonnull<T>(p: *const T, what: &str) -> Result<(), Fail> {
    if p.is_null() {
        Err(Fail::new(
            PSI_ERROR_NULL_ARGUMENT,
            format!("`{what}` is NULL"),
        ))
    } else {
        Ok(())
    }
}

/// # Safety
/// `s` is NULL (reported as an error) or a NUL-terminated string.
unsafe fn c_str<'a>(s: *const c_char, what: &str) -> Result<&'a str, Fail> {
    nonnull(s, what)?;
    CStr::from_ptr(s)
        .to_str()
        .map_err(|_| Fail::new(PSI_ERROR_INVALID_ARGUMENT, format!("`{what}` is not UTF-8")))
}

/// The dtype with MLX's code `code`.
pub fn dtype_of(code: i32) -> Result<DType, Fail> {
    DType::from_mlx_code(code as i64).ok_or_else(|| {
        Fail::new(
            PSI_ERROR_INVALID_ARGUMENT,
            format!("unknown dtype code {code} (0 = bool ... 10 = float32 ... 13 = complex64)"),
        )
    })
}

/// # Safety
/// `arrays` is NULL with `n == 0`, or points to `n` valid handles.
unsafe fn arrays_in(
    arrays: *const *const PsiArray,
    n: usize,
    what: &str,
) -> Result<Vec<Array>, Fail> {
    if n == 0 {
        return Ok(Vec::new());
    }
    nonnull(arrays, what)?;
    let handles = std::slice::from_raw_parts(arrays, n);
    handles
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            nonnull(h, &format!("{what}[{i}]"))?;
            Ok((*h).array.clone())
        })
        .collect()
}

/// Hands `results` to C as new handles in `outputs[0..]` (capacity `cap`),
/// with their count in `*n_out`.
///
/// # Safety
/// `outputs` points to `cap` writable pointers; `n_out` is writable.
unsafe fn arrays_out(
    results: Vec<Array>,
    outputs: *mut *mut PsiArray,
    cap: usize,
    n_out: *mut usize,
) -> Result<(), Fail> {
    nonnull(n_out, "n_out")?;
    if results.len() > cap {
        *n_out = results.len();
        return Err(Fail::new(
            PSI_ERROR_BUFFER_TOO_SMALL,
            format!(
                "{} outputs, room for {cap}: pass at least {} output slots",
                results.len(),
                results.len()
            ),
        ));
    }
    if !results.is_empty() {
        nonnull(outputs, "outputs")?;
    }
    *n_out = results.len();
    for (i, a) in results.into_iter().enumerate() {
        *outputs.add(i) = new_handle(a);
    }
    Ok(())
}

/// Writes `f(array)` to `*out`: the shape of the scalar queries.
///
/// # Safety
/// `a` is NULL (an error) or a valid handle; `out` is NULL (an error) or writable.
unsafe fn query<T>(a: *const PsiArray, out: *mut T, f: impl FnOnce(&Array) -> T) -> i32 {
    guard(|| {
        nonnull(a, "a")?;
        nonnull(out, "out")?;
        let arr = &(*a).array;
        arr.check()?;
        *out = f(arr);
        Ok(())
    })
}

/// A new handle owning `array`, for C.
fn new_handle(array: Array) -> *mut PsiArray {
    Box::into_raw(Box::new(PsiArray { array }))
}

/// The library's version (a static string).
#[no_mangle]
pub extern "C" fn psi_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The message of the last failed call on this thread ("" after a success).
/// Valid until the next `psi_*` call on this thread.
#[no_mangle]
pub extern "C" fn psi_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A new array of `dtype` and `shape` (`ndim` dims) holding a copy of the
/// row-major, little-endian bytes at `data` (exactly the array's size in
/// bytes; `data` may be NULL only for an empty array).
///
/// # Safety
/// `shape` points to `ndim` values (may be NULL when `ndim` is 0); `data`
/// points to the array's byte size; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_array_from_data(
    data: *const c_void,
    shape: *const i64,
    ndim: usize,
    dtype: i32,
    out: *mut *mut PsiArray,
) -> i32 {
    guard(|| {
        nonnull(out, "out")?;
        let dtype = dtype_of(dtype)?;
        let dims: &[i64] = if ndim == 0 {
            &[]
        } else {
            nonnull(shape, "shape")?;
            std::slice::from_raw_parts(shape, ndim)
        };
        let mut shp = Vec::with_capacity(ndim);
        for (i, &d) in dims.iter().enumerate() {
            if d < 0 {
                return Err(Fail::new(
                    PSI_ERROR_INVALID_ARGUMENT,
                    format!("shape[{i}] is {d}; dimensions must be non-negative"),
                ));
            }
            shp.push(d as usize);
        }
        let n = shp
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                Fail::new(
                    PSI_ERROR_INVALID_ARGUMENT,
                    format!("shape {dims:?} overflows"),
                )
            })?;
        let bytes: Vec<u8> = if n == 0 {
            Vec::new()
        } else {
            nonnull(data, "data")?;
            std::slice::from_raw_parts(data as *const u8, n).to_vec()
        };
        let lit = psionic_ir::Literal::from_bytes(dtype, shp, bytes)
            .map_err(|e| Fail::new(PSI_ERROR_INVALID_ARGUMENT, e.to_string()))?;
        *out = new_handle(Array::from_literal(lit));
        Ok(())
    })
}

/// A new 0-d array of `dtype` holding `value` (converted as `astype` does).
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_array_from_scalar(
    value: f64,
    dtype: i32,
    out: *mut *mut PsiArray,
) -> i32 {
    guard(|| {
        nonnull(out, "out")?;
        let dtype = dtype_of(dtype)?;
        let lit = psionic_ir::Literal::scalar_f64(dtype, value);
        *out = new_handle(Array::from_literal(lit));
        Ok(())
    })
}

/// Frees an array handle (NULL is ignored).
///
/// # Safety
/// `a` is NULL or a handle from this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn psi_array_free(a: *mut PsiArray) {
    if !a.is_null() {
        drop(Box::from_raw(a));
    }
}

/// The number of dimensions of `a`.
///
/// # Safety
/// `a` is a valid handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_array_ndim(a: *const PsiArray, out: *mut usize) -> i32 {
    query(a, out, |arr| arr.ndim())
}

/// Writes the `ndim` dimensions of `a` into `out` (room for `cap`).
///
/// # Safety
/// `a` is a valid handle; `out` points to `cap` writable values.
#[no_mangle]
pub unsafe extern "C" fn psi_array_shape(a: *const PsiArray, out: *mut i64, cap: usize) -> i32 {
    guard(|| {
        nonnull(a, "a")?;
        let arr = &(*a).array;
        arr.check()?;
        let shape = arr.shape();
        if shape.len() > cap {
            return Err(Fail::new(
                PSI_ERROR_BUFFER_TOO_SMALL,
                format!("the array has {} dimensions, room for {cap}", shape.len()),
            ));
        }
        if !shape.is_empty() {
            nonnull(out, "out")?;
            std::ptr::copy_nonoverlapping(shape.as_ptr(), out, shape.len());
        }
        Ok(())
    })
}

/// The dtype code of `a`.
///
/// # Safety
/// `a` is a valid handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_array_dtype(a: *const PsiArray, out: *mut i32) -> i32 {
    query(a, out, |arr| arr.dtype().mlx_code() as i32)
}

/// The number of elements of `a`.
///
/// # Safety
/// `a` is a valid handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_array_size(a: *const PsiArray, out: *mut usize) -> i32 {
    query(a, out, |arr| arr.size())
}

/// Evaluates `a` and copies its row-major little-endian bytes into `dst`,
/// which must hold exactly `nbytes` = size × dtype size.
///
/// # Safety
/// `a` is a valid handle; `dst` points to `nbytes` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn psi_array_read(
    a: *const PsiArray,
    dst: *mut c_void,
    nbytes: usize,
) -> i32 {
    guard(|| {
        nonnull(a, "a")?;
        let arr = &(*a).array;
        eval(&[arr])?;
        let lit = arr
            .value()
            .ok_or_else(|| Fail::new(PSI_ERROR_INTERNAL, "an evaluated array has no value"))?;
        let bytes = lit.bytes();
        if bytes.len() != nbytes {
            return Err(Fail::new(
                PSI_ERROR_BUFFER_TOO_SMALL,
                format!(
                    "the array is {} of shape {:?}: {} bytes, the buffer has {nbytes}",
                    lit.dtype(),
                    lit.shape(),
                    bytes.len()
                ),
            ));
        }
        if nbytes > 0 {
            nonnull(dst, "dst")?;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, nbytes);
        }
        Ok(())
    })
}

/// Evaluates `n` arrays together (one graph, shared work computed once).
///
/// # Safety
/// `arrays` points to `n` valid handles (may be NULL when `n` is 0).
#[no_mangle]
pub unsafe extern "C" fn psi_eval(arrays: *const *const PsiArray, n: usize) -> i32 {
    guard(|| {
        let xs = arrays_in(arrays, n, "arrays")?;
        let refs: Vec<&Array> = xs.iter().collect();
        eval(&refs)?;
        Ok(())
    })
}

/// Builds the op called `name` (MLX's name: "add", "matmul", "sum",
/// "softmax", "reshape", …) on `n_inputs` arrays with keyword arguments
/// `kwargs_json` (a JSON object, or NULL for none), lazily. Its results
/// go to `outputs` (room for `cap` handles) and their count to `*n_out`
/// (most ops have one; "split" has several). Unknown names and keywords
/// are errors that list the known ones.
///
/// # Safety
/// `name` is a NUL-terminated string; `inputs` points to `n_inputs` valid
/// handles; `kwargs_json` is NULL or a NUL-terminated string; `outputs`
/// points to `cap` writable pointers; `n_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_op(
    name: *const c_char,
    inputs: *const *const PsiArray,
    n_inputs: usize,
    kwargs_json: *const c_char,
    outputs: *mut *mut PsiArray,
    cap: usize,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        let name = c_str(name, "name")?;
        let xs = arrays_in(inputs, n_inputs, "inputs")?;
        let kwargs = if kwargs_json.is_null() {
            "{}"
        } else {
            c_str(kwargs_json, "kwargs_json")?
        };
        let results = ops::call(name, &xs, kwargs)?;
        arrays_out(results, outputs, cap, n_out)
    })
}

/// Loads a function from a `.mlxfn`, `.psifn` or `.pir` file. `name`
/// selects the function by name in a module of several (NULL: the
/// module's functions, whatever their name; an `.mlxfn` holds one name).
///
/// # Safety
/// `path` is a NUL-terminated string; `name` is NULL or one; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn psi_function_load(
    path: *const c_char,
    name: *const c_char,
    out: *mut *mut PsiFunction,
) -> i32 {
    guard(|| {
        let path = c_str(path, "path")?;
        nonnull(out, "out")?;
        let name = if name.is_null() {
            None
        } else {
            Some(c_str(name, "name")?.to_string())
        };
        let module =
            files::load_module(path).map_err(|e| Fail::new(PSI_ERROR_IO, e.to_string()))?;
        if module.funcs.is_empty() {
            return Err(Fail::new(
                PSI_ERROR_IO,
                format!("{path}: the file holds no function"),
            ));
        }
        if let Some(n) = &name {
            if !module.funcs.iter().any(|f| &f.name == n) {
                let mut have: Vec<&str> = module.funcs.iter().map(|f| f.name.as_str()).collect();
                have.dedup();
                return Err(Fail::new(
                    PSI_ERROR_INVALID_ARGUMENT,
                    format!("{path} has no function `{n}` (it has: {})", have.join(", ")),
                ));
            }
        }
        *out = Box::into_raw(Box::new(PsiFunction { module, name }));
        Ok(())
    })
}

/// Frees a function handle (NULL is ignored).
///
/// # Safety
/// `f` is NULL or a handle from this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn psi_function_free(f: *mut PsiFunction) {
    if !f.is_null() {
        drop(Box::from_raw(f));
    }
}

/// The trace of `f` that accepts `args` (as MLX dispatches among the
/// traces of an exported function).
fn select<'m>(f: &'m PsiFunction, args: &[Array]) -> Result<&'m psionic_ir::Func, Fail> {
    let mut types: Vec<TensorType> = Vec::with_capacity(args.len());
    for a in args {
        a.check()?;
        types.push(a.ty().clone());
    }
    files::select_named_trace(&f.module, f.name.as_deref(), &types)
        .map_err(|e| Fail::new(PSI_ERROR_OP, e.to_string()))
}

/// Calls `f` on `n` positional inputs; its results go to `outputs` (room
/// for `cap`), their count to `*n_out`. Lazy like `psi_op`.
///
/// # Safety
/// As `psi_op`, with `f` a valid function handle.
#[no_mangle]
pub unsafe extern "C" fn psi_function_call(
    f: *const PsiFunction,
    inputs: *const *const PsiArray,
    n: usize,
    outputs: *mut *mut PsiArray,
    cap: usize,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        nonnull(f, "f")?;
        let xs = arrays_in(inputs, n, "inputs")?;
        let func = select(&*f, &xs)?;
        let results = apply(func, &xs)?;
        arrays_out(results, outputs, cap, n_out)
    })
}

/// The vector-Jacobian product of `f` at `primals` (`n`) for
/// `cotangents` (`n_cot`, one per output of `f`): one cotangent per
/// primal, in order, into `outputs` (room for `cap`); zeros for primals
/// that are not floating point (MLX's `vjp`).
///
/// # Safety
/// As `psi_function_call`, with `cotangents` pointing to `n_cot` valid handles.
#[no_mangle]
pub unsafe extern "C" fn psi_function_vjp(
    f: *const PsiFunction,
    primals: *const *const PsiArray,
    n: usize,
    cotangents: *const *const PsiArray,
    n_cot: usize,
    outputs: *mut *mut PsiArray,
    cap: usize,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        nonnull(f, "f")?;
        let xs = arrays_in(primals, n, "primals")?;
        let cots = arrays_in(cotangents, n_cot, "cotangents")?;
        let func = select(&*f, &xs)?;
        if cots.len() != func.results.len() {
            return Err(Fail::new(
                PSI_ERROR_INVALID_ARGUMENT,
                format!(
                    "`{}` has {} outputs, {} cotangents given",
                    func.name,
                    func.results.len(),
                    cots.len()
                ),
            ));
        }
        let wrt: Vec<usize> = (0..xs.len())
            .filter(|&i| xs[i].dtype().is_inexact())
            .collect();
        let g = psionic_passes::autodiff::vjp(func, &wrt).map_err(|e| {
            Fail::new(
                PSI_ERROR_TRANSFORM,
                format!("vjp of `{}`: {}", func.name, e.message),
            )
        })?;
        let mut args = xs.clone();
        args.extend(cots);
        let mut r = apply(&g, &args)?;
        let grads = r.split_off(func.results.len());
        let mut grads = grads.into_iter();
        let mut out = Vec::with_capacity(xs.len());
        for (i, x) in xs.iter().enumerate() {
            if wrt.contains(&i) {
                out.push(grads.next().ok_or_else(|| {
                    Fail::new(PSI_ERROR_INTERNAL, "the vjp returned too few cotangents")
                })?);
            } else {
                out.push(psionic_mlx::try_zeros_like(x)?);
            }
        }
        arrays_out(out, outputs, cap, n_out)
    })
}

/// The gradient of a scalar-output `f` at `inputs` (`n`) with respect to
/// the inputs numbered in `argnums` (`n_argnums`; NULL with 0 means input
/// 0, as MLX's default), one gradient per argnum into `outputs`.
///
/// # Safety
/// As `psi_function_call`, with `argnums` pointing to `n_argnums` values.
#[no_mangle]
pub unsafe extern "C" fn psi_function_grad(
    f: *const PsiFunction,
    inputs: *const *const PsiArray,
    n: usize,
    argnums: *const usize,
    n_argnums: usize,
    outputs: *mut *mut PsiArray,
    cap: usize,
    n_out: *mut usize,
) -> i32 {
    guard(|| {
        nonnull(f, "f")?;
        let xs = arrays_in(inputs, n, "inputs")?;
        let argnums: Vec<usize> = if n_argnums == 0 {
            vec![0]
        } else {
            nonnull(argnums, "argnums")?;
            std::slice::from_raw_parts(argnums, n_argnums).to_vec()
        };
        if let Some(&bad) = argnums.iter().find(|&&a| a >= xs.len()) {
            return Err(Fail::new(
                PSI_ERROR_INVALID_ARGUMENT,
                format!("argnum {bad} is out of range for {} inputs", xs.len()),
            ));
        }
        let func = select(&*f, &xs)?;
        let g = psionic_passes::autodiff::grad(func, &argnums).map_err(|e| {
            Fail::new(
                PSI_ERROR_TRANSFORM,
                format!("grad of `{}`: {}", func.name, e.message),
            )
        })?;
        let results = apply(&g, &xs)?;
        arrays_out(results, outputs, cap, n_out)
    })
}
