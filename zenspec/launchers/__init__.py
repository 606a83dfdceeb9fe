"""Launchers zenspec adds to Hydra's, and what every parallel launch needs.

* ``hydra/launcher=ray``: :class:`zenspec.launchers.ray.RayLauncher`, on Ray's
  public API (hydra-ray-launcher pins ``cloudpickle<3``, current Ray needs 3).
  Its config is in Hydra's ConfigStore only while a zenspec launch runs
  (:func:`launcher_scope`), like every other entry zenspec registers.
* :mod:`zenspec.launchers.pickling`: tasks from test modules and scripts reach
  worker processes; unpicklable payloads are clear errors.

The launchers from Hydra's plugins (joblib, submitit) are used as they are.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

__all__ = [
    "ZENSPEC_LAUNCHERS",
    "begin_launch",
    "current_scope",
    "launcher_configs",
    "launcher_scope",
    "lost_job_return",
    "singleton_state",
]

#: ``hydra/launcher=<kind>`` options zenspec provides: kind -> config dataclass path.
ZENSPEC_LAUNCHERS: Dict[str, str] = {"ray": "zenspec.launchers.ray:RayLauncherConf"}

_SCOPES: List[contextlib.ExitStack] = []


def begin_launch(launcher: Any) -> Path:
    """What a launcher does before its first job, as Hydra's own do; the sweep dir.

    Hydra's globals (resolvers), Hydra's logging, and the sweep directory made.
    """
    from hydra.core.utils import configure_log, setup_globals

    setup_globals()
    assert launcher.config is not None
    assert launcher.task_function is not None
    assert launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    return sweep_dir


def lost_job_return(
    sweep_dir: Any,
    num: int,
    overrides: Any,
    cause: str,
    *,
    status: str = "failed",
    engine: Optional[Dict[str, Any]] = None,
    task_name: Optional[str] = None,
    detail: str = "",
) -> Any:
    """A FAILED ``JobReturn`` for job *num*, which died without a Python exception.

    Its record is written too (:func:`zenspec.records.lost.record_lost_job`),
    unless the job wrote its own. The return value is a
    :class:`~zenspec.errors.JobDiedError` carrying *cause*, so sweepers see a
    failed job like any other and the sweep goes on.
    """
    import os

    from hydra.core.utils import JobReturn, JobStatus

    from zenspec.errors import JobDiedError
    from zenspec.records.lost import record_lost_job

    overrides = [str(o) for o in overrides]
    record_lost_job(sweep_dir, num, overrides, cause, status=status, engine=engine, detail=detail)
    ret = JobReturn()
    ret.overrides = overrides
    ret.working_dir = os.getcwd()
    ret.task_name = task_name
    ret.status = JobStatus.FAILED
    ret.return_value = JobDiedError(cause)
    return ret


def singleton_state() -> Dict[str, Any]:
    """What ``Singleton.get_state()`` returns, for a launcher that pickles it at once.

    Stock deep-copies every singleton (the Plugins one too, before dropping it)
    and the resolvers, then the launcher pickles the copy: ~7 ms before the
    first job of every launch. Pickling is itself a copy, so this returns the
    live objects; unpickled, the state is the same as stock's.
    """
    from hydra.core.plugins import Plugins

    from zenspec._compatibility import omegaconf_resolvers, singleton_instances

    return {
        "instances": {k: v for k, v in singleton_instances().items() if k is not Plugins},
        "omegaconf_resolvers": omegaconf_resolvers(),
    }


def launcher_configs() -> Dict[str, Any]:
    """``{kind: config dataclass}`` of zenspec's launchers (imports no engine)."""
    from zenspec.launchers.ray import RayLauncherConf

    return {"ray": RayLauncherConf}


def _store_entries() -> List[Tuple[Optional[str], str, Any]]:
    return [("hydra/launcher", kind, node) for kind, node in launcher_configs().items()]


@contextlib.contextmanager
def launcher_scope() -> Iterator[contextlib.ExitStack]:
    """For one zenspec launch: zenspec's launcher options in the ConfigStore, and cleanup.

    Launchers register what must be undone when the launch ends (a Ray they
    started, modules registered to be pickled by value) on the yielded stack
    (:func:`current_scope`). Scopes nest (a task may launch a sweep itself).
    """
    from zenspec.launch.isolation import scoped_store

    with contextlib.ExitStack() as stack:
        _SCOPES.append(stack)
        try:
            with scoped_store(_store_entries()):
                yield stack
        finally:
            _SCOPES.pop()


def current_scope() -> Optional[contextlib.ExitStack]:
    """The innermost open :func:`launcher_scope`'s stack, if a zenspec launch is running."""
    return _SCOPES[-1] if _SCOPES else None
