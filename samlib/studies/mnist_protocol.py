"""The experiments chapter's protocol on real MNIST as a recorded sweep (issue: MNIST).

The review's experiments (Liu et al. 2022, §2.3.2) train a 784-500-300-10 MLP on 1000 MNIST images
with batch 10 and equal budgets of gradient evaluations. This module states that protocol as a list of
configurations for :mod:`samlib.sweeps`: every run is :func:`run`, a deterministic function of its
configuration that trains a few stacked MLPs with :func:`samlib.studies.experiments.train_stacked`
and returns its curves. The protocol has stages, and a later stage reads the tuning choices from the
records of an earlier one (:func:`stage_configs`):

``"tune"``
    Per split, on the validation part (800 images to fit, 200 held out): a learning-rate grid for SGD
    and one for Adam (one stacked member per grid value).
``"tune-rho"``
    Per split: SAM's radius grid at SGD's chosen learning rate, at the main budget; and for the
    m-sharpness study a radius grid per m at the secondary budget.
``"main"``
    Per split, on the test part (all 1000 images to train, the 4000 others to test): SGD, Adam and SAM
    with their validation choices, one member per seed.
``"m-sharpness"``
    Per split and m: SAM with the radius chosen for that m, one member per seed.
``"tune-noise"``
    Per split and noise level, on the validation part with corrupted training labels (the 200 held-out
    images keep their true labels): SGD's learning-rate grid, and SAM's radius grid at SGD's clean
    learning rate. Each method gets the same number of trials (four), and its choice for noisy labels
    is made on noisy training data, not carried over from the clean runs.
``"label-noise"``
    Per split and noise level: SGD and SAM, with their noisy-label choices, trained on the fit part with
    corrupted labels, evaluated on the clean validation and test images, so a best epoch can be chosen
    on validation.
``"ssam"``
    Per split: sparse SAM (SSAM-F and SSAM-D, half of the weights unperturbed) with the radius and
    learning rate of SAM's ``m = 10`` run of the m-sharpness stage, which is plain SAM at the same
    budget: the pair to compare with.

Nothing is tuned on test images. The learning rate is constant, so the first ``k`` gradient
evaluations of a run do not depend on its budget: :func:`replay_prefix` re-runs a record's
configuration with a short budget and compares it with the record's curve at that point, which lets a
notebook check a long record in seconds.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from samlib import sweeps
from samlib._validation import check_int_at_least, check_nonnegative
from samlib.data import flip_labels, load_dataset, train_validation_split
from samlib.studies.experiments import train_stacked

__all__ = [
    "RUN",
    "STORE",
    "DIGITS_STORE",
    "STAGES",
    "GRIDS",
    "run",
    "stage_configs",
    "choose",
    "replay_prefix",
    "replay_within_spread",
    "stage_records",
    "select",
    "finals",
    "curves",
    "run_protocol",
]

#: Where the records of the experiments chapter live (in a checkout of the repository).
STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "experiments" / "mnist5k")
#: The same protocol on scikit-learn's 8x8 digits, the second data set.
DIGITS_STORE = str(Path(STORE).parent / "digits")
#: The run function as :mod:`samlib.sweeps` names it in every record.
RUN = "samlib.studies.mnist_protocol:run"
STAGES = ("tune", "tune-rho", "main", "m-sharpness", "tune-noise", "label-noise", "ssam")
#: Validation grids (the experiments chapter's grids on the digits).
GRIDS = {"sgd": [0.03, 0.1, 0.3, 1.0], "adam": [3e-4, 1e-3, 3e-3, 1e-2], "rho": [0.01, 0.03, 0.1, 0.3]}
N_TRAIN, N_VAL = 1000, 200
MAIN_BUDGET, SECONDARY_BUDGET, EVAL_EVERY = 15000, 6000, 500
M_VALUES = (1, 2, 5, 10)
NOISE = (0.2, 0.4)
_PARTS = ("validation", "test", "test+val")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _data(config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, Any]]]:
    """Training inputs/labels and evaluation sets of a configuration's ``part`` of its ``split``."""
    split = check_int_at_least(config["split"], 0, "split")
    data = load_dataset(config.get("dataset", "mnist5k"), n_train=N_TRAIN, seed=split)
    part = config["part"]
    if part not in _PARTS:
        raise ValueError(f"part must be one of {_PARTS}, got {part!r}")
    if part == "test":
        return data.X_train, data.y_train, {"train": (data.X_train, None),
                                            "test": (data.X_test, data.y_test)}
    X_fit, y_fit, X_val, y_val = train_validation_split(data.X_train, data.y_train, n_val=N_VAL, seed=split)
    evals: dict[str, tuple[np.ndarray, Any]] = {"train": (X_fit, None), "val": (X_val, y_val)}
    if part == "test+val":
        evals["test"] = (data.X_test, data.y_test)
    return X_fit, y_fit, evals


def run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train the stacked MLPs one configuration describes; their curves as JSON-able lists.

    Parameters
    ----------
    config : mapping
        ``method`` (a :func:`~samlib.studies.experiments.train_stacked` method), ``split`` (seed of the
        1000/4000 split of the bundled MNIST images), ``part`` ({"validation", "test", "test+val"}, see
        the module docstring), ``seeds`` (one member per seed), ``lr`` and ``rho`` (a number, or a list
        with one value per member), optional ``m`` (m-sharpness), ``label_noise`` (fraction of training
        labels corrupted per member, member ``i`` with seed ``1000 + seeds[i]``), ``grad_budget``,
        ``eval_every``, ``dtype`` ("float64" or "float32") and ``dataset`` (default "mnist5k").

    Returns
    -------
    dict
        ``grad_evals`` and ``epochs`` (one entry per evaluation), ``metrics`` (name -> one list per
        evaluation with one value per member; names ``<set>_loss``, ``<set>_acc``) and ``steps``.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    dtype = _DTYPES.get(config.get("dtype", "float64"))
    if dtype is None:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {config.get('dtype')!r}")
    X, y, evals = _data(config)
    seeds = list(config["seeds"])
    noise = float(config.get("label_noise", 0.0))
    if noise > 0:
        y = np.stack([flip_labels(y, noise, seed=1000 + s) for s in seeds])
    torch.set_num_threads(1)  # one run per core; the sweep supplies the parallelism
    h = train_stacked(config["method"], X, y, evals, seeds=seeds, lr=config["lr"],
                      rho=config.get("rho", 0.0), m=config.get("m"), batch_size=10,
                      grad_budget=int(config.get("grad_budget", MAIN_BUDGET)),
                      eval_every=int(config.get("eval_every", EVAL_EVERY)), dtype=dtype)
    return {"grad_evals": h.grad_evals.tolist(), "epochs": h.epochs.tolist(),
            "metrics": {k: np.asarray(v).tolist() for k, v in sorted(h.metrics.items())},
            "steps": int(h.steps)}


def choose(record: Mapping[str, Any], key: str) -> float:
    """The grid value (``config[key]``, one per member) with the lowest final validation loss.

    A diverged member (NaN loss) counts as +inf; ties go to the first grid value.
    """
    values = record["config"][key]
    final = np.asarray(record["result"]["metrics"]["val_loss"][-1], dtype=float)
    return float(values[int(np.argmin(np.nan_to_num(final, nan=np.inf)))])


def _base(split: int, part: str, budget: int, dataset: str, dtype: str) -> dict[str, Any]:
    return {"dataset": dataset, "split": split, "part": part, "grad_budget": budget,
            "eval_every": EVAL_EVERY, "dtype": dtype}


def stage_configs(stage: str, store: str, *, splits: Sequence[int] = (0, 1, 2),
                  seeds: Sequence[int] = (0, 1, 2, 3, 4), dataset: str = "mnist5k",
                  dtype: str = "float64") -> list[dict[str, Any]]:
    """The configurations of one stage; stages after ``"tune"`` read their choices from ``store``.

    Raises
    ------
    FileNotFoundError
        (from :func:`samlib.sweeps.load_records`) when a stage it depends on is not recorded yet.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    seeds = [int(s) for s in seeds]
    grid_seed = [100] * len(GRIDS["sgd"])  # one initialisation, one member per grid value
    out: list[dict[str, Any]] = []
    for split in splits:
        val = _base(split, "validation", MAIN_BUDGET, dataset, dtype)
        tune = [dict(val, method="sgd", seeds=grid_seed, lr=GRIDS["sgd"]),
                dict(val, method="adam", seeds=grid_seed, lr=GRIDS["adam"])]
        if stage == "tune":
            out += tune
            continue
        rec_sgd, rec_adam = sweeps.load_records(tune, store)
        lr_sgd, lr_adam = choose(rec_sgd, "lr"), choose(rec_adam, "lr")
        val2 = _base(split, "validation", SECONDARY_BUDGET, dataset, dtype)
        rho_grid = [dict(val, method="sam", seeds=grid_seed, lr=lr_sgd, rho=GRIDS["rho"])]
        rho_grid += [dict(val2, method="sam", seeds=grid_seed, lr=lr_sgd, rho=GRIDS["rho"], m=m)
                     for m in M_VALUES]
        if stage == "tune-rho":
            out += rho_grid
            continue
        recs = sweeps.load_records(rho_grid, store)
        rho_sam = choose(recs[0], "rho")
        rho_m = {m: choose(r, "rho") for m, r in zip(M_VALUES, recs[1:])}
        test = _base(split, "test", MAIN_BUDGET, dataset, dtype)
        test2 = _base(split, "test", SECONDARY_BUDGET, dataset, dtype)
        if stage == "main":
            out += [dict(test, method="sgd", seeds=seeds, lr=lr_sgd),
                    dict(test, method="adam", seeds=seeds, lr=lr_adam),
                    dict(test, method="sam", seeds=seeds, lr=lr_sgd, rho=rho_sam)]
        elif stage == "m-sharpness":
            out += [dict(test2, method="sam", seeds=seeds, lr=lr_sgd, rho=rho_m[m], m=m) for m in M_VALUES]
        elif stage == "ssam":
            out += [dict(test2, method=method, seeds=seeds, lr=lr_sgd, rho=rho_m[10])
                    for method in ("ssam-f", "ssam-d")]
        else:  # tune-noise, label-noise
            noisy_grid = {frac: [dict(val2, method="sgd", seeds=grid_seed, lr=GRIDS["sgd"], label_noise=frac),
                                 dict(val2, method="sam", seeds=grid_seed, lr=lr_sgd, rho=GRIDS["rho"],
                                      label_noise=frac)] for frac in NOISE}
            if stage == "tune-noise":
                out += [c for frac in NOISE for c in noisy_grid[frac]]
                continue
            tv = _base(split, "test+val", SECONDARY_BUDGET, dataset, dtype)
            for frac in NOISE:
                rec_sgd_n, rec_sam_n = sweeps.load_records(noisy_grid[frac], store)
                out += [dict(tv, method="sgd", seeds=seeds, lr=choose(rec_sgd_n, "lr"), label_noise=frac),
                        dict(tv, method="sam", seeds=seeds, lr=lr_sgd, rho=choose(rec_sam_n, "rho"),
                             label_noise=frac)]
    return out


def _prefix_run(record: Mapping[str, Any], grad_evals: int) -> tuple[int, dict[str, Any]]:
    """Re-run a record's configuration up to ``grad_evals``; the number of evaluation points and the result."""
    grad_evals = check_int_at_least(grad_evals, 1, "grad_evals")
    points = record["result"]["grad_evals"]
    if grad_evals not in points:
        raise ValueError(f"grad_evals must be one of the record's evaluation points, got {grad_evals}")
    if record["config"]["method"] == "ssam-d":
        raise ValueError("SSAM-D's mask schedule depends on the budget: replay the whole record")
    return points.index(grad_evals) + 1, run(dict(record["config"], grad_budget=grad_evals))


def replay_prefix(record: Mapping[str, Any], grad_evals: int, *, rtol: float = 0.0,
                  atol: float = 0.0) -> dict[str, Any]:
    """Re-run a record's configuration for its first ``grad_evals`` evaluations and compare.

    The learning rate is constant and the data order depends on the seed only, so a run with a smaller
    budget is the start of the longer one: its curves must equal the record's up to ``grad_evals``
    (bit-equal on the machine that made the record: ``rtol = atol = 0``).

    Raises
    ------
    ValueError
        ``grad_evals`` is not one of the record's evaluation points.
    samlib.sweeps.ReplayMismatch
        A value differs beyond the tolerance.
    """
    k, fresh = _prefix_run(record, grad_evals)
    res = record["result"]
    head = {"grad_evals": res["grad_evals"][:k], "epochs": res["epochs"][:k],
            "metrics": {n: v[:k] for n, v in res["metrics"].items()}}
    got = {n: fresh[n] for n in ("grad_evals", "epochs", "metrics")}
    diffs = sweeps.compare_results(got, head, rtol=rtol, atol=atol)
    if diffs:
        raise sweeps.ReplayMismatch(f"prefix replay of {sweeps.config_key(record['config'])} disagrees:\n  "
                                    + "\n  ".join(diffs[:20]))
    return fresh


def replay_within_spread(record: Mapping[str, Any], grad_evals: int, fraction: float) -> float:
    """Re-run a record's first ``grad_evals`` evaluations; its largest deviation in units of the seed spread.

    .. math::

        D = \\max_{\\text{metric}, k, i} \\frac{|\\tilde y_{k,i} - y_{k,i}|}{s_k},

    where :math:`y_{k,i}` is the record's value at evaluation point :math:`k` for member (seed)
    :math:`i`, :math:`\\tilde y` the replay's, and :math:`s_k` the standard deviation of the record's
    values over its members at that point. On the machine that made the record :math:`D = 0`; on another
    CPU rounding differs, and a verdict that rests on differences between seeds is untouched as long
    as :math:`D` is a small fraction of one seed's spread. Use it for records whose members are seeds
    (stages "main", "m-sharpness", "label-noise"), not for grid records.

    Returns
    -------
    float
        :math:`D` (``0.0`` for a bit-equal replay).

    Raises
    ------
    samlib.sweeps.ReplayMismatch
        ``D > fraction``, or the evaluation points differ.
    ValueError
        ``grad_evals`` is not one of the record's evaluation points, or ``fraction`` is negative.
    """
    fraction = check_nonnegative(fraction, "fraction")
    k, fresh = _prefix_run(record, grad_evals)
    res = record["result"]
    if fresh["grad_evals"] != res["grad_evals"][:k] or fresh["epochs"] != res["epochs"][:k]:
        raise sweeps.ReplayMismatch("the replay's evaluation points differ from the record's")
    worst = 0.0
    for name, rows in res["metrics"].items():
        rec = np.asarray(rows[:k], dtype=float)
        new = np.asarray(fresh["metrics"][name], dtype=float)
        diff = np.abs(new - rec)
        spread = rec.std(axis=1, ddof=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(diff == 0, 0.0, diff / spread)  # a spread of 0 with a difference: inf
        worst = max(worst, float(np.max(dev)))
    if worst > fraction:
        raise sweeps.ReplayMismatch(f"replay of {sweeps.config_key(record['config'])} deviates by {worst:.3g} "
                                    f"seed spreads, more than the tolerance {fraction:g}")
    return worst


def stage_records(stage: str, store: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The records of one stage in :func:`stage_configs` order (keyword arguments go to it).

    Raises
    ------
    FileNotFoundError
        Some configuration of the stage has no record (run ``make sweep``).
    """
    return sweeps.load_records(stage_configs(stage, store, **kwargs), store)


def select(records: Sequence[Mapping[str, Any]], **match: Any) -> list[Mapping[str, Any]]:
    """The records whose configuration has every ``key=value`` of ``match``, ordered by split."""
    out = [r for r in records if all(r["config"].get(k) == v for k, v in match.items())]
    return sorted(out, key=lambda r: r["config"]["split"])


def finals(records: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """Final value of ``metric``: an array of shape (records, members), e.g. (splits, seeds)."""
    return np.array([r["result"]["metrics"][metric][-1] for r in records], dtype=float)


def curves(records: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    """Curves of ``metric`` from records with the same evaluation points: shape (points, records * members)."""
    return np.concatenate([np.asarray(r["result"]["metrics"][metric], dtype=float) for r in records], axis=1)


def run_protocol(store: str, stages: Sequence[str] = STAGES, **kwargs: Any) -> None:
    """Run the stages in order (each resumes: recorded configurations are skipped)."""
    n_jobs = kwargs.pop("n_jobs", -1)
    backend = kwargs.pop("backend", "loky")
    scheduler = kwargs.pop("scheduler", None)
    for stage in stages:
        configs = stage_configs(stage, store, **kwargs)
        sweeps.run_sweep(RUN, configs, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the experiments chapter's MNIST protocol as a recorded sweep.")
    ap.add_argument("--dataset", default="mnist5k", choices=("mnist5k", "digits"))
    ap.add_argument("--store", default=None, help="default: book/data/experiments/<dataset>")
    ap.add_argument("--stages", nargs="*", default=list(STAGES), choices=STAGES)
    ap.add_argument("--n-jobs", type=int, default=-1)
    ap.add_argument("--backend", default="loky", choices=("loky", "dask"))
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    ap.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2],
                    help="seeds of the 1000/4000 splits (the chapter reads splits 0, 1, 2)")
    args = ap.parse_args(argv)
    store = args.store or {"mnist5k": STORE, "digits": DIGITS_STORE}[args.dataset]
    run_protocol(store, args.stages, n_jobs=args.n_jobs, backend=args.backend, scheduler=args.scheduler,
                 splits=args.splits, dataset=args.dataset)


if __name__ == "__main__":
    main()
