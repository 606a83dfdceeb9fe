"""Which engine job runs each job of a sweep, and whether the engine still has it.

A launcher that hands jobs to an engine with its own ids (SLURM, submitit's
local executor) writes them as soon as it has submitted
(:func:`record_engine_ids`), one small file per job under
``<sweep dir>/.zenspec/engine/<num>.json``::

    {"kind": "slurm", "job_id": "1234_5"}
    {"kind": "local", "job_id": "56789", "host": "login1"}

``zenspec results`` and ``resume`` then ask the engine which of the jobs
without a record it still has (:func:`live_states`): a job queued or running
under SLURM is not missing, and must not be submitted twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping

from zenspec.records.store import open_nofollow, records_dir, safe_dir, write_text_nofollow

__all__ = ["engine_dir", "live_states", "read_engine_ids", "record_engine_ids"]

ENGINE_DIRNAME = "engine"

# squeue's %T states, as results/resume show them
_QUEUED = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
    "SUSPENDED",
}
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"}


def engine_dir(root: Any) -> Path:
    """``<root>/.zenspec/engine``: one ``<num>.json`` per job handed to an engine."""
    return records_dir(root) / ENGINE_DIRNAME


def record_engine_ids(root: Any, ids: Mapping[int, Mapping[str, Any]]) -> None:
    """Write ``{num: {"kind": ..., "job_id": ...}}`` for the jobs of the sweep in *root*.

    Each file is written atomically (temp file, then ``os.replace``), never
    through a symlink; a job submitted again (resume) gets its new id.
    """
    if not ids:
        return
    directory = safe_dir(engine_dir(root))
    safe_dir(records_dir(root))  # .zenspec itself must not be a planted link either
    for num, info in ids.items():
        text = json.dumps({"num": int(num), **dict(info)}, sort_keys=True) + "\n"
        write_text_nofollow(directory / f"{int(num)}.json", text)


def read_engine_ids(root: Any) -> Dict[int, Dict[str, Any]]:
    """``{num: info}`` written by :func:`record_engine_ids` (unreadable files skipped)."""
    out: Dict[int, Dict[str, Any]] = {}
    directory = engine_dir(root)
    if directory.is_symlink() or not directory.is_dir():
        return out
    for path in directory.glob("*.json"):
        try:
            num = int(path.stem)
        except ValueError:
            continue
        try:
            with os.fdopen(open_nofollow(path), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError, RecursionError):  # (a damaged or planted file)
            continue
        if isinstance(data, dict) and isinstance(data.get("job_id"), str):
            data.pop("num", None)
            out[num] = data
    return dict(sorted(out.items()))


def live_states(root: Any, nums: Iterable[int]) -> Dict[int, str]:
    """``{num: "queued" | "running"}`` for the jobs of *nums* the engine still has.

    One ``squeue`` call for the SLURM jobs; for submitit's local executor,
    whether the job's process is alive (on this host). Jobs the engine no
    longer has, or whose ids were never recorded, are left out; so is
    everything when the engine cannot be asked (no ``squeue`` on PATH, a
    controller that does not answer).
    """
    wanted = set(nums)
    ids = {n: info for n, info in read_engine_ids(root).items() if n in wanted}
    out: Dict[int, str] = {}
    slurm = {n: info["job_id"] for n, info in ids.items() if info.get("kind") == "slurm"}
    if slurm:
        out.update(_slurm_states(slurm))
    host = socket.gethostname()
    for n, info in ids.items():
        if info.get("kind") != "local" or info.get("host", host) != host:
            continue
        with contextlib.suppress(ValueError):
            from zenspec.records.lost import process_alive

            if process_alive(int(info["job_id"])):
                out[n] = "running"
    return dict(sorted(out.items()))


def _slurm_states(job_ids: Mapping[int, str]) -> Dict[int, str]:
    squeue = shutil.which("squeue")
    if squeue is None:
        return {}
    # asking for the array ids lists every task of them, pending ones included
    arrays = sorted({jid.split("_")[0] for jid in job_ids.values()})
    try:
        proc = subprocess.run(
            [squeue, "-h", "-r", "-j", ",".join(arrays), "-o", "%i %T"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if proc.returncode != 0:
        # squeue refuses ids it no longer knows ("Invalid job id specified"): nothing is
        # live then; any other failure: the engine cannot be asked. {} either way.
        return {}
    state_of: Dict[str, str] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            state_of[parts[0]] = parts[1]
    out: Dict[int, str] = {}
    for num, jid in job_ids.items():
        state = state_of.get(jid)
        if state in _RUNNING:
            out[num] = "running"
        elif state in _QUEUED:
            out[num] = "queued"
    return out
