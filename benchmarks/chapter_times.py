"""Benchmark: wall time to execute each notebook of the book (every ``.ipynb`` in ``_toc.yml``).

Each notebook is copied to a temporary directory and executed there with nbclient, one at a
time, with the kernel's working directory set to the notebook's own folder (so relative
paths behave as under ``make execute``); the stored notebooks are never written. Reports
the seconds per notebook and per slowest cell. Other processes may share the cores, so
the times are indicative (the load average is recorded).

Prints one JSON object on its last line and writes benchmarks/results/chapter_times.json.

Usage: .venv/bin/python benchmarks/chapter_times.py [--only book/x.ipynb ...] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from toc import toc_notebooks  # noqa: E402  (the book's own list of notebooks)

from _common import cpu_model, write_result  # noqa: E402  (benchmarks/ is on sys.path)


def run_one(nb_rel: pathlib.Path, timeout: int) -> dict:
    src = ROOT / nb_rel
    with tempfile.TemporaryDirectory(prefix="chapter-times-") as tmp:
        copy = pathlib.Path(tmp) / src.name
        shutil.copy2(src, copy)
        nb = nbformat.read(copy, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(src.parent)}})
        status, error = "ok", None
        t0 = time.perf_counter()
        try:
            client.execute()
        except Exception as exc:  # report, keep timing the other chapters
            status, error = "error", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
        seconds = time.perf_counter() - t0
    cell_secs = []
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        a, b = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if a and b:
            dt = (datetime.datetime.fromisoformat(b.replace("Z", "+00:00"))
                  - datetime.datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
            cell_secs.append((dt, i))
    slowest = max(cell_secs) if cell_secs else (None, None)
    return {
        "notebook": str(nb_rel),
        "seconds": round(seconds, 1),
        "code_cells": sum(c.cell_type == "code" for c in nb.cells),
        "slowest_cell_index": slowest[1],
        "slowest_cell_seconds": round(slowest[0], 1) if slowest[0] is not None else None,
        "status": status,
        "error": error,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="notebooks to time (default: all of _toc.yml)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args()
    nbs = [pathlib.Path(p) for p in args.only] if args.only else toc_notebooks()
    load0 = os.getloadavg()[0]
    rows = []
    for nb in nbs:
        row = run_one(nb, args.timeout)
        rows.append(row)
        print(f"{row['notebook']}: {row['seconds']} s ({row['status']})", flush=True)
    out = {
        "benchmark": "chapter_times",
        "chapters": rows,
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
        "all_ok": all(r["status"] == "ok" for r in rows),
        "executor": "nbclient (temporary copy; kernel cwd = the notebook's folder), one notebook at a time",
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_start": round(load0, 2),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if not args.no_write:
        path = ROOT / "benchmarks" / "results" / "chapter_times.json"
        path.parent.mkdir(exist_ok=True)
        if args.only and path.exists():  # update only the timed chapters, keep the others
            old = json.loads(path.read_text(encoding="utf-8"))
            keep = [r for r in old.get("chapters", []) if r["notebook"] not in {r2["notebook"] for r2 in rows}]
            order = [str(p) for p in toc_notebooks()]
            merged = sorted(keep + rows, key=lambda r: order.index(r["notebook"]) if r["notebook"] in order else 99)
            out["chapters"] = merged
            out["total_seconds"] = round(sum(r["seconds"] for r in merged), 1)
            out["all_ok"] = all(r["status"] == "ok" for r in merged)
    write_result("chapter_times", out, write=not args.no_write)




if __name__ == "__main__":
    main()
