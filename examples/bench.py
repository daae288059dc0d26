"""Runs each training example in Psionic (Rust, compiled) and in MLX (Python,
mx.compile) on the same data, model, optimizer, batches and steps, one after
the other on this machine, and writes docs/EXAMPLES_BENCH.md with steps per
second, the ratio, and the final losses.

    python3 examples/bench.py [--steps-scale 1.0] [--steps char_lm=60]

Needs `cargo build --release -p psionic-examples` first (it runs the binaries
from target/release) and MLX (`pip install "mlx[cpu]"`).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [("mlp_digits", 500), ("char_lm", 300)]


def last_json(out):
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON summary line in:\n" + out)


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    print(p.stdout)
    return last_json(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--steps", action="append", default=[], metavar="NAME=N",
                    help="steps of one example, overriding the scale (say char_lm=60)")
    args = ap.parse_args()
    fixed = dict(kv.split("=", 1) for kv in args.steps)
    rows = []
    for name, steps in EXAMPLES:
        full = steps
        steps = int(fixed[name]) if name in fixed else max(2, int(steps * args.steps_scale))
        ours = run([os.path.join(ROOT, "target", "release", name), "--steps", str(steps)])
        mlx = run([sys.executable, os.path.join(ROOT, "examples", "mlx", name + ".py"),
                   "--steps", str(steps)])
        rows.append((name, steps, full, ours, mlx))
    lines = [
        "# Training examples: Psionic vs MLX",
        "",
        f"Written by `python3 examples/bench.py` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores (shared machine: compare within a row). "
        "Same data, model, optimizer, batches, steps and seed on both sides; Psionic's step is "
        "one compiled function (Cranelift), MLX's is `mx.compile`d. Psionic draws MLX's initial "
        "weights (same threefry stream and draw order), so the first losses agree to float rounding; over hundreds of steps the two runs drift apart as rounding differences grow (MLX against itself, its loss scaled by 1 + 2^-20, drifts as far: docs/EXAMPLES.md). "
        "Steps/s exclude the first step; the first step (trace and compile included) is timed "
        "separately. The machine is shared with other jobs, so absolute numbers are noisy: read "
        "the ratio (Psionic / MLX, higher is better for Psionic).",
        "",
        "| example | steps | Psionic steps/s | MLX steps/s | ratio | Psionic first step (s) "
        "| MLX first step (s) | Psionic final loss | MLX final loss | Psionic test acc. | MLX test acc. |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, steps, full, ours, mlx in rows:
        acc = lambda r: f"{r['test_accuracy']:.3f}" if "test_accuracy" in r else "-"
        lines.append(
            f"| {name} | {steps} | {ours['steps_per_s']:.1f} | {mlx['steps_per_s']:.1f} | "
            f"{ours['steps_per_s'] / mlx['steps_per_s']:.2f}x | {ours['first_step_s']:.2f} | "
            f"{mlx['first_step_s']:.2f} | {ours['final_loss']:.4f} | {mlx['final_loss']:.4f} | "
            f"{acc(ours)} | {acc(mlx)} |")
    short = [f"{name} ran {steps} of its {full} steps" for name, steps, full, _, _ in rows
             if steps != full]
    if short:
        lines += ["", "Shortened runs (`" + " ".join(sys.argv[1:]) + "`): " + "; ".join(short)
                  + ". The loss after fewer steps is higher than the scripts' full runs give."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "docs", "EXAMPLES_BENCH.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
