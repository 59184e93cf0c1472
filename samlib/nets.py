"""The ReLU MLP of the book, and many of them at once.

The review's MNIST experiment (§2.3.2 of Liu et al. 2022) uses an MLP ``d -> 500 -> 300 -> 10``
with softmax cross-entropy; the PAC-Bayes chapter uses smaller ones on the digits. Two layouts:

- **Stacked**: the weights of ``S`` networks (seeds, or settings) along a leading axis,
  ``[W_1, b_1, ..., W_L, b_L]`` with ``W_l`` of shape (S, in, out) and ``b_l`` (S, 1, out);
  every layer is one batched product (``torch.baddbmm``). Forward and backward passes are
  written out by hand; the tests check every gradient against
  ``torch.func.vmap(torch.func.grad(...))`` over ``functional_call``.
- **Flat**: a :class:`torch.nn.Sequential` (:func:`make_mlp`) and its parameters as one
  vector (:func:`flat_params`); ``B`` such vectors are evaluated through the stacked
  forward pass (:func:`batched_mlp_forward`).

SAM on the stacked network (:func:`sam_grad`, Foret et al. 2021, eq. 3 and §4.1) costs two
passes and no more, for any m-sharpness chunk size ``m``: the weight gradient of one chunk is
a rank-``m`` matrix ``G_c = h_c^T delta_c`` (layer input times back-propagated error), so the
perturbed layer ``h' (W + s_c h_c^T delta_c)`` equals ``h' W + s_c (h' h_c^T) delta_c`` and
never needs the perturbed weights, and ``||G_c||_F^2 = <h_c h_c^T, delta_c delta_c^T>`` needs
only ``m x m`` Gram matrices. The scale ``s_c`` follows the book's one zero-gradient rule,
:func:`samlib.ascent.ascent_scale`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._validation import check_int_at_least
from .ascent import ascent_scale

__all__ = [
    "init_stacked_mlp",
    "mlp_forward",
    "forward_cache",
    "output_delta",
    "backprop",
    "mlp_grad",
    "sam_grad",
    "member_module",
    "stacked_loss_and_accuracy",
    "make_mlp",
    "flat_params",
    "mlp_layer_shapes",
    "stacked_from_flat",
    "batched_mlp_forward",
    "batched_mlp_error",
    "batched_mlp_ce",
]

Params = list  # [W_1, b_1, ..., W_L, b_L]; W_l (S, in, out), b_l (S, 1, out)


# ----------------------------------------------------------------------------------------
# The stacked network
# ----------------------------------------------------------------------------------------
def init_stacked_mlp(dims: Sequence[int], seeds: Sequence[int]) -> list[torch.Tensor]:
    """Initial parameters of ``len(seeds)`` MLPs ``dims[0] -> ... -> dims[-1]``, stacked.

    Each member is initialised like :class:`torch.nn.Linear` (weights and biases uniform
    in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``) from its own ``torch.Generator`` seeded with
    its seed, so a member's start depends only on its seed (not on the method or on the
    other members): runs of different methods with the same seed are paired.

    Returns
    -------
    list of tensors ``[W_1, b_1, ..., W_L, b_L]``, ``W_l`` of shape (S, in, out) and
    ``b_l`` of shape (S, 1, out).
    """
    dims = [check_int_at_least(d, 1, "dims[i]") for d in dims]
    if len(dims) < 2:
        raise ValueError(f"dims needs at least an input and an output size, got {dims}")
    if len(seeds) == 0:
        raise ValueError("seeds must not be empty")
    out: list[list[torch.Tensor]] = [[] for _ in range(2 * (len(dims) - 1))]
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        for layer, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            bound = 1.0 / math.sqrt(a)
            out[2 * layer].append((torch.rand(a, b, generator=gen) * 2 - 1) * bound)
            out[2 * layer + 1].append((torch.rand(1, b, generator=gen) * 2 - 1) * bound)
    return [torch.stack(t) for t in out]


def _n_members(params: Params) -> int:
    return int(params[0].shape[0])


def _as_member_batch(X: torch.Tensor, S: int) -> torch.Tensor:
    """(n, d) shared inputs -> (S, n, d) view; (S, n, d) passes through."""
    return X.unsqueeze(0).expand(S, -1, -1) if X.ndim == 2 else X


def mlp_forward(params: Params, X: torch.Tensor) -> torch.Tensor:
    """Logits of every member: ``X`` (n, d) shared or (S, n, d) per member -> (S, n, K)."""
    h = _as_member_batch(X, _n_members(params))
    L = len(params) // 2
    for layer in range(L):
        h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
        if layer < L - 1:
            h = torch.relu(h)
    return h


def forward_cache(params: Params, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Layer inputs ``[x, h_1, ..., h_{L-1}]`` (post-ReLU) and the logits."""
    hs = [x]
    L = len(params) // 2
    h = x
    for layer in range(L):
        h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
        if layer < L - 1:
            h = torch.relu(h)
            hs.append(h)
    return hs, h


def output_delta(logits: torch.Tensor, y: torch.Tensor, denom: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member mean cross-entropy and its gradient w.r.t. the logits, ``(softmax - onehot)/denom``."""
    logp = torch.log_softmax(logits, -1)
    loss = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).sum(1) / denom
    delta = logp.exp_()
    delta.scatter_add_(-1, y.unsqueeze(-1), torch.full(y.shape + (1,), -1.0, dtype=delta.dtype))
    return loss, delta.div_(denom)


def _step_scale(delta: torch.Tensor, lr: torch.Tensor | None) -> torch.Tensor:
    """The output error times ``-lr`` (per member) for an in-place step, else unchanged.

    Back-propagation is linear in the output error, so scaling it once scales every
    layer's gradient: the products below then yield ``-lr g`` directly.
    """
    return delta if lr is None else delta * (-lr).view(-1, 1, 1)


def _take(params: Params, grads: list, layer: int, h: torch.Tensor, delta: torch.Tensor,
          step: bool) -> None:
    """Weight and bias gradient of one layer, ``h^T delta`` and ``sum(delta)``: written into
    ``grads`` (into its tensors where it holds some already), or (``step``) added to the
    parameters in place. The in-place product (``baddbmm_``) never forms the gradient, which
    saves three passes over the largest tensors per step; the caller must have used the
    layer's old weights already."""
    w, b = 2 * layer, 2 * layer + 1
    if step:
        params[w].baddbmm_(h.transpose(1, 2), delta)
        params[b].add_(delta.sum(1, keepdim=True))
    elif grads[w] is not None:  # preallocated: no fresh 6 MB tensor per step
        torch.bmm(h.transpose(1, 2), delta, out=grads[w])
        torch.sum(delta, 1, keepdim=True, out=grads[b])
    else:
        grads[w] = torch.bmm(h.transpose(1, 2), delta)
        grads[b] = delta.sum(1, keepdim=True)


def _backward(params: Params, hs: list[torch.Tensor], delta: torch.Tensor, step: bool = False,
              out: list | None = None, target: Params | None = None) -> list | None:
    """Back-propagate ``delta`` through ``params``; store the gradients (in ``out`` if given)
    or, with ``step``, add them to ``target`` (default ``params``) in place."""
    L = len(params) // 2
    grads: list[torch.Tensor] = list(out) if out is not None else [None] * len(params)
    target = params if target is None else target
    for layer in reversed(range(L)):
        # the error of the layer below needs this layer's weights before any step
        below = None
        if layer > 0:
            below = torch.bmm(delta, params[2 * layer].transpose(1, 2)).mul_(hs[layer] > 0)
        _take(target, grads, layer, hs[layer], delta, step)
        delta = below
    return None if step else grads


def backprop(
    params: Params, hs: Sequence[torch.Tensor], delta: torch.Tensor, lr: torch.Tensor | None = None,
    step_on: Params | None = None,
) -> list[torch.Tensor] | None:
    """Back-propagate a given output error through given weights: ``J(params)^T delta``.

    .. math:: g = J_\\theta(x)^\\top \\delta, \\qquad
              J_\\theta(x) = \\partial f(\\theta, x) / \\partial \\theta,

    the vector-Jacobian product of the network's logits ``f`` at ``params`` with an arbitrary
    error ``delta`` on the logits. With ``delta`` the loss gradient at the same ``params``
    (:func:`output_delta`) this is :func:`mlp_grad`; with another one it separates the two
    things SAM's perturbation changes (Baek, Kolter & Raghunathan 2024, §4): the error at the
    logits and the Jacobian it is sent back through.

    Parameters
    ----------
    params : stacked parameters
        The weights whose Jacobian is used.
    hs : sequence of tensors
        The layer inputs of ``params`` on the batch, ``forward_cache(params, x)[0]``.
    delta : tensor (S, B, K)
        Error on the logits (already divided by the batch size for a mean loss).
    lr : tensor (S,), optional
        If given, add ``-lr g`` to ``step_on`` in place instead of returning ``g``.
    step_on : stacked parameters, optional
        With ``lr``: the parameters to step (default ``params``).

    Returns
    -------
    list of tensors shaped like ``params``, or None if ``lr`` is given

    Raises
    ------
    ValueError
        ``hs`` does not hold one layer input per layer, or ``delta``'s shape does not match.
    """
    L = len(params) // 2
    if len(hs) != L:
        raise ValueError(f"hs must hold {L} layer inputs (forward_cache(params, x)[0]), got {len(hs)}")
    want = (hs[0].shape[0], hs[0].shape[1], params[-1].shape[-1])
    if tuple(delta.shape) != want:
        raise ValueError(f"delta must have shape {want}, got {tuple(delta.shape)}")
    return _backward(params, list(hs), _step_scale(delta, lr), step=lr is not None, target=step_on)


def mlp_grad(
    params: Params, x: torch.Tensor, y: torch.Tensor, lr: torch.Tensor | None = None,
    out: list[torch.Tensor] | None = None, step_on: Params | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """Mean cross-entropy of each member on its batch and its gradient (or an SGD step).

    Parameters
    ----------
    params : stacked parameters (see :func:`init_stacked_mlp`)
    x : tensor (S, B, d)
    y : int tensor (S, B)
    lr : tensor (S,), optional
        If given, take the SGD step ``theta <- theta - lr g`` on ``params`` in place
        instead of returning ``g`` (same step, without storing the gradient).
    out : list of tensors shaped like ``params``, optional
        Write the gradient into these and return them (no allocation per step).
    step_on : stacked parameters, optional
        With ``lr``: take the step on these instead of ``params`` (SSAM: the gradient at
        the perturbed point moves the unperturbed weights).

    Returns
    -------
    loss : tensor (S,)
        At the parameters before any step.
    grads : list of tensors shaped like ``params``, or None if ``lr`` is given
    """
    hs, logits = forward_cache(params, x)
    loss, delta = output_delta(logits, y, x.shape[1])
    return loss, _backward(params, hs, _step_scale(delta, lr), step=lr is not None, out=out,
                           target=step_on)


def sam_grad(
    params: Params, x: torch.Tensor, y: torch.Tensor, rho: torch.Tensor, m: int | None = None,
    lr: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """SAM's descent direction with m-sharpness, for every member (two passes).

    .. math:: g_{SAM} = \\frac{1}{k}\\sum_{c=1}^{k} \\nabla L_c(\\theta + \\epsilon_c),
              \\qquad \\epsilon_c = \\rho\\, \\nabla L_c(\\theta) / \\lVert \\nabla L_c(\\theta) \\rVert,

    with ``L_c`` the mean loss on chunk ``c`` of ``m`` examples (Foret et al. 2021, eq. 3
    and §4.1); ``m = B`` is plain SAM. Uses the rank-``m`` structure of the chunk gradients
    (module docstring), so the cost does not grow as ``m`` shrinks.

    Parameters
    ----------
    params : stacked parameters
    x, y : tensors (S, B, d) and (S, B)
    rho : tensor (S,)
        Radius per member.
    m : int, optional
        Chunk size dividing ``B``; default ``B``.
    lr : tensor (S,), optional
        If given, take SAM's step ``theta <- theta - lr g_SAM`` on ``params`` in place
        instead of returning ``g_SAM``.

    Returns
    -------
    loss : tensor (S,)
        Mean loss at the *unperturbed* point.
    grads : list of tensors shaped like ``params``, or None if ``lr`` is given
    """
    S, B, _ = x.shape
    m = B if m is None else m
    if B % m:
        raise ValueError(f"m must divide the batch size {B}, got m={m}")
    k = B // m
    L = len(params) // 2
    hs, logits = forward_cache(params, x)
    loss, delta = output_delta(logits, y, B)
    deltas: list[torch.Tensor] = [None] * L  # type: ignore[list-item]
    d = delta
    for layer in reversed(range(L)):
        deltas[layer] = d
        if layer > 0:
            d = torch.bmm(d, params[2 * layer].transpose(1, 2)).mul_(hs[layer] > 0)
    # chunk gradient of layer l: k * h_c^T delta_c (deltas carry 1/B, chunk losses 1/m);
    # the bias column is a row of ones appended to h, hence the "+ 1" on the Gram matrix
    hc = [h.reshape(S, k, m, -1) for h in hs]
    dc = [t.reshape(S, k, m, -1) for t in deltas]
    sq = sum(((hc[i] @ hc[i].transpose(-1, -2) + 1) * (dc[i] @ dc[i].transpose(-1, -2))).sum((-1, -2)) for i in range(L))
    # eps_c = rho G_c/||G_c|| = sigma_c h_c^T delta_c
    # ||G_c|| = k sqrt(sq), so sigma_c = rho k/||G_c|| = rho/sqrt(sq); zero chunk gradient -> eps_c = 0
    sigma = ascent_scale(sq.clamp_min(0).sqrt(), rho.view(S, 1)).view(S, k, 1, 1)
    hp = [x]
    h = x
    for layer in range(L):
        coef = (h.reshape(S, k, m, -1) @ hc[layer].transpose(-1, -2) + 1) * sigma  # (S, k, m, m)
        h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer]) + (coef @ dc[layer]).reshape(S, B, -1)
        if layer < L - 1:
            h = torch.relu(h)
            hp.append(h)
    _, dp = output_delta(h, y, B)
    dp = _step_scale(dp, lr)
    grads: list[torch.Tensor] = [None] * len(params)  # type: ignore[list-item]
    for layer in reversed(range(L)):
        below = None
        if layer > 0:  # before the step: the error below uses this layer's old weights
            back = (dp.reshape(S, k, m, -1) @ dc[layer].transpose(-1, -2)) * sigma @ hc[layer]
            below = torch.bmm(dp, params[2 * layer].transpose(1, 2)) + back.reshape(S, B, -1)
            below.mul_(hp[layer] > 0)
        _take(params, grads, layer, hp[layer], dp, lr is not None)
        dp = below
    return loss, None if lr is not None else grads


def member_module(params: Params, member: int) -> nn.Sequential:
    """The ``member``-th network as an ordinary :class:`torch.nn.Sequential` (a copy, in the
    parameters' precision)."""
    L = len(params) // 2
    layers: list[nn.Module] = []
    for layer in range(L):
        W, b = params[2 * layer][member], params[2 * layer + 1][member]
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W.T)
            lin.bias.copy_(b[0])
        layers.append(lin)
        if layer < L - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def stacked_loss_and_accuracy(
    params: Params, X: torch.Tensor, y: torch.Tensor, chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and accuracy of every member on a full set.

    ``X`` is shared (n, d); ``y`` is shared (n,) or per member (S, n).
    """
    S = _n_members(params)
    yy = y.expand(S, -1) if y.ndim == 1 else y
    loss = torch.zeros(S, dtype=torch.float64)
    correct = torch.zeros(S, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, X.shape[0], chunk):
            logits = mlp_forward(params, X[i: i + chunk])
            yc = yy[:, i: i + chunk]
            logp = torch.log_softmax(logits, -1)
            loss -= logp.gather(-1, yc.unsqueeze(-1)).squeeze(-1).double().sum(1)
            correct += (logits.argmax(-1) == yc).double().sum(1)
    n = X.shape[0]
    return (loss / n).numpy(), (correct / n).numpy()


# ----------------------------------------------------------------------------------------
# The same ReLU MLP as a torch module, and many of them as flat parameter vectors
# (posterior samples of a PAC-Bayes bound)
# ----------------------------------------------------------------------------------------
def make_mlp(sizes: tuple[int, ...], seed: int):
    """A ReLU MLP with layer widths ``sizes`` (e.g. ``(64, 32, 10)``), seeded initialisation."""
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes!r}")
    torch.manual_seed(seed)
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def flat_params(model):
    """All parameters of ``model`` as one detached 1-D tensor (torch's parameter order)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def mlp_layer_shapes(sizes: tuple[int, ...]) -> list[tuple[tuple[int, int], int]]:
    """``[((out, in), out), ...]`` weight and bias shapes of :func:`make_mlp` in flat order."""
    return [((sizes[i + 1], sizes[i]), sizes[i + 1]) for i in range(len(sizes) - 1)]


def stacked_from_flat(theta: torch.Tensor, sizes: Sequence[int]) -> Params:
    """Views of ``B`` flat parameter vectors (:func:`flat_params` order) as stacked parameters.

    ``theta`` (B, k) holds each network as torch stores it (``W`` of shape (out, in), then ``b``);
    the result is ``[W_1^T, b_1, ...]`` with ``W_l^T`` of shape (B, in, out) and ``b_l`` (B, 1, out), the
    layout of :func:`init_stacked_mlp`, without copying.
    """
    shapes = mlp_layer_shapes(tuple(sizes))
    k = sum(o * i + o for (o, i), _ in shapes)
    if theta.ndim != 2 or theta.shape[1] != k:
        raise ValueError(f"theta must have shape (B, {k}) for sizes {tuple(sizes)}, got {tuple(theta.shape)}")
    B = theta.shape[0]
    params: Params = []
    pos = 0
    for (o, inp), _ in shapes:
        params.append(theta[:, pos: pos + o * inp].reshape(B, o, inp).transpose(1, 2))
        pos += o * inp
        params.append(theta[:, pos: pos + o].unsqueeze(1))
        pos += o
    return params


def batched_mlp_forward(theta: torch.Tensor, sizes: Sequence[int], X: torch.Tensor) -> torch.Tensor:
    """Logits of many MLPs given as flat parameter vectors.

    Parameters
    ----------
    theta : tensor, shape (B, k)
        ``B`` flat parameter vectors in :func:`flat_params` order.
    X : tensor, shape (n, sizes[0])

    Returns
    -------
    tensor, shape (B, n, sizes[-1]): :func:`mlp_forward` on :func:`stacked_from_flat`.
    """
    return mlp_forward(stacked_from_flat(theta, sizes), X)


def batched_mlp_error(theta, sizes, X, y, chunk: int = 256):
    """0-1 error of each of the ``B`` parameter vectors in ``theta`` on ``(X, y)``; tensor (B,)."""
    out = []
    with torch.no_grad():
        for i in range(0, theta.shape[0], chunk):
            logits = batched_mlp_forward(theta[i : i + chunk], sizes, X)
            out.append((logits.argmax(-1) != y).float().mean(-1))
    return torch.cat(out)


def batched_mlp_ce(theta, sizes, X, y, chunk: int = 256):
    """Mean cross-entropy of each of the ``B`` parameter vectors in ``theta``; tensor (B,)."""
    out = []
    with torch.no_grad():
        for i in range(0, theta.shape[0], chunk):
            logits = batched_mlp_forward(theta[i : i + chunk], sizes, X)
            lp = torch.log_softmax(logits, -1)
            out.append(-lp.gather(-1, y.expand(lp.shape[0], -1).unsqueeze(-1)).squeeze(-1).mean(-1))
    return torch.cat(out)
