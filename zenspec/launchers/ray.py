"""``hydra/launcher=ray``: each job a Ray task, on Ray's public API.

Ray is the engine; this module is glue, the same shape as Hydra's joblib and
submitit launchers: the parent sends the sweep's config, config loader, task
function and Hydra's global state once (``ray.put``); each job is a
``ray.remote`` task that restores that state, composes its own config
(``load_sweep_config``) and calls ``hydra.core.utils.run_job`` in the worker,
so a job's outputs and zenspec record are written by the process that ran it.

Ray is initialised only if it is not already (``ray.init(address=...,
num_cpus=...)``: a new local Ray, or a connection to a cluster), and only what
this launcher started is shut down, when the zenspec launch ends (a sweep that
launches many batches reuses it). A job whose Ray task fails outside the task
function (a crashed worker, an unpicklable return value) is a failed job like
any other; the rest of the sweep runs.

The config is a structured config registered as ``hydra/launcher/ray`` for the
duration of each zenspec launch (see :func:`zenspec.launchers.launcher_scope`);
``ray`` is imported only when jobs are launched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

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
    max_retries: Optional[int] = None
    retry_exceptions: bool = False
    scheduling_strategy: Optional[str] = None


@dataclass
class RayLauncherConf:
    """``hydra/launcher=ray``: where Ray runs and what each job asks of it."""

    _target_: str = "zenspec.launchers.ray.RayLauncher"
    # None: use the Ray this process already initialised, else start a local one;
    # "auto": connect to the cluster on this node; "ray://host:10001": Ray Client
    address: Optional[str] = None
    # resources of a Ray this launcher starts (not allowed when connecting to a cluster)
    num_cpus: Optional[int] = None
    num_gpus: Optional[int] = None
    # ray.init(runtime_env=...): env_vars, pip, working_dir, py_modules...
    runtime_env: Dict[str, Any] = field(default_factory=dict)
    remote: RayRemoteConf = field(default_factory=RayRemoteConf)
    # any other ray.init keyword arguments (include_dashboard, namespace, ...)
    init: Dict[str, Any] = field(default_factory=dict)


def _execute_job(
    idx: int, overrides: Sequence[str], shared: tuple, job_id: Optional[str] = None
) -> JobReturn:
    """In a Ray worker: restore Hydra's state, compose the job's config, ``run_job``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import run_job

    hydra_context, config, task_function, state = shared
    setup_globals()
    Singleton.set_state(state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = job_id or f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=sweep_config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


class RayLauncher(Launcher):
    """Launch each job of a batch as a Ray task and wait for all of them."""

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
        self.init = dict(_plain(init) or {})
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self.started = False

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def _ensure_ray(self) -> bool:
        """Initialise Ray unless it is; True if this call started (or connected) it."""
        import ray

        if ray.is_initialized():
            if self.address or self.num_cpus or self.num_gpus:
                log.info("Ray is already initialised in this process: using it as it is")
            return False
        kwargs: Dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
        kwargs.update(self.init)
        if self.address is not None:
            kwargs["address"] = self.address
        if self.num_cpus is not None:
            kwargs["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            kwargs["num_gpus"] = self.num_gpus
        if self.runtime_env:
            kwargs["runtime_env"] = self.runtime_env
        ray.init(**kwargs)
        return True

    def close(self) -> None:
        """Shut Ray down if this launcher started it (idempotent)."""
        if self.started:
            import ray

            self.started = False
            ray.shutdown()

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        import ray

        from zenspec.launchers import begin_launch, current_scope, singleton_state

        sweep_dir = begin_launch(self)

        if not self.started and self._ensure_ray():
            self.started = True
            scope = current_scope()
            if scope is not None:  # shut down when the zenspec launch ends
                scope.callback(self.close)
        where = self.address or "local"
        log.info(f"Ray({where}) is launching {len(job_overrides)} jobs")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        for idx, overrides in enumerate(job_overrides):
            log.info(f"\t#{initial_job_idx + idx} : {' '.join(filter_overrides(overrides))}")

        shared = ray.put((self.hydra_context, self.config, self.task_function, singleton_state()))
        remote = ray.remote(_execute_job)
        if self.remote:
            remote = remote.options(**self.remote)
        refs = [
            remote.remote(initial_job_idx + idx, list(overrides), shared)
            for idx, overrides in enumerate(job_overrides)
        ]
        runs: List[JobReturn] = []
        try:
            for idx, (overrides, ref) in enumerate(zip(job_overrides, refs)):
                try:
                    ret = ray.get(ref)
                except Exception as e:  # the task never returned: the job failed
                    ret = _failed(list(overrides), e)
                    log.error(f"job #{initial_job_idx + idx} failed in Ray: {e}")
                runs.append(ret)
        finally:
            if current_scope() is None:
                self.close()
        return runs


def _failed(overrides: List[str], error: BaseException) -> JobReturn:
    cause = getattr(error, "cause", None)
    ret = JobReturn(overrides=overrides, status=JobStatus.FAILED)
    ret.return_value = cause if isinstance(cause, BaseException) else error
    return ret
