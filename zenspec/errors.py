"""One exception root for everything a zenspec user can get wrong.

Every user-facing error is a :class:`ZenspecError`. It knows how to present
itself (:meth:`ZenspecError.format_message`) and which exit code the CLI should
use, so the CLI catches it once at the top; Python callers get the exception
object with its structured fields (``file``, ``path``, ``line``...).

Messages are rendered as ``file::$.key.path (line L, column C): message``
followed by a hint, the format check-jsonschema made familiar.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

__all__ = [
    "BuildsError",
    "JobDiedError",
    "JobFailedError",
    "LaunchError",
    "MetricError",
    "OverrideError",
    "Problem",
    "SpecError",
    "StorageError",
    "SweepLockedError",
    "Terminated",
    "ZenspecError",
    "describe_error",
    "did_you_mean",
    "render_location",
]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
# the machine refused a write zenspec needs (disk full, permission denied, read-only
# file system): EX_IOERR of sysexits.h, so neither "a job failed" (1) nor "your input
# is wrong" (2) is claimed for it
EXIT_ENVIRONMENT = 74
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM (scancel, preemption, docker stop, timeout)


def render_location(
    file: Optional[str] = None,
    path: Optional[str] = None,
    line: Optional[int] = None,
    column: Optional[int] = None,
) -> str:
    """``file::$.key.path (line 3, column 5)``; any part may be missing."""
    where = ""
    if file:
        where = str(file)
    if path:
        where = f"{where}::{path}" if where else path
    if line is not None:
        pos = f"line {line}" + (f", column {column}" if column is not None else "")
        where = f"{where} ({pos})" if where else pos
    return where


def describe_error(error: BaseException) -> str:
    """``Type: message`` of a job's error on one line, looking through Hydra's
    instantiation wrapper (to the error the user's target raised)."""
    hydra_errors = sys.modules.get("hydra.errors")  # not imported: no Hydra error either
    wrapper = getattr(hydra_errors, "InstantiationException", None)
    if wrapper is not None and isinstance(error, wrapper) and error.__cause__ is not None:
        error = error.__cause__
    return " ".join(f"{type(error).__name__}: {error}".split())


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` for close matches of *name*, else ``""``."""
    pool = sorted({str(c) for c in candidates})
    close = difflib.get_close_matches(str(name), pool, n=n, cutoff=0.6)
    if not close:
        return ""
    if len(close) == 1:
        return f" Did you mean '{close[0]}'?"
    return " Did you mean one of " + ", ".join(f"'{c}'" for c in close) + "?"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, at one place.

    Validation collects these instead of stopping at the first, so a user fixes
    every mistake in one round.
    """

    message: str
    file: Optional[str] = None
    path: Optional[str] = None
    line: Optional[int] = None
    column: Optional[int] = None
    hint: Optional[str] = None
    #: the key path as keys (``("sweep", "lr")``) where a spec file is the input;
    #: ``path`` is its rendering
    keys: Optional[Tuple[Union[str, int], ...]] = field(default=None, compare=False, repr=False)

    def format(self) -> str:
        where = render_location(self.file, self.path, self.line, self.column)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text.rstrip()} {self.hint.strip()}"
        return text

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
        }


class ZenspecError(Exception):
    """Root of every error zenspec raises on purpose.

    Attributes
    ----------
    exit_code : int
        What the ``zenspec`` command exits with when this error reaches it
        (2: bad input; 1: a job failed).
    problems : tuple of Problem
        Everything wrong, when several problems were collected at once.
    """

    exit_code: int = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str = "",
        *,
        file: Optional[str] = None,
        path: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        hint: Optional[str] = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        if problems and not any(x is not None for x in (file, path, line, column, hint)):
            # the fields of the first problem, so ``e.file``/``e.line`` always say where
            first = problems[0]
            file, path, line, column, hint = first.file, first.path, first.line, first.column, first.hint  # fmt: skip
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint
        if not problems and message:
            problems = (Problem(message, file, path, line, column, hint),)
        self.problems: tuple = tuple(problems)
        super().__init__(self.format_message())

    def format_message(self) -> str:
        """The message a CLI user sees: every problem, one paragraph each."""
        if len(self.problems) > 1:
            head = f"{len(self.problems)} problems found:"
            return head + "\n" + "\n".join(f"  {p.format()}" for p in self.problems)
        if self.problems:
            return self.problems[0].format()
        return self.message

    def __str__(self) -> str:
        return self.format_message()

    def __reduce__(self) -> Tuple[Any, ...]:
        # every field survives a trip through pickle (a launcher's worker process)
        return (_rebuild_error, (type(self), self.args, dict(self.__dict__)))


def _rebuild_error(
    cls: type[ZenspecError], args: Tuple[Any, ...], state: dict[str, Any]
) -> ZenspecError:
    error = cls.__new__(cls)
    error.args = args
    os_fields = state.pop("_os_fields", None)
    error.__dict__.update(state)
    if os_fields is not None:  # OSError keeps these outside __dict__
        assert isinstance(error, OSError)  # only StorageError.__reduce__ sets them
        error.errno, error.strerror, error.filename = os_fields
    return error


class SpecError(ZenspecError):
    """A spec file is malformed, violates the schema or names unknown things."""


class MetricError(SpecError):
    """The metric is not in what the jobs return (a misspelt ``$.experiment.metric``).

    Checked on the first job that completes; no new job is launched after its
    batch, and the jobs that finished stay recorded.

    Attributes
    ----------
    returned_keys : tuple of str
        The keys of the mapping the job returned.
    results : object
        What the sweep computed before it stopped (a study's trials), if anything.
    """

    def __init__(
        self,
        message: str,
        *,
        returned_keys: Sequence[str] = (),
        results: object = None,
        **kw: Any,
    ) -> None:
        self.returned_keys = tuple(returned_keys)
        self.results = results
        super().__init__(message, **kw)


class OverrideError(ZenspecError, ValueError):
    """An override (from Python or the CLI) is malformed or does not apply."""


class BuildsError(ZenspecError, TypeError):
    """``builds()`` was given something its target cannot accept."""


class LaunchError(ZenspecError):
    """A launch was misconfigured (sweeper, launcher, run/multirun mismatch)."""


class SweepLockedError(LaunchError):
    """Another live zenspec process is writing this sweep directory (one writer per sweep)."""


class StorageError(ZenspecError, OSError):
    """The machine refused a write zenspec needs: disk full, permission denied, read-only.

    Raised for the output directory, its records and Hydra's files, which are
    written before a job's task runs: the message names the path and the OS
    error, and the exit code (74, ``EX_IOERR``) is neither "a job failed" (1)
    nor "bad input" (2). An ``OSError``, so ``except OSError`` still catches it.

    Attributes
    ----------
    filename : str or None
        The path the OS refused.
    errno : int or None
        The OS error number (``errno.ENOSPC``, ``errno.EACCES``...).
    """

    exit_code = EXIT_ENVIRONMENT

    @classmethod
    def from_os_error(cls, error: OSError, doing: str = "", *, ran: bool = False) -> StorageError:
        """One paragraph for *error*: the path, the OS's words, and what to do.

        *doing*: what zenspec was doing (``"creating the run directory"``);
        *ran*: whether jobs may have run before (then their results are kept).
        """
        import errno as errnos
        import os

        path = error.filename if error.filename is not None else None
        reason = error.strerror or str(error)
        code = f"[Errno {error.errno}] " if error.errno is not None else ""
        what = f" while {doing}" if doing else ""
        where = f" {path}" if path is not None else ""
        writes = (errnos.ENOSPC, errnos.EACCES, errnos.EPERM, errnos.EROFS, errnos.ENOTDIR)
        verb = "could not write" if error.errno in (*writes, errnos.EEXIST) else "OS error on"
        message = f"{verb}{where}: {code}{reason}{what}."
        message += " Any job that finished before it is recorded." if ran else " No job ran."
        elsewhere = "write elsewhere (hydra.run.dir / hydra.sweep.dir)"
        if error.errno in (errnos.ENOSPC, getattr(errnos, "EDQUOT", errnos.ENOSPC)):
            hint = f"Fix: free space on that file system (or quota), or {elsewhere}."
        elif error.errno in (errnos.EACCES, errnos.EPERM):
            hint = f"Fix: make the directory writable for this user, or {elsewhere}."
        elif error.errno == errnos.EROFS:
            hint = f"Fix: the file system is read-only; {elsewhere}."
        elif error.errno in (errnos.ENOTDIR, errnos.EEXIST):
            hint = f"Fix: a part of that path is a file, not a directory; {elsewhere}."
        else:
            hint = f"Fix: check that the output directory can be written, or {elsewhere}."
        made = cls(message, hint=hint)
        made.errno, made.strerror = error.errno, error.strerror
        made.filename = os.fspath(path) if path is not None else None
        return made

    def __reduce__(self) -> Tuple[Any, ...]:
        rebuild, (cls, args, state) = super().__reduce__()
        state["_os_fields"] = (self.errno, self.strerror, self.filename)
        return (rebuild, (cls, args, state))


class JobFailedError(ZenspecError):
    """One or more jobs of a run failed; the others' results are kept.

    Attributes
    ----------
    results : object
        What was computed before/beside the failure (e.g. the sweeper's return
        value with the failed jobs in it), so nothing is lost.
    """

    exit_code = EXIT_JOB_FAILED

    def __init__(self, message: str, *, results: object = None, **kw: Any) -> None:
        self.results = results
        super().__init__(message, **kw)


class JobDiedError(Exception):
    """A job ended without a Python exception: a signal, ``os._exit``, OOM, a time limit.

    It stands in a failed ``JobReturn`` for the exception the job never raised.

    Attributes
    ----------
    cause : str
        What ended it, as recorded: ``killed by SIGSEGV``, ``exit code 3``,
        ``out of memory (SIGKILL)``, ``SLURM: TIMEOUT``, ``PREEMPTED``...
    """

    def __init__(self, cause: str, detail: str = "") -> None:
        self.cause = cause
        self.detail = detail
        super().__init__(f"{cause}{': ' + detail if detail else ''}")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.cause, self.detail))


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) received: handled as Ctrl-C is, with exit code 143.

    zenspec's command turns the signal into this exception in the main thread,
    so every ``except KeyboardInterrupt`` that records a sweep as interrupted
    handles it too.
    """

    def __init__(self, signum: int = 15) -> None:
        self.signum = signum
        super().__init__(f"received signal {signum}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
