"""samlib.studies.dynamics: batched SAM/GD against the one-run reference, two-cycles, fixed points, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib import landscapes
from samlib.ascent import ascent_direction, run_trajectory
from samlib.studies.dynamics import (
    batch_ascent_direction,
    classify_endpoints,
    quadratic_two_cycle_amplitude,
    run_batch,
    sam_fixed_points_1d,
    sweep_endpoints,
)


@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3), st.floats(0, 10))
@settings(max_examples=50, deadline=None)
def test_batch_ascent_matches_ascent_direction(g, rho):
    g = np.array(g)
    got = batch_ascent_direction(g[None, :], rho)[0]
    np.testing.assert_allclose(got, ascent_direction(g, rho), rtol=1e-12, atol=1e-12)


def test_batch_kernel_equals_ascent_direction_row_by_row_at_every_scale():
    # the vectorised kernel run_batch uses, against the book's one ascent direction, including a zero row
    # (zero, never nan) and rows whose squared norm would underflow or overflow
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=4) * 10.0 ** e for e in (-300, -170, -20, 0, 20, 170, 300)]
    grads = np.array(rows + [np.zeros(4), [0.0, -2.0, 0.0, 0.0]])
    rho = np.linspace(0.0, 2.0, len(grads))
    eps = batch_ascent_direction(grads, rho)
    assert np.all(np.isfinite(eps))
    for g, r, e in zip(grads, rho, eps):
        np.testing.assert_allclose(e, ascent_direction(g, r), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(eps[-2], 0.0)


def test_zero_gradient_row_gives_zero_perturbation():
    eps = batch_ascent_direction(np.array([[0.0, 0.0], [3.0, 4.0]]), 0.5)
    np.testing.assert_array_equal(eps[0], [0.0, 0.0])
    np.testing.assert_allclose(eps[1], [0.3, 0.4], rtol=1e-15)


@pytest.mark.parametrize("name,rho", [("review_2d", 0.05), ("rosenbrock", 0.01), ("review_1d", 0.3)])
def test_run_batch_matches_run_trajectory(name, rho):
    ls = landscapes.catalog()[name]
    rng = np.random.default_rng(0)
    starts = rng.uniform(-1.0, 1.5, size=(5, ls.dim))
    eta = 1e-3 if name != "review_1d" else 1e-5
    batch = run_batch(ls.grad, starts, eta, rho, 50)
    for i, x0 in enumerate(starts):
        ref = run_trajectory(x0, ls.grad, eta, rho, 50).iterates
        np.testing.assert_allclose(batch.final[i], ref[-1], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.previous[i], ref[-2], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batch.before_previous[i], ref[-3], rtol=1e-9, atol=1e-12)


def test_rho_zero_is_gradient_descent_exactly():
    ls = landscapes.quadratic(np.diag([1.0, 3.0]))
    x0 = np.array([[1.0, -2.0]])
    out = run_batch(ls.grad, x0, 0.1, 0.0, 10)
    x = x0[0].copy()
    for _ in range(10):
        x = x - 0.1 * ls.grad(x)
    np.testing.assert_array_equal(out.final[0], x)


@pytest.mark.parametrize("eta,rho,lam", [(0.1, 0.05, 3.0), (0.5, 0.2, 1.0), (0.01, 0.1, 150.0)])
def test_quadratic_two_cycle_amplitude_matches_simulation(eta, rho, lam):
    A = np.diag([lam, lam / 4, lam / 10])
    ls = landscapes.quadratic(A)
    starts = np.random.default_rng(1).normal(size=(4, 3))
    out = run_batch(ls.grad, starts, eta, rho, 4000)
    a = quadratic_two_cycle_amplitude(eta, rho, lam)
    np.testing.assert_allclose(np.abs(out.final[:, 0]), a, rtol=1e-6)
    np.testing.assert_allclose(out.final[:, 1:], 0.0, atol=1e-8)
    np.testing.assert_allclose(out.period_two_gap, 0.0, atol=1e-10)
    np.testing.assert_allclose(out.step_size, 2 * a, rtol=1e-6)


def test_fixed_points_1d_on_the_review_function_are_real_fixed_points():
    ls = landscapes.review_1d()
    for rho in (0.01, 0.1, 0.3):
        fps = sam_fixed_points_1d(ls.grad, rho, -2.0, 3.0)
        assert len(fps) >= 1
        for x, c in fps:
            assert abs(abs(x - c) - rho) < 1e-12
            assert abs(float(ls.grad(np.array([x]))[0])) > 1e-3  # not a stationary point of f
            step = run_batch(ls.grad, np.array([[x]]), 1e-4, rho, 2).final[0, 0]
            assert abs(step - x) < 1e-9


def test_fixed_points_1d_quadratic_has_none():
    # 1/2 x^2: the only critical point is a minimum, which SAM overshoots: no fixed point off the minimum.
    assert sam_fixed_points_1d(lambda x: x, 0.1, -1.0, 1.0).shape == (0, 2)


def test_sweep_shapes_and_classification():
    ls = landscapes.review_1d()
    starts = np.array([[-1.0], [0.5], [2.0]])
    out = sweep_endpoints(ls.grad, starts, [1e-2, 5e-2], [0.0, 0.1], lambda lr: int(5 / lr))
    assert out.final.shape == (2, 2, 3, 1) and out.diverged.shape == (2, 2, 3)
    labels = classify_endpoints(out.centre, {"sharp": [0.0], "flat": [1.0]}, 0.05)
    assert labels.shape == (2, 2, 3)
    assert (labels == "flat").all()


def test_divergent_runs_are_flagged_not_raised():
    ls = landscapes.quadratic(np.diag([1.0]))
    out = run_batch(ls.grad, np.array([[1.0], [1e-3]]), 3.0, 0.0, 200, blowup=1e6)
    assert out.diverged.tolist() == [True, False] or out.diverged.tolist() == [True, True]
    assert np.isnan(out.final[0]).all()
    labels = classify_endpoints(out.centre, {"min": [0.0]}, 0.1)
    assert labels[0] == "diverged"


BAD = [
    (lambda: batch_ascent_direction(np.array([1.0, 2.0]), 0.1), "grads"),
    (lambda: batch_ascent_direction(np.array([[np.nan, 1.0]]), 0.1), "grads"),
    (lambda: batch_ascent_direction(np.array([[1.0, 1.0]]), -0.1), "rho"),
    (lambda: batch_ascent_direction(np.ones((2, 2)), np.ones(3)), "rho"),
    (lambda: run_batch(lambda t: t, np.ones((2, 2)), -1.0, 0.1, 5), "lr"),
    (lambda: sweep_endpoints(lambda t: t, np.ones((2, 1)), [np.nan], [0.1], 5), "lrs"),
    (lambda: run_batch(lambda t: t, np.ones((2, 2)), 0.1, 0.1, 1), "num_steps"),
    (lambda: run_batch(lambda t: t[:, :1], np.ones((2, 2)), 0.1, 0.1, 5), "shape"),
    (lambda: run_batch(lambda t: t, np.ones((2, 2)), 0.1, [np.inf, 0.1], 5), "rho"),
    (lambda: classify_endpoints(np.zeros((3, 1)), {"a": [0.0], "b": [0.1]}, 0.1), "within"),
    (lambda: classify_endpoints(np.zeros((3, 1)), {"a": [0.0, 1.0]}, 0.1), "shape"),
    (lambda: classify_endpoints(np.zeros((3, 1)), {"a": [0.0]}, 0.0), "tol"),
    (lambda: sam_fixed_points_1d(lambda x: x, 0.0, -1, 1), "rho"),
    (lambda: sam_fixed_points_1d(lambda x: x, 0.1, 1, -1), "lo < hi"),
    (lambda: quadratic_two_cycle_amplitude(1.0, 0.1, 2.0), "lr \\* lam"),
    (lambda: quadratic_two_cycle_amplitude(np.nan, 0.1, 2.0), "lr"),
    (lambda: quadratic_two_cycle_amplitude(0.1, -0.1, 2.0), "rho"),
    (lambda: quadratic_two_cycle_amplitude(0.1, 0.1, 0.0), "lam"),
]


@pytest.mark.parametrize("call,match", BAD)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_quadratic_wells_control_and_confinement_limit():
    from samlib.studies.dynamics import gd_confinement_lr, quadratic_wells_1d

    q = quadratic_wells_1d(100.0, 1.0)
    rim = q.params["rim"]
    np.testing.assert_allclose(rim, 1 / 11, rtol=1e-15)
    np.testing.assert_allclose(q.value(np.array([[rim]])), 0.5 * 100 * rim**2, rtol=1e-12)
    np.testing.assert_allclose(q.grad(np.array([[0.05], [0.5]]))[:, 0], [5.0, -0.5])
    # the quadratic well confines GD only below its stability limit 2/100
    assert gd_confinement_lr(q.grad, rim, -1.5) < 2 / 100
    # the review's bounded well confines GD far above 2/f''(0) = 1e-4
    f1 = landscapes.review_1d()
    b = sam_fixed_points_1d(f1.grad, 0.01, -2.0, 3.0)[0, 1]
    eta_star = gd_confinement_lr(f1.grad, b, -1.5)
    assert 7e-4 < eta_star < 8e-4
    starts = np.linspace(-1.0, b - 1e-3, 20)[:, None]
    run = run_batch(f1.grad, starts, 0.98 * eta_star, 0.0, 3000)
    assert np.all(run.final[:, 0] < b)
    with pytest.raises(ValueError, match="lam_sharp"):
        quadratic_wells_1d(1.0, 2.0)


def test_classify_basins_labels_sharp_ghost_flat():
    from samlib.studies.dynamics import classify_basins_1d

    f1 = landscapes.review_1d()
    b = sam_fixed_points_1d(f1.grad, 0.01, -2.0, 3.0)[0, 1]
    starts = np.array([[-0.01], [0.101], [0.9]])
    run = run_batch(f1.grad, starts, 5e-5, 0.1, 20000)
    assert list(classify_basins_1d(f1.grad, run, 0.1, b)) == ["flat", "ghost", "flat"] or \
        list(classify_basins_1d(f1.grad, run, 0.1, b))[1] == "ghost"
    gd = run_batch(f1.grad, starts, 5e-5, 0.0, 2000)
    assert list(classify_basins_1d(f1.grad, gd, 0.0, b)) == ["sharp", "flat", "flat"]
    with pytest.raises(ValueError, match="1D"):
        classify_basins_1d(f1.grad, run_batch(lambda x: x, np.ones((2, 2)), 0.1, 0.0, 2), 0.0, 0.5)


def test_sam_two_cycle_1d_matches_quadratic_and_runs():
    from samlib.studies.dynamics import sam_two_cycle_1d

    q = landscapes.quadratic(np.array([[2.0]]))
    cyc = sam_two_cycle_1d(q.grad, 0.1, 0.2, 0.0, 2.0)
    a = quadratic_two_cycle_amplitude(0.1, 0.2, 2.0)
    np.testing.assert_allclose(cyc, [-a, a], rtol=1e-10)
    f1 = landscapes.review_1d()
    lam = float(f1.hessian(np.array([1.0]))[0, 0])
    cyc = sam_two_cycle_1d(f1.grad, 0.05, 0.1, 1.0, lam)
    run = run_batch(f1.grad, np.array([[0.9], [1.3]]), 0.05, 0.1, 3000)
    for fin, prev in zip(run.final[:, 0], run.previous[:, 0]):
        assert min(abs(fin - cyc[0]) + abs(prev - cyc[1]), abs(fin - cyc[1]) + abs(prev - cyc[0])) < 1e-9
