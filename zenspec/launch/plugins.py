"""Sweepers from anywhere, and the job results zenspec returns.

Stock Hydra instantiates a sweeper only if its class lives under
``hydra_plugins`` (or Hydra's own core plugins). zenspec accepts any
``hydra.plugins.sweeper.Sweeper`` subclass named by ``hydra.sweeper._target_``:
a user's class in their own module, or zenspec's sweepers. Registered plugin
classes still go through Hydra's plugin registry, unchanged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from zenspec.errors import LaunchError

__all__ = ["JobResult", "instantiate_sweeper", "wrap_job_returns"]


@dataclasses.dataclass
class JobResult(JobReturn):
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
        return cls(**{f.name: getattr(ret, f.name) for f in dataclasses.fields(JobReturn)})


def wrap_job_returns(value: Any) -> Any:
    """Upgrade JobReturns in a basic sweeper's ``[[JobReturn, ...], ...]`` to JobResults."""
    if isinstance(value, JobReturn):
        return JobResult.from_job_return(value)
    is_batches = isinstance(value, list) and value and all(isinstance(b, list) for b in value)
    if is_batches and all(isinstance(j, JobReturn) for batch in value for j in batch):
        return [[JobResult.from_job_return(j) for j in batch] for batch in value]
    return value


def instantiate_sweeper(
    *, config: DictConfig, hydra_context: HydraContext, task_function: TaskFunction
) -> Sweeper:
    """The sweeper of ``config.hydra.sweeper``, set up and ready to ``sweep``."""
    from hydra._internal.utils import _get_cls_name
    from hydra.utils import instantiate as hydra_instantiate

    plugins = Plugins.instance()
    sweeper_cfg = config.hydra.sweeper
    if sweeper_cfg is None:
        raise LaunchError("hydra.sweeper is not configured (it is null).")
    classname = _get_cls_name(sweeper_cfg, pop=False)
    if classname in plugins.class_name_to_class:
        return plugins.instantiate_sweeper(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
    try:
        sweeper = hydra_instantiate(sweeper_cfg)
    except Exception as e:
        raise LaunchError(
            f"could not instantiate the sweeper '{classname}': {e}",
            path="hydra.sweeper",
            hint="Fix: check hydra.sweeper._target_ names an importable Sweeper subclass "
            "and its parameters match its __init__.",
        ) from e
    if not isinstance(sweeper, Sweeper):
        raise LaunchError(
            f"'{classname}' is a {type(sweeper).__name__}, not a hydra.plugins.sweeper.Sweeper "
            "subclass, so it cannot sweep.",
            path="hydra.sweeper._target_",
        )
    sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    return sweeper
