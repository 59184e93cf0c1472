"""samlib.scale: the two-layer linear model, its rescaling symmetry, and adaptive sharpness."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.scale import TwoLayerLinear, adaptive_lambda_max, adaptive_sharpness
from samlib.sharpness import sharpness_pga


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(12, 2))
    model = TwoLayerLinear(X, Y, hidden=4)
    theta = rng.normal(size=model.num_params)
    return model, theta


def test_gradient_matches_central_differences(setup):
    model, theta = setup
    h = 1e-6
    fd = np.array([(model.loss(theta + h * e) - model.loss(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    np.testing.assert_allclose(model.grad(theta), fd, rtol=1e-6, atol=1e-8)


def test_hessian_is_symmetric_and_is_the_jacobian_of_the_gradient(setup):
    model, theta = setup
    H = model.hessian(theta)
    h = 1e-6
    fd = np.array([(model.grad(theta + h * e) - model.grad(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0.05, max_value=20.0))
def test_rescaling_keeps_the_function_and_the_adaptive_curvature(setup, alpha):
    model, theta = setup
    t2 = model.rescale(theta, alpha)
    assert model.loss(t2) == pytest.approx(model.loss(theta), rel=1e-10)
    a1 = adaptive_lambda_max(model.hessian(theta), theta)
    a2 = adaptive_lambda_max(model.hessian(t2), t2)
    assert a2 == pytest.approx(a1, rel=1e-8)


def test_rescaling_changes_plain_lambda_max(setup):
    model, theta = setup
    l1 = np.linalg.eigvalsh(model.hessian(theta))[-1]
    l2 = np.linalg.eigvalsh(model.hessian(model.rescale(theta, 10.0)))[-1]
    assert l2 > 5 * l1  # the W2 block of the Hessian grows like alpha^2


def test_per_unit_rescaling_keeps_the_function(setup):
    model, theta = setup
    alpha = np.array([0.5, 2.0, 3.0, 0.1])
    assert model.loss(model.rescale(theta, alpha)) == pytest.approx(model.loss(theta), rel=1e-10)


def test_adaptive_sharpness_is_invariant_and_plain_is_not(setup):
    from samlib.sharpness import sharpness_pga

    model, theta = setup
    t2 = model.rescale(theta, 7.0)
    rho = 0.05
    ka1, _ = adaptive_sharpness(model.loss, model.grad, theta, rho)
    ka2, _ = adaptive_sharpness(model.loss, model.grad, t2, rho)
    assert ka1 > 0
    assert ka2 == pytest.approx(ka1, rel=1e-6)
    k1 = sharpness_pga(model.loss, model.grad, theta, rho)[0]
    k2 = sharpness_pga(model.loss, model.grad, t2, rho)[0]
    assert abs(k2 - k1) > 0.1 * k1


def test_adaptive_sharpness_of_a_quadratic_is_a_rescaled_trust_region_problem():
    from samlib.sharpness import sharpness_quadratic

    rng = np.random.default_rng(1)
    M = rng.normal(size=(4, 4))
    A = M + M.T
    theta = rng.normal(size=4)
    rho = 0.3
    kappa, eps = adaptive_sharpness(lambda t: 0.5 * t @ A @ t, lambda t: A @ t, theta, rho)
    T = np.abs(theta)
    exact = sharpness_quadratic(T[:, None] * A * T[None, :], T * (A @ theta), rho)[0]
    assert kappa <= exact + 1e-9
    assert kappa == pytest.approx(exact, rel=1e-5)
    assert np.linalg.norm(eps / T) <= rho * (1 + 1e-9)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((4, 1)), 2), "same number of rows"),
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((3, 1)), 0), "hidden"),
        (lambda: TwoLayerLinear(np.ones((0, 2)), np.ones((0, 1)), 1), "at least one"),
        (lambda: TwoLayerLinear(np.ones(3), np.ones((3, 1)), 1), "dimension"),
        (lambda: TwoLayerLinear(np.full((3, 2), np.nan), np.ones((3, 1)), 1), "non-finite"),
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((3, 1)), 2).loss(np.ones(5)), "6 entries"),
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((3, 1)), 2).rescale(np.ones(6), -1.0), "alpha"),
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((3, 1)), 2).rescale(np.ones(6), [1.0, 2.0, 3.0]), "alpha"),
        (lambda: TwoLayerLinear(np.ones((3, 2)), np.ones((3, 1)), 2).rescale(np.ones(6), [1.0, 0.0]), "alpha"),
        (lambda: adaptive_sharpness(np.sum, np.ones_like, np.ones(2), -0.1), "rho"),
        (lambda: adaptive_sharpness(np.sum, np.ones_like, np.ones(2), 0.1, asam_offset=-1.0), "asam_offset"),
        (lambda: adaptive_lambda_max(np.eye(2), np.ones(2), asam_offset=np.nan), "asam_offset"),
        (lambda: adaptive_sharpness(np.sum, np.ones_like, np.array([1.0, np.inf]), 0.1), "theta"),
        (lambda: adaptive_lambda_max(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2)), "symmetric"),
        (lambda: adaptive_lambda_max(np.eye(3), np.ones(2)), "theta has 2"),
    ],
)
def test_bad_inputs_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_adaptive_sharpness_is_sharpness_pga_in_rescaled_coordinates(setup):
    # kappa^A(theta) = kappa_0 of delta -> f(theta + T delta), with eps = T delta (T = |theta| + asam_offset)
    model, theta = setup
    T = np.abs(theta) + 0.1
    kappa, eps = adaptive_sharpness(model.loss, model.grad, theta, 0.05, asam_offset=0.1, num_restarts=2, num_steps=30)
    ref = sharpness_pga(lambda d: model.loss(theta + T * d), lambda d: T * model.grad(theta + T * d),
                        np.zeros_like(theta), 0.05, num_restarts=2, num_steps=30)
    assert kappa == ref.value
    np.testing.assert_array_equal(eps, T * ref.epsilon)


def test_the_old_name_of_the_asam_offset_is_refused_with_the_new_one():
    # adaptive_sharpness hands unknown keywords on to sharpness_pga, whose error would not mention asam_offset
    with pytest.raises(TypeError, match="asam_offset"):
        adaptive_sharpness(np.sum, np.ones_like, np.ones(2), 0.1, eta=0.1)
    with pytest.raises(TypeError, match="eta"):
        adaptive_lambda_max(np.eye(2), np.ones(2), eta=0.1)


def test_asam_offset_enters_as_t_equal_abs_theta_plus_offset():
    # T = diag(|theta| + c): at theta = 0 only the offset remains, lambda_max(c^2 H)
    H = np.diag([3.0, 1.0])
    assert adaptive_lambda_max(H, np.zeros(2), asam_offset=0.5) == pytest.approx(0.25 * 3.0)
