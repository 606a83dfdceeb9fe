"""One run's or sweep's records, from claiming its directory to its final status.

The launch core calls, in order: :func:`claim_output_dir` (so two runs started
in the same second never share a directory), :meth:`RecordSession.start`
(writes the manifest), and :meth:`RecordSession.finish` (status and summary),
the latter also when the sweep is interrupted or crashes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf

from zenspec.records.jobs import read_job_records
from zenspec.records.manifest import canonical_hash, finish_manifest, new_manifest, now_iso
from zenspec.records.store import records_dir

__all__ = ["RecordSession", "archive_old_records", "claim_output_dir", "task_path"]


def task_path(task: Any) -> Optional[str]:
    """``module:qualname`` of *task* if it can be imported back, else None."""
    module = getattr(task, "__module__", None)
    qualname = getattr(task, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def claim_output_dir(directory: str, explicit: bool, resume: bool = False) -> Optional[str]:
    """Claim *directory* for this run; return another path if it was taken.

    ``os.mkdir`` is atomic, so of two processes resolving the same
    ``${now:%H-%M-%S}`` directory exactly one gets it; the other gets
    ``<dir>_1`` (then ``_2``...). A directory the user named explicitly is
    reused as Hydra would reuse it, and records of an earlier run there are
    moved aside (``.zenspec-<time>``), never deleted.
    """
    path = Path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    if resume:  # the records there are the point
        path.mkdir(parents=True, exist_ok=True)
        return None
    if explicit:
        path.mkdir(parents=True, exist_ok=True)
        return None
    for attempt in range(10_000):
        candidate = path if attempt == 0 else path.with_name(f"{path.name}_{attempt}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return None if attempt == 0 else str(candidate)
    raise RuntimeError(f"could not claim an output directory next to {path}")


def archive_old_records(directory: str) -> Optional[Path]:
    """Move an earlier run's records in *directory* aside (``.zenspec-<time>``); never delete.

    Called with the directory's lock held (its ``lock`` file stays): a
    directory the user named explicitly is reused as Hydra would reuse it,
    and a run that still writes there was refused before this.
    """
    old = records_dir(directory)
    entries = [e for e in old.iterdir() if e.name != "lock"] if old.is_dir() else []
    if not entries:
        return None
    aside = Path(directory) / f".zenspec-{now_iso().replace(':', '-')}"
    aside.mkdir()
    for entry in entries:
        shutil.move(str(entry), str(aside / entry.name))
    return aside


class RecordSession:
    """The manifest of one run/sweep in *root*, kept up to date."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest: Dict[str, Any] = {}

    def start(
        self,
        *,
        cfg: DictConfig,
        mode: str,
        task: Any,
        job_name: str,
        config_name: str,
        overrides: List[str],
        planned: Optional[List[List[str]]],
        extra: Optional[Dict[str, Any]] = None,
    ) -> None:
        task_cfg = OmegaConf.to_container(cfg, resolve=False)
        assert isinstance(task_cfg, dict)
        task_cfg.pop("hydra", None)
        self.manifest = new_manifest(
            root=self.root,
            mode=mode,
            task=task_path(task),
            job_name=job_name,
            config_name=config_name,
            overrides=overrides,
            config_hash=canonical_hash(task_cfg),
            sweeper=OmegaConf.select(cfg, "hydra.sweeper._target_", default=None),
            launcher=OmegaConf.select(cfg, "hydra.launcher._target_", default=None),
            planned=planned,
            spec=(extra or {}).get("spec"),
            metric=(extra or {}).get("metric"),
            tags=(extra or {}).get("tags"),
            note=(extra or {}).get("note"),
        )

    def resume(self, manifest: Dict[str, Any], jobs: List[int]) -> None:
        """Continue an earlier sweep's manifest: same run id, a history entry added."""
        from zenspec.records.store import atomic_write_json, manifest_path

        self.manifest = dict(manifest)
        history = list(self.manifest.get("history") or [])
        history.append(
            {
                "event": "resumed",
                "at": now_iso(),
                "previous_status": manifest.get("status"),
                "jobs": jobs,
                "pid": os.getpid(),
            }
        )
        self.manifest.update(status="running", ended_at=None, history=history)
        atomic_write_json(manifest_path(self.root), self.manifest)

    def summary(self) -> Dict[str, Any]:
        records = read_job_records(self.root)
        counts: Dict[str, int] = {}
        for r in records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        planned = self.manifest.get("planned_jobs")
        return {
            "planned": None if planned is None else len(planned),
            "recorded": len(records),
            "completed": counts.get("completed", 0),
            "failed": counts.get("failed", 0),
            "interrupted": counts.get("interrupted", 0),
            "pruned": counts.get("pruned", 0),
        }

    def finish(self, status: str) -> Dict[str, Any]:
        if not self.manifest:
            return {}
        summary = self.summary()
        if status == "completed" and summary["failed"]:
            status = "failed"
        finish_manifest(self.root, self.manifest, status, summary)
        return summary
