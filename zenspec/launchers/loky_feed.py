"""A sweep's feed of jobs on loky workers (fresh interpreters), a new job as each ends.

The joblib launcher's forked workers pull jobs natively (:mod:`.fork_pool`); when
the parent cannot fork (a BLAS pool from a task module's ``import numpy``, CUDA...)
the workers are loky's, and :func:`run_loky_feed` drives loky's reusable executor
from the sweep's main thread: ``workers`` jobs in flight, each result handed to
the feed the moment it arrives, the next job taken then, ticks in between.

A worker that dies breaks loky's whole pool, as in :mod:`.loky`: the jobs it cut
off are sorted out from what they left on disk (a record stands; a job that never
started runs in the new pool); when one job was running it is the one that died
(failed, with the exit status loky reports), when several were, each runs again
alone, before any new job, so the one that kills its worker is then known.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from hydra.core.utils import JobReturn

from zenspec.launchers.loky import _exit_codes, _is_broken_pool, _sort_out, _statuses
from zenspec.records.lost import describe_exit

__all__ = ["run_loky_feed"]

log = logging.getLogger("hydra_plugins.hydra_joblib_launcher._core")

Job = Tuple[int, List[str]]


class _PoolBroke(Exception):
    """A submit found loky's pool broken (a worker died since the last wait)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _executor(workers: int) -> Any:
    """The reusable executor joblib's loky backend uses, with its thread limits for workers.

    joblib's own (not loky's ``get_reusable_executor``): loky keeps one reusable
    executor per process, and a later ``joblib.Parallel`` (a batch sweep) expects
    joblib's kind there.
    """
    from joblib.executor import get_memmapping_executor

    from zenspec.launchers.forking import THREAD_VARS, cpu_count

    threads = str(max(cpu_count() // workers, 1))
    env = {var: os.environ.get(var, threads) for var in THREAD_VARS}
    return get_memmapping_executor(workers, env=env)


class _Pool:
    """The current loky executor (a broken one is replaced)."""

    def __init__(self, workers: int) -> None:
        self.pool = _executor(workers)

    def replace(self, pool: Any) -> None:
        self.pool = pool

    def shutdown(self, wait: bool, kill_workers: bool) -> None:
        self.pool.shutdown(wait=wait, kill_workers=kill_workers)


def run_loky_feed(
    feed: Any,
    workers: int,
    submit_args: Callable[[int, List[str]], Tuple[Any, ...]],
    sweep_dir: Path,
    task_name: str,
) -> None:
    """Run *feed*'s jobs, ``execute_job(*submit_args(num, overrides))`` on loky workers."""
    from zenspec.launchers import lost_job_return
    from zenspec.launchers.joblib import execute_job

    executor = _Pool(workers)
    pending: Dict[Any, Job] = {}
    suspects: List[Job] = []  # cut off by a broken pool with others: each runs alone
    overrides_of: Dict[int, List[str]] = {}

    def submit(job: Job) -> None:
        num, overrides = job
        overrides_of[num] = overrides
        try:
            future = executor.pool.submit(execute_job, *submit_args(num, overrides))
        except Exception as e:  # the pool broke since the last wait: this job never started
            if not _is_broken_pool(e):
                raise
            suspects.append(job)
            raise _PoolBroke(e) from e
        pending[future] = job

    def fill() -> None:
        if suspects:  # one at a time until each is judged
            if not pending:
                submit(suspects.pop(0))
            return
        for job in feed.take(workers - len(pending)):
            submit(job)

    def lost(num: int, cause: str) -> JobReturn:
        log.error(f"\t#{num} failed: {cause}")
        return lost_job_return(sweep_dir, num, overrides_of[num], cause, task_name=task_name)

    try:
        _loop(executor, workers, pending, suspects, fill, feed, lost, sweep_dir, task_name)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: no new job; the running ones stop
        executor.shutdown(wait=False, kill_workers=True)
        cause = f"interrupted: {e}" if str(e) else "interrupted (Ctrl-C)"
        for num, _ in sorted(pending.values()):
            with contextlib.suppress(Exception):  # a full disk must not hide the interrupt
                lost_job_return(
                    sweep_dir, num, overrides_of[num], cause, status="interrupted",
                    task_name=task_name,
                )  # fmt: skip
        raise


def _loop(
    executor: Any,
    workers: int,
    pending: Dict[Any, Job],
    suspects: List[Job],
    fill: Callable[[], None],
    feed: Any,
    lost: Callable[[int, str], JobReturn],
    sweep_dir: Path,
    task_name: str,
) -> None:
    from zenspec.launch import ticks

    def refill() -> None:
        while True:
            try:
                fill()
                return
            except _PoolBroke as broke:  # found by a submit, not by a wait
                _after_a_broken_pool(
                    broke.error, pending, suspects, sweep_dir, task_name, feed, lost
                )
                executor.replace(_executor(workers))

    refill()
    while pending:
        timeout = ticks.INTERVAL_S if ticks.active() else None
        done, _ = concurrent.futures.wait(
            list(pending), timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )
        ticks.tick()
        broken = None
        for future in done:
            try:
                ret = future.result()
            except Exception as e:
                if not _is_broken_pool(e):
                    raise
                broken = e
                continue
            num, _ = pending.pop(future)
            feed.done(num, ret)
        if broken is not None:
            _after_a_broken_pool(broken, pending, suspects, sweep_dir, task_name, feed, lost)
            executor.replace(_executor(workers))  # loky makes a new pool
        refill()


def _after_a_broken_pool(
    error: BaseException,
    pending: Dict[Any, Job],
    suspects: List[Job],
    sweep_dir: Path,
    task_name: str,
    feed: Any,
    lost: Callable[[int, str], JobReturn],
) -> None:
    """Sort out every job the pool cut off: recorded, never started, or dead with it."""
    log.warning(f"A joblib worker died ({type(error).__name__}); a new pool takes over")
    for future in list(pending):  # all of them end with the pool
        concurrent.futures.wait([future], timeout=30)
        if future.done() and not future.cancelled() and future.exception() is None:
            num, _ = pending.pop(future)  # it answered before the pool broke
            feed.done(num, future.result())
    cut = dict(pending.values())
    pending.clear()
    results: Dict[int, JobReturn] = {}
    dead = _sort_out(list(cut), results, 0, sweep_dir, task_name)
    for num, ret in results.items():  # ran: their records stand
        feed.done(num, ret)
    again = [n for n in cut if n not in results and n not in dead]  # never started
    codes = _exit_codes(str(error))
    if len(dead) == 1 and (len(cut) == 1 or len(codes) == 1):
        cause = describe_exit(codes[0]) if len(codes) == 1 else _statuses(codes)
        feed.done(dead[0], lost(dead[0], cause))
    else:
        again += dead
    suspects.extend((n, cut[n]) for n in sorted(again))
