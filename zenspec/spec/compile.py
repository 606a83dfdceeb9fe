"""Stage 5: a :class:`~zenspec.spec.model.Spec` to what ``hydra_run``/``hydra_multirun`` take.

* the primary config: ``builds(target, **config)`` for a ``target``; the
  ``config`` mapping (or the ``config_class`` dataclass with ``config`` on top)
  for a ``task``; with a defaults list when ``[defaults]`` selects options, and
  a ``null`` placeholder for every group the config does not mention, so
  ``optim=sgd`` selects without ``+``;
* the groups, registered for the duration of the call only;
* the overrides: ``[hydra]``, ``[launcher]``, ``[sweeper]`` and ``[sweep]`` in
  Hydra's grammar, then the command line's on top (a CLI override of a key
  replaces the spec's override of that key).

``{ _ref_ = "m:f" }`` becomes the node ``just(f)`` makes, without importing
``m``; only the experiment's own target/task/config_class are imported here.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from zenspec.errors import BuildsError, SpecError, ZenspecError
from zenspec.spec.imports import ImportFailure, hydra_path, resolve
from zenspec.spec.model import Spec
from zenspec.spec.override_text import value_to_override
from zenspec.sweepers.space import is_structured_sweep, structured_to_sweep

__all__ = ["Compiled", "compile_spec", "convert_value", "merge_overrides", "spec_overrides"]

#: The ConfigStore option a spec's own sweeper is registered as (hydra/sweeper=...).
SWEEPER_OPTION = "zenspec_spec"
# get_target_path(zenspec.funcs.get_obj), spelt out: zenspec.builds imports Hydra, and the
# overrides of a spec are written without it (tests/test_layers.py holds the two equal)
_GET_OBJ = "zenspec.funcs.get_obj"
# Parts of Hydra's config that are open dicts: new keys there need `++`.
_OPEN_HYDRA = ("job.env_set", "job_logging", "hydra_logging", "callbacks")


@dataclass
class Compiled:
    """Everything a launch needs, in the core API's terms."""

    config: Any
    task_function: Callable[[Any], Any]
    groups: Dict[str, Dict[str, Any]]
    overrides: List[str]
    multirun: bool
    job_name: str
    #: ``[experiment] execution_whitelist``, dotted: ``hydra_run``'s ``execution_whitelist``
    execution_whitelist: Optional[List[str]] = None


# keys zenspec adds to a Hydra launcher's config (not in the plugin's dataclass)
ZENSPEC_LAUNCHER_KEYS = {"joblib": ("gpus_per_job",)}


def convert_value(value: Any) -> Any:
    """Spec value -> config value: ``_ref_`` nodes to ``just`` nodes, ``_target_`` dotted."""
    if isinstance(value, dict):
        if set(value) == {"_ref_"}:
            return {"_target_": _GET_OBJ, "path": hydra_path(value["_ref_"])}
        out = {k: convert_value(v) for k, v in value.items()}
        if isinstance(out.get("_target_"), str):
            out["_target_"] = hydra_path(out["_target_"])
        return out
    if isinstance(value, list):
        return [convert_value(v) for v in value]
    return value


#: a key Hydra's override grammar can write in a key path (``a.b``)
_PATH_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _flatten(table: Dict[str, Any], prefix: str) -> List[tuple]:
    """``(dotted key, leaf)`` pairs; a table with a key no key path can spell (the
    ``"()"`` factory key of a logging config) stays whole, set as one dict value."""
    items: List[tuple] = []
    for key, value in table.items():
        if (
            isinstance(value, dict)
            and value
            and "_target_" not in value
            and all(_PATH_KEY.match(str(k)) for k in value)
        ):
            items.extend(_flatten(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _sweep_override(key: str, value: Any) -> str:
    if isinstance(value, str):  # Hydra's sweep grammar, verbatim
        return f"{key}={value}"
    if is_structured_sweep(value):  # { low, high, log, int } / { choices }: the same grammar
        return f"{key}={structured_to_sweep(value)}"
    return f"{key}=" + ",".join(value_to_override(convert_value(v)) for v in value)


def default_dirs(spec: Spec) -> List[str]:
    """``outputs/<name>/<date>/<time>``, ``multirun/<name>/...``: spec runs filed by experiment.

    Hydra's defaults (``outputs/<date>/<time>``) put every experiment of a project
    in one heap; a spec knows its name. A dir the spec's ``[hydra]`` sets, or an
    override on the command line, wins (:func:`merge_overrides`). Written with
    ``${now:...}``, as Hydra's own: a generated name, so two runs started in the
    same second get two dirs (``..._1``), and a form the launch layer parses
    without ANTLR.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.experiment.name).lstrip(".") or "experiment"
    out = []
    for mode, root in (("run", "outputs"), ("sweep", "multirun")):
        node = spec.hydra.get(mode)
        if not (isinstance(node, dict) and "dir" in node):
            out.append(f"hydra.{mode}.dir={root}/{name}/${{now:%Y-%m-%d}}/${{now:%H-%M-%S}}")
    return out


def spec_overrides(spec: Spec) -> List[str]:
    """The spec's overrides in Hydra's grammar (imports nothing)."""
    out: List[str] = []
    for key, value in spec.hydra.items():
        if key in ("job_logging", "hydra_logging") and isinstance(value, str):
            out.append(f"hydra/{key}={value}")  # an option of Hydra's logging groups
            continue
        for path, leaf in _flatten({key: value}, ""):
            force = "++" if path.startswith(_OPEN_HYDRA) else ""
            out.append(f"{force}hydra.{path}={value_to_override(convert_value(leaf))}")
    if spec.launcher.kind != "basic":
        out.append(f"hydra/launcher={spec.launcher.kind}")
        for path, leaf in _flatten(dict(spec.launcher.params), ""):
            # entries of a table (additional_parameters, runtime_env, remote) may be keys
            # the plugin's dict does not have yet: `++` adds or sets; the schema checks them
            force = (
                "++"
                if "." in path or path in ZENSPEC_LAUNCHER_KEYS.get(spec.launcher.kind, ())
                else ""
            )
            out.append(f"{force}hydra.launcher.{path}={value_to_override(convert_value(leaf))}")
    if not spec.sweeper.is_grid:
        out.append(f"hydra/sweeper={SWEEPER_OPTION}")
    elif spec.sweeper.max_batch_size is not None:
        out.append(f"hydra.sweeper.max_batch_size={spec.sweeper.max_batch_size}")
    out.extend(_sweep_override(k, v) for k, v in spec.sweep.items())
    return out


def _override_key(text: str) -> str:
    from zenspec.spec.sweep_text import read_line

    simple = read_line(text)  # a spec's own lines: without Hydra's parser
    if simple is not None:
        return simple.key
    from zenspec.launch.overrides import parse_overrides

    (o,) = parse_overrides([text])
    return o.key_or_group


def merge_overrides(spec_list: Sequence[str], cli: Sequence[str]) -> List[str]:
    """*spec_list* then *cli*; a CLI override of a key replaces the spec's for that key.

    Choosing another launcher or sweeper on the command line
    (``hydra/launcher=ray``) also drops the spec's settings for the one it
    replaces (``hydra.launcher.n_jobs=2`` means nothing to Ray).
    """
    cli = list(cli)
    replaced = {_override_key(o) for o in cli}
    dropped = tuple(
        f"hydra.{plugin}." for plugin in ("launcher", "sweeper") if f"hydra/{plugin}" in replaced
    )

    def kept(o: str) -> bool:
        key = _override_key(o)
        return key not in replaced and not key.lstrip("+~").startswith(dropped or ("\0",))

    return [o for o in spec_list if kept(o)] + cli


def _imported(spec: Spec, field: str) -> Any:
    path = getattr(spec.experiment, field)
    try:
        return resolve(path)
    except ImportFailure as e:
        raise SpecError(
            e.message, **_where(spec, ("experiment", field)), hint=e.hint
        ) from e.__cause__


def _where(spec: Spec, path: tuple) -> Dict[str, Any]:
    p = spec.problem(path, "")
    return {"file": p.file, "path": p.path, "line": p.line, "column": p.column}


def _defaults_list(spec: Spec) -> Optional[List[Any]]:
    if not spec.defaults:
        return None
    return ["_self_", *({g: o} for g, o in spec.defaults.items())]


def _placeholders(spec: Spec, taken: Sequence[str]) -> Dict[str, None]:
    # `optim: null` for each top-level group the config does not mention: the key
    # exists (and is null until an option is selected), and the core's group rule
    # then lets `optim=sgd` select without Hydra's `+`
    return {g: None for g in spec.groups if "/" not in g and g not in taken}


def build_config(spec: Spec) -> Any:
    """The primary config (imports the experiment's target or config_class)."""
    from omegaconf import DictConfig, OmegaConf, open_dict

    from zenspec.builds import builds

    values = convert_value(spec.config)
    exp = spec.experiment
    if exp.target:
        target = _imported(spec, "target")
        if not callable(target):
            raise SpecError(
                f"'{exp.target}' is a {type(target).__name__}, not a callable.",
                **_where(spec, ("experiment", "target")),
            )
        values.update(_placeholders(spec, list(values)))
        try:
            return builds(target, hydra_defaults=_defaults_list(spec), **values)
        except BuildsError as e:
            raise SpecError(e.message, **_where(spec, ("config",)), hint=e.hint) from e
    if exp.config_class:
        cls = _imported(spec, "config_class")
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise SpecError(
                f"config_class '{exp.config_class}' is not a dataclass.",
                **_where(spec, ("experiment", "config_class")),
            )
        extra = _placeholders(spec, [f.name for f in dataclasses.fields(cls)])
        defaults = _defaults_list(spec)
        if not values and not extra and not defaults:
            return cls  # exactly what the documentation passes to hydra_run
        cfg = OmegaConf.structured(cls)
        try:
            cfg = OmegaConf.merge(cfg, values)
        except Exception as e:  # OmegaConf names the field and the type it wanted
            raise SpecError(
                f"the config does not fit {exp.config_class}: {e}".replace("\n", " "),
                **_where(spec, ("config",)),
            ) from e
        assert isinstance(cfg, DictConfig)  # a dataclass's config merged with a dict
        with open_dict(cfg):
            for key, value in extra.items():
                cfg[key] = value
            if defaults:
                cfg["defaults"] = defaults
        return cfg
    values.update(_placeholders(spec, list(values)))
    if spec.defaults:
        values["defaults"] = _defaults_list(spec)
    return values


def _groups(spec: Spec) -> Dict[str, Dict[str, Any]]:
    groups = {
        g: {o: convert_value(node) for o, node in opts.items()} for g, opts in spec.groups.items()
    }
    if not spec.sweeper.is_grid:
        node = {
            "_target_": hydra_path(spec.sweeper.target or ""),
            **_builtin_sweeper_settings(spec),
            **convert_value(dict(spec.sweeper.params)),
        }
        if spec.sweeper.kind == "optuna" and isinstance(node.get("storage"), str):
            from zenspec.sweepers.optuna import storage_url  # a path: relative to the spec

            base = Path(spec.file).resolve().parent if spec.file else None
            node["storage"] = storage_url(node["storage"], base)
        groups["hydra/sweeper"] = {SWEEPER_OPTION: node}
    return groups


def _builtin_sweeper_settings(spec: Spec) -> Dict[str, Any]:
    """random/optuna: every setting (so ``hydra.sweeper.<key>=...`` overrides it), with the
    experiment's metric/direction as defaults."""
    if spec.sweeper.kind not in ("random", "optuna"):
        return {}
    from zenspec.sweepers.optuna import OptunaSweeperConf
    from zenspec.sweepers.random import RandomSearchSweeperConf

    conf = RandomSearchSweeperConf if spec.sweeper.kind == "random" else OptunaSweeperConf
    out = {
        # every setting has a default or a default_factory (never both)
        f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for f in dataclasses.fields(conf)
        if f.name != "_target_"
    }
    out["metric"] = getattr(spec.experiment, "metric", None)
    out["direction"] = getattr(spec.experiment, "direction", None) or "minimize"
    return out


def compile_spec(
    spec: Spec, overrides: Optional[Sequence[str]] = None, multirun: bool = False
) -> Compiled:
    """Compile *spec* for a launch, with CLI-style *overrides* on top.

    Imports the experiment's target/task/config_class, so call it inside
    :func:`zenspec.spec.imports.search_path`.
    """
    from zenspec.instantiate import instantiate

    config = build_config(spec)
    task = instantiate if spec.experiment.target else _imported(spec, "task")
    if not spec.experiment.target and not callable(task):
        raise SpecError(
            f"task '{spec.experiment.task}' is a {type(task).__name__}, not a function.",
            **_where(spec, ("experiment", "task")),
        )
    return Compiled(
        config=config,
        task_function=task,
        groups=_groups(spec),
        overrides=merge_overrides([*default_dirs(spec), *spec_overrides(spec)], overrides or ()),
        multirun=bool(multirun or spec.sweep or not spec.sweeper.is_grid),
        job_name=spec.experiment.name,
        execution_whitelist=spec_execution_whitelist(spec),
    )


def spec_execution_whitelist(spec: Spec) -> Optional[List[str]]:
    """The spec's ``[experiment] execution_whitelist`` in Hydra's dotted form, or None.

    ``_ref_`` values compile to ``zenspec.funcs.get_obj`` nodes, so it is added
    when the spec has a whitelist (the referenced paths are the spec's: ``zenspec
    validate`` holds them to the whitelist)."""
    listed = spec.experiment.execution_whitelist
    if listed is None:
        return None
    return list(dict.fromkeys([*(hydra_path(p) for p in listed), _GET_OBJ]))


def spec_session(compiled: Compiled, *, fast: bool) -> Any:
    """The isolated Hydra session a launch of *compiled* composes in, as a context manager.

    ``plan`` and the pre-run checks compose in it exactly as ``run`` would; all of
    Hydra's global state is restored when it ends. *fast*: zenspec's composition cache.
    """
    from hydra.types import RunMode

    from zenspec.launch.context import launch_session

    return launch_session(
        config=compiled.config,
        task_function=compiled.task_function,
        overrides=compiled.overrides,
        groups=compiled.groups,
        config_name="zenspec_config",
        job_name=compiled.job_name,
        version_base="1.3",
        with_log_configuration=False,
        fast=fast,
        mode=RunMode.MULTIRUN if compiled.multirun else RunMode.RUN,
    )


def job_config(session: Any, cfg: Any, overrides: Sequence[str], num: int = 0) -> Any:
    """Job *num*'s config as the launcher composes it, with ``HydraConfig`` set for it.

    A config that does not compose is an :class:`~zenspec.errors.OverrideError`
    naming the override, as a launch reports it. The session restores
    ``HydraConfig`` when it ends.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from zenspec._compatibility import job_id
    from zenspec.launch.context import explain_composition_error

    try:
        job_cfg = session.hydra.config_loader.load_sweep_config(cfg, list(overrides))
    except ZenspecError:
        raise
    except Exception as e:
        if type(e).__module__.startswith(("hydra", "omegaconf")):
            raise explain_composition_error(e, list(overrides), session._siblings) from e
        raise
    with open_dict(job_cfg):
        job_cfg.hydra.job.id = job_id(num)  # a str on omegaconf 2.4
        job_cfg.hydra.job.num = num
    HydraConfig.instance().set_config(job_cfg)
    return job_cfg
