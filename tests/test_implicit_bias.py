"""samlib.studies.implicit_bias: the Wen-Ma-Li problem, its examples, the 1-SAM oracle and manifold sharpness."""
from __future__ import annotations

import numpy as np
import pytest

from samlib.studies.implicit_bias import (
    LAMBDA_MAX_ARGMIN,
    TRACE_ARGMIN,
    manifold_sharpness,
    one_example_oracle,
    wen_ma_li_problem,
)


def test_examples_average_to_the_loss():
    full, (e1, e2) = wen_ma_li_problem()
    pts = np.random.default_rng(0).normal(size=(20, 4))
    np.testing.assert_allclose(0.5 * (e1.value(pts) + e2.value(pts)), full.value(pts), rtol=1e-12)
    np.testing.assert_allclose(0.5 * (e1.grad(pts) + e2.grad(pts)), full.grad(pts), rtol=1e-12, atol=1e-12)


def test_manifold_sharpness_minimisers():
    full, _ = wen_ma_li_problem()
    x1 = np.linspace(-1.0, 1.2, 2201)
    pts = np.stack([x1, np.zeros_like(x1)], axis=-1)
    s = manifold_sharpness(full, pts)
    assert abs(x1[np.argmin(s["lambda_max"])] - LAMBDA_MAX_ARGMIN[0]) < 2e-3
    assert abs(x1[np.argmin(s["trace"])] - TRACE_ARGMIN[0]) < 2e-3
    # off the x2 = 0 line both grow
    off = manifold_sharpness(full, np.array([[0.0, 0.3], [1.0, 0.3]]))
    on = manifold_sharpness(full, np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert np.all(off["trace"] > on["trace"]) and np.all(off["lambda_max"] > on["lambda_max"])


def test_oracle_is_unbiased_and_seeded():
    full, ex = wen_ma_li_problem()
    oracle = one_example_oracle(ex)
    theta = np.array([0.2, -0.1, 0.3, -0.4])
    rng = np.random.default_rng(3)
    mean = np.mean([oracle(theta, rng) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, full.grad(theta), rtol=0.1, atol=0.05)
    a = [oracle(theta, np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: one_example_oracle(()), "empty"),
        (lambda: manifold_sharpness(wen_ma_li_problem()[0], np.zeros(3)), "shape"),
        (lambda: manifold_sharpness(wen_ma_li_problem()[0], [[np.nan, 0.0]]), "non-finite"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
