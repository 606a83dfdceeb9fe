"""Jobs handed to an engine one at a time, as its workers free: the non-blocking launch.

Hydra's ``Launcher.launch(batch)`` blocks until the whole batch has ended, so a
sweep that asks for trials in batches waits for each batch's slowest job. Here
the engine pulls: it asks the sweep's :class:`JobFeed` for a job whenever a
worker is free, and hands each result back the moment it arrives, so a new
trial is asked (and can learn from every result so far) and started at once.

The pull runs in the launcher's own wait loop, in the sweep's main thread: each
engine keeps its signal handling and its lossless accounting of dead and
interrupted jobs, and a forking launcher still forks from a single-threaded
process. Engines that pull natively (``launch_feed``): zenspec's joblib launcher
(forked workers, or loky's), submitit (local and SLURM) and Ray. Any other launcher gets
the feed in batches of its parallelism (with one worker, that is the same thing).
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Protocol, Sequence, Tuple

from hydra.core.utils import JobReturn

__all__ = ["JobFeed", "run_batches", "run_feed"]

log = logging.getLogger(__name__)

Job = Tuple[int, List[str]]  # (job number, its overrides)


class JobFeed(Protocol):
    """What a sweep gives an engine: jobs on request, a place for their results."""

    def take(self, n: int) -> List[Job]:
        """Up to *n* new jobs to start now (fewer, or none: no more to come)."""
        ...

    def done(self, num: int, ret: JobReturn) -> None:
        """Job *num* ended with *ret* (called once per job taken, as each ends)."""
        ...


def run_batches(launcher: Any, feed: JobFeed, size: int) -> None:
    """Take *size* jobs, launch them together, hand back their results in order; again."""
    while True:
        jobs = feed.take(size)
        if not jobs:
            return
        returns: Sequence[JobReturn] = launcher.launch(
            [o for _, o in jobs], initial_job_idx=jobs[0][0]
        )
        for (num, _), ret in zip(jobs, returns):
            feed.done(num, ret)


def run_feed(launcher: Any, feed: JobFeed, workers: int) -> Optional[str]:
    """Run *feed*'s jobs on *launcher*, a new one as soon as one of *workers* frees.

    Returns None when the engine pulled natively; else why it ran in batches.
    """
    native = getattr(launcher, "launch_feed", None)
    if native is not None:
        why = native(feed, workers)
        if why is None:
            return None
    else:
        why = f"{type(launcher).__name__} has no launch_feed"
    if workers > 1:
        log.info(f"schedule=async: jobs run in batches of {workers} ({why})")
    run_batches(launcher, feed, workers)
    return why
