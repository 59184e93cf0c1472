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

Each batch maximum is computed by :func:`samlib.sharpness.sharpness_pga` (a lower bound), or
to first order with SAM's own perturbation :func:`samlib.ascent.ascent_direction`.

References
----------
P. Foret, A. Kleiner, H. Mobahi and B. Neyshabur, "Sharpness-aware minimization for efficiently
improving generalization", ICLR 2021, section 4.1 (m-sharpness).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .ascent import ascent_direction
from ._validation import (
    check_callable,
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_real_array,
    check_real_output,
)
from .sharpness import sharpness_pga

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

    The batches :math:`S_1, \\dots, S_{n/m}` of the m-sharpness (Foret et al. 2021, section 4.1).
    ``m`` must divide ``n`` so that the full loss is exactly the average of the batch losses
    (which the inequality ``kappa^(m) >= kappa^(n)`` relies on).

    Parameters
    ----------
    n : int
        Number of examples (``>= 1``).
    m : int
        Batch size, a divisor of ``n``.
    seed : int, default 0
        Seed of ``np.random.default_rng`` for the shuffle (``>= 0``).

    Returns
    -------
    list of ndarray
        ``n // m`` sorted index arrays of length ``m`` that together hold ``0, ..., n - 1`` once each.

    Raises
    ------
    ValueError
        If ``n`` or ``m`` is not a positive integer, ``m`` does not divide ``n``, or ``seed`` is negative.

    Examples
    --------
    >>> [b.tolist() for b in batch_partition(6, 3, seed=0)]
    [[2, 3, 5], [0, 1, 4]]
    """
    n = check_int_at_least(n, 1, "n")
    m = check_int_at_least(m, 1, "m")
    seed = check_int_at_least(seed, 0, "seed")
    if m > n or n % m:
        raise ValueError(f"m must divide n = {n}, got m = {m}")
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(b) for b in perm.reshape(n // m, m)]


def m_sharpness_from(batch_sharpness: Callable[[np.ndarray], float], n: int, m: int, seed: int = 0) -> MSharpness:
    """Average ``batch_sharpness(idx)`` over the batches of :func:`batch_partition` ``(n, m, seed)``.

    .. math::

        \\kappa^{(m)} = \\frac{m}{n} \\sum_{j=1}^{n/m} \\kappa(S_j)

    with :math:`\\kappa(S_j)` = ``batch_sharpness(S_j)`` computed by any method (exact, PGA, first order);
    Foret et al. (2021, section 4.1).

    Parameters
    ----------
    batch_sharpness : callable
        ``idx -> float``, the sharpness of the batch with example indices ``idx``.
    n, m, seed
        As in :func:`batch_partition`.

    Returns
    -------
    MSharpness

    Raises
    ------
    ValueError
        On invalid ``n``, ``m`` or ``seed``, or if ``batch_sharpness`` returns a non-finite value.
    TypeError
        If ``batch_sharpness`` is not callable or returns something other than a real number.

    Examples
    --------
    >>> m_sharpness_from(lambda idx: float(idx.sum()), n=4, m=2).value  # batches sum to 0+...+3 = 6
    3.0
    """
    batch_sharpness = check_callable(batch_sharpness, "batch_sharpness")
    batches = batch_partition(n, m, seed)
    vals = np.array([check_real_output(batch_sharpness(idx), "batch_sharpness(idx)") for idx in batches])
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

    .. math::

        \\kappa^{(m)}_\\rho(\\theta) = \\frac{m}{n} \\sum_{j=1}^{n/m}
            \\max_{\\lVert \\epsilon_j \\rVert_2 \\le \\rho} L_{S_j}(\\theta + \\epsilon_j) - L_{S_j}(\\theta)

    over the batches of :func:`batch_partition`. With ``method="first-order"`` the maximum of each batch is
    replaced by its value at SAM's perturbation :math:`\\hat\\epsilon_j = \\rho\\, g_j/\\lVert g_j\\rVert`,
    :math:`g_j = \\nabla L_{S_j}(\\theta)`, from :func:`samlib.ascent.ascent_direction` (so
    :math:`\\hat\\epsilon_j = 0` and the batch contributes 0 when :math:`g_j = 0`).

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
        bound); ``"first-order"``: the one-step value ``L_j(theta + eps_hat_j) - L_j(theta)``
        that SAM itself uses (also a lower bound).
    seed : int
        Seed of the batch partition.
    **pga_kwargs
        Passed to :func:`samlib.sharpness.sharpness_pga`.

    Returns
    -------
    MSharpness

    Raises
    ------
    ValueError
        If ``theta`` is not a finite vector, ``rho`` is negative or not finite, ``method`` is unknown, ``n``,
        ``m`` or ``seed`` are invalid (see :func:`batch_partition`), ``loss(theta, idx)`` is not finite, a
        gradient has the wrong shape, a first-order gradient is not finite, or a batch value is not finite.
    TypeError
        If ``loss`` or ``grad`` is not callable, ``loss`` returns something other than a real number or
        ``grad`` something other than an array of real numbers.

    Examples
    --------
    Least squares on four points, one batch per point (``m = 1``), to first order. At
    :math:`\\theta = 1` the first two points are fitted exactly: zero gradient, no perturbation, value 0.

    >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([1.0, 2.0, 2.0, 5.0])
    >>> loss = lambda th, idx: float(np.mean((X[idx] @ th - y[idx]) ** 2) / 2)
    >>> grad = lambda th, idx: X[idx].T @ (X[idx] @ th - y[idx]) / len(idx)
    >>> res = m_sharpness(loss, grad, np.array([1.0]), n=4, m=1, rho=0.1, method="first-order")
    >>> sorted(res.per_batch.round(6).tolist()), round(res.value, 6)
    ([0.0, 0.0, 0.345, 0.48], 0.20625)
    """
    loss = check_callable(loss, "loss")
    grad = check_callable(grad, "grad")
    theta = check_finite_array(theta, "theta", ndim=1)
    rho = check_nonnegative(rho, "rho")
    if not isinstance(method, str) or method not in ("pga", "first-order"):
        raise ValueError(f"method must be 'pga' or 'first-order', got {method!r}")

    def batch_loss(t: np.ndarray, idx: np.ndarray, where: str) -> float:
        return check_real_output(loss(t, idx), f"loss({where}, idx)")

    def batch_grad(t: np.ndarray, idx: np.ndarray, where: str) -> np.ndarray:
        gr = check_real_array(grad(t, idx), f"grad({where}, idx)")
        if gr.shape != tuple(theta.shape):
            raise ValueError(f"grad({where}, idx) must have the shape {tuple(theta.shape)} of theta, got {gr.shape}")
        return gr

    def one_batch(idx: np.ndarray) -> float:
        if method == "first-order":
            # the book's one epsilon-hat: zero at a zero gradient (or rho = 0), where SAM does not perturb
            eps = ascent_direction(check_finite_array(batch_grad(theta, idx, "theta"), "grad(theta, idx)"), rho)
            if not eps.any():
                return 0.0
            value = batch_loss(theta + eps, idx, "theta + eps") - batch_loss(theta, idx, "theta")
            if not np.isfinite(value):
                raise ValueError(f"loss(theta + eps, idx) - loss(theta, idx) is not finite ({value!r})")
            return value
        # the loss at theta itself is checked here, so that a non-finite value is reported as the loss's (inside
        # sharpness_pga it would be f's); non-finite gradients pass (sharpness_pga does not step along them)
        l0 = batch_loss(theta, idx, "theta")
        if not np.isfinite(l0):
            raise ValueError(f"loss(theta, idx) must be finite, got {l0!r}")
        return sharpness_pga(lambda t: batch_loss(t, idx, "theta + eps"), lambda t: batch_grad(t, idx, "theta + eps"),
                             theta, rho, **pga_kwargs).value

    return m_sharpness_from(one_batch, n, m, seed)


def torch_batch_loss(model, loss_fn, X, y):
    """Wrap a torch model and a data set as float64 numpy callables ``loss(theta, idx)``, ``grad(theta, idx)``.

    ``loss(theta, idx)`` is :math:`L_S(\\theta)` = ``loss_fn(model_theta(X[idx]), y[idx])`` for the batch
    :math:`S` = ``idx``, and ``grad`` its gradient by autograd: the per-batch losses that :func:`m_sharpness`
    takes. ``theta`` is the flat vector of the model's parameters (in ``model.parameters()`` order);
    the model is evaluated functionally with :func:`torch.func.functional_call`, so its
    own parameters are left untouched.

    Parameters
    ----------
    model : torch.nn.Module
        The network; a float64 copy is evaluated (the caller's model keeps its dtype and values).
    loss_fn : callable
        ``(outputs, targets) -> scalar tensor``, a mean over the batch (e.g.
        ``torch.nn.functional.cross_entropy``), so that the full loss is the average of batch losses.
    X, y : array_like
        Inputs (converted to float64) and targets.

    Returns
    -------
    loss : callable
        ``(theta, idx) -> float``.
    grad : callable
        ``(theta, idx) -> ndarray`` of the shape of ``theta``.
    theta0 : ndarray
        The model's parameters, flattened, as float64.
    """
    import torch  # here, not at the top: importing samlib must not import torch (see samlib/__init__.py)
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
