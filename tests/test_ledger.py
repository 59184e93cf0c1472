"""The claim ledger: fixed IDs, evidence that exists, notebooks that call the check, and the helper."""
from __future__ import annotations

import json
import pathlib
import re

import pytest

from samlib import ledger

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The IDs fixed by the project's CLAIMS.md (shared/CLAIMS.md), in its order.
FIXED_IDS = [
    "ex1-first-order", "ex2-second-order", "eq2-equivalence", "lp-norm-unnecessary",
    "eq3-sam-gradient", "eq3-zero-gradient", "eq3-fixed-points", "fig1-escape",
    "eq5-discrepancy", "eq5-isotropic", "sam-stops-flat", "thm1-bound", "thm1-assumption",
    "thm1-vacuous", "lemma1-pac-bayes", "m-sharpness", "fig2-separation", "mnist-sam-vs-sgd",
    "mnist-adam", "sam-cost-2x", "thm2-rate", "rho-tradeoff", "label-noise-robustness",
]

CALL = re.compile(r"check_claim\(\s*[\"']([a-z0-9-]+)[\"']")


def _nb_code(path: pathlib.Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _nb_markdown(path: pathlib.Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(scope="module")
def entries():
    return ledger.load_ledger()


def test_ledger_holds_exactly_the_fixed_ids(entries):
    assert list(entries) == FIXED_IDS


def test_fixed_ids_match_shared_claims_file_when_present():
    claims_md = ROOT.parent / "shared" / "CLAIMS.md"
    if not claims_md.exists():
        pytest.skip("shared/CLAIMS.md is not beside this checkout")
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", claims_md.read_text(encoding="utf-8"), re.M)
    assert ids == FIXED_IDS


def test_settled_entries_have_evidence_that_calls_the_check(entries):
    for cid, e in entries.items():
        if e["verdict"] == "pending":
            continue
        assert e["evidence"], f"{cid}: a verdict without evidence"
        assert str(e["tolerance"]).strip(), f"{cid}: no tolerance stated"
        assert str(e["explanation"]).strip(), f"{cid}: no explanation"
        for ev in e["evidence"]:
            nb = ROOT / ev["notebook"]
            assert nb.exists(), f"{cid}: evidence notebook {nb} is missing"
            assert f"({ev['label']})=" in _nb_markdown(nb), f"{cid}: label {ev['label']} not in {nb.name}"
        called = [ev for ev in e["evidence"] if cid in CALL.findall(_nb_code(ROOT / ev["notebook"]))]
        assert called, f"{cid}: no evidence notebook calls check_claim({cid!r})"


def test_every_check_in_a_notebook_names_a_ledger_id_it_is_evidence_for(entries):
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        rel = nb.relative_to(ROOT).as_posix()
        for cid in CALL.findall(_nb_code(nb)):
            assert cid in entries, f"{rel} checks unknown claim {cid!r}"
            listed = [ev["notebook"] for ev in entries[cid]["evidence"]]
            assert rel in listed, f"{rel} checks {cid!r} but the ledger's evidence lists {listed}"


def test_ledger_page_is_up_to_date():
    page = (ROOT / "book" / "ledger.md").read_text(encoding="utf-8")
    assert page == ledger.render_ledger_page(), "run `python -m samlib.ledger` to regenerate book/ledger.md"


# --- the helper itself, on a throw-away ledger -------------------------------------------
@pytest.fixture()
def tiny_ledger(tmp_path):
    p = tmp_path / "claims.yml"
    p.write_text(
        "claims:\n"
        "  - {id: a, section: s, claim: c, verdict: confirmed, explanation: e, tolerance: t, evidence: []}\n"
        "  - {id: b, section: s, claim: c, verdict: pending, explanation: '', tolerance: '', evidence: []}\n"
    )
    return p


def _rule(m, tol):
    return "confirmed" if abs(m["slope"] - 2.0) <= tol else "refuted"


def test_check_claim_passes_and_prints_one_line(tiny_ledger, capsys):
    assert ledger.check_claim("a", {"slope": 2.00004}, 0.1, _rule, path=tiny_ledger) == "confirmed"
    out = capsys.readouterr().out
    assert out == "a: confirmed | slope=2 | tolerance: 0.1\n"


def test_check_claim_raises_when_evidence_changes(tiny_ledger):
    with pytest.raises(ledger.LedgerMismatch, match="records 'confirmed'"):
        ledger.check_claim("a", {"slope": 1.5}, 0.1, _rule, path=tiny_ledger)


def test_check_claim_raises_on_pending_entry(tiny_ledger):
    with pytest.raises(ledger.LedgerMismatch, match="pending"):
        ledger.check_claim("b", {"slope": 2.0}, 0.1, _rule, path=tiny_ledger)


@pytest.mark.parametrize(
    "cid, measured, rule, match",
    [
        ("zzz", {"x": 1}, _rule, "unknown claim ID"),
        ("a", {}, _rule, "non-empty mapping"),
        ("a", {"slope": 2.0}, lambda m, t: "probably", "not one of"),
        ("a", {"slope": 2.0}, "confirmed", "callable"),
    ],
)
def test_check_claim_rejects_bad_calls(tiny_ledger, cid, measured, rule, match):
    with pytest.raises(ledger.LedgerError, match=match):
        ledger.check_claim(cid, measured, 0.1, rule, path=tiny_ledger)


def test_load_ledger_rejects_unknown_verdict_and_duplicates(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("claims:\n  - {id: a, section: s, claim: c, verdict: maybe, explanation: '', tolerance: '', evidence: []}\n")
    with pytest.raises(ledger.LedgerError, match="unknown verdict"):
        ledger.load_ledger(bad)
    dup = tmp_path / "dup.yml"
    row = "  - {id: a, section: s, claim: c, verdict: pending, explanation: '', tolerance: '', evidence: []}\n"
    dup.write_text("claims:\n" + row + row)
    with pytest.raises(ledger.LedgerError, match="twice"):
        ledger.load_ledger(dup)


def test_readme_chapter_table_is_up_to_date():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = ledger.README_START, ledger.README_END
    assert start in readme and end in readme, "README lost its chapter-table markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == "\n" + ledger.render_chapter_table(), "run `python -m samlib.ledger` to refresh README.md"


def test_every_chapter_of_the_toc_has_a_readme_summary():
    import yaml
    from toc import toc_notebooks

    chapters = yaml.safe_load((ROOT / "book" / "chapters.yml").read_text(encoding="utf-8"))["chapters"]
    summarised = {c["notebook"] for c in chapters}
    for nb in toc_notebooks():
        if nb.as_posix().startswith("book/appendix"):
            continue
        assert nb.as_posix() in summarised, f"{nb} has no one-line summary in book/chapters.yml"
