"""Part II, questions 1-2: USAM, several ascent steps, smoothed and worst-case losses, and the studies."""
import math

import numpy as np
import pytest

from samlib.ascent import ascent_direction, multistep_perturbation, project_ball, sam_step, usam_step
from samlib.landscapes import double_well, quadratic
from samlib.smoothing import (
    ball_max_1d,
    disk_max,
    gaussian_smoothed,
    minimax_minimiser_1d,
    minimax_minimiser_2d,
    smoothed_minimiser,
)
from samlib.stats import loglog_slope
from samlib.studies.dynamics import quadratic_two_cycle_amplitude
from samlib.studies.oq_objective import (
    penalty_gap,
    scalar_linear_net,
    three_points_1d,
    three_points_2d,
    two_wells_1d,
)
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


def test_disk_max_on_bowls_boundary_and_interior():
    bowl = lambda t: (t**2).sum(-1)  # noqa: E731
    # the worst point of |theta|^2 over the disk is on the circle, along theta: (|theta| + rho)^2
    assert math.isclose(disk_max(bowl, np.array([0.6, -0.8]), 0.5), 2.25, rel_tol=1e-12)
    # an off-grid worst angle is found by the refinement (angle 0.3 rad, between grid angles of 8 points)
    assert math.isclose(disk_max(bowl, np.array([math.cos(0.3), math.sin(0.3)]), 0.5, angles=8), 2.25,
                        rel_tol=1e-10)
    # a cap: the maximum is inside the disk, at its centre
    assert disk_max(lambda t: -bowl(t), np.zeros(2), 0.5) == 0.0
    assert disk_max(bowl, np.array([1.0, 0.0]), 0.0) == 1.0


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(theta=np.zeros(3)), ValueError, "theta"),
        (dict(theta=np.array([np.nan, 0.0])), ValueError, "theta"),
        (dict(rho=-0.1), ValueError, "rho"),
        (dict(angles=4), ValueError, "angles"),
        (dict(rings=0), ValueError, "rings"),
        (dict(f=3.0), TypeError, "f"),
    ],
)
def test_disk_max_validates(kw, exc, match):
    args = dict(f=lambda t: (t**2).sum(-1), theta=np.zeros(2), rho=0.1) | kw
    with pytest.raises(exc, match=match):
        disk_max(**args)


@pytest.mark.parametrize("c, rho", [(1.0, 0.1), (2.0, 0.2)])
def test_minimax_on_the_scalar_linear_net_is_balanced_with_ab_c_minus_half_rho_squared(c, rho):
    # closed form: at a = b = s the worst perturbation is +-(1, 1) rho/sqrt(2); equalising the two gives
    # s^2 = c - rho^2/2, and the worst loss is then 2 rho^2 (c - rho^2/2)
    fn = scalar_linear_net(c)
    grid = np.stack(np.meshgrid(np.linspace(0.5, 2.0, 7), np.linspace(0.5, 2.0, 7)), -1).reshape(-1, 2)
    x, v = minimax_minimiser_2d(fn.value, grid, rho)
    assert abs(x[0] * x[1] - (c - rho**2 / 2)) < 1e-9
    assert abs(x[0] - x[1]) < 1e-5
    assert math.isclose(v, 2 * rho**2 * (c - rho**2 / 2), rel_tol=1e-9)
    with pytest.raises(ValueError, match="candidates"):
        minimax_minimiser_2d(fn.value, np.zeros((3, 3)), rho)
    with pytest.raises(ValueError, match="max_restarts"):
        minimax_minimiser_2d(fn.value, grid, rho, max_restarts=0)


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


def test_three_points_on_the_scalar_linear_net():
    # smoothed: E(ab - 1 + sigma(a z2 + b z1) + sigma^2 z1 z2)^2 = (ab - 1)^2 + sigma^2 (a^2 + b^2) + sigma^4,
    # minimised at a = b, ab = 1 - sigma^2; SAM ends balanced, inside the valley
    res = three_points_2d(scalar_linear_net(), 0.1, lr=0.05, box=(0.3, 2.5, 0.3, 2.5), grid=7, num_starts=4,
                          num_steps=20_000)
    sm, mm = res["smoothed"], res["minimax"]
    assert abs(sm[0] * sm[1] - (1 - res["sigma"] ** 2)) < 1e-8 and abs(sm[0] - sm[1]) < 1e-6
    assert abs(mm[0] * mm[1] - (1 - 0.1**2 / 2)) < 1e-9
    c = res["sam_centres"]
    assert res["sam_diverged"] == 0.0 and len(c) == 16
    assert np.all(np.abs(c[:, 0] - c[:, 1]) < 1e-6) and np.all(np.abs(c.prod(1) - 1) < 0.05)
    with pytest.raises(ValueError, match="two parameters"):
        three_points_2d(two_wells_1d(), 0.1, lr=0.05, box=(0, 1, 0, 1))
    with pytest.raises(ValueError, match="box"):
        three_points_2d(scalar_linear_net(), 0.1, lr=0.05, box=(1.0, 0.0, 0.0, 1.0))
