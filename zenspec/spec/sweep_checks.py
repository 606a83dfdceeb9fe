"""Semantic checks of the ``[sweep]`` table: each axis parses, names real keys and
groups, and describes a non-empty set of values the sweeper can use.

A mixin of :class:`zenspec.spec.semantic._Checker`, which provides ``spec``,
``add``, ``option`` and ``key_exists``.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException

from zenspec.errors import OverrideError, did_you_mean
from zenspec.spec.parse import KeyPath
from zenspec.sweepers.space import is_structured_sweep

__all__ = ["SpecGroupOptions", "SweepChecks"]

_HINT_ADD = "Fix: add it to [config] with a default value, or prefix the key with '+' to add it."


class SweepChecks:
    spec: Any

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

        parser = OverridesParser.create()
        good: List[str] = []
        for key, value in self.spec.sweep.items():
            path = self.spec.sweep_paths[key]
            if is_structured_sweep(value) and not self.structured(path, value):
                continue
            try:
                text = _sweep_override(key, value)
            except OverrideError as e:  # a value no override can spell (e.g. a key "a b")
                self.add(path, f"the sweep value cannot be written as an override: {e.message}")
                continue
            try:
                (o,) = parser.parse_overrides([text])
            except OverrideParseException as e:
                detail = str(e).strip().splitlines()
                self.add(
                    path,
                    f"'{value}' is not valid Hydra sweep syntax: {detail[-1] if detail else e}",
                    "Fix: see https://hydra.cc/docs/advanced/override_grammar/extended/ "
                    '(e.g. "range(1, 10)", "choice(a, b)", "interval(0, 1)" or a list).',
                )
                continue
            self.sweep_axis(path, key, o, text)
            good.append(text)
        return good

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

    def sweep_axis(self, path: KeyPath, key: str, o: Any, text: str) -> None:
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
        value = o.value()
        if type(value).__name__ == "Glob":
            self.glob(path, bare, value, text.partition("=")[2])
            return
        if type(value).__name__ == "RangeSweep" and value.step == 0:
            # Hydra only refuses it when the job list is built
            self.add(path, f"'{text.partition('=')[2]}' is not a valid range: its step is 0.")
            return
        empty = o.is_discrete_sweep() and type(value).__name__ != "RangeSweep"
        if empty and not list(o.sweep_string_iterator()):
            self.add(
                path, f"'{text.partition('=')[2]}' gives no values: the sweep would run no job."
            )
            return
        if "/" not in bare and bare in self.spec.groups:
            if o.is_discrete_sweep() and not o.is_hydra_override() and o.is_sweep_override():
                values = list(o.sweep_string_iterator())
            elif o.is_interval_sweep():
                self.add(path, f"group '{bare}' is swept with an interval; give option names.")
                return
            else:
                values = [o.value()]
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
        if o.is_interval_sweep():
            iv = o.value()
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
        elif type(getattr(o, "_value", None)).__name__ == "RangeSweep":
            from zenspec.launch.grid import count_grid

            value = text.partition("=")[2]
            try:
                empty = count_grid([text]) == 0
            except (ValueError, TypeError, OverflowError) as e:  # range(1, 5, 0)
                self.add(path, f"'{value}' is not a valid range: {e}.")
                return
            if empty:
                self.add(path, f"'{value}' is an empty range: it gives no jobs.")

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
