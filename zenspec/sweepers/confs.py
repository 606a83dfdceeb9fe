"""The config dataclasses of zenspec's sweepers, apart from the sweepers themselves.

Every zenspec launch registers ``hydra/sweeper=zenspec_random`` and
``zenspec_optuna`` (:func:`zenspec.sweepers.store_entries`); only a launch that
selects one needs its sweeper. Kept here, the registration imports two
dataclasses, not the search-space, results and Optuna glue modules (~10 ms
before the first job of every fresh process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

__all__ = ["OptunaSweeperConf", "RandomSearchSweeperConf"]


@dataclass
class RandomSearchSweeperConf:
    """The config of ``hydra/sweeper=zenspec_random`` (every field settable by override)."""

    _target_: str = "zenspec.sweepers.random.RandomSearchSweeper"
    max_trials: int = 10
    seed: Optional[int] = 0
    metric: Any = None
    direction: str = "minimize"
    batch_size: Optional[int] = None
    max_failures: Optional[int] = None
    params: Any = None  # Any, not Optional[Dict]: a dict override must replace the None
    schedule: str = "batch"
    pruner: Any = None  # {kind: median, n_startup_trials: 5, ...}


@dataclass
class OptunaSweeperConf:
    """The config of ``hydra/sweeper=zenspec_optuna`` (every field settable by override)."""

    _target_: str = "zenspec.sweepers.optuna.OptunaSweeper"
    sampler: str = "tpe"
    seed: Optional[int] = 0
    n_trials: int = 20
    metric: Any = None
    direction: str = "minimize"
    directions: Optional[List[str]] = None
    batch_size: Optional[int] = None
    max_failures: Optional[int] = None
    storage: Optional[str] = None
    study_name: Optional[str] = None
    sampler_kwargs: Any = None  # Any: `hydra.sweeper.sampler_kwargs={n_startup_trials:5}` sets it
    params: Any = None
    schedule: str = "batch"
    pruner: Any = None
