"""Targets and tasks with annotated parameters, for the invalid-spec corpus and preflight tests."""

from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Dict, List, Literal, Optional, Tuple, Union


class Color(enum.Enum):
    red = 1
    blue = 2


@dataclasses.dataclass
class Schedule:
    warmup: int = 0
    decay: float = 0.9


def train(
    epochs: int = 1,
    lr: float = 0.1,
    name: str = "run",
    verbose: bool = False,
    mode: Literal["fast", "slow"] = "fast",
    color: Color = Color.red,
    layers: List[int] = (),
    weights: Optional[Dict[str, float]] = None,
    seed: Optional[int] = None,
    shape: Tuple[int, int] = (1, 1),
    size: Union[int, str] = 1,
    schedule: Optional[Schedule] = None,
    model: object = None,
    optim: object = None,
) -> dict:
    """A target whose every parameter is annotated; returns its arguments' repr."""
    return {"loss": float(lr), "epochs": epochs}


class Model:
    def __init__(self, width: int = 8, act: Literal["relu", "tanh"] = "relu") -> None:
        self.width = width
        self.act = act


def keyword_only(*, cfg: object = None) -> int:
    """Not a task: takes no positional argument."""
    return 0


def two_args(cfg: object, other: object) -> int:
    """Not a task: needs two positional arguments."""
    return 0


def task(cfg: object) -> dict:
    """A Hydra-style task."""
    return {"loss": 0.0}


@dataclasses.dataclass
class NeedsData:
    """A config class with a required field (no default: OmegaConf's '???')."""

    data_dir: str = "???"
    epochs: int = 1


def no_args() -> int:
    """Not a task: takes no argument at all."""
    return 0


class PlainFormatter(logging.Formatter):
    """A logging formatter made by a factory key ("()") in a spec's job_logging."""


def failing(cfg: object) -> None:
    """A task that fails inside the job."""
    raise ValueError("boom")
