"""The claim ledger: the book's record of each claim of the review and its verdict.

The ledger lives in ``book/claims.yml``.  A notebook cell that settles a claim calls
:func:`check_claim` with what it measured, the tolerance it uses and the *rule* that
turns measurement and tolerance into a verdict.  The helper evaluates the rule, compares
the verdict with the one recorded in the ledger and raises :class:`LedgerMismatch` when
they differ, so a changed measurement fails the notebook under nbval.

Run ``python -m samlib.ledger`` to regenerate the ledger page ``book/ledger.md``.
"""
from __future__ import annotations

import copy
import importlib.util
import math
import numbers
import os
import pathlib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

__all__ = [
    "VERDICTS",
    "LedgerError",
    "LedgerMismatch",
    "ledger_path",
    "load_ledger",
    "check_claim",
    "Check",
    "quote",
    "round_sig",
    "load_measurements",
    "measurements_path",
    "render_ledger_page",
    "fill_placeholders",
    "claim_label",
    "render_chapter_table",
    "update_readme",
    "render_verdict_html",
    "render_overview",
    "render_verdict_figure",
    "update_intro",
    "plain_math",
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


#: Name of the package under which the book's ledger files are installed with samlib
#: (pyproject maps it to ``book/``), so that ``pip install git+<repo>`` carries them.
_INSTALLED_LEDGER_PACKAGE = "samlib_book"


def ledger_path() -> pathlib.Path:
    """Location of ``claims.yml``.

    In this order: ``$SAMLIB_LEDGER`` if set; ``book/claims.yml`` in the working directory or
    one of its parents (a checkout of the book, whichever folder a notebook runs from); the
    checkout that holds this module (an editable install); the copy installed with samlib
    (``pip install git+<repo>``, as on Colab). Raises :class:`LedgerError` if none exists.
    """
    env = os.environ.get("SAMLIB_LEDGER")
    if env:
        return pathlib.Path(env)
    cwd = pathlib.Path.cwd().resolve()
    for d in (cwd, *cwd.parents):
        if (d / "book" / "claims.yml").is_file() and (d / "samlib").is_dir():
            return d / "book" / "claims.yml"
    beside = pathlib.Path(__file__).resolve().parent.parent / "book" / "claims.yml"
    if beside.is_file():
        return beside
    # samlib_book has no __init__.py (it is the book's folder): look through the locations
    # of the namespace package rather than importlib.resources, which refuses several.
    spec = importlib.util.find_spec(_INSTALLED_LEDGER_PACKAGE)
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        installed = pathlib.Path(loc) / "claims.yml"
        if installed.is_file():
            return installed
    raise LedgerError("no ledger found: set SAMLIB_LEDGER to a claims.yml, run from a checkout of "
                      "the book, or install samlib from the book's repository")


def load_ledger(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Read the ledger and return its entries keyed by claim ID, in file order.

    Raises
    ------
    LedgerError
        If the file is missing or not valid YAML, lacks the ``claims`` list, an entry is not
        a mapping or lacks a field, an ID repeats, a verdict is outside :data:`VERDICTS` and
        not ``pending``, or an evidence item is not ``{notebook, label}``.
    """
    p = pathlib.Path(path) if path is not None else ledger_path()
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LedgerError(f"{p}: cannot read the ledger ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise LedgerError(f"{p}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise LedgerError(f"{p}: expected a mapping with a 'claims' list")
    required = ("id", "section", "claim", "verdict", "explanation", "tolerance", "evidence")
    entries: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(data["claims"]):
        if not isinstance(item, dict):
            raise LedgerError(f"{p}: entry {i} is {type(item).__name__}, not a mapping")
        missing = [k for k in required if k not in item]
        if missing:
            raise LedgerError(f"{p}: entry {item.get('id', i)!r} lacks {missing}")
        cid = item["id"]
        if not isinstance(cid, str) or not cid:
            raise LedgerError(f"{p}: entry {i} has ID {cid!r}, not a non-empty string")
        if cid in entries:
            raise LedgerError(f"{p}: claim ID {cid!r} appears twice")
        if item["verdict"] not in VERDICTS + ("pending",):
            raise LedgerError(f"{p}: claim {cid!r} has unknown verdict {item['verdict']!r}")
        ev = item["evidence"]
        if ev is not None and (not isinstance(ev, list) or not all(
                isinstance(e, dict) and isinstance(e.get("notebook"), str) and isinstance(e.get("label"), str)
                for e in ev)):
            raise LedgerError(f"{p}: claim {cid!r}: evidence must be a list of {{notebook, label}}")
        entries[cid] = item
    return entries


#: Significant digits to which measurements are rounded when printed, recorded and compared.
DIGITS = 3

#: Environment variable that switches :func:`check_claim` from comparing with the recorded
#: measurements to recording them (``make execute`` sets it).
RECORD_ENV = "SAMLIB_LEDGER_RECORD"


def measurements_path(path: str | os.PathLike | None = None) -> pathlib.Path:
    """The generated record of measurements, ``measured.yml`` beside the ledger file."""
    ledger = pathlib.Path(path) if path is not None else ledger_path()
    return ledger.with_name("measured.yml")


def round_sig(value: float, digits: int = DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (0 stays 0, -0 becomes 0)."""
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def _normalise(name: str, value: Any, allow_nonfinite: bool) -> Any:
    """Plain Python value of a measurement (numpy scalars unwrapped); non-finite floats refused."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        value = value.item()
        if isinstance(value, bool):
            return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v) and not allow_nonfinite:
            raise LedgerError(
                f"measurement {name!r} is {v} (not finite); a check cannot rest on it. Pass "
                f"allow_nonfinite=({name!r},) if a non-finite value is itself the evidence."
            )
        return v
    if isinstance(value, (tuple, list)):
        return tuple(_normalise(f"{name}[{i}]", v, allow_nonfinite) for i, v in enumerate(value))
    raise LedgerError(f"measurement {name!r} has unsupported type {type(value).__name__}")


def _normalise_mapping(what: str, m: Mapping[str, Any], allow: Collection[str]) -> dict[str, Any]:
    if not isinstance(m, Mapping) or not m:
        raise LedgerError(f"{what!r} must be a non-empty mapping of name -> value, got {m!r}")
    out = {}
    for k, v in m.items():
        if not isinstance(k, str):
            raise LedgerError(f"{what}: keys must be strings, got {k!r}")
        out[k] = _normalise(k, v, k in allow)
    return out


def _rounded(value: Any, digits: int) -> Any:
    if isinstance(value, float):
        return round_sig(value, digits) if math.isfinite(value) else value
    if isinstance(value, tuple):
        return tuple(_rounded(v, digits) for v in value)
    return value


def _fmt(value: Any, digits: int = DIGITS) -> str:
    """Short, platform-stable rendering of a measured value (``digits`` significant digits)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if v == 0:
            return "0"  # avoid printing -0
        return f"{v:.{digits}g}" if math.isfinite(v) else str(v)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v, digits) for v in value) + ")"
    return str(value)


def _fmt_mapping(m: Mapping[str, Any] | Any, digits: int = DIGITS) -> str:
    if isinstance(m, Mapping):
        return ", ".join(f"{k}={_fmt(v, digits)}" for k, v in m.items())
    return _fmt(m, digits)


def _agree(recorded: Any, fresh: Any, digits: int) -> bool:
    """Whether a fresh rounded value reproduces a recorded one.

    Floats may differ by one unit in the last recorded digit: a value lying on a rounding
    boundary can round either way when another CPU changes its last bits. Everything
    else must be equal.
    """
    if isinstance(recorded, (list, tuple)) and isinstance(fresh, (list, tuple)):
        return len(recorded) == len(fresh) and all(_agree(r, f, digits) for r, f in zip(recorded, fresh))
    if isinstance(recorded, bool) or isinstance(fresh, bool):
        return recorded is fresh
    if isinstance(recorded, float) or isinstance(fresh, float):
        if not isinstance(recorded, numbers.Real) or not isinstance(fresh, numbers.Real):
            return False
        r, f = float(recorded), float(fresh)
        if not (math.isfinite(r) and math.isfinite(f)):
            return r == f or (math.isnan(r) and math.isnan(f))
        scale = max(abs(r), abs(f))
        if scale == 0:
            return True
        ulp = 10.0 ** (math.floor(math.log10(scale)) - digits + 1)
        return abs(r - f) <= 1.001 * ulp
    return recorded == fresh


def _run_rule(rule: Callable, measured: dict, tolerance: Any, claim_id: str, what: str) -> str:
    # The rule gets read-only deep copies: it cannot change what is printed and recorded.
    m = MappingProxyType(copy.deepcopy(measured))
    t = MappingProxyType(copy.deepcopy(tolerance)) if isinstance(tolerance, dict) else copy.deepcopy(tolerance)
    verdict = rule(m, t)
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise LedgerError(f"{claim_id}: on {what} the rule returned {verdict!r}, not one of {VERDICTS}")
    return verdict


@dataclass(frozen=True)
class Check:
    """The outcome of :func:`check_claim`: what was measured, the verdict, and the evidence
    that would have overturned it (each counter measurement with the verdict it gives)."""

    claim_id: str
    verdict: str
    measured: dict[str, Any]
    tolerance: Any
    counter: tuple[tuple[dict[str, Any], str], ...]
    digits: int = DIGITS

    def __str__(self) -> str:
        return self.verdict

    def __eq__(self, other: object) -> bool:  # a Check compares equal to its verdict word
        if isinstance(other, str):
            return self.verdict == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def record(self) -> dict[str, Any]:
        """The rounded, YAML-ready record stored in ``measured.yml``."""

        def plain(v: Any) -> Any:
            v = _rounded(v, self.digits)
            return list(plain(x) for x in v) if isinstance(v, tuple) else v

        tol = ({k: plain(v) for k, v in self.tolerance.items()} if isinstance(self.tolerance, dict)
               else plain(self.tolerance))
        return {
            "verdict": self.verdict,
            "digits": self.digits,
            "measured": {k: plain(v) for k, v in self.measured.items()},
            "tolerance": tol,
            "counter": [{"measured": {k: plain(v) for k, v in c.items()}, "verdict": v}
                        for c, v in self.counter],
        }

    def lines(self) -> list[str]:
        """The verdict block printed under the checking cell."""
        d = self.digits
        out = [f"{self.claim_id}: {self.verdict}",
               f"  measured:  {_fmt_mapping(self.measured, d)}",
               f"  tolerance: {_fmt_mapping(self.tolerance, d)}"]
        for c, v in self.counter:
            out.append(f"  would be {v} if {_fmt_mapping(c, d)}")
        return out


def _glue(check: Check) -> None:
    """Glue each rounded measurement as ``<claim-id>.<name>`` for MyST-NB's ``{glue:text}``."""
    try:
        from IPython import get_ipython
    except ImportError:  # not in a notebook: nothing to glue into
        return
    if get_ipython() is None:
        return
    from myst_nb import glue

    for k, v in check.measured.items():
        glue(f"{check.claim_id}.{k}", _rounded(v, check.digits), display=False)


def quote(name: str, value: Any, digits: int = DIGITS) -> Any:
    """Glue a number that chapter prose quotes, rounded to ``digits`` significant digits.

    Use it for any measured number written in a markdown cell: the cell then says
    ``{glue:text}`name``` (or ``{glue:text}`name:.2f```) instead of typing the number.
    Returns the rounded value. Non-finite values raise :class:`LedgerError`.
    """
    v = _rounded(_normalise(name, value, False), digits)
    try:
        from IPython import get_ipython
        in_notebook = get_ipython() is not None
    except ImportError:
        in_notebook = False
    if in_notebook:
        from myst_nb import glue

        glue(name, v, display=False)
    return v


@contextmanager
def _locked(path: pathlib.Path):
    """Exclusive lock on ``path.lock`` while the record file is read and rewritten
    (notebooks of the book may be executed in parallel)."""
    lock = path.with_name(path.name + ".lock")
    with open(lock, "w") as fh:
        try:
            import fcntl
        except ImportError:  # no POSIX locks (Windows): executions there are sequential
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_measurements(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """The recorded measurements (``measured.yml``), keyed by claim ID; empty if absent."""
    p = measurements_path(path)
    if not p.exists():
        return {}
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LedgerError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise LedgerError(f"{p}: expected a mapping of claim ID -> record")
    return data


def _store(check: Check, path: str | os.PathLike | None, order: list[str]) -> None:
    p = measurements_path(path)
    with _locked(p):
        data = load_measurements(path)
        data[check.claim_id] = check.record()
        ordered = {cid: data[cid] for cid in order if cid in data}
        header = ("# Generated by samlib.ledger.check_claim when the notebooks are executed\n"
                  "# (`make execute`); nbval runs compare fresh measurements with these. Do not edit.\n")
        p.write_text(header + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100),
                     encoding="utf-8")


def _compare(check: Check, recorded: dict[str, Any] | None, volatile: set[str] = frozenset()) -> None:
    cid = check.claim_id
    if recorded is None:
        raise LedgerMismatch(f"{cid}: no recorded measurement in measured.yml; execute the notebook "
                             f"with {RECORD_ENV}=1 (`make execute`) to record it")
    fresh = check.record()
    problems = []
    if recorded.get("verdict") != fresh["verdict"]:
        problems.append(f"verdict {fresh['verdict']!r}, recorded {recorded.get('verdict')!r}")
    rec_m = recorded.get("measured") or {}
    if set(rec_m) != set(fresh["measured"]):
        problems.append(f"measured names {sorted(fresh['measured'])}, recorded {sorted(rec_m)}")
    for k, v in fresh["measured"].items():
        if k in rec_m and k not in volatile and not _agree(rec_m[k], v, check.digits):
            problems.append(f"{k} = {_fmt(v, check.digits)}, recorded {_fmt(rec_m[k], check.digits)}")
    if recorded.get("tolerance") != fresh["tolerance"]:
        problems.append(f"tolerance {fresh['tolerance']}, recorded {recorded.get('tolerance')}")
    if [c["verdict"] for c in recorded.get("counter") or []] != [c["verdict"] for c in fresh["counter"]]:
        problems.append("counter-evidence verdicts differ from the record")
    if problems:
        raise LedgerMismatch(f"{cid}: the fresh measurement does not reproduce the record: " + "; ".join(problems)
                             + f" (re-execute with {RECORD_ENV}=1 if the change is intended)")



# ----------------------------------------------------------------------------------------
# How a verdict looks: a box under the checking cell, a badge in the ledger and on the
# landing page. The text form (``Check.lines``) is the text/plain fallback that nbval compares.
# ----------------------------------------------------------------------------------------
#: What each verdict word means, in one line (the badge's tooltip and the figure's legend).
VERDICT_MEANING = {
    "confirmed": "holds as stated, within the tolerance",
    "confirmed-with-correction": "holds once the stated correction is made",
    "refuted": "false: a counterexample or measurement contradicts it",
    "not-reproduced": "the stated settings do not reproduce the result",
    "inconclusive": "the evidence is mixed or hinges on open choices",
    "pending": "no chapter has settled it yet",
}

#: Colours of the verdicts (also in ``_static/reader.css``; the word is always shown too).
VERDICT_COLOURS = {
    "confirmed": "#1a7f37",
    "confirmed-with-correction": "#0a6c74",
    "refuted": "#c62828",
    "not-reproduced": "#b35c00",
    "inconclusive": "#6a4c93",
    "pending": "#6e7781",
}


def _esc(text: Any) -> str:
    import html

    return html.escape(str(text), quote=True)


def _html_items(m: Mapping[str, Any] | Any, digits: int) -> str:
    if isinstance(m, Mapping):
        return " ".join(f'<span class="sam-verdict__item"><code>{_esc(k)}</code>&#8201;=&#8201;'
                        f"{_esc(_fmt(v, digits))}</span>" for k, v in m.items())
    return f'<span class="sam-verdict__item">{_esc(_fmt(m, digits))}</span>'


def render_verdict_html(check: Check) -> str:
    """The verdict box shown under a checking cell (``text/html``; ``Check.lines`` is its text).

    It gives the claim (linked to its ledger section), the verdict word on its colour, what
    was measured, the tolerance and what would have overturned the verdict. The styles live
    in the book's ``_static/reader.css``; the left border keeps the colour in a bare notebook.
    """
    d, v = check.digits, check.verdict
    counter = "".join(
        f'<li><span class="verdict verdict-{_esc(cv)}">{_esc(cv)}</span> if {_html_items(c, d)}</li>'
        for c, cv in check.counter)
    return (
        f'<div class="sam-verdict sam-verdict--{_esc(v)}" role="note" '
        f'aria-label="Verdict on claim {_esc(check.claim_id)}: {_esc(v)}" '
        f'style="border-left:6px solid {VERDICT_COLOURS.get(v, "#6e7781")};padding:0.3em 0.8em">'
        f'<div class="sam-verdict__head"><span class="verdict verdict-{_esc(v)}" '
        f'title="{_esc(VERDICT_MEANING.get(v, ""))}">{_esc(v)}</span> '
        f'<a class="sam-verdict__claim" href="ledger.html#{_esc(claim_label(check.claim_id))}">'
        f"{_esc(check.claim_id)}</a></div>"
        f'<dl class="sam-verdict__body">'
        f"<dt>Measured</dt><dd>{_html_items(check.measured, d)}</dd>"
        f"<dt>Tolerance</dt><dd>{_html_items(check.tolerance, d)}</dd>"
        f"<dt>Would have been</dt><dd><ul>{counter}</ul></dd>"
        f"</dl></div><!-- /sam-verdict -->"
    )


def _show(check: Check) -> None:
    """Show the verdict: an HTML box with a text/plain fallback in a notebook, text elsewhere.

    The text/plain part is exactly the block that earlier versions printed, so the stored
    outputs that nbval compares keep their content.
    """
    text = "\n".join(check.lines())
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None  # noqa: N806
    if get_ipython is None or get_ipython() is None:
        print(text)
        return
    from IPython.display import display

    display({"text/plain": text, "text/html": render_verdict_html(check)}, raw=True)


def check_claim(
    claim_id: str,
    measured: Mapping[str, Any],
    tolerance: Mapping[str, Any] | float,
    rule: Callable[[Mapping[str, Any], Any], str],
    *,
    counter: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    allow_nonfinite: Collection[str] = (),
    volatile: Collection[str] = (),
    digits: int = DIGITS,
    path: str | os.PathLike | None = None,
    record: bool | None = None,
) -> Check:
    """Compute a claim's verdict from a measurement, prove that it could have failed, and
    check it against the ledger.

    Parameters
    ----------
    claim_id : str
        An ID of ``book/claims.yml`` (the IDs fixed by the project's CLAIMS.md).
    measured : mapping of str to number, bool, str or tuple
        The quantities the notebook measured, by name. Non-finite numbers are refused.
    tolerance : mapping or float
        The tolerance(s) the rule compares the measurement with.
    rule : callable ``rule(measured, tolerance) -> str``
        Written in the notebook cell; returns one of :data:`VERDICTS`. It receives
        read-only copies of ``measured`` and ``tolerance``.
    counter : mapping or sequence of mappings
        The counter-evidence: each mapping replaces some measured values (its keys must be
        names of ``measured``) and the rule must give a *different* verdict on the result.
        This is what would have overturned the verdict; it is printed with it.
    allow_nonfinite : collection of str, optional
        Names of measurements allowed to be ``nan`` or ``inf`` (when that is the evidence).
    volatile : collection of str, optional
        Names of measurements that legitimately change from machine to machine (timings):
        recorded, but not compared with the record. The verdict still must match the
        ledger's. The checking cell should carry the ``nbval-ignore-output`` tag.
    digits : int, optional
        Significant digits for printing, recording and comparing (default 3).
    path : path-like, optional
        Ledger file to use instead of :func:`ledger_path`; the record of measurements is
        ``measured.yml`` beside it.
    record : bool, optional
        Store the rounded measurement in ``measured.yml`` (True) or compare with the stored
        one (False). Default: record if the environment variable ``SAMLIB_LEDGER_RECORD``
        is ``1`` (``make execute`` sets it), else compare.

    Returns
    -------
    Check
        The verdict with its evidence; it compares equal to the verdict word. A block is
        printed: the verdict, the measurement, the tolerance, and what would overturn it.

    Raises
    ------
    LedgerError
        Unknown claim ID, empty or non-finite measurement, a counter that names an unknown
        measurement, a rule that returns a word outside the vocabulary, or counter-evidence
        on which the rule gives the same verdict (a rule that cannot fail).
    LedgerMismatch
        The computed verdict differs from the ledger's (including a ledger still
        ``pending``), or the rounded measurement differs from the recorded one.

    Examples
    --------
    >>> rule = lambda m, t: "confirmed" if abs(m["slope"] - 2) < t["slope"] else "refuted"
    >>> check_claim("ex1-first-order", {"slope": 2.0}, {"slope": 0.1}, rule,
    ...             counter={"slope": 1.0})  # doctest: +SKIP
    """
    entries = load_ledger(path)
    if claim_id not in entries:
        raise LedgerError(f"unknown claim ID {claim_id!r}; the ledger holds {sorted(entries)}")
    if not callable(rule):
        raise LedgerError(f"{claim_id}: 'rule' must be callable, got {rule!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
        raise LedgerError(f"{claim_id}: 'digits' must be an int in [1, 15], got {digits!r}")
    allow = set(allow_nonfinite)
    m = _normalise_mapping("measured", measured, allow)
    unknown = (allow | set(volatile)) - set(m)
    if unknown:
        raise LedgerError(f"{claim_id}: allow_nonfinite/volatile name unknown measurements {sorted(unknown)}")
    if isinstance(tolerance, Mapping):
        tol: Any = _normalise_mapping("tolerance", tolerance, ())
    else:
        tol = _normalise("tolerance", tolerance, False)
    verdict = _run_rule(rule, m, tol, claim_id, "the measurement")

    counters = [counter] if isinstance(counter, Mapping) else list(counter or ())
    if not counters:
        raise LedgerError(f"{claim_id}: 'counter' must give at least one counter-measurement")
    flips = []
    for i, c in enumerate(counters):
        c = _normalise_mapping(f"counter[{i}]", c, allow)
        extra = set(c) - set(m)
        if extra:
            raise LedgerError(f"{claim_id}: counter[{i}] names {sorted(extra)}, which are not measured")
        v = _run_rule(rule, {**m, **c}, tol, claim_id, f"counter[{i}]")
        if v == verdict:
            raise LedgerError(
                f"{claim_id}: on counter[{i}] ({_fmt_mapping(c, digits)}) the rule still returns "
                f"{verdict!r}; counter-evidence must change the verdict (a rule that cannot fail proves nothing)"
            )
        flips.append((c, v))

    recorded = entries[claim_id]["verdict"]
    if verdict != recorded:
        raise LedgerMismatch(
            f"{claim_id}: the measurement gives {verdict!r} but the ledger records {recorded!r} "
            f"(measured: {_fmt_mapping(m, digits)}; tolerance: {_fmt_mapping(tol, digits)})"
        )
    check = Check(claim_id, verdict, m, tol, tuple(flips), digits)
    if record is None:
        record = os.environ.get(RECORD_ENV, "") == "1"
    if record:
        _store(check, path, list(entries))
    else:
        _compare(check, load_measurements(path).get(claim_id), set(volatile))
    _show(check)
    _glue(check)
    return check


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

- {verdict}`confirmed`: holds as stated, within the stated tolerance;
- {verdict}`confirmed-with-correction`: holds once the correction given in the row is made;
- {verdict}`refuted`: false; the row gives the counterexample or measurement;
- {verdict}`not-reproduced`: a numerical result that the stated settings do not reproduce;
- {verdict}`inconclusive`: the evidence is mixed or hinges on choices the review leaves open;
- {verdict}`pending`: no chapter has settled it yet.

Each claim's section gives what was measured (rounded as recorded in `book/measured.yml`
when the chapters were executed; nbval re-runs must reproduce it) and the counter-evidence: a
measurement for which the same rule would have returned another verdict. The rule is run on
it at every execution, so a rule that cannot fail is rejected. Numbers in the explanations
are filled in from the recorded measurements.

This page is generated from `book/claims.yml` and `book/measured.yml` by
`python -m samlib.ledger`; a test checks that it is up to date.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def claim_label(claim_id: str) -> str:
    """The MyST label of a claim's section on the ledger page (``claim-<id>``)."""
    return f"claim-{claim_id}"


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_./-]+)(?::([^}]*))?\s*\}\}")


def fill_placeholders(text: str, claim_id: str, record: Mapping[str, Any] | None) -> str:
    """Replace ``{{name}}`` or ``{{name:.2f}}`` in ledger text by the recorded measurement.

    Numbers that a ledger entry quotes come from ``measured.yml`` (written by
    :func:`check_claim`), never typed: an unknown name raises :class:`LedgerError`.
    """
    measured = (record or {}).get("measured") or {}

    def sub(mt: re.Match) -> str:
        name, spec = mt.group(1), mt.group(2)
        if name not in measured:
            raise LedgerError(f"{claim_id}: the text quotes {{{{{name}}}}}, which is not a recorded "
                              f"measurement (recorded: {sorted(measured)})")
        v = measured[name]
        if spec:
            return format(v, spec)
        return _fmt(tuple(v) if isinstance(v, list) else v, (record or {}).get("digits", DIGITS))

    return _PLACEHOLDER.sub(sub, str(text))


UNRECORDED = "NOT-RECORDED"


def _filled(text: str, cid: str, rec: Mapping[str, Any] | None) -> str:
    """Placeholders filled; an unrecorded name is marked (a test fails on the marker) so
    that the page can still be written while a chapter is being re-executed."""
    try:
        return fill_placeholders(text, cid, rec)
    except LedgerError:
        return _PLACEHOLDER.sub(lambda mt: f"{UNRECORDED}({mt.group(1)})", str(text))


#: Headings of the ledger's parts (an entry's optional ``part`` field; absent means Part I).
_PART_TITLES = {
    "I": "Part I: the review's claims",
    "II": "Part II: the review's open questions, and what came after",
}


def render_ledger_page(path: str | os.PathLike | None = None) -> str:
    """Return the MyST source of the ledger page for the ledger at ``path``.

    The page has a summary table (one row per claim, linking to the claim's own section and
    to its evidence) followed by one section per claim, labelled ``claim-<id>`` so that
    chapters can link to a claim with ``{ref}`claim-<id>```. Each section shows the
    measurement recorded by :func:`check_claim` and the counter-evidence that would have
    overturned the verdict.
    """
    entries = load_ledger(path)
    records = load_measurements(path)
    counts: dict[str, int] = {}
    for e in entries.values():
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    order = VERDICTS + ("pending",)
    summary = ", ".join(f"{counts[v]} {v}" for v in order if v in counts)

    def evidence_links(e: dict[str, Any]) -> str:
        return ", ".join(f"{{ref}}`{ev['label']}`" for ev in (e["evidence"] or [])) or "—"

    lines = [_PAGE_HEAD, "## Summary", "", f"Totals: {summary} ({len(entries)} claims).", ""]
    parts: dict[str, list[str]] = {}
    for cid, e in entries.items():
        parts.setdefault(str(e.get("part", "I")), []).append(cid)
    for part, ids in parts.items():
        if len(parts) > 1:
            lines += [f"### {_PART_TITLES.get(part, 'Part ' + part)}", ""]
        lines += ["```{list-table}", ":header-rows: 1", ":widths: 18 44 12 12 14",
                  ":class: ledger-summary", "",
                  "* - verdict", "  - claim", "  - ID", "  - review", "  - evidence"]
        for cid in ids:
            e = entries[cid]
            lines += [f"* - {_badge(e['verdict'])}", f"  - {_one_line(e)}",
                      f"  - {{ref}}`{cid} <{claim_label(cid)}>`", f"  - {_cell(e['section'])}",
                      f"  - {evidence_links(e)}"]
        lines += ["```", ""]
    lines += ["## The claims one by one", ""]
    for cid, e in entries.items():
        rec = records.get(cid)
        lines += [
            f"({claim_label(cid)})=",
            f"### {cid}",
            "",
            f"- **Review:** {_cell(e['section'])}",
            f"- **Claim (our paraphrase):** {_cell(e['claim'])}",
            f"- **Verdict:** {_badge(e['verdict'])}",
            f"- **Correction or explanation:** {_cell(_filled(e['explanation'], cid, rec)) or '—'}",
            f"- **Tolerance:** {_cell(_filled(e['tolerance'], cid, rec)) or '—'}",
        ]
        if rec:
            d = rec.get("digits", DIGITS)
            meas = ", ".join(f"`{k}` = {_fmt(tuple(v) if isinstance(v, list) else v, d)}"
                             for k, v in rec["measured"].items())
            lines.append(f"- **Measured** (rounded to {d} significant digits): {_cell(meas)}")
            for c in rec.get("counter") or []:
                cm = ", ".join(f"`{k}` = {_fmt(tuple(v) if isinstance(v, list) else v, d)}"
                               for k, v in c["measured"].items())
                lines.append(f"- **Would have been {c['verdict']} if:** {_cell(cm)}")
        lines += [f"- **Evidence:** {evidence_links(e)}", ""]
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



# ----------------------------------------------------------------------------------------
# The landing page: every verdict at a glance
# ----------------------------------------------------------------------------------------
INTRO_START = "% verdicts:start (generated by python -m samlib.ledger; do not edit by hand)"
INTRO_END = "% verdicts:end"
FIGURE_NAME = "verdicts.svg"


def _badge(verdict: str) -> str:
    """A verdict as a MyST role: a coloured badge that also says the word (``_ext/reader.py``)."""
    return f"{{verdict}}`{verdict}`"


def _chapters(root: pathlib.Path) -> dict[str, tuple[str, str]]:
    """Notebook -> (number, title) of the chapters in ``_toc.yml``, numbered as the book is."""
    out: dict[str, tuple[str, str]] = {}
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        return out
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8")) or {}
    for part in toc.get("parts") or []:
        n = 0
        for ch in part.get("chapters") or []:
            f = str(ch.get("file", ""))
            stem = f[:-6] if f.endswith(".ipynb") else f
            nb = root / (stem + ".ipynb")
            title = stem.rsplit("/", 1)[-1]
            if nb.is_file():
                import json

                cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
                for c in cells:
                    if c.get("cell_type") != "markdown":
                        continue
                    for line in "".join(c.get("source", "")).splitlines():
                        if line.startswith("# "):
                            title = line[2:].strip()
                            break
                    else:
                        continue
                    break
            if part.get("numbered"):
                n += 1
                number = str(n)
            else:
                number = part.get("caption", "")
            out[stem + ".ipynb"] = (number, title)
    return out


def _groups(entries: Mapping[str, dict[str, Any]], root: pathlib.Path) -> list[tuple[str, str, str | None, list[str]]]:
    """The claims grouped as the landing page shows them: (short label, heading, doc, ids).

    Part I by the chapter of a claim's first evidence notebook, in the book's order;
    Part II (and any other part) as one group each.
    """
    chapters = _chapters(root)
    order = list(chapters)
    by_nb: dict[str, list[str]] = {}
    parts: dict[str, list[str]] = {}
    for cid, e in entries.items():
        part = str(e.get("part", "I"))
        nb = e["evidence"][0]["notebook"] if e["evidence"] else None
        if part == "I" and nb in chapters:
            by_nb.setdefault(nb, []).append(cid)
        else:
            parts.setdefault(part, []).append(cid)
    groups = []
    for nb in sorted(by_nb, key=order.index):
        number, title = chapters[nb]
        doc = nb[:-6]
        if number.isdigit():
            groups.append((f"Ch. {number}", f"Chapter {number}. {title}", doc, by_nb[nb]))
        else:
            groups.append((number, f"{number}: {title}", doc, by_nb[nb]))
    for part, ids in parts.items():
        title = _PART_TITLES.get(part, f"Part {part}")
        groups.append((f"Part {part}", title, None, ids))
    return groups


def _counts(entries: Mapping[str, dict[str, Any]], ids: Sequence[str] | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cid in (ids if ids is not None else list(entries)):
        v = entries[cid]["verdict"]
        counts[v] = counts.get(v, 0) + 1
    return counts


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS + ("pending",) if v in counts)


#: Letters inside the figure's squares, so that the figure does not rest on colour alone.
_VERDICT_CODES = {"confirmed": "C", "confirmed-with-correction": "CC", "refuted": "R",
                  "not-reproduced": "NR", "inconclusive": "I", "pending": "P"}


def render_verdict_figure(path: str | os.PathLike | None = None) -> str:
    """An SVG of every verdict: one row per chapter (and per part), one square per claim.

    Each square carries the verdict's colour and its letter code (legend below the rows),
    so that it reads without colour too; the figure is generated, never drawn by hand.
    """
    entries = load_ledger(path)
    root = (pathlib.Path(path) if path is not None else ledger_path()).resolve().parent.parent
    groups = _groups(entries, root)
    per_row, sq, gap, label_w, row_h = 12, 26, 4, 64, 32
    rows: list[tuple[str, list[str]]] = []
    for short, _, _, ids in groups:
        for i in range(0, len(ids), per_row):
            rows.append((short if i == 0 else "", ids[i:i + per_row]))
    width = label_w + per_row * (sq + gap) + 8
    legend_y = len(rows) * row_h + 14
    legend = [v for v in VERDICTS + ("pending",)]
    legend_rows = (len(legend) + 1) // 2
    height = legend_y + legend_rows * 24 + 6
    font = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">',
           f"<title>Verdicts of the {len(entries)} claims: {_counts_text(_counts(entries))}</title>",
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for r, (label, ids) in enumerate(rows):
        y = r * row_h + 4
        if label:
            out.append(f'<text x="0" y="{y + sq * 0.7:.1f}" style="{font};font-size:13px" '
                       f'fill="#24292f">{_esc(label)}</text>')
        for k, cid in enumerate(ids):
            v = entries[cid]["verdict"]
            x = label_w + k * (sq + gap)
            fill = VERDICT_COLOURS[v] if v != "pending" else "#ffffff"
            stroke = VERDICT_COLOURS[v]
            dash = ' stroke-dasharray="3 2"' if v == "pending" else ""
            txt = "#ffffff" if v != "pending" else VERDICT_COLOURS[v]
            tip = f"{cid}: {v}. {plain_math(' '.join(str(entries[cid]['claim']).split()))}"
            out.append(f'<g><title>{_esc(tip)}</title>'
                       f'<rect x="{x}" y="{y}" width="{sq}" height="{sq}" rx="3" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
                       f'<text x="{x + sq / 2:.1f}" y="{y + sq * 0.68:.1f}" text-anchor="middle" '
                       f'style="{font};font-size:11px;font-weight:bold" fill="{txt}">'
                       f"{_VERDICT_CODES[v]}</text></g>")
    col_w = width // 2
    for i, v in enumerate(legend):
        x = (i % 2) * col_w
        y = legend_y + (i // 2) * 24
        fill = VERDICT_COLOURS[v] if v != "pending" else "#ffffff"
        dash = ' stroke-dasharray="3 2"' if v == "pending" else ""
        txt = "#ffffff" if v != "pending" else VERDICT_COLOURS[v]
        out.append(f'<rect x="{x}" y="{y}" width="20" height="18" rx="3" fill="{fill}" '
                   f'stroke="{VERDICT_COLOURS[v]}" stroke-width="1.5"{dash}/>'
                   f'<text x="{x + 10}" y="{y + 13}" text-anchor="middle" '
                   f'style="{font};font-size:9px;font-weight:bold" fill="{txt}">{_VERDICT_CODES[v]}</text>'
                   f'<text x="{x + 26}" y="{y + 14}" style="{font};font-size:12px" fill="#24292f">'
                   f"{_esc(v)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


#: TeX commands of the claims' math and how plain text writes them (``plain_math``).
_PLAIN_COMMANDS = {
    "rho": "ρ", "eta": "η", "kappa": "κ", "lambda": "λ", "theta": "θ", "epsilon": "ε",
    "delta": "δ", "sigma": "σ", "nabla": "∇", "lVert": "‖", "rVert": "‖", "Vert": "‖",
    "approx": "≈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "to": "→", "mapsto": "↦",
    "infty": "∞", "times": "×", "cdot": "·", "max": "max", "min": "min", "log": "log",
    "sqrt": "√", "mathcal": "", "mathrm": "", "left": "", "right": "",
}
_SUPERSCRIPTS = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def plain_math(text: str) -> str:
    r"""A claim's text with its ``$...$`` math written in plain Unicode, for the places where
    MathJax cannot render it (the verdict figure's tooltips, plain-text outputs).

    >>> plain_math(r"about $\rho\lVert\nabla f\rVert$ for $\rho_0 \le G\eta_0$")
    'about ρ‖∇f‖ for ρ₀ ≤ Gη₀'
    >>> plain_math(r"$\theta + \hat\epsilon$ at $\rho = 10^{-5}$, $\lambda_{\max}$, $\log T/\sqrt{T}$")
    'θ + ε̂ at ρ = 10⁻⁵, λ_max, log T/√T'
    """
    subscripts = str.maketrans("0123456789t", "₀₁₂₃₄₅₆₇₈₉ₜ")

    def one(m: re.Match) -> str:
        s = m.group(1)
        s = re.sub(r"\\hat\s*\{?\\([A-Za-z]+)\}?", lambda h: "\\" + h.group(1) + "\u0302", s)
        s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"\\sqrt \1", s)
        s = re.sub(r"\\[,;:!]", " ", s)
        s = re.sub(r"\\([A-Za-z]+)(\s?)", lambda c: _PLAIN_COMMANDS.get(c.group(1), c.group(1))
                   + ("" if c.group(1) in ("sqrt", "nabla") else c.group(2)), s)
        s = re.sub(r"\^\{([-+0-9]+)\}|\^([0-9])", lambda e: (e.group(1) or e.group(2)).translate(_SUPERSCRIPTS), s)
        s = s.replace("^p", "ᵖ")
        s = re.sub(r"_\{?([0-9t])\}?(?![A-Za-z0-9])", lambda i: i.group(1).translate(subscripts), s)
        return s.replace("{", "").replace("}", "")

    return re.sub(r"\$([^$]+)\$", one, str(text))


def _one_line(e: Mapping[str, Any]) -> str:
    """The claim in one line: the entry's ``short`` field if it has one, else its claim."""
    return _cell(e.get("short") or e["claim"])


def render_overview(path: str | os.PathLike | None = None) -> str:
    """The landing page's block: the verdict figure, totals, and every claim with its badge,
    grouped by chapter and part (MyST, between :data:`INTRO_START` and :data:`INTRO_END`)."""
    entries = load_ledger(path)
    root = (pathlib.Path(path) if path is not None else ledger_path()).resolve().parent.parent
    groups = _groups(entries, root)
    counts = _counts(entries)
    settled = sum(n for v, n in counts.items() if v != "pending")
    alt = (f"Chart of the verdicts on all {len(entries)} claims, one square per claim in rows by "
           f"chapter: {_counts_text(counts)}.")
    lines = [
        INTRO_START,
        "",
        f"Of the review's {len(entries)} claims in the {{ref}}`ledger <ledger>`, {settled} are settled: "
        f"{_counts_text({v: n for v, n in counts.items() if v != 'pending'})}"
        + (f"; {counts['pending']} are pending." if counts.get("pending") else "."),
        "",
        f":::{{figure}} {FIGURE_NAME}",
        ":name: fig-verdicts",
        f":alt: {alt}",
        ":width: 100%",
        "",
        "Every claim's verdict, one square per claim, in rows by chapter and part: "
        + ", ".join(f"{_VERDICT_CODES[v]} {v}" for v in VERDICTS + ("pending",)) + ".",
        ":::",
        "",
    ]
    for short, heading, doc, ids in groups:
        target = f" ({{doc}}`read the chapter </{doc}>`)" if doc else ""
        lines += [f"### {heading}", "",
                  f"{_counts_text(_counts(entries, ids))}{target}.", ""]
        lines += ["```{list-table}", ":header-rows: 1", ":widths: 22 78", ":class: verdict-list", "",
                  "* - verdict", "  - claim"]
        for cid in ids:
            e = entries[cid]
            lines += [f"* - {_badge(e['verdict'])}",
                      f"  - {{ref}}`{cid} <{claim_label(cid)}>`: {_one_line(e)}"]
        lines += ["```", ""]
    lines.append(INTRO_END)
    return "\n".join(lines)


def update_intro(intro: str | os.PathLike | None = None) -> bool:
    """Rewrite the verdict block of the landing page and the verdict figure; True if changed."""
    book = ledger_path().parent
    ip = pathlib.Path(intro) if intro is not None else book / "intro.md"
    text = ip.read_text(encoding="utf-8")
    if INTRO_START not in text or INTRO_END not in text:
        raise LedgerError(f"{ip}: the verdict-block markers are missing")
    head, rest = text.split(INTRO_START, 1)
    _, tail = rest.split(INTRO_END, 1)
    new = head + render_overview() + tail
    changed = new != text
    if changed:
        ip.write_text(new, encoding="utf-8")
    fig = ip.parent / FIGURE_NAME
    svg = render_verdict_figure()
    if not fig.exists() or fig.read_text(encoding="utf-8") != svg:
        fig.write_text(svg, encoding="utf-8")
        changed = True
    return changed


def _main() -> None:
    out = ledger_path().parent / "ledger.md"
    out.write_text(render_ledger_page(), encoding="utf-8")
    print(f"wrote {out}")
    if update_readme():
        print("updated the chapter table of README.md")
    if update_intro():
        print("updated the verdicts on the landing page (book/intro.md, book/verdicts.svg)")


if __name__ == "__main__":
    _main()
