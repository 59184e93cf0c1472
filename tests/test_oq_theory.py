"""Part II, questions 1-2: USAM, several ascent steps, smoothed and worst-case losses, and the studies."""
import math

import numpy as np
import pytest

from samlib.ascent import ascent_direction, multistep_perturbation, project_ball, sam_step, usam_step
from samlib.landscapes import double_well, quadratic
from samlib.smoothing import ball_max_1d, gaussian_smoothed, minimax_minimiser_1d, smoothed_minimiser
from samlib.stats import loglog_slope
from samlib.studies.dynamics import quadratic_two_cycle_amplitude
from samlib.studies.oq_objective import penalty_gap, three_points_1d, two_wells_1d
from samlib.studies.oq_stability import constant_step_floor, run_usam_batch, usam_sam_grid


# ---------------------------------------------------------------- usam_step
def test_usam_step_formula_on_quadratic():
    A = np.diag([1.0, 3.0])
    x = np.array([0.7, -0.2])
    lr, rho = 0.1, 0.4
    expected = (np.eye(2) - lr * A - lr * rho * A @ A) @ x
    assert np.allclose(usam_step(x, lambda t: A @ t, lr, rho), expected, rtol=0, atol=1e-15)


def test_usam_zero_gradient_is_gd_and_finite():
    out = usam_step(np.zeros(3), lambda t: 0.0 * t, 0.1, 1.0)
    assert np.array_equal(out, np.zeros(3))


@pytest.mark.parametrize("kw, exc, name", [
    (dict(lr=-1.0, rho=0.1), ValueError, "lr"), (dict(lr=0.1, rho=-1.0), ValueError, "rho"),
    (dict(lr="a", rho=0.1), TypeError, "lr"), (dict(lr=0.1, rho=None), TypeError, "rho"),
])
def test_usam_step_validates(kw, exc, name):
    with pytest.raises(exc, match=name):
        usam_step(np.ones(2), lambda t: t, **kw)


def test_usam_step_needs_callable():
    with pytest.raises(TypeError, match="grad_f"):
        usam_step(np.ones(2), "not a function", 0.1, 0.1)


@pytest.mark.parametrize("lr", [0.3, 0.45, 0.55, 0.8])
def test_usam_threshold_on_quadratic(lr):
    lam, rho = 2.0, 0.5  # threshold lr * lam * (1 + rho lam) = 2  <=>  lr = 0.5
    x = np.array([1.0])
    for _ in range(200):
        x = usam_step(x, lambda t: lam * t, lr, rho)
    assert (abs(x[0]) > 1.0) == (lr * lam * (1 + rho * lam) > 2)


def test_run_usam_batch_matches_usam_step():
    A = np.diag([1.0, 5.0])
    starts = np.array([[1.0, -1.0], [0.3, 0.2], [0.0, 0.0]])
    lrs, rhos = np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.5, 1.0])
    final, div = run_usam_batch(lambda t: t @ A, starts, lrs, rhos, 7)
    for i in range(3):
        x = starts[i]
        for _ in range(7):
            x = usam_step(x, lambda t: A @ t, lrs[i], rhos[i])
        assert np.allclose(final[i], x, rtol=1e-13, atol=1e-15)
    assert not div.any()


# ---------------------------------------------------------------- several ascent steps
def test_project_ball():
    assert np.allclose(project_ball(np.array([3.0, 4.0]), 1.0), [0.6, 0.8])
    assert np.array_equal(project_ball(np.zeros(2), 1.0), np.zeros(2))
    with pytest.raises(ValueError, match="rho"):
        project_ball(np.ones(2), -1.0)


def test_one_ascent_step_is_sam():
    fn = double_well(2.0)
    theta = np.array([0.3, 0.4])
    eps = multistep_perturbation(theta, fn.grad, 0.2, 1)
    assert np.allclose(eps, ascent_direction(fn.grad(theta), 0.2), rtol=0, atol=1e-15)


def test_more_ascent_steps_stay_in_ball_and_ascend_further():
    fn = double_well(2.0)
    theta = np.array([0.3, 0.4])
    rho = 0.5
    vals = []
    for k in (1, 2, 5, 20):
        eps = multistep_perturbation(theta, fn.grad, rho, k)
        assert np.linalg.norm(eps) <= rho * (1 + 1e-12)
        vals.append(fn.value(theta + eps))
    assert vals[-1] >= vals[0] - 1e-12


def test_multistep_zero_gradient_and_validation():
    assert np.array_equal(multistep_perturbation(np.zeros(2), lambda t: 0 * t, 1.0, 3), np.zeros(2))
    with pytest.raises(ValueError, match="num_ascent"):
        multistep_perturbation(np.zeros(2), lambda t: t, 1.0, 0)
    with pytest.raises((TypeError, ValueError), match="num_ascent"):
        multistep_perturbation(np.zeros(2), lambda t: t, 1.0, 1.5)
    with pytest.raises(ValueError, match="step"):
        multistep_perturbation(np.zeros(2), lambda t: t, 1.0, 2, step=0.0)


# ---------------------------------------------------------------- smoothing
def test_gaussian_smoothed_exact_on_polynomials():
    f = lambda x: (x**4).sum(-1)  # noqa: E731  E[(t + s z)^4] = t^4 + 6 t^2 s^2 + 3 s^4
    t, s = 0.7, 0.3
    assert math.isclose(gaussian_smoothed(f, np.array([t]), s), t**4 + 6 * t**2 * s**2 + 3 * s**4,
                        rel_tol=1e-13)
    two = gaussian_smoothed(lambda x: (x**2).sum(-1), np.array([[1.0, 2.0], [0.0, 0.0]]), 0.5)
    assert np.allclose(two, [5.5, 0.5], rtol=1e-13)


def test_gaussian_smoothed_sigma_zero_and_validation():
    f = lambda x: (x**2).sum(-1)  # noqa: E731
    assert gaussian_smoothed(f, np.array([2.0]), 0.0) == 4.0
    with pytest.raises(ValueError, match="sigma"):
        gaussian_smoothed(f, np.array([2.0]), -0.1)
    with pytest.raises(ValueError, match="theta"):
        gaussian_smoothed(f, np.ones(4), 0.1)
    with pytest.raises(TypeError, match="f"):
        gaussian_smoothed(None, np.ones(1), 0.1)


def test_smoothed_minimiser_of_quadratic_is_its_minimum():
    fn = quadratic(np.diag([1.0, 2.0]))
    x, v = smoothed_minimiser(fn.value, 0.3, np.array([[0.5, 0.5], [-0.2, 0.1]]))
    assert np.allclose(x, 0.0, atol=1e-6) and math.isclose(v, 0.5 * 0.09 * 3, rel_tol=1e-6)


def test_ball_max_and_minimax():
    assert np.array_equal(ball_max_1d(np.array([0.0, 1.0, 0.0, 0.0, 2.0]), 1.0, 1.0), [1, 1, 1, 2, 2])
    assert np.array_equal(ball_max_1d(np.array([0.0, 1.0]), 1.0, 0.0), [0.0, 1.0])
    with pytest.raises(ValueError, match="spacing"):
        ball_max_1d(np.zeros(3), 0.0, 1.0)
    # |x - 0.2| has its worst-case minimiser at 0.2 for any rho
    x, v = minimax_minimiser_1d(lambda p: np.abs(p[:, 0] - 0.2), -1.0, 1.0, 0.3, num=20001)
    assert abs(x - 0.2) < 1e-4 and abs(v - 0.3) < 1e-4
    with pytest.raises(ValueError, match="hi - lo"):
        minimax_minimiser_1d(lambda p: p[:, 0], 0.0, 0.5, 0.3)


# ---------------------------------------------------------------- studies
def test_penalty_gap_is_zero_on_quadratic_and_second_order_elsewhere():
    gap, corr = penalty_gap(quadratic(np.diag([1.0, 4.0])), np.array([0.3, -0.2]), np.array([1e-3, 1e-2]))
    assert np.all(gap < 1e-12) and np.all(corr > 0)
    rhos = np.logspace(-4, -2, 5)
    gap, _ = penalty_gap(double_well(2.0), np.array([0.4, 0.5]), rhos)
    assert abs(loglog_slope(rhos, gap) - 2) < 0.05


def test_penalty_gap_zero_gradient_is_defined():
    gap, corr = penalty_gap(quadratic(np.eye(2)), np.zeros(2), np.array([0.1]))
    assert np.all(np.isfinite(gap)) and gap[0] == 0.0 and corr[0] == 0.0


def test_three_points_on_two_wells():
    fn = two_wells_1d()
    res = three_points_1d(fn, 0.2, lr=0.01, lo=-1.0, hi=2.0, num_starts=21, num_steps=3000, grid=30001)
    assert res["preferred"][0] == 1  # the worst loss over a wide ball prefers the flat well
    assert np.isclose(res["sam_fractions"].sum(), 1.0)


def test_usam_sam_grid_matches_theory():
    g = usam_sam_grid(2.0, np.linspace(0.1, 1.9, 10), np.array([0.0, 0.5, 2.0]), num_steps=400)
    band = np.abs(g["lr"] * 2.0 * (1 + g["rho"] * 2.0) - 2) > 0.05
    assert np.array_equal(g["predicted"][band], g["usam_diverged"][band])
    assert not g["sam_diverged"].any()


def test_constant_step_floor_on_quadratic_is_the_two_cycle():
    lam, lr = 4.0, 0.3
    rhos = np.array([0.01, 0.1])
    out = constant_step_floor(lambda t: lam * t, np.array([1.0]), lr, rhos, 2000)
    a = quadratic_two_cycle_amplitude(lr, rhos, lam)
    assert np.allclose(out, (lam * a) ** 2, rtol=1e-9)
