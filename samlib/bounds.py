"""PAC-Bayes bounds: Theorem 1 of Foret et al. (2021), its proof's intermediate steps, and Lemma 1.

Notation follows the appendix of :cite:`foret2021sam`: ``k`` parameters, ``n`` training
samples, a loss with values in ``[0, 1]``, confidence ``1 - delta``.  The review
:cite:`liu2022review` writes ``d`` for ``k``.

Three families of functions live here:

* **Lemma 1 / generic PAC-Bayes.**  :func:`mcallester_bound` (the square-root bound the SAM
  paper uses), :func:`kl_bernoulli`, :func:`kl_inverse_upper` and :func:`pac_bayes_kl_bound`
  (the tighter Seeger-Maurer "PAC-Bayes-kl" bound), :func:`kl_gaussians`.
* **Theorem 1 as stated.**  :func:`sam_pac_bayes_bound` returns the complexity term and the
  total of the right-hand side exactly as Foret et al. state it, with the sharpness term
  supplied by the caller.
* **The proof, step by step.**  :func:`sam_noise_scale` (the posterior standard deviation the
  proof actually uses), :func:`sam_prior_grid_choice` (the prior-variance grid and its union
  bound) and :func:`sam_intermediate_bound` (the bound before the constants are rounded).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_probability,
    check_real,
    describe,
)

__all__ = [
    "kl_gaussians",
    "kl_bernoulli",
    "kl_inverse_upper",
    "mcallester_bound",
    "pac_bayes_kl_bound",
    "SamBound",
    "sam_pac_bayes_bound",
    "sam_noise_scale",
    "laurent_massart_radius_sq",
    "sam_prior_grid_choice",
    "sam_intermediate_bound",
    "sam_nonvacuous_sample_size",
]


def _check_n(n: int) -> int:
    return check_int_at_least(n, 2, "n")


def _check_k(k: int) -> int:
    return check_int_at_least(k, 1, "k")


def _log_ratio(a: float, b: float) -> float:
    """``log(a / b)`` for ``a, b > 0``, also where ``a / b`` overflows (``b`` tiny, e.g. ``delta = 1e-310``).

    The quotient is used where it is finite and nonzero, so ordinary inputs give the same bits as the plain
    formula; otherwise the difference of the logarithms, which is always representable.
    """
    ratio = a / b
    if 0.0 < ratio < math.inf:
        return math.log(ratio)
    return math.log(a) - math.log(b)


def _log1p_scaled_ratio(w_norm_sq: float, rho: float, factor_sq: float) -> float:
    """``log(1 + w_norm_sq * factor_sq / rho**2)`` for every representable input.

    ``rho**2`` underflows for ``rho < 1.5e-154`` (and is imprecise while subnormal) and the ratio overflows
    once it passes ``1.8e308``, although its logarithm is a modest number (at most a few thousand). There
    the logarithm is assembled from the logarithms of the factors, with ``log(1 + e^a) = a + log(1 + e^-a)``.
    """
    rho_sq = rho * rho  # not rho**2: a float power raises OverflowError where a product gives inf
    if rho_sq >= sys.float_info.min:
        x = w_norm_sq / rho_sq * factor_sq
        if math.isfinite(x):
            return math.log1p(x)  # the formula as written: ordinary inputs keep their bits
    if w_norm_sq == 0.0:
        return 0.0
    log_x = math.log(w_norm_sq) + math.log(factor_sq) - 2.0 * math.log(rho)
    if log_x > 0:
        return log_x + math.log1p(math.exp(-log_x))
    return math.log1p(math.exp(log_x))


def _finite_or_raise(value: float, what: str) -> float:
    """``value`` if finite, else ValueError saying which inputs make ``what`` exceed the float range."""
    if not math.isfinite(value):
        raise ValueError(f"{what} is not representable as a float ({value!r})")
    return value


# ----------------------------------------------------------------------------------------
# Generic PAC-Bayes pieces
# ----------------------------------------------------------------------------------------
def kl_gaussians(mu_q, var_q, mu_p, var_p) -> float:
    r"""KL divergence between two Gaussians with diagonal covariances.

    .. math::
        \mathrm{KL}(\mathcal N(\mu_Q, \mathrm{diag}\,v_Q) \,\|\, \mathcal N(\mu_P, \mathrm{diag}\,v_P))
        = \tfrac12 \sum_i \Big[\frac{v_{Q,i} + (\mu_{Q,i}-\mu_{P,i})^2}{v_{P,i}} - 1
          + \log\frac{v_{P,i}}{v_{Q,i}}\Big].

    With isotropic ``v_Q = sigma_Q**2``, ``v_P = sigma_P**2`` this is the expression used in
    the appendix of :cite:`foret2021sam`.

    Parameters
    ----------
    mu_q, mu_p : array_like, shape (k,) (or scalars, broadcast)
        Means of the posterior Q and the prior P.
    var_q, var_p : array_like or float, > 0
        Variances (per coordinate, or one scalar for an isotropic Gaussian).

    Returns
    -------
    float
        The divergence in nats (>= 0).

    Examples
    --------
    >>> round(kl_gaussians([1.0, 0.0], 1.0, [0.0, 0.0], 1.0), 6)
    0.5
    """
    mu_q = check_finite_array(mu_q, "mu_q")
    mu_p = check_finite_array(mu_p, "mu_p")
    var_q = check_finite_array(var_q, "var_q")
    var_p = check_finite_array(var_p, "var_p")
    if np.any(var_q <= 0):
        raise ValueError(f"var_q must be > 0, got min {float(np.min(var_q))!r}")
    if np.any(var_p <= 0):
        raise ValueError(f"var_p must be > 0, got min {float(np.min(var_p))!r}")
    try:
        mu_q, mu_p, var_q, var_p = np.broadcast_arrays(mu_q, mu_p, var_q, var_p)
    except ValueError:
        raise ValueError(
            f"mu_q, var_q, mu_p and var_p must broadcast to one shape, got shapes {mu_q.shape}, {var_q.shape}, "
            f"{mu_p.shape} and {var_p.shape}"
        ) from None
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        terms = (var_q + (mu_q - mu_p) ** 2) / var_p - 1.0 + np.log(var_p / var_q)
        kl = float(0.5 * np.sum(terms))
    return _finite_or_raise(kl, "KL(Q||P) for these means and variances")


def kl_bernoulli(q, p):
    r"""Binary relative entropy :math:`\mathrm{kl}(q\|p) = q\log\frac qp + (1-q)\log\frac{1-q}{1-p}`.

    Uses the conventions ``0 log 0 = 0``; ``p`` in {0, 1} with ``q != p`` gives ``inf`` (the divergence is
    infinite there, not undefined). Works elementwise on arrays (broadcast).

    Raises
    ------
    ValueError
        If ``q`` or ``p`` holds nan or a value outside ``[0, 1]`` (the message names which), or their shapes
        do not broadcast.
    TypeError
        If ``q`` or ``p`` does not hold real numbers.

    Examples
    --------
    >>> round(kl_bernoulli(0.0, 0.5), 6)   # log 2
    0.693147
    """
    q = np.asarray(_check_unit_interval(q, "q"))
    p = np.asarray(_check_unit_interval(p, "p"))
    try:
        np.broadcast_shapes(q.shape, p.shape)
    except ValueError:
        raise ValueError(f"q and p must broadcast to one shape, got shapes {q.shape} and {p.shape}") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(q > 0, q * np.log(q / p), 0.0)
        b = np.where(q < 1, (1 - q) * np.log((1 - q) / (1 - p)), 0.0)
    out = a + b
    return float(out) if out.ndim == 0 else out


def _check_unit_interval(value, name: str) -> np.ndarray:
    arr = check_finite_array(value, name)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {describe(value)}")
    return arr


def kl_inverse_upper(q: float, c: float) -> float:
    r"""Upper inverse of the binary kl: :math:`\sup\{p \in [q, 1] : \mathrm{kl}(q\|p) \le c\}`.

    Solved with :func:`scipy.optimize.brentq` (``kl(q||.)`` is increasing on ``[q, 1)``).
    This is the inversion behind the PAC-Bayes-kl bound :cite:`seeger2002pac,maurer2004note`
    and the Monte-Carlo correction of :cite:`dziugaite2017computing`.

    Parameters
    ----------
    q : float in [0, 1]
        Empirical (or estimated) error.
    c : float >= 0
        Allowed divergence.

    Examples
    --------
    >>> round(kl_inverse_upper(0.0, math.log(2)), 6)   # kl(0||p) = -log(1-p)
    0.5
    """
    q = check_real(q, "q")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q!r}")
    c = check_nonnegative(c, "c")
    if q >= 1.0 or c == 0.0:
        return q
    # Solve in z = -log(1 - p): kl(q||p) is steep as p -> 1 but smooth in z, so the root is
    # accurate in kl units too.  kl(q||1) = inf for q < 1, so z stays finite.
    def f(z: float) -> float:
        return kl_bernoulli(q, -math.expm1(-z)) - c

    z_lo, z_hi = -math.log1p(-q), 40.0
    if f(z_hi) <= 0:
        return 1.0
    z = brentq(f, z_lo, z_hi, xtol=1e-13, rtol=1e-13)
    return float(-math.expm1(-z))


def mcallester_bound(kl: float, n: int, delta: float) -> float:
    r"""Gap term of Lemma 1 (the PAC-Bayes bound used by Foret et al.).

    .. math:: \sqrt{\frac{\mathrm{KL}(Q\|P) + \log(n/\delta)}{2(n-1)}}

    so that with probability ``1 - delta`` over ``S``, simultaneously for all posteriors Q,
    :math:`\mathbb E_Q L_D \le \mathbb E_Q L_S + ` this term (loss in ``[0, 1]``).  It is
    the form quoted in :cite:`foret2021sam` (appendix) and :cite:`liu2022review` (Lemma 1);
    for ``n >= 4`` it follows from the bound of :cite:`maurer2004note` by Pinsker's inequality.

    Every valid input gives a finite answer: :math:`\log(n/\delta)` is computed as a difference of
    logarithms where :math:`n/\delta` overflows (a subnormal ``delta``).

    Raises
    ------
    ValueError
        If ``kl < 0``, ``n < 2`` or ``delta`` is not in ``(0, 1)``.

    Examples
    --------
    >>> round(mcallester_bound(0.0, 1000, 1e-310), 4)
    0.6006
    """
    kl = check_nonnegative(kl, "kl")
    n = _check_n(n)
    delta = check_probability(delta, "delta")
    return math.sqrt((kl + _log_ratio(n, delta)) / (2 * (n - 1)))


def pac_bayes_kl_bound(emp_risk: float, kl: float, n: int, delta: float) -> float:
    r"""The PAC-Bayes-kl bound of :cite:`seeger2002pac` with Maurer's constant :cite:`maurer2004note`.

    .. math::
        \mathbb E_Q L_D \le \mathrm{kl}^{-1}\Big(\mathbb E_Q L_S,\;
        \frac{\mathrm{KL}(Q\|P) + \log(2\sqrt n/\delta)}{n}\Big)

    with probability ``1 - delta`` (loss in ``[0, 1]``); used by :cite:`dziugaite2017computing`.

    Raises
    ------
    TypeError
        If an argument is not a real number (``n`` an integer).
    ValueError
        If ``emp_risk`` is not in ``[0, 1]``, ``kl < 0``, ``n < 2`` or ``delta`` is not in ``(0, 1)``.
    """
    emp_risk = check_real(emp_risk, "emp_risk")
    if not 0.0 <= emp_risk <= 1.0:
        raise ValueError(f"emp_risk must lie in [0, 1], got {describe(emp_risk)}")
    kl = check_nonnegative(kl, "kl")
    n = _check_n(n)
    delta = check_probability(delta, "delta")
    return kl_inverse_upper(emp_risk, (kl + _log_ratio(2 * math.sqrt(n), delta)) / n)


# ----------------------------------------------------------------------------------------
# Theorem 1 as stated
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamBound:
    """Right-hand side of Theorem 1: ``total = sharpness_term + complexity``."""

    complexity: float
    total: float
    sharpness_term: float


def _theorem1_numerator(
    k: int, n: float, log_n: float, log_n_over_delta: float, w_norm_sq: float, rho: float
) -> float:
    """``k log(1 + |w|^2/rho^2 (1 + sqrt(log n / k))^2) + 4 log(n/delta) + 8 log(6n + 3k)``.

    ``n`` may be real (:func:`sam_nonvacuous_sample_size` solves for it); its logarithms come from the caller.
    """
    factor_sq = (1.0 + math.sqrt(log_n / k)) ** 2
    six_n = 6 * n + 3 * k
    # 6n overflows for a real n beyond 3e307 (sam_nonvacuous_sample_size with a large n_max): log n + log(6 + 3k/n)
    log_six_n = math.log(six_n) if six_n < math.inf else log_n + math.log(6.0 + 3.0 * k / n)
    return k * _log1p_scaled_ratio(w_norm_sq, rho, factor_sq) + 4 * log_n_over_delta + 8 * log_six_n


def sam_pac_bayes_bound(
    k: int, n: int, w_norm_sq: float, rho: float, delta: float, sharpness_term: float = 0.0
) -> SamBound:
    r"""Theorem 1 of :cite:`foret2021sam` (appendix form), right-hand side.

    .. math::
        L_D(w) \le \max_{\|\epsilon\|_2\le\rho} L_S(w+\epsilon)
        + \sqrt{\frac{k\log\!\big(1 + \frac{\|w\|_2^2}{\rho^2}\big(1+\sqrt{\tfrac{\log n}{k}}\big)^2\big)
        + 4\log\frac n\delta + 8\log(6n+3k)}{n-1}}

    under the assumption :math:`L_D(w) \le \mathbb E_{\epsilon} L_D(w+\epsilon)` for Gaussian
    noise (see :func:`sam_noise_scale` for the scale the proof uses).

    Parameters
    ----------
    k : int >= 1
        Number of parameters (``d`` in the review).
    n : int >= 2
        Number of training samples.
    w_norm_sq : float >= 0
        Squared Euclidean norm of the parameters.
    rho : float > 0
        Radius of the sharpness ball.
    delta : float in (0, 1)
        Failure probability.
    sharpness_term : float, default 0
        :math:`\max_{\|\epsilon\|\le\rho} L_S(w+\epsilon)`, measured by the caller (in [0, 1]).

    Returns
    -------
    SamBound
        ``complexity`` (the square root) and ``total = sharpness_term + complexity``.
        The bound is vacuous for a [0, 1] loss when ``total >= 1``. Every valid input gives a finite
        answer: the logarithms are computed from the logarithms of their factors where ``rho**2``
        underflows or a ratio overflows (``rho = 1e-200``, ``delta = 1e-310``).

    Examples
    --------
    >>> b = sam_pac_bayes_bound(k=545810, n=1000, w_norm_sq=400.0, rho=0.05, delta=0.05)
    >>> b.complexity > 1
    True
    """
    k = _check_k(k)
    n = _check_n(n)
    w_norm_sq = check_nonnegative(w_norm_sq, "w_norm_sq")
    rho = check_positive(rho, "rho")
    delta = check_probability(delta, "delta")
    sharpness_term = check_nonnegative(sharpness_term, "sharpness_term")
    num = _theorem1_numerator(k, n, math.log(n), _log_ratio(n, delta), w_norm_sq, rho)
    comp = math.sqrt(num / (n - 1))
    return SamBound(complexity=comp, total=sharpness_term + comp, sharpness_term=sharpness_term)


def sam_nonvacuous_sample_size(
    k: int, w_norm_sq: float, rho: float, delta: float, sharpness_term: float = 0.0, n_max: float = 1e15
) -> float:
    """Smallest (real) ``n`` at which Theorem 1's total drops below 1, by :func:`scipy.optimize.brentq`.

    ``w_norm_sq`` and ``sharpness_term`` are held fixed as ``n`` grows.  Returns ``inf`` if
    the total is still >= 1 at ``n_max`` (e.g. ``sharpness_term >= 1``).
    """
    k = _check_k(k)
    sharpness_term = check_nonnegative(sharpness_term, "sharpness_term")
    n_max = check_real(n_max, "n_max")
    if not 2.0 < n_max < math.inf:
        raise ValueError(f"n_max must be finite and > 2, got {n_max!r}")

    def excess(log_n: float) -> float:
        n = math.exp(log_n)
        num = _theorem1_numerator(k, n, log_n, log_n - math.log(delta), w_norm_sq, rho)
        return sharpness_term + math.sqrt(num / (n - 1)) - 1.0

    # validate through the public function once
    sam_pac_bayes_bound(k, 2, w_norm_sq, rho, delta, sharpness_term)
    lo, hi = math.log(2.0), math.log(n_max)
    if excess(hi) >= 0:
        return math.inf
    if excess(lo) < 0:
        return 2.0
    return math.exp(brentq(excess, lo, hi, xtol=1e-10))


# ----------------------------------------------------------------------------------------
# The proof, step by step
# ----------------------------------------------------------------------------------------
def sam_noise_scale(rho: float, k: int, n: int) -> float:
    r"""Posterior standard deviation used in the proof of Theorem 1.

    .. math:: \sigma = \frac{\rho}{\sqrt k + \sqrt{\log n}}, \qquad
        \text{so that } \sigma^2 k\,(1+\sqrt{\log n / k})^2 = \rho^2 .

    With this choice the chi-square tail bound of :cite:`laurent2000adaptive` gives
    :math:`\|\epsilon\| \le \rho` with probability at least :math:`1 - 1/\sqrt n` for
    :math:`\epsilon \sim \mathcal N(0, \sigma^2 I_k)`; it is the noise level at which the
    theorem's assumption :math:`L_D(w)\le\mathbb E_\epsilon L_D(w+\epsilon)` is invoked.
    """
    rho = check_positive(rho, "rho")
    k = _check_k(k)
    n = _check_n(n)
    return rho / (math.sqrt(k) + math.sqrt(math.log(n)))


def laurent_massart_radius_sq(k: int, t: float, sigma: float = 1.0) -> float:
    r"""Squared radius exceeded by :math:`\|\epsilon\|^2`, :math:`\epsilon\sim\mathcal N(0,\sigma^2 I_k)`, w.p. <= e^{-t}.

    .. math:: \sigma^2\,(k + 2\sqrt{k t} + 2t)

    (:cite:`laurent2000adaptive`, Lemma 1).
    """
    k = _check_k(k)
    t = check_nonnegative(t, "t")
    sigma = check_positive(sigma, "sigma")
    return _finite_or_raise(sigma * sigma * (k + 2 * math.sqrt(k * t) + 2 * t), "the radius for this sigma and t")


def sam_prior_grid_choice(k: int, n: int, w_norm_sq: float, sigma: float) -> dict:
    r"""The prior-variance grid of the proof and the grid point it selects.

    The prior is :math:`P=\mathcal N(0,\sigma_P^2 I)` with :math:`\sigma_P^2` restricted to the
    data-independent grid :math:`\{c\,e^{(1-j)/k} : j = 1, 2, \dots\}`,
    :math:`c = \sigma^2(1+e^{4n/k})`, and grid point ``j`` is given confidence
    :math:`\delta_j = 6\delta/(\pi^2 j^2)` (so the union bound costs nothing in total).  The
    proof picks :math:`j = \lfloor 1 + k\log(c/\sigma_*^2)\rfloor` where
    :math:`\sigma_*^2 = \sigma^2 + \|w\|^2/k` is the KL-optimal prior variance for the
    posterior :math:`\mathcal N(w, \sigma^2 I)`; then
    :math:`\sigma_*^2 \le \sigma_P^2 \le e^{1/k}\sigma_*^2`.

    If :math:`\sigma_*^2 > c` the grid cannot reach it (``j`` would be < 1); ``j = 1`` is
    returned and ``in_range`` is False (Theorem 1's bound is then > 2, i.e. vacuous).

    Returns
    -------
    dict
        ``j`` (int), ``sigma_p_sq``, ``sigma_opt_sq`` and ``in_range`` (bool).

    Raises
    ------
    ValueError
        If ``k < 1``, ``n < 2``, ``w_norm_sq < 0``, ``sigma**2`` is not a normal float, or
        :math:`\sigma_*^2` or :math:`\sigma_P^2` overflows a float (``w_norm_sq`` near ``1.8e308``).
    """
    k = _check_k(k)
    n = _check_n(n)
    w_norm_sq = check_nonnegative(w_norm_sq, "w_norm_sq")
    sigma = check_positive(sigma, "sigma")
    if not sys.float_info.min <= sigma * sigma < math.inf:
        # the variances below are squares of sigma: outside this range they underflow or overflow
        raise ValueError(f"sigma must lie in [1.5e-154, 1.3e154] so that sigma**2 is a normal float, got {sigma!r}")
    log_c = 2 * math.log(sigma) + np.logaddexp(0.0, 4.0 * n / k)  # exp(4n/k) overflows for n >> k
    sigma_opt_sq = sigma**2 + w_norm_sq / k
    if not math.isfinite(sigma_opt_sq):
        raise ValueError(
            f"sigma**2 + w_norm_sq / k overflows a float for sigma={sigma!r}, w_norm_sq={w_norm_sq!r} and k={k}"
        )
    j_real = 1.0 + k * (log_c - math.log(sigma_opt_sq))
    in_range = j_real >= 1.0
    j = int(math.floor(j_real)) if in_range else 1
    try:
        sigma_p_sq = math.exp(log_c + (1 - j) / k)
    except OverflowError:
        raise ValueError(
            f"the prior variance sigma_p**2 >= sigma**2 + w_norm_sq / k = {sigma_opt_sq!r} overflows a float "
            f"for sigma={sigma!r} and w_norm_sq={w_norm_sq!r}"
        ) from None
    return {"j": j, "sigma_p_sq": sigma_p_sq, "sigma_opt_sq": sigma_opt_sq, "in_range": bool(in_range)}


def sam_intermediate_bound(
    k: int, n: int, w_norm_sq: float, sigma: float, delta: float, gibbs_emp_risk: float = 0.0
) -> dict:
    r"""The bound of the proof of Theorem 1 before its constants are rounded.

    For the posterior :math:`Q=\mathcal N(w,\sigma^2 I_k)` and the grid prior of
    :func:`sam_prior_grid_choice`, Lemma 1 at confidence :math:`\delta_j` gives

    .. math::
        \mathbb E_{\epsilon} L_D(w+\epsilon) \le \mathbb E_{\epsilon} L_S(w+\epsilon)
        + \sqrt{\frac{\mathrm{KL}(Q\|P_j) + \log(n/\delta_j)}{2(n-1)}} .

    The proof then relaxes :math:`\mathrm{KL} \le \tfrac12[1 + k\log(1 + \|w\|^2/(k\sigma^2))]`
    and :math:`\log(n/\delta_j) \le \log(n/\delta) + 2\log(6n+3k)`.  Both the exact and the
    relaxed values are returned so each step can be checked.

    Parameters
    ----------
    gibbs_emp_risk : float in [0, 1]
        :math:`\mathbb E_\epsilon L_S(w+\epsilon)`, supplied by the caller.

    Returns
    -------
    dict
        ``j``, ``sigma_p_sq``, ``kl`` (exact), ``kl_relaxed``, ``log_term`` (exact
        :math:`\log(n/\delta_j)`), ``log_term_relaxed``, ``gap`` (exact square root),
        ``gap_relaxed`` and ``total = gibbs_emp_risk + gap``.
    """
    k = _check_k(k)
    n = _check_n(n)
    delta = check_probability(delta, "delta")
    gibbs_emp_risk = check_nonnegative(gibbs_emp_risk, "gibbs_emp_risk")
    grid = sam_prior_grid_choice(k, n, w_norm_sq, sigma)
    j, sp2 = grid["j"], grid["sigma_p_sq"]
    # KL(N(w, s^2 I) || N(0, sp2 I)) in closed form (k identical coordinates)
    kl = 0.5 * ((k * sigma**2 + w_norm_sq) / sp2 - k + k * math.log(sp2 / sigma**2))
    _finite_or_raise(kl, f"KL(Q||P_j) for w_norm_sq={w_norm_sq!r} and sigma={sigma!r}")
    kl_relaxed = 0.5 * (1.0 + k * _log1p_scaled_ratio(w_norm_sq, sigma, 1.0 / k))
    delta_j = 6.0 * delta / (math.pi**2 * j**2)
    if delta_j >= sys.float_info.min:
        log_term = _log_ratio(n, delta_j)
    else:  # delta_j underflows (a tiny delta and a huge j): log(n / delta_j) from the logarithms of its factors
        log_term = math.log(n) - (math.log(6.0) + math.log(delta) - 2.0 * math.log(math.pi) - 2.0 * math.log(j))
    log_term_relaxed = _log_ratio(n, delta) + 2.0 * math.log(6 * n + 3 * k)
    gap = math.sqrt((kl + log_term) / (2 * (n - 1)))
    gap_relaxed = math.sqrt((kl_relaxed + log_term_relaxed) / (2 * (n - 1)))
    return {
        "j": j,
        "sigma_p_sq": sp2,
        "in_range": grid["in_range"],
        "kl": kl,
        "kl_relaxed": kl_relaxed,
        "log_term": log_term,
        "log_term_relaxed": log_term_relaxed,
        "gap": gap,
        "gap_relaxed": gap_relaxed,
        "total": gibbs_emp_risk + gap,
    }
