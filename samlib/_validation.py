"""Input checks shared by every samlib module.

Each helper names the argument and the offending value in its message, so that a reader who passes a bad
input learns what to change. The split follows numpy and the Python standard library:

- :class:`TypeError` when the argument is of the wrong kind: ``None``, a string, a bool, a complex number or an
  array where a real scalar belongs, or an array whose entries are not real numbers;
- :class:`ValueError` when it is of the right kind but its value is out of range: nan, inf, a negative radius,
  a fractional ``num_steps``, an integer too large for a float or for a 64-bit integer.

Bools are refused where numbers are expected although Python treats ``True`` as ``1``: a flag passed in
place of a number is almost always a slip of argument order, and reading it as 1 hides it.
"""
from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any

import numpy as np

__all__ = [
    "check_nonnegative",
    "check_positive",
    "check_real",
    "check_finite_array",
    "check_probability",
    "check_int_at_least",
    "check_p_norm",
    "check_symmetric",
    "check_callable",
    "check_real_array",
    "check_real_output",
    "is_torch",
    "describe",
    "INT64_MAX",
]

#: Largest integer a counter or a seed may take: numpy and torch store them as signed 64-bit integers.
INT64_MAX = 2**63 - 1


def is_torch(x: Any) -> bool:
    """True if ``x`` is a torch object (checked by module name, so torch is not imported here)."""
    return type(x).__module__.startswith("torch")



def describe(value: Any) -> str:
    """A short ``repr`` for error messages: long strings are cut, huge integers are given by their size.

    Python refuses to print an integer of more than 4300 digits, and a 400-digit number helps nobody.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about 10^{int(value.bit_length() * math.log10(2))}"
    return reprlib.repr(value)


def _plain_scalar(value: Any, name: str) -> Any:
    """``value`` as a plain Python number, or TypeError naming ``name`` if it is not a real scalar.

    numpy scalars, 0-d arrays and 0-d torch tensors are unwrapped with ``.item()``, which gives the same Python
    number ``float()`` would, so valid inputs convert exactly as before.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got the string {describe(value)}")
    if hasattr(value, "shape") and hasattr(value, "item"):
        shape = tuple(value.shape)
        if shape != ():
            raise TypeError(f"{name} must be a real scalar, got an array of shape {shape}")
        value = value.item()
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got the complex number {value!r}")
    return value


def check_real(value: Any, name: str) -> float:
    """Return ``float(value)`` after checking it is a real scalar (nan and inf pass; see the other checks).

    Raises
    ------
    TypeError
        If ``value`` is not a real scalar (``None``, a string, a bool, a complex number, an array).
    ValueError
        If ``value`` is an integer too large for a float (beyond about ``1.8e308``).
    """
    v = _plain_scalar(value, name)
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{name} must be a finite real number, got {describe(value)}, too large for a float") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {describe(value)}") from None


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``float(value)`` after checking it is a finite real number >= 0."""
    v = check_real(value, name)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {describe(value)}")
    return v


def check_positive(value: Any, name: str) -> float:
    """Return ``float(value)`` after checking it is a finite real number > 0."""
    v = check_nonnegative(value, name)
    if v == 0:
        raise ValueError(f"{name} must be > 0, got {describe(value)}")
    return v


def check_probability(value: Any, name: str) -> float:
    """Return ``float(value)`` after checking ``0 < value < 1``."""
    v = check_positive(value, name)
    if v >= 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {describe(value)}")
    return v


def check_int_at_least(value: Any, minimum: int, name: str, maximum: int = INT64_MAX) -> int:
    """Return ``int(value)`` after checking it is an integer with ``minimum <= value <= maximum``.

    A float with an integral value (``3.0``, ``1e3``) is accepted as that integer; ``2.5`` is not, and neither
    are strings, bools or ``None``. The default ``maximum`` is the largest signed 64-bit integer, the range of
    the numpy and torch integers that counters and seeds end up in.

    Raises
    ------
    TypeError
        If ``value`` is not a real scalar.
    ValueError
        If it is not integral, not finite, or out of range.
    """
    v = _plain_scalar(value, name)
    if isinstance(v, numbers.Integral):
        iv = int(v)
    elif isinstance(v, numbers.Real):
        f = check_real(v, name)
        if not math.isfinite(f) or not f.is_integer():
            raise ValueError(f"{name} must be an integer, got {describe(value)}")
        iv = int(f)
    else:
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    if iv < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {describe(value)}")
    if iv > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {describe(value)}")
    return iv


def check_finite_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float numpy array after checking its entries are finite real numbers.

    Torch tensors are checked without conversion and returned unchanged.

    Raises
    ------
    TypeError
        If ``x`` is ``None``, a string, or holds bools, complex numbers, strings or other non-numbers.
    ValueError
        If it has the wrong number of dimensions, is ragged, or holds nan, inf or a number too large for a float.
    """
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got {describe(x)}")
    if is_torch(x):
        if not hasattr(x, "is_complex") or x.is_complex() or str(x.dtype) == "torch.bool":
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {getattr(x, 'dtype', type(x))}")
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
        if not bool(x.isfinite().all()):
            raise ValueError(f"{name} contains non-finite values (nan or inf)")
        return x
    try:
        raw = np.asarray(x)
    except ValueError as err:  # ragged nesting
        raise ValueError(f"{name} must be a regular array of real numbers: {err}") from None
    if raw.dtype.kind in "bcUSVMm":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {raw.dtype}")
    try:
        arr = np.asarray(raw, dtype=float)
    except OverflowError:
        raise ValueError(f"{name} holds an integer too large for a float") from None
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must hold real numbers: {err}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    return arr


def check_p_norm(p: Any, name: str = "p") -> float:
    """Return ``p`` as a float after checking ``1 <= p <= inf``."""
    v = check_real(p, name)
    if math.isnan(v) or v < 1:
        raise ValueError(f"{name} must be a number in [1, inf], got {describe(p)}")
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


def check_callable(value: Any, name: str) -> Any:
    """Return ``value`` after checking it is callable (a function, a method, a module ...).

    Raises
    ------
    TypeError
        If ``value`` cannot be called: ``None``, a number, a string, an array.
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {describe(value)}")
    return value


def check_real_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float numpy array after checking its entries are real numbers (nan and inf pass).

    The check of :func:`check_finite_array` without the finiteness: for values computed by a caller's function
    (a gradient) where a non-finite entry has a meaning of its own. A torch tensor is detached, moved to the CPU
    and converted to a float64 numpy array.

    Raises
    ------
    TypeError
        If ``x`` is ``None``, a string, or holds bools, complex numbers, strings or other non-numbers.
    ValueError
        If it has the wrong number of dimensions, is ragged, or holds an integer too large for a float.
    """
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got {describe(x)}")
    if is_torch(x):
        if not hasattr(x, "is_complex") or x.is_complex() or str(x.dtype) == "torch.bool":
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {getattr(x, 'dtype', type(x))}")
        x = x.detach().cpu().double().numpy()
    try:
        raw = np.asarray(x)
    except ValueError as err:  # ragged nesting
        raise ValueError(f"{name} must be a regular array of real numbers: {err}") from None
    if raw.dtype.kind in "bcUSVMm":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {raw.dtype}")
    try:
        arr = np.asarray(raw, dtype=float)
    except OverflowError:
        raise ValueError(f"{name} holds an integer too large for a float") from None
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must hold real numbers: {err}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    return arr


def check_real_output(value: Any, name: str) -> float:
    """Return the value a caller's function returned as a float (nan and inf pass; see the callers).

    Accepts what ``float()`` reads as one real number: a Python or numpy number, a 0-d array or tensor, and an
    array or tensor holding exactly one real entry. Strings, bools, ``None``, complex numbers and arrays of
    several entries are refused by name, where ``float()`` would convert some silently (``"1.0"``, ``True``) and
    fail on the others with a message that does not say which function returned them.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is an integer too large for a float.
    """
    if hasattr(value, "shape") and hasattr(value, "reshape") and not isinstance(value, (str, bytes)):
        shape = tuple(value.shape)
        if len(shape) > 0 and math.prod(shape) == 1:
            value = value.reshape(())
    return check_real(value, name)
