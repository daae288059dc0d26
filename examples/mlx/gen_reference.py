"""Runs the MLX reference scripts for the short configurations that
examples/tests/train.rs checks, and writes their final losses (and the MLP's
test accuracy) to examples/tests/fixtures/mlx_reference.json. Psionic's
examples start from MLX's initial weights (same seed, same threefry draws),
so the test expects the same numbers up to float rounding.

    python3 examples/mlx/gen_reference.py    # needs MLX (pip install "mlx[cpu]")
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "mlp_digits": ["--steps", "30"],
    "char_lm": ["--steps", "30", "--batch", "2"],
}


def run(name, args):
    out = subprocess.run([sys.executable, os.path.join(HERE, name + ".py"), *args],
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    keep = {k: summary[k] for k in ("final_loss", "test_accuracy") if k in summary}
    flags = dict(zip(args[::2], args[1::2]))
    keep.update({k.lstrip("-"): int(v) for k, v in flags.items()})
    return keep


def main():
    ref = {name: run(name, args) for name, args in CASES.items()}
    path = os.path.join(HERE, "..", "tests", "fixtures", "mlx_reference.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(ref, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(ref, indent=2))


if __name__ == "__main__":
    main()
