"""The native traceback of a job that crashes zenspec's own process.

Under the in-process launcher a segfault in a job (a C extension, ctypes, a
GPU driver) kills zenspec with it: no exception, no record. For the length
of such a launch, :func:`crash_log` points Python's :mod:`faulthandler` at
``.zenspec/crash-<pid>.log``, so the fatal signal and the Python stack are
on disk; ``zenspec resume`` reads them (:func:`read_crash_log`) into the
crashed job's record. faulthandler is left alone when the caller enabled
it already (it can only write to one file).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
from pathlib import Path
from typing import Dict, Iterator, Tuple

from zenspec.records.store import _CLOEXEC, _NOFOLLOW, open_nofollow, records_dir, safe_dir

__all__ = ["FATAL_SIGNALS", "crash_log", "fatal_error", "read_crash_log"]

# faulthandler's names of the fatal signals it catches
FATAL_SIGNALS = {
    "Segmentation fault": "SIGSEGV",
    "Floating point exception": "SIGFPE",
    "Aborted": "SIGABRT",
    "Bus error": "SIGBUS",
    "Illegal instruction": "SIGILL",
}
_FATAL_PREFIX = "Fatal Python error: "


def fatal_error(line: str) -> str:
    """What faulthandler's first line says (``Segmentation fault``); "" for another line.

    :data:`FATAL_SIGNALS` names the signal behind it. Shared by every reader of
    faulthandler's output (this module's crash logs, submitit's job logs, Ray's
    per-job fault files).
    """
    line = line.strip()
    return line[len(_FATAL_PREFIX) :].strip() if line.startswith(_FATAL_PREFIX) else ""


_NAME = re.compile(r"^crash-(\d+)\.log$")


@contextlib.contextmanager
def crash_log(root: Path) -> Iterator[None]:
    """While the block runs, a fatal signal writes its traceback under *root*'s records."""
    if faulthandler.is_enabled():
        yield
        return
    try:
        directory = safe_dir(records_dir(root))
        path = directory / f"crash-{os.getpid()}.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC
        fd = os.open(path, flags, 0o666)
    except OSError:
        yield  # no crash log is no reason not to run
        return
    stream = os.fdopen(fd, "w", encoding="utf-8")
    faulthandler.enable(file=stream, all_threads=False)
    try:
        yield
    finally:
        faulthandler.disable()
        stream.close()
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def read_crash_log(root: Path) -> Dict[int, Tuple[str, str]]:
    """``{pid: (cause, traceback)}`` of the crash logs of dead in-process sweeps in *root*."""
    out: Dict[int, Tuple[str, str]] = {}
    directory = records_dir(root)
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            match = _NAME.match(entry.name)
            if not match:
                continue
            try:
                with os.fdopen(open_nofollow(entry.path), encoding="utf-8", errors="replace") as f:
                    text = f.read(64_000)
            except OSError:
                continue
            first = text.strip().splitlines()[0] if text.strip() else ""
            head = fatal_error(first) or first.strip()
            if head:
                cause = (
                    f"killed by {FATAL_SIGNALS[head]}"
                    if head in FATAL_SIGNALS
                    else f"crashed: {head}"
                )
                out[int(match.group(1))] = (cause, text.strip())
    return out
