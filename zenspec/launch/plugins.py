"""Sweepers from anywhere, and the job results zenspec returns.

Stock Hydra instantiates a sweeper only if its class lives under
``hydra_plugins`` (or Hydra's own core plugins). zenspec accepts any
``hydra.plugins.sweeper.Sweeper`` subclass named by ``hydra.sweeper._target_``:
a user's class in their own module, or zenspec's sweepers. Registered plugin
classes still go through Hydra's plugin registry, unchanged. The same holds for
launchers (:func:`instantiate_launcher`): zenspec's Ray launcher lives in
``zenspec.launchers``, and so may a user's.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from zenspec._compatibility import BASIC_LAUNCHER
from zenspec.errors import LaunchError
from zenspec.launch.job_return import SnapshotJobReturn, transfer

__all__ = ["JobResult", "instantiate_launcher", "instantiate_sweeper", "wrap_job_returns"]


@dataclasses.dataclass
class JobResult(SnapshotJobReturn):
    """Hydra's ``JobReturn``, plus the job's real output directory.

    With Hydra 1.3's default ``hydra.job.chdir=False``, ``working_dir`` is the
    directory the job ran *from*; ``output_dir`` is where its files went.
    """

    @property
    def output_dir(self) -> Path:
        """``hydra.runtime.output_dir`` of the job, as a Path."""
        assert self.hydra_cfg is not None
        return Path(self.hydra_cfg.hydra.runtime.output_dir)

    @classmethod
    def from_job_return(cls, ret: JobReturn) -> JobResult:
        if isinstance(ret, cls):
            return ret
        result = cls()
        transfer(ret, result)
        return result


def wrap_job_returns(value: Any) -> Any:
    """Upgrade JobReturns in a basic sweeper's ``[[JobReturn, ...], ...]`` to JobResults."""
    if isinstance(value, JobReturn):
        return JobResult.from_job_return(value)
    is_batches = isinstance(value, list) and value and all(isinstance(b, list) for b in value)
    if is_batches and all(isinstance(j, JobReturn) for batch in value for j in batch):
        return [[JobResult.from_job_return(j) for j in batch] for batch in value]
    return value


def _class_path(clazz: type) -> str:
    return f"{clazz.__module__}.{clazz.__qualname__}"


def _located_plugin_class(classname: str, base: type) -> Any:
    """The class *classname* names, if it is a *base* subclass (imported, not called)."""
    from hydra.utils import get_class

    from zenspec.spec.policy import policy_refusal

    if not isinstance(classname, str) or policy_refusal(classname):
        return None  # Hydra's instantiate refuses it, with its own words
    try:
        clazz = get_class(classname)
    except Exception:
        return None
    return clazz if isinstance(clazz, type) and issubclass(clazz, base) else None


def _by_target(node: DictConfig, classname: str, kind: str, base: type, verb: str) -> Any:
    """A sweeper/launcher class outside Hydra's plugin registry, from its ``_target_``.

    A *base* subclass is instantiated through the trusted plugin path (on hydra-core
    1.4: the class itself allowed, as Hydra allows a registered plugin; nested
    targets in its config still need the caller's whitelist); anything else through
    Hydra's full policy, which then says why it cannot be one."""
    from hydra.utils import instantiate as hydra_instantiate

    from zenspec.instantiate import instantiate_plugin

    clazz = _located_plugin_class(classname, base)
    try:
        if clazz is not None:
            plugin = instantiate_plugin(node, clazz, _class_path(clazz))
        else:
            plugin = hydra_instantiate(node)
    except Exception as e:
        raise LaunchError(
            f"could not instantiate the {kind} '{classname}': {e}",
            path=f"hydra.{kind}",
            hint=f"Fix: check hydra.{kind}._target_ names an importable {base.__name__} "
            "subclass and its parameters match its __init__.",
        ) from e
    if not isinstance(plugin, base):
        raise LaunchError(
            f"'{classname}' is a {type(plugin).__name__}, not a "
            f"{base.__module__}.{base.__name__} subclass, so it cannot {verb}.",
            path=f"hydra.{kind}._target_",
        )
    return plugin


def instantiate_sweeper(
    *, config: DictConfig, hydra_context: HydraContext, task_function: TaskFunction
) -> Sweeper:
    """The sweeper of ``config.hydra.sweeper``, set up and ready to ``sweep``."""
    from zenspec._compatibility import get_cls_name as _get_cls_name

    plugins = Plugins.instance()
    sweeper_cfg = config.hydra.sweeper
    if sweeper_cfg is None:
        raise LaunchError("hydra.sweeper is not configured (it is null).")
    classname = _get_cls_name(sweeper_cfg, pop=False)
    if classname in plugins.class_name_to_class:
        return plugins.instantiate_sweeper(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
    sweeper = _by_target(sweeper_cfg, classname, "sweeper", Sweeper, "sweep")
    sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    return sweeper


_JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
_SUBMITIT_LAUNCHERS = tuple(
    f"hydra_plugins.hydra_submitit_launcher.submitit_launcher.{name}"
    for name in ("SlurmLauncher", "LocalLauncher")
)
# loky hands its workers this process's sys.path: what imports here imports there
_SHARED_SYS_PATH = ("hydra_plugins.hydra_joblib_launcher.",)


def instantiate_launcher(
    *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
) -> Launcher:
    """The launcher of ``config.hydra.launcher``, set up and ready to ``launch``.

    Registered Hydra plugins come from Hydra's registry; any other
    ``hydra.plugins.launcher.Launcher`` subclass (zenspec's Ray launcher, a
    user's) is instantiated from its ``_target_``. For a launcher that runs jobs
    in other processes, the payload is checked to pickle, and modules the
    workers cannot import are pickled by value for the rest of the launch
    (:mod:`zenspec.launchers.pickling`).
    """
    from zenspec._compatibility import get_cls_name as _get_cls_name
    from zenspec.instantiate import instantiate_plugin

    plugins = Plugins.instance()
    launcher_cfg = config.hydra.launcher
    if launcher_cfg is None:
        raise LaunchError("hydra.launcher is not configured (it is null).")
    classname = _get_cls_name(launcher_cfg, pop=False)
    if classname == _JOBLIB_LAUNCHER:  # the same launcher, less serial work per job
        from zenspec.launchers.joblib import FastJoblibLauncher

        launcher = instantiate_plugin(
            launcher_cfg, FastJoblibLauncher, _class_path(FastJoblibLauncher)
        )
        launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    elif classname in _SUBMITIT_LAUNCHERS:  # the same launcher, that loses no job
        from zenspec.launchers.submitit import SUBMITIT_LAUNCHERS

        clazz = SUBMITIT_LAUNCHERS[classname]
        launcher = instantiate_plugin(launcher_cfg, clazz, _class_path(clazz))
        launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    elif classname in plugins.class_name_to_class:
        launcher = plugins.instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
    else:
        launcher = _by_target(launcher_cfg, classname, "launcher", Launcher, "launch jobs")
        launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    if classname != BASIC_LAUNCHER:
        check = functools.partial(
            _prepare_payload, launcher, classname, hydra_context, task_function, config
        )
        if getattr(launcher, "checks_payload_itself", False):
            launcher.check_payload = check
        else:
            check()
    return launcher


def _prepare_payload(
    launcher: Launcher,
    classname: str,
    hydra_context: HydraContext,
    task_function: TaskFunction,
    config: DictConfig,
) -> None:
    import contextlib

    from zenspec.launchers import current_scope, singleton_state
    from zenspec.launchers.pickling import prepare_for_workers

    shared = getattr(launcher, "workers_share_sys_path", None)
    if shared is None:
        shared = classname.startswith(_SHARED_SYS_PATH)
    scope = current_scope()
    prepare_for_workers(
        [
            ("the task function", task_function),
            ("the config", config),
            ("the config loader", hydra_context.config_loader),
            ("the callbacks", hydra_context.callbacks),
            ("Hydra's global state (ConfigStore)", singleton_state()),
        ],
        # outside a zenspec launch, registrations last for the process
        stack=scope if scope is not None else contextlib.ExitStack(),
        check_imports=not shared,
        extra_picklers=tuple(getattr(launcher, "cloudpickle_modules", ())),
        launcher=f"the {classname.rsplit('.', 1)[-1]}",
    )
