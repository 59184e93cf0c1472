"""Guard: every notebook of the book is stored executed, in order, with outputs and no errors.

A notebook committed without outputs would pass nbval without comparing anything, so this
test is what makes the nbval run meaningful.
"""
from __future__ import annotations

import json

import pytest

from toc import ROOT, toc_files, toc_notebooks

NOTEBOOKS = toc_notebooks()


def test_every_toc_entry_exists():
    for f in toc_files():
        stem = f[:-6] if f.endswith(".ipynb") else f
        assert any((ROOT / (stem + ext)).exists() for ext in (".md", ".ipynb")), f"_toc.yml lists missing {f}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_executed(nb_path):
    nb = json.loads((ROOT / nb_path).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code, f"{nb_path} has no code cells"
    counts = [c.get("execution_count") for c in code]
    assert all(isinstance(n, int) for n in counts), f"{nb_path}: unexecuted code cells"
    assert counts == list(range(1, len(counts) + 1)), f"{nb_path}: cells not executed in order from 1: {counts}"
    assert any(c.get("outputs") for c in code), f"{nb_path}: no stored outputs"
    for c in code:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error", f"{nb_path}: stored error output {o.get('ename')}"
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = "".join(o.get("text", ""))
                assert "Traceback" not in text, f"{nb_path}: traceback in stderr"
