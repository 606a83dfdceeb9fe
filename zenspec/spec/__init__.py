"""Spec files: TOML/YAML experiment specs, checked against one JSON Schema and launched.

The stages, one module each: :mod:`~zenspec.spec.parse` (text to data plus a
source map), :mod:`~zenspec.spec.schema` (the JSON Schema),
:mod:`~zenspec.spec.model` (the typed :class:`Spec`),
:mod:`~zenspec.spec.semantic` (checks a schema cannot make, optionally with
imports), :mod:`~zenspec.spec.compile` (to the core API's config, groups and
overrides) and :mod:`~zenspec.spec.plan` (the dry run).
"""

from zenspec.spec.api import FileReport, load_spec, run_spec, validate, validate_paths
from zenspec.spec.model import Spec
from zenspec.spec.plan import Plan, PlannedJob, plan_spec
from zenspec.spec.schema import load_schema

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
