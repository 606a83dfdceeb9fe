"""``zenspec.report(step, **metrics)``: a job's metric stream, and how pruning reaches it.

Each call appends one JSON line ``{"step": s, "time": t, "metrics": {...}}`` to
``<sweep dir>/.zenspec/metrics/<job num>.jsonl`` with a single ``os.write`` on an
``O_APPEND`` descriptor: no buffer in this process, so a job killed with SIGKILL
keeps every line it reported (a reader ignores an unterminated last line).

Pruning is decided where the study lives (the sweep process, see
:mod:`zenspec.adaptive.pruning`), which leaves a flag file
``.zenspec/metrics/<num>.prune``; ``report`` looks for it (at most every
:data:`CHECK_EVERY_S`, a ``stat`` on a shared file system is not free) and
raises :class:`Pruned`. When the sweep runs in this very process (Hydra's basic
launcher), the decision is asked for directly, at the step reported.

Outside a job run by zenspec (a plain script, a notebook, ``records=False``)
``report`` does nothing and returns at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

__all__ = ["CHECK_EVERY_S", "Pruned", "PrunedTrial", "job_metrics", "report"]

#: how often ``report`` looks for the sweep's prune flag, at most (seconds)
CHECK_EVERY_S = 0.02

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC


class Pruned(BaseException):
    """Raised by :func:`report` when the sweep prunes the running trial.

    It derives from ``BaseException``, as ``KeyboardInterrupt`` does, so an
    ``except Exception:`` in a training loop does not swallow it by accident;
    catch it by name to clean up, then re-raise. zenspec records the trial as
    ``pruned`` (not failed) with its last step and values, and the sweep goes on.

    Attributes
    ----------
    step : int
        The step at which the trial was pruned.
    metrics : dict
        The values reported at that step.
    """

    def __init__(self, step: int, metrics: Dict[str, Any]) -> None:
        super().__init__(f"the sweep pruned this trial at step {step}")
        self.step = step
        self.metrics = metrics


class PrunedTrial:
    """What a pruned job returns to its launcher in place of a value (picklable)."""

    __slots__ = ("metrics", "step")

    def __init__(self, step: Optional[int], metrics: Dict[str, Any]) -> None:
        self.step = step
        self.metrics = metrics

    def __getstate__(self) -> Dict[str, Any]:
        return {"step": self.step, "metrics": self.metrics}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.step = state["step"]
        self.metrics = state["metrics"]

    def __repr__(self) -> str:
        return f"PrunedTrial(step={self.step}, metrics={self.metrics})"


#: (num, step, metrics) -> prune now?  Set by a sweep running its jobs in its own process.
Decide = Callable[[int, int, Dict[str, Any]], bool]


class _Job:
    """The running job's stream: where it writes, what it last wrote, the prune flag."""

    __slots__ = ("count", "decide", "fd", "flag", "last", "next_check", "num", "path", "pruned")

    def __init__(self, directory: str, num: int, decide: Optional[Decide]) -> None:
        self.path = os.path.join(directory, f"{num}.jsonl")
        self.flag = os.path.join(directory, f"{num}.prune")
        self.num = num
        self.fd = -1
        self.count = 0
        self.last: Optional[Dict[str, Any]] = None
        self.next_check = 0.0
        self.pruned = False
        self.decide = decide


_job: Optional[_Job] = None
#: sweeps running in this process: records root -> (pid, decide)
_local_deciders: Dict[str, Any] = {}


def _number(value: Any) -> Any:
    if type(value) is float or type(value) is int:
        return value
    if isinstance(value, (bool, str)) or value is None:
        return value
    try:  # numpy and torch scalars, 0-d arrays
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return repr(value)


def report(step: int, **metrics: Any) -> None:
    """Append *metrics* at *step* to the running job's metric stream.

    Parameters
    ----------
    step : int
        The step (epoch, iteration...), 0 or more; a pruner compares trials at equal steps.
    **metrics : float
        Values by name, e.g. ``val_loss=0.31``. The sweep's ``metric`` is the one a
        pruner reads; the others are kept for curves and tables.

    Raises
    ------
    Pruned
        The sweep decided to stop this trial (only when the sweep has a pruner).

    Examples
    --------
    Outside a zenspec job it does nothing:

    >>> from zenspec import report
    >>> for epoch in range(3):
    ...     report(epoch, val_loss=1.0 / (epoch + 1))
    """
    job = _job
    if job is None:
        return None
    for key, value in metrics.items():
        if type(value) is not float and type(value) is not int:
            metrics[key] = _number(value)
    if type(step) is not int:
        step = int(step)
    line = json.dumps({"step": step, "time": time.time(), "metrics": metrics}, allow_nan=True)
    if job.fd < 0:
        _open(job)
    if job.fd >= 0:
        os.write(job.fd, (line + "\n").encode())
    job.count += 1
    job.last = {"step": step, "metrics": metrics}
    if job.decide is not None:
        if job.decide(job.num, step, metrics):
            job.pruned = True
    elif not job.pruned:
        now = time.monotonic()
        if now >= job.next_check:
            job.next_check = now + CHECK_EVERY_S
            job.pruned = os.path.exists(job.flag)
    if job.pruned:
        raise Pruned(step, metrics)
    return None


def _open(job: _Job) -> None:
    try:
        job.fd = os.open(job.path, _FLAGS, 0o666)
    except FileNotFoundError:
        from zenspec.records.store import safe_dir

        safe_dir(Path(job.path).parent.parent)
        safe_dir(Path(job.path).parent)
        job.fd = os.open(job.path, _FLAGS, 0o666)
    except OSError:
        # a stream that cannot be written must not fail the job: the values go unrecorded
        job.fd = -2


def begin_job(root: Path, num: int) -> Optional[_Job]:
    """Make *num* (of the sweep or run in *root*) the job ``report`` writes for; the previous one."""
    global _job
    previous = _job
    directory = os.path.join(os.path.abspath(root), ".zenspec", "metrics")
    decide = None
    local = _local_deciders.get(os.path.abspath(root))
    if local is not None and local[0] == os.getpid():  # not a forked copy of the sweep's
        decide = local[1]
    _job = _Job(directory, num, decide)
    return previous


def end_job(previous: Optional[_Job]) -> Optional[Dict[str, Any]]:
    """Close the running job's stream and put *previous* back; what it last reported."""
    global _job
    job = _job
    _job = previous
    if job is None:
        return None
    if job.fd >= 0:
        os.close(job.fd)
    if job.count and not job.pruned:  # a verdict that came after the job's last report
        with contextlib.suppress(OSError):
            os.unlink(job.flag)
    if not job.count:
        return None
    return {"reports": job.count, **(job.last or {})}


def serve_decisions(root: Path, decide: Optional[Decide]) -> None:
    """Let jobs of the sweep in *root* run in this process ask *decide* directly (None: stop)."""
    key = os.path.abspath(root)
    if decide is None:
        _local_deciders.pop(key, None)
    else:
        _local_deciders[key] = (os.getpid(), decide)


def metrics_dir(root: Path) -> Path:
    return Path(root) / ".zenspec" / "metrics"


def job_metrics(root: Path, num: int) -> List[Dict[str, Any]]:
    """Every complete line of job *num*'s metric stream: ``[{"step", "time", "metrics"}]``."""
    out: List[Dict[str, Any]] = []
    try:
        with open(metrics_dir(root) / f"{num}.jsonl", "rb") as f:
            data = f.read()
    except OSError:
        return out
    for raw in data.split(b"\n")[:-1]:  # an unterminated last line is being written
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("metrics"), dict):
            out.append(item)
    return out
