"""The Sharpness-Aware Minimization (SAM) optimizer for torch, and BatchNorm helpers.

SAM (Foret et al., 2021) replaces the gradient of the loss :math:`L` by the gradient taken
at an adversarially perturbed point:

.. math::

    \\hat\\varepsilon(w) = \\rho\\,\\frac{g}{\\lVert g\\rVert_2}, \\qquad g = \\nabla L(w),
    \\qquad w \\leftarrow \\mathrm{base\\_step}\\big(w,\\ \\nabla L(w + \\hat\\varepsilon(w))\\big).

The norm is the *global* Euclidean norm over all parameters.  With ``adaptive=True`` the
optimizer is ASAM (Kwon et al., 2021): with the elementwise scale
:math:`T_w = |w| + \\eta_{\\mathrm{ASAM}}`,

.. math::

    \\hat\\varepsilon(w) = \\rho\\,\\frac{T_w^2\\, g}{\\lVert T_w\\, g\\rVert_2}.

The interface follows ``davda54/sam`` (``first_step``/``second_step``/``step(closure)``) so the
optimizer drops into training loops written for it; the implementation is our own and
differs where that one has known gaps: weights are restored by copying the saved tensors
back (bit-exact, not by subtracting ε), a zero gradient gives a zero perturbation (not NaN),
the state dict contains the base optimizer's state, and BatchNorm running statistics can be
frozen for the second pass with :func:`bn_frozen`.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from ._validation import check_nonnegative

__all__ = ["SAM", "disable_running_stats", "enable_running_stats", "bn_frozen"]


def _check_rho(value: Any, name: str = "rho") -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return check_nonnegative(value, name)


class SAM(torch.optim.Optimizer):
    """Sharpness-Aware Minimization (and ASAM) wrapped around any torch base optimizer.

    One SAM iteration needs two gradients:

    1. :math:`g = \\nabla L(w)` (the caller's ``loss.backward()``),
    2. :meth:`first_step` saves an exact copy of ``w`` and moves to :math:`w + \\hat\\varepsilon`,
       with :math:`\\hat\\varepsilon = \\rho g/\\lVert g\\rVert_2` (global norm over all parameters
       of all groups) or, if ``adaptive``, :math:`\\rho T^2 g/\\lVert T g\\rVert_2`, :math:`T=|w|+\\eta`
       (Kwon et al., 2021),
    3. the caller computes :math:`\\nabla L(w+\\hat\\varepsilon)` (second ``backward()``),
    4. :meth:`second_step` copies the saved ``w`` back (bit-exact) and lets the base optimizer
       step with the gradient taken at :math:`w+\\hat\\varepsilon`.

    :meth:`step` does 2-4 given a closure that runs forward + backward.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters or parameter groups, as for any torch optimizer.  Groups may override
        ``rho``, ``adaptive``, ``eta`` and any base-optimizer hyper-parameter.
    base_optimizer_cls : callable
        Class (or factory) of the base optimizer, e.g. ``torch.optim.SGD``; it is called as
        ``base_optimizer_cls(self.param_groups, **base_kwargs)``.
    rho : float, default 0.05
        Radius of the perturbation, finite and >= 0.  ``rho=0`` gives exactly the base optimizer.
    adaptive : bool, default False
        Use ASAM's scale-invariant perturbation.
    eta : float, default 0.0
        ASAM's offset :math:`\\eta` in :math:`T=|w|+\\eta` (Kwon et al. use 0.01; ``davda54/sam``
        uses 0).  Ignored when ``adaptive=False``.
    **base_kwargs
        Passed to the base optimizer (``lr``, ``momentum``, ``weight_decay``, ...).

    Raises
    ------
    ValueError
        If ``rho`` or ``eta`` is negative, NaN or infinite, ``adaptive`` is not a bool, or
        ``base_optimizer_cls`` is not callable or does not build a ``torch.optim.Optimizer``.

    Notes
    -----
    **Shared groups.**  ``self.param_groups`` *is* ``self.base_optimizer.param_groups``, so LR
    schedulers given the SAM optimizer change the base optimizer's learning rate.

    **Hooks for variants.**  Two ways to change the perturbation, for sparse SAM
    (SSAM, Mi et al., 2022) and others:

    * *Masks*: put a tensor ``self.state[p]["mask"]`` (same shape as ``p``, 0/1 or any
      weights) for any parameter.  The default :meth:`perturbation` then uses the masked
      gradient :math:`m\\odot g` (or :math:`m\\odot T g` for ASAM) both for the direction and
      for the global norm, so :math:`\\lVert\\hat\\varepsilon\\rVert_2=\\rho` over the masked entries
      (non-adaptive case): :math:`\\hat\\varepsilon = \\rho\\, m\\odot g/\\lVert m\\odot g\\rVert_2`.
      A subclass that sets the class attribute ``renormalize_masked = False`` gets instead
      :math:`\\hat\\varepsilon = \\rho\\, m\\odot g/\\lVert g\\rVert_2` (norm of the *unmasked*
      gradient, :math:`\\lVert\\hat\\varepsilon\\rVert_2\\le\\rho`), which is SSAM's Algorithm 1.
      Parameters without a mask are not masked.  Masks survive ``state_dict()``.
    * *Override* :meth:`perturbation`, which must return ``{param: epsilon}`` for the
      parameters to move (same shape/dtype/device as the parameter); parameters absent from
      the dict are neither moved nor saved.

    **External gradients (m-sharpness).**  :meth:`first_step` only reads ``p.grad``, so any
    gradient may be placed there first (e.g. the gradient of one chunk of ``m`` examples).
    :meth:`restore` undoes a :meth:`first_step` without stepping, which lets a caller
    accumulate per-chunk perturbed gradients and then call ``self.base_optimizer.step()``.

    **BatchNorm.**  Wrap the second forward pass in :func:`bn_frozen` so the running
    statistics are updated by the first pass only.

    **Not supported.**  ``torch.amp.GradScaler.step(opt)`` (it calls ``step()`` without a
    closure): unscale with ``scaler.unscale_(opt)`` and call the two half-steps yourself.
    Non-finite gradients give a non-finite perturbation; they are not skipped.

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

    #: masks renormalise the perturbation to norm rho (True) or only cut it (False, SSAM)
    renormalize_masked: bool = True

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        base_optimizer_cls: Callable[..., torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        eta: float = 0.0,
        **base_kwargs: Any,
    ) -> None:
        if not callable(base_optimizer_cls):
            raise ValueError(
                "base_optimizer_cls must be an optimizer class such as torch.optim.SGD, "
                f"got {base_optimizer_cls!r}"
            )
        rho = _check_rho(rho, "rho")
        eta = check_nonnegative(eta, "eta")
        if not isinstance(adaptive, bool):
            raise ValueError(f"adaptive must be True or False, got {adaptive!r}")
        defaults = dict(rho=rho, adaptive=adaptive, eta=eta, **base_kwargs)
        super().__init__(params, defaults)
        base = base_optimizer_cls(self.param_groups, **base_kwargs)
        if not isinstance(base, torch.optim.Optimizer):
            raise ValueError(
                f"base_optimizer_cls must build a torch.optim.Optimizer, got {type(base).__name__}"
            )
        self.base_optimizer = base
        # One list of group dicts for both optimizers: schedulers and per-group edits of
        # either are seen by both.
        self.param_groups = self.base_optimizer.param_groups
        self._backup: dict[torch.Tensor, torch.Tensor] = {}  # param -> spare buffer for w + eps
        self._saved: dict[torch.Tensor, torch.Tensor] = {}  # param -> original weights while perturbed
        self._perturbed: list[torch.Tensor] = []  # params moved by the last first_step

    # -- groups and state ----------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; SAM defaults and then the base optimizer's defaults are filled in."""
        if "rho" in param_group:
            param_group["rho"] = _check_rho(param_group["rho"], "rho")
        if "eta" in param_group:
            param_group["eta"] = check_nonnegative(param_group["eta"], "eta")
        if "adaptive" in param_group and not isinstance(param_group["adaptive"], bool):
            raise ValueError(f"adaptive must be True or False, got {param_group['adaptive']!r}")
        if not hasattr(self, "base_optimizer"):  # during __init__
            super().add_param_group(param_group)
            return
        for key in ("rho", "adaptive", "eta"):
            param_group.setdefault(key, self.defaults[key])
        self.base_optimizer.add_param_group(param_group)  # appends to the shared list

    def state_dict(self) -> dict[str, Any]:
        """Torch state dict of SAM (groups, masks) plus the base optimizer's state."""
        state = super().state_dict()
        state["base_optimizer"] = self.base_optimizer.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a dict produced by :meth:`state_dict` (the base state is optional)."""
        state_dict = dict(state_dict)
        base_state = state_dict.pop("base_optimizer", None)
        super().load_state_dict(state_dict)
        if base_state is not None:
            self.base_optimizer.load_state_dict(base_state)
        else:
            self.base_optimizer.param_groups = self.param_groups
        self.param_groups = self.base_optimizer.param_groups

    # -- the perturbation ----------------------------------------------------------------
    @torch.no_grad()
    def perturbation(self) -> dict[torch.Tensor, torch.Tensor]:
        """Return the ascent step :math:`\\hat\\varepsilon` for every parameter with a gradient.

        :math:`\\hat\\varepsilon_i = \\rho\\, T_i\\, u_i / \\lVert u\\rVert_2` with
        :math:`u_i = m_i \\odot T_i \\odot g_i`, where :math:`T_i = |w_i| + \\eta` if the group
        is adaptive else 1, :math:`m_i` = ``self.state[p]["mask"]`` if present else 1, and the
        norm runs over all parameters of all groups.  If ``renormalize_masked`` is False the
        mask multiplies :math:`\\hat\\varepsilon_i` after normalising instead of :math:`u_i`.
        Returns zeros when :math:`u = 0` (or :math:`\\rho/\\lVert u\\rVert_2` overflows).
        Override in subclasses (see the class notes); called by :meth:`first_step`.
        """
        # (rho, params, u, scale T or None, masks still to apply or None) per group
        per_group: list[tuple[float, list, list, list | None, list | None]] = []
        all_u: list[torch.Tensor] = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            u = [p.grad for p in params]
            scale = None
            if group["adaptive"]:
                scale = torch._foreach_abs(params)
                if group["eta"] > 0:
                    torch._foreach_add_(scale, group["eta"])
                u = torch._foreach_mul(u, scale)
            # .get on the defaultdict: do not create empty state entries
            masks = [self.state.get(p, {}).get("mask") for p in params] if self.state else []
            if not any(m is not None for m in masks):
                masks = None
            elif self.renormalize_masked:
                u = [ui if m is None else ui * m for ui, m in zip(u, masks)]
                masks = None  # already applied
            per_group.append((group["rho"], params, u, scale, masks))
            all_u.extend(u)
        if not all_u:
            return {}
        norms = torch._foreach_norm(all_u)
        if len({(n.dtype, n.device) for n in norms}) > 1:  # mixed dtypes/devices
            norms = [n.to(device=norms[0].device, dtype=torch.float64) for n in norms]
        total = torch.linalg.vector_norm(torch.stack(norms))
        out: dict[torch.Tensor, torch.Tensor] = {}
        for rho, params, u, scale, masks in per_group:
            # rho/0 (or rho/subnormal) is inf or nan and is replaced by 0: a zero gradient --
            # or one so small that rho/|u| overflows -- gives a zero step, never NaN, and
            # there is no host-device sync (.item()).  |u_i| <= |u| keeps u_i * coef finite.
            coef = torch.nan_to_num(torch.div(rho, total), nan=0.0, posinf=0.0)
            eps = torch._foreach_mul(u, coef)
            if scale is not None:
                torch._foreach_mul_(eps, scale)
            if masks is not None:  # renormalize_masked=False: mask after normalising
                eps = [e if m is None else e * m for e, m in zip(eps, masks)]
            out.update(zip(params, eps))
        return out

    # -- the two half-steps ----------------------------------------------------------------
    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Save the weights exactly and move to :math:`w + \\hat\\varepsilon` (see :meth:`perturbation`).

        Reads ``p.grad`` of every parameter, so externally computed gradients may be put there
        first.  Parameters whose ``grad`` is ``None`` are not moved.

        Raises
        ------
        RuntimeError
            If no parameter has a gradient, or the previous :meth:`first_step` has not been
            undone by :meth:`second_step` or :meth:`restore`.
        """
        if self._perturbed:
            raise RuntimeError(
                "first_step called twice: call second_step() or restore() before the next first_step()"
            )
        eps = self._plain_step_or_none()
        if eps is None:
            eps = self.perturbation()
        if not eps:
            raise RuntimeError("SAM.first_step needs gradients: call loss.backward() first")
        # Why swap storages instead of copying: the original weight tensor is kept aside
        # untouched and the perturbed weights are written once into a spare buffer, so the
        # restore is a pointer swap (bit-exact by construction) and the step costs one pass
        # over the weights instead of a backup copy, an add and a restore copy.
        params = list(eps)
        for p, e in eps.items():
            buf = self._backup.get(p)
            if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
                buf = torch.empty_like(p, memory_format=torch.preserve_format)
            if isinstance(e, float):  # plain SAM: w + c * g in one fused pass
                torch.add(p.data, p.grad, alpha=e, out=buf)
            else:
                torch.add(p.data, e, out=buf)
            self._saved[p] = p.data
            p.data = buf
        self._perturbed = params
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def _plain_step_or_none(self) -> dict[torch.Tensor, float] | None:
        """``{param: rho/||g||}`` for plain SAM (no ASAM, no mask, no override), else None.

        The fast path of :meth:`first_step`: the perturbation is a scalar multiple of the
        gradient, so it need not be materialised.  Same zero-gradient rule as
        :meth:`perturbation` (a zero or underflowing norm gives a zero step).
        """
        if type(self).perturbation is not SAM.perturbation:
            return None
        groups = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if group["adaptive"] or any(self.state.get(p, {}).get("mask") is not None for p in params):
                return None
            if any(p.device.type != "cpu" for p in params):
                return None  # the float coefficient below would force a device sync
            groups.append((group["rho"], params))
        if not groups:
            return {}
        norms = torch._foreach_norm([p.grad for _, ps in groups for p in ps])
        total = float(torch.linalg.vector_norm(torch.stack([n.double() for n in norms])))
        out: dict[torch.Tensor, float] = {}
        for rho, params in groups:
            coef = rho / total if total > 0 else 0.0
            if not math.isfinite(coef):
                coef = 0.0  # subnormal norm: rho/|g| overflows; zero step as in perturbation()
            out.update((p, coef) for p in params)
        return out

    @torch.no_grad()
    def restore(self) -> None:
        """Put the weights saved by :meth:`first_step` back (bit-exact), without stepping.

        Raises
        ------
        RuntimeError
            If there is no pending :meth:`first_step`.
        """
        if not self._perturbed:
            raise RuntimeError("restore/second_step called without a preceding first_step()")
        for p in self._perturbed:
            self._backup[p] = p.data  # the perturbed buffer becomes the spare for next time
            p.data = self._saved.pop(p)
        self._perturbed = []

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Restore the saved weights and let the base optimizer step with the current gradient.

        The current ``p.grad`` should be the gradient taken at :math:`w + \\hat\\varepsilon`.
        """
        self.restore()
        self.base_optimizer.step()
        # tells torch LR schedulers that the optimizer has stepped (they watch ``step``)
        self._opt_called = True
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One SAM iteration given the gradient at ``w`` already in ``p.grad``.

        ``closure`` must zero nothing, run forward and ``backward()`` and may return the loss;
        it is called once, at :math:`w + \\hat\\varepsilon`.  Returns the closure's value (the
        loss at the perturbed point).  To keep BatchNorm statistics from the first pass, run
        the closure's forward inside :func:`bn_frozen`.

        Raises
        ------
        ValueError
            If ``closure`` is missing or not callable.
        RuntimeError
            If no parameter has a gradient (compute the loss and call ``backward()`` first).
        """
        if closure is None or not callable(closure):
            raise ValueError(
                "SAM.step needs a closure that runs forward and backward, got "
                f"{closure!r}; or call first_step()/second_step()"
            )
        self.first_step(zero_grad=True)
        try:
            with torch.enable_grad():
                loss = closure()
        except BaseException:
            self.restore()  # never leave the model at w + eps
            raise
        self.second_step()
        return loss


# -- BatchNorm: running statistics from the first pass only ----------------------------------

def _norm_layers(model: nn.Module) -> Iterator[nn.modules.batchnorm._NormBase]:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            yield module


def disable_running_stats(model: nn.Module) -> None:
    """Stop every BatchNorm/InstanceNorm layer of ``model`` from updating its running statistics.

    In training mode the layers still normalise with the batch statistics (as in the first
    pass), but ``running_mean``, ``running_var`` and ``num_batches_tracked`` stay unchanged.
    Undo with :func:`enable_running_stats`; prefer the context manager :func:`bn_frozen`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for module in _norm_layers(model):
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            # with track_running_stats=False a training BatchNorm passes no running buffers
            # to F.batch_norm, so nothing is updated, and num_batches_tracked is not bumped
            module.track_running_stats = False
            module._samlib_frozen = "flag"
        else:
            # InstanceNorm updates its buffers whenever they exist: snapshot and restore
            module._samlib_frozen = {
                name: buf.clone() for name, buf in module.named_buffers(recurse=False) if buf is not None
            }


def enable_running_stats(model: nn.Module) -> None:
    """Undo :func:`disable_running_stats` (restoring InstanceNorm buffers from the snapshot)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for module in model.modules():
        frozen = getattr(module, "_samlib_frozen", None)
        if frozen is None:
            continue
        if frozen == "flag":
            module.track_running_stats = True
        else:
            with torch.no_grad():
                for name, saved in frozen.items():
                    getattr(module, name).copy_(saved)
        del module._samlib_frozen


@contextlib.contextmanager
def bn_frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Context manager: running statistics of ``model``'s norm layers are not updated inside.

    Use it around SAM's second forward pass so BatchNorm statistics come from the unperturbed
    weights only::

        loss_fn(model(X), y).backward()
        opt.first_step(zero_grad=True)
        with bn_frozen(model):
            loss_fn(model(X), y).backward()
        opt.second_step(zero_grad=True)
    """
    disable_running_stats(model)
    try:
        yield model
    finally:
        enable_running_stats(model)
