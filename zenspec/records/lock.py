"""One writer per sweep directory: an advisory lock on its records.

``run`` and ``resume`` hold ``<dir>/.zenspec/lock`` (``flock``, exclusive)
for as long as they write the sweep; the file says who holds it (host, pid,
command, since when). A second writer is refused with exit code 2 and that
holder named. The kernel drops the lock when its holder dies, however it dies
(so a lock of a killed run is simply free again), and so do NFS servers for
their clients. Readers (``results``) ask whether a writer is alive without
blocking it (:func:`holder`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from zenspec.errors import LaunchError, SweepLockedError
from zenspec.records.store import _CLOEXEC, _NOFOLLOW, _NONBLOCK, records_dir, safe_dir

__all__ = ["SweepLockedError", "holder", "lock_path", "sweep_lock"]

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the lock is then a no-op
    fcntl = None  # type: ignore[assignment]


def lock_path(root: Any) -> Path:
    return records_dir(root) / "lock"


def _describe(info: Dict[str, Any]) -> str:
    if not info:
        return "another process"
    since = info.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since)) if since else "?"
    return (
        f"pid {info.get('pid')} on {info.get('host')} (`{info.get('command', 'zenspec')}`, "
        f"since {when})"
    )


def _read_info(fd: int) -> Dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        if isinstance(data, dict):
            return data
    return {}


@contextlib.contextmanager
def sweep_lock(root: Any, command: str = "") -> Iterator[Optional[int]]:
    """Hold the write lock of the sweep in *root* for the block; refuse if it is held.

    Raises
    ------
    SweepLockedError
        A live process holds it (exit code 2): its host, pid and command are named.
    """
    if fcntl is None:
        yield None
        return
    directory = safe_dir(records_dir(root))
    path = directory / "lock"
    try:  # O_NONBLOCK: a FIFO planted as the lock is not waited on
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | _NONBLOCK, 0o666)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EMLINK):
            raise
        raise _not_a_lock(path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_a_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise  # (ENOLCK: a file system without locks: say so, do not guess)
            info = _read_info(fd)
            raise SweepLockedError(
                f"{Path(root).resolve()}: this sweep is being written by {_describe(info)}; "
                "two writers would run jobs twice and mix their records.",
                hint="Fix: wait for that run to end (or stop it: Ctrl-C, or kill its pid), "
                "then resume; to start a separate sweep, give it its own hydra.sweep.dir.",
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["zenspec", *sys.argv[1:2]]),
            "since": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield fd
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _not_a_lock(path: Path) -> LaunchError:
    return LaunchError(
        f"{path} is not a regular file (a symbolic link, a directory, a FIFO...): it cannot "
        "be this sweep's lock, and zenspec does not write records past it.",
        hint="Fix: remove it (zenspec makes the lock file itself), then run the command again.",
    )


def holder(root: Any) -> Optional[Dict[str, Any]]:
    """Who writes the sweep in *root* now (``{host, pid, command, since}``), or None.

    Probes with a shared lock that it releases at once, so it never blocks the
    writer; a lock file nobody holds (its writer died) gives None.
    """
    if fcntl is None:
        return None
    try:  # O_NONBLOCK: a FIFO planted as the lock is not waited on
        fd = os.open(lock_path(root), os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # not a lock anyone can hold (a writer refuses it)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_info(fd) or {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
