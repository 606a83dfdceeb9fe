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
