"""The Ray launcher's jobs: what runs in the Ray worker, and what a lost job becomes.

Split from :mod:`zenspec.launchers.ray` (the launcher) so that what a worker
runs, and how a job that never answered is explained and recorded, read in one
place.

In the worker, :func:`_execute_job` (the function ``ray.remote`` wraps, pickled
by reference as ``zenspec.launchers.ray_jobs._execute_job``: the worker imports
this module) restores Hydra's global state sent once by the parent, composes
the job's own config (``load_sweep_config``) and calls
``hydra.core.utils.run_job``, so a job's outputs and zenspec record are written
by the process that ran it. While the job runs a fatal signal's report goes to
a hidden fault file (:func:`_fault_log`).

In the parent, nothing is lost (docs/ray.md): a job whose Ray worker dies (a
signal, ``os._exit``, out of memory, its node lost) is a failed job whose
return value is a :class:`~zenspec.errors.JobDiedError` with the cause as far
as it is known (:func:`_death`: the fault file, else Ray's exception), recorded
on disk with its Ray task id; a job whose result cannot come back (an
unpicklable return value) is a failed job, and its record says so
(:func:`_fail_record`).
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from omegaconf import open_dict

# the launcher's logger (the name its log lines have always carried)
log = logging.getLogger("zenspec.launchers.ray")


# -- in the worker ----------------------------------------------------------------------


def _fault_path(root: Path, num: int) -> Path:
    """Where a job's fatal-signal report goes while it runs (a hidden file, not a record)."""
    from zenspec.records.store import jobs_dir

    return jobs_dir(root) / f".{num}.fault"


@contextlib.contextmanager
def _fault_log(root: Path, num: int) -> Iterator[None]:
    """While the job runs, a fatal signal's report (faulthandler) goes to its fault file.

    Ray tells the parent only that the worker died, not how; this file tells
    which signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) and where in
    Python. Ray's own faulthandler setting is given back, the file removed,
    when the job ends: one open and one unlink per job.
    """
    from zenspec.records.store import _CLOEXEC, _NOFOLLOW, safe_dir

    try:
        path = safe_dir(_fault_path(root, num).parent) / f".{num}.fault"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC
        stream = os.fdopen(os.open(path, flags, 0o644), "w", encoding="utf-8")
    except OSError:  # best effort: the job runs anyway
        yield
        return
    was_enabled = faulthandler.is_enabled()
    try:
        faulthandler.enable(file=stream, all_threads=False)
        yield
    finally:
        faulthandler.disable()
        if was_enabled:  # Ray's workers report to their stderr log
            with contextlib.suppress(Exception):
                faulthandler.enable()
        stream.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def _execute_job(
    idx: int, overrides: Sequence[str], shared: tuple, job_id: Optional[str] = None
) -> JobReturn:
    """In a Ray worker: restore Hydra's state, compose the job's config, ``run_job``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import run_job

    hydra_context, config, task_function, state = shared
    setup_globals()
    Singleton.set_state(state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = job_id or f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    from zenspec.errors import LaunchError
    from zenspec.launch.job_dirs import JOB_DIR_HINT, job_dir_refusal

    refusal = job_dir_refusal(
        str(sweep_config.hydra.sweep.dir),
        str(sweep_config.hydra.sweep.subdir),
        sweep_config.hydra.job.name,
    )
    if refusal is not None:  # a job dir that resolved outside the sweep dir: nothing written
        raise LaunchError(refusal, hint=JOB_DIR_HINT)
    # the records' root, as RecordingTask computes it (the sweep dir is absolute here)
    root = Path(os.getcwd(), str(sweep_config.hydra.sweep.dir))
    with _fault_log(root, idx):
        ret = run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    from zenspec.launch.job_return import carry_cause

    carry_cause(ret)  # the task's own error, under Hydra's wrapper, survives the trip
    return ret


# -- in the parent: why a job never answered ----------------------------------------------


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def _first_sentence(text: str) -> str:
    line = _first_line(text)
    return line.split(". ", 1)[0].rstrip(".") + "." if line else line


def _fault_report(root: Path, num: int) -> Tuple[Optional[str], str]:
    """``(signal name, faulthandler's report)`` from a dead job's fault file, then removed."""
    from zenspec.records.crashlog import FATAL_SIGNALS, fatal_error
    from zenspec.records.store import open_nofollow

    path = _fault_path(root, num)
    try:
        with os.fdopen(open_nofollow(path), encoding="utf-8", errors="replace") as f:
            text = f.read(64_000).strip()
    except OSError:
        return None, ""
    with contextlib.suppress(OSError):
        os.unlink(path)
    head = (fatal_error(text.splitlines()[0]) or text.splitlines()[0].strip()) if text else ""
    return FATAL_SIGNALS.get(head), text


def _death(error: BaseException, root: Path, num: int) -> Tuple[str, str]:
    """``(cause, detail)`` of a job whose Ray task ended without the job's own answer."""
    from ray import exceptions as rx

    signame, report = _fault_report(root, num)
    if signame is not None:
        return f"killed by {signame}", report
    if isinstance(error, rx.OutOfMemoryError):
        return "out of memory: killed by Ray's memory monitor", _first_line(str(error))
    if isinstance(error, rx.WorkerCrashedError):  # no exit code, no signal: Ray has none
        return f"the Ray worker died: {_first_sentence(str(error))}", str(error)
    if isinstance(error, rx.NodeDiedError):
        return f"the Ray node died: {_first_line(str(error))}", ""
    if isinstance(error, rx.LocalRayletDiedError):
        return f"the Ray worker's raylet died: {_first_line(str(error))}", ""
    if isinstance(error, rx.TaskCancelledError):
        return "cancelled in Ray", _first_line(str(error))
    return f"Ray lost the job ({type(error).__name__}): {_first_line(str(error))}", ""


# -- in the parent: recording it ----------------------------------------------------------


def _record_lost(
    root: Path,
    num: int,
    overrides: List[str],
    cause: str,
    engine: Dict[str, Any],
    status: str = "failed",
) -> None:
    """``record_lost_job`` (a record the job wrote itself is kept), never raising."""
    from zenspec.records.lost import record_lost_job

    try:
        record_lost_job(root, num, overrides, cause, status=status, engine=engine)
    except Exception as e:  # a full disk must not end the sweep, nor hide its interrupt
        log.warning(f"could not record job #{num} ({cause}): {e}")


def _recorded_completed(root: Path, num: int) -> bool:
    from zenspec.records.store import jobs_dir, read_json

    try:
        return read_json(jobs_dir(root) / f"{num}.json").get("status") == "completed"
    except (OSError, ValueError):
        return False


def _fail_record(root: Path, num: int, error: BaseException) -> None:
    """The job recorded itself ``completed``, then its result could not come back."""
    from zenspec.records.lost import fail_record

    try:
        fail_record(root, num, error)
    except Exception as e:
        log.warning(f"could not record job #{num} as failed ({error}): {e}")


def _failed(overrides: List[str], error: BaseException) -> JobReturn:
    ret = JobReturn(overrides=overrides, status=JobStatus.FAILED)
    ret.return_value = error
    return ret
