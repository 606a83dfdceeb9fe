"""Scenario 2 of the documentation: instantiate a partial ``pow`` and apply it to ``x``."""

from omegaconf import DictConfig

from zenspec import instantiate


def task(cfg: DictConfig):
    return instantiate(cfg.f)(cfg.x)
