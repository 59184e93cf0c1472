"""The MNIST protocol as a recorded sweep: runs are deterministic, prefixes replay, stages chain."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from records import assert_record_provenance
from samlib import sweeps
from samlib.studies import mnist_protocol as mp

ROOT = pathlib.Path(__file__).resolve().parent.parent
STORE = ROOT / "book" / "data" / "experiments" / "mnist5k"
DIGITS_STORE = ROOT / "book" / "data" / "experiments" / "digits"
TINY = {"dataset": "digits", "split": 1, "part": "validation", "seeds": [0, 1], "lr": [0.1, 0.3],
        "method": "sgd", "grad_budget": 40, "eval_every": 20}


def test_run_is_deterministic_and_json_able():
    a, b = mp.run(TINY), mp.run(TINY)
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert a["grad_evals"] == [0, 20, 40]
    assert set(a["metrics"]) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(row) == 2 for row in a["metrics"]["val_loss"])  # one value per member


@pytest.mark.parametrize("method,extra", [("sgd", {}), ("sam", {"rho": 0.05}), ("adam", {"lr": 1e-3})])
def test_a_short_run_is_the_start_of_a_long_one(tmp_path, method, extra):
    config = dict(TINY, method=method, **extra)
    (record,) = sweeps.run_sweep(mp.RUN, [config], tmp_path, n_jobs=1, progress=False)
    mp.replay_prefix(record, 20)  # bit-equal on this machine
    tampered = json.loads(json.dumps(record))
    tampered["result"]["metrics"]["val_loss"][1][0] += 1e-9
    with pytest.raises(sweeps.ReplayMismatch, match="val_loss"):
        mp.replay_prefix(tampered, 20)
    with pytest.raises(ValueError, match="grad_evals"):
        mp.replay_prefix(record, 30)


def test_label_noise_and_test_parts():
    r = mp.run(dict(TINY, part="test+val", label_noise=0.4, lr=0.1))
    assert {"train_loss", "val_loss", "test_loss"} <= set(r["metrics"])
    clean = mp.run(dict(TINY, part="test+val", lr=0.1))
    assert r["metrics"]["train_loss"] != clean["metrics"]["train_loss"]
    assert set(mp.run(dict(TINY, part="test", lr=0.1))["metrics"]) == {
        "train_loss", "train_acc", "test_loss", "test_acc"}


def test_choose_takes_the_lowest_validation_loss_and_counts_nan_as_worst():
    rec = {"config": {"lr": [0.1, 0.3, 1.0]},
           "result": {"metrics": {"val_loss": [[1, 1, 1], [0.5, float("nan"), 0.7]]}}}
    assert mp.choose(rec, "lr") == 0.1


def test_later_stages_need_the_earlier_records(tmp_path):
    tune = mp.stage_configs("tune", tmp_path, splits=[0])
    assert [c["method"] for c in tune] == ["sgd", "adam"]
    assert all(c["part"] == "validation" for c in tune)  # nothing is tuned on test images
    with pytest.raises(FileNotFoundError):
        mp.stage_configs("main", tmp_path, splits=[0])


def test_stages_chain_through_the_records(tmp_path):
    """Fake tuning records: the main stage uses their choices, and test parts only there."""
    for c in mp.stage_configs("tune", tmp_path, splits=[0]):
        best = 2 if c["method"] == "sgd" else 1
        loss = [[1.0] * 4, [1.0 if i != best else 0.1 for i in range(4)]]
        sweeps._write_atomic(tmp_path / f"{sweeps.config_key(c)}.json",
                             {"config": c, "result": {"metrics": {"val_loss": loss}}})
    rho_stage = mp.stage_configs("tune-rho", tmp_path, splits=[0])
    assert {c["lr"] for c in rho_stage} == {mp.GRIDS["sgd"][2]}
    for c in rho_stage:
        loss = [[1.0] * 4, [0.1, 1.0, 1.0, 1.0]]
        sweeps._write_atomic(tmp_path / f"{sweeps.config_key(c)}.json",
                             {"config": c, "result": {"metrics": {"val_loss": loss}}})
    main = mp.stage_configs("main", tmp_path, splits=[0], seeds=[0, 1])
    assert [(c["method"], c["lr"], c.get("rho")) for c in main] == [
        ("sgd", mp.GRIDS["sgd"][2], None), ("adam", mp.GRIDS["adam"][1], None),
        ("sam", mp.GRIDS["sgd"][2], mp.GRIDS["rho"][0])]
    assert all(c["part"] == "test" for c in main)
    with pytest.raises(FileNotFoundError):  # label noise needs its own tuning records
        mp.stage_configs("label-noise", tmp_path, splits=[0])
    tune_noise = mp.stage_configs("tune-noise", tmp_path, splits=[0])
    assert len(tune_noise) == 2 * len(mp.NOISE)
    assert all(c["part"] == "validation" and c["label_noise"] in mp.NOISE for c in tune_noise)
    for c in tune_noise:  # noisy labels choose other values than clean ones: the last grid value
        loss = [[1.0] * 4, [1.0, 1.0, 1.0, 0.1]]
        sweeps._write_atomic(tmp_path / f"{sweeps.config_key(c)}.json",
                             {"config": c, "result": {"metrics": {"val_loss": loss}}})
    noise = mp.stage_configs("label-noise", tmp_path, splits=[0], seeds=[0, 1])
    assert [(c["method"], c["lr"], c.get("rho"), c["label_noise"]) for c in noise] == [
        (m, lr, rho, frac) for frac in mp.NOISE for m, lr, rho in
        (("sgd", mp.GRIDS["sgd"][3], None), ("sam", mp.GRIDS["sgd"][2], mp.GRIDS["rho"][3]))]
    assert all(c["part"] == "test+val" for c in noise)
    ssam = mp.stage_configs("ssam", tmp_path, splits=[0], seeds=[0, 1])
    assert [c["method"] for c in ssam] == ["ssam-f", "ssam-d"]
    assert all(c["rho"] == mp.GRIDS["rho"][0] and c["part"] == "test" for c in ssam)


def test_bad_configs_are_refused_by_name():
    with pytest.raises(ValueError, match="part"):
        mp.run(dict(TINY, part="train"))
    with pytest.raises(ValueError, match="dtype"):
        mp.run(dict(TINY, dtype="float16"))
    with pytest.raises(TypeError, match="config"):
        mp.run([("method", "sgd")])
    with pytest.raises(ValueError, match="stage"):
        mp.stage_configs("final", "unused")


@pytest.mark.parametrize("store", [STORE, DIGITS_STORE], ids=["mnist5k", "digits"])
def test_recorded_runs_belong_to_the_protocol_and_the_pinned_versions(store):
    """Every record in the chapters' stores was made by this run function with the pinned packages."""
    records = sorted(store.glob("*.json")) if store.exists() else []
    assert records, f"no records in {store}"
    for path in records:
        assert_record_provenance(path, mp.RUN)


def test_replay_within_spread_is_zero_here_and_fails_on_a_tampered_record(tmp_path):
    config = dict(TINY, method="sam", rho=0.05, lr=0.1, seeds=[0, 1, 2])
    (record,) = sweeps.run_sweep(mp.RUN, [config], tmp_path, n_jobs=1, progress=False)
    assert mp.replay_within_spread(record, 20, 1e-3) == 0.0
    tampered = json.loads(json.dumps(record))
    vals = tampered["result"]["metrics"]["val_loss"][1]
    spread = float(np.std(vals, ddof=1))
    vals[0] += 0.01 * spread  # a hundredth of the seed spread
    assert mp.replay_within_spread(tampered, 20, 0.02) == pytest.approx(0.01, rel=0.01)  # the spread moves a little too
    with pytest.raises(sweeps.ReplayMismatch, match="seed spreads"):
        mp.replay_within_spread(tampered, 20, 1e-3)


def test_select_finals_and_curves_shape_the_records():
    recs = [{"config": {"split": s, "method": m}, "result": {"metrics": {"x": [[0, 1], [s, s + 1]]}}}
            for s in (1, 0) for m in ("sgd", "sam")]
    sam = mp.select(recs, method="sam")
    assert [r["config"]["split"] for r in sam] == [0, 1]
    assert mp.finals(sam, "x").tolist() == [[0, 1], [1, 2]]
    assert mp.curves(sam, "x").shape == (2, 4)


@pytest.mark.parametrize("store, dataset", [(STORE, "mnist5k"), (DIGITS_STORE, "digits")],
                         ids=["mnist5k", "digits"])
def test_the_recorded_stages_cover_every_configuration(store, dataset):
    # the chapters read these stages; a missing record would make them fail, this says which stage
    for stage in mp.STAGES:
        configs = mp.stage_configs(stage, store, dataset=dataset)
        assert sweeps.missing_configs(configs, store) == [], stage
    # and nothing else is stored: a record of an abandoned configuration is stale
    keys = {sweeps.config_key(c) for stage in mp.STAGES for c in mp.stage_configs(stage, store, dataset=dataset)}
    assert {p.stem for p in pathlib.Path(store).glob("*.json")} == keys
