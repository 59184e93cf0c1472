"""Does SAM prefer flat minima? Two-basin landscapes, basin statistics, and a radius sweep on an MLP.

The review (Liu, Chen & Shi 2022, sections 2.1.2 and 3.2) says that SAM (Foret et al. 2021) is hard to
stop where the loss is sharp and likely to stop where it is flat, and that a larger radius
:math:`\\rho` buys a flatter minimum at a higher loss. This module provides what the chapter
``book/flatness.ipynb`` needs to test both statements:

* :func:`two_basin`, a one-dimensional family with a sharp and a flat minimum whose basin width,
  curvature ratio and depth difference are set independently;
* :func:`basin_sweep`, many vectorised SAM and GD runs on that family over a grid of
  :math:`\\rho/w`, curvature ratios and learning rates, with the end points labelled by
  :func:`label_endpoints` and counted;
* :func:`proportion_interval`, Wilson or Clopper-Pearson intervals for those counts (scipy);
* :func:`mlp_rho_sweep`, a grid of radii on a small ReLU network trained on the digits, recording
  the final training loss, :math:`\\lambda_{\\max}` (Lanczos) and the Hessian trace (Hutchinson).

The runs themselves use :func:`samlib.studies.dynamics.run_batch` (toy) and
:func:`samlib.studies.experiments.train_stacked` (network); nothing is re-implemented here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy as sp
import torch

from samlib._validation import check_finite_array, check_int_at_least, check_nonnegative, check_positive
from samlib.data import load_digits_split
from samlib.hessian import hessian_trace, lambda_max, model_loss_fn
from samlib.landscapes import Landscape
from samlib.nets import member_module
from samlib.studies.dynamics import BatchRun, run_batch
from samlib.studies.experiments import train_stacked

__all__ = [
    "two_basin",
    "escape_radius",
    "label_endpoints",
    "LABELS",
    "proportion_interval",
    "BasinSweep",
    "basin_sweep",
    "mlp_rho_sweep",
    "MLP_RECORD_KEYS",
]

LABELS = ("sharp", "flat", "stopped-elsewhere", "moving")


def two_basin(kappa: float, width: float = 1.0, lam_sharp: float = 1.0, gap: float = 0.0,
              temperature: float = 0.02) -> Landscape:
    """A sharp and a flat quadratic basin joined by a smooth minimum (one dimension).

    .. math::

        L(x) = -\\tau \\log\\bigl(e^{-q_s(x)/\\tau} + e^{-q_f(x)/\\tau}\\bigr),\\qquad
        q_s = \\tfrac12\\lambda_s x^2,\\quad q_f = \\tfrac12\\lambda_f (x-c)^2 + \\Delta,

    with :math:`\\lambda_f = \\lambda_s/\\kappa` and :math:`c = w(1+\\sqrt\\kappa)`, so that for
    :math:`\\Delta = 0` the two quadratics cross at :math:`x = w`: the sharp basin reaches a distance
    :math:`w` from its minimum towards the flat one, the flat basin a distance :math:`\\sqrt\\kappa\\, w`
    from its own. :math:`\\tau = ` ``temperature`` :math:`\\cdot\\lambda_s w^2` smooths the ridge; the
    minima stay at :math:`0` and :math:`c` up to :math:`e^{-\\text{barrier}/\\tau}` (about
    :math:`10^{-11}` for the default). With ``gap`` :math:`\\Delta > 0` the flat minimum lies higher.

    In units :math:`u = x/w` the SAM update depends on :math:`\\eta\\lambda_s`, :math:`\\rho/w` and
    :math:`\\kappa` only, which is why the chapter sweeps :math:`\\rho/w`.

    Parameters
    ----------
    kappa : float
        Curvature ratio :math:`\\lambda_s/\\lambda_f \\ge 1` (1: two identical basins).
    width : float
        :math:`w > 0`, distance from the sharp minimum to the ridge.
    lam_sharp : float
        :math:`\\lambda_s > 0`, curvature at the sharp minimum.
    gap : float
        :math:`\\Delta \\ge 0`, how much higher the flat minimum is.
    temperature : float
        Smoothing of the ridge, relative to :math:`\\lambda_s w^2`; ``> 0``.

    Returns
    -------
    Landscape
        ``minima = (0, c)`` (sharp first), ``params`` with ``kappa, width, lam_sharp, lam_flat, c, gap,
        tau``.

    Raises
    ------
    ValueError
        If ``kappa < 1`` or a scale is not positive (``gap`` negative).
    """
    kappa = check_positive(kappa, "kappa")
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1 (sharp basin first), got {kappa!r}")
    w = check_positive(width, "width")
    lam_s = check_positive(lam_sharp, "lam_sharp")
    gap = check_nonnegative(gap, "gap")
    tau = check_positive(temperature, "temperature") * lam_s * w**2
    lam_f = lam_s / kappa
    c = w * (1.0 + math.sqrt(kappa))

    def parts(theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(theta, dtype=float)
        if x.shape[-1:] != (1,):
            raise ValueError(f"theta must have shape (..., 1), got {x.shape}")
        x = x[..., 0]
        qs = 0.5 * lam_s * x**2
        qf = 0.5 * lam_f * (x - c) ** 2 + gap
        m = np.minimum(qs, qf)
        es, ef = np.exp(-(qs - m) / tau), np.exp(-(qf - m) / tau)  # the larger term is 1: no underflow
        return x, m - tau * np.log(es + ef), es / (es + ef)

    def value(theta: Any) -> Any:
        v = parts(theta)[1]
        return float(v) if v.ndim == 0 else v

    def grad(theta: Any) -> np.ndarray:
        x, _, p = parts(theta)
        # dL/dx = p q_s' + (1 - p) q_f', p the soft-min weight of the sharp quadratic
        return (p * lam_s * x + (1 - p) * lam_f * (x - c))[..., None]

    def hessian(theta: Any) -> np.ndarray:
        x, _, p = parts(theta)
        gs, gf = lam_s * x, lam_f * (x - c)
        # d/dx of the soft-min weight: p (1 - p) (q_f' - q_s') / tau
        h = p * lam_s + (1 - p) * lam_f - p * (1 - p) * (gs - gf) ** 2 / tau
        return h[..., None, None]

    def expr() -> tuple:
        xs = sp.Symbol("x", real=True)
        qs = sp.nsimplify(lam_s) / 2 * xs**2
        qf = sp.nsimplify(lam_f) / 2 * (xs - sp.nsimplify(c)) ** 2 + sp.nsimplify(gap)
        t = sp.nsimplify(tau)
        return -t * sp.log(sp.exp(-qs / t) + sp.exp(-qf / t)), (xs,)

    return Landscape(
        name="two_basin", dim=1, value=value, grad=grad, hessian=hessian,
        params={"kappa": kappa, "width": w, "lam_sharp": lam_s, "lam_flat": lam_f, "c": c,
                "gap": gap, "tau": tau},
        minima=(np.zeros(1), np.array([c])),
        description="soft minimum of a sharp and a flat quadratic basin",
        _sympy=expr,
    )


def escape_radius(eta_lam: Any) -> np.ndarray:
    """Smallest :math:`\\rho/w` at which SAM's two-cycle in the sharp basin reaches over the ridge.

    On :math:`\\tfrac12\\lambda_s x^2` with :math:`0<\\eta\\lambda_s<2`, SAM ends on the cycle
    :math:`\\pm a`, :math:`a = \\eta\\rho\\lambda_s/(2-\\eta\\lambda_s)` (Bartlett, Long & Bousquet 2023);
    its ascent point lies at :math:`a + \\rho = 2\\rho/(2-\\eta\\lambda_s)`. Once that exceeds the
    basin's half-width :math:`w`, the gradient SAM uses belongs to the other basin and the cycle is
    destroyed:

    .. math:: \\rho/w > 1 - \\eta\\lambda_s/2.

    Raises
    ------
    ValueError
        Unless :math:`0 < \\eta\\lambda_s < 2`.
    """
    el = check_finite_array(eta_lam, "eta_lam")
    if np.any(el <= 0) or np.any(el >= 2):
        raise ValueError(f"eta_lam must lie in (0, 2), got {eta_lam!r}")
    return 1.0 - el / 2.0


def label_endpoints(run: BatchRun, landscape: Landscape, tol: float = 0.1,
                    stop_tol: float = 1e-9) -> np.ndarray:
    """Where each run ended: ``"sharp"``, ``"flat"``, ``"stopped-elsewhere"`` or ``"moving"``.

    A run ends at a minimum if the centre of its last two iterates (the centre of a two-cycle) lies
    within ``tol * w`` of it; otherwise it has *stopped elsewhere* if its last step is shorter than
    ``stop_tol * w`` (a fixed point of SAM that is not a minimum), and is *moving* (still travelling, or
    cycling away from the minima) if not. Diverged runs are *moving*.

    Parameters
    ----------
    run : BatchRun
        End of the runs, ``d = 1``.
    landscape : Landscape
        A :func:`two_basin` landscape (its ``minima`` and ``params["width"]`` are used).
    tol, stop_tol : float
        Relative to the width :math:`w`.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
    """
    tol = check_positive(tol, "tol")
    stop_tol = check_positive(stop_tol, "stop_tol")
    w = landscape.params["width"]
    sharp, flat = (float(m[0]) for m in landscape.minima)
    centre = run.centre[:, 0]
    labels = np.full(centre.shape, "moving", dtype=object)
    with np.errstate(invalid="ignore"):
        labels[run.step_size < stop_tol * w] = "stopped-elsewhere"
        labels[np.abs(centre - sharp) < tol * w] = "sharp"
        labels[np.abs(centre - flat) < tol * w] = "flat"
    labels[run.diverged] = "moving"
    return labels.astype(str)


def proportion_interval(k: Any, n: Any, level: float = 0.95, method: str = "wilson") -> np.ndarray:
    """Confidence interval for a binomial proportion :math:`k/n`, element-wise.

    Uses ``scipy.stats.binomtest(k, n).proportion_ci`` with ``method`` ``"wilson"`` (Wilson 1927,
    score interval) or ``"exact"`` (Clopper & Pearson 1934).

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials, :math:`0 \\le k \\le n`, :math:`n \\ge 1`, broadcast together.
    level : float
        Confidence level in (0, 1).
    method : {"wilson", "exact"}

    Returns
    -------
    numpy.ndarray, shape ``broadcast(k, n).shape + (2,)``
        Lower and upper bounds.
    """
    from scipy.stats import binomtest

    if method not in ("wilson", "exact"):
        raise ValueError(f"method must be 'wilson' or 'exact', got {method!r}")
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k), np.asarray(n))
    if not (np.issubdtype(k_arr.dtype, np.integer) and np.issubdtype(n_arr.dtype, np.integer)):
        raise TypeError("k and n must be integer arrays")
    if np.any(n_arr < 1) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("need 0 <= k <= n and n >= 1")
    out = np.empty(k_arr.shape + (2,))
    for idx in np.ndindex(k_arr.shape):
        ci = binomtest(int(k_arr[idx]), int(n_arr[idx])).proportion_ci(level, method=method)
        out[idx] = (ci.low, ci.high)
    return out


@dataclass(frozen=True)
class BasinSweep:
    """Counts of where SAM and GD end on :func:`two_basin`, over a grid.

    Attributes
    ----------
    kappas, eta_lams, rho_over_w : numpy.ndarray
        The grid (``rho_over_w[0] == 0`` is GD).
    counts : numpy.ndarray of int, shape (len(kappas), len(eta_lams), len(rho_over_w), 4)
        Runs per label, in the order of :data:`LABELS`.
    rescued : numpy.ndarray of int, shape (len(kappas), len(eta_lams), len(rho_over_w))
        Of the starts from which GD ends at the sharp minimum, how many SAM brings to the flat one.
    trapped : numpy.ndarray of int, same shape
        Of the starts from which GD ends at the flat minimum, how many SAM ends at the sharp one.
    gd_sharp, gd_flat : numpy.ndarray of int, shape (len(kappas), len(eta_lams))
        How many GD runs end at the sharp and at the flat minimum.
    n_starts : int
        Runs per setting.
    """

    kappas: np.ndarray
    eta_lams: np.ndarray
    rho_over_w: np.ndarray
    counts: np.ndarray
    rescued: np.ndarray
    trapped: np.ndarray
    gd_sharp: np.ndarray
    gd_flat: np.ndarray
    n_starts: int

    def fraction(self, label: str) -> np.ndarray:
        """Fraction of runs with ``label``, shape (kappas, eta_lams, rho_over_w)."""
        return self.counts[..., LABELS.index(label)] / self.n_starts

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The fields as a dict of arrays (for ``numpy.savez``)."""
        return {k: np.asarray(getattr(self, k)) for k in self.__dataclass_fields__}

    @classmethod
    def from_arrays(cls, arrays: Any) -> "BasinSweep":
        """Inverse of :meth:`as_arrays` (e.g. on a loaded ``.npz``)."""
        d = {k: np.asarray(arrays[k]) for k in cls.__dataclass_fields__}
        d["n_starts"] = int(d["n_starts"])
        return cls(**d)


def basin_starts(landscape: Landscape, n_starts: int, seed: int = 0) -> np.ndarray:
    """Half the starts uniform in the sharp basin :math:`(-w, w)`, half in the flat one, symmetric
    about its minimum :math:`(c - \\sqrt\\kappa w, c + \\sqrt\\kappa w)`; shape (n_starts, 1).

    Symmetric intervals keep GD (with :math:`\\eta\\lambda_s < 2`) in the basin it starts in, so GD
    ends half the time at each minimum and any difference is SAM's.
    """
    n_starts = check_int_at_least(n_starts, 2, "n_starts")
    p = landscape.params
    rng = np.random.default_rng(seed)
    half = n_starts // 2
    wf = math.sqrt(p["kappa"]) * p["width"]
    s = np.concatenate([rng.uniform(-p["width"], p["width"], half),
                        rng.uniform(p["c"] - wf, p["c"] + wf, n_starts - half)])
    return s[:, None]


def basin_sweep(kappas: Sequence[float], eta_lams: Sequence[float], rho_over_w: Sequence[float],
                n_starts: int = 1000, seed: int = 0, width: float = 1.0, steps_per_kappa: int = 30,
                min_steps: int = 2000, tol: float = 0.1) -> BasinSweep:
    """Run SAM and GD from the same starts on :func:`two_basin` for every grid point and count outcomes.

    For each curvature ratio :math:`\\kappa` and learning rate :math:`\\eta = ` ``eta_lam``
    :math:`/\\lambda_s` (with :math:`\\lambda_s = 1`), all radii :math:`\\rho = (\\rho/w)\\,w` run as one
    batch (:func:`samlib.studies.dynamics.run_batch`) for
    ``max(min_steps, steps_per_kappa * kappa / eta_lam)`` steps, enough for the flat basin's slowest
    mode (time constant :math:`1/(\\eta\\lambda_f) = \\kappa/(\\eta\\lambda_s)` steps).

    Parameters
    ----------
    kappas : sequence of float
        Curvature ratios :math:`\\ge 1`.
    eta_lams : sequence of float
        :math:`\\eta\\lambda_s` in (0, 2): below the sharp minimum's stability limit, so GD stays in it.
    rho_over_w : sequence of float
        Radii in units of the width, starting with 0 (GD).
    n_starts, seed : int
        Starts per setting (:func:`basin_starts`).
    width : float
        :math:`w` (the results depend on :math:`\\rho/w` only; a second width checks that).
    steps_per_kappa, min_steps : int
        Run length, see above.
    tol : float
        Label tolerance of :func:`label_endpoints`.

    Returns
    -------
    BasinSweep
    """
    kappas = check_finite_array(kappas, "kappas", ndim=1)
    eta_lams = check_finite_array(eta_lams, "eta_lams", ndim=1)
    rw = check_finite_array(rho_over_w, "rho_over_w", ndim=1)
    escape_radius(eta_lams)  # validates 0 < eta * lam_s < 2
    if rw[0] != 0 or np.any(rw < 0):
        raise ValueError("rho_over_w must start with 0 (GD) and be >= 0")
    n_starts = check_int_at_least(n_starts, 2, "n_starts")
    shape = (len(kappas), len(eta_lams), len(rw))
    counts = np.zeros(shape + (len(LABELS),), dtype=np.int64)
    rescued = np.zeros(shape, dtype=np.int64)
    trapped = np.zeros(shape, dtype=np.int64)
    gd_sharp = np.zeros(shape[:2], dtype=np.int64)
    gd_flat = np.zeros(shape[:2], dtype=np.int64)
    for i, kappa in enumerate(kappas):
        ls = two_basin(float(kappa), width=width)
        starts = basin_starts(ls, n_starts, seed)
        for j, el in enumerate(eta_lams):
            steps = int(max(min_steps, steps_per_kappa * kappa / el))
            eta = el / ls.params["lam_sharp"]
            run = run_batch(ls.grad, np.tile(starts, (len(rw), 1)), eta, np.repeat(rw * width, n_starts), steps)
            lab = label_endpoints(run, ls, tol=tol).reshape(len(rw), n_starts)
            for k_lab, name in enumerate(LABELS):
                counts[i, j, :, k_lab] = (lab == name).sum(axis=1)
            gs, gf = lab[0] == "sharp", lab[0] == "flat"
            gd_sharp[i, j], gd_flat[i, j] = gs.sum(), gf.sum()
            rescued[i, j] = (gs[None] & (lab == "flat")).sum(axis=1)
            trapped[i, j] = (gf[None] & (lab == "sharp")).sum(axis=1)
    return BasinSweep(kappas=kappas, eta_lams=eta_lams, rho_over_w=rw, counts=counts, rescued=rescued,
                      trapped=trapped, gd_sharp=gd_sharp, gd_flat=gd_flat, n_starts=n_starts)


MLP_RECORD_KEYS = ("rho", "seed", "train_loss", "lambda_max", "trace", "trace_stderr", "dist_to_sgd")


def mlp_rho_sweep(rhos: Sequence[float], seeds: Sequence[int], *, lr: float = 0.1,
                  hidden: Sequence[int] = (32,), batch_size: int = 50, grad_budget: int = 20000,
                  n_train: int = 1000, data_seed: int = 0, num_probes: int = 100,
                  group_size: int = 3) -> dict[str, np.ndarray]:
    """Train a ReLU MLP on the digits with SAM for every radius and seed; measure the end point.

    One member per (radius, seed) is trained by
    :func:`samlib.studies.experiments.train_stacked` (method ``"sam"``, per-member ``rho``, float64;
    a member with ``rho = 0`` is minibatch SGD, the same seed sharing its initialisation and data
    order). At the end we record the full-batch training cross-entropy, the largest Hessian eigenvalue
    (:func:`samlib.hessian.lambda_max`, Lanczos) and the trace (:func:`samlib.hessian.hessian_trace`,
    Hutchinson, ``num_probes`` Rademacher probes) of that loss, and the Euclidean distance of the
    parameters to those of the ``rho = 0`` member with the same seed (``nan`` if the grid has no 0).

    Parameters
    ----------
    rhos : sequence of float
        Radii :math:`\\ge 0`.
    seeds : sequence of int
        Seeds (initialisation and data order).
    lr, hidden, batch_size, grad_budget, group_size :
        Passed to ``train_stacked`` (a SAM step costs two gradient evaluations of the budget).
    n_train, data_seed : int
        :func:`samlib.data.load_digits_split` arguments.
    num_probes : int
        Hutchinson probes.

    Returns
    -------
    dict of str to numpy.ndarray
        The keys of :data:`MLP_RECORD_KEYS`, each of shape (len(rhos) * len(seeds),), radius-major.
    """
    rhos = [check_nonnegative(r, "rhos") for r in rhos]
    seeds = [check_int_at_least(s, 0, "seeds") for s in seeds]
    if not rhos or not seeds:
        raise ValueError("rhos and seeds must not be empty")
    X, y, _, _ = load_digits_split(n_train, data_seed)
    member_rho = [r for r in rhos for _ in seeds]
    member_seed = [s for _ in rhos for s in seeds]
    hist = train_stacked("sam", X, y, {"train": (X, y)}, seeds=member_seed, lr=lr, rho=member_rho,
                         hidden=tuple(hidden), batch_size=batch_size, grad_budget=grad_budget,
                         eval_every=grad_budget, dtype=torch.float64, group_size=group_size)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    flat = torch.cat([p.reshape(p.shape[0], -1) for p in hist.params], dim=1)
    lam, tr, tr_se, dist = [], [], [], []
    for i in range(len(member_seed)):
        f, theta = model_loss_fn(member_module(hist.params, i), torch.nn.functional.cross_entropy, Xt, yt)
        lam.append(lambda_max(f, theta, tol=1e-8, seed=0).eigenvalue)
        t = hessian_trace(f, theta, num_probes=num_probes, seed=0)
        tr.append(t.estimate)
        tr_se.append(t.stderr)
        ref = [k for k in range(len(member_seed)) if member_rho[k] == 0 and member_seed[k] == member_seed[i]]
        dist.append(float(torch.linalg.norm(flat[i] - flat[ref[0]])) if ref else math.nan)
    return {"rho": np.asarray(member_rho, dtype=float), "seed": np.asarray(member_seed),
            "train_loss": hist.final("train_loss").astype(float), "lambda_max": np.asarray(lam),
            "trace": np.asarray(tr), "trace_stderr": np.asarray(tr_se), "dist_to_sgd": np.asarray(dist)}
