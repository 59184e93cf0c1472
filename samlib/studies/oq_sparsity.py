"""GD, SAM and 1-SAM on a diagonal linear network for sparse regression (Andriushchenko & Flammarion 2022).

One record per (method, radius, perturbation, seed): the problem of
:func:`samlib.diagonal_net.sparse_regression` (``d = 100``, ``k = 5`` non-zeros, ``n = 40 < d``) trained by
:func:`samlib.diagonal_net.train_diagonal_net` from :math:`u = v = \\alpha\\mathbf 1` until the training loss
first reaches ``target_loss`` (matched training loss), then the :math:`\\ell_1` norm of
:math:`\\beta = u\\odot v` and the test error. With isotropic inputs the excess test risk of a noiseless problem
is :math:`\\mathbb E\\,\\langle\\beta-\\beta^\\star, x\\rangle^2/2 = \\lVert\\beta-\\beta^\\star\\rVert^2/2`; we
report :math:`\\lVert\\beta-\\beta^\\star\\rVert^2` and the empirical test loss on 1000 fresh inputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from samlib.diagonal_net import diagonal_net_loss, sparse_regression, train_diagonal_net

__all__ = ["sparsity_run", "sparsity_configs", "SPARSITY_STORE", "SPARSITY_VARIANTS", "SPARSITY_SEEDS"]

#: Where the records live (``book/data/open_questions/msam_sparsity`` of the checkout holding this module).
SPARSITY_STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "msam_sparsity")

#: Problem and training settings shared by every run.
_BASE = {"n": 40, "d": 100, "k": 5, "alpha": 0.1, "lr": 0.05, "target_loss": 1e-5, "max_steps": 80000}

#: The two perturbations compared, with their radius: the book's normalised one and the source's
#: unnormalised one (its theory and code use rho * g).
SPARSITY_VARIANTS = {"normalised": {"normalized": True, "rho": 0.02},
                     "unnormalised": {"normalized": False, "rho": 0.2}}

#: Seeds (one problem and its data per seed).
SPARSITY_SEEDS = tuple(range(10))


def sparsity_configs(seeds=SPARSITY_SEEDS) -> list[dict]:
    """GD once per seed, and SAM and 1-SAM for each variant of :data:`SPARSITY_VARIANTS`."""
    out = []
    for s in seeds:
        out.append({**_BASE, "method": "gd", "rho": 0.0, "normalized": True, "seed": int(s)})
        for var in SPARSITY_VARIANTS.values():
            for m in ("sam", "sam1"):
                out.append({**_BASE, "method": m, **var, "seed": int(s)})
    return out


def sparsity_run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one configuration of :func:`sparsity_configs` and measure sparsity and test error.

    Returns
    -------
    dict
        ``l1`` (:math:`\\lVert u\\odot v\\rVert_1`), ``sq_error`` (:math:`\\lVert\\beta-\\beta^\\star\\rVert^2`),
        ``test_loss``, ``train_loss``, ``steps``, ``reached`` (the target loss), ``l1_star``
        (:math:`\\lVert\\beta^\\star\\rVert_1`).
    """
    p = sparse_regression(int(config["n"]), int(config["d"]), int(config["k"]), [int(config["seed"])])
    run = train_diagonal_net(p.X, p.y, config["method"], lr=float(config["lr"]),
                             num_steps=int(config["max_steps"]), alpha=float(config["alpha"]),
                             rho=float(config["rho"]), normalized=bool(config["normalized"]),
                             target_loss=float(config["target_loss"]))
    beta = run.beta[0]
    return {"l1": float(np.abs(beta).sum()),
            "sq_error": float(np.sum((beta - p.beta_star[0]) ** 2)),
            "test_loss": float(diagonal_net_loss(run.u, run.v, p.X_test, p.y_test)[0]),
            "train_loss": float(run.train_loss[0]),
            "steps": int(run.steps[0]),
            "reached": bool(run.reached[0]),
            "l1_star": float(np.abs(p.beta_star[0]).sum())}
