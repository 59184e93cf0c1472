"""samlib.studies.flatness: the two-basin family, its labels, intervals and sweeps, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from samlib.ascent import run_trajectory
from samlib.studies.dynamics import run_batch
from samlib.studies.flatness import (
    LABELS,
    BasinSweep,
    basin_starts,
    basin_sweep,
    escape_radius,
    label_endpoints,
    mlp_rho_sweep,
    proportion_interval,
    two_basin,
)


@pytest.mark.parametrize("kappa, gap", [(1.0, 0.0), (4.0, 0.0), (16.0, 0.1)])
def test_two_basin_derivatives_match_sympy(kappa, gap):
    ls = two_basin(kappa, gap=gap)
    expr, (x,) = ls.sympy_expr()
    g = sp.lambdify(x, sp.diff(expr, x))
    h = sp.lambdify(x, sp.diff(expr, x, 2))
    pts = np.linspace(-2.0, ls.params["c"] + 2.0, 41)
    np.testing.assert_allclose(ls.grad(pts[:, None])[:, 0], [g(p) for p in pts], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ls.hessian(pts[:, None])[:, 0, 0], [h(p) for p in pts], rtol=1e-7, atol=1e-7)


def test_two_basin_geometry():
    ls = two_basin(16.0, width=2.0, lam_sharp=3.0)
    c = ls.params["c"]
    assert c == pytest.approx(2.0 * 5.0)
    # minima at 0 and c with curvatures lambda_s and lambda_s / kappa, equal depths
    assert abs(ls.grad(np.array([[0.0]]))[0, 0]) < 1e-9
    assert abs(ls.grad(np.array([[c]]))[0, 0]) < 1e-9
    assert ls.hessian(np.array([0.0]))[0, 0] == pytest.approx(3.0, rel=1e-8)
    assert ls.hessian(np.array([c]))[0, 0] == pytest.approx(3.0 / 16.0, rel=1e-8)
    assert ls.value(np.array([0.0])) == pytest.approx(ls.value(np.array([c])), abs=1e-9)
    # the quadratics cross at x = w (soft-min weight 1/2); the smoothed ridge is within 5% of w
    assert ls.value(np.array([2.0])) == pytest.approx(0.5 * 3.0 * 4.0 - ls.params["tau"] * np.log(2))
    xs = np.linspace(0.5, c - 0.5, 20001)[:, None]
    assert xs[np.argmax(ls.value(xs)), 0] == pytest.approx(2.0, abs=0.1)


def test_two_basin_gap_raises_the_flat_minimum():
    ls = two_basin(4.0, gap=0.1)
    assert ls.value(np.array([ls.params["c"]])) - ls.value(np.array([0.0])) == pytest.approx(0.1, abs=1e-6)


def test_sam_depends_on_rho_over_width_only():
    a, b = two_basin(4.0, width=1.0), two_basin(4.0, width=3.0)
    ta = run_trajectory(np.array([0.4]), a.grad, 1.5, 0.3, 500)
    tb = run_trajectory(np.array([1.2]), b.grad, 1.5 / 1.0, 0.9, 500)  # eta * lambda_s unchanged
    np.testing.assert_allclose(tb.iterates[:, 0] / 3.0, ta.iterates[:, 0], atol=1e-9)


def test_escape_radius_matches_the_two_cycle():
    # below the predicted radius SAM stays on its cycle in the sharp basin, just above it leaves
    ls = two_basin(16.0)
    for el in (0.5, 1.0, 1.5):
        r = float(escape_radius(el))
        stay = run_batch(ls.grad, np.array([[0.05]]), el, 0.9 * r, 4000)
        leave = run_batch(ls.grad, np.array([[0.05]]), el, 1.1 * r, 4000)
        assert abs(stay.centre[0, 0]) < 0.1
        assert abs(leave.centre[0, 0]) > 0.1


def test_labels_and_starts():
    ls = two_basin(4.0)
    starts = basin_starts(ls, 100, seed=3)
    assert starts.shape == (100, 1)
    assert np.all(np.abs(starts[:50, 0]) < 1.0)
    assert np.all(np.abs(starts[50:, 0] - ls.params["c"]) < 2.0)
    gd = run_batch(ls.grad, starts, 1.0, 0.0, 2000)
    lab = label_endpoints(gd, ls)
    assert set(lab) <= set(LABELS)
    assert np.all(lab[:50] == "sharp") and np.all(lab[50:] == "flat")
    ghost = run_batch(ls.grad, np.array([[1.3]]), 1.0, 1.25, 3000)  # x = rho, the sharp minimum's trap
    assert label_endpoints(ghost, ls)[0] == "stopped-elsewhere"


def test_proportion_interval_known_values():
    from scipy.stats import binomtest

    ci = proportion_interval(np.array([0, 5, 10]), 10)
    for k, row in zip((0, 5, 10), ci):
        ref = binomtest(k, 10).proportion_ci(0.95, method="wilson")
        assert row == pytest.approx([ref.low, ref.high])
    exact = proportion_interval(5, 10, method="exact")
    assert exact[0] < 0.5 < exact[1]
    with pytest.raises(ValueError, match="method"):
        proportion_interval(1, 2, method="wald")
    with pytest.raises(ValueError, match="k <= n"):
        proportion_interval(3, 2)
    with pytest.raises(TypeError, match="integer"):
        proportion_interval(0.5, 2)


def test_basin_sweep_small_and_roundtrip():
    sw = basin_sweep([4.0], [1.5], [0.0, 0.3], n_starts=40, min_steps=500, steps_per_kappa=5)
    assert sw.counts.shape == (1, 1, 2, len(LABELS))
    assert np.all(sw.counts.sum(axis=-1) == 40)
    assert sw.gd_sharp[0, 0] == 20 and sw.gd_flat[0, 0] == 20  # GD stays in its basin
    assert sw.fraction("flat")[0, 0, 1] == 1.0  # the window where SAM rescues every sharp run
    again = BasinSweep.from_arrays(sw.as_arrays())
    assert np.array_equal(again.counts, sw.counts) and again.n_starts == 40


@pytest.mark.parametrize("kwargs, match", [
    ({"kappa": 0.5}, "kappa"), ({"kappa": 2.0, "width": 0.0}, "width"),
    ({"kappa": 2.0, "gap": -1.0}, "gap"), ({"kappa": 2.0, "temperature": 0.0}, "temperature"),
])
def test_two_basin_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_basin(**kwargs)


def test_bad_sweep_inputs():
    with pytest.raises(ValueError, match="eta_lam"):
        escape_radius(2.0)
    with pytest.raises(ValueError, match="rho_over_w"):
        basin_sweep([4.0], [1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="rhos"):
        mlp_rho_sweep([-0.1], [0])
    with pytest.raises(ValueError, match="empty"):
        mlp_rho_sweep([], [0])
    with pytest.raises(ValueError, match="theta"):
        two_basin(2.0).grad(np.zeros((3, 2)))
