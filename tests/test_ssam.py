"""Tests of samlib.ssam: mask sparsity, Fisher ranking, drop-and-grow, perturbation norm."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.nets import init_stacked_mlp, mlp_grad
from samlib.optim import SAM
from samlib.ssam import (
    SSAMD,
    SSAMF,
    cosine_drop_fraction,
    dynamic_mask_update,
    empirical_fisher_mlp,
    fisher_mask,
    mask_density,
    random_mask,
    topk_mask,
)

DIMS = [5, 6, 3]


def _count(mask, member=None):
    return int(sum((v if member is None else v[member]).sum() for v in mask.values()))


@settings(max_examples=30, deadline=None)
@given(s=st.floats(0, 0.99), seed=st.integers(0, 1000))
def test_masks_have_exactly_the_requested_sparsity(s, seed):
    params = dict(enumerate(init_stacked_mlp(DIMS, seeds=[0, 1])))
    D = sum(v[0].numel() for v in params.values())
    keep = D - int(round(s * D))
    rm = random_mask(params, s, generator=torch.Generator().manual_seed(seed))
    assert _count(rm, 0) == keep and _count(rm, 1) == keep
    assert all(set(torch.unique(v).tolist()) <= {0.0, 1.0} for v in rm.values())
    grads = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(seed + k)) for k, v in params.items()}
    dm = dynamic_mask_update(rm, grads, 0.5, generator=torch.Generator().manual_seed(seed))
    assert _count(dm, 0) == keep and _count(dm, 1) == keep


def test_topk_mask_keeps_largest_scores_globally():
    scores = {0: torch.tensor([[5.0, 1.0], [0.5, 4.0]]), 1: torch.tensor([3.0, 0.1])}
    m = topk_mask(scores, 0.5, stacked=False)
    assert m[0].tolist() == [[1.0, 0.0], [0.0, 1.0]] and m[1].tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="sparsity"):
        topk_mask(scores, 1.0, stacked=False)


def test_dynamic_update_drops_smallest_gradients():
    mask = {0: torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])}
    grads = {0: torch.tensor([4.0, 0.1, 3.0, 0.2, 9.0, 9.0, 9.0, 9.0])}
    new = dynamic_mask_update(mask, grads, 0.5, generator=torch.Generator().manual_seed(0), stacked=False)[0]
    assert new[1] == 0 and new[3] == 0 and new[0] == 1 and new[2] == 1  # the two flattest dropped
    assert int(new[4:].sum()) == 2  # two grown among the formerly inactive
    assert cosine_drop_fraction(0.5, 0, 100) == 0.5 and cosine_drop_fraction(0.5, 100, 100) == 0.0


def test_empirical_fisher_matches_per_example_gradients():
    params = init_stacked_mlp(DIMS, seeds=[2, 3])
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(2, 7, DIMS[0], generator=g), torch.randint(0, DIMS[-1], (2, 7), generator=g)
    F = empirical_fisher_mlp(params, X, y)
    ref = [torch.zeros_like(p) for p in params]
    for i in range(7):
        _, gi = mlp_grad(params, X[:, i:i + 1], y[:, i:i + 1])
        for r, t in zip(ref, gi):
            r += t.pow(2) / 7
    for a, b in zip(F, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    m = fisher_mask(dict(enumerate(F)), 0.5)
    assert mask_density(m) == pytest.approx(0.5, abs=1 / sum(p[0].numel() for p in params))


def _model_and_grad(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    loss = lambda: torch.nn.functional.cross_entropy(model(X), y)  # noqa: E731
    return model, X, y, loss


@pytest.mark.parametrize("cls", [SSAMF, SSAMD])
def test_optimizer_perturbation_norm_is_rho_times_masked_fraction(cls):
    model, X, y, loss = _model_and_grad()
    rho = 0.3
    opt = cls(model.parameters(), torch.optim.SGD, rho=rho, sparsity=0.7, lr=0.1)
    if cls is SSAMF:
        opt.update_mask(model, X, y)
    D = sum(p.numel() for p in model.parameters())
    assert _count(opt.mask()) == D - int(round(0.7 * D))
    before = [p.detach().clone() for p in model.parameters()]
    loss().backward()
    g = [p.grad.clone() for p in model.parameters()]
    opt.first_step(zero_grad=True)
    eps = [p.detach() - b for p, b in zip(model.parameters(), before)]
    gnorm = torch.sqrt(sum(t.pow(2).sum() for t in g))
    mg = [t * m for t, m in zip(g, opt.mask().values())]
    expected = rho * torch.sqrt(sum(t.pow(2).sum() for t in mg)) / gnorm
    got = torch.sqrt(sum(e.pow(2).sum() for e in eps))
    assert float(got) == pytest.approx(float(expected), rel=1e-4) and float(got) < rho
    for e, m in zip(eps, opt.mask().values()):
        assert float(e[m == 0].abs().sum()) == 0.0  # unmasked weights never move
    opt.restore()
    for p, b in zip(model.parameters(), before):
        torch.testing.assert_close(p.detach(), b)


def test_zero_sparsity_is_plain_sam():
    model, X, y, loss = _model_and_grad(1)
    model2, *_ = _model_and_grad(1)
    a = SSAMF(model.parameters(), torch.optim.SGD, rho=0.1, sparsity=0.0, lr=0.1)
    a.update_mask(model, X, y)
    b = SAM(model2.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    for opt, mdl in ((a, model), (b, model2)):
        torch.nn.functional.cross_entropy(mdl(X), y).backward()
        opt.step(lambda mdl=mdl: torch.nn.functional.cross_entropy(mdl(X), y).backward())
    for p, q in zip(model.parameters(), model2.parameters()):
        torch.testing.assert_close(p, q)


def test_ssamd_update_keeps_sparsity_and_needs_gradients():
    model, X, y, loss = _model_and_grad(2)
    opt = SSAMD(model.parameters(), torch.optim.SGD, rho=0.1, sparsity=0.5, lr=0.1, seed=3)
    with pytest.raises(ValueError, match="backward"):
        opt.update_mask(0, 10)
    before = _count(opt.mask())
    loss().backward()
    opt.update_mask(1, 10)
    assert _count(opt.mask()) == before
    assert np.isclose(mask_density(opt.mask()), before / sum(p.numel() for p in model.parameters()))
