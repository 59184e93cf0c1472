"""Where deterministic SAM and GD end: batched runs, basin sweeps, fixed points and two-cycles.

:func:`samlib.ascent.run_trajectory` follows one start; here many runs advance together as one numpy array,
so a sweep over starting points x learning rates x radii costs one vectorised loop over the steps instead of a
Python loop per run. The update is eq. 3 of the review (Liu, Chen & Shi 2022), the SAM step of Foret et al.
(2021) with the Euclidean ascent direction and learning rate :math:`\\eta` (``lr`` in the code),

.. math::

    \\theta_{t+1} = \\theta_t - \\eta\\,\\nabla f\\bigl(\\theta_t + \\rho\\,\\nabla f(\\theta_t)/\\lVert\\nabla f(\\theta_t)\\rVert\\bigr),

with the same zero-gradient convention as :mod:`samlib.ascent` (:math:`\\hat\\epsilon = 0` where
:math:`\\nabla f(\\theta_t) = 0`); ``rho = 0`` is gradient descent (eq. 4). The ascent direction is computed row
by row by :func:`batch_ascent_direction`, a vectorised kernel of :func:`samlib.ascent.ascent_direction`
(tested equal to it row by row).

For the quadratic :math:`\\tfrac12\\theta^T A\\theta` with :math:`0 < \\eta\\lambda_1 < 2`, Bartlett, Long &
Bousquet (2023, Theorem 1) show that SAM ends in a two-cycle along the top eigenvector :math:`v_1` with
amplitude :math:`\\eta\\rho\\lambda_1/(2-\\eta\\lambda_1)`; :func:`quadratic_two_cycle_amplitude` gives it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.optimize import brentq

from samlib import landscapes
from samlib.landscapes import Landscape
from samlib.sweeps import run_sweep
from samlib._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "BatchRun",
    "batch_ascent_direction",
    "run_batch",
    "sweep_endpoints",
    "classify_endpoints",
    "sam_fixed_points_1d",
    "quadratic_two_cycle_amplitude",
    "sam_two_cycle_1d",
    "BASIN_LABELS",
    "classify_basins_1d",
    "gd_confinement_lr",
    "quadratic_wells_1d",
    "figure1_sweep_run",
    "figure1_sweep_configs",
    "FIGURE1_GRIDS",
]

GradFn = Callable[[np.ndarray], np.ndarray]


def batch_ascent_direction(grads: Any, rho: Any) -> np.ndarray:
    """Row-wise Euclidean ascent direction :math:`\\rho_i\\, g_i/\\lVert g_i\\rVert` (zero where :math:`g_i = 0`).

    Parameters
    ----------
    grads : array_like, shape (n, d)
        One gradient per row.
    rho : float or array_like, shape (n,)
        Radii :math:`\\rho_i \\ge 0`, one per row or shared.

    Returns
    -------
    numpy.ndarray, shape (n, d)
        The maximiser of :math:`\\epsilon^T g_i` over :math:`\\lVert\\epsilon\\rVert_2 \\le \\rho_i` (review,
        Example 1); a zero row gives a zero row, as in :func:`samlib.ascent.ascent_direction`.

    Raises
    ------
    ValueError
        If ``grads`` is not a finite 2D array or a radius is negative or not finite.
    """
    g = check_finite_array(grads, "grads", ndim=2)
    r = _per_row(rho, g.shape[0], "rho")
    return _ascent_unchecked(g, r)


def _per_row(value: Any, n: int, name: str) -> np.ndarray:
    """``value`` as a float array of shape (n,), checked finite and >= 0."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        check_nonnegative(float(arr), name)
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a number or have shape ({n},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got min {np.nanmin(arr)!r}")
    return arr


@dataclass(frozen=True)
class BatchRun:
    """End of a batch of SAM/GD runs.

    Attributes
    ----------
    final : numpy.ndarray, shape (n, d)
        :math:`\\theta_T` of each run (``nan`` rows for runs that diverged).
    previous : numpy.ndarray, shape (n, d)
        :math:`\\theta_{T-1}`: with ``final`` it tells a fixed point from a two-cycle.
    before_previous : numpy.ndarray, shape (n, d)
        :math:`\\theta_{T-2}`.
    diverged : numpy.ndarray of bool, shape (n,)
        Runs whose iterate left the finite numbers (or exceeded ``blowup``).
    """

    final: np.ndarray
    previous: np.ndarray
    before_previous: np.ndarray
    diverged: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        """Mean of the last two iterates: the centre of a two-cycle, or the fixed point itself."""
        return 0.5 * (self.final + self.previous)

    @property
    def step_size(self) -> np.ndarray:
        """:math:`\\lVert\\theta_T - \\theta_{T-1}\\rVert`, shape (n,)."""
        return np.linalg.norm(self.final - self.previous, axis=1)

    @property
    def period_two_gap(self) -> np.ndarray:
        """:math:`\\lVert\\theta_T - \\theta_{T-2}\\rVert`, shape (n,): zero for a two-cycle (and a fixed point)."""
        return np.linalg.norm(self.final - self.before_previous, axis=1)


def run_batch(
    grad_f: GradFn,
    theta0: Any,
    lr: Any,
    rho: Any,
    num_steps: int,
    blowup: float = 1e8,
) -> BatchRun:
    """Run ``num_steps`` SAM steps (eq. 3; ``rho = 0`` is GD) for many starts at once.

    Parameters
    ----------
    grad_f : callable
        ``grad_f(theta)`` for ``theta`` of shape (n, d) returns the gradients, shape (n, d) (the landscapes of
        :mod:`samlib.landscapes` accept such batches).
    theta0 : array_like, shape (n, d)
        Starts, one per row.
    lr, rho : float or array_like, shape (n,)
        Learning rate :math:`\\eta` and radius, shared or one per run (so a grid of settings is one batch).
    num_steps : int
        Number of steps, ``>= 2``.
    blowup : float, default 1e8
        Runs whose coordinates exceed this in absolute value are frozen and flagged ``diverged``.

    Returns
    -------
    BatchRun

    Raises
    ------
    ValueError
        On a non-finite or non-2D ``theta0``, negative or non-finite ``lr``/``rho``, ``num_steps < 2``, or a
        ``grad_f`` that returns the wrong shape.
    """
    theta = np.array(check_finite_array(theta0, "theta0", ndim=2), dtype=float)
    n = theta.shape[0]
    lr_r = _per_row(lr, n, "lr")[:, None]
    rho_r = _per_row(rho, n, "rho")
    num_steps = check_int_at_least(num_steps, 2, "num_steps")
    blowup = check_positive(blowup, "blowup")
    diverged = np.zeros(n, dtype=bool)
    history = [theta.copy(), theta.copy(), theta.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_steps):
            g = _grad(grad_f, theta)
            diverged |= ~np.all(np.isfinite(g), axis=1)
            g[diverged] = 0.0  # frozen runs: keep every array finite (landscapes reject nan input)
            eps = _ascent_unchecked(g, rho_r)
            moved = (eps != 0).any(axis=1)
            g_sam = g.copy()
            if moved.any():
                # Where eps = 0 (GD, or a zero gradient) reuse g, as samlib.ascent.sam_step does.
                g_sam[moved] = _grad(grad_f, theta[moved] + eps[moved])
            new = theta - lr_r * g_sam
            diverged |= ~np.all(np.isfinite(new) & (np.abs(new) < blowup), axis=1)
            new[diverged] = theta[diverged]
            theta = new
            history = [history[1], history[2], theta]
    for h in history:
        h[diverged] = np.nan
    return BatchRun(final=history[2], previous=history[1], before_previous=history[0], diverged=diverged)


def _grad(grad_f: GradFn, theta: np.ndarray) -> np.ndarray:
    g = np.asarray(grad_f(theta), dtype=float)
    if g.shape != theta.shape:
        raise ValueError(f"grad_f returned shape {g.shape}, expected {theta.shape}")
    return g


def _ascent_unchecked(g: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """:func:`batch_ascent_direction` without input checks (inner loop; nan rows stay nan)."""
    # Rescale each row by its largest entry first, so tiny gradients do not underflow in the squared norm
    # (the same trick as samlib.ascent.ascent_direction); a zero row gets a zero perturbation, never nan.
    peak = np.max(np.abs(g), axis=1, keepdims=True)
    a = np.divide(g, peak, out=np.zeros_like(g), where=peak > 0)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    scale = np.divide(rho, norms, out=np.zeros_like(norms), where=norms > 0)
    return a * scale[:, None]


def sweep_endpoints(
    grad_f: GradFn,
    starts: Any,
    lrs: Any,
    rhos: Any,
    num_steps: int | Callable[[float], int],
    blowup: float = 1e8,
) -> BatchRun:
    """End points of SAM for every start x learning rate x radius.

    Parameters
    ----------
    grad_f : callable
        Batched gradient, as in :func:`run_batch`.
    starts : array_like, shape (m, d)
        Starting points.
    lrs, rhos : array_like, shapes (a,) and (b,)
        Grids of learning rates and radii (``rho = 0`` is GD).
    num_steps : int or callable
        Number of steps, or a function ``lr -> num_steps`` (so small learning rates get more steps; runs with
        the same ``lr`` are batched together).
    blowup : float
        As in :func:`run_batch`.

    Returns
    -------
    BatchRun
        Arrays of shape (a, b, m, d) (``diverged``: (a, b, m)).
    """
    X = np.array(check_finite_array(starts, "starts", ndim=2), dtype=float)
    lrs = check_finite_array(lrs, "lrs", ndim=1)
    rhos = check_finite_array(rhos, "rhos", ndim=1)
    m, d = X.shape
    a, b = len(lrs), len(rhos)
    out = {k: np.full((a, b, m, d), np.nan) for k in ("final", "previous", "before_previous")}
    div = np.zeros((a, b, m), dtype=bool)
    for i, lr in enumerate(lrs):
        steps = num_steps(float(lr)) if callable(num_steps) else num_steps
        theta0 = np.tile(X, (b, 1))
        rho_rows = np.repeat(rhos, m)
        run = run_batch(grad_f, theta0, float(lr), rho_rows, steps, blowup=blowup)
        for k in out:
            out[k][i] = getattr(run, k).reshape(b, m, d)
        div[i] = run.diverged.reshape(b, m)
    return BatchRun(final=out["final"], previous=out["previous"], before_previous=out["before_previous"],
                    diverged=div)


def classify_endpoints(centres: Any, targets: dict[str, Any], tol: float) -> np.ndarray:
    """Label each end point by the target it lies within ``tol`` of (Euclidean), else ``"elsewhere"``.

    Parameters
    ----------
    centres : array_like, shape (..., d)
        End points (e.g. :attr:`BatchRun.centre`); ``nan`` rows are labelled ``"diverged"``.
    targets : dict of str to array_like of shape (d,)
        Named points, e.g. ``{"sharp": [0.0], "flat": [1.0]}``; they must be more than ``2 tol`` apart.
    tol : float
        Radius of each target's neighbourhood, ``> 0``.

    Returns
    -------
    numpy.ndarray of str, shape (...)
    """
    tol = check_positive(tol, "tol")
    c = np.asarray(centres, dtype=float)
    if not targets:
        raise ValueError("targets must name at least one point")
    labels = np.full(c.shape[:-1], "elsewhere", dtype=object)
    pts = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in targets.items()}
    for k, p in pts.items():
        if p.shape != (c.shape[-1],):
            raise ValueError(f"target {k!r} has shape {p.shape}, expected ({c.shape[-1]},)")
    names = list(pts)
    for i, ki in enumerate(names):
        for kj in names[i + 1:]:
            if np.linalg.norm(pts[ki] - pts[kj]) <= 2 * tol:
                raise ValueError(f"targets {ki!r} and {kj!r} are within 2 tol = {2 * tol} of each other")
    for k, p in pts.items():
        labels[np.linalg.norm(c - p, axis=-1) < tol] = k
    labels[~np.all(np.isfinite(c), axis=-1)] = "diverged"
    return labels.astype(str)


def sam_fixed_points_1d(
    grad_f: Callable[[np.ndarray], np.ndarray],
    rho: float,
    lo: float,
    hi: float,
    num_grid: int = 20001,
) -> np.ndarray:
    """The points of ``[lo, hi]`` where the 1D SAM step does not move: :math:`f'(x + \\rho\\,\\mathrm{sign} f'(x)) = 0`.

    In 1D the ascent direction is :math:`\\rho\\,\\mathrm{sign} f'(x)`, so a fixed point with
    :math:`f'(x) \\ne 0` is a point at distance :math:`\\rho` from a critical point :math:`c` of :math:`f` with
    :math:`\\mathrm{sign} f'(c - s\\rho) = s`: the ascent step lands exactly on :math:`c`. We locate the critical
    points by sign changes of :math:`f'` on a grid refined with :func:`scipy.optimize.brentq` and keep the
    candidates :math:`c \\mp \\rho` that pass the sign test. Critical points themselves are fixed points only
    through the zero-gradient convention (:math:`\\hat\\epsilon = 0`) and are not returned.

    Parameters
    ----------
    grad_f : callable
        :math:`f'` on an array of shape (n,) (or (n, 1)), vectorised.
    rho : float
        Radius ``> 0``.
    lo, hi : float
        Search interval for the critical points, ``lo < hi``.
    num_grid : int
        Grid size for bracketing the critical points.

    Returns
    -------
    numpy.ndarray, shape (k, 2)
        Rows ``(x, c)``: the fixed point and the critical point its ascent step lands on, sorted by ``x``.
    """
    rho = check_positive(rho, "rho")
    lo = float(check_finite_array(lo, "lo"))
    hi = float(check_finite_array(hi, "hi"))
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo!r}, hi={hi!r}")
    num_grid = check_int_at_least(num_grid, 3, "num_grid")

    def fp(x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.asarray(grad_f(x.reshape(-1, 1)), dtype=float).reshape(x.shape)

    grid = np.linspace(lo, hi, num_grid)
    vals = fp(grid)
    crit = list(grid[vals == 0])
    for i in np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]:
        crit.append(brentq(lambda t: float(fp(t)), grid[i], grid[i + 1], xtol=1e-14))
    rows = []
    for c in sorted(crit):
        for s in (1.0, -1.0):
            x = c - s * rho  # ascent step +s*rho lands on c
            if np.sign(fp(x)) == s:
                rows.append((x, c))
    return np.array(sorted(rows), dtype=float).reshape(-1, 2)


def quadratic_two_cycle_amplitude(lr: Any, rho: Any, lam: Any) -> np.ndarray:
    """Amplitude :math:`\\eta\\rho\\lambda/(2-\\eta\\lambda)` of SAM's two-cycle on :math:`\\tfrac12\\lambda x^2`.

    The learning rate :math:`\\eta` is ``lr``.

    Bartlett, Long & Bousquet (2023): on :math:`\\tfrac12\\theta^TA\\theta` SAM with constant :math:`\\eta, \\rho`
    and :math:`0 < \\eta\\lambda_1 < 2` converges (for almost every start) to the cycle
    :math:`\\pm a v_1` with this amplitude :math:`a` for :math:`\\lambda = \\lambda_1`. In 1D it follows from
    :math:`x' = x - \\eta\\lambda(x + \\rho)` with :math:`x' = -x` for :math:`x > 0`.

    Raises
    ------
    ValueError
        Unless :math:`\\eta, \\rho \\ge 0`, :math:`\\lambda > 0` and :math:`0 < \\eta\\lambda < 2`.
    """
    lr = check_finite_array(lr, "lr")
    rho = check_finite_array(rho, "rho")
    lam = check_finite_array(lam, "lam")
    for name, v in (("lr", lr), ("rho", rho)):
        if np.any(v < 0):
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    if np.any(lam <= 0):
        raise ValueError(f"lam must be > 0, got {lam!r}")
    if np.any(lr * lam >= 2) or np.any(lr * lam <= 0):
        raise ValueError(f"need 0 < lr * lam < 2, got lr * lam = {lr * lam!r}")
    return lr * rho * lam / (2 - lr * lam)


def sam_two_cycle_1d(grad_f: GradFn, lr: float, rho: float, minimum: float, curvature: float) -> np.ndarray:
    """The two-cycle of 1D SAM around a minimum of a function that is not quadratic.

    The SAM map is :math:`T(x) = x - \\eta f'(x + \\rho\\,\\mathrm{sign} f'(x))`. Near a minimum
    :math:`m` with :math:`f''(m) = \\lambda` the quadratic model gives the cycle :math:`m \\pm a` with
    :math:`a = \\eta\\rho\\lambda/(2-\\eta\\lambda)` (:func:`quadratic_two_cycle_amplitude`); for the true
    :math:`f` we solve :math:`T(T(x)) = x` with :func:`scipy.optimize.brentq` for :math:`x` in
    :math:`[m - 3a, m - a/3]` (left of the minimum, where the cycle's left point lies).

    Parameters
    ----------
    grad_f : callable
        Batched :math:`f'` on arrays of shape (n, 1).
    lr, rho : float
        :math:`\\eta > 0` and :math:`\\rho > 0`.
    minimum, curvature : float
        :math:`m` and :math:`\\lambda = f''(m)`, with :math:`0 < \\eta\\lambda < 2`.

    Returns
    -------
    numpy.ndarray, shape (2,)
        The two points of the cycle, left one first.

    Raises
    ------
    ValueError
        If :math:`T(T(x)) - x` does not change sign on the bracket (no cycle near the quadratic one).
    """
    lr, rho = check_positive(lr, "lr"), check_positive(rho, "rho")
    m = float(check_finite_array(minimum, "minimum"))
    a = float(quadratic_two_cycle_amplitude(lr, rho, curvature))

    def T(x: float) -> float:
        p = np.array([[x]])
        q = p + _ascent_unchecked(_grad(grad_f, p), np.array([rho]))
        return float(x - lr * _grad(grad_f, q)[0, 0])

    lo, hi = m - 3 * a, m - a / 3
    h_lo, h_hi = T(T(lo)) - lo, T(T(hi)) - hi
    if not h_lo * h_hi < 0:
        raise ValueError(f"no two-cycle bracketed in [{lo!r}, {hi!r}] (T(T(x)) - x = {h_lo!r}, {h_hi!r})")
    x0 = brentq(lambda x: T(T(x)) - x, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return np.array([x0, T(x0)])


#: Labels of :func:`classify_basins_1d`, in the order of their integer codes.
BASIN_LABELS = ("sharp", "ghost", "flat", "mixed", "diverged")


def classify_basins_1d(grad_f: GradFn, run: BatchRun, rho: Any, boundary: float) -> np.ndarray:
    """Label the end of each 1D run by the basin its last three iterates and their ascent points lie in.

    The line is split at ``boundary`` (the rim of the sharp well, a local maximum of :math:`f`) into the
    sharp basin :math:`x < b` and the flat basin :math:`x > b`. SAM's step at :math:`x` uses the gradient at
    its ascent point :math:`a(x) = x + \\rho\\,\\mathrm{sign} f'(x)`, so an iterate is labelled

    * ``"sharp"`` if :math:`x < b`;
    * ``"ghost"`` if :math:`x > b` but :math:`a(x) < b`: SAM sits on the flat side while its gradient comes
      from the sharp well (the shifted copy of the sharp well around :math:`x = \\rho`,
      :func:`sam_fixed_points_1d`);
    * ``"flat"`` if :math:`x > b` and :math:`a(x) > b`.

    A run gets its iterates' common label, ``"mixed"`` if they differ (an orbit across the rim) and
    ``"diverged"`` if it left the finite numbers. For GD (:math:`\\rho = 0`) :math:`a(x) = x`, so no GD run
    is a ghost. Unlike a window around each minimum, this counts an orbit that oscillates inside a well
    (a two-cycle, or the bounded chaotic orbits of large learning rates) as being in that well.

    Parameters
    ----------
    grad_f : callable
        Batched gradient :math:`f'`, arrays of shape (n, 1).
    run : BatchRun
        End of the runs; arrays of shape (..., 1) (e.g. :func:`sweep_endpoints`'s (a, b, m, 1)).
    rho : float or array_like
        The runs' radii, broadcastable to ``run.diverged.shape`` (for a sweep, shape (1, b, 1)).
    boundary : float
        The point :math:`b` between the two basins.

    Returns
    -------
    numpy.ndarray of str, shape ``run.diverged.shape``
        Entries of :data:`BASIN_LABELS`.

    Raises
    ------
    ValueError
        If the runs are not one-dimensional, ``boundary`` is not finite or a radius is negative.
    """
    if run.final.shape[-1] != 1:
        raise ValueError(f"classify_basins_1d needs 1D runs, got points of dimension {run.final.shape[-1]}")
    b = float(check_finite_array(boundary, "boundary"))
    shape = run.diverged.shape
    r = np.broadcast_to(np.asarray(rho, dtype=float), shape)
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("rho must be finite and >= 0")
    codes = []
    for pts in (run.final, run.previous, run.before_previous):
        x = np.nan_to_num(pts.reshape(-1, 1))
        a = x + _ascent_unchecked(_grad(grad_f, x), r.reshape(-1))
        x, a = x.reshape(shape), a.reshape(shape)
        codes.append(np.where(x < b, 0, np.where(a < b, 1, 2)))
    codes = np.array(codes)
    label = np.where(np.all(codes == codes[0], axis=0), codes[0], 3)
    label = np.where(run.diverged, 4, label)
    return np.asarray(BASIN_LABELS, dtype=object)[label].astype(str)


def gd_confinement_lr(grad_f: GradFn, boundary: float, lo: float, num_grid: int = 200001) -> float:
    """Largest learning rate for which no GD step from inside the sharp well crosses its rim.

    For a 1D :math:`f` decreasing on :math:`(-\\infty, 0)` with a minimum at 0 and its rim (local maximum) at
    :math:`b > 0`, a GD step :math:`x - \\eta f'(x)` from :math:`x < b` can cross :math:`b` only from a point
    where :math:`f' < 0`. So the well :math:`[\\ell, b)` keeps every GD iterate (the interval is invariant)
    when

    .. math::

        \\eta < \\eta^* = \\min_{\\ell \\le x < b,\\; f'(x) < 0} \\frac{b - x}{-f'(x)} .

    This is a statement about the whole well, not about its curvature at 0: where :math:`|f'|` stays
    bounded in the well, :math:`\\eta^*` can be far above the linear-stability limit
    :math:`2/f''(0)`, and for :math:`2/f''(0) < \\eta < \\eta^*` GD neither converges to 0 nor leaves the
    well (it oscillates inside it). For a quadratic well :math:`\\eta^* < 2/f''(0)` (GD is thrown out once it
    is unstable).

    Parameters
    ----------
    grad_f : callable
        Batched :math:`f'` on arrays of shape (n, 1).
    boundary : float
        The rim :math:`b`.
    lo : float
        Left end :math:`\\ell < b` of the part of the well that is searched (starts left of it are not
        covered by the bound).
    num_grid : int
        Grid size on :math:`[\\ell, b]`.

    Returns
    -------
    float
        :math:`\\eta^*` (``inf`` if :math:`f' \\ge 0` on the grid).
    """
    b = float(check_finite_array(boundary, "boundary"))
    lo = float(check_finite_array(lo, "lo"))
    if not lo < b:
        raise ValueError(f"need lo < boundary, got lo={lo!r}, boundary={b!r}")
    num_grid = check_int_at_least(num_grid, 3, "num_grid")
    x = np.linspace(lo, b, num_grid)[:-1]
    g = np.asarray(grad_f(x[:, None]), dtype=float)[:, 0]
    down = g < 0
    if not down.any():
        return float("inf")
    return float(np.min((b - x[down]) / -g[down]))


def quadratic_wells_1d(lam_sharp: float = 100.0, lam_flat: float = 1.0, flat_at: float = 1.0) -> Landscape:
    """A control for Figure 1: :math:`f(x) = \\min(\\tfrac12\\lambda_s x^2, \\tfrac12\\lambda_f (x - m)^2)`.

    Two exactly quadratic wells, a sharp one at 0 (curvature :math:`\\lambda_s`) and a flat one at
    :math:`m` (curvature :math:`\\lambda_f`), both with loss 0, meeting at the rim
    :math:`b = m/(1 + \\sqrt{\\lambda_s/\\lambda_f})` (a kink, where the gradient jumps) and at
    :math:`-m/(\\sqrt{\\lambda_s/\\lambda_f} - 1)` on the left, where :math:`f` keeps decreasing. Unlike the
    review's function, whose sharp well is bounded (:math:`f < 1` and :math:`|f'| \\le 66` inside it), the
    gradient here grows linearly in the well.

    Parameters
    ----------
    lam_sharp, lam_flat : float
        Curvatures, ``lam_sharp > lam_flat > 0``.
    flat_at : float
        Position :math:`m > 0` of the flat minimum.

    Returns
    -------
    samlib.landscapes.Landscape
        ``params`` holds the curvatures, ``flat_at`` and the rim ``"rim"``.
    """
    ls_, lf = check_positive(lam_sharp, "lam_sharp"), check_positive(lam_flat, "lam_flat")
    if not ls_ > lf:
        raise ValueError(f"need lam_sharp > lam_flat, got {ls_!r} and {lf!r}")
    m = check_positive(flat_at, "flat_at")
    rim = m / (1 + np.sqrt(ls_ / lf))

    def _x(theta: Any) -> np.ndarray:
        x = np.asarray(check_finite_array(theta, "theta"), dtype=float)
        if x.ndim == 0 or x.shape[-1] != 1:
            raise ValueError(f"quadratic_wells_1d: theta must have shape (..., 1), got {x.shape}")
        return x

    def branches(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fs, ff = 0.5 * ls_ * x**2, 0.5 * lf * (x - m) ** 2
        return fs, ff, fs <= ff

    def value(theta: Any) -> Any:
        fs, ff, sharp = branches(_x(theta))
        v = np.where(sharp, fs, ff)[..., 0]
        return float(v) if v.ndim == 0 else v

    def grad(theta: Any) -> np.ndarray:
        x = _x(theta)
        _, _, sharp = branches(x)
        return np.where(sharp, ls_ * x, lf * (x - m))

    def hessian(theta: Any) -> np.ndarray:
        x = _x(theta)
        _, _, sharp = branches(x)
        return np.where(sharp, ls_, lf)[..., None]

    return Landscape(
        name="quadratic_wells_1d", dim=1, value=value, grad=grad, hessian=hessian,
        params={"lam_sharp": ls_, "lam_flat": lf, "flat_at": m, "rim": float(rim)},
        minima=(np.zeros(1), np.full(1, m)),
        description="min of two quadratics: sharp well at 0, flat well at flat_at (Figure 1 control)",
    )


def _figure1_landscape(name: str) -> tuple[Landscape, float]:
    """The landscape of a Figure 1 sweep and the rim between its wells."""
    if name == "review_1d":
        ls = landscapes.review_1d()
        rim = float(sam_fixed_points_1d(ls.grad, 0.01, -2.0, 3.0)[0, 1])  # local maximum near 0.045
        return ls, rim
    if name == "quadratic_wells_1d":
        ls = quadratic_wells_1d()
        return ls, ls.params["rim"]
    raise ValueError(f"landscape must be 'review_1d' or 'quadratic_wells_1d', got {name!r}")


def figure1_sweep_run(config: dict[str, Any]) -> dict[str, Any]:
    """One learning rate of the Figure 1 basin sweep: a run function for :func:`samlib.sweeps.run_sweep`.

    Runs GD and SAM (every radius of ``config["rhos"]``, ``0`` is GD) from ``num_starts`` evenly spaced
    starts of ``[lo, hi]`` for ``min(max(3/lr, 2000), 30000) + 200`` steps (small learning rates need more
    steps to arrive; at least 2200 so that cycles settle) and labels each end with :func:`classify_basins_1d`.

    Parameters
    ----------
    config : dict
        ``landscape`` (``"review_1d"`` or ``"quadratic_wells_1d"``), ``lr``, ``rhos`` (list),
        ``num_starts``, ``lo``, ``hi``.

    Returns
    -------
    dict
        ``rim``, ``num_steps`` and ``labels``: one string per radius, one character per start, the first
        letter of its :data:`BASIN_LABELS` entry (``s``, ``g``, ``f``, ``m``, ``d``).
    """
    ls, rim = _figure1_landscape(config["landscape"])
    lr = check_positive(config["lr"], "lr")
    rhos = check_finite_array(config["rhos"], "rhos", ndim=1)
    starts = np.linspace(float(config["lo"]), float(config["hi"]), int(config["num_starts"]))[:, None]
    steps = int(min(max(3 / lr, 2000), 30000)) + 200
    run = sweep_endpoints(ls.grad, starts, [lr], rhos, steps)
    labels = classify_basins_1d(ls.grad, run, rhos[None, :, None], rim)[0]
    return {"rim": rim, "num_steps": steps, "labels": ["".join(lab[0] for lab in row) for row in labels]}


def figure1_sweep_configs(landscape: str, lrs: Any, rhos: Any, num_starts: int = 200,
                          lo: float = -1.5, hi: float = 2.5) -> list[dict[str, Any]]:
    """The configurations of :func:`figure1_sweep_run`, one per learning rate (rounded to 6 digits)."""
    return [{"landscape": landscape, "lr": float(f"{lr:.6g}"), "rhos": [float(r) for r in rhos],
             "num_starts": int(num_starts), "lo": float(lo), "hi": float(hi)} for lr in lrs]


#: Grids of the recorded Figure 1 sweeps (``book/data/sam_vs_gd/fig1_sweep``): the review's function
#: (dense in eta around GD's confinement limit ~7.6e-4 and in rho around the rim ~0.045) and the
#: quadratic-wells control (dense around its stability limit 2/100 and its rim 1/11).
FIGURE1_GRIDS = {
    "review_1d": {
        "lrs": [5e-5, 1e-4, 1.5e-4, 2e-4, 2.5e-4, 3.16228e-4, 4e-4, 5e-4, 6e-4, 7e-4, 7.4e-4, 7.8e-4,
                8.5e-4, 1e-3, 3.16228e-3, 1e-2, 3.16228e-2, 1e-1],
        "rhos": [0.0, 0.003, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.3, 0.6, 0.9],
    },
    "quadratic_wells_1d": {
        "lrs": [1e-3, 3e-3, 1e-2, 1.5e-2, 1.8e-2, 1.9e-2, 1.95e-2, 2.05e-2, 2.1e-2, 2.5e-2, 5e-2, 1e-1],
        "rhos": [0.0, 0.003, 0.01, 0.03, 0.05, 0.08, 0.09, 0.1, 0.12, 0.15, 0.2, 0.3, 0.6, 0.9],
    },
}


def _main() -> None:  # pragma: no cover - the recording script
    import sys

    store = sys.argv[2] if len(sys.argv) > 2 else "book/data/sam_vs_gd/fig1_sweep"
    configs = [c for name, grid in FIGURE1_GRIDS.items()
               for c in figure1_sweep_configs(name, grid["lrs"], grid["rhos"])]
    # the slowest (smallest lr) first, so the two workers finish together
    configs.sort(key=lambda c: c["lr"])
    run_sweep("samlib.studies.dynamics:figure1_sweep_run", configs, store, n_jobs=2)


if __name__ == "__main__":  # pragma: no cover
    _main()
