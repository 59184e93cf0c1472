"""Tests of samlib.hessian against dense Hessians of a small tanh network and of quadratics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from samlib.hessian import (
    hessian_dense,
    hessian_trace,
    hvp,
    hvp_operator,
    lambda_max,
    lambda_max_power,
    model_loss_fn,
)

DT = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def net():
    """2-layer tanh MLP with 51 parameters on random 3-class data, flattened, and its dense H."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    X = torch.randn(40, 4)
    y = torch.randint(0, 3, (40,))
    f, theta = model_loss_fn(model, F.cross_entropy, X, y, dtype=DT)
    H = hessian_dense(f, theta)
    return dict(model=model, X=X, y=y, f=f, theta=theta, H=H, eig=torch.linalg.eigvalsh(H))


def quadratic(diag):
    A = torch.diag(torch.tensor(diag, dtype=DT))
    Q, _ = torch.linalg.qr(torch.randn(len(diag), len(diag), generator=torch.Generator().manual_seed(0),
                                       dtype=DT))
    A = Q @ A @ Q.T
    return (lambda x: 0.5 * x @ A @ x), 0.5 * (A + A.T)


# -- model_loss_fn -----------------------------------------------------------------------------

def test_model_loss_fn_matches_the_model_and_leaves_it_unchanged(net):
    model, X, y, f, theta = net["model"], net["X"], net["y"], net["f"], net["theta"]
    assert theta.shape == (51,) and theta.dtype == DT
    with torch.no_grad():
        expected = F.cross_entropy(model.to(DT)(X.to(DT)), y)
    model.float()
    assert float(f(theta)) == pytest.approx(float(expected), rel=1e-12)
    w = [p.detach().clone() for p in model.parameters()]
    f(theta + 1.0)
    for a, b in zip(w, model.parameters()):
        assert torch.equal(a, b)
    assert float(f(theta + 0.1)) != pytest.approx(float(expected), rel=1e-6)


def test_model_loss_fn_skips_frozen_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    model[0].weight.requires_grad_(False)
    X, y = torch.randn(5, 3), torch.randn(5, 1)
    f, theta = model_loss_fn(model, F.mse_loss, X, y)
    assert theta.numel() == 2 + 2 + 1
    assert float(f(theta)) == pytest.approx(float(F.mse_loss(model(X), y).detach()), rel=1e-6)


# -- Hessian-vector products -------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_hvp_equals_dense_hessian_times_v(net, mode):
    f, theta, H = net["f"], net["theta"], net["H"]
    V = torch.randn(3, theta.numel(), generator=torch.Generator().manual_seed(1), dtype=DT)
    for v in V:
        torch.testing.assert_close(hvp(f, theta, v, mode=mode), H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(hvp_operator(f, theta, mode=mode)(V), V @ H, rtol=1e-10, atol=1e-12)


def test_hvp_of_a_quadratic_is_A_v():
    f, A = quadratic([3.0, -1.0, 0.5, 2.0])
    v = torch.tensor([1.0, 2.0, -1.0, 0.0], dtype=DT)
    torch.testing.assert_close(hvp(f, torch.zeros(4, dtype=DT), v), A @ v, rtol=1e-12, atol=1e-12)


def test_hessian_dense_is_symmetric_and_exact_on_quadratics(net):
    H = net["H"]
    assert H.shape == (51, 51)
    assert torch.equal(H, H.T)
    f, A = quadratic([3.0, -1.0, 0.5])
    torch.testing.assert_close(hessian_dense(f, torch.ones(3, dtype=DT)), A, rtol=1e-12, atol=1e-12)


# -- lambda_max --------------------------------------------------------------------------------

def test_lambda_max_lanczos_matches_dense(net):
    f, theta, H, eig = net["f"], net["theta"], net["H"], net["eig"]
    res = lambda_max(f, theta, tol=1e-10)
    assert res.eigenvalue == pytest.approx(float(eig[-1]), rel=1e-8)
    torch.testing.assert_close(H @ res.eigenvector, res.eigenvalue * res.eigenvector, rtol=0, atol=1e-7)
    assert float(res.eigenvector.norm()) == pytest.approx(1.0, rel=1e-12)
    assert isinstance(res.num_hvp, int) and 1 <= res.num_hvp <= 200
    # deterministic given the seed
    assert lambda_max(f, theta, tol=1e-10).num_hvp == res.num_hvp


def test_lambda_max_is_the_largest_algebraic_also_when_the_dominant_eigenvalue_is_negative():
    f, _ = quadratic([-5.0, 1.0, 2.0, 0.5, -0.1])
    theta = torch.zeros(5, dtype=DT)
    assert lambda_max(f, theta).eigenvalue == pytest.approx(2.0, rel=1e-8)
    # plain power iteration finds the largest magnitude, -5; the shifted second run finds lambda_max
    power = lambda_max_power(f, theta, tol=1e-10, max_iter=500)
    assert power.eigenvalue == pytest.approx(2.0, rel=1e-6) and power.converged
    torch.testing.assert_close(hessian_dense(f, theta) @ power.eigenvector, 2.0 * power.eigenvector,
                               rtol=0, atol=1e-4)
    # a negative definite Hessian: lambda_max is the eigenvalue closest to 0
    g, _ = quadratic([-5.0, -1.0, -2.0])
    neg = lambda_max_power(g, torch.zeros(3, dtype=DT), tol=1e-10, max_iter=1000)
    assert neg.eigenvalue == pytest.approx(-1.0, rel=1e-6) and neg.converged


# Issue 13, edge 6: on this spectrum PyHessian's rule stopped after 6 products at -1.83 with no flag.
SPECTRUM_2_TO_MINUS_1_9 = [2.0, 1.0, 0.0, -1.0, -1.9]


def test_lambda_max_power_does_not_stop_on_the_negative_end_of_the_spectrum():
    A = torch.diag(torch.tensor(SPECTRUM_2_TO_MINUS_1_9, dtype=DT))
    res = lambda_max_power(lambda x: 0.5 * x @ A @ x, torch.zeros(5, dtype=DT), seed=2)
    assert res.eigenvalue > 0 and abs(res.eigenvalue - 2.0) < 0.01 and res.converged


def test_lambda_max_power_flags_a_stop_on_a_mixture_of_eigenvectors():
    # 2 and -1.9 are close in magnitude: the quotient crawls, PyHessian's rule stops at 1.98 with
    # v still a mixture, and the residual says so
    A = torch.diag(torch.tensor([2.0, 1.0, 0.5, -1.9], dtype=DT))
    res = lambda_max_power(lambda x: 0.5 * x @ A @ x, torch.zeros(4, dtype=DT), seed=0)
    assert abs(res.eigenvalue - 2.0) > 0.01 and not res.converged
    # a tighter tolerance gets there; at the rate 0.95 per product the rule still stops about 10 tol away,
    # which the flag reports too
    tight = lambda_max_power(lambda x: 0.5 * x @ A @ x, torch.zeros(4, dtype=DT), seed=0, tol=1e-9,
                             max_iter=2000)
    assert tight.eigenvalue == pytest.approx(2.0, rel=1e-7) and not tight.converged


def test_zero_hessian_has_lambda_max_zero():
    # issue 13, edge 6: ARPACK stopped with error -9 ("starting vector is zero")
    for d in (5, 2):
        res = lambda_max(lambda x: x.sum(), torch.ones(d))
        assert res.eigenvalue == 0.0 and res.converged
        assert float(res.eigenvector.norm()) == pytest.approx(1.0, rel=1e-6)
    power = lambda_max_power(lambda x: 3.0 * x.sum(), torch.ones(5, dtype=DT))
    assert power.eigenvalue == 0.0 and power.num_hvp == 1 and power.converged


def test_lambda_max_keeps_other_arpack_errors():
    from scipy.sparse.linalg import ArpackNoConvergence

    f, _ = quadratic(list(np.linspace(1.0, 1.001, 30)))
    with pytest.raises(ArpackNoConvergence):
        lambda_max(f, torch.zeros(30, dtype=DT), tol=0.0, maxiter=1, ncv=3)


@pytest.mark.parametrize("d", [1, 2])
def test_lambda_max_tiny_dimension(d):
    f, A = quadratic([4.0, -2.0][:d])
    res = lambda_max(f, torch.zeros(d, dtype=DT))
    assert res.eigenvalue == pytest.approx(4.0, rel=1e-12)
    assert res.num_hvp == d


def test_lambda_max_power_matches_dense_and_counts_products(net):
    f, theta, eig = net["f"], net["theta"], net["eig"]
    # this small net's most negative eigenvalue is smaller in magnitude than the largest
    assert float(eig[-1]) > abs(float(eig[0]))
    res = lambda_max_power(f, theta, tol=1e-9, max_iter=2000)
    assert res.eigenvalue == pytest.approx(float(eig[-1]), rel=1e-6)
    loose = lambda_max_power(f, theta, tol=1e-3)
    assert loose.num_hvp < res.num_hvp
    assert abs(loose.eigenvalue - float(eig[-1])) / float(eig[-1]) < 0.05
    assert res.converged and loose.converged
    capped = lambda_max_power(f, theta, tol=1e-12, max_iter=7)
    assert capped.num_hvp == 7 and not capped.converged


# -- trace -------------------------------------------------------------------------------------

def test_hessian_trace_matches_dense(net):
    f, theta, H = net["f"], net["theta"], net["H"]
    res = hessian_trace(f, theta, num_probes=400, seed=0)
    exact = float(torch.trace(H))
    assert res.num_hvp == 400
    assert res.stderr > 0
    assert abs(res.estimate - exact) <= 4 * res.stderr
    # the stderr agrees with the exact Rademacher variance 2 * sum_{i != j} H_ij^2
    var = 2 * float((H**2).sum() - (torch.diagonal(H) ** 2).sum())
    assert res.stderr == pytest.approx(math.sqrt(var / 400), rel=0.25)


def test_hessian_trace_is_exact_for_diagonal_hessians_and_batching_is_invisible():
    A = torch.tensor([1.0, -2.0, 3.5, 0.25], dtype=DT)
    f = lambda x: 0.5 * (A * x * x).sum()  # noqa: E731
    theta = torch.zeros(4, dtype=DT)
    r1 = hessian_trace(f, theta, num_probes=10, seed=3, batch_size=1)
    r2 = hessian_trace(f, theta, num_probes=10, seed=3, batch_size=7)
    assert r1.estimate == pytest.approx(2.75, abs=1e-12) and r1.stderr == pytest.approx(0.0, abs=1e-12)
    assert r1 == r2
    assert math.isnan(hessian_trace(f, theta, num_probes=1).stderr)
    assert hessian_trace(f, theta, num_probes=10, seed=3, mode="fwd").estimate == pytest.approx(2.75)


# -- bad inputs --------------------------------------------------------------------------------

def _q(x):
    return (x**2).sum()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: hvp(_q, torch.zeros(2, 2), torch.zeros(2, 2)), "1-d"),
        (lambda: hvp(_q, torch.tensor([0.0, float("nan")]), torch.zeros(2)), "non-finite"),
        (lambda: hvp(_q, torch.zeros(3), torch.zeros(4)), "shape"),
        (lambda: hvp(_q, torch.zeros(3), torch.tensor([1.0, float("inf"), 0.0])), "non-finite"),
        (lambda: hvp(_q, torch.zeros(3), torch.zeros(3), mode="central"), "mode"),
        (lambda: hvp(lambda x: x * 2, torch.zeros(3), torch.ones(3)), "0-d"),
        (lambda: hessian_dense(_q, torch.zeros(0)), "non-empty"),
        (lambda: lambda_max(_q, torch.zeros(3), tol=-1.0), "tol"),
        (lambda: lambda_max(_q, torch.zeros(3), seed=-2), "seed"),
        (lambda: lambda_max(_q, torch.zeros(3), maxiter=0), "maxiter"),
        (lambda: lambda_max_power(_q, torch.zeros(3), tol=0.0), "tol"),
        (lambda: lambda_max_power(_q, torch.zeros(3), max_iter=0), "max_iter"),
        (lambda: hessian_trace(_q, torch.zeros(3), num_probes=0), "num_probes"),
        (lambda: hessian_trace(_q, torch.zeros(3), num_probes=2.5), "num_probes"),
        (lambda: hessian_trace(_q, torch.zeros(3), batch_size=0), "batch_size"),
        (lambda: model_loss_fn(nn.ReLU(), F.mse_loss, torch.zeros(2, 1), torch.zeros(2, 1)),
         "trainable"),
        (lambda: hvp(lambda x: (x.abs() ** 1.5).sum(), torch.zeros(3), torch.ones(3)), "not finite"),
        (lambda: lambda_max(lambda x: (x.abs() ** 1.5).sum(), torch.zeros(4)), "not finite"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: hvp("f", torch.zeros(3), torch.zeros(3)), "callable"),
        (lambda: hvp(_q, torch.zeros(3, dtype=torch.int64), torch.zeros(3)), "floating"),
        (lambda: hvp(_q, torch.zeros(3), torch.zeros(3, dtype=torch.bool)), "v"),
        (lambda: model_loss_fn("net", F.mse_loss, torch.zeros(2, 1), torch.zeros(2, 1)), "Module"),
        (lambda: model_loss_fn(nn.Linear(1, 1), None, torch.zeros(2, 1), torch.zeros(2, 1)), "loss_fn"),
        (lambda: model_loss_fn(nn.Linear(1, 1), F.mse_loss, [0.0, 1.0], torch.zeros(2, 1)), "tensors"),
    ],
)
def test_wrong_kinds_raise_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_numpy_inputs_are_accepted():
    f = lambda x: (x**3).sum()  # noqa: E731
    out = hvp(f, np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([6.0, 12.0], dtype=DT))
