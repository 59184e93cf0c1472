"""Part II, §3.7: SGD against Adam on the MNIST protocol, each tuned on validation per metric.

The MNIST protocol (:mod:`samlib.studies.mnist_protocol`) chooses each method's learning rate on
the validation *loss* and records the main runs (3 splits x 5 seeds, 15000 gradient evaluations)
in its own store. For a comparison of test *accuracy* the fair choice is the learning rate with
the best validation accuracy; where it differs from the loss choice, the test runs with it are
recorded here, in :data:`STORE`, with the protocol's run function and configuration format.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from samlib import sweeps
from samlib.studies import mnist_protocol as mp

__all__ = ["STORE", "choose_by_accuracy", "per_metric_configs", "per_metric_runs"]

#: Where the accuracy-tuned runs that the protocol did not record live.
STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "sgd_adam")
METHODS = {"SGD": "sgd", "Adam": "adam"}


def choose_by_accuracy(record: Mapping[str, Any], key: str = "lr") -> float:
    """The grid value with the highest final validation accuracy (ties: the first; NaN: worst)."""
    values = record["config"][key]
    final = np.nan_to_num(np.asarray(record["result"]["metrics"]["val_acc"][-1], dtype=float),
                          nan=-np.inf)
    return float(values[int(np.argmax(final))])


def per_metric_configs(metric: str, protocol_store: str = mp.STORE,
                       splits: Sequence[int] = (0, 1, 2)) -> dict[str, list[dict[str, Any]]]:
    """Per method, the test configurations (one per split) tuned on validation ``metric``.

    ``metric`` is "loss" (the protocol's main stage) or "acc".
    """
    if metric not in ("loss", "acc"):
        raise ValueError(f"metric must be 'loss' or 'acc', got {metric!r}")
    main = mp.stage_configs("main", protocol_store, splits=list(splits))
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in METHODS}
    for split in splits:
        tune = sweeps.load_records(mp.stage_configs("tune", protocol_store, splits=[split]),
                                   protocol_store)
        for name, method in METHODS.items():
            cfg = next(c for c in main if c["split"] == split and c["method"] == method)
            rec = next(r for r in tune if r["config"]["method"] == method)
            lr = mp.choose(rec, "lr") if metric == "loss" else choose_by_accuracy(rec)
            out[name].append(dict(cfg, lr=lr))
    return out


def per_metric_runs(metric: str, protocol_store: str = mp.STORE, store: str = STORE,
                    splits: Sequence[int] = (0, 1, 2)) -> dict[str, list[dict[str, Any]]]:
    """The records of :func:`per_metric_configs`: from the protocol's store where it has them,
    else from :data:`STORE`."""
    out = {}
    for name, cfgs in per_metric_configs(metric, protocol_store, splits).items():
        recs = []
        for c in cfgs:
            key = sweeps.config_key(c)
            where = protocol_store if (Path(protocol_store) / f"{key}.json").exists() else store
            recs.append(sweeps.load_records([c], where)[0])
        out[name] = recs
    return out


def missing(protocol_store: str = mp.STORE) -> list[dict[str, Any]]:
    """The accuracy-tuned configurations the protocol's store does not hold."""
    cfgs = [c for cs in per_metric_configs("acc", protocol_store).values() for c in cs]
    return [c for c in cfgs if not (Path(protocol_store) / f"{sweeps.config_key(c)}.json").exists()]


if __name__ == "__main__":  # pragma: no cover - the sweep itself
    sweeps.run_sweep(mp.RUN, missing(), STORE, n_jobs=1)
