"""Part II, question 2 (the review's §3.2): SAM's convergence with a constant radius, and its stability.

Two studies for the page ``book/oq_convergence.ipynb``:

- :func:`usam_sam_grid`: unnormalised SAM (:func:`samlib.ascent.usam_step`, batched here) and SAM
  (:func:`samlib.studies.dynamics.run_batch`) on :math:`\\tfrac12\\lambda x^2` over a grid of learning rates
  and radii, against the USAM divergence boundary :math:`\\eta\\lambda(1+\\rho\\lambda) = 2` (Dai, Ahn & Sra
  2023) and SAM's two-cycle amplitude :math:`\\eta\\rho\\lambda/(2-\\eta\\lambda)` (Bartlett, Long & Bousquet
  2023; chapter 2 of the book);
- :func:`constant_step_floor`: deterministic SAM with constant :math:`\\eta` and :math:`\\rho` on a landscape,
  the squared gradient norm averaged over its final two-cycle, for a grid of radii (the constant-:math:`\\rho`
  floor of Si & Yun 2023 without noise).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._validation import check_finite_array, check_int_at_least, check_positive
from .dynamics import quadratic_two_cycle_amplitude, run_batch

__all__ = ["run_usam_batch", "usam_sam_grid", "constant_step_floor"]


def run_usam_batch(grad_f: Callable[[np.ndarray], np.ndarray], theta0: Any, lr: Any, rho: Any,
                   num_steps: int, blowup: float = 1e12) -> tuple[np.ndarray, np.ndarray]:
    """Run ``num_steps`` USAM steps (:func:`samlib.ascent.usam_step`) for many starts and settings at once.

    ``theta <- theta - lr * grad_f(theta + rho * grad_f(theta))`` row by row, with per-row ``lr`` and ``rho``.
    Rows whose coordinates exceed ``blowup`` are frozen and flagged.

    Returns
    -------
    (final, diverged) : numpy.ndarray (n, d), numpy.ndarray of bool (n,)
    """
    x = np.array(check_finite_array(theta0, "theta0", ndim=2), dtype=float)
    n = x.shape[0]
    lr = np.broadcast_to(np.asarray(check_finite_array(lr, "lr"), dtype=float), (n,))[:, None]
    rho = np.broadcast_to(np.asarray(check_finite_array(rho, "rho"), dtype=float), (n,))[:, None]
    if np.any(lr < 0) or np.any(rho < 0):
        raise ValueError("lr and rho must be >= 0")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    diverged = np.zeros(n, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_steps):
            g = grad_f(x)
            new = x - lr * grad_f(x + rho * g)
            bad = ~np.all(np.isfinite(new) & (np.abs(new) < blowup), axis=1)
            diverged |= bad
            new[diverged] = x[diverged]
            x = new
    return x, diverged


def usam_sam_grid(lam: float, lr_lam: Any, rho_lam: Any, *, num_steps: int = 3000,
                  x0: float = 1.0) -> dict[str, np.ndarray]:
    """USAM and SAM on :math:`f(x) = \\tfrac12\\lambda x^2` over a grid of :math:`\\eta\\lambda` and :math:`\\rho\\lambda`.

    Parameters
    ----------
    lam : float
        Curvature :math:`\\lambda > 0`.
    lr_lam, rho_lam : array_like, shapes (a,) and (b,)
        The dimensionless grids :math:`\\eta\\lambda` and :math:`\\rho\\lambda` (:math:`\\rho\\lambda` is
        :math:`\\rho` measured in units of :math:`1/\\lambda`, the scale of USAM's ascent step).
    num_steps : int
        Steps of each run.
    x0 : float
        Start.

    Returns
    -------
    dict of arrays, shape (a, b)
        ``predicted`` (:math:`\\eta\\lambda(1+\\rho\\lambda) > 2`), ``usam_diverged`` (the USAM run blew up or
        ends farther from 0 than it started), ``factor`` (the exact USAM multiplier
        :math:`1 - \\eta\\lambda - \\eta\\rho\\lambda^2`), ``sam_diverged``, ``sam_sup`` (largest
        :math:`|x_t|` of the SAM run), ``sam_amplitude`` (:math:`|x_T - x_{T-1}|/2`, half the last step) and
        ``cycle`` (:func:`~samlib.studies.dynamics.quadratic_two_cycle_amplitude`, nan where
        :math:`\\eta\\lambda \\ge 2`).
    """
    lam = check_positive(lam, "lam")
    a_ = np.asarray(check_finite_array(lr_lam, "lr_lam", ndim=1), dtype=float)
    b_ = np.asarray(check_finite_array(rho_lam, "rho_lam", ndim=1), dtype=float)
    if np.any(a_ <= 0) or np.any(b_ < 0):
        raise ValueError("lr_lam must be > 0 and rho_lam >= 0")
    LR, RHO = np.meshgrid(a_ / lam, b_ / lam, indexing="ij")
    lr, rho = LR.ravel(), RHO.ravel()

    def grad(x: np.ndarray) -> np.ndarray:
        return lam * x

    start = np.full((lr.size, 1), float(x0))
    final, div = run_usam_batch(grad, start, lr, rho, num_steps)
    usam_div = div | (np.abs(final[:, 0]) > abs(x0))
    # SAM: track the largest |x_t| along the way, in chunks of steps
    sup = np.full(lr.size, abs(x0))
    theta = start.copy()
    sam_div = np.zeros(lr.size, dtype=bool)
    chunk = 50
    done = 0
    while done < num_steps:
        steps = max(2, min(chunk, num_steps - done))
        run = run_batch(grad, np.where(sam_div[:, None], 0.0, theta), lr, rho, steps, blowup=1e12)
        sam_div |= run.diverged
        theta = np.where(run.diverged[:, None], 0.0, run.final)
        sup = np.maximum(sup, np.abs(np.nan_to_num(run.final[:, 0], nan=np.inf)))
        sup = np.maximum(sup, np.abs(np.nan_to_num(run.previous[:, 0], nan=np.inf)))
        done += steps
    amp = 0.5 * np.abs(run.final[:, 0] - run.previous[:, 0])
    ok = lr * lam < 2
    cyc = np.full(lr.size, np.nan)
    cyc[ok] = quadratic_two_cycle_amplitude(lr[ok], rho[ok], lam)
    shape = LR.shape
    return dict(predicted=(LR * lam * (1 + RHO * lam) > 2), usam_diverged=usam_div.reshape(shape),
                factor=(1 - LR * lam - LR * RHO * lam**2), sam_diverged=sam_div.reshape(shape),
                sam_sup=sup.reshape(shape), sam_amplitude=amp.reshape(shape), cycle=cyc.reshape(shape),
                lr=LR, rho=RHO)


def constant_step_floor(grad_f: Callable[[np.ndarray], np.ndarray], x0: Any, lr: float, rhos: Any,
                        num_steps: int) -> np.ndarray:
    """The squared gradient norm where deterministic SAM with constant ``lr`` and ``rho`` ends, per radius.

    Runs SAM (:func:`samlib.studies.dynamics.run_batch`) from ``x0`` for every radius and returns
    :math:`\\tfrac12(\\lVert\\nabla f(x_T)\\rVert^2 + \\lVert\\nabla f(x_{T-1})\\rVert^2)`, the level averaged over
    the final two-cycle (a fixed point counts twice). ``nan`` for a diverged run.

    Returns
    -------
    numpy.ndarray, shape (m,)
    """
    r = np.asarray(check_finite_array(rhos, "rhos", ndim=1), dtype=float)
    x = np.asarray(check_finite_array(x0, "x0", ndim=1), dtype=float)
    lr = check_positive(lr, "lr")
    run = run_batch(grad_f, np.tile(x, (r.size, 1)), lr, r, check_int_at_least(num_steps, 2, "num_steps"))
    out = np.full(r.size, np.nan)
    ok = ~run.diverged
    if ok.any():
        g1 = grad_f(run.final[ok])
        g0 = grad_f(run.previous[ok])
        out[ok] = 0.5 * ((g1 * g1).sum(1) + (g0 * g0).sum(1))
    return out
