"""Tests of samlib.studies.convergence: test functions, the vectorised stochastic-SAM runner, bounds."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from samlib import landscapes
from samlib.ascent import ascent_direction
from samlib.studies.convergence import (
    ascent_direction_rows,
    cauchy_log,
    compare_with_bounds,
    log_grid,
    loglog_slope,
    rate_slope,
    rederived_bound,
    run_stochastic_sam,
    theorem2_bound,
    tilted_pseudo_huber,
)

FUNCTIONS = [tilted_pseudo_huber(3, c=0.5), tilted_pseudo_huber(2, c=0.0), cauchy_log(3)]
points = arrays(np.float64, 3, elements=st.floats(-50, 50, allow_nan=False))


@pytest.mark.parametrize("fn", FUNCTIONS[::2], ids=lambda f: f.name)
@settings(max_examples=40, deadline=None)
@given(x=points)
def test_gradient_matches_autograd_and_is_bounded_by_G(fn, x):
    xt = torch.tensor(x[None, :], requires_grad=True)
    (auto,) = torch.autograd.grad(fn.torch_value(xt).sum(), xt)
    g = fn.torch_grad(xt.detach())
    torch.testing.assert_close(g, auto, rtol=1e-10, atol=1e-12)
    assert float(g.norm()) <= fn.G + 1e-12


@pytest.mark.parametrize("fn", FUNCTIONS[::2], ids=lambda f: f.name)
@settings(max_examples=40, deadline=None)
@given(x=points, y=points)
def test_gradient_is_L_lipschitz(fn, x, y):
    gx, gy = fn.torch_grad(torch.tensor(x[None])), fn.torch_grad(torch.tensor(y[None]))
    assert float((gx - gy).norm()) <= fn.L * float(np.linalg.norm(x - y)) + 1e-12


def test_constants_are_attained_not_just_upper_bounds():
    # G: approached far out on the tilted side / at |x_i| = 1; L: h'' at 0 equals 1.
    f = tilted_pseudo_huber(4, c=0.5)
    assert float(f.torch_grad(torch.full((1, 4), -1e6, dtype=torch.float64)).norm()) == pytest.approx(f.G, rel=1e-9)
    g = cauchy_log(4)
    assert float(g.torch_grad(torch.ones(1, 4, dtype=torch.float64)).norm()) == pytest.approx(g.G)
    h = 1e-4
    for fn in (f, g):
        e = torch.zeros(1, fn.dim, dtype=torch.float64)
        e[0, 0] = h
        second = (fn.torch_grad(e) - fn.torch_grad(-e))[0, 0] / (2 * h)
        assert float(second) == pytest.approx(fn.L, rel=1e-6)
    # minimum value and location of the tilted pseudo-Huber
    m = 0.5 / math.sqrt(1 - 0.25)
    xm = torch.full((1, 4), m, dtype=torch.float64)
    assert float(f.torch_value(xm)) == pytest.approx(f.f_min)
    assert float(f.torch_grad(xm).norm()) < 1e-12
    assert not g.convex and f.convex


def _reference_run(fn, x1, lr0, rho0, sigma, T, R, seed, block):
    """Plain per-replicate loop drawing the same noise blocks as the runner (float64)."""
    gen = torch.Generator().manual_seed(seed)
    d = fn.dim
    x = torch.tensor(np.broadcast_to(x1, (d,)), dtype=torch.float64).repeat(R, 1)
    sums = torch.zeros(R, dtype=torch.float64)
    out = {}
    t = 0
    while t < T:
        nb = min(block, T - t)
        noise = torch.randn((nb, 2, R, d), generator=gen, dtype=torch.float64) * sigma / math.sqrt(d)
        for k in range(nb):
            t += 1
            lr, rho = lr0 / math.sqrt(t), rho0 / math.sqrt(t)
            for r in range(R):
                g = fn.torch_grad(x[r:r + 1])[0]
                sums[r] += g @ g
                g1 = g + noise[k, 0, r]
                y = x[r] + rho * g1 / g1.norm()
                x[r] = x[r] - lr * (fn.torch_grad(y[None])[0] + noise[k, 1, r])
            out[t] = (sums / t).clone()
    return out, x


def test_runner_matches_reference_loop():
    fn = tilted_pseudo_huber(3, c=0.5)
    kw = dict(lr0=0.7, rho0=0.3, sigma=0.8)
    res = run_stochastic_sam(fn, 1.5, num_steps=25, replicates=4, seed=3, block=10,
                             dtype=torch.float64, grid=[1, 7, 10, 25], **kw)
    ref, x_end = _reference_run(fn, 1.5, T=25, R=4, seed=3, block=10, **kw)
    for i, t in enumerate(res.T):
        np.testing.assert_allclose(res.avg_sq_grad[i], ref[int(t)].numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.f_after[-1], fn.torch_value(x_end).numpy(), rtol=1e-12)
    assert res.f_start == pytest.approx(float(fn.torch_value(torch.full((1, 3), 1.5, dtype=torch.float64))))


def test_seeded_and_float32_agrees_with_float64():
    fn = cauchy_log(5)
    kw = dict(lr0=0.5, rho0=0.2, sigma=1.0, num_steps=300, replicates=50, seed=11)
    a = run_stochastic_sam(fn, 2.0, **kw)
    b = run_stochastic_sam(fn, 2.0, **kw)
    np.testing.assert_array_equal(a.avg_sq_grad, b.avg_sq_grad)
    c = run_stochastic_sam(fn, 2.0, **{**kw, "seed": 12})
    assert not np.allclose(a.avg_sq_grad[-1], c.avg_sq_grad[-1])
    # float64 draws other normals from the same seed: compare the estimates statistically
    d64 = run_stochastic_sam(fn, 2.0, dtype=torch.float64, **{**kw, "replicates": 400})
    (m32, s32), (m64, s64) = (r.mean_se(r.avg_sq_grad) for r in (a, d64))
    assert np.all(np.abs(m32 - m64) <= 4 * np.hypot(s32, s64) + 1e-6 * m64)


def test_noise_has_total_variance_sigma_squared():
    # One SGD step from the minimiser: x_2 = x_1 - lr * xi, so E||x_2 - x_1||^2 = lr^2 sigma^2.
    fn = cauchy_log(4)
    res = run_stochastic_sam(fn, 0.0, lr0=0.05, rho0=0.0, sigma=2.0, num_steps=1,
                             replicates=20000, seed=0, dtype=torch.float64)
    # near 0, f(x) = ||x||^2/2 + O(x^4), so 2 E f(x_2) = E||x_2||^2 = 0.05^2 * 2^2 = 0.01
    assert 2 * res.f_after[0].mean() == pytest.approx(0.01, rel=0.04)


def test_deterministic_gd_is_monotone_and_replicates_agree():
    fn = tilted_pseudo_huber(3, c=0.5)
    res = run_stochastic_sam(fn, [3.0, -2.0, 0.5], lr0=0.9, rho0=0.0, sigma=0.0,
                             num_steps=2000, replicates=3, dtype=torch.float64)
    assert np.all(np.ptp(res.avg_sq_grad, axis=1) == 0)
    assert np.all(np.diff(res.f_after[:, 0]) <= 1e-15)
    # convex GD with lr <= 2/L: ||grad f|| does not increase, so neither does its running mean
    assert np.all(np.diff(res.avg_sq_grad[:, 0]) <= 1e-15)


def test_bounds_formulas_and_rederived_bound_holds():
    T = np.array([1.0, 10.0, 100.0])
    b = theorem2_bound(T, 3.0, np.array([1.0, 0.5, 0.2]), lr0=0.5, rho0=0.1, sigma=1.0, G=2.0, L=1.0)
    c1 = 4 * np.array([2.0, 2.5, 2.8])
    np.testing.assert_allclose(b, c1 / np.sqrt(T) + 2 * (0.5 + 0.2) * np.log(T) / np.sqrt(T))
    fn = tilted_pseudo_huber(4, c=0.5)
    kw = dict(lr0=2.5, rho0=0.5, sigma=0.5)  # lr0 > 1/L: outside the stated theorem's comfort zone
    res = run_stochastic_sam(fn, 1.0, num_steps=2000, replicates=200, seed=1, **kw)
    lhs, se = res.mean_se(res.avg_sq_grad)
    rhs = rederived_bound(res.T, res.f_start, res.f_after.mean(1), G=fn.G, L=fn.L, **kw)
    assert np.all(lhs - 3 * se <= rhs)


def test_loglog_slope_recovers_power_law():
    rng = np.random.default_rng(0)
    T = log_grid(10_000)
    vals = T[:, None] ** -0.5 * rng.lognormal(0, 0.1, size=(1, 300))
    s, lo, hi = loglog_slope(T, vals, x_min=10, n_boot=200)
    assert s == pytest.approx(-0.5, abs=1e-9)
    assert lo <= -0.5 <= hi


def test_rate_slope_of_a_power_law_and_of_log_t_over_sqrt_t():
    T = log_grid(100_000)
    assert rate_slope(T, lambda t: t**-0.5, t_min=1000) == pytest.approx(-0.5, abs=1e-12)
    # log T / sqrt T has local slope -1/2 + 1/log T: the fit lies strictly between the ends' values
    s = rate_slope(T, lambda t: np.log(t) / np.sqrt(t), t_min=1000)
    assert -0.5 + 1 / np.log(100_000) < s < -0.5 + 1 / np.log(1000)
    # a measured curve that decays exactly like the rate gets the same slope from loglog_slope
    vals = (np.log(T) / np.sqrt(T))[:, None] * np.ones((1, 5))
    assert loglog_slope(T, vals, x_min=1000, n_boot=5)[0] == pytest.approx(s, abs=1e-12)


def test_rate_slope_validates_inputs():
    T = log_grid(1000)
    with pytest.raises(ValueError, match="two grid points"):
        rate_slope(T, np.sqrt, t_min=10_000)
    with pytest.raises(ValueError, match="positive"):
        rate_slope(T, lambda t: np.log(t) / np.sqrt(t), t_min=1)  # log 1 = 0
    with pytest.raises(ValueError, match="non-finite"):
        rate_slope(np.array([1.0, np.nan, 10.0]), np.sqrt)


def test_log_grid():
    g = log_grid(100_000)
    assert g[0] == 1 and g[-1] == 100_000
    assert np.all(np.diff(g) > 0)
    assert 40 <= g.size <= 52
    assert list(log_grid(1)) == [1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr0=0.0), "lr0"),
        (dict(rho0=-1.0), "rho0"),
        (dict(sigma=float("nan")), "sigma"),
        (dict(num_steps=0), "num_steps"),
        (dict(replicates=1.5), "replicates"),
        (dict(lr_schedule="cosine"), "lr_schedule"),
        (dict(grid=[0, 5]), "grid"),
        (dict(dtype=torch.float16), "dtype"),
    ],
)
def test_runner_validates_inputs(kwargs, match):
    base = dict(lr0=0.5, rho0=0.1, sigma=1.0, num_steps=10, replicates=2)
    with pytest.raises(ValueError, match=match):
        run_stochastic_sam(cauchy_log(2), 1.0, **{**base, **kwargs})


def test_other_validation():
    with pytest.raises(ValueError, match="x_start"):
        run_stochastic_sam(cauchy_log(2), [1.0, 2.0, 3.0], lr0=1, rho0=0, sigma=0, num_steps=2, replicates=1)
    with pytest.raises(ValueError, match="c must be < 1"):
        tilted_pseudo_huber(2, c=1.0)
    with pytest.raises(ValueError, match="d"):
        cauchy_log(0)
    with pytest.raises(ValueError, match="shape"):
        loglog_slope(np.array([1, 2]), np.ones((3, 2)))


def test_compare_with_bounds_flags_the_large_step_counterexample():
    # lr0 = 20 > 1/L with sigma = 0 and rho0 = 0.1 <= G lr0: the stated bound fails at small T,
    # the re-derived bound (which carries the G^2 term) does not.
    fn = tilted_pseudo_huber(4, c=0.5)
    res = run_stochastic_sam(fn, 0.5, lr0=20.0, rho0=0.1, sigma=0.0, num_steps=200, replicates=2)
    cmp = compare_with_bounds(res, fn)
    assert cmp.stated_violated[:5].all()
    assert not cmp.rederived_violated.any()
    np.testing.assert_allclose(cmp.measured_literal * cmp.T, cmp.measured * cmp.T + res.sq_grad_after.mean(1))
    # with a small step the stated bound holds from T = 4 on
    ok = run_stochastic_sam(fn, 2.0, lr0=0.5, rho0=0.2, sigma=0.0, num_steps=200, replicates=1)
    assert not compare_with_bounds(ok, fn).stated_violated[ok.T >= 4].any()


# ----------------------------------------------------------------------------------------------------------------
# The test functions are Landscapes; the runner's ascent kernel is the book's ascent direction; edges
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f"{f.name}-{f.dim}")
def test_test_functions_are_landscapes_whose_numpy_and_torch_sides_agree(fn):
    assert isinstance(fn, landscapes.Landscape)
    assert tilted_pseudo_huber is landscapes.tilted_pseudo_huber and cauchy_log is landscapes.cauchy_log
    x = np.random.default_rng(0).normal(scale=3.0, size=(5, fn.dim))
    xt = torch.tensor(x)
    np.testing.assert_allclose(fn.value(x), fn.torch_value(xt).numpy(), rtol=1e-14)
    np.testing.assert_allclose(fn.grad(x), fn.torch_grad(xt).numpy(), rtol=1e-14, atol=1e-15)
    # value, grad and hessian agree with the sympy formula the landscape carries
    expr, syms = fn.sympy_expr()
    grad_expr = [sp.diff(expr, s) for s in syms]
    hess_expr = sp.hessian(expr, syms)
    for row in x[:2]:
        at = dict(zip(syms, row))
        assert fn.value(row) == pytest.approx(float(expr.evalf(subs=at)), rel=1e-12)
        np.testing.assert_allclose(fn.grad(row), [float(e.evalf(subs=at)) for e in grad_expr], rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(fn.hessian(row), np.array(hess_expr.evalf(subs=at), dtype=float), rtol=1e-12,
                                   atol=1e-14)
    assert fn.value(fn.minima[0]) == pytest.approx(fn.f_min, abs=1e-12)


def test_convergence_landscapes_keep_their_constants_and_display_names():
    f, g = tilted_pseudo_huber(10, c=0.5), cauchy_log(10)
    assert (f.name, f.dim, f.params["c"], f.L, f.convex) == ("tilted pseudo-Huber", 10, 0.5, 1.0, True)
    assert f.G == 1.5 * math.sqrt(10) and f.f_min == 10 * (math.sqrt(0.75) - 1)
    assert (g.name, g.G, g.L, g.f_min, g.convex) == ("Cauchy log", 0.5 * math.sqrt(10), 1.0, 0.0, False)


def test_runner_and_bounds_need_a_landscape_with_kernels_and_constants():
    with pytest.raises(ValueError, match="fn must be a Landscape with torch kernels"):
        run_stochastic_sam(landscapes.review_2d(), 1.0, lr0=0.1, rho0=0.1, sigma=0.0, num_steps=2, replicates=1)
    res = run_stochastic_sam(cauchy_log(2), 1.0, lr0=0.1, rho0=0.1, sigma=0.0, num_steps=2, replicates=1)
    with pytest.raises(ValueError, match="known constants G and L"):
        compare_with_bounds(res, landscapes.review_2d())


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-14), (torch.float32, 1e-6)])
def test_runner_ascent_kernel_equals_ascent_direction_row_by_row(dtype, rtol):
    # the runner's fast kernel against the book's one rule, with a zero row (zero, never nan) among rows
    # of every size whose squared norm is a normal float
    rng = np.random.default_rng(1)
    top = 150 if dtype == torch.float64 else 15
    rows = [rng.normal(size=6) * 10.0 ** e for e in np.linspace(-top, top, 9)]
    grads = np.array(rows + [np.zeros(6), [0.0, 0.0, -1.0, 0.0, 0.0, 0.0]])
    eps = ascent_direction_rows(torch.tensor(grads, dtype=dtype), 0.7)
    assert eps.dtype == dtype and bool(torch.isfinite(eps).all())
    for g, e in zip(grads, eps.double().numpy()):
        np.testing.assert_allclose(e, ascent_direction(np.asarray(g, dtype=float), 0.7), rtol=rtol,
                                   atol=0 if dtype == torch.float64 else 1e-7)
    assert torch.equal(eps[-2], torch.zeros(6, dtype=dtype))
    with pytest.raises(TypeError, match="grads"):
        ascent_direction_rows(grads, 0.7)
    with pytest.raises(ValueError, match="rho"):
        ascent_direction_rows(torch.ones(2, 2), -1.0)


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_a_zero_gradient_start_gives_no_ascent_step_and_no_nan(sigma):
    # at the minimiser of cauchy_log the gradient is exactly 0: without noise the run must stay there
    res = run_stochastic_sam(cauchy_log(3), 0.0, lr0=0.5, rho0=0.3, sigma=sigma, num_steps=50, replicates=4,
                             dtype=torch.float64)
    assert np.all(np.isfinite(res.avg_sq_grad)) and np.all(np.isfinite(res.f_after))
    if sigma == 0.0:
        assert np.all(res.f_after == 0.0)


def test_noise_buffer_is_sized_by_the_steps_that_are_drawn():
    # block = 2**40 asked torch.empty for 2**40 x 2 x R x d floats (105 TB here); results are those of
    # block >= num_steps, i.e. one draw for the whole run
    kw = dict(lr0=0.5, rho0=0.2, sigma=1.0, num_steps=30, replicates=3, seed=4)
    huge = run_stochastic_sam(cauchy_log(3), 1.0, block=2**40, **kw)
    whole = run_stochastic_sam(cauchy_log(3), 1.0, block=30, **kw)
    np.testing.assert_array_equal(huge.avg_sq_grad, whole.avg_sq_grad)
    np.testing.assert_array_equal(huge.f_after, whole.f_after)


@pytest.mark.parametrize("bound", [theorem2_bound, rederived_bound])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr0=0.0), "lr0"),  # was ZeroDivisionError
        (dict(lr0=-1.0), "lr0"),
        (dict(rho0=-0.1), "rho0"),
        (dict(sigma=np.nan), "sigma"),
        (dict(G=-1.0), "G"),
        (dict(L=np.inf), "L"),
        (dict(T=np.array([0.0, 10.0])), "T must be >= 1"),
        (dict(f_start=np.nan), "f_start"),
        (dict(f_after=np.array([np.nan, 1.0])), "f_after"),
        (dict(lr0=1e-320), "not representable"),
    ],
)
def test_bounds_validate_their_inputs(bound, kwargs, match):
    args = dict(T=np.array([1.0, 10.0]), f_start=3.0, f_after=np.array([1.0, 0.5]), lr0=0.5, rho0=0.1,
                sigma=1.0, G=2.0, L=1.0)
    args.update(kwargs)
    T, f_start, f_after = args.pop("T"), args.pop("f_start"), args.pop("f_after")
    with pytest.raises(ValueError, match=match):
        bound(T, f_start, f_after, **args)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(seed=1.5), ValueError, "seed"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(grid=[1.5, 3]), ValueError, "grid"),
        (dict(grid=[np.nan]), ValueError, "grid"),
        (dict(shared_noise="yes"), TypeError, "shared_noise"),
        (dict(lr_schedule=None), ValueError, "lr_schedule"),
        (dict(num_steps=None), TypeError, "num_steps"),
        (dict(block=0), ValueError, "block"),
    ],
)
def test_runner_rejects_junk_instead_of_truncating_it(kwargs, exc, match):
    base = dict(lr0=0.5, rho0=0.1, sigma=1.0, num_steps=10, replicates=2)
    with pytest.raises(exc, match=match):
        run_stochastic_sam(cauchy_log(2), 1.0, **{**base, **kwargs})


# ----------------------------------------------------------------------------------------
# Rate fits with the log factor, batching, records, the constant-rho floor, shared noise
# ----------------------------------------------------------------------------------------
from samlib.studies.convergence import (  # noqa: E402
    SAMRunResult,
    load_runs,
    rate_envelope,
    rate_fits,
    recorded_specs,
    run_spec,
    sam_stationary_point,
    save_runs,
)


def _synthetic(T, curve, R=8, seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    vals = curve(T.astype(float))[:, None] * (1 + noise * rng.standard_normal((T.size, R)))
    return SAMRunResult(T=T, avg_sq_grad=vals, sq_grad_after=vals, f_after=vals, f_start=1.0,
                        params={})


def test_rate_fit_tests_the_log_factor():
    T = log_grid(10**5)
    runs = {"log": _synthetic(T, lambda t: np.log(t) / np.sqrt(t)),
            "pure": _synthetic(T, lambda t: t**-0.5),
            "slow": _synthetic(T, lambda t: t**-0.3)}
    fits = {f.run: f for f in rate_fits(runs, [(1000, 100_000)], n_boot=50)}
    assert fits["log"].log_exponent == pytest.approx(-0.5, abs=0.01)
    assert fits["pure"].log_exponent < -0.55          # T^(-1/2) decays faster than the rate
    assert fits["slow"].log_exponent > -0.45          # slower than the rate
    for f in fits.values():                            # b = k - r - 1/2 on the same points
        assert f.log_exponent == pytest.approx(f.slope - f.reference - 0.5, abs=1e-9)
        assert f.log_exponent_low <= f.log_exponent <= f.log_exponent_high
    lo, hi = rate_envelope(list(fits.values()))
    assert lo == min(f.log_exponent_low for f in fits.values())
    assert hi == max(f.log_exponent_high for f in fits.values())


def test_rate_fits_reject_bad_windows():
    T = log_grid(1000)
    runs = {"a": _synthetic(T, lambda t: t**-0.5)}
    with pytest.raises(ValueError, match="windows"):
        rate_fits(runs, [(1, 100)])
    with pytest.raises(ValueError, match="fewer than 3"):
        rate_fits(runs, [(500, 600)])
    with pytest.raises(ValueError, match="empty"):
        rate_envelope([])


def test_batched_keeps_the_mean_and_records_round_trip(tmp_path):
    fn = tilted_pseudo_huber(3, c=0.5)
    res = run_stochastic_sam(fn, 1.0, lr0=0.5, rho0=0.2, sigma=1.0, num_steps=50,
                             replicates=12, seed=1)
    b = res.batched(4)
    assert b.replicates == 4 and b.params["batches"] == 4
    np.testing.assert_allclose(b.avg_sq_grad.mean(1), res.avg_sq_grad.mean(1), rtol=1e-12)
    with pytest.raises(ValueError, match="divide"):
        res.batched(5)
    assert res.x_mean_after.shape == (res.T.size, 3)
    save_runs(tmp_path / "r.npz", {"x": b, "y": res})
    back = load_runs(tmp_path / "r.npz")
    assert list(back) == ["x", "y"]
    np.testing.assert_array_equal(back["x"].avg_sq_grad, b.avg_sq_grad)
    np.testing.assert_array_equal(back["y"].x_mean_after, res.x_mean_after)
    assert back["y"].params == res.params


def test_a_shorter_run_replays_the_start_of_a_recorded_spec():
    spec = recorded_specs()["floor/stochastic, pseudo-Huber, rho=2"]
    spec = {**spec, "run": {**spec["run"], "num_steps": 400, "replicates": 20}}
    full = run_spec(spec)
    part = run_spec(spec, num_steps=150, grid=full.T[full.T <= 150])
    np.testing.assert_array_equal(part.avg_sq_grad, full.avg_sq_grad[:part.T.size])


def test_sam_stationary_point_moves_only_on_an_asymmetric_function():
    sym = tilted_pseudo_huber(10, c=0.0)
    s, level = sam_stationary_point(sym, 2.0, 1.0, samples=4000)
    assert abs(s) < 1e-6 and level < 1e-10
    tilted = tilted_pseudo_huber(10, c=0.5)
    x_min = 0.5 / math.sqrt(0.75)
    pts = [sam_stationary_point(tilted, rho, 1.0, samples=4000) for rho in (0.5, 1.0, 2.0)]
    assert all(p[0] > x_min for p in pts)
    assert pts[0][1] < pts[1][1] < pts[2][1]          # the floor grows with rho
    with pytest.raises(ValueError, match="sigma"):
        sam_stationary_point(tilted, 1.0, 0.0)


def test_rederived_bound_with_shared_noise_adds_the_cross_term():
    T = np.array([1.0, 10.0, 100.0])
    kw = dict(lr0=0.5, rho0=0.2, sigma=1.0, G=2.0, L=1.0)
    a = rederived_bound(T, 1.0, 0.0, **kw)
    b = rederived_bound(T, 1.0, 0.0, **kw, shared_noise=True)
    np.testing.assert_allclose(b - a, 2.62 * 1.0 * 0.5 * 0.2 * 1.0 / np.sqrt(T))


def test_shared_noise_rederived_bound_holds_on_a_short_run():
    fn = cauchy_log(4)
    res = run_stochastic_sam(fn, 2.0, lr0=2.0, rho0=0.3, sigma=1.0, num_steps=300,
                             replicates=400, seed=5, shared_noise=True)
    assert not compare_with_bounds(res, fn).rederived_violated.any()
