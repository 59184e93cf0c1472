"""Recorded sweeps: a run is a pure function of its configuration, its record is stored, checks replay it.

Long computations (many seeds, splits and settings of a training run) are too slow to repeat at every
test. The book therefore treats them as data:

1. A *run function* ``fn(config) -> result`` is deterministic: the same configuration (a JSON-able
   mapping: method, seed, split, hyper-parameters) gives the same result on the same machine. The result
   is a JSON-able mapping (final metrics, decimated curves).
2. :func:`run_sweep` runs every configuration not yet recorded, in parallel through joblib (local
   processes, or a Dask cluster through joblib's ``"dask"`` backend), and writes one record per
   configuration as it finishes: ``<store>/<key>.json`` with the configuration, the result, CPU and wall
   time, and the versions of the packages that produced it. An interrupted sweep resumes where it stopped.
3. A notebook reads the records (:func:`load_records`, which refuses a missing one), computes its
   statistics from them, and re-runs a fixed sample (:func:`replay`), failing if a fresh run disagrees
   with its record beyond a stated tolerance.

Nothing here knows about SAM: any chapter's long runs can use it.

Examples
--------
>>> import tempfile
>>> store = tempfile.mkdtemp()
>>> records = run_sweep("samlib.sweeps:_square", [{"x": 2}, {"x": 3}], store, n_jobs=1, progress=False)
>>> [r["result"]["y"] for r in records]
[4, 9]
>>> replay("samlib.sweeps:_square", records[0])["y"]
4
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import math
import os
import pathlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import joblib

from ._validation import check_int_at_least, check_nonnegative, describe

__all__ = [
    "config_key",
    "package_versions",
    "run_sweep",
    "load_records",
    "missing_configs",
    "replay",
    "compare_results",
    "ReplayMismatch",
]

#: Packages whose versions a record stores: the ones that can change a run's numbers.
VERSIONED = ("numpy", "scipy", "torch", "scikit-learn", "mlxtend", "samlib")


class ReplayMismatch(AssertionError):
    """A fresh run disagrees with its record beyond the tolerance."""


def _canonical(config: Mapping[str, Any]) -> str:
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {describe(config)}")
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config must be JSON-able with finite numbers: {exc}") from None


def config_key(config: Mapping[str, Any]) -> str:
    """The record's file name: the first 16 hex digits of the SHA-256 of the canonical JSON of ``config``.

    Key order does not matter; ``1`` and ``1.0`` are different configurations (JSON keeps them apart).
    """
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    """Versions of :data:`VERSIONED` packages installed here (``"absent"`` if one is not), and Python's."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _resolve(fn: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    """``"module:function"`` (stored in the record, importable by every worker) -> the function."""
    if callable(fn):
        name = f"{fn.__module__}:{fn.__qualname__}"
        if "<" in name:
            raise ValueError(f"fn must be a module-level function (workers import it by name), got {name}")
        return name, fn
    if not isinstance(fn, str) or ":" not in fn:
        raise TypeError(f"fn must be a function or a 'module:function' string, got {describe(fn)}")
    module, _, attr = fn.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"fn {fn!r} is not callable")
    return fn, obj


def _execute(fn_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in a worker; the record without its key (added by the caller)."""
    _, fn = _resolve(fn_name)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn(dict(config))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if not isinstance(result, Mapping):
        raise TypeError(f"{fn_name} must return a mapping, got {describe(result)}")
    return {
        "fn": fn_name,
        "config": config,
        "result": dict(result),
        "cpu_time": cpu,
        "wall_time": wall,
        "versions": package_versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
    }


def _write_atomic(path: pathlib.Path, record: Mapping[str, Any]) -> None:
    # a sweep killed mid-write must not leave a half record that looks complete
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1, sort_keys=True, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)


def _store(store: str | os.PathLike) -> pathlib.Path:
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a path, got {describe(store)}")
    return pathlib.Path(store)


def missing_configs(configs: Iterable[Mapping[str, Any]], store: str | os.PathLike) -> list[dict[str, Any]]:
    """The configurations that have no record in ``store`` yet, in their order."""
    root = _store(store)
    return [dict(c) for c in configs if not (root / f"{config_key(c)}.json").exists()]


def run_sweep(
    fn: str | Callable[..., Any],
    configs: Sequence[Mapping[str, Any]],
    store: str | os.PathLike,
    *,
    n_jobs: int = -1,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every configuration that has no record yet and return all records, in the order of ``configs``.

    Parameters
    ----------
    fn : callable or ``"module:function"``
        The run function, ``fn(config) -> mapping``; it must be importable at module level, since worker
        processes (or Dask workers on other machines) import it by name.
    configs : sequence of mappings
        JSON-able configurations; duplicates are refused.
    store : path
        Folder of the records (created if missing). Records already there are kept: the sweep resumes.
    n_jobs : int
        Parallel jobs: ``-1`` all cores (local) or all workers (Dask); ``1`` runs in this process.
    backend : {"loky", "dask"}
        ``"loky"``: local worker processes. ``"dask"``: joblib's Dask backend on the ``distributed``
        cluster at ``scheduler`` (an address such as ``"tcp://10.0.0.5:8786"``), or on a fresh
        ``LocalCluster`` if ``scheduler`` is None.
    progress : bool
        Print one line per finished record (``[k/n] key seconds``).

    Returns
    -------
    list of dict
        The records (see the module docstring); each has ``"key"``.
    """
    name, _ = _resolve(fn)
    configs = [dict(c) for c in configs]
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs must not repeat a configuration")
    if n_jobs != -1:
        n_jobs = check_int_at_least(n_jobs, 1, "n_jobs")
    if backend not in ("loky", "dask"):
        raise ValueError(f"backend must be 'loky' or 'dask', got {backend!r}")
    root = _store(store)
    root.mkdir(parents=True, exist_ok=True)
    todo = [(k, c) for k, c in zip(keys, configs) if not (root / f"{k}.json").exists()]
    if progress:
        print(f"sweep {name}: {len(configs) - len(todo)} of {len(configs)} recorded, {len(todo)} to run",
              flush=True)
    if todo:
        jobs = (joblib.delayed(_execute)(name, c) for _, c in todo)
        done = 0

        def collect(results: Iterable[dict[str, Any]]) -> None:
            nonlocal done
            for rec in results:
                key = config_key(rec["config"])
                _write_atomic(root / f"{key}.json", dict(rec, key=key))
                done += 1
                if progress:
                    print(f"[{done}/{len(todo)}] {key} {rec['wall_time']:.1f} s", flush=True)

        if backend == "dask":
            # deferred: dask is needed only for this backend
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=None) if scheduler is None else None
            with Client(scheduler if scheduler is not None else cluster) as client:
                with joblib.parallel_config(backend="dask"):
                    collect(joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs))
                client.close()
            if cluster is not None:
                cluster.close()
        elif n_jobs == 1:
            collect(_execute(name, c) for _, c in todo)
        else:
            collect(joblib.Parallel(n_jobs=n_jobs, backend="loky",
                                    return_as="generator_unordered")(jobs))
    return load_records(configs, root)


def load_records(configs: Sequence[Mapping[str, Any]], store: str | os.PathLike) -> list[dict[str, Any]]:
    """The stored records of ``configs``, in their order; raises if one is missing or does not match.

    Raises
    ------
    FileNotFoundError
        A configuration has no record (run ``make sweep``).
    ValueError
        A record's configuration differs from the one its key names (a hand-edited file).
    """
    root = _store(store)
    out = []
    missing = []
    for c in configs:
        key = config_key(c)
        path = root / f"{key}.json"
        if not path.exists():
            missing.append(key)
            continue
        rec = json.loads(path.read_text())
        if config_key(rec.get("config", {})) != key:
            raise ValueError(f"record {path} holds another configuration than its name says")
        out.append(rec)
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(configs)} configurations have no record in {root} "
                                f"(first: {missing[0]}); run the sweep (make sweep)")
    return out


def compare_results(fresh: Mapping[str, Any], recorded: Mapping[str, Any], *, rtol: float = 0.0,
                    atol: float = 0.0, path: str = "result") -> list[str]:
    """Differences between two results beyond ``|a - b| <= atol + rtol |b|``, as readable lines.

    Numbers are compared with the tolerance, lists element by element, mappings key by key, anything
    else by equality. NaN equals NaN (a run that diverged the same way twice agrees with itself).
    """
    rtol, atol = check_nonnegative(rtol, "rtol"), check_nonnegative(atol, "atol")
    diffs: list[str] = []
    if isinstance(recorded, Mapping) and isinstance(fresh, Mapping):
        if set(fresh) != set(recorded):
            diffs.append(f"{path}: keys {sorted(set(fresh) ^ set(recorded))} only on one side")
        for k in sorted(set(fresh) & set(recorded)):
            diffs += compare_results(fresh[k], recorded[k], rtol=rtol, atol=atol, path=f"{path}.{k}")
    elif isinstance(recorded, (list, tuple)) and isinstance(fresh, (list, tuple)):
        if len(fresh) != len(recorded):
            diffs.append(f"{path}: length {len(fresh)} vs recorded {len(recorded)}")
        else:
            for i, (a, b) in enumerate(zip(fresh, recorded)):
                diffs += compare_results(a, b, rtol=rtol, atol=atol, path=f"{path}[{i}]")
    elif isinstance(recorded, (int, float)) and isinstance(fresh, (int, float)) \
            and not isinstance(recorded, bool) and not isinstance(fresh, bool):
        a, b = float(fresh), float(recorded)
        same = (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= atol + rtol * abs(b)
        if not same:
            diffs.append(f"{path}: {a!r} vs recorded {b!r} (difference {abs(a - b):.3g})")
    elif fresh != recorded:
        diffs.append(f"{path}: {fresh!r} vs recorded {recorded!r}")
    return diffs


def replay(fn: str | Callable[..., Any], record: Mapping[str, Any], *, rtol: float = 0.0,
           atol: float = 0.0) -> dict[str, Any]:
    """Re-run a record's configuration and compare the fresh result with the recorded one.

    ``rtol = atol = 0`` demands bit-equality (same machine, same versions). Returns the fresh result.

    Raises
    ------
    ReplayMismatch
        A value differs beyond the tolerance; the message lists every difference.
    """
    name, _ = _resolve(fn)
    if record.get("fn") not in (None, name):
        raise ValueError(f"the record was made by {record.get('fn')!r}, not {name!r}")
    fresh = _execute(name, dict(record["config"]))["result"]
    diffs = compare_results(json.loads(json.dumps(fresh)), record["result"], rtol=rtol, atol=atol)
    if diffs:
        raise ReplayMismatch(f"replay of {config_key(record['config'])} disagrees with its record:\n  "
                             + "\n  ".join(diffs[:20]))
    return fresh


def _square(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run function for the examples and tests: ``y = x**2``."""
    return {"y": config["x"] ** 2}


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run sweeps through a study module, e.g. python -m samlib.studies.experiments sweep")
