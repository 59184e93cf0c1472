"""Print the built book to one PDF: ``_build/html/sam-verified.pdf`` (``make pdf``).

Each page of ``_toc.yml`` is opened in Debian's headless Chromium (through Selenium and
``/usr/bin/chromedriver``, offline: only 127.0.0.1 resolves), MathJax and the images are
waited for, and the page is printed with DevTools' ``Page.printToPDF`` (the book's print
stylesheet in ``_static/reader.css`` drops the navigation). The pages are then joined with
``pdfunite`` (Debian's poppler-utils). Nothing is downloaded: jupyter-book's ``pdfhtml``
builder would fetch a Chromium through pyppeteer, and ``--builder latex`` needs a TeX
installation.

Usage: ``python tools/book_pdf.py [--html _build/html] [--out _build/html/sam-verified.pdf]``
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from toc import toc_files  # noqa: E402

PDF_NAME = "sam-verified.pdf"

# Resolves when MathJax has typeset the page and every image has loaded.
JS_READY = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
const settled = imgs.map(i => (i.complete && i.naturalWidth > 0) ? Promise.resolve() : new Promise(r => {
  i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
}));
const math = new Promise(r => {
  const t0 = Date.now();
  (function poll() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(r, r);
    else if (Date.now() - t0 > 20000) r();
    else setTimeout(poll, 50);
  })();
});
Promise.all([math, ...settled]).then(() => done(imgs.length));
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def chromium_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chromium or not os.path.exists(chromedriver):
        raise SystemExit("make pdf needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--window-size=1000,1400",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(60)
    return drv


def build_pdf(html: pathlib.Path, out: pathlib.Path) -> int:
    """Print every page of the book in ``html`` and join them into ``out``; return the page count."""
    if not (html / "index.html").exists():
        raise SystemExit(f"{html} holds no built book: run `make book` first")
    unite = shutil.which("pdfunite")
    if unite is None:
        raise SystemExit("make pdf needs pdfunite (Debian: apt-get install poppler-utils)")
    handler = functools.partial(_Quiet, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    drv = chromium_driver()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="sambook-pdf-"))
    parts = []
    try:
        for i, f in enumerate(toc_files()):
            stem = f[:-6] if f.endswith(".ipynb") else f
            drv.get(base + stem + ".html")
            drv.execute_async_script(JS_READY)
            time.sleep(0.3)
            pdf = drv.execute_cdp_cmd("Page.printToPDF", {
                "printBackground": True, "preferCSSPageSize": False,
                "paperWidth": 8.27, "paperHeight": 11.69,  # A4
                "marginTop": 0.6, "marginBottom": 0.6, "marginLeft": 0.6, "marginRight": 0.6,
                "displayHeaderFooter": True,
                "headerTemplate": "<span></span>",
                "footerTemplate": ('<div style="font-size:8px;width:100%;text-align:center;color:#666">'
                                   '<span class="title"></span> &#8212; <span class="pageNumber"></span></div>'),
            })
            part = tmp / f"{i:02d}.pdf"
            part.write_bytes(base64.b64decode(pdf["data"]))
            parts.append(part)
            print(f"printed {stem}", file=sys.stderr)
    finally:
        drv.quit()
        httpd.shutdown()
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([unite, *map(str, parts), str(out)], check=True)
    shutil.rmtree(tmp, ignore_errors=True)
    pages = 0
    info = shutil.which("pdfinfo")
    if info:
        for line in subprocess.run([info, str(out)], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Pages:"):
                pages = int(line.split()[1])
    print(f"wrote {out} ({pages} pages)")
    return pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=pathlib.Path, default=ROOT / "_build" / "html")
    ap.add_argument("--out", type=pathlib.Path, default=None)
    a = ap.parse_args()
    build_pdf(a.html, a.out or a.html / PDF_NAME)


if __name__ == "__main__":
    main()
