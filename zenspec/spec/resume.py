"""Resume a sweep that was started from a spec, from nothing but its directory.

The manifest of a spec run records the spec's path, its canonical hash and
the command line's overrides; resuming loads the spec again, refuses if it
changed since (unless forced), and re-runs only the jobs that have no result
(and, when asked, the failed ones) with their original numbers and dirs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from zenspec.errors import LaunchError
from zenspec.records.manifest import canonical_hash, read_manifest

__all__ = ["resume_sweep"]

PathLike = Union[str, "os.PathLike[str]"]


def resume_sweep(
    sweep_dir: PathLike,
    *,
    retry_failed: bool = False,
    force: bool = False,
    spec_path: Optional[PathLike] = None,
    wait: bool = False,
    **launch_kwargs: Any,
) -> Any:
    """Run the jobs a spec sweep still owes, in its own directory.

    Parameters
    ----------
    sweep_dir : path
        The sweep's output directory (the one holding ``.zenspec/manifest.json``).
    retry_failed : bool, default False
        Also re-run jobs recorded as failed.
    force : bool, default False
        Resume even if the spec file changed since the sweep started.
    spec_path : path, optional
        The spec, if it moved since the sweep started (default: the recorded path).
    wait : bool, default False
        First wait for the sweep's jobs that its engine (SLURM) still has queued
        or running; without it, such jobs make resume refuse (they would run twice).
    **launch_kwargs
        Passed on to :func:`zenspec.hydra_multirun` (``progress``, ``on_error``...).

    Returns
    -------
    Any
        What the sweep returns: the batches of jobs run *now* (the records hold all).

    Raises
    ------
    LaunchError
        No records, not a spec sweep, the spec is gone or changed (without ``force``).
    """
    from zenspec.spec.api import load_spec

    root = Path(sweep_dir).resolve()
    manifest = read_manifest(root)
    recorded = manifest.get("spec") or {}
    if manifest.get("mode") != "MULTIRUN":
        raise LaunchError(
            f"{root}: this is a single run, not a sweep; there is nothing to resume.",
            hint="Fix: run the spec again with `zenspec run`.",
        )
    path = Path(spec_path) if spec_path is not None else _recorded_spec(manifest)
    if not path:
        raise LaunchError(
            f"{root}: this sweep was not started from a spec file, so `zenspec resume` "
            "does not know what to run.",
            hint="Fix: resume it from Python: hydra_multirun(<same config and task>, "
            f"<same overrides>, resume={str(root)!r}).",
        )
    if not Path(path).is_file():
        raise LaunchError(
            f"{root}: the sweep's spec {path} no longer exists.",
            hint="Fix: pass its new location with --spec PATH (Python: spec_path=...).",
        )
    if wait:
        _wait_for_engine(root, manifest)
    spec = load_spec(path)
    if canonical_hash(spec.parsed.data) != recorded.get("hash") and not force:
        raise LaunchError(
            f"{root}: cannot resume: the spec {path} changed since the sweep started "
            "(its canonical hash differs), so the remaining jobs would not belong to the "
            "same experiment.",
            hint="Fix: restore the spec as it was (the manifest keeps a copy under "
            "'spec.data'), start a new sweep, or pass --force to resume anyway.",
        )
    return spec.run(
        list(recorded.get("overrides") or []),
        multirun=True,
        resume=root,
        retry_failed=retry_failed,
        force=force,
        **launch_kwargs,
    )


def _recorded_spec(manifest: Any) -> Optional[Path]:
    """The sweep's spec file as recorded: absolute, else relative to the recorded cwd."""
    recorded = manifest.get("spec") or {}
    relative = recorded.get("path")
    cwd = (manifest.get("provenance") or {}).get("cwd")
    candidates = [recorded.get("abspath")]
    if relative:
        candidates += [os.path.join(cwd, relative) if cwd else None, relative]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return Path(relative) if relative else None


def _wait_for_engine(root: Path, manifest: Any, interval: float = 10.0) -> None:
    """Block until the engine has none of the sweep's unrecorded jobs queued or running."""
    import logging
    import time

    from zenspec.records.engine import live_states
    from zenspec.records.jobs import read_job_records

    log = logging.getLogger(__name__)
    planned = [j["num"] for j in manifest.get("planned_jobs") or []]
    while True:
        recorded = {r["num"] for r in read_job_records(root)}
        live = live_states(root, [n for n in planned if n not in recorded])
        if not live:
            return
        log.warning(f"waiting for {len(live)} queued/running job(s) of {root} ...")
        time.sleep(interval)
