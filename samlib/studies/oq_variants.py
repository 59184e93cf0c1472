"""Part II, §3.8: ASAM and GSAM against SAM on the experiments chapter's MNIST protocol.

The open questions ``q8-asam`` (Kwon et al. 2021) and ``q8-gsam`` (Zhuang et al. 2022) state that
a variant improves test performance over SAM. The reference is SAM's ``m = 10`` run of the MNIST
protocol's ``m-sharpness`` stage (:mod:`samlib.studies.mnist_protocol`): plain SAM, batch 10,
SGD's validation-chosen learning rate, a radius chosen on validation from four values, a budget
of 6000 gradient evaluations, 3 splits x 5 seeds. Each variant gets the same: four trials on the
validation part of each split (one stacked member per grid value, initialisation seed 100, the
protocol's grid convention), the trial with the lowest final validation loss, then five seeds on
the test part at the same budget, learning rate, splits and seeds (same initialisations and data
order as SAM's runs: the comparison is paired).

Grids, fixed before the runs: ASAM's radius is that of the ``T``-scaled ball, ``T = |w| + 0.01``
on the weights (Kwon et al. use radii about ten times SAM's), so its grid is ten times SAM's;
GSAM perturbs like SAM, so its radius grid is SAM's, with ``alpha = 0.1`` fixed, not tuned (its
four trials go to the radius, as SAM's do).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from samlib import sweeps
from samlib.studies import mnist_protocol as mp
from samlib.studies.experiments import train_stacked

__all__ = ["STORE", "RUN", "GRIDS", "GSAM_ALPHA", "ASAM_OFFSET", "run", "stage_configs",
           "variant_records", "sam_reference"]

#: Where this study's records live (in a checkout of the repository).
STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "sam_variants")
RUN = "samlib.studies.oq_variants:run"
GRIDS = {"asam": [0.1, 0.3, 1.0, 3.0], "gsam": list(mp.GRIDS["rho"])}
GSAM_ALPHA = 0.1
ASAM_OFFSET = 0.01
STAGES = ("tune", "main")


def run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train the stacked MLPs of one configuration (as :func:`samlib.studies.mnist_protocol.run`).

    The configuration has the keys of :func:`samlib.studies.mnist_protocol.run` and, for
    ``method`` "gsam", ``gsam_alpha``; for "asam", ``asam_offset``.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    if config.get("method") not in ("asam", "gsam"):
        raise ValueError(f"method must be 'asam' or 'gsam', got {config.get('method')!r}")
    X, y, evals = mp._data(config)
    torch.set_num_threads(1)
    h = train_stacked(config["method"], X, y, evals, seeds=list(config["seeds"]), lr=config["lr"],
                      rho=config["rho"], batch_size=10, grad_budget=int(config["grad_budget"]),
                      eval_every=int(config["eval_every"]), dtype=torch.float64,
                      asam_offset=float(config.get("asam_offset", ASAM_OFFSET)),
                      gsam_alpha=float(config.get("gsam_alpha", GSAM_ALPHA)))
    return {"grad_evals": h.grad_evals.tolist(), "epochs": h.epochs.tolist(),
            "metrics": {k: np.asarray(v).tolist() for k, v in sorted(h.metrics.items())},
            "steps": int(h.steps)}


def _extra(method: str) -> dict[str, Any]:
    return {"asam_offset": ASAM_OFFSET} if method == "asam" else {"gsam_alpha": GSAM_ALPHA}


def stage_configs(stage: str, store: str = STORE, *, protocol_store: str = mp.STORE,
                  splits: Sequence[int] = (0, 1, 2), seeds: Sequence[int] = (0, 1, 2, 3, 4),
                  methods: Sequence[str] = ("asam", "gsam")) -> list[dict[str, Any]]:
    """The configurations of a stage ("tune" or "main"); "main" reads its choices from ``store``.

    SGD's learning rate of each split comes from the MNIST protocol's ``tune`` records in
    ``protocol_store``.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    out = []
    for split in splits:
        tune_sgd = mp.stage_configs("tune", protocol_store, splits=[split])[0]
        lr = mp.choose(sweeps.load_records([tune_sgd], protocol_store)[0], "lr")
        base = {"dataset": "mnist5k", "split": split, "grad_budget": mp.SECONDARY_BUDGET,
                "eval_every": mp.EVAL_EVERY, "dtype": "float64", "lr": lr}
        for method in methods:
            grid = dict(base, part="validation", method=method, seeds=[100] * len(GRIDS[method]),
                        rho=GRIDS[method], **_extra(method))
            if stage == "tune":
                out.append(grid)
                continue
            rho = mp.choose(sweeps.load_records([grid], store)[0], "rho")
            out.append(dict(base, part="test", method=method, seeds=[int(s) for s in seeds],
                            rho=rho, **_extra(method)))
    return out


def variant_records(stage: str, store: str = STORE, **kwargs: Any) -> list[dict[str, Any]]:
    """The records of a stage, in :func:`stage_configs` order."""
    return sweeps.load_records(stage_configs(stage, store, **kwargs), store)


def sam_reference(protocol_store: str = mp.STORE, splits: Sequence[int] = (0, 1, 2)) -> list:
    """SAM's ``m = 10`` records of the MNIST protocol (plain SAM at 6000 evaluations), by split."""
    recs = mp.stage_records("m-sharpness", protocol_store, splits=list(splits))
    return mp.select(recs, m=10)


def main() -> None:  # pragma: no cover - the sweep itself
    for stage in STAGES:
        sweeps.run_sweep(RUN, stage_configs(stage), STORE, n_jobs=1)


if __name__ == "__main__":  # pragma: no cover
    main()
