"""Jobs that ended without writing their own record: what killed them, recorded.

A job writes its record itself when its task returns or raises
(:class:`zenspec.records.jobs.RecordingTask`). A job whose process dies
without a Python exception (a signal, ``os._exit``, the OOM killer, a time
limit) writes nothing; whoever sees it die writes the record instead, with
the cause:

* a launcher that watches its workers (joblib, submitit, Ray) records it at
  once (:func:`record_lost_job`), with the exit status it saw;
* for a job that took zenspec itself down (the in-process launcher),
  ``zenspec resume`` finds its ``.N.running`` marker, whose process is gone,
  and records it then (:func:`reap_dead_markers`).

A record written here never replaces one the job wrote itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from zenspec.records.store import FORMAT_VERSION, jobs_dir, open_nofollow

__all__ = [
    "describe_exit",
    "process_alive",
    "process_start_time",
    "read_marker",
    "reap_dead_markers",
    "record_lost_job",
]


def describe_exit(exitcode: Optional[int]) -> str:
    """A process's end as a user reads it: ``killed by SIGSEGV``, ``exit code 3``.

    *exitcode* follows ``multiprocessing``: negative is the signal that killed it.
    SIGKILL that nobody sent on purpose is most often the kernel's OOM killer.
    """
    if exitcode is None:
        return "the process ended with an unknown status"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return "killed by SIGKILL (out of memory, or killed from outside)"
        return f"killed by {name}"
    return f"exit code {exitcode}"


def process_start_time(pid: int) -> Optional[int]:
    """The start time of process *pid* in clock ticks since boot (Linux), else None.

    With the pid it names one process for good: a pid reused by a later
    process has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its ')'
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start: Optional[int] = None) -> bool:
    """Whether process *pid* (started at *start*, when known) still runs on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # (no pid is that large: from a damaged file)
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    if start is not None:
        now = process_start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused
    with contextlib.suppress(OSError):  # a zombie (dead, not yet reaped) is dead
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rfind(b")") + 2 :].startswith(b"Z"):
            return False
    return True


def read_marker(path: Path) -> Optional[Dict[str, Any]]:
    """The process facts in a ``.N.running`` marker; ``{}`` for an old empty marker."""
    try:
        with os.fdopen(open_nofollow(path), encoding="utf-8", errors="replace") as f:
            text = f.read(64_000)  # (a marker is a line of JSON; garbage reads as {} below)
    except OSError:
        return None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def record_lost_job(
    root: Any,
    num: int,
    overrides: Sequence[str],
    cause: str,
    *,
    status: str = "failed",
    engine: Optional[Dict[str, Any]] = None,
    job_dir: Optional[str] = None,
    detail: str = "",
) -> bool:
    """Record job *num* of the sweep in *root* as *status*, for *cause*; False if it has a record.

    Parameters
    ----------
    root : path
        The sweep (or run) directory: the records are under ``root/.zenspec``.
    num : int
        The job's number in the sweep.
    overrides : sequence of str
        The job's overrides (what ``resume`` matches the plan against).
    cause : str
        What ended it: ``killed by SIGSEGV``, ``exit code 3``, ``SLURM: TIMEOUT``...
    status : {"failed", "interrupted"}
        ``interrupted`` (the sweep was stopped under it) is run again by
        ``resume``; ``failed`` only with ``--retry-failed``.
    engine : dict, optional
        The engine's id for the job (``{"kind": "slurm", "job_id": "123_4"}``).
    job_dir : str, optional
        The job's output directory, where its log is.
    detail : str, optional
        More about the cause (a native traceback), kept in ``error.traceback``.
    """
    from zenspec.records.jobs import write_record  # (jobs imports this module lazily)

    directory = jobs_dir(root)
    path = directory / f"{num}.json"
    if existing_record(path):
        return False
    record: Dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "num": num,
        "overrides": list(overrides),
        "status": status,
        "started_at": None,
        "duration_s": None,
        "job_dir": job_dir,
        "pid": None,
        "choices": {},
        "cause": cause,
        "error": {
            "type": "zenspec.errors.JobDiedError",
            "message": cause,
            "traceback": detail or None,
        },
        "recorded_by": {"pid": os.getpid(), "host": socket.gethostname(), "at": time.time()},
    }
    if engine:
        record["engine"] = dict(engine)
    write_record(directory, num, record)
    with contextlib.suppress(OSError):
        os.unlink(directory / f".{num}.running")
    return True


def existing_record(path: Path) -> bool:
    """Whether *path* holds a job record (a planted link or a torn file does not count)."""
    from zenspec.records.store import read_json

    try:
        data = read_json(path)  # no symlink; an object
    except (OSError, ValueError, RecursionError):
        return False
    return data.get("format_version") == FORMAT_VERSION


def reap_dead_markers(
    root: Path, planned: Sequence[Sequence[str]], launcher_pids: Sequence[int] = ()
) -> List[int]:
    """Record the jobs whose ``.N.running`` marker names a process that is gone.

    Only markers of this host can be judged (a pid means nothing elsewhere);
    markers of live processes are left alone (see :mod:`zenspec.records.lock`:
    a sweep being written is refused before this runs). A job that ran in
    zenspec's own process (its pid is one of *launcher_pids*) took the sweep
    down with it: it is recorded ``failed`` (a crash, ``os._exit``, SIGKILL),
    with the native traceback if faulthandler caught one. A job that ran in a
    worker whose parent could not record it died with its parent (a killed
    sweep): it is recorded ``interrupted``, and ``resume`` runs it again.
    Returns the job numbers recorded.
    """
    host = socket.gethostname()
    done: List[int] = []
    directory = jobs_dir(root)
    if not directory.is_dir():
        return done
    crash = _crash_log(root)
    for path in sorted(directory.glob(".*.running")):
        try:
            num = int(path.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        if not 0 <= num < len(planned):  # no job of this sweep (a stray or garbled name)
            continue
        marker = read_marker(path)
        if marker is None:
            continue
        pid, start = marker.get("pid"), marker.get("start")
        if marker and (marker.get("host") != host or not isinstance(pid, int)):
            continue  # another machine's job: its engine knows (records.engine)
        # pid is an int here unless the marker is empty
        if isinstance(pid, int) and process_alive(pid, start):
            continue
        overrides = planned[num]
        in_process = not marker or pid in launcher_pids
        if in_process:
            died = ("the zenspec process running it died", "")
            cause, detail = crash.get(pid, died) if isinstance(pid, int) else died
            if not detail:
                cause += " (os._exit, SIGKILL or out of memory: its exit status is the shell's $?)"
            recorded = record_lost_job(root, num, overrides, cause, detail=detail)
        else:
            recorded = record_lost_job(
                root,
                num,
                overrides,
                "its worker died with the zenspec process",
                status="interrupted",
            )
        if recorded:
            done.append(num)
    return done


def _crash_log(root: Path) -> Dict[int, Any]:
    """``{pid: (cause, native traceback)}`` from faulthandler's log of in-process sweeps."""
    from zenspec.records.crashlog import read_crash_log

    return read_crash_log(root)


def fail_record(root: Any, num: int, error: BaseException) -> None:
    """Turn job *num*'s ``completed`` record into a failed one, for *error* found after it."""
    from zenspec.records.jobs import write_record
    from zenspec.records.store import read_json

    path = jobs_dir(root) / f"{num}.json"
    try:
        record = read_json(path)
    except (OSError, ValueError, RecursionError):
        return
    record["status"] = "failed"
    record["metric"] = None
    record["error"] = {
        "type": f"{type(error).__module__}.{type(error).__qualname__}",
        "message": str(error),
        "traceback": None,
    }
    write_record(jobs_dir(root), num, record)


def job_return_from_record(record: Dict[str, Any], task_name: Optional[str] = None) -> Any:
    """A ``JobReturn`` for a job that ran and recorded itself, whose reply the pool lost."""
    from hydra.core.utils import JobReturn, JobStatus

    from zenspec.errors import JobDiedError

    ret = JobReturn()
    ret.overrides = list(record.get("overrides") or [])
    ret.working_dir = os.getcwd()
    ret.task_name = task_name
    if record.get("status") == "completed":
        ret.status = JobStatus.COMPLETED
        ret.return_value = record.get("return_value")
    else:
        ret.status = JobStatus.FAILED
        error = record.get("error") or {}
        ret.return_value = JobDiedError(
            record.get("cause") or f"{error.get('type', 'error')}: {error.get('message', '')}"
        )
    return ret
