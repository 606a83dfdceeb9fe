"""Tasks for record/resume tests; importable by worker and child processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def every_third_fails(cfg):
    """Fails for a % 3 == 0 unless the flag file FIXED exists in the cwd."""
    if cfg.a % 3 == 0 and not Path("FIXED").exists():
        raise ValueError(f"a={cfg.a} is a multiple of three")
    return {"loss": (cfg.a - 20) ** 2, "a": cfg.a}


def dies_at(cfg):
    """Deterministic work; kills its own process at job DIE_AT with DIE_SIGNAL."""
    die_at = os.environ.get("DIE_AT")
    if die_at is not None and int(die_at) == cfg.a and not Path("DIED").exists():
        Path("DIED").write_text("once")
        os.kill(os.getpid(), getattr(signal, os.environ.get("DIE_SIGNAL", "SIGKILL")))
    return {"loss": cfg.a * 0.5, "sq": cfg.a**2}


def slow_square(cfg):
    """A job slow enough to be interrupted in the middle of a sweep."""
    import time

    time.sleep(0.3)
    return {"loss": cfg.a * cfg.a}


def many_values(cfg):
    """Returns the metric and more: a scalar per kind, a nested mapping, a list, and ``x`` again."""
    return {
        "val_loss": (cfg.x - 2.0) ** 2 + cfg.n,
        "acc": 1.0 / (1.0 + (cfg.x - 2.0) ** 2),
        "train_loss": cfg.x / 10,
        "ok": cfg.flag,
        "note": f"{cfg.name}-{cfg.optim.name}",
        "nested": {"depth": cfg.n, "deeper": {"leaf": cfg.x}},
        "curve": [1.0, 0.5],
        "x": cfg.x,
    }
