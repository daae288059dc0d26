"""MLP on the 8x8 digits, in MLX: the reference for examples/src/bin/mlp_digits.rs.

Same data (examples/data/digits.npz, rows 0..1500 train, 1500.. test), same
model (64 -> 128 -> 128 -> 10, ReLU), loss (cross-entropy, mean), optimizer
(SGD lr 0.1, momentum 0.9), batch (64, consecutive rows, wrapping) and steps
as the Rust example. The whole step is `mx.compile`d. Prints the loss every
100 steps, test accuracy, and a final JSON line for examples/bench.py.
"""
import argparse
import json
import os
import time
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(64, 128)
        self.l2 = nn.Linear(128, 128)
        self.l3 = nn.Linear(128, 10)

    def __call__(self, x):
        return self.l3(nn.relu(self.l2(nn.relu(self.l1(x)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    d = np.load(os.path.join(HERE, "..", "data", "digits.npz"))
    x = mx.array(d["x"].astype(np.float32) / 16.0)
    y = mx.array(d["y"].astype(np.int32))
    n_train = 1500
    mx.random.seed(0)
    model = MLP()
    opt = optim.SGD(learning_rate=0.1, momentum=0.9)

    def loss_fn(model, xb, yb):
        return nn.losses.cross_entropy(model(xb), yb, reduction="mean")

    state = [model.state, opt.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(xb, yb):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, xb, yb)
        opt.update(model, grads)
        return loss

    xs = np.array(x)
    ys = np.array(y)
    batches = []
    for k in range(args.steps):
        idx = [(k * args.batch + i) % n_train for i in range(args.batch)]
        batches.append((mx.array(xs[idx]), mx.array(ys[idx])))
    mx.eval(batches)
    # One step to compile, then the timed loop.
    t0 = time.perf_counter()
    loss = step(*batches[0])
    mx.eval(loss, model.parameters(), opt.state)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(1, args.steps):
        loss = step(*batches[k])
        mx.eval(loss, model.parameters(), opt.state)
        if k % 100 == 0:
            print(f"step {k:4d}  loss {loss.item():.4f}")
    dt = time.perf_counter() - t0
    logits = model(x[n_train:])
    acc = (mx.argmax(logits, axis=1) == y[n_train:]).mean().item()
    sps = (args.steps - 1) / dt
    print(f"final loss {loss.item():.4f}  test accuracy {acc:.3f}  {sps:.0f} steps/s")
    print(json.dumps({"example": "mlp_digits", "impl": "mlx", "final_loss": loss.item(),
                      "test_accuracy": acc, "steps_per_s": sps, "first_step_s": compile_s}))


if __name__ == "__main__":
    main()
