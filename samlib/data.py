"""Data sets used by the book's experiments.

The default is the 8x8 handwritten digits that ship inside scikit-learn, so every
notebook runs offline on a fresh machine.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_int_at_least

__all__ = ["load_digits_split"]


def load_digits_split(n_train: int = 1000, seed: int = 0):
    """Split scikit-learn's digits (1797 images, 64 pixels) into train and test sets.

    Pixels are scaled from 0..16 to [0, 1]. The split is a seeded permutation, so it is
    the same on every machine.

    Parameters
    ----------
    n_train : int
        Number of training samples (1 <= n_train < 1797); the rest is the test set.
    seed : int
        Seed of the permutation.

    Returns
    -------
    X_train, y_train, X_test, y_test : numpy arrays
        Images as float32 of shape (n, 64), labels as int64 of shape (n,).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    n_train = check_int_at_least(n_train, 1, "n_train")
    if n_train >= len(y):
        raise ValueError(f"n_train must be < {len(y)} (the size of the digits set), got {n_train}")
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, te = perm[:n_train], perm[n_train:]
    return X[tr], y[tr], X[te], y[te]
