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
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Union

__all__ = [
    "FORMAT_VERSION",
    "atomic_write_json",
    "dumps_indented",
    "jobs_dir",
    "manifest_path",
    "read_json",
    "records_dir",
    "to_jsonable",
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


def atomic_write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON to *path* via a temp file + rename: readers see all of it or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


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
