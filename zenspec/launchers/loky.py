"""Joblib's loky workers (fresh interpreters), with a pool that breaks replaced.

When a loky worker dies (a signal, ``os._exit``, the OOM killer), joblib
raises ``TerminatedWorkerError`` for the whole call and loky tears the pool
down: every job of the batch without a reply is cut off, and stock Hydra's
launcher loses the sweep. :func:`run_loky` sorts the batch out from what the
jobs left on disk and goes on with a new pool:

* a job with a record ran (its reply was lost with the pool): its record
  stands, and gives its ``JobReturn``;
* a job whose ``.N.running`` marker names a dead process was running: the one
  that died when the pool reports a single dead worker is failed with its
  exit status; when several died at once (loky kills the others), each is run
  again once, and failed if it is caught in a broken pool a second time;
* a job with neither never started: it runs in the next pool.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn

__all__ = ["run_loky"]

log = logging.getLogger("hydra_plugins.hydra_joblib_launcher._core")

_CODES = re.compile(r"-?\d+")


def _exit_codes(message: str) -> List[int]:
    """The exit codes in joblib's "The exit codes of the workers are {SIGSEGV(-11)}"."""
    _, _, tail = message.partition("exit codes of the workers are")
    inside = tail[tail.find("{") + 1 : tail.find("}")] if "{" in tail else ""
    return [int(c) for c in _CODES.findall(inside)]


def run_loky(
    joblib_cfg: Dict[str, Any],
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
    configs: Callable[[Sequence[int]], Iterator[Tuple[Any, Any]]],
    make_args: Callable[[Any, Any], Tuple[Any, ...]],
    sweep_dir: Path,
    task_name: str,
) -> List[JobReturn]:
    """Every job of the batch on joblib's loky pool; a broken pool is replaced, no job lost."""
    from joblib import Parallel, delayed

    from zenspec.launchers import lost_job_return
    from zenspec.launchers.joblib import execute_job

    results: Dict[int, JobReturn] = {}
    caught: Dict[int, int] = {}  # job -> broken pools it was running in
    remaining = list(range(len(job_overrides)))
    while remaining:
        order = list(remaining)
        got = 0
        try:
            runs = Parallel(**joblib_cfg, return_as="generator")(
                delayed(execute_job)(*make_args(cfg, hint)) for cfg, hint in configs(order)
            )
            for ret in runs:
                results[order[got]] = ret
                got += 1
        except Exception as e:
            if not _is_broken_pool(e):
                raise
            codes = _exit_codes(str(e))
            log.warning(f"A joblib worker died ({e.__class__.__name__}); a new pool takes over")
            _sort_out(
                order[got:], codes, results, caught, initial_job_idx, sweep_dir, task_name,
                lambda n, cause: lost_job_return(
                    sweep_dir, initial_job_idx + n, job_overrides[n], cause, task_name=task_name
                ),
            )  # fmt: skip
        remaining = [n for n in remaining if n not in results]
    return [results[n] for n in range(len(job_overrides))]


def _is_broken_pool(e: BaseException) -> bool:
    from joblib.externals.loky.process_executor import BrokenProcessPool

    return isinstance(e, BrokenProcessPool)


def _sort_out(
    cut: Sequence[int],
    codes: List[int],
    results: Dict[int, JobReturn],
    caught: Dict[int, int],
    initial_job_idx: int,
    sweep_dir: Path,
    task_name: str,
    lost: Callable[[int, str], JobReturn],
) -> None:
    """Decide, for each job cut off by a broken pool, whether it ran, died, or runs again."""
    import contextlib
    import os

    from zenspec.records.jobs import running_marker
    from zenspec.records.lost import (
        describe_exit,
        job_return_from_record,
        process_alive,
        read_marker,
    )
    from zenspec.records.store import jobs_dir, read_json

    dead: List[int] = []
    for n in cut:
        num = initial_job_idx + n
        try:
            record: Optional[Dict[str, Any]] = read_json(jobs_dir(sweep_dir) / f"{num}.json")
        except (OSError, ValueError):
            record = None
        if record is not None:
            results[n] = job_return_from_record(record, task_name)
            continue
        marker = read_marker(Path(running_marker(sweep_dir, num)))
        if marker is None:
            continue  # never started: the next pool runs it
        pid = marker.get("pid")
        if isinstance(pid, int) and process_alive(pid, marker.get("start")):
            continue  # (loky stops its workers: not expected) run it again
        dead.append(n)
    for n in dead:
        caught[n] = caught.get(n, 0) + 1
        if len(dead) == 1 and len(codes) == 1:
            results[n] = lost(n, describe_exit(codes[0]))
        elif caught[n] >= 2:
            seen = ", ".join(describe_exit(c) for c in codes) or "unknown"
            results[n] = lost(n, f"its worker died twice while running it (exit statuses: {seen})")
        else:
            with contextlib.suppress(OSError):  # it runs again in the next pool
                os.unlink(running_marker(sweep_dir, initial_job_idx + n))
