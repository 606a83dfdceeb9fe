"""A ``JobReturn`` whose ``hydra_cfg`` is kept pickled until someone reads it.

Stock ``run_job`` deep-copies the job's Hydra config (~300 nodes) into every
``JobReturn``. A sweep keeps all of them, so a 10,000-job sweep holds 10,000
live trees: ~2.5 ms of copying per job, ~100 KiB each, and every full garbage
collection walks them all again (GC alone grew to ~25% of a trivial job's cost
at N=1,000). Few callers ever read ``hydra_cfg`` of a finished job.

:func:`snapshot` pickles the same config at the same point instead (~0.6 ms,
~3 KiB of compressed bytes the garbage collector never walks), and
:class:`SnapshotJobReturn` unpickles it the first time ``hydra_cfg`` is read.
Pickling is used only where a round trip was proven node-for-node identical to
the original (:func:`zenspec.accelerate.job_snapshots.signature`) for the cached
base the config was derived from; everything else is deep-copied as stock.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional, Set, Tuple, Union

from hydra.core.utils import JobReturn
from omegaconf import DictConfig, read_write

from zenspec._compatibility import (
    container_content,
    job_outcome,
    node_of,
    node_parent,
    set_node_value,
    set_parent,
)
from zenspec.accelerate.hydra_yaml_skeleton import HOLES, hole_leaves
from zenspec.accelerate.job_snapshots import signature

__all__ = [
    "SnapshotJobReturn",
    "carry_cause",
    "hydra_value",
    "restore_cause",
    "snapshot",
    "transfer",
]

# bases (render-hint serials) whose hydra config pickles back identical
_proven: Set[int] = set()


class _Blob(bytes):
    """A pickled, compressed Hydra config (a distinct type: never taken for user data)."""

    def load(self) -> DictConfig:
        return pickle.loads(zlib.decompress(self))


class _Delta:
    """A Hydra config as the first job of its base (shared) plus this job's own keys."""

    __slots__ = ("base", "own")

    def __init__(self, base: _Blob, own: bytes) -> None:
        self.base, self.own = base, own

    def __reduce__(self) -> Any:
        return (_Delta, (self.base, self.own))

    def load(self) -> DictConfig:
        root = self.base.load()
        hydra = node_of(root, "hydra")
        content = container_content(hydra)
        for key, child in pickle.loads(zlib.decompress(self.own)):
            content[key] = child  # same key, same place: the order is the base's
            set_parent(child, hydra)
        return root


class _Holes:
    """A Hydra config as the first job of its job preset, with this job's hole values.

    Jobs copied from one job preset differ only in the fields of
    :data:`zenspec.accelerate.hydra_yaml_skeleton.HOLES` (checked on the preset's second
    job), so only those values are kept: a few strings and ints per job.
    """

    __slots__ = ("base", "values")

    def __init__(self, base: _Blob, values: Tuple[Any, ...]) -> None:
        self.base, self.values = base, values

    def __reduce__(self) -> Any:
        return (_Holes, (self.base, self.values))

    def load(self) -> DictConfig:
        root = self.base.load()
        hydra = node_of(root, "hydra")
        with read_write(hydra):
            for (outer, inner), value in zip(HOLES, self.values):
                node = node_of(node_of(hydra, outer), inner)
                set_node_value(node, list(value) if isinstance(value, tuple) else value)
        return root


def _hole_values(hydra_cfg: DictConfig) -> Optional[Tuple[Any, ...]]:
    """The raw values in the holes (a list as a tuple), or None if one is not plain data."""
    values = hole_leaves(hydra_cfg)
    if values is None:
        return None
    out = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, _PLAIN) for v in items):
            return None
        out.append(tuple(value) if isinstance(value, list) else value)
    return tuple(out)


_PLAIN = (str, int, float, bool, type(None))


@dataclass
class _First:
    """The first snapshot of a base: what later jobs of the base share."""

    keys: Tuple[Any, ...]
    blob: _Blob
    delta_proven: Optional[bool] = None  # None: not checked yet


_firsts: OrderedDict[int, _First] = OrderedDict()
_MAX_FIRSTS = 64
# job preset serial -> its first job's snapshot (delta_proven: holes checked)
_preset_firsts: OrderedDict[int, _First] = OrderedDict()


def snapshot(
    hydra_cfg: DictConfig,
    serial: Optional[int],
    own_keys: Optional[FrozenSet[str]] = None,
    shared: Optional[int] = None,
) -> Union[DictConfig, _Blob, _Delta, _Holes]:
    """An independent copy of *hydra_cfg* as of now: pickled if proven, else a deepcopy.

    *serial* names the cached base the config was derived from (None: unknown,
    checked on this config itself); *own_keys* the ``hydra`` keys this job
    writes (its render hint's): every other key is the base's, as in the
    base's first job, so only these are pickled (checked on the second job);
    *shared* the job preset it was copied from: then only the hole values are
    kept (checked on the preset's second job).
    """
    # A shared ``hydra`` node (job_runner) has the job's whole config as its
    # parent; a deepcopy re-parents the copy to the copied root, pickle would
    # carry that parent along. Pickle it as the deepcopy will be.
    children = [(n, node_parent(n)) for n in container_content(hydra_cfg).values()]
    try:
        for node, _ in children:
            set_parent(node, hydra_cfg)
        got: Union[_Holes, _Blob, _Delta, None] = (
            _from_preset(hydra_cfg, shared) if shared is not None else None
        )
        if got is None:
            got = _pickled(hydra_cfg, serial, own_keys)
            if shared is not None and isinstance(got, _Blob) and shared not in _preset_firsts:
                _preset_firsts[shared] = _First((), got)
                if len(_preset_firsts) > _MAX_FIRSTS:
                    _preset_firsts.popitem(last=False)
    except Exception:  # unpicklable content: deepcopy is always right
        got = None
    finally:
        for node, parent in children:
            set_parent(node, parent)
    return copy.deepcopy(hydra_cfg) if got is None else got


def _from_preset(hydra_cfg: DictConfig, shared: int) -> Optional[_Holes]:
    """The job's hole values on its preset's first snapshot, once that is proven to give it."""
    first = _preset_firsts.get(shared)
    values = _hole_values(hydra_cfg) if first is not None else None
    if first is None or values is None or first.delta_proven is False:
        return None
    held = _Holes(first.blob, values)
    if first.delta_proven is None:  # the preset's second job
        first.delta_proven = signature(held.load()) == signature(hydra_cfg)
    return held if first.delta_proven else None


def _pickled(
    hydra_cfg: DictConfig, serial: Optional[int], own_keys: Optional[FrozenSet[str]]
) -> Union[_Blob, _Delta, None]:
    node = node_of(hydra_cfg, "hydra")
    content = container_content(node) if isinstance(node, DictConfig) else None
    keys = tuple(content) if isinstance(content, dict) else ()
    first = _firsts.get(serial) if serial is not None else None
    if first is not None and own_keys is not None and first.keys == keys and first.delta_proven:
        return _delta(first, content, own_keys)  # type: ignore[arg-type]

    raw = pickle.dumps(hydra_cfg, protocol=pickle.HIGHEST_PROTOCOL)
    if serial is None or serial not in _proven:
        if signature(pickle.loads(raw)) != signature(hydra_cfg):
            return None
        if serial is not None:
            _proven.add(serial)
    # compressed: ~11 KiB -> ~3 KiB held per finished job, for ~0.04 ms
    blob = _Blob(zlib.compress(raw, 1))
    if serial is None or own_keys is None or not keys:
        return blob
    if first is None or first.keys != keys:
        _firsts[serial] = _First(keys, blob)
        if len(_firsts) > _MAX_FIRSTS:
            _firsts.popitem(last=False)
    elif first.delta_proven is None:  # the second job: does base + own keys give it?
        delta = _delta(first, content, own_keys)  # type: ignore[arg-type]
        first.delta_proven = signature(delta.load()) == signature(hydra_cfg)
    return blob


def _delta(first: _First, content: Dict[str, Any], own_keys: FrozenSet[str]) -> _Delta:
    own = [(key, child) for key, child in content.items() if key in own_keys]
    parents = [node_parent(child) for _, child in own]
    try:
        for _, child in own:  # each pickled alone, not with the tree around it
            set_parent(child, None)
        data = pickle.dumps(own, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for (_, child), parent in zip(own, parents):
            set_parent(child, parent)
    return _Delta(first.blob, zlib.compress(data, 1))


class SnapshotJobReturn(JobReturn):
    """A ``JobReturn`` (same fields, same behaviour) whose ``hydra_cfg`` is built on first read.

    Reading it twice returns the same object, as with a plain ``JobReturn``;
    assigning it works as usual.
    """

    @property
    def hydra_cfg(self) -> Optional[DictConfig]:
        value = self.__dict__.get("_hydra_cfg")
        if isinstance(value, (_Blob, _Delta, _Holes)):
            value = self.__dict__["_hydra_cfg"] = value.load()
        return value

    @hydra_cfg.setter
    def hydra_cfg(self, value: Any) -> None:
        self.__dict__["_hydra_cfg"] = value


def hydra_value(ret: JobReturn, outer: str, inner: str) -> Any:
    """``ret.hydra_cfg.hydra[outer][inner]``, without unpickling a snapshot that keeps it.

    A job's number and output dir are among the values a job-preset snapshot
    keeps as is (:data:`~zenspec.accelerate.hydra_yaml_skeleton.HOLES`): reading them
    costs nothing, where ``ret.hydra_cfg`` rebuilds the whole tree (~1.5 ms).
    None if the job has no Hydra config.
    """
    raw = ret.__dict__.get("_hydra_cfg") if isinstance(ret, SnapshotJobReturn) else None
    if isinstance(raw, _Holes) and (outer, inner) in HOLES:
        return raw.values[HOLES.index((outer, inner))]
    cfg = ret.hydra_cfg
    return None if cfg is None else cfg.hydra[outer][inner]


def transfer(ret: JobReturn, to: SnapshotJobReturn) -> None:
    """Give *to* the fields of *ret*, its ``hydra_cfg`` still unread if it is."""
    for f in dataclasses.fields(JobReturn):
        if f.name != "hydra_cfg":
            setattr(to, f.name, getattr(ret, f.name))
    raw = ret.__dict__["_hydra_cfg"] if isinstance(ret, SnapshotJobReturn) else ret.hydra_cfg
    to.__dict__["_hydra_cfg"] = raw


_CAUSE = "zenspec_cause"


def carry_cause(ret: JobReturn) -> None:
    """In a worker, before *ret* is pickled back: keep its error's ``__cause__``.

    Pickling an exception drops ``__cause__``, so Hydra's "Error in call to
    target" wrapper would reach the zenspec process without the task's own
    error, which every report names. The cause rides in the exception's
    ``__dict__`` (pickled with it) when it pickles; :func:`restore_cause` puts
    it back.
    """
    error = job_outcome(ret)
    cause = getattr(error, "__cause__", None)
    if not isinstance(error, BaseException) or cause is None:
        return
    try:
        import cloudpickle

        cloudpickle.dumps(cause, protocol=5)
        error.__dict__[_CAUSE] = cause
    except Exception:  # unpicklable: the wrapper's text says enough
        pass


def restore_cause(ret: JobReturn) -> None:
    """In the zenspec process: the ``__cause__`` :func:`carry_cause` sent along, back in place."""
    error = job_outcome(ret)
    if not isinstance(error, BaseException):
        return
    cause = error.__dict__.pop(_CAUSE, None) if hasattr(error, "__dict__") else None
    if isinstance(cause, BaseException) and error.__cause__ is None:
        error.__cause__ = cause
