"""Part II, §3.5: the sharpness-correlation family (records, run function, rank statistics)."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from scipy import stats

from records import assert_record_provenance
from samlib.studies import oq_correlation as oc

TINY = {"split": 0, "lr": 0.1, "batch": 10, "rho": 0.05, "seeds": [0, 1], "lengths": [20, 40],
        "hidden": [8],
        "measure": {"rho_worst": 0.05, "rho_adaptive": 0.05, "pga_restarts": 1, "pga_steps": 2,
                    "trace_probes": 4, "lanczos_tol": 1e-3}}


# -- the records ------------------------------------------------------------------------------

def test_every_configuration_of_the_family_has_its_record():
    configs = oc.stage_configs()
    # 3 lr x 2 batch x 3 rho, for each of two seed pairs; two seeds and two lengths each
    assert len(configs) == 36
    assert [c["seeds"] for c in configs[:: len(configs) // 2]] == [[0, 1], [2, 3]]
    recs = oc.records()  # raises FileNotFoundError if one is missing
    net = oc.networks(recs)
    assert len(net["gap"]) == 144
    assert sorted(set(net["seed"].tolist())) == oc.GRID["seed"]
    for factor in oc.FACTORS:
        assert sorted(set(net[factor].tolist())) == sorted(oc.GRID[factor])
    assert np.allclose(net["gap"], net["test_loss"] - net["train_loss"])


def test_records_belong_to_the_run_function_and_the_pinned_versions():
    paths = sorted(pathlib.Path(oc.STORE).glob("*.json"))
    assert len(paths) == len(oc.stage_configs())  # no stray records
    for path in paths:
        assert_record_provenance(path, oc.RUN, ("torch", "numpy", "scipy"))


def test_every_configuration_of_the_common_loss_family_has_its_record():
    configs = oc.common_configs()
    assert len(configs) == 36 and all("lengths" not in c and c["common"] == oc.COMMON for c in configs)
    recs = oc.common_records()  # raises FileNotFoundError if one is missing
    net = oc.networks(recs)
    unreached = sum(len(r["result"]["unreached"]) for r in recs)
    assert len(net["gap"]) + unreached == 72  # one network per setting and seed
    # every network stopped at the first check at which its training loss was at most the target,
    # and the network measured is that one (the loss recomputed after training it alone)
    assert np.all(net["loss_at_check"] <= oc.COMMON["loss"])
    assert np.all(net["length"] % oc.COMMON["every"] == 0) and np.all(net["length"] <= oc.COMMON["cap"])
    np.testing.assert_allclose(net["train_loss"], net["loss_at_check"], rtol=1e-10)
    paths = sorted(pathlib.Path(oc.COMMON_STORE).glob("*.json"))
    assert len(paths) == len(configs)  # no stray records
    for path in paths:
        assert_record_provenance(path, oc.COMMON_RUN, ("torch", "numpy", "scipy"))


# -- the run function --------------------------------------------------------------------------

def test_run_is_deterministic_json_able_and_measures_every_network():
    a, b = oc.run(TINY), oc.run(TINY)
    assert a == b
    assert json.loads(json.dumps(a)) == a
    nets = a["networks"]
    assert [(n["length"], n["seed"]) for n in nets] == [(20, 0), (20, 1), (40, 0), (40, 1)]
    for n in nets:
        for m in (*oc.MEASURES, "train_loss", "test_loss"):
            assert np.isfinite(n[m]), m
        assert n["worst_case"] >= 0 and n["adaptive"] >= 0  # epsilon = 0 is a candidate


def test_a_short_run_is_the_start_of_a_long_one():
    short = oc.run(dict(TINY, lengths=[20]))
    assert short["networks"] == oc.run(TINY)["networks"][:2]


def test_bad_configs_are_refused_by_name():
    with pytest.raises(TypeError, match="config"):
        oc.run([("lr", 0.1)])
    with pytest.raises(ValueError, match="lengths"):
        oc.run({k: v for k, v in TINY.items() if k != "lengths"})
    with pytest.raises(ValueError, match="lengths"):
        oc.run(dict(TINY, lengths=[40, 20]))
    with pytest.raises(ValueError, match="split"):
        oc.stage_configs(-1)


# -- the rank statistics -----------------------------------------------------------------------

def _grid():
    """a in {0, 1, 2} x b in {0, 1} x c in {0, 1, 2, 3}: y = a + 10 b + c/100, x = a - 10 b."""
    a, b, c = (g.ravel() for g in np.meshgrid([0, 1, 2], [0, 1], [0, 1, 2, 3], indexing="ij"))
    return a, b, c, a + 10.0 * b + c / 100, a - 10.0 * b


def test_granulated_tau_on_a_grid_with_known_answers():
    a, b, c, y, x = _grid()
    factors = {"a": a, "b": b, "c": c}
    # x and y rise together with a: tau = 1 in every group, so psi = 1 with the interval [1, 1]
    assert oc.granulated_tau(x, y, factors, "a") == pytest.approx((1, 1, 1, 8))
    # with b, x falls while y rises: psi = -1
    assert oc.granulated_tau(x, y, factors, "b") == pytest.approx((-1, -1, -1, 12))
    # c moves y only: x is constant in every group, no group orders a pair
    with pytest.raises(ValueError, match="no group"):
        oc.granulated_tau(x, y, factors, "c")


def test_granulated_tau_averages_group_taus_with_an_interval_around_them():
    rng = np.random.default_rng(0)
    a = np.repeat(np.arange(12), 5)  # 12 groups of 5 points differing in "k" only
    k = np.tile(np.arange(5), 12)
    x = k + rng.normal(0, 1.0, size=60)
    y = k + rng.normal(0, 1.0, size=60)
    taus = oc.group_taus(x, y, {"a": a, "k": k}, "k")
    assert len(taus) == 12
    assert taus[0] == pytest.approx(stats.kendalltau(x[:5], y[:5]).statistic)
    psi, lo, hi, n = oc.granulated_tau(x, y, {"a": a, "k": k}, "k")
    assert n == 12 and psi == pytest.approx(taus.mean()) and lo < psi < hi


def test_kendall_interval_covers_and_resamples_clusters():
    rng = np.random.default_rng(1)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    tau, lo, hi = oc.kendall_interval(x, y, n_resamples=500)
    assert tau == stats.kendalltau(x, y).statistic
    assert 0.2 < lo < tau < hi < 0.7
    # duplicated points are one observation each: resampled as pairs, the interval is wider
    _, lo2, hi2 = oc.kendall_interval(np.repeat(x, 2), np.repeat(y, 2),
                                      clusters=np.repeat(np.arange(80), 2), n_resamples=500)
    _, lo3, hi3 = oc.kendall_interval(np.repeat(x, 2), np.repeat(y, 2), n_resamples=500)
    assert hi2 - lo2 > hi3 - lo3
    assert oc.kendall_interval(np.arange(10.0), np.arange(10.0) ** 3) == pytest.approx((1, 1, 1))


@pytest.mark.parametrize("call,match", [
    (lambda: oc.kendall_interval([1, 2, 3], [1, 2]), "equal length"),
    (lambda: oc.kendall_interval([1, 2], [1, 2]), "at least 3"),
    (lambda: oc.kendall_interval([1, 2, np.nan], [1, 2, 3]), "finite"),
    (lambda: oc.kendall_interval([1, 2, 3, 4], [1, 2, 3, 4], level=1.5), "level"),
    (lambda: oc.kendall_interval([1, 2, 3, 4], [1, 2, 3, 4], n_resamples=10), "n_resamples"),
    (lambda: oc.kendall_interval([1, 2, 3, 4], [1, 2, 3, 4], clusters=[0, 0, 1, 1]), "clusters"),
    (lambda: oc.kendall_interval([1, 2, 3, 4], [1, 2, 3, 4], clusters=[0, 1]), "clusters"),
    (lambda: oc.group_taus([1, 2, 3], [1, 2, 3], {"a": [0, 1, 2]}, "b"), "factor"),
    (lambda: oc.group_taus([1, 2, 3], [1, 2, 3], {"a": [0, 1]}, "a"), "factors"),
    (lambda: oc.networks([]), "recs"),
])
def test_bad_inputs_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_run_common_stops_each_member_at_its_first_check_below_the_loss():
    cfg = {k: v for k, v in TINY.items() if k != "lengths"}
    out = oc.run_common(dict(cfg, common={"loss": 2.0, "every": 10, "cap": 200}))
    assert out["unreached"] == [] and [n["seed"] for n in out["networks"]] == [0, 1]
    longer = oc.run_common(dict(cfg, common={"loss": 1.5, "every": 10, "cap": 400}))
    for a, b in zip(out["networks"], longer["networks"]):
        assert a["length"] % 10 == 0 and a["loss_at_check"] <= 2.0
        assert a["train_loss"] == pytest.approx(a["loss_at_check"], rel=1e-12)  # trained alone to T
        assert b["length"] >= a["length"]  # a lower target is reached no earlier
    never = oc.run_common(dict(cfg, common={"loss": 1e-6, "every": 10, "cap": 20}))
    assert never == {"networks": [], "unreached": [0, 1]}
    with pytest.raises(ValueError, match="common"):
        oc.run_common(dict(cfg, common={"loss": 0.0, "every": 10, "cap": 20}))
    with pytest.raises(ValueError, match="lacks"):
        oc.run_common(cfg)


def test_tau_table_is_kendall_and_granulated_tau_per_measure():
    rng = np.random.default_rng(0)
    n = 24
    nets = {"a": np.repeat([0, 1, 2], 8), "b": np.tile(np.repeat([0, 1], 4), 3), "seed": np.tile([0, 1, 2, 3], 6),
            "gap": rng.normal(size=n)}
    for m in oc.MEASURES:
        nets[m] = nets["gap"] + rng.normal(size=n)
    table = oc.tau_table(nets, ("a", "b"), level=0.9, n_resamples=200)
    assert list(table) == list(oc.MEASURES) and all(list(r) == ["all", "a", "b"] for r in table.values())
    groups = {k: nets[k] for k in ("a", "b", "seed")}
    m = oc.MEASURES[0]
    assert table[m]["all"] == oc.kendall_interval(nets[m], nets["gap"], level=0.9, n_resamples=200)
    assert table[m]["b"] == oc.granulated_tau(nets[m], nets["gap"], groups, "b", level=0.9, n_resamples=200)[:3]
    text = oc.format_tau_table(table).splitlines()
    assert len(text) == 1 + len(oc.MEASURES) and "all networks" in text[0]
    assert f"{table[m]['all'][0]:+.2f}" in text[1]
