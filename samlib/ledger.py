"""The claim ledger: the book's record of each claim of the review and its verdict.

The ledger lives in ``book/claims.yml``.  A notebook cell that settles a claim calls
:func:`check_claim` with what it measured, the tolerance it uses and the *rule* that
turns measurement and tolerance into a verdict.  The helper evaluates the rule, compares
the verdict with the one recorded in the ledger and raises :class:`LedgerMismatch` when
they differ, so a changed measurement fails the notebook under nbval.

Run ``python -m samlib.ledger`` to regenerate the ledger page ``book/ledger.md``.
"""
from __future__ import annotations

import math
import numbers
import os
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import yaml

__all__ = [
    "VERDICTS",
    "LedgerError",
    "LedgerMismatch",
    "ledger_path",
    "load_ledger",
    "check_claim",
    "render_ledger_page",
    "claim_label",
    "render_chapter_table",
    "update_readme",
]

#: The verdict vocabulary of the book (``pending`` only until a chapter settles the claim).
VERDICTS = (
    "confirmed",
    "confirmed-with-correction",
    "refuted",
    "not-reproduced",
    "inconclusive",
)


class LedgerError(ValueError):
    """The ledger file or a call to :func:`check_claim` is malformed."""


class LedgerMismatch(AssertionError):
    """The verdict computed in a notebook differs from the one recorded in the ledger."""


def ledger_path() -> pathlib.Path:
    """Location of ``claims.yml``: ``$SAMLIB_LEDGER`` if set, else ``<repo>/book/claims.yml``."""
    env = os.environ.get("SAMLIB_LEDGER")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parent.parent / "book" / "claims.yml"


def load_ledger(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Read the ledger and return its entries keyed by claim ID, in file order.

    Raises
    ------
    LedgerError
        If the file lacks the ``claims`` list, an entry lacks a field, an ID repeats, or a
        verdict is outside :data:`VERDICTS` and not ``pending``.
    """
    p = pathlib.Path(path) if path is not None else ledger_path()
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise LedgerError(f"{p}: expected a mapping with a 'claims' list")
    required = ("id", "section", "claim", "verdict", "explanation", "tolerance", "evidence")
    entries: dict[str, dict[str, Any]] = {}
    for item in data["claims"]:
        missing = [k for k in required if k not in item]
        if missing:
            raise LedgerError(f"{p}: entry {item.get('id', '?')!r} lacks {missing}")
        cid = item["id"]
        if cid in entries:
            raise LedgerError(f"{p}: claim ID {cid!r} appears twice")
        if item["verdict"] not in VERDICTS + ("pending",):
            raise LedgerError(f"{p}: claim {cid!r} has unknown verdict {item['verdict']!r}")
        entries[cid] = item
    return entries


def _fmt(value: Any) -> str:
    """Short, platform-stable rendering of a measured value (4 significant digits)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if v == 0:
            return "0"  # avoid printing -0
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def _fmt_mapping(m: Mapping[str, Any] | Any) -> str:
    if isinstance(m, Mapping):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in m.items())
    return _fmt(m)


def check_claim(
    claim_id: str,
    measured: Mapping[str, Any],
    tolerance: Mapping[str, Any] | float,
    rule: Callable[[Mapping[str, Any], Any], str],
    *,
    path: str | os.PathLike | None = None,
) -> str:
    """Compute a claim's verdict from a measurement and check it against the ledger.

    Parameters
    ----------
    claim_id : str
        An ID of ``book/claims.yml`` (the IDs fixed by the project's CLAIMS.md).
    measured : mapping of str to number, bool or str
        The quantities the notebook measured, by name.
    tolerance : mapping or float
        The tolerance(s) the rule compares the measurement with.
    rule : callable ``rule(measured, tolerance) -> str``
        Written in the notebook cell: returns one of :data:`VERDICTS`.
    path : path-like, optional
        Ledger file to use instead of :func:`ledger_path`.

    Returns
    -------
    str
        The verdict, after printing one line ``claim_id: verdict | measured | tolerance``.

    Raises
    ------
    LedgerError
        Unknown claim ID, empty measurement, or a rule that returns a word outside the
        vocabulary.
    LedgerMismatch
        The computed verdict differs from the ledger's (including a ledger still ``pending``).

    Examples
    --------
    >>> check_claim("ex1-first-order", {"slope": 2.0}, {"slope": 0.1},
    ...             lambda m, t: "confirmed" if abs(m["slope"] - 2) < t["slope"] else "refuted")
    ... # doctest: +SKIP
    """
    entries = load_ledger(path)
    if claim_id not in entries:
        raise LedgerError(f"unknown claim ID {claim_id!r}; the ledger holds {sorted(entries)}")
    if not isinstance(measured, Mapping) or not measured:
        raise LedgerError(f"{claim_id}: 'measured' must be a non-empty mapping of name -> value")
    if not callable(rule):
        raise LedgerError(f"{claim_id}: 'rule' must be callable, got {rule!r}")
    verdict = rule(measured, tolerance)
    if verdict not in VERDICTS:
        raise LedgerError(f"{claim_id}: the rule returned {verdict!r}, not one of {VERDICTS}")
    recorded = entries[claim_id]["verdict"]
    if verdict != recorded:
        raise LedgerMismatch(
            f"{claim_id}: the measurement gives {verdict!r} but the ledger records {recorded!r} "
            f"(measured: {_fmt_mapping(measured)}; tolerance: {_fmt_mapping(tolerance)})"
        )
    print(f"{claim_id}: {verdict} | {_fmt_mapping(measured)} | tolerance: {_fmt_mapping(tolerance)}")
    return verdict


# ----------------------------------------------------------------------------------------
# The ledger page
# ----------------------------------------------------------------------------------------
_PAGE_HEAD = """\
(ledger)=
# The claim ledger

Every claim that the review {cite}`liu2022review` makes or relies on has one row here, under
the fixed ID of the project's claim list. A verdict is never typed in by hand alone: the
chapter cell linked in the last column measures the claim, applies a rule against a stated
tolerance, and calls `samlib.ledger.check_claim`, which fails the notebook (and so the test
suite) if the measurement no longer supports the verdict recorded in `book/claims.yml`.

The verdicts:

- **confirmed**: holds as stated, within the stated tolerance;
- **confirmed-with-correction**: holds once the correction given in the row is made;
- **refuted**: false; the row gives the counterexample or measurement;
- **not-reproduced**: a numerical result that the stated settings do not reproduce;
- **inconclusive**: the evidence is mixed or hinges on choices the review leaves open;
- **pending**: no chapter has settled it yet.

This page is generated from `book/claims.yml` by `python -m samlib.ledger`; a test checks
that it is up to date.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def claim_label(claim_id: str) -> str:
    """The MyST label of a claim's section on the ledger page (``claim-<id>``)."""
    return f"claim-{claim_id}"


def render_ledger_page(path: str | os.PathLike | None = None) -> str:
    """Return the MyST source of the ledger page for the ledger at ``path``.

    The page has a summary table (one row per claim, linking to the claim's own section and
    to its evidence) followed by one section per claim, labelled ``claim-<id>`` so that
    chapters can link to a claim with ``{ref}`claim-<id>```.
    """
    entries = load_ledger(path)
    counts: dict[str, int] = {}
    for e in entries.values():
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    order = VERDICTS + ("pending",)
    summary = ", ".join(f"{counts[v]} {v}" for v in order if v in counts)

    def evidence_links(e: dict[str, Any]) -> str:
        return ", ".join(f"{{ref}}`{ev['label']}`" for ev in (e["evidence"] or [])) or "—"

    lines = [_PAGE_HEAD, "## Summary", "", f"Totals: {summary} ({len(entries)} claims).", ""]
    lines.append("| ID | review | verdict | evidence |")
    lines.append("|---|---|---|---|")
    for cid, e in entries.items():
        lines.append(
            f"| {{ref}}`{cid} <{claim_label(cid)}>` | {_cell(e['section'])} | **{e['verdict']}** "
            f"| {evidence_links(e)} |"
        )
    lines += ["", "## The claims one by one", ""]
    for cid, e in entries.items():
        lines += [
            f"({claim_label(cid)})=",
            f"### {cid}",
            "",
            f"- **Review:** {_cell(e['section'])}",
            f"- **Claim (our paraphrase):** {_cell(e['claim'])}",
            f"- **Verdict:** **{e['verdict']}**",
            f"- **Correction or explanation:** {_cell(e['explanation']) or '—'}",
            f"- **Tolerance:** {_cell(e['tolerance']) or '—'}",
            f"- **Evidence:** {evidence_links(e)}",
            "",
        ]
    return "\n".join(lines)


README_START = "<!-- chapters:start (generated by python -m samlib.ledger) -->"
README_END = "<!-- chapters:end -->"


def render_chapter_table(chapters_path: str | os.PathLike | None = None,
                         path: str | os.PathLike | None = None) -> str:
    """Markdown table of the chapters with their verdict counts, for the README.

    A claim counts for the chapter of its first evidence notebook; ``chapters_path``
    (default ``book/chapters.yml``) gives each chapter's one-line summary.
    """
    entries = load_ledger(path)
    cp = pathlib.Path(chapters_path) if chapters_path is not None else ledger_path().parent / "chapters.yml"
    chapters = yaml.safe_load(cp.read_text(encoding="utf-8"))["chapters"]
    rows = ["| chapter | what it verifies | verdicts |", "|---|---|---|"]
    for ch in chapters:
        nb = ch["notebook"]
        if not (ledger_path().parent.parent / nb).exists():
            continue
        counts: dict[str, int] = {}
        for e in entries.values():
            if e["evidence"] and e["evidence"][0]["notebook"] == nb:
                counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
        verdicts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS + ("pending",) if v in counts) or "—"
        rows.append(f"| [`{nb}`]({nb}) | {_cell(ch['verifies'])} | {verdicts} |")
    total: dict[str, int] = {}
    for e in entries.values():
        total[e["verdict"]] = total.get(e["verdict"], 0) + 1
    summary = ", ".join(f"{total[v]} {v}" for v in VERDICTS + ("pending",) if v in total)
    rows.append(f"| [`book/ledger.md`](book/ledger.md) | all {len(entries)} claims | {summary} |")
    return "\n".join(rows) + "\n"


def update_readme(readme: str | os.PathLike | None = None) -> bool:
    """Replace the chapter table between the README markers; return True if it changed."""
    rp = pathlib.Path(readme) if readme is not None else ledger_path().parent.parent / "README.md"
    text = rp.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise LedgerError(f"{rp}: the chapter-table markers are missing")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = head + README_START + "\n" + render_chapter_table() + README_END + tail
    if new != text:
        rp.write_text(new, encoding="utf-8")
    return new != text


def _main() -> None:
    out = ledger_path().parent / "ledger.md"
    out.write_text(render_ledger_page(), encoding="utf-8")
    print(f"wrote {out}")
    if update_readme():
        print("updated the chapter table of README.md")


if __name__ == "__main__":
    _main()
