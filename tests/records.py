"""Provenance of a recorded run (samlib.sweeps): shared by the tests of every recorded study."""
from __future__ import annotations

import json
import pathlib

from samlib import sweeps

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pinned_versions() -> dict[str, str]:
    """``package -> version`` of every ``==`` pin in requirements.txt."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.strip().split("==") for line in lines if "==" in line and not line.startswith("#"))


def assert_record_provenance(path: pathlib.Path, fn: str, packages=("torch", "numpy")) -> dict:
    """The record at ``path`` was made by ``fn``, is stored under its configuration's key, and
    was made with the pinned versions of ``packages`` (local build tags like ``+cpu`` ignored).
    Returns the record."""
    pins = pinned_versions()
    rec = json.loads(path.read_text())
    assert rec["fn"] == fn, path.name
    assert path.stem == sweeps.config_key(rec["config"]), path.name
    for pkg in packages:
        assert rec["versions"][pkg].split("+")[0] == pins[pkg].split("+")[0], (path.name, pkg)
    return rec
