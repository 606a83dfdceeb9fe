"""``hydra_run`` and ``hydra_multirun``: Hydra jobs launched purely from Python."""

from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional, Tuple

from hydra._internal.callbacks import Callbacks
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobStatus, run_job
from hydra.errors import ConfigCompositionException, HydraException
from hydra.types import HydraContext, RunMode
from hydra.version import setbase
from omegaconf import DictConfig, OmegaConf

from zenspec.errors import LaunchError, OverrideError
from zenspec.launch.isolation import hydra_isolation, scoped_store
from zenspec.launch.overrides import (
    OverridesLike,
    parse_overrides,
    reject_sweeps,
    to_override_list,
)
from zenspec.launch.plugins import JobResult, instantiate_sweeper, wrap_job_returns
from zenspec.launch.primary import add_group_defaults, make_primary, referenced_groups

__all__ = ["hydra_multirun", "hydra_run"]

Groups = Optional[Mapping[str, Mapping[str, Any]]]
TaskFunction = Callable[[Any], Any]

_BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def _make_loader(search_path: Any, fast: bool) -> ConfigLoaderImpl:
    if fast:
        try:
            from zenspec.launch.fast_loader import FastConfigLoader
        except ImportError:  # the fast path is optional: stock composition is always right
            pass
        else:
            return FastConfigLoader(config_search_path=search_path)
    return ConfigLoaderImpl(config_search_path=search_path)


def _job_name(task_function: TaskFunction, job_name: Optional[str]) -> str:
    if job_name:
        return job_name
    name = getattr(task_function, "__name__", None) or type(task_function).__name__
    return "task" if name == "<lambda>" else name


def _prepare(
    config: Any, overrides: OverridesLike, groups: Groups, config_name: str, mode: RunMode
) -> Tuple[List[str], list, List[Tuple[Optional[str], str, Any]]]:
    override_list = to_override_list(overrides)
    parsed = parse_overrides(override_list)
    if not any(o.key_or_group == "hydra.mode" for o in parsed):
        # as hydra.main does, so jobs see hydra.mode (it lands in hydra.overrides.hydra)
        override_list.append(f"hydra.mode={mode.name}")
    primary = make_primary(config)
    entries: List[Tuple[Optional[str], str, Any]] = []
    for group, options in (groups or {}).items():
        if not isinstance(options, Mapping):
            raise LaunchError(
                f"groups[{group!r}] must map option names to configs, got {type(options).__name__}."
            )
        for option, node in options.items():
            entries.append((group, option, node))
    return override_list, parsed, [*entries, (None, config_name, primary)]


def _with_group_defaults(entries: list, parsed: list) -> None:
    """Apply the group-default rule once the groups are registered."""
    _, _, primary = entries[-1]
    add_group_defaults(primary, referenced_groups(primary, parsed))


def _explain_composition_error(e: Exception, overrides: List[str]) -> LaunchError:
    """One paragraph naming the override Hydra refused, and the fix."""
    text = " ".join(str(e).split())
    user = [o for o in overrides if not o.startswith("hydra.mode=")]
    named = re.search(r"'([^']+)'", text)
    culprit = next(
        (o for o in user if named and o.lstrip("+~").split("=")[0] == named.group(1)), None
    )
    hint = None
    if "No match in the defaults list" in text:
        hint = (
            "Fix: no config group of that name is registered; register it (groups=...) "
            "or use +key=value to add a new key."
        )
    elif "is not in struct" in text or "Could not override" in text:
        hint = "Fix: check the key's spelling; use +key=value to add a key the config lacks."
    what = f"override {culprit!r}" if culprit else f"the overrides {user}"
    err = OverrideError if isinstance(e, ConfigCompositionException) else LaunchError
    return err(
        f"{what} could not be applied to the config: {text}",
        path=named and named.group(1),
        hint=hint,
    )


def _start(job_name: str, version_base: Optional[str], fast: bool) -> Hydra:
    setbase(version_base)
    loader = _make_loader(create_config_search_path(None), fast)
    hydra = Hydra(task_name=job_name, config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    return hydra


def _compose(
    hydra: Hydra,
    config_name: str,
    overrides: List[str],
    run_mode: RunMode,
    with_log_configuration: bool,
) -> DictConfig:
    try:
        return hydra.compose_config(
            config_name=config_name,
            overrides=overrides,
            run_mode=run_mode,
            with_log_configuration=with_log_configuration,
        )
    except (ConfigCompositionException, HydraException) as e:
        raise _explain_composition_error(e, overrides) from e


def hydra_run(
    config: Any,
    task_function: TaskFunction,
    overrides: OverridesLike = None,
    *,
    config_name: str = "zenspec_config",
    job_name: Optional[str] = None,
    version_base: Optional[str] = "1.3",
    with_log_configuration: bool = True,
    groups: Groups = None,
    fast: bool = True,
) -> JobResult:
    """Run one Hydra job of *task_function* on *config*, from Python.

    Parameters
    ----------
    config : dataclass type or instance, DictConfig or Mapping
        The primary config; mapping values may be ``builds(...)`` configs.
        It is copied, never modified.
    task_function : Callable[[DictConfig], Any]
        Called with the composed config (``instantiate`` is a common choice).
    overrides : list of str or Mapping, optional
        Hydra CLI overrides (``["bar=mom"]``) or a ``{key: value}`` mapping
        whose values are escaped exactly. The caller's object is not modified.
    config_name : str, default "zenspec_config"
        Name the config is stored under in Hydra's ConfigStore for the call.
    job_name : str, optional
        ``hydra.job.name`` (log file name); defaults to the task's ``__name__``.
    version_base : str or None, default "1.3"
        Hydra's version base; "1.3" means jobs do not ``chdir``.
    with_log_configuration : bool, default True
        Configure Hydra's logging (console + the job's log file) for the job.
    groups : Mapping[str, Mapping[str, Any]], optional
        ``{group: {option: config}}`` registered in the ConfigStore only for
        this call (``{"optim": {"sgd": SGDConf}}``).
    fast : bool, default True
        Use zenspec's caching config loader where available.

    Returns
    -------
    JobResult
        Hydra's ``JobReturn`` (``return_value``, ``cfg``, ``hydra_cfg``,
        ``overrides``, ``working_dir``, ``task_name``) plus ``output_dir``.

    Raises
    ------
    OverrideError
        A malformed override, a sweep (use :func:`hydra_multirun`) or an
        override that does not apply to the config.
    Exception
        Whatever the task raised (Hydra's contract for a single run).

    Examples
    --------
    >>> from zenspec import builds, instantiate, hydra_run
    >>> job = hydra_run(builds(dict, a=1, b=1), instantiate, with_log_configuration=False)
    >>> job.return_value
    {'a': 1, 'b': 1}
    """
    name = _job_name(task_function, job_name)
    override_list, parsed, entries = _prepare(config, overrides, groups, config_name, RunMode.RUN)
    reject_sweeps(parsed)
    with hydra_isolation(), scoped_store(entries[:-1]):
        _with_group_defaults(entries, parsed)
        with scoped_store(entries[-1:]):
            hydra = _start(name, version_base, fast)
            cfg = _compose(hydra, config_name, override_list, RunMode.RUN, with_log_configuration)
            callbacks = Callbacks(cfg)
            callbacks.on_run_start(config=cfg, config_name=config_name)
            ret = run_job(
                hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
                task_function=task_function,
                config=cfg,
                job_dir_key="hydra.run.dir",
                job_subdir_key=None,
                configure_logging=with_log_configuration,
            )
            callbacks.on_run_end(config=cfg, config_name=config_name, job_return=ret)
    result = JobResult.from_job_return(ret)
    if ret.status is JobStatus.FAILED:
        _ = result.return_value  # Hydra's contract: a failed single run raises its error
    return result


def hydra_multirun(
    config: Any,
    task_function: TaskFunction,
    overrides: OverridesLike = None,
    *,
    config_name: str = "zenspec_config",
    job_name: Optional[str] = None,
    version_base: Optional[str] = "1.3",
    with_log_configuration: bool = True,
    groups: Groups = None,
    fast: bool = True,
) -> Any:
    """Run a Hydra multirun (a sweep) of *task_function* on *config*, from Python.

    Parameters are those of :func:`hydra_run`. Sweep overrides use Hydra's
    grammar (``"a=1,2"``, ``"x=range(-2,3)"``, ``"optim=sgd,adam"``) or
    :func:`~zenspec.multirun` values in a mapping. The sweeper is Hydra's basic
    one unless ``hydra/sweeper=...`` selects another: any
    ``hydra.plugins.sweeper.Sweeper`` subclass works, including your own class
    in your own module (stock Hydra only accepts ``hydra_plugins``).

    Returns
    -------
    Any
        What the sweeper's ``sweep()`` returns. For the basic sweeper, a list
        of batches of :class:`JobResult` (``jobs[0]`` is the first batch).

    Examples
    --------
    >>> from zenspec import builds, instantiate, hydra_multirun
    >>> jobs = hydra_multirun(builds(dict, a=1, b=1), instantiate, ["a=1,2"],
    ...                       with_log_configuration=False)
    >>> [j.return_value for j in jobs[0]]
    [{'a': 1, 'b': 1}, {'a': 2, 'b': 1}]
    """
    name = _job_name(task_function, job_name)
    override_list, parsed, entries = _prepare(
        config, overrides, groups, config_name, RunMode.MULTIRUN
    )
    with hydra_isolation(), scoped_store(entries[:-1]):
        _with_group_defaults(entries, parsed)
        with scoped_store(entries[-1:]):
            hydra = _start(name, version_base, fast)
            cfg = _compose(
                hydra, config_name, override_list, RunMode.MULTIRUN, with_log_configuration
            )
            _check_sweeper_supports(cfg, parsed)
            callbacks = Callbacks(cfg)
            callbacks.on_multirun_start(config=cfg, config_name=config_name)
            sweeper = instantiate_sweeper(
                config=cfg,
                hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
                task_function=task_function,
            )
            task_overrides = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
            assert isinstance(task_overrides, list)
            try:
                ret = sweeper.sweep(arguments=task_overrides)
            except ConfigCompositionException as e:
                raise _explain_composition_error(e, override_list) from e
            callbacks.on_multirun_end(config=cfg, config_name=config_name)
    return wrap_job_returns(ret)


def _check_sweeper_supports(cfg: DictConfig, parsed: list) -> None:
    target = OmegaConf.select(cfg, "hydra.sweeper._target_")
    if target != _BASIC_SWEEPER:
        return
    for o in parsed:
        if o.is_interval_sweep():
            raise LaunchError(
                f"override {o.input_line!r} is an interval sweep: a continuous range that the "
                "basic (grid) sweeper cannot enumerate.",
                hint="Fix: select a sampling sweeper, e.g. hydra/sweeper=<your Sweeper> or "
                "zenspec's random/Optuna sweepers, or give a grid: range(...) or a,b,c.",
            )
