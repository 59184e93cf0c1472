"""samlib.landscapes: numpy derivatives agree with sympy and with finite differences; stated facts hold."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize_scalar

from samlib import landscapes as L

CATALOG = L.catalog()


def _sympy_eval(ls: L.Landscape, x: np.ndarray):
    expr, syms = ls.sympy_expr()
    subs = dict(zip(syms, map(sp.Float, x)))
    val = float(expr.evalf(subs=subs))
    grad = np.array([float(sp.diff(expr, s).evalf(subs=subs)) for s in syms])
    hess = np.array([[float(sp.diff(expr, s, t).evalf(subs=subs)) for t in syms] for s in syms])
    return val, grad, hess


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_numpy_derivatives_match_sympy_at_random_points(name):
    ls = CATALOG[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for x in rng.uniform(-1.5, 1.5, size=(3, ls.dim)):
        val, grad, hess = _sympy_eval(ls, x)
        assert ls.value(x) == pytest.approx(val, rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(ls.grad(x), grad, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ls.hessian(x), hess, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_derivatives_match_finite_differences(name):
    ls = CATALOG[name]
    x = np.random.default_rng(7).uniform(-1.2, 1.2, size=ls.dim)
    h = 1e-5
    eye = np.eye(ls.dim)
    fd_grad = np.array([(ls.value(x + h * e) - ls.value(x - h * e)) / (2 * h) for e in eye])
    fd_hess = np.array([(ls.grad(x + h * e) - ls.grad(x - h * e)) / (2 * h) for e in eye])
    scale = 1 + np.max(np.abs(ls.hessian(x)))
    np.testing.assert_allclose(ls.grad(x), fd_grad, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(ls.hessian(x), fd_hess, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(ls.hessian(x), ls.hessian(x).T, atol=1e-12 * scale)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_known_minima_are_stationary_with_psd_hessian_and_batches_broadcast(name):
    ls = CATALOG[name]
    assert ls.minima, "every catalog landscape lists a minimiser"
    for m in ls.minima:
        assert ls.value(m) == pytest.approx(0.0, abs=1e-12)
        np.testing.assert_allclose(ls.grad(m), 0.0, atol=1e-12)
        assert np.linalg.eigvalsh(ls.hessian(m))[0] >= -1e-12
    X = np.random.default_rng(0).normal(size=(4, 3, ls.dim))
    assert ls.value(X).shape == (4, 3) and ls.grad(X).shape == (4, 3, ls.dim)
    assert ls.hessian(X).shape == (4, 3, ls.dim, ls.dim)
    np.testing.assert_allclose(ls.grad(X)[2, 1], ls.grad(X[2, 1]))
    np.testing.assert_allclose(ls.hessian(X)[3, 0], ls.hessian(X[3, 0]))
    assert ls(X[0, 0]) == ls.value(X[0, 0])


def test_review_1d_curvatures_and_parameter():
    ls = L.review_1d()
    assert ls.params["c"] == 1e-4
    assert ls.hessian(0.0)[0, 0] == pytest.approx(2 / 1e-4)  # sharp minimum
    assert ls.hessian(1.0)[0, 0] == pytest.approx(2 / (1 + 1e-4))  # flat minimum
    expr, (x,) = ls.sympy_expr()
    assert sp.simplify(expr - x**2 * (x - 1) ** 2 / (x**2 + sp.Rational(1, 10000))) == 0
    assert L.review_1d(c=0.5).hessian(0.0)[0, 0] == pytest.approx(4.0)


def test_review_2d_hessian_on_the_line_of_minima():
    ls = L.review_2d()
    for x in (-1.0, 0.3, 1.0, 2.5):
        np.testing.assert_allclose(ls.hessian([x, 0.0]), np.diag([0.0, 2 * (x - 1) ** 2]))
        assert ls.value([x, 0.0]) == 0.0 and ls.value([1.0, x]) == 0.0


def test_quadratic_is_half_theta_A_theta():
    A = np.array([[2.0, -1.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 0.5, -1.0]])
    ls = L.quadratic(A)
    x = np.array([0.3, -1.2, 2.0])
    assert ls.value(x) == pytest.approx(0.5 * x @ A @ x)
    np.testing.assert_allclose(ls.grad(x), A @ x)
    np.testing.assert_array_equal(ls.hessian(x), A)
    assert ls.minima == ()  # indefinite A: no minimiser
    expr, syms = ls.sympy_expr()
    assert float(expr.subs(dict(zip(syms, x)))) == pytest.approx(ls.value(x))


def test_double_well_minima_have_different_sharpness():
    ls = L.double_well(a=1.0)
    np.testing.assert_allclose(ls.hessian([1.0, 0.0]), np.diag([8.0, math.e]))
    np.testing.assert_allclose(ls.hessian([-1.0, 0.0]), np.diag([8.0, 1 / math.e]))


def test_rosenbrock_minimum():
    ls = L.rosenbrock(a=2.0, b=10.0)
    assert ls.value([2.0, 4.0]) == 0.0
    np.testing.assert_allclose(ls.grad([2.0, 4.0]), 0.0)


def test_wen_ma_li_flattest_points_for_trace_and_lambda_max_differ():
    ls = L.wen_ma_li_4d()
    on_manifold = lambda x1: np.array([x1, 0.0, 0.0, 0.0])  # noqa: E731
    trace = minimize_scalar(lambda x1: np.trace(ls.hessian(on_manifold(x1))), bounds=(-2, 2), method="bounded",
                            options={"xatol": 1e-10})
    lmax = minimize_scalar(lambda x1: np.linalg.eigvalsh(ls.hessian(on_manifold(x1)))[-1], bounds=(-2, 2),
                           method="bounded", options={"xatol": 1e-10})
    assert trace.x == pytest.approx(ls.params["argmin_trace_x1"], abs=1e-6)
    assert trace.fun == pytest.approx(28 / 3, rel=1e-9)
    assert lmax.x == pytest.approx(ls.params["argmin_lambda_max_x1"], abs=1e-6)
    assert lmax.fun == pytest.approx(50 - 32 * math.sqrt(2), rel=1e-8)
    # the plane x3 = x4 = 0 is made of minima with Hessian diag(0, 0, 2 F1, 2 F2)
    x = np.array([0.4, -0.7, 0.0, 0.0])
    F1, F2 = 1 + (0.4 - 1) ** 2 + 0.49, 1 + 2 * 1.4**2 + 0.49
    np.testing.assert_allclose(ls.hessian(x), np.diag([0, 0, 2 * F1, 2 * F2]), atol=1e-12)


def test_wen_ma_li_custom_factors():
    ls = L.wen_ma_li_4d(F1=lambda a, b: 2 + sp.cos(a), F2=lambda a, b: 1 + b**2)
    x = np.array([0.5, 2.0, 1.0, 1.0])
    assert ls.value(x) == pytest.approx(2 + math.cos(0.5) + 5.0)
