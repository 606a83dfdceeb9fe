"""Work a sweep does while its jobs run: the launchers' wait loops call :func:`tick`.

A launcher waiting on its engine (forked workers, submitit, Ray) calls ``tick()``
at least every :data:`INTERVAL_S`; what is registered runs there, in the sweep's
own thread (no second thread: a forking launcher needs a single-threaded parent).
Pruning (:mod:`zenspec.adaptive.pruning`) reads the running trials' metric
streams this way. With nothing registered a tick costs one list check.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator, List

__all__ = ["INTERVAL_S", "add", "in_background", "remove", "tick"]

#: how long a launcher's wait may block between two ticks (seconds)
INTERVAL_S = 0.02

_callbacks: List[Callable[[], None]] = []


def add(callback: Callable[[], None]) -> None:
    _callbacks.append(callback)


def remove(callback: Callable[[], None]) -> None:
    if callback in _callbacks:
        _callbacks.remove(callback)


def active() -> bool:
    """Whether anything wants ticks (a launcher may then wait in shorter slices)."""
    return bool(_callbacks)


def tick() -> None:
    """Run what is registered; a failing callback is logged, never the launcher's error."""
    for callback in list(_callbacks):
        try:
            callback()
        except Exception as e:  # a pruning hiccup must not cost the jobs
            logging.getLogger(__name__).warning(f"zenspec: {callback!r} failed: {e}")


@contextlib.contextmanager
def in_background() -> Iterator[None]:
    """Tick from a thread during the block: for a wait zenspec cannot wake (joblib's loky).

    Only where no fork can happen while it runs (loky starts fresh interpreters).
    """
    if not _callbacks:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(INTERVAL_S):
            tick()

    thread = threading.Thread(target=run, name="zenspec-ticks", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
