"""Tests of samlib.studies.oq_jacobian: SAM's two halves on the MNIST protocol's noisy labels.

The halves themselves (the trainer's "sam-logit" and "sam-jacobian") are tested against torch.func
in tests/test_experiments.py; here: the study's configurations, its records and its statistics.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from records import assert_record_provenance
from samlib.studies import mnist_protocol as mp
from samlib.studies import oq_jacobian as oj

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_configs_cover_every_method_noise_level_and_split_at_sams_settings():
    configs = oj.configs()
    assert len(configs) == len(oj.METHODS) * len(mp.NOISE) * 3 == 12
    combos = {(c["method"], c["label_noise"], c["split"]) for c in configs}
    assert combos == {(m, f, s) for m in oj.METHODS for f in mp.NOISE for s in (0, 1, 2)}
    sam = {(r["config"]["label_noise"], r["config"]["split"]): r["config"] for r in oj.sam_records()}
    for c in configs:
        ref = sam[(c["label_noise"], c["split"])]
        # everything but the method is SAM's: learning rate, radius, seeds, budget, data
        assert {k: v for k, v in c.items() if k != "method"} == {k: v for k, v in ref.items() if k != "method"}
        assert c["seeds"] == [0, 1, 2, 3, 4] and c["grad_budget"] == mp.SECONDARY_BUDGET
        assert c["part"] == "test+val"


def test_records_exist_for_every_configuration_with_the_pinned_versions():
    recs = oj.half_records()
    assert len(recs) == 12
    paths = sorted(Path(oj.STORE).glob("*.json"))
    assert len(paths) == 12  # no stray record
    for path in paths:
        rec = assert_record_provenance(path, oj.RUN)
        acc = np.asarray(rec["result"]["metrics"]["test_acc"], float)
        assert np.isfinite(acc).all() and acc.shape == (13, 5)


def test_runs_are_paired_and_measure_reports_every_comparison():
    runs = oj.noisy_runs()
    assert set(runs) == set(mp.NOISE)
    measured, lines = oj.measure(runs)
    for k in (20, 40):
        for key, _, _ in oj.COMPARISONS:
            for suffix in ("", "_best"):
                lo, mid, hi = (measured[f"{key}{suffix}{p}_{k}"] for p in ("_lo", "", "_hi"))
                assert lo <= mid <= hi and np.isfinite([lo, hi]).all()
    assert measured["splits"] == 3 and measured["seeds"] == 5
    assert len(lines) == 2 * (1 + 2 * len(oj.COMPARISONS))


def test_accuracy_difference_of_a_run_with_itself_is_zero_and_bad_at_raises():
    recs = oj.noisy_runs()[0.2]["SAM"]
    iv = oj.accuracy_difference(recs, recs, at="best")
    assert (iv.mean, iv.low, iv.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at"):
        oj.accuracy_difference(recs, recs, at="last")


def test_run_refuses_other_methods():
    config = dict(oj.configs()[0], method="sam")
    with pytest.raises(ValueError, match="method"):
        oj.run(config)
    with pytest.raises(TypeError, match="config"):
        oj.run([("method", "sam-jacobian")])
    with pytest.raises(ValueError, match="methods"):
        oj.configs(methods=("sgd",))


def test_run_is_deterministic_and_a_zero_radius_is_sgd():
    tiny = {"dataset": "digits", "split": 1, "part": "validation", "seeds": [0, 1], "lr": 0.1,
            "eval_every": 10, "dtype": "float64", "label_noise": 0.2}
    a = oj.run(dict(tiny, method="sam-jacobian", rho=0.05, grad_budget=20))
    assert a == oj.run(dict(tiny, method="sam-jacobian", rho=0.05, grad_budget=20))
    sgd = mp.run(dict(tiny, method="sgd", grad_budget=10))
    for method in oj.METHODS:
        zero = oj.run(dict(tiny, method=method, rho=0.0, grad_budget=20))
        assert zero["metrics"]["val_loss"][-1] == sgd["metrics"]["val_loss"][-1]
        assert zero["steps"] == sgd["steps"] == 10
