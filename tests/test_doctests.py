"""The examples in the public API's docstrings run, in a scratch directory."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "zenspec.builds",
    "zenspec.instantiate",
    "zenspec.launch.core",
    "zenspec.launch.overrides",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
