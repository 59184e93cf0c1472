"""Full-batch SAM on a digits MLP with the Hessian's top eigenvalue tracked against the SAM edge.

One run (:func:`sam_edge_run`) trains an MLP (``make_mlp``, ReLU) on the digits training set with the
square loss on one-hot targets (the loss of the edge-of-stability experiments of Cohen et al. 2021), in
float64, by full-batch SAM (``ascent_direction``: the book's one perturbation), and every ``every`` steps
records the training loss, the gradient norm, the top Hessian eigenvalue by Lanczos
(:func:`samlib.hessian.lambda_max`) and the SAM edge :func:`samlib.stability.sam_edge` at that gradient norm.
Runs are JSON records for :mod:`samlib.sweeps`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from samlib.ascent import ascent_direction
from samlib.data import load_digits_split
from samlib.hessian import lambda_max, model_loss_fn
from samlib.nets import make_mlp
from samlib.stability import sam_edge

__all__ = ["sam_edge_run", "edge_ratios", "edge_configs", "EDGE_STORE", "EDGE_REPLAY"]


#: Where the records live (``book/data/open_questions/sam_edge`` of the checkout holding this module).
EDGE_STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "sam_edge")

#: The shared settings: digits, 500 training images, a 64-32-10 ReLU MLP, eta = 0.2 (2/eta = 10).
_BASE = {"lr": 0.2, "n_train": 500, "width": 32, "every": 100}

#: A short run recorded beside the sweep and replayed under nbval (same code path, 200 steps).
EDGE_REPLAY = {**_BASE, "rho": 0.05, "num_steps": 200, "seed": 0}


def edge_configs(rhos=(0.0, 0.02, 0.05, 0.1), seeds=(0, 1, 2), num_steps: int = 1500) -> list[dict]:
    """The sweep: every radius (0 = GD) with every initialisation seed, ``num_steps`` steps each."""
    return [{**_BASE, "rho": float(r), "num_steps": int(num_steps), "seed": int(s)}
            for r in rhos for s in seeds]


def _mse_onehot(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # half the squared error summed over the 10 outputs, averaged over examples
    return 0.5 * ((out - y) ** 2).sum(dim=1).mean()


def sam_edge_run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train by full-batch SAM (or GD at ``rho = 0``) and track :math:`\\lambda_{\\max}` against the edges.

    Parameters
    ----------
    config : mapping
        ``rho``, ``lr``, ``num_steps``, ``every`` (checkpoint spacing), ``n_train``, ``width`` (hidden
        width of the 64-width-10 MLP), ``seed`` (initialisation; the data split is seed 0).

    Returns
    -------
    dict
        Lists ``step``, ``loss``, ``grad_norm``, ``lambda_max``, ``sam_edge`` and the scalar ``gd_edge``.
    """
    torch.set_num_threads(1)
    rho, lr = float(config["rho"]), float(config["lr"])
    X, y, _, _ = load_digits_split(int(config["n_train"]), seed=0)
    Xt = torch.as_tensor(X, dtype=torch.float64)
    Y = torch.nn.functional.one_hot(torch.as_tensor(y), 10).to(torch.float64)
    model = make_mlp((64, int(config["width"]), 10), seed=int(config["seed"]))
    f, theta = model_loss_fn(model, _mse_onehot, Xt, Y, dtype=torch.float64)

    def grad(t: torch.Tensor) -> tuple[float, torch.Tensor]:
        t = t.detach().requires_grad_(True)
        val = f(t)
        (g,) = torch.autograd.grad(val, t)
        return float(val.detach()), g

    rec: dict[str, list] = {k: [] for k in ("step", "loss", "grad_norm", "lambda_max", "sam_edge")}
    for step in range(int(config["num_steps"]) + 1):
        loss, g = grad(theta)
        if step % int(config["every"]) == 0:
            gn = float(torch.linalg.vector_norm(g))
            lam = lambda_max(f, theta.detach(), tol=1e-6, seed=0).eigenvalue
            rec["step"].append(step)
            rec["loss"].append(loss)
            rec["grad_norm"].append(gn)
            rec["lambda_max"].append(float(lam))
            rec["sam_edge"].append(float(sam_edge(gn, lr, rho)))
        if step == int(config["num_steps"]):
            break
        eps = ascent_direction(g, rho)
        _, g_pert = grad(theta + eps) if bool((eps != 0).any()) else (loss, g)
        theta = (theta - lr * g_pert).detach()
    rec["gd_edge"] = 2.0 / lr
    return rec


def edge_ratios(record: Mapping[str, Any], start_fraction: float = 0.5) -> dict[str, np.ndarray]:
    """Ratios :math:`\\lambda_{\\max}/\\text{SAM edge}` and :math:`\\lambda_{\\max}/(2/\\eta)` at the checkpoints
    after ``start_fraction`` of the run (the first part is the progressive sharpening towards the edge)."""
    step = np.asarray(record["step"], dtype=float)
    keep = step >= start_fraction * step[-1]
    lam = np.asarray(record["lambda_max"])[keep]
    return {"to_sam_edge": lam / np.asarray(record["sam_edge"])[keep],
            "to_gd_edge": lam / float(record["gd_edge"])}
