"""The book's batched trainer and ``optim.SAM`` take the same steps.

The SAM and SSAM numbers of the book come from :func:`samlib.studies.experiments.train_stacked`, which
trains a stack of MLPs with hand-written backpropagation and its own SAM step; people who copy
the method out of the book use :class:`samlib.optim.SAM` with ``torch.nn``.  These tests train
one member with the first and the same network (same initial weights, same batches, same
``lr`` and ``rho``) with the second, and compare the weights after every step.

Where the batches come from: ``train_stacked`` draws member ``s``'s data order as
``torch.randperm(n)`` from a generator seeded with ``10_000 + s``, once per epoch, and takes
the batches in that order; SSAM-D's first mask comes from ``ssam.random_mask`` with a generator
seeded with ``20_000 + s``.  The tests repeat those draws; the full-batch case does not depend on the order.

Tolerance: everything runs in float64 (float32 with a ``train_stacked`` that has no ``dtype``
argument yet).  The two sides compute the same sums in different orders (batched ``baddbmm``
against ``nn.Linear``'s ``addmm``, Gram matrices against explicit weight gradients), a few
units of roundoff (1.1e-16) per step, and ``train_stacked`` divides by ``||g|| + 1e-12``
instead of ``||g||``, which changes eps by about 1e-13 here and the weights by ``lr`` times
that per step.  Measured gaps are 1e-14 to 8e-14 after one to four steps, so ``atol = 1e-11``
leaves a margin of a hundred (float32: gaps 3e-8, ``atol = 1e-5``).  The comparison can fail:
changing ``rho`` by one part in a million moves the weights by 1.7e-8 (float32: by 1e-2, 1.7e-4),
stepping with SGD by 1.6e-2, and m-sharpness with two chunks differs from plain SAM by 7e-3.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from samlib import ssam
from samlib.nets import init_stacked_mlp, member_module
from samlib.studies.experiments import train_stacked
from samlib.optim import SAM

pytestmark = pytest.mark.usefixtures("one_torch_thread")

D, HIDDEN, K = 12, (10, 8), 4
N, SEED, LR, RHO = 24, 7, 0.2, 0.15
# train_stacked takes a dtype from its float64 version on; before it, it runs in float32, where
# the same sums in other orders differ by a few float32 roundings (6e-8) per step
DTYPE = torch.float64 if "dtype" in inspect.signature(train_stacked).parameters else torch.float32
ATOL = 1e-11 if DTYPE == torch.float64 else 1e-5
RHO_NUDGE = 1e-6 if DTYPE == torch.float64 else 1e-2  # a change of rho the comparison must see


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)), rng.integers(0, K, N)


def _stacked_run(method, steps, batch_size, rho=RHO, **kwargs):
    """The weights after ``steps`` steps of ``train_stacked``, as ``nn.Linear`` tensors."""
    X, y = _data()
    if DTYPE == torch.float64:
        kwargs["dtype"] = DTYPE
    hist = train_stacked(method, X, y, {}, seeds=[SEED], lr=LR, rho=rho, hidden=HIDDEN, num_classes=K,
                         batch_size=batch_size, grad_budget=2 * steps, eval_every=10**6, **kwargs)
    assert hist.steps == steps
    return _as_linear(hist.params)


def _as_linear(stacked):
    """Stacked ``[W (1, in, out), b (1, 1, out), ...]`` -> ``[weight (out, in), bias (out,), ...]``."""
    return [t[0].T if i % 2 == 0 else t[0, 0] for i, t in enumerate(stacked)]


def _batches(steps, batch_size):
    """The batches ``train_stacked`` gives member ``SEED``, in order."""
    X, y = _data()
    Xt, yt = torch.tensor(X, dtype=DTYPE), torch.tensor(y)
    gen = torch.Generator().manual_seed(10_000 + SEED)
    per_epoch = N // batch_size
    order = None
    for step in range(steps):
        j = step % per_epoch
        if j == 0:
            order = torch.randperm(N, generator=gen)
        idx = order[j * batch_size:(j + 1) * batch_size]
        yield Xt[idx], yt[idx]


def _torch_net():
    # the initial weights are drawn in float32, so casting to float64 is exact
    return member_module(init_stacked_mlp([D, *HIDDEN, K], [SEED]), 0).to(DTYPE)


def _torch_run(steps, batch_size, m=None, rho=RHO, masks=None):
    """``steps`` steps of optim.SAM (with m-sharpness chunks of ``m`` examples if given)."""
    net = _torch_net()
    opt = SAM(net.parameters(), torch.optim.SGD, rho=rho, lr=LR)
    for p, mask in zip(net.parameters(), masks or []):
        opt.state[p]["mask"] = mask
    trajectory = []
    for xb, yb in _batches(steps, batch_size):
        chunks = list(zip(xb.split(m or batch_size), yb.split(m or batch_size)))
        mean_grad = [torch.zeros_like(p) for p in net.parameters()]
        for xc, yc in chunks:  # one chunk: plain SAM; several: m-sharpness (Foret et al. sec. 4.1)
            opt.zero_grad()
            F.cross_entropy(net(xc), yc).backward()
            opt.first_step(zero_grad=True)
            F.cross_entropy(net(xc), yc).backward()
            for acc, p in zip(mean_grad, net.parameters()):
                acc += p.grad / len(chunks)
            opt.restore()
        for acc, p in zip(mean_grad, net.parameters()):
            p.grad = acc
        opt.base_optimizer.step()
        trajectory.append([p.detach().clone() for p in net.parameters()])
    return trajectory


def _max_gap(a, b):
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


@pytest.mark.parametrize("batch_size", [N, 8], ids=["full-batch", "minibatch"])
def test_sam_agrees_step_for_step(batch_size):
    steps = 4
    trajectory = _torch_run(steps, batch_size)
    for k in range(1, steps + 1):
        gap = _max_gap(_stacked_run("sam", k, batch_size), trajectory[k - 1])
        assert gap < ATOL, f"step {k}: the weights differ by {gap:.3g}"
    moved = _max_gap(trajectory[-1], [p.detach() for p in _torch_net().parameters()])
    assert moved > 1e-2  # the iterates really moved


def test_m_sharpness_agrees_step_for_step():
    steps, batch_size, m = 3, 8, 4
    trajectory = _torch_run(steps, batch_size, m=m)
    for k in range(1, steps + 1):
        gap = _max_gap(_stacked_run("sam", k, batch_size, m=m), trajectory[k - 1])
        assert gap < ATOL, f"step {k}: the weights differ by {gap:.3g}"
    # and m-sharpness is not plain SAM here: the comparison can tell them apart
    assert _max_gap(_torch_run(steps, batch_size)[-1], trajectory[-1]) > 10 * ATOL


def test_ssam_d_with_a_fixed_mask_agrees_step_for_step():
    steps, batch_size, sparsity = 3, 8, 0.5
    # train_stacked's SSAM-D mask before its first drop-and-grow update (mask_every > steps)
    stacked = [p.to(DTYPE) for p in init_stacked_mlp([D, *HIDDEN, K], [SEED])]
    mask = ssam.random_mask(dict(enumerate(stacked)), sparsity, generator=torch.Generator().manual_seed(20_000 + SEED))
    masks = _as_linear([mask[i].to(DTYPE) for i in range(len(stacked))])
    assert 0.3 < float(sum(t.sum() for t in masks)) / sum(t.numel() for t in masks) < 0.7
    trajectory = _torch_run(steps, batch_size, masks=masks)
    for k in range(1, steps + 1):
        ref = _stacked_run("ssam-d", k, batch_size, sparsity=sparsity, mask_every=10**6)
        gap = _max_gap(ref, trajectory[k - 1])
        assert gap < ATOL, f"step {k}: the weights differ by {gap:.3g}"
    assert _max_gap(_torch_run(steps, batch_size)[-1], trajectory[-1]) > 10 * ATOL


def test_the_comparison_can_fail():
    steps, batch_size = 3, 8
    ref = _stacked_run("sam", steps, batch_size)
    assert _max_gap(ref, _torch_run(steps, batch_size)[-1]) < ATOL
    assert _max_gap(ref, _torch_run(steps, batch_size, rho=RHO * (1 + RHO_NUDGE))[-1]) > 10 * ATOL
    assert _max_gap(ref, _torch_run(steps, batch_size, rho=0.0)[-1]) > 1e-4
