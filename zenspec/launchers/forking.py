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

import contextlib
import gc
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from zenspec.errors import JobFailedError, LaunchError
from zenspec.records.lost import describe_exit

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
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when its parent dies; exit now if it already has.

    SIGTERM raises :class:`~zenspec.errors.Terminated` in the running job (it
    records itself interrupted, and ``resume`` runs it again).
    """
    from zenspec.errors import Terminated

    def terminated(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the record be written
        raise Terminated(signum)

    with contextlib.suppress(ValueError):  # not the main thread: the default action stays
        signal.signal(signal.SIGTERM, terminated)
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


def _worker_main(conn: Connection, n_workers: int, parent: int) -> None:
    """A forked worker: run the calls the parent sends, one at a time, until told to stop."""
    import cloudpickle

    try:
        _child_init(n_workers, parent)
        while True:
            message = conn.recv_bytes()
            if not message:  # the parent's "no more work"
                break
            try:
                fn, args = pickle.loads(message)
                reply = cloudpickle.dumps(("ok", fn(*args)), protocol=5)
            except KeyboardInterrupt:  # (Terminated too) the job recorded itself interrupted
                conn.send_bytes(pickle.dumps(("interrupted", None)))
                break
            except Exception as e:
                try:
                    reply = cloudpickle.dumps(("error", e), protocol=5)
                except Exception:
                    reply = pickle.dumps(("error", RuntimeError(f"{type(e).__name__}: {e}")))
            conn.send_bytes(reply)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent went away, or interrupted us while idle
    finally:
        conn.close()
    os._exit(0)  # nothing of the parent's (atexit, finalizers) runs in a fork


class _Worker:
    """One forked process, its end of the pipe, and the call it runs (None: idle)."""

    def __init__(self, ctx: Any, n_workers: int) -> None:
        ours, theirs = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main, args=(theirs, n_workers, os.getpid()), daemon=True
        )
        with contextlib.ExitStack() as parked:  # zenspec's own threads hold still
            for lock in list(_parkable.values()):
                parked.enter_context(lock)
            self.process.start()
        theirs.close()
        self.conn: Connection = ours
        self.job: Optional[int] = None

    def stop(self, timeout: float) -> None:
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


LostJob = Callable[[int, str, str], Any]

#: how long busy workers get to record their interrupted jobs after Ctrl-C/SIGTERM
INTERRUPT_GRACE_S = 10.0


def run_forked(
    fn: Callable[..., Any],
    calls: Iterable[Tuple[Any, ...]],
    n_workers: int,
    pre_dispatch: Any = "2*n_jobs",
    describe: Callable[[int], str] = lambda i: f"job #{i}",
    on_lost: Optional[LostJob] = None,
) -> List[Any]:
    """``[fn(*args) for args in calls]``, run on *n_workers* forked processes, in order.

    *calls* is consumed lazily, one call per idle worker, so producing the
    arguments overlaps the running jobs and nothing is queued to a worker
    ahead of time: after an interrupt no new job starts. (*pre_dispatch* is
    accepted for joblib's settings; the parent dispatches to idle workers only.)

    A worker that dies (a signal, ``os._exit``, the OOM killer) takes only its
    own job: ``on_lost(i, cause, "failed")`` gives that job's result (a failed
    job, recorded), a fresh worker is forked in its place and the rest run.
    On Ctrl-C or SIGTERM in the parent, no new job starts, busy workers get
    the signal once (their jobs record themselves interrupted), jobs that did
    not answer within :data:`INTERRUPT_GRACE_S` are killed and given to
    ``on_lost(i, cause, "interrupted")``, and the interrupt propagates.
    Without *on_lost*, a dead worker is a :class:`JobFailedError`.
    """
    ctx = multiprocessing.get_context("fork")
    results: Dict[int, Any] = {}
    source = enumerate(calls)
    exhausted = False
    workers: List[_Worker] = []
    import cloudpickle

    def dispatch(worker: _Worker) -> None:
        nonlocal exhausted
        if exhausted:
            return
        try:
            i, args = next(source)
        except StopIteration:
            exhausted = True
            return
        # cloudpickle both ways, as loky: a config may hold classes made at
        # run time (builds()), which the standard pickler cannot name
        worker.conn.send_bytes(cloudpickle.dumps((fn, args), protocol=5))
        worker.job = i

    try:
        for _ in range(n_workers):
            if exhausted:
                break
            worker = _Worker(ctx, n_workers)
            workers.append(worker)
            dispatch(worker)
        while True:
            busy = [w for w in workers if w.job is not None]
            if not busy:
                break
            by_handle: Dict[Any, _Worker] = {}
            for w in busy:
                by_handle[w.conn] = w
                by_handle[w.process.sentinel] = w
            for handle in wait(list(by_handle)):
                worker = by_handle[handle]
                if worker.job is None:
                    continue  # its pipe and its sentinel both fired
                i = worker.job
                reply = _receive(worker)
                if reply is None:  # died without answering
                    worker.process.join()
                    cause = describe_exit(worker.process.exitcode)
                    workers.remove(worker)
                    worker.conn.close()
                    worker.job = None
                    if on_lost is None:
                        raise JobFailedError(_died(describe(i), cause))
                    results[i] = on_lost(i, cause, "failed")
                    if not exhausted:  # a fresh worker takes its place
                        replacement = _Worker(ctx, n_workers)
                        workers.append(replacement)
                        dispatch(replacement)
                    continue
                worker.job = None
                dispatch(worker)  # the next job first: unpickling overlaps it
                kind, value = pickle.loads(reply)
                if kind == "error":
                    raise value
                if kind == "interrupted":  # Ctrl-C reached the worker before us
                    raise KeyboardInterrupt
                results[i] = value
    except KeyboardInterrupt as e:
        _interrupt(workers, results, e, on_lost, describe)
        raise
    finally:
        for worker in workers:
            worker.stop(timeout=5)
    return [results[i] for i in sorted(results)]


def _receive(worker: _Worker) -> Optional[bytes]:
    """The worker's reply, or None if it died without one."""
    try:
        # its sentinel may fire first: a reply it sent before dying is still read
        if worker.conn.poll() or (worker.process.is_alive() and worker.conn.poll(1)):
            return worker.conn.recv_bytes()
    except (EOFError, OSError):
        pass
    return None


def _interrupt(
    workers: List[_Worker],
    results: Dict[int, Any],
    error: BaseException,
    on_lost: Optional[LostJob],
    describe: Callable[[int], str],
) -> None:
    """Stop at an interrupt: busy workers told once, given time to record, then killed."""
    import time

    from zenspec.errors import Terminated

    signum = signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT
    busy = [w for w in workers if w.job is not None]
    for w in busy:
        with contextlib.suppress(OSError):
            os.kill(w.process.pid, signum)
    deadline = time.monotonic() + INTERRUPT_GRACE_S
    while any(w.job is not None for w in busy) and time.monotonic() < deadline:
        pending = {w.conn: w for w in busy if w.job is not None}
        pending.update({w.process.sentinel: w for w in busy if w.job is not None})
        for handle in wait(list(pending), timeout=max(0.0, deadline - time.monotonic())):
            worker = pending[handle]
            if worker.job is None:
                continue
            reply = _receive(worker)
            if reply is not None:
                with contextlib.suppress(Exception):
                    kind, value = pickle.loads(reply)
                    if kind == "ok":
                        results[worker.job] = value
            elif worker.process.is_alive():
                continue
            if worker.job not in results and on_lost is not None:
                on_lost(worker.job, f"interrupted ({signal.Signals(signum).name})", "interrupted")
            worker.job = None
    for w in busy:
        if w.job is not None:  # did not stop in time: killed, recorded interrupted
            w.process.kill()
            w.process.join(5)
            if on_lost is not None:
                on_lost(
                    w.job,
                    f"interrupted ({signal.Signals(signum).name}; killed after "
                    f"{INTERRUPT_GRACE_S:g} s)",
                    "interrupted",
                )
            w.job = None


def _died(what: str, cause: str) -> str:
    return (
        f"a worker process died ({cause}) while running {what}; the pool cannot go on. "
        "The jobs that finished are recorded: `zenspec resume <sweep dir>` runs the rest. "
        f"Set {START_ENV}=loky to start workers as fresh interpreters instead of forking them."
    )


def effective_workers(n_jobs: Any) -> Optional[int]:
    """joblib's reading of ``n_jobs`` (-1: every CPU; -2: all but one...); None if invalid."""
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0:
        return None  # joblib's own error (or sequential run) applies: leave it to joblib
    return n_jobs if n_jobs > 0 else max(cpu_count() + 1 + n_jobs, 1)
