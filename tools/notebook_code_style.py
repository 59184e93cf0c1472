"""Make a chapter's code skimmable (issue 16): ``python tools/notebook_code_style.py book/x.ipynb``.

1. Each code cell is formatted with black at 88 columns, strings left as written (``black -l 88
   -S``; Debian's ``black`` package, or any black on PATH). IPython magics are kept.
2. Long comments are re-wrapped and long string literals split into adjacent literals, checked
   to give the same syntax tree (``ast.dump``) as before; what cannot be split is reported.
3. The imports cell gets ``from samlib.plotting import use_book_style`` and ``use_book_style()``
   after its imports, and per-notebook ``plt.rcParams.update({"figure.dpi": ..})`` lines go.
4. The imports cell and every cell that draws a figure without calling ``check_claim`` are
   tagged ``hide-input``.

Re-execute the notebook afterwards (``make execute NB=...``): the figures change style.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap

MAX = 88
MAGIC = "#SAMMAGIC#"


def _lines(src: str) -> list[str]:
    out = [line + "\n" for line in src.split("\n")]
    out[-1] = out[-1].rstrip("\n")
    return out


def _tree(src: str) -> str:
    masked = "\n".join(("pass  #" + l) if l.lstrip().startswith(("%", "!")) else l for l in src.split("\n"))
    return ast.dump(ast.parse(masked))


def black(src: str) -> str:
    masked = "\n".join((MAGIC + l) if l.lstrip().startswith(("%", "!")) else l for l in src.split("\n"))
    r = subprocess.run(["black", "-q", "-l", str(MAX), "-S", "-"], input=masked, capture_output=True, text=True)
    if r.returncode != 0:
        return src
    return re.sub(r"#\s*SAMMAGIC#", "", r.stdout.rstrip("\n"))


_STR = re.compile(r'^(\s*)([rRfFbB]{0,2})("|\')(.*)\3(\s*[,)]*\s*)$')


def _split_literal(line: str) -> list[str] | None:
    m = _STR.match(line)
    if not m:
        return None
    ind, pre, q, body, tail = m.groups()
    if q in body:
        return None
    depth, cands = 0, []
    for i, ch in enumerate(body):
        if "f" in pre.lower():
            depth += (ch == "{") - (ch == "}")
        if ch == " " and depth == 0:
            cands.append(i)
    good = [i for i in cands if i + 1 <= MAX - len(ind) - len(pre) - 2]
    if not good:
        return None
    a, b = body[:good[-1] + 1], body[good[-1] + 1:]
    return [f"{ind}{pre}{q}{a}{q}", f"{ind}{pre}{q}{b}{q}{tail}"]


def wrap_long(src: str) -> str:
    ref = _tree(src)
    for _ in range(6):
        out, changed = [], False
        for line in src.split("\n"):
            s = line.lstrip()
            ind = line[: len(line) - len(s)]
            if len(line) <= MAX:
                out.append(line)
            elif s.startswith("#"):
                out += [ind + "# " + x for x in textwrap.wrap(s.lstrip("#").strip(), MAX - len(ind) - 2)]
                changed = True
            elif (sp := _split_literal(line)) is not None:
                out += sp
                changed = True
            elif "  # " in line and not s.startswith(("'", '"')):
                code, com = line.split("  # ", 1)
                out += [ind + "# " + x for x in textwrap.wrap(com, MAX - len(ind) - 2)] + [code]
                changed = True
            else:
                out.append(line)
        new = "\n".join(out)
        try:
            if _tree(new) != ref:
                break
        except SyntaxError:
            break
        src = new
        if not changed:
            break
    return src


def add_style(src: str) -> str:
    if "use_book_style" in src:
        return src
    src = re.sub(r'^plt\.rcParams\.update\(\{"figure\.dpi".*\n', "", src, flags=re.M)
    lines = src.split("\n")
    masked = "\n".join(("pass  #" + l) if l.lstrip().startswith(("%", "!")) else l for l in lines)
    imps = [n for n in ast.parse(masked).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    end = imps[-1].end_lineno if imps else 0
    return "\n".join(lines[:end] + ["from samlib.plotting import use_book_style", "", "use_book_style()"]
                     + lines[end:])


def main(paths: list[str]) -> int:
    if shutil.which("black") is None:
        sys.exit("black is not on PATH (Debian: apt-get install black)")
    left = 0
    for path in paths:
        nb = json.load(open(path, encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        draws_any = any("image/png" in (o.get("data") or {}) for c in code for o in c.get("outputs", []))
        for k, c in enumerate(code):
            src = wrap_long(black("".join(c["source"])))
            if k == 0 and draws_any:
                src = add_style(src)
            c["source"] = _lines(src)
            tags = c.setdefault("metadata", {}).setdefault("tags", [])
            draws = any("image/png" in (o.get("data") or {}) for o in c.get("outputs", []))
            if ((k == 0 or (draws and "check_claim(" not in src))
                    and not any(t.startswith(("hide-", "remove-")) for t in tags)):
                tags.append("hide-input")
            if not tags:
                del c["metadata"]["tags"]
            for line in src.split("\n"):
                if len(line) > MAX:
                    left += 1
                    print(f"{path}: code cell {k}: {len(line)} columns, split by hand: {line.strip()[:70]}")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(nb, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
