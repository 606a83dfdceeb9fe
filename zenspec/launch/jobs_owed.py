"""Resume a grid sweep: find the jobs still owed, refuse if the sweep changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Set, Tuple

from omegaconf import DictConfig, OmegaConf

from zenspec.errors import LaunchError
from zenspec.records.engine import live_states
from zenspec.records.jobs import read_job_records
from zenspec.records.lost import reap_dead_markers
from zenspec.records.manifest import canonical_hash, job_id, read_manifest
from zenspec.records.session import RecordSession

__all__ = ["jobs_to_resume"]


def jobs_to_resume(
    session: Any,
    cfg: DictConfig,
    planned: Optional[List[List[str]]],
    retry_failed: bool,
    force: bool,
) -> Tuple[RecordSession, Set[int]]:
    """The record session to continue and the job numbers to run again."""
    root = Path(session.output_dir)
    manifest = read_manifest(root)
    task_cfg = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(task_cfg, dict)
    task_cfg.pop("hydra", None)
    recorded_plan = [tuple(j["overrides"]) for j in manifest.get("planned_jobs") or []]
    current_plan = [tuple(o) for o in planned or []]
    changes = []
    if manifest.get("config_hash") != canonical_hash(task_cfg):
        changes.append("the config differs from the recorded one")
    if recorded_plan != current_plan:
        changes.append(
            f"the planned jobs differ ({len(recorded_plan)} recorded, {len(current_plan)} now)"
        )
    if changes and not force:
        raise LaunchError(
            f"{root}: cannot resume: " + "; ".join(changes) + ".",
            hint="Fix: resume with the same config and overrides the sweep started with, "
            "or pass force=True (CLI: --force) to resume anyway.",
        )
    # jobs that died with an earlier zenspec process (a crash in-process, a
    # kill -9) left a marker and no record: recorded now, with their cause
    launchers = [(manifest.get("provenance") or {}).get("pid")]
    launchers += [h.get("pid") for h in manifest.get("history") or [] if isinstance(h, dict)]
    reap_dead_markers(root, current_plan, [p for p in launchers if isinstance(p, int)])
    damaged: List[Tuple[str, str]] = []
    done = {}
    for r in read_job_records(root, damaged):
        done[r["num"]] = r
    if damaged:  # a record that cannot be used is no result: its job runs again
        import logging

        shown = "; ".join(f"{name} ({why})" for name, why in damaged[:5])
        logging.getLogger(__name__).warning(
            f"{len(damaged)} damaged record(s) in {root} are ignored, their jobs run again: "
            f"{shown}{'; ...' if len(damaged) > 5 else ''}"
        )
    owed: Set[int] = set()
    for num, overrides in enumerate(current_plan):
        rec = done.get(num)
        if (
            rec is None
            or rec.get("status") == "interrupted"
            or (rec.get("status") == "failed" and retry_failed)
        ):
            owed.add(num)
        elif job_id(list(rec.get("overrides", []))) != job_id(list(overrides)) and not force:
            raise LaunchError(
                f"{root}: job {num} was recorded with overrides {rec.get('overrides')}, "
                f"but the plan now has {list(overrides)}.",
                hint="Fix: resume with the original overrides, or --force.",
            )
    live = live_states(root, owed)
    if live:
        shown = ", ".join(f"#{n} {state}" for n, state in sorted(live.items())[:10])
        raise LaunchError(
            f"{root}: {len(live)} job(s) of this sweep are still queued or running under "
            f"their engine ({shown}{', ...' if len(live) > 10 else ''}); resuming now would "
            "run them twice.",
            hint="Fix: wait until they end (squeue), or `zenspec resume --wait` to wait "
            "for them and then run what is still missing.",
        )
    record = RecordSession(root)
    record.resume(manifest, sorted(owed))
    return record, owed
