"""Stage 4: the checks a schema cannot make, before any job starts.

Without imports (always): reserved keys, groups named in ``defaults``/``sweep``
exist with those options, swept keys exist in the base config (or carry
``+``), sweep expressions parse, intervals are ordered and ranges non-empty,
``interval`` is not given to the grid, simple ``${...}`` references point at
config keys, ``[hydra]``'s job name, sweep subdir and output dirs keep the
outputs where they belong (:mod:`zenspec.spec.paths`), no target is one Hydra's
instantiate target policy refuses (``os.system``, ``builtins.eval``...: checked
by name, nothing imported); and the grid's size, which may not exceed
``max_jobs`` (default 100,000).

With imports (``--imports``; ``run``/``plan`` default): the experiment's
target/task/config_class import, every ``_target_``/``_ref_`` imports, every
key given to a target is one of its parameters ("did you mean"), required
parameters are given, the sweeper is a ``Sweeper`` taking those arguments,
the launcher plugin is installed and knows those settings.

Without imports, Hydra itself is not imported either for the common specs (the
layering ``tests/test_layers.py`` holds): sweeps of the common forms are read
by :mod:`zenspec.spec.sweep_text`; Hydra is imported for a ``[hydra]`` table,
a target its policy may refuse, or an unusual sweep expression, and if it
cannot be, that one check is skipped with a note on stderr.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

from zenspec.errors import OverrideError, Problem, did_you_mean
from zenspec.spec.annotations import keyword_names, not_a_parameter, takes_any_keyword
from zenspec.spec.hydra_checks import HydraChecks
from zenspec.spec.imports import ImportFailure, resolve
from zenspec.spec.model import Spec
from zenspec.spec.parse import KeyPath
from zenspec.spec.paths import PathChecks
from zenspec.spec.policy import PolicyChecks, policy_refusal
from zenspec.spec.sweep_checks import SpecGroupOptions, SweepChecks

__all__ = ["DEFAULT_MAX_JOBS", "Report", "check_spec", "policy_refusal"]

#: The largest grid ``validate``/``plan``/``run`` accept unless told otherwise.
DEFAULT_MAX_JOBS = 100_000

_RESERVED_CONFIG = {
    "defaults": "use the [defaults] section to select group options",
    "hydra": "use the [hydra] section for Hydra's settings",
}
_SIMPLE_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_\-]*)(?:\.[^}:]*)?\}")
_HINT_ADD = "Fix: add it to [config] with a default value, or prefix the key with '+' to add it."
_NOTED: set = set()


@dataclass
class Report:
    """What the checks found: the problems, and the grid's size when it is a grid."""

    problems: List[Problem] = field(default_factory=list)
    grid_size: Optional[int] = None


class _Checker(SweepChecks, PolicyChecks, PathChecks, HydraChecks):
    def __init__(self, spec: Spec, imports: bool) -> None:
        self.spec = spec
        self.imports = imports
        self.problems: List[Problem] = []
        self.config_class_fields: Optional[List[str]] = None
        self.target_params: Optional[List[str]] = None  # None: unknown or **kwargs

    def add(self, path: KeyPath, message: str, hint: Optional[str] = None) -> None:
        self.problems.append(self.spec.problem(path, message, hint))

    def note(self, message: str) -> None:
        """A check that could not run: one line on stderr (once per process)."""
        if message not in _NOTED:
            _NOTED.add(message)
            sys.stderr.write(f"note: {message}\n")

    # -- without imports -----------------------------------------------------------
    def reserved(self) -> None:
        for key, why in _RESERVED_CONFIG.items():
            if key in self.spec.config:
                self.add(("config", key), f"'{key}' is reserved by Hydra.", f"Fix: {why}.")
        for group in self.spec.groups:
            if group.split("/")[0] == "hydra":
                self.add(
                    ("groups", group),
                    f"group '{group}' is Hydra's own.",
                    "Fix: set the sweeper and launcher in [sweeper] and [launcher].",
                )

    def defaults(self) -> None:
        for group, option in self.spec.defaults.items():
            self.option(("defaults", group), group, option, "defaults")

    def option(self, path: KeyPath, group: str, option: Any, where: str) -> None:
        groups = self.spec.groups
        if group not in groups:
            self.add(
                path,
                f"{where} selects an option of group '{group}', which is not defined."
                + did_you_mean(group, groups),
                f"Fix: define it with [groups.{group}.<option>].",
            )
        elif str(option) not in groups[group]:
            options = ", ".join(sorted(groups[group]))
            self.add(
                path,
                f"group '{group}' has no option '{option}' (it has: {options})."
                + did_you_mean(str(option), groups[group]),
            )

    def in_config(self, parts: Sequence[str]) -> bool:
        node: Any = self.spec.config
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def key_exists(self, key: str) -> Optional[bool]:
        """Whether dotted *key* is in the base config; None when it cannot be known."""
        parts = key.split(".")
        first = parts[0]
        if first in self.spec.groups and len(parts) > 1:
            opts = self.spec.groups[first].values()
            return any(self._in(node, parts[1:]) for node in opts)
        if first in self.spec.groups or self.in_config(parts):
            return True
        if self.spec.experiment.config_class:
            if self.config_class_fields is None:
                return None
            return first in self.config_class_fields
        return False

    @staticmethod
    def _in(node: Any, parts: Sequence[str]) -> bool:
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def interpolations(self) -> None:
        known = set(self.spec.config) | set(self.spec.groups) | {"hydra"}
        roots: List[tuple] = [(("config",), self.spec.config)]
        roots += [(("groups", g, o), n) for g, opts in self.spec.groups.items() for o, n in opts.items()]  # fmt: skip
        # aliases repeat one string many times: parse each distinct string once
        memo: Dict[str, Optional[str]] = {}
        refs: Dict[str, List[str]] = {}
        everything: Optional[set] = None
        for path, value in roots:
            for where, text in _strings(value, path):
                if "${" not in text:
                    continue
                error = _interpolation_error(text, memo)
                if error is not None:
                    self.add(where, f"interpolation {text!r} does not parse: {error}".rstrip("."))
                    continue
                if self.spec.experiment.config_class and self.config_class_fields is None:
                    continue
                if everything is None:  # once: the union costs as much as the config is big
                    everything = known | set(self.config_class_fields or ())
                names = refs.get(text)
                if names is None:
                    names = refs[text] = list(dict.fromkeys(_SIMPLE_REF.findall(text)))
                for name in names:
                    if name not in everything:
                        self.add(
                            where,
                            f"interpolation '${{{name}...}}' refers to '{name}', which is not a "
                            "key of the config." + did_you_mean(name, everything),
                        )

    def expressible(self) -> None:
        """[hydra] and [launcher] values become overrides: each must be writable as one."""
        from zenspec.spec.compile import _flatten, convert_value
        from zenspec.spec.override_text import value_to_override

        sections = {"hydra": self.spec.hydra, "launcher": dict(self.spec.launcher.params)}
        for section, table in sections.items():
            for key, leaf in _flatten(table, ""):
                try:
                    value_to_override(convert_value(leaf))
                except OverrideError as e:
                    self.add((section, *key.split(".")), f"cannot be written as an override: {e.message}")  # fmt: skip

    # -- with imports ------------------------------------------------------------
    def whitelist(self) -> None:
        """``[experiment] execution_whitelist``: every callable the spec names for Hydra to
        call (the experiment's target, ``_target_``/``_ref_`` of the config, the groups,
        the callbacks, the sweeper's settings) is in it. Hydra 1.4 enforces it when the
        jobs run; this is the early word, by name, on every version (nothing imported)."""
        listed = self.spec.experiment.execution_whitelist
        if listed is None:
            return
        # zenspec.instantiate imports Hydra: only for a spec that has a whitelist
        from zenspec.spec.imports import hydra_path
        from zenspec.spec.whitelist import is_whitelisted, normalize_execution_whitelist

        where = ("experiment", "execution_whitelist")
        try:
            allowed = normalize_execution_whitelist([hydra_path(p) for p in listed])
        except ValueError as e:
            self.add(where, str(e))
            return
        named: List[tuple] = []
        if self.spec.experiment.target:
            named.append((("experiment", "target"), self.spec.experiment.target))
        roots: List[tuple] = [(("config",), self.spec.config)]
        roots += [(("groups", g, o), n) for g, opts in self.spec.groups.items() for o, n in opts.items()]  # fmt: skip
        roots.append((("hydra", "callbacks"), self.spec.hydra.get("callbacks", {})))
        roots += [(("sweeper", k), v) for k, v in self.spec.sweeper.params.items()]
        stack = list(roots)
        while stack:
            at, node = stack.pop()
            if isinstance(node, list):
                stack.extend(((*at, i), v) for i, v in enumerate(node))
            elif isinstance(node, dict):
                for key in ("_target_", "_ref_"):
                    if isinstance(node.get(key), str):
                        named.append(((*at, key), node[key]))
                stack.extend(((*at, k), v) for k, v in node.items())
        for at, name in named:
            if not is_whitelisted(hydra_path(name), allowed):
                self.add(
                    at,
                    f"'{name}' is not in the spec's execution_whitelist "
                    f"({', '.join(listed) or 'empty'}).",
                    f"Fix: add '{hydra_path(name)}' (or its package, '"
                    f"{hydra_path(name).rsplit('.', 1)[0]}.*') to [experiment] "
                    "execution_whitelist.",
                )

    def resolve(self, path: KeyPath, target: str) -> Any:
        try:
            return resolve(target)
        except ImportFailure as e:
            self.add(path, e.message, e.hint)
            return None

    def experiment(self) -> None:
        exp = self.spec.experiment
        if exp.config_class:
            cls = self.resolve(("experiment", "config_class"), exp.config_class)
            if cls is not None and not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
                self.add(
                    ("experiment", "config_class"), f"'{exp.config_class}' is not a dataclass."
                )
            elif cls is not None:
                self.config_class_fields = [f.name for f in dataclasses.fields(cls)]
                for key in self.spec.config:
                    if key not in self.config_class_fields:
                        self.add(
                            ("config", key),
                            f"'{key}' is not a field of {exp.config_class}."
                            + did_you_mean(key, self.config_class_fields),
                        )
        if exp.task:
            task = self.resolve(("experiment", "task"), exp.task)
            if task is not None and not callable(task):
                self.add(("experiment", "task"), f"'{exp.task}' is not callable.")
            elif task is not None:
                self.task_signature(exp.task, task)
        if exp.target:
            target = self.resolve(("experiment", "target"), exp.target)
            if target is not None and not callable(target):
                self.add(("experiment", "target"), f"'{exp.target}' is not callable.")
            elif target is not None:
                self.call(("config",), exp.target, target, self.spec.config, experiment=True)

    def task_signature(self, name: str, task: Any) -> None:
        """A task is called with the job's config as its one positional argument."""
        try:
            sig = inspect.signature(task)
        except (TypeError, ValueError):  # builtins: nothing to check against
            return
        try:
            sig.bind(object())
            return
        except TypeError as e:
            reason = str(e)
        keyword = keyword_names(sig)
        target_like = bool(keyword) and not self.spec.experiment.config_class
        self.add(
            ("experiment", "task"),
            f"task {name}{sig} cannot be called with the job's config as its one positional "
            f"argument ({reason}).",
            f'Fix: to call it with the config\'s keys as arguments, write target = "{name}" '
            "instead of task; or give it one parameter for the config: def task(cfg): ..."
            if target_like
            else "Fix: give it one parameter for the config: def task(cfg): ...",
        )

    def call(
        self,
        path: KeyPath,
        name: str,
        target: Any,
        kwargs: Dict[str, Any],
        experiment: bool = False,
    ) -> None:
        """*kwargs* (a node's keys) against *target*'s signature."""
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):  # builtins such as dict: nothing to check against
            return
        params = sig.parameters
        if takes_any_keyword(sig):
            return
        names = keyword_names(sig)
        given = [k for k in kwargs if not (k.startswith("_") and k.endswith("_"))]
        for key in given:
            if key not in names:
                self.add((*path, key), not_a_parameter(key, name, sig))
        if experiment:
            for group in self.spec.groups:
                if "/" not in group and group not in names:
                    self.add(
                        ("groups", group),
                        f"group '{group}' fills the argument '{group}' of {name}, which has no "
                        "such parameter." + did_you_mean(group, names),
                    )
            supplied = set(given) | set(self.spec.groups) | {k.lstrip("+") for k in self.spec.sweep}
        else:
            if kwargs.get("_partial_") or "_args_" in kwargs:
                return
            supplied = set(given)
        for pname, p in params.items():
            required = p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            if required and pname not in supplied:
                self.add(
                    path,
                    f"{name} needs the argument '{pname}', which is not given.",
                    f"Fix: add {pname} = ... here"
                    + (" or set _partial_ = true to pass it later." if not experiment else "."),
                )

    def nodes(self, value: Any, path: KeyPath) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.nodes(item, (*path, i))
            return
        if not isinstance(value, dict):
            return
        if set(value) == {"_ref_"}:
            self.resolve((*path, "_ref_"), value["_ref_"])
            return
        if isinstance(value.get("_target_"), str):
            target = self.resolve((*path, "_target_"), value["_target_"])
            if target is not None and not callable(target):
                self.add((*path, "_target_"), f"'{value['_target_']}' is not callable.")
            elif target is not None:
                self.call(path, value["_target_"], target, value)
        for key, child in value.items():
            self.nodes(child, (*path, key))

    def sweeper(self) -> None:
        from hydra.plugins.sweeper import Sweeper

        settings = self.spec.sweeper
        if settings.is_grid:
            return
        path: KeyPath = ("sweeper", "target" if settings.kind == "custom" else "kind")
        try:
            cls = resolve(settings.target or "")
        except ImportFailure as e:
            if settings.kind != "custom":
                self.add(path, f"sweeper kind '{settings.kind}' is not available: {e.message}")
            else:
                self.add(path, e.message, e.hint)
            return
        if not (isinstance(cls, type) and issubclass(cls, Sweeper)):
            self.add(path, f"'{settings.target}' is not a hydra.plugins.sweeper.Sweeper subclass.")
            return
        self.call(("sweeper",), settings.target or "", cls, dict(settings.params))
        for key, value in settings.params.items():
            self.nodes(value, ("sweeper", key))
        if settings.kind in ("random", "optuna") and settings.params.get("pruner"):
            self.pruner(dict(settings.params["pruner"]))

    def pruner(self, pruner: Dict[str, Any]) -> None:
        """What building the sweeper's pruner would refuse at run time: Optuna, its settings."""
        path: KeyPath = ("sweeper", "pruner")
        metric = self.spec.sweeper.params.get("metric", self.spec.experiment.metric)
        if isinstance(metric, (list, tuple)) and len(metric) > 1:
            self.add(
                path,
                "a pruner needs a single metric; this study optimises several "
                f"({', '.join(map(str, metric))}), which Optuna's pruners do not support.",
                "Fix: remove the pruner, or optimise one metric.",
            )
            return
        import importlib.util

        if importlib.util.find_spec("optuna") is None:
            self.add(
                path,
                "a pruner needs Optuna (its pruners decide), which is not installed.",
                'Fix: pip install "zenspec[optuna]", or remove the pruner.',
            )
            return
        from zenspec.adaptive.pruning import make_pruner
        from zenspec.errors import LaunchError
        from zenspec.sweepers.optuna import _import_optuna

        try:
            make_pruner(_import_optuna(why="a pruner"), pruner)
        except LaunchError as e:
            self.add(path, e.message, e.hint)

    def launcher(self) -> None:
        from hydra.core.config_store import ConfigStore
        from hydra.core.plugins import Plugins

        kind = self.spec.launcher.kind
        if kind == "basic":
            return
        from zenspec.launchers import launcher_configs

        Plugins.instance()  # discovery registers each installed launcher's config
        options = dict(ConfigStore.instance().repo.get("hydra", {}).get("launcher", {}))
        if kind == "ray":  # zenspec's own (registered only while a launch runs)
            import importlib.util

            if importlib.util.find_spec("ray") is None:
                self.add(
                    ("launcher", "kind"), "the ray launcher needs Ray.", "Fix: pip install ray."
                )
                return
        ours = {f"{k}.yaml": conf for k, conf in launcher_configs().items()}
        names = sorted(n[: -len(".yaml")] for n in {**options, **ours})
        if f"{kind}.yaml" not in options and f"{kind}.yaml" not in ours:
            pkg = {"joblib": "hydra-joblib-launcher"}.get(
                kind, "hydra-submitit-launcher" if kind.startswith("submitit") else None
            )
            self.add(
                ("launcher", "kind"),
                f"no Hydra launcher plugin '{kind}' is installed (installed: {', '.join(names)})."
                + did_you_mean(kind, names),
                f"Fix: pip install {pkg}." if pkg else None,
            )
            return
        if f"{kind}.yaml" in ours:
            from omegaconf import OmegaConf

            node = OmegaConf.structured(ours[f"{kind}.yaml"])
        else:
            node = options[f"{kind}.yaml"].node
        from zenspec.spec.compile import ZENSPEC_LAUNCHER_KEYS

        fields = [str(k) for k in node if not str(k).startswith("_")]
        fields += ZENSPEC_LAUNCHER_KEYS.get(kind, ())
        for key in self.spec.launcher.params:
            if key not in fields:
                self.add(
                    ("launcher", key),
                    f"'{key}' is not a setting of the {kind} launcher." + did_you_mean(key, fields),
                    "Settings: " + ", ".join(fields) + ".",
                )


#: ``${a.b-c}``: an interpolation OmegaConf's grammar always accepts
_PLAIN_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)*\}")


def _interpolation_error(text: str, memo: Dict[str, Optional[str]]) -> Optional[str]:
    """Why OmegaConf's grammar refuses *text*, or None; memoised per distinct string.

    Text that is only plain ``${a.b}`` interpolations around literal text with no
    ``$`` or ``\\`` is accepted without the grammar (a linear regex instead of
    ANTLR, which costs ~50 us per interpolation); anything else is parsed.
    """
    if text in memo:
        return memo[text]
    rest = _PLAIN_INTERPOLATION.sub("", text)
    error: Optional[str] = None
    if "$" in rest or "\\" in rest:
        try:
            from omegaconf.grammar_parser import parse

            parse(text)
        except Exception as e:
            error = str(e)
    memo[text] = error
    return error


def _strings(value: Any, path: KeyPath) -> Iterable[tuple]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _grid_size(spec: Spec, good: Sequence[str]) -> Optional[int]:
    """The grid's size: counted here for the common forms, else by the launch layer."""
    from zenspec.spec.sweep_text import count_lines, read_lines

    simple = read_lines(good)
    try:
        if simple is not None:
            return count_lines(simple)
        from zenspec.launch.grid import count_grid

        return count_grid(good, None, SpecGroupOptions(spec)) if good else 1
    except Exception:  # a sweep the count cannot read (or no Hydra): the size is unknown
        return None


def check_spec(
    spec: Spec,
    imports: bool = False,
    max_jobs: Optional[int] = None,
    overrides: Optional[Sequence[str]] = None,
    multirun: bool = False,
    compose: bool = True,
) -> Report:
    """Run the semantic checks on *spec*; every problem is collected, none raised.

    Parameters
    ----------
    spec : Spec
        A schema-valid spec.
    imports : bool, default False
        Also import the spec's targets and check arguments against them. Call
        it inside :func:`zenspec.spec.imports.search_path` for the spec.
    max_jobs : int, optional
        A grid with more jobs is a problem (the count is computed, not expanded);
        ``zenspec validate`` uses :data:`DEFAULT_MAX_JOBS`. ``run``/``plan`` leave
        it to the launch core, which has its own ``max_jobs``.
    overrides, multirun
        The command line ``run`` would launch with. With *imports*, and when
        nothing else was found, the jobs are composed with them and checked
        (:mod:`zenspec.spec.preflight`) -- unless *compose* is False.
    """
    c = _Checker(spec, imports)
    c.reserved()
    c.hydra_keys()
    c.paths()
    c.policy()
    c.whitelist()
    if imports:
        c.experiment()
    c.defaults()
    good = c.sweep()
    c.interpolations()
    c.expressible()
    if imports:
        c.nodes(spec.config, ("config",))
        for group, options in spec.groups.items():
            for option, node in options.items():
                c.nodes(node, ("groups", group, option))
        c.nodes(spec.hydra.get("callbacks", {}), ("hydra", "callbacks"))
        c.sweeper()
        c.launcher()
    grid = None
    if spec.sweeper.is_grid and len(good) == len(spec.sweep):
        grid = _grid_size(spec, good)
        if grid is not None and max_jobs is not None and grid > max_jobs:
            c.add(
                ("sweep",),
                f"the sweep expands to {grid:,} jobs, more than max_jobs={max_jobs:,}.",
                'Fix: narrow the sweep, use a sampling sweeper ([sweeper] kind = "random"), '
                "or raise the limit (zenspec run --max-jobs N) if you mean it.",
            )
    problems = sorted(c.problems, key=lambda p: (p.line or 0, p.column or 0, p.path or ""))
    if imports and compose and not problems:
        from zenspec.spec.preflight import compose_problems

        problems = compose_problems(spec, overrides, multirun)
    return Report(problems=problems, grid_size=grid)
