"""zenspec: reproducible Hydra experiments from checked-in spec files, or from Python.

The public API::

    from zenspec import builds, just, instantiate, hydra_run, hydra_multirun, multirun
"""

from zenspec.builds import builds, just
from zenspec.errors import (
    BuildsError,
    JobFailedError,
    LaunchError,
    OverrideError,
    Problem,
    SpecError,
    ZenspecError,
)
from zenspec.instantiate import instantiate
from zenspec.launch import JobResult, hydra_list, hydra_multirun, hydra_run, multirun

__version__ = "0.1.0"

__all__ = [
    "BuildsError",
    "JobFailedError",
    "JobResult",
    "LaunchError",
    "OverrideError",
    "Problem",
    "SpecError",
    "ZenspecError",
    "__version__",
    "builds",
    "hydra_list",
    "hydra_multirun",
    "hydra_run",
    "instantiate",
    "just",
    "multirun",
]
