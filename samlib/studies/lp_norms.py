"""Does the perturbation ball matter for training? SAM with p = 2, p = inf and ASAM.

The review (Liu, Chen & Shi 2022, §2.1.1) keeps only the Euclidean ball of SAM and calls the
:math:`L^p` balls of Foret et al. (2021, eq. 2) unnecessary. This study asks the training
question: trained on the experiments chapter's protocol (the ``d-500-300-10`` ReLU MLP on
1000 scikit-learn digits, minibatches of 10, 15000 gradient evaluations, float64, paired
seeds), does SAM with the :math:`L^\\infty` ball or ASAM (Kwon et al. 2021) end at a test loss or
accuracy that the :math:`L^2` ball misses?

Methods (all through :func:`samlib.studies.experiments.train_stacked`):

- ``"sam"``: :math:`\\epsilon = \\rho\\, g/\\lVert g\\rVert_2`;
- ``"sam-linf"``: :math:`\\epsilon = \\rho_\\infty \\operatorname{sign}(g)` with
  :math:`\\rho_\\infty = \\rho/\\sqrt d`, so that the step is as long as SAM's
  (:math:`\\lVert\\epsilon\\rVert_2 = \\rho` when no gradient entry is 0);
- ``"asam"``: :math:`\\epsilon = \\rho\\, T^2 g/\\lVert T g\\rVert_2`, :math:`T = |w| + 0.01` on
  the weights (Kwon et al.'s code);
- ``"sgd"``: the reference that tells how large SAM's own effect is.

Protocol (:data:`PROTOCOL`): the learning rate is the experiments chapter's validation
choice for SGD and SAM; :math:`\\rho` is chosen per method on the same validation split as
there (200 of the 1000 training images held out, 3000 gradient evaluations), by the lowest
validation loss averaged over two tuning seeds that are not test seeds. The chosen values
then train on all 1000 images with the seeds 0-4 (same seed: same initial weights and same
minibatch order for every method) and are evaluated once on the test set.

:func:`run_study` does all of it and returns a JSON-ready record; ``python -m
samlib.studies.lp_norms`` stores it in ``book/data/sharpness/lp_norms.json`` (about 15
minutes of CPU on two cores). :func:`short_runs` is the small configuration the notebook
re-runs to check the record; :func:`tost_paired` is the equivalence test.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from .._validation import check_int_at_least, check_positive
from ..data import load_dataset, train_validation_split
from .experiments import train_many

__all__ = [
    "PROTOCOL",
    "RHO_GRIDS",
    "METHODS",
    "RECORD_PATH",
    "num_params",
    "radius",
    "tune_rho",
    "final_runs",
    "short_runs",
    "run_study",
    "tost_paired",
    "extend_tuning",
    "load_record",
    "compare_short_runs",
]

#: The experiments chapter's protocol (book/experiments.ipynb, "Data and protocol"), plus the
#: tuning seeds and the seeds of the paired comparison.
PROTOCOL: dict[str, Any] = dict(
    dataset="digits", n_train=1000, data_seed=0, n_val=200, split_seed=0,
    hidden=(500, 300), batch_size=10, grad_budget=15000, lr=0.3, tune_budget=3000,
    tune_seeds=(100, 101), seeds=(0, 1, 2, 3, 4), asam_offset=0.01,
    short_seeds=(0, 1), short_budget=200,
)

#: Nominal radii tried on the validation split. For ``"sam-linf"`` the value is the Euclidean
#: length of the step, the L-inf radius is it divided by sqrt(d) (:func:`radius`); its grid
#: reaches two points lower than SAM's because the first tuning chose its smallest value, 0.01
#: (the two points were added with :func:`extend_tuning`; 0.01 stayed the choice). ASAM's
#: radius is in the T-scaled norm, where |w| ~ 0.05 makes the same number a step about
#: twenty times shorter; its grid is therefore ten times SAM's and one point longer (Kwon
#: et al. use ASAM radii ten times SAM's).
RHO_GRIDS: dict[str, tuple[float, ...]] = {
    "sam": (0.01, 0.03, 0.1, 0.3),
    "sam-linf": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    "asam": (0.1, 0.3, 1.0, 3.0, 10.0),
}
METHODS = ("sam", "sam-linf", "asam")
RECORD_PATH = Path(__file__).resolve().parents[2] / "book" / "data" / "sharpness" / "lp_norms.json"


def num_params(input_dim: int, hidden: Sequence[int], num_classes: int = 10) -> int:
    """Number of weights and biases of the MLP ``input_dim -> hidden... -> num_classes``."""
    dims = [check_int_at_least(input_dim, 1, "input_dim"), *hidden, num_classes]
    return int(sum(a * b + b for a, b in zip(dims[:-1], dims[1:])))


def radius(method: str, rho: float, d: int) -> float:
    """The radius ``train_stacked`` gets for a nominal ``rho``.

    ``rho / sqrt(d)`` for ``"sam-linf"`` (then :math:`\\lVert\\rho_\\infty
    \\operatorname{sign} g\\rVert_2 = \\rho` when no entry of :math:`g` is 0, the balls
    :math:`B_\\infty(\\rho/\\sqrt d) \\subset B_2(\\rho)` touch at the corners), ``rho`` otherwise.
    """
    if method not in (*METHODS, "sgd"):
        raise ValueError(f"method must be one of {(*METHODS, 'sgd')}, got {method!r}")
    rho = float(rho)
    return rho / math.sqrt(check_int_at_least(d, 1, "d")) if method == "sam-linf" else rho


def _data(protocol: Mapping[str, Any]):
    return load_dataset(protocol["dataset"], n_train=protocol["n_train"], seed=protocol["data_seed"])


def tune_rho(protocol: Mapping[str, Any] = PROTOCOL, grids: Mapping[str, Sequence[float]] = RHO_GRIDS,
             workers: int | None = None, methods: Sequence[str] = METHODS) -> dict[str, dict[str, Any]]:
    """Choose ``rho`` per method by the lowest mean validation loss over the tuning seeds.

    ``methods`` restricts the tuning to some of :data:`METHODS` (each needs a grid in ``grids``).

    Returns
    -------
    dict method -> {"grid": nominal radii, "val_loss": (len(tune_seeds), len(grid)) list,
    "val_acc": likewise, "chosen": the nominal radius with the lowest mean validation loss}
    (a run that diverged, NaN, counts as +inf).
    """
    data = _data(protocol)
    X_fit, y_fit, X_val, y_val = train_validation_split(
        data.X_train, data.y_train, n_val=protocol["n_val"], seed=protocol["split_seed"])
    d = num_params(data.input_dim, protocol["hidden"])
    tune_seeds = list(protocol["tune_seeds"])
    methods = tuple(methods)
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"methods must be among {METHODS}, got {method!r}")
        if method not in grids:
            raise ValueError(f"grids has no values for method {method!r}")
    jobs = []
    for method in methods:
        grid = list(grids[method])
        jobs.append(dict(
            method=method, X_train=X_fit, y_train=y_fit, eval_sets={"val": (X_val, y_val)},
            seeds=[s for s in tune_seeds for _ in grid],
            rho=[radius(method, r, d) for _ in tune_seeds for r in grid],
            lr=protocol["lr"], hidden=tuple(protocol["hidden"]), batch_size=protocol["batch_size"],
            grad_budget=protocol["tune_budget"], eval_every=protocol["tune_budget"],
            asam_offset=protocol["asam_offset"], dtype=torch.float64))
    out = {}
    order = sorted(range(len(jobs)), key=lambda i: -len(grids[methods[i]]))  # longest first
    hists = dict(zip(order, train_many([jobs[i] for i in order], workers=workers)))
    for i, method in enumerate(methods):
        grid = list(grids[method])
        shape = (len(tune_seeds), len(grid))
        loss = hists[i].final("val_loss").reshape(shape)
        acc = hists[i].final("val_acc").reshape(shape)
        mean = np.nan_to_num(loss, nan=np.inf).mean(0)
        out[method] = dict(grid=grid, val_loss=loss.tolist(), val_acc=acc.tolist(),
                           chosen=grid[int(np.argmin(mean))])
    return out


def _final_jobs(protocol: Mapping[str, Any], rhos: Mapping[str, float], seeds: Sequence[int],
                budget: int) -> tuple[list[str], list[dict[str, Any]]]:
    data = _data(protocol)
    d = num_params(data.input_dim, protocol["hidden"])
    evals = {"train": (data.X_train, None), "test": (data.X_test, data.y_test)}
    names = ["asam", "sam-linf", "sam", "sgd"]  # longest first
    jobs = [dict(method=m, X_train=data.X_train, y_train=data.y_train, eval_sets=evals,
                 seeds=list(seeds), lr=protocol["lr"],
                 rho=radius(m, rhos[m], d) if m != "sgd" else 0.0,
                 hidden=tuple(protocol["hidden"]), batch_size=protocol["batch_size"],
                 grad_budget=budget, eval_every=budget, asam_offset=protocol["asam_offset"],
                 dtype=torch.float64) for m in names]
    return names, jobs


def _finals(names: list[str], hists: list) -> dict[str, dict[str, list[float]]]:
    keys = ("train_loss", "train_acc", "test_loss", "test_acc")
    return {m: {k: h.final(k).tolist() for k in keys} for m, h in zip(names, hists)}


def final_runs(protocol: Mapping[str, Any], rhos: Mapping[str, float],
               workers: int | None = None) -> dict[str, dict[str, list[float]]]:
    """Train every method (and SGD) on the full training set with the paired seeds.

    Returns
    -------
    dict method -> {"train_loss", "train_acc", "test_loss", "test_acc"}: final values, one per
    seed in ``protocol["seeds"]``.
    """
    names, jobs = _final_jobs(protocol, rhos, protocol["seeds"], protocol["grad_budget"])
    return _finals(names, train_many(jobs, workers=workers))


def short_runs(protocol: Mapping[str, Any], rhos: Mapping[str, float],
               workers: int | None = 1) -> dict[str, dict[str, list[float]]]:
    """The small configuration that checks a record: every method for
    ``protocol["short_budget"]`` gradient evaluations with ``protocol["short_seeds"]``."""
    names, jobs = _final_jobs(protocol, rhos, protocol["short_seeds"], protocol["short_budget"])
    return _finals(names, train_many(jobs, workers=workers))


def compare_short_runs(record: Mapping[str, Any], fresh: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, float]:
    """Largest differences between stored and fresh short runs.

    Returns
    -------
    dict with ``max_rel_loss`` (relative difference of the losses) and ``max_abs_acc``
    (absolute difference of the accuracies), over every method, seed and set.
    """
    stored = record["short_runs"]
    rel, acc = 0.0, 0.0
    for m, metrics in stored.items():
        for k, vals in metrics.items():
            a, b = np.asarray(vals, float), np.asarray(fresh[m][k], float)
            if k.endswith("loss"):
                rel = max(rel, float(np.max(np.abs(a - b) / np.abs(a))))
            else:
                acc = max(acc, float(np.max(np.abs(a - b))))
    return {"max_rel_loss": rel, "max_abs_acc": acc}


def run_study(protocol: Mapping[str, Any] = PROTOCOL, workers: int | None = 2) -> dict[str, Any]:
    """Tune ``rho`` per method, train the paired seeds, and run the short check; one record."""
    t0 = time.perf_counter()
    tuning = tune_rho(protocol, workers=workers)
    rhos = {m: tuning[m]["chosen"] for m in METHODS}
    finals = final_runs(protocol, rhos, workers=workers)
    short = short_runs(protocol, rhos, workers=1)
    data = _data(protocol)
    return dict(
        protocol={k: list(v) if isinstance(v, tuple) else v for k, v in protocol.items()},
        d=num_params(data.input_dim, protocol["hidden"]),
        tuning=tuning, chosen_rho=rhos, final=finals, short_runs=short,
        machine=dict(python=platform.python_version(), torch=torch.__version__,
                     processor=platform.machine(), torch_threads=1,
                     cpu_seconds_wall=round(time.perf_counter() - t0)),
    )


def tost_paired(diff: Sequence[float], margin: float, alpha: float = 0.05) -> dict[str, float]:
    """Two one-sided paired t-tests (TOST) of equivalence within ``(-margin, margin)``.

    With paired differences :math:`d_i` (one per seed), :math:`H_{01}: \\mu \\le -\\delta` is
    tested against :math:`\\mu > -\\delta` and :math:`H_{02}: \\mu \\ge \\delta` against
    :math:`\\mu < \\delta`, each by a one-sample t-test (``scipy.stats.ttest_1samp`` with
    ``popmean = -delta, alternative="greater"`` and ``popmean = delta, alternative="less"``).
    Equivalence at level :math:`\\alpha` holds when both reject, i.e. when the
    :math:`1 - 2\\alpha` confidence interval of :math:`\\mu` lies inside
    :math:`(-\\delta, \\delta)` (Schuirmann 1987).

    Parameters
    ----------
    diff : sequence of float, length >= 2
    margin : float > 0
    alpha : float in (0, 0.5)

    Returns
    -------
    dict with ``mean``, ``lo`` and ``hi`` (the 1 - 2 alpha interval), ``p_lower`` (of
    H01), ``p_upper`` (of H02) and ``p_tost = max(p_lower, p_upper)``.
    """
    d = np.asarray(diff, dtype=float)
    if d.ndim != 1 or d.size < 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"diff must be a finite 1-d sequence of length >= 2, got {d!r}")
    margin = check_positive(margin, "margin")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    p_lower = float(stats.ttest_1samp(d, popmean=-margin, alternative="greater").pvalue)
    p_upper = float(stats.ttest_1samp(d, popmean=margin, alternative="less").pvalue)
    se = d.std(ddof=1) / math.sqrt(d.size)
    half = float(stats.t.ppf(1 - alpha, d.size - 1)) * se
    return dict(mean=float(d.mean()), lo=float(d.mean() - half), hi=float(d.mean() + half),
                p_lower=p_lower, p_upper=p_upper, p_tost=max(p_lower, p_upper))


def extend_tuning(record: Mapping[str, Any], method: str, values: Sequence[float],
                  workers: int | None = 2) -> dict[str, Any]:
    """Add grid points to one method's tuning in a stored record and re-choose its ``rho``.

    The new values are tuned exactly as the stored ones (same split, seeds and budget); the
    merged grid is sorted and ``chosen`` is again the lowest mean validation loss. The final
    and short runs are not touched: if the choice moves, :func:`rerun_method` must follow.

    Returns
    -------
    dict
        A new record (the input is not modified) with the merged ``tuning[method]`` and
        ``chosen_rho[method]``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    old = record["tuning"][method]
    new_values = [float(v) for v in values if float(v) not in old["grid"]]
    if not new_values:
        raise ValueError(f"values add nothing to the grid {old['grid']} of {method!r}")
    fresh = tune_rho(record["protocol"], {method: new_values}, workers=workers, methods=(method,))[method]
    grid = [*old["grid"], *fresh["grid"]]
    order = sorted(range(len(grid)), key=lambda j: grid[j])
    merged = {k: [[row[j] for j in order] for row in np.hstack([np.asarray(old[k]), np.asarray(fresh[k])]).tolist()]
              for k in ("val_loss", "val_acc")}
    mean = np.nan_to_num(np.asarray(merged["val_loss"]), nan=np.inf).mean(0)
    grid = [grid[j] for j in order]
    out = json.loads(json.dumps(record))
    out["tuning"][method] = dict(grid=grid, **merged, chosen=grid[int(np.argmin(mean))])
    out["chosen_rho"][method] = out["tuning"][method]["chosen"]
    return out


def load_record(path: str | Path = RECORD_PATH) -> dict[str, Any]:
    """The stored record of :func:`run_study`."""
    with open(path) as fh:
        return json.load(fh)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RECORD_PATH), help="where to write the JSON record")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (1 thread each)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    record = run_study(workers=args.workers)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out} after {record['machine']['cpu_seconds_wall']} s")


if __name__ == "__main__":
    main()
