"""The notebooks of the book, read from ``_toc.yml`` (used by the tests and the Makefile).

``python tests/toc.py`` prints one notebook path per line.
"""
from __future__ import annotations

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _walk(node):
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                yield node[key]
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def toc_files() -> list[str]:
    """Every document listed in ``_toc.yml``, in order, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return list(dict.fromkeys(_walk(toc)))


def toc_notebooks() -> list[pathlib.Path]:
    """The ``.ipynb`` files among the documents of ``_toc.yml`` (paths relative to the repo)."""
    out = []
    for f in toc_files():
        stem = f[:-6] if f.endswith(".ipynb") else f
        nb = pathlib.Path(stem + ".ipynb")
        if (ROOT / nb).exists():
            out.append(nb)
    return out


if __name__ == "__main__":
    for nb in toc_notebooks():
        print(nb)
