"""Facts read from installed libraries, kept between runs (``~/.cache/zenspec``).

The spec layer asks Hydra and OmegaConf a few questions whose answers depend on
nothing but the installed code: Hydra's target policy's verdict on a name
(:mod:`zenspec.spec.policy`), OmegaConf's YAML scalar resolvers
(:mod:`zenspec.spec.yamlload`). Asking means importing the library (Hydra:
~150 ms, OmegaConf: ~40 ms), so the answers are kept in
``$XDG_CACHE_HOME/zenspec/<name>.json`` (``~/.cache``) under a *fingerprint*
of what they depend on: the path, size and mtime of the library's files that
hold the answer (an upgrade changes them), found without importing the
library. A fact whose fingerprint differs is asked again, and a cache that
cannot be read or written is only slower. ``ZENSPEC_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, List, Optional, Sequence

__all__ = ["disabled", "fingerprint", "package_files", "read", "write"]

#: bumped when what zenspec keeps changes shape
_FORMAT = "1"


def package_files(package: str, names: Sequence[str]) -> List[str]:
    """The files *names* (relative paths) of top-level *package*, located without
    importing it; those that exist."""
    import importlib.util

    try:
        found = importlib.util.find_spec(package)  # locates the package, runs none of it
    except (ImportError, ValueError):
        return []
    roots = list(found.submodule_search_locations or ()) if found is not None else []
    return [
        os.path.join(root, name)
        for root in roots
        for name in names
        if os.path.isfile(os.path.join(root, name))
    ]


def fingerprint(files: Sequence[str], *extra: str) -> Optional[str]:
    """Path, size and mtime of each of *files*, then *extra*; None without files."""
    parts = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            return None
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    if not parts:
        return None
    return "\n".join([*parts, *extra, "format=" + _FORMAT])


def disabled() -> bool:
    """Whether ``ZENSPEC_NO_CACHE`` turns the kept facts off."""
    return bool(os.environ.get("ZENSPEC_NO_CACHE"))


def _path(name: str) -> Optional[str]:
    if disabled():
        return None
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "zenspec", f"{name}.json")


def read(name: str, print_: Optional[str]) -> Optional[Any]:
    """The data kept as *name* under fingerprint *print_*, or None."""
    path = _path(name)
    if path is None or print_ is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("fingerprint") != print_:
        return None
    return doc.get("data")


def write(name: str, print_: Optional[str], data: Any) -> None:
    """Keep *data* (JSON) as *name* under fingerprint *print_*; failures are ignored."""
    path = _path(name)
    if path is None or print_ is None:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"fingerprint": print_, "data": data}, f)
        os.replace(tmp, path)  # atomic: a concurrent reader sees one file or the other
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
