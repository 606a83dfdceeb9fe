"""Semantic checks of the ``[sweep]`` table: each axis parses, names real keys and
groups, and describes a non-empty set of values the sweeper can use.

A mixin of :class:`zenspec.spec.semantic._Checker`, which provides ``spec``,
``problems``, ``add``, ``note``, ``option`` and ``key_exists``.

An axis of the common forms (a list, ``range(...)``, ``choice(...)``,
``interval(...)``: :mod:`zenspec.spec.sweep_text`) is read without Hydra; any
other expression is parsed with Hydra's own override parser, imported then.
If that import fails (Hydra's internals moved), the axis's syntax is not
checked and a note says so: the other checks still run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from zenspec.errors import OverrideError, Problem, did_you_mean
from zenspec.spec.parse import KeyPath
from zenspec.spec.sweep_text import TextOverride, read_line
from zenspec.sweepers.space import is_structured_sweep

__all__ = ["SpecGroupOptions", "SweepChecks"]


@dataclass
class _Axis:
    """What the checks need of a parsed sweep axis, from either reader."""

    kind: str  # "value", "choice", "range", "interval", "glob", "other"
    value: Any = None  # the plain value (kind "value")
    strings: List[str] = field(default_factory=list)  # the choices' texts
    start: Any = None  # interval bounds; a range's step in `step`
    end: Any = None
    step: Any = None
    tags: Any = frozenset()
    glob: Any = None  # Hydra's Glob
    count: Optional[int] = None  # a range's length; None if unknown
    error: Optional[str] = None  # why a range has no length
    source: Any = None  # the parsed override: a range's texts, listed only when needed

    def texts(self) -> List[str]:
        """The values' texts (a range's listed now: ranges may be long)."""
        if self.kind == "range" and self.source is not None:
            if isinstance(self.source, TextOverride):
                return self.source.strings()
            return list(self.source.sweep_string_iterator())
        return list(self.strings)


def _from_text(o: TextOverride) -> _Axis:
    if o.kind == "interval":
        return _Axis("interval", start=o.start, end=o.stop, tags=o.tags)
    if o.kind == "range":
        return _Axis("range", step=o.step, count=o.count(), source=o)
    if o.kind == "choice":
        return _Axis("choice", strings=o.strings())
    return _Axis("value", value=o.values[0])


def _from_hydra(o: Any, text: str) -> _Axis:
    value = o.value()
    name = type(value).__name__
    if name == "Glob":
        return _Axis("glob", glob=value)
    if name == "RangeSweep":
        if value.step == 0:
            return _Axis("range", step=0)
        from zenspec.launch.grid import count_grid

        try:
            return _Axis("range", step=value.step, count=count_grid([text]), source=o)
        except (ValueError, TypeError, OverflowError) as e:
            return _Axis("range", step=value.step, error=str(e), source=o)
    if o.is_interval_sweep():
        return _Axis("interval", start=value.start, end=value.end, tags=value.tags)
    if o.is_discrete_sweep():
        return _Axis("choice", strings=list(o.sweep_string_iterator()))
    if o.is_sweep_override():
        return _Axis("other")
    return _Axis("value", value=value)


_HINT_ADD = "Fix: add it to [config] with a default value, or prefix the key with '+' to add it."


class SweepChecks:
    spec: Any
    problems: List[Problem]

    def add(self, path: KeyPath, message: str, hint: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def option(
        self, path: KeyPath, group: str, option: Any, where: str
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def key_exists(self, key: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def sweep(self) -> List[str]:
        """Check every axis; return the overrides that parsed (for the grid size)."""
        from zenspec.spec.compile import _sweep_override

        good: List[str] = []
        for key, value in self.spec.sweep.items():
            path = self.spec.sweep_paths[key]
            if is_structured_sweep(value) and not self.structured(path, value):
                continue
            broken = _broken_interpolation(value)
            if broken is not None:
                self.add(
                    path,
                    f"the sweep value {broken[0]!r} is no valid interpolation: {broken[1]}",
                    "Fix: write a complete reference such as '${other.key}', or a plain "
                    "string without '${'.",
                )
                continue
            try:
                text = _sweep_override(key, value)
            except OverrideError as e:  # a value no override can spell (e.g. a key "a b")
                self.add(path, f"the sweep value cannot be written as an override: {e.message}")
                continue
            simple = read_line(text)
            axis = _from_text(simple) if simple is not None else self.hydra_axis(path, value, text)
            if axis is None:
                continue
            self.sweep_axis(path, key, axis, text)
            good.append(text)
        return good

    def hydra_axis(self, path: KeyPath, value: Any, text: str) -> Optional[_Axis]:
        """*text* parsed with Hydra's grammar; None (and a problem or a note) if it is not."""
        try:
            from hydra.core.override_parser.overrides_parser import OverridesParser
            from hydra.errors import OverrideParseException
        except Exception as e:  # Hydra's internals moved: skip this one check, say so
            self.note(
                f"{self.spec.file}: sweep value {value!r} not checked: Hydra's override "
                f"parser cannot be imported ({type(e).__name__}: {e})."
            )
            return None
        try:
            (o,) = OverridesParser.create().parse_overrides([text])
        except OverrideParseException as e:
            detail = str(e).strip().splitlines()
            self.add(
                path,
                f"'{value}' is not valid Hydra sweep syntax: {detail[-1] if detail else e}",
                "Fix: see https://hydra.cc/docs/advanced/override_grammar/extended/ "
                '(e.g. "range(1, 10)", "choice(a, b)", "interval(0, 1)" or a list).',
            )
            return None
        return _from_hydra(o, text)

    def note(self, message: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def structured(self, path: KeyPath, value: Dict[str, Any]) -> bool:
        """``{ low, high, log, int }``: what the schema cannot compare; True if sound."""
        if "choices" in value:
            return True
        low, high, before = value["low"], value["high"], len(self.problems)
        if not low < high:
            self.add(
                path,
                f"low ({low}) must be below high ({high}): the range is empty.",
                f"Fix: low = {min(low, high)}, high = {max(low, high)}.",
            )
        if value.get("log") and low <= 0:
            self.add(
                path,
                f"log = true needs low > 0 (log-uniform sampling), found low = {low}.",
                "Fix: raise low (e.g. 1e-6), or drop log = true.",
            )
        if value.get("int") and not all(isinstance(v, int) for v in (low, high)):
            self.add(path, f"int = true needs integer bounds, found low = {low}, high = {high}.")
        return len(self.problems) == before

    def sweep_axis(self, path: KeyPath, key: str, o: _Axis, text: str) -> None:
        bare = key.lstrip("+")
        if bare.split(".")[0].split("/")[0] == "hydra":
            # Hydra refuses it for every sweeper ("Sweeping over Hydra's configuration
            # is not supported"), after the sweep has started
            self.add(
                path,
                f"'{bare}' is Hydra's own setting, which Hydra cannot sweep.",
                "Fix: set it once in [hydra]; for a per-job value use an interpolation of a "
                'swept key there (e.g. sweep.subdir = "${hydra.job.override_dirname}").',
            )
            return
        if o.kind == "glob":
            self.glob(path, bare, o.glob, text.partition("=")[2])
            return
        if o.kind == "range" and o.step == 0:
            # Hydra only refuses it when the job list is built
            self.add(path, f"'{text.partition('=')[2]}' is not a valid range: its step is 0.")
            return
        if o.kind == "choice" and not o.strings:
            self.add(
                path, f"'{text.partition('=')[2]}' gives no values: the sweep would run no job."
            )
            return
        if "/" not in bare and bare in self.spec.groups:
            if o.kind in ("choice", "range"):
                values: List[Any] = o.texts()
            elif o.kind == "interval":
                self.add(path, f"group '{bare}' is swept with an interval; give option names.")
                return
            elif o.kind == "value":
                values = [o.value]
            else:
                values = []
            for v in values:
                self.option(path, bare, v, "the sweep")
            return
        exists = self.key_exists(bare)
        if key.startswith("+") and exists:
            self.add(
                path,
                f"'{key}' adds the key '{bare}', but it is already in the config.",
                f"Fix: drop the '+': {bare}.",
            )
        elif not key.startswith("+") and exists is False:
            known = list(self.spec.config) + list(self.spec.groups)
            self.add(
                path,
                f"swept key '{bare}' is not in the config." + did_you_mean(bare, known),
                _HINT_ADD,
            )
        if o.kind == "interval":
            iv = o
            if not (math.isfinite(iv.start) and math.isfinite(iv.end)):
                self.add(
                    path,
                    f"interval({iv.start}, {iv.end}) has a bound that is not a finite number: "
                    "every sample would be inf or nan.",
                    "Fix: give finite bounds (e.g. interval(0, 1e6), or tag(log, interval(1e-6, "
                    "1e6)) for a range spanning magnitudes).",
                )
                return
            if not iv.start < iv.end:
                self.add(
                    path,
                    f"interval({iv.start}, {iv.end}) is empty: the lower bound must be "
                    "below the upper bound.",
                    f"Fix: interval({min(iv.start, iv.end)}, {max(iv.start, iv.end)}).",
                )
            if "log" in iv.tags and iv.start <= 0:
                self.add(
                    path,
                    f"a log-scaled interval needs a lower bound above 0, found {iv.start}.",
                    "Fix: raise the lower bound (e.g. 1e-6), or drop tag(log, ...).",
                )
            if self.spec.sweeper.is_grid:
                self.add(
                    path,
                    f"'{key}' is an interval (a continuous range), which the basic (grid) "
                    "sweeper cannot enumerate.",
                    'Fix: set [sweeper] kind = "random" or "optuna" (or your own target), '
                    'or give a grid: "range(a, b, step)" or a list.',
                )
        elif o.kind == "range" and o.error is not None:
            self.add(path, f"'{text.partition('=')[2]}' is not a valid range: {o.error}.")
        elif o.kind == "range" and o.count == 0:
            self.add(path, f"'{text.partition('=')[2]}' is an empty range: it gives no jobs.")

    def glob(self, path: KeyPath, key: str, glob: Any, text: str) -> None:
        """``glob(...)`` selects options of a config group; it must select some."""
        if self.spec.sweeper.kind in ("random", "optuna"):
            self.add(
                path,
                f"'{text}' cannot be sampled by zenspec's {self.spec.sweeper.kind} sweeper: "
                "glob() lists options for the grid.",
                "Fix: list the options: choice(a, b), or a list.",
            )
            return
        if key in self.spec.groups:
            options = sorted(self.spec.groups[key])
            if not glob.filter(options):
                self.add(
                    path,
                    f"'{text}' selects none of group '{key}''s options ({', '.join(options)}).",
                    "Fix: widen the pattern, or list the options.",
                )
            return
        self.add(
            path,
            f"glob() selects options of a config group, and '{key}' is not a group of this spec"
            f" (groups: {', '.join(sorted(self.spec.groups)) or 'none'}).",
            "Fix: list the values instead (a list, choice(...) or range(...)).",
        )


class SpecGroupOptions:
    """What ``glob()`` asks a config loader for, answered from the spec's own groups.

    Without imports nothing is composed, but a spec's groups are all in the spec
    (Hydra's own groups, ``hydra/launcher``..., are not globbed in a spec).
    """

    def __init__(self, spec: Any) -> None:
        self.groups = spec.groups

    def get_group_options(self, group_name: str, results_filter: Any = None) -> List[str]:
        return sorted(self.groups.get(group_name, {}))


def _broken_interpolation(value: Any) -> Optional[Tuple[str, str]]:
    """``(value, why)`` for a listed sweep value with a malformed ``${...}``, else None.

    Hydra's override parser takes ``'${'`` as a quoted string; OmegaConf refuses it
    only when the override is applied, as the job's config is composed, with no
    word of which spec key held it. Checked here, it gets its file and line.
    """
    if not isinstance(value, list):
        return None  # a string is Hydra's sweep grammar: its parser checks it
    from zenspec.spec.semantic import _interpolation_error  # [config]'s check, the same grammar

    memo: Dict[str, Optional[str]] = {}
    for item in value:
        if isinstance(item, str) and "${" in item:
            error = _interpolation_error(item, memo)
            if error is not None:
                return item, error.splitlines()[0]
    return None
