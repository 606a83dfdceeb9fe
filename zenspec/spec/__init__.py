"""Spec files: TOML/YAML experiment specs, checked against one JSON Schema and launched.

The stages, one module each: :mod:`~zenspec.spec.parse` (text to data plus a
source map), :mod:`~zenspec.spec.schema` (the JSON Schema),
:mod:`~zenspec.spec.model` (the typed :class:`Spec`),
:mod:`~zenspec.spec.semantic` (checks a schema cannot make, optionally with
imports), :mod:`~zenspec.spec.compile` (to the core API's config, groups and
overrides) and :mod:`~zenspec.spec.plan` (the dry run).

The names below are imported on first use (PEP 562): the launch layer imports
:mod:`zenspec.spec.override_text` (Hydra-free override text) without loading
the JSON Schema machinery, and ``zenspec validate`` never loads :mod:`~zenspec.spec.plan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from zenspec._lazy import lazy_attributes

if TYPE_CHECKING:
    from zenspec.spec.api import FileReport, load_spec, run_spec, validate, validate_paths
    from zenspec.spec.model import Spec
    from zenspec.spec.plan import Plan, PlannedJob, plan_spec
    from zenspec.spec.schema import load_schema

_LAZY: Dict[str, str] = {
    "FileReport": "zenspec.spec.api",
    "load_spec": "zenspec.spec.api",
    "run_spec": "zenspec.spec.api",
    "validate": "zenspec.spec.api",
    "validate_paths": "zenspec.spec.api",
    "Spec": "zenspec.spec.model",
    "Plan": "zenspec.spec.plan",
    "PlannedJob": "zenspec.spec.plan",
    "plan_spec": "zenspec.spec.plan",
    "load_schema": "zenspec.spec.schema",
}

__all__ = [
    "FileReport",
    "Plan",
    "PlannedJob",
    "Spec",
    "load_schema",
    "load_spec",
    "plan_spec",
    "run_spec",
    "validate",
    "validate_paths",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
