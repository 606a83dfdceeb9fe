"""Several GPUs on one machine: each joblib worker its own slice of them.

``[launcher] kind = "joblib"`` with ``gpus_per_job = G`` gives worker *k* of
the ``n_jobs`` workers the GPUs ``k*G .. k*G+G-1`` of the visible ones
(round-robin: with more workers than GPUs, slices wrap around and are
shared), through ``CUDA_VISIBLE_DEVICES``, set in the worker before its first
job (CUDA reads it when a process first uses a GPU). Each job's record
carries the devices it saw (``cuda_visible_devices``).

A worker takes its slot with a lock file under the sweep's records
(``.zenspec/gpus/slot-<k>.lock``), held for the worker's life: forked and
loky workers alike, a replacement for a dead worker gets the slot its
predecessor freed, and two workers never hold one slot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Sequence

from zenspec.errors import LaunchError

__all__ = ["claim_gpu_slot", "gpu_slices", "visible_gpus"]

_claimed: dict = {}  # in a worker: {"pid": ..., "fd": lock fd, "devices": "0,1"}


def visible_gpus() -> List[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else what nvidia-smi lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def gpu_slices(per_job: int, workers: int, visible: Optional[Sequence[str]] = None) -> List[str]:
    """``CUDA_VISIBLE_DEVICES`` of each worker slot, round-robin over the visible GPUs."""
    devices = list(visible_gpus() if visible is None else visible)
    if not isinstance(per_job, int) or isinstance(per_job, bool) or per_job < 1:
        raise LaunchError(
            f"gpus_per_job = {per_job!r}: expected a whole number of GPUs, at least 1.",
            path="$.launcher.gpus_per_job",
        )
    if per_job > len(devices):
        raise LaunchError(
            f"gpus_per_job = {per_job}, but this machine shows {len(devices)} GPU(s)"
            + (f" ({','.join(devices)})" if devices else "")
            + ".",
            path="$.launcher.gpus_per_job",
            hint="Fix: lower gpus_per_job, or set CUDA_VISIBLE_DEVICES to the GPUs to use.",
        )
    return [
        ",".join(devices[(k * per_job + j) % len(devices)] for j in range(per_job))
        for k in range(max(1, workers))
    ]


def claim_gpu_slot(records: Path, slices: Sequence[str]) -> str:
    """In a worker: take a free slot (for the worker's life) and set its GPUs; their ids.

    Called before each job; the first call of a process claims, later ones
    return what it has.
    """
    import fcntl

    got = _claimed.get("pid") == os.getpid() and _claimed.get("slices") == list(slices)
    if not got:
        directory = records / "gpus"
        directory.mkdir(parents=True, exist_ok=True)
        for k in range(len(slices)):
            fd = os.open(directory / f"slot-{k}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _claimed.update(pid=os.getpid(), fd=fd, slices=list(slices), devices=slices[k])
            break
        else:  # every slot held (more processes than workers): share round-robin
            _claimed.update(pid=os.getpid(), fd=None, slices=list(slices),
                            devices=slices[os.getpid() % len(slices)])  # fmt: skip
    os.environ["CUDA_VISIBLE_DEVICES"] = _claimed["devices"]
    return str(_claimed["devices"])
