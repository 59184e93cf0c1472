"""Guard: code a reader can skim (issue 16).

* Every code line of every chapter fits 88 columns (no sideways scrolling in the book).
* Setup and plotting cells are folded away: the first code cell (imports) and every cell that
  draws a figure without settling a claim carry ``hide-input`` (or another hide/remove tag);
  cells that call ``check_claim`` stay visible.
* Chapters that draw figures use the book's style (``use_book_style()``).

``tools/notebook_code_style.py`` applies all three to a notebook.
"""
from __future__ import annotations

import json

import pytest

from toc import ROOT, toc_notebooks

NOTEBOOKS = toc_notebooks()
MAX = 88
# Notebooks another engineer is changing; to be formatted with tools/notebook_code_style.py
# and re-executed (issue 16). Remove a name here once done.
PENDING: set[str] = set()


def _code(nb_path):
    nb = json.loads((ROOT / nb_path).read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _mark(nb_path):
    if nb_path.name in PENDING:
        return pytest.mark.xfail(reason=f"{nb_path.name}: awaiting tools/notebook_code_style.py and re-execution",
                                 strict=False)
    return []


@pytest.mark.parametrize("nb_path", [pytest.param(p, marks=_mark(p)) for p in NOTEBOOKS],
                         ids=[p.name for p in NOTEBOOKS])
def test_code_lines_fit_88_columns(nb_path):
    long = [(k, len(line), line[:60]) for k, c in enumerate(_code(nb_path))
            for line in "".join(c["source"]).splitlines() if len(line) > MAX]
    assert not long, f"{nb_path}: {len(long)} code lines over {MAX} columns, e.g. {long[:3]}"


@pytest.mark.parametrize("nb_path", [pytest.param(p, marks=_mark(p)) for p in NOTEBOOKS],
                         ids=[p.name for p in NOTEBOOKS])
def test_setup_and_plotting_cells_are_hidden_checks_are_not(nb_path):
    bad = []
    uses_plots = False
    for k, c in enumerate(_code(nb_path)):
        src = "".join(c["source"])
        tags = c.get("metadata", {}).get("tags", [])
        hidden = any(t.startswith(("hide-", "remove-")) for t in tags)
        draws = any("image/png" in (o.get("data") or {}) for o in c.get("outputs", []))
        uses_plots |= draws
        if "check_claim(" in src and ("hide-input" in tags or "remove-input" in tags or "remove-cell" in tags):
            bad.append(f"code cell {k} settles a claim but its code is hidden")
        elif (k == 0 or (draws and "check_claim(" not in src)) and not hidden:
            bad.append(f"code cell {k} ({'imports' if k == 0 else 'figure'}) is not tagged hide-input")
    if uses_plots and not any("use_book_style()" in "".join(c["source"]) for c in _code(nb_path)):
        bad.append("draws figures without use_book_style()")
    assert not bad, f"{nb_path}:\n  " + "\n  ".join(bad)
