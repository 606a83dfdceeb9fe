"""zenspec: reproducible Hydra experiments from checked-in spec files, or from Python.

The public API::

    from zenspec import builds, just, instantiate, hydra_run, hydra_multirun, multirun
    from zenspec import load_spec, validate, resume_sweep, load_results   # specs, records
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
from zenspec.records.table import SweepResults, load_results
from zenspec.spec.api import load_spec, validate
from zenspec.spec.model import Spec
from zenspec.spec.resume import resume_sweep

__version__ = "0.1.0"

__all__ = [
    "BuildsError",
    "JobFailedError",
    "JobResult",
    "LaunchError",
    "OverrideError",
    "Problem",
    "Spec",
    "SpecError",
    "SweepResults",
    "ZenspecError",
    "__version__",
    "builds",
    "hydra_list",
    "hydra_multirun",
    "hydra_run",
    "instantiate",
    "just",
    "load_results",
    "load_spec",
    "multirun",
    "resume_sweep",
    "validate",
]
