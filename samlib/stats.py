"""Statistics shared by the chapters: the order of a power law read off a log-log plot, and paired
comparisons of two methods run on the same seeds and splits.

A measured curve :math:`y \\approx C x^k` is a straight line of slope :math:`k` on log-log axes, so its order is
the least-squares slope of :math:`\\log y` against :math:`\\log x`. The book reads orders this way in two places:
the size of a Taylor remainder against the radius :math:`\\rho` (:mod:`samlib.sam_gradient`), and the decay of
the average squared gradient norm against the number of steps :math:`T` (:mod:`samlib.convergence`), where the
curve is a mean over independent replicates and the slope gets a bootstrap interval.

Two optimizers trained on the same seeds give *paired* results. :func:`paired_interval` is the
one-sample t-interval of the paired differences, with the effect size next to the p-value;
:func:`fieller_interval` is Fieller's interval for a ratio of two paired means (e.g. SAM's mean
generalization gap over SGD's). Both are exact for normal data, which a percentile bootstrap on five
pairs is not: five pairs have only 126 distinct resamples and its interval is too narrow.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from scipy import stats as _st

from samlib._validation import check_finite_array, check_int_at_least, check_probability, check_real

__all__ = ["SlopeInterval", "loglog_slope", "PairedInterval", "paired_interval", "RatioInterval",
           "fieller_interval"]


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


class PairedInterval(NamedTuple):
    """The mean of paired differences with its t-interval, t statistic, p-value and effect size."""

    mean: float
    low: float
    high: float
    t: float
    df: int
    p: float
    effect_size: float
    n: int


def _paired_sample(d: Any, name: str, minimum: int = 2) -> np.ndarray:
    d = check_finite_array(d, name, ndim=1)
    if d.size < minimum:
        raise ValueError(f"{name} needs at least {minimum} values, got {d.size}")
    return d


def paired_interval(d: Any, level: float = 0.95) -> PairedInterval:
    """Student's t-interval for the mean of paired differences ``d`` (one per seed, or per split).

    .. math::

        \\bar d \\pm t_{(1+\\text{level})/2,\\,n-1}\\, \\frac{s_d}{\\sqrt n}, \\qquad
        t = \\frac{\\bar d}{s_d/\\sqrt n}, \\qquad \\text{effect size } d_z = \\frac{\\bar d}{s_d},

    computed by :func:`scipy.stats.ttest_1samp` (two-sided p-value). The interval covers the true mean
    difference with probability ``level`` when the differences are independent and normal; when they
    are nested (seeds within splits), pass one mean per split so that ``n`` counts independent units.

    Parameters
    ----------
    d : array_like, shape (n,)
        Finite paired differences, ``n >= 2``.
    level : float, default 0.95
        Confidence level, in ``(0, 1)``.

    Returns
    -------
    PairedInterval
        ``mean, low, high, t, df, p, effect_size, n``. If every difference is equal (zero spread) the
        interval is the point ``[mean, mean]``, ``t`` and ``effect_size`` are ``+-inf`` (``0`` for a
        zero mean) and ``p`` is ``0`` (``1`` for a zero mean): defined, never NaN.

    Raises
    ------
    ValueError
        Fewer than two values, non-finite values, or ``level`` outside ``(0, 1)``.
    TypeError
        ``d`` is not an array of real numbers.

    Examples
    --------
    >>> r = paired_interval([0.1, 0.3, 0.2, 0.4, 0.0])
    >>> round(r.mean, 12), round(r.t, 6), r.df, r.low < r.mean < r.high
    (0.2, 2.828427, 4, True)
    """
    d = _paired_sample(d, "d")
    level = check_probability(level, "level")
    n = d.size
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:  # scipy would return nan here
        big = math.copysign(math.inf, mean) if mean else 0.0
        return PairedInterval(mean, mean, mean, big, n - 1, 0.0 if mean else 1.0, big, n)
    res = _st.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(level)
    return PairedInterval(mean, float(ci.low), float(ci.high), float(res.statistic), n - 1,
                          float(res.pvalue), mean / sd, n)


class RatioInterval(NamedTuple):
    """A ratio of means with Fieller's interval; ``bounded`` is False when the interval is unbounded
    (then ``low = -inf`` and ``high = inf``)."""

    ratio: float
    low: float
    high: float
    bounded: bool


def fieller_interval(a: Any, b: Any, level: float = 0.95) -> RatioInterval:
    """Fieller's interval for the ratio of means :math:`\\bar a / \\bar b` of paired samples.

    The set of ratios :math:`r` that a paired t-test of :math:`a_i - r b_i` does not reject,

    .. math::

        (\\bar a - r\\bar b)^2 \\le t^2 \\left(v_{aa} - 2 r v_{ab} + r^2 v_{bb}\\right),
        \\qquad v_{xy} = \\widehat{\\mathrm{cov}}(x, y)/n, \\quad t = t_{(1+\\text{level})/2,\\,n-1},

    is an interval when :math:`\\bar b` is significantly non-zero
    (:math:`g = t^2 v_{bb}/\\bar b^2 < 1`) and unbounded otherwise (Fieller 1954, *J. R. Stat. Soc. B*
    16:175; the paired form follows from the t-test of :math:`a - r b`). Written out because scipy has
    no Fieller interval; the quadratic's roots are the interval's ends.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired finite samples (``a[i]`` and ``b[i]`` from the same seed or split), ``n >= 2``.
    level : float, default 0.95
        Confidence level, in ``(0, 1)``.

    Returns
    -------
    RatioInterval
        ``ratio, low, high, bounded``; an unbounded set (``g >= 1``) is returned as
        ``(-inf, inf)`` with ``bounded=False``.

    Raises
    ------
    ValueError
        Samples of different lengths, fewer than two pairs, non-finite values, ``mean(b) == 0``, or
        ``level`` outside ``(0, 1)``.
    TypeError
        ``a`` or ``b`` is not an array of real numbers.

    Examples
    --------
    >>> r = fieller_interval([0.8, 0.9, 0.7, 0.85, 0.75], [1.0, 1.1, 0.9, 1.0, 1.0])
    >>> round(r.ratio, 4), r.bounded, r.low < r.ratio < r.high
    (0.8, True, True)
    """
    a = _paired_sample(a, "a")
    b = _paired_sample(b, "b")
    if a.size != b.size:
        raise ValueError(f"a and b must be paired samples of equal length, got {a.size} and {b.size}")
    level = check_probability(level, "level")
    n = a.size
    ma, mb = float(a.mean()), float(b.mean())
    if mb == 0.0:
        raise ValueError("b has mean 0: the ratio of means is undefined")
    cov = np.cov(np.stack([a, b]), ddof=1) / n
    vaa, vab, vbb = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    t2 = float(_st.t.ppf((1 + level) / 2, n - 1)) ** 2
    ratio = ma / mb
    qa = mb * mb - t2 * vbb  # r^2 coefficient; > 0 iff g < 1
    if qa <= 0.0:
        return RatioInterval(ratio, -math.inf, math.inf, False)
    qb = ma * mb - t2 * vab
    qc = ma * ma - t2 * vaa
    disc = max(qb * qb - qa * qc, 0.0)  # >= 0 in exact arithmetic when qa > 0
    root = math.sqrt(disc)
    return RatioInterval(ratio, (qb - root) / qa, (qb + root) / qa, True)
