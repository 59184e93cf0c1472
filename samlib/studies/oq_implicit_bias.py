"""Drift along a manifold of minima: full-batch SAM against 1-SAM (Wen, Ma & Li 2023), measured.

Two studies extend :mod:`samlib.studies.implicit_bias` (whose 4D loss, examples and manifold sharpness
are reused here):

* :func:`manifold_drift` runs full-batch SAM and 1-SAM from many points just off the manifold
  :math:`x_3 = x_4 = 0` at once (rows of one array, the perturbation of each row from
  :func:`samlib.ascent.ascent_scale`) and returns the displacement of :math:`(x_1, x_2)` over a window, to
  be compared with the directions :math:`-\\nabla\\lambda_{\\max}` and :math:`-\\nabla\\operatorname{tr}H`
  on the manifold (:func:`manifold_gradients`).
* :func:`network_sharpness_run` trains a small over-parameterised tanh network on a regression set to
  (near) zero loss by GD, then continues with full-batch SAM or with 1-SAM (one random example per step,
  ascent and descent on that example) and records :math:`\\lambda_{\\max}` (Lanczos) and the trace
  (Hutchinson) of the training-loss Hessian along the way (records for :mod:`samlib.sweeps`).

References
----------
K. Wen, T. Ma and Z. Li, "How does sharpness-aware minimization minimize sharpness?", ICLR 2023.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from samlib._validation import check_finite_array, check_int_at_least, check_nonnegative, check_positive
from samlib.ascent import ascent_direction, ascent_scale
from samlib.hessian import hessian_trace, lambda_max
from samlib.landscapes import Landscape
from samlib.studies.implicit_bias import manifold_sharpness

__all__ = [
    "manifold_drift",
    "manifold_gradients",
    "network_sharpness_run",
    "network_configs",
    "NETWORK_STORE",
    "NETWORK_REPLAY",
]


def _sam_rows(theta: np.ndarray, grad_at, lr: float, rho: float) -> np.ndarray:
    """One SAM step per row: theta - lr grad(theta + c g), c = rho/||g|| row-wise (0 for a zero row)."""
    g = grad_at(theta)
    c = ascent_scale(np.linalg.norm(g, axis=-1), rho)[..., None]
    return theta - lr * grad_at(theta + c * g)


def manifold_drift(
    loss: Landscape,
    examples: tuple[Landscape, ...],
    points: Any,
    lr: float,
    rho: float,
    num_steps: int,
    window: tuple[int, int],
    method: str = "full",
    num_seeds: int = 1,
    offset: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """Displacement of :math:`(x_1, x_2)` over ``window`` for SAM started beside the manifold at ``points``.

    Each run starts at :math:`(x_1, x_2, \\delta, \\delta)`, :math:`\\delta` = ``offset``, and makes
    ``num_steps`` steps of full-batch SAM (``method="full"``: the gradient of ``loss``) or 1-SAM
    (``"one"``: per step and per run one example drawn uniformly, whose gradient gives both the
    perturbation and the descent direction). All runs are rows of one array.

    Parameters
    ----------
    loss, examples : Landscape, tuple of Landscape
        From :func:`samlib.studies.implicit_bias.wen_ma_li_problem` (mean of examples = loss).
    points : array_like, shape (P, 2)
        Starting :math:`(x_1, x_2)`.
    lr, rho : float
        :math:`\\eta > 0`, :math:`\\rho \\ge 0`.
    num_steps : int
        Steps (``>= 1``).
    window : (int, int)
        Steps ``(a, b)`` with ``0 <= a < b <= num_steps``; the result is the position at ``b`` minus the one
        at ``a`` (``a`` leaves the fast motion across the valley time to settle).
    method : {"full", "one"}
    num_seeds : int, default 1
        Independent 1-SAM runs per point (ignored for ``"full"``).
    offset : float, default 0.05
        Distance of the start from the manifold in each of :math:`x_3, x_4`.
    seed : int, default 0
        Seed of the example draws.

    Returns
    -------
    ndarray, shape (P, 2) for ``"full"``, (num_seeds, P, 2) for ``"one"``

    Raises
    ------
    ValueError
        On an unknown ``method``, a bad ``window``, non-positive ``lr``, negative ``rho``, or ``points`` not
        of shape (P, 2).
    """
    if method not in ("full", "one"):
        raise ValueError(f"method must be 'full' or 'one', got {method!r}")
    lr, rho = check_positive(lr, "lr"), check_nonnegative(rho, "rho")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    num_seeds = check_int_at_least(num_seeds, 1, "num_seeds")
    p = check_finite_array(points, "points", ndim=2)
    if p.shape[1] != 2:
        raise ValueError(f"points must have shape (P, 2), got {p.shape}")
    a, b = (int(w) for w in window)
    if not 0 <= a < b <= num_steps:
        raise ValueError(f"window must satisfy 0 <= a < b <= num_steps = {num_steps}, got {window}")
    S = 1 if method == "full" else num_seeds
    theta = np.concatenate([np.tile(p, (S, 1)), np.full((S * len(p), 2), float(offset))], axis=1)
    rng = np.random.default_rng(seed)
    start = None
    for t in range(b):
        if t == a:
            start = theta[:, :2].copy()
        if method == "full":
            theta = _sam_rows(theta, loss.grad, lr, rho)
        else:
            pick = rng.integers(len(examples), size=len(theta))

            def grad_at(x: np.ndarray, pick: np.ndarray = pick) -> np.ndarray:
                g = np.zeros_like(x)
                for k, ex in enumerate(examples):
                    rows = pick == k
                    if rows.any():
                        g[rows] = ex.grad(x[rows])
                return g

            theta = _sam_rows(theta, grad_at, lr, rho)
    disp = theta[:, :2] - start
    return disp if method == "full" else disp.reshape(S, len(p), 2)


def manifold_gradients(loss: Landscape, points: Any, h: float = 1e-5) -> dict[str, np.ndarray]:
    """Gradients in :math:`(x_1, x_2)` of :math:`\\lambda_{\\max}` and of the trace on the manifold.

    Central differences of :func:`samlib.studies.implicit_bias.manifold_sharpness` with step ``h`` (error
    of order :math:`h^2`); valid where the top eigenvalue is simple.

    Returns
    -------
    dict with ``"lambda_max"`` and ``"trace"``, arrays of shape (P, 2).
    """
    p = check_finite_array(points, "points", ndim=2)
    h = check_positive(h, "h")
    out = {"lambda_max": np.zeros_like(p), "trace": np.zeros_like(p)}
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        up, down = manifold_sharpness(loss, p + e), manifold_sharpness(loss, p - e)
        for k in out:
            out[k][:, j] = (up[k] - down[k]) / (2 * h)
    return out


# -- the network study ------------------------------------------------------------------------------

#: Where the records live (``book/data/open_questions/wen_network`` of the checkout holding this module).
NETWORK_STORE = str(Path(__file__).resolve().parents[2] / "book" / "data" / "open_questions" / "wen_network")

_NET_BASE = {"n": 12, "in_dim": 4, "width": 16, "gd_lr": 0.05, "gd_steps": 3000, "lr": 0.02,
             "rho": 0.05, "every": 250, "num_probes": 200}

#: A short run recorded beside the sweep and replayed under nbval.
NETWORK_REPLAY = {**_NET_BASE, "gd_steps": 300, "num_steps": 250, "method": "one", "seed": 0}


def network_configs(seeds=(0, 1, 2, 3, 4), num_steps: int = 2000) -> list[dict]:
    """Full-batch SAM and 1-SAM from the same GD-trained start, for each seed."""
    return [{**_NET_BASE, "num_steps": int(num_steps), "method": m, "seed": int(s)}
            for s in seeds for m in ("full", "one")]


def network_sharpness_run(config: Mapping[str, Any]) -> dict[str, Any]:
    """GD to near-zero loss, then full-batch SAM or 1-SAM, with :math:`\\lambda_{\\max}` and trace tracked.

    The network is ``in_dim``-``width``-1 with tanh (float64, ``width * (in_dim + 2) + 1`` parameters, far
    more than the ``n`` examples); inputs and targets are standard normal (seed ``seed``); the loss is the
    mean of :math:`\\tfrac12(f(x_i) - y_i)^2`.

    Returns
    -------
    dict
        Lists ``step``, ``loss``, ``lambda_max``, ``trace``, ``trace_stderr`` (from the start of the SAM
        phase), and ``num_params``.
    """
    torch.set_num_threads(1)
    n, din, w = int(config["n"]), int(config["in_dim"]), int(config["width"])
    gen = torch.Generator().manual_seed(int(config["seed"]))
    X = torch.randn(n, din, generator=gen, dtype=torch.float64)
    Y = torch.randn(n, generator=gen, dtype=torch.float64)
    sizes = [w * din, w, w, 1]
    theta = torch.cat([torch.randn(w * din, generator=gen, dtype=torch.float64) / din**0.5,
                       torch.zeros(w, dtype=torch.float64),
                       torch.randn(w, generator=gen, dtype=torch.float64) / w**0.5,
                       torch.zeros(1, dtype=torch.float64)])

    def predict(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        W1, b1, a, c = torch.split(t, sizes)
        return torch.tanh(x @ W1.view(w, din).T + b1) @ a + c

    def loss_on(idx):
        return lambda t: 0.5 * ((predict(t, X[idx]) - Y[idx]) ** 2).mean()

    full = loss_on(slice(None))

    def grad(f, t):
        t = t.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t)
        return g

    for _ in range(int(config["gd_steps"])):
        theta = (theta - float(config["gd_lr"]) * grad(full, theta)).detach()
    rng = np.random.default_rng(int(config["seed"]))
    rec: dict[str, Any] = {k: [] for k in ("step", "loss", "lambda_max", "trace", "trace_stderr")}
    lr, rho = float(config["lr"]), float(config["rho"])
    for step in range(int(config["num_steps"]) + 1):
        if step % int(config["every"]) == 0:
            tr = hessian_trace(full, theta, num_probes=int(config["num_probes"]), seed=0)
            rec["step"].append(step)
            rec["loss"].append(float(full(theta)))
            rec["lambda_max"].append(float(lambda_max(full, theta, tol=1e-8, seed=0).eigenvalue))
            rec["trace"].append(float(tr.estimate))
            rec["trace_stderr"].append(float(tr.stderr))
        if step == int(config["num_steps"]):
            break
        f = full if config["method"] == "full" else loss_on([int(rng.integers(n))])
        g = grad(f, theta)
        theta = (theta - lr * grad(f, theta + ascent_direction(g, rho))).detach()
    rec["num_params"] = int(theta.numel())
    return rec
