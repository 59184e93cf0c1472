"""samlib.diagonal_net: gradients, the three trainers, the zero-gradient rule, input validation."""
import numpy as np
import pytest

from samlib.ascent import ascent_direction
from samlib.diagonal_net import (
    diagonal_net_grads,
    diagonal_net_loss,
    sparse_regression,
    train_diagonal_net,
)


@pytest.fixture
def problem():
    return sparse_regression(n=6, d=10, k=2, seeds=[3, 4], n_test=5)


def test_sparse_regression_shapes_and_truth(problem):
    assert problem.X.shape == (2, 6, 10) and problem.X_test.shape == (2, 5, 10)
    np.testing.assert_allclose(np.linalg.norm(problem.beta_star, axis=1), 1.0)
    assert np.all(problem.beta_star[:, 2:] == 0) and np.all(problem.beta_star[:, :2] > 0)
    np.testing.assert_allclose(problem.y, np.einsum("snd,sd->sn", problem.X, problem.beta_star))


def test_gradient_matches_finite_differences(problem):
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, 10)), rng.standard_normal((2, 10))
    gu, gv = diagonal_net_grads(u, v, problem.X, problem.y)
    h = 1e-6
    for j in range(10):
        e = np.zeros(10)
        e[j] = h
        fd_u = (diagonal_net_loss(u + e, v, problem.X, problem.y)
                - diagonal_net_loss(u - e, v, problem.X, problem.y)) / (2 * h)
        fd_v = (diagonal_net_loss(u, v + e, problem.X, problem.y)
                - diagonal_net_loss(u, v - e, problem.X, problem.y)) / (2 * h)
        np.testing.assert_allclose(gu[:, j], fd_u, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(gv[:, j], fd_v, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["sam", "sam1"])
def test_rho_zero_is_gd(problem, method):
    gd = train_diagonal_net(problem.X, problem.y, "gd", lr=0.05, num_steps=50)
    other = train_diagonal_net(problem.X, problem.y, method, lr=0.05, num_steps=50, rho=0.0)
    np.testing.assert_array_equal(gd.u, other.u)
    np.testing.assert_array_equal(gd.v, other.v)


def _manual_step(u, v, X, y, lr, rho, method):
    """One step written example by example with the book's ascent_direction."""
    n = len(y)

    def grads(u_, v_, idx):
        r = X[idx] @ (u_ * v_) - y[idx]
        return (X[idx].T @ r) * v_ / len(idx), (X[idx].T @ r) * u_ / len(idx)

    if method == "sam":
        gu, gv = grads(u, v, np.arange(n))
        eps = ascent_direction(np.concatenate([gu, gv]), rho)
        gu, gv = grads(u + eps[: len(u)], v + eps[len(u):], np.arange(n))
        return u - lr * gu, v - lr * gv
    su, sv = np.zeros_like(u), np.zeros_like(v)
    for i in range(n):
        gu, gv = grads(u, v, np.array([i]))
        eps = ascent_direction(np.concatenate([gu, gv]), rho)
        pu, pv = grads(u + eps[: len(u)], v + eps[len(u):], np.array([i]))
        su, sv = su + pu / n, sv + pv / n
    return u - lr * su, v - lr * sv


@pytest.mark.parametrize("method", ["sam", "sam1"])
def test_one_step_matches_the_definition(problem, method):
    X, y = problem.X[0], problem.y[0]
    run = train_diagonal_net(X, y, method, lr=0.1, num_steps=1, alpha=0.3, rho=0.07)
    u0 = np.full(10, 0.3)
    u1, v1 = _manual_step(u0, u0.copy(), X, y, 0.1, 0.07, method)
    np.testing.assert_allclose(run.u[0], u1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(run.v[0], v1, rtol=1e-12, atol=1e-15)


def test_unnormalised_perturbation_is_rho_times_gradient(problem):
    X, y = problem.X[0], problem.y[0]
    run = train_diagonal_net(X, y, "sam", lr=0.1, num_steps=1, alpha=0.3, rho=0.2, normalized=False)
    u0 = np.full((1, 10), 0.3)
    gu, gv = diagonal_net_grads(u0, u0, X, y)
    gu2, _ = diagonal_net_grads(u0 + 0.2 * gu, u0 + 0.2 * gv, X, y)
    np.testing.assert_allclose(run.u, u0 - 0.1 * gu2, rtol=1e-12)


def test_stacked_problems_train_independently(problem):
    both = train_diagonal_net(problem.X, problem.y, "sam1", lr=0.05, num_steps=200, rho=0.05,
                              target_loss=1e-3)
    for s in range(2):
        one = train_diagonal_net(problem.X[s], problem.y[s], "sam1", lr=0.05, num_steps=200,
                                 rho=0.05, target_loss=1e-3)
        np.testing.assert_allclose(both.u[s], one.u[0], rtol=1e-12)
        assert both.steps[s] == one.steps[0]


@pytest.mark.parametrize("method", ["gd", "sam", "sam1"])
@pytest.mark.parametrize("normalized", [True, False])
def test_zero_gradient_is_a_fixed_point_not_nan(method, normalized):
    # targets fitted exactly by the initial weights: every (per-example) gradient is zero
    X = np.random.default_rng(1).standard_normal((5, 4))
    y = X @ np.full(4, 0.25)
    run = train_diagonal_net(X, y, method, lr=0.1, num_steps=10, alpha=0.5, rho=0.1,
                             normalized=normalized)
    assert np.all(np.isfinite(run.u)) and np.all(run.u == 0.5) and np.all(run.v == 0.5)


def test_target_loss_stops_and_flags(problem):
    run = train_diagonal_net(problem.X, problem.y, "gd", lr=0.05, num_steps=20000, target_loss=1e-4)
    assert run.reached.all() and np.all(run.train_loss <= 1e-4)
    short = train_diagonal_net(problem.X, problem.y, "gd", lr=0.05, num_steps=3, target_loss=1e-4)
    assert not short.reached.any() and np.all(short.steps == 3)


def test_divergence_raises(problem):
    with pytest.raises(ValueError, match="lr"):
        train_diagonal_net(problem.X, problem.y, "gd", lr=1e3, num_steps=200, alpha=1.0)


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"method": "adam"}, ValueError, "method"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": "a"}, TypeError, "lr"),
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"rho": -0.1}, ValueError, "rho"),
    ({"num_steps": -1}, ValueError, "num_steps"),
    ({"normalized": "yes"}, TypeError, "normalized"),
    ({"target_loss": -1.0}, ValueError, "target_loss"),
])
def test_train_validation(problem, kwargs, exc, word):
    args = {"method": "sam", "lr": 0.1, "num_steps": 1, **kwargs}
    with pytest.raises(exc, match=word):
        train_diagonal_net(problem.X, problem.y, **args)


def test_shape_and_value_validation(problem):
    with pytest.raises(ValueError, match="y"):
        train_diagonal_net(problem.X, problem.y[:, :3], "gd", lr=0.1, num_steps=1)
    with pytest.raises(ValueError, match="X"):
        train_diagonal_net(np.full((3, 2), np.nan), np.zeros(3), "gd", lr=0.1, num_steps=1)
    with pytest.raises(ValueError, match="v"):
        diagonal_net_loss(np.ones(10), np.ones(9), problem.X[0], problem.y[0])


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"k": 11}, ValueError, "k"),
    ({"n": 0}, ValueError, "n"),
    ({"seeds": []}, ValueError, "seeds"),
    ({"seeds": "ab"}, TypeError, "seeds"),
    ({"seeds": [-1]}, ValueError, "seeds"),
    ({"d": 2.5}, (TypeError, ValueError), "d"),
])
def test_sparse_regression_validation(kwargs, exc, word):
    args = {"n": 4, "d": 10, "k": 2, "seeds": [0], **kwargs}
    with pytest.raises(exc, match=word):
        sparse_regression(**args)
