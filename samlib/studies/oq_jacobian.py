"""Part II, §3.6: does SAM's gain under label noise survive without its logit reweighting?

The open question ``q6-jacobian-effect`` (Baek, Kolter & Raghunathan 2024) splits SAM's perturbed
gradient ``J(w+eps)^T dl/dz(f(w+eps))`` into its two changes from SGD's ``J(w)^T dl/dz(f(w))``: the
error on the logits, taken at the perturbed point (the logit reweighting of
:mod:`samlib.studies.oq_label_noise`), and the Jacobian it is sent back through. The trainer's
methods ``"sam-logit"`` (``J(w)^T dl/dz(f(w+eps))``) and ``"sam-jacobian"`` (``J(w+eps)^T
dl/dz(f(w))``, Baek et al.'s J-SAM) keep one change each (:mod:`samlib.studies.experiments`).

The reference is the MNIST protocol's ``label-noise`` stage (:mod:`samlib.studies.mnist_protocol`):
SGD and SAM with their noisy-label validation choices, 784-500-300-10 MLP, 800 training images with
20% or 40% corrupted labels, the clean 200 validation and 4000 test images evaluated every 500 of
6000 gradient evaluations, 3 splits x 5 seeds. Each half runs with exactly SAM's configuration of
that split and noise level: the same learning rate, SAM's validation-chosen radius (equal radius,
as Baek et al. compare J-SAM with SAM at SAM's radius), the same seeds (initialisation, data order,
corrupted labels) and budget. Nothing is tuned for the halves, so they get no trials SAM did not
get, and every run is paired with SAM's and SGD's runs of the same split and seed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samlib import sweeps
from samlib.stats import PairedInterval, paired_interval
from samlib.studies import mnist_protocol as mp
from samlib.studies.protocol_claims import best_epoch_acc

__all__ = ["STORE", "RUN", "METHODS", "NAMES", "run", "configs", "sam_records", "half_records",
           "noisy_runs", "accuracy_difference", "COMPARISONS", "measure", "main"]

#: Where this study's records live (in a checkout of the repository).
STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "jacobian_effect")
#: The run function (the MNIST protocol's, restricted to the two halves).
RUN = "samlib.studies.oq_jacobian:run"
#: The two halves of SAM's perturbed gradient (the Jacobian half, the question's, first).
METHODS = ("sam-jacobian", "sam-logit")


def run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one configuration: :func:`samlib.studies.mnist_protocol.run` restricted to :data:`METHODS`."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    if config.get("method") not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {config.get('method')!r}")
    return mp.run(config)


def sam_records(protocol_store: str = mp.STORE, splits: Sequence[int] = (0, 1, 2)) -> list[dict[str, Any]]:
    """SAM's records of the protocol's ``label-noise`` stage, ordered by noise level, then split."""
    recs = mp.stage_records("label-noise", protocol_store, splits=list(splits))
    return [r for frac in mp.NOISE for r in mp.select(recs, method="sam", label_noise=frac)]


def configs(protocol_store: str = mp.STORE, splits: Sequence[int] = (0, 1, 2),
            methods: Sequence[str] = METHODS) -> list[dict[str, Any]]:
    """SAM's label-noise configurations with the method replaced, one per method, noise level and split.

    Everything else (learning rate, radius, seeds, split, budget, evaluation sets) is SAM's record's.
    """
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"methods must be among {METHODS}, got {method!r}")
    return [dict(rec["config"], method=method)
            for method in methods for rec in sam_records(protocol_store, splits)]


def half_records(store: str = STORE, **kwargs: Any) -> list[dict[str, Any]]:
    """The records of :func:`configs` (keyword arguments go to it), in its order."""
    return sweeps.load_records(configs(**kwargs), store)


#: The four methods compared, by the name the page gives them, and their trainer method.
NAMES = {"SGD": "sgd", "SAM": "sam", "Jacobian-only": "sam-jacobian", "logit-only": "sam-logit"}


def noisy_runs(store: str = STORE, protocol_store: str = mp.STORE,
               splits: Sequence[int] = (0, 1, 2)) -> dict[float, dict[str, list[dict[str, Any]]]]:
    """Records per noise level and method name (:data:`NAMES`), each list ordered by split.

    SGD and SAM are the protocol's ``label-noise`` records, the two halves this study's.

    Raises
    ------
    FileNotFoundError
        A record is missing (run the sweep: ``python -m samlib.studies.oq_jacobian``).
    ValueError
        The records of one noise level are not paired (other splits, seeds or budget).
    """
    proto = mp.stage_records("label-noise", protocol_store, splits=list(splits))
    halves = half_records(store, protocol_store=protocol_store, splits=splits)
    out: dict[float, dict[str, list[dict[str, Any]]]] = {}
    for frac in mp.NOISE:
        level = {name: mp.select(proto if method in ("sgd", "sam") else halves, method=method,
                                 label_noise=frac) for name, method in NAMES.items()}
        for name, recs in level.items():
            keys = [(r["config"]["split"], tuple(r["config"]["seeds"]), r["config"]["grad_budget"])
                    for r in recs]
            ref = [(r["config"]["split"], tuple(r["config"]["seeds"]), r["config"]["grad_budget"])
                   for r in level["SAM"]]
            if keys != ref:
                raise ValueError(f"{name}'s records at noise {frac} are not paired with SAM's: {keys} vs {ref}")
        out[frac] = level
    return out


def accuracy_difference(first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]],
                        at: str = "final", level: float = 0.95) -> PairedInterval:
    """Test accuracy of ``first`` minus ``second`` in points: t-interval over splits of the seed means.

    Parameters
    ----------
    first, second : records ordered by split, members paired by seed
    at : {"final", "best"}
        At the end of the budget, or at each member's lowest validation loss (early stopping,
        :func:`samlib.studies.protocol_claims.best_epoch_acc`).
    level : float
        Level of the t-interval (:func:`samlib.stats.paired_interval`, ``splits - 1`` degrees of freedom).
    """
    if at == "final":
        diff = mp.finals(first, "test_acc") - mp.finals(second, "test_acc")
    elif at == "best":
        diff = np.stack([best_epoch_acc(a) - best_epoch_acc(b) for a, b in zip(first, second)])
    else:
        raise ValueError(f"at must be 'final' or 'best', got {at!r}")
    return paired_interval(100 * diff.mean(1), level=level)


#: The comparisons :func:`measure` makes, as (key, first, second).
COMPARISONS = (("jac", "Jacobian-only", "SGD"), ("sam", "SAM", "SGD"), ("sam_jac", "SAM", "Jacobian-only"),
               ("logit", "logit-only", "SGD"), ("sam_logit", "SAM", "logit-only"))


def measure(runs: Mapping[float, Mapping[str, Sequence[Mapping[str, Any]]]],
            level: float = 0.95) -> tuple[dict[str, Any], list[str]]:
    """Every comparison of :data:`COMPARISONS` at both noise levels, at the end and at the best epoch.

    Returns
    -------
    measured : dict
        ``<key>_<k>`` (mean), ``<key>_lo_<k>`` and ``<key>_hi_<k>`` (interval) at the end of the budget,
        the same with ``<key>_best`` at the best validation epoch, for ``k`` = 20, 40 (per cent
        flipped); all in points of test accuracy; and ``splits``, ``seeds``.
    lines : list of str
        A printable report.
    """
    measured: dict[str, Any] = {}
    lines = []
    for frac, recs in runs.items():
        k = round(100 * frac)
        lines.append(f"{frac:.0%} of the training labels flipped; final test accuracy "
                     + ", ".join(f"{n} {100 * mp.finals(r, 'test_acc').mean():.1f}%" for n, r in recs.items()))
        for key, a, b in COMPARISONS:
            for at, suffix in (("final", ""), ("best", "_best")):
                iv = accuracy_difference(recs[a], recs[b], at=at, level=level)
                measured.update({f"{key}{suffix}_{k}": iv.mean, f"{key}{suffix}_lo_{k}": iv.low,
                                 f"{key}{suffix}_hi_{k}": iv.high})
                when = "end of budget" if at == "final" else "best val. epoch"
                lines.append(f"  {a} - {b}, {when}: {iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}] points")
    first = next(iter(runs.values()))["SAM"]
    measured["splits"] = len(first)
    measured["seeds"] = len(first[0]["config"]["seeds"])
    return measured, lines


def main() -> None:  # pragma: no cover - the sweep itself
    sweeps.run_sweep(RUN, configs(), STORE, n_jobs=1)


if __name__ == "__main__":  # pragma: no cover
    main()
