"""Joblib's loky workers (fresh interpreters), with a pool that breaks replaced.

When a loky worker dies (a signal, ``os._exit``, the OOM killer), joblib
raises ``TerminatedWorkerError`` for the whole call and loky tears the pool
down: every job of the batch without a reply is cut off, and stock Hydra's
launcher loses the sweep. :func:`run_loky` sorts the batch out from what the
jobs left on disk and goes on with a new pool:

* a job with a record ran (its reply was lost with the pool): its record
  stands, and gives its ``JobReturn``;
* a job whose ``.N.running`` marker names a dead process was running: when
  it is the only one, it is the job that killed its worker, failed with the
  exit status joblib reports; when several were running (loky stops every
  worker of a broken pool), each runs again alone, so the one that kills its
  worker is then known, and the others complete;
* a job with neither never started: it runs in the next pool.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn

from zenspec.records.lost import describe_exit

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
    from zenspec.launchers import lost_job_return

    def lost(n: int, cause: str) -> JobReturn:
        log.error(f"\t#{initial_job_idx + n} failed: {cause}")
        return lost_job_return(
            sweep_dir, initial_job_idx + n, job_overrides[n], cause, task_name=task_name
        )

    from zenspec.launch import ticks

    results: Dict[int, JobReturn] = {}
    suspects: List[int] = []  # running when a pool broke, with no way to tell who died
    remaining = list(range(len(job_overrides)))
    with ticks.in_background():  # joblib's wait cannot be woken for the sweep's ticks
        while remaining:
            # a suspect runs alone: if it is the one that kills its worker, that is then plain
            batches = [[n] for n in suspects] + [[n for n in remaining if n not in suspects]]
            suspects = []
            for order in batches:
                if order:
                    _run_pool(joblib_cfg, order, configs, make_args, results,
                              initial_job_idx, sweep_dir, task_name, lost, suspects)  # fmt: skip
            remaining = [n for n in remaining if n not in results]
    return [results[n] for n in range(len(job_overrides))]


def _run_pool(
    joblib_cfg: Dict[str, Any],
    order: List[int],
    configs: Callable[[Sequence[int]], Iterator[Tuple[Any, Any]]],
    make_args: Callable[[Any, Any], Tuple[Any, ...]],
    results: Dict[int, JobReturn],
    initial_job_idx: int,
    sweep_dir: Path,
    task_name: str,
    lost: Callable[[int, str], JobReturn],
    suspects: List[int],
) -> None:
    """One ``Parallel`` call over *order*; after a broken pool, sort out the jobs it cut off."""
    from joblib import Parallel, delayed

    from zenspec.launchers.joblib import execute_job

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
        log.warning(f"A joblib worker died ({type(e).__name__}); a new pool takes over")
        dead = _sort_out(order[got:], results, initial_job_idx, sweep_dir, task_name)
        codes = _exit_codes(str(e))
        if len(dead) == 1 and (len(order) == 1 or len(codes) == 1):
            seen = describe_exit(codes[0]) if len(codes) == 1 else _statuses(codes)
            results[dead[0]] = lost(dead[0], seen)
        else:  # several were running: each runs again, alone
            suspects.extend(dead)


def _statuses(codes: List[int]) -> str:
    return "its worker died (" + (", ".join(describe_exit(c) for c in codes) or "unknown") + ")"


def _is_broken_pool(e: BaseException) -> bool:
    from joblib.externals.loky.process_executor import BrokenProcessPool

    return isinstance(e, BrokenProcessPool)


def _sort_out(
    cut: Sequence[int],
    results: Dict[int, JobReturn],
    initial_job_idx: int,
    sweep_dir: Path,
    task_name: str,
) -> List[int]:
    """The jobs a broken pool cut off that were running (their process is dead).

    A job with a record ran: its record gives its result. A job without a
    marker never started: it runs in the next pool.
    """
    import contextlib
    import os

    from zenspec.records.jobs import running_marker
    from zenspec.records.lost import job_return_from_record, process_alive, read_marker
    from zenspec.records.store import jobs_dir, read_json

    dead: List[int] = []
    for n in cut:
        num = initial_job_idx + n
        try:
            record: Optional[Dict[str, Any]] = read_json(jobs_dir(sweep_dir) / f"{num}.json")
        except (OSError, ValueError):
            record = None
        if record is not None and record.get("status") != "interrupted":
            results[n] = job_return_from_record(record, task_name)
            continue
        if record is not None:  # stopped with the broken pool (SIGTERM): runs again
            continue
        marker_path = Path(running_marker(sweep_dir, num))
        marker = read_marker(marker_path)
        if marker is None:
            continue  # never started: the next pool runs it
        pid = marker.get("pid")
        if isinstance(pid, int) and process_alive(pid, marker.get("start")):
            continue  # (loky stops its workers: not expected) run it again
        dead.append(n)
        with contextlib.suppress(OSError):  # it runs again, or is recorded failed
            os.unlink(marker_path)
    return dead
