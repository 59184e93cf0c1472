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
