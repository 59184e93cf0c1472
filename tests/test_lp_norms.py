"""Tests of samlib.studies.lp_norms: the radius matching, the equivalence test, the record check."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from samlib.ascent import ascent_direction
from samlib.studies import lp_norms


def test_num_params_of_the_review_network_on_digits():
    assert lp_norms.num_params(64, (500, 300)) == 64 * 500 + 500 + 500 * 300 + 300 + 3010


def test_linf_radius_gives_a_step_as_long_as_sams():
    g = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rho = 0.1
    step = ascent_direction(g, lp_norms.radius("sam-linf", rho, g.numel()), math.inf)
    assert float(step.norm()) == pytest.approx(rho, rel=1e-12)
    assert lp_norms.radius("sam", rho, 1000) == rho == lp_norms.radius("asam", rho, 1000)
    with pytest.raises(ValueError, match="method"):
        lp_norms.radius("sam-l1", rho, 10)


def test_tost_is_two_one_sided_t_tests():
    d = np.array([0.001, -0.002, 0.0005, 0.001, 0.0])
    out = lp_norms.tost_paired(d, 0.005)
    se = d.std(ddof=1) / np.sqrt(5)
    assert out["p_lower"] == pytest.approx(stats.t.sf((d.mean() + 0.005) / se, 4))
    assert out["p_upper"] == pytest.approx(stats.t.cdf((d.mean() - 0.005) / se, 4))
    assert out["p_tost"] == max(out["p_lower"], out["p_upper"]) < 0.05
    # equivalence at 5% <=> the 90% interval lies inside the margins
    assert -0.005 < out["lo"] < out["hi"] < 0.005
    # it can fail: a shift by the margin is not equivalent
    shifted = lp_norms.tost_paired(d + 0.005, 0.005)
    assert shifted["p_tost"] > 0.05 and shifted["hi"] > 0.005


def test_tost_rejects_bad_input():
    with pytest.raises(ValueError, match="diff"):
        lp_norms.tost_paired([0.1], 0.5)
    with pytest.raises(ValueError, match="margin"):
        lp_norms.tost_paired([0.1, 0.2], -0.5)
    with pytest.raises(ValueError, match="alpha"):
        lp_norms.tost_paired([0.1, 0.2], 0.5, alpha=0.7)


def test_compare_short_runs_sees_a_difference():
    rec = {"short_runs": {"sam": {"test_loss": [0.5, 0.25], "test_acc": [0.9, 0.8]}}}
    same = lp_norms.compare_short_runs(rec, rec["short_runs"])
    assert same == {"max_rel_loss": 0.0, "max_abs_acc": 0.0}
    other = {"sam": {"test_loss": [0.5, 0.25 * (1 + 1e-9)], "test_acc": [0.9, 0.8]}}
    assert lp_norms.compare_short_runs(rec, other)["max_rel_loss"] == pytest.approx(1e-9, rel=1e-6)


def test_short_runs_are_reproducible_on_a_small_network():
    protocol = dict(lp_norms.PROTOCOL, hidden=(12,), short_budget=20, short_seeds=(0,))
    rhos = {"sam": 0.1, "sam-linf": 0.1, "asam": 1.0}
    a = lp_norms.short_runs(protocol, rhos)
    b = lp_norms.short_runs(protocol, rhos)
    assert set(a) == {"sam", "sam-linf", "asam", "sgd"}
    assert a == b
    # the methods differ
    assert a["sam"]["test_loss"] != a["sam-linf"]["test_loss"] != a["asam"]["test_loss"]


def test_extend_tuning_merges_the_grid_and_rechooses():
    protocol = dict(lp_norms.PROTOCOL, hidden=(12,), tune_budget=20)
    grids = {"sam-linf": (0.01, 0.3)}
    tuned = lp_norms.tune_rho(protocol, grids, workers=1, methods=("sam-linf",))
    record = {"protocol": protocol, "tuning": tuned, "chosen_rho": {"sam-linf": tuned["sam-linf"]["chosen"]}}
    out = lp_norms.extend_tuning(record, "sam-linf", [0.03, 0.001], workers=1)
    t = out["tuning"]["sam-linf"]
    assert t["grid"] == [0.001, 0.01, 0.03, 0.3]
    assert np.asarray(t["val_loss"]).shape == (2, 4)
    # the stored columns are kept, the new ones equal a direct tuning of those values
    assert np.asarray(t["val_loss"])[:, [1, 3]].tolist() == tuned["sam-linf"]["val_loss"]
    direct = lp_norms.tune_rho(protocol, {"sam-linf": (0.001, 0.03)}, workers=1, methods=("sam-linf",))
    np.testing.assert_allclose(np.asarray(t["val_loss"])[:, [0, 2]], direct["sam-linf"]["val_loss"], rtol=1e-12)
    assert t["chosen"] == t["grid"][int(np.argmin(np.mean(t["val_loss"], axis=0)))] == out["chosen_rho"]["sam-linf"]
    assert record["tuning"]["sam-linf"]["grid"] == [0.01, 0.3]  # the input is not modified
    with pytest.raises(ValueError, match="add nothing"):
        lp_norms.extend_tuning(record, "sam-linf", [0.01], workers=1)
    with pytest.raises(ValueError, match="method"):
        lp_norms.extend_tuning(record, "sgd", [0.1], workers=1)
    with pytest.raises(ValueError, match="methods"):
        lp_norms.tune_rho(protocol, grids, workers=1, methods=("adam",))
