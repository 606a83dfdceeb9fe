"""When an optimising sweep's trials are asked, started and told.

``schedule = "batch"`` (the default): a batch of trials is asked, launched
together, and told in trial order once all have ended, so a seeded Optuna
study is a pure function of (seed, space, batch size). ``schedule = "async"``:
a trial is asked the moment a worker frees and told the moment it ends
(:mod:`zenspec.launch.streaming`), so no worker waits for a batch's slowest
trial; which trials Optuna asks then depends on timing. (Random search asks
the same seeded sequence either way.)

Both run through :class:`StudyFeed`, which also watches the running trials
for the pruner and stops asking, without losing a running trial, once the
study must stop (too many failures, a metric the results lack).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from hydra.core.utils import JobReturn

from zenspec.errors import ZenspecError

if TYPE_CHECKING:
    from zenspec.adaptive.pruning import PruneMonitor
    from zenspec.sweepers.base import StudySweeper
    from zenspec.sweepers.results import StudyResult, TrialResult
    from zenspec.sweepers.space import SearchSpace

__all__ = ["SCHEDULES", "Asked", "StudyFeed"]

SCHEDULES = ("batch", "async")
#: study.json is rewritten at most this often while trials end one by one (and at the end)
WRITE_EVERY_S = 1.0


@dataclass
class Asked:
    """A trial the sweeper asked for: its number, parameters and the sampler's handle."""

    number: int
    params: Dict[str, Any]
    handle: Any = None  # the Optuna trial; the pruner's trial for random search
    num: Optional[int] = None  # the job number it must run as (None: the next one)


class StudyFeed:
    """Hands a study's trials to the engine and takes their results back."""

    def __init__(
        self,
        sweeper: StudySweeper,
        space: SearchSpace,
        study: StudyResult,
        ask: Callable[[], Optional[Asked]],
        tell: Callable[[Asked, JobReturn], TrialResult],
        monitor: Optional[PruneMonitor] = None,
    ) -> None:
        self.sweeper = sweeper
        self.space = space
        self.study = study
        self.ask = ask
        self.tell = tell
        self.monitor = monitor
        self.running: Dict[int, Asked] = {}
        self.stop: Optional[ZenspecError] = None  # raised once the running trials ended
        self.written = 0.0

    # -- JobFeed -----------------------------------------------------------------------
    def take(self, n: int) -> List[Tuple[int, List[str]]]:
        out: List[Tuple[int, List[str]]] = []
        while len(out) < n and self.stop is None:
            asked = self.ask()
            if asked is None:
                break
            num = self.sweeper.next_job_number(asked.num)
            overrides = self.space.overrides(asked.params)
            self.sweeper.check_jobs([(num, overrides)])
            self.running[num] = asked
            if self.monitor is not None and asked.handle is not None:
                self.monitor.watch(num, asked.handle)
            out.append((num, overrides))
        return out

    def done(self, num: int, ret: JobReturn) -> None:
        asked = self.running.pop(num)
        if self.monitor is not None:
            self.monitor.finish(num)
        result = self.tell(asked, ret)
        result.job = num if result.job is None else result.job
        self.study.trials.append(result)
        sweeper = self.sweeper
        if self.stop is None:
            self.stop = sweeper.metric_error([ret]) or sweeper.failures_error(self.study)
        now = time.monotonic()
        # (not "or not self.running": with batches of one trial, the in-process
        # default, that wrote the whole study after every trial; finish() writes the end)
        if now - self.written >= WRITE_EVERY_S or self.stop is not None:
            self.flush()
            self.written = now

    # -- the sweep's side ----------------------------------------------------------------
    def flush(self) -> None:
        self.study.trials.sort(key=lambda t: t.number)
        self.study.update_best()
        self.study.write()

    def finish(self) -> None:
        """Write the study; raise why it stopped early, if it did (with the study attached)."""
        self.flush()
        if self.stop is not None:
            self.stop.results = self.study  # type: ignore[attr-defined]
            raise self.stop
