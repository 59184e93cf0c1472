"""Tests of the Part II experiment modules: GSAM, the logit reweighting, rescaling, records."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from samlib.gsam import GSAM, gsam_direction
from samlib.optim import SAM
from samlib.studies import oq_label_noise as ln
from samlib.studies.oq_reparam import rescale_layers

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DT = torch.float64


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(DT)


def _data(n=16):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=g, dtype=DT), torch.randint(0, 3, (n,), generator=g)


# -- GSAM -----------------------------------------------------------------------------------

def test_gsam_direction_formula_and_orthogonality():
    g, gp = torch.tensor([1.0, 2.0, -1.0], dtype=DT), torch.tensor([0.5, -1.0, 3.0], dtype=DT)
    d = gsam_direction(g, gp, alpha=0.3)
    perp = g - (g @ gp) / (gp @ gp) * gp
    torch.testing.assert_close(d, gp - 0.3 * perp)
    assert abs(float(perp @ gp)) < 1e-12


def test_gsam_direction_zero_gradients_are_defined():
    z = torch.zeros(3, dtype=DT)
    g = torch.tensor([1.0, 0.0, 0.0], dtype=DT)
    torch.testing.assert_close(gsam_direction(g, z, 0.5), -0.5 * g)  # projection on 0 is 0
    assert torch.equal(gsam_direction(z, z, 0.5), z)


def test_gsam_direction_stacked_is_per_member():
    g = torch.randn(3, 4, 2, dtype=DT)
    gp = torch.randn(3, 4, 2, dtype=DT)
    d = gsam_direction([g], [gp], 0.2, stacked=True)[0]
    for s in range(3):
        torch.testing.assert_close(d[s], gsam_direction(g[s], gp[s], 0.2))


@pytest.mark.parametrize("kwargs, err", [(dict(alpha=-1.0), ValueError),
                                         (dict(alpha=float("nan")), ValueError),
                                         (dict(alpha="a"), TypeError)])
def test_gsam_bad_alpha_raises(kwargs, err):
    with pytest.raises(err, match="alpha"):
        gsam_direction(torch.ones(2), torch.ones(2), **kwargs)
    with pytest.raises(err, match="alpha"):
        GSAM(_mlp().parameters(), torch.optim.SGD, rho=0.1, lr=0.1, **kwargs)


def test_gsam_direction_bad_inputs_raise():
    with pytest.raises(TypeError, match="g"):
        gsam_direction([1.0, 2.0], torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="shapes"):
        gsam_direction(torch.ones(2), torch.ones(3), 0.1)
    with pytest.raises(ValueError, match="finite"):
        gsam_direction(torch.tensor([float("nan"), 1.0]), torch.ones(2), 0.1)


def _one_step(opt_cls, **kw):
    X, y = _data()
    model = _mlp()
    opt = opt_cls(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1, **kw)
    opt.zero_grad()
    F.cross_entropy(model(X), y).backward()
    opt.step(lambda: F.cross_entropy(model(X), y).backward())
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_gsam_with_alpha_zero_is_sam():
    torch.testing.assert_close(_one_step(GSAM, alpha=0.0), _one_step(SAM), rtol=0, atol=0)


def test_gsam_step_matches_the_formula():
    X, y = _data()
    model = _mlp()
    w0 = [p.detach().clone() for p in model.parameters()]
    g = torch.autograd.grad(F.cross_entropy(model(X), y), list(model.parameters()))
    norm = torch.sqrt(sum((t**2).sum() for t in g))
    with torch.no_grad():
        for p, t in zip(model.parameters(), g):
            p.add_(0.1 * t / norm)
    gp = torch.autograd.grad(F.cross_entropy(model(X), y), list(model.parameters()))
    d = gsam_direction(list(g), list(gp), 0.3)
    expected = torch.cat([(w - 0.1 * di).reshape(-1) for w, di in zip(w0, d)])
    torch.testing.assert_close(_one_step(GSAM, alpha=0.3), expected, rtol=1e-10, atol=1e-12)


def test_gsam_restore_and_call_order():
    model = _mlp()
    opt = GSAM(model.parameters(), torch.optim.SGD, rho=0.1, lr=0.1)
    with pytest.raises(RuntimeError):
        opt.second_step()


def test_asam_perturbation_is_the_published_form_without_offset():
    # Kwon et al. 2021: eps = rho T^2 g / ||T g|| with T = |w|, i.e. w^2 g rho / || |w| * g ||
    X, y = _data()
    model = _mlp()
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.3, adaptive=True, asam_offset=0.0, lr=0.1)
    F.cross_entropy(model(X), y).backward()
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    opt.first_step()
    w1 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(w1 - w, w**2 * g * 0.3 / (w.abs() * g).norm(), rtol=1e-9, atol=1e-15)


def test_train_stacked_gsam_alpha_zero_equals_sam():
    from samlib.studies.experiments import train_stacked

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    kw = dict(seeds=[0, 1], lr=0.1, rho=0.05, hidden=(8,), num_classes=3, batch_size=10,
              grad_budget=40, eval_every=20, dtype=DT)
    a = train_stacked("gsam", X, y, {"train": (X, None)}, gsam_alpha=0.0, **kw)
    b = train_stacked("sam", X, y, {"train": (X, None)}, **kw)
    np.testing.assert_allclose(a.metrics["train_loss"], b.metrics["train_loss"], rtol=1e-10)


# -- logit reweighting ------------------------------------------------------------------------

def test_one_sam_weight_is_the_closed_form_and_increases_with_margin():
    X, y, _ = ln.gaussian_mixture(50, 4, 1.0, 0.2, seed=0)
    w = np.array([1.0, -0.5, 0.2, 0.0])
    s = ln.sam_logit_weights(w, X, y, 0.3)
    m = y * (X @ w)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(m - 0.3)), rtol=1e-12)  # unit-norm rows
    order = np.argsort(m)
    assert np.all(np.diff((s / ln.logit_weights(w, X, y))[order]) >= 0)


def test_sam_weights_rho_zero_and_zero_gradient():
    X, y, _ = ln.gaussian_mixture(20, 3, 1.0, 0.1, seed=1)
    w = np.zeros(3)
    np.testing.assert_allclose(ln.sam_logit_weights(w, X, y, 0.0), ln.logit_weights(w, X, y))
    Xz = np.zeros((4, 3))
    out = ln.sam_logit_weights(w, Xz, np.ones(4), 0.5, per_example=False)
    assert np.all(np.isfinite(out)) and np.allclose(out, 0.5)


@pytest.mark.parametrize("args, err", [((np.zeros(2), np.zeros((3, 2)), np.array([1, 0, 1])), ValueError),
                                       ((np.zeros(3), np.zeros((3, 2)), np.ones(3)), ValueError)])
def test_logit_weights_bad_inputs(args, err):
    with pytest.raises(err):
        ln.logit_weights(*args)
    with pytest.raises(ValueError, match="rho"):
        ln.sam_logit_weights(np.zeros(2), np.zeros((3, 2)), np.ones(3), -1.0)


# -- rescaling --------------------------------------------------------------------------------

def test_rescale_layers_preserves_a_relu_network():
    sizes = (5, 7, 4, 3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 4), nn.ReLU(), nn.Linear(4, 3)).to(DT)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    X = torch.randn(10, 5, dtype=DT)
    ref = model(X)
    for layer in (0, 1):
        th = rescale_layers(theta, sizes, layer, 37.0)
        torch.nn.utils.vector_to_parameters(th, model.parameters())
        torch.testing.assert_close(model(X), ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="layer"):
        rescale_layers(theta, sizes, 2, 2.0)
    with pytest.raises(ValueError, match="alpha"):
        rescale_layers(theta, sizes, 0, 0.0)


# -- records cover the configurations -----------------------------------------------------------

def test_variant_records_cover_their_configurations():
    from samlib.studies import oq_variants as ov

    store = Path(ov.STORE)
    if not (Path(ov.mp.STORE) / "x").parent.exists():
        pytest.skip("no protocol store")
    for stage in ov.STAGES:
        recs = ov.variant_records(stage)
        assert len(recs) == 6
        assert {r["config"]["method"] for r in recs} == {"asam", "gsam"}
    assert len(list(store.glob("*.json"))) == 12


def test_sgd_adam_records_cover_the_accuracy_tuned_configurations():
    from samlib.studies import oq_sgd_adam as osa

    runs = osa.per_metric_runs("acc")
    assert all(len(v) == 3 for v in runs.values())
    extra = osa.missing()
    assert len(list(Path(osa.STORE).glob("*.json"))) == len(extra)
    for c in extra:
        rec = json.loads((Path(osa.STORE) / f"{osa.sweeps.config_key(c)}.json").read_text())
        assert rec["config"] == c
