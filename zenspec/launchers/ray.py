"""``hydra/launcher=ray``: each job a Ray task, on Ray's public API.

Ray is the engine; this module is glue, the same shape as Hydra's joblib and
submitit launchers: the parent sends the sweep's config, config loader, task
function and Hydra's global state once (``ray.put``); each job is a
``ray.remote`` task that restores that state, composes its own config
(``load_sweep_config``) and calls ``hydra.core.utils.run_job`` in the worker,
so a job's outputs and zenspec record are written by the process that ran it.

This module holds the launcher (:class:`RayLauncher`: launch a batch, wait for
it, turn each job's end into a JobReturn) and its config dataclasses, the names
specs and configs refer to (``zenspec.launchers.ray.RayLauncher``,
``zenspec.launchers.ray:RayLauncherConf``). Where Ray runs (the address,
``ray.init``, token auth, the signal handlers Ray replaces) is in
:mod:`zenspec.launchers.ray_connect`; what runs in the worker, and what a
lost job becomes, in :mod:`zenspec.launchers.ray_jobs`.

Nothing is lost (docs/ray.md):

* a job whose Ray worker dies (a signal, ``os._exit``, out of memory, its node
  lost) is a failed job whose return value is a
  :class:`~zenspec.errors.JobDiedError` with the cause as far as it is known,
  recorded on disk with its Ray task id; the rest of the sweep runs. Ray does
  not retry it (``max_retries`` defaults to 0 here, not Ray's 3: a crashing job
  must not silently run four times);
* a job whose result cannot come back (an unpicklable return value) is a failed
  job, and its record says so;
* Ctrl-C or SIGTERM cancels (``force=True``) every job of the batch that has not
  finished, records each as ``interrupted``, and re-raises.

The config is a structured config registered as ``hydra/launcher/ray`` for the
duration of each zenspec launch (see :func:`zenspec.launchers.launcher_scope`);
``ray`` is imported only when jobs are launched.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn, filter_overrides
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from zenspec.launchers.ray_connect import RayConnection, _signal_exceptions
from zenspec.launchers.ray_jobs import (
    _death,
    _execute_job,
    _fail_record,
    _failed,
    _fault_path,
    _first_line,
    _record_lost,
    _recorded_completed,
)

__all__ = ["RayLauncher", "RayLauncherConf", "RayRemoteConf"]

log = logging.getLogger(__name__)


@dataclass
class RayRemoteConf:
    """Options of each job's Ray task (``ray.remote(...).options(**remote)``); None: Ray's default."""

    num_cpus: Optional[float] = None
    num_gpus: Optional[float] = None
    memory: Optional[int] = None
    resources: Dict[str, float] = field(default_factory=dict)
    accelerator_type: Optional[str] = None
    # None: 0 (a job whose worker died is not run again); Ray's own default is 3
    max_retries: Optional[int] = None
    retry_exceptions: bool = False
    scheduling_strategy: Optional[str] = None


@dataclass
class RayLauncherConf:
    """``hydra/launcher=ray``: where Ray runs and what each job asks of it."""

    _target_: str = "zenspec.launchers.ray.RayLauncher"
    # None: the Ray this process already initialised, else a new local one (never
    # a running cluster); "auto": the cluster on this node; "host:port": that
    # cluster; "ray://host:10001": Ray Client
    address: Optional[str] = None
    # resources of a Ray this launcher starts (not allowed when connecting to a cluster)
    num_cpus: Optional[int] = None
    num_gpus: Optional[int] = None
    # ray.init(runtime_env=...): env_vars, pip, working_dir, py_modules...
    runtime_env: Dict[str, Any] = field(default_factory=dict)
    remote: RayRemoteConf = field(default_factory=RayRemoteConf)
    # any other ray.init keyword arguments (include_dashboard, namespace, ...)
    init: Dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


class RayLauncher(RayConnection, Launcher):
    """Launch each job of a batch as a Ray task and wait for all of them.

    Starting or connecting Ray, and shutting it down (:meth:`close`): :class:`RayConnection`.
    """

    #: vendored cloudpickle copies this launcher's payload goes through
    cloudpickle_modules = ("ray.cloudpickle",)
    #: workers start from the environment, not this process's sys.path
    workers_share_sys_path = False

    def __init__(
        self,
        address: Optional[str] = None,
        num_cpus: Optional[int] = None,
        num_gpus: Optional[int] = None,
        runtime_env: Any = None,
        remote: Any = None,
        init: Any = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.runtime_env = dict(_plain(runtime_env) or {})
        self.remote = {k: v for k, v in (_plain(remote) or {}).items() if v not in (None, {})}
        # a job whose worker died is a failed job, not one Ray runs again (Ray's default: 3)
        self.remote.setdefault("max_retries", 0)
        self.init = dict(_plain(init) or {})
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self.started = False
        self._auth_mode: Optional[Tuple[bool, Optional[str]]] = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    # -- the jobs --------------------------------------------------------------------

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:

        from zenspec.launchers import begin_launch, current_scope

        sweep_dir = begin_launch(self)

        try:
            remote, shared = self._start()
            where = self.address or "local"
            log.info(f"Ray({where}) is launching {len(job_overrides)} jobs")
            log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
            for idx, overrides in enumerate(job_overrides):
                log.info(f"\t#{initial_job_idx + idx} : {' '.join(filter_overrides(overrides))}")
            refs = [
                remote.remote(initial_job_idx + idx, list(overrides), shared)
                for idx, overrides in enumerate(job_overrides)
            ]
            return self._wait(sweep_dir, job_overrides, initial_job_idx, refs)
        finally:
            if current_scope() is None:
                self.close()

    def _start(self) -> Tuple[Any, Any]:
        """Ray connected (shut down with the zenspec launch); the job's remote and shared state."""
        import ray

        from zenspec.launchers import current_scope, singleton_state

        if not self.started and self._ensure_ray():
            self.started = True
            scope = current_scope()
            if scope is not None:  # shut down when the zenspec launch ends
                scope.callback(self.close)
        shared = ray.put((self.hydra_context, self.config, self.task_function, singleton_state()))
        return ray.remote(_execute_job).options(**self.remote), shared

    def launch_feed(self, feed: Any, capacity: int) -> Optional[str]:
        """Run *feed*'s jobs as Ray tasks, *capacity* at a time, a new one as each ends."""
        import ray

        from zenspec.launch import ticks
        from zenspec.launchers import begin_launch, current_scope

        sweep_dir = begin_launch(self)
        try:
            remote, shared = self._start()
            log.info(f"Ray({self.address or 'local'}) runs {capacity} job(s) at a time")
            log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
            overrides_of: Dict[int, List[str]] = {}
            pending: Dict[Any, int] = {}

            def submit(n: int) -> None:
                for num, overrides in feed.take(n):
                    log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
                    overrides_of[num] = list(overrides)
                    pending[remote.remote(num, list(overrides), shared)] = num

            with _signal_exceptions() as raised:
                try:
                    submit(capacity)
                    while pending:
                        wake = ticks.INTERVAL_S if ticks.active() else None
                        ready, _ = ray.wait(list(pending), num_returns=1, timeout=wake)
                        ticks.tick()
                        for ref in ready:
                            num = pending.pop(ref)
                            ret = self._result(sweep_dir, num, overrides_of[num], ref)
                            feed.done(num, ret)
                            submit(1)
                except KeyboardInterrupt as e:
                    signalled = raised[0] if raised else e
                    # keyed by job number: _interrupt's "first + i" is the number itself
                    self._interrupt(sweep_dir, overrides_of, 0, pending, signalled)  # type: ignore[arg-type]
                    if signalled is not e:
                        raise signalled.with_traceback(None) from None
                    raise
        finally:
            if current_scope() is None:
                self.close()
        return None

    def _wait(
        self,
        root: Path,
        job_overrides: Sequence[Sequence[str]],
        first: int,
        refs: List[Any],
    ) -> List[JobReturn]:
        """Each job's JobReturn, taken as the jobs finish; Ctrl-C cancels the rest."""
        import ray

        from zenspec.launch import ticks

        runs: List[Optional[JobReturn]] = [None] * len(refs)
        pending = {ref: i for i, ref in enumerate(refs)}
        with _signal_exceptions() as raised:
            try:
                while pending:
                    # the first to finish, then every other that has: O(pending) per round
                    wake = ticks.INTERVAL_S if ticks.active() else None
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=wake)
                    ticks.tick()  # the sweep's work while its jobs run (pruning)
                    if len(pending) > 1:
                        more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                        ready = list(dict.fromkeys([*ready, *more]))
                    for ref in ready:
                        i = pending.pop(ref)
                        runs[i] = self._result(root, first + i, list(job_overrides[i]), ref)
            except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as zenspec.errors.Terminated
                signalled = raised[0] if raised else e  # what the handler raised, not Ray's
                self._interrupt(root, job_overrides, first, pending, signalled)
                if signalled is not e:
                    raise signalled.with_traceback(None) from None
                raise
        return [r for r in runs if r is not None]

    def _result(self, root: Path, num: int, overrides: List[str], ref: Any) -> JobReturn:
        import ray
        from ray import exceptions as rx

        from zenspec.launchers import lost_job_return

        engine = {"kind": "ray", "task_id": ref.task_id().hex()}
        try:
            return ray.get(ref)
        except rx.RayTaskError as e:
            # _execute_job itself raised (the task function's own exceptions are in its
            # JobReturn): the config did not compose, or the result could not come back
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
            what = f"{type(cause).__name__}: {_first_line(str(cause))}"
            if _recorded_completed(root, num):  # the task returned: its result is what failed
                error: BaseException = RuntimeError(
                    f"the job's return value cannot be sent back from its Ray worker: {what}"
                )
                error.__cause__ = cause
                _fail_record(root, num, error)
            else:
                error = cause
                _record_lost(root, num, overrides, f"failed in its Ray worker: {what}", engine)
            log.error(f"job #{num}: {error}")
            return _failed(overrides, error)
        except Exception as e:  # the task never answered: its worker, node or result died
            cause, detail = _death(e, root, num)
            log.error(f"job #{num} died: {cause}")
            try:
                return lost_job_return(root, num, overrides, cause, engine=engine, detail=detail)
            except Exception as why:  # a full disk must not end the sweep
                from zenspec.errors import JobDiedError

                log.warning(f"could not record job #{num} ({cause}): {why}")
                return _failed(overrides, JobDiedError(cause))

    def _interrupt(
        self,
        root: Path,
        job_overrides: Sequence[Sequence[str]],
        first: int,
        pending: Dict[Any, int],
        error: BaseException,
    ) -> None:
        """Cancel every unfinished job (running ones too) and record it interrupted."""
        import ray

        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        for i in pending.values():  # a killed job leaves its fault file
            with contextlib.suppress(OSError):
                os.unlink(_fault_path(root, first + i))
        cause = f"interrupted: {error}" if str(error) else "interrupted (Ctrl-C)"
        for ref, i in sorted(pending.items(), key=lambda item: item[1]):
            engine = {"kind": "ray", "task_id": ref.task_id().hex()}
            _record_lost(root, first + i, list(job_overrides[i]), cause, engine, "interrupted")
        log.warning(f"interrupted: {len(pending)} unfinished Ray job(s) cancelled and recorded")
