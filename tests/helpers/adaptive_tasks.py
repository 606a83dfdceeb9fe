"""Tasks for the adaptive-sweep tests (zenspec.report, pruning, async schedules, seeds);
importable by worker and child processes."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import zenspec


def _job_num() -> int:
    from hydra.core.hydra_config import HydraConfig

    return int(HydraConfig.get().job.get("num", 0) or 0)


def _note(path: str, **fields) -> None:
    """One JSON line appended to *path* (a single write: safe from several processes)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(fields) + "\n").encode())
    finally:
        os.close(fd)


def counting(cfg):
    """Reports ``loss = x + step`` for ``steps`` steps, then returns it; its pid too."""
    value = None
    for step in range(cfg.steps):
        value = cfg.x + step
        zenspec.report(step, loss=value, twice=2 * value)
    return {"loss": value, "pid": os.getpid()}


def reports_then_dies(cfg):
    """Reports ``steps`` steps, then SIGKILLs its own process when ``kill`` is set."""
    for step in range(cfg.steps):
        zenspec.report(step, loss=float(step), pad="x" * 40)
    if cfg.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"loss": 0.0}


def thresholded(cfg):
    """Reports ``loss = x`` from step 2 on (0 before), sleeping ``step_s`` per step.

    Writes what its own code saw to the JSON-lines file ``cfg.log``: "pruned" when
    ``zenspec.Pruned`` reached it, "completed" after the loop, "swallowed" if an
    ``except Exception`` around ``report`` caught the pruning (it must not).
    """
    num = _job_num()
    try:
        for step in range(cfg.steps):
            time.sleep(cfg.step_s)
            try:
                zenspec.report(step, loss=cfg.x if step >= 2 else 0.0)
            except Exception as e:  # a user's broad handler: Pruned must go through it
                _note(cfg.log, num=num, seen="swallowed", error=repr(e))
    except zenspec.Pruned as e:
        _note(cfg.log, num=num, seen="pruned", step=e.step, metrics=e.metrics)
        raise
    _note(cfg.log, num=num, seen="completed")
    return {"loss": cfg.x}


def sleeper(cfg):
    """Sleeps ``d`` seconds; returns ``loss = d``."""
    time.sleep(cfg.d)
    return {"loss": cfg.d}


def seeded(cfg):
    """What the job sees of its seed: ``job_seed()`` and the first draws of the seeded RNGs."""
    import numpy as np

    return {
        "loss": 0.0,
        "job_seed": zenspec.job_seed(),
        "random": random.random(),
        "numpy": float(np.random.random()),
    }


def timed_sweep(schedule: str, sweep_dir: str, seed: int) -> None:
    """Random search over ``d=0.1,0.8`` (8 trials of :func:`sleeper`) on joblib's 2 forked
    workers with *schedule*; prints the study's trial params as JSON.

    Run in a fresh interpreter (``python -c``): forking needs a process without native
    threads, and a test process that imported numpy has an OpenBLAS pool.
    """
    from zenspec import hydra_multirun

    study = hydra_multirun(
        {"d": 0.1},
        sleeper,
        [
            "hydra/sweeper=zenspec_random",
            "hydra.sweeper.metric=loss",
            "hydra.sweeper.max_trials=8",
            f"hydra.sweeper.seed={seed}",
            f"hydra.sweeper.schedule={schedule}",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "d=0.1,0.8",
            f"hydra.sweep.dir={sweep_dir}",
            "hydra/job_logging=disabled",
            "hydra/hydra_logging=disabled",
            "hydra.output_subdir=null",
        ],
        with_log_configuration=False,
    )
    print(
        json.dumps(
            {
                "params": [t.params for t in study.trials],
                "settings": study.settings,
                "statuses": [t.status for t in study.trials],
            }
        )
    )


def first_is_slow(cfg):
    """Job 0 sleeps ``slow`` seconds, every other job 0.05 s; returns ``loss = num``."""
    num = _job_num()
    time.sleep(cfg.slow if num == 0 else 0.05)
    return {"loss": float(num)}


def dies_at(cfg):
    """Sleeps 0.2 s; job number ``die`` kills its own process (``os._exit(3)``)."""
    num = _job_num()
    time.sleep(0.2)
    if num == cfg.die:
        os._exit(3)
    return {"loss": float(num)}
