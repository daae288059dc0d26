"""Exports scikit-learn's bundled 8x8 digits (1797 images, UCI ML hand-written
digits, BSD-3) once to digits.npz: `x` uint8 (1797, 64) with values 0..16 and
`y` uint8 (1797,). Run once (needs scikit-learn); the output is committed so
the examples and CI need neither scikit-learn nor a download."""
import os

import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
# A fixed shuffle, so that the Rust and MLX examples take the same batches in
# the same order by slicing rows: train = rows 0..1500, test = 1500..1797.
order = np.random.default_rng(0).permutation(len(d.target))
here = os.path.dirname(os.path.abspath(__file__))
np.savez_compressed(os.path.join(here, "digits.npz"),
                    x=d.data[order].astype(np.uint8), y=d.target[order].astype(np.uint8))
print("digits.npz:", d.data.shape, np.bincount(d.target))
