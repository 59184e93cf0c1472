"""The book as a reader sees it (issue 16), in headless Chromium at a desktop's and a phone's width.

On every page of ``_toc.yml``, at 1400x1000 and at 390x844 (phone emulation), with every host
but 127.0.0.1 unresolvable:

* the math is typeset by the book's own MathJax (no script, style or font from another host);
* nothing makes the page scroll sideways: no visible element reaches past the viewport's right
  edge unless it sits in its own scroll box (a wide table or formula);
* exactly one search control is visible;
* every image has an alt text in plain words (no TeX: no ``$``, ``\\``, ``^``, ``_``, braces)
  and can be enlarged by a click.

And once: the landing page opens with every claim's verdict badge (Part II included) and the
verdict figure, and links the PDF; the ledger shows each claim with its badge; each settled
claim's verdict box is in its chapter; the references carry author-year labels; the landing
tab title is the book's title once; no page loads Thebe; the PDF exists and holds the figures;
the appendix's figures are numbered A.1, A.2 (in their captions and in the references to them)
and the landing page's figure carries no number; the claims' math is typeset on the ledger and
the landing page (no ``$`` left, no ASCII ``rho``/``||``).
Screenshots of the landing page, the ledger (also scrolled to their claim tables) and one chapter
at both widths go to ``_build/screenshots/reader/`` (the README's and ``docs/`` copies come from there).
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import urllib.parse

import pytest

from toc import ROOT, toc_files

PAGES = [f[:-6] if f.endswith(".ipynb") else f for f in toc_files()]
WIDTHS = {"desktop": (1400, 1000, False), "phone": (390, 844, True)}
SHOT_PAGES = ("book/intro", "book/ledger", "book/sharpness")
TEX = re.compile(r"[$\\^_{}]")

JS_MATH_READY = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => setTimeout(() => done('ok'), 150), e => done('rejected: ' + e));
  } else if (Date.now() - t0 > 30000) { done('timeout'); } else { setTimeout(poll, 50); }
})();
"""

JS_FACTS = """
const W = document.documentElement.clientWidth;
const overflow = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (!(r.width > 0 && r.right > W + 1)) continue;
  if (!e.checkVisibility({visibilityProperty: true})) continue;
  // off-canvas drawers (the theme's sidebars at a phone's width) and dialogs are not the page
  if (e.closest('.bd-sidebar-secondary, .bd-sidebar-primary, dialog, mjx-assistive-mml')) continue;  // + MathJax's clipped copy for screen readers
  let boxed = false;
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    const ox = getComputedStyle(p).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && p.getBoundingClientRect().right <= W + 1) { boxed = true; break; }
  }
  if (!boxed && !overflow.some(o => o.el.contains(e))) {
    overflow.push({el: e, what: e.tagName.toLowerCase() + '.' + String(e.className || '').split(' ')[0]
                   + ' right=' + Math.round(r.right) + ' "' + (e.textContent || '').trim().slice(0, 50) + '"'});
  }
}
const visible = el => el.checkVisibility({visibilityProperty: true}) && el.getBoundingClientRect().width > 0;
const loaded = performance.getEntriesByType('resource').map(r => r.name)
  .filter(u => /^https?:/.test(u) && new URL(u).hostname !== location.hostname);
const mj = document.querySelector('script[src*="mathjax"]');
return {
  width: W,
  scrollWidth: document.documentElement.scrollWidth,
  overflow: overflow.map(o => o.what).slice(0, 10),
  searches: Array.from(document.querySelectorAll('button.search-button__button, form.bd-search input, .search-button-field'))
              .filter(visible).length,
  mathjaxSrc: mj ? mj.src : null,
  mathNodes: document.querySelectorAll('span.math, div.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  untypeset: Array.from(document.querySelectorAll('span.math, div.math')).filter(n => !n.querySelector('mjx-container')).length,
  foreign: loaded,
  thebe: Array.from(document.querySelectorAll('script')).filter(s => /thebe/i.test(s.src + s.textContent)).length,
  images: Array.from(document.querySelectorAll('article img')).map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || '',
                                                  zoom: i.classList.contains('sam-zoomable')})),
  title: document.title,
};
"""

_facts: dict[tuple[str, str], dict] = {}


def _open(driver, server, page: str, width_name: str, shots: pathlib.Path) -> dict:
    key = (page, width_name)
    if key in _facts:
        return _facts[key]
    w, h, mobile = WIDTHS[width_name]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})
    driver.get(urllib.parse.urljoin(server, page + ".html"))
    status = driver.execute_async_script(JS_MATH_READY)
    facts = driver.execute_script(JS_FACTS)
    facts["mathjax"] = status
    if page in SHOT_PAGES:
        name = page.replace("book/", "")
        driver.save_screenshot(str(shots / f"{name}-{width_name}.png"))
        if driver.execute_script("const b = document.querySelector('div.sam-verdict');"
                                 "if (b) { b.scrollIntoView({block: 'center'}); } return !!b;"):
            driver.save_screenshot(str(shots / f"{name}-{width_name}-verdict-box.png"))
        # the claims with their badges and typeset math (landing page and ledger)
        if driver.execute_script("const t = document.querySelector('table.ledger-summary, table.verdict-list');"
                                 "if (t) { t.scrollIntoView({block: 'start'}); } return !!t;"):
            driver.save_screenshot(str(shots / f"{name}-{width_name}-claims.png"))
    _facts[key] = facts
    return facts


@pytest.fixture(scope="module")
def shots(screenshot_dir):
    d = screenshot_dir / "reader"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(autouse=True)
def _restore_viewport(driver):
    yield
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture
def facts(request, driver, server, shots):
    page, width_name = request.param
    return _open(driver, server, page, width_name, shots)


CASES = [(p, w) for w in WIDTHS for p in PAGES]
IDS = [f"{p}@{WIDTHS[w][0]}" for p, w in CASES]
by_page_and_width = pytest.mark.parametrize("facts", CASES, ids=IDS, indirect=True)


# -- on every page, at both widths ---------------------------------------------------------
@by_page_and_width
def test_math_is_typeset_offline_from_the_books_own_mathjax(facts):
    assert facts["mathjax"] == "ok", f"MathJax: {facts['mathjax']}"
    assert facts["mathjaxSrc"] and "/_static/mathjax/" in facts["mathjaxSrc"], facts["mathjaxSrc"]
    assert facts["untypeset"] == 0, f"{facts['untypeset']} of {facts['mathNodes']} formulas untypeset"
    assert not facts["foreign"], f"resources from other hosts: {facts['foreign'][:5]}"


@by_page_and_width
def test_no_horizontal_overflow(facts):
    assert facts["scrollWidth"] <= facts["width"], \
        f"page is {facts['scrollWidth']} px wide in a {facts['width']} px viewport: {facts['overflow']}"
    assert not facts["overflow"], f"elements past the right edge, outside a scroll box: {facts['overflow']}"


@by_page_and_width
def test_one_search_control(facts):
    assert facts["searches"] == 1, f"{facts['searches']} visible search controls"


@by_page_and_width
def test_images_have_plain_language_alt_and_enlarge(facts):
    bad = [f"{i['src']}: alt {i['alt'][:80]!r}" for i in facts["images"]
           if len(i["alt"].strip()) < 15 or TEX.search(i["alt"])]
    assert not bad, "alt text missing or in TeX:\n  " + "\n  ".join(bad)
    not_zoom = [i["src"] for i in facts["images"] if not i["zoom"] and "_images/" in (i["src"] or "")]
    assert not not_zoom, f"figures that cannot be enlarged: {not_zoom}"


@by_page_and_width
def test_no_thebe(facts):
    assert facts["thebe"] == 0, "a Thebe script is still loaded"


# -- once ------------------------------------------------------------------------------------
def _go(driver, server, page, width_name="desktop"):
    w, h, mobile = WIDTHS[width_name]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})
    driver.get(urllib.parse.urljoin(server, page + ".html"))
    driver.execute_async_script(JS_MATH_READY)


def test_landing_page_opens_with_every_verdict(driver, server):
    from samlib.ledger import load_ledger

    _go(driver, server, "book/intro")
    entries = load_ledger()
    got = driver.execute_script("""
      const rows = Array.from(document.querySelectorAll('table.verdict-list tbody tr'));
      return rows.map(r => [r.querySelector('.verdict') && r.querySelector('.verdict').className,
                            r.querySelector('.verdict') && r.querySelector('.verdict').textContent.trim(),
                            (r.querySelector('a') || {}).textContent]);""")
    seen = {}
    for cls, word, link in got:
        cid = (link or "").strip()
        seen[cid] = (cls, word)
    missing = [cid for cid in entries if cid not in seen]
    assert not missing, f"claims missing from the landing page: {missing}"
    for cid, e in entries.items():
        cls, word = seen[cid]
        assert word == e["verdict"] and f"verdict-{e['verdict']}" in cls, (cid, cls, word)
    # the verdicts come before the first section about the method
    order = driver.execute_script("""
      const fig = document.querySelector('img[src*="verdicts"]');
      const how = Array.from(document.querySelectorAll('h2')).find(h => /How a claim is checked/.test(h.textContent));
      return [!!fig, fig && how ? !!(fig.compareDocumentPosition(how) & Node.DOCUMENT_POSITION_FOLLOWING) : null,
              fig ? fig.naturalWidth : 0, !!document.querySelector('a.sam-pdf-link')];""")
    assert order[0] and order[1] and order[2] > 0, f"verdict figure missing or after the method: {order}"
    assert order[3], "the landing page does not link the PDF"
    assert driver.title == "SAM, verified", f"landing tab title {driver.title!r}"


def test_ledger_shows_claim_text_and_badges(driver, server):
    from samlib.ledger import load_ledger

    _go(driver, server, "book/ledger")
    entries = load_ledger()
    rows = driver.execute_script("""
      return Array.from(document.querySelectorAll('table.ledger-summary tbody tr')).map(r =>
        Array.from(r.cells).map(c => c.textContent.trim()).concat([r.querySelector('.verdict').className]));""")
    assert len(rows) == len(entries), f"{len(rows)} summary rows for {len(entries)} claims"
    by_id = {r[2]: r for r in rows}
    for cid, e in entries.items():
        r = by_id.get(cid)
        assert r is not None, f"{cid} missing from the ledger summary"
        assert r[0] == e["verdict"] and f"verdict-{e['verdict']}" in r[-1], (cid, r[0], r[-1])
        assert len(r[1]) > 20, f"{cid}: no claim text in the summary row"


def test_each_settled_claim_has_its_verdict_box_in_its_chapter(driver, server):
    from samlib.ledger import load_ledger

    entries = load_ledger()
    by_page: dict[str, list[str]] = {}
    for cid, e in entries.items():
        if e["verdict"] != "pending" and e["evidence"]:
            by_page.setdefault(e["evidence"][0]["notebook"].removesuffix(".ipynb"), []).append(cid)
    bad = []
    n = 0
    for page, ids in by_page.items():
        _go(driver, server, page)
        boxes = driver.execute_script("""
          return Array.from(document.querySelectorAll('div.sam-verdict')).map(b => [
            b.querySelector('.sam-verdict__claim').textContent.trim(),
            b.querySelector('.sam-verdict__head .verdict').textContent.trim(),
            Array.from(b.querySelectorAll('dt')).map(d => d.textContent.trim()),
            getComputedStyle(b).borderLeftColor, b.getBoundingClientRect().height]);""")
        got = {b[0]: b for b in boxes}
        for cid in ids:
            b = got.get(cid)
            if b is None:
                bad.append(f"{page}: no verdict box for {cid}")
                continue
            n += 1
            if b[1] != entries[cid]["verdict"]:
                bad.append(f"{page}: {cid} box says {b[1]}, ledger {entries[cid]['verdict']}")
            if b[2] != ["Measured", "Tolerance", "Would have been"] or b[4] <= 0:
                bad.append(f"{page}: {cid} box lacks measured/tolerance/counter: {b[2]}")
    assert not bad, "verdict boxes:\n  " + "\n  ".join(bad)
    print(f"verdict boxes: {n} settled claims shown in their chapters")


def test_a_figure_enlarges_on_click(driver, server):
    _go(driver, server, "book/sharpness")
    opened = driver.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const img = document.querySelector('img.sam-zoomable');
      if (!img) { done(null); return; }
      img.click();
      setTimeout(() => {
        const box = document.querySelector('.sam-zoom');
        const r = box ? box.querySelector('img').getBoundingClientRect() : null;
        const ok = !!box && r.width >= img.getBoundingClientRect().width - 1 && r.width > 0;
        if (box) box.click();
        done([ok, !document.querySelector('.sam-zoom')]);
      }, 500);""")
    assert opened == [True, True], f"click-to-enlarge: {opened}"
    # on a phone the enlarged figure is shown at its own resolution, so that its text is legible
    _go(driver, server, "book/convergence", "phone")
    sizes = driver.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const img = Array.from(document.querySelectorAll('img.sam-zoomable'))
                       .find(i => i.naturalWidth > document.documentElement.clientWidth);
      if (!img) { done(null); return; }
      img.click();
      setTimeout(() => {
        const box = document.querySelector('.sam-zoom');
        const big = box ? box.querySelector('img') : null;
        const out = [img.naturalWidth, big ? Math.round(big.getBoundingClientRect().width) : 0,
                     Math.round(img.getBoundingClientRect().width)];
        if (box) box.click();
        done(out);
      }, 500);""")
    assert sizes and sizes[1] >= sizes[0] - 1 > sizes[2], f"phone enlargement (natural, enlarged, shown): {sizes}"


JS_CAPTION_NUMBERS = """
return {
  captions: Array.from(document.querySelectorAll('figcaption .caption-number'))
              .map(e => e.textContent.trim()),
  refs: Array.from(document.querySelectorAll('a.reference.internal span.std-numref'))
              .map(e => e.textContent.trim()),
};
"""


def test_appendix_figures_are_numbered_A1_A2(driver, server):
    _go(driver, server, "book/appendix_cost")
    got = driver.execute_script(JS_CAPTION_NUMBERS)
    want = [f"Fig. A.{k}" for k in range(1, len(got["captions"]) + 1)]
    assert len(got["captions"]) >= 2 and got["captions"] == want, f"appendix captions: {got['captions']}"
    assert got["refs"] and all(re.fullmatch(r"Fig\. A\.\d+", r) for r in got["refs"]), \
        f"references to the appendix's figures: {got['refs']}"
    _go(driver, server, "book/intro")
    got = driver.execute_script(JS_CAPTION_NUMBERS)
    assert not got["captions"], f"the landing page numbers its figure: {got['captions']}"
    # the chapters keep their numbers: Fig. <chapter>.<k>
    _go(driver, server, "book/convergence")
    got = driver.execute_script(JS_CAPTION_NUMBERS)
    assert got["captions"] and all(re.fullmatch(r"Fig\. 5\.\d+", c) for c in got["captions"]), got


def test_claim_math_is_typeset_on_the_ledger_and_landing_page(driver, server):
    from samlib.ledger import load_ledger

    with_math = [cid for cid, e in load_ledger().items() if "$" in str(e["claim"])]
    assert with_math, "no claim writes math"
    js = """
      const want = new Set(arguments[0]);
      const out = [];
      for (const r of document.querySelectorAll(arguments[1])) {
        const a = Array.from(r.querySelectorAll('a')).map(x => x.textContent.trim()).find(t => want.has(t));
        if (!a) continue;
        const cell = r.cells[1];  // the claim's cell (the others hold badges and links)
        const clone = cell.cloneNode(true);
        clone.querySelectorAll('mjx-container').forEach(m => m.remove());
        clone.querySelectorAll('a').forEach(x => { if (x.textContent.trim() === a) x.remove(); });
        out.push([a, cell.querySelectorAll('mjx-container').length, clone.textContent]);
      }
      return out;"""
    for page, rows in (("book/ledger", "table.ledger-summary tbody tr"),
                       ("book/intro", "table.verdict-list tbody tr")):
        _go(driver, server, page)
        got = driver.execute_script(js, with_math, rows)
        assert {r[0] for r in got} == set(with_math), f"{page}: rows of claims with math: {len(got)}"
        bad = [f"{cid}: {n} formulas, text {text.strip()[:80]!r}" for cid, n, text in got
               if n == 0 or "$" in text or re.search(r"\brho\b|\|\||eps_hat|lambda_max", text)]
        assert not bad, f"{page}: claim math not typeset:\n  " + "\n  ".join(bad)


def test_references_have_author_year_labels(driver, server):
    _go(driver, server, "book/references")
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('div.citation span.label, dl.citation dt'))"
        ".map(e => e.textContent.trim());")
    assert labels, "no bibliography labels found"
    bad = [lab for lab in labels if not re.search(r"[A-Za-z].* (19|20)\d\d[a-z]?\]?$", lab)]
    assert not bad, f"labels that are not author-year: {bad[:5]}"


def test_pdf_of_the_book_exists_with_its_figures(book_html):
    pdf = book_html / "sam-verified.pdf"
    assert pdf.exists(), f"{pdf} missing: run `make pdf` (tools/book_pdf.py)"
    for tool in ("pdfinfo", "pdfimages"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (Debian: apt-get install poppler-utils)")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = [ln for ln in listing.splitlines()[2:] if ln.split() and ln.split()[2] == "image"]
    figures = {p.name for p in (book_html / "_images").glob("*.png")}
    assert pages >= len(PAGES), f"{pages} PDF pages for {len(PAGES)} book pages"
    assert len(images) >= len(figures), f"the PDF holds {len(images)} images, the book {len(figures)} figures"
    newest = max(p.stat().st_mtime for p in book_html.glob("book/*.html"))
    assert pdf.stat().st_mtime >= newest, "the PDF is older than the HTML: run `make pdf`"
    print(f"PDF: {pages} pages, {len(images)} images ({len(figures)} figures in the book)")
