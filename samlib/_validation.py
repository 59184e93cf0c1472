"""Input checks shared by every samlib module.

Each helper raises :class:`ValueError` with a message that names the argument and the
offending value, so that a reader who passes a bad input learns what to change.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "check_nonnegative",
    "check_positive",
    "check_finite_array",
    "check_probability",
    "check_int_at_least",
    "check_p_norm",
    "check_symmetric",
]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def check_nonnegative(value: float, name: str) -> float:
    """Return ``float(value)`` after checking it is a finite number >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return v


def check_positive(value: float, name: str) -> float:
    """Return ``float(value)`` after checking it is a finite number > 0."""
    v = check_nonnegative(value, name)
    if v == 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def check_probability(value: float, name: str) -> float:
    """Return ``float(value)`` after checking ``0 < value < 1``."""
    v = check_positive(value, name)
    if v >= 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return v


def check_int_at_least(value: int, minimum: int, name: str) -> int:
    """Return ``int(value)`` after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return v


def check_finite_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float numpy array after checking its entries are finite.

    Torch tensors are checked without conversion and returned unchanged.
    """
    if _is_torch(x):
        import torch

        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains non-finite values (nan or inf)")
        return x
    arr = np.asarray(x, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    return arr


def check_p_norm(p: float, name: str = "p") -> float:
    """Return ``p`` as a float after checking ``1 <= p <= inf``."""
    try:
        v = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [1, inf], got {p!r}") from None
    if math.isnan(v) or v < 1:
        raise ValueError(f"{name} must be a number in [1, inf], got {p!r}")
    return v


def check_symmetric(A: Any, name: str = "A", rtol: float = 1e-10) -> np.ndarray:
    """Return ``A`` as a square, finite, symmetric float array or raise ``ValueError``."""
    arr = check_finite_array(A, name, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0, atol=rtol * scale):
        raise ValueError(f"{name} must be symmetric; max |A - A^T| = {np.max(np.abs(arr - arr.T)):.3g}")
    return arr
