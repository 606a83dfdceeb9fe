"""Switches for zenspec's speed pieces: off on request, and off by themselves when they fail.

Every speed piece (``zenspec/launch/fast_*.py``) has stock Hydra's code path
beside it, and :func:`shortcut` picks between the two for each call:

* a piece runs only while :func:`enabled` says so;
* a piece that raises where stock does not (a bug, an input it was never
  proven on, an OmegaConf that changed underneath it) is switched off for the
  rest of the process, with one warning on the ``zenspec.fast`` logger (on
  stderr, never in a job's log), and that call gets stock's result: a shortcut
  that fails never fails the command (:func:`disabled` lists what failed);
* when stock raises too, the input was at fault, not the piece: stock's own
  error propagates and the piece stays on.

``ZENSPEC_FAST=0`` (or ``false``/``no``/``off``) in the environment switches
every piece off, as ``fast=False`` does: stock Hydra's code path for the whole
launch. ``ZENSPEC_FAST_OFF=piece,piece`` switches off those pieces only (to rule
one out, or to measure what each buys: ``bench/bench_sweeps.py --ablation``).
Both are read at each call, so a change takes effect at the next launch.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from typing import Callable, Dict, FrozenSet, Iterator, Optional, TypeVar

__all__ = [
    "PIECES",
    "all_off",
    "disable",
    "disabled",
    "enabled",
    "proven",
    "reset",
    "shortcut",
    "stock_only",
]

#: the speed pieces, by the name the switches and the warning use
PIECES: Dict[str, str] = {
    "composition": "composition_cache: jobs composed from a cached defaults tree",
    "validate": "batch_check: the batch check without a second full composition per job",
    "run_job": "job_runner: run_job with one HydraConfig copy and a lighter task copy",
    "snapshot": "job_return: each job's hydra_cfg kept pickled until read",
    "skeleton": "hydra_yaml_skeleton: hydra.yaml as its job preset's text, five holes filled",
    "render": "hydra_yaml: hydra.yaml reusing the blocks every job of a base shares",
    "yaml": "yaml_text: OmegaConf.to_yaml's text without PyYAML's emitter",
    "logging": "logging_setup: the job's logging dict kept per base, its interpolations resolved",
    "overrides": "simple_overrides: simple override lines parsed without ANTLR",
    "grammar": "interpolation_cache: the interpolations zenspec resolves itself, each parsed once",
}


def _proven() -> FrozenSet[str]:
    from zenspec import _compatibility as compat

    run_job = compat.FAST_RUN_JOB  # snapshot, skeleton, render and logging live in its run_job
    needs = {
        "composition": compat.FAST_COMPOSITION,
        # on 1.4 the cache serves jobs through _load_configuration (LOAD_HOOK_14),
        # after Hydra's own per-job check: zenspec's batch check has no place there
        "validate": compat.FAST_COMPOSITION and not compat.LOAD_HOOK_14,
        "run_job": run_job,
        "snapshot": run_job,
        "skeleton": run_job,
        "render": run_job,
        "logging": run_job and compat.FAST_LOGGING,
        "yaml": compat.FAST_YAML,
        "overrides": True,
        "grammar": compat.FAST_GRAMMAR,
    }
    return frozenset(piece for piece, ok in needs.items() if ok)


#: the pieces proven for the installed Hydra/OmegaConf (the flags of _compatibility)
_PROVEN = _proven()


def proven(piece: str) -> bool:
    """Whether *piece* is proven for the installed Hydra/OmegaConf (the flags of
    :mod:`zenspec._compatibility`): an unproven piece never runs, whatever the switches."""
    return piece in _PROVEN


ENV_ALL = "ZENSPEC_FAST"
ENV_OFF = "ZENSPEC_FAST_OFF"
_FALSE = frozenset({"0", "false", "no", "off"})

# Not propagated: a piece failing inside a job must not write into the job's log
# (its outputs stay stock's); with no handler of its own, Python's last-resort
# handler prints the warning on stderr. Add a handler here to route it elsewhere.
log = logging.getLogger("zenspec.fast")
log.propagate = False
_lock = threading.Lock()
_failed: Dict[str, str] = {}  # piece -> why it was switched off

T = TypeVar("T")


# set by stock_only() for one launch (``hydra_run(..., fast=False)``); a context
# variable: a thread or task launching with fast=True beside it is not affected
_stock_only: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "zenspec_stock_only", default=False
)


@contextlib.contextmanager
def stock_only(on: bool = True) -> Iterator[None]:
    """Every piece off inside the block (when *on*): ``fast=False`` for one launch."""
    if not on:
        yield
        return
    token = _stock_only.set(True)
    try:
        yield
    finally:
        _stock_only.reset(token)


def all_off() -> bool:
    """Whether ``ZENSPEC_FAST`` (or ``fast=False`` for this launch) asks for stock
    Hydra's code path throughout."""
    if _stock_only.get():
        return True
    value = os.environ.get(ENV_ALL)
    return value is not None and value.strip().lower() in _FALSE


def enabled(piece: str) -> bool:
    """Whether *piece* may run: proven for this Hydra, not switched off by the
    environment or by a failure."""
    if piece not in _PROVEN or piece in _failed or all_off():
        return False
    off = os.environ.get(ENV_OFF)
    return not off or piece not in {p.strip() for p in off.split(",")}


def disable(piece: str, error: BaseException) -> None:
    """Switch *piece* off for the rest of the process (one warning, the first time)."""
    reason = f"{type(error).__name__}: {' '.join(str(error).split())}"[:300]
    with _lock:
        if piece in _failed:
            return
        _failed[piece] = reason
    log.warning(
        "zenspec: the %r shortcut failed (%s) and is off for the rest of this process; "
        "stock Hydra's code path runs instead (outputs are the same, only slower). "
        "Please report this.",
        piece,
        reason,
    )


def disabled() -> Dict[str, str]:
    """The pieces switched off by a failure in this process, and why."""
    with _lock:
        return dict(_failed)


def reset(piece: Optional[str] = None) -> None:
    """Switch a failed piece (every one by default) back on: for tests."""
    with _lock:
        if piece is None:
            _failed.clear()
        else:
            _failed.pop(piece, None)


def shortcut(piece: str, fast: Callable[[], T], stock: Callable[[], T]) -> T:
    """``fast()`` while *piece* is on; else, or when it raises and ``stock()`` does not, ``stock()``.

    When both raise, the error is the input's: stock's own propagates (not
    chained to the shortcut's) and the piece stays on. An ``OSError`` is the
    machine's, not the piece's: raised as it is.
    """
    if not enabled(piece):
        return stock()
    try:
        return fast()
    except OSError:  # the machine's (a full disk, a permission): stock would meet it too
        raise
    except Exception as e:  # outside this block, stock's error is not chained to it
        error: Optional[Exception] = e
    result = stock()
    assert error is not None
    disable(piece, error)
    return result
