"""Snapshots for the fast config loader: config copies and config-source watches.

:class:`Template` hands out independent copies of one composed config, proven
identical to it node for node; :class:`SourceWatch` notices when what a cached
composition was read from (ConfigStore entries, config files) has changed.
"""

from __future__ import annotations

import copy
import io
import os
import pickle
import sys
from dataclasses import fields
from typing import Any, Dict, List, Optional, Set, Tuple

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, ValueNode, open_dict, read_write

from zenspec._compatibility import (
    CachingConfigRepository,
    container_content,
    node_metadata,
    node_parent,
    node_value,
    normalize_file_name,
    set_container_content,
)

__all__ = ["SourceWatch", "Template", "copy_without_hydra", "signature"]


class Template:
    """A composed config that can hand out independent, identical copies.

    Pickle round-trips a DictConfig ~4x faster than ``copy.deepcopy``; it is
    used only when the round-trip is proven node-for-node identical at build
    time (it is not, e.g., for dataclasses defined inside a function, whose
    class cannot be pickled by reference). Otherwise copies are deepcopies.
    """

    __slots__ = ("_blob", "_cfg", "_classes")

    def __init__(self, cfg: DictConfig) -> None:
        self._cfg: Optional[DictConfig] = None
        self._blob: Optional[bytes] = None
        self._classes: List[type] = []
        try:
            blob = self._dumps(cfg)
            if signature(self._loads(blob)) == signature(cfg):
                self._blob = blob
        except Exception:  # unpicklable content: deepcopy is always right
            pass
        if self._blob is None:
            # A snapshot, as the blob is: the caller goes on changing *cfg*
            # (``_fill_runtime``), and a copy must not see that.
            self._classes = []
            self._cfg = copy.deepcopy(cfg)

    def new(self) -> DictConfig:
        if self._blob is not None:
            return self._loads(self._blob)
        assert self._cfg is not None
        return copy.deepcopy(self._cfg)

    # A class that is not what its module now holds under its name (Hydra's
    # plugin scan re-executes plugin modules, e.g. the joblib launcher's config
    # dataclass) cannot be pickled by reference. A template never leaves this
    # process, so such classes are kept aside and referred to by index.
    def _dumps(self, cfg: DictConfig) -> bytes:
        buffer = io.BytesIO()
        _Pickler(buffer, self._classes).dump(cfg)
        return buffer.getvalue()

    def _loads(self, blob: bytes) -> DictConfig:
        if not self._classes:
            return pickle.loads(blob)
        return _Unpickler(io.BytesIO(blob), self._classes).load()


# persistent_id/persistent_load are methods of subclasses, not instance attributes:
# CPython 3.13.0 made those attributes read-only (gh-125631, allowed again in 3.13.1).
class _Pickler(pickle.Pickler):
    """Saves classes that pickle cannot save by reference as indexes into *classes*."""

    def __init__(self, file: Any, classes: List[type]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._classes = classes
        self._index: Dict[type, int] = {}

    def persistent_id(self, obj: Any) -> Optional[int]:
        if not isinstance(obj, type) or _by_reference(obj):
            return None
        if obj not in self._index:
            self._index[obj] = len(self._classes)
            self._classes.append(obj)
        return self._index[obj]


class _Unpickler(pickle.Unpickler):
    """Loads what :class:`_Pickler` saved, with the same *classes*."""

    def __init__(self, file: Any, classes: List[type]) -> None:
        super().__init__(file)
        self._classes = classes

    def persistent_load(self, pid: Any) -> type:
        return self._classes[pid]


def _by_reference(cls: type) -> bool:
    """Whether pickle can save *cls* by module and name (and load the same class)."""
    module = sys.modules.get(cls.__module__)
    obj: Any = module
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def copy_without_hydra(config: DictConfig) -> DictConfig:
    """``deepcopy(config)`` then ``del ["hydra"]``, without copying ``hydra``.

    The same tree as stock's copy-then-delete: same keys, order, flags and
    metadata (root included); the ``hydra`` node is never touched.
    """
    content = container_content(config)
    if not isinstance(content, dict) or "hydra" not in content:
        task_cfg = copy.deepcopy(config)
        with read_write(task_cfg), open_dict(task_cfg):
            del task_cfg["hydra"]
        return task_cfg
    # The same dict object goes back afterwards: key order and identity intact.
    set_container_content(config, {k: v for k, v in content.items() if k != "hydra"})
    try:
        return copy.deepcopy(config)
    finally:
        set_container_content(config, content)


def signature(node: Any) -> Any:
    """Everything that makes two OmegaConf trees the same, as comparable data.

    Types and classes compare by identity, so a class that unpickles to a
    different object (redefined, or not importable under its name) differs.
    """
    meta = node_metadata(node)
    parts: List[Any] = [type(node)]
    for f in fields(meta):
        if f.name != "resolver_cache":
            parts.append((f.name, getattr(meta, f.name)))
    if isinstance(node, ValueNode):
        value = node_value(node)
        parts.append((type(value), value))
    elif isinstance(node, (DictConfig, ListConfig)):
        content = container_content(node)
        if content is None or isinstance(content, str):
            parts.append(("content", content))
        else:
            items = content.items() if isinstance(content, dict) else enumerate(content)
            for key, child in items:
                if node_parent(child) is not node:
                    parts.append(("orphan", key))
                parts.append((type(key), key, signature(child)))
    return tuple(parts)


_MAX_DIRS = 2000  # directories watched per loader; beyond, every call recomposes


class SourceWatch:
    """What composed configs were read from, to tell when it changed.

    ConfigStore entries are compared by identity (``ConfigStore.store`` always
    makes a new node); config files by mtime and size; the directories of file
    sources (recursively) by mtime, which changes when an entry is added,
    removed or renamed in them.
    """

    def __init__(self) -> None:
        self._store_nodes: Optional[List[Any]] = None
        self._files: Dict[str, Tuple[int, int]] = {}
        self._dirs: Dict[str, int] = {}
        self._roots: Set[str] = set()  # walked already (one walk per root, not per base)
        self._too_many_dirs = False

    def track(self, repo: CachingConfigRepository) -> None:
        """Remember the config files *repo* loaded (its cache says which), and the
        directories of its file sources: a config file that appears later (an
        ``optional`` default now present, a new group option) changes a directory's
        mtime, so a composition made before it is not reused."""
        for source in repo.get_sources():
            if source.scheme() == "file":
                self._track_dirs(source.path)
        for cache_key, result in repo.cache.items():
            if result is None or not result.path.startswith("file://"):
                continue
            config_path = cache_key.split("=", 1)[1]
            name = normalize_file_name(config_path)
            path = os.path.join(result.path[len("file://") :], name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            self._files[path] = (st.st_mtime_ns, st.st_size)

    def _track_dirs(self, root: str) -> None:
        if root in self._roots:
            return
        self._roots.add(root)
        for top, subdirs, _ in os.walk(root):
            if len(self._dirs) >= _MAX_DIRS:  # a huge tree: never vouch for it
                self._too_many_dirs = True
                return
            # (.git, .venv, caches: not where config groups live)
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d != "__pycache__"]
            try:
                self._dirs[top] = os.stat(top).st_mtime_ns
            except OSError:
                subdirs.clear()
        if not os.path.isdir(root):
            self._dirs[root] = -1  # absent: its creation is a change too

    def forget_files(self) -> None:
        """Stop watching files (their compositions are gone); keep the store's state."""
        self._files.clear()
        self._dirs.clear()
        self._roots.clear()
        self._too_many_dirs = False

    def changed(self) -> bool:
        """Whether the store or a tracked file changed since the last call."""
        nodes = _store_nodes(ConfigStore.instance().repo)
        previous, self._store_nodes = self._store_nodes, nodes
        # (the strong references kept in _store_nodes stop ids being reused)
        if previous is not None and (
            len(nodes) != len(previous) or any(map(_differ, nodes, previous))
        ):
            return True
        if self._too_many_dirs:
            return True
        for path, (mtime, size) in self._files.items():
            try:
                st = os.stat(path)
            except OSError:
                return True
            if st.st_mtime_ns != mtime or st.st_size != size:
                return True
        for path, mtime in self._dirs.items():
            try:
                now = os.stat(path).st_mtime_ns
            except OSError:
                now = -1
            if now != mtime:
                return True
        return False


def _differ(a: Any, b: Any) -> bool:
    # names by value (a re-registered entry's name is a new string), nodes by identity
    return (a != b) if isinstance(a, str) else (a is not b)


def _store_nodes(repo: Dict[str, Any]) -> List[Any]:
    """Every ConfigStore entry, by name (identity marks a change).

    By name, not in store order: composition looks entries up by name, and the
    order moves when nothing changed (Hydra's plugin scan stores the launcher
    configs after zenspec's own on the first call of a process, before them on
    the next), which would throw every cached base away once.
    """
    out: List[Any] = []
    for name, value in sorted(repo.items(), key=lambda item: item[0]):
        out.append(name)
        if isinstance(value, dict):
            out.extend(_store_nodes(value))
            out.append(None)  # end of group: ("a", ("b"),) differs from ("a", "b")
        else:
            out.append(value)
    return out
