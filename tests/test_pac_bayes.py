"""Tests of samlib.studies.pac_bayes: the linear test bed's exact risks, batched networks, Dziugaite-Roy."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from samlib.bounds import kl_gaussians
from samlib.nets import batched_mlp_ce, batched_mlp_error, batched_mlp_forward, flat_params, make_mlp
from samlib.studies.pac_bayes import (
    dr_bound,
    gibbs_empirical_risk_linear,
    gibbs_true_risk_linear,
    optimize_dr_posterior,
    sample_linear_gaussian,
    train_mlp,
)

torch.set_num_threads(1)


def test_true_gibbs_risk_matches_brute_force_sampling():
    rng = np.random.default_rng(0)
    d = 12
    w_star = rng.standard_normal(d)
    mu = rng.standard_normal((2, d))
    s, flip_prob = 0.6, 0.1
    exact = gibbs_true_risk_linear(mu, s, w_star, flip_prob=flip_prob)
    for i in range(2):
        W = mu[i] + s * rng.standard_normal((200_000, d))
        cos = W @ w_star / (np.linalg.norm(W, axis=1) * np.linalg.norm(w_star))
        mc = flip_prob + (1 - 2 * flip_prob) * np.mean(np.arccos(np.clip(cos, -1, 1))) / np.pi
        assert exact[i] == pytest.approx(mc, abs=2e-3)


def test_true_risk_limits():
    w_star = np.eye(5)[0]
    # tiny posterior width around w_star: risk -> flip_prob; around -w_star: risk -> 1 - flip_prob
    assert gibbs_true_risk_linear(w_star, 1e-4, w_star, 0.1) == pytest.approx(0.1, abs=1e-3)
    assert gibbs_true_risk_linear(-w_star, 1e-4, w_star, 0.1) == pytest.approx(0.9, abs=1e-3)
    # mean zero: the classifier is a coin flip
    assert gibbs_true_risk_linear(np.zeros(5), 1.0, w_star, 0.2) == pytest.approx(0.5, abs=1e-3)


def test_empirical_gibbs_risk_converges_to_true_risk_on_a_big_sample():
    rng = np.random.default_rng(1)
    d = 10
    w_star = np.eye(d)[0]
    mu = rng.standard_normal(d)
    X, y = sample_linear_gaussian(1, 200_000, w_star, 0.1, rng)
    emp = gibbs_empirical_risk_linear(mu, 0.8, X[0], y[0])
    assert emp == pytest.approx(gibbs_true_risk_linear(mu, 0.8, w_star, 0.1), abs=4e-3)


def test_sample_linear_gaussian_validates_flip_prob():
    with pytest.raises(ValueError, match="flip_prob"):
        sample_linear_gaussian(1, 5, np.ones(3), 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="w_star"):
        sample_linear_gaussian(1, 5, np.zeros(3), 0.1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        sample_linear_gaussian(1, 5, np.ones(3), 0.1, 0)


def test_true_risk_rejects_a_zero_w_star_instead_of_returning_nan():
    # before: w_star / ||w_star|| = 0/0 gave nan silently
    with pytest.raises(ValueError, match="w_star must be nonzero"):
        gibbs_true_risk_linear(np.ones(5), 0.5, np.zeros(5), 0.1)


@pytest.mark.parametrize("flip_prob", [-0.1, 0.5, 0.7, float("nan"), float("inf")])
def test_true_risk_checks_the_flip_probability(flip_prob):
    # before: any value went into eta + (1 - 2 eta) * angle / pi unchecked (0.7 gave a "risk" of 0.65)
    with pytest.raises(ValueError, match="flip_prob"):
        gibbs_true_risk_linear(np.ones(5), 0.5, np.ones(5), flip_prob)


def test_true_risk_depends_only_on_the_direction_of_w_star():
    mu = np.array([[1.0, 0.5, -0.2, 0.0], [0.1, 0.0, 2.0, 1.0]])
    ref = gibbs_true_risk_linear(mu, 0.3, np.array([1.0, 2.0, 0.0, -1.0]), 0.1)
    for scale in (1e-200, 1e200):  # the squared norm of these underflows or overflows
        np.testing.assert_allclose(gibbs_true_risk_linear(mu, 0.3, scale * np.array([1.0, 2.0, 0.0, -1.0]), 0.1),
                                   ref, rtol=1e-12)
    with pytest.raises(ValueError, match="mu"):
        gibbs_true_risk_linear(np.ones(3), 0.3, np.ones(4), 0.1)


def test_batched_forward_matches_torch_module():
    sizes = (6, 5, 3)
    nets = [make_mlp(sizes, seed=s) for s in range(3)]
    X = torch.randn(7, 6, generator=torch.Generator().manual_seed(0))
    theta = torch.stack([flat_params(m) for m in nets])
    out = batched_mlp_forward(theta, sizes, X)
    for i, m in enumerate(nets):
        torch.testing.assert_close(out[i], m(X).detach())
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    err = batched_mlp_error(theta, sizes, X, y)
    ce = batched_mlp_ce(theta, sizes, X, y)
    for i, m in enumerate(nets):
        assert float(err[i]) == pytest.approx(float((m(X).argmax(-1) != y).float().mean()))
        assert float(ce[i]) == pytest.approx(float(torch.nn.functional.cross_entropy(m(X), y).detach()), rel=1e-5)


def test_batched_forward_rejects_wrong_length():
    with pytest.raises(ValueError, match="theta must have shape"):
        batched_mlp_forward(torch.zeros(1, 10), (6, 5, 3), torch.zeros(2, 6))


def test_train_mlp_reduces_loss_and_rejects_unknown_optimizer():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=g)
    y = (X[:, 0] > 0).long()
    net = make_mlp((4, 8, 2), seed=0)
    snaps = train_mlp(net, X, y, num_steps=50, lr=0.5, optimizer="sgd", checkpoints=(0, 50))
    ce = batched_mlp_ce(torch.stack(snaps), (4, 8, 2), X, y)
    assert float(ce[1]) < float(ce[0])
    with pytest.raises(ValueError, match="optimizer"):
        train_mlp(net, X, y, num_steps=1, optimizer="lbfgs")


def test_dr_posterior_and_bound_are_consistent():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 4, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    sizes = (4, 8, 2)
    net = make_mlp(sizes, seed=0)
    theta0 = flat_params(net).clone()
    theta = train_mlp(net, X, y, num_steps=100, lr=0.5, optimizer="sgd", checkpoints=(100,))[0]
    res = optimize_dr_posterior(theta, theta0, sizes, X, y, num_steps=200, delta=0.05, lr=0.01, c=1.0)
    out = dr_bound(res, theta0, sizes, X, y, delta=0.05, delta_mc=0.01, num_mc=200, c=1.0)
    # the reported KL is the Gaussian KL against the grid prior it reports
    lam = 1.0 * math.exp(-out["j"] / 100)
    kl = kl_gaussians(res.mean.double().numpy(), torch.exp(2 * res.log_std).double().numpy(),
                      theta0.double().numpy(), lam)
    assert out["kl"] == pytest.approx(kl, rel=1e-6)
    assert out["emp_error_mc"] <= out["emp_error_upper"] <= out["bound"] <= 1.0
    assert out["bound"] <= out["mcallester"] + 1e-9 or out["mcallester"] >= 1.0


# ----------------------------------------------------------------------------------------
# The source read literally, the Monte Carlo's power, intervals, minibatch norms
# ----------------------------------------------------------------------------------------
from samlib.bounds import sam_noise_scale, sam_pac_bayes_bound  # noqa: E402
from samlib.studies.pac_bayes import (  # noqa: E402
    clopper_pearson,
    critical_factor,
    gibbs_vs_worst_case,
    source_literal_grid_step,
    train_minibatch_norms,
)


def test_source_literal_grid_index_is_the_one_for_the_final_sigma():
    k, n, w2, rho = 545_810, 1000, 270.0, 0.05
    out = source_literal_grid_step(k, n, w2, rho)
    sigma = sam_noise_scale(rho, k, n)
    log_c = 2 * math.log(rho) + np.logaddexp(0.0, 4 * n / k)
    assert out["j"] == math.floor(1 + k * (log_c - math.log(sigma**2 + w2 / k)))
    assert out["allowed"] == pytest.approx(2 * math.log(6 * n + 3 * k))


def test_source_literal_step_can_fail_yet_the_stated_bound_dominates():
    # small |w|, k comparable to n: the final sigma needs a grid index beyond (6n+3k) sqrt(6)/pi
    k, n, w2, rho, delta = 650, 1000, 1e-4, 0.05, 0.05
    out = source_literal_grid_step(k, n, w2, rho, delta)
    assert not out["step_holds"]
    assert sam_pac_bayes_bound(k, n, w2, rho, delta).complexity > out["chain"]


def test_source_literal_step_validates():
    with pytest.raises(ValueError, match="rho"):
        source_literal_grid_step(10, 100, 1.0, 0.0)
    with pytest.raises(ValueError, match="delta"):
        source_literal_grid_step(10, 100, 1.0, 0.1, delta=1.5)


def test_critical_factor_is_the_quantile_of_the_worst_ratio():
    rng = np.random.default_rng(0)
    true = rng.random((3, 1000))
    emp = rng.random((3, 1000))
    gap = np.array([[1.0], [2.0], [0.5]])
    r = np.max((true - emp) / gap, axis=0)
    f = critical_factor(true, emp, gap, 0.1)
    assert np.mean(r > f) <= 0.1 < np.mean(r >= f) + 1e-12
    with pytest.raises(ValueError, match="gap"):
        critical_factor(true, emp, np.zeros((3, 1)), 0.1)


def test_clopper_pearson_edges_and_coverage_direction():
    assert clopper_pearson(0, 100)[0] == 0.0
    assert clopper_pearson(100, 100)[1] == 1.0
    lo, hi = clopper_pearson(10, 100)
    assert lo < 0.1 < hi
    lo99, hi99 = clopper_pearson(10, 100, 0.99)
    assert lo99 < lo and hi99 > hi
    with pytest.raises(ValueError, match="count"):
        clopper_pearson(101, 100)


def test_train_minibatch_norms_records_every_epoch_and_sam_moves_weights():
    X = torch.randn(40, 5)
    y = torch.randint(0, 3, (40,))
    for method in ("sgd", "adam", "sam"):
        net = make_mlp((5, 4, 3), seed=0)
        norms = train_minibatch_norms(net, X, y, epochs=2, batch_size=10, lr=0.05, method=method)
        assert len(norms) == 3
        assert norms[0] == pytest.approx(float(flat_params(make_mlp((5, 4, 3), seed=0)).norm()))
        assert norms[-1] != norms[0]
    with pytest.raises(ValueError, match="method"):
        train_minibatch_norms(make_mlp((5, 4, 3), seed=0), X, y, 1, 10, 0.1, method="lbfgs")


def test_gibbs_vs_worst_case_orders_the_three_losses():
    torch.manual_seed(0)
    X = torch.randn(60, 6).double()
    y = torch.randint(0, 3, (60,))
    theta = flat_params(make_mlp((6, 5, 3), seed=0).double())
    out = gibbs_vs_worst_case(theta, (6, 5, 3), X, y, rho=0.5, num_noise=50, pga_steps=10)
    assert out["worst_ce"] >= out["ce"]
    assert out["worst_ce"] >= out["gibbs_ce"] - 1e-9
    k = theta.numel()
    assert out["mean_norm_over_rho"] == pytest.approx(math.sqrt(k) / (math.sqrt(k) + math.sqrt(math.log(60))),
                                                      rel=0.1)
