#!/usr/bin/env python3
"""Checks that `.mlxfn` files written by Psionic load and run in real MLX.

    python3 tools/mlx/check_roundtrip.py WRITTEN_DIR CASE_DIR...

For each conformance case directory `CASE_DIR` (layout of
`shared/conformance/mlx/README.md`), imports `WRITTEN_DIR/<case>.mlxfn` with
`mx.import_function`, calls it on the case's inputs (`in.*`, and `shape1.in.*`
when the case has a second data set), and compares with the stored outputs
(`out.*`) within the case's rtol/atol; shapes and dtypes must match exactly.
Prints one line per case (`ok NAME` or `FAIL NAME: reason`); exits 1 if any
case fails.
"""
import json
import os
import sys
import traceback

import mlx.core as mx
import numpy as np


def to_np(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def check_set(fn, data, prefix, n_pos, kw_names, rtol, atol):
    args = [data[f"{prefix}in.{i}"] for i in range(n_pos)]
    kwargs = {k: data[f"{prefix}in.{k}"] for k in kw_names}
    outs = fn(*args, **kwargs)
    want = []
    j = 0
    while f"{prefix}out.{j}" in data:
        want.append(data[f"{prefix}out.{j}"])
        j += 1
    if len(outs) != len(want):
        return f"{prefix}: {len(outs)} outputs, expected {len(want)}"
    for j, (a, b) in enumerate(zip(outs, want)):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{prefix}out.{j}: got {a.shape} {a.dtype}, expected {b.shape} {b.dtype}"
        x, y = to_np(a), to_np(b)
        if np.iscomplexobj(y):
            x, y = x.view(np.float32), y.view(np.float32)
        x, y = x.astype(np.float64), y.astype(np.float64)
        same_nan = np.isnan(x) & np.isnan(y)
        ok = same_nan | (np.abs(x - y) <= atol + rtol * np.abs(y))
        if not ok.all():
            i = int(np.argmin(ok.reshape(-1)))
            return (f"{prefix}out.{j}: element {i} is {x.reshape(-1)[i]}, "
                    f"expected {y.reshape(-1)[i]} (rtol {rtol}, atol {atol})")
    return None


def check_case(written, case_dir):
    case = json.load(open(os.path.join(case_dir, "case.json")))
    data = mx.load(os.path.join(case_dir, "data.safetensors"))
    fn = mx.import_function(written)
    rtol, atol = case["rtol"], case["atol"]
    sets = [("", case)] + [(v["prefix"], v) for v in case.get("variants", [])]
    for prefix, spec in sets:
        kw = sorted(spec.get("kwargs", case.get("kwargs", {})).keys())
        err = check_set(fn, data, prefix, len(spec["inputs"]), kw, rtol, atol)
        if err:
            return err
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    written_dir, cases = sys.argv[1], sys.argv[2:]
    failed = 0
    for case_dir in cases:
        name = os.path.basename(os.path.normpath(case_dir))
        written = os.path.join(written_dir, name + ".mlxfn")
        try:
            err = check_case(written, case_dir)
        except Exception as e:  # MLX raises on files it cannot load or run
            err = f"{type(e).__name__}: {e}".replace("\n", " ")
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
        if err:
            failed += 1
            print(f"FAIL {name}: {err}", flush=True)
        else:
            print(f"ok {name}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
