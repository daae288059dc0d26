#!/usr/bin/env python3
"""Fixtures for psionic_mlx::optimizers and psionic_mlx::utils, made by real MLX.

Writes frontends/mlx-compat/tests/fixtures/optim/{optimizers,schedules,trees}.json:

- optimizers.json: for every case (an optimizer class with default or
  non-default hyperparameters, a learning rate that is a float or a
  schedule), fixed parameters, the gradients of several steps, the
  parameters after each step and the optimizer state after the last step
  (flattened with mlx.utils.tree_flatten, so the keys are MLX's). Also
  clip_grad_norm cases.
- schedules.json: every schedule's value at steps 0..N (step as a uint64
  array, as the optimizers pass it).
- trees.json: tree_flatten / tree_unflatten / tree_map_with_path results on
  nests of integers, with dict order kept (encoded as lists of pairs).

Run: python3 tools/mlx/gen_optim_fixtures.py  (needs mlx; MLX 0.32.4 made the
committed files).
"""

import json
import os

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_map_with_path, tree_unflatten

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "frontends", "mlx-compat", "tests", "fixtures", "optim")
STEPS = 5


def enc(a):
    a = np.array(a)
    return {
        "dtype": str(a.dtype),
        "shape": list(a.shape),
        "data": [float(x) if a.dtype.kind == "f" else int(x) for x in a.reshape(-1)],
    }


def flat(tree):
    return [[k, enc(v)] for k, v in tree_flatten(tree)]


def make_params(rng):
    return {
        "w": mx.array(rng.standard_normal((4, 3)).astype(np.float32)),
        "b": mx.array(rng.standard_normal((3,)).astype(np.float32)),
        "layers": [
            {"w": mx.array(rng.standard_normal((2, 3, 2)).astype(np.float32))},
            {"w": mx.array(rng.standard_normal((5, 3)).astype(np.float32))},
        ],
        "s": mx.array(np.float32(rng.standard_normal())),
    }


def like(tree, rng, scale=1.0):
    def f(a):
        return mx.array((scale * rng.standard_normal(a.shape)).astype(np.float32))

    from mlx.utils import tree_map

    return tree_map(f, tree)


# Schedules as (name, args) so the Rust side can build the same one.
def build_schedule(spec):
    kind, args = spec["kind"], spec["args"]
    if kind == "join":
        return optim.join_schedules([build_schedule(s) for s in args["schedules"]], args["boundaries"])
    return getattr(optim, kind)(**args)


SCHEDULES = [
    {"kind": "exponential_decay", "args": {"init": 0.1, "decay_rate": 0.9}},
    {"kind": "step_decay", "args": {"init": 0.1, "decay_rate": 0.9, "step_size": 3}},
    {"kind": "cosine_decay", "args": {"init": 0.1, "decay_steps": 10}},
    {"kind": "cosine_decay", "args": {"init": 0.1, "decay_steps": 7, "end": 0.01}},
    {"kind": "linear_schedule", "args": {"init": 0.0, "end": 0.1, "steps": 5}},
    {"kind": "linear_schedule", "args": {"init": 0.3, "end": 0.05, "steps": 8}},
    {
        "kind": "join",
        "args": {
            "schedules": [
                {"kind": "linear_schedule", "args": {"init": 0.0, "end": 0.1, "steps": 5}},
                {"kind": "cosine_decay", "args": {"init": 0.1, "decay_steps": 10}},
            ],
            "boundaries": [5],
        },
    },
    {
        "kind": "join",
        "args": {
            "schedules": [
                {"kind": "linear_schedule", "args": {"init": 0.01, "end": 0.2, "steps": 3}},
                {"kind": "exponential_decay", "args": {"init": 0.2, "decay_rate": 0.8}},
                {"kind": "step_decay", "args": {"init": 0.05, "decay_rate": 0.5, "step_size": 2}},
            ],
            "boundaries": [3, 9],
        },
    },
]


def lr_value(lr):
    return build_schedule(lr) if isinstance(lr, dict) else lr


CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.8, "weight_decay": 0.01, "dampening": 0.1}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
    ("SGD", {"learning_rate": SCHEDULES[2], "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.02, "alpha": 0.9, "eps": 1e-5}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.05, "eps": 1e-4}),
    ("AdaDelta", {"learning_rate": 1.0}),
    ("AdaDelta", {"learning_rate": 0.5, "rho": 0.5, "eps": 1e-4}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "betas": [0.8, 0.95], "eps": 1e-6, "bias_correction": True}),
    ("Adam", {"learning_rate": SCHEDULES[6], "bias_correction": True}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.02, "betas": [0.85, 0.99], "weight_decay": 0.1, "bias_correction": True}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": 0.02, "betas": [0.8, 0.9], "eps": 1e-5}),
    ("Lion", {"learning_rate": 0.001}),
    ("Lion", {"learning_rate": 0.01, "betas": [0.95, 0.98], "weight_decay": 0.1}),
    ("Adafactor", {}),
    (
        "Adafactor",
        {
            "learning_rate": 0.01,
            "relative_step": False,
            "beta_1": 0.9,
            "weight_decay": 0.01,
            "scale_parameter": False,
            "clip_threshold": 0.5,
        },
    ),
    ("Adafactor", {"warmup_init": True, "decay_rate": -0.5, "eps": [1e-20, 1e-2]}),
    ("Adafactor", {"learning_rate": SCHEDULES[0], "relative_step": False, "beta_1": 0.5}),
    ("Muon", {"learning_rate": 0.02}),
    ("Muon", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.0, "nesterov": False, "ns_steps": 3}),
]


def optimizer_case(rng, cls, kwargs):
    params = make_params(rng)
    grads = [like(params, rng) for _ in range(STEPS)]
    kw = {k: (lr_value(v) if k == "learning_rate" else v) for k, v in kwargs.items()}
    if "betas" in kw:
        kw["betas"] = list(kw["betas"])
    if "eps" in kw and isinstance(kw["eps"], list):
        kw["eps"] = tuple(kw["eps"])
    opt = getattr(optim, cls)(**kw)
    p = params
    after = []
    for g in grads:
        p = opt.apply_gradients(g, p)
        mx.eval(p, opt.state)
        after.append(flat(p))
    return {
        "optimizer": cls,
        "kwargs": kwargs,
        "params": flat(params),
        "grads": [flat(g) for g in grads],
        "after": after,
        "state": flat(opt.state),
    }


def multi_case(rng):
    params = make_params(rng)
    grads = [like(params, rng) for _ in range(STEPS)]
    opt = optim.MultiOptimizer(
        [optim.Adam(learning_rate=0.01), optim.SGD(learning_rate=0.1, momentum=0.9)],
        [lambda path, g: g.ndim >= 2],
    )
    p = params
    after = []
    for g in grads:
        p = optim_merge(p, opt.apply_gradients(g, p))
        mx.eval(p, opt.state)
        after.append(flat(p))
    return {
        "optimizer": "MultiOptimizer",
        "kwargs": {"optimizers": ["Adam(0.01)", "SGD(0.1, momentum=0.9)"], "filter": "ndim>=2"},
        "params": flat(params),
        "grads": [flat(g) for g in grads],
        "after": after,
        "state": flat(opt.state),
    }


def optim_merge(p, new):
    flat_p = dict(tree_flatten(p))
    flat_p.update(dict(tree_flatten(new)))
    return tree_unflatten(list(flat_p.items()))


def clip_cases(rng):
    out = []
    for max_norm in [1.0, 100.0, 0.0]:
        g = like(make_params(rng), rng, 2.0)
        clipped, norm = optim.clip_grad_norm(g, max_norm)
        mx.eval(clipped, norm)
        out.append({"max_norm": max_norm, "grads": flat(g), "clipped": flat(clipped), "norm": enc(norm)})
    return out


def schedule_cases():
    out = []
    for spec in SCHEDULES:
        s = build_schedule(spec)
        vals = [s(mx.array(i, mx.uint64)) for i in range(20)]
        mx.eval(vals)
        out.append({"spec": spec, "values": [enc(v) for v in vals]})
    return out


def enc_tree(t):
    if isinstance(t, dict):
        return {"dict": [[k, enc_tree(v)] for k, v in t.items()]}
    if isinstance(t, (list, tuple)):
        return {"list": [enc_tree(v) for v in t]}
    return {"leaf": t}


def tree_cases():
    trees = [
        {"model": [{"w": 0, "b": 1}, {"w": 2, "b": 3}]},
        {"b": 1, "a": {"z": 2, "y": [3, 4, {"x": 5}]}, "c": []},
        [[[0]]],
        7,
        {"layers": {"10": 1, "2": 2, "x": 3}},
        {"weight": 1, "bias": 2, "sub": {"weight": 3}},
    ]
    flats = [
        [["hello.world", 42]],
        [["", 5]],
        [["a.2", 1], ["a.0", 2]],
        [["x.1.y", 1], ["x.0", 2], ["z", 3]],
        [["l.01", 1], ["l.1", 2]],
        [["m.3.k", 1]],
    ]
    out = {"flatten": [], "unflatten": [], "map_with_path": []}
    for t in trees:
        out["flatten"].append({"tree": enc_tree(t), "flat": tree_flatten(t)})
        out["flatten"][-1]["prefixed"] = tree_flatten(t, prefix=".p")
        out["map_with_path"].append(
            {"tree": enc_tree(t), "paths": enc_tree(tree_map_with_path(lambda p, _: p, t))}
        )
        out["unflatten"].append({"flat": tree_flatten(t), "tree": enc_tree(tree_unflatten(tree_flatten(t)))})
    for f in flats:
        out["unflatten"].append({"flat": f, "tree": enc_tree(tree_unflatten([tuple(x) for x in f]))})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261126)
    cases = [optimizer_case(rng, c, kw) for c, kw in CASES]
    cases.append(multi_case(rng))
    data = {"mlx_version": mx.__version__, "steps": STEPS, "cases": cases, "clip_grad_norm": clip_cases(rng)}
    with open(os.path.join(OUT, "optimizers.json"), "w") as f:
        json.dump(data, f)
    with open(os.path.join(OUT, "schedules.json"), "w") as f:
        json.dump({"mlx_version": mx.__version__, "cases": schedule_cases()}, f)
    with open(os.path.join(OUT, "trees.json"), "w") as f:
        json.dump({"mlx_version": mx.__version__, **tree_cases()}, f, indent=1)


if __name__ == "__main__":
    main()
