"""The run/multirun core: Hydra jobs launched from Python, with global state isolated."""

from zenspec._compatibility import require_supported

require_supported()  # one clear error (exit 2) for a hydra-core zenspec does not support

from zenspec.launch.core import hydra_multirun, hydra_run  # noqa: E402 (after the version check)
from zenspec.launch.overrides import hydra_list, multirun, to_override_list  # noqa: E402 (after the version check)
from zenspec.launch.plugins import JobResult  # noqa: E402 (after the version check)

__all__ = ["JobResult", "hydra_list", "hydra_multirun", "hydra_run", "multirun", "to_override_list"]
