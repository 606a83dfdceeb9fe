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
    "zenspec.sweepers.space",
    "zenspec.adaptive.report",
    "zenspec.adaptive.seeds",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_readme_examples_run(tmp_path, monkeypatch):
    """The README's ``>>>`` examples, run against a copy of the shipped specs."""
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    # a closing fence right after an example's output is not part of the output
    text = (repo / "README.md").read_text().replace("\n```", "\n\n```")
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", "README.md", 0)
    assert len(test.examples) >= 10
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
