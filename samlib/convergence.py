"""Vectorised stochastic SAM for checking the convergence rate of Theorem 2 of the review.

The review (§3.2, quoting Mi et al. 2022 Mi et al. 2022) states that stochastic SAM

.. math::

    x_{t+1} = x_t - \\eta_t\\, g\\bigl(x_t + \\rho_t\\, g(x_t)/\\|g(x_t)\\|\\bigr),
    \\qquad \\eta_t = \\eta_0/\\sqrt t,\\quad \\rho_t = \\rho_0/\\sqrt t,

on an L-smooth function with gradients bounded by G and an unbiased oracle g of variance at
most sigma^2 satisfies
``(1/T) sum_t E||grad f(x_t)||^2 <= C1/sqrt(T) + C2 log(T)/sqrt(T)``.

This module runs many independent replicates of that iteration at once (torch, one
tensor of shape ``(replicates, d)``) and returns Monte-Carlo estimates, with standard
errors, of the average squared gradient norm for every T of a logarithmic grid.  It also
provides test functions with exactly known G and L, the bound as the review states it, a
re-derived bound, a bootstrap log-log slope, and the slope a given rate has on the same grid.

Indexing used throughout: the start is ``x_1``; step ``t = 1, 2, ...`` uses
``eta_t = eta0/sqrt(t)`` and produces ``x_{t+1}``; the average after T steps is
``(1/T) sum_{t=1}^T ||grad f(x_t)||^2`` and ``f_after`` is ``f(x_{T+1})``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from ._validation import check_finite_array, check_int_at_least, check_nonnegative, check_positive

__all__ = [
    "TestFunction",
    "tilted_pseudo_huber",
    "cauchy_log",
    "log_grid",
    "SAMRunResult",
    "run_stochastic_sam",
    "theorem2_bound",
    "rederived_bound",
    "loglog_slope",
    "rate_slope",
    "BoundComparison",
    "compare_with_bounds",
]

Schedule = Literal["inv_sqrt", "constant"]


@functools.lru_cache(maxsize=64)
def _scalar(value: float, dtype: torch.dtype) -> torch.Tensor:
    """A cached 0-d tensor: creating one costs about as much as a small op in the inner loop."""
    return torch.full((), value, dtype=dtype)


# ----------------------------------------------------------------------------------------
# Test functions with exactly known G (sup of the gradient norm) and L (gradient Lipschitz)
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestFunction:
    """A separable test function ``f(x) = sum_i h(x_i)`` on ``R^d`` with known constants.

    Attributes
    ----------
    name : str
        Short name used in tables and figures.
    d : int
        Dimension.
    G : float
        ``sup_x ||grad f(x)||`` (Assumption 1), exact.
    L : float
        Lipschitz constant of ``grad f`` (Assumption 3), exact: ``sup |h''|``.
    f_min : float
        ``inf_x f(x)``.
    convex : bool
        Whether ``f`` is convex.
    kind, c : str, float
        Which closed form and its parameter (see the factories).
    """

    name: str
    d: int
    G: float
    L: float
    f_min: float
    convex: bool
    kind: str
    c: float = 0.0

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``f`` for each row of ``x`` (shape ``(..., d)``), returned with shape ``(...)``."""
        if self.kind == "tilted_pseudo_huber":
            return (torch.sqrt(1 + x * x) - 1 - self.c * x).sum(-1)
        return 0.5 * torch.log1p(x * x).sum(-1)

    def grad(self, x: torch.Tensor, out: torch.Tensor | None = None,
             tmp: torch.Tensor | None = None) -> torch.Tensor:
        """``grad f`` row-wise; ``out``/``tmp`` (same shape as ``x``) avoid allocations.

        Written as a few in-place torch ops because this is the inner loop of the runner.
        """
        out = torch.empty_like(x) if out is None else out
        tmp = torch.empty_like(x) if tmp is None else tmp
        torch.addcmul(_scalar(1.0, x.dtype), x, x, out=tmp)  # 1 + x^2 in one op
        if self.kind == "tilted_pseudo_huber":
            tmp.rsqrt_()  # h'(x) = x / sqrt(1 + x^2) - c
            torch.addcmul(_scalar(-self.c, x.dtype), x, tmp, out=out)
        else:
            torch.div(x, tmp, out=out)  # h'(x) = x / (1 + x^2)
        return out


def tilted_pseudo_huber(d: int, c: float = 0.5) -> TestFunction:
    """Convex test function ``f(x) = sum_i (sqrt(1 + x_i^2) - 1 - c x_i)``, ``0 <= c < 1``.

    ``h'(x) = x/sqrt(1+x^2) - c`` lies in ``(-1-c, 1-c)``, so ``G = (1+c) sqrt(d)``
    (approached as every ``x_i -> -inf``); ``h''(x) = (1+x^2)^{-3/2} <= 1`` so ``L = 1``.
    The minimum is at ``x_i = c/sqrt(1-c^2)`` with value ``d (sqrt(1-c^2) - 1)``.  The tilt
    ``c`` makes ``f`` asymmetric about its minimiser, which a constant perturbation radius
    can exploit (see the constant-rho regime of the chapter).

    Examples
    --------
    >>> f = tilted_pseudo_huber(10, c=0.5)
    >>> round(f.G, 4), f.L
    (4.7434, 1.0)
    """
    d = check_int_at_least(d, 1, "d")
    c = check_nonnegative(c, "c")
    if c >= 1:
        raise ValueError(f"c must be < 1 so that f is bounded below, got {c!r}")
    return TestFunction(name="tilted pseudo-Huber", d=d, G=(1 + c) * math.sqrt(d), L=1.0,
                        f_min=d * (math.sqrt(1 - c * c) - 1), convex=True,
                        kind="tilted_pseudo_huber", c=c)


def cauchy_log(d: int) -> TestFunction:
    """Non-convex test function ``f(x) = (1/2) sum_i log(1 + x_i^2)``.

    ``h'(x) = x/(1+x^2)`` has ``|h'| <= 1/2`` (at ``|x| = 1``), so ``G = sqrt(d)/2``;
    ``h''(x) = (1-x^2)/(1+x^2)^2`` lies in ``[-1/8, 1]``, so ``L = 1`` and ``f`` is
    non-convex for ``|x_i| > 1``.  Minimum 0 at the origin.
    """
    d = check_int_at_least(d, 1, "d")
    return TestFunction(name="Cauchy log", d=d, G=0.5 * math.sqrt(d), L=1.0, f_min=0.0,
                        convex=False, kind="cauchy_log")


# ----------------------------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------------------------
def log_grid(num_steps: int, points_per_decade: int = 10) -> np.ndarray:
    """Integers ``1 <= T <= num_steps`` spaced evenly in ``log T`` (always containing both ends)."""
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    points_per_decade = check_int_at_least(points_per_decade, 1, "points_per_decade")
    n = max(2, int(math.ceil(math.log10(num_steps) * points_per_decade)) + 1)
    grid = np.unique(np.round(np.logspace(0, math.log10(num_steps), n)).astype(np.int64))
    return np.union1d(grid, [1, num_steps])


@dataclass
class SAMRunResult:
    """Per-replicate records of a stochastic-SAM run on the grid ``T``.

    Attributes
    ----------
    T : ndarray of int, shape (m,)
        Grid of step counts.
    avg_sq_grad : ndarray, shape (m, R)
        ``(1/T) sum_{t=1}^T ||grad f(x_t)||^2`` per replicate.
    sq_grad_after : ndarray, shape (m, R)
        ``||grad f(x_{T+1})||^2`` (the extra term of the review's sum from t = 0).
    f_after : ndarray, shape (m, R)
        ``f(x_{T+1})``, the value after T steps (the review's ``f(x_T)``).
    f_start : float
        ``f(x_1)``.
    params : dict
        The arguments of the run.
    """

    T: np.ndarray
    avg_sq_grad: np.ndarray
    sq_grad_after: np.ndarray
    f_after: np.ndarray
    f_start: float
    params: dict = field(default_factory=dict)

    @property
    def replicates(self) -> int:
        return self.avg_sq_grad.shape[1]

    def mean_se(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean over replicates and its standard error ``std/sqrt(R)`` for ``(m, R)`` values."""
        r = values.shape[1]
        se = values.std(axis=1, ddof=1) / math.sqrt(r) if r > 1 else np.zeros(values.shape[0])
        return values.mean(axis=1), se


def _schedule(kind: str, c0: float, t: int) -> float:
    return c0 / math.sqrt(t) if kind == "inv_sqrt" else c0


def run_stochastic_sam(
    fn: TestFunction,
    x_start: np.ndarray | float,
    *,
    eta0: float,
    rho0: float,
    sigma: float,
    num_steps: int,
    replicates: int,
    eta_schedule: Schedule = "inv_sqrt",
    rho_schedule: Schedule = "inv_sqrt",
    grid: np.ndarray | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    block: int = 100,
    shared_noise: bool = False,
) -> SAMRunResult:
    """Run ``replicates`` independent copies of stochastic SAM and record averages on a grid.

    Each step (``t = 1..num_steps``)::

        g1 = grad f(x_t) + xi1                     # noisy gradient at x_t
        y  = x_t + rho_t g1 / ||g1||               # ascent step (rho_t = 0: plain SGD)
        g2 = grad f(y) + xi2                       # noisy gradient at the perturbed point
        x_{t+1} = x_t - eta_t g2

    with ``xi ~ N(0, (sigma^2/d) I_d)`` so that ``E||xi||^2 = sigma^2`` exactly
    (Assumption 2 of the review with equality), drawn independently for ``xi1`` and
    ``xi2`` unless ``shared_noise`` (then ``xi2 = xi1``, the same mini-batch for both
    gradients).  ``eta_t = eta0/sqrt(t)`` or ``eta0`` and likewise ``rho_t``.
    Where ``g1 = 0`` the ascent step is taken as zero.

    Parameters
    ----------
    fn : TestFunction
        The objective.
    x_start : array_like, shape (d,) or float
        The start ``x_1`` (a float is broadcast), identical for every replicate.
    eta0, rho0, sigma : float
        Step size, perturbation radius (>= 0) and noise level (>= 0).
    num_steps, replicates : int
        T_max and the number R of independent runs.
    eta_schedule, rho_schedule : {"inv_sqrt", "constant"}
        ``c0/sqrt(t)`` (Theorem 2) or ``c0``.
    grid : array of int, optional
        Values of T at which to record; default :func:`log_grid` of ``num_steps``.
    seed : int
        Seed of the torch generator (results are reproducible for a fixed ``block``).
    dtype : torch.dtype
        ``torch.float32`` (fast) or ``torch.float64``.
    block : int
        Number of steps whose noise is drawn in one ``torch.randn`` call.
    shared_noise : bool
        Use the same noise for both gradients of a step.

    Returns
    -------
    SAMRunResult

    Notes
    -----
    Speed: noise is drawn in blocks into a preallocated buffer, all updates are in place,
    squared gradients are summed in float32 within a block and in float64 across blocks,
    and ``f`` is evaluated only at grid points.
    """
    eta0 = check_positive(eta0, "eta0")
    rho0 = check_nonnegative(rho0, "rho0")
    sigma = check_nonnegative(sigma, "sigma")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    replicates = check_int_at_least(replicates, 1, "replicates")
    block = check_int_at_least(block, 1, "block")
    for name, kind in (("eta_schedule", eta_schedule), ("rho_schedule", rho_schedule)):
        if kind not in ("inv_sqrt", "constant"):
            raise ValueError(f"{name} must be 'inv_sqrt' or 'constant', got {kind!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    d = fn.d
    x_arr = np.broadcast_to(np.asarray(x_start, dtype=float), (d,)) if np.ndim(x_start) == 0 \
        else check_finite_array(x_start, "x_start", ndim=1)
    if x_arr.shape != (d,):
        raise ValueError(f"x_start must have shape ({d},), got {x_arr.shape}")
    check_finite_array(x_arr, "x_start")
    if grid is None:
        grid = log_grid(num_steps)
    grid = np.unique(np.asarray(grid, dtype=np.int64))
    if grid.size == 0 or grid[0] < 1 or grid[-1] > num_steps:
        raise ValueError(f"grid must hold integers in [1, num_steps={num_steps}], got {grid!r}")

    gen = torch.Generator().manual_seed(int(seed))
    R = replicates
    x = torch.tensor(x_arr, dtype=dtype).expand(R, d).contiguous()
    f_start = float(fn.value(x[:1])[0])
    gx, gy, g1, y, tmp = (torch.empty_like(x) for _ in range(5))
    nrm = torch.empty(R, 1, dtype=dtype)
    acc_block = torch.zeros_like(x)  # float32-safe: at most `block` terms
    acc_total = torch.zeros(R, dtype=torch.float64)
    n_noise = 1 if shared_noise else 2
    noise = torch.empty(block, n_noise, R, d, dtype=dtype)
    noise_scale = sigma / math.sqrt(d)
    use_noise = sigma > 0
    use_ascent = rho0 > 0

    m = grid.size
    avg = np.empty((m, R))
    sq_after = np.empty((m, R))
    f_after = np.empty((m, R))
    gi = 0
    t = 0
    while t < num_steps:
        nb = min(block, num_steps - t)
        if use_noise:
            torch.randn((nb, n_noise, R, d), generator=gen, dtype=dtype, out=noise[:nb])
        acc_block.zero_()
        for k in range(nb):
            t += 1
            eta = _schedule(eta_schedule, eta0, t)
            fn.grad(x, out=gx, tmp=tmp)
            acc_block.addcmul_(gx, gx)
            if use_ascent:
                rho = _schedule(rho_schedule, rho0, t)
                if use_noise:
                    torch.add(gx, noise[k, 0], alpha=noise_scale, out=g1)
                else:
                    g1.copy_(gx)
                torch.mul(g1, g1, out=tmp)
                torch.sum(tmp, 1, keepdim=True, out=nrm)
                if not use_noise:
                    # zero ascent where g1 = 0 (the update is undefined there); with noise
                    # g1 = 0 has probability 0, so the clamp is skipped for speed
                    nrm.clamp_min_(1e-30)
                nrm.rsqrt_()
                torch.addcmul(x, g1, nrm, value=rho, out=y)  # y = x + rho g1/||g1||
                fn.grad(y, out=gy, tmp=tmp)
                x.sub_(gy, alpha=eta)
            else:
                x.sub_(gx, alpha=eta)
            if use_noise:
                x.sub_(noise[k, n_noise - 1], alpha=eta * noise_scale)
            if t == grid[gi]:
                s = acc_total + acc_block.sum(1, dtype=torch.float64)
                avg[gi] = (s / t).numpy()
                g_after = fn.grad(x)
                sq_after[gi] = (g_after * g_after).sum(1, dtype=torch.float64).numpy()
                f_after[gi] = fn.value(x.double()).numpy()
                gi = min(gi + 1, m - 1)
        acc_total += acc_block.sum(1, dtype=torch.float64)

    params = dict(function=fn.name, d=d, eta0=eta0, rho0=rho0, sigma=sigma, num_steps=num_steps,
                  replicates=R, eta_schedule=eta_schedule, rho_schedule=rho_schedule,
                  seed=seed, dtype=str(dtype), block=block, shared_noise=shared_noise)
    return SAMRunResult(T=grid, avg_sq_grad=avg, sq_grad_after=sq_after, f_after=f_after,
                        f_start=f_start, params=params)


# ----------------------------------------------------------------------------------------
# Bounds
# ----------------------------------------------------------------------------------------
def theorem2_bound(T: np.ndarray, f_start: float, f_after: np.ndarray, *, eta0: float,
                   rho0: float, sigma: float, G: float, L: float) -> np.ndarray:
    """Right-hand side of the review's eq. (6), with its constants as stated.

    .. math::

        C_1/\\sqrt T + C_2 \\log T/\\sqrt T,\\quad
        C_1 = \\tfrac{2}{\\eta_0}(f(x_0) - \\mathbb E f(x_T)),\\quad
        C_2 = 2(L\\sigma^2\\eta_0 + LG\\rho_0)

    (review §3.2, Theorem 2, quoting Mi et al. 2022).  ``f_after`` is ``E f`` after T steps
    (or per-replicate values: the bound is linear in it, so averaging commutes).
    """
    T = np.asarray(T, dtype=float)
    c1 = 2.0 / eta0 * (f_start - np.asarray(f_after, dtype=float))
    c2 = 2.0 * (L * sigma**2 * eta0 + L * G * rho0)
    return c1 / np.sqrt(T) + c2 * np.log(T) / np.sqrt(T)


def rederived_bound(T: np.ndarray, f_start: float, f_after: np.ndarray, *, eta0: float,
                    rho0: float, sigma: float, G: float, L: float) -> np.ndarray:
    """A bound re-derived under Assumptions 1-3 alone (no condition on eta0 or rho0).

    From L-smoothness, ``E<grad f(x), grad f(y)> >= ||grad f(x)||^2 - L G rho_t`` and
    ``E||g(y)||^2 <= G^2 + sigma^2``:
    ``E f(x_{t+1}) <= E f(x_t) - eta_t E||grad f(x_t)||^2 + L G eta_t rho_t
    + (L/2) eta_t^2 (G^2 + sigma^2)``.  Summing over ``t = 1..T`` with
    ``eta_t = eta0/sqrt t``, ``rho_t = rho0/sqrt t``, ``sum 1/t <= 1 + log T`` and
    ``eta_t >= eta0/sqrt T``:

    .. math::

        \\frac1T\\sum_{t=1}^T \\mathbb E\\|\\nabla f(x_t)\\|^2 \\le
        \\frac{f(x_1) - \\mathbb E f(x_{T+1})}{\\eta_0\\sqrt T}
        + \\Bigl(LG\\rho_0 + \\frac{L\\eta_0}{2}(G^2 + \\sigma^2)\\Bigr)\\frac{1 + \\log T}{\\sqrt T}.
    """
    T = np.asarray(T, dtype=float)
    c1 = (f_start - np.asarray(f_after, dtype=float)) / eta0
    c2 = L * G * rho0 + 0.5 * L * eta0 * (G**2 + sigma**2)
    return c1 / np.sqrt(T) + c2 * (1 + np.log(T)) / np.sqrt(T)


# ----------------------------------------------------------------------------------------
# Rate
# ----------------------------------------------------------------------------------------
def loglog_slope(T: np.ndarray, values: np.ndarray, *, t_min: float = 1.0,
                 n_boot: int = 1000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float, float]:
    """Least-squares slope of ``log mean(values)`` against ``log T``, with a bootstrap interval.

    Parameters
    ----------
    T : array of shape (m,)
    values : array of shape (m, R)
        Per-replicate curves (e.g. :attr:`SAMRunResult.avg_sq_grad`); replicates are resampled.
    t_min : float
        Fit only grid points with ``T >= t_min``.
    n_boot, seed, level :
        Number of bootstrap resamples of the replicates, their seed, the interval level.

    Returns
    -------
    slope, low, high : float
        Point estimate and percentile interval.
    """
    T = np.asarray(T, dtype=float)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] != T.size:
        raise ValueError(f"values must have shape ({T.size}, R), got {values.shape}")
    n_boot = check_int_at_least(n_boot, 1, "n_boot")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    keep = T >= t_min
    if keep.sum() < 2:
        raise ValueError(f"need at least two grid points with T >= t_min={t_min!r}")
    lx = np.log(T[keep])
    v = values[keep]
    if np.any(v.mean(axis=1) <= 0):
        raise ValueError("the mean curve must be positive to take its logarithm")
    slope = float(np.polyfit(lx, np.log(v.mean(axis=1)), 1)[0])
    rng = np.random.default_rng(seed)
    r = v.shape[1]
    boots = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, r, r)
        boots[b] = np.polyfit(lx, np.log(v[:, idx].mean(axis=1)), 1)[0]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return slope, float(lo), float(hi)


def rate_slope(T: np.ndarray, rate, *, t_min: float = 1.0) -> float:
    r"""Least-squares slope of ``log rate(T)`` against ``log T`` on the grid points ``T >= t_min``.

    This is the slope that a curve decaying *exactly* like ``rate`` gets when it is fitted
    the way :func:`loglog_slope` fits a measurement, on the same grid. A measured slope is
    to be compared with it, not with the exponent of the rate: for
    :math:`\log T/\sqrt T` the local slope is :math:`-1/2 + 1/\log T`, so on a finite
    window the fitted slope lies above :math:`-1/2`.

    Parameters
    ----------
    T : array of shape (m,)
        The grid (e.g. :attr:`SAMRunResult.T`).
    rate : callable
        ``rate(T)`` for an array ``T``; must be positive on the fitted points.
    t_min : float
        Fit only grid points with ``T >= t_min``.

    Returns
    -------
    float
        The fitted slope.

    Raises
    ------
    ValueError
        Fewer than two grid points with ``T >= t_min``, or ``rate`` not positive and finite there.

    Examples
    --------
    >>> T = log_grid(10**5)
    >>> round(rate_slope(T, lambda t: t**-0.5, t_min=1000), 9)
    -0.5
    >>> round(rate_slope(T, lambda t: np.log(t) / np.sqrt(t), t_min=1000), 2)  # not -0.5
    -0.39
    """
    T = np.asarray(check_finite_array(T, "T", ndim=1), dtype=float)
    keep = T >= t_min
    if keep.sum() < 2:
        raise ValueError(f"need at least two grid points with T >= t_min={t_min!r}")
    values = np.asarray(rate(T[keep]), dtype=float)
    if values.shape != T[keep].shape or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError("rate(T) must be positive and finite on the fitted grid points")
    return float(np.polyfit(np.log(T[keep]), np.log(values), 1)[0])


@dataclass
class BoundComparison:
    """Measured average squared gradient norm against the two bounds, on the grid ``T``.

    ``measured`` is ``(1/T) sum_{t=1}^T E||grad f(x_t)||^2`` (sum over the T iterates the
    run visited, the charitable reading); ``measured_literal`` is the review's literal
    left side ``(1/T) sum_{t=0}^{T}``, i.e. T + 1 terms divided by T.  ``*_margin`` are
    bound minus measurement (means over replicates, the bounds being linear in
    ``E f(x_{T+1})``), ``*_margin_se`` their Monte-Carlo standard errors, and
    ``*_violated`` marks the T where the margin is below zero by more than ``z`` standard
    errors.
    """

    T: np.ndarray
    measured: np.ndarray
    measured_se: np.ndarray
    measured_literal: np.ndarray
    stated: np.ndarray
    rederived: np.ndarray
    stated_margin: np.ndarray
    stated_margin_se: np.ndarray
    literal_margin: np.ndarray
    literal_margin_se: np.ndarray
    rederived_margin: np.ndarray
    rederived_margin_se: np.ndarray
    z: float

    @property
    def stated_violated(self) -> np.ndarray:
        return self.stated_margin + self.z * self.stated_margin_se < 0

    @property
    def literal_violated(self) -> np.ndarray:
        return self.literal_margin + self.z * self.literal_margin_se < 0

    @property
    def rederived_violated(self) -> np.ndarray:
        return self.rederived_margin + self.z * self.rederived_margin_se < 0

    @property
    def looseness(self) -> np.ndarray:
        """``stated / measured`` (inf where the measurement is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.measured > 0, self.stated / self.measured, np.inf)


def compare_with_bounds(res: SAMRunResult, fn: TestFunction, *, z: float = 3.0) -> BoundComparison:
    """Evaluate :func:`theorem2_bound` and :func:`rederived_bound` for a run, per replicate.

    The constants are taken from ``res.params`` (``eta0, rho0, sigma``) and ``fn``
    (``G, L``) whatever the schedules of the run, so for runs outside the theorem's
    conditions the bounds are "what the formula would give".
    """
    z = check_positive(z, "z")
    p = res.params
    kw = dict(eta0=p["eta0"], rho0=p["rho0"], sigma=p["sigma"], G=fn.G, L=fn.L)
    T = res.T[:, None]
    lhs = res.avg_sq_grad
    literal = (lhs * T + res.sq_grad_after) / T
    stated = theorem2_bound(T, res.f_start, res.f_after, **kw)
    rederived = rederived_bound(T, res.f_start, res.f_after, **kw)
    m, se = res.mean_se(lhs)
    sm, sse = res.mean_se(stated - lhs)
    lm, lse = res.mean_se(stated - literal)
    rm, rse = res.mean_se(rederived - lhs)
    return BoundComparison(T=res.T, measured=m, measured_se=se, measured_literal=literal.mean(1),
                           stated=stated.mean(1), rederived=rederived.mean(1),
                           stated_margin=sm, stated_margin_se=sse, literal_margin=lm,
                           literal_margin_se=lse, rederived_margin=rm, rederived_margin_se=rse, z=z)
