"""Writes capi/examples/loss.mlxfn with real MLX: a least-squares loss
`mean((x @ w - y) ** 2)` of (w: 3x1, x: 8x3, y: 8x1), the function the ctypes
example differentiates. Run once; the output is committed."""
import os

import mlx.core as mx


def loss(w, x, y):
    return mx.mean((x @ w - y) ** 2)


here = os.path.dirname(os.path.abspath(__file__))
w = mx.zeros((3, 1))
x = mx.zeros((8, 3))
y = mx.zeros((8, 1))
mx.export_function(os.path.join(here, "loss.mlxfn"), loss, w, x, y)
print("wrote loss.mlxfn")
