"""zenspec: reproducible Hydra experiments from checked-in spec files, or from Python.

The public API::

    from zenspec import builds, just, instantiate, hydra_run, hydra_multirun, multirun
    from zenspec import load_spec, validate, resume_sweep, load_results   # specs, records
    from zenspec import report, Pruned, job_seed, seed_everything          # inside a task

Names are imported on first use (PEP 562): a worker process that runs jobs
imports the launch layer only, not the spec layer and its JSON Schema
machinery, which matters when a parallel launcher starts its workers; and
``import zenspec`` imports no Hydra (``builds``/``instantiate`` do, when first
used), so ``zenspec validate``, ``schema`` and completion start without it.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any, Dict

from zenspec._lazy import lazy_attributes

# cheap (the standard library only): the spec layer's errors, imported eagerly
from zenspec.errors import (
    BuildsError,
    JobFailedError,
    LaunchError,
    OverrideError,
    Problem,
    SpecError,
    ZenspecError,
)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from zenspec.adaptive.report import Pruned, report
    from zenspec.adaptive.seeds import derive_seed, job_seed, seed_everything
    from zenspec.builds import builds, just
    from zenspec.instantiate import instantiate
    from zenspec.launch import JobResult, hydra_list, hydra_multirun, hydra_run, multirun
    from zenspec.records.table import SweepResults, load_results
    from zenspec.spec.api import load_spec, validate
    from zenspec.spec.model import Spec
    from zenspec.spec.resume import resume_sweep

__version__ = "0.1.0"

_LAZY: Dict[str, str] = {
    "report": "zenspec.adaptive.report",  # a task's metrics; no Hydra imported
    "Pruned": "zenspec.adaptive.report",
    "derive_seed": "zenspec.adaptive.seeds",
    "job_seed": "zenspec.adaptive.seeds",
    "seed_everything": "zenspec.adaptive.seeds",
    "builds": "zenspec.builds",  # these three import Hydra: not for `zenspec validate`
    "just": "zenspec.builds",
    "instantiate": "zenspec.instantiate",
    "JobResult": "zenspec.launch",
    "hydra_list": "zenspec.launch",
    "hydra_multirun": "zenspec.launch",
    "hydra_run": "zenspec.launch",
    "multirun": "zenspec.launch",
    "SweepResults": "zenspec.records.table",
    "load_results": "zenspec.records.table",
    "load_spec": "zenspec.spec.api",
    "validate": "zenspec.spec.api",
    "Spec": "zenspec.spec.model",
    "resume_sweep": "zenspec.spec.resume",
}

__all__ = [
    "BuildsError",
    "JobFailedError",
    "JobResult",
    "LaunchError",
    "OverrideError",
    "Problem",
    "Pruned",
    "Spec",
    "SpecError",
    "SweepResults",
    "ZenspecError",
    "__version__",
    "builds",
    "derive_seed",
    "hydra_list",
    "hydra_multirun",
    "hydra_run",
    "instantiate",
    "job_seed",
    "just",
    "load_results",
    "load_spec",
    "multirun",
    "report",
    "resume_sweep",
    "seed_everything",
    "validate",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)


class _Package(types.ModuleType):
    """The ``zenspec`` package's module type: ``zenspec.builds`` and
    ``zenspec.instantiate`` stay the functions after their submodules load.

    Importing a submodule sets it as its package's attribute; two of the lazy
    names are also submodule names, so without this ``import zenspec.builds``
    would leave ``zenspec.builds`` the module and ``from zenspec import builds``
    would hand back a module instead of the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
