"""Tests of samlib.data: the embedded digits split, the IDX reader, MNIST loading, label noise."""
from __future__ import annotations

import gzip
import struct
import tracemalloc

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


def test_read_idx_gz_reads_the_header_before_the_data(tmp_path):
    # issue 13, edge 3: a small .gz declaring 1 byte but holding 30 MB was decompressed whole first
    p = tmp_path / "bomb.gz"
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 1) + b"\x07")
        for _ in range(30):
            fh.write(bytes(1 << 20))
    assert p.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="trailing") as err:
            read_idx(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(p) in str(err.value)
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB"


def test_read_idx_declaring_a_huge_array_allocates_only_what_the_file_holds(tmp_path):
    for gz in (False, True):
        p = tmp_path / ("huge.gz" if gz else "huge")
        head = bytes([0, 0, 0x0E, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1)
        (gzip.open if gz else open)(p, "wb").write(head + bytes(80))
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="truncated IDX data"):
                read_idx(p)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20


def _gz_bytes(tmp_path):
    raw = write_idx(tmp_path / "plain", np.arange(600).reshape(20, 30) % 251)
    return raw, gzip.compress(raw)


@pytest.mark.parametrize("damage", ["truncated", "crc", "length", "not-gzip", "empty", "deflate", "garbage-after"])
def test_read_idx_damaged_gz_raises_value_error_naming_the_file(tmp_path, damage):
    # issue 13, edge 3: these raised EOFError, BadGzipFile or zlib.error
    raw, gz = _gz_bytes(tmp_path)
    data = {
        "truncated": gz[: len(gz) // 2],
        "crc": gz[:-8] + bytes([gz[-8] ^ 0xFF]) + gz[-7:],
        "length": gz[:-4] + bytes([gz[-4] ^ 0x01]) + gz[-3:],
        "not-gzip": raw,
        "empty": b"",
        "deflate": gz[:10] + bytes([0xFF] * 20) + gz[30:],
        "garbage-after": gz + b"PK\x03\x04",
    }[damage]
    p = tmp_path / "damaged-idx.gz"
    p.write_bytes(data)
    with pytest.raises(ValueError, match="damaged-idx.gz"):
        read_idx(p)


def test_read_idx_hints_at_a_gzip_file_without_the_suffix_and_checks_the_path_type(tmp_path):
    _, gz = _gz_bytes(tmp_path)
    p = tmp_path / "compressed"
    p.write_bytes(gz)
    with pytest.raises(ValueError, match="gzip-compressed"):
        read_idx(p)
    with pytest.raises(TypeError, match="path"):
        read_idx(3)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


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
    with pytest.raises(TypeError, match="folder"):
        load_mnist(3.5)
    with pytest.raises(ValueError, match="seed"):
        load_mnist(tmp_path, seed=1.5)


@pytest.mark.parametrize("labels", [[0, 1, np.nan, 3, 4, 5, 6], [0, 1, 3.7, 3, 4, 5, 6], [0, 1, 2, -1, 4, 5, 6]])
@pytest.mark.parametrize("code", [0x0D, 0x0E])
def test_load_mnist_rejects_labels_that_are_not_digits(tmp_path, labels, code):
    # issue 13, edge 8: float labels nan and 3.7 passed silently
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array(labels), code=code)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path, n_train=5)


def test_load_mnist_accepts_integral_float_labels(tmp_path):
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 4, 5, 9]), code=0x0D)
    d = load_mnist(tmp_path, n_train=5)
    assert d.y_test.dtype == np.int64
    np.testing.assert_array_equal(d.y_test, [0, 1, 2, 3, 4, 5, 9])


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


@pytest.mark.parametrize(
    "kw, error, match",
    [
        (dict(y=np.array([0.0, 1.0, np.nan, 3.0])), ValueError, "y"),
        (dict(y=np.array([0.0, 1.0, 3.7, 3.0])), ValueError, "y"),
        (dict(y=np.array([0, 1, -2, 3])), ValueError, "y"),
        (dict(y=np.array(["a", "b", "c", "d"])), TypeError, "y"),
        (dict(y=np.array([True, False, True, False])), TypeError, "y"),
        (dict(X=None), TypeError, "X"),
        (dict(X=5.0), ValueError, "X"),
        (dict(seed=1.5), ValueError, "seed"),
        (dict(seed="0"), TypeError, "seed"),
        (dict(n_val=None), TypeError, "n_val"),
    ],
)
def test_train_validation_split_rejects_bad_input(kw, error, match):
    args = dict(X=np.zeros((4, 2)), y=np.array([0, 1, 2, 3]), n_val=1, seed=0)
    args.update(kw)
    with pytest.raises(error, match=match):
        train_validation_split(**args)


def test_train_validation_split_keeps_the_input_types():
    torch = pytest.importorskip("torch")
    X, y = torch.arange(10.0).reshape(5, 2), torch.tensor([0, 1, 2, 3, 4])
    Xf, yf, Xv, yv = train_validation_split(X, y, 2, seed=0)
    assert isinstance(Xf, torch.Tensor) and isinstance(yv, torch.Tensor)
    Xl, yl, _, _ = train_validation_split([[0.0], [1.0], [2.0]], [0, 1, 2], 1, seed=0)
    np.testing.assert_array_equal(Xl[:, 0], yl)


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
    # issue 13, edge 8: a nan label compared false with both ends of the range and passed
    with pytest.raises(ValueError, match="integer class labels"):
        flip_labels(np.array([0.0, np.nan, 2.0]), 0.5)
    with pytest.raises(ValueError, match="integer class labels"):
        flip_labels(np.array([0.0, 3.7, 2.0]), 0.5)
    with pytest.raises(TypeError, match="y"):
        flip_labels(["a", "b"], 0.5)
    with pytest.raises(TypeError, match="fraction"):
        flip_labels(np.zeros(3, int), True)
    with pytest.raises(ValueError, match="seed"):
        flip_labels(np.zeros(3, int), 0.5, seed=1.5)
    with pytest.raises(ValueError, match="num_classes"):
        flip_labels(np.zeros(3, int), 0.5, num_classes=2.5)
    # integral floats stay accepted, and keep their dtype
    z = flip_labels(np.array([0.0, 1.0, 2.0]), 1.0, num_classes=3, seed=0)
    assert z.dtype == np.float64 and set(z.tolist()) <= {0.0, 1.0, 2.0}


def test_digits_split_checks_the_seed():
    with pytest.raises(ValueError, match="seed"):
        load_digits_split(100, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        load_digits_split(100, seed="0")
    with pytest.raises(TypeError, match="name"):
        load_dataset(None)


def test_mnist_5k_is_real_mnist_split_by_seed():
    from samlib.data import load_dataset, load_mnist_5k

    a = load_mnist_5k()
    assert a.X_train.shape == (1000, 784) and a.X_test.shape == (4000, 784)
    assert a.X_train.dtype == np.float32 and 0.0 <= a.X_train.min() and a.X_train.max() <= 1.0
    # 500 images of each class in all; the two parts together are the whole file
    counts = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10)
    assert counts.tolist() == [500] * 10
    b = load_mnist_5k(split=1)
    assert not np.array_equal(a.y_train, b.y_train)
    again = load_dataset("mnist5k", n_train=1000, seed=0)
    np.testing.assert_array_equal(again.X_train, a.X_train)
    assert again.name == "mnist5k"


@pytest.mark.parametrize("kw, exc, word", [
    ({"n_train": 5000}, ValueError, "n_train"),
    ({"n_train": 0}, ValueError, "n_train"),
    ({"split": -1}, ValueError, "split"),
    ({"split": 1.5}, ValueError, "split"),
    ({"n_train": "10"}, TypeError, "n_train"),
])
def test_mnist_5k_bad_arguments_are_named(kw, exc, word):
    from samlib.data import load_mnist_5k

    with pytest.raises(exc, match=word):
        load_mnist_5k(**kw)
