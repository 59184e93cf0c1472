"""Sharpness-Aware Minimization (SAM) and its adaptive variant (ASAM) as a torch optimizer.

SAM (Foret et al., 2021, eqs. 2-3) takes the gradient at an adversarially perturbed point:

.. math::

    \\hat\\varepsilon = \\rho\\,\\frac{g}{\\lVert g\\rVert_2}, \\quad g = \\nabla L(w), \\qquad
    w \\leftarrow \\mathrm{base\\_step}\\big(w,\\ \\nabla L(w + \\hat\\varepsilon)\\big),

with the Euclidean norm taken over all parameters together.  ASAM (Kwon et al., 2021, eq. 9)
rescales elementwise by :math:`T = |w| + c` (``asam_offset`` :math:`c`):

.. math::

    \\hat\\varepsilon = \\rho\\,\\frac{T^2 g}{\\lVert T g\\rVert_2}.

The interface is that of ``davda54/sam`` (``first_step``, ``second_step``, ``step(closure)``),
so the optimizer drops into loops written for it; the code is our own and closes that one's
known gaps: the weights are restored bit-exactly, a zero gradient gives
:math:`\\hat\\varepsilon = 0` (not NaN), the norm neither overflows nor underflows, a failing
step leaves no weight perturbed, and the state dict holds the base optimizer's state.
BatchNorm statistics of the second pass are handled by :mod:`samlib.batchnorm`.
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ._validation import check_nonnegative

__all__ = ["SAM"]


def _check_adaptive(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"adaptive must be True or False, got {value!r}")
    return value


@functools.cache
def _normal_range(dtype: torch.dtype) -> tuple[float, float]:
    """Smallest and largest positive normal numbers of a floating dtype."""
    info = torch.finfo(dtype)
    return info.tiny, info.max


# Tensors with at least this many entries are squared by BLAS ``dot``, the rest by one ``_foreach_norm``.
_DOT_MIN_NUMEL = 1 << 16
_DOT_DTYPES = (torch.float32, torch.float64)


def _sum_of_squares(tensors: list[torch.Tensor]) -> tuple[float, float]:
    """:math:`\\sum_i \\lVert t_i\\rVert_2^2` in float64, and :math:`\\sum_i n_i\\,\\mathrm{tiny}_i`.

    Below the second number the first may have lost squares to underflow (``tiny`` is the
    smallest normal number of the tensor's dtype, ``n`` its number of entries).

    Why two kernels: a contiguous float32/float64 tensor of at least ``_DOT_MIN_NUMEL``
    entries goes to BLAS ``dot`` (one pass, no square root), which on the book's 784x500
    gradient takes about two thirds of the time of torch's norm kernel and is no less
    accurate (relative error of the square about 1e-6 against a float64 sum, torch's norm
    squared about 7e-6); the many small tensors go to one ``torch._foreach_norm`` call, one
    dispatch for all of them instead of one ``dot`` and one ``.item()`` each.
    """
    total, bound, small = 0.0, 0.0, []
    for t in tensors:
        n, dtype = t.numel(), t.dtype
        bound += n * _normal_range(dtype)[0]
        if n >= _DOT_MIN_NUMEL and dtype in _DOT_DTYPES and t.is_contiguous():
            flat = t.view(-1)
            total += torch.dot(flat, flat).item()
        else:
            small.append(t)
    if small:
        total += math.fsum([n.item() ** 2 for n in torch._foreach_norm(small)])
    return total, bound


def _global_norm(tensors: list[torch.Tensor]) -> float:
    """:math:`\\lVert (t_1, \\dots, t_n)\\rVert_2` as a float, free of overflow and underflow.

    The fast path is :func:`_sum_of_squares`.  Its kernels square in the tensors' dtype, so
    a float16 vector of norm above 65504 or a float32 one above about 1.8e19 gives inf, and
    float32 entries below 1e-19 square to 0, which would silently turn SAM into SGD.  The
    fast result is kept when it is finite and exceeds ``numel * tiny`` (then underflowed
    squares change it by less than one rounding); otherwise the norm is recomputed scaled
    by :math:`\\max|t|` in float64, the classic remedy (Blue, 1978; LAPACK's ``dnrm2``),
    which torch does not offer.
    """
    sum_sq, underflow_bound = _sum_of_squares(tensors)
    if math.isfinite(sum_sq) and sum_sq >= underflow_bound:
        return math.sqrt(sum_sq)
    flat = [t.reshape(-1) for t in tensors if t.numel()]
    big = max((t.abs().max().item() for t in flat), default=0.0)
    if big == 0.0 or not math.isfinite(big):
        return big  # exactly zero, or inf/nan entries
    return big * math.hypot(*(torch.linalg.vector_norm(t.double() / big).item() for t in flat))


class SAM(torch.optim.Optimizer):
    """Sharpness-Aware Minimization (and ASAM) around any torch base optimizer.

    One SAM iteration:

    1. the caller computes :math:`g = \\nabla L(w)` (``loss.backward()``);
    2. :meth:`first_step` moves to :math:`w + \\hat\\varepsilon` with
       :math:`\\hat\\varepsilon = \\rho\\, g/\\lVert g\\rVert_2` or, if ``adaptive``,
       :math:`\\rho\\, T^2 g/\\lVert T g\\rVert_2`, :math:`T = |w| + c`;
    3. the caller computes :math:`\\nabla L(w + \\hat\\varepsilon)` (a second ``backward()``);
    4. :meth:`second_step` puts :math:`w` back and lets the base optimizer step with it.

    :meth:`step` does 2-4 given a closure that runs forward and backward.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters or parameter groups; a group may set its own ``rho``, ``adaptive``,
        ``asam_offset`` and base-optimizer hyper-parameters.  The norm is global over groups.
    base_optimizer_cls : callable
        Class or factory of the base optimizer (e.g. ``torch.optim.SGD``), called as
        ``base_optimizer_cls(self.param_groups, **base_kwargs)``.
    rho : float, default 0.05
        Radius of the perturbation, finite and >= 0; ``rho=0`` is the base optimizer exactly.
    adaptive : bool, default False
        ASAM's scale-invariant perturbation.
    asam_offset : float, default 0.0
        The offset :math:`c` in :math:`T = |w| + c` (Kwon et al. use 0.01, ``davda54/sam`` 0);
        ignored unless ``adaptive``.
    **base_kwargs
        For the base optimizer (``lr``, ``momentum``, ``weight_decay``, ...).

    Raises
    ------
    ValueError
        ``rho`` or ``asam_offset`` negative, NaN or infinite; ``base_optimizer_cls`` not
        building a ``torch.optim.Optimizer``; ``eta`` given (renamed).
    TypeError
        ``rho`` or ``asam_offset`` not a real number, ``adaptive`` not a bool,
        ``base_optimizer_cls`` not callable (an optimizer instance instead of its class, say).

    Notes
    -----
    **Masks** (sparse SAM, Mi et al., 2022, Algorithm 1).  A tensor ``self.state[p]["mask"]``
    multiplies that parameter's :math:`\\hat\\varepsilon` after normalising by the norm of the
    whole gradient, so :math:`\\lVert\\hat\\varepsilon\\rVert_2 \\le \\rho`; see :mod:`samlib.ssam`.

    **m-sharpness.**  :meth:`first_step` reads only ``p.grad``, so the gradient of one chunk of
    ``m`` examples may be put there; :meth:`restore` returns to :math:`w` without stepping, and
    ``self.base_optimizer.step()`` then steps with the averaged perturbed gradients.

    **Storage and cost.**  The perturbed weights are written into a spare buffer that is
    swapped in (``p.data``) and swapped out again, so restoring is exact and costs nothing.
    A plain SAM step thus adds one pass over the gradients (the norm) and one fused pass
    :math:`w + c\\,g` to the base optimizer's work, the least a step that restores :math:`w`
    exactly can do; where a forward-backward pass is cheap next to those memory passes (the
    book's MLP at batch 10, on a CPU) they cost about a third of an SGD step
    (``benchmarks/sam_step.py --breakdown``).  The norm is read on the host, which on an
    accelerator is a synchronisation: the price of checking it for overflow.  A parameter
    that is a view into a larger flat buffer does not see the perturbation through that buffer.

    **Shared groups.**  ``self.param_groups`` is ``self.base_optimizer.param_groups``, so LR
    schedulers given this optimizer change the base optimizer's learning rate.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1)
    >>> X, y = torch.randn(8, 3), torch.randn(8, 1)
    >>> loss_fn = lambda: torch.nn.functional.mse_loss(model(X), y)
    >>> loss_fn().backward()
    >>> opt.first_step(zero_grad=True)
    >>> loss_fn().backward()
    >>> opt.second_step(zero_grad=True)
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        base_optimizer_cls: Callable[..., torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        asam_offset: float = 0.0,
        **base_kwargs: Any,
    ) -> None:
        if "eta" in base_kwargs:  # the old name of asam_offset; "eta" means a learning rate elsewhere
            raise ValueError("eta is not a SAM argument: the ASAM offset is asam_offset, the learning rate lr")
        if not callable(base_optimizer_cls):
            raise TypeError(f"base_optimizer_cls must be an optimizer class such as torch.optim.SGD, "
                            f"got {base_optimizer_cls!r}")
        defaults = dict(rho=check_nonnegative(rho, "rho"), adaptive=_check_adaptive(adaptive),
                        asam_offset=check_nonnegative(asam_offset, "asam_offset"), **base_kwargs)
        super().__init__(params, defaults)
        base = base_optimizer_cls(self.param_groups, **base_kwargs)
        if not isinstance(base, torch.optim.Optimizer):
            raise ValueError(f"base_optimizer_cls must build a torch.optim.Optimizer, got {type(base).__name__}")
        self.base_optimizer = base
        self.param_groups = base.param_groups  # one list: edits and schedulers reach both
        # id(param) -> buffer that receives w + eps, reused every step (ids, not tensors, as keys:
        # Tensor.__hash__ is a Python function).  (param, w, w + eps) while perturbed.
        self._spare: dict[int, torch.Tensor] = {}
        self._at_w: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; SAM's defaults and then the base optimizer's are filled in."""
        for key, check in (("rho", check_nonnegative), ("asam_offset", check_nonnegative)):
            if key in param_group:
                param_group[key] = check(param_group[key], key)
        if "adaptive" in param_group:
            _check_adaptive(param_group["adaptive"])
        if not hasattr(self, "base_optimizer"):  # called by torch.optim.Optimizer.__init__
            super().add_param_group(param_group)
            return
        for key in ("rho", "adaptive", "asam_offset"):
            param_group.setdefault(key, self.defaults[key])
        self.base_optimizer.add_param_group(param_group)  # appends to the shared list

    def state_dict(self) -> dict[str, Any]:
        """torch's state dict of SAM (groups, masks) with the base optimizer's under ``"base_optimizer"``."""
        state = super().state_dict()
        state["base_optimizer"] = self.base_optimizer.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` produced."""
        state_dict = dict(state_dict)
        base_state = state_dict.pop("base_optimizer", None)
        super().load_state_dict(state_dict)
        self.base_optimizer.param_groups = self.param_groups
        if base_state is not None:
            self.base_optimizer.load_state_dict(base_state)
        self.param_groups = self.base_optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients, as ``torch.optim.Optimizer.zero_grad`` does."""
        if not set_to_none:
            return super().zero_grad(set_to_none=False)
        # Why not torch's: its profiling bookkeeping costs about 10 us a call, 1% of an SGD step
        # of the book's MLP at batch 10, and a SAM step calls it twice.
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move every parameter with a gradient to :math:`w + \\hat\\varepsilon`.

        All of :math:`w + \\hat\\varepsilon` is computed into spare buffers before any parameter
        changes, so an exception (out of memory, a mask of the wrong shape) leaves the model at
        :math:`w` and the optimizer ready for another try.

        Raises
        ------
        RuntimeError
            No parameter has a gradient, or the previous :meth:`first_step` is still pending.
        ValueError
            The gradient contains inf or NaN.
        """
        if self._at_w is not None:
            raise RuntimeError("first_step called twice: call second_step() or restore() first")
        # eps_i = rho * a_i * g_i / ||b||: a = T^2 (ASAM) times the mask, b = T g; a = None means 1
        terms: list[tuple[float, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None] | None]] = []
        b: list[torch.Tensor] = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            a: list[torch.Tensor | None] | None = None
            if group["adaptive"]:
                T = torch._foreach_add(torch._foreach_abs(params), group["asam_offset"])
                b += torch._foreach_mul(grads, T)
                a = torch._foreach_mul(T, T)
            else:
                b += grads
            if self.state:  # only masks live in SAM's own state
                a = self._times_masks(params, a)
            terms.append((group["rho"], params, grads, a))
        if not terms:
            raise RuntimeError("SAM.first_step needs gradients: call loss.backward() first")
        norm = _global_norm(b)
        if not math.isfinite(norm):
            raise ValueError("the gradient contains inf or NaN: SAM's ascent direction is undefined")
        moved: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (param, w, w + eps)
        if norm > 0:  # a zero gradient: eps = 0, nothing moves
            for rho, params, grads, a in terms:
                if rho > 0:
                    moved += self._perturbed(params, grads, a, rho, norm)
        for p, _, buf in moved:  # every w + eps is computed: only pointer swaps from here on
            p.data = buf
        self._at_w = moved
        if zero_grad:
            self.zero_grad()

    def _times_masks(self, params: list[torch.Tensor],
                     a: list[torch.Tensor | None] | None) -> list[torch.Tensor | None] | None:
        """``a`` times the masks in ``self.state[p]["mask"]`` (``None`` means 1)."""
        masks = [self.state[p].get("mask") if p in self.state else None for p in params]
        if a is None:
            return None if all(m is None for m in masks) else masks
        return [ai if m is None else ai * m for ai, m in zip(a, masks)]

    def _perturbed(self, params: list[torch.Tensor], grads: list[torch.Tensor],
                   a: list[torch.Tensor | None] | None, rho: float, norm: float,
                   ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(p, w, w + rho a g/||b||)`` per parameter (``a=None`` means 1), into spare buffers.

        The buffers are reused from step to step: a fresh 2 MB tensor per step costs page
        faults that made a step of the book's MLP twice as slow (benchmarks/sam_step.py).
        """
        coef, spare, out = rho / norm, self._spare, []
        for p, g, ai in zip(params, grads, a or itertools.repeat(None)):
            w = p.data
            dtype = w.dtype
            buf = spare.get(id(p))
            if buf is None or buf.dtype != dtype or buf.shape != w.shape or buf.device != w.device:
                buf = torch.empty_like(w)
            lo, hi = _normal_range(dtype)
            if not lo <= coef <= hi:  # torch would round alpha to dtype (float16, a tiny norm): in float64
                eps = g.double() / norm * rho
                torch.add(w, eps if ai is None else eps * ai, out=buf)
            elif ai is None:  # one fused pass over w and g
                torch.add(w, g, alpha=coef, out=buf)
            else:
                torch.addcmul(w, ai, g, value=coef, out=buf)
            out.append((p, w, buf))
        return out

    def restore(self) -> None:
        """Put back the weights :meth:`first_step` moved (bit-exact), without stepping.

        Raises
        ------
        RuntimeError
            If there is no pending :meth:`first_step`.
        """
        if self._at_w is None:
            raise RuntimeError("restore/second_step called without a preceding first_step()")
        spare = self._spare
        for p, w, buf in self._at_w:
            p.data = w
            spare[id(p)] = buf
        self._at_w = None

    def second_step(self, zero_grad: bool = False) -> None:
        """Restore :math:`w` and let the base optimizer step with the current gradient.

        ``p.grad`` should hold :math:`\\nabla L(w + \\hat\\varepsilon)`.
        """
        self.restore()
        self.base_optimizer.step()
        self._opt_called = True  # what LR schedulers look for to know the optimizer has stepped
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One SAM iteration; the gradient at :math:`w` must already be in ``p.grad``.

        ``closure`` runs forward and ``backward()`` (without zeroing) and may return the loss;
        it is called once, at :math:`w + \\hat\\varepsilon`, and its value is returned.  If it
        raises, the weights are restored before the exception propagates.

        Raises
        ------
        ValueError
            If ``closure`` is missing or not callable.
        """
        if not callable(closure):
            raise ValueError(f"SAM.step needs a closure that runs forward and backward, got {closure!r}; "
                             "or call first_step() and second_step()")
        self.first_step(zero_grad=True)
        try:
            with torch.enable_grad():
                loss = closure()
        except BaseException:
            self.restore()
            raise
        self.second_step()
        return loss
