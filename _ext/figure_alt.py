"""Sphinx extension of the book: give every figure image an alt text taken from its caption.

myst-nb renders a notebook's figure output as an ``image`` node without ``alt``, and the
HTML writer then falls back to the file name (``alt="../_images/<hash>.png"``), which tells
a screen-reader user nothing. A chapter captions each figure through the cell metadata
``mystnb.figure.caption``; this extension copies that caption into the image's ``alt`` so
the caption is the alt text, without asking every notebook for a second copy of it.
An ``alt`` set explicitly (``mystnb.image.alt`` or ``:alt:``) is kept.
"""
from __future__ import annotations

from docutils import nodes


def _alt_is_missing(image: nodes.image) -> bool:
    alt = (image.get("alt") or "").strip()
    return not alt or alt == image.get("uri")


def add_alt_from_caption(app, doctree: nodes.document, docname: str) -> None:
    """Set ``alt`` of each image inside a captioned figure that lacks one (``doctree-resolved``)."""
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(captions[0].astext().split())
        if not text:
            continue
        for image in figure.findall(nodes.image):
            if _alt_is_missing(image):
                image["alt"] = text


def setup(app):
    app.connect("doctree-resolved", add_alt_from_caption)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
