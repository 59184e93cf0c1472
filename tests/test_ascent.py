"""samlib.ascent: the dual-norm ascent direction, SAM/GD steps and trajectories."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from samlib.ascent import ascent_direction, gd_step, run_stochastic_trajectory, run_trajectory, sam_step
from samlib.landscapes import quadratic, review_1d, review_2d

P_VALUES = [1, 1.5, 2, 3, math.inf]
REVIEW_1D = review_1d()  # built once: lambdify is the slow part

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
grads = st.integers(1, 6).flatmap(lambda d: arrays(np.float64, d, elements=finite)).filter(
    lambda g: np.max(np.abs(g)) > 1e-6
)
rhos = st.floats(min_value=1e-3, max_value=10.0)


def _pnorm(x: np.ndarray, p: float) -> float:
    return float(np.linalg.norm(x, ord=p))


def _dual(p: float) -> float:
    return math.inf if p == 1 else 1.0 if math.isinf(p) else p / (p - 1)


def _sphere_samples(d: int, p: float, rho: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random points of the p-sphere of radius rho (the linear maximum over the ball is on the sphere)."""
    z = rng.standard_normal((n, d)) * rng.exponential(size=(n, d)) ** rng.uniform(0, 2, size=(n, 1))
    z[: min(n, 2 * d)] = np.vstack([np.eye(d), -np.eye(d)])[: min(n, 2 * d)]  # vertices of the l1 ball
    signs = rng.choice([-1.0, 1.0], size=(n // 4, d))
    z[-(n // 4):] = signs  # vertices of the l_inf ball
    return rho * z / np.linalg.norm(z, ord=p, axis=1, keepdims=True)


@pytest.mark.parametrize("p", P_VALUES)
@settings(max_examples=40, deadline=None)
@given(g=grads, rho=rhos, seed=st.integers(0, 2**32 - 1))
def test_ascent_direction_maximises_linear_term(p, g, rho, seed):
    eps = ascent_direction(g, rho, p)
    assert eps.shape == g.shape
    # on the sphere, and attains Hölder's bound rho * ||g||_q
    assert _pnorm(eps, p) == pytest.approx(rho, rel=1e-9)
    assert eps @ g == pytest.approx(rho * _pnorm(g, _dual(p)), rel=1e-9)
    # no sampled point of the ball does better
    samples = _sphere_samples(g.size, p, rho, 2000, np.random.default_rng(seed))
    assert np.max(samples @ g) <= eps @ g * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize("p", P_VALUES)
def test_ascent_direction_p2_is_normalised_gradient_and_zero_gradient_gives_zero(p):
    g = np.array([3.0, -4.0])
    if p == 2:
        np.testing.assert_allclose(ascent_direction(g, 0.5), [0.3, -0.4])
    z = ascent_direction(np.zeros(3), 1.0, p)
    assert isinstance(z, np.ndarray) and z.shape == (3,) and not np.any(z)
    assert not np.any(ascent_direction(g, 0.0, p))


def test_ascent_direction_special_cases():
    g = np.array([1.0, -5.0, 5.0, 2.0])
    np.testing.assert_array_equal(ascent_direction(g, 2.0, p=1), [0.0, -2.0, 0.0, 0.0])  # first largest |g_i|
    np.testing.assert_array_equal(ascent_direction(g, 2.0, p=np.inf), [2.0, -2.0, 2.0, 2.0])
    # p close to 1 concentrates on the largest coordinates without overflow
    eps = ascent_direction(np.array([1e300, 2e300, -2e300]), 1.0, p=1.0001)
    assert np.all(np.isfinite(eps)) and abs(eps[0]) < 1e-100
    # tiny gradients do not underflow to zero
    np.testing.assert_allclose(ascent_direction(np.array([3e-300, 4e-300]), 1.0), [0.6, 0.8])
    # matrix-shaped gradients keep their shape; norms are over all entries
    G = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ascent_direction(G, 1.0), G / np.linalg.norm(G))


@pytest.mark.parametrize("p", P_VALUES)
def test_ascent_direction_torch_matches_numpy(p):
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(1).standard_normal((3, 4))
    for dtype in (torch.float32, torch.float64):
        t = torch.tensor(g, dtype=dtype)
        eps = ascent_direction(t, 0.3, p)
        assert isinstance(eps, torch.Tensor) and eps.dtype == dtype and eps.device == t.device
        assert eps.shape == t.shape
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        np.testing.assert_allclose(eps.double().numpy(), ascent_direction(g, 0.3, p), rtol=tol, atol=tol)
    assert not torch.any(ascent_direction(torch.zeros(4), 0.3, p))


@pytest.mark.parametrize("p", P_VALUES)
def test_ascent_direction_of_a_non_contiguous_tensor(p):
    # issue 13, edge 4: p = 1 wrote through eps.view(-1), which a transposed tensor does not have
    torch = pytest.importorskip("torch")
    g = torch.tensor(np.random.default_rng(2).standard_normal((3, 4)), dtype=torch.float64).T
    assert not g.is_contiguous()
    eps = ascent_direction(g, 1.0, p)
    assert eps.shape == (4, 3)
    np.testing.assert_allclose(eps.numpy(), ascent_direction(g.numpy(), 1.0, p), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(eps.numpy(), ascent_direction(g.contiguous(), 1.0, p).numpy())
    assert ascent_direction(g.numpy(), 1.0, p).shape == (4, 3)  # a transposed numpy array too


@pytest.mark.parametrize("p", P_VALUES)
def test_ascent_direction_promotes_integer_input_to_float(p):
    # issue 13, edge 4: an integer tensor gave integer zeros (rho * 0.6 truncated), not a direction of norm rho
    torch = pytest.importorskip("torch")
    eps = ascent_direction(torch.tensor([3, 4]), 0.5, p)
    assert eps.dtype == torch.get_default_dtype()
    ref = ascent_direction(np.array([3.0, 4.0]), 0.5, p)
    np.testing.assert_allclose(eps.double().numpy(), ref, rtol=1e-6)
    assert float(np.linalg.norm(ref, ord=p)) == pytest.approx(0.5)
    np.testing.assert_array_equal(ascent_direction(np.array([3, 4]), 0.5, p), ref)  # numpy ints: float64


@settings(max_examples=50, deadline=None)
@given(
    theta=arrays(np.float64, 3, elements=st.floats(-10, 10)),
    diag=arrays(np.float64, 3, elements=st.floats(-5, 5)),
    lr=st.floats(0, 2),
    p=st.sampled_from(P_VALUES),
)
def test_sam_step_with_rho_zero_is_gd_step_bitwise(theta, diag, lr, p):
    ls = quadratic(np.diag(diag))
    np.testing.assert_array_equal(sam_step(theta, ls.grad, lr, 0.0, p), gd_step(theta, ls.grad, lr))
    r1 = REVIEW_1D
    np.testing.assert_array_equal(sam_step(theta[:1], r1.grad, lr, 0.0, p), gd_step(theta[:1], r1.grad, lr))


def test_sam_step_formula_on_quadratic():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    ls = quadratic(A)
    theta, lr, rho = np.array([1.0, -2.0]), 0.1, 0.05
    g = A @ theta
    expected = theta - lr * A @ (theta + rho * g / np.linalg.norm(g))
    np.testing.assert_allclose(sam_step(theta, ls.grad, lr, rho), expected, rtol=1e-14)


def test_sam_step_at_zero_gradient_is_gd_step_and_calls_grad_once():
    calls = []

    def grad_f(x):
        calls.append(x.copy())
        return 2 * x  # stationary at 0

    out = sam_step(np.zeros(2), grad_f, lr=0.1, rho=1.0)
    np.testing.assert_array_equal(out, np.zeros(2))
    assert len(calls) == 1
    # review_2d: every point of the line y = 0 is stationary, SAM does not move from it
    ls = review_2d()
    np.testing.assert_array_equal(sam_step([3.0, 0.0], ls.grad, 0.1, 0.5), [3.0, 0.0])


def test_sam_step_accepts_scalar_theta():
    ls = review_1d()
    out = sam_step(0.5, ls.grad, 0.01, 0.1)
    assert out.shape == (1,)
    g = ls.grad(0.5)
    np.testing.assert_allclose(out, 0.5 - 0.01 * ls.grad(0.5 + 0.1 * np.sign(g)))


def test_run_trajectory_shapes_and_gd_matches_loop():
    ls = review_2d()
    traj = run_trajectory([0.5, 0.8], ls.grad, lr=0.1, rho=0.01, num_steps=25, method="gd", f=ls.value)
    assert traj.iterates.shape == (26, 2) and traj.losses.shape == (26,)
    assert np.asarray(traj).shape == (26, 2) and len(traj) == 26
    x = np.array([0.5, 0.8])
    for t in range(25):
        x = x - 0.1 * ls.grad(x)
        np.testing.assert_array_equal(traj.iterates[t + 1], x)
    np.testing.assert_allclose(traj.losses, ls.value(traj.iterates))
    assert np.all(traj.rhos == 0.0) and traj.method == "gd"


def test_run_trajectory_sam_matches_sam_step_and_rho_zero_matches_gd():
    ls = review_1d()
    sam = run_trajectory(0.9, ls.grad, lr=0.01, rho=0.05, num_steps=10)
    x = np.array([0.9])
    for t in range(10):
        x = sam_step(x, ls.grad, 0.01, 0.05)
        np.testing.assert_array_equal(sam.iterates[t + 1], x)
    a = run_trajectory(0.9, ls.grad, 0.01, 0.0, 10, method="sam")
    b = run_trajectory(0.9, ls.grad, 0.01, 0.3, 10, method="gd")
    np.testing.assert_array_equal(a.iterates, b.iterates)


def test_run_trajectory_scalar_and_zero_steps():
    traj = run_trajectory(2.0, lambda x: 2 * x, lr=0.25, rho=0.0, num_steps=0)
    assert traj.iterates.shape == (1, 1) and traj.lrs.shape == (0,) and traj.losses is None
    np.testing.assert_array_equal(traj.final, [2.0])


def test_run_trajectory_schedules_are_evaluated_per_step():
    traj = run_trajectory(
        [1.0, 1.0], lambda x: x, lr=lambda t: 0.5 / np.sqrt(t + 1), rho=lambda t: 0.1 / (t + 1), num_steps=4
    )
    np.testing.assert_allclose(traj.lrs, 0.5 / np.sqrt(np.arange(1, 5)))
    np.testing.assert_allclose(traj.rhos, 0.1 / np.arange(1, 5))
    # f = |x|^2/2: SAM step is x - lr (x + rho x/|x|)
    x = np.array([1.0, 1.0])
    for t in range(4):
        x = x - traj.lrs[t] * (x + traj.rhos[t] * x / np.linalg.norm(x))
    np.testing.assert_allclose(traj.final, x, rtol=1e-14)


def test_run_trajectory_divergence_raise_or_stop():
    def grad(x):  # f = x^4 diverges for a large step; overflow to inf is the point of the test
        with np.errstate(over="ignore"):
            return 4 * x**3

    with pytest.raises(ValueError, match="t=.*diverged; lower lr"):
        run_trajectory(3.0, grad, lr=1.0, rho=0.0, num_steps=50)
    traj = run_trajectory(3.0, grad, lr=1.0, rho=0.0, num_steps=50, on_nonfinite="stop", f=lambda x: abs(float(x[0])))
    assert traj.diverged_at is not None and traj.iterates.shape == (51, 1)
    assert np.all(np.isnan(traj.iterates[traj.diverged_at + 1:]))
    assert np.all(np.isfinite(traj.iterates[: traj.diverged_at + 1]))


def _noisy_quadratic(sigma: float):
    def oracle(x, rng):
        return x + sigma * rng.standard_normal(x.shape)

    return oracle


def test_stochastic_trajectory_is_reproducible_and_seeded():
    kw = dict(lr=0.1, rho=0.05, num_steps=30)
    a = run_stochastic_trajectory([1.0, -1.0], _noisy_quadratic(0.5), seed=3, **kw)
    b = run_stochastic_trajectory([1.0, -1.0], _noisy_quadratic(0.5), seed=3, **kw)
    c = run_stochastic_trajectory([1.0, -1.0], _noisy_quadratic(0.5), seed=4, **kw)
    np.testing.assert_array_equal(a.iterates, b.iterates)
    assert a.iterates.shape == (31, 2) and not np.array_equal(a.iterates, c.iterates)


def test_stochastic_trajectory_without_noise_equals_deterministic():
    ls = quadratic(np.diag([1.0, 3.0]))
    det = run_trajectory([1.0, -1.0], ls.grad, lr=lambda t: 0.2 / np.sqrt(t + 1), rho=0.1, num_steps=20)
    sto = run_stochastic_trajectory(
        [1.0, -1.0], lambda x, rng: ls.grad(x), lr=lambda t: 0.2 / np.sqrt(t + 1), rho=0.1, num_steps=20, seed=0
    )
    np.testing.assert_array_equal(det.iterates, sto.iterates)


@pytest.mark.parametrize("same_noise", [False, True])
def test_stochastic_sam_noise_draws(same_noise):
    draws = []

    def oracle(x, rng):
        z = rng.standard_normal()
        draws.append(z)
        return x + z

    run_stochastic_trajectory([1.0], oracle, lr=0.1, rho=0.1, num_steps=5, seed=0, same_noise=same_noise)
    assert len(draws) == 10  # two oracle calls per SAM step
    pairs = np.array(draws).reshape(5, 2)
    assert np.all(pairs[:, 0] == pairs[:, 1]) == same_noise
    draws.clear()
    run_stochastic_trajectory([1.0], oracle, lr=0.1, rho=0.1, num_steps=5, seed=0, method="gd")
    assert len(draws) == 5  # SGD: one call per step
