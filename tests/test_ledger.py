"""The claim ledger: fixed IDs, evidence that exists, notebooks that call the check, and the helper."""
from __future__ import annotations

import json
import math
import pathlib
import re

import numpy as np
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


# The Part II IDs fixed by the project's OPEN-QUESTIONS.md (shared/OPEN-QUESTIONS.md), in its order.
PART2_IDS = [
    "q1-gradient-norm-penalty", "q1-three-problems", "q1-more-ascent-steps", "q2-constant-rho-floor",
    "q2-usam-threshold", "q3-wen-lmax", "q3-wen-trace", "q3-sam-edge", "q4-msam-sparsity",
    "q5-reparametrisation", "q5-sharpness-correlation", "q6-logit-reweighting", "q6-jacobian-effect",
    "q7-sgd-vs-adam", "q8-asam", "q8-gsam", "q8-ssam",
]


def test_ledger_holds_exactly_the_fixed_ids(entries):
    assert list(entries) == FIXED_IDS + PART2_IDS
    assert all(entries[cid].get("part", "I") == "I" for cid in FIXED_IDS)
    assert all(entries[cid].get("part") == "II" for cid in PART2_IDS)


def test_fixed_ids_match_shared_claims_file_when_present():
    claims_md = ROOT.parent / "shared" / "CLAIMS.md"
    if not claims_md.exists():
        pytest.skip("shared/CLAIMS.md is not beside this checkout")
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", claims_md.read_text(encoding="utf-8"), re.M)
    assert ids == FIXED_IDS


def test_part2_ids_match_shared_open_questions_file_when_present():
    oq_md = ROOT.parent / "shared" / "OPEN-QUESTIONS.md"
    if not oq_md.exists():
        pytest.skip("shared/OPEN-QUESTIONS.md is not beside this checkout")
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", oq_md.read_text(encoding="utf-8"), re.M)
    assert ids == PART2_IDS


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
    assert ledger.UNRECORDED not in page, "the ledger quotes measurements that are not recorded"


# --- the helper itself, on a throw-away ledger -------------------------------------------
@pytest.fixture()
def tiny_ledger(tmp_path):
    p = tmp_path / "claims.yml"
    p.write_text(
        "claims:\n"
        "  - {id: a, section: s, claim: c, verdict: confirmed, explanation: 'slope {{slope:.1f}}', tolerance: t, evidence: []}\n"
        "  - {id: b, section: s, claim: c, verdict: pending, explanation: '', tolerance: '', evidence: []}\n"
    )
    return p


def _rule(m, tol):
    return "confirmed" if abs(m["slope"] - 2.0) <= tol else "refuted"


FLIP = {"slope": 1.0}


def _check(tiny_ledger, measured, rule=_rule, counter=FLIP, **kw):
    kw.setdefault("record", True)
    return ledger.check_claim("a", measured, 0.1, rule, counter=counter, path=tiny_ledger, **kw)


def test_check_claim_passes_and_prints_the_verdict_block(tiny_ledger, capsys):
    assert _check(tiny_ledger, {"slope": 2.00004}) == "confirmed"
    out = capsys.readouterr().out
    assert out == ("a: confirmed\n  measured:  slope=2\n  tolerance: 0.1\n"
                   "  would be refuted if slope=1\n")


def test_check_claim_raises_when_evidence_changes(tiny_ledger):
    with pytest.raises(ledger.LedgerMismatch, match="records 'confirmed'"):
        _check(tiny_ledger, {"slope": 1.5}, counter={"slope": 2.0})


def test_check_claim_raises_on_pending_entry(tiny_ledger):
    with pytest.raises(ledger.LedgerMismatch, match="pending"):
        ledger.check_claim("b", {"slope": 2.0}, 0.1, _rule, counter=FLIP, path=tiny_ledger)


@pytest.mark.parametrize(
    "cid, measured, rule, match",
    [
        ("zzz", {"x": 1}, _rule, "unknown claim ID"),
        ("a", {}, _rule, "non-empty mapping"),
        ("a", {"slope": 2.0}, lambda m, t: "probably", "not one of"),
        ("a", {"slope": 2.0}, lambda m, t: None, "not one of"),
        ("a", {"slope": 2.0}, "confirmed", "callable"),
        ("a", {"slope": object()}, _rule, "unsupported type"),
    ],
)
def test_check_claim_rejects_bad_calls(tiny_ledger, cid, measured, rule, match):
    with pytest.raises(ledger.LedgerError, match=match):
        ledger.check_claim(cid, measured, 0.1, rule, counter=FLIP, path=tiny_ledger, record=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float64("nan"), (2.0, float("nan"))])
def test_a_non_finite_measurement_raises_naming_the_key(tiny_ledger, bad):
    with pytest.raises(ledger.LedgerError, match="'slope"):
        _check(tiny_ledger, {"slope": bad})


def test_non_finite_allowed_only_when_named(tiny_ledger):
    rule = lambda m, t: "confirmed" if np.isnan(m["slope"]) else "refuted"  # noqa: E731
    assert _check(tiny_ledger, {"slope": float("nan")}, rule=rule, allow_nonfinite=("slope",)) == "confirmed"
    with pytest.raises(ledger.LedgerError, match="unknown measurements"):
        _check(tiny_ledger, {"slope": 2.0}, allow_nonfinite=("nope",))


def test_a_non_finite_counter_or_tolerance_raises(tiny_ledger):
    with pytest.raises(ledger.LedgerError, match="'slope'"):
        _check(tiny_ledger, {"slope": 2.0}, counter={"slope": float("nan")})
    with pytest.raises(ledger.LedgerError, match="tolerance"):
        ledger.check_claim("a", {"slope": 2.0}, float("nan"), _rule, counter=FLIP, path=tiny_ledger)


def test_a_constant_rule_is_rejected(tiny_ledger):
    with pytest.raises(ledger.LedgerError, match="still returns 'confirmed'"):
        _check(tiny_ledger, {"slope": 2.0}, rule=lambda m, t: "confirmed")


def test_counter_evidence_is_required_and_must_name_measurements(tiny_ledger):
    with pytest.raises(TypeError):
        ledger.check_claim("a", {"slope": 2.0}, 0.1, _rule, path=tiny_ledger)
    with pytest.raises(ledger.LedgerError, match="at least one"):
        _check(tiny_ledger, {"slope": 2.0}, counter=[])
    with pytest.raises(ledger.LedgerError, match="not measured"):
        _check(tiny_ledger, {"slope": 2.0}, counter={"slop": 1.0})
    with pytest.raises(ledger.LedgerError, match=r"counter\[1\]"):
        _check(tiny_ledger, {"slope": 2.0}, counter=[{"slope": 1.0}, {"slope": 2.05}])


def test_the_rule_gets_a_read_only_copy(tiny_ledger, capsys):
    def mutating(m, t):
        m["slope"] = 99.0
        return "confirmed"

    with pytest.raises(TypeError):
        _check(tiny_ledger, {"slope": 2.0}, rule=mutating)
    measured = {"slope": [2.0, 2.0]}

    def nested(m, t):
        m["slope"].append(5.0) if isinstance(m["slope"], list) else None
        return "confirmed" if m["slope"][0] == 2.0 else "refuted"

    _check(tiny_ledger, measured, rule=nested, counter={"slope": (1.0, 1.0)})
    assert measured == {"slope": [2.0, 2.0]}
    assert "slope=(2, 2)" in capsys.readouterr().out


def test_record_then_compare(tiny_ledger):
    _check(tiny_ledger, {"slope": 2.0123})
    rec = ledger.load_measurements(tiny_ledger)["a"]
    assert rec["measured"] == {"slope": 2.01} and rec["counter"] == [{"measured": {"slope": 1.0}, "verdict": "refuted"}]
    # compare mode: the same or a last-digit neighbour passes, a drift fails
    _check(tiny_ledger, {"slope": 2.0123}, record=False)
    _check(tiny_ledger, {"slope": 2.0151}, record=False)
    with pytest.raises(ledger.LedgerMismatch, match="slope = 2.04, recorded 2.01"):
        _check(tiny_ledger, {"slope": 2.04}, record=False)
    with pytest.raises(ledger.LedgerMismatch, match="measured names"):
        _check(tiny_ledger, {"slope": 2.0123, "other": 1}, record=False)


def test_volatile_measurements_are_recorded_not_compared(tiny_ledger):
    _check(tiny_ledger, {"slope": 2.0, "seconds": 1.0})
    _check(tiny_ledger, {"slope": 2.0, "seconds": 7.0}, record=False, volatile=("seconds",))
    with pytest.raises(ledger.LedgerMismatch, match="seconds"):
        _check(tiny_ledger, {"slope": 2.0, "seconds": 7.0}, record=False)


def test_compare_without_record_raises(tiny_ledger):
    with pytest.raises(ledger.LedgerMismatch, match="no recorded measurement"):
        _check(tiny_ledger, {"slope": 2.0}, record=False)


def test_record_mode_follows_the_environment(tiny_ledger, monkeypatch):
    monkeypatch.setenv(ledger.RECORD_ENV, "1")
    ledger.check_claim("a", {"slope": 2.0}, 0.1, _rule, counter=FLIP, path=tiny_ledger)
    monkeypatch.setenv(ledger.RECORD_ENV, "0")
    ledger.check_claim("a", {"slope": 2.0}, 0.1, _rule, counter=FLIP, path=tiny_ledger)


def test_placeholders_are_filled_from_the_record(tiny_ledger):
    _check(tiny_ledger, {"slope": 2.0123})
    page = ledger.render_ledger_page(tiny_ledger)
    assert "slope 2.0" in page and "{{" not in page
    assert "Would have been refuted if:** `slope` = 1" in page
    with pytest.raises(ledger.LedgerError, match="not a recorded measurement"):
        ledger.fill_placeholders("{{nope}}", "a", ledger.load_measurements(tiny_ledger)["a"])


def test_round_sig():
    assert ledger.round_sig(0.0012345) == 0.00123
    assert ledger.round_sig(-0.0) == 0.0
    assert ledger.round_sig(123456.0, 2) == 120000.0


# --- the book's own checks ------------------------------------------------------------------
CALL_BLOCK = re.compile(r"check_claim\(\s*[\"']([a-z0-9-]+)[\"'](.*?)\n\S", re.S)


def _call_text(src: str, start: int) -> str:
    """The source of the call that opens at ``src[start:]`` (up to its closing parenthesis)."""
    depth = 0
    for i in range(src.index("(", start), len(src)):
        depth += {"(": 1, ")": -1}.get(src[i], 0)
        if depth == 0:
            return src[start:i + 1]
    return src[start:]


def test_every_check_in_the_book_carries_counter_evidence():
    n = 0
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] != "code":
                continue
            for mt in CALL.finditer(src):
                n += 1
                assert "counter=" in _call_text(src, mt.start()), \
                    f"{nb.name}: check_claim({mt.group(1)!r}) has no counter-evidence"
    assert n >= 23, f"only {n} check_claim calls found in the book"


def test_every_settled_claim_has_a_recorded_measurement_and_counter(entries):
    records = ledger.load_measurements()
    for cid, e in entries.items():
        if e["verdict"] == "pending":
            continue
        assert cid in records, f"{cid}: no record in book/measured.yml (run make execute)"
        rec = records[cid]
        assert rec["verdict"] == e["verdict"], f"{cid}: recorded verdict {rec['verdict']} != ledger {e['verdict']}"
        assert rec["counter"], f"{cid}: no counter-evidence recorded"
        assert all(c["verdict"] != rec["verdict"] for c in rec["counter"]), cid
    assert set(records) <= set(entries), f"records of unknown claims: {set(records) - set(entries)}"


def _output_text(o) -> str:
    """The text of a stored output: a stream's text, or a display's text/plain (the verdict
    box of check_claim is a display with text/html and this text/plain twin)."""
    if o.get("output_type") == "stream":
        return "".join(o.get("text", ""))
    if o.get("output_type") in ("display_data", "execute_result"):
        return "".join((o.get("data") or {}).get("text/plain", "")) + "\n"
    return ""


def test_every_stored_check_output_shows_its_counter_evidence(entries):
    """The verdict block printed in each notebook matches the record (the outputs are fresh)."""
    records = ledger.load_measurements()
    seen = set()
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            for o in c.get("outputs", []):
                text = _output_text(o)
                for cid in entries:
                    if f"{cid}: {entries[cid]['verdict']}\n  measured:" in text:
                        seen.add(cid)
                        assert "  would be " in text.split(f"{cid}: ", 1)[1], f"{nb.name}: {cid} output lacks counter"
    settled = {cid for cid, e in entries.items() if e["verdict"] != "pending"}
    assert settled <= seen, f"claims whose stored output has no verdict block: {sorted(settled - seen)}"


def test_every_stored_verdict_block_prints_the_recorded_measurement():
    """The measured line under each check equals its record in measured.yml, name for name and value for
    value, so a record written by other work (or a notebook executed without recording) fails here, in
    seconds, rather than in nbval."""
    records = ledger.load_measurements()
    printed = {}
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            for o in c.get("outputs", []):
                text = _output_text(o)
                for cid, rec in records.items():
                    head = f"{cid}: {rec['verdict']}\n  measured:  "
                    if head in text:
                        printed[cid] = (nb.name, text.split(head, 1)[1].split("\n", 1)[0])
    assert set(printed) == set(records), f"records with no printed block: {sorted(set(records) - set(printed))}"
    for cid, (name, line) in printed.items():
        rec = records[cid]
        assert line == ledger._fmt_mapping(rec["measured"], rec["digits"]), \
            f"{name}: {cid} printed {line!r}, measured.yml records {rec['measured']!r}"


NUMBER = re.compile(r"(?<![\w.{])-?(?:\d+\.\d+|\d+(?:\.\d+)?e[-+]?\d+|\d{2,}|\d)(?![\w.])")


# References to sections, equations, figures and chapters are not measurements.
REFERENCE = re.compile(r"(?:§+|\b(?:[Ss]ections?|[Ss]ec\.|[Cc]hapters?|[Ff]ig(?:ure)?s?\.?|[Ee]qs?\.|[Tt]heorems?|"
                       r"[Ll]emmas?|[Tt]ables?|[Aa]ppendix|[Ee]xamples?)\s*)\(?[A-Z]?\d+(?:\.\d+)*\)?")


def _numbers(text: str) -> set[float]:
    out = set()
    text = REFERENCE.sub(" ", text)
    for tok in NUMBER.findall(text):
        try:
            out.add(abs(float(tok)))
        except ValueError:
            pass
    return out


def _code_literals(nb: pathlib.Path) -> set[float]:
    import ast

    vals: set[float] = set()
    for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "\n".join(l for l in "".join(c["source"]).splitlines() if not l.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                vals.add(abs(float(node.value)))
    return vals


def _is_free_number(x: float) -> bool:
    """Numbers any text may type: small counts and ordinals, and years."""
    return (x.is_integer() and x <= 10) or (x.is_integer() and 1900 <= x <= 2100)


def test_ledger_numbers_are_generated_or_settings(entries):
    """A number in a claim's explanation is a placeholder filled from the record, a setting the
    evidence notebook types in its code, a number of the claim's own text or tolerance, or a
    small count; a measured value typed by hand fails here."""
    bad = []
    for cid, e in entries.items():
        allowed = set()
        for ev in e["evidence"] or []:
            allowed |= _code_literals(ROOT / ev["notebook"])
        allowed |= _numbers(str(e["claim"])) | _numbers(str(e["tolerance"]))
        text = ledger._PLACEHOLDER.sub(" ", str(e["explanation"]))
        for x in _numbers(text):
            if not _is_free_number(x) and not any(math.isclose(x, a, rel_tol=1e-9) for a in allowed):
                bad.append(f"{cid}: {x:g}")
    assert not bad, "numbers typed into explanations (use {{name}} placeholders):\n  " + "\n  ".join(bad)


MD_STRIP = re.compile(r"\{(?:glue:text|glue|cite|ref|numref|eq|doc|prf:ref)\}`[^`]*`|\(([\w-]+)\)=|\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\]\([^)]*\)", re.S)


def test_chapter_prose_numbers_are_glued_or_settings():
    """A decimal number written in a chapter's markdown (outside math and code spans) is a
    setting typed in the notebook's code, or glued from the computation."""
    bad = []
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        allowed = _code_literals(nb)
        for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if c["cell_type"] != "markdown":
                continue
            text = MD_STRIP.sub(" ", "".join(c["source"]))
            for x in _numbers(text):
                if not _is_free_number(x) and not any(math.isclose(x, a, rel_tol=1e-9) for a in allowed):
                    bad.append(f"{nb.name}: {x:g}")
    assert not bad, "numbers typed into chapter prose (glue them with samlib.ledger.quote):\n  " + "\n  ".join(bad)


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


def test_landing_page_verdicts_are_up_to_date():
    """The landing page's verdict block and figure are generated from the ledger."""
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    block = intro.split(ledger.INTRO_START, 1)[1].split(ledger.INTRO_END, 1)[0]
    assert ledger.INTRO_START + block + ledger.INTRO_END == ledger.render_overview(), \
        "run `python -m samlib.ledger` to regenerate the verdicts of book/intro.md"
    svg = (ROOT / "book" / ledger.FIGURE_NAME).read_text(encoding="utf-8")
    assert svg == ledger.render_verdict_figure(), "run `python -m samlib.ledger` to regenerate book/verdicts.svg"
    entries = ledger.load_ledger()
    for cid, e in entries.items():  # every claim, with its verdict badge, pending ones too
        assert f"{{verdict}}`{e['verdict']}`\n  - {{ref}}`{cid} <claim-{cid}>`" in block, cid


def test_verdict_box_html_has_the_text_of_the_block(tiny_ledger):
    check = _check(tiny_ledger, {"slope": 2.00004})
    box = ledger.render_verdict_html(check)
    assert 'class="sam-verdict sam-verdict--confirmed"' in box and box.endswith("<!-- /sam-verdict -->")
    for word in ("confirmed", "Measured", "Tolerance", "refuted", "slope", "ledger.html#claim-a"):
        assert word in box, word


def test_check_claim_displays_html_with_the_text_as_fallback(tiny_ledger, monkeypatch):
    shown = []
    import IPython
    import IPython.display

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, **kw: shown.append((obj, raw)))
    monkeypatch.setattr(ledger, "_glue", lambda check: None)
    check = _check(tiny_ledger, {"slope": 2.00004})
    (bundle, raw), = shown
    assert raw and bundle["text/plain"] == "\n".join(check.lines())
    assert bundle["text/html"] == ledger.render_verdict_html(check)


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


@pytest.mark.parametrize("text, match", [
    ("claims: [\n", "not valid YAML"),
    ("claims:\n  - just a string\n", "not a mapping"),
    ("claims:\n  - {id: 3, section: s, claim: c, verdict: pending, explanation: '', tolerance: '', evidence: []}\n",
     "not a non-empty string"),
    ("claims:\n  - {id: a, section: s, claim: c, verdict: pending, explanation: '', tolerance: '', evidence: [x]}\n",
     "evidence must be"),
    ("- a list\n", "'claims' list"),
])
def test_a_malformed_ledger_raises_the_ledgers_own_error(tmp_path, text, match):
    bad = tmp_path / "claims.yml"
    bad.write_text(text)
    with pytest.raises(ledger.LedgerError, match=match):
        ledger.load_ledger(bad)
    with pytest.raises(ledger.LedgerError, match="cannot read"):
        ledger.load_ledger(tmp_path / "missing.yml")


def test_ledger_path_prefers_the_environment_then_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMLIB_LEDGER", str(tmp_path / "x.yml"))
    assert ledger.ledger_path() == tmp_path / "x.yml"
    monkeypatch.delenv("SAMLIB_LEDGER")
    (tmp_path / "book").mkdir()
    (tmp_path / "samlib").mkdir()
    (tmp_path / "book" / "claims.yml").write_text("claims: []\n")
    monkeypatch.chdir(tmp_path / "book")
    assert ledger.ledger_path() == (tmp_path / "book" / "claims.yml").resolve()


#: ASCII spellings of math that a claim must write in TeX between dollars instead.
ASCII_MATH = re.compile(r"\b(?:rho|eta|eta0|rho0|eps_hat|lambda_max|lambda|delta|theta|kappa_rho|"
                        r"grad|sqrt|L_S)\b|\|\||->|<=|\w\^\w")


def test_part1_claims_write_math_in_tex_with_a_plain_fallback(entries):
    """Part I's claim texts write their math as ``$...$`` (MathJax on the ledger and landing
    pages), never in ASCII; ``plain_math`` turns each into plain text without TeX, which is
    what the verdict figure (an SVG, no MathJax) shows."""
    bad = []
    for cid in FIXED_IDS:
        claim = str(entries[cid]["claim"])
        outside = re.sub(r"\$[^$]*\$", " ", claim)
        if claim.count("$") % 2 or ASCII_MATH.search(outside):
            bad.append(f"{cid}: {outside}")
        plain = ledger.plain_math(claim)
        if re.search(r"[$\\{}]", plain):
            bad.append(f"{cid}: TeX left in the plain text {plain!r}")
    assert not bad, "claims with ASCII math or without a plain fallback:\n  " + "\n  ".join(bad)
    math = [cid for cid in FIXED_IDS if "$" in str(entries[cid]["claim"])]
    assert len(math) >= 10, f"only {len(math)} Part I claims write math: {math}"
    svg = ledger.render_verdict_figure()
    assert "$" not in svg and "\\" not in svg, "TeX in the verdict figure"
    assert ledger.plain_math(str(entries["ex1-first-order"]["claim"])) in svg


def test_ledger_and_landing_pages_render_claim_math_for_mathjax(entries):
    """The claim texts reach the ledger and landing pages with their ``$...$`` intact (MyST's
    dollarmath hands them to MathJax), and the ledger's cell escaping leaves math alone."""
    page = ledger.render_ledger_page()
    overview = ledger.render_overview()
    for cid in FIXED_IDS:
        claim = " ".join(str(entries[cid]["claim"]).split())
        if "$" not in claim:
            continue
        assert f"**Claim (our paraphrase):** {claim}" in page, cid
        assert f"`{cid} <claim-{cid}>`: {claim}" in overview, cid
        for formula in re.findall(r"\$[^$]*\$", claim):
            assert "\\|" not in ledger._cell(formula), f"{cid}: {formula} would be escaped"
