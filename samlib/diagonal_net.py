"""The diagonal linear network :math:`\\beta = u \\odot v` on regression, trained by GD, SAM or 1-SAM.

The model of Andriushchenko & Flammarion (2022, section 4) is the linear predictor
:math:`x \\mapsto \\langle u \\odot v, x\\rangle` with the square loss

.. math::

    L(u, v) = \\frac{1}{2n} \\lVert X (u \\odot v) - y \\rVert^2
            = \\frac1n \\sum_{i=1}^n \\ell_i(u, v), \\qquad
    \\ell_i = \\tfrac12 (\\langle u\\odot v, x_i\\rangle - y_i)^2,

whose gradients are :math:`\\nabla_u \\ell_i = r_i\\, x_i \\odot v`, :math:`\\nabla_v \\ell_i = r_i\\, x_i \\odot u`
with the residual :math:`r_i = \\langle u\\odot v, x_i\\rangle - y_i`. Started from the balanced
:math:`u = v = \\alpha\\mathbf 1`, gradient flow interpolates with a small :math:`\\ell_1` norm when
:math:`\\alpha` is small (Woodworth et al. 2020), which is why the model is the standard test bed for
sparsity biases.

Three trainers, all on the full training set every step and written for a stack of ``S`` independent
problems at once (seeds), so that a study runs in one vectorised loop:

* GD: :math:`w \\leftarrow w - \\eta \\nabla L(w)`, :math:`w = (u, v)`;
* SAM (``"sam"``, n-SAM): :math:`w \\leftarrow w - \\eta \\nabla L(w + \\hat\\epsilon)`, one perturbation
  from the full gradient;
* 1-SAM (``"sam1"``): every example gets its own perturbation from its own gradient and the step averages
  the perturbed per-example gradients, :math:`w \\leftarrow w - \\frac{\\eta}{n}\\sum_i \\nabla \\ell_i(w +
  \\hat\\epsilon_i)` with :math:`\\hat\\epsilon_i = \\hat\\epsilon(\\nabla \\ell_i(w))` (m-SAM with
  :math:`m = 1`; this deterministic average is what the source's code computes).

The perturbation is the book's :math:`\\hat\\epsilon(g) = \\rho g/\\lVert g\\rVert` with the zero-gradient rule
of :mod:`samlib.ascent` (``normalized=True``, through :func:`samlib.ascent.ascent_scale` row by row), or the
unnormalised :math:`\\rho g` that Andriushchenko & Flammarion analyse (``normalized=False``).

References
----------
M. Andriushchenko and N. Flammarion, "Towards understanding sharpness-aware minimization", ICML 2022,
section 4. B. Woodworth et al., "Kernel and rich regimes in overparametrized models", COLT 2020.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from samlib._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    describe,
)
from samlib.ascent import ascent_scale

__all__ = [
    "SparseRegression",
    "sparse_regression",
    "diagonal_net_loss",
    "diagonal_net_grads",
    "DiagonalNetRun",
    "train_diagonal_net",
    "DIAGONAL_NET_METHODS",
]

#: The trainers of :func:`train_diagonal_net`.
DIAGONAL_NET_METHODS = ("gd", "sam", "sam1")


@dataclass(frozen=True)
class SparseRegression:
    """A noiseless sparse linear regression problem (one or a stack of ``S`` seeds).

    Attributes
    ----------
    X, X_test : ndarray, shape (S, n, d) and (S, n_test, d)
        Standard normal inputs.
    y, y_test : ndarray, shape (S, n) and (S, n_test)
        Targets :math:`y = X\\beta^\\star`.
    beta_star : ndarray, shape (S, d)
        The ``k``-sparse, non-negative, unit-norm ground truth.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    beta_star: np.ndarray


def sparse_regression(n: int, d: int, k: int, seeds: Any, n_test: int = 1000) -> SparseRegression:
    """Sparse regression data as in Andriushchenko & Flammarion (2022, section 4), one problem per seed.

    :math:`x \\sim N(0, I_d)`, :math:`\\beta^\\star` with ``k`` non-zero entries :math:`|z_j|/\\lVert z\\rVert`,
    :math:`z \\sim N(0, I_k)`, on the first ``k`` coordinates, and :math:`y = \\langle \\beta^\\star, x\\rangle`.

    Parameters
    ----------
    n, d, k : int
        Training examples, dimension and number of non-zeros (``1 <= k <= d``).
    seeds : sequence of int
        One problem per seed (``np.random.default_rng(seed)``), stacked along the first axis.
    n_test : int, default 1000
        Test examples.

    Returns
    -------
    SparseRegression

    Raises
    ------
    ValueError
        If a size is not a positive integer, ``k > d``, or ``seeds`` is empty or holds a negative seed.
    TypeError
        If a size or a seed is not an integer.

    Examples
    --------
    >>> p = sparse_regression(n=5, d=8, k=2, seeds=[0, 1], n_test=3)
    >>> p.X.shape, p.y_test.shape, round(float(np.linalg.norm(p.beta_star[0])), 12)
    ((2, 5, 8), (2, 3), 1.0)
    """
    n = check_int_at_least(n, 1, "n")
    d = check_int_at_least(d, 1, "d")
    k = check_int_at_least(k, 1, "k")
    n_test = check_int_at_least(n_test, 1, "n_test")
    if k > d:
        raise ValueError(f"k must be at most d = {d}, got {k}")
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
        raise TypeError(f"seeds must be a sequence of integers, got {describe(seeds)}")
    if len(seeds) == 0:
        raise ValueError("seeds must not be empty")
    seeds = [check_int_at_least(s, 0, "seeds[i]") for s in seeds]
    Xs, ys, Xt, yt, bs = [], [], [], [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        X = rng.standard_normal((n, d))
        X_test = rng.standard_normal((n_test, d))
        z = np.abs(rng.standard_normal(k))
        beta = np.zeros(d)
        beta[:k] = z / np.linalg.norm(z)
        Xs.append(X), ys.append(X @ beta), Xt.append(X_test), yt.append(X_test @ beta), bs.append(beta)
    return SparseRegression(np.stack(Xs), np.stack(ys), np.stack(Xt), np.stack(yt), np.stack(bs))


def _check_problem(u: Any, v: Any, X: Any, y: Any) -> tuple[np.ndarray, ...]:
    X = check_finite_array(X, "X")
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n, d) or (S, n, d), got {X.shape}")
    S, n, d = X.shape
    y = check_finite_array(y, "y").reshape(-1, n) if np.ndim(y) else None
    if y is None or y.shape[0] != S:
        raise ValueError(f"y must have shape (n,) or (S, n) matching X {X.shape}, got {np.shape(y)}")
    u = check_finite_array(u, "u").reshape(-1, d) if np.size(u) % d == 0 else None
    v = check_finite_array(v, "v").reshape(-1, d) if np.size(v) % d == 0 else None
    if u is None or u.shape[0] != S:
        raise ValueError(f"u must have shape (d,) or (S, d) matching X {X.shape}, got {np.shape(u)}")
    if v is None or v.shape != u.shape:
        raise ValueError(f"v must have the shape of u {u.shape}, got {np.shape(v)}")
    return u, v, X, y


def diagonal_net_loss(u: Any, v: Any, X: Any, y: Any) -> np.ndarray:
    """Training loss :math:`\\frac1{2n}\\lVert X(u\\odot v) - y\\rVert^2`, one value per stacked problem.

    Parameters
    ----------
    u, v : array_like, shape (d,) or (S, d)
    X : array_like, shape (n, d) or (S, n, d)
    y : array_like, shape (n,) or (S, n)

    Returns
    -------
    ndarray, shape (S,)

    Raises
    ------
    ValueError
        On non-finite entries or shapes that do not match.

    Examples
    --------
    >>> diagonal_net_loss(np.ones(2), np.ones(2), np.eye(2), np.array([1.0, 3.0]))
    array([1.])
    """
    u, v, X, y = _check_problem(u, v, X, y)
    r = np.einsum("snd,sd->sn", X, u * v) - y
    return 0.5 * np.mean(r**2, axis=1)


def _per_example_grads(u: np.ndarray, v: np.ndarray, X: np.ndarray, y: np.ndarray):
    """Per-example gradients (S, n, d) of ell_i in u and in v, and the residuals (S, n)."""
    r = np.einsum("snd,sd->sn", X, u * v) - y
    rX = r[..., None] * X
    return rX * v[:, None, :], rX * u[:, None, :], r


def diagonal_net_grads(u: Any, v: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient :math:`(\\nabla_u L, \\nabla_v L) = (\\tfrac1n X^T r \\odot v, \\tfrac1n X^T r \\odot u)`.

    Parameters
    ----------
    u, v, X, y
        As in :func:`diagonal_net_loss`.

    Returns
    -------
    (ndarray, ndarray), each of shape (S, d)

    Raises
    ------
    ValueError
        On non-finite entries or shapes that do not match.

    Examples
    --------
    >>> gu, gv = diagonal_net_grads(np.ones(2), np.ones(2), np.eye(2), np.array([1.0, 3.0]))
    >>> gu.tolist(), gv.tolist()
    ([[0.0, -1.0]], [[0.0, -1.0]])
    """
    u, v, X, y = _check_problem(u, v, X, y)
    n = X.shape[1]
    Xr = np.einsum("snd,sn->sd", X, np.einsum("snd,sd->sn", X, u * v) - y) / n
    return Xr * v, Xr * u


def _scale(norm: np.ndarray, rho: float, normalized: bool) -> np.ndarray:
    # the book's eps_hat = rho g/||g|| with eps_hat(0) = 0 (ascent_scale), or the unnormalised rho g
    return ascent_scale(norm, rho) if normalized else np.full_like(norm, rho)


@dataclass(frozen=True)
class DiagonalNetRun:
    """Result of :func:`train_diagonal_net` for a stack of ``S`` problems.

    Attributes
    ----------
    u, v : ndarray, shape (S, d)
        Final weights (frozen at the step where the target loss was reached, if one was given).
    beta : ndarray, shape (S, d)
        Effective weights :math:`u \\odot v`.
    train_loss : ndarray, shape (S,)
        Final training loss.
    steps : ndarray of int, shape (S,)
        Steps taken by each problem.
    reached : ndarray of bool, shape (S,)
        Whether the target loss was reached (all True without a target).
    """

    u: np.ndarray
    v: np.ndarray
    beta: np.ndarray
    train_loss: np.ndarray
    steps: np.ndarray
    reached: np.ndarray


def train_diagonal_net(
    X: Any,
    y: Any,
    method: str,
    lr: float,
    num_steps: int,
    alpha: float = 0.1,
    rho: float = 0.0,
    normalized: bool = True,
    target_loss: float | None = None,
) -> DiagonalNetRun:
    """Train :math:`u \\odot v` from :math:`u = v = \\alpha\\mathbf 1` by GD, SAM or 1-SAM (module docstring).

    Parameters
    ----------
    X : array_like, shape (n, d) or (S, n, d)
        Training inputs (a stack of ``S`` problems is trained in one vectorised loop).
    y : array_like, shape (n,) or (S, n)
        Targets.
    method : {"gd", "sam", "sam1"}
        GD, full-batch SAM (n-SAM) or SAM with a perturbation per example (1-SAM).
    lr : float
        Learning rate :math:`\\eta > 0`.
    num_steps : int
        Largest number of steps (``>= 0``).
    alpha : float, default 0.1
        Initialisation scale :math:`\\alpha > 0`.
    rho : float, default 0
        Radius :math:`\\rho \\ge 0` (``rho = 0`` makes both SAM variants GD).
    normalized : bool, default True
        :math:`\\hat\\epsilon = \\rho g/\\lVert g\\rVert` (zero at a zero gradient) or, if False, :math:`\\rho g`
        (the unnormalised SAM of the source's analysis).
    target_loss : float, optional
        Stop each problem at the first step where its training loss is at most this (matched training
        loss); problems that never reach it run ``num_steps`` steps and are flagged in ``reached``.

    Returns
    -------
    DiagonalNetRun

    Raises
    ------
    ValueError
        On an unknown ``method``, non-positive ``lr`` or ``alpha``, negative ``rho`` or ``target_loss``,
        a negative ``num_steps``, mismatched shapes, or an iterate that stops being finite (a learning rate
        too large for the problem).
    TypeError
        If ``normalized`` is not a bool or a number is not a real number.

    Examples
    --------
    >>> p = sparse_regression(n=10, d=20, k=2, seeds=[0])
    >>> run = train_diagonal_net(p.X, p.y, "sam1", lr=0.05, num_steps=20000, rho=0.05,
    ...                          target_loss=1e-4)
    >>> bool(run.reached[0]), bool(run.train_loss[0] <= 1e-4)
    (True, True)
    """
    if not isinstance(method, str) or method not in DIAGONAL_NET_METHODS:
        raise ValueError(f"method must be one of {DIAGONAL_NET_METHODS}, got {method!r}")
    if not isinstance(normalized, (bool, np.bool_)):
        raise TypeError(f"normalized must be True or False, got {describe(normalized)}")
    lr = check_positive(lr, "lr")
    alpha = check_positive(alpha, "alpha")
    rho = check_nonnegative(rho, "rho")
    num_steps = check_int_at_least(num_steps, 0, "num_steps")
    target = None if target_loss is None else check_nonnegative(target_loss, "target_loss")
    X = check_finite_array(X, "X")
    d = X.shape[-1] if X.ndim in (2, 3) else 0
    S = X.shape[0] if X.ndim == 3 else 1
    u0 = np.full((S, d), alpha)
    u, v, X, y = _check_problem(u0, u0.copy(), X, y)
    steps = np.zeros(S, dtype=int)
    active = np.ones(S, dtype=bool)
    loss = diagonal_net_loss(u, v, X, y)
    if target is not None:
        active &= loss > target
    for _ in range(num_steps):
        if not active.any():
            break
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            u, v, active, steps = _step(u, v, X, y, method, lr, rho, normalized, active, steps)
        if not (np.isfinite(u).all() and np.isfinite(v).all()):
            raise ValueError(f"the iterates stopped being finite after {int(steps.max())} steps: lr = {lr} "
                             "is too large for this problem")
        if target is not None:
            loss = diagonal_net_loss(u, v, X, y)
            active &= loss > target
    loss = diagonal_net_loss(u, v, X, y)
    reached = np.ones(S, dtype=bool) if target is None else loss <= target
    return DiagonalNetRun(u=u, v=v, beta=u * v, train_loss=loss, steps=steps, reached=reached)


def _step(u, v, X, y, method, lr, rho, normalized, active, steps):
    """One step of ``method`` for the active problems (the others keep their weights)."""
    if method == "sam1" and rho > 0:
        gu_i, gv_i, _ = _per_example_grads(u, v, X, y)
        norm = np.sqrt(np.sum(gu_i**2, axis=2) + np.sum(gv_i**2, axis=2))  # (S, n)
        c = _scale(norm, rho, normalized)[..., None]
        up, vp = u[:, None, :] + c * gu_i, v[:, None, :] + c * gv_i  # (S, n, d)
        rp = np.einsum("snd,snd->sn", X, up * vp) - y
        gu = np.mean(rp[..., None] * X * vp, axis=1)
        gv = np.mean(rp[..., None] * X * up, axis=1)
    else:
        gu, gv = diagonal_net_grads(u, v, X, y)
        if method != "gd" and rho > 0:
            norm = np.sqrt(np.sum(gu**2, axis=1) + np.sum(gv**2, axis=1))
            c = _scale(norm, rho, normalized)[:, None]
            gu, gv = diagonal_net_grads(u + c * gu, v + c * gv, X, y)
    a = active[:, None]
    return np.where(a, u - lr * gu, u), np.where(a, v - lr * gv, v), active, steps + active
