"""samlib.sharpness: the exact trust-region sharpness of a quadratic model and the PGA lower bound."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.ascent import ascent_direction
from samlib.landscapes import double_well, quadratic, review_1d, review_2d, wen_ma_li_4d
from samlib.sharpness import sharpness_pga, sharpness_quadratic


def _model(A, g, eps):
    eps = np.atleast_2d(eps)
    return eps @ g + 0.5 * np.einsum("ni,ij,nj->n", eps, A, eps)


def _brute_force_2d(A, g, rho, n=100_001):
    """Max of the model over a fine grid of the circle, the interior stationary point and 0."""
    t = np.linspace(0, 2 * np.pi, n)
    circle = rho * np.stack([np.cos(t), np.sin(t)], axis=1)
    best = max(0.0, float(np.max(_model(A, g, circle))))
    if np.all(np.linalg.eigvalsh(A) < 0):
        x = -np.linalg.solve(A, g)
        if np.linalg.norm(x) <= rho:
            best = max(best, float(_model(A, g, x)[0]))
    return best


def _random_sym(rng, d, shift=0.0):
    M = rng.standard_normal((d, d))
    return 0.5 * (M + M.T) + shift * np.eye(d)


seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, shift=st.sampled_from([-4.0, -1.0, 0.0, 1.0, 4.0]), rho=st.floats(0.01, 3.0),
       gscale=st.sampled_from([0.0, 1e-3, 1.0, 10.0]))
def test_exact_matches_dense_sampling_in_2d(seed, shift, rho, gscale):
    rng = np.random.default_rng(seed)
    A, g = _random_sym(rng, 2, shift), gscale * rng.standard_normal(2)
    res = sharpness_quadratic(A, g, rho)
    assert np.linalg.norm(res.epsilon) <= rho * (1 + 1e-12)
    assert res.value == pytest.approx(float(_model(A, g, res.epsilon)[0]), rel=1e-12, abs=1e-14)
    brute = _brute_force_2d(A, g, rho)
    scale = rho * np.linalg.norm(g) + rho**2 * np.max(np.abs(np.linalg.eigvalsh(A))) + 1e-300
    # exact >= every sampled point; the grid misses the max by O((2 pi / 1e5)^2) relative
    assert res.value >= brute - 1e-12 * scale
    assert res.value <= brute + 1e-8 * scale


@settings(max_examples=60, deadline=None)
@given(seed=seeds, d=st.integers(1, 6), shift=st.sampled_from([-3.0, 0.0, 3.0]), rho=st.floats(0.01, 3.0))
def test_exact_satisfies_optimality_conditions_and_beats_sampling(seed, d, shift, rho):
    rng = np.random.default_rng(seed)
    A, g = _random_sym(rng, d, shift), rng.standard_normal(d)
    res = sharpness_quadratic(A, g, rho)
    eps = res.epsilon
    # Moré-Sorensen certificate (maximisation form): (lam I - A) eps = g, lam I - A >= 0, lam >= 0,
    # lam (rho - ||eps||) = 0, with lam read off from eps
    n = np.linalg.norm(eps)
    if n < rho * (1 - 1e-9):
        lam = 0.0
    else:
        lam = float(eps @ (g + A @ eps)) / n**2
    assert lam >= -1e-9
    np.testing.assert_allclose((lam * np.eye(d) - A) @ eps, g, atol=1e-7 * (1 + abs(lam)))
    assert np.linalg.eigvalsh(lam * np.eye(d) - A)[0] >= -1e-7 * (1 + abs(lam))
    # and no random point of the ball (sphere and interior) does better
    z = rng.standard_normal((4000, d))
    z *= rho * rng.uniform(size=(4000, 1)) ** (1 / d) / np.linalg.norm(z, axis=1, keepdims=True)
    z[:2000] *= rho / np.linalg.norm(z[:2000], axis=1, keepdims=True)
    assert np.max(_model(A, g, z)) <= res.value + 1e-10 * (1 + res.value)


def test_hard_case_adds_top_eigenvector():
    # g orthogonal to the top eigenvector e2 of A and ||(a_top I - A)^+ g|| = 0.5 < rho = 1
    A, g = np.diag([1.0, 3.0]), np.array([1.0, 0.0])
    res = sharpness_quadratic(A, g, 1.0)
    assert res.value == pytest.approx(1.75, rel=1e-14)  # 0.5 + 0.5*(0.25 + 3*0.75)
    np.testing.assert_allclose(np.abs(res.epsilon), [0.5, math.sqrt(0.75)], rtol=1e-14)
    assert res.value == pytest.approx(_brute_force_2d(A, g, 1.0), rel=1e-9)
    # rotated, with a repeated top eigenvalue in 3D
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    A3 = Q @ np.diag([-1.0, 2.0, 2.0]) @ Q.T
    g3 = 0.6 * Q[:, 0]  # eps0 = 0.6/(2+1) = 0.2 along Q[:,0]
    res3 = sharpness_quadratic(A3, g3, 0.5)
    assert res3.value == pytest.approx(0.6 * 0.2 + 0.5 * (-1 * 0.04 + 2 * (0.25 - 0.04)), rel=1e-12)
    assert np.linalg.norm(res3.epsilon) == pytest.approx(0.5)
    # the same geometry with a small radius is the easy (boundary) case: eps0 would leave the ball
    res_small = sharpness_quadratic(A, g, 0.3)
    assert res_small.value == pytest.approx(_brute_force_2d(A, g, 0.3), rel=1e-9)


def test_near_hard_case_is_continuous():
    A = np.diag([1.0, 3.0])
    exact = sharpness_quadratic(A, np.array([1.0, 0.0]), 1.0).value
    for delta in (1e-4, 1e-8, 1e-11, 1e-14):
        near = sharpness_quadratic(A, np.array([1.0, delta]), 1.0).value
        assert near == pytest.approx(exact, abs=3 * delta + 1e-12)
        assert near >= exact - 1e-12  # a larger linear term cannot lower the max


def test_minimum_gives_half_rho_squared_lambda_max_and_interior_case():
    A = np.diag([5.0, 2.0, -1.0])
    res = sharpness_quadratic(A, np.zeros(3), 0.2)
    assert res.value == pytest.approx(0.5 * 0.2**2 * 5.0)
    np.testing.assert_allclose(np.abs(res.epsilon), [0.2, 0, 0], atol=1e-15)
    # negative definite A, unconstrained maximiser inside the ball: value -g^T A^{-1} g / 2
    A = np.diag([-2.0, -4.0])
    g = np.array([0.2, 0.4])
    res = sharpness_quadratic(A, g, 1.0)
    np.testing.assert_allclose(res.epsilon, [0.1, 0.1])
    assert res.value == pytest.approx(-0.5 * g @ np.linalg.solve(A, g))
    # concave with g = 0: the max is 0 at epsilon = 0
    assert sharpness_quadratic(A, np.zeros(2), 1.0).value == 0.0


@settings(max_examples=40, deadline=None)
@given(seed=seeds, d=st.integers(1, 5), shift=st.sampled_from([-2.0, 0.0, 2.0]))
def test_sharpness_nonnegative_zero_at_zero_radius_and_monotone_in_rho(seed, d, shift):
    rng = np.random.default_rng(seed)
    A, g = _random_sym(rng, d, shift), rng.standard_normal(d) * rng.choice([0.0, 1.0])
    assert sharpness_quadratic(A, g, 0.0).value == 0.0
    values = [sharpness_quadratic(A, g, r).value for r in np.linspace(0, 2, 21)]
    assert min(values) >= 0.0
    assert np.all(np.diff(values) >= -1e-12 * (1 + max(values)))


@pytest.mark.parametrize("seed", range(6))
def test_pga_is_a_lower_bound_close_to_exact_on_quadratics(seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed
    A = _random_sym(rng, d, shift=[-2.0, 0.0, 2.0][seed % 3])
    ls = quadratic(A)
    theta = rng.standard_normal(d) * (0.0 if seed == 4 else 1.0)
    rho = 0.5
    exact = sharpness_quadratic(A, A @ theta, rho).value
    pga = sharpness_pga(ls.value, ls.grad, theta, rho, seed=seed)
    scale = 1 + abs(exact) + abs(ls.value(theta))
    assert pga.value <= exact + 1e-12 * scale  # lower bound (up to rounding of f(theta+eps) - f(theta))
    assert pga.value == pytest.approx(exact, rel=1e-6, abs=1e-9)
    assert np.linalg.norm(pga.epsilon) <= rho * (1 + 1e-12)


@pytest.mark.parametrize("p", [1, math.inf])
def test_pga_other_norms_reach_the_best_vertex_for_convex_quadratics(p):
    rng = np.random.default_rng(3)
    A = _random_sym(rng, 3, shift=4.0)  # positive definite: the max over a polytope is at a vertex
    assert np.linalg.eigvalsh(A)[0] > 0
    ls = quadratic(A)
    theta = rng.standard_normal(3)
    rho = 0.3
    if p == 1:
        vertices = rho * np.vstack([np.eye(3), -np.eye(3)])
    else:
        vertices = rho * np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    best = max(ls.value(theta + v) - ls.value(theta) for v in vertices)
    res = sharpness_pga(ls.value, ls.grad, theta, rho, p=p, num_restarts=12)
    assert res.value == pytest.approx(best, rel=1e-9)
    assert np.linalg.norm(res.epsilon, ord=p) <= rho * (1 + 1e-12)


def test_pga_on_review_1d_matches_a_dense_grid():
    ls = review_1d()
    for x0, rho in [(0.5, 0.1), (0.02, 0.05), (1.0, 0.3), (0.0, 0.01)]:
        grid = np.linspace(-rho, rho, 200_001)
        brute = float(np.max(ls.value((x0 + grid)[:, None]))) - ls.value(x0)
        res = sharpness_pga(ls.value, ls.grad, x0, rho)
        assert res.value <= brute + 1e-12
        assert res.value == pytest.approx(brute, rel=1e-6, abs=1e-12)


def test_pga_properties_on_nonconvex_landscapes():
    for ls, theta in [(review_2d(), [0.3, 0.0]), (double_well(), [0.0, 0.5]), (wen_ma_li_4d(), [0.1, 0.2, 0.0, 0.0])]:
        theta = np.array(theta)
        values = [sharpness_pga(ls.value, ls.grad, theta, r, num_restarts=4, num_steps=100).value
                  for r in (0.0, 0.05, 0.1, 0.2)]
        assert values[0] == 0.0 and min(values) >= 0.0
        assert values == sorted(values)
        # at a minimum, small rho: kappa ~ rho^2 lambda_max / 2 (second-order model)
        if ls.name == "wen_ma_li_4d":
            lmax = np.linalg.eigvalsh(ls.hessian(theta))[-1]
            exact_model = sharpness_quadratic(ls.hessian(theta), ls.grad(theta), 0.01).value
            assert exact_model == pytest.approx(0.5 * 0.01**2 * lmax, rel=1e-12)
            kappa = sharpness_pga(ls.value, ls.grad, theta, 0.01).value
            assert kappa == pytest.approx(exact_model, rel=0.05)


def test_pga_is_seeded_and_includes_zero():
    ls = quadratic(-np.eye(2))  # concave: every move lowers f, the best perturbation is 0
    res = sharpness_pga(ls.value, ls.grad, np.zeros(2), 1.0)
    assert res.value == 0.0 and not np.any(res.epsilon)
    ls = double_well()
    a = sharpness_pga(ls.value, ls.grad, np.array([0.2, 0.3]), 0.4, seed=5)
    b = sharpness_pga(ls.value, ls.grad, np.array([0.2, 0.3]), 0.4, seed=5)
    assert a.value == b.value and np.array_equal(a.epsilon, b.epsilon)


# --- issue 13: scales at the edges of float64, torch input, an empty theta ---------------------------------


def test_huge_curvature_gives_the_exact_value_not_an_overflow():
    # A + A^T overflowed: the value came back 0.0
    res = sharpness_quadratic(np.diag([1e308, 1e308]), np.zeros(2), 1.0)
    assert res.value == 0.5e308
    assert np.linalg.norm(res.epsilon) == pytest.approx(1.0, rel=1e-15)
    # a maximum at an indefinite A with a large gradient: eps = rho g/||g|| along the top eigenvector
    res = sharpness_quadratic(np.diag([1e300, -1e300]), np.array([1e300, 0.0]), 2.0)
    assert res.value == pytest.approx(2e300 + 2e300, rel=1e-14)
    np.testing.assert_allclose(res.epsilon, [2.0, 0.0], atol=1e-15)


def test_tiny_radius_gives_the_exact_value_not_an_underflow():
    # ||eps||^2 underflowed: the value came back 0.0 instead of rho ||g|| + O(rho^2)
    res = sharpness_quadratic(np.eye(2), np.array([3.0, 4.0]), 1e-300)
    assert res.value == pytest.approx(5e-300, rel=1e-14)
    np.testing.assert_allclose(res.epsilon, [0.6e-300, 0.8e-300], rtol=1e-14)
    # a tiny gradient next to ordinary curvature: the linear term still decides the sign of eps
    res = sharpness_quadratic(np.diag([1.0, 0.5]), np.array([-1e-310, 0.0]), 1.0)
    assert res.value == pytest.approx(0.5, rel=1e-15)
    assert res.epsilon[0] == pytest.approx(-1.0, rel=1e-15)


@pytest.mark.parametrize(
    "A, g, rho",
    [
        (np.diag([1e308, 1e308]), np.zeros(2), 2.0),  # rho^2 lambda_max / 2 = 2e308
        (np.eye(2), np.array([1e300, 0.0]), 1e10),  # rho ||g|| = 1e310
        (np.diag([2.0, 1.0]), np.zeros(2), 1e-300),  # rho^2 lambda_max / 2 = 1e-600
    ],
)
def test_a_value_that_float64_cannot_hold_raises_naming_rho(A, g, rho):
    with pytest.raises(ValueError, match="rho"):
        sharpness_quadratic(A, g, rho)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, d=st.integers(1, 4), shift=st.sampled_from([-2.0, 0.0, 2.0]), rho=st.floats(0.1, 2.0),
       k=st.integers(-900, 900), b=st.integers(-450, 450))
def test_value_scales_exactly_with_powers_of_two_over_the_whole_float_range(seed, d, shift, rho, k, b):
    rng = np.random.default_rng(seed)
    A, g = _random_sym(rng, d, shift), rng.standard_normal(d)
    ref = sharpness_quadratic(A, g, rho)
    # m is linear in (A, g): kappa(2^k A, 2^k g, rho) = 2^k kappa(A, g, rho)
    assert sharpness_quadratic(np.ldexp(A, k), np.ldexp(g, k), rho).value == pytest.approx(
        math.ldexp(ref.value, k), rel=1e-9)
    # eps = 2^-b u: kappa(4^b A, 2^b g, 2^-b rho) = kappa(A, g, rho)
    res = sharpness_quadratic(np.ldexp(A, 2 * b), np.ldexp(g, b), math.ldexp(rho, -b))
    assert res.value == pytest.approx(ref.value, rel=1e-9)
    assert np.linalg.norm(np.ldexp(res.epsilon, b)) <= rho * (1 + 1e-12)


def test_torch_inputs_are_converted_to_float64_numpy():
    torch = pytest.importorskip("torch")
    A = np.array([[2.0, 0.5], [0.5, -1.0]])
    g = np.array([0.3, -0.2])
    ref = sharpness_quadratic(A, g, 0.4)
    A_t = torch.tensor(A, requires_grad=True)  # a graph leaf: converted without its graph
    res = sharpness_quadratic(A_t, torch.tensor(g, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64))
    assert res.value == ref.value and isinstance(res.epsilon, np.ndarray)
    np.testing.assert_array_equal(res.epsilon, ref.epsilon)
    # float32 tensors are widened to float64 exactly, so they solve the float32-rounded problem
    res32 = sharpness_quadratic(A_t.float(), torch.tensor(g, dtype=torch.float32), 0.4)
    ref32 = sharpness_quadratic(A.astype(np.float32), g.astype(np.float32), 0.4)
    assert res32.value == ref32.value
    ls = quadratic(A)
    pga = sharpness_pga(ls.value, ls.grad, torch.tensor([0.1, 0.2], dtype=torch.float64), 0.4)
    pga_ref = sharpness_pga(ls.value, ls.grad, np.array([0.1, 0.2]), 0.4)
    assert pga.value == pga_ref.value
    np.testing.assert_array_equal(pga.epsilon, pga_ref.epsilon)


def test_pga_on_an_empty_theta_is_zero_like_the_exact_solver():
    # d = 0 divided by zero when drawing random starts (rho ** (1 / d))
    res = sharpness_pga(lambda x: float(np.sum(x * x)), lambda x: 2 * x, np.zeros(0), 0.1)
    assert res.value == 0.0 and res.epsilon.shape == (0,)
    exact = sharpness_quadratic(np.zeros((0, 0)), np.zeros(0), 0.1)
    assert exact.value == 0.0 and exact.epsilon.shape == (0,)


def test_pga_first_start_is_the_ascent_direction_also_at_a_zero_gradient():
    # one start, no steps: the result is the better of eps = 0 and eps-hat = ascent_direction(grad f(theta))
    ls = quadratic(np.diag([2.0, -1.0]))
    theta = np.array([0.3, 0.4])
    res = sharpness_pga(ls.value, ls.grad, theta, 0.2, num_restarts=1, num_steps=0)
    np.testing.assert_array_equal(res.epsilon, ascent_direction(ls.grad(theta), 0.2))
    # at a stationary point eps-hat(0) = 0 (samlib.ascent's rule), so the start is eps = 0
    res0 = sharpness_pga(ls.value, ls.grad, np.zeros(2), 0.2, num_restarts=1, num_steps=0)
    assert res0.value == 0.0 and not res0.epsilon.any()
