"""Batched training of small MLPs: many seeds (or settings) of one method in one run.

The review's MNIST experiment (§2.3.2 of Liu et al. 2022) trains an MLP
``d -> 500 -> 300 -> 10`` with batch size 10 for 15000 gradient evaluations, five times per
method. At this size one step is a few small matrix products, so the seeds are trained
*together* on the stacked network of :mod:`samlib.nets` (its gradients and SAM's two-pass
kernel live there). Hyperparameters may differ per member, which makes a learning-rate or
``rho`` sweep a single batched run. ``tests/test_sam_agreement.py`` holds these runs to
:class:`samlib.optim.SAM` step for step on one member.

Methods (``g`` is the minibatch gradient, ``eta`` the learning rate):

- ``"sgd"``: ``theta <- theta - eta g``.
- ``"adam"``: Kingma & Ba (2015), Algorithm 1, with bias correction.
- ``"sam"``: Foret et al. (2021), eqs. (2)-(3): ``eps = rho g / ||g||`` (norm over all
  parameters of one network), ``theta <- theta - eta grad L_B(theta + eps)``. With
  ``m < batch_size`` (m-sharpness, Foret et al. §4.1) the batch is cut into ``k = B/m``
  chunks; chunk ``c`` gets its own ``eps_c = rho g_c/||g_c||`` from its own gradient and
  the step uses the mean of the chunk gradients, each at ``theta + eps_c``.
- ``"ssam-f"`` / ``"ssam-d"``: sparse SAM (Mi et al. 2022): ``eps = rho (g/||g||) * mask``
  with a binary mask from :mod:`samlib.ssam` (Fisher or dynamic).
- ``"sam-linf"``: SAM in the L-infinity ball (Foret et al. 2021, eq. 2 with ``p = inf``):
  ``eps = rho sign(g)``, the maximiser of ``eps^T g`` over ``||eps||_inf <= rho``
  (:func:`samlib.ascent.ascent_direction` with ``p = inf``, per member). Its Euclidean
  length is ``rho sqrt(d)``: pass ``rho / sqrt(d)`` for a step as long as SAM's.
- ``"asam"``: adaptive SAM (Kwon et al. 2021, eq. 9): ``eps = rho T^2 g / ||T g||`` with
  ``T = |w| + asam_offset`` elementwise on the weight matrices and ``T = 1`` on the biases,
  as in the authors' code (SamsungLabs/ASAM, ``asam.py``); :class:`samlib.optim.SAM` with
  ``adaptive=True`` on the weights and ``adaptive=False`` on the biases takes the same step.
- ``"gsam"``: surrogate-gap guided SAM (Zhuang et al. 2022, Algorithm 1): SAM's perturbation,
  then the step ``-lr (g_p - gsam_alpha g_perp)`` with ``g_perp`` the part of ``g`` orthogonal
  to the perturbed gradient ``g_p``, per member (:func:`samlib.gsam.gsam_direction`).
- ``"sam-logit"`` / ``"sam-jacobian"``: the two halves of SAM's perturbed gradient
  (Baek, Kolter & Raghunathan 2024, §4). With logits ``z = f(w)``, Jacobian ``J(w)`` and
  SAM's ``eps``, SAM's gradient is ``J(w+eps)^T dl/dz(f(w+eps))``. ``"sam-logit"`` keeps only
  the perturbed error on the logits, ``J(w)^T dl/dz(f(w+eps))``; ``"sam-jacobian"`` (their
  J-SAM) keeps only the perturbed Jacobian, ``J(w+eps)^T dl/dz(f(w))``. Both with ``rho = 0``
  are SGD; both cost two gradient evaluations, as SAM (:func:`samlib.nets.backprop`).

SAM's perturbation uses :func:`samlib.ascent.ascent_scale` (a zero gradient gives
``eps = 0``), SSAM's masks come from :mod:`samlib.ssam`. SSAM, ``"sam-linf"`` and ``"asam"``
take two explicit passes: form ``g``, perturb, and let the gradient at the perturbed point
step the unperturbed weights.

Budget: one *gradient evaluation* is one minibatch gradient; SGD and Adam spend one per
step, SAM and its variants two, so at equal budget SAM takes half the steps.

Cost and precision: SGD and SAM take their step inside the backward pass (``baddbmm_``
adds ``-eta h^T delta`` to each weight), so the gradient is never stored. Training can run
in float64 (``dtype``): at the book's learning rates training is chaotic, and in float32 the
rounding differences between CPU kernels grow into visibly different runs.
"""
from __future__ import annotations

import atexit
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import ssam
from .._validation import check_int_at_least, check_nonnegative, check_positive
from ..ascent import ascent_scale
from ..gsam import gsam_direction
from ..nets import (backprop, forward_cache, init_stacked_mlp, mlp_forward, mlp_grad, output_delta,
                    sam_grad, stacked_loss_and_accuracy)

__all__ = [
    "METHODS",
    "TrainHistory",
    "train_stacked",
    "train_many",
    "time_steps",
    "bootstrap_ratio_ci",
    "first_crossing",
    "plot_mean_band",
]

METHODS = ("sgd", "adam", "sam", "ssam-f", "ssam-d", "sam-linf", "asam", "gsam", "sam-logit",
           "sam-jacobian")
_TWO_GRAD = ("sam", "ssam-f", "ssam-d", "sam-linf", "asam", "gsam", "sam-logit", "sam-jacobian")

# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------
@dataclass
class TrainHistory:
    """What :func:`train_stacked` records.

    ``metrics[name]`` has shape ``(len(grad_evals), S)``; names are ``<set>_loss`` and
    ``<set>_acc`` for every evaluation set (``train``, ``test``, ...).
    """

    method: str
    seeds: list[int]
    lr: np.ndarray
    rho: np.ndarray
    m: int
    grad_evals: np.ndarray
    epochs: np.ndarray
    metrics: dict[str, np.ndarray]
    params: list[torch.Tensor]
    steps: int
    wall_time: float
    extra: dict[str, Any] = field(default_factory=dict)

    def final(self, name: str) -> np.ndarray:
        """Last recorded value of a metric, one per member."""
        return self.metrics[name][-1]


def _join(parts: list[TrainHistory]) -> TrainHistory:
    """One history from the histories of consecutive groups of members (same schedule)."""
    first = parts[0]
    return TrainHistory(
        method=first.method,
        seeds=[s for h in parts for s in h.seeds],
        lr=np.concatenate([h.lr for h in parts]),
        rho=np.concatenate([h.rho for h in parts]),
        m=first.m,
        grad_evals=first.grad_evals,
        epochs=first.epochs,
        metrics={k: np.concatenate([h.metrics[k] for h in parts], axis=1) for k in first.metrics},
        params=[torch.cat([h.params[i] for h in parts]) for i in range(len(first.params))],
        steps=first.steps,
        wall_time=sum(h.wall_time for h in parts),
        extra=dict(first.extra),
    )


def _per_member(value: float | Sequence[float], S: int, name: str, positive: bool,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    vals = np.full(S, value, dtype=float) if np.ndim(value) == 0 else np.array(value, dtype=float)
    if vals.shape != (S,):
        raise ValueError(f"{name} must be a number or have one value per seed ({S}), got shape {vals.shape}")
    for v in vals:
        (check_positive if positive else check_nonnegative)(v, name)
    return torch.tensor(vals, dtype=dtype)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-member vector (S,) reshaped to broadcast against a stacked tensor (S, ...)."""
    return v.view((-1,) + (1,) * (like.ndim - 1))


def _global_norm(g: list[torch.Tensor]) -> torch.Tensor:
    """Per-member Euclidean norm over all parameter tensors: shape (S,)."""
    return torch.sqrt(sum(t.pow(2).flatten(1).sum(1) for t in g))


def _sam_part_step(method: str, params: list[torch.Tensor], xb: torch.Tensor, yb: torch.Tensor,
                   rho: torch.Tensor, lr: torch.Tensor) -> None:
    """One step of ``"sam-logit"`` or ``"sam-jacobian"`` on ``params`` in place (module docstring).

    SAM's perturbation ``eps = rho g/||g||`` (zero where ``g = 0``), then the error on the
    logits and the Jacobian are taken at different points: ``J(w)^T dl/dz(f(w+eps))`` for the
    logit half, ``J(w+eps)^T dl/dz(f(w))`` for the Jacobian half.
    """
    B = xb.shape[1]
    hs, logits = forward_cache(params, xb)
    _, delta = output_delta(logits, yb, B)
    g = backprop(params, hs, delta)
    scale = ascent_scale(_global_norm(g), rho)  # SAM's eps-hat, 0 if g = 0
    pert = [p + gi * _bcast(scale, p) for p, gi in zip(params, g)]
    if method == "sam-logit":
        _, delta_p = output_delta(mlp_forward(pert, xb), yb, B)
        backprop(params, hs, delta_p, lr=lr)  # the unperturbed Jacobian
    else:
        hs_p, _ = forward_cache(pert, xb)
        backprop(pert, hs_p, delta, lr=lr, step_on=params)  # the unperturbed logits' error


def train_stacked(
    method: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    eval_sets: dict[str, tuple[np.ndarray, np.ndarray | None]],
    *,
    seeds: Sequence[int],
    lr: float | Sequence[float],
    rho: float | Sequence[float] = 0.0,
    m: int | None = None,
    hidden: Sequence[int] = (500, 300),
    num_classes: int = 10,
    batch_size: int = 10,
    grad_budget: int = 15000,
    eval_every: int = 500,
    betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
    sparsity: float = 0.5,
    mask_every: int = 100,
    fisher_samples: int = 100,
    drop_fraction: float = 0.5,
    asam_offset: float = 0.01,
    gsam_alpha: float = 0.1,
    dtype: torch.dtype = torch.float32,
    group_size: int = 3,
) -> TrainHistory:
    """Train ``len(seeds)`` MLPs with one method at a fixed budget of gradient evaluations.

    Parameters
    ----------
    method : {"sgd", "adam", "sam", "ssam-f", "ssam-d", "sam-linf", "asam", "gsam", "sam-logit", "sam-jacobian"}
        See the module docstring.
    X_train : array (n, d)
        Training inputs, shared by all members.
    y_train : int array (n,) or (S, n)
        Training labels, shared or one row per member (e.g. per-seed label noise).
    eval_sets : dict name -> (X, y)
        Full sets evaluated at the start and every ``eval_every`` gradient evaluations;
        ``y=None`` means the (per-member) training labels.
    seeds : sequence of int
        One member per seed: it seeds that member's initialisation and its data order.
    lr, rho : float or sequence with one value per seed
        Learning rate (> 0) and SAM radius (>= 0, ignored by SGD and Adam; for
        ``"sam-logit"`` and ``"sam-jacobian"`` the radius of SAM's perturbation); for
        ``"sam-linf"`` the radius of the L-infinity ball, for ``"asam"`` that of the
        ``T``-scaled ball ``||T^{-1} eps||_2 <= rho``.
    m : int, optional
        m-sharpness chunk size for ``"sam"`` (must divide ``batch_size``); ``None`` means
        ``m = batch_size``, plain SAM.
    hidden : sequence of int
        Hidden widths; the review's network is ``(500, 300)``.
    batch_size, grad_budget, eval_every : int
        Minibatch size; gradient evaluations per member; evaluation spacing in gradient
        evaluations.
    betas, adam_eps : Adam's constants (Kingma & Ba 2015 defaults).
    sparsity, mask_every, fisher_samples, drop_fraction :
        SSAM settings (see :mod:`samlib.ssam`): fraction of *unperturbed* weights, steps
        between mask updates, examples per Fisher estimate (SSAM-F; these per-example
        gradients are recorded in ``extra["fisher_grad_evals"]``, not charged to the
        budget), initial drop fraction of the cosine drop-and-grow schedule (SSAM-D).
    asam_offset : float
        ASAM's offset ``eta`` in ``T = |w| + eta`` (>= 0; Kwon et al. 2021 use 0.01).
    gsam_alpha : float
        GSAM's weight of the orthogonal ascent component (>= 0; :mod:`samlib.gsam`).
    dtype : torch.float32 or torch.float64
        Precision of weights, data and arithmetic. The initial weights are drawn in float32
        whatever ``dtype`` is, so both precisions start from the same point. Rounding errors
        that differ between CPU kernels (vector width, summation order) are amplified by
        training; in float64 they start about 1e9 times smaller.
    group_size : int
        Members are trained in groups of at most this many, one group after the other, and
        the histories joined: the result is the same, but a group's weights and optimizer
        state stay in the CPU cache (ten stacked float64 networks of the review's size do
        not, which makes each step about 1.5 times slower per network; three are the fastest
        for Adam). SSAM runs are not split: their masks draw from one random generator
        shared by all members.

    Returns
    -------
    TrainHistory

    Raises
    ------
    ValueError
        Unknown method, ``m`` not dividing ``batch_size``, bad sizes or hyperparameters.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    seeds = [int(s) for s in seeds]
    S = len(seeds)
    if S == 0:
        raise ValueError("seeds must not be empty")
    batch_size = check_int_at_least(batch_size, 1, "batch_size")
    grad_budget = check_int_at_least(grad_budget, 1, "grad_budget")
    eval_every = check_int_at_least(eval_every, 1, "eval_every")
    Xt = torch.tensor(np.asarray(X_train), dtype=dtype)
    yt = torch.tensor(np.asarray(y_train), dtype=torch.long)
    if Xt.ndim != 2:
        raise ValueError(f"X_train must be 2-d (n, d), got shape {tuple(Xt.shape)}")
    n, d = Xt.shape
    if tuple(yt.shape) not in ((n,), (S, n)):
        raise ValueError(f"y_train must have shape ({n},) or ({S}, {n}), got {tuple(yt.shape)}")
    if batch_size > n:
        raise ValueError(f"batch_size must be <= the number of training samples {n}, got {batch_size}")
    yt = yt.expand(S, n).contiguous() if yt.ndim == 1 else yt
    m = batch_size if m is None else check_int_at_least(m, 1, "m")
    if batch_size % m:
        raise ValueError(f"m must divide batch_size={batch_size}, got m={m}")
    if m != batch_size and method != "sam":
        raise ValueError(f"m-sharpness (m={m} < batch_size) is implemented for method 'sam' only, got {method!r}")
    lr_t = _per_member(lr, S, "lr", positive=True, dtype=dtype)
    rho_t = _per_member(rho, S, "rho", positive=False, dtype=dtype)
    group_size = check_int_at_least(group_size, 1, "group_size")
    asam_offset = check_nonnegative(asam_offset, "asam_offset")
    gsam_alpha = check_nonnegative(gsam_alpha, "gsam_alpha")
    if S > group_size and method not in ("ssam-f", "ssam-d"):
        y_all = np.asarray(y_train)
        parts = []
        for a in range(0, S, group_size):
            sl = slice(a, a + group_size)
            y_group = y_all if y_all.ndim == 1 else y_all[sl]
            parts.append(train_stacked(
                method, X_train, y_group, eval_sets, seeds=seeds[sl],
                lr=lr_t[sl].tolist(), rho=rho_t[sl].tolist(), m=m, hidden=hidden,
                num_classes=num_classes, batch_size=batch_size, grad_budget=grad_budget,
                eval_every=eval_every, betas=betas, adam_eps=adam_eps, asam_offset=asam_offset,
                gsam_alpha=gsam_alpha, dtype=dtype, group_size=group_size))
        return _join(parts)

    params = [p.to(dtype) for p in init_stacked_mlp([d, *hidden, num_classes], seeds)]
    lr_b = [_bcast(lr_t, p) for p in params]
    evals = {
        k: (torch.tensor(np.asarray(X), dtype=dtype),
            yt if y is None else torch.tensor(np.asarray(y)))
        for k, (X, y) in eval_sets.items()
    }
    two = method in _TWO_GRAD
    per_step = 2 if two else 1
    steps = grad_budget // per_step
    steps_per_epoch = n // batch_size
    gens = [torch.Generator().manual_seed(10_000 + s) for s in seeds]  # data order, not init
    adam_fused = None
    if method == "adam":
        adam_m = [torch.zeros_like(p) for p in params]
        adam_v = [torch.zeros_like(p) for p in params]
        adam_buf = [torch.empty_like(p) for p in params]
        adam_grad = [torch.empty_like(p) for p in params]  # filled in place every step
    # torch's fused Adam kernel (same update, ~3x faster) when all members share one lr
    if method == "adam" and bool((lr_t == lr_t[0]).all()):
        adam_fused = torch.optim.Adam(params, lr=float(lr_t[0]), betas=betas, eps=adam_eps, fused=True)
        for p, gi in zip(params, adam_grad):
            p.grad = gi
    mask = None
    extra: dict[str, Any] = {}
    if method in ("ssam-f", "ssam-d"):
        mask_gen = torch.Generator().manual_seed(20_000 + seeds[0])
        if method == "ssam-d":
            mask = ssam.random_mask(dict(enumerate(params)), sparsity, generator=mask_gen)
        extra.update(mask_updates=0, fisher_grad_evals=0)

    rec_g: list[int] = []
    rec: dict[str, list[np.ndarray]] = {}

    def record(step: int) -> None:
        rec_g.append(step * per_step)
        for name, (X, y) in evals.items():
            loss, acc = stacked_loss_and_accuracy(params, X, y)
            rec.setdefault(f"{name}_loss", []).append(loss)
            rec.setdefault(f"{name}_acc", []).append(acc)

    t0 = time.perf_counter()
    record(0)
    order = None
    with torch.no_grad():
        for step in range(steps):
            j = step % steps_per_epoch
            if j == 0:
                order = torch.stack([torch.randperm(n, generator=g) for g in gens])  # (S, n)
            idx = order[:, j * batch_size: (j + 1) * batch_size]  # (S, B)
            xb, yb = Xt[idx], torch.gather(yt, 1, idx)
            if method in ("sam-logit", "sam-jacobian"):
                _sam_part_step(method, params, xb, yb, rho_t, lr_t)
            elif method in ("sgd", "sam"):
                # the step is taken inside the backward pass, without storing the gradient
                if method == "sam":
                    sam_grad(params, xb, yb, rho_t, m, lr=lr_t)
                else:
                    mlp_grad(params, xb, yb, lr=lr_t)
            elif method == "adam":
                _, g = mlp_grad(params, xb, yb, out=adam_grad)
            else:
                _, g = mlp_grad(params, xb, yb)
            if method in ("ssam-f", "ssam-d"):
                if step % mask_every == 0:
                    if method == "ssam-f":
                        # Fisher from the member's own examples, a fresh random subset each time
                        sub = torch.stack([torch.randperm(n, generator=mask_gen)[:fisher_samples] for _ in seeds])
                        fisher = ssam.empirical_fisher_mlp(params, Xt[sub], torch.gather(yt, 1, sub))
                        mask = ssam.fisher_mask(dict(enumerate(fisher)), sparsity)
                        extra["fisher_grad_evals"] += fisher_samples / batch_size
                    elif step > 0:
                        frac = ssam.cosine_drop_fraction(drop_fraction, step, steps)
                        mask = ssam.dynamic_mask_update(mask, dict(enumerate(g)), frac, generator=mask_gen)
                    extra["mask_updates"] += 1
                scale = ascent_scale(_global_norm(g), rho_t)  # eps-hat(0) = 0, as everywhere
                pert = [p + gi * _bcast(scale, p) * mask[i] for i, (p, gi) in enumerate(zip(params, g))]
                mlp_grad(pert, xb, yb, lr=lr_t, step_on=params)  # SAM's step, in place
            elif method == "sam-linf":
                # rho sign(g): ascent_direction(g, rho, inf) of each member (a zero entry stays 0)
                pert = [p + torch.sign(gi) * _bcast(rho_t, p) for p, gi in zip(params, g)]
                mlp_grad(pert, xb, yb, lr=lr_t, step_on=params)
            elif method == "asam":
                # T = |w| + offset on the weights (even slots), 1 on the biases (Kwon et al.'s code)
                T = [p.abs().add_(asam_offset) if i % 2 == 0 else None for i, p in enumerate(params)]
                Tg = [gi if t is None else t * gi for gi, t in zip(g, T)]
                scale = ascent_scale(_global_norm(Tg), rho_t)  # rho / ||T g||, 0 if T g = 0
                pert = [p + (tg if t is None else t * tg) * _bcast(scale, p)
                        for p, tg, t in zip(params, Tg, T)]
                mlp_grad(pert, xb, yb, lr=lr_t, step_on=params)
            elif method == "gsam":
                scale = ascent_scale(_global_norm(g), rho_t)  # SAM's eps-hat, 0 if g = 0
                _, g_p = mlp_grad([p + gi * _bcast(scale, p) for p, gi in zip(params, g)], xb, yb)
                for p, d, lb in zip(params, gsam_direction(g, g_p, gsam_alpha, True, False), lr_b):
                    p.sub_(d * lb)
            if adam_fused is not None:
                adam_fused.step()  # the .grad of every parameter is adam_grad
            elif method == "adam":
                b1, b2 = betas
                t = step + 1
                c1, c2 = 1 - b1**t, 1 - b2**t
                # in place on preallocated buffers: large temporaries cost more than the maths
                for p, gi, mi, vi, buf, lb in zip(params, g, adam_m, adam_v, adam_buf, lr_b):
                    mi.lerp_(gi, 1 - b1)
                    vi.mul_(b2).addcmul_(gi, gi, value=1 - b2)
                    torch.sqrt(vi, out=buf).div_(math.sqrt(c2)).add_(adam_eps)
                    torch.div(mi, buf, out=buf).mul_(lb / c1)
                    p.sub_(buf)
            done = (step + 1) * per_step
            if done % eval_every == 0 or step + 1 == steps:
                if rec_g[-1] != done:
                    record(step + 1)
    wall = time.perf_counter() - t0
    if mask is not None:
        extra["final_mask_density"] = ssam.mask_density(mask)
    g_arr = np.asarray(rec_g)
    return TrainHistory(
        method=method,
        seeds=seeds,
        lr=lr_t.numpy().astype(float),
        rho=rho_t.numpy().astype(float),
        m=m,
        grad_evals=g_arr,
        epochs=g_arr / per_step / steps_per_epoch,
        metrics={k: np.stack(v) for k, v in rec.items()},
        params=[p.detach() for p in params],
        steps=steps,
        wall_time=wall,
        extra=extra,
    )


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _worker_init() -> None:
    torch.set_num_threads(1)  # one job per process, each single-threaded
    # an interrupt (Ctrl-C, a kernel shutting down) is the parent's to handle: the workers
    # finish their job and exit with it instead of printing tracebacks
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _POOLS.clear()


atexit.register(_shutdown_pools)


def _run_job(kwargs: dict[str, Any]) -> TrainHistory:
    return train_stacked(**kwargs)


def train_many(jobs: Sequence[Mapping[str, Any]], workers: int | None = None) -> list[TrainHistory]:
    """Run independent :func:`train_stacked` calls, several at a time in worker processes.

    Each job is a mapping of :func:`train_stacked` arguments (by name, including
    ``method``, ``X_train``, ``y_train`` and ``eval_sets``). The jobs share nothing and each
    runs single-threaded in its own process, so every history is the one a serial loop
    would give; the workers only save wall time on a machine with several cores. The
    worker processes (started with ``spawn``, so safe in a notebook) are kept for later
    calls.

    Parameters
    ----------
    jobs : sequence of mappings
        Put the longest jobs first: they are handed to the workers in this order.
    workers : int, optional
        Number of processes; default ``min(len(jobs), os.cpu_count())``. ``1`` runs the
        jobs one after the other in this process.

    Returns
    -------
    list of TrainHistory, in the order of ``jobs``
    """
    jobs = [dict(j) for j in jobs]
    if not jobs:
        return []
    if workers is None:
        n = min(len(jobs), os.cpu_count() or 1)
    else:
        n = check_int_at_least(workers, 1, "workers")
    if n == 1:
        return [train_stacked(**j) for j in jobs]
    pool = _POOLS.get(n)
    if pool is None:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        _POOLS[n] = pool
    return [f.result() for f in [pool.submit(_run_job, j) for j in jobs]]


def time_steps(
    X_train: np.ndarray,
    y_train: np.ndarray,
    *,
    methods: Sequence[str] = ("sgd", "sam"),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    hidden: Sequence[int] = (500, 300),
    batch_size: int = 10,
    steps: int = 200,
    repeats: int = 5,
    dtype: torch.dtype = torch.float32,
) -> dict[str, np.ndarray]:
    """Wall time of one training step per method, measured interleaved in one process.

    Each repeat runs ``steps`` steps of every method in turn (so slow phases of a shared
    machine hit all methods alike), after one warm-up repeat that is discarded. ``dtype``
    is the training precision (see :func:`train_stacked`).

    Returns
    -------
    dict method -> array (repeats,) of seconds per step (of the whole stacked run)
    """
    steps = check_int_at_least(steps, 1, "steps")
    repeats = check_int_at_least(repeats, 1, "repeats")
    out: dict[str, list[float]] = {mth: [] for mth in methods}
    for r in range(repeats + 1):
        for mth in methods:
            budget = steps * (2 if mth in _TWO_GRAD else 1)
            h = train_stacked(
                mth, X_train, y_train, {}, seeds=seeds, lr=0.01, rho=0.05, hidden=hidden,
                batch_size=batch_size, grad_budget=budget, eval_every=budget, dtype=dtype,
            )
            if r > 0:  # the first repeat warms caches and allocators
                out[mth].append(h.wall_time / h.steps)
    return {k: np.asarray(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------
# Statistics over seeds
# ----------------------------------------------------------------------------------------
def bootstrap_ratio_ci(
    a: np.ndarray, b: np.ndarray, level: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Ratio ``mean(a) / mean(b)`` of paired samples with a percentile bootstrap interval.

    Pairs ``(a_i, b_i)`` (the same seed trained by two methods) are resampled together
    (Efron & Tibshirani 1993, percentile interval).

    Returns
    -------
    ratio, low, high : float
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"a and b must be 1-d of equal length >= 2, got shapes {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    ratios = a[idx].mean(1) / b[idx].mean(1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return float(a.mean() / b.mean()), float(lo), float(hi)


def first_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First ``x`` at which the curve ``y(x)`` falls to ``level`` or below.

    Interpolates linearly in ``log y`` between the two recorded points around the crossing
    (losses decay roughly exponentially); ``nan`` if the curve never gets there.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    level = check_positive(level, "level")
    below = np.nonzero(y <= level)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(x[0])
    ly0, ly1, lv = np.log(y[i - 1]), np.log(max(y[i], 1e-300)), np.log(level)
    return float(x[i - 1] + (x[i] - x[i - 1]) * (ly0 - lv) / (ly0 - ly1))


def plot_mean_band(ax: Any, x: np.ndarray, Y: np.ndarray, label: str, log: bool = False, **kw: Any) -> None:
    """Mean over members (columns of ``Y``) as a line, with a +-1 standard deviation band.

    With ``log=True`` (for log-scaled axes) mean and deviation are taken of ``log10 Y``: the
    line is the geometric mean and the band stays positive.
    """
    Z = np.log10(Y) if log else np.asarray(Y, float)
    mu = Z.mean(1)
    sd = Z.std(1, ddof=1) if Z.shape[1] > 1 else np.zeros(len(Z))
    lo, mid, hi = (10 ** v if log else v for v in (mu - sd, mu, mu + sd))
    (line,) = ax.plot(x, mid, label=label, **kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
