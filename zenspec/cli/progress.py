"""Progress of a run or sweep, read from its records as they land on disk.

Job records are written by whichever process ran the job (see
:mod:`zenspec.records.jobs`), so watching ``.zenspec/jobs/`` sees every job
under every launcher: in-process, joblib, submitit or Ray workers. A terminal
gets one live status line (done/failed/running, ETA, best metric so far); a
pipe (CI logs) gets one plain line per finished job.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, Optional

from zenspec.records.jobs import read_job_records, running_jobs

__all__ = ["Progress", "SweepDirOnly", "launch_lines_hushed"]

# Launchers announce every job ("Launching N jobs", "#3 : a=1"); under a live
# progress line in a terminal those lines only push the line up the screen.
_LAUNCH_LOGGERS = (
    "hydra._internal.core_plugins.basic_launcher",
    "hydra_plugins.hydra_joblib_launcher._core",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher",
    "zenspec.launchers.ray",
)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@contextlib.contextmanager
def launch_lines_hushed(enabled: bool = True) -> Iterator[None]:
    """Drop launchers' INFO lines for the duration of the block (warnings still show)."""
    if not enabled:
        yield
        return
    hush = _BelowWarning()
    loggers = [logging.getLogger(name) for name in _LAUNCH_LOGGERS]
    for logger in loggers:
        logger.addFilter(hush)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(hush)


def _fmt_duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Report a sweep's progress on *stream* while it runs.

    Parameters
    ----------
    stream : file, default sys.stderr
        Where to write. A TTY gets a live line; anything else one line per job.
    maximize : bool, default False
        Whether a higher metric is better (for "best so far").
    interval : float, default 0.2
        Seconds between looks at the records directory.
    tty : bool, optional
        Force live (True) or plain (False) output; default: ``stream.isatty()``.
    """

    def __init__(
        self,
        stream: Optional[IO[str]] = None,
        *,
        maximize: bool = False,
        interval: float = 0.2,
        tty: Optional[bool] = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.maximize = maximize
        self.interval = interval
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.tty = bool(isatty()) if tty is None else tty
        self.root: Optional[Path] = None
        self.total: Optional[int] = None
        self.seen: Dict[int, Dict[str, Any]] = {}
        self.best: Optional[float] = None
        self.started = time.monotonic()
        self._stop = threading.Event()
        self.thread: Optional[threading.Thread] = None
        # registered with the forking launchers, which stop the thread for each fork
        self._registered: Optional[contextlib.ExitStack] = None
        self._baseline: set = set()
        self.running = 0  # jobs started, not ended (from their markers; live line only)

    # -- called by the launch core ------------------------------------------------
    def started_sweep(self, root: Path, total: Optional[int], skip: Optional[set] = None) -> None:
        """The run/sweep in *root* starts; *total* jobs are planned (None: unknown)."""
        self.root = root
        self.total = total
        # on resume, records already on disk are not this run's progress
        self._baseline = set(skip or ())
        self.started = time.monotonic()
        from zenspec.launchers.forking import pausable

        self._registered = contextlib.ExitStack()
        self._registered.enter_context(pausable(self))
        self.resume()

    def finished_sweep(self) -> None:
        self.pause()
        if self._registered is not None:
            self._registered.close()
            self._registered = None
        self.poll()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    # -- internals ----------------------------------------------------------------
    def pause(self) -> None:
        """Stop the polling thread (for a fork, or at the end); the line stays as it is."""
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.thread = None

    def resume(self) -> None:
        """Start the polling thread (again)."""
        self._stop.clear()
        self.thread = threading.Thread(target=self._loop, name="zenspec-progress", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        if self.root is None:
            return
        new = [
            r
            for r in read_job_records(self.root)
            if r["num"] not in self.seen and r["num"] not in self._baseline
        ]
        for record in new:
            self.seen[record["num"]] = record
            metric = record.get("metric")
            if self._improves(record, metric):
                self.best = metric
            if not self.tty:
                self.stream.write(self._job_line(record) + "\n")
        if self.tty:
            self.running = len(
                [
                    n
                    for n in running_jobs(self.root)
                    if n not in self.seen and n not in self._baseline
                ]
            )
            self.stream.write("\r\033[K" + self.status_line())
        if new or self.tty:
            self.stream.flush()

    def _improves(self, record: Dict[str, Any], metric: Any) -> bool:
        if record["status"] != "completed" or not isinstance(metric, (int, float)):
            return False
        if math.isnan(metric):
            return False
        if self.best is None:
            return True
        return metric > self.best if self.maximize else metric < self.best

    def counts(self) -> Dict[str, int]:
        out = {"completed": 0, "failed": 0, "interrupted": 0, "pruned": 0}
        for r in self.seen.values():
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out

    def status_line(self) -> str:
        c = self.counts()
        done = len(self.seen)
        elapsed = time.monotonic() - self.started
        parts = []
        if self.total:
            width = 20
            filled = int(width * min(done, self.total) / self.total)
            parts.append(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} jobs")
            if done:
                eta = elapsed / done * (self.total - done)
                parts.append(f"ETA {_fmt_duration(eta)}")
        else:
            parts.append(f"{done} jobs")
        parts.append(f"{c['completed']} ok")
        if c["failed"]:
            parts.append(f"{c['failed']} failed")
        if c["pruned"]:
            parts.append(f"{c['pruned']} pruned")
        if self.running:
            parts.append(f"{self.running} running")
        if self.best is not None:
            parts.append(f"best {self.best:.6g}")
        parts.append(f"elapsed {_fmt_duration(elapsed)}")
        return " | ".join(parts)

    def _job_line(self, record: Dict[str, Any]) -> str:
        where = f"{len(self.seen)}/{self.total}" if self.total else f"{len(self.seen)}"
        text = f"[{where}] job {record['num']} {' '.join(record.get('overrides') or [])}"
        text += f" -> {record['status']}"
        if record.get("metric") is not None:
            text += f" metric={record['metric']:.6g}"
        if record.get("duration_s") is not None:
            text += f" ({record['duration_s']:.2f}s)"
        if record["status"] == "pruned" and record.get("pruned"):
            at = record["pruned"]
            shown = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in (at.get("metrics") or {}).items())  # fmt: skip
            text += f" at step {at.get('step')}" + (f" ({shown})" if shown else "")
        if record["status"] == "failed" and record.get("error"):
            text += f": {record['error'].get('type', '').rsplit('.', 1)[-1]}: "
            text += str(record["error"].get("message", ""))[:200]
        return text


class SweepDirOnly(Progress):
    """No progress at all (``-q``): only where the sweep writes, for the final line.

    A sweeper with its own return value says nothing of its directory; the
    launch core tells its progress, so ``zenspec run -q`` still ends with it.
    """

    def __init__(self) -> None:
        super().__init__(None, tty=False)

    def started_sweep(self, root: Path, total: Optional[int], skip: Optional[set] = None) -> None:
        self.root = root

    def finished_sweep(self) -> None:
        pass
