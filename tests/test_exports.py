"""Every public name that ``samlib`` advertises resolves to an object of its module."""
import importlib

import pytest

import samlib


@pytest.mark.parametrize("name", samlib.__all__)
def test_public_name_resolves(name):
    obj = getattr(samlib, name)
    module = importlib.import_module(f"samlib.{samlib._EXPORTS[name]}")
    assert obj is (module if name == samlib._EXPORTS[name] else getattr(module, name))


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        samlib.not_a_name  # noqa: B018


def _public_modules():
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(samlib.__path__) if not m.name.startswith("_"))


@pytest.mark.parametrize("module", _public_modules())
def test_every_module_is_exported_and_listed(module):
    # a new module (stats and batchnorm came late) must not be reachable only by its file path
    assert samlib._EXPORTS.get(module) == module
    assert f"``samlib.{module}``" in samlib.__doc__


@pytest.mark.parametrize("module", ["stats", "batchnorm"])
def test_module_public_names_are_exported(module):
    mod = importlib.import_module(f"samlib.{module}")
    assert {name: samlib._EXPORTS.get(name) for name in mod.__all__} == {name: module for name in mod.__all__}


def _imports_of(path):
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            yield node, base, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node, a.name, []


def _package_dir():
    import pathlib

    return pathlib.Path(samlib.__file__).parent


def test_the_core_never_imports_a_study():
    # the layout's one rule: samlib/*.py is the mathematics, samlib/studies/ the chapters' scaffolding
    offenders = []
    for path in sorted(_package_dir().glob("*.py")):
        for _, base, names in _imports_of(path):
            if "studies" in base.split(".") or "studies" in names:
                offenders.append(f"{path.name}: {base} {names}")
    assert offenders == []


def test_no_private_name_crosses_modules():
    # a module's private helpers (leading underscore) stay in it; _validation is the shared private module
    offenders = []
    for path in sorted(_package_dir().rglob("*.py")):
        for _, base, names in _imports_of(path):
            if base.rsplit(".", 1)[-1] == "_validation":
                continue
            offenders += [f"{path.name}: {base}.{n}" for n in names if n.startswith("_") and n != "__future__"]
    assert offenders == []


def test_samlib_modules_are_imported_at_the_top():
    # no import of a samlib module inside a function: that is how the circle experiments <-> ssam hid.
    # Third-party imports may be deferred where a module works without them (torch in the numpy-first
    # ascent and landscapes, sklearn for the digits, IPython/myst_nb in the ledger's notebook helpers).
    import ast

    offenders = []
    for path in sorted(_package_dir().rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    own = (isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("samlib"))
                           ) or (isinstance(inner, ast.Import) and any(a.name.startswith("samlib") for a in inner.names))
                    if own:
                        offenders.append(f"{path.relative_to(_package_dir())}:{inner.lineno} in {node.name}")
    assert offenders == []
