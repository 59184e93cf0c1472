"""BatchNorm running statistics during SAM's second forward pass.

A SAM step runs the network twice: at :math:`w` and at :math:`w + \\hat\\varepsilon`.  In
training mode every BatchNorm layer updates its running mean and variance on each pass, so
without care the statistics used at test time would also average in activations of the
perturbed network, which is never deployed.  The usual fix (the ``bypass_bn`` utility of
``davda54/sam``; Foret et al., 2021, compute them on the first pass) is to let only the first
pass update them.  :func:`bn_frozen` does that for the duration of a ``with`` block; the pair
:func:`disable_running_stats` / :func:`enable_running_stats` does it for loops written for
``davda54/sam``.

Frozen layers still normalise with the statistics of the current batch, exactly as in the
first pass; only the running buffers stay unchanged.  All three are re-entrant: each freeze
records the state it found and its undo restores exactly that, so nested uses (a helper that
freezes inside a caller that already did) leave the layers as the outermost caller expects.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator

import torch
from torch import nn

__all__ = ["bn_frozen", "disable_running_stats", "enable_running_stats"]

# model -> undo functions of the freezes made by disable_running_stats, innermost last.  Weak
# keys: a model that is garbage collected takes its pending undos with it.
_PENDING: weakref.WeakKeyDictionary[nn.Module, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _freeze(model: nn.Module) -> Callable[[], None]:
    """Stop the running statistics of ``model``'s norm layers; return the exact undo."""
    # Why two mechanisms: a training BatchNorm with track_running_stats=False passes no running
    # buffers to F.batch_norm (nothing is updated, num_batches_tracked is not bumped), but an
    # InstanceNorm updates its buffers whenever they exist, so those are snapshotted instead.
    flagged: list[nn.Module] = []
    snapshots: list[tuple[torch.Tensor, torch.Tensor]] = []
    for module in model.modules():
        if not isinstance(module, nn.modules.batchnorm._NormBase) or not module.track_running_stats:
            continue  # not a norm layer, or already frozen by an enclosing freeze
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            flagged.append(module)
        else:
            snapshots += [(buf, buf.clone()) for buf in module.buffers(recurse=False)]

    def undo() -> None:
        for module in flagged:
            module.track_running_stats = True
        with torch.no_grad():
            for buf, saved in snapshots:
                buf.copy_(saved)

    return undo


@contextlib.contextmanager
def bn_frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Context manager: the running statistics of ``model``'s norm layers are not updated inside.

    Use it around SAM's second forward pass, so that BatchNorm statistics come from the
    unperturbed weights only.

    Parameters
    ----------
    model : torch.nn.Module
        Every BatchNorm and InstanceNorm layer in it that tracks running statistics is frozen.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    >>> with bn_frozen(model):
    ...     _ = model(torch.randn(8, 3))
    >>> int(model[1].num_batches_tracked), bool(model[1].running_mean.abs().max() == 0)
    (0, True)
    """
    undo = _freeze(_check_model(model))
    try:
        yield model
    finally:
        undo()


def disable_running_stats(model: nn.Module) -> None:
    """Freeze the running statistics of ``model``'s norm layers until :func:`enable_running_stats`.

    The imperative form of :func:`bn_frozen`, for training loops written for ``davda54/sam``
    (``enable_running_stats`` before the first pass, ``disable_running_stats`` before the
    second).  Calls nest: each :func:`enable_running_stats` undoes the latest pending call.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    """
    _PENDING.setdefault(_check_model(model), []).append(_freeze(model))


def enable_running_stats(model: nn.Module) -> None:
    """Undo the latest :func:`disable_running_stats` on ``model`` (a no-op if none is pending).

    A no-op without a pending freeze because ``davda54/sam``'s loops call it before every
    first pass, including the first one.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    """
    pending = _PENDING.get(_check_model(model))
    if pending:
        pending.pop()()
