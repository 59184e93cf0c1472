"""m-sharpness: sharpness measured on batches of ``m`` examples and averaged.

Foret et al. (2021, section 4.1) split the training set into disjoint batches
``S_1, ..., S_{n/m}`` of ``m`` examples and define

.. math::

    \\kappa^{(m)}_\\rho(\\theta) = \\frac{m}{n} \\sum_{j=1}^{n/m}
        \\max_{\\lVert \\epsilon_j \\rVert_2 \\le \\rho} L_{S_j}(\\theta + \\epsilon_j) - L_{S_j}(\\theta),

one perturbation per batch (this is what SAM computes when each device of a data-parallel
run perturbs with its own batch gradient).  ``m = n`` gives the full-batch sharpness.
Because the full loss is the average of the batch losses, the maximum of the average is at
most the average of the maxima, so ``kappa^(m) >= kappa^(n)``; more generally, refining a
partition never lowers the value.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import check_finite_array, check_int_at_least, check_nonnegative

__all__ = [
    "MSharpness",
    "batch_partition",
    "m_sharpness",
    "m_sharpness_from",
    "torch_batch_loss",
]


@dataclass(frozen=True)
class MSharpness:
    """Result of an m-sharpness computation.

    Attributes
    ----------
    value : float
        The average of the per-batch sharpness values.
    per_batch : ndarray of shape (n // m,)
        Sharpness of each batch.
    m : int
        Batch size.
    """

    value: float
    per_batch: np.ndarray
    m: int


def batch_partition(n: int, m: int, seed: int = 0) -> list[np.ndarray]:
    """Split ``range(n)`` into ``n // m`` disjoint batches of ``m`` indices after a seeded shuffle.

    ``m`` must divide ``n`` so that the full loss is exactly the average of the batch losses
    (which the inequality ``kappa^(m) >= kappa^(n)`` relies on).
    """
    n = check_int_at_least(n, 1, "n")
    m = check_int_at_least(m, 1, "m")
    if m > n or n % m:
        raise ValueError(f"m must divide n = {n}, got m = {m}")
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(b) for b in perm.reshape(n // m, m)]


def m_sharpness_from(batch_sharpness: Callable[[np.ndarray], float], n: int, m: int, seed: int = 0) -> MSharpness:
    """Average ``batch_sharpness(idx)`` over the batches of :func:`batch_partition` ``(n, m, seed)``."""
    batches = batch_partition(n, m, seed)
    vals = np.array([float(batch_sharpness(idx)) for idx in batches])
    if not np.all(np.isfinite(vals)):
        raise ValueError("batch_sharpness returned a non-finite value")
    return MSharpness(value=float(vals.mean()), per_batch=vals, m=int(m))


def m_sharpness(
    loss: Callable[[np.ndarray, np.ndarray], float],
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray],
    theta: np.ndarray,
    n: int,
    m: int,
    rho: float,
    *,
    method: str = "pga",
    seed: int = 0,
    **pga_kwargs,
) -> MSharpness:
    """m-sharpness of Foret et al. (2021, sec. 4.1) of a loss given per batch.

    Parameters
    ----------
    loss, grad : callables ``(theta, idx) -> float`` and ``(theta, idx) -> array``
        Mean loss of the examples ``idx`` and its gradient in ``theta``.
    theta : array of shape (d,)
        Where to measure.
    n, m : int
        Number of examples and batch size (``m`` divides ``n``).
    rho : float
        Radius (>= 0) of each batch's L2 ball.
    method : {"pga", "first-order"}
        ``"pga"``: each batch maximum by :func:`samlib.sharpness.sharpness_pga` (a lower
        bound); ``"first-order"``: the one-step value ``L_j(theta + rho g_j/||g_j||) - L_j(theta)``
        that SAM itself uses (also a lower bound).
    seed : int
        Seed of the batch partition.
    **pga_kwargs
        Passed to :func:`samlib.sharpness.sharpness_pga`.

    Returns
    -------
    MSharpness
    """
    theta = check_finite_array(theta, "theta", ndim=1)
    rho = check_nonnegative(rho, "rho")
    if method not in ("pga", "first-order"):
        raise ValueError(f"method must be 'pga' or 'first-order', got {method!r}")

    def one_batch(idx: np.ndarray) -> float:
        f0 = float(loss(theta, idx))
        if method == "first-order":
            g = np.asarray(grad(theta, idx), dtype=float)
            norm = float(np.linalg.norm(g))
            if norm == 0.0 or rho == 0.0:
                return 0.0  # no first-order ascent direction: SAM does not perturb
            return float(loss(theta + rho * g / norm, idx)) - f0
        from .sharpness import sharpness_pga

        res = sharpness_pga(lambda t: loss(t, idx), lambda t: grad(t, idx), theta, rho, **pga_kwargs)
        return float(res[0]) if isinstance(res, tuple) else float(res.kappa)

    return m_sharpness_from(one_batch, n, m, seed)


def torch_batch_loss(model, loss_fn, X, y):
    """Wrap a torch model and a data set as float64 numpy callables ``loss(theta, idx)``, ``grad(theta, idx)``.

    ``theta`` is the flat vector of the model's parameters (in ``model.parameters()`` order);
    the model is evaluated functionally with :func:`torch.func.functional_call`, so its
    own parameters are left untouched.  Returns ``(loss, grad, theta0)``.
    """
    import copy

    import torch
    from torch.func import functional_call

    model = copy.deepcopy(model).double()  # a float64 copy: the caller's model is not converted
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y)

    def unflat(t):
        return {k: v.reshape(s) for k, v, s in zip(names, torch.split(t, sizes), shapes)}

    def _loss_t(t, idx):
        return loss_fn(functional_call(model, unflat(t), (X[idx],)), y[idx])

    def loss(theta, idx):
        with torch.no_grad():
            return float(_loss_t(torch.as_tensor(theta, dtype=torch.float64), torch.as_tensor(idx)))

    def grad(theta, idx):
        t = torch.as_tensor(np.array(theta, dtype=float), dtype=torch.float64).requires_grad_(True)
        (g,) = torch.autograd.grad(_loss_t(t, torch.as_tensor(idx)), t)
        return g.numpy()

    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()
    # (``model.parameters()`` and ``named_parameters()`` share one order.)
    return loss, grad, theta0
