"""The rendered book, checked in headless Chromium, page by page (every page of ``_toc.yml``).

For each page: it is served with HTTP 200; MathJax finished typesetting (its startup
promise resolved) with no math errors and no formula left untypeset; every image loaded
(natural width > 0) and has a real alt text; every internal link points to a page of the
build and, if it has a ``#fragment``, to an element id on that page. A full-page screenshot
of each page is saved under ``_build/screenshots/``. Finally the ledger page must link each
settled claim to an existing anchor in the chapter that settles it.

Run with ``make browser`` (after ``make book``) or ``pytest tests/browser``.
"""
from __future__ import annotations

import base64
import html.parser
import pathlib
import posixpath
import urllib.error
import urllib.parse
import urllib.request

import pytest

from toc import toc_files

PAGES = [f[:-6] if f.endswith(".ipynb") else f for f in toc_files()]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp")

# -- JavaScript run in the page ---------------------------------------------------------
JS_STATUS = """
const nav = performance.getEntriesByType('navigation')[0];
return nav ? nav.responseStatus : null;
"""

# Waits for MathJax's startup promise (typesetting of the page), then reports errors:
# <mjx-merror> elements (TeX syntax errors), undefined macros (rendered as red text by
# MathJax's noundefined extension), and math elements that hold no typeset output.
JS_MATHJAX = """
const done = arguments[arguments.length - 1];
const hasScript = !!document.querySelector('script[src*="mathjax"]');
function report(status) {
  const nodes = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = nodes.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent.slice(0, 80));
  const undefinedMacros = [];
  let mathItems = 0;
  try {
    for (const item of MathJax.startup.document.math) {
      mathItems += 1;
      item.root.walkTree(node => {
        if (node.isKind('mtext') && node.attributes.get('mathcolor') === 'red') {
          undefinedMacros.push(item.math.slice(0, 80));
        }
      });
    }
  } catch (e) { /* no MathJax document: reported through status */ }
  done({status: status, hasScript: hasScript, mathNodes: nodes.length, mathItems: mathItems,
        merror: document.querySelectorAll('mjx-merror').length,
        merrorText: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent.slice(0, 80)),
        untypeset: untypeset, undefinedMacros: undefinedMacros});
}
if (!hasScript) { report('no-mathjax-script'); return; }
const t0 = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => report('ok'), e => report('rejected: ' + e));
  } else if (Date.now() - t0 > 30000) {
    report('timeout: MathJax.startup.promise never appeared (MathJax did not load)');
  } else { setTimeout(poll, 50); }
})();
"""

# Loads every image (lazy ones too), then reports source, alt and natural width.
JS_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
const settled = imgs.map(i => (i.complete && i.naturalWidth > 0) ? Promise.resolve() : new Promise(r => {
  i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
}));
Promise.all(settled).then(() => done(imgs.map(i => ({
  src: i.getAttribute('src'), url: i.currentSrc || i.src, alt: i.getAttribute('alt'), width: i.naturalWidth}))));
"""

JS_LINKS = """
return {
  hrefs: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
       .concat(Array.from(document.querySelectorAll('a[name]')).map(a => a.name)),
};
"""

JS_LEDGER_LINKS = """
const target = document.getElementById(arguments[0]);
if (!target) return null;
// MyST puts the (claim-<id>)= target as an empty span inside the claim's section.
const sec = target.closest('section') || target.parentElement;
return Array.from(sec.querySelectorAll('a.reference.internal')).map(a => a.href);
"""


# -- helpers --------------------------------------------------------------------------------
class _IdParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v and (k == "id" or (tag == "a" and k == "name")):
                self.ids.add(v)


_status_cache: dict[str, int] = {}
_ids_cache: dict[str, set[str]] = {}
_visits: dict[str, dict] = {}


def http_status(url: str) -> int:
    if url not in _status_cache:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                _status_cache[url] = r.status
        except urllib.error.HTTPError as e:
            _status_cache[url] = e.code
    return _status_cache[url]


def page_ids(url: str) -> set[str]:
    """Element ids of the page at ``url`` (the static HTML; Sphinx writes its anchors there)."""
    if url not in _ids_cache:
        with urllib.request.urlopen(url, timeout=30) as r:
            p = _IdParser()
            p.feed(r.read().decode("utf-8", "replace"))
        _ids_cache[url] = p.ids
    return _ids_cache[url]


def visit(driver, server: str, page: str, screenshot_dir: pathlib.Path) -> dict:
    """Open ``page`` once and record everything the tests check (memoised per page)."""
    if page in _visits:
        return _visits[page]
    url = urllib.parse.urljoin(server, page + ".html")
    facts: dict = {"url": url, "http": http_status(url)}
    driver.get(url)
    facts["browser_status"] = driver.execute_script(JS_STATUS)
    facts["mathjax"] = driver.execute_async_script(JS_MATHJAX)
    facts["images"] = driver.execute_async_script(JS_IMAGES)
    facts["links"] = driver.execute_script(JS_LINKS)
    # The window as a reader first sees it (the README's screenshot is one of these).
    driver.save_screenshot(str(screenshot_dir / (page.replace("/", "__") + "--window.png")))
    # Full page: make the viewport as tall as the document (DevTools device-metrics override),
    # capture it, restore. Capturing "beyond the viewport" instead mis-renders the theme's layout.
    width = driver.execute_script("return document.documentElement.clientWidth")
    height = driver.execute_script(
        "return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    out = screenshot_dir / (page.replace("/", "__") + ".png")
    out.write_bytes(base64.b64decode(shot["data"]))
    facts["screenshot"] = out
    facts["screenshot_height"] = height
    _visits[page] = facts
    return facts


@pytest.fixture
def facts(request, driver, server, screenshot_dir):
    return visit(driver, server, request.param, screenshot_dir)


def _pages():
    return pytest.mark.parametrize("facts", PAGES, ids=PAGES, indirect=True)


# -- the checks -----------------------------------------------------------------------------
@_pages()
def test_page_loads_with_http_200(facts):
    assert facts["http"] == 200, f"{facts['url']}: HTTP {facts['http']}"
    # Chromium reports the status of the navigation it made itself (0 would mean a failure).
    assert facts["browser_status"] in (200, None), f"{facts['url']}: browser saw HTTP {facts['browser_status']}"


@_pages()
def test_mathjax_typesets_without_errors(facts):
    mj = facts["mathjax"]
    if not mj["hasScript"]:
        assert mj["mathNodes"] == 0, f"{facts['url']}: {mj['mathNodes']} formulas but MathJax is not loaded"
        return
    bad = []
    if mj["status"] != "ok":
        bad.append(f"MathJax {mj['status']}")
    if mj["merror"]:
        bad.append(f"{mj['merror']} math errors: {mj['merrorText'][:5]}")
    if mj["undefinedMacros"]:
        bad.append(f"undefined TeX macros in {mj['undefinedMacros'][:5]}")
    if mj["untypeset"]:
        bad.append(f"{len(mj['untypeset'])} formulas left untypeset: {mj['untypeset'][:5]}")
    assert not bad, f"{facts['url']}:\n  " + "\n  ".join(bad)


@_pages()
def test_images_load_and_have_alt_text(facts):
    bad = []
    for img in facts["images"]:
        alt = (img["alt"] or "").strip()
        name = posixpath.basename(urllib.parse.urlparse(img["url"]).path)
        if img["width"] <= 0:
            bad.append(f"not loaded: {img['src']}")
        if not alt or alt == img["src"] or alt.lower().endswith(IMAGE_SUFFIXES) or name in alt:
            bad.append(
                f"no alt text (alt={img['alt']!r}): {img['src']} — give the figure a caption "
                "(cell metadata mystnb.figure.caption) or an alt (mystnb.image.alt)"
            )
    assert not bad, f"{facts['url']}:\n  " + "\n  ".join(bad)


@_pages()
def test_internal_links_and_anchors_resolve(facts, server):
    own_ids = set(facts["links"]["ids"])
    bad = []
    for href in sorted(set(facts["links"]["hrefs"])):
        if not href.startswith(server):
            continue  # external (GitHub, Binder, Colab): not part of the build
        target, _, frag = href.partition("#")
        if http_status(target) != 200:
            bad.append(f"{href}: HTTP {http_status(target)}")
            continue
        frag = urllib.parse.unquote(frag)
        if not frag:
            continue
        ids = own_ids if target == facts["url"] else page_ids(target) if target.endswith(".html") else set()
        if frag not in ids:
            bad.append(f"{href}: no element with id {frag!r} on {target[len(server):]}")
    assert not bad, f"{facts['url']}: broken internal links:\n  " + "\n  ".join(bad)


@_pages()
def test_full_page_screenshot_saved(facts):
    shot = facts["screenshot"]
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no PNG at {shot}"
    assert facts["screenshot_height"] > 0


def test_ledger_links_each_settled_claim_to_its_evidence(driver, server):
    """Each claim has its own section on the ledger page; a settled claim's section links to
    an existing anchor of every chapter listed as its evidence."""
    from samlib.ledger import claim_label, load_ledger

    assert "book/ledger" in PAGES, "the ledger page book/ledger is not in _toc.yml"
    driver.get(urllib.parse.urljoin(server, "book/ledger.html"))
    bad = []
    n_links = 0
    for cid, entry in load_ledger().items():
        hrefs = driver.execute_script(JS_LEDGER_LINKS, claim_label(cid))
        if hrefs is None:
            bad.append(f"{cid}: no element with id {claim_label(cid)!r} on the ledger page")
            continue
        if entry["verdict"] == "pending":
            continue
        if not entry["evidence"]:
            bad.append(f"{cid}: settled ({entry['verdict']}) but lists no evidence")
        for ev in entry["evidence"] or []:
            page = urllib.parse.urljoin(server, str(ev["notebook"]).removesuffix(".ipynb") + ".html")
            to_page = [h for h in hrefs if h.partition("#")[0] == page]
            if not to_page:
                bad.append(f"{cid}: no link to {ev['notebook']} (label {ev['label']!r})")
                continue
            ids = page_ids(page) if http_status(page) == 200 else set()
            frags = [urllib.parse.unquote(h.partition("#")[2]) for h in to_page]
            if not any(f and f in ids for f in frags):
                bad.append(f"{cid}: links {to_page} but none hits an anchor of {ev['notebook']}")
            n_links += 1
    assert not bad, "ledger links:\n  " + "\n  ".join(bad)
    print(f"ledger: {n_links} evidence links of settled claims resolve")
