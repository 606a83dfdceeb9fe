"""Stage 3: the typed spec model, built from schema-valid data.

:class:`Spec` is what the rest of zenspec works with: the experiment, the base
config, the groups, the flattened sweep axes (``{"optim.lr": [0.1, 0.2]}``),
the sweeper and launcher settings. It keeps the parsed file so every later
check can still point at a line. Building it imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from zenspec.errors import Problem
from zenspec.spec.parse import KeyPath, ParsedSpec, SourceMap
from zenspec.sweepers.space import is_structured_sweep

__all__ = ["BUILTIN_SWEEPERS", "Experiment", "LauncherSettings", "Spec", "SweeperSettings"]

#: ``[sweeper] kind`` -> the class implementing it (zenspec/sweepers/).
BUILTIN_SWEEPERS = {
    "random": "zenspec.sweepers.random:RandomSearchSweeper",
    "optuna": "zenspec.sweepers.optuna:OptunaSweeper",
}


@dataclass(frozen=True)
class Experiment:
    """``[experiment]``: what each job runs."""

    name: str
    target: Optional[str] = None
    task: Optional[str] = None
    config_class: Optional[str] = None
    description: Optional[str] = None
    search_path: Tuple[Path, ...] = ()
    metric: Optional[str] = None
    seed: Optional[int] = None
    direction: str = "minimize"
    #: the callables the config may name (hydra-core 1.4's execution whitelist), as written
    execution_whitelist: Optional[Tuple[str, ...]] = None


@dataclass(frozen=True)
class SweeperSettings:
    """``[sweeper]``: ``kind`` ("basic", "random", "optuna" or "custom"), its class and kwargs."""

    kind: str = "basic"
    target: Optional[str] = None
    params: Mapping[str, Any] = field(default_factory=dict)
    max_batch_size: Optional[int] = None

    @property
    def is_grid(self) -> bool:
        """True for the basic (grid) sweeper, whose jobs are known before the run."""
        return self.kind == "basic"


@dataclass(frozen=True)
class LauncherSettings:
    """``[launcher]``: a Hydra launcher plugin by name, and its settings."""

    kind: str = "basic"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Spec:
    """A loaded, schema-valid spec.

    Use :func:`zenspec.spec.load_spec` to make one; :meth:`run`, :meth:`plan`
    and :meth:`check` mirror ``zenspec run|plan|validate``.
    """

    experiment: Experiment
    config: Dict[str, Any]
    groups: Dict[str, Dict[str, Dict[str, Any]]]
    defaults: Dict[str, str]
    sweep: Dict[str, Union[List[Any], str, Dict[str, Any]]]
    sweeper: SweeperSettings
    launcher: LauncherSettings
    hydra: Dict[str, Any]
    parsed: ParsedSpec
    sweep_paths: Dict[str, KeyPath] = field(default_factory=dict)

    # -- where things are ------------------------------------------------------
    @property
    def file(self) -> Optional[str]:
        """The spec's file name as given (``None`` for a spec parsed from text)."""
        return self.parsed.file

    @property
    def source(self) -> SourceMap:
        return self.parsed.source

    def problem(self, path: KeyPath, message: str, hint: Optional[str] = None) -> Problem:
        """A :class:`~zenspec.errors.Problem` at *path* of this spec's file."""
        return self.parsed.problem(path, message, hint)

    # -- the API (implemented in the stage modules) -----------------------------
    def check(self, imports: bool = True) -> List[Problem]:
        """Semantic problems (``imports=True`` also imports and checks targets)."""
        from zenspec.spec.semantic import check_spec

        return check_spec(self, imports=imports).problems

    def run(
        self,
        overrides: Optional[Sequence[str]] = None,
        multirun: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run the spec, as ``zenspec run``; see :func:`zenspec.spec.run_spec`.

        ``[experiment] execution_whitelist`` becomes the launch's
        ``execution_whitelist`` (unless *kwargs* gives one)."""
        from zenspec.spec.api import run_spec

        return run_spec(self, overrides=overrides, multirun=multirun, **kwargs)

    def plan(
        self,
        overrides: Optional[Sequence[str]] = None,
        multirun: bool = False,
        job: Optional[int] = None,
    ) -> Any:
        """The jobs the spec would launch, without running any; see :func:`zenspec.spec.plan_spec`."""
        from zenspec.spec.plan import plan_spec

        return plan_spec(self, overrides=overrides, multirun=multirun, job=job)


def _flatten_sweep(
    table: Mapping[str, Any], prefix: str, path: KeyPath, out: Dict, paths: Dict
) -> None:
    for key, value in table.items():
        # a nested table is a dotted key (TOML `optim.lr = [...]`), unless it is a
        # structured axis (`x = { low = -1, high = 1 }`, `opt = { choices = [...] }`)
        if isinstance(value, dict) and not is_structured_sweep(value):
            _flatten_sweep(value, f"{prefix}{key}.", (*path, key), out, paths)
        else:
            out[prefix + key] = value
            paths[prefix + key] = (*path, key)


def build_spec(parsed: ParsedSpec) -> Spec:
    """The :class:`Spec` of schema-valid *parsed* data (nothing is imported)."""
    data = parsed.data
    exp = data["experiment"]
    base = Path(parsed.file).resolve().parent if parsed.file else Path.cwd()
    name = exp.get("name") or (Path(parsed.file).stem if parsed.file else "experiment")
    experiment = Experiment(
        name=name,
        target=exp.get("target"),
        task=exp.get("task"),
        config_class=exp.get("config_class"),
        description=exp.get("description"),
        search_path=tuple(base / p for p in exp.get("search_path", ())),
        metric=exp.get("metric"),
        seed=exp.get("seed"),
        direction=exp.get("direction", "minimize"),
        execution_whitelist=(
            tuple(exp["execution_whitelist"]) if "execution_whitelist" in exp else None
        ),
    )
    sweep: Dict[str, Any] = {}
    sweep_paths: Dict[str, KeyPath] = {}
    _flatten_sweep(data.get("sweep", {}), "", ("sweep",), sweep, sweep_paths)

    raw = dict(data.get("sweeper", {}))
    kind = raw.pop("kind", None)
    target = raw.pop("target", None)
    # every other key is a keyword argument of the sweeper class (max_batch_size too,
    # unless the sweeper is the grid, whose setting it is)
    if target is not None:
        sweeper = SweeperSettings("custom", target, raw)
    elif kind in BUILTIN_SWEEPERS:
        sweeper = SweeperSettings(kind, BUILTIN_SWEEPERS[kind], raw)
    else:
        sweeper = SweeperSettings("basic", None, {}, raw.get("max_batch_size"))

    raw = dict(data.get("launcher", {}))
    launcher = LauncherSettings(raw.pop("kind", "basic"), raw)
    return Spec(
        experiment=experiment,
        config=dict(data.get("config", {})),
        groups={g: dict(opts) for g, opts in data.get("groups", {}).items()},
        defaults=dict(data.get("defaults", {})),
        sweep=sweep,
        sweeper=sweeper,
        launcher=launcher,
        hydra=dict(data.get("hydra", {})),
        parsed=parsed,
        sweep_paths=sweep_paths,
    )
