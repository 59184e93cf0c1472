"""Sharpness :math:`\\kappa_\\rho(\\theta) = \\max_{\\lVert\\epsilon\\rVert\\le\\rho} f(\\theta+\\epsilon) - f(\\theta)`.

Definition 1 of the review (Liu, Chen & Shi 2022, eq. 1). Two computations:

* :func:`sharpness_quadratic` -- exact, for the quadratic model
  :math:`m(\\epsilon) = g^T\\epsilon + \\tfrac12\\epsilon^T A\\epsilon` (which *is* :math:`f(\\theta+\\epsilon) -
  f(\\theta)` when :math:`f` is quadratic). This is the trust-region subproblem, solved by an eigendecomposition
  and the secular equation (Moré & Sorensen 1983).
* :func:`sharpness_pga` -- a certified *lower bound* for any smooth :math:`f`, by projected gradient ascent
  from several starts.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.optimize import brentq

from samlib._validation import (
    check_callable,
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_p_norm,
    check_positive,
    check_real_array,
    check_real_output,
    check_symmetric,
)
from samlib.ascent import ascent_direction

__all__ = ["SharpnessResult", "sharpness_quadratic", "sharpness_pga"]


# Inputs are solved as given when their scales max|A|, max|g| and rho all lie in [2^-200, 2^200], so that no
# intermediate quantity of _trust_region_max (rho^2, ||g||^2, ||g|| / rho, eps^T A eps, ...) can overflow or
# underflow to a relevant degree, and when the scale of the multiplier lambda, max(max|A|, max|g| / rho), is at
# least 1, so that its tolerances, relative to max(1, |a|) and max(1, lambda), are relative ones. Other inputs
# are rescaled by powers of two first (_rescaled_trust_region_max), which puts both scales near 1.
_SAFE_LOW, _SAFE_HIGH = 2.0**-200, 2.0**200


def _as_numpy(x: Any) -> Any:
    """A torch tensor as a numpy array (detached, on the CPU, floats as float64); anything else unchanged."""
    # duck-typed so that torch is not imported here; a numpy array has neither attribute
    if not (hasattr(x, "detach") and hasattr(x, "cpu")):
        return x
    t = x.detach().cpu()
    # floats of any width become float64 (numpy has no bfloat16); bools, integers and complex numbers are
    # passed on as they are, for the boundary checks to accept or refuse like the same numpy input
    return (t.double() if t.is_floating_point() else t).numpy()


class SharpnessResult(NamedTuple):
    """``(value, epsilon)``: the (lower bound on the) sharpness and a perturbation attaining it."""

    value: float
    epsilon: np.ndarray


def sharpness_quadratic(A: Any, g: Any, rho: float) -> SharpnessResult:
    """Exact :math:`\\max_{\\lVert\\epsilon\\rVert_2\\le\\rho}\\; g^T\\epsilon + \\tfrac12\\epsilon^T A\\epsilon`.

    This is the sharpness :math:`\\kappa_\\rho` of the second-order Taylor model of :math:`f` at :math:`\\theta`
    with :math:`g = \\nabla f(\\theta)`, :math:`A = \\nabla^2 f(\\theta)` (exact when :math:`f` is quadratic).
    Maximising :math:`m` is minimising :math:`-m`, a trust-region subproblem. A global maximiser is
    characterised by (Moré & Sorensen 1983, Lemma 2.1 and Theorem 3.1, with signs flipped)

    .. math::

        (\\lambda I - A)\\,\\epsilon = g, \\qquad \\lambda I - A \\succeq 0, \\qquad \\lambda \\ge 0,
        \\qquad \\lambda (\\rho - \\lVert\\epsilon\\rVert) = 0 .

    With :math:`A = V \\operatorname{diag}(a_1 \\le \\dots \\le a_d) V^T` (``numpy.linalg.eigh``) and
    :math:`\\gamma = V^T g`, :math:`\\lVert\\epsilon(\\lambda)\\rVert^2 = \\sum_i \\gamma_i^2/(\\lambda - a_i)^2`. Cases:

    * interior: :math:`a_d < 0` and :math:`\\lVert A^{-1} g\\rVert \\le \\rho`: :math:`\\epsilon = -A^{-1}g`;
    * boundary: solve the secular equation :math:`1/\\lVert\\epsilon(\\lambda)\\rVert = 1/\\rho` for
      :math:`\\lambda > \\max(a_d, 0)` with ``scipy.optimize.brentq`` (the reciprocal form is nearly linear in
      :math:`\\lambda`, Moré & Sorensen Section 3);
    * hard case: :math:`g` (numerically) orthogonal to the top eigenspace of :math:`A` and
      :math:`\\lVert\\epsilon(a_d)\\rVert \\le \\rho`, with :math:`a_d \\ge 0`: take :math:`\\lambda = a_d`, the
      minimum-norm solution :math:`\\epsilon_0` of :math:`(a_d I - A)\\epsilon = g`, and add
      :math:`\\tau v_d` with :math:`\\tau = \\sqrt{\\rho^2 - \\lVert\\epsilon_0\\rVert^2}` to reach the sphere.
      The same construction with :math:`\\lambda = 0` covers a concave model whose maximiser is interior.
      Near-degenerate inputs (an eigenvalue or a component of :math:`\\gamma` that is zero up to rounding) are
      handled by evaluating every feasible candidate above and returning the best one.
      E.g. at a minimum (:math:`g = 0`) this gives :math:`\\epsilon = \\rho v_1`, value
      :math:`\\tfrac12\\rho^2\\lambda_{\\max}` (the review's Example 2 without its missing factor 1/2).

    Scaling. Inputs whose scales :math:`\\max|A_{ij}|`, :math:`\\max|g_i|` and :math:`\\rho` lie in
    :math:`[2^{-200}, 2^{200}]`, and for which the scale of :math:`\\lambda`,
    :math:`\\max(\\max|A_{ij}|, \\max|g_i|/\\rho)`, is at least 1 (the tolerances on eigenvalues and on
    :math:`\\lambda` are set against :math:`\\max(1, \\cdot)`), are solved as given. Others are first rescaled
    by powers of two, which is exact: with :math:`\\epsilon = 2^s u` and :math:`2^s \\approx \\rho`,
    :math:`m(\\epsilon) = 2^t\\,(2^{s-t} g^T u + \\tfrac12 u^T 2^{2s-t} A\\, u)` with :math:`2^t` the larger of the
    orders of :math:`\\rho\\max|g_i|` and :math:`\\rho^2\\max|A_{ij}|`: a problem with entries of magnitude
    at most 1 and a radius in :math:`[1/2, 1)`. So ``A = diag(1e308, 1e308)`` or ``rho = 1e-300`` give the
    exact value, not an overflow or a zero.

    Parameters
    ----------
    A : array_like or torch.Tensor, shape (d, d)
        Symmetric matrix (the Hessian). A torch tensor is detached, moved to the CPU and converted to a
        ``float64`` numpy array (so are ``g``'s); the result is numpy either way.
    g : array_like or torch.Tensor, shape (d,)
        Linear term (the gradient).
    rho : float
        Radius :math:`\\rho \\ge 0` of the Euclidean ball.

    Returns
    -------
    SharpnessResult
        ``value`` :math:`= \\max m \\ge 0` and a maximiser ``epsilon`` of shape ``(d,)`` (not unique in the hard
        case, nor when :math:`g = 0`; the sign of the added eigenvector is chosen so that
        :math:`\\epsilon^T g \\ge 0`). ``rho = 0`` or ``d = 0`` gives value 0 and the zero vector.

    Raises
    ------
    TypeError
        If ``A``, ``g`` or ``rho`` does not hold real numbers (a string, ``None``, bools, complex numbers).
    ValueError
        If ``A`` is not square, symmetric and finite, ``g`` is not a finite vector of matching length, ``rho``
        is negative or not finite, or the value itself is not a float64: above :math:`1.8\\cdot 10^{308}`, or
        positive but below :math:`4.9\\cdot 10^{-324}` (e.g. ``rho = 1e-300`` with ``g = 0``, value
        :math:`\\approx \\rho^2\\lambda_{\\max}/2`). The message names ``rho``, ``A`` and ``g`` with their scales.

    References
    ----------
    J. J. Moré and D. C. Sorensen, "Computing a trust region step", SIAM J. Sci. Stat. Comput. 4(3), 1983.

    Examples
    --------
    >>> sharpness_quadratic(np.diag([2.0, 1.0]), np.zeros(2), rho=0.1).value  # rho^2 lambda_max / 2
    0.010000000000000002
    >>> sharpness_quadratic(np.diag([1e308, 1e308]), np.zeros(2), rho=1.0).value  # no overflow in between
    5e+307
    >>> print(f"{sharpness_quadratic(np.eye(2), np.array([3.0, 4.0]), rho=1e-300).value:.6g}")  # rho ||g||
    5e-300
    """
    A = check_symmetric(_as_numpy(A), "A")
    g = check_finite_array(_as_numpy(g), "g", ndim=1)
    if g.shape[0] != A.shape[0]:
        raise ValueError(f"g must have length {A.shape[0]} to match A of shape {A.shape}, got shape {g.shape}")
    rho = check_nonnegative(rho, "rho")
    d = g.shape[0]
    if rho == 0.0 or d == 0:
        return SharpnessResult(0.0, np.zeros(d))
    scale_A = float(np.max(np.abs(A)))
    scale_g = float(np.max(np.abs(g)))
    in_range = all(s == 0.0 or _SAFE_LOW <= s <= _SAFE_HIGH for s in (scale_A, scale_g, rho))
    if in_range and max(scale_A, scale_g / rho) >= 1.0:
        return _trust_region_max(A, g, rho)
    return _rescaled_trust_region_max(A, g, rho, scale_A, scale_g)


def _rescaled_trust_region_max(A: np.ndarray, g: np.ndarray, rho: float, scale_A: float,
                               scale_g: float) -> SharpnessResult:
    """:func:`_trust_region_max` on a problem scaled by powers of two into the unit range, scaled back.

    With :math:`\\epsilon = 2^s u` and :math:`2^s` the binary order of ``rho``,
    :math:`g^T\\epsilon + \\tfrac12\\epsilon^T A\\epsilon = 2^t\\,(g'^T u + \\tfrac12 u^T A' u)` with
    :math:`g' = 2^{s-t} g`, :math:`A' = 2^{2s-t} A`, :math:`\\lVert u\\rVert \\le 2^{-s}\\rho \\in [1/2, 1)`;
    :math:`2^t` is the binary order of the larger of the two terms, so every entry of :math:`A'` and :math:`g'`
    is at most 1 in magnitude. Multiplying by a power of two is exact (entries that underflow are below
    :math:`2^{-1074}` times the largest term and cannot change the result).
    """
    d = g.shape[0]
    s = math.frexp(rho)[1]
    orders = [2 * s + math.frexp(scale_A)[1]] if scale_A > 0 else []
    orders += [s + math.frexp(scale_g)[1]] if scale_g > 0 else []
    if not orders:  # A = 0 and g = 0: the model is zero on the whole ball
        return SharpnessResult(0.0, np.zeros(d))
    t = max(orders)
    unit = _trust_region_max(np.ldexp(A, 2 * s - t), np.ldexp(g, s - t), math.ldexp(rho, -s))
    u = unit.epsilon
    # g' may have underflowed to zero next to the curvature term; g scaled on its own cannot, and keeps the
    # documented sign rule eps^T g >= 0 (if g^T u < 0, -u is at least as good: the quadratic term is even)
    if scale_g > 0 and float(np.ldexp(g, -math.frexp(scale_g)[1]) @ u) < 0:
        u = -u
    magnitude = (f"about 10^{math.log10(unit.value) + t * math.log10(2):.0f}" if unit.value > 0 else "")
    try:
        value = math.ldexp(unit.value, t)
    except OverflowError:
        raise ValueError(
            f"the sharpness for A (max |A_ij| = {scale_A:.3g}), g (max |g_i| = {scale_g:.3g}) and rho = {rho!r} "
            f"is {magnitude}, beyond the largest float64 (1.8e308): lower rho or rescale A and g"
        ) from None
    if value == 0.0 and unit.value > 0:
        raise ValueError(
            f"the sharpness for rho = {rho!r}, A (max |A_ij| = {scale_A:.3g}) and g (max |g_i| = {scale_g:.3g}) "
            f"is {magnitude}, below the smallest positive float64 (4.9e-324): raise rho or rescale A and g"
        )
    return SharpnessResult(value, np.ldexp(u, s))


def _trust_region_max(A: np.ndarray, g: np.ndarray, rho: float) -> SharpnessResult:
    """The solver of :func:`sharpness_quadratic` on validated input with ``rho > 0`` and ``d >= 1``."""
    d = g.shape[0]
    A = 0.5 * (A + A.T)
    a, V = np.linalg.eigh(A)
    gamma = V.T @ g
    a_top = a[-1]
    scale = max(1.0, float(np.max(np.abs(a))))
    # eigenvalues closer than this are equal up to the rounding of eigh
    tol_eig = 1e3 * np.finfo(float).eps * scale * d
    gnorm = float(np.linalg.norm(g))

    def model(eps: np.ndarray) -> float:
        return float(g @ eps + 0.5 * eps @ A @ eps)

    def eps_of(lam: float, mask: np.ndarray | None = None) -> np.ndarray:
        """epsilon(lambda) = (lambda I - A)^{-1} g, restricted to the eigenvectors in ``mask``."""
        mask = np.ones(d, bool) if mask is None else mask
        coef = np.zeros(d)
        coef[mask] = gamma[mask] / (lam - a[mask])
        return V @ coef

    # Candidates are feasible points; the best is returned, so rounding near the hard case or near a zero
    # eigenvalue can only cost accuracy, never feasibility.
    candidates = []
    lam_low = max(a_top, 0.0)
    # eigenvalues within rounding of lam_low: the (near) pole of the secular equation
    near = a >= lam_low - tol_eig
    gamma_near = gamma[near]
    # Interior (lam = 0, a_top < 0) or hard case (lam = a_top >= 0): eps0 = (lam I - A)^+ g on the other
    # eigenvectors; if it lies in the ball, move along the near eigenspace to the sphere, in the direction of
    # g's component there if any (that only adds to the linear term; the curvature there is lam_low >= 0, or
    # zero up to rounding).
    eps0 = eps_of(lam_low, ~near)
    if np.linalg.norm(eps0) <= rho:
        if np.any(near):
            if np.linalg.norm(gamma_near) > 0:
                v = V[:, near] @ gamma_near / np.linalg.norm(gamma_near)
            else:
                v = V[:, -1] if float(g @ V[:, -1]) >= 0 else -V[:, -1]
            tau = math.sqrt(max(rho**2 - float(eps0 @ eps0), 0.0))
            eps0 = eps0 + tau * v
        candidates.append(eps0)
    exactly_hard = bool(np.linalg.norm(gamma_near) <= 1e-12 * max(gnorm, 1e-300))
    if not (exactly_hard and candidates):
        def secular(lam: float) -> float:
            if lam <= a_top:
                return -1.0 / rho  # left of or at the pole: ||eps|| = inf
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(gamma != 0, gamma / (lam - a), 0.0)
            n = float(np.linalg.norm(w))
            return (1.0 / n if n > 0 else math.inf) - 1.0 / rho

        # secular < 0 at lam_low: a pole at a_top (easy case), ||eps0|| > rho, or ||A^{-1} g|| > rho when
        # lam_low = 0 > a_top; otherwise the candidate above already solves the problem.
        if secular(lam_low) < 0:
            # ||eps(lam)|| <= ||g|| / (lam - a_top), so the upper end has ||eps|| <= rho
            step = max(gnorm / rho, 4 * np.finfo(float).eps * max(1.0, abs(lam_low)))
            while secular(lam_low + step) < 0:  # only by rounding (the bound is attained when d = 1)
                step *= 2.0
            lam = brentq(secular, lam_low, lam_low + step, xtol=1e-15 * max(1.0, abs(lam_low + step)),
                         rtol=4 * np.finfo(float).eps, maxiter=500)
            with np.errstate(divide="ignore", invalid="ignore"):
                eps = eps_of(lam)  # lam may round onto a_top when the root is within an ulp of it
            n = float(np.linalg.norm(eps))
            if 0 < n < math.inf:
                candidates.append(eps * (rho / n))  # remove the root finder's residual: on the sphere
    if not candidates:
        return SharpnessResult(0.0, np.zeros(d))
    values = [model(c) for c in candidates]
    i = int(np.argmax(values))
    return _nonnegative(values[i], candidates[i])


def _nonnegative(value: float, eps: np.ndarray) -> SharpnessResult:
    if value < 0.0:  # only by rounding: epsilon = 0 is feasible with value 0
        return SharpnessResult(0.0, np.zeros_like(eps))
    return SharpnessResult(value, eps)


def _project(eps: np.ndarray, rho: float, p: float) -> np.ndarray:
    """Euclidean projection onto the l_p ball of radius rho (p in {1, 2, inf})."""
    if p == 2:
        n = float(np.linalg.norm(eps))
        return eps if n <= rho else eps * (rho / n)
    if math.isinf(p):
        return np.clip(eps, -rho, rho)
    # p = 1: soft-thresholding at the level found by sorting (Duchi et al. 2008, Figure 1)
    a = np.abs(eps)
    if a.sum() <= rho:
        return eps
    u = np.sort(a)[::-1]
    css = np.cumsum(u)
    k = np.nonzero(u * np.arange(1, a.size + 1) > css - rho)[0][-1]
    tau = (css[k] - rho) / (k + 1.0)
    return np.sign(eps) * np.maximum(a - tau, 0.0)


def _random_in_ball(rng: np.random.Generator, d: int, rho: float, p: float) -> np.ndarray:
    """A random point of the l_p ball (uniform for p in {1, 2, inf})."""
    radius = rho * rng.uniform() ** (1.0 / d)
    if math.isinf(p):
        return rng.uniform(-rho, rho, size=d)
    z = rng.standard_normal(d) if p == 2 else rng.laplace(size=d)
    n = float(np.linalg.norm(z, ord=p))
    return z * (radius / n) if n > 0 else np.zeros(d)


def sharpness_pga(
    f: Callable[[np.ndarray], float],
    grad_f: Callable[[np.ndarray], Any],
    theta: Any,
    rho: float,
    num_restarts: int = 8,
    num_steps: int = 200,
    step_size: float = 0.5,
    seed: int = 0,
    p: float = 2,
) -> SharpnessResult:
    """Lower bound on :math:`\\kappa_\\rho(\\theta)` by projected gradient ascent over the ball.

    Maximises :math:`h(\\epsilon) = f(\\theta+\\epsilon) - f(\\theta)` over :math:`\\lVert\\epsilon\\rVert_p\\le\\rho`
    with steps :math:`\\epsilon \\leftarrow \\Pi(\\epsilon + \\alpha \\nabla f(\\theta+\\epsilon))` (:math:`\\Pi` the
    Euclidean projection onto the ball), accepting a step only if :math:`h` increases and adapting
    :math:`\\alpha` (grow by 1.5 on success, halve on failure). Starts: :math:`\\hat\\epsilon` of
    :func:`samlib.ascent.ascent_direction` and ``num_restarts - 1`` random points of the ball (seeded). The
    candidate :math:`\\epsilon = 0` is always included, so the value is :math:`\\ge 0`.

    Every returned value is :math:`h` at a feasible point, hence a **lower bound** on :math:`\\kappa_\\rho`; for a
    non-concave :math:`h` it may miss the global maximum. For quadratics compare with
    :func:`sharpness_quadratic`.

    Parameters
    ----------
    f, grad_f : callable
        The function and its gradient on arrays of shape (d,).
    theta : array_like or torch.Tensor, shape (d,)
        The point (a scalar is treated as shape ``(1,)``; a torch tensor is converted to a ``float64`` numpy
        array, which is what ``f`` and ``grad_f`` then receive).
    rho : float
        Radius :math:`\\rho \\ge 0`.
    num_restarts : int, default 8
        Number of starts (``>= 1``).
    num_steps : int, default 200
        Gradient evaluations per start (``>= 0``).
    step_size : float, default 0.5
        Initial step length, as a fraction of :math:`\\rho`: the first step of a start moves by
        ``step_size * rho`` along the gradient.
    seed : int, default 0
        Seed of ``np.random.default_rng`` for the random starts.
    p : {1, 2, inf}
        Norm of the ball (the projection is implemented for these three).

    Returns
    -------
    SharpnessResult
        Best ``value`` found (:math:`\\ge 0`) and its ``epsilon``. When ``rho = 0`` or ``theta`` is empty
        (``d = 0``) the ball holds only :math:`\\epsilon = 0`: value 0, as in :func:`sharpness_quadratic`.

    Raises
    ------
    TypeError
        If a number or ``theta`` is of the wrong kind (a string, ``None``, a bool, complex numbers), ``f`` or
        ``grad_f`` is not callable, ``f`` returns something other than a real number or ``grad_f`` something
        other than an array of real numbers.
    ValueError
        On invalid ``rho``, counts, ``step_size``, ``seed``, ``p`` not in {1, 2, inf}, non-finite ``theta``,
        a non-finite ``f(theta)`` or a gradient of the wrong shape.

    References
    ----------
    The sharpness is Definition 1 of the review (Liu, Chen & Shi 2022, eq. 1); the first start is the SAM
    perturbation of Foret et al. (2021, eq. 2). The projection onto the :math:`\\ell_1` ball follows J. Duchi,
    S. Shalev-Shwartz, Y. Singer and T. Chandra, "Efficient projections onto the l1-ball for learning in high
    dimensions", ICML 2008, Figure 1.

    Examples
    --------
    For :math:`f(x) = \\lVert x\\rVert^2` the maximiser is :math:`\\rho\\,\\theta/\\lVert\\theta\\rVert`, value
    :math:`2\\rho\\lVert\\theta\\rVert + \\rho^2`:

    >>> res = sharpness_pga(lambda x: float(x @ x), lambda x: 2 * x, np.array([3.0, 4.0]), rho=0.1)
    >>> print(f"{res.value:.12f}", res.epsilon)
    1.010000000000 [0.06 0.08]
    """
    f = check_callable(f, "f")
    grad_f = check_callable(grad_f, "grad_f")
    theta = np.asarray(check_finite_array(_as_numpy(theta), "theta"), dtype=float)
    if theta.ndim == 0:
        theta = theta.reshape(1)
    if theta.ndim != 1:
        raise ValueError(f"theta must be a vector of shape (d,), got shape {theta.shape}")
    rho = check_nonnegative(rho, "rho")
    num_restarts = check_int_at_least(num_restarts, 1, "num_restarts")
    num_steps = check_int_at_least(num_steps, 0, "num_steps")
    step_size = check_positive(step_size, "step_size")
    seed = check_int_at_least(seed, 0, "seed")
    p = check_p_norm(p, "p")
    if p not in (1.0, 2.0) and not math.isinf(p):
        raise ValueError(f"p must be 1, 2 or inf for sharpness_pga (projection onto the ball), got {p!r}")
    d = theta.size
    f0 = check_real_output(f(theta), "f(theta)")
    if not math.isfinite(f0):
        raise ValueError(f"f(theta) must be finite, got {f0!r}")

    def h(eps: np.ndarray) -> float:
        v = check_real_output(f(theta + eps), "f(theta + eps)") - f0
        return v if math.isfinite(v) else -math.inf

    def grad(eps: np.ndarray) -> np.ndarray:
        # non-finite entries pass: a step along them is not taken (see the loop below)
        gr = check_real_array(grad_f(theta + eps), "grad_f(theta + eps)")
        if gr.shape != theta.shape:
            raise ValueError(f"grad_f returned shape {gr.shape}, expected {theta.shape}")
        return gr

    best = SharpnessResult(0.0, np.zeros(d))
    if rho == 0.0 or d == 0:
        return best  # the ball holds only epsilon = 0 (and the random starts below would divide by d)
    rng = np.random.default_rng(seed)
    g0 = grad(np.zeros(d))
    starts = [ascent_direction(g0, rho, p) if np.all(np.isfinite(g0)) else np.zeros(d)]
    starts += [_random_in_ball(rng, d, rho, p) for _ in range(num_restarts - 1)]
    for eps in starts:
        val = h(eps)
        gr = grad(eps)
        gnorm = float(np.linalg.norm(gr))
        alpha = step_size * rho / gnorm if gnorm > 0 else 0.0
        for _ in range(num_steps):
            if alpha == 0.0 or not np.all(np.isfinite(gr)):
                break
            cand = _project(eps + alpha * gr, rho, p)
            cval = h(cand)
            if cval > val:
                eps, val = cand, cval
                gr = grad(eps)
                alpha *= 1.5
            else:
                alpha *= 0.5
                if alpha * float(np.linalg.norm(gr)) < 1e-12 * rho:
                    break  # no ascent step of any useful length: a local maximum on the ball
        if val > best.value:
            best = SharpnessResult(val, eps)
    return best
