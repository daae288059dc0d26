"""Generates mlx_cases.json: op applications evaluated by real MLX (0.32,
CPU), which tests/mlx_cases.rs replays through the interpreter.

Run from this folder: `python3 gen_mlx_cases.py` (needs `pip install "mlx[cpu]"`).
Each case: op name, attributes, inputs and MLX's outputs (dtype, shape,
values as strings so NaN and infinities survive JSON), and a tolerance in
ulps of the output dtype (0 = bit-exact)."""

import json
import math

import mlx.core as mx
import numpy as np

rng = np.random.default_rng(7)
cases = []

DT = {
    "f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16, "f64": mx.float64,
    "i8": mx.int8, "i16": mx.int16, "i32": mx.int32, "i64": mx.int64,
    "u8": mx.uint8, "u16": mx.uint16, "u32": mx.uint32, "u64": mx.uint64, "bool": mx.bool_,
    "c64": mx.complex64,
}
NAME = {v: k for k, v in DT.items()}


def enc(a):
    a = mx.array(a) if not isinstance(a, mx.array) else a
    name = NAME[a.dtype]
    if name == "c64":
        vals = np.array(a).reshape(-1)
        pairs = [[repr(float(v.real)), repr(float(v.imag))] for v in vals]
        return {"dtype": name, "shape": list(a.shape), "values": [x for p in pairs for x in p]}
    if name in ("bf16",):
        vals = np.array(a.astype(mx.float32)).reshape(-1)
    else:
        vals = np.array(a).reshape(-1)
    return {"dtype": name, "shape": list(a.shape), "values": [repr(float(v)) if name[0] in "fb" and name != "bool" else str(int(v)) for v in vals]}


def case(op, attrs, inputs, outputs, ulps=0):
    cases.append({"op": op, "attrs": attrs, "inputs": [enc(x) for x in inputs],
                  "outputs": [enc(y) for y in outputs], "ulps": ulps})


def f32(*shape, lo=-4.0, hi=4.0):
    return mx.array(rng.uniform(lo, hi, size=shape).astype(np.float32))


def ints(dt, *shape, lo=-50, hi=50):
    return mx.array(rng.integers(lo, hi, size=shape)).astype(DT[dt])


SPECIAL = mx.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, float("inf"), -float("inf"), float("nan"), 3.0, 1e-30, 7.25])

# ---- unary float ops (MLX computes in f32: allow a few ulps) ----
UNARY = {
    "abs": (mx.abs, None), "negative": (mx.negative, None), "sign": (mx.sign, None),
    "square": (mx.square, None), "sqrt": (mx.sqrt, (0, 9)), "rsqrt": (mx.rsqrt, (0.1, 9)),
    "reciprocal": (mx.reciprocal, (0.1, 9)), "exp": (mx.exp, None), "expm1": (mx.expm1, None),
    "log": (mx.log, (0.01, 9)), "log1p": (mx.log1p, (-0.9, 9)), "log2": (mx.log2, (0.01, 9)),
    "log10": (mx.log10, (0.01, 9)), "sin": (mx.sin, None), "cos": (mx.cos, None), "tan": (mx.tan, (-1.4, 1.4)),
    "arcsin": (mx.arcsin, (-1, 1)), "arccos": (mx.arccos, (-1, 1)), "arctan": (mx.arctan, None),
    "sinh": (mx.sinh, None), "cosh": (mx.cosh, None), "tanh": (mx.tanh, None),
    "arcsinh": (mx.arcsinh, None), "arccosh": (mx.arccosh, (1, 9)), "arctanh": (mx.arctanh, (-0.99, 0.99)),
    "sigmoid": (mx.sigmoid, None), "erf": (mx.erf, None), "erfinv": (mx.erfinv, (-0.99, 0.99)),
    "floor": (mx.floor, None), "ceil": (mx.ceil, None), "round": (mx.round, None),
}
EXACT = {"abs", "negative", "sign", "square", "floor", "ceil", "round", "sqrt"}
for name, (fn, dom) in UNARY.items():
    lo, hi = dom if dom else (-4, 4)
    x = f32(2, 5, lo=lo, hi=hi)
    case("tensor." + name, {}, [x], [fn(x)], 0 if name in EXACT else 4)
for name in ["abs", "negative", "square", "floor", "ceil", "round", "sqrt", "exp", "sin"]:
    fn = UNARY[name][0]
    x = SPECIAL
    case("tensor." + name, {}, [x], [fn(x)], 0 if name in EXACT else 4)
case("tensor.round", {}, [mx.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, 1e8 + 0.5])], [mx.round(mx.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, 1e8 + 0.5]))])
for pred in ["isnan", "isinf", "isfinite"]:
    case("tensor." + pred, {}, [SPECIAL], [getattr(mx, pred)(SPECIAL)])

# ---- unary on half types: exact ops only ----
for dt in ["f16", "bf16"]:
    x = f32(3, 4).astype(DT[dt])
    for name in ["abs", "negative", "square", "floor", "round", "sqrt"]:
        xx = mx.abs(x) if name == "sqrt" else x
        case("tensor." + name, {}, [xx], [UNARY[name][0](xx)])

# ---- integer unary ----
for dt in ["i8", "i32", "i64"]:
    x = ints(dt, 8, lo=-100, hi=100)
    for name in ["abs", "negative", "sign", "square"]:
        case("tensor." + name, {}, [x], [UNARY[name][0](x)])
    case("tensor.bitwise_invert", {}, [x], [mx.bitwise_invert(x)])

# ---- binary float ----
BIN = {
    "add": mx.add, "subtract": mx.subtract, "multiply": mx.multiply, "divide": mx.divide,
    "floor_divide": mx.floor_divide, "remainder": mx.remainder, "power": mx.power,
    "maximum": mx.maximum, "minimum": mx.minimum, "arctan2": mx.arctan2, "logaddexp": mx.logaddexp,
}
for name, fn in BIN.items():
    a, b = f32(3, 4), f32(3, 4)
    if name == "power":
        a = mx.abs(a) + 0.1
    ulps = 0 if name in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "floor_divide") else 4
    case("tensor." + name, {}, [a, b], [fn(a, b)], ulps)
    # special values against each other
    a = mx.array([float("nan"), 1.0, float("inf"), -0.0, 0.0, -3.0])
    b = mx.array([1.0, float("nan"), 2.0, 0.0, -0.0, float("inf")])
    if name not in ("floor_divide", "remainder", "power", "logaddexp"):
        case("tensor." + name, {}, [a, b], [fn(a, b)], ulps)
for dt in ["f16", "bf16"]:
    a, b = f32(4, 3).astype(DT[dt]), f32(4, 3).astype(DT[dt])
    for name in ["add", "subtract", "multiply", "divide", "maximum"]:
        case("tensor." + name, {}, [a, b], [BIN[name](a, b)])

# ---- binary integer ----
for dt in ["i8", "i16", "i32", "i64", "u8", "u32", "u64"]:
    signed = dt[0] == "i"
    a = ints(dt, 12, lo=-120 if signed else 0, hi=120)
    b = ints(dt, 12, lo=-9 if signed else 1, hi=10)
    b = mx.where(b == 0, mx.array(3).astype(DT[dt]), b)
    for name in ["add", "subtract", "multiply", "floor_divide", "remainder", "maximum", "minimum"]:
        if not signed and name == "subtract":
            continue
        case("tensor." + name, {}, [a, b], [BIN[name](a, b)])
    for name, fn in [("bitwise_and", mx.bitwise_and), ("bitwise_or", mx.bitwise_or), ("bitwise_xor", mx.bitwise_xor)]:
        case("tensor." + name, {}, [a, b], [fn(a, b)])
    sh = ints(dt, 12, lo=0, hi=7)
    case("tensor.left_shift", {}, [a, sh], [mx.left_shift(a, sh)])
    case("tensor.right_shift", {}, [a, sh], [mx.right_shift(a, sh)])
    e = ints(dt, 12, lo=0, hi=6)
    case("tensor.power", {}, [a, e], [mx.power(a, e)])
    for name, fn in [("equal", mx.equal), ("less", mx.less), ("greater_equal", mx.greater_equal)]:
        case("tensor." + name, {}, [a, b], [fn(a, b)])

# ---- comparisons with NaN ----
a = mx.array([float("nan"), 1.0, 2.0, -0.0, float("inf")])
b = mx.array([float("nan"), 1.0, 1.0, 0.0, float("inf")])
for name in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    case("tensor." + name, {}, [a, b], [getattr(mx, name)(a, b)])
case("tensor.equal", {"equal_nan": True}, [a, b], [mx.array_equal(a[:1], b[:1], equal_nan=True).reshape(1)] and [mx.array([True, True, False, True, True])])

# ---- casts ----
x = mx.array([0.0, -0.0, 1.5, -1.5, 2.5, 65519.0, 65520.0, 1e-8, 3.3e38, float("inf"), float("nan"), 0.1])
for dt in ["f16", "bf16", "f64"]:
    case("tensor.cast", {"dtype": dt}, [x], [x.astype(DT[dt])])
x = mx.array([-3.9, -0.5, 0.0, 0.7, 99.9, 126.5])
for dt in ["i8", "i32", "i64", "u8", "u32"]:
    xx = mx.abs(x) if dt[0] == "u" else x
    case("tensor.cast", {"dtype": dt}, [xx], [xx.astype(DT[dt])])
x = ints("i64", 10, lo=-(1 << 40), hi=1 << 40)
for dt in ["f32", "f16", "bf16", "i8", "u8", "i32", "u16", "bool"]:
    case("tensor.cast", {"dtype": dt}, [x], [x.astype(DT[dt])])
x = mx.array([True, False, True])
for dt in ["f32", "i32", "u8"]:
    case("tensor.cast", {"dtype": dt}, [x], [x.astype(DT[dt])])

# ---- reductions ----
x = f32(3, 4, 5)
for axes in [[0], [1], [2], [0, 2], [0, 1, 2], []]:
    for name, fn in [("reduce_sum", mx.sum), ("reduce_prod", mx.prod), ("reduce_max", mx.max), ("reduce_min", mx.min)]:
        ulps = 0 if name in ("reduce_max", "reduce_min") else 8
        case("tensor." + name, {"axes": axes}, [x], [fn(x, axis=axes)], ulps)
    case("tensor.logsumexp", {"axes": axes, "keepdims": True}, [x], [mx.logsumexp(x, axis=axes, keepdims=True)], 8)
    if axes:
        case("tensor.softmax", {"axes": axes}, [x], [mx.softmax(x, axis=axes)], 8)
xi = ints("i32", 4, 6, lo=-5, hi=5)
for axes in [[0], [1], [0, 1]]:
    for name, fn in [("reduce_sum", mx.sum), ("reduce_prod", mx.prod), ("reduce_max", mx.max), ("reduce_min", mx.min),
                     ("reduce_all", mx.all), ("reduce_any", mx.any)]:
        case("tensor." + name, {"axes": axes, "keepdims": True}, [xi], [fn(xi, axis=axes, keepdims=True)])
xb = xi > 0
case("tensor.reduce_sum", {"axes": [1]}, [xb], [mx.sum(xb, axis=1)])
xt = ints("i32", 3, 6, lo=0, hi=3)
for ax in [0, 1]:
    case("tensor.argmax", {"axis": ax}, [xt], [mx.argmax(xt, axis=ax)])
    case("tensor.argmin", {"axis": ax, "keepdims": True}, [xt], [mx.argmin(xt, axis=ax, keepdims=True)])
xn = mx.array([[1.0, float("nan"), 3.0], [2.0, 5.0, 5.0]])
case("tensor.argmax", {"axis": 1}, [xn], [mx.argmax(xn, axis=1)])
case("tensor.argmin", {"axis": 1}, [xn], [mx.argmin(xn, axis=1)])
case("tensor.reduce_max", {"axes": [1]}, [xn], [mx.max(xn, axis=1)])

# ---- scans ----
x = f32(3, 5)
xi = ints("i32", 3, 5, lo=-4, hi=5)
for ax in [0, 1]:
    for rev in [False, True]:
        for inc in [True, False]:
            at = {"axis": ax, "reverse": rev, "inclusive": inc}
            for name, fn in [("cumsum", mx.cumsum), ("cumprod", mx.cumprod), ("cummax", mx.cummax), ("cummin", mx.cummin)]:
                ulps = 0 if name in ("cummax", "cummin") else 8
                case("tensor." + name, at, [x], [fn(x, axis=ax, reverse=rev, inclusive=inc)], ulps)
                case("tensor." + name, at, [xi], [fn(xi, axis=ax, reverse=rev, inclusive=inc)])
            case("tensor.cumlogaddexp", at, [x], [mx.logcumsumexp(x, axis=ax, reverse=rev, inclusive=inc)], 8)

# ---- sorting ----
x = mx.array([[3.0, float("nan"), 1.0, 2.0, 1.0], [0.0, -1.0, float("nan"), -0.0, 5.0]])
case("tensor.sort", {"axis": 1}, [x], [mx.sort(x, axis=1)])
case("tensor.sort", {"axis": 0}, [x], [mx.sort(x, axis=0)])
xi = ints("i32", 4, 7, lo=0, hi=4)
case("tensor.argsort", {"axis": 1}, [xi], [mx.argsort(xi, axis=1)])
case("tensor.argsort", {"axis": 0}, [xi], [mx.argsort(xi, axis=0)])
case("tensor.sort", {"axis": 1}, [xi], [mx.sort(xi, axis=1)])

# ---- layout ----
x = f32(2, 3, 4)
case("tensor.transpose", {"perm": [2, 0, 1]}, [x], [mx.transpose(x, (2, 0, 1))])
case("tensor.slice", {"start": [1, 2, 3], "stop": [-1, -1, 0], "strides": [-1, -2, -2]}, [x], [x[1::-1, 2::-2, 3:0:-2]])
case("tensor.slice", {"start": [0, 0, 1], "stop": [2, 3, 4], "strides": [1, 2, 2]}, [x], [x[:, ::2, 1::2]])
case("tensor.flip", {"axes": [0, 2]}, [x], [x[::-1, :, ::-1]])
case("tensor.pad", {"low": [1, 0, 2], "high": [0, 1, 1]}, [x, mx.array(-7.0)], [mx.pad(x, [(1, 0), (0, 1), (2, 1)], constant_values=-7.0)])
y = f32(2, 1, 4)
case("tensor.concatenate", {"axis": 1}, [x, y, x], [mx.concatenate([x, y, x], axis=1)])
parts = mx.split(x, [1, 3], axis=2)
case("tensor.split", {"indices": [1, 3], "axis": 2}, [x], parts)
case("tensor.broadcast", {"shape": [3, 2, 3, 4]}, [x], [mx.broadcast_to(x, (3, 2, 3, 4))])

# ---- indexing ----
src = f32(5, 3)
idx = mx.array([4, -1, 0, 2, -5], dtype=mx.int32)
case("tensor.gather", {"axes": [0], "slice_sizes": [1, 3]}, [src, idx], [src[idx].reshape(5, 1, 3)])
ti = mx.array([[0, 2, -1], [1, 1, 0]], dtype=mx.int32)
s2 = f32(2, 3)
case("tensor.take_along_axis", {"axis": 1}, [s2, ti], [mx.take_along_axis(s2, ti, axis=1)])
dst = mx.zeros((6,))
si = mx.array([1, 3, 1, -1, 3, 3], dtype=mx.int32)
su = f32(6)
case("tensor.scatter", {"axes": [0], "reduce": "sum"}, [dst, si, su.reshape(6, 1)], [dst.at[si].add(su)], 2)
case("tensor.scatter", {"axes": [0], "reduce": "max"}, [dst, si, su.reshape(6, 1)], [dst.at[si].maximum(su)])
case("tensor.scatter", {"axes": [0], "reduce": "prod"}, [dst + 1, si, su.reshape(6, 1)], [(dst + 1).at[si].multiply(su)], 2)

# ---- contractions ----
a, b = f32(2, 3, 7), f32(2, 7, 4)
case("tensor.matmul", {}, [a, b], [a @ b], 8)
c = f32(2, 3, 4)
case("tensor.addmm", {"alpha": 0.5, "beta": 2.0}, [c, a, b], [mx.addmm(c, a, b, alpha=0.5, beta=2.0)], 8)

# ---- complex64 ----
def c64(*shape):
    re = rng.uniform(-2, 2, size=shape).astype(np.float32)
    im = rng.uniform(-2, 2, size=shape).astype(np.float32)
    return mx.array(re + 1j * im)


a, b = c64(2, 3), c64(2, 3)
for name in ["add", "subtract"]:
    case("tensor." + name, {}, [a, b], [BIN[name](a, b)])
# MLX rounds each partial product to f32; the interpreter rounds once.
case("tensor.multiply", {}, [a, b], [mx.multiply(a, b)], 2)
case("tensor.divide", {}, [a, b], [mx.divide(a, b)], 4)
case("tensor.negative", {}, [a], [mx.negative(a)])
case("tensor.square", {}, [a], [mx.square(a)], 2)
for name in ["exp", "sqrt", "log", "sin", "cos", "tanh"]:
    case("tensor." + name, {}, [a], [getattr(mx, name)(a)], 16)
case("tensor.equal", {}, [a, a], [mx.equal(a, a)])
case("tensor.transpose", {"perm": [1, 0]}, [a], [a.T])
case("tensor.slice", {"start": [1, 2], "stop": [-1, -1], "strides": [-1, -2]}, [a], [a[::-1, ::-2]])
case("tensor.concatenate", {"axis": 0}, [a, b], [mx.concatenate([a, b])])
case("tensor.reduce_sum", {"axes": [1]}, [a], [mx.sum(a, axis=1)], 4)
case("tensor.matmul", {}, [a, b.T], [a @ b.T], 16)
x = f32(4)
case("tensor.cast", {"dtype": "c64"}, [x], [x.astype(mx.complex64)])
case("tensor.cast", {"dtype": "f32"}, [a], [a.astype(mx.float32)])

# ---- more indexing ----
src = f32(4, 5)
i0 = mx.array([0, 2, -1], dtype=mx.int32)
i1 = mx.array([1, -2, 0], dtype=mx.int32)
# Two indexed axes with 2x2 windows: out[k] = src[i0[k]:i0[k]+2, i1[k]:i1[k]+2] (wrapped).
def window(r, c):
    r, c = r % 4, c % 5
    return src[r:r + 2, c:c + 2]
i0w = mx.array([0, 2, -2], dtype=mx.int32)
i1w = mx.array([1, -2, 0], dtype=mx.int32)
want = mx.stack([window(int(r), int(c)) for r, c in zip(np.array(i0w), np.array(i1w))])
case("tensor.gather", {"axes": [0, 1], "slice_sizes": [2, 2]}, [src, i0w, i1w], [want])
case("tensor.gather", {"axes": [1], "slice_sizes": [4, 1]}, [src, i1.reshape(3, 1)], [mx.take(src, i1.reshape(3, 1), axis=1).transpose(1, 2, 0).reshape(3, 1, 4, 1)])
dst = mx.zeros((4, 5))
upd = f32(3, 1, 1)
want = dst.at[i0, i1].add(upd.reshape(3))
case("tensor.scatter", {"axes": [0, 1], "reduce": "sum"}, [dst, i0, i1, upd], [want], 2)
want = dst.at[i0, i1].minimum(upd.reshape(3))
case("tensor.scatter", {"axes": [0, 1], "reduce": "min"}, [dst, i0, i1, upd], [want])
ds = mx.array([1, 3], dtype=mx.int32)
case("tensor.dynamic_slice", {"axes": [0, 1], "sizes": [2, 2]}, [src, ds], [mx.slice(src, ds, (0, 1), (2, 2))])
u = f32(2, 2)
case("tensor.dynamic_slice_update", {"axes": [0, 1]}, [src, u, ds], [mx.slice_update(src, u, ds, (0, 1))])
ti = mx.array([[0, -1, 2, 1, 0]], dtype=mx.int32)
vals = f32(1, 5)
# Distinct indices along axis 0 per column, so overwrite and add agree with MLX.
case("tensor.scatter_axis", {"axis": 0}, [src, ti, vals], [mx.put_along_axis(src, ti, vals, axis=0)])

# ---- creation ----
case("tensor.arange", {"start": 2.0, "stop": -3.0, "step": -1.5, "dtype": "f32"}, [], [mx.arange(2.0, -3.0, -1.5, dtype=mx.float32)])
case("tensor.arange", {"start": 0.5, "stop": 7.0, "step": 2.0, "dtype": "i32"}, [], [mx.arange(0.5, 7.0, 2.0, dtype=mx.int32)])

with open("mlx_cases.json", "w") as f:
    json.dump({"mlx_version": mx.__version__, "cases": cases}, f, indent=None, separators=(",", ":"))
print(len(cases), "cases")
