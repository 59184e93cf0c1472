"""The book's figure style: one matplotlib style file for every chapter.

``book/sam.mplstyle`` (installed with samlib's ledger files) holds the settings: sizes for
the text column, Okabe-Ito colours, light grids, mathtext in labels. A chapter calls
:func:`use_book_style` once in its imports cell; :func:`legend_outside` places a legend
where it hides nothing (below or beside the axes).
"""
from __future__ import annotations

import pathlib

from .ledger import ledger_path

__all__ = ["style_path", "use_book_style", "legend_outside", "figure_legend"]


def style_path() -> pathlib.Path:
    """Location of ``sam.mplstyle``: beside the ledger (``book/`` of a checkout, or the
    installed ``samlib_book``)."""
    return ledger_path().parent / "sam.mplstyle"


def use_book_style() -> None:
    """Apply the book's style to every later figure (``matplotlib.style.use``)."""
    import matplotlib.pyplot as plt

    plt.style.use(str(style_path()))


def legend_outside(ax, where: str = "below", **kw):
    """A legend outside the axes, so that it covers no data: ``below`` (default) or ``right``."""
    if where == "right":
        kw = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, **kw}
    else:
        kw = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncol": 3, **kw}
    return ax.legend(**kw)


def figure_legend(fig, handles=None, labels=None, ncol: int = 4, **kw):
    """One legend for a multi-panel figure, below the panels (every entry once)."""
    if handles is None:
        seen: dict[str, object] = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if not lab.startswith("_"):
                    seen.setdefault(lab, h)
        labels, handles = list(seen), list(seen.values())
    kw = {"loc": "outside lower center", "ncol": ncol, **kw}
    return fig.legend(handles, labels, **kw)
