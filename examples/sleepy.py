"""A small job for the launcher specs and tests: some work, then where it ran.

``pid`` tells which process ran the job (a worker, under a parallel launcher);
``value`` depends only on the config, so every launcher must return the same.
"""

from __future__ import annotations

import os
import time


def task(cfg) -> dict:
    """Sleep ``cfg.sleep`` seconds, then return ``{"pid", "value"}``; fails for ``x == fail_at``."""
    time.sleep(float(cfg.get("sleep", 0.0)))
    if cfg.get("fail_at") is not None and cfg.x == cfg.fail_at:
        raise ValueError(f"x={cfg.x} is the job told to fail")
    return {"pid": os.getpid(), "value": cfg.x * cfg.x + cfg.y}


def busy(cfg) -> dict:
    """Burn ``cfg.seconds`` of CPU (a busy loop, no sleeping): for the benchmark."""
    end = time.process_time() + float(cfg.seconds)
    n = 0
    while time.process_time() < end:
        n += 1
    return {"pid": os.getpid(), "job": cfg.job}
