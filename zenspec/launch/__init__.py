"""The run/multirun core: Hydra jobs launched from Python, with global state isolated."""

from zenspec.launch.core import hydra_multirun, hydra_run
from zenspec.launch.overrides import hydra_list, multirun, to_override_list
from zenspec.launch.plugins import JobResult

__all__ = ["JobResult", "hydra_list", "hydra_multirun", "hydra_run", "multirun", "to_override_list"]
