"""Psionic from Python through its C ABI and ctypes (no extension module).

    cargo build -p psionic-capi            # builds target/debug/libpsionic.so
    python3 capi/examples/ctypes_demo.py   # or: ... ctypes_demo.py PATH/TO/libpsionic.so

It builds arrays from NumPy, runs MLX-named ops lazily, evaluates, reads
the results back, shows how errors come back (a code and a message, never
a crash), loads `loss.mlxfn` (written by real MLX: mean((x @ w - y)^2)),
calls it, takes its gradient, and runs a few steps of gradient descent.
Every number is checked against NumPy; the script exits non-zero on any
mismatch (CI runs it: capi/tests/ctypes_example.rs).
"""
import ctypes
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# MLX dtype codes, as in psionic.h.
DTYPES = {np.dtype(t): code for code, t in enumerate(
    [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32,
     np.int64, np.float16, np.float32, np.float64])}
DTYPES[np.dtype(np.complex64)] = 13  # 12 is bfloat16, which NumPy lacks
NUMPY_OF = {v: k for k, v in DTYPES.items()}


def load_library():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PSIONIC_LIB")
    if path is None:
        path = os.path.join(ROOT, "target", "debug", "libpsionic.so")
    lib = ctypes.CDLL(path)
    P = ctypes.c_void_p
    lib.psi_version.restype = ctypes.c_char_p
    lib.psi_last_error.restype = ctypes.c_char_p
    lib.psi_array_from_data.argtypes = [P, ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t,
                                        ctypes.c_int32, ctypes.POINTER(P)]
    lib.psi_array_free.argtypes = [P]
    lib.psi_array_free.restype = None
    lib.psi_array_ndim.argtypes = [P, ctypes.POINTER(ctypes.c_size_t)]
    lib.psi_array_shape.argtypes = [P, ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t]
    lib.psi_array_dtype.argtypes = [P, ctypes.POINTER(ctypes.c_int32)]
    lib.psi_array_size.argtypes = [P, ctypes.POINTER(ctypes.c_size_t)]
    lib.psi_array_read.argtypes = [P, P, ctypes.c_size_t]
    lib.psi_eval.argtypes = [ctypes.POINTER(P), ctypes.c_size_t]
    lib.psi_op.argtypes = [ctypes.c_char_p, ctypes.POINTER(P), ctypes.c_size_t, ctypes.c_char_p,
                           ctypes.POINTER(P), ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    lib.psi_function_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(P)]
    lib.psi_function_free.argtypes = [P]
    lib.psi_function_free.restype = None
    lib.psi_function_call.argtypes = [P, ctypes.POINTER(P), ctypes.c_size_t, ctypes.POINTER(P),
                                      ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    lib.psi_function_grad.argtypes = [P, ctypes.POINTER(P), ctypes.c_size_t,
                                      ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t,
                                      ctypes.POINTER(P), ctypes.c_size_t,
                                      ctypes.POINTER(ctypes.c_size_t)]
    return lib


LIB = load_library()


class PsionicError(Exception):
    def __init__(self, code, message):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


def check(code):
    if code != 0:
        raise PsionicError(code, LIB.psi_last_error().decode())


class Array:
    """Owns one PsiArray handle."""

    def __init__(self, handle):
        self.handle = ctypes.c_void_p(handle)

    @staticmethod
    def from_numpy(x):
        x = np.ascontiguousarray(x)
        shape = (ctypes.c_int64 * x.ndim)(*x.shape)
        out = ctypes.c_void_p()
        check(LIB.psi_array_from_data(x.ctypes.data, shape, x.ndim, DTYPES[x.dtype],
                                      ctypes.byref(out)))
        return Array(out.value)

    def numpy(self):
        ndim = ctypes.c_size_t()
        check(LIB.psi_array_ndim(self.handle, ctypes.byref(ndim)))
        shape = (ctypes.c_int64 * max(ndim.value, 1))()
        check(LIB.psi_array_shape(self.handle, shape, ndim.value))
        code = ctypes.c_int32()
        check(LIB.psi_array_dtype(self.handle, ctypes.byref(code)))
        out = np.empty(tuple(shape[: ndim.value]), dtype=NUMPY_OF[code.value])
        check(LIB.psi_array_read(self.handle, out.ctypes.data, out.nbytes))
        return out

    def __del__(self):
        LIB.psi_array_free(self.handle)


def handles(arrays):
    return (ctypes.c_void_p * max(len(arrays), 1))(*[a.handle.value for a in arrays])


def op(name, *inputs, **kwargs):
    import json

    outs = (ctypes.c_void_p * 8)()
    n = ctypes.c_size_t()
    check(LIB.psi_op(name.encode(), handles(inputs), len(inputs), json.dumps(kwargs).encode(),
                     outs, 8, ctypes.byref(n)))
    results = [Array(outs[i]) for i in range(n.value)]
    return results[0] if len(results) == 1 else results


class Function:
    def __init__(self, path):
        self.handle = ctypes.c_void_p()
        check(LIB.psi_function_load(path.encode(), None, ctypes.byref(self.handle)))

    def __call__(self, *inputs):
        outs = (ctypes.c_void_p * 8)()
        n = ctypes.c_size_t()
        check(LIB.psi_function_call(self.handle, handles(inputs), len(inputs), outs, 8,
                                    ctypes.byref(n)))
        return [Array(outs[i]) for i in range(n.value)]

    def grad(self, *inputs, argnums=(0,)):
        nums = (ctypes.c_size_t * len(argnums))(*argnums)
        outs = (ctypes.c_void_p * 8)()
        n = ctypes.c_size_t()
        check(LIB.psi_function_grad(self.handle, handles(inputs), len(inputs), nums, len(argnums),
                                    outs, 8, ctypes.byref(n)))
        return [Array(outs[i]) for i in range(n.value)]

    def __del__(self):
        LIB.psi_function_free(self.handle)


def close(name, got, want, tol=1e-5):
    ok = got.shape == want.shape and np.allclose(got, want, rtol=tol, atol=tol)
    print(f"  {name:<28} {'ok' if ok else 'MISMATCH'}  shape {tuple(got.shape)}")
    if not ok:
        print("    got ", got, "\n    want", want)
        sys.exit(1)


def main():
    print(f"psionic {LIB.psi_version().decode()} through ctypes")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)

    print("ops (lazy, evaluated on read):")
    A, B = Array.from_numpy(a), Array.from_numpy(b)
    close("matmul", op("matmul", A, B).numpy(), a @ b)
    close("add + exp", op("exp", op("add", A, A)).numpy(), np.exp(a + a))
    s = op("softmax", A, axis=-1).numpy()
    e = np.exp(a - a.max(-1, keepdims=True))
    close("softmax(axis=-1)", s, e / e.sum(-1, keepdims=True))
    close("sum(axis=1, keepdims)", op("sum", A, axis=1, keepdims=True).numpy(),
          a.sum(1, keepdims=True))
    parts = op("split", A, indices_or_sections=[1, 3], axis=1)
    close("split [1, 3] -> 3 parts", parts[2].numpy(), a[:, 3:])
    close("argmax(axis=0) int", op("argmax", A, axis=0).numpy().astype(np.int64),
          a.argmax(0))

    print("errors come back as codes and messages:")
    for what, thunk in [
        ("shape mismatch", lambda: op("add", A, B).numpy()),
        ("unknown op", lambda: op("frobnicate", A)),
        ("bad keyword", lambda: op("sum", A, axiz=1)),
        ("missing file", lambda: Function("/nonexistent/f.mlxfn")),
    ]:
        try:
            thunk()
        except PsionicError as err:
            print(f"  {what:<16} -> code {err.code}: {err.message[:90]}")
        else:
            print(f"  {what}: no error raised")
            sys.exit(1)

    print("a function exported by MLX (loss.mlxfn = mean((x @ w - y)^2)):")
    f = Function(os.path.join(HERE, "loss.mlxfn"))
    x = rng.standard_normal((8, 3)).astype(np.float32)
    w_true = np.array([[1.5], [-2.0], [0.5]], dtype=np.float32)
    y = (x @ w_true).astype(np.float32)
    w = np.zeros((3, 1), dtype=np.float32)
    X, Y = Array.from_numpy(x), Array.from_numpy(y)
    (value,) = f(Array.from_numpy(w), X, Y)
    close("loss(w=0)", value.numpy(), np.mean((x @ w - y) ** 2))
    (g,) = f.grad(Array.from_numpy(w), X, Y)
    close("grad wrt w", g.numpy(), 2.0 / len(x) * x.T @ (x @ w - y))
    for step in range(200):
        (g,) = f.grad(Array.from_numpy(w), X, Y)
        w = w - 0.1 * g.numpy()
    (value,) = f(Array.from_numpy(w), X, Y)
    print(f"  200 steps of gradient descent: loss {value.numpy():.2e}, w = {w.ravel().round(3)}")
    close("recovered w", w, w_true, tol=1e-3)
    print("all checks passed")


if __name__ == "__main__":
    main()
