"""The book's Sphinx extension _ext/figure_alt.py: a figure's caption becomes its image's alt text."""
from __future__ import annotations

import importlib.util

from docutils import nodes
from docutils.utils import new_document
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser

from toc import ROOT

_spec = importlib.util.spec_from_file_location("figure_alt", ROOT / "_ext" / "figure_alt.py")
figure_alt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figure_alt)


def _doc(*children):
    doc = new_document("test", get_default_settings(Parser))
    doc.extend(children)
    return doc


def _figure(image, caption_text=None):
    fig = nodes.figure("", image)
    if caption_text is not None:
        fig += nodes.caption(caption_text, "", nodes.Text(caption_text))
    return fig


def test_caption_becomes_alt_when_alt_missing_or_is_the_uri():
    a = nodes.image(uri="../_images/a.png")
    b = nodes.image(uri="../_images/b.png", alt="../_images/b.png")
    doc = _doc(_figure(a, "Loss  along the\nascent direction."), _figure(b, "Second."))
    figure_alt.add_alt_from_caption(None, doc, "x")
    assert a["alt"] == "Loss along the ascent direction."
    assert b["alt"] == "Second."


def test_explicit_alt_and_uncaptioned_images_are_left_alone():
    kept = nodes.image(uri="k.png", alt="A hand-written description")
    bare = nodes.image(uri="bare.png")
    loose = nodes.image(uri="loose.png")
    doc = _doc(_figure(kept, "Caption"), _figure(bare), nodes.paragraph("", "", loose))
    figure_alt.add_alt_from_caption(None, doc, "x")
    assert kept["alt"] == "A hand-written description"
    assert "alt" not in bare and "alt" not in loose
