"""samlib.stats: the one log-log slope of the book (curves, replicate curves, bootstrap interval, bad input)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.studies import convergence, sam_gradient
from samlib.stats import SlopeInterval, loglog_slope


def test_the_chapter_modules_use_the_one_slope():
    assert sam_gradient.loglog_slope is loglog_slope
    assert convergence.loglog_slope is loglog_slope


@settings(max_examples=50, deadline=None)
@given(k=st.floats(-3, 3), c=st.floats(1e-3, 1e3))
def test_recovers_the_order_of_a_power_law(k, c):
    x = np.logspace(-3, 2, 9)
    assert loglog_slope(x, c * x**k) == pytest.approx(k, abs=1e-9)


def test_replicate_curves_fit_the_mean_curve_and_bootstrap_brackets_it():
    rng = np.random.default_rng(0)
    T = np.unique(np.round(np.logspace(0, 4, 30)))
    vals = T[:, None] ** -0.5 * rng.lognormal(0, 0.5, size=(T.size, 300))
    slope = loglog_slope(T, vals)
    assert slope == pytest.approx(np.polyfit(np.log(T), np.log(vals.mean(1)), 1)[0], abs=0)
    out = loglog_slope(T, vals, x_min=10, n_boot=200, seed=3)
    assert isinstance(out, SlopeInterval)
    s, lo, hi = out
    assert lo < s < hi and lo <= -0.5 <= hi and hi - lo < 0.02
    assert loglog_slope(T, vals, x_min=10, n_boot=200, seed=3) == out  # seeded


def test_x_min_leaves_out_the_transient():
    x = np.array([1.0, 2.0, 10.0, 20.0, 40.0])
    y = np.where(x < 10, 5.0, x**-1.0)
    assert loglog_slope(x, y, x_min=10) == pytest.approx(-1.0, abs=1e-12)


def test_same_numbers_as_the_two_functions_it_replaces():
    # sam_gradient's version fitted log y against log x; convergence's the log of the replicate mean with this
    # bootstrap loop: the chapters' stored outputs depend on both being reproduced exactly
    rng = np.random.default_rng(5)
    x = np.logspace(0, 3, 12)
    vals = x[:, None] ** -0.7 * rng.lognormal(0, 0.3, size=(12, 40))
    assert loglog_slope(x, vals[:, 0]) == float(np.polyfit(np.log(x), np.log(vals[:, 0]), 1)[0])
    boot_rng = np.random.default_rng(1)
    boots = [np.polyfit(np.log(x), np.log(vals[:, boot_rng.integers(0, 40, 40)].mean(1)), 1)[0]
             for _ in range(50)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    assert tuple(loglog_slope(x, vals, n_boot=50, seed=1, level=0.95))[1:] == (lo, hi)


BAD = [
    (lambda: loglog_slope([1.0, 2.0], [1.0, -1.0]), ValueError, "y must be > 0"),
    (lambda: loglog_slope([0.0, 2.0], [1.0, 1.0]), ValueError, "x must be > 0"),
    (lambda: loglog_slope([1.0], [1.0]), ValueError, "two distinct x"),
    (lambda: loglog_slope([2.0, 2.0], [1.0, 3.0]), ValueError, "two distinct x"),
    (lambda: loglog_slope([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], x_min=3), ValueError, "two distinct x"),
    (lambda: loglog_slope([1.0, np.nan], [1.0, 2.0]), ValueError, "x contains non-finite"),
    (lambda: loglog_slope([1.0, 2.0], [1.0, np.inf]), ValueError, "y contains non-finite"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((3, 2))), ValueError, "shape"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((2, 2, 2))), ValueError, "shape"),
    (lambda: loglog_slope([1.0, 2.0], [1.0, 2.0], n_boot=10), ValueError, "replicate"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((2, 3)), n_boot=-1), ValueError, "n_boot"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((2, 3)), n_boot=2.5), ValueError, "n_boot"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((2, 3)), n_boot=5, level=1.0), ValueError, "level"),
    (lambda: loglog_slope([1.0, 2.0], np.ones((2, 3)), n_boot=5, seed=-1), ValueError, "seed"),
    (lambda: loglog_slope([1.0, 2.0], [1.0, 2.0], x_min="1"), TypeError, "x_min"),
    (lambda: loglog_slope(None, [1.0, 2.0]), TypeError, "x"),
    (lambda: loglog_slope([1.0, 2.0], [[1.0, 0.0], [0.0, 0.0]]), ValueError, "mean of y over its replicates"),
]


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_input_raises_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_a_bootstrap_resample_with_a_zero_mean_curve_is_reported():
    # the mean curve is positive, but resamples drawing only the zero column are not
    y = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="bootstrap resample"):
        loglog_slope([1.0, 2.0, 4.0], y, n_boot=200)


# --- paired comparisons: intervals that mean what they say ------------------------------------------------

from samlib.stats import fieller_interval, paired_interval  # noqa: E402


def test_paired_interval_matches_the_textbook_formula_and_scipy():
    d = np.array([0.12, -0.03, 0.25, 0.08, 0.11])
    r = paired_interval(d, level=0.9)
    from scipy import stats as st_

    se = d.std(ddof=1) / np.sqrt(d.size)
    q = st_.t.ppf(0.95, d.size - 1)
    assert (r.low, r.high) == pytest.approx((d.mean() - q * se, d.mean() + q * se), rel=1e-12)
    assert r.t == pytest.approx(d.mean() / se, rel=1e-12)
    assert r.p == pytest.approx(st_.ttest_1samp(d, 0).pvalue, rel=1e-12)
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)


def test_zero_spread_is_defined_not_nan():
    r = paired_interval([0.5, 0.5, 0.5])
    assert (r.low, r.mean, r.high, r.p) == (0.5, 0.5, 0.5, 0.0) and r.t == np.inf
    z = paired_interval([0.0, 0.0])
    assert z.t == 0.0 and z.p == 1.0 and z.effect_size == 0.0


def _coverage(draw, truth, reps=4000, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        lo, hi = draw(rng)
        hits += lo <= truth <= hi
    return hits / reps


def test_the_t_interval_on_five_pairs_covers_95_percent_and_the_percentile_bootstrap_does_not():
    # 4000 replicates: the binomial sd of a 95% coverage is 0.0034, so [0.935, 0.965] is a 4.4 sd band
    cov_t = _coverage(lambda rng: paired_interval(rng.normal(0.3, 1.0, 5))[1:3], 0.3)
    assert 0.935 <= cov_t <= 0.965, cov_t

    def boot(rng):
        d = rng.normal(0.3, 1.0, 5)
        means = d[rng.integers(0, 5, (400, 5))].mean(1)
        return tuple(np.quantile(means, [0.025, 0.975]))

    cov_boot = _coverage(boot, 0.3, reps=2000)
    assert cov_boot < 0.9, cov_boot  # why the chapters use t and Fieller intervals on few pairs


def test_fieller_covers_95_percent_for_a_ratio_of_paired_means():
    # correlated pairs (a shared seed effect), denominator well away from 0
    def draw(rng):
        shared = rng.normal(0, 0.1, 5)
        b = 1.0 + shared + rng.normal(0, 0.05, 5)
        a = 0.8 * (1.0 + shared) + rng.normal(0, 0.05, 5)
        r = fieller_interval(a, b)
        assert r.bounded
        return r.low, r.high

    cov = _coverage(draw, 0.8)
    assert 0.935 <= cov <= 0.965, cov


def test_fieller_is_unbounded_when_the_denominator_is_not_significantly_nonzero():
    r = fieller_interval([1.0, 2.0, 1.5], [0.1, -0.2, 0.15])
    assert not r.bounded and r.low == -np.inf and r.high == np.inf and np.isfinite(r.ratio)


@settings(max_examples=50, deadline=None)
@given(scale=st.floats(1e-3, 1e3), shift=st.floats(0.5, 2.0))
def test_fieller_is_scale_invariant_and_brackets_the_ratio(scale, shift):
    a = np.array([0.8, 0.9, 0.7, 0.85, 0.75]) * shift
    b = np.array([1.0, 1.1, 0.9, 1.0, 1.0])
    r1, r2 = fieller_interval(a, b), fieller_interval(scale * a, scale * b)
    assert r1.low <= r1.ratio <= r1.high
    assert (r2.ratio, r2.low, r2.high) == pytest.approx((r1.ratio, r1.low, r1.high), rel=1e-9)
