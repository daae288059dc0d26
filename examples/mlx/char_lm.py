"""Character-level transformer language model, in MLX: the reference for
examples/src/bin/char_lm.rs.

Same corpus (examples/data/corpus.txt; vocabulary = its sorted distinct
characters), model (embedding 128, learned positions, 2 pre-norm blocks of
4-head causal self-attention and a 4x ReLU MLP, final LayerNorm, tied-free
output projection), loss (cross-entropy, mean), optimizer (AdamW lr 3e-3,
weight decay 0.01), context 64, batch 32, and the same deterministic batches
(window starts ((k * B + b) * 7919) mod (N - T - 1)) as the Rust example.
The step is `mx.compile`d. Prints the loss every 50 steps and a final JSON
line for examples/bench.py.
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
D, HEADS, LAYERS, T, B = 128, 4, 2, 64, 32


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.attn = nn.MultiHeadAttention(D, HEADS)
        self.ln2 = nn.LayerNorm(D)
        self.fc1 = nn.Linear(D, 4 * D)
        self.fc2 = nn.Linear(4 * D, D)

    def __call__(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, mask)
        return x + self.fc2(nn.relu(self.fc1(self.ln2(x))))


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, D)
        self.pos = nn.Embedding(T, D)
        self.blocks = [Block() for _ in range(LAYERS)]
        self.ln = nn.LayerNorm(D)
        self.out = nn.Linear(D, vocab)

    def __call__(self, idx):
        x = self.tok(idx) + self.pos(mx.arange(idx.shape[1]))
        mask = nn.MultiHeadAttention.create_additive_causal_mask(idx.shape[1])
        for b in self.blocks:
            x = b(x, mask)
        return self.out(self.ln(x))


def batches(data, steps, batch=B):
    n = len(data)
    out = []
    for k in range(steps):
        starts = [((k * batch + b) * 7919) % (n - T - 1) for b in range(batch)]
        xb = np.stack([data[s:s + T] for s in starts])
        yb = np.stack([data[s + 1:s + T + 1] for s in starts])
        out.append((mx.array(xb), mx.array(yb)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=B)
    args = ap.parse_args()
    text = open(os.path.join(HERE, "..", "data", "corpus.txt")).read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    data = np.array([index[c] for c in text], dtype=np.int32)
    mx.random.seed(0)
    model = CharLM(len(vocab))
    opt = optim.AdamW(learning_rate=3e-3, weight_decay=0.01)

    def loss_fn(model, xb, yb):
        return nn.losses.cross_entropy(model(xb), yb, reduction="mean")

    state = [model.state, opt.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(xb, yb):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, xb, yb)
        opt.update(model, grads)
        return loss

    bs = batches(data, args.steps, args.batch)
    mx.eval(bs)
    t0 = time.perf_counter()
    loss = step(*bs[0])
    mx.eval(loss, model.parameters(), opt.state)
    first = time.perf_counter() - t0
    print(f"step    0  loss {loss.item():.4f}")
    t0 = time.perf_counter()
    for k in range(1, args.steps):
        loss = step(*bs[k])
        mx.eval(loss, model.parameters(), opt.state)
        if k % 50 == 0:
            print(f"step {k:4d}  loss {loss.item():.4f}")
    dt = time.perf_counter() - t0
    sps = (args.steps - 1) / dt
    print(f"final loss {loss.item():.4f}  {sps:.1f} steps/s")
    print(json.dumps({"example": "char_lm", "impl": "mlx", "final_loss": loss.item(),
                      "steps_per_s": sps, "first_step_s": first}))


if __name__ == "__main__":
    main()
