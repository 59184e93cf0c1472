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
