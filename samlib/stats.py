"""Statistics shared by the chapters: the order of a power law read off a log-log plot.

A measured curve :math:`y \\approx C x^k` is a straight line of slope :math:`k` on log-log axes, so its order is
the least-squares slope of :math:`\\log y` against :math:`\\log x`. The book reads orders this way in two places:
the size of a Taylor remainder against the radius :math:`\\rho` (:mod:`samlib.sam_gradient`), and the decay of
the average squared gradient norm against the number of steps :math:`T` (:mod:`samlib.convergence`), where the
curve is a mean over independent replicates and the slope gets a bootstrap interval.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from samlib._validation import check_finite_array, check_int_at_least, check_probability, check_real

__all__ = ["SlopeInterval", "loglog_slope"]


class SlopeInterval(NamedTuple):
    """A fitted log-log slope with a percentile bootstrap interval (unpacks as ``slope, low, high``)."""

    slope: float
    low: float
    high: float


def loglog_slope(
    x: Any,
    y: Any,
    *,
    x_min: float | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = 0,
) -> float | SlopeInterval:
    """Least-squares slope of :math:`\\log \\bar y` against :math:`\\log x`: the order :math:`k` in
    :math:`y \\approx C x^k`.

    .. math::

        \\hat k = \\frac{\\sum_i (u_i - \\bar u)(v_i - \\bar v)}{\\sum_i (u_i - \\bar u)^2},
        \\qquad u_i = \\log x_i,\\quad v_i = \\log \\bar y_i,

    over the points with :math:`x_i \\ge` ``x_min``, where :math:`\\bar y_i = y_i` for a curve and
    :math:`\\bar y_i = \\frac1R \\sum_r y_{ir}` for ``R`` replicate curves (the slope of the mean curve, not the
    mean of the slopes: the mean is what a bound on an expectation speaks about). With ``n_boot > 0`` the
    replicates (columns) are resampled with replacement ``n_boot`` times and the percentile interval of the
    refitted slopes is returned as well (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13).

    Parameters
    ----------
    x : array_like, shape (m,)
        Abscissae, finite and ``> 0`` (e.g. radii, or step counts ``T``).
    y : array_like, shape (m,) or (m, R)
        One curve, or ``R`` replicate curves as columns; finite, and on the fitted points the curve (or the
        mean curve) must be ``> 0``.
    x_min : float, optional
        Fit only the points with ``x >= x_min`` (default: all), e.g. to leave out a transient.
    n_boot : int, default 0
        Number of bootstrap resamples of the replicates; ``0`` returns the slope alone. Needs a 2-D ``y``.
    level : float, default 0.95
        Level of the bootstrap interval, in ``(0, 1)``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for the resamples.

    Returns
    -------
    float or SlopeInterval
        The slope :math:`\\hat k` if ``n_boot == 0``, else ``SlopeInterval(slope, low, high)``.

    Raises
    ------
    ValueError
        On non-finite or non-positive ``x``, ``y`` of the wrong shape, fewer than two distinct fitted ``x``,
        a fitted curve that is not ``> 0``, ``n_boot > 0`` with a 1-D ``y``, or ``level`` outside ``(0, 1)``.
    TypeError
        If an argument is not a number (or an array of numbers) at all.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 4.0, 8.0])
    >>> round(loglog_slope(x, 3 * x**1.5), 12)
    1.5
    >>> s, lo, hi = loglog_slope(x, np.outer(x**-0.5, [0.9, 1.0, 1.1]), n_boot=100)
    >>> round(s, 12), lo <= s <= hi
    (-0.5, True)
    """
    x = check_finite_array(x, "x", ndim=1)
    y = check_finite_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != x.size:
        raise ValueError(f"y must have shape ({x.size},) or ({x.size}, R) to match x, got shape {y.shape}")
    if np.any(x <= 0):
        raise ValueError(f"x must be > 0 for a log-log slope, got min {float(np.min(x))!r}")
    n_boot = check_int_at_least(n_boot, 0, "n_boot")
    level = check_probability(level, "level")
    seed = check_int_at_least(seed, 0, "seed")
    if n_boot > 0 and y.ndim == 1:
        raise ValueError("n_boot > 0 needs replicate curves: y of shape (m, R)")
    keep = np.ones(x.size, dtype=bool) if x_min is None else x >= check_real(x_min, "x_min")
    if np.unique(x[keep]).size < 2:
        raise ValueError(f"need at least two distinct x >= x_min={x_min!r} to fit a slope, got {int(keep.sum())}")
    lx = np.log(x[keep])
    v = y[keep]
    curve = v if v.ndim == 1 else v.mean(axis=1)
    if np.any(curve <= 0):
        what = "y" if v.ndim == 1 else "the mean of y over its replicates"
        raise ValueError(f"{what} must be > 0 on the fitted points to take its logarithm")
    slope = float(np.polyfit(lx, np.log(curve), 1)[0])
    if n_boot == 0:
        return slope
    # A plain loop rather than scipy.stats.bootstrap: its resampling draws differ, and the chapters' stored
    # intervals were computed with these seeded draws.
    rng = np.random.default_rng(seed)
    r = v.shape[1]
    boots = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, r, r)
        resampled = v[:, idx].mean(axis=1)
        if np.any(resampled <= 0):
            raise ValueError("a bootstrap resample of y has a mean curve that is not > 0; fit fewer points")
        boots[b] = np.polyfit(lx, np.log(resampled), 1)[0]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return SlopeInterval(slope, float(lo), float(hi))
