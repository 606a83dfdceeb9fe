"""The quadratic the optimising sweepers are shown on: minimum 0 at x=2, y=-3, z=0.

``loss = (x - 2)^2 + (y + 3)^2 + |z|``, returned as ``{"loss": ...}`` so a
spec names the metric (``metric = "loss"``). ``fail_above`` makes trials
whose loss exceeds it raise, to show that a failed trial does not stop a study;
``sleep`` makes each trial take that long (to interrupt a study in the tests).
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional


def quadratic(x: float, y: float, z: float = 0.0) -> float:
    """``(x - 2)^2 + (y + 3)^2 + |z|``."""
    return (x - 2) ** 2 + (y + 3) ** 2 + abs(z)


def task(cfg: Any) -> Dict[str, Any]:
    """A task function: ``{"loss": quadratic(cfg.x, cfg.y, cfg.z), ...}``."""
    fail_above: Optional[float] = cfg.get("fail_above")
    sleep = float(cfg.get("sleep") or 0.0)
    if sleep:
        time.sleep(sleep)
    loss = quadratic(cfg.x, cfg.y, cfg.get("z", 0.0))
    if fail_above is not None and loss > fail_above:
        raise ValueError(f"loss {loss:.3g} is above fail_above={fail_above}")
    return {"loss": loss, "distance": abs(cfg.x - 2) + abs(cfg.y + 3)}
