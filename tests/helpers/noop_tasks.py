"""Tasks that do nothing, for property tests that only care whether jobs compose and launch."""

from __future__ import annotations

from typing import Any


def noop(cfg: Any) -> int:
    """A Hydra-style task: takes the job's config, returns 0."""
    return 0


def noop_kwargs(**kwargs: Any) -> int:
    """A target: accepts any keyword arguments, returns 0."""
    return 0


def noop_resolved(cfg: Any) -> int:
    """A task that resolves its whole config, as most real tasks end up doing."""
    from omegaconf import OmegaConf

    OmegaConf.to_container(cfg, resolve=True)
    return 0
