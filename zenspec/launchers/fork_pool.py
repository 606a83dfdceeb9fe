"""The pool of forked workers: one call per idle worker, a dead one replaced, interrupts honoured.

:func:`run_forked` runs ``fn(*args)`` for each call on workers forked from
this process (see :mod:`zenspec.launchers.forking` for when that is safe and
what each worker sets up). It is zenspec's own pool rather than
``concurrent.futures``: it must know which job each worker runs, so that a
worker's death fails that job alone (with its exit status) and a fresh worker
takes its place, and it must queue nothing ahead to a worker, so that no job
starts after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from zenspec.errors import JobFailedError
from zenspec.launchers.forking import START_ENV, _child_init, threads_paused
from zenspec.records.lost import describe_exit

__all__ = ["INTERRUPT_GRACE_S", "run_forked"]


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
        with threads_paused():  # forked from a single-threaded process
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
    on_result: Optional[Callable[[int, Any], None]] = None,
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

    With *on_result*, each result goes to ``on_result(i, result)`` the moment it
    arrives, before the freed worker takes the next call (which *calls* may then
    make from it), and the list returned is empty. While jobs run, the wait
    wakes for :func:`zenspec.launch.ticks.tick` when something wants ticks.
    """
    from zenspec.launch import ticks

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
            woken = wait(list(by_handle), timeout=ticks.INTERVAL_S if ticks.active() else None)
            ticks.tick()
            for handle in woken:
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
                    if on_result is not None:
                        on_result(i, results.pop(i))
                    if not exhausted:  # a fresh worker takes its place
                        replacement = _Worker(ctx, n_workers)
                        workers.append(replacement)
                        dispatch(replacement)
                    continue
                worker.job = None
                if on_result is None:
                    dispatch(worker)  # the next job first: unpickling overlaps it
                kind, value = pickle.loads(reply)
                if kind == "error":
                    raise value
                if kind == "interrupted":  # Ctrl-C reached the worker before us
                    raise KeyboardInterrupt
                if on_result is None:
                    results[i] = value
                else:  # told first, so the next call can be asked knowing this result
                    on_result(i, value)
                    dispatch(worker)
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
        # keyed by what wait() returns: a worker's pipe end or its process sentinel (an
        # int); wait() is typed to return any connection or socket, not one of these
        pending: Dict[Any, _Worker] = {w.conn: w for w in busy if w.job is not None}
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
