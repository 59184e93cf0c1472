"""Sphinx extension of the book: give every figure image an alt text taken from its caption.

myst-nb renders a notebook's figure output as an ``image`` node without ``alt``, and the
HTML writer then falls back to the file name (``alt="../_images/<hash>.png"``), which tells
a screen-reader user nothing. A chapter captions each figure through the cell metadata
``mystnb.figure.caption``; this extension copies that caption into the image's ``alt`` so
the caption is the alt text, without asking every notebook for a second copy of it.
An ``alt`` set explicitly (``mystnb.image.alt`` or ``:alt:``) is kept.

Alt text is read aloud, so formulas of the caption are spoken in plain words
(:func:`spoken_math`: ``$\\lambda_{\\max}$`` becomes "lambda max", ``$10^{-4}$`` "10 to the
power -4"), never left as TeX.
"""
from __future__ import annotations

import re

from docutils import nodes

_WORDS = {
    "epshat": "epsilon hat", "kapparho": "kappa rho", "lmax": "lambda max", "grad": "gradient of",
    "nabla": "gradient of", "LS": "L S", "LD": "L D", "R": "R", "norm": "norm of",
    "le": "at most", "leq": "at most", "ge": "at least", "geq": "at least", "approx": "about",
    "times": "times", "cdot": "times", "to": "to", "infty": "infinity", "top": "transposed",
    "sqrt": "square root of", "log": "log", "ln": "ln", "exp": "exp", "max": "max", "min": "min",
    "sum": "sum", "mathbb": "", "mathcal": "", "mathrm": "", "text": "", "operatorname": "",
    "hat": "", "tilde": "", "bar": "", "lVert": "norm", "rVert": "", "Vert": "norm", "lvert": "|",
    "rvert": "|", "mid": "given", "in": "in", "sim": "distributed as", "propto": "proportional to",
    "ell": "l", "frac": "fraction", "partial": "partial", "pm": "plus or minus", "ldots": "...", "dots": "...",
    "quad": " ", "qquad": " ", "mathbf": "", "boldsymbol": "", "left": "", "right": "",
    "big": "", "Big": "", "bigl": "", "bigr": "", "lambda": "lambda", "neq": "not equal to",
    "ne": "not equal to", "lesssim": "at most about", "gg": "much greater than", "ll": "much less than",
}


def spoken_math(tex: str) -> str:
    """A TeX formula in plain words for a screen reader (no backslash, brace, ^ or _ left)."""
    s = tex
    # the names of norms and balls are read as names: L^2 is "L2", L^\infty "L-infinity"
    s = re.sub(r"\b([Ll])\^\s*\{?\\infty\}?", r"\1-infinity", s)
    s = re.sub(r"\b([Ll])\^\s*\{?([0-9p])\}?", r"\1\2", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1) over (\2)", s)
    s = re.sub(r"\\hat\s*\{?\\?([A-Za-z]+)\}?", r"\1 hat", s)
    s = re.sub(r"\\(?:[,;:! ])", " ", s)
    s = re.sub(r"\\([A-Za-z]+)", lambda m: f" {_WORDS.get(m.group(1), m.group(1))} ", s)
    s = s.replace("\\|", " norm ").replace("\\{", "(").replace("\\}", ")")
    s = re.sub(r"\^\s*\{([^{}]*)\}", r" to the power \1 ", s)
    s = re.sub(r"\^\s*([A-Za-z0-9.+-]+|\S)", r" to the power \1 ", s)
    s = re.sub(r"_\s*\{([^{}]*)\}", r" \1 ", s)
    s = s.replace("_", " ").replace("^", " to the power ")
    s = s.replace("{", "").replace("}", "").replace("\\", " ").replace("$", "")
    s = re.sub(r"\(\s+", "(", s)
    return re.sub(r"\s+\)", ")", " ".join(s.split()))


def _plain(node: nodes.Node) -> str:
    """The text of a caption with its formulas spoken (math nodes hold raw TeX)."""
    if isinstance(node, nodes.math):
        return spoken_math(node.astext())
    if isinstance(node, nodes.Text):
        return str(node)
    return "".join(_plain(c) for c in node.children)


def _alt_is_missing(image: nodes.image) -> bool:
    alt = (image.get("alt") or "").strip()
    return not alt or alt == image.get("uri")


def add_alt_from_caption(app, doctree: nodes.document, docname: str) -> None:
    """Set ``alt`` of each image inside a captioned figure that lacks one (``doctree-resolved``)."""
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(_plain(captions[0]).split())
        if not text:
            continue
        for image in figure.findall(nodes.image):
            if _alt_is_missing(image):
                image["alt"] = text
            elif "$" in image["alt"] or "\\" in image["alt"]:  # an explicit alt written in TeX
                image["alt"] = " ".join(re.sub(r"\$([^$]*)\$", lambda m: spoken_math(m.group(1)),
                                               image["alt"]).split())


def setup(app):
    app.connect("doctree-resolved", add_alt_from_caption)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
