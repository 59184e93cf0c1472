"""The pip route: samlib installed from the repository (as on Colab, `pip install git+<repo>`)
finds the book's ledger and checks a claim outside any checkout."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from samlib import ledger

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import pathlib, samlib, samlib.ledger as L
    assert "site" in samlib.__file__ or "target" in samlib.__file__, samlib.__file__
    path = L.ledger_path()
    assert path.name == "claims.yml" and path.parent.name == "samlib_book", path
    entries = L.load_ledger()
    # a claim with a numeric measurement; a stand-in rule that reproduces its recorded verdicts
    cid, rec, key = next((c, r, k) for c, r in L.load_measurements().items() for k, v in r["measured"].items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool))
    value = rec["measured"][key]
    verdicts = [c["verdict"] for c in rec["counter"]]
    def rule(m, t):
        if m[key] == value:
            return rec["verdict"]
        return verdicts[int(round(m[key] - value)) - 1]
    counter = [{key: value + i + 1} for i in range(len(verdicts))]
    check = L.check_claim(cid, dict(rec["measured"]), rec["tolerance"], rule, counter=counter, digits=rec["digits"])
    print("ok", len(entries), cid, check.verdict)
    """
)


def test_installed_samlib_checks_a_claim_outside_a_checkout(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SAMLIB_LEDGER", "SAMLIB_LEDGER_RECORD", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r})\n" + SCRIPT],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    # the installed copy holds the whole ledger: Part I (23) and Part II (17)
    assert f"ok {len(ledger.load_ledger())}" in out.stdout
