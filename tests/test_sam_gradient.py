"""samlib.studies.sam_gradient: the sympy-derived SAM-objective gradient, eq. 5 pieces, slopes, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib import landscapes
from samlib.ascent import ascent_direction
from samlib.studies.sam_gradient import (
    discrepancy_for_spectrum,
    dropped_term_closed_form,
    eq5_terms,
    loglog_slope,
    perturbed_loss_gradients,
)


@pytest.mark.parametrize("name", ["review_2d", "rosenbrock", "double_well", "sines_quadratic"])
def test_sympy_full_gradient_matches_jacobian_formula(name):
    ls = landscapes.catalog()[name]
    pg = perturbed_loss_gradients(*ls.sympy_expr())
    theta = np.array([0.3, -0.6])
    for rho in (1e-3, 0.05, 0.3):
        np.testing.assert_allclose(pg.dropped(theta, rho),
                                   dropped_term_closed_form(ls.grad, ls.hessian, theta, rho), atol=1e-10)


def test_full_gradient_against_finite_differences():
    ls = landscapes.rosenbrock()
    pg = perturbed_loss_gradients(*ls.sympy_expr())
    theta, rho, h = np.array([-0.4, 0.9]), 0.02, 1e-6

    def perturbed(t):
        g = ls.grad(t)
        return ls.value(t + rho * g / np.linalg.norm(g))

    fd = np.array([(perturbed(theta + h * e) - perturbed(theta - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(pg.full(theta, rho), fd, rtol=1e-6)


def test_sam_part_is_gradient_at_perturbed_point():
    ls = landscapes.review_2d()
    pg = perturbed_loss_gradients(*ls.sympy_expr())
    theta, rho = np.array([0.2, 0.7]), 0.1
    g = ls.grad(theta)
    np.testing.assert_allclose(pg.sam(theta, rho), ls.grad(theta + rho * g / np.linalg.norm(g)), rtol=1e-12)


def test_dropped_term_is_second_order_in_rho():
    ls = landscapes.double_well()
    pg = perturbed_loss_gradients(*ls.sympy_expr())
    rhos = np.logspace(-5, -2, 6)
    sizes = [np.linalg.norm(pg.dropped(np.array([0.4, 0.5]), r)) for r in rhos]
    assert abs(loglog_slope(rhos, sizes) - 2.0) < 0.05


def test_eq5_exact_on_quadratics_and_second_order_otherwise():
    q = landscapes.quadratic(np.array([[2.0, 0.5], [0.5, 1.0]]))
    out = eq5_terms(q.grad, q.hessian, np.array([1.0, -1.0]), [1e-3, 1e-1, 1.0])
    assert np.max(out["residual_norm"]) < 1e-12
    ls = landscapes.sines_quadratic()
    rhos = np.logspace(-4, -1, 5)
    out = eq5_terms(ls.grad, ls.hessian, np.array([0.3, -0.2]), rhos)
    assert abs(loglog_slope(rhos, out["residual_norm"]) - 2.0) < 0.05


@given(st.floats(0.1, 10.0), st.lists(st.floats(-5, 5), min_size=3, max_size=3).filter(
    lambda v: np.linalg.norm(v) > 1e-3))
@settings(max_examples=40, deadline=None)
def test_isotropic_hessian_gives_parallel_discrepancy(lam, g):
    g = np.array(g)
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    d = discrepancy_for_spectrum(np.full(3, lam), g, 0.1, basis=Q)
    np.testing.assert_allclose(d, 0.1 * lam * g / np.linalg.norm(g), rtol=1e-10, atol=1e-12)


def test_spectrum_scaling_is_linear():
    g = np.array([1.0, 2.0, -0.5])
    lam = np.array([1.0, 3.0, 7.0])
    np.testing.assert_allclose(discrepancy_for_spectrum(5 * lam, g, 0.2), 5 * discrepancy_for_spectrum(lam, g, 0.2))


def test_loglog_slope_recovers_power():
    x = np.logspace(-3, 0, 10)
    assert abs(loglog_slope(x, 3 * x**1.5) - 1.5) < 1e-12


def test_discrepancy_rows_use_the_books_ascent_direction_and_a_zero_row_gives_zero():
    # eps_hat(0) = 0 (samlib.ascent): a zero gradient row gives a zero discrepancy, never nan or an error
    lam = np.array([1.0, 3.0, 7.0])
    grads = np.array([[1.0, 2.0, -0.5], [0.0, 0.0, 0.0], [1e-200, -3e-200, 0.0], [4e150, 0.0, -3e150]])
    out = discrepancy_for_spectrum(lam, grads, 0.2)
    for g, row in zip(grads, out):
        np.testing.assert_allclose(row, lam * ascent_direction(g, 0.2), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(discrepancy_for_spectrum(lam, np.zeros(3), 0.2), 0.0)
    assert discrepancy_for_spectrum(lam, np.zeros((0, 3)), 0.2).shape == (0, 3)


def test_eq5_and_dropped_term_perturb_by_the_books_ascent_direction():
    ls = landscapes.rosenbrock()
    theta = np.array([-0.4, 0.9])
    out = eq5_terms(ls.grad, ls.hessian, theta, [0.01, 0.1])
    for rho, lin in zip([0.01, 0.1], out["linear"]):
        np.testing.assert_allclose(lin, ls.hessian(theta) @ ascent_direction(ls.grad(theta), rho), rtol=1e-14)
    # a gradient far below sqrt(tiny): its squared norm underflows, the ascent direction does not
    tiny = landscapes.quadratic(np.diag([1.0, 2.0]))
    th = np.array([3e-170, -4e-170])
    np.testing.assert_allclose(eq5_terms(tiny.grad, tiny.hessian, th, [0.5])["linear"][0],
                               tiny.hessian(th) @ ascent_direction(tiny.grad(th), 0.5), rtol=1e-14)
    assert np.all(np.isfinite(dropped_term_closed_form(tiny.grad, tiny.hessian, np.array([3.0, -4.0]), 0.1)))


BAD = [
    (lambda: perturbed_loss_gradients(sp.Symbol("x") * sp.Symbol("z"), (sp.Symbol("x"),)), "free symbols"),
    (lambda: perturbed_loss_gradients(sp.Integer(1), ()), "empty"),
    (lambda: perturbed_loss_gradients(*landscapes.review_2d().sympy_expr()).full(np.ones(3), 0.1), "shape"),
    (lambda: perturbed_loss_gradients(*landscapes.review_2d().sympy_expr()).full(np.ones(2), -0.1), "rho"),
    (lambda: dropped_term_closed_form(lambda t: 0 * t, lambda t: np.eye(2), np.ones(2), 0.1), "vanishes"),
    (lambda: eq5_terms(lambda t: t, lambda t: np.eye(2), np.ones(2), [0.1, -0.1]), "rhos"),
    (lambda: eq5_terms(lambda t: 0 * t, lambda t: np.eye(2), np.ones(2), [0.1]), "vanishes"),
    (lambda: discrepancy_for_spectrum([1.0, 2.0], np.ones((2, 2, 2)), 0.1), "shape"),
    (lambda: discrepancy_for_spectrum([1.0, 2.0], [1.0, 0.0], 0.1, basis=[[1, 1], [0, 1]]), "orthogonal"),
    (lambda: discrepancy_for_spectrum([1.0, 2.0], [1.0, 0.0, 1.0], 0.1), "shape"),
    (lambda: discrepancy_for_spectrum([1.0, 2.0], [1.0, 0.0], np.nan), "rho"),
    (lambda: loglog_slope([1.0, 2.0], [1.0, -1.0]), "> 0"),
    (lambda: loglog_slope([1.0], [1.0]), "two distinct x"),
]


@pytest.mark.parametrize("call,match", BAD)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_update_against_objectives_penalty_exact_on_quadratic_and_danskin_far_from_minimum():
    import numpy as np

    from samlib import landscapes
    from samlib.studies.sam_gradient import update_against_objectives

    q = landscapes.quadratic(np.diag([1.0, 10.0]))
    u = update_against_objectives(q, np.array([0.3, 0.01]), 0.01)
    np.testing.assert_allclose(u["sam"], u["penalty"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(u["eps_star"]), 0.01, rtol=1e-9)
    # far from the minimum (||g|| >> rho ||H||) the exact maximiser is close to rho g/||g||
    far = update_against_objectives(q, np.array([30.0, 1.0]), 1e-3)
    assert np.linalg.norm(far["sam"] - far["danskin"]) / np.linalg.norm(far["danskin"]) < 1e-4
    dw = landscapes.catalog()["double_well"]
    g = update_against_objectives(dw, np.array([0.4, 0.5]), 1e-3)
    assert np.linalg.norm(g["sam"] - g["penalty"]) < 1e-4
    import pytest
    with pytest.raises(ValueError, match="vanishes"):
        update_against_objectives(q, np.zeros(2), 0.1)
