"""The three objectives of the review's §3.1: the loss, its worst value over the rho-ball, its Gaussian average.

The review (Liu, Chen & Shi 2022, §3.1) points out that three problems get mixed up in SAM's derivation:

- the *min-max problem* (eq. 2): minimise :math:`L^{\\max}_\\rho(\\theta) = \\max_{\\lVert\\epsilon\\rVert \\le \\rho}
  L(\\theta + \\epsilon)`;
- the *algorithm*, SAM's update (eq. 3), which stops where :math:`\\nabla L(\\theta + \\hat\\epsilon) = 0`;
- the *PAC-Bayes objective* behind Theorem 1: the Gaussian-averaged loss
  :math:`L^{\\sigma}(\\theta) = \\mathbb E_{z \\sim \\mathcal N(0, I)} L(\\theta + \\sigma z)` at the noise level
  :math:`\\sigma` the proof uses (:func:`samlib.bounds.sam_noise_scale`).

This module computes the first and the third exactly enough to locate their minimisers on low-dimensional
landscapes: the Gaussian average by Gauss-Hermite quadrature (exact for polynomials of degree
``< 2 * order`` in each coordinate), the worst loss over an interval by a sliding maximum on a fine grid, and
over a disk (two parameters) by a polar grid refined on its boundary circle.
The SAM end points are computed by :mod:`samlib.studies.dynamics`.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable

import numpy as np

from samlib._validation import (
    check_callable,
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "gaussian_smoothed",
    "smoothed_minimiser",
    "ball_max_1d",
    "minimax_minimiser_1d",
    "disk_max",
    "minimax_minimiser_2d",
]

#: Largest dimension for which the tensor-product quadrature is used (``order ** d`` points).
MAX_QUADRATURE_DIM = 3


def _hermite(order: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (n, d) and weights (n,) of the probabilists' Gauss-Hermite rule for N(0, I_d)."""
    x, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / math.sqrt(2.0 * math.pi)
    nodes = np.array(list(itertools.product(x, repeat=d)))
    weights = np.array([math.prod(c) for c in itertools.product(w, repeat=d)])
    return nodes, weights


def gaussian_smoothed(f: Callable[[np.ndarray], Any], theta: Any, sigma: float, order: int = 40) -> Any:
    """The Gaussian-averaged loss :math:`L^\\sigma(\\theta) = \\mathbb E_{z\\sim\\mathcal N(0,I_d)} f(\\theta+\\sigma z)`.

    .. math::

        L^\\sigma(\\theta) \\approx \\sum_{j} w_j\\, f(\\theta + \\sigma x_j),

    with the tensor-product Gauss-Hermite nodes :math:`x_j` and weights :math:`w_j` of ``order`` points per
    coordinate (exact when :math:`f` is a polynomial of degree below ``2 * order`` in each coordinate). It is
    the posterior-averaged training loss of the PAC-Bayes bound behind the review's Theorem 1 (Foret et al.
    2021, Appendix A), for the posterior :math:`\\mathcal N(\\theta, \\sigma^2 I)`.

    Parameters
    ----------
    f : callable
        Batched loss: ``f(points)`` for points of shape ``(..., d)`` returns shape ``(...)`` (the landscapes
        of :mod:`samlib.landscapes` do).
    theta : array_like, shape (d,) or (m, d)
        One point or a batch of points; ``d <= 3``.
    sigma : float
        Noise level :math:`\\sigma \\ge 0`; ``0`` gives ``f(theta)`` exactly.
    order : int, default 40
        Quadrature points per coordinate, ``>= 1``.

    Returns
    -------
    float or numpy.ndarray, shape (m,)

    Raises
    ------
    TypeError
        If ``f`` is not callable or an argument is not a number.
    ValueError
        If ``theta`` is not finite or has more than 3 coordinates, ``sigma < 0`` or ``order < 1``.

    Examples
    --------
    >>> round(gaussian_smoothed(lambda x: (x**2).sum(-1), np.array([1.0]), 0.5), 12)  # 1 + 0.25
    1.25
    """
    check_callable(f, "f")
    sigma = check_nonnegative(sigma, "sigma")
    order = check_int_at_least(order, 1, "order")
    t = np.asarray(check_finite_array(theta, "theta"), dtype=float)
    single = t.ndim == 1
    if t.ndim not in (1, 2):
        raise ValueError(f"theta must have shape (d,) or (m, d), got shape {t.shape}")
    pts = t[None, :] if single else t
    d = pts.shape[1]
    if not 1 <= d <= MAX_QUADRATURE_DIM:
        raise ValueError(f"theta must have 1 to {MAX_QUADRATURE_DIM} coordinates, got {d}")
    if sigma == 0.0:
        out = np.asarray(f(pts), dtype=float).reshape(len(pts))
    else:
        nodes, weights = _hermite(order, d)
        vals = np.asarray(f(pts[:, None, :] + sigma * nodes[None, :, :]), dtype=float)
        out = vals.reshape(len(pts), len(weights)) @ weights
    return float(out[0]) if single else out


def smoothed_minimiser(f: Callable[[np.ndarray], Any], sigma: float, candidates: Any,
                       order: int = 40) -> tuple[np.ndarray, float]:
    """The minimiser of :func:`gaussian_smoothed` over ``candidates``, refined by Nelder-Mead.

    The best candidate (a grid over the region of interest) starts :func:`scipy.optimize.minimize` with the
    Nelder-Mead method on :math:`L^\\sigma` (tolerances ``1e-12``). A fine enough grid finds the basin of the
    global minimiser; the refinement only polishes it.

    Parameters
    ----------
    f : callable
        Batched loss, as in :func:`gaussian_smoothed`.
    sigma : float
        Noise level :math:`\\sigma \\ge 0`.
    candidates : array_like, shape (m, d)
        Starting grid, ``d <= 3``.
    order : int
        Quadrature points per coordinate.

    Returns
    -------
    (theta_star, value) : numpy.ndarray of shape (d,), float

    Raises
    ------
    TypeError, ValueError
        As :func:`gaussian_smoothed`; also if ``candidates`` is not a finite 2-D array.
    """
    from scipy.optimize import minimize

    cand = np.asarray(check_finite_array(candidates, "candidates", ndim=2), dtype=float)
    if len(cand) == 0:
        raise ValueError("candidates must not be empty")
    vals = gaussian_smoothed(f, cand, sigma, order)
    x0 = cand[int(np.argmin(vals))]
    res = minimize(lambda x: gaussian_smoothed(f, x, sigma, order), x0, method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000})
    return np.asarray(res.x, dtype=float), float(res.fun)


def ball_max_1d(values: Any, spacing: float, rho: float) -> np.ndarray:
    """Worst value over the interval of radius ``rho`` around each point of a uniform 1-D grid.

    .. math:: L^{\\max}_\\rho(x_i) = \\max_{|x_j - x_i| \\le \\rho} L(x_j)

    over the grid points :math:`x_j` (spacing :math:`h`); near the ends of the grid only the points inside
    it count. On the grid the maximum is exact; between grid points the true maximum over the interval is
    higher by at most :math:`h \\max|L'|/2`.

    Parameters
    ----------
    values : array_like, shape (n,)
        :math:`L` on the grid.
    spacing : float
        Grid spacing :math:`h > 0`.
    rho : float
        Radius :math:`\\rho \\ge 0` (``0`` returns ``values``).

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    TypeError, ValueError
        On non-finite or non-1-D ``values``, ``spacing <= 0`` or ``rho < 0``.

    Examples
    --------
    >>> ball_max_1d(np.array([0.0, 1.0, 0.0, 0.0, 2.0]), 1.0, 1.0)
    array([1., 1., 1., 2., 2.])
    """
    from scipy.ndimage import maximum_filter1d

    v = np.asarray(check_finite_array(values, "values", ndim=1), dtype=float)
    h = check_positive(spacing, "spacing")
    rho = check_nonnegative(rho, "rho")
    r = int(math.floor(rho / h + 1e-9))
    if r == 0 or v.size == 0:
        return v.copy()
    return maximum_filter1d(v, size=2 * r + 1, mode="constant", cval=-np.inf)


def minimax_minimiser_1d(f: Callable[[np.ndarray], Any], lo: float, hi: float, rho: float,
                         num: int = 200_001) -> tuple[float, float]:
    """The minimiser of the worst loss over the ball (the review's eq. 2) of a 1-D loss, on a grid.

    Minimises :func:`ball_max_1d` of ``f`` over the grid points of ``[lo, hi]`` that are at least ``rho``
    from its ends (so every interval lies inside the grid). Resolution: the grid spacing.

    Parameters
    ----------
    f : callable
        Batched 1-D loss: ``f`` of an array of shape (n, 1) returns shape (n,).
    lo, hi : float
        The region, ``hi - lo > 2 rho``.
    rho : float
        Radius :math:`\\rho \\ge 0`.
    num : int
        Grid points, ``>= 3``.

    Returns
    -------
    (theta_star, value) : float, float

    Raises
    ------
    TypeError, ValueError
        If ``f`` is not callable, the region is empty or too short for ``rho``, or ``num < 3``.
    """
    check_callable(f, "f")
    lo, hi = float(check_finite_array(lo, "lo")), float(check_finite_array(hi, "hi"))
    rho = check_nonnegative(rho, "rho")
    num = check_int_at_least(num, 3, "num")
    if not hi - lo > 2 * rho:
        raise ValueError(f"need hi - lo > 2 rho, got lo={lo!r}, hi={hi!r}, rho={rho!r}")
    x = np.linspace(lo, hi, num)
    h = (hi - lo) / (num - 1)
    worst = ball_max_1d(np.asarray(f(x[:, None]), dtype=float), h, rho)
    inside = (x >= lo + rho) & (x <= hi - rho)
    i = np.flatnonzero(inside)[int(np.argmin(worst[inside]))]
    return float(x[i]), float(worst[i])


def disk_max(f: Callable[[np.ndarray], Any], theta: Any, rho: float, angles: int = 720,
             rings: int = 8) -> float:
    """Worst value of a 2-D loss over the disk of radius ``rho`` around ``theta``.

    .. math:: L^{\\max}_\\rho(\\theta) = \\max_{\\lVert\\epsilon\\rVert_2 \\le \\rho} L(\\theta + \\epsilon)

    ``f`` is evaluated on a polar grid (the centre, ``rings`` circles of radii :math:`\\rho j/\\text{rings}`,
    ``angles`` points each); if the best point lies on the boundary circle, its angle is refined by a bounded
    scalar search between the neighbouring grid angles (:func:`scipy.optimize.minimize_scalar`). Why not a
    general constrained solver: the maximum of a smooth loss over a small disk around a point near a minimum is
    on the circle, where one angle parametrises it; the interior grid is there to notice when it is not. The
    result is a lower bound on the true maximum, short of it by at most the variation of ``f`` within one
    grid cell of the interior when the maximum is inside.

    Parameters
    ----------
    f : callable
        Batched loss: ``f`` of an array of shape (m, 2) returns shape (m,).
    theta : array_like, shape (2,)
        Centre of the disk.
    rho : float
        Radius :math:`\\rho \\ge 0` (``0`` returns ``f(theta)``).
    angles, rings : int
        Points per circle (``>= 8``) and circles (``>= 1``).

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If ``f`` is not callable, ``theta`` is not a finite array of shape (2,), ``rho < 0``, or the grid sizes
        are too small.

    Examples
    --------
    >>> round(disk_max(lambda t: (t**2).sum(-1), np.array([1.0, 0.0]), 0.5), 9)  # (1 + 0.5)**2
    2.25
    """
    from scipy.optimize import minimize_scalar

    check_callable(f, "f")
    th = np.asarray(check_finite_array(theta, "theta", ndim=1), dtype=float)
    if th.shape != (2,):
        raise ValueError(f"theta must have shape (2,), got {th.shape}")
    rho = check_nonnegative(rho, "rho")
    angles = check_int_at_least(angles, 8, "angles")
    rings = check_int_at_least(rings, 1, "rings")
    if rho == 0:
        return float(np.asarray(f(th[None, :]), dtype=float)[0])
    phi = np.linspace(0.0, 2.0 * np.pi, angles, endpoint=False)
    radii = rho * np.arange(1, rings + 1) / rings
    circle = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    pts = np.concatenate([th[None, :], (th + radii[:, None, None] * circle[None]).reshape(-1, 2)])
    vals = np.asarray(f(pts), dtype=float)
    best = int(np.argmax(vals))
    worst = float(vals[best])
    if best >= 1 + (rings - 1) * angles:  # on the boundary circle: refine the angle
        k = best - 1 - (rings - 1) * angles
        step = 2.0 * np.pi / angles

        def neg(p: float) -> float:
            return -float(np.asarray(f((th + rho * np.array([np.cos(p), np.sin(p)]))[None, :]))[0])

        res = minimize_scalar(neg, bounds=(phi[k] - step, phi[k] + step), method="bounded",
                              options={"xatol": 1e-12})
        worst = max(worst, -float(res.fun))
    return worst


def minimax_minimiser_2d(f: Callable[[np.ndarray], Any], candidates: Any, rho: float,
                         angles: int = 720, max_restarts: int = 20) -> tuple[np.ndarray, float]:
    """The minimiser of :func:`disk_max` (the review's eq. 2) of a 2-D loss, from a grid, refined by Nelder-Mead.

    The best of ``candidates`` starts :func:`scipy.optimize.minimize` (Nelder-Mead, tolerances ``1e-12``)
    on :math:`L^{\\max}_\\rho`, restarted from its result (at most ``max_restarts`` times) until a restart
    no longer lowers the value. As for :func:`smoothed_minimiser`, the grid must be fine enough to find the
    basin of the global minimiser. Where the minimiser is not unique (a valley along which
    :math:`L^{\\max}_\\rho` is flat), the point returned is one of them: compare quantities constant on that
    set, not coordinates.

    Parameters
    ----------
    f : callable
        Batched 2-D loss, as in :func:`disk_max`.
    candidates : array_like, shape (m, 2)
        Starting grid.
    rho : float
        Radius :math:`\\rho \\ge 0`.
    angles : int
        Points on each circle of :func:`disk_max`.
    max_restarts : int
        Largest number of Nelder-Mead runs (``>= 1``).

    Returns
    -------
    (theta_star, value) : numpy.ndarray of shape (2,), float

    Raises
    ------
    TypeError, ValueError
        As :func:`disk_max`; also if ``candidates`` is not a finite, non-empty array of shape (m, 2).
    """
    from scipy.optimize import minimize

    check_callable(f, "f")
    cand = np.asarray(check_finite_array(candidates, "candidates", ndim=2), dtype=float)
    if len(cand) == 0 or cand.shape[1] != 2:
        raise ValueError(f"candidates must have shape (m, 2) with m >= 1, got {cand.shape}")
    rho = check_nonnegative(rho, "rho")
    angles = check_int_at_least(angles, 8, "angles")
    max_restarts = check_int_at_least(max_restarts, 1, "max_restarts")
    vals = [disk_max(f, c, rho, angles) for c in cand]
    x, value = cand[int(np.argmin(vals))], float(np.min(vals))
    # Restarted until a restart no longer improves: L^max is a maximum, not smooth, and on a long shallow
    # valley one Nelder-Mead simplex collapses across the valley before it has travelled along it.
    for _ in range(max_restarts):
        res = minimize(lambda t: disk_max(f, t, rho, angles), x, method="Nelder-Mead",
                       options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000})
        improved = value - float(res.fun) > 1e-15 * max(1.0, abs(value))
        if float(res.fun) <= value:
            x, value = np.asarray(res.x, dtype=float), float(res.fun)
        if not improved:
            break
    return np.asarray(x, dtype=float), value
