"""docs/errors.md is the catalogue of every user-facing error, produced by running each example.

Regenerate it with ``python docs/errors_catalogue.py > docs/errors.md``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from zenspec._compatibility import HYDRA_14
from zenspec.errors import ZenspecError

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC = DOCS / "errors.md"
# the generator is a docs script, not part of the installed package
_spec = importlib.util.spec_from_file_location("errors_catalogue", DOCS / "errors_catalogue.py")
catalogue = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("errors_catalogue", catalogue)
_spec.loader.exec_module(catalogue)
EXAMPLES, error_classes, render = catalogue.EXAMPLES, catalogue.error_classes, catalogue.render
REGENERATE = "regenerate it: python docs/errors_catalogue.py > docs/errors.md"


def test_every_error_class_has_an_example():
    classes = error_classes()
    assert ZenspecError in classes and len(classes) >= 6
    missing = [c.__name__ for c in classes if not EXAMPLES.get(c.__name__)]
    assert not missing, f"add an example of {missing} to docs/errors_catalogue.py"
    stale = set(EXAMPLES) - {c.__name__ for c in classes}
    assert not stale, f"examples of classes that no longer exist: {stale}"


def test_every_error_class_is_in_the_catalogue():
    text = DOC.read_text(encoding="utf-8")
    for cls in error_classes():
        assert f"\n## {cls.__name__}\n" in text, f"{cls.__name__} is not in docs/errors.md; {REGENERATE}"  # fmt: skip
        assert f"Exit code {cls.exit_code}." in text


@pytest.mark.skipif(
    HYDRA_14,
    reason="docs/errors.md quotes hydra-core 1.3 / omegaconf 2.3's own messages (the "
    "default install); 1.4 and 2.4 word the target policy and a missing key differently",
)
def test_the_catalogue_is_up_to_date():
    assert render() == DOC.read_text(encoding="utf-8"), f"docs/errors.md is out of date; {REGENERATE}"  # fmt: skip
