"""Sparse SAM (SSAM, Mi et al. 2022): perturb only a masked subset of the weights.

SSAM replaces SAM's ascent step ``eps = rho g / ||g||`` by

.. math::  \\hat\\epsilon = \\rho \\, \\frac{g}{\\lVert g \\rVert} \\odot \\mathbf m,
           \\qquad \\mathbf m \\in \\{0, 1\\}^d,\\; \\lVert \\mathbf m \\rVert_0 = (1 - s) d,

(Mi et al. 2022, Algorithm 1), so ``||eps|| = rho ||m * g|| / ||g|| <= rho``; the
descent step is SAM's. The sparsity ``s`` is the fraction of coordinates left
unperturbed. Two ways to choose the mask:

- **SSAM-F** (Fisher): keep the ``(1 - s) d`` coordinates with the largest diagonal of the
  empirical Fisher information ``F_jj = (1/N) sum_i (d/dtheta_j log p(y_i | x_i))^2``
  over ``N`` training examples; recomputed every ``T_m`` steps.
- **SSAM-D** (dynamic): start from a random mask; every ``T_m`` steps drop the fraction
  ``alpha_t`` of active coordinates with the smallest gradient magnitude and grow as many
  among the inactive ones at random, so the sparsity stays ``s``; ``alpha_t`` decays as a
  cosine from ``alpha_0`` to 0.

Masks here are dicts ``name -> float tensor`` shaped like the parameters (1 = perturbed),
optionally stacked with a leading member axis as in :mod:`samlib.nets`; the
selection is global across all tensors of one network, as in the paper.
The torch optimizers :class:`SSAMF` and :class:`SSAMD` apply the same masks through the
mask hook of :class:`samlib.optim.SAM`.
"""
from __future__ import annotations

import math

import torch
from torch.func import functional_call, grad, vmap

from ._validation import check_int_at_least, check_nonnegative
from .nets import forward_cache, output_delta
from .optim import SAM

__all__ = [
    "check_sparsity",
    "topk_mask",
    "random_mask",
    "fisher_mask",
    "empirical_fisher_mlp",
    "cosine_drop_fraction",
    "dynamic_mask_update",
    "mask_density",
    "SSAMF",
    "SSAMD",
]


def check_sparsity(sparsity: float) -> float:
    """Return ``sparsity`` as a float after checking ``0 <= sparsity < 1``."""
    s = check_nonnegative(sparsity, "sparsity")
    if s >= 1:
        raise ValueError(f"sparsity must lie in [0, 1) (the fraction of unperturbed weights), got {sparsity!r}")
    return s


def _flatten(tensors: dict[str, torch.Tensor], stacked: bool) -> torch.Tensor:
    lead = 1 if stacked else 0
    return torch.cat([t.flatten(lead) for t in tensors.values()], dim=-1)


def _unflatten(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    stacked = flat.ndim == 2
    for k, t in like.items():
        n = t[0].numel() if stacked else t.numel()
        out[k] = flat[..., i: i + n].reshape(t.shape)
        i += n
    return out


def topk_mask(scores: dict[str, torch.Tensor], sparsity: float, stacked: bool = True) -> dict[str, torch.Tensor]:
    """Binary mask keeping the ``(1 - sparsity)`` fraction of largest scores, globally.

    With ``stacked=True`` the first axis of every tensor indexes independent networks and
    each network gets its own top-k. Exactly ``d - round(sparsity * d)`` ones per network.
    """
    s = check_sparsity(sparsity)
    flat = _flatten(scores, stacked)
    D = flat.shape[-1]
    keep = D - int(round(s * D))
    idx = flat.topk(keep, dim=-1).indices
    mask = torch.zeros_like(flat).scatter_(-1, idx, 1.0)
    return _unflatten(mask, scores)


def random_mask(
    params: dict[str, torch.Tensor], sparsity: float, generator: torch.Generator | None = None, stacked: bool = True
) -> dict[str, torch.Tensor]:
    """A uniformly random mask with exactly ``d - round(sparsity * d)`` ones per network (SSAM-D's start)."""
    flat = _flatten(params, stacked)
    noise = torch.rand(flat.shape, generator=generator)
    return topk_mask(_unflatten(noise, params), sparsity, stacked=stacked)


def fisher_mask(fisher: dict[str, torch.Tensor], sparsity: float, stacked: bool = True) -> dict[str, torch.Tensor]:
    """SSAM-F's mask: keep the coordinates with the largest empirical Fisher diagonal."""
    return topk_mask(fisher, sparsity, stacked=stacked)


def empirical_fisher_mlp(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Diagonal empirical Fisher ``(1/N) sum_i grad_i^2`` of every member of a stacked MLP.

    ``grad_i`` is the gradient of the cross-entropy of example ``i`` (the negative
    log-likelihood of its label) for the stacked ReLU MLP of :mod:`samlib.nets`.
    The per-example weight gradient of a layer is the outer product ``h_i delta_i^T``, so
    the sum of its squares is ``(h^2)^T (delta^2)``: one batched product, no per-example
    copies.

    Parameters
    ----------
    params : list of stacked tensors ``[W_1, b_1, ...]`` (see ``init_stacked_mlp``)
    X : tensor (S, N, d)
        ``N`` examples per member.
    y : int tensor (S, N)

    Returns
    -------
    list of tensors shaped like ``params``
    """
    N = X.shape[1]
    hs, logits = forward_cache(params, X)
    _, delta = output_delta(logits, y, 1)  # per-example gradients: no 1/N
    L = len(params) // 2
    out: list[torch.Tensor] = [None] * len(params)  # type: ignore[list-item]
    for layer in reversed(range(L)):
        out[2 * layer] = torch.bmm(hs[layer].pow(2).transpose(1, 2), delta.pow(2)) / N
        out[2 * layer + 1] = delta.pow(2).sum(1, keepdim=True) / N
        if layer > 0:
            delta = torch.bmm(delta, params[2 * layer].transpose(1, 2)).mul_(hs[layer] > 0)
    return out


def cosine_drop_fraction(alpha0: float, step: int, total_steps: int) -> float:
    """SSAM-D's drop fraction ``alpha_t = alpha0 (1 + cos(pi t / T)) / 2``."""
    a = check_nonnegative(alpha0, "alpha0")
    if a > 1:
        raise ValueError(f"alpha0 must lie in [0, 1], got {alpha0!r}")
    T = check_int_at_least(total_steps, 1, "total_steps")
    t = min(max(int(step), 0), T)
    return a * 0.5 * (1 + math.cos(math.pi * t / T))


def dynamic_mask_update(
    mask: dict[str, torch.Tensor],
    grads: dict[str, torch.Tensor],
    drop_fraction: float,
    generator: torch.Generator | None = None,
    stacked: bool = True,
) -> dict[str, torch.Tensor]:
    """One SSAM-D drop-and-grow update at constant sparsity.

    Drops ``round(drop_fraction * active)`` active coordinates with the smallest ``|g|``
    and activates as many coordinates chosen uniformly among those inactive before the
    update.
    """
    frac = check_nonnegative(drop_fraction, "drop_fraction")
    if frac > 1:
        raise ValueError(f"drop_fraction must lie in [0, 1], got {drop_fraction!r}")
    m = _flatten(mask, stacked)
    g = _flatten(grads, stacked).abs()
    m2 = m.unsqueeze(0) if not stacked else m
    g2 = g.unsqueeze(0) if not stacked else g
    out = m2.clone()
    for i in range(m2.shape[0]):
        active = m2[i] > 0.5
        n_act, n_inact = int(active.sum()), int((~active).sum())
        k = min(int(round(frac * n_act)), n_inact)
        if k == 0:
            continue
        drop = torch.where(active, g2[i], torch.full_like(g2[i], math.inf)).topk(k, largest=False).indices
        noise = torch.rand(m2[i].shape, generator=generator)
        grow = torch.where(active, torch.full_like(noise, -1.0), noise).topk(k).indices
        out[i, drop] = 0.0
        out[i, grow] = 1.0
    return _unflatten(out if stacked else out[0], mask)


def mask_density(mask: dict[str, torch.Tensor]) -> float:
    """Fraction of ones in a mask (``1 - sparsity``)."""
    return float(sum(v.sum() for v in mask.values()) / sum(v.numel() for v in mask.values()))


# ----------------------------------------------------------------------------------------
# Torch optimizers: SAM with SSAM's masks, through the mask hook of samlib.optim.SAM
# ----------------------------------------------------------------------------------------
class _SparseSAM(SAM):
    """SAM whose perturbation is ``rho (g/||g||) * mask`` (SSAM's Algorithm 1).

    ``renormalize_masked = False`` tells :class:`samlib.optim.SAM` to normalise by the norm
    of the *unmasked* gradient, so ``||eps|| = rho ||m * g|| / ||g|| <= rho``.
    """

    renormalize_masked = False

    def __init__(self, params, base_optimizer_cls, rho: float = 0.05, sparsity: float = 0.5, **base_kwargs):
        self.sparsity = check_sparsity(sparsity)
        super().__init__(params, base_optimizer_cls, rho=rho, **base_kwargs)

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def set_mask(self, mask: dict[int, torch.Tensor]) -> None:
        """Store a mask ``{index in parameter order: 0/1 tensor}`` in the optimizer state."""
        for i, p in enumerate(self._params()):
            self.state[p]["mask"] = mask[i].to(p.dtype)

    def mask(self) -> dict[int, torch.Tensor]:
        """The current mask, keyed by parameter index (all ones where none is set)."""
        return {i: self.state[p].get("mask", torch.ones_like(p)) for i, p in enumerate(self._params())}


class SSAMF(_SparseSAM):
    """SSAM-F: sparse SAM with the Fisher-information mask (Mi et al. 2022, §3.2).

    Call :meth:`update_mask` every ``T_m`` steps with a batch of training examples; it keeps
    the ``(1 - sparsity)`` fraction of weights with the largest diagonal empirical Fisher
    ``(1/N) sum_i (d log p(y_i|x_i) / d w)^2``. Until the first call no mask is set (plain SAM).

    Examples
    --------
    >>> model = torch.nn.Linear(4, 3)
    >>> opt = SSAMF(model.parameters(), torch.optim.SGD, rho=0.05, sparsity=0.5, lr=0.1)
    >>> X, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> opt.update_mask(model, X, y)
    >>> round(mask_density(opt.mask()), 2)
    0.47
    """

    def update_mask(self, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> None:
        """Recompute the mask from per-example cross-entropy gradients of ``model`` on ``(X, y)``."""
        names = [n for n, _ in model.named_parameters()]
        own = {id(p) for p in self._params()}
        if [id(p) for _, p in model.named_parameters()] != [id(p) for p in self._params()] or not own:
            raise ValueError("update_mask needs the model whose parameters (in order) this optimizer holds")
        base = {n: p.detach() for n, p in model.named_parameters()}

        def nll(p, x, t):
            out = functional_call(model, p, (x.unsqueeze(0),))
            return torch.nn.functional.cross_entropy(out, t.unsqueeze(0))

        per_ex = vmap(grad(nll), in_dims=(None, 0, 0))(base, X, y)
        fisher = {i: per_ex[n].pow(2).mean(0) for i, n in enumerate(names)}
        self.set_mask(fisher_mask(fisher, self.sparsity, stacked=False))


class SSAMD(_SparseSAM):
    """SSAM-D: sparse SAM with a dynamic drop-and-grow mask (Mi et al. 2022, §3.3).

    Starts from a seeded random mask with the requested sparsity. Call
    :meth:`update_mask` every ``T_m`` steps *after* ``backward()`` (it reads ``p.grad``):
    it drops the fraction ``alpha_t = alpha0 (1 + cos(pi t/T))/2`` of active weights with the
    smallest ``|g|`` and activates as many inactive weights at random.
    """

    def __init__(self, params, base_optimizer_cls, rho: float = 0.05, sparsity: float = 0.5,
                 drop_fraction: float = 0.5, seed: int = 0, **base_kwargs):
        super().__init__(params, base_optimizer_cls, rho=rho, sparsity=sparsity, **base_kwargs)
        self.drop_fraction = check_nonnegative(drop_fraction, "drop_fraction")
        self._gen = torch.Generator().manual_seed(check_int_at_least(seed, 0, "seed"))
        ps = self._params()
        self.set_mask(random_mask(dict(enumerate(ps)), self.sparsity, generator=self._gen, stacked=False))

    def update_mask(self, step: int, total_steps: int) -> None:
        """One drop-and-grow update with the gradients currently in ``p.grad``."""
        ps = self._params()
        if any(p.grad is None for p in ps):
            raise ValueError("SSAMD.update_mask reads p.grad: call loss.backward() first")
        frac = cosine_drop_fraction(self.drop_fraction, step, total_steps)
        grads = {i: p.grad for i, p in enumerate(ps)}
        self.set_mask(dynamic_mask_update(self.mask(), grads, frac, generator=self._gen, stacked=False))
