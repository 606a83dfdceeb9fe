"""Worker processes forked from the parent, for the joblib launcher when that is safe.

A loky worker (what Hydra's joblib launcher uses) is a fresh interpreter: it
imports joblib (and numpy, which joblib imports when it is installed),
Hydra, OmegaConf and zenspec before its first job, ~0.45 s of CPU per worker
on this project's 2-CPU benchmark machine, plus loky's resource tracker. A
worker forked from the parent has all of that already: it starts in
milliseconds.

``fork`` is only safe in a process where no other thread can hold a lock the
child will need, so :func:`fork_blocker` allows it only when:

* the platform is Linux (macOS system libraries are not fork-safe);
* the only Python threads besides the main one are zenspec's own, which are
  stopped for each fork and started again after (:func:`pausable`, the
  progress reporter), so the child is copied from a single-threaded process;
* the process has no native threads either (``/proc/self/task``): a BLAS or
  OpenMP pool, a CUDA context, a gRPC client... all start threads, and then
  the launch uses loky, as stock Hydra does;
* ``ZENSPEC_JOBLIB_START`` is unset or ``auto`` (``loky`` forces loky).

In a forked worker, as in a fresh loky worker: the thread-count variables
loky sets (``OMP_NUM_THREADS``... = CPUs // workers, unless set) are set, and
numpy's and torch's global random generators are reseeded from the OS, so
workers never share a random stream (Python's ``random`` reseeds itself
after a fork).
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import os
import signal
import sys
import threading
from typing import Any, Iterator, List, Optional, Protocol

from zenspec.errors import LaunchError

__all__ = [
    "cpu_count",
    "effective_workers",
    "fork_blocker",
    "no_blas_pool",
    "pausable",
    "threads_paused",
]

START_ENV = "ZENSPEC_JOBLIB_START"

# the variables loky sets in its workers (joblib's LokyBackend._prepare_worker_env)
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class Pausable(Protocol):
    """A zenspec thread's owner that can stop its thread for a fork and start it again."""

    thread: Optional[threading.Thread]

    def pause(self) -> None: ...

    def resume(self) -> None: ...


# owners of zenspec threads that are stopped around every fork
_pausable: List[Pausable] = []


@contextlib.contextmanager
def pausable(owner: Pausable) -> Iterator[None]:
    """Declare *owner*'s thread as zenspec's: stopped for each fork, restarted after."""
    _pausable.append(owner)
    try:
        yield
    finally:
        _pausable.remove(owner)


@contextlib.contextmanager
def threads_paused() -> Iterator[None]:
    """No zenspec thread runs inside the block: a fork copies a single-threaded process.

    A fork beside a running thread may copy a lock that thread holds (stderr's,
    the import lock), and Python 3.12+ warns about it; so the threads are joined
    before the fork rather than merely held still, and started again after.
    """
    paused = []
    try:
        for owner in list(_pausable):
            owner.pause()
            paused.append(owner)
        yield
    finally:
        for owner in paused:
            owner.resume()


def _native_threads() -> Optional[int]:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def fork_blocker() -> Optional[str]:
    """Why workers cannot be forked from this process now; ``None`` when they can."""
    choice = os.environ.get(START_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "loky"):
        raise LaunchError(
            f"environment variable {START_ENV}={choice!r}: expected 'auto' (fork workers when "
            "the parent is single-threaded, else loky) or 'loky' (always start fresh interpreters)."
        )
    if choice == "loky":
        return f"{START_ENV}=loky"
    if not sys.platform.startswith("linux"):
        return f"fork is not safe on {sys.platform}"
    if multiprocessing.current_process().daemon:
        return "this process is a daemonic worker"
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if threading.current_thread() is not threading.main_thread():
        return "the launch runs outside the main thread"
    ours = {owner.thread for owner in _pausable}
    foreign = [t.name for t in others if t not in ours]
    if foreign:
        return f"other Python threads are running ({', '.join(sorted(foreign))})"
    native = _native_threads()
    if native is None:
        return "the process's threads cannot be counted (/proc/self/task)"
    if native > 1 + len(others):
        return f"{native - 1 - len(others)} native thread(s) run (a BLAS/OpenMP pool, CUDA...)"
    return None


def cpu_count() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (as loky)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_blas_limited = False  # numpy was first loaded by zenspec, with one BLAS thread


@contextlib.contextmanager
def no_blas_pool() -> Iterator[None]:
    """Import in the block without starting a BLAS thread pool (zenspec's own imports).

    Optuna imports numpy, whose OpenBLAS/MKL start a pool of native threads at
    load; :func:`fork_blocker` then (rightly) refuses to fork, and a pruned or
    Optuna sweep under joblib would lose the forked workers to loky. When numpy
    is not loaded yet, the thread-count variables are set to 1 (those the user
    did not set) for the import only. A forked worker then sets its BLAS threads
    to its share of the CPUs, as loky does, when ``threadpoolctl`` is installed.
    """
    global _blas_limited
    if "numpy" in sys.modules:
        yield
        return
    unset = [var for var in THREAD_VARS if var not in os.environ]
    for var in unset:
        os.environ[var] = "1"
    try:
        yield
    finally:
        for var in unset:
            os.environ.pop(var, None)
        _blas_limited = "numpy" in sys.modules


def _child_init(n_workers: int, parent: int) -> None:
    # Die with the parent: a killed zenspec must leave no worker behind to run
    # queued jobs a second time beside a `zenspec resume`. SIGTERM, not SIGKILL,
    # so the running job is recorded interrupted (and resume runs it again).
    _die_with_parent(parent)
    _interrupt_once()
    # Everything inherited from the parent (modules, caches, the sweep's
    # configs) lives as long as the worker: a full collection scanning it all
    # cost each worker ~17 ms, on the critical path of its next job. Frozen,
    # collections scan only what the worker itself makes (as the gc docs
    # advise for fork without exec).
    gc.freeze()
    threads = str(max(cpu_count() // n_workers, 1))
    for var in THREAD_VARS:
        os.environ.setdefault(var, threads)
    numpy = sys.modules.get("numpy")
    if numpy is not None and _blas_limited:  # the parent's one BLAS thread: the worker's share
        with contextlib.suppress(Exception):
            import threadpoolctl

            threadpoolctl.threadpool_limits(int(threads), user_api="blas")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when its parent dies; exit now if it already has.

    The caller's SIGTERM handler turns it into :class:`~zenspec.errors.Terminated`
    in the running job (it records itself interrupted; ``resume`` runs it again).
    """
    with contextlib.suppress(Exception):  # no libc, another OS: the pipe's EOF still ends us
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl: nobody to work for
        os._exit(1)


def _interrupt_once() -> None:
    """SIGINT and SIGTERM raise in the running job once; later ones cannot cut its record short.

    Ctrl-C reaches every process of the terminal's group (the parent and each
    worker) and the parent forwards the interrupt to its busy workers too: the
    job must see one ``KeyboardInterrupt`` (``Terminated`` for SIGTERM), record
    itself interrupted and return.
    """
    from zenspec.errors import Terminated

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def effective_workers(n_jobs: Any) -> Optional[int]:
    """joblib's reading of ``n_jobs`` (-1: every CPU; -2: all but one...); None if invalid."""
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0:
        return None  # joblib's own error (or sequential run) applies: leave it to joblib
    return n_jobs if n_jobs > 0 else max(cpu_count() + 1 + n_jobs, 1)
