"""Data sets used by the book's experiments.

The default is the 8x8 handwritten digits that ship inside scikit-learn, so every
notebook runs offline on a fresh machine. Real MNIST is read, when the user has it, from
the standard IDX files in a local folder (nothing is ever downloaded).

IDX format (LeCun et al., "THE MNIST DATABASE", the file-format section): two zero bytes,
one byte with the element type, one byte with the number of dimensions ``k``, then ``k``
big-endian unsigned 32-bit sizes, then the elements in C order, big-endian.
"""
from __future__ import annotations

import gzip
import os
import pathlib
from typing import NamedTuple

import numpy as np

from ._validation import check_int_at_least, check_nonnegative

__all__ = [
    "Dataset",
    "load_digits_split",
    "read_idx",
    "load_mnist",
    "load_dataset",
    "train_validation_split",
    "flip_labels",
    "MNIST_ENV_VAR",
]

#: Environment variable naming the folder with the four MNIST IDX files.
MNIST_ENV_VAR = "SAMLIB_MNIST_DIR"

# IDX element type code -> numpy dtype (big-endian), from the IDX format description.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Standard MNIST file names (LeCun et al.), read plain or gzipped.
_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class Dataset(NamedTuple):
    """A train/test split with a human-readable description of where it came from."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    description: str

    @property
    def input_dim(self) -> int:
        """Number of input features (64 for the digits, 784 for MNIST)."""
        return int(self.X_train.shape[1])


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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain, or gzip-compressed if the name ends in ``.gz``).

    Parameters
    ----------
    path : path-like
        The IDX file.

    Returns
    -------
    numpy.ndarray
        The array, with the shape stored in the header and the native-endian version of
        the stored dtype.

    Raises
    ------
    ValueError
        Wrong magic number (first two bytes not zero, unknown type code, zero dimensions),
        truncated header or data, or trailing bytes after the data.

    Examples
    --------
    >>> read_idx("train-labels-idx1-ubyte").shape  # doctest: +SKIP
    (60000,)
    """
    p = pathlib.Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4:
        raise ValueError(f"{p}: truncated IDX header ({len(raw)} bytes, need at least 4)")
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{p}: wrong IDX magic number 0x{magic:08X} (expected 0x0000TTDD with a type code "
            f"TT in {sorted(hex(c) for c in _IDX_DTYPES)} and DD >= 1 dimensions)"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{p}: truncated IDX header: {ndim} dimensions need {header_len} bytes, got {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header_len
    if got < expected:
        raise ValueError(f"{p}: truncated IDX data: shape {shape} needs {expected} bytes, got {got}")
    if got > expected:
        raise ValueError(f"{p}: {got - expected} unexpected trailing bytes after IDX data of shape {shape}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _find_idx(folder: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise ValueError(f"MNIST folder {folder} lacks {stem} (or {stem}.gz)")


def _read_pair(folder: pathlib.Path, images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    X = read_idx(_find_idx(folder, images))
    y = read_idx(_find_idx(folder, labels))
    if X.ndim != 3:
        raise ValueError(f"{images}: expected a 3-d image array (n, rows, cols), got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"{labels}: expected a 1-d label array, got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{images} holds {X.shape[0]} images but {labels} holds {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{labels}: labels must lie in 0..9, got range {y.min()}..{y.max()}")
    Xf = X.reshape(X.shape[0], -1).astype(np.float32)
    # uint8 images are scaled to [0, 1]; other element types are taken as already scaled
    if X.dtype == np.uint8:
        Xf /= 255.0
    return Xf, y.astype(np.int64)


def load_mnist(
    folder: str | os.PathLike | None = None, n_train: int = 1000, seed: int = 0
) -> Dataset:
    """Read MNIST from local IDX files: ``n_train`` seeded training samples, full test set.

    Parameters
    ----------
    folder : path-like, optional
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``).
        Defaults to the environment variable ``SAMLIB_MNIST_DIR``. Nothing is downloaded.
    n_train : int
        Training samples drawn without replacement from the training file by a seeded
        permutation (the review uses 1000).
    seed : int
        Seed of that permutation.

    Returns
    -------
    Dataset
        Images flattened to float32 rows in [0, 1] (784 columns for MNIST), int64 labels.

    Raises
    ------
    ValueError
        No folder given or set, a missing or malformed file (see :func:`read_idx`),
        image/label count mismatch, or ``n_train`` larger than the training file.
    """
    if folder is None:
        folder = os.environ.get(MNIST_ENV_VAR)
        if not folder:
            raise ValueError(f"no MNIST folder given and the environment variable {MNIST_ENV_VAR} is not set")
    root = pathlib.Path(folder)
    if not root.is_dir():
        raise ValueError(f"MNIST folder {str(root)!r} does not exist")
    X_all, y_all = _read_pair(root, _MNIST_FILES["train_images"], _MNIST_FILES["train_labels"])
    X_test, y_test = _read_pair(root, _MNIST_FILES["test_images"], _MNIST_FILES["test_labels"])
    n_train = check_int_at_least(n_train, 1, "n_train")
    if n_train > len(y_all):
        raise ValueError(f"n_train must be <= {len(y_all)} (the MNIST training file), got {n_train}")
    idx = np.random.default_rng(seed).permutation(len(y_all))[:n_train]
    return Dataset(
        X_all[idx], y_all[idx], X_test, y_test, "mnist",
        f"MNIST from {root}: {n_train} training images (seeded subset), {len(y_test)} test images, "
        f"{X_all.shape[1]} pixels",
    )


def load_dataset(name: str = "digits", n_train: int = 1000, seed: int = 0) -> Dataset:
    """Load the experiments' data set by name.

    Parameters
    ----------
    name : {"digits", "mnist", "auto"}
        ``"digits"``: scikit-learn's embedded 8x8 digits (64 inputs; 1797 images, so the
        test set holds ``1797 - n_train``). ``"mnist"``: :func:`load_mnist` from
        ``$SAMLIB_MNIST_DIR``. ``"auto"``: MNIST if that variable is set, else digits.
    n_train, seed : int
        Passed on to the loader.

    Returns
    -------
    Dataset
    """
    if name == "auto":
        name = "mnist" if os.environ.get(MNIST_ENV_VAR) else "digits"
    if name == "mnist":
        return load_mnist(None, n_train=n_train, seed=seed)
    if name == "digits":
        X_tr, y_tr, X_te, y_te = load_digits_split(n_train=n_train, seed=seed)
        return Dataset(
            X_tr, y_tr, X_te, y_te, "digits",
            f"scikit-learn digits (8x8 images, 64 inputs): {len(y_tr)} training and {len(y_te)} test "
            f"images, split with seed {seed}",
        )
    raise ValueError(f"name must be 'digits', 'mnist' or 'auto', got {name!r}")


def train_validation_split(X: np.ndarray, y: np.ndarray, n_val: int, seed: int = 0):
    """Hold out ``n_val`` seeded random samples of a training set for validation.

    Returns
    -------
    X_fit, y_fit, X_val, y_val : numpy arrays
    """
    n_val = check_int_at_least(n_val, 1, "n_val")
    if len(X) != len(y):
        raise ValueError(f"X holds {len(X)} samples but y holds {len(y)}")
    if n_val >= len(y):
        raise ValueError(f"n_val must be < {len(y)} (the number of samples), got {n_val}")
    perm = np.random.default_rng(seed).permutation(len(y))
    fit, val = perm[n_val:], perm[:n_val]
    return X[fit], y[fit], X[val], y[val]


def flip_labels(y: np.ndarray, fraction: float, num_classes: int = 10, seed: int = 0) -> np.ndarray:
    """Return a copy of ``y`` with ``round(fraction * n)`` labels changed to a wrong class.

    The flipped samples are chosen without replacement; each gets a class drawn uniformly
    from the ``num_classes - 1`` other classes (symmetric label noise, as in the label-noise
    experiments of Foret et al. 2021).

    Parameters
    ----------
    y : array of int, shape (n,)
        Labels in ``0 .. num_classes - 1``.
    fraction : float
        Fraction of labels to corrupt, in [0, 1].
    num_classes : int
        Number of classes (>= 2).
    seed : int
        Seed of the choice of samples and of the wrong classes.
    """
    frac = check_nonnegative(fraction, "fraction")
    if frac > 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    num_classes = check_int_at_least(num_classes, 2, "num_classes")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got range {y.min()}..{y.max()}")
    rng = np.random.default_rng(seed)
    n_flip = int(round(frac * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    # an offset in 1..K-1 modulo K always lands on a different class, uniformly
    offset = rng.integers(1, num_classes, size=n_flip)
    out = y.copy()
    out[idx] = (y[idx] + offset) % num_classes
    return out
