"""samlib.sweeps: records, resume, replay (bit-equal and with a tolerance), the Dask backend."""
from __future__ import annotations

import json

import pytest

from samlib import sweeps

FN = "samlib.sweeps:_square"
CONFIGS = [{"x": x} for x in range(5)]


def test_config_key_ignores_key_order_and_refuses_non_json():
    assert sweeps.config_key({"a": 1, "b": 2}) == sweeps.config_key({"b": 2, "a": 1})
    assert sweeps.config_key({"a": 1}) != sweeps.config_key({"a": 1.0})
    with pytest.raises(ValueError, match="config"):
        sweeps.config_key({"a": float("nan")})
    with pytest.raises(TypeError, match="config"):
        sweeps.config_key([1, 2])


def test_records_hold_config_result_times_and_versions(tmp_path):
    recs = sweeps.run_sweep(FN, CONFIGS, tmp_path, n_jobs=1, progress=False)
    assert [r["result"]["y"] for r in recs] == [0, 1, 4, 9, 16]
    for r in recs:
        assert r["key"] == sweeps.config_key(r["config"])
        assert r["versions"] == sweeps.package_versions()
        assert r["cpu_time"] >= 0 and r["wall_time"] >= 0
        assert (tmp_path / f"{r['key']}.json").exists()


def test_a_sweep_resumes_and_does_not_rerun_recorded_configurations(tmp_path, capsys):
    sweeps.run_sweep(FN, CONFIGS[:2], tmp_path, n_jobs=1, progress=False)
    # mark a stored record: a re-run would overwrite the mark
    path = tmp_path / f"{sweeps.config_key(CONFIGS[0])}.json"
    rec = json.loads(path.read_text())
    rec["mark"] = True
    path.write_text(json.dumps(rec))
    assert sweeps.missing_configs(CONFIGS, tmp_path) == CONFIGS[2:]
    recs = sweeps.run_sweep(FN, CONFIGS, tmp_path, n_jobs=2, progress=True)
    assert recs[0]["mark"] is True
    assert "2 of 5 recorded, 3 to run" in capsys.readouterr().out
    assert sweeps.missing_configs(CONFIGS, tmp_path) == []


def test_load_records_refuses_a_missing_or_edited_record(tmp_path):
    with pytest.raises(FileNotFoundError, match="make sweep"):
        sweeps.load_records(CONFIGS, tmp_path)
    sweeps.run_sweep(FN, CONFIGS[:1], tmp_path, n_jobs=1, progress=False)
    path = tmp_path / f"{sweeps.config_key(CONFIGS[0])}.json"
    rec = json.loads(path.read_text())
    rec["config"] = {"x": 99}
    path.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="another configuration"):
        sweeps.load_records(CONFIGS[:1], tmp_path)


def test_replay_is_bit_equal_and_detects_a_changed_record(tmp_path):
    rec = sweeps.run_sweep(FN, [{"x": 3}], tmp_path, n_jobs=1, progress=False)[0]
    assert sweeps.replay(FN, rec) == {"y": 9}
    bad = dict(rec, result={"y": 9.5})
    with pytest.raises(sweeps.ReplayMismatch, match=r"result.y: 9.0 vs recorded 9.5"):
        sweeps.replay(FN, bad)
    assert sweeps.replay(FN, bad, atol=0.5) == {"y": 9}


def test_compare_results_walks_lists_and_mappings():
    assert sweeps.compare_results({"a": [1.0, 2.0]}, {"a": [1.0, 2.0 + 1e-9]}, rtol=1e-8) == []
    assert sweeps.compare_results({"a": [1.0]}, {"a": [1.0, 2.0]}) == ["result.a: length 1 vs recorded 2"]
    assert sweeps.compare_results({"a": float("nan")}, {"a": float("nan")}) == []
    assert sweeps.compare_results({"a": 1}, {"b": 1})[0].startswith("result: keys")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="repeat"):
        sweeps.run_sweep(FN, [{"x": 1}, {"x": 1}], tmp_path, progress=False)
    with pytest.raises(ValueError, match="backend"):
        sweeps.run_sweep(FN, CONFIGS, tmp_path, backend="ray", progress=False)
    with pytest.raises(TypeError, match="fn"):
        sweeps.run_sweep(3, CONFIGS, tmp_path, progress=False)
    with pytest.raises(ValueError, match="module-level"):
        sweeps.run_sweep(lambda c: c, CONFIGS, tmp_path, progress=False)
    with pytest.raises(TypeError, match="store"):
        sweeps.run_sweep(FN, CONFIGS, None, progress=False)


def test_a_tiny_sweep_on_a_dask_local_cluster_equals_the_serial_one(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    serial = sweeps.run_sweep(FN, CONFIGS, tmp_path / "serial", n_jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        # the route a user takes to a real cluster: pass the scheduler's address
        on_dask = sweeps.run_sweep(FN, CONFIGS, tmp_path / "dask", backend="dask",
                                   scheduler=cluster.scheduler_address, progress=False)
    assert [r["result"] for r in on_dask] == [r["result"] for r in serial]
