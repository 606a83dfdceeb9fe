"""The run/multirun core: Hydra jobs launched from Python, with global state isolated.

The names are loaded on first use, so a submodule (``zenspec.launch.job_dirs``...)
can be imported by itself, e.g. by the speed pieces in :mod:`zenspec.accelerate`
or in a worker process, without the whole core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zenspec._compatibility import require_supported
from zenspec._lazy import lazy_attributes

require_supported()  # one clear error (exit 2) for a hydra-core zenspec does not support

__all__ = ["JobResult", "hydra_list", "hydra_multirun", "hydra_run", "multirun", "to_override_list"]

_WHERE = {
    "hydra_run": "zenspec.launch.core",
    "hydra_multirun": "zenspec.launch.core",
    "hydra_list": "zenspec.launch.overrides",
    "multirun": "zenspec.launch.overrides",
    "to_override_list": "zenspec.launch.overrides",
    "JobResult": "zenspec.launch.plugins",
}

if TYPE_CHECKING:
    from zenspec.launch.core import hydra_multirun, hydra_run
    from zenspec.launch.overrides import hydra_list, multirun, to_override_list
    from zenspec.launch.plugins import JobResult


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, __all__)
