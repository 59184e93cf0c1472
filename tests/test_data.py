"""Tests of samlib.data: the embedded digits split, the IDX reader, MNIST loading, label noise."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.data import (
    MNIST_ENV_VAR,
    flip_labels,
    load_dataset,
    load_digits_split,
    load_mnist,
    read_idx,
    train_validation_split,
)


def write_idx(path, arr: np.ndarray, code: int = 0x08, gz: bool = False, magic: bytes | None = None):
    """Write ``arr`` as an IDX file (big-endian), optionally with a forged magic number."""
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = magic if magic is not None else bytes([0, 0, code, arr.ndim])
    head += b"".join(struct.pack(">I", s) for s in arr.shape)
    raw = head + np.ascontiguousarray(arr, dtype=dt).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)
    return raw


# --- the embedded default -----------------------------------------------------------------
def test_digits_split_shapes_and_determinism():
    a = load_digits_split(1000, seed=0)
    b = load_digits_split(1000, seed=0)
    assert a[0].shape == (1000, 64) and a[2].shape == (797, 64)
    assert a[0].dtype == np.float32 and a[1].dtype == np.int64
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert 0.0 <= a[0].min() and a[0].max() <= 1.0
    assert set(np.unique(a[1])) == set(range(10))


def test_digits_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_train"):
        load_digits_split(1797)
    with pytest.raises(ValueError, match="n_train"):
        load_digits_split(0)


def test_load_dataset_digits_and_unknown_name(monkeypatch):
    monkeypatch.delenv(MNIST_ENV_VAR, raising=False)
    d = load_dataset("auto")
    assert d.name == "digits" and d.input_dim == 64 and len(d.y_test) == 797
    with pytest.raises(ValueError, match="'cifar'"):
        load_dataset("cifar")


# --- the IDX reader -----------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    gz=st.booleans(),
)
def test_read_idx_round_trip(tmp_path_factory, shape, code, gz):
    rng = np.random.default_rng(len(shape) * 100 + code)
    arr = rng.integers(0, 100, size=shape)
    path = tmp_path_factory.mktemp("idx") / ("a.idx" + (".gz" if gz else ""))
    write_idx(path, arr, code=code, gz=gz)
    out = read_idx(path)
    assert out.shape == tuple(shape)
    np.testing.assert_array_equal(out, arr)


def test_read_idx_wrong_magic(tmp_path):
    p = tmp_path / "bad"
    write_idx(p, np.zeros((2, 2)), magic=bytes([0x1F, 0x8B, 0x08, 2]))
    with pytest.raises(ValueError, match="magic"):
        read_idx(p)
    write_idx(p, np.zeros((2, 2)), magic=bytes([0, 0, 0x07, 2]))  # unknown type code
    with pytest.raises(ValueError, match="magic"):
        read_idx(p)


def test_read_idx_truncated_and_trailing(tmp_path):
    p = tmp_path / "a"
    raw = write_idx(p, np.arange(12).reshape(3, 4))
    p.write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated IDX data"):
        read_idx(p)
    p.write_bytes(raw[:6])
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(p)
    p.write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="trailing"):
        read_idx(p)


# --- MNIST from a folder ------------------------------------------------------------------
def _fake_mnist(folder, n_train=20, n_test=7, n_test_labels=None, gz=False):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_train, 28, 28)), gz=gz)
    write_idx(folder / f"train-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n_train), gz=gz)
    write_idx(folder / f"t10k-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_test, 28, 28)), gz=gz)
    write_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n_test_labels or n_test), gz=gz)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_folder_and_env(tmp_path, monkeypatch, gz):
    _fake_mnist(tmp_path, gz=gz)
    d = load_mnist(tmp_path, n_train=5, seed=1)
    assert d.X_train.shape == (5, 784) and d.X_test.shape == (7, 784) and d.input_dim == 784
    assert d.X_train.dtype == np.float32 and 0 <= d.X_train.min() and d.X_train.max() <= 1
    monkeypatch.setenv(MNIST_ENV_VAR, str(tmp_path))
    e = load_dataset("auto", n_train=5, seed=1)
    assert e.name == "mnist"
    np.testing.assert_array_equal(e.X_train, d.X_train)


def test_load_mnist_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(MNIST_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match=MNIST_ENV_VAR):
        load_mnist()
    with pytest.raises(ValueError, match="lacks"):
        load_mnist(tmp_path)
    _fake_mnist(tmp_path, n_test=7, n_test_labels=6)
    with pytest.raises(ValueError, match="7 images but .* 6 labels"):
        load_mnist(tmp_path)
    _fake_mnist(tmp_path)
    with pytest.raises(ValueError, match="n_train"):
        load_mnist(tmp_path, n_train=21)


# --- validation split and label noise -----------------------------------------------------
def test_train_validation_split_partitions():
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.arange(10)
    Xf, yf, Xv, yv = train_validation_split(X, y, 3, seed=0)
    assert len(yv) == 3 and len(yf) == 7
    assert sorted(np.concatenate([yf, yv]).tolist()) == list(range(10))
    np.testing.assert_array_equal(Xf[:, 0] / 2, yf)
    with pytest.raises(ValueError, match="n_val"):
        train_validation_split(X, y, 10)


@settings(max_examples=40, deadline=None)
@given(frac=st.floats(0, 1), n=st.integers(1, 300), seed=st.integers(0, 1000))
def test_flip_labels_changes_exactly_the_fraction(frac, n, seed):
    y = np.random.default_rng(seed).integers(0, 10, n)
    z = flip_labels(y, frac, seed=seed)
    assert int((z != y).sum()) == int(round(frac * n))  # every chosen label really changes
    assert z.min() >= 0 and z.max() <= 9
    np.testing.assert_array_equal(flip_labels(y, frac, seed=seed), z)


def test_flip_labels_rejects_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        flip_labels(np.zeros(3, int), 1.5)
    with pytest.raises(ValueError, match="labels must lie"):
        flip_labels(np.array([0, 10]), 0.5)
