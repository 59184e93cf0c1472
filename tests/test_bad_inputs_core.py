"""Property test: bad input to the core numerical modules is refused by name.

The companion of ``tests/test_bad_inputs_property.py`` (issue 13) for ``samlib.bounds``, ``samlib.sharpness``,
``samlib.scale``, ``samlib.msharpness`` and ``samlib.stats``. Hypothesis draws bad values (nan, inf, negative
radii, wrong types, wrong shapes, bools, strings, huge integers, callables that return junk) for one argument of
one public function, the other arguments being valid. The call must raise ValueError or TypeError whose message
names that argument; returning anything (a silent nan, inf or 0.0) or raising any other exception (a raw
internal error: ZeroDivisionError, OverflowError, LinAlgError, IndexError, ...) fails.

The strategies, the settings and the assertion are imported from the companion file, so that both files mean
the same thing by "bad". The last part checks known edges with valid input: finite where the mathematics is
finite, exact where the answer is representable.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from samlib import bounds as B
from samlib import msharpness as MS
from samlib import scale as SC
from samlib import sharpness as SH
from samlib import stats as ST
# tests/ is on sys.path (conftest.py), and pytest imports the companion under this same name: one module object
from test_bad_inputs_property import (
    BAD_CALLABLE,
    BAD_FRACTION,
    BAD_NONNEGATIVE,
    BAD_P,
    BAD_POSITIVE,
    BAD_REAL,
    HUGE_INTS,
    NEGATIVE,
    NON_FINITE,
    SETTINGS,
    WRONG_KINDS,
    Target,
    assert_refused_by_name,
    bad_array,
    bad_choice,
    bad_int,
)

# --- strategies of this file -------------------------------------------------------------------------------

# delta, level: strictly inside (0, 1)
BAD_OPEN_UNIT = st.one_of(BAD_POSITIVE, st.floats(min_value=1.0, max_value=1e300))
# a real scalar in [0, 1] (q of kl_inverse_upper, emp_risk)
BAD_UNIT_SCALAR = st.one_of(WRONG_KINDS, st.just(math.nan), NEGATIVE, HUGE_INTS,
                            st.floats(min_value=1.0000001, allow_nan=False))
# an array or scalar in [0, 1] (kl_bernoulli): lists and arrays of valid entries are valid, so no WRONG_KINDS
BAD_UNIT_ARRAY = st.one_of(
    NON_FINITE, NEGATIVE, HUGE_INTS, st.floats(min_value=1.0000001, max_value=1e300),
    st.sampled_from([None, "0.5", "nan", b"1", True, np.bool_(False), 1 + 2j, {}, object(),
                     np.array([0.2, 1.5]), np.array([0.2, -0.1]), [0.1, math.nan], np.array([True, False]),
                     np.array(["a"]), np.ones(2, dtype=complex), [[0.1], [0.1, 0.2]],
                     np.full(2, 10**400, dtype=object), torch.tensor([0.5, math.nan])]),
)
# a scalar that must be > 0, or an array of as many positive factors as there are hidden units (2 below)
BAD_ALPHA = st.one_of(
    NON_FINITE, NEGATIVE, HUGE_INTS, st.sampled_from([0, 0.0, -0.0]),
    st.sampled_from([None, "1.0", "x", b"1", True, np.bool_(True), 1 + 2j, {}, object(), np.ones(3),
                     np.ones((2, 2)), np.array([1.0, 0.0]), np.array([1.0, math.nan]), np.array([True, True]),
                     np.array(["a", "b"]), [1.0, -1.0], [[1.0], [1.0, 2.0]], np.full(2, 10**400, dtype=object),
                     1e-320, [1.0, 1e-320]]),  # 1e-320: W2 / alpha overflows
)
# what a callable can return instead of a real number
JUNK_SCALAR = st.sampled_from([math.nan, math.inf, -math.inf, "x", "1.0", None, True, 1 + 1j, np.ones(2), [1.0],
                               np.array([math.nan]), object(), 10**400])
# what a gradient oracle can return instead of a real vector of length 2 (non-finite entries are tolerated by
# projected gradient ascent: such a step is not taken)
JUNK_VECTOR = st.sampled_from(["x", None, np.ones(3), np.ones((2, 2)), [[1.0], [1.0, 2.0]], np.array(["a", "b"]),
                               np.full(2, 10**400, dtype=object), np.ones(2, dtype=complex),
                               np.array([True, False]), 1.0, object()])


def _bad_vector(n: int, *wrong_shapes) -> st.SearchStrategy:
    return st.one_of(bad_array((n,)), st.sampled_from(list(wrong_shapes) or [np.ones((n, 1))]))


# --- bounds ------------------------------------------------------------------------------------------------

def _kl_gauss(**kw):
    args = dict(mu_q=[1.0, 0.0], var_q=1.0, mu_p=[0.0, 0.0], var_p=1.0)
    args.update(kw)
    return B.kl_gaussians(**args)


BAD_MEAN = st.one_of(bad_array((2,)), st.sampled_from([np.ones(3), np.ones((2, 3))]))  # do not broadcast
BAD_VAR = st.one_of(bad_array((2,)), st.sampled_from([0.0, -1.0, np.array([1.0, 0.0]), np.ones(3), -np.ones(2)]))


def _sam(**kw):
    args = dict(k=10, n=100, w_norm_sq=1.0, rho=0.05, delta=0.05, sharpness_term=0.0)
    args.update(kw)
    return B.sam_pac_bayes_bound(**args)


def _nonvac(**kw):
    args = dict(k=10, w_norm_sq=1.0, rho=0.05, delta=0.05, sharpness_term=0.0)
    args.update(kw)
    return B.sam_nonvacuous_sample_size(**args)


def _grid(**kw):
    args = dict(k=10, n=100, w_norm_sq=1.0, sigma=0.01)
    args.update(kw)
    return B.sam_prior_grid_choice(**args)


def _inter(**kw):
    args = dict(k=10, n=100, w_norm_sq=1.0, sigma=0.01, delta=0.05, gibbs_emp_risk=0.1)
    args.update(kw)
    return B.sam_intermediate_bound(**args)


BAD_SIGMA = st.one_of(BAD_POSITIVE, st.sampled_from([1e-300, 1e-160, 1e160, 1e300]))  # sigma**2 not normal

M = "bounds"
BOUNDS = [
    Target(M, "kl_gaussians", "mu_q", BAD_MEAN, lambda b: _kl_gauss(mu_q=b)),
    Target(M, "kl_gaussians", "var_q", BAD_VAR, lambda b: _kl_gauss(var_q=b)),
    Target(M, "kl_gaussians", "mu_p", BAD_MEAN, lambda b: _kl_gauss(mu_p=b)),
    Target(M, "kl_gaussians", "var_p", BAD_VAR, lambda b: _kl_gauss(var_p=b)),
    Target(M, "kl_bernoulli", "q", BAD_UNIT_ARRAY, lambda b: B.kl_bernoulli(b, 0.5)),
    Target(M, "kl_bernoulli", "p", BAD_UNIT_ARRAY, lambda b: B.kl_bernoulli(0.5, b)),
    # q of shape (2,): these do not broadcast with it
    Target(M, "kl_bernoulli", "p", st.sampled_from([np.full(3, 0.5), np.full((2, 3), 0.5)]),
           lambda b: B.kl_bernoulli(np.array([0.1, 0.2]), b)),
    Target(M, "kl_inverse_upper", "q", BAD_UNIT_SCALAR, lambda b: B.kl_inverse_upper(b, 0.1)),
    Target(M, "kl_inverse_upper", "c", BAD_NONNEGATIVE, lambda b: B.kl_inverse_upper(0.1, b)),
    Target(M, "mcallester_bound", "kl", BAD_NONNEGATIVE, lambda b: B.mcallester_bound(b, 100, 0.05)),
    Target(M, "mcallester_bound", "n", bad_int(2), lambda b: B.mcallester_bound(1.0, b, 0.05)),
    Target(M, "mcallester_bound", "delta", BAD_OPEN_UNIT, lambda b: B.mcallester_bound(1.0, 100, b)),
    Target(M, "pac_bayes_kl_bound", "emp_risk", BAD_UNIT_SCALAR, lambda b: B.pac_bayes_kl_bound(b, 1.0, 100, 0.05)),
    Target(M, "pac_bayes_kl_bound", "kl", BAD_NONNEGATIVE, lambda b: B.pac_bayes_kl_bound(0.1, b, 100, 0.05)),
    Target(M, "pac_bayes_kl_bound", "n", bad_int(2), lambda b: B.pac_bayes_kl_bound(0.1, 1.0, b, 0.05)),
    Target(M, "pac_bayes_kl_bound", "delta", BAD_OPEN_UNIT, lambda b: B.pac_bayes_kl_bound(0.1, 1.0, 100, b)),
    Target(M, "sam_pac_bayes_bound", "k", bad_int(1), lambda b: _sam(k=b)),
    Target(M, "sam_pac_bayes_bound", "n", bad_int(2), lambda b: _sam(n=b)),
    Target(M, "sam_pac_bayes_bound", "w_norm_sq", BAD_NONNEGATIVE, lambda b: _sam(w_norm_sq=b)),
    Target(M, "sam_pac_bayes_bound", "rho", BAD_POSITIVE, lambda b: _sam(rho=b)),
    Target(M, "sam_pac_bayes_bound", "delta", BAD_OPEN_UNIT, lambda b: _sam(delta=b)),
    Target(M, "sam_pac_bayes_bound", "sharpness_term", BAD_NONNEGATIVE, lambda b: _sam(sharpness_term=b)),
    Target(M, "sam_nonvacuous_sample_size", "k", bad_int(1), lambda b: _nonvac(k=b)),
    Target(M, "sam_nonvacuous_sample_size", "w_norm_sq", BAD_NONNEGATIVE, lambda b: _nonvac(w_norm_sq=b)),
    Target(M, "sam_nonvacuous_sample_size", "rho", BAD_POSITIVE, lambda b: _nonvac(rho=b)),
    Target(M, "sam_nonvacuous_sample_size", "delta", BAD_OPEN_UNIT, lambda b: _nonvac(delta=b)),
    Target(M, "sam_nonvacuous_sample_size", "sharpness_term", BAD_NONNEGATIVE, lambda b: _nonvac(sharpness_term=b)),
    Target(M, "sam_nonvacuous_sample_size", "n_max",
           st.one_of(BAD_REAL, st.floats(max_value=2.0, allow_nan=False)), lambda b: _nonvac(n_max=b)),
    Target(M, "sam_noise_scale", "rho", BAD_POSITIVE, lambda b: B.sam_noise_scale(b, 10, 100)),
    Target(M, "sam_noise_scale", "k", bad_int(1), lambda b: B.sam_noise_scale(0.05, b, 100)),
    Target(M, "sam_noise_scale", "n", bad_int(2), lambda b: B.sam_noise_scale(0.05, 10, b)),
    Target(M, "laurent_massart_radius_sq", "k", bad_int(1), lambda b: B.laurent_massart_radius_sq(b, 1.0)),
    Target(M, "laurent_massart_radius_sq", "t", BAD_NONNEGATIVE, lambda b: B.laurent_massart_radius_sq(10, b)),
    Target(M, "laurent_massart_radius_sq", "sigma", st.one_of(BAD_POSITIVE, st.just(1e200)),  # sigma**2 overflows
           lambda b: B.laurent_massart_radius_sq(10, 1.0, b)),
    Target(M, "sam_prior_grid_choice", "k", bad_int(1), lambda b: _grid(k=b)),
    Target(M, "sam_prior_grid_choice", "n", bad_int(2), lambda b: _grid(n=b)),
    Target(M, "sam_prior_grid_choice", "w_norm_sq", BAD_NONNEGATIVE, lambda b: _grid(w_norm_sq=b)),
    Target(M, "sam_prior_grid_choice", "w_norm_sq", st.just(1e308),  # sigma**2 + w_norm_sq / k overflows
           lambda b: _grid(w_norm_sq=b, k=1, sigma=1e154)),
    Target(M, "sam_prior_grid_choice", "sigma", BAD_SIGMA, lambda b: _grid(sigma=b)),
    Target(M, "sam_intermediate_bound", "k", bad_int(1), lambda b: _inter(k=b)),
    Target(M, "sam_intermediate_bound", "n", bad_int(2), lambda b: _inter(n=b)),
    Target(M, "sam_intermediate_bound", "w_norm_sq", BAD_NONNEGATIVE, lambda b: _inter(w_norm_sq=b)),
    Target(M, "sam_intermediate_bound", "sigma", BAD_SIGMA, lambda b: _inter(sigma=b)),
    Target(M, "sam_intermediate_bound", "delta", BAD_OPEN_UNIT, lambda b: _inter(delta=b)),
    Target(M, "sam_intermediate_bound", "gibbs_emp_risk", BAD_NONNEGATIVE, lambda b: _inter(gibbs_emp_risk=b)),
]

# --- sharpness ---------------------------------------------------------------------------------------------

A2 = np.diag([2.0, 1.0])
G2 = np.array([1.0, -0.5])
THETA2 = np.array([3.0, 4.0])


def _sq(x):
    return float(x @ x)


def _dsq(x):
    return 2 * x


def _pga(**kw):
    args = dict(f=_sq, grad_f=_dsq, theta=THETA2, rho=0.1, num_restarts=2, num_steps=5)
    args.update(kw)
    return SH.sharpness_pga(**args)


M = "sharpness"
SHARPNESS = [
    Target(M, "sharpness_quadratic", "A", bad_array((2, 2), torch_too=True),
           lambda b: SH.sharpness_quadratic(b, G2, 0.1)),
    Target(M, "sharpness_quadratic", "A", st.sampled_from(
        [np.ones((2, 3)), np.ones(2), np.array([[1.0, 2.0], [0.0, 1.0]]), torch.tensor([[1.0, 2.0], [0.0, 1.0]]),
         np.eye(3), 2.0, torch.ones(2, 2, 2)]), lambda b: SH.sharpness_quadratic(b, G2, 0.1)),
    Target(M, "sharpness_quadratic", "g", bad_array((2,), torch_too=True),
           lambda b: SH.sharpness_quadratic(A2, b, 0.1)),
    Target(M, "sharpness_quadratic", "g", st.sampled_from([np.ones(3), np.ones((2, 1)), 1.0, torch.ones(3), []]),
           lambda b: SH.sharpness_quadratic(A2, b, 0.1)),
    Target(M, "sharpness_quadratic", "rho", st.one_of(BAD_NONNEGATIVE, st.sampled_from(
        [torch.tensor(math.nan), torch.tensor([0.1, 0.2]), torch.tensor(True), torch.tensor(-1.0)])),
           lambda b: SH.sharpness_quadratic(A2, G2, b)),
    Target(M, "sharpness_quadratic", "rho", st.just(1e200),  # the value rho^2 lambda_max / 2 is beyond float64
           lambda b: SH.sharpness_quadratic(A2, np.zeros(2), b)),
    Target(M, "sharpness_pga", "f", BAD_CALLABLE, lambda b: _pga(f=b)),
    Target(M, "sharpness_pga", "f", BAD_CALLABLE, lambda b: _pga(f=b, theta=np.zeros(0))),  # checked also at d = 0
    Target(M, "sharpness_pga", "f", JUNK_SCALAR, lambda b: _pga(f=lambda x: b)),
    Target(M, "sharpness_pga", "grad_f", BAD_CALLABLE, lambda b: _pga(grad_f=b)),
    Target(M, "sharpness_pga", "grad_f", JUNK_VECTOR, lambda b: _pga(grad_f=lambda x: b)),
    Target(M, "sharpness_pga", "theta", bad_array((2,), torch_too=True), lambda b: _pga(theta=b)),
    Target(M, "sharpness_pga", "theta", st.sampled_from([np.ones((2, 2)), torch.ones(2, 1), [[1.0, 2.0]]]),
           lambda b: _pga(theta=b)),
    Target(M, "sharpness_pga", "rho", BAD_NONNEGATIVE, lambda b: _pga(rho=b)),
    Target(M, "sharpness_pga", "rho", BAD_NONNEGATIVE, lambda b: _pga(rho=b, theta=np.zeros(0))),
    Target(M, "sharpness_pga", "num_restarts", bad_int(1), lambda b: _pga(num_restarts=b)),
    Target(M, "sharpness_pga", "num_steps", bad_int(0), lambda b: _pga(num_steps=b)),
    Target(M, "sharpness_pga", "step_size", BAD_POSITIVE, lambda b: _pga(step_size=b)),
    Target(M, "sharpness_pga", "seed", bad_int(0), lambda b: _pga(seed=b)),
    Target(M, "sharpness_pga", "p", st.one_of(BAD_P, st.sampled_from([1.5, 3.0, 10.0])), lambda b: _pga(p=b)),
]

# --- scale -------------------------------------------------------------------------------------------------

_rng = np.random.default_rng(0)
XS, YS = _rng.normal(size=(4, 3)), _rng.normal(size=(4, 2))
MODEL = SC.TwoLayerLinear(XS, YS, hidden=2)
P = MODEL.num_params  # 10
THETA_P = np.linspace(-1.0, 1.0, P)
BAD_THETA_P = _bad_vector(P, np.ones(P + 1), np.ones((P, 1)), np.ones(3), 1.0)


def _asam(**kw):
    args = dict(f=_sq, grad_f=_dsq, theta=THETA2, rho=0.1, num_restarts=2, num_steps=5)
    args.update(kw)
    return SC.adaptive_sharpness(**args)


M = "scale"
SCALE = [
    Target(M, "TwoLayerLinear", "X", st.one_of(bad_array((4, 3)), st.sampled_from([np.ones(4), np.ones((5, 3)),
                                                                                 np.ones((4, 3, 1))])),
           lambda b: SC.TwoLayerLinear(b, YS, 2)),
    Target(M, "TwoLayerLinear", "Y", st.one_of(bad_array((4, 2)), st.sampled_from([np.ones(4), np.ones((3, 2))])),
           lambda b: SC.TwoLayerLinear(XS, b, 2)),
    Target(M, "TwoLayerLinear", "hidden", bad_int(1), lambda b: SC.TwoLayerLinear(XS, YS, b)),
    Target(M, "TwoLayerLinear.unpack", "theta", BAD_THETA_P, MODEL.unpack),
    Target(M, "TwoLayerLinear.loss", "theta", BAD_THETA_P, MODEL.loss),
    Target(M, "TwoLayerLinear.grad", "theta", BAD_THETA_P, MODEL.grad),
    Target(M, "TwoLayerLinear.hvp", "theta", BAD_THETA_P, lambda b: MODEL.hvp(b, THETA_P)),
    Target(M, "TwoLayerLinear.hvp", "v", BAD_THETA_P, lambda b: MODEL.hvp(THETA_P, b)),
    Target(M, "TwoLayerLinear.hessian", "theta", BAD_THETA_P, MODEL.hessian),
    Target(M, "TwoLayerLinear.rescale", "theta", BAD_THETA_P, lambda b: MODEL.rescale(b, 2.0)),
    Target(M, "TwoLayerLinear.rescale", "alpha", BAD_ALPHA, lambda b: MODEL.rescale(THETA_P, b)),
    Target(M, "adaptive_sharpness", "f", BAD_CALLABLE, lambda b: _asam(f=b)),
    Target(M, "adaptive_sharpness", "grad_f", BAD_CALLABLE, lambda b: _asam(grad_f=b)),
    Target(M, "adaptive_sharpness", "theta", _bad_vector(2, np.ones((2, 2)), 1.0), lambda b: _asam(theta=b)),
    Target(M, "adaptive_sharpness", "theta",
           st.sampled_from([torch.ones(2, dtype=torch.bool), torch.tensor([1.0, math.nan])]), lambda b: _asam(theta=b)),
    Target(M, "adaptive_sharpness", "rho", BAD_NONNEGATIVE, lambda b: _asam(rho=b)),
    Target(M, "adaptive_sharpness", "asam_offset", BAD_NONNEGATIVE, lambda b: _asam(asam_offset=b)),
    Target(M, "adaptive_sharpness", "num_steps", bad_int(0), lambda b: _asam(num_steps=b)),  # passed on
    Target(M, "adaptive_lambda_max", "hessian", st.one_of(bad_array((2, 2)), st.sampled_from(
        [np.ones((2, 3)), np.ones(2), np.array([[1.0, 2.0], [0.0, 1.0]]), np.eye(3)])),
           lambda b: SC.adaptive_lambda_max(b, THETA2)),
    Target(M, "adaptive_lambda_max", "theta", _bad_vector(2, np.ones(3), np.ones((2, 1)), 1.0),
           lambda b: SC.adaptive_lambda_max(A2, b)),
    Target(M, "adaptive_lambda_max", "theta", st.just(np.array([1e200, 1.0])),  # T H T overflows
           lambda b: SC.adaptive_lambda_max(A2, b)),
    Target(M, "adaptive_lambda_max", "asam_offset", BAD_NONNEGATIVE, lambda b: SC.adaptive_lambda_max(A2, THETA2, b)),
]

# --- msharpness --------------------------------------------------------------------------------------------

XM, YM = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([1.0, 2.0, 2.0, 5.0])


def _loss(th, idx):
    return float(np.mean((XM[idx] @ th - YM[idx]) ** 2) / 2)


def _grad(th, idx):
    return XM[idx].T @ (XM[idx] @ th - YM[idx]) / len(idx)


def _ms(**kw):
    args = dict(loss=_loss, grad=_grad, theta=np.array([1.0]), n=4, m=2, rho=0.1, method="pga", seed=0,
                num_restarts=2, num_steps=5)
    args.update(kw)
    return MS.m_sharpness(**args)


JUNK_GRAD_1 = st.sampled_from(["x", None, np.ones(3), np.ones((1, 1, 1)), np.array(["a"]), np.ones(1, dtype=complex),
                               np.array([True]), np.full(1, 10**400, dtype=object), object(), [[1.0], [1.0, 2.0]]])

M = "msharpness"
MSHARPNESS = [
    Target(M, "batch_partition", "n", bad_int(1), lambda b: MS.batch_partition(b, 1)),
    Target(M, "batch_partition", "m", st.one_of(bad_int(1), st.sampled_from([4, 5, 7, 12])),
           lambda b: MS.batch_partition(6, b)),
    Target(M, "batch_partition", "seed", bad_int(0), lambda b: MS.batch_partition(6, 3, b)),
    Target(M, "m_sharpness_from", "batch_sharpness", BAD_CALLABLE, lambda b: MS.m_sharpness_from(b, 4, 2)),
    Target(M, "m_sharpness_from", "batch_sharpness", JUNK_SCALAR,
           lambda b: MS.m_sharpness_from(lambda idx: b, 4, 2)),
    Target(M, "m_sharpness_from", "n", bad_int(1), lambda b: MS.m_sharpness_from(lambda idx: 0.0, b, 1)),
    Target(M, "m_sharpness_from", "m", bad_int(1), lambda b: MS.m_sharpness_from(lambda idx: 0.0, 4, b)),
    Target(M, "m_sharpness_from", "seed", bad_int(0), lambda b: MS.m_sharpness_from(lambda idx: 0.0, 4, 2, b)),
    Target(M, "m_sharpness", "loss", BAD_CALLABLE, lambda b: _ms(loss=b)),
    Target(M, "m_sharpness", "loss", JUNK_SCALAR, lambda b: _ms(loss=lambda th, idx: b)),
    Target(M, "m_sharpness", "loss", JUNK_SCALAR, lambda b: _ms(loss=lambda th, idx: b, method="first-order")),
    Target(M, "m_sharpness", "grad", BAD_CALLABLE, lambda b: _ms(grad=b)),
    Target(M, "m_sharpness", "grad", JUNK_GRAD_1, lambda b: _ms(grad=lambda th, idx: b)),
    Target(M, "m_sharpness", "grad", st.one_of(JUNK_GRAD_1, st.sampled_from([np.array([math.nan]), [math.inf]])),
           lambda b: _ms(grad=lambda th, idx: b, method="first-order")),
    Target(M, "m_sharpness", "theta", _bad_vector(1, np.ones((1, 1)), 1.0), lambda b: _ms(theta=b)),
    Target(M, "m_sharpness", "n", bad_int(1), lambda b: _ms(n=b)),
    Target(M, "m_sharpness", "m", st.one_of(bad_int(1), st.sampled_from([3, 5, 8])), lambda b: _ms(m=b)),
    Target(M, "m_sharpness", "rho", BAD_NONNEGATIVE, lambda b: _ms(rho=b)),
    Target(M, "m_sharpness", "method", st.one_of(bad_choice(("pga", "first-order")), st.sampled_from(
        [np.array(["pga", "x"]), ("pga",), b"pga"])), lambda b: _ms(method=b)),
    Target(M, "m_sharpness", "seed", bad_int(0), lambda b: _ms(seed=b)),
    Target(M, "m_sharpness", "num_steps", bad_int(0), lambda b: _ms(num_steps=b)),  # passed on to sharpness_pga
]

# --- stats -------------------------------------------------------------------------------------------------

XL = np.array([1.0, 2.0, 4.0, 8.0])
YL = 3 * XL**1.5
YR = np.outer(XL**-0.5, [0.9, 1.0, 1.1])

M = "stats"
STATS = [
    Target(M, "loglog_slope", "x", st.one_of(bad_array((4,)), st.sampled_from(
        [np.ones((4, 1)), np.array([1.0, 2.0, 0.0, 4.0]), np.array([1.0, -2.0, 3.0, 4.0]), np.ones(4), np.ones(3),
         2.0])), lambda b: ST.loglog_slope(b, YL)),
    Target(M, "loglog_slope", "y", st.one_of(bad_array((4,)), st.sampled_from(
        [np.ones(3), np.ones((4, 2, 1)), np.array([1.0, 2.0, 0.0, 3.0]), -np.ones(4), np.ones((3, 2)), 1.0])),
           lambda b: ST.loglog_slope(XL, b)),
    Target(M, "loglog_slope", "y", st.sampled_from([np.outer(XL, [1.0, -1.0]), np.outer(XL, [1.0, -3.0, 1.0])]),
           lambda b: ST.loglog_slope(XL, b, n_boot=20)),  # a mean curve, or a resampled one, not > 0
    Target(M, "loglog_slope", "x_min", st.one_of(
        WRONG_KINDS.filter(lambda b: b is not None), HUGE_INTS, st.sampled_from([math.nan, math.inf, 5.0, 100.0])),
           lambda b: ST.loglog_slope(XL, YL, x_min=b)),
    Target(M, "loglog_slope", "n_boot", bad_int(0), lambda b: ST.loglog_slope(XL, YR, n_boot=b)),
    Target(M, "loglog_slope", "n_boot", st.integers(1, 50), lambda b: ST.loglog_slope(XL, YL, n_boot=b)),  # 1-D y
    Target(M, "loglog_slope", "level", st.one_of(BAD_OPEN_UNIT, st.just(1.0)),
           lambda b: ST.loglog_slope(XL, YR, n_boot=10, level=b)),
    Target(M, "loglog_slope", "seed", bad_int(0), lambda b: ST.loglog_slope(XL, YR, n_boot=10, seed=b)),
    Target(M, "paired_interval", "d", st.one_of(bad_array((4,)), st.sampled_from(
        [np.ones(1), np.ones((4, 1)), np.ones((2, 2)), 1.0, []])), lambda b: ST.paired_interval(b)),
    Target(M, "paired_interval", "level", st.one_of(BAD_OPEN_UNIT, st.just(1.0)),
           lambda b: ST.paired_interval(XL, level=b)),
    Target(M, "fieller_interval", "a", st.one_of(bad_array((4,)), st.sampled_from(
        [np.ones(1), np.ones(3), np.ones((4, 1)), 1.0])), lambda b: ST.fieller_interval(b, XL)),
    Target(M, "fieller_interval", "b", st.one_of(bad_array((4,)), st.sampled_from(
        [np.ones(5), np.ones((4, 2)), np.array([1.0, -1.0, 2.0, -2.0])])), lambda b: ST.fieller_interval(XL, b)),
    Target(M, "fieller_interval", "level", st.one_of(BAD_OPEN_UNIT, st.just(1.0)),
           lambda b: ST.fieller_interval(XL, XL + 1, level=b)),
]

TARGETS = BOUNDS + SHARPNESS + SCALE + MSHARPNESS + STATS
CASES_BY_MODULE = Counter(t.module for t in TARGETS)
PAIRS_BY_MODULE = Counter(m for m, _, _ in {(t.module, t.function, t.arg) for t in TARGETS})


def _ids(targets):
    seen = Counter()
    out = []
    for t in targets:
        seen[t.id] += 1
        out.append(pytest.param(t, id=t.id if seen[t.id] == 1 else f"{t.id}-{seen[t.id]}"))
    return out


@pytest.mark.parametrize("target", _ids(TARGETS))
@SETTINGS
@given(data=st.data())
def test_bad_input_is_refused_by_name(target, data):
    assert_refused_by_name(target, data.draw(target.strategy, label=target.arg))


def _public_callables(module):
    names = []
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) and hasattr(obj, "_fields"):  # NamedTuple results
            continue
        if isinstance(obj, type) and name in ("SamBound", "MSharpness"):  # result records
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("module", [B, SH, SC, MS, ST], ids=lambda m: m.__name__)
def test_every_public_function_is_driven(module):
    short = module.__name__.rsplit(".", 1)[-1]
    driven = {t.function.split(".")[0] for t in TARGETS if t.module == short}
    # torch_batch_loss wraps a torch model: its inputs are checked by torch itself (and its own tests)
    expected = set(_public_callables(module)) - {"torch_batch_loss"}
    assert expected <= driven, f"{short}: not driven: {sorted(expected - driven)}"


def test_every_argument_of_a_driven_function_is_driven():
    import inspect

    mods = {"bounds": B, "sharpness": SH, "scale": SC, "msharpness": MS, "stats": ST}
    driven = {(t.module, t.function, t.arg) for t in TARGETS}
    for module, function, _ in driven:
        obj = mods[module]
        for part in function.split("."):
            obj = getattr(obj, part)
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        missing = [p.name for p in params if (module, function, p.name) not in driven]
        assert not missing, f"{module}.{function}: arguments not driven: {missing}"


# --- known edges with valid input ---------------------------------------------------------------------------

def test_sam_pac_bayes_bound_with_a_tiny_rho_is_finite():
    b = B.sam_pac_bayes_bound(10, 100, 1.0, rho=1e-200, delta=0.05)
    assert math.isfinite(b.complexity) and b.complexity > 0 and b.total == b.complexity
    # the same from the logarithms by hand: 10 log(1 + 1e400 (1 + sqrt(log 100 / 10))^2) + ...
    log_ratio = 400 * math.log(10) + 2 * math.log1p(math.sqrt(math.log(100) / 10))
    num = 10 * log_ratio + 4 * math.log(100 / 0.05) + 8 * math.log(6 * 100 + 3 * 10)
    assert b.complexity == pytest.approx(math.sqrt(num / 99), rel=1e-12)


def test_mcallester_bound_with_a_subnormal_delta_is_finite():
    v = B.mcallester_bound(0, 1000, 1e-310)
    assert v == pytest.approx(math.sqrt((math.log(1000) + 310 * math.log(10)) / 1998), rel=1e-12)


@pytest.mark.parametrize("q, p, arg", [(math.nan, 0.5, "q"), (0.5, math.nan, "p"), (np.nan, np.nan, "q")])
def test_kl_bernoulli_of_nan_refuses(q, p, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        B.kl_bernoulli(q, p)


def test_sharpness_quadratic_of_a_huge_matrix_is_exact():
    res = SH.sharpness_quadratic(np.diag([1e308, 1e308]), np.zeros(2), 1.0)
    assert res.value == 5e307
    assert float(np.linalg.norm(res.epsilon)) == pytest.approx(1.0, rel=1e-15)


def test_sharpness_quadratic_of_a_tiny_radius_is_exact_and_nonzero():
    res = SH.sharpness_quadratic(np.eye(2), np.array([3.0, 4.0]), 1e-300)
    assert res.value > 0
    assert res.value == pytest.approx(5e-300, rel=1e-14)  # rho ||g|| + rho^2 / 2 (the second term is 1e-600)
    np.testing.assert_allclose(res.epsilon, [6e-301, 8e-301], rtol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sharpness_quadratic_accepts_torch(dtype):
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    g = np.array([1.0, -0.5])
    ref = SH.sharpness_quadratic(A.astype(np.float32).astype(float) if dtype == torch.float32 else A,
                                 g.astype(np.float32).astype(float) if dtype == torch.float32 else g, 0.1)
    res = SH.sharpness_quadratic(torch.tensor(A, dtype=dtype), torch.tensor(g, dtype=dtype), 0.1)
    assert isinstance(res.epsilon, np.ndarray)
    assert res.value == ref.value
    np.testing.assert_array_equal(res.epsilon, ref.epsilon)
    assert SH.sharpness_quadratic(A, g, torch.tensor(0.1, dtype=torch.float64)).value == \
        SH.sharpness_quadratic(A, g, 0.1).value


@pytest.mark.parametrize("theta", [np.zeros(0), [], torch.zeros(0, dtype=torch.float64)])
def test_sharpness_pga_of_an_empty_theta_is_zero(theta):
    res = SH.sharpness_pga(_sq, _dsq, theta, rho=0.1)
    assert res.value == 0.0 and res.epsilon.shape == (0,)


def test_sam_nonvacuous_sample_size_with_the_largest_n_max_is_finite():
    ref = B.sam_nonvacuous_sample_size(10, 1.0, 0.05, 0.05)
    assert math.isfinite(ref)
    assert B.sam_nonvacuous_sample_size(10, 1.0, 0.05, 0.05, n_max=1e308) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("n, delta", [(10**18, 1e-300), (2**62, 1e-300), (10**6, 5e-324)])
def test_sam_intermediate_bound_at_extreme_n_and_delta_is_finite_or_refused(n, delta):
    try:
        out = B.sam_intermediate_bound(1, n, 0.0, 1.0, delta)
    except ValueError as err:
        assert any(name in str(err) for name in ("n", "delta", "sigma", "k")), err
        return
    for key in ("kl", "kl_relaxed", "log_term", "log_term_relaxed", "gap", "gap_relaxed", "total"):
        assert math.isfinite(out[key]), (key, out[key])
    assert out["log_term"] > 0  # log(n / delta_j) with delta_j < 1 < n
    assert out["log_term"] <= out["log_term_relaxed"] * (1 + 1e-12)  # the relaxation of the proof holds


def test_counts():
    assert set(CASES_BY_MODULE) == {"bounds", "sharpness", "scale", "msharpness", "stats"}
    assert min(PAIRS_BY_MODULE.values()) >= 6
