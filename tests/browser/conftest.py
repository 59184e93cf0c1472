"""Fixtures of the browser test: the built book, a local web server, headless Chromium.

The test runs only when asked for (``make browser``, ``pytest tests/browser`` or
``SAMBOOK_BROWSER=1``), so that ``pytest tests`` stays a fast unit run. It is *skipped*,
with the reason printed, when Debian's ``chromium`` or ``chromium-driver`` is missing.

* ``book_html``: ``$BOOK_HTML`` if set, else ``_build/html``; rebuilt with
  ``jupyter-book build . -W -n --keep-going`` when it is missing or older than a source.
* ``server``: ``http.server`` on 127.0.0.1, a free port, in a thread, serving the build as
  it is. The book carries its own MathJax 3 (``_static/mathjax/``, copied from the pinned
  ``django-static-mathjax`` wheel by ``_ext/reader.py``), so the pages typeset offline.
* ``driver``: Selenium with ``/usr/bin/chromedriver`` given explicitly (Selenium Manager is
  never asked to download a driver), headless, with every host except 127.0.0.1 made
  unresolvable so that a page cannot reach the network.
"""
from __future__ import annotations

import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

from toc import ROOT, toc_files

BROWSER_DIR = pathlib.Path(__file__).resolve().parent


def _requested(config) -> bool:
    if os.environ.get("SAMBOOK_BROWSER") == "1":
        return True
    for arg in config.args:
        p = pathlib.Path(arg.split("::")[0]).resolve()
        if p == BROWSER_DIR or BROWSER_DIR in p.parents:
            return True
    return False


def pytest_collection_modifyitems(config, items):
    if _requested(config):
        return
    skip = pytest.mark.skip(reason="browser test: run it with `make browser` or `pytest tests/browser`")
    for item in items:
        if BROWSER_DIR in pathlib.Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


# ---------------------------------------------------------------------------------------
# The built book
# ---------------------------------------------------------------------------------------
def _global_sources() -> list[pathlib.Path]:
    paths = [ROOT / "_config.yml", ROOT / "_toc.yml", *sorted((ROOT / "book").glob("*.bib"))]
    return (paths + sorted((ROOT / "_ext").glob("*.py")) + sorted((ROOT / "_static").glob("*"))
            + sorted((ROOT / "_templates").glob("*")) + [ROOT / "book" / "verdicts.svg"])


def _stale(html: pathlib.Path) -> str | None:
    """Why ``html`` must be rebuilt, or None if it is up to date."""
    if not (html / "index.html").exists():
        return "no index.html"
    pages = []
    for f in toc_files():
        stem = f[:-6] if f.endswith(".ipynb") else f
        page = html / (stem + ".html")
        if not page.exists():
            return f"page {stem}.html missing"
        pages.append(page)
        for src in (ROOT / (stem + ".md"), ROOT / (stem + ".ipynb")):
            if src.exists() and src.stat().st_mtime > page.stat().st_mtime:
                return f"{src.relative_to(ROOT)} is newer than its page"
    built = max(p.stat().st_mtime for p in pages)
    newer = [p for p in _global_sources() if p.exists() and p.stat().st_mtime > built]
    return f"{newer[0].relative_to(ROOT)} is newer than the build" if newer else None


@pytest.fixture(scope="session")
def book_html() -> pathlib.Path:
    env = os.environ.get("BOOK_HTML")
    html = pathlib.Path(env).resolve() if env else ROOT / "_build" / "html"
    reason = _stale(html)
    if reason and env:
        pytest.fail(f"BOOK_HTML={env} is not a current build: {reason}")
    if reason:
        jb = pathlib.Path(sys.executable).parent / "jupyter-book"
        cmd = [str(jb), "build", str(ROOT), "-W", "-n", "--keep-going"]
        print(f"building the book ({reason}): {' '.join(cmd)}", file=sys.stderr)
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            pytest.fail(f"the book does not build:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    return html


@pytest.fixture(scope="session")
def screenshot_dir(book_html) -> pathlib.Path:
    d = book_html.parent / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------------------------------
# The local server
# ---------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="session")
def server(book_html):
    """Base URL (ending in '/') of the book served from ``book_html``."""
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------------------------------
# Headless Chromium
# ---------------------------------------------------------------------------------------
def _find(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


@pytest.fixture(scope="session")
def driver():
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    chromedriver = _find("chromedriver")
    if chromium is None or chromedriver is None:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", chromedriver)) if p is None)
        pytest.skip(
            f"browser test skipped: {missing} not found on PATH "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("browser test skipped: selenium is not installed (pip install -r requirements.txt)")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    profile = tempfile.mkdtemp(prefix="sambook-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
        f"--user-data-dir={profile}",
        # offline by construction: only the local server resolves
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(60)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)
