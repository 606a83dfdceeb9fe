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
the original (:func:`zenspec.launch.fast_snapshot.signature`) for the cached
base the config was derived from; everything else is deep-copied as stock.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import zlib
from typing import Any, Optional, Set, Union

from hydra.core.utils import JobReturn
from omegaconf import DictConfig

from zenspec.launch.fast_snapshot import signature

__all__ = ["SnapshotJobReturn", "snapshot", "transfer"]

# bases (render-hint serials) whose hydra config pickles back identical
_proven: Set[int] = set()


class _Blob(bytes):
    """A pickled, compressed Hydra config (a distinct type: never taken for user data)."""


def snapshot(hydra_cfg: DictConfig, serial: Optional[int]) -> Union[DictConfig, _Blob]:
    """An independent copy of *hydra_cfg* as of now: pickled if proven, else a deepcopy.

    *serial* names the cached base the config was derived from (None: unknown,
    checked on this config itself).
    """
    # A shared ``hydra`` node (fast_launcher) has the job's whole config as its
    # parent; a deepcopy re-parents the copy to the copied root, pickle would
    # carry that parent along. Pickle it as the deepcopy will be.
    children = [(n, n._get_parent()) for n in hydra_cfg.__dict__["_content"].values()]
    try:
        for node, _ in children:
            node._set_parent(hydra_cfg)
        blob = pickle.dumps(hydra_cfg, protocol=pickle.HIGHEST_PROTOCOL)
        if serial is None or serial not in _proven:
            if signature(pickle.loads(blob)) != signature(hydra_cfg):
                blob = None
            elif serial is not None:
                _proven.add(serial)
    except Exception:  # unpicklable content: deepcopy is always right
        blob = None
    finally:
        for node, parent in children:
            node._set_parent(parent)
    # compressed: ~11 KiB -> ~3 KiB held per finished job, for ~0.04 ms
    return copy.deepcopy(hydra_cfg) if blob is None else _Blob(zlib.compress(blob, 1))


class SnapshotJobReturn(JobReturn):
    """A ``JobReturn`` (same fields, same behaviour) whose ``hydra_cfg`` is built on first read.

    Reading it twice returns the same object, as with a plain ``JobReturn``;
    assigning it works as usual.
    """

    @property  # type: ignore[override]
    def hydra_cfg(self) -> Optional[DictConfig]:
        value = self.__dict__.get("_hydra_cfg")
        if isinstance(value, _Blob):
            value = self.__dict__["_hydra_cfg"] = pickle.loads(zlib.decompress(value))
        return value

    @hydra_cfg.setter
    def hydra_cfg(self, value: Any) -> None:
        self.__dict__["_hydra_cfg"] = value


def transfer(ret: JobReturn, to: SnapshotJobReturn) -> None:
    """Give *to* the fields of *ret*, its ``hydra_cfg`` still unread if it is."""
    for f in dataclasses.fields(JobReturn):
        if f.name != "hydra_cfg":
            setattr(to, f.name, getattr(ret, f.name))
    raw = ret.__dict__["_hydra_cfg"] if isinstance(ret, SnapshotJobReturn) else ret.hydra_cfg
    to.__dict__["_hydra_cfg"] = raw
