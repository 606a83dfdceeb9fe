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
* the only Python threads besides the main one are zenspec's own, parked for
  the fork (:func:`parkable`: the progress reporter holds its lock while it
  writes, and the pool takes that lock around the fork);
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

import collections
import contextlib
import gc
import math
import multiprocessing
import os
import pickle
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

from zenspec.errors import JobFailedError, LaunchError

__all__ = ["cpu_count", "effective_workers", "fork_blocker", "parkable", "run_forked"]

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

# zenspec threads that can be parked for a fork: thread -> the lock it holds while active
_parkable: Dict[threading.Thread, threading.Lock] = {}


@contextlib.contextmanager
def parkable(thread: threading.Thread, lock: threading.Lock) -> Iterator[None]:
    """Declare *thread* safe to fork beside while *lock* is held by the forking thread."""
    _parkable[thread] = lock
    try:
        yield
    finally:
        _parkable.pop(thread, None)


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
    foreign = [t.name for t in others if t not in _parkable]
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


def _child_init(n_workers: int) -> None:
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
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


def _window(pre_dispatch: Any, n_workers: int) -> int:
    """joblib's ``pre_dispatch`` ("2*n_jobs", "all", an int) as a count of jobs in flight."""
    if isinstance(pre_dispatch, int):
        return max(pre_dispatch, n_workers)
    text = str(pre_dispatch).replace(" ", "")
    if text == "all":
        return sys.maxsize
    factor, star, name = text.partition("*")
    try:
        if star and name == "n_jobs":
            return max(int(float(factor) * n_workers), n_workers)
        if not star and text == "n_jobs":
            return n_workers
        return max(int(text), n_workers)
    except ValueError:
        return 2 * n_workers


def run_forked(
    fn: Callable[..., Any],
    calls: Iterable[Tuple[Any, ...]],
    n_workers: int,
    pre_dispatch: Any = "2*n_jobs",
    describe: Callable[[int], str] = lambda i: f"job #{i}",
) -> List[Any]:
    """``[fn(*args) for args in calls]``, run on *n_workers* forked processes, in order.

    *calls* is consumed lazily, at most ``pre_dispatch`` ahead of the results,
    so producing the arguments overlaps the running jobs. All workers are
    forked at the first call, with zenspec's own threads parked. A worker
    that dies (killed, segfault, ``os._exit``) breaks the pool, as in loky: a
    :class:`JobFailedError` naming the first job without a result; the jobs
    that finished were recorded by their workers.
    """
    import cloudpickle  # the joblib extra's (zenspec itself runs without it)

    window = _window(pre_dispatch, n_workers)
    ctx = multiprocessing.get_context("fork")
    results: List[Any] = []
    pending: Deque[Tuple[int, Future]] = collections.deque()
    pool = ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=_child_init, initargs=(n_workers,)
    )
    try:
        for i, args in enumerate(calls):
            # cloudpickle both ways, as loky: a config may hold classes made at
            # run time (builds()), which the pool's standard pickler cannot name
            call = cloudpickle.dumps((fn, args), protocol=5)
            if i == 0:
                with contextlib.ExitStack() as parked:
                    for lock in list(_parkable.values()):
                        parked.enter_context(lock)
                    # the first submit forks every worker (fork context), before
                    # the executor starts its own threads
                    pending.append((i, pool.submit(_invoke, call)))
            else:
                pending.append((i, pool.submit(_invoke, call)))
            while len(pending) >= window:
                results.append(_result(*pending.popleft(), describe))
        while pending:
            results.append(_result(*pending.popleft(), describe))
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _invoke(call: bytes) -> bytes:
    """In a worker: ``fn(*args)``, the result pickled by cloudpickle."""
    import cloudpickle

    fn, args = pickle.loads(call)
    return cloudpickle.dumps(fn(*args), protocol=5)  # type: ignore[no-any-return]


def _result(i: int, future: Future, describe: Callable[[int], str]) -> Any:
    try:
        return pickle.loads(future.result())
    except BrokenProcessPool as e:
        raise JobFailedError(
            "a worker process died (killed, out of memory, a crash in native code or "
            f"os._exit in a task) before {describe(i)} and the jobs after it had returned; "
            "the pool cannot go on. The jobs that finished are recorded: `zenspec resume "
            "<sweep dir>` runs the rest (a job's .running marker without a record shows "
            f"which ran when it died). Set {START_ENV}=loky to start workers as fresh "
            "interpreters instead of forking them."
        ) from e


def effective_workers(n_jobs: Any) -> Optional[int]:
    """joblib's reading of ``n_jobs`` (-1: every CPU; -2: all but one...); None if invalid."""
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0:
        return None  # joblib's own error (or sequential run) applies: leave it to joblib
    return n_jobs if n_jobs > 0 else max(cpu_count() + 1 + n_jobs, 1)
