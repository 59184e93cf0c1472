"""The SAM gradient and its Taylor approximations (eqs. 3 and 5 of the review).

SAM minimises :math:`\\theta \\mapsto L(\\theta + \\hat\\epsilon(\\theta))` with
:math:`\\hat\\epsilon(\\theta) = \\rho\\,\\nabla L(\\theta)/\\lVert\\nabla L(\\theta)\\rVert` (Foret et al. 2021). By the chain
rule its exact gradient is

.. math::

    \\nabla_\\theta L(\\theta+\\hat\\epsilon) = \\bigl(I + J_{\\hat\\epsilon}(\\theta)\\bigr)^T \\nabla L(\\theta + \\hat\\epsilon),
    \\qquad J_{\\hat\\epsilon} = \\frac{\\rho}{\\lVert g\\rVert}\\bigl(I - \\hat g\\hat g^T\\bigr) H,

with :math:`g = \\nabla L(\\theta)`, :math:`\\hat g = g/\\lVert g\\rVert`, :math:`H = \\nabla^2 L(\\theta)`. SAM keeps
only :math:`\\nabla L(\\theta+\\hat\\epsilon)` (eq. 3 of the review, Liu, Chen & Shi 2022); the dropped term is
:math:`J_{\\hat\\epsilon}^T \\nabla L(\\theta+\\hat\\epsilon)`. Eq. 5 of the review approximates the difference of the
SAM and GD gradients by :math:`H\\hat\\epsilon`.

:func:`perturbed_loss_gradients` derives the exact gradient symbolically with sympy (no chain rule written by
hand), :func:`dropped_term_closed_form` evaluates the Jacobian formula above and :func:`eq5_terms` the pieces of
eq. 5; every numeric :math:`\\hat\\epsilon` comes from :func:`samlib.ascent.ascent_direction`. Orders are measured
with :func:`samlib.stats.loglog_slope`, re-exported here as ``loglog_slope`` for existing callers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from samlib._validation import check_finite_array, check_nonnegative, check_positive
from samlib.ascent import ascent_direction
from samlib.sharpness import sharpness_pga, sharpness_quadratic
from samlib.stats import loglog_slope

__all__ = [
    "PerturbedGradients",
    "perturbed_loss_gradients",
    "dropped_term_closed_form",
    "eq5_terms",
    "discrepancy_for_spectrum",
    "update_against_objectives",
    "loglog_slope",
]


@dataclass(frozen=True)
class PerturbedGradients:
    """Numeric functions ``(theta, rho) -> array (d,)`` built from one sympy derivation.

    Attributes
    ----------
    full : callable
        Exact gradient of :math:`\\theta\\mapsto L(\\theta+\\hat\\epsilon(\\theta))`, Jacobian of
        :math:`\\hat\\epsilon` included.
    sam : callable
        SAM's approximation :math:`\\nabla L` evaluated at :math:`\\theta + \\hat\\epsilon(\\theta)` (eq. 3).
    full_expr : list of sympy.Expr
        The exact gradient as formulas in the variables and ``rho``.
    """

    full: Callable[[Any, float], np.ndarray]
    sam: Callable[[Any, float], np.ndarray]
    full_expr: list

    def dropped(self, theta: Any, rho: float) -> np.ndarray:
        """The term SAM drops: ``full(theta, rho) - sam(theta, rho)``."""
        return self.full(theta, rho) - self.sam(theta, rho)


def perturbed_loss_gradients(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]) -> PerturbedGradients:
    """Derive the exact and the SAM gradient of :math:`L(\\theta+\\rho\\nabla L/\\lVert\\nabla L\\rVert)` with sympy.

    The perturbed loss is built by substituting :math:`\\theta + \\hat\\epsilon(\\theta)` into ``expr`` and
    differentiated symbolically, so the Jacobian of :math:`\\hat\\epsilon` is included by construction.

    Parameters
    ----------
    expr : sympy.Expr
        The loss :math:`L` in ``symbols`` (e.g. ``landscape.sympy_expr()``).
    symbols : tuple of sympy.Symbol
        Its variables in coordinate order.

    Returns
    -------
    PerturbedGradients
        The functions are defined where :math:`\\nabla L(\\theta) \\ne 0`.
    """
    symbols = tuple(symbols)
    if not symbols:
        raise ValueError("symbols must not be empty")
    extra = expr.free_symbols - set(symbols)
    if extra:
        raise ValueError(f"expr has free symbols {sorted(map(str, extra))} not in symbols")
    rho = sp.Symbol("rho", positive=True)
    grad = [sp.diff(expr, s) for s in symbols]
    norm = sp.sqrt(sum(gi**2 for gi in grad))
    shifted = {s: s + rho * gi / norm for s, gi in zip(symbols, grad)}
    perturbed = expr.xreplace(shifted)
    full_expr = [sp.diff(perturbed, s) for s in symbols]
    sam_expr = [gi.xreplace(shifted) for gi in grad]
    f_full = sp.lambdify((symbols, rho), full_expr, "numpy")
    f_sam = sp.lambdify((symbols, rho), sam_expr, "numpy")

    def wrap(fn: Callable) -> Callable[[Any, float], np.ndarray]:
        def call(theta: Any, rho_value: float) -> np.ndarray:
            t = check_finite_array(theta, "theta", ndim=1)
            if t.shape != (len(symbols),):
                raise ValueError(f"theta must have shape ({len(symbols)},), got {t.shape}")
            r = check_positive(rho_value, "rho")
            return np.asarray(fn(tuple(t), r), dtype=float)

        return call

    return PerturbedGradients(full=wrap(f_full), sam=wrap(f_sam), full_expr=full_expr)


def dropped_term_closed_form(grad_f: Callable, hess_f: Callable, theta: Any, rho: float) -> np.ndarray:
    """:math:`J_{\\hat\\epsilon}^T\\nabla L(\\theta+\\hat\\epsilon) = \\frac{\\rho}{\\lVert g\\rVert} H (I-\\hat g\\hat g^T)\\nabla L(\\theta+\\hat\\epsilon)`.

    The term of the exact SAM-objective gradient that eq. 3 drops (module docstring; :math:`H` symmetric).

    Raises
    ------
    ValueError
        If the gradient at ``theta`` is zero (:math:`\\hat\\epsilon` is not differentiable there) or inputs are
        not finite.
    """
    t = check_finite_array(theta, "theta", ndim=1)
    rho = check_positive(rho, "rho")
    g = check_finite_array(grad_f(t), "grad_f(theta)")
    eps = ascent_direction(g, rho)
    if not eps.any():
        raise ValueError(f"the gradient vanishes at theta={t!r}; eps_hat is not differentiable there")
    u = eps / rho
    g_pert = check_finite_array(grad_f(t + eps), "grad_f(theta + eps_hat)")
    H = check_finite_array(hess_f(t), "hess_f(theta)")
    return rho / np.linalg.norm(g) * H @ (g_pert - u * (u @ g_pert))


def eq5_terms(grad_f: Callable, hess_f: Callable, theta: Any, rhos: Any) -> dict[str, np.ndarray]:
    """The pieces of eq. 5 for each radius: :math:`\\nabla L(\\theta+\\hat\\epsilon)-\\nabla L(\\theta)` and :math:`H\\hat\\epsilon`.

    Parameters
    ----------
    grad_f, hess_f : callable
        Gradient and Hessian of :math:`L` at a point of shape (d,).
    theta : array_like, shape (d,)
        A point with nonzero gradient.
    rhos : array_like, shape (k,)
        Radii ``> 0``.

    Returns
    -------
    dict
        ``"discrepancy"`` and ``"linear"`` (shape (k, d)), ``"residual"`` (their difference) and its norm
        ``"residual_norm"`` (shape (k,)).
    """
    t = check_finite_array(theta, "theta", ndim=1)
    r = check_finite_array(rhos, "rhos", ndim=1)
    if np.any(r <= 0):
        raise ValueError(f"rhos must be > 0, got min {r.min()!r}")
    g = check_finite_array(grad_f(t), "grad_f(theta)")
    eps = np.stack([ascent_direction(g, ri) for ri in r])
    if not eps.any():
        # with eps_hat(0) = 0 both sides of eq. 5 vanish, and its relative residual is undefined
        raise ValueError(f"the gradient vanishes at theta={t!r}; eq. 5 needs a nonzero gradient")
    disc = np.stack([np.asarray(grad_f(t + e), dtype=float) - g for e in eps])
    lin = eps @ np.asarray(hess_f(t), dtype=float).T
    res = disc - lin
    return {"discrepancy": disc, "linear": lin, "residual": res, "residual_norm": np.linalg.norm(res, axis=1)}


def discrepancy_for_spectrum(eigvals: Any, grad: Any, rho: float, basis: Any = None) -> np.ndarray:
    """Eq. 5's linear term :math:`H\\hat\\epsilon = \\frac{\\rho}{\\lVert g\\rVert} P^T D P g` for a chosen spectrum.

    For a symmetric Hessian the eigenvector matrix is orthogonal, so the review's :math:`P^{-1}DP` is
    :math:`P^TDP` with :math:`P^T` = ``basis`` (columns are eigenvectors).

    Parameters
    ----------
    eigvals : array_like, shape (d,)
        The diagonal of :math:`D`.
    grad : array_like, shape (d,) or (m, d)
        One gradient or a batch. A zero gradient gives zero (:math:`\\hat\\epsilon(0) = 0`, as in
        :func:`samlib.ascent.ascent_direction`).
    rho : float
        Radius ``>= 0``.
    basis : array_like, shape (d, d), optional
        Orthogonal matrix of eigenvectors (columns); identity by default.

    Returns
    -------
    numpy.ndarray
        Same shape as ``grad``.
    """
    lam = check_finite_array(eigvals, "eigvals", ndim=1)
    g = check_finite_array(grad, "grad")
    rho = check_nonnegative(rho, "rho")
    d = lam.size
    Q = np.eye(d) if basis is None else check_finite_array(basis, "basis", ndim=2)
    if Q.shape != (d, d) or not np.allclose(Q.T @ Q, np.eye(d), atol=1e-10):
        raise ValueError(f"basis must be an orthogonal ({d}, {d}) matrix")
    if g.ndim not in (1, 2) or g.shape[-1] != d:
        raise ValueError(f"grad must have shape ({d},) or (m, {d}), got shape {g.shape}")
    if g.ndim == 1:
        eps = ascent_direction(g, rho)
    else:  # row by row: each row is its own gradient, with its own norm
        eps = np.array([ascent_direction(row, rho) for row in g]).reshape(g.shape)
    H = (Q * lam) @ Q.T
    return eps @ H.T



def update_against_objectives(landscape: Any, theta: Any, rho: float, *, num_restarts: int = 8,
                              num_steps: int = 400) -> dict[str, np.ndarray]:
    """SAM's update direction next to the gradients of three objectives it is said to minimise.

    At :math:`\\theta` with :math:`g = \\nabla L(\\theta) \\ne 0`, :math:`\\hat g = g/\\lVert g\\rVert`:

    * ``"sam"``: :math:`\\nabla L(\\theta + \\rho\\hat g)`, the update of eq. 3;
    * ``"danskin"``: the gradient of the eq. 2 objective :math:`\\max_{\\lVert\\epsilon\\rVert\\le\\rho}
      L(\\theta+\\epsilon)`, which by Danskin's theorem is :math:`\\nabla L(\\theta + \\epsilon^*)` at the
      maximiser :math:`\\epsilon^*` (where it is unique). :math:`\\epsilon^*` is exact for a quadratic
      landscape (the trust-region solution of :func:`samlib.sharpness.sharpness_quadratic`) and found by
      projected gradient ascent (:func:`samlib.sharpness.sharpness_pga`, a lower bound) otherwise;
    * ``"penalty"``: the gradient of :math:`L + \\rho\\lVert\\nabla L\\rVert`,
      :math:`g + \\rho H\\hat g` (the gradient-norm penalty of Zhao, Zhang & Hu 2022, with weight
      :math:`\\rho`). SAM's update is its finite-difference approximation: the two differ by
      :math:`\\tfrac12\\nabla^3L[\\rho\\hat g, \\rho\\hat g] + O(\\rho^3)`, exactly zero on quadratics.

    The gradient of the surrogate :math:`L(\\theta + \\hat\\epsilon(\\theta))` is
    :func:`perturbed_loss_gradients`' ``full``.

    Parameters
    ----------
    landscape : samlib.landscapes.Landscape
        With ``value``, ``grad`` and ``hessian``; ``name == "quadratic"`` selects the exact maximiser.
    theta : array_like, shape (d,)
        A point with nonzero gradient.
    rho : float
        Radius ``> 0``.
    num_restarts, num_steps : int
        Passed to :func:`samlib.sharpness.sharpness_pga`.

    Returns
    -------
    dict of numpy.ndarray
        ``"sam"``, ``"danskin"``, ``"penalty"`` (shape (d,)) and the maximiser ``"eps_star"``.
    """
    t = check_finite_array(theta, "theta", ndim=1)
    rho = check_positive(rho, "rho")
    g = check_finite_array(landscape.grad(t), "grad(theta)")
    eps = ascent_direction(g, rho)
    if not eps.any():
        raise ValueError(f"the gradient vanishes at theta={t!r}; SAM's update is not defined by eq. 3 there")
    H = check_finite_array(landscape.hessian(t), "hessian(theta)")
    if landscape.name == "quadratic":
        eps_star = sharpness_quadratic(H, g, rho).epsilon
    else:
        eps_star = sharpness_pga(landscape.value, landscape.grad, t, rho, num_restarts=num_restarts,
                                 num_steps=num_steps).epsilon
    return {"sam": np.asarray(landscape.grad(t + eps), dtype=float),
            "danskin": np.asarray(landscape.grad(t + eps_star), dtype=float),
            "penalty": g + H @ eps, "eps_star": np.asarray(eps_star, dtype=float)}
