"""Shared helpers of the benchmark scripts: the machine description and the result file."""
from __future__ import annotations

import json
import pathlib
import platform

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The 'model name' line of /proc/cpuinfo (``platform.processor()`` is often empty on Linux)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_result(name: str, out: dict, write: bool = True) -> None:
    """Write ``out`` to ``benchmarks/results/<name>.json`` (if ``write``) and print it as one JSON line."""
    if write:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out))


def machine_fields() -> dict:
    """Flat description of the machine and the moment of a measurement (for the result files)."""
    import datetime
    import os

    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
