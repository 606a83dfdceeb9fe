"""Hydra's show-and-exit options on ``zenspec run``: ``--cfg``, ``--resolve``, ``--package``, ``--info``.

``hydra.main`` users type ``python app.py --cfg job`` to see a config without
running it; ``zenspec run SPEC --cfg job`` does the same from zenspec's own
plan (:func:`zenspec.spec.plan.plan_spec`): the composed config of the run, or
of job #0 of a sweep, printed, nothing run. ``--info`` prints zenspec's
equivalent of each of Hydra's info views.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import IO, Any, Iterator, List, Optional, Tuple

from zenspec.errors import EXIT_OK, SpecError

__all__ = ["check_show_options", "show_cfg", "show_info"]


def check_show_options(args: argparse.Namespace) -> None:
    """Refuse show-option values and combinations Hydra's --cfg/--info would not take."""
    from zenspec.cli.parser import CFG_CHOICES, INFO_CHOICES
    from zenspec.errors import did_you_mean

    for flag, value, choices in (("--cfg", args.cfg, CFG_CHOICES), ("--info", args.info, INFO_CHOICES)):  # fmt: skip
        if value is not None and value not in choices:
            raise SpecError(
                f"{flag} {value!r} is not one of {', '.join(choices)}.{did_you_mean(value, choices)}",
                hint=f"Fix: zenspec run {args.spec} {flag} {choices[0]}.",
            )
    if args.cfg is not None and args.info is not None:
        raise SpecError(
            "--cfg and --info each print something instead of running; give one of them.",
            hint=f"Fix: zenspec run {args.spec} --cfg {args.cfg}, or zenspec run {args.spec} "
            f"--info {args.info}.",
        )
    for flag, given in (("--resolve", args.resolve), ("--package", args.package is not None)):
        if given and args.cfg is None:
            raise SpecError(
                f"{flag} changes what --cfg prints, and --cfg is not given.",
                hint=f"Fix: zenspec run {args.spec} --cfg job {flag}"
                + (f" {args.package}" if flag == "--package" else "")
                + ".",
            )
    needs_config = args.cfg is not None or args.info in (
        "all",
        "config",
        "defaults",
        "defaults-tree",
    )
    if needs_config and not args.imports:
        shown = f"--cfg {args.cfg}" if args.cfg is not None else f"--info {args.info}"
        raise SpecError(
            f"{shown} composes the config, which imports the spec's targets; --no-imports "
            "forbids that.",
            hint=f"Fix: drop --no-imports, or list the jobs' overrides without importing: "
            f"zenspec plan {args.spec} --no-imports.",
        )


def _job0_plan(args: argparse.Namespace, spec: Any) -> Tuple[Any, Optional[str]]:
    """The plan with job #0's config, and a note saying which config that is (sweeps)."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        return _job0_plan_of(args, spec)
    except OmegaConfBaseException as e:  # planning iterates values an override interpolates
        raise SpecError(
            f"the config of the run does not compose: {type(e).__name__}: "
            + " ".join(str(e).split()),
            hint="Fix: correct the interpolation in the spec or the overrides "
            f"(zenspec validate --imports {args.spec} names the spec's keys).",
        ) from e


def _job0_plan_of(args: argparse.Namespace, spec: Any) -> Tuple[Any, Optional[str]]:
    import dataclasses

    from zenspec.spec.model import SweeperSettings
    from zenspec.spec.plan import plan_spec

    with _hydra_output_hushed():
        if spec.sweeper.is_grid:
            plan = plan_spec(
                spec, args.overrides, multirun=args.multirun, job=0, max_jobs=args.max_jobs
            )
            if plan.mode != "multirun":
                return plan, None
            assert plan.jobs is not None  # a grid plans its jobs ahead
            shown = " ".join(plan.jobs[0].overrides) or "no overrides"
            return plan, (
                f"job #0 of the sweep's {len(plan.jobs)} ({shown}); "
                f"zenspec plan {args.spec} --job N shows job N"
            )
        # random, optuna, custom: the sweeper picks the values as it runs; as Hydra's
        # --cfg does for a configured sweeper, show the config before it sets them
        base = dataclasses.replace(spec, sweep={}, sweeper=SweeperSettings())
        plan = plan_spec(base, args.overrides, multirun=False, job=0)
    swept = ", ".join(spec.sweep) or "its parameters"
    return plan, (
        f"the {spec.sweeper.kind} sweeper chooses each job's values as it runs: this is "
        f"the config before it sets {swept}, with the hydra node of a single run; "
        f"zenspec plan {args.spec} shows the sweep's arguments"
    )


@contextlib.contextmanager
def _hydra_output_hushed() -> Iterator[None]:
    """Composition prints nothing of its own on stdout (it may be piped to a YAML reader)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _shown_config(cfg: Any, kind: str) -> Any:
    """A plain copy of *cfg*: job (no hydra node), hydra (only it) or all, as Hydra shows."""
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(data, dict)
    if kind == "job":
        data.pop("hydra", None)
    elif kind == "hydra":
        data = {"hydra": data.get("hydra", {})}
        for key in ("help", "hydra_help"):  # as Hydra's get_sanitized_hydra_cfg
            data["hydra"].pop(key, None)
    return OmegaConf.create(data)


def _resolve_as_hydra_shows(cfg: Any) -> None:
    """``OmegaConf.resolve``, where an interpolation to a ``???`` value shows as ``???``.

    omegaconf 2.3 resolves those to ``???``; 2.4 raises, and Hydra 1.4's ``--resolve``
    then resolves node by node, leaving them ``???`` (a sweep's job 0 has no
    ``hydra.runtime.output_dir`` before it runs). Public OmegaConf API only.
    """
    from omegaconf import OmegaConf, open_dict, read_write
    from omegaconf.errors import InterpolationToMissingValueError

    try:
        OmegaConf.resolve(cfg)
    except InterpolationToMissingValueError:
        with read_write(cfg), open_dict(cfg):
            _resolve_leaves(cfg)


def _resolve_leaves(cfg: Any) -> None:
    from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError

    keys: List[Any] = list(cfg.keys()) if isinstance(cfg, DictConfig) else list(range(len(cfg)))
    for key in keys:
        if OmegaConf.is_missing(cfg, key):
            continue
        if not OmegaConf.is_interpolation(cfg, key):
            value = cfg[key]
            if isinstance(value, (DictConfig, ListConfig)):
                _resolve_leaves(value)
            continue
        try:
            cfg[key] = cfg[key]
        except InterpolationToMissingValueError:
            cfg[key] = MISSING


def show_cfg(args: argparse.Namespace, spec: Any, out: IO[str], err: IO[str]) -> int:
    """``--cfg job|hydra|all``: print the composed config of the run (a sweep's job #0)."""
    from omegaconf import Container, OmegaConf

    plan, note = _job0_plan(args, spec)
    shown = _shown_config(plan.config, args.cfg)
    package = None if args.package in (None, "_global_") else args.package
    if args.resolve:
        from hydra.core.hydra_config import HydraConfig

        from zenspec.launch.isolation import hydra_isolation

        try:
            with hydra_isolation():  # ${hydra:...} resolves against this job's hydra node
                # what HydraConfig.set_config does, for a config that lost its types
                HydraConfig.instance().cfg = _shown_config(plan.config, "all")
                _resolve_as_hydra_shows(shown)
        except Exception as e:
            raise SpecError(
                f"--resolve: an interpolation of the config does not resolve: "
                f"{type(e).__name__}: {e}",
                hint=f"Fix: correct it in {args.spec} or the overrides; --cfg {args.cfg} "
                "without --resolve shows the config as written.",
            ) from e
    if package is None:
        out.write((f"# {note}\n" if note else "") + OmegaConf.to_yaml(shown))
        return EXIT_OK
    node = OmegaConf.select(shown, package, default=None)
    if node is None:
        from zenspec.errors import did_you_mean

        top = [str(k) for k in shown]
        raise SpecError(
            f"--package {package}: there is no such node in the {args.cfg} config."
            + did_you_mean(package.split(".")[0], top),
            hint=f"Fix: one of its top-level keys: {', '.join(top) or '(none)'}.",
        )
    if isinstance(node, Container):
        out.write((f"# {note}\n" if note else "") + f"# @package {package}\n")
        out.write(OmegaConf.to_yaml(node))
    else:  # a bare value, as Hydra prints it; which job it is from goes to stderr
        if note:
            err.write(f"note: {note}\n")
        out.write(f"{node}\n")
    return EXIT_OK


def show_info(args: argparse.Namespace, spec: Any, out: IO[str]) -> int:
    """``--info [all|config|defaults|defaults-tree|plugins|searchpath]``, in zenspec's terms."""
    kind = args.info
    if kind in ("all", "plugins"):
        out.write(_plugins_text())
    if kind in ("all", "config", "searchpath"):
        out.write(_search_path_text(spec))
    if kind in ("all", "config", "defaults", "defaults-tree"):
        plan, note = _job0_plan(args, spec)
        out.write(_choices_text(plan.config, note))
        if kind in ("all", "config"):
            if not spec.sweeper.is_grid:  # the sweep itself, then the config before it
                from zenspec.spec.plan import plan_spec

                with _hydra_output_hushed():
                    sweep = plan_spec(spec, args.overrides, multirun=args.multirun)
                out.write("\nPlan:\n" + sweep.format())
                out.write(f"\nConfig ({note}):\n{plan.config_yaml()}")
            else:
                out.write(f"\nPlan (zenspec plan {args.spec} --job 0):\n" + plan.format())
    return EXIT_OK


def _choices_text(cfg: Any, note: Optional[str]) -> str:
    """The option chosen for each config group: Hydra's defaults list, in short."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg.hydra.runtime.choices, resolve=False) or {}
    assert isinstance(container, dict)  # the choices are a DictConfig
    choices = {str(k): v for k, v in container.items()}
    user = {k: v for k, v in choices.items() if not k.startswith("hydra/")}
    hydra = {k: v for k, v in choices.items() if k.startswith("hydra/")}
    lines = ["\nDefaults (the option chosen for each config group" + (f"; {note}" if note else "") + "):"]  # fmt: skip
    lines += [f"  {k}: {v}" for k, v in user.items()] or ["  (the spec has no config groups)"]
    lines += [f"  {k}: {v}" for k, v in hydra.items()]
    return "\n".join(lines) + "\n"


def _search_path_text(spec: Any) -> str:
    """Where the spec's imports come from; configs come from the spec itself."""
    import os

    from zenspec._compatibility import create_config_search_path

    dirs = [str(d) for d in spec.experiment.search_path] + [
        f"{os.getcwd()} (the current directory)"
    ]
    lines = ["\nPython import path added for the spec's targets (experiment.search_path, then the current directory):"]  # fmt: skip
    lines += [f"  {d}" for d in dirs]
    lines.append("Hydra config search path (the spec's configs are not files on it: they are")
    lines.append("registered in Hydra's ConfigStore from its [config] and [groups] tables):")
    for entry in create_config_search_path(None).get_path():
        lines.append(f"  {entry.provider}: {entry.path}")
    return "\n".join(lines) + "\n"


def _plugins_text() -> str:
    """Hydra's installed plugins, and the sweepers and launchers a spec names by kind."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.completion_plugin import CompletionPlugin
    from hydra.plugins.config_source import ConfigSource
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.search_path_plugin import SearchPathPlugin
    from hydra.plugins.sweeper import Sweeper

    from zenspec.launchers import ZENSPEC_LAUNCHERS
    from zenspec.spec.model import BUILTIN_SWEEPERS

    lines = ["Installed Hydra plugins:"]
    for kind in (ConfigSource, CompletionPlugin, Launcher, Sweeper, SearchPathPlugin):
        lines.append(f"  {kind.__name__}:")
        found = sorted(f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(kind))
        lines += [f"    {name}" for name in found] or ["    (none)"]
    lines.append("zenspec adds:")
    lines += [f"  [sweeper] kind = {k!r}: {v}" for k, v in BUILTIN_SWEEPERS.items()]
    lines += [f"  [launcher] kind = {k!r}: {v}" for k, v in ZENSPEC_LAUNCHERS.items()]
    return "\n".join(lines) + "\n"
