"""Sphinx extension of the book: what a reader sees, online or offline.

* ``{verdict}`confirmed``` role: a verdict badge, ``<span class="verdict verdict-confirmed">``
  with the word itself (colour from ``_static/reader.css``, never colour alone).
* MathJax 3 from the book's own static files: the ``mathjax`` package of the pinned
  ``django-static-mathjax`` wheel is copied into ``_static/mathjax/`` of the build and
  ``mathjax_path`` points there, so no page asks a CDN; MathJax is loaded on every page
  (the ledger too, whose math comes from generated text).
* The reader's CSS and JavaScript (``_static/reader.css``, ``_static/reader.js``:
  verdict colours, phone layout, wide tables and formulas scrolling in their own box,
  click-to-enlarge figures).
* No Thebe: Jupyter Book always loads sphinx-thebe, whose configuration without a Binder
  repository is a placeholder (``binder-examples/jupyter-stacks-datascience``); live code
  would need the network anyway. Its scripts, styles and configuration block are removed.
* Author-year labels in the bibliography (``bibtex_default_style: authoryear``), matching
  the author-year citations in the text.
* The landing page's tab title is the book's title once (``_templates/layout.html``).
* Figures outside the numbered chapters: the appendix's are numbered A.1, A.2, ... (config
  ``sam_lettered_figures``: document -> letter), so that they do not clash with the
  chapters' figures or with the review's Figures 1 and 2 that the book discusses; the
  landing page's figure is not numbered (``sam_unnumbered_figures``).
"""
from __future__ import annotations

import pathlib
import shutil

from docutils import nodes

VERDICT_WORDS = ("confirmed", "confirmed-with-correction", "refuted", "not-reproduced",
                 "inconclusive", "pending")

#: MathJax files the book serves: the combined TeX+MathML component, and the pieces it
#: loads on demand (TeX extensions, CHTML fonts, the menu and its accessibility tools).
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_DIRS = ("input", "output", "ui", "a11y", "sre", "adaptors")


# -- verdict badges ------------------------------------------------------------------------
def verdict_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    word = text.strip()
    if word not in VERDICT_WORDS:
        msg = inliner.reporter.error(f"unknown verdict {word!r}; expected one of {VERDICT_WORDS}",
                                     line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.inline(word, word, classes=["verdict", f"verdict-{word}"])], []


# -- MathJax from the book's own files -----------------------------------------------------
def _mathjax_source() -> pathlib.Path:
    import mathjax  # django-static-mathjax: MathJax 3 as static files (no Django needed)

    src = pathlib.Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (src / MATHJAX_ENTRY).is_file():
        raise RuntimeError(f"MathJax 3 static files missing under {src}")
    return src


def use_local_mathjax(app, config) -> None:
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"


def copy_mathjax(app) -> None:
    if app.builder.format != "html":
        return
    src = _mathjax_source()
    dest = pathlib.Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / MATHJAX_ENTRY).exists():
        shutil.copy2(src / MATHJAX_ENTRY, dest / MATHJAX_ENTRY)
    for d in MATHJAX_DIRS:
        if (src / d).is_dir() and not (dest / d).exists():
            shutil.copytree(src / d, dest / d)


# -- no Thebe ------------------------------------------------------------------------------
def _is_thebe(handler) -> bool:
    return getattr(handler, "__module__", "").startswith("sphinx_thebe")


def drop_thebe(app) -> None:
    for listeners in app.events.listeners.values():
        listeners[:] = [lis for lis in listeners if not _is_thebe(lis.handler)]
    app.registry.js_files = [(f, a) for f, a in app.registry.js_files
                             if "thebe" not in str(f) and "thebe" not in str(a.get("body", ""))]
    app.registry.css_files = [(f, a) for f, a in app.registry.css_files if "thebe" not in str(f)]


def page_context(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        files = context.get(key)
        if files:
            context[key] = [f for f in files if "thebe" not in str(getattr(f, "filename", f))
                            and "thebe" not in str(getattr(f, "attributes", {}).get("body", ""))]
    context["sam_is_root"] = pagename == app.config.root_doc


# -- figure numbers outside the numbered chapters -------------------------------------------
def letter_figure_numbers(app, env) -> list[str]:
    """Renumber the figures of lettered documents (A.1, A.2, ...) and drop the numbers of
    unnumbered ones, after Sphinx assigned its numbers (``env-get-updated``, late priority).

    Sphinx numbers a figure with a tuple that the HTML writer and ``{numref}`` join with
    dots, so ``("A", 1)`` reads "Fig. A.1" in the caption and in every reference to it.
    """
    numbers = env.toc_fignumbers
    for docname, letter in app.config.sam_lettered_figures.items():
        for ids in numbers.get(docname, {}).values():
            in_order = sorted(ids, key=lambda fid: ids[fid])
            for k, fid in enumerate(in_order, start=1):
                ids[fid] = (letter, k)
    for docname in app.config.sam_unnumbered_figures:
        numbers.pop(docname, None)
    return []  # Sphinx already rewrites a document whose numbers changed


# -- author-year bibliography labels -------------------------------------------------------
def _register_authoryear_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        """``Liu et al. 2022``, ``Foret et al. 2021``, ``Kwon and Kim 2021``: the labels of
        the references page read like the author-year citations in the text."""

        def format_labels(self, sorted_entries):
            seen: dict[str, int] = {}
            for entry in sorted_entries:
                persons = entry.persons.get("author") or entry.persons.get("editor") or []
                last = [" ".join(p.last_names) for p in persons]
                if not last:
                    names = entry.key
                elif len(last) == 1:
                    names = last[0]
                elif len(last) == 2:
                    names = f"{last[0]} and {last[1]}"
                else:
                    names = f"{last[0]} et al."
                names = names.replace("{", "").replace("}", "")
                label = f"{names} {entry.fields.get('year', 'n.d.')}"
                seen[label] = seen.get(label, 0) + 1
                yield label if seen[label] == 1 else f"{label}{'abcdefghij'[seen[label] - 1]}"

    class AuthorYearStyle(PlainStyle):
        default_label_style = "authoryear"
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    _register_authoryear_style()
    app.add_role("verdict", verdict_role)
    app.add_config_value("sam_lettered_figures", {}, "env", types=[dict])
    app.add_config_value("sam_unnumbered_figures", [], "env", types=[list])
    app.connect("env-get-updated", letter_figure_numbers, priority=900)
    app.connect("config-inited", use_local_mathjax)
    app.connect("builder-inited", drop_thebe)
    app.connect("builder-inited", copy_mathjax)
    app.connect("html-page-context", page_context)
    app.set_html_assets_policy("always")  # MathJax on every page, the ledger included
    app.add_css_file("reader.css")
    app.add_js_file("reader.js", defer="defer")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
