"""GSAM: surrogate-gap guided sharpness-aware minimisation (Zhuang et al., ICLR 2022).

SAM descends the perturbed loss :math:`f_p(w) = f(w + \\hat\\varepsilon(w))`. Zhuang et al. observe
that a low perturbed loss does not single out flat minima, and add a second objective, the
*surrogate gap* :math:`h(w) = f_p(w) - f(w)` (about :math:`\\rho^2\\lambda_{\\max}/2` at a minimum for
small :math:`\\rho`). One GSAM step, Algorithm 1 of the paper, with :math:`g = \\nabla f(w)` and
:math:`g_p = \\nabla f(w + \\hat\\varepsilon)`:

.. math::

    g_\\parallel = \\frac{\\langle g, g_p\\rangle}{\\lVert g_p\\rVert^2}\\, g_p, \\qquad
    g_\\perp = g - g_\\parallel, \\qquad
    w \\leftarrow w - \\eta\\,(g_p - \\alpha\\, g_\\perp).

The component :math:`-\\alpha g_\\perp` is an *ascent* step on :math:`f` orthogonal to :math:`g_p`: to
first order it leaves :math:`f_p` unchanged and lowers :math:`h = f_p - f`. With ``alpha = 0`` GSAM is
SAM. Where :math:`g_p = 0` we take :math:`g_\\parallel = 0` (the projection on the zero vector), so
:math:`g_\\perp = g`; where :math:`g = 0`, :math:`\\hat\\varepsilon = 0` by the book's rule
(:func:`samlib.ascent.ascent_scale`), so :math:`g_p = g = 0` and the step is zero: never NaN.

:func:`gsam_direction` is the formula (for flat tensors, lists of tensors, or stacked members);
:class:`GSAM` is the optimizer, a :class:`samlib.optim.SAM` whose second step replaces the
perturbed gradient by the GSAM direction before the base optimizer steps.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from ._validation import check_nonnegative
from .optim import SAM

__all__ = ["gsam_direction", "GSAM"]


def _check_tensors(x: Any, name: str) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if not isinstance(x, Sequence) or not x or not all(isinstance(t, torch.Tensor) for t in x):
        raise TypeError(f"{name} must be a tensor or a non-empty sequence of tensors, got {type(x).__name__}")
    return list(x)


def gsam_direction(g: Any, g_p: Any, alpha: float, stacked: bool = False,
                   check_finite: bool = True) -> Any:
    """GSAM's update direction :math:`g_p - \\alpha g_\\perp` (Zhuang et al. 2022, Algorithm 1).

    .. math::

        d = g_p - \\alpha\\Bigl(g - \\frac{\\langle g, g_p\\rangle}{\\lVert g_p\\rVert^2}\\,g_p\\Bigr),

    with the projection taken as 0 where :math:`g_p = 0` (then :math:`d = -\\alpha g`).

    Parameters
    ----------
    g : tensor or sequence of tensors
        The gradient at :math:`w`.
    g_p : tensor or sequence of tensors, shaped like ``g``
        The gradient at the perturbed point :math:`w + \\hat\\varepsilon`.
    alpha : float
        Weight of the orthogonal ascent component, finite and >= 0 (``0`` gives SAM's ``g_p``).
    stacked : bool
        If True, the leading dimension of every tensor indexes independent members (stacked
        networks): inner products and norms are taken per member.
    check_finite : bool
        Refuse non-finite gradients (default). A trainer of many stacked members passes False
        so that one diverged member carries NaN, as with the other methods, instead of
        stopping the others.

    Returns
    -------
    tensor or list of tensors
        Same structure as ``g``.

    Raises
    ------
    TypeError
        ``g`` or ``g_p`` is not a tensor or a sequence of tensors.
    ValueError
        Shapes differ, ``alpha`` is negative or not finite, or a gradient is not finite.

    Examples
    --------
    >>> import torch
    >>> gsam_direction(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0]), alpha=0.5)
    tensor([ 2.0000, -0.5000])
    """
    alpha = check_nonnegative(alpha, "alpha")
    single = isinstance(g, torch.Tensor)
    gs, gps = _check_tensors(g, "g"), _check_tensors(g_p, "g_p")
    if len(gs) != len(gps) or any(a.shape != b.shape for a, b in zip(gs, gps)):
        raise ValueError("g and g_p must have the same structure and shapes")
    if not isinstance(stacked, bool):
        raise TypeError(f"stacked must be a bool, got {type(stacked).__name__}")
    if check_finite and any(not bool(torch.isfinite(t).all()) for t in gs + gps):
        raise ValueError("g and g_p must be finite: GSAM's direction is undefined otherwise")

    def reduce(ts: list[torch.Tensor]) -> torch.Tensor:
        if stacked:
            return sum(t.flatten(1).sum(1) for t in ts)
        return sum(t.sum() for t in ts)

    dot = reduce([a * b for a, b in zip(gs, gps)])
    sq = reduce([b * b for b in gps])
    coef = torch.where(sq > 0, dot / torch.where(sq > 0, sq, torch.ones_like(sq)), torch.zeros_like(sq))
    out = []
    for a, b in zip(gs, gps):
        c = coef.view((-1,) + (1,) * (a.ndim - 1)) if stacked else coef
        out.append(b - alpha * (a - c * b))
    return out[0] if single else out


class GSAM(SAM):
    """GSAM around any torch base optimizer: SAM's two passes, then :func:`gsam_direction`.

    The API is :class:`samlib.optim.SAM`'s: ``first_step`` / ``second_step`` or ``step(closure)``.
    :meth:`first_step` keeps a copy of :math:`g = \\nabla L(w)`; :meth:`second_step` reads
    :math:`g_p = \\nabla L(w + \\hat\\varepsilon)` from ``p.grad``, replaces it by
    :math:`g_p - \\alpha g_\\perp` (inner product and norm global over all parameters, like SAM's norm),
    restores :math:`w` and lets the base optimizer step. The radius is constant; Zhuang et al.
    schedule it with the learning rate, which a caller can do by editing ``group["rho"]``.

    Parameters
    ----------
    params, base_optimizer_cls, rho, adaptive, asam_offset, **base_kwargs
        As for :class:`samlib.optim.SAM`.
    alpha : float, default 0.1
        Weight of the orthogonal ascent component, finite and >= 0; ``alpha=0`` is SAM exactly.

    Raises
    ------
    ValueError, TypeError
        As :class:`samlib.optim.SAM`; ``alpha`` negative, NaN or infinite (ValueError) or not a
        real number (TypeError).

    References
    ----------
    J. Zhuang, B. Gong, L. Yuan, Y. Cui, H. Adam, N. Dvornek, S. Tatikonda, J. Duncan, T. Liu,
    "Surrogate gap minimization improves sharpness-aware training", ICLR 2022, Algorithm 1.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = GSAM(model.parameters(), torch.optim.SGD, rho=0.05, alpha=0.1, lr=0.1)
    >>> X, y = torch.randn(8, 3), torch.randn(8, 1)
    >>> loss_fn = lambda: torch.nn.functional.mse_loss(model(X), y)
    >>> loss_fn().backward()
    >>> _ = opt.step(lambda: loss_fn().backward())
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
                 base_optimizer_cls: Callable[..., torch.optim.Optimizer], rho: float = 0.05,
                 alpha: float = 0.1, adaptive: bool = False, asam_offset: float = 0.0,
                 **base_kwargs: Any) -> None:
        self.alpha = check_nonnegative(alpha, "alpha")
        super().__init__(params, base_optimizer_cls, rho=rho, adaptive=adaptive,
                         asam_offset=asam_offset, **base_kwargs)
        self._g_at_w: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Keep :math:`g`, then move to :math:`w + \\hat\\varepsilon` (see :meth:`SAM.first_step`)."""
        kept = [(p, p.grad.detach().clone()) for group in self.param_groups for p in group["params"]
                if p.grad is not None]
        super().first_step(zero_grad=zero_grad)
        self._g_at_w = kept

    def restore(self) -> None:
        """Put back :math:`w` (bit-exact) and forget the kept gradient."""
        super().restore()
        self._g_at_w = None

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Replace ``p.grad`` by GSAM's direction, restore :math:`w`, let the base optimizer step.

        A parameter that has a kept :math:`g` but no gradient at the perturbed point gets
        :math:`g_p = 0` for it.
        """
        if self._g_at_w is None:
            raise RuntimeError("second_step called without a preceding first_step()")
        params = [p for p, _ in self._g_at_w]
        g = [gi for _, gi in self._g_at_w]
        g_p = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        for p, d in zip(params, gsam_direction(g, g_p, self.alpha)):
            p.grad = d
        super().second_step(zero_grad=zero_grad)

