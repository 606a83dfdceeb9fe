"""Package attributes loaded on first use (PEP 562), for zenspec's lazy packages.

``import zenspec`` (or ``zenspec.cli``, ``zenspec.spec``, ``zenspec.launch``) must not
import Hydra or the launch layer: ``validate``, ``schema`` and a completion start
without them. Each package names where its public attributes live; the first access
imports that module and keeps the value in the package, so later ones are plain
attribute reads.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, List, Mapping, Sequence, Tuple

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, where: Mapping[str, str], exported: Sequence[str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """The ``__getattr__`` and ``__dir__`` of *package*: *where* maps a name to its module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value  # imported once
        return value

    def __dir__() -> List[str]:
        return sorted(set(vars(sys.modules[package])) | set(exported))

    return __getattr__, __dir__
