"""Leave the process as we found it.

Hydra is built for one ``@hydra.main`` per process: it keeps GlobalHydra,
HydraConfig, JobRuntime and VersionBase singletons, reconfigures the root
logger per job (``logging.config.dictConfig``), may ``chdir`` and set
environment variables. A library that launches Hydra jobs from Python, many
times in one process, must undo all of that after every call. This module is
that undo, as one context manager.
"""

from __future__ import annotations

import copy
import logging
import os
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobRuntime
from hydra.version import VersionBase

from zenspec._compatibility import HYDRA_14

__all__ = ["hydra_isolation", "scoped_store"]

# ConfigStore.store(replace=True): hydra-core 1.4's way to replace an entry without its
# Hydra15MigrationWarning (1.3 has no such parameter and replaces silently)
_REPLACE: Dict[str, Any] = {"replace": True} if HYDRA_14 else {}

_LoggerState = Tuple[int, List[logging.Handler], bool, bool]


@dataclass
class _Snapshot:
    cwd: str
    environ: Dict[str, str]
    root_state: _LoggerState
    loggers: Dict[str, _LoggerState]
    handlers: set
    global_hydra: Any
    hydra_config: Any
    job_runtime: Any
    version_base: Any
    disable: int
    extra: Dict[str, Any] = field(default_factory=dict)


def _logger_state(lg: logging.Logger) -> _LoggerState:
    return (lg.level, list(lg.handlers), lg.propagate, lg.disabled)


def _take() -> _Snapshot:
    manager = logging.Logger.manager
    loggers = {
        name: _logger_state(lg)
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger)
    }
    return _Snapshot(
        cwd=os.getcwd(),
        environ=dict(os.environ),
        root_state=_logger_state(logging.getLogger()),
        loggers=loggers,
        handlers=set(_all_handlers()),
        global_hydra=GlobalHydra.instance().hydra,
        hydra_config=HydraConfig.instance().cfg,
        job_runtime=copy.deepcopy(JobRuntime.instance().conf),
        version_base=VersionBase.instance().version_base,
        disable=logging.root.manager.disable,
    )


def _all_handlers() -> List[logging.Handler]:
    found = list(logging.getLogger().handlers)
    for lg in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(lg, logging.Logger):
            found.extend(lg.handlers)
    return found


def _restore_logger(lg: logging.Logger, state: _LoggerState) -> None:
    level, handlers, propagate, disabled = state
    lg.setLevel(level)
    lg.handlers = list(handlers)
    lg.propagate = propagate
    lg.disabled = disabled


def _restore(snap: _Snapshot) -> None:
    if os.getcwd() != snap.cwd:
        os.chdir(snap.cwd)
    for key in set(os.environ) - set(snap.environ):
        del os.environ[key]
    for key, value in snap.environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value

    # Handlers Hydra installed (console, the job's log file) are closed so the
    # file is flushed and no descriptor leaks, then the old ones are put back.
    added = [h for h in _all_handlers() if h not in snap.handlers]
    _restore_logger(logging.getLogger(), snap.root_state)
    for name, lg in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        if name in snap.loggers:
            _restore_logger(lg, snap.loggers[name])
        else:
            _restore_logger(lg, (logging.NOTSET, [], True, False))
    logging.disable(snap.disable)
    for h in added:
        try:
            h.flush()
            h.close()
        except Exception:  # a broken handler must not mask the job's outcome
            pass

    GlobalHydra.instance().hydra = snap.global_hydra
    HydraConfig.instance().cfg = snap.hydra_config
    JobRuntime.instance().conf = snap.job_runtime
    VersionBase.instance().version_base = snap.version_base


@contextmanager
def hydra_isolation() -> Iterator[None]:
    """Run a block with Hydra's globals, logging, cwd and environment restored after.

    Nested use is supported: a task function may itself call ``hydra_run``.
    """
    snap = _take()
    GlobalHydra.instance().hydra = None
    try:
        yield
    finally:
        _restore(snap)


_ABSENT = object()


def _split(path: str) -> Tuple[List[str], str]:
    parts = [p for p in path.split("/") if p]
    return parts[:-1], parts[-1]


# The ConfigNode last registered under each (group, file) and its signature.
# Registering an equal node again puts that same object back: the fast config
# loader tells a changed ConfigStore by node identity, so a hydra_run repeated
# with the same config reuses its composition instead of starting over.
_last_stored: OrderedDict[Tuple[Tuple[str, ...], str], Tuple[Any, Any]] = OrderedDict()
_MAX_REMEMBERED = 256


# zenspec's own config dataclasses (its sweepers' and launchers' configs) never
# change in a process: each is converted by ConfigStore.store once, not per call.
_own_nodes: Dict[Tuple[Optional[str], str, Any], Any] = {}


def _own_node(node: Any) -> bool:
    return isinstance(node, type) and node.__module__.startswith("zenspec.")


def _holder(cs: ConfigStore, groups: List[str]) -> Dict[str, Any]:
    """The ConfigStore dict of a group (made, as ``ConfigStore.store`` makes it)."""
    holder: Dict[str, Any] = cs.repo
    for g in groups:
        holder = holder.setdefault(g, {})
    return holder


def _reuse_stored(holder: Dict[str, Any], groups: List[str], filename: str) -> None:
    from zenspec.accelerate.job_snapshots import signature

    new = holder[filename]
    key = (tuple(groups), filename)
    try:
        sig = (new.name, new.group, new.package, new.provider, signature(new.node))
    except Exception:  # a node signature cannot describe: never reused
        _last_stored.pop(key, None)
        return
    last = _last_stored.get(key)
    if last is not None and last[0] == sig:
        holder[filename] = last[1]
        _last_stored.move_to_end(key)
        return
    _last_stored[key] = (sig, new)
    if len(_last_stored) > _MAX_REMEMBERED:
        _last_stored.popitem(last=False)


@contextmanager
def scoped_store(entries: List[Tuple[Optional[str], str, Any]]) -> Iterator[None]:
    """Register ``(group, name, node)`` entries in Hydra's ConfigStore for a block.

    Afterwards each entry is removed, or the user's entry it shadowed is put
    back, so nothing is left behind or silently overwritten. Entries the block
    itself stored (e.g. a task importing a module) are left alone.
    """
    cs = ConfigStore.instance()
    previous: List[Tuple[List[str], str, Any]] = []
    try:
        for group, name, node in entries:
            groups = [p for p in (group or "").split("/") if p]
            filename = name if name.endswith(".yaml") else f"{name}.yaml"
            cur = cs.repo
            for g in groups:
                cur = cur.get(g, {})
            previous.append((groups, filename, cur.get(filename, _ABSENT)))
            own = _own_node(node)
            cached = _own_nodes.get((group, name, node)) if own else None
            if cached is not None:
                _holder(cs, groups)[filename] = cached  # what cs.store made of it last time
                continue
            # shadowing is the point (the old entry is put back): say so where
            # hydra-core 1.4 warns about a silent replace
            cs.store(group=group, name=name, node=node, provider="zenspec", **_REPLACE)
            holder = _holder(cs, groups)
            if own:
                _own_nodes[(group, name, node)] = holder[filename]
            else:
                _reuse_stored(holder, groups, filename)
        yield
    finally:
        for groups, filename, old in reversed(previous):
            chain = [cs.repo]
            for g in groups:
                nxt = chain[-1].get(g)
                if not isinstance(nxt, dict):
                    break
                chain.append(nxt)
            else:
                if old is _ABSENT:
                    chain[-1].pop(filename, None)
                else:
                    chain[-1][filename] = old
                # drop the groups we created that are now empty
                for depth in range(len(groups), 0, -1):
                    if not chain[depth]:
                        chain[depth - 1].pop(groups[depth - 1], None)
                    else:
                        break
