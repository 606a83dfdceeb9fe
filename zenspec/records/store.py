"""Where records live on disk, and how they are written so a crash never leaves half a file.

Layout of a run or sweep directory (``hydra.run.dir`` / ``hydra.sweep.dir``)::

    .zenspec/manifest.json      what was planned and with what (see manifest.py)
    .zenspec/jobs/<num>.json    one result per job, written by the process that ran it,
                                the moment the job finished

Every file carries ``format_version``; readers refuse versions they do not know.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Union

__all__ = [
    "FORMAT_VERSION",
    "NotAnObjectError",
    "atomic_write_json",
    "dumps_indented",
    "jobs_dir",
    "manifest_path",
    "open_nofollow",
    "read_json",
    "records_dir",
    "safe_dir",
    "to_jsonable",
    "write_in_place_nofollow",
    "write_text_nofollow",
]

FORMAT_VERSION = 1
RECORDS_DIRNAME = ".zenspec"

PathLike = Union[str, "os.PathLike[str]"]


def records_dir(root: PathLike) -> Path:
    return Path(root) / RECORDS_DIRNAME


def manifest_path(root: PathLike) -> Path:
    return records_dir(root) / "manifest.json"


def jobs_dir(root: PathLike) -> Path:
    return records_dir(root) / "jobs"


# O_NOFOLLOW where the platform has it: a planted symlink at a path zenspec
# writes is refused (ELOOP) instead of followed out of the sweep dir
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class UnsafePathError(OSError):
    """A path zenspec writes under a sweep dir is a symlink (or not what it should be)."""


def safe_dir(directory: PathLike) -> Path:
    """Make *directory* (and its parents) and check it is a real directory, not a symlink.

    A sweep dir on shared scratch may be writable by others: a ``.zenspec`` or
    ``jobs`` planted as a link to somewhere else must not redirect the records.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise UnsafePathError(
            f"{path} is a symbolic link; zenspec writes records into real directories only"
        )
    return path


def write_text_nofollow(path: PathLike, text: str, *, fsync: bool = False) -> None:
    """Write *text* to *path* atomically, never through a symlink.

    The text goes to a temp name created with ``O_EXCL | O_NOFOLLOW`` (a
    planted link there is refused, not followed), then ``os.replace`` puts it
    at *path*: a link planted at *path* itself is replaced, its target untouched.
    The file gets the umask's permissions (``0o666 & ~umask``), like any file a
    user creates, so a teammate on shared scratch reads what the user's umask allows.
    """
    where = os.fspath(path)
    tmp = os.path.join(
        os.path.dirname(where) or ".",
        f".{os.path.basename(where)}.{os.getpid()}.{threading.get_ident()}.tmp",
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileExistsError:  # a stale temp of a killed writer with our pid: ours to remove
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, where)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_in_place_nofollow(path: PathLike, text: str) -> None:
    """Write *text* to *path* as ``open(path, "w")`` does, but never through a symlink.

    For files that are rewritten in place, as Hydra writes them (``.hydra/*.yaml``,
    ``multirun.yaml``): one ``open`` with ``O_NOFOLLOW``; a link planted at *path*
    is removed (its target untouched) and the file written in its place.
    """
    where = os.fspath(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(where, flags, 0o666)
    except OSError as e:
        if not os.path.islink(where):
            raise
        os.unlink(where)  # a planted link: replaced, never followed
        fd = os.open(where, flags | os.O_EXCL, 0o666)
        del e
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def open_nofollow(path: PathLike) -> int:
    """A read-only descriptor of *path*; ``OSError`` (ELOOP) if it is a symlink.

    ``O_NONBLOCK``: a FIFO planted under a record's name is not waited on (it reads
    as empty, then as damaged); regular files read as usual.
    """
    return os.open(os.fspath(path), os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK)


def atomic_write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON to *path* via a temp file + rename: readers see all of it or none."""
    safe_dir(path.parent)
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    write_text_nofollow(path, text, fsync=True)


_compact = json.JSONEncoder(default=str)  # indent=None: CPython's C encoder


def dumps_indented(data: Any) -> str:
    """``json.dumps(data, indent=2, default=str)``, the same text, without its cyclic garbage.

    With ``indent``, the json module encodes in Python with closures that refer
    to each other: every call leaves a cycle for the garbage collector, and a
    sweep writes a record per job. Here the layout is written directly and
    every scalar goes through the C encoder.
    """
    out: List[str] = []
    _indented(data, "\n", out)
    return "".join(out)


def _indented(value: Any, newline: str, out: List[str]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        first = True
        for key, item in value.items():
            out.append("{" + inner if first else "," + inner)
            first = False
            out.append(_compact.encode(_key(key)))
            out.append(": ")
            _indented(item, inner, out)
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        for n, item in enumerate(value):
            out.append("[" + inner if n == 0 else "," + inner)
            _indented(item, inner, out)
        out.append(newline + "]")
    else:
        out.append(_compact.encode(value))


def _key(key: Any) -> str:
    """A dict key as the json module writes it (``skipkeys=False``)."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return _compact.encode(key)  # float.__repr__, or NaN/Infinity
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def read_json(path: Path) -> Dict[str, Any]:
    """The JSON object in *path*, which must not be a symlink (a planted link is refused)."""
    with os.fdopen(open_nofollow(path), encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise NotAnObjectError(f"{path}: expected a JSON object")
    return data


class NotAnObjectError(ValueError):
    """:func:`read_json` read valid JSON that is not an object (other ValueErrors: not JSON)."""


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe copy of *value*; what cannot be represented becomes ``{"repr": ...}``.

    numpy arrays/scalars and torch tensors become lists/numbers (via ``tolist``),
    OmegaConf containers plain containers, tuples lists. NaN/inf become strings
    so the file stays strict JSON.
    """
    if _depth > 50:
        return {"repr": "<too deep>"}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict) or type(value).__name__ == "DictConfig":
        items = value.items()
        if type(value).__name__ == "DictConfig":
            from omegaconf import OmegaConf

            items = OmegaConf.to_container(value, resolve=False).items()  # type: ignore[union-attr]
        return {str(k): to_jsonable(v, _depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "ListConfig":
        return [to_jsonable(v, _depth + 1) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            size = getattr(value, "size", 0)
            if not isinstance(size, int) or size <= 100_000:
                return to_jsonable(tolist(), _depth + 1)
        except Exception:
            pass
    text = repr(value)
    return {
        "repr": text if len(text) <= 2000 else text[:2000] + "...",
        "type": type(value).__name__,
    }
