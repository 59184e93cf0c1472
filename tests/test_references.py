"""The bibliography parses, and every ``{cite}`` key used in the book is in it.

A merge once left an entry without its closing brace: only the Sphinx build (minutes later, at
the end of ``make test``) noticed. pybtex is the parser sphinxcontrib-bibtex itself uses.
"""
import json
import pathlib
import re

from pybtex.database import parse_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _cited_keys():
    keys = set()
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        keys |= {k.strip() for m in CITE.findall(text) for k in m.split(",")}
    for path in sorted((ROOT / "book").glob("*.md")):
        keys |= {k.strip() for m in CITE.findall(path.read_text(encoding="utf-8")) for k in m.split(",")}
    return keys


def test_bibliography_parses_and_has_every_cited_key():
    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    assert entries, "references.bib has no entries"
    missing = sorted(_cited_keys() - set(entries))
    assert not missing, f"cited but not in book/references.bib: {missing}"
