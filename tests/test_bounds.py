"""Tests of samlib.bounds: Lemma 1, the kl inverse, Theorem 1 and its proof's steps."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samlib.bounds import (
    kl_bernoulli,
    kl_gaussians,
    kl_inverse_upper,
    laurent_massart_radius_sq,
    mcallester_bound,
    pac_bayes_kl_bound,
    sam_intermediate_bound,
    sam_noise_scale,
    sam_nonvacuous_sample_size,
    sam_pac_bayes_bound,
    sam_prior_grid_choice,
)


def test_kl_gaussians_matches_closed_form_and_is_zero_on_equal():
    assert kl_gaussians(np.zeros(3), 2.0, np.zeros(3), 2.0) == pytest.approx(0.0, abs=1e-12)
    # 1-D: KL(N(1, 1) || N(0, 4)) = 0.5 * ((1 + 1)/4 - 1 + log 4)
    assert kl_gaussians([1.0], 1.0, [0.0], 4.0) == pytest.approx(0.5 * (0.5 - 1 + math.log(4)))


def test_kl_gaussians_against_monte_carlo():
    rng = np.random.default_rng(0)
    mq, vq, mp, vp = np.array([0.3, -1.0]), np.array([0.5, 2.0]), np.array([0.0, 0.5]), np.array([1.0, 1.5])
    x = mq + np.sqrt(vq) * rng.standard_normal((400_000, 2))
    logq = -0.5 * np.sum((x - mq) ** 2 / vq + np.log(2 * np.pi * vq), axis=1)
    logp = -0.5 * np.sum((x - mp) ** 2 / vp + np.log(2 * np.pi * vp), axis=1)
    assert kl_gaussians(mq, vq, mp, vp) == pytest.approx(np.mean(logq - logp), abs=0.01)


def test_kl_gaussians_rejects_nonpositive_variance():
    with pytest.raises(ValueError, match="var_q"):
        kl_gaussians([0.0], 0.0, [0.0], 1.0)


@settings(max_examples=60, deadline=None)
@given(q=st.floats(0.0, 0.99), c=st.floats(1e-4, 3.0))
def test_kl_inverse_is_the_largest_p_with_kl_at_most_c(q, c):
    p = kl_inverse_upper(q, c)
    assert q <= p <= 1.0
    if p < 1.0 - 1e-9:  # closer to 1 the answer is not representable in double precision
        assert kl_bernoulli(q, p) == pytest.approx(c, rel=1e-6, abs=1e-9)
        assert kl_bernoulli(q, min(1.0, p + 1e-6)) > c


def test_kl_inverse_known_value_and_pinsker():
    assert kl_inverse_upper(0.0, math.log(2)) == pytest.approx(0.5)
    # Pinsker: kl >= 2 (p - q)^2, so the inverse never exceeds q + sqrt(c/2)
    for q, c in [(0.1, 0.05), (0.3, 0.2), (0.02, 0.01)]:
        assert kl_inverse_upper(q, c) <= q + math.sqrt(c / 2) + 1e-12


def test_mcallester_formula_and_validation():
    assert mcallester_bound(10.0, 101, 0.05) == pytest.approx(math.sqrt((10 + math.log(101 / 0.05)) / 200))
    with pytest.raises(ValueError, match="n must be >= 2"):
        mcallester_bound(1.0, 1, 0.05)
    with pytest.raises(ValueError, match="delta"):
        mcallester_bound(1.0, 10, 1.0)
    with pytest.raises(ValueError, match="kl"):
        mcallester_bound(-1.0, 10, 0.1)


@settings(max_examples=60, deadline=None)
@given(kl=st.floats(0.0, 1e4), n=st.integers(4, 10**6), delta=st.floats(1e-6, 0.99))
def test_lemma1_is_implied_by_maurer_and_pinsker_for_n_at_least_4(kl, n, delta):
    # Maurer + Pinsker: gap <= sqrt((KL + log(2 sqrt(n)/delta)) / (2n)) <= Lemma 1's gap
    maurer = math.sqrt((kl + math.log(2 * math.sqrt(n) / delta)) / (2 * n))
    assert maurer <= mcallester_bound(kl, n, delta) + 1e-12


def test_pac_bayes_kl_is_tighter_than_square_root_form_at_small_error():
    assert pac_bayes_kl_bound(0.02, 50.0, 1000, 0.05) < 0.02 + mcallester_bound(50.0, 1000, 0.05)


def test_sam_bound_matches_formula():
    k, n, w2, rho, delta = 1000, 5000, 30.0, 0.1, 0.05
    num = k * math.log(1 + w2 / rho**2 * (1 + math.sqrt(math.log(n) / k)) ** 2) + 4 * math.log(n / delta) \
        + 8 * math.log(6 * n + 3 * k)
    b = sam_pac_bayes_bound(k, n, w2, rho, delta, sharpness_term=0.1)
    assert b.complexity == pytest.approx(math.sqrt(num / (n - 1)))
    assert b.total == pytest.approx(0.1 + b.complexity)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be >= 1"),
        ({"n": 1}, "n must be >= 2"),
        ({"rho": 0.0}, "rho must be > 0"),
        ({"delta": 0.0}, "delta must be > 0"),
        ({"delta": 1.5}, "delta must lie strictly"),
        ({"w_norm_sq": -1.0}, "w_norm_sq"),
        ({"k": 2.5}, "k must be an integer"),
    ],
)
def test_sam_bound_validates_inputs(kwargs, match):
    args = {"k": 10, "n": 100, "w_norm_sq": 1.0, "rho": 0.1, "delta": 0.05}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sam_pac_bayes_bound(**args)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 10**6), n=st.integers(2, 10**6), w2=st.floats(0.0, 1e4), rho=st.floats(1e-3, 10.0),
       delta=st.floats(1e-4, 0.5))
def test_theorem1_dominates_the_proof_chain(k, n, w2, rho, delta):
    """The stated bound >= 1/sqrt(n) + the exact Lemma-1 gap of the proof (when the grid reaches)."""
    sigma = sam_noise_scale(rho, k, n)
    inter = sam_intermediate_bound(k, n, w2, sigma, delta)
    stated = sam_pac_bayes_bound(k, n, w2, rho, delta).complexity
    if inter["in_range"]:
        assert inter["kl"] <= inter["kl_relaxed"] * (1 + 1e-9) + 1e-9
        assert inter["log_term"] <= inter["log_term_relaxed"] + 1e-9
        assert inter["gap"] <= inter["gap_relaxed"] * (1 + 1e-9)
        assert 1 / math.sqrt(n) + inter["gap_relaxed"] <= stated * (1 + 1e-9)
    else:  # the grid cannot reach sigma_*^2: the stated bound is then vacuous (> 2)
        assert stated > 2.0


def test_prior_grid_brackets_the_optimal_variance():
    g = sam_prior_grid_choice(k=200, n=1000, w_norm_sq=5.0, sigma=0.01)
    assert g["in_range"]
    assert g["sigma_opt_sq"] <= g["sigma_p_sq"] <= math.exp(1 / 200) * g["sigma_opt_sq"] * (1 + 1e-12)


def test_noise_scale_makes_the_laurent_massart_radius_at_most_rho():
    for k, n, rho in [(10, 100, 0.5), (2410, 1000, 0.05), (545810, 1000, 0.05)]:
        s = sam_noise_scale(rho, k, n)
        assert laurent_massart_radius_sq(k, 0.5 * math.log(n), s) <= rho**2 * (1 + 1e-12)


def test_noise_scale_tail_probability_by_sampling():
    k, n, rho = 50, 400, 1.0
    s = sam_noise_scale(rho, k, n)
    eps = np.random.default_rng(0).standard_normal((200_000, k)) * s
    assert np.mean(np.linalg.norm(eps, axis=1) > rho) <= 1 / math.sqrt(n)


def test_nonvacuous_sample_size_is_where_the_total_crosses_one():
    k, w2, rho, delta = 2000, 50.0, 0.1, 0.05
    n_star = sam_nonvacuous_sample_size(k, w2, rho, delta)
    assert sam_pac_bayes_bound(k, math.ceil(n_star) + 1, w2, rho, delta).total < 1.0
    assert sam_pac_bayes_bound(k, math.floor(n_star) - 1, w2, rho, delta).total > 1.0
    assert sam_nonvacuous_sample_size(k, w2, rho, delta, sharpness_term=1.0) == math.inf


# ----------------------------------------------------------------------------------------------------------------
# Edges: representable answers are returned, invalid input raises ValueError naming the argument
# ----------------------------------------------------------------------------------------------------------------
def _theorem1_mp(k, n, w2, rho, delta):
    """Theorem 1's complexity term in 60-digit arithmetic (no underflow or overflow)."""
    mp = mpmath.mp.clone()
    mp.dps = 60
    k, n, w2, rho, delta = (mp.mpf(v) for v in (k, n, w2, rho, delta))
    num = (k * mp.log(1 + w2 / rho**2 * (1 + mp.sqrt(mp.log(n) / k)) ** 2) + 4 * mp.log(n / delta)
           + 8 * mp.log(6 * n + 3 * k))
    return float(mp.sqrt(num / (n - 1)))


@pytest.mark.parametrize(
    "k, n, w2, rho, delta",
    [
        (10, 100, 1.0, 1e-200, 0.05),  # rho**2 underflows to 0: was ZeroDivisionError
        (10, 100, 1.0, 1e-160, 0.05),  # rho**2 subnormal, the ratio overflows: was inf
        (10, 100, 1.0, 1e-154, 0.05),
        (10, 100, 1e300, 1e-10, 0.05),  # w2 / rho**2 overflows
        (10, 100, 1e-300, 1e200, 0.05),  # rho**2 overflows (a float power raised OverflowError)
        (10, 1000, 1.0, 0.1, 1e-310),  # n / delta overflows
        (545810, 1000, 400.0, 0.05, 0.05),  # ordinary inputs
    ],
)
def test_sam_bound_is_exact_where_the_plain_formula_underflows_or_overflows(k, n, w2, rho, delta):
    got = sam_pac_bayes_bound(k, n, w2, rho, delta).complexity
    assert math.isfinite(got)
    assert got == pytest.approx(_theorem1_mp(k, n, w2, rho, delta), rel=1e-13)


def test_sam_bound_keeps_its_bits_on_ordinary_inputs():
    # the stored chapter outputs were computed with the plain formula
    k, n, w2, rho, delta = 2410, 1000, 37.5, 0.05, 0.05
    num = k * math.log1p(w2 / rho**2 * (1.0 + math.sqrt(math.log(n) / k)) ** 2) + 4 * math.log(n / delta) \
        + 8 * math.log(6 * n + 3 * k)
    assert sam_pac_bayes_bound(k, n, w2, rho, delta).complexity == math.sqrt(num / (n - 1))


def test_nonvacuous_sample_size_with_a_tiny_radius():
    # was ZeroDivisionError inside brentq's function
    n_star = sam_nonvacuous_sample_size(10, 1.0, 1e-200, 0.05)
    assert math.isfinite(n_star)
    assert sam_pac_bayes_bound(10, math.ceil(n_star) + 1, 1.0, 1e-200, 0.05).total < 1.0
    with pytest.raises(ValueError, match="n_max"):
        sam_nonvacuous_sample_size(10, 1.0, 0.1, 0.05, n_max=1.0)


def test_mcallester_with_a_subnormal_delta_is_finite_and_exact():
    # log(n / delta) with n / delta = inf: was inf
    got = mcallester_bound(0.0, 1000, 1e-310)
    mp = mpmath.mp.clone()
    mp.dps = 50
    assert got == pytest.approx(float(mp.sqrt(mp.log(mp.mpf(1000) / mp.mpf(1e-310)) / 1998)), rel=1e-14)
    assert math.isfinite(pac_bayes_kl_bound(0.1, 5.0, 1000, 1e-310))


@pytest.mark.parametrize("q, p, name", [(float("nan"), 0.5, "q"), (0.5, float("nan"), "p"),
                                        (1.5, 0.5, "q"), (0.5, -0.1, "p"), (np.array([0.1, np.nan]), 0.5, "q")])
def test_kl_bernoulli_rejects_nan_and_out_of_range_naming_the_argument(q, p, name):
    # kl_bernoulli(nan, 0.5) returned 0.0 (nan failed both range comparisons silently)
    with pytest.raises(ValueError, match=rf"^{name} "):
        kl_bernoulli(q, p)


def test_kl_bernoulli_edges_that_are_defined():
    assert kl_bernoulli(0.0, 0.0) == 0.0 and kl_bernoulli(1.0, 1.0) == 0.0
    assert kl_bernoulli(0.5, 1.0) == math.inf  # the divergence is infinite, not undefined
    with pytest.raises(TypeError, match="q"):
        kl_bernoulli("0.1", 0.5)
    with pytest.raises(TypeError, match="q"):
        kl_inverse_upper(None, 0.1)


def test_proof_steps_at_extreme_scales():
    # the relaxed KL takes log1p(w2 / (k sigma^2)) without forming the overflowing ratio
    inter = sam_intermediate_bound(10, 100, 1.0, 0.01, 1e-310)
    assert all(math.isfinite(inter[key]) for key in ("log_term", "log_term_relaxed", "gap", "gap_relaxed"))
    with pytest.raises(ValueError, match="sigma"):
        sam_prior_grid_choice(10, 100, 1.0, 1e-200)  # sigma**2 underflows
    with pytest.raises(ValueError, match="KL"):
        sam_intermediate_bound(10, 100, 1e300, 1e-100, 0.05)  # the exact KL exceeds the float range
    with pytest.raises(ValueError, match="radius"):
        laurent_massart_radius_sq(10, 1.0, 1e200)  # was OverflowError from sigma**2
    with pytest.raises(ValueError, match="KL"):
        kl_gaussians([0.0], 1e300, [0.0], 1e-300)  # was inf
