"""Runs each training example in Psionic (Rust, compiled) and in MLX (Python,
mx.compile) on the same data, model, optimizer, batches and steps, one after
the other on this machine, and writes docs/EXAMPLES_BENCH.md with steps per
second, the ratio, and the final losses.

    python3 examples/bench.py [--steps-scale 1.0]

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
    args = ap.parse_args()
    rows = []
    for name, steps in EXAMPLES:
        steps = max(2, int(steps * args.steps_scale))
        ours = run([os.path.join(ROOT, "target", "release", name), "--steps", str(steps)])
        mlx = run([sys.executable, os.path.join(ROOT, "examples", "mlx", name + ".py"),
                   "--steps", str(steps)])
        rows.append((name, steps, ours, mlx))
    lines = [
        "# Training examples: Psionic vs MLX",
        "",
        f"Written by `python3 examples/bench.py` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores (shared machine: compare within a row). "
        "Same data, model, optimizer, batches and steps on both sides; Psionic's step is one "
        "compiled function (Cranelift), MLX's is `mx.compile`d. Initial weights differ (each "
        "side's own random init), so final losses agree in magnitude, not digits.",
        "",
        "| example | steps | Psionic steps/s | MLX steps/s | speedup | Psionic first step (s) "
        "| MLX first step (s) | Psionic final loss | MLX final loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, steps, ours, mlx in rows:
        lines.append(
            f"| {name} | {steps} | {ours['steps_per_s']:.1f} | {mlx['steps_per_s']:.1f} | "
            f"{ours['steps_per_s'] / mlx['steps_per_s']:.2f}x | {ours['first_step_s']:.2f} | "
            f"{mlx['first_step_s']:.2f} | {ours['final_loss']:.4f} | {mlx['final_loss']:.4f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "docs", "EXAMPLES_BENCH.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
