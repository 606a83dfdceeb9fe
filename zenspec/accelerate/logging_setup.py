"""Hydra's ``configure_log`` without rebuilding an unchanged logging config per job.

Stock ``configure_log`` turns the ``hydra.job_logging`` (or ``hydra_logging``)
node into a dict with ``OmegaConf.to_container(resolve=True)`` before handing
it to ``logging.config``: ~0.6 ms a job, mostly re-parsing the same
interpolation (``${hydra.runtime.output_dir}/${hydra.job.name}.log``) with
OmegaConf's grammar. Every job of a cached base has the same logging node but
for what its interpolations resolve to, so :func:`configure_log` keeps the
node's unresolved dict per base and resolves only the string leaves that may
interpolate, from the job's own node. The first use of each entry is checked
against stock's dict, and an entry that differs is never used.

``logging.config`` itself still runs on every call, with a fresh dict, exactly
as stock: handlers, files and streams (``ext://sys.stdout``) are all made anew.
An unexpected error here switches the piece off for the process and the call
goes to stock's ``configure_log`` (:mod:`zenspec.accelerate.switches`, ``logging``).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import pathlib
import threading
from collections import OrderedDict
from typing import Any, Hashable, List, Optional, Sequence, Tuple, Union

from hydra.core.utils import configure_log as stock_configure_log
from omegaconf import Container, DictConfig, ListConfig, OmegaConf

from zenspec._compatibility import (
    RUN_JOB_LOGS_ERRORS,
    configure_logging,
    is_none_node,
    node_of,
)
from zenspec.accelerate import interpolation_cache
from zenspec.accelerate.switches import enabled, shortcut

__all__ = ["configure_log", "log_job_error", "logging_config_error"]

_Path = Tuple[Union[str, int], ...]
# key -> (unresolved dict, paths of the leaves to resolve per job), or None: stock
_entries: OrderedDict[Hashable, Optional[Tuple[Any, List[_Path]]]] = OrderedDict()
_lock = threading.Lock()
_MAX_ENTRIES = 64


def configure_log(
    log_config: Optional[DictConfig],
    verbose_config: Union[bool, str, Sequence[str]] = False,
    key: Optional[Hashable] = None,
) -> None:
    """``hydra.core.utils.configure_log``; *key* names a node whose content is the same
    for every call with that key except for what its interpolations resolve to (None:
    no such promise, stock's path)."""
    if (
        key is None
        or not isinstance(log_config, DictConfig)
        or is_none_node(log_config)
        or not enabled("logging")
    ):
        # (stock handles a None logging config though typed DictConfig)
        return stock_configure_log(log_config, verbose_config)  # type: ignore[arg-type]
    shortcut(
        "logging",
        lambda: _configure_log(log_config, verbose_config, key),
        lambda: stock_configure_log(log_config, verbose_config),
    )


def _configure_log(log_config: DictConfig, verbose_config: Any, key: Hashable) -> None:
    with _lock:
        entry = _entries.get(key, False)
        if entry is not False:
            _entries.move_to_end(key)
    if entry is None:
        return stock_configure_log(log_config, verbose_config)
    if entry is False:
        entry = _first_use(key, log_config)
        if entry is None:
            return stock_configure_log(log_config, verbose_config)
    assert entry is not True  # (the get's default is False)
    _apply(_filled(entry, log_config), verbose_config)


def _filled(entry: Tuple[Any, List[_Path]], log_config: DictConfig) -> Any:
    """A fresh copy of the entry's dict, its interpolating leaves resolved from *log_config*."""
    template, paths = entry
    conf = _fresh(template)
    for path in paths:
        _put(conf, path, _resolved(log_config, path))
    return conf


_IMMUTABLE = (str, int, float, bool, type(None), bytes, pathlib.PurePath)


def _fresh(data: Any) -> Any:
    """``copy.deepcopy`` of config data (dicts, lists, immutable leaves), ~5x faster.

    The dict must be new per call: ``logging.config`` writes into it (converted
    values, popped keys). A leaf of any other type is deep-copied as before.
    """
    kind = type(data)
    if kind is dict:
        return {k: _fresh(v) for k, v in data.items()}
    if kind is list:
        return [_fresh(v) for v in data]
    return data if isinstance(data, _IMMUTABLE) else copy.deepcopy(data)


def _apply(conf: Any, verbose_config: Any) -> None:
    """The rest of stock ``configure_log`` (hydra-core 1.3), on the dict it would make."""
    assert isinstance(verbose_config, (bool, str)) or OmegaConf.is_list(verbose_config)
    if conf["root"] is not None:
        configure_logging(conf)
    if isinstance(verbose_config, bool):
        if verbose_config:
            logging.getLogger().setLevel(logging.DEBUG)
    else:
        if isinstance(verbose_config, str):
            verbose_list = OmegaConf.create([verbose_config])
        else:
            verbose_list = verbose_config
        for logger in verbose_list:
            logging.getLogger(logger).setLevel(logging.DEBUG)


def _first_use(key: Hashable, log_config: DictConfig) -> Optional[Tuple[Any, List[_Path]]]:
    template = OmegaConf.to_container(log_config, resolve=False)
    paths: List[_Path] = []
    _interpolating_leaves(template, (), paths)
    entry: Optional[Tuple[Any, List[_Path]]] = (template, paths)
    try:
        if _filled((template, paths), log_config) != OmegaConf.to_container(
            log_config, resolve=True
        ):
            entry = None
    except Exception:  # stock raises its own error, on its own path
        entry = None
    with _lock:
        _entries[key] = entry
        if len(_entries) > _MAX_ENTRIES:
            _entries.popitem(last=False)
    return entry


def _interpolating_leaves(data: Any, path: _Path, out: List[_Path]) -> None:
    # "$" or "\\" anywhere: an interpolation, or an escape that resolving rewrites
    if isinstance(data, dict):
        for k, v in data.items():
            _interpolating_leaves(v, (*path, k), out)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _interpolating_leaves(v, (*path, i), out)
    elif isinstance(data, str) and ("$" in data or "\\" in data):
        out.append(path)


def _resolved(node: Container, path: _Path) -> Any:
    for part in path[:-1]:
        node = node_of(node, part)
    value = interpolation_cache.item(node, path[-1])  # node[key], its parse tree kept
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _put(data: Any, path: _Path, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


# The logger upstream Hydra logs a failed job's exception on (hydra#3215)
_job_log = logging.getLogger("hydra.core.utils")


def log_job_error(error: BaseException, within: Optional[str] = None) -> Optional[str]:
    """Write *error*'s traceback to the job's log file(s); return the first file's path.

    Called by :class:`~zenspec.records.jobs.RecordingTask` (zenspec's records, on by
    default), inside the job, so every launcher's jobs do it; ``run_job`` itself stays
    stock's (``tests/differential``). As upstream Hydra does since hydra#3215: an ERROR
    record with the traceback,
    handed to the root logger's file handlers only (the console gets the
    summary zenspec prints after the sweep, not a traceback per job). Once per
    exception: the path is kept on it as ``zenspec_job_log``, which the launch
    core and the CLI name in their messages (it survives pickling, so a worker's
    job reports it too). *within*: only log files inside this directory (the
    job's), never a file handler of the caller's own. Never raises: a log that
    cannot be written must not change how the job is reported. On hydra-core 1.4,
    whose ``run_job`` writes that record itself, only the file is found and named.
    """
    logged = getattr(error, "zenspec_job_log", None)
    if logged is not None:
        return logged
    first: Optional[str] = None
    shown = error  # the header names the task's own error, not Hydra's wrapper of it
    from hydra.errors import InstantiationException

    while isinstance(shown, InstantiationException) and shown.__cause__ is not None:
        shown = shown.__cause__
    try:
        record = _job_log.makeRecord(
            _job_log.name,
            logging.ERROR,
            __file__,
            0,
            "Job failed: %s: %s",
            (type(shown).__name__, " ".join(str(shown).split())),
            (type(error), error, error.__traceback__),
        )
        inside = None if within is None else os.path.join(os.path.abspath(within), "")
        for handler in logging.getLogger().handlers:
            if not isinstance(handler, logging.FileHandler) or record.levelno < handler.level:
                continue
            if inside is None or handler.baseFilename.startswith(inside):
                if not RUN_JOB_LOGS_ERRORS:  # 1.4's run_job writes this record itself
                    handler.handle(record)
                    with contextlib.suppress(Exception):
                        handler.flush()
                first = first or handler.baseFilename
    except Exception:  # the job's report matters more than its log
        return first
    if first is not None:
        with contextlib.suppress(AttributeError):  # exceptions with __slots__
            error.zenspec_job_log = first  # type: ignore[attr-defined]
    return first


_PARTS = {"handler": "handlers", "formatter": "formatters", "filter": "filters"}


def logging_config_error(error: Exception, key: str = "hydra.job_logging") -> Any:
    """*error* from ``logging.config`` as a :class:`~zenspec.errors.LaunchError` naming the key.

    ``Unable to configure handler 'file'`` (with the real reason in its cause:
    a class that does not exist, a bad argument) becomes
    ``hydra.job_logging.handlers.file: ...``.
    """
    import re

    from zenspec.errors import LaunchError, StorageError

    cause = error.__cause__ or error.__context__
    if isinstance(cause, OSError):  # the log file itself could not be opened
        return StorageError.from_os_error(cause, "opening the job's log")
    text = " ".join(str(error).split())
    path = key
    found = re.search(r"Unable to configure (handler|formatter|filter|logger) '([^']+)'", text)
    if found:
        kind, name = found.groups()
        path = f"{key}.{_PARTS.get(kind, 'loggers')}.{name}"
    elif "root logger" in text:
        path = f"{key}.root"
    reason = f" ({type(cause).__name__}: {' '.join(str(cause).split())})" if cause else ""
    if type(cause).__name__ == "_RemoteTraceback":  # loky's: the worker's traceback as text
        raised = re.findall(r"^(\w+(?:Error|Exception): .*)$", str(cause), re.MULTILINE)
        reason = f" ({raised[-2].strip()})" if len(raised) >= 2 else ""
    return LaunchError(
        "the job's logging config could not be applied, so the job did not run: "
        f"{type(error).__name__}: {text}{reason}",
        path=path,
        hint="Fix: check that key's class, arguments and references (what "
        "logging.config.dictConfig accepts), or drop it to keep Hydra's default.",
    )
