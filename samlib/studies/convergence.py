"""Vectorised stochastic SAM for checking the convergence rate of Theorem 2 of the review.

The review (§3.2, quoting Mi et al. 2022) states that stochastic SAM

.. math::

    x_{t+1} = x_t - \\eta_t\\, g\\bigl(x_t + \\rho_t\\, g(x_t)/\\|g(x_t)\\|\\bigr),
    \\qquad \\eta_t = \\eta_0/\\sqrt t,\\quad \\rho_t = \\rho_0/\\sqrt t,

on an L-smooth function with gradients bounded by G and an unbiased oracle g of variance at
most sigma^2 satisfies
``(1/T) sum_t E||grad f(x_t)||^2 <= C1/sqrt(T) + C2 log(T)/sqrt(T)``.

This module runs many independent replicates of that iteration at once (torch, one
tensor of shape ``(replicates, d)``) and returns Monte-Carlo estimates, with standard
errors, of the average squared gradient norm for every T of a logarithmic grid.  It also
gives the bound as the review states it, a re-derived bound, and the slope a given rate has on
the grid.  The objectives are landscapes of :mod:`samlib.landscapes` that carry G, L and torch
kernels (:func:`~samlib.landscapes.tilted_pseudo_huber`, :func:`~samlib.landscapes.cauchy_log`,
re-exported here); slopes are fitted with :func:`samlib.stats.loglog_slope` (re-exported too).

The learning rate :math:`\\eta_t` of the review is ``lr`` here (``lr0``, ``lr_schedule``).

Indexing used throughout: the start is ``x_1``; step ``t = 1, 2, ...`` uses
``lr_t = lr0/sqrt(t)`` and produces ``x_{t+1}``; the average after T steps is
``(1/T) sum_{t=1}^T ||grad f(x_t)||^2`` and ``f_after`` is ``f(x_{T+1})``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from .._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_real,
    describe,
)
from ..landscapes import Landscape, cauchy_log, tilted_pseudo_huber
from ..stats import loglog_slope

__all__ = [
    "DecayRule",
    "tilted_pseudo_huber",
    "cauchy_log",
    "log_grid",
    "ascent_direction_rows",
    "SAMRunResult",
    "run_stochastic_sam",
    "theorem2_bound",
    "rederived_bound",
    "loglog_slope",
    "rate_slope",
    "BoundComparison",
    "compare_with_bounds",
    "RateFit",
    "rate_fits",
    "rate_envelope",
    "sam_stationary_point",
    "save_runs",
    "load_runs",
    "landscape_of",
    "recorded_specs",
    "run_spec",
    "record_all",
    "FLOOR_RHOS",
    "RECORD_BATCHES",
]

#: How a step size or radius decays with the step index t: ``c0/sqrt(t)`` (Theorem 2) or constant ``c0``.
#: (Not :data:`samlib.ascent.ValueOrSchedule`, which is a value or a callable ``t -> value``.)
DecayRule = Literal["inv_sqrt", "constant"]


# ----------------------------------------------------------------------------------------
# The ascent step, row by row
# ----------------------------------------------------------------------------------------
def _ascent_points(x: torch.Tensor, g: torch.Tensor, rho: float, out: torch.Tensor,
                   sq: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """``out_i = x_i + rho g_i/||g_i||`` for every row, in place, with ``out_i = x_i`` where ``g_i = 0``.

    The runner's fast kernel of :func:`samlib.ascent.ascent_direction` (one rule: eps_hat(0) = 0), kept
    separate because it works on all replicates at once with preallocated buffers; tested equal to it row by
    row. A zero row has squared norm 0, clamped to the smallest normal float, so the row gets
    ``rho * 0 * finite = 0``; rows whose squared norm is at least that number are exact. (Only rows below it,
    ``||g|| < 1e-19`` in float32, differ: their squared norm underflows, and they move less than ``rho``.)
    """
    torch.mul(g, g, out=sq)
    torch.sum(sq, 1, keepdim=True, out=norms)
    norms.clamp_min_(torch.finfo(norms.dtype).tiny)
    norms.rsqrt_()
    return torch.addcmul(x, g, norms, value=rho, out=out)


def ascent_direction_rows(grads: torch.Tensor, rho: float) -> torch.Tensor:
    """Row-wise :math:`\\hat\\epsilon_i = \\rho\\, g_i/\\lVert g_i\\rVert_2` (zero where :math:`g_i = 0`), in torch.

    The ascent direction of :func:`samlib.ascent.ascent_direction` for a batch of gradients, computed by the
    kernel that :func:`run_stochastic_sam` uses in its inner loop (exposed so that it can be checked against
    :func:`~samlib.ascent.ascent_direction`).

    Parameters
    ----------
    grads : torch.Tensor, shape (n, d), float32 or float64
        One gradient per row.
    rho : float
        Radius :math:`\\rho \\ge 0`.

    Returns
    -------
    torch.Tensor, shape (n, d)

    Examples
    --------
    >>> ascent_direction_rows(torch.tensor([[3.0, 4.0], [0.0, 0.0]]), 0.5)
    tensor([[0.3000, 0.4000],
            [0.0000, 0.0000]])
    """
    if not isinstance(grads, torch.Tensor):
        raise TypeError(f"grads must be a torch.Tensor, got {describe(grads)}")
    if grads.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"grads must be float32 or float64, got {grads.dtype}")
    g = check_finite_array(grads, "grads", ndim=2)
    rho = check_nonnegative(rho, "rho")
    n = g.shape[0]
    return _ascent_points(torch.zeros_like(g), g, rho, torch.empty_like(g), torch.empty_like(g),
                          torch.empty(n, 1, dtype=g.dtype))


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
    x_mean_after : ndarray, shape (m, d), optional
        The mean over replicates of ``x_{T+1}`` (where the iterates concentrate).
    """

    T: np.ndarray
    avg_sq_grad: np.ndarray
    sq_grad_after: np.ndarray
    f_after: np.ndarray
    f_start: float
    params: dict = field(default_factory=dict)
    x_mean_after: np.ndarray | None = None

    @property
    def replicates(self) -> int:
        return self.avg_sq_grad.shape[1]

    def mean_se(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean over replicates and its standard error ``std/sqrt(R)`` for ``(m, R)`` values."""
        r = values.shape[1]
        se = values.std(axis=1, ddof=1) / math.sqrt(r) if r > 1 else np.zeros(values.shape[0])
        return values.mean(axis=1), se

    def batched(self, batches: int) -> "SAMRunResult":
        """The same run with its ``R`` replicate columns replaced by ``batches`` batch means.

        Replicate ``r`` goes to batch ``r // (R / batches)``. The mean over the columns is unchanged and the
        standard error of that mean computed from the batch means is still valid (the replicates are
        independent), so :func:`compare_with_bounds` and the bootstrap of :func:`rate_fits` work on a
        batched run; it is what the recorded runs of ``book/data/convergence`` store.
        ``params["replicates"]`` keeps the number of runs.
        """
        batches = check_int_at_least(batches, 1, "batches")
        r = self.replicates
        if r % batches:
            raise ValueError(f"batches must divide the replicates ({r}), got {batches}")

        def shrink(a: np.ndarray) -> np.ndarray:
            return a.reshape(a.shape[0], batches, r // batches).mean(axis=2)

        return SAMRunResult(T=self.T.copy(), avg_sq_grad=shrink(self.avg_sq_grad),
                            sq_grad_after=shrink(self.sq_grad_after), f_after=shrink(self.f_after),
                            f_start=self.f_start, params={**self.params, "batches": batches},
                            x_mean_after=None if self.x_mean_after is None
                            else self.x_mean_after.copy())


def _decayed(rule: DecayRule, c0: float, t: int) -> float:
    return c0 / math.sqrt(t) if rule == "inv_sqrt" else c0


def run_stochastic_sam(
    fn: Landscape,
    x_start: np.ndarray | float,
    *,
    lr0: float,
    rho0: float,
    sigma: float,
    num_steps: int,
    replicates: int,
    lr_schedule: DecayRule = "inv_sqrt",
    rho_schedule: DecayRule = "inv_sqrt",
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
        x_{t+1} = x_t - lr_t g2

    with ``xi ~ N(0, (sigma^2/d) I_d)`` so that ``E||xi||^2 = sigma^2`` exactly
    (Assumption 2 of the review with equality), drawn independently for ``xi1`` and
    ``xi2`` unless ``shared_noise`` (then ``xi2 = xi1``, the same mini-batch for both
    gradients).  ``lr_t = lr0/sqrt(t)`` or ``lr0`` and likewise ``rho_t``.
    Where ``g1 = 0`` the ascent step is zero (:math:`\\hat\\epsilon(0) = 0`, as in
    :func:`samlib.ascent.ascent_direction`; see :func:`ascent_direction_rows`).

    Parameters
    ----------
    fn : Landscape
        The objective, with torch kernels (``fn.torch_value``, ``fn.torch_grad``), e.g.
        :func:`tilted_pseudo_huber` or :func:`cauchy_log`.
    x_start : array_like, shape (d,) or float
        The start ``x_1`` (a float is broadcast), identical for every replicate.
    lr0, rho0, sigma : float
        Learning rate (> 0; the review's :math:`\\eta_0`), perturbation radius (>= 0) and noise level (>= 0).
    num_steps, replicates : int
        T_max and the number R of independent runs.
    lr_schedule, rho_schedule : {"inv_sqrt", "constant"}
        ``c0/sqrt(t)`` (Theorem 2) or ``c0``.
    grid : array of int, optional
        Values of T at which to record; default :func:`log_grid` of ``num_steps``.
    seed : int
        Seed of the torch generator (results are reproducible for a fixed ``block``).
    dtype : torch.dtype
        ``torch.float32`` (fast) or ``torch.float64``.
    block : int
        Number of steps whose noise is drawn in one ``torch.randn`` call (at most ``num_steps`` are
        drawn at once whatever ``block`` is, so a huge ``block`` costs no memory).
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
    if not isinstance(fn, Landscape) or fn.torch_grad is None or fn.torch_value is None:
        raise ValueError(f"fn must be a Landscape with torch kernels (e.g. tilted_pseudo_huber), got {describe(fn)}")
    lr0 = check_positive(lr0, "lr0")
    rho0 = check_nonnegative(rho0, "rho0")
    sigma = check_nonnegative(sigma, "sigma")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    replicates = check_int_at_least(replicates, 1, "replicates")
    block = check_int_at_least(block, 1, "block")
    seed = check_int_at_least(seed, 0, "seed")
    for name, rule in (("lr_schedule", lr_schedule), ("rho_schedule", rho_schedule)):
        if not isinstance(rule, str) or rule not in ("inv_sqrt", "constant"):
            raise ValueError(f"{name} must be 'inv_sqrt' or 'constant', got {describe(rule)}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    if not isinstance(shared_noise, (bool, np.bool_)):
        raise TypeError(f"shared_noise must be True or False, got {describe(shared_noise)}")
    d = fn.dim
    x_arr = check_finite_array(x_start, "x_start")
    if x_arr.ndim == 0:
        x_arr = np.broadcast_to(x_arr, (d,))
    if x_arr.shape != (d,):
        raise ValueError(f"x_start must be a number or have shape ({d},), got shape {x_arr.shape}")
    if grid is None:
        grid = log_grid(num_steps)
    grid_arr = check_finite_array(grid, "grid", ndim=1)
    if grid_arr.size == 0 or np.any(grid_arr != np.round(grid_arr)) or grid_arr.min() < 1 \
            or grid_arr.max() > num_steps:
        raise ValueError(f"grid must hold integers in [1, num_steps={num_steps}], got {describe(grid)}")
    grid = np.unique(grid_arr.astype(np.int64))

    gen = torch.Generator().manual_seed(seed)
    R = replicates
    x = torch.tensor(x_arr, dtype=dtype).expand(R, d).contiguous()
    f_start = float(fn.torch_value(x[:1])[0])
    gx, gy, g1, y, tmp = (torch.empty_like(x) for _ in range(5))
    nrm = torch.empty(R, 1, dtype=dtype)
    acc_block = torch.zeros_like(x)  # float32-safe: at most `block` terms
    acc_total = torch.zeros(R, dtype=torch.float64)
    n_noise = 1 if shared_noise else 2
    noise = torch.empty(min(block, num_steps), n_noise, R, d, dtype=dtype)  # never more than is drawn
    noise_scale = sigma / math.sqrt(d)
    use_noise = sigma > 0
    use_ascent = rho0 > 0
    grad = fn.torch_grad

    m = grid.size
    avg = np.empty((m, R))
    sq_after = np.empty((m, R))
    f_after = np.empty((m, R))
    x_mean = np.empty((m, d))
    gi = 0
    t = 0
    while t < num_steps:
        nb = min(block, num_steps - t)
        if use_noise:
            torch.randn((nb, n_noise, R, d), generator=gen, dtype=dtype, out=noise[:nb])
        acc_block.zero_()
        for k in range(nb):
            t += 1
            lr = _decayed(lr_schedule, lr0, t)
            grad(x, out=gx, tmp=tmp)
            acc_block.addcmul_(gx, gx)
            if use_ascent:
                rho = _decayed(rho_schedule, rho0, t)
                if use_noise:
                    torch.add(gx, noise[k, 0], alpha=noise_scale, out=g1)
                else:
                    g1.copy_(gx)
                _ascent_points(x, g1, rho, out=y, sq=tmp, norms=nrm)  # y = x + rho g1/||g1||
                grad(y, out=gy, tmp=tmp)
                x.sub_(gy, alpha=lr)
            else:
                x.sub_(gx, alpha=lr)
            if use_noise:
                x.sub_(noise[k, n_noise - 1], alpha=lr * noise_scale)
            if t == grid[gi]:
                s = acc_total + acc_block.sum(1, dtype=torch.float64)
                avg[gi] = (s / t).numpy()
                g_after = grad(x)
                sq_after[gi] = (g_after * g_after).sum(1, dtype=torch.float64).numpy()
                f_after[gi] = fn.torch_value(x.double()).numpy()
                x_mean[gi] = x.double().mean(0).numpy()
                gi = min(gi + 1, m - 1)
        acc_total += acc_block.sum(1, dtype=torch.float64)

    params = dict(function=fn.name, d=d, lr0=lr0, rho0=rho0, sigma=sigma, num_steps=num_steps,
                  replicates=R, lr_schedule=lr_schedule, rho_schedule=rho_schedule,
                  seed=seed, dtype=str(dtype), block=block, shared_noise=shared_noise)
    return SAMRunResult(T=grid, avg_sq_grad=avg, sq_grad_after=sq_after, f_after=f_after,
                        f_start=f_start, params=params, x_mean_after=x_mean)


# ----------------------------------------------------------------------------------------
# Bounds
# ----------------------------------------------------------------------------------------
def _bound_inputs(T: Any, f_start: Any, f_after: Any, lr0: Any, rho0: Any, sigma: Any, G: Any, L: Any
                  ) -> tuple:
    """The checked inputs of the two bounds: T >= 1 (log T), finite values, lr0 > 0, the rest >= 0."""
    T = check_finite_array(T, "T")
    if np.any(T < 1):
        raise ValueError(f"T must be >= 1 (step counts), got min {float(np.min(T))!r}")
    f_start = check_real(f_start, "f_start")
    if not math.isfinite(f_start):
        raise ValueError(f"f_start must be finite, got {f_start!r}")
    f_after = check_finite_array(f_after, "f_after")
    return (T, f_start, f_after, check_positive(lr0, "lr0"), check_nonnegative(rho0, "rho0"),
            check_nonnegative(sigma, "sigma"), check_nonnegative(G, "G"), check_nonnegative(L, "L"))


#: An upper bound of zeta(3/2) = 2.6124.., the sum of t^(-3/2) over t >= 1.
_ZETA_3_2_UPPER = 2.62


def _representable(bound: np.ndarray, which: str) -> np.ndarray:
    if not np.all(np.isfinite(bound)):
        raise ValueError(f"{which} is not representable as a float for these inputs (a tiny lr0 or huge "
                         f"constants): it overflows")
    return bound


def theorem2_bound(T: np.ndarray, f_start: float, f_after: np.ndarray, *, lr0: float,
                   rho0: float, sigma: float, G: float, L: float) -> np.ndarray:
    """Right-hand side of the review's eq. (6), with its constants as stated.

    .. math::

        C_1/\\sqrt T + C_2 \\log T/\\sqrt T,\\quad
        C_1 = \\tfrac{2}{\\eta_0}(f(x_0) - \\mathbb E f(x_T)),\\quad
        C_2 = 2(L\\sigma^2\\eta_0 + LG\\rho_0)

    (review §3.2, Theorem 2, quoting Mi et al. 2022), with :math:`\\eta_0` = ``lr0``.  ``f_after`` is
    ``E f`` after T steps (or per-replicate values: the bound is linear in it, so averaging commutes).

    Raises
    ------
    ValueError
        If ``lr0 <= 0`` (:math:`C_1` divides by it), ``rho0``, ``sigma``, ``G`` or ``L`` is negative, ``T < 1``,
        a value is not finite, or the bound overflows.
    """
    T, f_start, f_after, lr0, rho0, sigma, G, L = _bound_inputs(T, f_start, f_after, lr0, rho0, sigma, G, L)
    with np.errstate(over="ignore", invalid="ignore"):
        c1 = 2.0 / lr0 * (f_start - f_after)
        c2 = 2.0 * (L * sigma**2 * lr0 + L * G * rho0)
        bound = c1 / np.sqrt(T) + c2 * np.log(T) / np.sqrt(T)
    return _representable(bound, "theorem2_bound")


def rederived_bound(T: np.ndarray, f_start: float, f_after: np.ndarray, *, lr0: float,
                    rho0: float, sigma: float, G: float, L: float,
                    shared_noise: bool = False) -> np.ndarray:
    """A bound re-derived under Assumptions 1-3 alone (no condition on lr0 or rho0).

    From L-smoothness, ``E<grad f(x), grad f(y)> >= ||grad f(x)||^2 - L G rho_t`` and
    ``E||g(y)||^2 <= G^2 + sigma^2``:
    ``E f(x_{t+1}) <= E f(x_t) - lr_t E||grad f(x_t)||^2 + L G lr_t rho_t
    + (L/2) lr_t^2 (G^2 + sigma^2)``.  Summing over ``t = 1..T`` with
    ``lr_t = lr0/sqrt t``, ``rho_t = rho0/sqrt t``, ``sum 1/t <= 1 + log T`` and
    ``lr_t >= lr0/sqrt T`` (:math:`\\eta_0` = ``lr0``):

    .. math::

        \\frac1T\\sum_{t=1}^T \\mathbb E\\|\\nabla f(x_t)\\|^2 \\le
        \\frac{f(x_1) - \\mathbb E f(x_{T+1})}{\\eta_0\\sqrt T}
        + \\Bigl(LG\\rho_0 + \\frac{L\\eta_0}{2}(G^2 + \\sigma^2)\\Bigr)\\frac{1 + \\log T}{\\sqrt T}.

    With ``shared_noise`` (one noise sample xi for both gradients of a step, as with one mini-batch) the
    descent gradient ``grad f(y) + xi`` is no longer independent of ``y``: the cross term
    ``2 E<grad f(y), xi> = 2 E<grad f(y) - grad f(x), xi> <= 2 L rho_t sigma`` enters
    ``E||g(y)||^2``, and summing ``L^2 lr_t^2 rho_t sigma = L^2 lr0^2 rho0 sigma t^(-3/2)`` with
    ``sum_t t^(-3/2) <= zeta(3/2) < 2.62`` adds ``2.62 L^2 lr0 rho0 sigma / sqrt(T)`` to the bound.
    (The first-order term is unchanged: ``E<grad f(x_t), xi> = 0`` whatever ``y`` is.)

    Raises
    ------
    ValueError
        As :func:`theorem2_bound`.
    """
    T, f_start, f_after, lr0, rho0, sigma, G, L = _bound_inputs(T, f_start, f_after, lr0, rho0, sigma, G, L)
    with np.errstate(over="ignore", invalid="ignore"):
        c1 = (f_start - f_after) / lr0
        c2 = L * G * rho0 + 0.5 * L * lr0 * (G**2 + sigma**2)
        bound = c1 / np.sqrt(T) + c2 * (1 + np.log(T)) / np.sqrt(T)
        if shared_noise:
            bound = bound + _ZETA_3_2_UPPER * L**2 * lr0 * rho0 * sigma / np.sqrt(T)
    return _representable(bound, "rederived_bound")


# ----------------------------------------------------------------------------------------
# Rate
# ----------------------------------------------------------------------------------------
def rate_slope(T: np.ndarray, rate, *, t_min: float = 1.0) -> float:
    r"""Least-squares slope of ``log rate(T)`` against ``log T`` on the grid points ``T >= t_min``.

    This is the slope that a curve decaying *exactly* like ``rate`` gets when it is fitted
    the way :func:`samlib.stats.loglog_slope` fits a measurement, on the same grid. A measured slope is
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
    if not callable(rate):
        raise TypeError(f"rate must be callable, got {describe(rate)}")
    keep = T >= check_real(t_min, "t_min")
    if keep.sum() < 2:
        raise ValueError(f"need at least two grid points with T >= t_min={t_min!r}")
    values = np.asarray(rate(T[keep]), dtype=float)
    if values.shape != T[keep].shape or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError("rate(T) must be positive and finite on the fitted grid points")
    return loglog_slope(T[keep], values)


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


def compare_with_bounds(res: SAMRunResult, fn: Landscape, *, z: float = 3.0) -> BoundComparison:
    """Evaluate :func:`theorem2_bound` and :func:`rederived_bound` for a run, per replicate.

    The constants are taken from ``res.params`` (``lr0, rho0, sigma``, and ``shared_noise`` for the
    re-derived bound) and ``fn`` (``G, L``) whatever the schedules of the run, so for runs outside the theorem's
    conditions the bounds are "what the formula would give".
    """
    z = check_positive(z, "z")
    if not isinstance(fn, Landscape) or fn.G is None or fn.L is None:
        raise ValueError(f"fn must be a Landscape with known constants G and L, got {describe(fn)}")
    p = res.params
    kw = dict(lr0=p["lr0"], rho0=p["rho0"], sigma=p["sigma"], G=fn.G, L=fn.L)
    T = res.T[:, None]
    lhs = res.avg_sq_grad
    literal = (lhs * T + res.sq_grad_after) / T
    stated = theorem2_bound(T, res.f_start, res.f_after, **kw)
    rederived = rederived_bound(T, res.f_start, res.f_after, **kw,
                                shared_noise=bool(p.get("shared_noise", False)))
    m, se = res.mean_se(lhs)
    sm, sse = res.mean_se(stated - lhs)
    lm, lse = res.mean_se(stated - literal)
    rm, rse = res.mean_se(rederived - lhs)
    return BoundComparison(T=res.T, measured=m, measured_se=se, measured_literal=literal.mean(1),
                           stated=stated.mean(1), rederived=rederived.mean(1),
                           stated_margin=sm, stated_margin_se=sse, literal_margin=lm,
                           literal_margin_se=lse, rederived_margin=rm, rederived_margin_se=rse, z=z)


# ----------------------------------------------------------------------------------------
# The rate, tested with its log factor, and how much the test depends on our choices
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateFit:
    """The decay of one run's mean curve on one window ``lo <= T <= hi``.

    ``slope`` is the log-log slope k of ``y ~ a T^k``; ``log_exponent`` is the exponent b of
    ``y ~ a T^b log T`` (the slope of ``log(y / log T)``). On the same points ``b = k - r - 1/2``,
    where ``r`` (``reference``) is the slope that ``log T / sqrt T`` itself has there
    (``-1/2 + 1/log T`` locally), so ``b <= -1/2`` and ``k <= r`` say the same thing: the curve decays
    at least as fast as ``log T / sqrt T``. A pure ``T^(-1/2)`` gives ``b = -1/2 - 1/log T < -1/2``.
    ``*_low, *_high``: percentile bootstrap interval over the run's replicate (or batch) columns.
    """

    run: str
    lo: int
    hi: int
    points: int
    slope: float
    slope_low: float
    slope_high: float
    log_exponent: float
    log_exponent_low: float
    log_exponent_high: float
    reference: float


def rate_fits(runs: dict[str, SAMRunResult], windows, *, n_boot: int = 400, seed: int = 0,
              level: float = 0.95) -> list[RateFit]:
    """Fit ``a T^k`` and ``a T^b log T`` to every run's mean curve on every window.

    Parameters
    ----------
    runs : dict of str to SAMRunResult
        Runs with at least two replicate (or batch) columns, for the bootstrap.
    windows : sequence of (lo, hi)
        Fitting windows in T, ``1 < lo < hi``; each must hold at least three grid points.
    n_boot, seed, level
        As in :func:`samlib.stats.loglog_slope` (the same resampled columns serve both fits).

    Returns
    -------
    list of RateFit
        One per run and window, in that order.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError(f"runs must be a non-empty dict of SAMRunResult, got {describe(runs)}")
    wins = [(int(lo), int(hi)) for lo, hi in windows]
    if not wins or any(not 1 < lo < hi for lo, hi in wins):
        raise ValueError(f"windows must be pairs 1 < lo < hi, got {describe(windows)}")
    out = []
    for name, res in runs.items():
        if not isinstance(res, SAMRunResult) or res.replicates < 2:
            raise ValueError(f"runs[{name!r}] must be a SAMRunResult with >= 2 columns")
        for lo, hi in wins:
            keep = (res.T >= lo) & (res.T <= hi)
            if keep.sum() < 3:
                raise ValueError(f"window ({lo}, {hi}) holds fewer than 3 grid points of {name!r}")
            t = res.T[keep].astype(float)
            y = res.avg_sq_grad[keep]
            k = loglog_slope(t, y, n_boot=n_boot, seed=seed, level=level)
            b = loglog_slope(t, y / np.log(t)[:, None], n_boot=n_boot, seed=seed, level=level)
            ref = loglog_slope(t, np.log(t) / np.sqrt(t))
            out.append(RateFit(name, lo, hi, int(keep.sum()), k.slope, k.low, k.high,
                               b.slope, b.low, b.high, ref))
    return out


def rate_envelope(fits: list[RateFit]) -> tuple[float, float]:
    """``(min of the lower ends, max of the upper ends)`` of the ``log_exponent`` intervals of ``fits``.

    The union of the Monte-Carlo intervals over every window and run: the range of exponents b that the
    fit could have reported under any of these choices. It is a sensitivity range, not a confidence
    interval with a stated coverage.
    """
    if not fits:
        raise ValueError("fits must not be empty")
    return (min(f.log_exponent_low for f in fits), max(f.log_exponent_high for f in fits))


# ----------------------------------------------------------------------------------------
# The constant-rho floor: a mechanism that predicts its level
# ----------------------------------------------------------------------------------------
def sam_stationary_point(fn: Landscape, rho: float, sigma: float, *, samples: int = 100_000,
                         seed: int = 0, bracket: float = 5.0) -> tuple[float, float]:
    """Where stochastic SAM with a constant radius stalls on a separable landscape: the predicted floor.

    With decaying steps the iterates settle where the *expected* SAM step vanishes,

    .. math::

        \\mathbb E_\\xi\\, \\nabla f\\bigl(x + \\rho\\, (\\nabla f(x) + \\xi)/\\|\\nabla f(x) + \\xi\\|\\bigr) = 0,
        \\qquad \\xi \\sim \\mathcal N(0, \\tfrac{\\sigma^2}{d} I_d),

    i.e. where the gradient of :math:`f` averaged over the (noisy) ascent points is zero, not where
    :math:`\\nabla f` is. When the noise dominates, the ascent direction is nearly uniform on the sphere
    and this average is the gradient of :math:`f` smoothed over the sphere of radius :math:`\\rho`, whose
    zero moves away from the minimiser of :math:`f` when :math:`f` is asymmetric (for an even
    :math:`h` it stays at 0). For :math:`f(x) = \\sum_i h(x_i)`, by the symmetry of the coordinates the
    point is :math:`s^*\\mathbf 1`; it is found by bisection on :math:`s` with one fixed sample of
    :math:`\\xi` (common random numbers make the Monte-Carlo average a smooth function of :math:`s`), and
    the predicted floor is :math:`\\|\\nabla f(s^*\\mathbf 1)\\|^2 = d\\,h'(s^*)^2`.

    Parameters
    ----------
    fn : Landscape
        Separable, with a torch gradient, its minimiser on the diagonal and a root of the averaged
        gradient within ``bracket`` of it (e.g. :func:`tilted_pseudo_huber`).
    rho, sigma : float
        Constant radius (``> 0``) and noise level (``> 0``; without noise the ascent direction is
        :math:`\\pm\\mathbf 1/\\sqrt d` and the averaged gradient jumps across the minimiser instead of
        vanishing elsewhere, so there is no displaced stationary point).
    samples, seed : int
        Monte-Carlo sample of :math:`\\xi` (used with its mirror image, ``2 * samples`` points).

    Returns
    -------
    (s_star, level) : tuple of float
    """
    from scipy.optimize import brentq

    if not isinstance(fn, Landscape) or fn.torch_grad is None or not fn.minima:
        raise ValueError(f"fn must be a Landscape with a torch gradient and a minimiser, got {describe(fn)}")
    rho = check_positive(rho, "rho")
    sigma = check_positive(sigma, "sigma")
    samples = check_int_at_least(samples, 1, "samples")
    d = fn.dim
    gen = torch.Generator().manual_seed(check_int_at_least(seed, 0, "seed"))
    xi = torch.randn(samples, d, generator=gen, dtype=torch.float64) * (sigma / math.sqrt(d))
    xi = torch.cat([xi, -xi])  # antithetic pairs: for an even h the average is exactly odd in s

    def mean_step(s: float) -> float:
        x = torch.full((1, d), s, dtype=torch.float64)
        g = fn.torch_grad(x) + xi
        y = x + rho * g / g.norm(dim=1, keepdim=True)
        return float(fn.torch_grad(y).sum(1).mean())  # the diagonal component, times sqrt(d)

    x0 = float(np.asarray(fn.minima[0]).ravel()[0])
    s_star = brentq(mean_step, x0 - bracket, x0 + bracket, xtol=1e-12)
    g = fn.torch_grad(torch.full((1, d), s_star, dtype=torch.float64))
    return float(s_star), float((g * g).sum())


# ----------------------------------------------------------------------------------------
# Recorded runs (book/data/convergence): long runs stored as batch means, replayed in part
# ----------------------------------------------------------------------------------------
def save_runs(path, runs: dict[str, SAMRunResult]) -> None:
    """Store runs in one compressed ``.npz`` (arrays per run, parameters as JSON)."""
    import json

    arrays = {}
    for k, (name, res) in enumerate(runs.items()):
        arrays[f"{k}.T"] = res.T
        arrays[f"{k}.avg_sq_grad"] = res.avg_sq_grad
        arrays[f"{k}.sq_grad_after"] = res.sq_grad_after
        arrays[f"{k}.f_after"] = res.f_after
        if res.x_mean_after is not None:
            arrays[f"{k}.x_mean_after"] = res.x_mean_after
    meta = [dict(name=name, f_start=res.f_start, params=res.params) for name, res in runs.items()]
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


def load_runs(path) -> dict[str, SAMRunResult]:
    """Read runs written by :func:`save_runs`."""
    import json

    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        out = {}
        for k, m in enumerate(meta):
            x_mean = z[f"{k}.x_mean_after"] if f"{k}.x_mean_after" in z else None
            out[m["name"]] = SAMRunResult(T=z[f"{k}.T"], avg_sq_grad=z[f"{k}.avg_sq_grad"],
                                          sq_grad_after=z[f"{k}.sq_grad_after"],
                                          f_after=z[f"{k}.f_after"], f_start=m["f_start"],
                                          params=m["params"], x_mean_after=x_mean)
    return out


def landscape_of(spec: dict) -> Landscape:
    """The landscape of an entry of :func:`recorded_specs`."""
    if spec["function"] == "tilted_pseudo_huber":
        return tilted_pseudo_huber(spec["d"], c=spec["c"])
    if spec["function"] == "cauchy_log":
        return cauchy_log(spec["d"])
    raise ValueError(f"unknown function {spec['function']!r}")


def recorded_specs() -> dict[str, dict]:
    """The recorded runs of ``book/data/convergence/runs.npz``: name -> landscape, start and run arguments.

    Four groups: ``main/*`` (the chapter's main runs), ``noise/*`` (started at the minimiser, where the
    noise sets the gradient: the rate test across landscapes), ``shared/*`` (one noise sample for both
    gradients of a step) and ``floor/*`` (constant radius rho, decaying step, stochastic and
    deterministic).
    """
    main = dict(lr0=0.5, rho0=0.2, sigma=1.0)
    big = dict(num_steps=100_000, replicates=1000)
    lands = {
        "pseudo-Huber c=0.5 d=10": dict(function="tilted_pseudo_huber", d=10, c=0.5),
        "pseudo-Huber c=0.8 d=10": dict(function="tilted_pseudo_huber", d=10, c=0.8),
        "pseudo-Huber c=0.5 d=3": dict(function="tilted_pseudo_huber", d=3, c=0.5),
        "Cauchy d=10": dict(function="cauchy_log", d=10),
    }
    specs = {}
    for k, (name, land) in enumerate(lands.items()):
        specs[f"noise/{name}"] = dict(land=land, start="minimiser",
                                      run=dict(**main, **big, seed=8 + 100 * k))
    huber = lands["pseudo-Huber c=0.5 d=10"]
    cauchy = lands["Cauchy d=10"]
    specs["main/tilted pseudo-Huber"] = dict(land=huber, start=2.0, run=dict(**main, **big, seed=7))
    specs["main/Cauchy log"] = dict(land=cauchy, start=3.0, run=dict(**main, **big, seed=7))
    shared = dict(shared_noise=True)
    specs["shared/main, pseudo-Huber"] = dict(land=huber, start=2.0, run=dict(**main, **big, seed=7, **shared))
    specs["shared/main, Cauchy"] = dict(land=cauchy, start=3.0, run=dict(**main, **big, seed=7, **shared))
    specs["shared/at the minimiser, pseudo-Huber"] = dict(land=huber, start="minimiser",
                                                           run=dict(**main, **big, seed=8, **shared))
    for k, (name, land) in enumerate((("pseudo-Huber", huber), ("Cauchy", cauchy))):
        specs[f"shared/eta0 = 20, {name}"] = dict(
            land=land, start=0.5, run=dict(lr0=20.0, rho0=0.1, sigma=0.1, num_steps=20_000,
                                           replicates=200, seed=24 + k, **shared))
    lands_floor = {"pseudo-Huber": huber,
                   "symmetric pseudo-Huber": dict(function="tilted_pseudo_huber", d=10, c=0.0),
                   "Cauchy": cauchy}
    for name, land in lands_floor.items():
        for j, rho in enumerate(FLOOR_RHOS):
            # deterministic runs converge fast (no noise): 2e4 steps show it
            for sigma, reps, steps, kind in ((1.0, 200, 50_000, "stochastic"),
                                             (0.0, 1, 20_000, "deterministic")):
                specs[f"floor/{kind}, {name}, rho={rho:g}"] = dict(
                    land=land, start=2.0 if name != "Cauchy" else 3.0,
                    run=dict(lr0=0.5, rho0=rho, sigma=sigma, num_steps=steps, replicates=reps,
                             seed=300 + j, rho_schedule="constant"))
    return specs


#: Constant radii of the floor study.
FLOOR_RHOS = (0.25, 0.5, 1.0, 2.0, 4.0)

#: Batches the recorded runs keep (replicates are averaged in groups): 40 for the rate runs, 20 for the
#: floor runs (a single deterministic replicate is kept as it is).
RECORD_BATCHES = {"main": 40, "noise": 40, "shared": 40, "floor": 20}


def run_spec(spec: dict, *, num_steps: int | None = None, grid: np.ndarray | None = None) -> SAMRunResult:
    """Run one entry of :func:`recorded_specs` (optionally only its first ``num_steps`` steps).

    The noise is drawn in blocks of steps, so the first ``num_steps`` steps of the full run are
    reproduced exactly by a shorter run with the same arguments: that is how the notebook replays a
    sample of a recorded run.
    """
    fn = landscape_of(spec["land"])
    start = spec["start"]
    if start == "minimiser":
        start = np.asarray(fn.minima[0], dtype=float)
    kw = dict(spec["run"])
    if num_steps is not None:
        kw["num_steps"] = num_steps
    return run_stochastic_sam(fn, start, grid=grid, **kw)


def record_all(path, *, names=None) -> dict[str, SAMRunResult]:
    """Run every recorded spec (or only ``names``), batch it and save it to ``path`` (:func:`save_runs`).

    With ``names`` the other runs already in ``path`` are kept.
    """
    import pathlib

    specs = recorded_specs()
    runs = load_runs(path) if names and pathlib.Path(path).exists() else {}
    for name in names or specs:
        res = run_spec(specs[name])
        b = RECORD_BATCHES[name.split("/")[0]]
        runs[name] = res.batched(b) if res.replicates > 1 else res
        print(f"recorded {name}", flush=True)
    save_runs(path, runs)
    return runs


if __name__ == "__main__":  # python -m samlib.studies.convergence PATH.npz [NAME ...]
    import sys

    torch.set_num_threads(1)
    record_all(sys.argv[1], names=sys.argv[2:] or None)
