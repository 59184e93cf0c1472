"""samlib.stability (the SAM edge) and the Part II theory studies (Wen-Ma-Li drift, edge and sparsity runs)."""
import math

import numpy as np
import pytest

from samlib.stability import gd_edge, sam_edge
from samlib.studies.implicit_bias import wen_ma_li_problem
from samlib.studies.oq_implicit_bias import manifold_drift, manifold_gradients


def test_sam_edge_is_the_root_of_the_stability_condition():
    g = np.logspace(-4, 2, 13)
    for lr, rho in ((0.2, 0.05), (0.01, 1.0), (1.0, 1e-4)):
        lam = sam_edge(g, lr, rho)
        np.testing.assert_allclose(1 - lr * lam * (1 + rho * lam / g), -1.0, atol=1e-12)
        naive = g / (2 * rho) * (np.sqrt(1 + 8 * rho / (lr * g)) - 1)
        np.testing.assert_allclose(lam, naive, rtol=1e-6)
        assert np.all(lam < gd_edge(lr)) and np.all(np.diff(lam) > 0)


def test_sam_edge_limits_and_zero_gradient():
    assert sam_edge(1.0, 0.1, 0.0) == gd_edge(0.1) == 20.0
    assert sam_edge(0.0, 0.1, 0.5) == 0.0  # the limit, not NaN
    assert math.isclose(sam_edge(1e12, 0.1, 0.5), 20.0, rel_tol=1e-9)
    out = sam_edge(np.array([0.0, 1.0]), 0.1, 0.05)
    assert out.shape == (2,) and np.all(np.isfinite(out))


@pytest.mark.parametrize("args, exc, word", [
    ((-1.0, 0.1, 0.1), ValueError, "grad_norm"),
    ((np.nan, 0.1, 0.1), ValueError, "grad_norm"),
    ((1.0, 0.0, 0.1), ValueError, "lr"),
    ((1.0, 0.1, -0.1), ValueError, "rho"),
    ((1.0, "a", 0.1), TypeError, "lr"),
])
def test_sam_edge_validation(args, exc, word):
    with pytest.raises(exc, match=word):
        sam_edge(*args)


def test_manifold_gradients_match_the_closed_form():
    loss, _ = wen_ma_li_problem()
    p = np.array([[0.3, -0.2], [0.6, 0.4]])
    g = manifold_gradients(loss, p)
    # lambda_max = 2 F1 = 2(6 + (x1-1)^2 + x2^2); trace = 2(F1 + F2)
    np.testing.assert_allclose(g["lambda_max"], np.c_[4 * (p[:, 0] - 1), 4 * p[:, 1]], atol=1e-6)
    np.testing.assert_allclose(g["trace"], np.c_[8 * p[:, 0], 8 * p[:, 1]], atol=1e-6)


@pytest.mark.parametrize("method", ["full", "one"])
def test_drift_on_the_manifold_is_zero_not_nan(method):
    loss, examples = wen_ma_li_problem()
    d = manifold_drift(loss, examples, np.array([[0.5, 0.0]]), 0.005, 0.1, 20, (0, 20), method,
                       num_seeds=2, offset=0.0)
    assert np.all(d == 0)


def test_full_batch_drift_follows_minus_grad_lambda_max():
    loss, examples = wen_ma_li_problem()
    p = np.array([[0.5, 0.0]])
    d = manifold_drift(loss, examples, p, 0.005, 0.3, 600, (200, 600), "full")
    assert d[0, 0] > 0 and abs(d[0, 1]) < 1e-12  # towards x1 = 1, where lambda_max is smallest


@pytest.mark.parametrize("kwargs, word", [
    ({"method": "half"}, "method"),
    ({"window": (5, 2)}, "window"),
    ({"points": np.zeros((2, 3))}, "points"),
    ({"lr": 0.0}, "lr"),
])
def test_drift_validation(kwargs, word):
    loss, examples = wen_ma_li_problem()
    args = {"points": np.zeros((1, 2)), "lr": 0.01, "rho": 0.1, "num_steps": 5, "window": (0, 5),
            **kwargs}
    with pytest.raises(ValueError, match=word):
        manifold_drift(loss, examples, **args)


def test_edge_run_records_the_edge_at_its_gradient_norm():
    from samlib.studies.oq_sam_edge import edge_ratios, sam_edge_run

    rec = sam_edge_run({"rho": 0.05, "lr": 0.2, "num_steps": 4, "every": 2, "n_train": 40,
                        "width": 4, "seed": 0})
    assert rec["step"] == [0, 2, 4]
    np.testing.assert_allclose(rec["sam_edge"], sam_edge(np.array(rec["grad_norm"]), 0.2, 0.05))
    r = edge_ratios(rec)
    assert len(r["to_sam_edge"]) == 2 and np.all(np.isfinite(r["to_gd_edge"]))


def test_network_run_tracks_lambda_max_and_trace():
    from samlib.studies.oq_implicit_bias import network_sharpness_run

    cfg = {"n": 4, "in_dim": 2, "width": 3, "gd_lr": 0.05, "gd_steps": 5, "lr": 0.02, "rho": 0.05,
           "every": 2, "num_probes": 8, "num_steps": 2, "method": "one", "seed": 0}
    rec = network_sharpness_run(cfg)
    assert rec["num_params"] == 3 * 2 + 3 + 3 + 1
    assert len(rec["lambda_max"]) == 2 and all(np.isfinite(rec["trace"]))


def test_sparsity_run_reports_matched_loss():
    from samlib.studies.oq_sparsity import sparsity_run

    cfg = {"n": 8, "d": 12, "k": 2, "alpha": 0.1, "lr": 0.05, "target_loss": 1e-3,
           "max_steps": 20000, "method": "sam1", "rho": 0.02, "normalized": True, "seed": 0}
    out = sparsity_run(cfg)
    assert out["reached"] and out["train_loss"] <= 1e-3 and out["l1"] > 0
